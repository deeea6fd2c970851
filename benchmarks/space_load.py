#!/usr/bin/env python
"""The Space under load: concurrent `gradio_client` users against a real `app.py` server on 127.0.0.1.

    python benchmarks/space_load.py --clients 8 --requests 6            # a fresh init-model (full size)
    python benchmarks/space_load.py --model outputs/demo/student --clients 8 --requests 6
    python benchmarks/space_load.py --clients 4 --requests 4 --rounds 22 --warmup-rounds 2   # a soak

Each of N clients (threads, each its own `gradio_client.Client`) sends M requests, a deterministic mix of
good clips, long recordings (captioned per 10 s segment), bad files (not audio, an impossible sampling
rate, over the duration limit) on `/caption`, and a few `/caption_files` requests. Every answer is compared
with the answer the same request got alone before the load (no request lost, none mixed up with another
user's); bad files must get their message. The server's resident memory (psutil) is read after that solo
pass (every kind of request already served once) and again after the load. Prints a table of latencies
(p50 / p95 per kind, queueing included: the Space serves one request at a time) and the checks. Every
request has a time limit, so the run ends by itself. `tests/test_app.py` runs a short version.

With `--rounds N` the same load repeats on one server (a soak): its memory after each round, the growth
after `--warmup-rounds` (must stay under `--max-growth`), every answer against its solo answer, and the
server's Gradio cache folder, which must be empty once the server is stopped (SIGTERM, as `kill` does).
`tests/test_space_soak.py` runs a short soak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REQUEST_TIMEOUT_S = 300.0


class AppServer:
    """`python app.py --model MODEL` on a free loopback port, as a context manager (stopped on exit)."""

    def __init__(self, model: str, start_timeout: float = 300.0, temp_dir: str | Path | None = None):
        self.model, self.start_timeout = model, start_timeout
        self.temp_dir = Path(temp_dir) if temp_dir else None  # the server's Gradio cache (GRADIO_TEMP_DIR)

    def __enter__(self) -> AppServer:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        environment = dict(os.environ)
        if self.temp_dir is not None:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            environment["GRADIO_TEMP_DIR"] = str(self.temp_dir)
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--model", self.model, "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.log = ""
        deadline = time.monotonic() + self.start_timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"app.py did not start:\n{self.log[-3000:]}")
            time.sleep(0.5)
        return self

    def _answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "config", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def temp_files(self) -> list[Path]:
        """The files in the server's Gradio cache (uploads and outputs)."""
        return [p for p in self.temp_dir.rglob("*") if p.is_file()] if self.temp_dir else []

    def __exit__(self, *exc) -> None:
        self.process.terminate()  # app.py shuts down on SIGTERM as on Ctrl-C
        try:
            self.log = self.process.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.log = self.process.communicate()[0].decode(errors="replace")


# --- the requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: str  # "good", "long", "bad" (/caption) or "files" (/caption_files)
    paths: tuple[str, ...]

    def send(self, client):
        """The answer as comparable text: a caption and its segments, the table, or the error message."""
        from gradio_client import handle_file

        try:
            if self.kind == "files":
                job = client.submit([handle_file(p) for p in self.paths], 3, api_name="/caption_files")
                table = job.result(timeout=REQUEST_TIMEOUT_S)
                return json.dumps(table["data"] if isinstance(table, dict) else table)
            job = client.submit(handle_file(self.paths[0]), 3, "beam search", 1, api_name="/caption")
            outputs = job.result(timeout=REQUEST_TIMEOUT_S)
            best, segments = outputs[0], outputs[-3]  # (caption, ..., segments, spectrogram, timing)
            rows = segments["data"] if isinstance(segments, dict) else segments
            return json.dumps([best, rows])
        except TimeoutError:
            raise
        except Exception as error:  # gradio_client's AppError carries the gr.Error message
            return f"message: {str(error).strip()}"


