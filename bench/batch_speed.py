"""Batch throughput: N copies of a mixed set of samples (honest, a mistake, a cheat, one crash, one
timeout), graded (a) by a fresh `grader grade` process per submission (the baseline), (b) by
`grader batch -j 1`, (c) by `grader batch -j 2`, side by side in one run. Prints submissions per
second, the ratio to the baseline, and the peak memory of any one process.

The timeout sample uses a 2 s call limit (a copy of the exercise file), so one hang does not
dominate the figures. Usage: python bench/batch_speed.py [--copies N]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIX = [ROOT / "submissions" / f"{name}.py" for name in ("honest_backward", "mistake_returns_y", "cheat_cos")]
MIX += [ROOT / "tests" / "fixtures" / name for name in ("segfault.py", "sleeps.py")]


def grader(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "grader", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    copies = parser.parse_args().copies
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exercise = work / "sin_bench.toml"
        text = (ROOT / "reference" / "sin.toml").read_text()
        solution = ROOT / "reference" / "sin_solution.py"
        exercise.write_text(text.replace("call_timeout_s = 10.0", "call_timeout_s = 2.0")
                            .replace('solution = "sin_solution.py"', f'solution = "{solution}"'))
        folder = work / "class"
        folder.mkdir()
        for i in range(copies):
            for sample in MIX:
                shutil.copy(sample, folder / f"{sample.stem}_{i:03d}.py")
        files = sorted(folder.glob("*.py"))
        modes = {
            "fresh grade per file": lambda: [grader("grade", str(f), "--out", str(work / "a" / f.stem),
                                                     "--exercise", str(exercise), "--quiet") for f in files],
            "batch -j 1": lambda: grader("batch", str(folder), "--out", str(work / "b"), "-j", "1",
                                         "--exercise", str(exercise)),
            "batch -j 2": lambda: grader("batch", str(folder), "--out", str(work / "c"), "-j", "2",
                                         "--exercise", str(exercise)),
        }
        rates = {}
        for name, run in modes.items():
            started = time.perf_counter()
            run()
            rates[name] = len(files) / (time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    base = rates["fresh grade per file"]
    print(f"{len(files)} submissions ({copies} copies of {len(MIX)} samples)")
    for name, rate in rates.items():
        print(f"{name:22s} {rate:6.2f} submissions/s   {rate / base:5.2f}x the baseline")
    print(f"peak memory of any one process (a sandbox child or a worker): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
