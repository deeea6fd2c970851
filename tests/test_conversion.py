"""Converting the authors' released checkpoints: a checkpoint in their key layout is built here from
the real `efficientnet_pytorch` B2 and torch's `nn.TransformerDecoderLayer` (the modules their code
uses), initialised as theirs (Xavier on every tensor with more than one dimension, the positional
table included, which leaves it noise), converted strictly, and compared numerically with a forward
pass written from their code's structure (embedding x sqrt(d) + positional table, attn_proj memory,
post-norm decoder, tied classifier). `benchmarks/check_against_authors.py` runs their own code."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.conversion.reference import ConversionError, convert, convert_state_dict, position_settings
from effnet_trm.decoding import TorchIncrementalDecoder, beam_search
from effnet_trm.inference import Captioner
from modeling_effnet_trm import (
    EffNetTrmForAudioCaptioning,
    EffNetTrmLogMel,
    mel_filterbank,
    sinusoidal_position_embedding,
)

efficientnet_pytorch = pytest.importorskip("efficientnet_pytorch")
KEYS_FILE = Path(__file__).resolve().parents[1] / "effnet_trm" / "conversion" / "reference_keys.json"
VOCAB = 40


class ReferenceDecoder(nn.Module):
    """The reference TransformerDecoder's tensors, under its names."""

    def __init__(self, vocab: int, d_model: int = 256, memory_dim: int = 1408):
        super().__init__()
        self.word_embedding = nn.Embedding(vocab, d_model)
        position = torch.arange(100).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(100, 1, d_model)
        pe[:, 0, 0::2], pe[:, 0, 1::2] = torch.sin(position * div), torch.cos(position * div)
        self.pos_encoder = nn.Module()
        self.pos_encoder.pe = nn.Parameter(pe, requires_grad=False)
        self.attn_proj = nn.Sequential(
            nn.Linear(memory_dim, d_model), nn.ReLU(), nn.Dropout(0.2), nn.LayerNorm(d_model)
        )
        layer = nn.TransformerDecoderLayer(d_model, d_model // 64, 4 * d_model, 0.2)
        self.model = nn.TransformerDecoder(layer, 2)
        self.classifier = nn.Linear(d_model, vocab, bias=False)
        self.classifier.weight = self.word_embedding.weight
        for tensor in self.parameters():  # their init_params: the frozen sin/cos table becomes noise too
            if tensor.dim() > 1:
                nn.init.xavier_uniform_(tensor)

    def forward(self, ids, frames, frame_mask):
        length = ids.shape[1]
        embedded = self.word_embedding(ids) * math.sqrt(self.word_embedding.embedding_dim)
        embedded = embedded.transpose(0, 1) + self.pos_encoder.pe[:length]
        memory = self.attn_proj(frames).transpose(0, 1)
        causal = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        out = self.model(embedded, memory, tgt_mask=causal, memory_key_padding_mask=~frame_mask)
        return self.classifier(out.transpose(0, 1))


def reference_model(seed: int = 0):
    torch.manual_seed(seed)
    backbone = efficientnet_pytorch.EfficientNet.from_name("efficientnet-b2", include_top=False)
    backbone._change_in_channels(1)
    for module in backbone.modules():  # non-trivial batch-norm statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    decoder = ReferenceDecoder(VOCAB)
    return backbone.eval(), decoder.eval()


def released_state_dict(backbone, decoder) -> dict[str, torch.Tensor]:
    """The released Hub layout: `model.model.{encoder,decoder}.*` + KD heads + torchaudio buffers."""
    state = {f"model.model.encoder.backbone.eff_net.{k}": v for k, v in backbone.state_dict().items()}
    state |= {f"model.model.decoder.{k}": v for k, v in decoder.state_dict().items()}
    state["model.model.encoder.melspec_extractor.spectrogram.window"] = torch.hann_window(512)
    state["model.model.encoder.melspec_extractor.mel_scale.fb"] = mel_filterbank(257, 0.0, 8000.0, 64, 16000)
    state |= {
        "model.logit_scale": torch.tensor(2.66),
        "model.stdnt_proj.weight": torch.zeros(1024, 1408),
        "model.stdnt_proj.bias": torch.zeros(1024),
        "model.tchr_proj.weight": torch.zeros(1024, 768),
        "model.tchr_proj.bias": torch.zeros(1024),
    }
    return state


REFERENCE_CONFIG = {"vocab_size": VOCAB, "encoder_padding": "static_same_260", "encoder_batch_norm_eps": 1e-3}


@pytest.fixture(scope="module")
def converted():
    backbone, decoder = reference_model()
    state = released_state_dict(backbone, decoder)
    assert position_settings(state, 256) == {"position_embedding": "stored", "max_position_embeddings": 100}
    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig(**REFERENCE_CONFIG, position_embedding="stored")).eval()
    report = convert_state_dict(state, model)
    return backbone, decoder, state, model, report


