"""A generation tester for EffNet-Trm named after transformers' `GenerationTesterMixin`.

transformers' `GenerationTesterMixin` lives in `tests/generation/test_utils.py` of its repository, which
the 5.24.0 source distribution does not ship (tools/transformers_tests.py takes the other mixins from
there). This is NOT that code: it is this project's own tests, one per upstream test name that applies to
an audio encoder-decoder, checking the same contract (written from the upstream test names and the
documented `generate` behaviour, not copied). Upstream tests that do not apply are listed in
`NOT_APPLICABLE` with the reason; the test file turns each into a named skip.

`self.model_tester.prepare_config_and_inputs_for_common()` must give `input_values`/`attention_mask`
(audio) and `decoder_input_ids`; `self.all_generative_model_classes` the model classes.
"""

from __future__ import annotations

import copy
import tempfile

import torch
from transformers import GenerationConfig
from transformers.cache_utils import EncoderDecoderCache
from transformers.generation.utils import (
    GenerateBeamEncoderDecoderOutput,
    GenerateEncoderDecoderOutput,
)

#: Upstream GenerationTesterMixin tests that do not apply to this model, and why.
NOT_APPLICABLE = {
    "test_generate_from_inputs_embeds": "the encoder takes audio (input_values), not token embeddings",
    "test_generate_from_random_inputs_embeds": "the encoder takes audio (input_values), not token embeddings",
    "test_generate_continue_from_inputs_embeds": "the encoder takes audio (input_values), not token embeddings",
    "test_left_padding_compatibility": "audio is right-padded with a sample mask (tested in "
    "test_padded_audio_matches_unpadded and tests/test_processor.py); there is no token prompt to left-pad",
    "test_prompt_lookup_decoding_matches_greedy_search": "prompt lookup copies n-grams from a text prompt; "
    "an audio captioner has none",
    "test_prompt_lookup_decoding_stops_at_eos": "prompt lookup copies n-grams from a text prompt; "
    "an audio captioner has none",
    "test_assisted_decoding_matches_greedy_search": "no smaller assistant model with the same vocabulary exists "
    "for this model (assisted decoding is not offered)",
    "test_assisted_decoding_sample": "no smaller assistant model with the same vocabulary exists for this model",
    "test_generate_with_static_cache": "the decoder's attention uses DynamicCache (2 layers, <= 20 words: "
    "a static cache buys nothing); StaticCache is not supported",
    "test_generate_compile_model_forward_fullgraph": "torch.compile of generate is not supported (CPU-sized "
    "model; the fast path of effnet_trm.decoding is the optimised decoder)",
    "test_generate_with_quant_cache": "quantized KV caches need optimum-quanto/HQQ and a StaticCache-style layout",
    "test_generate_methods_with_logits_to_keep": "forward has no logits_to_keep (the 2-layer decoder's "
    "logits over <= 20 words are small)",
    "test_dola_decoding_sample": "DoLa contrasts the decoder's layers through output_hidden_states, "
    "which this model does not return per layer",
    "test_eager_padding_matches_padding_free_with_position_ids": "padding-free (packed) decoding needs "
    "position_ids, which the word decoder computes itself",
    "test_sdpa_padding_matches_padding_free_with_position_ids": "padding-free (packed) decoding needs "
    "position_ids, which the word decoder computes itself",
    "test_model_parallel_beam_search": "needs several accelerators",
}


