"""The canary, child side: where the exercise's primitive gets its derivative, for every call.

The Autograd kernel of the primitive (aten::sin, say) is replaced, for the life of the child and
before student code loads, by one that returns the primitive's exact value with a graph of
ordinary differentiable ops whose derivative is `derivatives(x)`:

    y = s + t * (d + t * h)          s = sin(x) below autograd, d the first derivative and h half
                                     the second (constants; s, d and h of one copy of x's numbers),
                                     t = z - (x.detach() - x) (value 0, slope 1), z a zero signed
                                     against d: copysign(0, -d)

two addcmuls and two subtractions (a graph of four nodes: its backward is most of what the canary
costs a call). So y is s bit for bit (t*d is then -0.0, which adding leaves -0.0 and +0.0 alike),
dy/dx = d and d2y/dx2 = 2h. Being ordinary ops, it works wherever autograd does: threads,
TorchScript, torch.compile, torch.func transforms, forward AD, keyword arguments, in-place `sin_`.
d and h come from one opaque operator, `grader_canary::derivatives`: for the numbers it is given,
their true derivative, plus, inside a call of the submission's that the grader planned, what the
grader's oracle answers for those very numbers (sandbox/oracle.py): the secret's move on a call the
grader chose to be secret, zero on the others. The secret and the plan never enter this process;
the harness only notes which planned call is running, and its asks name it. Called by itself, the operator
gives what the graph of a call of sin at those numbers saves for its backward anyway. A submission
sees the same modes (none at all), the same graph (its grad_fn is AddcmulBackward0 every time), the
same ops and the same cost on every call; only the numbers of the derivative differ.

Nothing here is worth a submission's reading any more (a red team read the secret that lived in
these closures through raw memory, with numpy alone). What remains of the care below keeps the
submission's code from running inside the kernel while it talks to the oracle, which would
only garble its own answers: the kernel runs no op of torch's, looks up no name, compares types by
identity, and computes in numpy with the garbage collector off, one thread at a time.
"""

from __future__ import annotations

import ast
import gc
import os
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from grader.canary import GC_TURNED_ON, HALF_SECOND
from grader.sandbox.oracle import HEADER, PIECE

NAMESPACE = "grader_canary"
_install_lock = threading.Lock()


class Canary(NamedTuple):
    """What the harness holds: operators of the dispatcher. A submission may call them too, and
    only confuses its own calls."""

    case: Any  # a case's calls begin: later asks name its id; the primitive's count starts again
    recount: Any  # the primitive's count starts again (a plain call of the harness's own)
    next_call: Any  # the next planned call begins
    rest: Any  # it returned
    calls: Any  # how often the primitive ran since case or recount (any thread, any route)
    unfollowed: Any  # how many of those the oracle could not follow (a sparse tensor, say)
    remove: Callable[[], None]  # give torch its own kernels back (the in-process self-check)


