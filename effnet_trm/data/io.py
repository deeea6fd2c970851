"""Turning a dataset row's `audio` (an `Audio(decode=False)` value) into a waveform.

`datasets` 5 decodes audio through torchcodec, which needs FFmpeg libraries and an exactly matching
torch build; rows are therefore stored undecoded and decoded here with soundfile + soxr.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

from ..atomic import atomic_folder
from ..audio import AudioError, load_audio


def decode_audio(audio: Mapping, sampling_rate: int) -> np.ndarray:
    """`{"bytes": ..., "path": ...}` -> float32 mono waveform at `sampling_rate` (bytes win over path)."""
    if audio.get("bytes"):
        return load_audio(io.BytesIO(audio["bytes"]), sampling_rate)
    if audio.get("path"):
        return load_audio(audio["path"], sampling_rate)
    raise AudioError("the row has neither audio bytes nor a path")


def decode_split(rows, sampling_rate: int, progress: bool = True, desc: str = "decoding") -> list[np.ndarray]:
    """Every row's waveform at `sampling_rate`, in order (a progress bar for long splits)."""
    from tqdm.auto import tqdm

    audio = rows.select_columns(["audio"])
    return [decode_audio(row["audio"], sampling_rate) for row in tqdm(audio, desc=desc, disable=not progress)]


def save_dataset(dataset, out_dir) -> None:
    """`dataset.save_to_disk(out_dir)`, whole or absent: `datasets` writes its index file first, so a
    build stopped while saving in place would leave a folder that loads as if it were finished."""
    with atomic_folder(out_dir) as folder:
        dataset.save_to_disk(str(folder))


def rows_to_dataset(rows: list[dict]):
    """A `datasets.Dataset` in the project schema from dicts with `audio` ({"bytes", "path"}),
    `captions`, `audio_id`, `classes`, `source` and `license`.

    The Audio feature's encoder needs torchcodec, even for bytes: the column is built as a plain
    struct, then cast (an Arrow-level cast) to `Audio(decode=False)`.
    """
    from datasets import Audio, Dataset, Features, Sequence, Value

    features = Features(
        {
            "audio": {"bytes": Value("binary"), "path": Value("string")},
            "captions": Sequence(Value("string")),
            "audio_id": Value("string"),
            "classes": Sequence(Value("string")),
            "source": Value("string"),
            "license": Value("string"),
        }
    )
    columns = {name: [row[name] for row in rows] for name in features}
    return Dataset.from_dict(columns, features=features).cast_column("audio", Audio(decode=False))


def encode_flac(waveform: np.ndarray, sampling_rate: int) -> bytes:
    """A mono waveform as 16-bit FLAC bytes (lossless for 16-bit sources; samples clipped to [-1, 1],
    where a resampler's overshoot would otherwise wrap around)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(waveform, -1.0, 1.0), sampling_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def _reencoded(row: dict, sampling_rate: int) -> dict:
    try:
        waveform = decode_audio(row["audio"], sampling_rate)
    except AudioError as error:
        raise AudioError(f"clip {row['audio_id']!r}: {error}") from None
    name = (row["audio"].get("path") or row["audio_id"]).rsplit("/", 1)[-1]
    return {"audio": {"bytes": encode_flac(waveform, sampling_rate), "path": name.rsplit(".", 1)[0] + ".flac"}}


def store_at_rate(rows, sampling_rate: int, num_proc: int | None = None, cache_file_name: str | None = None):
    """`rows` (a split in the project schema) with every clip decoded, resampled to `sampling_rate`
    and stored as mono FLAC bytes, so that training decodes it without resampling. The other columns
    are kept as they are; `audio_id`s too, so a teacher cache built on the original still applies (its
    windows are in seconds)."""
    from datasets import Audio, Value

    # written as a plain struct (the Audio feature's encoder needs torchcodec, even for bytes), then
    # cast back; every file goes to `cache_file_name`'s folder, none into the original's
    features = rows.features.copy()
    features["audio"] = {"bytes": Value("binary"), "path": Value("string")}
    resampled = rows.map(
        _reencoded,
        fn_kwargs={"sampling_rate": sampling_rate},
        num_proc=num_proc,
        features=features,
        cache_file_name=cache_file_name,
        desc=f"storing at {sampling_rate} Hz",
    )
    return resampled.cast_column("audio", Audio(decode=False))
