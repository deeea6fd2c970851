"""The Hub contract with transformers alone: a folder written by plain `save_pretrained` loads with
`trust_remote_code=True` through the auto classes and `transformers.pipeline`, and using it prints no
deprecation warning. `make compat` runs this file under the oldest and newest supported transformers."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from configuration_effnet_trm import EffNetTrmConfig
from effnet_trm.tokenization import build_word_tokenizer
from modeling_effnet_trm import CACHE_NAME, EffNetTrmForAudioCaptioning

SR = 16000
CAPTIONS = ("a dog barks while cars pass by", "rain falls on a roof", "birds chirp and a man speaks")


def _tone(seconds: float, frequency: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.05 * np.random.default_rng(int(frequency)).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * frequency * t) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A model saved with plain `save_pretrained` (no helper of this package) and its tokenizer."""
    folder = tmp_path_factory.mktemp("plain_save")
    tokenizer = build_word_tokenizer(CAPTIONS)
    torch.manual_seed(0)
    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=len(tokenizer))).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def test_plain_save_pretrained_loads_through_the_auto_classes(saved):
    from transformers import AutoFeatureExtractor, AutoModel, AutoModelForSeq2SeqLM

    model, _, folder = saved
    files = {path.name for path in folder.iterdir()}
    assert {
        "modeling_effnet_trm.py",
        "configuration_effnet_trm.py",
        "feature_extraction_effnet_trm.py",
        "pipeline_effnet_trm.py",
        "preprocessor_config.json",
        "model.safetensors",
    } <= files
    loaded = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    seq2seq = AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=True).eval()
    extractor = AutoFeatureExtractor.from_pretrained(folder, trust_remote_code=True)
    assert type(loaded).__module__.startswith("transformers_modules")  # the folder's code, not ours
    assert all(torch.equal(tensor, loaded.state_dict()[name]) for name, tensor in model.state_dict().items())
    inputs = extractor([_tone(1.5, 440.0)], sampling_rate=SR)
    with torch.no_grad():
        expected = model.generate(**inputs)
        assert torch.equal(loaded.generate(**inputs), expected)
        assert torch.equal(seq2seq.generate(**inputs), expected)


def test_a_folder_saved_from_remote_code_is_complete_again(saved, tmp_path):
    from transformers import AutoModel

    _, _, folder = saved
    loaded = AutoModel.from_pretrained(folder, trust_remote_code=True)
    loaded.save_pretrained(tmp_path)
    again = AutoModel.from_pretrained(tmp_path, trust_remote_code=True)
    assert (tmp_path / "pipeline_effnet_trm.py").exists()
    assert all(torch.equal(t, again.state_dict()[n]) for n, t in loaded.state_dict().items())


def test_pipeline_captions_a_file_an_array_and_another_rate(saved, tmp_path):
    from transformers import pipeline

    model, tokenizer, folder = saved
    captioner = pipeline(model=str(folder), trust_remote_code=True)
    clip = _tone(2.0, 660.0)
    with torch.no_grad():
        expected = tokenizer.decode(
            model.generate(input_values=torch.from_numpy(clip)[None])[0], skip_special_tokens=True
        )
    path = tmp_path / "clip.wav"
    sf.write(path, clip, SR)
    assert captioner(str(path)) == [{"generated_text": expected}]
    assert captioner(clip) == [{"generated_text": expected}]
    at_44k = _tone(2.0, 660.0, rate=44100)
    result = captioner({"array": at_44k, "sampling_rate": 44100}, num_beams=1)
    assert len(result) == 1 and isinstance(result[0]["generated_text"], str)
    with pytest.raises(ValueError, match="unknown argument"):
        captioner(clip, beams=2)


def test_generation_and_the_cache_print_no_deprecation_warning(saved, caplog):
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    model, _, _ = saved
    audio = torch.from_numpy(_tone(1.0, 300.0))[None]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        with torch.no_grad():
            model.generate(input_values=audio, num_beams=3, max_new_tokens=5)
            model.generate(input_values=audio, num_beams=1, max_new_tokens=5)
            output = model(
                input_values=audio,
                decoder_input_ids=torch.ones(1, 1, dtype=torch.long),
                use_cache=True,
                cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
            )
    assert isinstance(output[CACHE_NAME], EncoderDecoderCache)
    messages = [str(w.message) for w in caught] + [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "deprecat" in m.lower()], messages
