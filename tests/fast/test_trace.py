"""The backward-pass recorder, in-process: what it records, that it changes nothing, and that the
parent's validation bounds what it accepts (sandbox/trace.py, sandbox/replies.parse_traced)."""

from __future__ import annotations

import random
import types

import numpy as np
import pytest
import torch

from grader import backward, exercise
from grader.canary import Secret
from grader.observations import LoadResult, Observations, Traced
from grader.sandbox import child, trace
from grader.sandbox.oracle import Oracle
from grader.sandbox.protocol import ProtocolError
from grader.sandbox.replies import parse_reference, parse_traced
from tests.canaries import InProcessCanary

SECRET = Secret.draw(random.Random(3))


@pytest.fixture
def runner():
    """A child's Runner in this process, for the cos(x²) exercise; torch given back after."""
    ex = exercise.load("cos_square")
    engine = torch.autograd.variable.Variable._execution_engine
    oracle = Oracle()
    oracle.start(SECRET)
    made = child.Runner(torch, {"path": "x.py", "function": ex.function, "primitive": ex.primitive,
                                "derivative": ex.derivative}, oracle.channel)
    yield made
    made.canary.remove()
    made.recorder.remove()
    oracle.close()
    assert torch.autograd.variable.Variable._execution_engine is engine


def _cos_square_solution() -> tuple[str, str | None]:
    """The reference solution's path and text, as the grader sends them to the child (probe.py)."""
    ex = exercise.load("cos_square")
    return str(ex.solution), ex.solution_source()


def traced(runner, function, values=(0.5, 1.0, 1.5), index=0):
    """The student's two calls, and the reference's pass recorded as the child records it before a
    student's file loads (at element 0)."""
    reference = runner.reference_pass(*_cos_square_solution(), list(values))
    runner.function = function
    reply = runner.trace(lambda: child.make_input(torch, np.array(values), "float64", "cpu", "plain"), index)
    parsed = parse_reference({"event": "reference", "call": reference}, b"")
    return parse_traced(tuple(values), index, "float64", parsed, reply, b"")


def chain(x):
    leaf = x.detach().clone().requires_grad_(True)
    torch.cos(leaf**2).sum().backward()
    return leaf.grad


def test_the_canary_is_shown_as_the_primitive_and_every_number_is_read(runner):
    record = traced(runner, chain)
    first = record.student[0]
    assert [s.op for s in first.runs[0]] == ["SumBackward0", "CosBackward0", "PowBackward0", "AccumulateGrad"]
    cos = first.runs[0][1]
    assert cos.u == pytest.approx(0.25) and cos.local == pytest.approx(-np.sin(0.25))
    assert cos.grad_out[0] == pytest.approx(-np.sin(0.25))
    assert first.runs[0][2].constant == 2.0 and first.value == pytest.approx(-2 * 0.5 * np.sin(0.25))
    assert record.reference is not None and record.reference.value == pytest.approx(first.value)


def test_recording_changes_no_gradient_and_unarmed_calls_record_nothing(runner):
    x = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64)
    plain = chain(x)
    record = traced(runner, chain)
    assert record.student[0].value == pytest.approx(float(plain[0]))
    assert runner.recorder.runs == [] or not runner.recorder.armed[0]
    before = len(runner.recorder.runs)
    chain(x)  # not armed: the stand-in passes the pass through
    assert len(runner.recorder.runs) == before and not runner.recorder.primitive_outputs


def test_hooks_come_off_after_the_pass(runner):
    leaf = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    y = torch.cos(leaf**2).sum()
    runner.recorder.record(lambda: y.backward(retain_graph=True), 0, 1)
    runs_before = len(runner.recorder.runs)
    y.backward()  # a second pass over the same graph: no hook of ours fires
    assert len(runner.recorder.runs) == runs_before
    assert leaf.grad is not None and float(leaf.grad[0]) == pytest.approx(2 * -2 * 0.5 * np.sin(0.25))


