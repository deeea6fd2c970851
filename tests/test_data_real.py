"""AudioCaps / Clotho builders on miniature copies in their real layouts, and the streaming pool."""

from __future__ import annotations

import csv
import functools

import numpy as np
import pytest
import soundfile as sf

from effnet_trm.data import decode_audio
from effnet_trm.data.pools import audio_only_pool, local_items
from effnet_trm.data.real_datasets import build_audiocaps, build_clotho


def _tone(path, seconds=1.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate)


def test_audiocaps_local_copy(tmp_path):
    for split, csv_name in (("train", "train.csv"), ("val", "val.csv"), ("test", "test.csv")):
        (tmp_path / "audio" / split).mkdir(parents=True)
        with (tmp_path / csv_name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
            for clip in range(2):
                for caption in range(5 if split != "train" else 1):
                    writer.writerow([f"{split}{clip}{caption}", f"yt_{split}_{clip}", 30, f"{split} caption {caption}"])
        _tone(tmp_path / "audio" / split / f"yt_{split}_0.wav")
    (tmp_path / "audio" / "val" / "yt_val_1.wav").write_bytes(b"corrupt")  # unreadable: skipped
    corpus, report = build_audiocaps(tmp_path)
    assert {s: len(r) for s, r in corpus.items()} == {"train": 1, "validation": 1, "test": 1}
    assert corpus["test"][0]["captions"] == [f"test caption {i}" for i in range(5)]
    assert corpus["test"][0]["audio_id"] == "yt_test_0"
    assert decode_audio(corpus["train"][0]["audio"], 16000).size == 16000
    assert set(report.skipped) == {"yt_train_1", "yt_val_1", "yt_test_1"}
    assert "unreadable" in report.skipped["yt_val_1"] and "not found" in report.skipped["yt_test_1"]
    assert "3 clips skipped" in report.summary()


def _clotho_layout(root, seconds=1.0):
    """A Clotho v2.1 folder: one 44.1 kHz WAV clip with five captions per split."""
    for name in ("development", "validation", "evaluation"):
        (root / f"clotho_audio_{name}").mkdir()
        with (root / f"clotho_captions_{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file_name"] + [f"caption_{i}" for i in range(1, 6)])
            writer.writerow([f"{name}.wav"] + [f"{name} sound {i}" for i in range(5)])
        _tone(root / f"clotho_audio_{name}" / f"{name}.wav", seconds=seconds, rate=44100)


def test_clotho_local_copy(tmp_path):
    _clotho_layout(tmp_path)
    corpus, report = build_clotho(tmp_path)
    assert [len(corpus[s]) for s in ("train", "validation", "test")] == [1, 1, 1]
    assert corpus["train"][0]["audio_id"] == "development.wav" and len(corpus["train"][0]["captions"]) == 5
    assert not report.skipped


def test_audio_only_pool_streams_crops_and_counts_skips(tmp_path):
    _tone(tmp_path / "keep_long.flac", seconds=25.0)
    _tone(tmp_path / "keep_short.wav", seconds=4.0)
    _tone(tmp_path / "val_clip.wav", seconds=3.0)
    _tone(tmp_path / "too_long.wav", seconds=301.0, rate=8000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    pool, stats = audio_only_pool(functools.partial(local_items, tmp_path), exclude={"val_clip"}, seed=1)
    samples = {s["audio_id"]: s for s in pool}
    assert set(samples) == {"keep_long", "keep_short"}
    assert len(samples["keep_long"]["waveform"]) == 160000 and len(samples["keep_short"]["waveform"]) == 64000
    assert 0 <= samples["keep_long"]["crop_start"] <= 15.0
    assert (stats.yielded, stats.excluded, stats.too_long, list(stats.unreadable)) == (2, 1, 1, ["broken"])
    again = {s["audio_id"]: s for s in audio_only_pool(functools.partial(local_items, tmp_path), seed=1)[0]}
    assert again["keep_long"]["crop_start"] == samples["keep_long"]["crop_start"]  # seeded crops


def test_corpus_stored_at_the_students_rate_decodes_without_resampling(tmp_path, capsys):
    """datasets_scripts/store_at_rate.py: a Clotho copy (44.1 kHz WAV) as 16 kHz FLAC, the same audio
    to 16-bit precision, ids and captions kept, nothing written into the original's folder."""
    import io

    from datasets import load_from_disk

    from datasets_scripts.store_at_rate import main as store_at_rate

    _clotho_layout(tmp_path, seconds=2.0)
    corpus, _ = build_clotho(tmp_path)
    corpus.save_to_disk(str(tmp_path / "clotho"))
    before = sorted(p.name for p in (tmp_path / "clotho").rglob("*"))

    assert (
        store_at_rate(
            ["--dataset", str(tmp_path / "clotho"), "--out", str(tmp_path / "clotho_16k"), "--splits", "train", "test"]
        )
        == 0
    )
    copy = load_from_disk(str(tmp_path / "clotho_16k"))
    assert sorted(copy) == ["test", "train"]
    assert sorted(p.name for p in (tmp_path / "clotho").rglob("*")) == before
    for split in copy:
        original, stored = corpus[split][0], copy[split][0]
        assert (stored["audio_id"], stored["captions"]) == (original["audio_id"], original["captions"])
        info = sf.info(io.BytesIO(stored["audio"]["bytes"]))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert stored["audio"]["path"] == original["audio_id"].replace(".wav", ".flac")
        np.testing.assert_allclose(
            decode_audio(stored["audio"], 16000), decode_audio(original["audio"], 16000), atol=1 / 2**15
        )

    with pytest.raises(SystemExit):
        store_at_rate(["--dataset", str(tmp_path / "clotho"), "--out", str(tmp_path / "x"), "--splits", "nope"])
    assert "has no split ['nope']; it has ['test', 'train', 'validation']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        store_at_rate(["--dataset", str(tmp_path / "clotho"), "--out", str(tmp_path / "clotho")])
    assert "--out must differ from --dataset" in capsys.readouterr().err
