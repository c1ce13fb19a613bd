"""How close to x autograd must have run for a verdict of "proven" (README, "How close to x").

A cheat that tells secret calls apart answers the reference on plain calls and, on secret ones, R*
read off a table of autograd's values (the exercise's gradient under the secret, exactly) at points
`h` apart, linearly interpolated: on the grain's lattice (h a power of two times its step) or off
it. Others know the secret's smooth term exactly and guess its grain as 0, or know the coarse
lattice too and guess the fine one. For each exercise and precision of the answers: for how many of
ten secrets (sized for the exercise, as the grader draws them) every float64 input of the exercise's
grid is proven. Pure numbers through grader.verdict, no sandbox: a few seconds an exercise.

Usage: python bench/table_reach.py [EXERCISE ...]
"""

from __future__ import annotations

import dataclasses
import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader import canary, exercise, verdict
from grader.canary import Secret
from grader.exercise import Exercise
from grader.grids import GridCase, grid_seed, round_to
from grader.observations import CaseResult, Returned
from grader.probe import Plan

Answer = Callable[[np.ndarray, Secret], np.ndarray]


def answered(case: GridCase, plain: np.ndarray, hidden: np.ndarray, dtype: str) -> CaseResult:
    def returned(values: np.ndarray) -> Returned:
        return Returned("tensor", values=round_to(values, dtype), dtype=dtype, shape=case.shape, device="cpu")

    return CaseResult(case, (returned(plain), returned(plain), returned(hidden)), (False, False, True),
                      False, False, False, 3)


def secrets_passed(ex: Exercise, cases: list[GridCase], dtype: str, answer: Answer) -> int:
    """Of ten secrets, those for which every input is proven."""
    passed = 0
    for k in range(10):
        key = Secret.draw(random.Random(k), grain=canary.grain_size(ex.tolerances))
        passed += all(verdict.judge(answered(c, ex.reference(c.values), answer(c.values, key), dtype), ex, key).verdict
                      in verdict.SHOWN | verdict.SILENT for c in cases)
    return passed


def table(ex: Exercise, h: float) -> Answer:
    def read(x: np.ndarray, key: Secret) -> np.ndarray:
        below = np.floor(x / h) * h
        return ex.reference(below, key) + (ex.reference(below + h, key) - ex.reference(below, key)) * (x - below) / h
    return read


def guessed(ex: Exercise, coarse: float) -> Answer:
    """The secret with the fine lattice's grain guessed as 0, and the coarse one's times `coarse`."""
    return lambda x, key: ex.reference(x, dataclasses.replace(key, fine=(coarse * key.fine[0], 0.0)))


def main() -> None:
    names = sys.argv[1:] or [ex.name for ex in exercise.catalogue()]
    for name in names:
        ex = exercise.load(name)
        cases = [c for c in Plan.draw(ex, grid_seed(ex.name)).cases["cpu"] if c.dtype == "float64"]
        scales, weights = canary.grain_size(ex.tolerances)
        print(f"{name}: lattices {1 / scales[0]:.3g} and {1 / scales[1]:.3g} apart, weights {weights[0]:.3g} and "
              f"{weights[1]:.3g}", flush=True)
        for dtype, scale in zip(canary.GRAIN_DTYPES, scales, strict=True):
            step = 1 / scale
            # (a table in x is one in the primitive's argument only where that is x: sin, log_sin)
            line = [f"on the lattice {f:g} step: {secrets_passed(ex, cases, dtype, table(ex, f * step))}"
                    for f in (1, 2)]
            line += [f"off it {f:g} step: {secrets_passed(ex, cases, dtype, table(ex, f * step))}"
                     for f in (0.9, 0.3, 0.1)]
            line.append(f"grain guessed 0: {secrets_passed(ex, cases, dtype, guessed(ex, 0.0))}")
            if dtype == "float64":
                line.append(f"coarse grain known, fine guessed 0: {secrets_passed(ex, cases, dtype, guessed(ex, 1.0))}")
            print(f"  {dtype} answers (of 10 secrets): " + "; ".join(line), flush=True)


if __name__ == "__main__":
    main()
