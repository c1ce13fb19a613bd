"""summary.md and summary.html for a batch: score histogram, verdict counts, the most common hints,
and groups of identical submissions (same code once comments and whitespace are dropped)."""

from __future__ import annotations

import hashlib
import html
import io
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.report.result_json import write_atomic
from grader.submission import SubmissionError, read

VERDICTS = (
    ("missing", "no submission file"),
    ("refused", "file refused (a symbolic link, FIFO or device)"),
    ("grader_error", "grader error (not the student's fault)"),
    ("load_error", "did not load"),
    ("timeout", "timed out"),
    ("crash", "crashed"),
    ("memory", "ran out of memory"),
    ("unproven", "autograd not shown (cos, a mixture, or a check that failed under the canary)"),
    ("full", "full marks"),
    ("wrong", "wrong values"),
    ("partial", "right values, other checks failed"),
)


_NOT_RUN = ("missing", "refused", "grader_error")


@dataclass(frozen=True)
class Summary:
    exercise: str
    max_score: float
    scores: list[float]
    verdicts: Counter[str]
    hints: list[tuple[str, int]]
    identical: list[list[str]]
    review: list[tuple[str, list[str]]]  # students whose sandbox recorded events, with the events


def verdict(row: dict[str, Any], result: dict[str, Any] | None) -> str:
    if result is None or row["status"] in (*_NOT_RUN, "load_error", "timeout", "crash", "memory"):
        return str(row["status"])
    checks = {c["name"]: c for c in result["checks"]}
    if checks.get("autograd", {}).get("details", {}).get("unproven"):
        return "unproven"
    if result["score"] >= result["max_score"]:
        return "full"
    return "wrong" if not checks["correctness"]["passed"] else "partial"


def build(rows: list[dict[str, Any]], results: dict[str, dict[str, Any] | None], sources: dict[str, Path],
          exercise: str, max_score: float) -> Summary:
    verdicts: Counter[str] = Counter()
    hints: Counter[str] = Counter()
    for row in rows:
        result = results.get(row["student"])
        verdicts[verdict(row, result)] += 1
        named = {_hint(check) for check in (result or {}).get("checks", []) if not check["passed"]}
        hints.update(hint for hint in named if hint)  # each cause once per student
    review = [(row["student"], list(events)) for row in rows
              if (events := ((results.get(row["student"]) or {}).get("sandbox") or {}).get("events"))]
    return Summary(exercise, max_score, [float(r["score"]) for r in rows], verdicts,
                   hints.most_common(8), _identical(sources), review)


def _hint(check: dict[str, Any]) -> str:
    """The likely cause a check named, if it named one ("Not run" and bare counts are no hints)."""
    cause = next((line for line in check["message"].splitlines() if line.startswith("Likely cause:")), "")
    return cause.removeprefix("Likely cause: ") if cause else ""


def normalised(source: bytes) -> str:
    """The code with comments, blank lines and spacing removed; unparsable files hash as they are."""
    try:
        tokens = tokenize.tokenize(io.BytesIO(source).readline)
        kept = [t.string for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING)]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return source.decode("utf-8", "replace")
    return " ".join(kept)


