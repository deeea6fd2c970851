"""Audio-only pools (AudioSet for AudioCaps, Freesound for Clotho), consumed as streams.

Paper, section 3.1: every clip of the target dataset's validation and test sets is excluded, clips
longer than 300 s are left out, and each sample is a random 10 s crop. Sources are a local folder
of audio files (ids = file stems) or a Hub dataset streamed with `datasets`; audio is decoded with
soundfile + soxr (never torchcodec). Unreadable clips are skipped, counted and logged.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import AudioError, load_audio
from .real_datasets import AUDIO_EXTENSIONS

logger = logging.getLogger(__name__)

MAX_SECONDS = 300.0


@dataclass
class PoolStats:
    """What a pool stream has yielded and left out so far."""

    yielded: int = 0
    excluded: int = 0
    too_long: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.yielded} crops yielded; left out: {self.excluded} excluded (target val/test), "
            f"{self.too_long} longer than {MAX_SECONDS:.0f} s, {len(self.unreadable)} unreadable"
        )


def _crop(waveform: np.ndarray, size: int, seed: int, audio_id: str, epoch: int) -> tuple[np.ndarray, int]:
    if waveform.size <= size:
        return waveform, 0
    rng = np.random.default_rng([seed, epoch, zlib.crc32(audio_id.encode())])
    start = int(rng.integers(0, waveform.size - size + 1))
    return waveform[start : start + size], start


def _samples(
    items: Iterable[tuple[str, object]],
    exclude: set[str],
    sampling_rate: int,
    crop_seconds: float,
    max_seconds: float,
    seed: int,
    epoch: int,
    stats: PoolStats,
) -> Iterator[dict]:
    size = int(crop_seconds * sampling_rate)
    for audio_id, source in items:
        if audio_id in exclude:
            stats.excluded += 1
            continue
        try:
            handle = io.BytesIO(source) if isinstance(source, bytes) else source
            info = sf.info(handle)
            if info.frames / info.samplerate > max_seconds:
                stats.too_long += 1
                continue
            if isinstance(handle, io.BytesIO):
                handle.seek(0)
            waveform = load_audio(handle, sampling_rate)
        except (AudioError, RuntimeError, sf.LibsndfileError) as error:
            logger.warning("audio-only pool: skipping unreadable %s (%s)", audio_id, error)
            stats.unreadable[audio_id] = str(error)
            continue
        crop, start = _crop(waveform, size, seed, audio_id, epoch)
        stats.yielded += 1
        yield {"audio_id": audio_id, "waveform": crop, "crop_start": start / sampling_rate}


def local_items(folder: str | Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            yield path.stem, path


def hub_items(
    name: str,
    split: str = "train",
    audio_column: str = "audio",
    id_column: str | None = None,
    config: str | None = None,
) -> Iterator[tuple[str, bytes]]:
    from datasets import Audio, load_dataset

    stream = load_dataset(name, config, split=split, streaming=True).cast_column(audio_column, Audio(decode=False))
    for index, example in enumerate(stream):
        audio = example[audio_column]
        audio_id = str(example[id_column]) if id_column else Path(audio.get("path") or f"{index}").stem
        yield audio_id, audio.get("bytes") or audio.get("path")


def audio_only_pool(
    items: Callable[[], Iterable[tuple[str, object]]],
    exclude: Iterable[str] = (),
    sampling_rate: int = 16000,
    crop_seconds: float = 10.0,
    max_seconds: float = MAX_SECONDS,
    seed: int = 0,
    epoch: int = 0,
):
    """A `datasets.IterableDataset` of random crops (`audio_id`, `waveform`, `crop_start`) and its `PoolStats`.

    `items` makes a fresh iterator of `(audio_id, path or bytes)` pairs each time the stream is read,
    e.g. `functools.partial(local_items, folder)` or `functools.partial(hub_items, "org/audioset")`.
    """
    from datasets import IterableDataset

    stats = PoolStats()
    exclude = set(exclude)

    def generate():
        yield from _samples(items(), exclude, sampling_rate, crop_seconds, max_seconds, seed, epoch, stats)

    return IterableDataset.from_generator(generate), stats
