"""Checks and scoring on hand-built observations: no sandbox, every verdict pinned."""

from __future__ import annotations

import dataclasses
import random
import re
import sys

import numpy as np
import pytest

from grader import checks, exercise, feedback, formula, score, verdict
from grader.canary import Secret, secret_derivative
from grader.exercise import Tolerance
from grader.grids import GridCase, round_to
from grader.observations import CaseResult, ErrorInfo, Frame, LoadResult, Observations, Output, Returned
from grader.outcome import HELD_BACK, Finding

SECRET = Secret.draw(random.Random(7))  # a fixed draw: the tests are repeatable
VALUES = np.linspace(-3, 3, 13)


def _tensor(values: np.ndarray, dtype: str = "float32") -> Returned:
    return Returned("tensor", values=round_to(values, dtype), dtype=dtype, shape=values.shape, device="cpu")


def _raised(message: str = "AssertionError") -> Returned:
    return Returned("error", error=ErrorInfo("AssertionError", message))


def _observations(plain, canary=None, second=None, layout="plain", pair_secret=False, hidden=None,
                  **flags) -> Observations:
    """One case: `plain` answers with the true derivative, `canary` (or the Returned `hidden`) under
    the secret; `pair_secret` puts the secret on the repeated pair instead of the fresh call."""
    case = GridCase(round_to(VALUES, "float32"), "float32", "cpu", layout, "explicit")
    x = case.values
    plain_r = _tensor(plain(x))
    secret_r = hidden or (_tensor(canary(x)) if canary else plain_r)
    pair, single = (secret_r, plain_r) if pair_secret else (plain_r, secret_r)
    result = CaseResult(
        case=case, calls=(pair, _tensor(second(x)) if second else pair, single),
        secret=(pair_secret, pair_secret, not pair_secret),
        input_changed=flags.get("input_changed", False),
        requires_grad_changed=flags.get("requires_grad_changed", False),
        grad_left=flags.get("grad_left", False), primitive_calls=flags.get("primitive_calls", 3),
    )
    return Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=SECRET)


def secret(x):
    return secret_derivative(x, SECRET, "cos(u)", np)


def _total(obs, ex):
    return score.apply([check(obs, ex) for check in checks.ALL], ex)[1]


@pytest.mark.parametrize("pair_secret", [False, True])
def test_honest_values_pass_every_check(sin, pair_secret):
    obs = _observations(np.cos, canary=secret, pair_secret=pair_secret)
    findings, total = score.apply([check(obs, sin) for check in checks.ALL], sin)
    failed = [f.name for f in findings if not f.passed]
    assert failed == ["tracked_inputs"]  # no tracked case was planned in this hand-built set
    assert total == sin.max_score - sin.rubric["tracked_inputs"]
    assert findings[2].data["verdicts"] == {"proven": 1}


def test_cos_written_out_is_bypass_and_scores_only_loads(sin):
    obs = _observations(np.cos, canary=np.cos, primitive_calls=0)
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["bypassed"] and finding.data["unproven"]
    assert "torch.sin never ran" in finding.message
    assert "did not change when autograd's derivative of sin did" in finding.summary
    assert _total(obs, sin) == sin.rubric["loads"]


def test_checks_that_pass_but_score_nothing_say_their_points_are_held_back(sin):
    """A ✓ beside 0 / 4 read as a pass worth nothing: the checks the rubric's policy zeroes say why."""
    findings, _ = score.apply([check(_observations(np.cos, canary=np.cos, primitive_calls=0), sin)
                               for check in checks.ALL], sin)
    held = {f.name for f in findings if f.held_back}
    assert held == {f.name for f in findings if f.passed and f.name != "loads"} and "correctness" in held
    assert all(f.score == 0 and HELD_BACK in f.message for f in findings if f.held_back)
    honest, _ = score.apply([check(_observations(np.cos, canary=secret), sin) for check in checks.ALL], sin)
    assert not any(f.held_back or HELD_BACK in f.message for f in honest)


@pytest.mark.parametrize("answer", ["right", "scaled"])
def test_following_the_secret_where_sin_never_ran_is_forged(sin, answer):
    """The secret reaches an honest answer only through a call of sin: following it with none is
    the secret read some other way, however right the values (or exactly wrong, as 2·autograd's)."""
    k = 1.0 if answer == "right" else 2.0
    obs = _observations(lambda x: k * np.cos(x), canary=lambda x: k * secret(x), primitive_calls=0)
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["verdicts"] == {"forged": 1} and finding.data["unproven"]
    assert "yet torch.sin never ran during those calls" in finding.summary
    assert _total(obs, sin) == sin.rubric["loads"]


@pytest.mark.parametrize("unasked", [0, 2, None])
def test_following_the_secret_is_shown_only_where_every_call_asked_about_x(sin, unasked):
    """A red team told the secret call apart by asking the grader's operator about 0.5, returned
    cos(x) on plain calls and the operator's answer at x on secret ones: both matched, 10/10. A call
    that never asked the derivative at x cannot have gone through autograd there; the repeat on the
    same tensor (call 1) tests only repeatability."""
    obs = _observations(np.cos, canary=secret)
    asked = tuple(i != unasked for i in range(3))
    obs = dataclasses.replace(obs, cases=tuple(dataclasses.replace(r, asked=asked) for r in obs.cases))
    finding = checks.check_autograd(obs, sin)
    if unasked is None:
        assert finding.passed and finding.data["verdicts"] == {"proven": 1}
        return
    assert not finding.passed and finding.data["verdicts"] == {"unasked": 1}
    assert "never asked for the derivative of sin at the numbers of its input" in finding.summary
    assert _total(obs, sin) == sin.rubric["loads"]
    repeat = dataclasses.replace(obs, cases=tuple(dataclasses.replace(r, asked=(True, False, True))
                                                  for r in obs.cases))
    assert checks.check_autograd(repeat, sin).passed


def test_an_answer_remembered_from_a_secret_call_is_named(sin):
    """An honest-file hunter's cache keyed by the input's bytes: the secret call's answer, kept and
    returned again on a plain call, showed a number the student could never reproduce and the
    advice to compare with torch.cos. The plain answers are autograd's under the secret."""
    obs = _observations(secret, canary=secret)
    finding = checks.check_correctness(obs, sin)
    assert not finding.passed and "remembers answers between calls" in finding.message
    assert "afresh on every call" in finding.message
    wrong = checks.check_correctness(_observations(lambda x: 0.8 * np.cos(x), canary=secret), sin)
    assert "remembers" not in wrong.message and "0.8 times" in wrong.message


def test_a_cache_per_number_is_named_where_it_mixes_remembered_answers_with_right_ones(sin):
    """A hunter's lru_cache per float: numbers first met on a call under the secret come back with
    the secret's answer on every later call, numbers first met on a plain call right. Correctness
    was told its values differ from cos(x) and to compare with torch.cos; the autograd check showed
    an input whose cached answer was the true one ("did not change") and no cache."""
    kept = np.arange(VALUES.size) % 3 == 0
    mixed = lambda x: np.where(kept, secret(x), np.cos(x))  # noqa: E731 - the same answers on both calls
    finding = checks.check_correctness(_observations(mixed, canary=mixed), sin)
    assert not finding.passed and finding.data["cause"] == "remembered"
    filled_plain = _observations(np.cos, canary=np.cos)
    both = dataclasses.replace(filled_plain, cases=filled_plain.cases + _observations(secret, canary=secret).cases)
    autograd = checks.check_autograd(both, sin)
    assert not autograd.passed and "answers remembered between calls" in autograd.cause
    assert "did not change" not in autograd.summary
    # (an answer that is neither the secret's nor the truth is no cache)
    assert checks.check_correctness(_observations(lambda x: np.where(kept, 0.8 * np.cos(x), np.cos(x))), sin) \
        .data["cause"] != "remembered"


@pytest.mark.parametrize("extreme", [
    lambda x: np.where(np.cos(x) < 0, -1.0, 1.0) * 1e308,  # a red team's: k = dot(got, truth)/… overflowed
    lambda x: np.where(np.arange(x.size) < 2, np.sign(np.cos(x)) * 1.7e308, np.cos(x)),
    lambda x: np.full_like(x, 5e-324), lambda x: np.cos(x) * 3.4e38, lambda x: -np.cos(x) * 1e300])
def test_the_checks_judge_answers_near_the_ends_of_float64(sin, extreme):
    """Finite answers near float64's largest overflowed feedback's scale (k infinite, round(inf)) and
    failed the grader itself: a cos(x) cheat answering two elements 1.7e308 went unjudged."""
    obs = _observations(np.cos)
    case = dataclasses.replace(obs.planned[0], values=VALUES, dtype="float64")
    answer = _tensor(extreme(VALUES), "float64")
    obs = dataclasses.replace(obs, planned=(case,), cases=(dataclasses.replace(obs.cases[0], case=case,
                                                                                calls=(answer,) * 3),))
    with np.errstate(all="ignore"):
        findings, total = score.apply([check(obs, sin) for check in checks.ALL], sin)
    assert total == sin.rubric["loads"] and not findings[1].passed and findings[1].summary


def test_backward_with_x_as_gradient_still_counts_as_autograd(sin):
    obs = _observations(lambda x: x * np.cos(x), canary=lambda x: x * secret(x))
    finding = checks.check_autograd(obs, sin)
    assert finding.passed and finding.data["verdicts"] == {"follows": 1}
    correctness = checks.check_correctness(obs, sin)
    assert not correctness.passed and correctness.data["cause"] == "x_times"


def test_partly_autograd_earns_nothing(sin):
    half = np.arange(VALUES.size) % 2 == 0
    obs = _observations(np.cos, canary=lambda x: np.where(half, secret(x), np.cos(x)))
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["verdicts"] == {"partly": 1}
    assert "mixes autograd's gradient" in finding.cause
    assert _total(obs, sin) == sin.rubric["loads"]


@pytest.mark.parametrize("mix", [lambda x: 0.99 * np.cos(x) + 0.01 * secret(x), lambda x: np.cos(x) + 0.5,
                                 lambda x: 1.001 * secret(x)])
def test_a_right_plain_answer_must_follow_exactly(sin, mix):
    """Looser rules (moved, scaled, shifted) never earn credit for a right answer."""
    obs = _observations(np.cos, canary=mix)
    assert not checks.check_autograd(obs, sin).passed
    assert _total(obs, sin) == sin.rubric["loads"]


def test_raising_only_under_the_secret_is_not_proven_and_says_why(sin):
    obs = _observations(np.cos, hidden=_raised("Tensor-likes are not close!"))
    # (VALUES reach where the secret leaves [-1, 1]: without bounds, the words of a formula check)
    sin = dataclasses.replace(sin, bounds=None)
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["verdicts"] == {"raised": 1}
    assert "raised only when the derivative of sin was swapped" in finding.summary
    assert "without checking it" in finding.advice
    assert _total(obs, sin) == sin.rubric["loads"]


def test_failures_of_code_that_reads_the_graph_are_told_of_the_graph(sin):
    """rt141: hooks on y.grad_fn (or a walk of next_functions) work at home and get None, zeros or
    an error from the canary's graph here; they were told of a missing return or a zeroed gradient.
    Only code that reads the graph, and only those failures: a slip keeps its own words."""
    from grader import submission

    assert submission.reads_graph(b"n = y.grad_fn.next_functions[0][0]")
    assert submission.reads_graph(b"s = y.grad_fn._saved_self")
    assert submission.reads_graph(b"y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: box.update(g=1))")
    assert submission.reads_graph(b"def keep(gi, go):\n    pass\nnode = y.grad_fn\nnode.register_hook(keep)")
    assert submission.reads_graph(b"acc.register_prehook(f)")
    # (a print of y.grad_fn, or a tensor's hook of one argument, is no work with the graph's nodes: rt143)
    assert not submission.reads_graph(b"# y.grad_fn\ns = 'grad_fn'\nprint(y.grad_fn)\ny.sum().backward()")
    assert not submission.reads_graph(b"x.register_hook(lambda g: g * 2)")
    # (a node's name compared or read: hn124's self-checks raised here, told "run it yourself")
    assert submission.reads_graph(b'if "Sin" not in str(y.grad_fn):\n    raise RuntimeError("no sin")')
    assert submission.reads_graph(b'assert y.grad_fn.name() == "SinBackward0"')
    assert submission.reads_graph(b"kind = type(y.grad_fn).__name__")
    assert not submission.reads_graph(b"if y.grad_fn is None:\n    x.requires_grad_()\nprint(f'{y.grad_fn}')")
    zeros = dataclasses.replace(_observations(np.zeros_like, canary=np.zeros_like), source_reads_graph=True)
    assert checks.check_correctness(zeros, sin).data["cause"] == "graph_inspection"
    none = _observations(np.cos, canary=secret)
    none = dataclasses.replace(none, source_reads_graph=True, cases=(dataclasses.replace(
        none.cases[0], calls=(Returned("none"),) * 3),))
    assert checks.check_correctness(none, sin).data["cause"] == "graph_inspection"
    assert checks.check_correctness(dataclasses.replace(zeros, source_reads_graph=False), sin).data["cause"] != \
        "graph_inspection"
    doubled = dataclasses.replace(_observations(lambda x: 2 * np.cos(x), canary=lambda x: 2 * secret(x)),
                                  source_reads_graph=True)
    assert checks.check_correctness(doubled, sin).data["cause"] == "scaled"


def test_a_load_error_in_a_function_called_at_the_top_names_the_call_and_the_mistake(sin):
    """ux113: a test call at the bottom of the file ran get_derivative, whose y.backward() raised on a
    vector: told only of line 5 and of code at the top level, not of the call nor the known mistake.
    A missing module named no line, and Colab's google.colab was told of course packages."""
    frames = (Frame(8, "print(get_derivative(torch.arange(3.)))", "<module>"), Frame(5, "y.backward()",
                                                                                     "get_derivative"))
    error = ErrorInfo("RuntimeError", "grad can be implicitly created only for scalar outputs", frames)
    finding = checks.check_loads(Observations(load=LoadResult(False, error=error)), sin)
    assert "at line 5 (`y.backward()`), in get_derivative, called at line 8" in finding.summary
    assert "y.sum().backward()" in finding.advice and "Your own call of get_derivative" in finding.cause
    colab = ErrorInfo("ModuleNotFoundError", "No module named 'google'", (Frame(3, "from google.colab import drive",
                                                                                "<module>"),))
    finding = checks.check_loads(Observations(load=LoadResult(False, error=colab)), sin)
    assert "at line 3 (`from google.colab import drive`)" in finding.summary and "only in Colab" in finding.cause
    # (rt148: `%%writefile grader.py` then `from grader import get_derivative` found this tool's package)
    ours = ErrorInfo("ImportError", "cannot import name 'get_derivative' from 'grader' (/opt/grader/__init__.py)",
                     (Frame(1, "from grader import get_derivative", "<module>"),))
    finding = checks.check_loads(Observations(load=LoadResult(False, error=ours)), sin)
    assert "the name of this grading tool" in finding.cause and "another name" in finding.advice
    # (hn136: Colab's `torch.cuda.get_device_name(0)` at the top was told of code at the top level alone)
    gpu = ErrorInfo("AssertionError", "Torch not compiled with CUDA enabled",
                    (Frame(2, 'print("GPU:", torch.cuda.get_device_name(0))', "<module>"),))
    finding = checks.check_loads(Observations(load=LoadResult(False, error=gpu)), sin)
    assert "asks for a GPU" in finding.cause and "torch.cuda.is_available()" in finding.advice


def test_minus_sin_is_named_as_the_second_derivative_too(sin):
    """ux113: autograd applied twice (create_graph=True, then a second grad) returned -sin(x) and was
    told only that it differentiated cos(x)."""
    finding = checks.check_correctness(_observations(lambda x: -np.sin(x), canary=lambda x: -np.sin(x)), sin)
    assert finding.data["cause"] == "second" and "second derivative of sin(x)" in finding.cause
    assert "once" in finding.advice


