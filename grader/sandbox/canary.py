"""The canary, child side: where the exercise's primitive gets its derivative, for every call.

The Autograd kernel of the primitive (aten::sin, say) is replaced, for the life of the child and
before student code loads, by one that returns the primitive's exact value with a graph of
ordinary differentiable ops whose derivative is `derivatives(x)`:

    y = s + t * (d + t * h)          s = sin(x) below autograd, d the first derivative and h half
                                     the second (constants; s, d and h of one copy of x's numbers),
                                     t = z - (x.detach() - x) (value 0, slope 1), z a zero signed
                                     against d: copysign(0, -d)

two addcmuls and two subtractions (a graph of four nodes, where it had eight: its backward is most
of what the canary costs a call). So y is s bit for bit (t*d is then -0.0, which adding leaves -0.0 and +0.0 alike),
dy/dx = d and d2y/dx2 = 2h. Being ordinary ops, it works wherever autograd does: threads, TorchScript,
torch.compile, torch.func transforms, forward AD, keyword arguments, in-place `sin_`. d and h come
from one opaque operator, `grader_canary::derivatives`, whose kernel reads the child's state: for
the numbers it is given, their true derivative on plain calls, the secret one (canary.py) on secret
calls. Called by itself, it gives what the graph of a call of sin at those numbers saves for its
backward anyway. Which calls are secret is the parent's choice, per call. A submission sees the
same modes (none at all), the same graph (its grad_fn is AddcmulBackward0 every time), the same ops
and the same cost on every call; only the numbers of the derivative differ.

The state lives in closure cells reached only by the operator's kernel, which the dispatcher holds
(torch keeps no Python reference to it, and nothing the submission can reach shares a cell with
it). The kernel runs no op of torch's, so no kernel a submission registers for one (Python, or a C
callable, which makes no frame) runs below it: it reads a plain CPU tensor's numbers with torch's
own C methods, torch-function and Python dispatch off, and computes in numpy, with builtins captured
here before the submission loaded (the primitive's kernel makes the copy it is given, and moves what
numpy cannot read, a GPU's numbers or bfloat16, to the CPU's float64 first). One thread at a time is
inside, with the garbage collector off. What Python leaves open (the heap, other threads' frames, a
profile or trace function of the submission's) is recorded by the audit hook (confine.py).
"""

from __future__ import annotations

import ast
import gc
import hashlib
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from grader.canary import GC_TURNED_ON, HALF_SECOND, ROUNDS, Secret

NAMESPACE = "grader_canary"
_PIECE = 1 << 16  # elements the formula works on at a time
_install_lock = threading.Lock()


class Canary(NamedTuple):
    """What the harness holds. The first four are operators of the dispatcher, whose kernels (and
    the secret, the key and the state in their closures) torch keeps out of Python's reach: a walk
    up the harness's frames finds these handles and nothing behind them. A submission may call
    them too, and only confuses its own calls."""

    plan: Any  # (nonce, sealed, count): the calls of the next case, sealed as the parent sent them
    next_call: Any  # the next planned call's state, before calling the submission
    rest: Any  # plain again, after it returned
    calls: Any  # how often the primitive ran since the last plan (any thread, any route)
    unfollowed: Any  # how many of those the secret could not reach (a sparse tensor, say)
    remove: Callable[[], None]  # give torch its own kernels back (the in-process self-check)


