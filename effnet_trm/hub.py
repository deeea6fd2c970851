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
from processing_effnet_trm import EffNetTrmProcessor

from .tokenization import build_word_tokenizer


def save_model_folder(
    model: EffNetTrmForAudioCaptioning,
    tokenizer,
    out_dir: str | Path,
    card_data: dict | None = None,
) -> Path:
    """Save the model (its `save_pretrained` adds the code files, `auto_map`, the pipeline, the feature
    extractor and the model card) and its processor (feature extractor + tokenizer, for `AutoProcessor`)
    into `out_dir`. `card_data` are facts for the model card (see `modelcard_effnet_trm`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.config.vocab_size = len(tokenizer)
    model.save_pretrained(out_dir, card_data=card_data)
    feature_extractor = EffNetTrmFeatureExtractor(sampling_rate=model.config.sampling_rate)
    EffNetTrmProcessor(feature_extractor, tokenizer).save_pretrained(out_dir)
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
