"""Message shapes shared by the parent and the child: a JSON header, then raw bytes.

Wire format of one message: 4-byte big-endian header length, the UTF-8 JSON header, then
header["payload_bytes"] bytes of payload. Arrays travel as {"dtype", "shape", "offset", "nbytes"}
slices of the payload. Nothing is ever pickled: the parent decodes only the dtypes listed here and
checks every size against the limits before it allocates anything.

What a child sends costs the parent a bounded amount, whatever it is: a header of at most
MAX_HEADER_BYTES holding integers of at most 64 bits and nesting Python can parse, a payload of at
most MAX_PAYLOAD_BYTES, and at most MAX_SESSION_BYTES over a Receiver's life (one submission).
Anything else is a ProtocolError: a finding about the submission, never a failure of the grader.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import select
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader import sources

MAX_HEADER_BYTES = 1 << 20
# An honest reply is a few arrays the size of the input (at most a few hundred elements): 100 kB.
MAX_PAYLOAD_BYTES = 16 << 20
MAX_SESSION_BYTES = 64 << 20
MAX_INT_DIGITS = 19  # 64-bit integers: sizes, offsets, line numbers
MAX_DIMS = 8
# What a read of the child's output counts as a drip: after a read this short, each reader waits
# before the next (a reply DRIP_WAIT_S; the record and printed streams sandbox/session.py's
# STREAM_WAIT_S), so a child writing a byte at a time wakes the grader a few hundred times a second,
# not once a byte.
DRIP_BYTES = 4096
DRIP_WAIT_S = 0.002
_LENGTH = struct.Struct(">I")


# A digest of the grader's own sources as this process found them on starting (sources.digest, 3 ms): a child
# sends its own in its hello, and one that differs runs other code than its parent, where an upgrade came while
# a batch ran (ux131: a zygote started after the grader's files changed spoke a newer protocol than its worker,
# and 64 students were told "your code sent back something malformed", 1/10).
try:
    SOURCES = sources.digest(Path(__file__).resolve().parent.parent)
except OSError:  # (a file of the grader's that cannot be read: the same "" on both sides, no claim)
    SOURCES = ""

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


class Sender:
    """Writes messages to a pipe without ever waiting on it: what the pipe does not take now is
    kept, and written as it drains, while a Receiver given this Sender waits for a reply. The
    pipe's size is no promise (a child shrank its request pipe to one page, and the grader's write
    of its pipelined requests never returned); a child that reads nothing then only runs out of time."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self._outbox = bytearray()
        self.closed = False  # the other end is closed: nothing more is written

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Queue one message and write what fits; OSError (EPIPE) once the reader has gone."""
        if not self.closed:
            self._outbox += encode(header, payload)
            self.flush()

    @property
    def pending(self) -> bool:
        return bool(self._outbox) and not self.closed

    def flush(self) -> None:
        while self.pending:
            try:
                written = os.write(self.fd, self._outbox)
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                self._outbox.clear()
                raise
            del self._outbox[:written]


def decode(message: bytes) -> tuple[dict[str, Any], bytes]:
    """One whole encoded message, validated exactly as a Receiver validates what it reads."""
    receiver = Receiver(-1)
    receiver._buffer += message
    return receiver.receive()


class Receiver:
    """Reads whole messages from a file descriptor, with a deadline, without trusting lengths; at
    most `budget` bytes in all."""

    def __init__(self, fd: int, budget: int = MAX_SESSION_BYTES, sender: Sender | None = None) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._left = budget
        self._sender = sender  # its queued requests are written while this waits

    def receive(self, timeout: float | None = None) -> tuple[dict[str, Any], bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (size,) = _LENGTH.unpack(self._take(_LENGTH.size, deadline))
        if size > MAX_HEADER_BYTES:
            raise ProtocolError(f"a reply header of {size} bytes (the limit is {MAX_HEADER_BYTES})")
        self._spend(size)
        header = parse_header(self._take(size, deadline))
        length = header.get("payload_bytes", 0)
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise ProtocolError(f"a reply payload of {length!r:.40} bytes")
        if length > MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"{_mib(length)} of data for one reply (the limit is {_mib(MAX_PAYLOAD_BYTES)}): "
                                "does your function return something far larger than its input?")
        self._spend(length)
        return header, self._take(length, deadline)

    def _spend(self, n: int) -> None:
        """Count n more bytes against the budget, before reading them."""
        if n > self._left:
            raise ProtocolError(f"more than {_mib(MAX_SESSION_BYTES)} of data in all (the limit per submission): "
                                "does your function return something far larger than its input?")
        self._left -= n

    def _take(self, n: int, deadline: float | None) -> bytes:
        while len(self._buffer) < n:
            got = self._fill(deadline)
            if 0 < got < DRIP_BYTES and len(self._buffer) < n:
                # A message sent a few bytes at a time: a red team's child wrote its reply one byte
                # a write, and each woke this loop (10 s of the grader's CPU in a 9 s call). Waiting
                # a moment lets what follows gather: a few hundred wake-ups a second at most.
                pause = DRIP_WAIT_S if deadline is None else min(DRIP_WAIT_S, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _fill(self, deadline: float | None) -> int:
        """Read what has come (the bytes read: 0 where only the pipelined requests moved on)."""
        if self.fd < 0:  # decode(): the whole message was given, and it stops short
            raise ProtocolError("an incomplete message")
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        sender = self._sender if self._sender is not None and self._sender.pending else None
        ready, writable, _ = select.select([self.fd], [sender.fd] if sender else [], [], wait)
        if sender and writable:
            with contextlib.suppress(OSError):  # the reader gone: its death is read here next
                sender.flush()
            if not ready:
                return 0
        if not ready:
            raise Timeout()
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise ChannelClosed()
        self._buffer += chunk
        return len(chunk)


def parse_header(raw: bytes) -> dict[str, Any]:
    """A JSON object, or ProtocolError: not UTF-8, not JSON, nested deeper than Python recurses, or
    holding an integer longer than 64 bits (a 5000-digit one would raise, a 4000-digit one cost).
    Integers are checked one by one only where the header holds a run of 20 digits at all (in a
    string, say): elsewhere none can be that long, and the decoder's own integers are used."""
    try:
        header = json.loads(raw, parse_int=_small_int) if _LONG_DIGITS.search(raw) else json.loads(raw)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ProtocolError(f"a reply header that is not valid JSON ({type(err).__name__}: {str(err)[:100]})") from None
    if not isinstance(header, dict):
        raise ProtocolError("a reply header that is not a JSON object")
    return header


