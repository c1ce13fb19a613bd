"""The child's folder on the host: what the folder watch counts (where the folder is on the host's
disk), that what it costs the grader follows what a scan costs, not what the child would like, and
that the folders of killed graders go."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import session
from grader.sandbox.session import FolderWatch, folder_usage


def test_the_count_holds_files_and_the_open_ones_with_no_name(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"x" * 8192)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 8192)
    used, entries = folder_usage(tmp_path, 1_000, os.getpid())
    assert entries == 3 and used >= 16384
    hidden = os.open(tmp_path / "gone", os.O_CREAT | os.O_WRONLY)
    try:
        os.write(hidden, b"z" * (1 << 20))
        os.unlink(tmp_path / "gone")
        used_with_hidden, entries = folder_usage(tmp_path, 1_000, os.getpid())
        assert entries == 3 and used_with_hidden >= used + (1 << 20)
    finally:
        os.close(hidden)


def test_the_count_stops_past_its_cap(tmp_path: Path):
    for number in range(50):
        (tmp_path / f"f{number}").touch()
    assert folder_usage(tmp_path, 10)[1] == 11


def test_a_slow_scan_waits_ten_times_as_long_before_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A child decides what a scan costs (9,990 files and 970 open ones made it 60 ms, every 50 ms):
    the watch spends at most about a tenth of its time scanning."""
    began: list[float] = []

    def slow_scan(folder: Path, most: int, pid: int | None = None) -> tuple[int, int]:
        began.append(time.monotonic())
        time.sleep(0.03)
        return 0, 0

    monkeypatch.setattr(session, "folder_usage", slow_scan)
    watch = FolderWatch(tmp_path, os.getpid(), 1 << 20, lambda: None)
    time.sleep(1.2)
    watch.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(began)]
    assert len(gaps) >= 1 and min(gaps) >= FolderWatch.COST_RATIO * 0.03, gaps


def test_past_the_cap_the_child_is_stopped_and_told_why(tmp_path: Path):
    for number in range(FolderWatch.MAX_ENTRIES + 1):
        (tmp_path / f"f{number}").touch()
    stopped = threading.Event()
    watch = FolderWatch(tmp_path, os.getpid(), 1 << 30, stopped.set)
    assert stopped.wait(5)
    assert watch.exceeded == "more than 1,000 files and folders"


def test_the_folders_of_killed_graders_go_and_no_one_elses():
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    temp = Path(tempfile.gettempdir())
    old = time.time() - session.DEAD_FOLDER_AGE_S - 60
    killed, young = temp / f"grader-{dead}-killed", temp / f"grader-{dead}-young"
    running = temp / f"grader-{os.getpid()}-old"
    for folder in (killed, young, running):
        (folder / "deep").mkdir(parents=True)
        (folder / "deep" / "left.bin").write_bytes(b"x")
    os.utime(killed, (old, old))
    os.utime(running, (old, old))
    try:
        session._remove_dead_folders.__wrapped__()
        assert not killed.exists()
        assert young.exists() and running.exists()  # a submission being graded; a grader alive
    finally:
        for folder in (killed, young, running):
            session.remove_folder(folder)
