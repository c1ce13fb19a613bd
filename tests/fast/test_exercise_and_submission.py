from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from grader import exercise, submission


def test_sin_exercise_is_complete(sin):
    assert sin.function == "get_derivative" and sin.primitive == "sin" and sin.derivative == "cos(u)"
    assert sin.max_score == 10
    assert sin.solution.is_file()
    assert set(sin.tolerances) == {"float64", "float32", "float16", "bfloat16"}


def test_unknown_exercise_lists_the_known_ones(tmp_path):
    with pytest.raises(exercise.ExerciseError, match="known exercises: cos_square, log_sin, sin, sin_cos_norm"):
        exercise.load("tan")
    # (ux137: a mistyped path of the instructor's was "no exercise", as if a name of the catalogue's)
    with pytest.raises(exercise.ExerciseError, match=r"mine.toml: no such file \(or not a file\); the catalogue's"):
        exercise.load(tmp_path / "mine.toml")
    for given in (tmp_path, exercise.REFERENCE_DIR / "sin_solution.py"):  # (ux138: told "no exercise")
        with pytest.raises(exercise.ExerciseError, match=r": not an exercise's .toml; give the .toml itself"):
            exercise.load(given)


def test_broken_exercise_file_is_an_instructor_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n')
    with pytest.raises(exercise.ExerciseError, match=r"bad\.toml"):
        exercise.load(bad)


def test_scan_points_at_lines_that_call_cos():
    source = b"import torch\n\ndef get_derivative(x):\n    y = x * 1\n    return torch.cos(y)\n"
    hits = submission.scan(source)
    assert [(h.line, h.name) for h in hits] == [(5, "cos")]
    assert hits[0].code == "return torch.cos(y)" and not hits[0].guarded
    # (rv50: a self-check under the main guard, which grading never runs, is no formula's mark)
    checked = source + b'\nif __name__ == "__main__":\n    print(torch.allclose(get_derivative(x), torch.cos(x)))\n'
    assert [(h.line, h.guarded) for h in submission.scan(checked)] == [(5, False), (8, True)]


def test_scan_survives_unparsable_source():
    assert submission.scan(b"def f(:\n") == ()
    assert submission.scan(b"(" * 10_000) == ()


def test_read_rejects_what_is_not_a_solution_file(tmp_path):
    with pytest.raises(submission.SubmissionError, match="no such file"):
        submission.read(tmp_path / "missing.py")


def test_a_file_too_large_to_read_is_a_file_that_does_not_load_and_a_notebooks_outputs_do_not_count(tmp_path):
    """Refused before grading, a file too large was a grader error in a batch and "the autograder
    failed" on Gradescope (ux112): it is graded as a file that raises on import, saying why. A
    notebook's saved plots do not count against the limit of code (ux112's 4.8 MB notebook)."""
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * (submission.MAX_SOURCE_BYTES + 1))
    script = submission.read(big).source.decode()
    assert f'raise ValueError("{submission.TOO_LARGE}' in script
    other = tmp_path / "other.py"
    other.write_bytes(b"#" * (submission.MAX_SOURCE_BYTES + 2))
    assert submission.read(other).sha256 != submission.read(big).sha256
    same_size = tmp_path / "same_size.py"  # (rt139: alike in the first MiB, one size: "identical submissions")
    same_size.write_bytes(b"#" * submission.MAX_SOURCE_BYTES + b"x")
    assert submission.read(same_size).sha256 != submission.read(big).sha256
    plot = "iVBORw0KGgo" + "A" * (4 << 20)
    cells = [{"cell_type": "code", "source": "import torch\ndef get_derivative(x):\n    return x\n",
              "outputs": [{"output_type": "display_data", "data": {"image/png": plot}}]}]
    notebook = tmp_path / "saved.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "nbformat": 4}))
    assert b"def get_derivative(x):" in submission.read(notebook).source
    notebook.write_text(json.dumps({"cells": cells * 5, "nbformat": 4}))  # past 16 MiB in all
    assert submission.TOO_LARGE in submission.read(notebook).source.decode()


def _hostile_folder(root):
    """A class as a repository might carry it: a symlink out to a secret, a symlinked student
    folder, a FIFO (reading it would block forever) and a socket, beside one honest file."""
    import os
    import socket

    secret = root / "secret.txt"
    secret.write_text("root-only line\n")
    folder = root / "class"
    (folder / "dora").mkdir(parents=True)
    (folder / "alice.py").write_text("def get_derivative(x):\n    return x\n")
    (folder / "bob.py").symlink_to(secret)
    (folder / "carol").symlink_to(root)
    (folder / "dora" / "solution.py").symlink_to(secret)
    os.mkfifo(folder / "erin.py")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "frank.py"))
    return folder, server


def test_only_regular_files_are_read_and_the_gradebook_says_why(tmp_path, sin):
    import signal

    from grader import batch

    folder, server = _hostile_folder(tmp_path)
    signal.alarm(10)  # opening the FIFO would block: fail instead of hanging
    try:
        for name, words in (("bob.py", "symbolic link"), ("erin.py", "FIFO"), ("frank.py", "socket"),
                            ("carol", "symbolic link")):
            with pytest.raises(submission.SubmissionError, match=words):
                submission.read(folder / name)
        jobs = {job.student: job for job in batch.discover(folder)}
    finally:
        signal.alarm(0)
        server.close()
    assert jobs["alice"].path == folder / "alice.py"
    assert {s for s, job in jobs.items() if job.refused} == {"bob", "carol", "dora", "erin", "frank"}
    rows = {row["student"]: row for row in batch.gradebook_rows(list(jobs.values()), {}, sin)}
    assert rows["bob"]["status"] == "refused" and "bob.py: a symbolic link" in rows["bob"]["note"]
    assert rows["dora"]["note"].startswith("solution.py: a symbolic link")
    assert "FIFO" in rows["erin"]["note"] and "socket" in rows["frank"]["note"]
    assert all(job.path is None for s, job in jobs.items() if s != "alice")


def test_each_check_declares_its_name_and_points_and_a_rubric_may_change_them(sin, tmp_path):
    from grader import checks

    assert checks.names() == ("loads", "correctness", "autograd", "contract", "tracked_inputs", "input_untouched",
                              "repeatable")
    assert {c.name: c.points for c in checks.ALL} == sin.rubric  # sin.toml states the defaults
    text = sin.source.read_text()
    shutil.copy(sin.solution, tmp_path)
    lenient = tmp_path / "lenient.toml"
    lenient.write_text(text.split("[rubric]")[0] + "[rubric]\nautograd = 5.0\n")  # the rest: defaults
    ex = exercise.load(lenient)
    assert ex.rubric["autograd"] == 5.0 and ex.rubric["correctness"] == 4.0 and ex.max_score == 13
    # (said where the total is shown: ux123's five checks for 10 points made 11)
    assert ex.unnamed == tuple(n for n in checks.names() if n != "autograd") and sin.unnamed == ()
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.split("[rubric]")[0] + "[rubric]\nstyle = 1.0\n")
    with pytest.raises(exercise.ExerciseError, match="unknown checks: \\['style'\\]"):
        exercise.load(unknown)


def test_a_primitive_the_canary_cannot_watch_is_an_instructor_error(sin, tmp_path):
    text = sin.source.read_text().replace('primitive = "sin"', 'primitive = "exp"')
    exp = tmp_path / "exp.toml"
    exp.write_text(text)
    with pytest.raises(exercise.ExerciseError, match="the canary can watch cos, sin, tanh, not 'exp'"):
        exercise.load(exp)


def test_a_name_two_entries_claim_or_one_the_batch_writes_is_no_job_and_says_why(tmp_path, sin):
    """bob.py beside a folder bob/ would write one folder of results, the second over the first; a
    student named gradebook.csv or summary.html would put a folder where the batch writes its own file."""
    from grader import batch

    folder = tmp_path / "class"
    (folder / "bob").mkdir(parents=True)
    (folder / "summary.html").mkdir()
    for path in ("alice.py", "bob.py", "bob/solution.py", "gradebook.csv.py", "summary.html/x.py", "Junit.xml.py"):
        (folder / path).write_text("def get_derivative(x):\n    return x\n")
    jobs = {job.student: job for job in batch.discover(folder)}
    assert sorted(jobs) == ["Junit.xml", "alice", "bob", "gradebook.csv", "summary.html"]
    assert jobs["alice"].path == folder / "alice.py"
    assert all(job.path is None for s, job in jobs.items() if s != "alice")
    rows = {row["student"]: row for row in batch.gradebook_rows(list(jobs.values()), {}, sin)}
    assert rows["bob"]["note"] == "2 submissions for one student: bob/, bob.py; keep one"
    # (no score until the TA has chosen, not a 0 an LMS would take over a grade: ux123)
    assert rows["bob"]["score"] == "" and rows["alice"]["score"] == ""  # (alice: no result, the grader failed)
    empty = batch.Job("eve", None, batch.EMPTY_FOLDER, stand_in=True)  # (one who handed in nothing has 0)
    assert batch.gradebook_row(empty, None, sin)["score"] == 0.0
    assert rows["gradebook.csv"]["note"] == "gradebook.csv.py: named like the batch's own gradebook.csv; rename it"
    assert rows["summary.html"]["note"].startswith("summary.html/: named like") and rows["bob"]["status"] == "missing"
    assert "junit.xml" in rows["Junit.xml"]["note"]


def test_a_name_no_gradebook_can_hold_is_shown_made_safe_and_not_graded(tmp_path, sin):
    """A file name that is not UTF-8 failed the whole batch's gradebook (and every rerun); one with a
    newline or a bidirectional override went raw into summary.md."""
    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    for name in (b"bad\xff.py", "eve\u202egnp.py".encode(), b"two\nlines.py", b"Carl.PY", b"alice.py", b"dora/Sol.PY"):
        (folder / os.fsdecode(name)).parent.mkdir(exist_ok=True)
        (folder / os.fsdecode(name)).write_text("def get_derivative(x):\n    return x\n")
    jobs = {job.student: job for job in batch.discover(folder)}
    assert sorted(jobs) == ["Carl", "alice", "bad\ufffd", "dora", "eve\ufffdgnp", "two\u2424lines"]
    assert jobs["Carl"].path == folder / "Carl.PY" and jobs["dora"].path == folder / "dora" / "Sol.PY"
    for name in ("bad\ufffd", "eve\ufffdgnp", "two\u2424lines"):
        assert jobs[name].path is None and "cannot be shown as it is" in jobs[name].problem
    path = batch.write_gradebook(batch.gradebook_rows(list(jobs.values()), {}, sin), tmp_path / "gradebook.csv")
    assert "bad\ufffd" in path.read_text(encoding="utf-8")