_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_INT_DIGITS + 1))


def _small_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError(f"a reply header holding a {len(digits)}-digit integer")
    return int(digits)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def array_spec(dtype: str, shape: tuple[int, ...], offset: int, nbytes: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": nbytes}


def array_count(spec: Any) -> int:
    """The element count of a valid array spec (dtype, shape and size checked, nothing decoded)."""
    if not isinstance(spec, dict):
        raise ProtocolError("an array description that is not an object")
    dtype, shape, offset, nbytes = (spec.get(k) for k in ("dtype", "shape", "offset", "nbytes"))
    if dtype not in WIRE_DTYPES:
        raise ProtocolError(f"an array of unsupported dtype {dtype!r:.40}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise ProtocolError(f"an array shape {shape!r:.80}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError(f"an array shape {shape!r:.80}")
    count = math.prod(shape)
    itemsize = np.dtype(WIRE_DTYPES[dtype]).itemsize
    if not isinstance(offset, int) or not isinstance(nbytes, int) or nbytes != count * itemsize:
        raise ProtocolError(f"an array of shape {shape} and dtype {dtype} sent as {nbytes!r:.40} bytes")
    return count


def decode_array(spec: Any, payload: bytes, count: int | None = None) -> np.ndarray:
    """Validate an array spec from the child and return its values (float64 or complex128);
    `count` is array_count(spec), where the caller has it already.

    bfloat16 is widened exactly (its bits are the top half of a float32); integers and bools are
    converted to float64 so checks can compare them, while the spec's dtype keeps the truth.
    """
    count = array_count(spec) if count is None else count
    dtype, shape, offset, nbytes = spec["dtype"], spec["shape"], spec["offset"], spec["nbytes"]
    if offset < 0 or offset + nbytes > len(payload):
        raise ProtocolError("an array that runs past the end of its message")
    raw = np.frombuffer(payload, dtype=np.dtype(WIRE_DTYPES[dtype]), count=count, offset=offset).reshape(shape)
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
