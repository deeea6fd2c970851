"""The fast caption search: the incremental decoder against the model's forward pass, and the
beam search against transformers' `generate` (same token ids for every supported setting)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from effnet_trm.decoding import (
    TorchIncrementalDecoder,
    beam_search,
    fast_generate,
    fast_search_settings,
    reference_generate,
)
from effnet_trm.hub import init_model
from effnet_trm.inference import Captioner
from effnet_trm.optimize import optimize_for_inference

SR = 16000


@pytest.fixture(scope="module")
def model():
    model, _ = init_model(seed=0)
    # a random model never ends a caption: push the last hidden state towards <eos> until ending at
    # once and running to max_new_tokens compete (measured: both happen between 4.72 and 4.78)
    with torch.no_grad():
        eos_direction = model.lm_head.weight[model.config.eos_token_id]
        model.decoder.layers[-1].final_layer_norm.bias += 4.75 * eos_direction / eos_direction.norm()
    # measured without the default n-gram and repeat blocks; the tests that need one ask for it
    model.generation_config.no_repeat_ngram_size = None
    model.generation_config.block_immediate_repeats = False
    return model.eval()


def _inputs(model, seconds=(1.0, 1.5, 1.2)):
    generator = np.random.default_rng(0)
    waves = [generator.standard_normal(int(s * SR)).astype(np.float32) * 0.1 for s in seconds]
    return Captioner(model, tokenizer=None).feature_extractor(waves, sampling_rate=SR, return_tensors="pt")


@torch.inference_mode()
def test_incremental_decoder_matches_forward_through_reorders(model):
    inputs = _inputs(model)
    encoded = model.encode(inputs["input_values"], inputs["attention_mask"])
    assert not bool(encoded.attention_mask.all())  # padded frames: the cross-attention mask is exercised
    num_beams, clips = 2, 3
    decoder = TorchIncrementalDecoder(model, encoded.last_hidden_state, encoded.attention_mask, num_beams, 6)
    generator = np.random.default_rng(1)
    histories = [[model.config.decoder_start_token_id] for _ in range(clips * num_beams)]
    for position in range(5):
        log_probs = decoder.step(np.array([h[-1] for h in histories]))
        rows = np.repeat(np.arange(clips), num_beams)  # the clip of every row
        expected = (
            model(
                encoder_outputs=type(encoded)(
                    last_hidden_state=encoded.last_hidden_state[rows], attention_mask=encoded.attention_mask[rows]
                ),
                decoder_input_ids=torch.tensor(histories),
            )
            .logits[:, -1]
            .log_softmax(-1)
        )
        np.testing.assert_allclose(log_probs, expected.numpy(), atol=1e-4)
        # keep a random beam of the same clip in every row, as beam search does, then extend
        order = np.array([clip * num_beams + generator.integers(num_beams) for clip in rows])
        decoder.reorder(order)
        histories = [histories[source] + [int(generator.integers(4, model.config.vocab_size))] for source in order]


@torch.inference_mode()
def test_incremental_decoder_treats_a_padding_token_as_padding(model):
    """The reference decoder masks `<pad>` words in its input (even generated ones): with
    `padding_token` the fast path equals the forward pass given that mask, and differs without it."""
    inputs = _inputs(model)
    encoded = model.encode(inputs["input_values"], inputs["attention_mask"])
    pad = model.config.pad_token_id
    histories = torch.tensor([[1, 7, pad, 9, 11], [1, pad, pad, 5, 6], [1, 4, 5, 6, 7]])
    expected = model(
        encoder_outputs=encoded, decoder_input_ids=histories, decoder_attention_mask=histories != pad
    ).logits.log_softmax(-1)
    masked = TorchIncrementalDecoder(model, encoded.last_hidden_state, encoded.attention_mask, 1, 5, padding_token=pad)
    plain = TorchIncrementalDecoder(model, encoded.last_hidden_state, encoded.attention_mask, 1, 5)
    for position in range(histories.shape[1]):
        np.testing.assert_allclose(
            masked.step(histories[:, position].numpy()), expected[:, position].numpy(), atol=1e-4
        )
        unmasked = plain.step(histories[:, position].numpy())
    assert np.abs(unmasked[:2] - expected[:2, -1].numpy()).max() > 1e-3


SETTINGS = [
    {"num_beams": 3, "max_new_tokens": 12},
    {"num_beams": 1, "max_new_tokens": 12},
    {"num_beams": 4, "max_new_tokens": 10, "num_return_sequences": 3},
    {"num_beams": 3, "max_new_tokens": 12, "min_new_tokens": 6},
    {"num_beams": 3, "max_new_tokens": 12, "early_stopping": True},
    {"num_beams": 3, "max_new_tokens": 12, "length_penalty": 0.5},
]


@pytest.mark.parametrize("requested", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_fast_generate_equals_generate(model, requested):
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    with torch.inference_mode():
        expected = model.generate(**inputs, **requested)
        settings = fast_search_settings(model.generation_config, requested)
        assert settings is not None
        ours = fast_generate(model, **inputs, **settings)
    assert ours.tolist() == expected.tolist()


@pytest.mark.parametrize("requested", SETTINGS[:2], ids=["beam", "greedy"])
def test_the_optimized_copy_gives_the_same_captions(model, requested):
    """Folded batch norms and fused q/k/v change float rounding only: the same ids as `generate`."""
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    with torch.inference_mode():
        expected = model.generate(**inputs, **requested)
        ours = fast_generate(
            optimize_for_inference(model), **inputs, **fast_search_settings(model.generation_config, requested)
        )
    assert ours.tolist() == expected.tolist()


def test_the_search_ends_captions_at_different_lengths(model):
    """Guards the tests above: hypotheses that all ran to max_new_tokens would not exercise <eos>."""
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    requested = {"num_beams": 3, "max_new_tokens": 12, "num_return_sequences": 3}
    ids = fast_generate(model, **inputs, **fast_search_settings(model.generation_config, requested))
    eos = model.config.eos_token_id
    ends = [row.index(eos) if eos in row else None for row in ids.tolist()]
    assert None in ends and any(end is not None and end < 12 for end in ends)


def test_settings_the_fast_search_does_not_cover_fall_back_to_generate(model):
    config = model.generation_config
    assert fast_search_settings(config, {"do_sample": True, "top_p": 0.9}) is None
    assert fast_search_settings(config, {"num_beams": 3, "repetition_penalty": 1.2}) is None
    captioner = Captioner(model, tokenizer=None)
    wave = [np.zeros(SR, np.float32) + 0.01]
    torch.manual_seed(0)
    sampled = captioner.generate_ids(wave, do_sample=True, num_beams=1, max_new_tokens=5)
    assert sampled.shape[0] == 1 and sampled[0, 0] == model.config.decoder_start_token_id


def test_reference_beam_rule_through_generate_and_captioner(model):
    """The authors' rule (tested step by step in test_conversion.py) is the same search whether
    `generate` runs it (`custom_generate`) or the fast path does, and a folder's generation config
    chooses it for `Captioner`."""
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    requested = {"num_beams": 3, "max_new_tokens": 12, "num_return_sequences": 2}
    with torch.inference_mode():
        through_generate = model.generate(**inputs, **requested, custom_generate=reference_generate)
        fast = fast_generate(
            model, **inputs, **fast_search_settings(model.generation_config, {**requested, "beam_rule": "reference"})
        )
        transformers_rule = model.generate(**inputs, **requested)
    assert through_generate.tolist() == fast.tolist()
    assert through_generate.tolist() != transformers_rule.tolist()  # the rules differ on these inputs
    model.generation_config.beam_rule = "reference"
    try:
        settings = fast_search_settings(model.generation_config, requested)
    finally:
        del model.generation_config.beam_rule
    assert settings["beam_rule"] == "reference"


def test_beam_search_rejects_more_sequences_than_beams():
    with pytest.raises(ValueError, match="cannot exceed num_beams"):
        beam_search(None, 1, num_beams=2, max_new_tokens=3, bos=1, eos=2, num_return_sequences=3)


def test_incremental_decoder_refuses_training_mode_and_overlong_captions(model):
    memory, mask = torch.zeros(1, 4, model.config.memory_dim), torch.ones(1, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        TorchIncrementalDecoder(model, memory, mask, 1, model.config.max_position_embeddings + 1)
    model.train()
    try:
        with pytest.raises(ValueError, match="model.eval"):
            TorchIncrementalDecoder(model, memory, mask, 1, 5)
    finally:
        model.eval()


# --- repeated n-grams and scores ------------------------------------------------------------------

NGRAM_SETTINGS = [
    {"num_beams": 3, "max_new_tokens": 12, "no_repeat_ngram_size": 1},
    {"num_beams": 3, "max_new_tokens": 12, "no_repeat_ngram_size": 2},
    {"num_beams": 1, "max_new_tokens": 12, "min_new_tokens": 8, "no_repeat_ngram_size": 2},
    {"num_beams": 4, "max_new_tokens": 10, "num_return_sequences": 3, "no_repeat_ngram_size": 3},
]


def test_banned_by_ngrams_equals_transformers_processor():
    from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

    from effnet_trm.decoding import banned_by_ngrams

    generator = np.random.default_rng(0)
    for ngram_size in (1, 2, 3, 4):
        for length in (1, 2, 3, 6, 12):
            tokens = generator.integers(0, 5, size=(7, length))  # a small vocabulary: many repeats
            expected = NoRepeatNGramLogitsProcessor(ngram_size)(torch.from_numpy(tokens), torch.zeros(7, 5))
            ours = np.zeros((7, 5), np.float32)
            ours[banned_by_ngrams(tokens, ngram_size)] = -np.inf
            np.testing.assert_array_equal(ours, expected.numpy())


@pytest.mark.parametrize("requested", NGRAM_SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_no_repeat_ngram_search_equals_generate(model, requested):
    """The n-gram block gives `generate`'s ids, and it changes them here (the random model repeats)."""
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    with torch.inference_mode():
        expected = model.generate(**inputs, **requested)
        ours = fast_generate(model, **inputs, **fast_search_settings(model.generation_config, requested))
        unblocked = model.generate(**inputs, **{**requested, "no_repeat_ngram_size": 0})
    assert ours.tolist() == expected.tolist()
    assert ours.tolist() != unblocked.tolist()


