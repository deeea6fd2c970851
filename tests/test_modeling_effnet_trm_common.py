"""transformers' own model tests run against EffNet-Trm, on a tiny config.

- `ModelTesterMixin` (tests/test_modeling_common.py) and `ConfigTester` (tests/test_configuration_common.py)
  are transformers' own, unmodified, from the source distribution of the installed (locked) transformers
  on PyPI: `tools/transformers_tests.py` downloads and extracts them into `.cache/transformers-tests/<version>/`
  (`make setup` runs it). Nothing of them is committed here. Without them (offline, never fetched) this file
  skips, naming the command.
- The sdist lacks three modules they import. Stand-ins: `tests/exporters/test_export.py` (`ExportTesterMixin`,
  the torch.export tests: an empty class, so those tests are absent, not run), `tests/utils/test_configuration_utils.py`
  (`config_common_kwargs`: this project's own dict of `PreTrainedConfig` arguments, `CONFIG_COMMON_KWARGS`
  below), and `tests/generation/test_utils.py` (`GenerationTesterMixin`: this project's own generation tests
  named after the upstream ones, `tests/generation_tester_subset.py`).
- Every upstream test that cannot apply is skipped with its reason (`SKIPPED` below); transformers' own
  decorators skip the GPU, multi-GPU, flash-attention, DeepSpeed, ... tests with theirs.
"""

from __future__ import annotations

import sys
import types
import unittest

import pytest
import torch
from generation_tester_subset import NOT_APPLICABLE, GenerationTesterMixin
from tiny_effnet_trm import TINY_CONFIG, tone

from configuration_effnet_trm import EffNetTrmConfig
from modeling_effnet_trm import EffNetTrmForAudioCaptioning
from tools import transformers_tests as upstream_tests

PACKAGE = upstream_tests.PACKAGE
FOLDER = upstream_tests.tests_folder()
if not (FOLDER / PACKAGE / "test_modeling_common.py").exists():
    pytest.skip(
        f"transformers' test mixins are not in {FOLDER}: run `python tools/transformers_tests.py` "
        "(make setup does; it needs PyPI)",
        allow_module_level=True,
    )

#: Non-default values of `PreTrainedConfig`'s own arguments, for ConfigTester.check_config_arguments_init
#: (upstream keeps its dict in tests/utils/test_configuration_utils.py, which the sdist does not ship).
CONFIG_COMMON_KWARGS = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "finetuning_task": "translation",
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "tokenizer_class": "BertTokenizerFast",
    "prefix": "prefix",
    "bos_token_id": 6,
    "pad_token_id": 7,
    "eos_token_id": 8,
    "sep_token_id": 9,
    "decoder_start_token_id": 10,
    "task_specific_params": {"translation": "some_params"},
    "problem_type": "regression",
}


def _stand_in(name: str, **attributes) -> None:
    """Register module `name` (and its parents) with `attributes`, for an import the sdist cannot satisfy."""
    parts = name.split(".")
    for depth in range(2, len(parts) + 1):
        module_name = ".".join(parts[:depth])
        if module_name not in sys.modules:
            module = types.ModuleType(module_name)
            module.__path__ = []  # a package, so that its children can be imported
            sys.modules[module_name] = module
    vars(sys.modules[name]).update(attributes)


sys.path.insert(0, str(FOLDER))
__import__(PACKAGE)
_stand_in(f"{PACKAGE}.exporters.test_export", ExportTesterMixin=type("ExportTesterMixin", (), {}))
_stand_in(f"{PACKAGE}.generation.test_utils", GenerationTesterMixin=GenerationTesterMixin)
_stand_in(f"{PACKAGE}.utils.test_configuration_utils", config_common_kwargs=CONFIG_COMMON_KWARGS)
common = __import__(f"{PACKAGE}.test_modeling_common", fromlist=["ModelTesterMixin"])
configuration_common = __import__(f"{PACKAGE}.test_configuration_common", fromlist=["ConfigTester"])
ModelTesterMixin, ConfigTester = common.ModelTesterMixin, configuration_common.ConfigTester


