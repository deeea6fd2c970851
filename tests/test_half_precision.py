"""bfloat16 and float16 models caption: the log-mel front end runs in float32 whatever the model's
dtype (no FFT takes bfloat16), and the captions of a half-precision copy agree with float32's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel

from effnet_trm.decoding import fast_generate, fast_search_settings
from effnet_trm.hub import init_model, save_model_folder
from effnet_trm.optimize import optimize_for_inference

SR = 16000
TINY = {"encoder_name": "tinynet_e", "encoder_hidden_size": 1280, "d_model": 32, "decoder_ffn_dim": 64}
CAPTIONS = [
    "a dog barks",
    "rain falls on a roof",
    "a bell rings twice",
    "a man speaks loudly",
    "birds chirp in trees",
    "an engine idles",
]
HALF = [torch.bfloat16, torch.float16]


def _clip(index: int, seed: int, seconds: float = 1.0) -> torch.Tensor:
    """A tone of its own pitch and tremolo per index; `seed` draws other noise (new recordings of it)."""
    rng = np.random.default_rng(100 * seed + index)
    t = np.arange(int(seconds * SR)) / SR
    tremolo = 0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * (index + 1) * t)
    wave = 0.3 * tremolo * np.sin(2 * np.pi * 200 * (index + 1) * t) + 0.02 * rng.standard_normal(t.size)
    return torch.from_numpy(wave.astype(np.float32))


@pytest.fixture(scope="module")
def trained():
    """A tiny model whose decoder has learned one caption per tone, so that its greedy choices are
    decided by real margins (a random decoder's near-uniform logits would flip under any rounding)."""
    model, tokenizer = init_model(captions=CAPTIONS, seed=0, **TINY)
    audio = torch.stack([_clip(i, seed=0) for i in range(len(CAPTIONS))])
    encoded = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    labels = encoded.input_ids.masked_fill(encoded.attention_mask == 0, -100)
    with torch.no_grad():
        memory = model.encode(audio)  # the encoder stays as initialised: train the decoder only (fast)
    optimizer = torch.optim.AdamW(model.decoder.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        loss = model(encoder_outputs=memory, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), tokenizer


def _half_copy(model, dtype):
    copy = init_model(captions=CAPTIONS, seed=1, **TINY)[0]
    copy.load_state_dict(model.state_dict())
    return copy.to(dtype).eval()


def _new_recordings() -> torch.Tensor:
    return torch.stack([_clip(i, seed=1) for i in range(len(CAPTIONS))])


def test_front_end_is_float32_whatever_the_model_dtype(trained):
    model, _ = trained
    audio = _new_recordings()
    reference = model.encoder.front_end(audio)
    for dtype in HALF:
        front_end = _half_copy(model, dtype).encoder.front_end
        torch.testing.assert_close(front_end(audio), reference, rtol=0, atol=0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert front_end(audio).dtype == torch.float32


@pytest.mark.parametrize("dtype", HALF, ids=["bf16", "fp16"])
def test_half_precision_captions_agree_with_float32(trained, dtype):
    model, tokenizer = trained
    audio = _new_recordings()
    mask = torch.ones_like(audio, dtype=torch.long)
    mask[1, SR // 2 :] = 0  # one padded clip: the length groups meet in the model's dtype
    half = _half_copy(model, dtype)
    with torch.no_grad():
        reference = tokenizer.batch_decode(
            model.generate(input_values=audio, attention_mask=mask, num_beams=1, max_new_tokens=10),
            skip_special_tokens=True,
        )
        captions = tokenizer.batch_decode(
            half.generate(input_values=audio, attention_mask=mask, num_beams=1, max_new_tokens=10),
            skip_special_tokens=True,
        )
        beams = half.generate(input_values=audio, attention_mask=mask, num_beams=3, max_new_tokens=10)
        settings = fast_search_settings(half.generation_config, {"num_beams": 3, "max_new_tokens": 10})
        fast = fast_generate(half, audio, attention_mask=mask, **settings)
        optimized = fast_generate(optimize_for_inference(half), audio, attention_mask=mask, **settings)
    assert len(set(reference)) >= 4  # the float32 model tells the tones apart
    assert sum(a == b for a, b in zip(captions, reference)) >= len(CAPTIONS) - 1, (captions, reference)
    assert torch.equal(fast, beams)  # the fast path and generate() agree in half precision too
    assert all(tokenizer.batch_decode(optimized, skip_special_tokens=True))


def test_autocast_and_from_pretrained_in_bfloat16(trained, tmp_path):
    model, tokenizer = trained
    audio = _new_recordings()
    with torch.no_grad():
        reference = model.generate(input_values=audio, num_beams=1, max_new_tokens=10)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = model.generate(input_values=audio, num_beams=1, max_new_tokens=10)
    save_model_folder(model, tokenizer, tmp_path / "model")
    loaded = AutoModel.from_pretrained(tmp_path / "model", trust_remote_code=True, dtype=torch.bfloat16)
    assert loaded.dtype == torch.bfloat16 and loaded.encoder.backbone.conv_stem.weight.dtype == torch.bfloat16
    with torch.no_grad():
        loaded_ids = loaded.generate(input_values=audio, num_beams=1, max_new_tokens=10)
    for ids in (autocast, loaded_ids):
        agree = sum(a == b for a, b in zip(tokenizer.batch_decode(ids), tokenizer.batch_decode(reference)))
        assert agree >= len(CAPTIONS) - 1
