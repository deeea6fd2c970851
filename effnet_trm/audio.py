"""Audio input/output shared by every part of the project.

One place decides how a file becomes a model input: soundfile decodes it (wav, flac, ogg/vorbis,
mp3, 8/16/24/32-bit integer or float), or, for what libsndfile cannot read (M4A/AAC from phones,
webm, wma), FFmpeg through PyAV; channels are averaged to mono, and soxr (the resampler librosa
uses) converts the rate. Every failure is raised as :class:`AudioError` with a message
that names the file and says what is wrong, so callers can report it per file and go on.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from feature_extraction_effnet_trm import validate_waveform

AudioSource = str | os.PathLike | bytes | io.IOBase

#: Samples whose absolute value stays below this are treated as digital silence.
SILENCE_THRESHOLD = 1e-6
#: Declared sampling rates outside this range are not audio (a corrupt or hostile header): below it a
#: second of samples would resample into minutes (1 Hz x 16000 samples = 4.4 hours at 16 kHz), above
#: it soxr spends seconds producing a handful of samples.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 1_000_000


class AudioError(ValueError):
    """An audio input that cannot be turned into a model input (the message says why)."""


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "<in-memory audio>"


def check_sample_rate(sample_rate: int, name: str = "audio") -> None:
    """Raise :class:`AudioError` for a sampling rate no recording has (see `MIN_SAMPLE_RATE`)."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{name}: a sampling rate of {sample_rate} Hz cannot be audio (accepted: "
            f"{MIN_SAMPLE_RATE} Hz to {MAX_SAMPLE_RATE // 1000} kHz); the file's header is probably corrupt"
        )


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


def read_audio(source: AudioSource, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode a file (or bytes / file object) to float32 (frames, channels) and its rate.

    Integer PCM of any width is scaled to [-1, 1) by soundfile; float files are kept as they are.
    With `max_seconds`, a longer recording is refused before it is decoded (from the length its header
    declares) and decoding stops one frame past the limit: a small compressed file cannot expand into
    hours of samples in memory.
    """
    name = _describe(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{name}: no such file")
        if path.is_dir():
            raise AudioError(f"{name}: is a directory, not an audio file")
        if not path.is_file():  # a named pipe or a device would block or never end
            raise AudioError(f"{name}: not a regular file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: the file is empty (0 bytes)")
        source = os.fsencode(path)  # as bytes: soundfile cannot encode a name that is not valid UTF-8
    elif isinstance(source, bytes):
        if not source:
            raise AudioError(f"{name}: the audio is empty (0 bytes)")
        source = io.BytesIO(source)
    try:
        with sf.SoundFile(source) as audio_file:
            sample_rate = int(audio_file.samplerate)
            check_sample_rate(sample_rate, name)
            limit = None if max_seconds is None else int(max_seconds * sample_rate)
            if limit is not None and audio_file.frames > limit:
                raise _too_long(name, audio_file.frames / sample_rate, max_seconds)
            data = audio_file.read(-1 if limit is None else limit + 1, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, MemoryError) as error:
        reason = getattr(error, "error_string", None) or str(error)  # libsndfile's words, without the path
        if reason.startswith("File does not exist"):  # what it says of undecodable MPEG data in a file that exists
            reason = "Format not recognised"
        if hasattr(source, "seek"):
            source.seek(0)
        data, sample_rate = _read_with_ffmpeg(source, name, max_seconds, reason.rstrip("."))
        limit = None if max_seconds is None else int(max_seconds * sample_rate)
    if limit is not None and data.shape[0] > limit:  # the header understated the length
        raise _too_long(name, data.shape[0] / sample_rate, max_seconds, at_least=True)
    if data.shape[0] == 0:
        raise AudioError(f"{name}: the audio is empty (zero samples)")
    return data, sample_rate


#: What each decoder reads, for the message when neither can.
SOUNDFILE_FORMATS = "wav, flac, ogg (vorbis, opus) and mp3"
FFMPEG_FORMATS = "m4a/mp4 (AAC, ALAC), webm, wma and most other formats"


def _read_with_ffmpeg(source, name: str, max_seconds: float | None, soundfile_reason: str) -> tuple[np.ndarray, int]:
    """The fallback for what libsndfile cannot read (phones record M4A): FFmpeg's decoders through
    PyAV, when it is installed. Same contract as `read_audio`: float32 (frames, channels) and the rate,
    a recording over `max_seconds` refused from its declared duration and, should that understate
    it, while decoding (one frame past the limit)."""
    try:
        import av
    except ImportError:
        hint = f"; for {FFMPEG_FORMATS}, install PyAV (pip install av)"
        raise AudioError(
            f"{name}: not a readable audio file ({soundfile_reason}); supported are {SOUNDFILE_FORMATS}{hint}"
        ) from None
    try:
        with av.open(source if not isinstance(source, bytes) else os.fsdecode(source), "r") as container:
            if not container.streams.audio:
                raise AudioError(f"{name}: the file has no audio stream")
            stream = container.streams.audio[0]
            sample_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            check_sample_rate(sample_rate, name)
            declared = float(container.duration / av.time_base) if container.duration else None
            if max_seconds is not None and declared is not None and declared > max_seconds:
                raise _too_long(name, declared, max_seconds)
            limit = None if max_seconds is None else int(max_seconds * sample_rate)
            planar = av.AudioResampler(format="fltp")  # float32, one row per channel, rate and layout kept
            pieces, frames = [], 0
            for frame in container.decode(stream):
                for converted in planar.resample(frame):
                    pieces.append(converted.to_ndarray())
                    frames += pieces[-1].shape[1]
                if limit is not None and frames > limit:
                    break
    except AudioError:
        raise
    except (av.FFmpegError, OSError, ValueError, MemoryError) as error:
        reason = f"{soundfile_reason}; FFmpeg: {getattr(error, 'strerror', None) or error}"
        raise AudioError(
            f"{name}: not a readable audio file ({reason}); supported are {SOUNDFILE_FORMATS}, {FFMPEG_FORMATS}"
        ) from None
    if not pieces:
        raise AudioError(f"{name}: the audio is empty (zero samples)")
    return np.ascontiguousarray(np.concatenate(pieces, axis=1).T, dtype=np.float32), sample_rate


def _too_long(name: str, seconds: float, max_seconds: float, at_least: bool = False) -> AudioError:
    more = "over " if at_least else ""
    return AudioError(f"{name}: the recording is {more}{seconds:.0f} s long; the limit is {max_seconds:.0f} s")


def load_audio(source: AudioSource, sampling_rate: int = 16000, max_seconds: float | None = None) -> np.ndarray:
    """Load any supported audio as a finite float32 mono waveform at ``sampling_rate``.

    Raises :class:`AudioError` for missing, empty, undecodable, non-finite or out-of-range audio, an
    impossible sampling rate, or (with `max_seconds`) a recording longer than that.
    """
    data, file_rate = read_audio(source, max_seconds)
    waveform = resample(to_mono(data), file_rate, sampling_rate)
    return check_waveform(waveform, _describe(source))
