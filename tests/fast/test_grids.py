"""Grids are the same for every student, derandomized from a seed, and cover every family."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from grader import grids


def _strategy():
    return grids.grid_cases(grids.CPU_DTYPES, "cpu", 1000.0)


def _key(cases):
    return [(c.dtype, c.layout, c.family, c.shape, c.values.tobytes()) for c in cases]


def test_same_seed_same_grids_other_seed_other_grids():
    first = grids.draw(_strategy(), 30, 1234)
    assert _key(first) == _key(grids.draw(_strategy(), 30, 1234))
    assert _key(first) != _key(grids.draw(_strategy(), 30, 1235))


def test_seed_comes_from_exercise_and_course_secret_only():
    assert grids.grid_seed("sin") == grids.grid_seed("sin")
    assert grids.grid_seed("sin") != grids.grid_seed("sin", "course secret")
    assert grids.grid_seed("sin") != grids.grid_seed("cos_squared")


def test_draws_cover_shapes_dtypes_layouts_and_families():
    cases = grids.draw(_strategy(), 48, grids.grid_seed("sin"))
    assert {c.dtype for c in cases} == set(grids.CPU_DTYPES)
    assert {c.layout for c in cases} == set(grids.PLAIN_LAYOUTS + grids.TRACKED_LAYOUTS)
    assert {c.family for c in cases} == set(grids.FAMILIES)
    assert {len(c.shape) for c in cases} == {0, 1, 2, 3}
    assert any(c.values.size == 0 for c in cases)
    assert max(np.abs(c.values).max(initial=0) for c in cases) > 100


def test_explicit_cases_cover_every_dtype_and_layout():
    cases = grids.explicit_cases(grids.ACCELERATOR_DTYPES, "cuda")
    pairs = {(c.dtype, c.layout) for c in cases}
    assert pairs == {(d, lay) for d in grids.ACCELERATOR_DTYPES for lay in grids.PLAIN_LAYOUTS + grids.TRACKED_LAYOUTS}


def test_values_are_exactly_representable_in_their_dtype():
    raw = np.random.default_rng(0).normal(scale=50, size=1000)
    for dtype in grids.ACCELERATOR_DTYPES:
        rounded = grids.round_to(raw, dtype)
        through_torch = torch.tensor(raw).to(getattr(torch, dtype)).to(torch.float64).numpy()
        np.testing.assert_array_equal(rounded, through_torch)


def test_drawing_writes_nothing_into_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grids.draw(_strategy(), 5, 7)
    assert os.listdir(tmp_path) == []


def test_shrink_finds_the_smallest_failing_input():
    # Fails whenever some element exceeds 1: the minimal example is a single value just above 1.
    smallest = grids.shrink(_strategy(), lambda c: bool((np.abs(c.values) > 1).any()), 99, 48)
    assert smallest is not None
    assert smallest.values.size == 1
    assert abs(float(smallest.values.ravel()[0])) < 3


def test_shrink_returns_none_when_nothing_fails():
    assert grids.shrink(_strategy(), lambda c: False, 99, 20) is None


def test_shrink_stops_after_its_call_budget():
    calls = []

    def fails(case):
        calls.append(case)
        return bool((np.abs(case.values) > 1).any())

    grids.shrink(_strategy(), fails, 99, 48, max_calls=5)
    assert len(calls) == 5


def test_a_search_answered_as_before_is_replayed_with_the_same_calls_and_result():
    def run(threshold):
        asked = []

        def fails(case):
            asked.append(case.values.tobytes())
            return bool((np.abs(case.values) > threshold).any())

        return grids.shrink(_strategy(), fails, 4321, 48), asked

    first, first_asked = run(1.0)
    again, again_asked = run(1.0)  # replayed from the record of the first search
    assert again_asked == first_asked
    assert again is not None and first is not None and again.values.tobytes() == first.values.tobytes()
    other, _ = run(5.0)  # other answers leave the record: hypothesis searches again
    fresh = grids._SEARCHES.pop((_strategy(), 4321, 48, 400))
    assert fresh.case is not None
    redone, _ = run(5.0)
    assert other is not None and redone is not None and redone.values.tobytes() == other.values.tobytes()


def test_the_grids_do_not_depend_on_what_the_process_has_imported(tmp_path):
    """Hypothesis mixes in numbers from the source of local modules already imported: `grader grade`
    (which imports more of the grader) drew other grids than a bare process, a notebook or a test,
    and any module of the user's with numbers in it would have moved them too."""
    import subprocess
    import sys

    (tmp_path / "numbers_of_mine.py").write_text("CONSTANTS = (0.123456, 7.5, -2.25, 1e-3, 3.14159)\n")
    root = str(Path(__file__).resolve().parents[2])
    script = f"""import hashlib, sys
sys.path[:0] = [{root!r}, {str(tmp_path)!r}]
for name in sys.argv[1:]:
    __import__(name)
from grader import exercise, grids, probe
plan = probe.Plan.draw(exercise.load("sin"), grids.grid_seed("sin"))
digest = hashlib.sha256()
for case in plan.cases["cpu"]:
    digest.update(repr((case.dtype, case.layout, case.shape)).encode() + case.values.tobytes())
print(digest.hexdigest())
"""
    imports = ([], ["grader.grade", "grader.batch"], ["numbers_of_mine"])
    digests = {subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True,
                              check=True).stdout for modules in imports}
    assert len(digests) == 1, digests


