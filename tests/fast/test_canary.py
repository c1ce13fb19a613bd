"""The canary itself, in-process: every honest route into autograd follows the secret exactly,
every cheat keeps cos, and nothing but the derivative's numbers tells a secret call from a plain one.

These install the child's canary in the test process for speed (and remove it after each test); the
golden and verdict tests prove the same through the real sandbox with sample files.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import math
import operator
import os
import random
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.canary import Secret, secret_derivative, secret_term
from grader.sandbox import canary, oracle
from tests.canaries import InProcessCanary
from tests.conftest import SUBMISSIONS

SECRET = Secret.draw(random.Random(7))  # a fixed draw: the tests are repeatable
X = torch.linspace(-6, 6, 41, dtype=torch.float64)


@pytest.fixture
def select():
    """select(True): the following calls are secret; select(False): plain (as the harness plans it)."""
    installed = InProcessCanary(torch, SECRET)
    yield installed.select
    installed.remove()


def _secret(x: torch.Tensor = X) -> torch.Tensor:
    return secret_derivative(x.double(), SECRET, "cos(u)", torch).to(x.dtype)


def _both(fn, select, x: torch.Tensor = X) -> tuple[torch.Tensor, torch.Tensor]:
    """fn's answer on a plain call and on a secret call."""
    select(False)
    plain = fn(x.clone()).detach()
    select(True)
    try:
        hidden = fn(x.clone()).detach()
    finally:
        select(False)
    return plain, hidden


