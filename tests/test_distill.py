"""Distillation: the encoder losses by hand, one step per mode, batch mixing, exact resume, NaN guard."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from effnet_trm.data.io import rows_to_dataset
from effnet_trm.distill.config import load_config
from effnet_trm.distill.losses import ContrastiveDistillationHead, caption_loss, mse_distillation_loss
from effnet_trm.distill.trainer import NonFiniteLossError, Trainer, warmup_exponential_decay
from effnet_trm.teachers.base import Teacher, TeacherEmbeddings
from effnet_trm.teachers.cache import INFO_FILE, SHARD_DIR, _write_shard
from modeling_effnet_trm import masked_mean

TEACHER_DIM = 8


# --- losses by hand ------------------------------------------------------------------------------


def _log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def test_contrastive_loss_matches_hand_computation_with_masked_frames():
    torch.manual_seed(0)
    frames = torch.randn(3, 4, 5)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    frames[~mask] = 1e6  # padding must not matter
    teacher = torch.randn(3, 5)
    head = ContrastiveDistillationHead(student_dim=5, teacher_dim=5, shared_dim=5, init_temperature=0.07)
    with torch.no_grad():
        for projection in (head.stdnt_proj, head.tchr_proj):
            projection.weight.copy_(torch.eye(5))
            projection.bias.zero_()
    loss = head(masked_mean(frames, mask), teacher).item()

    student = np.stack([frames[i][mask[i]].numpy().mean(0) for i in range(3)])
    s = student / np.linalg.norm(student, axis=1, keepdims=True)
    t = teacher.numpy() / np.linalg.norm(teacher.numpy(), axis=1, keepdims=True)
    logits = (1 / 0.07) * s @ t.T
    expected = -0.5 * (np.mean(np.diag(_log_softmax(logits, 1))) + np.mean(np.diag(_log_softmax(logits.T, 1))))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert head.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    with torch.no_grad():
        head.logit_scale.fill_(10.0)  # clamped: the scale never exceeds 100
        clamped = head(masked_mean(frames, mask), teacher).item()
    assert clamped == pytest.approx(
        -0.5 * (np.mean(np.diag(_log_softmax(100 * s @ t.T, 1))) + np.mean(np.diag(_log_softmax(100 * t @ s.T, 1)))),
        rel=1e-4,
    )


def test_mse_and_caption_losses():
    student = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    teacher = torch.tensor([[0.0, 2.0], [2.0, 1.0]])
    assert mse_distillation_loss(student, teacher).item() == pytest.approx((1 + 0 + 4 + 4) / 4)
    logits = torch.log(torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]]))
    labels = torch.tensor([[0, -100]])
    assert caption_loss(logits, labels, label_smoothing=0.0).item() == pytest.approx(-math.log(0.7), rel=1e-5)
    smoothed = 0.9 * -math.log(0.7) + 0.1 * -np.mean(np.log([0.7, 0.2, 0.1]))
    assert caption_loss(logits, labels, label_smoothing=0.1).item() == pytest.approx(smoothed, rel=1e-5)


def test_schedule_warms_up_then_decays_exponentially():
    factor = warmup_exponential_decay(warmup_steps=4, total_steps=14, peak_lr=1e-3, final_lr=1e-5)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.1) and factor(14) == pytest.approx(0.01) and factor(99) == pytest.approx(0.01)


# --- a tiny corpus and teacher cache ----------------------------------------------------------------


def _flac(seed: int, seconds: float = 1.5) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 32000)) / 32000
    wave = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.02 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), 32000, format="FLAC")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from datasets import DatasetDict

    root = tmp_path_factory.mktemp("distill")
    captions = ["a dog barks", "rain falls", "a bell rings", "a cow moos", "wind blows", "a door closes"]

    def split(prefix, count, texts):
        return rows_to_dataset(
            [
                {
                    "audio": {"bytes": _flac(i + (10 if prefix == "a" else 0)), "path": f"{prefix}{i}.flac"},
                    "captions": [texts[i % len(texts)], texts[(i + 1) % len(texts)]],
                    "audio_id": f"{prefix}{i}",
                    "classes": [],
                    "source": "",
                    "license": "",
                }
                for i in range(count)
            ]
        )

    DatasetDict(
        {
            "train": split("t", 6, captions),
            "audio_only": split("a", 4, ["secret words never seen"]),  # must never reach the student
            "validation": split("v", 2, captions),
        }
    ).save_to_disk(str(root / "data"))
    cache = root / "cache"
    (cache / SHARD_DIR).mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_shard(
        cache / SHARD_DIR,
        [
            {
                "audio_id": audio_id,
                "crop_index": 0,
                "crop_start": 0.0,
                "split": "",
                "caption": captions[i % 6],
                "clip_embedding": rng.standard_normal(TEACHER_DIM).astype(np.float32).tolist(),
            }
            for i, audio_id in enumerate([f"t{i}" for i in range(6)] + [f"a{i}" for i in range(4)])
        ],
    )
    (cache / INFO_FILE).write_text(f'{{"embedding_dim": {TEACHER_DIM}, "teacher_sampling_rate": 32000}}')
    return root


def _config(root, name, **overrides):
    values = {
        "data.dataset": str(root / "data"),
        "data.teacher_cache": str(root / "cache"),
        "data.audio_only_split": "audio_only",
        "data.crop_seconds": 1.0,
        "model.config": {
            "encoder_name": "efficientnet_b0",
            "encoder_hidden_size": 1280,
            "d_model": 64,
            "decoder_ffn_dim": 128,
            "decoder_attention_heads": 2,
        },
        "training.epochs": 2,
        "training.labelled_batch_size": 2,
        "training.audio_only_batch_size": 2,
        "training.lr": 1e-3,
        "training.warmup_epochs": 0.5,
        "training.save_every_steps": 2,
        "training.validate_every_epochs": 100,
        "training.log_with": None,
        "training.num_beams": 1,
        "training.max_words": 6,
        "training.num_workers": 0,
        "output_dir": str(root / name),
    }
    values.update(overrides)
    import yaml

    return load_config(
        None,
        [
            f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for k, v in values.items()
        ],
    )


def _student_state(trainer):
    return {k: v.clone() for k, v in trainer.accelerator.unwrap_model(trainer.module).student.state_dict().items()}


@pytest.mark.parametrize("mode", ["none", "mse", "contrastive"])
def test_one_training_step_per_mode_moves_the_loss(tiny_run, mode):
    overrides = {"kd.encoder_loss": mode}
    if mode == "none":
        overrides.update({"kd.sequence_kd": False, "data.audio_only_split": None})
    trainer = Trainer(_config(tiny_run, f"step-{mode}", **overrides))
    batch = trainer.batches[0]
    trainer.module.eval()  # no dropout: the same batch gives the same loss until the weights move
    with torch.no_grad():
        before = trainer.module(batch)
    trainer.train_step(batch)
    with torch.no_grad():
        after = trainer.module(batch)
    expected_terms = {
        "none": {"sup", "total"},
        "mse": {"sup", "seq", "enc", "total"},
        "contrastive": {"sup", "seq", "enc", "total"},
    }[mode]
    assert set(before) == expected_terms
    assert after["total"].item() < before["total"].item()
    student = trainer.accelerator.unwrap_model(trainer.module).student
    assert (student.config.encoder_projection_dim == TEACHER_DIM) == (mode == "mse")


def test_labelled_and_audio_only_mixing_drops_audio_only_captions(tiny_run):
    trainer = Trainer(_config(tiny_run, "mixing", **{"kd.encoder_loss": "contrastive"}))
    assert "captions" not in trainer.batches.audio_only.rows.column_names
    assert "secret" not in trainer.tokenizer.get_vocab()  # the vocabulary comes from labelled captions only
    batch = trainer.batches[1]
    assert batch.num_labelled == 2 and batch.input_values.shape[0] == 4
    assert (
        batch.labels.shape[0] == 2 and batch.teacher_labels.shape[0] == 4 and batch.teacher_embeddings.shape == (4, 8)
    )
    assert [a[0] for a in batch.audio_ids] == ["t", "t", "a", "a"]
    # every labelled clip once per epoch; audio-only clips cycle
    epoch = [i for step in range(trainer.batches.steps_per_epoch) for i in trainer.batches.labelled_indices(0, step)]
    assert sorted(epoch) == list(range(6))
    cycled = [i for step in range(4) for i in trainer.batches.audio_only_indices(step)]
    assert sorted(cycled[:4]) == sorted(cycled[4:]) == list(range(4))


def test_resumed_run_ends_with_the_same_weights(tiny_run):
    uninterrupted = Trainer(_config(tiny_run, "full"))
    uninterrupted.train()
    expected = _student_state(uninterrupted)

    interrupted = Trainer(_config(tiny_run, "resumed"))
    assert interrupted.train(stop_after_steps=4) is None  # "crash" mid-epoch 2 (3 steps per epoch)
    resumed = Trainer(_config(tiny_run, "resumed"))
    model_dir = resumed.train(resume="latest")
    assert resumed.state.global_step == uninterrupted.state.global_step == 6
    for name, value in _student_state(resumed).items():
        torch.testing.assert_close(value, expected[name], msg=name)
    assert (model_dir / "model.safetensors").exists() and (model_dir / "README.md").exists()
    assert "config.json" in {p.name for p in model_dir.iterdir()}


def _assert_same_batches(first, second):
    assert [b.audio_ids for b in first] == [b.audio_ids for b in second]
    for one, other in zip(first, second):
        for name in ("input_values", "attention_mask", "labels", "teacher_labels", "teacher_embeddings"):
            torch.testing.assert_close(getattr(one, name), getattr(other, name), msg=name)


def test_batches_do_not_depend_on_workers_preloading_or_where_the_loader_starts(tiny_run):
    lazy = Trainer(_config(tiny_run, "workers"))
    expected = list(lazy.batch_loader(0, 6))  # both epochs, in the training process
    assert len(expected) == 6 and lazy.batches.labelled._waveforms is None  # nothing decoded up front
    _assert_same_batches(
        expected, list(Trainer(_config(tiny_run, "workers", **{"training.num_workers": 2})).batch_loader(0, 6))
    )
    preloaded = Trainer(_config(tiny_run, "workers", **{"data.preload_audio": True, "training.num_workers": 2}))
    assert len(preloaded.batches.labelled._waveforms) == 6
    _assert_same_batches(expected[3:], list(preloaded.batch_loader(3, 6)))  # a loader starting at epoch 2


def test_run_resumed_with_two_workers_ends_like_one_without_workers(tiny_run):
    uninterrupted = Trainer(_config(tiny_run, "no-workers"))
    uninterrupted.train()
    expected = _student_state(uninterrupted)

    two_workers = {"training.num_workers": 2, "training.persistent_workers": False}  # new workers each epoch
    assert Trainer(_config(tiny_run, "two-workers", **two_workers)).train(stop_after_steps=4) is None
    resumed = Trainer(_config(tiny_run, "two-workers", **two_workers))
    resumed.train(resume="latest")
    assert resumed.state.global_step == 6
    for name, value in _student_state(resumed).items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_teacher_cache_is_read_lazily_and_follows_new_shards(tiny_run, tmp_path):
    import pickle
    import shutil

    from effnet_trm.teachers.cache import ARROW_DIR, load_teacher_cache

    cache = tmp_path / "cache"
    shutil.copytree(tiny_run / "cache", cache, ignore=shutil.ignore_patterns(ARROW_DIR))
    teacher, info = load_teacher_cache(cache)
    assert info["embedding_dim"] == TEACHER_DIM and len(teacher) == 10 and "t3" in teacher and "x" not in teacher
    assert sorted(teacher) == sorted([f"t{i}" for i in range(6)] + [f"a{i}" for i in range(4)])
    assert teacher.missing(["t0", "x", "a3", "y"]) == ["x", "y"] and not teacher.has_alternatives
    (window,) = teacher["t1"]
    assert (
        window.caption == "rain falls" and window.clip_embedding.shape == (TEACHER_DIM,) and window.end_seconds is None
    )
    with pytest.raises(KeyError):
        teacher["x"]
    # a later build adds shards: a second window for t1 (two 10 s windows), n-best captions, a new clip
    _write_shard(
        cache / SHARD_DIR,
        [
            {
                "audio_id": audio_id,
                "crop_index": crop,
                "crop_start": start,
                "crop_end": start + 10.0,
                "split": "",
                "caption": "new",
                "captions": ["new", "other"],
                "caption_scores": [-0.1, -0.2],
                "clip_embedding": [float(crop)] * TEACHER_DIM,
            }
            for audio_id, crop, start in (("t1", 1, 5.0), ("z", 0, 0.0))
        ],
    )
    teacher, _ = load_teacher_cache(cache)
    assert [(w.caption, w.start_seconds, w.end_seconds) for w in teacher["t1"]] == [
        ("rain falls", 0.0, 10.0),
        ("new", 5.0, 15.0),
    ]
    assert teacher["z"][0].hypotheses == ("new", "other") and teacher.has_alternatives and len(teacher) == 11
    copy = pickle.loads(pickle.dumps(teacher))  # as a spawned DataLoader worker receives it
    np.testing.assert_array_equal(copy["t1"][1].clip_embedding, np.ones(TEACHER_DIM, np.float32))


def test_non_finite_loss_stops_with_a_clear_message(tiny_run):
    trainer = Trainer(_config(tiny_run, "nan"))
    trainer.train(stop_after_steps=2)
    checkpoint = trainer.latest_checkpoint()
    saved = sorted(p.name for p in checkpoint.iterdir())
    batch = trainer.batches[0]
    batch.input_values[:] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"the loss became nan .* last good checkpoint \(.*step_00000002"):
        trainer.train_step(batch)
    assert sorted(p.name for p in trainer.latest_checkpoint().iterdir()) == saved


# --- a streamed audio-only pool ------------------------------------------------------------------


@pytest.fixture(scope="module")
def streamed_pool(tiny_run, tmp_path_factory):
    """A local pool in the Hub's Parquet layout (8 clips in 4 shards, read as a stream; and an
    `orphans` split whose clip the teacher never saw), and a teacher cache that covers the 8."""
    import shutil

    from effnet_trm.teachers.cache import ARROW_DIR

    root = tmp_path_factory.mktemp("stream")
    (root / "pool" / "data").mkdir(parents=True)

    def rows(ids):
        return rows_to_dataset(
            [
                {
                    "audio": {"bytes": _flac(20 + i), "path": f"{a}.flac"},
                    "captions": ["secret words"],
                    "audio_id": a,
                    "classes": [],
                    "source": "",
                    "license": "",
                }
                for i, a in enumerate(ids)
            ]
        )

    pool = rows([f"s{i}" for i in range(8)])
    for shard in range(4):
        pool.shard(4, shard, contiguous=True).to_parquet(
            str(root / "pool" / "data" / f"audio_only-{shard:05d}-of-00004.parquet")
        )
    rows(["orphan"]).to_parquet(str(root / "pool" / "data" / "orphans-00000-of-00001.parquet"))
    shutil.copytree(tiny_run / "cache", root / "cache", ignore=shutil.ignore_patterns(ARROW_DIR))
    rng = np.random.default_rng(1)
    _write_shard(
        root / "cache" / SHARD_DIR,
        [
            {
                "audio_id": f"s{i}",
                "crop_index": 0,
                "crop_start": 0.0,
                "split": "",
                "caption": "a dog barks",
                "clip_embedding": rng.standard_normal(TEACHER_DIM).astype(np.float32).tolist(),
            }
            for i in range(8)
        ],
    )
    return root


def _streamed(tiny_run, streamed_pool, name, **overrides):
    return _config(
        tiny_run,
        name,
        **{
            "data.audio_only_dataset": str(streamed_pool / "pool"),
            "data.audio_only_streaming": True,
            "data.teacher_cache": str(streamed_pool / "cache"),
            **overrides,
        },
    )


def _trained_batches(trainer, first, stop):
    """The batches a training loop over steps [first, stop) sees, recorded as it records them."""
    batches = [batch for batch in trainer.batch_loader(first, stop) if batch is not None]
    for batch in batches:
        trainer.stream.consumed(batch)
    return batches


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_pool_feeds_the_audio_only_half_and_resumes_where_each_stream_stood(tiny_run, streamed_pool, workers):
    import json

    config = _streamed(tiny_run, streamed_pool, f"stream-{workers}", **{"training.num_workers": workers})
    trainer = Trainer(config)
    expected = _trained_batches(trainer, 0, 8)  # 2 pool clips a step: each stream makes 2 passes or more
    assert [len(b.audio_ids) for b in expected] == [4] * 8 and all(
        b.teacher_embeddings.shape == (4, 8) for b in expected
    )
    pool_ids = [a for b in expected for a in b.audio_ids[2:]]
    assert set(pool_ids) == {f"s{i}" for i in range(8)} and "secret" not in trainer.tokenizer.get_vocab()
    for step, batch in enumerate(expected[:3]):  # the labelled half is the one of a run without the stream
        labelled = trainer.batches[step]
        assert batch.audio_ids[:2] == labelled.audio_ids
        torch.testing.assert_close(batch.input_values[:2], labelled.input_values)

    interrupted = Trainer(config)
    _trained_batches(interrupted, 0, 3)
    saved = json.loads(json.dumps(interrupted.stream.state_dict()))  # as a checkpoint stores it
    resumed = Trainer(config)
    resumed.stream.load_state_dict(saved, max(1, workers))
    _assert_same_batches(expected[3:], _trained_batches(resumed, 3, 8))  # step 3 is odd: stream 1 of 2 workers
    if workers:
        with pytest.raises(ValueError, match="resume it with the same number of workers"):
            Trainer(config).stream.load_state_dict(saved, 1)
        with pytest.raises(ValueError, match="in 2 processes, now 1: resume it with the same number of processes"):
            Trainer(config).stream.load_state_dict({**saved, "num_processes": 2}, max(1, workers))


def test_streamed_run_resumes_to_the_same_weights(tiny_run, streamed_pool):
    config = {"training.num_workers": 2, "training.persistent_workers": False}
    uninterrupted = Trainer(_streamed(tiny_run, streamed_pool, "stream-full", **config))
    uninterrupted.train()
    assert Trainer(_streamed(tiny_run, streamed_pool, "stream-resumed", **config)).train(stop_after_steps=4) is None
    resumed = Trainer(_streamed(tiny_run, streamed_pool, "stream-resumed", **config))
    resumed.train(resume="latest")
    expected = _student_state(uninterrupted)
    for name, value in _student_state(resumed).items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_streamed_pool_errors_name_the_clip_and_the_limits(tiny_run, streamed_pool):
    orphans = Trainer(_streamed(tiny_run, streamed_pool, "orphans", **{"data.audio_only_split": "orphans"}))
    with pytest.raises(KeyError, match="has no entry for clip 'orphan': build it"):
        next(iter(orphans.batch_loader(0, 1)))
    with pytest.raises(ValueError, match="has 1 shards, 1 per process: at most 1 DataLoader workers"):
        Trainer(
            _streamed(
                tiny_run, streamed_pool, "orphans", **{"data.audio_only_split": "orphans", "training.num_workers": 2}
            )
        )
    with pytest.raises(ValueError, match="is a save_to_disk folder"):
        Trainer(
            _config(
                tiny_run,
                "disk",
                **{"data.audio_only_dataset": str(tiny_run / "data"), "data.audio_only_streaming": True},
            )
        )


@pytest.fixture(scope="module")
def live_teacher(tiny_run, tmp_path_factory):
    """A small real HTSAT-BART teacher folder (teacher.pt + tokenizer), and a cache of its width for
    the labelled clips only: the streamed pool's clips get their targets from the live teacher."""
    from effnet_trm.teachers.htsat_bart import CHECKPOINT_FILE, HTSATBartCaptioner, save_wavcaps_checkpoint
    from effnet_trm.tokenization import build_word_tokenizer

    root = tmp_path_factory.mktemp("live")
    tokenizer = build_word_tokenizer(["a dog barks", "rain falls", "a bell rings"])
    torch.manual_seed(0)
    model = HTSATBartCaptioner.for_tokenizer("demo", tokenizer)
    (root / "teacher").mkdir()
    save_wavcaps_checkpoint(model, root / "teacher" / CHECKPOINT_FILE, "demo")
    tokenizer.save_pretrained(root / "teacher")
    width = model.htsat_config.num_features
    (root / "cache" / SHARD_DIR).mkdir(parents=True)
    rng = np.random.default_rng(2)
    _write_shard(
        root / "cache" / SHARD_DIR,
        [
            {
                "audio_id": f"t{i}",
                "crop_index": 0,
                "crop_start": 0.0,
                "split": "",
                "caption": "a dog barks",
                "clip_embedding": rng.standard_normal(width).astype(np.float32).tolist(),
            }
            for i in range(6)
        ],
    )
    (root / "cache" / INFO_FILE).write_text(f'{{"embedding_dim": {width}, "teacher_sampling_rate": 32000}}')
    return root


