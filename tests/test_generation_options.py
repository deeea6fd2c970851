"""The `generate` options users pass, each doing what transformers documents: `num_beams`,
`num_return_sequences`, `do_sample` with `temperature`/`top_p`, `max_new_tokens`, `no_repeat_ngram_size`,
`return_dict_in_generate` with `output_scores`, and a `GenerationConfig` saved and reloaded."""

from __future__ import annotations

import copy

import pytest
import torch
from tiny_effnet_trm import tiny_model_and_tokenizer, tone
from transformers import GenerationConfig

from modeling_effnet_trm import EffNetTrmForAudioCaptioning


@pytest.fixture(scope="module")
def model():
    model, _ = tiny_model_and_tokenizer(seed=5)
    # a decoder whose next-word scores vary with the words so far (random init at this size often repeats one
    # word), so that search options have something to change
    with torch.no_grad():
        model.decoder.embed_tokens.weight.mul_(4.0)
    return model


@pytest.fixture(scope="module")
def audio():
    return torch.stack([torch.from_numpy(tone(2.0, 330.0, seed=1)), torch.from_numpy(tone(2.0, 880.0, seed=2))])


def _repeated_ngrams(row: list[int], n: int) -> list[tuple]:
    grams = [tuple(row[i : i + n]) for i in range(len(row) - n + 1)]
    return [g for g in set(grams) if grams.count(g) > 1]


@torch.no_grad()
def test_max_new_tokens_bounds_the_caption(model, audio):
    for limit in (1, 4, 9):
        ids = model.generate(input_values=audio, num_beams=1, max_new_tokens=limit, min_new_tokens=limit)
        assert ids.shape == (2, 1 + limit)  # <bos> + the new tokens
        assert (ids[:, 0] == model.config.decoder_start_token_id).all()


@torch.no_grad()
def test_num_beams_and_num_return_sequences(model, audio):
    greedy = model.generate(input_values=audio, num_beams=1, max_new_tokens=8)
    beams = model.generate(
        input_values=audio,
        num_beams=4,
        num_return_sequences=3,
        max_new_tokens=8,
        return_dict_in_generate=True,
        output_scores=True,
    )
    assert beams.sequences.shape[0] == 2 * 3
    assert beams.sequences_scores.shape == (6,)
    for clip in range(2):  # each clip's returned beams, best first, all different
        scores = beams.sequences_scores[clip * 3 : clip * 3 + 3]
        assert (scores[:-1] >= scores[1:]).all()
        rows = {tuple(r.tolist()) for r in beams.sequences[clip * 3 : clip * 3 + 3]}
        assert len(rows) == 3
    assert greedy.shape[0] == 2
    with pytest.raises(ValueError):
        model.generate(input_values=audio, num_beams=2, num_return_sequences=3, max_new_tokens=4)


@torch.no_grad()
def test_sampling_with_temperature_and_top_p(model, audio):
    def sample(seed, **kwargs):
        torch.manual_seed(seed)
        return model.generate(input_values=audio, do_sample=True, num_beams=1, max_new_tokens=10, **kwargs)

    assert torch.equal(sample(0, temperature=1.5), sample(0, temperature=1.5))  # seeded: reproducible
    hot = {tuple(sample(seed, temperature=2.0, top_p=1.0)[0].tolist()) for seed in range(8)}
    assert len(hot) > 1  # sampling varies with the seed
    greedy = model.generate(input_values=audio, num_beams=1, max_new_tokens=10)
    # top_p so small that only the most likely word survives: sampling becomes greedy search
    nucleus = {tuple(sample(seed, top_p=1e-6)[0].tolist()) for seed in range(4)}
    assert nucleus == {tuple(greedy[0].tolist())}
    # a very low temperature is greedy too
    assert torch.equal(sample(1, temperature=1e-4), greedy)
    several = sample(0, temperature=1.0, num_return_sequences=3)
    assert several.shape[0] == 6


@torch.no_grad()
def test_no_repeat_ngram_size(model, audio):
    free = model.generate(input_values=audio, num_beams=1, max_new_tokens=24, min_new_tokens=24, no_repeat_ngram_size=0)
    assert any(_repeated_ngrams(row.tolist(), 2) for row in free)  # without it this model repeats itself
    for size in (1, 2):
        ids = model.generate(
            input_values=audio, num_beams=3, max_new_tokens=24, min_new_tokens=8, no_repeat_ngram_size=size
        )
        for row in ids.tolist():
            words = row[: row.index(2)] if 2 in row else row  # up to <eos>
            assert not _repeated_ngrams(words, size), (size, row)


@torch.no_grad()
def test_return_dict_in_generate_with_output_scores(model, audio):
    out = model.generate(
        input_values=audio,
        num_beams=1,
        max_new_tokens=5,
        min_new_tokens=5,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
    )
    assert out.sequences.shape == (2, 6)
    assert len(out.scores) == 5 and len(out.logits) == 5
    assert out.scores[0].shape == (2, model.config.vocab_size)
    # greedy: each chosen word is the best-scoring one of its step
    for step, scores in enumerate(out.scores):
        assert torch.equal(scores.argmax(dim=-1), out.sequences[:, step + 1])
    # scores are processed logits: the suppressed <pad>/<bos> are -inf, the raw logits are not
    suppressed = out.scores[0][:, [model.config.pad_token_id, model.config.bos_token_id]]
    assert torch.isinf(suppressed).all() and torch.isfinite(out.logits[0]).all()
    transition = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    assert transition.shape == (2, 5) and (transition <= 0).all()


@torch.no_grad()
def test_generation_config_saved_and_reloaded(model, audio, tmp_path):
    config = copy.deepcopy(model.generation_config)  # the model's own entries (block_immediate_repeats) kept
    config.update(num_beams=2, max_new_tokens=7, no_repeat_ngram_size=2, length_penalty=0.5, suppress_tokens=[0, 1])
    config.save_pretrained(tmp_path / "gen")
    loaded = GenerationConfig.from_pretrained(tmp_path / "gen")
    assert (loaded.num_beams, loaded.max_new_tokens, loaded.no_repeat_ngram_size, loaded.length_penalty) == (
        2,
        7,
        2,
        0.5,
    )
    expected = model.generate(input_values=audio, generation_config=config)
    assert torch.equal(model.generate(input_values=audio, generation_config=loaded), expected)
    assert torch.equal(model.generate(input_values=audio, **config.to_diff_dict()), expected)

    # saved with the model: a reloaded model generates with it by default
    model.generation_config = loaded
    model.save_pretrained(tmp_path / "model")
    reloaded = EffNetTrmForAudioCaptioning.from_pretrained(tmp_path / "model").eval()
    assert reloaded.generation_config.num_beams == 2 and reloaded.generation_config.no_repeat_ngram_size == 2
    assert torch.equal(reloaded.generate(input_values=audio), expected)
