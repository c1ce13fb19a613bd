"""The grader's own process against hostile submissions: it reads only regular files, pays a bounded
cost for whatever a child sends, shows student text safely, and ends whole however it is stopped."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
MARKER = "root-only-7f3a9c"


def grader(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open() as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def everything_written(out: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file())


# ---- item 4: only regular files inside the submissions folder are read --------------------------

def test_links_fifos_and_sockets_are_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"  # stands for a root-only file: a SyntaxError would quote it
    secret.write_text(f"{MARKER} is a line no student may see\n")
    folder = tmp_path / "class"
    (folder / "dora").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "alice.py")
    (folder / "bob.py").symlink_to(secret)
    (folder / "carol").symlink_to(tmp_path)
    (folder / "dora" / "solution.py").symlink_to(secret)
    os.mkfifo(folder / "erin.py")

    for name, words in (("bob.py", "a symbolic link"), ("erin.py", "a named pipe (FIFO)")):
        done = grader("grade", str(folder / name), "--out", str(tmp_path / name), timeout=60)  # a FIFO: no hang
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and words in done.stderr
        assert not (tmp_path / name).exists()

    out = tmp_path / "out"
    done = grader("batch", str(folder), "--out", str(out), "-j", "1")
    assert done.returncode == 0, done.stderr
    rows = gradebook(out)
    assert rows["alice"]["score"] == "10.0"
    for student, note in (("bob", "bob.py: a symbolic link"), ("carol", "carol: a symbolic link"),
                          ("dora", "solution.py: a symbolic link"), ("erin", "erin.py: a named pipe (FIFO)")):
        assert rows[student]["status"] == "refused" and rows[student]["note"].startswith(note)
    assert "file refused" in (out / "summary.md").read_text()
    assert MARKER not in everything_written(out)
