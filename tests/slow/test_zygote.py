"""The warm zygote that batch grading forks sandbox children from: children are confined exactly as
fresh ones, nothing a submission does reaches the zygote or the next submission, and killing the
grader ends the zygote and every child. (test_hostile and test_sandbox run each case both ways.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grade import grade_file
from grader.sandbox import session
from grader.sandbox.session import warm_zygote
from tests.conftest import FIXTURES, ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
HOSTILE = FIXTURES / "hostile"


@pytest.fixture(scope="module")
def zygote():
    found = warm_zygote()
    assert found is not None
    return found


def test_a_forked_child_has_every_layer_a_fresh_one_has(sin, zygote):
    fresh = grade_file(SUBMISSIONS / "honest_backward.py", sin)
    forked = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)
    assert forked.score == fresh.score == 10
    assert forked.sandbox_layers == fresh.sandbox_layers
    assert forked.sandbox_events == fresh.sandbox_events == ()  # nothing for a TA to review


def test_hostile_submissions_reach_neither_the_zygote_nor_the_next_child(sin, zygote):
    pid = zygote.process.pid
    for name in ("kills_everything", "kills_parent", "patches_everything", "aborts"):
        grade_file(HOSTILE / f"{name}.py", sin, warm=True)
    assert zygote.alive() and warm_zygote() is zygote and zygote.process.pid == pid
    # patches_everything rewrote torch.sin, numpy and the grader in its own child only.
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)
    assert warm_zygote() is zygote and outcome.score == 10 and "imported grader.checks" not in outcome.sandbox_events


def test_a_dead_zygote_is_replaced_and_grading_goes_on(sin):
    first = warm_zygote()
    assert first is not None
    first.process.kill()
    first.process.wait()
    second = warm_zygote()
    assert second is not None and second is not first and second.alive()
    assert grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True).score == 10
    assert warm_zygote() is second


def test_a_zygote_that_dies_under_a_running_child_is_the_graders_failure_not_the_students(sin):
    """rt144: a batch's zygote killed (the OOM killer's choice, say) took its children with it, and
    each was its student's "crash" (or a load error), kept as graded on the rerun. It is the
    grader's failure, which a rerun grades again; the next file gets a new zygote."""
    import threading

    zygote = warm_zygote()
    assert zygote is not None
    threading.Timer(4.0, zygote.process.kill).start()  # while the child sleeps in its first call
    outcome = grade_file(FIXTURES / "sleeps.py", sin, warm=True)  # (10 s a case: the kill comes first)
    assert outcome.status == "grader_error" and "zygote ended" in (outcome.grader_error or ""), outcome.status
    assert grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True).score == 10


def test_a_grade_whose_zygote_died_falls_back_to_a_fresh_child(sin, monkeypatch):
    from grader.sandbox.zygote import Zygote

    doomed = Zygote(session._base_env())
    doomed.process.kill()
    doomed.process.wait()
    monkeypatch.setattr(session, "warm_zygote", lambda: doomed)  # it dies between the check and the fork
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)
    assert outcome.score == 10 and outcome.status == "graded"


GRADES_FOREVER = """
import sys
from pathlib import Path
from grader.exercise import load
from grader.grade import grade_file
from grader.sandbox.session import warm_zygote
zygote = warm_zygote()
print(zygote.process.pid, flush=True)
grade_file(Path(sys.argv[1]), load("sin"), warm=True)
"""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _tree(pid: int) -> set[int]:
    from tests.slow.test_hostile import _descendants

    return {pid, *_descendants(pid)}


def test_killing_the_grader_ends_the_zygote_and_its_busy_child():
    grader = subprocess.Popen([sys.executable, "-c", GRADES_FOREVER, str(SUBMISSIONS / "broken_infinite_loop.py")],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert grader.stdout is not None
    zygote_pid = int(grader.stdout.readline())
    deadline = time.monotonic() + 30
    while len(_tree(zygote_pid)) < 2 and time.monotonic() < deadline:  # zygote and child
        time.sleep(0.1)
    everything = _tree(zygote_pid)
    assert len(everything) >= 2, "the child should be spinning in the student's endless loop"
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in everything):
        time.sleep(0.1)
    assert [pid for pid in everything if _alive(pid)] == []