def test_a_pass_in_a_thread_and_through_torch_func_are_recorded(runner):
    import threading

    def threaded(x):
        out = {}
        thread = threading.Thread(target=lambda: out.setdefault("g", chain(x)))
        thread.start()
        thread.join()
        return out["g"]

    assert [s.op for s in traced(runner, threaded).student[0].runs[0]][:2] == ["SumBackward0", "CosBackward0"]
    grads = traced(runner, lambda x: torch.func.vmap(torch.func.grad(lambda v: torch.cos(v**2)))(x)).student[0]
    assert grads.runs and all(s.grad_in is None for s in grads.runs[0])  # numbers inside vmap are out of reach


def test_many_passes_and_big_graphs_are_cut_short(runner):
    def many(x):
        leaf = x.detach().clone().requires_grad_(True)
        for _ in range(10):
            torch.cos(leaf**2).sum().backward()
        return leaf.grad

    def deep(x):
        leaf = x.detach().clone().requires_grad_(True)
        y = leaf
        for _ in range(500):
            y = y * 1.0
        torch.cos(y**2).sum().backward()
        return leaf.grad

    call = traced(runner, many).student[0]
    assert len(call.runs) == trace.MAX_RUNS and call.more_runs
    deep_call = traced(runner, deep).student[0]
    assert deep_call.cut and len(deep_call.runs[0]) <= trace.MAX_NODES


@pytest.mark.parametrize("broken", [
    {"student": []},
    {"student": [{"kind": "tensor", "runs": []}] * 3},
    {"student": [{"kind": "bomb", "runs": []}] * 2},
    {"student": [{"kind": "tensor", "runs": [{"steps": [{"op": "A", "next": [5], "grad_out": [1.0]}]}]}] * 2},
    {"student": [{"kind": "tensor", "runs": [{"steps": [{"op": "A", "next": [], "grad_out": [], "u": "1e9"}]}]}] * 2},
    {"student": [{"kind": "tensor", "runs": [{"steps": [{"op": "A", "next": [], "grad_out": []}] * 49}]}] * 2},
    {"student": [{"kind": "tensor", "runs": [{"steps": []}] * 5}] * 2},
    {"student": [{"kind": "tensor", "runs": [], "value": 10 ** 400}] * 2},
])
def test_the_parent_refuses_malformed_traces(broken):
    with pytest.raises(ProtocolError):
        parse_traced((0.5,), 0, "float64", None, broken, b"")


def test_an_op_name_is_made_safe_text():
    step = {"op": "\x1b[31mEvil\nName" + "x" * 100, "next": [], "grad_out": []}
    record = parse_traced((0.5,), 0, "float64", None,
                          {"student": [{"kind": "tensor", "runs": [{"steps": [step]}]}] * 2}, b"")
    assert record is not None
    name = record.student[0].runs[0][0].op
    assert "\x1b" not in name and "\n" not in name and len(name) <= 61


def test_the_canary_kernel_lists_nothing_unless_armed():
    armed, outputs = [False], []
    installed = InProcessCanary(torch, SECRET, traced=(armed, outputs))
    try:
        x = torch.tensor([0.5], requires_grad=True)
        torch.sin(x)
        assert outputs == []
        armed[0] = True
        torch.sin(x)
        assert len(outputs) == 1 and outputs[0][1] is x and outputs[0][0].name() == "AddcmulBackward0"
        assert len(outputs[0]) == 2  # the node and the input: never the derivative it applied
    finally:
        installed.remove()


def test_describe_reads_a_real_recording(runner):
    ex = exercise.load("cos_square")

    def no_chain(x):
        u = (x.detach() ** 2).requires_grad_(True)
        torch.cos(u).sum().backward()
        return u.grad

    record = traced(runner, no_chain, values=(1.5, 1.0))
    obs = Observations(load=LoadResult(True), traced=record)
    described = backward.describe(obs, ex, proven=True)
    assert described is not None and described.divergence is not None
    assert "no PowBackward0" in described.divergence and "2u" in described.divergence
    assert isinstance(record, Traced)