@pytest.mark.parametrize(("error", "key"), [
    (ErrorInfo("RuntimeError", "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                               "with 1 dims. Maybe you wanted to use the vjp or jacrev APIs instead?"),
     "func_grad_nonscalar"),
    (ErrorInfo("ValueError", "vmap(sin, in_dims=0, ...)(<inputs>): Got in_dim=0 for some input, but that input is "
                             "a Tensor of dimensionality 0 so expected in_dim to satisfy -0 <= in_dim < 0."),
     "vmap_scalar"),
    (ErrorInfo("TypeError", "expected TensorOptions(dtype=float, device=cpu, layout=Strided) (got "
                            "TensorOptions(dtype=double, device=cpu, layout=Strided))"), "float_tensor"),
])
def test_torch_funcs_own_mistakes_are_named(sin, error, key):
    """ux113: torch.func.grad of a vector, vmap(grad(torch.sin)) of a 0-d x and torch.FloatTensor of a
    float64 x were told only to run the function and read the traceback. hn153: each exercise's own function is
    in the words, never torch.sin of another's; where the function is one number of the whole x (sin_cos_norm),
    nothing is mapped over or summed element by element."""
    assert feedback.explain_error(error, sin).key == key
    chain = feedback.explain_error(error, exercise.load("cos_square"))
    assert chain.key == key and "torch.sin" not in chain.text + chain.advice, chain
    if key != "float_tensor":
        assert "torch.cos(x**2)" in chain.advice, chain
        # (hn154: `lambda x: torch.sin(x)` and `(torch.sin(x)).sum()` for sin, where torch.sin says it)
        assert "torch.func.grad(lambda x: torch.sin(x).sum())(x)" in feedback.explain_error(error, sin).advice
        whole = feedback.explain_error(error, exercise.load("sin_cos_norm"))
        assert "torch.func.grad(lambda x: torch.sin(torch.cos(torch.sum(x**2) + 1)))(x)" in whole.advice, whole
        assert "vmap(" not in whole.advice and ".sum())(x)" not in whole.advice, whole


def test_numpys_function_on_a_tracked_tensor_is_told_to_use_torchs():
    """hn149: np.sin(x) on the leaf was told to call .detach().numpy(), after which autograd follows nothing."""
    message = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    cause = feedback.explain_error(ErrorInfo("RuntimeError", message, (Frame(6, "y = np.sin(x)", "get_derivative"),)),
                                   exercise.load("sin"))
    assert cause.key == "numpy_function" and "np.sin() is numpy's" in cause.text and "(torch.sin, " in cause.advice
    norm = feedback.explain_error(ErrorInfo("RuntimeError", message, (Frame(5, "n = np.linalg.norm(x) ** 2", "f"),)),
                                  exercise.load("sin_cos_norm"))  # (hn153: told to call .detach().numpy())
    assert norm.key == "numpy_function" and "(torch.linalg.norm, " in norm.advice, norm
    copied = feedback.explain_error(ErrorInfo("RuntimeError", message, (Frame(2, "a = np.array(x)", "f"),)),
                                    exercise.load("sin"))
    assert copied.key == "numpy_requires_grad" and "x.detach().clone()" in copied.advice
    # rv46: a line that asks for the numbers itself needs .detach() alone, not torch.round
    printed = feedback.explain_error(ErrorInfo("RuntimeError", message, (Frame(4, "print(np.round(x.numpy(), 3))",
                                                                               "f"),)), exercise.load("sin"))
    assert printed.key == "numpy_requires_grad", printed


def test_a_vector_functions_nonscalar_backward_is_told_to_sum_inside():
    """ux114: sin_cos_norm's y.backward() on an elementwise y was told to call y.sum().backward(),
    which gives the elementwise slip (3.74 to 1.0)."""
    norm = exercise.load("sin_cos_norm")
    error = ErrorInfo("RuntimeError", "grad can be implicitly created only for scalar outputs")
    cause = feedback.explain_error(error, norm)
    assert cause.key == "nonscalar_backward" and "y.sum()" not in cause.advice
    assert "torch.sin(torch.cos(torch.sum(x**2) + 1))" in cause.advice
    assert "y.sum().backward()" in feedback.explain_error(error, exercise.load("sin")).advice


def test_the_words_of_a_pass_say_what_the_inputs_were(sin):
    """rv01: "0-d to 3-d, empty and non-contiguous tensors" was said of a draw with no empty input."""
    obs = _observations(np.cos, canary=secret)
    assert "(1-d tensors, float32)" in checks.check_correctness(obs, sin).summary
    empty = GridCase(np.zeros((2, 0, 3)), "float64", "cpu", "strided", "explicit")
    scalar = GridCase(np.array(0.5), "float32", "cpu", "plain", "explicit")
    assert checks._tried_words([*obs.planned, empty, scalar]) == \
        "0-d to 3-d, empty and non-contiguous tensors, float32/float64"


def test_answers_clipped_to_the_bounds_are_silent_only_where_sin_ran_and_every_number_was_asked(sin):
    """rt135, rt136: a formula made its inputs silent by clipping its answers to cos's range where
    the secret left it; such an input is silent (an honest clamp) only where sin ran and every call
    asked its numbers, and judged without the bounds otherwise (rv01: that rejudging could be removed
    with every test passing)."""
    xs = np.linspace(-3, 3, 6001)
    x = round_to(xs[np.abs(secret(xs)) > 1.05][::40], "float64")  # where the secret leaves [-1, 1]
    case = GridCase(x, "float64", "cpu", "plain", "explicit")
    plain, clipped = (Returned("tensor", values=v, dtype="float64", shape=v.shape, device="cpu")
                      for v in (np.cos(x), np.clip(secret(x), -1, 1)))
    clamp = CaseResult(case=case, calls=(plain, plain, clipped), secret=(False, False, True), input_changed=False,
                       requires_grad_changed=False, grad_left=False, primitive_calls=3, asked=(True, True, True))
    assert verdict.judge(clamp, sin, SECRET) == verdict.Judged(verdict.NO_DATA, bounded=True)
    for formula_like in (dataclasses.replace(clamp, primitive_calls=0),
                         dataclasses.replace(clamp, asked=(True, True, False))):
        judged = verdict.judge(formula_like, sin, SECRET)
        assert judged.verdict not in (verdict.NO_DATA, *verdict.SHOWN) and not judged.bounded, judged


def test_a_raise_under_the_secret_past_the_bounds_stays_raised_and_names_the_range(sin):
    """rt133's honest assert that |grad| <= 1 raised on the secret call wherever the secret moved
    autograd's cos beyond [-1, 1]. Made silent there, it let rt135 and then rt136 write cos(x) out and
    raise their way to 10/10 (a forward sin(x) asks about every number). It stays raised, however
    every number was asked; its words name the range where the secret left it."""
    x = round_to(np.array([0.02, 1.3, -2.0, 3.1, 1.5]), "float32")
    beyond = (secret(x) > 1) | (secret(x) < -1)
    assert beyond.any() and not beyond.all()
    for values, named in ((x, True), (x[~beyond], False)):
        case = GridCase(values, "float32", "cpu", "plain", "explicit")
        right = _tensor(np.cos(values))
        result = CaseResult(case, (right, right, _raised("left [-1, 1]")), (False, False, True), False, False, False,
                            3, asked=(True, True, True))
        judged = verdict.judge(result, sin, SECRET)
        assert judged.verdict == verdict.RAISED and judged.beyond_bounds == named, values
        words = feedback.unproven(judged, result, sin, True, True)
        assert ("lies within [-1, 1]" in words.cause) == named, words.cause
        # (the number named is one that left the range: ux115 read "left [-1, 1] (there it gives 0.57)")
        assert not named or abs(judged.expected) > 1, judged
    # A raise on a line that compares with cos itself is told of a formula first, range or not (ux115's
    # assert torch.allclose(x.grad, torch.cos(x)) was told first of a check of the range)
    checked = ErrorInfo("AssertionError", "", frames=(Frame(7, "assert torch.allclose(g, torch.cos(x))", "f"),))
    right = _tensor(np.cos(x))
    result = CaseResult(GridCase(x, "float32", "cpu", "plain", "explicit"),
                        (right, right, Returned("error", error=checked)), (False, False, True), False, False, False,
                        3, asked=(True, True, True))
    judged = verdict.judge(result, sin, SECRET)
    words = feedback.unproven(judged, result, sin, True, True)
    assert judged.beyond_bounds and "against a formula" in words.cause and "lies within" not in words.cause


def test_nothing_only_under_the_secret_is_not_proven(sin):
    obs = _observations(np.cos, hidden=Returned("none"))
    assert checks.check_autograd(obs, sin).data["verdicts"] == {"nothing": 1}
    assert _total(obs, sin) == sin.rubric["loads"]


def test_zeros_are_judged_like_any_other_values(sin):
    obs = _observations(np.zeros_like)
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["verdicts"] == {"bypassed": 1}
    assert _total(obs, sin) == sin.rubric["loads"]


def test_words_name_the_exercises_own_function_and_primitive():
    from grader import exercise

    cos_square = exercise.load("cos_square")
    obs = _observations(cos_square.reference, canary=cos_square.reference)
    finding = checks.check_autograd(obs, cos_square)
    assert "cos in cos(x**2)" in finding.summary and "derivative of cos" in finding.example
    assert "torch.cos(x**2)" in finding.advice and "torch.sin" not in finding.message
    error = ErrorInfo("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn")
    assert "torch.cos(x**2)" in feedback.explain_error(error, cos_square).advice


@pytest.mark.parametrize(
    ("plain", "cause"),
    [(np.sin, "primitive"), (lambda x: 2 * np.cos(x), "scaled"), (lambda x: -np.cos(x), "negated"),
     (lambda x: x, "identity"), (np.zeros_like, "zeros")],
)
def test_wrong_values_get_named(sin, plain, cause):
    finding = checks.check_correctness(_observations(plain), sin)
    assert not finding.passed and finding.data["cause"] == cause
    assert "At x = " in finding.example


def test_a_gradient_in_a_tuple_of_one_loses_only_the_contract(sin):
    """Its numbers were read (sandbox/child.snapshot): right values through autograd lose the contract
    point alone, as a numpy array's do, and the contract names the tuple."""
    def wrap(r: Returned) -> Returned:
        return dataclasses.replace(r, kind="wrapped", type_name="tuple")

    obs = _observations(np.cos, canary=secret)
    obs = dataclasses.replace(obs, cases=tuple(dataclasses.replace(r, calls=tuple(wrap(c) for c in r.calls))
                                               for r in obs.cases))
    findings = {f.name: f for f in (check(obs, sin) for check in checks.ALL)}
    assert findings["correctness"].passed and findings["autograd"].passed
    contract = findings["contract"]
    assert not contract.passed and contract.data["cause"] == "tuple"
    assert "returned a tuple holding one float32 tensor" in contract.example
    assert "torch.autograd.grad(y, x)[0]" in contract.advice


def test_passes_where_the_named_slip_is_right_too_earn_nothing(sin):
    """ux115: the same slip scored 1.0 to 7.8 by how many inputs it passed only because the slip gives
    the right values there too (twice cos(x) at the zeros of cos, an empty tensor). Such passes earn
    nothing; a pass where the slip's values differ still earns."""
    zeros_of_cos = GridCase(np.array([np.pi / 2, -np.pi / 2]), "float64", "cpu", "plain", "explicit")
    empty = GridCase(np.zeros((0, 2)), "float32", "cpu", "plain", "explicit")
    telling = GridCase(np.array([0.3, 1.1]), "float64", "cpu", "plain", "explicit")

    def result(case, values):
        r = Returned("tensor", values=values, dtype=case.dtype, shape=case.shape, device="cpu")
        return CaseResult(case, (r,) * 3, (False, False, True), False, False, False, 3)

    twice = [result(c, 2 * np.cos(c.values)) for c in (zeros_of_cos, empty, telling)]
    obs = Observations(load=LoadResult(True), cases=tuple(twice), planned=tuple(r.case for r in twice), secret=SECRET)
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "scaled" and finding.fraction == 0.0, finding
    assert "The 2 it passes are all inputs that cannot tell the right values from yours" in finding.summary
    assert finding.summary.endswith("so they earn nothing.")
    # (where some that can tell pass, those that cannot earn in proportion: here 1 of 2)
    right = result(GridCase(np.array([0.7]), "float64", "cpu", "plain", "explicit"), np.cos(np.array([0.7])))
    obs = dataclasses.replace(obs, cases=(*twice, right), planned=(*obs.planned, right.case))
    finding = checks.check_correctness(obs, sin)
    assert finding.fraction == pytest.approx((1 + 0.5 * 2) / 4)
    assert "2 of the 3 it passes are inputs that cannot tell" in finding.summary and "1 of 2 pass" in finding.summary
    # An unnamed wrong answer keeps no credit from empty inputs (ux116's x.grad + 0.1: 5.55)
    plus = [result(c, np.cos(c.values) + 0.1) for c in (empty, telling)]
    obs = Observations(load=LoadResult(True), cases=tuple(plus), planned=tuple(r.case for r in plus), secret=SECRET)
    finding = checks.check_correctness(obs, sin)
    assert finding.fraction == 0.0 and "(empty ones), so they earn nothing" in finding.summary, finding.summary


def test_a_notebooks_top_level_await_is_told_it_runs_in_jupyter_only(sin):
    """rt145: "Kernel > Restart & Run All shows the same error" was false for a cell's top-level await,
    which IPython's autoawait runs."""
    error = ErrorInfo("SyntaxError", "'await' outside function (notebook.ipynb, line 9)", syntax_line=9,
                      syntax_code="await check()")
    finding = checks._load_error_finding(error, sin, notebook=True)
    assert "autoawait" in finding.cause and "asyncio.run" in finding.advice and "Restart" not in finding.advice
    assert "Restart" not in (checks._load_error_finding(error, sin).cause or "")
    # (ux116's ip = get_ipython() in a notebook was told of a .py file's export)
    kept = ErrorInfo("NameError", "name 'get_ipython' is not defined",
                     frames=(Frame(3, "ip = get_ipython()", "<module>"),))
    assert "one kept in a name" in checks._load_error_finding(kept, sin, notebook=True).cause
    assert "a .py file" in checks._load_error_finding(kept, sin).cause


def test_a_reduction_over_one_dimension_is_named_where_only_inputs_of_two_or_more_fail():
    """ux115: sin_cos_norm's (t**2).sum(dim=0), right on every 0-d and 1-d input, was told only to
    work the formula out by hand."""
    norm = exercise.load("sin_cos_norm")

    def result(values):
        case = GridCase(values, "float64", "cpu", "plain", "explicit")
        columns = values.reshape(values.shape[0], -1) if values.ndim >= 2 else values.reshape(-1, 1)
        s = np.sum(columns ** 2, axis=0)  # one sum per column: dim=0
        got = (np.cos(np.cos(s + 1)) * -np.sin(s + 1) * 2 * columns).reshape(values.shape)
        r = Returned("tensor", values=got, dtype="float64", shape=values.shape, device="cpu")
        return CaseResult(case, (r,) * 3, (False, False, True), False, False, False, 3)

    cases = tuple(result(v) for v in (np.array(0.4), np.array([0.3, -0.7, 0.2]), np.array([[0.5, 0.1], [0.2, 0.3]])))
    obs = Observations(load=LoadResult(True), cases=cases, planned=tuple(r.case for r in cases), secret=SECRET)
    finding = checks.check_correctness(obs, norm)
    assert finding.data["cause"] == "one_dimension" and finding.data["slip"], finding
    assert "(x ** 2).sum() with no dim" in finding.advice


def test_accumulating_gradient_is_named(sin):
    finding = checks.check_repeatable(_observations(np.cos, second=lambda x: 2 * np.cos(x)), sin)
    assert not finding.passed and finding.data["cause"] == "accumulation"
    assert "plus the derivative" in finding.cause


def test_the_tuple_torch_autograd_grad_returns_is_named(sin):
    """A common slip: `return torch.autograd.grad(y, x)`, a tuple of one gradient. It was told "not
    .numpy(), .item() or .tolist()", which names nothing of it."""
    tuple_ = Returned("other", type_name="tuple")
    obs = _observations(np.cos, hidden=tuple_)
    obs = dataclasses.replace(obs, cases=tuple(dataclasses.replace(r, calls=(tuple_,) * 3) for r in obs.cases))
    finding = checks.check_correctness(obs, sin)
    assert not finding.passed and finding.data["cause"] == "tuple"
    assert "torch.autograd.grad(y, x)[0]" in finding.advice


def test_accumulation_onto_an_earlier_gradient_is_named_without_numbers(sin):
    """The repeat check and the autograd check's words ask one question: is the second answer the
    first plus a derivative? A leaf that already held one gradient answers 2P, then 3P: that is
    accumulation too, and its numbers are not "first P, then 2P"."""
    finding = checks.check_repeatable(_observations(lambda x: 2 * np.cos(x), second=lambda x: 3 * np.cos(x)), sin)
    assert finding.data["cause"] == "accumulation"
    assert finding.example.endswith(": the second answer differs from the first.")
    other = checks.check_repeatable(_observations(np.cos, second=lambda x: 1.5 * np.cos(x)), sin)
    assert other.data["cause"] == "state"
    # (ux115's x.copy_(grad): the second call saw other numbers, which is no state of the function's)
    changed = checks.check_repeatable(_observations(np.cos, second=lambda x: 1.5 * np.cos(x), input_changed=True), sin)
    assert changed.data["cause"] == "changed_input" and "changed the caller's x" in changed.cause


def test_a_repeat_under_the_secret_shows_no_number_of_the_secrets(sin):
    """A helper's first call zeroed x in place: its repeat, under the secret, was shown as "first
    0.8776, then 1.0320721" (the plain answer times the secret pair's ratio), a number its second
    call never returns at home, different on each draw. Doubling is shown in plain numbers; any
    other difference in words, whichever state the pair had (same file, same words)."""
    for pair_secret in (True, False):
        state = checks.check_repeatable(_observations(np.cos, canary=secret, pair_secret=pair_secret,
                                                      second=lambda x: np.ones_like(x)), sin)
        assert not state.passed and state.example.endswith(": the second answer differs from the first.")
    plain = round_to(np.cos(round_to(VALUES, "float32")), "float32")
    i = int(np.argmax(np.abs(plain)))
    words = set()
    for pair_secret, twice in ((True, lambda x: 2 * secret(x)), (False, lambda x: 2 * np.cos(x))):
        doubled = checks.check_repeatable(_observations(np.cos, canary=secret, pair_secret=pair_secret,
                                                        second=twice), sin)
        assert doubled.data["cause"] == "accumulation"
        words.add(doubled.example)
    assert words == {f"Called twice with {feedback.input_words(_observations(np.cos).cases[0].case)}: first "
                     f"{feedback.number(plain[i], 'float32')}, then {feedback.number(2 * plain[i], 'float32')}."}


@pytest.mark.parametrize(("flag", "words"), [
    ("input_changed", "changed the values of x in place"),
    ("requires_grad_changed", "turned on requires_grad of the caller's tensor x"),
    ("grad_left", "left a gradient in the caller's x.grad"),
])
def test_changing_the_callers_tensor_fails_input_untouched(sin, flag, words):
    """Each of the three ways a call changes the caller's tensor fails the check (rv01: dropping
    input_changed or grad_left from it failed no test)."""
    finding = checks.check_input_untouched(_observations(np.cos, canary=secret, **{flag: True}), sin)
    assert not finding.passed and finding.fraction == 0 and words in finding.example
    assert checks.check_input_untouched(_observations(np.cos, canary=secret), sin).passed


def test_a_result_on_another_device_breaks_the_contract(sin):
    """rv01: the contract's device comparison could be removed and no test failed."""
    obs = _observations(np.cos, canary=secret)
    moved = dataclasses.replace(obs.cases[0], calls=tuple(dataclasses.replace(c, device="cuda:0")
                                                          for c in obs.cases[0].calls))
    finding = checks.check_contract(dataclasses.replace(obs, cases=(moved,)), sin)
    assert not finding.passed and finding.data["cause"] == "device" and "created on cuda:0" in finding.cause


def test_nonscalar_backward_error_gets_its_hint(sin):
    error = ErrorInfo("RuntimeError", "grad can be implicitly created only for scalar outputs")
    cause = feedback.explain_error(error, sin)
    assert cause.key == "nonscalar_backward" and "y.sum().backward()" in cause.advice
    assert "grad_outputs=torch.ones_like(y)" in cause.advice  # (a helper's torch.autograd.grad(y, x))


def test_a_print_that_fails_after_a_gib_of_output_is_named(sin):
    """Past a GiB of output the grader stops reading it (sandbox/session.py): the next print fails."""
    cause = feedback.explain_error(ErrorInfo("BrokenPipeError", "[Errno 32] Broken pipe"), sin)
    assert cause.key == "output_flood" and "printed more than a GiB" in cause.text


def test_a_process_pool_is_named_as_what_the_sandbox_refuses(sin):
    """A red team's honest student ran its autograd in a ProcessPoolExecutor: every call raised
    "Read-only file system" (multiprocessing's semaphore), and the words only said an exception.
    multiprocessing's pools of threads make the same semaphore, and the words said "threads are fine"."""
    cause = feedback.explain_error(ErrorInfo("OSError", "[Errno 30] Read-only file system"), sin)
    assert cause.key == "read_only" and "semaphores of its pools" in cause.text and "ThreadPool" in cause.text
    assert "ThreadPoolExecutor" in cause.advice
    finding = checks._load_error_finding(ErrorInfo("OSError", "[Errno 30] Read-only file system"), sin)
    assert "semaphores of its pools" in finding.cause
    refused = feedback.explain_error(ErrorInfo("PermissionError", "[Errno 1] Operation not permitted"), sin)
    assert refused.key == "sandbox" and "threads are fine" in refused.advice


def test_an_inspection_of_the_graph_is_told_why_it_fails_here(sin):
    """An honest-file hunter's asserts on grad_fn's name, its saved tensors and its next_functions:
    the canary's own graph fails them in the grader, and "run it yourself" reproduced nothing."""
    from grader import exercise

    cos_square = exercise.load("cos_square")
    named = feedback.explain_error(ErrorInfo("AssertionError", "AddcmulBackward0"), sin)
    saved = feedback.explain_error(ErrorInfo("AttributeError", "'AddcmulBackward0' object has no attribute "
                                             "'_saved_self'"), cos_square)
    edge = feedback.explain_error(ErrorInfo("AttributeError", "'NoneType' object has no attribute 'variable'",
                                            (Frame(7, "acc.variable is leaf", "get_derivative"),)), sin)
    line = feedback.explain_error(ErrorInfo("AssertionError", "", (Frame(5, "assert 'Sin' in y.grad_fn.name()", "f"),)),
                                  sin)
    assert {named.key, saved.key, edge.key, line.key} == {"graph_inspection"}
    assert "not SinBackward0" in named.text and "not CosBackward0" in saved.text
    none = feedback.explain_error(ErrorInfo("AttributeError", "'NoneType' object has no attribute 'grad_fn'"), sin)
    assert none.key == "not_a_tensor"  # (None where a tensor was meant, not the canary's graph)
    # A red team's helper named grad_fn: its own bug, and a NameError of it, are not the graph's.
    helper = feedback.explain_error(ErrorInfo("TypeError", "len() of a 0-d tensor",
                                              (Frame(9, "return grad_fn(torch.sin, x)", "f"),
                                               Frame(4, "y.backward(torch.ones(len(x)))", "grad_fn"))), sin)
    missing = feedback.explain_error(ErrorInfo("NameError", "name 'grad_fn' is not defined",
                                               (Frame(9, "return grad_fn(torch.sin, x)", "f"),)), sin)
    inplace = feedback.explain_error(ErrorInfo("RuntimeError", "one of the variables needed for gradient computation "
                                               "has been modified by an inplace operation: [torch.FloatTensor [5]], "
                                               "which is output 0 of AddcmulBackward0, is at version 1"), sin)
    assert (helper.key, missing.key, inplace.key) == ("zero_d_len", "name", "exception")
    # A helper called sin's node itself, whose tuple (the canary's node has three inputs) has no .detach.
    called = feedback.explain_error(ErrorInfo("AttributeError", "'tuple' object has no attribute 'detach'",
                                              (Frame(6, "return y.grad_fn(torch.ones_like(y)).detach()", "f"),)), sin)
    assert called.key == "graph_inspection"


def test_one_number_for_the_whole_input_is_named_as_a_shape(sin):
    """A helper's x.grad.sum() was told its values differed from cos(x) by more than the tolerance."""
    finding = checks.check_correctness(_observations(lambda x: np.array(np.cos(x).sum())), sin)
    assert not finding.passed and finding.data["cause"] == "shape"
    assert f"of shape (), one number for the whole input (a sum or a mean), for an input of shape {VALUES.shape}" \
        in finding.cause, finding.cause


def test_a_pass_through_another_function_is_not_told_it_wrote_the_formula():
    """A helper's autograd of sin(x²) for cos(x²): cos ran (in sin's own backward), and the words
    said the value was computed another way, -2x·sin(x²) written out."""
    from grader import exercise

    cos_square = exercise.load("cos_square")
    other = feedback._bypass_cause(cos_square, True, True, frozenset({"SumBackward0", "SinBackward0", "PowBackward0",
                                                                      "AccumulateGrad"}))
    assert other.startswith("Likely cause: your backward pass ran, but not through torch.cos: it has no "
                            "CosBackward0 (its steps: PowBackward0, SinBackward0)"), other
    through = feedback._bypass_cause(cos_square, True, True, frozenset({"CosBackward0", "PowBackward0"}))
    assert "written out" in through  # a pass through cos whose answer did not move: computed beside it


def test_a_jit_trace_of_autograd_is_told_why_it_fails_here(sin):
    """A helper's torch.jit.trace of autograd.grad(..., create_graph=True) meets the canary's graph;
    "run it yourself" reproduced nothing."""
    cause = feedback.explain_error(ErrorInfo("RuntimeError", "Cannot insert a Tensor that requires grad as a "
                                             "constant. Consider making it a parameter or input, or detaching the "
                                             "gradient"), sin)
    assert cause.key == "jit_trace" and "torch.sin a graph of its own" in cause.text
    assert "no torch.jit.trace around it" in cause.advice


def test_a_file_read_beside_the_submission_is_told_it_is_not_there(sin):
    finding = checks._load_error_finding(ErrorInfo("FileNotFoundError", "[Errno 2] No such file or directory: "
                                                   "'/tmp/grader-1-x/settings.json'"), sin)
    assert "runs your file alone" in finding.cause and "get_derivative" in finding.advice


def test_a_flipped_sign_of_a_negative_formula_reads_once():
    from grader import exercise

    cos_square = exercise.load("cos_square")
    x = np.linspace(0.1, 2, 9)
    truth = cos_square.reference(x)
    cause = feedback.explain_values(x, -truth, truth, np.cos(x**2), cos_square, 1e-6)
    assert cause is not None and cause.key == "negated"
    assert "your values are 2x·sin(x²): the sign is flipped" in cause.text, cause.text


def test_a_misspelt_attribute_gets_a_suggestion(sin):
    cause = feedback.explain_error(ErrorInfo("AttributeError", "'Tensor' object has no attribute 'gard'"), sin)
    assert "Did you mean .grad?" in cause.text


def test_a_right_name_on_something_not_a_tensor_is_not_called_a_typo(sin):
    """Python's sum() of an empty tensor is the int 0: "Did you mean .backward?" sent a student to
    fix a name that was right."""
    cause = feedback.explain_error(ErrorInfo("AttributeError", "'int' object has no attribute 'backward'"), sin)
    assert cause.key == "not_a_tensor" and "Did you mean" not in cause.text and "a Python int" in cause.text
    assert "sum(y)" in cause.advice
    none = feedback.explain_error(ErrorInfo("AttributeError", "'NoneType' object has no attribute 'zero_'"), sin)
    assert none.key == "not_a_tensor" and "x.grad is None until a backward pass" in none.text
    assert "backward() itself returns None" in none.text
    # hn136: the book's x.grad.zero_() above the first backward() was told to call backward() on a line of its own
    from grader.observations import Frame

    zeroed = feedback.explain_error(ErrorInfo("AttributeError", "'NoneType' object has no attribute 'zero_'",
                                              (Frame(5, "x.grad.zero_()", "get_derivative"),)), sin)
    assert "before the first backward()" in zeroed.text and "Leave that line out" in zeroed.advice
    assert "on a line of its own" not in zeroed.advice
    # (rv41: a helper that returned None, then t.requires_grad_(True): "grad" is in the method's own name)
    helper = feedback.explain_error(ErrorInfo("AttributeError", "'NoneType' object has no attribute 'requires_grad_'",
                                              (Frame(12, "t.requires_grad_(True)", "get_derivative"),)), sin)
    assert "before the first backward()" not in helper.text and "Leave that line out" not in helper.advice, helper
    assert "ends without a `return`" in helper.text and "return the tensor from your helper" in helper.advice
    for name in ("data", "cpu", "view_as", "to"):  # (hn120: ".data does not exist. Did you mean .detach?")
        other = feedback.explain_error(ErrorInfo("AttributeError", f"'NoneType' object has no attribute '{name}'"), sin)
        assert other.key == "not_a_tensor" and "Did you mean" not in other.text, other
    method = feedback.explain_error(
        ErrorInfo("AttributeError", "'builtin_function_or_method' object has no attribute 'backward'"), sin)
    assert method.key == "not_a_tensor" and "y.sum().backward()" in method.advice and "sum(y)" not in method.advice


def test_a_gradient_of_nothing_recorded_names_grad_mode_too(sin):
    """torch.no_grad() around sin gives the same error as no requires_grad at all; the advice named
    only the second, which the student's file already did."""
    error = ErrorInfo("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn")
    cause = feedback.explain_error(error, sin)
    assert "torch.no_grad()" in cause.text and "requires_grad=True" in cause.text and "enable_grad" in cause.advice


def test_nothing_recorded_only_on_empty_inputs_names_a_loop_over_elements(sin):
    """A hunter's sum in a Python loop over x's elements never touched an empty x, and backward() on
    the number it started from raised: the words said x never had requires_grad=True."""
    raised = (_raised("element 0 of tensors does not require grad and does not have a grad_fn"),) * 3
    empty = GridCase(np.zeros(0), "float64", "cpu", "plain", "explicit")
    obs = _observations(np.cos)
    loop = CaseResult(empty, raised, (False, False, True), False, False, False, 0)
    finding = checks.check_correctness(dataclasses.replace(obs, cases=(*obs.cases, loop),
                                                           planned=(*obs.planned, empty)), sin)
    assert finding.data["cause"] == "empty_unrecorded" and "a loop over x's elements never ran" in finding.cause
    # Raised on every input, empty or not: x was never recorded, as before.
    everywhere = dataclasses.replace(obs.cases[0], calls=raised)
    both = checks.check_correctness(dataclasses.replace(obs, cases=(everywhere, loop),
                                                        planned=(*obs.planned, empty)), sin)
    assert both.data["cause"] == "no_requires_grad" and "requires_grad=True" in both.cause


def test_a_second_call_that_finds_the_callers_graph_freed_is_named(sin):
    """A hunter's backward(inputs=[x]) through the caller's non-leaf x worked once and raised on the
    same x again: it was told it keeps state between calls."""
    obs = _observations(np.cos, layout="nonleaf")
    r = obs.cases[0]
    freed = _raised("Trying to backward through the graph a second time (or directly access saved tensors after "
                    "they have already been freed).")
    twice = dataclasses.replace(obs, cases=(dataclasses.replace(r, calls=(r.calls[0], freed, r.calls[2])),))
    finding = checks.check_repeatable(twice, sin)
    assert not finding.passed and finding.data["cause"] == "callers_graph" and "the caller's" in finding.cause
    plain = dataclasses.replace(twice, cases=(dataclasses.replace(twice.cases[0], case=_observations(np.cos).cases[0]
                                                                  .case),))
    assert checks.check_repeatable(plain, sin).data["cause"] == "state"


def test_a_size_fixed_ahead_of_the_calls_is_named(sin):
    """A hunter's aot_function, traced at the first input of 25 numbers, raised on other shapes and
    answered 25·cos(x) for a 0-d x: told it differentiated 25·sin(x). One size refused on inputs of
    other sizes is what a trace keeps (or a tensor made ahead)."""
    obs = _observations(lambda x: 25 * np.cos(x))
    cases = [obs.cases[0]]
    for n in (3, 7):
        case = GridCase(np.linspace(-1, 1, n), "float32", "cpu", "plain", "explicit")
        refused = _raised(f"The size of tensor a (25) must match the size of tensor b ({n}) at non-singleton "
                          "dimension 0")
        cases.append(CaseResult(case, (refused,) * 3, (False, False, True), False, False, False, 3))
    fixed = dataclasses.replace(obs, cases=tuple(cases), planned=tuple(r.case for r in cases))
    finding = checks.check_correctness(fixed, sin)
    assert finding.data["cause"] == "fixed_shape" and "a fixed size of 25 elements" in finding.cause
    # One input refused is a broadcasting slip of that input's own, not a size kept across calls.
    one = dataclasses.replace(fixed, cases=tuple(cases[:2]), planned=tuple(r.case for r in cases[:2]))
    assert checks.check_correctness(one, sin).data["cause"] != "fixed_shape"
    # (hn149: x.T @ x of 3-d inputs, whose batch sizes mismatched, both sizes the input's own: no size kept)
    own = [obs.cases[0]]
    for shape in ((2, 3, 4), (5, 1, 4)):
        case = GridCase(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), "float32", "cpu", "plain", "explicit")
        refused = _raised(f"The size of tensor a (4) must match the size of tensor b ({shape[0]}) at non-singleton "
                          "dimension 0")
        own.append(CaseResult(case, (refused,) * 3, (False, False, True), False, False, False, 3))
    mismatched = dataclasses.replace(obs, cases=tuple(own), planned=tuple(r.case for r in own))
    assert checks.check_correctness(mismatched, sin).data["cause"] != "fixed_shape"


