"""What the parent saw the submission do, after validating every reply from the child.

Frozen data built only from checked JSON facts and decoded arrays (sandbox/replies.py builds it);
checks read nothing else. Plain data: nothing here starts, talks to or knows of a process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from grader.canary import Secret
from grader.grids import GridCase


@dataclass(frozen=True)
class Ended:
    """Why a session cannot go on: the submission's fault, stated for a person."""

    reason: str  # "timeout" | "crash" | "exit" | "protocol" | "memory"
    detail: str
    returncode: int | None = None


@dataclass(frozen=True)
class Frame:
    line: int
    code: str
    function: str


# Modules whose frames in a traceback mean the error came while starting a process, or making what
# multiprocessing makes a semaphore for (the sandbox refuses both): named for the feedback, whatever
# name the student's file gave them (an alias of Pool, a DataLoader's workers).
PROCESS_MODULES = ("multiprocessing", "subprocess", "concurrent.futures.process", "torch.utils.data")


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    frames: tuple[Frame, ...] = ()
    syntax_line: int | None = None
    syntax_offset: int | None = None
    syntax_code: str = ""
    via: tuple[str, ...] = ()  # modules that start processes (PROCESS_MODULES) the error came through

    def headline(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.type}: {first}" if first else self.type


@dataclass(frozen=True)
class Returned:
    """One call's outcome: a value (kind tensor/ndarray/number/none/other; wrapped: a tensor returned
    alone in a tuple or list, or beside the tensor it is the gradient of (held: 2); list: lists or
    tuples of Python numbers, as .tolist() gives; for those two type_name says which container) or
    an error."""

    kind: str
    values: np.ndarray | None = field(default=None, compare=False)
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    device: str | None = None
    requires_grad: bool = False
    type_name: str = ""
    text: str = ""
    error: ErrorInfo | None = None
    held: int = 1  # wrapped: how many tensors its container held (2: x or y beside the gradient)
    pair: tuple[Returned, Returned] | None = field(default=None, compare=False)  # pair: the two, as sent


@dataclass(frozen=True)
class CaseResult:
    """Calls on one input: twice on the same tensor, then once or twice on fresh copies. The parent
    drew which of them were secret (the repeated pair share one state, the third has the other, a
    fourth either), so every case has a plain answer and an answer under the secret."""

    case: GridCase
    calls: tuple[Returned, ...]
    secret: tuple[bool, ...]
    input_changed: bool
    requires_grad_changed: bool
    grad_left: bool
    primitive_calls: int  # how often the exercise's primitive ran during these calls (any route)
    # ...and how often the canary could not reach its numbers (a sparse tensor: sandbox/canary.py)
    unfollowed_calls: int = 0
    # Per call, whether it asked the primitive's derivative at every number the reference takes it
    # at (the oracle's count, in the grader; () where none was kept).
    asked: tuple[bool, ...] = ()
    # Per call, its backward passes (read at the input's first element): every planned call's, for every
    # exercise (sin's too: rt220 read its derivative by hand, unlisted); () where none were.
    recorded: tuple[TracedCall | None, ...] = field(default=(), compare=False)
    input_retyped: bool = False  # the caller's x has another dtype or device after the calls (input_changed too)
    # How many cases back (the child's ladder: 1, 3, 9, 27, 81) a tensor a case's calls returned had changed
    # during these calls; 0 where none read again did.
    earlier_changed: int = 0
    first_changed: bool = False  # the second call on the caller's x changed what the first had returned
    own_changed: bool = False  # a further call, on a fresh tensor of x's values, changed what an earlier one returned

    @property
    def first(self) -> Returned:
        return self.calls[0]

    @property
    def second(self) -> Returned:
        return self.calls[1]

    # Kept once worked out (the checks ask for them hundreds of times per submission).
    @functools.cached_property
    def judged(self) -> tuple[tuple[Returned, bool], ...]:
        """(answer, secret?) for the first call on each tensor; the repeat only tests repeatability."""
        return tuple((call, secret) for i, (call, secret) in enumerate(zip(self.calls, self.secret, strict=True))
                     if i != 1)

    @functools.cached_property
    def plain(self) -> Returned:
        """The answer with autograd's true derivative: what correctness judges."""
        return next(call for call, secret in self.judged if not secret)

    @functools.cached_property
    def under_secret(self) -> Returned:
        """The answer with the secret derivative: what it must follow."""
        return next(call for call, secret in self.judged if secret)


@dataclass(frozen=True)
class LoadResult:
    ok: bool
    error: ErrorInfo | None = None
    missing: str | None = None  # "missing" or the type found instead of a function
    names: tuple[str, ...] = ()
    stand_ins: tuple[str, ...] = ()  # packages the grader lacks, imported as stand-ins (sandbox/stand_ins.py)


@dataclass(frozen=True)
class SourceHit:
    """A line of the student's source that calls something suspicious (secondary evidence only)."""

    line: int
    name: str
    code: str
    guarded: bool = False  # under `if __name__ == "__main__":`, which grading never runs (a self-check, a plot)


