"""A cgroup per sandbox child, where the host lets the grader make one: a memory limit that counts
what RLIMIT_AS cannot see (memfd, shared memory, tmpfs files, page cache) and a limit on processes
and threads; where the host has the controllers, a bound on what it reads from disk and one CPU's
time at most (a share of the CPU of its own, however many threads it runs).

It is made inside the cgroup the grader itself runs in (read from /proc/self/cgroup), never moving
the grader anywhere: cgroup v1 (a memory and a pids hierarchy) or v2 (one folder, where memory and
pids are already enabled for the grader's children). The child joins it before it runs anything:
a fresh child through a shell that writes its own pid and then execs, a forked one first thing
after the zygote's fork (or in the holder fork, before it forks the child). Where neither works (a
container without cgroups delegated), the child keeps its address-space limit and `sandbox.layers`
says so.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import signal
import time
from pathlib import Path

PIDS = 256  # processes and threads together: torch needs a few, a submission may start some
# Reads from disk once student code runs: an honest child reads none (torch is loaded, or its page
# cache warm). A red team's child, its page cache evicted by its own memory limit, read every large
# file it could see again and again: 23.5 GB in 40 s, and another program's reads ran at a third
# of their speed. Bounded, a submission may take 8 GB of the disk's time in its 120 s at most.
READ_BYTES_PER_S = 64 << 20
READ_IOPS = 1000
# CPU: at most one CPU's time (a child runs torch on one thread), as a cgroup of its own, so that its
# share does not grow with its threads: rt160's 150 threads spinning outside the GIL, in a host's cpu
# cgroup other than the root one (Docker, Kubernetes: no autogroup there), timed out a classmate
# graded beside it in `batch -j 2` (10/10 became 1.77) while it scored 10/10.
CPU_PERIOD_US = 100_000
CPU_QUOTA_US = 100_000
STARTING = 1 << 30  # the memory allowed while only Python and torch start, before `settle`
_counter = itertools.count()
_leftovers: list[Cgroup] = []  # still busy when their child was closed; removed later
FALLBACK_LAYER = ("no cgroup here: memory bounded by address space only (shared memory refused; its folder "
                  "counted apart)")


class Cgroup:
    """One child's cgroup: a folder in each hierarchy that bounds it. While the child starts it may
    use STARTING bytes; `settle` then allows `allowance` bytes above what it has taken."""

    def __init__(self, folders: tuple[Path, ...], version: int, allowance: int, io: Path | None = None,
                 cpu_bounded: bool = False) -> None:
        self.folders = folders
        self.version = version
        self.allowance = allowance
        self.io = io  # the folder that bounds its reads from disk (v1 blkio or v2), if the host has one
        self.reads_bounded = False
        self.cpu_bounded = cpu_bounded  # at most one CPU's time, in a cpu cgroup of its own

    @property
    def procs(self) -> tuple[str, ...]:
        """The files a process writes its pid (or 0, itself) into to join."""
        return tuple(str(folder / "cgroup.procs") for folder in self.folders)

    def layer(self) -> str:
        reads = f"; reads from disk {READ_BYTES_PER_S >> 20} MiB/s" if self.io is not None else ""
        cpu = "; one CPU at most" if self.cpu_bounded else ""
        return f"cgroup v{self.version}: memory {self.allowance / (1 << 30):g} GiB above Python and torch, " \
               f"files in memory included; {PIDS} processes and threads{cpu}{reads}"

    def settle(self) -> None:
        """Allow `allowance` bytes above what the child has now, and bound its reads from disk (call
        it before student code runs: a fresh child's torch may come from a cold disk)."""
        usage = self.folders[0] / ("memory.current" if self.version == 2 else "memory.usage_in_bytes")
        with contextlib.suppress(OSError, ValueError):
            _memory_limit(self.version, self.folders[0], int(usage.read_text()) + self.allowance)
        if self.io is not None:
            self.reads_bounded = _read_limit(self.version, self.io)

    def refused_threads(self) -> bool:
        """Whether the kernel refused a process or thread here for going over pids.max."""
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split() for line in (self.folders[-1] / "pids.events").read_text().splitlines())
            return int(fields.get("max", 0)) > 0
        return False

    def out_of_memory(self) -> bool:
        """Whether the kernel killed something here for going over the memory limit."""
        memory = self.folders[0]
        for name in ("memory.events", "memory.oom_control"):  # v2, v1
            with contextlib.suppress(OSError, ValueError):
                fields = dict(line.split() for line in (memory / name).read_text().splitlines())
                return int(fields.get("oom_kill", 0)) > 0
        return False

    def remove(self, wait: float = 1.0) -> bool:
        """Kill whatever is left inside and remove the folders; a cgroup still busy after `wait`
        seconds is kept to be removed later. Whether it is gone."""
        deadline = time.monotonic() + wait
        while True:
            self._kill()
            self.folders = tuple(folder for folder in self.folders if not _rmdir(folder))
            if not self.folders:
                return True
            if time.monotonic() >= deadline:
                _leftovers.append(self)
                return False
            time.sleep(0.01)

    def _kill(self) -> None:
        for procs in self.procs:
            with contextlib.suppress(OSError, ValueError):
                for pid in Path(procs).read_text().split():
                    _kill_member(int(pid), Path(procs))


