"""The one way in: a Conversation with a submission, whichever way it runs.

Light on purpose (the child and the zygote import this package too): the parent's process machinery
is imported on first use, never at import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.exercise import Limits
    from grader.sandbox.session import Conversation


def open_session(code: Path | Callable[..., Any], limits: Limits, *, warm: bool = False,
                 content: bytes | None = None) -> Conversation:
    """Start running `code` now; the caller sends it requests, then closes it.

    A file runs in a sandbox child of its own, under `limits`: started afresh (it imports torch
    itself, about 1.5 s, while the caller draws grids) or, with `warm`, forked from this process's
    warm zygote (milliseconds; the zygote starts on first use, and where none can start the child
    starts afresh). `content` is the file's bytes as already read and checked, so that the path is
    not read again. An OSError means the child could not start.

    A function already in this process (the notebook self-check) runs right here, through the same
    requests and replies: no isolation and no limits, so never a grade of record."""
    if callable(code):
        if warm or content is not None:
            raise TypeError("open_session: `warm` and `content` are for a file; a function runs in this process")
        from grader.sandbox.inprocess import InProcessSession

        return InProcessSession(code)
    from grader.sandbox import session

    zygote = session.warm_zygote() if warm else None
    return session.Session(code, limits.output_kib, zygote, content, memory_gib=limits.memory_gib)


def prewarm(meanwhile: Callable[[], object] | None = None) -> bool:
    """Start this process's zygote now (importing and warming up torch takes a second or two), so
    that the first warm session forks at once; `meanwhile` runs while it warms up. False where none
    can start: warm sessions then start afresh."""
    from grader.sandbox import session

    session.warm_zygote(wait=False)
    if meanwhile is not None:
        meanwhile()
    return session.warm_zygote() is not None
