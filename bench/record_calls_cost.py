"""What recording every graded call's backward passes costs on sin (record_calls, which the chain exercises
always had): the bench's mix graded from the warm zygote in one process, with it and without it, in
alternating rounds so both see the same machine. Prints the time per submission of each and their ratio.
Usage: python bench/record_calls_cost.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.batch_speed import MIX  # noqa: E402
from grader import exercise, grade, probe, sandbox  # noqa: E402
from grader.grids import grid_seed  # noqa: E402
from grader.probe import Plan  # noqa: E402


def one_round(ex: exercise.Exercise, plan: Plan, recorded: bool) -> float:
    real = probe._setup

    def without(*args: Any, **kwargs: Any) -> dict[str, Any]:
        setup = real(*args, **kwargs)
        setup["record_calls"] = False  # (the shown call's pass is still recorded: probe.trace)
        return setup

    probe._setup = real if recorded else without  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        for path in MIX:
            grade.grade_file(path, ex, plan=plan, warm=True)
        return (time.perf_counter() - started) / len(MIX)
    finally:
        probe._setup = real  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    ex = exercise.load("sin")
    plan = Plan.draw(ex, grid_seed(ex.name))
    sandbox.prewarm()
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for recorded in (True, False):
            times[recorded].append(one_round(ex, plan, recorded))
    for recorded in (True, False):
        print(f"every call recorded: {recorded!s:5}  {statistics.median(times[recorded]):.3f} s a submission "
              f"(rounds: {', '.join(f'{t:.3f}' for t in times[recorded])})")
    print(f"ratio: {statistics.median(times[True]) / statistics.median(times[False]):.2f}")


if __name__ == "__main__":
    main()
