"""The grader's oracle alone, spoken to as a hostile child would: what a flood of asks can cost the
grader's process (its memory, its CPU), which the child's own limits never count."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import sys
import threading
from pathlib import Path

import numpy as np

from grader.canary import Secret
from grader.sandbox import oracle

SECRET = Secret.draw(random.Random(7))


def _flood(channel: socket.socket, asks: list[bytes], batch: int = 2000) -> bool:
    """Write the asks `batch` at a time and read every answer; False once the oracle hangs up."""
    for start in range(0, len(asks), batch):
        part = asks[start:start + batch]
        try:
            channel.sendall(b"".join(part))
        except OSError:
            return False
        want = sum(8 * oracle.HEADER.unpack(a[:oracle.HEADER.size])[0] for a in part)
        got = 0
        while got < want:
            try:
                read = channel.recv(min(want - got, 1 << 20))
            except OSError:  # (reset: the oracle hung up with asks unread)
                return False
            if not read:
                return False
            got += len(read)
    return True


def _ask(numbers: np.ndarray) -> bytes:
    return oracle.HEADER.pack(numbers.size, 1, 0) + numbers.astype("<f8").tobytes()


def test_answers_kept_for_asks_of_one_number_each_hold_little_of_the_graders_memory(monkeypatch):
    """A red team's million asks of one number each, all different, held 250 MB of the grader's
    memory while the kept answers were counted by numbers (1 << 20 of them): an entry costs Python
    objects and a dict slot besides. Counted in bytes with that overhead, what is kept (measured
    object by object) stays within KEPT_BYTES."""
    monkeypatch.setattr(oracle, "KEPT_BYTES", 1 << 20)
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    try:
        for numbers in np.array_split(np.linspace(-1e3, 1e3, 20_000), 10):
            assert _flood(channel, [_ask(np.array([u])) for u in numbers])
        kept = dict(served._terms)  # (the thread waits for the next ask: nothing changes it now)
    finally:
        channel.close()
        served.close()
    assert served.answered == 20_000
    held = sys.getsizeof(kept) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in kept.items())
    # (Counted by numbers, as before, all 20,000 were kept: 4.5 MB of objects.)
    assert 0 < held <= oracle.KEPT_BYTES, held


def test_the_cpu_budget_counts_all_the_oracles_work_reading_included(monkeypatch):
    """The budget is the thread's whole CPU: asks of one number asked again and again (the kept
    answer, the cheapest to compute) cost more in reading and sending than in working out, and a
    red team's flood ran the grader 2.3 times past a budget that timed the formula only."""
    monkeypatch.setattr(oracle, "CPU_BUDGET_S", 0.3)
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    thread = served._thread
    assert thread is not None and thread.native_id is not None
    stat = Path(f"/proc/self/task/{thread.native_id}/stat")
    tick = os.sysconf("SC_CLK_TCK")
    seen = 0.0  # the thread's CPU, last read while it still answered
    ask = _ask(np.array([0.5]))
    try:
        for _ in range(10_000):
            if not _flood(channel, [ask] * 2000):
                break
            fields = stat.read_text().rsplit(")", 1)[1].split()
            seen = (int(fields[11]) + int(fields[12])) / tick
        else:
            raise AssertionError("the oracle never stopped answering")
    finally:
        channel.close()
        served.close()
    assert not thread.is_alive()
    assert seen <= oracle.CPU_BUDGET_S + 0.05, seen


def test_no_thread_is_left_when_the_child_never_reads_its_answers():
    """A child that asks and never reads blocks the oracle's thread in sending; its end closing
    (the child killed) ends the thread."""
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    big = _ask(np.linspace(-1, 1, oracle.PIECE))
    def write() -> None:
        with contextlib.suppress(OSError):  # (its end closed under it, below)
            for _ in range(8):
                channel.sendall(big)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(0.5)
    channel.shutdown(socket.SHUT_RDWR)
    channel.close()
    served.close(wait=5.0)
    assert served._thread is not None and not served._thread.is_alive()


def test_a_case_once_answered_is_plain_to_every_later_ask():
    """The grader forgets a case's plan once its reply is in: a submission that learned the id
    cannot ask the secret's move under it later (from the plot's call, say), and the plans kept are
    only those of the cases in flight."""
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    x = np.linspace(-3, 3, 16)
    try:
        case = served.expect((True,))
        channel.sendall(oracle.HEADER.pack(x.size, case, 0) + x.astype("<f8").tobytes())
        moved = np.frombuffer(channel.recv(8 * x.size, socket.MSG_WAITALL), dtype="<f8")
        served.forget(case)
        channel.sendall(oracle.HEADER.pack(x.size, case, 0) + x.astype("<f8").tobytes())
        later = np.frombuffer(channel.recv(8 * x.size, socket.MSG_WAITALL), dtype="<f8")
    finally:
        channel.close()
        served.close()
    assert np.abs(moved).min() >= 0.15 and not later.any()
    assert served._plans == {}


