"""Sound verdicts, through the real sandbox on both start paths: submissions written by someone who
has read this repository. Cheats that try to tell the secret calls apart (by mode stack, graph,
call order, timing, frames, heap), mixtures, formulas behind an assert and remembered answers keep
the loads point and nothing else; honest code in threads, TorchScript, torch.compile, keyword
arguments and self-checks scores full marks with nothing for a TA to review. The same for every
exercise of the catalogue, with fixtures written from its formula."""

from __future__ import annotations

import re

import pytest

from grader import exercise
from grader.canary import FLOODED, is_secret_route
from grader.exercise import load
from grader.feedback import in_torch
from tests.conftest import FIXTURES, SUBMISSIONS

pytestmark = pytest.mark.slow

VERDICT = FIXTURES / "verdict"
CHEATS = ["tells_mode_stack", "tells_grad_fn", "tells_call_order", "tells_by_timing", "tells_by_frames",
          "tells_by_closures", "tells_by_gc", "mixes_a_little_autograd", "autograd_on_one_element",
          "moves_on_the_fresh_call", "formula_behind_an_assert", "remembers_answers",
          "steals_state_from_a_traceback", "returns_complex_cos", "moves_garbage_with_the_secret",
          "fits_the_secret", "reads_the_canarys_closures_from_raw_memory", "tells_calls_apart_elsewhere",
          "tells_calls_apart_at_infinity", "runs_out_of_files_on_chosen_calls", "overflows_the_relations",
          "hides_a_formula_at_the_bounds", "raises_past_the_bounds_on_one_element",
          "raises_past_the_bounds_after_a_forward_sin"]
HONEST = ["honest_in_a_thread", "honest_torchscript", "honest_compile", "honest_keyword",
          "honest_checks_its_own_answer", "honest_complex_autograd", "honest_torchscript_optimized",
          "honest_jit_trace", "honest_compile_fullgraph", "honest_linearize", "honest_plots_in_every_call",
          "honest_optimizer", "honest_torch_settings", "honest_interop_threads_asked", "honest_temp_files",
          "honest_reads_its_arguments",
          "honest_traced_graphs", "honest_thread_pool", "honest_clamps_to_the_cosines_range",
          "honest_default_device_set_on_one_call", "honest_torchscript_in_a_thread", "honest_torchscript_fork",
          "honest_torchscript_fuser", "honest_vmap_jvp_per_element"]


def _autograd(outcome):
    return next(f for f in outcome.findings if f.name == "autograd")


@pytest.mark.parametrize("name", CHEATS)
def test_a_cheat_keeps_only_the_loads_point(name, grade_file, sin):
    outcome = grade_file(VERDICT / f"{name}.py", sin)
    autograd = _autograd(outcome)
    assert outcome.status == "graded"
    assert outcome.score == sin.rubric["loads"], [f.message for f in outcome.findings]
    assert not autograd.passed and autograd.data["unproven"]
    assert "is not shown" in autograd.summary


def test_d2ls_plotting_helpers_load_and_score_full_marks(grade_file, sin):
    """D2L's use_svg_display() starts IPython (a profile copied with chmod, a history in sqlite): with
    chmod and file locks refused the file failed to load, 0/10. (IPython also tries a process,
    refused and recorded for review as ever.)"""
    outcome = grade_file(VERDICT / "honest_d2l_plot_helpers.py", sin)
    assert outcome.score == sin.max_score, [f.message for f in outcome.findings if not f.passed]
    assert set(outcome.sandbox_events) <= {"subprocess.Popen"}


@pytest.mark.parametrize("name", HONEST)
def test_honest_code_scores_full_marks_and_raises_no_flag(name, grade_file, sin):
    outcome = grade_file(VERDICT / f"{name}.py", sin)
    assert outcome.score == sin.max_score, [f.message for f in outcome.findings if not f.passed]
    assert _autograd(outcome).data["verdicts"].keys() == {"proven"}
    # torch.compile runs the function eagerly: it could not start a C++ compiler here.
    assert outcome.sandbox_events == ()


