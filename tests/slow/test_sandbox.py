"""Broken and hostile submissions through the real sandbox: each is reported in words, scores 0 for
what failed, and the grader carries on. (Deeper hardening is tracked separately.)"""

from __future__ import annotations

import os
import re
import select
import signal
import time

import pytest

from tests.conftest import FIXTURES, SUBMISSIONS

pytestmark = pytest.mark.slow


def findings(outcome):
    return {f.name: f for f in outcome.findings}


def test_exit_at_import_is_a_load_error(grade_file, sin):
    outcome = grade_file(FIXTURES / "exit_at_import.py", sin)
    assert outcome.status == "load_error" and outcome.score == 0
    assert "exited with status 3" in findings(outcome)["loads"].message


def test_exit_called_at_import_is_named_and_the_function_above_it_graded(grade_file, sin):
    # (an exit only unwinds: hn124's last line `sys.exit(0)` scored 0, a failing savefig there 9/10)
    outcome = grade_file(FIXTURES / "exits_at_the_end_of_the_file.py", sin)
    said = findings(outcome)["loads"].message
    assert outcome.status == "graded" and outcome.score == 9.0, said
    assert "it calls exit() at line 13 (`exit()`)" in said and "was defined above that line" in said, said
    assert "SystemExit: None" not in said and "Remove that call" in said


def test_a_segfault_in_the_function_is_a_crash_not_a_grader_failure(grade_file, sin):
    outcome = grade_file(FIXTURES / "segfault.py", sin)
    assert outcome.status == "crash"
    assert "killed by signal SIGSEGV" in findings(outcome)["correctness"].message
    assert findings(outcome)["loads"].passed and outcome.score == 1


def test_a_fault_is_reported_as_itself_with_one_traceback(grade_file, sin):
    """seccomp refuses faulthandler's restore of the default handler: a bus error re-entered
    faulthandler until its stack ran out, died as a SIGSEGV, and printed its traceback five times
    over (a red team's file writing a mapped file in a full /dev/shm was told of a segfault)."""
    outcome = grade_file(FIXTURES / "bus_error.py", sin)
    message = findings(outcome)["correctness"].message
    assert outcome.status == "crash" and "killed by signal SIGBUS" in message and "(a bus error)" in message, message
    assert outcome.stderr.count("Fatal Python error") == 1 and "in get_derivative" in outcome.stderr, outcome.stderr


def test_an_abort_tells_the_student_once(grade_file, sin):
    """abort() raises SIGABRT itself, which process 1 of a pid namespace ignores: glibc then ends it
    with a fault (SIGSEGV), after faulthandler's one report of the abort, not five."""
    outcome = grade_file(FIXTURES / "aborts.py", sin)
    assert outcome.status == "crash" and "abort" in findings(outcome)["correctness"].message
    assert "Fatal Python error: Aborted" in outcome.stderr and outcome.stderr.count("Fatal Python error") <= 2, \
        outcome.stderr


def test_a_tensor_subclass_that_cannot_be_read_is_the_students_answer_not_the_harness_failing(grade_file, sin):
    outcome = grade_file(FIXTURES / "returns_unreadable_subclass.py", sin)
    message = findings(outcome)["correctness"].message
    assert outcome.status == "graded" and "returned a Sealed" in message and "GraderHarnessError" not in message, \
        message


def test_a_number_too_large_for_a_float_is_the_students_answer_not_the_harness_failing(grade_file, sin):
    outcome = grade_file(FIXTURES / "returns_a_number_no_float_holds.py", sin)
    message = findings(outcome)["correctness"].message
    assert outcome.status == "graded" and "GraderHarnessError" not in message, message
    assert "returned a Python int that no float can hold" in message, message


def test_death_by_a_signal_with_no_name_is_a_crash_not_a_grader_failure(grade_file, sin, monkeypatch):
    """signal.Signals names few real-time signals: a red team's child that died of SIGRTMIN+2 was
    reported as the grader's own failure (which a course might regrade or review by hand). Without
    namespaces, as there: process 1 of a pid namespace of its own ignores its own fatal signals."""
    monkeypatch.setenv("GRADER_SANDBOX_SKIP", "namespaces")
    outcome = grade_file(FIXTURES / "dies_of_a_realtime_signal.py", sin)
    assert outcome.status == "crash" and outcome.score == 1
    assert f"killed by signal {int(signal.SIGRTMIN) + 2} (SIGRTMIN+2)" in findings(outcome)["correctness"].message


