"""The child's threads, counted by the grader.

A child can make no process (seccomp refuses every clone without CLONE_THREAD), only threads, and
a cgroup's pids.max bounds them at cgroup.PIDS. Where the host gives no cgroup (a read-only
cgroupfs, as in Docker; a cgroup v2 session without delegation), RLIMIT_NPROC bounds a child that
drops to nobody, but the kernel exempts uid 0 from it, and a child that keeps uid 0 (root's own
Python, which nobody may read) had no bound at all: a red team's held 10,000 threads and 162 MB of
kernel stacks for its whole grade at 10/10, and could have taken every pid on the host. So the
grader reads how many threads the child runs, often, and stops it past MAX_THREADS.

With a cgroup too, below its pids.max: there the kernel refused a thread past the limit, and an
honest file that leaked two timer threads a call raised on one call of an input and scored 1/10,
where without a cgroup the watch stopped it at 7.51 (a red team). So the session looks at every
reply (look), past MAX_THREADS: a file stops at the same reply on either host, same file, same
score. Between replies the watch's own thread looks every INTERVAL_S for a burst past pids.max
(BURST), which no cgroup refused; a look between replies at MAX_THREADS would stop a leaking file
at a moment that depends on timing.

A child that starts threads as fast as it can (10,000 a second there) gets a few hundred past the
limit before the next look; each costs the host a pid and a kernel stack until the child is killed.

Where no cpu cgroup bounds the child (cgroup.CPU_QUOTA_US), the watch's thread also keeps it to one
CPU's time on average, as the quota would: past CPU_BURST_S more than that, it pauses the child
(SIGSTOP, through a pidfd) until the time has caught up. The kernel shares a CPU between threads,
not processes: rt165's child spinning 150 threads outside the GIL, with no cgroup at all, took both
cores of a batch, and a classmate graded beside it timed out (10/10 made 1.77).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from grader.sandbox.cgroup import PIDS
from grader.sandbox.pause import Pauses


class ThreadWatch:
    """Reads how many threads `pid` runs, at every reply (look) and every INTERVAL_S, and calls
    `stop` once it is more than MAX_THREADS at a reply, or more than BURST at any time, with
    `exceeded` and `allowed` saying why. One read of /proc/PID/status a look (about 20 us)."""

    INTERVAL_S = 0.02
    # Room below pids.max for what a child starts between two looks (a thread a millisecond, in a
    # test, got past 8 of room), for the holder of a forked child (it shares the cgroup) and torch's own.
    MAX_THREADS = PIDS - 64
    BURST = PIDS
    LOOK_EVERY = 8  # replies: two reads at each of a submission's ~250 cost 10 ms of the worker's CPU

    LAYER = f"threads counted by the grader ({MAX_THREADS})"
    CPU_SHARE = 1.0  # CPUs a child may keep busy on average where no cpu cgroup bounds it
    CPU_BURST_S = 0.2  # of CPU time past that share before it is paused
    CPU_LAYER = "one CPU at most (paused by the grader past it)"

    def __init__(self, pid: int, stop: Callable[[], None], refused: Callable[[], bool] | None = None,
                 cpu_bounded: bool = True, pauses: Pauses | None = None) -> None:
        """`refused`: whether the kernel has refused the child a thread (its cgroup's pids.max): a
        child that starts threads faster than the looks get past MAX_THREADS meets that first.
        Without it (no cgroup) the watch's own thread looks for a burst too; with it pids.max
        bounds one, and that thread cost a batch worker 10-20 ms of CPU per submission.
        Without `cpu_bounded` (no cpu cgroup), that thread also keeps the child to CPU_SHARE, pausing
        it through `pauses` (where another watch pauses it too)."""
        self.exceeded = ""  # why the child was stopped, once it was
        self.allowed = f"{self.MAX_THREADS} threads"
        self.paused_s = 0.0  # how long it was paused for its CPU time
        self._pid, self._status = pid, f"/proc/{pid}/status"
        self._stop, self._refused = stop, refused or (lambda: False)
        self._replies = 0
        self._done = threading.Event()
        self._own = pauses is None and not cpu_bounded
        self._pauses = None if cpu_bounded else pauses or Pauses(pid)
        if self._pauses is not None and not self._pauses.possible:
            self._pauses = None
        if refused is None or self._pauses is not None:
            threading.Thread(target=self._watch, args=(refused is None,), daemon=True).start()

    # Page tables, which no limit of the process counts (a cgroup charges them to the child): a red
    # team's 64,000 mappings of a page each, 1 GiB apart, held 513 MB of them within 928 MB of address
    # space, and a child filling the rest of its limit took 4.2 GiB from the host at 10/10. A torch
    # child with 500 MB of tensors keeps about 2 MiB.
    MAX_PAGE_TABLES_KIB = 64 << 10

    def _watch(self, bursts: bool) -> None:
        try:
            self._watching(bursts)
        finally:
            if self._own and self._pauses is not None:
                self._pauses.close()

    def _watching(self, bursts: bool) -> None:
        started, spent = time.monotonic(), _cpu_s(self._pid)
        while not self._done.wait(self.INTERVAL_S):
            if self._pauses is not None and spent is not None:
                self._share(started, spent)
            if not bursts:
                continue
            fields = self._fields()
            if self._past(fields[0], self.BURST, at_a_reply=False) is not False:  # (None: it has ended)
                return
            tables = fields[1]
            if tables is not None and tables > self.MAX_PAGE_TABLES_KIB and not self._done.is_set():
                self.exceeded = f"keeping more than {self.MAX_PAGE_TABLES_KIB >> 10} MiB of page tables"
                self.allowed = (f"{self.MAX_PAGE_TABLES_KIB >> 10} MiB of page tables, which its memory limit "
                                "cannot count")
                self._stop()
                return

    def _share(self, started: float, spent: float) -> None:
        """Pause the child while it is past CPU_SHARE since `started` (with `spent` then) by more than
        CPU_BURST_S, as a cpu cgroup's quota throttles it."""
        now = _cpu_s(self._pid)
        if now is None or self._pauses is None:
            return
        over = (now - spent) - (time.monotonic() - started) * self.CPU_SHARE - self.CPU_BURST_S
        if over <= 0 or not self._pauses.hold():  # (not: it has ended)
            return
        try:
            self._done.wait(over / self.CPU_SHARE)
        finally:
            self._pauses.release()
        self.paused_s += over / self.CPU_SHARE

    def _fields(self) -> tuple[int | None, ...]:
        """Threads and VmPTE, from a thread that has not exited. A main thread that exits alone
        (SYS_exit, the others going on) is a zombie that keeps the process's folder without its
        memory: its status has no VmPTE, and a red team's child held 480 MB of page tables behind it
        for 40 s at 10/10. Any live thread's status shows the process's. (None: the process has ended.)"""
        fields = status_fields(self._status, (b"Threads:", b"VmPTE:"))
        if fields[1] is not None:
            return fields
        for task in _tasks(self._pid):
            status = f"/proc/{self._pid}/task/{task}/status"
            found = status_fields(status, (b"Threads:", b"VmPTE:"))
            if found[1] is not None:
                self._status = status  # (read first from now on; another is found when it exits)
                return found
        return status_fields(f"/proc/{self._pid}/status", (b"Threads:", b"VmPTE:"))

    def look(self) -> bool:
        """Whether the child, at every LOOK_EVERY-th reply (the same ones on every run), runs more
        than MAX_THREADS or was refused one (then it is stopped)."""
        self._replies += 1
        return self._replies % self.LOOK_EVERY == 1 and \
            bool(self._past(thread_count(self._status), self.MAX_THREADS, at_a_reply=True))

    def _past(self, threads: int | None, most: int, at_a_reply: bool) -> bool | None:
        """Whether `threads` (None: the child has ended) is past `most`, or the kernel refused one."""
        if threads is None:
            return None
        if (threads > most or (at_a_reply and self._refused())) and not self._done.is_set():
            self.exceeded = f"running more than {self.MAX_THREADS} threads"
            self._stop()
            return True
        return False

    def close(self) -> None:
        self._done.set()


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """The CPU time all of the process's threads have used (user and system), None once it has ended."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * _TICK_S
    except (OSError, IndexError, ValueError):
        return None


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def thread_count(status: str) -> int | None:
    """The "Threads:" line of a /proc/PID/status (None where the process has ended)."""
    return status_fields(status, (b"Threads:",))[0]


def status_fields(status: str, names: tuple[bytes, ...]) -> tuple[int | None, ...]:
    """The numbers on the lines `names` of a /proc/PID/status, in one read (None where the process
    has ended, or has no such line: a kernel thread has no VmPTE)."""
    found: dict[bytes, int] = {}
    try:
        with open(status, "rb") as file:
            text = file.read()
    except OSError:
        return tuple(None for _ in names)
    for line in text.split(b"\n"):
        name = line.split(b"\t", 1)[0]
        if name in names:
            found[name] = int(line.split()[1])
    return tuple(found.get(name) for name in names)
