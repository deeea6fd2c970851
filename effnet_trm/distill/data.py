"""Training batches for distillation: labelled clips mixed with audio-only clips in every step.

Every batch is a pure function of (seed, epoch, step): which clips, which teacher window, which random
crop, which of the reference captions. That makes a resumed run see exactly the batches an
uninterrupted one would, whatever the number of DataLoader workers: item `g` of `MixedBatches` is
global step `g`, and the loader only decides which process computes it. (A streamed audio-only pool
is the exception: see `streaming.py`.)

Clips are decoded when a batch is made, inside the DataLoader's workers: memory does not grow with
the corpus (the rows are memory-mapped Arrow, the teacher cache too). `preload=True` decodes a split
up front instead, for tiny corpora whose decoding would otherwise dominate a step.

The student's crop always lies inside the window the teacher's targets were computed on (the whole
clip when it fits the teacher, else one of its fixed 10 s windows, drawn at random): L_seq and L_enc
then describe audio the student hears. With `crop_seconds` equal to the window, the two coincide.

Sequence KD's target is one of the teacher's cached captions for that window, drawn by
`choose_teacher_caption` (the top beam, as in the paper, or one of the n-best).

The audio-only split is opened with its `audio` and `audio_id` columns only: its human captions (the
demo corpus keeps them on disk) never reach the student.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..data import decode_audio, decode_split
from ..teachers.cache import TeacherCache, TeacherTargets
from ..tokenization import caption_labels

LABELLED_COLUMNS = ["audio_id", "audio", "captions"]
AUDIO_ONLY_COLUMNS = ["audio_id", "audio"]


#: How sequence KD picks a clip's target among the teacher's cached captions.
CAPTION_CHOICES = ("top1", "uniform", "score")


def choose_teacher_caption(
    targets: TeacherTargets, rule: str, rng: np.random.Generator, temperature: float = 1.0
) -> str:
    """`top1`: the top beam (the paper). `uniform`: any cached caption alike. `score`: by the softmax
    of the teacher's scores / `temperature` (likelier captions more often, the others sometimes):
    the student sees the spread of the teacher's beliefs instead of its single mode."""
    if rule == "top1" or not targets.has_alternatives:
        return targets.caption
    if rule == "uniform":
        return targets.hypotheses[int(rng.integers(len(targets.hypotheses)))]
    if rule == "score":
        logits = np.asarray(targets.scores, np.float64) / temperature
        weights = np.exp(logits - logits.max())
        return targets.hypotheses[int(rng.choice(len(weights), p=weights / weights.sum()))]
    raise ValueError(f"unknown sequence KD caption choice {rule!r}; expected one of {CAPTION_CHOICES}")


def check_teacher_alternatives(teacher: TeacherCache, rule: str, cache: str) -> None:
    """An n-best rule on a cache that holds the top beam only would silently be top-1: refuse it."""
    if rule != "top1" and not teacher.has_alternatives:
        raise ValueError(
            f"kd.sequence_kd_choice={rule!r} needs the teacher's n-best captions, but the cache {cache} holds one "
            "caption per clip (built before n-best caching, or with --num-beams 1): rebuild it with "
            "datasets_scripts/cache_teacher.py (every beam is kept; --num-samples adds sampled captions), "
            "or set kd.sequence_kd_choice=top1"
        )


