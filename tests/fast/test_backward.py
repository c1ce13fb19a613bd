"""backward.py: the student's pass written out and compared with the reference's, from recordings
built by hand (tests/fast/test_trace.py records real ones)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from grader import backward, exercise
from grader.observations import LoadResult, Observations, SourceHit, Traced, TracedCall, TracedStep

X = 0.75
COS = math.cos(X)


def step(op, nxt=(), out=(None,), **numbers):
    return TracedStep(op, tuple(nxt), tuple(out)[:len(nxt)] if nxt else (), **numbers)


def sin_pass(seed=1.0, scale=1.0, held=None):
    """y = scale * sin(x), started from `seed`: Sum? -> (Mul) -> Sin -> AccumulateGrad."""
    steps = [step("SumBackward0", [1], [1.0], grad_in=1.0)] if seed == 1.0 else []
    g = 1.0 if seed == 1.0 else seed
    if scale != 1.0:
        steps.append(step("MulBackward0", [len(steps) + 1], [g * scale], grad_in=g, other=scale))
        g *= scale
    steps.append(step("SinBackward0", [len(steps) + 1], [g * COS], grad_in=g, u=X, local=COS))
    steps.append(step("AccumulateGrad", grad_in=g * COS, held=held))
    return tuple(steps)


def call(runs, value, primitive_calls=1, kind="tensor", about="Tensor", duals=()):
    """A call as the child records it: each run a backward pass of its own."""
    return TracedCall(kind, value, primitive_calls, tuple(runs), about=about, passes=len(runs), duals=tuple(duals),
                      tangents=tuple(value for _ in duals))


REFERENCE = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                   step("SinBackward0", [-1], [COS], grad_in=1.0, u=X, local=COS))], COS)


def described(first, second=None, proven=True, hits=(), moved=True, shown_somewhere=False):
    traced = Traced((X, 1.25), 0, "float64", (first, second or first), REFERENCE)
    obs = Observations(load=LoadResult(True), traced=traced, source_hits=tuple(hits))
    result = backward.describe(obs, exercise.load("sin"), proven, moved, shown_somewhere)
    assert result is not None
    return result


def test_an_honest_pass_agrees_and_is_written_out():
    result = described(call([sin_pass()], COS))
    assert result.divergence is None and result.sample_x == X
    lines = backward.written_steps(result.student)
    want = f"2. SinBackward0: d/du sin(u) = cos(u), at u = x = 0.75, here {COS:.4g}; gradient 1 in, {COS:.4g} out"
    assert lines[1] == want
    assert backward.headline(result) == "Your backward pass agrees with the reference's, step for step."


def test_a_pass_started_from_x_is_named():
    result = described(call([sin_pass(seed=X)], X * COS))
    assert result.divergence is not None and "started from x instead of ones (`y.backward(x)`)" in result.divergence
    assert (result.diverges_at, result.reference_at) == (0, 1)


def test_an_extra_factor_is_named_with_its_value():
    result = described(call([sin_pass(scale=2.0)], 2 * COS))
    assert result.divergence is not None and "has a MulBackward0 step" in result.divergence
    assert "×2 here" in result.divergence and result.diverges_at == 1


def test_a_second_pass_over_the_same_leaf_is_accumulation():
    second = call([sin_pass(held=COS)], 2 * COS)
    result = described(call([sin_pass()], COS), second)
    assert result.divergence is not None and result.divergence.startswith("Two passes ran over the same leaf")
    assert result.student[result.diverges_at].op == "AccumulateGrad"
    assert result.student[-1].grad_out == pytest.approx(2 * COS)
    assert "Use a fresh leaf each call" in result.divergence


def test_two_passes_in_one_call_are_told_to_run_one():
    """A helper's backward(retain_graph=True) twice in one call was told to use a fresh leaf each
    call, which it already did."""
    result = described(call([sin_pass(), sin_pass(held=COS)], 2 * COS))
    assert result.divergence is not None
    assert result.divergence.startswith("Two passes ran over the same leaf in one call")
    assert "Run one backward pass per call" in result.divergence


def test_no_pass_names_the_line_that_wrote_the_answer():
    result = described(call([], COS, primitive_calls=0), hits=[SourceHit(5, "cos", "return torch.cos(x)")])
    assert result.student == () and result.divergence is not None
    assert "No backward step ran" in result.divergence and "line 5 calls cos" in result.divergence


def test_forward_mode_agrees_only_when_the_canary_proved_it():
    honest = described(call([], COS, duals=[X]), proven=True)
    assert honest.divergence is None and "carried forward" in honest.description and not honest.by_hand
    cheat = described(call([], COS, duals=[X]), proven=False)
    assert cheat.divergence is not None and "did not show your answer following" in cheat.divergence
    # Neither a pass nor forward mode, sin run and its derivative read by hand (rt220: the grader's operator, a pack
    # hook's saved tensor), on sin too: listed, the score the canary's
    read = described(call([], COS), proven=True)
    assert read.by_hand and "ran neither a backward pass nor forward mode" in (read.divergence or "")


def test_a_right_pass_whose_answer_did_not_follow_the_canary_is_not_called_right():
    result = described(call([sin_pass()], COS), proven=False, moved=False)
    assert result.divergence is not None and "did not come from it" in result.divergence
    # Every answer moved under the canary, and this one is right: what failed lies on other inputs
    # (a hunter's x ** 2.0000001, NaN below 0, was told its answer "did not come from" this pass).
    elsewhere = described(call([sin_pass()], COS), proven=False)
    assert elsewhere.divergence is not None and "did not come from it" not in elsewhere.divergence
    assert elsewhere.divergence.startswith("Your pass at x = 0.75 is the reference's and its value agrees, but on "
                                           "other inputs your answers did not follow autograd of sin(x)")
    # Some inputs stood still, others showed autograd: other inputs too (hn108's sum over the last
    # dimension only, the whole sum at the 1-d sample, was told its answer did not come from its pass).
    some = described(call([sin_pass()], COS), proven=False, moved=False, shown_somewhere=True)
    assert some.divergence is not None and some.divergence.startswith("Your pass at x = 0.75 is the reference's")


def test_the_right_gradient_by_an_unproven_route_is_not_called_a_wrong_factor():
    """-sin(-x) differentiates sin at -x: two NegBackward0 steps cancel, so "every gradient after it
    is -1 times what it should be" was false; the sin step, taken at -x, is the one that tells."""
    neg_sin_neg = (step("SumBackward0", [1], [1.0], grad_in=1.0),
                   step("NegBackward0", [2], [-1.0], grad_in=1.0),
                   step("SinBackward0", [3], [-COS], grad_in=-1.0, u=-X, local=COS),
                   step("NegBackward0", [4], [COS], grad_in=-COS),
                   step("AccumulateGrad", grad_in=COS))
    result = described(call([neg_sin_neg], COS), proven=False)
    assert result.divergence is not None and "times what it should be" not in result.divergence
    assert "reaches the right gradient by another route" in result.divergence
    assert "differentiating sin at u = -x = -0.75 rather than at x itself" in result.divergence
    assert result.student[result.diverges_at].op == "SinBackward0"
    # The same pass where no answer moved under the canary (then cos returned): not "your answer
    # followed it there"; the answer did not come from the pass.
    cheat = described(call([neg_sin_neg], COS), proven=False, moved=False)
    assert cheat.divergence is not None and "did not come from it" in cheat.divergence
    proven = described(call([neg_sin_neg], COS), proven=True)  # (where the canary proved it: no mistake)
    assert proven.divergence is None and proven.description.startswith("another route to the same gradient")