def test_a_student_id_a_spreadsheet_would_run_is_quoted_in_the_gradebook(tmp_path, sin):
    """A hunter's `=HYPERLINK("http:--x","click").py` was a live link in gradebook.csv, and +1+1, -2
    and @SUM(1) formulas; the id stays as it is elsewhere (its results folder, the summary)."""
    import csv

    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    names = ('=HYPERLINK("http:--x","click")', "+1+1", "-2", "@SUM(1)", "alice")
    for name in names:
        (folder / f"{name}.py").write_text("def get_derivative(x):\n    return x\n")
    jobs = batch.discover(folder)
    assert sorted(j.student for j in jobs) == sorted(names)
    path = batch.write_gradebook(batch.gradebook_rows(jobs, {}, sin), tmp_path / "gradebook.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        cells = {row["student"] for row in csv.DictReader(handle)}
    assert cells == {"'" + name for name in names[:4]} | {"alice"}


def test_the_gradebook_is_in_the_order_a_person_reads_names(tmp_path, sin):
    """ux137: by code point, "O'Brien, Pat" and "Zoë" came before "alice"."""
    from grader import batch

    for name in ("zoe", "Zoë", "alice", "O'Brien, Pat", "Émile", "bob"):
        (tmp_path / f"{name}.py").write_text("def get_derivative(x):\n    return x\n")
    rows = batch.gradebook_rows(batch.discover(tmp_path, function="get_derivative"), {}, sin)
    assert [row["student"] for row in rows] == ["alice", "bob", "Émile", "O'Brien, Pat", "Zoë", "zoe"]


def test_results_written_beside_the_submissions_are_no_students(tmp_path):
    """--out the submissions folder itself, or a folder inside it: a rerun saw bob's results folder
    as a second submission for bob (and a results folder as a student)."""
    from grader import batch

    folder = tmp_path / "class"
    (folder / "bob").mkdir(parents=True)
    (folder / "bob" / "result.json").write_text("{}")
    (folder / "bob.py").write_text("def get_derivative(x):\n    return x\n")
    (folder / "results" / "carol").mkdir(parents=True)
    for out in (folder, folder / "results"):
        jobs = batch.discover(folder, out=out)
        assert jobs[0].student == "bob" and jobs[0].path == folder / "bob.py"
        assert [j.student for j in jobs[1:]] == (["results"] if out == folder else [])  # a folder with no .py
    # ux137: a batch's results written there before, given another --out now, were a student with no .py file
    for name in ("gradebook.csv", batch.KEY_FILE):
        (folder / "results" / name).write_text("")
    skipped: list[str] = []
    jobs = batch.discover(folder, out=tmp_path / "elsewhere", skipped=skipped)
    assert [j.student for j in jobs] == ["bob"] and skipped == ["results/ (a batch's results)"]


def _as_a_user(work):
    """work() as a grader that is not root would run it (a TA's own account): root reads and writes
    past every mode. As root, in a fork that becomes nobody; its answer comes back through a pipe."""
    import json

    if os.geteuid() != 0:
        return work()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the fork
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, json.dumps(work()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def test_what_no_user_may_read_or_write_is_refused_with_its_reason_and_the_others_graded():
    """Under a grader that is not root, a student's folder of mode 0111 stopped the whole class's
    batch, a .py of mode 000 became "the grader failed; run the batch again", and where results go
    into the students' folders, one of mode 0555 made a cos cheat read as the grader's failure."""
    import shutil
    import tempfile

    from grader import batch

    top = Path(tempfile.mkdtemp(prefix="grader-modes-", dir="/tmp"))
    try:
        folder = top / "class"
        for student, mode in (("alice", 0o777), ("bob", 0o111), ("carol", 0o777), ("dave", 0o555)):
            (folder / student).mkdir(parents=True)
            (folder / student / "solution.py").write_text("def get_derivative(x):\n    return x\n")
            (folder / student).chmod(mode)
        (folder / "carol" / "solution.py").chmod(0)
        for path in (top, folder):
            path.chmod(0o777)

        def found(out):
            return {j.student: [j.status if j.path is None else "graded", j.problem]
                    for j in batch.discover(folder, out=out)}

        apart = _as_a_user(lambda: found(top / "out"))
        beside = _as_a_user(lambda: found(folder))
    finally:
        for path in top.rglob("*"):
            path.chmod(0o777) if path.is_dir() else path.chmod(0o666)
        shutil.rmtree(top)
    assert apart["alice"] == ["graded", ""] and apart["dave"] == ["graded", ""]
    assert apart["bob"] == ["refused", "bob/: cannot be read (Permission denied); make it readable"]
    assert apart["carol"][0] == "refused" and "cannot be read (Permission denied)" in apart["carol"][1]
    assert beside["dave"] == ["refused", "dave/: the grader may not write its results there; make it writable"]
    assert beside["alice"] == ["graded", ""]


def test_what_a_zygote_takes_on_first_is_read_from_the_source():
    assert submission.warm_extras(b"import torch\n") == ()
    assert submission.warm_extras(b"from torch.func import grad\nimport matplotlib.pyplot as plt\n") == (
        "compiler", "plotting")
    assert submission.warm_extras(b"from pylab import plot\n") == ("plotting",)


def test_a_students_folder_of_several_files_is_graded_on_the_one_that_defines_the_function(tmp_path):
    """A hunter's bob/ held solution.py and a plot.py that does not define get_derivative: "missing"
    in a batch, graded on Gradescope (gradescope.pick). Both take the only file that defines it."""
    from grader import batch, gradescope

    folder = tmp_path / "class"
    for path, text in (("bob/solution.py", "def get_derivative(x):\n    return x\n"),
                       ("bob/plot.py", "import matplotlib\n"),
                       ("carol/a.py", "def get_derivative(x):\n    return x\n"),
                       ("carol/b.py", "def get_derivative(x):\n    return -x\n"),
                       ("dan/plot.py", "import matplotlib\n"), ("dan/notes.py", "x = 1\n")):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative")}
    assert jobs["bob"].path == folder / "bob" / "solution.py"
    assert gradescope.pick(folder / "bob", "get_derivative")[0] == jobs["bob"].path
    # Two define it, or none does: the note says which ("keep the one that defines it" fitted neither).
    assert jobs["carol"].path is None
    assert jobs["carol"].problem == "both .py files define get_derivative(x): a.py, b.py; keep one"
    assert jobs["dan"].problem == "2 .py files, none defining get_derivative(x): notes.py, plot.py"
    assert batch.discover(folder)[0].path is None  # (no function named: every .py counts)
    # Copies of one file are one submission (ux113: solution.py and its copy, a notebook downloaded twice)
    for path, text in (("olga/solution.py", "def get_derivative(x):\n    return x\n"),
                       ("olga/solution_v2.py", "def get_derivative(x):\n    return x\n"),
                       ("rita/hw.ipynb", '{"cells": []}'), ("rita/hw (1).ipynb", '{"cells": []}')):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative")}
    assert jobs["olga"].path == folder / "olga" / "solution.py" == gradescope.pick(folder / "olga", "get_derivative")[0]
    assert jobs["rita"].path is not None and jobs["rita"].path.parent == folder / "rita"


def test_a_notebook_is_graded_by_its_code_cells_and_a_nested_or_uppercase_file_is_found(tmp_path):
    """A hunter's notebook, .PY and .txt solutions failed to load with "AssertionError" (0/10), a
    batch left frank.ipynb out with no row, and dave/hw/deep/sol.py was "missing: no .py file"."""
    from grader import batch

    notebook = Path(__file__).resolve().parents[1] / "fixtures" / "notebook" / "honest_notebook.ipynb"
    script = submission.read(notebook).source.decode()
    assert "def get_derivative(x):" in script and "# In[3]:" in script and "Exercise 2.5.5" not in script
    assert "# %matplotlib inline" in script and "# !pip install d2l" in script
    compile(script, "honest_notebook.ipynb", "exec")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    assert submission.NOT_A_NOTEBOOK in submission.read(broken).source.decode()
    other = tmp_path / "other.ipynb"  # (each such file its own hash: two were "identical", rt132)
    other.write_text("{not json either")
    assert submission.read(other).sha256 != submission.read(broken).sha256
    folder = tmp_path / "class"
    (folder / "dave" / "hw" / "deep").mkdir(parents=True)
    (folder / "dave" / "hw" / "deep" / "sol.py").write_text("def get_derivative(x):\n    return x\n")
    (folder / "frank.ipynb").write_bytes(notebook.read_bytes())
    (folder / "bob.py").write_text(script.replace("# In[", "# Out["))  # (comments and all: an export)
    (folder / "bob.ipynb").write_bytes(notebook.read_bytes())  # the notebook beside its export: the script
    (folder / "erin").mkdir()
    (folder / "erin" / "work.ipynb").write_bytes(notebook.read_bytes())
    (folder / "erin" / "work.py").write_text(script)
    (folder / "nina").mkdir()  # (ux120) a scratch .py of another answer beside the notebook: two answers
    (folder / "nina" / "hw2.ipynb").write_bytes(notebook.read_bytes())
    (folder / "nina" / "scratch.py").write_text("import torch\n\ndef get_derivative(x):\n    return torch.cos(x)\n")
    (folder / "omar").mkdir()  # (rt154) the notebook's def copied, then the name bound to another answer
    (folder / "omar" / "hw.ipynb").write_bytes(notebook.read_bytes())
    (folder / "omar" / "hw.py").write_text(script + "\nget_derivative = torch.cos\n")
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative")}
    assert {name: job.path.relative_to(folder).as_posix() for name, job in jobs.items() if job.path} == {
        "dave": "dave/hw/deep/sol.py", "frank": "frank.ipynb", "bob": "bob.py", "erin": "erin/work.py"}
    assert jobs["nina"].problem == "both files define get_derivative(x): hw2.ipynb, scratch.py; keep one"
    assert jobs["omar"].path is None and jobs["omar"].problem.startswith("both files define")


def test_a_students_file_of_another_suffix_gets_a_row_and_the_rest_is_named(tmp_path):
    """ux111: tom.zip, uma.txt, victor (no suffix), yuri.py.txt and wendy/solution.txt were left out
    of the gradebook without a word, where `grader check` grades any suffix as Python."""
    from grader import batch

    code = "import torch\n\ndef get_derivative(x):\n    return x\n"
    folder = tmp_path / "class"
    (folder / "wendy").mkdir(parents=True)
    (folder / "zed").mkdir()
    (folder / "tom").mkdir()
    for name in ("uma.txt", "victor", "yuri.py.txt", "wendy/solution.txt", "tom/sol.py", "xena.py", "xena.txt"):
        (folder / name).write_text(code)
    (folder / "tom.zip").write_bytes(b"PK\x03\x04")  # unpacked beside itself: the folder is the submission
    (folder / "ann.zip").write_bytes(b"PK\x03\x04")
    (folder / "roster.csv").write_text("name,id\n")
    (folder / "README.md").write_text("# the class\n")
    (folder / "zed" / "notes.md").write_text("my notes\n")
    # (rt135: a TA's README quoting the template, a tarball, a name that is a space, two files)
    (folder / "README.txt").write_text("Submit a file with\n\n    def get_derivative(x):\n\nin it.\n")
    (folder / "erin.tar.gz").write_bytes(b"\x1f\x8b")
    (folder / " .py.txt").write_text(code)
    (folder / "nina").mkdir()
    for name in ("solution.py.txt", "backup.txt"):
        (folder / "nina" / name).write_text(code)
    skipped: list[str] = []
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative", skipped=skipped)}
    assert {name: job.path.relative_to(folder).as_posix() for name, job in jobs.items() if job.path} == {
        "uma": "uma.txt", "victor": "victor", "yuri": "yuri.py.txt", "wendy": "wendy/solution.txt",
        "tom": "tom/sol.py", "xena": "xena.py"}
    assert jobs["ann"].status == "missing" and jobs["ann"].problem.startswith("ann.zip: an archive; unpack it")
    assert jobs["zed"].problem == "no .py file (it holds notes.md)"
    assert jobs["erin"].problem.startswith("erin.tar.gz: an archive; unpack it (into a folder erin/)")
    assert jobs["nina"].problem == "2 files define get_derivative(x): backup.txt, solution.py.txt; keep one"
    assert sorted(skipped) == [" .py.txt", "README.md", "README.txt", "roster.csv"]
    from grader import gradescope

    assert gradescope.pick(folder / "wendy", "get_derivative") == (folder / "wendy" / "solution.txt", "")
    assert gradescope.pick(folder / "zed", "get_derivative")[0] is None
    # ux133: a second answer of another suffix beside a .py (sam.py.txt, hw_final.txt) was dropped unsaid and
    # the .py graded, on Gradescope too; a copy of the .py (xena.txt, above) is no second answer
    (folder / "sam.py").write_text(code)
    (folder / "sam.py.txt").write_text(code.replace("return x", "return x + 0"))
    (folder / "vic").mkdir()
    (folder / "vic" / "hw.py").write_text(code)
    (folder / "vic" / "hw_final.txt").write_text(code.replace("return x", "return x + 0"))
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative")}
    assert jobs["sam"].path is None and jobs["sam"].problem == ("2 files define get_derivative(x): sam.py, "
                                                                "sam.py.txt; keep one")
    assert jobs["vic"].path is None and jobs["vic"].problem == ("2 files define get_derivative(x): hw.py, "
                                                                "hw_final.txt; keep one")
    assert jobs["xena"].path == folder / "xena.py"
    assert gradescope.pick(folder / "vic", "get_derivative") == (None, "2 files were submitted that define "
                                                                 "get_derivative(x) (hw.py, hw_final.txt): submit "
                                                                 "exactly one file that defines it.")
    # ...but the same function saved otherwise (rt202's CRLF copy) and a backup (hn146's .bak, ~) are none
    (folder / "vic" / "hw_final.txt").write_bytes(code.replace("\n", "\r\n").encode())
    (folder / "vic" / "hw.py.bak").write_text(code.replace("return x", "return 2 * x"))
    (folder / "vic" / "hw.py~").write_text(code.replace("return x", "return 3 * x"))
    (folder / "vic" / "hw.py.bkp").write_text(code.replace("return x", "return 4 * x"))  # (rt204)
    assert gradescope.pick(folder / "vic", "get_derivative") == (folder / "vic" / "hw.py", "")
    # rv43: a file that defines nothing beside one that does was said to define it too
    (folder / "vic" / "hw.py").write_text(code.replace("get_derivative", "derivative"))
    (folder / "vic" / "hw_final.txt").write_text(code)
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative")}
    assert jobs["vic"].problem == "hw_final.txt defines get_derivative(x), hw.py does not; keep one"
    assert gradescope.pick(folder / "vic", "get_derivative") == (None, "hw_final.txt defines get_derivative(x), hw.py "
                                                                 "does not: submit exactly one file that defines it.")


def test_a_file_the_search_passes_over_is_named_not_taken_for_nothing(tmp_path):
    """ux136: a student folder holding only a hidden .hw.py, Jupyter's checkpoint, a file in __pycache__ or one
    five folders down was "no .py file (the folder is empty)", 0 as one who handed in nothing, and unnamed;
    Gradescope's said no file was submitted."""
    from grader import batch, gradescope

    code = "import torch\n\ndef get_derivative(x):\n    return torch.cos(x)\n"
    places = {"yan": ".hw.py", "xia": ".ipynb_checkpoints/hw-checkpoint.ipynb", "wes": "__pycache__/hw.py",
              "dave": "a/b/c/d/e/sol.py", "gus": "a/b/c/d/sol.py", "jo": ".hw.py", "max": "z/.hw.py",
              # (hn152: what a tool keeps is no student's file)
              "mac": "__MACOSX/._hw.py", "git": ".git/hooks/pre_commit.py"}
    (tmp_path / "jo").mkdir(exist_ok=True)
    (tmp_path / "jo" / "README.md").write_text("my answer\n")  # (rv47: named for the README alone)
    # (rt214: a folder too deep ended the look)
    (tmp_path / "max" / "a/b/c/d/e/f/g/h/i").mkdir(parents=True, exist_ok=True)
    (tmp_path / "max" / "a/b/c/d/e/f/g/h/i/notes.txt").write_text("notes\n")
    for student, place in places.items():
        (tmp_path / student / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / student / place).write_text(code)
    (tmp_path / "eve").mkdir()
    for version in ("v1", "v2"):  # (ux136: named "sol.py, sol.py", which the TA could not tell apart)
        (tmp_path / "emma" / version).mkdir(parents=True)
        (tmp_path / "emma" / version / "sol.py").write_text(code + f"# {version}\n")
        (tmp_path / "hal" / version).mkdir(parents=True)  # (below a main.py that defines nothing: "2 of its 1")
        (tmp_path / "hal" / version / "sol.py").write_text(code + f"# {version}\n")
    (tmp_path / "hal" / "main.py").write_text("print('hi')\n")
    (tmp_path / "hal" / "plot.py").write_text("print('hi')\n")  # (rv49: two at the top were "both")
    jobs = {job.student: job for job in batch.discover(tmp_path, function="get_derivative")}
    assert jobs["emma"].problem == "both .py files define get_derivative(x): v1/sol.py, v2/sol.py; keep one"
    assert jobs["hal"].problem == "2 .py files define get_derivative(x): v1/sol.py, v2/sol.py; keep one"
    assert jobs["gus"].path == tmp_path / "gus" / "a/b/c/d/sol.py" and jobs["eve"].problem == batch.EMPTY_FOLDER
    assert batch.handed_in_nothing(jobs["mac"]) and batch.handed_in_nothing(jobs["git"])
    for student in ("yan", "xia", "wes", "dave", "jo", "max"):
        assert jobs[student].problem.startswith(f"no .py file where the grader looks: it holds {places[student]}, ")
        assert not batch.handed_in_nothing(jobs[student])
    assert "rename it" in jobs["yan"].problem and "submit the notebook" in jobs["xia"].problem
    assert "5 folders down, deeper than the grader looks (4)" in jobs["dave"].problem
    (tmp_path / "ian").mkdir()
    (tmp_path / "ian" / "__main__.py").write_text(code)  # (rv47: a batch graded it, Gradescope said "no file")
    assert gradescope.pick(tmp_path / "ian", "get_derivative")[0] == tmp_path / "ian" / "__main__.py"
    assert gradescope.pick(tmp_path / "yan", "get_derivative") == \
        (None, "No .py (or .ipynb) file was submitted where the grader looks: you sent .hw.py, a hidden file (a name "
               "beginning with a dot): rename it.")


@pytest.mark.parametrize(("helper", "taken"), [
    ("def getDerivativeAt(f, x):\n    return f(x)\n", True),  # (rv43: camelCase, holding the name)
    ("def set_derivative(d):\n    return d\n", True),
    ("TITLES = {}\nTITLES['get_derivative'] = 'd/dx'\n", True),  # (rv43: a label's item)
    ("def show(f):\n    return f\nif __name__ == '__main__':\n    def get_derivative(x):\n        return x\n", True),
    ("def get_derivitive(x):\n    return x\n", False),  # (rt200: misspelt, a classmate's)
    ("globals()['get_derivative'] = abs\n", False),
    ("vars()['get_derivative'] = abs\n", False),
    # rt207: a classmate's by case alone, by a letter Python reads as its NFKC form, through a name for globals(),
    # and the bindings an import runs that the rules of the day missed
    ("def getDerivative(x):\n    return x\n", False),
    ("def get_\uff44erivative(x):\n    return x\n", False),
    ("ns = globals()\nns['get_derivative'] = abs\n", False),
    ("globals().update(get_derivative=abs)\n", False),
    ("globals().update({'get_derivative': abs})\n", False),
    ("exec('get_derivative = abs')\n", False),
    ("get_derivative, other = abs, 2\n", False),
    ("(get_derivative := abs)\n", False),
    ("for get_derivative in [abs]:\n    pass\n", False),
    ("import sys\nsys.modules[__name__].get_derivative = abs\n", False),
    ("if __name__ == '__main__':\n    pass\nelse:\n    def get_derivative(x):\n        return x\n", False),
    ("if __name__ != '__main__':\n    def get_derivative(x):\n        return x\n", False),
    # a misspelt name bound as _bindings reads a binding (it was read of plain assignments alone)
    ("get_derivitive, other = abs, 2\n", False),
    ("for get_derivitive in [abs]:\n    pass\n", False),
    ("get_derivitive: int\n", True),  # (an annotation alone binds nothing)
    # rv44: a name the parser spells out of other bytes (the bytes' shortcut let both through, 10/10)
    ("globals()['get_\\x64erivative'] = abs\n", False),
    ("setattr(__import__(__name__), 'get_' 'derivative', abs)\n", False),
])
def test_a_helper_is_a_submission_where_it_binds_the_function_as_imported(tmp_path, helper, taken):
    (tmp_path / "solution.py").write_text("import utils\ndef get_derivative(x):\n    return x\n")
    (tmp_path / "utils.py").write_text(helper)
    sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert ([name for name, _ in sub.helpers] == ["utils.py"]) == taken
    assert (sub.passed_over == ("utils.py",)) != taken


def test_a_packages_data_files_and_its_git_make_it_no_classmates(tmp_path):
    """rv43: a package past 64 files of any kind (CSV data, .git, caches) was taken for a classmate's folder,
    and one large table in it for an answer: 0/10."""
    (tmp_path / "solution.py").write_text("import mylib\ndef get_derivative(x):\n    return x\n")
    (tmp_path / "mylib" / "data").mkdir(parents=True)
    (tmp_path / "mylib" / "__init__.py").write_text("X = 1\n")
    for k in range(70):
        (tmp_path / "mylib" / "data" / f"d{k}.csv").write_text("1,2\n")
    (tmp_path / "mylib" / ".git" / "objects").mkdir(parents=True)
    for k in range(2000):
        (tmp_path / "mylib" / ".git" / "objects" / f"o{k}").write_text("x")
    (tmp_path / "mylib" / "table.txt").write_bytes(b"0," * submission.MAX_SOURCE_BYTES)
    sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert [name for name, _ in sub.helpers] == ["mylib/__init__.py"] and sub.passed_over == ()
    # ...but 65 files that may be Python, no one read, are a package not read to its end: left out, unsaid as an answer
    for k in range(65):
        (tmp_path / "mylib" / "data" / f"notes{k}.txt").write_text("x\n")
    sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert sub.helpers == () and sub.passed_over == () and sub.left_out == ("mylib/__init__.py",)


def test_numbered_classmates_are_no_versions_of_one_students_file(tmp_path):
    """rv43: team11.py was a draft of team1.py (a bare digit after a name ending in one), and team1.py took
    team10's helper; hw2_2.py beside hw2.py is still hw2's."""
    for k in (1, 10, 11):
        (tmp_path / f"team{k}.py").write_text(f"import plots\ndef get_derivative(x):\n    return {k} * x\n")
    (tmp_path / "plots.py").write_text("X = 1\n")
    sub = submission.read(tmp_path / "team1.py", helpers=True, function="get_derivative")
    assert sub.helpers == () and sub.classmates == ("team10.py", "team11.py")
    for k in (10, 11):
        (tmp_path / f"team{k}.py").rename(tmp_path / f"team1_{k - 9}.py")
    sub = submission.read(tmp_path / "team1.py", helpers=True, function="get_derivative")
    assert [name for name, _ in sub.helpers] == ["plots.py"] and sub.classmates == ()


def test_a_scripts_lines_are_named_by_the_notebooks_code_cells():
    script = submission.notebook_script(json.dumps({"cells": [
        {"cell_type": "markdown", "source": "# Exercise"},
        {"cell_type": "code", "source": ["import torch\n", "%matplotlib inline"]},
        {"cell_type": "code", "source": "def f(x):\n    return x"},
    ]}).encode())
    places = submission.cell_places(script)
    lines = script.decode().splitlines()
    assert places[lines.index("    return x") + 1] == (2, 2)  # (the markdown cell is not counted)
    assert places[lines.index("pass  # %matplotlib inline") + 1] == (1, 2)
    assert submission.in_cells("raised at line 7 of your file (`x`)", {7: (2, 2)}) == \
        "raised at line 2 of code cell 2 (`x`)"
    assert submission.in_cells("on line 99: no place", places) == "on line 99: no place"
    huge = "line " + "9" * 5000  # (a student's message: shown as it is, never an int of 5,000 digits)
    assert submission.in_cells(huge, places) == huge


def test_file_names_in_a_rows_note_and_in_what_was_skipped_are_made_safe(tmp_path):
    """rt138: names of a student's choosing reached the TA's terminal (the files not graded, on
    stderr: a cleared screen and a forged line) and the gradebook's note raw."""
    from grader import batch

    folder = tmp_path / "class"
    (folder / "carol").mkdir(parents=True)
    (folder / "carol" / "\x1b[2Jnotes\n=1+1.dat").write_text("x")
    (folder / "dave.py").symlink_to(tmp_path)
    (folder / "\x1b]0;owned\x07\nFORGED.txt").write_text("a roster")
    skipped: list[str] = []
    jobs = {job.student: job for job in batch.discover(folder, function="get_derivative", skipped=skipped)}
    notes = [jobs["carol"].problem, jobs["dave"].problem, *skipped]
    assert len(notes) == 3 and all("\x1b" not in n and "\n" not in n and "\x07" not in n for n in notes), notes
    assert "␛[2Jnotes␤=1+1.dat" in jobs["carol"].problem and skipped == ["␛]0;owned␇␤FORGED.txt"], notes


def test_the_file_that_defines_the_function_is_picked_among_a_students_files(tmp_path, monkeypatch):
    """rt137: a notebook beside a scratch.py that defines nothing had the scratch.py graded (0/10), and
    `get_derivative = lambda x: ...` or a factory's result beside a plot.py was "none defining" in a
    batch and on Gradescope. A notebook beside its own export is still graded on the .py."""
    from grader import batch, gradescope

    honest = "import torch\n\ndef get_derivative(x):\n    return x\n"
    cells = {"cells": [{"cell_type": "code", "source": honest}], "nbformat": 4}
    folders = {"erin": {"exercise_2_5.ipynb": json.dumps(cells), "scratch.py": "print('trying things')\n"},
               "carol": {"solution.py": "import torch\nget_derivative = lambda x: x\n", "plot.py": "import torch\n"},
               "dave": {"solution.py": "get_derivative: object = make(torch.sin)\n", "plot.py": "x == 1\n"},
               "bob": {"hw.ipynb": json.dumps(cells), "hw.py": honest},
               "zed": {"a.py": honest, "b.py": honest.replace("x\n", "-x\n"), "c.ipynb": json.dumps(cells)},
               # (rt139) a docstring's line binding the name; a def before a binding of it; a notebook too
               # large to read before a scratch file that defines nothing
               "gina": {"hw.ipynb": json.dumps(cells), "notes.py": '"""\nget_derivative = lambda x: x\n"""\n'},
               "jane": {"solution.py": honest, "plot.py": "import solution\nget_derivative = solution.get_derivative"},
               "ivan": {"hw.ipynb": json.dumps(cells) + " " * 2000, "scratch.py": "x = 1\n"},
               # (rt140) a batch and Gradescope picked differently between the top and folders below it
               "kim": {"exploration.ipynb": json.dumps({"cells": []}), "src/solution.py": honest},
               "lea": {"hw.ipynb": json.dumps(cells), "old/solution.py": honest},
               "max": {"solution.py": honest, "old/solution.py": honest, "old/v1/solution.py": honest}}
    picked = {"erin": "exercise_2_5.ipynb", "carol": "solution.py", "dave": "solution.py", "bob": "hw.py",
              "gina": "hw.ipynb", "jane": "solution.py", "ivan": "hw.ipynb", "kim": "src/solution.py",
              "lea": "hw.ipynb", "max": "solution.py"}
    monkeypatch.setattr(submission, "MAX_NOTEBOOK_BYTES", 1000)  # (ivan's notebook is larger)
    for student, files in folders.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        for name, text in files.items():
            (tmp_path / "class" / student / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "class" / student / name).write_text(text)
    jobs = {job.student: job for job in batch.discover(tmp_path / "class", function="get_derivative")}
    assert {s: str(j.path.relative_to(tmp_path / "class" / s)) for s, j in jobs.items() if j.path is not None} == \
        picked, jobs
    assert jobs["zed"].problem == "2 of its 3 files define get_derivative(x): a.py, b.py; keep one", jobs["zed"]
    for student, name in picked.items():
        assert gradescope.pick(tmp_path / "class" / student, "get_derivative") == (
            tmp_path / "class" / student / name, ""), student
    assert gradescope.pick(tmp_path / "class" / "zed", "get_derivative")[0] is None


def test_a_batchs_own_files_beside_the_submissions_are_not_named_as_skipped(tmp_path):
    """ux112: rerun with --out the class folder, the batch named its own gradebook.csv and summaries
    among the files it did not grade."""
    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_text("def get_derivative(x):\n    return x\n")
    for name in ("gradebook.csv", "summary.md", "summary.html", "roster.csv"):
        (folder / name).write_text("x")
    skipped: list[str] = []
    batch.discover(folder, out=folder, function="get_derivative", skipped=skipped)
    assert skipped == ["roster.csv"]


def test_where_results_go_beside_the_submissions_no_results_folder_is_a_submission(tmp_path):
    """rt139: alice.py.ipynb was student "alice.py", whose results folder went where alice.py lay (moved
    aside for it, alice was gone from the next run's gradebook); a file `bob` without a suffix that
    defines the function would have been its own results folder."""
    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    honest = "def get_derivative(x):\n    return x\n"
    (folder / "alice.py").write_text(honest)
    (folder / "alice.py.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": honest}]}))
    (folder / "bob").write_text(honest)
    jobs = {job.student: job for job in batch.discover(folder, out=folder, function="get_derivative")}
    assert sorted(jobs) == ["alice", "bob"] and jobs["alice"].path == folder / "alice.py", jobs
    assert jobs["bob"].path is None and jobs["bob"].problem == "bob: its results would go where it lies; name it " \
        "bob.py", jobs["bob"]
    elsewhere = {job.student: job for job in batch.discover(folder, out=tmp_path / "out", function="get_derivative")}
    assert elsewhere["bob"].path == folder / "bob"


