#!/usr/bin/env python
"""Distillation on a CUDA GPU: steps/s in bf16 at batch 32 (16 labelled + 16 audio-only), the input
pipeline's share of the step time, and GPU memory.

    python benchmarks/gpu_distill_step.py --clips 2000 --steps 30 --workers 4

The real EffNet-Trm (EfficientNet-B2 + 2-layer decoder, random weights: the speed does not depend on
them) on whole 10 s clips of a synthetic corpus in the project schema (benchmarks/pipeline_scaling.py
builds it, with a synthetic teacher cache), contrastive encoder KD + sequence KD, through the
trainer's own loader and `train_step` (Accelerate, `mixed_precision=bf16`). After --warmup steps,
each step is split into the wait for its batch (the pipeline's share: zero when the workers keep
ahead) and the step itself (synchronised). Exits with a message, doing nothing, without CUDA.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_scaling import build_corpus, distill_config  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clips", type=int, default=2000, help="synthetic corpus size (half labelled, half audio-only)"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (cuDNN autotuning, allocator)")
    parser.add_argument("--workers", type=int, default=4, help="training.num_workers")
    parser.add_argument("--out", default="outputs/gpu_distill_step")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_distill_step: no CUDA device here (torch.cuda.is_available() is False); it measures a GPU "
            "step, so there is nothing to measure. Run it on a machine with an NVIDIA GPU.",
            file=sys.stderr,
        )
        return 2
    if not torch.cuda.is_bf16_supported():
        print(f"gpu_distill_step: {torch.cuda.get_device_name()} has no bf16 support", file=sys.stderr)
        return 2

    from effnet_trm.distill.trainer import Trainer

    out = Path(args.out)
    corpus = build_corpus(out / f"corpus_{args.clips}", args.clips, seconds=10.0)
    config = distill_config(
        corpus,
        out / "run",
        [
            "training.mixed_precision=bf16",
            f"training.num_workers={args.workers}",
            "training.labelled_batch_size=16",
            "training.audio_only_batch_size=16",
        ],
        tiny=False,
    )
    trainer = Trainer(config)
    steps = args.warmup + args.steps
    if steps > trainer.batches.steps_per_epoch:
        raise SystemExit(
            f"--clips {args.clips} gives {trainer.batches.steps_per_epoch} steps an epoch: "
            f"raise it to time {steps} steps"
        )
    torch.cuda.reset_peak_memory_stats()
    trainer.module.train()
    waits, computes = [], []
    loader = iter(trainer.batch_loader(0, steps))
    for step in range(steps):
        began = time.perf_counter()
        batch = next(loader)
        arrived = time.perf_counter()
        trainer.train_step(batch)
        torch.cuda.synchronize()
        if step >= args.warmup:
            waits.append(arrived - began)
            computes.append(time.perf_counter() - arrived)
    step_time = statistics.mean(w + c for w, c in zip(waits, computes))
    clips = config.training.labelled_batch_size + config.training.audio_only_batch_size
    print(f"| {torch.cuda.get_device_name()} | value |\n|---|---|")
    print(f"| distillation steps/s (bf16, {clips} clips of 10 s a step) | {1 / step_time:.2f} |")
    print(f"| clips/s | {clips / step_time:.0f} |")
    print(
        f"| input pipeline's share of the step ({args.workers} workers: time waiting for the batch) | "
        f"{statistics.mean(waits) / step_time:.1%} |"
    )
    print(f"| step alone, without the wait (ms) | {1000 * statistics.mean(computes):.0f} |")
    print(
        f"| peak GPU memory allocated / reserved (GiB) | {torch.cuda.max_memory_allocated() / 2**30:.2f} / "
        f"{torch.cuda.max_memory_reserved() / 2**30:.2f} |"
    )
    print(
        f"\n({args.steps} steps after {args.warmup} warm-up steps; {args.clips}-clip synthetic corpus; "
        f"torch {torch.__version__})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