def install(torch: Any, primitive: str, derivative: str, oracle_fd: int,
            traced: tuple[list[bool], list[Any]] | None = None) -> Canary:
    """Put the canary in place for every later call of the primitive, plain until planned.
    `oracle_fd` is this process's end of the oracle's socket (sandbox/oracle.py). With
    `traced` (a flag cell and a list, sandbox/trace.py's), every call made while the flag is up adds
    (output's node, input) to the list, so a recorded backward pass can show the canary's few ops as
    the one step the student wrote. Never the derivative: a submission can raise the flag itself."""
    vf = torch._C._VariableFunctions
    in_torch = _torch_operations(vf, torch)  # the true derivative, where the oracle is not asked (_kernel)
    first, half_second = _sealed(derivative, in_torch), _sealed(HALF_SECOND[primitive], in_torch)
    first_np, half_second_np = _sealed(derivative, _NUMPY), _sealed(HALF_SECOND[primitive], _NUMPY)
    add, mul, empty, zeros, equal = np.add, np.multiply, np.empty, np.zeros, np.equal
    float64, complex128 = np.float64, np.complex128
    numpy_errors, quiet = _numpy_error_state()
    set_errors, reset_errors = numpy_errors.set, numpy_errors.reset
    nan = torch.tensor(float("nan"), dtype=torch.float64)  # what a failed formula gives (it broadcasts)
    # Inside a planned call, its (case id, index): the oracle says what to add (zero, on a plain
    # call); None outside one, where the kernel asks nothing.
    planned: list[tuple[int, int] | None] = [None]
    case_now, calls_begun = [0], [0]
    counted, unfollowed = [0], [0]
    # One thread at a time inside (the collector's switch is the process's, and one ask and its
    # answer must not interleave with another's on the socket); bound now, since a `with` would
    # allocate (see derivatives).
    one_at_a_time = threading.RLock()
    enter, leave = one_at_a_time.acquire, one_at_a_time.release
    write, readv, view_of, length, header = os.write, os.readv, memoryview, len, HEADER.pack
    # Every name these functions use is theirs from here: a global or builtin is looked up when it
    # runs, and a red team's submission put its own zip in this module's globals (and in builtins),
    # which the formula then called, and below which it read the formula's frame (the secret lived
    # here then; tests/fast/test_canary.py checks that no name is looked up).
    type_, piece, failure, gc_turned_on, to_range = type, int(PIECE), BaseException, str(GC_TURNED_ON), range
    collecting, stop_collecting, resume_collecting, audit = gc.isenabled, gc.disable, gc.enable, sys.audit
    tensor, exact, parameter = torch._C.TensorBase, torch.Tensor, torch.nn.Parameter
    no_torch_function, no_python, keys = (torch._C.DisableTorchFunction, torch._C._ExcludeDispatchKeyGuard,
                                          python_dispatch_keys(torch))
    layout_of, nested, device_of, strided = (tensor.layout.__get__, tensor.is_nested.__get__, tensor.device.__get__,
                                             torch.strided)
    to_dlpack, from_dlpack, from_numpy = torch._C._to_dlpack, np.from_dlpack, torch.from_numpy

    class Numbers:
        # The numbers of a tensor for numpy through DLPack: no Python tensor is made, nor dies, on
        # the way (TensorBase.numpy detaches first, and the new tensor died inside the formula,
        # where a red team's torch.Tensor.__del__ ran and read the formula's frame). A class of
        # the canary's own, out of the submission's reach.
        __slots__ = ("capsule",)
        capsule: Any

        def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
            return self.capsule

        def __dlpack_device__(self) -> tuple[int, int]:
            return (1, 0)  # the CPU

    def derivatives(x: Any) -> tuple[Any, Any]:
        """The operator's kernel: d and h/2 for the numbers of x (a plain dense CPU tensor of a dtype
        numpy holds), in that dtype: the true ones, plus the oracle's move inside a planned call.
        Nothing raised here leaves it: not a RecursionError at the formula's call either."""
        # Nothing here allocates an object the collector tracks until it is off, and nothing after
        # it is on again: an allocation can start a collection, which runs the submission's
        # callbacks with this frame for their caller.
        enter()
        try:
            was_collecting = collecting()
            stop_collecting()
            return _formula(x)
        except failure:
            return nan, nan
        finally:
            _collecting_again(was_collecting)  # (then leave: the next thread in reads the switch as it was)
            leave()

    def _collecting_again(was_collecting: bool) -> None:
        # The garbage collector is off in here (a collection runs the submission's callbacks and
        # finalizers below this frame). One thread at a time is inside: the switch is the
        # process's, and a thread leaving turned it on under another one still inside (honest
        # threads were recorded for it). Another thread of the submission's can turn it on
        # meanwhile; that is recorded.
        if collecting():
            audit(gc_turned_on)
        if was_collecting:
            resume_collecting()

    def _formula(x: Any) -> tuple[Any, Any]:
        # No op of torch's runs in here (a kernel a submission registers for one would run below
        # it), only torch's own C methods on an exact torch.Tensor with torch-function and Python
        # dispatch off (a subclass's __torch_function__ would run its code here), and numpy's ops
        # on numbers of our own.
        with no_torch_function(), no_python(keys):
            token = set_errors(quiet)  # the submission's np.seterr (raise, call) is not the formula's
            try:
                # (By identity: `in` compares types with ==, and Parameter's metaclass is a Python
                # class whose __eq__ a red team set, and ran its code here.)
                kind = type_(x)
                if kind is not exact and kind is not parameter:
                    return nan, nan
                if layout_of(x) != strided or nested(x) or device_of(x).type != "cpu":
                    return nan, nan
                numbers = Numbers()
                numbers.capsule = to_dlpack(x)  # (a bfloat16, GPU, conjugate or negative view refuses)
                values = from_dlpack(numbers).copy()
                # Flat, since numpy answers a 0-d array with a scalar, which torch.from_numpy refuses.
                shape, u, complex_ = values.shape, values.real.astype(float64).reshape(-1), values.dtype.kind == "c"
                # Read once: the harness's rest() lowers it without waiting for a thread of the
                # submission's still in here, and a second read then left `move` as empty() made it.
                call = planned[0]
                move = zeros(u.shape, float64) if call is None else empty(u.shape, float64)
                if call is not None and not _asked(u, move, call):
                    return nan, nan
                if complex_:  # the secret on the real axis only: off it, a red team's autograd at x + 1j
                    move = mul(move, equal(values.imag.reshape(-1), 0.0))  # carried x's secret move
                at = values.astype(complex128).reshape(-1) if complex_ else u
                d, h = add(first_np(at), move).reshape(shape), half_second_np(at).reshape(shape)
                return from_numpy(d.astype(values.dtype, copy=False)), from_numpy(h.astype(values.dtype, copy=False))
            finally:
                reset_errors(token)

    def _asked(u: Any, move: Any, call: tuple[int, int]) -> bool:
        # The oracle's move for each number of u in that call, into move, a piece at a time (so
        # that what the grader reads at once stays small): False if it did not answer in full.
        case, index = call
        for start in to_range(0, length(u), piece):
            numbers = u[start:start + piece]
            _sent(header(length(numbers), case, index) + numbers.tobytes())
            into, got = view_of(move[start:start + piece]).cast("B"), 0
            while got < length(into):
                read = readv(oracle_fd, [into[got:]])
                if read == 0:
                    return False
                got += read
        return True

    def _sent(message: bytes) -> None:
        left = view_of(message)
        while length(left):
            left = left[write(oracle_fd, left):]

    def meta(x: Any) -> tuple[Any, Any]:
        return torch.empty_like(x), torch.empty_like(x)

    with _install_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel": that is the point
        ops = torch.library.Library(NAMESPACE, "DEF")
        ops.define("derivatives(Tensor x) -> (Tensor, Tensor)")
        ops.impl("derivatives", derivatives, "CompositeExplicitAutograd")
        ops.impl("derivatives", meta, "Meta")
        # Constants for autograd (d and h are numbers the graph multiplies by), also where a traced
        # graph hands it a tensor that requires grad (torch.export's decompositions drop detach).
        ops.impl("derivatives", torch.library.fallthrough_kernel, "Autograd")
        op = getattr(torch.ops, NAMESPACE).derivatives.default
        torch.library.register_vmap(f"{NAMESPACE}::derivatives",
                                    lambda info, dims, x: (op(x), (dims[0],) * 2), lib=ops)
        aten = torch.library.Library("aten", "IMPL")
        real = getattr(torch.ops.aten, primitive).default
        kernel = _kernel(torch, real, op, (counted, unfollowed), (first, half_second), traced or ([False], []))
        aten.impl(primitive, kernel, "Autograd")
        aten.impl(primitive + "_", lambda x: x.copy_(kernel(x.clone())), "Autograd")
        if hasattr(torch.ops.aten, f"_foreach_{primitive}"):
            # The op over a list of tensors (torch._foreach_sin) has a derivative of its own: a red
            # team's honest autograd through it never met the canary, and was called a bypass.
            def each_in_place(xs: list[Any]) -> None:
                for x in xs:
                    x.copy_(kernel(x.clone()))

            aten.impl(f"_foreach_{primitive}", lambda xs: [kernel(x) for x in xs], "Autograd")
            aten.impl(f"_foreach_{primitive}_", each_in_place, "Autograd")

        def case(id: int) -> None:
            # A case's calls begin (their plan has this id at the oracle); the primitive's count
            # starts again.
            planned[0] = None
            case_now[0], calls_begun[0] = id, 0
            counted[0] = unfollowed[0] = 0

        def recount() -> None:
            counted[0] = unfollowed[0] = 0

        def next_call() -> None:
            planned[0] = (case_now[0], calls_begun[0])
            calls_begun[0] += 1

        def rest() -> None:
            planned[0] = None

        harness = (("case(int id) -> ()", case), ("recount() -> ()", recount), ("next_call() -> ()", next_call),
                   ("rest() -> ()", rest), ("calls() -> int", lambda: counted[0]),
                   ("unfollowed() -> int", lambda: unfollowed[0]))
        for schema, function in harness:
            ops.define(schema)
            ops.impl(schema.split("(")[0], function, "CompositeExplicitAutograd")
        for code in (kernel, derivatives, _formula, _asked, case, next_call, rest):
            _not_for_dynamo(torch, code)
    handles = getattr(torch.ops, NAMESPACE)
    case_, recount_, next_call_, rest_, calls_, unfollowed_ = (
        _out_of_sight(torch, getattr(handles, name).default)
        for name in ("case", "recount", "next_call", "rest", "calls", "unfollowed"))
    return Canary(case_, recount_, next_call_, rest_, calls_, unfollowed_, _held_outside(one_at_a_time, (aten, ops)))


