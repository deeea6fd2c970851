"""AudioCaps and Clotho v2.1 in the project schema, from local copies or streamed from the Hub.

Local layouts (as distributed):

- AudioCaps: `train.csv`, `val.csv`, `test.csv` with `audiocap_id,youtube_id,start_time,caption`
  (one row per caption) and audio files named by `youtube_id` (or `audiocap_id`) in a folder per
  split or one folder for all, any extension soundfile reads.
- Clotho v2.1: `clotho_captions_{development,validation,evaluation}.csv` with
  `file_name,caption_1..caption_5` and audio in `clotho_audio_{development,validation,evaluation}/`.

Rows are grouped per clip with all their captions; the original audio bytes are stored undecoded.
A clip whose audio is missing or unreadable is skipped, counted and logged, and the summary says so.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from .io import rows_to_dataset

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
AUDIOCAPS_SPLITS = {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}
CLOTHO_SPLITS = {"train": "development", "validation": "validation", "test": "evaluation"}


@dataclass
class SkipReport:
    """Clips left out and why (missing file, unreadable audio, ...)."""

    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, audio_id: str, reason: str) -> None:
        logger.warning("skipping %s: %s", audio_id, reason)
        self.skipped[audio_id] = reason

    def summary(self) -> str:
        return f"{len(self.skipped)} clips skipped" + (
            f" (e.g. {next(iter(self.skipped))}: {next(iter(self.skipped.values()))})" if self.skipped else ""
        )


def _find_audio(folder: Path, stem: str) -> Path | None:
    for extension in AUDIO_EXTENSIONS:
        candidate = folder / f"{stem}{extension}"
        if candidate.exists():
            return candidate
    return None


def _readable(path: Path) -> str | None:
    try:
        info = sf.info(str(path))
    except Exception as error:  # noqa: BLE001 - every failure is a reason to skip the clip
        return f"unreadable audio ({error})"
    return None if info.frames > 0 else "empty audio"


def _clip_row(audio_id: str, path: Path, captions: list[str], source: str, licence: str) -> dict:
    return {
        "audio": {"bytes": path.read_bytes(), "path": path.name},
        "captions": captions,
        "audio_id": audio_id,
        "classes": [],
        "source": source,
        "license": licence,
    }


def _build_split(entries: Iterable[tuple[str, Path | None, list[str]]], source: str, licence: str, report: SkipReport):
    rows = []
    for audio_id, path, captions in entries:
        if path is None:
            report.add(audio_id, "audio file not found")
            continue
        problem = _readable(path)
        if problem:
            report.add(audio_id, problem)
            continue
        rows.append(_clip_row(audio_id, path, captions, source, licence))
    return rows_to_dataset(rows)


def audiocaps_entries(root: Path, csv_name: str, audio_dirs: list[Path], id_column: str) -> Iterator:
    by_clip: dict[str, list[str]] = defaultdict(list)
    with (root / csv_name).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_clip[row[id_column]].append(row["caption"].strip())
    for audio_id in sorted(by_clip):
        path = next((p for folder in audio_dirs if (p := _find_audio(folder, audio_id))), None)
        yield audio_id, path, by_clip[audio_id]


def build_audiocaps(root: str | Path, id_column: str = "youtube_id"):
    """A DatasetDict (train/validation/test) from a local AudioCaps copy, and the skip report."""
    from datasets import DatasetDict

    root = Path(root)
    report = SkipReport()
    splits = {}
    for split, csv_name in AUDIOCAPS_SPLITS.items():
        stem = csv_name.removesuffix(".csv")
        audio_dirs = [
            d for d in (root / "audio" / stem, root / "audio" / split, root / "audio", root / stem) if d.is_dir()
        ]
        entries = audiocaps_entries(root, csv_name, audio_dirs, id_column)
        splits[split] = _build_split(entries, f"audiocaps/{csv_name}", "AudioCaps (YouTube; see its terms)", report)
    return DatasetDict(splits), report


def build_clotho(root: str | Path):
    """A DatasetDict (train/validation/test) from a local Clotho v2.1 copy, and the skip report."""
    from datasets import DatasetDict

    root = Path(root)
    report = SkipReport()
    splits = {}
    for split, name in CLOTHO_SPLITS.items():
        entries = []
        with (root / f"clotho_captions_{name}.csv").open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                captions = [row[f"caption_{i}"].strip() for i in range(1, 6) if row.get(f"caption_{i}")]
                path = root / f"clotho_audio_{name}" / row["file_name"]
                entries.append((row["file_name"], path if path.exists() else None, captions))
        splits[split] = _build_split(entries, f"clotho-v2.1/{name}", "Clotho v2.1 (Freesound, CC licences)", report)
    return DatasetDict(splits), report


def stream_hub_dataset(
    name: str,
    split: str,
    audio_column: str = "audio",
    caption_columns: tuple[str, ...] = ("caption",),
    id_column: str | None = None,
    config: str | None = None,
):
    """A Hub dataset streamed (`IterableDataset`) into the project schema, audio left undecoded."""
    from datasets import Audio, load_dataset

    stream = load_dataset(name, config, split=split, streaming=True)
    stream = stream.cast_column(audio_column, Audio(decode=False))

    def to_schema(example, index):
        captions = [
            c
            for column in caption_columns
            for c in (example[column] if isinstance(example[column], list) else [example[column]])
            if c
        ]
        audio = example[audio_column]
        return {
            "audio": {"bytes": audio.get("bytes"), "path": audio.get("path")},
            "captions": captions,
            "audio_id": str(example[id_column]) if id_column else f"{name}/{split}/{index}",
            "classes": [],
            "source": f"hub:{name}",
            "license": "",
        }

    return stream.map(to_schema, with_indices=True, remove_columns=list(stream.column_names or []))
