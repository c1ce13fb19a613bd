"""The child's threads, counted by the grader, and the child stopped a little below what pids.max
allows (where there is no cgroup, nothing else bounds a child that keeps uid 0)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.sandbox.threads import ThreadWatch, thread_count

MANY = """
import threading, time
gate = threading.Event()
for _ in range({threads}):
    threading.Thread(target=gate.wait, daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def _running(threads: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", MANY.format(threads=threads)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return process


def test_a_child_running_more_threads_than_a_cgroup_allows_is_stopped():
    """A red team's child that kept uid 0 (RLIMIT_NPROC exempts root) held 10,000 threads for its
    whole grade at 10/10 where the host gave no cgroup: past pids.max, stopped between replies."""
    many = _running(ThreadWatch.BURST + 10)
    try:
        stopped = threading.Event()
        watch = ThreadWatch(many.pid, stopped.set)
        assert stopped.wait(5)
        assert watch.exceeded == f"running more than {ThreadWatch.MAX_THREADS} threads"
        assert watch.allowed == f"{ThreadWatch.MAX_THREADS} threads"
    finally:
        many.kill()
        many.wait()


def test_past_the_threads_it_may_run_a_child_is_stopped_at_a_reply_not_between():
    """Where the watch's own looks decide only past pids.max, a file that leaks threads stops at the
    same reply on every host and every run (same file, same score)."""
    leaks = _running(ThreadWatch.MAX_THREADS + 10)
    try:
        stopped = threading.Event()
        watch = ThreadWatch(leaks.pid, stopped.set)
        assert not stopped.wait(0.3)  # between replies: no look stops it
        assert watch.look() and stopped.is_set()  # (the first reply is looked at, then every LOOK_EVERY-th)
        assert watch.exceeded == f"running more than {ThreadWatch.MAX_THREADS} threads"
    finally:
        leaks.kill()
        leaks.wait()


def test_a_child_within_the_bound_runs_on_and_an_ended_one_ends_the_watch():
    few = _running(ThreadWatch.MAX_THREADS - 20)
    try:
        assert thread_count(f"/proc/{few.pid}/status") == ThreadWatch.MAX_THREADS - 19  # and the main thread
        stopped = threading.Event()
        watch = ThreadWatch(few.pid, stopped.set)
        assert not stopped.wait(0.3) and not watch.look() and watch.exceeded == ""
    finally:
        few.kill()
        few.wait()
    time.sleep(0.1)
    assert thread_count(f"/proc/{few.pid}/status") is None and not stopped.is_set()
    watch.close()


SPARSE = """
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
for i in range({pages}):  # a page each, 1 GiB apart: a page table and its directory for every one
    at = libc.mmap((1 << 40) + (i << 30), 4096, 3, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    ctypes.memset(at, 1, 1)
print("ready", flush=True)
import time; time.sleep(60)
"""


# The main thread exits alone (SYS_exit, not exit_group) and the pages are kept by another thread.
BEHIND_A_ZOMBIE = """
import ctypes, threading, time
def keep():
    time.sleep(0.3)  # after the main thread has gone
    exec(compile({sparse!r}, "sparse", "exec"))
threading.Thread(target=keep).start()
ctypes.CDLL(None).syscall(60, 0)
"""


def test_a_child_keeping_page_tables_no_limit_counts_is_stopped():
    """Without a cgroup nothing counts page tables: a red team's 64,000 mappings of a page, 1 GiB
    apart, held 513 MB of them within 928 MB of address space, and with the rest of its limit filled
    took 4.2 GiB from the host at 10/10. The watch that counts threads there stops it past 64 MiB."""
    sparse = subprocess.Popen([sys.executable, "-c", SPARSE.format(pages=10_000)], stdout=subprocess.PIPE)
    try:
        assert sparse.stdout is not None and sparse.stdout.readline() == b"ready\n"
        stopped = threading.Event()
        watch = ThreadWatch(sparse.pid, stopped.set)
        assert stopped.wait(5), Path(f"/proc/{sparse.pid}/status").read_text()
        assert watch.exceeded == "keeping more than 64 MiB of page tables"
        with_cgroup = ThreadWatch(sparse.pid, stopped.clear, refused=lambda: False)  # (a cgroup charges them)
        time.sleep(0.2)
        assert stopped.is_set() and with_cgroup.exceeded == ""
    finally:
        sparse.kill()
        sparse.wait()


def test_page_tables_are_counted_after_the_main_thread_exits_alone():
    """A red team's child ended its main thread alone and kept 480 MB of page tables in another for
    40 s at 10/10: the zombie main thread's status has no VmPTE, and the watch read only that one."""
    source = BEHIND_A_ZOMBIE.format(sparse=SPARSE.format(pages=10_000))
    sparse = subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE)
    try:
        assert sparse.stdout is not None and sparse.stdout.readline() == b"ready\n"
        assert b"VmPTE" not in Path(f"/proc/{sparse.pid}/status").read_bytes()  # the main thread is a zombie
        stopped = threading.Event()
        watch = ThreadWatch(sparse.pid, stopped.set)
        assert stopped.wait(5), Path(f"/proc/{sparse.pid}/status").read_text()
        assert watch.exceeded == "keeping more than 64 MiB of page tables"
    finally:
        sparse.kill()
        sparse.wait()


SPINS = """
import hashlib, threading, time
data = b"x" * (1 << 20)
def spin():
    while True:
        hashlib.sha256(data).digest()  # (outside the GIL)
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def test_where_no_cpu_cgroup_bounds_it_a_child_is_kept_to_one_cpu_and_a_folder_count_does_not_end_the_pause():
    """rt165: with no cgroup, 150 threads spinning outside the GIL took both cores, and a classmate
    graded beside it timed out; the folder watch's SIGCONT after each count ended the CPU pause, so
    the two pause through one Pauses."""
    import os

    from grader.sandbox.pause import Pauses
    from grader.sandbox.threads import _cpu_s

    if len(os.sched_getaffinity(0)) < 2:
        return  # (one CPU: its share is all of it)
    spinning = subprocess.Popen([sys.executable, "-c", SPINS], stdout=subprocess.PIPE)
    assert spinning.stdout is not None and spinning.stdout.readline() == b"ready\n"
    pauses = Pauses(spinning.pid)
    try:
        watch = ThreadWatch(spinning.pid, lambda: None, lambda: False, cpu_bounded=False, pauses=pauses)
        used, began = _cpu_s(spinning.pid), time.monotonic()
        deadline = began + 3
        while time.monotonic() < deadline:  # a folder count's pause, every 40 ms
            assert pauses.hold()
            time.sleep(0.002)
            pauses.release()
            time.sleep(0.04)
        now = _cpu_s(spinning.pid)
        assert used is not None and now is not None
        rate = (now - used) / (time.monotonic() - began)
        assert rate < ThreadWatch.CPU_SHARE * 1.25 + ThreadWatch.CPU_BURST_S / 3, (rate, watch.paused_s)
        # (on a busy machine it may never get past its share: then no pause was due)
        assert watch.paused_s > 0 or rate < ThreadWatch.CPU_SHARE + ThreadWatch.CPU_BURST_S / 3, (rate, watch.paused_s)
        watch.close()
        time.sleep(0.1)
        assert pauses.hold()  # (continued: the next hold stops it again, and its release continues it)
        pauses.release()
        bounded = ThreadWatch(spinning.pid, lambda: None, lambda: False, cpu_bounded=True)
        time.sleep(0.5)
        assert bounded.paused_s == 0.0  # (a cpu cgroup bounds it: no pause)
        bounded.close()
    finally:
        pauses.close()
        spinning.kill()
        spinning.wait()
