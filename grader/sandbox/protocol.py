"""Message shapes shared by the parent and the child: a JSON header, then raw bytes.

Wire format of one message: 4-byte big-endian header length, the UTF-8 JSON header, then
header["payload_bytes"] bytes of payload. Arrays travel as {"dtype", "shape", "offset", "nbytes"}
slices of the payload. Nothing is ever pickled: the parent decodes only the dtypes listed here and
checks every size against the limits before it allocates anything.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from typing import Any

import numpy as np

MAX_HEADER_BYTES = 1 << 20
MAX_PAYLOAD_BYTES = 256 << 20
MAX_DIMS = 8
_LENGTH = struct.Struct(">I")

# dtype name -> (numpy dtype of the raw bytes, itemsize). bfloat16 travels as its raw 16 bits.
WIRE_DTYPES: dict[str, str] = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "<u2",
    "complex128": "<c16",
    "complex64": "<c8",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint8": "u1",
    "bool": "?",
}


class ProtocolError(Exception):
    """A reply that breaks the protocol: a finding about the submission, not a grader bug."""


class Timeout(Exception):
    """No complete message arrived before the deadline."""


class ChannelClosed(Exception):
    """The other side closed its end (for the child: it exited or died)."""


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    body = json.dumps({**header, "payload_bytes": len(payload)}, allow_nan=True).encode()
    return _LENGTH.pack(len(body)) + body + payload


def send(fd: int, header: dict[str, Any], payload: bytes = b"") -> None:
    view = memoryview(encode(header, payload))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def decode(message: bytes) -> tuple[dict[str, Any], bytes]:
    """One whole encoded message, validated exactly as a Receiver validates what it reads."""
    receiver = Receiver(-1)
    receiver._buffer += message
    if len(message) < _LENGTH.size or len(message) < _LENGTH.size + _LENGTH.unpack(message[:_LENGTH.size])[0]:
        raise ProtocolError("an incomplete message")
    return receiver.receive()


class Receiver:
    """Reads whole messages from a file descriptor, with a deadline, without trusting lengths."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def receive(self, timeout: float | None = None) -> tuple[dict[str, Any], bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (size,) = _LENGTH.unpack(self._take(_LENGTH.size, deadline))
        if size > MAX_HEADER_BYTES:
            raise ProtocolError(f"a reply header of {size} bytes (the limit is {MAX_HEADER_BYTES})")
        try:
            header = json.loads(self._take(size, deadline))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ProtocolError(f"a reply header that is not JSON: {err}") from None
        if not isinstance(header, dict):
            raise ProtocolError("a reply header that is not a JSON object")
        length = header.get("payload_bytes", 0)
        if not isinstance(length, int) or not 0 <= length <= MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"a reply payload of {length!r} bytes")
        return header, bytes(self._take(length, deadline))

    def _take(self, n: int, deadline: float | None) -> bytes:
        while len(self._buffer) < n:
            self._fill(deadline)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _fill(self, deadline: float | None) -> None:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            raise Timeout()
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise ChannelClosed()
        self._buffer += chunk


def array_spec(dtype: str, shape: tuple[int, ...], offset: int, nbytes: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": nbytes}


def decode_array(spec: Any, payload: bytes) -> np.ndarray:
    """Validate an array spec from the child and return its values (float64 or complex128).

    bfloat16 is widened exactly (its bits are the top half of a float32); integers and bools are
    converted to float64 so checks can compare them, while the spec's dtype keeps the truth.
    """
    if not isinstance(spec, dict):
        raise ProtocolError("an array description that is not an object")
    dtype, shape, offset, nbytes = (spec.get(k) for k in ("dtype", "shape", "offset", "nbytes"))
    if dtype not in WIRE_DTYPES:
        raise ProtocolError(f"an array of unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise ProtocolError(f"an array shape {shape!r}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError(f"an array shape {shape!r}")
    wire = np.dtype(WIRE_DTYPES[dtype])
    expected = math.prod(shape) * wire.itemsize
    if not isinstance(offset, int) or not isinstance(nbytes, int) or nbytes != expected:
        raise ProtocolError(f"an array of shape {shape} and dtype {dtype} sent as {nbytes!r} bytes")
    if offset < 0 or offset + nbytes > len(payload):
        raise ProtocolError("an array that runs past the end of its message")
    raw = np.frombuffer(payload, dtype=wire, count=math.prod(shape), offset=offset).reshape(shape)
    if dtype == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if dtype.startswith("complex"):
        return raw.astype(np.complex128)
    return raw.astype(np.float64)


def pack_arrays(arrays: list[tuple[str, tuple[int, ...], bytes]]) -> tuple[list[dict[str, Any]], bytes]:
    """Lay raw arrays (dtype name, shape, bytes) end to end; return their specs and the payload."""
    specs, chunks, offset = [], [], 0
    for dtype, shape, data in arrays:
        specs.append(array_spec(dtype, shape, offset, len(data)))
        chunks.append(data)
        offset += len(data)
    return specs, b"".join(chunks)
