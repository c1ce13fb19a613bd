"""Findings + rubric -> points. Pure."""

from __future__ import annotations

import math
from dataclasses import replace

from grader.exercise import Exercise
from grader.outcome import Finding


def apply(findings: list[Finding], ex: Exercise) -> tuple[list[Finding], float]:
    """Give each finding its points and return them with the total.

    Policy: when the rubric says so, a submission whose values did not all come through autograd of
    the primitive (the canary found an input it could not prove) earns nothing beyond the `loads`
    point; every finding is still reported. A function that returned no values at all earns nothing
    from the checks that needed them anyway.
    """
    scored = [replace(f, max_score=ex.rubric[f.name], score=_points(ex.rubric[f.name], f)) for f in findings]
    unproven = any(f.name == "autograd" and f.data.get("unproven") for f in scored)
    if unproven and ex.zero_total_unless_autograd:
        scored = [f if f.name == "loads" else replace(f, score=0.0, held_back=f.passed and f.max_score > 0)
                  for f in scored]
    return scored, round(sum(f.score for f in scored), 2)


def _points(weight: float, finding: Finding) -> float:
    """Points to two decimals, where a check that failed short of its whole weight never shows it:
    a contract held back to 99.6% of its point read "1 / 1" beside a ✗ and "Not all of its points
    are earned"."""
    points = round(weight * finding.fraction, 2)
    if not finding.passed and finding.fraction < 1.0 and points >= weight > 0:
        return math.floor(weight * finding.fraction * 100) / 100
    return points
