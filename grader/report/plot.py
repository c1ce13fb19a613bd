"""feedback.png: the student's curve against the truth, and where it is off.

Top: the primitive, the reference derivative and the student's values on a dense grid. Bottom: the
absolute error on a log scale with the float32 tolerance; points outside it are marked. Uses
matplotlib's object API with the Agg canvas (no pyplot, no global state, no display).

Speed: everything that is the same for every submission of an exercise (axes, ticks, grid,
reference curves, legends) is drawn once per process into a Template and kept as a bitmap. Each
submission restores that bitmap, draws only its own artists on top and encodes the PNG: about 20 ms
instead of the 350 ms a full draw takes, which matters when a batch grades hundreds.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from grader.exercise import Exercise
from grader.outcome import Outcome

FLOOR = 1e-10  # errors below this are drawn on the floor and called exact
CEILING = 1e2  # larger errors (inf and nan included) are drawn at this height
REFERENCE = "#1f77b4"
STUDENT = "#e6550d"
BAD = "#c0392b"
GOOD = "#2e7d32"
MARKS = {True: "✓", False: "✗"}
PNG_LEVEL = 3  # zlib level: 6 (the default) is 40% slower for 15% fewer bytes


def render(outcome: Outcome, exercise: Exercise, path: Path) -> Path | None:
    if outcome.plot is None:
        return None
    banner = _banner(outcome, exercise)
    png = template(exercise, outcome.plot.x, banner).paint(outcome, exercise)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(png)
    partial.replace(path)  # atomic: a reader never sees half a picture
    return path


_TEMPLATES: dict[tuple[str, bytes, str], Template] = {}


def template(exercise: Exercise, x: np.ndarray, banner: str) -> Template:
    """The static part of the figure for this exercise and grid, drawn once per process."""
    key = (str(exercise.source), x.tobytes(), banner)
    if key not in _TEMPLATES:
        if len(_TEMPLATES) >= 8:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        _TEMPLATES[key] = Template(exercise, x, banner)
    return _TEMPLATES[key]


class Template:
    """A figure whose per-submission artists are `animated` (left out of the full draw), so they
    can be drawn over a saved background of everything else."""

    def __init__(self, exercise: Exercise, x: np.ndarray, banner: str) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.x = x
        self.truth = getattr(np, exercise.derivative)(x)
        tol = exercise.tolerance("float32")
        self.limit = tol.atol + tol.rtol * np.abs(self.truth)
        self.figure = fig = Figure(figsize=(9.6, 7.2), dpi=100)
        self.canvas = FigureCanvasAgg(fig)
        # Fixed margins: constrained layout costs a third of a full draw for no visible gain here.
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 2], left=0.085, right=0.975, top=0.875, bottom=0.155,
                                hspace=0.08)
        top = fig.add_subplot(grid[0])
        bottom = fig.add_subplot(grid[1], sharex=top)
        top.tick_params(labelbottom=False)
        primitive = getattr(np, exercise.primitive)(x)
        top.plot(x, primitive, color="0.55", lw=1.4, label=f"{exercise.primitive}(x)")
        top.plot(x, self.truth, color=REFERENCE, lw=6, alpha=0.3, solid_capstyle="round",
                 label=f"{exercise.formula}  (reference)")
        self.curve = _animated(top.plot([], [], color=STUDENT, lw=2, label="your get_derivative(x)")[0])
        self.off = _animated(top.plot([], [], "o", ms=3.5, color=BAD, label="outside tolerance")[0])
        # A fixed scale, the reference's range with room around it: a curve far off is drawn along
        # the edge and said to be, instead of squashing the truth into a flat line.
        low, high = float(min(primitive.min(), self.truth.min())), float(max(primitive.max(), self.truth.max()))
        span = high - low or 1.0
        low, high = low - 0.3 * span, high + 0.3 * span
        if banner:  # room under the curves for the banner
            top.text(0.5, 0.04, banner, transform=top.transAxes, ha="center", va="bottom", fontsize=11.5,
                     color=BAD, bbox={"boxstyle": "round,pad=0.5", "fc": "white", "ec": BAD, "alpha": 0.95})
            low -= 0.55 * span
        self.ylim = (low, high)
        top.set_ylim(low, high)
        self.offscale = _animated(top.text(0.99, 0.97, "", transform=top.transAxes, ha="right", va="top",
                                           fontsize=10, color=BAD))
        self.empty = _animated(top.text(0.5, 0.5, "", transform=top.transAxes, ha="center", va="center",
                                        fontsize=12.5, color=BAD,
                                        bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": BAD}))
        top.set_ylabel("value", fontsize=12)
        top.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=11, frameon=False)
        top.grid(alpha=0.3)
        self._error_panel(bottom)
        self.title = _animated(fig.suptitle("", fontsize=15, fontweight="bold", y=0.975))
        self.footer = _animated(fig.text(0.5, 0.012, "", ha="center", va="bottom", fontsize=10.5, color="0.25",
                                         linespacing=1.6))
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)

    def _error_panel(self, ax: Any) -> None:
        ax.set_yscale("log")
        ax.plot(self.x, self.limit, "--", color=BAD, lw=1.3, label="tolerance (float32)")
        self.error = _animated(ax.plot([], [], color=STUDENT, lw=1.6, label="|yours − reference|")[0])
        self.error_off = _animated(ax.plot([], [], "o", ms=3.5, color=BAD)[0])
        self.failing = _animated(ax.plot([], [], "|", ms=10, mew=1.6, color=BAD, label="failing grid inputs")[0])
        self.exact = _animated(ax.text(0.01, 0.06, "", transform=ax.transAxes, fontsize=10, color="0.3"))
        ax.set_ylim(FLOOR / 2, 1e7)  # the top band holds the legend and the failing-input ticks
        ax.set_xlabel("x", fontsize=12)
        ax.set_ylabel("absolute error", fontsize=12)
        ax.legend(loc="upper left", fontsize=10, framealpha=0.92, ncol=3)
        ax.grid(alpha=0.3, which="major")

    def paint(self, outcome: Outcome, exercise: Exercise) -> bytes:
        """This submission's figure as PNG bytes."""
        assert outcome.plot is not None
        self.canvas.restore_region(self.background)
        drawn = [self._values(outcome.plot.returned, outcome), self._title(outcome, exercise)]
        failing = outcome.plot.failing_x
        self.failing.set_data(failing, np.full(len(failing), 5e2))
        for artist in (a for group in drawn for a in group):
            self.figure.draw_artist(artist)
        if failing:
            self.figure.draw_artist(self.failing)
        from PIL import Image

        pixels = np.asarray(self.canvas.buffer_rgba())[..., :3]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="png", compress_level=PNG_LEVEL)
        return buffer.getvalue()

    def _values(self, got: np.ndarray | None, outcome: Outcome) -> list[Any]:
        if got is None:
            note = outcome.plot.note if outcome.plot else ""
            self.empty.set_text("No values to plot.\n" + textwrap.fill(note[:240], 60))
            return [self.empty]
        x, truth = self.x, self.truth
        error = np.abs(got - truth)
        off = ~(error <= self.limit)
        low, high = self.ylim
        shown = np.clip(got, low, high)
        self.curve.set_data(x, shown)
        self.off.set_data(x[off], shown[off])
        height = np.clip(np.nan_to_num(error, nan=CEILING, posinf=CEILING), FLOOR, CEILING)
        self.error.set_data(x, height)
        self.error_off.set_data(x[off], height[off])
        artists = [self.curve, self.error]
        if off.any():
            artists += [self.off, self.error_off]
        beyond = np.abs(got[np.isfinite(got)])
        if ((got < low) | (got > high)).any():
            largest = f"{beyond.max():.3g}" if beyond.size else "inf"
            self.offscale.set_text(f"Some of your values are off this scale (largest |value| {largest});\n"
                                   f"they are drawn along its edge.")
            artists.append(self.offscale)
        exact = float(np.mean(error <= FLOOR))
        if exact > 0.5:
            self.exact.set_text(f"{exact:.0%} of points exact (error ≤ {FLOOR:g})")
            artists.append(self.exact)
        return artists

    def _title(self, outcome: Outcome, exercise: Exercise) -> list[Any]:
        full = outcome.score >= outcome.max_score
        self.title.set_text(f"{exercise.title}:  {outcome.score:g} / {outcome.max_score:g}")
        self.title.set_color(GOOD if full else BAD if outcome.score == 0 else STUDENT)
        verdicts = "   ".join(f"{MARKS[f.passed]} {f.name.replace('_', ' ')}" for f in outcome.findings)
        device = ", ".join(outcome.devices) or "none"
        self.footer.set_text(f"{verdicts}\n{outcome.submission.name} · device {device} · seed {outcome.seed}")
        return [self.title, self.footer]


def _animated(artist: Any) -> Any:
    artist.set_animated(True)
    return artist


def _banner(outcome: Outcome, exercise: Exercise) -> str:
    """Why a curve that looks right scores 0: its values did not come through autograd."""
    autograd = next((f for f in outcome.findings if f.name == "autograd"), None)
    if autograd is None or not autograd.data.get("bypassed"):
        return ""
    return (f"These values did not come from autograd of {exercise.primitive}(x): when we swapped its derivative "
            f"for a secret one,\nyour answer did not change. The exercise is to use autograd, so it scores 0.")
