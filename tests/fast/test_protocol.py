"""The wire format: whole messages through real pipes, and every kind of malformed reply rejected."""

from __future__ import annotations

import contextlib
import os
import struct

import numpy as np
import pytest

from grader.sandbox import protocol


@pytest.fixture
def pipe():
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_message_round_trips_with_payload(pipe):
    read, write = pipe
    protocol.send(write, {"event": "x", "n": 3}, b"\x00\x01payload")
    header, payload = protocol.Receiver(read).receive(timeout=1)
    assert header == {"event": "x", "n": 3, "payload_bytes": 9}
    assert payload == b"\x00\x01payload"


def test_receive_times_out_and_sees_closed_channel(pipe):
    read, write = pipe
    receiver = protocol.Receiver(read)
    with pytest.raises(protocol.Timeout):
        receiver.receive(timeout=0.05)
    os.close(write)
    with pytest.raises(protocol.ChannelClosed):
        receiver.receive(timeout=1)


def test_oversized_header_is_rejected_before_reading_it(pipe):
    read, write = pipe
    os.write(write, struct.pack(">I", protocol.MAX_HEADER_BYTES + 1))
    with pytest.raises(protocol.ProtocolError, match="header"):
        protocol.Receiver(read).receive(timeout=1)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"payload_bytes": -1}', b'{"payload_bytes": "9"}'])
def test_malformed_headers_are_protocol_errors(pipe, body):
    read, write = pipe
    os.write(write, struct.pack(">I", len(body)) + body)
    with pytest.raises(protocol.ProtocolError):
        protocol.Receiver(read).receive(timeout=1)


def test_arrays_decode_to_exact_values():
    values = np.array([[0.5, -1.25], [3.0, 1e-3]], dtype=np.float32)
    specs, payload = protocol.pack_arrays([("float32", values.shape, values.tobytes())])
    decoded = protocol.decode_array(specs[0], payload)
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, values.astype(np.float64))


def test_bfloat16_bits_widen_exactly():
    # 1.0, -2.5 and 3.140625 are exact in bfloat16; their bits are the top half of the float32 bits.
    exact = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    bits = (exact.view(np.uint32) >> 16).astype(np.uint16)
    specs, payload = protocol.pack_arrays([("bfloat16", (3,), bits.tobytes())])
    np.testing.assert_array_equal(protocol.decode_array(specs[0], payload), exact.astype(np.float64))


@pytest.mark.parametrize(
    "spec",
    [
        {"dtype": "object", "shape": [1], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [2], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [1], "offset": 8, "nbytes": 8},
        {"dtype": "float64", "shape": [1], "offset": -8, "nbytes": 8},
        {"dtype": "float64", "shape": [-1], "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [1] * 9, "offset": 0, "nbytes": 8},
        {"dtype": "float64", "shape": [True], "offset": 0, "nbytes": 8},
        "not a dict",
    ],
)
def test_bad_array_specs_are_rejected(spec):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_array(spec, b"\x00" * 8)
