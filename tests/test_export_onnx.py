"""ONNX export: graphs run in ONNX Runtime and decode as the PyTorch model does."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from effnet_trm.export.onnx import OnnxCaptioner, OnnxIncrementalDecoder, export_onnx, load_captioner  # noqa: E402
from effnet_trm.hub import init_model  # noqa: E402
from effnet_trm.inference import Captioner  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    source = root / "torch"
    init_model(
        source,
        seed=0,
        d_model=32,
        decoder_ffn_dim=64,
        decoder_attention_heads=4,
        encoder_name="efficientnet_b0",
        encoder_hidden_size=1280,
    )
    export_onnx(source, root / "onnx", quantize="int8")
    return source, root / "onnx"


def _waves():
    generator = np.random.default_rng(0)
    return [generator.standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 16000, 24000)]


def test_onnx_log_probs_match_pytorch(folders):
    source, onnx_dir = folders
    torch_captioner = Captioner.from_pretrained(str(source))
    onnx_captioner = OnnxCaptioner(onnx_dir, variant="fp32")
    waves = _waves()
    keys, values, mask = onnx_captioner.encode(waves)
    model = torch_captioner.model
    inputs = torch_captioner.feature_extractor(waves, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs, decoder_input_ids=torch.tensor([[1, 5, 7]] * 3))
    expected = torch.log_softmax(out.logits, dim=-1).numpy()
    assert mask.tolist() == out.encoder_attention_mask.tolist()
    decoder = OnnxIncrementalDecoder(onnx_captioner.decoder_session, keys, values, mask, num_beams=1)
    for position, token in enumerate([1, 5, 7]):
        log_probs = decoder.step(np.full(3, token, np.int64))
        np.testing.assert_allclose(log_probs, expected[:, position], atol=2e-3)


def test_onnx_beam_and_greedy_captions_equal_generate(folders):
    source, onnx_dir = folders
    torch_captioner = Captioner.from_pretrained(str(source))
    torch_captioner.model.generation_config.suppress_tokens = [0, 1]
    onnx_captioner = load_captioner(str(onnx_dir), variant="fp32")
    assert isinstance(onnx_captioner, OnnxCaptioner)
    waves = _waves()
    for settings in ({"num_beams": 3, "max_new_tokens": 8}, {"num_beams": 1, "max_new_tokens": 8}):
        assert onnx_captioner.caption(waves, **settings) == torch_captioner.caption(waves, **settings)


def test_int8_export_runs_and_cli_loader(folders):
    _, onnx_dir = folders
    assert (onnx_dir / "decoder.int8.onnx").is_file()
    captioner = load_captioner(str(onnx_dir))  # the int8 decoder by default after --quantize int8
    assert captioner.decoder_session._model_path.endswith("decoder.int8.onnx")
    assert captioner.encoder_session._model_path.endswith("encoder.onnx")  # once per clip: fp32
    captions = captioner.caption(_waves(), num_beams=3, max_new_tokens=6)
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    with pytest.raises(ValueError, match="quantized .* when exported"):
        load_captioner(str(onnx_dir), quantize="int8")  # `effnet-trm caption --int8` on an export


def test_int8_decoder_is_block_quantized_and_close_to_fp32(folders):
    import onnx

    _, onnx_dir = folders
    graph = onnx.load(onnx_dir / "decoder.onnx").graph
    weights = {initializer.name for initializer in graph.initializer}
    weight_matmuls = [node for node in graph.node if node.op_type == "MatMul" and weights & set(node.input)]
    quantized = [node for node in onnx.load(onnx_dir / "decoder.int8.onnx").graph.node if node.op_type == "MatMulNBits"]
    assert len(weight_matmuls) == len(quantized) >= 7  # every projection with a weight; attention stays fp32
    fp32, int8 = OnnxCaptioner(onnx_dir, variant="fp32"), OnnxCaptioner(onnx_dir)
    keys, values, mask = fp32.encode(_waves())
    steps = []
    for captioner in (fp32, int8):
        decoder = OnnxIncrementalDecoder(captioner.decoder_session, keys, values, mask, num_beams=1)
        steps.append([decoder.step(np.full(3, token, np.int64)) for token in (1, 5, 7)])
    for fp32_log_probs, int8_log_probs in zip(*steps):
        difference = np.abs(np.exp(fp32_log_probs) - np.exp(int8_log_probs)).sum(axis=-1)
        assert difference.max() < 0.02  # total variation between the next-word distributions
        assert not np.allclose(fp32_log_probs, int8_log_probs, atol=1e-6)  # int8 really ran


def test_onnx_no_repeat_ngram_ids_and_scores_equal_generate(folders):
    """The generation config's n-gram block (the default of saved models) applies in ONNX Runtime as in
    `generate`: the same ids, and each caption's score is `generate`'s `sequences_scores`."""
    source, onnx_dir = folders
    model = Captioner.from_pretrained(str(source)).model
    onnx_captioner = OnnxCaptioner(onnx_dir, variant="fp32")
    from modeling_effnet_trm import DEFAULT_NO_REPEAT_NGRAM_SIZE

    saved = onnx_captioner.generation_config.no_repeat_ngram_size
    assert saved == model.generation_config.no_repeat_ngram_size == DEFAULT_NO_REPEAT_NGRAM_SIZE
    waves = _waves()
    inputs = Captioner(model, tokenizer=None).feature_extractor(waves, sampling_rate=16000, return_tensors="pt")
    for settings in (
        {"num_beams": 3, "max_new_tokens": 10, "min_new_tokens": 8, "no_repeat_ngram_size": 1},
        {"num_beams": 1, "max_new_tokens": 10, "min_new_tokens": 8, "no_repeat_ngram_size": 1},
        {"num_beams": 3, "max_new_tokens": 10},  # the saved config's block
    ):
        with torch.no_grad():
            expected = model.generate(**inputs, **settings, output_scores=True, return_dict_in_generate=True)
            unblocked = model.generate(**inputs, **{**settings, "no_repeat_ngram_size": 0})
        ids, scores = onnx_captioner.generate_ids(waves, return_scores=True, **settings)
        assert ids.tolist() == expected.sequences.tolist()
        if settings["num_beams"] > 1:
            torch.testing.assert_close(scores, expected.sequences_scores.float(), atol=2e-3, rtol=0)
        if "no_repeat_ngram_size" in settings:
            assert ids.tolist() != unblocked.tolist()  # the block changed these captions
