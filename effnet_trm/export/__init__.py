"""Deployment exports of EffNet-Trm: ONNX graphs (encoder, decoder step with past keys/values), int8.

from effnet_trm.export import export_onnx, load_captioner
export_onnx("outputs/demo/student", "outputs/demo/student-onnx", quantize="int8")
load_captioner("outputs/demo/student-onnx").caption([waveform])
"""

from .onnx import OnnxCaptioner, export_onnx, load_captioner

__all__ = ["OnnxCaptioner", "export_onnx", "load_captioner"]
