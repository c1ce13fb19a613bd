"""The child's threads, counted by the grader where no cgroup bounds them.

A child can make no process (seccomp refuses every clone without CLONE_THREAD), only threads, and
a cgroup's pids.max bounds them at cgroup.PIDS. Where the host gives no cgroup (a read-only
cgroupfs, as in Docker; a cgroup v2 session without delegation), RLIMIT_NPROC bounds a child that
drops to nobody, but the kernel exempts uid 0 from it, and a child that keeps uid 0 (root's own
Python, which nobody may read) had no bound at all: a red team's held 10,000 threads and 162 MB of
kernel stacks for its whole grade at 10/10, and could have taken every pid on the host. So the
grader reads how many threads the child runs, often, and stops it past MAX_THREADS.

A child that starts threads as fast as it can (10,000 a second there) gets a few hundred past the
limit before the next look; each costs the host a pid and a kernel stack until the child is killed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from grader.sandbox.cgroup import PIDS


class ThreadWatch:
    """Reads how many threads `pid` runs every INTERVAL_S and calls `stop` once it is more than
    MAX_THREADS, with `exceeded` and `allowed` saying why. One read of /proc/PID/status a look
    (about 20 us): a two-thousandth of a core."""

    INTERVAL_S = 0.02
    MAX_THREADS = PIDS

    def __init__(self, pid: int, stop: Callable[[], None]) -> None:
        self.exceeded = ""  # why the child was stopped, once it was
        self.allowed = f"{self.MAX_THREADS} processes and threads"
        self._status = f"/proc/{pid}/status"
        self._stop = stop
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(self.INTERVAL_S):
            threads = thread_count(self._status)
            if threads is None:  # it has ended
                return
            if threads > self.MAX_THREADS and not self._done.is_set():
                self.exceeded = f"running more than {self.MAX_THREADS} threads"
                self._stop()
                return

    def close(self) -> None:
        self._done.set()


def thread_count(status: str) -> int | None:
    """The "Threads:" line of a /proc/PID/status (None where the process has ended)."""
    try:
        with open(status, "rb") as file:
            text = file.read()
    except OSError:
        return None
    for line in text.split(b"\n"):
        if line.startswith(b"Threads:"):
            return int(line.split()[1])
    return None
