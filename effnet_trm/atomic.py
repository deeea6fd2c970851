"""Outputs that are whole or absent: a long job stopped at any moment (Ctrl-C, a kill, a full disk)
leaves nothing that a rerun would mistake for finished work.

Every stage that a rerun skips when its output exists (the demo corpus, the demo teacher, training
checkpoints, the final model folder) writes into a hidden temporary sibling and renames it into
place only when it is complete. A rename within one folder is atomic on POSIX file systems, so a
reader sees the old output, the new one, or none; never half of one. Temporaries that a killed
process left behind are hidden (`.name.partial-PID`), never read, and removed by the next writer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

PARTIAL = ".partial-"


def partial_path(final: Path) -> Path:
    """The temporary sibling a writer of `final` fills (hidden, named by the writing process)."""
    return final.with_name(f".{final.name}{PARTIAL}{os.getpid()}")


def remove_stale_partials(final: Path) -> list[Path]:
    """Delete the temporaries of `final` that earlier, interrupted writers left behind."""
    removed = []
    for stale in final.parent.glob(f".{final.name}{PARTIAL}*"):
        if stale == partial_path(final):
            continue
        shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
        removed.append(stale)
    return removed


@contextlib.contextmanager
def atomic_folder(final: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without an exception it becomes `final`
    (replacing an older `final`), and on any exception, KeyboardInterrupt included, it is deleted."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    temporary = partial_path(final)
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    replace_folder(temporary, final)


def replace_folder(source: Path, final: Path) -> None:
    """Move the complete folder `source` to `final`; an existing `final` is renamed away first and
    deleted after, so that `final` is never a mixture of both."""
    if final.exists():
        retired = final.with_name(f".{final.name}{PARTIAL}retired-{os.getpid()}")
        if retired.exists():
            shutil.rmtree(retired)
        os.replace(final, retired)
        os.replace(source, final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(source, final)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (no half-written file)."""
    path = Path(path)
    temporary = partial_path(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
