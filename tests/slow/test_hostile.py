"""Hostile and broken submissions through the real sandbox. For each: the grader finishes, the
result says what happened, what failed scores 0, nothing outlives the grading, nothing outside the
sandbox's folder changes, and no printed text, file or patch changes the score.

Where a case names GRADER_SANDBOX_SKIP, it shows that the layers left on still hold by themselves.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from grader import exercise, probe
from grader.exercise import REFERENCE_DIR
from grader.grade import grade_file as grade_fresh
from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"


@pytest.fixture(scope="module")
def tight(sin):
    return replace(sin, limits=replace(sin.limits, call_timeout_s=3.0, load_timeout_s=10.0, total_timeout_s=60.0))


@pytest.fixture(scope="module")
def layers(sin) -> tuple[str, ...]:
    return grade_fresh(SUBMISSIONS / "honest_backward.py", sin).sandbox_layers


def message(outcome, check: str = "correctness") -> str:
    return next(f.message for f in outcome.findings if f.name == check)


def marked_copy(name: str, folder: Path, *numbers: str) -> tuple[Path, list[str]]:
    """A copy of a hostile fixture whose `sleep N` processes carry numbers unique to this test, so
    tests running side by side (pytest -n) never see each other's processes."""
    text = (HOSTILE / f"{name}.py").read_text()
    markers = []
    for number in numbers:
        unique = f"{number}{os.getpid()}{time.monotonic_ns() % 100000}"
        text = text.replace(number, unique)
        markers.append(f"sleep {unique}")
    path = folder / f"{name}.py"
    path.write_text(text)
    return path, markers


def running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_this_machine_has_every_layer_but_maybe_the_uid(layers):
    assert "pid, network, mount, IPC and UTS namespaces" in layers
    assert any(layer.startswith("landlock") for layer in layers)
    assert any(layer.startswith("seccomp") for layer in layers)


def test_an_endless_loop_at_import_is_a_load_timeout(grade_file, tight):
    outcome = grade_file(HOSTILE / "import_loop.py", tight)
    assert outcome.status == "timeout" and outcome.score == 0
    assert "did not finish the import of your file within 10 s" in message(outcome, "loads")


def test_a_loop_that_ignores_sigterm_is_still_stopped(grade_file, tight):
    started = time.monotonic()
    outcome = grade_file(HOSTILE / "ignores_sigterm.py", tight)
    assert outcome.status == "timeout" and time.monotonic() - started < 20


def test_a_numpy_memory_bomb_is_an_error_not_an_oom(grade_file, sin):
    outcome = grade_file(HOSTILE / "numpy_bomb.py", sin)
    assert outcome.status == "memory" and "more memory than the 4 GiB" in message(outcome)


@pytest.mark.parametrize("skip", ["", "seccomp"])
def test_a_fork_spree_leaves_nothing_running(grade_file, sin, monkeypatch, skip, tmp_path):
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    student, (marker,) = marked_copy("fork_spree", tmp_path, "4244")
    outcome = grade_file(student, sin)
    time.sleep(0.5)
    assert running(marker) == []
    if skip == "":  # seccomp refuses the fork itself
        assert outcome.score <= 1 and "starts another process" in message(outcome)  # (and the sandbox refuses it)


@pytest.mark.parametrize("skip", ["", "seccomp"])
def test_daemons_and_setsid_do_not_outlive_grading(grade_file, sin, monkeypatch, skip, tmp_path):
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    student, markers = marked_copy("daemon", tmp_path, "4242", "4243")
    outcome = grade_file(student, sin)
    time.sleep(0.5)
    assert outcome.score == 10
    assert all(running(marker) == [] for marker in markers)
    # Started where seccomp is skipped, refused where it is not: else the first is vacuous (rv01)
    refused = ["Popen:" in outcome.stdout, "fork:" in outcome.stdout]
    assert refused == ([False, False] if skip == "seccomp" else [True, True]), outcome.stdout


def test_hundreds_of_megabytes_printed_are_capped_and_kept(grade_file, sin):
    outcome = grade_file(HOSTILE / "flood.py", sin)
    assert outcome.score == 10
    assert outcome.stdout_bytes >= 300 << 20 and outcome.stderr_bytes >= 300 << 20
    assert len(outcome.stdout.encode()) <= 64 << 10 and outcome.output_truncated


def test_abort_in_c_code_is_a_crash(grade_file, sin):
    # As process 1 of its pid namespace the child ignores a default SIGABRT, so glibc's abort()
    # ends it with a trap instead (SIGILL or SIGSEGV): a crash either way.
    outcome = grade_file(HOSTILE / "aborts.py", sin)
    assert outcome.status == "crash" and "killed by signal SIG" in message(outcome)


