"""`transformers.pipeline` for EffNet-Trm: an audio file or waveform in, a caption out.

Shipped in every model folder (transformers' custom-pipeline mechanism: the folder's config names
this class in `custom_pipelines`), so that without this package installed

    from transformers import pipeline
    captioner = pipeline(model="outputs/demo/student", trust_remote_code=True)   # or a Hub id
    captioner("clip.wav")                                  # [{"generated_text": "a dog barks ..."}]
    captioner({"array": waveform, "sampling_rate": 44100}, num_beams=1)

Files are read with `soundfile` and resampled with `soxr` (both imported only when a file or another
sampling rate needs them); a bare array must already be at the model's sampling rate (16 kHz).
"""

from __future__ import annotations

import numpy as np
from transformers import Pipeline

#: `generate` arguments the pipeline passes through (`captioner(audio, num_beams=1)`).
GENERATE_ARGUMENTS = (
    "num_beams",
    "max_new_tokens",
    "do_sample",
    "top_p",
    "top_k",
    "temperature",
    "num_return_sequences",
    "length_penalty",
    "early_stopping",
)


def _read_file(path: str) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError as error:  # pragma: no cover - soundfile is a dependency of the package
        raise ImportError("reading audio files needs `soundfile` (pip install soundfile)") from error
    waveform, sampling_rate = soundfile.read(path, dtype="float32", always_2d=True)
    return waveform.mean(axis=1), sampling_rate


def _resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return waveform
    try:
        import soxr
    except ImportError as error:  # pragma: no cover - soxr is a dependency of the package
        raise ImportError(f"audio at {orig_sr} Hz must be resampled to {target_sr} Hz: pip install soxr") from error
    return soxr.resample(waveform, orig_sr, target_sr).astype(np.float32)


class EffNetTrmCaptioningPipeline(Pipeline):
    """Audio captioning: a file path, a 1-D waveform at the model's rate, or a dict with `array`
    (or `raw`) and `sampling_rate`, in; `[{"generated_text": caption}, ...]` out (one entry per
    returned sequence)."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = True
    _load_tokenizer = True

    def _sanitize_parameters(self, **kwargs):
        unknown = set(kwargs) - set(GENERATE_ARGUMENTS)
        if unknown:
            raise ValueError(f"unknown argument(s) {sorted(unknown)}; the pipeline takes {list(GENERATE_ARGUMENTS)}")
        return {}, dict(kwargs), {}

    def preprocess(self, inputs):
        target_sr = self.feature_extractor.sampling_rate
        if isinstance(inputs, str):
            waveform, sampling_rate = _read_file(inputs)
        elif isinstance(inputs, dict):
            waveform = inputs.get("array", inputs.get("raw"))
            sampling_rate = inputs.get("sampling_rate")
            if waveform is None or sampling_rate is None:
                raise ValueError("a dict input needs `array` (or `raw`) and `sampling_rate`")
        else:
            waveform, sampling_rate = inputs, target_sr
        waveform = np.asarray(waveform, dtype=np.float32)
        if waveform.ndim == 2:  # (channels, samples) -> mono
            waveform = waveform.mean(axis=0)
        waveform = _resample(waveform, int(sampling_rate), target_sr)
        return self.feature_extractor([waveform], sampling_rate=target_sr, return_tensors="pt")

    def _forward(self, model_inputs, **generate_kwargs):
        return {"ids": self.model.generate(**model_inputs, **generate_kwargs)}

    def postprocess(self, model_outputs):
        captions = self.tokenizer.batch_decode(model_outputs["ids"], skip_special_tokens=True)
        return [{"generated_text": caption} for caption in captions]
