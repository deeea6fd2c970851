"""The Space as a real server on a loopback port: its API through gradio_client, and the page in a
real headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from effnet_trm.app.service import CaptionService, UserInputError
from effnet_trm.app.ui import build_ui, launch
from effnet_trm.hub import init_model

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clip(path: Path, seconds: float = 3.0, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t))).astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The demo student when `make demo` has run, else a freshly initialised model (random words)."""
    trained = ROOT / "outputs" / "demo" / "student"
    if (trained / "config.json").exists():
        return trained
    folder = tmp_path_factory.mktemp("app-model")
    init_model(folder, seed=2)
    return folder


@pytest.fixture(scope="module")
def server(model_dir):
    page = build_ui(CaptionService.load(str(model_dir)))
    port = _free_port()
    launch(page, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    page.close()


def test_service_rejects_bad_uploads(model_dir, tmp_path):
    service = CaptionService.load(str(model_dir))
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(UserInputError, match="Could not read notes.txt: not a readable audio file"):
        service.caption(str(tmp_path / "notes.txt"))
    with pytest.raises(UserInputError, match="empty"):
        service.caption(str(tmp_path / "empty.wav"))
    with pytest.raises(UserInputError, match="Upload or record"):
        service.caption(None)
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(8000 * 601, np.float32), 8000)
    with pytest.raises(UserInputError, match="limit is 600 s"):
        service.caption(str(long))


def test_long_recording_is_captioned_per_segment(model_dir, tmp_path):
    output = CaptionService.load(str(model_dir)).caption(str(_clip(tmp_path / "long.wav", 25.0)), num_beams=2)
    assert [row[:2] for row in output.segments] == [[0.0, 10.0], [10.0, 20.0], [20.0, 25.0]]
    assert output.spectrogram.ndim == 3 and output.seconds > 0


def test_silence_is_said_not_described(model_dir, tmp_path):
    service = CaptionService.load(str(model_dir))
    sf.write(tmp_path / "quiet.wav", np.zeros(3 * 16000, np.float32), 16000)
    output = service.caption(str(tmp_path / "quiet.wav"))
    assert output.captions == ["silence"] and output.confidence.startswith("no audible sound")
    assert output.segments == [[0.0, 3.0, "silence", output.confidence]]
    heard = service.caption(str(_clip(tmp_path / "tone.wav")), num_beams=2)
    assert heard.captions[0] != "silence" and heard.confidence.split(" ")[0] in ("high", "medium", "low")


def test_without_a_model_the_page_explains_how_to_get_one(tmp_path):
    service = CaptionService.load(str(tmp_path / "missing" / "model"))
    assert "make demo" in service.problem
    with pytest.raises(UserInputError, match="No model is loaded.*make demo"):
        service.caption(str(_clip(tmp_path / "a.wav")))


def test_api_through_gradio_client(server, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    best, confidence, others, segments, image, timing = client.predict(
        handle_file(str(_clip(tmp_path / "clip.wav"))), 3, "beam search", 2, api_name="/caption"
    )
    assert best and len(best.split()) >= 1 and others.startswith("2. ") and "ms for 3.0 s" in timing
    assert confidence.split(" ")[0] in ("high", "medium", "low") and "(score -" in confidence
    (tmp_path / "bad.wav").write_bytes(b"definitely not a wav file")
    with pytest.raises(Exception, match="Could not read bad.wav"):
        client.predict(handle_file(str(tmp_path / "bad.wav")), 3, "beam search", 1, api_name="/caption")
    table = client.predict(
        [handle_file(str(tmp_path / "clip.wav")), handle_file(str(tmp_path / "bad.wav"))], 2, api_name="/caption_files"
    )
    rows = table["data"] if isinstance(table, dict) else table
    assert rows[0][0] == "clip.wav" and rows[1][3].startswith("error:")
    assert rows[0][4].split(" ")[0] in ("high", "medium", "low") and rows[1][4] == ""


def test_page_in_a_real_browser(server, tmp_path):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make setup installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    clip = _example_clip(tmp_path)
    try:
        browser.get(server)
        upload = WebDriverWait(browser, 60).until(
            lambda b: b.find_element(By.CSS_SELECTOR, "#audio-input input[type=file]")
        )
        upload.send_keys(str(clip))
        WebDriverWait(browser, 60).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#audio-input audio, #audio-input .waveform-container")
        )
        time.sleep(1)
        browser.find_element(By.ID, "caption-button").click()
        caption = WebDriverWait(browser, 120).until(
            lambda b: b.find_element(By.CSS_SELECTOR, "#caption-output textarea").get_attribute("value")
        )
        assert len(caption.split()) >= 1
        time.sleep(1)
        shots = Path(os.environ.get("EFFNET_TRM_SCREENSHOT_DIR", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "app.png"))
        assert (shots / "app.png").stat().st_size > 10_000
    finally:
        browser.quit()


def _example_clip(tmp_path: Path) -> Path:
    """A demo-corpus test clip when the corpus exists (as the screenshot should show), else a tone."""
    from effnet_trm.app.service import export_examples

    examples = export_examples(str(ROOT / "data" / "demo_quick"), tmp_path / "examples", count=1)
    return Path(examples[0][0]) if examples else _clip(tmp_path / "tone.wav")


#: How much the server's resident memory may grow over the short load below, after every kind of
#: request has been served once: a loose bound for a server that shares this test process. The real
#: server's memory is held flat over many rounds by tests/test_space_soak.py (docs/reliability.md,
#: "The Space under load").
LOAD_RSS_GROWTH_LIMIT_MB = 150


def test_space_under_load(server, tmp_path):
    """4 concurrent users x 4 requests (good clips, a 15 s recording, bad files, several files): every
    answer is the one the same request gets alone, bad files get their message, memory stays bounded."""
    import psutil  # noqa: F401 - the memory measurement needs it

    from benchmarks.space_load import request_mix, run_load, write_clips

    requests = write_clips(tmp_path / "clips", long_seconds=15.0)
    report = run_load(server, os.getpid(), requests, clients=4, per_client=4)  # the server runs in this process
    print(report.table(), report.summary())
    assert report.lost == 0 and report.mismatches == []
    assert sum(len(values) for values in report.latencies.values()) == 16
    assert {kind for i in range(4) for kind in (r.kind for r in request_mix(requests, 4, i))} == {
        "good",
        "long",
        "bad",
        "files",
    }
    messages = [report.solo[request] for request in requests["bad"]]
    assert "Could not read not_audio.wav: not a readable audio file" in messages[0]
    assert "Could not read one_hz.wav: a sampling rate of 1 Hz cannot be audio" in messages[1]
    assert "the recording is 601 s long; the limit is 600 s" in messages[2]
    assert report.rss_after_mb - report.rss_before_mb < LOAD_RSS_GROWTH_LIMIT_MB
