#!/usr/bin/env bash
# The wheels that tools/gpu_check.sh installs on a lent GPU machine (nvidia-h200: Python 3.12, x86-64,
# no package registry reachable), downloaded here into .whl/ (git-ignored). Only what the device's
# image lacks (/work/.library/device/KINDS.md lists what it has) and the GPU benchmarks import:
#   datasets (+ dill, multiprocess; pyarrow: datasets 5.x wants pyarrow >= 24, the image's may be older)
#     -- the distillation corpus (effnet_trm.distill.trainer imports datasets at import time)
#   soundfile (+ cffi, pycparser), soxr -- effnet_trm.audio, the corpus's FLAC clips
#   torchlibrosa, librosa (+ decorator, pooch, platformdirs) -- the teacher's log-mel front end
#     (librosa.filters.mel imports librosa's cache (decorator) and its data files helper (pooch))
# pyarrow's wheel (52 MiB) is slimmed here to ~33 MiB: Arrow Flight, the S3 filesystem, the C++ test
# module, headers, Cython sources, tests and the duplicate copies of versioned libraries are dropped
# (datasets and this project load none of them; pyarrow.fs treats S3 as optional), RECORD rewritten.
# Checked on this machine with the same slimming of the cp311 wheel: datasets' save/load and
# benchmarks/gpu_distill_step.py --device cpu ran on it.
# Versions: requirements-lock.txt's. --no-deps: each needed dependency is named above; the rest of
# their dependencies (numpy, pandas, fsspec, xxhash, requests, numba, scipy, scikit-learn, joblib,
# lazy-loader, msgpack, ...) are in the image. The wheels travel with the working tree (64 MiB in all,
# the tree itself about 18 MiB), so the total is checked against MAX_MIB.
#
#   tools/fetch_gpu_wheels.sh          # then: the device runs tools/gpu_check.sh with carry [".whl"]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
LOCK=requirements-lock.txt
MAX_MIB=${MAX_MIB:-40}
NAMES=(datasets dill multiprocess pyarrow soundfile cffi pycparser soxr torchlibrosa librosa decorator pooch platformdirs)

specs=()
for name in "${NAMES[@]}"; do
    line=$(grep -i -E "^${name}==" "$LOCK" || true)
    [ -n "$line" ] || { echo "fetch_gpu_wheels: $name is not in $LOCK" >&2; exit 1; }
    specs+=("$line")
done
mkdir -p .whl
rm -f .whl/*.whl # one version of each: two stop the whole install there
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${specs[@]}"
"$PYTHON" - .whl/pyarrow-*.whl <<'PY'
"""Slim a pyarrow wheel in place: drop what datasets and this project never load (Arrow Flight, the S3
filesystem, the C++ test module, headers, Cython sources, tests, and the duplicate copies of versioned
libraries that a zip cannot hold as symbolic links), so that it fits in a device call; RECORD updated."""
import base64, csv, hashlib, io, re, sys, zipfile
from pathlib import Path

DROP = re.compile(
    r"^pyarrow/("
    r"include/|src/|tests/|"
    r"libarrow_flight\.|libarrow_python_flight\.|_flight\.|"
    r"libarrow_s3\.|_s3fs\.|"
    r"_pyarrow_cpp_tests\.|"
    r"lib[a-z_]+\.so\.\d+\.\d+\.\d+$"  # libX.so.2600.1.0: the same file as libX.so.2600 (the name they link to)
    r")"
)
path = Path(sys.argv[1])
source = zipfile.ZipFile(path)
kept = [info for info in source.infolist() if not DROP.match(info.filename)]
dropped = len(source.infolist()) - len(kept)
record_name = next(i.filename for i in kept if i.filename.endswith(".dist-info/RECORD"))
names = {i.filename for i in kept}
rows = [row for row in csv.reader(io.StringIO(source.read(record_name).decode())) if row and row[0] in names]
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
    for info in kept:
        if info.filename != record_name:
            target.writestr(info, source.read(info), zipfile.ZIP_DEFLATED, 9)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    target.writestr(record_name, text.getvalue())
source.close()
before = path.stat().st_size
path.write_bytes(buffer.getvalue())
print(f"slimmed {path.name}: {dropped} files dropped, {before / 2**20:.1f} -> {path.stat().st_size / 2**20:.1f} MiB")
PY
count=$(ls .whl/*.whl | wc -l)
if [ "$count" -ne "${#NAMES[@]}" ]; then
    echo "fetch_gpu_wheels: ${#NAMES[@]} wheels expected, $count in .whl/" >&2
    exit 1
fi
ls -l .whl/*.whl | awk '{printf "%9.2f MiB  %s\n", $5 / 1048576, $9}'
total=$(du -cb .whl/*.whl | tail -1 | cut -f1)
awk -v t="$total" -v m="$MAX_MIB" 'BEGIN {printf "total %.1f MiB (limit here %d MiB)\n", t / 1048576, m; exit !(t <= m * 1048576)}' || {
    echo "fetch_gpu_wheels: the wheels are over ${MAX_MIB} MiB: with the working tree they would pass the 64 MiB a device call carries" >&2
    exit 1
}
tree=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
awk -v t="$total" -v w="$tree" 'BEGIN {printf "with the working tree (%.1f MiB): %.1f MiB of the 64 MiB a device call carries\n", w / 1048576, (t + w) / 1048576; exit !(t + w <= 60 * 1048576)}' || {
    echo "fetch_gpu_wheels: the working tree and the wheels leave under 4 MiB of the 64 MiB: trim before a device call" >&2
    exit 1
}
