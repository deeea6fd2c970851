"""A trained EffNet-Trm rewritten for CPU inference: the same function, fewer and cheaper operations.

`optimize_for_inference(model)` returns an inference-only copy (the model passed in is left as it is):

- **batch norms folded** into the convolutions before them (exact up to float rounding): in eval mode
  a batch norm is a per-channel affine map, so the convolution can absorb it, and the EfficientNet's
  69 batch norms stop costing a pass over every activation map;
- **fused self-attention projections**: each decoder layer's q, k and v also as one `qkv_proj` linear
  (the fast search's one matmul per step; `generate` still works on the copy);
- **oneDNN kernels** where they run (float32 on a CPU; `onednn=False` turns them off): each convolution
  whose batch norm applied a SiLU computes it as it writes its output (`ConvSiLU`), and the larger fp32
  linears of a decoding step use weights laid out once for a few rows (`PrepackedLinear`,
  `PREPACK_MIN_WEIGHTS`): MKL's `addmm` packs the whole weight again at every call, which for the 3 rows
  of a beam-3 step cost more than the arithmetic (the 5 MB vocabulary projection took ~3x as long).
  Same token ids as `generate`
  (tests/test_optimize.py, tests/test_decoding.py);
- optionally (`quantize="int8"`) **smaller weights for the linears that run at every decoding step**
  (`torch.ao.quantization.quantize_dynamic`). Decoding a few beams at a time is bound by reading the
  weights (the vocabulary projection alone is 5 MB in fp32), so fewer bytes per weight is what pays:
  - the feed-forward layers (`fc1`, `fc2`: 57 % of the decoder layers' per-step weights): int8 weights with one
    scale per output channel, activations quantized per call, to all 8 bits on CPUs with VNNI (fbgemm
    keeps 7 by default, against int16 saturation on x86 CPUs without it; with the 8th bit 4 of the demo
    student's 200 held-out captions changed, without it 7: `benchmarks/export_agreement.py`);
  - the attention projections and the output projection: fp16 weights, computed in fp32 (half the
    bytes, nearly exact);
  - projections that run once per clip (the memory projection, the cross-attention keys and values)
    stay fp32: nothing to gain per step, and their input (EfficientNet features, a few large outliers)
    loses much to 8-bit activations.

  Int8 activations have one scale per call, so a clip's int8 caption can depend on the other clips
  decoded with it, and captions decided by a near tie between two beams can change. Per-step linears
  all in int8 (per-channel or not) changed more of the demo student's validation and held-out captions.
  `benchmarks/export_agreement.py` measures how often the captions change;
- optionally (`quantize="fp16"`) **every one of those per-step linears with fp16 weights** (computed in
  fp32): half the bytes, no activation quantization, and the same captions as fp32 where int8 changes
  a few.

`benchmarks/speed.py` times each (rows "fast path", "fast path, int8 decoder", "fast path, fp16 decoder").

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

QUANTIZATIONS = (None, "int8", "fp16")


def check_quantization(quantize: str | None) -> None:
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r}; choose from {QUANTIZATIONS}")


def fold_batch_norms(network: nn.Module, run: callable, fuse_silu: bool = False) -> int:
    """Fold every eval-mode batch norm that directly follows a convolution into that convolution, in
    place; the batch norm is replaced by what it applies after normalising (timm's `BatchNormAct2d`
    holds its activation) or by nothing. Returns the number folded.

    With `fuse_silu`, a folded convolution whose batch norm applied exactly a SiLU becomes a
    `ConvSiLU` (oneDNN's convolution with the SiLU applied as it writes its output: one pass over the
    activations instead of two), and the batch norm is removed.

    Which convolution feeds which batch norm is read off one forward pass (`run()`), not off module
    names: a batch norm whose input is exactly the previous convolution's output tensor is folded.
    """
    if network.training:
        raise ValueError("batch norms fold only in eval mode (their running statistics): call .eval() first")
    calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
    hooks = [
        module.register_forward_hook(lambda module, args, output: calls.append((module, args[0], output)))
        for module in network.modules()
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d))
    ]
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
        folded_conv, after = fuse_conv_bn_eval(conv, norm), _after_normalisation(norm)
        if fuse_silu and type(folded_conv) is nn.Conv2d and isinstance(after, nn.Sequential):
            if len(after) == 1 and type(after[0]) is nn.SiLU and folded_conv.padding_mode == "zeros":
                folded_conv, after = ConvSiLU(folded_conv), nn.Identity()
        _replace(network, names[conv], folded_conv)
        _replace(network, names[norm], after)
        folded += 1
    return folded


def _after_normalisation(norm: nn.BatchNorm2d) -> nn.Module:
    """What a batch norm module applies after normalising: timm's BatchNormAct2d has drop + act."""
    parts = [
        part
        for part in (getattr(norm, "drop", None), getattr(norm, "act", None))
        if part is not None and not isinstance(part, nn.Identity)
    ]
    return nn.Sequential(*parts) if parts else nn.Identity()