def test_steps_of_factor_one_before_sin_are_a_route_not_an_answer_from_elsewhere():
    """sin of a range-reduced x (remainder(x + π, 2π) - π): each extra step passes the gradient on
    unchanged, and the answer is this pass's; "did not come from it" was false."""
    reduced = (step("SumBackward0", [1], [1.0], grad_in=1.0),
               step("SinBackward0", [2], [COS], grad_in=1.0, u=X, local=COS),
               step("SubBackward0", [3], [COS], grad_in=COS),
               step("RemainderBackward0", [4], [COS], grad_in=COS),
               step("AddBackward0", [5], [COS], grad_in=COS),
               step("AccumulateGrad", grad_in=COS))
    result = described(call([reduced], COS), proven=False)
    assert result.divergence is not None and "did not come from it" not in result.divergence
    assert "reaches the right gradient by another route (SinBackward0 → SubBackward0" in result.divergence
    assert "autograd of sin(x) is not shown for every input" in result.divergence
    # The same pass where no answer moved under the canary (sin(x + 0.0), then cos returned): the
    # answer did not come from it, whatever the route.
    cheat = described(call([reduced], COS), proven=False, moved=False)
    assert cheat.divergence is not None and "did not come from it" in cheat.divergence


def test_the_reference_route_with_other_gradients_is_not_called_another_route():
    """torch.autograd.functional.jvp runs the reference's steps on other gradients (its double
    backward): "SinBackward0 where the reference's pass runs SinBackward0" named no difference."""
    other = (step("SumBackward0", [1], [1.0], grad_in=1.0),
             step("SinBackward0", [2], [0.0], grad_in=0.0, u=X, local=COS), step("AccumulateGrad", grad_in=0.0))
    result = described(call([other], COS), proven=True)
    assert result.divergence is None and result.description is not None
    assert "another route" not in result.description and "the value agrees" in result.description


