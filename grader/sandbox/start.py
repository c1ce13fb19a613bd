"""The one way in: a Conversation with a submission, whichever way it runs.

Light on purpose (the child and the zygote import this package too): the parent's process machinery
is imported on first use, never at import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

    from grader.exercise import Limits
    from grader.sandbox.session import Conversation
    from grader.sandbox.zygote import Zygote


def open_session(code: Path | Callable[..., Any], limits: Limits, *, warm: bool = False,
                 content: bytes | None = None, helpers: tuple[tuple[str, bytes], ...] = (),
                 package: str = "") -> Conversation:
    """Start running `code` now; the caller sends it requests, then closes it.

    A file runs in a sandbox child of its own, under `limits`: started afresh (it imports torch
    itself, about 1.5 s, while the caller draws grids) or, with `warm`, forked from this process's
    warm zygote (milliseconds; the zygote starts on first use, and where none can start the child
    starts afresh). `content` is the file's bytes as already read and checked, so that the path is
    not read again; `helpers` (name, bytes) are the student's own modules, put beside it; `package`, the
    package of theirs the file is a module of (submission.Submission.package). An OSError means the child
    could not start.

    A function already in this process (the notebook self-check) runs right here, through the same
    requests and replies: no isolation and no limits, so never a grade of record."""
    if callable(code):
        if warm or content is not None or helpers or package:
            raise TypeError("open_session: `warm` and `content` are for a file; a function runs in this process")
        from grader.sandbox.inprocess import InProcessSession

        return InProcessSession(code)
    from grader.sandbox import session

    zygote = session.warm_zygote() if warm else None
    return session.Session(code, limits.output_kib, zygote, content, memory_gib=limits.memory_gib, helpers=helpers,
                           package=package)


def share_zygote(users: int) -> Zygote | None:
    """A zygote started now for `users` other processes (a batch's workers): give each one socket
    of its `shared` (they pass it to `use_shared_zygote`), and close it once they are done. None
    where none can start (each then starts its own, or none)."""
    from grader.sandbox import session

    return session.shared_zygote(users)


def use_shared_zygote(control: socket.socket) -> None:
    """This process's warm sessions fork from the zygote behind `control` (see share_zygote)."""
    from grader.sandbox import session

    session.use_shared_zygote(control)


def prewarm(meanwhile: Callable[[], object] | None = None, behind: bool = False) -> bool:
    """Start this process's zygote now (importing and warming up torch takes a second or two), so
    that the first warm session forks at once; `meanwhile` runs while it warms up. False where none
    can start: warm sessions then start afresh.

    With `behind`, this process and its zygote warm up at a lower priority and are put back after
    (only where this process may raise its priority again: else `behind` does nothing): when several
    workers start at once on few cores, the first is ready sooner, and the others catch up."""
    import os

    from grader.sandbox import session

    base = os.getpriority(os.PRIO_PROCESS, 0)
    behind = behind and _may_raise_priority(base)
    if behind:
        os.setpriority(os.PRIO_PROCESS, 0, min(base + _BEHIND, 19))
    started = session.warm_zygote(wait=False)
    # The zygote leads a session of its own, so it is scheduled as a group of its own ("autogroup"):
    # its process priority counts only inside that group; the group's counts against the others.
    # (A zygote another process started, shared by a batch's workers, is left as it is.)
    pid = started.process.pid if behind and started is not None and started.process is not None else None
    group = _group_priority(pid) if pid else None
    try:
        if pid and group is not None:
            _group_priority(pid, min(group + _BEHIND, 19))
        if meanwhile is not None:
            meanwhile()
        ready = session.warm_zygote()
    finally:
        if behind:
            os.setpriority(os.PRIO_PROCESS, 0, base)
        if pid:  # before it forks any child: children inherit its priority
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, base)
            if group is not None:
                _group_priority(pid, group)
    return ready is not None


_BEHIND = 10


def _may_raise_priority(base: int) -> bool:
    """Whether this process may set its niceness back to `base` after raising it."""
    import os
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20 - base


def _group_priority(pid: int, nice: int | None = None) -> int | None:
    """The niceness of the scheduling group ("autogroup") that process `pid` leads, or None where
    the kernel has none; with `nice`, set it first."""
    path = f"/proc/{pid}/autogroup"
    try:
        if nice is not None:
            with open(path, "w") as handle:
                handle.write(str(nice))
        with open(path) as handle:
            return int(handle.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None
