"""`transformers.pipeline` for EffNet-Trm: an audio file or waveform in, a caption out.

Shipped in every model folder (transformers' custom-pipeline mechanism: the folder's config names
this class in `custom_pipelines`), so that without this package installed

    from transformers import pipeline
    captioner = pipeline(model="outputs/demo/student", trust_remote_code=True)   # or a Hub id
    captioner("clip.wav")                                  # [{"generated_text": "a dog barks ..."}]
    captioner({"array": waveform, "sampling_rate": 44100}, num_beams=1)

Files are read with `soundfile` and resampled with `soxr` (both imported only when a file or another
sampling rate needs them); a bare array must already be at the model's sampling rate (16 kHz).

Long recordings: `captioner("10_minutes.wav", chunk_length_s=10)` captions each 10 s chunk and returns
`[{"generated_text": "...; ...", "chunks": [{"timestamp": (0.0, 10.0), "text": "..."}, ...]}]`. A file
is read chunk by chunk (never whole), so memory stays bounded whatever its length; a trailing chunk
shorter than a second joins the one before it.
"""

from __future__ import annotations

import numpy as np
from transformers.pipelines.base import ChunkPipeline

#: `generate` arguments the pipeline passes through (`captioner(audio, num_beams=1)`).
GENERATE_ARGUMENTS = (
    "num_beams",
    "max_new_tokens",
    "do_sample",
    "top_p",
    "top_k",
    "temperature",
    "num_return_sequences",
    "length_penalty",
    "early_stopping",
    "no_repeat_ngram_size",
    "block_immediate_repeats",
    "repetition_penalty",
)
#: A trailing chunk shorter than this (seconds) joins the previous one.
MIN_CHUNK_SECONDS = 1.0


def _read_file(path: str) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError as error:  # pragma: no cover - soundfile is a dependency of the package
        raise ImportError("reading audio files needs `soundfile` (pip install soundfile)") from error
    waveform, sampling_rate = soundfile.read(path, dtype="float32", always_2d=True)
    return waveform.mean(axis=1), sampling_rate


def _resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return waveform
    try:
        import soxr
    except ImportError as error:  # pragma: no cover - soxr is a dependency of the package
        raise ImportError(f"audio at {orig_sr} Hz must be resampled to {target_sr} Hz: pip install soxr") from error
    return soxr.resample(waveform, orig_sr, target_sr).astype(np.float32)