def test_a_saved_ngram_block_is_the_fast_search_default(model):
    from modeling_effnet_trm import DEFAULT_NO_REPEAT_NGRAM_SIZE

    assert init_model(seed=0)[0].generation_config.no_repeat_ngram_size == DEFAULT_NO_REPEAT_NGRAM_SIZE
    saved = model.generation_config.no_repeat_ngram_size
    model.generation_config.no_repeat_ngram_size = 2
    try:
        settings = fast_search_settings(model.generation_config, {"num_beams": 3})
        off = fast_search_settings(model.generation_config, {"num_beams": 3, "no_repeat_ngram_size": 0})
    finally:
        model.generation_config.no_repeat_ngram_size = saved
    assert settings["no_repeat_ngram_size"] == 2 and off["no_repeat_ngram_size"] == 0


@pytest.mark.parametrize("requested", [SETTINGS[0], SETTINGS[2], SETTINGS[5], NGRAM_SETTINGS[1]], ids=str)
def test_scores_equal_generate_sequences_scores(model, requested):
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    with torch.inference_mode():
        expected = model.generate(**inputs, **requested, output_scores=True, return_dict_in_generate=True)
        ids, scores = fast_generate(
            model, **inputs, **fast_search_settings(model.generation_config, requested), return_scores=True
        )
    assert ids.tolist() == expected.sequences.tolist()
    torch.testing.assert_close(scores, expected.sequences_scores.float(), atol=1e-4, rtol=0)