def test_returning_something_else_after_a_right_pass():
    result = described(call([sin_pass()], 2.5))
    assert result.divergence is not None and "returned 2.5 at x = 0.75, not the gradient" in result.divergence
    # The function's own value: `return y` (ux111's was told only of an accumulated x.grad)
    y = described(call([sin_pass()], math.sin(X)))
    assert y.divergence is not None and "returned 0.6816 at x = 0.75, the value of sin(x) itself" in y.divergence
    none = described(call([sin_pass()], None, kind="other", about="NoneType"))
    assert none.divergence is not None and "returned None, not the gradient" in none.divergence


def test_an_error_is_quoted():
    result = described(call([], None, kind="error", about="RuntimeError: grad can be implicitly created"))
    assert result.divergence is not None and "raised RuntimeError: grad can be implicitly created" in result.divergence


def _cos_square_reference():
    """The reference's pass for cos(x²) at X: Sum, then Cos at u = x², then Pow at x."""
    u = X**2
    return call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                  step("CosBackward0", [2], [-math.sin(u)], grad_in=1.0, u=u, local=-math.sin(u)),
                  step("PowBackward0", [-1], [-math.sin(u) * 2 * X], grad_in=-math.sin(u), u=X, constant=2.0))],
                -math.sin(u) * 2 * X)


def test_a_missing_chain_factor_in_the_chain_rule_exercise():
    ex = exercise.load("cos_square")
    u = X**2
    ref = _cos_square_reference()
    mine = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                  step("CosBackward0", [2], [-math.sin(u)], grad_in=1.0, u=u, local=-math.sin(u)),
                  step("AccumulateGrad", grad_in=-math.sin(u)))], -math.sin(u))
    traced = Traced((X,), 0, "float64", (mine, mine), ref)
    result = backward.describe(Observations(load=LoadResult(True), traced=traced), ex, True)
    assert result is not None and result.divergence is not None
    assert result.divergence.startswith("Your graph has no PowBackward0: the chain-rule factor d/du u² = 2u (1.5 here)")
    assert result.reference_at == 2
    assert "at u = x = 0.75, here 1.5" in backward.written_steps(result.reference)[2]
    # u named by what it is: the cos step's input is x², not x (a leaf of the student's own is not named x).
    assert "at u = x² = 0.5625" in backward.written_steps(result.reference)[1]


