"""Checks and scoring on hand-built observations: no sandbox, every verdict pinned."""

from __future__ import annotations

import numpy as np
import pytest

from grader import checks, feedback, score
from grader.canary import Secret, secret_derivative
from grader.grids import GridCase, round_to
from grader.observations import CaseResult, ErrorInfo, LoadResult, Observations, Returned

SECRET = Secret(b=-0.4, k1=9.0, k2=0.3, k3=41.0)
VALUES = np.linspace(-3, 3, 13)


def _tensor(values: np.ndarray, dtype: str = "float32") -> Returned:
    return Returned("tensor", values=round_to(values, dtype), dtype=dtype, shape=values.shape, device="cpu")


def _observations(plain, canary=None, second=None, layout="plain", **flags) -> Observations:
    case = GridCase(round_to(VALUES, "float32"), "float32", "cpu", layout, "explicit")
    x = case.values
    first = _tensor(plain(x))
    result = CaseResult(
        case=case, first=first, second=_tensor(second(x)) if second else first,
        canary=_tensor(canary(x)) if canary else first,
        input_changed=flags.get("input_changed", False),
        requires_grad_changed=flags.get("requires_grad_changed", False),
        grad_left=flags.get("grad_left", False), trace=flags.get("trace", {}),
    )
    return Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=SECRET)


def secret(x):
    return secret_derivative(x, SECRET, "cos(u)", np)


def _finding(check, obs, sin):
    return check(obs, sin)


def test_honest_values_pass_every_check(sin):
    obs = _observations(np.cos, canary=secret)
    findings, total = score.apply([check(obs, sin) for check in checks.ALL], sin)
    failed = [f.name for f in findings if not f.passed]
    assert failed == ["tracked_inputs"]  # no tracked case was planned in this hand-built set
    assert total == sin.max_score - sin.rubric["tracked_inputs"]


def test_cos_written_out_is_bypass_and_scores_zero_in_total(sin):
    obs = _observations(np.cos, canary=np.cos, trace={"torch.cos": 2})
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["bypassed"]
    assert "torch.cos (×2)" in finding.message
    assert "scores 0 in total" in finding.summary
    _, total = score.apply([check(obs, sin) for check in checks.ALL], sin)
    assert total == 0


def test_backward_with_x_as_gradient_still_counts_as_autograd(sin):
    obs = _observations(lambda x: x * np.cos(x), canary=lambda x: x * secret(x))
    assert checks.check_autograd(obs, sin).passed
    correctness = checks.check_correctness(obs, sin)
    assert not correctness.passed and correctness.data["cause"] == "x_times"


def test_partly_autograd_is_mixed_not_passed(sin):
    half = np.arange(VALUES.size) % 2 == 0
    obs = _observations(np.cos, canary=lambda x: np.where(half, secret(x), np.cos(x)))
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and not finding.data["bypassed"]
    assert "partly" in finding.summary


@pytest.mark.parametrize(
    ("plain", "cause"),
    [(np.sin, "primitive"), (lambda x: 2 * np.cos(x), "scaled"), (lambda x: -np.cos(x), "negated"),
     (lambda x: x, "identity"), (np.zeros_like, "zeros")],
)
def test_wrong_values_get_named(sin, plain, cause):
    finding = checks.check_correctness(_observations(plain), sin)
    assert not finding.passed and finding.data["cause"] == cause
    assert "At x = " in finding.example


def test_accumulating_gradient_is_named(sin):
    finding = checks.check_repeatable(_observations(np.cos, second=lambda x: 2 * np.cos(x)), sin)
    assert not finding.passed and finding.data["cause"] == "accumulation"
    assert "twice the derivative" in finding.cause


def test_changing_the_callers_tensor_fails_input_untouched(sin):
    finding = checks.check_input_untouched(_observations(np.cos, requires_grad_changed=True), sin)
    assert not finding.passed and "requires_grad" in finding.example


def test_nonscalar_backward_error_gets_its_hint():
    error = ErrorInfo("RuntimeError", "grad can be implicitly created only for scalar outputs")
    cause = feedback.explain_error(error)
    assert cause.key == "nonscalar_backward" and "y.sum().backward()" in cause.advice


def test_a_misspelt_attribute_gets_a_suggestion():
    cause = feedback.explain_error(ErrorInfo("AttributeError", "'Tensor' object has no attribute 'gard'"))
    assert "Did you mean .grad?" in cause.text


def test_score_is_zero_total_only_when_the_rubric_says_so(sin):
    from dataclasses import replace

    obs = _observations(np.cos, canary=np.cos)
    lenient = replace(sin, zero_total_unless_autograd=False)
    _, total = score.apply([check(obs, lenient) for check in checks.ALL], lenient)
    assert total == lenient.max_score - lenient.rubric["autograd"] - lenient.rubric["tracked_inputs"]
