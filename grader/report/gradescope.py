"""results.json for Gradescope: a renderer of the Outcome, like result.json and the terminal.

Follows Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "specs"):
top-level score, execution_time, output (HTML: the verdict, then the feedback plot and the backward
pass as data URIs), tests (one per rubric check, visible to the student), stdout_visibility,
extra_data (seed, versions, content hash). What only an instructor should see (tracebacks, the raw output, sandbox
events) goes in hidden tests worth 0 points.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from grader import backward
from grader.outcome import HELD_BACK, BackwardPass, Outcome
from grader.report import atomic

MAX_IMAGE_BYTES = 600_000  # all images together; base64 makes it 800 kB: the file stays under Gradescope's 1 MB
# (Nobody is told by the grader itself: ux111 read "your instructor has been told" beside a posted 0
# whose only trace was a hidden test. The student is the one who can tell.)
FAILED_HERE = ("The autograder itself failed while grading this submission. This is not your fault, and the "
               "score of 0 shown is not a grade of your work: please tell your instructor, and resubmit later.")


def results(outcome: Outcome, picture: Path | None, backward: Path | None = None) -> dict[str, Any]:
    """Gradescope's results.json for one graded submission; `backward` is backward.png, when written."""
    if outcome.status == "grader_error":
        return grader_failure(outcome.grader_error, outcome.duration_s, _extra(outcome))
    tests = [
        {
            "name": f.name.replace("_", " ").capitalize(),
            "number": str(number),
            "score": round(f.score, 4),
            "max_score": f.max_score,
            # (a check whose points are held back is no pass a student should see in green beside 0 of
            # 4: ux120's cos file showed six of them and a score of 1; junit.xml counts it a failure too)
            "status": "passed" if f.passed and not f.held_back else "failed",
            "output": f.message,  # (which says a check's points are held back: ux128 read it twice)
            "output_format": "text",
            "visibility": "visible",
        }
        for number, f in enumerate(outcome.findings, start=1)
    ]
    if outcome.backward is not None:
        tests.append(_backward_test(outcome.backward))
    tests.append(_hidden("Instructor: what the submission printed", _printed(outcome)))
    events = "\n".join(outcome.sandbox_events) or "none"
    tests.append(_hidden("Instructor: sandbox", f"Layers: {', '.join(outcome.sandbox_layers) or 'none'}\n"
                                                f"Events recorded for review: {events}"))
    return {
        "score": round(outcome.score, 4),
        "execution_time": _seconds(outcome.duration_s),
        "output": _summary(outcome, picture, backward),
        "output_format": "html",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": _extra(outcome),
    }


def _seconds(duration: float) -> int:
    """Whole seconds, rounded up, as Gradescope's specification gives execution_time (ux131: 1.48)."""
    return max(0, math.ceil(duration)) if math.isfinite(duration) else 0


def grader_failure(detail: str, seconds: float = 0.0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid results.json saying the autograder failed, not the student; the detail is hidden."""
    return {
        "score": 0.0,
        "execution_time": _seconds(seconds),
        "output": FAILED_HERE,
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [_hidden("Instructor: grader failure", detail[-20000:] or "no detail")],
        "extra_data": {**(extra or {}), "grader_failed": True},
    }


def write(data: dict[str, Any], path: Path) -> Path:
    atomic.write(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path


def _backward_test(recorded: BackwardPass) -> dict[str, Any]:
    """The backward pass written out, for the student: not scored (the canary's verdict is)."""
    lines = [backward.headline(recorded), "", f"Your backward pass at x = {recorded.sample_x:g}:"]
    lines += ["  " + line for line in backward.written_steps(recorded.student)] or ["  (no backward step ran)"]
    if recorded.reference:
        theirs = backward.written_steps(recorded.reference)
        lines += ["", "The reference solution's:", *("  " + line for line in theirs)]
    return {"name": "Backward pass (not scored)", "score": 0.0, "max_score": 0.0,
            "status": "passed" if recorded.divergence is None else "failed", "output": "\n".join(lines),
            "output_format": "text", "visibility": "visible"}


def _hidden(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "score": 0.0, "max_score": 0.0, "output": text, "output_format": "text",
            "visibility": "hidden"}


def _summary(outcome: Outcome, picture: Path | None, backward: Path | None = None) -> str:
    lines = [f"<h3>{html.escape(outcome.exercise)}: {outcome.score:g} / {outcome.max_score:g}</h3>", "<ul>"]
    for f in outcome.findings:
        mark = "✓" if f.passed else "✗"
        held = f" ({HELD_BACK})" if f.held_back else ""
        lines.append(f"<li>{mark} <b>{html.escape(f.name.replace('_', ' '))}</b>: {html.escape(f.summary)}{held}</li>")
    lines.append("</ul>")
    room = MAX_IMAGE_BYTES  # the images share it, in this order: the file stays under Gradescope's 1 MB
    for path, alt in ((picture, "Your curve against the reference"),
                      (backward, "Your backward pass beside the reference solution's")):
        if path is not None and path.is_file() and path.stat().st_size <= room:
            room -= path.stat().st_size
            data = base64.b64encode(path.read_bytes()).decode()
            lines.append(f'<img alt="{alt}" style="max-width:100%" src="data:image/png;base64,{data}">')
    # (not the seed itself: with a course secret it is the grids', which no student should draw: ux124)
    lines.append("<p>Each check below says what we tried, what came back and what to do. The same file is graded "
                 "on the same inputs every time it is submitted.</p>")
    return "\n".join(lines)


def _printed(outcome: Outcome) -> str:
    parts = [f"stdout ({outcome.stdout_bytes} bytes):\n{outcome.stdout or '(nothing)'}",
             f"stderr ({outcome.stderr_bytes} bytes):\n{outcome.stderr or '(nothing)'}"]
    if outcome.output_truncated:
        parts.append("(output was longer than the limit; the rest was counted and dropped)")
    return "\n\n".join(parts)


def _extra(outcome: Outcome) -> dict[str, Any]:
    return {"exercise": outcome.exercise, "status": outcome.status, "seed": outcome.seed,
            "sha256": outcome.sha256, "devices": list(outcome.devices), "versions": outcome.versions,
            "cache_key": outcome.cache_key}


def no_submission(problem: str, max_score: float) -> dict[str, Any]:
    """No single file to grade: the student's to fix, so visible, and worth 0."""
    return {
        "score": 0.0,
        "output": problem,
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [{"name": "Submission", "score": 0.0, "max_score": max_score, "status": "failed",
                   "output": problem, "output_format": "text", "visibility": "visible"}],
        "extra_data": {"status": "missing"},
    }
