"""A tiny EffNet-Trm (timm's 100 k-parameter `test_efficientnet` encoder, a 32-wide decoder) for the tests
of the transformers-facing API: the same code paths as the real model, in milliseconds."""

from __future__ import annotations

import numpy as np
import torch

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.hub import SMOKE_TEST_CAPTIONS
from effnet_trm.tokenization import build_word_tokenizer
from modeling_effnet_trm import EffNetTrmForAudioCaptioning

SR = 16000
TINY_CONFIG = {
    "encoder_name": "test_efficientnet",
    "encoder_hidden_size": 256,
    "encoder_drop_path_rate": 0.0,
    "d_model": 32,
    "decoder_layers": 2,
    "decoder_attention_heads": 4,
    "decoder_ffn_dim": 64,
    "dropout": 0.0,
    "max_position_embeddings": 40,
}


def tiny_config(**overrides) -> EffNetTrmConfig:
    return EffNetTrmConfig(**{"vocab_size": 31, **TINY_CONFIG, **overrides})


def tiny_model_and_tokenizer(seed: int = 0, **overrides):
    """A tiny model (eval mode) and the word tokenizer of the smoke-test captions."""
    tokenizer = build_word_tokenizer(SMOKE_TEST_CAPTIONS)
    torch.manual_seed(seed)
    model = EffNetTrmForAudioCaptioning(tiny_config(vocab_size=len(tokenizer), **overrides)).eval()
    return model, tokenizer


def tone(seconds: float, frequency: float = 440.0, rate: int = SR, seed: int = 0) -> np.ndarray:
    """A tone with a little noise, float32 in [-1, 1]."""
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.05 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * frequency * t) + noise).astype(np.float32)