class EffNetTrmModelTester:
    """Inputs and config for the mixins: 2 clips of 1 s (3 encoder frames each), 5 decoder words."""

    def __init__(self, parent, batch_size: int = 2, seconds: float = 1.0, decoder_seq_length: int = 5):
        self.parent = parent
        self.batch_size = batch_size
        self.num_samples = int(seconds * 16000)
        self.decoder_seq_length = self.seq_length = decoder_seq_length
        self.encoder_seq_length = (self.num_samples // 160 + 1) // 32
        self.vocab_size = 31
        self.hidden_size = TINY_CONFIG["d_model"]
        self.num_hidden_layers = TINY_CONFIG["decoder_layers"]
        self.num_attention_heads = TINY_CONFIG["decoder_attention_heads"]
        self.is_training = True

    def get_config(self) -> EffNetTrmConfig:
        return EffNetTrmConfig(vocab_size=self.vocab_size, **TINY_CONFIG)

    def prepare_config_and_inputs(self):
        audio = torch.stack(
            [torch.from_numpy(tone(self.num_samples / 16000, 300.0 + 200 * i, seed=i)) for i in range(self.batch_size)]
        )
        attention_mask = torch.ones(self.batch_size, self.num_samples, dtype=torch.long)
        decoder_input_ids = torch.randint(4, self.vocab_size, (self.batch_size, self.decoder_seq_length))
        decoder_input_ids[:, 0] = 1  # <bos>
        return self.get_config(), audio, attention_mask, decoder_input_ids

    def prepare_config_and_inputs_for_common(self):
        config, audio, attention_mask, decoder_input_ids = self.prepare_config_and_inputs()
        inputs = {"input_values": audio, "attention_mask": attention_mask, "decoder_input_ids": decoder_input_ids}
        return config, inputs


class EffNetTrmModelTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (EffNetTrmForAudioCaptioning,)
    is_encoder_decoder = True
    has_attentions = False

    def setUp(self):
        self.model_tester = EffNetTrmModelTester(self)
        self.config_tester = ConfigTester(
            self, config_class=EffNetTrmConfig, has_text_modality=True, vocab_size=31, **TINY_CONFIG
        )

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        """The mixin adds labels for the model classes of its auto mappings; this one takes `labels` (word
        ids, -100 ignored) as the seq2seq models do."""
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels:
            inputs["labels"] = torch.randint(4, self.model_tester.vocab_size, inputs["decoder_input_ids"].shape)
        return inputs

    def test_config(self):
        self.config_tester.run_common_tests()

    def _check_resize(self, tie_word_embeddings: bool):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        config.tie_word_embeddings = tie_word_embeddings
        model = EffNetTrmForAudioCaptioning(config).eval()
        vocab = config.vocab_size
        old = model.get_input_embeddings().weight.detach().clone()
        for new_size in (vocab + 10, vocab - 15):
            embeddings = model.resize_token_embeddings(new_size)
            self.assertEqual(model.config.vocab_size, new_size)
            self.assertEqual(embeddings.weight.shape, (new_size, config.d_model))
            self.assertEqual(model.get_output_embeddings().weight.shape, (new_size, config.d_model))
            shared = model.get_output_embeddings().weight.data_ptr() == embeddings.weight.data_ptr()
            self.assertEqual(shared, tie_word_embeddings)
            kept = min(vocab, new_size)
            torch.testing.assert_close(embeddings.weight[:kept], old[:kept])
            if new_size > vocab:  # new rows start near the mean of the old ones
                torch.testing.assert_close(embeddings.weight[vocab:].mean(0), old.mean(0), rtol=1e-3, atol=1e-3)
            decoder_input_ids = inputs["decoder_input_ids"].clamp(max=new_size - 1)
            decoder_input_ids[:, -2] = new_size - 1
            with torch.no_grad():
                logits = model(**{**inputs, "decoder_input_ids": decoder_input_ids}).logits
            self.assertEqual(logits.shape[-1], new_size)

    def test_resize_decoder_token_embeddings(self):
        """Upstream test_resize_tokens_embeddings's checks, with the decoder's word ids (it writes into
        `input_ids`, the input of a text encoder)."""
        self._check_resize(tie_word_embeddings=True)

    def test_resize_decoder_embeddings_untied(self):
        """Upstream test_resize_embeddings_untied's checks, with the decoder's word ids."""
        self._check_resize(tie_word_embeddings=False)

    def test_tuple_and_dict_outputs_are_equal(self):
        """Upstream test_model_outputs_equivalence's check, with torch.equal (the output holds a bool mask)."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        model = EffNetTrmForAudioCaptioning(config).eval()
        with torch.no_grad():
            as_dict = model(**inputs, return_dict=True)
            as_tuple = model(**inputs, return_dict=False)
        values = [value for value in as_dict.values()]
        self.assertEqual(len(as_tuple), len(values))
        for from_tuple, from_dict in zip(as_tuple, values):
            if isinstance(from_dict, torch.Tensor):
                self.assertTrue(torch.equal(from_tuple, from_dict))

    def test_padded_audio_matches_unpadded(self):
        """Not an upstream name: a clip right-padded in a batch (with its sample mask) gets the logits it gets alone."""
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        model = EffNetTrmForAudioCaptioning(config).eval()
        short = inputs["input_values"][0, :12000]
        padded = torch.zeros_like(inputs["input_values"])
        padded[0, :12000], padded[1] = short, inputs["input_values"][1]
        mask = torch.ones_like(inputs["attention_mask"])
        mask[0, 12000:] = 0
        with torch.no_grad():
            batched = model(input_values=padded, attention_mask=mask, decoder_input_ids=inputs["decoder_input_ids"])
            alone = model(input_values=short[None], decoder_input_ids=inputs["decoder_input_ids"][:1])
        torch.testing.assert_close(batched.logits[:1], alone.logits, rtol=1e-4, atol=1e-4)


#: Upstream tests that cannot apply to this model, and why (each becomes a skip naming its reason).
NO_HIDDEN_STATES = (
    "the model returns no per-layer hidden states or attention maps (output_hidden_states/output_attentions are "
    "accepted and ignored): the encoder is a timm CNN, and the decoder returns its last hidden state only"
)
SKIPPED: dict[str, str] = {
    **NOT_APPLICABLE,
    "test_hidden_states_output": NO_HIDDEN_STATES,
    "test_retain_grad_hidden_states_attentions": NO_HIDDEN_STATES,
    "test_model_base_model_prefix": "one class holds the encoder, the decoder and lm_head (the layout of the "
    "reference checkpoints); there is no separate base model, the case this test's docstring says to skip",
    "test_resize_tokens_embeddings": "it writes into inputs_dict['input_ids'], a text encoder's input; "
    "test_resize_decoder_token_embeddings runs its checks with decoder_input_ids",
    "test_resize_embeddings_untied": "it writes into inputs_dict['input_ids'], a text encoder's input; "
    "test_resize_decoder_embeddings_untied runs its checks with decoder_input_ids",
    "test_model_outputs_equivalence": "it compares outputs with torch.allclose, which fails on the bool "
    "encoder_attention_mask of the output; test_tuple_and_dict_outputs_are_equal compares with torch.equal",
    "test_bc_cache_name_forward": "forward accepts the pre-5.24 `past_key_values=` silently (so that "
    "generate works under transformers < 5.24); the test wants a deprecation warning for it",
}

for _name, _reason in SKIPPED.items():

    def _skipped(self, _reason=_reason):
        raise unittest.SkipTest(_reason)

    _skipped.__name__ = _name
    setattr(EffNetTrmModelTest, _name, _skipped)