def test_a_primitive_taken_where_the_reference_takes_it_is_not_marked():
    """cos(x²) takes cos at x², not at x: a hunter's exp(2·log x) for x² had its CosBackward0, at
    the reference's own u = 0.5625, marked wrong "rather than at x itself"."""
    ex = exercise.load("cos_square")
    u = X**2
    ref = _cos_square_reference()
    g = -math.sin(u)
    mine = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                  step("CosBackward0", [2], [g], grad_in=1.0, u=u, local=g),
                  step("ExpBackward0", [3], [g * u], grad_in=g, local=u),
                  step("MulBackward0", [4], [g * u * 2], grad_in=g * u, other=2.0),
                  step("LogBackward0", [5], [g * u * 2 / X], grad_in=g * u * 2, u=X, local=1 / X),
                  step("AccumulateGrad", grad_in=g * 2 * X))], g * 2 * X)
    traced = Traced((X,), 0, "float64", (mine, mine), ref)
    result = backward.describe(Observations(load=LoadResult(True), traced=traced), ex, False, True)
    assert result is not None and result.divergence is not None
    assert "rather than at" not in result.divergence and result.student[result.diverges_at].op != "CosBackward0"
    assert "but autograd of cos in cos(x**2) is not shown for every input" in result.divergence
    # Taken at x instead (cos(x) by another route), it is named, against the reference's own u.
    at_x = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                  step("CosBackward0", [2], [-math.sin(X)], grad_in=1.0, u=X, local=-math.sin(X)),
                  step("AccumulateGrad", grad_in=-math.sin(X)))], g * 2 * X)
    traced = Traced((X,), 0, "float64", (at_x, at_x), ref)
    other = backward.describe(Observations(load=LoadResult(True), traced=traced), ex, False, True)
    assert other is not None and other.divergence is not None
    assert "differentiating cos at u = x = 0.75 rather than at 0.5625, where the reference's pass takes it" \
        in other.divergence


def test_a_step_taken_elsewhere_is_named_before_the_steps_that_moved_it():
    """Degrees: sin at x·π/180 through a MulBackward0 and a DivBackward0. A helper was told the
    DivBackward0 made "every gradient after it 0.005556 times what it should be", where the ×π
    followed and sin itself was taken elsewhere."""
    u = X * math.pi / 180
    mine = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                  step("SinBackward0", [2], [math.cos(u)], grad_in=1.0, u=u, local=math.cos(u)),
                  step("DivBackward0", [3], [math.cos(u) / 180], grad_in=math.cos(u)),
                  step("MulBackward0", [4], [math.cos(u) * math.pi / 180], grad_in=math.cos(u) / 180,
                       other=math.pi),
                  step("AccumulateGrad", grad_in=math.cos(u) * math.pi / 180))], math.cos(u) * math.pi / 180)
    result = described(mine)
    assert result.divergence == (
        "Your pass took SinBackward0 at u = 0.01309, where the reference's took it at u = x = 0.75: between x and "
        "it, your pass has MulBackward0 and DivBackward0 (×0.01745 in all), steps the reference's does not have.")
    assert (result.diverges_at, result.reference_at) == (1, 1)


def test_a_term_left_out_is_not_called_a_missing_factor():
    """log_sin without its + 1/x: the reference's pass has a branch through ReciprocalBackward0 that
    the student's lacks, a term, not a factor of the chain (and log(x) for log(x²), a factor)."""
    from grader.outcome import Step

    reference = (Step("SumBackward0", 1.0, 1.0, 1.0, next=(1,)), Step("AddBackward0", 1.0, 1.0, 1.0, next=(4, 2)),
                 Step("MulBackward0", 1.0, 1.0, 1.0, next=(3,)), Step("ReciprocalBackward0", 1.0, -1.78, -1.78),
                 Step("MulBackward0", 1.0, 0.68, 0.68, next=(5,)),
                 Step("LogBackward0", 0.68, 1.78, 1.2, at="u = x² = 0.5625", next=(6,)),
                 Step("PowBackward0", 1.2, 1.5, 1.8, at="u = x = 0.75"))
    no_term = (reference[0], reference[4], reference[5], reference[6])
    sentence, _, at = backward._first_difference(no_term, reference, X)
    assert sentence is not None and at == 3
    assert sentence.startswith("Your graph has no ReciprocalBackward0: a term of the reference's pass runs through it")
    log_x = (reference[0], reference[1], reference[2], reference[3], reference[4],
             Step("LogBackward0", 0.68, 1.33, 0.9, at="u = x = 0.75"))
    sentence, _, _ = backward._first_difference(log_x, reference, X)
    assert sentence == ("Your pass took LogBackward0 at u = x = 0.75, where the reference's took it at u = x² = "
                        "0.5625: between x and it, the reference's has PowBackward0, and yours does not.")


