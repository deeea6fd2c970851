"""Training batches for distillation: labelled clips mixed with audio-only clips in every step.

Every batch is a pure function of (seed, epoch, step): which clips, which teacher window, which random
crop, which of the reference captions. That makes a resumed run see exactly the batches an
uninterrupted one would, whatever the number of DataLoader workers.

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

import numpy as np
import torch

from ..data import decode_audio
from ..teachers.cache import TeacherTargets
from ..tokenization import caption_labels

LABELLED_COLUMNS = ["audio_id", "audio", "captions"]
AUDIO_ONLY_COLUMNS = ["audio_id", "audio"]


#: How sequence KD picks a clip's target among the teacher's cached captions.
CAPTION_CHOICES = ("top1", "uniform", "score")


def choose_teacher_caption(targets: TeacherTargets, rule: str, rng: np.random.Generator,
                           temperature: float = 1.0) -> str:
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


def check_teacher_alternatives(teacher: dict[str, list[TeacherTargets]], rule: str, cache: str) -> None:
    """An n-best rule on a cache that holds the top beam only would silently be top-1: refuse it."""
    if rule != "top1" and not any(t.has_alternatives for windows in teacher.values() for t in windows):
        raise ValueError(
            f"kd.sequence_kd_choice={rule!r} needs the teacher's n-best captions, but the cache {cache} holds one "
            "caption per clip (built before n-best caching, or with --num-beams 1): rebuild it with "
            "datasets_scripts/cache_teacher.py (every beam is kept; --num-samples adds sampled captions), "
            "or set kd.sequence_kd_choice=top1"
        )


@dataclass
class Clip:
    audio_id: str
    waveform: np.ndarray
    caption: str | None  # a human caption, None for audio-only clips
    teacher: TeacherTargets | None
    teacher_caption: str | None = None  # sequence KD's target this step


class ClipSource:
    """One split's clips at the student's rate, with random crops aligned to the teacher's windows."""

    def __init__(self, rows, labelled: bool, sampling_rate: int, crop_seconds: float,
                 teacher: dict[str, list[TeacherTargets]] | None, preload: bool = True,
                 caption_choice: str = "top1", caption_temperature: float = 1.0):
        self.rows = rows.select_columns(LABELLED_COLUMNS if labelled else AUDIO_ONLY_COLUMNS)
        self.labelled = labelled
        self.sampling_rate = sampling_rate
        self.crop = int(crop_seconds * sampling_rate)
        self.teacher = teacher
        self.caption_choice, self.caption_temperature = caption_choice, caption_temperature
        self.audio_ids = list(self.rows["audio_id"])
        self.captions = [list(c) for c in self.rows["captions"]] if labelled else None
        if teacher is not None:
            missing = [a for a in self.audio_ids if a not in teacher]
            if missing:
                raise KeyError(f"the teacher cache has no entry for {len(missing)} clips, e.g. {missing[:3]}: "
                               "build it for this split with datasets_scripts/cache_teacher.py")
        self._waveforms = [self._decode(i) for i in range(len(self.rows))] if preload else None

    def __len__(self) -> int:
        return len(self.audio_ids)

    def _decode(self, index: int) -> np.ndarray:
        return decode_audio(self.rows[index]["audio"], self.sampling_rate)

    def _window(self, targets: TeacherTargets, num_samples: int) -> tuple[int, int]:
        """The teacher's window in samples at the student's rate (clamped to the clip)."""
        start = min(round(targets.start_seconds * self.sampling_rate), num_samples - 1)
        end = num_samples if targets.end_seconds is None else round(targets.end_seconds * self.sampling_rate)
        return start, max(start + 1, min(end, num_samples))

    def clip(self, index: int, rng: np.random.Generator) -> Clip:
        waveform = self._waveforms[index] if self._waveforms is not None else self._decode(index)
        targets = None
        if self.teacher is not None:
            windows = self.teacher[self.audio_ids[index]]
            targets = windows[int(rng.integers(len(windows)))]
            start, end = self._window(targets, waveform.size)
            waveform = waveform[start:end]
        if waveform.size > self.crop:
            start = int(rng.integers(0, waveform.size - self.crop + 1))
            waveform = waveform[start : start + self.crop]
        caption = self.captions[index][int(rng.integers(len(self.captions[index])))] if self.labelled else None
        teacher_caption = None
        if targets is not None:
            teacher_caption = choose_teacher_caption(targets, self.caption_choice, rng, self.caption_temperature)
        return Clip(self.audio_ids[index], waveform, caption, targets, teacher_caption)


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

    def to(self, device) -> "Batch":
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.__dict__.items()}
        return Batch(**moved)


