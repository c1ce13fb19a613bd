"""grader batch as a TA runs it: a folder of students, a gradebook, a summary, and resume."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
PICKED = ["honest_backward", "cheat_cos", "mistake_returns_y", "broken_syntax", "mistake_caller_requires_grad"]


def batch(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", "2",
                           *extra], capture_output=True, text=True, cwd=ROOT, timeout=600)


def gradebook(out: Path) -> list[dict[str, str]]:
    with (out / "gradebook.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for name in PICKED:
        shutil.copy(SUBMISSIONS / f"{name}.py", folder / f"{name}.py")
    (folder / "dana").mkdir()  # a student folder holding one file
    shutil.copy(SUBMISSIONS / "honest_ones_like.py", folder / "dana" / "solution.py")
    (folder / "eve").mkdir()  # a student folder with nothing to grade
    (folder / "copycat.py").write_text("# all my own work\n" + (SUBMISSIONS / "honest_backward.py").read_text())
    shutil.copy(ROOT / "tests" / "fixtures" / "verdict" / "tells_by_gc.py", folder / "mallory.py")  # searches the heap
    return folder


def test_batch_writes_results_gradebook_and_summary(classroom, tmp_path):
    out = tmp_path / "out"
    done = batch(classroom, out, "--format", "junit")
    assert done.returncode == 0, done.stderr
    if not os.environ.get("GRADER_COURSE_SECRET"):  # (ux118: a class graded without a word of it)
        assert "no $GRADER_COURSE_SECRET: the grids (seed" in done.stderr.replace("\n", " ")
    rows = {r["student"]: r for r in gradebook(out)}
    assert sorted(rows) == sorted([*PICKED, "dana", "eve", "copycat", "mallory"])
    suites = {s.get("name"): s for s in ET.parse(out / "junit.xml").getroot().iter("testsuite")}
    assert sorted(suites) == sorted(rows)  # one suite per student, the missing one included
    assert suites["eve"].find("testcase/failure").get("type") == "missing"
    assert suites["honest_backward"].get("failures") == "0" and suites["cheat_cos"].get("failures") != "0"
    assert list(rows) == sorted(rows)  # sorted by id
    assert rows["honest_backward"]["score"] == "10.0" and rows["honest_backward"]["autograd"] == "pass"
    assert rows["cheat_cos"]["score"] == "1.0" and rows["cheat_cos"]["autograd"] == "fail"  # the loads point
    assert rows["cheat_cos"]["correctness"] == "held" and rows["cheat_cos"]["loads"] == "pass"  # (ux115)
    assert rows["broken_syntax"]["status"] == "load_error"
    assert rows["dana"]["score"] == "10.0"
    # (ux119 filtered the spreadsheet for those autograd was not shown for)
    assert [rows[s]["verdict"] for s in ("honest_backward", "cheat_cos", "mistake_returns_y", "broken_syntax")] == \
        ["full", "unproven", "wrong", "load_error"]
    assert rows["eve"]["status"] == "missing" and rows["eve"]["note"] == "no .py file (the folder is empty)"
    for student in [*PICKED, "dana"]:
        assert (out / student / "result.json").is_file() and (out / student / "feedback.png").is_file()
    summary = (out / "summary.md").read_text()
    # cheat_cos and mallory (mistake_returns_y's values are y's: wrong values, no suspect)
    assert "autograd not shown (cos, a mixture, answers kept from earlier calls, or a check that failed under the "\
           "canary) | `unproven` | 2" in summary and "mistake_returns_y:" not in summary.split("## Look at these")[1]
    assert "copycat, honest_backward" in summary  # identical once comments are dropped
    look = summary.split("## Look at these")[1].split("\n## ")[0]  # for the TA: no autograd, or sandbox events
    mallory = next(line for line in look.splitlines() if line.startswith("- mallory: "))
    assert "autograd not shown: Autograd of sin(x) is not shown on" in mallory
    assert "the sandbox recorded gc.get_objects" in mallory
    assert "- cheat_cos: autograd not shown" in look and "honest_backward:" not in look
    assert "<svg" in (out / "summary.html").read_text()


def _zygotes_started_by(pid: int) -> set[int]:
    """The zygote processes whose parent is `pid` (not the zygotes' own forks, which are children
    of a zygote)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"grader.sandbox.zygote import main" in command:
            found.add(int(stat.parent.name))
    return found


def test_two_workers_share_one_zygote(classroom, tmp_path):
    """One zygote for the batch, started by its main process: the workers start none of their own
    (each would import torch and its compiler stack again, and hold its memory)."""
    process = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(classroom), "--out", str(tmp_path / "out"),
                                "-j", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[int] = set()
    workers: set[int] = set()
    while process.poll() is None:
        seen |= _zygotes_started_by(process.pid)
        children = {int(p.name) for p in Path("/proc").glob("[0-9]*") if _parent(p) == process.pid}
        workers |= children - seen
        for worker in children - seen:
            assert not _zygotes_started_by(worker), "a worker started a zygote of its own"
        time.sleep(0.05)
    assert process.returncode == 0
    assert len(seen) == 1 and len(workers) >= 2
    assert {row["student"]: row["score"] for row in gradebook(tmp_path / "out")}["honest_backward"] == "10.0"


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_workers_run_numpys_blas_on_one_thread_and_the_environment_is_left_as_it_was(monkeypatch):
    """A batch worker is one thread's work: numpy's BLAS thread spun after matplotlib's small
    products, CPU taken from the other worker. The grader's own environment is left as it was."""
    from grader import batch
    from grader.exercise import load

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    pool = batch.start_pool(2, load("sin"), plot=False)
    try:
        assert len(pool._processes) == 2  # both started while the variable was set
        # Asked in the workers themselves (their /proc/PID/environ read empty once, under load in CI).
        answers = [pool.submit(os.getenv, "OPENBLAS_NUM_THREADS") for _ in range(4)]
        assert [answer.result(timeout=60) for answer in answers] == ["1"] * 4
        assert "OPENBLAS_NUM_THREADS" not in os.environ
    finally:
        batch.stop_pool(pool)