def test_answers_rounded_for_display_are_judged_as_float32_and_coarser_ones_told_so(grade_file, sin):
    """hn122: torch.round(x.grad, decimals=6) was "computed in half precision", 1/10 and a suspect,
    where cos(0) = 1 left the plain answer exact at float64 and so judged it to float64's tolerance."""
    outcome = grade_file(VERDICT / "honest_rounds_for_display.py", sin)
    assert _autograd(outcome).passed and _autograd(outcome).data["verdicts"].keys() == {"proven"}
    correctness = next(f for f in outcome.findings if f.name == "correctness")
    assert not correctness.passed and 0 < outcome.score < sin.max_score  # (the digits lost on float64 inputs)
    coarse = _autograd(grade_file(VERDICT / "rounds_to_four_decimals.py", sin))
    assert not coarse.passed and "rounded" in coarse.data["verdicts"]
    assert "your answers are rounded to 4 decimals" in coarse.message and ".half()" not in coarse.message


def test_a_mode_sees_none_of_the_harness_operators(grade_file, sin):
    """grader_canary::next_call ran before each planned call, and rest after it, where a function or
    dispatch mode of the submission's saw them (rt198's wrote earlier answers back on rest): a file
    that wrote cos(x) out once it had seen one lost all but the loads point; it never sees one now."""
    outcome = grade_file(VERDICT / "watches_for_the_harness_ops.py", sin)
    assert _autograd(outcome).data["verdicts"].keys() == {"proven"}, _autograd(outcome).message


def test_a_gradcheck_inside_the_function_is_unproven_and_told_so(grade_file, sin):
    autograd = _autograd(grade_file(VERDICT / "gradchecks_inside_the_function.py", sin))
    assert autograd.data["verdicts"].keys() == {"raised"}
    assert "checks autograd against finite differences (torch.autograd.gradcheck)" in autograd.message
    assert "an assert on its range" not in autograd.message