def test_a_product_of_one_leaf_with_itself_is_shown_as_its_square_through_autograd_grad(runner):
    """hn126: (g,) = torch.autograd.grad(cos(t * t).sum(), t) was shown MulBackward0 "here 0.75" at t = 0.75,
    one edge's half of 2u: the leaf's AccumulateGrad never runs there, and the two edges led nowhere."""
    def grad_of_square(x):
        t = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.cos(t * t).sum(), t)
        return g

    record = traced(runner, grad_of_square, values=(0.75, 1.25))
    square = record.student[0].runs[0][-1]
    assert square.op == "MulBackward0" and square.one_input and square.next == (-1, -1), square
    shown = backward.steps_of(record.student[0].runs[0], 0.75)[-1]
    assert shown.formula == "d/du (u·u) = 2u" and shown.local == pytest.approx(1.5), shown


def test_the_reference_solution_is_gone_once_its_pass_is_recorded(runner):
    import gc

    runner.reference_pass(*_cos_square_solution(), [0.75])
    functions = [f for f in gc.get_objects() if type(f) is types.FunctionType]
    assert not [f for f in functions if f.__module__ == "grader_reference_solution"]


def test_an_in_place_op_after_the_primitive_keeps_its_step(runner):
    def doubled(x):
        leaf = x.detach().clone().requires_grad_(True)
        y = torch.cos(leaf**2)
        y *= 2  # the output's grad_fn is MulBackward0 now; the canary's node is below it
        y.sum().backward()
        return leaf.grad

    ops = [s.op for s in traced(runner, doubled).student[0].runs[0]]
    assert ops == ["SumBackward0", "MulBackward0", "CosBackward0", "PowBackward0", "AccumulateGrad"]


def test_the_modules_an_error_came_through_are_read_without_the_submission_s_code():
    """rt129: a function whose globals' __name__ was a str subclass with a raising startswith turned
    its own error into the harness's crash. Only exact strs are read, by str's own methods."""
    class Loud(str):
        def startswith(self, *args):
            raise RuntimeError("ran the submission's code")

        def __eq__(self, other):
            raise RuntimeError("ran the submission's code")

        __hash__ = str.__hash__

    def raised(name):
        scope = {"__name__": name}
        exec("def f():\n    raise OSError(28, 'No space left on device')\n", scope)
        try:
            scope["f"]()
        except OSError as err:
            return err.__traceback__
        raise AssertionError("f should raise")

    assert child._starting_processes(child._traceback(raised(Loud("multiprocessing.pool")))) == []
    assert child._starting_processes(child._traceback(raised("multiprocessing.pool"))) == ["multiprocessing"]
    assert child._starting_processes(child._traceback(raised("torch.utils.data.dataloader"))) == ["torch.utils.data"]
    assert child._starting_processes(child._traceback(raised("multiprocessingx"))) == []


def test_the_strided_layout_holds_the_grids_values_as_a_transposed_tensor_holds_them():
    """hn149: every other element of a wider buffer, the only non-contiguous layout, took x.view(-1) on every input,
    which a transposed x (x.t()) refuses: of two dimensions or more its last two are laid out the other way round
    too, and the buffer's other elements are junk (7.0) still."""
    values = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    for shape in ((5,), (3, 4), (2, 3, 4)):
        x = child.make_input(torch, values.reshape(-1)[:int(np.prod(shape))].reshape(shape), "float32", "cpu",
                             "strided")
        assert x.shape == shape and not x.is_contiguous()
        assert x.tolist() == values.reshape(-1)[:int(np.prod(shape))].reshape(shape).tolist()
        assert 7.0 in torch.as_strided(x, (x.untyped_storage().nbytes() // 4,), (1,), 0).tolist()
        if len(shape) >= 2:
            with pytest.raises(RuntimeError, match="view size is not compatible"):
                x.view(-1)
            assert x.reshape(-1).tolist() == x.flatten().tolist()