def _live(tiny_run, streamed_pool, live_teacher, name, **overrides):
    return _streamed(
        tiny_run,
        streamed_pool,
        name,
        **{
            "data.teacher_cache": str(live_teacher / "cache"),
            "data.audio_only_live_teacher": str(live_teacher / "teacher"),
            **overrides,
        },
    )


def test_live_teacher_targets_describe_exactly_the_students_crop(tiny_run, streamed_pool, live_teacher):
    from effnet_trm.audio import resample
    from effnet_trm.data import decode_audio

    trainer = Trainer(_live(tiny_run, streamed_pool, live_teacher, "live", **{"training.num_workers": 2}))
    pool = {row["audio_id"]: decode_audio(row["audio"], 32000) for row in trainer.stream.stream}
    batches = _trained_batches(trainer, 0, 3)
    assert all(b.teacher_embeddings is None and b.teacher_labels is None for b in batches)  # none cached
    for batch in batches:
        windows = batch.live_teacher.windows
        completed = trainer.complete(batch)
        assert completed.live_teacher is None and completed.teacher_labels.shape[0] == 4
        expected = trainer.live_teacher.teacher.embed(windows).clip
        torch.testing.assert_close(completed.teacher_embeddings[2:], expected, atol=1e-5, rtol=1e-5)
        for row, (audio_id, window) in enumerate(zip(batch.audio_ids[2:], windows), start=2):
            clip = pool[audio_id]  # a 1 s window at 32 kHz, cut from the 1.5 s clip
            starts = [
                s for s in range(clip.size - window.size + 1) if np.array_equal(clip[s : s + window.size], window)
            ]
            assert window.size == 32000 and len(starts) == 1
            # the student hears that window, resampled once
            heard = trainer.batches.feature_extractor([resample(window, 32000, 16000)], sampling_rate=16000)
            torch.testing.assert_close(completed.input_values[row], heard["input_values"][0])
    # the labelled rows keep the cache's targets
    labelled = trainer.batches[0]
    assert batches[0].audio_ids[:2] == labelled.audio_ids