class GenerationTesterMixin:
    max_new_tokens = 4

    def _inputs(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        audio = {key: inputs[key] for key in ("input_values", "attention_mask") if key in inputs}
        return config, audio

    def _model(self, model_class, config):
        return model_class(config).eval()

    def _generate(self, model, audio, **kwargs):
        settings = {"max_new_tokens": self.max_new_tokens, "min_new_tokens": self.max_new_tokens, **kwargs}
        with torch.no_grad():
            return model.generate(**audio, **settings)

    def _check_outputs(self, output, config, batch_size, num_sequences=1, use_cache=False, beams=False):
        """What `return_dict_in_generate=True` promises: the output class, one score and one logit tensor per
        new token of shape (batch x beams/sequences, vocab), and the cache when one was used."""
        expected_class = GenerateBeamEncoderDecoderOutput if beams else GenerateEncoderDecoderOutput
        self.assertIsInstance(output, expected_class)
        self.assertEqual(output.sequences.shape[0], batch_size * num_sequences)
        new_tokens = output.sequences.shape[1] - 1  # after <bos>
        self.assertEqual(new_tokens, self.max_new_tokens)
        rows = batch_size * (config.num_beams_for_test if beams else num_sequences)
        self.assertEqual(len(output.scores), new_tokens)
        self.assertEqual(len(output.logits), new_tokens)
        for scores, logits in zip(output.scores, output.logits):
            self.assertEqual(tuple(scores.shape), (rows, config.vocab_size))
            self.assertEqual(tuple(logits.shape), (rows, config.vocab_size))
            self.assertTrue(torch.isfinite(logits).all())
        if beams:
            self.assertEqual(tuple(output.sequences_scores.shape), (batch_size * num_sequences,))
        if use_cache:
            self.assertIsInstance(output.past_key_values, EncoderDecoderCache)
            self.assertEqual(len(output.past_key_values.self_attention_cache.layers), config.decoder_layers)
        else:
            self.assertIsNone(output.past_key_values)

    # --- greedy -------------------------------------------------------------------------------------

    def _step_logits(self, model, audio, ids, config):
        """Next-word logits of a whole forward pass over `ids` (no cache), with the tokens generate forbids
        here set to -inf: <pad> and <bos> (suppressed) and <eos> (min_new_tokens = max_new_tokens)."""
        with torch.no_grad():
            logits = model(**audio, decoder_input_ids=ids[:, :-1], use_cache=False).logits
        for token in (config.pad_token_id, config.bos_token_id, config.eos_token_id):
            logits[..., token] = -float("inf")
        return logits

    def test_greedy_generate(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            ids = self._generate(
                model, audio, num_beams=1, do_sample=False, no_repeat_ngram_size=0, block_immediate_repeats=False
            )
            batch_size = audio["input_values"].shape[0]
            self.assertEqual(tuple(ids.shape), (batch_size, 1 + self.max_new_tokens))
            self.assertTrue((ids[:, 0] == config.decoder_start_token_id).all())
            # greedy = the argmax of a full forward pass at every step
            self.assertTrue(torch.equal(self._step_logits(model, audio, ids, config).argmax(-1), ids[:, 1:]))

    def test_greedy_generate_dict_outputs(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            output = self._generate(
                model,
                audio,
                num_beams=1,
                do_sample=False,
                use_cache=False,
                return_dict_in_generate=True,
                output_scores=True,
                output_logits=True,
            )
            self._check_outputs(output, config, audio["input_values"].shape[0])

    def test_greedy_generate_dict_outputs_use_cache(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            settings = {"num_beams": 1, "do_sample": False, "return_dict_in_generate": True}
            settings.update(output_scores=True, output_logits=True)
            cached = self._generate(model, audio, use_cache=True, **settings)
            uncached = self._generate(model, audio, use_cache=False, **settings)
            self._check_outputs(cached, config, audio["input_values"].shape[0], use_cache=True)
            self.assertTrue(torch.equal(cached.sequences, uncached.sequences))
            for with_cache, without in zip(cached.logits, uncached.logits):
                torch.testing.assert_close(with_cache, without, rtol=1e-4, atol=1e-4)

    # --- sampling -----------------------------------------------------------------------------------

    def test_sample_generate(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            torch.manual_seed(0)
            first = self._generate(model, audio, num_beams=1, do_sample=True, num_return_sequences=2)
            torch.manual_seed(0)
            again = self._generate(model, audio, num_beams=1, do_sample=True, num_return_sequences=2)
            self.assertEqual(tuple(first.shape), (2 * audio["input_values"].shape[0], 1 + self.max_new_tokens))
            self.assertTrue(torch.equal(first, again))
            self.assertTrue(((first >= 0) & (first < config.vocab_size)).all())

    def test_sample_generate_dict_output(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            torch.manual_seed(0)
            output = self._generate(
                model,
                audio,
                num_beams=1,
                do_sample=True,
                num_return_sequences=3,
                use_cache=False,
                return_dict_in_generate=True,
                output_scores=True,
                output_logits=True,
            )
            self._check_outputs(output, config, audio["input_values"].shape[0], num_sequences=3)

    # --- beam search --------------------------------------------------------------------------------

    def test_beam_search_generate(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            ids = self._generate(model, audio, num_beams=3, num_return_sequences=2, do_sample=False)
            self.assertEqual(ids.shape[0], 2 * audio["input_values"].shape[0])
            # a beam's score is the sum of its words' log-probabilities (length_penalty=0: not divided by length)
            best = self._generate(
                model,
                audio,
                num_beams=3,
                do_sample=False,
                length_penalty=0.0,
                no_repeat_ngram_size=0,
                block_immediate_repeats=False,
                return_dict_in_generate=True,
                output_scores=True,
            )
            with torch.no_grad():
                logits = model(**audio, decoder_input_ids=best.sequences[:, :-1], use_cache=False).logits
            totals = logits.log_softmax(-1).gather(-1, best.sequences[:, 1:, None]).squeeze(-1).sum(-1)
            torch.testing.assert_close(best.sequences_scores, totals, rtol=1e-4, atol=1e-4)

    def test_beam_search_generate_dict_output(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            config.num_beams_for_test = 3
            model = self._model(model_class, config)
            output = self._generate(
                model,
                audio,
                num_beams=3,
                num_return_sequences=2,
                do_sample=False,
                use_cache=False,
                return_dict_in_generate=True,
                output_scores=True,
                output_logits=True,
            )
            self._check_outputs(output, config, audio["input_values"].shape[0], num_sequences=2, beams=True)
            self.assertEqual(
                tuple(output.beam_indices.shape), tuple(output.sequences.shape[:1]) + (self.max_new_tokens,)
            )

    def test_beam_search_generate_dict_outputs_use_cache(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            config.num_beams_for_test = 3
            model = self._model(model_class, config)
            settings = {"num_beams": 3, "do_sample": False, "return_dict_in_generate": True}
            settings.update(output_scores=True, output_logits=True)
            cached = self._generate(model, audio, use_cache=True, **settings)
            uncached = self._generate(model, audio, use_cache=False, **settings)
            self._check_outputs(cached, config, audio["input_values"].shape[0], use_cache=True, beams=True)
            self.assertTrue(torch.equal(cached.sequences, uncached.sequences))
            torch.testing.assert_close(cached.sequences_scores, uncached.sequences_scores, rtol=1e-4, atol=1e-4)

    def test_beam_sample_generate(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            torch.manual_seed(1)
            first = self._generate(model, audio, num_beams=3, do_sample=True, num_return_sequences=2)
            torch.manual_seed(1)
            again = self._generate(model, audio, num_beams=3, do_sample=True, num_return_sequences=2)
            self.assertEqual(first.shape[0], 2 * audio["input_values"].shape[0])
            self.assertTrue(torch.equal(first, again))

    def test_beam_sample_generate_dict_output(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            config.num_beams_for_test = 3
            model = self._model(model_class, config)
            torch.manual_seed(2)
            output = self._generate(
                model,
                audio,
                num_beams=3,
                do_sample=True,
                use_cache=False,
                return_dict_in_generate=True,
                output_scores=True,
                output_logits=True,
            )
            self._check_outputs(output, config, audio["input_values"].shape[0], beams=True)

    # --- the cache ----------------------------------------------------------------------------------

    def test_past_key_values_format(self):
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            batch_size = audio["input_values"].shape[0]
            words = 3
            decoder_input_ids = torch.ones(batch_size, words, dtype=torch.long)
            with torch.no_grad():
                output = model(**audio, decoder_input_ids=decoder_input_ids, use_cache=True)
                frames = model.encoder(**audio).last_hidden_state.shape[1]
            cache = output.past_key_values if "past_key_values" in output else output["cache"]
            self.assertIsInstance(cache, EncoderDecoderCache)
            heads, head_dim = config.decoder_attention_heads, config.d_model // config.decoder_attention_heads
            for layer in range(config.decoder_layers):
                self_attention = cache.self_attention_cache.layers[layer]
                cross_attention = cache.cross_attention_cache.layers[layer]
                self.assertEqual(tuple(self_attention.keys.shape), (batch_size, heads, words, head_dim))
                self.assertEqual(tuple(self_attention.values.shape), (batch_size, heads, words, head_dim))
                self.assertEqual(tuple(cross_attention.keys.shape), (batch_size, heads, frames, head_dim))

    def test_generate_continue_from_past_key_values(self):
        """Decoding the rest of a caption from a returned cache gives the same words as decoding it whole."""
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            settings = {"num_beams": 1, "do_sample": False, "return_dict_in_generate": True, "use_cache": True}
            whole = self._generate(model, audio, **settings)
            with torch.no_grad():
                first = model.generate(**audio, max_new_tokens=2, min_new_tokens=2, **settings)
                rest = model.generate(
                    **audio,
                    decoder_input_ids=first.sequences,
                    past_key_values=copy.deepcopy(first.past_key_values),
                    max_new_tokens=self.max_new_tokens - 2,
                    min_new_tokens=self.max_new_tokens - 2,
                    **settings,
                )
            self.assertTrue(torch.equal(rest.sequences, whole.sequences))

    # --- generation config --------------------------------------------------------------------------

    def test_generation_config_save_and_reload(self):
        """Not an upstream name: the generation config a model saves is the one it generates with when reloaded."""
        for model_class in self.all_generative_model_classes:
            config, audio = self._inputs()
            model = self._model(model_class, config)
            model.generation_config = GenerationConfig.from_dict(
                {**model.generation_config.to_dict(), "num_beams": 2, "max_new_tokens": self.max_new_tokens}
            )
            with tempfile.TemporaryDirectory() as folder:
                model.save_pretrained(folder)
                reloaded = model_class.from_pretrained(folder).eval()
            self.assertEqual(reloaded.generation_config.num_beams, 2)
            with torch.no_grad():
                self.assertTrue(torch.equal(reloaded.generate(**audio), model.generate(**audio)))
