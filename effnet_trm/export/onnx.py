"""ONNX export of EffNet-Trm and an ONNX Runtime captioner with the search outside the graphs.

Two graphs:

- `encoder.onnx`: waveforms `(batch, samples)` of one length -> the decoder's cross-attention keys and
  values for every layer, `(layers, batch, heads, frames, head_dim)` (the memory projection and the
  key/value projections run once per clip, as the PyTorch cache does);
- `decoder.onnx`: one decoding step: the last word `(batch, 1)`, the self-attention keys/values of the
  previous words `(layers, batch, heads, past, head_dim)`, the cross keys/values and the frame mask ->
  next-word log-probabilities `(batch, vocab)` and the self keys/values grown by one position.

The search runs between the graphs: `effnet_trm.decoding.beam_search` (the one the PyTorch
`Captioner` uses) over an `OnnxIncrementalDecoder`. `quantize="int8"` adds `decoder.int8.onnx`: block-wise
int8 weights and int8 arithmetic in the decoder step (see `quantize_int8`); the encoder stays fp32.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..decoding import (
    DEFAULT_SEARCH,
    ENCODER_CHUNK,
    FAST_SEARCH_SETTINGS,
    beam_search,
    cross_keys_values,
    embed_step,
    fast_search_settings,
    finish_layer_step,
    fused_qkv,
    pad_sequences,
    padding_id,
    split_heads,
)
from ..inference import Captioner, resolve_model

EXPORT_INFO = "onnx_export.json"
COPIED_FILES = (
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


class _ExportableLogMel(nn.Module):
    """The model's log-mel front end with the STFT written as a strided convolution over a windowed
    DFT basis (ONNX has no complex STFT); the same values up to float rounding."""

    def __init__(self, front_end):
        super().__init__()
        from modeling_effnet_trm import mel_filterbank

        self.source = front_end
        n_fft = front_end.n_fft
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        time = torch.arange(n_fft, dtype=torch.float64)
        frequency = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        angle = 2 * math.pi * frequency[:, None] * time[None, :] / n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])  # (2 * bins, n_fft)
        self.register_buffer("basis", basis.float().unsqueeze(1), persistent=False)
        filters = mel_filterbank(
            n_fft // 2 + 1, front_end.f_min, front_end.f_max, front_end.n_mels, front_end.sampling_rate
        )
        self.register_buffer("filters_t", filters.T.contiguous().float(), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        n_fft, hop = self.source.n_fft, self.source.hop_length
        padded = F.pad(waveform.unsqueeze(1), (n_fft // 2, n_fft // 2), mode="reflect")
        spectrum = F.conv1d(padded, self.basis, stride=hop)  # (batch, 2 * bins, frames)
        real, imaginary = spectrum.chunk(2, dim=1)
        mel = torch.matmul(self.filters_t, real.square() + imaginary.square())
        log_mel = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        if self.source.top_db is not None:
            floor = log_mel.amax(dim=(-2, -1), keepdim=True) - self.source.top_db
            log_mel = torch.maximum(log_mel, floor)
        return log_mel


class _EncoderGraph(nn.Module):
    """Equal-length waveforms -> stacked cross-attention keys and values of every decoder layer."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.front_end = _ExportableLogMel(model.encoder.front_end)

    def forward(self, input_values: torch.Tensor):
        encoder = self.model.encoder
        log_mel = self.front_end(input_values).unsqueeze(1)
        frames = encoder.frames_from_feature_map(encoder.backbone.forward_features(log_mel))
        memory = frames if encoder.output_projection is None else encoder.output_projection(frames)
        keys, values = zip(*cross_keys_values(self.model, memory))
        return torch.stack(keys), torch.stack(values)


