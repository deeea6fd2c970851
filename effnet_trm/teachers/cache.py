"""Run a teacher once over a dataset and keep its outputs, so distillation never runs it again.

Per clip (and per fixed crop of clips longer than the teacher's window) the cache holds the
clip embedding and the beam-search pseudo-captions (the top beam in `caption`; every beam, then any
sampled captions, with their scores in `captions`, `caption_scores`, `caption_sources`), keyed by
`audio_id` and `crop_index`, with the
window's start and end in the clip: distillation crops the student's audio inside the window the
teacher heard, so the targets describe what the student hears. Work is
written in small Parquet shards as it goes: an interrupted run resumes where it stopped, computing
no clip twice and losing none. Clips that cannot be read are skipped, listed in `failures.json` and
summarised.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
            for index, (start, end) in enumerate(
                fixed_crops(len(waveform), teacher.sampling_rate, max_samples, crop_seconds)
            ):
                key = CacheKey(row["audio_id"], index)
                if key not in done:
                    pending.append(
                        (key, (start / teacher.sampling_rate, end / teacher.sampling_rate), waveform[start:end])
                    )
            while len(pending) >= batch_size:
                computed += _flush(teacher, pending[:batch_size], shard_dir, split, num_beams, num_samples)
                pending = pending[batch_size:]
        if pending:
            computed += _flush(teacher, pending, shard_dir, split, num_beams, num_samples)
    info = {
        "teacher_sampling_rate": teacher.sampling_rate,
        "embedding_dim": teacher.embedding_dim,
        "num_beams": num_beams,
        "num_samples": num_samples,
        "window_seconds": min(int(crop_seconds * teacher.sampling_rate), max_samples) / teacher.sampling_rate,
        "dataset": str(dataset_dir),
        "splits": list(splits),
    }
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    previous = json.loads((out_dir / FAILURES_FILE).read_text()) if (out_dir / FAILURES_FILE).exists() else {}
    (out_dir / FAILURES_FILE).write_text(json.dumps({**previous, **failures}, indent=2) + "\n")
    summary = {"computed": computed, "reused": len(done), "failed": len(failures)}
    logger.info("teacher cache %s: %s", out_dir, summary)
    return summary


def _flush(teacher: Teacher, items, shard_dir: Path, split: str, num_beams: int, num_samples: int) -> int:
    embeddings, hypotheses = teacher.embed_and_hypotheses(
        [wave for _, _, wave in items], num_beams=num_beams, num_samples=num_samples
    )
    records = [
        {
            "audio_id": key.audio_id,
            "crop_index": key.crop_index,
            "crop_start": start,
            "crop_end": end,
            "split": split,
            "caption": found[0].text,
            "captions": [h.text for h in found],
            "caption_scores": [h.score for h in found],
            "caption_sources": [h.source for h in found],
            "clip_embedding": embedding.tolist(),
        }
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


def _window_end(row: dict, windows_in_clip: int, window_seconds: float) -> float | None:
    """Caches written before `crop_end` was stored hold fixed `window_seconds` windows for long clips
    and the whole clip otherwise, as `fixed_crops` cuts them."""
    if row.get("crop_end") is not None:
        return row["crop_end"]
    return None if windows_in_clip == 1 else row["crop_start"] + window_seconds


def _targets(row: dict, windows_in_clip: int, window_seconds: float) -> TeacherTargets:
    return TeacherTargets(
        caption=row["caption"],
        clip_embedding=np.asarray(row["clip_embedding"], np.float32),
        start_seconds=float(row["crop_start"]),
        end_seconds=_window_end(row, windows_in_clip, window_seconds),
        # caches written before n-best caching hold the top beam only
        hypotheses=tuple(row.get("captions") or (row["caption"],)),
        scores=tuple(row.get("caption_scores") or (0.0,)),
    )


# The Parquet shards are compressed and small (one per teacher batch), so they cannot be mapped or
# searched. On first load they are copied once into one uncompressed Arrow file (memory-mapped by
# every process: the pages are the OS's, shared, and only those read are resident) plus an index of
# its rows sorted by (audio_id, crop_index), searched by bisection. Both are rebuilt when the shards
# change (a resumed or extended cache build).
ARROW_DIR = "arrow"
TARGETS_FILE = "targets.arrow"
INDEX_FILE = "index.arrow"
_MANIFEST_KEY = b"effnet_trm.shards"


def _manifest(shard_dir: Path) -> bytes:
    return json.dumps([[p.name, p.stat().st_size] for p in sorted(shard_dir.glob("*.parquet"))]).encode()


def _conform(table, schema):
    """`table` with `schema`'s columns: a shard written before a column existed gets nulls there."""
    import pyarrow as pa

    return pa.Table.from_arrays(
        [
            table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
            for f in schema
        ],
        schema=schema,
    )


def _write_atomically(path: Path, tables: Iterable, schema) -> None:
    """Write `tables` (an iterable, consumed one table at a time) as one Arrow IPC file at `path`."""
    import os

    import pyarrow as pa

    # several processes of one job may build the same files at once: each writes its own temporary
    # file and renames it (atomic), so a reader sees a whole file, never a half-written one
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for table in tables:
            writer.write_table(table)
    temporary.rename(path)


