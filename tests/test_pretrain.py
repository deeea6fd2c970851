"""Encoder pretraining from YAMNet and the encoder initialisation (`model.encoder_init_from`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.conversion.reference import ConversionError
from effnet_trm.pretrain.init import load_encoder_weights
from effnet_trm.pretrain.targets import YAMNetTargets, compute_yamnet_targets, crop_for_patches
from effnet_trm.pretrain.trainer import mean_average_precision
from modeling_effnet_trm import EffNetTrmForAudioCaptioning, EffNetTrmLogMel

REFERENCE_ENCODER = {"encoder_padding": "static_same_260", "encoder_batch_norm_eps": 1e-3}


def _student(**overrides) -> EffNetTrmForAudioCaptioning:
    return EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=12, **overrides)).eval()


@pytest.fixture(scope="module")
def audioset_effb2(tmp_path_factory):
    """An AudioSet-style EfficientNet-B2 checkpoint as the authors' code loads it (HEAR 2021's
    effb2.pt layout): the real efficientnet_pytorch B2, one input channel, random weights with
    non-trivial batch-norm statistics, under a wrapper prefix and with front-end buffers."""
    efficientnet_pytorch = pytest.importorskip("efficientnet_pytorch")
    torch.manual_seed(0)
    backbone = efficientnet_pytorch.EfficientNet.from_name("efficientnet-b2", include_top=False)
    backbone._change_in_channels(1)
    for module in backbone.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    state = {f"eff_net.{k}": v for k, v in backbone.state_dict().items()}
    state["front_end.0.mel_scale.fb"] = torch.zeros(257, 64)
    path = tmp_path_factory.mktemp("effb2") / "effb2.pt"
    torch.save(state, path)
    return backbone.eval(), path


def test_efficientnet_pytorch_checkpoint_loads_strictly_and_gives_the_same_frames(audioset_effb2):
    backbone, path = audioset_effb2
    model = _student(**REFERENCE_ENCODER)
    report = load_encoder_weights(model, str(path))
    assert report.layout == "efficientnet_pytorch" and report.mapped == len(model.encoder.backbone.state_dict())
    assert list(report.dropped) == ["front_end.0.mel_scale.fb"] and "front-end buffers" in report.summary()
    audio = torch.randn(2, 16000 * 4) * 0.1
    with torch.no_grad():
        log_mel = EffNetTrmLogMel(model.config)(audio).unsqueeze(1)
        theirs = backbone.extract_features(log_mel).mean(dim=2).transpose(1, 2)
        ours = model.encode(audio)
    torch.testing.assert_close(ours.frame_embeddings, theirs * ours.attention_mask[..., None], atol=1e-4, rtol=1e-4)


def test_unknown_tensors_and_other_sources_are_clear_errors(audioset_effb2, tmp_path):
    _, path = audioset_effb2
    state = torch.load(path, weights_only=True)
    state["extra_head.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ConversionError, match="no place in the encoder"):
        load_encoder_weights(_student(), str(tmp_path / "bad.pt"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConversionError, match="not a model folder of this package"):
        load_encoder_weights(_student(), str(tmp_path / "other"))


def test_encoder_of_a_model_folder_of_this_package(tmp_path):
    torch.manual_seed(3)
    source = _student()
    source.save_pretrained(tmp_path)
    target = _student()
    report = load_encoder_weights(target, str(tmp_path))
    assert report.layout == "model folder of this package"
    for name, tensor in source.encoder.backbone.state_dict().items():
        assert torch.equal(tensor, target.encoder.backbone.state_dict()[name]), name
    assert not torch.equal(source.lm_head.weight, target.lm_head.weight)  # the decoder stays fresh


def test_yamnet_target_windows_and_crops():
    class FakeYAMNet:  # only to check the bookkeeping; the real model is tested in test_yamnet.py
        def __call__(self, audio):
            patches = 1 + (audio.shape[1] - 15600 + 7679) // 7680
            scores = torch.arange(patches, dtype=torch.float32)[None, :, None].expand(audio.shape[0], patches, 521)
            return type("Out", (), {"scores": scores, "embeddings": scores[..., :1].expand(-1, -1, 1024)})

    waves = [np.zeros(160000, np.float32), np.zeros(160000, np.float32), np.zeros(16000, np.float32)]
    targets = compute_yamnet_targets(waves, ["a", "b", "c"], FakeYAMNet(), progress=False)
    assert [targets.num_patches(i) for i in range(3)] == [20, 20, 2]  # 1 s: 0.975 s + a padded hop
    scores, embedding = targets.window(0, first=4, count=3)
    assert np.allclose(scores, 5.0) and np.allclose(embedding, 5.0)  # mean of patches 4, 5, 6
    assert crop_for_patches(4, 3) == (4 * 7680, 15600 + 2 * 7680)


def test_targets_round_trip(tmp_path):
    targets = YAMNetTargets(
        ["x", "y"],
        np.array([0, 2, 3]),
        np.random.rand(3, 521).astype(np.float16),
        np.random.rand(3, 1024).astype(np.float16),
    )
    targets.save(tmp_path / "t.npz")
    loaded = YAMNetTargets.load(tmp_path / "t.npz")
    assert loaded.audio_ids == ["x", "y"] and np.array_equal(loaded.scores, targets.scores)


def test_mean_average_precision_against_yamnet_labels():
    reference = np.array([[0.9, 0.0], [0.0, 0.8], [0.5, 0.0]])
    assert mean_average_precision(reference, reference) == pytest.approx(1.0)
    assert mean_average_precision(-reference, reference) < 0.7


def test_the_pretraining_command_on_a_tiny_run(tmp_path):
    """`pretrain_encoder.py` end to end on a tiny corpus: YAMNet targets, a few steps, held-out mAP,
    and the saved weights load into the student (encoder_init_from) and into the teacher's HTSAT."""
    from test_data_corpus import fake_recordings

    from effnet_trm.audioset.fetch import YAMNetUnavailable, yamnet_folder
    from effnet_trm.data.demo_corpus import build_demo_corpus, build_recordings_pool
    from effnet_trm.pretrain.cli import main
    from effnet_trm.pretrain.encoders import HTSATDemoEncoder
    from effnet_trm.pretrain.trainer import load_into

    try:
        yamnet_folder()
    except YAMNetUnavailable as error:
        pytest.skip(f"YAMNet weights not available: {error}")
    corpus = tmp_path / "corpus"
    build_demo_corpus(corpus, preset="tiny", seed=3, recordings=fake_recordings(), progress=False)
    data = [f"{corpus}:train", f"{corpus}:audio_only"]
    # recordings as they are, of different lengths, last: the held-out clips for the mAP are among them
    rain_and_dogs = [fake_recordings()[i] for i in (0, 8, 1, 9, 2, 10)]  # 3 s and 0.6 s in turn
    recordings = build_recordings_pool(rain_and_dogs, progress=False)
    assert recordings["classes"][-3:] == [["dog"], ["rain"], ["dog"]]
    recordings.save_to_disk(str(tmp_path / "recordings"))
    common = ["--steps", "2", "--batch-size", "4", "--heldout-clips", "3", "--eval-every", "2"]
    effnet_data = [*data, str(tmp_path / "recordings")]
    main(["--encoder", "effnet_b2", "--data", *effnet_data, "--out", str(tmp_path / "effnet"), *common])
    main(["--encoder", "htsat_demo", "--data", *data, "--out", str(tmp_path / "htsat"), *common])

    record = json.loads((tmp_path / "effnet" / "pretraining.json").read_text())
    assert [entry["step"] for entry in record["history"]] == [0, 2]  # before training, and at the end
    assert all(0.0 <= entry["heldout_map"] <= 1.0 for entry in record["history"])
    assert record["train_clips"] == 12 + 6 - 3 and "Apache" in record["licences"]
    student = _student()
    report = load_encoder_weights(student, str(tmp_path / "effnet"))
    assert report.layout.startswith("pretrained encoder") and report.mapped == len(
        student.encoder.backbone.state_dict()
    )
    htsat = HTSATDemoEncoder().htsat
    assert load_into(htsat, tmp_path / "htsat", "htsat_demo", HTSATDemoEncoder.not_saved) > 0
    with pytest.raises(ValueError, match="not 'htsat_demo'"):
        load_into(htsat, tmp_path / "effnet", "htsat_demo", HTSATDemoEncoder.not_saved)

    # the demo teacher on that HTSAT, frozen: HTSAT leaves training exactly as it came in, and the
    # loss of the cached-frames path equals the end-to-end one
    from effnet_trm.teachers.train_teacher import train_demo_teacher

    with pytest.raises(ValueError, match="pretrained encoder_init"):
        train_demo_teacher(str(corpus), tmp_path / "no", freeze_encoder=True)
    teacher = train_demo_teacher(
        str(corpus), tmp_path / "teacher", epochs=1, batch_size=4, encoder_init=tmp_path / "htsat", freeze_encoder=True
    )
    pretrained = HTSATDemoEncoder().htsat
    load_into(pretrained, tmp_path / "htsat", "htsat_demo", HTSATDemoEncoder.not_saved)
    after = teacher.model.encoder.audio_enc.state_dict()
    for name, tensor in pretrained.state_dict().items():
        if not name.startswith(HTSATDemoEncoder.not_saved):
            torch.testing.assert_close(after[name], tensor, rtol=0, atol=0, msg=name)
    checkpoint = torch.load(tmp_path / "teacher" / "teacher.pt", weights_only=True)
    assert checkpoint["config"]["encoder_frozen"] is True
    model = teacher.model
    audio = torch.randn(2, 32000)
    labels = torch.tensor([[4, 5, 6, 2], [4, 7, 2, -100]])
    with torch.no_grad():
        end_to_end = model(audio, labels)
        cached = model.caption_loss(model.project(model.encoder.audio_enc(audio)), labels)
    torch.testing.assert_close(end_to_end, cached)


def test_pretraining_runs_the_backbone_channels_last_and_saves_the_usual_layout():
    """The layout is a speed choice only: the same function as NCHW, and weights saved contiguous."""
    from effnet_trm.pretrain.encoders import EffNetB2Encoder

    torch.manual_seed(0)
    encoder = EffNetB2Encoder(crop_patches=1).eval()
    audio = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        feature_map = encoder.encoder.backbone.forward_features(torch.randn(2, 1, 64, 100))
        assert feature_map.is_contiguous(memory_format=torch.channels_last) and not feature_map.is_contiguous()
        channels_last = encoder(audio)
        encoder.encoder.backbone.to(memory_format=torch.contiguous_format)
        torch.testing.assert_close(encoder(audio), channels_last, atol=1e-5, rtol=1e-4)
    encoder.encoder.backbone.to(memory_format=torch.channels_last)
    assert all(tensor.is_contiguous() for tensor in encoder.saved_state().values())
