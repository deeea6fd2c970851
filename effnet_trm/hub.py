"""Writing a model folder that is at once a Hub model repo: config with `auto_map`, safetensors
weights, the code files, tokenizer and feature extractor, so that

    AutoModel.from_pretrained(folder_or_hub_id, trust_remote_code=True)
    AutoTokenizer.from_pretrained(folder_or_hub_id)
    AutoFeatureExtractor.from_pretrained(folder_or_hub_id, trust_remote_code=True)

all work without this package installed.
"""

from __future__ import annotations

from pathlib import Path

from configuration_effnet_trm import EffNetTrmConfig
from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor
from modeling_effnet_trm import EffNetTrmForAudioCaptioning

from .tokenization import build_word_tokenizer

_REGISTERED = False


def register_auto_classes() -> None:
    """Make `save_pretrained` write `auto_map` entries and copy the model's code files."""
    global _REGISTERED
    if _REGISTERED:
        return
    EffNetTrmConfig.register_for_auto_class()
    EffNetTrmForAudioCaptioning.register_for_auto_class("AutoModel")
    EffNetTrmFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    _REGISTERED = True


def save_model_folder(
    model: EffNetTrmForAudioCaptioning,
    tokenizer,
    out_dir: str | Path,
    model_card: str | None = None,
) -> Path:
    """Save everything a user of the model needs into `out_dir` (created if missing)."""
    register_auto_classes()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.config.vocab_size = len(tokenizer)
    # a class registers for one auto class; save_pretrained keeps entries already in the config
    model.config.auto_map = {
        **(getattr(model.config, "auto_map", None) or {}),
        "AutoModelForSeq2SeqLM": "modeling_effnet_trm.EffNetTrmForAudioCaptioning",
    }
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    EffNetTrmFeatureExtractor(sampling_rate=model.config.sampling_rate).save_pretrained(out_dir)
    if model_card is not None:
        (out_dir / "README.md").write_text(model_card, encoding="utf-8")
    return out_dir


#: Captions for a smoke-test vocabulary when no training data exists yet.
SMOKE_TEST_CAPTIONS = (
    "a dog barks while cars pass by",
    "rain falls on a roof as thunder rumbles",
    "birds chirp and a man speaks",
    "a door closes and footsteps approach",
    "water flows in a stream",
)


def init_model(
    out_dir: str | Path | None = None,
    captions=SMOKE_TEST_CAPTIONS,
    seed: int = 0,
    **config_overrides,
):
    """A freshly initialised model and a tokenizer built from `captions` (saved if `out_dir` is given).

    Its captions are random words: it exists to check the plumbing before anything is trained.
    """
    import torch

    tokenizer = build_word_tokenizer(captions)
    torch.manual_seed(seed)
    config = EffNetTrmConfig(vocab_size=len(tokenizer), **config_overrides)
    model = EffNetTrmForAudioCaptioning(config).eval()
    if out_dir is not None:
        save_model_folder(model, tokenizer, out_dir)
    return model, tokenizer
