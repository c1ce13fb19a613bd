"""The folder watch (where the child's folder is on the host's disk): what it counts, and that what
it costs in the grader's own process follows what a scan costs, not what the child would like."""

from __future__ import annotations

import itertools
import os
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