def _stuck_in_a_sandbox(ready: str) -> None:
    """A worker that does not close its sandbox when stop_pool asks (under load, a sandbox's close
    can take longer than the grace): it holds a child's folder, named as a session names it."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=f"grader-{os.getpid()}-"))
    (folder / "left.txt").write_text("the child's files")
    Path(ready).write_text(str(folder))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(SystemExit):  # (stop_pool's SIGTERM, ignored)
            time.sleep(0.05)


def test_a_worker_killed_past_the_grace_leaves_no_folder_in_tmp(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from grader import batch

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=batch._die_with_parent, initargs=(os.getpid(),))
    ready = tmp_path / "ready"
    pool.submit(_stuck_in_a_sandbox, str(ready))
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    folder = Path(ready.read_text())
    other = Path(f"{folder.parent}/grader-{os.getpid()}-not-the-workers")  # another grader's: kept
    other.mkdir()
    try:
        started = time.monotonic()
        batch.stop_pool(pool, grace_s=0.5)
        assert time.monotonic() - started < 5
        assert not folder.exists() and other.exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_rerun_grades_nothing_that_is_current_and_force_regrades(classroom, tmp_path):
    out = tmp_path / "out"
    batch(classroom, out, "--format", "junit")
    first = gradebook(out)
    stamp = (out / "cheat_cos" / "result.json").stat().st_mtime_ns
    again = batch(classroom, out)
    assert "(8 already graded, 1 with no file)" in again.stdout  # eve has nothing to grade
    assert gradebook(out) == first
    assert (out / "cheat_cos" / "result.json").stat().st_mtime_ns == stamp
    (classroom / "cheat_cos.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())  # resubmitted
    (classroom / "mallory.py").unlink()  # (ux118: a student removed left the gradebook without a word)
    changed = batch(classroom, out)
    assert {r["student"]: r["score"] for r in gradebook(out)}["cheat_cos"] == "10.0"
    # (the junit.xml an earlier run wrote is kept up to date, not left to say 1.0: ux123)
    suite = next(s for s in ET.parse(out / "junit.xml").getroot().iter("testsuite") if s.get("name") == "cheat_cos")
    assert suite.get("failures") == "0"
    assert "graded again, their files changed since the last run: cheat_cos\n" in changed.stdout  # (ux119)
    assert "holds results of 1 student(s) not in" in changed.stderr and ": mallory (remove" in changed.stderr
    assert "mallory" not in {r["student"] for r in gradebook(out)}
    forced = batch(classroom, out, "--force")
    assert "(0 already graded, 1 with no file)" in forced.stdout and "graded again" not in forced.stdout
    # (ux119: a student who handed in two files was "with no file to grade", 0 in the gradebook, unnamed)
    (classroom / "zed").mkdir()
    for name, sample in (("hw.py", "honest_backward"), ("hw_final.py", "honest_autograd_grad")):
        shutil.copy(SUBMISSIONS / f"{sample}.py", classroom / "zed" / name)
    (classroom / "pat").mkdir()  # (ux120: a folder of notes alone was "with no file", unnamed)
    (classroom / "pat" / "notes.md").write_text("I used autograd.\n")
    two = batch(classroom, out)
    assert "1 with no file, 2 whose files need you" in two.stdout, two.stdout
    assert "their files need you first" in two.stderr and "no score until then): pat, zed\n" in two.stderr, two.stderr
    # (and in the summary, read after the terminal is gone: ux122)
    said = (out / "summary.md").read_text()
    assert "## Needs you\n\n- not graded, their files need you first" in said
    assert "no score until then): pat, zed" in said
    assert '<h2 id="needs">Needs you</h2>' in (out / "summary.html").read_text()


def test_a_rerun_for_another_exercise_does_not_overwrite_results_unasked(tmp_path):
    """ux121: a rerun that left out its --exercise regraded a cos_square class as sin over its results
    (an honest 10/10 became 6.47 "wrong"), without a word."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(ROOT / "samples" / "cos_square" / "honest_backward.py", folder / "ann.py")
    out = tmp_path / "out"
    assert batch(folder, out, "--exercise", "cos_square", "--no-plot").returncode == 0
    kept = (out / "ann" / "result.json").read_bytes()
    refused = batch(folder, out, "--no-plot")
    assert refused.returncode == 2 and (out / "ann" / "result.json").read_bytes() == kept
    assert "holds results of cos_square, not sin, for 1 students (ann): give the --exercise" in refused.stderr
    # And another assignment's class, whose ids are all new (Moodle's are per assignment: ux122)
    second = tmp_path / "second"
    second.mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", second / "bo.py")
    other = batch(second, out, "--no-plot")
    assert other.returncode == 2 and "holds results of cos_square, not sin, for 1 students (ann)" in other.stderr
    forced = batch(folder, out, "--no-plot", "--force")
    assert forced.returncode == 0 and json.loads((out / "ann" / "result.json").read_text())["exercise"] == "sin"