@dataclass(frozen=True)
class Output:
    stdout: str = ""
    stdout_bytes: int = 0
    stderr: str = ""
    stderr_bytes: int = 0


@dataclass(frozen=True)
class TracedStep:
    """One node of a recorded backward pass, its numbers at the sample element (sandbox/trace.py)."""

    op: str
    next: tuple[int, ...]  # the steps it passed gradients to, in run order; -1: the pass ended there
    grad_out: tuple[float | None, ...]  # the gradient passed along each of those edges
    grad_in: float | None = None
    u: float | None = None  # the node's input, where it saved one
    result: float | None = None  # its output, where it saved that instead (exp, tanh)
    constant: float | None = None  # a saved exponent (PowBackward0)
    other: float | None = None  # a saved other operand (MulBackward0, DivBackward0)
    held: float | None = None  # AccumulateGrad: what x.grad held before the pass added to it
    local: float | None = None  # the canary's step: the derivative it applied
    one_input: bool = False  # its edges all lead to one node (u·u), whether that node ran or not
    many: bool = False  # the canary's step: its input held more numbers than one


@dataclass(frozen=True)
class TracedCall:
    """One call, recorded: what came back at the sample element and the backward passes it ran."""

    kind: str  # tensor | error | other
    value: float | None
    primitive_calls: int
    runs: tuple[tuple[TracedStep, ...], ...]
    cut: bool = False  # a graph or a number of passes too large to record whole
    more_runs: bool = False
    about: str = ""  # the error it raised, or the type of what it returned
    passes: int = 0  # how many backward passes it ran (the first MAX_TRACED_RUNS are recorded)
    # pair (as sent; read as a tensor by replies.parse_traced): each one's (value, tracked, is x)
    pair: tuple[tuple[float | None, bool, bool], ...] = ()
    # forward mode's: each tangent the call unpacked from a dual tensor, at the sample element (None unread)
    tangents: tuple[float | None, ...] = ()
    duals: tuple[float | None, ...] = ()  # and what each dual tensor it made was made of (its primal), likewise
    # each pass's leaves (AccumulateGrad's tensors): what each held at the sample element, in runs' order
    leaves: tuple[tuple[float | None, ...], ...] = ()
    roots: tuple[tuple[float | None, ...], ...] = ()  # and what each pass's roots (the tensors it differentiates) held
    sized: tuple[bool, ...] = ()  # and whether each pass reached a leaf of x's size
    swapped: bool = False  # the stand-ins that hear passes and forward mode were not in place at its end


@dataclass(frozen=True)
class Traced:
    """Two calls of the submission on one input, and the reference solution's call on it."""

    x: tuple[float, ...]  # the input, flattened
    index: int  # the sample element
    dtype: str
    student: tuple[TracedCall, ...]
    reference: TracedCall | None


@dataclass(frozen=True)
class Observations:
    load: LoadResult
    cases: tuple[CaseResult, ...] = ()
    planned: tuple[GridCase, ...] = ()
    ended: Ended | None = None
    ended_case: GridCase | None = None
    plot_x: np.ndarray | None = field(default=None, compare=False)
    plot: Returned | None = None
    plot_changed: bool = False  # a second call on the plot's values changed what the first had returned
    minimal: dict[str, CaseResult] = field(default_factory=dict)
    output: Output = Output()
    devices: tuple[str, ...] = ("cpu",)
    torch_version: str = ""
    layers: tuple[str, ...] = ()
    secret: Secret | None = None
    source_hits: tuple[SourceHit, ...] = ()
    source_uses_autograd: bool = False  # the source calls backward, autograd.grad, torch.func, ...
    source_reads_graph: bool = False  # the source works with graph nodes: next_functions, saved tensors, node hooks
    source_compiles: bool = False  # the source hands work to TorchScript or torch.compile (submission.compiles)
    notebook: bool = False  # the submission is a Jupyter notebook, graded by its code cells
    blank: bool = False  # the submission holds no code at all (an empty file, comments only)
    not_python: str = ""  # what the file is where its first bytes say it is no text ("a PDF": submission.not_python)
    nested: tuple[int, str] | None = None  # the function's def below the top level: its line, what holds it
    # Modules beside the file it imports that were not graded with it, defining the function themselves
    passed_over: tuple[str, ...] = ()
    # and those past the bounds on what is graded with it (submission.MAX_HELPERS and its bytes)
    left_out: tuple[str, ...] = ()
    # and those named like a module the grader has (the standard library's, torch...), never theirs there
    shadowed: tuple[str, ...] = ()
    # and every one, where the folder holds other submissions (these, a few named): a class's folder
    withheld: tuple[str, ...] = ()
    classmates: tuple[str, ...] = ()
    # and those that are symbolic links, which the grader never follows
    linked: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # recorded for review: attempts the sandbox stopped or watched
    traced: Traced | None = None  # the backward passes at one input, beside the reference's
    reference_pass: TracedCall | None = None  # the reference solution's, at the exercise's sample input