def test_live_teacher_run_resumes_to_the_same_weights(tiny_run, streamed_pool, live_teacher):
    uninterrupted = Trainer(_live(tiny_run, streamed_pool, live_teacher, "live-full"))
    uninterrupted.train()
    assert Trainer(_live(tiny_run, streamed_pool, live_teacher, "live-resumed")).train(stop_after_steps=4) is None
    resumed = Trainer(_live(tiny_run, streamed_pool, live_teacher, "live-resumed"))
    resumed.train(resume="latest")
    expected = _student_state(uninterrupted)
    for name, value in _student_state(resumed).items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_live_teacher_is_checked_against_the_cache_and_the_crop(tiny_run, streamed_pool, live_teacher):
    with pytest.raises(ValueError, match=r"gives \d+-d clip embeddings, the teacher cache 8-d: the labelled"):
        Trainer(
            _live(
                tiny_run,
                streamed_pool,
                live_teacher,
                "live-dim",
                **{"data.teacher_cache": str(streamed_pool / "cache")},
            )
        )
    with pytest.raises(ValueError, match=r"crop_seconds=12.0 is longer than the live teacher's window \(10.23 s\)"):
        Trainer(_live(tiny_run, streamed_pool, live_teacher, "live-crop", **{"data.crop_seconds": 12.0}))
    with pytest.raises(ValueError, match="audio_only_live_teacher is for streamed pools"):
        _live(tiny_run, streamed_pool, live_teacher, "live-disk", **{"data.audio_only_streaming": False})


