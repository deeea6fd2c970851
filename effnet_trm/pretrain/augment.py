"""Consistent augmentation for distillation from YAMNet.

A student distilled from a teacher's outputs on a fixed set of clips learns those clips; one that hears
each crop mixed, coloured and reverberated, while the teacher labels that very audio at each step,
learns the teacher's function instead ("a good teacher is patient and consistent", Beyer et al., CVPR
2022). Here that is what a user's recording brings that the packaged audio lacks: another
microphone (a spectral tilt), another room (a synthetic reverberation), another level, and another
sound at once (a mix with a second crop). YAMNet, trained on two million AudioSet clips from every kind
of device, names the sound through all of them; the student learns to follow it there.

Every draw comes from the caller's `numpy.random.Generator`, so a batch is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """How strongly each crop is changed; 0 turns a change off (all 0: the crop as it is)."""

    mix_probability: float = 0.0  #: a crop is mixed with another crop of the batch, this often ...
    mix_snr_db: tuple[float, float] = (0.0, 12.0)  #: ... that one this many dB under it
    tilt: float = 0.0  #: a first-order tilt y[n] = x[n] - a x[n-1], a uniform in [-tilt, tilt]: a microphone
    reverb_probability: float = 0.0  #: a synthetic room, this often ...
    reverb_seconds: tuple[float, float] = (0.1, 0.8)  #: ... with an RT60 drawn in this range
    gain_db: float = 0.0  #: a level uniform in [-gain_db, gain_db] dB

    @property
    def active(self) -> bool:
        return bool(self.mix_probability or self.tilt or self.reverb_probability or self.gain_db)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio**2)) + 1e-12)


def tilt(audio: np.ndarray, coefficient: float) -> np.ndarray:
    """A microphone's colour: a positive coefficient thins the lows, a negative one the highs; the
    level stays."""
    tilted = audio.astype(np.float32, copy=True)
    tilted[1:] -= coefficient * audio[:-1]
    return tilted * (_rms(audio) / _rms(tilted))


def room_response(seconds: float, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: the direct sound, then noise decaying by 60 dB over `seconds` (the RT60)."""
    length = max(2, int(seconds * sampling_rate))
    decay = np.exp(-6.9 * np.arange(length) / length)  # ln(1000): -60 dB at the end
    response = rng.standard_normal(length) * decay * 0.3
    response[0] = 1.0
    return (response / np.sqrt(np.sum(response**2))).astype(np.float32)


def reverberate(audio: np.ndarray, seconds: float, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
    """`audio` heard in a synthetic room, cut to its own length; the level stays."""
    response = room_response(seconds, sampling_rate, rng)
    size = audio.size + response.size - 1
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(response, size), size)[: audio.size].astype(np.float32)
    return wet * (_rms(audio) / _rms(wet))


def augment_batch(
    crops: np.ndarray, augmentation: Augmentation, sampling_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """(batch, samples) crops, each mixed with another, tilted, reverberated and scaled as
    `augmentation` draws, clipped to [-1, 1]. The inputs are not changed."""
    if crops.ndim != 2:
        raise ValueError(f"expected (batch, samples) crops, got shape {crops.shape}")
    out = crops.astype(np.float32, copy=True)
    count = len(crops)
    for index in range(count):
        if count > 1 and rng.random() < augmentation.mix_probability:
            other = crops[(index + rng.integers(1, count)) % count]  # any crop but this one
            snr = rng.uniform(*augmentation.mix_snr_db)
            out[index] += other * (_rms(crops[index]) / _rms(other)) * 10 ** (-snr / 20)
        if augmentation.tilt:
            out[index] = tilt(out[index], rng.uniform(-augmentation.tilt, augmentation.tilt))
        if rng.random() < augmentation.reverb_probability:
            out[index] = reverberate(out[index], rng.uniform(*augmentation.reverb_seconds), sampling_rate, rng)
        if augmentation.gain_db:
            out[index] *= 10 ** (rng.uniform(-augmentation.gain_db, augmentation.gain_db) / 20)
    return np.clip(out, -1.0, 1.0)
