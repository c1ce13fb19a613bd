"""The audit record as the parent reads it: signed lines kept, forged ones counted and dropped,
a flood of decoys unable to push a way towards the secret out, and an endless line costing nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from grader.canary import FLOODED, FORGED_LINES, MORE_ROUTES, is_secret_route
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


def test_a_flood_of_ways_to_the_secret_is_bounded_and_said_to_be_more():
    # sys.audit raises any event a submission names: 200,000 imports of grader<n> once took the
    # grader to 254 MB and result.json to 60 MB. The first ones are kept, then one line says more.
    routes = b"".join(signed(f"imported grader.decoy{i}") for i in range(20 * MAX_EVENTS))
    events, forged = read(signed("opened /tmp/x for writing"), routes, signed("gc.get_objects"))
    assert forged == 0 and events == ("opened /tmp/x for writing",
                                      *(f"imported grader.decoy{i}" for i in range(MAX_EVENTS)),
                                      f"{MORE_ROUTES} than the {MAX_EVENTS} kept")
    assert is_secret_route(events[-1])  # the summary asks a TA to look


def test_an_endless_line_costs_nothing_and_is_counted():
    # In a process of its own: tracemalloc counts every thread's allocations, and a test worker's
    # other threads (a session left draining by an earlier test) once made this 192 MiB.
    script = f"""import sys, tracemalloc
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
from tests.fast.test_record import read, signed
tracemalloc.start()
endless = (b"x" * (64 << 10) for _ in range(60))  # 3.75 MiB without a newline, written piece by piece
events, forged = read(endless, b"\\n", signed("gc.get_referrers"), b"y" * 1000)
print(list(events), forged, tracemalloc.get_traced_memory()[1])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    events, forged, peak = out[0], int(out[1]), int(out[2])
    assert events == "['gc.get_referrers']" and forged == 2  # the endless line and the unfinished one
    assert peak < 4 << 20, f"reading the record held {peak >> 20} MiB"


def test_no_frame_whose_callers_hold_the_secret_is_handed_out():
    """The audit hook, in a process of its own (a hook cannot be removed): code run below a function
    of the canary's that holds the secret (a gc callback, say) gets no frame of it by any route,
    even one read after it returned; frames below the kernel's other functions are torch's to read."""
    script = f"""import os, sys, types
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
from pathlib import Path
from grader.sandbox import canary, confine
read, write = os.pipe()
sys.addaudithook(confine._auditor(Path("/tmp"), write, b"k" * 16, vars(canary)))

def below(name, take):
    code = compile("def " + name + "(take):\\n    return take()\\n", "<canary>", "exec")
    namespace = vars(canary).copy()
    exec(code, vars(canary), namespace)
    return types.FunctionType(namespace[name].__code__, vars(canary), name)(take)

def kept():
    try:
        raise ZeroDivisionError
    except ZeroDivisionError as err:
        return err.__traceback__

for name in ("_formula", "primitive"):
    for route, take in (("getframe", lambda: sys._getframe(1)), ("traceback", kept)):
        try:
            got = below(name, take)  # sys._getframe is refused at once, the kept traceback's frame later
            got.tb_frame if route == "traceback" else got
            print(name, route, "handed")
        except PermissionError:
            print(name, route, "refused")
os.close(write)
print(os.read(read, 4096).decode().count("reaching the canary's"))  # two refusals, recorded
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["_formula getframe refused", "_formula traceback refused",
                                "primitive getframe handed", "primitive traceback handed", "2"], out


def test_no_audit_hook_of_the_submissions_is_added():
    """A hook runs wherever an event is raised, in the canary's own functions too (the profile
    function they set raises one), where a generator it resumed walked up to the secret."""
    script = f"""import os, sys
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
from pathlib import Path
from grader.sandbox import canary, confine
read, write = os.pipe()
sys.addaudithook(confine._auditor(Path("/tmp"), write, b"k" * 16, vars(canary)))
seen = []
sys.addaudithook(lambda event, args: seen.append(event))
sys.audit("grader.test")
os.close(write)
print(len(seen), os.read(read, 4096).decode().split()[0])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "sys.addaudithook"], out


