"""Captioning audio with a trained model: batching, long recordings in segments, per-file errors.

`Captioner` is what the CLI, the Gradio app and the evaluation runner use::

    captioner = Captioner.from_pretrained("outputs/demo/student")   # or a Hub id
    captioner.caption([waveform_16k])                                # -> ["a dog barks ..."]
    for result in captioner.caption_files(["a.wav", "b.flac"]):     # -> CaptionResult per segment
        print(result.file, result.start, result.caption, result.confidence)

`caption()` is the model's output as it is. `caption_files()` and `caption_clips()` (the CLI, the Space)
also say how far to trust each caption (`effnet_trm.trust`): a clip with no audible sound is captioned
"silence" with a note instead of a story, and every caption comes with its score (the search's
length-normalised log-probability), a confidence level and, where YAMNet's AudioSet weights are on
disk, YAMNet's top classes and whether they agree with the caption's sound words.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from configuration_effnet_trm import EffNetTrmConfig
from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor
from modeling_effnet_trm import EffNetTrmForAudioCaptioning

from .audio import AudioError, load_audio
from .decoding import DEFAULT_SEARCH, fast_generate, fast_search_settings
from .optimize import check_quantization, optimize_for_inference
from .trust import (
    MIN_DESCRIBABLE_SECONDS,
    NEAR_SILENCE_DBFS,
    SILENCE_CAPTION,
    AudioSetJudge,
    AudioSetView,
    confidence_level,
    loudest_level_dbfs,
    present_yamnet_folder,
    silence_note,
)

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

#: Environment variable naming the default model (folder or Hub id), e.g. for a Space.
MODEL_ENV_VAR = "EFFNET_TRM_MODEL"
#: Where the README's main job leaves the distilled student.
DEFAULT_MODEL_DIR = "outputs/demo/student"
#: Recordings longer than this are split into segments when no segment length is given.
AUTO_SEGMENT_ABOVE_SECONDS = 30.0
DEFAULT_SEGMENT_SECONDS = 10.0
#: A trailing segment shorter than this is merged into the previous one.
MIN_SEGMENT_SECONDS = 1.0


class ModelNotFoundError(FileNotFoundError):
    """No model at the given place; the message says how to get one."""


def default_model() -> str:
    return os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR


def resolve_model(name_or_path: str | None) -> str:
    """The model to load: the argument, else $EFFNET_TRM_MODEL, else the main job's output folder.

    A local folder must hold a config.json; a string shaped like `owner/name` that is not a local
    path is taken as a Hub id. Anything else raises :class:`ModelNotFoundError` with instructions.
    """
    name = name_or_path or default_model()
    if os.path.isdir(name):
        if not os.path.exists(os.path.join(name, "config.json")):
            raise ModelNotFoundError(f"{name} has no config.json: not a saved EffNet-Trm model folder")
        return name
    if not os.path.exists(name) and _HUB_ID.fullmatch(name):
        return name
    raise ModelNotFoundError(
        f"no model found at {name!r}. Train the demo model with `make demo` (it writes {DEFAULT_MODEL_DIR}), "
        f"pass --model DIR_OR_HUB_ID, or set ${MODEL_ENV_VAR}."
    )


@dataclass
class CaptionResult:
    """One caption of one file (or of one segment of it). `error` is set instead when it failed.

    How far to trust it (`effnet_trm.trust`; a guide, not a guarantee): `silent` clips (no audible sound)
    are captioned "silence" and `note` says why; otherwise `score` is the caption's length-normalised
    log-probability under the search (None for sampled captions) and `confidence` its level ("high",
    "medium", "low"). Where YAMNet's weights are present, `audioset` lists its top AudioSet classes
    ("Dog 0.62") and `audioset_agrees` whether they name a sound the caption names (None: cannot say).
    `level_dbfs` is the RMS level of the clip's loudest 50 ms."""

    file: str
    caption: str | None = None
    start: float = 0.0
    end: float = 0.0
    segmented: bool = False
    candidates: list[str] = field(default_factory=list)
    silent: bool = False
    score: float | None = None
    confidence: str | None = None
    audioset: list[str] = field(default_factory=list)
    audioset_agrees: bool | None = None
    level_dbfs: float | None = None
    note: str | None = None
    warning: str | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None and value != []}

    #: The columns of `effnet-trm caption --csv`.
    CSV_FIELDS = (
        "file",
        "start",
        "end",
        "caption",
        "silent",
        "score",
        "confidence",
        "audioset",
        "audioset_agrees",
        "level_dbfs",
        "note",
        "error",
    )

    def csv_row(self) -> list:
        values = asdict(self)
        values["audioset"] = "; ".join(self.audioset)
        return ["" if values[name] is None else values[name] for name in self.CSV_FIELDS]


