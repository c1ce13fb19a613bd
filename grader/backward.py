"""The backward pass a submission ran, written out and compared with the reference solution's.

Pure: from the recorded passes (observations.Traced, sandbox/trace.py) to a BackwardPass, whose
steps carry each local derivative as a formula beside its value, and whose `divergence` names the
first place the student's pass differs from the reference's, in the student's terms. Never scores:
the verdict is the canary's (verdict.py); this explains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from grader import formula
from grader.exercise import Exercise
from grader.feedback import listed
from grader.grids import GridCase
from grader.observations import Observations, Traced, TracedCall, TracedStep
from grader.outcome import BackwardPass, Step

# Nodes that move or copy values without a derivative of their own (a sum's gradient is 1 for
# every element): comparing passes skips them, since honest code differs in exactly these.
STRUCTURAL = frozenset({
    "AccumulateGrad", "SumBackward0", "SumBackward1", "ViewBackward0", "UnsafeViewBackward0",
    "ReshapeAliasBackward0", "ExpandBackward0", "CloneBackward0", "ToCopyBackward0", "AliasBackward0",
    "SelectBackward0", "SliceBackward0", "SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2",
    "UnsqueezeBackward0", "PermuteBackward0", "TBackward0", "AsStridedBackward0", "IndexBackward0",
    "CopySlices", "CopyBackwards", "UnbindBackward0", "StackBackward0", "CatBackward0", "ViewAsRealBackward0",
    "ViewAsComplexBackward0", "DetachBackward0",
})

REDUCTIONS = ("Sum", "Mean", "Norm", "Dot", "Mv", "Mm", "Prod")  # ops that combine the elements of x

# op -> (what it computes from u, its local derivative written out)
FORMULAS = {
    "SinBackward0": ("sin({})", "d/du sin(u) = cos(u)"),
    "CosBackward0": ("cos({})", "d/du cos(u) = -sin(u)"),
    "TanhBackward0": ("tanh({})", "d/du tanh(u) = 1 - tanh(u)²"),
    "ExpBackward0": ("exp({})", "d/du exp(u) = exp(u)"),
    "LogBackward0": ("log({})", "d/du log(u) = 1/u"),
    "SqrtBackward0": ("√{}", "d/du √u = 1/(2√u)"),
    "NegBackward0": ("-{}", "d/du (-u) = -1"),
    "SumBackward0": ("sum({})", "d/du_i sum(u) = 1"),
    "SumBackward1": ("sum({}, dim)", "d/du_i sum(u, dim) = 1"),
    "MeanBackward0": ("mean({})", "d/du_i mean(u) = 1/n"),
    "AddBackward0": (None, "d/du (u + v) = 1"),
    "SubBackward0": (None, "d/du (u - v) = 1"),
    "MulBackward0": (None, "d/du (u·v) = v"),
    "DivBackward0": (None, "d/du (u/v) = 1/v"),
    "PowBackward0": (None, "d/du uⁿ = n·uⁿ⁻¹"),
    "ReciprocalBackward0": ("1/{}", "d/du 1/u = -1/u²"),
    "SigmoidBackward0": ("sigmoid({})", "d/du σ(u) = σ(u)(1 - σ(u))"),
    "AbsBackward0": ("|{}|", "d/du |u| = sign(u)"),
    "AccumulateGrad": (None, "x.grad += the gradient that arrived"),
}
SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def trace_input(ex: Exercise) -> tuple[GridCase, int]:
    """Where the passes are recorded: the exercise's sample input, read at its first element. The
    reference's pass is recorded there before the student's file loads (so no student code shares
    a process with the reference solution), which fixes the input in advance; the sample is chosen
    where the classic mistakes show (the failing input's own numbers are in the correctness check's
    words)."""
    return GridCase(np.array(ex.trace_x, dtype=np.float64), "float64", "cpu", "plain", "general"), 0


def describe(obs: Observations, ex: Exercise, proven: bool, moved: bool = True,
             shown_somewhere: bool = False, correct: bool = False) -> BackwardPass | None:
    """The passes at the recorded input, compared. `proven`: the canary showed autograd of the
    primitive on every input (a pass that ran no backward then carried the derivative forward);
    `moved`: no input's answer stood still under the canary (none bypassed autograd);
    `shown_somewhere`: it showed autograd on some input; `correct`: the correctness check passed. Where
    the graded calls' passes were recorded too (every exercise's: probe._setup), a chain left partly to a
    formula on any of them is told as on the one shown: for right answers (every graded one, or the one shown), since a
    pass of the primitive alone whose answer lacks the chain's factor is that mistake, which correctness
    names; and whatever the call shown did (rt172's files told it apart: it may return nothing, or end
    the child, and the graded calls' evidence stands)."""
    described = _described(obs, ex, proven, moved, shown_somewhere)
    if not proven or not (correct or _shown_right(obs.traced, ex)):
        return described
    elsewhere = by_hand_elsewhere(obs, ex)
    if elsewhere is None:  # (no graded call judged: the call shown is the evidence)
        return described
    # The call shown reads what its nodes saved, which the graded calls' steps do not (rt155's pass from a
    # leaf ‖x‖² + 1 of its own is seen there alone): its words stand.
    if not elsewhere.listed or (described is not None and described.by_hand):
        return described
    assert elsewhere.words is not None and elsewhere.shown is not None
    sample, runs, values, reference = elsewhere.shown
    told = f"On {elsewhere.hand} of the {elsewhere.ran} graded calls recorded, y{elsewhere.words[1:]}"
    if described is None:  # (no call shown: the child ended on it, or the trace failed)
        described = BackwardPass(sample, steps_of(runs[0], sample) if runs else (), reference, None,
                                 input_values=values)
    return replace(described, divergence=told, by_hand=True, diverges_at=None, reference_at=None)


def _shown_right(traced: Traced | None, ex: Exercise) -> bool:
    """Whether the call shown returned the right gradient at its sample element (a wrong one's pass is
    told as its mistake, never as a chain finished by hand)."""
    if traced is None or not traced.student or traced.student[0].value is None:
        return False
    return _wanted(traced, ex)[1](traced.student[0].value)


def _wanted(traced: Traced, ex: Exercise) -> tuple[float, Callable[[float | None], bool]]:
    """The gradient at the recorded input's sample element, and whether a value agrees with it within
    the dtype's tolerance, as correctness judges."""
    want = float(ex.reference(np.array(traced.x, dtype=np.float64)).reshape(-1)[traced.index])
    tolerance = ex.tolerances.get(traced.dtype)
    if tolerance is None:
        return want, lambda got: _close(got, want)
    return want, lambda got: _within(got, want, tolerance.atol, tolerance.rtol)


def by_hand_elsewhere(obs: Observations, ex: Exercise) -> Elsewhere | None:
    """Of the graded calls whose passes were recorded (every exercise's), how many left part of the chain
    to a formula of the student's (_by_hand, _forward_by_hand, or the recorder's stand-ins taken out),
    of how many that ran a pass, of how many judged (right plain answers), the first one's words, and
    what to draw of it (its sample element, its passes, its input, the reference's steps); None where
    none was judged. rt172's files took autograd's chain on the recorded call alone, told apart by its
    input or by its place after the plot, and a formula of their own on every graded call. Listed where
    at least half the calls judged were by hand: one call's evidence may meet the chain's numbers by
    chance (a self-test's number among x's on one input of 200), and a cheat is by hand on every call
    it does not tell apart."""
    reference = obs.reference_pass or (obs.traced.reference if obs.traced is not None else None)
    if reference is None or not reference.runs or obs.source_compiles:
        return None  # (TorchScript's passes and torch.compile's are not heard: _described)
    steps = steps_of(reference.runs[0], ex.trace_x[0])
    hand, ran, judged, first, shown = 0, 0, 0, None, None
    for result in obs.cases:
        x = result.case.values
        want = ex.reference(x) if result.recorded and not all(result.secret) else None
        tolerance = ex.tolerances.get(result.case.dtype)
        for call, recorded, secret in zip(result.calls, result.recorded, result.secret, strict=False):
            if recorded is None or call.kind == "error" or not x.size or \
                    not (any(recorded.runs) or recorded.tangents or recorded.duals or recorded.swapped
                         or _nothing_ran(recorded)):
                continue  # (an empty input's answer says nothing)
            ran += 1
            # Only a right answer's pass (a plain call's: the function's own derivative), as on the call
            # shown: a pass of the primitive alone whose answer lacks the chain's factor is that mistake,
            # which correctness names (a sample's cos(u) at u = x², 2x forgotten, was told "by hand").
            if secret or want is None or tolerance is None or call.values is None or \
                    call.values.shape != want.shape or not np.allclose(call.values, want, rtol=tolerance.rtol,
                                                                       atol=tolerance.atol, equal_nan=True):
                continue
            judged += 1
            sample = float(x.reshape(-1)[0])
            chain = _of_the_chain(recorded, ex, x)
            words: str | None
            if recorded.swapped:
                words = _swapped(ex)
            elif _no_chain_ran(recorded, chain, ex):
                words = _neither_pass_nor_forward(ex, scratch=bool(recorded.passes))
            elif chain.runs:
                # (a graph cut short past MAX_NODES is judged on the steps it shows: rt174 padded its own leaf x²
                # with 60 views, so that every graded call was cut and passed over)
                words = _by_hand(chain, steps, ex, sample, x)
            else:  # (no pass of the chain's: forward mode's, where it left its numbers)
                words = _forward_by_hand(recorded, call.values, x, 0, ex, result.case.dtype)
            hand, first = hand + (words is not None), first or words
            if words is not None and shown is None:
                shown = (sample, chain.runs, tuple(float(v) for v in x.reshape(-1)[:16]), steps)
    return Elsewhere(hand, ran, judged, first, shown) if judged else None


Shown = tuple[float, tuple[tuple[TracedStep, ...], ...], tuple[float, ...], tuple[Step, ...]]


@dataclass(frozen=True)
class Elsewhere:
    """What the graded calls' recorded passes showed (by_hand_elsewhere)."""

    hand: int  # calls by hand
    ran: int  # calls that ran a pass (or forward mode)
    judged: int  # right plain answers judged
    words: str | None  # the first by hand's words
    shown: Shown | None  # and what to draw of it

    @property
    def listed(self) -> bool:
        return self.words is not None and self.shown is not None and 2 * self.hand >= self.judged


def _of_the_chain(call: TracedCall, ex: Exercise, x: np.ndarray) -> TracedCall:
    """The call with the passes that may be the chain's: not one that touched no number of the chain's,
    every leaf it reached and every root it differentiated holding, at the sample element, a number that
    no part of the exercise's function holds at x (x, x², ‖x‖² + 1, the primitive's values, the
    function's: formula.subexpressions), and every step of the primitive's it took made at a number
    other than the primitive's arguments. rt175's scratch `(w * w).backward()` beside a pass of sin's
    step alone made the steps of all passes together more than the primitive's, and switched off the
    forward-mode rules too, which judge calls with no pass; rt178's scratch `(sin(t) * t).backward()` at
    t = 0.3 did as much, and an honest self-test of autograd on sin at 0.5 before a jvp of the whole
    function was listed for it. What a chain's pass holds is the chain's: rt178's honest u = (x + h)²
    differentiated at a leaf h = 0 holds x², and ‖x‖² + 1 was no number the grader knew. A value
    unread, or past the eight read, may be anything: its pass stays. (A scratch pass on a copy of x is
    not told apart: x's numbers are the chain's.)"""
    runs = [(run, call.leaves[k] if k < len(call.leaves) else (), call.roots[k] if k < len(call.roots) else (),
             k < len(call.sized) and call.sized[k]) for k, run in enumerate(call.runs) if run]
    if not runs:
        return replace(call, runs=(), leaves=(), roots=(), sized=())
    numbers = _chain_numbers(ex, x)
    arguments = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in ex.primitive_arguments(x)])
    op = ex.backward_step

    def apart(run: Sequence[TracedStep], leaves: Sequence[float | None], roots: Sequence[float | None],
              sized: bool) -> bool:
        # (not a leaf of x's size, whatever it holds: rt179's chain through a perturbation h = 0 whose root was
        # a sum; nor a step of the primitive's on more numbers than one, whatever the first is: rt179 padded x²)
        held = [*leaves, *roots]
        return bool(leaves) and bool(roots) and not sized and None not in held and \
            not any(v is not None and _among(numbers, v) for v in held) and \
            all(s.u is not None and not s.many and not _among(arguments, s.u) for s in run if s.op == op)

    kept = [k for k in runs if not apart(*k)]
    return replace(call, runs=tuple(k[0] for k in kept), leaves=tuple(k[1] for k in kept),
                   roots=tuple(k[2] for k in kept), sized=tuple(k[3] for k in kept))


