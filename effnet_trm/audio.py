"""Audio input/output shared by every part of the project.

One place decides how a file becomes a model input: soundfile decodes it (wav, flac, ogg/vorbis,
mp3, 8/16/24/32-bit integer or float), channels are averaged to mono, and soxr (the resampler
librosa uses) converts the rate. Every failure is raised as :class:`AudioError` with a message
that names the file and says what is wrong, so callers can report it per file and go on.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import soxr
from feature_extraction_effnet_trm import validate_waveform

AudioSource = Union[str, os.PathLike, bytes, io.IOBase]

#: Samples whose absolute value stays below this are treated as digital silence.
SILENCE_THRESHOLD = 1e-6


class AudioError(ValueError):
    """An audio input that cannot be turned into a model input (the message says why)."""


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "<in-memory audio>"


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's high-quality filter (identity when rates match)."""
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"sampling rates must be positive, got {orig_sr} -> {target_sr}")
    waveform = np.asarray(waveform, dtype=np.float32)
    if orig_sr == target_sr:
        return waveform
    if waveform.ndim == 1:
        return soxr.resample(waveform, orig_sr, target_sr, quality="HQ").astype(np.float32)
    # soxr wants (frames, channels)
    return soxr.resample(waveform.T, orig_sr, target_sr, quality="HQ").T.astype(np.float32)


def to_mono(waveform: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) -> (frames,) by averaging the channels."""
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.ndim == 1:
        return waveform
    if waveform.ndim != 2:
        raise AudioError(f"expected a 1-D or (frames, channels) waveform, got shape {waveform.shape}")
    return waveform.mean(axis=1)


def check_waveform(waveform: np.ndarray, name: str = "waveform") -> np.ndarray:
    """Validate a mono float waveform: non-empty, 1-D and finite. Returns it as float32.

    The rules live with the feature extractor (which must stay self-contained for Hub remote code);
    this raises them as :class:`AudioError`.
    """
    try:
        return validate_waveform(waveform, name)
    except ValueError as error:
        raise AudioError(str(error)) from None


def is_silent(waveform: np.ndarray) -> bool:
    """True when every sample is (numerically) zero; such clips are valid input but worth a warning."""
    return bool(np.max(np.abs(waveform), initial=0.0) < SILENCE_THRESHOLD)


def read_audio(source: AudioSource) -> tuple[np.ndarray, int]:
    """Decode a file (or bytes / file object) to float32 (frames, channels) and its rate.

    Integer PCM of any width is scaled to [-1, 1) by soundfile; float files are kept as they are.
    """
    name = _describe(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{name}: no such file")
        if path.is_dir():
            raise AudioError(f"{name}: is a directory, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: the file is empty (0 bytes)")
    elif isinstance(source, bytes):
        if not source:
            raise AudioError(f"{name}: the audio is empty (0 bytes)")
        source = io.BytesIO(source)
    try:
        data, sample_rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(
            f"{name}: not a readable audio file ({error}); supported are wav, flac, ogg and mp3"
        ) from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: the audio is empty (zero samples)")
    return data, int(sample_rate)


def load_audio(source: AudioSource, sampling_rate: int = 16000) -> np.ndarray:
    """Load any supported audio as a finite float32 mono waveform at ``sampling_rate``.

    Raises :class:`AudioError` for missing, empty, undecodable or non-finite audio.
    """
    data, file_rate = read_audio(source)
    waveform = resample(to_mono(data), file_rate, sampling_rate)
    return check_waveform(waveform, _describe(source))
