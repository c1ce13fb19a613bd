"""Records the backward passes a call runs, child side, as names and numbers (the parent reads them).

Every backward pass, whatever started it (`y.backward()`, `torch.autograd.grad`, torch.func's grad,
a thread), reaches autograd's engine through one Python object, `Variable._execution_engine`. The
child puts a stand-in there before any student code loads; it passes every call through untouched
and, only while a trace call is armed, first walks the graph from the pass's roots and hangs a
pre-hook and a hook on each node (torch's own debug logging does the same). Each hook reads, at one
sample element, the gradient that arrived, the gradient passed on along each edge, and the node's
saved input (u) where it has one. Each pass also says what its roots and the leaves it reaches held
at that element, whether one leaf had x's size, and whether the primitive's step ran on more than one
number, so that the parent can set aside a pass on numbers of the student's own (backward._of_the_chain).
Nothing here changes a gradient or raises into the student's code: a value that cannot be read (a
vmapped tensor, say) is sent as null, and an empty or meta tensor, which holds no number, as NaN.
A tensor is read as torch's own TensorBase reads it, with torch-function and Python dispatch off: a
subclass of the student's runs none of its Python here (rt181's root whose grad_fn property raised
left its pass unrecorded, and a dual whose detach raised read as unread, each switching the chain's
evidence off), and one that cannot be read so holds no number of the chain's (NaN).

Forward mode leaves no pass: while armed, each dual tensor's primal (forward_ad.make_dual) and each
tangent unpacked from one (the predispatch _unpack_dual that forward_ad.unpack_dual calls) is read at
the sample element instead, both looked up by torch.func's jvp at each call.

Armed for the trace calls, and, on exercises whose function goes beyond its primitive, for every
planned graded call alike (child.Runner.record_calls: steps only, no gradient's numbers), so that the
call the grader reads is not told apart.

The canary's graph for the primitive (sandbox/canary.py: an AddcmulBackward0 over a few ordinary ops) is
shown as the step the student wrote: the kernel lists, while armed, each output it made with its
input, the input's value and the derivative it applied, and the walk folds the ops between them
into one `SinBackward0` (or the exercise's primitive).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import importlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from grader.sandbox.canary import python_dispatch_keys

# Its hooks run inside the submission's backward passes, after it is imported: each builtin they name is
# looked up in a copy made now (child.py says why).
globals()["__builtins__"] = dict(vars(builtins))

MAX_NODES = 48  # nodes hooked per pass: the exercises need about ten
MAX_RUNS = 4  # passes recorded per call
MAX_WALK = 4096  # nodes visited per walk (a student's long graph is cut short, and says so)
MAX_EDGES = 8  # edges shown per node (a torch.cat of many tensors has one per input)
MAX_TANGENTS = 4  # forward mode's tangents read per call


class Recorder:
    """Installed once per child, before the student's file loads; armed only for trace calls."""

    def __init__(self, torch: Any, primitive: str) -> None:
        self.torch = torch
        base = torch._C.TensorBase
        # TensorBase's own reads, bound now (a student's code may rebind torch's names later)
        self.base, self.exact = base, (torch.Tensor, torch.nn.Parameter)
        self.detach_of, self.numel_of, self.storage_of = base.detach, base.numel, base.untyped_storage
        self.keys_of, self._python_key = torch._C._dispatch_keys, torch._C.DispatchKey.Python
        self.grad_fn_of, self.is_meta_of = base.grad_fn.__get__, base.is_meta.__get__
        self.requires_grad_of, self.is_nested_of = base.requires_grad.__get__, base.is_nested.__get__
        self._no_function, self._no_python = torch._C.DisableTorchFunction, torch._C._ExcludeDispatchKeyGuard
        self._python_keys = python_dispatch_keys(torch)
        self.step_name = primitive.capitalize() + "Backward0"  # torch's name for the node we fold into
        self.armed = [False]  # the canary kernel reads this cell
        self.primitive_outputs: list[tuple[Any, Any]] = []  # (node, x), filled by the kernel
        self.runs: list[dict[str, Any]] = []
        self.more = False
        self.passes = 0  # every pass the call ran, recorded or not
        self.index, self.numel = 0, 1
        # Whether hooks read what nodes saved: reading unpacks a saved tensor, and non-reentrant
        # checkpointing lets each be unpacked once (a hunter's honest torch.utils.checkpoint was shown a
        # CheckpointError it never raised while graded); child.py records such a call again without.
        self.read_saved = True
        # Whether hooks read the gradients' numbers: a graded call's passes are recorded for their steps
        # alone (which ops ran, and where the primitive's was taken), which costs less.
        self.numbers = True
        self.tangents: list[float | str | None] = []  # forward mode's: each tangent the call unpacked
        self.duals: list[float | str | None] = []  # and what each dual tensor it made was made of (its primal)
        self._lock = threading.Lock()
        variable = torch.autograd.variable.Variable
        self._engine = variable._execution_engine
        self._stand_in = variable._execution_engine = _Engine(self._engine, self)
        # Forward mode leaves no pass: what it carried to the end is read where it is unpacked, the one
        # way out of a dual tensor (forward_ad.unpack_dual, which torch.func's jvp and jacfwd use, looks
        # it up here at each call). rt172's jvp of sin alone, the chain by hand, was 10/10, never listed.
        predispatch: Any = importlib.import_module("torch._functorch.predispatch")
        self._predispatch, self._unpack = predispatch, predispatch._unpack_dual
        # (each installed as one object, so that `swapped` asks by identity: an object of the student's in
        # its place is never compared, whose __eq__ would be the student's code)
        self._unpacking = predispatch._unpack_dual = self._unpacked
        # And where it began: each dual tensor's primal (forward_ad.make_dual, which torch.func's jvp also
        # looks up at each call). rt174's jvp(cos, (x², ), (2x, )) carried a factor of its own as the seed.
        self._forward_ad = torch.autograd.forward_ad
        self._make = self._forward_ad.make_dual
        self._making = self._forward_ad.make_dual = self._made

    def _unpacked(self, tensor: Any, *args: Any, **kwargs: Any) -> Any:
        primal, tangent = self._unpack(tensor, *args, **kwargs)
        if self.armed[0] and tangent is not None and len(self.tangents) < MAX_TANGENTS:
            self.tangents.append(self.holds(tangent))
        return primal, tangent

    def _made(self, tensor: Any, *args: Any, **kwargs: Any) -> Any:
        if self.armed[0] and len(self.duals) < MAX_TANGENTS:
            self.duals.append(self.holds(tensor))
        return self._make(tensor, *args, **kwargs)

    def remove(self) -> None:
        """Give autograd its own engine back (the in-process self-check, in the student's kernel)."""
        self.torch.autograd.variable.Variable._execution_engine = self._engine
        self._predispatch._unpack_dual = self._unpack
        self._forward_ad.make_dual = self._make

    def record(self, call: Callable[[], Any], index: int, numel: int) -> tuple[Any, dict[str, Any]]:
        """Run `call` with the recorder armed; (what it returned or raised, the passes it ran)."""
        self.runs, self.more, self.passes, self.index, self.numel = [], False, 0, index, numel
        self.tangents, self.duals = [], []
        self.primitive_outputs.clear()
        self.armed[0] = True
        try:
            result = call()
        finally:
            self.armed[0] = False
            self.primitive_outputs.clear()  # let the student's graph go
        return result, {"runs": self.runs, "more_runs": self.more, "passes": self.passes, "tangents": self.tangents,
                        "duals": self.duals, "swapped": self.swapped()}

    def swapped(self) -> bool:
        """Whether the stand-ins that hear the passes and forward mode were taken out (rt175: `Variable.
        _execution_engine = Variable._execution_engine._real` left nothing recorded, and nothing said so).
        A file that puts them back before it returns is not seen: evidence, not proof."""
        return not (self.torch.autograd.variable.Variable.__dict__.get("_execution_engine") is self._stand_in
                    and self._predispatch.__dict__.get("_unpack_dual") is self._unpacking
                    and self._forward_ad.__dict__.get("make_dual") is self._making)

    def begin(self, tensors: Any) -> Callable[[], None] | None:
        """Hook the graph a pass is about to run; returns what takes the hooks off again."""
        with self._lock:
            self.passes += 1
            if len(self.runs) >= MAX_RUNS:
                self.more = True
                return None
            run: dict[str, Any] = {"steps": [], "cut": False, "leaves": [], "roots": []}
            self.runs.append(run)
        try:
            return _Pass(self, run, tensors).hook()
        except Exception:  # noqa: BLE001 - never break a student's backward over a picture
            return None

    def gradient_at(self, t: Any) -> float | str | None:
        """A gradient's value at the sample element, where this recording reads gradients' numbers."""
        return self.at(t) if self.numbers else None

    @contextlib.contextmanager
    def own(self) -> Iterator[None]:
        """Torch-function and Python dispatch off: a tensor is read as TensorBase reads it."""
        with self._no_function(), self._no_python(self._python_keys):
            yield

    def holds(self, tensor: Any) -> float | str | None:
        """What a tensor holds at the sample element; "nan" for one of no elements, which holds no number
        of the chain's (rt178's scratch pass on torch.empty(0), and rt179's empty dual, read as unread,
        had switched the judgement off)."""
        try:
            with self.own():
                # (nor one on the meta device, which holds none at all: rt180's scratch leaf and dual there)
                if self.numel_of(tensor) == 0 or self.is_meta_of(tensor):
                    return "nan"
        except Exception:  # noqa: BLE001 - unreadable: read as nothing
            return self.unread(tensor)
        return self.at(tensor)

    def unread(self, t: Any) -> str | None:
        """What a tensor that cannot be read holds: nothing known (None), where torch's own could not be
        read (a vmapped one); no number of the chain's ("nan"), where it is a subclass of the student's."""
        return None if type(t) in self.exact or not isinstance(t, self.base) else "nan"

    def size_of(self, t: Any) -> int | None:
        """t's number of elements, as TensorBase counts them (None where it cannot)."""
        try:
            with self.own():
                return int(self.numel_of(t))
        except Exception:  # noqa: BLE001
            return None

    def at(self, t: Any) -> float | str | None:
        """t's value at the sample element (its only element when it has one), for the wire."""
        if t is None or not isinstance(t, self.base):
            return None
        try:
            with self.own():
                # A wrapper subclass's (a jagged nested tensor's) numbers are not in its own storage, and reading
                # it as TensorBase crashed the child (hn150): one whose storage cannot be reached is not read.
                # (Only those that dispatch to Python: torch.func's wrappers have no storage of their own
                # either, and read as TensorBase reads them, a jvp's tangents among them.)
                if self.keys_of(t).has(self._python_key):
                    self.storage_of(t).data_ptr()
                if self.is_nested_of(t):  # (a nested tensor's numbers are its components': reshaping one segfaulted)
                    return self.unread(t)
                flat = self.detach_of(t).reshape(-1)
                count = flat.numel()
                if count == 0:
                    return None
                value = flat[self.index if count == self.numel else 0]
                number = float(value.real if value.is_complex() else value)
        except Exception:  # noqa: BLE001 - a vmapped or otherwise unreadable tensor: no number
            return self.unread(t)
        return number if math.isfinite(number) else str(number)