def test_a_reference_whose_value_is_wrong_is_not_shown():
    wrong = call(REFERENCE.runs, 123.0)
    traced = Traced((X,), 0, "float64", (call([sin_pass()], COS),) * 2, wrong)
    result = backward.describe(Observations(load=LoadResult(True), traced=traced), exercise.load("sin"), True)
    assert result is not None and result.reference == ()


def test_honest_rows_of_a_jacobian_on_one_leaf_are_not_accumulation():
    # Each row's pass adds to x.grad after zeroing it; the answer is right: no accusation.
    rows = call([sin_pass(), sin_pass(held=0.0), sin_pass(held=COS)], COS)
    result = described(rows)
    assert result.divergence is None and "3 backward passes ran" in result.description


def test_the_same_steps_in_another_order():
    ex = exercise.load("cos_square")
    u = X**2
    cos_step = step("CosBackward0", [2], [-math.sin(u)], grad_in=1.0, u=u, local=-math.sin(u))
    ref = call([(step("SumBackward0", [1], [1.0], grad_in=1.0), cos_step,
                 step("PowBackward0", [-1], [-math.sin(u) * 2 * X], grad_in=-math.sin(u), u=X, constant=2.0))],
               -math.sin(u) * 2 * X)
    swapped = call([(step("SumBackward0", [1], [1.0], grad_in=1.0),
                     step("PowBackward0", [2], [2 * math.cos(X)], grad_in=1.0, u=math.cos(X), constant=2.0),
                     step("CosBackward0", [-1], [-2 * math.cos(X) * math.sin(X)], grad_in=2 * math.cos(X), u=X,
                          local=-math.sin(X)))], -2 * math.cos(X) * math.sin(X))
    traced = Traced((X,), 0, "float64", (swapped, swapped), ref)
    result = backward.describe(Observations(load=LoadResult(True), traced=traced), ex, True)
    assert result is not None and result.divergence is not None
    assert "the same steps in another order" in result.divergence and "step for step" not in result.divergence


def test_a_right_pass_whose_answer_lost_precision_is_named_as_such():
    result = described(call([sin_pass()], COS + 3e-8))  # float32 arithmetic on a float64 input
    assert result.divergence is not None and "less precise than the float64 input allows" in result.divergence


def test_a_description_that_fails_costs_the_description_not_the_grade(monkeypatch):
    from grader import grade
    from grader.outcome import Finding

    def broken(obs, ex, proven):
        raise ValueError("a number no one expected")

    monkeypatch.setattr(backward, "describe", broken)
    autograd = Finding("autograd", True, 1.0, "shown", data={"unproven": False})
    obs = Observations(load=LoadResult(True), traced=Traced((X,), 0, "float64", (call([sin_pass()], COS),) * 2, None))
    assert grade._described(obs, exercise.load("sin"), [autograd]) is None


def test_a_square_by_multiplying_is_one_step_of_2u():
    """ux117: sin(x·x) was told "MulBackward0 (×0.75 in all)" at x = 0.75: one edge's factor, where
    both edges reach x and the step's factor is 2x."""
    u = X * X
    g = math.cos(u)
    run = (step("SumBackward0", [1], [1.0], grad_in=1.0),
           step("SinBackward0", [2], [g], grad_in=1.0, u=u, local=g),
           step("MulBackward0", [3, 3], [g * X, g * X], grad_in=g, u=X, other=X, one_input=True),
           step("AccumulateGrad", grad_in=2 * X * g))
    square = backward.steps_of(run, X)[2]
    assert square.formula == "d/du (u·u) = 2u" and square.local == pytest.approx(2 * X)
    assert square.grad_out == pytest.approx(2 * X * g) and square.next == (3,)
    assert backward.steps_of((step("SumBackward1", [-1], [1.0], grad_in=1.0),), X)[0].formula == \
        "d/du_i sum(u, dim) = 1"
    # (hn127: torch.dot(v, v) and v @ v, "no formula known, here 0.75"; hn126: autograd.grad on a leaf, whose
    # AccumulateGrad never runs, both edges ending the pass)
    dot = step("DotBackward0", [3, 3], [g * X, g * X], grad_in=g, one_input=True)
    assert backward.steps_of((*run[:2], dot, run[3]), X)[2].local == pytest.approx(2 * X)
    ended = replace(run[2], next=(-1, -1), one_input=True)
    assert backward.steps_of((*run[:2], ended), X)[2].formula == "d/du (u·u) = 2u"
    assert backward.steps_of((*run[:2], replace(ended, one_input=False)), X)[2].formula != "d/du (u·u) = 2u"
    # sin(x)·w where w's node never ran (autograd.grad for x alone) but both edges carried a gradient: two
    # tensors, one of them outside the pass, not u·u (this step had been told 2u by its one target that ran)
    other = replace(run[2], next=(3, -1), one_input=False, other=0.5, u=X)
    assert backward.steps_of((*run[:2], other, run[3]), X)[2].formula.startswith("d/du (u·v) = v = 0.5")


