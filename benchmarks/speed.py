#!/usr/bin/env python
"""Inference speed of the student against the teacher, all measured in one run on this machine.

    python benchmarks/speed.py                 # the table
    python benchmarks/speed.py --json speed.json --repeats 7 --threads 2

Every row runs in its own process (so peak memory is that row's), on a 10 s clip with a caption of
exactly 20 tokens (generation is forced to 20 steps), beam 3, random weights (speed does not depend on
the weights). Rows:

- teacher: HTSAT-BART at full size (WavCaps architecture, ~171 M parameters);
- student (generate): EffNet-Trm with transformers' `generate` (beam 3, KV cache, batched);
- student (fast path): what `Captioner`, the CLI and the Space run: the same search by
  `effnet_trm.decoding` (same token ids as `generate`) on the copy made by `effnet_trm.optimize` (batch
  norms folded into the convolutions, q/k/v fused); with "int8 decoder" / "fp16 decoder", its per-step
  decoder linears quantized (`quantize="int8"` / `"fp16"`);
- student (reference decoding): the same weights decoded as the reference implementation does:
  one clip at a time, beam search that recomputes the whole prefix at every step (no KV cache);
- student ONNX / ONNX int8 when `effnet_trm.export` is available.

FLOPs are counted with `torch.utils.flop_counter.FlopCounterMode` (matrix multiplications and
convolutions) for one clip: the encoder plus 20 greedy decoding steps with a KV cache. The FLOP
bound is FLOPs / the measured fp32 matmul throughput: the latency if every FLOP ran at matmul speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIP_SECONDS = 10.0
CAPTION_TOKENS = 20
BEAMS = 3
ROWS = (
    "teacher",
    "student_generate",
    "student_fast",
    "student_fast_int8",
    "student_fast_fp16",
    "student_reference",
    "student_onnx",
    "student_onnx_int8",
)
LABELS = {
    "teacher": "teacher HTSAT-BART (full size)",
    "student_generate": "student, transformers generate (KV cache, batched)",
    "student_fast": "student, effnet_trm fast path (PyTorch fp32)",
    "student_fast_int8": "student, effnet_trm fast path, int8 decoder",
    "student_fast_fp16": "student, effnet_trm fast path, fp16 decoder",
    "student_reference": "student, reference decoding (per clip, no KV cache)",
    "student_onnx": "student, ONNX Runtime",
    "student_onnx_int8": "student, ONNX Runtime int8",
}


# --- models --------------------------------------------------------------------------------------


def build_student():
    import torch

    from configuration_effnet_trm import EffNetTrmConfig
    from modeling_effnet_trm import EffNetTrmForAudioCaptioning

    torch.manual_seed(0)
    model = EffNetTrmForAudioCaptioning(EffNetTrmConfig()).eval()  # 4,981 words, the released size
    model.generation_config.suppress_tokens = None
    return model


def build_teacher():
    import torch

    from effnet_trm.teachers.htsat_bart import HTSATBartCaptioner

    torch.manual_seed(0)
    return HTSATBartCaptioner.from_size("full").eval()


def student_generate(model, audio):
    return model.generate(
        input_values=audio, num_beams=BEAMS, min_new_tokens=CAPTION_TOKENS, max_new_tokens=CAPTION_TOKENS
    )


def teacher_generate(model, audio):
    import torch

    _, projected = model.encode_audio(audio)
    encoder_outputs = model.bart_encoder_outputs(projected)
    start = torch.full((audio.shape[0], 1), model.decoder.config.decoder_start_token_id)
    return model.decoder.generate(
        encoder_outputs=encoder_outputs,
        decoder_input_ids=start,
        num_beams=BEAMS,
        min_length=CAPTION_TOKENS + 1,
        max_length=CAPTION_TOKENS + 1,
        no_repeat_ngram_size=0,
    )


def reference_decode(model, audio):
    """The reference implementation's beam search: per clip, the whole prefix re-run at every step."""
    import torch

    outputs = []
    for row in range(audio.shape[0]):
        encoded = model.encode(audio[row : row + 1])
        memory = type(encoded)(**{k: v.expand(BEAMS, *v.shape[1:]) for k, v in encoded.items()})
        prefixes = torch.full((BEAMS, 1), model.config.decoder_start_token_id)
        scores = torch.zeros(BEAMS)
        scores[1:] = -1e9  # all beams start from the same prefix
        for _ in range(CAPTION_TOKENS):
            logits = model(encoder_outputs=memory, decoder_input_ids=prefixes, use_cache=False).logits[:, -1]
            candidates = (scores[:, None] + logits.log_softmax(-1)).flatten()
            scores, flat = candidates.topk(BEAMS)
            beam, token = flat // logits.shape[-1], flat % logits.shape[-1]
            prefixes = torch.cat([prefixes[beam], token[:, None]], dim=1)
        outputs.append(prefixes[0])
    return torch.stack(outputs)


def count_flops(row: str) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    audio = torch.randn(1, int(CLIP_SECONDS * 16000 if row != "teacher" else CLIP_SECONDS * 32000)) * 0.1
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        if row == "teacher":
            model = build_teacher()
            _, projected = model.encode_audio(audio)
            encoder_outputs = model.bart_encoder_outputs(projected)
            start = torch.full((1, 1), model.decoder.config.decoder_start_token_id)
            model.decoder.generate(
                encoder_outputs=encoder_outputs,
                decoder_input_ids=start,
                num_beams=1,
                min_length=CAPTION_TOKENS + 1,
                max_length=CAPTION_TOKENS + 1,
                no_repeat_ngram_size=0,
            )
        else:
            model = build_student()
            model.generate(
                input_values=audio, num_beams=1, min_new_tokens=CAPTION_TOKENS, max_new_tokens=CAPTION_TOKENS
            )
    return counter.get_total_flops()


