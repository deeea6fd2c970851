"""Audio loading, the feature extractor, the tokenizer, and the `effnet-trm caption` command,
including every kind of bad input the model issue lists."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from effnet_trm.audio import AudioError, is_silent, load_audio, resample
from effnet_trm.cli import main as cli_main
from effnet_trm.hub import init_model
from effnet_trm.inference import Captioner, ModelNotFoundError, resolve_model, split_segments
from effnet_trm.tokenization import build_word_tokenizer, caption_labels, normalize_caption
from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor


def _tone(seconds: float, rate: int, channels: int = 1, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * np.pi * frequency * t)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    init_model(folder, seed=1)
    return folder


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix,subtype,rate,channels",
    [
        ("wav", "PCM_U8", 8000, 1),  # 8-bit
        ("wav", "PCM_16", 44100, 2),
        ("wav", "PCM_24", 48000, 1),  # 24-bit
        ("wav", "FLOAT", 22050, 6),  # float, 6 channels
        ("flac", "PCM_16", 32000, 2),
        ("ogg", "VORBIS", 44100, 1),
        ("mp3", "MPEG_LAYER_III", 44100, 2),
    ],
)
def test_load_audio_any_format_rate_and_channels(tmp_path, suffix, subtype, rate, channels):
    path = tmp_path / f"clip.{suffix}"
    sf.write(path, _tone(1.0, rate, channels), rate, subtype=subtype)
    wave = load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.size - 16000) <= 1200  # mp3 encoders add a little padding
    assert 0.2 < np.abs(wave).max() < 1.0


def test_resample_keeps_a_tone_in_place():
    wave = resample(_tone(1.0, 44100).astype(np.float32), 44100, 16000)
    spectrum = np.abs(np.fft.rfft(wave))
    assert wave.size == 16000 and abs(int(spectrum.argmax()) - 440) <= 1


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"this is not audio at all" * 10, "not a readable audio file"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        load_audio(path)


def test_missing_file_and_zero_length_audio(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        load_audio(path)


def test_non_finite_samples_are_refused(tmp_path):
    wave = _tone(0.5, 16000).astype(np.float32)
    wave[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_audio(path)


def test_silence_is_valid_but_detected(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000)
    assert is_silent(load_audio(path))


# --- feature extractor -------------------------------------------------------------------------


def test_feature_extractor_pads_and_masks():
    extractor = EffNetTrmFeatureExtractor()
    batch = extractor([np.ones(5), np.ones(3)], sampling_rate=16000)
    assert batch["input_values"].shape == (2, 5) and batch["input_values"].dtype == torch.float32
    assert batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 1, 0, 0]]


@pytest.mark.parametrize(
    "audio,rate,message",
    [
        ([np.ones(100)], 44100, "44100 Hz given, but this model takes 16000 Hz"),
        ([np.ones(100)], None, "pass sampling_rate="),
        ([np.array([])], 16000, "empty"),
        ([np.array([0.0, np.inf])], 16000, "NaN or infinite"),
        ([np.ones((100, 2))], 16000, "mono 1-D"),
        ([], 16000, "no audio"),
    ],
)
def test_feature_extractor_refuses_bad_input(audio, rate, message):
    with pytest.raises(ValueError, match=message):
        EffNetTrmFeatureExtractor()(audio, sampling_rate=rate)


# --- tokenizer ---------------------------------------------------------------------------------


def test_tokenizer_round_trip(tmp_path):
    from transformers import AutoTokenizer

    tokenizer = build_word_tokenizer(["A dog barks.", "Rain falls on a roof!", "a dog's bark"])
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["<pad>", "<bos>", "<eos>", "<unk>"]
    ids = tokenizer("A DOG barks, on the roof")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.convert_ids_to_tokens(ids[1:-1]).count("<unk>") == 1  # "the" is unknown
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a dog barks on roof"
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded("a dog's bark")["input_ids"] == tokenizer("a dog's bark")["input_ids"]
    assert normalize_caption("  It's   RAINING -- 'hard'! ") == "it's raining hard"


def test_caption_labels_truncate_and_pad():
    tokenizer = build_word_tokenizer(["one two three four five"])
    labels = caption_labels(tokenizer, ["one two three four five", "two"], max_words=3)
    eos = tokenizer.eos_token_id
    assert labels[0, -1].item() == eos and labels.shape == (2, 4)
    assert labels[1].tolist()[1:] == [eos, -100, -100]


# --- captioning and the CLI ---------------------------------------------------------------------


def test_split_segments_merges_a_short_tail():
    assert split_segments(25 * 100, 100, 10) == [(0, 1000), (1000, 2000), (2000, 2500)]
    assert split_segments(2050, 100, 10) == [(0, 1000), (1000, 2050)]


def test_resolve_model_explains_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("EFFNET_TRM_MODEL", raising=False)
    with pytest.raises(ModelNotFoundError, match="make demo"):
        resolve_model(str(tmp_path / "nowhere" / "model"))
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(str(tmp_path))
    assert resolve_model("wsntxxn/effb2-trm-audiocaps-captioning") == "wsntxxn/effb2-trm-audiocaps-captioning"


def test_caption_files_survive_bad_files(model_dir, tmp_path):
    good = tmp_path / "tone.wav"
    sf.write(good, _tone(2.0, 22050, channels=2), 22050, subtype="PCM_24")
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros(16000), 16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    long = tmp_path / "long.ogg"
    sf.write(long, _tone(30.5, 16000), 16000)

    captioner = Captioner.from_pretrained(str(model_dir), batch_size=4)
    results = list(captioner.caption_files([str(good), str(corrupt), str(silent), str(long)], num_beams=2))
    by_file = {}
    for result in results:
        by_file.setdefault(result.file, []).append(result)
    assert by_file[str(good)][0].caption and by_file[str(good)][0].error is None
    assert "not a readable audio file" in by_file[str(corrupt)][0].error
    assert by_file[str(silent)][0].caption == "silence" and "no audible sound" in by_file[str(silent)][0].note
    segments = by_file[str(long)]  # 30.5 s > 30 s: split into 10 s segments, the 0.5 s tail merged
    assert [(s.start, s.end) for s in segments] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.5)]
    assert all(s.segmented and s.caption for s in segments)


def test_cli_caption_prints_json_lines(model_dir, tmp_path, capsys):
    clip = tmp_path / "clip.wav"
    sf.write(clip, _tone(3.0, 16000), 16000)
    code = cli_main(["caption", str(clip), str(clip), "--model", str(model_dir), "--json", "--segment", "2", "--int8"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(lines) == 4  # two files x two segments (2 s + the 1 s tail kept: >= 1 s)
    assert lines[0]["start"] == 0.0 and lines[1]["end"] == 3.0 and all(line["caption"] for line in lines)
    assert cli_main(["caption", str(clip), "--model", str(model_dir), "--json", "--fp16"]) == 0
    fp16_line = json.loads(capsys.readouterr().out.splitlines()[0])
    fp32_code = cli_main(["caption", str(clip), "--model", str(model_dir), "--json"])
    assert fp32_code == 0 and fp16_line["caption"] == json.loads(capsys.readouterr().out.splitlines()[0])["caption"]
    with pytest.raises(SystemExit):  # one precision at a time
        cli_main(["caption", str(clip), "--model", str(model_dir), "--int8", "--fp16"])


def test_cli_caption_command_runs_end_to_end(model_dir, tmp_path):
    clip = tmp_path / "clip.flac"
    sf.write(clip, _tone(2.0, 44100), 44100)
    done = subprocess.run(
        [sys.executable, "-m", "effnet_trm.cli", "caption", str(clip), "--model", str(model_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    file_name, caption, confidence = done.stdout.strip().split("\t")
    assert file_name == str(clip) and len(caption.split()) >= 1 and confidence.startswith("confidence: ")

    missing = subprocess.run(
        [sys.executable, "-m", "effnet_trm.cli", "caption", str(clip), "--model", str(tmp_path / "no" / "model")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "make demo" in missing.stderr