# What a node saved, read where it has it: its input (u), its result, a power's exponent, the other factor.
_SAVED = (("_saved_self", "u"), ("_saved_result", "result"), ("_saved_exponent", "constant"), ("_saved_other", "other"))


class _Engine:
    """Stands in for autograd's engine: the same methods, and run_backward records when armed."""

    def __init__(self, real: Any, recorder: Recorder) -> None:
        self._real = real
        self._recorder = recorder

    def run_backward(self, tensors: Any, *args: Any, **kwargs: Any) -> Any:
        done = self._recorder.begin(tensors) if self._recorder.armed[0] else None
        try:
            return self._real.run_backward(tensors, *args, **kwargs)
        finally:
            if done is not None:
                done()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Pass:
    """One pass: the nodes reachable from its roots, hooked, and the steps they fill in as they run."""

    def __init__(self, recorder: Recorder, run: dict[str, Any], tensors: Any) -> None:
        self.recorder = recorder
        self.run = run
        self.torch = recorder.torch
        # A root is a tensor or a GradientEdge (a node and an output number).
        self.tensors = tuple(tensors) if isinstance(tensors, (tuple, list)) else (tensors,)
        self.roots = [_grad_fn(recorder, t) if isinstance(t, recorder.base) else getattr(t, "node", None)
                      for t in self.tensors]
        edge = self.torch.autograd.graph.get_gradient_edge
        # The canary's output nodes: the step each stands for (its input's node, and the input). The
        # derivative it applied is read from the gradient its ops pass on to that node, never from
        # the kernel (which lists no derivative: a submission can arm the recorder itself).
        self.folded: dict[Any, tuple[Any, Any]] = {}
        for node, x in list(recorder.primitive_outputs):
            if node is not None:
                self.folded[node] = (_below(edge, x, recorder), x)
        self.into_x: dict[Any, list[Any]] = {}  # folded node -> what its ops passed on to x, per edge
        self.through: dict[Any, Any] = {}  # an in-place call's copy node -> its folded node (_in_place)
        self.order: list[Any] = []
        self.index: dict[Any, int] = {}
        self.handles: list[Any] = []
        self.ran: dict[int, int] = {}  # node index -> when it ran
        self.values: dict[int, dict[str, Any]] = {}

    def hook(self) -> Callable[[], None]:
        # What the pass differentiates holds (a chain's u = (x + h)² pass from a leaf h = 0 holds x²: rt178)
        # (a GradientEdge root names a node, no numbers: read as none, as rt180's scratch pass from one was kept)
        self.run["roots"] = [self.recorder.holds(t) if isinstance(t, self.recorder.base) else "nan"
                             for t in self.tensors[:MAX_EDGES]]
        self._walk()
        for i, node in enumerate(self.order[:MAX_NODES]):
            self.handles.append(node.register_prehook(self._before(i, node)))
            self.handles.append(node.register_hook(self._after(i, node)))
            if node in self.folded:
                self._hook_fold(node)
        return self._finish

    def _hook_fold(self, node: Any) -> None:
        """Hook the canary's own nodes that pass a gradient to its input's node (two or three)."""
        below = self.folded[node][0]
        if below is None:
            return
        found = self.into_x.setdefault(node, [])
        stack: list[Any] = [node]
        inside: set[Any] = set()
        while stack and len(inside) < 64:
            current = stack.pop()
            if current in inside:
                continue
            inside.add(current)
            for k, (n, _) in enumerate(current.next_functions):
                if n is below:
                    self.handles.append(current.register_hook(
                        lambda grad_inputs, _, k=k: found.append(self.recorder.gradient_at(grad_inputs[k]))))
                elif n is not None:
                    stack.append(n)

    def _walk(self) -> None:
        queue, seen = collections.deque(n for n in self.roots if n is not None), 0
        while queue and seen < MAX_WALK:
            node = self._in_place(queue.popleft())
            if node in self.index:
                continue
            seen += 1
            self.index[node] = len(self.order)
            self.order.append(node)
            queue.extend(self._next(node))
            self._leaf(node)
        self.run["cut"] = bool(queue) or len(self.order) > MAX_NODES

    def _leaf(self, node: Any) -> None:
        """What a leaf the pass reaches holds, at the sample element (None past MAX_EDGES of them: one
        more unread may be anything). Read for every pass, graded or not: a pass on a tensor of the
        student's own that no number of the chain's reaches is not the chain's (rt175's scratch
        `(w * w).backward()` beside sin's step alone hid that the rest came from a formula)."""
        variable = getattr(node, "variable", None)  # (AccumulateGrad's leaf; no saved tensor is unpacked)
        leaves = self.run["leaves"]
        if variable is None or len(leaves) > MAX_EDGES:
            return
        leaves.append(self.recorder.holds(variable) if len(leaves) < MAX_EDGES else None)
        # (x's size: a leaf of a chain's h = 0 perturbation, or x's copy, holds no number to go by: rt179)
        self.run["sized"] = self.run.get("sized") is True or self.recorder.size_of(variable) == self.recorder.numel

    def _next(self, node: Any) -> list[Any]:
        if node in self.folded:
            below = self.folded[node][0]
            return [below] if below is not None else []
        return [self.through.get(n, n) for n, _ in node.next_functions if n is not None][:MAX_EDGES]

    def _in_place(self, node: Any) -> Any:
        """The node a pass meets, or where it is the canary's in-place call (`y.sin_()`, its kernel's
        `y.copy_(sin(y.clone()))`), the call's folded node, whose input is y's node as it was: the
        student's graph has SinBackward0 there, and the copy's and the clone's nodes were shown as steps
        of the student's own ("CopyBackwards: no formula known, here 0; gradient 1 in, 0 out")."""
        try:
            if _name(node) != "CopyBackwards":
                return node
            (before, _), (made, _) = node.next_functions
            clone = self.folded[made][0] if made in self.folded else None
            if before is None or clone is None or _name(clone) != "CloneBackward0" or \
                    [n for n, _ in clone.next_functions] != [before]:
                return node
        except (ValueError, TypeError):  # (not two edges: a copy_ of the student's own)
            return node
        self.through[node] = made
        self.folded[made] = (before, self.folded[made][1])  # (its ops' gradient reaches y's node through the clone)
        return made

    def _before(self, i: int, node: Any) -> Callable[..., None]:
        at, gradient_at = self.recorder.at, self.recorder.gradient_at

        def prehook(grad_outputs: Any) -> None:
            try:
                self.ran.setdefault(i, len(self.ran))
                found = self.values.setdefault(i, {})
                found["grad_in"] = gradient_at(grad_outputs[0]) if grad_outputs else None
                if node in self.folded:
                    found["u"] = at(self.folded[node][1])
                    # (more numbers than one: no self-test's, whatever element 0 holds; rt179 padded x² with a
                    # number of its own in front, and its pass of cos was set aside as a scratch)
                    found["many"] = (self.recorder.size_of(self.folded[node][1]) or 0) > 1
                    return
                saved = _SAVED if self.recorder.read_saved else ()
                for name, key in saved:
                    if hasattr(node, name):
                        value = getattr(node, name)
                        found[key] = at(value) if hasattr(value, "detach") else _number(value)
                variable = getattr(node, "variable", None)
                if variable is not None:  # AccumulateGrad: what x.grad held before this pass added to it
                    found["held"] = gradient_at(variable.grad)
            except Exception:  # noqa: BLE001 - an unreadable node keeps what was read so far
                pass

        return prehook

    def _after(self, i: int, node: Any) -> Callable[..., None]:
        at = self.recorder.gradient_at

        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            try:
                found = self.values.setdefault(i, {})
                if node in self.folded:
                    return  # what it passed on to x is known once its own ops have run (_finish)
                else:  # one per edge to a node (an input that needs no gradient has none)
                    edges = [g for (n, _), g in zip(node.next_functions, grad_inputs, strict=False) if n is not None]
                    found["grad_out"] = [at(g) for g in edges[:MAX_EDGES]]
            except Exception:  # noqa: BLE001
                pass

        return hook

    def _finish(self) -> None:
        for handle in self.handles:
            handle.remove()
        for node, parts in self.into_x.items():  # the folded steps: what reached x, and the factor
            values = self.values.setdefault(self.index[node], {})
            out = sum(parts) if parts and all(isinstance(v, float) for v in parts) else None
            incoming = values.get("grad_in")
            values["grad_out"] = [out]
            if isinstance(out, float) and isinstance(incoming, float) and incoming != 0.0:
                values["local"] = out / incoming
        ran = sorted(self.ran, key=self.ran.__getitem__)
        position = {node_index: k for k, node_index in enumerate(ran)}
        steps = []
        for node_index in ran:
            node = self.order[node_index]
            name = self.recorder.step_name if node in self.folded else _name(node)
            found = dict(self.values.get(node_index, {}))
            outs = found.pop("grad_out", [])
            # An edge to a node that did not run ends the pass there (autograd.grad returns it): -1.
            below = self._next(node)
            edges = [(position.get(self.index.get(n, -1), -1), outs[k] if k < len(outs) else None)
                     for k, n in enumerate(below)]
            # (one node below both edges, u·u: hn126's autograd.grad of cos(t * t) on a leaf, whose
            # AccumulateGrad never runs, was shown one edge's half of 2u)
            one = len(below) > 1 and all(n is below[0] for n in below)
            steps.append({**found, "op": name, "next": [e[0] for e in edges], "grad_out": [e[1] for e in edges],
                          **({"one_input": True} if one else {})})
        self.run["steps"] = steps


def _below(edge: Callable[[Any], Any], x: Any, recorder: Recorder) -> Any:
    """The node x's gradient goes to (its AccumulateGrad for a leaf); None where there is none or
    it cannot be had (a tensor torch.func wrapped)."""
    try:
        with recorder.own():
            return edge(x).node if recorder.requires_grad_of(x) else None
    except Exception:  # noqa: BLE001
        return None


def _grad_fn(recorder: Recorder, t: Any) -> Any:
    """The node that made t, as TensorBase reads it (a subclass's own grad_fn never runs: rt181)."""
    try:
        with recorder.own():
            return recorder.grad_fn_of(t)
    except Exception:  # noqa: BLE001 - no node then, as for a tensor no pass made
        return None


def _name(node: Any) -> str:
    try:
        return str(node.name()).removeprefix("torch::autograd::")[:60]
    except Exception:  # noqa: BLE001
        return "?"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
