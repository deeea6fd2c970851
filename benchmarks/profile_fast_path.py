#!/usr/bin/env python
"""Where the batch-1 time of the PyTorch fast path goes: the encoder, the decoder's 20 steps (PyTorch
operators vs the Python around them), and the rest (the beam search's own bookkeeping, padding).

    python benchmarks/profile_fast_path.py --threads 2 --repeats 7
    python benchmarks/profile_fast_path.py --quantize int8
    python benchmarks/profile_fast_path.py --no-onednn      # the copy before its oneDNN kernels

Same setting as `benchmarks/speed.py` (random weights at the released size, a 10 s clip, a caption
forced to 20 tokens, beam 3, the `effnet_trm.optimize` copy). Every call of `fast_generate` is timed
whole and in parts (the encoder call and every decoder step and reorder, by wrapping them), and the
table gives the median of each over the calls. Operator time is what `torch.profiler` attributes to
operators (self CPU time, summed) in one more call; the rest of a part's wall time is Python and
dispatch overhead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speed import BEAMS, CAPTION_TOKENS, CLIP_SECONDS, build_student  # noqa: E402


class PartTimer:
    """Wall seconds spent in wrapped callables, per part, for the current call."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, part: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - started

        return timed


class TimedDecoder:
    """A `TorchIncrementalDecoder` whose `step` and `reorder` count as the part "decoder"."""

    def __init__(self, decoder, timer: PartTimer):
        self.step = timer.wrap("decoder", decoder.step)
        self.reorder = timer.wrap("decoder", decoder.reorder)


def operator_seconds(function) -> float:
    """Self CPU time of every operator `function` runs, summed (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        function()
    return sum(event.self_cpu_time_total for event in profiler.key_averages()) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quantize", choices=["int8", "fp16"], default=None)
    parser.add_argument(
        "--no-onednn",
        action="store_true",
        help="profile the optimized copy without its oneDNN kernels (prepacked linears, convolutions fused "
        "with their SiLU): the fast path before they were added",
    )
    parser.add_argument(
        "--omp-wait-policy",
        choices=("PASSIVE", "ACTIVE", "default"),
        default="PASSIVE",
        help="OMP_WAIT_POLICY, as in benchmarks/speed.py (set before torch loads OpenMP)",
    )
    args = parser.parse_args(argv)
    if args.omp_wait_policy != "default":
        import os

        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy

    import numpy as np
    import torch

    from effnet_trm import decoding
    from effnet_trm.optimize import optimize_for_inference

    torch.set_num_threads(args.threads)
    model = optimize_for_inference(build_student(), quantize=args.quantize, onednn=False if args.no_onednn else None)
    audio = torch.randn(1, int(CLIP_SECONDS * 16000)) * 0.1
    search = {"num_beams": BEAMS, "max_new_tokens": CAPTION_TOKENS, "min_new_tokens": CAPTION_TOKENS}
    timer = PartTimer()
    original_encode, original_decoder = decoding.encode_in_chunks, decoding.TorchIncrementalDecoder
    decoding.encode_in_chunks = timer.wrap("encoder", original_encode)
    decoding.TorchIncrementalDecoder = lambda *a, **k: TimedDecoder(original_decoder(*a, **k), timer)
    calls = []
    try:
        with torch.inference_mode():
            for call in range(3 + args.repeats):  # 3 warm-up calls
                timer.seconds = {}
                started = time.perf_counter()
                decoding.fast_generate(model, audio, **search)
                if call >= 3:
                    calls.append({"total": time.perf_counter() - started, **timer.seconds})
    finally:
        decoding.encode_in_chunks, decoding.TorchIncrementalDecoder = original_encode, original_decoder
    with torch.inference_mode():
        memory, mask = decoding.encode_in_chunks(model, audio, None)

        def steps_alone():
            decoder = decoding.TorchIncrementalDecoder(model, memory, mask, BEAMS, max_length=CAPTION_TOKENS + 1)
            for _ in range(CAPTION_TOKENS):
                decoder.step(np.full(BEAMS, model.config.decoder_start_token_id))

        operators = {
            "encoder": operator_seconds(lambda: decoding.encode_in_chunks(model, audio, None)),
            "decoder": operator_seconds(steps_alone),
        }
    median = {part: statistics.median(c[part] for c in calls) for part in ("total", "encoder", "decoder")}
    median["rest"] = statistics.median(c["total"] - c["encoder"] - c["decoder"] for c in calls)
    labels = {
        "total": "whole fast path (fast_generate)",
        "encoder": "encoder (encode_in_chunks)",
        "decoder": f"decoder: {CAPTION_TOKENS} steps + beam reorders",
        "rest": "the rest: beam search bookkeeping (numpy), padding",
    }
    print(
        f"PyTorch fast path{f' ({args.quantize})' if args.quantize else ''}"
        f"{' without oneDNN kernels' if args.no_onednn else ''}, {args.threads} threads "
        f"(OMP_WAIT_POLICY={args.omp_wait_policy}), batch 1, "
        f"10 s clip, beam {BEAMS}, {CAPTION_TOKENS} tokens; medians of {args.repeats} calls\n"
    )
    print("| part | wall ms | share | in operators ms | Python/dispatch ms |\n|---|---|---|---|---|")
    for part, label in labels.items():
        seconds = median[part]
        cells = (
            [f"{operators[part] * 1e3:.1f}", f"{(seconds - operators[part]) * 1e3:.1f}"]
            if part in operators
            else ["-", "-"]
        )
        print(f"| {label} | {seconds * 1e3:.1f} | {seconds / median['total']:.0%} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
