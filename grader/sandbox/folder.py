"""The child's folder where it lies on the host's disk, counted while the child runs.

Where the child has a mount namespace its folder is a tmpfs of FOLDER_MIB (confine.py) and the
kernel bounds it. Without one (a container's root, a machine that allows no unprivileged user
namespaces) the folder is a plain folder under the host's /tmp, where the kernel bounds only each
file (a submission filled the disk with files of 63 MiB): the grader's FolderWatch counts it
instead, and stops the child past FOLDER_MIB or FOLDER_ENTRIES. The child uses the folder as any
program uses its own (folders, removing and renaming: tempfile's TemporaryDirectory, os.replace,
sqlite's journal), so the count must see every byte that a name, a descriptor or a mapping keeps:

- a folder tree of any length of path (a red team hid 2.5 GiB below a path longer than PATH_MAX):
  walked by descriptor, each folder opened from its parent, never by path;
- files unlinked while open: what /proc/PID/fd holds;
- files mapped, closed and unlinked (a red team hid as much so): what /proc/PID/maps shows as
  "(deleted)".

The child is paused (SIGSTOP) while a count runs, and resumed after: what it counts is one moment of
the folder. A red team's child, told by a folder's access time when a count had passed it, moved 630
MiB out of the way of each count in turn, and 120 threads renaming folders in a ring left each count
seeing 30 of 170 entries. The walk also reads no folder's access time (O_NOATIME where allowed),
and stops past MAX_DEPTH levels, so it holds few descriptors whatever the child made.

Where the child has neither Landlock nor a mount namespace of its own, and a uid of its own, it may
write wherever every user may (/tmp, /dev/shm: leftovers.SHARED): what that uid owns there counts as
its folder does, against the same bounds (shared_usage): the look into the host's own world-writable folders is
the host's cost, the walks of the child's own folders there the child's. A file another user owns there that the
child only holds open is none of its cost. The folder itself is held open from the watch's start and counted
through that descriptor, wherever the child moves it (a child owns its folder, and may rename or remove it).

A file kept only by a mapping has a size the kernel shows to CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
alone (/proc/PID/map_files), which a container's root lacks. There such a file counts as what it
maps, and at most MAX_UNSEEN of them are allowed: `torch.load(path, mmap=True)` of a file since
removed keeps one, and six of them, charged 64 MiB each, stopped an honest file. The host may then
lose up to MAX_UNSEEN * FILE_MIB more than the count says.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.cgroup import PIDS
from grader.sandbox.confine import FOLDER_ENTRIES
from grader.sandbox.leftovers import DEPTH as SHARED_DEPTH
from grader.sandbox.leftovers import SHARED
from grader.sandbox.pause import Pauses

MAX_DEPTH = 32  # levels of folders (an honest file makes two or three: torch's compiler cache, a profile)
MAX_UNSEEN = 8  # files kept only by a mapping, of a size the kernel will not show (see above)
# What the child may make the host's disk write over its life, four folders' worth. The count of
# what the folder holds bounds no rewriting: ext4 writes out at close a file truncated and written
# again (auto_da_alloc), and a red team's child that rewrote one 32 MiB file so, or with pwritev2's
# RWF_DONTCACHE, had the host's disk write 3.4 and 17.5 GiB in 3 s at 10/10. The kernel counts what
# a process dirties for the disk, less what it truncated before it was written (/proc/PID/io): that
# is what the disk is made to write. An honest file writes a few MiB (a plot, a checkpoint).
MAX_WRITTEN_MIB = 1024
# One line of /proc/PID/maps: range, mode, offset, device, inode, then the path (if any) after spaces.
_MAPS_LINE = re.compile(rb"(?P<range>[0-9a-f]+-[0-9a-f]+) [-rwxsp]{4} [0-9a-f]+ "
                        rb"(?P<major>[0-9a-f]+):(?P<minor>[0-9a-f]+) (?P<inode>[0-9]+)(?: +(?P<path>.*))?", re.DOTALL)
MAX_MAPS_MIB = 8  # of /proc/PID/maps (a torch child's is 60 KiB; a red team's 60,000 mappings made 231 MiB)
PAUSE_WAIT_S = 0.5  # for every thread to stop: one in a system call that does not sleep interruptibly ends it first
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Usage:
    """What a folder holds: bytes allocated, files and folders, and why the count could not see
    all of it ("" where it could)."""

    used: int = 0
    entries: int = 0
    problem: str = ""
    unseen: int = 0  # files kept only by a mapping, counted as what they map (their size unknown)
    # the files counted, by filesystem and inode, so that no file counts twice (rt210: by inode alone, a /dev/shm
    # file numbered as one of the child's folder's on the host's disk was taken for it, 2.4 GiB uncounted)
    inodes: set[tuple[int, int]] = field(default_factory=set)
    shared_s: float = 0.0  # the CPU the count spent where every user writes (shared_usage): the host's, not the child's


class FolderWatch:
    """Counts `folder` while the child `pid` runs; past `limit` bytes (as allocated on disk), past
    MAX_ENTRIES files and folders, or where the count cannot see all of it, `stop` is called and
    `exceeded` says why (a fast writer gets a few hundred MiB past the limit before it is stopped).

    The count runs in the grader's own process, so the child decides what it costs: 9,990 empty
    files and 970 open ones made it 57-70 ms, and a count every 50 ms kept most of a core busy for
    the child's whole time limit. So the entries are capped at FOLDER_ENTRIES, as on the tmpfs (and
    the threads the pause waits for by pids.max, or threads.ThreadWatch where the host gives no
    cgroup: a red team's child ran 2,443 then, stopped only as too costly to count). The next count
    comes after COST_RATIO times the last one's CPU, at least INTERVAL_S and at most
    MAX_WAIT_S, on average: the child writes for no longer between counts however costly it makes
    them. Two counts in a row that cost more than MAX_COUNT_CPU_S on average (pause and count: a
    folder of 972 entries and 100 open files costs 3 ms, a torch child's memory map 1.5 ms) stop
    the child: never one alone, since a host busy writing to disk made single counts of a child
    that had done nothing costly take 24-80 ms of CPU (CI stopped two fixtures for the wrong
    reason). What a child can make the grader spend is then a fifth of a core at most, on average.

    On average, since the wait is drawn afresh each time (_draw). The child sees each count as a
    jump in its own clock, and a red team's, knowing when the next would come (ten times what its
    231 MB memory map made the last one cost), held 4.1 GiB between counts at 10/10."""

    INTERVAL_S = 0.04
    MAX_ENTRIES = FOLDER_ENTRIES
    COST_RATIO = 10
    MAX_WAIT_S = 0.2  # a count costing 20 ms was waited for so long; a costlier one no longer
    MAX_COUNT_CPU_S = 0.05
    # What the host's shared folders' look (Usage.shared_s) adds to the mean wait at most: a child writes for no
    # longer than half of 0.5 s past the last count there, whatever the host holds, for up to a core's share
    MAX_SHARED_WAIT_S = 0.3

    def __init__(self, folder: Path, pid: int, limit: int, stop: Callable[[], None],
                 pauses: Pauses | None = None, uid: int = 0, opened: int | None = None) -> None:
        """`pid`: the process that runs the submission (alive now: its pidfd is taken here, so that
        a pause never reaches a process that took its pid later); `pauses`: its pauses, where
        another watch pauses it too; `uid`: the child's own, where it may write outside its folder
        too (neither Landlock nor a mount namespace of its own): what that uid owns where every user
        may write counts as its folder (shared_usage); `opened`: the folder, opened (open_folder)
        before the child could move it (a copy of the descriptor is held: the caller keeps its own)."""
        self.exceeded = ""  # why the child was stopped, once it was ("writing more than 256 MiB ...")
        # what the sandbox allows, in words, where it was stopped for exceeding it
        self.allowed = (f"{limit >> 20} MiB and {self.MAX_ENTRIES:,} files and folders "
                        f"{'in its folder and where every user writes, together' if uid else 'there'}, "
                        f"{MAX_DEPTH} deep, "
                        f"and {MAX_WRITTEN_MIB:,} MiB written to the disk in all")
        self._folder, self._pid, self._limit, self._stop, self._uid = folder, pid, limit, stop, uid
        # The folder itself, held from before the submission runs and counted through: rt213's child, its folder
        # moved or removed (a child owns its folder), was counted as one that had ended, nothing anywhere, and held
        # 6 GiB in /dev/shm and 900,000 files in /tmp at 10/10. Opened by its maker, before the child started: here,
        # as the child's first reply came in, it raced the submission's first line (rv48).
        self._opened: int | None = None
        with contextlib.suppress(OSError):
            self._opened = os.dup(opened) if opened is not None else open_folder(str(folder))
        self._where = "its folder and where every user writes (/tmp, /dev/shm...)" if uid else "its folder"
        # Whether what the child makes the disk write can be counted: /proc/PID/io needs the right to
        # trace it (a grader without CAP_SYS_PTRACE, as a container's root, has none over a child of
        # another uid). Where it cannot, the layers say so rather than bound nothing in silence.
        self.counts_writes = _written(pid) is not None
        self._own = pauses is None
        self._pauses = pauses or Pauses(pid)  # (where it cannot be paused, a kernel before 5.3: counted while it runs)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        try:
            self._thread.start()
        except BaseException:  # no thread (a host out of them): what _watch would have closed is closed here
            self._close()
            raise

    def _close(self) -> None:
        if self._own:
            self._pauses.close()
        if self._opened is not None:
            os.close(self._opened)
            self._opened = None

    def _watch(self) -> None:
        try:
            self._count_until_done()
        except Exception as error:  # noqa: BLE001 - fails closed: a count that cannot finish stops the child
            # A watch that died quietly left the folder unbounded for the child's whole time (a red
            # team's forged maps line, 2.5 GiB at 10/10): whatever breaks the count ends the child.
            if self._done.is_set():  # it has ended, and with it what there was to count
                return
            self.exceeded = f"making its folder impossible to count ({type(error).__name__})"
            self._stop()
        finally:
            self._close()

    def _count_until_done(self) -> None:
        wait, last = self.INTERVAL_S, 0.0
        while not self._done.wait(wait):
            began = time.thread_time()
            with self._paused():
                usage = folder_usage(self._folder, self.MAX_ENTRIES, self._pid, self._uid, self._opened)
            spent = time.thread_time() - began - usage.shared_s  # (the host's shared folders' look is the host's)
            self.exceeded = exceeded(usage, self._limit, self.MAX_ENTRIES, self._where) or _rewritten(self._pid) or (
                f"making its folder too costly to count (more than {self.MAX_COUNT_CPU_S * 1000:.0f} ms of "
                "the grader's CPU a count)" if (last + spent) / 2 > self.MAX_COUNT_CPU_S else "")
            if self.exceeded:
                self._stop()
                return
            # (the host's share drawn too, and bounded: rt211's child, sure of ten times the look's cost after each
            # count on a host with 20,000 files in /tmp, held 448 MiB in /dev/shm between counts at 10/10)
            wait = _draw(min(max(self.INTERVAL_S, self.COST_RATIO * spent), self.MAX_WAIT_S) +
                         min(self.COST_RATIO * usage.shared_s, self.MAX_SHARED_WAIT_S))
            last = spent

    @contextlib.contextmanager
    def _paused(self) -> Iterator[None]:
        """The child stopped (all its threads) while the folder is counted, and continued after."""
        if not self._pauses.hold():  # (it has ended, or cannot be paused)
            yield
            return
        try:
            _wait_until_stopped(self._pid)
            yield
        finally:
            self._pauses.release()

    def close(self) -> None:
        self._done.set()


_RANDOM = random.SystemRandom()  # nothing of it in any process a child can read


def _draw(mean: float) -> float:
    """A wait of `mean` seconds on average, uniform from half to one and a half times that: a child
    that has just seen a count cannot tell when the next comes beyond that, so what it holds past
    the limit is what it can write in half a mean (a red team's, sure of 40 s, held 4.1 GiB), and a
    plain fast writer (3.8 GB/s here) gets no further than one and a half means allow. (Waits from
    none to twice the mean let such a writer put 360 MiB past the limit in one 95 ms wait.)"""
    return _RANDOM.uniform(0.5 * mean, 1.5 * mean)


def exceeded(usage: Usage, limit: int, most: int, where: str = "its folder") -> str:
    """Why a child whose folder (`where`) holds `usage` is stopped ("" where it is not)."""
    if usage.problem:
        return f"making {usage.problem} in {where}"
    if usage.entries > most:
        return f"making more than {most:,} files and folders in {where}"
    if usage.unseen > MAX_UNSEEN:
        return (f"keeping more than {MAX_UNSEEN} removed files mapped (torch.load(..., mmap=True) or "
                "torch.from_file of a file since removed)")
    if usage.used > limit:
        return f"writing more than {limit >> 20} MiB of files into {where}"
    return ""


def _rewritten(pid: int) -> str:
    """Why a child `pid` that made the host's disk write too much is stopped ("" where it is not, or
    has ended, or where /proc/PID/io cannot be read: FolderWatch.counts_writes)."""
    written = _written(pid)
    if written is not None and written > MAX_WRITTEN_MIB << 20:
        return f"making the disk write more than {MAX_WRITTEN_MIB:,} MiB (files written over and over)"
    return ""


def _written(pid: int) -> int | None:
    """What process `pid` made the disk write (dirtied for it, less what it truncated before it was
    written); None where that cannot be read (no such process, no right to trace it, a kernel without
    task I/O accounting)."""
    try:
        with open(f"/proc/{pid}/io", "rb") as io:
            fields = dict(line.split(b": ") for line in io.read().splitlines())
        return int(fields[b"write_bytes"]) - int(fields[b"cancelled_write_bytes"])
    except (OSError, ValueError, KeyError):
        return None


def _wait_until_stopped(pid: int) -> None:
    """Until every thread of `pid` is stopped (or has ended), PAUSE_WAIT_S at most: a thread stops
    on its way back from the kernel, so none is then within a system call. Nothing in the child can
    continue it: seccomp refuses every way it could send itself SIGCONT (the kill family, POSIX
    timers, F_SETSIG), and the vfork wait (a thread that never stops). Polled ever less often, and
    only the threads not yet stopped: 230 threads read every 0.2 ms for half a second cost the
    grader a third of a core, and a thread held in the kernel by a host busy writing to disk
    (throttled, not stopped) made 50 polls of 1 ms each. More threads than a child may run are not
    worth a look (pids.max or threads.ThreadWatch stops it)."""
    deadline, nap = time.monotonic() + PAUSE_WAIT_S, 0.0002
    stopped: set[str] = set()
    while time.monotonic() < deadline:
        try:
            listed = set(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            return
        tasks = listed - stopped  # a stopped thread stays so
        if len(listed) > PIDS:
            return
        stopped |= {task for task in tasks if thread_state(pid, task) in "TtZX"}
        if tasks <= stopped:
            return
        time.sleep(nap)
        nap = min(2 * nap, 0.05)


def thread_state(pid: int, task: int | str) -> str:
    """The state letter of thread `task` of process `pid` (R, S, D, T, Z...; the main thread's id is
    the pid), "X" where it has ended and been reaped."""
    try:
        with open(f"/proc/{pid}/task/{task}/stat", "rb") as stat_file:
            return stat_file.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return "X"


def folder_usage(folder: Path, most: int, pid: int | None = None, uid: int = 0, opened: int | None = None) -> Usage:
    """What `folder` holds, following no link, and what process `pid` keeps of it with no name
    there (open or mapped after an unlink); counting stops past `most` entries. With `uid`, what
    that uid owns where every user may write (shared_usage) and keeps there with no name, too.
    `opened`: the folder, held open since before the child could move it (read wherever it is now)."""
    usage = Usage()
    try:
        top = open_folder(".", opened) if opened is not None else open_folder(str(folder))
    except OSError:
        return usage  # gone: the child has ended and its folder was removed
    try:
        # The folder's own blocks too: a directory never shrinks, and a red team's child grew its
        # top folder to 776 KiB by names made and removed, which no count saw (rt142).
        own = os.fstat(top)
        usage.inodes.add((own.st_dev, own.st_ino))
        usage.used += own.st_blocks * 512
        _walk(top, 1, usage, most)
    finally:
        os.close(top)
    if uid and not usage.problem and usage.entries <= most:
        shared_usage(uid, usage, most)
    if pid is not None and not usage.problem and usage.entries <= most:
        process = _live_thread(pid)
        inside = (str(folder) + "/", *(f"{top}/" for top in SHARED if uid))
        _count_open(process, inside, usage, uid)
        _count_mapped(process, inside, usage)
    return usage


def shared_usage(uid: int, usage: Usage, most: int) -> None:
    """Adds to `usage` what `uid` owns where every user may write (leftovers.SHARED, and the world-writable
    folders below, as leftovers sweeps them after the child): a child with neither Landlock nor a mount
    namespace of its own may write there, and rt209's, counted nowhere while it ran, held 4.6 GiB of the host's
    memory in /dev/shm and made 161,603 files in /tmp at 10/10. Its own folder (counted first) is not
    counted again. What the look costs is the host's (every name there is looked at, whoever owns it: rv45's
    and rt210's honest files were stopped as too costly to count beside 20,000 files of root's in /tmp), so
    it is kept apart (Usage.shared_s), and the watch waits ten times as long again, up to MAX_SHARED_WAIT_S."""
    began, own = time.thread_time(), 0.0
    try:
        for top in SHARED:
            try:
                fd = open_folder(top)
            except OSError:
                continue
            try:
                own += _owned(fd, uid, SHARED_DEPTH, usage, most)
            finally:
                os.close(fd)
            if usage.problem or usage.entries > most:
                return
    finally:  # (the walks of its own folders there are its own doing: rt211's 900 of them, 12 ms a look)
        usage.shared_s += time.thread_time() - began - own


def _owned(fd: int, uid: int, depth: int, usage: Usage, most: int) -> float:
    """In the folder open at `fd`, what `uid` owns, each counted whole, its folders as _walk counts the
    child's own; and the world-writable folders others own, `depth` levels down, looked into the same way.
    Returns the CPU those walks of its folders took (the child's doing, not the host's)."""
    own = 0.0
    with os.scandir(fd) as found:
        for entry in found:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key, folder = (info.st_dev, info.st_ino), stat.S_ISDIR(info.st_mode)
            if folder and key in usage.inodes:
                continue  # (its own folder, counted already: a folder has one name)
            if info.st_uid == uid:
                # Every name, a file's second one too (rt210: ten thousand links to one file, counted as none,
                # made every other child's count too costly); its blocks once.
                usage.entries += 1
                if key not in usage.inodes:
                    usage.inodes.add(key)
                    usage.used += info.st_blocks * 512
            elif not (folder and info.st_mode & 0o002 and depth > 1):
                continue
            if usage.entries > most or usage.problem:
                return own
            if not folder:
                continue
            if info.st_uid != uid:  # (another's world-writable folder: looked into for the child's)
                try:
                    below = open_folder(entry.name, fd)
                except OSError:
                    continue
                try:
                    own += _owned(below, uid, depth - 1, usage, most)
                finally:
                    os.close(below)
                continue
            walked = time.thread_time()
            mine = _opened_below(entry.name, fd, usage)
            if mine is None:
                if usage.problem:
                    return own
                continue
            try:
                _walk(mine, 2, usage, most)
            finally:
                os.close(mine)
            own += time.thread_time() - walked
    return own


def _walk(fd: int, depth: int, usage: Usage, most: int) -> None:
    """Counts the folder open at `fd` and the folders below it, each opened from its parent's
    descriptor (a path may be longer than the kernel takes)."""
    with os.scandir(fd) as found:
        for entry in found:
            usage.entries += 1
            if usage.entries > most or usage.problem:  # one folder of 100,000 files would cost a scan of them all
                return
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # removed since it was listed
            if (info.st_dev, info.st_ino) not in usage.inodes:  # a file with two names holds its blocks once
                usage.inodes.add((info.st_dev, info.st_ino))
                usage.used += info.st_blocks * 512
            if not stat.S_ISDIR(info.st_mode):
                continue
            if depth > MAX_DEPTH:
                usage.problem = f"folders more than {MAX_DEPTH} deep"
                return
            below = _opened_below(entry.name, fd, usage)
            if below is None:
                if usage.problem:
                    return
                continue  # removed, renamed or replaced since it was listed: the next scan finds what is there
            try:
                _walk(below, depth + 1, usage, most)
            finally:
                os.close(below)


def _opened_below(name: str, parent: int, usage: Usage) -> int | None:
    """A folder of the child's, opened from its parent's descriptor: where the grader may not open it, opened
    for its owner (_opened_for_the_owner), or, where not even that, None and `usage.problem` says so; None
    too where it has gone since it was listed."""
    try:
        return open_folder(name, parent)
    except PermissionError:
        repaired = _opened_for_the_owner(name, parent)
        if repaired is None:
            usage.problem = "a folder the grader may not look into"
        return repaired
    except OSError:
        return None


def open_folder(name: str, parent: int | None = None) -> int:
    """Opened without touching its access time where the kernel allows (the grader owns it, or
    holds CAP_FOWNER): relatime told a red team's child when a count had read each folder."""
    try:
        return os.open(name, _OPEN_FOLDER | os.O_NOATIME, dir_fd=parent)
    except PermissionError:
        return os.open(name, _OPEN_FOLDER, dir_fd=parent)