def test_released_key_layout_is_the_recorded_one(converted):
    _, _, state, _, _ = converted
    recorded = json.loads(KEYS_FILE.read_text())
    assert {k: list(v.shape) for k, v in state.items() if "word_embedding" not in k and "classifier" not in k} == {
        k: v for k, v in recorded["tensors"].items() if "word_embedding" not in k and "classifier" not in k
    }


def test_strict_mapping_report(converted):
    _, _, state, _, report = converted
    assert set(report.dropped) == {
        "model.logit_scale",
        "model.stdnt_proj.weight",
        "model.stdnt_proj.bias",
        "model.tchr_proj.weight",
        "model.tchr_proj.bias",
    }
    assert set(report.verified_and_dropped) == {
        "model.model.decoder.classifier.weight",
        "model.model.encoder.melspec_extractor.spectrogram.window",
        "model.model.encoder.melspec_extractor.mel_scale.fb",
    }
    assert report.mapped + len(report.dropped) + len(report.verified_and_dropped) == len(state)
    assert not report.substituted  # the noise table is the checkpoint's own


def test_the_stored_table_is_the_checkpoints_noise(converted):
    _, decoder, _, model, _ = converted
    table = model.decoder.position_table
    assert torch.equal(table, decoder.pos_encoder.pe[:, 0])
    assert table.abs().max() < 0.02  # Xavier noise, not sin/cos (whose values reach 1)


def test_a_sinusoidal_table_is_verified_not_stored(converted):
    _, _, state, _, _ = converted
    sine = sinusoidal_position_embedding(torch.arange(100), 256).reshape(100, 1, 256)
    state = dict(state, **{"model.model.decoder.pos_encoder.pe": sine})
    assert position_settings(state, 256)["position_embedding"] == "sinusoidal"
    report = convert_state_dict(state, EffNetTrmForAudioCaptioning(EffNetTrmConfig(**REFERENCE_CONFIG)))
    assert "model.model.decoder.pos_encoder.pe" in report.verified_and_dropped


def test_unknown_or_missing_tensors_are_errors(converted):
    _, _, state, _, _ = converted

    def fresh():
        return EffNetTrmForAudioCaptioning(EffNetTrmConfig(**REFERENCE_CONFIG, position_embedding="stored"))

    with pytest.raises(ConversionError, match="no place in the model.*surprise"):
        convert_state_dict({**state, "model.model.decoder.surprise": torch.zeros(1)}, fresh())
    incomplete = {k: v for k, v in state.items() if "attn_proj.3" not in k}
    with pytest.raises(ConversionError, match="does not fill.*memory_projection.3"):
        convert_state_dict(incomplete, fresh())
    # a noise table cannot go into a model that computes sin/cos
    with pytest.raises(ConversionError, match="positional table.*position_embedding='stored'"):
        convert_state_dict(state, EffNetTrmForAudioCaptioning(EffNetTrmConfig(**REFERENCE_CONFIG)))


