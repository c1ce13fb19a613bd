"""Renderers of an Outcome: the only code that prints or writes files. Each knows nothing of the
others, and none of them decides anything about the submission."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from grader.exercise import Exercise
from grader.outcome import Outcome


class Written(NamedTuple):
    """What write_files wrote: result.json, feedback.png (None where none was drawn), and whether a
    feedback.txt changed by hand was kept aside first (write_feedback)."""

    result: Path
    picture: Path | None
    feedback_kept: bool


def write_files(outcome: Outcome, exercise: Exercise, out: Path, plot: bool = True, key: bytes = b"") -> Written:
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
    kept = write_feedback(out, terminal.as_text(outcome, exercise))
    return Written(result_json.write(outcome, out / "result.json", key, plotted=plot), picture, kept)


EDITED_FEEDBACK = "feedback.edited-*.txt"  # (a folder's feedback.txt kept aside by write_feedback)
FEEDBACK_WRITTEN = ".grader-feedback"  # beside it: the sha256 of the feedback.txt the grader last wrote


def write_feedback(out: Path, text: str) -> bool:
    """feedback.txt, the words to hand back. One that was changed since the grader wrote it is kept aside
    first, as feedback.edited-<UTC time>.txt, and True returned: a TA's notes added to it were lost to
    the next rerun, without a word (ux130). (None is kept where no record says what was written: a
    grader's before it.) The record is written first, with what is there now where that is the
    grader's, so that a grader killed between the two never takes its own words for a TA's (rv40)."""
    import hashlib
    import time

    from grader.report import atomic

    path, record = out / "feedback.txt", out / FEEDBACK_WRITTEN
    try:
        with open(path, "rb") as handle:
            now: str | None = hashlib.sha256(handle.read(1 << 24)).hexdigest()
    except OSError:
        now = None
    try:
        written: set[str] | None = set(record.read_text(encoding="ascii").split())
    except (OSError, ValueError):
        written = None
    kept = False
    if now is not None and written is not None and now not in written and not path.is_symlink():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        for n in range(100):
            aside = out / f"feedback.edited-{stamp}{f'-{n}' if n else ''}.txt"
            if not aside.exists():
                path.rename(aside)
                kept = True
                break
    hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest(), *([now] if now is not None and not kept else [])]
    atomic.write(record, "\n".join(hashes) + "\n")
    atomic.write(path, text)
    return kept


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
