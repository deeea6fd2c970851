"""How the Space starts and stops: nothing it wrote outlives it.

Gradio caches every upload and every output image as a file under `$GRADIO_TEMP_DIR`. Its own
clean-up (`delete_cache`, set in `ui.build_ui`) deletes the files it tracks, an hour after they were
made and all of them when the server stops; it does not track the empty temporary files its upload
parser leaves behind for a file it has already cached (found by `benchmarks/space_load.py --rounds`).
So the server works in a cache folder of its own, removed whole when it stops, and a stop request
(SIGTERM) shuts it down as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def own_cache_folder() -> Iterator[Path]:
    """Point Gradio's cache at a new folder inside `$GRADIO_TEMP_DIR` (or the system's temporary
    folder) for the duration of the block, and remove the folder after it."""
    previous = os.environ.get("GRADIO_TEMP_DIR")
    parent = Path(previous or Path(tempfile.gettempdir()) / "gradio")
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="effnet-trm-space-", dir=parent))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


def stop_on_sigterm() -> None:
    """Handle SIGTERM (`kill`, a container stopping) as Ctrl-C: the server closes and the `finally`
    blocks around it run, instead of the process dying with its files on disk."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