def test_a_rerun_beside_the_submissions_keeps_every_student_and_a_symlink_loop_ends_nothing(tmp_path):
    """rt140: where results go beside the submissions, a student's folder holding result.json and no
    .py was taken for the batch's own results, so a rerun dropped every notebook's, nested file's
    and .txt's student; and a symlink loop at the class folder's top ended the whole batch."""
    from grader import batch

    folder = tmp_path / "class"
    honest = "def get_derivative(x):\n    return x\n"
    for path, text in {"alice/solution.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": honest}]}),
                       "dave/hw/sol.py": honest, "erin/solution.txt": honest, "bob.py": honest}.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    for student in ("alice", "dave", "erin", "bob"):  # what the first run wrote beside them
        (folder / student).mkdir(exist_ok=True)
        (folder / student / "result.json").write_text("{}")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "a2").symlink_to(folder / "b2")
    (folder / "b2").symlink_to(folder / "a2")
    jobs = {job.student: job for job in batch.discover(folder, out=folder, function="get_derivative")}
    assert {s: j.path.name for s, j in jobs.items() if j.path is not None} == {
        "alice": "solution.ipynb", "dave": "sol.py", "erin": "solution.txt", "bob": "bob.py"}, jobs


def test_ids_of_one_students_resubmission_are_named_together():
    """ux120: lou.py and lou_LATE.py were two students of the class, graded 1 and 10, without a word."""
    from grader import batch

    ids = ["lou", "lou_LATE", "ann", "ann (1)", "bob_v2", "bob", "student1", "student2", "carl_final_v3", "carl",
           "dan-new", "zed"]
    assert batch.look_alike(ids) == [["ann", "ann (1)"], ["bob", "bob_v2"], ["carl", "carl_final_v3"],
                                     ["lou", "lou_LATE"]]
    # (ux122: a Moodle folder renamed by hand beside its student's other folder; two Moodle students of
    # one name are two, as are student_001 and student_002)
    platform = ["Ann Lee", "Ann Lee_100001", "Bo Chen_100002", "Bo Chen_100003", "student_001", "student_002"]
    assert batch.look_alike(platform) == [["Ann Lee", "Ann Lee_100001"]]
    assert batch.look_alike(["carl", "carl ", "dora"]) == [["carl", "carl "]]  # (ux136: an importer trims it)


