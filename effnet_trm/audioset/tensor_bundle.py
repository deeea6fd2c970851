"""Reading TensorFlow checkpoints ("tensor bundles") with plain Python: no TensorFlow needed.

A bundle is `<prefix>.index` plus one or more `<prefix>.data-NNNNN-of-NNNNN` shards. The index is
an SSTable in LevelDB's table format that maps each tensor's name to a serialized
``BundleEntryProto`` (dtype, shape, shard, byte offset, byte size, crc32c); the entry with the empty
key is a ``BundleHeaderProto`` (number of shards, endianness, format version). The data shards are
the tensors' raw little-endian bytes, one after the other. Both formats are small and stable, so
decoding them here (a few varints and ``struct`` calls) beats depending on TensorFlow just to read
numbers. Only uncompressed tables are supported, which is what TensorFlow writes for bundles.

Protobuf messages are decoded by field number with :func:`decode_message`; the numbers used here come
from ``tensorflow/core/protobuf/tensor_bundle.proto``, ``tensor_shape.proto``, ``types.proto`` and
``trackable_object_graph.proto``.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from pathlib import Path

import numpy as np

#: LevelDB/TensorFlow table magic number, the last 8 bytes of every table file.
TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the magic
BLOCK_TRAILER_SIZE = 5  # compression type (1 byte) + masked crc32c (4 bytes)

#: TensorFlow DataType enum -> numpy dtype, for the types a model checkpoint holds.
DTYPES = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    14: np.float16,
    17: np.uint16,
    19: np.float16,
    22: np.uint32,
    23: np.uint64,
}
DT_STRING = 7
DT_BFLOAT16 = 14  # stored as the upper 16 bits of a float32


class TensorBundleError(ValueError):
    """A checkpoint that cannot be read (the message names the file and what is wrong)."""


# --- protobuf wire format ------------------------------------------------------------------------


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, new position) of the base-128 varint at `pos`."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise TensorBundleError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def decode_message(data: bytes) -> dict[int, list]:
    """Field number -> list of raw values (ints for varint/fixed fields, bytes for length-delimited).

    Nested messages stay bytes: the caller knows the schema and decodes them again.
    """
    fields: dict[int, list] = defaultdict(list)
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = read_varint(data, pos)
        elif wire_type == 1:
            value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire_type == 5:
            value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
        else:
            raise TensorBundleError(f"unsupported protobuf wire type {wire_type}")
        fields[number].append(value)
    return fields


def _first(fields: dict[int, list], number: int, default=0):
    return fields[number][0] if fields.get(number) else default


# --- SSTable (LevelDB table format) --------------------------------------------------------------


def _block_handle(data: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = read_varint(data, pos)
    size, pos = read_varint(data, pos)
    return (offset, size), pos


def _read_block(table: bytes, handle: tuple[int, int]) -> bytes:
    offset, size = handle
    if offset + size + BLOCK_TRAILER_SIZE > len(table):
        raise TensorBundleError("block runs past the end of the file")
    if table[offset + size] != 0:
        raise TensorBundleError(f"compressed blocks (type {table[offset + size]}) are not supported")
    return table[offset : offset + size]


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs of one block. Keys share prefixes with the previous key; the trailing
    restart-point array (uint32s, then their count) only speeds up seeking, so it is skipped."""
    if len(block) < 4:
        raise TensorBundleError("block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 * (num_restarts + 1)
    if end < 0:
        raise TensorBundleError("bad restart count")
    entries, key, pos = [], b"", 0
    while pos < end:
        shared, pos = read_varint(block, pos)
        unshared, pos = read_varint(block, pos)
        value_length, pos = read_varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_length]))
        pos += value_length
    return entries


def read_table(table: bytes) -> dict[bytes, bytes]:
    """Every key -> value of an SSTable file's bytes (footer -> index block -> data blocks)."""
    if len(table) < FOOTER_SIZE or struct.unpack_from("<Q", table, len(table) - 8)[0] != TABLE_MAGIC:
        raise TensorBundleError("not a TensorFlow/LevelDB table (bad magic number)")
    footer = table[-FOOTER_SIZE:]
    _metaindex, pos = _block_handle(footer, 0)
    index_handle, _ = _block_handle(footer, pos)
    entries = {}
    for _last_key, handle_bytes in _block_entries(_read_block(table, index_handle)):
        handle, _ = _block_handle(handle_bytes, 0)
        entries.update(_block_entries(_read_block(table, handle)))
    return entries


# --- bundle entries and tensors ------------------------------------------------------------------


