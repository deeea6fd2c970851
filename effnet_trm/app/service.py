"""What the Space does, without the UI: load and check uploads, caption them (per segment for long
recordings), draw the log-mel spectrogram the model sees. Every user-facing failure is a
`UserInputError` with a readable message; the UI shows it in the page."""

from __future__ import annotations

import functools
import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import AudioError, load_audio
from ..inference import DEFAULT_SEGMENT_SECONDS, Captioner, ModelNotFoundError, split_segments

logger = logging.getLogger(__name__)

#: Limits on what one request may bring.
MAX_UPLOAD_MB = 50
MAX_DURATION_SECONDS = 600.0
MAX_FILES_PER_REQUEST = 20
#: Recordings longer than this are captioned per 10 s segment.
SEGMENT_ABOVE_SECONDS = 12.0


class UserInputError(ValueError):
    """Something about the request the user can fix; the message is shown in the page."""


def size_problem(path: str) -> str | None:
    """Why the file at `path` is over the upload limit, or None. (Gradio refuses larger uploads itself;
    this also covers files passed by path.)"""
    try:
        size_mb = os.path.getsize(path) / 1e6
    except OSError:  # missing or unreadable: the audio loader says which
        return None
    return f"The file is {size_mb:.0f} MB; the limit is {MAX_UPLOAD_MB} MB." if size_mb > MAX_UPLOAD_MB else None


@dataclass
class CaptionOutput:
    captions: list[str]  # one per candidate (first = best)
    segments: list[list]  # [start, end, caption, confidence] rows when the recording was split, else one row
    spectrogram: np.ndarray  # an RGB image
    seconds: float  # inference time
    duration: float
    confidence: str = ""  # how far to trust the (first segment's) caption, in words (see `trust_text`)


def trust_text(result) -> str:
    """A `CaptionResult`'s trust checks in words, for the page: "no audible sound ..." for a silent clip,
    else "low (score -1.02); YAMNet hears Dog 0.62, Bark 0.40: agrees". A guide, not a guarantee."""
    if result.silent:
        return result.note or "no audible sound"
    if result.confidence is None:
        return "no score for sampled captions"
    text = f"{result.confidence} (score {result.score:.2f})"
    if result.audioset:
        verdict = {True: "agrees", False: "disagrees", None: "cannot say"}[result.audioset_agrees]
        text += f"; YAMNet hears {', '.join(result.audioset[:3])}: {verdict}"
    if result.warning:
        text += f"; {result.warning}"
    return text


#: The name of the one thread that runs all model work (see `on_inference_thread`).
INFERENCE_THREAD = "effnet-trm-inference"


def on_inference_thread(method):
    """Run a `CaptionService` method on the service's one inference thread, whichever thread calls it.

    Gradio calls handlers from a pool of worker threads that come and go. glibc gives threads their
    own malloc arenas, and each arena keeps the high-water mark of the audio and tensor buffers freed
    in it, so the server's memory grew with every new worker thread (`benchmarks/space_load.py`: +70-135
    MiB a round, still growing after 4). With all decoding, inference and drawing on one thread, one
    arena serves them and memory stays flat (docs/reliability.md, "The Space under load").
    """

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if threading.current_thread().name.startswith(INFERENCE_THREAD):
            return method(self, *args, **kwargs)
        return self.inference_thread.submit(method, self, *args, **kwargs).result()

    return run


