"""Audio-only clips streamed from a pool that is never written to local disk (a Hub dataset, or a
local folder of Parquet/Arrow files), as a `datasets.IterableDataset`.

The labelled half of a batch stays a pure function of the step (`MixedBatches.labelled_clips`). The
streamed half cannot be: a stream has no random access. What is kept instead:

- shards are split across processes (`split_dataset_by_node`) and, within a process, across the
  DataLoader's workers (datasets does this itself inside a worker): worker `w` of `W` reads stream `w`;
- step `g` always takes its audio-only clips from stream `g % W`, whatever step a loader starts at,
  so a run with per-epoch loaders and one with a single loader see the same batches;
- each batch carries its stream's `state_dict()` after it; the trainer keeps the latest one of every
  stream it has trained on and saves it with each checkpoint, and a resumed run continues each stream
  from there. With `shuffle_buffer=0` that resume is exact; a shuffle buffer's content is not saved
  (datasets refills it), so with a buffer the resumed stream differs from the uninterrupted one.
- a stream that ends starts its next pass (`set_epoch`): the audio-only half never runs out.

The batches depend on the number of processes and of workers (they decide the streams), so a run
resumes only with the same `training.num_workers` and process count.

The teacher's targets for streamed clips come from the cache by `audio_id`, or, for a pool too large
to cache, from a live teacher (`data.audio_only_live_teacher`, `LiveTeacher`): the workers decode each
clip at the teacher's rate and draw the student's crop there, so the teacher's window *is* the crop
(resampled once for the student), and the training process runs the teacher on those windows, on its
device, before the step. Beam search is deterministic and the caption choice is seeded by the step,
so a live run resumes as exactly as a cached one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import resample
from ..data import decode_audio
from ..teachers.base import Teacher
from ..teachers.cache import TeacherTargets
from ..tokenization import caption_labels
from .data import AUDIO_ONLY_COLUMNS, Batch, Clip, ClipMaker, MixedBatches, choose_teacher_caption, random_crop

#: beams of the live teacher's search: as many as the teacher cache keeps by default
LIVE_TEACHER_BEAMS = 3


def open_audio_only_stream(
    source: str, split: str, process_index: int = 0, num_processes: int = 1, shuffle_buffer: int = 0, seed: int = 0
):
    """This process's part of the pool `source` (a Hub dataset id or a local folder of data files),
    streamed, as `audio_id` + undecoded `audio` ({"bytes", "path"}: decoded by soundfile later)."""
    from datasets import Audio, load_dataset
    from datasets.distributed import split_dataset_by_node

    if (Path(source) / "dataset_dict.json").exists() or (Path(source) / "state.json").exists():
        raise ValueError(
            f"{source} is a save_to_disk folder: it is read memory-mapped, without streaming (set "
            "data.audio_only_streaming=false), or write it as Parquet files to stream it (Dataset.to_parquet, "
            "push_to_hub)"
        )
    dataset = load_dataset(source, split=split, streaming=True)
    dataset = dataset.select_columns(AUDIO_ONLY_COLUMNS).cast_column("audio", Audio(decode=False))
    if shuffle_buffer:
        dataset = dataset.shuffle(seed=seed, buffer_size=shuffle_buffer)
    return split_dataset_by_node(dataset, rank=process_index, world_size=num_processes)


def shards_per_process(dataset, num_processes: int) -> int:
    """How many shards each process's workers share (datasets splits by shard when the count divides,
    else every process reads every shard and keeps every `num_processes`-th clip)."""
    return dataset.num_shards // num_processes if dataset.num_shards % num_processes == 0 else dataset.num_shards


class StreamedBatches:
    """The batches of a run whose audio-only half is streamed: `MixedBatches`' labelled clips plus
    this process's share of `audio_only_batch_size` clips from the stream of the step.

    `steps(first, stop)` is what a DataLoader reads; `consumed(batch)` records where the streams stand
    after each trained batch, and `state_dict()` / `load_state_dict()` carry that through checkpoints.
    """

    def __init__(
        self,
        batches: MixedBatches,
        stream,
        make_clip: ClipMaker,
        audio_only_batch_size: int,
        live_teacher_rate: int | None = None,
    ):
        self.batches, self.stream, self.make_clip = batches, stream, make_clip
        #: the live teacher's sampling rate when it computes the streamed clips' targets (None: the cache)
        self.live_teacher_rate = live_teacher_rate
        self.clips_per_step = len(batches.share(audio_only_batch_size))
        self.num_streams: int | None = None
        self.states: dict[int, dict] = {}

    def steps(self, first: int, stop: int) -> StreamedSteps:
        return StreamedSteps(self, first, stop, dict(self.states))

    def consumed(self, batch: Batch) -> None:
        stream, self.num_streams, state = batch.stream_position
        self.states[stream] = state

    def state_dict(self) -> dict:
        return {
            "num_processes": self.batches.num_processes,
            "num_streams": self.num_streams,
            "states": {str(k): v for k, v in self.states.items()},
        }

    def load_state_dict(self, state: dict, num_streams: int) -> None:
        # other counts split the pool into other streams: the saved positions would mean nothing
        if state["num_processes"] != self.batches.num_processes:
            raise ValueError(
                f"this run streamed its audio-only pool in {state['num_processes']} processes, now "
                f"{self.batches.num_processes}: resume it with the same number of processes"
            )
        if state["num_streams"] not in (None, num_streams):
            raise ValueError(
                f"this run streamed its audio-only pool as {state['num_streams']} streams (training.num_workers, or 1 "
                f"without workers), now {num_streams}: resume it with the same number of workers"
            )
        self.num_streams = state["num_streams"]
        self.states = {int(k): v for k, v in state["states"].items()}

    def rows(self, state: dict | None) -> Iterator[tuple[dict, dict]]:
        """(row, the stream's state after it), pass after pass, from `state` on (None: the start). In a
        DataLoader worker, datasets gives this worker's shards only."""
        # a private copy: datasets keeps the epoch in shared memory, which forked workers (each on its
        # own pass) would otherwise overwrite for one another, and a loaded state would outlive this call
        dataset = copy.deepcopy(self.stream)
        epoch = state["epoch"] if state else 0
        while True:
            dataset.set_epoch(epoch)
            if state is not None:
                dataset.load_state_dict(state)
            produced = False
            for row in dataset:
                produced = True
                yield row, dataset.state_dict()
            if not produced and state is None:
                raise RuntimeError(
                    f"the audio-only stream {dataset} yielded no clip in a whole pass (in this worker: "
                    "it may have fewer shards than processes x workers)"
                )
            state, epoch = None, epoch + 1

    def batch(self, global_step: int, rows: Iterator[tuple[dict, dict]], stream: int, num_streams: int) -> Batch:
        labelled = self.batches.labelled_clips(global_step)
        audio_only, windows, state = [], [], None
        rank = self.batches.process_index
        for slot in range(self.clips_per_step):
            row, state = next(rows)
            rng = self.batches.clip_rng(4, global_step, rank, slot)
            if self.live_teacher_rate is None:
                waveform = decode_audio(row["audio"], self.make_clip.sampling_rate)
                audio_only.append(self.make_clip(row["audio_id"], waveform, None, rng))
                continue
            window = random_crop(
                decode_audio(row["audio"], self.live_teacher_rate),
                self.make_clip.crop_seconds,
                self.live_teacher_rate,
                rng,
            )
            windows.append(window)
            student_audio = resample(window, self.live_teacher_rate, self.make_clip.sampling_rate)
            audio_only.append(Clip(row["audio_id"], student_audio, caption=None, teacher=None))
        batch = self.batches.collate(labelled + audio_only, len(labelled))
        batch.stream_position = (stream, num_streams, state)
        if windows:
            batch.live_teacher = PendingTargets(
                windows,
                [clip.teacher_caption for clip in labelled],
                [clip.teacher.clip_embedding for clip in labelled],
                global_step,
                rank,
            )
        return batch


@dataclass
class PendingTargets:
    """What a streamed batch needs from the live teacher: the audio-only clips' windows at the
    teacher's rate (each exactly the student's crop), and the labelled rows' targets (from the cache),
    which come first in the batch."""

    windows: list[np.ndarray]
    labelled_captions: list[str]
    labelled_embeddings: list[np.ndarray]
    global_step: int
    process_index: int


class LiveTeacher:
    """Teacher targets for streamed audio-only clips, computed as their batches reach the training
    process (on its device) instead of read from a cache: for pools too large to run the teacher
    over first. Costs one teacher forward pass and beam search per clip and step.

    Sequence KD's target is drawn from the teacher's beams by the run's rule (`kd.sequence_kd_choice`)
    with a generator seeded by (seed, step, process, slot): the same batch always gets the same targets.
    """

    def __init__(
        self,
        teacher: Teacher,
        tokenizer,
        max_words: int,
        seed: int,
        caption_choice: str = "top1",
        caption_temperature: float = 1.0,
        num_beams: int = LIVE_TEACHER_BEAMS,
    ):
        self.teacher, self.tokenizer, self.max_words, self.seed = teacher, tokenizer, max_words, seed
        self.caption_choice, self.caption_temperature, self.num_beams = caption_choice, caption_temperature, num_beams

    @classmethod
    def from_pretrained(cls, folder: str, device, embedding_dim: int, crop_seconds: float, **kwargs) -> LiveTeacher:
        """The HTSAT-BART teacher in `folder` (teacher.pt + tokenizer, as `cache_teacher.py --teacher`
        takes), checked against the cache its labelled targets come from and the crop it must hear."""
        from ..teachers.htsat_bart import HTSATBartTeacher

        teacher = HTSATBartTeacher.from_pretrained(folder, device=str(device))
        if teacher.embedding_dim != embedding_dim:
            raise ValueError(
                f"the live teacher {folder} gives {teacher.embedding_dim}-d clip embeddings, the teacher "
                f"cache {embedding_dim}-d: the labelled and the streamed clips need the same teacher"
            )
        if teacher.max_samples and crop_seconds * teacher.sampling_rate > teacher.max_samples:
            raise ValueError(
                f"data.crop_seconds={crop_seconds} is longer than the live teacher's window "
                f"({teacher.max_samples / teacher.sampling_rate:.2f} s): it must hear the student's whole crop"
            )
        return cls(teacher, **kwargs)

    def complete(self, batch: Batch) -> Batch:
        """`batch` with the teacher's caption labels and clip embeddings for every row."""
        pending: PendingTargets = batch.live_teacher
        embeddings, hypotheses = self.teacher.embed_and_hypotheses(pending.windows, num_beams=self.num_beams)
        clip_embeddings = embeddings.clip.float().numpy()
        captions = []
        for slot, (found, embedding) in enumerate(zip(hypotheses, clip_embeddings)):
            targets = TeacherTargets(
                found[0].text, embedding, hypotheses=tuple(h.text for h in found), scores=tuple(h.score for h in found)
            )
            rng = np.random.default_rng([self.seed, 5, pending.global_step, pending.process_index, slot])
            captions.append(choose_teacher_caption(targets, self.caption_choice, rng, self.caption_temperature))
        batch.teacher_labels = caption_labels(self.tokenizer, pending.labelled_captions + captions, self.max_words)
        batch.teacher_embeddings = torch.from_numpy(np.stack(pending.labelled_embeddings + list(clip_embeddings)))
        batch.live_teacher = None
        return batch


class StreamedSteps(torch.utils.data.IterableDataset):
    """Global steps [first, stop) of a streamed run, for one DataLoader (any number of workers).

    Worker `w` of `W` computes the steps `g` with `g % W == w` from its stream. The DataLoader takes
    its workers' items in turn from worker 0, so when `first % W != 0` the steps before `first` in
    that round are yielded as None (no work), which the training loop skips: that keeps the items in
    step order and every step on its own stream.
    """

    def __init__(self, streamed: StreamedBatches, first: int, stop: int, states: dict[int, dict]):
        self.streamed, self.first, self.stop, self.states = streamed, first, stop, states

    def __iter__(self) -> Iterator[Batch | None]:
        info = torch.utils.data.get_worker_info()
        stream, num_streams = (info.id, info.num_workers) if info else (0, 1)
        rows = self.streamed.rows(self.states.get(stream))
        for global_step in range(self.first - self.first % num_streams + stream, self.stop, num_streams):
            yield None if global_step < self.first else self.streamed.batch(global_step, rows, stream, num_streams)