def _kill_member(pid: int, procs: Path) -> None:
    """SIGKILL to a process the cgroup lists, never to another that has its pid by now: the pid is
    pinned with a pidfd, and the process killed only if the list still holds the pid (a red team
    wound the pid counter round so that a dead child's pid went to the next student's child).
    Without pidfds (kernels before 5.3), by the pid."""
    try:
        pinned = os.pidfd_open(pid)
    except AttributeError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return
    except OSError:
        return  # gone
    try:
        if str(pid) in procs.read_text().split():
            signal.pidfd_send_signal(pinned, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pinned)


def create(allowance: int) -> Cgroup | None:
    """A new cgroup inside the grader's own, for a child that may use `allowance` bytes once started;
    None where the host allows none."""
    _remove_leftovers()
    found = _hierarchies()
    if found is None:
        return None
    version, parents, roles = found
    _remove_orphans(parents)
    name = f"grader-{os.getpid()}-{next(_counter)}"
    folders: list[Path] = []
    try:
        for parent in parents:
            (parent / name).mkdir()
            folders.append(parent / name)
        _memory_limit(version, folders[0], allowance + STARTING)
        (folders[-1] / "pids.max").write_text(str(PIDS))
    except OSError:
        Cgroup(tuple(folders), version, allowance).remove(wait=0)
        return None

    def bounding(v1: str, v2: str) -> Path | None:
        """The folder of the controller (v1's hierarchy, v2's name), where the host has it."""
        if version == 2:
            return folders[0] if _enabled_v2(v2) else None
        return folders[roles.index(v1)] if v1 in roles else None

    cpu = bounding("cpu", "cpu")
    return Cgroup(tuple(folders), version, allowance, bounding("blkio", "io"),
                  cpu is not None and _cpu_limit(version, cpu))