def _chain_numbers(ex: Exercise, x: np.ndarray) -> np.ndarray:
    """Every number a part of the exercise's function holds at x (formula.subexpressions), finite."""
    with np.errstate(all="ignore"):
        parts = [np.asarray(v, dtype=np.float64).reshape(-1)
                 for v in formula.subexpressions(ex.value, np, x=x.astype(np.float64))]
    numbers = np.concatenate(parts) if parts else np.array([])
    return numbers[np.isfinite(numbers)]


def _swapped(ex: Exercise) -> str:
    return ("Your code took out the stand-ins the grader hears backward passes and forward mode through "
            "(torch's Variable._execution_engine, forward_ad.make_dual, the unpacking of dual tensors), so how "
            f"your answers were computed could not be recorded. The exercise asks for autograd of {ex.value} "
            "itself: leave torch's autograd as it is.")


def _described(obs: Observations, ex: Exercise, proven: bool, moved: bool,
               shown_somewhere: bool) -> BackwardPass | None:
    # Not judged for a chain finished by hand where the file hands work to TorchScript or torch.compile,
    # whose passes the recorder does not hear (hn131's link of the chain by autograd.grad in a scripted
    # function, beside a pass of cos alone at a leaf x², was listed)
    judge = not obs.source_compiles
    traced = obs.traced
    if traced is None or not traced.student:
        return None
    x = np.array(traced.x, dtype=np.float64)
    sample = float(x[traced.index])
    want, agrees = _wanted(traced, ex)
    reference = traced.reference if traced.reference is not None and agrees(traced.reference.value) else None
    ref_steps = steps_of(reference.runs[0], sample) if reference is not None and reference.runs else ()
    first = replace(traced.student[0], runs=tuple(run for run in traced.student[0].runs if run))
    shown = _from_x(first.runs, sample)
    student = steps_of(first.runs[shown], sample) if first.runs else ()
    base = BackwardPass(sample, student, ref_steps, None, input_values=tuple(traced.x[:16]))
    if first.kind == "error":
        return replace(base, description="it raised an error", divergence=(
            f"Your {ex.function} raised {first.about or 'an error'} on this input, so its pass stopped before "
            "giving a gradient."))
    if judge and first.swapped and proven and agrees(first.value):
        return replace(base, description="nothing recorded: the grader's stand-ins were taken out",
                       divergence=_swapped(ex), by_hand=True)
    if not first.runs:
        forward = _forward_by_hand(first, first.value, x, traced.index, ex, traced.dtype) \
            if judge and proven and ex.chain and agrees(first.value) else None
        if forward is not None:
            return replace(base, description="no backward pass ran: forward mode", divergence=forward, by_hand=True)
        if judge and proven and agrees(first.value) and _nothing_ran(traced.student[0]):  # (as sent: its empty passes)
            return replace(base, description=f"neither a backward pass nor forward mode ran, yet torch.{ex.primitive} "
                                             "did", divergence=_neither_pass_nor_forward(ex), by_hand=True)
        description, sentence = _no_pass(first, ex, want, obs, proven, agrees(first.value))
        return replace(base, description=description, divergence=sentence)
    right = agrees(first.value) or (first.kind == "tensor" and first.value is None)  # unreadable: no claim
    unread = bool(student) and all(s.grad_in is None for s in student)
    if unread and not right:
        return replace(base, divergence=(
            f"Your steps ran inside torch.func's transforms, whose numbers cannot be read; the value that came back, "
            f"{_fmt(first.value)} at x = {_fmt(sample)}, is not the gradient ({_fmt(want)})."))
    sentence, at, ref_at = (None, None, None) if unread else _first_difference(student, ref_steps, sample)
    if sentence is not None and right and proven:
        # (of the call as sent: `first` lost its empty passes, and with them the order their leaves are in: rt180)
        chain = _of_the_chain(traced.student[0], ex, x)
        by_hand = _by_hand(chain, ref_steps, ex, sample, x) if judge else None
        if by_hand is not None:
            return replace(base, divergence=by_hand, by_hand=True)
        if judge and _no_chain_ran(traced.student[0], chain, ex):
            return replace(base, description="no backward pass of the function's ran, nor forward mode",
                           divergence=_neither_pass_nor_forward(ex, scratch=True), by_hand=True)
        # Another route to the right gradient (a norm instead of a sum of squares): not a mistake.
        if _route(student) == _route(ref_steps):  # "SinBackward0 where the reference's runs SinBackward0"
            return replace(base, description=f"the reference's steps ({_route(student)}) with other gradients "
                                             "flowing through them; the value agrees")
        return replace(base, description=f"another route to the same gradient: {_route(student)} where the "
                                         f"reference's pass runs {_route(ref_steps)}")
    second = traced.student[1] if len(traced.student) > 1 else first
    value = float(ex.function_values(x.reshape(-1)).reshape(-1)[traced.index]) if ex.elementwise else None
    if sentence is None and not right and first.kind == "tensor" and first.value is not None and \
            value is not None and _close(first.value, value) and not _close(value, want):
        # What came back is the function's own value, whatever the pass left in x.grad (ux111: `return y`
        # after backward on the caller's x was told only that two passes accumulated in x.grad)
        return replace(base, divergence=(
            f"Your backward pass ran, but your {ex.function} returned {_fmt(first.value)} at x = {_fmt(sample)}, "
            f"the value of {ex.value} itself, not its derivative ({_fmt(want)}): after y.sum().backward(), return "
            "x.grad, not y."), diverges_at=len(student) - 1 if student else None)
    if sentence is None and not (right and agrees(second.value)):
        accumulated = _accumulated(traced, sample)
        if accumulated is not None:
            steps, sentence, at = accumulated
            return replace(base, student=steps, divergence=sentence, diverges_at=at)
        if not right and student:
            sentence, at = _not_returned(first, want, sample, ex.function, traced.dtype), len(student) - 1
    detour = sentence is not None or (student and _route(student) != _route(ref_steps) and
                                      any(s.op == ex.backward_step for s in student))
    if right and not proven and detour:
        if moved:
            # The right gradient by a route the canary could not prove: -sin(-x) (where "every
            # gradient after it is -1 times what it should be" was false: a second NegBackward0 undid
            # it), or sin of a range-reduced x (steps that pass the gradient on as it came). The
            # answers moved under the canary, so they came from such a pass.
            sentence, at = _unproven_route(student, ref_steps, ex, sample, at)
            return replace(base, divergence=sentence, diverges_at=at, reference_at=ref_at)
        sentence = None  # none moved: whatever the route, the answer is another's ("did not come from it")
    if sentence is None and not proven and right and (moved or shown_somewhere):
        # The pass and the value agree here, and every answer moved under the canary, or some showed
        # autograd: what failed lies on other inputs (a hunter's x ** 2.0000001, NaN below 0, was told
        # its answer "did not come from" this pass, and another's sum over the last dimension only, the
        # whole sum at this 1-d input, too).
        return replace(base, divergence=(
            f"Your pass at x = {_fmt(sample)} is the reference's and its value agrees, but on other inputs your "
            f"answers did not follow autograd of {ex.watched} under the canary (see autograd)."))
    if sentence is None and not proven:
        return replace(base, divergence=(
            "Your pass ran, but the answer you returned did not come from it: under the canary it did not follow "
            f"autograd's derivative of {ex.primitive} (see autograd)."))
    if sentence is None and unread:
        return replace(base, description=(
            "the steps ran inside torch.func's transforms, whose numbers cannot be read; the value agrees"))
    if sentence is None and max(first.passes, len(first.runs)) > 1:
        return replace(base, description=f"{max(first.passes, len(first.runs))} backward passes ran; the "
                                         f"{'first' if shown == 0 else 'one from x'} is shown")
    return replace(base, divergence=sentence, diverges_at=at, reference_at=ref_at)


