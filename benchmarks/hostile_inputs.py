#!/usr/bin/env python
"""A battery of hostile audio files, run through `effnet-trm caption` in ONE command and through the Space.

    python benchmarks/hostile_inputs.py --out /tmp/hostile --model outputs/demo/student
    python benchmarks/hostile_inputs.py --out /tmp/hostile --model DIR --space   # also through app.py

Builds the files (empty, truncated, not audio, NaN/inf/huge samples, impossible and odd sampling
rates, 1-8 channels, every WAV sample format, 1 sample to 5 minutes, names that are unicode or not
even UTF-8, a header declaring 4 GB, a directory, a named pipe, a missing path, M4A/AAC as phones
record it, also renamed and truncated, Opus), then checks, for one
`effnet-trm caption ALL_FILES --json` run: a result line for every file, no traceback, no hang (a time
limit), and the captions of the files that get one identical to a second run over those files alone
(`--batch-size 1`: every clip in a batch of its own). With `--space`, the regular files also go through
a real `app.py` server with `gradio_client` (`/caption_files`, 20 files per request, and `/caption`
one by one): every file gets a row or a message, the rows match the CLI's captions, no request fails.
With `--space`, a request with more files than the Space takes must get its message. Then a 1-hour
recording (unless `--skip-hour`): the CLI captions it per segment (time, peak memory), the Space
refuses it with its limit. A model folder comes from `effnet-trm init-model` when none is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SR = 16000
TIME_LIMIT_S = 900


def _noise(seconds: float, rate: int, channels: int = 1, seed: int = 0, amplitude: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = max(int(round(seconds * rate)), 1)
    t = np.arange(samples) / rate
    tone = np.sin(2 * np.pi * (220 + 110 * seed) * t)[:, None]
    data = amplitude * (0.7 * tone + 0.3 * rng.standard_normal((samples, channels)))
    return data if channels > 1 else data[:, 0]


def _wav_bytes(data: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _m4a_bytes(data: np.ndarray, rate: int) -> bytes:
    """AAC in an MP4 container, encoded by FFmpeg (PyAV), as a phone's voice memo."""
    import io

    import av

    planes = np.ascontiguousarray(np.atleast_2d(data.T).astype(np.float32))
    layout = "stereo" if planes.shape[0] == 2 else "mono"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout=layout)
        for start in range(0, planes.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes[:, start : start + 1024]), "fltp", layout)
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def build_battery(out: Path) -> list[Path]:
    """Write the battery into `out` (emptied first); returns every path, special ones included."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    paths: list[Path] = []

    def write(name: str, data: np.ndarray, rate: int, **kwargs) -> None:
        channels = 1 if data.ndim == 1 else data.shape[1]
        with sf.SoundFile(out / name, "w", rate, channels, **kwargs) as handle:
            for start in range(0, len(data), 65536):  # libsndfile's vorbis writer crashes on large blocks
                handle.write(data[start : start + 65536])
        paths.append(out / name)

    def raw(name: str | bytes, content: bytes) -> None:
        path = out / os.fsdecode(name) if isinstance(name, bytes) else out / name
        with open(os.fsencode(path), "wb") as handle:
            handle.write(content)
        paths.append(path)

    # ordinary recordings in every container and sample format
    write("tone_16k.wav", _noise(2.0, SR, seed=1), SR)
    write("noise_44k_stereo.flac", _noise(3.0, 44100, 2, seed=2), 44100)
    write("eight_channels_48k_pcm24.wav", _noise(1.5, 48000, 8, seed=3), 48000, subtype="PCM_24")
    write("vorbis_22k.ogg", _noise(2.5, 22050, seed=4), 22050)
    write("mpeg_44k.mp3", _noise(2.0, 44100, 2, seed=5), 44100)
    write("opus_48k.opus", _noise(2.0, 48000, seed=25), 48000, format="OGG", subtype="OPUS")
    # what phones record: AAC in MP4 (decoded by FFmpeg through PyAV), also behind a wrong extension
    memo = _m4a_bytes(_noise(3.0, 44100, 2, seed=26), 44100)
    raw("voice_memo_44k.m4a", memo)
    raw("m4a_named.mp3", memo)
    raw("truncated.m4a", memo[: len(memo) // 3])
    for index, subtype in enumerate(("PCM_U8", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM")):
        write(
            f"format_{subtype.lower()}.wav",
            _noise(1.0, 8000 * (index + 1), seed=6 + index),
            8000 * (index + 1),
            subtype=subtype,
        )
    write("rate_1000hz_lowest_accepted.wav", _noise(2.0, 1000, seed=13), 1000)
    write("rate_7350hz.wav", _noise(1.0, 7350, seed=14), 7350)
    write("rate_384khz.wav", _noise(0.5, 384000, 2, seed=15), 384000, subtype="FLOAT")
    write("loud_float_peak_20.wav", _noise(1.0, SR, seed=16, amplitude=20.0), SR, subtype="FLOAT")
    write("silence.wav", np.zeros(SR), SR)
    write("chirp ñ 日本語 🐦.wav", _noise(1.0, SR, seed=17), SR)
    write("flac_named.wav", _noise(1.0, SR, seed=18), SR, format="FLAC")
    raw(b"not-utf8-\xff\xfe.wav", _wav_bytes(_noise(1.0, SR, seed=19), SR))
    # very short and very long
    for samples in (1, 160, 256, 257, 4959, 4960):
        write(f"short_{samples}_samples.wav", _noise(samples / SR, SR, seed=samples), SR)
    write("long_35s.flac", _noise(35.0, SR, seed=20), SR)
    write("long_5min.ogg", _noise(300.0, 22050, seed=21), 22050)
    # broken containers
    good = _wav_bytes(_noise(1.0, SR, seed=22), SR)
    raw("empty.wav", b"")
    raw("header_only.wav", _wav_bytes(np.zeros((0, 1)), SR))
    raw("truncated_header.wav", good[:20])
    raw("truncated_data.wav", good[:1000])  # the header promises 1 s, 478 samples are there
    lying = bytearray(good)
    lying[4:8] = lying[40:44] = struct.pack("<I", 0xFFFFFFF0)  # declares 4 GB of samples
    raw("declares_4GB.wav", bytes(lying))
    raw("text.wav", b"this is not audio at all\n" * 20)
    raw("random_bytes.mp3", np.random.default_rng(0).bytes(4096))
    raw("png_named.wav", b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).bytes(512))
    # samples that are not audio
    for name, value in (("nan", np.nan), ("inf", np.inf), ("huge_1e30", 1e30)):
        data = _noise(1.0, SR, seed=23)
        data[100] = value
        write(f"samples_{name}.wav", data, SR, subtype="FLOAT")
    # impossible sampling rates in the header
    for rate in (1, 999, 2_000_000_000):
        write(f"rate_{rate}hz.wav", _noise(min(1.0, 4000 / rate), rate, seed=24)[:4000], rate)
    # not files
    (out / "a_directory.wav").mkdir()
    paths.append(out / "a_directory.wav")
    os.mkfifo(out / "named_pipe.wav")  # reading it would block forever
    paths.append(out / "named_pipe.wav")
    paths.append(out / "missing.wav")
    return paths


def run_cli(files: list[Path], model: str, *extra: str) -> tuple[list[dict], str, float, bool]:
    """One `effnet-trm caption FILES --json` process: (JSON results, stderr, seconds, timed out)."""
    command = [sys.executable, "-m", "effnet_trm.cli", "caption", *map(str, files), "--model", model, "--json", *extra]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIME_LIMIT_S, cwd=ROOT)
    except subprocess.TimeoutExpired as expired:
        return [], (expired.stderr or b"").decode(errors="replace"), time.perf_counter() - started, True
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines() if line.strip()]
    return lines, done.stderr.decode(errors="replace"), time.perf_counter() - started, False


def captions_by_file(lines: list[dict]) -> dict[str, list]:
    """file -> [(start, caption or "error: ...")] in output order."""
    grouped: dict[str, list] = {}
    for line in lines:
        grouped.setdefault(line["file"], []).append(
            (line.get("start", 0.0), line.get("caption") or f"error: {line.get('error')}")
        )
    return grouped


def check_cli(paths: list[Path], model: str) -> dict:
    lines, stderr, seconds, timed_out = run_cli(paths, model)
    results = captions_by_file(lines)
    captioned = [path for path in paths if str(path) in results and not results[str(path)][0][1].startswith("error")]
    alone, alone_stderr, alone_seconds, alone_timed_out = run_cli(captioned, model, "--batch-size", "1")
    alone_results = captions_by_file(alone)
    summary = {
        "files": len(paths),
        "result_for_every_file": sorted(results) == sorted(map(str, paths)),
        "captioned": len(captioned),
        "per_file_errors": sum(1 for rows in results.values() if rows[0][1].startswith("error")),
        "segments": len(lines),
        "tracebacks": stderr.count("Traceback") + alone_stderr.count("Traceback"),
        "hangs": int(timed_out) + int(alone_timed_out),
        "captions_identical_to_alone": sum(results[str(p)] == alone_results.get(str(p)) for p in captioned),
        "seconds": round(seconds, 1),
        "seconds_alone_run": round(alone_seconds, 1),
    }
    errors = {os.path.basename(file): rows[0][1] for file, rows in results.items() if rows[0][1].startswith("error")}
    return {"summary": summary, "errors": errors, "results": results}


def check_space(paths: list[Path], model: str, cli_results: dict[str, list], out: Path) -> dict:
    """The regular files through a real app.py server: `/caption_files` in requests of 20, `/caption` each."""
    from gradio_client import Client, handle_file
    from space_load import AppServer

    from effnet_trm.app.service import MAX_FILES_PER_REQUEST

    files = [_uploadable(path, out) for path in paths if path.is_file()]  # what a browser can upload
    with AppServer(model) as server:
        client = Client(server.url, verbose=False)
        rows = []
        for start in range(0, len(files), MAX_FILES_PER_REQUEST):
            chunk = files[start : start + MAX_FILES_PER_REQUEST]
            table = client.predict([handle_file(str(path)) for path in chunk], 3, api_name="/caption_files")
            rows.extend(table["data"] if isinstance(table, dict) else table)
        try:  # more files than one request may bring: a message, not a partial table
            client.predict(
                [handle_file(str(p)) for p in files[: MAX_FILES_PER_REQUEST + 5]], 3, api_name="/caption_files"
            )
            too_many = "answered (no limit applied)"
        except Exception as error:
            too_many = str(error).strip().splitlines()[-1]
        messages, captions = {}, {}
        for path in files:
            try:
                captions[path.name] = client.predict(handle_file(str(path)), 3, "beam search", 1, api_name="/caption")[
                    0
                ]
            except Exception as error:  # the page shows gr.Error's message
                messages[path.name] = str(error).strip().splitlines()[-1]
    log = server.log
    by_name = {}
    for row in rows:  # [file, start, end, caption, ...]
        by_name.setdefault(row[0], []).append((row[1], row[3]))
    expected = {
        _uploadable(Path(file), out).name: [(round(s, 2), t) for s, t in segments]
        for file, segments in cli_results.items()
        if Path(file).is_file()
    }
    uploaded_names = {path.name for path in files}
    differences = {
        name: {"space": by_name.get(name), "cli": _comparable(expected.get(name))}
        for name in uploaded_names
        if by_name.get(name) != _comparable(expected.get(name))
    }
    return {
        "differences": differences,
        "summary": {
            "files_uploaded": len(files),
            "caption_files_row_for_every_file": set(by_name) == uploaded_names,
            "caption_files_rows_equal_to_cli": len(uploaded_names) - len(differences),
            "caption_captioned": len(captions),
            "caption_messages": len(messages),
            "server_tracebacks": log.count("Traceback"),
            f"caption_files_with_{MAX_FILES_PER_REQUEST + 5}_files": too_many,
        },
        "messages": messages,
    }


def write_hour_long(path: Path, seconds: float = 3600.0, rate: int = SR) -> Path:
    """An hour of a quiet tone with noise (16-bit FLAC), written a minute at a time."""
    with sf.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16") as handle:
        for minute in range(int(np.ceil(seconds / 60))):
            handle.write(_noise(min(60.0, seconds - 60 * minute), rate, seed=minute % 7, amplitude=0.05))
    return path


def check_hour_long(path: Path, model: str, space: bool) -> dict:
    """A 1-hour recording: the CLI captions it per 10 s segment in bounded time and memory (the peak
    resident memory of the process, sampled every 0.2 s); the Space refuses it with its limit."""
    import psutil

    command = [sys.executable, "-m", "effnet_trm.cli", "caption", str(path), "--model", model, "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    peak = 0.0
    watched = psutil.Process(process.pid)
    while process.poll() is None and time.perf_counter() - started < TIME_LIMIT_S:
        try:
            peak = max(peak, watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    if process.poll() is None:
        process.kill()
    stdout, stderr = process.communicate()
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    summary = {
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "cli_seconds": round(time.perf_counter() - started, 1),
        "cli_peak_rss_mb": round(peak),
        "cli_segments": len(lines),
        "cli_segments_captioned": sum(1 for line in lines if line.get("caption")),
        "cli_tracebacks": stderr.decode(errors="replace").count("Traceback"),
        "cli_exit_code": process.returncode,
    }
    if space:
        from gradio_client import Client, handle_file
        from space_load import AppServer

        with AppServer(model) as server:
            client = Client(server.url, verbose=False)
            try:
                client.predict(handle_file(str(path)), 3, "beam search", 1, api_name="/caption")
                summary["space_caption"] = "captioned (no limit applied)"
            except Exception as error:
                summary["space_caption"] = str(error).strip().splitlines()[-1]
        summary["space_tracebacks"] = server.log.count("Traceback")
    return summary


def _uploadable(path: Path, out: Path) -> Path:
    """`path`, or a copy under the name a browser would send when the name is not valid UTF-8 (an
    upload's file name is UTF-8 text: httpx refuses to encode a lone surrogate)."""
    try:
        path.name.encode("utf-8")
        return path
    except UnicodeEncodeError:
        copy = out / "uploads" / path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.fsencode(path), os.fsencode(copy))
        return copy


