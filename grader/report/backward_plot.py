"""backward.png: the backward pass a submission ran beside the reference solution's, as two diagrams.

A box per autograd step (its op, and under it the local derivative written out and where it was
taken), arrows along `Step.next` (backward_layout.py says where everything goes). Each arrow carries
the gradient that arrived at the step it points to; `×n` beside a box is the local derivative that
step applied. The first step where the student's pass differs is red with a ✗, the reference's step
it is compared with green with a ✓, and the sentence saying how they differ runs along the bottom.

Shapes by matplotlib's object API on the Agg canvas (no pyplot, no global state), text by Pillow over
them, in pixel coordinates, with the colours and font of feedback.png. Many students run exactly the
same pass, so each distinct pass is drawn once per process: the PNG bytes are cached by the pass's
content (about 27 ms a draw, 10-40 µs a hit; the first draw in a process also imports matplotlib,
about 0.3 s).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from grader.backward import headline
from grader.outcome import BackwardPass, Outcome
from grader.report import atomic
from grader.report import backward_layout as geometry
from grader.report.backward_layout import WIDTH, Box, Edge, Panel
from grader.report.plot import BAD, DPI, GOOD, REFERENCE, STUDENT, Label, with_text

INK, MUTED, ARROW, RULE = "#262626", "#5a5a5a", "#6b6b6b", "#d9d9d9"
FILL = {STUDENT: "#fdf1e8", REFERENCE: "#eaf2fa", BAD: "#fbe3e0", GOOD: "#e5f3e6"}
VERDICT_PT = 10.5


def render(outcome: Outcome, path: Path) -> Path | None:
    """Write backward.png atomically, or return None when the outcome recorded no backward pass."""
    if outcome.backward is None:
        return None
    png = picture(outcome.backward)
    return atomic.write(path, png)


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
        """Shapes by matplotlib, then every piece of text by Pillow over them (in the same font, as
        feedback.png's text is): matplotlib's text layout was nine tenths of a draw."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH / DPI, self.height / DPI), dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, WIDTH)
        ax.set_ylim(self.height, 0)  # pixels, origin top left, as the layout has them
        ax.set_axis_off()
        texts = self._header(ax)
        student, reference = self.panels
        for panel, colour, mark in ((student, STUDENT, BAD), (reference, REFERENCE, GOOD)):
            for edge in panel.edges:
                texts += _arrow(ax, edge)
            for box in panel.boxes:
                texts += _box(ax, box, colour, mark)
        if not self.backward.student:
            texts += self._nothing(student)
        texts.append(Label(self.verdict, (WIDTH / 2, self.height - 14), "md", VERDICT_PT, self.verdict_colour,
                           align="center"))
        canvas.draw()
        return with_text(canvas, texts)

    def _header(self, ax: Any) -> list[Label]:
        b = self.backward
        where = f"x = {b.sample_x:.4g}".replace("-", "−")
        if len(b.input_values) > 1:
            where += f"  (one of the {len(b.input_values)} elements of the input)"
        texts = [Label(f"The backward pass at {where}", (WIDTH / 2, 14), "mt", 15, INK, bold=True),
                 Label("Each arrow carries the gradient that arrived at the step it points to; ×n beside a step is "
                       "the local derivative it applied.", (WIDTH / 2, 44), "mt", 9.5, MUTED)]
        student, reference = self.panels
        for panel, title, colour in ((student, "Your backward pass", STUDENT),
                                     (reference, "The reference solution's", REFERENCE)):
            texts.append(Label(title, (panel.left + panel.width / 2, 78), "mt", 12, colour, bold=True))
        ax.plot([reference.left] * 2, [74, self.rule_end], color=RULE, lw=1)
        return texts

    def _nothing(self, panel: Panel) -> list[Label]:
        """In place of the student's boxes: how the value came without a backward pass."""
        what = self.backward.description or "no backward step ran"
        lines = geometry.wrap(what[:1].upper() + what[1:], 10.5, min(panel.width - 90, 420), 6)
        text = "\n".join([*lines, "(no backward steps to draw)"])
        return [Label(text, (panel.left + panel.width / 2, geometry.TOP + 20), "ma", 10.5, INK, align="center",
                      boxed=True, box_colours=(FILL[STUDENT], STUDENT), box_pad=0.8)]


def _box(ax: Any, box: Box, colour: str, mark: str) -> list[Label]:
    """The box's shapes on the axes; its text, to be drawn over them."""
    from matplotlib.patches import Circle, FancyBboxPatch

    edge = mark if box.mark else colour
    ax.add_patch(FancyBboxPatch((box.x - box.w / 2, box.y), box.w, box.h, boxstyle="round,pad=0,rounding_size=6",
                                fc="white" if box.condensed else FILL[edge], ec=edge, lw=2.4 if box.mark else 1.2,
                                ls="--" if box.condensed else "-"))
    texts = []
    y = box.y + geometry.PAD_Y
    for text, points, bold, muted in box.lines:
        texts.append(Label(text, (box.x, y + geometry.LINE_PX[points] / 2), "mm", points, MUTED if muted else INK,
                           bold=bold))
        y += geometry.LINE_PX[points]
    if box.tag:
        first = box.y + geometry.PAD_Y + geometry.LINE_PX[geometry.NAME_PT] / 2  # level with the op's name
        texts.append(Label(box.tag, (box.x + box.w / 2 + 8, first), "lm", geometry.NUMBER_PT, MUTED))
    if box.mark:  # a badge on the corner: needs no room beside the box
        ax.add_patch(Circle((box.x - box.w / 2, box.y), 10, fc=mark, ec="white", lw=1.5))
        texts.append(Label("✗" if mark == BAD else "✓", (box.x - box.w / 2, box.y), "mm", 10, "white", bold=True))
    return texts


def _arrow(ax: Any, edge: Edge) -> list[Label]:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as Route

    ax.add_patch(FancyArrowPatch(path=Route(edge.points), arrowstyle="-|>", mutation_scale=11, color=ARROW, lw=1.1))
    if edge.label is None:
        return []
    label = edge.label
    anchor = {"left": "lm", "right": "rm"}.get(label.align, "mm")
    return [Label(label.text, (label.x, label.y), anchor, geometry.NUMBER_PT, INK)]


__all__ = ["picture", "render"]
