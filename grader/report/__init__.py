"""Renderers of an Outcome: the only code that prints or writes files. Each knows nothing of the
others, and none of them decides anything about the submission."""

from __future__ import annotations

from pathlib import Path

from grader.exercise import Exercise
from grader.outcome import Outcome


def write_files(outcome: Outcome, exercise: Exercise, out: Path, plot: bool = True,
                key: bytes = b"") -> tuple[Path, Path | None]:
    """Write feedback.png and backward.png (removing those this grading did not draw), feedback.txt
    (what `grader check` shows, to hand back), then result.json, each atomically: a result.json on
    disk means the grading of that submission is complete (batch resume relies on it; `key` signs it)."""
    from grader.report import atomic, result_json, terminal
    from grader.report import plot as plotting

    picture = plotting.render(outcome, exercise, out / "feedback.png") if plot else None
    if picture is None:  # none drawn: one already there is another grading's (or a student's own, linked
        atomic.remove(out / "feedback.png")  # from the summary beside their row: a red team planted a 10/10)
    if plot:
        write_backward(outcome, out / "backward.png")
    else:
        atomic.remove(out / "backward.png")
    atomic.write(out / "feedback.txt", terminal.as_text(outcome, exercise))
    return result_json.write(outcome, out / "result.json", key, plotted=plot), picture


def write_backward(outcome: Outcome, path: Path) -> Path | None:
    """backward.png when the outcome recorded a backward pass. Otherwise an older one at that path
    is removed: it would show a pass this grading did not see (a regrade in a batch's folder)."""
    from grader.report import atomic, backward_plot

    try:
        written = backward_plot.render(outcome, path)
    except Exception:  # noqa: BLE001 - a picture of the submission's numbers: result.json must still be written
        written = None
    if written is None:
        atomic.remove(path)
    return written
