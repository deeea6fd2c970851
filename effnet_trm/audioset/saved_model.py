"""Reading the graph of a TensorFlow SavedModel (``saved_model.pb``) without TensorFlow.

Only what is needed to check a port against the original: the functions of the graph library, their
nodes (name, op, inputs, attributes) and the values of constant nodes. Field numbers are those of
``saved_model.proto`` (meta_graphs=2), ``meta_graph.proto`` (graph_def=2), ``graph.proto``
(library=2), ``function.proto`` (signature=1, node_def=3), ``op_def.proto`` (name=1),
``node_def.proto`` (name=1, op=2, input=3, attr=5), ``attr_value.proto`` (s=2, i=3, f=4, b=5,
tensor=8) and ``tensor.proto`` (dtype=1, shape=2, tensor_content=4, float_val=5, int_val=7).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tensor_bundle import DTYPES, decode_message, read_varint


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    attrs: dict[str, dict] = field(repr=False)  # attribute name -> decoded AttrValue fields

    def constant(self) -> np.ndarray:
        """The value of a ``Const`` node."""
        tensor = decode_message(self.attrs["value"][8][0])
        dtype = np.dtype(DTYPES[tensor[1][0]]).newbyteorder("<")
        shape_fields = decode_message(tensor[2][0]) if tensor.get(2) else {}
        shape = tuple(decode_message(dim).get(1, [0])[0] for dim in shape_fields.get(2, []))
        if tensor.get(4):
            values = np.frombuffer(tensor[4][0], dtype)
        elif tensor.get(5):  # float_val, packed (bytes) or not (fixed32 ints)
            raw = tensor[5]
            values = (
                np.frombuffer(raw[0], "<f4")
                if isinstance(raw[0], bytes)
                else np.array([struct.unpack("<f", struct.pack("<I", v))[0] for v in raw], np.float32)
            )
        elif tensor.get(7):  # int_val, packed varints or not
            raw = tensor[7]
            if isinstance(raw[0], bytes):
                ints, pos = [], 0
                while pos < len(raw[0]):
                    value, pos = read_varint(raw[0], pos)
                    ints.append(value - (1 << 64) if value >= 1 << 63 else value)
                raw = ints
            values = np.array(raw, dtype)
        else:
            values = np.zeros(0, dtype)
        count = int(np.prod(shape)) if shape else 1
        if values.size == 1 and count > 1:  # a constant filled with one repeated value
            values = np.full(count, values[0], dtype)
        return values.astype(dtype.newbyteorder("=")).reshape(shape)


def graph_functions(folder: str | Path) -> dict[str, list[Node]]:
    """Function name -> its nodes, for every function in the SavedModel's graph library."""
    saved_model = decode_message((Path(folder) / "saved_model.pb").read_bytes())
    graph = decode_message(decode_message(saved_model[2][0])[2][0])
    functions = {}
    for function in decode_message(graph[2][0])[1] if graph.get(2) else []:
        function = decode_message(function)
        name = decode_message(function[1][0])[1][0].decode()
        nodes = []
        for node in function.get(3, []):
            node = decode_message(node)
            attrs = {}
            for entry in node.get(5, []):
                entry = decode_message(entry)
                attrs[entry[1][0].decode()] = decode_message(entry[2][0]) if entry.get(2) else {}
            nodes.append(Node(node[1][0].decode(), node[2][0].decode(), [i.decode() for i in node.get(3, [])], attrs))
        functions[name] = nodes
    return functions
