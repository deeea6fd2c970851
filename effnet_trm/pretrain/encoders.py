"""The encoders that pretraining distils YAMNet into, behind one interface: 16 kHz-or-32 kHz
waveforms `(batch, samples)` in, a clip embedding `(batch, dim)` out, and the weights to save."""

from __future__ import annotations

import torch
from torch import nn

from configuration_effnet_trm import EffNetTrmConfig
from modeling_effnet_trm import EffNetTrmEncoder

from ..teachers.htsat import HTSAT
from ..teachers.htsat_bart import HTSAT_SIZES


class PretrainingEncoder(nn.Module):
    """Wraps an audio encoder: `forward(waveform) -> clip embedding`; `backbone` is what gets saved."""

    name: str
    sampling_rate: int
    embedding_dim: int
    #: whole clips (HTSAT stretches any input to 10.24 s) or crops of this many YAMNet patches
    crop_patches: int | None
    #: backbone tensors not worth saving: derived from the config, or unused by the captioner
    not_saved: tuple[str, ...] = ()

    @property
    def backbone(self) -> nn.Module:
        raise NotImplementedError

    def saved_state(self) -> dict[str, torch.Tensor]:
        """The backbone's weights in float16 (half the file; plenty for an initialisation)."""
        return {
            name: (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
            for name, tensor in self.backbone.state_dict().items()
            if not name.startswith(self.not_saved)
        }


class EffNetB2Encoder(PretrainingEncoder):
    """The student's encoder: log-mel + EfficientNet-B2; the clip embedding is the masked frame mean
    that encoder-level KD distils (1408-d)."""

    name = "effnet_b2"

    def __init__(self, crop_patches: int = 2, **config_overrides):
        super().__init__()
        # 1.46 s crops (2 patches): seven times cheaper per clip than 10 s, and the targets match exactly
        self.crop_patches = crop_patches
        self.encoder = EffNetTrmEncoder(EffNetTrmConfig(**config_overrides))
        # NHWC convolutions: a batch-32 training step on 2 cores takes 0.37 s instead of 0.52 s
        # (benchmarks/pretraining_step.py); `saved_state` writes the usual contiguous layout
        self.encoder.backbone.to(memory_format=torch.channels_last)
        self.sampling_rate = self.encoder.config.sampling_rate
        self.embedding_dim = self.encoder.config.encoder_hidden_size

    @property
    def backbone(self) -> nn.Module:
        return self.encoder.backbone

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.encoder(waveform).clip_embedding


class HTSATDemoEncoder(PretrainingEncoder):
    """The demo teacher's HTSAT (32 kHz); its clip embedding is the average of the last feature map."""

    name = "htsat_demo"
    crop_patches = None
    # the STFT/mel weights are computed from the config; SED heads are not used for captioning
    not_saved = ("audio_feats_extractor.", "tscam_conv.", "head.")

    def __init__(self, crop_patches: int | None = None):
        super().__init__()
        self.htsat = HTSAT(HTSAT_SIZES["demo"])
        self.sampling_rate = HTSAT_SIZES["demo"].sample_rate
        self.embedding_dim = HTSAT_SIZES["demo"].num_features

    @property
    def backbone(self) -> nn.Module:
        return self.htsat

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.htsat(waveform).clip


ENCODERS = {"effnet_b2": EffNetB2Encoder, "htsat_demo": HTSATDemoEncoder}