def write_clips(folder: Path, long_seconds: float = 45.0) -> dict[str, list[Request]]:
    """Good clips, long recordings and bad files in `folder`, as the requests that use them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def clip(name: str, seconds: float, rate: int = 16000, frequency: float = 440.0) -> str:
        t = np.arange(int(seconds * rate)) / rate
        wave = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(folder / name, wave.astype(np.float32), rate)
        return str(folder / name)

    good = [clip(f"good_{i}.wav", 2.0 + i, 16000 if i % 2 else 44100, 220.0 * (i + 1)) for i in range(4)]
    long = [clip("long.flac", long_seconds, 16000, 330.0)]
    (folder / "not_audio.wav").write_bytes(b"this is not audio\n" * 50)
    sf.write(folder / "one_hz.wav", np.zeros(4000, np.float32), 1)
    sf.write(folder / "over_limit.flac", np.zeros(8000 * 601, np.float32), 8000)  # 601 s in a few kB
    bad = [str(folder / name) for name in ("not_audio.wav", "one_hz.wav", "over_limit.flac")]
    return {
        "good": [Request("good", (path,)) for path in good],
        "long": [Request("long", (path,)) for path in long],
        "bad": [Request("bad", (path,)) for path in bad],
        "files": [Request("files", (good[0], bad[0], good[1]))],
    }


def request_mix(requests: dict[str, list[Request]], count: int, offset: int) -> list[Request]:
    """`count` requests for one client: mostly good clips, then bad files, long recordings, several files."""
    pattern = ["good", "bad", "good", "long", "good", "files", "good", "bad"]
    return [
        requests[kind][(offset + i) % len(requests[kind])]
        for i, kind in enumerate(pattern[(offset + j) % len(pattern)] for j in range(count))
    ]


# --- the load -------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    lost: int = 0
    sent: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    solo: dict[Request, str] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self) -> str:
        lines = ["| requests | count | p50 latency | p95 latency |", "|---|---|---|---|"]
        for kind in ("good", "long", "bad", "files", "all"):
            values = sum(self.latencies.values(), []) if kind == "all" else self.latencies.get(kind, [])
            if values:
                lines.append(
                    f"| {kind} | {len(values)} | {percentile(values, 50):.2f} s | {percentile(values, 95):.2f} s |"
                )
        return "\n".join(lines)

    def summary(self) -> dict:
        return {
            "sent": self.sent,
            "answered": self.sent - self.lost,
            "lost": self.lost,
            "answers_differing_from_solo": len(self.mismatches),
            "rss_before_mb": round(self.rss_before_mb),
            "rss_after_mb": round(self.rss_after_mb),
            "seconds": round(self.seconds, 1),
        }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def process_rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MiB."""
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def run_load(
    url: str,
    server_pid: int,
    requests: dict[str, list[Request]],
    clients: int,
    per_client: int,
    solo: dict[Request, str] | None = None,
) -> LoadReport:
    """Solo answers for every distinct request (unless `solo` has them from an earlier round), then
    `clients` concurrent users x `per_client` requests against the server at `url` (process
    `server_pid`, whose memory is measured)."""
    from gradio_client import Client

    report = LoadReport()
    if solo is None:
        solo_client = Client(url, verbose=False)
        solo = {request: request.send(solo_client) for request in sum(requests.values(), [])}
    report.solo = solo
    report.rss_before_mb = process_rss_mb(server_pid)
    lock = threading.Lock()

    def user(index: int) -> None:
        client = Client(url, verbose=False)
        for request in request_mix(requests, per_client, index):
            started = time.perf_counter()
            try:
                answer = request.send(client)
            except Exception as error:  # a timeout or a dropped connection: the request is lost
                with lock:
                    report.lost += 1
                    report.mismatches.append(f"{request.kind} {Path(request.paths[0]).name}: lost ({error!r})")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                report.latencies.setdefault(request.kind, []).append(elapsed)
                if answer != report.solo[request]:
                    report.mismatches.append(
                        f"{request.kind} {Path(request.paths[0]).name}: {answer[:120]!r} "
                        f"!= solo {report.solo[request][:120]!r}"
                    )

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_S * per_client)
    report.seconds = time.perf_counter() - started
    report.sent = clients * per_client
    report.rss_after_mb = process_rss_mb(server_pid)
    return report


