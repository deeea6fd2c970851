"""Google's AudioSet YAMNet in PyTorch, loaded from the original TensorFlow checkpoint.

YAMNet (weights by Google, Apache License 2.0; see :mod:`effnet_trm.audioset.fetch` for where the
SavedModel comes from) is a MobileNetV1 on log-mel patches that predicts the 521 AudioSet classes
and gives a 1024-d embedding per 0.96 s patch. Every constant below was read from the SavedModel's
own graph (``saved_model.pb``, function ``__call__``), not from documentation:

* waveform: zero-padded at the end to at least 15600 samples (0.975 s = one patch of frames) and
  then to 15600 + a whole number of 7680-sample (0.48 s) patch hops (graph: Maximum/Ceil/Pad);
* frames: 400 samples (25 ms) every 160 (10 ms), no padding; times a 400-point *periodic* Hann
  window (graph constant ``Mul_3/y``); zero-padded to 512 (``Pad_1``), ``RFFT`` of 512 points;
* magnitude, not power (``ComplexAbs``); times a (257, 64) mel matrix (``MatMul/b``) equal to
  ``tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125, 7500)`` (HTK mel, first FFT bin
  zeroed) to within 1e-5; ``log(mel + 0.001)`` (``AddV2_3/y``, ``Log``);
* patches: 96 frames every 48 frames (``Sub_4``, ``FloorDiv_2``), as (96 time, 64 mel) images;
* body: 3x3 conv stride 2, then 13 depthwise-separable blocks (depthwise 3x3 strides 1,2,1,2,1,2,
  1,1,1,1,1,2,1), all TF "SAME" padding; batch norm without scale (the checkpoint has no gamma)
  and epsilon 1e-4 (``FusedBatchNormV3`` keeps the op default, so the attribute is stripped);
  ReLU; global average pooling (``Mean`` over axes 1, 2) -> embedding; dense -> sigmoid -> scores.

The clip-level score is the mean of the patch scores, as YAMNet's own inference example does.
:func:`load_yamnet` also copies the graph's float32 window and mel matrix into the front end (our
float64 formulas differ from them by < 1e-5), so the port and TensorFlow see the same constants.
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .tensor_bundle import object_graph_names, read_tensor_bundle

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_SIZE = 512
MEL_BANDS = 64
MEL_MIN_HZ, MEL_MAX_HZ = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
#: Shortest waveform the graph accepts unpadded: one patch of frames, 15600 samples (0.975 s).
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP_SAMPLES  # 7680
BN_EPSILON = 1e-4
NUM_CLASSES = 521
EMBEDDING_SIZE = 1024
#: (output channels, depthwise stride) of the 13 separable blocks, layer2 .. layer14.
SEPARABLE_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
#: Where YAMNet's variables sit in this SavedModel's checkpoint (the wrapper's KerasLayer).
CHECKPOINT_PREFIX = "layer-1/layer/_func/_yamnet/"
#: Checkpoint entries that are not YAMNet's (the Keras wrapper's metric state and the object graph).
IGNORED_ENTRIES = (
    "_CHECKPOINTABLE_OBJECT_GRAPH",
    "keras_api/metrics/0/count/.ATTRIBUTES/VARIABLE_VALUE",
    "keras_api/metrics/0/total/.ATTRIBUTES/VARIABLE_VALUE",
)


# --- front end -----------------------------------------------------------------------------------


def hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
    """HTK mel scale, as ``tf.signal`` uses it."""
    return 1127.0 * np.log1p(np.asarray(hertz, dtype=np.float64) / 700.0)


def mel_matrix() -> np.ndarray:
    """(257, 64) triangular filters on the mel scale, the formula of
    ``tf.signal.linear_to_mel_weight_matrix``: edges evenly spaced in mel between 125 and 7500 Hz,
    FFT bin frequencies ``linspace(0, 8000, 257)``, and the DC bin's row set to zero."""
    bin_mel = hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, FFT_SIZE // 2 + 1)[1:])[:, None]
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (center - lower)
    falling = (upper - bin_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def periodic_hann(length: int = WINDOW_SAMPLES) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)


def padded_length(samples: int) -> int:
    """YAMNet's waveform padding: at least one patch, then whole patch hops (0.48 s)."""
    extra = max(samples, MIN_SAMPLES) - MIN_SAMPLES
    return MIN_SAMPLES + math.ceil(extra / PATCH_HOP_SAMPLES) * PATCH_HOP_SAMPLES


def num_frames(samples: int) -> int:
    """STFT frames of a waveform of `samples` samples (after YAMNet's padding)."""
    return 1 + (padded_length(samples) - WINDOW_SAMPLES) // HOP_SAMPLES


def num_patches(samples: int) -> int:
    return 1 + (num_frames(samples) - PATCH_FRAMES) // PATCH_HOP_FRAMES


