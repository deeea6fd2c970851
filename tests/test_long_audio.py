"""Long audio: timestamped captions for a 10-minute file from the Python API (`pipeline(...,
chunk_length_s=10)`, reading the file one chunk at a time), the CLI (`--segment 10`) and the Space."""

from __future__ import annotations

import json
import tracemalloc

import pytest
import soundfile as sf
from tiny_effnet_trm import tiny_model_and_tokenizer, tone

from effnet_trm.hub import save_model_folder
from pipeline_effnet_trm import chunk_bounds

MINUTES = 10
FILE_RATE = 22050  # not the model's rate: every chunk is resampled


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long_audio_model")
    model, tokenizer = tiny_model_and_tokenizer(seed=4)
    save_model_folder(model, tokenizer, folder)
    return folder


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory):
    """A 10-minute 16-bit file (26 MB, under the Space's 50 MB upload limit), written a minute at a time
    (a different tone each minute)."""
    path = tmp_path_factory.mktemp("long_audio") / "ten_minutes.wav"
    with sf.SoundFile(path, "w", samplerate=FILE_RATE, channels=1, subtype="PCM_16") as out:
        for minute in range(MINUTES):
            out.write(tone(60.0, 200.0 + 100 * minute, rate=FILE_RATE, seed=minute))
    return path


def test_chunk_bounds_merge_a_short_tail():
    assert chunk_bounds(25 * 16000, 16000, 10) == [(0, 160000), (160000, 320000), (320000, 400000)]
    assert chunk_bounds(20 * 16000 + 8000, 16000, 10)[-1] == (160000, 328000)  # a 0.5 s tail joins
    assert chunk_bounds(5 * 16000, 16000, 10) == [(0, 80000)]
    with pytest.raises(ValueError, match="positive"):
        chunk_bounds(16000, 16000, 0)


def test_pipeline_chunks_a_ten_minute_file_in_bounded_memory(model_dir, ten_minutes):
    from transformers import pipeline

    captioner = pipeline(model=str(model_dir), trust_remote_code=True)
    tracemalloc.start()
    try:
        result = captioner(str(ten_minutes), chunk_length_s=10, num_beams=1, max_new_tokens=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (output,) = result
    chunks = output["chunks"]
    assert [c["timestamp"] for c in chunks] == [(10.0 * i, 10.0 * (i + 1)) for i in range(6 * MINUTES)]
    assert all(isinstance(c["text"], str) for c in chunks)
    assert output["generated_text"] == "; ".join(c["text"] for c in chunks)
    # the decoded file would be 600 s x 22050 x 4 bytes = 53 MB (38 MB at 16 kHz): read chunk by chunk,
    # the audio buffers (numpy arrays, which tracemalloc traces) stay a few MB
    whole_file_mb = MINUTES * 60 * 16000 * 4 / 1e6
    assert peak / 1e6 < whole_file_mb / 4, f"peak {peak / 1e6:.1f} MB"


def test_pipeline_chunks_an_array_and_returns_candidates(model_dir):
    from transformers import pipeline

    captioner = pipeline(model=str(model_dir), trust_remote_code=True)
    waveform = tone(25.0, 440.0, rate=44100)
    (output,) = captioner(
        {"array": waveform, "sampling_rate": 44100},
        chunk_length_s=10,
        num_beams=2,
        num_return_sequences=2,
        max_new_tokens=3,
    )
    assert [c["timestamp"] for c in output["chunks"]] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert all(len(c["candidates"]) == 2 and c["candidates"][0] == c["text"] for c in output["chunks"])
    batched = captioner(
        {"array": waveform, "sampling_rate": 44100},
        chunk_length_s=10,
        num_beams=2,
        num_return_sequences=2,
        max_new_tokens=3,
        batch_size=2,  # chunks of different lengths padded together: their masks keep the captions
    )
    assert batched == [output]
    # one chunk's caption is that of the same audio captioned alone
    alone = captioner(
        {"array": waveform[: 10 * 44100], "sampling_rate": 44100}, num_beams=2, num_return_sequences=2, max_new_tokens=3
    )
    assert alone[0]["generated_text"] == output["chunks"][0]["text"]
    # unchunked clips batched together keep their own candidates too
    clips = [waveform[: 3 * 44100], waveform[: 5 * 44100]]
    settings = {"num_beams": 2, "num_return_sequences": 2, "max_new_tokens": 3}
    inputs = [{"array": clip, "sampling_rate": 44100} for clip in clips]
    assert captioner(inputs, batch_size=2, **settings) == [captioner(x, **settings) for x in inputs]
    assert all(len(result) == 2 for result in captioner(inputs, batch_size=2, **settings))
    with pytest.raises(ValueError, match="chunk_length_s"):
        captioner(waveform[:16000], chunk_length_s=-1)


def test_cli_segments_a_ten_minute_file(model_dir, ten_minutes, capsys):
    from effnet_trm.cli import main

    argv = ["caption", str(ten_minutes), "--model", str(model_dir), "--segment", "10", "--json"]
    assert main([*argv, "--num-beams", "1", "--max-words", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["start"], r["end"]) for r in rows] == [(10.0 * i, 10.0 * (i + 1)) for i in range(6 * MINUTES)]
    assert all(isinstance(r["caption"], str) for r in rows)


def test_space_segments_a_ten_minute_file(model_dir, ten_minutes):
    from effnet_trm.app.service import CaptionService
    from effnet_trm.inference import Captioner

    service = CaptionService(Captioner.from_pretrained(str(model_dir)))
    output = service.caption(str(ten_minutes), num_beams=1)
    assert [row[:2] for row in output.segments] == [[10.0 * i, 10.0 * (i + 1)] for i in range(6 * MINUTES)]
    assert output.duration == pytest.approx(600.0)