def chunk_bounds(num_samples: int, sampling_rate: int, chunk_length_s: float) -> list[tuple[int, int]]:
    """(start, end) sample ranges of consecutive chunks; a tail shorter than `MIN_CHUNK_SECONDS` joins the
    previous chunk (the rule of `effnet_trm.inference.split_segments`, which the CLI and the Space use)."""
    size = int(round(chunk_length_s * sampling_rate))
    if size <= 0:
        raise ValueError(f"chunk_length_s must be positive, got {chunk_length_s}")
    bounds = [(start, min(start + size, num_samples)) for start in range(0, num_samples, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < MIN_CHUNK_SECONDS * sampling_rate:
        tail = bounds.pop()
        bounds[-1] = (bounds[-1][0], tail[1])
    return bounds


def _file_chunks(path: str, chunk_length_s: float, target_sr: int):
    """(start s, end s, waveform at `target_sr`) per chunk of an audio file, read and resampled one chunk
    at a time: memory holds one chunk, not the file."""
    import soundfile

    with soundfile.SoundFile(path) as audio:
        rate = audio.samplerate
        for start, end in chunk_bounds(audio.frames, rate, chunk_length_s):
            audio.seek(start)
            piece = audio.read(end - start, dtype="float32", always_2d=True).mean(axis=1)
            yield start / rate, end / rate, _resample(piece, rate, target_sr)


class EffNetTrmCaptioningPipeline(ChunkPipeline):
    """Audio captioning: a file path, a 1-D waveform at the model's rate, or a dict with `array`
    (or `raw`) and `sampling_rate`, in; `[{"generated_text": caption}, ...]` out (one entry per
    returned sequence). With `chunk_length_s`, one caption per chunk with its timestamps (see the module
    docstring)."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = True
    _load_tokenizer = True

    def _sanitize_parameters(self, chunk_length_s: float | None = None, **kwargs):
        unknown = set(kwargs) - set(GENERATE_ARGUMENTS)
        if unknown:
            raise ValueError(
                f"unknown argument(s) {sorted(unknown)}; the pipeline takes chunk_length_s and "
                f"{list(GENERATE_ARGUMENTS)}"
            )
        if chunk_length_s is not None and not chunk_length_s > 0:
            raise ValueError(f"chunk_length_s must be a positive number of seconds, got {chunk_length_s}")
        postprocess = {"num_return_sequences": kwargs.get("num_return_sequences", 1)}
        return {"chunk_length_s": chunk_length_s}, dict(kwargs), postprocess

    def _waveform(self, inputs) -> tuple[np.ndarray, int]:
        if isinstance(inputs, str):
            return _read_file(inputs)
        if isinstance(inputs, dict):
            waveform = inputs.get("array", inputs.get("raw"))
            sampling_rate = inputs.get("sampling_rate")
            if waveform is None or sampling_rate is None:
                raise ValueError("a dict input needs `array` (or `raw`) and `sampling_rate`")
        else:
            waveform, sampling_rate = inputs, self.feature_extractor.sampling_rate
        waveform = np.asarray(waveform, dtype=np.float32)
        if waveform.ndim == 2:  # (channels, samples) -> mono
            waveform = waveform.mean(axis=0)
        return waveform, int(sampling_rate)

    def _chunks(self, inputs, chunk_length_s: float | None):
        target_sr = self.feature_extractor.sampling_rate
        if chunk_length_s is not None and isinstance(inputs, str):
            yield from _file_chunks(inputs, chunk_length_s, target_sr)
            return
        waveform, sampling_rate = self._waveform(inputs)
        bounds = (
            chunk_bounds(waveform.size, sampling_rate, chunk_length_s)
            if chunk_length_s is not None
            else [(0, waveform.size)]
        )
        for start, end in bounds:
            piece = _resample(waveform[start:end], sampling_rate, target_sr)
            yield start / sampling_rate, end / sampling_rate, piece

    def preprocess(self, inputs, chunk_length_s: float | None = None):
        target_sr = self.feature_extractor.sampling_rate
        chunks = self._chunks(inputs, chunk_length_s)
        current = next(chunks)
        while current is not None:  # one chunk read ahead, to know which is the last
            following = next(chunks, None)
            start, end, piece = current
            features = self.feature_extractor([piece], sampling_rate=target_sr, return_tensors="pt")
            yield {
                **features,
                "timestamp": (round(start, 3), round(end, 3)),
                "chunked": chunk_length_s is not None,
                "is_last": following is None,
            }
            current = following

    def _forward(self, model_inputs, **generate_kwargs):
        extra = {key: model_inputs.pop(key) for key in ("timestamp", "chunked", "is_last")}
        clips = model_inputs["input_values"].shape[0]
        ids = self.model.generate(**model_inputs, **generate_kwargs)
        # (clips, sequences per clip, words): a batch of chunks is split per clip along the first axis
        return {"ids": ids.reshape(clips, ids.shape[0] // clips, *ids.shape[1:]), **extra}

    def postprocess(self, model_outputs, num_return_sequences: int = 1):
        if isinstance(model_outputs, dict):  # a single output (not packed)
            model_outputs = [model_outputs]
        captions = [self.tokenizer.batch_decode(out["ids"][0], skip_special_tokens=True) for out in model_outputs]
        if not model_outputs[0]["chunked"]:
            return [{"generated_text": caption} for caption in captions[0]]
        chunks = []
        for out, texts in zip(model_outputs, captions):
            chunk = {"timestamp": tuple(out["timestamp"]), "text": texts[0]}
            if num_return_sequences > 1:
                chunk["candidates"] = texts
            chunks.append(chunk)
        return [{"generated_text": "; ".join(chunk["text"] for chunk in chunks), "chunks": chunks}]
