"""Converting the authors' released EffNet-Trm checkpoints (wsntxxn/AudioCaption) into this package.

Sources: a Hub id or folder in the released format (`config.json` + `pytorch_model.bin` or
`model.safetensors`, keys under `model.model.{encoder,decoder}.*` and the KD heads `model.*`), or a
training checkpoint (`{"model": state_dict, "tokenizer": word2idx, ...}`, keys under
`model.{encoder,decoder}.*`, without the frozen positional table and the tied classifier).

The mapping is strict: every source tensor is mapped, verified against what this package computes
(STFT window, mel filterbank, a sinusoidal positional table) or dropped with a reason (the
training-only KD heads), and every target tensor is filled; anything else is an error that lists the keys.

The decoder's positional table: the reference `PositionalEncoding` builds a sin/cos table, but
`TransformerDecoder.init_params` then applies `xavier_uniform_` to every parameter with more than one
dimension, the table included (a frozen `nn.Parameter`), so their models were trained and released
with a table of uniform noise (about +-0.015) instead. A released folder carries that table: it is
stored as it is (`position_embedding="stored"`). A training checkpoint does not (their trainer saves
trainable parameters and buffers only) and their code draws new noise at every load: zeros are stored
and the report says so (`benchmarks/check_against_authors.py` measures the effect).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from configuration_effnet_trm import EffNetTrmConfig
from modeling_effnet_trm import EffNetTrmForAudioCaptioning, mel_filterbank, sinusoidal_position_embedding

from ..hub import save_model_folder
from ..tokenization import tokenizer_from_vocab

logger = logging.getLogger(__name__)

#: The released models' encoder: efficientnet_pytorch B2 (static "same" padding for 260 x 260, BN eps 1e-3).
REFERENCE_ENCODER = {"encoder_padding": "static_same_260", "encoder_batch_norm_eps": 1e-3}
KD_HEADS = {
    "logit_scale": "training-only contrastive temperature",
    "stdnt_proj": "training-only student projection of the contrastive KD head",
    "tchr_proj": "training-only teacher projection of the contrastive KD head",
}
ZERO_TABLE_NOTE = (
    "zeros: a training checkpoint does not save the frozen positional table, which the authors' "
    "code re-draws as Xavier noise (about +-0.015) at every load"
)
SPECIAL_TOKENS = {"<pad>": "<pad>", "<start>": "<bos>", "<end>": "<eos>", "<unk>": "<unk>"}

# efficientnet_pytorch block members -> timm's, for expanding (InvertedResidual) and plain
# (DepthwiseSeparable, the first stage) blocks
_EXPANDING = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_se_reduce": "se.conv_reduce",
    "_se_expand": "se.conv_expand",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_PLAIN = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_se_reduce": "se.conv_reduce",
    "_se_expand": "se.conv_expand",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}
_DECODER_LAYER = {
    "linear1": "fc1",
    "linear2": "fc2",
    "norm1": "self_attn_layer_norm",
    "norm2": "encoder_attn_layer_norm",
    "norm3": "final_layer_norm",
}


class ConversionError(ValueError):
    """The source does not map strictly onto the model; the message lists the keys."""


@dataclass
class ConversionReport:
    mapped: int = 0
    verified_and_dropped: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    #: model tensors the source has no value for, and what was stored instead
    substituted: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"{self.mapped} tensors mapped"]
        lines += [f"not in the source, stored: {k} ({v})" for k, v in self.substituted.items()]
        lines += [f"verified, not stored: {k} ({v})" for k, v in self.verified_and_dropped.items()]
        lines += [f"dropped: {k} ({v})" for k, v in self.dropped.items()]
        return "\n".join(lines)


def _normalise(key: str) -> str:
    """Strip the wrappers' prefixes: `model.model.encoder...` / `model.encoder...` -> `encoder...`."""
    while key.startswith("model."):
        key = key[len("model.") :]
    return key


def timm_block_names(backbone) -> list[str]:
    """`blocks.<stage>.<block>` of a timm EfficientNet in order: the flat block index of efficientnet_pytorch."""
    return [f"blocks.{s}.{b}" for s, stage in enumerate(backbone.blocks) for b in range(len(stage))]


def efficientnet_pytorch_to_timm(key: str, block_names: list[str]) -> str:
    """The timm backbone's name for an `efficientnet_pytorch` tensor name (`_blocks.3._bn1.weight`
    -> `blocks.1.1.bn2.weight`); `ConversionError` for a name with no place in EfficientNet-B2."""
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if match:
        index, member, tensor = int(match.group(1)), match.group(2), match.group(3)
        if index >= len(block_names):
            raise ConversionError(f"source block {index} does not exist in EfficientNet-B2")
        table = _PLAIN if block_names[index].startswith("blocks.0.") else _EXPANDING
        if member not in table:
            raise ConversionError(f"unknown efficientnet_pytorch block member {key}")
        return f"{block_names[index]}.{table[member]}.{tensor}"
    module, _, tensor = key.partition(".")
    if module not in _STEM_HEAD:
        raise ConversionError(f"unknown efficientnet_pytorch tensor {key}")
    return f"{_STEM_HEAD[module]}.{tensor}"