def test_the_audit_hook_runs_no_code_of_the_submissions():
    """sys.audit takes any objects. A red team's str subclass, as the name of an "import", ran its
    __eq__ in the hook, walked up to the hook's frame and set the record's counts so that nothing more
    was recorded. The hook uses an argument only when its type is exactly one of Python's, or a copy
    of a str's or bytes's characters made by their own C code."""
    script = f"""import os, sys
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
from pathlib import Path
from grader.sandbox import canary, confine
read, write = os.pipe()
sys.addaudithook(confine._auditor(Path("/tmp"), write, b"k" * 16, vars(canary)))
ran = []

class Text(str):
    def __eq__(self, other):
        ran.append("__eq__")
        return str.__eq__(self, other)
    __hash__ = str.__hash__
    def startswith(self, *args):
        ran.append("startswith")
        return str.startswith(self, *args)
    def rstrip(self, *args):
        ran.append("rstrip")
        return str.rstrip(self, *args)
    def __contains__(self, other):
        ran.append("__contains__")
        return str.__contains__(self, other)

class Holder:
    def __getattr__(self, name):
        ran.append("__getattr__")
        raise AttributeError(name)

sys.audit("import", Text("grader.anything"))
sys.audit("open", Text("/proc/self/mem"), Text("w"), 0)
sys.audit("object.__getattr__", Holder(), Text("tb_frame"))
sys.audit("object.__getattr__", Holder(), "tb_frame")
sys.audit("sys._getframe", Holder())
sys.audit("sys.setprofile")
os.close(write)
print(sorted(set(ran)), [line.split()[0] for line in os.read(read, 4096).decode().splitlines() if line])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    # (a subclass's characters are still read, copied by str's own code: rt134's os.open of a str
    # subclass naming /proc/self/mem went unrecorded)
    assert out.strip() == "[] ['imported', 'opened', 'sys.setprofile']", out


def test_a_flood_past_the_lines_read_stops_the_reading_and_is_on_record(monkeypatch):
    # A red team's child wrote 64 KiB of newlines a call: checking each line (about a microsecond of
    # the grader's CPU, which no limit of the child's counts) cost 51 s of a core for a 10/10. Past
    # MAX_LINES, the grader stops reading (the writer's next write fails), and the flood is a way
    # towards the secret on the record (it blinds what follows).
    monkeypatch.setattr(RecordStream, "MAX_LINES", 1000)
    checked = []
    take = RecordStream._take
    monkeypatch.setattr(RecordStream, "_take", lambda self, line, key: (checked.append(line), take(self, line, key)))
    read_end, write_end = socket.socketpair()
    stream = RecordStream(read_end.makefile("rb"), KEY)
    read_end.close()
    write_end.sendall(signed("opened /tmp/x for writing") + b"\n" * 999)
    with pytest.raises(OSError):  # the grader closed its end
        for _ in range(1000):
            write_end.sendall(b"\n" * (1 << 16))
    write_end.close()
    events, forged = stream.recorded(wait=10)
    assert len(checked) == 1 and forged == 0  # (empty lines are the hook's separators, never checked)
    assert events == ("opened /tmp/x for writing",
                      f"{FLOODED} channel with more than 1,000 lines or 4 MiB: the grader stopped reading it")
    assert is_secret_route(events[-1])


def test_lines_up_to_the_limit_are_all_read(monkeypatch):
    monkeypatch.setattr(RecordStream, "MAX_LINES", 1000)
    events, forged = read(b"\n" * 998, signed("gc.get_objects"), b"x")
    assert events == ("gc.get_objects",) and forged == 1  # the unfinished line (empty ones are separators)


def test_a_byte_written_before_a_signed_line_cannot_turn_it_into_a_forged_one():
    # A red team wrote one byte into the channel before each heap search: the hook's line, glued
    # onto it, failed its check, and the search was on no record. The hook now begins each line
    # with a newline (confine.py); the empty lines that makes are not forged ones.
    events, forged = read(b"X", b"\n" + signed("gc.get_objects"), b"\n" + signed("sys._current_frames"))
    assert events == ("gc.get_objects", "sys._current_frames") and forged == 1


def test_an_endless_line_past_the_bytes_read_stops_the_reading(monkeypatch):
    # A line with no newline was read and dropped as it came, a core of the grader's as long as the
    # child wrote it (the lines' limit never counted it).
    monkeypatch.setattr(RecordStream, "MAX_BYTES", 1 << 20)
    read_end, write_end = socket.socketpair()
    stream = RecordStream(read_end.makefile("rb"), KEY)
    read_end.close()
    with pytest.raises(OSError):
        for _ in range(1000):
            write_end.sendall(b"A" * (1 << 16))
    write_end.close()
    events, _ = stream.recorded(wait=10)
    assert events == (f"{FLOODED} channel with more than 100,000 lines or 1 MiB: the grader stopped reading it",)


def test_forged_lines_are_a_way_towards_the_secret():
    assert is_secret_route(f"{FORGED_LINES} channel: 1")  # nothing but the submission writes them


class _Counted:
    """A pipe's reading end that counts its reads."""

    def __init__(self, fd: int) -> None:
        self.file, self.reads = os.fdopen(fd, "rb"), 0

    def read1(self, n: int) -> bytes:
        self.reads += 1
        return self.file.read1(n)

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


@pytest.mark.parametrize("stream", ["record", "stdout"])
def test_a_byte_a_write_costs_a_read_every_few_milliseconds_not_a_read_a_byte(stream):
    """A red team's child wrote its output, and its record, a byte a write: each byte was a read
    and a turn of the loop (81 MB of output cost 60 s of the grader's CPU, 4 MiB of record 10 s).
    After a short read each stream waits 10 ms for more to gather."""
    import time

    from grader.sandbox.session import STREAM_WAIT_S, CapturedStream

    read_end, write_end = os.pipe()
    pipe = _Counted(read_end)
    reader = RecordStream(pipe, KEY) if stream == "record" else CapturedStream(pipe, 1 << 16)
    started = time.monotonic()
    for _ in range(2000):
        os.write(write_end, b"\n" if stream == "record" else b"x")
        time.sleep(0.0001)
    os.close(write_end)
    if stream == "record":
        reader.recorded(wait=10)
    else:
        assert reader.text(wait=10)[1] == 2000
    assert pipe.reads <= (time.monotonic() - started) / STREAM_WAIT_S + 5, pipe.reads
    assert pipe.reads < 400, pipe.reads
