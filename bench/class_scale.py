"""A class of generated students (bench/make_class.py) at two sizes, graded by `grader batch -j 2`:
the peak memory of the batch's main process (its own resident set, VmHWM: the workers, zygotes and
sandboxes are other processes) and how long the step after grading takes (the gradebook and the
summary: from the last result.json written to summary.html written). The main process should stay
flat: what it holds per student is a line of the gradebook, never a student's result.

The class's hangs would dominate the time (an infinite loop at import waits out the load limit), so
this grades with a copy of the exercise whose limits are 2 s; nothing else changes.
Usage: python bench/class_scale.py [--students 200 5000] [-j 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.batch_speed import proc_mb, quick_exercise  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    return proc_mb(pid, "status", "VmHWM:")


def grade(folder: Path, out: Path, exercise: Path, jobs: int) -> tuple[float, float, float]:
    """(wall seconds, the main process's peak MB, seconds from the last result to the summary)."""
    started = time.perf_counter()
    batch = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", str(jobs),
                              "--exercise", str(exercise)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    peak = [0.0]

    def watch() -> None:
        while batch.poll() is None:
            peak[0] = max(peak[0], peak_rss_mb(batch.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    batch.wait()
    watcher.join()
    if batch.returncode != 0:
        raise SystemExit(f"grader batch failed with status {batch.returncode}")
    last = max(path.stat().st_mtime for path in out.glob("*/result.json"))
    return time.perf_counter() - started, peak[0], (out / "summary.html").stat().st_mtime - last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[200, 5000])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exercise = quick_exercise(work, load_timeout_s=2.0)
        for students in args.students:
            folder = work / f"class-{students}"
            subprocess.run([sys.executable, str(ROOT / "bench" / "make_class.py"), str(folder), "--students",
                            str(students)], check=True, stdout=subprocess.DEVNULL)
            wall, peak, after = grade(folder, work / f"out-{students}", exercise, args.jobs)
            print(f"{students:6d} students: {wall:7.1f} s ({students / wall:5.2f}/s), main process peak "
                  f"{peak:5.0f} MB, gradebook and summary {after:5.2f} s", flush=True)


if __name__ == "__main__":
    main()
