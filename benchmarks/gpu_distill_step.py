#!/usr/bin/env python
"""Distillation on a CUDA GPU: steps/s in bf16 at batch 32 (16 labelled + 16 audio-only), the input
pipeline's share of the step time, and GPU memory.

    python benchmarks/gpu_distill_step.py --clips 2000 --steps 30 --workers 4
    python benchmarks/gpu_distill_step.py --device cpu --tiny --clips 16 --clip-seconds 1 --batch 2 \\
        --steps 2 --warmup 1 --workers 1          # the same code on a CPU, in seconds (a smoke test)

The real EffNet-Trm (EfficientNet-B2 + 2-layer decoder, random weights: the speed does not depend on
them) on whole 10 s clips of a synthetic corpus in the project schema (benchmarks/pipeline_scaling.py
builds it, with a synthetic teacher cache), contrastive encoder KD + sequence KD, through the
trainer's own loader and `train_step` (Accelerate, `mixed_precision=bf16`). After --warmup steps,
each step is split into the wait for its batch (the pipeline's share: zero when the workers keep
ahead) and the step itself (synchronised). Exits with a message, doing nothing, without CUDA, unless
`--device cpu` (which runs the same loop on the CPU: a check of the code, not a figure; `--tiny` swaps
in pipeline_scaling's tiny student).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_scaling import build_corpus, distill_config  # noqa: E402

#: issue #30's goal: the input pipeline waits under this share of the step
GOAL_WAIT_SHARE = 0.10


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clips", type=int, default=2000, help="synthetic corpus size (half labelled, half audio-only)"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (cuDNN autotuning, allocator)")
    parser.add_argument("--workers", type=int, default=4, help="training.num_workers")
    parser.add_argument("--batch", type=int, default=16, help="labelled clips a step, and as many audio-only ones")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="length of the corpus's clips")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a smoke test of the code")
    parser.add_argument("--mixed-precision", choices=("bf16", "no"), default="bf16", help="training.mixed_precision")
    parser.add_argument("--tiny", action="store_true", help="pipeline_scaling's tiny student (smoke tests)")
    parser.add_argument("--out", default="outputs/gpu_distill_step", help="the corpus and the run's folder")
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    import torch

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(
            "gpu_distill_step: no CUDA device here (torch.cuda.is_available() is False); it measures a GPU "
            "step, so there is nothing to measure. Run it on a machine with an NVIDIA GPU "
            "(or --device cpu for a smoke test of the code).",
            file=sys.stderr,
        )
        return 2
    if cuda and args.mixed_precision == "bf16" and not torch.cuda.is_bf16_supported():
        print(f"gpu_distill_step: {torch.cuda.get_device_name()} has no bf16 support", file=sys.stderr)
        return 2
    if not cuda:
        os.environ["ACCELERATE_USE_CPU"] = "true"  # Accelerate's own switch: the CPU even where a GPU is

    from effnet_trm.distill.trainer import Trainer

    out = Path(args.out)
    began = time.perf_counter()
    corpus = build_corpus(out / f"corpus_{args.clips}_{args.clip_seconds:g}s", args.clips, seconds=args.clip_seconds)
    corpus_seconds = time.perf_counter() - began
    config = distill_config(
        corpus,
        out / "run",
        [
            f"training.mixed_precision='{args.mixed_precision}'",  # quoted: YAML reads a bare no as false
            f"training.num_workers={args.workers}",
            f"training.labelled_batch_size={args.batch}",
            f"training.audio_only_batch_size={args.batch}",
        ],
        tiny=args.tiny,
    )
    began = time.perf_counter()
    trainer = Trainer(config)
    trainer_seconds = time.perf_counter() - began
    device = trainer.accelerator.device
    if device.type != args.device:
        raise SystemExit(f"gpu_distill_step: asked for {args.device}, Accelerate chose {device}")
    steps = args.warmup + args.steps
    if steps > trainer.batches.steps_per_epoch:
        raise SystemExit(
            f"--clips {args.clips} gives {trainer.batches.steps_per_epoch} steps an epoch: "
            f"raise it to time {steps} steps"
        )
    synchronize = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.module.train()
    waits, computes = [], []
    loader = iter(trainer.batch_loader(0, steps))
    for step in range(steps):
        began = time.perf_counter()
        batch = next(loader)
        arrived = time.perf_counter()
        trainer.train_step(batch)
        synchronize()
        if step >= args.warmup:
            waits.append(arrived - began)
            computes.append(time.perf_counter() - arrived)
    step_time = statistics.mean(w + c for w, c in zip(waits, computes))
    clips = config.training.labelled_batch_size + config.training.audio_only_batch_size
    wait_share = statistics.mean(waits) / step_time
    name = torch.cuda.get_device_name() if cuda else "CPU (smoke test: not a figure)"
    results = {
        "device": args.device,
        "device_name": name,
        "torch": torch.__version__,
        "mixed_precision": args.mixed_precision,
        "student": "tiny" if args.tiny else "EffNet-Trm (EfficientNet-B2)",
        "clips_per_step": clips,
        "clip_seconds": args.clip_seconds,
        "workers": args.workers,
        "steps": args.steps,
        "warmup": args.warmup,
        "corpus_clips": args.clips,
        "steps_per_s": 1 / step_time,
        "clips_per_s": clips / step_time,
        "wait_share": wait_share,
        "wait_share_under_goal": wait_share < GOAL_WAIT_SHARE,
        "wait_ms_mean": 1000 * statistics.mean(waits),
        "wait_ms_max": 1000 * max(waits),
        "step_ms_mean": 1000 * statistics.mean(computes),
        "peak_gpu_allocated_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "peak_gpu_reserved_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
        "corpus_build_s": corpus_seconds,
        "trainer_build_s": trainer_seconds,
    }
    print(f"| {name} | value |\n|---|---|")
    print(
        f"| distillation steps/s (mixed precision {args.mixed_precision}, {clips} clips of "
        f"{args.clip_seconds:g} s a step) | {results['steps_per_s']:.2f} |"
    )
    print(f"| clips/s | {results['clips_per_s']:.0f} |")
    print(
        f"| input pipeline's share of the step ({args.workers} workers: time waiting for the batch) | "
        f"{wait_share:.1%} (goal < {GOAL_WAIT_SHARE:.0%}: {'yes' if results['wait_share_under_goal'] else 'no'}) |"
    )
    print(f"| step alone, without the wait (ms) | {results['step_ms_mean']:.0f} |")
    if cuda:
        print(
            f"| peak GPU memory allocated / reserved (GiB) | {results['peak_gpu_allocated_gib']:.2f} / "
            f"{results['peak_gpu_reserved_gib']:.2f} |"
        )
    print(
        f"\n({args.steps} steps after {args.warmup} warm-up steps; {args.clips}-clip synthetic corpus "
        f"(built in {corpus_seconds:.1f} s); trainer built in {trainer_seconds:.1f} s; torch {torch.__version__})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