def test_numerically_equivalent_to_the_reference_structure(converted):
    backbone, decoder, _, model, _ = converted
    torch.manual_seed(1)
    audio = torch.randn(2, 16000 * 6) * 0.1
    with torch.no_grad():
        log_mel = EffNetTrmLogMel(model.config)(audio).unsqueeze(1)  # torchaudio is not installable here
        their_frames = backbone.extract_features(log_mel).mean(dim=2).transpose(1, 2)
        ours = model.encode(audio)
        torch.testing.assert_close(
            ours.frame_embeddings, their_frames * ours.attention_mask[..., None], atol=1e-4, rtol=1e-4
        )
        ids = torch.randint(4, VOCAB, (2, 7))
        ids[:, 0] = 1
        theirs = decoder(ids, their_frames, ours.attention_mask)
        mine = model(encoder_outputs=ours, decoder_input_ids=ids).logits
        assert (mine - theirs).abs().max().item() < 1e-4
        # the fast path (and the optimised copy it runs on) reads the same stored table
        fast = TorchIncrementalDecoder(
            Captioner(model, None).optimized_model,
            ours.last_hidden_state,
            ours.attention_mask,
            num_beams=1,
            max_length=7,
        )
        for position in range(7):
            log_probs = fast.step(ids[:, position].numpy())
            np.testing.assert_allclose(log_probs, theirs[:, position].log_softmax(-1).numpy(), atol=1e-4)

        # greedy decoding, theirs recomputing the prefix each step, ours through generate
        prefix = torch.ones(2, 1, dtype=torch.long)
        for _ in range(8):
            prefix = torch.cat(
                [prefix, decoder(prefix, their_frames, ours.attention_mask)[:, -1].argmax(-1, keepdim=True)], 1
            )
        generated = model.generate(
            input_values=audio,
            num_beams=1,
            do_sample=False,
            max_new_tokens=8,
            min_new_tokens=8,
            suppress_tokens=None,
            no_repeat_ngram_size=0,  # theirs has no n-gram block (a new model's default has one)
            block_immediate_repeats=False,  # nor a repeat block
        )
    assert torch.equal(generated, prefix)