def _none_everywhere(tracked_only=False, primitive_calls=3, traced=None, plain_raises=False):
    cases = []
    for layout in ("plain", "requires_grad", "nonleaf"):
        obs = _observations(np.cos, layout=layout, primitive_calls=primitive_calls)
        r = obs.cases[0]
        if layout != "plain" or not tracked_only:
            r = dataclasses.replace(r, calls=(Returned("none"),) * 3)
        elif plain_raises:  # sin(x) on the caller's x: backward() raises where x needs no grad
            r = dataclasses.replace(r, calls=(_raised("element 0 of tensors does not require grad"),) * 3)
        cases.append(r)
    return dataclasses.replace(obs, cases=tuple(cases), planned=tuple(c.case for c in cases), traced=traced)


def test_the_value_of_a_function_of_a_whole_vector_returned_is_named():
    """sin(cos(‖x‖²+1)) returned instead of its gradient was told "reshaped, summed, or built anew"."""
    from grader import exercise

    norm = exercise.load("sin_cos_norm")
    case = GridCase(np.array([0.3, -1.2, 0.7]), "float64", "cpu", "plain", "explicit")
    value = norm.function_values(case.values).reshape(())
    returned = Returned("tensor", values=value, dtype="float64", shape=(), device="cpu")
    r = CaseResult(case, (returned,) * 3, (False, False, True), False, False, False, 3)
    obs = Observations(load=LoadResult(True), cases=(r,), planned=(case,), secret=SECRET)
    finding = checks.check_correctness(obs, norm)
    assert finding.data["cause"] == "primitive", finding
    assert "returned the value of" in finding.cause and "x.grad" in finding.advice


def test_a_named_slip_is_named_where_its_closed_form_has_no_number_at_one_input():
    """‖x‖ for ‖x‖²: the slip's closed form x/sqrt(sum(x**2)) is inf at x = 1e-200 (the square
    underflows), where torch's norm answers; the tracked inputs, one of them that small, were told
    only that the values differ."""
    from grader import exercise

    norm = exercise.load("sin_cos_norm")
    slip = next(m for m in norm.mistakes if m.key == "norm_not_squared")
    results = []
    for values in (np.array([0.3, -1.2, 0.7]), np.linspace(-0.9, 0.9, 12), np.array(1e-200), np.array([0.8])):
        case = GridCase(values, "float64", "cpu", "requires_grad", "explicit")
        r = np.sqrt(np.sum(values ** 2))
        unit = values / r if r > 0 else np.sign(values)  # torch's norm scales: its unit vector has a number
        got = np.cos(np.cos(r + 1)) * -np.sin(r + 1) * unit
        returned = Returned("tensor", values=np.asarray(got).reshape(values.shape), dtype="float64",
                            shape=values.shape, device="cpu")
        results.append(CaseResult(case, (returned,) * 3, (False, False, True), False, False, False, 3))
    assert not np.all(np.isfinite(norm.mistake_values(slip, np.array(1e-200))))
    obs = Observations(load=LoadResult(True), cases=tuple(results), planned=tuple(r.case for r in results),
                       secret=SECRET)
    finding = checks.check_tracked_inputs(obs, norm)
    assert finding.data["cause"] == "norm_not_squared", finding


def test_the_autograd_example_names_the_element_and_for_a_whole_vector_the_vector(sin):
    """"At x = -1.5 (a float32 tensor of shape (25,))" read as though sin_cos_norm's answer there hung
    on -1.5 alone."""
    from grader import exercise

    bypass = checks.check_autograd(_observations(np.cos, canary=np.cos, primitive_calls=0), sin)
    assert re.search(r"At x = \S+ \(element \[\d+\] of a float32 tensor of shape", bypass.example), bypass.example
    norm = exercise.load("sin_cos_norm")
    case = GridCase(np.array([0.3, -1.2, 0.7]), "float64", "cpu", "plain", "explicit")
    answer = norm.reference(case.values)
    returned = Returned("tensor", values=answer, dtype="float64", shape=(3,), device="cpu")
    r = CaseResult(case, (returned,) * 3, (False, False, True), False, False, False, 0)
    finding = checks.check_autograd(Observations(load=LoadResult(True), cases=(r,), planned=(case,), secret=SECRET),
                                    norm)
    assert not finding.passed
    assert re.search(r"At element \[\d\] of x = \[0\.3, -1\.2, 0\.7\] \(a float64 tensor of shape \(3,\) on cpu; "
                     r"that element \S+\)", finding.example), finding.example


def test_none_only_for_one_dtype_names_a_cast_after_requires_grad(sin):
    """torch.tensor(x, requires_grad=True).double(): None for float32 inputs (the cast made a new
    tensor, no leaf), values for float64 ones (the cast returned x itself). A helper's file was told
    of a graph cut by torch.tensor(...), which was innocent."""
    f32 = _observations(np.cos).cases[0]
    f64 = dataclasses.replace(f32, case=dataclasses.replace(f32.case, dtype="float64"),
                              calls=tuple(dataclasses.replace(c, dtype="float64") for c in f32.calls))
    none = dataclasses.replace(f32, calls=(Returned("none"),) * 3)
    obs = dataclasses.replace(_observations(np.cos), cases=(none, f64), planned=(none.case, f64.case))
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "none_cast", finding
    assert "None came back only for float32 inputs, and values for float64 ones" in finding.cause
    assert ".double().requires_grad_(True)" in finding.advice


def test_none_names_its_cause_from_where_and_how_it_came(sin):
    """"A missing return" was said to every None, also to files that ended with `return x.grad`."""
    from grader.observations import Traced, TracedCall, TracedStep

    def key(obs, check=checks.check_correctness):
        return check(obs, sin).data.get("cause")

    assert key(_none_everywhere(tracked_only=True), checks.check_tracked_inputs) == "none_nonleaf"
    # (a helper's sin(x) on the caller's x raised on the other inputs, and was told the pass never reached x)
    assert key(_none_everywhere(tracked_only=True, plain_raises=True), checks.check_contract) == "none_nonleaf"
    assert key(_none_everywhere(primitive_calls=0)) == "none_unrecorded"
    assert key(_none_everywhere()) == "none"  # a pass that never reached x, or none at all
    # None everywhere is no non-leaf's: every check that shows it says the same (the tracked inputs'
    # check, which sees only tracked inputs, said "only where the input already requires grad")
    for check in (checks.check_correctness, checks.check_contract, checks.check_tracked_inputs):
        assert key(_none_everywhere(), check) == "none", check
    steps = (TracedStep("SumBackward0", (1,), (1.0,)), TracedStep("SinBackward0", (2,), (0.9,)),
             TracedStep("AccumulateGrad", (-1,), ()))
    through = Traced((0.5,), 0, "float32", (TracedCall("other", None, 1, (steps,), about="NoneType"),), None)
    finding = checks.check_correctness(_none_everywhere(traced=through), sin)
    assert finding.data["cause"] == "none_not_returned" and "missing `return`" in finding.message
    assert "the caller's x, when the pass ran on your copy" in finding.message
    for check in (checks.check_contract, checks.check_tracked_inputs):
        assert key(_none_everywhere(traced=through), check) == "none_not_returned", check
    answered = Traced((0.5,), 0, "float32", (TracedCall("tensor", 0.8, 1, (steps,), about="Tensor"),), None)
    assert key(_none_everywhere(traced=answered)) == "none"  # None came back elsewhere: that pass says nothing
    cut = Traced((0.5,), 0, "float32", (TracedCall("other", None, 1, ((steps[0], steps[2]),), about="NoneType"),),
                 None)
    assert key(_none_everywhere(traced=cut)) == "none"  # the pass filled a leaf, but not through sin
    # A leaf made from an intermediate's numbers (ux115's .item() of ‖x‖², then a fresh leaf): its pass
    # stops short of the reference's, and "return leaf.grad" would return d/ds, not the gradient.
    norm = exercise.load("sin_cos_norm")
    reference = TracedCall("tensor", 0.1, 1, (tuple(TracedStep(op, (i + 1,), (1.0,)) for i, op in enumerate(
        ("SinBackward0", "CosBackward0", "AddBackward0", "SumBackward0", "PowBackward0", "AccumulateGrad"))),))
    short = tuple(TracedStep(op, (i + 1,), (1.0,)) for i, op in enumerate(("SinBackward0", "CosBackward0",
                                                                          "AccumulateGrad")))
    item = Traced((0.5,), 0, "float32", (TracedCall("other", None, 1, (short,), about="NoneType"),), reference)
    finding = checks.check_correctness(_none_everywhere(traced=item), norm)
    assert finding.data["cause"] == "none_cut", finding
    assert "AddBackward0, SumBackward0, PowBackward0" in finding.cause and ".item()" in finding.advice
    whole = dataclasses.replace(item, student=(dataclasses.replace(item.student[0], runs=reference.runs),))
    assert checks.check_correctness(_none_everywhere(traced=whole), norm).data["cause"] == "none_not_returned"


def test_wrong_values_of_a_gradient_that_accumulates_are_told_so(sin):
    """hn120: a global leaf never zeroed answered the sum of earlier calls' derivatives and was told
    only to "compare your function with torch.cos", where repeatable named the accumulation."""
    def earlier(x):
        return np.cos(x) + np.cos(x + 1.0)  # (a derivative left by a call on other numbers)

    obs = _observations(earlier, canary=earlier, second=lambda x: earlier(x) + np.cos(x))
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "accumulation" and "(see repeatable)" in finding.cause, finding
    assert checks.check_repeatable(obs, sin).data["cause"] == "accumulation"
    plain = checks.check_correctness(_observations(earlier, canary=earlier), sin)
    assert plain.data["cause"] != "accumulation"


def test_score_is_zero_total_only_when_the_rubric_says_so(sin):
    from dataclasses import replace

    obs = _observations(np.cos, canary=np.cos)
    lenient = replace(sin, zero_total_unless_autograd=False)
    _, total = score.apply([check(obs, lenient) for check in checks.ALL], lenient)
    assert total == lenient.max_score - lenient.rubric["autograd"] - lenient.rubric["tracked_inputs"]


def _answered_in(case: GridCase, plain: np.ndarray, hidden: np.ndarray, dtype: str) -> CaseResult:
    """A case whose repeated pair answered `plain` and whose fresh call answered `hidden`, in dtype."""
    def returned(values: np.ndarray) -> Returned:
        return Returned("tensor", values=round_to(values, dtype), dtype=dtype, shape=case.shape, device=case.device)

    return CaseResult(case, (returned(plain), returned(plain), returned(hidden)), (False, False, True),
                      False, False, False, 3)


def test_an_input_on_a_zero_of_the_reference_shows_no_scaling(sin):
    """At 5π/2, where cos is 0, S·R = P·R* holds for any S: a red team's cos(x) + 0.3 on calls it
    told apart (autograd at 0.5, never at x) "followed" autograd there. Such an input is silent for
    a scaled answer, cheat or 2·autograd alike; away from the zeros 2·autograd still follows."""
    zero = GridCase(np.array(5 * np.pi / 2), "float64", "cpu", "plain", "explicit")
    cos = np.cos(zero.values)
    assert verdict.judge(_answered_in(zero, cos, cos + 0.3, "float64"), sin, SECRET).verdict == verdict.NO_DATA
    assert verdict.judge(_answered_in(zero, 2 * cos, 2 * secret(zero.values), "float64"), sin,
                         SECRET).verdict == verdict.NO_DATA
    away = GridCase(np.array([0.3, 1.1, -2.0]), "float64", "cpu", "plain", "explicit")
    assert verdict.judge(_answered_in(away, 2 * np.cos(away.values), 2 * secret(away.values), "float64"), sin,
                         SECRET).verdict == verdict.FOLLOWS
    assert verdict.judge(_answered_in(away, np.cos(away.values), np.cos(away.values) + 0.3, "float64"), sin,
                         SECRET).verdict == verdict.PARTLY


def test_cos_returned_in_bfloat16_is_never_proven(sin):
    """bfloat16's tolerance times the secret's slope (0.32 + 0.32·|R*|) reached past the 0.15 the
    secret moves by: cos that never moved passed as following it, for about one secret in four. For
    sin(x) the slope is 1 (x is exact), and then bfloat16 tells."""
    from grader.grids import grid_seed
    from grader.probe import Plan

    cases = Plan.draw(sin, grid_seed(sin.name)).cases["cpu"]
    draws = random.Random(11)
    for _ in range(60):
        key = Secret.draw(draws)
        verdicts = {verdict.judge(_answered_in(c, np.cos(c.values), np.cos(c.values), "bfloat16"), sin, key).verdict
                    for c in cases}
        assert not verdicts & verdict.SHOWN, verdicts
    case = cases[0]
    obs = Observations(load=LoadResult(True), planned=(case,), secret=SECRET,
                       cases=(_answered_in(case, np.cos(case.values), np.cos(case.values), "bfloat16"),))
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.data["verdicts"] == {"bypassed": 1}
    assert _total(obs, sin) == sin.rubric["loads"]


def test_a_small_multiple_of_autograd_is_never_called_a_bypass_by_one_draw_alone():
    """hn155's jvp along ones is k times the gradient, k = 0.04 at x = [-0.97, 1.01]: its move was
    within the slack on one course's draw ("computed another way", 1/10) and past it on seven others
    (7.16). An answer too small to show its move is silent on every draw; cos written out is still a
    bypass on every one."""
    from grader.grids import grid_seed
    from grader.probe import Plan

    ex = exercise.load("sin_cos_norm")
    cases = Plan.draw(ex, grid_seed(ex.name)).cases["cpu"]
    draws = random.Random(11)
    keys = [Secret.draw(draws) for _ in range(20)]
    for k in (0.001, 0.01, 0.04):
        for c in cases:
            t = ex.reference(c.values)
            verdicts = {verdict.judge(_answered_in(c, k * t, k * ex.reference(c.values, key), c.dtype), ex, key).verdict
                        for key in keys}
            assert verdict.BYPASSED not in verdicts, (k, c.values, verdicts)
    told = [verdict.judge(_answered_in(c, ex.reference(c.values), ex.reference(c.values), c.dtype), ex, key).verdict
            for c in cases for key in keys[:5]]
    assert verdict.BYPASSED in told and not set(told) & verdict.SHOWN
    # (rv51: a right answer, zeros where the truth is 0 at 5π/2, is no small multiple: unmoved, a bypass still)
    sin = exercise.load("sin")
    for dtype in ("float32", "float64"):
        zero = GridCase(np.array(5 * np.pi / 2, dtype=dtype), dtype, "cpu", "plain", "explicit")
        assert {verdict.judge(_answered_in(zero, np.zeros(()), np.zeros(()), dtype), sin, key).verdict
                for key in keys[:5]} == {verdict.BYPASSED}


