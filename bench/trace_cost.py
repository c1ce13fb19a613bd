"""What recording and drawing the backward pass costs a batch: the bench's mix (honest, mistakes,
cheats) graded in one process from the warm zygote, as a batch worker does, with and without the
trace call and backward.png, in alternating rounds so both see the same machine. Prints the time
per submission of each and the difference, with every picture drawn afresh ("every pass new", as
for a class whose every student ran another pass) and with the pictures a worker already drew
reused (a class whose students share passes: honest ones, and the same mistake, meet the same grids).
Usage: python bench/trace_cost.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.batch_speed import MIX  # noqa: E402
from grader import exercise, grade, probe, report, sandbox  # noqa: E402
from grader.probe import Plan  # noqa: E402
from grader.report import backward_plot  # noqa: E402


def one_round(ex: exercise.Exercise, plan: Plan, out: Path, traced: bool, fresh: bool = False) -> float:
    real_trace, real_draw = probe.trace, report.write_backward
    if fresh:
        backward_plot.picture.cache_clear()
    if not traced:  # the grading as it was before the backward pass: no trace call, no backward.png
        probe.trace = lambda session, observations, case, index, timeout: observations  # type: ignore[assignment]
        report.write_backward = lambda outcome, path: None  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        for path in MIX:
            outcome = grade.grade_file(path, ex, plan=plan, warm=True)
            report.write_files(outcome, ex, out / path.stem, plot=True)
        return (time.perf_counter() - started) / len(MIX)
    finally:
        probe.trace, report.write_backward = real_trace, real_draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ex = exercise.load("sin")
    plan = Plan.draw(ex, 1234)
    assert sandbox.prewarm(), "the zygote should start on this machine"
    timings: dict[str, list[float]] = {"without": [], "every pass new": [], "passes shared": []}
    with tempfile.TemporaryDirectory() as folder:
        one_round(ex, plan, Path(folder) / "warm", True)  # templates, imports, caches: not measured
        for _ in range(args.rounds):
            for mode in ("without", "every pass new", "passes shared"):
                fresh = mode == "every pass new"
                timings[mode].append(one_round(ex, plan, Path(folder) / mode, mode != "without", fresh))
    medians = {mode: statistics.median(times) * 1000 for mode, times in timings.items()}
    base = medians["without"]
    print(f"{len(MIX)} files x {args.rounds} rounds, median ms per submission (one worker, warm zygote):")
    for mode, ms in medians.items():
        extra = f"   +{ms - base:.1f} ms, {ms / base:.2f}x" if mode != "without" else ""
        print(f"  {mode:<16} {ms:7.1f}{extra}")


if __name__ == "__main__":
    main()