def test_a_rerun_on_other_grids_does_not_regrade_the_class_unasked(tmp_path):
    """ux123: a rerun in a shell without the course secret regraded a whole class on the public grids
    (three scores moved) without a word."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "ann.py")
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot", "--seed", "7").returncode == 0
    kept = (out / "ann" / "result.json").read_bytes()
    refused = batch(folder, out, "--no-plot", "--seed", "8")
    assert refused.returncode == 2 and (out / "ann" / "result.json").read_bytes() == kept
    said = refused.stderr.replace("\n", " ")
    assert "holds results of 1 students (ann) graded with seed 7, where this run's is 8 (--seed)" in said, said
    assert "(or --seed 7)" in said
    again = batch(folder, out, "--no-plot", "--seed", "7")
    assert again.returncode == 0 and "1 already graded" in again.stdout
    # (ux129: a rerun that draws the plots a --no-plot run did not regraded the class, and said "0 already graded")
    plotted = batch(folder, out, "--seed", "7")
    assert plotted.returncode == 0 and "(0 already graded)" in plotted.stdout
    assert "graded again, their results were from other settings (--device, plots) or an earlier grader" in \
        plotted.stdout.replace("\n", " ") and plotted.stdout.rstrip().endswith("ann"), plotted.stdout
    # (ux137: a feedback.png deleted was never drawn again, and the summary linked to nothing)
    for name in ("feedback.png", "backward.png", "feedback.txt"):  # (ux138: the last two were not written again)
        (out / "ann" / name).unlink()
        drawn = batch(folder, out, "--seed", "7")
        assert drawn.returncode == 0 and "(0 already graded)" in drawn.stdout and (out / "ann" / name).is_file()
    forced = batch(folder, out, "--no-plot", "--seed", "8", "--force")
    assert forced.returncode == 0 and json.loads((out / "ann" / "result.json").read_text())["seed"] == 8


def test_a_students_own_modules_beside_the_file_in_their_folder_are_graded_with_it(tmp_path):
    """ux123: alice/solution.py's `from utils import ...`, alice/utils.py beside it, scored 0/10."""
    folder = tmp_path / "class"
    for name in ("alice", "mallory"):
        (folder / name).mkdir(parents=True)
        (folder / name / "solution.py").write_text("from utils import derivative\n\n\ndef get_derivative(x):\n"
                                                   "    return derivative(x)\n")
    (folder / "alice" / "utils.py").write_text(
        "import torch\n\n\ndef derivative(x):\n    x = x.detach().clone().requires_grad_(True)\n"
        "    torch.sin(x).sum().backward()\n    return x.grad\n")
    (folder / "mallory" / "utils.py").write_text("import torch\n\n\ndef derivative(x):\n    return torch.cos(x)\n")
    # A class folder's files are classmates': carl.py's import finds none of theirs
    (folder / "carl.py").write_text((folder / "alice" / "solution.py").read_text())
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    rows = {r["student"]: r for r in gradebook(out)}
    assert (rows["alice"]["score"], rows["mallory"]["verdict"], rows["carl"]["status"]) == ("10.0", "unproven",
                                                                                           "load_error")
    helpers = json.loads((out / "alice" / "result.json").read_text())["submission"]["helpers"]
    assert [h["name"] for h in helpers] == ["utils.py"]
    (folder / "alice" / "utils.py").write_text((folder / "alice" / "utils.py").read_text() + "# tidied\n")
    again = batch(folder, out, "--no-plot")
    assert "2 already graded" in again.stdout and "graded again, their files changed since the last run: alice" \
        in again.stdout, again.stdout
    # (ux136: a score a TA wrote into result.json was regraded away with no word)
    result = json.loads((out / "mallory" / "result.json").read_text())
    (out / "mallory" / "result.json").write_text(json.dumps({**result, "score": 7.0}))
    third = batch(folder, out, "--no-plot")
    assert "result.json was not as this batch wrote it" in third.stdout and ": mallory" in third.stdout, third.stdout


def test_a_students_own_package_beside_the_file_is_graded_with_it(tmp_path):
    """ux124: alice/solution.py's `from mylib.calc.deriv import ...`, her package mylib/ beside it,
    scored 0/10 (no module named mylib); its files are the child's as a .py beside it is, none of
    them through a link."""
    folder = tmp_path / "class"
    for name, body in (("alice", "x = x.detach().clone().requires_grad_(True)\n    torch.sin(x).sum().backward()\n"
                                 "    return x.grad\n"), ("mallory", "return torch.cos(x)\n")):
        (folder / name / "mylib" / "calc").mkdir(parents=True)
        (folder / name / "solution.py").write_text("from mylib.calc.deriv import derivative\nfrom mylib import "
                                                   "NAME\n\n\ndef get_derivative(x):\n    return derivative(x)\n")
        (folder / name / "mylib" / "__init__.py").write_text("NAME = 'mylib'\n")
        (folder / name / "mylib" / "calc" / "deriv.py").write_text(f"import torch\n\n\ndef derivative(x):\n    {body}")
    secret = tmp_path / "secret.py"
    secret.write_text("KEY = 'the host'\n")
    (folder / "alice" / "mylib" / "calc" / "key.py").symlink_to(secret)
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    rows = {r["student"]: r for r in gradebook(out)}
    assert (rows["alice"]["score"], rows["mallory"]["verdict"]) == ("10.0", "unproven"), rows
    helpers = json.loads((out / "alice" / "result.json").read_text())["submission"]["helpers"]
    assert [h["name"] for h in helpers] == ["mylib/__init__.py", "mylib/calc/deriv.py"]