def test_convert_writes_a_loadable_folder(converted, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    _, _, state, model, _ = converted
    source = tmp_path / "training.pth"
    vocab = {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3} | {f"w{i}": i for i in range(4, VOCAB)}
    # a training checkpoint: `model.`-prefixed trainable tensors, no frozen table, no tied classifier
    training = {
        k.replace("model.model.", "model.", 1): v
        for k, v in state.items()
        if "pos_encoder" not in k and "classifier" not in k
    }
    torch.save({"model": training, "tokenizer": vocab, "epoch": 25}, source)
    report = convert(str(source), str(tmp_path / "out"))
    assert "model.stdnt_proj.weight" in report.dropped
    assert "zeros" in report.substituted["decoder.position_table"] and "zeros" in report.summary()
    loaded = AutoModel.from_pretrained(tmp_path / "out", trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out", trust_remote_code=True)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<pad>", "<bos>", "<eos>", "<unk>", "w4"]
    # the weights arrive bit for bit, with zeros for the table the file lacks; the outputs agree to
    # float rounding (oneDNN may pick different convolution kernels for differently aligned buffers,
    # so bitwise equal outputs are not guaranteed)
    model = copy.deepcopy(model)
    model.decoder.position_table.zero_()
    loaded_state, state_dict = loaded.state_dict(), model.state_dict()
    assert loaded_state.keys() == state_dict.keys()
    assert all(torch.equal(loaded_state[name], state_dict[name]) for name in state_dict)
    audio = torch.randn(1, 32000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(input_values=audio, decoder_input_ids=torch.ones(1, 3, dtype=torch.long)).logits,
            model(input_values=audio, decoder_input_ids=torch.ones(1, 3, dtype=torch.long)).logits,
            rtol=1e-5,
            atol=1e-4,
        )
    assert loaded.config.encoder_padding == "static_same_260"
    # a training checkpoint has no table: zeros are stored and saved with the weights
    assert loaded.config.position_embedding == "stored" and not loaded.decoder.position_table.any()
    assert loaded.generation_config.beam_rule == "reference" and not loaded.generation_config.suppress_tokens


def test_saved_model_and_onnx_step_use_the_stored_table(tmp_path):
    from effnet_trm.export.onnx import OnnxCaptioner, OnnxIncrementalDecoder, export_onnx
    from effnet_trm.hub import init_model

    small = {
        "d_model": 32,
        "decoder_ffn_dim": 64,
        "encoder_name": "efficientnet_b0",
        "encoder_hidden_size": 1280,
        "position_embedding": "stored",
        "max_position_embeddings": 12,
    }
    model, _ = init_model(seed=0, **small)
    with torch.no_grad():
        model.decoder.position_table.uniform_(-1, 1)  # unlike sin/cos, so a path that ignores it shows
    model.save_pretrained(tmp_path / "torch")
    loaded = EffNetTrmForAudioCaptioning.from_pretrained(tmp_path / "torch").eval()
    assert torch.equal(loaded.decoder.position_table, model.decoder.position_table)
    export_onnx(tmp_path / "torch", tmp_path / "onnx")  # from the folder, as the CLI does
    onnx = OnnxCaptioner(tmp_path / "onnx")
    waves = [np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1]
    keys, values, mask = onnx.encode(waves)
    ids = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad():
        expected = loaded(input_values=torch.from_numpy(waves[0])[None], decoder_input_ids=ids).logits.log_softmax(-1)
    decoder = OnnxIncrementalDecoder(onnx.decoder_session, keys, values, mask, num_beams=1)
    for position in range(ids.shape[1]):
        np.testing.assert_allclose(decoder.step(ids[:, position].numpy()), expected[:, position].numpy(), atol=2e-3)


class MarkovDecoder:
    """An `IncrementalDecoder` whose next-word probabilities depend on the last word only."""

    def __init__(self, transitions: dict[int, dict[int, float]], vocab: int = 6):
        self.table = np.zeros((vocab, vocab), np.float32)
        for last, nexts in transitions.items():
            rest = [w for w in range(vocab) if w not in nexts]
            row = {**nexts, **{w: 1e-4 * (1 + i) for i, w in enumerate(rest)}}  # distinct: no ties
            self.table[last] = np.log(np.array([row[w] for w in range(vocab)]) / sum(row.values()))
        self.steps = 0

    def step(self, tokens):
        self.steps += 1
        return self.table[tokens]

    def reorder(self, rows):
        pass


# words: 0 pad, 1 <bos>, 2 <eos>, 3 a, 4 b, 5 c
BOS, EOS, A, B, C = 1, 2, 3, 4, 5
TWO_END_AT_ONCE = {
    BOS: {A: 0.45, B: 0.35, EOS: 0.2},
    A: {C: 0.5, EOS: 0.3, B: 0.2},
    B: {C: 0.6, EOS: 0.4},
    C: {EOS: 0.55, C: 0.45},
    EOS: {EOS: 0.9},
    0: {EOS: 0.9},
}


def test_reference_beam_rule_when_two_hypotheses_end_at_once():
    # reference rule, 3 beams: step 1 keeps a, b and "<eos>" (1 ended); step 2 keeps a c, b c and
    # "b <eos>" (2 ended); step 3: "a c <eos>" and "b c <eos>" end together (4 ended, not exactly 3),
    # so the search goes on to the length limit, where "a c c <eos>" ends (score -2.889 / 4)
    decoder = MarkovDecoder(TWO_END_AT_ONCE)
    best = beam_search(decoder, 1, 3, max_new_tokens=4, bos=BOS, eos=EOS, num_return_sequences=3, beam_rule="reference")
    assert decoder.steps == 4
    # sum of log-probs / (words + 1): -2.090 / 3, -2.159 / 3, -2.889 / 4
    assert best == [[BOS, A, C, EOS], [BOS, B, C, EOS], [BOS, A, C, C, EOS]]

    # transformers' rule with early stopping (how converted folders decoded before) stops once 3 have
    # ended, at step 3, keeping "b <eos>" (-1.966 / 2) as the third
    decoder = MarkovDecoder(TWO_END_AT_ONCE)
    transformers_rule = beam_search(
        decoder, 1, 3, max_new_tokens=4, bos=BOS, eos=EOS, num_return_sequences=3, early_stopping=True
    )
    assert decoder.steps == 3 and transformers_rule == [[BOS, A, C, EOS], [BOS, B, C, EOS], [BOS, B, EOS]]


def test_reference_beam_rule_stops_at_exactly_beam_size_endings():
    # "<eos>" at step 1, then "a <eos>" and "b <eos>" at step 2: exactly 3 ended, the search stops
    transitions = {
        BOS: {A: 0.5, B: 0.3, EOS: 0.2},
        A: {EOS: 0.6, C: 0.4},
        B: {EOS: 0.6, C: 0.4},
        C: {C: 0.9},
        EOS: {EOS: 0.9},
        0: {EOS: 0.9},
    }
    decoder = MarkovDecoder(transitions)
    best = beam_search(decoder, 2, 3, max_new_tokens=10, bos=BOS, eos=EOS, beam_rule="reference")
    assert decoder.steps == 2 and best == [[BOS, A, EOS]] * 2  # -1.204 / 2 beats -1.609 / 1