def _cpu_limit(version: int, folder: Path) -> bool:
    """At most CPU_QUOTA_US of every CPU_PERIOD_US; whether the host took it (a kernel without CFS
    bandwidth has no such files: the cgroup of its own still shares the CPU by cgroup, not thread)."""
    try:
        if version == 2:
            (folder / "cpu.max").write_text(f"{CPU_QUOTA_US} {CPU_PERIOD_US}")
        else:
            (folder / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (folder / "cpu.cfs_quota_us").write_text(str(CPU_QUOTA_US))
    except OSError:
        return False
    return True


def _read_limit(version: int, folder: Path) -> bool:
    """Bound reads from every disk (the kernel takes whole disks only); whether any took it."""
    bounded = False
    bounds = {"io.max": f"rbps={READ_BYTES_PER_S} riops={READ_IOPS}"} if version == 2 else \
        {"blkio.throttle.read_bps_device": str(READ_BYTES_PER_S), "blkio.throttle.read_iops_device": str(READ_IOPS)}
    for disk in _disks():
        try:
            for name, bound in bounds.items():
                (folder / name).write_text(f"{disk} {bound}")
        except OSError:
            continue  # a device the controller does not throttle (zram, say)
        bounded = True
    return bounded


@functools.cache
def _disks() -> tuple[str, ...]:
    """major:minor of each block device the host has, but those with nothing behind them (a loop
    device with no file: each bound costs a child two writes as it starts)."""
    found = []
    with contextlib.suppress(OSError):
        for dev in sorted(Path("/sys/block").glob("*/dev")):
            with contextlib.suppress(OSError, ValueError):
                if int((dev.parent / "size").read_text()) > 0:
                    found.append(dev.read_text().strip())
    return tuple(found)


def _memory_limit(version: int, memory: Path, limit: int) -> None:
    if version == 2:
        (memory / "memory.max").write_text(str(limit))
        with contextlib.suppress(OSError):  # no swap accounting on this host
            (memory / "memory.swap.max").write_text("0")
        return
    # v1 wants memory <= memory+swap at every step: lowering, the memory limit goes first.
    names = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    for name in names if limit <= int((memory / names[0]).read_text()) else names[::-1]:
        with contextlib.suppress(FileNotFoundError):  # memsw exists only where swap is accounted
            (memory / name).write_text(str(limit))


@functools.cache
def _hierarchies() -> tuple[int, tuple[Path, ...], tuple[str, ...]] | None:
    """(version, the grader's own cgroup folders to make children in, the controller of each): v1
    memory and pids if both are mounted (blkio and cpu too where they are), else v2 where memory and
    pids are enabled for children; None otherwise."""
    own = _own_cgroups()
    mounts = _mounts()
    v1 = [_folder(mounts, key, own.get(key)) for key in ("memory", "pids")]
    if all(v1):
        # (blkio and cpu between them where they are mounted: the memory folder comes first, pids last)
        found = [("memory", v1[0]), *((key, _folder(mounts, key, own.get(key))) for key in ("blkio", "cpu")),
                 ("pids", v1[1])]
        kept = [(key, folder) for key, folder in found if folder is not None]
        # (cpu and cpuacct mounted together are one folder: made once)
        kept = [(key, folder) for i, (key, folder) in enumerate(kept) if folder not in [f for _, f in kept[:i]]]
        return 1, tuple(folder for _, folder in kept), tuple(key for key, _ in kept)
    v2 = _folder(mounts, "", own.get(""))
    if v2 is not None:
        with contextlib.suppress(OSError):
            enabled = (v2 / "cgroup.subtree_control").read_text().split()
            if {"memory", "pids"} <= set(enabled):
                return 2, (v2,), ("",)
    return None


@functools.cache
def _enabled_v2(controller: str) -> bool:
    """Whether v2's `controller` (io, cpu) is enabled for the grader's children."""
    found = _hierarchies()
    with contextlib.suppress(OSError):
        return found is not None and controller in (found[1][0] / "cgroup.subtree_control").read_text().split()
    return False


def _own_cgroups() -> dict[str, str]:
    """The grader's cgroup per v1 controller, and "" for v2."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    return own


def _mounts() -> dict[str, tuple[str, str]]:
    """Where each cgroup hierarchy is mounted, by v1 controller ("" for v2): (root, mount point)."""
    mounts: dict[str, tuple[str, str]] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields, _, rest = line.partition(" - ")
            parts, tail = fields.split(), rest.split()
            if len(parts) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
                continue
            root, point = parts[3], parts[4]
            keys = [""] if tail[0] == "cgroup2" else tail[2].split(",")
            for key in keys:
                mounts.setdefault(key, (root, point))
    return mounts


def _folder(mounts: dict[str, tuple[str, str]], key: str, own: str | None) -> Path | None:
    """The grader's own cgroup folder in the hierarchy `key`, if mounted, visible and writable."""
    if own is None or key not in mounts:
        return None
    root, point = mounts[key]
    if not (own == root or own.startswith(root.rstrip("/") + "/")):
        return None
    folder = Path(point) / own[len(root):].lstrip("/")
    return folder if folder.is_dir() and os.access(folder, os.W_OK) else None


def _rmdir(folder: Path) -> bool:
    try:
        folder.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


@functools.cache
def _remove_orphans(parents: tuple[Path, ...]) -> None:
    """Once per process: remove the cgroups of graders that were killed before they could (the
    grader's pid is in the name)."""
    for parent in parents:
        for folder in parent.glob("grader-*-*"):
            owner = folder.name.split("-")[1]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                Cgroup((folder,), 1, 0).remove(wait=0)


def _remove_leftovers(wait: float = 0.0) -> None:
    for cgroup in list(_leftovers):
        _leftovers.remove(cgroup)
        cgroup.remove(wait)


atexit.register(_remove_leftovers, 2.0)
