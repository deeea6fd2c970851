"""Run a teacher once over a dataset and keep its outputs, so distillation never runs it again.

Per clip (and per fixed crop of clips longer than the teacher's window) the cache holds the
clip embedding and the beam-search pseudo-captions (the top beam in `caption`; every beam, then any
sampled captions, with their scores in `captions`, `caption_scores`, `caption_sources`), keyed by `audio_id` and `crop_index`, with the
window's start and end in the clip: distillation crops the student's audio inside the window the
teacher heard, so the targets describe what the student hears. Work is
written in small Parquet shards as it goes: an interrupted run resumes where it stopped, computing
no clip twice and losing none. Clips that cannot be read are skipped, listed in `failures.json` and
summarised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..audio import AudioError
from ..data import decode_audio
from .base import Teacher

logger = logging.getLogger(__name__)

SHARD_DIR = "shards"
INFO_FILE = "info.json"
FAILURES_FILE = "failures.json"


@dataclass(frozen=True)
class CacheKey:
    audio_id: str
    crop_index: int


def fixed_crops(num_samples: int, sampling_rate: int, max_samples: int, crop_seconds: float) -> list[tuple[int, int]]:
    """(start, end) of the fixed crops of a clip: the whole clip if it fits the teacher, else
    consecutive `crop_seconds` windows (the last one ending at the clip's end)."""
    if num_samples <= max_samples:
        return [(0, num_samples)]
    size = min(int(crop_seconds * sampling_rate), max_samples)
    starts = list(range(0, num_samples - size + 1, size))
    if starts[-1] + size < num_samples:
        starts.append(num_samples - size)
    return [(start, start + size) for start in starts]


def _done_keys(shard_dir: Path) -> set[CacheKey]:
    import pyarrow.parquet as pq

    done = set()
    for shard in sorted(shard_dir.glob("*.parquet")):
        table = pq.read_table(shard, columns=["audio_id", "crop_index"]).to_pydict()
        done.update(CacheKey(a, c) for a, c in zip(table["audio_id"], table["crop_index"]))
    return done


def _write_shard(shard_dir: Path, records: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = len(list(shard_dir.glob("*.parquet")))
    temporary = shard_dir / f".{index:06d}.parquet.tmp"
    pq.write_table(pa.Table.from_pylist(records), temporary)
    temporary.rename(shard_dir / f"{index:06d}.parquet")  # a shard is either whole or absent


def build_teacher_cache(
    teacher: Teacher,
    dataset_dir: str,
    out_dir: str | Path,
    splits: Sequence[str] = ("train", "audio_only"),
    batch_size: int = 16,
    crop_seconds: float = 10.0,
    num_beams: int = 3,
    num_samples: int = 0,
) -> dict:
    """Fill (or complete) the cache in `out_dir`; returns a summary dict (computed, reused, failed)."""
    from datasets import load_from_disk

    out_dir = Path(out_dir)
    shard_dir = out_dir / SHARD_DIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    done = _done_keys(shard_dir)
    max_samples = teacher.max_samples or int(crop_seconds * teacher.sampling_rate)
    corpus = load_from_disk(dataset_dir)
    failures: dict[str, str] = {}
    computed = 0
    for split in splits:
        rows = corpus[split].select_columns(["audio_id", "audio"])  # the cache never reads captions
        pending: list[tuple[CacheKey, float, np.ndarray]] = []
        for row in tqdm(rows, desc=f"teacher cache: {split}", unit="clip"):
            if CacheKey(row["audio_id"], 0) in done:
                continue
            try:
                waveform = decode_audio(row["audio"], teacher.sampling_rate)
            except AudioError as error:
                failures[row["audio_id"]] = str(error)
                continue
            for index, (start, end) in enumerate(fixed_crops(len(waveform), teacher.sampling_rate, max_samples,
                                                             crop_seconds)):
                key = CacheKey(row["audio_id"], index)
                if key not in done:
                    pending.append((key, (start / teacher.sampling_rate, end / teacher.sampling_rate),
                                    waveform[start:end]))
            while len(pending) >= batch_size:
                computed += _flush(teacher, pending[:batch_size], shard_dir, split, num_beams, num_samples)
                pending = pending[batch_size:]
        if pending:
            computed += _flush(teacher, pending, shard_dir, split, num_beams, num_samples)
    info = {"teacher_sampling_rate": teacher.sampling_rate, "embedding_dim": teacher.embedding_dim,
            "num_beams": num_beams, "num_samples": num_samples, "window_seconds": min(int(crop_seconds * teacher.sampling_rate), max_samples)
            / teacher.sampling_rate, "dataset": str(dataset_dir), "splits": list(splits)}
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    previous = json.loads((out_dir / FAILURES_FILE).read_text()) if (out_dir / FAILURES_FILE).exists() else {}
    (out_dir / FAILURES_FILE).write_text(json.dumps({**previous, **failures}, indent=2) + "\n")
    summary = {"computed": computed, "reused": len(done), "failed": len(failures)}
    logger.info("teacher cache %s: %s", out_dir, summary)
    return summary


def _flush(teacher: Teacher, items, shard_dir: Path, split: str, num_beams: int, num_samples: int) -> int:
    embeddings, hypotheses = teacher.embed_and_hypotheses([wave for _, _, wave in items], num_beams=num_beams,
                                                          num_samples=num_samples)
    records = [
        {"audio_id": key.audio_id, "crop_index": key.crop_index, "crop_start": start, "crop_end": end,
         "split": split, "caption": found[0].text, "captions": [h.text for h in found],
         "caption_scores": [h.score for h in found], "caption_sources": [h.source for h in found],
         "clip_embedding": embedding.tolist()}
        for (key, (start, end), _), found, embedding in zip(items, hypotheses, embeddings.clip.float().numpy())
    ]
    _write_shard(shard_dir, records)
    return len(records)


@dataclass
class TeacherTargets:
    """What the student is distilled towards, for one window of a clip (the whole clip when it fits)."""

    caption: str  #: the top beam
    clip_embedding: np.ndarray
    start_seconds: float = 0.0  #: where the teacher's window starts in the clip
    end_seconds: float | None = None  #: where it ends; None: at the clip's end
    hypotheses: tuple[str, ...] = ()  #: every beam (best first), then sampled captions; () in old caches
    scores: tuple[float, ...] = ()  #: their scores (length-normalised log-probabilities)

    @property
    def has_alternatives(self) -> bool:
        return len(self.hypotheses) > 1


def _rows(shard_dir: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for shard in sorted(shard_dir.glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]


def _window_end(row: dict, windows_in_clip: int, window_seconds: float) -> float | None:
    """Caches written before `crop_end` was stored hold fixed `window_seconds` windows for long clips
    and the whole clip otherwise, as `fixed_crops` cuts them."""
    if row.get("crop_end") is not None:
        return row["crop_end"]
    return None if windows_in_clip == 1 else row["crop_start"] + window_seconds


def load_teacher_cache(out_dir: str | Path) -> tuple[dict[str, list[TeacherTargets]], dict]:
    """audio_id -> its windows' targets (in window order), and the cache's info."""
    out_dir = Path(out_dir)
    if not (out_dir / INFO_FILE).exists():
        raise FileNotFoundError(f"{out_dir} is not a teacher cache (no {INFO_FILE}); build it with "
                                "datasets_scripts/cache_teacher.py")
    info = json.loads((out_dir / INFO_FILE).read_text())
    by_clip: dict[str, dict[int, dict]] = {}
    for row in _rows(out_dir / SHARD_DIR):
        by_clip.setdefault(row["audio_id"], {})[row["crop_index"]] = row
    targets = {}
    for audio_id, windows in by_clip.items():
        targets[audio_id] = [
            TeacherTargets(
                caption=row["caption"],
                clip_embedding=np.asarray(row["clip_embedding"], np.float32),
                start_seconds=float(row["crop_start"]),
                end_seconds=_window_end(row, len(windows), info.get("window_seconds", 10.0)),
                # caches written before n-best caching hold the top beam only
                hypotheses=tuple(row.get("captions") or (row["caption"],)),
                scores=tuple(row.get("caption_scores") or (0.0,)),
            )
            for row in (windows[i] for i in sorted(windows))
        ]
    return targets, info


def cache_as_dataset(out_dir: str | Path):
    """The cache as a `datasets.Dataset` (for inspection, sharing or pushing to the Hub)."""
    from datasets import load_dataset

    return load_dataset("parquet", data_files=str(Path(out_dir) / SHARD_DIR / "*.parquet"), split="train")
