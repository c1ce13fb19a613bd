from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from grader import exercise
from grader.exercise import Exercise

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
