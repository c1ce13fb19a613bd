"""feedback.png: the student's curve against the truth, and where it is off.

Top: sin(x), the reference derivative and the student's values on a dense grid. Bottom: the
absolute error on a log scale with the float32 tolerance; points outside it are marked. Uses
matplotlib's object API with the Agg canvas (no pyplot, no global state, no display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader.exercise import Exercise
from grader.outcome import Outcome

FLOOR = 1e-10  # errors below this are drawn on the floor and called exact
REFERENCE = "#1f77b4"
STUDENT = "#e6550d"
BAD = "#c0392b"
GOOD = "#2e7d32"
MARKS = {True: "✓", False: "✗"}


def render(outcome: Outcome, exercise: Exercise, path: Path) -> Path | None:
    if outcome.plot is None:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.6, 7.2), dpi=100)
    FigureCanvasAgg(fig)
    # Fixed margins: constrained layout costs a third of the rendering time for no visible gain here.
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 2], left=0.085, right=0.975, top=0.875, bottom=0.155, hspace=0.08)
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    top.tick_params(labelbottom=False)
    x = outcome.plot.x
    truth = getattr(np, exercise.derivative)(x)
    got = outcome.plot.returned
    tol = exercise.tolerance("float32")
    limit = tol.atol + tol.rtol * np.abs(truth)

    top.plot(x, getattr(np, exercise.primitive)(x), color="0.55", lw=1.4, label=f"{exercise.primitive}(x)")
    top.plot(x, truth, color=REFERENCE, lw=6, alpha=0.3, solid_capstyle="round",
             label=f"{exercise.formula}  (reference)")
    if got is not None:
        off = ~(np.abs(got - truth) <= limit)
        top.plot(x, got, color=STUDENT, lw=2, label="your get_derivative(x)")
        if off.any():
            top.plot(x[off], got[off], "o", ms=3.5, color=BAD, label="outside tolerance")
    else:
        top.text(0.5, 0.5, _no_values_text(outcome), transform=top.transAxes, ha="center", va="center",
                 fontsize=12.5, color=BAD,
                 bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": BAD})
    banner = _banner(outcome, exercise)
    if banner:
        low, high = top.get_ylim()
        top.set_ylim(low - 0.45 * (high - low), high)  # room under the curves for the banner
        top.text(0.5, 0.04, banner, transform=top.transAxes, ha="center", va="bottom", fontsize=11.5,
                 color=BAD, bbox={"boxstyle": "round,pad=0.5", "fc": "white", "ec": BAD, "alpha": 0.95})
    top.set_ylabel("value", fontsize=12)
    top.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=11, frameon=False)
    top.grid(alpha=0.3)
    _error_panel(bottom, x, got, truth, limit, outcome.plot.failing_x)
    _title(fig, outcome, exercise)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fig.savefig(partial, format="png")
    partial.replace(path)  # atomic: a reader never sees half a picture
    return path


def _error_panel(ax: Any, x: np.ndarray, got: np.ndarray | None, truth: np.ndarray, limit: np.ndarray,
                 failing_x: tuple[float, ...]) -> None:
    ax.set_yscale("log")
    ax.plot(x, limit, "--", color=BAD, lw=1.3, label="tolerance (float32)")
    if got is not None:
        error = np.abs(got - truth)
        shown = np.clip(np.nan_to_num(error, nan=1e2, posinf=1e2), FLOOR, 1e2)
        off = ~(error <= limit)
        ax.plot(x, shown, color=STUDENT, lw=1.6, label="|yours − reference|")
        if off.any():
            ax.plot(x[off], shown[off], "o", ms=3.5, color=BAD)
        exact = float(np.mean(error <= FLOOR))
        if exact > 0.5:
            ax.text(0.01, 0.06, f"{exact:.0%} of points exact (error ≤ {FLOOR:g})", transform=ax.transAxes,
                    fontsize=10, color="0.3")
    if failing_x:
        ax.plot(failing_x, np.full(len(failing_x), 5e2), "|", ms=10, mew=1.6, color=BAD,
                label="failing grid inputs")
    ax.set_ylim(FLOOR / 2, 1e7)  # the top band holds the legend and the failing-input ticks
    ax.set_xlabel("x", fontsize=12)
    ax.set_ylabel("absolute error", fontsize=12)
    ax.legend(loc="upper left", fontsize=10, framealpha=0.92, ncol=3)
    ax.grid(alpha=0.3, which="major")


def _title(fig: Any, outcome: Outcome, exercise: Exercise) -> None:
    full = outcome.score >= outcome.max_score
    color = GOOD if full else BAD if outcome.score == 0 else STUDENT
    fig.suptitle(f"{exercise.title}:  {outcome.score:g} / {outcome.max_score:g}", fontsize=15,
                 fontweight="bold", color=color, y=0.975)
    verdicts = "   ".join(f"{MARKS[f.passed]} {f.name.replace('_', ' ')}" for f in outcome.findings)
    device = ", ".join(outcome.devices) or "none"
    fig.text(0.5, 0.012, f"{verdicts}\n{outcome.submission.name} · device {device} · seed {outcome.seed}",
             ha="center", va="bottom", fontsize=10.5, color="0.25", linespacing=1.6)


def _banner(outcome: Outcome, exercise: Exercise) -> str:
    """Why a curve that looks right scores 0: its values did not come through autograd."""
    autograd = next((f for f in outcome.findings if f.name == "autograd"), None)
    if autograd is None or not autograd.data.get("bypassed"):
        return ""
    return (f"These values did not come from autograd of {exercise.primitive}(x): when we swapped its derivative "
            f"for a secret one,\nyour answer did not change. The exercise is to use autograd, so it scores 0.")


def _no_values_text(outcome: Outcome) -> str:
    import textwrap

    note = outcome.plot.note if outcome.plot else ""
    return "No values to plot.\n" + textwrap.fill(note[:240], 60)