def test_a_self_test_of_autograd_at_another_point_first_is_not_the_pass_shown():
    """hn124: a check of cos(p)'s gradient at p = 0.3, run before the real pass, was shown as "Your
    backward pass at x = 0.75" and told "another route to the same gradient"."""
    selftest = (step("SinBackward0", [1], [math.cos(0.3)], grad_in=1.0, u=0.3, local=math.cos(0.3)),
                step("AccumulateGrad", grad_in=math.cos(0.3)))
    result = described(call([selftest, sin_pass()], COS))
    assert result.divergence is None and "2 backward passes ran; the one from x is shown" in result.description
    assert [s.op for s in result.student] == ["SumBackward0", "SinBackward0", "AccumulateGrad"]
    assert "at u = x = 0.75" in backward.written_steps(result.student)[1]


def test_a_sum_after_steps_that_only_move_numbers_is_where_the_pass_starts():
    """hn128: jacobian(lambda t: sin(t).sum(), x) starts its pass with Select and View, and its sum was
    told as "another route" (SumBackward0 → SinBackward0) beside the reference's, drawn with the same sum;
    a sum after a step with a derivative of its own is one inside the function (‖x‖²)."""
    g = math.cos(X)
    mine = (step("SelectBackward0", [1], [1.0], grad_in=1.0), step("ViewBackward0", [2], [1.0], grad_in=1.0),
            step("SumBackward0", [3], [1.0], grad_in=1.0), step("SinBackward0", [-1], [g], grad_in=1.0, u=X, local=g))
    theirs = (step("SumBackward0", [1], [1.0], grad_in=1.0), step("SinBackward0", [2], [g], grad_in=1.0, u=X, local=g),
              step("AccumulateGrad", grad_in=g))
    assert backward._route(backward.steps_of(mine, X)) == backward._route(backward.steps_of(theirs, X)) == \
        "SinBackward0"
    inside = (step("SinBackward0", [1], [g], grad_in=1.0, u=X, local=g), step("SumBackward0", [2], [g], grad_in=g),
              step("AccumulateGrad", grad_in=g))
    assert backward._route(backward.steps_of(inside, X)) == "SinBackward0 → SumBackward0"


def test_forward_mode_whose_every_tangent_is_a_scratch_jvps_is_not_judged():
    """A scratch jvp of the student's own (exp at 0.3) beside a right answer whose sin no recorded
    forward mode carried: its tangent set aside, none is left, and nothing is said (the parent had read
    the first of none: an IndexError, the grader's own failure, for the student's file)."""
    log_sin = exercise.load("log_sin")
    x = np.array([0.75, 1.25, -0.5])
    call = TracedCall("tensor", None, 0, (), tangents=(math.exp(0.3),), duals=(0.3,))
    assert backward._forward_by_hand(call, log_sin.reference(x), x, 0, log_sin, "float64") is None
    # ...while beside forward mode of sin alone (its tangent sin's derivative), the scratch one's is set aside
    alone = TracedCall("tensor", None, 0, (), tangents=(math.exp(0.3), math.cos(0.75)), duals=(0.3, 0.75))
    assert "carried sin's derivative alone" in backward._forward_by_hand(alone, log_sin.reference(x), x, 0, log_sin,
                                                                         "float64")