def test_an_answer_rounded_coarser_than_its_input_cannot_hide_a_formula_beside_autograd():
    """Where the primitive takes a computed value (x² in cos(x²)) the secret's slope widens the
    slack 20 times, and bfloat16 cannot tell: such answers are 'rounded', unproven, never silent,
    so proven autograd on one input and the formula in bfloat16 on another is not autograd."""
    ex = _with_half_precision("cos_square")
    honest = GridCase(round_to(VALUES, "float32"), "float32", "cpu", "plain", "explicit")
    other = GridCase(round_to(VALUES[::-1].copy(), "float64"), "float64", "cpu", "plain", "explicit")

    def square(x):
        return secret_derivative(x**2, SECRET, "-sin(u)", np) * 2 * x

    truth = [ex.reference(c.values) for c in (honest, other)]
    obs = Observations(load=LoadResult(True), planned=(honest, other), secret=SECRET, cases=(
        _answered_in(honest, truth[0], square(honest.values), "float32"),
        _answered_in(other, truth[1], truth[1], "bfloat16")))
    finding = checks.check_autograd(obs, ex)
    assert not finding.passed and finding.data["verdicts"] == {"proven": 1, "rounded": 1}
    assert "carry only bfloat16 precision for float64 inputs" in finding.summary


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_honest_answers_in_any_dtype_of_sin_are_proven_and_cos_in_it_is_not(sin, dtype):
    """sin(x): x is exact, so only the answer's own rounding separates it from R*, and even
    bfloat16 tells (on an accelerator a formula could hide on bfloat16 inputs when it did not)."""
    case = GridCase(round_to(VALUES, dtype), dtype, "cpu", "plain", "explicit")
    honest = verdict.judge(_answered_in(case, np.cos(case.values), secret(case.values), dtype), sin, SECRET)
    cheat = verdict.judge(_answered_in(case, np.cos(case.values), np.cos(case.values), dtype), sin, SECRET)
    assert honest.verdict == verdict.PROVEN and cheat.verdict == verdict.BYPASSED


def _with_half_precision(name: str):
    """A catalogue exercise that also grades bfloat16 (as an instructor's own exercise might)."""
    from dataclasses import replace as changed

    from grader import exercise
    from grader.exercise import Tolerance

    ex = exercise.load(name)
    return changed(ex, tolerances={**ex.tolerances, "bfloat16": Tolerance(1.6e-2, 1.6e-2)})


def test_an_input_whose_own_dtype_cannot_tell_is_no_evidence_and_no_blame():
    ex = _with_half_precision("cos_square")
    coarse = GridCase(round_to(VALUES, "bfloat16"), "bfloat16", "cpu", "plain", "explicit")
    values = ex.reference(coarse.values)
    judged = verdict.judge(_answered_in(coarse, values, values, "bfloat16"), ex, SECRET)
    assert judged.verdict == verdict.COARSE and judged.verdict in verdict.SILENT


def test_a_small_chain_factor_hides_nothing_the_tolerance_can_see():
    """cos(x²) near 0: the secret moves the gradient by 0.15·2|x|, far above float64's tolerance.
    A fixed floor on the move made such inputs silent, and the formula hid there (a red team's
    10/10 on cos_square with seed 3)."""
    from grader import exercise

    ex = exercise.load("cos_square")
    small = GridCase(np.array([0.1247, -0.1158, 0.05]), "float64", "cpu", "plain", "explicit")
    formula = -2 * small.values * np.sin(small.values**2)
    judged = verdict.judge(_answered_in(small, formula, formula, "float64"), ex, SECRET)
    assert judged.verdict == verdict.BYPASSED
    moved = secret_derivative(small.values**2, SECRET, "-sin(u)", np) * 2 * small.values
    assert verdict.judge(_answered_in(small, formula, moved, "float64"), ex, SECRET).verdict == verdict.PROVEN


def test_cos_where_it_is_nearly_zero_is_a_bypass_not_silence(sin):
    """Zeros where the secret moves the reference say nothing only when they are not the reference:
    cos(x) returned near π/2 is the truth, unmoved (a red team hid cos on six inputs this way)."""
    near = GridCase(round_to(np.array([np.pi / 2 + 1e-4, 3 * np.pi / 2 - 2e-4]), "float64"), "float64", "cpu",
                    "plain", "explicit")
    cheat = verdict.judge(_answered_in(near, np.cos(near.values), np.cos(near.values), "float64"), sin, SECRET)
    assert cheat.verdict == verdict.BYPASSED
    at_zero = GridCase(np.zeros(3), "float64", "cpu", "plain", "explicit")  # y.backward(x) at x = 0: x·cos(x)
    silent = verdict.judge(_answered_in(at_zero, np.zeros(3), np.zeros(3), "float64"), sin, SECRET)
    assert silent.verdict == verdict.ZERO


def test_which_inputs_can_tell_never_depends_on_the_draw(sin):
    """Same file, same score: an honest gradient returned in float16 is judged alike under every
    secret (a red team saw it pass in 291 draws of 300 and fail in 9 when the evidence was chosen by R*)."""
    from grader.grids import grid_seed
    from grader.probe import Plan

    cases = Plan.draw(sin, grid_seed(sin.name)).cases["cpu"]
    draws = random.Random(5)
    seen: dict[int, set[str]] = {}
    for _ in range(40):
        key = Secret.draw(draws)
        for i, c in enumerate(cases):
            hidden = secret_derivative(c.values, key, "cos(u)", np)
            judged = verdict.judge(_answered_in(c, np.cos(c.values), hidden, "float16"), sin, key)
            seen.setdefault(i, set()).add(judged.verdict)
    assert all(len(verdicts) == 1 for verdicts in seen.values()), seen
    assert {v for verdicts in seen.values() for v in verdicts} <= {verdict.PROVEN, verdict.ROUNDED, verdict.NO_DATA}


def test_a_gradient_computed_in_half_precision_is_told_so_not_called_a_mixture(sin):
    """Autograd in float16, handed back as float32: unproven (too coarse to show it), in words about
    precision; it was called a mixture of autograd and a formula."""
    from grader.grids import grid_seed
    from grader.probe import Plan

    verdicts = set()
    for case in Plan.draw(sin, grid_seed(sin.name)).cases["cpu"]:
        half = _answered_in(case, round_to(np.cos(case.values), "float16"),
                            round_to(secret(case.values), "float16"), case.dtype)
        judged = verdict.judge(half, sin, SECRET)
        verdicts.add(judged.verdict)
        if judged.verdict == verdict.ROUNDED:
            words = feedback.unproven(judged, half, sin, True, True)
            assert f"only float16 precision for {case.dtype} inputs" in words.summary and "mix" not in words.cause
            assert "too coarse for the secret's change to show" in words.example, words.example
    assert verdict.ROUNDED in verdicts and verdict.PARTLY not in verdicts, verdicts


def test_a_half_precision_answer_that_never_moved_is_not_told_the_move_was_too_small(sin):
    """sin of x.half(): the secret never reached the rounded numbers, so the answer stayed 0.15 to 0.6
    from autograd's under the secret, and rt133 read "too coarse for the secret's change to show"
    beside a gap of 0.36."""
    x = round_to(np.concatenate([np.linspace(-6, 6, 13), np.linspace(-6, 6, 12) + 0.1]), "float32")
    case = GridCase(x, "float32", "cpu", "plain", "explicit")
    at = round_to(x, "float16")
    reached = at == x  # (numbers float16 holds exactly: the secret reached those, and only those)
    rounded = round_to(np.cos(at), "float16")
    moved = round_to(np.where(reached, secret(at), np.cos(at)), "float16")
    unmoved = _answered_in(case, rounded, moved, "float16")
    judged = verdict.judge(unmoved, sin, SECRET)
    assert judged.verdict == verdict.ROUNDED, judged
    words = feedback.unproven(judged, unmoved, sin, True, True)
    assert "too coarse" not in words.example and "it did not move with the secret" in words.example, words.example
    assert "Do not write" not in words.advice and "with no cast in between" in words.advice, words.advice


def test_a_half_precision_answer_is_never_evidence_for_a_finer_input(sin):
    """cos(x) plus the secret's term read off a table of autograd's values a step of 1e-4 apart,
    returned in float16 only under the secret (a red team told the calls apart by autograd at one
    point): float16's tolerance let it pass as proven, without autograd at x. In float16 on every
    call it is 'rounded'; in float16 on some calls only, 'unsteady' (autograd's dtype never changes)."""
    case = GridCase(np.linspace(-6, 6, 25), "float64", "cpu", "plain", "explicit")
    x = case.values
    step = 1e-4
    below = np.floor(x / step) * step
    table = secret(below) + (secret(below + step) - secret(below)) * (x - below) / step
    exact = Returned("tensor", values=np.cos(x), dtype="float64", shape=case.shape, device="cpu")
    half = Returned("tensor", values=round_to(table, "float16"), dtype="float16", shape=case.shape, device="cpu")
    switched = CaseResult(case, (exact, exact, half), (False, False, True), False, False, False, 3)
    judged = verdict.judge(switched, sin, SECRET)
    assert judged.verdict == verdict.UNSTEADY
    words = feedback.unproven(judged, switched, sin, True, True)
    assert "returned a float16 tensor and a float64 tensor on different calls" in words.summary
    always = _answered_in(case, np.cos(x), table, "float16")
    assert verdict.judge(always, sin, SECRET).verdict == verdict.ROUNDED


@pytest.mark.parametrize("name", ["sin", "cos_square", "log_sin", "sin_cos_norm"])
def test_a_gradient_computed_in_float32_and_handed_back_as_float64_is_proven_under_every_draw(name):
    """Honest autograd on torch.tensor(x.tolist()) (float32), cast back to x's float64: judged to
    float64's tolerance it was 'a mixture' (1/10), or not, with the draw (a red team's cos_square
    scalar scored 9.67 in 8 runs of 10 and 1.0 in 2). Its numbers are float32's: judged so."""
    from grader import exercise
    from grader.grids import grid_seed
    from grader.probe import Plan

    ex = exercise.load(name)
    cases = [c for c in Plan.draw(ex, grid_seed(ex.name)).cases["cpu"] if c.dtype == "float64"]
    draws = random.Random(3)
    seen: dict[int, set[str]] = {}
    for _ in range(20):
        key = Secret.draw(draws)
        for i, c in enumerate(cases):
            x32 = round_to(c.values, "float32")
            # autograd in float32: the primitive's argument and every product rounded to float32
            plain, hidden = (round_to(ex.reference(x32, s), "float32") for s in (None, key))
            judged = verdict.judge(_answered_in(c, plain, hidden, "float64"), ex, key)
            seen.setdefault(i, set()).add(judged.verdict)
    assert all(len(verdicts) == 1 for verdicts in seen.values()), seen
    verdicts = {v for vs in seen.values() for v in vs}
    assert verdict.PROVEN in verdicts and not verdicts - verdict.SHOWN - verdict.SILENT, verdicts


def test_a_half_precision_plain_answer_loosens_nothing(sin):
    """cos(x) in bfloat16 on plain calls, and on secret ones cos(x) plus the secret's term read off
    autograd's values 0.01 apart, as a float64 numpy array: bfloat16's tolerance (the plain
    answer's) let the table pass as proven (a red team's 6.75/10 with autograd credited)."""
    case = GridCase(np.linspace(-6, 6, 25), "float64", "cpu", "plain", "explicit")
    x = case.values
    below = np.floor(x / 0.01) * 0.01
    table = np.cos(x) + (secret(below) - np.cos(below)) + ((secret(below + 0.01) - np.cos(below + 0.01))
                                                           - (secret(below) - np.cos(below))) * (x - below) / 0.01
    plain = Returned("tensor", values=round_to(np.cos(x), "bfloat16"), dtype="bfloat16", shape=case.shape,
                     device="cpu")
    for hidden in (Returned("ndarray", values=table, dtype="float64", shape=case.shape),
                   Returned("tensor", values=round_to(table, "bfloat16"), dtype="bfloat16", shape=case.shape,
                            device="cpu")):
        result = CaseResult(case, (plain, plain, hidden), (False, False, True), False, False, False, 3)
        assert verdict.judge(result, sin, SECRET).verdict in (verdict.UNSTEADY, verdict.ROUNDED)


def test_numbers_that_happen_to_be_exact_in_float16_are_no_sign_of_half_precision(sin):
    """The reference solution on a 0-d float32 input: its answer is exact in float16 once in 8,192
    draws of the secret, and was then called 'rounded' (1/10 for 5 honest copies in 2,000)."""
    case = GridCase(round_to(np.array(0.5), "float32"), "float32", "cpu", "plain", "explicit")
    exact = 1.1142578125  # 1141/1024: a float16
    key = Secret.offset(exact - float(np.cos(case.values)))  # R* = cos(0.5) + by, whose float32 is that
    star = secret_derivative(case.values, key, "cos(u)", np)
    assert round_to(star, "float32") == exact == round_to(np.array(exact), "float16")
    judged = verdict.judge(_answered_in(case, np.cos(case.values), star, "float32"), sin, key)
    assert judged.verdict == verdict.PROVEN
    # An input filled with one value (hypothesis draws them often): nine copies of one number are
    # one coincidence, not nine (a third red team's reference solution scored 1/10 so, on zeros).
    zeros = GridCase(np.zeros((3, 3)), "float32", "cpu", "plain", "explicit")
    key = Secret.offset(0.5)  # R*(0) = 1.5, a float16
    star = secret_derivative(zeros.values, key, "cos(u)", np)
    judged = verdict.judge(_answered_in(zeros, np.cos(zeros.values), star, "float32"), sin, key)
    assert judged.verdict == verdict.PROVEN


def _unproven_on_some_input(cases, answer, dtype, key, ex) -> bool:
    """Whether some input is not proven where plain calls answer the reference and secret ones `answer`."""
    return any(verdict.judge(_answered_in(c, ex.reference(c.values), answer(c.values), dtype), ex, key).verdict
               not in verdict.SHOWN | verdict.SILENT for c in cases)


@pytest.mark.parametrize("name", ["sin", "cos_square", "log_sin", "sin_cos_norm"])
def test_the_secret_cannot_be_read_off_autograd_away_from_x(name):
    """A red team rebuilt the secret's smooth term to 1e-12 from autograd on a fixed table 0.01 apart
    (degree-7 interpolation, the triangle wave unfolded) and returned cos(x) plus it on secret calls:
    'proven', 25 grades of 25, with no autograd within 0.01 of x. The grain (keyed heights on two
    lattices) is no function of anything away from x: knowing the smooth term exactly and the grain
    not at all, or reading the secret off a table at twice a lattice's step (or off the lattice, at
    nine tenths of it), leaves some input unproven under every draw, in every exercise: a third red team
    passed cos_square, log_sin and sin_cos_norm with autograd 1e-3 from x while the grain was sized
    for sin's tolerances, a hundred times finer than theirs."""
    from grader import canary, exercise
    from grader.grids import grid_seed
    from grader.probe import Plan

    ex = exercise.load(name)
    cases = Plan.draw(ex, grid_seed(ex.name)).cases["cpu"]
    draws = random.Random(13)
    size = canary.grain_size(ex.tolerances)
    at_x = lambda key: lambda x: ex.reference(x, key)  # noqa: E731 - autograd at x itself

    def smooth(key: Secret, keep: float = 0.0):  # the grain guessed as 0 (the coarse one known with `keep`)
        return lambda x: ex.reference(x, dataclasses.replace(key, fine=(keep * key.fine[0], 0.0)))

    def table(key: Secret, step: float):
        def read(x: np.ndarray) -> np.ndarray:  # the primitive's argument is x here (sin, log_sin) or not
            below = np.floor(x / step) * step
            return ex.reference(below, key) + (ex.reference(below + step, key) - ex.reference(below, key)) * (
                x - below) / step
        return read

    inputs = [c for c in cases if c.dtype == "float64"]
    for _ in range(6):
        key = Secret.draw(draws, grain=size)
        for dtype, scale in zip(canary.GRAIN_DTYPES, key.scales, strict=True):
            assert _unproven_on_some_input(inputs, smooth(key), dtype, key, ex)
            if name in ("sin", "log_sin"):  # the primitive takes x itself: a table in x is one in u
                assert _unproven_on_some_input(inputs, table(key, 2 / scale), dtype, key, ex)
                assert _unproven_on_some_input(inputs, table(key, 0.9 / scale), dtype, key, ex)
        # the coarse lattice read exactly off autograd on its points, the fine one guessed
        assert _unproven_on_some_input(inputs, smooth(key, keep=1.0), "float64", key, ex)
        assert not _unproven_on_some_input(cases, at_x(key), "float64", key, ex)


def test_float32_numbers_under_the_secret_beside_exact_float64_ones_are_judged_as_float64(sin):
    """Float64 answers that a float32 holds are judged at float32's tolerance (autograd on x.float(),
    cast back), which the finer grain does not reach: only where the plain answers are float32's too.
    A red team's exact cos(x) on plain calls beside float32-rounded numbers on secret ones would
    otherwise be held to float32's tolerance alone."""
    case = GridCase(np.linspace(-6, 6, 25), "float64", "cpu", "plain", "explicit")
    x = case.values
    rounded = round_to(secret(x), "float32")
    exact = Returned("tensor", values=np.cos(x), dtype="float64", shape=case.shape, device="cpu")
    under = Returned("tensor", values=rounded, dtype="float64", shape=case.shape, device="cpu")
    mixed = CaseResult(case, (exact, exact, under), (False, False, True), False, False, False, 3)
    assert verdict.judge(mixed, sin, SECRET).verdict != verdict.PROVEN
    cast = Returned("tensor", values=round_to(np.cos(x), "float32"), dtype="float64", shape=case.shape, device="cpu")
    honest = CaseResult(case, (cast, cast, under), (False, False, True), False, False, False, 3)
    assert verdict.judge(honest, sin, SECRET).verdict == verdict.PROVEN


@pytest.mark.parametrize("name", ["sin", "cos_square", "log_sin", "sin_cos_norm"])
def test_a_gradient_computed_in_float32_is_never_blamed_on_any_grid(name):
    """The same honest float32 autograd, cast back, on twenty grids: an input whose chain-rule factor
    is near 0 (x = 6e-5 in cos(x²)) cannot show the secret's move in float32, and was called
    'rounded', which scored the file 1/10 (a red team: cos_square on 10 grids of 20, sin_cos_norm on
    14). A float32 input there is no evidence either way; so is this."""
    from grader import exercise
    from grader.probe import Plan

    ex = exercise.load(name)
    key = Secret.draw(random.Random(17))
    verdicts = set()
    for grid in range(40, 60):
        for c in Plan.draw(ex, grid).cases["cpu"]:
            if c.dtype != "float64":
                continue
            x32 = round_to(c.values, "float32")
            plain, hidden = (round_to(ex.reference(x32, s), "float32") for s in (None, key))
            verdicts.add(verdict.judge(_answered_in(c, plain, hidden, "float64"), ex, key).verdict)
    assert verdict.PROVEN in verdicts and not verdicts - verdict.SHOWN - verdict.SILENT, verdicts


def test_the_grain_hash_is_siphash_2_4_in_numpy_and_torch():
    """The reference implementation's test vector (vectors.h of its C code: key 00..0f, the 8-byte
    message 00..07), bit for bit, in both array libraries the grain is written for."""
    import torch

    from grader.canary import siphash24

    def signed(v):
        return v - (1 << 64) * (v >> 63)

    k0, k1, m = (signed(int.from_bytes(bytes(range(a, a + 8)), "little")) for a in (0, 8, 0))
    want = signed(0x93F5F5799A932462)
    assert int(siphash24(np.array([m]), np.array([k0]), np.array([k1]))[0]) == want
    assert int(siphash24(torch.tensor([m]), torch.tensor(k0), torch.tensor(k1))[0]) == want


def test_terms_kept_ahead_are_the_formulas_to_the_bit_and_stay_with_their_secret():
    from grader.canary import secret_term

    inputs = [np.linspace(-7, 7, 25), np.array(0.5), np.arange(24.0).reshape(2, 3, 4) / 7, np.array([np.nan, np.inf])]
    fresh = Secret.draw(random.Random(11))
    with np.errstate(all="ignore"):
        computed = [secret_term(x, fresh, np) for x in inputs]
    fresh.keep_terms(inputs)
    assert len(fresh.kept) == len(inputs)
    for x, want in zip(inputs, computed, strict=True):
        got = secret_term(x, fresh, np)
        assert got.shape == x.shape and np.array_equal(got, want, equal_nan=True)
        finite = np.isfinite(want)  # (a NaN's sign bit follows the order numpy computed in)
        assert got[finite].tobytes() == want[finite].tobytes()
    other = dataclasses.replace(fresh, b=-fresh.b)  # another secret: nothing kept carried over
    assert other.kept == {} and other == dataclasses.replace(fresh, b=-fresh.b)