def test_a_module_of_a_students_package_is_graded_as_one(tmp_path):
    """rt211's carol: her answer mylib/deriv.py imports from its package (`from .util import ...`), and her
    main.py imports it only under `if __name__ == "__main__":`. Graded alone it could not load, 0/10, where
    `python main.py` runs it; now as `python -m mylib.deriv` runs it, the package's modules found from her
    folder's top, the file itself one of them (ann's __init__ imports it). A relative import past the package's
    top is Python's own error either way, and told so."""
    folder = tmp_path / "class"
    answer = "import torch\nfrom .util import as_leaf\n\n\ndef get_derivative(x):\n    x = as_leaf(x)\n" \
             "    torch.sin(x).sum().backward()\n    return x.grad\n"
    main = "if __name__ == '__main__':\n    from mylib.deriv import get_derivative\n"
    util = "def as_leaf(x):\n    return x.detach().clone().requires_grad_(True)\n"
    students = {"ann": {"mylib/__init__.py": "from .deriv import get_derivative\n", "mylib/deriv.py": answer},
                "ben": {"mylib/calc/deriv.py": answer.replace("from .util", "from ..util")},  # (namespace packages)
                # (rt214: an upload wrapped in a folder of its own, named as no import names one, and its package
                # imported by name, run from there; rv47: the package named as the file is)
                "eve": {"hw-2/mylib/deriv.py": answer, "hw-2/mylib/util.py": util},
                "fay": {"hw2/mylib/deriv.py": answer.replace("from .util", "from mylib.util"),
                        "hw2/mylib/util.py": util},
                "kim": {"deriv/deriv.py": answer, "deriv/util.py": util},
                # (rv49: named as its package, and importing from it by name: no module deriv.py has a deriv.util)
                "lee": {"deriv/deriv.py": answer.replace("from .util", "from deriv.util"), "deriv/util.py": util},
                # (hn154: a copy of d2l's own, beside the file in its folder d2l/, is the student's, not the stand-in)
                "mo": {"d2l/torch.py": util, "d2l/hw.py": answer.replace("from .util import as_leaf",
                                                                          "from d2l import torch as d2l\n"
                                                                          "as_leaf = d2l.as_leaf")},
                # (rv50, rt218: an empty __init__.py beside it, or an empty folder torch/, is no copy of d2l's)
                "ned": {"d2l/__init__.py": "", "d2l/torch/notes.txt": "",
                        "d2l/hw.py": (SUBMISSIONS / "honest_imports_d2l.py").read_text()},
                # (rv48: no package where `python file.py` finds what it imports: the d2l stand-in from a folder named
                # d2l/, 0/10 as d2l.hw; hw.py beside hw/solution.py, which the folder hw/ shadowed)
                "gus": {"d2l/hw.py": (SUBMISSIONS / "honest_imports_d2l.py").read_text()},
                "hal": {"hw/hw.py": answer.replace("from .util import as_leaf", "from util import as_leaf")
                        .replace("def get_derivative", "def deriv"), "hw/util.py": util,
                        "hw/solution.py": "import hw\n\n\ndef get_derivative(x):\n    return hw.deriv(x)\n"},
                "dan": {"mylib/deriv.py": answer.replace("from .util", "from ..util")}}
    for name, files in students.items():
        for path, text in {"main.py": main, "mylib/util.py": util, **files}.items():
            (folder / name / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / name / path).write_text(text)
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    rows = {r["student"]: r for r in gradebook(out)}
    assert [rows[name]["score"] for name in students] == ["10.0"] * 10 + ["0.0"], rows
    helpers = json.loads((out / "ann" / "result.json").read_text())["submission"]["helpers"]
    assert [h["name"] for h in helpers] == ["mylib/__init__.py", "mylib/deriv.py", "mylib/util.py"]
    assert "climbs past the top folder of its package" in " ".join((out / "dan" / "feedback.txt").read_text().split())
    again = batch(folder, out, "--no-plot")
    assert "11 already graded" in again.stdout, again.stdout  # (the package is part of what a result stands for)


def _loads_of_alice(tmp_path: Path, files: dict[str, str], head: str, check: str = "loads",
                    body: str | None = None) -> tuple[float, str]:
    """Alice's score and `check`'s message, her solution.py (honest, or `body`) beginning with `head` beside
    `files`."""
    folder = tmp_path / "class" / "alice"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "solution.py").write_text(head + (body or (SUBMISSIONS / "honest_backward.py").read_text()))
    out = tmp_path / "out"
    assert batch(folder.parent, out, "--no-plot").returncode == 0
    result = json.loads((out / "alice" / "result.json").read_text())
    return result["score"], next(c for c in result["checks"] if c["name"] == check)["message"]


def test_a_package_past_the_bounds_on_helpers_is_told_what_was_left_out(tmp_path):
    """A package of 20 modules, its __init__ importing each: the import of one past the 16 graded failed,
    and the student was told to submit beside the file the package that was there."""
    files = {"mylib/__init__.py": "".join(f"from .m{i} import *\n" for i in range(20)),
             **{f"mylib/m{i}.py": f"C{i} = {i}\n" for i in range(20)}}
    score, loads = _loads_of_alice(tmp_path, files, "import mylib\n")
    assert score == 0 and "No module named 'mylib.m5'" in loads, loads
    assert "at most 16 of your own modules" in loads and "left out were mylib/m5.py" in loads, loads


def test_a_module_named_like_pythons_own_is_the_one_imported_as_at_home(tmp_path):
    """rt168's code.py beside the file, `from code import f`, and hn127's statistics.py used as
    statistics.f(x): 0/10 and 1/10, where `python solution.py` imports the student's (the grader's child
    had imported Python's first). A module Python imports as it starts is Python's at home too."""
    helper = "import torch\n\n\ndef f(x):\n    return torch.sin(x)\n"
    body = ("\n\ndef get_derivative(x):\n    x = x.detach().clone().requires_grad_(True)\n"
            "    f(x).sum().backward()\n    return x.grad\n")
    assert _loads_of_alice(tmp_path / "code", {"code.py": helper}, "from code import f\n", "loads", body)[0] == 10
    for module in ("statistics", "inspect"):  # (inspect: one the grader's child has imported itself)
        used = body.replace("f(x)", f"{module}.f(x)")
        assert _loads_of_alice(tmp_path / module, {f"{module}.py": helper}, f"import {module}\n", "loads",
                               used)[0] == 10, module
    score, loads = _loads_of_alice(tmp_path / "enum", {"enum.py": helper}, "from enum import f\n", "loads", body)
    assert score == 0 and "cannot import name 'f' from 'enum'" in loads, loads
    assert "Your enum.py has the name of a module the grader already has" in loads and "Rename your enum.py" in loads


