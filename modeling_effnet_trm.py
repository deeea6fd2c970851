"""PyTorch EffNet-Trm: an EfficientNet-B2 audio encoder and a 2-layer Transformer word decoder.

The student of "Efficient Audio Captioning with Encoder-Level Knowledge Distillation" (Xu et al.,
Interspeech 2024). Audio (16 kHz mono) -> log-mel spectrogram -> EfficientNet-B2 feature map ->
mean over frequency -> one 1408-d frame per 320 ms -> Transformer decoder -> words.

This file is self-contained (torch, timm and transformers only) so that
`AutoModel.from_pretrained(..., trust_remote_code=True)` can load it from the Hub.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, LogitsProcessor, LogitsProcessorList, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import ModelOutput, Seq2SeqLMOutput

try:  # transformers >= 5: initialisers that leave already-loaded weights alone
    from transformers import initialization as init
except ImportError:  # pragma: no cover
    from torch.nn import init

# Relative imports when loaded as Hub remote code, absolute when installed as modules. They also tell
# transformers which files a model folder needs: it copies a remote module's relative imports with it.
try:
    from .configuration_effnet_trm import AUTO_MAP, CUSTOM_PIPELINES, EffNetTrmConfig
    from .feature_extraction_effnet_trm import EffNetTrmFeatureExtractor
    from .modelcard_effnet_trm import read_card_data, write_model_card
    from .pipeline_effnet_trm import EffNetTrmCaptioningPipeline
    from .processing_effnet_trm import EffNetTrmProcessor
except ImportError:
    from configuration_effnet_trm import AUTO_MAP, CUSTOM_PIPELINES, EffNetTrmConfig
    from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor
    from modelcard_effnet_trm import read_card_data, write_model_card
    from pipeline_effnet_trm import EffNetTrmCaptioningPipeline
    from processing_effnet_trm import EffNetTrmProcessor

#: The code a saved model folder carries, so that it loads with `trust_remote_code=True` anywhere.
CODE_FILES = tuple(
    f"{module.__module__.rpartition('.')[2]}.py"
    for module in (
        EffNetTrmConfig,
        EffNetTrmFeatureExtractor,
        EffNetTrmCaptioningPipeline,
        EffNetTrmProcessor,
        write_model_card,
    )
) + (f"{__name__.rpartition('.')[2]}.py",)


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------

#: The name under which the installed transformers passes and returns the decoder's key/value cache:
#: `cache` from 5.24 on, `past_key_values` before. From 5.24 a `ModelOutput` renames a
#: `past_key_values=` argument to `cache`, so an output class must declare the field the library
#: expects; `generate()` also passes the cache to `forward` under this name.
CACHE_NAME = "cache" if "cache" in {field.name for field in fields(Seq2SeqLMOutput)} else "past_key_values"


@dataclass
class EffNetTrmEncoderOutput(ModelOutput):
    """Output of [`EffNetTrmEncoder`].

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch, frames, config.memory_dim)`):
            What the decoder attends to: the encoder frames, projected when
            `config.encoder_projection_dim` is set.
        attention_mask (`torch.BoolTensor` of shape `(batch, frames)`):
            `True` for the frames that belong to the clip, `False` for padding.
        frame_embeddings (`torch.FloatTensor` of shape `(batch, frames, config.encoder_hidden_size)`):
            The EfficientNet frames before any projection (for encoder-level distillation).
        clip_embedding (`torch.FloatTensor` of shape `(batch, config.encoder_hidden_size)`):
            Mean of the valid `frame_embeddings` (the student's clip embedding).
    """

    last_hidden_state: torch.FloatTensor | None = None
    attention_mask: torch.BoolTensor | None = None
    frame_embeddings: torch.FloatTensor | None = None
    clip_embedding: torch.FloatTensor | None = None


_CAPTIONING_OUTPUT_DOC = """Output of [`EffNetTrmForAudioCaptioning`].

    Args:
        loss (`torch.FloatTensor`, *optional*): token-level cross-entropy, when `labels` are given.
        logits (`torch.FloatTensor` of shape `(batch, words, vocab_size)`): next-word scores.
        cache ([`~cache_utils.EncoderDecoderCache`], *optional*): the decoder's key/value cache, under
            the installed transformers' name for it (`CACHE_NAME`: `cache`, or `past_key_values` before 5.24).
        decoder_hidden_states (`torch.FloatTensor`, *optional*): the decoder's last hidden states.
        encoder_last_hidden_state, encoder_attention_mask, encoder_frame_embeddings,
        encoder_clip_embedding: the fields of [`EffNetTrmEncoderOutput`].
    """

# One class per transformers generation, the same but for the cache field's name: `ModelOutput`
# builds its fields from the class body, so the name has to be written there.
if CACHE_NAME == "cache":

    @dataclass
    class EffNetTrmCaptioningOutput(ModelOutput):
        __doc__ = _CAPTIONING_OUTPUT_DOC

        loss: torch.FloatTensor | None = None
        logits: torch.FloatTensor | None = None
        cache: Cache | None = None
        decoder_hidden_states: torch.FloatTensor | None = None
        encoder_last_hidden_state: torch.FloatTensor | None = None
        encoder_attention_mask: torch.BoolTensor | None = None
        encoder_frame_embeddings: torch.FloatTensor | None = None
        encoder_clip_embedding: torch.FloatTensor | None = None

else:  # transformers < 5.24

    @dataclass
    class EffNetTrmCaptioningOutput(ModelOutput):
        __doc__ = _CAPTIONING_OUTPUT_DOC

        loss: torch.FloatTensor | None = None
        logits: torch.FloatTensor | None = None
        past_key_values: Cache | None = None
        decoder_hidden_states: torch.FloatTensor | None = None
        encoder_last_hidden_state: torch.FloatTensor | None = None
        encoder_attention_mask: torch.BoolTensor | None = None
        encoder_frame_embeddings: torch.FloatTensor | None = None
        encoder_clip_embedding: torch.FloatTensor | None = None


# ----------------------------------------------------------------------------------------------
# Front end: log-mel spectrogram in plain torch (torchaudio's MelSpectrogram + AmplitudeToDB)
# ----------------------------------------------------------------------------------------------


def hz_to_mel_htk(frequency: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + frequency / 700.0)


def mel_to_hz_htk(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular HTK mel filters without area normalisation, shape `(n_freqs, n_mels)`.

    Equal to `torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale="htk")` and to
    `librosa.filters.mel(..., htk=True, norm=None).T`. Computed in float64, returned as float32.
    """
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    mel_points = torch.linspace(
        hz_to_mel_htk(torch.tensor(f_min, dtype=torch.float64)),
        hz_to_mel_htk(torch.tensor(f_max, dtype=torch.float64)),
        n_mels + 2,
        dtype=torch.float64,
    )
    hz_points = mel_to_hz_htk(mel_points)
    widths = hz_points[1:] - hz_points[:-1]
    slopes = hz_points.unsqueeze(0) - all_freqs.unsqueeze(1)  # (n_freqs, n_mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


class EffNetTrmLogMel(nn.Module):
    """Waveform `(batch, samples)` -> log-mel spectrogram `(batch, n_mels, frames)` in dB.

    STFT with a periodic Hann window, centred with reflect padding, power 2, HTK mel filters, then
    10 log10 floored at 1e-10 and at `top_db` below the maximum **of each clip**. (torchaudio's
    `AmplitudeToDB` on a batch takes the maximum over the whole batch, which would make a clip's
    features depend on its batch-mates.) The module holds no weights: the window and the filterbank
    are derived from the config, so every checkpoint agrees on them.
    """

    def __init__(self, config: EffNetTrmConfig):
        super().__init__()
        self.sampling_rate = config.sampling_rate
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.n_mels = config.n_mels
        self.f_min = float(config.f_min)
        self.f_max = float(config.f_max if config.f_max is not None else config.sampling_rate / 2)
        self.top_db = config.top_db

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Spectrogram frames of a centred STFT for clips of `num_samples` samples."""
        return torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Always computed in float32 and returned as float32, whatever the model's dtype or autocast:
        neither MKL's nor cuFFT's FFT takes bfloat16, and dB values near 0 or -100 keep only 2-3
        significant digits in half precision. The caller casts the result for the CNN."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return self._log_mel(waveform.float())

    def _log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        window = torch.hann_window(self.n_fft, periodic=True, device=waveform.device, dtype=waveform.dtype)
        spectrum = torch.stft(
            waveform,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()  # (batch, n_fft // 2 + 1, frames)
        filters = mel_filterbank(self.n_fft // 2 + 1, self.f_min, self.f_max, self.n_mels, self.sampling_rate)
        mel = torch.matmul(filters.T.to(device=power.device, dtype=power.dtype), power)
        log_mel = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        if self.top_db is not None:
            floor = log_mel.amax(dim=(-2, -1), keepdim=True) - self.top_db
            log_mel = torch.maximum(log_mel, floor)
        return log_mel


# ----------------------------------------------------------------------------------------------
# Encoder
# ----------------------------------------------------------------------------------------------


def min_input_samples(config: EffNetTrmConfig) -> int:
    """The shortest waveform the encoder runs on: one whole encoder frame, i.e. `encoder_time_stride`
    spectrogram frames (4960 samples, 310 ms, at the default 16 kHz / hop 160 / stride 32).

    Shorter clips are zero-padded to it (`pad_to_min_input`) and keep one valid frame. Below it the
    front end's reflect padding (which needs more than `n_fft // 2` samples) or, for converted
    checkpoints, the EfficientNet's fixed "same" padding has nothing to work on.
    """
    return max((config.encoder_time_stride - 1) * config.hop_length, config.n_fft // 2 + 1)


def pad_to_min_input(waveform: torch.Tensor, config: EffNetTrmConfig) -> torch.Tensor:
    """`(..., samples)` waveforms zero-padded on the right to `min_input_samples(config)` (unchanged
    when already as long)."""
    missing = min_input_samples(config) - waveform.shape[-1]
    return F.pad(waveform, (0, missing)) if missing > 0 else waveform


def masked_mean(sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `sequence` `(batch, frames, dim)` over the frames where `mask` `(batch, frames)` is true."""
    weights = mask.to(sequence.dtype).unsqueeze(-1)
    return (sequence * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class StaticSamePadConv2d(nn.Conv2d):
    """A convolution with a fixed "same" padding (left/right, top/bottom), whatever the input size."""

    def __init__(self, conv: nn.Conv2d, padding: tuple[int, int, int, int]):
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            0,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
        )
        self.weight, self.bias = conv.weight, conv.bias
        self.static_padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.static_padding))


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _apply_static_same_padding(backbone: nn.Module, image_size: int) -> None:
    """Give every convolution the fixed "same" padding it would have for an `image_size` x
    `image_size` input, as `efficientnet_pytorch` does (`Conv2dStaticSamePadding`, image size 260 for
    B2). Used for checkpoints converted from the reference implementation
    (`encoder_padding="static_same_260"`): on a 64 x T spectrogram its borders differ from timm's.
    """
    sizes: dict[str, tuple[int, int]] = {}

    def record(name):
        def hook(module, args):
            sizes[name] = tuple(args[0].shape[-2:])  # returns None: the input is left as it is

        return hook

    hooks = [
        module.register_forward_pre_hook(record(name))
        for name, module in backbone.named_modules()
        if isinstance(module, nn.Conv2d) and max(module.kernel_size) > 1
    ]
    with torch.no_grad():
        backbone.forward_features(torch.zeros(1, backbone.conv_stem.in_channels, image_size, image_size))
    for hook in hooks:
        hook.remove()
    for name, (height, width) in sizes.items():
        parent_name, _, child = name.rpartition(".")
        parent = backbone.get_submodule(parent_name) if parent_name else backbone
        conv = getattr(parent, child)
        top, bottom = _same_padding(height, conv.kernel_size[0], conv.stride[0], conv.dilation[0])
        left, right = _same_padding(width, conv.kernel_size[1], conv.stride[1], conv.dilation[1])
        setattr(parent, child, StaticSamePadConv2d(conv, (left, right, top, bottom)))


