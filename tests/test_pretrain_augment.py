"""Consistent augmentation for distillation from YAMNet (`effnet_trm/pretrain/augment.py`): what each
change does to the audio, and that the targets are YAMNet's outputs for the very audio the student hears."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from effnet_trm.pretrain.augment import Augmentation, augment_batch, reverberate, room_response, tilt

RATE = 16000


def sine(frequency: float, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def band_energy(audio: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    frequencies = np.fft.rfftfreq(audio.size, 1 / RATE)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].sum())


def test_no_augmentation_leaves_the_crops_as_they_are():
    crops = np.stack([sine(300), sine(900)])
    assert not Augmentation().active
    np.testing.assert_array_equal(augment_batch(crops, Augmentation(), RATE, np.random.default_rng(0)), crops)
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        augment_batch(crops[0], Augmentation(), RATE, np.random.default_rng(0))


def test_a_tilt_moves_energy_between_lows_and_highs_and_keeps_the_level():
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1

    def low_share(audio):
        return band_energy(audio, 0, 1000) / band_energy(audio, 0, RATE / 2)

    thinner, darker = tilt(noise, 0.8), tilt(noise, -0.8)
    assert low_share(thinner) < 0.5 * low_share(noise) and low_share(darker) > 1.5 * low_share(noise)
    for tilted in (thinner, darker):
        assert np.sqrt(np.mean(tilted**2)) == pytest.approx(np.sqrt(np.mean(noise**2)), rel=1e-3)


def test_a_room_makes_a_click_ring_for_its_reverberation_time():
    response = room_response(0.5, RATE, np.random.default_rng(0))
    assert response.size == RATE // 2 and response[0] == response.max() and np.sum(response**2) == pytest.approx(1)
    click = np.zeros(RATE, dtype=np.float32)
    click[100] = 1.0
    wet = reverberate(click, 0.5, RATE, np.random.default_rng(0))
    assert wet.size == click.size and np.abs(wet[100 + RATE // 10 : 100 + RATE // 5]).max() > 0  # still ringing
    assert np.abs(wet[100 + RATE // 2 + 1 :]).max() < 1e-6  # and silent after the response (FFT rounding)
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(click**2)), rel=1e-3)


def test_a_mix_adds_the_partner_crop_under_the_crop_at_the_drawn_snr():
    crops = np.stack([sine(300), sine(2000)])
    always_6_db = Augmentation(mix_probability=1.0, mix_snr_db=(6.0, 6.0))
    mixed = augment_batch(crops, always_6_db, RATE, np.random.default_rng(0))
    for index, (own, partner) in enumerate([(300, 2000), (2000, 300)]):
        ratio = band_energy(mixed[index], own - 50, own + 50) / band_energy(mixed[index], partner - 50, partner + 50)
        assert 10 * np.log10(ratio) == pytest.approx(6.0, abs=0.2)


def test_augmented_batches_are_a_function_of_the_seed_and_never_change_their_input():
    crops = np.stack([sine(300 + 100 * i) for i in range(4)])
    original = crops.copy()
    strong = Augmentation(mix_probability=0.5, tilt=0.7, reverb_probability=0.5, gain_db=6.0)
    first = augment_batch(crops, strong, RATE, np.random.default_rng(5))
    np.testing.assert_array_equal(first, augment_batch(crops, strong, RATE, np.random.default_rng(5)))
    assert not np.allclose(first, augment_batch(crops, strong, RATE, np.random.default_rng(6)))
    assert not np.allclose(first, crops) and np.abs(first).max() <= 1.0
    np.testing.assert_array_equal(crops, original)


def test_the_student_and_yamnet_hear_the_same_augmented_crop(tmp_path):
    """With augmentation the targets are YAMNet's outputs for the batch's own audio (not the cached
    targets of the clean clip); an encoder that cannot take YAMNet-rate crops is refused."""
    from test_data_corpus import fake_recordings

    from effnet_trm.audioset.fetch import YAMNetUnavailable, yamnet_folder
    from effnet_trm.audioset.yamnet import load_yamnet
    from effnet_trm.data.demo_corpus import build_recordings_pool
    from effnet_trm.pretrain.trainer import EncoderPretrainer, PretrainConfig

    try:
        yamnet_folder()
    except YAMNetUnavailable as error:
        pytest.skip(f"YAMNet weights not available: {error}")
    build_recordings_pool(fake_recordings()[:8], progress=False).save_to_disk(str(tmp_path / "pool"))
    common = {"data": [str(tmp_path / "pool")], "heldout_clips": 2, "batch_size": 4, "crop_patches": 1}
    augmented = EncoderPretrainer(PretrainConfig(mix_probability=1.0, tilt=0.5, **common), progress=False)
    audio, scores, embeddings = augmented.batch(0)
    clean_audio, clean_scores, _ = EncoderPretrainer(PretrainConfig(**common), progress=False).batch(0)
    assert audio.shape == clean_audio.shape and not torch.allclose(audio, clean_audio)
    with torch.no_grad():
        heard = load_yamnet()(audio)
    torch.testing.assert_close(scores, heard.clip_scores)
    torch.testing.assert_close(embeddings, heard.clip_embedding)
    assert not torch.allclose(scores, clean_scores, atol=1e-3)
    torch.testing.assert_close(augmented.batch(0)[0], audio)  # a pure function of (seed, step)

    with pytest.raises(ValueError, match="consistent augmentation needs crops at YAMNet's 16000 Hz"):
        EncoderPretrainer(PretrainConfig(**{**common, "crop_patches": None}, encoder="htsat_demo", tilt=0.5))
