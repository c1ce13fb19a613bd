"""The data that crosses stages: findings from checks, and the Outcome that reports render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Finding:
    """A check's verdict with its evidence, in the four parts a student reads."""

    name: str
    passed: bool
    fraction: float  # share of the check's points earned, before the rubric's policies
    summary: str  # one line: what we found
    example: str = ""  # the concrete x we tried, what came back and what was expected
    cause: str = ""  # the likely cause
    advice: str = ""  # what to do next
    evidence: tuple[str, ...] = ()  # secondary facts (op trace, source lines)
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable facts for result.json
    score: float = 0.0
    max_score: float = 0.0
    held_back: bool = False  # passed, but the rubric gives its points only once autograd is shown

    @property
    def message(self) -> str:
        advice = f"What to do: {self.advice}" if self.advice else ""
        parts = [self.summary, HELD_BACK if self.held_back else "", self.example, self.cause, advice, *self.evidence]
        return "\n".join(p for p in parts if p)


# A check that passed and scores 0 read as a pass worth nothing (a ✓ beside 0 / 4): why, where it is read.
# (not "Passed, but...": Gradescope shows a held-back check red, a failure, as junit.xml counts it; ux136 read a red
# test that began "Passed")
HELD_BACK = ("Held back: this check found nothing wrong, but its points count only once autograd is shown on every "
             "input (see autograd).")


@dataclass(frozen=True)
class PlotData:
    x: np.ndarray
    returned: np.ndarray | None  # the student's values on x, when they came back as numbers
    failing_x: tuple[float, ...] = ()  # grid inputs outside tolerance, to mark on the plot
    note: str = ""  # why there are no values to draw, in a student's words
    failing_dtypes: tuple[str, ...] = ()  # the dtypes of the inputs failing_x marks, sorted


@dataclass(frozen=True)
class Step:
    """One step of a backward pass as it ran, with its numbers at the pass's sample element."""

    op: str  # torch's name for the node: "SinBackward0", "PowBackward0", "AccumulateGrad"
    grad_in: float | None  # the gradient that arrived at this step
    local: float | None  # the local derivative it applied (grad_out / grad_in)
    grad_out: float | None  # the gradient it passed on, towards x
    formula: str = ""  # the local derivative written out, where the op is known: "d/du cos(u) = -sin(u)"
    at: str = ""  # where it was taken: "u = x² = 0.25"
    next: tuple[int, ...] = ()  # the steps (indices in the same pass) it passed its gradient to


@dataclass(frozen=True)
class BackwardPass:
    """The backward pass the submission ran at one sample input, beside the reference solution's."""

    sample_x: float  # the element of x both passes are read at
    student: tuple[Step, ...]
    reference: tuple[Step, ...]
    divergence: str | None  # where the student's pass first differs, in words; None when they agree
    diverges_at: int | None = None  # the student's step where it differs (highlighted when drawn)
    reference_at: int | None = None  # the reference's step it is compared with
    description: str = ""  # how the value came when no backward pass ran ("forward-mode: one tangent through sin")
    input_values: tuple[float, ...] = ()  # the whole input the passes ran on (sample_x is one of them)
    by_hand: bool = False  # the right, proven answer, part of whose derivative the pass left to a formula


@dataclass(frozen=True)
class Outcome:
    submission: Path
    sha256: str
    exercise: str
    status: str  # graded | load_error | timeout | crash | memory | grader_error
    findings: tuple[Finding, ...]
    score: float
    max_score: float
    seed: int
    devices: tuple[str, ...]
    versions: dict[str, str]
    duration_s: float
    plot: PlotData | None = None
    stdout: str = ""
    stdout_bytes: int = 0
    stderr: str = ""
    stderr_bytes: int = 0
    output_truncated: bool = False  # more was printed than the limit keeps
    sandbox_layers: tuple[str, ...] = ()
    sandbox_events: tuple[str, ...] = ()  # for a TA to review; never part of the score
    grader_error: str = ""
    cache_key: str = ""  # same file, exercise, seed, device and grader version -> same key (batch resume)
    backward: BackwardPass | None = None  # the backward pass the submission ran, beside the reference's
    helpers: tuple[tuple[str, str], ...] = ()  # (name, sha256): modules of the student's own graded beside the file