def _out_of_sight(torch: Any, op: Any) -> Callable[..., Any]:
    """The harness's handle on one of its operators, called past the submission's function and
    dispatch modes: a mode saw next_call before each planned call of the submission's and rest
    after it, which no other call has (rt198's wrote earlier answers back on rest's op). A kernel of
    the submission's own for the operator still runs (rt201's for BackendSelect): it can tell a
    planned call, never a secret one. Made here, so that none of its closure cells is one of the
    kernel's (_held_outside)."""
    no_torch_function, no_python, keys = (torch._C.DisableTorchFunction, torch._C._ExcludeDispatchKeyGuard,
                                          python_dispatch_keys(torch))

    def call(*args: Any) -> Any:
        with no_torch_function(), no_python(keys):
            return op(*args)

    return call


def _held_outside(one_at_a_time: Any, libraries: tuple[Any, ...]) -> Callable[[], None]:
    """What the submission can reach of the canary beyond the operators' handles (the harness's
    `remove`, gc.enable): functions made here, so that none of their closure cells is one of the
    kernel's. A cell is writable (cell_contents), and one shared with the operator's kernel would
    put a callable of the submission's there, inside the kernel. (Nor does the audit
    hook call any of them: a red team raised a flag the hook read through one, and another put its
    own function in such a cell, which the hook would then have called.)"""
    resume_collecting = gc.enable
    enter, leave = one_at_a_time.acquire, one_at_a_time.release

    def enable() -> None:
        # gc.enable, for the submission: it waits until no thread is inside the operator's kernel.
        # timeit turns the collector off and on again, and an honest student timing in a thread
        # was recorded for turning it on while the kernel ran. (The real one, reached some
        # other way, is still recorded.)
        enter()
        try:
            resume_collecting()
        finally:
            leave()

    gc.enable = enable

    def remove() -> None:
        with _install_lock:
            for library in libraries:
                library._destroy()
            if gc.enable is enable:
                gc.enable = resume_collecting

    return remove