def _from_x(runs: Sequence[Sequence[TracedStep]], sample: float) -> int:
    """Which of a call's passes to show: the first that took a step at x's own number, where an earlier
    one did not (a self-test of autograd at another point first: hn124's cos(p) at p = 0.3 was shown, and
    told "another route to the same gradient" beside the reference's Cos → Pow); else the first."""
    for k, run in enumerate(runs):
        if any(step.u is not None and math.isfinite(step.u) and _close(step.u, sample) for step in run):
            return k
    return 0


def _by_hand(call: TracedCall, reference: Sequence[Step], ex: Exercise, sample: float,
             xs: np.ndarray | None = None) -> str | None:
    """Words for a pass that gave the right answer, autograd of the primitive proven, but left part of
    the exercise's chain to a formula of the student's (rt155: 10/10 for u = (x²).detach() through
    cos, then u.grad·2x; for autograd of log_sin's sin term alone, the other terms written out). The
    canary proves the primitive's derivative only, so this is the pass's evidence, for a TA, never
    the score: every pass of the call took no step with a derivative of its own besides the
    primitive's where the reference's takes others, or one began at a tensor of the student's own
    holding other numbers than x's (`xs`, the whole input: autograd from ‖x‖² + 1 on; hn129's pass on
    x.flip(0), its gradient flipped back, holds x's numbers in another order). Not where passes went
    unrecorded past MAX_RUNS (hn129's cos(u[i]) one element at a time, then one pass from x with
    grad_outputs: the four recorded took cos's step alone)."""
    op = ex.backward_step
    theirs = {reference[i].op for i in _math(reference)} - {op}
    runs = [run for run in call.runs if run]
    if not theirs or not runs or call.more_runs:
        return None  # (sin(x) is the primitive alone; forward mode and torch.func's vmap leave no pass)
    xs = np.array([sample]) if xs is None else xs.reshape(-1)
    # (a dual never unpacked carried nothing to the answer: rt181's scratch dual of 0, made and dropped)
    if _forward_unread(call) or (call.tangents and any(_dual_of_x(d, xs) for d in call.duals)):
        return None  # (forward mode, from x or unread under vmap, may have given the rest: rt178's jacfwd of the whole
        # function beside a check of autograd of sin at x, and its jvp of x² beside cos's pass at a leaf x²)
    route = _route(reference)
    mine = {s.op for run in runs for s in run if s.op not in STRUCTURAL} - {op, "AccumulateGrad"}
    if not mine:
        return (f"Your backward pass took {ex.primitive}'s step alone where the reference's runs {route}: autograd "
                f"gave {ex.primitive}'s derivative, and the rest of the derivative came from a formula of your own, "
                f"not from autograd. The exercise asks for autograd of {ex.value} itself: compute it from x and call "
                "backward on it (or torch.autograd.grad).")
    # Where the passes begin: the steps that took their input from a leaf (or where a pass ended). Only
    # where every one is a step of one input that saved a number other than x's is none a pass from x:
    # a chain rule in two passes through autograd (cos's at u = x², then u's at x with grad_outputs,
    # u = x·x or a dot product: rt156) is autograd's all the way, and a step of two inputs (x·x) or
    # one that saves no input tells nothing of where it began.
    starts = [s for run in runs for i, s in enumerate(run)
              if s.op not in STRUCTURAL and s.op != "AccumulateGrad" and _input_expression(run, i, {}) == "x"]
    if starts and all((FORMULAS.get(s.op, (None, ""))[0] is not None or s.op == "PowBackward0") and s.u is not None
                      and math.isfinite(s.u) and not _among(xs, s.u) for s in starts):
        return (f"Your backward pass began at a tensor of your own holding {_fmt(starts[0].u or 0.0)}, not at x "
                f"({_fmt(sample)}): autograd differentiated from there, and the steps from x to it (in the "
                f"reference's pass {route}) came from a formula of your own. The exercise asks for autograd "
                f"of {ex.value} itself: compute it from x and call backward on it.")
    return None


