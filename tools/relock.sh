#!/usr/bin/env bash
# `make lock`: re-resolve the project against the newest releases the registry serves, run the test
# suite in that environment, and only if it passes rewrite the lock (requirements-lock.txt, every
# package of the test + export + dev environment) and the Space's requirements.txt (the run-time
# packages alone, at the same versions). Nothing is rewritten when the suite fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ENV=.cache/relock-venv
rm -rf "$ENV"
"$PYTHON" -m venv "$ENV"
"$ENV/bin/pip" install -q --upgrade pip
"$ENV/bin/pip" install -q -e ".[test,export,dev]"
"$ENV/bin/python" -m effnet_trm.audioset.fetch || true   # YAMNet and the demo recordings, which the suite reads
"$ENV/bin/python" -m effnet_trm.data.sources || true
echo "resolved: $("$ENV/bin/pip" list --format=freeze | grep -iE '^(torch|transformers|timm|datasets|gradio)==' | tr '\n' ' ')"
if ! "$ENV/bin/python" -m pytest -q -p no:cacheprovider; then
    echo "the suite fails on the newest releases: the lock is unchanged (see above for what broke)" >&2
    exit 1
fi
{
    echo "# The tested environment (make test, make demo and CI install through it as constraints)."
    echo "# Written by \`make lock\` on $(date -u +%Y-%m-%d) after the suite passed; do not edit by hand."
    "$ENV/bin/pip" freeze --all --exclude-editable | grep -vE "^(-e |pip==)"
} > requirements-lock.txt
"$ENV/bin/python" tools/space_requirements.py requirements-lock.txt > requirements.txt
echo "wrote requirements-lock.txt and requirements.txt"