class _DecoderStepGraph(nn.Module):
    """One decoding step with past self-attention keys/values: `TorchIncrementalDecoder`'s step, with
    the past as inputs and outputs instead of a buffer."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        # fused q/k/v as buffers: initializers in the graph, so int8 quantization sees a weight
        for index, layer in enumerate(model.decoder.layers):
            weight, bias = fused_qkv(layer.self_attn)
            self.register_buffer(f"qkv_weight_{index}", weight.detach().clone())
            self.register_buffer(f"qkv_bias_{index}", bias.detach().clone())

    def forward(self, input_ids, past_keys, past_values, cross_keys, cross_values, frame_mask):
        decoder = self.model.decoder
        heads = self.model.config.decoder_attention_heads
        position = torch.arange(past_keys.shape[3], past_keys.shape[3] + 1)
        hidden = embed_step(decoder, input_ids, decoder.position_embeddings(position))
        memory_mask = frame_mask[:, None, None, :].bool()
        new_keys, new_values = [], []
        for index, layer in enumerate(decoder.layers):
            qkv = F.linear(hidden, getattr(self, f"qkv_weight_{index}"), getattr(self, f"qkv_bias_{index}"))
            query, key, value = (split_heads(part, heads) for part in qkv.chunk(3, dim=-1))
            keys = torch.cat([past_keys[index], key], dim=2)
            values = torch.cat([past_values[index], value], dim=2)
            new_keys.append(keys)
            new_values.append(values)
            hidden = finish_layer_step(
                layer, hidden, query, keys, values, cross_keys[index], cross_values[index], memory_mask
            )
        log_probs = torch.log_softmax(self.model.lm_head(hidden[:, -1]), dim=-1)
        return log_probs, torch.stack(new_keys), torch.stack(new_values)


def export_onnx(model_or_path, out_dir: str | Path, quantize: str | None = None, opset: int = 17) -> Path:
    """Write `encoder.onnx`, `decoder.onnx` (and `decoder.int8.onnx` with `quantize="int8"`) plus the
    config, generation config, feature extractor and tokenizer files into `out_dir`."""
    from modeling_effnet_trm import EffNetTrmForAudioCaptioning

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model_or_path, (str, Path)):
        source = Path(resolve_model(str(model_or_path)))
        model = EffNetTrmForAudioCaptioning.from_pretrained(source)
        for name in COPIED_FILES:
            if (source / name).is_file():
                shutil.copy(source / name, out_dir / name)
    else:
        model = model_or_path
        model.config.save_pretrained(out_dir)
        model.generation_config.save_pretrained(out_dir)
    model = model.eval().float()
    config = model.config
    heads, head_dim = config.decoder_attention_heads, config.d_model // config.decoder_attention_heads
    layers = config.decoder_layers
    waveform = torch.randn(2, config.sampling_rate) * 0.1
    with torch.no_grad():
        cross_keys, cross_values = _EncoderGraph(model)(waveform)
    _export(
        _EncoderGraph(model),
        (waveform,),
        out_dir / "encoder.onnx",
        ["input_values"],
        ["cross_keys", "cross_values"],
        {
            "input_values": {0: "batch", 1: "samples"},
            "cross_keys": {1: "batch", 3: "frames"},
            "cross_values": {1: "batch", 3: "frames"},
        },
        opset,
    )
    past = torch.zeros(layers, 2, heads, 3, head_dim)
    step_inputs = (
        torch.ones(2, 1, dtype=torch.long),
        past,
        past,
        cross_keys,
        cross_values,
        torch.ones(2, cross_keys.shape[3], dtype=torch.bool),
    )
    kv_axes = {1: "batch", 3: "past"}
    _export(
        _DecoderStepGraph(model),
        step_inputs,
        out_dir / "decoder.onnx",
        ["input_ids", "past_keys", "past_values", "cross_keys", "cross_values", "frame_mask"],
        ["log_probs", "present_keys", "present_values"],
        {
            "input_ids": {0: "batch"},
            "past_keys": kv_axes,
            "past_values": kv_axes,
            "cross_keys": {1: "batch", 3: "frames"},
            "cross_values": {1: "batch", 3: "frames"},
            "frame_mask": {0: "batch", 1: "frames"},
            "log_probs": {0: "batch"},
            "present_keys": {1: "batch", 3: "present"},
            "present_values": {1: "batch", 3: "present"},
        },
        opset,
    )
    files = {"encoder": "encoder.onnx", "decoder": "decoder.onnx"}
    if quantize:
        files = quantize_int8(out_dir) if quantize == "int8" else _unknown_quantization(quantize)
    info = {
        "format": "onnx",
        "files": files,
        "layers": layers,
        "heads": heads,
        "head_dim": head_dim,
        "hop_length": model.encoder.front_end.hop_length,
        "time_stride": config.encoder_time_stride,
    }
    (out_dir / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def _unknown_quantization(quantize: str):
    raise ValueError(f"unknown quantization {quantize!r}; only 'int8' is supported")


def _export(module, inputs, path, input_names, output_names, dynamic_axes, opset) -> None:
    with torch.no_grad():
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False,
        )


#: Weights per int8 scale in the quantized decoder graph (MatMulNBits blocks along the input dimension).
INT8_BLOCK_SIZE = 32


def quantize_int8(out_dir: Path) -> dict:
    """`decoder.int8.onnx`: the one-step decoder graph with its matmul weights in int8, one scale per
    block of `INT8_BLOCK_SIZE` inputs (ONNX Runtime's `MatMulNBits`, 8 bits), and its activations
    quantized per block at run time (`accuracy_level=4`: int8 arithmetic). The encoder graph stays fp32:
    its matmuls (memory projection, cross-attention keys and values) run once per clip, and their input
    (EfficientNet features, a few large outliers) loses much to 8-bit activations.

    Why blocks: each row's activations get scales of their own, so a clip's caption does not depend on
    the clips decoded with it, where ONNX Runtime's dynamic quantization (the previous version) shares
    one scale per call. `MatMulNBits` with fp32 arithmetic (`accuracy_level` unset) has no fast 8-bit
    kernel. `benchmarks/export_agreement.py` measures the agreement."""
    import logging

    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # it reports every node of the graph at INFO level
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(
        str(out_dir / "decoder.onnx"),
        bits=8,
        block_size=INT8_BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out_dir / "decoder.int8.onnx"), use_external_data_format=False)
    return {"encoder": "encoder.onnx", "decoder": "decoder.int8.onnx"}


class OnnxCaptioner(Captioner):
    """`Captioner` over an ONNX export: same `caption()` / `caption_files()`, run by ONNX Runtime."""

    def __init__(
        self,
        export_dir: str | Path,
        threads: int | None = None,
        batch_size: int = 8,
        variant: str | None = None,
        silence_check: bool = True,
        audioset: bool | str = "auto",
    ):
        import onnxruntime as ort
        from transformers import GenerationConfig, PreTrainedTokenizerFast

        from configuration_effnet_trm import EffNetTrmConfig
        from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor

        export_dir = Path(export_dir)
        info = json.loads((export_dir / EXPORT_INFO).read_text())
        files = info["files"]
        if variant == "fp32":
            files = {"encoder": "encoder.onnx", "decoder": "decoder.onnx"}
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # idle ORT threads spin by default, stealing the cores from the search between steps
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.encoder_session = ort.InferenceSession(str(export_dir / files["encoder"]), options, providers=providers)
        self.decoder_session = ort.InferenceSession(str(export_dir / files["decoder"]), options, providers=providers)
        self.info = info
        self._config = EffNetTrmConfig.from_pretrained(export_dir)
        self.generation_config = (
            GenerationConfig.from_pretrained(export_dir)
            if (export_dir / "generation_config.json").is_file()
            else GenerationConfig()
        )
        self.model = None
        # a bare model export (benchmarks) has no tokenizer: ids only
        has_tokenizer = (export_dir / "tokenizer.json").is_file()
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(export_dir) if has_tokenizer else None
        self.feature_extractor = EffNetTrmFeatureExtractor(self._config.sampling_rate)
        self.batch_size = batch_size
        self.silence_check = silence_check
        self.audioset = audioset

    @property
    def config(self):
        return self._config

    def _valid_frames(self, num_samples: int) -> int:
        """Frames wholly inside a clip (the model's `num_valid_frames`)."""
        return max(1, (num_samples // self.info["hop_length"] + 1) // self.info["time_stride"])

    def encode(self, waveforms: Sequence[np.ndarray]):
        """Cross keys/values `(layers, batch, heads, frames, head_dim)` and the frame mask `(batch, frames)`.

        Clips are run in groups of equal length, as the PyTorch encoder does, a few at a time; clips
        shorter than one encoder frame are zero-padded to it first, as the PyTorch encoder pads them."""
        from modeling_effnet_trm import min_input_samples

        shortest = min_input_samples(self._config)
        lengths = [len(w) for w in waveforms]
        groups: dict[int, list[int]] = {}
        for index, length in enumerate(lengths):
            groups.setdefault(length, []).append(index)
        pieces = {}
        for length, rows in groups.items():
            # ENCODER_CHUNK clips per call, as in PyTorch: large batches of long clips cost more per clip
            padding = ((0, 0), (0, max(0, shortest - length)))
            outputs = [
                self.encoder_session.run(
                    None,
                    {
                        "input_values": np.pad(
                            np.stack(
                                [
                                    np.asarray(waveforms[i], dtype=np.float32)
                                    for i in rows[start : start + ENCODER_CHUNK]
                                ]
                            ),
                            padding,
                        )
                    },
                )
                for start in range(0, len(rows), ENCODER_CHUNK)
            ]
            pieces[length] = [np.concatenate(parts, axis=1) for parts in zip(*outputs)]
        max_frames = max(keys.shape[3] for keys, _ in pieces.values())
        any_keys = next(iter(pieces.values()))[0]
        shape = (any_keys.shape[0], len(waveforms), any_keys.shape[2], max_frames, any_keys.shape[4])
        keys, values = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        mask = np.zeros((len(waveforms), max_frames), dtype=bool)
        for length, rows in groups.items():
            piece_keys, piece_values = pieces[length]
            frames = piece_keys.shape[3]
            keys[:, rows, :, :frames] = piece_keys
            values[:, rows, :, :frames] = piece_values
            mask[rows, : min(frames, self._valid_frames(length))] = True
        return keys, values, mask

    def generate_ids(self, waveforms: Sequence[np.ndarray], return_scores: bool = False, **generate_kwargs):
        """Token ids `(batch * num_return_sequences, length)` starting with `<bos>` (beam or greedy search);
        with `return_scores`, `(ids, scores)` as `Captioner.generate_ids`. The generation config's
        `no_repeat_ngram_size` applies as in `generate`."""
        settings = fast_search_settings(self.generation_config, {**DEFAULT_SEARCH, **generate_kwargs})
        if settings is None:
            raise ValueError(
                "the ONNX captioner decodes with beam search or greedy search only; unsupported "
                f"settings: {sorted(set(generate_kwargs) - FAST_SEARCH_SETTINGS) or generate_kwargs}"
            )
        cross_keys, cross_values, mask = self.encode(waveforms)
        num_beams, max_new_tokens = settings.pop("num_beams"), settings.pop("max_new_tokens")
        decoder = OnnxIncrementalDecoder(self.decoder_session, cross_keys, cross_values, mask, num_beams)
        scores: list[float] = []
        sequences = beam_search(
            decoder,
            len(waveforms),
            num_beams,
            max_new_tokens,
            bos=self._config.decoder_start_token_id,
            eos=self._config.eos_token_id,
            suppress=settings.pop("suppress_tokens"),
            scores=scores,
            **settings,
        )
        ids = pad_sequences(sequences, padding_id(self.generation_config, self._config, num_beams))
        return (ids, torch.tensor(scores)) if return_scores else ids


class OnnxIncrementalDecoder:
    """The exported one-step decoder graph as an `IncrementalDecoder` (past keys/values as arrays)."""

    def __init__(self, session, cross_keys: np.ndarray, cross_values: np.ndarray, mask: np.ndarray, num_beams: int):
        self.session = session
        # (layers, clips, ...) -> (layers, clips x beams, ...); beams never move between clips
        self.cross_keys = np.repeat(cross_keys, num_beams, axis=1)
        self.cross_values = np.repeat(cross_values, num_beams, axis=1)
        self.mask = np.repeat(mask, num_beams, axis=0)
        layers, rows, heads, _, head_dim = self.cross_keys.shape
        self.past_keys = np.zeros((layers, rows, heads, 0, head_dim), np.float32)
        self.past_values = self.past_keys.copy()

    def step(self, tokens: np.ndarray) -> np.ndarray:
        log_probs, self.past_keys, self.past_values = self.session.run(
            None,
            {
                "input_ids": tokens.reshape(-1, 1),
                "past_keys": self.past_keys,
                "past_values": self.past_values,
                "cross_keys": self.cross_keys,
                "cross_values": self.cross_values,
                "frame_mask": self.mask,
            },
        )
        return log_probs.astype(np.float32, copy=False)

    def reorder(self, rows: np.ndarray) -> None:
        self.past_keys, self.past_values = self.past_keys[:, rows], self.past_values[:, rows]


def is_onnx_export(path: str | Path) -> bool:
    return (Path(path) / EXPORT_INFO).is_file()


def load_captioner(name_or_path: str | None = None, **kwargs) -> Captioner:
    """An `OnnxCaptioner` for an ONNX export folder, else a PyTorch `Captioner` (folder or Hub id)."""
    if name_or_path is not None and is_onnx_export(name_or_path):
        kwargs.pop("device", None)
        if kwargs.pop("quantize", None):
            raise ValueError(
                f"{name_or_path} is an ONNX export: its graphs were quantized (or not) when exported; "
                "run `effnet-trm export --format onnx --quantize int8` for int8 graphs"
            )
        return OnnxCaptioner(name_or_path, **kwargs)
    return Captioner.from_pretrained(name_or_path, **kwargs)