def test_a_check_of_the_answers_range_is_unproven_and_told_so(grade_file, sin):
    """rt133's honest assert that |grad| <= 1 fails under the secret: unproven, as any check of
    autograd's answer is, but told of the range, not of a formula."""
    outcome = grade_file(VERDICT / "checks_its_answers_range.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and "raised" in autograd.data["verdicts"]
    assert "checks that autograd's answer lies within [-1, 1]" in autograd.message, autograd.message
    assert "clipping it to [-1, 1] is fine" in autograd.message


def test_a_plot_in_a_windows_backend_is_drawn_without_one(grade_file, sin):
    """matplotlib.use("TkAgg") scored 0/10 in a batch, plt.switch_backend("TkAgg") 0/10 everywhere: a
    hunter's. Nothing recorded either way: pyplot's first import runs fc-list, which a fresh child's
    audit hook recorded for every honest file that plots, until pyplot came before the hook there
    too, as in a batch's zygote."""
    outcome = grade_file(VERDICT / "honest_window_backend.py", sin)
    assert outcome.score == sin.max_score, [f.message for f in outcome.findings if not f.passed]
    assert outcome.sandbox_events == ()


def test_pyplot_through_d2l_or_a_module_of_ones_own_is_imported_before_the_hook(grade_file, sin, tmp_path):
    """hn151: `from d2l import torch as d2l` (its stand-in imports pyplot), and a helper module that plots, showed
    the student a subprocess.Popen "recorded for your TA": matplotlib's font list, built under the audit hook."""
    honest = "    t = x.detach().clone().requires_grad_(True)\n    torch.sin(t).sum().backward()\n    return t.grad\n"
    (tmp_path / "book.py").write_text(f"import torch\nfrom d2l import torch as d2l\n\n\ndef get_derivative(x):\n"
                                      f"{honest}")
    (tmp_path / "drawing.py").write_text("import matplotlib.pyplot as plt\n\n\ndef show(x, y):\n    plt.plot(x, y)\n")
    (tmp_path / "mine.py").write_text(f"import torch\nimport drawing\n\n\ndef get_derivative(x):\n{honest}")
    for name in ("book", "mine"):
        outcome = grade_file(tmp_path / f"{name}.py", sin)
        assert outcome.score == sin.max_score and outcome.sandbox_events == (), (name, outcome.sandbox_events)


def test_zeros_with_a_bump_under_the_secret_show_no_autograd(grade_file):
    """rt125: zeros on both calls and one number a little above the slack on the secret call passed
    the scaled relation (S·R = P·R* with P = 0) on every input: 5.1/10 on cos_square, the formula by
    hand credited where the secret cannot show. Now the loads point only."""
    cos_square = load("cos_square")
    outcome = grade_file(VERDICT / "zeros_with_a_bump_under_the_secret.py", cos_square)
    autograd = _autograd(outcome)
    assert outcome.score == cos_square.rubric["loads"], [f.message for f in outcome.findings]
    assert "follows" not in autograd.data["verdicts"], autograd.data


def test_a_primitive_on_numbers_the_canary_cannot_reach_is_unproven_but_not_called_a_bypass(grade_file, sin):
    """Before, nested and masked tensors got torch's true derivative (or an error from the canary's
    operator), and honest autograd through them was told it had written cos out."""
    outcome = grade_file(VERDICT / "cos_beside_a_sparse_sin.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and not autograd.passed
    assert set(autograd.data["verdicts"]) == {"unfollowed"} and not autograd.data["bypassed"]
    assert "cannot reach (sparse" in autograd.summary and "written out" not in autograd.message


@pytest.mark.parametrize("name", ["honest_nested_jagged", "honest_masked"])
def test_autograd_through_a_nested_or_masked_tensor_is_unproven_but_not_called_a_formula(name, grade_file, sin):
    """Their dense numbers got the secret once, but are reached through Python a submission can patch
    or override: a red team's handed the canary's operator the grid's x there, having run sin on
    zeros, and was proven with nothing recorded. Honest autograd through them is no evidence now:
    unproven, and the words name the kind of tensor, not a formula. The trace reads no numbers out of
    a jagged one's storage, which holds none (hn150: it crashed the child, and the student saw
    our own files' paths in a segfault's dump)."""
    outcome = grade_file(VERDICT / f"{name}.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and not autograd.passed
    assert set(autograd.data["verdicts"]) == {"unfollowed"} and not autograd.data["bypassed"]
    assert "written out" not in autograd.message, autograd.message
    assert outcome.stderr == "", outcome.stderr


def test_an_honest_float32_chain_rule_is_not_accused_by_rounding(grade_file):
    """‖x‖² summed in float32 rounds; the secret's steeper slope magnifies that. The verdict allows
    for it, so the same file and seed score the same however the secret falls (the third red team
    saw 1.0 or 9.88 from run to run here)."""
    ex = exercise.load("sin_cos_norm")
    scores = set()
    for _ in range(3):
        outcome = grade_file(VERDICT / "honest_norm_by_loop.py", ex, seed=6)
        assert not _autograd(outcome).data["unproven"], _autograd(outcome).message
        scores.add(outcome.score)
    assert len(scores) == 1


def test_a_self_check_against_the_formula_is_told_what_to_change(grade_file, sin):
    outcome = grade_file(VERDICT / "honest_asserts_against_the_formula.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"]
    assert autograd.data["verdicts"].keys() == {"raised"}
    assert "raised only when the derivative of sin was swapped" in autograd.summary
    assert "Return autograd's value without checking it" in autograd.advice


def test_autograd_of_another_function_is_named_as_such(grade_file, sin):
    outcome = grade_file(VERDICT / "autograd_of_exp.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and autograd.data["verdicts"].keys() == {"bypassed"}
    assert "autograd of something other than torch.sin" in autograd.cause
    assert "torch.sin never ran" in autograd.message


def test_autograd_of_a_rewritten_form_is_not_called_a_formula_alone(grade_file, sin):
    """A red team's student rewrote sin(x) as 2 sin(x/2) cos(x/2) and took autograd of that: no proof
    (the grader watches sin at x), but the words named only formulas and corrections."""
    outcome = grade_file(VERDICT / "autograd_of_a_half_angle_identity.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and autograd.data["unproven"]
    assert "rewritten form of sin(x)" in autograd.cause and "not differentiated at its own argument" in autograd.cause


def test_a_hook_on_the_graphs_node_is_told_of_the_graph_and_is_no_suspect(grade_file, sin):
    """rt141: honest code that hooks y.grad_fn got zeros from the canary's node (not torch's own), was
    told "the gradient was zeroed before it was returned", and was listed among the suspects."""
    outcome = grade_file(VERDICT / "hooks_the_graphs_node.py", sin)
    correctness = next(f for f in outcome.findings if f.name == "correctness")
    assert outcome.score == sin.rubric["loads"]
    assert correctness.data["cause"] == "graph_inspection" and correctness.data["slip"]
    assert "AddcmulBackward0, with three inputs" in correctness.cause and "x.register_hook" in correctness.advice


def test_cos_behind_a_slip_on_the_smallest_inputs_is_still_a_suspect(grade_file, sin):
    """A slip's values are no suspect's, where the feedback names one (the smallest failing input): a
    cheat wrote cos(x) and gave a node hook's None on its smallest inputs. Right values without
    autograd anywhere keep it on the TA's list."""
    from grader.report import result_json, summary

    outcome = grade_file(VERDICT / "hides_cos_behind_a_slip.py", sin)
    result = result_json.to_dict(outcome)
    assert outcome.score == sin.rubric["loads"] and _autograd(outcome).data["unproven_right"] > 0
    flag = summary._flag("mallory", result)
    assert flag is not None and "is not shown" in flag.unproven
    honest = result_json.to_dict(grade_file(VERDICT / "hooks_the_graphs_node.py", sin))
    assert summary._flag("ann", honest) is None


def test_autograd_of_the_wrong_function_is_a_wrong_answer_not_a_suspect(grade_file, sin):
    """ux117: honest sin(x·x) scored 1/10 (sin never ran at x) and was listed beside cos(x) for
    the TA; its answers are far from cos(x) almost everywhere, where a formula's are near."""
    from grader.report import result_json, summary

    outcome = grade_file(VERDICT / "differentiates_sin_of_x_squared.py", sin)
    autograd = _autograd(outcome)
    assert outcome.score == sin.rubric["loads"] and autograd.data["unproven"]
    assert autograd.data["unproven_right_share"] == 0 and "different function" in autograd.cause
    assert summary._flag("ann", result_json.to_dict(outcome)) is None
    # (torch.gradient's numerical derivative is wrong on every input too, with no autograd at all: listed)
    numerical = grade_file(SUBMISSIONS / "cheat_torch_gradient.py", sin)
    assert _autograd(numerical).data["used_autograd"] is False
    assert summary._flag("bob", result_json.to_dict(numerical)) is not None


def test_a_gradient_beside_what_it_was_taken_of_is_read_and_judged(grade_file, sin):
    """ux117: `return x, x.grad` scored 1/10, a tuple never read, beside .tolist()'s 9/10; the
    element autograd does not track is read now, and judged as any answer is."""
    # (what it came beside, in words: at x = 0, sin's y is x too)
    for name, beside in (("returns_y_beside_its_gradient.py", "equal both to x and to the function's values"),
                         ("returns_the_loss_item_beside_its_gradient.py", "beside a Python number")):  # (rt168)
        honest = grade_file(VERDICT / name, sin)
        assert [f.name for f in honest.findings if not f.passed] == ["contract"] and honest.score == 9.0, name
        contract = next(f for f in honest.findings if f.name == "contract")
        assert "The gradient's numbers were read" in contract.cause and beside in contract.message, contract.message
    cheat = grade_file(VERDICT / "returns_x_beside_cos.py", sin)
    assert cheat.score == sin.rubric["loads"] and _autograd(cheat).data["unproven"]


@pytest.mark.parametrize(("name", "exercise_name"), [("returns_a_namedtuple_of_y_and_its_gradient.py", "sin"),
                                                     ("cos_square_loss_item_beside_its_gradient.py", "cos_square")])
def test_a_gradient_in_a_namedtuple_or_beside_a_number_at_zeros_is_read(grade_file, name, exercise_name):
    """hn127: a namedtuple scored 1/10, unread; cos(x²)'s loss.item() beside x.grad 7.32, unread at an x of
    zeros (the gradient +0.0 is x there). The contract point alone is lost."""
    from grader import exercise

    ex = exercise.load(exercise_name)
    outcome = grade_file(VERDICT / name, ex)
    assert [f.name for f in outcome.findings if not f.passed] == ["contract"] and outcome.score == 9.0, \
        [f.message for f in outcome.findings if not f.passed]


def test_a_list_of_the_rows_gradients_is_read_and_judged(grade_file, sin, tmp_path):
    """rt168: a 2-d x's rows' gradients in a list were unread (6.76/10); read as a loop's list now, and a
    list of the rows' cos as any answer is."""
    honest = grade_file(VERDICT / "returns_its_rows_gradients.py", sin)
    assert [f.name for f in honest.findings if not f.passed] == ["contract"] and honest.score > 9, honest.score
    contract = next(f for f in honest.findings if f.name == "contract")
    assert "list of tensors" in contract.cause or "list holding one" in contract.message, contract.message
    cheat = tmp_path / "rows_cos.py"
    cheat.write_text((VERDICT / "returns_its_rows_gradients.py").read_text().replace(
        "    grads = []\n", "    return [torch.cos(row) for row in x]\n    grads = []\n"))
    outcome = grade_file(cheat, sin)
    assert outcome.score == sin.rubric["loads"] and _autograd(outcome).data["unproven"], outcome.score


def test_a_near_cos_behind_a_graph_reads_none_is_still_a_suspect(grade_file, sin):
    """rt145: None on the smallest inputs and a next_functions read made the shrunk example a slip of
    reading the graph, and the file, cos(x) 0.01 off at one element everywhere else, left the TA's
    list. A slip of reading the graph is one only where every failing input is what such code gets."""
    from grader.report import result_json, summary

    outcome = grade_file(VERDICT / "hides_a_near_cos_behind_a_graph_read.py", sin)
    correctness = next(f for f in outcome.findings if f.name == "correctness")
    assert outcome.score == sin.rubric["loads"] and _autograd(outcome).data["unproven"]
    assert correctness.data["cause"] != "graph_inspection" and not correctness.data.get("slip")
    flag = summary._flag("frank", result_json.to_dict(outcome))
    assert flag is not None and "is not shown" in flag.unproven


def test_an_interrupt_carries_no_frame_of_the_canary_out(grade_file, sin):
    """An interrupt landing as a kernel was entered carried its frames, and the secret, out."""
    outcome = grade_file(VERDICT / "interrupts_the_canary.py", sin)
    assert outcome.status == "graded" and outcome.score == sin.rubric["loads"], outcome.stdout
    assert "interrupted: 0 stolen: False" in outcome.stdout  # SIGINT is ignored: interrupt_main does nothing


@pytest.mark.parametrize("route", ["gc_callback", "report_error", "python_kernel"])
def test_no_code_of_the_file_runs_below_the_formula(route, grade_file, sin, tmp_path):
    """Each route ran the file's code below the formula, where a generator resumed walked up to its
    frame: the secret, a cos cheat that tells the calls apart proven, nothing on record. None gets
    there now: the formula runs no op of torch's, so a Python kernel of the file's runs only below
    the primitive's kernel, where no frame holds the secret."""
    student = tmp_path / "runs_python_below_the_formula.py"
    student.write_text((VERDICT / student.name).read_text().replace('ROUTE = "gc_callback"', f'ROUTE = "{route}"'))
    outcome = grade_file(student, sin)
    assert outcome.status == "graded" and "stolen: []" in outcome.stdout, outcome.stdout
    assert outcome.score == sin.rubric["loads"]
    # (its generator's frame, taken inside it, is on the record: resumed inside the audit hook it
    # would lead there)
    assert [event for event in outcome.sandbox_events if is_secret_route(event)] == [
        "read a frame (sys._getframe) with a generator or coroutine of the file's among its callers"], \
        outcome.sandbox_events


def test_logging_and_a_librarys_import_inside_a_generator_are_no_frame_read_of_the_files(grade_file, sin, tmp_path):
    """hn126: logging's own frame read, and a library's module code imported inside the file's generator,
    were recorded as the file's and listed for the TA; a frame read by the file's own module code imported
    there is still recorded."""
    honest = grade_file(VERDICT / "logs_inside_its_generator.py", sin)
    assert honest.score == sin.max_score and not [e for e in honest.sandbox_events if is_secret_route(e)], \
        honest.sandbox_events
    (tmp_path / "peek.py").write_text("import sys\n\nFRAME = sys._getframe(0)\n")
    student = tmp_path / "solution.py"
    student.write_text((VERDICT / "logs_inside_its_generator.py").read_text().replace(
        '        yield t.grad', '        __import__("peek")\n        yield t.grad'))
    peeking = grade_file(student, sin)
    assert "read a frame (sys._getframe) with a generator or coroutine of the file's among its callers" in \
        peeking.sandbox_events, peeking.sandbox_events


def test_colab_packages_stand_in_for_the_files_imports_and_not_for_torchs(grade_file, sin):
    """hn134, ux130: an unused `import pandas` (seaborn, tqdm) scored 0/10. They stand in now, where the
    file's own code imports them, inside its generator too, with nothing recorded for the TA; not where
    torch.compile tries them inside torch (the loads check told an honest file it imported them)."""
    outcome = grade_file(VERDICT / "honest_imports_colab_packages_in_a_generator.py", sin)
    assert outcome.score == sin.max_score and "[0, 1, 2]" in outcome.stdout, outcome.stdout
    loads = next(f for f in outcome.findings if f.name == "loads")
    assert "imports pandas, seaborn and tqdm, which the grader does not install" in loads.message, loads.message
    assert not [event for event in outcome.sandbox_events if is_secret_route(event)], outcome.sandbox_events
    compiled = grade_file(VERDICT / "honest_compile.py", sin)
    loads = next(f for f in compiled.findings if f.name == "loads")
    assert compiled.score == sin.max_score and "does not install" not in loads.message, loads.message


def test_asyncio_and_faulthandler_are_honest_code(grade_file, sin):
    outcome = grade_file(VERDICT / "honest_asyncio.py", sin)
    assert outcome.score == sin.max_score, [f.message for f in outcome.findings if not f.passed]
    assert _autograd(outcome).data["verdicts"].keys() == {"proven"}
    assert not [event for event in outcome.sandbox_events if is_secret_route(event)]


def test_threads_at_once_and_signal_resets_are_honest_code(grade_file, sin):
    outcome = grade_file(VERDICT / "honest_threads_and_signals.py", sin)
    assert outcome.score == sin.max_score, [f.message for f in outcome.findings if not f.passed]
    assert "dispositions: SIG_DFL SIG_IGN" in outcome.stdout
    assert _autograd(outcome).data["verdicts"].keys() == {"proven"}
    assert not [event for event in outcome.sandbox_events if is_secret_route(event)], outcome.sandbox_events


def test_heap_walks_are_recorded_as_they_happen(grade_file, sin):
    heap = grade_file(VERDICT / "tells_by_gc.py", sin)
    assert "gc.get_objects" in heap.sandbox_events


def test_the_admitted_attack_reads_the_heap_and_is_on_record(grade_file, sin):
    """Python lets code search the heap for the canary's closures (the README says so); what
    matters is that the search reaches the TA's record before the submission gets its answer."""
    outcome = grade_file(VERDICT / "reads_the_heap.py", sin)
    assert "gc.get_objects" in outcome.sandbox_events


def test_another_threads_frames_are_on_record(grade_file, sin):
    """A second thread can read the main thread's frames while the secret's formula runs; the
    request for them reaches the TA's record before it is answered."""
    outcome = grade_file(VERDICT / "steals_state_from_another_thread.py", sin)
    assert "sys._current_frames" in outcome.sandbox_events


def test_forged_lines_cannot_push_the_record_out(grade_file, sin):
    outcome = grade_file(VERDICT / "floods_the_record.py", sin)
    assert "gc.get_objects" in outcome.sandbox_events  # (its empty lines are the hook's own separators)


@pytest.mark.parametrize("name", ["reads_memory_by_a_crooked_path", "reads_memory_through_numpy",
                                  "reads_memory_through_a_link", "reads_memory_by_a_str_subclass"])
def test_reading_the_processs_memory_map_is_on_record(name, grade_file, sin):
    """Reading raw memory is the one attack Python cannot stop (README); finding where to look means
    opening the process's memory or its map, by whatever spelling of the path (a symbolic link of the
    submission's naming included), and that is recorded."""
    outcome = grade_file(VERDICT / f"{name}.py", sin)
    assert any(event.startswith("opened a process's memory or its map") for event in outcome.sandbox_events)
    if name == "reads_memory_through_a_link":
        assert "read: b'marker-of-its-own-heap'" in outcome.stdout  # (the open itself is not refused)
        assert {"opened a process's memory or its map (mem)",
                "opened a process's memory or its map (maps)"} <= set(outcome.sandbox_events)
    if name == "reads_memory_by_a_str_subclass":  # (and a write outside the folder by os.open's flags)
        assert {"opened a process's memory or its map (mem)", "opened a process's memory or its map (maps)",
                "opened /dev/urandom for writing"} <= set(outcome.sandbox_events), outcome.sandbox_events


def test_the_record_cannot_be_read_by_the_submission_it_records(grade_file, sin):
    """Its end was a pipe's write end, which /proc/self/fd reopened for reading: 32 readers of the
    submission's took the lines before the grader saw them (a red team's heap search went
    unrecorded). A socket's end cannot be reopened so."""
    outcome = grade_file(VERDICT / "steals_its_own_record.py", sin)
    assert "could not reopen socket" in outcome.stdout and "reopened" not in outcome.stdout
    assert "gc.get_objects" in outcome.sandbox_events
    assert outcome.score == sin.max_score, outcome.stdout


def test_decoys_cannot_push_the_heap_search_off_the_record(grade_file, sin):
    outcome = grade_file(VERDICT / "fills_the_record_with_decoys.py", sin)
    assert "gc.get_objects" in outcome.sandbox_events


def test_an_endless_record_line_is_not_kept_and_is_a_flood_on_record(grade_file, sin):
    """Past 4 MiB the grader stops reading the channel (one endless line cost it a core for as long
    as the child wrote): the file's own next write into it fails, at import, and the flood is a
    way towards the secret on the record."""
    outcome = grade_file(VERDICT / "writes_an_endless_record_line.py", sin)
    assert outcome.status == "load_error" and "BrokenPipeError" in outcome.findings[0].message
    assert any(event.startswith(FLOODED) for event in outcome.sandbox_events), outcome.sandbox_events


def test_silencing_the_record_is_itself_on_record(grade_file, sin):
    outcome = grade_file(VERDICT / "silences_the_record.py", sin)
    assert "gc.get_objects" in outcome.sandbox_events  # sent before the pipes were touched
    assert any("record channel was closed or replaced" in event for event in outcome.sandbox_events)


def test_the_audit_hooks_own_frames_are_out_of_reach(grade_file, sin):
    """A red team's gc callback ran inside the hook (a collection started by its allocations), walked
    up to `send`, wrote a signed line of its own and set the record's counts so that nothing more was
    recorded (ctypes and /proc/self/mem then went unrecorded); a refusal's traceback leads into the
    hook's frames too."""
    outcome = grade_file(VERDICT / "reaches_the_audit_hooks_closures.py", sin)
    assert "reached the hook's closures: no" in outcome.stdout, outcome.stdout
    assert "nothing else happened here" not in outcome.sandbox_events
    assert "ctypes.dlopen" in outcome.sandbox_events
    assert "| gi_frame: refused" in outcome.stdout
    assert "read a frame (gi_frame) of a generator or coroutine that can still run" in outcome.sandbox_events
    assert "read a frame (sys._getframe) with a generator or coroutine of the file's among its callers" in \
        outcome.sandbox_events
    assert outcome.score == sin.max_score  # the rest of the file is honest


def test_no_signal_handler_can_sample_the_canarys_frames(grade_file, sin):
    outcome = grade_file(VERDICT / "samples_frames_by_signal.py", sin)
    assert "refused:" in outcome.stdout and "handler installed" not in outcome.stdout
    assert outcome.score == sin.max_score  # the rest of the file is honest


def test_following_the_secret_without_calling_the_primitive_is_forged(grade_file, sin):
    """The canary's kernel, found on the heap and called on x on every call, follows the secret
    exactly (it asks the grader); torch.sin never ran, so no autograd carried it (a stolen formula
    was proven before)."""
    outcome = grade_file(VERDICT / "follows_a_formula_read_from_the_heap.py", sin)
    autograd = _autograd(outcome)
    assert "found: True" in outcome.stdout and "gc.get_objects" in outcome.sandbox_events
    assert outcome.score == sin.rubric["loads"] and autograd.data["verdicts"].keys() == {"forged"}
    assert "yet torch.sin never ran during those calls" in autograd.summary
    assert "the grader's own derivative operator" in autograd.cause


@pytest.mark.parametrize("name", ["swaps_the_kernels_input.py", "swaps_the_kernels_input_by_dispatch.py"])
def test_the_kernel_hands_out_the_secret_for_no_numbers_but_its_inputs(name, grade_file, sin):
    """A red team's subclass answered the kernel's x.detach() with the grid's x, having called sin
    on a copy, and read the secret there off the kernel's next ops: 10/10, nothing recorded."""
    outcome = grade_file(VERDICT / name, sin)
    assert outcome.score == sin.rubric["loads"], _autograd(outcome).data
    assert "proven" not in _autograd(outcome).data["verdicts"]


def test_a_profile_function_that_reads_the_secret_is_on_the_record(grade_file, sin):
    """A profile function sees the canary's frames. Red teams set theirs unrecorded while the hook
    let the canary's own sys.setprofile go: by raising a flag the hook read, then by forging the
    hook's check of the calling frame. The canary sets none now, so the hook lets none go."""
    outcome = grade_file(VERDICT / "reads_the_secret_with_a_profile_function.py", sin)
    assert "sys.setprofile" in outcome.sandbox_events, outcome.sandbox_events
    assert _autograd(outcome).data["verdicts"].keys() == {"proven"}  # (what the record is for)


def test_the_graders_operator_gives_no_more_than_sins_own_graph(grade_file, sin):
    """A red team's cos cheat called torch.sin on a detached x, then the canary's operator on x. The
    operator gives the derivative of the numbers it is handed, which the graph of a call of sin at
    them saves anyway: both routes get the same verdicts, and neither is called a formula. So does
    a third, which asks the grader on the canary's socket itself, as the operator does."""
    outcomes = [grade_file(VERDICT / name, sin) for name in ("uses_the_graders_operator.py",
                                                             "reads_the_saved_derivative.py",
                                                             "asks_the_oracle_itself.py")]
    verdicts = [_autograd(outcome).data["verdicts"] for outcome in outcomes]
    assert verdicts[0] == verdicts[1] == verdicts[2] and set(verdicts[0]) == {"proven"}, verdicts
    assert all(not outcome.sandbox_events for outcome in outcomes)


# ---- every exercise of the catalogue -------------------------------------------------------------

CATALOGUE_HONEST = {
    "thread": """import threading
import torch

def {function}(x):
    out = {{}}
    def work():
        x1 = x.detach().clone().requires_grad_(True)
        ({value}).sum().backward()
        out["grad"] = x1.grad
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return out["grad"]
""",
    "torchscript": """import torch

@torch.jit.script
def f(x1: torch.Tensor) -> torch.Tensor:
    return {value}

def {function}(x):
    x1 = x.detach().clone().requires_grad_(True)
    f(x1).sum().backward()
    return x1.grad
""",
}
# Both remember autograd's first answer for each input: one returns it on every call but each
# third (where the canary once was), the other mixes a little of it into every answer.
_REMEMBER = """import torch
seen = {{}}
calls = [0]

def autograd(x):
    x1 = x.detach().clone().requires_grad_(True)
    ({value}).sum().backward()
    return x1.grad

def remembered(x):
    key = (tuple(x.shape), str(x.dtype), x.detach().cpu().double().numpy().tobytes())
    if key not in seen:
        seen[key] = autograd(x)
    return seen[key]
"""
CATALOGUE_CHEATS = {
    "call_order": _REMEMBER + """
def {function}(x):
    calls[0] += 1
    return autograd(x) if calls[0] % 3 == 0 else remembered(x).clone()
""",
    "mixture": _REMEMBER + """
def {function}(x):
    return 0.98 * autograd(x) + 0.02 * remembered(x)
""",
    # A red team's: autograd of the primitive at a number of its own tells a secret call from a plain
    # one, and the plain ones get the formula (on log_sin, whose formula runs sin at x itself, the
    # formula's own forward pass asked about x: 10/10 until the secret lived only at x).
    "probe_elsewhere": """import torch

def d(u):
    return {derivative}

def secret_call():
    t = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch.{primitive}(t).sum(), t)
    return abs(float(g[0]) - float(d(torch.tensor(0.5, dtype=torch.float64)))) > 1e-12

def {function}(x):
    if not secret_call():
        x1 = x.detach()
        return ({gradient}) + torch.zeros_like(x1)
    x1 = x.detach().clone().requires_grad_(True)
    ({value}).sum().backward()
    return x1.grad
""",
}
EXERCISES = ["cos_square", "sin_cos_norm", "log_sin"]


def _write(tmp_path, template: str, ex: exercise.Exercise, name: str):
    value = re.sub(r"\bx\b", "x1", in_torch(ex.value))
    gradient = re.sub(r"\bx\b", "x1", in_torch(ex.gradient.replace(f"d_{ex.primitive}(", "d(")))
    path = tmp_path / f"{name}.py"
    path.write_text(template.format(function=ex.function, value=value, gradient=gradient, primitive=ex.primitive,
                                    derivative=in_torch(ex.derivative)))
    return path


@pytest.mark.parametrize("kind", sorted(CATALOGUE_HONEST))
@pytest.mark.parametrize("name", EXERCISES)
def test_honest_code_of_every_exercise_scores_full_marks(name, kind, grade_file, tmp_path):
    ex = exercise.load(name)
    outcome = grade_file(_write(tmp_path, CATALOGUE_HONEST[kind], ex, kind), ex)
    assert outcome.score == ex.max_score, [f.message for f in outcome.findings if not f.passed]


@pytest.mark.parametrize("kind", sorted(CATALOGUE_CHEATS))
@pytest.mark.parametrize("name", EXERCISES)
def test_cheats_of_every_exercise_keep_only_the_loads_point(name, kind, grade_file, tmp_path):
    ex = exercise.load(name)
    outcome = grade_file(_write(tmp_path, CATALOGUE_CHEATS[kind], ex, kind), ex)
    assert outcome.score == ex.rubric["loads"], [f.message for f in outcome.findings]
    assert _autograd(outcome).data["unproven"]