def test_a_module_named_like_pythons_own_imported_in_the_function_is_told_to_be_renamed(tmp_path):
    """hn127: statistics.py beside the file, used in the function: told that the grader's statistics had no
    f. Imported as the function is called, a module the grader's child has (inspect) is Python's there (the
    student's stands in for it only while the file is imported), and the words say why."""
    files = {"inspect.py": "import torch\n\n\ndef f(x):\n    return torch.sin(x)\n"}
    body = ("\n\ndef get_derivative(x):\n    import inspect\n\n    x = x.detach().clone().requires_grad_(True)\n"
            "    inspect.f(x).sum().backward()\n    return x.grad\n")
    score, correctness = _loads_of_alice(tmp_path, files, "", "correctness", body)
    assert score == 1 and "module 'inspect' has no attribute 'f'" in correctness, correctness
    assert "Your inspect.py has the name of a module the grader already has" in correctness, correctness


def test_a_gradescope_groups_submission_is_a_gradebook_row_for_each_of_its_students(tmp_path):
    """ux123: a group of two was one row, "Alice A_1001+Bob B_1002", which no LMS could match."""
    folder = tmp_path / "export"
    for number, source in (("90000", "honest_backward"), ("90001", "cheat_cos")):
        (folder / f"submission_{number}").mkdir(parents=True)
        shutil.copy(SUBMISSIONS / f"{source}.py", folder / f"submission_{number}" / "solution.py")
    (folder / "submission_metadata.yml").write_text(
        "submission_90000:\n  :submitters:\n  - :name: Alice A\n    :sid: '1001'\n  - :name: Bob B\n    :sid: '1002'\n"
        "submission_90001:\n  :submitters:\n  - :name: Cy C\n    :sid: '1003'\n")
    out = tmp_path / "out"
    done = batch(folder, out, "--no-plot")
    assert done.returncode == 0 and done.stdout.startswith("2 submissions (3 students) ("), done.stdout  # (ux129)
    rows = [(r["student"], r["score"], r["group"]) for r in gradebook(out)]
    group = "Alice A_1001+Bob B_1002"
    assert rows == [("Alice A_1001", "10.0", group), ("Bob B_1002", "10.0", group), ("Cy C_1003", "1.0", "")], rows
    assert [(r["name"], r["platform_id"]) for r in gradebook(out)] == [("Alice A", "1001"), ("Bob B", "1002"),
                                                                      ("Cy C", "1003")]
    assert (out / "Alice A_1001+Bob B_1002" / "result.json").is_file()  # (one submission, graded once)
    # (ux126: the summary's "2 students" beside a gradebook of 3)
    assert "2 submissions (3 students), mean score" in (out / "summary.md").read_text()
    # (ux137: its tables' columns, headed "students", counted the submissions)
    assert "| verdict | in gradebook.csv | submissions |" in (out / "summary.md").read_text()
    assert "submissions (3 students)" in (out / "summary.html").read_text()
    # (ux126: --only by a member's row, or by the submission's folder, was "no such student", and its
    # suggestion named another student)
    for name in ("Bob B_1002", "submission_90001"):
        again = batch(folder, out, "--no-plot", "--only", name)
        assert again.returncode == 0 and "1 graded with --only" in again.stdout + again.stderr, (name, again.stderr)
    wrong = batch(folder, out, "--no-plot", "--only", "Bob B_1003")
    assert wrong.returncode == 2 and "did you mean Bob B_1002?" in wrong.stderr, wrong.stderr
    # ux130: the export unzipped into a folder of its own, given by that folder: graded as one student,
    # "all 2 files define get_derivative(x): ...; keep one"
    wrapper = tmp_path / "download"
    (wrapper / "__MACOSX").mkdir(parents=True)
    shutil.move(str(folder), wrapper / "assignment_1_export")
    wrapped = batch(wrapper, tmp_path / "out2", "--no-plot")
    assert wrapped.returncode == 2 and "holds a Gradescope export one folder down, assignment_1_export/" in \
        wrapped.stderr, wrapped.stderr