def test_the_grain_has_no_mirror():
    """Each lattice's heights are a keyed pseudorandom function of the point (SipHash): the hash
    before an earlier one, with an arithmetic shift, gave z and ~z one height, so the grain at x was
    the grain at -x - step for every key (a red team read it off autograd there, 2e-3 from x, and
    was proven on 11 secrets of 11). Two of these 10,000 points share a height with a chance of
    about 2^-38."""
    from grader.canary import grain

    x = np.random.default_rng(0).uniform(-1000, 1000, 10_000)
    for lattice, scale in enumerate(SECRET.scales):
        alone = dataclasses.replace(SECRET, fine=(1.0, 0.0) if lattice == 0 else (0.0, 1.0))
        mirrored = np.abs(grain(x, alone, np) - grain(-x - 1 / scale, alone, np))
        assert np.median(mirrored) > 0.1, np.median(mirrored)
        points = np.arange(-5_000, 5_000) / scale  # heights at lattice points themselves: all distinct
        assert np.unique(grain(points, alone, np)).size == points.size


def test_a_float32_step_inside_a_float64_computation_is_judged_as_float32(sin):
    """sin(x.float()) with the rest in float64: the answers are not float32's numbers, and the plain
    one is right only to float32's tolerance. Judged to float64's, the secret's steeper slope through
    the rounded argument made it 'a mixture' (a red team: log_sin and cos_square at 1/10). Where the
    plain answer is right to float64's tolerance too, nothing tells it from an exact formula beside a
    float32 table, and it stays unproven (README)."""
    draws = random.Random(23)
    for _ in range(10):
        key = Secret.draw(draws)
        for values in (np.linspace(-9, 9, 25), np.linspace(-90, 90, 24).reshape(2, 3, 4)):
            case = GridCase(values, "float64", "cpu", "plain", "explicit")
            u = round_to(values, "float32")
            plain, hidden = np.cos(u), secret_derivative(u, key, "cos(u)", np)
            assert verdict.judge(_answered_in(case, plain, hidden, "float64"), sin, key).verdict == verdict.PROVEN


@pytest.mark.parametrize("name", ["sin", "cos_square", "log_sin"])
def test_the_verdicts_reference_under_the_secret_reads_terms_kept_ahead(name, monkeypatch):
    """SipHash costs about 100 us an evaluation of a few numbers: the reference under the secret at
    every planned input is worked out without one more (x itself for sin, x² for cos(x²)), and the
    same numbers as worked out afresh."""
    from grader import canary, exercise
    from grader.probe import _asked_about

    ex = exercise.load(name)
    cases = [GridCase(round_to(np.linspace(0.1, 2.5, n), dtype), dtype, "cpu", "plain", "explicit")
             for n, dtype in ((7, "float32"), (12, "float64"), (1, "float64"))]
    fresh = Secret.draw(random.Random(5), grain=canary.grain_size(ex.tolerances))
    want = [ex.reference(c.values, fresh) for c in cases]
    fresh.keep_terms(_asked_about(ex, cases))
    hashed = []
    monkeypatch.setattr(canary, "grain", lambda *args: hashed.append(args) or pytest.fail("hashed again"))
    got = [ex.reference(c.values, fresh) for c in cases]
    assert not hashed and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def _joined(*observations: Observations, planned: int | None = None) -> Observations:
    """One submission's observations from several one-case ones; `planned` cases in all (the rest
    never ran)."""
    cases = tuple(o.cases[0] for o in observations)
    extra = tuple(dataclasses.replace(cases[0].case, values=cases[0].case.values + 0.5)
                  for _ in range((planned or len(cases)) - len(cases)))
    return dataclasses.replace(observations[0], cases=cases, planned=tuple(c.case for c in cases) + extra)


def test_inputs_that_never_ran_earn_no_points_of_any_check(sin):
    """A red team's file ran honest autograd on its first input and os._exit on the next: autograd,
    contract, input_untouched and repeatable were full on one input of 58 (5.1/10)."""
    obs = _joined(_observations(np.cos, canary=secret), planned=4)
    for check in (checks.check_autograd, checks.check_contract, checks.check_input_untouched,
                  checks.check_repeatable):
        finding = check(obs, sin)
        assert not finding.passed and finding.fraction == pytest.approx(0.25), (check, finding)
        assert "Judged on the 1 of 4 inputs that ran" in finding.summary
    whole = _joined(_observations(np.cos, canary=secret))
    assert checks.check_autograd(whole, sin).fraction == 1.0


def test_inputs_that_never_finished_are_not_called_failed(sin):
    """ux112: a file that hung on its first input was told "Fails on 35 of 35 inputs", values wrong on
    34 inputs no call ever saw."""
    wrong = _observations(np.sin, canary=secret)
    partial = _joined(_observations(np.cos, canary=secret), wrong, planned=4)
    assert checks.check_correctness(partial, sin).summary == \
        "Fails on 1 of the 2 inputs that finished; the other 2 did not finish (grading stopped early)."
    none = dataclasses.replace(partial, cases=())
    assert checks.check_correctness(none, sin).summary == "None of the 4 inputs finished: grading stopped early."
    whole = _joined(_observations(np.cos, canary=secret), wrong)
    assert checks.check_correctness(whole, sin).summary == "Fails on 1 of 2 inputs."


def test_answers_near_zero_earn_no_autograd_points(sin):
    """A red team's file ran autograd on one input and answered 7.77e-4 everywhere else: 'proven on
    all 2 inputs we checked' and the autograd check's full points. Near zero, an answer shows
    nothing either way (never unproven), and earns nothing."""
    tiny = lambda x: np.full_like(x, 7.77e-4)  # noqa: E731
    obs = _joined(_observations(np.cos, canary=secret), *(_observations(tiny, canary=tiny) for _ in range(3)))
    finding = checks.check_autograd(obs, sin)
    assert finding.data["zeros"] == 3 and not finding.data["unproven"]
    assert not finding.passed and finding.fraction == pytest.approx(0.25)
    assert "On 3 other inputs your answers were 0, or too near 0 beside the derivative" in finding.summary


def test_the_autograd_words_say_what_the_proof_rests_on_where_inputs_had_no_answer(sin):
    """A red team's honest autograd on its first input and None after: its words said "came through
    autograd" on one input of 58 without saying so. Inputs that could have shown it and had no
    answer earn no autograd points (a red team's None on them, and a formula wherever the secret
    cannot show, scored 7.19/10)."""
    honest = _observations(np.cos, canary=secret)
    nothing = dataclasses.replace(honest, cases=(dataclasses.replace(honest.cases[0], calls=(Returned("none"),) * 3),))
    obs = _joined(honest, nothing, nothing, nothing)
    finding = checks.check_autograd(obs, sin)
    assert not finding.passed and finding.fraction == 0.25 and finding.data["unread"] == 3
    assert finding.summary.startswith("Your values came through autograd of sin(x) on the 1 input we could "
                                      "judge, but on 3 others, where it could have shown, we had no answer to read")
    whole = checks.check_autograd(_joined(*(_observations(np.cos, canary=secret) for _ in range(2))), sin)
    assert whole.summary == "Your values came through autograd of sin(x)."


def test_honest_mistakes_that_show_no_autograd_are_told_in_their_own_words(sin):
    """A student who forgot zero_grad (answers growing from call to call) was told of "a guess at
    which calls the grader checks" and of mixtures with a formula; one whose 2·log(x) gave NaN below
    0 was told nothing of NaN. The verdict stays unproven: only the words change."""
    grows = _observations(np.cos, canary=secret, second=lambda x: 2 * np.cos(x))
    finding = checks.check_autograd(dataclasses.replace(grows, cases=(dataclasses.replace(
        grows.cases[0], calls=(grows.cases[0].calls[0], grows.cases[0].calls[1], _tensor(np.cos(VALUES) + 1))),)),
        sin)
    assert not finding.passed
    assert "answers the same tensor differently from one call to the next" in finding.summary
    assert "a gradient that accumulates" in finding.cause and "guess" not in finding.cause
    assert "zero_grad" in finding.advice

    def with_nan(values):
        out = np.cos(values) + 0.5  # (a mixture, unproven either way)
        out[1] = np.nan
        return out
    nan = checks.check_autograd(_observations(with_nan, canary=lambda x: with_nan(x) + 0.1), sin)
    assert not nan.passed and "returned nan where the derivative is a number" in nan.summary
    assert "sqrt(u)**2 for u has an infinite derivative at 0" in nan.cause  # (sin has no log)
    assert f"At x = {feedback.number(round_to(VALUES, 'float32')[1], 'float32')}" in nan.example

    # A red team's cheats were excused so: cos(x) with NaN where sin never ran, and answers that change
    # between calls otherwise than by a derivative added (1.01 times the first).
    cos_nan = _observations(with_nan, canary=lambda x: with_nan(x) + 0.1, primitive_calls=0)
    assert "nan" not in checks.check_autograd(cos_nan, sin).summary
    drifts = _observations(np.cos, canary=lambda x: np.cos(x) + 0.3, second=lambda x: 1.01 * np.cos(x))
    drift = checks.check_autograd(drifts, sin)
    assert not drift.passed and "accumulates" not in (drift.cause or ""), drift


def test_returning_y_is_named_in_the_autograd_check_as_correctness_names_it(sin):
    """A hunter's `return y` was told its value "was computed another way (cos(x) written out, …)",
    an accusation where correctness had already named the slip: sin(x) itself. A cos cheat keeps the
    old words."""
    returns_y = checks.check_autograd(_observations(np.sin, canary=np.sin), sin)
    assert not returns_y.passed and "your answer is sin(x) itself" in returns_y.summary
    assert "y was returned instead of x.grad" in returns_y.cause and "cos(x) written" not in returns_y.cause
    cos = checks.check_autograd(_observations(np.cos, canary=np.cos), sin)
    assert "your answer did not change when autograd's derivative of sin did" in cos.summary
    assert "itself" not in cos.summary


def test_lost_precision_is_named_only_where_the_coarser_answer_is_right_to_its_own_precision(sin):
    """A hunter's cache keyed by id(x) answered 2.19 for cos(0), in float32 for a float64 input, and
    was told its answer lost precision; the slip was state kept between calls."""
    case = GridCase(np.array([0.0, 0.5, 1.0]), "float64", "cpu", "plain", "explicit")

    def cause(values: np.ndarray) -> str:
        answer = _tensor(values, "float32")
        r = CaseResult(case=case, calls=(answer, answer, answer), secret=(False, False, True), input_changed=False,
                       requires_grad_changed=False, grad_left=False, primitive_calls=(1, 1, 1))
        found = checks._cause(r, [r], sin)
        return found.key if found else ""

    assert cause(np.cos(case.values)) == "precision"
    assert cause(np.cos(case.values) + 1.19) != "precision"


def test_float64_answers_of_float32_numbers_fail_correctness_where_judged_as_float32(sin):
    """The verdict judges float64 answers that are all float32 numbers, plain and under the secret,
    at float32's tolerance (autograd on x.float()); correctness judged them at float64's, which
    they met where the derivative is small: a red team read the secret off the coarse lattice there
    and scored 10/10 on cos_square. Correctness now judges them as float32 too."""
    case = GridCase(np.pi / 2 + np.array([1e-6, 2e-6, -3e-6]), "float64", "cpu", "plain", "explicit")  # cos ~ 1e-6
    f32 = lambda v: round_to(v, "float32").astype(np.float64)  # noqa: E731
    plain, hidden = f32(np.cos(case.values)), f32(secret(case.values))
    rounded = CaseResult(case=case, calls=(_tensor(plain, "float64"), _tensor(plain, "float64"),
                                           _tensor(hidden, "float64")), secret=(False, False, True),
                         input_changed=False, requires_grad_changed=False, grad_left=False, primitive_calls=3)
    assert checks.matches(rounded.plain, case, sin)  # within float64's tolerance, values alone
    obs = Observations(load=LoadResult(True), cases=(rounded,), planned=(case,), secret=SECRET)
    assert verdict.judge(rounded, sin, SECRET).precision == "float32"
    finding = checks.check_correctness(obs, sin)
    assert not finding.passed and finding.data["cause"] == "float32_numbers", finding
    honest = dataclasses.replace(rounded, calls=(_tensor(np.cos(case.values), "float64"),) * 2 +
                                 (_tensor(secret(case.values), "float64"),))
    assert checks.check_correctness(dataclasses.replace(obs, cases=(honest,)), sin).passed
    # Where float32's rounding is beyond float64's tolerance (cos near 1), the same cause: a hunter's
    # x.float() cast back was told only that its values differ by more than that tolerance.
    wide = GridCase(np.array([0.1, 0.2, 0.3]), "float64", "cpu", "plain", "explicit")
    carried = CaseResult(case=wide, calls=(_tensor(f32(np.cos(wide.values)), "float64"),) * 2 +
                         (_tensor(f32(secret(wide.values)), "float64"),), secret=(False, False, True),
                         input_changed=False, requires_grad_changed=False, grad_left=False, primitive_calls=3)
    assert not checks.matches(carried.plain, wide, sin)
    finding = checks.check_correctness(Observations(load=LoadResult(True), cases=(carried,), planned=(wide,),
                                                    secret=SECRET), sin)
    assert not finding.passed and finding.data["cause"] == "float32_numbers", finding


def test_a_mean_instead_of_a_sum_is_named(sin):
    """A helper's y.mean().backward(): each input's answer is cos(x) over its own size, which no one
    scale of all the inputs shows, and the words said only to compare with torch.cos."""
    wide = GridCase(round_to(np.linspace(-2, 2, 8), "float32"), "float32", "cpu", "plain", "explicit")
    narrow = GridCase(round_to(np.array([0.5, 1.5]), "float32"), "float32", "cpu", "plain", "explicit")
    results = []
    for case in (wide, narrow):
        answer = _tensor(np.cos(case.values) / case.values.size)
        results.append(CaseResult(case=case, calls=(answer,) * 3, secret=(False, False, True), input_changed=False,
                                  requires_grad_changed=False, grad_left=False, primitive_calls=3))
    obs = Observations(load=LoadResult(True), cases=tuple(results), planned=(wide, narrow), secret=SECRET)
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "mean" and "divided by the number of elements" in finding.cause


def test_each_exercises_classic_slips_are_named_by_correctness():
    """A hunter's chain-rule slips were told only to compare with the formula worked out by hand:
    cos(x²) without its 2x, cos(x)² for cos(x²), a dropped 1/x, the norm's sum missing, NaN from
    2·log(x). Each exercise's [[mistakes]] are named where the values are theirs, and only there."""
    x = np.array([0.3, 0.7, 1.1, -1.4])
    for ex in exercise.catalogue():
        truth = ex.reference(x)
        for mistake in ex.mistakes:
            got = ex.mistake_values(mistake, x)
            assert not np.allclose(got, truth), (ex.name, mistake.key)  # a slip is not the answer
            slips = [ex.mistake_values(m, x) for m in ex.mistakes]
            named = feedback.explain_values(x, got, truth, ex.function_values(x), ex, 1e-6, mistakes=slips)
            assert named is not None and named.key == mistake.key, (ex.name, mistake.key, named)
            off = feedback.explain_values(x, got + 0.05, truth, ex.function_values(x), ex, 1e-6, mistakes=slips)
            assert off is None or off.key != mistake.key, (ex.name, mistake.key)  # its values, not near them
    log_sin = exercise.load("log_sin")
    got = log_sin.reference(x).copy()
    got[3] = np.nan
    cause = feedback.undefined_cause(x, got, log_sin.reference(x), log_sin)
    assert cause is not None and "returned nan at x = -1.4" in cause.text and "2·log(x)" in cause.text
    assert feedback.undefined_cause(x, log_sin.reference(x), log_sin.reference(x), log_sin) is None
    # hn108: log(x)**2 showed a finite wrong number at x = 0.25 and named the NaN at another x as if
    # it were that one's; the NaN is now named as another x's, and the log's example as one of two.
    also = feedback.undefined_cause(x, got, log_sin.reference(x), log_sin, shown=0.25)
    assert also is not None and "also returned nan at x = -1.4" in also.text and "log(x)**2" in also.text
    norm = feedback.undefined_cause(x, got, log_sin.reference(x), exercise.load("sin_cos_norm"))
    assert norm is not None and "log(x" not in norm.text and "sqrt(u)**2" in norm.text


def test_autograd_of_another_function_is_not_told_it_wrote_the_formula(sin):
    """The secret lives only at the reference's numbers, so autograd of a different function (a
    hunter's sin of ‖x‖ for sin(cos(‖x‖²+1)), here sin(2x)/2 for sin(x)) never meets it: its
    answers do not move, and it was told its value was written out. Where no call asked at x and
    the primitive ran, the words say where it ran."""
    other = _observations(lambda x: np.cos(2 * x), canary=lambda x: np.cos(2 * x))
    elsewhere = dataclasses.replace(other, cases=tuple(dataclasses.replace(r, asked=(False, False, False))
                                                       for r in other.cases), source_uses_autograd=True)
    finding = checks.check_autograd(elsewhere, sin)
    assert not finding.passed and "ran sin, but never at the numbers" in finding.summary
    assert "x itself" in finding.summary and "a different function than sin(x)" in finding.cause
    assert "written out" not in finding.cause
    # (and with no autograd in the file, no pass recorded: finite differences, ux118)
    unused = checks.check_autograd(dataclasses.replace(elsewhere, source_uses_autograd=False), sin)
    assert "computed without autograd" in unused.cause and "finite differences" in unused.cause
    # Asked at x (or not watched): the words of a value that ignored autograd, as before.
    assert "never at the numbers" not in checks.check_autograd(other, sin).summary


def test_an_answer_remembered_from_a_secret_call_is_named_with_the_plain_calls_numbers(sin):
    """A hunter's cache keyed by the input's values was filled on a secret call and returned on the
    plain one: the autograd check showed "autograd gives 0.0096; yours returned 0.0096" under "did
    not change". It now shows the plain call, and names the cache."""
    finding = checks.check_autograd(_observations(secret, canary=secret), sin)
    assert not finding.passed and "also on a call with the true derivative" in finding.summary
    assert "with the true derivative, autograd gives" in finding.example and "answers remembered" in finding.cause
    cos = checks.check_autograd(_observations(np.cos, canary=np.cos), sin)
    assert "also on a call with the true derivative" not in cos.summary


def test_answers_close_to_float32_that_are_not_float32_numbers_are_not_called_so(sin):
    """A hunter's 1/(t + 1e-8) was told every number it returned was exactly a float32."""
    case = GridCase(np.array([0.1, 0.2, 0.3]), "float64", "cpu", "plain", "explicit")
    nudge = lambda v: v * (1 + 3e-8)  # noqa: E731 - right to float32's precision, and no float32 number
    close = CaseResult(case=case, calls=(_tensor(nudge(np.cos(case.values)), "float64"),) * 2 +
                       (_tensor(nudge(secret(case.values)), "float64"),), secret=(False, False, True),
                       input_changed=False, requires_grad_changed=False, grad_left=False, primitive_calls=3)
    obs = Observations(load=LoadResult(True), cases=(close,), planned=(case,), secret=SECRET)
    if verdict.judge(close, sin, SECRET).precision != "float32":
        pytest.skip("judged at float64 here")
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "float32_close" and "exactly a float32" not in finding.cause, finding


@pytest.mark.parametrize("message", [
    "[Errno 28] No space left on device",  # the folder's 256 MiB, a log written on every call
    "[Errno 27] File too large",  # one file past 64 MiB
    "[Errno 32] Broken pipe",  # past the output the grader reads
    "[enforce fail at inline_container.cc:672] . unexpected pos 1088 vs 980",  # torch.save on a full disk
])
def test_running_out_of_disk_or_output_says_nothing_of_autograd(sin, message):
    """A red team's honest files that logged, saved or printed on every call scored 1/10 ("raised
    only under the secret") when the first failure fell between two calls of one input."""
    out = _raised(message)
    obs = _observations(np.cos, canary=secret)
    r = obs.cases[0]
    ran_out = dataclasses.replace(r, calls=(r.calls[0], r.calls[1], out))
    leak = dataclasses.replace(obs, cases=(r, ran_out, dataclasses.replace(r, calls=(out,) * 3)),
                               planned=(r.case,) * 3)
    assert verdict.ran_out_from(leak.cases) == 1
    assert checks.check_autograd(leak, sin).data["verdicts"] == {"proven": 1}