def honest_backward(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad


def honest_grad_create_graph(x):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(torch.sin(x).sum(), x, create_graph=True)[0]


def honest_vmap_grad(x):
    return torch.func.vmap(torch.func.grad(torch.sin))(x)


def honest_jacfwd(x):
    return torch.func.jacfwd(torch.sin)(x).diagonal()


def honest_jacrev(x):
    return torch.func.jacrev(torch.sin)(x).diagonal()


def honest_jacobian(x):
    return torch.autograd.functional.jacobian(torch.sin, x).diagonal()


def honest_forward_ad(x):
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        return fwAD.unpack_dual(torch.sin(fwAD.make_dual(x, torch.ones_like(x)))).tangent


def honest_inplace(x):
    leaf = x.detach().clone().requires_grad_(True)
    y = leaf * 1
    y.sin_()
    y.sum().backward()
    return leaf.grad


def honest_aten(x):
    x = x.detach().clone().requires_grad_(True)
    torch.ops.aten.sin.default(x).sum().backward()
    return x.grad


def honest_keyword(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(input=x).sum().backward()
    return x.grad


def honest_thread(x):
    out = {}

    def work():
        out["grad"] = honest_backward(x)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return out["grad"]


@torch.jit.script
def _scripted(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(x)


def honest_torchscript(x):
    x = x.detach().clone().requires_grad_(True)
    for _ in range(3):  # past TorchScript's profiling runs, into its optimised graph
        _scripted(x)
    _scripted(x).sum().backward()
    return x.grad


_compiled = torch.compile(torch.sin, backend="aot_eager")


def honest_compiled(x):
    # Eagerly, as in the sandbox (dynamo is disabled there) and the in-process check (its stance):
    # a compiled graph calls the canary's operator itself, and only the kernel gets the secret.
    with torch.compiler.set_stance("force_eager"):
        x = x.detach().clone().requires_grad_(True)
        _compiled(x).sum().backward()
        return x.grad


def honest_make_fx(x):
    # torch's tracer records the canary's ops (sin of a copy, the operator), so that the graph,
    # replayed on another input, asks about that input (they were constants of the traced one).
    from torch.fx.experimental.proxy_tensor import make_fx

    traced = make_fx(lambda t: torch.sin(t))(torch.zeros_like(x))
    x = x.detach().clone().requires_grad_(True)
    traced(x).sum().backward()
    return x.grad


def honest_make_fx_grad(x):
    from torch.fx.experimental.proxy_tensor import make_fx

    return make_fx(torch.func.grad(lambda t: torch.sin(t).sum()))(torch.zeros_like(x))(x.detach())


def honest_aot_function(x):
    from functorch.compile import aot_function, nop

    x = x.detach().clone().requires_grad_(True)
    aot_function(torch.sin, fw_compiler=nop, bw_compiler=nop)(x).sum().backward()
    return x.grad


def honest_foreach(x):
    # (torch._foreach_sin has a derivative of its own: a red team's file through it never met the
    # canary, and was called a bypass)
    x = x.detach().clone().requires_grad_(True)
    (y,) = torch._foreach_sin([x])
    return torch.autograd.grad(y.sum(), x)[0]


def honest_foreach_inplace(x):
    leaf = x.detach().clone().requires_grad_(True)
    y = leaf * 1
    torch._foreach_sin_([y])
    return torch.autograd.grad(y.sum(), leaf)[0]


HONEST = [honest_backward, honest_grad_create_graph, honest_vmap_grad, honest_jacfwd, honest_jacrev,
          honest_jacobian, honest_forward_ad, honest_inplace, honest_aten, honest_keyword, honest_thread,
          honest_torchscript, honest_compiled, honest_make_fx, honest_make_fx_grad, honest_aot_function,
          honest_foreach, honest_foreach_inplace]


@pytest.mark.parametrize("fn", HONEST)
def test_honest_autograd_follows_the_secret_exactly(fn, select):
    plain, hidden = _both(fn, select)
    torch.testing.assert_close(plain, torch.cos(X), rtol=0, atol=1e-15)
    torch.testing.assert_close(hidden, _secret(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_lower_precision_follows_in_its_own_dtype(dtype, select):
    x = X.to(dtype)
    plain, hidden = _both(honest_backward, select, x)
    assert plain.dtype == hidden.dtype == dtype
    torch.testing.assert_close(hidden, _secret(x))
    torch.testing.assert_close(plain, torch.cos(x.double()).to(dtype))


def test_values_stay_bit_for_bit_and_every_call_looks_the_same(select):
    x = torch.tensor([-0.0, 0.0, 1e-300, -5e-324, 1.0, 1e300, math.inf, math.nan], dtype=torch.float64)
    truth = torch.sin(x)  # no grad: what the forward must be, to the bit
    kinds = set()
    for secret in (False, True):
        select(secret)
        y = torch.sin(x.clone().requires_grad_(True))
        assert torch.equal(y.detach()[:6].view(torch.int64), truth[:6].view(torch.int64))
        assert y.detach()[6:].isnan().all()
        kinds.add(type(y.grad_fn).__name__)
        assert not torch._C._is_torch_function_mode_enabled()
    select(False)
    assert kinds == {"AddcmulBackward0"}  # the same graph on plain and secret calls


def test_double_backward_is_the_true_second_derivative(select):
    for secret in (False, True):
        select(secret)
        x = X.clone().requires_grad_(True)
        (first,) = torch.autograd.grad(torch.sin(x).sum(), x, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), x)
        torch.testing.assert_close(second, -torch.sin(X))
    select(False)


def test_integer_sparse_and_complex_inputs_keep_working(select):
    select(True)
    assert torch.equal(torch.sin(torch.arange(3)), torch.sin(torch.arange(3).double()).float())
    # autograd of sin on a complex copy of x (honest) follows the secret on the real axis too
    z = X.to(torch.complex128).requires_grad_(True)
    torch.sin(z).real.sum().backward()
    torch.testing.assert_close(z.grad.real, _secret())
    assert torch.equal(torch.sin(X.to_sparse()).to_dense(), torch.sin(X))  # not on the grids; still works
    select(False)


def test_the_formula_never_raises_out_of_the_canary(select):
    """An exception from inside the secret's formula would carry its frames (and the state) out in
    its traceback; whatever goes wrong there comes back as NaN instead."""
    select(True)
    d, _ = torch.ops.grader_canary.derivatives(torch.tensor([1.0], dtype=torch.float64).to_sparse())
    select(False)
    assert torch.isnan(d).all()


def test_patched_torch_cannot_reach_or_change_the_secret(select, monkeypatch):
    """A submission that rebinds torch.cos, torch.sin or Tensor.__mul__ after the canary is in place
    sees no call from it: the secret's formula uses builtins captured at install time."""
    seen = []
    for name in ("cos", "sin", "abs", "floor"):
        original = getattr(torch, name)
        monkeypatch.setattr(torch, name, lambda *a, _o=original, **k: (seen.append(a), _o(*a, **k))[1])
    _, hidden = _both(lambda x: torch.func.grad(lambda t: torch.ops.aten.sin.default(t))(x[0]).reshape(1),
                          select, X[:1])
    assert seen == []
    torch.testing.assert_close(hidden, _secret(X[:1]))


def test_a_dispatch_mode_sees_the_derivative_op_but_not_the_secret(select):
    from torch.utils._python_dispatch import TorchDispatchMode

    class Spy(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.calls.append((str(func), [a for a in args if not isinstance(a, torch.Tensor)]))
            return func(*args, **(kwargs or {}))

    seen = {}
    for secret in (False, True):
        select(secret)
        with Spy() as spy:
            honest_backward(X)
        seen[secret] = spy.calls
    select(False)
    assert seen[False] == seen[True]  # the same ops with the same non-tensor arguments
    # The copy of the input's numbers, sin's value and the operator are past every mode.
    assert any("aten.addcmul" in name for name, _ in seen[True])
    assert not any("grader_canary" in name or "aten.sin" in name for name, _ in seen[True]), seen[True]
    assert not any(v in (SECRET.b, *SECRET.omega) for _, scalars in seen[True] for v in scalars if isinstance(v, float))


def _sample(name: str):
    """A sample submission's get_derivative, loaded into this test process (never into the grader's)."""
    spec = importlib.util.spec_from_file_location(f"sample_{name}", SUBMISSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_derivative


def _backward_then_cos(x):
    honest_backward(x)
    return torch.cos(x)


CHEATS = [
    torch.cos,
    lambda x: x.cos(),
    lambda x: torch.sin(x + math.pi / 2),
    lambda x: (torch.sin(x + 1e-6) - torch.sin(x - 1e-6)) / 2e-6,
    lambda x: torch.from_numpy(np.cos(x.numpy())),
    lambda x: torch.exp(1j * x).real,
    _backward_then_cos,
    _sample("cheat_custom_function"),  # a hand-written autograd.Function with a cos backward
]


@pytest.mark.parametrize("fn", CHEATS)
def test_values_computed_another_way_ignore_the_secret(fn, select):
    plain, hidden = _both(fn, select)
    torch.testing.assert_close(hidden, plain, atol=1e-5, rtol=1e-5)
    assert (hidden - _secret()).abs().max() > 0.1


def test_remove_gives_torch_its_own_sin_back():
    installed = InProcessCanary(torch, SECRET)
    installed.select(True)
    installed.remove()
    x = X.clone().requires_grad_(True)
    y = torch.sin(x)
    assert type(y.grad_fn).__name__ == "SinBackward0"
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.cos(X))


def test_only_the_planned_calls_are_secret():
    installed = InProcessCanary(torch, SECRET)
    try:
        flags = (True, True, False, True)
        installed.plan(*flags)
        seen = []
        for _ in flags:
            installed.next_call()
            seen.append(bool((honest_backward(X) - torch.cos(X)).abs().max() > 0.1))
            installed.rest()
        assert tuple(seen) == flags
        assert not (honest_backward(X) - torch.cos(X)).abs().max() > 0  # rest: plain again
    finally:
        installed.remove()


def test_numpy_and_torch_agree_on_the_secret():
    x = np.linspace(-1000, 1000, 20001)
    ours = secret_derivative(x, SECRET, "cos(u)", np)
    theirs = secret_derivative(torch.tensor(x), SECRET, "cos(u)", torch).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)


def test_the_childs_derivative_is_the_parents_to_the_bit():
    """The child adds the oracle's move to the true derivative it computes with builtins it captured
    (sandbox/canary.py), the parent evaluates the whole with numpy (canary.py): the same numbers, or
    an honest answer would miss R*. In pieces: the child asks 65,536 numbers at a time."""
    installed = InProcessCanary(torch, SECRET)
    try:
        installed.select(True)
        x = torch.tensor(np.linspace(-1000, 1000, 150001), requires_grad=True)  # (in pieces of 65,536)
        torch.sin(x).sum().backward()
        d = x.grad
    finally:
        installed.remove()
    np.testing.assert_allclose(d.numpy(), secret_derivative(np.linspace(-1000, 1000, 150001), SECRET, "cos(u)", np),
                               atol=0, rtol=0)


def test_samples_of_the_secret_elsewhere_do_not_predict_it():
    """Autograd samples away from x do not give the secret at x: a smooth fit through a few misses
    it, and even a grid every 0.01 interpolated misses the float32 tolerance by far (float64 inputs
    need 1e-12). The 4-number form this replaced was fitted to 1e-12 from one grid of samples."""
    x = X.numpy()
    s = secret_derivative(x, SECRET, "cos(u)", np)
    basis = np.stack([np.cos(x), np.sin(x), np.ones_like(x)], axis=1)
    coef = np.linalg.solve(basis[[3, 17, 30]], s[[3, 17, 30]])
    assert np.abs(basis @ coef - s).max() > 0.05  # thousands of times any tolerance
    grid = np.arange(-10.0, 10.0, 0.01)
    middle = grid[:-1] + 0.005
    guessed = np.interp(middle, grid, secret_derivative(grid, SECRET, "cos(u)", np))
    assert np.abs(guessed - secret_derivative(middle, SECRET, "cos(u)", np)).max() > 1e-4


def test_each_draw_is_a_fresh_secret():
    assert Secret.draw() != Secret.draw()


def test_every_draw_differs_clearly_from_the_truth_and_stays_gentle():
    x = np.linspace(-1000, 1000, 200_001)
    for _ in range(20):
        drawn = Secret.draw()
        gap = secret_derivative(x, drawn, "cos(u)", np) - np.cos(x)
        assert np.abs(gap).min() >= 0.15 - 1e-12
        assert np.abs(np.diff(gap) / np.diff(x)).max() < 20  # canary.MAX_SLOPE: float32 rounding stays small


def test_the_harness_operators_called_by_a_submission_confuse_only_its_own_calls():
    """The harness's operators are a submission's to call too (and the oracle's socket is in its
    process): they raise nothing, and only change which plan its own calls' asks name. A case id
    the grader never gave is plain; one it gave, the submission's call gets that call's state."""
    installed = InProcessCanary(torch, SECRET)
    try:
        planned = installed.oracle.expect((True, False))
        torch.ops.grader_canary.case(planned ^ 1)  # the submission's, an id never planned: plain
        torch.ops.grader_canary.next_call()
        torch.testing.assert_close(honest_backward(X), torch.cos(X))
        torch.ops.grader_canary.case(planned)  # the grader's: its first call is secret
        torch.ops.grader_canary.next_call()
        assert (honest_backward(X) - _secret()).abs().max() < 1e-12
        torch.ops.grader_canary.next_call()  # its second, plain
        torch.testing.assert_close(honest_backward(X), torch.cos(X))
        torch.ops.grader_canary.next_call()  # past the plan's calls: plain
        torch.testing.assert_close(honest_backward(X), torch.cos(X))
        torch.ops.grader_canary.rest()
        torch.ops.grader_canary.recount()
        assert installed.calls() == 0
    finally:
        installed.remove()


@pytest.mark.parametrize("count", [1 << 30, 0], ids=["past the piece", "empty"])
def test_garbage_on_the_oracles_socket_ends_its_answers_with_nan_and_no_hang(count):
    """Whatever a submission writes to the oracle's socket costs the grader one message: the oracle
    stops answering, and every derivative the kernel asks for from then on is NaN. (An empty ask
    too: the kernel never makes one, and a red team's flood of them cost the grader 3 µs each.)"""
    installed = InProcessCanary(torch, SECRET)
    try:
        installed.select(True)
        os.write(installed.oracle.channel, oracle.HEADER.pack(count, 0, 0))
        x = X.clone().requires_grad_(True)
        torch.sin(x).sum().backward()
        assert torch.isnan(x.grad).all()
        assert installed.oracle.answered == 0
    finally:
        installed.remove()


def test_answers_for_numbers_asked_again_are_the_formulas_to_the_bit(monkeypatch):
    """The oracle keeps the term of numbers asked before (a case's calls all ask about one x) and
    forgets all of them past KEPT_BYTES: secret and plain calls, first asks and repeated ones,
    before and after forgetting, and numbers that are not ordinary (signed zeros, NaN, infinities,
    the smallest and largest), give the formula's numbers exactly."""
    computed = []

    def counted(u, secret, xp):
        computed.append(len(u))
        return secret_term(u, secret, xp)

    monkeypatch.setattr(oracle, "secret_term", counted)
    monkeypatch.setattr(oracle, "KEPT_BYTES", 3000)  # two of the inputs below fit (1,280 bytes each)
    odd = torch.tensor([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1e300, -1e300] * 8, dtype=torch.float64)
    first, second, third = (torch.linspace(-6, 6, 64, dtype=torch.float64) + shift for shift in (0.0, 0.25, 0.5))
    # Kept, asked again; kept beside it; past the limit (all forgotten), then the first afresh.
    order = [first, first, second, first, odd, first, third, third]
    installed = InProcessCanary(torch, SECRET)
    try:
        seen = []
        for flags in ((True, False, True), (False, True, True)):
            installed.plan(*flags)
            for on in flags:
                installed.next_call()
                for x in order:
                    leaf = x.clone().requires_grad_(True)
                    torch.sin(leaf).sum().backward()
                    seen.append((on, x, leaf.grad))
                installed.rest()
    finally:
        installed.remove()
    assert installed.oracle.answered == 6 * len(order) * 64
    assert len(order) < len(computed) < 6 * len(order), computed  # some kept, some forgotten
    for on, x, grad in seen:
        u = x.numpy()
        with np.errstate(all="ignore"):
            want = secret_derivative(u, SECRET, "cos(u)", np) if on else np.cos(u)
        np.testing.assert_array_equal(grad.numpy(), want)


def test_the_grader_spends_a_bounded_cpu_time_answering_one_submission(monkeypatch):
    """Each number asked costs the grader CPU that the child's limits do not count: past the
    budget, derivatives are NaN and the grader computes nothing more."""
    from grader.sandbox import oracle

    monkeypatch.setattr(oracle, "CPU_BUDGET_S", 0.0)  # the first answer is past it
    x = torch.linspace(-6, 6, 64, dtype=torch.float64, requires_grad=True)
    want = _secret(x.detach())  # (torch's sin, before the canary asks about it)
    installed = InProcessCanary(torch, SECRET)
    try:
        installed.select(True)
        torch.sin(x).sum().backward()
        torch.testing.assert_close(x.grad, want)
        x.grad = None
        torch.sin(x).sum().backward()
        assert torch.isnan(x.grad).all() and installed.oracle.answered == 64 and installed.oracle.cpu_s > 0
    finally:
        installed.remove()


def test_threads_inside_the_secret_at_once_leave_the_collector_and_profile_as_they_were():
    """The collector's switch is the process's: threads calling sin at once got NaN, and records of
    the collector turned on under each other. In a process of its own, with an audit hook that lets
    other threads run as the sandbox's does."""
    script = f"""import gc, sys, threading, time, random
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
import torch
from grader.canary import GC_TURNED_ON, Secret, secret_derivative
from tests.canaries import InProcessCanary
events = []
def hook(event, args):
    if event == GC_TURNED_ON:
        events.append(event)
    elif event == "sys.setprofile":
        time.sleep(0)  # let another thread run, as the sandbox's hook may
sys.addaudithook(hook)
secret = Secret.draw(random.Random(7))
installed = InProcessCanary(torch, secret)
installed.select(True)
x = torch.linspace(-6, 6, 41, dtype=torch.float64)
want = secret_derivative(x, secret, "cos(u)", torch)
wrong = []
def work():
    for _ in range(40):
        t = x.clone().requires_grad_(True)
        torch.sin(t).sum().backward()
        if not torch.allclose(t.grad, want):
            wrong.append(t.grad)
def timing():  # as timeit does, in a thread of its own: its gc.enable waits for the secret's functions
    while any(thread.is_alive() for thread in threads):
        gc.disable()
        gc.enable()
threads = [threading.Thread(target=work) for _ in range(8)]
timer = threading.Thread(target=timing)
for thread in threads:
    thread.start()
timer.start()
for thread in threads:
    thread.join()
timer.join()
print(len(wrong), sorted(set(events)), gc.isenabled(), sys.getprofile())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "[]", "True", "None"], out


def test_the_secrets_functions_and_the_audit_hook_look_up_no_global_name():
    """A global or builtin is looked up when the code runs, in dicts a submission can write: a red
    team's put its own zip in the canary module's globals (and in builtins; and an int whose __radd__
    was its code, as the formula's piece size), which the formula called with the grain's keys, and
    below which its code read the formula's frame: 10/10, nothing recorded. The audit hook runs
    below them too (for the canary's own event). Only what runs at install may look names up."""
    import dis
    import types

    from grader.sandbox import confine

    def nested(code):
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                yield constant
                yield from nested(constant)

    at_install = {"<genexpr>", "meta", "Numbers"}  # (a class's body runs once, where it is made)
    looked_up = {(code.co_name, instruction.argval)
                 for root in (canary.install, confine._auditor) for code in nested(root.__code__)
                 if code.co_name not in at_install
                 for instruction in dis.get_instructions(code) if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    assert not looked_up, sorted(looked_up)


def test_the_operators_type_check_runs_no_code_of_the_submissions(select, monkeypatch):
    """Parameter's metaclass is a Python class: a red team set its __eq__, which `type(x) in (Tensor,
    Parameter)` called below the secret (and read the formula's frame through a generator). The
    operator's kernel and the primitive's compare types by identity."""
    ran = []

    def spy(self, other):
        ran.append(other)
        return type.__eq__(self, other)

    monkeypatch.setattr(type(torch.nn.Parameter), "__eq__", spy, raising=False)
    monkeypatch.setattr(type(torch.nn.Parameter), "__hash__", type.__hash__, raising=False)
    select(True)
    try:
        d, _ = torch.ops.grader_canary.derivatives(torch.nn.Parameter(X.clone(), requires_grad=False))
        leaf = torch.nn.Parameter(X.clone())
        torch.sin(leaf).sum().backward()
    finally:
        select(False)
    monkeypatch.undo()
    assert not ran
    torch.testing.assert_close(d, _secret())
    torch.testing.assert_close(leaf.grad, _secret())


def test_no_tensor_of_pythons_dies_inside_the_secrets_functions():
    """TensorBase.numpy detaches first, and the new tensor died inside the formula, where a red team's
    torch.Tensor.__del__ ran (the collector being off changes nothing: a count reached zero) and read
    the formula's frame through a generator: 10/10, nothing recorded. In a process of its own: a
    __del__ on torch.Tensor, once set, leaves torch's tensors changed for good."""
    script = f"""import random, sys
sys.path[:0] = [{str(Path(__file__).resolve().parents[2])!r}]
import torch
from grader.canary import Secret
from tests.canaries import InProcessCanary
secret = Secret.draw(random.Random(7))
installed = InProcessCanary(torch, secret)
installed.select(True)
callers = []
torch.Tensor.__del__ = lambda self: callers.append(sys._getframe(1).f_code.co_name)
x = torch.linspace(-6, 6, 41, dtype=torch.float64)
for dtype in (torch.float64, torch.float32, torch.bfloat16, torch.complex64):
    torch.sin(x.to(dtype).requires_grad_(True)).real.sum().backward()
    torch.ops.grader_canary.derivatives(x.to(dtype))
del torch.Tensor.__del__
print(len(callers) > 0, sorted({{"derivatives", "_formula", "_collecting_again"}} & set(callers)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "[]"], out


def test_the_operator_called_by_itself_gives_the_derivative_of_the_numbers_it_is_given(select):
    """The operator is the secret's one door. Whatever numbers it is handed (a kernel of the
    submission's for clone or sin, or for the operator, or a vmap rule, can choose them: red teams'
    did, with sin's value of other numbers), it gives their own derivative, which it gives called by
    itself too, and which the graph of a call of sin at them saves anyway (reads_the_saved_derivative.py)."""
    op = torch.ops.grader_canary.derivatives
    select(True)
    try:
        d, _ = op(X)
        d_vmap, _ = torch.func.vmap(op)(X)
    finally:
        select(False)
    for derivative in (d, d_vmap):
        torch.testing.assert_close(derivative, _secret())
    assert not torch.allclose(_secret(), torch.cos(X))


def test_code_run_inside_the_kernel_gets_the_secret_for_no_other_tensor(select, monkeypatch):
    """Red teams' code ran while the kernel did (a subclass's methods, then torch.Tensor's own
    patched, a dispatch mode on its ops) and changed the input's memory between sin's value and the
    derivative's read: sin at zeros, the secret at the grid's x. The kernel takes one copy of the
    numbers, calling nothing of the submission's, and computes both from it."""
    dummy = torch.zeros(5, dtype=torch.float64)
    grid = X[:5].clone()

    def swap(self, *args, **kwargs):
        dummy.copy_(grid)  # the grid's x into the memory sin was given
        return True

    for name in ("is_floating_point", "is_complex"):
        monkeypatch.setattr(torch.Tensor, name, swap)
    leaf = dummy.requires_grad_(True)
    select(True)
    try:
        y = torch.sin(leaf)
        (d,) = torch.autograd.grad(y.sum(), leaf)
    finally:
        select(False)
        monkeypatch.undo()
    assert torch.equal(y.detach(), torch.zeros(5, dtype=torch.float64))  # nothing swapped the numbers
    torch.testing.assert_close(d, _secret(torch.zeros(5, dtype=torch.float64)))


def test_off_the_real_axis_the_derivative_is_the_truth(select):
    """The secret moved with the real part only: a red team's autograd at x + 1j carried x's secret
    move, with sin's value nothing like sin(x). It is on the real axis only now."""
    z = (X + 1j).requires_grad_(True)
    select(True)
    try:
        torch.sin(z).real.sum().backward()
    finally:
        select(False)
    torch.testing.assert_close(z.grad, torch.cos(X + 1j).conj())


SECRET_NAMES = {"b", "omega", "phi", "amp", "scales", "weights", "hashes", "rounds", "ramp", "level", "state", "key",
                "first_np", "_formula"}


@pytest.mark.parametrize("kernel", ["sin", "clone", "_to_copy"])
def test_a_kernel_of_the_submissions_for_an_op_the_canary_runs_finds_no_secret_above_it(select, kernel):
    """Red teams' own CPU kernels for the ops the canary ran near its secret (aten::floor in the
    formula, then clone, sin and the copy of a bfloat16 to the CPU) walked up the frames above them
    (f_back and f_locals raise no audit event) to the secret's functions. The operator's kernel runs
    no op of torch's now: every frame above a kernel of the submission's, and every closure those
    frames hold, holds nothing of the secret's."""
    seen: set[str] = set()

    def walks_up(a, *args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            seen.update(frame.f_locals)
            for value in frame.f_locals.values():
                for cell in getattr(value, "__closure__", None) or ():
                    seen.update(getattr(getattr(cell.cell_contents, "__code__", None), "co_freevars", ()))
            frame = frame.f_back
        return _without_torch(kernel, a, kwargs.get("dtype"))

    dtype = torch.bfloat16 if kernel == "_to_copy" else torch.float64  # (numpy cannot read bfloat16)
    leaf = torch.linspace(-3, 3, 7, dtype=dtype).requires_grad_(True)
    _secret_sin_with(select, kernel, walks_up, leaf)
    assert "x0" in seen  # (it ran, below the primitive's kernel)
    assert not seen & SECRET_NAMES, sorted(seen & SECRET_NAMES)


@pytest.mark.parametrize(("kernel", "path"), [("sin", ("args", 0)), ("clone", ("x0",))])
def test_a_kernel_of_the_submissions_that_makes_no_frame_reads_no_secret(select, kernel, path):
    """A red team's kernel for aten::sin was a C callable (functools.partial of next over a map of
    locals), which makes no frame: the builtin locals() it called read the frame on top, the
    formula's, with the secret's every number, and a cos cheat was proven with nothing recorded. The
    operator's kernel runs no op of torch's now: the frame on top of any kernel holds nothing."""
    read, kept = itertools.tee(iter(locals, None))
    got = read
    for key in path:  # (the tensor to return, found in the frame on top: made of C too)
        got = map(operator.itemgetter(key), got)
    made_of_c = functools.partial(next, got)
    _secret_sin_with(select, kernel, made_of_c, X.clone().requires_grad_(True))
    seen = next(kept)
    assert path[0] in seen, sorted(seen)  # (it did run, on the frame on top)
    assert not set(seen) & SECRET_NAMES, sorted(seen)


@pytest.mark.parametrize("module", ["cProfile", "profile"])
def test_a_profiler_of_the_submissions_stays_in_place(select, module):
    """cProfile (a profile function in C, which sys.setprofile cannot set again) and profile (one in
    Python, which saw a return it never saw start) raised at every call of sin while they ran: the
    canary put a profile function of its own in their place and then tried to put them back. It sets
    none now (setting one is recorded)."""
    x = X.clone().requires_grad_(True)
    profiler = importlib.import_module(module).Profile()
    select(True)
    try:
        profiler.runcall(lambda: torch.sin(x).sum().backward())
    finally:
        select(False)
    torch.testing.assert_close(x.grad, _secret())
    assert sys.getprofile() is None


def _without_torch(op: str, a: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """What aten's sin, clone or _to_copy (between float64 and bfloat16) give, made with no op that a
    kernel registered for them would answer."""
    if op == "sin":
        return torch.from_numpy(np.sin(a.numpy()))
    if op == "clone":
        return torch.from_numpy(a.numpy().copy())
    if a.dtype == torch.bfloat16:  # to float64: bfloat16's bits are float32's top half
        bits = a.view(torch.int16).numpy().astype(np.uint16).astype(np.uint32) << 16
        return torch.from_numpy(bits.view(np.float32).astype(np.float64))
    assert dtype == torch.bfloat16, dtype
    top = (a.numpy().astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.int16)
    return torch.from_numpy(top).view(torch.bfloat16)


def _secret_sin_with(select, op: str, kernel, leaf: torch.Tensor) -> None:
    """torch.sin(leaf) on a secret call, with the submission's own CPU kernel for aten's `op`."""
    with _registered_by_the_submission("aten", lambda lib: lib.impl(op, kernel, "CPU")):
        select(True)
        try:
            torch.sin(leaf)
        finally:
            select(False)


@contextlib.contextmanager
def _registered_by_the_submission(namespace: str, register):
    """A kernel or rule of a submission's own, registered with torch.library for the block's length."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel"
        lib = torch.library.Library(namespace, "IMPL")
        register(lib)
    try:
        yield
    finally:
        lib._destroy()


def _backward_on_zeros(select) -> tuple[torch.Tensor, torch.Tensor]:
    """sin's value and its gradient at zeros, on a secret call."""
    zeros = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    select(True)
    try:
        value = torch.sin(zeros)
        value.sum().backward()
    finally:
        select(False)
    return value.detach(), zeros.grad
