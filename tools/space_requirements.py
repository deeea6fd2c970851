"""The Space's requirements.txt from the lock: the run-time packages alone, at the locked versions.

A Gradio Space installs `requirements.txt` (not pyproject.toml) before it copies the repository, so
the file must list every package `app.py` needs, pinned. This walks the installed metadata from
pyproject.toml's run-time dependencies (no extras: no test or export packages) and pins each
package reached to the version in the lock.

    python tools/space_requirements.py requirements-lock.txt > requirements.txt
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked_versions(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def runtime_closure(requirements: list[str]) -> set[str]:
    """Every distribution reached from `requirements` (markers evaluated here, extras not followed)."""
    reached: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in reached:
            continue
        reached.add(name)
        pending.extend(Requirement(r) for r in metadata.requires(requirement.name) or [])
    return reached


def main(argv: list[str]) -> int:
    pins = locked_versions(Path(argv[0]))
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = runtime_closure(dependencies)
    missing = sorted(names - set(pins))
    if missing:
        raise SystemExit(f"not in the lock: {missing}")
    print("# The Space's packages (app.py): pyproject's run-time dependencies at the versions of")
    print("# requirements-lock.txt. Written by `make lock` (tools/space_requirements.py); do not edit by hand.")
    for name in sorted(names):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
