"""The notebook self-check: `from grader import check; check(get_derivative)` in Jupyter.

Grades a function defined in the notebook with the same grids, checks and canary as `grader check`
(run in the kernel's own process: see sandbox/inprocess.py), then shows the verdict table, the
feedback plot and the backward pass inline. Outside IPython it prints the terminal verdict instead.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from grader.exercise import Exercise
from grader.outcome import Outcome


def check(function: Callable[..., Any], exercise: str = "sin", *, seed: int | None = None,
          device: str = "auto") -> None:
    from grader import exercise as exercises
    from grader.grade import grade_function
    from grader.report import backward_plot, plot

    if not callable(function):  # (ux137: check("get_derivative") raised AttributeError: 'str' object has no attribute)
        raise TypeError(f"check() takes your function itself, check(get_derivative), not {type(function).__name__} "
                        f"{function!r:.60}")
    ex = exercises.load(exercise)
    if device == "cuda":  # (ux137: "the grader itself failed" and a table of 0s, where the CLI says why in a line)
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device='cuda', but torch sees no CUDA device in this notebook's kernel; use "
                             "device='auto' or 'cpu'")
    outcome = grade_function(function, ex, seed=seed, device=device)
    # (ux137: a function named cheat was told "Your file loads and defines get_derivative.": there is no file here)
    name = getattr(function, "__name__", "") or "your function"
    said = f"{name}, defined in this notebook, is graded as {ex.function}(x)."
    outcome = replace(outcome, findings=tuple(replace(f, summary=said) if f.name == "loads" and f.passed else f
                                              for f in outcome.findings))
    png = plot.picture(outcome, ex)
    if not _in_ipython():
        from grader.report import terminal

        terminal.show(outcome, ex, None, None, terminal.console())
        return
    from IPython.display import HTML, Image, display

    display(HTML(verdict_html(outcome, ex)))
    backward = backward_plot.picture(outcome.backward) if outcome.backward is not None else None
    for picture in (png, backward):
        if picture is not None:
            display(Image(data=picture, format="png"))


def verdict_html(outcome: Outcome, exercise: Exercise) -> str:
    """The verdict table: each check with its points and its message in the four parts."""
    color = "#2e7d32" if outcome.score >= outcome.max_score else "#c0392b" if outcome.score == 0 else "#e6550d"
    rows = []
    for f in outcome.findings:
        mark = "✓" if f.passed else "✗"
        rows.append(
            f"<tr><td style='font-size:1.2em'>{mark}</td><td><b>{html.escape(f.name.replace('_', ' '))}</b></td>"
            f"<td>{f.score:g} / {f.max_score:g}</td>"
            f"<td style='text-align:left;white-space:pre-wrap'>{html.escape(f.message)}</td></tr>"
        )
    return (
        f"<h3 style='color:{color}'>{html.escape(exercise.title)}: {outcome.score:g} / {outcome.max_score:g}</h3>"
        "<table><thead><tr><th></th><th>check</th><th>points</th><th style='text-align:left'>what we found"
        f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p style='color:#666'>A self-check in this notebook, seed {outcome.seed}: the grade of record comes "
        "from your submitted file, graded in a sandbox.</p>"
    )


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