def test_an_exercise_whose_numbers_cannot_grade_anyone_is_an_instructor_error(sin, tmp_path):
    """ux121: examples = 0 or no float [tolerance] loaded, then failed every student's grading; a
    gradient that was not the function's (or without d_sin) graded the reference solution 1/10."""
    text = sin.source.read_text()
    shutil.copy(sin.solution, tmp_path)
    cases = {
        "examples = 0": ("examples = 48 ", "examples = 0 ", r"\[grid\] needs examples >= 1"),
        "gradient": ('gradient = "d_sin(x)"', 'gradient = "2 * d_sin(x)"', r"is not the gradient of function = "
                                                                              r"'sin\(x\)': at x = 0.75 it gives 1.46"),
        "no d_sin": ('gradient = "d_sin(x)"', 'gradient = "cos(x)"', "must take the primitive's derivative as d_sin"),
        "derivative": ('derivative = "cos(u)"', 'derivative = "-sin(u)"', "is not the derivative of sin"),
        "a string": ("zero_total_unless_autograd = true", 'zero_total_unless_autograd = "false"', "true or false"),
        "a typo": ("[tolerance]", "[tolerence]", r"it has no \[tolerance\] table"),
        # ux137: a misspelt key, ignored (the bounds dropped); a function no student can define; no solution
        "bound": ("bounds = ", "bound = ", r"\[math\] has bound, which the grader does not know: it takes bounds, "),
        "limit": ("call_timeout_s", "call_timout_s", r"\[limits\] has call_timout_s, which the grader does not"),
        "a space": ('function = "get_derivative"', 'function = "get derivative"', "is no name Python can define"),
        # rt217: a typo in a tolerance's table; [mistakes] as one table ("has e, k, y")
        "no mistake": ("[[mistakes]]\n", '[[mistakes]]\nkey = "right"\nvalues = "cos(x)"\ncause = "c"\nadvice = "a"\n\n'
                       "[[mistakes]]\n", r"'right': its values = 'cos\(x\)' are the gradient's"),  # (ux138)
        "rtoll": ("[tolerance]\n", "[tolerance]\nfloat80 = { atol = 1.0, rtoll = 2.0 }\n",
                  r"\[tolerance.float80\] has rtoll"),
    }
    # And what can grade: a function undefined at one trace point, one as steep as sin(x³) at 100 (rt156)
    undefined = text.replace('[grid]\n', '[grid]\ntrace_x = [0.75, -0.5]\n').replace(
        'function = "sin(x)"', 'function = "sin(x) + sqrt(x) - sqrt(x)"')
    steep = text.replace('[grid]\n', '[grid]\ntrace_x = [100.0, 0.75]\n').replace(
        'function = "sin(x)"', 'function = "sin(x**3)"').replace('gradient = "d_sin(x)"',
                                                                 'gradient = "d_sin(x**3) * 3 * x**2"')
    for name, changed in {"undefined": undefined, "steep": steep}.items():
        assert changed.count("trace_x") == 1 and 'function = "sin(x)"' not in changed, name
        fine = tmp_path / f"{name}.toml"
        fine.write_text(changed)
        exercise.load(fine)
    for name, (old, new, said) in cases.items():
        assert old in text, name
        bad = tmp_path / f"{name}.toml"
        bad.write_text(text.replace(old, new))
        with pytest.raises(exercise.ExerciseError, match=said):
            exercise.load(bad)
    (tmp_path / "big_solution.py").write_text("# é\n" * 30_000)  # (rv49: as JSON past the set-up's header)
    big = tmp_path / "big.toml"
    big.write_text(text.replace('solution = "sin_solution.py"', 'solution = "big_solution.py"'))
    with pytest.raises(exercise.ExerciseError, match=r"big_solution.py is larger than the grader reads, 64 KiB"):
        exercise.load(big)
    # (ux137: a missing solution drew every pass beside none: refused for grading, not for a student's self-check)
    import argparse

    from grader import cli

    (tmp_path / "nope.toml").write_text(text.replace('solution = "sin_solution.py"', 'solution = "nope.py"'))
    nope = exercise.load(tmp_path / "nope.toml")
    for command in ("grade", "batch"):
        assert "nope.py is not there" in cli._missing_solution(argparse.Namespace(command=command), nope)
    assert cli._missing_solution(argparse.Namespace(command="check"), nope) == ""
    one = tmp_path / "one table.toml"
    one.write_text(text.split("[[mistakes]]")[0] + '[mistakes]\nkey = "x"\n')
    with pytest.raises(exercise.ExerciseError, match=r"each be a \[\[mistakes\]\] table \(two brackets\)"):
        exercise.load(one)


def test_a_def_below_the_top_level_is_found_and_said_where():
    """hn123: a def inside main() was told "Is main meant to be get_derivative? Rename it", and one under
    `if __name__ == "__main__":` only that the file does not define it."""
    from grader.submission import nested_definition

    inside = b"import torch\n\ndef main():\n    def get_derivative(x):\n        return x\n"
    guarded = b'if __name__ == "__main__":\n    def get_derivative(x):\n        return x\n'
    assert nested_definition(inside, "get_derivative") == (4, "inside main(), so it exists only while main runs")
    line, where = nested_definition(guarded, "get_derivative") or (0, "")
    assert line == 2 and where.startswith('under `if __name__ == "__main__":`')
    assert nested_definition(b"def get_derivative(x):\n    return x\n", "get_derivative") is None
    assert nested_definition(b"def f(:\n", "get_derivative") is None
    # rt190: a condition of 900 terms, which parses, ended ast.unparse in a RecursionError ("the grader failed")
    deep = b'if __name__ == "__main__" and (' + b" + ".join([b"0.0"] * 900) + b') == 0.0:\n' \
        b"    def get_derivative(x):\n        return x\n"
    line, where = nested_definition(deep, "get_derivative") or (0, "")
    assert line == 2 and where.startswith('under `if __name__ == "__main__":`')


