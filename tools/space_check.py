"""`make space-check`: does the Space start from requirements.txt alone, as a Hugging Face Space would?

Builds a fresh venv (`.cache/space-venv`) from requirements.txt only (no pyproject, no lock, no extras),
writes a small model folder with it, starts `app.py` on a loopback port in that venv, captions a clip
through `gradio_client`, and stops the server. Exit code 0 when a caption came back.

    python tools/space_check.py
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "space-venv"

CLIENT = """
import sys, numpy as np, soundfile as sf
from gradio_client import Client, handle_file
path = sys.argv[2] + "/clip.wav"
t = np.arange(3 * 16000) / 16000
sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000)
result = Client(sys.argv[1], verbose=False).predict(handle_file(path), 3, "beam search", 1, api_name="/caption")
print("caption:", result[0])
assert isinstance(result[0], str) and result[0].strip(), result
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_venv() -> Path:
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    return VENV / "bin" / "python"


def wait_for(port: int, server: subprocess.Popen, seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"app.py exited with code {server.returncode} before it listened")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1.0)
    raise SystemExit(f"app.py did not listen on port {port} within {seconds:.0f} s")


def main() -> int:
    started = time.perf_counter()
    python = build_venv()
    print(f"venv from requirements.txt alone: {time.perf_counter() - started:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as work:
        model = Path(work) / "model"
        subprocess.run(
            [str(python), "-c", f"from effnet_trm.hub import init_model; init_model({str(model)!r})"],
            cwd=ROOT,
            check=True,
        )
        port = _free_port()
        server = subprocess.Popen([str(python), "app.py", "--model", str(model), "--port", str(port)], cwd=ROOT)
        try:
            wait_for(port, server)
            done = subprocess.run([str(python), "-c", CLIENT, f"http://127.0.0.1:{port}/", work], cwd=ROOT)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("space check:", "passed" if done.returncode == 0 else "FAILED", f"({time.perf_counter() - started:.0f} s)")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