def python_dispatch_keys(torch: Any) -> Any:
    """The dispatch keys through which a dispatch mode or a subclass's __torch_dispatch__ runs
    Python inside an op: excluded while the canary's operator works."""
    key, keys = torch._C.DispatchKey, torch._C.DispatchKeySet
    return keys(key.Python) | keys(key.PythonTLSSnapshot) | keys(key.PythonDispatcher)


def _not_for_dynamo(torch: Any, function: Callable[..., Any]) -> None:
    """Keep torch.compile's frame hook out of the canary's own frames (and all they call): it
    would otherwise read them, and trace the operator's work into a student's compiled graph.
    Best effort: where this torch lacks the hook's controls, nothing changes."""
    try:
        hook = torch._C._dynamo.eval_frame
        skip = hook._FrameExecStrategy(hook._FrameAction.SKIP, hook._FrameAction.SKIP)
        hook.set_code_exec_strategy(function.__code__, skip)
    except (AttributeError, TypeError, RuntimeError):
        pass


def _kernel(torch: Any, real: Any, derivatives: Any, counts: tuple[list[int], list[int]],
            true: tuple[Callable[[Any], Any], Callable[[Any], Any]],
            traced: tuple[list[bool], list[Any]]) -> Callable[[Any], Any]:
    """The primitive's Autograd kernel. Nothing in it, nor anything its frame reaches, is worth a
    submission's reading: the operator (`derivatives`) is the oracle's one door, and through it the
    secret's move comes only for the numbers asked about."""
    below_autograd = torch._C._AutoDispatchBelowAutograd
    tensor, no_torch_function = torch._C.TensorBase, torch._C.DisableTorchFunction
    detach, clone, to, is_floating, is_complex = (tensor.detach, tensor.clone, tensor.to, tensor.is_floating_point,
                                                  tensor.is_complex)
    dtype_of, device_of, cpu = tensor.dtype.__get__, tensor.device.__get__, torch.device("cpu")
    wide = {False: torch.float64, True: torch.complex128}
    # The dtypes numpy holds as torch does (not bfloat16): the operator reads a CPU tensor of these.
    as_numpy = {torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128}
    layout_of, is_nested = tensor.layout.__get__, tensor.is_nested.__get__
    exact, parameter = torch.Tensor, torch.nn.Parameter
    no_python, python_keys = torch._C._ExcludeDispatchKeyGuard, python_dispatch_keys(torch)
    armed, outputs = traced
    counted, unfollowed = counts
    vf = torch._C._VariableFunctions
    strided, addcmul, sub, mul, copysign, neg, zeros_like = (torch.strided, vf.addcmul, vf.sub, vf.mul, vf.copysign,
                                                             vf.neg, vf.zeros_like)
    # torch's own tracers (make_fx, AOTAutograd, torch.export's decompositions): their modes, which
    # a submission's TorchDispatchMode is not, and the tensors they trace with.
    mode_of, tracer_modes = torch._C._get_dispatch_mode, torch._C._TorchDispatchModeKey
    fake_mode, proxy_mode, functional_mode = tracer_modes.FAKE, tracer_modes.PROXY, tracer_modes.FUNCTIONAL
    no_keys = torch._C.DispatchKeySet(torch._C.DispatchKey.Undefined)  # (empty: excludes nothing)
    from torch._subclasses.fake_tensor import FakeTensor
    from torch._subclasses.functional_tensor import FunctionalTensor

    def primitive(x: Any) -> Any:
        counted[0] += 1
        kind = type(x)  # (by identity: see install's _formula)
        ours = kind is exact or kind is parameter
        if (ours or kind is FakeTensor or kind is FunctionalTensor) and layout_of(x) == strided and not is_nested(x):
            if mode_of(fake_mode) is not None or mode_of(proxy_mode) is not None \
                    or mode_of(functional_mode) is not None:
                return _plain(x, no_keys)
            if ours:
                return _plain(x, python_keys)
        with below_autograd():
            s = real(x)
        if not (x.is_floating_point() or x.is_complex()):
            return s  # integers: no gradient to give
        return _other(x, x.detach(), s)  # a subclass (nested, masked, the submission's own) or a sparse tensor

    def _plain(x: Any, past: Any) -> Any:
        # A copy of the numbers, sin's value of it, and both derivatives of it from the operator,
        # asked past the dispatch keys `past` (every mode's, python_keys) and with the submission's
        # function modes off. What the operator is handed is any numbers' the submission chooses (a
        # kernel of its own for clone or sin can swap them): it gives only their own derivative,
        # which the operator called by itself gives too, and which the graph of a call of sin at
        # them saves anyway. Where torch's own tracer is at work, `past` is empty, so that it records
        # sin of the copy and the operator as ops of its graph, and the graph, replayed, calls them
        # again on its input. Past the tracer, they were constants of the numbers it traced with: a
        # traced sin gave 3.0 for cos(0), at every x, and a traced grad never called sin again
        # (honest files were called forged). A replay's answer is the operator's, asked as the
        # replay runs: what the graph of a call of sin saves anyway.
        with no_torch_function(), no_python(past):
            x0, s, d, h = _values(x)
        return s if d is None else _graph(x, x0, s, d, h)

    def _values(x: Any) -> tuple[Any, Any, Any, Any]:
        x0 = detach(x)
        if not (is_floating(x0) or is_complex(x0)):
            with below_autograd():
                return x0, real(x0), None, None  # integers: no gradient to give
        numbers = clone(x0)
        with below_autograd():
            s = real(numbers)
        dtype, device = dtype_of(numbers), device_of(numbers)
        if device.type == "cpu" and dtype in as_numpy:
            d, h = derivatives(numbers)
        else:  # a GPU's, bfloat16: numpy reads the CPU's float64 (or complex128) copy
            d, h = derivatives(to(numbers, cpu, wide[is_complex(numbers)], copy=True))
            d, h = to(d, device, dtype), to(h, device, dtype)
        return x0, s, d, h

    def _graph(x: Any, x0: Any, s: Any, d: Any, h: Any) -> Any:
        # The graph in the submission's view (a mode sees these ops, a tracer records t's tie to x;
        # d is autograd's number for the numbers sin was given, which a graph's saved tensors show
        # too).
        try:
            if is_complex(x0):  # (no signed zero for complex numbers: see _other)
                v = sub(x0, x)
                return _noted(sub(s, mul(v, sub(d, mul(v, h)))), x)
            # t is zero with slope 1, its sign against d's (-0.0 where d > 0, +0.0 where d < 0), so that
            # t*d is -0.0 and s + t*d keeps s's bits, -0.0 included. Only ops on d make the signed zero:
            # a constant tensor breaks torch.compile's tracing, and d * -0.0 vmap of an empty batch.
            t = sub(copysign(zeros_like(d), neg(d)), sub(x0, x))
        except IndexError as error:
            if "out of range for tensor of size [0]" not in str(error):
                raise
            # torch's own: under vmap of an empty batch, forward mode's op of a dual tensor and a plain one
            # selects element 0 of none (jvp of x - x.detach() raises there, sin's own kernel not: rt215's
            # honest vmap(jvp) lost its empty inputs). No numbers to give: x - x, of x's shape and dtype.
            return sub(x, x)
        return _noted(addcmul(s, t, addcmul(d, t, h)), x)

    def _noted(out: Any, x: Any) -> Any:
        if armed[0]:  # its node now: an in-place op or a Function may give `out` another one later
            outputs.append((out.grad_fn, x))
        return out

    def _other(x: Any, x0: Any, s: Any) -> Any:
        """Tensors the grids never give: nested, masked, sparse, or a subclass of the submission's.
        v is zero with slope -1. Torch's true derivative, counted as unfollowed, so the parent reads
        those answers as no evidence either way, and never as a formula that bypassed autograd. (The
        dense numbers inside a nested or masked tensor got the secret once; but they are reached
        through Python a submission can patch or override, and a red team's handed the operator the
        grid's x there, having run sin on zeros: 10/10 proven, nothing recorded, four ways.)"""
        unfollowed[0] += 1
        try:
            d, h = true[0](x0), true[1](x0)
        except Exception:  # noqa: BLE001 - torch cannot differentiate sin there either (sparse cos)
            return s
        v = x0 - x
        return _noted(s - v * (d - v * h), x)

    return primitive


