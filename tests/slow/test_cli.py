"""The command line as users run it: real processes, real sandboxes, files on disk."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cli
from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
REQUIRED = {"schema_version", "score", "max_score", "status", "checks", "seed", "device", "versions", "duration_s",
            "backward_pass"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def result(out: Path) -> dict:
    return json.loads((out / "result.json").read_text())


def test_grade_writes_a_complete_result_and_plot(tmp_path):
    done = run("grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(tmp_path),
               env={"GRADER_COURSE_SECRET": ""})
    assert done.returncode == 0, done.stderr
    # (ux126: graded on the public grids without a word, where the class's batch used the course's)
    assert "grader: no $GRADER_COURSE_SECRET: graded on the public grids" in done.stderr, done.stderr
    data = result(tmp_path)
    assert set(data) >= REQUIRED
    assert data["schema_version"] == 2 and data["score"] == data["max_score"] == 10
    assert {c["name"] for c in data["checks"]} >= {"loads", "correctness", "autograd"}
    assert all({"name", "passed", "score", "max_score", "message"} <= set(c) for c in data["checks"])
    assert set(data["versions"]) >= {"python", "torch", "grader", "hypothesis"}
    assert data["versions"]["torch"].startswith("2.")
    assert (tmp_path / "feedback.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # And the words `check` shows, as plain text to hand back (ux123: result.json holds the staff's too)
    words = (tmp_path / "feedback.txt").read_text()
    assert words.startswith("Feedback · ") and "Score 10 / 10" in words and "\x1b" not in words
    assert "Your file loads and defines get_derivative." in words and " \n" not in words
    assert "seed" not in words  # (with a course secret, the grids' own: ux124)
    assert "\nhonest_backward.py · device cpu" in words and str(SUBMISSIONS) not in words  # (ux133: the TA's path)


def test_a_submission_that_cannot_load_still_gets_a_full_result_and_exit_0(tmp_path):
    done = run("grade", str(SUBMISSIONS / "broken_syntax.py"), "--out", str(tmp_path))
    assert done.returncode == 0
    data = result(tmp_path)
    assert data["status"] == "load_error" and data["score"] == 0
    assert len(data["checks"]) == 7 and "syntax error" in data["checks"][0]["message"]


def test_check_prints_the_verdict_and_the_plot_path(tmp_path):
    done = run("check", str(SUBMISSIONS / "mistake_returns_y.py"), "--out", str(tmp_path))
    assert done.returncode == 0
    assert "Score 1 / 10" in done.stdout  # the loads point: its values did not follow autograd
    assert "Did you return y instead of x.grad?" in done.stdout
    assert f"Feedback plot: {tmp_path / 'feedback.png'}" in done.stdout.replace("\n", "")
    assert f"Backward pass: {tmp_path / 'backward.png'}" in done.stdout.replace("\n", "")


def test_an_option_a_command_does_not_take_is_told_with_that_commands_usage(tmp_path):
    """(ux136: `batch --fail-under 5` was answered with the top level's usage, which names no option)"""
    done = run("batch", str(SUBMISSIONS), "--out", str(tmp_path / "out"), "--fail-under", "5")
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr.startswith("usage: grader batch") and "--out OUT" in done.stderr
    assert done.stderr.rstrip().endswith("grader batch: error: unrecognized arguments: --fail-under 5")
    done = run("gradescope", "build", "--bogus")
    assert done.returncode == 2 and "grader gradescope build: error: unrecognized arguments: --bogus" in done.stderr


def test_a_course_solution_short_of_full_marks_stops_a_batch_and_a_bundle(tmp_path):
    """ux137, ux138: a course's solution that defined another name, or forgot a factor, drew every student's pass
    beside none, without a word; it must score full marks, as the catalogue's do."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "hw.toml").write_text((ROOT / "reference" / "sin.toml").read_text().replace(
        'name = "sin"', 'name = "hw"').replace('solution = "sin_solution.py"', 'solution = "hw_solution.py"'))
    (course / "hw_solution.py").write_text((SUBMISSIONS / "mistake_two_sin.py").read_text())
    (tmp_path / "class").mkdir()
    shutil.copy(SUBMISSIONS / "honest_backward.py", tmp_path / "class" / "ann.py")
    done = run("batch", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--exercise", str(course / "hw.toml"))
    assert done.returncode == 2 and "hw_solution.py scores " in done.stderr and "must score full marks" in \
        done.stderr, done.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()
    built = run("gradescope", "build", "--out", str(tmp_path / "a.zip"), "--exercise", str(course / "hw.toml"))
    assert built.returncode == 2 and "must score full marks" in built.stderr and not (tmp_path / "a.zip").exists()


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    done = run("grade", str(tmp_path / "missing.py"), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no such file" in done.stderr
    assert run("grade", "x.py").returncode == 2  # --out is required
    assert run("check", str(SUBMISSIONS / "honest_backward.py"), "--exercise", "nope").returncode == 2
    # A file where --out's folder goes, a --fail-under that never or always fails, an unreachable
    # scheduler: each ended in a traceback and the grader's own exit status (ux110).
    afile = tmp_path / "afile"
    afile.write_text("")
    for args in (("grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(afile)),
                 ("check", str(SUBMISSIONS / "honest_backward.py"), "--out", str(afile / "sub")),
                 ("batch", str(SUBMISSIONS), "--out", str(afile)),
                 ("check", str(SUBMISSIONS / "honest_backward.py"), "--out", str(tmp_path), "--fail-under", "nan"),
                 ("check", str(SUBMISSIONS / "honest_backward.py"), "--out", str(tmp_path), "--fail-under", "11"),
                 ("batch", str(SUBMISSIONS), "--out", str(tmp_path / "b"), "--scheduler", "notaurl"),
                 # (a port that refuses: said at once, where Dask's client waited out 30 s, ux111)
                 ("batch", str(SUBMISSIONS), "--out", str(tmp_path / "b"), "--scheduler", "tcp://127.0.0.1:1")):
        done = run(*args)
        # (one line: an unreachable scheduler was said under an empty progress bar, ux112)
        assert done.returncode == 2 and done.stderr.startswith("grader: --"), (args, done.stderr)
        assert done.stderr.strip().count("\n") == 0, (args, done.stderr)
    (tmp_path / "empty").mkdir()  # a wrong folder looked like a finished batch
    done = run("batch", str(tmp_path / "empty"), "--out", str(tmp_path / "e"))
    assert done.returncode == 2 and "no submissions in" in done.stderr
    env = {k: v for k, v in os.environ.items() if k != "GRADER_COURSE_SECRET"}
    built = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(tmp_path / "a.zip")],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert built.returncode == 0 and "no $GRADER_COURSE_SECRET" in built.stderr and "replacing" not in built.stdout
    again = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(tmp_path / "a.zip")],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert again.returncode == 0 and "(replacing the one built before)" in again.stdout  # (ux136: without a word)
    from grader.sandbox import visible_gpus

    if not visible_gpus():  # asked once, before grading: it was each submission's grader_error (batch: status 0)
        done = run("batch", str(SUBMISSIONS), "--out", str(tmp_path / "c"), "--device", "cuda")
        assert done.returncode == 2 and "no CUDA device is visible" in done.stderr
        assert not (tmp_path / "c" / "gradebook.csv").exists()


def test_version():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("grader ")


@pytest.mark.parametrize("name", ["honest_func_vmap", "mistake_caller_requires_grad"])
def test_same_file_same_result_and_a_comment_does_not_change_it(tmp_path, sin, name):
    """Everything but the timing is identical run to run, messages and shrunk examples included,
    although which calls carry the canary's secret is drawn afresh each run. (A repeat check's count
    can move by an input whose answer crosses zero under one state and not the other; its verdict
    and points cannot.)"""
    from grader.grade import grade_file
    from grader.report.result_json import to_dict

    original = SUBMISSIONS / f"{name}.py"
    edited = tmp_path / f"{name}.py"
    edited.write_text("# resubmitted with a comment\n" + original.read_text())

    def stable(path):
        data = to_dict(grade_file(path, sin))
        del data["duration_s"], data["submission"]
        for check in data["checks"]:
            if check["name"] == "repeatable" and not check["passed"]:
                check["message"] = re.sub(r"on \d+ of \d+ inputs", "", check["message"])
        return data

    first, again, commented = stable(original), stable(original), stable(edited)
    assert first == again
    for data in (first, commented):  # other bytes: another cache key; the student's warnings shift lines
        del data["output"], data["cache_key"]
    assert first == commented


def test_seed_and_course_secret_are_recorded_and_the_secret_stays_with_the_grader(tmp_path):
    fixture = ROOT / "tests" / "fixtures" / "reads_environment.py"
    done = run("grade", str(fixture), "--out", str(tmp_path), env={"GRADER_COURSE_SECRET": "hush-7f3a"})
    data = result(tmp_path)
    assert done.returncode == 0 and data["score"] == 10 and "no $GRADER_COURSE_SECRET" not in done.stderr
    assert "hush-7f3a" not in data["output"]["stdout"] and "GRADER" not in data["output"]["stdout"]
    plain = tmp_path / "plain"
    run("grade", str(fixture), "--out", str(plain))
    assert result(plain)["seed"] != data["seed"]
    run("grade", str(fixture), "--out", str(plain), "--seed", "42")
    assert result(plain)["seed"] == 42
    # Not printed where a student reads: a check's header and junit.xml in a course's CI (ux127)
    checked = tmp_path / "checked"
    done = run("check", str(fixture), "--out", str(checked), "--no-plot", "--format", "junit",
               env={"GRADER_COURSE_SECRET": "hush-7f3a"})
    assert str(data["seed"]) not in done.stdout and "seed" not in done.stdout.splitlines()[1], done.stdout
    assert str(data["seed"]) not in (checked / "junit.xml").read_text()
    done = run("check", str(fixture), "--out", str(checked), "--no-plot", "--format", "junit", "--seed", "42")
    assert "· seed 42" in done.stdout and 'name="seed" value="42"' in (checked / "junit.xml").read_text()
    # ...nor a batch's (ux128: its junit.xml had the course's seed on every student)
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(fixture, folder / "ann.py")
    run("batch", str(folder), "--out", str(tmp_path / "class-out"), "--no-plot", "--format", "junit",
        env={"GRADER_COURSE_SECRET": "hush-7f3a"})
    assert result(tmp_path / "class-out" / "ann")["seed"] == data["seed"]
    assert str(data["seed"]) not in (tmp_path / "class-out" / "junit.xml").read_text()


def test_a_grader_failure_says_so_and_exits_3(tmp_path, monkeypatch, capsys):
    from grader import probe

    def broken(*args, **kwargs):
        raise RuntimeError("simulated grader bug")

    monkeypatch.setattr(probe, "collect", broken)
    code = cli.main(["grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(tmp_path), "--no-plot"])
    assert code == 3
    data = result(tmp_path)
    assert data["status"] == "grader_error" and "simulated grader bug" in data["grader_error"]
    assert all("the grader itself failed, not your submission" in c["message"] for c in data["checks"])
    assert "the grader failed" in capsys.readouterr().err


def test_a_check_that_fails_is_a_grader_error_on_record(tmp_path, monkeypatch):
    """A red team's answers near float64's ends once failed a check: the CLI wrote no result.json,
    and a batch row said only "run the batch again"."""
    from grader import feedback

    def broken(*args, **kwargs):
        raise OverflowError("simulated check bug")

    monkeypatch.setattr(feedback, "explain_values", broken)
    assert cli.main(["grade", str(SUBMISSIONS / "mistake_two_sin.py"), "--out", str(tmp_path), "--no-plot"]) == 3
    data = result(tmp_path)
    assert data["status"] == "grader_error" and "simulated check bug" in data["grader_error"]


def test_a_grader_failure_keeps_what_the_sandbox_recorded(tmp_path, monkeypatch):
    """A grader's failure after the submission ran once dropped its record (a red team's note)."""
    from grader import probe

    collect = probe.collect

    def fails_after(*args, **kwargs):
        collect(*args, **kwargs)
        raise RuntimeError("simulated grader bug")

    monkeypatch.setattr(probe, "collect", fails_after)
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "verdict" / "reads_memory_through_a_link.py"
    assert cli.main(["grade", str(fixture), "--out", str(tmp_path), "--no-plot"]) == 3
    data = result(tmp_path)
    assert data["status"] == "grader_error"
    assert "opened a process's memory or its map (mem)" in data["sandbox"]["events"]


def test_the_grader_process_never_imports_torch_or_the_students_file():
    probe = (
        "import sys; from pathlib import Path; from grader import exercise; from grader.grade import grade_file;"
        "o = grade_file(Path('submissions/cheat_cos.py'), exercise.load('sin'));"
        "print(o.score, 'torch' in sys.modules, any('solution' in m or 'submission' == m for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["1.0", "False", "False"], done.stderr  # a cheat keeps only the loads point


def test_fail_under_makes_a_ci_job_fail_on_a_low_score(tmp_path):
    failing = run("check", str(SUBMISSIONS / "mistake_returns_y.py"), "--out", str(tmp_path / "a"), "--no-plot",
                  "--fail-under", "10")
    assert failing.returncode == 1 and "below --fail-under 10" in failing.stderr
    passing = run("check", str(SUBMISSIONS / "honest_backward.py"), "--out", str(tmp_path / "b"), "--no-plot",
                  "--fail-under", "10")
    assert passing.returncode == 0, passing.stderr


def test_junit_has_a_test_case_per_check_and_the_failure_text(tmp_path):
    """A check that passed with its points held back is a failure too (ux118: cheat_cos, 1/10, was one
    failing test beside six passing ones)."""
    import xml.etree.ElementTree as ET

    for name in ("mistake_returns_y", "cheat_cos"):
        out = tmp_path / name
        done = run("grade", str(SUBMISSIONS / f"{name}.py"), "--out", str(out), "--no-plot", "--format", "junit")
        assert done.returncode == 0, done.stderr
        root = ET.parse(out / "junit.xml").getroot()
        data = result(out)
        suite = root.find("testsuite")
        assert suite is not None and suite.get("name") == name
        cases = {case.get("name"): case for case in suite.iter("testcase")}
        assert set(cases) == {c["name"] for c in data["checks"]}
        for check in data["checks"]:
            failure = cases[check["name"]].find("failure")
            assert (failure is None) == (check["passed"] and not check["held_back"])
            if failure is not None:
                assert failure.text == check["message"]
                assert failure.get("type") == ("held_back" if check["passed"] else "failed")
        assert int(root.get("failures")) == sum(not c["passed"] or c["held_back"] for c in data["checks"]) > 0
    assert any(c["held_back"] for c in data["checks"])  # (cheat_cos's)
    # ux137: a later grade into the same --out, without --format junit, left the earlier file's junit.xml
    out = tmp_path / "mistake_returns_y"
    assert run("grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(out), "--no-plot").returncode == 0
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "honest_backward" and suite.find(".//failure") is None
    (out / ".grader-key").write_bytes(b"k" * 32)  # (rv50: a batch's results, whose junit.xml is its class's)
    kept = (out / "junit.xml").read_bytes()
    assert run("grade", str(SUBMISSIONS / "cheat_cos.py"), "--out", str(out), "--no-plot").returncode == 0
    assert (out / "junit.xml").read_bytes() == kept


def _loads_of_notebook(name: str, out: Path) -> dict:
    """The loads check of a notebook fixture graded into `out`."""
    done = run("grade", str(ROOT / "tests" / "fixtures" / "notebook" / name), "--out", str(out), "--no-plot")
    assert done.returncode == 0, done.stderr
    return next(c for c in result(out)["checks"] if c["name"] == "loads")


def test_a_notebooks_error_is_placed_by_its_cell_and_told_to_run_all(tmp_path):
    """ux111: "NameError: name 'plt' is not defined at line 11", a line of the exported script, then
    the advice to put code under `if __name__ == "__main__":`, which no notebook has."""
    loads = _loads_of_notebook("runs_a_cell_before_its_import.ipynb", tmp_path)
    assert "name 'plt' is not defined at line 1 of code cell 3 (`plt.plot(" in loads["message"], loads["message"]
    assert "Restart & Run All" in loads["message"] and "__main__" not in loads["message"]


def test_a_notebook_that_stops_at_a_first_try_cell_is_told_to_fix_or_delete_it(tmp_path):
    """hn122: a first try's plt.plot(x, y) of a tensor that requires grad, left above the cell that
    redoes it right, was told of imports and packages only your machine has."""
    loads = _loads_of_notebook("stops_at_a_first_try_cell.ipynb", tmp_path)
    assert "at line 3 of code cell 3 (`plt.plot(x, y)   # first try`)" in loads["message"], loads["message"]
    assert "Restart & Run All stops at that cell" in loads["message"] and "packages" not in loads["message"]
    assert "delete it if a later cell redoes it right" in loads["message"]
    # and the function is graded, the other cells run: the loads point alone lost (it scored 0, every
    # other check "not run")
    assert "The grader ran the notebook's other cells all the same, as nbgrader does" in loads["message"]
    assert result(tmp_path)["status"] == "graded" and result(tmp_path)["score"] == 9.0


def test_a_file_whose_import_raises_after_the_function_is_graded_less_the_loads_point(tmp_path):
    """A plot saved where the sandbox lets nothing be written, at the bottom of an honest file: 0/10
    before; an exit there too (hn124). Raised before the def, the file still does not load."""
    honest = (SUBMISSIONS / "honest_backward.py").read_text()
    cases = {"after": honest + "\nopen('/etc/plot.png', 'wb')\n", "before": "open('/etc/plot.png', 'wb')\n" + honest,
             "exits": honest + "\nexit()\n"}
    for name, source in cases.items():
        (tmp_path / f"{name}.py").write_text(source)
        done = run("grade", str(tmp_path / f"{name}.py"), "--out", str(tmp_path / name), "--no-plot")
        assert done.returncode == 0, done.stderr
    for name in ("after", "exits"):
        graded = result(tmp_path / name)
        assert graded["status"] == "graded" and graded["score"] == 9.0, graded["checks"][0]["message"]
        assert all(c["passed"] for c in graded["checks"] if c["name"] != "loads")
    assert result(tmp_path / "before")["status"] == "load_error" and result(tmp_path / "before")["score"] == 0.0


def test_a_notebook_and_a_file_of_another_suffix_are_graded_as_python(tmp_path):
    """A D2L student's notebook (its code cells, %matplotlib and !pip made comments), and a solution
    saved as .PY: each failed to load with "AssertionError" and scored 0/10."""
    notebook = ROOT / "tests" / "fixtures" / "notebook" / "honest_notebook.ipynb"
    upper = tmp_path / "Solution.PY"
    upper.write_bytes((SUBMISSIONS / "honest_backward.py").read_bytes())
    # (and a notebook exported as an executable script, its magics get_ipython() calls: 0 before)
    exported = ROOT / "tests" / "fixtures" / "notebook" / "exported_as_a_script.py"
    # (and a notebook whose %%writefile cell writes the module the next cell imports, test.py, which
    # was missing (rt140), then lost to the standard library's test while the child's folder came
    # last on its path (rt143))
    writes = ROOT / "tests" / "fixtures" / "notebook" / "writes_its_module.ipynb"
    # (and one that writes its script with %%file and runs it with %run, a file it never submitted
    # skipped, and calls get_ipython() in a cell: rt145's were told get_derivative was not defined)
    runs = ROOT / "tests" / "fixtures" / "notebook" / "runs_its_script.ipynb"
    # (and an export whose %%capture cell imports torch and whose %%time cell defines the function,
    # and a notebook that writes submission.py and imports it, where the grader's own module of that
    # name was found: rt148's scored 1, 0 and 0)
    cell_magics = ROOT / "tests" / "fixtures" / "notebook" / "exported_with_cell_magics.py"
    named = ROOT / "tests" / "fixtures" / "notebook" / "writes_submission_py.ipynb"
    # (and one that kept the README's self-check cell, `check(get_derivative)`: it ran the grader
    # inside the sandbox, 0/10 and on the TA's list for importing the grader's modules, rt151)
    checked = ROOT / "tests" / "fixtures" / "notebook" / "leaves_its_self_check.ipynb"
    # (and one that reads IPython's output history, `_`, `_4`, `Out[4]`: 0/10 for a NameError, hn120)
    history = ROOT / "tests" / "fixtures" / "notebook" / "uses_output_history.ipynb"
    # (and the self-check imported from grader.notebook, its module: 0/10 and listed, hn121)
    from_module = ROOT / "tests" / "fixtures" / "notebook" / "imports_the_notebook_check.py"
    for path in (notebook, upper, exported, writes, runs, cell_magics, named, checked, history, from_module):
        out = tmp_path / path.stem
        done = run("grade", str(path), "--out", str(out), "--no-plot")
        assert done.returncode == 0, done.stderr
        assert result(out)["score"] == 10, result(out)["checks"]
        assert result(out)["sandbox"]["events"] == [], result(out)["sandbox"]
    assert "grader.check(...) left in the file: skipped" in result(tmp_path / checked.stem)["output"]["stdout"]


def test_a_notebook_in_ipythons_own_syntax_is_graded_as_jupyter_runs_it(tmp_path):
    """rt137, ux112: `%time g = f(x)` (g then undefined), `torch.sin?`, `files = !ls`, a `%%bash`
    cell, an indented `!pip`, a future import in cell 2, display(), and a `%` continuing a line
    inside brackets each made a notebook that Restart & Run All runs score 0."""
    notebook = ROOT / "tests" / "fixtures" / "notebook" / "uses_ipython_syntax.ipynb"
    done = run("grade", str(notebook), "--out", str(tmp_path), "--no-plot")
    assert done.returncode == 0, done.stderr
    assert result(tmp_path)["score"] == 10, result(tmp_path)["checks"][0]
    printed = result(tmp_path)["output"]["stdout"]
    assert "error: " in printed and "tensor([" in printed and "only in Jupyter" not in printed, printed


@pytest.mark.parametrize(("command", "name", "status"), [("grade", "cheat_cos", 1), ("check", "cheat_cos", 1),
                                                         ("check", "honest_backward", 0)])
def test_a_closed_stdout_keeps_the_exit_status_and_the_junit_report(tmp_path, command, name, status):
    """ux112: `grader grade ... --fail-under 5 --format junit | head -0` exited 0 for a 1/10 file, and
    `grader check ... | head -1` exited 1 for a 10/10 one (rich's own exit on a broken pipe); in
    neither was junit.xml written."""
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-m", "grader", command, str(SUBMISSIONS / f"{name}.py"), "--out",
                              str(out), "--fail-under", "5", "--format", "junit", "--no-plot"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before anything is written
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=300) == status, stderr
    assert (out / "junit.xml").is_file() and "Traceback" not in stderr, stderr


def test_a_grader_started_with_stdout_closed_grades(tmp_path):
    """rt139: `grader grade honest.py ... >&-` was the grader's error after 60 s (a descriptor made
    later took number 1, and the sandbox's set-up failed on it)."""
    command = f"{sys.executable} -m grader grade {SUBMISSIONS / 'honest_backward.py'} --out {tmp_path} --no-plot >&-"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert result(tmp_path)["score"] == 10


@pytest.mark.parametrize("redirect", ["2>&-", "2>&1 | true", ">&- 2>&-", "2</dev/null"])
def test_a_batch_with_stderr_closed_or_gone_grades_and_writes_its_gradebook(tmp_path, redirect):
    """rt140: `batch ... 2>&-` failed every student (sys.stderr None in the workers, their /dev/null
    not inherited), and with stderr's reader gone rich's progress bar ended the batch: no gradebook.
    ux130: a stderr where writes fail otherwise (EBADF: `flock LOCK grader batch ... 2>&-` gives its
    number to flock's read-only lock file; EIO: a terminal hung up) the same, exit 1."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("honest_backward", "cheat_cos"):
        (folder / f"{name}.py").write_bytes((SUBMISSIONS / f"{name}.py").read_bytes())
    out = tmp_path / "out"
    command = f"{sys.executable} -m grader batch {folder} --out {out} -j 2 --no-plot {redirect}"
    command += "; exit ${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, (done.stdout, done.stderr)
    rows = (out / "gradebook.csv").read_text()
    assert "honest_backward,10.0,10.0,graded" in rows and "cheat_cos,1.0,10.0,graded" in rows, rows


@pytest.mark.parametrize("command", ["grade", "check"])
def test_fail_under_holds_with_stderr_gone(tmp_path, command):
    """rt140: `grade wrong.py --fail-under 5 2>&1 | true` exited 0: the message below the score, on a
    stderr whose reader had gone, raised BrokenPipeError, taken for stdout's."""
    line = (f"{sys.executable} -m grader {command} {SUBMISSIONS / 'cheat_cos.py'} --out {tmp_path} --no-plot "
            "--fail-under 5 2>&1 | true; exit ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, (done.stdout, done.stderr)