def _forward_by_hand(call: TracedCall, answer: float | np.ndarray | None, x: np.ndarray, index: int, ex: Exercise,
                     dtype: str) -> str | None:
    """Words for a right answer, autograd of the primitive proven, that no backward pass gave, where
    forward mode began at a tensor of the student's own (rt174: jvp(cos, (x², ), (2x, )), the chain's
    factor the seed) or carried the primitive's derivative alone to the end (rt172: jvp of sin alone, the
    chain by hand: 10/10 and never listed); None otherwise, or where nothing was read (jacfwd's, under
    vmap, cannot be). Not "the tangent is not the answer": rt174's honest jvp with a seed of 2 (then
    halved), of -1, or a basis vector at a time in reverse, was told it finished the chain by hand. A
    primal or a tangent is read at the sample element, or is one number (a dual of x[i]; a directional
    derivative): any element of x, or of the answer, may be it."""
    tolerance = ex.tolerances.get(dtype)
    values = np.atleast_1d(np.asarray(answer, dtype=np.float64)).reshape(-1) if answer is not None else np.array([])
    flat = x.reshape(-1)
    if tolerance is None or not values.size or not flat.size:
        return None
    if _forward_unread(call):
        return None  # (one unread, under vmap say, may have been x's or the answer: rt175's self-check by a jvp of
        # sin beside a vmapped jvp of the whole function was told it carried sin's derivative alone)
    primals = [p for p in call.duals if p is not None and math.isfinite(p)]
    at = float(flat[index])
    arguments = [np.atleast_1d(np.asarray(a, dtype=np.float64)).reshape(-1) for a in ex.primitive_arguments(x)]
    # Begun at the primitive's own argument (x² for cos(x²)), never at x: a dual of anything else may be
    # autograd's all the way (hn129: f(x + h) at h = 0, the derivative's own definition)
    began = next((p for p in primals if any(_among(a, p) for a in arguments)), None)
    if began is not None and not any(_dual_of_x(p, flat) for p in primals):
        return (f"Your forward mode began at {ex.primitive}'s own argument, a tensor of yours holding "
                f"{_fmt(began)}, not at x ({_fmt(at)}): forward mode differentiated {ex.primitive} alone, and "
                "the steps from x to its argument (the tangent you gave it) came from a formula of your own, not "
                f"from autograd. The exercise asks for autograd of {ex.value} itself: push a tangent from x through "
                "the whole function (torch.func.jvp(f, (x,), (torch.ones_like(x),))) and return it.")
    read = [t for t in call.tangents if t is not None and math.isfinite(t)]
    if not read or any(np.any(np.abs(values - t) <= tolerance.atol + tolerance.rtol * np.abs(values)) for t in read):
        return None  # (one of them is the answer, at some element)
    answered = float(values[index] if values.size == flat.size else values[0])
    # The primitive's derivative at the sample element (or at its one argument: sin_cos_norm's)
    primes = [float(d[index] if d.size == flat.size else d[0]) for a in arguments if a.size
              for d in [np.atleast_1d(np.asarray(formula.evaluate(ex.derivative, np, u=a), dtype=np.float64))]]
    agrees = lambda t, want: _within(t, want, tolerance.atol, tolerance.rtol)  # noqa: E731
    # A dual of a number none of the chain's tensors hold is forward mode of the student's own: as many
    # tangents as there are such duals, that are neither the primitive's derivative nor the answer, are set
    # aside (rt178's scratch jvp of exp at 0.3 beside sin's alone). Only where there are no more of those:
    # otherwise which is whose cannot be told.
    numbers = _chain_numbers(ex, x)
    # (not a perturbation's 0, which is x's: rt180's honest jvp at h = 0 seeded 2, beside a check of sin's)
    own = sum(not _among(numbers, p) and not _dual_of_x(p, flat) for p in primals)
    foreign = [t for t in read if not any(agrees(t, p) for p in primes)]
    if own and foreign and len(foreign) <= own:
        read = [t for t in read if t not in foreign]
    if not read:
        return None
    if not primes or any(agrees(p, answered) for p in primes) or \
            not all(any(agrees(t, p) for p in primes) for t in read):
        return None
    return (f"Your forward mode carried {ex.primitive}'s derivative alone: at x = {_fmt(at)} its tangent was "
            f"{_fmt(read[0])}, the derivative of {ex.primitive} there, and your {ex.function} returned "
            f"{_fmt(answered)}, so the rest of the derivative came from a formula of your own, not from autograd. "
            f"The exercise asks for autograd of {ex.value} itself: push the tangent through the whole function "
            "(torch.func.jvp(f, (x,), (torch.ones_like(x),))) and return it.")