# --- the student's crop lies in the teacher's window -------------------------------------------------


class _WindowTeacher(Teacher):
    """A stand-in teacher whose clip embedding is the mean of the audio it hears: on a ramp
    (sample value = time / 25 s) that mean is the centre of the window, in units of 25 s."""

    sampling_rate = 32000
    embedding_dim = 1
    max_samples = int(10.23 * 32000)

    def embed(self, waveforms):
        return TeacherEmbeddings(clip=torch.tensor([[float(np.mean(w))] for w in waveforms]))

    def caption(self, waveforms, num_beams=3, max_length=30):
        return [f"window {i}" for i in range(len(waveforms))]


@pytest.fixture(scope="module")
def long_clip_cache(tmp_path_factory):
    """A 25 s ramp clip (teacher windows 0-10, 10-20, 15-25 s) and its teacher cache."""
    from datasets import DatasetDict

    from effnet_trm.teachers.cache import build_teacher_cache

    root = tmp_path_factory.mktemp("aligned")
    ramp = (np.arange(25 * 16000) / (25 * 16000)).astype(np.float32) * 0.9
    buffer = io.BytesIO()
    sf.write(buffer, ramp, 16000, format="FLAC", subtype="PCM_24")
    rows = rows_to_dataset(
        [
            {
                "audio": {"bytes": buffer.getvalue(), "path": "long.flac"},
                "captions": ["a ramp"],
                "audio_id": "long",
                "classes": [],
                "source": "",
                "license": "",
            }
        ]
    )
    DatasetDict({"train": rows}).save_to_disk(str(root / "data"))
    build_teacher_cache(_WindowTeacher(), str(root / "data"), root / "cache", ["train"], batch_size=4)
    return root, rows