@dataclass
class SoakReport:
    """Rounds of the same load on one server: its memory after each, and what went wrong anywhere."""

    rounds: list[LoadReport]
    warmup: int
    temp_files_during: int = 0
    temp_files_left: int = 0
    tracebacks: int = 0

    @property
    def rss_mb(self) -> list[float]:
        return [r.rss_after_mb for r in self.rounds]

    @property
    def growth_after_warmup(self) -> float:
        """RSS growth from the end of the warm-up rounds to the end, as a fraction."""
        base = self.rss_mb[self.warmup - 1] if self.warmup else self.rounds[0].rss_before_mb
        return (self.rss_mb[-1] - base) / base

    @property
    def wrong_answers(self) -> int:
        return sum(len(r.mismatches) for r in self.rounds)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.rounds)

    def summary(self) -> dict:
        return {
            "rounds": len(self.rounds),
            "requests": sum(r.sent for r in self.rounds),
            "rss_mb_after_each_round": [round(x) for x in self.rss_mb],
            "rss_growth_after_warmup_percent": round(100 * self.growth_after_warmup, 2),
            "answers_differing_from_solo": self.wrong_answers,
            "lost": self.lost,
            "server_tracebacks": self.tracebacks,
            "gradio_cache_files_while_running": self.temp_files_during,
            "gradio_cache_files_left_after_stop": self.temp_files_left,
        }


def soak(model: str, requests, clients: int, per_client: int, rounds: int, warmup: int, work: Path) -> SoakReport:
    """`rounds` rounds of load against one app.py server with its own Gradio cache folder, stopped
    at the end as a user stops it (SIGTERM)."""
    cache = work / "gradio-cache"
    if cache.exists():
        shutil.rmtree(cache)
    with AppServer(model, temp_dir=cache) as server:
        reports = []
        for index in range(rounds):
            solo = reports[0].solo if reports else None  # every round is held to the first one's solo answers
            reports.append(run_load(server.url, server.process.pid, requests, clients, per_client, solo))
            print(f"round {index + 1}/{rounds}: server RSS {reports[-1].rss_after_mb:.0f} MiB", flush=True)
        during = len(server.temp_files())
    report = SoakReport(reports, warmup, during, len(server.temp_files()), server.log.count("Traceback"))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: a fresh full-size init-model)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=6, help="requests per client")
    parser.add_argument("--long-seconds", type=float, default=45.0, help="length of the long recording")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the load on the same server (a soak)")
    parser.add_argument("--warmup-rounds", type=int, default=2, help="rounds before memory growth is measured")
    parser.add_argument("--max-growth", type=float, default=0.05, help="RSS growth allowed after warm-up (fraction)")
    parser.add_argument("--work-dir", default="/tmp/effnet-trm-space-load")
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.rounds <= args.warmup_rounds and args.rounds > 1:
        parser.error("--rounds must be more than --warmup-rounds")
    work = Path(args.work_dir)
    model = args.model
    if model is None:
        from effnet_trm.hub import init_model

        model = str(work / "model")
        init_model(model, seed=0)
    requests = write_clips(work / "clips", args.long_seconds)
    warmup = args.warmup_rounds if args.rounds > 1 else 0
    result = soak(model, requests, args.clients, args.requests, args.rounds, warmup, work)
    first = result.rounds[0]
    print(f"\n{args.clients} clients x {args.requests} requests against app.py ({model}), {first.seconds:.0f} s:\n")
    print(first.table())
    print()
    print(json.dumps(result.summary(), indent=2))
    for line in (line for r in result.rounds for line in r.mismatches):
        print("MISMATCH", line)
    failed = result.wrong_answers or result.lost or result.tracebacks or result.temp_files_left
    if args.rounds > 1 and result.growth_after_warmup >= args.max_growth:
        print(f"memory grew {100 * result.growth_after_warmup:.1f} % after warm-up (limit {100 * args.max_growth} %)")
        failed = True
    if args.json:
        Path(args.json).write_text(json.dumps({**result.summary(), "table": first.table()}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