def _nothing_ran(call: TracedCall) -> bool:
    """Whether a call ran the primitive but neither a backward pass nor forward mode, where its answer followed
    autograd's derivative of the primitive: that derivative was read by hand (rt212: the canary's operator called
    at x², or a graph's saved numbers, times 2x), and the chain's rest written out. Forward mode is a tangent
    unpacked (under vmap too, unread): a dual made and never unpacked carries nothing out (rt222's scratch
    `make_dual(zeros, ones)` beside the operator called by hand switched the rule off, at 10/10)."""
    # (a pass that recorded no step at all, every pass recorded, is none: rt223's `ones((), requires_grad=True)
    # .backward()`, or an autograd.grad that raised, beside the operator called by hand, switched the rule off)
    stepless = not any(call.runs) and _all_recorded(call)
    return call.primitive_calls > 0 and (call.passes == 0 or stepless) and not call.tangents


def _all_recorded(call: TracedCall) -> bool:
    """Whether every backward pass the call ran was recorded whole (none past the four recorded, no graph cut)."""
    return call.passes <= len(call.runs) and not call.cut and not call.more_runs


def _no_chain_ran(call: TracedCall, chain: TracedCall, ex: Exercise) -> bool:
    """_nothing_ran, or every backward pass the call ran recorded, with no forward mode, and either set aside as
    none of the chain's (_of_the_chain: `chain`) or none of them taking the primitive's step: rt215's scratch
    `(t * 3).sum().backward()` on numbers of its own, beside the primitive's derivative read by hand, made the
    call one whose passes were looked at, and it was never listed; rt222's on a leaf of x's size, or on a copy
    of x (`(leaf * 1.0).sum()`), is the chain's by its numbers, yet no pass without sin's step gave sin's
    derivative."""
    if _nothing_ran(call):
        return True
    if not (call.primitive_calls > 0 and call.passes > 0 and _all_recorded(call) and not call.tangents):
        return False
    return not chain.runs or not any(step.op == ex.backward_step for run in chain.runs for step in run)


def _neither_pass_nor_forward(ex: Exercise, scratch: bool = False) -> str:
    ran = (f"Your {ex.function}'s backward passes differentiated nothing of {ex.value} (numbers of their own alone), "
           "and it ran no forward mode") if scratch else \
        f"Your {ex.function} ran neither a backward pass nor forward mode"
    # (sin(x) alone has no rest: its derivative, read by hand, is the whole answer: rt220's on sin were unlisted)
    rest = ", and the rest of the derivative came from a formula of your own, not from autograd" if ex.chain else \
        ", not computed by autograd"
    return (f"{ran}, yet its answer followed autograd's "
            f"derivative of {ex.primitive}: that derivative was read by hand (an operator of autograd's called "
            f"yourself, or numbers a graph saved){rest}. The exercise asks for autograd of {ex.value} itself: compute "
            "it from x and call backward on it (or torch.autograd.grad).")


def _forward_unread(call: TracedCall) -> bool:
    """Whether a dual or a tangent of the call's forward mode could not be read (under vmap, say)."""
    return None in call.duals or None in call.tangents


def _dual_of_x(primal: float | None, xs: np.ndarray) -> bool:
    """Whether a dual's primal may be x's: one of x's numbers, or 0, a perturbation's (f(x + h) at h = 0:
    rt179's honest jvp at h = 0 of the whole function, and of x² beside cos's pass, were listed)."""
    return primal is not None and (primal == 0.0 or _among(xs, primal))