@pytest.mark.parametrize("skip", ["", "seccomp"])
def test_a_child_that_shrinks_its_request_pipe_still_runs_out_of_time(grade_file, tight, monkeypatch, skip):
    """seccomp refuses F_SETPIPE_SZ; without it (no libseccomp on the host) the pipe shrinks, and
    the grader, which never waits on a write, still times the sleeping call out."""
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    outcome = grade_file(HOSTILE / "shrinks_its_request_pipe.py", tight)
    said = message(outcome)  # (3 s for three calls on one input, a third more for four)
    assert outcome.status == "timeout" and ("within 3 s" in said or "within 4 s" in said), said
    assert (" 4096" in outcome.stdout) == (skip == "seccomp"), outcome.stdout


def test_keyboard_interrupt_inside_the_function_is_just_an_error(grade_file, sin):
    outcome = grade_file(HOSTILE / "keyboard_interrupt.py", sin)
    assert outcome.status == "graded" and "KeyboardInterrupt" in message(outcome)


def _needs_signal_isolation(layers):
    if "pid, network, mount, IPC and UTS namespaces" not in layers or not any("signals" in layer for layer in layers):
        pytest.skip("signal isolation layers are not active here; not running a submission that kills processes")


def test_killing_the_parent_or_its_group_only_ends_the_child(grade_file, sin, layers):
    _needs_signal_isolation(layers)
    # In its pid namespace the child is process 1: getppid() is 0, its own group's SIGKILL is
    # ignored there, and Landlock refuses signals to anything outside. So nothing dies at all.
    outcome = grade_file(HOSTILE / "kills_parent.py", sin)
    assert outcome.status in ("graded", "crash") and outcome.score <= 1.5  # loads (+ untouched)
    assert grade_file(SUBMISSIONS / "honest_backward.py", sin).score == 10


def test_kill_minus_one_reaches_nothing_outside(grade_file, sin, layers):
    _needs_signal_isolation(layers)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        outcome = grade_file(HOSTILE / "kills_everything.py", sin)
        assert bystander.poll() is None, "a process outside the sandbox was killed"
        assert outcome.status == "graded"
    finally:
        bystander.kill()


def test_files_written_outside_the_sandbox_folder_are_refused(tmp_path):
    out = Path("/tmp/grader-hostile-out")
    escapes = [Path("/tmp/grader-hostile-escape.txt"), Path("/tmp/escaped.txt")]
    for path in escapes:
        path.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(HOSTILE / "writes_files.py"), "--out",
                           str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "result.json").read_text())
    assert data["score"] < 10 and data["checks"][1]["passed"] is False  # our result, not the fake one
    assert not any(path.exists() for path in escapes)
    assert "refused /tmp/grader-hostile-out/result.json" in data["output"]["stdout"]
    assert any("for writing" in event for event in data["sandbox"]["events"])


def test_patching_torch_numpy_math_and_the_grader_changes_nothing(grade_file, sin):
    outcome = grade_file(HOSTILE / "patches_everything.py", sin)
    assert outcome.score == sin.rubric["loads"]
    assert not next(f for f in outcome.findings if f.name == "correctness").passed
    assert "imported grader.checks" in outcome.sandbox_events


@pytest.mark.parametrize("skip", ["", "seccomp", "seccomp,landlock", "seccomp,namespaces"])
def test_no_network_not_even_loopback(grade_file, sin, tmp_path, monkeypatch, skip):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    student = tmp_path / "phones_home.py"
    student.write_text(
        "import socket\nimport torch\n\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'grades please')\n"
        "    print('CONNECTED')\nexcept OSError as err:\n    print('refused:', err)\n\n\n"
        "def get_derivative(x):\n    x = x.detach().clone().requires_grad_(True)\n"
        "    torch.sin(x).sum().backward()\n    return x.grad\n"
    )
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    try:
        outcome = grade_file(student, sin)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert "CONNECTED" not in outcome.stdout and "refused:" in outcome.stdout
    assert outcome.score == 10


@pytest.mark.parametrize("skip", ["", "namespaces", "namespaces,landlock"])
def test_a_tree_deeper_than_python_recurses_is_removed(grade_file, sin, monkeypatch, skip):
    """Without namespaces the child's folder is on the host's disk: shutil.rmtree raised
    RecursionError on it, `grader grade` lost the result and the files stayed, on every rerun. There
    the count stops a child past 32 levels (it holds a descriptor a level), and what it made goes;
    a tmpfs takes 1,000 entries."""
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    outcome = grade_file(HOSTILE / "deep_folders.py", sin)
    said = " ".join(f.message for f in outcome.findings)
    if skip:
        assert outcome.score < 10 and "making folders more than 32 deep in its folder" in said, said
    else:
        assert outcome.status == "load_error" and "made 3000 levels" not in outcome.stdout
        assert "No space left on device" in next(f for f in outcome.findings if f.name == "loads").message
    # This process's folders only (grader-<pid>-...): another test process may be grading the same file.
    assert list(Path(tempfile.gettempdir()).glob(f"grader-{os.getpid()}-*/deep_folders_4245")) == []