def _identical(sources: dict[str, Path]) -> list[list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for student, path in sorted(sources.items()):
        try:
            source = read(path).source  # a regular file only, as when it was graded
        except SubmissionError:
            continue
        groups[hashlib.sha256(normalised(source).encode()).hexdigest()].append(student)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def _bins(summary: Summary) -> list[tuple[str, int]]:
    top = summary.max_score or 1.0
    edges = [top * i / 10 for i in range(11)]
    counts = [0] * 10
    for score in summary.scores:
        counts[min(9, int(score / top * 10))] += 1
    return [(f"{edges[i]:g}–{edges[i + 1]:g}", counts[i]) for i in range(10)]


def markdown(summary: Summary) -> str:
    n = len(summary.scores)
    mean = sum(summary.scores) / n if n else 0.0
    lines = [f"# Batch summary: {summary.exercise}", "",
             f"{n} students, mean score {mean:.2f} / {summary.max_score:g}.", "", "## Scores", "", "```"]
    widest = max((c for _, c in _bins(summary)), default=1) or 1
    lines += [f"{label:>9}  {'█' * round(30 * count / widest):<30} {count}" for label, count in _bins(summary)]
    lines += ["```", "", "## Verdicts", "", "| verdict | students |", "| --- | --- |"]
    lines += [f"| {words} | {summary.verdicts[key]} |" for key, words in VERDICTS if summary.verdicts[key]]
    lines += ["", "## Most common hints", "", "| hint | students |", "| --- | --- |"]
    lines += [f"| {hint.replace('|', '/')} | {count} |" for hint, count in summary.hints]
    lines += ["", "## Identical submissions", ""]
    lines += [f"- {', '.join(group)}" for group in summary.identical] or ["None: every file differs in its code."]
    lines += ["", "## Recorded for review", "", "What the sandbox saw a submission try (searching the heap for the "
              "canary's secret, processes, sockets, writes outside its folder); never part of a score.", ""]
    lines += [f"- {student}: {'; '.join(events)}" for student, events in summary.review] or ["Nothing."]
    return "\n".join(lines) + "\n"


def html_page(summary: Summary) -> str:
    e = html.escape
    n = len(summary.scores)
    mean = sum(summary.scores) / n if n else 0.0
    bins = _bins(summary)
    widest = max((c for _, c in bins), default=1) or 1
    bars = "".join(
        f'<g><rect x="{40 + i * 56}" y="{190 - 160 * c / widest:.1f}" width="48" height="{160 * c / widest:.1f}" '
        f'fill="#e6550d"/><text x="{64 + i * 56}" y="{184 - 160 * c / widest:.1f}" text-anchor="middle">{c}</text>'
        f'<text x="{64 + i * 56}" y="208" text-anchor="middle" font-size="11">{e(label)}</text></g>'
        for i, (label, c) in enumerate(bins))
    verdict_rows = "".join(f"<tr><td>{e(words)}</td><td>{summary.verdicts[key]}</td></tr>"
                           for key, words in VERDICTS if summary.verdicts[key])
    hint_rows = "".join(f"<tr><td>{e(h)}</td><td>{c}</td></tr>" for h, c in summary.hints)
    groups = "".join(f"<li>{e(', '.join(g))}</li>" for g in summary.identical) or "<li>None.</li>"
    review = "".join(f"<li><b>{e(student)}</b>: {e('; '.join(events))}</li>"
                     for student, events in summary.review) or "<li>Nothing.</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Batch summary: {e(summary.exercise)}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 860px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1.5em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3em .8em; text-align: left; }}
td:last-child {{ text-align: right; }} svg text {{ font-size: 12px; fill: #333; }}
</style></head><body>
<h1>Batch summary: {e(summary.exercise)}</h1>
<p>{n} students, mean score {mean:.2f} / {summary.max_score:g}.</p>
<h2>Scores</h2>
<svg width="620" height="220" role="img" aria-label="score histogram">
<line x1="36" y1="190" x2="600" y2="190" stroke="#999"/>{bars}</svg>
<h2>Verdicts</h2><table><tr><th>verdict</th><th>students</th></tr>{verdict_rows}</table>
<h2>Most common hints</h2><table><tr><th>hint</th><th>students</th></tr>{hint_rows}</table>
<h2>Identical submissions</h2><p>Same code once comments and whitespace are dropped.</p><ul>{groups}</ul>
<h2>Recorded for review</h2><p>What the sandbox saw a submission try (searching the heap for the canary's
secret, processes, sockets, writes outside its folder); never part of a score.</p><ul>{review}</ul>
</body></html>
"""


def write(summary: Summary, out: Path) -> tuple[Path, Path]:
    write_atomic(out / "summary.md", markdown(summary))
    write_atomic(out / "summary.html", html_page(summary))
    return out / "summary.md", out / "summary.html"
