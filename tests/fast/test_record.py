"""The audit record as the parent reads it: signed lines kept, forged ones counted and dropped,
a flood of decoys unable to push a way towards the secret out, and an endless line costing nothing."""

from __future__ import annotations

import os
import threading
import tracemalloc
from collections.abc import Iterable

from grader.sandbox.confine import record_mac
from grader.sandbox.session import MAX_EVENTS, RecordStream

KEY = bytes(range(16))


def signed(text: str, key: bytes = KEY) -> bytes:
    data = text.encode()
    return data + b" " + record_mac(data, key) + b"\n"


def read(*chunks: bytes | Iterable[bytes]) -> tuple[tuple[str, ...], int]:
    read_end, write_end = os.pipe()
    stream = RecordStream(os.fdopen(read_end, "rb"), KEY)

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for chunk in chunks:
                for piece in [chunk] if isinstance(chunk, bytes) else chunk:
                    pipe.write(piece)

    writer = threading.Thread(target=feed)
    writer.start()
    writer.join()
    return stream.recorded(wait=10)


def test_signed_lines_are_kept_and_forged_ones_counted():
    events, forged = read(signed("gc.get_objects"), b"gc.get_objects 0000000000000000\n",
                          signed("sys._current_frames", key=bytes(16)), signed("gc.get_objects"))
    assert events == ("gc.get_objects",) and forged == 2


def test_decoys_cannot_push_a_way_to_the_secret_out():
    decoys = b"".join(signed(f"opened /tmp/decoy{i} for writing") for i in range(3 * MAX_EVENTS))
    events, forged = read(decoys, signed("gc.get_objects"))
    assert "gc.get_objects" in events and len(events) == MAX_EVENTS + 1 and forged == 0


def test_an_endless_line_costs_nothing_and_is_counted():
    tracemalloc.start()
    endless = (b"x" * (64 << 10) for _ in range(1024))  # 64 MiB without a newline, written piece by piece
    events, forged = read(endless, b"\n", signed("gc.get_referrers"), b"y" * 1000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert events == ("gc.get_referrers",) and forged == 2  # the 64 MiB line and the unfinished one
    assert peak < 4 << 20, f"reading the record held {peak >> 20} MiB"