def test_reference_rule_with_an_ngram_block_through_generate(model):
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    requested = {"num_beams": 3, "max_new_tokens": 12, "num_return_sequences": 2, "no_repeat_ngram_size": 1}
    with torch.inference_mode():
        through_generate = model.generate(**inputs, **requested, custom_generate=reference_generate)
        settings = fast_search_settings(model.generation_config, {**requested, "beam_rule": "reference"})
        fast = fast_generate(model, **inputs, **settings)
        unblocked = model.generate(
            **inputs, **{**requested, "no_repeat_ngram_size": 0}, custom_generate=reference_generate
        )
    assert through_generate.tolist() == fast.tolist()
    assert through_generate.tolist() != unblocked.tolist()
    for row in fast.tolist():
        words = [token for token in row if token != model.config.eos_token_id]
        assert len(words) == len(set(words))


# --- no word twice in a row ---------------------------------------------------------------------


def _says_a_token_twice(ids: torch.Tensor, eos: int) -> bool:
    """Whether some caption of `ids` has a token twice in a row before its `<eos>` (the padding after
    it repeats by design)."""
    for row in ids.tolist():
        words = row[: row.index(eos)] if eos in row else row
        if any(first == second for first, second in zip(words, words[1:])):
            return True
    return False


@pytest.mark.parametrize(
    "requested",
    [
        {"num_beams": 3, "max_new_tokens": 12},
        {"num_beams": 1, "max_new_tokens": 12, "min_new_tokens": 8},
        {"num_beams": 4, "max_new_tokens": 10, "num_return_sequences": 3, "no_repeat_ngram_size": 3},
    ],
    ids=str,
)
def test_immediate_repeat_block_search_equals_generate(model, requested):
    """A new model blocks a word following itself: the fast search gives `generate`'s ids, no id follows
    itself in them, and the random model (which repeats) says other things without the block."""
    assert init_model(seed=0)[0].generation_config.block_immediate_repeats is True
    requested = {**requested, "block_immediate_repeats": True}
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    with torch.inference_mode():
        expected = model.generate(**inputs, **requested)
        ours = fast_generate(model, **inputs, **fast_search_settings(model.generation_config, requested))
        unblocked = model.generate(**inputs, **{**requested, "block_immediate_repeats": False})
        unblocked_fast = fast_generate(
            model,
            **inputs,
            **fast_search_settings(model.generation_config, {**requested, "block_immediate_repeats": False}),
        )
    assert ours.tolist() == expected.tolist()
    assert unblocked_fast.tolist() == unblocked.tolist()
    eos = model.config.eos_token_id
    assert not _says_a_token_twice(expected, eos)
    assert _says_a_token_twice(unblocked, eos)


