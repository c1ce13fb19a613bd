"""Where a batch worker's time goes, per submission: grades the bench's mix of samples in this process
(as a batch worker does: children forked from a warm zygote, plots on) and splits the CPU it took
between the worker (this process), the zygote, and the sandbox children (with the zygote's fork that
holds each one's pid namespace), user and kernel apart, as the kernel accounts it: a killed child is
reaped by init, so its time reaches no parent of ours, and a cgroup v1 cpuacct (root only) counts it.
Also the worker's wall time per phase. With --cprofile FILE the worker's side is profiled too.

Usage: python bench/profile_batch.py [--copies N] [--cprofile FILE] [--samples NAME,NAME...]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLES = ["honest_backward", "honest_autograd_grad", "honest_func_vmap", "mistake_returns_y", "mistake_two_sin",
           "mistake_backward_x", "cheat_cos", "cheat_finite_diff", "cheat_shifted_sin"]
_TICK = os.sysconf("SC_CLK_TCK")
_CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def own_cpu(pid: int) -> tuple[float, float]:
    """(user, system) seconds of one live process's own threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


class Tree:
    """The CPU time of a process and everything it forks from now on (a cgroup v1 cpuacct)."""

    def __init__(self, pid: int) -> None:
        self.folder = _CPUACCT / f"grader-profile-{os.getpid()}"
        self.folder.mkdir()
        (self.folder / "cgroup.procs").write_text(str(pid))

    def cpu(self) -> tuple[float, float]:
        user, system = (int((self.folder / f"cpuacct.usage_{k}").read_text()) / 1e9 for k in ("user", "sys"))
        return user, system

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--cprofile", type=Path, default=None)
    parser.add_argument("--samples", default=",".join(SAMPLES), help="comma-separated names in submissions/")
    args = parser.parse_args()
    from grader import batch, grade, sandbox
    from grader import exercise as exercises
    from grader.grids import grid_seed
    from grader.probe import Plan
    from grader.report import plot, write_files
    from grader.sandbox import oracle, session

    oracle_cpu = [0.0, 0.0]  # the oracle threads' (user, system), summed over submissions
    serve = oracle.Oracle._serve

    def timed_serve(self: oracle.Oracle, secret: object) -> None:
        r0 = resource.getrusage(resource.RUSAGE_THREAD)
        try:
            serve(self, secret)  # type: ignore[arg-type]
        finally:
            r1 = resource.getrusage(resource.RUSAGE_THREAD)
            oracle_cpu[0] += r1.ru_utime - r0.ru_utime
            oracle_cpu[1] += r1.ru_stime - r0.ru_stime

    oracle.Oracle._serve = timed_serve  # type: ignore[method-assign]

    ex = exercises.load("sin")
    started = time.perf_counter()
    plan = Plan.draw(ex, grid_seed(ex.name))
    sandbox.prewarm()
    plot.prewarm(ex, Plan.plot_grid(ex))
    print(f"grids, zygote and plot template ready in {time.perf_counter() - started:.2f} s")
    zygote = session.warm_zygote()
    assert zygote is not None
    tree = Tree(zygote.process.pid)
    # In the order a batch grades them: those that need torch's compiler stack last.
    files = [ROOT / "submissions" / f"{name}.py" for name in args.samples.split(",")] * args.copies
    files = [job.path for job in batch.compiler_last([batch.Job(f"{p.stem}", p) for p in files]) if job.path]
    phases: dict[str, float] = defaultdict(float)
    profiler = cProfile.Profile() if args.cprofile else None
    own0, zygote0, tree0, wall0 = os.times(), own_cpu(zygote.process.pid), tree.cpu(), time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for i, path in enumerate(files):
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            outcome = grade.grade_file(path, ex, plan=plan, warm=True)
            t1 = time.perf_counter()
            write_files(outcome, ex, Path(out) / f"{path.stem}_{i}")
            t2 = time.perf_counter()
            if profiler:
                profiler.disable()
            phases["grade_file"] += t1 - t0
            phases["write_files (plot, result.json)"] += t2 - t1
    wall = time.perf_counter() - wall0
    time.sleep(0.5)  # the last children's teardown
    own1, zygote1, tree1 = os.times(), own_cpu(zygote.process.pid), tree.cpu()
    tree.close()
    n = len(files)

    def ms(seconds: float) -> str:
        return f"{1000 * seconds / n:6.1f} ms"

    worker = (own1.user - own0.user, own1.system - own0.system)
    zygote_own = (zygote1[0] - zygote0[0], zygote1[1] - zygote0[1])
    children = (tree1[0] - tree0[0] - zygote_own[0], tree1[1] - tree0[1] - zygote_own[1])
    print(f"{n} submissions in {wall:.2f} s: {n / wall:.2f}/s on one worker; per submission:")
    for name, (user, system) in (("worker", worker), ("zygote", zygote_own),
                                 ("children", children)):
        print(f"  {name:9s} user {ms(user)}  kernel {ms(system)}")
        if name == "worker":
            print(f"   of which the oracle's threads: user {ms(oracle_cpu[0])}  kernel {ms(oracle_cpu[1])}")
    print(f"  total CPU {ms(sum(worker) + sum(zygote_own) + sum(children))}; wall {ms(wall)}")
    for name, seconds in phases.items():
        print(f"  worker wall in {name}: {ms(seconds)}")
    if profiler and args.cprofile:
        profiler.dump_stats(args.cprofile)
        print(f"worker profile in {args.cprofile}")


if __name__ == "__main__":
    main()