def test_sleeping_forever_is_stopped_by_the_call_timeout(grade_file, quick_sin):
    started = time.monotonic()
    outcome = grade_file(FIXTURES / "sleeps.py", quick_sin)
    assert time.monotonic() - started < 15
    assert outcome.status == "timeout"
    said = findings(outcome)["correctness"].message  # (2 s for three calls, a third more for four)
    assert "calls of your function on one input within 2 s" in said or "within 2.67 s" in said, said


def test_a_case_of_four_calls_gets_a_third_more_time_than_one_of_three(grade_file, quick_sin):
    outcome = grade_file(FIXTURES / "slow_calls_on_one_input.py", quick_sin)
    assert outcome.status == "graded" and outcome.score == quick_sin.max_score, \
        [f.message for f in outcome.findings if not f.passed]


def test_the_total_time_bounds_the_smallest_example_and_the_backward_pass_too(grade_file, sin):
    """They come after the grids, call by call: each call was held to its own 2 s, and a submission
    slow only there took tens of seconds past its total (a red team's ran 128 s of 120)."""
    from dataclasses import replace

    strict = replace(sin, limits=replace(sin.limits, call_timeout_s=2.0, load_timeout_s=20.0, total_timeout_s=8.0))
    started = time.monotonic()
    outcome = grade_file(FIXTURES / "slow_after_the_grids.py", strict)
    assert time.monotonic() - started < 8.0 + 2.0 + 3.0  # the total, one case, and starting up
    assert outcome.status == "graded" and outcome.score == 1  # graded on the grids, as before
    assert not findings(outcome)["correctness"].passed


def test_a_data_file_missing_in_the_sandbox_is_named_as_the_student_named_it(grade_file, sin):
    outcome = grade_file(FIXTURES / "reads_a_data_file_beside_it.py", sin)
    loads = findings(outcome)["loads"]
    assert "No such file or directory: 'config.txt'" in loads.message and "/tmp/" not in loads.message, loads.message
    assert "in an empty folder of its own" in loads.cause


def test_sys_exit_inside_the_function_is_an_error_with_a_hint(grade_file, sin):
    outcome = grade_file(FIXTURES / "system_exit.py", sin)
    message = findings(outcome)["correctness"].message
    assert outcome.status == "graded" and "SystemExit" in message and "Return a value instead" in message


def test_a_print_flood_is_capped_kept_and_cannot_change_the_score(grade_file, sin):
    outcome = grade_file(FIXTURES / "print_flood.py", sin)
    assert outcome.score == 10
    assert outcome.stdout_bytes > 10_000_000 and outcome.output_truncated
    assert len(outcome.stdout.encode()) <= sin.limits.output_kib * 1024
    assert outcome.stdout.startswith("SCORE: 10/10")


def test_what_a_child_prints_goes_through_a_pipe_roomy_enough_for_a_fast_writer(grade_file, sin, tmp_path):
    """ux127: 80 MB printed a call went at 11 MiB/s, the pace of the drain's wait after each short read
    on a 64 KiB pipe, and ran out of time, told of "a loop that never ends". The grader makes its end
    1 MiB long (the child may not); and a timeout after much printing is told as the printing's."""
    import dataclasses

    from grader import checks
    from grader.observations import Ended, LoadResult, Observations, Output
    from grader.sandbox.session import STREAM_PIPE_BYTES

    path = tmp_path / "pipe_size.py"
    path.write_text("import fcntl, sys\nprint('pipe', fcntl.fcntl(1, fcntl.F_GETPIPE_SZ), "
                    "fcntl.fcntl(2, fcntl.F_GETPIPE_SZ))\n" + (SUBMISSIONS / "honest_backward.py").read_text())
    outcome = grade_file(path, sin)
    assert outcome.score == 10 and f"pipe {STREAM_PIPE_BYTES} {STREAM_PIPE_BYTES}" in outcome.stdout, outcome.stdout
    ended = Observations(load=LoadResult(True), ended=Ended("timeout", "did not finish a call within 10 s"),
                         output=Output("spam", 80 << 20))
    assert "It printed 80 MiB, which is slow here" in checks._ended_words(ended)
    # (ux139: 100,000 tensors a call)
    ended = dataclasses.replace(ended, output=Output("tensor([0.5])\n" * 10, 11 << 20))
    assert "It printed 11 MiB, which is slow here" in checks._ended_words(ended)


