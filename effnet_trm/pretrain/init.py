"""`model.encoder_init_from`: start the student's EfficientNet-B2 from pretrained weights (the paper
initialises it from an AudioSet-trained EfficientNet-B2), leaving the decoder fresh.

Three sources, told apart by what they hold:

- **an `efficientnet_pytorch` checkpoint** (a `.pt`, `.pth`, `.bin` or `.safetensors` file): the
  layout of the authors' code, which loads `effb2.pt` of the HEAR 2021 EfficientLatent release
  (an AudioSet EfficientNet-B2 with one input channel). Wrapper prefixes (`module.`, `eff_net.`,
  `backbone.eff_net.`, ...) are stripped; its front-end buffers and any classifier are dropped
  with the reason; a 3-channel (ImageNet) stem is summed to one channel by timm's `adapt_input_conv`;
- **a model folder or Hub id of this package**: its `encoder.backbone.*` tensors;
- **a pretrained-encoder folder** written by `pretrain_encoder.py` (`encoder.safetensors`, YAMNet KD).

The load is strict, as the checkpoint converter's: every backbone tensor is filled and every source
tensor is mapped or dropped with a reason; anything else is an error listing the keys.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..conversion.reference import ConversionError, efficientnet_pytorch_to_timm, timm_block_names
from .trainer import WEIGHTS_FILE, load_pretrained_weights

logger = logging.getLogger(__name__)

#: efficientnet_pytorch tensors that have no place in the encoder backbone, and why.
DROPPABLE = {
    "front_end": "front-end buffers: this package computes its own log-mel spectrogram",
    "_fc": "classifier head: the captioner reads the feature map",
    "fc": "classifier head",
}


@dataclass
class EncoderInitReport:
    source: str
    layout: str
    mapped: int = 0
    dropped: dict[str, str] = field(default_factory=dict)
    adapted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"encoder initialised from {self.source} ({self.layout}): {self.mapped} tensors mapped"]
        lines += [f"  adapted: {note}" for note in self.adapted]
        groups: dict[str, int] = {}
        for reason in self.dropped.values():
            groups[reason] = groups.get(reason, 0) + 1
        lines += [f"  dropped {count} tensors: {reason}" for reason, count in groups.items()]
        return "\n".join(lines)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):  # training checkpoints keep the weights under a key
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    return state


def from_efficientnet_pytorch(state: dict, backbone, report: EncoderInitReport) -> dict[str, torch.Tensor]:
    """The timm backbone's state dict from an `efficientnet_pytorch` one (strict)."""
    stems = [key for key in state if key.endswith("_conv_stem.weight")]
    if len(stems) != 1:
        raise ConversionError(f"{report.source}: not an efficientnet_pytorch checkpoint (no single _conv_stem)")
    prefix = stems[0][: -len("_conv_stem.weight")]
    block_names = timm_block_names(backbone)
    mapped, unknown = {}, []
    for key, value in state.items():
        head = key[len(prefix) :].split(".")[0] if key.startswith(prefix) else key.split(".")[0]
        if head in DROPPABLE:
            report.dropped[key] = DROPPABLE[head]
        elif key.startswith(prefix):
            mapped[efficientnet_pytorch_to_timm(key[len(prefix) :], block_names)] = value
        else:
            unknown.append(key)
    if unknown:
        raise ConversionError(f"{report.source}: tensors with no place in the encoder: {unknown[:10]}")
    return mapped


def from_model_folder(source: str, report: EncoderInitReport) -> dict[str, torch.Tensor]:
    """`encoder.backbone.*` of a model folder or Hub id of this package."""
    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(source, allow_patterns=["*.json", "*.safetensors"]))
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    if config.get("model_type") != "effnet_trm":
        raise ConversionError(
            f"{source} is not a model folder of this package (model_type "
            f"{config.get('model_type')!r}) nor a pretrained-encoder folder ({WEIGHTS_FILE})"
        )
    from safetensors.torch import load_file

    state = load_file(str(folder / "model.safetensors"))
    prefix = "encoder.backbone."
    for key in state:
        if not key.startswith(prefix):
            report.dropped[key] = "not part of the encoder backbone (decoder, projections)"
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def load_encoder_weights(model, source: str) -> EncoderInitReport:
    """Load pretrained weights into `model.encoder.backbone` (see the module docstring)."""
    from timm.models import adapt_input_conv

    backbone = model.encoder.backbone
    path = Path(source)
    if path.is_file():
        report = EncoderInitReport(source, "efficientnet_pytorch")
        state = from_efficientnet_pytorch(read_state_dict(path), backbone, report)
    elif (path / WEIGHTS_FILE).exists():
        report = EncoderInitReport(source, "pretrained encoder (YAMNet KD)")
        state = load_pretrained_weights(path, "effnet_b2")
    else:
        report = EncoderInitReport(source, "model folder of this package")
        state = from_model_folder(source, report)

    stem = backbone.conv_stem.weight
    if "conv_stem.weight" in state and state["conv_stem.weight"].shape[1] != stem.shape[1]:
        report.adapted.append(
            f"stem summed from {state['conv_stem.weight'].shape[1]} input channels to {stem.shape[1]}"
        )
        state["conv_stem.weight"] = adapt_input_conv(stem.shape[1], state["conv_stem.weight"])
    target = backbone.state_dict()
    missing, unexpected = sorted(set(target) - set(state)), sorted(set(state) - set(target))
    wrong = [k for k in set(target) & set(state) if target[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        raise ConversionError(
            f"{source}: the encoder does not load strictly: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {unexpected[:5]} ({len(unexpected)}), shape mismatch {wrong[:5]}"
        )
    backbone.load_state_dict(state, strict=True)
    report.mapped = len(state)
    return report
