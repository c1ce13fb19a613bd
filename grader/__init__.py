"""grader: grades PyTorch autograd exercises, and proves the answer came through autograd.

Kept light on purpose: importing grader must not import torch, hypothesis or matplotlib.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__version__ = "0.2.2"
__all__ = ["__version__", "check"]

# Set in the sandbox's child before the student's file is imported (sandbox/child.py): a self-check
# left in a submission (the README's own `check(get_derivative)` cell) does nothing there. It ran the
# grader inside the grader: the child's sandbox refused the exercise's files, the import failed (0 of
# 10) and its imports of the grader's modules put an honest student on the TA's list (rt151).
grading = False


def check(function: Callable[..., Any], exercise: str = "sin", *, seed: int | None = None,
          device: str = "auto") -> None:
    """Self-check a function defined in a notebook: `from grader import check; check(get_derivative)`
    shows the verdict table and the feedback plot inline."""
    if grading:
        sys.stdout.write("grader.check(...) left in the file: skipped while the grader grades it (it runs in your "
                         "own notebook or Python only).\n")
        return
    from grader.notebook import check as run

    run(function, exercise, seed=seed, device=device)