def install(torch: Any, primitive: str, derivative: str, secret: Secret,
            traced: tuple[list[bool], list[Any]] | None = None) -> Canary:
    """Put the canary in place for every later call of the primitive, plain until planned. With
    `traced` (a flag cell and a list, sandbox/trace.py's), every call made while the flag is up adds
    (output's node, input) to the list, so a recorded backward pass can show the canary's few ops as
    the one step the student wrote. Never the derivative: a submission can raise the flag itself."""
    vf = torch._C._VariableFunctions
    in_torch = _torch_operations(vf, torch)  # the true derivative, where the secret cannot reach (_kernel)
    first, half_second = _sealed(derivative, in_torch), _sealed(HALF_SECOND[primitive], in_torch)
    first_np, half_second_np = _sealed(derivative, _NUMPY), _sealed(HALF_SECOND[primitive], _NUMPY)
    sin, add, mul, remainder, abs_, matmul, floor, sub = (np.sin, np.add, np.multiply, np.remainder, np.abs,
                                                          np.matmul, np.floor, np.subtract)
    empty, xor, shift_right, bitwise_and, equal = np.empty, np.bitwise_xor, np.right_shift, np.bitwise_and, np.equal
    float64, int64, complex128 = np.float64, np.int64, np.complex128
    numpy_errors, quiet = _numpy_error_state()
    set_errors, reset_errors = numpy_errors.set, numpy_errors.reset
    nan = torch.tensor(float("nan"), dtype=torch.float64)  # what a failed formula gives (it broadcasts)
    # b is 0 on plain calls: the same ops run either way, so the cost says nothing.
    state = [0.0]
    omega, phi, amp, scales, weights = (np.array(v, dtype=float64) for v in (
        secret.omega, secret.phi, secret.amp, secret.scales, tuple(f * 2.0 ** -63 for f in secret.fine)))
    neighbours = np.array([0, 1], dtype=int64)
    hashes = tuple(np.array(secret.grain, dtype=int64).reshape(len(ROUNDS), 2, 1))  # each round's keys
    for array in (omega, phi, amp, scales, weights, neighbours, *hashes):
        array.flags.writeable = False
    ramp, level = -4 * secret.smooth_share, 0.75 + secret.smooth_share
    planned: list[bool] = []
    counted, unfollowed = [0], [0]
    # One thread at a time inside the secret's functions (the collector's switch is the process's);
    # bound now, since a `with` would allocate (see derivatives).
    one_at_a_time = threading.RLock()
    enter, leave = one_at_a_time.acquire, one_at_a_time.release
    rounds = ROUNDS
    key, b, blake2b, from_bytes, to_range = secret.key, secret.b, hashlib.blake2b, int.from_bytes, range
    # Every name the secret's functions use is theirs from here: a global or builtin is looked up when
    # it runs, and a red team's submission put its own zip in the canary module's globals (and in
    # builtins, and an int whose __radd__ was its code as the piece size), which the formula then
    # called with the grain's keys, and below which it read the formula's frame: 10/10, nothing
    # recorded (tests/fast/test_canary.py checks that none is looked up).
    zip_, type_, piece, failure, gc_turned_on = zip, type, int(_PIECE), BaseException, str(GC_TURNED_ON)
    collecting, stop_collecting, resume_collecting, audit = gc.isenabled, gc.disable, gc.enable, sys.audit
    tensor, exact, parameter = torch._C.TensorBase, torch.Tensor, torch.nn.Parameter
    no_torch_function, no_python, keys = (torch._C.DisableTorchFunction, torch._C._ExcludeDispatchKeyGuard,
                                          _python_keys(torch))
    layout_of, nested, device_of, strided = (tensor.layout.__get__, tensor.is_nested.__get__, tensor.device.__get__,
                                             torch.strided)
    to_dlpack, from_dlpack, from_numpy = torch._C._to_dlpack, np.from_dlpack, torch.from_numpy

    class Numbers:
        # The numbers of a tensor for numpy through DLPack: no Python tensor is made, nor dies, on
        # the way (TensorBase.numpy detaches first, and the new tensor died inside the formula,
        # where a red team's torch.Tensor.__del__ ran and read the formula's frame: 10/10, nothing
        # recorded). A class of the canary's own, out of the submission's reach.
        __slots__ = ("capsule",)
        capsule: Any

        def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
            return self.capsule

        def __dlpack_device__(self) -> tuple[int, int]:
            return (1, 0)  # the CPU
    del secret  # from here on the closures hold only what they use

    def derivatives(x: Any) -> tuple[Any, Any]:
        """The operator's kernel: d and h/2 for the numbers of x (a plain dense CPU tensor of a dtype
        numpy holds), in that dtype. Only this frame and the formula's ever hold the state; nothing
        raised here carries them out (see _formula): not a RecursionError at the formula's call
        either, which a submission can time by its own depth. (Frames of these functions are never
        handed out: confine.py's audit hook.)"""
        # Nothing here allocates an object the collector tracks until it is off, and nothing after
        # it is on again: an allocation can start a collection, which runs the submission's
        # callbacks with this frame for their caller (a `with` makes a bound method: a red team's
        # callback read the formula from this frame so).
        enter()
        try:
            was_collecting = collecting()
            stop_collecting()
            return _formula(x, state[0])
        except failure:  # a traceback from here would carry the state out
            return nan, nan
        finally:
            _collecting_again(was_collecting)  # (then leave: the next thread in reads the switch as it was)
            leave()

    def _collecting_again(was_collecting: bool) -> None:
        # The garbage collector is off while the secret is in use: a collection runs the
        # submission's callbacks and finalizers below this frame, and a generator's frame, read
        # before and resumed there, has these frames for callers (a red team read the secret so,
        # with nothing recorded). One thread at a time is inside (one_at_a_time): the switch is
        # the process's, and a thread leaving turned it on under another one still inside (honest
        # threads were recorded for it). Another thread of the submission's can turn it on
        # meanwhile; that is recorded.
        if collecting():
            audit(gc_turned_on)
        if was_collecting:
            resume_collecting()

    def _formula(x: Any, b: float) -> tuple[Any, Any]:
        # Nothing of the submission's can run in here, nor below: no op of torch's runs (a kernel a
        # submission registers for one runs below whatever calls it: red teams' Python kernels walked
        # up to the secret's frames, and a C callable, which makes no frame, called the builtin
        # locals() there), only torch's own C methods on an exact torch.Tensor with torch-function
        # and Python dispatch off (a subclass's __torch_function__, or its Python sizes, would run
        # its code here), and numpy's ops on numbers of our own.
        with no_torch_function(), no_python(keys):
            token = set_errors(quiet)  # the submission's np.seterr (raise, call) is not the formula's
            try:
                # (By identity: `in` compares types with ==, and Parameter's metaclass is a Python
                # class whose __eq__ a red team set, and ran its code here, below the secret.)
                kind = type_(x)
                if kind is not exact and kind is not parameter:
                    return nan, nan
                if layout_of(x) != strided or nested(x) or device_of(x).type != "cpu":
                    return nan, nan
                numbers = Numbers()
                numbers.capsule = to_dlpack(x)  # (a bfloat16, GPU, conjugate or negative view refuses)
                values = from_dlpack(numbers).copy()
                # canary.secret_derivative, op for op: b * (0.75 + c tri(w) + grain) with w = sin(u ω + φ) @ a,
                # on the real part (complex inputs follow the secret on the real axis too).
                # Flat, since numpy answers a 0-d array with a scalar, which torch.from_numpy refuses;
                # in pieces, so that its temporaries (a few hundred bytes an element) stay small on
                # a tensor of millions (an honest one of 30 million ran out of memory).
                shape, u, complex_ = values.shape, values.real.astype(float64).reshape(-1), values.dtype.kind == "c"
                term = empty(u.shape, float64)
                for start in to_range(0, u.size, piece):
                    column = u[start:start + piece, None]
                    off = abs_(add(remainder(matmul(sin(add(mul(column, omega), phi)), amp), 1.0), -0.5))
                    # canary.grain: keyed heights of the lattice points round u, interpolated
                    steps = mul(column, scales)
                    whole = floor(steps)
                    point = add(whole.astype(int64)[..., None], neighbours)
                    for (bits, multiplier, low), hashed in zip_(rounds, hashes, strict=True):
                        point = xor(point, hashed)
                        point = mul(xor(point, bitwise_and(shift_right(point, bits), low)), multiplier)
                    height = point.astype(float64)  # (2^-63 is in the weights)
                    low_height = height[..., 0]
                    near = add(low_height, mul(sub(steps, whole), sub(height[..., 1], low_height)))
                    term[start:start + piece] = add(add(mul(off, ramp), matmul(near, weights)), level)
                if complex_:  # the secret on the real axis only: off it, a red team's autograd at x + 1j
                    term = mul(term, equal(values.imag.reshape(-1), 0.0))  # carried x's secret move
                at = values.astype(complex128).reshape(-1) if complex_ else u
                d, h = add(first_np(at), mul(term, b)).reshape(shape), half_second_np(at).reshape(shape)
                return from_numpy(d.astype(values.dtype, copy=False)), from_numpy(h.astype(values.dtype, copy=False))
            finally:
                reset_errors(token)

    def meta(x: Any) -> tuple[Any, Any]:
        return torch.empty_like(x), torch.empty_like(x)

    with _install_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel": that is the point
        ops = torch.library.Library(NAMESPACE, "DEF")
        ops.define("derivatives(Tensor x) -> (Tensor, Tensor)")
        ops.impl("derivatives", derivatives, "CompositeExplicitAutograd")
        ops.impl("derivatives", meta, "Meta")
        op = getattr(torch.ops, NAMESPACE).derivatives.default
        torch.library.register_vmap(f"{NAMESPACE}::derivatives",
                                    lambda info, dims, x: (op(x), (dims[0],) * 2), lib=ops)
        aten = torch.library.Library("aten", "IMPL")
        real = getattr(torch.ops.aten, primitive).default
        kernel = _kernel(torch, real, op, (counted, unfollowed), (first, half_second), traced or ([False], []))
        aten.impl(primitive, kernel, "Autograd")
        aten.impl(primitive + "_", lambda x: x.copy_(kernel(x.clone())), "Autograd")

        def plan(nonce: int, sealed: int, count: int) -> None:
            # Secret.unseal, inline on captured builtins: a method of ours looked up now could be
            # patched by the submission and handed the secret; and nothing raised here may carry
            # this frame out in a traceback (a submission can call this operator itself).
            enter()  # (and nothing allocated while the collector is on: see derivatives)
            try:
                was_collecting = collecting()
                stop_collecting()
                pad = from_bytes(blake2b(nonce.to_bytes(8, "big"), key=key, digest_size=4).digest(), "big")
                planned[:] = [(sealed ^ pad) >> i & 1 == 1 for i in to_range(count)]
                counted[0] = unfollowed[0] = 0
            except failure:
                planned[:] = []
            finally:
                _collecting_again(was_collecting)
                leave()

        def next_call() -> None:
            state[0] = b if planned and planned.pop(0) else 0.0

        def rest() -> None:
            state[0] = 0.0

        harness = (("plan(int nonce, int sealed, int count) -> ()", plan), ("next_call() -> ()", next_call),
                   ("rest() -> ()", rest), ("calls() -> int", lambda: counted[0]),
                   ("unfollowed() -> int", lambda: unfollowed[0]))
        for schema, function in harness:
            ops.define(schema)
            ops.impl(schema.split("(")[0], function, "CompositeExplicitAutograd")
        for code in (kernel, derivatives, _formula, plan, next_call, rest):
            _not_for_dynamo(torch, code)
    handles = getattr(torch.ops, NAMESPACE)

    return Canary(handles.plan.default, handles.next_call.default, handles.rest.default, handles.calls.default,
                  handles.unfollowed.default, _held_outside(one_at_a_time, (aten, ops)))


