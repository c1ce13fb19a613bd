"""The canary's secret, grader side: the only place it lives while a submission runs.

The sandbox child's kernel for the exercise's primitive (sandbox/canary.py) asks, for the numbers it
is differentiating at, what to add to their true derivative: the secret's move on a call the grader
chose to be secret, for the numbers within float32's rounding of those the reference differentiates
the primitive at for that call's input (its targets: x for sin, x² for cos(x²)); zero on any other
call or number. The secret, and which calls are secret, stay in this process. (The secret moved
every number asked once: a red team asked about 0.5 to tell a secret call from a plain one, and
another took a table of the secret over sin_cos_norm's whole range in one secret call.)
Before this, both lived in the child, guarded by what Python lets a process hide from itself; a red
team read them with numpy alone (an object whose __array_interface__ names any address), scored
10/10 with cos and left nothing in the record. No reading of the child's memory can find what is
not there.

What the child learns is only what any honest call of sin shows it: the derivative at numbers it
chose. To follow the secret at the grid's x, something must ask about x itself during that call,
which is autograd of the grader's sin (or the grader's operator, whose answer is the same).

Wire format, child to grader: asks only, each a header of three little-endian 4-byte numbers, n <= PIECE,
the case and the call (the case's id, a random number `expect` gave the grader and the case's request
gave the child, and the index of the planned call within it), then n float64s; the grader answers
with n float64s, the move for each number, with the secret if that call is planned secret (an id
never planned or already answered, or an index past the plan's calls, is plain). The child's
kernel writes them, and only inside a planned call; a submission can write them too (the socket is
in its process), naming any call of a case in flight whose id it has learned, and so only learn
what asking inside that call tells it:
a move for x comes only from an ask of x, which is what the grader's operator, or autograd of its
sin, makes (an ask written by hand is the operator called by hand, and gets the same verdict).
Nothing else crosses: a case, a call's start and its end are noted in the child and ride on its
asks (the markers they once were cost two writes and two of this thread's wake-ups a call). A
message that breaks the format, or answers that took more than CPU_BUDGET_S of this thread's CPU in
all, end the answering: the child's kernel then gives NaN derivatives.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from grader.canary import Secret, secret_term

HEADER = struct.Struct("<III")  # numbers, case, call
PIECE = 1 << 16  # numbers per ask: the child asks about a larger tensor a piece at a time
# The CPU this thread may spend answering one submission. Its answers cost the grader 0.6-1.4 µs a
# number not asked before (0.3 of it the grain's SipHash; more for huge numbers, whose sines reduce
# slowly), CPU the child's limits do not count (it waits for them at no cost of its own). An honest
# student who also computes sin on a plot's 100,000 points in every call asks 25 million numbers in a
# run: the same points again are kept answers, and all of them fresh would take about 16 s (a cap of
# 2^22 numbers made that NaN and 1/10); a flood costs the grader this much at most. All of the
# thread's CPU counts, reading and sending included: a red team's flood of empty asks cost 3 µs
# each, of which only the formula's 1 µs was counted, and took 68 s of a core before its answers
# stopped. An empty ask is refused (the kernel never makes one).
CPU_BUDGET_S = 30.0
# The memory kept for numbers asked again (a case's three or four calls ask about the same numbers;
# a plot's grid asked in every call, the same each time): past this, all is forgotten. An entry costs
# its key and its term, and about ENTRY_BYTES of Python objects and dict slot besides: counted by
# numbers alone, a red team's million asks of one number each held 250 MB of the grader's memory.
KEPT_BYTES = 16 << 20
ENTRY_BYTES = 256
# An ask covers a number the reference differentiates the primitive at (a case's target, expect)
# within the case's reach for it (probe._targets: the rounding float32 arithmetic may give that
# number, with room to spare, never more than a tenth of the secret's float32 grain step) and this
# floor (float32's subnormal steps, where x² underflows): float32's rounding of x, of a computed x²
# or of a norm's sum, not another number (-x, x + 2π, x in degrees, a grid's neighbour of x).
ASKED_FLOOR = 1e-44


class _Watch(NamedTuple):
    """A case's targets, each within its reach, watched for the child's asks."""

    targets: np.ndarray
    reach: np.ndarray
    covered: list[np.ndarray]  # per call, which targets an ask during that call came within reach of
    # Where its secret lives: the lower ends of the reaches, sorted, and the largest upper end up to
    # each (a number lies within some reach if the last lower end below it has an upper end at or
    # above it).
    lows: np.ndarray
    highs: np.ndarray


class Oracle:
    """The grader's end of the secret's channel: a socket pair (not pipes: a child reopens a pipe's
    end through /proc, and pipes' pages count against one total per user), and a thread that
    answers the child. `channel` is the child's end, to hand to the child and then `release` here."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = ours
        self.channel = theirs.detach()
        self._plans: dict[int, tuple[bool, ...]] = {}  # case id -> which of its calls are secret
        self._asked: dict[int, _Watch] = {}  # case id -> its targets, watched for asks (expect)
        self._terms: dict[bytes, np.ndarray] = {}  # the asked numbers' bytes -> their secret_term
        self._kept = 0
        self._thread: threading.Thread | None = None
        self.answered = 0  # numbers answered so far
        self.cpu_s = 0.0  # this thread's CPU so far: reading asks, working out and sending answers

    def release(self) -> None:
        """Close this process's copy of the child's end (once the child holds it): the thread then
        sees the child's end close when the child does."""
        if self.channel >= 0:
            with contextlib.suppress(OSError):
                os.close(self.channel)
        self.channel = -1

    def start(self, secret: Secret) -> None:
        """Answer the child from now on, with `secret` on the calls `expect` plans secret."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, args=(secret,), daemon=True)
            self._thread.start()

    def expect(self, flags: Sequence[bool], targets: np.ndarray | None = None,
               reach: np.ndarray | float = 0.0) -> int:
        """A case whose calls are secret where `flags` say, before its request is sent: the case's
        id, for the request (the child's asks in its calls name it). `targets`: the numbers the
        reference differentiates the primitive at for its input, whose asks (each within its
        `reach`, and ASKED_FLOOR) each call is watched for (forget says which
        calls asked about them all)."""
        while (case := secrets.randbits(32)) in self._plans:
            pass
        self._plans[case] = tuple(flags)
        if targets is not None:
            targets = np.asarray(targets, dtype=np.float64).ravel()
            with np.errstate(all="ignore"):
                reach = np.asarray(reach, dtype=np.float64) + ASKED_FLOOR
            kept = np.isfinite(targets) & np.isfinite(reach)
            targets, reach = targets[kept], reach[kept]
            order = np.argsort(targets - reach, kind="stable")
            self._asked[case] = _Watch(targets, reach, [np.zeros(targets.size, dtype=bool) for _ in flags],
                                       (targets - reach)[order], np.maximum.accumulate((targets + reach)[order])
                                       if targets.size else np.zeros(0))
        return case

    def forget(self, case: int) -> tuple[bool, ...]:
        """The case `case` has been answered: asks naming it from now on are plain (a call that has
        returned asks nothing), and the plans kept stay as few as the cases in flight. Which of its
        calls asked about every one of its targets, during the call (() where none were given).
        Every ask the canary's kernel makes waits for its answer, and is counted before it is sent."""
        self._plans.pop(case, None)
        asked = self._asked.pop(case, None)
        return () if asked is None else tuple(bool(covered.all()) for covered in asked.covered)

    def close(self, wait: float = 1.0) -> None:
        """Stop answering: where the child is gone (or never started), the thread sees its end
        close; this process's own ends are closed by the thread, or here if it never ran."""
        self.release()
        if self._thread is None:
            self._socket.close()
        else:
            self._thread.join(wait)

    def _serve(self, secret: Secret) -> None:
        # A plain call's move is the same term times 0, not zeros at once: the same work either way,
        # so the time an answer takes tells nothing (tells_by_timing.py, which times autograd and
        # answers with cos where it was fast, scored 10/10 while a plain answer was zeros at once).
        # A kept term answers faster, for plain and secret calls alike: it tells only that these
        # numbers were asked before, or are a planned input's (Secret.keep_terms), which the child
        # knows.
        started = time.thread_time()
        with self._socket, self._socket.makefile("rb") as asks, contextlib.suppress(OSError):
            # (OSError: the child is gone, perhaps with asks unread, which resets the connection)
            while len(header := asks.read(HEADER.size)) == HEADER.size:
                count, case, call = HEADER.unpack(header)
                if not 0 < count <= PIECE or self.cpu_s > CPU_BUDGET_S:
                    return
                raw = asks.read(8 * count)
                if len(raw) != 8 * count:
                    return
                flags = self._plans.get(case, ())
                factor = secret.b if call < len(flags) and flags[call] else 0.0
                numbers = np.frombuffer(raw, dtype="<f8")
                watched = self._asked.get(case)
                if watched is None:  # (no targets given: the move for every number asked)
                    move = self._term(raw, secret) * factor
                else:
                    move = np.zeros(count, dtype="<f8")
                    if call < len(watched.covered):
                        _cover(watched.targets, watched.reach, watched.covered[call], numbers)
                    # The move only where the case's targets are, worked out only there, for plain
                    # calls too (the same work either way). Worked out for every number asked, an
                    # honest file that also took sin of a 1.2-million-point plot in every call spent
                    # this thread's CPU in 25 calls, and was then told it guessed at the grader's
                    # calls (1/10).
                    near = _within(watched.lows, watched.highs, numbers)
                    if near.any():
                        move[near] = self._term(numbers[near].tobytes(), secret) * factor
                self._socket.sendall(move.astype("<f8", copy=False).tobytes())
                self.answered += count
                self.cpu_s = time.thread_time() - started

    def _term(self, raw: bytes, secret: Secret) -> np.ndarray:
        term = self._terms.get(raw)
        if term is None:
            with np.errstate(all="ignore"):  # a number that is not finite moves by NaN, and says nothing here
                term = np.asarray(secret_term(np.frombuffer(raw, dtype="<f8"), secret, np), dtype="<f8")
            cost = len(raw) + term.nbytes + ENTRY_BYTES
            if self._kept + cost > KEPT_BYTES:
                self._terms.clear()
                self._kept = 0
            self._terms[raw] = term
            self._kept += cost
        return term


def _cover(targets: np.ndarray, reach: np.ndarray, covered: np.ndarray, numbers: np.ndarray) -> None:
    """Mark the targets that one of `numbers` lies within its reach of. Numbers that are not finite
    cover none: an ask of -inf once covered every target (-inf + its reach, inf, is NaN, which
    searchsorted puts past every number), and a red team's asks at [0.5, -inf] told the grader's
    calls apart on every call, with cos(x) on the plain ones (10/10)."""
    if not targets.size:
        return
    numbers = np.sort(numbers[np.isfinite(numbers)])
    if not numbers.size:
        return
    low = np.searchsorted(numbers, targets - reach, "left")
    high = np.searchsorted(numbers, targets + reach, "right")
    covered |= low < high


def _within(lows: np.ndarray, highs: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Which of `numbers` lie within some target's reach: `lows`, the reaches' lower ends sorted,
    and `highs`, the largest upper end among those up to each (Oracle.expect). NaN lies in none."""
    if not lows.size:
        return np.zeros(numbers.shape, dtype=bool)
    last = np.searchsorted(lows, numbers, "right") - 1
    return (last >= 0) & (numbers <= highs[np.maximum(last, 0)])