def parse_entry(value: bytes) -> dict:
    """A BundleEntryProto as a dict: dtype (enum), shape (tuple), shard_id, offset, size, crc32c."""
    fields = decode_message(value)
    dims = decode_message(_first(fields, 2, b""))[2]
    shape = tuple(_first(decode_message(dim), 1) for dim in dims)
    if fields.get(7):
        raise TensorBundleError("partitioned (sliced) variables are not supported")
    return {
        "dtype": _first(fields, 1),
        "shape": shape,
        "shard_id": _first(fields, 3),
        "offset": _first(fields, 4),
        "size": _first(fields, 5),
        "crc32c": _first(fields, 6),
    }


def _decode_strings(raw: bytes, count: int) -> np.ndarray:
    """DT_STRING tensors: `count` varint lengths, a 4-byte checksum of them, then the bytes."""
    lengths, pos = [], 0
    for _ in range(count):
        length, pos = read_varint(raw, pos)
        lengths.append(length)
    pos += 4
    values = []
    for length in lengths:
        values.append(raw[pos : pos + length])
        pos += length
    return np.array(values, dtype=object)


def decode_tensor(entry: dict, raw: bytes) -> np.ndarray:
    shape, dtype = entry["shape"], entry["dtype"]
    count = int(np.prod(shape)) if shape else 1
    if dtype == DT_STRING:
        return _decode_strings(raw, count).reshape(shape)
    if dtype == DT_BFLOAT16:
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    if dtype not in DTYPES:
        raise TensorBundleError(f"unsupported TensorFlow dtype enum {dtype}")
    array = np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<"))
    if array.size != count:
        raise TensorBundleError(f"{array.size} values for shape {shape}")
    return array.reshape(shape).astype(DTYPES[dtype])


def bundle_prefix(prefix_or_dir: str | Path) -> Path:
    """`variables/variables` for a SavedModel folder or its variables folder; the prefix otherwise."""
    path = Path(prefix_or_dir)
    for candidate in (path / "variables" / "variables", path / "variables", path):
        if candidate.with_name(candidate.name + ".index").is_file():
            return candidate
    raise TensorBundleError(f"no TensorFlow checkpoint at {path} (expected a .index file)")


def read_bundle_entries(prefix_or_dir: str | Path) -> tuple[Path, dict, dict[str, dict]]:
    """(prefix, header fields, name -> entry) of a bundle, without reading the tensors."""
    prefix = bundle_prefix(prefix_or_dir)
    index_file = prefix.with_name(prefix.name + ".index")
    try:
        table = read_table(index_file.read_bytes())
    except TensorBundleError as error:
        raise TensorBundleError(f"{index_file}: {error}") from None
    header = decode_message(table.pop(b"", b""))
    if _first(header, 2) != 0:
        raise TensorBundleError(f"{index_file}: big-endian bundles are not supported")
    entries = {key.decode("utf-8"): parse_entry(value) for key, value in table.items()}
    return prefix, {"num_shards": _first(header, 1, 1), "version": _first(header, 3)}, entries


def read_tensor_bundle(prefix_or_dir: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a TensorFlow checkpoint, by name, as numpy arrays.

    `prefix_or_dir` is a SavedModel folder, its `variables` folder, or a checkpoint prefix
    (`.../variables/variables`). String tensors (such as the object graph) come back as object
    arrays of bytes.
    """
    prefix, header, entries = read_bundle_entries(prefix_or_dir)
    num_shards = header["num_shards"]
    shards: dict[int, bytes] = {}
    tensors = {}
    for name, entry in sorted(entries.items()):
        shard = entry["shard_id"]
        if shard not in shards:
            shard_file = prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{num_shards:05d}")
            if not shard_file.is_file():
                raise TensorBundleError(f"missing checkpoint shard {shard_file}")
            shards[shard] = shard_file.read_bytes()
        start, size = entry["offset"], entry["size"]
        if start + size > len(shards[shard]):
            raise TensorBundleError(f"{name}: bytes {start}..{start + size} beyond the end of shard {shard}")
        tensors[name] = decode_tensor(entry, shards[shard][start : start + size])
    return tensors


def object_graph_names(tensors: dict[str, np.ndarray]) -> dict[str, str]:
    """Checkpoint key -> the variable's original name (e.g. ``layer1/conv/kernel``).

    TF2 object-based checkpoints key tensors by their path in the object graph; the graph itself is
    stored as the string tensor ``_CHECKPOINTABLE_OBJECT_GRAPH`` (a TrackableObjectGraph proto whose
    nodes list SerializedTensor{name=1, full_name=2, checkpoint_key=3} as field 2).
    """
    graph = tensors.get("_CHECKPOINTABLE_OBJECT_GRAPH")
    if graph is None:
        return {}
    names = {}
    for node in decode_message(graph.item())[1]:
        for attribute in decode_message(node)[2]:
            fields = decode_message(attribute)
            key = _first(fields, 3, b"").decode("utf-8")
            names[key] = _first(fields, 2, b"").decode("utf-8")
    return names
