#!/usr/bin/env python
"""Inference speed of the student against the teacher, all measured in one run on this machine.

    python benchmarks/speed.py                 # the table
    python benchmarks/speed.py --json speed.json --repeats 7 --threads 2
    python benchmarks/speed.py --device cuda --dtype bfloat16 --batch-sizes 1 64 --json speed_bf16.json

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

The rows' processes run with `OMP_WAIT_POLICY=PASSIVE` unless `--omp-wait-policy` says otherwise: PyTorch's
OpenMP threads then sleep between parallel regions instead of spinning, as ONNX Runtime's sessions here
do (`allow_spinning` 0). On a quiet machine spinning is faster (the fast path about 17 %); with another
job on the cores it made the PyTorch rows 10-40x slower (docs/speed-and-export.md).

FLOPs are counted with `torch.utils.flop_counter.FlopCounterMode` (matrix multiplications and
convolutions) for one clip: the encoder plus 20 greedy decoding steps with a KV cache. The FLOP
bound is FLOPs / the measured fp32 matmul throughput: the latency if every FLOP ran at matmul speed.

With `--device cuda` (or `--dtype bfloat16`, or `--batch-sizes`), a table per batch size instead: for each row and batch
size, the median time of a whole batch (`torch.cuda.synchronize()` before and after each call), its
clips/s, the peak GPU memory (`torch.cuda.max_memory_allocated`, reset before each batch size; the
weights included) and each student row's clips/s over the teacher's at that batch size. The models are
cast to `--dtype` (bfloat16: the whole model; the student's log-mel front end still runs in float32
inside, the teacher's torchlibrosa front end runs in the model's dtype, so it is given audio in that
dtype). cuda rows: the teacher, `generate`, the fast path as `Captioner` runs it (encoder in groups
of 4 clips, tuned for CPU caches) and the fast path with the whole batch in one encoder call
(`student_fast_batched`). TF32 and cuDNN settings are PyTorch's defaults. `--device cpu --dtype
bfloat16 --batch-sizes 1 2 --teacher-size demo --clip-seconds 1 --caption-tokens 3` runs the same code
on a CPU in seconds (tests/test_gpu_scripts.py).
"""

from __future__ import annotations