def _held_outside(one_at_a_time: Any, libraries: tuple[Any, ...]) -> Callable[[], None]:
    """What the submission can reach of the canary beyond the operators' handles (the harness's
    `remove`, gc.enable): functions made here, so that none of their closure cells is one of the
    secret's functions'. A cell is writable (cell_contents), and one shared with the operator's
    kernel would put a callable of the submission's there, below the secret. (Nor does the audit
    hook call any of them: a red team raised a flag the hook read through one, and another put its
    own function in such a cell, which the hook would then have called.)"""
    resume_collecting = gc.enable
    enter, leave = one_at_a_time.acquire, one_at_a_time.release

    def enable() -> None:
        # gc.enable, for the submission: it waits until no thread is inside the secret's functions.
        # timeit turns the collector off and on again, and an honest student timing in a thread
        # was recorded for turning it on while the secret was in use. (The real one, reached some
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


def _python_keys(torch: Any) -> Any:
    """The dispatch keys through which a dispatch mode or a subclass's __torch_dispatch__ runs
    Python inside an op: excluded while the canary works on the secret's numbers."""
    key, keys = torch._C.DispatchKey, torch._C.DispatchKeySet
    return keys(key.Python) | keys(key.PythonTLSSnapshot) | keys(key.PythonDispatcher)


