"""Golden tests of the exercise catalogue: every exercise grades its reference solution and samples
(samples/<exercise>/) as expected, cheats included, through the real sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.exercise import load
from grader.grade import grade_file
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SAMPLES = ROOT / "samples"
CASES = [(folder.name, path.name) for folder in sorted(SAMPLES.iterdir()) for path in sorted(folder.glob("*.py"))]


def test_every_catalogued_exercise_has_samples_of_each_kind():
    names = {path.stem for path in (ROOT / "reference").glob("*.toml")} - {"sin"}
    assert names == {folder.name for folder in SAMPLES.iterdir()}
    for folder in SAMPLES.iterdir():
        kinds = {path.name.split("_")[0] for path in folder.glob("*.py")}
        assert kinds == {"honest", "mistake", "cheat"}, folder


@pytest.mark.parametrize("name", sorted({name for name, _ in CASES}))
def test_the_reference_solution_scores_full_marks(name):
    ex = load(name)
    assert grade_file(ex.solution, ex, warm=True).score == ex.max_score


@pytest.mark.parametrize(("name", "sample"), CASES)
def test_sample(name, sample):
    ex = load(name)
    outcome = grade_file(SAMPLES / name / sample, ex, warm=True)
    findings = {f.name: f for f in outcome.findings}
    assert outcome.status == "graded"
    if sample.startswith("honest"):
        assert outcome.score == ex.max_score, [f.message for f in outcome.findings if not f.passed]
        assert outcome.backward is None or not outcome.backward.by_hand, outcome.backward.divergence
    elif (name, sample) == ("sin_cos_norm", "mistake_elementwise.py"):
        # Autograd of another function (the sum dropped): its sin runs at other numbers than the
        # reference's, where the secret never is, so only the loads point, in words of a different
        # function (not of a formula written out).
        assert not findings["correctness"].passed and findings["autograd"].data["unproven"]
        assert "ran sin, but never at the numbers" in findings["autograd"].summary
        assert "a different function" in findings["autograd"].cause
        assert outcome.score == ex.rubric["loads"]
    elif (name, sample) == ("log_sin", "mistake_log_of_a_negative.py"):
        # NaN below 0, autograd's numbers above: the NaN is charged by correctness at the example's own
        # x, and the numbers are judged (each input holding both was "a mixture": 1/10, now about 7).
        example_x = re.search(r"At x = (\S+), in", findings["correctness"].message)
        assert example_x and f"returned nan at x = {float(example_x.group(1)):.6g}" in findings["correctness"].message
        assert findings["autograd"].data["verdicts"].get("partly", 0) == 0
        assert not findings["autograd"].data["unproven"] and 6 < outcome.score < 9
    elif sample.startswith("mistake"):
        # Through autograd, but the wrong derivative (scaled, or a term dropped): correctness names
        # it, autograd passes.
        assert findings["autograd"].passed and not findings["correctness"].passed
        assert 0 < outcome.score < ex.max_score
    else:  # a cheat: the loads point and nothing else
        assert outcome.score == ex.rubric["loads"] and findings["autograd"].data["bypassed"]
        assert ex.formula in findings["autograd"].message


def test_grader_exercises_lists_the_catalogue_and_check_takes_exercise():
    listed = subprocess.run([sys.executable, "-m", "grader", "exercises"], capture_output=True, text=True, cwd=ROOT)
    assert listed.returncode == 0
    for name in ("sin", "cos_square", "sin_cos_norm", "log_sin"):
        assert name in listed.stdout
    assert "get_gradient" in listed.stdout  # the function students write for sin_cos_norm
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(SAMPLES / "cos_square" / "honest_backward.py"),
                           "--exercise", "cos_square", "--out", "/tmp/grader-catalogue-check", "--fail-under", "10"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cos(x²)" in done.stdout
    assert Path("/tmp/grader-catalogue-check/feedback.png").is_file()
