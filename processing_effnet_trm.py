"""Processor of EffNet-Trm: the feature extractor and the word tokenizer as one object, as Whisper has.

    from transformers import AutoProcessor
    processor = AutoProcessor.from_pretrained("outputs/demo/student", trust_remote_code=True)  # or a Hub id
    inputs = processor([clip_a, clip_b], sampling_rate=44100)   # resampled to 16 kHz, padded, masked
    captions = processor.batch_decode(model.generate(**inputs), skip_special_tokens=True)

Audio at another sampling rate is resampled with `soxr` (imported only then); `sampling_rate=` is
required, as a wrong rate would give silently wrong captions. `text=` gives training `labels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import ProcessorMixin


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """`waveform` (1-D) from `orig_sr` to `target_sr` Hz with soxr's high-quality resampler."""
    if orig_sr == target_sr:
        return waveform
    if orig_sr <= 0:
        raise ValueError(f"sampling_rate must be a positive number of Hz, got {orig_sr}")
    try:
        import soxr
    except ImportError as error:  # pragma: no cover - soxr is a dependency of the package and the Space
        raise ImportError(
            f"audio at {orig_sr} Hz must be resampled to {target_sr} Hz, which needs soxr (pip install soxr); "
            f"or pass {target_sr} Hz audio"
        ) from error
    return soxr.resample(np.asarray(waveform, dtype=np.float32), orig_sr, target_sr).astype(np.float32)


def _as_waveform_list(audio) -> tuple[list, bool]:
    """A list of waveforms, and whether a single clip was given."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    if isinstance(audio, np.ndarray):
        if audio.ndim == 1:
            return [audio], True
        if audio.ndim == 2:
            return list(audio), False
        raise ValueError(f"audio must be a 1-D waveform or a list of them, got an array of shape {audio.shape}")
    if isinstance(audio, Sequence) and len(audio) > 0 and np.isscalar(audio[0]):
        return [np.asarray(audio)], True
    return [w.detach().cpu().numpy() if isinstance(w, torch.Tensor) else w for w in audio], False


class EffNetTrmProcessor(ProcessorMixin):
    r"""Constructs an EffNet-Trm processor: [`EffNetTrmFeatureExtractor`] (waveforms -> padded
    `input_values` and a sample-level `attention_mask`) and the word tokenizer (`PreTrainedTokenizerFast`).

    Args:
        feature_extractor (`EffNetTrmFeatureExtractor`): pads 16 kHz mono waveforms.
        tokenizer (`PreTrainedTokenizerFast`): the word vocabulary (`<pad>`, `<bos>`, `<eos>`, `<unk>` = 0-3).
    """

    def __init__(self, feature_extractor, tokenizer):
        super().__init__(feature_extractor, tokenizer)

    @property
    def sampling_rate(self) -> int:
        return self.feature_extractor.sampling_rate

    def __call__(
        self,
        audio=None,
        sampling_rate: int | None = None,
        text: str | list[str] | None = None,
        return_tensors: str | None = "pt",
        max_words: int | None = None,
        **kwargs,
    ):
        """
        Args:
            audio: a 1-D waveform (numpy, list or torch) or a list of them, in [-1, 1].
            sampling_rate (`int`): the rate of `audio` in Hz. Required with `audio`; other rates than the
                model's (16 kHz) are resampled.
            text: caption(s) to tokenize. With `audio`, the result gets `labels` (`w1 ... wn <eos>`,
                padded with -100, as the model's loss expects); alone, the tokenizer's output.
            max_words: truncate `labels` to this many words before `<eos>` (default: no truncation).
            **kwargs: passed to the feature extractor (e.g. `pad_to_multiple_of`).
        Returns:
            [`BatchFeature`] with `input_values` `(batch, samples)` and `attention_mask` (1 = real sample),
            and `labels` when `text` is given.
        """
        if audio is None and text is None:
            raise ValueError("pass audio= (waveforms) and/or text= (captions)")
        if audio is None:
            return self.tokenizer(text, return_tensors=return_tensors, padding=True)
        if sampling_rate is None:
            raise ValueError(
                f"pass sampling_rate= with the audio (this model takes {self.sampling_rate} Hz audio; other rates "
                "are resampled, but the rate must be known: a wrong one gives silently wrong captions)"
            )
        waveforms, _ = _as_waveform_list(audio)
        waveforms = [
            resample(np.asarray(w, dtype=np.float32), int(sampling_rate), self.sampling_rate) for w in waveforms
        ]
        inputs = self.feature_extractor(
            waveforms, sampling_rate=self.sampling_rate, return_tensors=return_tensors, **kwargs
        )
        if text is not None:
            captions = [text] if isinstance(text, str) else list(text)
            if len(captions) != len(waveforms):
                raise ValueError(f"{len(waveforms)} clips but {len(captions)} captions: give one caption per clip")
            inputs["labels"] = self.caption_labels(captions, max_words, return_tensors)
        return inputs

    def caption_labels(self, captions: list[str], max_words: int | None = None, return_tensors: str | None = "pt"):
        """Training targets `w1 ... wn <eos>` right-padded with -100 (the decoder input is this shifted right
        behind `<bos>`, done by the model)."""
        encoded = self.tokenizer(captions, add_special_tokens=False)["input_ids"]
        rows = [ids[:max_words] + [self.tokenizer.eos_token_id] for ids in encoded]
        labels = np.full((len(rows), max(len(r) for r in rows)), -100, dtype=np.int64)
        for i, row in enumerate(rows):
            labels[i, : len(row)] = row
        return torch.from_numpy(labels) if return_tensors == "pt" else labels

    def batch_decode(self, *args, **kwargs) -> list[str]:
        """The tokenizer's `batch_decode`: generated ids -> captions (pass `skip_special_tokens=True`)."""
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs) -> str:
        """The tokenizer's `decode`."""
        return self.tokenizer.decode(*args, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return list(self.feature_extractor.model_input_names)


# processor_config.json names this class in `auto_map`, so AutoProcessor finds it in a model folder
EffNetTrmProcessor.register_for_auto_class("AutoProcessor")
