"""The GPU benchmarks' code paths on the CPU, so that a lent GPU runs only what is new to it (CUDA):
benchmarks/speed.py's per-batch-size table with bfloat16 models (the teacher's torchlibrosa front end
in bfloat16, the student's float32 log-mel front end, the fast path with the whole batch at once) and
benchmarks/gpu_distill_step.py's loop (`--device cpu`). Tiny models, one timed call: seconds. The
`student_generate` row (transformers' `generate` on a bfloat16 model: seconds a call on a CPU) is run by
hand: `python benchmarks/speed.py --device cpu --dtype bfloat16 --batch-sizes 1 2 --teacher-size demo
--clip-seconds 1 --caption-tokens 3 --repeats 1 --warmup 0` (minutes)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from tests.tiny_effnet_trm import tiny_config

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def speed(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("speed")
    # main() sets the clip length and caption length of this run (module globals): restored afterwards
    monkeypatch.setattr(module, "CLIP_SECONDS", module.CLIP_SECONDS)
    monkeypatch.setattr(module, "CAPTION_TOKENS", module.CAPTION_TOKENS)
    return module


def test_speed_bfloat16_table_by_batch_size(speed, monkeypatch, tmp_path, capsys):
    import torch

    from modeling_effnet_trm import EffNetTrmForAudioCaptioning

    def tiny_student():
        torch.manual_seed(0)
        model = EffNetTrmForAudioCaptioning(tiny_config()).eval()
        model.generation_config.suppress_tokens = None
        return model

    def in_this_process(row, args):  # the child's work, without a fresh interpreter per row
        command = speed._child_args(row, args)
        for flag in ("--device", "--dtype", "--batch-sizes", "--warmup", "--teacher-size", "--clip-seconds"):
            assert flag in command
        result = speed.measure_row_by_batch(
            row, args.repeats, args.warmup, args.threads, speed.batch_sizes(args), args.device, args.dtype, "demo"
        )
        return json.loads(json.dumps(result))

    monkeypatch.setattr(speed, "build_student", tiny_student)
    monkeypatch.setattr(speed, "run_in_subprocess", in_this_process)
    out = tmp_path / "speed.json"
    argv = ["--device", "cpu", "--dtype", "bfloat16", "--batch-sizes", "1", "2", "--repeats", "1", "--warmup", "0"]
    argv += ["--teacher-size", "demo", "--clip-seconds", "1", "--caption-tokens", "2", "--threads", "2"]
    # transformers' generate in bfloat16 takes seconds a call on a CPU: run by hand (see the module docstring)
    argv += ["--rows", "teacher", "student_fast", "student_fast_batched"]
    assert speed.main([*argv, "--json", str(out)]) == 0

    table = json.loads(out.read_text())
    assert table["dtype"] == "bfloat16" and table["batch_sizes"] == [1, 2]
    assert [row["row"] for row in table["rows"]] == ["teacher", "student_fast", "student_fast_batched"]
    for row in table["rows"]:
        assert set(row["by_batch"]) == {"1", "2"}
        for figures in row["by_batch"].values():
            assert figures["clips_per_s"] > 0 and figures["peak_memory_mb"] > 0 and figures["vs_teacher"] > 0
    assert table["goals"]["batch_size"] == 2 and table["goals"]["best_student_row"] in speed.GPU_ROWS
    assert "vs teacher" in capsys.readouterr().out


def test_speed_refuses_cpu_only_rows_in_bfloat16(speed):
    with pytest.raises(SystemExit):
        speed.main(["--dtype", "bfloat16", "--batch-sizes", "1", "--rows", "student_onnx"])


def test_gpu_distill_step_runs_on_the_cpu(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")  # the script sets it; restored after the test
    monkeypatch.setenv("TQDM_DISABLE", "1")
    gpu_distill_step = importlib.import_module("gpu_distill_step")
    out = tmp_path / "step.json"
    argv = ["--device", "cpu", "--tiny", "--clips", "8", "--clip-seconds", "0.5", "--batch", "1", "--steps", "1"]
    argv += ["--warmup", "0", "--workers", "0", "--mixed-precision", "no", "--out", str(tmp_path), "--json", str(out)]
    assert gpu_distill_step.main(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["device"] == "cpu" and figures["clips_per_step"] == 2 and figures["steps_per_s"] > 0
    assert 0 <= figures["wait_share"] < 1
    assert "input pipeline's share" in capsys.readouterr().out


def test_gpu_distill_step_without_cuda_says_so(monkeypatch, capsys):
    import torch

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gpu_distill_step = importlib.import_module("gpu_distill_step")
    assert gpu_distill_step.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert "gpu_distill_step" in sys.modules
