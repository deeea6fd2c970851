"""Formats libsndfile cannot read (M4A/AAC as phones record it) decode through FFmpeg (PyAV), under the
same limits and with the same kind of messages as every other input."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from effnet_trm.audio import AudioError, load_audio, read_audio

av = pytest.importorskip("av", reason="PyAV (FFmpeg) is in the test extra; without it M4A is refused (tested)")


def write_m4a(path, seconds: float, rate: int = 44100, frequency: float = 440.0, channels: int = 2) -> None:
    """A real AAC-in-MP4 file, encoded by FFmpeg: a tone on every channel."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout=layout)
        for start in range(0, tone.size, 1024):
            planes = np.ascontiguousarray(np.repeat(tone[None, start : start + 1024], channels, axis=0))
            frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_m4a_decodes_to_the_tone_at_the_model_rate(tmp_path):
    write_m4a(tmp_path / "voice memo.m4a", 2.0)
    data, rate = read_audio(tmp_path / "voice memo.m4a")
    assert rate == 44100 and data.shape[1] == 2 and abs(data.shape[0] / rate - 2.0) < 0.1  # AAC adds priming
    waveform = load_audio(tmp_path / "voice memo.m4a", 16000)
    spectrum = np.abs(np.fft.rfft(waveform[4000:20000]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # the tone at its pitch after resampling (1 Hz per bin)
    # the same bytes behind a wrong extension, and in memory
    (tmp_path / "memo.wav").write_bytes((tmp_path / "voice memo.m4a").read_bytes())
    np.testing.assert_array_equal(load_audio(tmp_path / "memo.wav", 16000), waveform)
    np.testing.assert_array_equal(load_audio((tmp_path / "memo.wav").read_bytes(), 16000), waveform)


def test_m4a_over_the_limit_is_refused_from_its_declared_length(tmp_path):
    write_m4a(tmp_path / "long.m4a", 6.0, channels=1)
    with pytest.raises(AudioError, match=r"long.m4a: the recording is 6 s long; the limit is 5 s"):
        read_audio(tmp_path / "long.m4a", max_seconds=5)
    assert read_audio(tmp_path / "long.m4a", max_seconds=7)[0].shape[0] > 5 * 44100


def test_broken_files_name_both_decoders(tmp_path):
    write_m4a(tmp_path / "whole.m4a", 2.0)
    (tmp_path / "truncated.m4a").write_bytes((tmp_path / "whole.m4a").read_bytes()[:600])  # the header only
    (tmp_path / "notes.m4a").write_text("shopping list: milk, eggs\n" * 40)
    for name in ("truncated.m4a", "notes.m4a"):
        with pytest.raises(AudioError, match=rf"{name}: .*FFmpeg: .*supported are wav, flac, .* m4a/mp4"):
            load_audio(tmp_path / name)


def test_without_pyav_an_m4a_gets_a_way_to_read_it(tmp_path, monkeypatch):
    write_m4a(tmp_path / "memo.m4a", 1.0)
    monkeypatch.setitem(sys.modules, "av", None)  # as on an install without the optional decoder
    with pytest.raises(AudioError, match=r"memo.m4a: not a readable audio file .*install PyAV \(pip install av\)"):
        load_audio(tmp_path / "memo.m4a")
    sf.write(tmp_path / "tone.flac", np.zeros(1600, np.float32) + 0.1, 16000)
    assert load_audio(tmp_path / "tone.flac").size == 1600  # what libsndfile reads needs no FFmpeg
