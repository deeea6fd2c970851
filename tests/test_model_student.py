"""The student model: front end, encoder masks, decoder cache, generation, Hub round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.hub import init_model, save_model_folder
from modeling_effnet_trm import (
    EffNetTrmForAudioCaptioning,
    EffNetTrmLogMel,
    masked_mean,
    mel_filterbank,
    sinusoidal_position_embedding,
)

SR = 16000


def _waveform(seconds: float, seed: int = 0, frequency: float = 440.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    model, tokenizer = init_model(seed=0)
    return model.eval(), tokenizer


# --- front end ----------------------------------------------------------------------------------


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(257, 0.0, 8000.0, 64, SR).numpy()
    theirs = librosa.filters.mel(sr=SR, n_fft=512, n_mels=64, fmin=0.0, fmax=8000.0, htk=True, norm=None).T
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_log_mel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    wave = _waveform(2.0, seed=1)
    ours = EffNetTrmLogMel(EffNetTrmConfig())(torch.from_numpy(wave)[None])[0].numpy()
    power = librosa.feature.melspectrogram(
        y=wave,
        sr=SR,
        n_fft=512,
        hop_length=160,
        win_length=512,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=64,
        fmin=0.0,
        fmax=8000.0,
        htk=True,
        norm=None,
    )
    theirs = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=120.0)
    assert ours.shape == theirs.shape == (64, wave.size // 160 + 1)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


def test_top_db_floor_is_per_clip():
    front_end = EffNetTrmLogMel(EffNetTrmConfig())
    loud, quiet = torch.from_numpy(_waveform(1.0)), torch.from_numpy(_waveform(1.0, seed=2) * 1e-5)
    alone = front_end(quiet[None])[0]
    batched = front_end(torch.stack([loud, quiet]))[1]
    torch.testing.assert_close(alone, batched)
    assert float(alone.max() - alone.min()) <= 120.0 + 1e-4


# --- encoder ------------------------------------------------------------------------------------


def test_encoder_frames_lengths_and_clip_embedding(model_and_tokenizer):
    model, _ = model_and_tokenizer
    waves = torch.zeros(2, 10 * SR)
    waves[0] = torch.from_numpy(_waveform(10.0))
    waves[1, : 5 * SR] = torch.from_numpy(_waveform(5.0, seed=3))
    mask = torch.zeros(2, 10 * SR, dtype=torch.long)
    mask[0] = 1
    mask[1, : 5 * SR] = 1
    with torch.no_grad():
        out = model.encode(waves, mask)
    # 1001 spectrogram frames / 32 -> 32 frames, the last (partial) one masked, as in the reference
    assert out.frame_embeddings.shape == (2, 32, 1408)
    assert out.attention_mask.sum(dim=1).tolist() == [31, 15]
    assert torch.all(out.frame_embeddings[1, 15:] == 0)
    expected = out.frame_embeddings[1, :15].mean(dim=0)
    torch.testing.assert_close(out.clip_embedding[1], expected)
    assert out.last_hidden_state is not None and out.last_hidden_state.shape == (2, 32, 1408)


def test_encoder_projection_feeds_the_decoder():
    config = EffNetTrmConfig(vocab_size=20, encoder_projection_dim=768)
    model = EffNetTrmForAudioCaptioning(config).eval()
    with torch.no_grad():
        out = model.encode(torch.from_numpy(_waveform(2.0))[None])
    assert out.frame_embeddings.shape[-1] == 1408 and out.last_hidden_state.shape[-1] == 768
    assert model.decoder.memory_projection[0].in_features == 768


def test_masked_mean_ignores_padding():
    sequence = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(sequence, torch.tensor([[True, True, False]])).item() == 2.0


def test_paper_size_parameter_count():
    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig())  # 4,981 words, as the released AudioCaps model
    count = sum(p.numel() for p in model.parameters())
    # the reference measures 11.47 M including its frozen 100 x 256 positional table (ours is computed)
    assert abs(count + 100 * 256 - 11_469_250) / 11_469_250 < 0.02
    assert model.lm_head.weight is model.decoder.embed_tokens.weight


# --- decoder ------------------------------------------------------------------------------------


def test_sinusoidal_positions():
    table = sinusoidal_position_embedding(torch.arange(3), 4)
    expected = torch.tensor(
        [[np.sin(p), np.cos(p), np.sin(p / 100), np.cos(p / 100)] for p in range(3)], dtype=torch.float32
    )
    torch.testing.assert_close(table, expected)


def test_kv_cache_decoding_equals_full_recomputation(model_and_tokenizer):
    model, _ = model_and_tokenizer
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    audio = torch.from_numpy(_waveform(3.0))[None]
    ids = torch.tensor([[1, 5, 7, 9, 4]])
    with torch.no_grad():
        encoded = model.encode(audio)
        full = model(encoder_outputs=encoded, decoder_input_ids=ids).logits
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        steps = [
            model(
                encoder_outputs=encoded, decoder_input_ids=ids[:, i : i + 1], past_key_values=cache, use_cache=True
            ).logits
            for i in range(ids.shape[1])
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_forward_chooses_its_cache_as_transformers_models_do(model_and_tokenizer):
    """use_cache=None keeps a cache passed in (it used to drop it), makes one when decoding without
    labels, and none for a forward pass with labels; use_cache=False never caches."""
    model, _ = model_and_tokenizer
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    from modeling_effnet_trm import CACHE_NAME

    audio = torch.from_numpy(_waveform(2.0))[None]
    ids = torch.tensor([[1, 5, 7]])
    with torch.no_grad():
        encoded = model.encode(audio)
        full = model(encoder_outputs=encoded, decoder_input_ids=ids).logits
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        steps = []
        for i in range(ids.shape[1]):
            out = model(encoder_outputs=encoded, decoder_input_ids=ids[:, i : i + 1], **{CACHE_NAME: cache})
            assert out[CACHE_NAME] is cache
            steps.append(out.logits)
        torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
        assert cache.get_seq_length() == ids.shape[1]
        assert model(encoder_outputs=encoded, decoder_input_ids=ids)[CACHE_NAME] is not None
        assert model(encoder_outputs=encoded, labels=ids).get(CACHE_NAME) is None
        assert model(encoder_outputs=encoded, decoder_input_ids=ids, use_cache=False).get(CACHE_NAME) is None


@pytest.mark.parametrize("num_beams", [3, 1], ids=["beam", "greedy"])
def test_generate_with_and_without_cache_agree(model_and_tokenizer, num_beams):
    model, _ = model_and_tokenizer
    audio = torch.from_numpy(_waveform(2.0, seed=4))[None]
    with torch.no_grad():
        cached = model.generate(input_values=audio, num_beams=num_beams, max_new_tokens=12)
        uncached = model.generate(input_values=audio, num_beams=num_beams, max_new_tokens=12, use_cache=False)
    assert cached.shape[1] > 2  # a caption, not just <bos> <eos>
    assert torch.equal(cached, uncached)


def test_batched_beam_search_equals_one_by_one(model_and_tokenizer):
    model, _ = model_and_tokenizer
    waves = [_waveform(1.3, seed=5, frequency=300), _waveform(3.0, seed=6, frequency=900), _waveform(2.2, seed=7)]
    batch = torch.zeros(3, max(w.size for w in waves))
    mask = torch.zeros_like(batch, dtype=torch.long)
    for i, wave in enumerate(waves):
        batch[i, : wave.size] = torch.from_numpy(wave)
        mask[i, : wave.size] = 1
    with torch.no_grad():
        batched = model.generate(input_values=batch, attention_mask=mask, num_beams=3, max_new_tokens=12)
        single = [model.generate(input_values=torch.from_numpy(w)[None], num_beams=3, max_new_tokens=12) for w in waves]
        batched_logits = model(
            input_values=batch, attention_mask=mask, decoder_input_ids=torch.ones(3, 1, dtype=torch.long)
        ).logits
        single_logits = [
            model(input_values=torch.from_numpy(w)[None], decoder_input_ids=torch.ones(1, 1, dtype=torch.long)).logits
            for w in waves
        ]
    for i, ids in enumerate(single):
        assert batched[i, : ids.shape[1]].tolist() == ids[0].tolist()
        torch.testing.assert_close(batched_logits[i], single_logits[i][0], atol=1e-5, rtol=1e-5)


def test_greedy_sampling_and_multiple_candidates(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    audio = torch.from_numpy(_waveform(1.5))[None].repeat(2, 1)
    with torch.no_grad():
        greedy = model.generate(input_values=audio, num_beams=1, do_sample=False, max_new_tokens=6)
        torch.manual_seed(0)
        sampled = model.generate(
            input_values=audio, do_sample=True, num_beams=1, num_return_sequences=3, max_new_tokens=6
        )
        beams = model.generate(input_values=audio, num_beams=3, num_return_sequences=3, max_new_tokens=6)
    assert greedy.shape[0] == 2 and sampled.shape[0] == 6 and beams.shape[0] == 6
    assert (greedy[:, 0] == tokenizer.bos_token_id).all()
    # <pad> and <bos> are suppressed: before a row's <eos> they never appear (after it, <pad> fills)
    for ids in (greedy, sampled, beams):
        for row in ids.tolist():
            words = row[1 : row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row[1:]
            assert tokenizer.pad_token_id not in words and tokenizer.bos_token_id not in words


def test_labels_give_a_loss_and_gradients(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    from effnet_trm.tokenization import caption_labels

    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=len(tokenizer))).train()
    labels = caption_labels(tokenizer, ["a dog barks", "water flows in a stream"])
    audio = torch.from_numpy(_waveform(1.0))[None].repeat(2, 1)
    out = model(input_values=audio, labels=labels)
    assert out.logits.shape[:2] == labels.shape and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.decoder.embed_tokens.weight.grad.abs().sum() > 0
    assert model.encoder.backbone.conv_stem.weight.grad.abs().sum() > 0
    shifted = model.shift_labels_right(labels)
    assert shifted[0].tolist()[:5] == [tokenizer.bos_token_id] + labels[0, :3].tolist() + [tokenizer.eos_token_id]
    assert shifted[0, -1].item() == tokenizer.pad_token_id


# --- Hub round trip -----------------------------------------------------------------------------


def test_save_and_auto_load_with_remote_code(model_and_tokenizer, tmp_path):
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer

    model, tokenizer = model_and_tokenizer
    save_model_folder(model, tokenizer, tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "modeling_effnet_trm.py",
        "configuration_effnet_trm.py",
        "feature_extraction_effnet_trm.py",
        "tokenizer.json",
        "preprocessor_config.json",
    } <= files
    config = AutoConfig.from_pretrained(tmp_path, trust_remote_code=True)
    assert config.model_type == "effnet_trm" and set(config.auto_map) >= {"AutoConfig", "AutoModel"}
    loaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=True).eval()
    seq2seq = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, trust_remote_code=True).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tmp_path, trust_remote_code=True)
    loaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path, trust_remote_code=True)
    assert type(loaded).__module__.startswith("transformers_modules")  # the copied code, not ours

    inputs = extractor([_waveform(2.0, seed=8), _waveform(1.0, seed=9)], sampling_rate=SR)
    with torch.no_grad():
        ours = model(**inputs, decoder_input_ids=torch.ones(2, 1, dtype=torch.long)).logits
        theirs = loaded(**inputs, decoder_input_ids=torch.ones(2, 1, dtype=torch.long)).logits
        ours_ids = model.generate(**inputs)
        theirs_ids = loaded.generate(**inputs)
        seq2seq_ids = seq2seq.generate(**inputs)
    # weights bit for bit; outputs to float rounding (oneDNN may pick other kernels for other buffer alignments)
    assert all(torch.equal(tensor, loaded.state_dict()[name]) for name, tensor in model.state_dict().items())
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)
    assert torch.equal(ours_ids, theirs_ids) and torch.equal(ours_ids, seq2seq_ids)
    assert loaded.generation_config.num_beams == 3 and loaded.generation_config.max_new_tokens == 20
    assert loaded_tokenizer.batch_decode(theirs_ids, skip_special_tokens=True) == tokenizer.batch_decode(
        ours_ids, skip_special_tokens=True
    )
