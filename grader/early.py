"""A file read and its sandbox child started before the grader's heavier modules are imported.

A fresh child imports torch for about 1.2 s, the critical path of `grader check` and `grade`: started
first, the grader's own imports (80-100 ms: the checks, the grids, the verdict) run beside it instead
of before it. Light on purpose: only the submission reader and the sandbox's one way in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader import sandbox, submission

if TYPE_CHECKING:
    from grader.exercise import Limits
    from grader.sandbox.session import Conversation


@dataclass(frozen=True)
class Started:
    """A file read and its child started (session None where it could not start: grade_file then
    tries again and reports why), `clock` when that began."""

    path: Path
    submission: submission.Submission
    session: Conversation | None
    clock: float


def start(path: Path, limits: Limits, function: str = "", exercise: str = "") -> Started:
    """Read the file and start its child now. SubmissionError as submission.read gives."""
    clock = time.perf_counter()
    sub = submission.read(path, helpers=True, function=function, exercise=exercise)
    try:
        session: Conversation | None = sandbox.open_session(sub.path, limits, content=sub.source, helpers=sub.helpers)
    except Exception:  # noqa: BLE001 - grade_file starts it again, and says why it could not
        session = None
    return Started(path, sub, session, clock)