import argparse
import functools
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
    "student_fast_batched",
)
#: the default rows of the CPU table (today's table) and of a GPU run
CPU_ROWS = ROWS[:-1]
GPU_ROWS = ("teacher", "student_generate", "student_fast", "student_fast_batched")
#: rows that run only on the CPU in float32 (dynamic quantization, ONNX Runtime's CPU provider)
CPU_FP32_ONLY = {"student_fast_int8", "student_fast_fp16", "student_onnx", "student_onnx_int8"}
LABELS = {
    "teacher": "teacher HTSAT-BART (full size)",
    "student_generate": "student, transformers generate (KV cache, batched)",
    "student_fast": "student, effnet_trm fast path (PyTorch fp32)",
    "student_fast_int8": "student, effnet_trm fast path, int8 decoder",
    "student_fast_fp16": "student, effnet_trm fast path, fp16 decoder",
    "student_reference": "student, reference decoding (per clip, no KV cache)",
    "student_onnx": "student, ONNX Runtime",
    "student_onnx_int8": "student, ONNX Runtime int8",
    "student_fast_batched": "student, fast path, whole batch in one encoder call",
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


def build_teacher(size: str = "full"):
    import torch

    from effnet_trm.teachers.htsat_bart import HTSATBartCaptioner

    torch.manual_seed(0)
    return HTSATBartCaptioner.from_size(size).eval()


def student_generate(model, audio):
    return model.generate(
        input_values=audio, num_beams=BEAMS, min_new_tokens=CAPTION_TOKENS, max_new_tokens=CAPTION_TOKENS
    )


def teacher_generate(model, audio):
    import torch

    _, projected = model.encode_audio(audio)
    encoder_outputs = model.bart_encoder_outputs(projected)
    start = torch.full((audio.shape[0], 1), model.decoder.config.decoder_start_token_id, device=audio.device)
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
        prefixes = torch.full((BEAMS, 1), model.config.decoder_start_token_id, device=audio.device)
        scores = torch.zeros(BEAMS, device=audio.device)
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


def _timed(function, repeats: int, warmup: int = 3, synchronize=None) -> float:
    """Median seconds of `repeats` calls after `warmup` untimed ones (oneDNN and ONNX Runtime take a few
    calls to settle: the first fast-path calls are markedly slower than the later ones). `synchronize`
    (`torch.cuda.synchronize` on a GPU) runs before the clock starts and before it stops: kernels run
    asynchronously, so a call can return before its work is done."""
    for _ in range(warmup):
        function()
    runs = []
    for _ in range(repeats):
        if synchronize:
            synchronize()
        started = time.perf_counter()
        function()
        if synchronize:
            synchronize()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def build_row(row: str, threads: int, device: str = "cpu", dtype: str = "float32", teacher_size: str = "full"):
    """(the row's model, a function captioning a batch of audio, its sampling rate, the audio's dtype)."""
    import torch

    weights = getattr(torch, dtype)
    audio_dtype = torch.float32  # the student's log-mel front end takes float32 whatever the model's dtype
    if row == "teacher":
        model = build_teacher(teacher_size).to(device=device, dtype=weights)
        audio_dtype = weights  # the teacher's torchlibrosa STFT is a convolution in the model's dtype
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
    elif row == "student_fast_batched":
        from effnet_trm.decoding import encode_in_chunks, search_memory
        from effnet_trm.optimize import optimize_for_inference

        model = build_student().to(device=device, dtype=weights)
        optimized = optimize_for_inference(model)

        def run(audio):
            memory, mask = encode_in_chunks(optimized, audio, None, chunk=audio.shape[0])
            return search_memory(
                optimized, memory, mask, num_beams=BEAMS, max_new_tokens=CAPTION_TOKENS, min_new_tokens=CAPTION_TOKENS
            )
    elif row.startswith("student_fast"):
        from effnet_trm.decoding import fast_generate
        from effnet_trm.optimize import optimize_for_inference

        model = build_student().to(device=device, dtype=weights)
        quantize = row.removeprefix("student_fast").removeprefix("_") or None
        optimized = optimize_for_inference(model, quantize=quantize)

        def run(audio):
            return fast_generate(
                optimized, audio, num_beams=BEAMS, max_new_tokens=CAPTION_TOKENS, min_new_tokens=CAPTION_TOKENS
            )
    else:
        model = build_student().to(device=device, dtype=weights)
        decode = student_generate if row == "student_generate" else reference_decode

        def run(audio):
            return decode(model, audio)

    return model, run, 32000 if row == "teacher" else 16000, audio_dtype


def measure_row(row: str, repeats: int, threads: int, batch: int) -> dict:
    """Today's CPU table: latency at batch 1 and throughput at `batch`, float32."""
    import torch

    torch.set_num_threads(threads)
    rate = 32000 if row == "teacher" else 16000
    one = torch.randn(1, int(CLIP_SECONDS * rate)) * 0.1
    many = torch.randn(batch, int(CLIP_SECONDS * rate)) * 0.1
    model, run, _, _ = build_row(row, threads)
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


def measure_row_by_batch(
    row: str,
    repeats: int,
    warmup: int,
    threads: int,
    batch_sizes: list[int],
    device: str,
    dtype: str,
    teacher_size: str,
) -> dict:
    """One row at each batch size on `device` in `dtype`: the median time of a whole batch (synchronised
    on a GPU), clips/s and peak memory (on a GPU the peak allocated, reset before each batch size)."""
    import torch

    torch.set_num_threads(threads)
    cuda = device == "cuda"
    model, run, rate, audio_dtype = build_row(row, threads, device, dtype, teacher_size)
    parameters = sum(p.numel() for p in model.parameters())
    synchronize = torch.cuda.synchronize if cuda else None
    weights_mb = torch.cuda.memory_allocated() / 2**20 if cuda else None
    by_batch = {}
    for batch in batch_sizes:
        audio = (torch.randn(batch, int(CLIP_SECONDS * rate)) * 0.1).to(device=device, dtype=audio_dtype)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            seconds = _timed(functools.partial(run, audio), repeats, warmup, synchronize)
        by_batch[str(batch)] = {
            "batch_ms": seconds * 1000,
            "ms_per_clip": seconds / batch * 1000,
            "clips_per_s": batch / seconds,
            # on a GPU the peak allocated at this batch size (weights included); on a CPU the process's peak RSS
            "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    return {
        "row": row,
        "label": row_label(row, dtype, teacher_size),
        "parameters": parameters,
        "device": device,
        "device_name": torch.cuda.get_device_name() if cuda else (platform_name()),
        "dtype": dtype,
        "weights_memory_mb": weights_mb,
        "by_batch": by_batch,
    }


def row_label(row: str, dtype: str, teacher_size: str) -> str:
    return LABELS[row].replace("full size", f"{teacher_size} size").replace("PyTorch fp32", f"PyTorch {dtype}")


def platform_name() -> str:
    import platform

    return platform.processor() or platform.machine()


def _child_args(row: str, args) -> list[str]:
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
    if by_batch_mode(args):
        command += ["--device", args.device, "--dtype", args.dtype, "--warmup", str(args.warmup)]
        command += ["--teacher-size", args.teacher_size, "--batch-sizes", *map(str, batch_sizes(args))]
        command += ["--clip-seconds", str(args.clip_seconds), "--caption-tokens", str(args.caption_tokens)]
    return command


def run_in_subprocess(row: str, args) -> dict | None:
    done = subprocess.run(_child_args(row, args), capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        print(
            f"  {row}: not measured ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'})",
            file=sys.stderr,
        )
        if by_batch_mode(args) and done.stderr.strip():  # a run on a lent GPU happens once: keep the traceback
            print("\n".join("    " + line for line in done.stderr.strip().splitlines()[-25:]), file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def by_batch_mode(args) -> bool:
    """The per-batch-size table (a GPU, bfloat16, or --batch-sizes), rather than today's CPU table."""
    return args.device == "cuda" or args.dtype != "float32" or args.batch_sizes is not None


def batch_sizes(args) -> list[int]:
    return args.batch_sizes or [1, 64]


def main(argv=None) -> int:
    global CLIP_SECONDS, CAPTION_TOKENS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median), after the warm-ups")
    parser.add_argument("--batch", type=int, default=32, help="the CPU table's throughput batch")
    parser.add_argument(
        "--rows",
        nargs="+",
        default=None,
        choices=ROWS,
        help=f"default: {' '.join(CPU_ROWS)} (per-batch table, cuda: {' '.join(GPU_ROWS)})",
    )
    parser.add_argument("--json", default=None, help="also write the table as JSON")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="the models' dtype")
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=None,
        help="the per-batch-size table at these sizes (default on cuda: 1 64)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first, per batch size (per-batch table)")
    parser.add_argument(
        "--teacher-size", choices=("full", "demo"), default="full", help="demo: a small teacher (tests)"
    )
    parser.add_argument("--clip-seconds", type=float, default=CLIP_SECONDS, help="per-batch table (tests: shorter)")
    parser.add_argument("--caption-tokens", type=int, default=CAPTION_TOKENS, help="per-batch table (tests: fewer)")
    parser.add_argument(
        "--omp-wait-policy",
        choices=("PASSIVE", "ACTIVE", "default"),
        default="PASSIVE",
        help="OMP_WAIT_POLICY of the rows' processes (default PASSIVE: idle OpenMP threads sleep at once "
        "instead of spinning; on a machine shared with other jobs, spinning made the PyTorch rows up to "
        "~40x slower; 'default': leave the environment as it is)",
    )
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.omp_wait_policy != "default" and not args.row:  # set before the rows' processes load OpenMP
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    by_batch = by_batch_mode(args)
    if by_batch:
        CLIP_SECONDS, CAPTION_TOKENS = args.clip_seconds, args.caption_tokens
    rows = args.rows or list(GPU_ROWS if by_batch else CPU_ROWS)
    if by_batch and (args.device != "cpu" or args.dtype != "float32"):
        unsupported = [row for row in rows if row in CPU_FP32_ONLY]
        if unsupported:
            parser.error(f"{' '.join(unsupported)}: CPU and float32 only")

    if args.row:  # child process: one row
        if by_batch:
            result = measure_row_by_batch(
                args.row,
                args.repeats,
                args.warmup,
                args.threads,
                batch_sizes(args),
                args.device,
                args.dtype,
                args.teacher_size,
            )
        else:
            result = measure_row(args.row, args.repeats, args.threads, args.batch)
        print(json.dumps(result))
        return 0

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("speed.py --device cuda: no CUDA device here (torch.cuda.is_available() is False)", file=sys.stderr)
            return 2
    if by_batch:
        return main_by_batch(args, rows)

    gflops = matmul_gflops(args.threads)
    flops = {"teacher": count_flops("teacher"), "student": count_flops("student_generate")}
    results = []
    for row in rows:
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
            json.dumps(
                {
                    "threads": args.threads,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                    "matmul_gflops": gflops,
                    "rows": results,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


#: the goals of issue #30 for a GPU: the student's clips/s at the largest batch size in bfloat16
GOAL_CLIPS_PER_S = 500
GOAL_RATIO = 30


def main_by_batch(args, rows: list[str]) -> int:
    import torch

    results = []
    for row in rows:
        label = row_label(row, args.dtype, args.teacher_size)
        print(f"measuring {label} ({args.device}) ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        result = run_in_subprocess(row, args)
        if result is not None:
            result["row_seconds"] = time.perf_counter() - began
            results.append(result)
            # as each row ends (a run cut short by a time limit still leaves these lines)
            figures = ", ".join(
                f"b={size} {m['clips_per_s']:.1f} clips/s {m['batch_ms']:.1f} ms {m['peak_memory_mb']:.0f} MB"
                for size, m in result["by_batch"].items()
            )
            print(f"  {row}: {figures} ({result['row_seconds']:.0f} s)", file=sys.stderr, flush=True)
    teacher = next((r for r in results if r["row"] == "teacher"), None)
    sizes = [str(size) for size in batch_sizes(args)]
    for result in results:
        for size in sizes:
            mine = result["by_batch"][size]
            mine["vs_teacher"] = mine["clips_per_s"] / teacher["by_batch"][size]["clips_per_s"] if teacher else None
    largest = sizes[-1] if sizes else None
    students = [r for r in results if r["row"] != "teacher"]
    best = max(students, key=lambda r: r["by_batch"][largest]["clips_per_s"], default=None)
    goals = None
    if best is not None:
        clips = best["by_batch"][largest]["clips_per_s"]
        ratio = best["by_batch"][largest]["vs_teacher"]
        goals = {
            "batch_size": int(largest),
            "best_student_row": best["row"],
            "student_clips_per_s": clips,
            "vs_teacher": ratio,
            f"clips_per_s_at_least_{GOAL_CLIPS_PER_S}": clips >= GOAL_CLIPS_PER_S,
            f"at_least_{GOAL_RATIO}x_teacher": None if ratio is None else ratio >= GOAL_RATIO,
        }
    header = {
        "device": args.device,
        "device_name": results[0]["device_name"] if results else None,
        "dtype": args.dtype,
        "torch": torch.__version__,
        "batch_sizes": [int(size) for size in sizes],
        "repeats": args.repeats,
        "warmup": args.warmup,
        "clip_seconds": CLIP_SECONDS,
        "caption_tokens": CAPTION_TOKENS,
        "beams": BEAMS,
        "teacher_size": args.teacher_size,
        "threads": args.threads,
    }
    print_batch_table(results, header, goals)
    if args.json:
        Path(args.json).write_text(json.dumps({**header, "goals": goals, "rows": results}, indent=2) + "\n")
    return 0 if results else 1


def print_batch_table(results: list[dict], header: dict, goals: dict | None) -> None:
    memory = "peak GPU mem" if header["device"] == "cuda" else "peak RSS"
    print(
        f"\n{header['clip_seconds']:g} s clips, {header['caption_tokens']}-token captions, beam {BEAMS}, random "
        f"weights; {header['device']} ({header['device_name']}), {header['dtype']}; torch {header['torch']}; "
        f"median of {header['repeats']} after {header['warmup']} warm-ups"
        + ("; timings synchronised (torch.cuda.synchronize)" if header["device"] == "cuda" else "")
    )
    columns = f"{'model':<52} {'params':>8} {'batch':>5} {'ms/batch':>9} {'clips/s':>9} {'vs teacher':>10} {memory:>12}"
    print(columns)
    print("-" * len(columns))
    for r in results:
        for size, m in r["by_batch"].items():
            ratio = f"{m['vs_teacher']:.1f}x" if m.get("vs_teacher") else "-"
            print(
                f"{r['label']:<52} {r['parameters'] / 1e6:>7.2f}M {size:>5} {m['batch_ms']:>9.1f} "
                f"{m['clips_per_s']:>9.1f} {ratio:>10} {m['peak_memory_mb']:>10.0f}MB"
            )
    if header["device"] == "cuda":
        print("peak GPU memory: torch.cuda.max_memory_allocated, reset before each batch size (weights included)")
    if goals:
        print(
            f"goal (issue #30, for bfloat16 on a GPU) at batch {goals['batch_size']}: best student "
            f"({goals['best_student_row']}) {goals['student_clips_per_s']:.0f} clips/s "
            f"(>= {GOAL_CLIPS_PER_S}: {'yes' if goals[f'clips_per_s_at_least_{GOAL_CLIPS_PER_S}'] else 'no'}), "
            + (
                f"{goals['vs_teacher']:.1f}x the teacher (>= {GOAL_RATIO}x: "
                f"{'yes' if goals[f'at_least_{GOAL_RATIO}x_teacher'] else 'no'})"
                if goals["vs_teacher"] is not None
                else "no teacher row"
            )
        )


def print_table(results: list[dict], args, gflops: float) -> None:
    import platform

    import torch

    print(
        f"\n10 s clip, {CAPTION_TOKENS}-token caption, beam {BEAMS}, random weights; {args.threads} threads "
        f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
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
