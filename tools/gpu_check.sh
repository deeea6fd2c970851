#!/usr/bin/env bash
# Issue #30's GPU check: the ONE script a lent GPU machine runs (the library's `device` tool, nvidia-h200).
#
#   here, once:   tools/fetch_gpu_wheels.sh            # .whl/: what the device's image lacks (~36 MiB)
#   on a device:  run(command="bash tools/gpu_check.sh", carry=[".whl"], timeout_s=600)
#   here, a test: SMOKE=1 PYTHON=.venv/bin/python OUT=/tmp/gpu_check bash tools/gpu_check.sh   # CPU, tiny
#
# It installs the wheels, then runs, each under its own time limit (7.5 minutes at most in all, about 4
# expected; `timeout` ends a step's whole process group, its row processes and loader workers too):
#   1. benchmarks/speed.py --device cuda --dtype bfloat16 --batch-sizes 1 64  (the goal: student >= 500
#      clips/s at batch 64 and >= 30x the teacher's clips/s)
#   2. benchmarks/gpu_distill_step.py, bf16, 16 + 16 clips of 10 s a step, 4 then 8 DataLoader workers
#      (the goal: the step waits for its batch under 10 % of the time)
#   3. benchmarks/speed.py --device cuda --dtype float32 --batch-sizes 1 64
# and writes to $OUT (7 files, all come back): env.txt (GPU, driver, versions), speed_bf16.json,
# speed_fp32.json, speed.log, distill_w4.json, distill_w8.json, distill.log. The synthetic corpus goes
# to /tmp, never to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_check_out}
SMOKE=${SMOKE:-0}
mkdir -p "$OUT"
# the wheels' folder must be named site-packages: dill (datasets' fingerprints) pickles a module that
# lives outside one by value, and fails on pyarrow's (checked here with pyarrow under /tmp/site)
SITE=/tmp/gpu_check/site-packages
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_DATASETS_DISABLE_PROGRESS_BARS=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 # nothing to download; fail, don't hang

{
    date -u
    nvidia-smi 2>&1 | head -20
    "$PY" -V
    "$PY" -m pip list 2>/dev/null | grep -i -E "^(torch|transformers|timm|accelerate|numpy|pyarrow|pandas|fsspec|huggingface.hub|numba|scipy|dill) "
} >"$OUT/env.txt" 2>&1

if [ "$("$PY" -c 'import sys; print(sys.version_info[:2] == (3, 12))')" = True ]; then
    ls .whl/*.whl >/dev/null 2>&1 || { echo "gpu_check: no wheels in .whl/ (tools/fetch_gpu_wheels.sh, carry [\".whl\"])" | tee -a "$OUT/env.txt"; exit 1; }
    rm -rf "$SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
        >>"$OUT/env.txt" 2>&1 || { echo "gpu_check: the wheels did not install (env.txt)"; tail -5 "$OUT/env.txt"; exit 1; }
    export PYTHONPATH=$SITE
else
    echo "gpu_check: $("$PY" -V) is not 3.12: the wheels (cp312) are not installed; the environment's packages are used" | tee -a "$OUT/env.txt"
fi
"$PY" - >>"$OUT/env.txt" 2>&1 <<'PY' || { echo "gpu_check: imports failed:"; tail -5 "$OUT/env.txt"; exit 1; }
import datasets, dill, librosa.filters, pyarrow, soundfile, soxr, timm, torch, torchlibrosa, transformers
print("imports ok: torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available() and torch.cuda.get_device_name())
print("transformers", transformers.__version__, "timm", timm.__version__, "datasets", datasets.__version__, "pyarrow", pyarrow.__version__, pyarrow.__file__)
PY
cat "$OUT/env.txt"

if [ "$SMOKE" = 1 ]; then # the same sequence on this machine's CPU, tiny: a check of the script, no figures
    DEVICE=(--device cpu)
    SPEED_ARGS=(--batch-sizes 1 2 --repeats 1 --warmup 0 --teacher-size demo --clip-seconds 1 --caption-tokens 2
        --rows teacher student_fast student_fast_batched)
    DISTILL_ARGS=(--device cpu --tiny --clips 16 --clip-seconds 1 --batch 2 --steps 2 --warmup 1 --mixed-precision no)
    WORKERS=(1 2)
    LIMITS=(600 300 300) # bfloat16 on a CPU without bf16 instructions: seconds a call
else
    DEVICE=(--device cuda)
    SPEED_ARGS=(--batch-sizes 1 64 --repeats 5 --warmup 3)
    # 1200 clips: 600 labelled / 16 = 37 steps an epoch >= 5 warm-up + 30 timed
    DISTILL_ARGS=(--clips 1200 --steps 30 --warmup 5 --batch 16 --clip-seconds 10)
    WORKERS=(4 8)
    LIMITS=(130 100 100) # seconds: speed bf16, each distillation run, speed fp32
fi

status=0
echo "== speed, bfloat16" | tee "$OUT/speed.log"
timeout "${LIMITS[0]}" "$PY" benchmarks/speed.py "${DEVICE[@]}" --dtype bfloat16 "${SPEED_ARGS[@]}" --json "$OUT/speed_bf16.json" \
    2>&1 | tee -a "$OUT/speed.log" || status=1

: >"$OUT/distill.log"
for workers in "${WORKERS[@]}"; do
    echo "== distillation step, $workers workers" | tee -a "$OUT/distill.log"
    timeout "${LIMITS[1]}" "$PY" benchmarks/gpu_distill_step.py "${DISTILL_ARGS[@]}" --workers "$workers" \
        --out /tmp/gpu_check/distill --json "$OUT/distill_w$workers.json" 2>&1 | tee -a "$OUT/distill.log" || status=1
done

echo "== speed, float32" | tee -a "$OUT/speed.log"
timeout "${LIMITS[2]}" "$PY" benchmarks/speed.py "${DEVICE[@]}" --dtype float32 "${SPEED_ARGS[@]}" --json "$OUT/speed_fp32.json" \
    2>&1 | tee -a "$OUT/speed.log" || status=1

echo "gpu_check: done (status $status); files in $OUT:"
ls -l "$OUT"
exit $status
