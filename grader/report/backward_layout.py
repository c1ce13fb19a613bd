"""Where backward.png puts things: a box per step, arrows along `Step.next`, the numbers beside them.

Pure geometry in pixels (origin top left), no drawing: backward_plot.py draws what this returns.
Steps are laid out by depth, the longest path to them from the output's step; an arrow that spans
several levels takes a slot of its own on each level between, so that it never crosses a box (a
Sugiyama layout, lightly: one barycentre sweep orders each level). A pass deeper than MAX_LEVELS
has its long plain runs of steps drawn as one box. Text is measured in matplotlib's own font.
"""

from __future__ import annotations

import functools
import itertools
import math
import textwrap
from dataclasses import dataclass, replace
from typing import Any

from grader.outcome import BackwardPass, Step
from grader.report.plot import DPI, _font

WIDTH = 1100  # pixels: the two panels side by side
MARGIN = 20  # inside each panel
TOP = 110  # where the arrow into the first step starts, under the title and the headings
STUB = 34  # that arrow's length
GAP = 44  # between levels: room for an arrow and its number
NAME_PT, DETAIL_PT, NUMBER_PT = 10.0, 8.5, 9.0
LINE_PX = {NAME_PT: 18, DETAIL_PT: 15}
PAD_X, PAD_Y = 10, 6
NARROW_PAD = 4  # PAD_X in a narrow slot
SLOT = 180  # the width a step is comfortable in; narrower than NARROW, a box says only the essentials
NARROW = 120
MAX_LEVELS = 14  # a deeper pass has its long plain runs condensed
FULL_DETAIL_MAX_PX = 1500  # taller than this, only the highlighted step keeps its formula lines

Line = tuple[str, float, bool, bool]  # text, points, bold, muted


@dataclass(frozen=True)
class Box:
    x: float  # centre
    y: float  # top
    w: float
    h: float
    lines: tuple[Line, ...]
    tag: str  # beside the box: the local derivative it applied, or where the gradient ends
    mark: bool  # the first step where the passes differ
    condensed: bool  # a run of plain steps drawn as one

    def rects(self) -> list[tuple[float, float, float, float]]:
        """What the box covers, its tag included (left, top, right, bottom), with a little room."""
        covered = [(self.x - self.w / 2 - 4, self.y - 2, self.x + self.w / 2 + 4, self.y + self.h + 2)]
        if self.tag:
            left = self.x + self.w / 2 + 8
            covered.append((left, self.y + PAD_Y, left + text_width(self.tag, NUMBER_PT, False),
                            self.y + PAD_Y + LINE_PX[NAME_PT]))
        return covered


@dataclass(frozen=True)
class Label:
    text: str
    x: float
    y: float
    align: str  # "left" or "right" of x


@dataclass(frozen=True)
class Edge:
    points: tuple[tuple[float, float], ...]
    label: Label | None  # the gradient it carried


@dataclass(frozen=True)
class Panel:
    left: float
    width: float
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    bottom: float


@dataclass(frozen=True)
class Graph:
    """One pass by levels: rows of step indices and of (source, target, level) slots that arrows
    spanning several levels pass through."""

    steps: tuple[Step, ...]
    highlight: int | None
    runs: frozenset[int]
    depth: list[int]
    rows: list[list[Any]]
    edges: list[tuple[int, int]]
    routes: dict[tuple[int, int], list[Any]]


def panels(backward: BackwardPass) -> tuple[Panel, Panel]:
    """The student's pass on the left, the reference's on the right. A pass that needs more room
    than half the width takes it from the other, when the other can spare it."""
    student, reference = graph(backward.student, backward.diverges_at), graph(backward.reference, backward.reference_at)
    needs = [_need(student), _need(reference)]
    left = WIDTH / 2
    if max(needs) > WIDTH / 2:
        spare = max(min(needs), 0.3 * WIDTH, WIDTH - max(needs))
        left = min(spare, WIDTH / 2) if needs[1] >= needs[0] else WIDTH - min(spare, WIDTH / 2)
    for compact in (False, True):
        both = (layout(student, 0, left, compact), layout(reference, left, WIDTH - left, compact))
        if max(p.bottom for p in both) <= FULL_DETAIL_MAX_PX:
            break
    return both