def _unproven_route(student: Sequence[Step], reference: Sequence[Step], ex: Exercise, sample: float,
                    at: int | None) -> tuple[str, int | None]:
    """Words for a pass that reaches the right gradient by another route, where autograd of the
    primitive at x was not shown, and the step to mark: the primitive's, where it was not taken at x."""
    route = f"Your pass reaches the right gradient by another route ({_route(student)} where the reference's runs " \
            f"{_route(reference)})"
    name, op = ex.primitive, ex.backward_step
    # Where the reference takes the primitive's derivative: at x for sin(x), at x² for cos(x²) (a
    # hunter's exp(2·log x) for x², at the reference's own u, was marked wrong "rather than at x").
    theirs = next((s.at for s in reference if s.op == op and s.at), None)
    want = _at_number(theirs) if theirs else sample
    k = next((i for i, s in enumerate(student) if s.op == op), None)
    mine = _at_number(student[k].at) if k is not None and student[k].at else None
    if k is not None and mine is not None and want is not None and not _close(mine, want):
        where = "x itself" if theirs is None or want == sample else f"{_fmt(want)}, where the reference's pass takes it"
        return (f"{route}, differentiating {name} at {student[k].at} rather than at {where}: the canary swaps "
                f"{name}'s derivative at the numbers {name} is given, so your answer followed it there, and "
                f"autograd of {ex.watched} is not shown (see autograd).", k)
    return f"{route}, but autograd of {ex.watched} is not shown for every input (see autograd).", at


def _at_number(at: str) -> float | None:
    """The number a step's "u = ... = 0.5625" names (None where it names none)."""
    try:
        return float(at.rsplit("=", 1)[-1])
    except ValueError:
        return None


def _not_returned(call: TracedCall, want: float, sample: float, function: str, dtype: str) -> str:
    """A pass like the reference's whose gradient is not what came back: less precise, or another value."""
    if call.value is not None and _close(call.value, want):
        return (f"Your backward pass matches the reference's step for step, but its answer came back less precise "
                f"than the {dtype} input allows ({call.value:.12g} where the reference's is {want:.12g}): keep the "
                "input's dtype through the pass.")
    names = {"NoneType": "None", "ndarray": "a NumPy array"}
    got = (f"{_fmt(call.value)} at x = {_fmt(sample)}" if call.kind == "tensor"
           else names.get(call.about, f"a {call.about or 'value'}"))
    return (f"Your backward pass matches the reference's step for step, but your {function} returned {got}, not the "
            f"gradient the pass computed ({_fmt(want)}): return the gradient itself (x.grad, or what "
            "torch.autograd.grad gave), as a tensor, untouched after the pass.")


def steps_of(run: Sequence[TracedStep], sample: float) -> tuple[Step, ...]:
    """A recorded pass as Steps: numbers, formula and where the local derivative was taken."""
    expressions: dict[int, str | None] = {}
    return tuple(_step(run, i, expressions, sample) for i in range(len(run)))


def _step(run: Sequence[TracedStep], i: int, expressions: dict[int, str | None], sample: float) -> Step:
    s = run[i]
    out = s.grad_out[0] if s.grad_out else None
    if s.op == "AccumulateGrad" and s.grad_in is not None:
        out = s.grad_in + (s.held or 0.0)  # what x.grad holds after the pass
    local = s.local
    if local is None and s.op != "AccumulateGrad" and s.grad_in not in (None, 0.0) and out is not None:
        local = out / s.grad_in
    formula = FORMULAS.get(s.op, (None, ""))[1]
    if s.op == "PowBackward0" and s.constant is not None:
        n = s.constant
        formula = f"d/du u{_power(n)} = {_fmt(n)}·u{_power(n - 1)}" if n != 2 else "d/du u² = 2u"
    targets = {n for n in s.next if n >= 0}
    edges = [g for g in s.grad_out[:2] if g is not None]
    if s.op in ("MulBackward0", "DotBackward0") and s.one_input and \
            len(edges) == 2 and s.grad_in:
        # u·u: both factors are one tensor, and what reaches it is the sum of both edges' gradients
        # (ux117's sin(x·x) was told "×0.75 in all" at x = 0.75, one edge's, where 2x is 1.5; hn127's
        # torch.dot(v, v) and v @ v "no formula known, here 0.75")
        out = sum(edges)
        return Step(s.op, s.grad_in, out / s.grad_in, out, "d/du (u·u) = 2u", "", tuple(sorted(targets)))
    if s.op == "MulBackward0" and s.other is not None:
        both = s.u is not None and len(s.next) > 1
        formula = f"d/du (u·v) = v = {_fmt(s.other)}" + (f"; d/dv (u·v) = u = {_fmt(s.u)}" if both else "")
        if both:
            return Step(s.op, s.grad_in, local, out, formula, "", tuple(n for n in s.next if n >= 0))
    u_name = _input_expression(run, i, expressions)
    if u_name == "x" and s.u is not None and not _close(s.u, sample):
        u_name = None  # a leaf of the student's own (x**2 detached, say), not x
    at = ""
    if s.u is not None:
        at = f"u = {u_name} = {_fmt(s.u)}" if u_name and u_name != _fmt(s.u) else f"u = {_fmt(s.u)}"
    elif s.held is not None:
        at = f"x.grad held {_fmt(s.held)} before this pass"
    return Step(s.op, s.grad_in, local, out, formula, at, tuple(n for n in s.next if n >= 0))


def _input_expression(run: Sequence[TracedStep], i: int, memo: dict[int, str | None]) -> str | None:
    """The step's input u in terms of x ("x²" for cos(x²)), where the ops below it say it."""
    below = [n for n in run[i].next if n >= 0]
    if not run[i].next or not below:
        return "x"  # the pass ended here: its input is the tensor the gradient is taken for
    return _output_expression(run, below[0], memo)


def _output_expression(run: Sequence[TracedStep], i: int, memo: dict[int, str | None]) -> str | None:
    if i in memo:
        return memo[i]
    memo[i] = None  # a cycle (never in autograd's graphs) ends here
    s = run[i]
    inner = "x" if s.op == "AccumulateGrad" else _input_expression(run, i, memo)
    shape = FORMULAS.get(s.op, (None, ""))[0]
    name: str | None = None
    if s.op == "AccumulateGrad":
        name = "x"
    elif inner is None:
        name = None
    elif s.op in STRUCTURAL and s.op not in ("SumBackward0", "SumBackward1"):
        name = inner
    elif shape is not None:
        name = shape.format(inner if len(inner) <= 2 or inner.endswith(")") else f"({inner})")
    elif s.op == "PowBackward0" and s.constant is not None:
        name = f"{inner if len(inner) <= 2 else f'({inner})'}{_power(s.constant)}"
    memo[i] = name
    return name