def _seconds(value: float) -> float:
    return value / 0.9 * 25  # ramp value -> time in the clip


@pytest.mark.parametrize("crop_seconds", [10.0, 4.0])
def test_student_crop_lies_in_the_teacher_window_of_a_long_clip(long_clip_cache, crop_seconds):
    from effnet_trm.distill.data import ClipSource
    from effnet_trm.teachers.cache import load_teacher_cache

    root, rows = long_clip_cache
    teacher, _ = load_teacher_cache(root / "cache")
    assert [(t.start_seconds, t.end_seconds) for t in teacher["long"]] == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]
    source = ClipSource(rows, True, 16000, crop_seconds, teacher)
    rng = np.random.default_rng(0)
    seen_windows = set()
    for _ in range(30):
        clip = source.clip(0, rng)
        crop_start, crop_end = _seconds(clip.waveform[0]), _seconds(clip.waveform[-1])
        window = clip.teacher
        seen_windows.add(window.start_seconds)
        assert clip.waveform.size == int(crop_seconds * 16000)
        # inside the window the teacher heard, which is the window its embedding describes
        assert window.start_seconds - 0.01 <= crop_start and crop_end <= window.end_seconds + 0.01
        assert _seconds(window.clip_embedding[0]) == pytest.approx(
            (window.start_seconds + window.end_seconds) / 2, abs=0.01
        )
        if crop_seconds == 10.0:  # crop == window: the student hears exactly what the teacher heard
            assert crop_start == pytest.approx(window.start_seconds, abs=0.01)
    assert seen_windows == {0.0, 10.0, 15.0}  # every window is drawn


def test_caches_without_window_ends_load_the_same_windows(long_clip_cache, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    from effnet_trm.teachers.cache import load_teacher_cache

    root, _ = long_clip_cache
    old = tmp_path / "old_cache"
    shutil.copytree(root / "cache", old)
    for shard in (old / SHARD_DIR).glob("*.parquet"):  # the layout before crop_end was stored
        pq.write_table(pq.read_table(shard).drop(["crop_end"]), shard)
    (old / INFO_FILE).write_text('{"embedding_dim": 1}')
    windows = [(t.start_seconds, t.end_seconds) for t in load_teacher_cache(old)[0]["long"]]
    assert windows == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]


# --- n-best sequence KD --------------------------------------------------------------------------


def test_teacher_caption_rules_draw_from_the_n_best():
    from collections import Counter

    from effnet_trm.distill.data import choose_teacher_caption
    from effnet_trm.teachers.cache import TeacherTargets

    targets = TeacherTargets(
        "a", np.zeros(1, np.float32), hypotheses=("a", "b", "c"), scores=(math.log(0.6), math.log(0.3), math.log(0.1))
    )
    rng = np.random.default_rng(0)

    def frequencies(rule, temperature=1.0, draws=6000):
        counts = Counter(choose_teacher_caption(targets, rule, rng, temperature) for _ in range(draws))
        return np.array([counts[c] / draws for c in "abc"])

    np.testing.assert_array_equal(frequencies("top1", draws=50), [1, 0, 0])
    np.testing.assert_allclose(frequencies("uniform"), [1 / 3] * 3, atol=0.03)
    np.testing.assert_allclose(frequencies("score"), [0.6, 0.3, 0.1], atol=0.03)
    np.testing.assert_allclose(
        frequencies("score", temperature=2.0), np.sqrt([0.6, 0.3, 0.1]) / np.sqrt([0.6, 0.3, 0.1]).sum(), atol=0.03
    )
    top_only = TeacherTargets("a", np.zeros(1, np.float32), hypotheses=("a",), scores=(0.0,))
    assert choose_teacher_caption(top_only, "score", rng) == "a"


def test_n_best_rule_on_a_top1_cache_fails_clearly(tiny_run):
    # the tiny cache is written in the layout before n-best caching: one caption per clip
    with pytest.raises(
        ValueError, match="holds one caption per clip .* rebuild it with datasets_scripts/cache_teacher"
    ):
        Trainer(_config(tiny_run, "nbest-old-cache", **{"kd.sequence_kd_choice": "uniform"}))
    with pytest.raises(ValueError, match="kd.sequence_kd_choice must be top1, uniform or score"):
        _config(tiny_run, "bad-rule", **{"kd.sequence_kd_choice": "best"})


# --- collapse-aware checkpoint selection ----------------------------------------------------------


def test_selection_prefers_varied_captions_over_a_collapsed_high_score(tiny_run, monkeypatch, capsys):
    from effnet_trm.evaluation import metrics, runner

    # per validation: the captions of the 2 validation clips and the CIDEr-D they get
    scripted = iter(
        [
            (["rain falls", "rain falls"], 0.9),  # collapsed, high: kept while nothing better
            (["a dog barks", "a cow moos"], 0.4),  # varied: beats any collapsed score
            (["rain falls", "rain falls"], 1.2),  # collapsed again, higher: not selected
            (["a dog barks", "a bell rings"], 0.5),
        ]
    )  # varied and better: selected
    current = {}

    def fake_caption_split(captioner, rows, **kwargs):
        current["captions"], current["score"] = next(scripted)
        return current["captions"]

    monkeypatch.setattr(runner, "caption_split", fake_caption_split)
    monkeypatch.setattr(
        metrics, "compute_caption_metrics", lambda *a, **k: metrics.CaptionScores(corpus={"cider_d": current["score"]})
    )
    trainer = Trainer(_config(tiny_run, "selection", **{"training.min_distinct_fraction": 0.75}))
    selected = []
    for epoch in range(1, 5):
        trainer.state.epoch = epoch
        trainer.validate()
        selected.append(trainer.state.best_epoch)
    assert selected == [1, 2, 2, 4]
    printed = capsys.readouterr().out
    assert (
        "epoch 3 validation: cider_d 1.2000, distinct captions 1 of 2 (below training.min_distinct_fraction 0.75)"
        in printed
        and "epoch 4 validation: cider_d 0.5000, distinct captions 2 of 2 -> selected" in printed
    )
    assert [h["distinct_captions"] for h in trainer.state.history] == [1, 2, 1, 2]
    card = (trainer.finish() / "README.md").read_text()
    assert "Selected: the best cider_d of the validations whose captions were at least 75% distinct" in card
    assert "2 distinct validation captions (100%)" in card