class EffNetTrmEncoder(nn.Module):
    """Log-mel front end + EfficientNet-B2 (timm) + mean over frequency -> a sequence of frames.

    Clips of different lengths are run through the CNN in groups of equal length, each cropped to
    its own length: a convolution's receptive field would otherwise reach into the padding, and a
    clip's output would change with its batch-mates. Batches of equal-length clips (training crops,
    benchmark batches) still run as one.
    """

    main_input_name = "input_values"

    def __init__(self, config: EffNetTrmConfig):
        super().__init__()
        self.config = config
        self.front_end = EffNetTrmLogMel(config)
        timm_kwargs = {"bn_eps": config.encoder_batch_norm_eps}
        if config.encoder_padding in ("same", "static_same_260"):
            timm_kwargs["pad_type"] = "same"
        self.backbone = timm.create_model(
            config.encoder_name,
            pretrained=False,
            in_chans=1,
            num_classes=0,
            global_pool="",
            drop_path_rate=config.encoder_drop_path_rate,
            **timm_kwargs,
        )
        if config.encoder_padding == "static_same_260":
            _apply_static_same_padding(self.backbone, image_size=260)
        self.output_projection = (
            nn.Linear(config.encoder_hidden_size, config.encoder_projection_dim)
            if config.encoder_projection_dim
            else None
        )

    def num_valid_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Encoder frames that lie wholly inside a clip of `num_samples` samples (at least one).

        As in the reference implementation, a last frame that covers only part of the clip is masked.
        """
        spectrogram_frames = self.front_end.num_frames(num_samples)
        return torch.div(spectrogram_frames, self.config.encoder_time_stride, rounding_mode="floor").clamp(min=1)

    def spectrogram_image(self, waveform: torch.Tensor) -> torch.Tensor:
        """Equal-length waveforms `(batch, samples)` -> the CNN's input `(batch, 1, n_mels, time)`.

        Clips shorter than one encoder frame are zero-padded to one (`min_input_samples`); their frame
        mask, computed from the true length, still keeps one frame.
        """
        waveform = pad_to_min_input(waveform, self.config)
        # channels-last convolutions run about twice as fast on CPU (oneDNN); loading weights may
        # replace the parameters, so the layout is checked on every call (a cheap stride test)
        if not self.backbone.conv_stem.weight.is_contiguous(memory_format=torch.channels_last):
            self.backbone.to(memory_format=torch.channels_last)
        log_mel = self.front_end(waveform).unsqueeze(1)  # frequency is the image's height
        # float32 features, cast to the CNN's dtype (bfloat16/float16 models); under autocast the
        # convolutions cast for themselves
        log_mel = log_mel.to(self.backbone.conv_stem.weight.dtype)
        return log_mel.contiguous(memory_format=torch.channels_last)

    @staticmethod
    def frames_from_feature_map(feature_map: torch.Tensor) -> torch.Tensor:
        """The CNN's last feature map `(batch, channels, freq', time')` -> frames `(batch, time', channels)`."""
        return feature_map.mean(dim=2).transpose(1, 2)

    def _frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Equal-length waveforms `(batch, samples)` -> frames `(batch, time, encoder_hidden_size)`."""
        return self.frames_from_feature_map(self.backbone.forward_features(self.spectrogram_image(waveform)))

    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_dict: bool = True,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> EffNetTrmEncoderOutput:
        """
        Args:
            input_values (`torch.FloatTensor` of shape `(batch, samples)`): 16 kHz mono waveforms,
                right-padded.
            attention_mask (`torch.Tensor` of shape `(batch, samples)`, *optional*): 1 for real
                samples, 0 for padding. Without it every sample counts.
            output_attentions, output_hidden_states: accepted for `generate()`; a CNN has neither.
        """
        output = self.forward_with(self._frames, input_values, attention_mask)
        return output if return_dict else output.to_tuple()

    def forward_with(
        self,
        frames_of: Callable[[torch.Tensor], torch.Tensor],
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> EffNetTrmEncoderOutput:
        """`forward`, with `frames_of` turning each group of equal-length waveforms into frames (as
        `_frames` does). Training code passes its own to run part of the CNN differently (e.g. frozen
        stages whose output it caches), and keeps the length grouping, masks and projection here."""
        if input_values.dim() != 2:
            raise ValueError(f"input_values must be (batch, samples), got shape {tuple(input_values.shape)}")
        batch_size, max_samples = input_values.shape
        if attention_mask is None:
            lengths = torch.full((batch_size,), max_samples, dtype=torch.long, device=input_values.device)
        else:
            lengths = attention_mask.long().sum(dim=-1)
        if bool((lengths <= 0).any()):
            raise ValueError("every clip needs at least one sample; got an empty clip in the batch")

        groups = torch.unique(lengths).tolist()
        if len(groups) == 1:
            frames = frames_of(input_values[:, : groups[0]])
        else:
            pieces = {}
            for length in groups:
                rows = (lengths == length).nonzero(as_tuple=True)[0]
                pieces[length] = (rows, frames_of(input_values[rows, :length]))
            max_frames = max(piece.shape[1] for _, piece in pieces.values())
            any_piece = next(iter(pieces.values()))[1]  # frames take the CNN's dtype, not the waveform's
            frames = any_piece.new_zeros(batch_size, max_frames, self.config.encoder_hidden_size)
            for rows, piece in pieces.values():
                frames[rows, : piece.shape[1]] = piece

        valid = self.num_valid_frames(lengths).clamp(max=frames.shape[1])
        frame_mask = torch.arange(frames.shape[1], device=frames.device).unsqueeze(0) < valid.unsqueeze(1)
        frames = frames * frame_mask.unsqueeze(-1).to(frames.dtype)  # padding frames are exactly zero
        memory = self.output_projection(frames) if self.output_projection is not None else frames
        return EffNetTrmEncoderOutput(
            last_hidden_state=memory,
            attention_mask=frame_mask,
            frame_embeddings=frames,
            clip_embedding=masked_mean(frames, frame_mask),
        )


# ----------------------------------------------------------------------------------------------
# Decoder
# ----------------------------------------------------------------------------------------------


def sinusoidal_position_embedding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """The Transformer's fixed sin/cos table evaluated at `positions` -> `(*positions.shape, dim)`.

    Even channels hold sin, odd channels cos, as in the reference `PositionalEncoding`.
    """
    inverse_frequency = torch.exp(
        torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    angles = positions.to(torch.float32).unsqueeze(-1) * inverse_frequency
    table = torch.stack((angles.sin(), angles.cos()), dim=-1)  # interleave: sin, cos, sin, cos, ...
    return table.flatten(-2)


class EffNetTrmAttention(nn.Module):
    """Multi-head attention with a key/value cache (self-attention or cross-attention)."""

    def __init__(self, config: EffNetTrmConfig, layer_idx: int, is_cross_attention: bool):
        super().__init__()
        self.num_heads = config.decoder_attention_heads
        self.head_dim = config.d_model // config.decoder_attention_heads
        self.dropout = config.dropout
        self.layer_idx = layer_idx
        self.is_cross_attention = is_cross_attention
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        return states.view(*states.shape[:2], self.num_heads, self.head_dim).transpose(1, 2)

    def _keys_values(self, states: torch.Tensor, cache: EncoderDecoderCache | None):
        if cache is None:
            return self._split_heads(self.k_proj(states)), self._split_heads(self.v_proj(states))
        if self.is_cross_attention:
            # the memory does not change while decoding: project it once, then reuse it
            layer_cache = cache.cross_attention_cache
            if cache.is_updated.get(self.layer_idx):
                return layer_cache.layers[self.layer_idx].keys, layer_cache.layers[self.layer_idx].values
            keys, values = self._split_heads(self.k_proj(states)), self._split_heads(self.v_proj(states))
            cache.is_updated[self.layer_idx] = True
            return layer_cache.update(keys, values, self.layer_idx)
        keys, values = self._split_heads(self.k_proj(states)), self._split_heads(self.v_proj(states))
        return cache.self_attention_cache.update(keys, values, self.layer_idx)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        cache: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        """`attention_mask` is boolean, broadcastable to `(batch, heads, queries, keys)`, true = attend."""
        queries = self._split_heads(self.q_proj(hidden_states))
        keys, values = self._keys_values(key_value_states, cache)
        attended = F.scaled_dot_product_attention(
            queries,
            keys,
            values,
            attn_mask=attention_mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        attended = attended.transpose(1, 2).reshape(*hidden_states.shape[:2], -1)
        return self.out_proj(attended)


class EffNetTrmDecoderLayer(nn.Module):
    """Post-norm Transformer decoder layer (as `torch.nn.TransformerDecoderLayer`, ReLU)."""

    def __init__(self, config: EffNetTrmConfig, layer_idx: int):
        super().__init__()
        self.self_attn = EffNetTrmAttention(config, layer_idx, is_cross_attention=False)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = EffNetTrmAttention(config, layer_idx, is_cross_attention=True)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states, self_attention_mask, memory, memory_mask, cache=None):
        attended = self.self_attn(hidden_states, hidden_states, self_attention_mask, cache)
        hidden_states = self.self_attn_layer_norm(hidden_states + self.dropout(attended))
        attended = self.encoder_attn(hidden_states, memory, memory_mask, cache)
        hidden_states = self.encoder_attn_layer_norm(hidden_states + self.dropout(attended))
        transformed = self.fc2(self.dropout(F.relu(self.fc1(hidden_states))))
        return self.final_layer_norm(hidden_states + self.dropout(transformed))


class EffNetTrmDecoder(nn.Module):
    """Word embedding (x sqrt(d_model)) + word positions, memory projection, decoder layers.

    The positions are the sinusoidal table, or with `config.position_embedding="stored"` the table saved
    with the weights (`position_table`). The memory projection is Linear -> ReLU -> Dropout -> LayerNorm
    (indices 0 and 3 hold weights, as in the reference `attn_proj`); no positional encoding is added to
    the audio memory.
    """

    def __init__(self, config: EffNetTrmConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.embed_scale = math.sqrt(config.d_model)
        self.memory_projection = nn.Sequential(
            nn.Linear(config.memory_dim, config.d_model),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.LayerNorm(config.d_model),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(EffNetTrmDecoderLayer(config, i) for i in range(config.decoder_layers))
        # a stored table is a buffer saved with the weights and never trained; the sinusoidal one is
        # computed, so the models this package trains store nothing
        stored = config.position_embedding == "stored"
        table = torch.zeros(config.max_position_embeddings, config.d_model) if stored else None
        self.register_buffer("position_table", table)

    def position_embeddings(self, positions: torch.Tensor) -> torch.Tensor:
        """The word-position embeddings at `positions` -> `(*positions.shape, d_model)`. Every decoding
        path (the model, `effnet_trm.decoding`, the ONNX step graph) takes its positions from here."""
        if self.position_table is None:  # computed in float32, used in the word embeddings' dtype
            return sinusoidal_position_embedding(positions, self.config.d_model).to(self.embed_tokens.weight.dtype)
        return self.position_table[positions]

    def forward(
        self,
        input_ids: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        past_length = cache.get_seq_length() if cache is not None else 0
        query_length = input_ids.shape[1]
        total_length = past_length + query_length
        if total_length > self.config.max_position_embeddings:
            raise ValueError(
                f"captions are limited to {self.config.max_position_embeddings} tokens "
                f"(config.max_position_embeddings); got {total_length}"
            )
        positions = torch.arange(past_length, total_length, device=input_ids.device)
        hidden_states = self.embed_tokens(input_ids) * self.embed_scale
        hidden_states = self.dropout(hidden_states + self.position_embeddings(positions))

        # causal mask over (query, key) positions, combined with an optional key padding mask
        key_positions = torch.arange(total_length, device=input_ids.device)
        self_mask = (key_positions.unsqueeze(0) <= positions.unsqueeze(1))[None, None]
        if attention_mask is not None:
            self_mask = self_mask & attention_mask[:, None, None, :total_length].bool()
        memory_mask = encoder_attention_mask[:, None, None, :].bool()
        # once every layer has cached its cross-attention keys/values, the memory is not read again
        cross_cached = cache is not None and all(cache.is_updated.get(i, False) for i in range(len(self.layers)))
        memory = None if cross_cached else self.memory_projection(encoder_hidden_states)
        for layer in self.layers:
            hidden_states = layer(hidden_states, self_mask, memory, memory_mask, cache)
        return hidden_states


# ----------------------------------------------------------------------------------------------
# The captioning model
# ----------------------------------------------------------------------------------------------


class EffNetTrmPreTrainedModel(PreTrainedModel):
    config_class = EffNetTrmConfig
    config: EffNetTrmConfig
    base_model_prefix = "effnet_trm"
    main_input_name = "input_values"
    supports_gradient_checkpointing = False
    _supports_sdpa = True

    def _init_weights(self, module: nn.Module) -> None:
        """Xavier-uniform for linear and embedding weights (as the reference decoder), zero biases, the
        sinusoidal values for a stored position table.

        The EfficientNet keeps timm's own initialisation (He-normal convolutions, unit batch norms); its
        batch norms are (re)set here too, running statistics included, so that a model materialised from
        the meta device has no uninitialised buffer.
        """
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.xavier_uniform_(module.weight)
            if getattr(module, "bias", None) is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):  # timm's BatchNormAct2d among them
            if module.weight is not None:
                init.ones_(module.weight)
                init.zeros_(module.bias)
            if module.running_mean is not None:
                init.zeros_(module.running_mean)
                init.ones_(module.running_var)
                init.zeros_(module.num_batches_tracked)
        elif isinstance(module, EffNetTrmDecoder) and module.position_table is not None:
            # a fresh "stored" model starts from the sinusoidal table; a checkpoint's own table replaces it
            positions = torch.arange(module.position_table.shape[0], device=module.position_table.device)
            init.copy_(module.position_table, sinusoidal_position_embedding(positions, module.config.d_model))


#: The generation config's default `no_repeat_ngram_size`: no two-word sequence twice in a caption. On
#: the demo student (`benchmarks/confidence.py`) CIDEr-D rose with it, on the test split 0.773 -> 0.848
#: and on 200 held-out clips 0.771 -> 0.785 (the teacher's 3: 0.779 and 0.776); 1 (no word twice) scored
#: higher still there, but forbids a second "a" in "a man speaks and a dog barks".
DEFAULT_NO_REPEAT_NGRAM_SIZE = 2


class NoImmediateRepeatLogitsProcessor(LogitsProcessor):
    """Bans every hypothesis' last word as its next one: no word twice in a row ("a car car honks",
    "an explosion explosion booms"). No caption of the demo corpus says a word twice in a row, yet an
    undertrained decoder often does (`benchmarks/unseen_sources.py` counts such captions), and
    `no_repeat_ngram_size` cannot stop it: the pair "car car" has not occurred before. Turned on by the
    generation config's `block_immediate_repeats` (True for a new model)."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return scores.scatter(1, input_ids[:, -1:], -float("inf"))


class EffNetTrmForAudioCaptioning(EffNetTrmPreTrainedModel, GenerationMixin):
    """EffNet-Trm audio captioner. Use `generate()` for captions (beam search, greedy, sampling)."""

    _tied_weights_keys = {"lm_head.weight": "decoder.embed_tokens.weight"}

    def __init__(self, config: EffNetTrmConfig):
        super().__init__(config)
        self.encoder = EffNetTrmEncoder(config)
        self.decoder = EffNetTrmDecoder(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()
        if self.generation_config is not None:
            self._set_default_generation_config()

    def _set_default_generation_config(self) -> None:
        """The paper's decoding: beam search with 3 beams, at most 20 words. A caption never
        contains `<pad>` or `<bos>`, so they are suppressed; and, as the teacher decodes with an n-gram
        block too, no two-word sequence occurs twice in a caption (`no_repeat_ngram_size`: no "a cat meows
        over the sound of a cat"; the fast search and the ONNX captioner apply it too), and no word follows
        itself (`block_immediate_repeats`, see `NoImmediateRepeatLogitsProcessor`). A saved
        generation_config.json wins (one saved before `block_immediate_repeats` existed decodes without it,
        as it did)."""
        self.generation_config.num_beams = 3
        self.generation_config.max_new_tokens = 20
        self.generation_config.suppress_tokens = [self.config.pad_token_id, self.config.bos_token_id]
        self.generation_config.no_repeat_ngram_size = DEFAULT_NO_REPEAT_NGRAM_SIZE
        self.generation_config.block_immediate_repeats = True
        # a config marked as derived from the model config would be saved and loaded without the entry above
        self.generation_config._from_model_config = False

    def generate(self, *args, **kwargs):
        """`GenerationMixin.generate`. A generation config saved before `block_immediate_repeats` existed
        decodes without the block, as it did, and still accepts `generate(block_immediate_repeats=True)`."""
        if self.generation_config is not None and not hasattr(self.generation_config, "block_immediate_repeats"):
            self.generation_config.block_immediate_repeats = False
        return super().generate(*args, **kwargs)

    def _get_logits_processor(self, generation_config, *args, **kwargs) -> LogitsProcessorList:
        """`generate`'s processors, plus `NoImmediateRepeatLogitsProcessor` when the generation config (or
        `generate(block_immediate_repeats=...)`, which updates it) asks for it."""
        processors = super()._get_logits_processor(generation_config, *args, **kwargs)
        if getattr(generation_config, "block_immediate_repeats", False):
            # first, before sampling's top-k/top-p: a word they keep alone must not then be banned
            processors.insert(0, NoImmediateRepeatLogitsProcessor())
        return processors

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """`PreTrainedModel.save_pretrained`, plus what makes the folder a Hub model repo that loads
        without this package: `auto_map` and the custom pipeline in config.json, the code files beside
        the weights, the feature extractor's config (written once; an existing one is kept), and the model
        card: README.md rendered from the config and the card data (see `model_card_data`), which are kept
        in `model_card.json`. `push_to_hub=True` pushes the complete folder (through `push_to_hub`).
        """
        push_to_hub = kwargs.pop("push_to_hub", False)
        card_data = kwargs.pop("card_data", None)
        hub_kwargs = {
            key: kwargs.pop(key)
            for key in ("repo_id", "commit_message", "private", "token", "create_pr", "revision")
            if key in kwargs
        }
        self.config.auto_map = {**AUTO_MAP, **(getattr(self.config, "auto_map", None) or {})}
        self.config.custom_pipelines = {task: dict(entry) for task, entry in CUSTOM_PIPELINES.items()}
        super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return
        save_directory = Path(save_directory)
        this_file = Path(__file__).resolve()
        in_source_tree = this_file == (save_directory / this_file.name).resolve()
        for name in CODE_FILES:
            source = Path(__file__).with_name(name)
            if source.resolve() != (save_directory / name).resolve():
                shutil.copyfile(source, save_directory / name)
        if not (save_directory / "preprocessor_config.json").exists():
            EffNetTrmFeatureExtractor(sampling_rate=self.config.sampling_rate).save_pretrained(save_directory)
        if not in_source_tree:  # the repository's own README (the Space's page) is not a model card
            write_model_card(save_directory, self.config, self.model_card_data(card_data))
        if push_to_hub:
            self.push_to_hub(hub_kwargs.pop("repo_id", save_directory.name), card_data=card_data, **hub_kwargs)

    def model_card_data(self, card_data: dict | None = None) -> dict:
        """The facts the model card is written from (see `modelcard_effnet_trm`): `card_data` if given,
        else `self.card_data` if set, else those saved with the folder the model was loaded from."""
        if card_data is not None:
            return card_data
        if getattr(self, "card_data", None) is not None:
            return self.card_data
        return read_card_data(self.name_or_path) if Path(str(self.name_or_path)).is_dir() else {}

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        card_data: dict | None = None,
        **kwargs,
    ):
        """Upload what `save_pretrained` writes, the model card included. (transformers' own `push_to_hub`
        replaces README.md with the Hub's current card or an empty template.)"""
        import tempfile

        from huggingface_hub import create_repo

        repo_id = create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, card_data=card_data, **kwargs)
            return self._upload_modified_files(
                folder,
                repo_id,
                files_timestamps={},
                commit_message=commit_message,
                token=token,
                create_pr=create_pr,
                revision=revision,
            )

    def get_encoder(self, modality: str | None = None) -> EffNetTrmEncoder:
        return self.encoder

    def get_decoder(self) -> EffNetTrmDecoder:
        return self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def encode(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> EffNetTrmEncoderOutput:
        """Run the audio encoder alone (frames, frame mask, clip embedding)."""
        return self.encoder(input_values, attention_mask)

    def shift_labels_right(self, labels: torch.Tensor) -> torch.Tensor:
        """`<bos> w1 w2 ...` decoder inputs from `w1 w2 ... <eos>` labels (-100 becomes `<pad>`)."""
        shifted = labels.new_full(labels.shape, self.config.pad_token_id)
        shifted[:, 1:] = labels[:, :-1]
        shifted[:, 0] = self.config.decoder_start_token_id
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def _decoding_cache(self, cache: Cache | None, use_cache: bool | None, labels: torch.Tensor | None) -> Cache | None:
        """The key/value cache `forward` decodes with, as transformers' models choose it.

        `use_cache=None` means `config.use_cache` (True when the config does not set it), except in a
        forward pass with `labels` (training), which needs no cache; a cache passed in is kept. With a
        cache to use and none passed, a new one is made. `use_cache=False` decodes without one.
        """
        if use_cache is None:
            use_cache = cache is not None or (labels is None and getattr(self.config, "use_cache", True))
        if not use_cache:
            return None
        return cache if cache is not None else EncoderDecoderCache(DynamicCache(), DynamicCache())

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: EffNetTrmEncoderOutput | None = None,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> EffNetTrmCaptioningOutput:
        """
        Args:
            input_values (`(batch, samples)`): 16 kHz waveforms; not needed when `encoder_outputs` is given.
            attention_mask (`(batch, samples)`): sample-level padding mask of `input_values`.
            decoder_input_ids (`(batch, words)`): decoder inputs; derived from `labels` when omitted.
            decoder_attention_mask (`(batch, words)`): optional padding mask of the decoder inputs.
            encoder_outputs: a precomputed [`EffNetTrmEncoderOutput`].
            cache: an [`EncoderDecoderCache`] for incremental decoding (`generate` passes it).
            past_key_values: the same, under its name before transformers 5.24 (either name works).
            labels (`(batch, words)`): target word ids, -100 where ignored; gives the cross-entropy `loss`.
            use_cache: decode with a key/value cache (the one passed, or a new one) and return it;
                defaults as in transformers' models (see `_decoding_cache`).
        """
        if encoder_outputs is None:
            if input_values is None:
                raise ValueError("pass input_values (audio) or encoder_outputs")
            encoder_outputs = self.encoder(input_values, attention_mask)
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass decoder_input_ids or labels")
            decoder_input_ids = self.shift_labels_right(labels)
        cache = self._decoding_cache(cache if cache is not None else past_key_values, use_cache, labels)

        hidden_states = self.decoder(
            decoder_input_ids,
            encoder_outputs.last_hidden_state,
            encoder_outputs.attention_mask,
            attention_mask=decoder_attention_mask,
            cache=cache,
        )
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        output = EffNetTrmCaptioningOutput(
            loss=loss,
            logits=logits,
            **{CACHE_NAME: cache},
            decoder_hidden_states=hidden_states,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_attention_mask=encoder_outputs.attention_mask,
            encoder_frame_embeddings=encoder_outputs.frame_embeddings,
            encoder_clip_embedding=encoder_outputs.clip_embedding,
        )
        return output if return_dict is not False else output.to_tuple()


__all__ = [
    "EffNetTrmConfig",
    "EffNetTrmEncoder",
    "EffNetTrmEncoderOutput",
    "EffNetTrmCaptioningOutput",
    "EffNetTrmForAudioCaptioning",
    "EffNetTrmPreTrainedModel",
]