def _first_difference(student: Sequence[Step], reference: Sequence[Step],
                      sample: float) -> tuple[str | None, int | None, int | None]:
    """The first place the student's math steps differ from the reference's, in words: where the
    pass started, then a factor missing or added, then a factor with another value."""
    if not reference:
        return None, None, None
    mine, theirs = _math(student), _math(reference)
    if mine and theirs:
        a, b = student[mine[0]], reference[theirs[0]]
        if _differ(a.grad_in, b.grad_in):
            scaled = "x" if _close(a.grad_in, sample) else _fmt(a.grad_in)
            hint = " (`y.backward(x)`)" if scaled == "x" else ""
            return (f"Your backward pass started from {scaled} instead of ones{hint}, so every step was multiplied "
                    f"by {scaled}: {a.op} received {_fmt(a.grad_in)} where the reference's received "
                    f"{_fmt(b.grad_in)}. Start it from ones: y.sum().backward() or "
                    "y.backward(torch.ones_like(y)).", mine[0], theirs[0])
    missing = _unmatched([reference[j] for j in theirs], [student[i] for i in mine])
    extra = _unmatched([student[i] for i in mine], [reference[j] for j in theirs])
    # (a sum alone missing has words of its own below: each element alone, or a mean instead)
    sum_only = bool(missing) and all(reference[theirs[m]].op.startswith("SumBackward") for m in missing)
    elsewhere = _taken_elsewhere(student, reference, mine, theirs) if (missing or extra) and not sum_only else None
    if elsewhere is not None:
        # A step both passes have, taken at another u: the steps below it made its input, and
        # blaming one of them alone was false (degrees' DivBackward0 "made every gradient after it
        # 0.005556 times what it should be", where a MulBackward0 by π followed and sin was taken at
        # x·π/180; log(x) for log(x²) was told only that 2u was missing).
        i, j = elsewhere
        a, b = student[i], reference[j]
        # (listed from x up, as the forward pass ran them)
        ours = [student[mine[k]] for k in reversed(extra)]
        theirs_only = [reference[theirs[k]] for k in reversed(missing)]
        if ours:
            product = math.prod(s.local for s in ours if s.local is not None)
            via = (f": between x and it, your pass has {listed(s.op for s in ours)} (×{_fmt(product)} in all), "
                   f"{'a step' if len(ours) == 1 else 'steps'} the reference's does not have"
                   + (f", and not its {listed(s.op for s in theirs_only)}" if theirs_only else ""))
        else:
            via = f": between x and it, the reference's has {listed(s.op for s in theirs_only)}, and yours does not"
        return f"Your pass took {a.op} at {a.at}, where the reference's took it at {b.at}{via}.", i, j
    if missing:
        k = theirs[missing[0]]
        b = reference[k]
        instead = f" (it has {student[mine[extra[0]]].op} instead)" if extra else ""
        if b.op.startswith("SumBackward"):
            other = next((student[i].op for i in mine if any(w in student[i].op for w in REDUCTIONS)), None)
            took = f"yours reduces with {other} instead" if other else "your pass took each element alone"
            return (f"Your graph has no {b.op} inside the function: the reference's sums over every element of x "
                    f"before the steps above it, and {took}.", None, k)
        if _whole_term_missing(reference, k, {theirs[m] for m in missing}):
            # One branch of a sum or a product: a term missing, not a factor of the chain (a helper's
            # dropped + 1/x was told that the chain-rule factor -1/u² was missing)
            return (f"Your graph has no {b.op}: a term of the reference's pass runs through it "
                    f"({b.formula or b.op}, {_fmt(b.local)} here), and yours has no such term{instead}.",
                    mine[extra[0]] if extra else None, k)
        return (f"Your graph has no {b.op}: the chain-rule factor {b.formula or b.op} ({_fmt(b.local)} here) is "
                f"missing{instead}.", mine[extra[0]] if extra else None, k)
    if extra:
        k = mine[extra[0]]
        a = student[k]
        return (f"Your pass has a {a.op} step that the reference's does not ({a.formula or a.op}; ×{_fmt(a.local)} "
                f"here), so every gradient after it is {_times(a.local)}.", k, None)
    for i, j in zip(mine, theirs, strict=False):
        a, b = student[i], reference[j]
        if a.op != b.op:
            order = "the same steps in another order (composed the other way round?)" if sorted(
                student[k].op for k in mine) == sorted(reference[k].op for k in theirs) else f"{a.op} where the " \
                f"reference's has {b.op}"
            return (f"Your pass runs {_route(student)} where the reference's runs {_route(reference)}: {order}.", i, j)
        if _differ(a.local, b.local):
            return (f"At {a.op} your pass applied {_fmt(a.local)} where the reference's applied {_fmt(b.local)}"
                    f"{_at_words(a, b)}.", i, j)
    return None, None, None


def _taken_elsewhere(student: Sequence[Step], reference: Sequence[Step], mine: list[int],
                     theirs: list[int]) -> tuple[int, int] | None:
    """The first step (from the output down) that both passes have, paired in order by op, whose
    input u differs: (its index in the student's pass, in the reference's)."""
    left = list(theirs)
    for i in mine:
        j = next((j for j in left if reference[j].op == student[i].op), None)
        if j is None:
            continue
        left.remove(j)
        a, b = _u_of(student[i]), _u_of(reference[j])
        if a is not None and b is not None and _differ(a, b):
            return i, j
    return None


def _whole_term_missing(reference: Sequence[Step], k: int, missing: set[int]) -> bool:
    """Whether step k lies on one branch of a sum or product (a step with two `next`) whose every
    step with a factor of its own is missing from the student's pass: a term left out, not a factor
    of a chain."""
    def below(i: int) -> set[int]:
        seen, todo = set(), [i]
        while todo:
            j = todo.pop()
            if j not in seen and 0 <= j < len(reference):
                seen.add(j)
                todo.extend(reference[j].next)
        return seen

    for step in reference:
        for child in step.next if len(step.next) > 1 else ():
            branch = below(child)
            if k in branch and all(j in missing or reference[j].local is None or _close(reference[j].local, 1.0)
                                   for j in branch):
                return True
    return False


def _u_of(step: Step) -> float | None:
    """The number in a step's "u = x² = 0.5625", as written."""
    if not step.at.startswith("u = "):
        return None
    try:
        return float(step.at.rsplit("= ", 1)[1])
    except ValueError:
        return None


