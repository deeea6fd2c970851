"""The inference-only copy of `effnet_trm.optimize`: folded batch norms compute what the model computes,
int8 and fp16 decoder linears stay close to fp32, and the original model is never touched."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from effnet_trm.decoding import TorchIncrementalDecoder, fast_generate, fast_search_settings
from effnet_trm.hub import init_model
from effnet_trm.inference import Captioner
from effnet_trm.optimize import (
    PREPACK_MIN_WEIGHTS,
    ConvSiLU,
    FullRangeDynamicLinear,
    PrepackedLinear,
    fold_batch_norms,
    int8_linear_class,
    onednn_available,
    optimize_for_inference,
    per_step_linears,
)

SR = 16000


@pytest.fixture(scope="module")
def model():
    """A model whose batch norms are far from the identity (a fresh one has mean 0, variance 1, scale 1,
    shift 0, which a wrong fold could get away with)."""
    model, _ = init_model(seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
                module.running_var.copy_(torch.rand(shape, generator=generator) * 2 + 0.2)
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=generator) * 0.2)
    return model.eval()


def _batch():
    generator = torch.Generator().manual_seed(0)
    waves = torch.randn(2, int(1.5 * SR), generator=generator) * 0.1
    mask = torch.ones_like(waves, dtype=torch.long)
    mask[1, SR:] = 0  # the second clip is 1 s long: the encoder runs it as its own group
    return waves, mask


def _count(network, kind):
    return sum(isinstance(module, kind) for module in network.modules())


@torch.inference_mode()
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-3)])
def test_folded_encoder_computes_what_the_model_computes(model, dtype, tolerance):
    """In float64 the fold is exact to rounding; in float32 rounding through 23 blocks stays small
    (up to 3.7e-4 of the largest frame value seen on a fresh machine: the folded convolutions may run
    other oneDNN kernels than the unfolded ones). A wrong fold is off by the order of the values."""
    model = copy.deepcopy(model).to(dtype)
    waves, mask = _batch()
    expected = model.encode(waves.to(dtype), mask)
    optimized = optimize_for_inference(model)
    got = optimized.encode(waves.to(dtype), mask)
    assert _count(model.encoder.backbone, nn.BatchNorm2d) == 69  # EfficientNet-B2's batch norms ...
    assert _count(optimized.encoder.backbone, nn.BatchNorm2d) == 0  # ... all folded
    assert torch.equal(got.attention_mask, expected.attention_mask)
    scale = expected.frame_embeddings.abs().max()
    torch.testing.assert_close(got.frame_embeddings / scale, expected.frame_embeddings / scale, rtol=0, atol=tolerance)


def test_fold_batch_norms_leaves_a_batch_norm_that_does_not_follow_a_convolution():
    network = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
    ).eval()
    example = torch.randn(1, 1, 6, 6)
    expected = network(example)
    assert fold_batch_norms(network, lambda: network(example)) == 1
    assert isinstance(network[2], nn.BatchNorm2d) and isinstance(network[4], nn.Identity)
    torch.testing.assert_close(network(example), expected)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(network.train(), lambda: network(example))


def _step_log_probs(model, optimized) -> list[np.ndarray]:
    """Next-word log-probabilities of 3 decoding steps of `optimized` on a fixed batch."""
    waves, mask = _batch()
    encoded = optimized.encode(waves, mask)
    decoder = TorchIncrementalDecoder(optimized, encoded.last_hidden_state, encoded.attention_mask, 1, 4)
    tokens = np.array([model.config.decoder_start_token_id] * 2)
    return [decoder.step(tokens + word) for word in range(3)]


def _total_variation(log_probs: np.ndarray, other: np.ndarray) -> float:
    return float(np.abs(np.exp(log_probs) - np.exp(other)).sum(axis=-1).max())


@torch.inference_mode()
def test_int8_decoder_log_probs_stay_close_to_fp32(model):
    int8 = optimize_for_inference(model, quantize="int8")
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    for layer in int8.decoder.layers:
        assert all(
            isinstance(linear, dynamic) and linear.weight().dtype == torch.qint8 for linear in (layer.fc1, layer.fc2)
        )  # feed-forward: int8 weights
        assert layer.fc1.weight().qscheme() == torch.per_channel_affine
        for linear in (
            layer.self_attn.qkv_proj,
            layer.self_attn.out_proj,
            layer.encoder_attn.q_proj,
            layer.encoder_attn.out_proj,
        ):
            assert isinstance(linear, dynamic) and linear._packed_params.dtype == torch.float16
        # once per clip (cross-attention keys and values): kept in fp32
        assert type(layer.encoder_attn.k_proj) is nn.Linear and type(layer.encoder_attn.v_proj) is nn.Linear
    assert type(int8.decoder.memory_projection[0]) is nn.Linear
    assert isinstance(int8.lm_head, dynamic) and int8.lm_head._packed_params.dtype == torch.float16
    for fp32_log_probs, int8_log_probs in zip(
        _step_log_probs(model, optimize_for_inference(model)), _step_log_probs(model, int8)
    ):
        assert _total_variation(fp32_log_probs, int8_log_probs) < 0.05  # between next-word distributions
        assert not np.allclose(fp32_log_probs, int8_log_probs, atol=1e-6)  # int8 really ran


@pytest.mark.skipif(not torch.cpu._is_vnni_supported(), reason="8-bit activations are used on CPUs with VNNI only")
@torch.inference_mode()
def test_full_range_int8_activations_are_closer_to_fp32_on_vnni():
    assert int8_linear_class() is FullRangeDynamicLinear
    generator = torch.Generator().manual_seed(0)
    linear = nn.Linear(256, 1024)
    inputs = torch.randn(24, 256, generator=generator)
    inputs[:, :4] *= 8  # a few large channels, as after a layer norm
    errors = {}
    for linear_class in (torch.ao.nn.quantized.dynamic.Linear, FullRangeDynamicLinear):
        quantized = torch.ao.quantization.quantize_dynamic(
            nn.Sequential(copy.deepcopy(linear)),
            {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            mapping={nn.Linear: linear_class},
        )
        errors[linear_class] = (quantized(inputs) - linear(inputs)).abs().mean().item()
    assert errors[FullRangeDynamicLinear] < 0.7 * errors[torch.ao.nn.quantized.dynamic.Linear]


@torch.inference_mode()
def test_fp16_decoder_is_nearly_exact(model):
    fp16 = optimize_for_inference(model, quantize="fp16")
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    per_step = [fp16.lm_head] + [
        linear
        for layer in fp16.decoder.layers
        for linear in (
            layer.fc1,
            layer.fc2,
            layer.self_attn.qkv_proj,
            layer.self_attn.out_proj,
            layer.encoder_attn.q_proj,
            layer.encoder_attn.out_proj,
        )
    ]
    assert all(isinstance(linear, dynamic) and linear._packed_params.dtype == torch.float16 for linear in per_step)
    int8_variation = max(
        _total_variation(a, b)
        for a, b in zip(
            _step_log_probs(model, optimize_for_inference(model)),
            _step_log_probs(model, optimize_for_inference(model, "int8")),
        )
    )
    for fp32_log_probs, fp16_log_probs in zip(
        _step_log_probs(model, optimize_for_inference(model)), _step_log_probs(model, fp16)
    ):
        assert _total_variation(fp32_log_probs, fp16_log_probs) < min(2e-3, int8_variation / 4)
        assert not np.allclose(fp32_log_probs, fp16_log_probs, atol=1e-7)  # fp16 weights really ran


def test_the_original_model_is_untouched_and_the_copy_refuses_to_be_saved(model, tmp_path):
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    optimized = optimize_for_inference(model, quantize="int8")
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[name], after[name]) for name in before)
    with pytest.raises(RuntimeError, match="save the original model"):
        optimized.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="unknown quantization"):
        optimize_for_inference(model, quantize="int4")
    with pytest.raises(ValueError, match="needs the fast search"):
        Captioner(model, tokenizer=None, fast_search=False, quantize="int8")


needs_onednn = pytest.mark.skipif(
    not onednn_available(torch.nn.Linear(1, 1)), reason="PyTorch built without oneDNN's fused CPU kernels"
)


@needs_onednn
@torch.inference_mode()
@pytest.mark.parametrize("search", [{"num_beams": 3, "no_repeat_ngram_size": 2}, {"num_beams": 3}, {"num_beams": 1}])
def test_onednn_copy_gives_the_token_ids_of_generate(model, search):
    """The default copy (float32 on a CPU) runs convolutions fused with their SiLU and prepacked per-step
    linears; beam 3 with the default n-gram block, without it, and greedy: the same ids as `generate`."""
    optimized = optimize_for_inference(model)
    plain = optimize_for_inference(model, onednn=False)
    assert _count(optimized.encoder.backbone, ConvSiLU) == 46 and _count(plain, ConvSiLU) == 0
    large = [
        n for n, kind in per_step_linears(optimized, "fp16").items() if model_weights(plain, n) >= PREPACK_MIN_WEIGHTS
    ]
    assert len(large) >= 4  # q/k/v and feed-forward of each layer
    assert _count(optimized, PrepackedLinear) == len(large) and _count(plain, PrepackedLinear) == 0
    waves, mask = _batch()
    requested = {"max_new_tokens": 12, "min_new_tokens": 12, **search}  # forced length: every step compared
    expected = model.generate(input_values=waves, attention_mask=mask, **requested)
    settings = fast_search_settings(model.generation_config, requested)
    assert torch.equal(fast_generate(optimized, waves, mask, **settings), expected)
    assert torch.equal(fast_generate(plain, waves, mask, **settings), expected)
    assert torch.equal(optimized.generate(input_values=waves, attention_mask=mask, **requested), expected)


@needs_onednn
@torch.inference_mode()
def test_onednn_copy_computes_what_the_plain_copy_computes_and_deep_copies(model):
    optimized = optimize_for_inference(model)
    plain = optimize_for_inference(model, onednn=False)
    waves, mask = _batch()
    expected, got = plain.encode(waves, mask).frame_embeddings, optimized.encode(waves, mask).frame_embeddings
    scale = expected.abs().max()
    torch.testing.assert_close(got / scale, expected / scale, rtol=0, atol=1e-3)  # as the fold: kernels differ
    for reference, log_probs in zip(_step_log_probs(model, plain), _step_log_probs(model, optimized)):
        np.testing.assert_allclose(log_probs, reference, rtol=0, atol=2e-3)  # the encoder's rounding, carried
    copied = copy.deepcopy(optimized)  # oneDNN's packed weights have no storage: packed anew
    for reference, log_probs in zip(_step_log_probs(model, optimized), _step_log_probs(model, copied)):
        np.testing.assert_array_equal(log_probs, reference)
    with pytest.raises(ValueError, match="float32 model on a CPU"):
        optimize_for_inference(copy.deepcopy(model).double(), onednn=True)


def model_weights(model, name: str) -> int:
    return model.get_submodule(name).weight.numel()


@needs_onednn
@torch.inference_mode()
def test_prepacked_linear_equals_linear_for_any_row_count():
    """Packed for 3 rows, it also takes 1 or 7 rows and (rows, words, features) inputs; no bias too."""
    generator = torch.Generator().manual_seed(0)
    for bias in (True, False):
        linear = nn.Linear(256, 1024, bias=bias)
        packed = PrepackedLinear(linear, rows=3)
        for shape in ((3, 256), (1, 256), (7, 256), (2, 5, 256)):
            inputs = torch.randn(*shape, generator=generator)
            torch.testing.assert_close(packed(inputs), linear(inputs), rtol=1e-5, atol=1e-5)
        assert torch.equal(packed.weight, linear.weight)