def test_a_zygote_that_stops_answering_is_replaced_and_the_grade_still_comes(sin, monkeypatch):
    from grader.sandbox.zygote import Zygote, ZygoteGone

    stuck = Zygote(session._base_env())
    os.kill(stuck.process.pid, signal.SIGSTOP)  # alive, but it will never answer
    original = Zygote._next
    monkeypatch.setattr(Zygote, "_next", lambda self, timeout: original(self, min(timeout or 1.0, 1.0)))
    try:
        with pytest.raises(ZygoteGone):
            stuck.spawn(Path("/tmp"), {}, (0, 1, 2, 2), False)
        monkeypatch.setattr(session, "warm_zygote", lambda: stuck)
        outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)  # a fresh child instead
    finally:
        os.kill(stuck.process.pid, signal.SIGCONT)
        stuck.process.kill()
    assert outcome.score == 10 and not stuck.alive()


def test_one_zygote_serves_two_graders_each_on_a_socket_of_its_own(sin, monkeypatch):
    """A batch's workers share its main process's zygote (batch.py): each gets its own children's
    reports, and the zygote ends only when the last of them hangs up."""
    from grader.sandbox.zygote import Zygote

    owner = Zygote(session._base_env(), shares=1)
    other = Zygote.attach(owner.shared[0].dup())
    try:
        monkeypatch.setattr(session, "warm_zygote", lambda: other)
        assert grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True).score == 10
        monkeypatch.setattr(session, "warm_zygote", lambda: owner)
        assert grade_file(SUBMISSIONS / "cheat_cos.py", sin, warm=True).score == 1
        other.close()  # one grader gone: the zygote still serves the other
        assert grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True).score == 10
    finally:
        other.close()
        assert owner.process is not None
        owner.close()
    assert owner.process.returncode is not None and owner.process.returncode >= 0  # it ended, not killed


def test_a_shared_zygote_that_stalls_costs_this_file_a_start_afresh_never_two_children_one_pipe(sin, monkeypatch):
    """A batch's shared zygote is not ours to kill: if it catches up after the wait it forks a child
    on the pipes it was sent, so the file goes to a child started afresh on pipes of its own (on the
    same pipes, a zygote that ended after forking left its child's hello to be read as the set-up's
    answer: "no sandbox layers where they were due", a grader error, under load)."""
    from grader.sandbox.zygote import Zygote

    owner = Zygote(session._base_env(), shares=1)
    shared = Zygote.attach(owner.shared[0].dup())
    original = Zygote._next
    monkeypatch.setattr(Zygote, "_next", lambda self, timeout: original(self, min(timeout or 1.0, 1.0)))
    try:
        shared.ready()
        os.kill(owner.process.pid, signal.SIGSTOP)  # alive, but it answers nothing for now
        monkeypatch.setattr(session, "warm_zygote", lambda: shared)
        outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)
        os.kill(owner.process.pid, signal.SIGCONT)  # (it forks the stale child now, on pipes nobody reads)
        assert grade_file(SUBMISSIONS / "honest_backward.py", sin).score == 10
    finally:
        os.kill(owner.process.pid, signal.SIGCONT)
        shared.close()
        owner.close()
    assert outcome.status == "graded" and outcome.score == 10, outcome.grader_error


def test_a_zygote_lost_after_it_forked_costs_a_start_afresh_on_channels_no_child_of_its_holds(sin, monkeypatch):
    """A zygote that forks the child, then is lost before it says so (it ended: every spawn where all children run
    as nobody without Landlock): the child it forked writes its hello on the channels it was sent, and a child
    started afresh on them read that hello as its set-up's answer, a grader error under load. It starts on
    channels of its own."""
    from grader.sandbox.zygote import Zygote, ZygoteLost

    spawn = Zygote.spawn

    def forks_then_is_lost(self, *args, **kwargs):
        child = spawn(self, *args, **kwargs)
        time.sleep(1.0)  # (its hello written by now)
        child.kill()
        raise ZygoteLost("the zygote ended")

    monkeypatch.setattr(Zygote, "spawn", forks_then_is_lost)
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin, warm=True)
    assert outcome.status == "graded" and outcome.score == 10, outcome.grader_error


