"""backward.png: the backward pass a submission ran beside the reference solution's, as two diagrams.

A box per autograd step (its op, and under it the local derivative written out and where it was
taken), arrows along `Step.next` (backward_layout.py says where everything goes). Each arrow carries
the gradient that arrived at the step it points to; `×n` beside a box is the local derivative that
step applied. The first step where the student's pass differs is red with a ✗, the reference's step
it is compared with green with a ✓, and the sentence saying how they differ runs along the bottom.

matplotlib's object API on the Agg canvas (no pyplot, no global state), in pixel coordinates, with
the colours and font of feedback.png. Many students run exactly the same pass, so each distinct pass
is drawn once per process: the PNG bytes are cached by the pass's content (60-120 ms a draw, 10-40
µs a hit; the first draw in a process also imports matplotlib, about 0.3 s).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from grader.backward import headline
from grader.outcome import BackwardPass, Outcome
from grader.report import backward_layout as geometry
from grader.report.backward_layout import WIDTH, Box, Edge, Panel
from grader.report.plot import BAD, DPI, GOOD, REFERENCE, STUDENT, encode_png

INK, MUTED, ARROW, RULE = "#262626", "#5a5a5a", "#6b6b6b", "#d9d9d9"
FILL = {STUDENT: "#fdf1e8", REFERENCE: "#eaf2fa", BAD: "#fbe3e0", GOOD: "#e5f3e6"}
VERDICT_PT = 10.5


def render(outcome: Outcome, path: Path) -> Path | None:
    """Write backward.png atomically, or return None when the outcome recorded no backward pass."""
    if outcome.backward is None:
        return None
    png = picture(outcome.backward)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(png)
    partial.replace(path)  # atomic: a reader never sees half a picture
    return path


@functools.lru_cache(maxsize=64)
def picture(backward: BackwardPass) -> bytes:
    """The two passes side by side as PNG bytes, drawn once per distinct pass in this process."""
    return _Drawing(backward).png()


class _Drawing:
    """One figure: the title, the two panels, and the verdict along the bottom."""

    def __init__(self, backward: BackwardPass) -> None:
        self.backward = backward
        self.panels = geometry.panels(backward)
        agree = backward.divergence is None
        self.verdict = "\n".join(geometry.wrap(("✓ " if agree else "✗ ") + headline(backward), VERDICT_PT,
                                      WIDTH - 160, 6))
        self.verdict_colour = GOOD if agree else BAD
        body = max(p.bottom for p in self.panels)
        if not backward.student:
            body = max(body, geometry.TOP + geometry.STUB + 120)
        self.rule_end = body + 8
        self.height = int(body + 40 + 19 * (self.verdict.count("\n") + 1) + 14)

    def png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH / DPI, self.height / DPI), dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, WIDTH)
        ax.set_ylim(self.height, 0)  # pixels, origin top left, as the layout has them
        ax.set_axis_off()
        self._header(ax)
        student, reference = self.panels
        for panel, colour, mark in ((student, STUDENT, BAD), (reference, REFERENCE, GOOD)):
            for edge in panel.edges:
                _arrow(ax, edge)
            for box in panel.boxes:
                _box(ax, box, colour, mark)
        if not self.backward.student:
            self._nothing(ax, student)
        _text(ax, WIDTH / 2, self.height - 14, self.verdict, ha="center", va="bottom", fontsize=VERDICT_PT,
                color=self.verdict_colour, linespacing=1.35)
        canvas.draw()
        return encode_png(np.asarray(canvas.buffer_rgba())[:, :, :3])

    def _header(self, ax: Any) -> None:
        b = self.backward
        where = f"x = {b.sample_x:.4g}".replace("-", "−")
        if len(b.input_values) > 1:
            where += f"  (one of the {len(b.input_values)} elements of the input)"
        _text(ax, WIDTH / 2, 14, f"The backward pass at {where}", ha="center", va="top", fontsize=15,
                fontweight="bold", color=INK)
        _text(ax, WIDTH / 2, 44, "Each arrow carries the gradient that arrived at the step it points to; ×n beside "
                "a step is the local derivative it applied.", ha="center", va="top", fontsize=9.5, color=MUTED)
        student, reference = self.panels
        for panel, title, colour in ((student, "Your backward pass", STUDENT),
                                     (reference, "The reference solution's", REFERENCE)):
            _text(ax, panel.left + panel.width / 2, 78, title, ha="center", va="top", fontsize=12, fontweight="bold",
                    color=colour)
        ax.plot([reference.left] * 2, [74, self.rule_end], color=RULE, lw=1)

    def _nothing(self, ax: Any, panel: Panel) -> None:
        """In place of the student's boxes: how the value came without a backward pass."""
        what = self.backward.description or "no backward step ran"
        lines = geometry.wrap(what[:1].upper() + what[1:], 10.5, min(panel.width - 90, 420), 6)
        _text(ax, panel.left + panel.width / 2, geometry.TOP + 20, "\n".join([*lines, "(no backward steps to draw)"]),
                ha="center", va="top", fontsize=10.5, color=INK, linespacing=1.4,
                bbox={"boxstyle": "round,pad=0.8", "fc": FILL[STUDENT], "ec": STUDENT, "lw": 1.2})


def _text(ax: Any, x: float, y: float, text: str, **style: Any) -> None:
    """Text as it is: matplotlib would read a pair of $ signs as mathematics (and raise on bad TeX)."""
    ax.text(x, y, text, parse_math=False, **style)


def _box(ax: Any, box: Box, colour: str, mark: str) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch

    edge = mark if box.mark else colour
    ax.add_patch(FancyBboxPatch((box.x - box.w / 2, box.y), box.w, box.h, boxstyle="round,pad=0,rounding_size=6",
                                fc="white" if box.condensed else FILL[edge], ec=edge, lw=2.4 if box.mark else 1.2,
                                ls="--" if box.condensed else "-"))
    y = box.y + geometry.PAD_Y
    for text, points, bold, muted in box.lines:
        _text(ax, box.x, y + geometry.LINE_PX[points] / 2, text, ha="center", va="center_baseline", fontsize=points,
                fontweight="bold" if bold else "normal", color=MUTED if muted else INK)
        y += geometry.LINE_PX[points]
    if box.tag:
        first = box.y + geometry.PAD_Y + geometry.LINE_PX[geometry.NAME_PT] / 2  # level with the op's name
        _text(ax, box.x + box.w / 2 + 8, first, box.tag, ha="left", va="center_baseline", fontsize=geometry.NUMBER_PT,
                color=MUTED)
    if box.mark:  # a badge on the corner: needs no room beside the box
        ax.add_patch(Circle((box.x - box.w / 2, box.y), 10, fc=mark, ec="white", lw=1.5))
        _text(ax, box.x - box.w / 2, box.y, "✗" if mark == BAD else "✓", ha="center", va="center", fontsize=10,
                fontweight="bold", color="white")


def _arrow(ax: Any, edge: Edge) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as Route

    ax.add_patch(FancyArrowPatch(path=Route(edge.points), arrowstyle="-|>", mutation_scale=11, color=ARROW, lw=1.1))
    if edge.label is not None:
        label = edge.label
        _text(ax, label.x, label.y, label.text, ha=label.align, va="center", fontsize=geometry.NUMBER_PT, color=INK)


__all__ = ["picture", "render"]