def test_ctrl_c_while_hypothesis_draws_is_raised_once_the_draw_is_done():
    """Raised inside hypothesis's engine, a KeyboardInterrupt broke it: a batch stopped as it drew its
    grids ended as the grader's own failure (an AssertionError), or went on where hypothesis's gc
    callback swallowed it."""
    import signal

    import pytest
    from hypothesis import strategies as st

    def interrupted(value: int) -> int:
        if value > 0:
            os.kill(os.getpid(), signal.SIGINT)
        return value

    with pytest.raises(KeyboardInterrupt):
        grids.draw(st.integers(0, 10**6).map(interrupted), 40, 1)  # type: ignore[arg-type]
    assert len(grids.draw(st.integers(0, 10**6), 40, 1)) == 40  # type: ignore[arg-type]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_a_search_ends_it_at_the_next_case_and_is_raised():
    """A search runs the student's calls (seconds each at worst): Ctrl-C inside hypothesis's engine was
    taken for a failure of the search's and swallowed, and the check went on."""
    import signal

    import pytest

    calls = []

    def fails(case):
        calls.append(case)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return bool((np.abs(case.values) > 1).any())

    with pytest.raises(KeyboardInterrupt):
        grids.shrink(_strategy(), fails, 7, 48)
    assert len(calls) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_raised_in_a_searchs_call_ends_the_search_and_is_raised():
    """A batch worker's SIGTERM raises SystemExit where the student's call is waited on: hypothesis took
    it for a failure of the search's, swallowed it, and the worker graded on past stop_pool's grace."""
    import pytest

    calls = []

    def stopped(case):
        calls.append(case)
        raise SystemExit(143)

    with pytest.raises(SystemExit):
        grids.shrink(_strategy(), stopped, 11, 48)
    assert len(calls) == 1


def test_a_course_secret_with_a_line_end_draws_the_grids_it_draws_without(monkeypatch):
    """ux129: a secret read from a file, with its newline, drew other grids in `grade` and `batch` than
    on Gradescope, whose run_autograder reads it with $(cat), which drops the newline (6.31 there,
    5.6 here, for one file). Every command takes it without the spaces and line ends round it."""
    from grader import cli
    from grader.grids import grid_seed

    assert grid_seed("sin", "s3cret\n") == grid_seed("sin", " s3cret\r\n") == grid_seed("sin", "s3cret")
    assert grid_seed("sin", "s3cret") != grid_seed("sin", "")
    monkeypatch.setenv("GRADER_COURSE_SECRET", "s3cret\n")
    assert cli._course_secret() == "s3cret"
    monkeypatch.setenv("GRADER_COURSE_SECRET", "\n")
    assert cli._course_secret() == ""  # (blank: the public grids, and said so)


def test_every_draw_holds_as_many_inputs_of_each_dtype_and_layout(sin):
    """ux134: a float32 answer scored 7.04 in `check`, 5.87 under a course's secret: the draw chose how many
    float64 inputs there were. The drawn shapes and values are dealt out to each dtype and layout in turn."""
    from collections import Counter

    from grader.probe import Plan

    wide = []
    for seed in (1, 2, 3):
        cases = [c for c in Plan.draw(sin, seed).ensure(sin, ["cpu"]).cases["cpu"] if c.family != "explicit"]
        counts = Counter((c.dtype, c.layout) for c in cases)
        assert len(counts) == 8 and max(counts.values()) - min(counts.values()) <= 1, counts
        assert all(grids.round_to(c.values, c.dtype).tolist() == c.values.tolist() for c in cases)
        # (rv44: rounded first for the dtype each was drawn for, 32 of 57 float64 inputs of seeds 1-3 were float32's)
        wide += [c.values for c in cases if c.dtype == "float64" and c.values.size]
    narrow = [v for v in wide if grids.round_to(v, "float32").tolist() == v.tolist()]  # (hypothesis's 0.5, 1.0...)
    assert 3 * len(narrow) < len(wide), (len(narrow), len(wide))