def test_files_outside_the_sandbox_cannot_be_read(grade_file, sin, tmp_path):
    secret = tmp_path / "other_student.py"
    secret.write_text("ANSWER = 'copied homework'\n")
    student = tmp_path / "snoops.py"
    student.write_text(
        "import torch\n\ntry:\n"
        f"    print(open({str(secret)!r}).read())\nexcept OSError as err:\n    print('refused:', err)\n\n\n"
        "def get_derivative(x):\n    x = x.detach().clone().requires_grad_(True)\n"
        "    torch.sin(x).sum().backward()\n    return x.grad\n"
    )
    outcome = grade_file(student, sin)
    assert "copied homework" not in outcome.stdout and "refused:" in outcome.stdout


@pytest.mark.parametrize("skip", ["", "namespaces"])
def test_a_child_that_keeps_root_reads_no_root_only_kernel_file(grade_file, sin, monkeypatch, skip):
    """/proc/sys and /sys were readable whole: a red team's child that kept uid 0 read the host's
    TCP Fast Open key, cad_pid, the usermode helper's capability sets and ASLR's bits there (modes
    0600 and 0400, root's). Where the child keeps uid 0 it reads only what every user may."""
    fixture = HOSTILE / "reads_root_only_kernel_files.py"
    if not any(os.path.exists(path) and not os.stat(path).st_mode & 0o004 for path in _paths_tried_by(fixture)):
        pytest.skip("no root-only kernel file here to try")
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    outcome = grade_file(fixture, sin)
    assert outcome.score == sin.max_score, outcome.grader_error
    assert "read []" in outcome.stdout, outcome.stdout


def _paths_tried_by(fixture: Path) -> tuple[str, ...]:
    tree = ast.parse(fixture.read_text())
    value = next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "ROOT_ONLY")
    return tuple(ast.literal_eval(value))