class MixedBatches(torch.utils.data.Dataset):
    """Item `k` is step `k` of epoch `epoch`: `labelled_batch_size` labelled clips (every labelled clip
    once per epoch) plus `audio_only_batch_size` audio-only clips (cycling through that split)."""

    def __init__(self, labelled: ClipSource, audio_only: ClipSource | None, tokenizer, feature_extractor,
                 labelled_batch_size: int, audio_only_batch_size: int, seed: int, max_words: int = 20,
                 process_index: int = 0, num_processes: int = 1):
        self.labelled, self.audio_only = labelled, audio_only
        self.tokenizer, self.feature_extractor = tokenizer, feature_extractor
        self.labelled_batch_size, self.audio_only_batch_size = labelled_batch_size, audio_only_batch_size
        self.seed, self.max_words = seed, max_words
        self.process_index, self.num_processes = process_index, num_processes
        self.epoch = 0
        self.start_step = 0

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.labelled) // self.labelled_batch_size)

    def __len__(self) -> int:
        return self.steps_per_epoch - self.start_step

    def labelled_indices(self, epoch: int, step: int) -> np.ndarray:
        order = _epoch_order(self.seed, 0, epoch, len(self.labelled))
        return order[step * self.labelled_batch_size : (step + 1) * self.labelled_batch_size]

    def audio_only_indices(self, global_step: int) -> list[int]:
        size, count = len(self.audio_only), self.audio_only_batch_size
        positions = range(global_step * count, (global_step + 1) * count)
        return [int(_epoch_order(self.seed, 1, p // size, size)[p % size]) for p in positions]

    def __getitem__(self, item: int) -> Batch:
        step = self.start_step + item
        global_step = self.epoch * self.steps_per_epoch + step
        rng = np.random.default_rng([self.seed, 2, global_step])
        clips = [self.labelled.clip(int(i), rng) for i in self.labelled_indices(self.epoch, step)]
        num_labelled = len(clips)
        if self.audio_only is not None and self.audio_only_batch_size:
            clips += [self.audio_only.clip(i, rng) for i in self.audio_only_indices(global_step)]
        # data parallelism: each process takes its share of the labelled and of the audio-only clips
        share = clips[:num_labelled][self.process_index :: self.num_processes]
        rest = clips[num_labelled:][self.process_index :: self.num_processes]
        return self.collate(share + rest, len(share))

    def collate(self, clips: list[Clip], num_labelled: int) -> Batch:
        inputs = self.feature_extractor([c.waveform for c in clips], sampling_rate=self.feature_extractor.sampling_rate)
        labels = caption_labels(self.tokenizer, [c.caption for c in clips[:num_labelled]], self.max_words) \
            if num_labelled else None
        has_teacher = clips[0].teacher is not None
        return Batch(
            input_values=inputs["input_values"],
            attention_mask=inputs["attention_mask"],
            num_labelled=num_labelled,
            labels=labels,
            teacher_labels=caption_labels(self.tokenizer, [c.teacher_caption for c in clips], self.max_words)
            if has_teacher else None,
            teacher_embeddings=torch.from_numpy(np.stack([c.teacher.clip_embedding for c in clips]))
            if has_teacher else None,
            audio_ids=[c.audio_id for c in clips],
        )
