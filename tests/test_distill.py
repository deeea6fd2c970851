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
    assert clamped == pytest.approx(-0.5 * (np.mean(np.diag(_log_softmax(100 * s @ t.T, 1)))
                                            + np.mean(np.diag(_log_softmax(100 * t @ s.T, 1)))), rel=1e-4)


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
        return rows_to_dataset([
            {"audio": {"bytes": _flac(i + (10 if prefix == "a" else 0)), "path": f"{prefix}{i}.flac"},
             "captions": [texts[i % len(texts)], texts[(i + 1) % len(texts)]], "audio_id": f"{prefix}{i}",
             "classes": [], "source": "", "license": ""}
            for i in range(count)
        ])

    DatasetDict({
        "train": split("t", 6, captions),
        "audio_only": split("a", 4, ["secret words never seen"]),  # must never reach the student
        "validation": split("v", 2, captions),
    }).save_to_disk(str(root / "data"))
    cache = root / "cache"
    (cache / SHARD_DIR).mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_shard(cache / SHARD_DIR, [
        {"audio_id": audio_id, "crop_index": 0, "crop_start": 0.0, "split": "", "caption": captions[i % 6],
         "clip_embedding": rng.standard_normal(TEACHER_DIM).astype(np.float32).tolist()}
        for i, audio_id in enumerate([f"t{i}" for i in range(6)] + [f"a{i}" for i in range(4)])
    ])
    (cache / INFO_FILE).write_text(f'{{"embedding_dim": {TEACHER_DIM}, "teacher_sampling_rate": 32000}}')
    return root


def _config(root, name, **overrides):
    values = {
        "data.dataset": str(root / "data"), "data.teacher_cache": str(root / "cache"),
        "data.audio_only_split": "audio_only", "data.crop_seconds": 1.0,
        "model.config": {"encoder_name": "efficientnet_b0", "encoder_hidden_size": 1280, "d_model": 64,
                         "decoder_ffn_dim": 128, "decoder_attention_heads": 2},
        "training.epochs": 2, "training.labelled_batch_size": 2, "training.audio_only_batch_size": 2,
        "training.lr": 1e-3, "training.warmup_epochs": 0.5, "training.save_every_steps": 2,
        "training.validate_every_epochs": 100, "training.log_with": None, "training.num_beams": 1,
        "training.max_words": 6, "output_dir": str(root / name),
    }
    values.update(overrides)
    import yaml

    return load_config(None, [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                              for k, v in values.items()])


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
    expected_terms = {"none": {"sup", "total"}, "mse": {"sup", "seq", "enc", "total"},
                      "contrastive": {"sup", "seq", "enc", "total"}}[mode]
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
    assert batch.labels.shape[0] == 2 and batch.teacher_labels.shape[0] == 4 and batch.teacher_embeddings.shape == (4, 8)
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