def test_selection_with_only_collapsed_checkpoints_warns_in_the_model_card(tiny_run):
    from effnet_trm.distill.trainer import TrainerState, selection_key, training_details

    assert selection_key(0.1, 0.5, 0.0) > selection_key(0.05, 1.0, 0.0)  # 0.0: the metric alone (the paper)
    config = _config(tiny_run, "card", **{"training.min_distinct_fraction": 0.25})
    state = TrainerState(
        best_epoch=3,
        best_score=0.7,
        best_eligible=False,
        history=[{"epoch": 3, "cider_d": 0.7, "distinct_captions": 2, "distinct_fraction": 0.05}],
    )
    card = training_details(config, state)
    assert (
        "**Warning**: no validation reached 25% distinct captions" in card
        and "2 distinct validation captions (5%)" in card
    )


# --- the distillation table ----------------------------------------------------------------------


def test_distill_table_reports_the_no_seq_kd_ablation_without_training(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "distill_table.py"
    spec = importlib.util.spec_from_file_location("distill_table", path)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    assert table.VARIANTS["contrastive + audio-only, no seq KD"] == [
        "kd.encoder_loss=contrastive",
        "kd.sequence_kd=false",
    ]
    # the folder names of the earlier variants are unchanged, so their finished runs are still found
    assert table.run_name("contrastive + audio-only", 0) == "contrastive_audio-only_seed0"
    assert table.run_name("contrastive + audio-only, no seq KD", 1) == "contrastive_audio-only_no_seq_KD_seed1"
    (tmp_path / "settings.json").write_text('{"preset": "quick", "epochs": 8, "teacher_epochs": 40}')
    for name, cider in (("contrastive_audio-only_seed0", 0.5), ("contrastive_audio-only_no_seq_KD_seed0", 0.3)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test_scores.json").write_text(json.dumps({"cider_d": cider, "distinct_captions": 9}))
    assert table.main(["--preset", "quick", "--seeds", "0", "--out", str(tmp_path), "--report-only"]) == 0
    printed = capsys.readouterr().out
    assert "note:" in printed  # made with another base config: reported, flagged
    rows = {line[:36].strip(): line for line in printed.splitlines() if "run(s)" in line or "not run" in line}
    assert (
        "0.300 +- 0.000" in rows["contrastive + audio-only, no seq KD"]
        and "1 run(s)" in rows["contrastive + audio-only"]
    )
    assert rows["scratch"].endswith("not run") and not (tmp_path / "teacher").exists()  # nothing was trained
    with pytest.raises(SystemExit, match="pass another --out"):  # training into that folder is refused
        table.main(["--preset", "quick", "--seeds", "0", "--out", str(tmp_path)])


# --- regularisers ----------------------------------------------------------------------------------


def _tiny_student():
    from configuration_effnet_trm import EffNetTrmConfig
    from modeling_effnet_trm import EffNetTrmForAudioCaptioning

    torch.manual_seed(0)
    return EffNetTrmForAudioCaptioning(
        EffNetTrmConfig(
            vocab_size=20,
            encoder_name="efficientnet_b0",
            encoder_hidden_size=1280,
            d_model=32,
            decoder_ffn_dim=64,
            decoder_attention_heads=2,
        )
    )


def test_spec_augment_masks_the_training_log_mel_only_and_never_reaches_the_saved_model(tmp_path):
    from effnet_trm.distill.config import KDConfig
    from effnet_trm.distill.trainer import DistillationModule
    from modeling_effnet_trm import EffNetTrmForAudioCaptioning, EffNetTrmLogMel

    student = _tiny_student()
    module = DistillationModule(student, KDConfig(encoder_loss="none", sequence_kd=False), None, 0.1, spec_augment=True)
    wave = torch.randn(3, 16000)
    clean = EffNetTrmLogMel(student.config)(wave)
    module.eval()
    torch.testing.assert_close(student.encoder.front_end(wave), clean)
    module.train()
    masked = student.encoder.front_end(wave)
    changed = masked != clean
    assert changed.any() and (masked[changed] == 0).all()
    for row in range(3):  # whole time stripes (< 64 frames) and whole mel stripes (< 8 bins)
        time_stripes = (masked[row] == 0).all(dim=0)
        mel_stripes = (masked[row] == 0).all(dim=1)
        assert (changed[row] <= (time_stripes.unsqueeze(0) | mel_stripes.unsqueeze(1))).all()
        assert 0 < time_stripes.sum() < 2 * 64 and mel_stripes.sum() < 2 * 8
    student.save_pretrained(tmp_path / "model")
    reloaded = EffNetTrmForAudioCaptioning.from_pretrained(tmp_path / "model").train()
    torch.testing.assert_close(reloaded.encoder.front_end(wave), clean)  # the saved model is the plain one


def test_frozen_stages_encode_like_the_student_train_only_the_rest_and_reuse_their_cache():
    from effnet_trm.distill.config import KDConfig
    from effnet_trm.distill.trainer import DistillationModule

    student = _tiny_student()
    module = DistillationModule(
        student,
        KDConfig(encoder_loss="none", sequence_kd=False),
        None,
        0.1,
        frozen_encoder_stages=3,
        cache_frozen_stages=True,
    )
    frozen = module.frozen_stages
    waves = torch.randn(3, 12000)
    mask = torch.ones(3, 12000, dtype=torch.long)
    mask[2, 7000:] = 0  # two lengths: the student runs them as two groups, and so must the cache
    module.train()
    assert not frozen.frozen.training and frozen.trained.training  # batch norm statistics stay as loaded
    student.encoder.eval()  # no stochastic depth: both paths compute the same thing
    expected = student.encode(waves, mask)
    cached = frozen.encode(waves, mask)
    for name in ("last_hidden_state", "attention_mask", "clip_embedding"):
        torch.testing.assert_close(cached[name], expected[name], atol=1e-5, rtol=1e-4, msg=name)
    assert (frozen.hits, frozen.misses, len(frozen.cache)) == (0, 3, 3)

    student.encoder.train()
    frozen.keep_frozen_in_eval_mode()
    frozen.encode(waves[:2]).clip_embedding.sum().backward()  # both clips again, whole
    assert frozen.hits == 2 and len(frozen.cache) == 3
    backbone = student.encoder.backbone
    assert backbone.conv_stem.weight.grad is None and all(p.grad is None for p in backbone.blocks[:3].parameters())
    assert (
        all(p.grad is not None for p in backbone.blocks[3:].parameters()) and backbone.conv_head.weight.grad is not None
    )
    assert "3 clips cached" in frozen.report() and (frozen.hits, frozen.misses) == (0, 0)

    with pytest.raises(ValueError, match="between 0 and 7"):
        DistillationModule(
            _tiny_student(), KDConfig(encoder_loss="none", sequence_kd=False), None, 0.1, frozen_encoder_stages=8
        )


def test_frozen_head_freezes_the_whole_encoder_and_only_the_decoder_learns():
    from effnet_trm.distill.config import KDConfig
    from effnet_trm.distill.trainer import DistillationModule

    student = _tiny_student()
    kd = KDConfig(encoder_loss="none", sequence_kd=False)
    module = DistillationModule(
        student, kd, None, 0.1, frozen_encoder_stages=7, cache_frozen_stages=True, freeze_encoder_head=True
    )
    waves = torch.randn(2, 12000)
    student.encoder.eval()
    expected = student.encode(waves)
    encoded = module.frozen_stages.encode(waves)
    torch.testing.assert_close(encoded.clip_embedding, expected.clip_embedding, atol=1e-5, rtol=1e-4)
    assert len(module.frozen_stages.trained) == 0 and module.frozen_stages.report().startswith(
        "frozen encoder stages: 2 clips cached"
    )
    module.train()
    assert not student.encoder.backbone.bn2.training  # its statistics stay as pretrained
    encoded = module.frozen_stages.encode(waves)
    student.decoder(
        torch.ones(2, 3, dtype=torch.long), encoded.last_hidden_state, encoded.attention_mask
    ).sum().backward()
    assert all(p.grad is None for p in student.encoder.backbone.parameters())
    assert all(p.grad is not None for p in student.decoder.layers.parameters())

    with pytest.raises(ValueError, match="needs every stage frozen: training.frozen_encoder_stages=7"):
        DistillationModule(_tiny_student(), kd, None, 0.1, frozen_encoder_stages=6, freeze_encoder_head=True)


def test_run_with_a_frozen_head_keeps_every_encoder_weight_and_says_so(tiny_run):
    frozen = {"training.frozen_encoder_stages": 7, "training.freeze_encoder_head": True}
    with pytest.raises(ValueError, match="set kd.encoder_loss=none"):
        _config(tiny_run, "x", **frozen, **{"kd.encoder_loss": "contrastive"})
    with pytest.raises(ValueError, match="needs every stage frozen too"):  # else silently trained whole
        _config(tiny_run, "x", **{"training.freeze_encoder_head": True, "kd.encoder_loss": "none"})

    supervised = {"kd.encoder_loss": "none", "data.audio_only_split": None, "data.crop_seconds": 2.0}
    trainer = Trainer(
        _config(tiny_run, "frozen-head", **frozen, **supervised, **{"training.cache_frozen_stages": True})
    )
    student = trainer.accelerator.unwrap_model(trainer.module).student
    encoder_before = {k: v.clone() for k, v in student.encoder.backbone.state_dict().items()}
    decoder_before = student.decoder.layers[0].self_attn.q_proj.weight.clone()
    model_dir = trainer.train()
    for name, value in student.encoder.backbone.state_dict().items():  # batch-norm statistics included
        assert torch.equal(value, encoder_before[name]), name
    assert not torch.equal(student.decoder.layers[0].self_attn.q_proj.weight, decoder_before)
    assert (
        "frozen whole (its weights as initialised), only the decoder trained" in (model_dir / "README.md").read_text()
    )


def test_frozen_stage_cache_refuses_spec_augment(tiny_run):
    with pytest.raises(ValueError, match="SpecAugment"):
        _config(
            tiny_run,
            "x",
            **{
                "training.frozen_encoder_stages": 3,
                "training.cache_frozen_stages": True,
                "training.spec_augment": True,
            },
        )
    with pytest.raises(ValueError, match="nothing frozen"):
        _config(tiny_run, "x", **{"training.cache_frozen_stages": True})


def test_run_with_frozen_cached_stages_trains_and_resumes_to_the_same_weights(tiny_run):
    frozen = {"training.frozen_encoder_stages": 4, "training.cache_frozen_stages": True, "data.crop_seconds": 2.0}
    uninterrupted = Trainer(_config(tiny_run, "frozen-full", **frozen))
    backbone = uninterrupted.accelerator.unwrap_model(uninterrupted.module).student.encoder.backbone
    stem, last_stage = backbone.conv_stem.weight.clone(), backbone.blocks[-1][0].conv_pw.weight.clone()
    uninterrupted.train()
    assert torch.equal(backbone.conv_stem.weight, stem) and not torch.equal(
        backbone.blocks[-1][0].conv_pw.weight, last_stage
    )
    cache = uninterrupted.accelerator.unwrap_model(uninterrupted.module).frozen_stages.cache
    assert len(cache) == 10  # each of the 6 labelled and 4 audio-only clips computed once in 6 steps of 4
    expected = _student_state(uninterrupted)

    interrupted = Trainer(_config(tiny_run, "frozen-resumed", **frozen))
    interrupted.train(stop_after_steps=4)
    resumed = Trainer(_config(tiny_run, "frozen-resumed", **frozen))
    resumed.train(resume="latest")  # a fresh cache: the frozen stages give the same output again
    for name, value in _student_state(resumed).items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_scheduled_sampling_feeds_back_a_growing_share_of_predictions():
    from effnet_trm.distill.regularisers import scheduled_sampling_inputs, teacher_forcing_ratio

    assert [teacher_forcing_ratio(p, 0.7) for p in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1.0, 0.85, 0.7, 0.7])
    pad = 0
    inputs = torch.tensor([[1, 5, 6, 7, pad, pad]] * 400)  # <bos> w1 w2 w3 then padding
    logits = torch.zeros(400, 6, 10)
    logits[:, :, 9] = 1.0  # the model predicts word 9 everywhere
    torch.manual_seed(0)
    assert torch.equal(scheduled_sampling_inputs(inputs, logits, 1.0, pad), inputs)
    none_kept = scheduled_sampling_inputs(inputs, logits, 0.0, pad)
    assert torch.equal(none_kept[0], torch.tensor([1, 9, 9, 9, pad, pad]))
    half = scheduled_sampling_inputs(inputs, logits, 0.5, pad)
    assert (half[:, 0] == 1).all() and (half[:, 4:] == pad).all()
    assert (half[:, 1:4] == 9).float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_weight_average_is_the_mean_of_the_snapshots_batch_norm_included():
    from effnet_trm.distill.regularisers import WeightAverage

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    average, snapshots = WeightAverage(), []
    for _ in range(3):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter))
        model.train()(torch.randn(8, 3))  # moves the batch-norm statistics and counts a batch
        average.update(model)
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
    averaged = average.averaged_copy(model).state_dict()
    for key, value in averaged.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, torch.stack([s[key] for s in snapshots]).mean(0), msg=key)
    assert averaged["1.num_batches_tracked"].item() == 3 and average.count == 3
    assert not torch.equal(model.state_dict()["0.weight"], averaged["0.weight"])  # the model is left as it is