def test_a_folder_whose_file_is_too_deep_to_compare_is_one_row_for_the_ta(tmp_path):
    """rt190: a student's folder of a .py and a notebook both defining the function, the .py's last line
    2,000 terms long (it parses, and runs at 10/10), ended the whole class's batch in ast.dump's recursion,
    no student graded and none named."""
    import json

    from grader import batch

    deep = "def get_derivative(x):\n    return x + (" + " + ".join(["0.0"] * 2000) + ")\n"
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "solution.py").write_text(deep)
    cell = {"cell_type": "code", "source": "def get_derivative(x):\n    return x\n", "metadata": {}, "outputs": [],
            "execution_count": None}
    (tmp_path / "eve" / "hw.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                           "nbformat_minor": 5}))
    (tmp_path / "bob.py").write_text("def get_derivative(x):\n    return x\n")
    jobs = {job.student: job for job in batch.discover(tmp_path, function="get_derivative")}
    assert set(jobs) == {"bob", "eve"} and jobs["bob"].path is not None
    assert jobs["eve"].problem or jobs["eve"].path is not None, jobs["eve"]


def test_a_learning_platforms_download_is_one_row_per_student(tmp_path):
    """ux121: Moodle's "..._assignsubmission_onlinetext_" folder beside each student's "..._file_" one
    was a second row each (0, "needs you"), and Canvas's login_userid_submissionid_name files kept
    ids no TA could join to a roster."""
    from grader import batch

    honest = (Path(__file__).resolve().parents[2] / "submissions" / "honest_backward.py").read_text()
    for kind in ("file", "onlinetext"):
        (tmp_path / "moodle" / f"Ann Lee_100001_assignsubmission_{kind}_").mkdir(parents=True)
    (tmp_path / "moodle" / "Ann Lee_100001_assignsubmission_file_" / "hw.py").write_text(honest)
    (tmp_path / "moodle" / "Ann Lee_100001_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>hi</p>")
    (tmp_path / "canvas").mkdir()
    for name in ("garciamaria_23456_78901_hw.py", "doejane_LATE_34567_89012_hw.py", "plain_name.py"):
        (tmp_path / "canvas" / name).write_text(honest)
    for number in ("90000", "90001"):
        (tmp_path / "gradescope" / f"submission_{number}").mkdir(parents=True)
        (tmp_path / "gradescope" / f"submission_{number}" / "solution.py").write_text(honest)
    # (real exports write the key without its colon, and a :history: of earlier submitters: ux122)
    (tmp_path / "gradescope" / "submission_metadata.yml").write_text(
        "submission_90000:\n  :submitters:\n  - :name: \"Jos\\u00e9 A\"\n    :sid: '1001'\n    :email: a@uni.edu\n"
        "  :score: 0.0\n  :history:\n  - :submitters:\n    - :name: Old Partner\n      :sid: '9999'\n"
        ":submission_90001:\n  :submitters:\n  - :sid: '1002'\n    :name: 'D''Angelo B'\n"
        "  - :name: Cy C\n    :sid: '1003'\n")
    skipped: list[str] = []
    gradescope = batch.discover(tmp_path / "gradescope", None, "get_derivative", skipped)
    assert [j.student for j in gradescope] == ["José A_1001", "D'Angelo B_1002+Cy C_1003"] and skipped == []
    # (a group's students, each a row of the gradebook: ux123)
    assert [j.members for j in gradescope] == [(), ("D'Angelo B_1002", "Cy C_1003")]
    # (and the name and id apart, for an LMS's roster: ux123)
    assert [j.people for j in gradescope] == [(("José A", "1001"),), (("D'Angelo B", "1002"), ("Cy C", "1003"))]
    assert all(j.own_folder for j in gradescope)
    # A name a student chose never takes a classmate's row: not by naming herself as the classmate, not by
    # a name long enough to be wrapped onto lines that read as keys (rt158)
    (tmp_path / "gradescope" / "submission_90002").mkdir()
    (tmp_path / "gradescope" / "submission_90002" / "solution.py").write_text(honest)
    with (tmp_path / "gradescope" / "submission_metadata.yml").open("a") as metadata:
        metadata.write("submission_90002:\n  :submitters:\n  - :name: \"MM\n      :sid: 1001\n      :name: José A\"\n"
                       "    :sid: '2002'\n:submission_90003:\n  :submitters:\n  - :name: José A_1001\n")
    (tmp_path / "gradescope" / "submission_90003").mkdir()
    (tmp_path / "gradescope" / "submission_90003" / "solution.py").write_text(honest)
    taken = [j.student for j in batch.discover(tmp_path / "gradescope", None, "get_derivative")]
    assert taken == ["José A_1001_submission_90000", "D'Angelo B_1002+Cy C_1003", "MM_2002",
                     "José A_1001_submission_90003"], taken
    # (one the metadata leaves out keeps its folder's name, and is said: ux122)
    (tmp_path / "gradescope" / "submission_90005").mkdir()
    (tmp_path / "gradescope" / "submission_90005" / "solution.py").write_text(honest)
    assert batch.unnamed_submissions(tmp_path / "gradescope", batch.discover(
        tmp_path / "gradescope", None, "get_derivative")) == ["submission_90005"]
    # A TA's own naming that looks like Canvas's is left as it is; Moodle's download without folders
    (tmp_path / "plain").mkdir()
    for name in ("sec1_2024_01_ann.py", "Bo Chen_100002_assignsubmission_file_hw.py"):
        (tmp_path / "plain" / name).write_text(honest)
    plain = [j.student for j in batch.discover(tmp_path / "plain", None, "get_derivative")]
    assert plain == ["Bo Chen_100002", "sec1_2024_01_ann"], plain
    # Canvas's files of one submission are chosen among as a folder's are (ux122)
    (tmp_path / "canvas2").mkdir()
    (tmp_path / "canvas2" / "ruizana_1001_5001_hw.py").write_text(honest)
    (tmp_path / "canvas2" / "ruizana_1001_5001_scratch.py").write_text("def get_derivative(x):\n    return x.cos()\n")
    (tmp_path / "canvas2" / "parkjo_3333_4444_solution.py").write_text(honest)
    (tmp_path / "canvas2" / "parkjo_3333_4444_plot.py").write_text("import matplotlib\n")
    chosen = {j.student: (j.path and j.path.name, j.problem) for j in batch.discover(tmp_path / "canvas2", None,
                                                                                    "get_derivative")}
    assert chosen["parkjo_3333"] == ("parkjo_3333_4444_solution.py", "")
    assert chosen["ruizana_1001"][1].startswith("both files define get_derivative(x): ruizana_1001_5001_hw.py")
    # ...and such a student's row keeps who they are (ux128: name and platform id were empty)
    (tmp_path / "mflat").mkdir()
    for name, text in (("hw", honest), ("hw2", honest.replace("return", "return 1.0 *"))):
        (tmp_path / "mflat" / f"Ann Lee_100001_assignsubmission_file_{name}.py").write_text(text)
    (unchosen,) = batch.discover(tmp_path / "mflat", None, "get_derivative")
    assert unchosen.path is None and unchosen.problem.startswith("both files define")
    assert unchosen.people == (("Ann Lee", "100001"),)
    moodle = batch.discover(tmp_path / "moodle", None, "get_derivative")
    assert [(j.student, j.path and j.path.name) for j in moodle] == [("Ann Lee_100001", "hw.py")]
    assert moodle[0].people == (("Ann Lee", "100001"),)
    rows = batch.gradebook_rows(moodle, {}, exercise.load("sin"))
    assert (rows[0]["name"], rows[0]["platform_id"]) == ("Ann Lee", "100001")
    people = {j.student: j.people for j in batch.discover(tmp_path / "canvas", None, "get_derivative")}
    assert people == {"garciamaria_23456": (("garciamaria", "23456"),), "doejane_34567": (("doejane", "34567"),),
                      "plain_name": ()}
    canvas = {j.student: j.path and j.path.name for j in batch.discover(tmp_path / "canvas", None, "get_derivative")}
    assert canvas == {"garciamaria_23456": "garciamaria_23456_78901_hw.py",
                      "doejane_34567": "doejane_LATE_34567_89012_hw.py", "plain_name": "plain_name.py"}
    # Canvas's mark of a late file is in the row's note (ux127: dropped with the name, said nowhere)
    jobs = batch.discover(tmp_path / "canvas", None, "get_derivative")
    assert [j.student for j in jobs if j.late] == ["doejane_34567"]
    notes = {r["student"]: r["note"] for r in batch.gradebook_rows(jobs, {}, exercise.load("sin"))}
    assert notes["doejane_34567"].startswith("handed in late") and "late" not in notes["garciamaria_23456"], notes
    # A student who handed in no Python in a flat download has a row saying what they did hand in, as the
    # folder form's has (ux127: a PDF alone was no row, named on stderr among the READMEs); one whose
    # Python is graded keeps that row
    (tmp_path / "canvas" / "parkjin_67890_78907_hw.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "canvas" / "garciamaria_23456_78901_notes.docx").write_bytes(b"PK")
    (tmp_path / "canvas" / "roster.csv").write_text("id\n")
    (tmp_path / "plain" / "Ida Ray_100012_assignsubmission_file_hw.pdf").write_bytes(b"%PDF-1.4")
    skipped = []
    found = {j.student: (j.path and j.path.name, j.problem) for j in batch.discover(tmp_path / "canvas", None,
                                                                                    "get_derivative", skipped)}
    assert found["parkjin_67890"] == (None, "no .py file (it holds hw.pdf)") and skipped == ["roster.csv"], skipped
    assert found["garciamaria_23456"] == ("garciamaria_23456_78901_hw.py", "")
    plain = {j.student: j.problem for j in batch.discover(tmp_path / "plain", None, "get_derivative")}
    assert plain["Ida Ray_100012"] == "no .py file (it holds hw.pdf)", plain


def test_a_cell_mark_inside_a_cell_does_not_split_it():
    """rt157: the grader's own mark, `# In[N]: (code cell K)`, written inside a cell's string split
    that cell where the notebook ran, and the string's text ran as code."""
    forged = 's = """\n# In[5]: (code cell 2) 0123456789abcdef\ndef get_derivative(x):\n    return x.cos()\n"""'
    notebook = {"cells": [{"cell_type": "code", "source": forged, "metadata": {}, "outputs": []},
                          {"cell_type": "code", "source": "y = 1", "metadata": {}, "outputs": []}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    script = submission.notebook_script(json.dumps(notebook).encode())
    cells = submission.cells_of(script)
    assert len(cells) == 3 and cells[1][1].decode().startswith('s = """') and cells[2][1] == b"y = 1\n"
    assert {cell for cell, _ in submission.cell_places(script).values()} == {1, 2}


def test_a_class_folders_files_never_come_with_a_classmates(tmp_path):
    """rt200: `grade mallory.py`, its `if False: import carol, erin`, copied carol.py (get_derivative bound
    through globals()) and erin.py (get_derivitive) into its folder, and printed them in its feedback."""
    imports = "if False:\n    import carol, erin, utils\ndef get_derivative(x):\n    return x\n"
    (tmp_path / "mallory.py").write_text(imports)
    (tmp_path / "carol.py").write_text("def f(x):\n    return x\nglobals()['get_derivative'] = f\n")
    (tmp_path / "erin.py").write_text("def get_derivitive(x):\n    return x\n")
    (tmp_path / "utils.py").write_text("def getDeriv(x):\n    return x\n")  # (three letters off: a module)
    alone = submission.read(tmp_path / "mallory.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in alone.helpers] == ["utils.py"] and alone.passed_over == ("carol.py", "erin.py")
    # rt202: a classmate's folder whose answer is a notebook, beside her own module, imported as a package
    (tmp_path / "dora").mkdir()
    (tmp_path / "dora" / "hw2.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {},
        "outputs": [], "source": "def get_derivative(x):\n    return x\n"}], "metadata": {}, "nbformat": 4,
        "nbformat_minor": 5}))
    (tmp_path / "dora" / "plotting.py").write_text("DORA = 1\n")
    (tmp_path / "mallory.py").write_text(imports + "from dora import plotting\n")
    alone = submission.read(tmp_path / "mallory.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in alone.helpers] == ["utils.py"] and "dora/" in alone.passed_over
    # rt203: ...or a .py no import can name, in a folder of it no import can name
    (tmp_path / "dora" / "hw2.ipynb").unlink()
    (tmp_path / "dora" / "old work").mkdir()
    (tmp_path / "dora" / "old work" / "HW2 (1).py").write_text("def get_derivative(x):\n    return x\n")
    alone = submission.read(tmp_path / "mallory.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in alone.helpers] == ["utils.py"] and "dora/" in alone.passed_over
    (tmp_path / "dora" / "old work" / "HW2 (1).py").write_text("X = 1\n")
    alone = submission.read(tmp_path / "mallory.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in alone.helpers] == ["dora/plotting.py", "utils.py"]
    (tmp_path / "dora" / "old work" / "HW2 (1).py").write_text("def get_derivative(x):\n    return x\n")
    # A folder of other submissions (two, beside the file) is a class's: none of its files is a module of the
    # student's own
    for name in ("alice.py", "bob.py"):
        (tmp_path / name).write_text("import torch\ndef get_derivative(x):\n    return torch.cos(x)\n")
    among = submission.read(tmp_path / "mallory.py", helpers=True, function="get_derivative", exercise="sin")
    assert among.helpers == () and among.withheld == ("utils.py",) and among.classmates == ("alice.py", "bob.py")
    # rt203: the file named Untitled.py (as if every classmate were a version of it), and a class named by
    # numbers (student01.py, z5111111.py), are no one student's
    (tmp_path / "mallory.py").rename(tmp_path / "Untitled.py")
    named = submission.read(tmp_path / "Untitled.py", helpers=True, function="get_derivative", exercise="sin")
    assert named.helpers == () and named.withheld == ("utils.py",)
    ids = tmp_path / "ids"
    ids.mkdir()
    for k, name in enumerate(("student01.py", "student02.py", "student03.py")):
        (ids / name).write_text(imports.replace("return x", f"return {k} * x"))
    (ids / "utils.py").write_text("X = 1\n")
    assert submission.read(ids / "student03.py", helpers=True, function="get_derivative").withheld == ("utils.py",)
    # rt204: 31 modules of the file's own, named to sort first, hid the classmates past the first 32 read
    for k in range(31):
        (ids / f"a{k:02d}.py").write_text("X = 1\n")
    (ids / "aa.py").write_text(imports)
    assert submission.read(ids / "aa.py", helpers=True, function="get_derivative").withheld == ("utils.py",)
    # ...and a student's own numbered drafts and Finder's copies are hers (rt204: 0/10 on b4b132c)
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    (drafts / "utils.py").write_text("X = 1\n")
    for k, name in enumerate(("solution.py", "solution2.py", "solution3.py", "solution copy 2.py")):
        (drafts / name).write_text("import utils\n" + imports.replace("return x", f"return {k} * x"))
    mine = submission.read(drafts / "solution.py", helpers=True, function="get_derivative")
    assert [name for name, _ in mine.helpers] == ["utils.py"] and mine.classmates == ()
    # ...where a batch of the folder, as a student's, would not choose this file alone: a notebook beside its
    # export, and files named for other exercises of the catalogue, are one student's
    own = tmp_path / "own"
    own.mkdir()
    for name in ("hw.py", "q6_cos_square.py"):
        (own / name).write_text("import utils\ndef get_derivative(x):\n    return utils.f(x)\n")
    (own / "hw.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
        "source": "import utils\ndef get_derivative(x):\n    return utils.f(x)\n"}], "metadata": {},
        "nbformat": 4, "nbformat_minor": 5}))
    (own / "utils.py").write_text("def f(x):\n    return x\n")
    (own / "q6_cos_square.py").rename(own / "q6_cos_square.txt")
    mine = submission.read(own / "hw.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in mine.helpers] == ["utils.py"] and mine.classmates == ()
    (own / "hw.py").rename(own / "q5_sin.py")
    (own / "q6_cos_square.txt").rename(own / "q6_cos_square.py")
    (own / "hw.ipynb").unlink()
    mine = submission.read(own / "q5_sin.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in mine.helpers] == ["utils.py"] and mine.classmates == ()
    # rt201: a notebook beside its export (chosen for it), an earlier try beside the file, a helper whose
    # docstring names the function or named for it (get_derivative_of): one student's own, helpers taken
    (own / "q6_cos_square.py").unlink()
    (own / "q5_sin.py").rename(own / "hw3.py")
    (own / "hw3.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
        "source": "import utils\ndef get_derivative(x):\n    return utils.f(x)\n"}], "metadata": {},
        "nbformat": 4, "nbformat_minor": 5}))
    (own / "utils.py").write_text('"""Helpers for get_derivative in hw3."""\ndef get_derivative_of(f, x):\n'
                                  "    return x\ndef f(x):\n    return x\n"
                                  "if __name__ == '__main__':\n    from hw3 import get_derivative\n")  # (hn145)
    (own / "hw3_old.py").write_text("def get_derivative(x):\n    return 2 * x\n")
    for name in ("hw3.ipynb", "hw3.py"):
        mine = submission.read(own / name, helpers=True, function="get_derivative", exercise="sin")
        assert [name for name, _ in mine.helpers] == ["utils.py"] and mine.classmates == (), name
    # hn146: a helper that only uses the name (a parameter, a label, a self-test function), and versions of the
    # file by their names (ex5.py, ex6.py; hw3_v2.py; Jupyter's Untitled1.ipynb): the student's own
    (own / "utils.py").write_text("def plot_pair(get_derivative, lo, hi):\n    return lo\n"
                                  "def show(xs, label='get_derivative'):\n    return xs\n"
                                  "def _self_test():\n    from hw3 import get_derivative\n"
                                  "def f(x):\n    return x\n")
    for name in ("hw3_v2.py", "Untitled1.ipynb"):
        (own / name).write_text("def get_derivative(x):\n    return 3 * x\n")
    mine = submission.read(own / "hw3.py", helpers=True, function="get_derivative", exercise="sin")
    assert [name for name, _ in mine.helpers] == ["utils.py"] and mine.classmates == ()


