"""Feature extractor of EffNet-Trm: waveforms in, a padded batch and its mask out.

The model computes its log-mel spectrogram itself (so exported graphs and the Hub model agree on
the front end); this class only validates, converts and pads raw 16 kHz mono audio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor

#: Largest sample magnitude accepted (+60 dB over full scale). Audio is scaled to [-1, 1]; float files may
#: go somewhat beyond, but a larger peak means unscaled integer PCM or a corrupt file, and squared in the
#: spectrogram such values overflow float32.
MAX_ABS_SAMPLE = 1000.0


def validate_waveform(waveform, name: str = "waveform") -> np.ndarray:
    """Return `waveform` as a 1-D float32 array, or raise `ValueError` saying what is wrong with it."""
    array = np.asarray(waveform)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected numeric samples, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if array.ndim != 1:
        raise ValueError(
            f"{name}: expected a mono 1-D waveform, got shape {tuple(array.shape)} "
            "(average the channels first, e.g. with effnet_trm.audio.load_audio)"
        )
    if array.size == 0:
        raise ValueError(f"{name}: the audio is empty (zero samples)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: the audio contains {int((~np.isfinite(array)).sum())} NaN or infinite samples")
    peak = float(np.abs(array).max())
    if peak > MAX_ABS_SAMPLE:
        raise ValueError(
            f"{name}: samples reach {peak:.3g}, but audio is expected in [-1, 1] (refused above {MAX_ABS_SAMPLE:g}); "
            "scale integer PCM by its full scale (e.g. divide int16 by 32768)"
        )
    return array


class EffNetTrmFeatureExtractor(SequenceFeatureExtractor):
    """Pads a list of 16 kHz mono waveforms into `input_values` `(batch, samples)` and an
    `attention_mask` (1 = real sample), refusing audio at any other sampling rate.

    Args:
        sampling_rate (`int`, *optional*, defaults to 16000): the rate the model was trained at.
        padding_value (`float`, *optional*, defaults to 0.0): value of padded samples.
        max_duration (`float`, *optional*): if set, longer clips are refused with an error naming
            the clip (split long recordings into segments instead, see `effnet-trm caption --segment`).
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(
        self,
        sampling_rate: int = 16000,
        padding_value: float = 0.0,
        max_duration: float | None = None,
        **kwargs,
    ):
        kwargs["feature_size"] = 1  # raw mono samples (a saved config repeats it)
        super().__init__(sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        self.max_duration = max_duration

    def __call__(
        self,
        raw_speech: np.ndarray | Sequence[np.ndarray],
        sampling_rate: int | None = None,
        return_tensors: str | None = "pt",
        pad_to_multiple_of: int | None = None,
        **kwargs,
    ) -> BatchFeature:
        """
        Args:
            raw_speech: one waveform or a list of them (1-D arrays of floats in [-1, 1]).
            sampling_rate: the rate of `raw_speech`. Required: a wrong rate gives silently wrong captions,
                so it is checked rather than assumed.
            return_tensors: `"pt"` (default), `"np"` or `None`.
        """
        if sampling_rate is None:
            raise ValueError(
                f"pass sampling_rate= (this model takes {self.sampling_rate} Hz audio; resample with "
                "effnet_trm.audio.load_audio or resample)"
            )
        if sampling_rate != self.sampling_rate:
            raise ValueError(
                f"audio at {sampling_rate} Hz given, but this model takes {self.sampling_rate} Hz: resample "
                "it first (e.g. effnet_trm.audio.resample(wave, orig_sr, target_sr))"
            )
        is_single = (
            isinstance(raw_speech, np.ndarray)
            and raw_speech.ndim == 1
            or (isinstance(raw_speech, Sequence) and len(raw_speech) > 0 and np.isscalar(raw_speech[0]))
        )
        waveforms = [raw_speech] if is_single else list(raw_speech)
        if not waveforms:
            raise ValueError("no audio given (an empty list)")
        waveforms = [validate_waveform(wave, f"clip {i}") for i, wave in enumerate(waveforms)]
        if self.max_duration is not None:
            for i, wave in enumerate(waveforms):
                if wave.size > self.max_duration * self.sampling_rate:
                    raise ValueError(
                        f"clip {i}: {wave.size / self.sampling_rate:.1f} s is longer than the "
                        f"{self.max_duration:.1f} s limit"
                    )
        longest = max(wave.size for wave in waveforms)
        if pad_to_multiple_of:
            longest = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
        values = np.full((len(waveforms), longest), self.padding_value, dtype=np.float32)
        mask = np.zeros((len(waveforms), longest), dtype=np.int64)
        for row, wave in enumerate(waveforms):
            values[row, : wave.size] = wave
            mask[row, : wave.size] = 1
        return BatchFeature({"input_values": values, "attention_mask": mask}, tensor_type=return_tensors)


# preprocessor_config.json names this class in `auto_map`, so AutoFeatureExtractor finds it in a model folder
EffNetTrmFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
