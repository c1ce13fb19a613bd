"""feedback.png: the student's curve against the truth, and where it is off.

Top: the primitive, the reference derivative and the student's values on a dense grid. Bottom: the
absolute error on a log scale with the float32 tolerance; points outside it are marked. Uses
matplotlib's object API with the Agg canvas (no pyplot, no global state, no display).

Speed: everything that is the same for every submission of an exercise (axes, ticks, grid,
reference curves, legends) is drawn once per process into a Template and kept as a bitmap. Each
submission restores that bitmap, draws only its own curves on top, writes its text with Pillow and
encodes the PNG: about 20 ms instead of the 350 ms a full draw takes, which matters in a batch.
"""

from __future__ import annotations

import functools
import re
import struct
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader import safe_text
from grader.exercise import Exercise
from grader.outcome import Outcome, PlotData
from grader.report import atomic

FLOOR = 1e-10  # errors below this are drawn on the floor and called exact
CEILING = 1e2  # larger errors (inf and nan included) are drawn at this height
BAND = 3 * CEILING  # the error panel's band above the errors: the failing grid inputs' ticks and the legend
REFERENCE = "#1f77b4"
STUDENT = "#e6550d"
BAD = "#c0392b"
GOOD = "#2e7d32"
MARKS = {True: "✓", False: "✗"}
DPI = 100
PNG_LEVEL = 3  # zlib level: 6 takes three times as long for 13% fewer bytes

PLOT_DTYPE = "float32"  # the dtype of the plot's grid, as probe.run_plot sends it


def render(outcome: Outcome, exercise: Exercise, path: Path) -> Path | None:
    png = picture(outcome, exercise)
    if png is None:
        return None
    return atomic.write(path, png)


def picture(outcome: Outcome, exercise: Exercise) -> bytes | None:
    """The feedback plot as PNG bytes, or None when the outcome has nothing to plot."""
    if outcome.plot is None:
        return None
    banner = banner_text(outcome)
    return template(exercise, outcome.plot.x, bool(banner)).paint(outcome, exercise, banner)


_TEMPLATES: dict[tuple[str, bytes, bool], Template] = {}


def _gaps(x: np.ndarray) -> np.ndarray:
    """Where the grid skips a stretch (log_sin's pole at 0): the indices a line breaks before."""
    if x.size < 3:
        return np.zeros(0, dtype=np.intp)
    steps = np.diff(x)
    return np.flatnonzero(steps > 1.5 * np.median(steps)) + 1