def test_the_modules_of_a_students_own_beside_the_file_come_with_it(tmp_path):
    """ux123: a solution.py's `from utils import ...`, utils.py submitted beside it, scored 0."""
    (tmp_path / "solution.py").write_text("import utils, os.path\nfrom mylib.sub import f\n"
                                          "exec(open('./runme.py').read())\ndef get_derivative(x):\n    return f(x)\n")
    (tmp_path / "utils.py").write_text("X = 1\n")
    (tmp_path / "mylib.py").write_text("from deeper import g\n")  # (theirs in turn)
    (tmp_path / "deeper.py").write_text("g = 2\n")
    (tmp_path / "runme.py").write_text("Y = 3\n")
    (tmp_path / "unused.py").write_text("Z = 4\n")  # imported by nothing: not copied
    (tmp_path / "os.py").symlink_to(tmp_path / "utils.py")  # a link: never read
    os.link(tmp_path / "runme.py", tmp_path / "hard.py")  # nor a hard link (a name for a file elsewhere)
    (tmp_path / "solution.py").write_text((tmp_path / "solution.py").read_text() + "import hard\n")
    sub = submission.read(tmp_path / "solution.py", helpers=True)
    assert [name for name, _ in sub.helpers] == ["deeper.py", "mylib.py", "utils.py"]
    # (runme.py lost its only name's uniqueness to hard.py: both are links to one file now)
    assert sub.graded_sha256 != sub.sha256 and [h["name"] for h in sub.helper_hashes()] == ["deeper.py", "mylib.py",
                                                                                           "utils.py"]
    # None that defines the function itself: a classmate's, in a class folder (rt161: alice.py's `from bob
    # import get_derivative` under `grade` scored bob's 10/10)
    (tmp_path / "bob.py").write_text("def get_derivative(x):\n    return x\n")
    (tmp_path / "solution.py").write_text((tmp_path / "solution.py").read_text() + "from bob import get_derivative\n")
    again = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert [name for name, _ in again.helpers] == ["deeper.py", "mylib.py", "utils.py"]
    assert again.passed_over == ("bob.py",) and again.classmates == ()
    assert "bob.py" in [name for name, _ in submission.read(tmp_path / "solution.py", helpers=True).helpers]
    plain = submission.read(tmp_path / "solution.py")
    assert plain.helpers == () and plain.graded_sha256 == plain.sha256
    (tmp_path / "utils.py").write_text("X = 2\n")  # a helper changed is a submission changed
    assert submission.read(tmp_path / "solution.py", helpers=True).graded_sha256 != sub.graded_sha256
    # A notebook's %run and imports, and bounds: at most MAX_HELPERS, MAX_HELPER_BYTES in all
    many = tmp_path / "many"
    many.mkdir()
    (many / "nb.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
        "source": "%run a_setup.py\n" + "".join(f"import m{i}\n" for i in range(30))}], "metadata": {},
        "nbformat": 4, "nbformat_minor": 5}))
    (many / "a_setup.py").write_text("A = 1\n")
    for i in range(30):
        (many / f"m{i}.py").write_text("B = 1\n" if i != 3 else "#" * submission.MAX_HELPER_BYTES)
    names = [name for name, _ in submission.read(many / "nb.ipynb", helpers=True).helpers]
    assert len(names) == submission.MAX_HELPERS and "a_setup.py" in names and "m3.py" not in names
    # (%run's options and a file named without .py: rt161)
    script = b"_ipython_run('-i utils.py', globals())\n_ipython_run('helpers', globals())\n"
    assert submission._modules_named(script) == {"utils", "helpers"}
    # (rt168: importlib.import_module("helpers"), which works at home, was never copied; names only)
    script = (b"import importlib\nh = importlib.import_module('helpers')\nc = __import__('mylib.calc')\n"
              b"d = import_module(name)\ne = importlib.import_module('../up')\n")
    assert submission._modules_named(script) == {"importlib", "helpers", "mylib.calc"}
    # (rv46: a name no file can have made the look beside the file raise, and the grader failed)
    long = "m" * 300
    assert submission._modules_named(f"import utils\nimport {long}\nfrom {long} import f\n".encode()) == {"utils"}
    assert submission._modules_named(f"import utils\nimport {long}\n(".encode()) == {"utils"}
    (many / "long.py").write_text(f"import torch\ntry:\n    from {long} import get_derivative\nexcept ImportError:\n"
                                  "    pass\n")
    assert submission.read(many / "long.py", helpers=True).helpers == ()


def test_a_gradebook_a_ta_corrected_by_hand_is_kept_aside_not_overwritten(tmp_path, sin):
    """ux123: a corrected score in gradebook.csv was undone by the next run (a late student), unsaid."""
    from grader import batch

    jobs = [batch.Job("ann", None, batch.NO_FILE, stand_in=True)]
    path = tmp_path / "gradebook.csv"
    assert batch.keep_edited(path) is None  # (none yet)
    batch.write_gradebook(batch.gradebook_rows(jobs, {}, sin), path)
    assert batch.keep_edited(path) is None and path.is_file()  # (as written: written over)
    path.write_text(path.read_text().replace(",0.0,", ",7.5,"))
    aside = batch.keep_edited(path)
    assert aside is not None and aside.name.startswith("gradebook.edited-") and not path.exists()
    assert ",7.5," in aside.read_text()
    # And where OUT keeps no record of what was written (a grader's before the record: ux124)
    batch.write_gradebook(batch.gradebook_rows(jobs, {}, sin), path)
    (tmp_path / batch.GRADEBOOK_WRITTEN).unlink()
    older = batch.keep_edited(path)
    assert older is not None and older != aside and not path.exists()
    # (beside the class's own files, the copy is no file the TA is told was not graded)
    (tmp_path / "bo.py").write_text("def get_derivative(x):\n    return x\n")
    skipped: list[str] = []
    assert [j.student for j in batch.discover(tmp_path, tmp_path, "get_derivative", skipped)] == ["bo"]
    assert skipped == []


def test_an_old_notebook_format_is_read_as_jupyter_reads_it(tmp_path):
    """hn124: an nbformat 3 notebook (IPython 2's: cells in worksheets, a code cell's text under
    "input"), which Jupyter still opens, was "not the JSON Jupyter saves", 0/10."""
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "heading", "level": 1, "source": ["Exercise 5"]},
        {"cell_type": "code", "language": "python", "input": ["import torch\n", "def get_derivative(x):\n",
                                                              "    return x\n"], "outputs": []}]}]}
    script = submission.notebook_script(json.dumps(old).encode())
    assert b"def get_derivative(x):" in script and submission.NOT_A_NOTEBOOK.encode() not in script
    (tmp_path / "hw.ipynb").write_text(json.dumps(old))
    assert submission.defines(tmp_path / "hw.ipynb", "get_derivative")
    assert submission.NOT_A_NOTEBOOK.encode() in submission.notebook_script(b'{"worksheets": 3}')
    # The layout the notebook's version gives, as nbformat reads it: a v3 notebook's "cells" beside its
    # worksheets, which Jupyter never shows, are not what is graded (rt161), nor a v4's worksheets
    hidden = {**old, "cells": [{"cell_type": "code", "source": "def get_derivative(x):\n    return x.cos()\n"}]}
    assert b"x.cos()" not in submission.notebook_script(json.dumps(hidden).encode())
    v4 = {**old, "nbformat": 4}
    assert submission.NOT_A_NOTEBOOK.encode() in submission.notebook_script(json.dumps(v4).encode())


def test_of_a_students_files_for_several_exercises_the_one_named_for_this_exercise_is_graded(tmp_path):
    """ux123: pat/q5_sin.py and pat/q6_cos_square.py, each defining get_derivative as its exercise asks,
    were "keep one", 0, in both exercises' batches."""
    from grader import batch

    pat = tmp_path / "class" / "pat"
    pat.mkdir(parents=True)
    for name in ("q5_sin.py", "q6_cos_square.py", "q7_log_sin.py"):
        (pat / name).write_text(f"# {name}\ndef get_derivative(x):\n    return x\n")
    chosen = {name: batch.discover(tmp_path / "class", None, "get_derivative", exercise=name)[0]
              for name in ("sin", "cos_square", "log_sin", "sin_cos_norm")}
    assert {name: job.path and job.path.name for name, job in chosen.items()} == {
        "sin": "q5_sin.py", "cos_square": "q6_cos_square.py", "log_sin": "q7_log_sin.py", "sin_cos_norm": None}
    # A file named for no exercise beside one named for this one is two answers to choose from: not
    # taken by its name (a scratch sin.py of cos beside the solution.py)
    (tmp_path / "two").mkdir()
    for name in ("sin.py", "solution.py"):
        (tmp_path / "two" / name).write_text("def get_derivative(x):\n    return x\n")
    assert submission.for_exercise(sorted((tmp_path / "two").iterdir()), "sin") == sorted((tmp_path / "two").iterdir())


def test_a_group_naming_a_classmate_gives_him_no_second_row_of_the_same_id(tmp_path):
    """rt161: Mallory's group of cos cheats named Bob, who had submitted alone: his id had two rows
    (10.0 and the group's 1.0), the last of which an LMS would keep, and nothing said so."""
    from grader import batch

    honest = "def get_derivative(x):\n    return x\n"
    for number in ("001", "002"):
        (tmp_path / f"submission_{number}").mkdir()
        (tmp_path / f"submission_{number}" / "solution.py").write_text(honest)
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_001:\n  :submitters:\n  - :name: Bob B\n    :sid: '1002'\n"
        "submission_002:\n  :submitters:\n  - :name: Mallory M\n    :sid: '1003'\n  - :name: Bob B\n    :sid: '1002'\n")
    jobs = batch.discover(tmp_path, None, "get_derivative")
    rows = [member for job in jobs for member in (job.members or (job.student,))]
    assert sorted(rows) == ["Bob B_1002_submission_001", "Bob B_1002_submission_002", "Mallory M_1003"], rows
    assert batch.look_alike(rows) == [["Bob B_1002_submission_001", "Bob B_1002_submission_002"]]


def test_blank_lines_are_read_in_one_pass(tmp_path):
    """rt162: `^\\s*` ran across newlines, quadratic in blank lines: 60,000 took the parent 16 s a read
    (discovery, where no timeout applies). Read as they are, once (quadratic, this takes minutes)."""
    path = tmp_path / "notes.py"
    path.write_bytes(b"def get_derivative(x):\n    return x\n" + b"\n" * 100_000 + b"%matplotlib inline\n")
    assert b"%matplotlib inline" in submission.read(path).source  # (the IPython line, kept as the student wrote it)
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"\n" * 100_000 + b"def get_derivative(x):\n    return (\n")
    assert submission.definition(broken, "get_derivative") == submission.DEFINED


def test_a_students_many_large_files_are_parsed_to_a_bound_and_the_rest_read_by_lines(tmp_path):
    """The review's attack: a folder of 41 files of 1 MiB, each with a `%` line and a def, took the
    batch's discovery 85 s (each parsed, its translation compiled). Past MAX_PARSED_BYTES a file is read
    by its lines: a def, or the name bound at a line's start, still counts; a docstring's def does then."""
    from grader import batch

    student = tmp_path / "class" / "eve"
    student.mkdir(parents=True)
    filler = b"x = 1\n" * (submission.MAX_SOURCE_BYTES // 6 - 10)
    for i in range(3 * submission.MAX_PARSED_BYTES // submission.MAX_SOURCE_BYTES):
        head = f"%matplotlib inline\ndef get_derivative(x):\n    return x * {i}\n"
        (student / f"m{i:02d}.py").write_bytes(head.encode() + filler)
    calls: list[bytes] = []
    real = submission.source_definition
    submission.source_definition = lambda raw, *args: calls.append(raw) or real(raw, *args)  # type: ignore[assignment]
    try:
        [job] = batch.discover(tmp_path / "class", None, "get_derivative")
    finally:
        submission.source_definition = real  # type: ignore[assignment]
    assert job.path is None and "all 6 .py files define get_derivative(x)" in job.problem, job.problem
    assert len(calls) == 2  # (the rest by lines)
    budget = submission.Budget(10)
    assert budget.take(tmp_path / "a.py", 8) and not budget.take(tmp_path / "b.py", 8)  # (read by its lines)
    assert budget.take(tmp_path / "c.py", 2) and budget.take(tmp_path / "a.py", 8)  # (a file granted, again)
    assert not budget.granted(tmp_path / "b.py")
    lines = tmp_path / "lines.py"
    for text, how in [("def get_derivative(x):\n    return x\n", submission.DEFINED),
                      ("get_derivative: Callable = lambda x: x\n", submission.BOUND),
                      ("if get_derivative == 1:\n    pass\n", submission.NONE),
                      ("get_derivative_v2 = 1\n", submission.NONE)]:
        lines.write_text(text)
        assert submission.definition(lines, "get_derivative", budget=submission.Budget(0)) == how, text
        assert submission.definition(lines, "get_derivative", compiles=True, budget=submission.Budget(0)) == 0


def test_what_is_parsed_is_a_files_script_once_so_a_notebooks_plots_and_data_files_spend_nothing(tmp_path):
    """rt166: an honest 1 MiB notebook (a saved plot) beside its export was charged for its images,
    twice, and the two were "keep one"; a solution.txt past two data files of 1.5 MB was not found."""
    from grader import batch

    honest = "import torch\n\ndef get_derivative(x):\n    return torch.func.vmap(torch.func.grad(torch.sin))(x)\n"
    carol = tmp_path / "class" / "carol"
    carol.mkdir(parents=True)
    plot = {"output_type": "display_data", "data": {"image/png": "A" * (submission.MAX_SOURCE_BYTES + 1000)}}
    (carol / "hw.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": honest,
                                                           "outputs": [plot]}], "nbformat": 4}))
    (carol / "hw.py").write_text(honest)
    wendy = tmp_path / "class" / "wendy"
    wendy.mkdir()
    for name in ("data.csv", "data2.csv"):
        (wendy / name).write_text("1,2\n" * 400_000)
    (wendy / "solution.txt").write_text(honest)
    lee = tmp_path / "class" / "lee"  # (ux125: data modules parsed first took the budget from the two)
    lee.mkdir()
    for i in range(3):  # (the three fill the budget to the byte)
        head = f"DATA_{i} = 1\n#"
        (lee / f"data_{i}.py").write_text(head + "x" * (submission.MAX_PARSED_BYTES // 3 - len(head) - 1) + "\n")
    (lee / "hw.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": honest}], "nbformat": 4}))
    (lee / "hw.py").write_text(honest)
    # (rt168: the notebook, larger than the data modules for its saved plot, came after them, and past the budget)
    kim = tmp_path / "class" / "kim"
    kim.mkdir()
    for i in range(3):
        head = f"DATA_{i} = 1\n#"
        (kim / f"data_{i}.py").write_text(head + "x" * (submission.MAX_PARSED_BYTES // 3 - len(head) - 60) + "\n")
    small = {"output_type": "display_data", "data": {"image/png": "A" * submission.MAX_SOURCE_BYTES}}
    (kim / "hw.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": honest,
                                                         "outputs": [small]}], "nbformat": 4}))
    (kim / "solution.py").write_text(honest)
    jobs = {job.student: job for job in batch.discover(tmp_path / "class", None, "get_derivative")}
    assert jobs["carol"].path == carol / "hw.py", jobs["carol"]
    assert jobs["wendy"].path == wendy / "solution.txt", jobs["wendy"]
    assert jobs["lee"].path == lee / "hw.py", jobs["lee"]
    assert jobs["kim"].path == kim / "solution.py", jobs["kim"]
    # (a file that never names the function is not parsed, nor charged; one naming it in other letters is)
    budget = submission.Budget(10)
    (kim / "other.py").write_text("get_ｄerivative = 1\n")
    assert submission.definition(kim / "data_0.py", "get_derivative", budget=budget) == submission.NONE
    assert budget.left == 10
    assert submission.definition(kim / "other.py", "get_derivative") == submission.BOUND


