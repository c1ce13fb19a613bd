from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from grader import exercise, grade, sandbox
from grader.exercise import Exercise
from grader.outcome import Outcome

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sin() -> Exercise:
    return exercise.load("sin")


@pytest.fixture(scope="session")
def quick_sin(sin: Exercise) -> Exercise:
    """The sin exercise with short time limits, for tests of submissions that hang."""
    return replace(sin, limits=replace(sin.limits, call_timeout_s=2.0, load_timeout_s=20.0, total_timeout_s=30.0))


@pytest.fixture(params=["fresh", "forked"])
def grade_file(request: pytest.FixtureRequest) -> Callable[..., Outcome]:
    """grade_file with each way of starting the sandbox child: afresh (as `grader check` does) and
    forked from this process's warm zygote (as `grader batch` does). Both must hold alike."""
    if request.param == "fresh":
        return grade.grade_file
    assert sandbox.prewarm(), "the zygote should start on this machine"
    return functools.partial(grade.grade_file, warm=True)