def test_the_environment_holds_no_grader_secret(grade_file, sin, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_COURSE_SECRET", "do-not-leak")
    student = tmp_path / "env.py"
    student.write_text("import os\nprint(dict(os.environ))\n\n\ndef get_derivative(x):\n    return x\n")
    outcome = grade_file(student, sin)
    assert "do-not-leak" not in outcome.stdout and "HOME" in outcome.stdout


def test_signals_cannot_reach_the_grader_even_without_namespaces(grade_file, sin, tmp_path, monkeypatch, layers):
    if not any("signals" in layer for layer in layers):
        pytest.skip("Landlock signal scoping is not available here")
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "namespaces")
    student = tmp_path / "signals.py"
    student.write_text(
        "import os, signal\n\ntry:\n"
        f"    os.kill({os.getpid()}, signal.SIGUSR1)\n    print('SIGNALLED')\n"
        "except OSError as err:\n    print('refused:', err)\n\n\ndef get_derivative(x):\n    return x\n"
    )
    previous = signal.signal(signal.SIGUSR1, lambda *a: pytest.fail("the grader received the student's signal"))
    try:
        outcome = grade_file(student, sin)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert "SIGNALLED" not in outcome.stdout and "refused:" in outcome.stdout


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_a_busy_sandbox_ends_when_the_grader_is_killed():
    grader = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(SUBMISSIONS / "broken_infinite_loop.py"),
                               "--out", "/tmp/grader-killed-out", "--no-plot"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(5)  # the child is now spinning in the student's endless loop
    sandbox = _descendants(grader.pid)
    assert sandbox, "the sandbox child should be running"
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in sandbox):
        time.sleep(0.1)
    alive = [pid for pid in sandbox if Path(f"/proc/{pid}").exists()
             and (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")]
    assert alive == []


@pytest.mark.parametrize("skip", ["", "namespaces"])
def test_every_thread_of_the_child_is_confined_as_its_main_thread(grade_file, sin, monkeypatch, skip):
    """A red team's child ran its own Python, through a signal handler it patched, in the grader's
    watch for its own death, started before confinement: that thread kept uid 0's capabilities, no
    seccomp and no Landlock, and wrote the host's files, read /etc/shadow, changed other students'
    cgroups and files and left a process running. The watch now starts after, confined alike, and no
    other thread may be running when confinement begins (confine._alone)."""
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", skip)
    outcome = grade_file(HOSTILE / "looks_for_an_unconfined_thread.py", sin)
    assert outcome.score == sin.max_score, outcome.grader_error
    counts = outcome.stdout.split(";")
    assert int(counts[0].split()[1]) >= 2, outcome.stdout  # the watch is there to look at
    assert counts[1].strip() == "unconfined 0", outcome.stdout
    assert "'2', '1', '0000000000000000'" in outcome.stdout  # (seccomp filter, no-new-privileges, no capability)


def test_the_reference_solutions_text_is_gone_before_the_submission_loads(grade_file, tmp_path):
    """rt217: the grader hands the child the solution's text with its set-up, and a frame walk from the student's
    import read it there, a course's private solution printed into its own feedback at 10/10, nothing recorded."""
    (tmp_path / "sin.toml").write_text((REFERENCE_DIR / "sin.toml").read_text())
    (tmp_path / "sin_solution.py").write_text("# SOLUTION_MARKER\n" + (REFERENCE_DIR / "sin_solution.py").read_text())
    outcome = grade_file(HOSTILE / "reads_the_reference_from_the_setup.py", exercise.load(tmp_path / "sin.toml"))
    assert outcome.backward is not None and outcome.backward.reference, "its pass was recorded all the same"
    assert "frames: nothing" in outcome.stdout and "FOUND" not in outcome.stdout, outcome.stdout
    # rt218: nor from the child's freed memory, read without ctypes: a course's solution goes to a child of its own
    (tmp_path / "again.toml").write_text((tmp_path / "sin.toml").read_text())  # (a pass not yet recorded here)
    outcome = grade_fresh(HOSTILE / "reads_the_reference_from_its_memory.py", exercise.load(tmp_path / "again.toml"))
    assert outcome.backward is not None and outcome.backward.reference, "its pass was recorded all the same"
    assert "memory: 0" in outcome.stdout and outcome.score == 10, outcome.stdout


def test_a_thread_the_reference_pass_leaves_running_does_not_stop_confinement(grade_file, tmp_path):
    """On a GPU machine autograd's first backward starts a thread for each GPU, and counting the GPUs
    starts the CUDA driver's own threads. The child ran the reference solution's backward pass before
    confinement, so those threads were running when it began, confinement refused to begin beside
    them (confine._alone), and every submission was the grader's failure (seen on an H200). The
    reference pass now runs once the child is confined; a reference solution that leaves a thread
    running stands in for the GPU here."""
    (tmp_path / "sin.toml").write_text((REFERENCE_DIR / "sin.toml").read_text())
    (tmp_path / "sin_solution.py").write_text(
        "import threading, time\n\n"
        "import torch\n\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\n\n"
        "def get_derivative(x):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (grad,) = torch.autograd.grad(torch.sin(leaf).sum(), leaf)\n"
        "    return grad\n")
    threaded = exercise.load(tmp_path / "sin.toml")
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", threaded)
    assert outcome.grader_error == "" and outcome.score == threaded.max_score, outcome.grader_error
    assert outcome.backward is not None and outcome.backward.reference  # the reference pass was recorded


def test_the_reference_solution_is_nowhere_in_the_frames_above_the_submission(grade_file, sin, monkeypatch):
    """The reference pass runs in the child before the student's file loads; its source, read before
    confinement, stayed in a local of the child's loop, and a red team's file read it with a frame
    walk. No frame above the student's import holds it."""
    monkeypatch.setattr(probe, "_REFERENCE_PASSES", {})  # (the pass comes with a process's first child only)
    outcome = grade_file(HOSTILE / "walks_up_to_the_reference_solution.py", sin)
    assert outcome.score == sin.max_score, outcome.grader_error
    assert "reference source in []" in outcome.stdout, outcome.stdout


def test_confinement_refuses_to_begin_beside_another_thread():
    """Each layer holds only the thread that applies it: with another thread running, confinement
    would leave that thread free, so it refuses (the child's harness_error: the grader's failure);
    a thread that has just finished is waited for."""
    script = ("import threading, time\n"
              "from grader.sandbox.confine import _alone\n"
              "done = threading.Thread(target=time.sleep, args=(0.01,)); done.start(); done.join()\n"
              "_alone(0.5)\n"
              "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
              "try:\n"
              "    _alone(0.2)\n"
              "except RuntimeError as err:\n"
              "    print('refused:', err)\n")
    # (OMP_NUM_THREADS=1, as the child has it: numpy's OpenBLAS otherwise starts a thread as it loads)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: 1 other thread(s) running before confinement"), done.stdout
