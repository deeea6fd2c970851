"""`AutoProcessor` as Whisper users know it: one processor (feature extractor + tokenizer) saved with the
model; `processor(audio, sampling_rate=...)` resamples or refuses clearly; `batch_decode`; attention masks
that make a padded clip's captions those of the clip alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_effnet_trm import SR, tiny_model_and_tokenizer, tone

from effnet_trm.hub import save_model_folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processor_model")
    model, tokenizer = tiny_model_and_tokenizer(seed=3)
    save_model_folder(model, tokenizer, folder)
    return model, tokenizer, folder


@pytest.fixture(scope="module")
def processor(saved):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(saved[2], trust_remote_code=True)


def test_auto_processor_loads_the_folders_processor(saved, processor):
    _, tokenizer, folder = saved
    assert (folder / "processor_config.json").exists() and (folder / "processing_effnet_trm.py").exists()
    assert type(processor).__name__ == "EffNetTrmProcessor"
    assert type(processor).__module__.startswith("transformers_modules")  # the folder's code
    assert type(processor.feature_extractor).__name__ == "EffNetTrmFeatureExtractor"
    assert processor.sampling_rate == SR
    assert processor.tokenizer.get_vocab() == tokenizer.get_vocab()
    assert processor.model_input_names == ["input_values", "attention_mask"]


def test_batch_of_different_lengths_is_padded_and_masked(processor):
    short, long = tone(1.0, 330.0), tone(2.5, 550.0)
    inputs = processor([short, long], sampling_rate=SR)
    assert inputs["input_values"].shape == (2, long.size)
    assert inputs["attention_mask"].sum(dim=1).tolist() == [short.size, long.size]
    np.testing.assert_array_equal(inputs["input_values"][0, : short.size].numpy(), short)
    assert float(inputs["input_values"][0, short.size :].abs().sum()) == 0.0


def test_padded_clip_gets_the_captions_and_scores_of_the_clip_alone(saved, processor):
    model = saved[0]
    short, long = tone(1.3, 330.0, seed=1), tone(3.1, 550.0, seed=2)
    batch = processor([short, long], sampling_rate=SR)
    alone = processor(short, sampling_rate=SR)
    settings = {"num_beams": 1, "max_new_tokens": 6, "return_dict_in_generate": True, "output_scores": True}
    with torch.no_grad():
        batched = model.generate(**batch, **settings)
        single = model.generate(**alone, **settings)
        unmasked = model.generate(input_values=batch["input_values"][:1], **settings)
    length = single.sequences.shape[1]
    assert torch.equal(batched.sequences[0, :length], single.sequences[0])
    assert processor.batch_decode(batched.sequences[:1], skip_special_tokens=True) == processor.batch_decode(
        single.sequences, skip_special_tokens=True
    )
    for step_batched, step_single in zip(batched.scores, single.scores):
        torch.testing.assert_close(step_batched[0], step_single[0], atol=1e-4, rtol=1e-4)
    # the mask is what does it: the same padded row without its mask scores differently
    assert not torch.allclose(unmasked.scores[0][0], single.scores[0][0], atol=1e-4)


def test_other_sampling_rates_are_resampled(processor):
    at_16k = tone(2.0, 440.0, rate=SR)
    at_44k = tone(2.0, 440.0, rate=44100)
    inputs = processor(at_44k, sampling_rate=44100)
    assert inputs["input_values"].shape == (1, 2 * SR)
    resampled = inputs["input_values"][0].numpy()
    # the same tone: the spectra peak at the same frequency bin
    assert np.argmax(np.abs(np.fft.rfft(resampled))) == np.argmax(np.abs(np.fft.rfft(at_16k)))
    batch = processor([at_44k, tone(1.0, rate=44100)], sampling_rate=44100)
    assert batch["attention_mask"].sum(dim=1).tolist() == [2 * SR, SR]


def test_a_missing_or_invalid_rate_is_refused_clearly(processor):
    with pytest.raises(ValueError, match="pass sampling_rate="):
        processor(tone(1.0))
    with pytest.raises(ValueError, match="positive"):
        processor(tone(1.0), sampling_rate=0)
    # the feature extractor alone refuses other rates (the processor is what resamples)
    with pytest.raises(ValueError, match="resample"):
        processor.feature_extractor(tone(1.0, rate=8000), sampling_rate=8000)


def test_batch_decode_and_text_labels(saved, processor):
    model, tokenizer, _ = saved
    captions = ["a dog barks", "water flows in a stream"]
    inputs = processor([tone(1.0), tone(1.5)], sampling_rate=SR, text=captions)
    labels = inputs["labels"]
    assert labels[0].tolist() == [*tokenizer("a dog barks", add_special_tokens=False)["input_ids"], 2, -100, -100]
    assert processor.batch_decode(labels.clamp(min=0), skip_special_tokens=True) == captions
    assert processor.decode(labels[1], skip_special_tokens=True) == "water flows in a stream"
    loss = model(**inputs).loss
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="one caption per clip"):
        processor([tone(1.0)], sampling_rate=SR, text=captions)
    assert processor(text="a dog barks")["input_ids"][0].tolist()[0] == tokenizer.bos_token_id