def _opened_for_the_owner(name: str, parent: int) -> int | None:
    """A folder the child made without its owner's rights (os.makedirs(path, mode=0o644), which
    root, as on Colab, may enter all the same), where the grader is no root and runs as the child's
    uid: given back those rights and opened, or None where that is not allowed. The child is paused,
    and the folder is changed through a descriptor of the folder itself, never a path."""
    try:
        handle = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return None
    try:
        info = os.fstat(handle)
        if info.st_uid != os.geteuid():
            return None
        os.chmod(f"/proc/self/fd/{handle}", stat.S_IMODE(info.st_mode) | stat.S_IRWXU)
        return open_folder(name, parent)
    except OSError:
        return None
    finally:
        os.close(handle)


def _live_thread(pid: int) -> str:
    """/proc's folder of a thread of `pid` that has not exited (its descriptors and memory are the
    process's, shared by all its threads; /proc/TID, which has map_files where task/TID has not): a
    main thread that has exited alone shows neither, and a child whose main thread had done so
    would hide every file it held open or mapped."""
    for task in live_threads(pid):
        with contextlib.suppress(OSError):
            os.listdir(f"/proc/{task}/fd")  # still there to be read
            return f"/proc/{task}"
    return f"/proc/{pid}"


def live_threads(pid: int) -> list[str]:
    """The threads of process `pid` that have not exited (none where it has ended: a zombie, or gone)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    return [task for task in tasks if thread_state(pid, task) not in "ZX"]


def _count_open(process: str, inside: tuple[str, ...], usage: Usage, uid: int | None = None) -> None:
    """Regular files that the child holds open and the walks did not count: under its folder (`inside`'s
    first), any; under the shared folders (the others), those of its `uid` and those left with no name,
    never another's it only reads (rv46: root's 64 MiB file in /tmp, opened to read, was counted as the
    child's writing). The kernel names no file whose path is longer than PATH_MAX (ENAMETOOLONG): of
    what the child may open, only its own files lie that deep, so such a file counts."""
    with contextlib.suppress(OSError):
        for name in os.listdir(f"{process}/fd"):
            with contextlib.suppress(OSError):
                try:
                    target = os.readlink(f"{process}/fd/{name}")
                except OSError as err:
                    if err.errno != errno.ENAMETOOLONG:
                        continue
                    target = inside[0]
                if not target.startswith(inside):
                    continue
                info = os.stat(f"{process}/fd/{name}")
                if not target.startswith(inside[0]) and info.st_uid != uid and info.st_nlink > 0 and \
                        _read_only(process, name):
                    continue  # (another's, with a name, only read: the host lost nothing to the child)
                if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in usage.inodes:
                    usage.inodes.add((info.st_dev, info.st_ino))
                    usage.used += info.st_blocks * 512


def _read_only(process: str, fd: str) -> bool:
    """Whether the child opened descriptor `fd` to read alone (/proc/PID/fdinfo's flags): one it may write
    through grows another's world-writable file at the host's cost (rv47: root's 0666 file in /dev/shm, 64 MiB
    written, was counted as none). Not where the kernel will not say."""
    try:
        with open(f"{process}/fdinfo/{fd}", "rb") as info:
            flags = next(line for line in info.read(4096).splitlines() if line.startswith(b"flags:"))
        return int(flags.split()[1], 8) & os.O_ACCMODE == os.O_RDONLY
    except (OSError, StopIteration, IndexError, ValueError):
        return False


def _count_mapped(process: str, inside: tuple[str, ...], usage: Usage) -> None:
    """Files under the folder that the child keeps mapped after unlinking them (a file with a name
    was counted by the walk, one still open by _count_open): by their size where the kernel shows
    it (/proc/PID/map_files), and where it will not, as what the child maps of them, and unseen."""
    chunks: list[bytes] = []
    try:
        with open(f"{process}/maps", "rb") as maps:
            while chunk := maps.read(1 << 20):
                chunks.append(chunk)
                if len(chunks) > MAX_MAPS_MIB:
                    usage.problem = f"a memory map too large to count (more than {MAX_MAPS_MIB} MiB of /proc/PID/maps)"
                    return
    except OSError:
        return
    text, prefixes = b"".join(chunks), tuple(os.fsencode(place) for place in inside)
    if not any(prefix in text for prefix in prefixes):  # the usual case: a torch child maps a thousand files
        return
    removed: dict[tuple[int, int], list[str]] = {}  # (device, inode) -> the ranges that map it
    # Lines end at "\n" only, the one character the kernel escapes in a path: a red team's folder
    # named "d\r0-1 r 0 0 zz /<folder>/f (deleted)" read as a second line of its own to
    # str.splitlines, whose inode "zz" ended the count's thread with the count off for good.
    for line in text.split(b"\n"):
        fields = _MAPS_LINE.fullmatch(line)
        if fields is None:
            if line:
                usage.problem = "a memory map the grader cannot read"
                return
            continue
        path = fields["path"] or b""
        if path.startswith(prefixes) and path.endswith(b" (deleted)"):
            device = os.makedev(int(fields["major"], 16), int(fields["minor"], 16))
            removed.setdefault((device, int(fields["inode"])), []).append(fields["range"].decode())
    for inode, ranges in removed.items():
        if inode in usage.inodes:
            continue
        usage.inodes.add(inode)
        usage.entries += 1
        try:
            usage.used += os.stat(f"{process}/map_files/{ranges[0]}").st_blocks * 512
        except OSError:
            usage.unseen += 1
            usage.used += sum(_mapped_length(span) for span in ranges)


def _mapped_length(span: str) -> int:
    start, end = span.split("-")
    return int(end, 16) - int(start, 16)
