"""Batch throughput: N copies of a mixed set of samples (honest, mistakes, cheats) plus one crash and
one timeout, graded (a) by a fresh `grader grade` process per submission (the baseline), (b) by
`grader batch -j 1`, (c) by `grader batch -j 2`, and (d) by `grader batch -j 2` without the timeout,
side by side in one run, plots included. Prints submissions per second, the ratio to the baseline,
when the first result was written, the rate from the first result to the last (the batch once
started), and the peak memory of one worker (the batch worker process, its zygote and its sandbox
child together, as proportional set size, so pages shared copy-on-write are counted once) sampled
every 250 ms (sampling costs CPU that the graders would miss).

The baseline grades one copy of the mix (a fresh process per file costs the same for every file;
the crash and the timeout are left out of it, which only flatters the baseline). The timeout uses a
2 s call limit (a copy of the exercise file), so one hang does not dominate the figures.
Usage: python bench/batch_speed.py [--copies N] [--samples NAME,NAME...]  (names in submissions/: the
default is SAMPLES, and adding honest_plots to them adds a student who plots as the file
loads, as the exercise asks)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["honest_backward", "honest_autograd_grad", "honest_func_vmap", "mistake_returns_y", "mistake_two_sin",
           "mistake_backward_x", "cheat_cos", "cheat_finite_diff", "cheat_shifted_sin"]
MIX = [ROOT / "submissions" / f"{name}.py" for name in SAMPLES]  # the default mix
ONCE = [ROOT / "tests" / "fixtures" / name for name in ("segfault.py", "sleeps.py")]


class MemorySampler:
    """Peak proportional set size per worker: everything below a batch's main process (its workers,
    the zygote they share, the sandbox children) divided by the number of workers, so a page shared
    copy-on-write is counted once. With one worker that is its whole tree; for `grader grade` per
    file, the tree of each."""

    def __init__(self, root: int, workers: int = 1) -> None:
        self.root = root
        self.workers = workers
        self.peak_mb = 0.0
        self.peak_process_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            parents = _parents()
            children: dict[int, list[int]] = {}
            for pid, ppid in parents.items():
                children.setdefault(ppid, []).append(pid)
            # `grader batch` (or `grader grade`) itself is the root's child; what it runs is below it.
            for top in children.get(self.root, []):
                sizes = [_pss_mb(pid) for below in children.get(top, []) for pid in _tree(below, children)]
                self.peak_mb = max(self.peak_mb, sum(sizes) / self.workers)
                self.peak_process_mb = max(self.peak_process_mb, *sizes, 0.0)


def _parents() -> dict[int, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return found


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _pss_mb(pid: int) -> float:
    return proc_mb(pid, "smaps_rollup", "Pss:")


def proc_mb(pid: int, name: str, field: str) -> float:
    """A size in MB that /proc/PID/NAME states on its line starting with FIELD (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def grader(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "grader", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def written(out: Path, started: float) -> tuple[float, float]:
    """When the first and the last result.json under `out` were written, in seconds after `started`
    (a wall-clock time)."""
    times = [path.stat().st_mtime - started for path in out.glob("*/result.json")]
    return (min(times), max(times)) if times else (float("nan"), float("nan"))


def quick_exercise(folder: Path, **limits: float) -> Path:
    """A copy of the sin exercise in `folder` with a 2 s call limit (and any other limits given), so
    that a hang does not dominate a benchmark."""
    text = (ROOT / "reference" / "sin.toml").read_text()
    solution = ROOT / "reference" / "sin_solution.py"
    text = text.replace("call_timeout_s = 10.0", "call_timeout_s = 2.0")
    for name, value in limits.items():
        text = "\n".join(f"{name} = {value}" if line.startswith(f"{name} =") else line for line in text.splitlines())
    path = folder / "sin_bench.toml"
    path.write_text(text.replace('solution = "sin_solution.py"', f'solution = "{solution}"') + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--samples", default=",".join(SAMPLES), help="comma-separated names in submissions/")
    args = parser.parse_args()
    copies = args.copies
    mix = [ROOT / "submissions" / f"{name}.py" for name in args.samples.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exercise = quick_exercise(work)
        folder, quick = work / "class", work / "class-no-timeout"
        for each in (folder, quick):
            each.mkdir()
            for i in range(copies):
                for sample in mix:
                    shutil.copy(sample, each / f"{sample.stem}_{i:03d}.py")
            for sample in ONCE:
                if each is folder or sample.name != "sleeps.py":
                    shutil.copy(sample, each / f"{sample.stem}.py")
        files, quick_files = sorted(folder.glob("*.py")), sorted(quick.glob("*.py"))

        def batch(source: Path, out: str, jobs: str) -> Callable[[], None]:
            return lambda: grader("batch", str(source), "--out", str(work / out), "-j", jobs,
                                  "--exercise", str(exercise))

        modes = {
            "fresh grade per file": (mix, "a", lambda: [grader("grade", str(f), "--out", str(work / "a" / f.stem),
                                                               "--exercise", str(exercise), "--quiet") for f in mix]),
            "batch -j 1": (files, "b", batch(folder, "b", "1")),
            "batch -j 2": (files, "c", batch(folder, "c", "2")),
            "batch -j 2, no timeout": (quick_files, "d", batch(quick, "d", "2")),
        }
        rates, memory, first, steady = {}, {}, {}, {}
        for name, (graded, out, run) in modes.items():
            sampler = MemorySampler(os.getpid(), workers=2 if "-j 2" in name else 1)
            wall, started = time.time(), time.perf_counter()
            run()
            elapsed = time.perf_counter() - started
            sampler.stop()
            rates[name] = len(graded) / elapsed
            memory[name] = (sampler.peak_mb, sampler.peak_process_mb)
            first[name], last = written(work / out, wall)
            steady[name] = (len(graded) - 1) / (last - first[name]) if last > first[name] else float("nan")
    base = rates["fresh grade per file"]
    print(f"{len(files)} submissions ({copies} copies of {len(mix)} samples, one crash, one timeout); "
          f"the baseline grades one copy of the {len(mix)}")
    for name, rate in rates.items():
        worker, process = memory[name]
        print(f"{name:22s} {rate:6.2f} submissions/s   {rate / base:5.1f}x the baseline   first result "
              f"{first[name]:5.2f} s, then {steady[name]:6.2f}/s   peak per worker {worker:4.0f} MB "
              f"(largest process {process:4.0f} MB)")


if __name__ == "__main__":
    main()
