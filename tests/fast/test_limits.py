"""The limits a sandbox child sets itself before the submission runs (sandbox/child.py's apply_limits),
read in a process of its own: they hold for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grader

PROBE = """
import resource
from grader.sandbox import child

active = child.apply_limits({"total_timeout_s": 60, "memory_gib": 2}, uses_cuda=False)
for name in ("RTPRIO", "NICE", "CORE", "SIGPENDING"):
    print(name, *resource.getrlimit(getattr(resource, "RLIMIT_" + name)))
print("pending", resource.getrlimit(resource.RLIMIT_SIGPENDING) == (child.SIGNALS_PENDING,) * 2)
print("active", "; ".join(active))
"""


def test_a_child_may_take_no_real_time_or_raised_priority():
    """rt186: the child left RLIMIT_RTPRIO and RLIMIT_NICE as the grader had them: under a host's
    `--ulimit rtprio=99`, its SCHED_FIFO threads would take the CPU from the host's own programs."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          cwd=Path(grader.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    said = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert said["RTPRIO"] == said["NICE"] == said["CORE"] == "0 0", said
    assert said["pending"] == "True", said
    assert "no real-time priority" in said["active"], said