def test_only_on_a_class_with_no_results_yet_leaves_the_others_not_graded_not_failed(tmp_path):
    """ux128: `--only` on a fresh OUT (or after a stopped batch) made every classmate without a result a
    grader_error row, the batch's exit status 3 (the grader's own failure), and the summary's banner of a
    stopped batch gone."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "bob", "cy"):
        shutil.copy(SUBMISSIONS / "honest_backward.py", folder / f"{name}.py")
    out = tmp_path / "out"
    done = batch(folder, out, "--no-plot", "--only", "bob")
    assert done.returncode == 0, done.stderr
    assert "not graded (--only), no result yet: ann, cy" in done.stdout
    rows = {r["student"]: r for r in gradebook(out)}
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "ann": ("not_graded", ""), "bob": ("graded", "10.0"), "cy": ("not_graded", "")}
    assert rows["ann"]["note"].startswith("not graded yet: --only named others")
    assert "2 of 3 students have no result yet: --only named others" in (out / "summary.md").read_text()


def test_only_grades_the_students_named_and_keeps_the_others_results(tmp_path):
    """ux124: the one way to regrade a student was a folder of hers, which replaced the class's gradebook
    (refused now) or, in a class of two, was not refused at all."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name, sample in (("ann", "honest_backward"), ("bob", "cheat_cos"), ("cy", "honest_jacfwd")):
        shutil.copy(SUBMISSIONS / f"{sample}.py", folder / f"{name}.py")
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    stamps = {s: (out / s / "result.json").stat().st_mtime_ns for s in ("ann", "cy")}
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "bob.py")  # fixed after a regrade request
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "cy.py")  # (changed, not graded again)
    done = batch(folder, out, "--no-plot", "--only", "bob")
    assert done.returncode == 0 and "3 students (1 graded with --only, the others' results kept" in done.stdout
    # (ux131: a file not graded again was grouped, as it is now, beside its row's old result)
    said = (out / "summary.md").read_text()
    assert "- ann, bob\n" in said and "ann, bob, cy" not in said, said
    # (among what needs the TA, in the summary read the next day too: ux131)
    assert "grader: not graded (--only), their files changed since their results: cy" in done.stderr
    assert "their files changed since their results: cy" in (out / "summary.md").read_text()
    assert {r["student"]: r["score"] for r in gradebook(out)} == {"ann": "10.0", "bob": "10.0", "cy": "10.0"}
    # (and in its row, not on stdout alone: ux127's CSV read later could not tell the row was stale)
    assert {r["student"]: r["note"] for r in gradebook(out)}["cy"].startswith("result older than the file")
    assert {s: (out / s / "result.json").stat().st_mtime_ns for s in ("ann", "cy")} == stamps
    # (ux128: a result graded without plots was told "older than the file", as if handed in again late)
    assert batch(folder, out, "--only", "bob").returncode == 0
    notes = {r["student"]: r["note"] for r in gradebook(out)}
    assert notes["ann"].startswith("result from other settings or an earlier grader") and notes["bob"] == "", notes
    # (rv41: a result from other settings is still its file's: ann, left out, made "None: every file differs")
    assert "- ann, bob\n" in (out / "summary.md").read_text()
    wrong = batch(folder, out, "--no-plot", "--only", "bobb")
    assert wrong.returncode == 2 and "--only bobb: no such student" in wrong.stderr
    assert "did you mean bob?" in wrong.stderr
    # A folder with no student in common with OUT's results is refused, however small (ux124: ann's own
    # folder, solution.py and plot.py, in a class of two)
    (tmp_path / "ann").mkdir()
    for name in ("solution.py", "plot.py"):
        shutil.copy(SUBMISSIONS / "honest_backward.py", tmp_path / "ann" / name)
    refused = batch(tmp_path / "ann", out, "--no-plot")
    assert refused.returncode == 2 and "is it the class's folder?" in refused.stderr.replace("\n", " ")


def test_a_batch_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        shutil.copy(SUBMISSIONS / "honest_backward.py", folder / f"student{i:02d}.py")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", "2"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*/result.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    # The pool's queues' semaphores (its workers' maps name them): their names in /dev/shm outlived a
    # kill of the group (the resource tracker with it), five each time (rt142).
    semaphores = set()
    for child in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split():
        with contextlib.suppress(OSError):  # (a sandbox child that ended meanwhile)
            semaphores |= {word for word in Path(f"/proc/{child}/maps").read_text().split()
                           if word.startswith("/dev/shm/sem.mp-")}
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert semaphores and not [name for name in semaphores if os.path.exists(name)], semaphores
    graded_before = len(list(out.glob("*/result.json")))
    assert 3 <= graded_before < 12
    for result in out.glob("*/result.json"):  # whatever was on disk at the kill is whole
        json.loads(result.read_text())
    done = batch(folder, out)
    assert done.returncode == 0
    assert f"({graded_before} already graded)" in done.stdout
    rows = gradebook(out)
    assert [r["student"] for r in rows] == [f"student{i:02d}" for i in range(12)]
    assert all(r["score"] == "10.0" for r in rows)


def test_results_beside_the_submissions_trust_nothing_a_student_left_in_their_folder(tmp_path):
    """One folder per student, results written into them (a class of git clones): a red team's links
    made the batch write its PNGs, as root, over another student's solution and a host file; its own
    result.json, with the cache key worked out from public data, kept a cheat at 10/10 ungraded, and
    one without a score crashed the gradebook."""
    from grader import __version__
    from grader.exercise import load
    from grader.grade import cache_key
    from grader.grids import grid_seed
    from grader.submission import read

    victim = tmp_path / "victim.txt"
    victim.write_text("a host file")
    folder = tmp_path / "class"
    for student, sample in (("bob", "cheat_cos"), ("carol", "honest_backward"), ("dave", "honest_backward")):
        (folder / student).mkdir(parents=True)
        shutil.copy(SUBMISSIONS / f"{sample}.py", folder / student / "solution.py")
    bob = folder / "bob"
    (bob / ".feedback.png.partial").symlink_to(victim)
    (bob / "feedback.png").symlink_to(victim)
    (bob / "backward.png").symlink_to(folder / "carol" / "solution.py")
    carol_before = (folder / "carol" / "solution.py").read_bytes()
    key = cache_key(read(bob / "solution.py").sha256, load("sin"), grid_seed("sin"), "auto")
    forged = {"schema_version": 2, "exercise": "sin", "status": "graded", "score": 10.0, "max_score": 10.0,
              "cache_key": key, "checks": [], "duration_s": 1.0, "versions": {"grader": __version__},
              "submission": {"path": "solution.py", "sha256": read(bob / "solution.py").sha256}}
    (bob / "result.json").write_text(json.dumps(forged))
    (folder / "dave" / "result.json").write_text(json.dumps({"cache_key": key, "status": "graded"}))
    done = batch(folder, folder, "-j", "1")
    assert done.returncode == 0, done.stderr
    assert "(0 already graded)" in done.stdout
    assert victim.read_text() == "a host file"
    assert (folder / "carol" / "solution.py").read_bytes() == carol_before
    scores = {r["student"]: (r["score"], r["status"]) for r in gradebook(folder)}
    assert scores == {"bob": ("1.0", "graded"), "carol": ("10.0", "graded"), "dave": ("10.0", "graded")}
    assert (bob / "feedback.png").read_bytes().startswith(b"\x89PNG")
    again = batch(folder, folder, "-j", "1")
    assert "(3 already graded)" in again.stdout  # its own results, signed, count


