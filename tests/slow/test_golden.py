"""Golden tests: every sample submission through the real sandbox, its verdicts, score and the key
phrases of its feedback pinned. A new sample must be added here (test_every_sample_is_pinned).

Scores are exact because grids are derandomized from the exercise's seed and the grading
environment is pinned (constraints.txt); a hypothesis upgrade may redraw them: regenerate then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from grader.grade import grade_file
from tests.conftest import FIXTURES, ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow

ALL_BUT_LOADS = {"correctness", "autograd", "contract", "tracked_inputs", "input_untouched", "repeatable"}
NOT_LOADED = ALL_BUT_LOADS | {"loads"}


@dataclass(frozen=True)
class Golden:
    status: str
    score: float
    fails: set[str] = field(default_factory=set)
    causes: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)


# A cheat loads (1 point) and earns nothing else: autograd of sin is not shown on any input.
CHEAT = Golden("graded", 1.0, {"autograd"}, phrases={"autograd": (
    "not shown on", "did not change when autograd's derivative of sin did", "scores no other points")})

GOLDEN: dict[str, Golden] = {
    "honest_backward": Golden("graded", 10.0),
    "honest_ones_like": Golden("graded", 10.0),
    "honest_autograd_grad": Golden("graded", 10.0),
    "honest_func_vmap": Golden("graded", 10.0),
    "honest_jacobian": Golden("graded", 10.0),
    "honest_jacfwd": Golden("graded", 10.0),
    "honest_forward_ad": Golden("graded", 10.0),
    "honest_inplace_sin": Golden("graded", 10.0),
    "honest_float64": Golden("graded", 10.0),
    "honest_plots": Golden("graded", 10.0),
    "mistake_nonscalar_backward": Golden(
        "graded", 4.62, {"correctness", "autograd", "contract", "tracked_inputs"},
        {"correctness": "nonscalar_backward"},
        {"correctness": ("grad can be implicitly created only for scalar outputs", "y.sum().backward()",
                         "x = [0.0, 0.0]")}),
    "mistake_returns_y": Golden(
        "graded", 1.0, {"correctness", "autograd", "tracked_inputs"}, {"correctness": "primitive"},
        {"correctness": ("At x = 0.0", "cos(0.0) is 1.0", "Did you return y instead of x.grad"),
         "autograd": ("your answer is sin(x) itself", "does not change when autograd's derivative of sin does",
                      "y was returned instead of x.grad", "scores no other points")}),
    "mistake_caller_requires_grad": Golden(
        "graded", 7.7, {"autograd", "contract", "tracked_inputs", "input_untouched", "repeatable"},
        {"tracked_inputs": "none_nonleaf", "repeatable": "accumulation"},
        {"input_untouched": ("turned on requires_grad of the caller's tensor",),
         "repeatable": ("first 1.0, then 2.0", "gradients accumulate"),
         "tracked_inputs": ("None came back only where the input already requires grad", "is no leaf")}),
    "mistake_float32": Golden(  # (float64 inputs whose float32 answer is within float64's tolerance fail too)
        "graded", 6.95, {"correctness", "contract", "tracked_inputs"}, {"contract": "precision"},
        {"contract": ("float64 input came back as float32",)}),
    "mistake_backward_x": Golden(  # (inputs near 0 answered near 0 show no autograd: no autograd points;
        # x·cos(x) at 5π/2, a zero of cos, shows no scaling, but its move is 5π/2 times autograd's: 4.08 before)
        "graded", 4.11, {"correctness", "autograd", "contract", "tracked_inputs"}, {"correctness": "x_times"},
        {"correctness": ("x·cos(x)", "y.backward(x) uses x as the incoming gradient"),
         "autograd": ("On 19 other inputs your answers were 0, or too near 0 beside the derivative",)}),
    "mistake_two_sin": Golden(
        # (its passes, empty inputs and zeros of cos, are where twice cos(x) is cos(x) too: they earn nothing)
        "graded", 5.0, {"correctness", "tracked_inputs"}, {"correctness": "scaled"},
        {"correctness": ("2 times cos(x)", "cannot tell the right values from yours", "earn nothing")}),
    "mistake_no_return": Golden(  # no values at all: nothing proven, so only the loads point
        "graded", 1.0, {"correctness", "autograd", "contract", "tracked_inputs", "repeatable"},
        {"correctness": "none_not_returned", "contract": "none_not_returned", "tracked_inputs": "none_not_returned"},
        {"correctness": ("returned None", "ran through sin into a leaf", "missing `return`")}),
    "mistake_flattens": Golden("graded", 9.29, {"contract"}, {"contract": "shape"},
                               {"contract": ("reshaped, summed, or built anew",)}),
    "mistake_numpy": Golden("graded", 9.0, {"contract"}, {"contract": "type"},
                            {"contract": ("returned a numpy array", "must return a torch tensor")}),
    # torch.autograd.grad's tuple of one gradient: its numbers are read, as a numpy array's are.
    "mistake_returns_tuple": Golden("graded", 9.0, {"contract"}, {"contract": "tuple"},
                                    {"contract": ("returned a tuple holding one float32 tensor of shape",
                                                  "torch.autograd.grad(y, x)[0]")}),
    "cheat_cos": Golden(**{**CHEAT.__dict__, "phrases": {
        "autograd": (*CHEAT.phrases["autograd"], "line 5 calls cos")}}),
    "cheat_method_cos": CHEAT,
    "cheat_shifted_sin": CHEAT,
    "cheat_numpy_cos": CHEAT,
    "cheat_complex_exp": CHEAT,
    "cheat_taylor": CHEAT,
    "cheat_backward_then_cos": CHEAT,
    "cheat_custom_function": CHEAT,
    # (ux118: it was told of autograd of a different function, where no autograd ran)
    "cheat_finite_diff": Golden("graded", 1.0, {"correctness", "autograd", "tracked_inputs"},
                                phrases={"autograd": ("scores no other points", "computed without autograd",
                                                      "finite differences at x ± h")}),
    "cheat_torch_gradient": Golden("graded", 1.0, {"correctness", "autograd", "contract", "tracked_inputs"},
                                   phrases={"autograd": ("scores no other points",)}),
    "broken_syntax": Golden("load_error", 0.0, NOT_LOADED,
                            phrases={"loads": ("syntax error on line 4", "def get_derivative(x)")}),
    "broken_misnamed": Golden("load_error", 0.0, NOT_LOADED,
                              phrases={"loads": ("does not define get_derivative", "get_derivitive")}),
    # (ux129: the book's `from d2l import torch as d2l` failed the import, 0/10; d2l is stood in for now)
    "honest_imports_d2l": Golden("graded", 10.0, phrases={"loads": ("imports d2l, which the grader does not install",
                                                                    "plots are not drawn")}),
    "broken_imports_helpers": Golden("load_error", 0.0, NOT_LOADED,
                                     phrases={"loads": ("No module named 'plotting_helpers'", "__name__")}),
    "broken_raises": Golden("graded", 1.0, ALL_BUT_LOADS, {"correctness": "attribute"},
                            {"correctness": ("Did you mean .grad?", "line 8")}),
    "broken_infinite_loop": Golden("timeout", 1.0, ALL_BUT_LOADS,
                                   phrases={"correctness": ("calls of your function on one input within 1",
                                                            "a loop that never ends")}),
}


def test_every_sample_is_pinned():
    assert sorted(p.stem for p in SUBMISSIONS.glob("*.py")) == sorted(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_sample_verdicts(name, sin):
    golden = GOLDEN[name]
    outcome = grade_file(SUBMISSIONS / f"{name}.py", sin)
    findings = {f.name: f for f in outcome.findings}
    assert outcome.status == golden.status
    assert {n for n, f in findings.items() if not f.passed} == golden.fails
    assert outcome.score == pytest.approx(golden.score, abs=1e-9)
    for check, cause in golden.causes.items():
        assert findings[check].data.get("cause") == cause, findings[check].message
    for check, phrases in golden.phrases.items():
        for phrase in phrases:
            assert phrase in findings[check].message, findings[check].message


def test_reference_solution_scores_full_marks(sin):
    outcome = grade_file(sin.solution, sin)
    assert outcome.score == outcome.max_score == 10
    assert all(f.passed for f in outcome.findings)
    assert ROOT / "reference" in outcome.submission.parents


@pytest.mark.parametrize(("name", "words"), [("leaves_a_gradient_on_x", "left a gradient in the caller's x.grad"),
                                             ("changes_the_callers_x", "changed the values of x in place"),
                                             ("retypes_the_callers_x", "changed the caller's x to another dtype")])
def test_a_right_answer_that_changes_the_callers_tensor_loses_input_untouched(name, words, sin):
    """rv01: no sample nor fixture changed the caller's x in place or left its x.grad set, and either
    condition could be dropped from input_untouched with every test passing."""
    outcome = grade_file(FIXTURES / f"{name}.py", sin)
    findings = {f.name: f for f in outcome.findings}
    assert {n for n, f in findings.items() if not f.passed} == {"input_untouched"}
    assert outcome.score == pytest.approx(sin.max_score - sin.rubric["input_untouched"])
    assert words in findings["input_untouched"].message


# (a kept leaf per shape, overwritten by the case's next call on a tensor of the same values: rv42's reading of
# a case's own answers across its further calls sees it there first)
AGAIN = " once it had been called again on another tensor of the same values"


@pytest.mark.parametrize(("fixture", "when", "failing"), [
    ("overwrites_its_answers.py", AGAIN, {"repeatable"}),
    ("overwrites_the_gradient_it_returns_beside_a_number.py", AGAIN,
     {"repeatable", "contract"}),  # (a tuple is not the tensor asked for)
    ("overwrites_its_answers_in_a_ring.py", " inputs that followed it (the last, x = ", {"repeatable"}),
    ("overwrites_its_answers_between_calls_and_writes_them_back.py", " once it had been called with",
     {"repeatable"}),
    ("overwrites_its_answers_in_a_ring_behind_a_zip_of_its_own.py", " inputs that followed it (the last, x = ",
     {"repeatable"}),
    ("overwrites_the_answers_it_returns_in_a_dict.py", AGAIN, {"repeatable", "contract"}),
    ("overwrites_the_answers_it_returns_as_numpy_views.py", AGAIN,
     {"repeatable", "contract"}),
    ("overwrites_the_answers_it_returns_as_a_numpy_subclass.py", AGAIN,
     {"repeatable", "contract"}),
    ("overwrites_the_answers_it_returns_behind_a_metaclass_mro.py", AGAIN,
     {"repeatable", "contract"}),
    ("shows_its_answers_through_a_function_mode.py", AGAIN, {"repeatable"}),
    ("overwrites_its_answers_on_inputs_larger_than_the_grids.py", " once it had been called with", {"repeatable"}),
    ("writes_its_answers_back_as_the_harness_reads_them.py", " once it had been called a second time on that same "
     "tensor", {"repeatable"}),
    ("writes_its_answers_back_through_a_mode_as_the_harness_reads_them.py", " once it had been called a second time "
     "on that same tensor", {"repeatable"}),
    ("overwrites_its_answers_between_the_rungs.py", " inputs that followed it (the last, x = ", {"repeatable"}),
    ("makes_its_earlier_answers_require_grad.py", " once it had been called a second time on that same tensor",
     {"repeatable"}),
    ("shows_its_answers_through_a_subclass_of_its_own.py", AGAIN, {"repeatable"}),
    ("overwrites_its_repeated_answers_on_the_next_call.py",
     " once it had been called again on another tensor of the same values", {"repeatable"}),
    ("overwrites_the_gradient_it_returns_as_numpy_beside_a_number.py", AGAIN,
     {"repeatable", "contract"}),
    # (rt193: rows of one-number views of the kept .grad, as a loop gives them; a list of one-number tensors is
    # read where x has more than one number alone, hence the other checks)
    ("overwrites_the_answers_it_returns_as_one_number_views.py", AGAIN,
     {"repeatable", "contract", "correctness", "autograd", "tracked_inputs"}),
    # (rt193: the second call on the caller's x zeroed the first's answer and returned a new tensor; the other
    # checks are this file's own: x changed, and autograd's held-back points)
    ("zeroes_its_first_answer_on_the_second_call.py", " once it had been called a second time on that same tensor",
     {"repeatable", "input_untouched", "contract", "autograd", "tracked_inputs"}),
])
def test_a_right_answer_that_a_later_call_overwrites_loses_repeatable(sin, fixture, when, failing):
    """hn132: a kept leaf's .grad returned without a clone was right whenever it was read, 10/10, while
    each call changed the answer the caller held from the call before; rt189's the same beside a number,
    and a ring of 64 buffers taken in turn (the harness read the previous case's answer alone again)."""
    outcome = grade_file(FIXTURES / fixture, sin)
    findings = {f.name: f for f in outcome.findings}
    assert {n for n, f in findings.items() if not f.passed} == failing, findings
    assert "A later call changed an answer it had returned" in findings["repeatable"].message
    assert findings["repeatable"].data["cause"] == "overwritten"
    assert when in findings["repeatable"].example and ("followed it" in when) == ("followed it" in
                                                                                   findings["repeatable"].example)


def test_answers_overwritten_by_the_next_call_are_seen_in_a_subclass_too(sin):
    """rt185: the harness kept only a plain tensor's answers, and a kept buffer returned as a subclass
    of the file's own scored 10/10 where the plain one scored 9.5."""
    outcome = grade_file(FIXTURES / "overwrites_its_answers_as_a_subclass.py", sin)
    findings = {f.name: f for f in outcome.findings}
    assert {n for n, f in findings.items() if not f.passed} == {"repeatable"}, findings
    assert findings["repeatable"].data["cause"] == "overwritten"


def test_the_books_zeroed_gradient_on_the_callers_x_keeps_repeatable():
    """rt192: x.grad.zero_() then a second backward on the caller's x gave -0.0 back as 0.0, the same number,
    and the byte comparison took it for an answer changed under the caller: 8.05 for 8.55, told it "held
    other numbers" once called with the next input, which cannot reach it."""
    from grader import exercise

    cos_square = exercise.load("cos_square")
    outcome = grade_file(FIXTURES / "zeroes_the_callers_grad_as_the_book_does.py", cos_square)
    findings = {f.name: f for f in outcome.findings}
    assert findings["repeatable"].passed and not findings["input_untouched"].passed, findings


@pytest.mark.parametrize(("fixture", "failing"), [
    ("hides_its_changes_behind_a_dispatch_mode.py", {"repeatable", "input_untouched"}),
    ("hides_its_changes_behind_a_kernel_of_its_own.py", {"repeatable", "input_untouched"}),
    ("hides_its_changes_behind_numpys_own_isnan.py", {"repeatable", "input_untouched"}),
    ("leaves_x_a_negative_view_its_own_kernel_reads.py", {"input_untouched"}),
    ("leaves_x_float8.py", {"input_untouched"}),
    ("hands_x_over_as_a_subclass_and_changes_it.py", {"input_untouched", "repeatable"}),
    ("retypes_its_last_answer_bfloat16.py", {"repeatable"}),
    ("changes_x_and_changes_it_back.py", {"input_untouched"}),
    ("returns_fresh_answers_in_a_wrapper_subclass.py", set()),
    ("returns_answers_in_a_wrapper_subclass_with_huge_strides.py", set()),
])
def test_what_the_harness_compares_no_mode_kernel_or_subclass_of_the_files_own_steers(sin, fixture, failing):
    """The review's attack: a dispatch mode left on at import that called every two tensors equal hid the
    answers the next call overwrote from the harness's comparison (10/10 for 9.5); rt185's, a kernel of
    its own for aten::equal, the same; rt187's, an isnan of its own in numpy's globals, and x made a
    negative view read back by its own kernel, or float8. The harness compares the bytes DLPack reads,
    with Python dispatch off, and the sign and conjugate bits beside them; a wrapper subclass's storage,
    which holds nothing it shows, is not read (rt187's honest one was told its answers changed, and one
    with huge strides crashed the child)."""
    outcome = grade_file(FIXTURES / fixture, sin)
    findings = {f.name: f for f in outcome.findings}
    assert outcome.status == "graded" and {n for n, f in findings.items() if not f.passed} == failing, findings
    if fixture.startswith(("hides", "retypes")):  # (the others' repeatable fails for x changed between its calls)
        assert findings["repeatable"].data["cause"] == "overwritten"
    if fixture.startswith("hides"):
        assert "changed the values of x in place" in findings["input_untouched"].message