@functools.lru_cache(maxsize=2)
def _load_judge(folder: Path) -> AudioSetJudge:
    return AudioSetJudge.load(folder)


def split_segments(num_samples: int, sampling_rate: int, segment_seconds: float) -> list[tuple[int, int]]:
    """(start, end) sample ranges of consecutive segments; a short tail joins the previous segment."""
    size = int(round(segment_seconds * sampling_rate))
    if size <= 0:
        raise ValueError(f"segment length must be positive, got {segment_seconds} s")
    bounds = [(start, min(start + size, num_samples)) for start in range(0, num_samples, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < MIN_SEGMENT_SECONDS * sampling_rate:
        tail = bounds.pop()
        bounds[-1] = (bounds[-1][0], tail[1])
    return bounds


class Captioner:
    """A model, its tokenizer and feature extractor, and the generation settings to caption with."""

    def __init__(
        self,
        model: EffNetTrmForAudioCaptioning,
        tokenizer,
        feature_extractor: EffNetTrmFeatureExtractor | None = None,
        batch_size: int = 8,
        fast_search: bool = True,
        quantize: str | None = None,
        silence_check: bool = True,
        audioset: bool | str = "auto",
    ):
        """`fast_search=False` decodes every request with transformers' `generate` on `model` as it is;
        by default beam and greedy search run on a copy rewritten by `effnet_trm.optimize` (batch norms
        folded, q/k/v fused; `quantize="int8"` or `"fp16"`: smaller decoder weights, see `effnet_trm.optimize`).

        `silence_check=False`: `caption_files`/`caption_clips` caption silent clips too. `audioset`: YAMNet's
        second opinion (`effnet_trm.trust`) when its weights are on disk ("auto"), never (False), or
        always (True: raises when they are missing)."""
        check_quantization(quantize)  # here, not when the copy is first built
        if quantize and not fast_search:
            raise ValueError("quantize needs the fast search (fast_search=True)")
        self.model = model.eval()
        self.fast_search = fast_search
        self.quantize = quantize
        self._optimized_model = None
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor or EffNetTrmFeatureExtractor(model.config.sampling_rate)
        self.batch_size = batch_size
        self.silence_check = silence_check
        self.audioset = audioset

    @classmethod
    def from_pretrained(cls, name_or_path: str | None = None, device: str | None = None, **kwargs) -> Captioner:
        """Load a model folder or Hub id saved by this package (config, weights, tokenizer)."""
        name = resolve_model(name_or_path)
        try:
            model = EffNetTrmForAudioCaptioning.from_pretrained(name)
        except OSError as error:  # e.g. a Hub id while offline, or a missing weights file
            raise ModelNotFoundError(f"could not load the model {name!r}: {error}") from error
        if device:
            model.to(device)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(name)
        return cls(model, tokenizer, EffNetTrmFeatureExtractor(model.config.sampling_rate), **kwargs)

    @property
    def config(self) -> EffNetTrmConfig:
        return self.model.config

    @property
    def sampling_rate(self) -> int:
        return self.config.sampling_rate

    #: Class-level defaults, for subclasses that do not call `__init__` (the ONNX captioner).
    silence_check = True
    audioset: bool | str = "auto"

    @property
    def audioset_judge(self) -> AudioSetJudge | None:
        """YAMNet as a second opinion (`effnet_trm.trust.AudioSetJudge`), or None when it is off or, under
        "auto", its weights are not on disk. Loaded once per process."""
        if not self.audioset or self.sampling_rate != 16000:
            return None
        folder = present_yamnet_folder()
        if folder is None and self.audioset == "auto":
            return None
        if folder is None:
            from .audioset.fetch import yamnet_folder

            folder = yamnet_folder()
        return _load_judge(Path(folder))

    @torch.inference_mode()
    def generate_ids(self, waveforms: Sequence[np.ndarray], return_scores: bool = False, **generate_kwargs):
        """Token ids for a batch of 16 kHz waveforms: beam or greedy search by the fast search of
        `effnet_trm.decoding` (same captions as `generate`), anything else (sampling, ...) by `generate`.
        With `return_scores`: `(ids, scores)`, each caption's length-normalised log-probability (`generate`'s
        `sequences_scores`), or None for scores where the search has none (sampling)."""
        inputs = self.feature_extractor(list(waveforms), sampling_rate=self.sampling_rate, return_tensors="pt")
        inputs = inputs.to(self.model.device)
        requested = {**DEFAULT_SEARCH, **generate_kwargs}
        settings = fast_search_settings(self.model.generation_config, requested) if self.fast_search else None
        if settings is not None:
            return fast_generate(self.optimized_model, **inputs, return_scores=return_scores, **settings)
        if not return_scores:
            return self.model.generate(**inputs, **requested)
        output = self.model.generate(**inputs, **requested, output_scores=True, return_dict_in_generate=True)
        scores = getattr(output, "sequences_scores", None)
        return output.sequences, None if scores is None else scores.float().cpu()

    @property
    def optimized_model(self) -> EffNetTrmForAudioCaptioning:
        """The inference-only copy the fast search runs (built on first use; see `effnet_trm.optimize`)."""
        if self._optimized_model is None:
            self._optimized_model = optimize_for_inference(self.model, self.quantize)
        return self._optimized_model

    def caption(self, waveforms: Sequence[np.ndarray], num_return_sequences: int = 1, **generate_kwargs):
        """Captions for 16 kHz mono waveforms: a list of str, or of lists when `num_return_sequences` > 1."""
        return self.caption_with_scores(waveforms, num_return_sequences, **generate_kwargs)[0]

    def caption_with_scores(
        self, waveforms: Sequence[np.ndarray], num_return_sequences: int = 1, **generate_kwargs
    ) -> tuple[list, list]:
        """`(captions, scores)`: `caption()`'s captions and, in the same shape, each one's length-normalised
        log-probability under the search (None where the search has none: sampling)."""
        ids, scores = self.generate_ids(
            waveforms, num_return_sequences=num_return_sequences, return_scores=True, **generate_kwargs
        )
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        scores = [None] * len(texts) if scores is None else [float(score) for score in scores]
        if num_return_sequences == 1:
            return texts, scores
        step = num_return_sequences
        return [texts[i : i + step] for i in range(0, len(texts), step)], [
            scores[i : i + step] for i in range(0, len(scores), step)
        ]

    def caption_each(self, waveforms: Sequence[np.ndarray], with_scores: bool = False, **generate_kwargs) -> list:
        """`caption(waveforms)`, except that a clip that fails costs only its own result: if the batch
        raises, every clip is captioned alone, and a clip that still fails gets its exception in place
        of its caption. A clip's caption does not depend on its batch-mates (under int8 quantization, whose
        activation scales are per call, nearly: see `effnet_trm.optimize`), so the others are unchanged.
        `with_scores`: `(caption, score)` pairs in place of captions (see `caption_with_scores`)."""
        try:
            captions, scores = self.caption_with_scores(waveforms, **generate_kwargs)
            return list(zip(captions, scores)) if with_scores else list(captions)
        except Exception as error:  # noqa: BLE001 - any failure of one clip must not take the others down
            if len(waveforms) == 1:
                return [error]
            logger.warning(
                "captioning a batch of %d clips failed (%s); retrying them one by one", len(waveforms), one_line(error)
            )
            return [self.caption_each([waveform], with_scores, **generate_kwargs)[0] for waveform in waveforms]

    def inspect(self, result: CaptionResult, waveform: np.ndarray) -> AudioSetView | None:
        """Before captioning: the clip's level, YAMNet's top classes (where present) and, when the clip
        has no audible sound (`effnet_trm.trust.silence_note`), its verdict: caption "silence", `silent`
        and a `note`. Returns YAMNet's view, for `conclude`."""
        level = loudest_level_dbfs(waveform, self.sampling_rate)
        result.level_dbfs = round(level, 1)
        judge = self.audioset_judge
        view = judge.listen(waveform) if judge is not None else None
        if view is not None:
            result.audioset = [f"{name} {score:.2f}" for name, score in view.top]
        note = silence_note(level, view.silence if view is not None and view.hears_silence else None)
        if note and self.silence_check:
            result.silent, result.caption, result.note = True, SILENCE_CAPTION, note
        elif note:
            result.warning = note
        elif level < NEAR_SILENCE_DBFS:
            result.warning = f"very quiet: the loudest 50 ms is at {level:.0f} dBFS; the caption may describe noise"
        if not result.silent and len(waveform) < MIN_DESCRIBABLE_SECONDS * self.sampling_rate:
            result.warning = (
                f"only {len(waveform)} samples ({1000 * len(waveform) / self.sampling_rate:.1f} ms) of audio: "
                "too short to describe, the caption is a guess"
            )
        return view

    def conclude(
        self, result: CaptionResult, caption, score, view: AudioSetView | None, samples: int | None = None
    ) -> None:
        """After captioning: the caption (or candidates), its score, YAMNet's agreement, the confidence
        (always "low" for a clip of `samples` shorter than `MIN_DESCRIBABLE_SECONDS`)."""
        result.candidates = caption if isinstance(caption, list) else []
        result.caption = caption[0] if isinstance(caption, list) else caption
        result.score = None if score is None else round(score[0] if isinstance(score, list) else score, 4)
        judge = self.audioset_judge
        if view is not None and judge is not None:
            result.audioset_agrees = judge.agrees(result.caption, view)
        result.confidence = confidence_level(result.score)
        if result.confidence and samples is not None and samples < MIN_DESCRIBABLE_SECONDS * self.sampling_rate:
            result.confidence = "low"

    def caption_clips(self, waveforms: Sequence[np.ndarray], **generate_kwargs) -> list[CaptionResult]:
        """`CaptionResult`s (with the trust checks of `inspect`/`conclude`) for 16 kHz waveforms, in order;
        `file` is empty, and a clip whose captioning failed has `error` set."""
        pending = [(CaptionResult(file=""), np.asarray(waveform)) for waveform in waveforms]
        return list(self._caption_pending(pending, progress=False, **generate_kwargs))

    def caption_files(
        self,
        paths: Sequence[str],
        segment_seconds: float | None = None,
        progress: bool | None = None,
        max_seconds: float | None = None,
        **generate_kwargs,
    ) -> Iterator[CaptionResult]:
        """Caption files (results come back in input order, one per segment).

        A file that cannot be read (or, with `max_seconds`, is longer than that) or whose captioning
        fails yields a result with `error` set; the other files go on, with the captions they get alone.
        Recordings longer than 30 s are split into 10 s segments unless `segment_seconds` is given.
        """
        pending: list[tuple[CaptionResult, np.ndarray]] = []
        failed: list[CaptionResult] = []
        for path in paths:
            try:
                waveform = load_audio(path, self.sampling_rate, max_seconds=max_seconds)
            except AudioError as error:
                failed.append(CaptionResult(file=str(path), error=str(error)))
                continue
            except Exception as error:  # noqa: BLE001 - a decoder bug on one file must not end the run
                failed.append(CaptionResult(file=str(path), error=f"{path}: could not be read: {one_line(error)}"))
                continue
            seconds = waveform.size / self.sampling_rate
            length = segment_seconds or (DEFAULT_SEGMENT_SECONDS if seconds > AUTO_SEGMENT_ABOVE_SECONDS else None)
            bounds = split_segments(waveform.size, self.sampling_rate, length) if length else [(0, waveform.size)]
            for start, end in bounds:
                piece = waveform[start:end]
                result = CaptionResult(
                    file=str(path),
                    start=start / self.sampling_rate,
                    end=end / self.sampling_rate,
                    segmented=length is not None,
                )
                pending.append((result, piece))

        yield from self._caption_pending(pending, progress, **generate_kwargs)
        yield from failed

    def _caption_pending(self, pending, progress, **generate_kwargs) -> Iterator[CaptionResult]:
        views = {}
        for index, (result, piece) in enumerate(pending):
            try:
                views[index] = self.inspect(result, piece)
            except Exception as error:  # noqa: BLE001 - a failed check costs the check, not the caption
                logger.warning("checking %s failed: %s", result.file or f"clip {index}", one_line(error))
                views[index] = None
        # similar lengths batch together; the encoder runs equal lengths as one group
        order = sorted((i for i in range(len(pending)) if not pending[i][0].silent), key=lambda i: pending[i][1].size)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        show = progress if progress is not None else len(batches) > 1
        for batch in tqdm(batches, desc="captioning", unit="batch", disable=not show):
            captions = self.caption_each([pending[i][1] for i in batch], with_scores=True, **generate_kwargs)
            for index, caption in zip(batch, captions):
                result = pending[index][0]
                if isinstance(caption, Exception):
                    result.error = f"{result.file}: captioning failed: {one_line(caption)}"
                    continue
                self.conclude(result, *caption, views[index], len(pending[index][1]))
        yield from (result for result, _ in pending)


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`: an exception as one line of a per-file report."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
