"""Failures are contained and exit codes honest: a child that cannot start is one file's grader error,
a failed worker one student's, our own bug exits 3 (1 is --fail-under's), bad arguments exit 2."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import batch, cli, exercise, grade
from grader.report.result_json import signature
from grader.sandbox import session
from grader.sandbox.confine import NOBODY
from tests.conftest import SUBMISSIONS


def _cannot_start(*args, **kwargs):
    raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


def test_a_child_that_cannot_start_is_that_files_grader_error(monkeypatch, sin, tmp_path):
    monkeypatch.setattr(session, "Session", _cannot_start)
    outcome = grade.grade_file(SUBMISSIONS / "honest_backward.py", sin)
    assert outcome.status == "grader_error" and "Resource temporarily unavailable" in outcome.grader_error
    # Its row runs no check of the student's (ux128 read "fail" in every cell, as if the student's) and has no score
    from grader.report import result_json

    job = batch.Job("alice", SUBMISSIONS / "honest_backward.py")
    row = batch.gradebook_row(job, result_json.to_dict(outcome), sin)
    assert row["score"] == "" and {row[c.name] for c in outcome.findings} == {"not run"}, row
    # ... and is not kept as a grade: a rerun of the batch tries it again.
    key = batch.results_key(tmp_path)
    (tmp_path / "alice").mkdir()
    result = {"cache_key": outcome.cache_key, "status": "grader_error"}
    (tmp_path / "alice" / "result.json").write_text(json.dumps({**result, "signature": signature(result, key)}))
    assert not batch.is_current(job, tmp_path, sin, outcome.seed, "auto", key)
    result["status"] = "graded"  # (the same, graded: current, its feedback.txt beside it)
    (tmp_path / "alice" / "result.json").write_text(json.dumps({**result, "signature": signature(result, key)}))
    assert not batch.is_current(job, tmp_path, sin, outcome.seed, "auto", key)  # (ux138: gone, written again)
    (tmp_path / "alice" / "feedback.txt").write_text("words")
    assert batch.is_current(job, tmp_path, sin, outcome.seed, "auto", key)
    # (graded without plots: current for a run without them, not for one that draws them, ux118)
    result["plotted"] = False
    (tmp_path / "alice" / "result.json").write_text(json.dumps({**result, "signature": signature(result, key)}))
    assert batch.is_current(job, tmp_path, sin, outcome.seed, "auto", key)
    assert not batch.is_current(job, tmp_path, sin, outcome.seed, "auto", key, plot=True)


def test_a_child_started_early_that_could_not_start_is_started_again_and_then_said(monkeypatch, sin):
    """`grader check` starts the child before the grader's heavier imports (early.py): where it could
    not start then, grade_file tries again, and a second failure is the file's grader error, as
    without the early start."""
    from grader import early

    monkeypatch.setattr(session, "Session", _cannot_start)
    started = early.start(SUBMISSIONS / "honest_backward.py", sin.limits)
    assert started.session is None and started.submission.path.name == "honest_backward.py"
    outcome = grade.grade_file(SUBMISSIONS / "honest_backward.py", sin, started=started)
    assert outcome.status == "grader_error" and "Resource temporarily unavailable" in outcome.grader_error


def test_a_session_that_cannot_start_leaves_no_folder_or_pipe(monkeypatch, tmp_path):
    session.namespace_prefix(NOBODY if session.child_drops_root() else 0)  # cached before Popen fails below
    source = tmp_path / "solution.py"
    source.write_text("def get_derivative(x):\n    return x\n")
    fds = set(os.listdir("/proc/self/fd"))
    folders = set(Path(tempfile.gettempdir()).glob("grader-*"))
    monkeypatch.setattr(session.subprocess, "Popen", _cannot_start)
    with pytest.raises(OSError):
        session.Session(source, 64, content=source.read_bytes())
    assert set(os.listdir("/proc/self/fd")) <= fds
    assert set(Path(tempfile.gettempdir()).glob("grader-*")) <= folders


def test_a_worker_that_fails_is_one_students_grader_error_and_the_batch_goes_on(monkeypatch, tmp_path):
    def grade_job(job, out, settings):
        if job.student == "bob":
            raise MemoryError("the worker ran out of memory")
        return {"student": job.student, "status": "graded", "score": 10.0}

    monkeypatch.setattr(batch, "grade_job", grade_job)
    rows: list[dict] = []
    jobs = [batch.Job(name, tmp_path / f"{name}.py") for name in ("alice", "bob", "carol")]
    with ThreadPoolExecutor(2) as executor:
        batch._Runner(executor, tmp_path, None, 2, rows.append).run(jobs)  # type: ignore[arg-type]
    assert sorted((row["student"], row["status"]) for row in rows) == [
        ("alice", "graded"), ("bob", "grader_error"), ("carol", "graded")]


def test_a_batch_that_waits_on_a_student_says_whose(monkeypatch, tmp_path):
    """ux118: the bar sat at 27/28, "0:00:01" to go, for the minute one student's import hung, and
    nothing said whose: the runner names the students in flight (the oldest, as many as workers)."""
    import threading

    release = threading.Event()

    def grade_job(job, out, settings):
        if job.student == "tom":
            release.wait(10)
        return {"student": job.student, "status": "graded", "score": 10.0}

    said: list[tuple[float, list[str]]] = []

    def waiting(quiet: float, students: list[str]) -> None:
        said.append((quiet, students))
        if quiet > 2:
            release.set()

    monkeypatch.setattr(batch, "grade_job", grade_job)
    rows: list[dict] = []
    jobs = [batch.Job(name, tmp_path / f"{name}.py") for name in ("alice", "tom", "carol", "dee")]
    with ThreadPoolExecutor(2) as executor:
        batch._Runner(executor, tmp_path, None, 2, rows.append, waiting).run(jobs)  # type: ignore[arg-type]
    assert len(rows) == 4 and said and all(students == ["tom"] for _, students in said), said
    assert said[-1][0] > 2


def test_bad_arguments_exit_2(capsys):
    for jobs in ("0", "-3", "two"):
        with pytest.raises(SystemExit) as stop:
            cli.main(["batch", "submissions", "--out", "out", "-j", jobs])
        assert stop.value.code == 2
        assert "-j/--jobs" in capsys.readouterr().err


def test_an_unexpected_exception_exits_3_not_1(monkeypatch, tmp_path, capsys):
    def discover(folder, out=None, function="", skipped=None, exercise=""):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(batch, "discover", discover)
    assert cli.main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == cli.EXIT_GRADER
    err = capsys.readouterr().err
    assert "RuntimeError: a bug of ours" in err and err.strip().endswith("the traceback is above")


def test_only_a_batch_is_told_to_run_again_to_go_on():
    """ux111: Ctrl-C during `grader check` said "run the same command again to go on": nothing resumes."""
    import argparse

    assert cli._again(argparse.Namespace(command="check")) == ""
    assert "run the same command again to go on" in cli._again(argparse.Namespace(command="batch"))


def test_workers_that_keep_dying_end_the_batch_instead_of_replacing_it_for_ever(monkeypatch, tmp_path):
    """A pool whose workers die as they start (a broken machine) would be replaced for ever: the batch
    gives up after MAX_POOLS, in words that say what to look at."""
    from concurrent.futures.process import BrokenProcessPool
    from types import SimpleNamespace

    class Broken:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("a worker died as it started")

    started: list[object] = []
    monkeypatch.setattr(batch, "start_pool", lambda *args: started.append(args) or Broken())
    monkeypatch.setattr(batch, "stop_pool", lambda pool: None)
    runner = batch._Runner(Broken(), tmp_path, SimpleNamespace(exercise=None, plot=False), 2,  # type: ignore[arg-type]
                           lambda row: None)
    with pytest.raises(RuntimeError, match="died 9 times"):
        runner.run([batch.Job("ann", tmp_path / "ann.py")])
    assert len(started) == batch.MAX_POOLS


def test_a_gradebook_row_says_where_the_points_came_from_and_why_a_file_was_not_graded(sin):
    """ux118: "fail" beside a correctness that earned 2.19 of 4, and an empty note for an import that
    never finished (the reason was in result.json alone)."""
    def data(status: str, checks: list[dict]) -> dict:
        return {"score": 3.0, "max_score": 10.0, "status": status, "duration_s": 1.0,
                "submission": {"sha256": "0"}, "checks": checks}

    graded = data("graded", [{"name": "loads", "passed": True, "score": 1, "max_score": 1},
                             {"name": "correctness", "passed": False, "score": 2.19, "max_score": 4},
                             {"name": "autograd", "passed": False, "score": 0, "max_score": 2},
                             {"name": "contract", "passed": True, "held_back": True, "score": 0, "max_score": 1}])
    row = batch.gradebook_row(batch.Job("ann", Path("ann.py")), graded, sin)
    assert [row[n] for n in ("loads", "correctness", "autograd", "contract")] == ["pass", "partial 2.19/4", "fail",
                                                                                    "held"]
    assert row["note"] == ""
    stopped = data("timeout", [{"name": "loads", "passed": True, "message": "Your file loads."},
                               {"name": "correctness", "passed": False, "message": "None finished.\nGrading stopped "
                                "early: your code did not finish the 3 calls within 10 s."},
                               {"name": "contract", "passed": False, "score": 0, "max_score": 1,
                                "message": "Not checked: your function never returned a value."}])
    row = batch.gradebook_row(batch.Job("bob", Path("bob.py")), stopped, sin)
    assert row["note"] == "Grading stopped early: your code did not finish the 3 calls within 10 s."
    assert row["contract"] == "not run"  # (ux119 read "fail" beside "Not checked")
    hung = data("load_error", [{"name": "loads", "passed": False, "message": "Importing your file failed: Python "
                                "did not finish the import of your file within 60 s.\nWhat to do: …"}])
    assert batch.gradebook_row(batch.Job("cy", Path("cy.py")), hung, sin)["note"].endswith("within 60 s.")
    # (ux133: victor's memory note was "Fails on 26 of 26 inputs." alone; ivan's ended mid-word at 300 characters)
    memory = data("memory", [{"name": "correctness", "passed": False, "message": "Fails on 26 of 26 inputs.\nOn x = "
                              "0.0, your function raised MemoryError.\nLikely cause: the function needed more memory "
                              "than the 4 GiB it may use.\nWhat to do: …"}])
    assert batch.gradebook_row(batch.Job("vic", Path("vic.py")), memory, sin)["note"] == (
        "Fails on 26 of 26 inputs. Likely cause: the function needed more memory than the 4 GiB it may use.")
    said = "Grading stopped early: " + "it printed a lot, " * 30 + "which is slow here."
    flood = data("timeout", [{"name": "correctness", "passed": False, "message": said}])
    note = batch.gradebook_row(batch.Job("ivan", Path("ivan.py")), flood, sin)["note"]
    assert len(note) <= 300 and note.endswith("…") and said.startswith(note[:-1]) and said[len(note) - 1] == " "


def test_a_batch_with_workers_side_by_side_on_a_gpu_says_they_share_its_memory(monkeypatch, tmp_path, capsys):
    # (rt159, read: nothing bounds a child's GPU memory, so a file taking all of it fails a classmate's calls)
    import grader.sandbox

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "bo"):  # (two: a batch starts no more workers than it has students)
        (folder / f"{name}.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())
    monkeypatch.setattr(batch, "start_pool", lambda workers, exercise, plot: object())
    monkeypatch.setattr(cli, "_grade", lambda *args: None)
    said = {}
    for gpus, jobs, device in ((1, "2", "auto"), (0, "2", "auto"), (1, "1", "auto"), (1, "2", "cpu")):
        monkeypatch.setattr(grader.sandbox, "visible_gpus", lambda gpus=gpus: gpus)
        cli.main(["batch", str(folder), "--out", str(tmp_path / f"out{gpus}{jobs}{device}"), "-j", jobs,
                  "--device", device])
        said[(gpus, jobs, device)] = "share the GPU" in capsys.readouterr().err.replace("\n", " ")
    assert said == {(1, "2", "auto"): True, (0, "2", "auto"): False, (1, "1", "auto"): False, (1, "2", "cpu"): False}


def test_a_batch_of_one_students_folder_over_a_class_results_is_refused_unasked(tmp_path, capsys):
    """ux123: `batch class/alice --out out`, to regrade one student, wrote a gradebook of her two files as
    two students in place of the class's 27."""
    out = tmp_path / "out"
    for student in ("ann", "bo", "cy"):
        (out / student).mkdir(parents=True)
        (out / student / "result.json").write_text("{}")
    alice = tmp_path / "class" / "alice"
    alice.mkdir(parents=True)
    (alice / "solution.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())
    assert cli.main(["batch", str(alice), "--out", str(out)]) == cli.EXIT_USAGE
    said = capsys.readouterr().err.replace("\n", " ")
    assert f"holds results of 3 students not in {alice}, which has 1 (solution): is it the class's folder?" in said
    assert not (out / "gradebook.csv").exists()


@pytest.mark.parametrize("where", ["class", "out", "file"])
def test_a_class_kept_where_every_child_reads_is_refused_before_anything_is_graded(tmp_path, capsys, monkeypatch,
                                                                                    where):
    """rt177: a class kept in /opt/course (then read by every child, as /usr and /etc are) was every
    student's to read, classmates' files, results and gradebook, printed into their own feedback."""
    from grader.sandbox import confine

    system = tmp_path / "opt"
    monkeypatch.setattr(confine, "_SYSTEM_READS", (*confine._SYSTEM_READS, str(system)))
    mine = tmp_path / "home"
    folder = (system if where in ("class", "file") else mine) / "course"
    out = (system if where == "out" else mine) / "out"
    folder.mkdir(parents=True)
    (folder / "alice.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())
    argv = ["grade", str(folder / "alice.py")] if where == "file" else ["batch", str(folder)]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_USAGE
    said = capsys.readouterr().err.replace("\n", " ")
    shown = out if where == "out" else folder
    assert f"{shown} lies in {system}, which every student's code may read" in said, said
    assert not out.exists()
    assert confine.readable_to_children(mine / "course") is None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (the swallowing itself)
def test_a_ctrl_c_swallowed_where_python_ignores_what_a_callback_raises_is_raised_again():
    """The suite's Ctrl-C 0.3 s into a batch landed in importlib's module-lock callback, where Python
    ignores what is raised ("Exception ignored in ... KeyboardInterrupt"), and the batch went on."""
    import weakref

    class Held:
        pass

    cli._INTERRUPTED.clear()
    held = Held()
    ref = weakref.ref(held, lambda _: cli._interrupt(2, None))  # (raised in a callback: ignored)
    del held
    assert ref() is None and cli._INTERRUPTED.is_set()
    with pytest.raises(KeyboardInterrupt):
        cli._interrupted_yet()
    cli._INTERRUPTED.clear()


def test_ctrl_c_wrapped_by_python_in_another_exception_ends_as_ctrl_c(monkeypatch, capsys):
    """The CI's Ctrl-C 0.6 s into a batch came as a module made a dataclass: Python wraps what __set_name__
    raises in a RuntimeError, and the batch ended in the grader's own failure, status 3, a traceback."""
    import signal

    from grader import cli

    def interrupted_in_set_name(args, ex):
        cli._INTERRUPTED.set()
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise RuntimeError("Error calling __set_name__") from err

    monkeypatch.setattr(cli, "_run", interrupted_in_set_name)
    assert cli.main(["grade", "x.py", "--out", "o"]) == 128 + signal.SIGINT
    assert "grader: interrupted" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_run", lambda args, ex: (_ for _ in ()).throw(RuntimeError("ours")))
    assert cli.main(["grade", "x.py", "--out", "o"]) == cli.EXIT_GRADER  # (without Ctrl-C, our own failure)


def test_gradescope_run_outside_gradescope_says_where_it_looked(tmp_path, capsys):
    """ux128: without --root on a TA's machine it wrote /autograder/results/results.json of 0 ("no file
    submitted"), printed nothing and exited 0. It still writes one (Gradescope must always get one)."""
    assert cli.main(["gradescope", "run", "--root", str(tmp_path)]) == cli.EXIT_USAGE
    assert f"{tmp_path / 'submission'} does not exist" in capsys.readouterr().err
    assert json.loads((tmp_path / "results" / "results.json").read_text())["score"] == 0
    # (ux132: a root that is not there at all, /autograder on a TA's machine, was made, results and all)
    nowhere = tmp_path / "autograder"
    assert cli.main(["gradescope", "run", "--root", str(nowhere)]) == cli.EXIT_USAGE
    assert f"{nowhere} does not exist: outside Gradescope" in capsys.readouterr().err and not nowhere.exists()


def _a_root_grader_without_landlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as a root grader on a kernel without Landlock, its children each of a uid of its own."""
    from grader.sandbox import confine

    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    monkeypatch.setattr(confine, "python_readable_by_nobody", lambda: True)
    monkeypatch.setattr(confine.os, "geteuid", lambda: 0)
    monkeypatch.delenv("GRADER_SANDBOX_SKIP", raising=False)


def test_without_landlock_a_class_any_user_may_reach_is_refused(monkeypatch, capsys):
    """rt182: on a kernel without Landlock a root grader's children, each of a uid of its own, read what
    every user may: a class under /tmp (folders 0755, files 0644) and its results, printed into a
    classmate's feedback at 10/10. A class in a folder only root may enter stays theirs alone; a grader
    that is no root runs every child as itself, so there every class is every child's."""
    import shutil

    from grader.sandbox import confine

    _a_root_grader_without_landlock(monkeypatch)
    top = Path(tempfile.mkdtemp())
    try:
        top.chmod(0o755)
        course = top / "course"
        course.mkdir()
        (course / "alice.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())
        course.chmod(0o755)
        if not confine._entered_by_anyone(top.parent):
            pytest.skip(f"{top.parent} does not let every user in")
        assert cli.main(["batch", str(course), "--out", str(top / "out")]) == cli.EXIT_USAGE
        said = capsys.readouterr().err.replace("\n", " ")
        assert "every folder above it let any user in, and this kernel has no Landlock" in said, said
        assert "chmod 700" in said and not (top / "out").exists()
        top.chmod(0o700)  # only root may enter now
        assert confine.readable_to_children(course) is None
        monkeypatch.setattr(confine.os, "geteuid", lambda: 1000)
        assert "every student's code runs as you" in (confine.readable_to_children(course) or "")
        monkeypatch.setattr(confine, "landlock_abi", lambda: 7)
        assert confine.readable_to_children(course) is None
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_courses_own_solution_every_child_may_read_is_refused(monkeypatch, capsys):
    """rt213: a course's own exercise, its solution beside its .toml in a folder any user enters, was read by a
    student's code (no Landlock, a uid of its own) and printed into its feedback. The catalogue's are public."""
    import shutil

    from grader.sandbox import confine

    _a_root_grader_without_landlock(monkeypatch)
    top = Path(tempfile.mkdtemp())
    try:
        (top / "class").mkdir(mode=0o700)
        (top / "class" / "alice.py").write_text((SUBMISSIONS / "honest_backward.py").read_text())
        course = top / "course"
        course.mkdir()
        toml = course / "hw9.toml"
        toml.write_text((exercise.REFERENCE_DIR / "sin.toml").read_text().replace('name = "sin"', 'name = "hw9"'))
        shutil.copy(exercise.REFERENCE_DIR / "sin_solution.py", course / "sin_solution.py")
        for path in (top, course):
            path.chmod(0o755)
        (course / "sin_solution.py").chmod(0o644)
        if not confine._entered_by_anyone(top.parent):
            pytest.skip(f"{top.parent} does not let every user in")
        out = top / "class" / "out"
        assert cli.main(["batch", str(top / "class"), "--out", str(out), "--exercise", str(toml)]) == cli.EXIT_USAGE
        said = capsys.readouterr().err.replace("\n", " ")
        assert "the exercise's reference solution would be theirs to read" in said, said
        assert "chmod 700" in said and not out.exists()
        # rt214: a link to it from a folder only root enters, or a hard link there, was let through
        hidden = top / "hidden"
        hidden.mkdir(mode=0o700)
        shutil.copy(toml, hidden / "hw9.toml")
        batch_ = argparse.Namespace(command="batch")
        (hidden / "sin_solution.py").symlink_to(course / "sin_solution.py")
        said = cli._exposed_solution(batch_, exercise.load(hidden / "hw9.toml"))
        assert f"a link to {(course / 'sin_solution.py').resolve()}" in said, said
        (hidden / "sin_solution.py").unlink()
        os.link(course / "sin_solution.py", hidden / "sin_solution.py")
        assert "has other names (hard links)" in cli._exposed_solution(batch_, exercise.load(hidden / "hw9.toml"))
        (course / "sin_solution.py").unlink()
        assert cli._exposed_solution(batch_, exercise.load(hidden / "hw9.toml")) == ""  # (one name, 0700 above it)
        os.link(hidden / "sin_solution.py", course / "sin_solution.py")
        (course / "sin_solution.py").chmod(0o600)  # (its owner's alone: no child, each of a uid of its own, reads it)
        assert cli._exposed_solution(batch_, exercise.load(toml)) == ""
        # rv48: one a course adds to the catalogue's own folder is no catalogue's
        (course / "sin_solution.py").chmod(0o644)
        shutil.copy(course / "sin_solution.py", course / "hw9_solution.py")
        shutil.copy(toml, course / "shipped.toml")
        toml.write_text(toml.read_text().replace('"sin_solution.py"', '"hw9_solution.py"'))
        monkeypatch.setattr(exercise, "REFERENCE_DIR", course)
        assert "the exercise's reference solution" in cli._exposed_solution(batch_, exercise.load(toml))
        assert cli._exposed_solution(batch_, exercise.load(course / "shipped.toml")) == ""  # (the shipped one's)
        # rt219: the solution its owner's alone, the module of the course's it imports everyone's
        (course / "hw9_solution.py").write_text("from leafs import leaf\n" + (course / "sin_solution.py").read_text())
        (course / "hw9_solution.py").chmod(0o600)
        (course / "leafs.py").write_text("def leaf(x):\n    return x\n")
        (course / "leafs.py").chmod(0o644)
        said = cli._exposed_solution(batch_, exercise.load(toml))
        assert "the exercise's reference solution's module" in said and "leafs.py" in said, said
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_workers_stop_that_came_inside_a_callback_python_swallows_still_stops_it_quietly():
    """612c80b's CI: stop_pool's SIGTERM came while a worker imported, inside importlib's module-lock
    callback (a weakref's), where Python cannot raise: it printed "Exception ignored ... SystemExit: 143"
    and its traceback on the batch's stderr, and the worker went on until it was killed."""
    import subprocess
    import sys

    worker = """if True:
        import gc, os, signal, sys, time, weakref
        from grader import batch
        batch.stop_on_sigterm()
        class Held: pass
        held = Held()
        ref = weakref.ref(held, lambda _: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.2)))
        del held
        gc.collect()
        time.sleep(5)
        print("went on", flush=True)
    """
    ran = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True, timeout=30,
                         cwd=Path(batch.__file__).parents[1])
    assert ran.returncode == 143, ran
    assert "went on" not in ran.stdout and ran.stderr == "", ran


@pytest.mark.parametrize("command", [["grade", str(SUBMISSIONS / "cheat_cos.py")], ["gradescope", "build"]])
def test_an_out_that_cannot_be_made_is_a_usage_error_in_one_line(command, tmp_path):
    """ux130: `--out /sys/nope` (a folder no one may make) was the grader's own failure: a traceback, exit 3."""
    import subprocess
    import sys

    blocked = tmp_path / "blocked"
    blocked.write_text("a file, where a folder of the path would be made\n")
    for out in ("/sys/grader-nope", str(blocked / "deeper" / "out")):
        done = subprocess.run([sys.executable, "-m", "grader", *command, "--out", out], capture_output=True,
                              text=True, timeout=120, cwd=Path(grade.__file__).parents[1])
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"grader: --out {out}"), done.stderr
    # rt189: an OUT that is there but cannot be written (a folder of another's, no right to write in it)
    if command[0] == "grade" and os.geteuid() != 0:
        readonly = tmp_path / "readonly"
        readonly.mkdir(mode=0o555)
        done = subprocess.run([sys.executable, "-m", "grader", *command, "--out", str(readonly)], capture_output=True,
                              text=True, timeout=120, cwd=Path(grade.__file__).parents[1])
        assert done.returncode == 2 and "cannot be made or written there" in done.stderr, done.stderr


@pytest.mark.parametrize("command", [["check"], ["grade"], ["batch"]])
def test_every_grading_command_says_which_layers_a_skip_leaves_off(monkeypatch, capsys, tmp_path, command):
    """rt191: $GRADER_SANDBOX_SKIP (the suite's aid, and it undoes the refusals the grader makes where a layer
    is missing) left layers off with no word but result.json's list of them."""
    missing = str(tmp_path / "nowhere.py")
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "uid,namespaces")
    assert cli.main([*command, missing, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert "$GRADER_SANDBOX_SKIP leaves namespaces, uid off" in capsys.readouterr().err
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "bogus")  # (rt192: said to be a layer left off)
    assert cli.main([*command, missing, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    said = capsys.readouterr().err
    assert "names no layer in bogus (ignored)" in said and "leaves" not in said
    monkeypatch.delenv("GRADER_SANDBOX_SKIP")
    assert cli.main([*command, missing, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert "GRADER_SANDBOX_SKIP" not in capsys.readouterr().err


@pytest.mark.parametrize("skip", ["landlock", "seccomp", "uid,landlock", "seccomp,namespaces"])
def test_a_skip_that_would_undo_a_refusal_is_refused_by_every_grading_command(monkeypatch, capsys, tmp_path, skip):
    """rt195: $GRADER_SANDBOX_SKIP=landlock,namespaces, as root with a child that keeps uid 0, graded with a
    warning alone, and a classmate's code read alice's file, her result and /etc/shadow, and overwrote her
    result.json; with no-landlock-kernel too, the refusal such a kernel gets was undone."""
    from grader.sandbox import confine

    monkeypatch.setattr(confine.os, "geteuid", lambda: 0)
    monkeypatch.setattr(confine, "python_readable_by_nobody", lambda: False)  # (root's own Python: keeps uid 0)
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    (tmp_path / "class").mkdir(mode=0o700)
    student = tmp_path / "class" / "alice.py"
    shutil.copy(SUBMISSIONS / "honest_backward.py", student)
    for command in (["check", str(student)], ["grade", str(student)], ["batch", str(tmp_path / "class")]):
        out = tmp_path / f"out-{command[0]}"
        assert cli.main([*command, "--out", str(out)]) == cli.EXIT_USAGE
        said = capsys.readouterr().err
        assert "the grader never runs student code so" in said and "unset it to grade" in said, said
        assert not list(out.rglob("result.json"))
    root = tmp_path / "gradescope"
    (root / "submission").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "honest_backward.py", root / "submission" / "derivative.py")
    assert cli.main(["gradescope", "run", "--root", str(root), "--exercise", "sin"]) == 3
    results = json.loads((root / "results" / "results.json").read_text())
    assert "the grader never runs student code so" in json.dumps(results)
    # A child that drops its uid keeps Landlock's refusals: readable_to_children's, for a class it may read
    monkeypatch.setattr(confine, "python_readable_by_nobody", lambda: True)
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "landlock")
    assert confine.grading_here(others=True)[1] is None


@pytest.mark.parametrize("command", [["check"], ["grade"], ["batch"]])
def test_a_grader_that_is_no_root_without_libseccomp_says_what_others_files_keep(monkeypatch, capsys, tmp_path,
                                                                                  command):
    """A grader that is no root runs its children as its own user, and without libseccomp unfiltered: a class's
    files keep that user's keyring, sockets and network (README's seccomp row), said nowhere but there."""
    from grader.sandbox import confine

    missing = [*command, str(tmp_path / "nowhere.py"), "--out", str(tmp_path / "out")]
    monkeypatch.setattr(confine.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(confine, "seccomp_program", lambda: None)
    assert cli.main(missing) == cli.EXIT_USAGE
    said = capsys.readouterr().err
    assert ("libseccomp" in said and "your kernel keyring" in said) == (command != ["check"]), said
    monkeypatch.setattr(confine, "seccomp_program", lambda: b"loaded")
    assert cli.main(missing) == cli.EXIT_USAGE
    assert "libseccomp" not in capsys.readouterr().err
    monkeypatch.setattr(confine.os, "geteuid", lambda: 0)  # (root's children without it are refused: UNFILTERED_*)
    monkeypatch.setattr(confine, "seccomp_program", lambda: None)
    assert cli.main(missing) == cli.EXIT_USAGE
    assert "libseccomp" not in capsys.readouterr().err


def test_a_sandbox_running_other_code_than_its_grader_is_the_graders_failure(monkeypatch, tmp_path, capsys):
    """ux131: a zygote started after the grader's files changed (an upgrade while a batch ran) spoke a newer
    protocol than its worker, and 64 students were told their code sent back something malformed, 1/10. A
    child whose code differs from its grader's is the grader's failure, never the student's."""
    import json

    from grader.sandbox import replies

    monkeypatch.setattr(replies, "SOURCES", "the grader's code before an upgrade")
    out = tmp_path / "out"
    assert cli.main(["grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(out), "--no-plot"]) == \
        cli.EXIT_GRADER
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "grader_error" and "files changed while it ran" in result["grader_error"], result
    monkeypatch.undo()
    assert cli.main(["grade", str(SUBMISSIONS / "honest_backward.py"), "--out", str(out), "--no-plot"]) == cli.EXIT_OK


def test_a_long_self_check_says_it_is_still_grading_until_it_is_done(sin, capsys):
    """ux133: `check` of a slow recursion sat two minutes with nothing on stderr, taken for a hang."""
    import threading
    import time

    from grader import cli

    graded = threading.Event()
    watch = threading.Thread(target=cli._still_grading, args=(Path("uma.py"), sin, graded, 0.05, 0.05))
    watch.start()
    time.sleep(0.3)
    graded.set()
    watch.join(1)
    lines = capsys.readouterr().err.splitlines()
    assert not watch.is_alive() and len(lines) >= 2, lines
    # (the seconds as the machine's load has them: rv43)
    assert re.match(r"grader: still grading uma\.py, \d+ s so far \(your file may take 120 s at most", lines[0]), lines
    time.sleep(0.1)
    assert capsys.readouterr().err == ""  # (nothing once it is done)
