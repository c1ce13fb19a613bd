"""The exercise catalogue as data: formulas are checked when loaded, each reference agrees with
finite differences of its function, and the reference under the canary is the formula with the
primitive's derivative swapped (what autograd of the reference solution gives)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from grader import exercise, formula
from grader.canary import Secret
from tests.canaries import InProcessCanary

NAMES = ["sin", "cos_square", "sin_cos_norm", "log_sin"]
SECRET = Secret.draw(random.Random(7))  # a fixed draw: the tests are repeatable


def grid(ex: exercise.Exercise) -> np.ndarray:
    return np.linspace(max(ex.min_abs, 0.3), min(ex.span, 2.5), 7)


def test_the_shipped_exercises_are_the_catalogue():
    """What the refusal of a readable course solution passes over (cli._exposed_solution) is what ships."""
    assert sorted(exercise.SHIPPED) == sorted(NAMES) == sorted(ex.name for ex in exercise.catalogue())
    assert all((exercise.REFERENCE_DIR / f"{name}_solution.py").is_file() for name in exercise.SHIPPED)


def test_a_broken_file_of_a_courses_leaves_the_others_loadable(tmp_path, monkeypatch):
    """rv49: one refused key in a course's file beside the catalogue's turned the other-exercise look off for all."""
    import shutil

    for name in ("sin.toml", "sin_solution.py"):
        shutil.copy(exercise.REFERENCE_DIR / name, tmp_path / name)
    (tmp_path / "hw9.toml").write_text((tmp_path / "sin.toml").read_text().replace("[math]", "[math]\nbound = 1"))
    # (rv50: a value of the wrong kind raised past the catch, AttributeError: every misnamed file, a grader error)
    (tmp_path / "hw8.toml").write_text('tolerance = "tight"\n' + (tmp_path / "sin.toml").read_text().replace(
        "[tolerance]", "[tolerances]"))
    monkeypatch.setattr(exercise, "REFERENCE_DIR", tmp_path)
    assert [ex.name for ex in exercise.catalogue(loadable=True)] == ["sin"]
    with pytest.raises(exercise.ExerciseError, match=r"hw8\.toml: 'str' object has no attribute"):
        exercise.catalogue()


@pytest.mark.parametrize("name", NAMES)
def test_each_reference_is_the_derivative_of_its_function(name):
    ex = exercise.load(name)
    x = grid(ex)
    h = 1e-6
    if ex.elementwise:
        numeric = (ex.function_values(x + h) - ex.function_values(x - h)) / (2 * h)
    else:
        numeric = np.array([(ex.function_values(x + h * e) - ex.function_values(x - h * e)) / (2 * h)
                            for e in np.eye(x.size)])
    np.testing.assert_allclose(ex.reference(x), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solution_under_the_canary_gives_the_formula_with_the_secret(name):
    ex = exercise.load(name)
    namespace: dict = {}
    exec(ex.solution.read_text(), namespace)
    x = torch.tensor(grid(ex), dtype=torch.float64)
    installed = InProcessCanary(torch, SECRET, ex.primitive, ex.derivative)
    try:
        installed.select(True)
        under_canary = namespace[ex.function](x).numpy()
    finally:
        installed.remove()
    np.testing.assert_allclose(under_canary, ex.reference(x.numpy(), SECRET), rtol=1e-10, atol=1e-12)
    assert np.abs(under_canary - ex.reference(x.numpy())).max() > 0.05  # the secret really changes it


def test_a_formula_that_is_not_plain_math_is_refused():
    for text in ("__import__('os')", "x.real", "sin(x, out=x)", "lambda: 1", "x[0]", "'a'"):
        with pytest.raises(formula.FormulaError):
            formula.compile_formula(text, ("x",))
    with pytest.raises(formula.FormulaError, match="unknown name 'y'"):
        formula.compile_formula("sin(y)", ("x",))


def test_telltales_are_what_a_written_out_answer_calls():
    assert exercise.load("sin").telltales == {"cos"}
    assert exercise.load("cos_square").telltales == {"sin"}
    assert exercise.load("log_sin").telltales == {"cos"}
    assert exercise.load("sin_cos_norm").telltales == frozenset()  # honest code calls sin and cos


def test_grids_keep_away_from_a_pole_and_within_the_exercise_span():
    from grader.probe import Plan

    ex = exercise.load("log_sin")
    values = np.concatenate([c.values.ravel() for c in Plan.draw(ex, 3).cases["cpu"]])
    assert np.all(np.abs(values) >= 0.25)
    small = exercise.load("cos_square")
    values = np.concatenate([c.values.ravel() for c in Plan.draw(small, 3).cases["cpu"]])
    assert np.all(np.abs(values) <= 3.0)
    assert {c.dtype for c in Plan.draw(small, 3).cases["cpu"]} == {"float32", "float64"}