def _not_for_dynamo(torch: Any, function: Callable[..., Any]) -> None:
    """Keep torch.compile's frame hook out of the canary's own frames (and all they call): it
    would otherwise read them, and trace the secret's formula into a student's compiled graph.
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
    submission's reading: the operator (`derivatives`) is the secret's one door, and through it the
    secret's numbers come only with sin of the numbers they are of."""
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
    no_python, python_keys = torch._C._ExcludeDispatchKeyGuard, _python_keys(torch)
    armed, outputs = traced
    counted, unfollowed = counts
    vf = torch._C._VariableFunctions
    strided, addcmul, sub, mul, copysign, neg, zeros_like = (torch.strided, vf.addcmul, vf.sub, vf.mul, vf.copysign,
                                                             vf.neg, vf.zeros_like)

    def primitive(x: Any) -> Any:
        counted[0] += 1
        kind = type(x)  # (by identity: see install's _formula)
        if (kind is exact or kind is parameter) and layout_of(x) == strided and not is_nested(x):
            return _plain(x)
        with below_autograd():
            s = real(x)
        if not (x.is_floating_point() or x.is_complex()):
            return s  # integers: no gradient to give
        return _other(x, x.detach(), s)  # a subclass (nested, masked, the submission's own) or a sparse tensor

    def _plain(x: Any) -> Any:
        # A copy of the numbers, sin's value of it, and both derivatives of it from the operator,
        # asked past every dispatch mode and with the submission's function modes off. What the
        # operator is handed is any numbers' the submission chooses (a kernel of its own for clone
        # or sin can swap them): it gives only their own derivative, which the operator called by
        # itself gives too, and which the graph of a call of sin at them saves anyway.
        with no_torch_function(), no_python(python_keys):
            x0 = detach(x)
            if not (is_floating(x0) or is_complex(x0)):
                with below_autograd():
                    return real(x0)  # integers: no gradient to give
            numbers = clone(x0)
            with below_autograd():
                s = real(numbers)
            dtype, device = dtype_of(numbers), device_of(numbers)
            if device.type == "cpu" and dtype in as_numpy:
                d, h = derivatives(numbers)
            else:  # a GPU's, bfloat16: numpy reads the CPU's float64 (or complex128) copy
                d, h = derivatives(to(numbers, cpu, wide[is_complex(numbers)], copy=True))
                d, h = to(d, device, dtype), to(h, device, dtype)
        # The graph in the submission's view (a mode sees these ops, a tracer records t's tie to x;
        # d is autograd's number for the numbers sin was given, which a graph's saved tensors show
        # too).
        if is_complex(x0):  # (no signed zero for complex numbers: see _other)
            v = sub(x0, x)
            return _noted(sub(s, mul(v, sub(d, mul(v, h)))), x)
        # t is zero with slope 1, its sign against d's (-0.0 where d > 0, +0.0 where d < 0), so that
        # t*d is -0.0 and s + t*d keeps s's bits, -0.0 included. Only ops on d make the signed zero:
        # a constant tensor breaks torch.compile's tracing, and d * -0.0 vmap of an empty batch.
        t = sub(copysign(zeros_like(d), neg(d)), sub(x0, x))
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