def test_a_crash_is_named_even_when_the_zygote_is_slow_to_report_it(sin, monkeypatch):
    """A forked child's exit status comes from its zygote, which can be busy for seconds (warming
    up torch's compiler for another worker of the batch). A child that is dead is waited for."""
    from grader.sandbox.zygote import Zygote

    wait = Zygote.wait
    slow: list[float] = []

    def busy_for_the_first_five_seconds(self, pid, timeout):
        if timeout == 5 and not slow:
            # The report comes (so the child is surely gone, as it is after five real seconds) but
            # too late for this wait; the next wait finds it.
            slow.append(timeout)
            self._exited[pid] = wait(self, pid, None)
            raise subprocess.TimeoutExpired("zygote", timeout)
        return wait(self, pid, timeout)

    monkeypatch.setattr(Zygote, "wait", busy_for_the_first_five_seconds)
    outcome = grade_file(FIXTURES / "segfault.py", sin, warm=True)
    assert slow and outcome.status == "crash"
    assert "killed by signal SIGSEGV" in next(f for f in outcome.findings if f.name == "correctness").message


def test_a_file_that_plots_finds_pyplot_ready_with_matplotlibs_own_settings(sin, monkeypatch, tmp_path):
    """A zygote takes matplotlib's pyplot on at the first file that mentions it (0.4-0.6 s a child
    otherwise), with a configuration folder of its own, as a fresh child has: the grader's own
    matplotlib settings never reach a student's plot."""
    from grader.sandbox.zygote import Zygote

    (tmp_path / "matplotlibrc").write_text("lines.linewidth: 7\n")
    zygote = Zygote({**session._base_env(), "MPLCONFIGDIR": str(tmp_path)})
    try:
        monkeypatch.setattr(session, "warm_zygote", lambda: zygote)
        first, second = (grade_file(FIXTURES / "plots_as_it_loads.py", sin, warm=True) for _ in range(2))
    finally:
        zygote.close()
    for outcome in (first, second):
        assert outcome.score == 10
        assert "pyplot imported before: True; line width 1.5; font read" in outcome.stdout


def _next_pid_is(pid: int) -> bool:
    """Ask the kernel to give `pid` to the next process made (root only); False where it may not."""
    try:
        Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
    except OSError:
        return False
    return True


def test_a_grader_never_kills_the_child_that_inherited_its_own_childs_pid(sin, zygote):
    """A red team's root child wound the pid counter round (threads, as many as it liked over time)
    until the next pid was its own, then exited as the other worker forked: the zygote reaped it,
    the next student's child got its pid, and its own grader, closing, killed that child by number.
    Here the kernel is asked to give the pid again; the first session's kill must not reach it."""
    from grader.sandbox import open_session

    first = open_session(FIXTURES / "sleeps.py", sin.limits, warm=True)
    first.receive(60, "the start")  # alive, and forked
    pid = first.process.pid
    os.kill(pid, signal.SIGKILL)  # dies by itself, as far as its grader knows
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # the zygote reaps it
        time.sleep(0.01)
    second = None
    for _ in range(200):  # another process (a neighbouring test worker's threads) may take it first
        if not _next_pid_is(pid):
            first.close()
            pytest.skip("the kernel may not be asked for a pid here (needs root)")
        second = open_session(SUBMISSIONS / "honest_backward.py", sin.limits, warm=True)
        second.receive(60, "the start")
        if second.process.pid == pid:
            break
        second.close()
        second = None
    assert second is not None, "the pid went elsewhere every time"
    try:
        first.close()  # kills its child, which is long gone
        time.sleep(0.2)
        assert _alive(pid), "the first session's kill reached the second session's child"
    finally:
        second.close()


def test_a_child_started_afresh_is_never_killed_by_number_once_reaped(sin):
    """The same for a child started afresh: once its grader has reaped it, its pid (and process
    group) may be another's, and closing the session must not signal it."""
    from grader.sandbox import open_session

    first = open_session(FIXTURES / "sleeps.py", sin.limits)
    pid = first.process.pid
    os.killpg(pid, signal.SIGKILL)
    first.process.wait()  # reaped, as a session that saw its child die has done
    # Each try is a cheap fork; many are allowed because a neighbouring test worker making threads
    # takes pids between the write and the fork (CI once lost 20 tries in a row that way).
    for _ in range(500):
        if not _next_pid_is(pid):
            first.close()
            pytest.skip("the kernel may not be asked for a pid here (needs root)")
        other = subprocess.Popen(["sleep", "30"], start_new_session=True)
        if other.pid == pid:
            break
        other.kill()
        other.wait()
    try:
        assert other.pid == pid, "the pid went elsewhere every time"
        first.close()
        time.sleep(0.2)
        assert other.poll() is None, "closing the first session killed another process group"
    finally:
        other.kill()
        other.wait()