def test_reference_rule_with_the_immediate_repeat_block_through_generate(model):
    inputs = _inputs(model, seconds=(1.0, 1.5, 1.2, 0.7, 1.0))
    requested = {"num_beams": 3, "max_new_tokens": 12, "min_new_tokens": 8, "block_immediate_repeats": True}
    with torch.inference_mode():
        through_generate = model.generate(**inputs, **requested, custom_generate=reference_generate)
        fast = fast_generate(
            model, **inputs, **fast_search_settings(model.generation_config, {**requested, "beam_rule": "reference"})
        )
        unblocked = model.generate(
            **inputs, **{**requested, "block_immediate_repeats": False}, custom_generate=reference_generate
        )
    assert through_generate.tolist() == fast.tolist()
    assert through_generate.tolist() != unblocked.tolist()


def test_a_generation_config_saved_before_the_block_decodes_without_it(tmp_path):
    from transformers import GenerationConfig

    model = init_model(seed=0)[0].eval()
    config = model.generation_config.to_dict()
    config.pop("block_immediate_repeats")
    model.generation_config = GenerationConfig.from_dict(config)  # as a folder saved before the option loads
    assert fast_search_settings(model.generation_config, {})["block_immediate_repeats"] is False
    inputs = _inputs(model, seconds=(1.0, 1.2))
    with torch.inference_mode():
        old = model.generate(**inputs, max_new_tokens=8)
        explicitly_off = model.generate(**inputs, max_new_tokens=8, block_immediate_repeats=False)
        on = model.generate(**inputs, max_new_tokens=8, block_immediate_repeats=True)  # accepted all the same
    assert old.tolist() == explicitly_off.tolist()
    eos = model.config.eos_token_id
    assert _says_a_token_twice(old, eos)  # the untrained model repeats itself: the block has work to do
    assert not _says_a_token_twice(on, eos)
