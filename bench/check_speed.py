"""How long a student waits: `grader check` on the reference solution against a bare
`python -c "import torch"`, measured side by side in one run (interleaved, so both see the same
machine load). Goal: the check takes at most 1.2x the bare torch import.

Usage: python bench/check_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "bare import torch": [sys.executable, "-c", "import torch"],
            "grader check (reference)": [sys.executable, "-m", "grader", "check",
                                         str(ROOT / "reference" / "sin_solution.py"), "--out", out],
        }
        for command in commands.values():  # warm the OS file cache for both
            timed(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:26s} median {medians[name]:.2f} s  (min {min(values):.2f}, max {max(values):.2f}, n={runs})")
    ratio = medians["grader check (reference)"] / medians["bare import torch"]
    print(f"ratio check / import torch: {ratio:.2f}x (goal: at most 1.2x)")


if __name__ == "__main__":
    main()
