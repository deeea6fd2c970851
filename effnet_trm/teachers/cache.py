"""Run a teacher once over a dataset and keep its outputs, so distillation never runs it again.

Per clip (and per fixed crop of clips longer than the teacher's window) the cache holds the
beam-search pseudo-caption and the clip embedding, keyed by `audio_id` and `crop_index`. Work is
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
                    pending.append((key, start / teacher.sampling_rate, waveform[start:end]))
            while len(pending) >= batch_size:
                computed += _flush(teacher, pending[:batch_size], shard_dir, split, num_beams)
                pending = pending[batch_size:]
        if pending:
            computed += _flush(teacher, pending, shard_dir, split, num_beams)
    info = {"teacher_sampling_rate": teacher.sampling_rate, "embedding_dim": teacher.embedding_dim,
            "num_beams": num_beams, "dataset": str(dataset_dir), "splits": list(splits)}
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    previous = json.loads((out_dir / FAILURES_FILE).read_text()) if (out_dir / FAILURES_FILE).exists() else {}
    (out_dir / FAILURES_FILE).write_text(json.dumps({**previous, **failures}, indent=2) + "\n")
    summary = {"computed": computed, "reused": len(done), "failed": len(failures)}
    logger.info("teacher cache %s: %s", out_dir, summary)
    return summary


def _flush(teacher: Teacher, items, shard_dir: Path, split: str, num_beams: int) -> int:
    embeddings, captions = teacher.embed_and_caption([wave for _, _, wave in items], num_beams=num_beams)
    records = [
        {"audio_id": key.audio_id, "crop_index": key.crop_index, "crop_start": start, "split": split,
         "caption": caption, "clip_embedding": embedding.tolist()}
        for (key, start, _), caption, embedding in zip(items, captions, embeddings.clip.float().numpy())
    ]
    _write_shard(shard_dir, records)
    return len(records)


@dataclass
class TeacherTargets:
    """What the student is distilled towards, for one clip."""

    caption: str
    clip_embedding: np.ndarray


def load_teacher_cache(out_dir: str | Path) -> tuple[dict[str, list[TeacherTargets]], dict]:
    """audio_id -> its crops' targets (in crop order), and the cache's info."""
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    if not (out_dir / INFO_FILE).exists():
        raise FileNotFoundError(f"{out_dir} is not a teacher cache (no {INFO_FILE}); build it with "
                                "datasets_scripts/cache_teacher.py")
    targets: dict[str, dict[int, TeacherTargets]] = {}
    for shard in sorted((out_dir / SHARD_DIR).glob("*.parquet")):
        table = pq.read_table(shard).to_pydict()
        for audio_id, crop, caption, embedding in zip(table["audio_id"], table["crop_index"], table["caption"],
                                                      table["clip_embedding"]):
            targets.setdefault(audio_id, {})[crop] = TeacherTargets(caption, np.asarray(embedding, np.float32))
    ordered = {audio_id: [crops[i] for i in sorted(crops)] for audio_id, crops in targets.items()}
    return ordered, json.loads((out_dir / INFO_FILE).read_text())


def cache_as_dataset(out_dir: str | Path):
    """The cache as a `datasets.Dataset` (for inspection, sharing or pushing to the Hub)."""
    from datasets import load_dataset

    return load_dataset("parquet", data_files=str(Path(out_dir) / SHARD_DIR / "*.parquet"), split="train")