def _comparable(rows):
    """CLI results as the Space's table shows them: errors without the file name in front."""
    if rows is None:
        return None
    return [
        (start, text if not text.startswith("error: ") else "error: " + text[7:].split(": ", 1)[-1])
        for start, text in rows
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/effnet-trm-hostile", help="folder for the battery (emptied)")
    parser.add_argument("--model", default=None, help="model folder (default: a fresh `init-model` in --out)")
    parser.add_argument("--space", action="store_true", help="also run the battery through app.py")
    parser.add_argument(
        "--space-only", action="store_true", help="with --space: reuse the CLI results of an earlier run in --out"
    )
    parser.add_argument("--skip-hour", action="store_true", help="leave out the 1-hour recording (about 2 minutes)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    paths = build_battery(out / "battery")
    model = args.model
    if model is None:
        from effnet_trm.hub import init_model

        model = str(out / "model")
        init_model(model, seed=0)
    previous = out / "report.json"
    if args.space_only and previous.exists():  # the CLI part of an earlier run over the same battery
        report = {"cli": json.loads(previous.read_text())["cli"]}
    else:
        report = {"cli": check_cli(paths, model)}
    print(json.dumps(report["cli"]["summary"], indent=2))
    print(json.dumps(report["cli"]["errors"], indent=2, ensure_ascii=False))
    if args.space:
        report["space"] = check_space(paths, model, report["cli"]["results"], out)
        print(json.dumps(report["space"]["summary"], indent=2))
        print(json.dumps(report["space"]["messages"], indent=2, ensure_ascii=False))
        print(json.dumps(report["space"]["differences"], indent=2, ensure_ascii=False))
    if not args.skip_hour:
        report["hour_long"] = check_hour_long(write_hour_long(out / "hour_long.flac"), model, args.space)
        print(json.dumps(report["hour_long"], indent=2))
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
