"""The child's folder on the host: what the folder watch counts (where the folder is on the host's
disk), that what it costs the grader follows what a scan costs, not what the child would like, and
that the folders of killed graders go."""

from __future__ import annotations

import ctypes
import itertools
import mmap
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.sandbox import folder, session
from grader.sandbox.folder import MAX_DEPTH, MAX_UNSEEN, FolderWatch, folder_usage
from grader.sandbox.pause import Pauses


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process for a watch to pause (never this one: the watch's own thread would stop with it)."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


MOVER = """
import os, sys, threading
os.chdir(sys.argv[1])
os.makedirs("early/a", exist_ok=True)
os.makedirs("late/z", exist_ok=True)
with open("late/z/big.bin", "wb") as file:
    file.write(b"x" * (2 << 20))
print("ready", flush=True)

def move():
    while True:  # the file, back and forth between a folder a count reads early and one it reads late
        for there, back in (("late/z/big.bin", "early/a/big.bin"), ("early/a/big.bin", "late/z/big.bin")):
            try:
                os.rename(there, back)
            except OSError:
                pass

for _ in range(3):
    threading.Thread(target=move, daemon=True).start()
threading.Event().wait()
"""


def test_the_child_is_paused_while_it_is_counted(tmp_path: Path):
    """A red team's child moved 630 MiB out of the way of each count as it went (a folder's access
    time told it when a count had read it), and threads renaming folders in a ring left each count
    seeing 30 of 170 entries. Paused, every thread of it stopped, the child shows one moment of its
    folder: the file moved back and forth by three threads is counted every time."""
    mover = subprocess.Popen([sys.executable, "-c", MOVER, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert mover.stdout is not None and mover.stdout.readline() == b"ready\n"
        watch = FolderWatch.__new__(FolderWatch)  # its pause alone, on this process's thread
        watch._pid, watch._pauses = mover.pid, Pauses(mover.pid)
        seen = []
        for _ in range(40):
            with watch._paused():
                states = {folder.thread_state(mover.pid, task) for task in os.listdir(f"/proc/{mover.pid}/task")}
                seen.append(folder_usage(tmp_path, 1_000, mover.pid).used)
            assert states == {"T"}, states
            time.sleep(0.005)
        watch._pauses.close()
        assert min(seen) >= 2 << 20, seen
        time.sleep(0.05)
        assert folder.thread_state(mover.pid, str(mover.pid)) in "RS"  # continued
    finally:
        mover.kill()
        mover.wait()


def test_the_count_holds_files_and_the_open_ones_with_no_name(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"x" * 8192)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 8192)
    os.link(tmp_path / "a", tmp_path / "sub" / "a-again")  # one file, two names: counted once
    usage = folder_usage(tmp_path, 1_000, os.getpid())
    assert usage.entries == 4 and 16384 <= usage.used < 16384 + 8192 + 4096 and not usage.problem
    hidden = os.open(tmp_path / "gone", os.O_CREAT | os.O_WRONLY)
    try:
        os.write(hidden, b"z" * (1 << 20))
        os.unlink(tmp_path / "gone")
        with_hidden = folder_usage(tmp_path, 1_000, os.getpid())
        assert with_hidden.entries == 4 and with_hidden.used >= usage.used + (1 << 20)
    finally:
        os.close(hidden)


def test_a_folder_moved_or_removed_is_counted_where_it_went(tmp_path: Path):
    """rt213: a child that moved (or removed) its own folder was counted as one that had ended, its folder and
    where every user writes alike, and held 6 GiB in /dev/shm at 10/10. The watch holds the folder open from the
    start and counts it wherever it went."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "a.bin").write_bytes(b"\1" * (1 << 20))
    held = os.open(own, os.O_RDONLY | os.O_DIRECTORY)
    try:
        own.rename(tmp_path / "moved")
        assert folder_usage(own, 1_000).used == 0  # (by its name alone: gone)
        moved = folder_usage(own, 1_000, opened=held)
        assert moved.entries == 1 and moved.used >= 1 << 20, moved
        shutil.rmtree(tmp_path / "moved")
        assert folder_usage(own, 1_000, opened=held).entries == 0
    finally:
        os.close(held)


def test_a_folder_moved_before_its_watch_began_is_counted_through_its_makers_descriptor(
        tmp_path: Path, sleeper: subprocess.Popen[bytes]):
    """rv48: the watch opened the folder as the child's first reply came in, while the submission's first line
    could already have moved it. The session opens it as it makes it, and the watch counts through that."""
    own = tmp_path / "own"
    own.mkdir()
    held = folder.open_folder(str(own))
    try:
        own.rename(tmp_path / "moved")
        (tmp_path / "moved" / "a.bin").write_bytes(b"\1" * (2 << 20))
        stopped = threading.Event()
        watch = FolderWatch(own, sleeper.pid, 1 << 20, stopped.set, opened=held)
        try:
            assert stopped.wait(5) and watch.exceeded.startswith("writing more than 1 MiB"), watch.exceeded
        finally:
            watch.close()
    finally:
        os.close(held)  # (the watch holds a copy of its own)


def _mapped_and_unlinked(path: Path, size: int) -> int:
    """A file written, mapped, closed and unlinked: no name, no descriptor, only the mapping (made
    with libc's mmap: Python's mmap keeps a descriptor of its own). Returns the mapping's address."""
    path.write_bytes(b"m" * size)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    fd = os.open(path, os.O_RDONLY)
    address = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    os.close(fd)
    path.unlink()
    assert address not in (None, ctypes.c_void_p(-1).value)
    return int(address)


LEADER_GONE = """
import ctypes, os, platform, sys, threading
os.chdir(sys.argv[1])
held = os.open("gone.bin", os.O_CREAT | os.O_RDWR)
os.write(held, b"x" * (2 << 20))
os.unlink("gone.bin")
threading.Thread(target=threading.Event().wait).start()
print("ready", flush=True)
ctypes.CDLL(None).syscall(60 if platform.machine() == "x86_64" else 93, 0)  # exit: this thread alone
"""


def test_the_count_reads_a_live_thread_where_the_main_one_has_exited(tmp_path: Path):
    """A main thread that exits alone (the exit system call, not exit_group) leaves /proc/PID/fd and
    /proc/PID/maps empty while the other threads hold the files: read through one of those."""
    child = subprocess.Popen([sys.executable, "-c", LEADER_GONE, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 5
        while folder.thread_state(child.pid, str(child.pid)) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.listdir(f"/proc/{child.pid}/fd") == []
        assert folder_usage(tmp_path, 1_000, child.pid).used >= 2 << 20
    finally:
        child.kill()
        child.wait()


def test_the_count_holds_files_kept_only_by_a_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A red team hid 2.5 GiB in files mapped, closed and unlinked. Where the kernel shows such a
    file (map_files, to CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE) it counts as what it holds;
    elsewhere (a container's root) as what is mapped of it, and past MAX_UNSEEN of them the child
    is stopped."""
    before = folder_usage(tmp_path, 1_000, os.getpid()).used
    kept = _mapped_and_unlinked(tmp_path / "mapped.bin", 3 << 20)
    try:
        assert list(tmp_path.iterdir()) == []
        usage = folder_usage(tmp_path, 1_000, os.getpid())
        assert usage.entries == 1 and usage.used >= before + (3 << 20) and usage.unseen == 0, usage
        real_stat = os.stat
        monkeypatch.setattr(folder.os, "stat", lambda path, *args, **kwargs: (
            (_ for _ in ()).throw(PermissionError(1, "Operation not permitted")) if "map_files" in str(path)
            else real_stat(path, *args, **kwargs)))
        unseen = folder_usage(tmp_path, 1_000, os.getpid())
        assert unseen.used == before + 4096 and unseen.unseen == 1, unseen
        more = [_mapped_and_unlinked(tmp_path / f"more{n}.bin", 4096) for n in range(MAX_UNSEEN)]
        try:
            usage = folder_usage(tmp_path, 1_000, os.getpid())
        finally:
            for address in more:
                ctypes.CDLL(None).munmap(ctypes.c_void_p(address), ctypes.c_size_t(4096))
        assert usage.unseen == MAX_UNSEEN + 1 and usage.used < 1 << 20, usage
        assert folder.exceeded(usage, 1 << 30, 1_000).startswith(f"keeping more than {MAX_UNSEEN} removed files")
    finally:
        ctypes.CDLL(None).munmap(ctypes.c_void_p(kept), ctypes.c_size_t(4096))
    assert folder_usage(tmp_path, 1_000, os.getpid()).used == before


def test_the_count_follows_a_path_longer_than_the_kernel_takes(tmp_path: Path):
    """A red team hid 2.5 GiB below a path longer than PATH_MAX (4,096), which a count by path could
    not open: the walk opens each folder from its parent."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    name = "d" * 250
    try:
        for _ in range(20):  # 5,000 characters of path
            os.mkdir(name, dir_fd=fd)
            below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        file = os.open("deep.bin", os.O_CREAT | os.O_WRONLY, dir_fd=fd)
        os.write(file, b"x" * (2 << 20))
        os.close(file)
    finally:
        os.close(fd)
    usage = folder_usage(tmp_path, 1_000)
    assert usage.entries == 21 and usage.used >= 2 << 20 and not usage.problem, usage
    # Open there and unlinked, the file has no name the kernel will give (readlink of /proc/PID/fd
    # fails with ENAMETOOLONG): it counts all the same.
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(20):
        below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = below
    held = os.open("deep.bin", os.O_RDONLY, dir_fd=fd)
    try:
        os.unlink("deep.bin", dir_fd=fd)
        with pytest.raises(OSError, match="File name too long"):
            os.readlink(f"/proc/self/fd/{held}")
        assert folder_usage(tmp_path, 1_000, os.getpid()).used >= usage.used
        assert folder_usage(tmp_path, 1_000).used < usage.used - (1 << 20)
    finally:
        os.close(held)
        os.close(fd)
    session.remove_folder(tmp_path)
    assert not tmp_path.exists()


NOT_ROOT = """
import os, sys
from pathlib import Path
from grader.sandbox.folder import folder_usage
os.setgid(65534)
os.setuid(65534)
os.chdir(sys.argv[1])
os.makedirs("closed/inner")
with open("closed/inner/big.bin", "wb") as file:
    file.write(b"x" * (1 << 20))
os.chmod("closed/inner", 0o300)  # the child's chmod does nothing; its mkdir's mode (or umask) does this
os.chmod("closed", 0o100)
usage = folder_usage(Path(sys.argv[1]), 1_000)
print(usage.used >= 1 << 20, usage.problem or "-", oct(os.stat("closed").st_mode & 0o777))
"""


def test_a_count_that_is_no_root_gives_a_closed_folder_back_its_owners_rights():
    """Where the grader is no root (no namespaces: unprivileged user namespaces refused, as Ubuntu
    24.04 does), the child runs as its uid, and a folder made without the owner's rights
    (os.makedirs(path, mode=0o644)) would hide what it holds: the count gives them back."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    home = Path(tempfile.mkdtemp(prefix="grader-test-"))  # where nobody may enter (pytest's tmp_path is root's)
    try:
        os.chown(home, 65534, 65534)
        done = subprocess.run([sys.executable, "-c", NOT_ROOT, str(home)], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[2], timeout=60)
        assert done.stdout.split() == ["True", "-", "0o700"], done.stderr
    finally:
        session.remove_folder(home)


def test_folders_past_the_deepest_stop_the_count(tmp_path: Path):
    """Each level holds a descriptor while the walk is below it: past MAX_DEPTH the child is
    stopped, where an honest file makes two or three levels."""
    (tmp_path.joinpath(*["d"] * MAX_DEPTH)).mkdir(parents=True)
    assert folder_usage(tmp_path, 1_000).problem == ""
    (tmp_path.joinpath(*["d"] * (MAX_DEPTH + 1))).mkdir()
    assert folder_usage(tmp_path, 1_000).problem == f"folders more than {MAX_DEPTH} deep"


def test_the_count_stops_past_its_cap(tmp_path: Path):
    for number in range(50):
        (tmp_path / f"f{number}").touch()
    assert folder_usage(tmp_path, 10).entries == 11


def test_a_slow_scan_waits_ten_times_as_long_before_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              sleeper: subprocess.Popen[bytes]):
    """A child decides what a scan costs (9,990 files and 970 open ones made it 60 ms, every 50 ms):
    the watch spends at most about a tenth of a core scanning. What counts is the scan's CPU: a
    child that keeps the pause waiting (a thread in a throttled write stops when the write is done)
    buys no longer unwatched."""
    began: list[float] = []

    def slow_scan(path: Path, most: int, *_: object) -> folder.Usage:
        began.append(time.monotonic())
        spent = time.thread_time()
        while time.thread_time() - spent < 0.015:
            pass
        return folder.Usage()

    monkeypatch.setattr(folder, "folder_usage", slow_scan)
    monkeypatch.setattr(folder, "_draw", lambda mean: mean)  # the mean itself, not a draw around it
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 20, lambda: None)
    time.sleep(1.2)
    watch.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(began)]
    assert len(gaps) >= 1 and min(gaps) >= FolderWatch.COST_RATIO * 0.015, gaps

    began.clear()
    monkeypatch.setattr(folder, "folder_usage", lambda *args: began.append(time.monotonic()) or folder.Usage())
    monkeypatch.setattr(folder, "_wait_until_stopped", lambda pid: time.sleep(0.1) or 1)
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 20, lambda: None)
    time.sleep(1.2)
    watch.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(began)]
    assert len(gaps) >= 4 and max(gaps) < 0.5, gaps  # 0.15 s a scan, not 1 s


def test_a_count_too_costly_stops_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           sleeper: subprocess.Popen[bytes]):
    """What a count costs is the child's doing (a memory map of 231 MB made one cost 4 s): past
    MAX_COUNT_CPU_S the child is stopped rather than counted ever more rarely."""
    def costly(path: Path, most: int, *_: object) -> folder.Usage:
        spent = time.thread_time()
        while time.thread_time() - spent < 2 * FolderWatch.MAX_COUNT_CPU_S:
            pass
        return folder.Usage()

    monkeypatch.setattr(folder, "folder_usage", costly)
    stopped = threading.Event()
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 30, stopped.set)
    assert stopped.wait(5)
    assert watch.exceeded == "making its folder too costly to count (more than 50 ms of the grader's CPU a count)"


def _spending(*costs: float) -> tuple[list[tuple[float, float]], Callable[..., folder.Usage]]:
    """A count that spends `costs` of CPU in turn (the last one after), and when each began and ended."""
    spans: list[tuple[float, float]] = []

    def count(path: Path, most: int, *_: object) -> folder.Usage:
        began, spent = time.monotonic(), time.thread_time()
        while time.thread_time() - spent < costs[min(len(spans) + 1, len(costs)) - 1]:
            pass
        spans.append((began, time.monotonic()))
        return folder.Usage()
    return spans, count


def test_one_costly_count_alone_stops_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             sleeper: subprocess.Popen[bytes]):
    """A host busy writing to disk made single counts of a child that had done nothing costly take
    24-80 ms of the grader's CPU, and CI's hostile fixtures were stopped as too costly to count
    instead of for what they wrote. Two counts in a row decide; and however costly a count, the
    next comes within MAX_WAIT_S on average (the child writes no longer unwatched)."""
    spans, count = _spending(1.8 * FolderWatch.MAX_COUNT_CPU_S, 0.001)  # (80 ms were seen)
    monkeypatch.setattr(folder, "folder_usage", count)
    monkeypatch.setattr(folder, "_draw", lambda mean: mean)  # the mean itself, not a draw around it
    stopped = threading.Event()
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 30, stopped.set)
    assert not stopped.wait(1.0), watch.exceeded
    watch.close()
    waited = spans[1][0] - spans[0][1]  # (the pause's own waits come on top: none for a sleeper)
    assert len(spans) >= 4 and waited < FolderWatch.MAX_WAIT_S + 0.05, spans


def test_a_memory_map_too_large_is_not_read_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A red team's 60,000 mappings of a file 15 folders deep made /proc/PID/maps 231 MB, read in
    full by every count: past MAX_MAPS_MIB the reading stops, and the child with it."""
    assert folder_usage(tmp_path, 1_000, os.getpid()).problem == ""  # this process's map: under a MiB
    monkeypatch.setattr(folder, "MAX_MAPS_MIB", 0)
    assert folder_usage(tmp_path, 1_000, os.getpid()).problem.startswith("a memory map too large to count")


def test_a_maps_line_is_what_the_kernel_ends_with_a_newline(tmp_path: Path):
    """The kernel escapes only "\\n" in a mapped file's path. A red team's folder named
    "d\\r0-1 r 0 0 zz <folder>" read as a line of its own to str.splitlines, and its inode "zz"
    ended the count's thread: its file, kept mapped, is now one mapped file with a name (counted
    once, by the walk), and the count goes on."""
    forged = tmp_path / "d\r0-1 r 0 0 zz " / str(tmp_path).lstrip("/")  # "...zz /<folder>"
    forged.mkdir(parents=True)
    (forged / "f (deleted)").write_bytes(b"\0" * 4096)
    with open(forged / "f (deleted)", "r+b") as file, mmap.mmap(file.fileno(), 4096):
        usage = folder_usage(tmp_path, 1_000, os.getpid())
    assert usage.problem == "" and usage.used >= 4096 and usage.unseen == 0, usage


def test_a_count_that_breaks_stops_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             sleeper: subprocess.Popen[bytes]):
    """Whatever breaks a count, the watch fails closed: a thread that died quietly left the folder
    unbounded for the rest of the child's time."""
    def broken(*args: object) -> folder.Usage:
        raise ValueError("invalid literal for int() with base 10: 'zz'")

    monkeypatch.setattr(folder, "folder_usage", broken)
    stopped = threading.Event()
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 30, stopped.set)
    assert stopped.wait(5)
    assert watch.exceeded == "making its folder impossible to count (ValueError)"
    state = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state != "T"  # continued after the count, for `stop` to end it


def test_a_watch_with_no_thread_gives_back_what_it_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          sleeper: subprocess.Popen[bytes]):
    """A host out of threads: the watch's folder and the child's pidfd were held for the grader's life."""
    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(RuntimeError):
        FolderWatch(tmp_path, sleeper.pid, 1 << 30, lambda: None)
    monkeypatch.undo()
    assert set(os.listdir("/proc/self/fd")) <= before


def test_the_wait_between_counts_is_drawn_afresh():
    """A child that has just seen a count cannot tell when the next comes within half of the mean
    the CPU budget asks for, and no wait is longer than one and a half of it."""
    draws = [folder._draw(0.04) for _ in range(4000)]
    assert 0.038 < sum(draws) / len(draws) < 0.042
    assert 0.02 <= min(draws) < 0.021 and 0.059 < max(draws) <= 0.06


def test_past_the_cap_the_child_is_stopped_and_told_why(tmp_path: Path, sleeper: subprocess.Popen[bytes]):
    for number in range(FolderWatch.MAX_ENTRIES + 1):
        (tmp_path / f"f{number}").touch()
    stopped = threading.Event()
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 30, stopped.set)
    assert stopped.wait(5)
    assert watch.exceeded == "making more than 1,000 files and folders in its folder"


def test_the_folders_of_killed_graders_go_and_no_one_elses():
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    temp = Path(tempfile.gettempdir())
    old = time.time() - session.DEAD_FOLDER_AGE_S - 60
    killed, young = temp / f"grader-{dead}-killed", temp / f"grader-{dead}-young"
    running = temp / f"grader-{os.getpid()}-old"
    for made in (killed, young, running):
        (made / "deep").mkdir(parents=True)
        (made / "deep" / "left.bin").write_bytes(b"x")
    given = temp / f"grader-{dead}-nobodys"  # a root grader's child that dropped to nobody
    (given / "left.bin").parent.mkdir()
    (given / "left.bin").write_bytes(b"x")
    if os.geteuid() == 0:
        os.chown(given, 65534, 65534)
    for made in (killed, running, given):
        os.utime(made, (old, old))
    try:
        session._remove_dead_folders.__wrapped__()
        assert not killed.exists() and not given.exists()
        assert young.exists() and running.exists()  # a submission being graded; a grader alive
    finally:
        for made in (killed, young, running, given):
            session.remove_folder(made)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to give the files a child's uid")
def test_what_a_childs_uid_owns_where_every_user_writes_counts_as_its_folder():
    """rt209: a child with neither Landlock nor a mount namespace of its own, of a uid of its own, wrote 4.6 GiB
    into /dev/shm (the host's memory) and 161,603 files into /tmp at 10/10, counted nowhere while it ran."""
    from grader.sandbox.confine import CHILD_UIDS

    uid = CHILD_UIDS.start + 4243  # (no child of this test's process has it)
    own = Path(tempfile.mkdtemp(prefix="grader-test-own-", dir="/tmp"))
    shared = Path(tempfile.mkdtemp(prefix="grader-test-shared-", dir="/tmp"))
    held = Path(f"/dev/shm/grader-test-held-{os.getpid()}")
    try:
        os.chown(own, uid, uid)
        (own / "a.bin").write_bytes(b"\1" * (1 << 20))
        shared.chmod(0o777)  # (a world-writable folder below /tmp, another's: looked into)
        tree = shared / "tree"
        (tree / "deep").mkdir(parents=True)
        (tree / "deep" / "b.bin").write_bytes(b"\2" * (2 << 20))
        for path in (tree, tree / "deep", tree / "deep" / "b.bin"):
            os.chown(path, uid, uid)
        (shared / "theirs.bin").write_bytes(b"\3" * (4 << 20))  # (root's: not the child's)
        held.write_bytes(b"\4" * (3 << 20))
        os.chown(held, uid, uid)
        alone = folder_usage(own, 1_000)
        counted = folder_usage(own, 1_000, uid=uid)
        assert alone.entries == 1 and (1 << 20) <= alone.used < (2 << 20), alone
        assert counted.entries == 1 + 4, counted  # (its folder once, tree, deep, b.bin, the /dev/shm file)
        assert (6 << 20) <= counted.used < (8 << 20), counted.used
        assert folder.exceeded(counted, 5 << 20, 1_000, "its folder, /tmp and /dev/shm") == \
            "writing more than 5 MiB of files into its folder, /tmp and /dev/shm"
        assert folder_usage(own, 3, uid=uid).entries > 3  # (the entries' bound holds there too)
        # rt210: a name a file has twice is an entry twice (ten thousand links counted as none made every count
        # costly), its blocks counted once
        for k in range(5):
            os.link(tree / "deep" / "b.bin", shared / f"link{k}")
        linked = folder_usage(own, 1_000, uid=uid)
        assert linked.entries == counted.entries + 5 and linked.used == counted.used, linked
        # rt210, rv45: a /dev/shm file whose inode number a file of the host's disk has too was taken for it
        twin = folder.Usage(inodes={(os.stat(own).st_dev, os.stat(held).st_ino)})
        folder.shared_usage(uid, twin, 1_000)
        assert twin.used >= (5 << 20) and twin.shared_s > 0, twin
        # rv46: another's file there that it only reads is not its cost (root's dataset, opened, was counted as the
        # child's writing); one left with no name is, while the child holds it
        # (this process's own, as it was: the test runner's files without a name in /tmp count as the child's would)
        before = folder_usage(own, 1_000, os.getpid(), uid=uid).used
        with open(shared / "theirs.bin", "rb"):
            assert folder_usage(own, 1_000, os.getpid(), uid=uid).used == before
        with open(shared / "theirs.bin", "r+b"):  # (rv47: one it may write through grows at the host's cost)
            assert folder_usage(own, 1_000, os.getpid(), uid=uid).used >= before + (4 << 20)
        gone = os.open(shared / "gone.bin", os.O_CREAT | os.O_WRONLY)
        try:
            os.write(gone, b"\5" * (1 << 20))
            os.unlink(shared / "gone.bin")
            assert folder_usage(own, 1_000, os.getpid(), uid=uid).used >= before + (1 << 20)
        finally:
            os.close(gone)
    finally:
        for path in (own, shared):
            shutil.rmtree(path, ignore_errors=True)
        held.unlink(missing_ok=True)


def test_what_the_look_where_every_user_writes_costs_is_the_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   sleeper: subprocess.Popen[bytes]):
    """rv45, rt210: beside 20,000 files of root's in /tmp, a look at the shared folders cost 60-70 ms, and honest
    files were stopped as "too costly to count" (50 ms a count). That cost is the host's: the child is never
    stopped for it, and the next count waits ten times as long again."""
    began: list[float] = []

    def costly_host(path: Path, most: int, *_: object) -> folder.Usage:
        began.append(time.monotonic())
        spent = time.thread_time()
        while time.thread_time() - spent < 0.08:
            pass
        return folder.Usage(shared_s=time.thread_time() - spent)

    stopped = threading.Event()
    monkeypatch.setattr(folder, "folder_usage", costly_host)
    monkeypatch.setattr(folder, "_draw", lambda mean: mean)
    watch = FolderWatch(tmp_path, sleeper.pid, 1 << 20, stopped.set, uid=1)
    time.sleep(2.5)
    watch.close()
    assert not stopped.is_set(), watch.exceeded
    gaps = [later - earlier for earlier, later in itertools.pairwise(began)]
    # (ten times the look, at most MAX_SHARED_WAIT_S: rt211's child, sure of ten times a costly look after each
    # count, held 448 MiB in /dev/shm between counts)
    assert gaps and min(gaps) >= FolderWatch.MAX_SHARED_WAIT_S and max(gaps) < FolderWatch.COST_RATIO * 0.08, gaps