def test_output_without_end_is_read_to_a_gib_and_no_further(grade_file, sin):
    """Reading what a child prints costs the grader a copy of every byte: a red team's tee(2) loop
    had it read 400 GB in a minute for a score of 10. Past a GiB it stops reading and closes its
    end, the child's next write fails, and the output it kept says so."""
    started = time.process_time()
    outcome = grade_file(FIXTURES / "hostile" / "floods_its_output.py", sin)
    assert time.process_time() - started < 5  # (reading the GiB itself: about 0.2 s)
    assert outcome.score == 10
    assert 1 << 30 < outcome.stdout_bytes < (1 << 30) + (4 << 20) and outcome.output_truncated
    assert outcome.stdout.endswith("[the grader stopped reading here: more than 1 GiB was printed]")
    stopped = re.search(r"the grader stopped reading after (\d+) MiB", outcome.stderr)
    assert stopped and 1024 <= int(stopped.group(1)) <= 1030, outcome.stderr  # (and what the pipe held)


def test_a_memory_bomb_hits_the_memory_limit(grade_file, sin):
    outcome = grade_file(FIXTURES / "memory_bomb.py", sin)
    assert outcome.status == "memory" and outcome.score == 1
    assert "more memory than the 4 GiB it may use" in findings(outcome)["correctness"].message
    assert any(layer.startswith("memory") for layer in outcome.sandbox_layers)


def test_a_timeout_after_filling_the_memory_is_told_as_memory(grade_file, quick_sin):
    """ux126: a list grown in a loop took 10 s to reach the limit (each page the kernel hands out is slow
    here) and ran out of time: "a loop that never ends", status timeout, no word of memory."""
    from dataclasses import replace

    small = replace(quick_sin, limits=replace(quick_sin.limits, memory_gib=1.0))
    outcome = grade_file(FIXTURES / "fills_memory_then_waits.py", small)
    message = findings(outcome)["correctness"].message
    # (or killed by its cgroup's own limit first, where it has one: a zygote's child in the CI)
    assert outcome.status == "memory" and ("nearly all of the 1 GiB it may use" in message or
                                           "more memory than the 1 GiB it may use" in message), message
    assert "Work on x itself" in message
    plain = grade_file(SUBMISSIONS / "broken_infinite_loop.py", small)  # (a loop of little memory: a timeout)
    assert plain.status == "timeout" and "Look for a loop that never ends" in findings(plain)["correctness"].message


def test_a_child_that_ends_its_main_thread_alone_is_not_waited_for(grade_file, quick_sin):
    """Its main thread a zombie while another sleeps on: the process lives, and the grader waited
    30 s for an exit report (a red team's ran 147 s of a 120 s bound). 5 s for the report, then it
    is told apart from an ended process and killed."""
    started = time.monotonic()
    outcome = grade_file(FIXTURES / "ends_its_main_thread_alone.py", quick_sin)
    assert time.monotonic() - started < 20
    # (Started afresh, the chain's other processes hold the reply pipe too: the call's own 2 s ends it.)
    message = findings(outcome)["correctness"].message
    timed_out = "within 2 s" in message or "within 2.67 s" in message  # (a third more for a case of four calls)
    assert (outcome.status, "closed its channel" in message or timed_out) in (("crash", True), ("timeout", True))


def test_the_next_submission_grades_normally_after_a_crash(grade_file, sin):
    grade_file(FIXTURES / "segfault.py", sin)
    assert grade_file(SUBMISSIONS / "honest_backward.py", sin).score == 10


def test_a_child_that_died_before_its_next_input_was_sent_is_reported_by_how_it_died(grade_file, sin, monkeypatch):
    # Requests are pipelined, so a child that crashes on one input may be gone before the next is
    # sent (on a loaded machine, say). Made certain here: after the first case's reply the child is
    # killed, and the next request is sent only once its end of the pipe is closed.
    from grader.sandbox.session import Session

    reply = Session.reply

    def reply_then_kill(self, timeout, doing, parse):
        result = reply(self, timeout, doing, parse)
        if doing.endswith("calls of your function on one input") and not getattr(self, "_killed", False):
            self._killed = True
            os.kill(self.process.pid, signal.SIGKILL)  # pid 1 of its namespace: only SIGKILL gets in
            watch = select.poll()
            watch.register(self._request, select.POLLOUT)
            deadline = time.monotonic() + 10
            while not any(events & select.POLLERR for _, events in watch.poll(100)):
                assert time.monotonic() < deadline, "the child's end of the request pipe stayed open"
        return result

    monkeypatch.setattr(Session, "reply", reply_then_kill)
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin)
    assert outcome.status == "crash", outcome.grader_error
    message = findings(outcome)["correctness"].message
    assert "killed by signal SIGKILL" in message and "the process ended" not in message
    assert findings(outcome)["correctness"].data["passed_inputs"] >= 1  # the case answered before the kill counts