def random_crop(waveform: np.ndarray, seconds: float, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random `seconds`-long piece of `waveform` (all of it when shorter)."""
    size = int(seconds * sampling_rate)
    if waveform.size <= size:
        return waveform
    start = int(rng.integers(0, waveform.size - size + 1))
    return waveform[start : start + size]


@dataclass
class Clip:
    audio_id: str
    waveform: np.ndarray
    caption: str | None  # a human caption, None for audio-only clips
    teacher: TeacherTargets | None
    teacher_caption: str | None = None  # sequence KD's target this step


@dataclass
class ClipMaker:
    """Turns one decoded clip into a training clip: the teacher's window (drawn at random when the
    clip has several), a random crop inside it, one of the human captions, the sequence KD target."""

    sampling_rate: int
    crop_seconds: float
    teacher: TeacherCache | None
    caption_choice: str = "top1"
    caption_temperature: float = 1.0

    def teacher_windows(self, audio_id: str) -> list[TeacherTargets]:
        try:
            return self.teacher[audio_id]
        except KeyError:
            raise KeyError(
                f"the teacher cache {self.teacher.folder} has no entry for clip {audio_id!r}: build it "
                "for this data with datasets_scripts/cache_teacher.py"
            ) from None

    def _window(self, targets: TeacherTargets, num_samples: int) -> tuple[int, int]:
        """The teacher's window in samples at the student's rate (clamped to the clip)."""
        start = min(round(targets.start_seconds * self.sampling_rate), num_samples - 1)
        end = num_samples if targets.end_seconds is None else round(targets.end_seconds * self.sampling_rate)
        return start, max(start + 1, min(end, num_samples))

    def __call__(
        self, audio_id: str, waveform: np.ndarray, captions: list[str] | None, rng: np.random.Generator
    ) -> Clip:
        targets = None
        if self.teacher is not None:
            windows = self.teacher_windows(audio_id)
            targets = windows[int(rng.integers(len(windows)))]
            start, end = self._window(targets, waveform.size)
            waveform = waveform[start:end]
        waveform = random_crop(waveform, self.crop_seconds, self.sampling_rate, rng)
        caption = captions[int(rng.integers(len(captions)))] if captions is not None else None
        teacher_caption = None
        if targets is not None:
            teacher_caption = choose_teacher_caption(targets, self.caption_choice, rng, self.caption_temperature)
        return Clip(audio_id, waveform, caption, targets, teacher_caption)


class ClipSource:
    """One split's clips at the student's rate, with random crops aligned to the teacher's windows.

    A clip is read (one memory-mapped row) and decoded when asked for; nothing per clip is kept
    unless `preload`, which decodes the whole split up front (tiny corpora only: about 640 kB per
    10 s clip).
    """

    def __init__(
        self,
        rows,
        labelled: bool,
        sampling_rate: int,
        crop_seconds: float,
        teacher: TeacherCache | None,
        preload: bool = False,
        caption_choice: str = "top1",
        caption_temperature: float = 1.0,
    ):
        self.rows = rows.select_columns(LABELLED_COLUMNS if labelled else AUDIO_ONLY_COLUMNS)
        self.labelled = labelled
        self.make_clip = ClipMaker(sampling_rate, crop_seconds, teacher, caption_choice, caption_temperature)
        if teacher is not None:
            missing = teacher.missing(self.rows["audio_id"])
            if missing:
                raise KeyError(
                    f"the teacher cache has no entry for {len(missing)} clips, e.g. {missing[:3]}: "
                    "build it for this split with datasets_scripts/cache_teacher.py"
                )
        self._waveforms = decode_split(self.rows, sampling_rate, progress=False) if preload else None

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, index: int, rng: np.random.Generator) -> Clip:
        row = self.rows[index]
        if self._waveforms is not None:
            waveform = self._waveforms[index]
        else:
            waveform = decode_audio(row["audio"], self.make_clip.sampling_rate)
        return self.make_clip(row["audio_id"], waveform, list(row["captions"]) if self.labelled else None, rng)


@lru_cache(maxsize=4)  # a step asks for the same permutation once per clip
def _epoch_order(seed: int, stream: int, cycle: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, stream, cycle]).permutation(size)


@dataclass
class Batch:
    input_values: torch.Tensor
    attention_mask: torch.Tensor
    num_labelled: int  #: the first rows are labelled, the rest audio-only
    labels: torch.Tensor | None  #: human captions of the labelled rows
    teacher_labels: torch.Tensor | None  #: teacher captions of every row
    teacher_embeddings: torch.Tensor | None
    audio_ids: list[str]

    #: where a streamed audio-only pool stood after this batch: (stream, streams, its state_dict)
    stream_position: tuple[int, int, dict] | None = None
    #: audio-only clips whose teacher targets a live teacher computes in the training process
    #: (`streaming.LiveTeacher`); until then the teacher fields are None
    live_teacher: object | None = None

    def _apply(self, function) -> Batch:
        return Batch(**{k: function(v) if isinstance(v, torch.Tensor) else v for k, v in self.__dict__.items()})

    def to(self, device) -> Batch:
        return self._apply(lambda tensor: tensor.to(device))

    def pin_memory(self) -> Batch:
        """Called by a DataLoader with pin_memory=True (a CUDA run): page-locked tensors copy faster."""
        return self._apply(torch.Tensor.pin_memory)


class MixedBatches(torch.utils.data.Dataset):
    """Item `g` is the batch of global step `g` (step `g % steps_per_epoch` of epoch
    `g // steps_per_epoch`): `labelled_batch_size` labelled clips (every labelled clip once per epoch)
    plus `audio_only_batch_size` audio-only clips (cycling through that split). With several
    processes, each computes its share of that global batch only.

    Index it with a sampler over the steps wanted (`range(first, stop)`); any number of workers
    gives the same batches.
    """

    def __init__(
        self,
        labelled: ClipSource,
        audio_only: ClipSource | None,
        tokenizer,
        feature_extractor,
        labelled_batch_size: int,
        audio_only_batch_size: int,
        seed: int,
        max_words: int = 20,
        process_index: int = 0,
        num_processes: int = 1,
    ):
        self.labelled, self.audio_only = labelled, audio_only
        self.tokenizer, self.feature_extractor = tokenizer, feature_extractor
        self.labelled_batch_size, self.audio_only_batch_size = labelled_batch_size, audio_only_batch_size
        self.seed, self.max_words = seed, max_words
        self.process_index, self.num_processes = process_index, num_processes

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.labelled) // self.labelled_batch_size)

    def labelled_indices(self, epoch: int, step: int) -> np.ndarray:
        order = _epoch_order(self.seed, 0, epoch, len(self.labelled))
        return order[step * self.labelled_batch_size : (step + 1) * self.labelled_batch_size]

    def audio_only_indices(self, global_step: int) -> list[int]:
        size, count = len(self.audio_only), self.audio_only_batch_size
        positions = range(global_step * count, (global_step + 1) * count)
        return [int(_epoch_order(self.seed, 1, p // size, size)[p % size]) for p in positions]

    def share(self, count: int) -> range:
        """The slots of a global batch's `count` clips that this process computes (data parallelism)."""
        return range(self.process_index, count, self.num_processes)

    def clip_rng(self, *key: int) -> np.random.Generator:
        # one generator per clip, not per step: a process draws only for the clips it decodes, and a
        # clip is the same whatever the number of processes
        return np.random.default_rng([self.seed, *key])

    def labelled_clips(self, global_step: int) -> list[Clip]:
        indices = self.labelled_indices(*divmod(global_step, self.steps_per_epoch))
        return [
            self.labelled.clip(int(indices[slot]), self.clip_rng(2, global_step, slot))
            for slot in self.share(len(indices))
        ]

    def audio_only_clips(self, global_step: int) -> list[Clip]:
        if self.audio_only is None or not self.audio_only_batch_size:
            return []
        indices = self.audio_only_indices(global_step)
        return [
            self.audio_only.clip(indices[slot], self.clip_rng(3, global_step, slot))
            for slot in self.share(len(indices))
        ]

    def __getitem__(self, global_step: int) -> Batch:
        labelled = self.labelled_clips(global_step)
        return self.collate(labelled + self.audio_only_clips(global_step), len(labelled))

    def collate(self, clips: list[Clip], num_labelled: int) -> Batch:
        inputs = self.feature_extractor([c.waveform for c in clips], sampling_rate=self.feature_extractor.sampling_rate)
        labels = (
            caption_labels(self.tokenizer, [c.caption for c in clips[:num_labelled]], self.max_words)
            if num_labelled
            else None
        )
        # a streamed batch with a live teacher has no targets for its audio-only clips yet: the
        # training process adds them (`streaming.LiveTeacher.complete`)
        has_teacher = all(c.teacher is not None for c in clips)
        return Batch(
            input_values=inputs["input_values"],
            attention_mask=inputs["attention_mask"],
            num_labelled=num_labelled,
            labels=labels,
            teacher_labels=caption_labels(self.tokenizer, [c.teacher_caption for c in clips], self.max_words)
            if has_teacher
            else None,
            teacher_embeddings=torch.from_numpy(np.stack([c.teacher.clip_embedding for c in clips]))
            if has_teacher
            else None,
            audio_ids=[c.audio_id for c in clips],
        )
