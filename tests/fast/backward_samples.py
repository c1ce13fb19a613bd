"""Backward passes built by hand, as the recording will report them: for the picture's tests, and
to look at (`python -m tests.fast.backward_samples DIR` writes each as DIR/NAME.png)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from grader.outcome import BackwardPass, Step

X = 0.5


def sin_chain() -> tuple[Step, ...]:
    """y = sin(x).sum(); y.backward()"""
    c = math.cos(X)
    return (Step("SumBackward0", 1.0, 1.0, 1.0, "d/du sum(u) = 1", next=(1,)),
            Step("SinBackward0", 1.0, c, c, "d/du sin(u) = cos(u)", f"u = x = {X}", next=(2,)),
            Step("AccumulateGrad", c, None, None))


def agree() -> BackwardPass:
    return BackwardPass(X, sin_chain(), sin_chain(), None, input_values=(-1.0, 0.0, X, 2.0))


def cos_square() -> tuple[Step, ...]:
    """cos(x²): SumBackward0 -> CosBackward0 -> PowBackward0 -> AccumulateGrad"""
    u = X * X
    local = -math.sin(u)
    return (Step("SumBackward0", 1.0, 1.0, 1.0, "d/du sum(u) = 1", next=(1,)),
            Step("CosBackward0", 1.0, local, local, "d/du cos(u) = -sin(u)", f"u = x² = {u}", next=(2,)),
            Step("PowBackward0", local, 2 * X, 2 * X * local, "d/du u² = 2u", f"u = x = {X}", next=(3,)),
            Step("AccumulateGrad", 2 * X * local, None, None))


def branching() -> tuple[Step, ...]:
    """log(x²)·sin(x) + 1/x: a MulBackward0 with two next edges, a long edge past them, one sink."""
    log, s, c = math.log(X * X), math.sin(X), math.cos(X)
    return (Step("SumBackward0", 1.0, 1.0, 1.0, "d/du sum(u) = 1", next=(1,)),
            Step("AddBackward0", 1.0, 1.0, 1.0, "d/du (u + v) = 1", next=(2, 3)),
            Step("MulBackward0", 1.0, None, None, "d(u·v) = v du + u dv", next=(4, 5)),
            Step("ReciprocalBackward0", 1.0, -1 / X**2, -1 / X**2, "d/du 1/u = -1/u²", f"u = x = {X}", next=(7,)),
            Step("LogBackward0", s, 1 / (X * X), s / (X * X), "d/du log(u) = 1/u", f"u = x² = {X * X}", next=(6,)),
            Step("SinBackward0", log, c, log * c, "d/du sin(u) = cos(u)", f"u = x = {X}", next=(7,)),
            Step("PowBackward0", s / (X * X), 2 * X, 2 * s / X, "d/du u² = 2u", f"u = x = {X}", next=(7,)),
            Step("AccumulateGrad", 2 * s / X + log * c - 1 / X**2, None, None))


def chain_rule() -> BackwardPass:
    return BackwardPass(X, cos_square(), cos_square(), None, input_values=(X,))


def divergent() -> BackwardPass:
    """cos(x²) differentiated as if it were cos(x): the PowBackward0 step is missing."""
    u, local = X * X, -math.sin(X * X)
    student = (Step("SumBackward0", 1.0, 1.0, 1.0, "d/du sum(u) = 1", next=(1,)),
               Step("CosBackward0", 1.0, local, local, "d/du cos(u) = -sin(u)", f"u = x² = {u}", next=(2,)),
               Step("UnsafeViewBackward0", local, 1.0, local, next=(3,)),
               Step("AccumulateGrad", local, None, None))
    return BackwardPass(X, student, cos_square(), "Your pass goes from CosBackward0 straight to x: the reference "
                        "multiplies by d/dx x² = 2x = 1 there (PowBackward0). Differentiate the inner function too: "
                        "the chain rule needs the derivative of x² as well as of cos.",
                        diverges_at=2, reference_at=2, input_values=(0.1, X, 1.5))


def branched() -> BackwardPass:
    student = branching()
    return BackwardPass(X, student, branching(), None)


def forward_mode() -> BackwardPass:
    return BackwardPass(X, (), sin_chain(), "Your value came without a backward pass: the reference runs "
                        "SumBackward0, SinBackward0 and AccumulateGrad.", diverges_at=None, reference_at=0,
                        description="forward-mode: one tangent through sin")


def deep(n: int = 40) -> BackwardPass:
    """A student who wrote sin as a chain of n steps (a loop of small ops)."""
    names = ("MulBackward0", "AddBackward0", "UnsafeViewBackward0", "ExpandBackward0", "CloneBackward0")
    steps = [Step(names[k % len(names)], 1.0 + k / 100, 1.0 - k / 500, 1.0, f"d/du step {k}", next=(k + 1,))
             for k in range(n - 1)]
    steps.append(Step("AccumulateGrad", 0.5, None, None))
    return BackwardPass(X, tuple(steps), sin_chain(), "Your pass takes 40 steps where the reference takes 3; they "
                        "first differ at step 2, where yours multiplies by 0.998 and the reference by cos(x).",
                        diverges_at=1, reference_at=1)


ALL = {"agree": agree, "chain_rule": chain_rule, "branched": branched, "divergent": divergent,
       "forward_mode": forward_mode, "deep": deep}


if __name__ == "__main__":
    from grader.report.backward_plot import picture

    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in ALL.items():
        (folder / f"{name}.png").write_bytes(picture(make()))