def test_a_folder_that_does_not_exist_is_a_usage_error(tmp_path):
    done = batch(tmp_path / "nowhere", tmp_path / "out")
    assert done.returncode == 2 and "not a folder of submissions" in done.stderr
    assert "grader grade FILE" not in done.stderr
    (tmp_path / "alice.py").write_text("")  # (ux132: one student's file, which grade takes)
    done = batch(tmp_path / "alice.py", tmp_path / "out")
    assert done.returncode == 2 and "is graded with `grader grade FILE`" in done.stderr, done.stderr
    (tmp_path / "class.zip").write_bytes(b"PK\x03\x04")  # (ux133: sent to `grade`, which told a student to unpack it)
    done = batch(tmp_path / "class.zip", tmp_path / "out")
    assert done.returncode == 2 and "an archive: unpack it into a folder" in done.stderr, done.stderr
    assert "grader grade" not in done.stderr


def test_a_batch_whose_output_is_closed_still_writes_its_gradebook(tmp_path):
    """`grader batch ... | head`: the progress bar wrote to stdout, and when the reader went away
    the batch ended with status 1 and no gradebook or summary (ux110)."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("honest_backward", "cheat_cos"):
        shutil.copy(SUBMISSIONS / f"{name}.py", folder / f"{name}.py")
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before anything is written
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=600) == 0, stderr
    assert [row["student"] for row in gradebook(out)] == ["cheat_cos", "honest_backward"]
    assert (out / "summary.html").is_file() and "Traceback" not in stderr


def test_a_file_too_large_is_its_students_load_error_and_a_notebooks_saved_plots_do_not_count(tmp_path):
    """ux112: a notebook saved with its plots (4.8 MB, its code a few lines) and a 20 MB .py were
    grader errors, on every rerun, with no result.json and exit status 3."""
    folder = tmp_path / "class"
    folder.mkdir()
    plot = "iVBORw0KGgo" + "A" * (3 << 20)
    cells = [{"cell_type": "code", "source": (SUBMISSIONS / "honest_backward.py").read_text(),
              "outputs": [{"output_type": "display_data", "data": {"image/png": plot}}]}]
    (folder / "olga.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}))
    (folder / "gina.py").write_text((SUBMISSIONS / "honest_backward.py").read_text() + "#" * (2 << 20))
    out = tmp_path / "out"
    done = batch(folder, out, "--no-plot")
    assert done.returncode == 0, done.stderr
    rows = {row["student"]: row for row in gradebook(out)}
    assert rows["olga"]["status"] == "graded" and float(rows["olga"]["score"]) == 10.0, rows
    assert rows["gina"]["status"] == "load_error" and float(rows["gina"]["score"]) == 0.0, rows
    loads = json.loads((out / "gina" / "result.json").read_text())["checks"][0]
    assert loads["name"] == "loads" and "larger than the grader reads" in loads["message"], loads


def test_a_file_or_link_named_like_a_student_where_results_go_beside_them_is_moved_aside(tmp_path):
    """rt138: with results written into the class folder, a plain file `alice` beside alice.py kept her
    results folder from being made: a grader error on every rerun; a link to a file did the same. (A
    link to a folder is a second claim to the id: "2 submissions".)"""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice", "bob"):
        shutil.copy(SUBMISSIONS / "honest_backward.py", folder / f"{name}.py")
    (folder / "alice").write_text("in the way\n")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not in the class folder\n")
    (folder / "bob").symlink_to(elsewhere)
    done = batch(folder, folder, "--no-plot")
    assert done.returncode == 0, done.stderr
    rows = {row["student"]: row for row in gradebook(folder)}
    assert rows["alice"]["score"] == rows["bob"]["score"] == "10.0", rows
    assert (folder / "alice" / "result.json").is_file() and (folder / "bob" / "result.json").is_file()
    aside = sorted(p.name for p in folder.iterdir() if ".in-the-way-" in p.name)
    assert [name.split(".in-the-way-")[0] for name in aside] == [".alice", ".bob"], aside
    assert (folder / aside[0]).read_text() == "in the way\n" and (folder / aside[1]).is_symlink()
    assert elsewhere.read_text() == "not in the class folder\n"


def test_a_worker_killed_mid_batch_is_replaced_and_every_student_graded(tmp_path):
    """rt143: SIGKILL of one pool worker (the OOM killer's, say) broke the pool, and the batch ended in a
    BrokenProcessPool traceback with no gradebook. The jobs in flight are graded again on a new pool."""
    folder = tmp_path / "many"
    folder.mkdir()
    slow = (SUBMISSIONS / "honest_backward.py").read_text().replace("def get_derivative(x):",
                                                                     "def get_derivative(x):\n    time.sleep(0.02)")
    for i in range(8):
        (folder / f"student{i:02d}.py").write_text("import time\n" + slow)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "-j", "2",
                                "--no-plot"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/result.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = [child for child in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
               if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    assert workers, "no pool worker found"
    os.kill(int(workers[0]), signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    rows = gradebook(out)
    assert [(r["student"], r["score"], r["status"]) for r in rows] == [
        (f"student{i:02d}", "10.0", "graded") for i in range(8)], rows


def test_a_file_for_another_exercise_has_no_score_until_the_ta_chooses(tmp_path):
    """ux127: a student's sin file in a cos_square batch (a wrong upload) had 1.0 in gradebook.csv, ready
    for the LMS, and in the class mean, where the README says such rows have no score until the TA acts."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(ROOT / "samples" / "cos_square" / "honest_backward.py", folder / "alice.py")
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "bob.py")  # (sin's)
    out = tmp_path / "out"
    done = batch(folder, out, "--no-plot", "--exercise", "cos_square")
    assert done.returncode == 0, done.stderr
    rows = {r["student"]: r for r in gradebook(out)}
    assert (rows["alice"]["score"], rows["bob"]["score"], rows["bob"]["verdict"]) == ("10.0", "", "other"), rows
    assert rows["bob"]["note"].startswith("for another exercise, sin: no score until you choose"), rows["bob"]
    summary = (out / "summary.md").read_text()
    assert "1 of 2 students' files are for another exercise, sin" in summary and "10.00" in summary, summary


