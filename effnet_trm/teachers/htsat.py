"""HTS-AT (Chen et al., 2022), the Swin-Transformer audio encoder of the WavCaps HTSAT-BART teacher.

Module and parameter names follow WavCaps' `HTSAT_Swin_Transformer` so that its captioning
checkpoints (`encoder.audio_enc.*`) load strictly; the code is our own.

Pipeline at 32 kHz: STFT (n_fft = win = 1024, hop 320, Hann, centred, reflect) and 64 log-mel bins
50 Hz-14 kHz (torchlibrosa's frozen modules, whose weights are in the checkpoint) -> BatchNorm over
mel bins -> the time axis is stretched to 1024 frames (bicubic) and folded into a 256 x 256 image
(4 strips of 256 frames stacked along frequency) -> Swin stages -> a 2 (frequency) x 32 (time) map:
mean over frequency gives 32 frames, the average of everything the 768-d clip embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HTSATConfig:
    sample_rate: int = 32000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 14000.0
    spec_size: int = 256
    patch_size: int = 4
    patch_stride: int = 4
    embed_dim: int = 96
    depths: list[int] = field(default_factory=lambda: [2, 2, 6, 2])
    num_heads: list[int] = field(default_factory=lambda: [4, 8, 16, 32])
    window_size: int = 8
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.1
    num_classes: int = 527  # AudioSet head, unused for captioning but part of the checkpoint
    #: How often each of the 32 output frames is repeated for the text encoder: WavCaps repeats them 32
    #: times (1024 positions); the demo size feeds the 32 frames once (32x shorter BART input).
    frame_repeat: int = 32

    @property
    def freq_ratio(self) -> int:
        return self.spec_size // self.n_mels

    @property
    def max_frames(self) -> int:
        """Longest spectrogram (frames) the image holds: 1024 = 10.23 s at 32 kHz, hop 320."""
        return self.spec_size * self.freq_ratio

    @property
    def max_samples(self) -> int:
        return (self.max_frames - 1) * self.hop_length

    @property
    def num_features(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


class AudioFeature(nn.Module):
    """torchlibrosa's Spectrogram + LogmelFilterBank (Slaney mel, 10 log10, no top_db), frozen."""

    def __init__(self, config: HTSATConfig):
        super().__init__()
        from torchlibrosa import LogmelFilterBank, Spectrogram

        self.mel_trans = Spectrogram(
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.n_fft,
            window="hann",
            center=True,
            pad_mode="reflect",
            freeze_parameters=True,
        )
        self.log_trans = LogmelFilterBank(
            sr=config.sample_rate,
            n_fft=config.n_fft,
            n_mels=config.n_mels,
            fmin=config.f_min,
            fmax=config.f_max,
            ref=1.0,
            amin=1e-10,
            top_db=None,
            freeze_parameters=True,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.log_trans(self.mel_trans(waveform))  # (batch, 1, frames, mels)


class PatchEmbed(nn.Module):
    def __init__(self, config: HTSATConfig):
        super().__init__()
        padding = (config.patch_size - config.patch_stride) // 2
        self.proj = nn.Conv2d(1, config.embed_dim, config.patch_size, config.patch_stride, padding)
        self.norm = nn.LayerNorm(config.embed_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(image).flatten(2).transpose(1, 2))


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window, window, width // window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels)


def window_reverse(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    channels = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, channels)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned relative position bias."""

    def __init__(self, dim: int, window: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", relative[..., 0] * (2 * window - 1) + relative[..., 1])
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        windows, tokens, channels = x.shape
        q, k, v = self.qkv(x).reshape(windows, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)  # (1, heads, tokens, tokens)
        if mask is not None:  # (num_windows, tokens, tokens) of 0 / -100, repeated over the batch
            bias = (bias.unsqueeze(0) + mask[None, :, None]).reshape(-1, self.num_heads, tokens, tokens)
            bias = bias.repeat(windows // bias.shape[0], 1, 1, 1)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        return self.proj(attended.transpose(1, 2).reshape(windows, tokens, channels))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    if rate == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - rate)
    return x * keep / (1 - rate)


class SwinTransformerBlock(nn.Module):
    """(Shifted-)window attention + MLP, pre-norm, with stochastic depth."""

    def __init__(self, dim, resolution, num_heads, window, shift, mlp_ratio, drop_path):
        super().__init__()
        self.resolution = resolution
        if min(resolution) <= window:  # the window covers the whole map: no partition, no shift
            window, shift = min(resolution), 0
        self.window, self.shift, self.drop_path = window, shift, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", self._shift_mask() if shift else None)

    def _shift_mask(self) -> torch.Tensor:
        height, width = self.resolution
        regions = torch.zeros(1, height, width, 1)
        bounds = (slice(0, -self.window), slice(-self.window, -self.shift), slice(-self.shift, None))
        for index, (h, w) in enumerate((h, w) for h in bounds for w in bounds):
            regions[:, h, w, :] = index
        ids = window_partition(regions, self.window).squeeze(-1)
        mask = ids.unsqueeze(1) - ids.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self.resolution
        batch, _, channels = x.shape
        shortcut = x
        x = self.norm1(x).view(batch, height, width, channels)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        x = window_reverse(self.attn(window_partition(x, self.window), self.attn_mask), self.window, height, width)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + _drop_path(x.reshape(batch, height * width, channels), self.drop_path, self.training)
        return x + _drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class PatchMerging(nn.Module):
    """2 x 2 neighbouring tokens -> one token of twice the width."""

    def __init__(self, resolution, dim):
        super().__init__()
        self.resolution = resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self.resolution
        batch, _, channels = x.shape
        x = x.view(batch, height, width, channels)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.view(batch, -1, 4 * channels)))


class BasicLayer(nn.Module):
    def __init__(self, dim, resolution, depth, num_heads, window, mlp_ratio, drop_paths, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(
                dim, resolution, num_heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio, drop_paths[i]
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(resolution, dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


@dataclass
class HTSATOutput:
    frames: torch.Tensor  # (batch, 32, num_features): mean over the 2 frequency rows of the last map
    clip: torch.Tensor  # (batch, num_features): average of the last map

    def fine_grained(self, repeat: int) -> torch.Tensor:
        """WavCaps' `fine_grained_embedding`: each frame repeated `repeat` times (32 x 32 = 1024 positions)."""
        return self.frames.repeat_interleave(repeat, dim=1)


class HTSAT(nn.Module):
    """The HTS-AT encoder; `forward(waveform)` -> :class:`HTSATOutput`."""

    def __init__(self, config: HTSATConfig):
        super().__init__()
        from torchlibrosa.augmentation import SpecAugmentation

        self.config = config
        self.audio_feats_extractor = AudioFeature(config)
        self.spec_augmenter = SpecAugmentation(
            time_drop_width=64, time_stripes_num=2, freq_drop_width=8, freq_stripes_num=2
        )
        self.bn0 = nn.BatchNorm2d(config.n_mels)
        self.patch_embed = PatchEmbed(config)
        grid = config.spec_size // config.patch_stride
        drop_paths = torch.linspace(0, config.drop_path_rate, sum(config.depths)).tolist()
        self.layers = nn.ModuleList()
        for i, depth in enumerate(config.depths):
            start = sum(config.depths[:i])
            self.layers.append(
                BasicLayer(
                    config.embed_dim * 2**i,
                    (grid // 2**i, grid // 2**i),
                    depth,
                    config.num_heads[i],
                    config.window_size,
                    config.mlp_ratio,
                    drop_paths[start : start + depth],
                    downsample=i < len(config.depths) - 1,
                )
            )
        self.norm = nn.LayerNorm(config.num_features)
        last_freq = config.spec_size // 2 ** (len(config.depths) - 1) // config.patch_stride // config.freq_ratio
        self.tscam_conv = nn.Conv2d(config.num_features, config.num_classes, (last_freq, 3), padding=(0, 1))
        self.head = nn.Linear(config.num_classes, config.num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def to_image(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(batch, 1, frames, mels) -> (batch, 1, spec_size, spec_size): stretch time, fold into strips."""
        frames = log_mel.shape[2]
        if frames > self.config.max_frames:
            raise ValueError(
                f"HTSAT takes at most {self.config.max_frames} frames "
                f"({self.config.max_samples / self.config.sample_rate:.2f} s); "
                f"got {frames}: crop or window the audio first (HTSATBartTeacher does it explicitly)"
            )
        if frames < self.config.max_frames:
            log_mel = F.interpolate(
                log_mel, (self.config.max_frames, log_mel.shape[3]), mode="bicubic", align_corners=True
            )
        batch, _, time, mels = log_mel.shape
        ratio = self.config.freq_ratio
        x = log_mel.permute(0, 1, 3, 2).reshape(batch, 1, mels, ratio, time // ratio)
        return x.permute(0, 1, 3, 2, 4).reshape(batch, 1, ratio * mels, time // ratio)

    def forward(self, waveform: torch.Tensor) -> HTSATOutput:
        x = self.audio_feats_extractor(waveform)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        if self.training:
            x = self.spec_augmenter(x)
        x = self.patch_embed(self.to_image(x))
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        batch, tokens, channels = x.shape
        side = int(tokens**0.5)
        x = x.transpose(1, 2).reshape(batch, channels, side, side)
        # regroup the folded strips: (freq rows per strip) x (strips x time)
        rows = side // self.config.freq_ratio
        x = (
            x.reshape(batch, channels, side // rows, rows, side)
            .permute(0, 1, 3, 2, 4)
            .reshape(batch, channels, rows, -1)
        )
        return HTSATOutput(frames=x.mean(dim=2).transpose(1, 2), clip=x.flatten(2).mean(dim=2))