def matmul_gflops(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    runs = []
    for _ in range(10):
        started = time.perf_counter()
        a @ b
        runs.append(time.perf_counter() - started)
    return 2 * 1024**3 / statistics.median(runs) / 1e9


# --- one row, in its own process --------------------------------------------------------------------


def _timed(function, repeats: int, warmup: int = 3) -> float:
    """Median seconds of `repeats` calls after `warmup` untimed ones (oneDNN and ONNX Runtime take a few
    calls to settle: the first fast-path calls are markedly slower than the later ones)."""
    for _ in range(warmup):
        function()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def measure_row(row: str, repeats: int, threads: int, batch: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    rate = 32000 if row == "teacher" else 16000
    one = torch.randn(1, int(CLIP_SECONDS * rate)) * 0.1
    many = torch.randn(batch, int(CLIP_SECONDS * rate)) * 0.1
    if row == "teacher":
        model = build_teacher()
        run = lambda audio: teacher_generate(model, audio)  # noqa: E731
    elif row.startswith("student_onnx"):
        import tempfile

        from effnet_trm.export.onnx import OnnxCaptioner, export_onnx

        model = build_student()
        export_dir = Path(tempfile.mkdtemp(prefix="effnet-trm-onnx-"))
        export_onnx(model, export_dir, quantize="int8" if row.endswith("int8") else None)
        captioner = OnnxCaptioner(export_dir, threads=threads)

        def run(audio):
            return captioner.generate_ids(
                list(audio.numpy()), num_beams=BEAMS, max_new_tokens=CAPTION_TOKENS, min_new_tokens=CAPTION_TOKENS
            )
    elif row.startswith("student_fast"):
        from effnet_trm.decoding import fast_generate
        from effnet_trm.optimize import optimize_for_inference

        model = build_student()
        quantize = row.removeprefix("student_fast").removeprefix("_") or None
        optimized = optimize_for_inference(model, quantize=quantize)

        def run(audio):
            return fast_generate(
                optimized, audio, num_beams=BEAMS, max_new_tokens=CAPTION_TOKENS, min_new_tokens=CAPTION_TOKENS
            )
    else:
        model = build_student()
        decode = student_generate if row == "student_generate" else reference_decode

        def run(audio):
            return decode(model, audio)

    parameters = sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        latency = _timed(lambda: run(one), repeats)
        batch_time = _timed(lambda: run(many), max(1, repeats // 3), warmup=0)
    return {
        "row": row,
        "label": LABELS[row],
        "parameters": parameters,
        "latency_ms": latency * 1000,
        "throughput_clips_per_s": batch / batch_time,
        "batch_ms_per_clip": batch_time / batch * 1000,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_in_subprocess(row: str, args) -> dict | None:
    command = [
        sys.executable,
        __file__,
        "--row",
        row,
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
        "--batch",
        str(args.batch),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        print(
            f"  {row}: not measured ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'})",
            file=sys.stderr,
        )
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median), after 3 warm-ups")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--json", default=None, help="also write the table as JSON")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    if args.row:  # child process: one row
        print(json.dumps(measure_row(args.row, args.repeats, args.threads, args.batch)))
        return 0

    gflops = matmul_gflops(args.threads)
    flops = {"teacher": count_flops("teacher"), "student": count_flops("student_generate")}
    results = []
    for row in args.rows:
        print(f"measuring {LABELS[row]} ...", file=sys.stderr, flush=True)
        result = run_in_subprocess(row, args)
        if result is None:
            continue
        result["gflops"] = flops["teacher" if row == "teacher" else "student"] / 1e9
        result["flop_bound_ms"] = result["gflops"] / gflops * 1000
        results.append(result)
    teacher = next((r for r in results if r["row"] == "teacher"), None)
    for result in results:
        result["speedup_vs_teacher"] = teacher["latency_ms"] / result["latency_ms"] if teacher else None
    print_table(results, args, gflops)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"threads": args.threads, "matmul_gflops": gflops, "rows": results}, indent=2) + "\n"
        )
    return 0


def print_table(results: list[dict], args, gflops: float) -> None:
    import platform

    import torch

    print(
        f"\n10 s clip, {CAPTION_TOKENS}-token caption, beam {BEAMS}, random weights; {args.threads} threads; "
        f"torch {torch.__version__}; {platform.processor() or platform.machine()}; "
        f"fp32 matmul {gflops:.0f} GFLOP/s"
    )
    header = (
        f"{'model':<52} {'params':>8} {'GFLOPs':>7} {'FLOP bound':>10} {'b=1 latency':>12} "
        f"{'speed-up':>9} {'b=' + str(args.batch) + ' clips/s':>12} {'b=' + str(args.batch) + ' ms/clip':>12} "
        f"{'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        speedup = f"{r['speedup_vs_teacher']:.1f}x" if r["speedup_vs_teacher"] else "-"
        print(
            f"{r['label']:<52} {r['parameters'] / 1e6:>7.2f}M {r['gflops']:>7.1f} {r['flop_bound_ms']:>8.0f}ms "
            f"{r['latency_ms']:>10.0f}ms {speedup:>9} {r['throughput_clips_per_s']:>12.2f} "
            f"{r['batch_ms_per_clip']:>10.0f}ms {r['peak_memory_mb']:>7.0f}MB"
        )
    print("FLOPs: one clip, encoder + 20 greedy decoding steps with a KV cache (matmuls and convolutions).")


if __name__ == "__main__":
    sys.exit(main())
