"""transformers' own model-test mixins, at the installed (locked) version, for tests/test_modeling_effnet_trm_common.py.

They are not in the transformers wheel; its source distribution on PyPI ships the top-level test
modules (`tests/test_modeling_common.py` with `ModelTesterMixin`, `tests/test_configuration_common.py`
with `ConfigTester`, ...). This downloads that sdist with pip (the ordinary client, no other source) and
extracts its `tests/*.py` into `.cache/transformers-tests/<version>/transformers_tests/`, a package the
test file imports. Nothing of it is committed to this repository. `make setup` runs it; offline, the
test file skips with this command in its reason.

    python tools/transformers_tests.py          # prints the folder
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "transformers_tests"


def tests_folder(transformers_version: str | None = None) -> Path:
    """Where the test modules of `transformers_version` (default: the installed one) are extracted."""
    return ROOT / ".cache" / "transformers-tests" / (transformers_version or version("transformers"))


def fetch(transformers_version: str | None = None) -> Path:
    """Download and extract the test modules once; return the folder holding the `transformers_tests` package."""
    transformers_version = transformers_version or version("transformers")
    folder = tests_folder(transformers_version)
    package = folder / PACKAGE
    if (package / "test_modeling_common.py").exists():
        return folder
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
            + ["--dest", download, f"transformers=={transformers_version}"],
            check=True,
        )
        (sdist,) = Path(download).glob("transformers-*.tar.gz")
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / PACKAGE).mkdir(parents=True)
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                parts = Path(member.name).parts  # transformers-X/tests/NAME.py, transformers-X/LICENSE
                if member.isfile() and (
                    (len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py")) or parts[1:] == ("LICENSE",)
                ):
                    data = archive.extractfile(member).read()
                    (staging / PACKAGE / parts[-1]).write_bytes(data)
        (staging / PACKAGE / "__init__.py").write_text(
            f'"""tests/*.py of the transformers {transformers_version} sdist (Apache-2.0: LICENSE), unmodified."""\n'
        )
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return folder


if __name__ == "__main__":
    print(fetch(sys.argv[1] if len(sys.argv) > 1 else None))