def test_a_package_is_taken_whole_what_is_imported_first_or_not_at_all(tmp_path):
    """rt166: a classmate's folder bob/ imported as a package by `grade alice.py` scored alice bob's
    10/10; 16 modules beside the one imported left it out; 90,300 empty folders took 1.1 s a walk, at
    every helper that imported the package."""
    (tmp_path / "alice.py").write_text("from bob.deriv import d\nimport mylib.calc.deriv\nimport big\n")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "solution.py").write_text("def get_derivative(x):\n    return x\n")
    (tmp_path / "bob" / "deriv.py").write_text("def d(x):\n    return x\n")
    (tmp_path / "mylib" / "calc").mkdir(parents=True)
    for i in range(submission.MAX_HELPERS):
        (tmp_path / "mylib" / f"a{i:02d}.py").write_text("A = 1\n")
    (tmp_path / "mylib" / "__init__.py").write_text("")
    (tmp_path / "mylib" / "calc" / "deriv.py").write_text("D = 1\n")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "__init__.py").write_text("")
    for i in range(submission.PACKAGE_ENTRIES):
        (tmp_path / "big" / f"f{i}").mkdir()
    passed_over: list[str] = []
    found = dict(submission.modules_beside(tmp_path / "alice.py", (tmp_path / "alice.py").read_bytes(),
                                           "get_derivative", passed_over))
    assert passed_over == ["bob/"] and not any(name.startswith(("bob/", "big/")) for name in found), found
    assert len(found) == submission.MAX_HELPERS
    assert {"mylib/__init__.py", "mylib/calc/deriv.py"} <= set(found), sorted(found)


def test_modules_past_the_bounds_are_named_as_left_out(tmp_path):
    """A package of 20 modules, its __init__ importing each: 16 were graded, and the import of the
    17th failed with words telling the student to submit beside the file what was there."""
    (tmp_path / "mylib").mkdir()
    names = [f"m{i}" for i in range(20)]
    (tmp_path / "mylib" / "__init__.py").write_text("".join(f"from .{n} import *\n" for n in names))
    for n in names:
        (tmp_path / "mylib" / f"{n}.py").write_text(f"import late_{n}\n")
        (tmp_path / f"late_{n}.py").write_text("X = 1\n")
    (tmp_path / "solution.py").write_text("import mylib\n")
    left_out: list[str] = []
    found = dict(submission.modules_beside(tmp_path / "solution.py", (tmp_path / "solution.py").read_bytes(),
                                           "get_derivative", None, None, left_out))
    assert len(found) == submission.MAX_HELPERS and not set(found) & set(left_out)
    # (the package's files past the count by their names, and the modules they import, named alone)
    assert {f"mylib/{n}.py" for n in names} == {name for name in [*found, *left_out] if name.startswith("mylib/m")}
    assert {f"late_{n}.py" for n in names if f"mylib/{n}.py" in found} <= set(left_out), left_out
    sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert sub.left_out == tuple(left_out) and sub.helpers == tuple(sorted(found.items()))


def test_a_long_dotted_name_costs_discovery_its_first_parts_alone(tmp_path):
    """rt170: import_module("a.a.a…") of 200,000 parts made every prefix of the name (40 GB for a 400 KB
    file): the grader failed, and the batch's summary, which reads the file again, was never written."""
    import tracemalloc

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "__init__.py").write_text("")
    (tmp_path / "solution.py").write_text("import importlib\nif False:\n    importlib.import_module('"
                                          + ".".join(["a"] * 20_000) + "')\n")
    tracemalloc.start()
    try:
        sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20 and [name for name, _ in sub.helpers] == ["a/__init__.py"], peak  # (400 MB before)


def test_a_module_named_like_one_the_grader_has_is_named_as_shadowed(tmp_path):
    """rt168: the student's code.py beside the file, `from code import f`: Python's own code module was
    imported, and the student was told to submit beside the file the module that was there. It is taken
    now, as `python solution.py` would import it; not a torch/ folder, nor a module named like one Python
    imports as it starts (its own is what the file gets at home) or builds in."""
    (tmp_path / "code.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "enum.py").write_text("def g(x):\n    return x\n")
    (tmp_path / "sys.py").write_text("def h(x):\n    return x\n")
    (tmp_path / "torch").mkdir()
    (tmp_path / "solution.py").write_text("from code import f\nimport torch.nn\nimport json, enum, sys\n")
    sub = submission.read(tmp_path / "solution.py", helpers=True, function="get_derivative")
    assert [name for name, _ in sub.helpers] == ["code.py"]
    assert sub.shadowed == ("code.py", "enum.py", "sys.py", "torch/"), sub.shadowed
    assert [submission.stands_in(m) for m in ("statistics", "code", "inspect", "os", "enum", "sys", "torch")] == \
        [True, True, True, False, False, False, False]


def test_a_students_module_in_a_platforms_flat_download_is_found_by_the_name_they_gave_it(tmp_path):
    """ux124: Canvas's garciamaria_23456_78901_hw.py, importing her mathutils.py, downloaded beside it as
    garciamaria_23456_78902_mathutils.py, scored 0 (no module named mathutils)."""
    from grader import batch

    (tmp_path / "garciamaria_23456_78901_hw.py").write_text(
        "from mathutils import deriv\n\n\ndef get_derivative(x):\n    return deriv(x)\n")
    (tmp_path / "garciamaria_23456_78902_mathutils.py").write_text("def deriv(x):\n    return x\n")
    (tmp_path / "smithkim_23458_78903_mathutils.py").write_text("def deriv(x):\n    return -x\n")  # (a classmate's)
    (tmp_path / "smithkim_23458_78904_hw.py").write_text("def get_derivative(x):\n    return x\n")
    jobs = {job.student: job for job in batch.discover(tmp_path, None, "get_derivative")}
    maria = jobs["garciamaria_23456"]
    assert maria.path is not None and maria.path.name == "garciamaria_23456_78901_hw.py"
    assert maria.companions == (("mathutils.py", tmp_path / "garciamaria_23456_78902_mathutils.py"),)
    sub = submission.read(maria.path, function="get_derivative", companions=dict(maria.companions))
    assert sub.helpers == (("mathutils.py", b"def deriv(x):\n    return x\n"),)
    # hn146: Canvas names a file handed in again "mathutils-1.py"; hers, by the name she gave it, where she has no other
    (tmp_path / "garciamaria_23456_78902_mathutils.py").rename(tmp_path / "garciamaria_23456_78902_mathutils-1.py")
    maria = {job.student: job for job in batch.discover(tmp_path, None, "get_derivative")}["garciamaria_23456"]
    assert maria.companions == (("mathutils.py", tmp_path / "garciamaria_23456_78902_mathutils-1.py"),)
    (tmp_path / "garciamaria_23456_78905_mathutils.py").write_text("X = 1\n")
    maria = {job.student: job for job in batch.discover(tmp_path, None, "get_derivative")}["garciamaria_23456"]
    assert sorted(name for name, _ in maria.companions) == ["mathutils-1.py", "mathutils.py"]
    (tmp_path / "garciamaria_23456_78905_mathutils.py").unlink()
    # hn146, hn147: a copy of her file as .txt beside it made her "2 submissions: hw.py, mathutils.py"
    hw = (tmp_path / "garciamaria_23456_78901_hw.py").read_text()
    (tmp_path / "garciamaria_23456_78906_hw.py.txt").write_text(hw)
    maria = {job.student: job for job in batch.discover(tmp_path, None, "get_derivative")}["garciamaria_23456"]
    assert maria.path is not None and maria.companions[0][0] == "mathutils.py", maria
    (tmp_path / "garciamaria_23456_78906_hw.py.txt").write_text(hw.replace("deriv(x)", "-deriv(x)"))
    maria = {job.student: job for job in batch.discover(tmp_path, None, "get_derivative")}["garciamaria_23456"]
    assert maria.path is None and maria.problem == ("2 files define get_derivative(x): garciamaria_23456_78901_hw.py, "
                                                    "garciamaria_23456_78906_hw.py.txt; keep one"), maria


def test_what_is_looked_at_for_modules_is_bounded_and_what_runs_elsewhere_is_none(tmp_path):
    """rt163: 8 files of 1 MiB each, named in strings, were each parsed and passed over, 33 s of the
    batch's main process at every run; and a torch.py beside a byte copy of a classmate's file, never
    what `import torch` runs, made the copy no copy."""
    names = [f"m{i:02d}" for i in range(3 * submission.MAX_LOOKED_AT)]
    (tmp_path / "solution.py").write_text("import torch, re\n" + "".join(f"X{i} = '{n}.py'\n" for i, n in
                                                                          enumerate(names)))
    for n in names:
        (tmp_path / f"{n}.py").write_text("def get_derivative(x):\n    return x\n")  # (each passed over)
    (tmp_path / "torch.py").write_text("VERSION = 'my notes'\n")
    (tmp_path / "re.py").write_text("X = 1\n")  # (Python's re is imported as Python starts: never this one)
    passed_over: list[str] = []
    found = submission.modules_beside(tmp_path / "solution.py", (tmp_path / "solution.py").read_bytes(),
                                      "get_derivative", passed_over)
    assert found == () and len(passed_over) == submission.MAX_LOOKED_AT


def test_what_is_read_for_modules_is_bounded_by_bytes_too(tmp_path):
    """A review's attack on the bound of files looked at: 32 files of 1 MiB each that define the
    function (passed over, so counted by no helper's bytes), each compiled for its `%` line, took the
    parent 61 s a read. What is read in all is bounded as well."""
    part = submission.MAX_LOOKED_BYTES * 3 // 10  # (three fit, a fourth does not)
    names = [f"m{i}" for i in range(6)]
    (tmp_path / "solution.py").write_text("".join(f"import {n}\n" for n in names))
    for n in names:
        (tmp_path / f"{n}.py").write_text("def get_derivative(x):\n    return x\n" + "#" * part)
    passed_over: list[str] = []
    found = submission.modules_beside(tmp_path / "solution.py", (tmp_path / "solution.py").read_bytes(),
                                      "get_derivative", passed_over)
    assert found == () and passed_over == ["m0.py", "m1.py", "m2.py"]


def test_a_source_that_hands_work_to_torchscript_or_torch_compile_is_told_apart():
    """hn131: a link of the chain by autograd.grad inside a scripted function leaves no pass the recorder
    hears, so the pass it did hear (cos alone at a leaf x²) is not all there was."""
    from grader.submission import compiles

    for source in ("import torch\n@torch.jit.script\ndef f(x):\n    return x\n",
                   "from torch.jit import script\n", "from torch import jit\n", "import torch.jit\n",
                   "import torch\ng = torch.compile(lambda x: x)\n", "from torch import compile\n"):
        assert compiles(source.encode()), source
    for source in ("import torch\ny = torch.sin(x)\n", "import re\nre.compile('a')\n", "def f(:\n"):
        assert not compiles(source.encode()), source


def test_two_file_names_that_print_alike_are_told_apart_in_the_note(tmp_path):
    """ux128: josé.py written with é and with e and a combining accent are one student's two files,
    whose note read "josé.py, josé.py; keep one"."""
    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    composed, decomposed = "jos\u00e9.py", "jose\u0301.py"
    (folder / composed).write_text("def get_derivative(x):\n    return x\n")
    (folder / decomposed).write_text("def get_derivative(x):\n    return -x\n")
    (job,) = batch.discover(folder, function="get_derivative")
    assert job.path is None and "jos\\xe9.py" in job.problem and "jose\\u0301.py" in job.problem, job.problem
    assert job.problem.endswith("; keep one")


def test_gradescope_names_what_was_sent_where_no_python_was(tmp_path):
    """ux128: a PDF and a zip uploaded alone were told only that no .py was submitted."""
    from grader import gradescope

    (tmp_path / "hw2.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "code.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    path, problem = gradescope.pick(tmp_path, "get_derivative")
    assert path is None and "(you sent code.zip, hw2.pdf)" in problem and "not in an archive" in problem, problem


def test_a_group_too_long_to_name_whole_keeps_a_row_for_each_of_its_students(tmp_path):
    """ux129: four members with long names and ten-digit SIDs joined past 150 bytes: the group was graded
    as "submission_80000", no one named, no member's row, and --only by a member's id was "no such student"."""
    from grader import batch

    (tmp_path / "submission_80000").mkdir()
    (tmp_path / "submission_80000" / "solution.py").write_text("def get_derivative(x):\n    return x\n")
    names = ("Alexandra Konstantinopoulou", "Maximilian Schwarzenberger", "Guadalupe Fernández-Rodríguez",
             "Bartholomew Featherstonehaugh")
    (tmp_path / "submission_metadata.yml").write_text("submission_80000:\n  :submitters:\n" + "".join(
        f"  - :name: {name}\n    :sid: '20260{k}1234'\n" for k, name in enumerate(names)))
    (job,) = batch.discover(tmp_path, None, "get_derivative")
    assert job.student == "Alexandra Konstantinopoulou_2026001234+3 more", job.student
    assert job.members == tuple(f"{name}_20260{k}1234" for k, name in enumerate(names)), job.members


def test_two_downloads_of_one_notebook_with_other_outputs_are_one_submission(tmp_path):
    """ux129: hw.ipynb and "hw (1).ipynb", the same code cells, one run again before it was downloaded
    (other outputs, other execution counts): "keep one" in a batch, 0/10 on Gradescope."""
    import json as json_

    from grader import batch, gradescope

    code = ["import torch\n", "def get_derivative(x):\n", "    return x\n"]

    def notebook(outputs: list, count: int) -> str:
        return json_.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": outputs, "source": code}]})

    student = tmp_path / "class" / "nina"
    student.mkdir(parents=True)
    (student / "hw.ipynb").write_text(notebook([], 1))
    (student / "hw (1).ipynb").write_text(notebook([{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}], 7))
    (job,) = batch.discover(tmp_path / "class", function="get_derivative")
    assert job.path is not None and job.path.suffix == ".ipynb", job.problem
    assert gradescope.pick(student, "get_derivative")[0] is not None
    (student / "hw (1).ipynb").write_text(notebook([], 1).replace("return x", "return -x"))
    (job,) = batch.discover(tmp_path / "class", function="get_derivative")
    assert job.path is None and "keep one" in job.problem  # (other code: two submissions still)


def test_a_name_too_long_for_the_gradebook_is_told_so(tmp_path):
    """ux129: a 240-character ASCII name was told it "cannot be shown as it is (not UTF-8, or a control
    character)", which it was neither."""
    from grader import batch

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / ("a" * 236 + ".py")).write_text("def get_derivative(x):\n    return x\n")
    (job,) = batch.discover(folder, function="get_derivative")
    assert job.path is None and "a name of 236 characters, longer than the 200 a gradebook keeps" in job.problem


def test_a_bundle_is_not_built_from_an_install_that_lacks_what_it_ships(tmp_path, monkeypatch):
    """ux129: an install without constraints.txt (a copied package) built a bundle whose setup.sh failed
    at Gradescope, `grep '^torch==' constraints.txt`, with the build's exit status 0."""
    from grader import exercise, gradescope

    project = tmp_path / "project"
    (project / "grader").mkdir(parents=True)
    monkeypatch.setattr(gradescope, "PROJECT", project)
    with pytest.raises(exercise.ExerciseError, match=r"lacks reference, pyproject\.toml, constraints\.txt, README\.md"):
        gradescope.build(tmp_path / "autograder.zip", "sin")
    assert not (tmp_path / "autograder.zip").exists()


def test_a_group_member_whose_own_id_cannot_be_a_name_keeps_every_members_row(tmp_path):
    """rt184: one member of a group of three named in 52 CJK characters (over 150 bytes alone) left the
    group one row, under the first member's name, and no member a row of their own."""
    from grader import batch

    (tmp_path / "submission_001").mkdir()
    (tmp_path / "submission_001" / "solution.py").write_text("def get_derivative(x):\n    return x\n")
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_001:\n  :submitters:\n  - :name: Ann A\n    :sid: '1001'\n"
        f"  - :name: {'漢' * 52}\n    :sid: '1002'\n  - :name: Bob B\n    :sid: '1003'\n")
    (job,) = batch.discover(tmp_path, None, "get_derivative")
    assert job.members == ("Ann A_1001", "submission_001_2", "Bob B_1003"), job.members