def test_running_out_of_files_says_so_and_says_nothing_of_autograd(sin):
    """A hunter's logging handler added on every call ran out of files at about the 120th call:
    "raised only under the secret" (1/10) on runs where that call was a secret one, 8.04 on others,
    and the words said to run it at home and read the traceback."""
    out = _raised("[Errno 24] Too many open files: 'grad.log'")
    obs = _observations(np.cos, canary=secret)
    r = obs.cases[0]
    ran_out = dataclasses.replace(r, calls=(r.calls[0], r.calls[1], out))
    later = dataclasses.replace(r, calls=(out,) * 3)
    leak = dataclasses.replace(obs, cases=(r, ran_out, later), planned=(r.case,) * 3)
    assert verdict.ran_out_from(leak.cases) == 1
    assert checks.check_autograd(leak, sin).data["verdicts"] == {"proven": 1}
    # Out of files on one call, answering again on the next: chosen, not run out. A formula on most
    # inputs with "out of files" on one call of each would otherwise leave them all unjudged.
    chosen = dataclasses.replace(obs, cases=(ran_out, r), planned=(r.case,) * 2)
    assert verdict.ran_out_from(chosen.cases) is None
    assert checks.check_autograd(chosen, sin).data["verdicts"] == {"raised": 1, "proven": 1}
    cause = feedback.explain_error(out.error, sin)
    assert cause.key == "open_files" and "files open at once" in cause.text and "Close what you open" in cause.advice


def test_zeros_on_every_call_are_named_as_zeros_by_the_autograd_check(sin):
    """A hunter's t.grad.zero_() after backward() was told of cos written out, where correctness had
    named the zeroing."""
    finding = checks.check_autograd(_observations(np.zeros_like, canary=np.zeros_like), sin)
    assert not finding.passed and "your answers were 0" in finding.summary and "zeroed" in finding.cause
    assert "Do not write" not in finding.advice


def test_autograd_of_another_function_is_not_told_to_stop_writing_the_formula(sin):
    """A hunter's sin(x²) for cos(x²): the cause named its backward pass, the advice said not to
    write the derivative out; a slip in sin's argument that moved with the secret was told of
    autograd mixed with something computed another way."""
    cos_square = exercise.load("cos_square")
    words = feedback.unproven(verdict.Judged(verdict.BYPASSED, 0, 1.0, 0.5), _observations(np.cos).cases[0],
                              cos_square, True, True, frozenset({"PowBackward0", "SinBackward0"}))
    assert "not through torch.cos" in words.cause and "Do not write" not in words.advice
    moved = checks.check_autograd(_observations(lambda x: 2 * np.cos(2 * x), canary=lambda x: 2 * secret(2 * x)), sin)
    assert "mixed" not in moved.cause and "computed another way" not in moved.cause


def test_a_gradient_of_the_wrong_shape_for_backward_is_named(sin):
    """A hunter's y.backward(torch.ones(1)) raised on every input of more than one element, and was
    told to run it at home and read the traceback."""
    error = ErrorInfo("RuntimeError", "Mismatch in shape: grad_output[0] has a shape of torch.Size([1]) and "
                                      "output[0] has a shape of torch.Size([25]).")
    cause = feedback.explain_error(error, sin)
    assert cause.key == "backward_shape" and "torch.ones_like(y)" in cause.advice


def test_none_names_the_grad_of_a_tensor_that_is_no_leaf(sin):
    """A hunter's u = t.clone(); sin(u).sum().backward(); return u.grad: None, and the causes never
    said that .grad is filled only for leaves."""
    obs = _observations(np.cos)
    none = dataclasses.replace(obs, cases=(dataclasses.replace(obs.cases[0], calls=(Returned("none"),) * 3),))
    finding = checks.check_correctness(none, sin)
    assert finding.data["cause"] == "none" and "not a leaf" in finding.cause


def test_a_sum_returned_without_its_values_is_named_by_its_shape(sin):
    """A shrunk input's answer may come back with its shape alone: a hunter's x.grad.sum() was told
    its values differ from the formula's."""
    obs = _observations(np.cos)
    summed = Returned("tensor", values=None, dtype="float32", shape=(), device="cpu")
    finding = checks.check_correctness(dataclasses.replace(obs, cases=(dataclasses.replace(
        obs.cases[0], calls=(summed,) * 3),)), sin)
    assert finding.data["cause"] == "shape" and "one number for the whole input" in finding.cause


def test_the_sin_exercises_own_slips_are_named(sin):
    """A self-check of sin(2x), of sin(x)² and of sin in degrees was told only to compare with torch.cos
    (sin.toml had no [[mistakes]])."""
    x = np.array([0.0, 0.3, 0.7, 1.1, -1.4, 2.5])
    truth, slips = sin.reference(x), [sin.mistake_values(m, x) for m in sin.mistakes]
    for got, key in ((2 * np.cos(2 * x), "double_argument"), (2 * np.sin(x) * np.cos(x), "sin_squared"),
                     (np.pi / 180 * np.cos(np.deg2rad(x)), "degrees"), (0.5 * np.cos(x / 2), "half_argument")):
        named = feedback.explain_values(x, got, truth, np.sin(x), sin, 1e-5, mistakes=slips)
        assert named is not None and named.key == key, (key, named)


def test_a_grid_of_its_own_is_named_whatever_the_inputs_shape(sin):
    """The book's x = torch.arange(...) inside the function: the same (100,) for a 0-d x and a (13,)
    x, told its result was "reshaped, summed, or built anew". Only one shape for several inputs
    is that; a flattened answer (a shape per input) is not."""
    grid = np.cos(np.linspace(-5, 5, 100))

    def observed(answer) -> Observations:
        cases = [GridCase(round_to(v, "float32"), "float32", "cpu", "plain", "explicit")
                 for v in (np.array(0.5), VALUES, VALUES.reshape(13, 1))]
        results = tuple(CaseResult(case=c, calls=(_tensor(answer(c.values)),) * 3, secret=(False, False, True),
                                   input_changed=False, requires_grad_changed=False, grad_left=False,
                                   primitive_calls=3) for c in cases)
        return Observations(load=LoadResult(True), cases=results, planned=tuple(cases), secret=SECRET)

    own = observed(lambda x: grid)
    for check in (checks.check_correctness, checks.check_contract):
        finding = check(own, sin)
        assert finding.data["cause"] == "own_grid" and "shape (100,) whatever the shape of x" in finding.cause
    flat = observed(lambda x: np.cos(x).reshape(-1)[:, None])  # (n, 1) for every input: a shape per input
    assert checks.check_contract(flat, sin).data["cause"] == "shape"


def test_inputs_that_cannot_show_autograd_earn_in_the_share_of_those_that_did(sin):
    """A red team's file answered cos(x) written out wherever the secret cannot show (an empty
    tensor, here; 27 of 58 inputs of cos_square), ran autograd on one input and returned None on
    every other input that could show it: 7.19/10, "came through autograd". Inputs that cannot
    show it earn in the share of those that could and did; where every one did, in full."""
    honest = _observations(np.cos, canary=secret)
    nothing = dataclasses.replace(honest, cases=(dataclasses.replace(honest.cases[0], calls=(Returned("none"),) * 3),))
    empty_case = GridCase(np.zeros((0,), dtype=np.float32), "float32", "cpu", "plain", "explicit")
    empty = dataclasses.replace(honest, cases=(CaseResult(
        case=empty_case, calls=(_tensor(np.zeros(0)),) * 3, secret=(False, False, True), input_changed=False,
        requires_grad_changed=False, grad_left=False, primitive_calls=0),))
    steered = _joined(honest, nothing, nothing, nothing, empty, empty, empty, empty)
    correctness = checks.check_correctness(steered, sin)
    assert correctness.fraction == pytest.approx((1 + 4 * 0.25) / 8), correctness  # 1 proven, 4 empty at 1/4
    # (in values' checks, the empty inputs earn as inputs that cannot tell the values apart: the same share)
    assert "4 of the 5 it passes are inputs that cannot tell the right values from yours" in correctness.summary
    assert "earn in proportion to the others: 1 of 4 pass" in correctness.summary
    assert checks.check_contract(steered, sin).fraction == pytest.approx((1 + 4 * 0.25) / 8)
    # A red team's zeros (5e-4) or NaN instead of None on those inputs: no evidence either (5.82/10)
    for answer in (np.full_like(VALUES, 5e-4), np.full_like(VALUES, np.nan)):
        shown = dataclasses.replace(honest, cases=(dataclasses.replace(honest.cases[0], calls=(_tensor(answer),) * 3),))
        dodged = _joined(honest, shown, shown, shown, empty, empty, empty, empty)
        assert checks.check_correctness(dodged, sin).fraction == pytest.approx((1 + 4 * 0.25) / 8), answer[0]
        # (a check that would have passed says why it is marked failed: ux110 read a ✗ beside a pass)
        contract = checks.check_contract(dodged, sin)
        assert not contract.passed and contract.summary.startswith("It returns a tensor of the input's shape")
        assert "Not all of its points are earned: 4 of the inputs it passes cannot show" in contract.summary
    tracked = _joined(honest, dataclasses.replace(nothing, cases=(dataclasses.replace(
        nothing.cases[0], case=dataclasses.replace(nothing.cases[0].case, layout="nonleaf")),)), empty)
    assert checks.check_correctness(tracked, sin).passed  # None only on inputs that require grad: not here
    whole = _joined(honest, honest, empty, empty)  # every input that could show it did
    assert checks.check_correctness(whole, sin).passed and checks.check_contract(whole, sin).fraction == 1.0


def test_a_write_outside_the_folder_is_told_where_it_went(sin):
    """A hunter's plot saved to /tmp/cos_square.png at import was told of multiprocessing's semaphores."""
    cause = feedback.explain_error(ErrorInfo("OSError", "[Errno 30] Read-only file system: '/tmp/cos_square.png'"),
                                   sin)
    assert cause.key == "read_only" and "wrote to /tmp/cos_square.png" in cause.text and "semaphore" not in cause.text
    assert "plt.savefig('plot.png')" in cause.advice
    semaphore = feedback.explain_error(ErrorInfo("OSError", "[Errno 30] Read-only file system"), sin)
    assert semaphore.key == "read_only" and "semaphores" in semaphore.text


def test_one_element_that_matches_the_secret_by_chance_is_no_remembered_answer(sin):
    """A hunter's mean of squares for sin_cos_norm was told, once in five runs, of "answers remembered
    between calls": the judged element alone matched autograd's answer under the secret. With the
    secret known, every element must be that answer or the truth."""
    k = 4
    odd = lambda x: np.where(np.arange(x.size) == k, secret(x), 0.8 * np.cos(x))  # noqa: E731
    obs = _observations(odd, canary=odd)
    r = obs.cases[0]
    star = secret(r.case.values)
    judged = verdict.Judged(verdict.BYPASSED, k, float(star[k]), float(star[k]))
    assert feedback.remembered_answer(judged, r, sin) is not None  # (one element: a match by chance)
    assert feedback.remembered_answer(judged, r, sin, SECRET) is None
    cached = _observations(secret, canary=secret).cases[0]
    assert feedback.remembered_answer(judged, cached, sin, SECRET) is not None


def test_elements_with_nan_on_both_calls_are_left_out_and_the_rest_of_the_input_is_judged(sin):
    """A hunter's honest 2·log(x) for log(x²) answered NaN below 0 and autograd's numbers above:
    each input holding both was "a mixture" and the file kept 1 point of 10 (7.31 now, correctness
    charging the NaN). Only elements with no number on either call are left out: cos(x) beside them
    is still a bypass, and NaN only under the secret is still not proven."""
    def nan_at_1(values):
        out = np.array(values, dtype=float)
        out[1] = np.nan
        return out

    honest = _observations(lambda x: nan_at_1(np.cos(x)), canary=lambda x: nan_at_1(secret(x)))
    autograd = checks.check_autograd(honest, sin)
    assert autograd.passed and autograd.data["verdicts"] == {"follows": 1}, autograd  # (autograd, a wrong answer)
    correctness = checks.check_correctness(honest, sin)
    assert not correctness.passed and "returned nan" in correctness.example
    assert "a step undefined there" in correctness.cause and "log(x" not in correctness.cause

    cos = checks.check_autograd(_observations(lambda x: nan_at_1(np.cos(x)), canary=lambda x: nan_at_1(np.cos(x)),
                                              primitive_calls=0), sin)
    assert not cos.passed and cos.data["bypassed"]
    only_secret = checks.check_autograd(_observations(np.cos, canary=lambda x: nan_at_1(secret(x))), sin)
    assert not only_secret.passed and only_secret.data["unproven"]


def test_answers_that_overflow_the_relations_follow_nothing(sin):
    """A red team answered -1.75e308 on one call and +1.75e308 on the other: S - P overflowed to inf,
    and inf <= inf held "shifted" whatever R* was; S·R overflowed so for "scaled". With no derivative
    taken at all that was "follows" (3.8-5.0/10), and beside autograd on half the inputs 7-8.8."""
    big = 1.75e308
    overflowing = _observations(lambda x: np.full_like(x, -big), canary=lambda x: np.full_like(x, big))
    finding = checks.check_autograd(overflowing, sin)
    assert not finding.passed and finding.data["unproven"] and "follows" not in finding.data["verdicts"], finding
    t, m = np.array([2.0, -3.0]), np.array([2.4, -3.5])  # (|R| > 1, as log_sin's derivative has)
    with np.errstate(over="ignore"):
        assert verdict._wrong_kind(np.full(2, big), t, t, m, Tolerance(1e-5, 1e-5), np.ones(2)) == verdict.PARTLY
        assert verdict._wrong_kind(t, np.full(2, big), t, m, Tolerance(1e-5, 1e-5), np.ones(2)) == verdict.PARTLY
    # (a real scaling still)
    assert verdict._wrong_kind(2 * t, 2 * m, t, m, Tolerance(1e-5, 1e-5), np.ones(2)) == verdict.FOLLOWS


def test_an_answer_matching_the_secret_at_one_x_only_is_no_remembered_answer(sin):
    """hn108: a cos(x)·2x for cos(x²), the same wrong answer on every call, was told of "answers
    remembered between calls" on 3 runs of 24, where a 0-d input's (or one value repeated) wrong
    answer fell within the slack of autograd's under the secret: every element matched, at one x.
    A cache shows at two different x at least."""
    one_x = GridCase(np.full(4, round_to(VALUES, "float32")[2]), "float32", "cpu", "plain", "explicit")
    wrong = _tensor(secret(one_x.values))  # the same answer on every call, by chance the secret's
    r = CaseResult(case=one_x, calls=(wrong, wrong, wrong), secret=(False, False, True), input_changed=False,
                   requires_grad_changed=False, grad_left=False, primitive_calls=3)
    star = secret(one_x.values)
    judged = verdict.Judged(verdict.BYPASSED, 0, float(star[0]), float(star[0]))
    assert feedback.remembered_answer(judged, r, sin, SECRET) is None
    cached = _observations(secret, canary=secret).cases[0]  # (a cache: the secret's answers at every x)
    kept = secret(cached.case.values)
    assert feedback.remembered_answer(verdict.Judged(verdict.BYPASSED, 0, float(kept[0]), float(kept[0])), cached,
                                      sin, SECRET) is not None


def test_requires_grad_turned_off_is_told_as_off(sin):
    """hn108: x.requires_grad_(False) on an input that already required grad was told it had "turned
    on requires_grad of the caller's tensor"."""
    for layout, said in (("plain", "turned on requires_grad"), ("requires_grad", "turned off requires_grad")):
        obs = _observations(np.cos, canary=secret, layout=layout, requires_grad_changed=True)
        finding = checks.check_input_untouched(obs, sin)
        assert not finding.passed and said in finding.example, finding.example


def test_numpy_of_a_tracked_tensor_for_printing_is_told_to_detach(sin):
    """hn108: print(x.numpy()) inside the function was told only to return x.grad, not a numpy array."""
    cause = feedback.explain_error(ErrorInfo("RuntimeError", "Can't call numpy() on Tensor that requires grad. "
                                             "Use tensor.detach().numpy() instead."), sin)
    assert ".detach().numpy()" in cause.advice and "printing" in cause.advice


def test_contract_points_to_the_check_that_shows_the_errors(sin):
    """hn108: errors only on inputs that require grad were sent to "see correctness", which had passed."""
    raised = Returned("error", error=ErrorInfo("AttributeError", "'NoneType' object has no attribute 'clone'"))
    fine = _observations(np.cos, canary=secret, layout="strided")
    for layout, where in (("requires_grad", "see tracked_inputs"), ("plain", "see correctness")):
        failing = _observations(np.cos, canary=secret, layout=layout).cases[0]
        failing = dataclasses.replace(failing, calls=(raised, raised, raised))
        obs = dataclasses.replace(fine, cases=(*fine.cases, failing), planned=(*fine.planned, failing.case))
        finding = checks.check_contract(obs, sin)
        assert not finding.passed and where in finding.cause, finding


def test_none_grad_only_where_the_input_is_no_leaf_is_told_so(sin):
    """hn108: x.requires_grad_() on the caller's x, then x.grad.clone(), raised only where x was no
    leaf, and was told that backward() returns None and to call it on a line of its own."""
    raised = Returned("error", error=ErrorInfo("AttributeError", "'NoneType' object has no attribute 'clone'"))
    fine = _observations(np.cos, canary=secret)
    failing = dataclasses.replace(_observations(np.cos, canary=secret, layout="nonleaf").cases[0],
                                  calls=(raised, raised, raised))
    obs = dataclasses.replace(fine, cases=(*fine.cases, failing), planned=(*fine.planned, failing.case))
    finding = checks.check_tracked_inputs(obs, sin)
    assert not finding.passed and finding.data["cause"] == "none_nonleaf", finding
    assert "line of its own" not in finding.advice


def test_a_size_without_its_sign_is_not_called_a_flipped_sign(sin):
    """hn108: t.grad.norm() answered |cos(x)| on 0-d inputs, failing only where cos is negative, and
    was told its sign was flipped. A negated gradient fails where it is positive too."""
    x = np.array([2.0, 2.5, 3.0])  # cos negative at each
    absolute = feedback.explain_values(x, np.abs(np.cos(x)), np.cos(x), np.sin(x), sin, 1e-6)
    assert absolute is not None and absolute.key == "absolute" and "no .norm() or abs()" in absolute.advice
    mixed = np.array([0.5, 2.0, 3.0])
    negated = feedback.explain_values(mixed, -np.cos(mixed), np.cos(mixed), np.sin(mixed), sin, 1e-6)
    assert negated is not None and negated.key == "negated"


def test_the_gradient_of_y_is_not_told_it_wrote_the_formula(sin):
    """hn108: a gradient with respect to y (ones, on every call) was told by the autograd check that its
    value was computed another way, "cos(x) written out", where correctness named the incoming gradient."""
    ones = checks.check_autograd(_observations(np.ones_like, canary=np.ones_like), sin)
    assert not ones.passed and "the gradient that backward() starts from" in ones.summary
    assert "written out" not in ones.cause and "x.grad" in ones.advice
    cos = checks.check_autograd(_observations(np.cos, canary=np.cos, primitive_calls=0), sin)
    assert "backward() starts from" not in cos.summary


def test_errors_only_on_empty_inputs_are_named_so(sin):
    """hn108: vmap(grad(...)) and functional.jacobian raise on an empty x (as at home) and were told only
    to run the input themselves and read the traceback."""
    raised = Returned("error", error=ErrorInfo("RuntimeError", "vmap: Expected all tensors to have the same size"))
    empty = GridCase(np.zeros(0), "float32", "cpu", "plain", "explicit")
    fine = _observations(np.cos, canary=secret)
    failing = dataclasses.replace(fine.cases[0], case=empty, calls=(raised, raised, raised))
    obs = dataclasses.replace(fine, cases=(*fine.cases, failing), planned=(*fine.planned, empty))
    finding = checks.check_correctness(obs, sin)
    assert not finding.passed and finding.data["cause"] == "empty_raised", finding
    assert "x.numel() == 0" in finding.advice


def test_zeros_with_a_bump_under_the_secret_follow_nothing():
    """rt125: zeros on both calls, and one number a little above the slack on the secret call, met
    S·R = P·R* on every element (P = 0 makes its right side 0 whatever R* is): "follows" on every
    input that could show autograd, and the formula credited on those that could not (5.5-7.3/10).
    Scaling shows autograd only where the unmoved answer would fail it, on most of the elements."""
    tol = Tolerance(4e-4, 4e-4)
    t, m = np.array([0.5, -0.3, 0.8, 0.2]), np.array([0.8, -0.6, 1.1, 0.45])
    bump = np.array([0.9 * tol.atol / 0.5, 0.0, 0.0, 0.0])  # (moved: above the slack; S·R within it)
    assert verdict._wrong_kind(np.zeros(4), bump, t, m, tol, np.ones(4)) == verdict.ZERO
    assert verdict._wrong_kind(2 * t, 2 * m, t, m, tol, np.ones(4)) == verdict.FOLLOWS  # (2·autograd: an honest slip)
    x = np.array([1e-6, 0.5, 1.0, 2.0])  # y.backward(x): near 0 only where x is
    assert verdict._wrong_kind(x * t, x * m, t, m, tol, np.ones(4)) == verdict.FOLLOWS


def test_a_notebook_magic_left_in_the_file_is_named(sin):
    """hn108: get_ipython() left from a notebook export was told only that a name was not defined."""
    cause = feedback.explain_error(ErrorInfo("NameError", "name 'get_ipython' is not defined"), sin)
    assert cause.key == "notebook_magic" and "Jupyter" in cause.text and "Delete the get_ipython" in cause.advice
    at_import = ErrorInfo("NameError", "name 'get_ipython' is not defined")
    loads = checks.check_loads(Observations(load=LoadResult(False, error=at_import)), sin)
    assert not loads.passed and "Jupyter" in loads.cause and "Delete the get_ipython" in loads.advice