def _broken(x: np.ndarray, y: np.ndarray, gaps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A line's points with a break (NaN) at each gap of x's (`gaps`, found afresh if not given), so
    that no line is drawn across it."""
    gaps = _gaps(x) if gaps is None else gaps
    if not gaps.size:
        return x, y
    return np.insert(x.astype(np.float64), gaps, np.nan), np.insert(y.astype(np.float64), gaps, np.nan)


def template(exercise: Exercise, x: np.ndarray, banner: bool) -> Template:
    """The static part of the figure for this exercise and grid (with room for a banner or not),
    drawn once per process."""
    key = (str(exercise.source), x.tobytes(), banner)
    if key not in _TEMPLATES:
        if len(_TEMPLATES) >= 8:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        _TEMPLATES[key] = Template(exercise, x, banner)
    return _TEMPLATES[key]


class Template:
    """A figure whose per-submission artists are `animated` (left out of the full draw), so they
    can be drawn over a saved background of everything else."""

    def __init__(self, exercise: Exercise, x: np.ndarray, banner: bool) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.x, self.gaps = x, _gaps(x)  # (the grid's gaps found once: each submission's lines break there)
        self.truth = exercise.reference(x)
        tol = exercise.tolerance("float32")
        self.limit = tol.atol + tol.rtol * np.abs(self.truth)
        self.figure = fig = Figure(figsize=(9.6, 7.2), dpi=DPI)
        self.canvas = FigureCanvasAgg(fig)
        # Fixed margins: constrained layout costs a third of a full draw for no visible gain here.
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 2], left=0.085, right=0.975, top=0.875, bottom=0.155,
                                hspace=0.08)
        top = fig.add_subplot(grid[0])
        bottom = fig.add_subplot(grid[1], sharex=top)
        top.tick_params(labelbottom=False)
        # A function of a whole vector has one value, not a curve: then only gradients are drawn.
        primitive = exercise.function_values(x) if exercise.elementwise else self.truth
        if exercise.elementwise:
            top.plot(*_broken(x, primitive, self.gaps), color="0.55", lw=1.4, label=exercise.value.replace("**2", "²"))
        top.plot(*_broken(x, self.truth, self.gaps), color=REFERENCE, lw=6, alpha=0.3, solid_capstyle="round",
                 label=f"{exercise.formula}  (reference)")
        self.curve = _animated(top.plot([], [], color=STUDENT, lw=2, label=f"your {exercise.function}(x)")[0])
        self.off = _animated(top.plot([], [], "o", ms=3.5, color=BAD, label="outside tolerance")[0])
        # A fixed scale, the reference's range with room around it: a curve far off is drawn along
        # the edge and said to be, instead of squashing the truth into a flat line.
        low, high = float(min(primitive.min(), self.truth.min())), float(max(primitive.max(), self.truth.max()))
        span = high - low or 1.0
        low, high = low - 0.3 * span, high + 0.3 * span
        if banner:  # room under the curves for the banner (its words are the submission's: see paint)
            low -= 0.7 * span
        self.ylim = (low, high)
        top.set_ylim(low, high)
        self.top, self.bottom = top, bottom
        top.set_ylabel("value", fontsize=12)
        legend = top.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=11, frameon=False)
        if legend.get_window_extent(self.canvas.get_renderer()).width > 0.98 * fig.bbox.width:
            # (two rows where one is wider than the figure, as measured: ux137's x·tanh(x), its labels counted as
            # narrow enough, ran off the right edge)
            legend.remove()
            top.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=9.5, frameon=False)
        top.grid(alpha=0.3)
        self._error_panel(bottom, "x" if exercise.elementwise else "x (each element of one input vector)")
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)
        self.size = self.canvas.get_width_height()

    def _error_panel(self, ax: Any, xlabel: str) -> None:
        ax.set_yscale("log")
        ax.plot(*_broken(self.x, self.limit, self.gaps), "--", color=BAD, lw=1.3, label="tolerance (float32)")
        self.error = _animated(ax.plot([], [], color=STUDENT, lw=1.6, label="|yours − reference|")[0])
        self.error_off = _animated(ax.plot([], [], "o", ms=3.5, color=BAD)[0])
        self.failing = _animated(ax.plot([], [], "|", ms=10, mew=1.6, color=BAD, label="failing grid inputs")[0])
        ax.set_ylim(FLOOR / 2, 1e7)  # the top band holds the legend and the failing-input ticks
        # (ux133: the band's decades were labelled, 10³ and 10⁶, and its ticks read as errors of 10³): labels up to
        # CEILING alone, and a rule under the band
        ax.set_yticks([t for t in (1e-9, 1e-6, 1e-3, 1e0) if t >= FLOOR / 2])
        ax.axhline(BAND, color="#b0b0b0", lw=0.8)
        ax.set_xlabel(xlabel, fontsize=12)
        ax.set_ylabel("absolute error", fontsize=12)
        ax.legend(loc="upper left", fontsize=10, framealpha=0.92, ncol=3)
        ax.grid(alpha=0.3, which="major")

    def paint(self, outcome: Outcome, exercise: Exercise, banner: str = "") -> bytes:
        """This submission's figure as PNG bytes: its curves drawn by matplotlib over the saved
        background, then its text by Pillow (with matplotlib's own font), which is ten times faster
        than matplotlib's glyph-by-glyph text for the same look."""
        assert outcome.plot is not None
        self.canvas.restore_region(self.background)
        lines, texts = self._values(outcome.plot.returned, outcome)
        failing = outcome.plot.failing_x
        if failing:
            self.failing.set_data(failing, np.full(len(failing), 8 * BAND))
            lines.append(self.failing)
            texts += self._failing_elsewhere(outcome.plot)
        for artist in lines:
            self.figure.draw_artist(artist)
        if banner:
            texts.append(Label(banner, self._at(self.top, 0.5, 0.05), "md", 11, BAD, align="center", boxed=True,
                               box_pad=0.5))
        return with_text(self.canvas, [*texts, *self._title(outcome, exercise)])

    def _failing_elsewhere(self, plot: PlotData) -> list[Label]:
        """Where the curve is within its tolerance and grid inputs still fail, what they fail for: a
        dtype other than the curve's (a hunter's x.float() cast back drew a curve that passes, under
        red ticks it could not explain), or else their shape or layout, not their x (ux112's answer
        of the right values on a 1-d input only, wrong for a 0-d or 2-d one, drew a curve on the
        reference under ticks that said the failures lay at those x; hn128's answers remembered between
        calls were told "their shape or layout most likely")."""
        if plot.returned is None or not np.all(np.abs(plot.returned - self.truth) <= self.limit):
            return []
        others = [d for d in plot.failing_dtypes if d != PLOT_DTYPE]
        text = (f"The failing grid inputs are {' and '.join(others)} only: this {PLOT_DTYPE} curve is within its "
                "tolerance (see correctness)." if others and len(others) == len(plot.failing_dtypes) else
                f"This curve (a 1-d {PLOT_DTYPE} input) is within its tolerance: the marked grid inputs\n"
                "fail for something else, which correctness names (their shape or layout, answers kept\n"
                "between calls...).")
        return [Label(text, self._at(self.bottom, 0.99, 0.56), "rm", 10, BAD, align="right")]

    def _at(self, ax: Any, x: float, y: float) -> tuple[float, float]:
        """Pillow's pixel position (origin top left) of a point in axes coordinates."""
        px, py = ax.transAxes.transform((x, y))
        return float(px), float(self.size[1] - py)

    def _values(self, got: np.ndarray | None, outcome: Outcome) -> tuple[list[Any], list[Label]]:
        if got is None:
            note = outcome.plot.note if outcome.plot else ""
            text = "No values to plot.\n" + "\n".join(wrap(note[:240], 60))
            return [], [Label(text, self._at(self.top, 0.5, 0.5), "mm", 12.5, BAD, align="center", boxed=True)]
        x, truth = self.x, self.truth
        error = np.abs(got - truth)
        off = ~(error <= self.limit)
        low, high = self.ylim
        shown = np.clip(got, low, high)
        self.curve.set_data(*_broken(x, shown, self.gaps))
        self.off.set_data(x[off], shown[off])
        height = np.clip(np.nan_to_num(error, nan=CEILING, posinf=CEILING), FLOOR, CEILING)
        self.error.set_data(*_broken(x, height, self.gaps))
        self.error_off.set_data(x[off], height[off])
        lines = [self.curve, self.error]
        if off.any():
            lines += [self.off, self.error_off]
        texts = []
        beyond = np.abs(got[np.isfinite(got)])
        if ((got < low) | (got > high)).any():
            largest = f"{beyond.max():.3g}" if beyond.size else "inf"
            texts.append(Label(f"Some of your values are off this scale (largest |value| {largest});\n"
                               f"they are drawn along its edge.", self._at(self.top, 0.99, 0.95), "ra", 10, BAD,
                               align="right", boxed=True, box_pad=0.4))  # (boxed: a steep curve crossed it, ux112)
        correctness = next((f for f in outcome.findings if f.name == "correctness"), None)
        if correctness is not None and not correctness.passed and not off.any() and \
                correctness.data.get("cause") in ("empty_raised", "empty_unrecorded"):
            # (hn134: jacobian's diagonal, right everywhere, raised on an empty x, and the picture showed a
            # perfect curve under 9.35 with nothing to say why)
            texts.append(Label("Right at every x here; it fails on empty inputs (a tensor with no elements):\n"
                               "see the correctness check's words.", self._at(self.top, 0.02, 0.95), "la", 10, BAD,
                               boxed=True, box_pad=0.4))
        undefined = ~np.isfinite(got) & np.isfinite(truth)
        if undefined.any():
            # (a hunter's 2·log(x) for log(x²): no curve below 0 and a band of red marks at the top of
            # the error panel, with nothing saying they are NaN)
            kind = "nan" if np.isnan(got[undefined]).any() else "inf"
            where = x[undefined]
            texts.append(Label(f"Your function returned {kind} at {int(undefined.sum())} of {x.size} points "
                               f"(x from {where.min():.3g} to {where.max():.3g}):\nno curve there; drawn at the top "
                               "of the error panel.", self._at(self.top, 0.02, 0.95), "la", 10, BAD, boxed=True,
                               box_pad=0.4))
        exact = float(np.mean(error <= FLOOR))
        if exact > 0.5:
            texts.append(Label(f"{exact:.0%} of points exact (error ≤ {FLOOR:g})", self._at(self.bottom, 0.01, 0.06),
                               "ld", 10, "#4d4d4d"))
        return lines, texts

    def _title(self, outcome: Outcome, exercise: Exercise) -> list[Label]:
        full = outcome.score >= outcome.max_score
        color = GOOD if full else BAD if outcome.score == 0 else STUDENT
        width, height = self.size
        title = Label(f"{exercise.title}:  {outcome.score:g} / {outcome.max_score:g}", (width / 2, 0.025 * height),
                      "ma", 15, color, bold=True, fit=0.97 * width)
        # A check that passed but scores nothing (held back by the autograd rule) gets a star and its
        # footnote, so the row does not show a bare ✓ beside a score of 1 / 10.
        verdicts = "   ".join(f"{MARKS[f.passed]} {f.name.replace('_', ' ')}{'*' if f.held_back else ''}"
                               for f in outcome.findings)
        device = ", ".join(outcome.devices) or "none"
        held = " · * passed, points held back until autograd is shown" if any(f.held_back for f in outcome.findings) \
            else ""
        name = safe_text.line(outcome.submission.name, 80)  # a newline or U+202E in it forged the footer
        # (not the grid seed: the picture is handed back, and with a course secret the seed is the grids'
        # own, which no student should draw: ux124; result.json keeps it)
        # Each line fitted on its own (rt192: a long file name drew the verdicts' row small too).
        bottom, line = (1 - 0.012) * height, 1.45 * round(10.5 * DPI / 72)
        return [title, Label(verdicts, (width / 2, bottom - line), "md", 10.5, "#404040", align="center",
                             fit=0.97 * width),
                Label(f"{name} · device {device}{held}", (width / 2, bottom), "md", 10.5, "#404040", align="center",
                      fit=0.97 * width)]


@dataclass(frozen=True)
class Label:
    """A piece of per-submission text, drawn with Pillow at a pixel position."""

    text: str
    at: tuple[float, float]
    anchor: str  # Pillow's: horizontal l/m/r, vertical a (top) / m / d (bottom)
    points: float
    color: str
    bold: bool = False
    align: str = "left"
    boxed: bool = False
    box_colours: tuple[str, str] | None = None  # (fill, edge) of the box: else white, and the text's colour
    box_pad: float = 0.6  # round the text, in font sizes
    fit: float | None = None  # the widest it may be, in pixels: a smaller font where it is wider

    def draw(self, draw: Any) -> None:
        font = _font(self.bold, round(self.points * DPI / 72))
        if self.fit is not None:
            # (hn136: sin_cos_norm's longer title ran off both edges, its score with it: "...: 1 / 1")
            left, _, right, _ = draw.multiline_textbbox((0, 0), self.text, font=font, spacing=_spacing(font))
            if right - left > self.fit:
                font = _font(self.bold, max(6, int(font.size * self.fit / (right - left))))
        spacing = _spacing(font)
        options = {"font": font, "anchor": self.anchor, "spacing": spacing, "align": self.align}
        if self.boxed:
            fill, edge = self.box_colours or ("white", self.color)
            left, top, right, bottom = draw.multiline_textbbox(self.at, self.text, **options)
            pad = round(self.box_pad * font.size)
            draw.rounded_rectangle((left - pad, top - pad, right + pad, bottom + pad), radius=pad, fill=fill,
                                   outline=edge, width=1)
        draw.multiline_text(self.at, self.text, fill=self.color, **options)


def _spacing(font: Any) -> int:
    return round(0.45 * font.size)  # (between a label's lines: matplotlib's 1.2 to 1.4 line height, roughly)


@functools.cache
def _font(bold: bool, pixels: int) -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    path = font_manager.findfont(font_manager.FontProperties(family="sans-serif", weight="bold" if bold else "normal"))
    return ImageFont.truetype(path, pixels)


def with_text(canvas: Any, texts: list[Label]) -> bytes:
    """An Agg canvas already drawn, with `texts` written over it by Pillow, as PNG bytes."""
    from PIL import Image, ImageDraw

    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    for text in texts:
        text.draw(draw)
    return encode_png(np.asarray(image))


def encode_png(pixels: np.ndarray) -> bytes:
    """An RGB image as PNG, every row unfiltered. Pillow tries a filter per row, which costs two
    thirds of its encoding time and, on a plot of flat colours and thin lines, makes the file no
    smaller: this takes 6 ms where Pillow takes 16, for a file 10% smaller."""
    height, width, _ = pixels.shape
    rows = np.empty((height, width * 3 + 1), np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = pixels.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL))
            + chunk(b"IEND", b""))