def test_each_call_is_told_whether_it_asked_about_every_number_of_its_input():
    """A red team asked about a number of its own (0.5) to tell the secret call apart, returned
    cos(x) on plain calls and asked about x only on secret ones: 10/10. The oracle now says which
    calls asked about every target (the numbers the reference takes the primitive at), within
    float32's rounding of a computed x², and not at other numbers (-x, x + 2π)."""
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    x = np.linspace(-3, 3, 16)

    def ask(case: int, call: int, numbers: np.ndarray) -> None:
        channel.sendall(oracle.HEADER.pack(numbers.size, case, call) + numbers.astype("<f8").tobytes())
        channel.recv(8 * numbers.size, socket.MSG_WAITALL)

    try:
        case = served.expect((False, False, True, False, False), x, 1e-7 * np.abs(x))
        ask(case, 0, np.array([0.5, -np.inf, np.nan]))  # a probe only (-inf once covered every target)
        ask(case, 1, x[:8])  # half of x, then the other half in float32's rounding
        ask(case, 1, x[8:].astype(np.float32).astype(np.float64))
        ask(case, 2, x)
        ask(case, 3, x + 2 * np.pi)  # other numbers than x
        ask(case, 4, x + 1e-4)  # a grid's neighbours of x (a flat reach of 1e-4 counted them)
        asked = served.forget(case)
        ask(served.expect((True,)), 0, x)  # (no targets given: nothing kept)
    finally:
        channel.close()
        served.close()
    assert asked == (False, True, True, False, False)
    assert served._asked == {}


def test_the_secret_lives_only_at_the_numbers_of_the_calls_input():
    """The secret's move comes only for numbers within rounding of the case's targets: autograd or
    the grader's operator anywhere else gives the true derivative on every call. A red team asked
    about 0.5 to tell the secret call apart and returned cos(x) on the others; on log_sin, whose
    formula itself runs sin at x, asking about x came free with the formula (10/10)."""
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    x = np.linspace(-3, 3, 16)

    def ask(case: int, call: int, numbers: np.ndarray) -> np.ndarray:
        channel.sendall(oracle.HEADER.pack(numbers.size, case, call) + numbers.astype("<f8").tobytes())
        return np.frombuffer(channel.recv(8 * numbers.size, socket.MSG_WAITALL), dtype="<f8")

    try:
        case = served.expect((True, False), x, 1e-7 * np.abs(x))
        at_x = ask(case, 0, x)
        in_float32 = ask(case, 0, x.astype(np.float32).astype(np.float64))
        elsewhere = ask(case, 0, np.array([0.5, -np.inf, np.nan, np.inf]))
        beside = ask(case, 0, x + 1e-4)
        plain = ask(case, 1, x)
        served.forget(case)
        unwatched = ask(served.expect((True,)), 0, np.array([0.5]))  # (no targets given: moved anywhere)
    finally:
        channel.close()
        served.close()
    assert np.abs(at_x).min() >= 0.15 and np.abs(in_float32).min() >= 0.15
    assert not elsewhere.any() and not beside.any() and not plain.any()
    assert abs(unwatched[0]) >= 0.15


def test_the_reach_of_an_ask_is_rounding_and_never_a_grain_step():
    """How near an ask must come to count (and to get the secret): float32's rounding of the number
    and a little more, never a tenth of the float32 grain step or wider. A red team found sin's reach
    at |x| = 1000 wider than a grain step (a relative term added past the cap) and covered any
    input with a fixed grid when the reach was a flat tenth of a step."""
    from grader import exercise, grids, probe
    from grader.canary import grain_size

    sin = exercise.load("sin")
    case = grids.GridCase(np.array([1e-3, 0.5, -3.0, 1000.0]), "float32", "cpu", "plain", "explicit")
    targets, reach = probe._targets(sin, case)
    step = 1 / grain_size(sin.tolerances)[0][0]
    assert np.array_equal(targets, case.values)
    assert np.all(reach <= 0.1 * step) and reach[-1] == 0.1 * step
    assert np.all(reach[:3] < 2e-5 * np.abs(targets[:3]))  # rounding, not a step
    assert np.all(reach >= 2 ** -24 * np.abs(targets))  # float32's rounding of x itself is within


def test_the_secret_is_worked_out_only_near_the_cases_targets(monkeypatch):
    """A red team's honest file that also took sin of a 1.2-million-point plot curve in every call
    spent the oracle's whole CPU budget in 25 calls (the secret's term was worked out for every number
    asked, then masked), after which its derivatives were NaN and it was told it guessed at the
    grader's calls: 1/10. The term is now worked out only where the case's targets are, on plain and
    secret calls alike (the same work either way)."""
    worked: list[int] = []
    real = oracle.secret_term
    monkeypatch.setattr(oracle, "secret_term", lambda u, *args: worked.append(np.size(u)) or real(u, *args))
    served = oracle.Oracle()
    served.start(SECRET)
    channel = socket.socket(fileno=served.channel)
    served.channel = -1
    x = np.linspace(-3, 3, 16)
    curve = np.concatenate([np.linspace(-10, 10, 50_000), x])  # a plot's points, and x among them

    def ask(case: int, call: int, numbers: np.ndarray) -> np.ndarray:
        channel.sendall(oracle.HEADER.pack(numbers.size, case, call) + numbers.astype("<f8").tobytes())
        return np.frombuffer(channel.recv(8 * numbers.size, socket.MSG_WAITALL), dtype="<f8")

    try:
        case = served.expect((True, False), x, 1e-7 * np.abs(x))
        secret_call, plain_call = ask(case, 0, curve), ask(case, 1, curve)
    finally:
        channel.close()
        served.close()
    assert np.abs(secret_call[-16:]).min() >= 0.15 and not secret_call[:50_000].any() and not plain_call.any()
    assert worked and max(worked) <= 32, worked  # x and the few curve points within its reach, not 50,016