def convert_state_dict(source: dict[str, torch.Tensor], model: EffNetTrmForAudioCaptioning) -> ConversionReport:
    """Load `source` (released or training layout) into `model`, strictly; returns what happened."""
    report = ConversionReport()
    target = model.state_dict()
    filled: dict[str, torch.Tensor] = {}
    block_names = timm_block_names(model.encoder.backbone)
    d_model = model.config.d_model

    def put(name: str, value: torch.Tensor, origin: str) -> None:
        if name not in target:
            raise ConversionError(f"{origin} maps to {name}, which the model does not have")
        if target[name].shape != value.shape:
            raise ConversionError(f"{origin}: shape {tuple(value.shape)} but {name} is {tuple(target[name].shape)}")
        filled[name] = value

    unknown = []
    for original, value in source.items():
        key = _normalise(original)
        head = key.split(".")[0]
        if head in KD_HEADS:
            report.dropped[original] = KD_HEADS[head]
        elif key.startswith("encoder.backbone.eff_net."):
            backbone_key = efficientnet_pytorch_to_timm(key[len("encoder.backbone.eff_net.") :], block_names)
            put(f"encoder.backbone.{backbone_key}", value, original)
        elif key.startswith("encoder.melspec_extractor."):
            _verify_front_end(key, value, model.config)
            report.verified_and_dropped[original] = "equal to the front end this package computes"
        elif key == "decoder.word_embedding.weight":
            put("decoder.embed_tokens.weight", value, original)
        elif key == "decoder.classifier.weight":
            report.verified_and_dropped[original] = "tied to the word embedding"
            if "decoder.word_embedding.weight" in map(_normalise, source) and not torch.equal(
                value, next(v for k, v in source.items() if _normalise(k) == "decoder.word_embedding.weight")
            ):
                raise ConversionError(f"{original} is not tied to the word embedding")
        elif key == "decoder.pos_encoder.pe":
            table = value.reshape(-1, d_model)  # theirs is (max_len, 1, d_model)
            if model.decoder.position_table is not None:
                put("decoder.position_table", table, original)
            elif is_sinusoidal(table):
                report.verified_and_dropped[original] = "the sinusoidal table this package computes"
            else:
                raise ConversionError(
                    f"{original}: the checkpoint's positional table is not the sinusoidal one; "
                    "convert into a model with position_embedding='stored'"
                )
        elif match := re.fullmatch(r"decoder\.attn_proj\.(\d)\.(weight|bias)", key):
            put(f"decoder.memory_projection.{match.group(1)}.{match.group(2)}", value, original)
        elif match := re.fullmatch(r"decoder\.model\.layers\.(\d+)\.(\w+)\.(.+)", key):
            layer, module, rest = match.groups()
            prefix = f"decoder.layers.{layer}"
            if module in ("self_attn", "multihead_attn"):
                ours = "self_attn" if module == "self_attn" else "encoder_attn"
                if rest.startswith("in_proj_"):
                    kind = rest[len("in_proj_") :]
                    for part, chunk in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                        put(f"{prefix}.{ours}.{part}.{kind}", chunk.contiguous(), original)
                else:
                    put(f"{prefix}.{ours}.{rest}", value, original)
            elif module in _DECODER_LAYER:
                put(f"{prefix}.{_DECODER_LAYER[module]}.{rest}", value, original)
            else:
                unknown.append(original)
        else:
            unknown.append(original)
    report.mapped = len(source) - len(report.dropped) - len(report.verified_and_dropped) - len(unknown)
    if unknown:
        raise ConversionError(f"source tensors with no place in the model: {unknown[:10]}")
    if "decoder.position_table" in target and "decoder.position_table" not in filled:
        filled["decoder.position_table"] = torch.zeros_like(target["decoder.position_table"])
        report.substituted["decoder.position_table"] = ZERO_TABLE_NOTE
    tied = "lm_head.weight"
    missing = sorted(set(target) - set(filled) - {tied})
    if missing:
        raise ConversionError(f"model tensors the source does not fill: {missing[:10]} ({len(missing)} in all)")
    model.load_state_dict({**filled, tied: filled["decoder.embed_tokens.weight"]}, strict=True)
    return report


