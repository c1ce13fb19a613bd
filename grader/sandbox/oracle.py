"""The canary's secret, grader side: the only place it lives while a submission runs.

The sandbox child's kernel for the exercise's primitive (sandbox/canary.py) asks, for the numbers it
is differentiating at, what to add to their true derivative: the secret's move on a call the grader
chose to be secret, zero on any other. The secret, and which calls are secret, stay in this process.
Before this, both lived in the child, guarded by what Python lets a process hide from itself; a red
team read them with numpy alone (an object whose __array_interface__ names any address), scored
10/10 with cos and left nothing in the record. No reading of the child's memory can find what is
not there.

What the child learns is only what any honest call of sin shows it: the derivative at numbers it
chose. To follow the secret at the grid's x, something must ask about x itself during that call,
which is autograd of the grader's sin (or the grader's operator, whose answer is the same).

Wire format, child to grader: one byte, CASE (a case's calls begin: take the next planned flags),
NEXT (the next planned call begins), REST (the call ended), or ASK followed by a 4-byte little-endian
count n <= PIECE and n float64s; the grader answers an ASK with n float64s. The child's harness
writes the markers and its kernel the asks; a submission can write any of them too (the socket is
in its process), and so only confuse its own calls: a move for x comes only from an ASK of x,
which is what the grader's operator, or autograd of its sin, makes (an ASK written by hand is the
operator called by hand, and gets the same verdict). A message that breaks the format, or answers
that took more than CPU_BUDGET_S of this thread's CPU in all, end the answering: the child's kernel
then gives NaN derivatives.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Sequence

import numpy as np

from grader.canary import Secret, secret_move

ASK, CASE, NEXT, REST = b"A", b"C", b"N", b"R"
PIECE = 1 << 16  # numbers per ask: the child asks about a larger tensor a piece at a time
# The CPU this thread may spend answering one submission. Its answers cost the grader 0.3-0.9 µs a
# number (more for huge numbers, whose sines reduce slowly), CPU the child's limits do not count (it
# waits for them at no cost of its own). An honest student who also computes sin on a plot's 100,000
# points in every call asks 25 million numbers in a run, about 9 s (a cap of 2^22 numbers made that
# NaN and 1/10); a flood costs the grader this much at most.
CPU_BUDGET_S = 30.0


class Oracle:
    """The grader's end of the secret's channel: a socket pair (not pipes: a child reopens a pipe's
    end through /proc, and pipes' pages count against one total per user), and a thread that
    answers the child. `channel` is the child's end, to hand to the child and then `release` here."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = ours
        self.channel = theirs.detach()
        self._plans: collections.deque[tuple[bool, ...]] = collections.deque()
        self._thread: threading.Thread | None = None
        self.answered = 0  # numbers answered so far
        self.cpu_s = 0.0  # this thread's CPU spent answering

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

    def expect(self, flags: Sequence[bool]) -> None:
        """The next case's calls, secret where `flags` say: called before its request is sent."""
        self._plans.append(tuple(flags))

    def close(self, wait: float = 1.0) -> None:
        """Stop answering: where the child is gone (or never started), the thread sees its end
        close; this process's own ends are closed by the thread, or here if it never ran."""
        self.release()
        if self._thread is None:
            self._socket.close()
        else:
            self._thread.join(wait)

    def _serve(self, secret: Secret) -> None:
        # A plain call's move is the same formula with b = 0: the same work either way, so the time
        # an answer takes tells nothing (tells_by_timing.py, which times autograd and answers with
        # cos where it was fast, scored 10/10 while a plain answer was zeros at once).
        plain = dataclasses.replace(secret, b=0.0)
        flags: list[bool] = []
        secret_now = False
        with self._socket, self._socket.makefile("rb") as asks, contextlib.suppress(OSError):
            # (OSError: the child is gone, perhaps with asks unread, which resets the connection)
            while op := asks.read(1):
                if op == CASE:
                    flags, secret_now = list(self._plans.popleft()) if self._plans else [], False
                elif op == NEXT:
                    secret_now = flags.pop(0) if flags else False
                elif op == REST:
                    secret_now = False
                elif op == ASK:
                    count = int.from_bytes(asks.read(4), "little")
                    if count > PIECE or self.cpu_s > CPU_BUDGET_S:
                        return
                    raw = asks.read(8 * count)
                    if len(raw) != 8 * count:
                        return
                    began = time.thread_time()
                    move = _move(np.frombuffer(raw, dtype="<f8"), secret if secret_now else plain)
                    self.answered += count
                    self.cpu_s += time.thread_time() - began
                    self._socket.sendall(move)
                else:
                    return


def _move(u: np.ndarray, secret: Secret) -> bytes:
    with np.errstate(all="ignore"):  # a number that is not finite moves by NaN, and says nothing here
        return np.asarray(secret_move(u, secret, np), dtype="<f8").tobytes()