def _animated(artist: Any) -> Any:
    artist.set_animated(True)
    return artist


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, a number never parted from its unit or from "of N" (ux118's
    plot read "within 60" over a line of its own: "s.")."""
    kept = re.sub(r"(\d) (?=(s|ms|MiB|GiB|KiB|MB|GB|bytes)\b)", "\\1\u00a0", text)
    kept = re.sub(r"(\d) of (\d)", "\\1\u00a0of\u00a0\\2", kept)
    return [line.replace("\u00a0", " ") for line in textwrap.wrap(kept, width)]


def banner_text(outcome: Outcome) -> str:
    """Why a curve that may look right scores little: the autograd check's own summary, which says
    what happened (a fixed sentence said "your answer did not follow" the secret to students whose
    function raised on every call, or answered in half precision), wrapped for the panel."""
    autograd = next((f for f in outcome.findings if f.name == "autograd"), None)
    if autograd is None or not autograd.data.get("unproven"):
        return ""
    # At most four lines: what was found cut short rather than the rubric's last word on the score.
    found, policy = autograd.summary, ""
    if " Credit beyond loading" in found:
        found, _, rest = found.partition(" Credit beyond loading")
        policy = "Credit beyond loading" + rest
    correctness = next((f for f in outcome.findings if f.name == "correctness"), None)
    if correctness is not None and correctness.data.get("slip") and autograd.data.get("used_autograd") and \
            correctness.data.get("cause") not in _NO_OTHER_FUNCTION and correctness.cause.startswith("Likely cause: "):
        # (a slip correctness names, autograd of another function: hn140's sum left out of ‖x‖² read "your answer
        # did not change when autograd's derivative of sin did", as a cheat's would, over the panel)
        cause = correctness.cause.removeprefix("Likely cause: ")
        found = f"You used autograd, on another function: {cause[:1].lower()}{cause[1:]}"
    tail = wrap(policy, 104)
    head = wrap(found, 104)
    room = 4 - len(tail)
    if len(head) > room:
        # Whole clauses where some fit: "...but never at the numbers the …" ended mid-thought (ux114).
        clauses = re.split(r"(?<=[.:;])\s+", found)
        kept = next((" ".join(clauses[:n]) for n in range(len(clauses) - 1, 0, -1)
                     if len(wrap(" ".join(clauses[:n]), 104)) <= room), "")
        if kept:
            head = wrap(kept.rstrip(":;") + ("." if kept[-1] in ":;" else ""), 104)
    if len(head) > room:
        # Cut at a word, not inside one ("at the numbers the exerc …", a hunter's feedback.png)
        last = head[room - 1] if len(head[room - 1]) <= 100 else head[room - 1][:100].rsplit(" ", 1)[0]
        head = [*head[:room - 1], last.rstrip(",;:") + " …"]
    return "\n".join(head + tail)


# Slips that are no autograd of another function: y, x or the incoming gradient returned, x's own values, the
# graph read rather than differentiated (rv42: "You used autograd, on another function: your values equal sin(x)
# itself" for a file that returned y)
_NO_OTHER_FUNCTION = frozenset({"primitive", "identity", "x_times", "ones", "graph_inspection"})


def prewarm(exercise: Exercise, x: np.ndarray) -> None:
    """Draw this exercise's templates now (a batch worker does, while its zygote starts)."""
    for banner in (False, True):
        template(exercise, x, banner)
