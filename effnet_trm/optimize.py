"""A trained EffNet-Trm rewritten for CPU inference: the same function, fewer and cheaper operations.

`optimize_for_inference(model)` returns an inference-only copy (the model passed in is left as it is):

- **batch norms folded** into the convolutions before them (exact up to float rounding): in eval mode
  a batch norm is a per-channel affine map, so the convolution can absorb it, and the EfficientNet's
  69 batch norms stop costing a pass over every activation map;
- **fused self-attention projections**: each decoder layer's q, k and v also as one `qkv_proj` linear
  (the fast search's one matmul per step; `generate` still works on the copy);
- optionally (`quantize="int8"`) **dynamic int8 linears in the decoder layers and the output
  projection** (weights int8, activations quantized per call, `torch.ao.quantization.quantize_dynamic`).
  Decoding a few beams at a time is bound by reading the weights (the vocabulary projection alone is
  5 MB in fp32), and int8 weights are a quarter of the bytes. This one changes the numbers slightly:
  `benchmarks/export_agreement.py` measures how often the captions change.

`benchmarks/speed.py` times each (rows "fast path" and "fast path, int8 decoder").

The copy is for `effnet_trm.decoding.fast_generate` (what `Captioner` uses); it refuses `save_pretrained`
because its modules no longer match the checkpoint format: save the original model.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .decoding import fused_qkv

QUANTIZATIONS = (None, "int8")


def check_quantization(quantize: str | None) -> None:
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r}; choose from {QUANTIZATIONS}")


def fold_batch_norms(network: nn.Module, run: callable) -> int:
    """Fold every eval-mode batch norm that directly follows a convolution into that convolution, in
    place; the batch norm is replaced by what it applies after normalising (timm's `BatchNormAct2d`
    holds its activation) or by nothing. Returns the number folded.

    Which convolution feeds which batch norm is read off one forward pass (`run()`), not off module
    names: a batch norm whose input is exactly the previous convolution's output tensor is folded.
    """
    if network.training:
        raise ValueError("batch norms fold only in eval mode (their running statistics): call .eval() first")
    calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
    hooks = [module.register_forward_hook(lambda module, args, output: calls.append((module, args[0], output)))
             for module in network.modules() if isinstance(module, (nn.Conv2d, nn.BatchNorm2d))]
    try:
        with torch.no_grad():
            run()
    finally:
        for hook in hooks:
            hook.remove()
    names = {module: name for name, module in network.named_modules()}
    folded = 0
    for (conv, _, conv_output), (norm, norm_input, _) in zip(calls, calls[1:]):
        if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm_input is conv_output):
            continue
        _replace(network, names[conv], fuse_conv_bn_eval(conv, norm))
        _replace(network, names[norm], _after_normalisation(norm))
        folded += 1
    return folded


def _after_normalisation(norm: nn.BatchNorm2d) -> nn.Module:
    """What a batch norm module applies after normalising: timm's BatchNormAct2d has drop + act."""
    parts = [part for part in (getattr(norm, "drop", None), getattr(norm, "act", None))
             if part is not None and not isinstance(part, nn.Identity)]
    return nn.Sequential(*parts) if parts else nn.Identity()


def _replace(network: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(network.get_submodule(parent_name) if parent_name else network, child, module)


def _refuse_to_save(*args, **kwargs):
    raise RuntimeError("this model was rewritten by optimize_for_inference (folded batch norms, fused or "
                       "quantized layers) and cannot be saved as a checkpoint: save the original model")


def optimize_for_inference(model, quantize: str | None = None):
    """An inference-only copy of an `EffNetTrmForAudioCaptioning`: batch norms folded, q/k/v fused,
    and with `quantize="int8"` the decoder's linears dynamically quantized. See the module docstring."""
    check_quantization(quantize)
    if quantize == "int8" and model.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantization runs on the CPU only; the model is on {model.device}")
    optimized = copy.deepcopy(model).eval()
    encoder = optimized.encoder
    example = torch.zeros(1, optimized.config.sampling_rate, device=optimized.device, dtype=optimized.dtype)  # 1 s
    fold_batch_norms(encoder.backbone, lambda: encoder(example))
    encoder.backbone.to(memory_format=torch.channels_last)  # the folded convolutions are new tensors
    for layer in optimized.decoder.layers:
        attention = layer.self_attn
        weight, bias = fused_qkv(attention)
        attention.qkv_proj = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            attention.qkv_proj.weight.copy_(weight)
            attention.qkv_proj.bias.copy_(bias)
    if quantize == "int8":
        with warnings.catch_warnings():  # torch deprecates the quantized tensor API in favour of torchao
            warnings.simplefilter("ignore", UserWarning)
            qconfig = torch.ao.quantization.default_dynamic_qconfig
            # the layers and the output projection, which run at every step; not the memory projection,
            # which runs once per clip and whose input (EfficientNet features, a few large outliers)
            # loses too much to 8-bit activations (export_agreement.py: 15 % of the demo test captions changed)
            torch.ao.quantization.quantize_dynamic(
                optimized, {"decoder.layers": qconfig, "lm_head": qconfig}, dtype=torch.qint8, inplace=True,
                mapping={nn.Linear: torch.ao.nn.quantized.dynamic.Linear})  # linears only, not the embedding
    optimized.save_pretrained = _refuse_to_save
    return optimized
