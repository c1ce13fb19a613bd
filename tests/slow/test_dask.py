"""grader batch on a real Dask cluster: a scheduler and two workers on loopback, the same gradebook
as a local run (timings aside)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SUBMISSIONS

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow
DASK = str(Path(sys.executable).parent / "dask")
SAMPLES = ["honest_backward", "cheat_cos", "mistake_returns_y", "broken_syntax", "mistake_two_sin",
           "honest_func_vmap"]


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "gradebook.csv").open() as handle:
        return [{k: v for k, v in row.items() if k != "duration_s"} for row in csv.DictReader(handle)]


@pytest.fixture
def cluster(tmp_path):
    info = tmp_path / "scheduler.json"
    scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(info)]
    processes = [subprocess.Popen(scheduler, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            processes.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard",
                                               "--host", "127.0.0.1"], cwd=ROOT,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_dask_cluster_gives_the_same_gradebook_as_a_local_run(cluster, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(SUBMISSIONS / f"{name}.py", folder)
    # (rv47: a module of her package, graded as one where the batch ran, was graded alone on a worker given the
    # class folder by a relative name, 0/10)
    carol = {"main.py": "if __name__ == '__main__':\n    from mylib.deriv import get_derivative\n",
             "mylib/util.py": "def leaf(x):\n    return x.detach().clone().requires_grad_(True)\n",
             "mylib/deriv.py": "import torch\nfrom .util import leaf\n\n\ndef get_derivative(x):\n    x = leaf(x)\n"
                               "    torch.sin(x).sum().backward()\n    return x.grad\n"}
    for name, text in carol.items():
        (folder / "carol" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "carol" / name).write_text(text)
    command = [sys.executable, "-m", "grader", "batch", str(folder), "-j", "2"]
    local = subprocess.run([*command, "--out", str(tmp_path / "local")], cwd=ROOT, capture_output=True, text=True)
    # Named as the README names them, from the TA's folder, where the workers work in another (ux128: every
    # student was the grader's error, and no reason said)
    remote = subprocess.run([sys.executable, "-m", "grader", "batch", "class", "-j", "2", "--out", "dask",
                             "--scheduler", cluster], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert rows(tmp_path / "dask") == rows(tmp_path / "local")
    assert len(rows(tmp_path / "dask")) == len(SAMPLES) + 1
    assert {row["student"]: row["score"] for row in rows(tmp_path / "dask")}["carol"] == "10.0"
    assert all((tmp_path / "dask" / name / "feedback.png").is_file() for name in SAMPLES)


def test_a_task_that_fails_on_the_cluster_is_that_students_grader_error(tmp_path, monkeypatch):
    """On the local pool a failed task was that student's grader error; on Dask its exception ended
    the whole batch (a red team's check-crashing file, read from the code)."""
    def grade_job(job, out, settings):
        if job.student == "lost":
            raise RuntimeError("the worker died")
        return {"student": job.student, "status": "graded", "score": 10.0}

    rows_seen = rows_on_a_local_cluster(tmp_path, monkeypatch, grade_job, ("ada", "lost", "zoe"))
    assert sorted((row["student"], row["status"]) for row in rows_seen) == [
        ("ada", "graded"), ("lost", "grader_error"), ("zoe", "graded")]
    assert [row["detail"] for row in rows_seen if "detail" in row] == [
        "the worker failed: RuntimeError('the worker died')"]


def test_a_worker_grading_with_another_install_is_said_once(tmp_path, monkeypatch):
    """ux129: a cluster's two workers of two installs graded by turns, each run regrading what the other
    had graded (their results' cache keys differ), the gradebook mixing both, and nothing said."""
    from grader import batch

    def grade_job(job, out, settings):
        return {"student": job.student, "status": "graded", "score": 10.0,
                "grader": "another-install" if job.student != "ada" else batch.grader_here()}

    rows_seen = rows_on_a_local_cluster(tmp_path, monkeypatch, grade_job, ("ada", "bo", "cy"))
    said = [row["detail"] for row in rows_seen if "detail" in row]
    assert len(said) == 1 and "whose grader or torch is not this one's" in said[0], rows_seen
    # (ux132: a cluster started before an upgrade; the advice is to restart the workers, and every student it
    # graded is named, not the first alone)
    assert "restart them" in said[0] and "every student it grades is named in the summary" in said[0]


def test_two_batches_on_one_cluster_at_once_keep_their_own_tasks(tmp_path, monkeypatch):
    """ux136: two sections' batches on one cluster at once, alike in ids and seed, shared their tasks (a task's
    key was the student's id and the seed): the second's students were grader errors, their results written
    into the first's OUT."""
    import threading
    import time
    from types import SimpleNamespace

    from distributed import LocalCluster

    from grader import batch

    def grade_job(job, out, settings):
        time.sleep(0.5)
        return {"student": job.student, "status": "graded", "out": str(out)}

    monkeypatch.setattr(batch, "grade_job", grade_job)
    settings = SimpleNamespace(plan=SimpleNamespace(seed=1))
    seen: dict[str, list[dict]] = {"a": [], "b": []}
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as local:
        def section(name: str) -> None:
            jobs = [batch.Job(student, tmp_path / name / f"{student}.py") for student in ("aaa", "alice", "zed")]
            batch.run_on_dask(jobs, tmp_path / f"out_{name}", settings, batch.dask_client(local.scheduler_address),
                              seen[name].append)

        sections = [threading.Thread(target=section, args=(name,)) for name in seen]
        for thread in sections:
            thread.start()
        for thread in sections:
            thread.join()
    for name, rows in seen.items():
        assert sorted((row["student"], row["status"], row["out"]) for row in rows) == \
            [(student, "graded", str(tmp_path / f"out_{name}")) for student in ("aaa", "alice", "zed")], rows


def rows_on_a_local_cluster(tmp_path, monkeypatch, grade_job, names) -> list[dict]:
    """The rows run_on_dask hands on for students `names`, each graded by `grade_job` on a cluster of one
    worker in this process."""
    from types import SimpleNamespace

    from distributed import LocalCluster

    from grader import batch

    monkeypatch.setattr(batch, "grade_job", grade_job)
    jobs = [batch.Job(name, tmp_path / f"{name}.py") for name in names]
    rows_seen: list[dict] = []
    settings = SimpleNamespace(plan=SimpleNamespace(seed=1))
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local:
        batch.run_on_dask(jobs, tmp_path, settings, batch.dask_client(local.scheduler_address), rows_seen.append)
    return rows_seen


def test_every_student_a_worker_of_another_install_graded_is_named_in_the_gradebook_and_summary(tmp_path,
                                                                                                 monkeypatch):
    """ux132: a cluster started before an upgrade graded all eight students, and one was named, once, on
    stderr, with the advice to install the same grader (not to restart the workers); nora's 9.0, this
    install's 10, had an empty note."""
    from distributed import LocalCluster

    from grader import batch, cli

    real = batch.grade_job

    def grade_job(job, out, settings):
        row = real(job, out, settings)
        return {**row, "grader": "another-install"} if job.student != "ada" else row

    monkeypatch.setattr(batch, "grade_job", grade_job)
    folder = tmp_path / "class"
    folder.mkdir(mode=0o700)
    for name in ("ada", "bo", "cy"):
        shutil.copy(SUBMISSIONS / "honest_backward.py", folder / f"{name}.py")
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as local:
        assert cli.main(["batch", str(folder), "--out", str(out), "--no-plot", "--scheduler",
                         local.scheduler_address]) == 0
    notes = {row["student"]: row["note"] for row in rows(out)}
    assert not notes["ada"].startswith(batch.OTHER_BUILD_NOTE) and all(notes[s].startswith(batch.OTHER_BUILD_NOTE)
                                                                     for s in ("bo", "cy")), notes
    said = (out / "summary.md").read_text()
    assert "graded by Dask workers whose grader or torch is not this one's" in said and "bo, cy" in said, said


def test_a_worker_whose_environment_undoes_a_refusal_grades_no_one(tmp_path, monkeypatch):
    """rv42: GRADER_SANDBOX_SKIP=landlock on a Dask worker, as root with a child keeping uid 0, graded with no word
    (the refusal was the CLI's, in its own environment), and a classmate's code read alice's file and /etc/shadow."""
    from grader.sandbox import confine

    monkeypatch.setattr(confine, "python_readable_by_nobody", lambda: False)  # (root's own Python: keeps uid 0)
    monkeypatch.setattr(confine.os, "geteuid", lambda: 0)
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "landlock")  # (the worker is this process: its environment)
    shutil.copy(SUBMISSIONS / "honest_backward.py", tmp_path / "ada.py")
    from grader import batch

    rows_seen = rows_on_a_local_cluster(tmp_path, monkeypatch, batch.grade_job, ("ada",))
    assert [row["status"] for row in rows_seen] == ["grader_error"], rows_seen
    assert "the grader never runs student code so" in rows_seen[0]["detail"]
    assert not (tmp_path / "ada" / "result.json").exists()
