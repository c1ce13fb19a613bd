"""feedback.png's words, read from the labels the figure is painted with (no sandbox)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.outcome import Finding, Outcome, PlotData
from grader.report import plot


def _outcome(findings: tuple[Finding, ...], score: float) -> Outcome:
    x = np.linspace(-3, 3, 61)
    return Outcome(Path("alice.py"), "0" * 64, "sin", "graded", findings, score, 10.0, 7, ("cpu",), {}, 0.1,
                   plot=PlotData(x, np.cos(x)))


def _footer(outcome: Outcome, sin) -> str:
    assert outcome.plot is not None
    labels = plot.template(sin, outcome.plot.x, "")._title(outcome, sin)
    return labels[-1].text


def test_held_back_checks_are_starred_and_the_star_is_explained(sin):
    """A bare ✓ beside a score of 1 / 10 read as a pass worth nothing; the row says which were held."""
    held = (Finding("loads", True, 1.0, "", score=1, max_score=1),
            Finding("correctness", True, 1.0, "", max_score=4, held_back=True),
            Finding("autograd", False, 0.0, "", max_score=3))
    row, meta = _footer(_outcome(held, 1.0), sin).split("\n")
    assert row.split("   ") == ["✓ loads", "✓ correctness*", "✗ autograd"]
    assert meta.endswith("* passed, points held back until autograd is shown")
    honest = tuple(Finding(f.name, True, 1.0, "", score=f.max_score, max_score=f.max_score) for f in held)
    footer = _footer(_outcome(honest, 8.0), sin)
    assert "*" not in footer and "held back" not in footer
    assert plot.picture(_outcome(held, 1.0), sin) != plot.picture(_outcome(honest, 8.0), sin)