def _build_arrow(shard_dir: Path, arrow_dir: Path, manifest: bytes) -> None:
    """Copy the shards into TARGETS_FILE one at a time (memory: one shard) and write INDEX_FILE."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = sorted(shard_dir.glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(
            f"the teacher cache {shard_dir.parent} has no shards: build it with datasets_scripts/cache_teacher.py"
        )
    schema = pa.unify_schemas([pq.read_schema(s).remove_metadata() for s in shards], promote_options="permissive")
    arrow_dir.mkdir(exist_ok=True)
    keys: list[tuple[str, int, int]] = []  # (audio_id, crop_index, row)

    def conformed_shards():
        for shard in shards:
            table = _conform(pq.read_table(shard), schema)
            first_row = len(keys)
            for offset, (audio_id, crop) in enumerate(
                zip(table["audio_id"].to_pylist(), table["crop_index"].to_pylist())
            ):
                keys.append((audio_id, crop, first_row + offset))
            yield table

    _write_atomically(arrow_dir / TARGETS_FILE, conformed_shards(), schema)
    keys.sort()
    # a window computed twice (shards of an interrupted build) keeps its last row, as a dict would
    kept = [k for k, following in zip(keys, keys[1:] + [None]) if following is None or following[:2] != k[:2]]
    index = pa.table(
        {"audio_id": pa.array([k[0] for k in kept], pa.string()), "row": pa.array([k[2] for k in kept], pa.int64())}
    )
    index = index.replace_schema_metadata({_MANIFEST_KEY: manifest})
    _write_atomically(arrow_dir / INDEX_FILE, [index], index.schema)


def _read_mapped(path: Path):
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


class _Strings:
    """An Arrow string array as a sequence of `str`, for `bisect` (one element converted per probe)."""

    def __init__(self, array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> str:
        return self.array[index].as_py()


class TeacherCache(Mapping):
    """audio_id -> its windows' `TeacherTargets` (in window order), read on demand.

    Nothing is held per clip: lookups bisect a memory-mapped index and read the rows they need, so
    the memory of a process does not grow with the cache, and DataLoader workers share the pages.
    Pickles as its folder (a spawned worker maps the files again).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / INFO_FILE).exists():
            raise FileNotFoundError(
                f"{self.folder} is not a teacher cache (no {INFO_FILE}); build it with "
                "datasets_scripts/cache_teacher.py"
            )
        self.info = json.loads((self.folder / INFO_FILE).read_text())
        shard_dir, arrow_dir = self.folder / SHARD_DIR, self.folder / ARROW_DIR
        manifest = _manifest(shard_dir)
        index_file = arrow_dir / INDEX_FILE
        if not index_file.exists() or (_read_mapped(index_file).schema.metadata or {}).get(_MANIFEST_KEY) != manifest:
            _build_arrow(shard_dir, arrow_dir, manifest)
        index = _read_mapped(index_file)
        self._ids = index.column("audio_id").combine_chunks()
        self._index_rows = index.column("row").combine_chunks()
        self._table = _read_mapped(arrow_dir / TARGETS_FILE)
        self._window_seconds = self.info.get("window_seconds", 10.0)

    def __reduce__(self):
        return type(self), (self.folder,)

    def _span(self, audio_id: str) -> tuple[int, int]:
        ids = _Strings(self._ids)
        first = bisect.bisect_left(ids, audio_id)
        return first, bisect.bisect_right(ids, audio_id, lo=first)

    def __getitem__(self, audio_id: str) -> list[TeacherTargets]:
        first, end = self._span(audio_id)
        if first == end:
            raise KeyError(audio_id)
        # one zero-copy slice per window: `Table.take` would concatenate the table's chunks (one per
        # shard) first, reading the whole cache on every lookup
        rows = [self._table.slice(row, 1).to_pylist()[0] for row in self._index_rows[first:end].to_pylist()]
        return [_targets(row, len(rows), self._window_seconds) for row in rows]

    def __contains__(self, audio_id) -> bool:
        first, end = self._span(audio_id)
        return end > first

    def __iter__(self) -> Iterator[str]:
        previous = None
        for audio_id in self._ids.to_pylist():
            if audio_id != previous:
                yield audio_id
            previous = audio_id

    def __len__(self) -> int:
        import pyarrow.compute as pc

        return pc.count_distinct(self._ids).as_py()

    def missing(self, audio_ids: Iterable[str]) -> list[str]:
        """Those of `audio_ids` the cache has no targets for (one vectorised pass, no lookups)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        wanted = pa.array(list(audio_ids), pa.string())
        return wanted.filter(pc.invert(pc.is_in(wanted, value_set=self._ids))).to_pylist()

    @property
    def has_alternatives(self) -> bool:
        """Whether any window holds more than the top beam (n-best caching)."""
        import pyarrow.compute as pc

        if "captions" not in self._table.column_names:
            return False
        longest = pc.max(pc.list_value_length(self._table.column("captions"))).as_py()
        return (longest or 0) > 1


def load_teacher_cache(out_dir: str | Path) -> tuple[TeacherCache, dict]:
    """audio_id -> its windows' targets (in window order; a lazy `TeacherCache`), and the cache's info."""
    cache = TeacherCache(out_dir)
    return cache, cache.info


def cache_as_dataset(out_dir: str | Path):
    """The cache as a `datasets.Dataset` (for inspection, sharing or pushing to the Hub)."""
    from datasets import load_dataset

    return load_dataset("parquet", data_files=str(Path(out_dir) / SHARD_DIR / "*.parquet"), split="train")