def test_only_takes_the_gradebooks_own_cell_of_an_id_that_starts_as_a_formula(tmp_path):
    """ux129: the gradebook writes "=evil" as "'=evil" (no spreadsheet runs it), and --only "'=evil", the
    cell as the TA copied it, was "no such student"."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "=evil.py")
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    assert [r["student"] for r in gradebook(out)] == ["'=evil"]
    again = batch(folder, out, "--no-plot", "--only", "'=evil")
    assert again.returncode == 0 and "1 graded with --only" in again.stdout, again.stderr


def test_only_takes_a_name_whose_accents_are_decomposed(tmp_path):
    """ux134: `--only` with a name pasted on macOS (NFD) was "no such student (did you mean Dörte?)"."""
    import unicodedata

    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "dörte.py")
    done = batch(folder, tmp_path / "out", "--no-plot", "--only", unicodedata.normalize("NFD", "dörte"))
    assert done.returncode == 0 and "1 graded with --only" in done.stdout, (done.stdout, done.stderr)


def test_only_a_student_with_nothing_to_grade_says_why(tmp_path):
    """ux133: `--only rita`, whose folder holds a PDF alone, said "0 graded with --only" and no more."""
    folder = tmp_path / "class"
    (folder / "rita").mkdir(parents=True)
    (folder / "rita" / "hw.pdf").write_bytes(b"%PDF-1.4\n")
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "ann.py")
    done = batch(folder, tmp_path / "out", "--no-plot", "--only", "rita")
    assert done.returncode == 0 and "0 graded with --only" in done.stdout, done.stdout
    assert "--only rita: nothing to grade (no .py file (it holds hw.pdf))" in done.stderr, done.stderr
    # (ux134: --resume was "unrecognized arguments"; every run resumes)
    again = batch(folder, tmp_path / "out", "--no-plot", "--resume")
    assert again.returncode == 0 and "--resume is what every run does" in again.stderr, again.stderr


def test_a_flat_folders_file_of_another_kind_is_in_the_summarys_needs_you(tmp_path):
    """ux130: zoe.pdf in a flat class folder was named on stderr alone, which a TA reading the summary the
    next day never saw."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", folder / "ann.py")
    (folder / "zoe.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / ".yan.py").write_text("x = 1\n")  # (ux133: a hidden .py had no row and no word)
    out = tmp_path / "out"
    done = batch(folder, out, "--no-plot")
    assert done.returncode == 0 and "zoe.pdf" in done.stderr and ".yan.py" in done.stderr, done.stderr
    assert done.stderr.count("zoe.pdf") == 1, done.stderr  # (ux133: said twice, in two wordings)
    needs = (out / "summary.md").read_text().split("## Needs you", 1)[1]
    assert "not graded, neither .py nor .ipynb nor defining the exercise's function" in needs and "zoe.pdf" in needs


def test_a_tas_changes_kept_aside_by_a_rerun_are_among_what_needs_them(tmp_path):
    """ux131: a TA's corrected score in gradebook.csv and notes in a feedback.txt, kept aside by a rerun, were
    said on the terminal alone: the summary read the next day had no "Needs you" at all, and the gradebook
    uploaded had the correction gone."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name, sample in (("kim", "cheat_cos"), ("lee", "honest_backward")):
        shutil.copy(SUBMISSIONS / f"{sample}.py", folder / f"{name}.py")
    out = tmp_path / "out"
    assert batch(folder, out, "--no-plot").returncode == 0
    assert "Needs you" not in (out / "summary.md").read_text()
    book = out / "gradebook.csv"
    book.write_text(book.read_text().replace("kim,1.0,", "kim,6.0,"))
    (out / "lee" / "feedback.txt").write_text((out / "lee" / "feedback.txt").read_text() + "\nWell done. (TA)\n")
    (folder / "new.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())  # a late student
    (folder / "lee.py").write_text((folder / "lee.py").read_text() + "# handed in again\n")  # (regraded)
    done = batch(folder, out, "--no-plot")
    assert done.returncode == 0, done.stderr
    said = (out / "summary.md").read_text()
    assert "## Needs you" in said and "gradebook.csv may hold changes of yours" in said, said
    assert "feedback.txt changed since the grader wrote it (notes of yours?)" in said and ": lee" in said
    assert done.stderr.count("gradebook.csv may hold changes of yours") == 1
    assert done.stderr.count("feedback.txt changed since the grader wrote it") == 1
