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
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import torch

from ..data import decode_audio
from .data import AUDIO_ONLY_COLUMNS, Batch, ClipMaker, MixedBatches


def open_audio_only_stream(source: str, split: str, process_index: int = 0, num_processes: int = 1,
                           shuffle_buffer: int = 0, seed: int = 0):
    """This process's part of the pool `source` (a Hub dataset id or a local folder of data files),
    streamed, as `audio_id` + undecoded `audio` ({"bytes", "path"}: decoded by soundfile later)."""
    from datasets import Audio, load_dataset
    from datasets.distributed import split_dataset_by_node

    if (Path(source) / "dataset_dict.json").exists() or (Path(source) / "state.json").exists():
        raise ValueError(
            f"{source} is a save_to_disk folder: it is read memory-mapped, without streaming (set "
            "data.audio_only_streaming=false), or write it as Parquet files to stream it (Dataset.to_parquet, "
            "push_to_hub)")
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

    def __init__(self, batches: MixedBatches, stream, make_clip: ClipMaker, audio_only_batch_size: int):
        self.batches, self.stream, self.make_clip = batches, stream, make_clip
        self.clips_per_step = len(batches.share(audio_only_batch_size))
        self.num_streams: int | None = None
        self.states: dict[int, dict] = {}

    def steps(self, first: int, stop: int) -> "StreamedSteps":
        return StreamedSteps(self, first, stop, dict(self.states))

    def consumed(self, batch: Batch) -> None:
        stream, self.num_streams, state = batch.stream_position
        self.states[stream] = state

    def state_dict(self) -> dict:
        return {"num_processes": self.batches.num_processes, "num_streams": self.num_streams,
                "states": {str(k): v for k, v in self.states.items()}}

    def load_state_dict(self, state: dict, num_streams: int) -> None:
        # other counts split the pool into other streams: the saved positions would mean nothing
        if state["num_processes"] != self.batches.num_processes:
            raise ValueError(f"this run streamed its audio-only pool in {state['num_processes']} processes, now "
                             f"{self.batches.num_processes}: resume it with the same number of processes")
        if state["num_streams"] not in (None, num_streams):
            raise ValueError(
                f"this run streamed its audio-only pool as {state['num_streams']} streams (training.num_workers, or 1 "
                f"without workers), now {num_streams}: resume it with the same number of workers")
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
                raise RuntimeError(f"the audio-only stream {dataset} yielded no clip in a whole pass (in this worker: "
                                   "it may have fewer shards than processes x workers)")
            state, epoch = None, epoch + 1

    def batch(self, global_step: int, rows: Iterator[tuple[dict, dict]], stream: int, num_streams: int) -> Batch:
        labelled = self.batches.labelled_clips(global_step)
        audio_only, state = [], None
        rank = self.batches.process_index
        for slot in range(self.clips_per_step):
            row, state = next(rows)
            waveform = decode_audio(row["audio"], self.make_clip.sampling_rate)
            audio_only.append(self.make_clip(row["audio_id"], waveform, None, self.batches.clip_rng(4, global_step,
                                                                                                rank, slot)))
        batch = self.batches.collate(labelled + audio_only, len(labelled))
        batch.stream_position = (stream, num_streams, state)
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