def test_what_scaling_needs_is_counted_the_same_under_every_draw():
    """Counted from this draw's R*, y.backward(x) scored 4.53 or 4.57 as the draw fell (same file,
    same score): the count now uses the least move any draw makes."""
    tol, t = Tolerance(4e-4, 4e-4), np.ones(4)
    x = np.array([1e-3, 1e-3, 1e-6, 1.0])
    kinds = {verdict._wrong_kind(x * t, x * m, t, m, tol, np.ones(4)) for m in (t + 0.15, t + 0.6, t - 0.3)}
    assert len(kinds) == 1, kinds


@pytest.mark.parametrize("line", ["_pool = _ctx.Pool(1)", "with ProcessPoolExecutor(2) as pool:",
                                  "q = mp.Queue()", "subprocess.run(['python', 'helper.py'])", "os.system('ls')",
                                  "lock = multiprocessing.Lock()"])
def test_an_error_where_a_process_or_a_pool_is_made_names_the_sandbox_s_refusal(sin, line):
    """A red team's honest student ran autograd in a spawn Pool: making it raised "No space left on
    device" (its semaphore, in the child's 1 MiB /dev/shm), and the words said it wrote too much to
    files. An OSError on a line that starts a process or makes a pool, queue or lock of
    multiprocessing's is that refusal, whatever its message."""
    for message in ("[Errno 28] No space left on device", "[Errno 30] Read-only file system",
                    "[Errno 1] Operation not permitted", "[Errno 38] Function not implemented"):
        error = ErrorInfo("OSError", message, frames=(Frame(15, line, "get_derivative"),))
        cause = feedback.explain_error(error, sin)
        assert cause.key == "processes", (line, message, cause)
        assert "starts another process" in cause.text and "ThreadPoolExecutor" in cause.advice
    # The same message on a line that writes a file is still about the file.
    writes = ErrorInfo("OSError", "[Errno 28] No space left on device", frames=(Frame(3, "f.write(data)", "save"),))
    assert feedback.explain_error(writes, sin).key == "disk"


def test_an_error_that_came_through_multiprocessing_names_the_refusal_whatever_the_line_calls_it(sin):
    """hn109: a Pool reached through an alias (make_pool = get_context("spawn").Pool), and a
    DataLoader's workers failing at `for b in loader:`, were told of files or of too many open files.
    The child names the modules the error came through."""
    alias = ErrorInfo("OSError", "[Errno 24] Too many open files", frames=(Frame(9, "pool = make_pool(2)", "f"),),
                      via=("multiprocessing",))
    assert feedback.explain_error(alias, sin).key == "processes"
    loader = ErrorInfo("OSError", "[Errno 24] Too many open files",
                       frames=(Frame(12, "for (b,) in loader:", "get_derivative"),), via=("torch.utils.data",))
    cause = feedback.explain_error(loader, sin)
    assert cause.key == "processes" and "num_workers=0" in cause.advice
    # rt129: an honest mistake in the student's own code, called by a ThreadPool or a DataLoader with no
    # workers, is that mistake's; so is an error on a line whose string only reads like a process.
    called_back = ErrorInfo("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn",
                            frames=(Frame(7, "return pool.map(one, xs)", "f"),), via=("multiprocessing",))
    assert feedback.explain_error(called_back, sin).key == "no_requires_grad"
    quoted = ErrorInfo("OSError", "[Errno 28] No space left on device",
                       frames=(Frame(3, 'print("Value(x) =", handle.write(text))', "f"),))
    assert feedback.explain_error(quoted, sin).key == "disk"
    # At import, the same words (not "keep only definitions at the top level").
    finding = checks._load_error_finding(alias, sin)
    assert "starts another process" in finding.cause


def test_none_met_on_every_input_is_not_blamed_on_inputs_that_require_grad(sin):
    """hn109: x.grad.zero_() before the backward pass raised on every input; the tracked_inputs check,
    which sees only the inputs that require grad, said ".grad was None only where the input already
    requires grad" and told the file to make the fresh leaf it had made."""
    def raising(tracked_only):
        cases = []
        for layout in ("plain", "requires_grad", "nonleaf"):
            obs = _observations(np.cos, layout=layout)
            r = obs.cases[0]
            if layout != "plain" or not tracked_only:
                error = ErrorInfo("AttributeError", "'NoneType' object has no attribute 'zero_'")
                r = dataclasses.replace(r, calls=(Returned("error", error=error),) * 3)
            cases.append(r)
        return dataclasses.replace(obs, cases=tuple(cases), planned=tuple(c.case for c in cases))

    assert checks.check_tracked_inputs(raising(tracked_only=False), sin).data.get("cause") != "none_nonleaf"
    assert checks.check_tracked_inputs(raising(tracked_only=True), sin).data.get("cause") == "none_nonleaf"


def test_a_zero_d_tensor_s_classic_slips_are_named(sin):
    """hn109: sum(torch.sin(x)) and torch.ones(len(x)) on a 0-d x were told to read the traceback."""
    iterated = feedback.explain_error(ErrorInfo("TypeError", "iteration over a 0-d tensor"), sin)
    assert iterated.key == "zero_d_iteration" and "y.sum()" in iterated.advice
    length = feedback.explain_error(ErrorInfo("TypeError", "len() of a 0-d tensor"), sin)
    assert length.key == "zero_d_len" and "torch.ones_like" in length.advice


def test_the_grad_of_a_tensor_that_is_no_leaf_is_named_where_torch_warned_of_it(sin):
    """hn109: `return y.grad` after y.sum().backward() was told the pass never reached x or had no
    return; torch's own warning, in the output, names the read."""
    warned = dataclasses.replace(_none_everywhere(), output=Output(stderr=(
        "sub.py:6: UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
        "Its .grad attribute won't be populated during autograd.backward().")))
    finding = checks.check_correctness(warned, sin)
    assert finding.data.get("cause") == "none_nonleaf_read", finding
    assert "line 6" in finding.cause and "return leaf.grad" in finding.advice
    # ux110: the caller's x.grad returned after a pass on a copy is named too (it was told `return x.grad`)
    assert "the caller's x" in finding.cause and "your copy" in finding.advice
    assert checks.check_correctness(_none_everywhere(), sin).data.get("cause") == "none"


def test_a_file_read_inside_the_function_that_is_not_there_is_named(sin):
    """rt129: open("values_of_x.txt") inside the function was told to read the traceback."""
    cause = feedback.explain_error(ErrorInfo("FileNotFoundError", "[Errno 2] No such file or directory: 'v.txt'"), sin)
    assert cause.key == "missing_file" and "empty folder of its own" in cause.text


def test_another_exercise_s_function_name_is_offered_as_the_one_to_rename():
    """hn109: a sin_cos_norm file that defined get_derivative (the other exercises' name) was told
    only to define get_gradient."""
    from grader import exercise

    norm = exercise.load("sin_cos_norm")
    obs = Observations(load=LoadResult(False, missing="missing", names=("get_derivative",)))
    finding = checks.check_loads(obs, norm)
    assert "Is get_derivative meant to be get_gradient? Rename it." in finding.advice, finding
    # (and counted for the batch's summary, the three exercises that ask for it named: ux122)
    assert finding.data["other_exercise"] == "cos_square or log_sin or sin", finding.data


def _loop_sum(x: np.ndarray) -> np.float32:
    """‖x‖² as an honest float32 loop (einsum, x @ x) adds it: one square after another, every step
    rounded to float32."""
    n = np.float32(0.0)
    for v in x.astype(np.float32).ravel():
        n = np.float32(n + np.float32(v * v))
    return n


def _loop_gradient(x: np.ndarray) -> np.ndarray:
    """sin(cos(‖x‖² + 1))'s gradient with the sum added up in order."""
    u = np.float32(_loop_sum(x) + np.float32(1.0))
    return (np.float32(-2.0) * x.astype(np.float32) * np.sin(u) * np.cos(np.cos(u))).astype(np.float64)


def test_float32_allows_the_rounding_of_a_sum_over_every_element():
    # The grids draw arrays of one repeated value; summed in order, 216 of them were 7e-4 off ‖x‖²,
    # and an honest einsum, x @ x or loop lost correctness (6 times the tolerance from the reference).
    norm = exercise.load("sin_cos_norm")
    case = GridCase(round_to(np.full((6, 6, 6), 1.4999), "float32"), "float32", "cpu", "plain", "large")
    honest = _loop_gradient(case.values)
    reference = checks.reference(case, norm)
    tol = norm.tolerance("float32")
    assert np.max(np.abs(honest - reference)) > 3 * (tol.atol + tol.rtol * np.max(np.abs(reference)))
    assert checks.matches(_tensor(honest), case, norm)
    # Rounding explains that much and no more: one element a tenth off, or each element's own
    # derivative (the sum left out), still fails.
    assert not checks.matches(_tensor(honest * np.where(np.arange(216) == 5, 1.1, 1.0).reshape(6, 6, 6)), case, norm)
    elementwise = norm.mistake_values(norm.mistakes[0], case.values)
    assert not checks.matches(_tensor(elementwise), case, norm)
    # The verdict reads both answers so too: proven, not "follows" and called wrong (see correctness).
    x = round_to(np.full((6, 6, 6), 1.29), "float32")
    seen = GridCase(x, "float32", "cpu", "plain", "large")
    n = np.float64(_loop_sum(x))
    plain, hidden = (round_to(formula.evaluate(norm.gradient, np, x=x, sum=lambda a: n, d_sin=d), "float32")
                     for d in (np.cos, lambda u: secret_derivative(u, SECRET, norm.derivative, np)))
    looped = CaseResult(case=seen, calls=(_tensor(plain), _tensor(plain), _tensor(hidden)),
                        secret=(False, False, True), input_changed=False, requires_grad_changed=False,
                        grad_left=False, primitive_calls=3)
    assert verdict.judge(looped, norm, SECRET).verdict == verdict.PROVEN
    # A float64 input holds its sum to float64's tolerance, and an elementwise gradient has no sum.
    wide = GridCase(case.values, "float64", "cpu", "plain", "large")
    assert not checks.matches(_tensor(honest, "float64"), wide, norm)
    assert exercise.load("sin").float32_sums(case.values) is None


def test_load_words_name_the_encoding_and_the_other_exercise(sin, tmp_path):
    """ux110: a UTF-16 file (Notepad's "Unicode") was told of code at the top level, and a file for
    sin_cos_norm (get_gradient) graded as sin was told to rename its function."""
    from grader import submission

    null = ErrorInfo("SyntaxError", "source code string cannot contain null bytes")
    finding = checks.check_loads(Observations(load=LoadResult(False, error=null)), sin)
    assert "not saved as UTF-8" in finding.message and "top level" not in finding.message
    other = checks.check_loads(Observations(load=LoadResult(False, missing="missing", names=("get_gradient",))), sin)
    assert "--exercise sin_cos_norm" in other.advice and "Rename it" in other.advice
    # With its byte-order mark, UTF-16 is read as the UTF-8 it means.
    source = "import torch\n\ndef get_derivative(x):  # dérivée\n    return x\n"
    saved = tmp_path / "u16.py"
    saved.write_text(source, encoding="utf-16")
    assert submission.read(saved).source == source.encode("utf-8")


def test_a_tensor_moved_to_a_gpu_that_is_not_there_is_named(sin):
    """ux110: an unconditional .cuda() was told to run the function and read the traceback."""
    error = ErrorInfo("AssertionError", "Torch not compiled with CUDA enabled",
                      (Frame("get_derivative", 3, "x = x.detach().cuda().requires_grad_()"),))
    cause = feedback.explain_error(error, sin)
    assert cause.key == "no_gpu" and "device=x.device" in cause.advice


def test_values_that_are_another_exercises_answer_are_named_with_its_name(sin):
    """ux111: a class of cos_square files graded as sin (--exercise left out) was told of sin run at the
    wrong numbers, and every honest student was among the suspects."""
    other = next(e for e in exercise.catalogue() if e.name == "cos_square")
    obs = _observations(lambda x: other.reference(x), canary=lambda x: other.reference(x))
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "other_exercise" and finding.data["other_exercise"] == "cos_square", finding
    assert "the answer of another exercise, cos_square" in finding.cause
    assert "--exercise cos_square" in finding.advice
    slipped = _observations(lambda x: -np.sin(x * x))  # cos_square's answer without its chain factor: no
    assert checks.check_correctness(slipped, sin).data.get("cause") != "other_exercise"
    # A cos_square cheat with cos(x) (sin's answer) on one input only was named a sin file, and dropped
    # from the TA's suspects (rt135): every input's values must be the other exercise's.
    single = _observations(np.cos)
    one = dataclasses.replace(single.cases[0], case=dataclasses.replace(single.cases[0].case,
                                                                        values=single.cases[0].case.values[:3]))
    one = dataclasses.replace(one, calls=(_tensor(np.cos(one.case.values)),) * 3)
    rest = _observations(lambda x: other.reference(x))
    mixed = _joined(dataclasses.replace(single, cases=(one,)), rest, rest, rest)
    assert checks.check_correctness(mixed, other).data.get("cause") != "other_exercise"


def test_another_exercises_answer_in_float32_arithmetic_is_named_where_float32_pins_it(sin, monkeypatch):
    """ux132: under some courses' secrets sin's grids reach |x| = 741, where an honest cos_square file's float32
    x² is off by 0.03 rad: 78% of its numbers matched, under nine in ten, and a whole class graded as sin (its
    --exercise left out) went unnamed, 1/10 each. Numbers the input's precision cannot pin are not counted."""
    wide = np.concatenate([VALUES, np.linspace(-741.0, 741.0, 4 * VALUES.size)])
    monkeypatch.setattr(sys.modules[__name__], "VALUES", wide)

    def in_float32(x):
        x32 = x.astype(np.float32)
        return (np.float32(-2) * x32 * np.sin(x32 * x32)).astype(np.float64)

    obs = _observations(in_float32)
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "other_exercise" and finding.data["other_exercise"] == "cos_square", finding
    # (cos_square's answer without its chain factor is still no other exercise's)
    assert checks.check_correctness(_observations(lambda x: -np.sin(x * x)), sin).data.get("cause") != \
        "other_exercise"


def test_the_plot_marks_inputs_that_raised_as_failing(sin):
    """ux111: a file that raised on all 35 inputs showed no failing grid input on its plot."""
    from grader import grade

    raised = _observations(np.cos, hidden=_raised())
    case = raised.cases[0]
    failed = dataclasses.replace(raised, cases=(dataclasses.replace(case, calls=(_raised(),) * 3),),
                                 plot_x=np.linspace(-6, 6, 5), plot=_raised())
    plot = grade._plot_data(failed, sin)
    assert plot is not None and plot.returned is None
    assert sorted(plot.failing_x) == sorted(float(x) for x in case.case.values), plot.failing_x


def test_the_plot_of_a_file_that_did_not_load_says_what_the_loads_check_says(sin):
    """ux137: the plot read the grader's own exception ("ValueError: this file is larger than the grader reads")
    beside a feedback.txt that said why in a student's words."""
    from grader import grade

    error = ErrorInfo("ValueError", "source code string cannot contain null bytes")
    obs = Observations(load=LoadResult(False, error=error), plot_x=np.linspace(-6, 6, 5))
    said = checks.check_loads(obs, sin).summary
    plot = grade._plot_data(obs, sin, said)
    assert plot is not None and plot.note == said.splitlines()[0] and said.startswith("Importing your file"), said
    assert grade._plot_data(obs, sin).note == "Your file did not load: ValueError: source code string cannot " \
        "contain null bytes."  # (where no words of the check's are given)


def test_a_whole_tensor_given_to_float_is_not_told_to_use_torch_sin(sin):
    """ux111: torch.tensor(float(x), requires_grad=True) was told to use torch.sin, which it did."""
    cause = feedback.explain_error(ErrorInfo("ValueError", "only one element tensors can be converted to Python "
                                                           "scalars"), sin)
    assert cause.key == "one_number" and "float(), int() or .item()" in cause.text and "torch.sin" not in cause.advice
    assert feedback.explain_error(ErrorInfo("TypeError", "must be real number, not Tensor"), sin).key == "math_module"


@pytest.mark.parametrize(("message", "said", "advice"), [
    ("'(' was never closed (solution.py, line 6)", "line 6: '(' was never closed.", "Fix that line"),
    ("(unicode error) 'unicodeescape' codec can't decode bytes in position 7-8: truncated \\UXXXXXXXX escape "
     "(solution.py, line 4)", "truncated \\UXXXXXXXX escape.", "raw string"),
    ("(unicode error) 'utf-8' codec can't decode byte 0xe9 in position 3: unexpected end of data (solution.py, "
     "line 6)", "unexpected end of data.", "Save it as UTF-8"),
    ("invalid syntax", "line 6: invalid syntax.", "Fix that line"),
    ("invalid syntax (solution.py, line 6)", "line 6: invalid syntax.", "Remove it from the .py file"),
    # (ux113: "Did you mean print(...)?.")
    ("Missing parentheses in call to 'print'. Did you mean print(...)? (solution.py, line 6)",
     "line 6: Missing parentheses in call to 'print'. Did you mean print(...)?", "Fix that line"),
])
def test_a_syntax_error_is_told_in_pythons_own_words(sin, message, said, advice):
    """Cut at the first "(", Python's message read "'." for an unclosed call and "" for a backslash in
    a Windows path (ux112)."""
    code = "!pip install d2l" if "Remove" in advice else "print(f(x)"
    error = ErrorInfo("SyntaxError", message, syntax_line=6, syntax_offset=5, syntax_code=code)
    finding = checks._load_error_finding(error, sin)
    assert finding.summary.endswith(said) and advice in finding.advice, finding


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the grader's Python reads 3.12's syntax")
@pytest.mark.parametrize(("message", "code", "told"), [
    ("f-string: unmatched '[' (solution.py, line 6)", 'print(f"n = {stats["n"]}")', "other kind of quotes"),
    ("f-string expression part cannot include a backslash", 'print(f"{chr(10).join(["a\\n"])}")', "backslash"),
    ("invalid syntax", "type Tensor = torch.Tensor", "typing.TypeVar"),
    ("expected '('", "def get_derivative[T](x: T) -> T:", "typing.TypeVar"),
    ("multiple exception types must be parenthesized", "except TypeError, ValueError:", "except (TypeError"),
])
def test_a_newer_pythons_syntax_is_said_to_be_so(sin, message, code, told):
    """hn124: an f-string holding its own quotes (Python 3.12's) scored 0 with "`python your_file.py`
    shows the same message", which on the student's 3.12 it did not."""
    error = ErrorInfo("SyntaxError", message, syntax_line=6, syntax_offset=5, syntax_code=code)
    finding = checks._load_error_finding(error, sin)
    assert "The grader runs Python 3.11" in finding.cause and told in finding.advice, finding
    assert "shows the same" not in finding.advice


def test_input_at_the_top_level_is_told_no_one_answers_it(sin):
    """hn124: a notebook's input() was told "Restart & Run All stops at that cell", where Jupyter asks."""
    frames = (Frame(3, "n = int(input('points: '))", "<module>"),)
    error = ErrorInfo("EOFError", "EOF when reading a line", frames=frames)
    for notebook in (True, False):
        finding = checks._load_error_finding(error, sin, notebook)
        assert "no one at the keyboard" in finding.cause and "Give the value in code" in finding.advice
        assert "Restart & Run All" not in finding.cause


def test_a_module_beside_the_file_that_defines_the_function_is_told_why_it_was_not_graded_with_it(sin):
    """rt162: solution.py's `from impl import get_derivative`, impl.py beside it, was told to submit its
    own modules beside the file, which it had."""
    frames = (Frame(1, "from impl import get_derivative", "<module>"),)
    error = ErrorInfo("ModuleNotFoundError", "No module named 'impl'", frames=frames)
    obs = Observations(load=LoadResult(False, error=error), passed_over=("impl.py",))
    finding = checks.check_loads(obs, sin)
    assert "impl.py, beside your file, defines or names get_derivative itself" in finding.cause
    assert finding.advice.startswith("Submit impl.py alone")
    plain = checks.check_loads(Observations(load=LoadResult(False, error=error)), sin)
    assert "submitted beside" in plain.cause
    # (rt166: a classmate's folder imported as a package)
    folder = ErrorInfo("ModuleNotFoundError", "No module named 'bob'", frames=frames)
    told = checks.check_loads(Observations(load=LoadResult(False, error=folder), passed_over=("bob/",)), sin)
    assert "A file in the folder bob/, beside your file, defines get_derivative itself" in told.cause
    # (rt200: every module beside a file in a class's folder, where other submissions lie)
    utils = ErrorInfo("ModuleNotFoundError", "No module named 'utils'", frames=frames)
    among = checks.check_loads(Observations(load=LoadResult(False, error=utils), withheld=("utils.py", "mylib/a.py"),
                                            classmates=("alice.py", "bob.py")), sin)
    assert "with other students' submissions (alice.py, bob.py define get_derivative too)" in among.cause
    assert among.advice.startswith("Put your file and utils in a folder of their own")


