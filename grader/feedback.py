"""Words a student reads: how to show an input, a value, an error, and what a mistake likely is.

Checks decide; this module only phrases. Every hint names the concrete mistake and a fix.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from grader import verdict
from grader.canary import Secret
from grader.exercise import Exercise
from grader.grids import GridCase
from grader.observations import CaseResult, ErrorInfo, Returned
from grader.verdict import Judged, values_of


@dataclass(frozen=True)
class Cause:
    key: str
    text: str
    advice: str
    exercise: str = ""  # the other exercise whose answer the values are (key "other_exercise")
    factor: float | None = None  # key "scaled": the values are this times the derivative


LAYOUT_WORDS = {
    "plain": "",
    "strided": ", a non-contiguous view",
    "requires_grad": " that already requires grad",
    "nonleaf": " that is the result of another operation, not a leaf",
}


def number(value: float, dtype: str | None = "float64") -> str:
    if np.isnan(value) or np.isinf(value):
        return str(value)
    if dtype in ("float32", "float16", "bfloat16"):
        return str(np.float32(value))
    return repr(float(value))


def listed(items: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    names = list(items)
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def describe_tensor(case: GridCase) -> str:
    if not case.shape:
        return f"a 0-d {case.dtype} tensor on {case.device}{LAYOUT_WORDS[case.layout]}"
    shape = "(" + ", ".join(map(str, case.shape)) + ("," if len(case.shape) == 1 else "") + ")"
    return f"a {case.dtype} tensor of shape {shape} on {case.device}{LAYOUT_WORDS[case.layout]}"


def show_input(case: GridCase, limit: int = 6) -> str:
    flat = case.values.ravel()
    if flat.size == 0:
        return "an empty tensor"
    text = ", ".join(number(v, case.dtype) for v in flat[:limit]) + (", …" if flat.size > limit else "")
    return text if not case.shape else f"[{text}]"


def input_words(case: GridCase) -> str:
    """'x = [0.5, 1.0] (a float32 tensor of shape (2,) on cpu)'."""
    return f"x = {show_input(case)} ({describe_tensor(case)})"


def value_example(case: GridCase, got: np.ndarray, want: np.ndarray, formula: str, dtype: str | None) -> str:
    """'At x = …, you returned …; cos(x) is ….' at the element that is furthest off."""
    got = got.reshape(case.shape) if got.size == case.values.size else got
    error = np.abs(got - want)
    index = int(np.argmax(np.where(np.isnan(error), np.inf, error)))
    position = "" if not case.shape else f" (element {[int(i) for i in np.unravel_index(index, case.shape)]})"
    x = case.values.ravel()[index]
    # "cos(0.5) is …" reads best; a longer formula is named, not filled in ("-2x·sin(x²)" has x twice).
    expected = formula.replace("x", number(x, case.dtype), 1) if formula.count("x") == 1 else f"the reference {formula}"
    return (f"At x = {number(x, case.dtype)}{position}, in {describe_tensor(case)}, your function returned "
            f"{number(got.ravel()[index], dtype)}; {expected} is {number(want.ravel()[index], case.dtype)}.")


def returned_words(r: Returned) -> str:
    """What came back, for anything that is not a comparable tensor."""
    if r.kind == "none":
        return "returned None"
    if r.kind == "error" and r.error:
        return f"raised {r.error.headline()}{_where(r.error)}"
    if r.kind == "number":
        return f"returned a Python {r.type_name or 'number'}"
    if r.kind == "ndarray":
        return "returned a numpy array"
    if r.kind == "wrapped" and r.held == 2:
        return (f"returned a {r.type_name} of two values: a {r.dtype} tensor of shape {tuple(r.shape or ())}, read "
                f"as your answer, beside {r.text or 'another value'}")
    if r.kind == "wrapped":
        return f"returned a {r.type_name} holding one {r.dtype} tensor of shape {tuple(r.shape or ())}"
    if r.kind == "list":
        return f"returned a Python {r.type_name} of {'tensors' if r.text == 'tensors' else 'numbers'}"
    if r.kind == "other" and r.type_name in ("int", "float", "bool"):
        return f"returned a Python {r.type_name} that no float can hold"  # (10 ** 400: float() overflows)
    if r.kind == "other":
        name = r.type_name or "value"
        return f"returned {'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    return f"returned a {r.dtype} tensor of shape {tuple(r.shape or ())} on {r.device}"


def _where(error: ErrorInfo) -> str:
    if not error.frames:
        return ""
    frame = error.frames[-1]
    return f" at line {frame.line} of your file (`{frame.code}`)" if frame.code else f" at line {frame.line}"


# ---- likely causes -------------------------------------------------------------------------------

_ERROR_HINTS: tuple[tuple[str, str, str, str], ...] = (
    # (hn132's jacobian(torch.sin, x).diag(), right for a 1-d x, was told to read the traceback)
    (r"diag\(\): Supports 1D or 2D tensors", "jacobian_diag",
     "torch.diag reads a diagonal of a matrix, and the Jacobian of {value} is one only for a 1-d x: for a 0-d x "
     "it is one number, and for a 2-d x it has four dimensions (x.shape + x.shape).",
     "Differentiate the sum instead, torch.autograd.grad(y.sum(), x), which gives the Jacobian's diagonal for "
     "any shape of x, since {value} acts on each element alone."),
    # (ux110: an unconditional .cuda() was told to run the function itself and read the traceback,
    # which on the student's GPU machine shows nothing wrong)
    (r"Torch not compiled with CUDA enabled|No CUDA GPUs are available|Found no NVIDIA driver|"
     r"CUDA driver initialization failed|no CUDA-capable device", "no_gpu",
     "your code moves a tensor to a GPU (.cuda(), .to('cuda'), device='cuda'), and the grader runs this input "
     "where there is none: on your machine it works only because you have one.",
     "Keep x's device: make new tensors with torch.zeros_like(x), or device=x.device, and never move x."),
    (r"Cannot insert a Tensor that requires grad as a constant", "jit_trace",
     "torch.jit.trace kept a tensor that autograd made while tracing as a constant. To check that your "
     "answer comes through autograd, the grader gives torch.{primitive} a graph of its own, and a trace of a "
     "function that itself calls autograd (create_graph=True) meets it: the same trace works on your machine.",
     "Call autograd directly in {function}, with no torch.jit.trace around it (torch.func's grad, make_fx "
     "and torch.compile work here)."),
    # (a hunter's logging handler added on every call, and a Process per call, were told to run their
    # code themselves and read the traceback: at home nothing limits them)
    (r"\[Errno 24\]|Too many open files", "open_files",
     "your code held more files open at once than the sandbox allows (a limit of its own, pipes included): a file, "
     "logging handler or pipe opened on every call and never closed, or a process started (which the sandbox "
     "refuses: threads work).",
     "Close what you open (with open(...) as f:), add a logging handler once rather than on every call, and use "
     "threads (concurrent.futures.ThreadPoolExecutor) rather than processes."),
    (r"^BrokenPipeError", "output_flood",
     "your code printed more than a GiB, so the grader stopped reading what it prints, and the next print "
     "failed.",
     "Print a few lines to check your work, not a line for every element or every call."),
    # (a hunter's backward(torch.ones(1)) on 25 values was told to read the traceback)
    (r"Mismatch in shape: grad_output\[0\] has a shape of", "backward_shape",
     "the gradient handed to backward() does not have y's shape: it must hold one number for each element of y.",
     "Call y.sum().backward(), or y.backward(torch.ones_like(y))."),
    # (hn134: torch.dot(x, x) for ‖x‖² on a 0-d x was told to run it and read the traceback)
    (r"1D tensors expected|both arguments to (matmul|dot) need to be at least 1D|inconsistent tensor size|"
     r"mat1 and mat2 shapes cannot be multiplied|Expected size for first two dimensions of batch2|"
     r"vector \+ matrix @ vector expected", "vectors_only",
     "torch.dot, torch.mv, torch.matmul and @ take vectors (1-d tensors) or matrices of matching shapes, and x "
     "here may have any shape, from 0-d (a single number) to 3-d.",
     "Use operations that work element by element on any shape: x * x, then .sum() to add up every element "
     "(torch.dot(x, x) of a vector is (x * x).sum())."),
    (r"grad can be implicitly created only for scalar outputs", "nonscalar_backward",
     "backward() or torch.autograd.grad was given a y with more than one element; autograd needs to know "
     "what to multiply the gradient by.",
     "Call y.sum().backward(), or y.backward(torch.ones_like(y)), then return x.grad (with "
     "torch.autograd.grad: pass grad_outputs=torch.ones_like(y))."),
    # (ux113: torch.func's own forms of these were told only to run the file and read the traceback)
    (r"Expected f\(\*args\) to return a scalar Tensor", "func_grad_nonscalar",
     "torch.func.grad differentiates a function that returns one number, and {value} returns one for "
     "each element of x.",
     "Differentiate the sum: torch.func.grad(lambda x: {summed})(x) (each element's derivative, "
     "since the elements do not mix)."),
    (r"Got in_dim=0 for some input, but that input is a Tensor of dimensionality 0", "vmap_scalar",
     "vmap maps over x's first dimension, and a 0-d x (a single number) has none (an x of 2 or 3 dimensions "
     "would map over its rows, not its numbers).",
     "Map over the numbers: torch.func.vmap(torch.func.grad({differentiable}))(x.reshape(-1)).reshape(x.shape), "
     "or differentiate the sum: torch.func.grad(lambda x: {summed})(x)."),
    (r"^TypeError: expected TensorOptions\(dtype=float,", "float_tensor",
     "torch.FloatTensor(x) takes only float32 tensors, and this x is not float32.",
     "Make the leaf with x.detach().clone().requires_grad_(True), which keeps x's dtype, and return the "
     "gradient in x's dtype."),
    # (hn109: torch.sin(x.data) and torch.sin(x.detach()) after making the leaf were told only that x
    # never required grad, and to make the leaf they had made)
    (r"does not require grad and does not have a grad_fn", "no_requires_grad",
     "autograd was asked for a gradient of something it did not record: x never had requires_grad=True, "
     "{value} was computed from x.data or x.detach() (which autograd does not follow back to x), or with "
     "gradients off (inside torch.no_grad() or torch.inference_mode(), or after torch.set_grad_enabled(False)).",
     "Start from x = x.detach().clone().requires_grad_(True), then compute {value} from that x itself (not "
     "x.data or x.detach()) with gradients on (outside torch.no_grad(); wrap it in torch.enable_grad() if they "
     "may be off; torch.inference_mode() cannot be undone inside it, so take off that decorator or block)."),
    (r"can only change requires_grad flags of leaf variables", "requires_grad_nonleaf",
     "requires_grad was set (z.requires_grad = True, or requires_grad_()) on a tensor that is the result of other "
     "operations, which autograd allows only on a leaf.",
     "Make a fresh leaf first: x = x.detach().clone().requires_grad_(True)."),
    (r"a leaf Variable that requires grad is being used in an in-place operation", "inplace_leaf",
     "an in-place operation (like sin_ or +=) changed a tensor that requires grad.",
     "Use out-of-place operations: y = {value}."),
    # (a hunter's notebook export kept `get_ipython().run_line_magic('matplotlib', 'inline')`, and was
    # told only that a name was used before it was defined)
    (r"name 'get_ipython' is not defined", "notebook_magic",
     "a line left from a notebook export: get_ipython() exists only inside Jupyter or IPython (a magic such "
     "as %matplotlib inline becomes get_ipython().run_line_magic(...) in a .py file).",
     "Delete the get_ipython(...) lines (the notebook's magics) from the file you submit."),
    (r"Can't call numpy\(\) on Tensor that requires grad", "numpy_requires_grad",
     "numpy() was called on a tensor that autograd is tracking (to print it, to copy it, or to return it).",
     "Call .detach().numpy() where you need numpy's numbers (printing or plotting), copy a tensor with "
     "x.detach().clone(), and return the torch tensor x.grad itself, not a numpy array."),
    # (hn149: x.view(-1) of a non-contiguous x, as x.t() is, was told to run it and read the traceback)
    (r"view size is not compatible with input tensor's size and stride", "view_noncontiguous",
     ".view() was called on a tensor whose elements are not laid out one after another in memory (x may be "
     "a transposed or sliced tensor, and clone() keeps that layout), which .view() cannot reshape.",
     "Use .reshape() (or .flatten()), which copies where it must, or work on x's own shape without reshaping."),
    (r"backward through the graph a second time", "backward_twice",
     "backward() ran twice through the same graph.",
     "Compute y = {value} again for each backward(), or call backward() only once."),
    (r"One of the differentiated Tensors appears to not have been used in the graph", "unused_input",
     "torch.autograd.grad was asked about a tensor that the output does not depend on.",
     "Compute y from the very tensor you pass to torch.autograd.grad."),
    # (hn109: sum(torch.sin(x)) and torch.ones(len(x)) on a 0-d x were told to read the traceback)
    (r"iteration over a 0-d tensor", "zero_d_iteration",
     "Python's sum() or a for loop went over x's elements, and a 0-d tensor (a single number) has none to "
     "go over.",
     "Use torch's own operations on the whole tensor: y.sum() rather than sum(y), and no loop over x."),
    (r"len\(\) of a 0-d tensor", "zero_d_len",
     "len() was called on a 0-d tensor (a single number), which has no length.",
     "Make tensors in x's or y's shape with torch.ones_like(y) (or x.numel() for a count), not len(x)."),
    (r"must be real number, not Tensor", "math_module",
     "a function from the math module was given a whole tensor.",
     "Use torch.{primitive} on the tensor; the math module works on single Python numbers only."),
    # (ux111's torch.tensor(float(x), requires_grad=True) was told to use torch.sin, which it did)
    (r"only one element tensors can be converted", "one_number",
     "float(), int() or .item() was given a tensor of several numbers: they take one number only, and x "
     "may hold any number of them.",
     "Work on the whole tensor: start from x = x.detach().clone().requires_grad_(True) (not "
     "torch.tensor(float(x))), and return x.grad as a tensor, not .item()."),
    (r"(Expected all tensors to be on the same device|device type)", "device_mix",
     "tensors on different devices were combined.",
     "Create every tensor you need on x.device (torch.ones_like(x), not torch.ones(n))."),
    (r"(can't allocate memory|out of memory|MemoryError)", "memory",
     "the function ran out of memory.",
     "Work on x itself; do not build tensors much larger than x."),
    (r"(No space left on device|File too large|Disk quota exceeded)", "disk",
     "your code wrote more to files than the sandbox allows (64 MiB per file, 256 MiB and 1,000 files in all).",
     "Do not write files: compute the derivative in memory and return it."),
    # (rt129: a data file read inside the function was told to read the traceback; at import the load
    # check says the same as this)
    (r"^FileNotFoundError: ", "missing_file",
     "the grader runs your file alone, in an empty folder of its own: files beside it on your machine "
     "(data, settings) are not there.",
     "Put what your function reads into the file itself (a list or a dict), or make it in code."),
    (r"Read-only file system", "read_only",
     "something wrote outside your file's own folder, which the sandbox keeps read-only: multiprocessing "
     "does, for the semaphores of its pools and locks (of threads too: multiprocessing.pool.ThreadPool), where "
     "the grader's machine cannot give the sandbox a /dev/shm of its own; graded code may not start processes "
     "either.",
     "Compute the derivative with torch alone; for threads use concurrent.futures.ThreadPoolExecutor or "
     "threading.Thread, which need no semaphore of multiprocessing's."),
    (r"(Operation not permitted|Permission denied|PermissionError)", "sandbox",
     "the grader's sandbox refused it: graded code may not start processes (multiprocessing and process "
     "pools included), use the network, set signal handlers (signal.signal, for an alarm say), or touch "
     "files outside its own folder.",
     "Compute the derivative with torch alone (threads are fine); nothing else is needed."),
    (r"takes \d+ positional arguments? but \d+ (was|were) given|missing \d+ required positional argument",
     "signature", "{function} must take exactly one argument, the tensor x.",
     "Define it as def {function}(x): …"),
)


_TENSOR_NAMES = ("grad", "backward", "requires_grad_", "requires_grad", "detach", "clone", "sin", "sum",
                 "numpy", "item", "zero_", "grad_fn", "is_leaf")


# What a submission that inspects autograd's graph shows: the canary gives the primitive a graph of
# its own (sandbox/canary.py), whose node is AddcmulBackward0 and whose saved tensors and edges are
# not the primitive's. An attribute of a node read on the failing line, or a message naming the
# canary's node (not an in-place error, which names it too): a red team's helper named grad_fn, and
# a NameError of it, were told they inspected the graph.
_GRAPH_READ = re.compile(r"\.(grad_fn|next_functions|_saved_\w+|variable)\b")
_GRAPH_MESSAGE = re.compile(r"^'?(AddcmulBackward0|CopysignBackward0)'?( object has no attribute|$)|"
                            r"^'NoneType' object has no attribute 'variable'")


# A line of the student's that starts a process, or makes what multiprocessing makes a semaphore for.
# Raised there, whatever the error says is how the sandbox's refusal surfaced: a red team's honest
# spawn Pool got "No space left on device" (its semaphore, in the child's 1 MiB /dev/shm) and was told
# it wrote too much to files.
_STARTS_A_PROCESS = re.compile(r"\b(Pool|ThreadPool|Process|ProcessPoolExecutor|Popen|Manager|Queue|JoinableQueue|"
                               r"SimpleQueue|Lock|RLock|Semaphore|BoundedSemaphore|Event|Condition|Barrier|Value|"
                               r"Array)\s*\(|\bsubprocess\.|\bos\.(system|fork|forkpty|popen|posix_spawnp?|"
                               r"spawn\w*|exec\w*)\s*\(")
_OS_ERRORS = ("OSError", "PermissionError", "BlockingIOError", "BrokenProcessPool")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def graph_inspection(ex: Exercise) -> Cause:
    """Why code that reads autograd's graph nodes fails here and not at home: the canary's graph is
    not torch's own (sandbox/canary.py). A node hook's gradients (grad_fn.register_hook) were None or
    zeros, its next_functions None, and the student was told of a missing return (rt141)."""
    node = ex.primitive.capitalize() + "Backward0"
    return Cause("graph_inspection", "Likely cause: your code reads autograd's graph (grad_fn, its name, "
                 "next_functions, saved tensors, or a hook on one of its nodes). To check that your answer comes "
                 f"through autograd, the grader gives torch.{ex.primitive} a graph of its own: its node is "
                 f"AddcmulBackward0, with three inputs, not {node} with x alone, and its saved tensors and "
                 "next_functions differ from torch's own, so what works on your machine fails here.",
                 f"Take the gradient from x itself, not from a node of the graph: x.grad after backward(), "
                 f"torch.autograd.grad(y.sum(), x), or a hook on x (x.register_hook); look at the graph's nodes "
                 f"in your own notebook, not inside {ex.function}.")


# numpy's functions that only copy or keep a tensor's numbers (the plain numpy() slip), not its math
_NUMPY_COPIES = frozenset({"array", "asarray", "asanyarray", "copy", "save", "savetxt", "savez"})


# The same errors' words where the exercise's function is one number of the whole x (sin(cos(‖x‖²+1))), whose
# gradient mixes the elements: the words above map over or sum an elementwise function's numbers
_WHOLE_VECTOR = {
    # (y.sum() of an elementwise y is the elementwise slip: ux114's followed the advice from 3.74 to 1.0)
    "nonscalar_backward": ("backward() was given a y with more than one element, but {written} is one number for the "
                           "whole vector x: a sum (or norm) is missing, so y holds a value for each element.",
                           "Compute the one number, y = {value}, then y.backward(): do not add .sum() to a y with a "
                           "value for each element."),
    "jacobian_diag": ("the Jacobian of {value}, which is one number for the whole x, is its gradient, of x's own "
                      "shape: torch.diag reads a diagonal of a matrix, and there is none to read.",
                      "Return the Jacobian itself (torch.autograd.functional.jacobian(f, x) has x's shape here), or "
                      "compute y = {value} from x and return torch.autograd.grad(y, x)[0]."),
    "func_grad_nonscalar": ("torch.func.grad differentiates a function that returns one number, and the function "
                            "you gave it returns one for each element of x, where {value} is one number for the "
                            "whole x: a sum (or norm) is missing.",
                            "Differentiate the whole function of x: torch.func.grad(lambda x: {value})(x)."),
    "vmap_scalar": ("vmap maps over x's first dimension, and a 0-d x (a single number) has none; and {value} is one "
                    "number for the whole x, so its gradient is not taken one element (or one row) at a time.",
                    "Differentiate the whole function of x, with no vmap: torch.func.grad(lambda x: {value})(x)."),
}


def explain_error(error: ErrorInfo, ex: Exercise) -> Cause:
    text = f"{error.type}: {error.message}"
    value = in_torch(ex.value)
    # (the exercise's function as code to hand torch.func: torch.sin for sin(x), else a lambda; and its sum, with no
    # brackets a single call does not need: hn154 read `lambda x: torch.sin(x)` and `(torch.sin(x)).sum()`)
    alone = re.fullmatch(r"(torch\.\w+)\(x\)", value)
    names = {"function": ex.function, "primitive": ex.primitive, "value": value, "written": ex.value,
             "differentiable": alone.group(1) if alone else f"lambda x: {value}",
             "summed": f"{value}.sum()" if _one_call(value) else f"({value}).sum()"}
    last = error.frames[-1].code if error.frames else ""
    # Only an OSError (threading's locks, queues and events never raise one: one raised on such a line
    # is multiprocessing's), on a line that makes one outside its strings, or through the modules the
    # child names, whatever the line calls them (hn109's alias of Pool and a DataLoader's workers were
    # told of files). rt129: an honest mistake inside a ThreadPool's or a DataLoader's call of the
    # student's code, and `print("Value(x) =", open(...))`, were told of processes.
    if error.type in _OS_ERRORS and (error.via or _STARTS_A_PROCESS.search(_QUOTED.sub("", last))):
        loader = "torch.utils.data" in error.via
        return Cause("processes", "Likely cause: this line starts another process"
                     f"{' (a DataLoader with num_workers > 0 starts one per worker)' if loader else ''}, or makes "
                     "one of multiprocessing's pools, queues or locks (each needs a semaphore of its own), which the "
                     "sandbox refuses: graded code runs in one process, and the error is how that refusal surfaced.",
                     ("Load in this process: DataLoader(..., num_workers=0), its default. " if loader else "")
                     + "Compute the derivative with torch alone, in this process; for threads use "
                     "concurrent.futures.ThreadPoolExecutor or threading.Thread, which need nothing of "
                     "multiprocessing's.")
    written = re.search(r"Read-only file system: '([^']{1,200})'", text)
    if written and not written.group(1).startswith("/dev/shm"):
        # A hunter's plot saved to /tmp/cos_square.png at import was told of multiprocessing's semaphores.
        path = written.group(1) if len(written.group(1)) <= 80 else written.group(1)[:77] + "..."
        return Cause("read_only", f"Likely cause: your code wrote to {path}, outside your file's own folder: the "
                     "sandbox lets graded code write only there.",
                     "Write files beside your own, by a relative name (plt.savefig('plot.png')) or in "
                     "tempfile.gettempdir(), or write none: the grader needs only your function.")
    # (np.linalg.norm too: hn153's was told to call .detach().numpy(), which leaves autograd)
    numpy_call = re.search(r"\b(np|numpy)\.(\w+(?:\.\w+)*)\s*\(", _QUOTED.sub("", last)) \
        if "Can't call numpy()" in text else None
    # (not where the line asks for the numbers itself: rv46's print of np.round(x.numpy(), 3), told to use torch.round,
    # needs .detach() alone)
    if numpy_call and numpy_call.group(2) not in _NUMPY_COPIES and ".numpy(" not in last:
        # (hn149: np.sin(x) and np.log(x**2) on the leaf were told to call .detach().numpy(), which leaves autograd)
        torch_name = f"torch.{numpy_call.group(2)}"
        return Cause("numpy_function", f"Likely cause: {numpy_call.group(0).rstrip('( ')}() is numpy's, which works "
                     "on numpy's arrays: handed a tensor that autograd tracks, it asks for its numbers, and autograd "
                     "cannot follow a computation done in numpy.",
                     f"Use torch's own function on the tensor ({torch_name}, where torch has one of that name), so "
                     "that autograd records it; .detach().numpy() would give numbers autograd no longer follows.")
    for pattern, key, cause, advice in _ERROR_HINTS:
        if re.search(pattern, text):
            if key in _WHOLE_VECTOR and not ex.elementwise:
                # (hn153: sin_cos_norm's files were told to map torch.sin over the numbers, or that the function
                # acts on each element alone, which mixes them all)
                cause, advice = _WHOLE_VECTOR[key]
            return Cause(key, "Likely cause: " + cause.format(**names), advice.format(**names))
    if error.type in ("SystemExit", "KeyboardInterrupt"):
        return Cause("exit", f"Likely cause: your function raised {error.type} (sys.exit, exit() or a raise).",
                     "Return a value instead of exiting; the grader calls your function many times.")
    typo = re.search(r"has no attribute '(\w+)'", error.message)
    owner = re.match(r"'([\w.-]+)' object has no attribute", error.message)
    if error.type == "NameError":
        return Cause("name", "Likely cause: a name is used before it is defined (a typo, or a missing import).",
                     "Check the spelling, and import torch at the top of your file.")
    # Before the tensor-method slips: a helper's y.grad_fn(ones).detach() failed on the tuple the
    # canary's node returns, and was told of Python's sum() and .item().
    if _GRAPH_MESSAGE.search(error.message.strip()) or (
            error.type in ("AssertionError", "AttributeError", "IndexError", "TypeError") and _GRAPH_READ.search(last)):
        # An honest-file hunter's asserts on y.grad_fn.name() == "SinBackward0", its next_functions and
        # its _saved_self failed with "Run it yourself ... and read the traceback", which shows nothing.
        return graph_inspection(ex)
    # (any name on None: x.grad.data, .cpu(), .view_as(x) were told ".data does not exist. Did you mean
    # .detach?", where x.grad was None, hn120)
    if error.type == "AttributeError" and typo and owner and (typo.group(1) in _TENSOR_NAMES or
                                                             owner.group(1) == "NoneType") and \
            owner.group(1) not in ("Tensor", "Parameter"):
        return _not_a_tensor(owner.group(1), typo.group(1), last)
    module = re.match(r"module '([\w.]+)' has no attribute", error.message)
    if error.type == "AttributeError" and typo and module and module.group(1).split(".")[0] != "torch":
        # (hn123: D2L 0.17's IPython.display.set_matplotlib_formats, gone from newer IPython, was told
        # to fix a typo, "x.grad holds the gradient after backward()")
        return Cause("attribute", f"Likely cause: the grader's {module.group(1)} has no {typo.group(1)}: a name "
                     "misspelt, or one that newer versions removed or moved (older course notebooks use some).",
                     f"Check {module.group(1)}'s documentation for its name now, or leave that line out: "
                     f"{ex.function} needs only torch.")
    if error.type == "AttributeError" and typo:
        close = difflib.get_close_matches(typo.group(1), _TENSOR_NAMES, n=1)
        guess = f" Did you mean .{close[0]}?" if close else ""
        return Cause("attribute", f"Likely cause: .{typo.group(1)} does not exist.{guess}",
                     f"Fix the name{' to .' + close[0] if close else ''}; x.grad holds the gradient after backward().")
    return Cause("exception", "Your function raised an exception on this input.",
                 "Run it yourself on the input above and read the traceback.")


def _not_a_tensor(kind: str, name: str, code: str = "") -> Cause:
    """A right name used on something that is not a tensor ("'int' object has no attribute
    'backward'" is Python's sum() of an empty tensor, not a misspelt .backward)."""
    if kind in ("builtin_function_or_method", "method", "function", "method-wrapper"):
        return Cause("not_a_tensor", f"Likely cause: .{name} was used on a method itself, not on what it returns: "
                     "a call's brackets are missing (y.sum.backward() where y.sum().backward() was meant).",
                     "Add the brackets: y.sum().backward().")
    if kind == "NoneType" and name in ("run_line_magic", "run_cell_magic", "magic", "system", "getoutput",
                                       "user_ns", "kernel", "config"):
        # (hn123: IPython.get_ipython() is None where no IPython shell runs, as in the grader)
        return Cause("notebook_magic", "Likely cause: get_ipython() from the IPython package returns None where no "
                     "IPython shell runs, as where the grader runs your notebook; the get_ipython() a cell calls "
                     "without importing it is the grader's stand-in, which runs magics as Jupyter does.",
                     "Call get_ipython() without importing it (not IPython.get_ipython() or `from IPython import "
                     "get_ipython`), or write the magic as a line of its own (%load_ext autoreload).")
    on_the_gradient = f".grad.{name}" in code.replace(" ", "")
    if kind == "NoneType" and name in ("zero_", "detach_", "requires_grad_") and on_the_gradient:
        # (the gradient's own: "grad" alone is in requires_grad_, and a helper that returned None was told to
        # leave the line out, rv41)
        # (hn136: the book's x.grad.zero_() above the first backward() was told to call backward() on a line of
        # its own, which it did)
        return Cause("not_a_tensor", f"Likely cause: x.grad is None until a backward pass reaches x, so .{name} "
                     "before the first backward() has nothing to work on (the book zeroes a gradient between two "
                     "passes, once it exists).",
                     "Leave that line out: a fresh leaf in each call, x = x.detach().clone().requires_grad_(True), "
                     "starts with no gradient (or set x.grad = None, which always works).")
    if kind == "NoneType" and name == "requires_grad_" and ".grad" not in code:
        # (rv41: a helper of the student's without its return, then t.requires_grad_(True); no gradient in sight)
        return Cause("not_a_tensor", "Likely cause: .requires_grad_ was used on None, not a tensor: a function "
                     "that ends without a `return` gives None (a helper of yours, say), and so do in-place list "
                     "methods such as .append.",
                     "Check where that value was made: return the tensor from your helper, or make it on the "
                     "line itself, x = x.detach().clone().requires_grad_(True).")
    if kind == "NoneType":
        return Cause("not_a_tensor", f"Likely cause: .{name} was used on None, not a tensor: x.grad is None until a "
                     "backward pass reaches x, and backward() itself returns None (y.backward().grad fails).",
                     "Call backward() on a line of its own, then read x.grad (and zero it only once it "
                     "exists: x.grad = None always works).")
    words = {"int": "a Python int", "float": "a Python float", "list": "a list", "tuple": "a tuple",
             "ndarray": "a NumPy array"}.get(kind, f"a {kind}")
    # (hn109: math.sin on a 0-d tensor gives a Python float, and was told of sum(), float() and .item())
    return Cause("not_a_tensor", f"Likely cause: .{name} was used on {words}, not a tensor (Python's sum() of an "
                 "empty tensor is the int 0, the math module's functions (math.sin) give a Python float, and "
                 "float(), .item() or .tolist() leave torch).",
                 "Keep the value a torch tensor: torch's own y.sum() rather than sum(y), and no .item() or "
                 "float() on the way.")


def explain_values(x: np.ndarray, got: np.ndarray, truth: np.ndarray, function: np.ndarray, ex: Exercise,
                   tolerance: float, remembered: np.ndarray | None = None,
                   mistakes: list[np.ndarray] | None = None) -> Cause | None:
    """Name what the returned values are, when they are something recognisable. `truth` is the
    reference and `function` the function's own values at the same points (NaN where a function
    of a whole vector has no value per element); `remembered`, what autograd gave there on a call
    under the secret, which a plain call returns only if the function kept it from that call;
    `mistakes`, the values of each of the exercise's classic slips (Exercise.mistakes) there."""
    if got.size == 0 or not np.all(np.isfinite(got)):
        return None
    slack = max(tolerance, 1e-6) * 10
    formula = ex.formula

    def like(values: np.ndarray) -> bool:
        return _alike(got, values, slack)

    candidates = [
        ("primitive", function, f"your values equal {_named(ex.value)} itself, the function rather than its "
         "derivative.", "Did you return y instead of x.grad? After y.sum().backward(), the derivative is in x.grad."),
        ("identity", x, "your values equal x itself.", "Return x.grad after calling backward(), not x."),
        ("x_times", x * truth, f"your values equal x·{formula}: y.backward(x) uses x as the incoming gradient.",
         "Call y.sum().backward() or y.backward(torch.ones_like(y)) instead."),
        # (every failing number negative in the reference, and positive back: a grid also holds positive
        # ones, which a negated gradient would fail too, so this is a size without its sign; hn108's
        # t.grad.norm() was told its sign was flipped)
        ("absolute", np.abs(truth) if truth.size and np.all(truth < 0) else np.full_like(truth, np.nan),
         f"your values are the size of {formula} without its sign: where the derivative is negative they came back "
         "positive, as .norm(), abs() or the square root of a square give.",
         "Return the gradient itself, x.grad, with its sign and its shape (no .norm() or abs())."),
        ("negated", -truth, f"your values are {formula[1:] if formula.startswith('-') else '-' + formula}: the "
         "sign is flipped (a negated gradient, or the derivative of the function at -x).",
         f"Differentiate {_named(ex.value)} itself, at x, and return the gradient as it is."),
        ("zeros", np.zeros_like(x), "your values are all zero.",
         "Return x.grad after y.sum().backward() (did you zero the gradient before returning it?)."),
        ("ones", np.ones_like(x), "your values are all one: that is the incoming gradient, not the derivative.",
         "Return x.grad, the gradient with respect to x."),
    ]
    if remembered is not None and np.all(np.isfinite(remembered)) and _each_one_of(got, remembered, truth, slack, x):
        # An honest-file hunter's cache keyed by the input's bytes showed 0.726 for cos(0), a number
        # the student could never reproduce, and the advice to compare with torch.cos. A cache per
        # number mixes the two within one input: numbers first met on a plain call are right.
        return Cause("remembered", "Likely cause: these are the values autograd gave for these very inputs on an "
                     "earlier call, one where we had swapped the derivative of "
                     f"{ex.primitive} for a secret one (see the autograd check): your function remembers "
                     "answers between calls (a cache keyed by the input, say).",
                     "Compute the derivative afresh on every call, with no answers kept from earlier calls.")
    if ex.value == "sin(x)":  # the classic slip of this exercise: the derivative of cos instead
        # (or autograd applied twice: ux113's create_graph=True and a second grad were told of cos only)
        candidates.insert(5, ("second", -np.sin(x), "your values are -sin(x): the second derivative of sin(x) "
                              "(autograd applied twice: create_graph=True, then a second grad or backward), or the "
                              "derivative of cos(x), not of sin(x).",
                              "Differentiate y = torch.sin(x) once: one y.sum().backward() (or one "
                              "torch.autograd.grad), and return that gradient."))
    for key, values, text, advice in candidates:
        if np.all(np.isfinite(values)) and like(values):
            return Cause(key, "Likely cause: " + text, advice)
    # The exercise's own classic slips (a hunter's cos(x²) without the chain rule's 2x was told only to
    # compare with the formula worked out by hand).
    for mistake, values in zip(ex.mistakes, mistakes or [], strict=False):
        # Judged where its closed form has a number: x/sqrt(sum(x**2)) is inf at x = 1e-200, whose
        # square underflows, where torch's norm is not (a file taking ‖x‖ for ‖x‖² was named so on the
        # plain inputs and not on the tracked ones, one of which was that small), so long as nine in ten
        # have one.
        known = np.isfinite(values)
        if known.sum() >= max(1.0, 0.9 * values.size) and _alike(got[known], values[known], slack) and \
                not _alike(got[known], truth[known], slack):
            return Cause(mistake.key, "Likely cause: " + mistake.cause, mistake.advice)
    if np.any(np.abs(truth) > 0.1):
        with np.errstate(over="ignore", invalid="ignore"):
            k = float(np.dot(got, truth) / np.dot(truth, truth))
        # (finite answers near float64's largest overflow the dot product: a red team's ±1e308 made
        # k infinite, like(inf·truth) held, and round(inf) failed the grader itself)
        if math.isfinite(k) and abs(k - 1) > 0.01 and abs(k) > 0.01 and like(k * truth):
            function_named = _named(ex.value)
            # (bracketed where it is a sum: ux116 read "2·log(x²)*sin(x)+1/x")
            scaled = f"({function_named})" if _sum_at_top(function_named) else function_named
            if abs(k - round(k)) < 1e-3 and round(k) >= 2:
                return Cause("scaled", f"Likely cause: your values are {round(k)} times {formula}. Gradients add "
                             "up in x.grad each time backward() runs on the same tensor, or you differentiated "
                             f"{round(k)}·{scaled}.",
                             f"Differentiate {function_named} itself, once, on a fresh tensor.", factor=round(k))
            return Cause("scaled", f"Likely cause: your values are {k:.4g} times {formula}.",
                         f"Differentiate exactly {function_named}, and return the gradient unchanged.", factor=k)
    return None


def slip_values(cause: Cause, x: np.ndarray, ex: Exercise) -> np.ndarray | None:
    """What the slip `cause` names gives at the input x, flat (None for a cause that names no values
    of its own): checks.py credits a pass only where they differ from the derivative."""
    flat = x.ravel()
    truth = ex.reference(x).ravel()
    if cause.key == "scaled" and cause.factor is not None:
        return cause.factor * truth
    if cause.key == "mean":
        return truth / max(flat.size, 1)
    mistake = next((m for m in ex.mistakes if m.key == cause.key), None)
    if mistake is not None:
        return ex.mistake_values(mistake, x).ravel()
    whole = ex.elementwise or flat.size == 1
    with np.errstate(all="ignore"):
        function = np.broadcast_to(ex.function_values(x), x.shape).ravel() if whole else None
        values = {"primitive": function, "identity": flat, "x_times": flat * truth, "absolute": np.abs(truth),
                  "negated": -truth, "zeros": np.zeros_like(flat), "ones": np.ones_like(flat),
                  "second": -np.sin(flat) if ex.value == "sin(x)" else None}
    return values.get(cause.key)


def undefined_cause(x: np.ndarray, got: np.ndarray, truth: np.ndarray, ex: Exercise,
                    shown: float | None = None) -> Cause | None:
    """NaN or an infinity where the derivative is a number, named with the first such x (a hunter's
    2·log(x) for log(x²) was told only that its values differ by more than the tolerance); `shown`,
    the x of the example beside it, which may have a number of its own that is wrong."""
    found = _first_undefined(x, got, truth)
    if found is None:
        return None
    at_x, value, want = found
    why, advice = _undefined_words(ex)
    also = "also " if shown is not None and at_x != shown else ""
    return Cause("undefined", f"Likely cause: your function {also}returned {value} at x = {at_x:.6g}, where the "
                 f"derivative is {want:.6g}: {why}", advice)


def _each_one_of(got: np.ndarray, secret: np.ndarray, truth: np.ndarray, slack: float, x: np.ndarray) -> bool:
    """Whether every element of `got` is the answer under the secret or the truth, and the secret's
    and not the truth's at two different x at least: one x alone is a match by chance as often as
    not (a hunter's cos(x)·2x for cos(x²), the same answer on every call, was told of answers
    remembered between calls on 3 runs of 24, at a 0-d input; its mean of squares on 2 of 24, at an
    input of one value repeated)."""
    kept, right = _near(got, secret, slack), _near(got, truth, slack)
    return bool(np.all(kept | right) and np.unique(np.broadcast_to(x, got.shape)[kept & ~right]).size >= 2)


def _alike(got: np.ndarray, values: np.ndarray, slack: float) -> bool:
    """Whether `got` is `values`, element by element, within `slack` absolute and relative."""
    return bool(np.all(_near(got, values, slack)))


def _near(got: np.ndarray, values: np.ndarray, slack: float) -> np.ndarray:
    """Element by element, whether `got` is `values` within `slack` absolute and relative."""
    return np.abs(got - values) <= slack + slack * np.abs(values)


def in_torch(expression: str) -> str:
    """An exercise's function as torch code: 'torch.log(x**2) * torch.sin(x) + 1 / x'."""
    return re.sub(r"\b(sin|cos|exp|log|sqrt|abs|tanh|sum)\(", r"torch.\1(", expression)


def _one_call(expression: str) -> bool:
    """Whether `expression` is one call of a function, torch.cos(x**2), whose brackets close at its end."""
    opened = re.match(r"[\w.]+\(", expression)
    if opened is None:
        return False
    depth = 0
    for i, char in enumerate(expression[opened.end() - 1:], start=opened.end() - 1):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return i == len(expression) - 1
    return False


def _sum_at_top(expression: str) -> bool:
    """Whether a + or - (not a leading sign) stands outside every bracket of `expression`."""
    depth = 0
    for i, char in enumerate(expression):
        depth += (char == "(") - (char == ")")
        if depth == 0 and char in "+-" and i > 0:
            return True
    return False


def _named(expression: str) -> str:
    """How feedback writes an exercise's function: sin(x), cos(x²), ..."""
    return expression.replace("**2", "²").replace(" ", "") if len(expression) < 30 else "the function"


def precision_cause(case: GridCase, returned_dtype: str | None) -> Cause | None:
    if case.dtype == "float64" and returned_dtype in ("float32", "float16", "bfloat16"):
        return Cause("precision", f"Likely cause: a float64 input came back as {returned_dtype}, so the answer lost "
                     "precision (torch.tensor(...), .float() or a float32 helper tensor do this).",
                     "Keep x's dtype: work on x.detach().clone() and return its gradient as it is.")
    return None


# ---- the canary's words ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Words:
    summary: str
    example: str
    cause: str
    advice: str


def unproven(judged: Judged, r: CaseResult, ex: Exercise, primitive_called: bool, uses_autograd: bool,
             pass_ops: frozenset[str] = frozenset(), accumulates: bool = False,
             secret: Secret | None = None) -> Words:
    """Why an input's answers do not show autograd of the primitive (verdict.py), for a student.
    `accumulates`: two calls on this input's tensor answered the first, then it plus a derivative."""
    swapped = f"with the derivative of {ex.primitive} swapped for a secret one"
    x = r.case.values.ravel()[judged.index] if r.case.values.size else float("nan")
    where = f"x = {number(x, r.case.dtype)} ({describe_tensor(r.case)})"
    if r.case.values.size > 1:
        # Which element, and for a function of the whole vector the vector too: "At x = -1.5 (a tensor
        # of shape (25,))" read as though the answer there hung on -1.5 alone.
        position = [int(i) for i in np.unravel_index(judged.index, r.case.shape)]
        where = (f"x = {number(x, r.case.dtype)} (element {position} of {describe_tensor(r.case)})" if ex.elementwise
                 else f"element {position} of x = {show_input(r.case)} ({describe_tensor(r.case)}; that element "
                      f"{number(x, r.case.dtype)})")
    at = f"At {where}, {swapped}, autograd gives {number(judged.expected, r.case.dtype)}; your {ex.function} "
    advice = (f"Compute y = {in_torch(ex.value)} on a tensor x with requires_grad=True, call y.sum().backward(), "
              f"and return x.grad. Do not write {ex.formula} yourself.")
    if judged.verdict == verdict.RAISED:
        error = r.under_secret.error
        raised = f"your {ex.function} raised {error.headline() if error else 'an exception'}"
        cause = (f"Likely cause: it checks autograd's answer against a formula (an assert or torch.allclose against "
                 f"{ex.formula}, or torch.autograd.gradcheck against finite differences). Under the secret derivative "
                 "the two disagree on purpose, so that check fails.")
        advice = ("Return autograd's value without checking it; compare it with the formula in your own notebook, "
                  "not in the graded function.")
        # (the line that raised names the formula's own functions: ux115's assert torch.allclose(x.grad,
        # torch.cos(x)) was told first of a check of the range)
        line = error.frames[-1].code if error is not None and error.frames else ""
        formula_line = any(re.search(rf"\b{re.escape(name)}\b", line) for name in ex.telltales)
        if error is not None and error.type == "GradcheckError":
            # (hn122's careful self-check was told of an assert on the range, or of a formula)
            cause = ("Likely cause: it checks autograd against finite differences (torch.autograd.gradcheck). Under "
                     "the secret derivative autograd's answer differs from the finite differences on purpose, so "
                     "the check fails; an answer that raises only then cannot show it came through autograd.")
            advice = ("Run gradcheck in your own notebook, not inside the graded function: return autograd's value "
                      "without checking it.")
        elif judged.beyond_bounds and ex.bounds is not None and not formula_line and \
                not re.search(r"allclose|isclose|assert_close", line):  # (hn123: a finite-difference check)
            # (rt133's honest assert that |grad| <= 1 was told it checked against a formula)
            low, high = (f"{b:g}" for b in ex.bounds)
            raised = (f"autograd's answer left [{low}, {high}] (there it gives "
                      f"{number(judged.expected, r.case.dtype)}), and {raised}")
            cause = (f"Likely cause: it checks that autograd's answer lies within [{low}, {high}] (an assert on its "
                     "range, say), or against a formula. Our secret derivative leaves that range on purpose, so the "
                     "check fails; an answer that raises only then cannot show it came through autograd.")
            advice = (f"Return autograd's value without checking it (clipping it to [{low}, {high}] is fine); check "
                      "it in your own notebook, not in the graded function.")
        return Words(
            f"{ex.function} raised only when the derivative of {ex.primitive} was swapped for a secret one",
            f"On {input_words(r.case)}, {swapped}, {raised}; with the true derivative it returned values.",
            cause, advice)
    # Honest mistakes first, in their own words: a student who forgot zero_grad, or whose 2·log(x)
    # gives NaN below 0, was told of mixtures, formulas and "a guess at which calls the grader checks".
    # Only where the primitive ran and this input shows it (a red team's cos(x) with NaN on every other
    # element, and its cos(x) times a count of calls, were excused so).
    told = primitive_called and judged.verdict not in (verdict.ROUNDED, verdict.UNFOLLOWED, verdict.FORGED,
                                                       verdict.UNASKED, verdict.BYPASSED)
    undefined = _undefined(r, ex) if told else None
    if undefined is not None:
        at_x, got, want = undefined
        return Words(
            f"{ex.function} returned {got} where the derivative is a number, and {got} cannot show autograd",
            f"At x = {number(at_x, r.case.dtype)} ({describe_tensor(r.case)}) your {ex.function} returned {got}; "
            f"the derivative of {_named(ex.value)} there is {number(want, r.case.dtype)}.",
            f"Likely cause: {_undefined_words(ex)[0]}", _undefined_words(ex)[1])
    if accumulates and told:
        return Words(
            f"{ex.function} answers the same tensor differently from one call to the next, so its answers cannot "
            "be compared with autograd's",
            f"Called twice with {input_words(r.case)}, its second answer was the first plus the derivative "
            "(see repeatable).",
            "Likely cause: state kept between calls, most often a gradient that accumulates: a tensor or "
            "nn.Parameter reused across calls whose .grad is never zeroed, so each backward() adds to the last "
            "answer.",
            "Use a fresh leaf in every call (x = x.detach().clone().requires_grad_(True)), or zero the gradient "
            "before backward() (model.zero_grad(), or p.grad = None).")
    if judged.verdict == verdict.NOTHING:
        return Words(
            f"{ex.function} returned values on some calls of an input and not on others",
            f"On {input_words(r.case)} it {returned_words(r.plain)} on one call and "
            f"{returned_words(r.under_secret)} on another, {swapped} on one of them.",
            "Likely cause: the answer depends on something besides x (a check of autograd's answer, or state kept "
            "between calls).", advice)
    kinds = sorted({_kind_of(call) for call, _ in r.judged})
    if judged.verdict == verdict.UNSTEADY and len(kinds) > 1:
        return Words(
            f"{ex.function} returned {' and '.join(kinds)} on different calls of the same input",
            f"On {input_words(r.case)} it returned {kinds[0]} on one call and {kinds[1]} on another, {swapped} on "
            "one of them.",
            "Likely cause: the answer depends on something besides x (a check of autograd's answer that picks "
            "another way to compute it, or state kept between calls). Autograd's dtype never changes with the "
            "derivative's numbers.", advice)
    if judged.verdict == verdict.UNSTEADY:
        return Words(
            f"{ex.function} answered the same input differently on calls that autograd answers alike",
            f"On {input_words(r.case)}, two calls on fresh copies of x, {swapped.replace('with', 'both with', 1)} "
            "or both without, gave different values.",
            "Likely cause: the answer depends on something besides x and autograd (state kept between calls, "
            "randomness, or a guess at which calls the grader checks).",
            f"Make {ex.function} a pure function of x: the same x must give the same answer every time.")
    shown = at + f"returned {number(judged.got, r.under_secret.dtype)}."
    if judged.verdict == verdict.ROUNDED and judged.precision.endswith("-decimal"):
        places = judged.precision.removesuffix("-decimal")
        return Words(f"your answers are rounded to {places} decimals for {r.case.dtype} inputs, and the rounding "
                     "hides whether they followed autograd",
                     f"On {input_words(r.case)}, {swapped}, autograd gives {number(judged.expected, r.case.dtype)}; "
                     f"your {ex.function} returned {number(judged.got, r.under_secret.dtype)}, rounded to {places} "
                     "decimals: too coarse for the secret's change to show.",
                     f"Likely cause: the gradient was rounded before it was returned (torch.round(g, decimals="
                     f"{places}), round(v, {places})). Answers that coarse could hide a formula, so they earn no "
                     "autograd credit.",
                     "Return the gradient as autograd gives it (x.grad), unrounded: round only what you print.")
    if judged.verdict == verdict.ROUNDED:
        gap = abs(judged.got - judged.expected)
        half = ex.tolerances.get(judged.precision)
        # (a gap the precision shows plainly is no rounding: rt133's sin of x.half() answered 0.36 from
        # autograd's and was told "too coarse for the secret's change to show")
        unmoved = half is not None and gap > 10 * (half.atol + half.rtol * abs(judged.expected))
        why = (f", {gap:.2g} from it: it did not move with the secret, so {ex.primitive}'s derivative "
               f"was taken at numbers other than x (x rounded to {judged.precision} first, say)." if unmoved else
               ": too coarse for the secret's change to show.")
        return Words(f"your answers carry only {judged.precision} precision for {r.case.dtype} inputs, and its "
                     "rounding hides whether they followed autograd",
                     f"On {input_words(r.case)}, {swapped}, autograd gives {number(judged.expected, r.case.dtype)}; "
                     f"your {ex.function} returned {number(judged.got, r.under_secret.dtype)}, to {judged.precision} "
                     f"precision{why}",
                     "Likely cause: the gradient was computed or returned in half precision (.half(), "
                     ".to(torch.bfloat16), autocast). Answers like that could hide a formula, so they earn no "
                     "autograd credit.",
                     "Compute and return the gradient in x's own dtype (x.grad already is): make x a leaf in its own "
                     f"dtype and call torch.{ex.primitive} on it, with no cast in between.")
    if judged.verdict == verdict.UNFOLLOWED:
        return Words(f"{ex.primitive} ran on a kind of tensor whose numbers our check cannot reach (sparse, or a "
                     "tensor subclass of your own), so your answer cannot show it came through autograd", shown,
                     f"Likely cause: x was turned into such a tensor before torch.{ex.primitive} ran. Autograd may "
                     "well have computed the answer; we cannot tell it from a formula there.",
                     f"Compute on an ordinary dense tensor. {advice}")
    if judged.verdict == verdict.FORGED:
        return Words(f"your answer changed exactly as autograd's would when its derivative of {ex.primitive} was "
                     f"swapped, yet torch.{ex.primitive} never ran during those calls", shown,
                     f"Likely cause: the answer came from the grader's own derivative operator "
                     f"(torch.ops.grader_canary), reached without torch.{ex.primitive}: called by hand, or left in a "
                     f"graph traced once from which torch.{ex.primitive} was removed. Autograd of "
                     f"{in_torch(ex.value)} calls torch.{ex.primitive} on every call.", advice)
    if judged.verdict == verdict.UNASKED:
        return Words(f"your answers followed autograd, yet on some calls your {ex.function} never asked for the "
                     f"derivative of {ex.primitive} at the numbers of its input, so those answers came another way",
                     f"On {input_words(r.case)}, at least one call of your {ex.function} returned values without "
                     f"differentiating {ex.primitive} at x (autograd of {in_torch(ex.value)} does so on every call).",
                     "Likely cause: on some calls the answer came from somewhere other than autograd at x: an "
                     "answer kept from an earlier call (a cache keyed by the tensor's id or data_ptr, which a new "
                     f"tensor may reuse), or {ex.formula} (or another formula) on some calls and autograd on "
                     f"others; or {ex.primitive}'s argument computed a way that rounds it far from the exercise's "
                     "(a rewritten form, such as exp(2·log|x|) for x²).", advice)
    if judged.verdict == verdict.BYPASSED and _both_answered(r, 0.0):
        # A hunter's t.grad.zero_() after backward() was told of cos written out and hand-written
        # backwards, where correctness had named the zeroing.
        return Words(f"your answers were 0, with the true derivative and with the secret one, and zeros never "
                     f"change with autograd's derivative of {ex.primitive}", shown,
                     "Likely cause: the gradient was zeroed before it was returned (x.grad.zero_() after backward(), "
                     "or a fresh torch.zeros_like(x)), see correctness.",
                     "Return x.grad right after y.sum().backward(); zero a gradient, if at all, before backward().")
    if judged.verdict == verdict.BYPASSED and _is_the_function(r, ex):
        # A hunter's `return y` was told its value "was computed another way (cos(x) written out…)",
        # where correctness had already named it: the function's value never moves with a derivative.
        return Words(f"your answer is {_named(ex.value)} itself, the function's value rather than its derivative, "
                     f"which does not change when autograd's derivative of {ex.primitive} does", shown,
                     "Likely cause: y was returned instead of x.grad (see correctness).",
                     "After y.sum().backward(), the derivative is in x.grad: return x.grad, not y.")
    if judged.verdict == verdict.BYPASSED and _both_answered(r, 1.0) and \
            not np.allclose(ex.reference(r.case.values), 1):  # (cos(x) at x = 0 is 1)
        # A hunter's gradient with respect to y (the ones backward() starts from) was told its value was
        # computed another way, "cos(x) written out", where correctness had named the incoming gradient.
        return Words(f"your answer is 1 everywhere, the gradient that backward() starts from, which does not "
                     f"change when autograd's derivative of {ex.primitive} does", shown,
                     "Likely cause: the gradient of y (y.grad, or the ones passed to backward) was returned instead "
                     "of the gradient of x (see correctness).",
                     "Return x.grad, the gradient with respect to x, after y.sum().backward().")
    remembered = remembered_answer(judged, r, ex, secret) if judged.verdict == verdict.BYPASSED else None
    if remembered is not None:
        # Its answer under the secret was autograd's, and a plain call returned the same: a hunter's
        # cache keyed by the input's values was shown "autograd gives 0.0096; yours returned 0.0096"
        # under "did not change".
        truth, plain = remembered
        return Words(f"{ex.function} returned the answer autograd gives under our secret change of the derivative "
                     "also on a call with the true derivative, as an answer kept from an earlier call would be",
                     f"At x = {number(x, r.case.dtype)} ({describe_tensor(r.case)}), with the true derivative, "
                     f"autograd gives {number(truth, r.case.dtype)}; your {ex.function} returned "
                     f"{number(plain, r.case.dtype)}, what autograd gave on the call {swapped}.",
                     "Likely cause: answers remembered between calls (lru_cache, or a dict keyed by the input's "
                     "values), so that a call returns what an earlier one computed.",
                     "Compute the derivative afresh on every call, with no answers kept from earlier calls.")
    if judged.verdict == verdict.BYPASSED and r.primitive_calls and r.asked and not any(r.asked):
        # The secret lives only at the reference's numbers: autograd of another function (sin of ‖x‖
        # for sin(cos(‖x‖²+1)), a hunter's) never meets it, and was told its value was written out.
        where = f"the numbers the exercise differentiates it at ({_argument(ex)}, for each input)"
        own = f" (its own {ex.primitive} takes other arguments)" if f"{ex.primitive}(" in ex.formula else ""
        # (no autograd at all, no pass recorded: ux118's finite differences, sin at x ± h, were told of
        # autograd of a different function)
        cause = (f"Likely cause: the answer was computed without autograd, from torch.{ex.primitive} at other "
                 f"numbers: finite differences at x ± h, or a shifted {ex.primitive}." if not uses_autograd and
                 not pass_ops and not judged.plain_right else
                 f"Likely cause: autograd of a different function than {_named(ex.value)} (see correctness for "
                 f"its values), whose {ex.primitive} takes other arguments." if not judged.plain_right else
                 f"Likely cause: torch.{ex.primitive} ran only at other numbers, and the answer came another "
                 f"way: {ex.formula} written out{own}, finite differences "
                 "at x ± h, a table worked out ahead (|x|, x mod 2π), or a rewritten form of the function "
                 "whose steps differentiate it elsewhere (sin(u + π/2) for cos(u), −sin(−u), x reduced by 2π "
                 "first): the grader sees autograd only where it differentiates at x itself.")
        return Words(f"your answer did not change when autograd's derivative of {ex.primitive} did: your "
                     f"{ex.function} ran {ex.primitive}, but never at {where}", shown, cause,
                     f"Differentiate exactly {in_torch(ex.value)} with autograd, at x itself.")
    if judged.verdict == verdict.BYPASSED:
        # (autograd of another function is a slip, not a formula: a hunter's sin for cos(x²) was told
        # not to write the derivative out)
        another = _another_function(ex, primitive_called, uses_autograd, pass_ops)
        return Words(f"your answer did not change when autograd's derivative of {ex.primitive} did", shown,
                     _bypass_cause(ex, primitive_called, uses_autograd, pass_ops),
                     f"Differentiate exactly {in_torch(ex.value)} with autograd." if another else advice)
    if not judged.plain_right:
        return Words(f"your answer changed when autograd's derivative of {ex.primitive} did, but not as the "
                     f"derivative of {_named(ex.value)} would", shown,
                     f"Likely cause: autograd of a different function than {_named(ex.value)} (a slip in "
                     f"{ex.primitive}'s argument, or another step; see correctness for the values): only the "
                     f"derivative of {_named(ex.value)} itself follows autograd's as it should.",
                     f"Fix the values first: differentiate exactly {in_torch(ex.value)} with autograd.")
    return Words(f"your answer changed when autograd's derivative of {ex.primitive} did, but not as autograd's does",
                 shown, "Likely cause: the answer mixes autograd's gradient with something computed another way "
                 f"({ex.formula} on some elements or some calls, or a correction added to autograd's value), or "
                 f"autograd ran on a rewritten form of {_named(ex.value)} (an identity, such as a half-angle "
                 f"formula, {_mirrored(ex.primitive)}, or x reduced by 2π before {ex.primitive}) in which "
                 f"torch.{ex.primitive} is not differentiated at its own argument: the grader sees autograd only "
                 "where it differentiates there.",
                 f"Return exactly the gradient autograd computes for {in_torch(ex.value)}, as written, unchanged, "
                 "everywhere.")


def _mirrored(primitive: str) -> str:
    """The primitive at −u, written as the identity gives it back (sin and tanh are odd, cos even)."""
    return f"{primitive}(−u)" if primitive == "cos" else f"−{primitive}(−u)"


def _undefined(r: CaseResult, ex: Exercise) -> tuple[float, str, float] | None:
    """_first_undefined of a case's plain answer."""
    plain = values_of(r.plain, r.case)
    if plain is None:
        return None
    truth = np.broadcast_to(ex.reference(r.case.values), plain.shape)
    return _first_undefined(r.case.values.ravel(), plain.ravel(), truth.ravel())


def _first_undefined(x: np.ndarray, got: np.ndarray, truth: np.ndarray) -> tuple[float, str, float] | None:
    """The first x where the answer is NaN or infinite and the reference is a number: that x, what
    came back ("nan", "inf", "-inf") and the reference there."""
    where = np.flatnonzero(~np.isfinite(got) & np.isfinite(truth))
    if not where.size:
        return None
    i = int(where[0])
    return float(x[i]), str(got[i]), float(truth[i])


def _undefined_words(ex: Exercise) -> tuple[str, str]:
    """(why, what to do) for NaN or an infinity where the derivative is a number. (The log's example
    only where the exercise has a log: sin_cos_norm's sqrt(‖x‖²)² was told of 2·log(x), a hunter's.)"""
    # (hn136: log(x)**2, a misreading of log(x²), is another function, not a form that fails below 0 alone)
    example = ("log(x) where x may be negative is NaN below 0: 2·log(x) for log(x²) holds only above 0, and "
               "log(x)**2 or log(x) alone is another function altogether"
               if "log(" in ex.value else "sqrt(u)**2 for u has an infinite derivative at 0, and 0 times it is NaN")
    return (f"a step undefined there (the log or square root of a negative number or of 0, or 0/0), as in a form "
            f"of {_named(ex.value)} that does not hold for every x: {example}.",
            f"Differentiate exactly {in_torch(ex.value)} with autograd, as written.")


def _both_answered(r: CaseResult, value: float) -> bool:
    """Whether the plain call and the one under the secret both answered `value` on every element,
    and nothing else (zeros; ones, the gradient backward() starts from)."""
    plain, hidden = values_of(r.plain, r.case), values_of(r.under_secret, r.case)
    return plain is not None and hidden is not None and plain.size > 0 and bool(np.all(plain == value)) and \
        bool(np.all(hidden == value))


def _is_the_function(r: CaseResult, ex: Exercise) -> bool:
    """Whether the plain call returned the function's own values at x (y, not x.grad), at the
    tolerance correctness names that cause with."""
    plain = values_of(r.plain, r.case)
    if plain is None or not plain.size or not np.all(np.isfinite(plain)):
        return False
    slack = max(ex.tolerance(r.case.dtype).atol, 1e-6) * 10  # (explain_values's, which correctness names it with)
    function = np.broadcast_to(ex.function_values(r.case.values), plain.shape)
    # (Not where the function and its derivative agree: sin and cos at π/4, where cos(x) is as like.)
    return bool(np.all(np.isfinite(function))) and _alike(plain, function, slack) \
        and not _alike(plain, ex.reference(r.case.values), slack)


def _kind_of(r: Returned) -> str:
    return {"tensor": f"a {r.dtype} tensor", "ndarray": f"a numpy array of {r.dtype}", "error": "an error",
            "none": "None", "wrapped": f"a {r.dtype} tensor in a {r.type_name}",
            "list": f"a {r.type_name} of numbers"}.get(r.kind, f"a {r.kind}")


def remembered_answer(judged: Judged, r: CaseResult, ex: Exercise,
                      secret: Secret | None = None) -> tuple[float, float] | None:
    """(the truth, the plain answer) at the judged element, where the answer under the secret was
    autograd's there and the plain one the same, not the truth; and, where `secret` is given, every
    element of the plain answer autograd's under the secret or the truth (a cache per number mixes
    the two). One element alone matched by chance: a hunter's mean of squares for sin_cos_norm was
    told, once in five runs, of answers remembered between calls."""
    plain = values_of(r.plain, r.case)
    if plain is None or not 0 <= judged.index < plain.size:
        return None
    tol = ex.tolerance(r.case.dtype)
    if secret is not None:
        slack = 10 * max(tol.atol, tol.rtol)
        star = np.broadcast_to(ex.reference(r.case.values, secret), plain.shape)
        if not _each_one_of(plain, star, np.broadcast_to(ex.reference(r.case.values), plain.shape), slack,
                            r.case.values):
            return None
    truth = float(np.broadcast_to(ex.reference(r.case.values), plain.shape).ravel()[judged.index])
    value = float(plain.ravel()[judged.index])

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= 10 * (tol.atol + tol.rtol * abs(b))

    return (truth, value) if near(judged.got, judged.expected) and near(value, judged.got) \
        and not near(value, truth) else None


def _argument(ex: Exercise) -> str:
    """Where the reference differentiates the primitive, as feedback writes it: x, x², cos(‖x‖²+1)."""
    name = f"d_{ex.primitive}"
    call = next(node for node in ast.walk(ast.parse(ex.gradient, mode="eval"))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name)
    text = ast.unparse(call.args[0]).replace(" ", "").replace("sum(x**2)", "‖x‖²").replace("**2", "²")
    return f"{ex.primitive}'s argument, {text}" if text != "x" else "x itself"


def _another_function(ex: Exercise, primitive_called: bool, uses_autograd: bool,
                      pass_ops: frozenset[str]) -> list[str]:
    """The steps of a recorded backward pass that never went through the primitive, where that is
    what _bypass_cause names (autograd of another function), or none: the pass went through it,
    none was recorded, or the primitive never ran during the calls (values worked out ahead)."""
    if not pass_ops or ex.backward_step in pass_ops or (uses_autograd and not primitive_called):
        return []
    return sorted(op for op in pass_ops if op.endswith("Backward0") and op not in ("SumBackward0",))


def _bypass_cause(ex: Exercise, primitive_called: bool, uses_autograd: bool,
                  pass_ops: frozenset[str] = frozenset()) -> str:
    """`pass_ops`: the nodes of the backward pass recorded at the sample input (none if none ran)."""
    math = _another_function(ex, primitive_called, uses_autograd, pass_ops)
    if uses_autograd and not primitive_called:
        return (f"Likely cause: torch.{ex.primitive} never ran during the calls of your function: values worked "
                "out ahead of them (autograd once, at import, then looked up or interpolated), or autograd of "
                f"something other than torch.{ex.primitive} (sin written as the imaginary part of exp(ix), say). "
                f"The exercise is autograd of {in_torch(ex.value)} on every call, and the grader watches "
                f"torch.{ex.primitive} itself.")
    if math:
        # A helper's autograd of sin(x²) for cos(x²) was told its value was computed another way, -2x·sin(x²)
        # written out (cos ran: in sin's own backward).
        return (f"Likely cause: your backward pass ran, but not through torch.{ex.primitive}: it has no "
                f"{ex.backward_step} "
                f"(its steps: {', '.join(math)}), so autograd differentiated another function than "
                f"{_named(ex.value)} (see correctness and backward.png).")
    if uses_autograd:
        return (f"Likely cause: autograd ran, but the value returned was computed another way ({ex.formula} written "
                "out, a hand-written backward, a value taken before or beside autograd's, or an answer kept from an "
                "earlier call), or autograd ran on a "
                f"rewritten form of {_named(ex.value)} (an identity) in which torch.{ex.primitive} is not "
                "differentiated at its own argument: the grader watches that op itself.")
    return (f"Likely cause: the answer was computed without autograd ({ex.formula} written out, a shifted "
            f"{ex.primitive}, finite differences, numpy, or a series).")
