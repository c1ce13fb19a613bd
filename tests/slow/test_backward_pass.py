"""The backward pass through the real sandbox: every sample mistake and cheat gets the sentence that
names its mistake, honest files (each route into autograd) agree with the reference, and the pass
lands in result.json (schema 2) and as backward.png."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from grader import exercise
from grader.grade import grade_file
from grader.report import write_files
from tests.conftest import FIXTURES, ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow

SAMPLES = ROOT / "samples"
RED = FIXTURES / "backward"  # the red team's files: honest styles once accused, mistakes once mis-described
CASES = [
    ("sin", SUBMISSIONS / "honest_backward.py", None),
    ("sin", SUBMISSIONS / "honest_autograd_grad.py", None),
    ("sin", SUBMISSIONS / "honest_forward_ad.py", None),
    ("sin", SUBMISSIONS / "honest_func_vmap.py", None),
    ("sin", SUBMISSIONS / "mistake_backward_x.py", "started from x instead of ones (`y.backward(x)`)"),
    ("sin", SUBMISSIONS / "mistake_two_sin.py", "has a MulBackward0 step that the reference's does not"),
    ("sin", SUBMISSIONS / "mistake_caller_requires_grad.py", "Two passes ran over the same leaf"),
    ("sin", SUBMISSIONS / "mistake_returns_y.py", "the value of sin(x) itself, not its derivative"),
    ("sin", RED / "returns_y_after_backward_on_the_callers_x.py", "the value of sin(x) itself, not its derivative"),
    ("sin", SUBMISSIONS / "mistake_nonscalar_backward.py", "raised RuntimeError: grad can be implicitly created"),
    ("sin", SUBMISSIONS / "cheat_cos.py", "No backward step ran"),
    ("sin", SUBMISSIONS / "cheat_backward_then_cos.py", "the answer you returned did not come from it"),
    ("sin", SUBMISSIONS / "cheat_finite_diff.py", "did not show your answer following"),
    ("cos_square", SAMPLES / "cos_square" / "honest_backward.py", None),
    ("cos_square", SAMPLES / "cos_square" / "mistake_no_chain_factor.py", "Your graph has no PowBackward0"),
    ("sin_cos_norm", SAMPLES / "sin_cos_norm" / "honest_func_grad.py", None),
    ("sin_cos_norm", SAMPLES / "sin_cos_norm" / "mistake_elementwise.py", "no SumBackward0 inside the function"),
    ("log_sin", SAMPLES / "log_sin" / "honest_backward.py", None),
    ("log_sin", SAMPLES / "log_sin" / "mistake_drops_reciprocal.py", "Your graph has no ReciprocalBackward0"),
    ("sin", RED / "shared_leaf_rows.py", None),  # rows of a Jacobian on one leaf: not accumulation
    ("sin", RED / "jacrev_diag.py", None),
    ("sin", RED / "jacrev_wrong.py", "whose numbers cannot be read"),
    ("sin", RED / "inplace_double.py", "has a MulBackward0 step"),  # the canary's node read when sin ran
    ("sin", RED / "many_passes.py", None),
    ("sin", RED / "trace_wide_node.py", None),  # a node with nine edges: cut to eight, not refused
    ("cos_square", RED / "cos_square_composed_backwards.py", "the same steps in another order"),
    ("sin_cos_norm", RED / "sin_cos_norm_mean_not_sum.py", "yours reduces with MeanBackward0 instead"),
    ("log_sin", RED / "checkpoint_non_reentrant.py", None),
    # Autograd of the primitive alone, the rest of the chain by hand (rt155: 10/10, never listed)
    ("cos_square", RED / "cos_square_chain_factor_by_hand.py", "took cos's step alone"),
    ("log_sin", RED / "log_sin_other_terms_by_hand.py", "rest of the derivative came from a formula of your own"),
    ("sin_cos_norm", RED / "sin_cos_norm_from_its_own_leaf.py", "began at a tensor of your own holding 3.375"),
    # ...and autograd's whole chain on the recorded call alone, told apart by its input or its place (rt172)
    ("log_sin", RED / "log_sin_by_hand_except_on_the_traced_input.py", "graded calls recorded, your backward pass"),
    ("log_sin", RED / "log_sin_by_hand_until_the_plot.py", "graded calls recorded, your backward pass"),
    ("cos_square", RED / "cos_square_by_hand_except_on_the_traced_input.py", "took cos's step alone"),
    ("sin_cos_norm", RED / "sin_cos_norm_by_hand_except_on_the_traced_input.py", "graded calls recorded, your"),
    ("log_sin", RED / "log_sin_by_hand_returning_none_on_the_traced_input.py", "graded calls recorded, your"),
    ("cos_square", RED / "cos_square_by_hand_past_the_node_bound.py", "graded calls recorded, your backward pass"),
    ("cos_square", RED / "cos_square_by_hand_ending_the_child_on_the_traced_input.py", "graded calls recorded, y"),
    # ...and forward mode of the primitive alone (rt172), beside forward mode of the whole function
    ("log_sin", RED / "log_sin_forward_mode_of_sin_alone_by_hand.py", "Your forward mode carried sin's derivative"),
    ("cos_square", RED / "cos_square_forward_mode_of_cos_alone_by_hand.py", "forward mode began at cos's own argument"),
    ("sin_cos_norm", RED / "sin_cos_norm_forward_mode_of_sin_alone_by_hand.py", "forward mode began at sin's own"),
    ("cos_square", RED / "cos_square_forward_mode_seeded_by_hand.py", "Your forward mode began at cos's own argument"),
    ("sin_cos_norm", RED / "sin_cos_norm_forward_mode_seeded_by_hand.py", "forward mode began at sin's own argument"),
    ("log_sin", SAMPLES / "log_sin" / "honest_forward_ad.py", None),
    ("cos_square", RED / "cos_square_forward_mode_seed_of_two.py", None),
    ("log_sin", RED / "log_sin_forward_mode_basis_vectors_in_reverse.py", None),
    ("log_sin", RED / "log_sin_forward_mode_self_check_then_vmapped.py", None),
    ("sin_cos_norm", RED / "sin_cos_norm_forward_mode_whole.py", None),
    ("cos_square", RED / "cos_square_chain_in_two_passes.py", None),  # both passes autograd's: not by hand
    ("cos_square", RED / "cos_square_two_parts_one_element_at_a_time.py", None),  # (hn129: passes unrecorded)
    ("cos_square", RED / "cos_square_forward_mode_from_a_step.py", None),  # (hn129: f(x + h) at h = 0)
    ("cos_square", RED / "cos_square_pass_on_x_reversed.py", None),  # (hn129: x's numbers in another order)
    ("sin_cos_norm", RED / "sin_cos_norm_pass_on_x_sorted.py", None),
    ("cos_square", RED / "cos_square_chain_in_two_passes_of_x_times_x.py", None),  # (rt156: u = x·x was)
    # A pass of the student's own on numbers none of the chain's tensors hold is not the chain's (rt175)
    ("log_sin", RED / "log_sin_by_hand_beside_a_scratch_pass.py", "took sin's step alone"),
    ("log_sin", RED / "log_sin_forward_mode_by_hand_beside_a_scratch_pass.py", "your forward mode carried sin's"),
    ("log_sin", RED / "log_sin_by_hand_with_the_recorder_taken_out.py", "took out the stand-ins"),
    ("cos_square", RED / "cos_square_whole_chain_after_a_self_test.py", None),
    ("log_sin", RED / "log_sin_chain_in_two_passes_through_sin_as_a_leaf.py", None),
    # rt178: honest files the first rule listed (a pass from a leaf h = 0, a self-test of sin at a number of its
    # own, forward mode from x doing the rest) and scratch passes it let through (through sin, on an empty leaf,
    # a scratch jvp)
    ("cos_square", RED / "cos_square_two_passes_from_a_perturbation_leaf.py", None),
    ("sin_cos_norm", RED / "sin_cos_norm_three_passes_from_a_perturbation_leaf.py", None),
    ("log_sin", RED / "log_sin_self_test_of_sin_then_jvp_of_the_whole.py", None),
    ("log_sin", RED / "log_sin_check_of_sin_at_x_then_jacfwd.py", None),
    ("cos_square", RED / "cos_square_reverse_outer_forward_inner.py", None),
    ("log_sin", RED / "log_sin_by_hand_beside_a_scratch_pass_through_sin.py", "took sin's step alone"),
    ("log_sin", RED / "log_sin_by_hand_beside_a_scratch_pass_on_an_empty_leaf.py", "took sin's step alone"),
    ("log_sin", RED / "log_sin_forward_mode_by_hand_beside_a_scratch_jvp.py", "forward mode carried sin's derivative"),
    # rt179, hn131: the same again (a perturbation's sum, forward mode at h = 0, a printed check of sin before a jvp,
    # a link in TorchScript), and an empty dual and a padded pass that switched the judgement off
    ("cos_square", RED / "cos_square_two_passes_from_a_perturbation_leaf_summed.py", None),
    ("cos_square", RED / "cos_square_forward_chain_composed_at_a_perturbation.py", None),
    ("log_sin", RED / "log_sin_check_of_sin_at_x_then_jvp_at_a_perturbation.py", None),
    ("cos_square", RED / "cos_square_chain_split_with_its_inner_link_in_torchscript.py", None),
    ("cos_square", RED / "cos_square_by_hand_beside_an_empty_dual.py", "took cos's step alone"),
    ("cos_square", RED / "cos_square_by_hand_through_a_padded_cos_pass.py", "took cos's step alone"),
    # rt180: a perturbation's 0 counted as a dual of the student's own, the call shown's leaves out of order once
    # an empty pass was dropped; a scratch pass on the meta device or from a GradientEdge, the answer as a tangent
    ("log_sin", RED / "log_sin_check_of_sin_by_jvp_then_jvp_at_a_perturbation_seeded_two.py", None),
    ("cos_square", RED / "cos_square_unused_probe_then_the_chain_in_two_passes.py", None),
    ("log_sin", RED / "log_sin_by_hand_beside_a_scratch_pass_on_the_meta_device.py", "took sin's step alone"),
    ("log_sin", RED / "log_sin_by_hand_carried_as_a_tangent.py", "took sin's step alone"),
    ("cos_square", RED / "cos_square_by_hand_beside_a_scratch_pass_from_an_edge.py", "took cos's step alone"),
    # rt181: a root whose grad_fn property raises, a dual whose detach raises (read as TensorBase reads them now)
    ("cos_square", RED / "cos_square_by_hand_from_a_root_whose_grad_fn_raises.py", "took cos's step alone"),
    ("cos_square", RED / "cos_square_by_hand_beside_a_dual_whose_detach_raises.py", "took cos's step alone"),
    # rt212: cos's derivative read by hand, neither a pass nor forward mode run
    ("cos_square", RED / "cos_square_by_hand_through_the_canarys_operator.py", "ran neither a backward pass"),
    ("cos_square", RED / "cos_square_by_hand_from_a_saved_derivative.py", "ran neither a backward pass"),
    # rt215: the same beside a scratch pass on numbers of its own
    ("cos_square", RED / "cos_square_by_hand_through_the_canarys_operator_beside_a_scratch_pass.py",
     "backward passes differentiated nothing of cos(x**2)"),
    # rt220: on sin, where the derivative read by hand is the whole answer; honest forward mode there is not
    ("sin", RED / "sin_by_hand_through_the_canarys_operator_at_a_number_of_its_own.py", "not computed by autograd"),
    ("sin", RED / "sin_by_hand_from_a_pack_hooks_saved_tensor.py", "ran neither a backward pass"),
    ("sin", RED / "sin_jacobian_forward_mode_vectorized.py", None),
    ("sin", ROOT / "submissions" / "honest_forward_ad.py", None),
    ("sin", ROOT / "submissions" / "honest_jacfwd.py", None),
    ("sin", ROOT / "submissions" / "honest_func_vmap.py", None),
    # rt222: a dual made and never unpacked, or a scratch pass that took no step of the primitive's (on a leaf of x's
    # size, or a copy of x), beside the derivative read by hand; and honest styles beside them
    ("sin", RED / "sin_by_hand_through_the_canarys_operator_beside_an_unused_dual.py", "ran neither a backward pass"),
    ("sin", RED / "sin_by_hand_through_the_canarys_operator_beside_a_scratch_pass_of_xs_size.py", "differentiated"),
    ("sin", RED / "sin_by_hand_from_a_pack_hooks_saved_tensor_beside_a_scratch_pass_on_x.py", "differentiated nothing"),
    ("cos_square", RED / "cos_square_by_hand_through_the_canarys_operator_beside_an_unused_dual.py", "ran neither"),
    ("cos_square", RED / "cos_square_by_hand_through_the_canarys_operator_beside_a_scratch_pass_of_xs_size.py",
     "differentiated nothing of cos(x**2)"),
    # rt223: beside a pass of a bare leaf, which records no step
    ("sin", RED / "sin_by_hand_through_the_canarys_operator_beside_a_bare_leafs_pass.py", "ran neither a backward"),
    ("cos_square", RED / "cos_square_by_hand_through_the_canarys_operator_beside_a_bare_leafs_pass.py", "ran neither"),
    ("sin", RED / "sin_linearize.py", None),
    ("sin", RED / "sin_aot_function.py", None),
    ("sin", RED / "sin_function_wrapping_autograd_grad.py", None),
]


@pytest.mark.parametrize(("name", "path", "phrase"), CASES, ids=[f"{n}-{p.stem}" for n, p, _ in CASES])
def test_the_pass_names_the_mistake(name: str, path: Path, phrase: str | None) -> None:
    outcome = grade_file(path, exercise.load(name), warm=True)
    recorded = outcome.backward
    assert recorded is not None, "every file that loads gets its pass recorded"
    assert recorded.reference, "the reference solution's pass is recorded beside it"
    if phrase is None:
        assert recorded.divergence is None, recorded.divergence
    else:
        assert recorded.divergence is not None and phrase in recorded.divergence, recorded.divergence
    # The chain finished by hand is the pass's evidence, never the score (the canary proves the
    # primitive's derivative only): full marks, listed for the TA.
    assert recorded.by_hand == ("by_hand" in path.stem or "own_leaf" in path.stem), recorded.divergence
    if recorded.by_hand:
        assert outcome.score == outcome.max_score


def test_torchscript_in_a_helper_module_is_seen_as_in_the_file(tmp_path: Path) -> None:
    """rt212: hn131's honest chain, its inner link's autograd.grad in a scripted function, moved into a module of
    the student's beside the file, was listed as finished by hand: only the file's own source was read for
    TorchScript, whose engine the recorder does not hear."""
    helper, _, answer = (RED / "cos_square_chain_split_with_its_inner_link_in_torchscript.py").read_text() \
        .partition("def get_derivative")
    (tmp_path / "vjp_helpers.py").write_text(helper)
    (tmp_path / "solution.py").write_text("import torch\nfrom vjp_helpers import square_vjp\n\n\ndef get_derivative" +
                                          answer)
    outcome = grade_file(tmp_path / "solution.py", exercise.load("cos_square"), warm=True)
    assert outcome.score == outcome.max_score and outcome.backward is not None
    assert not outcome.backward.by_hand, outcome.backward.divergence


@pytest.mark.parametrize("path", [RED / "cos_square_chain_by_hand_returned_beside_y.py",
                                  RED / "cos_square_chain_by_hand_as_tolist.py",
                                  RED / "cos_square_chain_by_hand_as_numpy.py"], ids=lambda p: p.stem)
def test_a_chain_by_hand_returned_in_a_pair_or_a_list_is_read_as_the_grid_reads_it(path: Path) -> None:
    """rt167: the recorded call read a pair by the child's old rules and a list not at all (rt168: nor a
    numpy array), so these scored 9/10 (the contract point alone) and were never listed for the TA."""
    outcome = grade_file(path, exercise.load("cos_square"), warm=True)
    assert outcome.backward is not None and outcome.backward.by_hand, outcome.backward
    assert outcome.score == 9.0


def test_the_pass_is_in_result_json_and_drawn(tmp_path: Path) -> None:
    ex = exercise.load("cos_square")
    outcome = grade_file(SAMPLES / "cos_square" / "mistake_no_chain_factor.py", ex, warm=True)
    written = write_files(outcome, ex, tmp_path, plot=True)
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["schema_version"] == 2
    passes = data["backward_pass"]
    assert {"sample_x", "student", "reference", "divergence"} <= set(passes)
    assert [s["op"] for s in passes["reference"]] == ["SumBackward0", "CosBackward0", "PowBackward0"]
    assert {"op", "grad_in", "local", "grad_out", "formula", "at"} <= set(passes["reference"][1])
    assert passes["reference"][2]["formula"] == "d/du u² = 2u"
    assert (tmp_path / "backward.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written is not None


@pytest.mark.parametrize("name", ["finds_the_reference.py", "leaks_reference_source.py",
                                  "reads_secret_from_recorder.py"])
def test_the_reference_solution_is_out_of_a_submissions_reach(name: str) -> None:
    """It is recorded and dropped before the student's file loads: nothing in the child to call or
    to print (the red team returned its answer for 10/10 while it sat on the harness's Runner). Nor
    does the recorder, armed by the submission itself, list the derivative the canary applied (it
    did: 10/10 with no backward pass)."""
    outcome = grade_file(RED / name, exercise.load("sin"), warm=True)
    assert outcome.score == 1.0
    assert not any("LOAD_" in f.message for f in outcome.findings)  # no disassembly of the solution shown


def test_sin_in_place_is_one_step_as_the_students_graph_has_it() -> None:
    """`y.sin_()` showed the canary's in-place kernel as steps of the student's own: "CopyBackwards: no
    formula known, here 0; gradient 1 in, 0 out", and a CloneBackward0 she never wrote."""
    outcome = grade_file(SUBMISSIONS / "honest_inplace_sin.py", exercise.load("sin"), warm=True)
    assert outcome.score == outcome.max_score and outcome.backward is not None
    assert [s.op for s in outcome.backward.student] == ["SumBackward0", "SinBackward0", "MulBackward0",
                                                        "AccumulateGrad"]
    sin = outcome.backward.student[1]
    assert sin.grad_in == 1.0 and sin.local is not None and abs(sin.local - math.cos(0.75)) < 1e-6


def test_a_file_that_does_not_load_has_no_pass() -> None:
    outcome = grade_file(SUBMISSIONS / "broken_syntax.py", exercise.load("sin"), warm=True)
    assert outcome.backward is None
