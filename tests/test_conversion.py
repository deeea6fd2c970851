"""Converting the authors' released checkpoints: a checkpoint in their key layout is built here from
the real `efficientnet_pytorch` B2 and torch's `nn.TransformerDecoderLayer` (the modules their code
uses), converted strictly, and compared numerically with a forward pass written from their code's
structure (embedding x sqrt(d) + sinusoidal table, attn_proj memory, post-norm decoder, tied classifier)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.conversion.reference import ConversionError, convert, convert_state_dict
from modeling_effnet_trm import EffNetTrmForAudioCaptioning, EffNetTrmLogMel, mel_filterbank

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
        self.attn_proj = nn.Sequential(nn.Linear(memory_dim, d_model), nn.ReLU(), nn.Dropout(0.2), nn.LayerNorm(d_model))
        layer = nn.TransformerDecoderLayer(d_model, d_model // 64, 4 * d_model, 0.2)
        self.model = nn.TransformerDecoder(layer, 2)
        self.classifier = nn.Linear(d_model, vocab, bias=False)
        self.classifier.weight = self.word_embedding.weight

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
    state |= {"model.logit_scale": torch.tensor(2.66), "model.stdnt_proj.weight": torch.zeros(1024, 1408),
              "model.stdnt_proj.bias": torch.zeros(1024), "model.tchr_proj.weight": torch.zeros(1024, 768),
              "model.tchr_proj.bias": torch.zeros(1024)}
    return state


@pytest.fixture(scope="module")
def converted():
    backbone, decoder = reference_model()
    state = released_state_dict(backbone, decoder)
    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=VOCAB, encoder_padding="static_same_260",
                                                        encoder_batch_norm_eps=1e-3)).eval()
    report = convert_state_dict(state, model)
    return backbone, decoder, state, model, report


def test_released_key_layout_is_the_recorded_one(converted):
    _, _, state, _, _ = converted
    recorded = json.loads(KEYS_FILE.read_text())
    assert {k: list(v.shape) for k, v in state.items() if "word_embedding" not in k and "classifier" not in k} == \
        {k: v for k, v in recorded["tensors"].items() if "word_embedding" not in k and "classifier" not in k}


def test_strict_mapping_report(converted):
    _, _, state, _, report = converted
    assert set(report.dropped) == {"model.logit_scale", "model.stdnt_proj.weight", "model.stdnt_proj.bias",
                                   "model.tchr_proj.weight", "model.tchr_proj.bias"}
    assert set(report.verified_and_dropped) == {
        "model.model.decoder.pos_encoder.pe", "model.model.decoder.classifier.weight",
        "model.model.encoder.melspec_extractor.spectrogram.window", "model.model.encoder.melspec_extractor.mel_scale.fb"}
    assert report.mapped + len(report.dropped) + len(report.verified_and_dropped) == len(state)


def test_unknown_or_missing_tensors_are_errors(converted):
    _, _, state, _, _ = converted
    fresh = lambda: EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=VOCAB, **{  # noqa: E731
        "encoder_padding": "static_same_260", "encoder_batch_norm_eps": 1e-3}))
    with pytest.raises(ConversionError, match="no place in the model.*surprise"):
        convert_state_dict({**state, "model.model.decoder.surprise": torch.zeros(1)}, fresh())
    incomplete = {k: v for k, v in state.items() if "attn_proj.3" not in k}
    with pytest.raises(ConversionError, match="does not fill.*memory_projection.3"):
        convert_state_dict(incomplete, fresh())
    wrong_table = dict(state, **{"model.model.decoder.pos_encoder.pe": torch.zeros(100, 1, 256)})
    with pytest.raises(ConversionError, match="positional table"):
        convert_state_dict(wrong_table, fresh())


def test_numerically_equivalent_to_the_reference_structure(converted):
    backbone, decoder, _, model, _ = converted
    torch.manual_seed(1)
    audio = torch.randn(2, 16000 * 6) * 0.1
    with torch.no_grad():
        log_mel = EffNetTrmLogMel(model.config)(audio).unsqueeze(1)  # torchaudio is not installable here
        their_frames = backbone.extract_features(log_mel).mean(dim=2).transpose(1, 2)
        ours = model.encode(audio)
        torch.testing.assert_close(ours.frame_embeddings, their_frames * ours.attention_mask[..., None], atol=1e-4,
                                   rtol=1e-4)
        ids = torch.randint(4, VOCAB, (2, 7))
        ids[:, 0] = 1
        theirs = decoder(ids, their_frames, ours.attention_mask)
        mine = model(encoder_outputs=ours, decoder_input_ids=ids).logits
        assert (mine - theirs).abs().max().item() < 1e-4

        # greedy decoding, theirs recomputing the prefix each step, ours through generate
        prefix = torch.ones(2, 1, dtype=torch.long)
        for _ in range(8):
            prefix = torch.cat([prefix, decoder(prefix, their_frames, ours.attention_mask)[:, -1].argmax(-1, keepdim=True)], 1)
        generated = model.generate(input_values=audio, num_beams=1, do_sample=False, max_new_tokens=8,
                                   min_new_tokens=8, suppress_tokens=None)
    assert torch.equal(generated, prefix)


def test_convert_writes_a_loadable_folder(converted, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    _, _, state, model, _ = converted
    source = tmp_path / "training.pth"
    vocab = {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3} | {f"w{i}": i for i in range(4, VOCAB)}
    # a training checkpoint: `model.`-prefixed trainable tensors, no frozen table, no tied classifier
    training = {k.replace("model.model.", "model.", 1): v for k, v in state.items()
                if "pos_encoder" not in k and "classifier" not in k}
    torch.save({"model": training, "tokenizer": vocab, "epoch": 25}, source)
    report = convert(str(source), str(tmp_path / "out"))
    assert "model.stdnt_proj.weight" in report.dropped
    loaded = AutoModel.from_pretrained(tmp_path / "out", trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out", trust_remote_code=True)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<pad>", "<bos>", "<eos>", "<unk>", "w4"]
    # the weights arrive bit for bit; the outputs agree to float rounding (oneDNN may pick different
    # convolution kernels for differently aligned buffers, so bitwise equal outputs are not guaranteed)
    loaded_state, state_dict = loaded.state_dict(), model.state_dict()
    assert loaded_state.keys() == state_dict.keys()
    assert all(torch.equal(loaded_state[name], state_dict[name]) for name in state_dict)
    audio = torch.randn(1, 32000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(input_values=audio, decoder_input_ids=torch.ones(1, 3, dtype=torch.long)).logits,
            model(input_values=audio, decoder_input_ids=torch.ones(1, 3, dtype=torch.long)).logits, rtol=1e-5, atol=1e-4)
    assert loaded.config.encoder_padding == "static_same_260"
    assert loaded.generation_config.early_stopping is True and not loaded.generation_config.suppress_tokens