class _Operations(NamedTuple):
    """What an exercise formula is evaluated with: numpy's or torch's, captured before the submission loads."""
    calls: dict[str, Callable[[Any], Any]]
    binary: dict[type, Callable[[Any, Any], Any]]
    neg: Callable[[Any], Any]
    constant: Callable[[float], Any]


def _torch_operations(vf: Any, torch: Any) -> _Operations:
    return _Operations({"sin": vf.sin, "cos": vf.cos, "exp": vf.exp, "log": vf.log, "sqrt": vf.sqrt, "abs": vf.abs,
                        "tanh": vf.tanh},
                       {ast.Add: vf.add, ast.Sub: vf.sub, ast.Mult: vf.mul, ast.Div: vf.div, ast.Pow: vf.pow},
                       vf.neg, lambda value: torch.tensor(value, dtype=torch.float64))


_NUMPY = _Operations({"sin": np.sin, "cos": np.cos, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
                      "tanh": np.tanh},
                     {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
                      ast.Pow: np.power},
                     np.negative, np.float64)


def _numpy_error_state() -> tuple[Any, Any]:
    """numpy's error state (a context variable, numpy 2) and a value of it that ignores every
    floating-point error: set with C calls only, so nothing of the submission's (an np.seterrcall
    function, a warnings filter) runs while the formula computes."""
    from numpy._core import _ufunc_config

    config: Any = _ufunc_config  # (private, and untyped)
    return config._extobj_contextvar, config._make_extobj(all="ignore")


def _sealed(expression: str, ops: _Operations) -> Callable[[Any], Any]:
    """An exercise formula in u as a closure over builtins captured now, so nothing a submission
    patches later (torch.sin, Tensor.__mul__, grader.formula) runs inside it."""
    calls, binary, neg = ops.calls, ops.binary, ops.neg

    def build(node: ast.AST) -> Callable[[Any], Any]:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            constant = ops.constant(float(node.value))  # type: ignore[arg-type]
            return lambda u: constant
        if isinstance(node, ast.Name) and node.id == "u":
            return lambda u: u
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return (lambda u: neg(inner(u))) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in binary:
            op, left, right = binary[type(node.op)], build(node.left), build(node.right)
            return lambda u: op(left(u), right(u))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in calls:
            call, argument = calls[node.func.id], build(node.args[0])
            return lambda u: call(argument(u))
        raise ValueError(f"the canary cannot evaluate {ast.dump(node)[:80]}")

    return build(ast.parse(expression, mode="eval"))
