"""How close to x autograd must have run for a verdict of "proven" (README, "How close to x").

A cheat that tells secret calls apart answers cos(x) on plain calls and, on secret ones, R* read
off a table of autograd's values (the secret derivative itself, exactly) at points `h` apart,
linearly interpolated (on the grain's lattice, or not); another knows the secret's smooth term
exactly and guesses its grain as 0. For each precision of the answers: for how many of ten secrets
every input of sin's grid is proven. Pure numbers through grader.verdict, no sandbox: a few seconds.

Usage: python bench/table_reach.py
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import canary, exercise, verdict
from grader.canary import Secret, secret_derivative
from grader.grids import GridCase, grid_seed, round_to
from grader.observations import CaseResult, Returned
from grader.probe import Plan

EX = exercise.load("sin")
CASES = Plan.draw(EX, grid_seed(EX.name)).cases["cpu"]
Answer = Callable[[np.ndarray, Secret], np.ndarray]


def answered(case: GridCase, plain: np.ndarray, hidden: np.ndarray, dtype: str) -> CaseResult:
    def returned(values: np.ndarray) -> Returned:
        return Returned("tensor", values=round_to(values, dtype), dtype=dtype, shape=case.shape, device="cpu")

    return CaseResult(case, (returned(plain), returned(plain), returned(hidden)), (False, False, True),
                      False, False, False, 3)


def secrets_passed(answer_dtype: str, input_dtype: str, answer: Answer) -> int:
    """Of ten secrets, those for which every input of `input_dtype` is proven."""
    passed = 0
    for k in range(10):
        key = Secret.draw(random.Random(k))
        passed += all(verdict.judge(answered(c, np.cos(c.values), answer(c.values, key), answer_dtype), EX, key).verdict
                      in verdict.SHOWN | verdict.SILENT for c in CASES if c.dtype == input_dtype)
    return passed


def table(h: float) -> Answer:
    def read(x: np.ndarray, key: Secret) -> np.ndarray:
        below = np.floor(x / h) * h
        at = lambda u: secret_derivative(u, key, "cos(u)", np)  # noqa: E731
        return at(below) + (at(below + h) - at(below)) * (x - below) / h
    return read


def smooth_only(x: np.ndarray, key: Secret) -> np.ndarray:
    return secret_derivative(x, key, "cos(u)", np) - key.b * canary.grain(x, key, np)


def main() -> None:
    # Steps that are powers of two put the table on the grain's lattice points (2^-10 and 2^-24 are
    # its steps): between two of them the grain is linear, so such a table reads it exactly.
    for answer, inputs, steps in (("float64", "float64", (1e-2, 1e-4, 1e-6, 2 ** -22, 2 ** -23, 2 ** -24, 3e-8, 1e-8)),
                                  ("float32", "float64", (1e-2, 2 ** -8, 2 ** -9, 2 ** -10, 1e-3, 5e-4, 1e-4)),
                                  ("float32", "float32", (1e-2, 2 ** -8, 2 ** -9, 2 ** -10, 1e-3, 5e-4, 1e-4))):
        line = [f"table {h:.3g} apart{' (on the lattice)' if math.log2(h).is_integer() else ''}: "
                f"{secrets_passed(answer, inputs, table(h))}/10" for h in steps]
        line.append(f"smooth term exact, grain guessed 0: {secrets_passed(answer, inputs, smooth_only)}/10")
        print(f"{answer} answers, {inputs} inputs: " + "; ".join(line), flush=True)


if __name__ == "__main__":
    main()