def test_regularised_run_averages_its_last_epochs_and_checkpoints_the_average(tiny_run, monkeypatch):
    from safetensors.torch import load_file

    from effnet_trm.evaluation import metrics

    # the scores do not matter here, only that the average competes: it scores higher than epoch 2
    scores = iter([0.1, 0.2])
    monkeypatch.setattr(
        metrics, "compute_caption_metrics", lambda *a, **k: metrics.CaptionScores(corpus={"cider_d": next(scores)})
    )
    config = _config(
        tiny_run,
        "regularised",
        **{
            "training.spec_augment": True,
            "training.swa_start_epoch": 1,
            "training.scheduled_sampling_final_ratio": 0.5,
            "training.labelled_batch_size": 3,
            "training.audio_only_batch_size": 1,
            "training.save_every_steps": 0,
        },
    )  # checkpoints at epoch ends
    trainer = Trainer(config)
    model_dir = trainer.train()
    checkpoints = sorted(trainer.checkpoint_root.glob("step_*"))  # the ends of epochs 1 and 2
    snapshots = [
        {
            k.removeprefix("student."): v
            for k, v in load_file(c / "model.safetensors").items()
            if k.startswith("student.")
        }
        for c in checkpoints
    ]
    assert [c.name for c in checkpoints] == ["step_00000002", "step_00000004"] and trainer.weight_average.count == 2
    assert len(snapshots[0]) > 300  # (the tied output layer is saved once, as the word embedding)
    for key, value in snapshots[0].items():
        if value.is_floating_point():
            torch.testing.assert_close(trainer.weight_average.average[key], (value + snapshots[1][key]) / 2, msg=key)
    assert [h["weights"] for h in trainer.state.history] == ["epoch", "swa"]  # the average competes for selection
    assert trainer.state.best_weights == "swa"
    saved = load_file(model_dir / "model.safetensors")
    torch.testing.assert_close(
        saved["decoder.embed_tokens.weight"], trainer.weight_average.average["decoder.embed_tokens.weight"]
    )
    card = (model_dir / "README.md").read_text()
    assert "SpecAugment on, scheduled sampling linear to 0.5,\n  weight averaging from epoch 1." in card
    assert "The weights are the average of those after epochs 1-2 (SWA)" in card
    # a run resumed from the end of epoch 1 continues the same average
    resumed = Trainer(config)
    resumed.resume(str(checkpoints[0]))
    assert resumed.weight_average.count == 1
    torch.testing.assert_close(
        resumed.weight_average.average["decoder.embed_tokens.weight"], snapshots[0]["decoder.embed_tokens.weight"]
    )


