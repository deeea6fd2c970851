#!/usr/bin/env python
"""Does the distillation input pipeline scale? Peak memory, throughput and start-up against corpus size.

    python benchmarks/pipeline_scaling.py --sizes 1000 4000 16000 --steps 5
    python benchmarks/pipeline_scaling.py --sizes 1000 16000 --steps 3 --resume-only

Builds synthetic corpora in the project schema (generated 16 kHz FLAC clips, half `train` half
`audio_only`, five captions each) with a synthetic teacher cache (768-d embeddings, 3 beams, like
HTSAT-BART's), under --out (reused when present). Then, each run in a fresh process:

- a short training run (--steps steps of 16 labelled + 16 audio-only clips, a tiny student: an
  EfficientNet-B0 encoder and a 64-wide decoder, random weights) with 0 and 2 workers, and the old
  way (`data.preload_audio=true`, no workers) for contrast: the training process's RSS once
  `Trainer(...)` is built and its peak RSS (VmHWM), the largest private memory of a worker (its
  private pages, dirty and clean: the clean ones are pages of the memory-mapped corpus and teacher
  cache that it alone has read, page cache the kernel drops under pressure), the time from `Trainer(...)`
  to the end of the first step (imports excluded;
  the first run on a corpus also copies its teacher cache into Arrow), and the clips/s of the step
  alone (`train_step`) and of the loop (waiting for batches included);
- the input pipeline alone on the largest corpus (the training loader, no model) with 0, 1, 2 workers;
- first, on each corpus, a resume check: a run with 2 workers stopped after --steps steps (a checkpoint)
  and resumed in a fresh process for --steps more, against the same steps uninterrupted: peak memory
  of each part, and whether the final weights are bit-identical.

Prints markdown tables; memory counts as flat when the largest corpus's peak is within --margin of
the smallest's. Threads: --threads per process (1 on the 2-core machine of docs/data.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEACHER_DIM = 768
TINY_STUDENT = {
    "encoder_name": "efficientnet_b0",
    "encoder_hidden_size": 1280,
    "d_model": 64,
    "decoder_ffn_dim": 128,
    "decoder_attention_heads": 2,
}
WORDS = "a dog barks while cars pass by and rain falls on the roof near people talking loudly".split()


# --- synthetic corpora ---------------------------------------------------------------------------


def _clip_bytes(seed: int, seconds: float) -> bytes:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), 16000, format="FLAC")
    return buffer.getvalue()


def _rows(prefix: str, count: int, seconds: float, distinct: list[bytes]):
    """`count` rows in the project schema; the audio cycles through `distinct` clips (the decoding
    cost is real, only the content repeats)."""
    from effnet_trm.data.io import rows_to_dataset

    def caption(i: int, k: int) -> str:
        return " ".join(WORDS[(i * 7 + k * 3 + j) % len(WORDS)] for j in range(8))

    return rows_to_dataset(
        [
            {
                "audio": {"bytes": distinct[i % len(distinct)], "path": f"{prefix}{i}.flac"},
                "captions": [caption(i, k) for k in range(5)],
                "audio_id": f"{prefix}{i}",
                "classes": [],
                "source": "synthetic",
                "license": "CC0",
            }
            for i in range(count)
        ]
    )


def _write_teacher_cache(folder: Path, audio_ids: list[str], shard_rows: int = 256) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from effnet_trm.teachers.cache import INFO_FILE, SHARD_DIR

    (folder / SHARD_DIR).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for shard, first in enumerate(range(0, len(audio_ids), shard_rows)):
        ids = audio_ids[first : first + shard_rows]
        n = len(ids)
        embeddings = rng.standard_normal((n, TEACHER_DIM))
        captions = [
            [f"{WORDS[(i + k) % len(WORDS)]} {WORDS[(i + 2 * k + 1) % len(WORDS)]} sound" for k in range(3)]
            for i in range(first, first + n)
        ]
        table = pa.table(
            {
                "audio_id": ids,
                "crop_index": [0] * n,
                "crop_start": [0.0] * n,
                "crop_end": [None] * n,
                "split": ["train"] * n,
                "caption": [c[0] for c in captions],
                "captions": captions,
                "caption_scores": [[-0.5, -0.7, -0.9]] * n,
                "caption_sources": [["beam"] * 3] * n,
                "clip_embedding": pa.ListArray.from_arrays(
                    np.arange(0, (n + 1) * TEACHER_DIM, TEACHER_DIM, dtype=np.int32), pa.array(embeddings.ravel())
                ),
            }
        )
        pq.write_table(table, folder / SHARD_DIR / f"{shard:06d}.parquet")
    (folder / INFO_FILE).write_text(
        json.dumps(
            {"embedding_dim": TEACHER_DIM, "teacher_sampling_rate": 32000, "num_beams": 3, "window_seconds": 10.0}
        )
        + "\n"
    )


def build_corpus(folder: Path, size: int, seconds: float) -> Path:
    """`folder`/data (train: size/2 clips, audio_only: size/2, validation: 8) and `folder`/teacher_cache."""
    from datasets import DatasetDict

    if (folder / "teacher_cache" / "info.json").exists():
        return folder
    distinct = [_clip_bytes(seed, seconds) for seed in range(64)]
    half = size // 2
    DatasetDict(
        {
            "train": _rows("t", half, seconds, distinct),
            "audio_only": _rows("a", half, seconds, distinct),
            "validation": _rows("v", 8, seconds, distinct),
        }
    ).save_to_disk(str(folder / "data"))
    _write_teacher_cache(folder / "teacher_cache", [f"t{i}" for i in range(half)] + [f"a{i}" for i in range(half)])
    return folder


def distill_config(corpus: Path, output_dir: Path, overrides: list[str] = (), tiny: bool = True):
    from effnet_trm.distill.config import load_config

    values = [
        f"data.dataset={corpus / 'data'}",
        f"data.teacher_cache={corpus / 'teacher_cache'}",
        "data.audio_only_split=audio_only",
        "data.crop_seconds=10.0",
        "training.log_with=null",
        "training.save_every_steps=0",
        "training.validate_every_epochs=1000",
        f"output_dir={output_dir}",
    ]
    if tiny:
        values.append(f"model.config={json.dumps(TINY_STUDENT)}")
    return load_config(None, values + list(overrides))


# --- measurements, each in a fresh process --------------------------------------------------------


def _status_mb(field: str, pid: str = "self") -> float:
    """A memory field of /proc/PID/status (VmRSS: now, VmHWM: peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _private_mb(pid: str) -> float:
    """Memory only this process holds (private pages), in MB: a forked worker's RSS also counts the
    pages it shares with the trainer."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return sum(int(fields[name].split()[0]) for name in ("Private_Clean", "Private_Dirty")) / 1024


class ChildMemory(threading.Thread):
    """The largest private memory of any child process (the DataLoader's workers), sampled every
    `interval` s. (`ru_maxrss` will not do: Linux carries it across fork and exec, so a child reports
    at least its parent's peak.)"""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval, self.peak_mb, self.stopped = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            for children in Path("/proc/self/task").glob("*/children"):
                for pid in children.read_text().split():
                    try:
                        self.peak_mb = max(self.peak_mb, _private_mb(pid))
                    except (FileNotFoundError, ProcessLookupError, KeyError):
                        pass  # the worker ended meanwhile


def _weights_digest(trainer) -> str:
    """A fingerprint of the student's weights: equal digests, bit-identical weights."""
    import hashlib

    student = trainer.accelerator.unwrap_model(trainer.module).student
    digest = hashlib.sha1()
    for tensor in student.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def measure_training(
    corpus: str, out: str, steps: int, overrides: list[str], threads: int, tiny: bool, resume: bool = False
) -> dict:
    """Train until global step `steps` (from the latest checkpoint in `out` when `resume`)."""
    import torch

    from effnet_trm.distill.trainer import Trainer

    torch.set_num_threads(threads)
    config = distill_config(Path(corpus), Path(out), overrides, tiny)
    started = time.perf_counter()
    trainer = Trainer(config)
    started_rss = _status_mb("VmRSS")  # the corpus, teacher cache and tokenizer are open, the model built
    workers = ChildMemory()
    workers.start()
    step_times, step_ends = [], []
    train_step = trainer.train_step

    def timed_step(batch):
        begun = time.perf_counter()
        terms = train_step(batch)
        step_ends.append(time.perf_counter())
        step_times.append(step_ends[-1] - begun)
        return terms

    trainer.train_step = timed_step
    trainer.train(resume="latest" if resume else None, stop_after_steps=steps)
    workers.stopped.set()
    clips = config.training.labelled_batch_size + config.training.audio_only_batch_size
    return {
        "startup_rss_mb": started_rss,
        "peak_rss_mb": _status_mb("VmHWM"),
        "weights": _weights_digest(trainer),
        "worker_private_mb": workers.peak_mb if config.training.num_workers else None,
        "first_step_s": step_ends[0] - started,
        "step_clips_per_s": clips * (len(step_times) - 1) / sum(step_times[1:]),
        "loop_clips_per_s": clips * (len(step_ends) - 1) / (step_ends[-1] - step_ends[0]),
    }


def measure_pipeline(corpus: str, out: str, batches: int, workers: int, threads: int) -> dict:
    import torch

    from effnet_trm.distill.trainer import Trainer

    torch.set_num_threads(threads)
    trainer = Trainer(distill_config(Path(corpus), Path(out), [f"training.num_workers={workers}"]))
    loader = iter(trainer.batch_loader(0, batches + 1))
    first = next(loader)  # the workers' start-up is not throughput
    started = time.perf_counter()
    count = sum(len(batch.audio_ids) for batch in loader)
    return {"clips_per_s": count / (time.perf_counter() - started), "clips_per_batch": len(first.audio_ids)}


def _in_fresh_process(args: argparse.Namespace, task: dict) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
        "TQDM_DISABLE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, __file__, "--task", json.dumps(task)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------------


RUNS = {
    "lazy, 0 workers": ["training.num_workers=0"],
    "lazy, 2 workers": ["training.num_workers=2"],
    "preload (old way), 0 workers": ["training.num_workers=0", "data.preload_audio=true"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000], help="clips per corpus")
    parser.add_argument("--clip-seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=5, help="training steps per run")
    parser.add_argument("--pipeline-batches", type=int, default=20, help="batches timed per worker count")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--margin", type=float, default=0.10, help="flat: largest corpus's peak within this share")
    parser.add_argument("--full-student", action="store_true", help="the real EffNet-Trm instead of the tiny one")
    parser.add_argument("--out", default="outputs/pipeline_scaling")
    parser.add_argument(
        "--resume-only",
        action="store_true",
        help="only the resume check: on each corpus, 2 workers, --steps steps, a checkpoint, then "
        "--steps more in a fresh process, against one uninterrupted run",
    )
    parser.add_argument("--task", help=argparse.SUPPRESS)  # a measurement, in the fresh process it runs in
    args = parser.parse_args(argv)
    if args.task:
        task = json.loads(args.task)
        measure = {"training": measure_training, "pipeline": measure_pipeline}[task.pop("kind")]
        print(json.dumps(measure(**task)))
        return 0

    out = Path(args.out)
    corpora = {}
    for size in args.sizes:
        began = time.perf_counter()
        corpora[size] = build_corpus(out / f"corpus_{size}", size, args.clip_seconds)
        print(f"corpus of {size} clips: {corpora[size]} ({time.perf_counter() - began:.0f} s)", file=sys.stderr)

    resumed = {size: resume_check(args, corpus, out / "runs" / f"resume_{size}") for size, corpus in corpora.items()}
    print(resume_report(resumed))
    if args.resume_only:
        return 0
    results = {}
    for size, corpus in corpora.items():
        for name, overrides in RUNS.items():
            results[size, name] = _in_fresh_process(
                args,
                {
                    "kind": "training",
                    "corpus": str(corpus),
                    "out": str(out / "runs" / f"{size}_{len(results)}"),
                    "steps": args.steps,
                    "overrides": overrides,
                    "threads": args.threads,
                    "tiny": not args.full_student,
                },
            )
            print(f"{size} clips, {name}: {results[size, name]}", file=sys.stderr)
    largest = corpora[max(corpora)]
    pipeline = {
        workers: _in_fresh_process(
            args,
            {
                "kind": "pipeline",
                "corpus": str(largest),
                "out": str(out / "runs" / f"pipeline_{workers}"),
                "batches": args.pipeline_batches,
                "workers": workers,
                "threads": args.threads,
            },
        )
        for workers in (0, 1, 2)
    }
    (out / "results.json").write_text(
        json.dumps(
            {"runs": {f"{s} | {n}": r for (s, n), r in results.items()}, "pipeline": pipeline, "args": vars(args)},
            indent=2,
        )
        + "\n"
    )
    print(report(results, pipeline, args, max(corpora)))
    return 0


def resume_check(args, corpus: Path, out: Path) -> dict:
    """Interrupt a run (2 workers) after --steps steps and resume it in a fresh process for --steps
    more; and the same 2 x --steps uninterrupted. Each part's peak memory, and whether the weights match."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a resumed run must start from this check's own checkpoint

    def run(folder: str, first: int, last: int) -> tuple[str, dict]:
        """(the steps it trained, its measurements): from `first` (> 1: resumed) to `last`."""
        result = _in_fresh_process(
            args,
            {
                "kind": "training",
                "corpus": str(corpus),
                "out": str(out / folder),
                "steps": last,
                "overrides": ["training.num_workers=2"],
                "threads": args.threads,
                "tiny": not args.full_student,
                "resume": first > 1,
            },
        )
        print(f"{corpus.name}, {folder}, steps {first}-{last}: {result}", file=sys.stderr)
        return f"{first}-{last}", result

    steps = args.steps
    return {
        "uninterrupted": run("uninterrupted", 1, 2 * steps),
        "first part": run("interrupted", 1, steps),
        "resumed": run("interrupted", steps + 1, 2 * steps),
    }


def resume_report(resumed: dict) -> str:
    lines = [
        "| corpus (clips) | run (2 workers) | steps | peak RSS, trainer (MB) | time to first step (s) | weights |",
        "|---|---|---|---|---|---|",
    ]
    for size, runs in resumed.items():
        for name, (steps, r) in runs.items():
            lines.append(
                f"| {size} | {name} | {steps} | {r['peak_rss_mb']:.0f} | {r['first_step_s']:.1f} | {r['weights']} |"
            )
        same = runs["resumed"][1]["weights"] == runs["uninterrupted"][1]["weights"]
        lines.append(f"| {size} | resumed = uninterrupted? | | | | **{'yes' if same else 'NO'}** |")
    return "\n".join(lines)


def report(results: dict, pipeline: dict, args, largest: int) -> str:
    def mb(value):
        return "-" if value is None else f"{value:.0f}"

    lines = [
        "| corpus (clips) | pipeline | RSS after start-up (MB) | peak RSS, trainer (MB) | "
        "peak private memory, largest worker (MB) | time to first step (s) | step alone (clips/s) | loop (clips/s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (size, name), r in results.items():
        lines.append(
            f"| {size} | {name} | {mb(r['startup_rss_mb'])} | {mb(r['peak_rss_mb'])} | {mb(r['worker_private_mb'])} | "
            f"{r['first_step_s']:.1f} | {r['step_clips_per_s']:.1f} | {r['loop_clips_per_s']:.1f} |"
        )
    smallest = min(size for size, _ in results)
    verdicts = []
    for name in RUNS:
        low, high = results[smallest, name]["peak_rss_mb"], results[largest, name]["peak_rss_mb"]
        start_low, start_high = results[smallest, name]["startup_rss_mb"], results[largest, name]["startup_rss_mb"]
        flat = high <= low * (1 + args.margin)
        verdicts.append(
            f"- {name}: {smallest} -> {largest} clips, peak RSS {low:.0f} -> {high:.0f} MB "
            f"({(high / low - 1):+.0%}, after start-up {start_high - start_low:+.0f} MB): "
            f"{'flat' if flat else 'NOT flat'} (margin {args.margin:.0%})"
        )
    step_rate = [r["step_clips_per_s"] for (size, name), r in results.items() if size == largest and "lazy" in name]
    step_rate = sum(step_rate) / len(step_rate)
    lines += [
        "",
        *verdicts,
        "",
        f"| input pipeline alone ({largest} clips) | clips/s | / training step's clips/s |",
        "|---|---|---|",
    ]
    for workers, r in pipeline.items():
        lines.append(f"| {workers} workers | {r['clips_per_s']:.0f} | {r['clips_per_s'] / step_rate:.1f}x |")
    lines.append(
        f"\n(training step: {step_rate:.1f} clips/s, the mean of the lazy runs on {largest} clips; "
        f"{args.clip_seconds:g} s clips, {args.steps} steps per run, {args.threads} thread(s) per process, "
        f"{'EffNet-Trm' if args.full_student else 'tiny student'})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