def onednn_available(model) -> bool:
    """Whether the oneDNN kernels `PrepackedLinear` and `ConvSiLU` call can run `model`: float32 on a
    CPU, with PyTorch built with oneDNN (`torch.ops.mkldnn`, the ops torch.compile's CPU backend uses)."""
    weight = next(model.parameters())
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return False
    try:
        weight = torch.ones(2, 2)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, 1)
        torch.ops.mkldnn._linear_pointwise(torch.ones(1, 2), packed, None, "none", [], "")
        torch.ops.mkldnn._convolution_pointwise(
            torch.ones(1, 2, 1, 1), weight[:, :, None, None], None, [0, 0], [1, 1], [1, 1], 1, "swish", [], ""
        )
    except (AttributeError, RuntimeError):
        return False
    return True


class PrepackedLinear(nn.Module):
    """A float32 linear whose weight oneDNN has laid out once for a few rows at a time (its inner
    product kernel, `torch.ops.mkldnn._linear_pointwise`). For the 3 rows of a beam-3 decoding step, MKL's
    `addmm` re-packs the whole weight at every call: on the 5 MB output projection it took about 3x as
    long. Same arithmetic up to float rounding; `weight` and `bias` stay readable."""

    def __init__(self, linear: nn.Linear, rows: int = 3):
        super().__init__()
        self.in_features, self.out_features, self.rows = linear.in_features, linear.out_features, rows
        self.weight = nn.Parameter(linear.weight.detach().clone(), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def __deepcopy__(self, memo):  # oneDNN's opaque tensor has no storage to copy: pack anew
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        linear.weight, linear.bias = copy.deepcopy(self.weight, memo), copy.deepcopy(self.bias, memo)
        return PrepackedLinear(linear, self.rows)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ConvSiLU(nn.Module):
    """A float32 `Conv2d` followed by SiLU in one oneDNN call (`torch.ops.mkldnn._convolution_pointwise`
    with its "swish" post-op). Keeps `weight` and `bias` readable (the encoder checks the stem's layout)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.arguments = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, *self.arguments, "swish", [], "")


#: The smallest weight (in values) that `prepack_decoding_step` prepacks. Measured for 3 rows, 2 threads
#: (medians of 200 calls): 4981 x 256 (the vocabulary projection) 377 -> 111 us, 1024 x 256 80 -> 51 us,
#: 768 x 256 (q/k/v) 61 -> 49 us, but 256 x 256 24 -> 39 us: oneDNN's call costs more than the packing saves.
PREPACK_MIN_WEIGHTS = 1 << 17


def prepack_decoding_step(model, rows: int) -> int:
    """The fp32 linears a decoding step runs (self-attention q/k/v and output, cross-attention query and
    output, feed-forward, vocabulary projection) with at least `PREPACK_MIN_WEIGHTS` weights as
    `PrepackedLinear`s, in place. Returns how many."""
    packed = 0
    for name in per_step_linears(model, "fp16"):
        linear = model.get_submodule(name)
        if type(linear) is nn.Linear and linear.weight.numel() >= PREPACK_MIN_WEIGHTS:
            _replace(model, name, PrepackedLinear(linear, rows))
            packed += 1
    return packed


def _replace(network: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(network.get_submodule(parent_name) if parent_name else network, child, module)


def per_step_linears(model, quantize: str) -> dict[str, str]:
    """The linears of an optimized copy (fused `qkv_proj`) that run at every decoding step, by module
    name, with the weight type `quantize` gives them (see the module docstring): under "int8", "int8"
    for the feed-forward layers and "fp16" for the rest; under "fp16", "fp16" for all."""
    feed_forward = "int8" if quantize == "int8" else "fp16"
    kinds = {}
    for index in range(len(model.decoder.layers)):
        prefix = f"decoder.layers.{index}"
        kinds.update({f"{prefix}.fc1": feed_forward, f"{prefix}.fc2": feed_forward})
        kinds.update({f"{prefix}.self_attn.{name}": "fp16" for name in ("qkv_proj", "out_proj")})
        kinds.update({f"{prefix}.encoder_attn.{name}": "fp16" for name in ("q_proj", "out_proj")})
    kinds["lm_head"] = "fp16"
    return kinds


class FullRangeDynamicLinear(torch.ao.nn.quantized.dynamic.Linear):
    """A dynamic int8 linear whose activations use all 8 bits. The stock module asks fbgemm for 7
    (`reduce_range=True`) because x86 CPUs without VNNI sum pairs of u8 x s8 products in int16, which
    can saturate; with VNNI the products are summed in int32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=False).to(x.dtype)