def test_the_child_runs_under_its_limits_and_dumps_no_core(grade_file, sin):
    # Where the host enables core dumps, a crashing child would first write torch's heap to disk
    # (and could run past its call timeout): the child may dump none.
    outcome = grade_file(FIXTURES / "prints_its_limits.py", sin)
    assert outcome.score == 10
    assert "RLIMIT_CORE 0 0" in outcome.stdout and "RLIMIT_FSIZE 67108864 67108864" in outcome.stdout


def test_the_reference_pass_kept_by_another_thread_meanwhile_shifts_no_reply(grade_file, sin, monkeypatch):
    """A Dask worker grades on several threads of one process: another thread kept the reference
    solution's pass between this one asking for it and reading it, every later reply was read one
    off, and honest students got a grader error or a crash."""
    from grader import probe

    class KeptMeanwhile(dict):
        def __contains__(self, key):
            found = super().__contains__(key)
            if not found:
                self[key] = None  # another thread's, just after this one asked
            return found

    monkeypatch.setattr(probe, "_REFERENCE_PASSES", KeptMeanwhile())
    outcome = grade_file(SUBMISSIONS / "honest_backward.py", sin)
    assert outcome.status == "graded" and outcome.score == sin.max_score, outcome.grader_error


def _notebook(path, *cells: str):
    import json

    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                           "execution_count": None} for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


HONEST_CELL = """def get_derivative(x: Tensor) -> Tensor:
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad"""
UNANNOTATED = HONEST_CELL.replace(": Tensor) -> Tensor", ")")


def test_a_notebooks_cells_below_an_error_run_as_nbgrader_runs_them(grade_file, sin, tmp_path):
    """hn122: an honest function in a cell below a first-try cell's error scored 0/10 ("not defined"),
    where nbgrader's autograder runs every cell; now it loses the loads point alone. A cell's syntax
    error is that cell's, a future import holds in every cell, and an exit still ends the notebook."""
    first_try = "x = torch.linspace(-5, 5, 9)\nplt.plot(x, torch.sin(x)[:3])  # first try"
    cases = {
        "error_above": ("from __future__ import annotations\nimport torch\nimport matplotlib.pyplot as plt",
                        first_try, HONEST_CELL),
        "syntax_above": ("from __future__ import annotations\nimport torch", "print('unclosed'", HONEST_CELL),
        "def_raises": ("import torch", first_try, "@torch.no_gradd\n" + UNANNOTATED),
        "exits_above": ("import torch", "exit()", UNANNOTATED, "import pickle\npickle.dumps(get_derivative)"),
        # (hn123: Jupyter runs cells as __main__, and a def under the guard was "not defined", 0/10)
        "main_guard": ("import torch", 'if __name__ == "__main__":\n' + UNANNOTATED.replace("\n", "\n    ")
                       .replace("def ", "    def ", 1)),
    }
    graded = {name: grade_file(_notebook(tmp_path / f"{name}.ipynb", *cells), sin) for name, cells in cases.items()}
    for name in ("error_above", "syntax_above"):
        loads = graded[name].findings[0]
        assert graded[name].score == 9.0 and not loads.passed, (name, loads.summary)
        assert "The grader ran the notebook's other cells all the same" in loads.summary, loads.summary
    assert "x and y must have same first dimension" in graded["error_above"].findings[0].summary
    assert "syntax error on line 1 of code cell 2" in graded["syntax_above"].findings[0].summary
    # Not defined: the def's own cell's error is told, not the first-try cell's above it.
    assert graded["def_raises"].status == "load_error" and graded["def_raises"].score == 0.0
    assert "no_gradd" in graded["def_raises"].findings[0].summary, graded["def_raises"].findings[0].summary
    # An exit ends its cell alone, as Jupyter's kernel outlives it (rt156: a last cell's `sys.exit(main())`
    # under the main guard scored 0/10), and a notebook's own module is __main__, where pickle looks
    exits = graded["exits_above"]
    assert exits.score == 9.0 and "Your notebook calls exit()" in exits.findings[0].summary, exits.findings[0].summary
    assert graded["main_guard"].score == 10.0, graded["main_guard"].findings[0].summary