def _need(g: Graph) -> float:
    return max((len(row) for row in g.rows), default=1) * SLOT + 2 * MARGIN


def graph(steps: tuple[Step, ...], highlight: int | None) -> Graph:
    if highlight is not None and not 0 <= highlight < len(steps):
        highlight = None
    steps, highlight, runs = condense(steps, highlight)
    n, depth = len(steps), depths(steps)
    edges = [(i, j) for i, s in enumerate(steps) for j in _targets(s, n) if depth[j] > depth[i]]
    rows: list[list[Any]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for i in range(n):
        rows[depth[i]].append(i)
    above: dict[Any, list[Any]] = {}
    routes: dict[tuple[int, int], list[Any]] = {}
    for i, j in edges:
        routes[i, j] = [(i, j, d) for d in range(depth[i] + 1, depth[j])]
        for a, b in itertools.pairwise([i, *routes[i, j], j]):
            above.setdefault(b, []).append(a)
        for slot in routes[i, j]:
            rows[slot[2]].append(slot)
    place: dict[Any, float] = {}
    for row in rows:  # each level in the order of where its arrows come from
        order = {key: k for k, key in enumerate(row)}
        row.sort(key=lambda key: _mean([place[a] for a in above.get(key, ()) if a in place], order[key]))
        place.update({key: (k + 0.5) / len(row) for k, key in enumerate(row)})
    return Graph(steps, highlight, runs, depth, rows, edges, routes)


def depths(steps: tuple[Step, ...]) -> list[int]:
    """Each step's level: the longest path to it from a step nothing points to. A cycle (never in
    autograd) cannot loop: its steps keep the level they had when the walk stopped."""
    n = len(steps)
    incoming = [0] * n
    for step in steps:
        for j in _targets(step, n):
            incoming[j] += 1
    depth = [0] * n
    ready = [i for i in range(n) if incoming[i] == 0] or [0] * bool(n)
    seen = set()
    while ready:
        i = ready.pop(0)
        if i in seen:
            continue
        seen.add(i)
        for j in _targets(steps[i], n):
            depth[j] = max(depth[j], depth[i] + 1)
            incoming[j] -= 1
            if incoming[j] <= 0:
                ready.append(j)
    return depth


def condense(steps: tuple[Step, ...], highlight: int | None) -> tuple[tuple[Step, ...], int | None, frozenset[int]]:
    """A pass deeper than MAX_LEVELS with each long plain run of steps (one in, one out, away from
    the ends and the highlighted step) drawn as one step: "31 steps", their ops, and the product of
    their local derivatives. Returns the steps, the highlighted one's new index and the runs'."""
    n = len(steps)
    if max(depths(steps), default=0) < MAX_LEVELS:
        return steps, highlight, frozenset()
    sources: list[list[int]] = [[] for _ in range(n)]
    for i, step in enumerate(steps):
        for j in _targets(step, n):
            sources[j].append(i)
    near = {highlight} | ({*sources[highlight], *_targets(steps[highlight], n)} if highlight is not None else set())
    ends = {i for i in range(n) if not sources[i] or not _targets(steps[i], n)}
    near |= ends | {j for i in ends for j in (*_targets(steps[i], n), *sources[i])}

    def plain(i: int) -> bool:
        return len(sources[i]) == 1 and len(_targets(steps[i], n)) == 1 and i not in near

    runs, seen = [], set()
    for i in range(n):
        if plain(i) and i not in seen and not plain(sources[i][0]):
            run = [i]
            while plain(after := _targets(steps[run[-1]], n)[0]) and after not in run:
                run.append(after)
            seen.update(run)
            if len(run) >= 3:
                runs.append(run)
    return _merged(steps, highlight, runs)


def _merged(steps: tuple[Step, ...], highlight: int | None,
            runs: list[list[int]]) -> tuple[tuple[Step, ...], int | None, frozenset[int]]:
    head = {run[0]: run for run in runs}
    kept = [i for i in range(len(steps)) if i not in {i for run in runs for i in run[1:]}]
    new = {i: k for k, i in enumerate(kept)}
    new.update({i: new[run[0]] for run in runs for i in run})
    merged = []
    for i in kept:
        run = head.get(i, [i])
        first, last = steps[run[0]], steps[run[-1]]
        after = tuple(dict.fromkeys(new[j] for j in last.next if j in new))
        if len(run) == 1:
            merged.append(replace(first, next=after))
            continue
        factors = [steps[k].local for k in run]
        local = math.prod(v for v in factors if v is not None) if None not in factors else None
        ops = textwrap.wrap(", ".join(dict.fromkeys(steps[k].op for k in run)), 44)
        ops = [ops[0], ops[1] + ("…" if len(ops) > 2 else "")] if len(ops) > 1 else ops
        merged.append(Step(f"⋮  {len(run)} steps  ⋮", first.grad_in, local, last.grad_out, "\n".join(ops), "", after))
    at = new.get(highlight) if highlight is not None else None
    return tuple(merged), at, frozenset(new[run[0]] for run in runs)


def _targets(step: Step, n: int) -> list[int]:
    return [j for j in dict.fromkeys(step.next) if 0 <= j < n]


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def layout(g: Graph, left: float, width: float, compact: bool) -> Panel:
    """Boxes and arrows of one pass in the panel [left, left + width], levels top to bottom."""
    steps, rows, depth = g.steps, g.rows, g.depth
    slot = {d: (width - 2 * MARGIN) / max(len(row), 1) for d, row in enumerate(rows)}
    x = {key: left + MARGIN + (k + 0.5) * slot[d] for d, row in enumerate(rows) for k, key in enumerate(row)}
    detail = [i == g.highlight or i in g.runs or not compact for i in range(len(steps))]
    contents = [_contents(steps[i], detail[i], slot[depth[i]]) for i in range(len(steps))]
    heights = [max((contents[i][1] for i in row if isinstance(i, int)), default=0.0) for row in rows]
    tops = [TOP + STUB + sum(heights[:d]) + GAP * d for d in range(len(rows))]
    boxes = tuple(Box(x[i], tops[depth[i]], *contents[i], i == g.highlight, i in g.runs) for i in range(len(steps)))
    routes = [[(x[i], TOP), (x[i], tops[0])] for i in rows[0] if isinstance(i, int)] if rows else []
    texts = [_number(steps[i].grad_in) for i in rows[0] if isinstance(i, int)] if rows else []
    leaving, arriving = _ports(g, x, boxes)
    for i, j in g.edges:
        points = [(x[i] + leaving[i, j], tops[depth[i]] + boxes[i].h)]
        for key in g.routes[i, j]:
            points += [(x[key], tops[key[2]] - GAP / 3), (x[key], tops[key[2]] + heights[key[2]] + GAP / 3)]
        routes.append([*points, (x[j] + arriving[i, j], tops[depth[j]])])
        narrow = min(slot[depth[i]], slot[depth[j]]) < NARROW  # the number is in the box instead
        texts.append("" if narrow else _arriving(g, i, j))
    edges = _labelled(routes, texts, boxes)
    return Panel(left, width, boxes, edges, tops[-1] + heights[-1] if rows else TOP + STUB)


def _ports(g: Graph, x: dict[Any, float], boxes: tuple[Box, ...]) -> tuple[dict[Any, float], dict[Any, float]]:
    """Where each arrow leaves its source and meets its target, as offsets from the box's centre:
    arrows sharing a box are spread along its edge in the order of where they go or come from, so
    that they do not cross at the box."""
    leaving: dict[Any, float] = {}
    arriving: dict[Any, float] = {}
    for end, ports in ((0, leaving), (1, arriving)):
        groups: dict[int, list[tuple[float, tuple[int, int]]]] = {}
        for edge in g.edges:
            hop = g.routes[edge][-end] if g.routes[edge] else edge[1 - end]
            groups.setdefault(edge[end], []).append((x[hop], edge))
        for box, group in groups.items():
            step = min(boxes[box].w / (len(group) + 1), 28.0)
            for k, (_, edge) in enumerate(sorted(group)):
                ports[edge] = (k - (len(group) - 1) / 2) * step
    return leaving, arriving


def _arriving(g: Graph, i: int, j: int) -> str:
    """The gradient along i -> j: what arrived at j when nothing else arrived there, else what i sent."""
    if sum(target == j for _, target in g.edges) == 1:
        return _number(g.steps[j].grad_in)
    return _number(g.steps[i].grad_out) if sum(source == i for source, _ in g.edges) == 1 else ""


def _labelled(routes: list[list[tuple[float, float]]], texts: list[str], boxes: tuple[Box, ...]) -> tuple[Edge, ...]:
    """Each arrow's number beside its last stretch, on its outer side, at the first place along it
    that overlaps no box and no other number; a number with no such place is left out."""
    taken = [rect for b in boxes for rect in b.rects()]
    edges = []
    for points, text in zip(routes, texts, strict=True):
        (x0, y0), (x1, y1) = points[-2:]
        label = None
        for t in (0.45, 0.25, 0.7, 0.12) if text else ():
            to_left = x1 < x0 - 1
            x, y = x0 + t * (x1 - x0) + (-6 if to_left else 6), y0 + t * (y1 - y0)
            w = text_width(text, NUMBER_PT, False) + 4
            rect = (x - w if to_left else x, y - 8, x if to_left else x + w, y + 8)
            if not any(_overlap(rect, other) for other in taken):
                taken.append(rect)
                label = Label(text, x, y, "right" if to_left else "left")
                break
        edges.append(Edge(tuple(points), label))
    return tuple(edges)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contents(step: Step, detail: bool, slot: float) -> tuple[float, float, tuple[Line, ...], str]:
    """A box's width, height, lines and the tag beside it, fitted to its slot on the level. In a
    narrow slot the box drops the formula, shortens the op, and holds the gradient that arrived."""
    room, narrow = slot - 12, slot < NARROW
    pad = NARROW_PAD if narrow else PAD_X
    tag = f"→ x.grad = {_number(step.grad_out)}" if step.op == "AccumulateGrad" and not step.next else (
        f"×{_number(step.local)}" if step.local is not None else "")
    lines: list[Line] = [(step.op.removesuffix("Backward0") if narrow else step.op, NAME_PT, True, False)]
    if narrow:
        lines += [(f"↓{_number(step.grad_in)}", DETAIL_PT, False, True)]
    elif detail:
        lines += [(text, DETAIL_PT, False, muted) for field, muted in ((step.formula, False), (step.at, True))
                  for text in field.split("\n") if text]
    natural = max(text_width(*line[:3]) for line in lines) + 2 * pad
    if tag and natural / 2 + 8 + text_width(tag, NUMBER_PT, False) > slot / 2 - 4:  # no room beside: inside
        lines.append((tag, DETAIL_PT, False, True))
        tag = ""
    fitted = tuple((fit(text, points, bold, room - 2 * pad), points, bold, muted)
                   for text, points, bold, muted in lines)
    w = min(max(text_width(*line[:3]) for line in fitted) + 2 * pad, room)
    return w, sum(LINE_PX[line[1]] for line in fitted) + 2 * PAD_Y, fitted, tag


def fit(text: str, points: float, bold: bool, room: float) -> str:
    """The text, cut short with an ellipsis where it is wider than room."""
    if text_width(text, points, bold) <= room:
        return text
    while len(text) > 1 and text_width(text + "…", points, bold) > room:
        text = text[:-1]
    return text + "…"


def wrap(text: str, points: float, room: float, most: int) -> list[str]:
    """Lines of at most room pixels (at most `most` of them, the last cut short if there is more)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", points, False) <= room:
            lines[-1] += f" {word}"
        else:
            lines.append(fit(word, points, False, room))
    if len(lines) > most:
        lines = [*lines[:most - 1], fit(lines[most - 1] + " …", points, False, room)]
    return lines


@functools.lru_cache(maxsize=4096)
def text_width(text: str, points: float, bold: bool) -> float:
    """Pixels the text takes in matplotlib's own font at this size (Pillow reads the same face)."""
    return float(_font(bold, round(points * DPI / 72)).getlength(text))


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.4g}".replace("-", "−")
