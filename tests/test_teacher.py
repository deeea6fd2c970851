"""The HTSAT-BART teacher: sizes, WavCaps checkpoint layout, the 10.2 s window, the output cache."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from effnet_trm.data.io import rows_to_dataset
from effnet_trm.teachers.cache import build_teacher_cache, cache_as_dataset, fixed_crops, load_teacher_cache
from effnet_trm.teachers.htsat_bart import (
    HTSATBartCaptioner,
    HTSATBartTeacher,
    load_wavcaps_checkpoint,
    parameter_counts,
    save_wavcaps_checkpoint,
)
from effnet_trm.tokenization import build_word_tokenizer, caption_labels

SR = 32000


def test_full_size_matches_wavcaps_parameter_counts():
    counts = parameter_counts(HTSATBartCaptioner.from_size("full"))
    print("HTSAT-BART (full) parameters:", counts)
    # figures measured on the public WavCaps classes (REFERENCE.md, section 4)
    assert counts["htsat"] == 31_325_143
    assert counts["htsat_frozen_front_end"] == 1_083_456 and counts["htsat_unused_head"] == 2_707_199
    assert counts["bart"] == 139_420_416 and counts["projection"] == 590_592
    assert abs(counts["total"] - 171.3e6) < 0.1e6


@pytest.fixture(scope="module")
def tokenizer():
    return build_word_tokenizer(["a dog barks", "rain falls on a roof", "a bell rings twice"])


@pytest.fixture(scope="module")
def demo_teacher(tokenizer):
    torch.manual_seed(0)
    model = HTSATBartCaptioner.for_tokenizer("demo", tokenizer)
    return HTSATBartTeacher(model, tokenizer)


def _noise(seconds, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_demo_teacher_trains_a_step_and_generates(demo_teacher, tokenizer):
    model = demo_teacher.model.train()
    audio = torch.from_numpy(np.stack([_noise(2.0, 1), _noise(2.0, 2)]))
    labels = caption_labels(tokenizer, ["a dog barks", "rain falls"])
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    losses = []
    for _ in range(3):
        loss = model(audio, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    embeddings, captions = demo_teacher.embed_and_caption([_noise(3.0, 3), _noise(10.0, 4)])
    assert embeddings.clip.shape == (2, demo_teacher.embedding_dim) and embeddings.frames.shape[:2] == (2, 32)
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)


def test_wavcaps_checkpoint_round_trip_is_strict(demo_teacher, tmp_path):
    path = tmp_path / "teacher.pt"
    save_wavcaps_checkpoint(demo_teacher.model, path, "demo")
    state = torch.load(path, weights_only=True)["model"]
    assert any(k.startswith("encoder.audio_enc.audio_feats_extractor.mel_trans.stft.conv_real") for k in state)
    assert {"decoder.lm_head.weight", "enc_to_dec_proj.weight", "decoder.model.shared.weight"} <= set(state)
    loaded, report = load_wavcaps_checkpoint(path)
    audio = torch.from_numpy(np.stack([_noise(4.0, 5)]))
    demo_teacher.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_audio(audio)[1], demo_teacher.model.encode_audio(audio)[1])
    assert torch.equal(loaded.generate_ids(audio)[1], demo_teacher.model.generate_ids(audio)[1])
    assert report["ignored"] == {}

    # a documented optional key may be absent (and is listed); anything else is an error
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["model"]["decoder.final_logits_bias"]
    torch.save(checkpoint, path)
    assert "decoder.final_logits_bias" in load_wavcaps_checkpoint(path)[1]["ignored"]
    checkpoint["model"]["encoder.audio_enc.extra.weight"] = torch.zeros(1)
    del checkpoint["model"]["enc_to_dec_proj.bias"]
    torch.save(checkpoint, path)
    with pytest.raises(
        KeyError, match=r"missing \['enc_to_dec_proj.bias'\].*unexpected \['encoder.audio_enc.extra.weight'\]"
    ):
        load_wavcaps_checkpoint(path)


def test_ten_second_window_is_enforced(demo_teacher):
    with pytest.raises(ValueError, match="at most 10.23 s: split it into crops"):
        demo_teacher.embed([_noise(10.5)])
    with pytest.raises(ValueError, match="at most 1024 frames"):
        demo_teacher.model.encoder.audio_enc.to_image(torch.zeros(1, 1, 1100, 64))
    assert fixed_crops(25 * SR, SR, demo_teacher.max_samples, 10.0) == [(0, 320000), (320000, 640000), (480000, 800000)]
    assert fixed_crops(9 * SR, SR, demo_teacher.max_samples, 10.0) == [(0, 9 * SR)]


def test_very_short_clips_are_padded_to_the_teacher_window(demo_teacher):
    # the teacher cache sends a clip of any length (1 sample, 10 ms): WavCaps zero-pads to 10 s
    embeddings, captions = demo_teacher.embed_and_caption([_noise(1 / SR), _noise(0.01, 1)], num_beams=2)
    assert len(captions) == 2 and bool(torch.isfinite(embeddings.clip).all())


def _flac(seconds, seed):
    buffer = io.BytesIO()
    sf.write(buffer, _noise(seconds, seed), SR, format="FLAC")
    return buffer.getvalue()


def test_cache_round_trips_and_resumes(demo_teacher, tmp_path):
    from datasets import DatasetDict

    def rows(prefix, count, seconds=2.0):
        return rows_to_dataset(
            [
                {
                    "audio": {"bytes": _flac(seconds if i else 12.0, i), "path": f"{prefix}{i}.flac"},
                    "captions": ["x"],
                    "audio_id": f"{prefix}{i}",
                    "classes": [],
                    "source": "",
                    "license": "",
                }
                for i in range(count)
            ]
        )

    broken = rows("bad", 1).to_list()[0] | {"audio": {"bytes": b"not audio", "path": "bad.flac"}}
    DatasetDict({"train": rows("t", 3), "audio_only": rows_to_dataset(rows("a", 2).to_list() + [broken])}).save_to_disk(
        str(tmp_path / "data")
    )
    out = tmp_path / "cache"
    first = build_teacher_cache(demo_teacher, str(tmp_path / "data"), out, ["train"], batch_size=2)
    assert first == {"computed": 4, "reused": 0, "failed": 0}  # t0 is 12 s: two fixed crops
    second = build_teacher_cache(demo_teacher, str(tmp_path / "data"), out, ["train", "audio_only"], batch_size=2)
    assert second == {"computed": 3, "reused": 4, "failed": 1}  # nothing recomputed, the broken clip reported
    targets, info = load_teacher_cache(out)
    assert sorted(targets) == ["a0", "a1", "t0", "t1", "t2"] and len(targets["t0"]) == 2
    assert info["embedding_dim"] == demo_teacher.embedding_dim
    assert targets["t1"][0].clip_embedding.shape == (demo_teacher.embedding_dim,)
    # every beam is kept, best first, with its score; the windows of the 12 s clip are recorded
    assert len(targets["t1"][0].hypotheses) == 3 and targets["t1"][0].hypotheses[0] == targets["t1"][0].caption
    assert list(targets["t1"][0].scores) == sorted(targets["t1"][0].scores, reverse=True)
    assert [(t.start_seconds, t.end_seconds) for t in targets["t0"]] == [(0.0, 10.0), (2.0, 12.0)]
    table = cache_as_dataset(out)
    assert len(table) == 7 and len(set(zip(table["audio_id"], table["crop_index"]))) == 7

    # a run interrupted mid-way leaves whole shards only: removing the last one recomputes just it
    import pyarrow.parquet as pq

    last = sorted((out / "shards").glob("*.parquet"))[-1]
    lost = pq.read_table(last).num_rows
    last.unlink()
    third = build_teacher_cache(demo_teacher, str(tmp_path / "data"), out, ["train", "audio_only"], batch_size=2)
    assert third["computed"] == lost and len(cache_as_dataset(out)) == 7


def test_n_best_hypotheses_are_every_beam_then_samples(demo_teacher):
    clips = [_noise(1.0, 5), _noise(2.0, 6)]
    _, top = demo_teacher.embed_and_caption(clips, num_beams=3)
    embeddings, hypotheses = demo_teacher.embed_and_hypotheses(clips, num_beams=3, num_samples=2)
    assert embeddings.clip.shape == (2, demo_teacher.embedding_dim)
    for clip_hypotheses, best in zip(hypotheses, top):
        assert [h.source for h in clip_hypotheses] == ["beam"] * 3 + ["sample"] * 2
        beam_scores = [h.score for h in clip_hypotheses[:3]]
        assert clip_hypotheses[0].text == best and beam_scores == sorted(beam_scores, reverse=True)
        assert all(np.isfinite(h.score) and h.score <= 0 for h in clip_hypotheses)