def _verify_front_end(key: str, value: torch.Tensor, config: EffNetTrmConfig) -> None:
    if key.endswith("spectrogram.window"):
        expected = torch.hann_window(config.n_fft, periodic=True)
    elif key.endswith("mel_scale.fb"):
        f_max = float(config.f_max or config.sampling_rate / 2)
        expected = mel_filterbank(
            config.n_fft // 2 + 1, float(config.f_min), f_max, config.n_mels, config.sampling_rate
        )
    else:
        raise ConversionError(f"unknown front-end buffer {key}")
    if value.shape != expected.shape or not torch.allclose(value.float(), expected, atol=1e-5):
        raise ConversionError(f"{key} differs from this package's front end: the checkpoint uses other settings")


def is_sinusoidal(table: torch.Tensor) -> bool:
    """Whether a `(positions, d_model)` table is the standard sin/cos one."""
    expected = sinusoidal_position_embedding(torch.arange(table.shape[0]), table.shape[1])
    return torch.allclose(table.float(), expected, atol=1e-5)


def position_settings(state: dict[str, torch.Tensor], d_model: int) -> dict:
    """The config's `position_embedding` and `max_position_embeddings` for a source state dict: a
    sinusoidal table is computed, any other table is stored as it is, and a source without one (a
    training checkpoint) gets a stored table of zeros (see the module docstring)."""
    table = next((v for k, v in state.items() if _normalise(k) == "decoder.pos_encoder.pe"), None)
    if table is None:
        return {"position_embedding": "stored"}
    table = table.reshape(-1, d_model)
    kind = "sinusoidal" if is_sinusoidal(table) else "stored"
    return {"position_embedding": kind, "max_position_embeddings": table.shape[0]}


# --- loading sources -----------------------------------------------------------------------------


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    if (folder / "model.safetensors").exists():
        from safetensors.torch import load_file

        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").exists():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{folder} has neither model.safetensors nor pytorch_model.bin")


def load_source(source: str) -> tuple[dict[str, torch.Tensor], dict, dict[str, int] | None]:
    """(state dict, config dict, vocabulary or None) from a folder, a training checkpoint file or a Hub id."""
    path = Path(source)
    if path.is_file():
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        vocab = checkpoint.get("tokenizer")
        if isinstance(vocab, dict) and "word2idx" in vocab:
            vocab = vocab["word2idx"]
        return checkpoint["model"], {}, vocab
    if not path.is_dir():
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(source, allow_patterns=["*.json", "*.bin", "*.safetensors"]))
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else {}
    vocab = None
    if (path / "tokenizer.json").exists():
        vocab = json.loads((path / "tokenizer.json").read_text())["model"]["vocab"]
    return _read_weights(path), config, vocab


def convert(source: str, out_dir: str, tokenizer_source: str | None = None) -> ConversionReport:
    """Convert `source` into a model folder at `out_dir` (see the module docstring)."""
    state, config, vocab = load_source(source)
    if tokenizer_source:
        vocab = (
            load_source(tokenizer_source)[2] if Path(tokenizer_source).is_file() else _tokenizer_vocab(tokenizer_source)
        )
    if vocab is None:
        raise ConversionError("no vocabulary found: pass --tokenizer (e.g. wsntxxn/audiocaps-simple-tokenizer)")
    vocab = {SPECIAL_TOKENS.get(word, word): index for word, index in vocab.items()}
    embedding = next(v for k, v in state.items() if _normalise(k) == "decoder.word_embedding.weight")
    model_config = EffNetTrmConfig(
        vocab_size=embedding.shape[0],
        d_model=embedding.shape[1],
        dropout=config.get("decoder_dropout", 0.2),
        **REFERENCE_ENCODER,
        **position_settings(state, embedding.shape[1]),
    )
    model = EffNetTrmForAudioCaptioning(model_config).eval()
    report = convert_state_dict(state, model)
    model.generation_config = reference_generation_config(model.generation_config)
    tokenizer = tokenizer_from_vocab(vocab)
    if len(tokenizer) != model_config.vocab_size:
        raise ConversionError(f"the vocabulary has {len(tokenizer)} words but the model {model_config.vocab_size}")
    save_model_folder(model, tokenizer, out_dir)
    return report


def reference_generation_config(generation_config):
    """Decode as the reference does: its beam rule (`effnet_trm.decoding.reference_beam_search`, which the
    fast search, `Captioner` and the CLI follow) and nothing suppressed. `early_stopping=True` is the
    nearest transformers' own `generate` comes to it."""
    generation_config.suppress_tokens = None
    generation_config.no_repeat_ngram_size = None  # theirs has no n-gram block
    generation_config.block_immediate_repeats = False  # nor a repeat block
    generation_config.early_stopping = True
    generation_config.beam_rule = "reference"
    # a config marked as derived from the model config loads without its extra entries (the beam rule)
    generation_config._from_model_config = False
    return generation_config


def _tokenizer_vocab(name: str) -> dict[str, int]:
    path = Path(name)
    if not path.is_dir():
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(name, allow_patterns=["*.json"]))
    return json.loads((path / "tokenizer.json").read_text())["model"]["vocab"]