class CaptionService:
    def __init__(self, captioner: Captioner | None, problem: str | None = None):
        self.captioner = captioner
        self.problem = problem
        self.inference_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=INFERENCE_THREAD)

    @classmethod
    def load(cls, model: str | None) -> CaptionService:
        """Load the model; if there is none, keep the reason so the page can explain how to get one."""
        from ..export.onnx import load_captioner  # ONNX export folders too

        try:
            return cls(load_captioner(model))
        except ModelNotFoundError as error:
            return cls(None, str(error))

    def _require_model(self) -> Captioner:
        if self.captioner is None:
            raise UserInputError(f"No model is loaded. {self.problem}")
        return self.captioner

    def load_upload(self, path: str | None) -> np.ndarray:
        captioner = self._require_model()
        if not path:
            raise UserInputError("Upload or record some audio first.")
        if problem := size_problem(path):
            raise UserInputError(problem)
        try:  # the duration limit is checked before decoding: a small file can hold hours of audio
            return load_audio(path, captioner.sampling_rate, max_seconds=MAX_DURATION_SECONDS)
        except AudioError as error:
            raise UserInputError(f"Could not read {Path(path).name}: {str(error).split(': ', 1)[-1]}") from None

    @staticmethod
    def generation_settings(num_beams: int, decoding: str, num_candidates: int) -> dict:
        num_beams, num_candidates = int(num_beams), int(num_candidates)
        if decoding == "sampling":
            return {"do_sample": True, "num_beams": 1, "top_p": 0.9, "num_return_sequences": num_candidates}
        if decoding == "greedy":
            return {"do_sample": False, "num_beams": 1, "num_return_sequences": 1}
        return {"do_sample": False, "num_beams": max(num_beams, num_candidates), "num_return_sequences": num_candidates}

    @on_inference_thread
    def caption(
        self, path: str | None, num_beams: int = 3, decoding: str = "beam search", num_candidates: int = 1
    ) -> CaptionOutput:
        captioner = self._require_model()
        waveform = self.load_upload(path)
        rate = captioner.sampling_rate
        settings = self.generation_settings(num_beams, decoding, num_candidates)
        duration = waveform.size / rate
        bounds = (
            split_segments(waveform.size, rate, DEFAULT_SEGMENT_SECONDS)
            if duration > SEGMENT_ABOVE_SECONDS
            else [(0, waveform.size)]
        )
        started = time.perf_counter()
        results = captioner.caption_clips([waveform[a:b] for a, b in bounds], **settings)
        failed = next((result.error for result in results if result.error), None)
        if failed:
            logger.error("captioning %s failed: %s", path, failed)
            raise UserInputError(f"Captioning {Path(path).name} failed: {failed.split(': ', 2)[-1]}")
        seconds = time.perf_counter() - started
        segments = [
            [round(a / rate, 2), round(b / rate, 2), result.caption, trust_text(result)]
            for (a, b), result in zip(bounds, results)
        ]
        candidates = results[0].candidates or [results[0].caption]
        image = self.spectrogram(waveform[: bounds[0][1]])
        return CaptionOutput(candidates, segments, image, seconds, duration, trust_text(results[0]))

    @on_inference_thread
    def caption_many(self, paths: list[str] | None, num_beams: int = 3) -> list[list]:
        """Rows [file, start, end, caption, confidence] for several files; unreadable files get a row with the
        reason."""
        captioner = self._require_model()
        if not paths:
            raise UserInputError("Add one or more audio files first.")
        if len(paths) > MAX_FILES_PER_REQUEST:
            raise UserInputError(f"{len(paths)} files given; the limit is {MAX_FILES_PER_REQUEST} per request.")
        too_big = {path: problem for path in paths if (problem := size_problem(path))}
        rows = []
        for result in captioner.caption_files(
            [path for path in paths if path not in too_big],
            num_beams=int(num_beams),
            progress=False,
            max_seconds=MAX_DURATION_SECONDS,
        ):
            text = result.caption if result.error is None else f"error: {result.error.split(': ', 1)[-1]}"
            trust = trust_text(result) if result.error is None else ""
            rows.append([Path(result.file).name, round(result.start, 2), round(result.end, 2), text, trust])
        return rows + [[Path(path).name, 0.0, 0.0, f"error: {problem}", ""] for path, problem in too_big.items()]

    @torch.no_grad()
    def spectrogram(self, waveform: np.ndarray) -> np.ndarray:
        """The log-mel spectrogram the model computes (its own front end), as an RGB image."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from modeling_effnet_trm import EffNetTrmLogMel, pad_to_min_input

        captioner = self._require_model()
        # the model's own front end (an ONNX export has no torch model: the same module from its config)
        front_end = (
            captioner.model.encoder.front_end if captioner.model is not None else EffNetTrmLogMel(captioner.config)
        )
        device = captioner.model.device if captioner.model is not None else "cpu"
        # what the encoder sees: a clip shorter than one encoder frame padded to one
        log_mel = front_end(pad_to_min_input(torch.from_numpy(waveform)[None], captioner.config).to(device))[0]
        log_mel = log_mel.cpu().numpy()
        hop = captioner.config.hop_length / captioner.sampling_rate
        figure, axis = plt.subplots(figsize=(8, 2.6), dpi=100)
        axis.imshow(
            log_mel,
            origin="lower",
            aspect="auto",
            cmap="magma",
            extent=(0, log_mel.shape[1] * hop, 0, log_mel.shape[0]),
        )
        axis.set_xlabel("time (s)")
        axis.set_ylabel("mel bin")
        axis.set_title("log-mel spectrogram the model sees (64 bins, 16 kHz)")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def export_examples(dataset_dir: str, out_dir: str | Path, count: int = 4) -> list[list]:
    """A few test-split clips of the demo corpus as wav files for the page's examples (if present)."""
    import soundfile as sf
    from datasets import load_from_disk

    from ..data import decode_audio

    dataset_path = Path(dataset_dir)
    if not (dataset_path / "dataset_dict.json").exists():
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    test = load_from_disk(str(dataset_path))["test"]
    examples = []
    for row in test.select(range(min(count, len(test)))):
        path = out_dir / f"{row['audio_id']}.wav"
        if not path.exists():
            sf.write(path, decode_audio(row["audio"], 16000), 16000)
        examples.append([str(path)])
    return examples
