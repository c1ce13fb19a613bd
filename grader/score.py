"""Findings + rubric -> points. Pure."""

from __future__ import annotations

from dataclasses import replace

from grader.exercise import Exercise
from grader.outcome import Finding


def apply(findings: list[Finding], ex: Exercise) -> tuple[list[Finding], float]:
    """Give each finding its points and return them with the total.

    Policy: when the rubric says so, a submission whose values did not come through autograd
    (the autograd check saw them bypass it) scores 0 in total; every finding is still reported.
    """
    scored = [replace(f, max_score=ex.rubric[f.name], score=round(ex.rubric[f.name] * f.fraction, 2))
              for f in findings]
    bypassed = any(f.name == "autograd" and f.data.get("bypassed") for f in scored)
    if bypassed and ex.zero_total_unless_autograd:
        scored = [replace(f, score=0.0) for f in scored]
    return scored, round(sum(f.score for f in scored), 2)