def test_a_file_that_reconfigures_its_stdout_grades_alike_spawned_and_forked(grade_file, sin, tmp_path):
    """hn123: sys.stdout.reconfigure(encoding="utf-8"), a Windows console's fix, raised "Illegal seek"
    in a child forked from the zygote (whose stdout had been a seekable file), 0/10, and 10/10 with
    `grader grade`."""
    path = tmp_path / "reconfigures.py"
    path.write_text('import sys\nsys.stdout.reconfigure(encoding="utf-8")\nprint("dérivée ✓")\n' +
                    (SUBMISSIONS / "honest_backward.py").read_text())
    outcome = grade_file(path, sin)
    assert outcome.score == 10.0, [f.summary for f in outcome.findings if not f.passed]
    assert outcome.stdout.startswith("dérivée ✓\n"), outcome.stdout
    # (and its streams are named as Python names them: rt156's read of sys.stdout.mode raised, 0/10)
    path.write_text(f"import sys\nassert (sys.stdout.mode, sys.stdout.name, sys.stdin.mode) == ('w', '<stdout>', 'r')\n"
                    f"{(SUBMISSIONS / 'honest_backward.py').read_text()}")
    assert grade_file(path, sin).score == 10.0


def test_get_ipython_in_a_notebook_is_a_shell_whose_magics_run_as_jupyters(grade_file, sin, tmp_path):
    """hn123: `ip = get_ipython()` and `if get_ipython() is not None:` stopped the cell holding `import
    torch` (0/10), where Jupyter runs them; IPython.get_ipython(), None outside a shell, is told so."""
    shell = grade_file(_notebook(tmp_path / "shell.ipynb",
                                 'ip = get_ipython()\nip.run_line_magic("matplotlib", "inline")\nimport torch',
                                 'if get_ipython() is not None:\n    get_ipython().system("pip install d2l")',
                                 'written = get_ipython().run_cell_magic("writefile", "deriv.py", '
                                 f'{(SUBMISSIONS / "honest_backward.py").read_text()!r})',
                                 "from deriv import get_derivative"), sin)
    assert shell.score == 10.0, [f.summary for f in shell.findings if not f.passed]
    package = grade_file(_notebook(tmp_path / "package.ipynb", "import IPython\nimport torch",
                                   'IPython.get_ipython().run_line_magic("load_ext", "autoreload")', UNANNOTATED), sin)
    loads = package.findings[0]
    assert package.score == 9.0 and "returns None where no IPython shell runs" in loads.cause, loads.cause
    assert loads.summary.startswith("Running your notebook raised AttributeError")


def test_ipythons_lines_in_a_py_file_cost_the_loads_point_alone(grade_file, sin, tmp_path):
    """hn123: a Colab download's `!pip install d2l` and a VS Code `# %%` file's `%matplotlib inline`
    scored 0/10; now they run as a notebook cell runs them, told as before, and a cheat stays a cheat."""
    honest = tmp_path / "colab.py"
    honest.write_text("# %%\n%matplotlib inline\n!pip install d2l -q\n" +
                      (SUBMISSIONS / "honest_backward.py").read_text())
    graded = grade_file(honest, sin)
    loads = graded.findings[0]
    assert graded.score == 9.0 and "syntax error on line 2" in loads.summary, loads.summary
    assert "%matplotlib inline" in loads.example and "That line is IPython's" in loads.cause
    cheat = tmp_path / "cheat.py"
    cheat.write_text("%matplotlib inline\n" + (SUBMISSIONS / "cheat_cos.py").read_text())
    assert grade_file(cheat, sin).score == 0.0


def test_an_exception_that_cannot_be_described_costs_the_loads_point_alone(grade_file, sin, tmp_path):
    """rt157: an exception whose class's __name__ raises, and a SyntaxError of text 123, ended the child
    (status 70, 0/10) where an honest function above them was defined."""
    honest = (SUBMISSIONS / "honest_backward.py").read_text()
    for name, tail in (("metaclass", "class M(type):\n    __name__ = property(lambda cls: 1 / 0)\n"
                                     "class E(Exception, metaclass=M):\n    pass\nraise E()\n"),
                       ("types", "raise SyntaxError('m', (__file__, 'abc', 'def', 123))\n"),
                       ("offset", "raise SyntaxError('m', (__file__, 3, 10 ** 12, 'x'))\n")):
        path = tmp_path / f"{name}.py"
        path.write_text(honest + tail)
        outcome = grade_file(path, sin)
        assert outcome.status == "graded" and outcome.score == 9.0, (name, outcome.findings[0].summary)