# --- several processes -----------------------------------------------------------------------------


def _launch_two_processes(config, out, *mode: str) -> None:
    """tests/distill_two_processes.py in 2 real CPU processes (torchrun, gloo)."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    config_file = out / "config.yaml"
    config_file.write_text(yaml.safe_dump(config.to_dict()))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(__file__).with_name("distill_two_processes.py")
    # torchrun (`accelerate launch --cpu --num_processes 2` starts one process); ACCELERATE_USE_CPU
    # makes Accelerate take torchrun's processes as one job on gloo
    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(port),
            str(script),
            str(config_file),
            str(out),
            *mode,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "ACCELERATE_USE_CPU": "true"},
    )
    assert launched.returncode == 0, launched.stderr[-3000:]


def test_two_processes_match_one_on_the_global_batch_and_resume(tiny_run, tmp_path):
    """Really starts 2 CPU processes (gloo): the contrastive loss and its gradients equal one
    process's on the same global batch; a stopped run resumes; the saved model is the main process's."""
    from pathlib import Path

    from safetensors.torch import load_file

    config = _config(tiny_run, "two-processes", **{"training.epochs": 1, "training.save_every_steps": 0})
    _launch_two_processes(config, tmp_path)

    one = Trainer(_config(tiny_run, "one-process", **{"training.epochs": 1}))
    one.module.eval()
    terms = one.module(one.batches[0])  # the whole global batch: 2 labelled + 2 audio-only clips
    terms["total"].backward()
    for rank in (0, 1):
        two = torch.load(tmp_path / f"first_batch_{rank}.pt")
        assert two["terms"]["enc"] == pytest.approx(terms["enc"].item(), rel=1e-5)  # 4 clips' negatives, not 2
        for name, parameter in one.module.contrastive.named_parameters():
            torch.testing.assert_close(two["grads"][name], parameter.grad, rtol=1e-4, atol=1e-6, msg=name)

    finals = [torch.load(tmp_path / f"final_{rank}.pt") for rank in (0, 1)]
    assert finals[0]["global_step"] == finals[1]["global_step"] == 3
    saved = load_file(Path(finals[0]["model_dir"]) / "model.safetensors")
    for name, value in finals[0]["state"].items():
        if not any(part in name for part in ("running_", "num_batches_tracked")):
            # the weights stayed in sync (batch-norm statistics are each process's own since its last step)
            torch.testing.assert_close(finals[1]["state"][name], value, msg=name)
        if name in saved:
            torch.testing.assert_close(saved[name], value, msg=name)  # the saved model is the main process's


def test_two_processes_split_a_streamed_pool_and_resume_it(tiny_run, streamed_pool, tmp_path):
    """2 real processes on a streamed pool of 8 clips in 4 shards: each reads its own 2 shards, and a
    run stopped after 2 steps resumes to the uninterrupted run's weights in both processes."""
    config = _streamed(
        tiny_run,
        streamed_pool,
        "two-processes-streamed",
        **{"output_dir": str(tmp_path / "run"), "training.save_every_steps": 0},
    )
    _launch_two_processes(config, tmp_path, "streamed")
    runs = [torch.load(tmp_path / f"streamed_{rank}.pt") for rank in (0, 1)]
    # 1 pool clip per process and step (audio_only_batch_size 2): 4 steps read each process's 4 clips
    read = [[audio_id for step in run["pool_ids"] for audio_id in step] for run in runs]
    assert all(len(ids) == len(set(ids)) == 4 for ids in read)
    assert set(read[0]).isdisjoint(read[1]) and set(read[0]) | set(read[1]) == {f"s{i}" for i in range(8)}
    for run in runs:
        for name, value in run["uninterrupted"].items():
            if not any(part in name for part in ("running_", "num_batches_tracked")):
                torch.testing.assert_close(run["resumed"][name], value, msg=name)
    for name, value in runs[0]["resumed"].items():
        if not any(part in name for part in ("running_", "num_batches_tracked")):
            torch.testing.assert_close(runs[1]["resumed"][name], value, msg=name)  # the processes stayed in sync
