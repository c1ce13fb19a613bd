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
torch.compile, torch.func transforms, forward AD, keyword arguments, in-place `sin_`. s, d and h
come from one opaque operator, `grader_canary::derivatives`, whose kernel reads the child's state
and takes its own copy of the numbers it is given: sin of that copy, and its true derivative on
plain calls, the secret one (canary.py) on secret calls. So the secret's numbers for x exist only
beside sin of x, computed where no code of the submission's runs; called by itself, the operator
gives what the graph of a call of sin saves for its backward. Which calls are secret is the
parent's choice, per call. A submission sees the same modes (none at all), the same graph
(its grad_fn is AddcmulBackward0 every time), the same ops and the same cost on every call; only the
numbers of the derivative differ.

The state lives in closure cells reached only by the operator's kernel, which the dispatcher holds
(torch keeps no Python reference to it). The kernel runs with torch-function and Python dispatch
turned off and computes in numpy, on its copy's numbers where they lie (torch's ops only move
what numpy cannot read: a GPU's numbers, bfloat16), with builtins captured here before the
submission loaded, so no patched function, tensor subclass or dispatch mode of the submission runs
while the secret is in use; numpy's ops cost a third of torch's on a grid's few numbers. One thread
at a time is inside, with the garbage collector off, and a profile function stops any Python but
the formula's below it (a kernel the submission registers for clone, sin or a copy is stopped
before its first line, and recorded). What Python leaves open (the heap, other threads' frames) is recorded by
the audit hook (confine.py).
"""

from __future__ import annotations

import ast
import gc
import hashlib
import inspect
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from grader.canary import GC_TURNED_ON, HALF_SECOND, PYTHON_BELOW, ROUNDS, Secret

NAMESPACE = "grader_canary"
# Code whose frames outlive a call (generators, coroutines): see _tripwire.
_PIECE = 1 << 16  # elements the formula works on at a time
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
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
    busy: Callable[[], bool]  # whether this thread is inside the secret's formula (for the audit hook)
    owns_profile: Callable[[Any], bool]  # whether a function is the canary's profile function (for the audit hook)
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
    inside, one_at_a_time = threading.local(), threading.RLock()
    enter, leave = one_at_a_time.acquire, one_at_a_time.release
    rounds = ROUNDS
    key, b, blake2b, from_bytes, to_range, get = secret.key, secret.b, hashlib.blake2b, int.from_bytes, range, getattr
    collecting, stop_collecting, resume_collecting, audit = gc.isenabled, gc.disable, gc.enable, sys.audit
    set_profile, get_profile, own_globals = sys.setprofile, sys.getprofile, globals()
    del secret  # from here on the closures hold only what they use

    def derivatives(x: Any) -> tuple[Any, Any, Any]:
        """The operator's kernel: sin(x), d and h/2, all three of one copy of x's numbers, taken
        here (dense, real or complex). Only this frame and the formula's ever hold the state; nothing
        raised here carries them out (see _formula): not a RecursionError at the formula's call
        either, which a submission can time by its own depth. (Frames of these functions are never
        handed out: confine.py's audit hook.)"""
        # Nothing here allocates an object the collector tracks until it is off, and nothing after
        # it is on again: an allocation can start a collection, which runs the submission's
        # callbacks with this frame for their caller (a `with` makes a bound method: a red team's
        # callback read the formula from this frame so).
        enter()
        try:
            was_collecting, profiler = collecting(), get_profile()
            stop_collecting()
            inside.restoring = False  # (a restore that failed left it up: see _restore_profile)
            inside.busy = True
            if profiler is None:
                set_profile(_tripwire)
            # torch's ops run only in take and back, whose frames hold nothing of the secret's: a
            # kernel of the submission's can be a C callable, which makes no frame for the tripwire
            # to stop, and the builtin locals() called by it read the frame on top (a red team's
            # read the formula's so, and a cos cheat was proven with nothing recorded).
            taken = take(x)
            return back(taken, _formula(taken[1], state[0], taken[4]))
        except BaseException:  # noqa: BLE001 - a traceback from here would carry the state out
            return nan, nan, nan
        finally:
            inside.restoring = True
            if profiler is not None or _restore_profile(profiler):
                inside.restoring = False
            inside.busy = False
            _collecting_again(was_collecting)  # (then leave: the next thread in reads the switch as it was)
            leave()

    def _restore_profile(profiler: Any) -> bool:
        # (Only ever None: a profile function of the submission's own stays where it is, since one
        # written in C cannot be set again from Python, and a Python one sees events it never
        # started: honest cProfile, profile and torch.profiler(with_stack=True) raised at every sin.
        # Setting one is recorded, and a profile function sees the frames below it anyway.)
        # CPython refuses to install a profile function while another thread's is being installed
        # (the audit hooks run meanwhile, and let other threads run): this thread would keep the
        # tripwire, and stop its own Python from then on (honest threads calling sin at once got
        # NaN and a record of code stopped below the formula). The canary's own never overlap (one
        # thread at a time inside); a submission's may, so try again. Should that fail, the tripwire
        # stays, idle, until this thread's next call.
        for _ in to_range(1000):
            try:
                set_profile(profiler)
                return True
            except RuntimeError:
                pass
        return False

    def _tripwire(frame: Any, event: str, arg: Any) -> None:
        # No Python but the formula's own runs below it: a frame of the submission's entered there
        # (a kernel of its own for an op the formula calls, registered with torch.library; a
        # dispatcher callback) is stopped before its first line, and recorded. Anything run below
        # the formula could resume a generator whose frame it read before, whose callers are then
        # the formula's (f_back and f_locals raise no audit event): a red team's cos cheat read the
        # secret so, proven with nothing recorded. (Code is not a function: see _runnable_below.)
        if event != "call" or get(inside, "restoring", False):
            return
        if frame.f_globals is not own_globals or frame.f_code not in own_code:
            audit(PYTHON_BELOW)
            raise PermissionError("graded code may not run below the grader's canary")

    def _collecting_again(was_collecting: bool) -> None:
        # The garbage collector is off while the secret is in use: a collection runs the
        # submission's callbacks and finalizers below this frame, and a generator's frame, read
        # before and resumed there, has these frames for callers (a red team read the secret so,
        # with nothing recorded). One thread at a time is inside (one_at_a_time): the switch is
        # the process's, and a thread leaving turned it on under another one still inside (honest
        # threads were recorded for it). Another thread of the submission's can turn it on
        # meanwhile; that is recorded.
        if collecting():
            audit(GC_TURNED_ON)
        if was_collecting:
            resume_collecting()

    def _formula(values: Any, b: float, target: Any) -> tuple[Any, Any]:
        # d and h/2 of numbers sin was just taken of (take), in numpy (as `target` where numpy holds
        # the tensor's dtype): no op of torch's runs here, nor anything else a submission could make
        # run, and numpy's ops cost a third of torch's on a grid's few numbers.
        token = set_errors(quiet)  # the submission's np.seterr (raise, call) is not the formula's
        try:
            # canary.secret_derivative, op for op: b * (0.75 + c tri(w) + grain) with w = sin(u ω + φ) @ a,
            # on the real part (complex inputs follow the secret on the real axis too).
            # Flat, since numpy answers a 0-d array with a scalar, which torch.from_numpy refuses;
            # in pieces, so that its temporaries (a few hundred bytes an element) stay small on
            # a tensor of millions (numpy's MemoryError is Python, which the tripwire stops).
            shape, u, complex_ = values.shape, values.real.astype(float64).reshape(-1), values.dtype.kind == "c"
            term = empty(u.shape, float64)
            for start in to_range(0, u.size, _PIECE):
                column = u[start:start + _PIECE, None]
                off = abs_(add(remainder(matmul(sin(add(mul(column, omega), phi)), amp), 1.0), -0.5))
                # canary.grain: keyed heights of the lattice points round u, interpolated
                steps = mul(column, scales)
                whole = floor(steps)
                point = add(whole.astype(int64)[..., None], neighbours)
                for (bits, multiplier, low), hashed in zip(rounds, hashes, strict=True):
                    point = xor(point, hashed)
                    point = mul(xor(point, bitwise_and(shift_right(point, bits), low)), multiplier)
                height = point.astype(float64)  # (2^-63 is in the weights)
                low_height = height[..., 0]
                near = add(low_height, mul(sub(steps, whole), sub(height[..., 1], low_height)))
                term[start:start + _PIECE] = add(add(mul(off, ramp), matmul(near, weights)), level)
            if complex_:  # the secret on the real axis only: off it, a red team's autograd at x + 1j
                term = mul(term, equal(values.imag.reshape(-1), 0.0))  # carried x's secret move
            at = values.astype(complex128).reshape(-1) if complex_ else u
            d, h = add(first_np(at), mul(term, b)).reshape(shape), half_second_np(at).reshape(shape)
            if target is None:
                return d, h
            return d.astype(target, copy=False), h.astype(target, copy=False)
        finally:
            reset_errors(token)

    take, back = _taken(torch, primitive)
    own_code = _runnable_below(_formula, first_np, half_second_np, take, back)

    def meta(x: Any) -> tuple[Any, Any, Any]:
        return torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)

    with _install_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel": that is the point
        ops = torch.library.Library(NAMESPACE, "DEF")
        ops.define("derivatives(Tensor x) -> (Tensor, Tensor, Tensor)")
        ops.impl("derivatives", derivatives, "CompositeExplicitAutograd")
        ops.impl("derivatives", meta, "Meta")
        op = getattr(torch.ops, NAMESPACE).derivatives.default
        torch.library.register_vmap(f"{NAMESPACE}::derivatives",
                                    lambda info, dims, x: (op(x), (dims[0],) * 3), lib=ops)
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
            except BaseException:  # noqa: BLE001
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

    def busy() -> bool:
        # For the audit hook, which asks it inside the functions that hold the secret: a plain
        # function, not an operator, so no dispatch mode or kernel of the submission's answers it
        # (as an operator, a red team's mode and a red team's kernel for it ran there, and read the
        # formula from the frame below).
        return get(inside, "busy", False)

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
            aten._destroy()
            ops._destroy()
            if gc.enable is enable:
                gc.enable = resume_collecting

    return Canary(handles.plan.default, handles.next_call.default, handles.rest.default, handles.calls.default,
                  handles.unfollowed.default, busy, lambda function: function is _tripwire, remove)


def _runnable_below(*functions: Callable[..., Any]) -> frozenset[Any]:
    """The code the tripwire lets run below the formula: these functions' (_code_of), none of it a
    generator's or a coroutine's. Code is not a function: a submission can make a function of this
    code with globals and closure cells of its own, and a generator's frame, read while it waits,
    has for callers whatever resumed it (a red team's, made of a generator expression the formula
    had, read the formula's frame from within, with nothing recorded)."""
    code = _code_of(*functions)
    resumable = sorted(c.co_name for c in code if c.co_flags & _RESUMABLE)
    if resumable:
        raise ValueError(f"the canary's formula may run no generator or coroutine: {', '.join(resumable)}")
    return code


def _code_of(*functions: Callable[..., Any]) -> frozenset[Any]:
    """The code of these functions, of the code inside them (a generator expression's) and of every
    function in their closures (a sealed formula's lambdas): all the Python the canary's formula runs."""
    found: set[Any] = set()
    todo: list[Any] = list(functions)
    while todo:
        item = todo.pop()
        code = item if hasattr(item, "co_consts") else getattr(item, "__code__", None)
        if code is None or code in found:
            continue
        found.add(code)
        todo.extend(constant for constant in code.co_consts if hasattr(constant, "co_consts"))
        todo.extend(cell.cell_contents for cell in getattr(item, "__closure__", None) or ()
                    if callable(cell.cell_contents))
    return frozenset(found)


def _taken(torch: Any, primitive: str) -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]:
    """The canary's two steps in torch, around its formula (install's derivatives): `take` copies
    the numbers it is given and takes sin of the copy, `back` makes the formula's numbers tensors
    again. Their frames and closures hold nothing of the secret's, since a kernel of a submission's
    for an op they call can read the frame on top (a C callable makes no frame for the tripwire to
    stop). With torch-function and Python dispatch off, on builtins captured before the submission
    loaded."""
    tensor, vf = torch._C.TensorBase, torch._C._VariableFunctions
    no_torch_function, below_autograd = torch._C.DisableTorchFunction, torch._C._AutoDispatchBelowAutograd
    keys, no_python = _python_keys(torch), torch._C._ExcludeDispatchKeyGuard
    outside_functorch, sin_of, from_numpy = torch._C._DisableFuncTorch, getattr(vf, primitive), torch.from_numpy
    clone, to, array_of = tensor.clone, tensor.to, tensor.numpy
    dtype_of, device_of, layout_of, nested = (tensor.dtype.__get__, tensor.device.__get__, tensor.layout.__get__,
                                              tensor.is_nested.__get__)
    is_complex, is_neg, is_conj = tensor.is_complex, tensor.is_neg, tensor.is_conj
    strided, devices, cpu, wide = torch.strided, ("cpu", "cuda"), torch.device("cpu"), {False: torch.float64,
                                                                                       True: torch.complex128}
    # The dtypes numpy holds as torch does (not bfloat16): a CPU tensor of these is read directly.
    as_numpy = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64,
                torch.complex64: np.complex64, torch.complex128: np.complex128}

    def take(x: Any) -> tuple[Any, Any, Any, Any, Any]:
        """sin of a copy of x's numbers, and the copy's numbers in numpy: (s, numbers, device, dtype,
        numpy's dtype for it or None)."""
        with no_torch_function(), no_python(keys), below_autograd(), outside_functorch():
            # Dense numbers on the CPU or a GPU only, as their own getters say (a subclass's
            # attributes may lie): elsewhere an op may find no kernel, and the dispatcher's callback
            # for that runs Python below (a red team's did, on an mkldnn tensor whose subclass called
            # itself strided, and read the secret).
            if layout_of(x) != strided or nested(x) or device_of(x).type not in devices:
                raise ValueError("not dense numbers on the CPU or a GPU")
            numbers = clone(x)
            s = sin_of(numbers)
            dtype, device = dtype_of(numbers), device_of(numbers)
            target = as_numpy.get(dtype) if device.type == "cpu" else None
            if target is None or is_neg(numbers) or is_conj(numbers):  # a GPU's, bfloat16, odd bits
                return s, array_of(to(numbers, cpu, wide[is_complex(numbers)], copy=True)), device, dtype, None
            return s, array_of(numbers).copy(), device, dtype, target

    def back(taken: tuple[Any, Any, Any, Any, Any], derived: tuple[Any, Any]) -> tuple[Any, Any, Any]:
        (s, _, device, dtype, target), (d, h) = taken, derived
        with no_torch_function(), no_python(keys), below_autograd(), outside_functorch():
            if target is None:
                return s, to(from_numpy(d), device, dtype), to(from_numpy(h), device, dtype)
            return s, from_numpy(d), from_numpy(h)

    return take, back


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
    detach, is_floating, is_complex = tensor.detach, tensor.is_floating_point, tensor.is_complex
    layout_of, is_nested = tensor.layout.__get__, tensor.is_nested.__get__
    plain = (torch.Tensor, torch.nn.Parameter)
    no_python, python_keys = torch._C._ExcludeDispatchKeyGuard, _python_keys(torch)
    armed, outputs = traced
    counted, unfollowed = counts
    vf = torch._C._VariableFunctions
    strided, addcmul, sub, mul, copysign, neg, zeros_like = (torch.strided, vf.addcmul, vf.sub, vf.mul, vf.copysign,
                                                             vf.neg, vf.zeros_like)

    def primitive(x: Any) -> Any:
        counted[0] += 1
        if type(x) in plain and layout_of(x) == strided and not is_nested(x):
            return _plain(x)
        with below_autograd():
            s = real(x)
        if not (x.is_floating_point() or x.is_complex()):
            return s  # integers: no gradient to give
        return _other(x, x.detach(), s)  # a subclass (nested, masked, the submission's own) or a sparse tensor

    def _plain(x: Any) -> Any:
        # sin's value and both derivatives from the operator, which takes its own copy of the
        # numbers where nothing of the submission's runs (install's _formula), asked past every
        # dispatch mode and with the submission's function modes off.
        with no_torch_function(), no_python(python_keys):
            x0 = detach(x)
            if not (is_floating(x0) or is_complex(x0)):
                with below_autograd():
                    return real(x0)  # integers: no gradient to give
            s, d, h = derivatives(x0)
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