def test_a_relative_import_of_a_file_graded_alone_is_told_so(sin):
    """rv44: a folder's mylib/deriv.py (`from .core import ...`), imported only under a main.py's guard, was
    graded alone and told that the grader lacked packages and to submit beside it what was there."""
    frames = (Frame(3, "from .core import leaf", "<module>"),)
    error = ErrorInfo("ImportError", "attempted relative import with no known parent package", frames=frames)
    told = checks.check_loads(Observations(load=LoadResult(False, error=error)), sin)
    assert "imports from the package it lies in" in told.cause and "from mypackage.module import get_derivative" in \
        told.advice, told


def test_a_relative_import_past_its_packages_top_is_told_so(sin):
    """A module of a package graded as one (submission.read) may still climb past its top: Python's error,
    not the grader's way of running it."""
    frames = (Frame(2, "from ..util import as_leaf", "<module>"),)
    error = ErrorInfo("ImportError", "attempted relative import beyond top-level package", frames=frames)
    told = checks.check_loads(Observations(load=LoadResult(False, error=error)), sin)
    assert "climbs past the top folder of its package" in told.cause and "count them again" in told.advice, told
    assert "runs as a file of its own" not in told.cause


def test_a_module_left_out_past_the_bounds_on_helpers_is_told_so(sin):
    """A package of 20 modules beside the file: the import of one past the 16 graded was told to submit
    beside the file the modules it had submitted."""
    frames = (Frame(2, "import mylib", "<module>"),)
    error = ErrorInfo("ModuleNotFoundError", "No module named 'mylib.m5'", frames=frames)
    left = ("mylib/m5.py", "mylib/m6.py", "mylib/m7.py", "mylib/m8.py", "mylib/m9.py")
    told = checks.check_loads(Observations(load=LoadResult(False, error=error), left_out=left), sin)
    assert "at most 16 of your own modules" in told.cause and "mylib.m5 was past that" in told.cause, told.cause
    assert "mylib/m8.py and 1 more" in told.cause and "fewer, smaller modules" in told.advice
    # (a module the student never submitted is told what any missing module is)
    other = ErrorInfo("ModuleNotFoundError", "No module named 'd2l'", frames=frames)
    plain = checks.check_loads(Observations(load=LoadResult(False, error=other), left_out=left), sin)
    assert "submitted beside" in plain.cause and "past that" not in plain.cause


def test_a_module_named_like_one_the_grader_has_is_told_to_be_renamed(sin):
    """rt168: code.py beside the file, `from code import f`, found Python's own code module; the student
    was told to submit beside the file the module that was there."""
    frames = (Frame(2, "from code import f", "<module>"),)
    for kind, message in (("ImportError", "cannot import name 'f' from 'code' (/usr/lib/python3.11/code.py)"),
                          ("AttributeError", "module 'code' has no attribute 'f'"),
                          ("ModuleNotFoundError", "No module named 'code.helpers'; 'code' is not a package")):
        error = ErrorInfo(kind, message, frames=frames)
        told = checks.check_loads(Observations(load=LoadResult(False, error=error), shadowed=("code.py",)), sin)
        assert "Your code.py has the name of a module the grader already has" in told.cause, (message, told.cause)
        assert "Rename your code.py" in told.advice
    other = ErrorInfo("ImportError", "cannot import name 'f' from 'json' (/usr/lib/python3.11/json/__init__.py)")
    plain = checks.check_loads(Observations(load=LoadResult(False, error=other), shadowed=("code.py",)), sin)
    assert "Rename" not in plain.advice


def test_a_file_that_is_no_text_is_told_what_it_is(sin):
    """ux127: a zip given to `grade` was told to save the file as UTF-8, not UTF-16, and a PDF that its
    first line was IPython's."""
    from grader import submission

    null = ErrorInfo("SyntaxError", "source code string cannot contain null bytes")
    for head, kind, advice in ((b"PK\x03\x04\x14\x00", "a zip archive", "Unpack it"),
                               (b"%PDF-1.7\n", "a PDF", "Submit")):
        told = checks.check_loads(Observations(load=LoadResult(False, error=null),
                                               not_python=submission.not_python(head + b"\x00" * 8)), sin)
        assert told.message.startswith(f"Your file is {kind}") and told.advice.startswith(advice), told
    assert submission.not_python(b"import torch\n") == "" and submission.not_python("é".encode("utf-16")) == ""


def test_an_empty_file_is_told_it_is_empty(sin):
    """ux112: an empty file was told that it "does not define get_derivative"."""
    from grader import submission

    assert submission.is_blank(b"") and submission.is_blank(b"\n# my solution\n   \n")
    assert not submission.is_blank(b"import torch\n")
    empty = submission.notebook_script(b'{"cells": [{"cell_type": "code", "source": ""}], "nbformat": 4}')
    assert submission.is_blank(empty)
    load = LoadResult(ok=False, missing="missing", names=())
    finding = checks.check_loads(Observations(load=load, blank=True), sin)
    assert finding.summary.startswith("Your file has no code (it is empty, or comments only)") and \
        "submit the file" in finding.advice


def test_a_failed_check_never_shows_its_whole_weight(sin):
    """A contract held back to 99.6% rounded to "1 / 1" beside its ✗; a pass keeps its points."""
    held = Finding("contract", False, 0.996, "It returns a tensor of the input's shape, dtype and device.")
    full = Finding("loads", True, 1.0, "It loads.")
    scored, total = score.apply([held, full], sin)
    assert [f.score for f in scored] == [0.99, sin.rubric["loads"]]
    assert total == round(0.99 + sin.rubric["loads"], 2)


def test_which_inputs_count_at_a_bound_never_depends_on_the_draw(sin):
    """ux118: cos(x) was "not shown on 52 of 52 inputs", then "40 of 40", for one file and seed: at x
    near 0, where cos(x) is 1, an answer at the bound was set aside only where this draw's R* passed
    it. It is set aside wherever any draw's could."""
    case = GridCase(round_to(np.array([0.0, 1e-3, -2e-3]), "float32"), "float32", "cpu", "plain", "explicit")
    answer = _tensor(np.cos(case.values))
    result = CaseResult(case=case, calls=(answer, answer, answer), secret=(False, False, True), input_changed=False,
                        requires_grad_changed=False, grad_left=False, primitive_calls=3)
    verdicts = set()
    for seed in range(40):
        obs = Observations(load=LoadResult(True), cases=(result,), planned=(case,),
                           secret=Secret.draw(random.Random(seed)))
        verdicts.add(checks._judged_case(result, obs, sin).verdict)
    assert verdicts == {verdict.NO_DATA}


def test_an_honest_answer_just_past_a_bound_under_the_secret_is_judged_whatever_the_draw(sin):
    """The CI's same-file test: 40 inputs judged, then 41 (7.79, then 7.8), where autograd's answer
    under the secret, R*, landed within the slack above 1 on a 0-d input: an answer at the bound under
    the secret alone was set aside as a clip where it was R* itself. It is proven."""
    found = 0
    x = round_to(np.linspace(-1.5, 1.5, 60_001), "float32")
    for seed in range(20):
        key = Secret.draw(random.Random(seed))
        star = round_to(secret_derivative(x, key, "cos(u)", np), "float32")
        near = np.flatnonzero((star > 1) & (star - 1 <= 2e-5) & (np.cos(x) < 0.999))
        if not near.size:
            continue
        found += 1
        case = GridCase(x[near[:1]].reshape(()), "float32", "cpu", "plain", "explicit")
        plain, hidden = (_tensor(round_to(v, "float32").reshape(())) for v in (np.cos(case.values), star[near[0]]))
        result = CaseResult(case=case, calls=(plain, plain, hidden), secret=(False, False, True), input_changed=False,
                            requires_grad_changed=False, grad_left=False, primitive_calls=3)
        obs = Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=key)
        assert checks._judged_case(result, obs, sin).verdict == verdict.PROVEN, seed
    assert found >= 5


def test_decimals_are_read_only_where_float64_has_digits_that_far_down():
    """hn122's torch.round(g, decimals=6) is six decimals; rt154's exact autograd answers near 10⁹ had
    no digits below 10⁻⁷ and were taken for numbers of seven decimals (judged as float32's, 8.26/10)."""
    from grader.verdict import decimal_places

    assert decimal_places(np.array([0.476082, -0.1395])) == 6
    assert decimal_places(np.array([1.2393, -0.1395])) == 4
    assert decimal_places(np.array([0.4760824530105313])) is None
    assert decimal_places(np.array([1e9 + 1 / 3, 3e9 + 2 / 3])) is None  # (no digits that far down: not rounded)
    assert decimal_places(np.array([], dtype=np.float64)) is None and decimal_places(np.array([np.nan])) is None


def test_a_rounding_to_six_decimals_that_ends_in_zeros_is_judged_as_float32_as_the_others_are(sin):
    """The CI, once in 300 draws of the secret: round(R*, 6) at x = 0 was 1.4761, and the fewest
    decimals that write it, four, made every input of zeros (whose plain answer, 1, is exact)
    "rounded to 4 decimals": 5 inputs of 52, 1/10 for hn122's honest rounding for display. A
    rounding within float32's tolerance of autograd's answers is judged as float32 whatever its last
    digits; one to 4 decimals that strays further is still told so."""
    key = Secret.draw(random.Random(49))  # round(R*(0), 6) is 0.7397 under this draw
    zeros = GridCase(np.zeros(4), "float64", "cpu", "plain", "explicit")
    display = np.round(secret_derivative(zeros.values, key, "cos(u)", np), 6)
    assert verdict.decimal_places(display) == 4
    judged = verdict.judge(_answered_in(zeros, np.ones(4), display, "float64"), sin, key)
    assert (judged.verdict, judged.precision) == (verdict.PROVEN, "float32")
    away = GridCase(np.array([0.3, 1.1, -2.0, 0.7]), "float64", "cpu", "plain", "explicit")
    coarse = verdict.judge(_answered_in(away, np.round(np.cos(away.values), 4), np.round(secret(away.values), 4),
                                        "float64"), sin, SECRET)
    assert (coarse.verdict, coarse.precision) == (verdict.ROUNDED, "4-decimal")


def test_a_name_a_newer_library_removed_is_not_told_as_a_tensor_typo(sin):
    """hn123: D2L 0.17's IPython.display.set_matplotlib_formats (gone from newer IPython) was told "Fix
    the name; x.grad holds the gradient after backward()"."""
    gone = feedback.explain_error(ErrorInfo("AttributeError", "module 'IPython.display' has no attribute "
                                                              "'set_matplotlib_formats'"), sin)
    assert "the grader's IPython.display has no set_matplotlib_formats" in gone.text and "x.grad" not in gone.advice
    typo = feedback.explain_error(ErrorInfo("AttributeError", "module 'torch' has no attribute 'sine'"), sin)
    assert "does not exist" in typo.text


def test_a_jacobian_summed_over_one_axis_is_named_a_jacobian(sin):
    """hn130's jacrev(sin)(x).sum(0): right for a 1-d x, of shape x.shape[1:] + x.shape otherwise,
    and told its result was "reshaped, summed, or built anew" with no word of the diagonal."""
    def observed(answer) -> Observations:
        cases = [GridCase(round_to(v, "float32"), "float32", "cpu", "plain", "explicit")
                 for v in (VALUES, VALUES.reshape(13, 1), VALUES[:12].reshape(2, 3, 2))]
        results = tuple(CaseResult(case=c, calls=(_tensor(answer(c.values)),) * 3, secret=(False, False, True),
                                   input_changed=False, requires_grad_changed=False, grad_left=False,
                                   primitive_calls=3) for c in cases)
        return Observations(load=LoadResult(True), cases=results, planned=tuple(cases), secret=SECRET)

    def summed_jacobian(x):
        return (np.eye(x.size) * np.cos(x).reshape(-1)).reshape(x.shape + x.shape).sum(0)

    jacobian = observed(summed_jacobian)
    for check in (checks.check_correctness, checks.check_contract):
        finding = check(jacobian, sin)
        assert finding.data["cause"] == "jacobian" and "diagonal" in finding.advice, finding
    flat = observed(lambda x: np.cos(x)[..., None])  # x.shape + (1,): no Jacobian's shape
    assert checks.check_contract(flat, sin).data["cause"] == "shape"


def test_a_wrong_answer_moved_by_a_constant_multiple_of_autograds_move_follows():
    """hn130's log10(x²)·sin(x) and log|x|·sin(x) for log(x²)·sin(x): autograd of sin at x, its move a
    constant times the reference's (1/ln 10, 1/2), "not shown" and 1/10 beside 3.9 for sin(x)² on sin.
    A right plain answer whose move is a share of autograd's is a mixture still, and so is a move by
    a multiple too small to need R*'s numbers."""
    x = np.array([0.4, 1.3, -2.2, 2.9, -0.7])
    t = 2 * np.sin(x) / x + np.log(x * x) * np.cos(x) - 1 / x ** 2
    move = np.array([0.31, 0.22, 0.27, 0.36, 0.25])  # the secret's move of sin's derivative at x
    m = t + np.log(x * x) * move
    tol, ones = Tolerance(2e-4, 2e-4), np.ones(x.size)
    for constant in (1 / np.log(10), 0.5):
        p = 2 * constant * np.sin(x) / x + constant * np.log(x * x) * np.cos(x) - 1 / x ** 2
        assert verdict._wrong_kind(p, p + constant * (m - t), t, m, tol, ones) == verdict.FOLLOWS
    mixture = 0.1 * t + 0.9 * m  # 0.1·cos + 0.9·autograd: the plain answer right
    assert verdict._wrong_kind(t, mixture, t, m, tol, ones, plain_right=True) == verdict.PARTLY
    wrong = t + 0.5
    assert verdict._wrong_kind(wrong, wrong + 0.01 * (m - t), t, m, tol, ones) == verdict.PARTLY
    assert verdict._wrong_kind(wrong, wrong + 0.3, t, m, tol, ones) == verdict.PARTLY  # (a shift of its own)


def test_an_answer_in_the_dtype_the_function_gave_the_callers_x_is_told_so(sin):
    """hn132: `x.data = x.data.double()`, then the gradient returned `.to(x.dtype)`, was told to return
    the gradient in x's dtype, which it did: the x it had changed."""
    case = GridCase(round_to(VALUES, "float32"), "float32", "cpu", "plain", "explicit")
    answer = _tensor(np.cos(case.values), "float64")
    result = CaseResult(case=case, calls=(answer,) * 3, secret=(False, False, True), input_changed=True,
                        requires_grad_changed=False, grad_left=False, primitive_calls=3, input_retyped=True)
    obs = Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=SECRET)
    contract = checks.check_contract(obs, sin)
    assert contract.data["cause"] == "retyped" and "changed the caller's x itself" in contract.cause, contract
    untouched = checks.check_input_untouched(obs, sin)
    assert not untouched.passed and "to another dtype or device" in untouched.example, untouched


def test_a_future_returned_as_it_is_is_told_to_wait_for_it(sin):
    """hn132's pool.submit(...) returned without .result() was told to return x.grad "not .numpy()"."""
    case = GridCase(round_to(VALUES, "float32"), "float32", "cpu", "plain", "explicit")
    future = Returned("other", type_name="Future", text="<Future at 0x7f state=finished returned Tensor>")
    result = CaseResult(case=case, calls=(future,) * 3, secret=(False, False, True), input_changed=False,
                        requires_grad_changed=False, grad_left=False, primitive_calls=3)
    obs = Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=SECRET)
    finding = checks.check_correctness(obs, sin)
    assert finding.data["cause"] == "pending" and "future.result()" in finding.advice, finding


def test_the_diagonal_of_a_jacobian_of_other_than_a_1d_x_is_named(sin):
    """hn132's jacobian(torch.sin, x).diag(), right for a 1-d x, raised on 0-d and 2-d ones and was told
    to run it and read the traceback."""
    cause = feedback.explain_error(ErrorInfo("RuntimeError", "diag(): Supports 1D or 2D tensors. Got 0D"), sin)
    assert cause.key == "jacobian_diag" and "y.sum()" in cause.advice and "torch.sin(x)" in cause.text, cause
    # (hn153: sin_cos_norm's, told that its function acts on each element alone)
    whole = feedback.explain_error(ErrorInfo("RuntimeError", "diag(): Supports 1D or 2D tensors. Got 0D"),
                                   exercise.load("sin_cos_norm"))
    assert "each element alone" not in whole.advice and "has x's shape" in whole.advice, whole


def test_an_answer_that_still_requires_grad_is_told_so_without_losing_points(sin):
    """hn132: autograd.grad(..., create_graph=True) returned as it is scored 10/10 without a word, and the
    book's plt.plot(x, get_derivative(x)) refuses it. Said for inputs that did not require grad alone: an
    answer through torch.func for one that did requires grad rightly."""
    def observed(layout: str) -> Observations:
        case = GridCase(round_to(VALUES, "float32"), "float32", "cpu", layout, "explicit")
        answer = dataclasses.replace(_tensor(np.cos(case.values)), requires_grad=True)
        result = CaseResult(case=case, calls=(answer,) * 3, secret=(False, False, True), input_changed=False,
                            requires_grad_changed=False, grad_left=False, primitive_calls=3)
        return Observations(load=LoadResult(True), cases=(result,), planned=(case,), secret=SECRET)

    plain = checks.check_contract(observed("plain"), sin)
    assert plain.passed and plain.fraction == 1.0 and ".detach() it before plotting" in plain.summary, plain
    assert ".detach()" not in checks.check_contract(observed("requires_grad"), sin).summary


def test_a_wrong_answer_is_not_called_mostly_right_for_its_elements_where_the_reference_is_near_0(sin):
    """hn133: honest slips of sin_cos_norm matched the reference by chance where both are near 0, and were
    "mostly right" on a quarter to half of a grid's inputs: suspects on some seeds, not on others. A
    formula right where the reference is not near 0 is still counted right."""
    x = round_to(np.array([np.pi / 2, np.pi / 2 + 1e-6, -np.pi / 2, 0.3]), "float32")
    case = GridCase(x, "float32", "cpu", "plain", "explicit")

    def share(answer: np.ndarray) -> float | None:
        returned = Returned("tensor", values=round_to(answer, "float32"), dtype="float32", shape=x.shape, device="cpu")
        result = CaseResult(case=case, calls=(returned,) * 3, secret=(False, False, True), input_changed=False,
                            requires_grad_changed=False, grad_left=False, primitive_calls=3)
        return checks._right_share([result], sin)

    assert share(np.array([0.0, 0.0, 0.0, 5.0])) == 0.0  # (right only where cos is near 0: a slip)
    assert share(np.cos(x)) == 1.0  # (a formula, right where it tells)
    # hn151: nor near 1, where the incoming gradient returned (all ones) is right by chance at x near 0
    near_one = round_to(np.array([0.0, 1e-4, -1e-4, 0.3]), "float32")
    case = GridCase(near_one, "float32", "cpu", "plain", "explicit")
    assert share(np.ones(4)) == 0.0 and share(np.cos(near_one)) == 1.0


def test_answers_in_half_precision_are_told_so(sin):
    """hn151: autograd of x.half(), cast back, was told only "Compare your function with torch.cos": its answers are
    float16 numbers, right to float16's rounding (of x too: 1000.3 is 1000.5 there)."""
    x = round_to(np.array([1.0, 0.3, 1000.3, -2.0]), "float32")
    case = GridCase(x, "float32", "cpu", "plain", "explicit")

    def told(answer: np.ndarray) -> str | None:
        returned = Returned("tensor", values=answer, dtype="float32", shape=x.shape, device="cpu")
        result = CaseResult(case=case, calls=(returned,) * 3, secret=(False, False, True), input_changed=False,
                            requires_grad_changed=False, grad_left=False, primitive_calls=3)
        return checks._in_half_precision(result, [result], sin)

    assert told(round_to(np.cos(round_to(x, "float16")), "float16")) == "float16"
    assert told(round_to(np.cos(x), "bfloat16")) == "bfloat16"
    assert told(round_to(np.cos(x) * 1.01, "float16")) is None  # (a slip, not rounding)
    assert told(round_to(np.cos(x) + 1e-4, "float32")) is None  # (float32's numbers)


def test_a_dot_product_of_x_with_itself_is_told_that_x_may_have_any_shape():
    """hn134: torch.dot(x, x) and x @ x for ‖x‖², right for a vector, raised on a 0-d, 2-d or 3-d x and
    were told to run the function and read the traceback (4.54/10)."""
    for message in ("1D tensors expected, but got 0D and 0D tensors",
                    "both arguments to matmul need to be at least 1D, but they are 0D and 0D",
                    "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)",
                    "vector + matrix @ vector expected, got 1, 2, 2"):
        cause = feedback.explain_error(ErrorInfo("RuntimeError", message), exercise.load("sin_cos_norm"))
        assert cause.key == "vectors_only" and "any shape" in cause.text and "(x * x).sum()" in cause.advice, message


def test_a_log_that_is_no_form_of_the_exercises_is_not_called_one():
    """hn136: torch.log(x)**2 (a misreading of log(x²)) was told it is a form of log(x²) that fails below 0
    alone, beside an example at x = 0.25 where it was already wrong."""
    from grader import exercise

    why, advice = feedback._undefined_words(exercise.load("log_sin"))
    assert "2·log(x) for log(x²) holds only above 0" in why and "log(x)**2 or log(x) alone is another function" in why
    assert "torch.log(x**2)" in advice