def _math(steps: Sequence[Step]) -> list[int]:
    """The steps with a derivative of their own. A sum is one inside the function (‖x‖²), not where
    the pass starts (y.sum().backward()), after nothing but steps that only move numbers about
    (hn128: jacobian(lambda t: sin(t).sum(), x) starts with Select and View, and its sum was told as
    "another route" beside the reference's, drawn with the same sum)."""
    found, started = [], False
    for i, s in enumerate(steps):
        started = started or s.op not in STRUCTURAL
        if s.op not in STRUCTURAL or (s.op.startswith("SumBackward") and started):
            found.append(i)
    return found


def _unmatched(these: Sequence[Step], those: Sequence[Step]) -> list[int]:
    """Positions in `these` whose op `those` lacks (counting repeats), the telling ones first: a
    factor that is not 1 here says more than an addition."""
    left = [s.op for s in those]
    found = []
    for k, step in enumerate(these):
        if step.local is not None and _close(step.local, 1.0) and not step.op.startswith("SumBackward"):
            continue  # a factor of 1 here (u + c, u * 1.0) changes no gradient
        if step.op in left:
            left.remove(step.op)
        else:
            found.append(k)
    return found


def _accumulated(traced: Traced, sample: float) -> tuple[tuple[Step, ...], str, int] | None:
    """A pass that added to a gradient an earlier pass left on the same leaf (the second call on
    one tensor, or two passes in one call)."""
    passes = [(n, run) for n, call in enumerate(traced.student) for run in call.runs]
    for later, (n, run) in enumerate(passes):
        for i, step in enumerate(run):
            added_to = step.held not in (None, 0.0) and step.grad_in not in (None, 0.0)
            if step.op == "AccumulateGrad" and later and added_to:
                steps = steps_of(run, sample)
                held, added = _fmt(step.held), _fmt(step.grad_in)
                # Two passes in one call need one pass, not a fresh leaf (a helper's backward(retain_graph=True)
                # twice was told to use a fresh leaf each call, which it did)
                one_call = passes[later - 1][0] == n
                advice = ("Run one backward pass per call (or take the gradient with torch.autograd.grad, which "
                          "returns it instead of adding it)." if one_call else
                          "Use a fresh leaf each call (x.detach().clone().requires_grad_(True)) or "
                          "torch.autograd.grad, which returns the gradient instead of adding it.")
                return steps, (f"Two passes ran over the same leaf{' in one call' if one_call else ''}, so the "
                               f"gradient accumulated: x.grad already held {held} from the earlier pass and this one "
                               f"added {added}, giving {_fmt(steps[i].grad_out)}. {advice}"), i
    return None


def _no_pass(call: TracedCall, ex: Exercise, want: float, obs: Observations, proven: bool,
             right: bool) -> tuple[str, str | None]:
    primitive = f"torch.{ex.primitive}"
    if call.primitive_calls == 0:
        line = next((f" (line {h.line} calls {h.name})" for h in obs.source_hits), "")
        return (f"no backward step ran: {primitive} never ran",
                f"No backward step ran: the value did not come from autograd{line}; {primitive} never ran in this "
                "call, so there was nothing to differentiate.")
    if not proven:
        return (f"no backward pass ran, yet {primitive} did", f"No backward pass ran, yet {primitive} did, and the "
                f"canary did not show your answer following autograd's derivative of {ex.primitive} (see autograd).")
    # Nothing records forward mode or TorchScript's own engine: say what is known, not a guess.
    description = (f"no backward pass ran, yet {primitive} did: the derivative was carried forward "
                   "(forward-mode AD, jvp or jacfwd) or by an engine the grader cannot watch")
    sentence = None if right else (
        f"{description}; its value here is {_fmt(call.value)}, not {_fmt(want)}.")
    return description, sentence


def _differ(a: float | None, b: float | None) -> bool:
    """Known on both sides and not the same (a number torch.func kept out of reach is unknown)."""
    return a is not None and b is not None and not _close(a, b)


def _within(got: float | None, want: float, atol: float, rtol: float) -> bool:
    """Within the dtype's tolerance, as correctness judges (a float32 answer is not float64's)."""
    return got is not None and (abs(got - want) <= atol + rtol * abs(want) or (math.isnan(got) and math.isnan(want)))


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7) or (math.isnan(a) and math.isnan(b))


def _among(values: np.ndarray, number: float) -> bool:
    """Whether `number` is close to one of `values`, as _close has it (a leaf or a dual holding x's
    numbers in another order, or one element of x's)."""
    return bool(np.any(np.isclose(values, number, rtol=1e-5, atol=1e-7)))


def _route(steps: Sequence[Step]) -> str:
    ops = [steps[i].op for i in _math(steps)] or [s.op for s in steps]
    return " → ".join(ops[:8]) + (" → …" if len(ops) > 8 else "")


def _at_words(a: Step, b: Step) -> str:
    return f" (at {a.at}; the reference's at {b.at})" if a.at and b.at and a.at != b.at else ""


def _times(local: float | None) -> str:
    return f"{_fmt(local)} times what it should be" if local is not None else "off"


def _fmt(value: float | None) -> str:
    if value is None:
        return "unknown"
    if math.isfinite(value) and value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def _power(n: float) -> str:
    return _fmt(n).translate(SUPERSCRIPT)


def written_steps(steps: Sequence[Step]) -> list[str]:
    """A pass written out, a line per step: its local derivative as a formula beside its value,
    and the gradient in and out ("CosBackward0: d/du cos(u) = -sin(u), at u = x² = 0.25, here -0.2474")."""
    lines = []
    for k, s in enumerate(steps, 1):
        where = f", at {s.at}" if s.at and s.local is not None else f" ({s.at})" if s.at else ""
        value = f", here {_fmt(s.local)}" if s.local is not None else ""  # (": 1" after "= 1" read as a typo)
        flow = f"; gradient {_fmt(s.grad_in)} in, {_fmt(s.grad_out)} out" if s.grad_in is not None else ""
        lines.append(f"{k}. {s.op}: {s.formula or 'no formula known'}{where}{value}{flow}")
    return lines


def headline(recorded: BackwardPass) -> str:
    """One line: whether the student's pass agrees with the reference's, and where not."""
    if recorded.divergence is not None:
        return recorded.divergence
    if recorded.description:
        return recorded.description[0].upper() + recorded.description[1:] + "."
    if not recorded.reference:
        return "Your backward pass ran; the reference's could not be recorded to compare."
    return "Your backward pass agrees with the reference's, step for step."