def test_a_class_files_imports_from_beside_it_are_said_not_copied(tmp_path):
    """hn147: a flat class folder's alice.py, importing her alice_utils.py beside it, was told to submit beside it
    what was there; the batch grades each file as one student's (helpers off), and says so."""
    (tmp_path / "alice.py").write_text("import torch, os\nfrom alice_utils import leaf\ndef get_derivative(x):\n"
                                       "    return leaf(x)\n")
    (tmp_path / "alice_utils.py").write_text("def leaf(x):\n    return x\n")
    (tmp_path / "os.py").write_text("X = 1\n")  # (what runs elsewhere is no module of hers)
    sub = submission.read(tmp_path / "alice.py", function="get_derivative")
    assert sub.helpers == () and sub.withheld == ("alice_utils.py",) and sub.classmates == ()
    assert submission.read(tmp_path / "alice_utils.py", function="get_derivative").withheld == ()


def test_a_module_beside_the_file_that_is_a_link_is_never_followed_and_said_to_be_one(tmp_path, sin):
    """A batch's student whose package beside her file was a symbolic link to a folder elsewhere was told to submit
    her modules beside the file, which she had (as a link)."""
    from grader import checks
    from grader.observations import ErrorInfo, Frame, LoadResult, Observations

    (tmp_path / "elsewhere" / "mylib").mkdir(parents=True)
    (tmp_path / "elsewhere" / "mylib" / "__init__.py").write_text("def leaf(x):\n    return x\n")
    (tmp_path / "elsewhere" / "helpers_src.py").write_text("def leaf(x):\n    return x\n")
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "mylib").symlink_to(tmp_path / "elsewhere" / "mylib")
    (tmp_path / "ann" / "helpers.py").symlink_to(tmp_path / "elsewhere" / "helpers_src.py")
    (tmp_path / "ann" / "utils.py").write_text("def leaf(x):\n    return x\n")
    (tmp_path / "ann" / "solution.py").write_text("import mylib, helpers, utils\ndef get_derivative(x):\n"
                                                  "    return x\n")
    sub = submission.read(tmp_path / "ann" / "solution.py", helpers=True, function="get_derivative", own=True)
    assert [name for name, _ in sub.helpers] == ["utils.py"] and sub.linked == ("helpers.py", "mylib/")
    error = ErrorInfo("ModuleNotFoundError", "No module named 'mylib'", frames=(Frame(1, "import mylib", "<module>"),))
    told = checks.check_loads(Observations(load=LoadResult(False, error=error), linked=sub.linked), sin)
    assert told.cause.startswith("mylib beside your file is a symbolic link") and "folder itself" in told.advice


def test_a_class_files_words_on_a_missing_module_do_not_tell_whether_a_classmates_file_is_there(tmp_path, sin):
    """A flat class folder's mallory.py, `import bob`, was told "bob.py was not copied" where bob.py lay beside
    it and Python's plain words where it did not: one bit a submission on which classmates had submitted."""
    from grader import checks
    from grader.observations import ErrorInfo, Frame, LoadResult, Observations

    (tmp_path / "mallory.py").write_text("import bob\ndef get_derivative(x):\n    return x\n")
    without = submission.read(tmp_path / "mallory.py", function="get_derivative")
    (tmp_path / "bob.py").write_text("def get_derivative(x):\n    return x\n")
    beside = submission.read(tmp_path / "mallory.py", function="get_derivative")
    assert without.withheld == beside.withheld == ("bob.py",)
    error = ErrorInfo("ModuleNotFoundError", "No module named 'bob'", frames=(Frame(1, "import bob", "<module>"),))
    told = checks.check_loads(Observations(load=LoadResult(False, error=error), withheld=beside.withheld), sin)
    assert "if bob.py is yours, it was not" in told.cause and told.advice.startswith("If bob.py is yours, put your")
    assert "stand-ins for d2l" in told.cause and "plotly, not bob" in told.cause  # (rv46: as the other words say)


def test_a_students_own_package_holding_the_answer_is_graded_with_the_file_that_imports_it(tmp_path):
    """hn146, hn147: a student's folder of solution.py (`from mylib.deriv import get_derivative`) and her package
    mylib/ was graded as mylib/deriv.py alone (its own `from mylib.core import ...` failed), and the package, which
    defines the function, was passed over as a classmate's folder: 0/10 in a batch and on Gradescope."""
    from grader import batch, gradescope

    folder = tmp_path / "class" / "ann"
    (folder / "mylib").mkdir(parents=True)
    (folder / "solution.py").write_text("from mylib.deriv import get_derivative  # noqa: F401\n")
    (folder / "mylib" / "__init__.py").write_text("")
    (folder / "mylib" / "core.py").write_text("def fresh_leaf(x):\n    return x\n")
    (folder / "mylib" / "deriv.py").write_text("from mylib.core import fresh_leaf\ndef get_derivative(x):\n"
                                               "    return fresh_leaf(x)\n")
    job = next(iter(batch.discover(tmp_path / "class", None, "get_derivative")))
    assert job.path == folder / "solution.py" and job.own_folder, job
    assert gradescope.pick(folder, "get_derivative") == (folder / "solution.py", "")
    # (hn148: where the answer's file runs alone, it is graded alone, as before: a driver at the top may read a
    # data file at import, which is not copied)
    (folder / "mylib" / "deriv.py").write_text("def get_derivative(x):\n    return x\n")
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "mylib" / "deriv.py"
    (folder / "mylib" / "deriv.py").write_text("from mylib.core import fresh_leaf\ndef get_derivative(x):\n"
                                               "    return fresh_leaf(x)\n")
    own = submission.read(job.path, helpers=True, function="get_derivative", own=True)
    assert [name for name, _ in own.helpers] == ["mylib/__init__.py", "mylib/core.py", "mylib/deriv.py"]
    # ...and in `grade` and `check` too, where nothing else beside the file holds an answer (it is a package, by its
    # __init__.py: rt166's bob/ and rt202's dora/, students' folders, have none)
    alone = submission.read(job.path, helpers=True, function="get_derivative")
    assert [name for name, _ in alone.helpers] == ["mylib/__init__.py", "mylib/core.py", "mylib/deriv.py"]
    # (rv44: a demo and a test beside it that import the function hold no answer: the folder is still hers)
    (folder / "demo.py").write_text("from mylib.deriv import get_derivative\nimport torch\n"
                                    "print(get_derivative(torch.zeros(3)))\n")
    (folder / "test_solution.py").write_text("from solution import get_derivative\ndef test_zero():\n"
                                             "    assert get_derivative(0) == 1\n")
    (folder / "main.py").write_text("if __name__ == '__main__':\n    from mylib.deriv import get_derivative\n")
    alone = submission.read(job.path, helpers=True, function="get_derivative")
    assert [name for name, _ in alone.helpers] == ["mylib/__init__.py", "mylib/core.py", "mylib/deriv.py"]
    # ...and a batch grades the file that does least else among those importing it at the top (not a guarded
    # main.py's import): demo.py and solution.py both import it, and mylib/deriv.py alone cannot load
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "solution.py"
    # (rv45: a demo shorter than her solution.py, which plots, is still no answer's door)
    (folder / "solution.py").write_text("from mylib.deriv import get_derivative\nimport torch\nx = torch.zeros(3)\n"
                                        "y = get_derivative(x)\nprint(y)\nprint(x)\n")
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "solution.py"
    # (rt211: a door named hw2_main.py, as main.py may be, beside a plotting.py that imports it too)
    (folder / "solution.py").rename(folder / "hw2_main.py")
    (folder / "demo.py").rename(folder / "plotting.py")
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "hw2_main.py"
    (folder / "hw2_main.py").rename(folder / "solution.py")
    (folder / "plotting.py").rename(folder / "demo.py")
    (folder / "solution.py").unlink()
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "demo.py"
    (folder / "demo.py").unlink()  # (main.py's guarded import binds nothing as it is imported)
    assert next(iter(batch.discover(tmp_path / "class", None, "get_derivative"))).path == folder / "mylib" / "deriv.py"
    (folder / "solution.py").write_text("from mylib.deriv import get_derivative  # noqa: F401\n")
    for name in ("test_solution.py", "main.py"):
        (folder / name).unlink()
    # ...but not where another folder or file beside it holds one: the folder is then a class's
    (folder / "bob").mkdir()
    (folder / "bob" / "hw.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {},
        "outputs": [], "source": "def get_derivative(x):\n    return x\n"}], "metadata": {}, "nbformat": 4,
        "nbformat_minor": 5}))
    alone = submission.read(job.path, helpers=True, function="get_derivative")
    assert alone.helpers == () and alone.passed_over == ("mylib/",)
    (folder / "bob" / "hw.ipynb").unlink()
    (folder / "carol.py").write_text("def f(x):\n    return x\nglobals()['get_derivative'] = f\n")
    alone = submission.read(job.path, helpers=True, function="get_derivative")
    assert alone.helpers == () and alone.passed_over == ("mylib/",)


def test_a_gradescope_export_beside_other_files_is_no_student(tmp_path):
    """ux134: an unzipped export beside a roster.csv (or a second export) was one student, "all 5 .py files define
    get_derivative(x): hw.py, hw.py, ...; keep one"."""
    from grader import batch

    export = tmp_path / "assignment_123_export"
    for n in (1, 2):
        (export / f"submission_{n}").mkdir(parents=True)
        (export / f"submission_{n}" / "hw.py").write_text("def get_derivative(x):\n    return x\n")
    (export / batch.GRADESCOPE_METADATA).write_text(":submission_1:\n")
    (tmp_path / "roster.csv").write_text("name\n")
    jobs = batch.discover(tmp_path, None, "get_derivative")
    assert len(jobs) == 1 and jobs[0].path is None and jobs[0].refused, jobs
    assert jobs[0].problem.startswith("assignment_123_export/: a Gradescope export (its submission_metadata.yml")


def test_a_notebook_saved_under_a_py_name_is_said_to_be_one(sin):
    """hn149: a notebook renamed .py (to pass an upload's filter) was told it "does not define get_derivative", or
    NameError: name 'null' and to put the rest under `if __name__ == "__main__":`."""
    from grader import checks
    from grader.observations import LoadResult, Observations

    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["def get_derivative(x):\n", "    return x\n"]}
    raw = ("\ufeff" + json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})).encode()
    assert submission.not_python(raw) == submission.NOTEBOOK_AS_PY
    assert submission.not_python(raw, notebook=True) == ""  # (a notebook by its name is one)
    assert submission.not_python(b'{"nbformat": 4}\n') == "" and submission.not_python(b"x = {'nbformat': 4}\n") == ""
    told = checks.check_loads(Observations(load=LoadResult(False, missing="missing"), not_python=submission.not_python(
        raw)), sin)
    assert told.message.startswith("Your file is a Jupyter notebook (its JSON, in a file named .py)")
    assert "named .ipynb" in told.advice
