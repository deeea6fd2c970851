#!/usr/bin/env python
"""Where the batch-1 time of the PyTorch fast path goes: the encoder, the 20 decoder steps (PyTorch
operators vs the Python around them), and the beam search's own bookkeeping.

    python benchmarks/profile_fast_path.py --threads 2 --repeats 7

Same setting as `benchmarks/speed.py` (random weights at the released size, a 10 s clip, a caption
forced to 20 tokens, beam 3, the `effnet_trm.optimize` copy): `--int8` profiles `quantize="int8"`.
Operator time is what `torch.profiler` attributes to operators (self CPU time, summed); the rest of a
step's wall time is Python and dispatch overhead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speed import BEAMS, CAPTION_TOKENS, CLIP_SECONDS, _timed, build_student  # noqa: E402


class TimedSteps:
    """Wraps an incremental decoder: the wall time spent inside `step` and `reorder`."""

    def __init__(self, decoder):
        self.decoder, self.seconds = decoder, 0.0

    def step(self, tokens):
        started = time.perf_counter()
        try:
            return self.decoder.step(tokens)
        finally:
            self.seconds += time.perf_counter() - started

    def reorder(self, rows):
        started = time.perf_counter()
        try:
            return self.decoder.reorder(rows)
        finally:
            self.seconds += time.perf_counter() - started


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
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from effnet_trm import decoding
    from effnet_trm.optimize import optimize_for_inference

    torch.set_num_threads(args.threads)
    model = optimize_for_inference(build_student(), quantize="int8" if args.int8 else None)
    audio = torch.randn(1, int(CLIP_SECONDS * 16000)) * 0.1
    search = {"num_beams": BEAMS, "max_new_tokens": CAPTION_TOKENS, "min_new_tokens": CAPTION_TOKENS}
    with torch.inference_mode():
        total = _timed(lambda: decoding.fast_generate(model, audio, **search), args.repeats)
        encoder = _timed(lambda: decoding.encode_in_chunks(model, audio, None), args.repeats)
        memory, mask = decoding.encode_in_chunks(model, audio, None)
        decode = _timed(lambda: decoding.search_memory(model, memory, mask, **search), args.repeats)
        # the steps alone: the same search with every step and reorder timed
        original, timed = decoding.TorchIncrementalDecoder, []

        def timed_decoder(*a, **k):
            timed.append(TimedSteps(original(*a, **k)))
            return timed[-1]

        decoding.TorchIncrementalDecoder = timed_decoder
        try:
            step_runs = sorted(_run_steps(decoding, model, memory, mask, search, timed)
                               for _ in range(args.repeats + 2))[1:-1]  # 2 warm-up-like outliers dropped
            step_seconds = step_runs[len(step_runs) // 2]
        finally:
            decoding.TorchIncrementalDecoder = original
        step_operators = operator_seconds(lambda: _one_step_set(decoding, model, memory, mask))
        encoder_operators = operator_seconds(lambda: decoding.encode_in_chunks(model, audio, None))
    rows = [
        ("whole fast path (fast_generate)", total, None),
        ("encoder (encode_in_chunks)", encoder, encoder_operators),
        (f"decoder: {CAPTION_TOKENS} steps + beam reorders", step_seconds, step_operators),
        ("decoder: beam search bookkeeping (numpy)", decode - step_seconds, None),
        ("unaccounted (total - encoder - search)", total - encoder - decode, None),
    ]
    print(f"PyTorch fast path{' (int8)' if args.int8 else ''}, {args.threads} threads, batch 1, 10 s clip, "
          f"beam {BEAMS}, {CAPTION_TOKENS} tokens; medians of {args.repeats}\n")
    print("| part | wall ms | share | in operators ms | Python/dispatch ms |\n|---|---|---|---|---|")
    for name, seconds, operators in rows:
        cells = ["-", "-"] if operators is None else [f"{operators * 1e3:.1f}", f"{(seconds - operators) * 1e3:.1f}"]
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / total:.0%} | " + " | ".join(cells) + " |")
    return 0


def _run_steps(decoding, model, memory, mask, search, timed) -> float:
    timed.clear()
    decoding.search_memory(model, memory, mask, **search)
    return timed[0].seconds


def _one_step_set(decoding, model, memory, mask) -> None:
    """The 20 steps of one search without the search: the operators a decode runs (no reorders)."""
    import numpy as np

    decoder = decoding.TorchIncrementalDecoder(model, memory, mask, BEAMS, max_length=CAPTION_TOKENS + 1)
    tokens = np.full(BEAMS, model.config.decoder_start_token_id)
    for _ in range(CAPTION_TOKENS):
        decoder.step(tokens)


if __name__ == "__main__":
    sys.exit(main())