def int8_linear_class() -> type:
    """`FullRangeDynamicLinear` on CPUs with VNNI, the stock (7-bit activation) dynamic linear elsewhere."""
    has_vnni = getattr(torch.cpu, "_is_vnni_supported", lambda: False)()
    return FullRangeDynamicLinear if has_vnni else torch.ao.nn.quantized.dynamic.Linear


def quantize_decoding_step(model, quantize: str) -> None:
    """`per_step_linears` in place: dynamic int8 (per-channel) or fp16 linears."""
    qconfigs = {
        "int8": (torch.ao.quantization.per_channel_dynamic_qconfig, torch.qint8, int8_linear_class()),
        "fp16": (torch.ao.quantization.float16_dynamic_qconfig, torch.float16, torch.ao.nn.quantized.dynamic.Linear),
    }
    with warnings.catch_warnings():  # torch deprecates the quantized tensor API in favour of torchao
        warnings.simplefilter("ignore", UserWarning)
        kinds = per_step_linears(model, quantize)
        for kind, (qconfig, dtype, linear_class) in qconfigs.items():  # one pass over the model per kind
            names = {name: qconfig for name, name_kind in kinds.items() if name_kind == kind}
            if names:
                torch.ao.quantization.quantize_dynamic(
                    model, names, dtype=dtype, inplace=True, mapping={nn.Linear: linear_class}
                )


def _refuse_to_save(*args, **kwargs):
    raise RuntimeError(
        "this model was rewritten by optimize_for_inference (folded batch norms, fused or "
        "quantized layers) and cannot be saved as a checkpoint: save the original model"
    )


def optimize_for_inference(model, quantize: str | None = None, onednn: bool | None = None, beams: int = 3):
    """An inference-only copy of an `EffNetTrmForAudioCaptioning`: batch norms folded, q/k/v fused,
    and with `quantize` ("int8" or "fp16") smaller per-step decoder weights. See the module docstring.
    `onednn` (default: where it can run, float32 on a CPU): convolutions fused with their SiLU and the
    fp32 per-step linears prepacked for `beams` rows (`ConvSiLU`, `PrepackedLinear`)."""
    check_quantization(quantize)
    if quantize and model.device.type != "cpu":
        raise ValueError(f"{quantize} dynamic quantization runs on the CPU only; the model is on {model.device}")
    if onednn is None:
        onednn = onednn_available(model)
    elif onednn and not onednn_available(model):
        raise ValueError("onednn=True needs a float32 model on a CPU and PyTorch built with oneDNN")
    optimized = copy.deepcopy(model).eval()
    encoder = optimized.encoder
    example = torch.zeros(1, optimized.config.sampling_rate, device=optimized.device, dtype=optimized.dtype)  # 1 s
    fold_batch_norms(encoder.backbone, lambda: encoder(example), fuse_silu=onednn)
    encoder.backbone.to(memory_format=torch.channels_last)  # the folded convolutions are new tensors
    for layer in optimized.decoder.layers:
        attention = layer.self_attn
        weight, bias = fused_qkv(attention)
        attention.qkv_proj = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            attention.qkv_proj.weight.copy_(weight)
            attention.qkv_proj.bias.copy_(bias)
    if quantize:
        quantize_decoding_step(optimized, quantize)
    if onednn:  # what quantization left in fp32
        prepack_decoding_step(optimized, beams)
    optimized.save_pretrained = _refuse_to_save
    return optimized