class LogMelFrontEnd(nn.Module):
    """(batch, samples) 16 kHz waveform -> (log-mel (batch, frames, 64), patches (batch, P, 96, 64))."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.from_numpy(periodic_hann()), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()), persistent=False)

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        waveform = F.pad(waveform, (0, padded_length(waveform.shape[-1]) - waveform.shape[-1]))
        frames = waveform.unfold(-1, WINDOW_SAMPLES, HOP_SAMPLES) * self.window
        magnitude = torch.fft.rfft(frames, n=FFT_SIZE).abs()
        log_mel = torch.log(magnitude @ self.mel + LOG_OFFSET)
        patches = log_mel.unfold(1, PATCH_FRAMES, PATCH_HOP_FRAMES).transpose(-1, -2)
        return log_mel, patches


# --- MobileNetV1 body ----------------------------------------------------------------------------


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME": output ceil(size / stride), and the odd pixel of padding goes at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class CenterBatchNorm(nn.Module):
    """Batch norm with a learnt offset (beta) but no scale, as YAMNet's Keras layers (scale=False)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, self.training, 0.01, BN_EPSILON)


class ConvBNReLU(nn.Module):
    """Conv (TF "SAME" padding, no bias) -> scale-free batch norm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, bias=False, groups=groups)
        self.bn = CenterBatchNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
        left, right = same_padding(x.shape[-1], self.kernel, self.stride)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.relu(self.bn(self.conv(x)))


class SeparableBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.depthwise_conv = ConvBNReLU(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise_conv = ConvBNReLU(in_channels, out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


@dataclass
class YAMNetOutput:
    """Per patch: `scores` (batch, patches, 521) sigmoid probabilities, `logits` before the sigmoid,
    `embeddings` (batch, patches, 1024). Per clip: `clip_scores` (batch, 521), the mean of the patch
    scores (YAMNet's own clip summary), and `clip_embedding` (batch, 1024), the mean embedding.
    `log_mel` (batch, frames, 64) is the front end's spectrogram."""

    scores: torch.Tensor
    logits: torch.Tensor
    embeddings: torch.Tensor
    clip_scores: torch.Tensor
    clip_embedding: torch.Tensor
    log_mel: torch.Tensor


class YAMNet(nn.Module):
    """YAMNet: 16 kHz waveforms (batch, samples) -> :class:`YAMNetOutput`.

    Waveforms of any length work; shorter than 0.975 s they are zero-padded to one patch, as the
    original does. Module names follow the checkpoint (``layer1.conv``, ``layer2.depthwise_conv``...).
    """

    def __init__(self):
        super().__init__()
        self.front_end = LogMelFrontEnd()
        self.layer1 = nn.Module()
        self.layer1.conv = ConvBNReLU(1, 32, 3, 2)
        channels = 32
        for index, (out_channels, stride) in enumerate(SEPARABLE_BLOCKS, start=2):
            self.add_module(f"layer{index}", SeparableBlock(channels, out_channels, stride))
            channels = out_channels
        self.dense = nn.Linear(EMBEDDING_SIZE, NUM_CLASSES)

    def body(self, patches: torch.Tensor) -> torch.Tensor:
        """(n, 96, 64) log-mel patches -> (n, 1024) embeddings."""
        x = patches.unsqueeze(1)
        x = self.layer1.conv(x)
        for index in range(2, len(SEPARABLE_BLOCKS) + 2):
            x = getattr(self, f"layer{index}")(x)
        return x.mean(dim=(2, 3))

    def forward(self, waveform: torch.Tensor) -> YAMNetOutput:
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim != 2:
            raise ValueError(f"expected (batch, samples) 16 kHz audio, got shape {tuple(waveform.shape)}")
        log_mel, patches = self.front_end(waveform.float())
        batch, count = patches.shape[:2]
        embeddings = self.body(patches.reshape(batch * count, PATCH_FRAMES, MEL_BANDS))
        logits = self.dense(embeddings)
        scores = torch.sigmoid(logits)
        embeddings = embeddings.reshape(batch, count, EMBEDDING_SIZE)
        scores, logits = scores.reshape(batch, count, NUM_CLASSES), logits.reshape(batch, count, NUM_CLASSES)
        return YAMNetOutput(scores, logits, embeddings, scores.mean(1), embeddings.mean(1), log_mel)


# --- loading the TensorFlow checkpoint -----------------------------------------------------------


def _to_torch(tf_name: str, array: np.ndarray) -> np.ndarray:
    """TF layouts -> PyTorch: conv (kh, kw, in, out) -> (out, in, kh, kw); depthwise
    (kh, kw, in, 1) -> (in, 1, kh, kw); dense (in, out) -> (out, in)."""
    if tf_name.endswith("depthwise_kernel"):
        return array.transpose(2, 3, 0, 1)
    if tf_name.endswith("kernel") and array.ndim == 4:
        return array.transpose(3, 2, 0, 1)
    if tf_name.endswith("kernel"):
        return array.T
    return array


def _torch_name(tf_name: str) -> str:
    """Original variable name -> PyTorch state-dict name. In the checkpoint a conv layer is
    ``<block>/<conv>/kernel`` (or ``depthwise_kernel``) and its batch norm ``<block>/<conv>/bn/...``;
    here each ``<block>.<conv>`` is a :class:`ConvBNReLU` holding ``conv`` and ``bn``."""
    *path, leaf = tf_name.split("/")
    if path == ["dense"]:
        return f"dense.{ {'kernel': 'weight', 'bias': 'bias'}[leaf] }"
    if leaf in ("kernel", "depthwise_kernel"):
        return ".".join([*path, "conv", "weight"])
    stats = {"beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    if path[-1] == "bn" and leaf in stats:
        return ".".join([*path, stats[leaf]])
    raise ValueError(f"unexpected YAMNet variable {tf_name!r}")


def checkpoint_state_dict(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(PyTorch state dict, checkpoint key -> PyTorch name) from a YAMNet SavedModel folder.

    Variables are named through the checkpoint's object graph (``layer1/conv/kernel``...), so the
    mapping is by name, not by position. Anything unexpected raises.
    """
    tensors = read_tensor_bundle(folder)
    names = object_graph_names(tensors)
    state, mapping = {}, {}
    for key, array in tensors.items():
        if key in IGNORED_ENTRIES:
            continue
        if not key.startswith(CHECKPOINT_PREFIX) or key not in names:
            raise ValueError(f"unexpected checkpoint entry {key!r}: is this YAMNet?")
        torch_name = _torch_name(names[key])
        state[torch_name] = torch.from_numpy(np.ascontiguousarray(_to_torch(names[key], array)))
        mapping[key] = torch_name
    return state, mapping


def use_graph_front_end(model: YAMNet, folder: str | Path) -> None:
    """Use the SavedModel's own window and mel matrix (float32 graph constants) instead of our float64
    formulas. They agree to 2e-5 (tested); the exact constants remove that last difference to TF."""
    from .saved_model import graph_functions

    calls = [nodes for name, nodes in graph_functions(folder).items() if name.startswith("__inference___call___")]
    if not calls:
        raise ValueError(f"{folder}: no __call__ function in saved_model.pb")
    consts = {n.name.rsplit("/", 2)[-2]: n for n in calls[0] if n.op == "Const"}
    window, mel = consts["Mul_3"].constant(), consts["MatMul"].constant()
    if window.shape != model.front_end.window.shape or mel.shape != model.front_end.mel.shape:
        raise ValueError(f"unexpected front-end constants {window.shape}, {mel.shape}")
    model.front_end.window.copy_(torch.from_numpy(window))
    model.front_end.mel.copy_(torch.from_numpy(mel))


def load_yamnet(folder: str | Path | None = None, report: bool = False):
    """YAMNet in eval mode with the original weights (downloading them on first use).

    The load is strict both ways: every YAMNet checkpoint variable fills a parameter or buffer of
    the same shape, and every parameter and buffer is filled. With ``report=True`` also returns the
    list of (checkpoint key, original name, PyTorch name, shape) rows.
    """
    if folder is None:
        from .fetch import yamnet_folder

        folder = yamnet_folder()
    state, mapping = checkpoint_state_dict(folder)
    model = YAMNet()
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [n for n in set(state) & set(expected) if state[n].shape != expected[n].shape]
    if missing or unexpected or wrong:
        raise ValueError(f"YAMNet checkpoint mismatch: missing {missing}, unexpected {unexpected}, shapes {wrong}")
    model.load_state_dict(state, strict=True)
    use_graph_front_end(model, folder)
    model.eval()
    if not report:
        return model
    names = object_graph_names(read_tensor_bundle(folder))
    rows = [
        (key, names[key], name, tuple(state[name].shape)) for key, name in sorted(mapping.items(), key=lambda kv: kv[1])
    ]
    return model, rows


def yamnet_class_names(folder: str | Path | None = None) -> list[str]:
    """The 521 AudioSet display names in output order, from the SavedModel's ``yamnet_class_map.csv``."""
    if folder is None:
        from .fetch import yamnet_folder

        folder = yamnet_folder()
    with open(Path(folder) / "assets" / "yamnet_class_map.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if [int(row["index"]) for row in rows] != list(range(NUM_CLASSES)):
        raise ValueError("yamnet_class_map.csv does not list classes 0..520 in order")
    return [row["display_name"] for row in rows]


def main(paths: list[str]) -> int:
    """Print YAMNet's top-5 AudioSet classes (clip score) for each audio file."""
    from effnet_trm.audio import AudioError, load_audio

    model, classes = load_yamnet(), yamnet_class_names()
    status = 0
    for path in paths:
        try:
            waveform = torch.from_numpy(load_audio(path, SAMPLE_RATE))
        except AudioError as error:
            print(f"{path}: {error}", file=sys.stderr)
            status = 1
            continue
        with torch.no_grad():
            clip = model(waveform[None]).clip_scores[0]
        top = torch.topk(clip, 5)
        print(
            path + ": " + ", ".join(f"{classes[i]} {s:.2f}" for s, i in zip(top.values.tolist(), top.indices.tolist()))
        )
    return status


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m effnet_trm.audioset.yamnet AUDIO_FILE...")
    sys.exit(main(sys.argv[1:]))
