"""Training with the first stages of the student's EfficientNet frozen, and their output cached.

The early stages of a CNN hold most of its computation (they run at the highest resolution) and few
of its weights: on a 10 s clip, EfficientNet-B2's stem and first 5 of 7 stages cost about 60 % of a
training step's encoder time but hold 20 % of its weights. Frozen (no gradient, batch norm in
evaluation mode) they compute the same feature map for the same input every time, so it can be
computed once per clip and kept: the training step then runs only the last stages, the head and
the decoder. Encoder-level KD still trains the later stages, which hold most of the weights.

This is a training-time choice for small compute budgets (the demo's 2 CPU cores); the paper fine-tunes
the whole encoder (`training.frozen_encoder_stages: 0`, the default). The saved model is the plain
captioner either way: frozen stages are saved with the rest.

The cache is keyed by each waveform's content, so it is never stale: a clip cropped differently is a
different key. It pays only when the same inputs recur, i.e. with whole-clip crops (`data.crop_seconds`
at least the teacher's window) and without SpecAugment, which masks the log-mel differently each step
(refused: `DistillConfig` checks it).
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from modeling_effnet_trm import EffNetTrmEncoder, EffNetTrmEncoderOutput


class FrozenEncoderStages:
    """Freezes the stem and the first `num_stages` stages of `encoder`'s EfficientNet (with `head=True`
    its head too, the whole EfficientNet), and encodes batches through them with a per-clip cache of
    their output (`cache=True`).

    Not an `nn.Module`: it holds no weights of its own, only a view of the encoder's; the training
    module keeps the student as its submodule.
    """

    def __init__(self, encoder: EffNetTrmEncoder, num_stages: int, cache: bool = True, head: bool = False):
        backbone = encoder.backbone
        if not 0 < num_stages <= len(backbone.blocks):
            raise ValueError(
                f"training.frozen_encoder_stages must be between 0 and {len(backbone.blocks)} "
                f"(the stages of {encoder.config.encoder_name}), got {num_stages}"
            )
        if head and num_stages < len(backbone.blocks):
            raise ValueError(
                f"training.freeze_encoder_head needs every stage frozen: training.frozen_encoder_stages="
                f"{len(backbone.blocks)} for {encoder.config.encoder_name}, got {num_stages}"
            )
        self.encoder, self.num_stages = encoder, num_stages
        head_layers = [backbone.conv_head, backbone.bn2]
        self.frozen = nn.Sequential(
            backbone.conv_stem, backbone.bn1, *backbone.blocks[:num_stages], *(head_layers if head else [])
        )
        self.trained = nn.Sequential(*backbone.blocks[num_stages:], *([] if head else head_layers))
        self.frozen.requires_grad_(False)
        self.frozen.eval()
        self.cache: dict[bytes, torch.Tensor] | None = {} if cache else None
        self.hits = self.misses = 0

    def keep_frozen_in_eval_mode(self) -> None:
        """Batch norm keeps its running statistics and stochastic depth stays off in the frozen
        stages: call after every `.train()` of a module that holds the encoder."""
        self.frozen.eval()

    @property
    def cached_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.cache or {}).values())

    def _frozen_output(self, waveforms: torch.Tensor) -> torch.Tensor:
        """The frozen stages' feature maps for equal-length waveforms, from the cache where it has them."""
        if self.cache is None:
            with torch.no_grad():
                return self.frozen(self.encoder.spectrogram_image(waveforms))
        keys = [hashlib.blake2b(row.numpy().tobytes(), digest_size=16).digest() for row in waveforms.detach().cpu()]
        # each clip missing from the cache, once (a batch may hold the same clip twice)
        missing = [i for i, key in enumerate(keys) if key not in self.cache and keys.index(key) == i]
        if missing:
            with torch.no_grad():
                computed = self.frozen(self.encoder.spectrogram_image(waveforms[missing]))
            for i, feature_map in zip(missing, computed):
                self.cache[keys[i]] = feature_map.clone()  # its own storage, not a view of the batch
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return torch.stack([self.cache[key] for key in keys]).contiguous(memory_format=torch.channels_last)

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Equal-length waveforms -> encoder frames, as `EffNetTrmEncoder._frames` computes them."""
        return self.encoder.frames_from_feature_map(self.trained(self._frozen_output(waveforms)))

    def encode(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> EffNetTrmEncoderOutput:
        """The student's `encode`, through the cache."""
        return self.encoder.forward_with(self.frames, input_values, attention_mask)

    def report(self) -> str:
        """The cache's size and hit rate since the last report (then resets the counts)."""
        seen = self.hits + self.misses
        text = (
            f"frozen encoder stages: {len(self.cache or {})} clips cached ({self.cached_bytes / 2**20:.0f} MB), "
            f"{self.hits / seen if seen else 0:.0%} of {seen} clips read from the cache"
        )
        self.hits = self.misses = 0
        return text
