"""The canary, parent side: did an input's answers come through autograd of the primitive?

Each input was answered once with autograd's true derivative of the primitive (plain) and once
with a secret one (sandbox/canary.py), and the submission could not tell which was which. With R
the reference and R* the reference under the secret (the gradient formula with the secret
derivative, computed here in float64), an input is:

  proven     the plain answer is R and the secret answer is R*, both within tolerance: the only
             credit-earning verdict for a right answer;
  follows    a wrong answer that moved exactly as autograd's would (scaled: S·R == P·R*, as 2·sin or
             y.backward(x) give; or shifted by a term the secret leaves alone: S − P == R* − R, as a
             dropped + 1/x gives; or, where the plain answer is wrong, by a constant multiple of that:
             S − P == k·(R* − R), as log10 for log gives): autograd was used, of the wrong function;
  bypassed   the answer did not move when autograd's derivative did: computed some other way;
  raised     it raised only under the secret (a self-check of autograd against a formula, or a
             submission telling calls apart);
  nothing    it returned no values only under the secret (or only on the plain call);
  partly     it moved, but not as autograd's would: a mixture, or a guess at which call is secret;
  unsteady   two calls of the same kind (both plain, or both secret, each on a fresh copy of the
             input) answered differently, or the dtype of the answer changed between calls: it
             depends on something besides x and the derivative;
  rounded    answers in a dtype coarser than the input's (bfloat16 for float32, say) whose rounding
             hides whether they moved, and answers in half precision (plain or secret; a half
             dtype, or four distinct numbers or more that a half dtype holds) for a finer input,
             whose tolerance a table of autograd's values 0.01 apart meets: unproven (such an
             answer is no evidence, and a formula could hide behind it). Float64 answers whose
             numbers are all float32's are judged as float32 (autograd on x.float(), cast back);
  unfollowed it did not move, but some of its calls of the primitive ran on a tensor whose numbers
             the canary cannot reach (sparse, or a subclass of the submission's): unproven, and not
             called a bypass;
  forged     it moved exactly as autograd's would, yet the primitive never ran during its calls
             (by the child's count, which a submission can forge too): the grader's operator or
             its channel asked without a call of the primitive (a red team's cheats found the
             canary's kernel on the heap), which autograd of the exercise never does;
  unasked    it followed, yet some call of the input never asked the primitive's derivative at all
             the numbers it is taken at (the grader's oracle counts each call's asks): a call that
             did not ask cannot have gone through autograd there. A red team's asked the grader's
             operator about a number of its own to tell the secret call apart, returned cos(x) on
             plain calls and the operator's answer at x on secret ones: 10/10 before;
  zero       both answers zero wherever the secret would move the reference (y.backward(x) at x = 0,
             or zeros returned): no evidence either way, unless every input is like that;
  coarse     an input whose own dtype is too coarse (its tolerance, with the secret's slack) for the
             secret's move to show: an answer that never moved would pass as one that did, so no
             evidence either way (bfloat16 inputs, on an accelerator); so too float32 answers for a
             float64 input where float32 cannot show it (a chain-rule factor near 0);
  no_data    nothing on this input that the secret changes, or no values on either call where it
             changes nothing;
  unread     no values on either call (None, an error, another shape, NaN wherever the secret
             would show), or a call that ran out of what the sandbox bounds, on an input where the
             secret would have shown: no evidence
             either way, and none for the inputs that cannot show it either. A red team's file ran
             autograd on one input, returned None on every other input that could show it, and
             cos(x²)·… worked out by hand on the 27 of 58 that could not: 7.19/10, "came through
             autograd" (checks.py credits those inputs in the share of these that showed it).

Pure: numbers in, a word out. checks.py turns the words into a finding, feedback.py into sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from grader.canary import MAX_MOVE, MAX_SLOPE, MIN_MOVE, Secret
from grader.exercise import Exercise, Tolerance
from grader.grids import GridCase, round_to
from grader.observations import CaseResult, Returned

(PROVEN, FOLLOWS, BYPASSED, RAISED, NOTHING, PARTLY, UNSTEADY, ROUNDED, UNFOLLOWED, FORGED, UNASKED, ZERO, COARSE,
 NO_DATA, UNREAD) = ("proven", "follows", "bypassed", "raised", "nothing", "partly", "unsteady", "rounded",
                     "unfollowed", "forged", "unasked", "zero", "coarse", "no_data", "unread")
HALF = frozenset({"float16", "bfloat16"})
# Verdicts that say nothing either way about autograd.
SILENT = frozenset({ZERO, COARSE, NO_DATA, UNREAD})
# Of those, the inputs that could never show it, whatever came back: they earn value credit only in
# the share of the inputs that could show it and did (checks.py).
UNSEEABLE = frozenset({COARSE, NO_DATA})
# Verdicts that show autograd of the primitive at work; every other judged verdict is unproven.
SHOWN = frozenset({PROVEN, FOLLOWS})
# An input whose own dtype hides the secret's move is 'coarse' (rather than 'no_data') where the move,
# at least MIN_MOVE times the chain rule's factor (canary.py), is larger than this.
_TELLS = 0.05
_ZERO = 1e-3  # an answer this small cannot show whether it moved


@dataclass(frozen=True)
class Judged:
    verdict: str
    index: int = -1  # the element that shows it best (the one furthest from what autograd gives)
    expected: float = float("nan")  # R* there
    got: float = float("nan")  # the answer under the secret there
    plain_right: bool = False  # the plain answer matched the reference
    precision: str = ""  # the coarser dtype whose precision the answers have, where judged so (ROUNDED too)
    bounded: bool = False  # silent by the derivative's bounds alone (judge: only where every number was asked)
    beyond_bounds: bool = False  # the secret moved autograd's answer past the derivative's bounds here


def judge(r: CaseResult, ex: Exercise, secret: Secret, ran_out: bool = False) -> Judged:
    """`ran_out`: this input came once the submission had run out of something the sandbox bounds
    for good (ran_out_from): a call that failed for it says nothing of autograd."""
    judged = _judge(r, ex, secret, ran_out)
    if judged.verdict in SHOWN and r.primitive_calls == 0:
        return replace(judged, verdict=FORGED)
    skipped = bool(r.asked) and not all(r.asked[i] for i in range(len(r.calls)) if i != 1)
    if judged.verdict in SHOWN and skipped:
        return replace(judged, verdict=UNASKED)  # (the repeat on the same tensor only tests repeatability)
    if judged.bounded and (skipped or r.primitive_calls == 0):
        # An input clipped to the bounds everywhere is silent only where sin ran and every number was
        # asked (rt135 and rt136 made inputs silent that way while writing cos(x) out: asks are the
        # least a formula must leave behind). Else it is judged as if the exercise had no bounds (a
        # sparse sin's answers stay "unfollowed").
        return judge(r, replace(ex, bounds=None), secret, ran_out)
    return judged


# Out of memory, descriptors or threads; out of the folder's disk (no space left, a file too large,
# torch.save's writer failing on it) or of output (the pipe the grader stopped reading): a red team's
# honest files that logged, saved or printed on every call scored 1/10 when the first failure fell
# between two calls of one input, and 8.31 or 1.0 by the case the failure fell in.
_EXHAUSTION = re.compile(r"\[Errno (12|24|27|28|32|122)\]|Too many open files|Cannot allocate memory|"
                         r"can't allocate memory|can't start new thread|No space left on device|File too large|"
                         r"Disk quota exceeded|Broken pipe|PytorchStreamWriter failed|inline_container\.cc")


def _exhausted(call: Returned) -> bool:
    """Whether a call raised for running out of a resource the sandbox bounds (memory, files,
    threads, disk, output)."""
    error = call.error if call.kind == "error" else None
    return error is not None and (error.type == "MemoryError" or bool(_EXHAUSTION.search(error.message)))


def ran_out_from(cases: tuple[CaseResult, ...]) -> int | None:
    """The index of the first case with a call that ran out of files, memory or threads, where
    every call after that one ran out too; None otherwise. Running out for good is what a leak
    does; a file that ran out on some calls and answered on later ones chose when it failed (a
    formula on most inputs, "out of files" on one call of each, would leave them all unjudged)."""
    calls = [(i, call) for i, r in enumerate(cases) for call in r.calls]
    first = next((k for k, (_, call) in enumerate(calls) if _exhausted(call)), None)
    if first is None or not all(_exhausted(call) for _, call in calls[first:]):
        return None
    return calls[first][0]


def _judge(r: CaseResult, ex: Exercise, secret: Secret, ran_out: bool = False) -> Judged:
    plain, hidden = values_of(r.plain, r.case), values_of(r.under_secret, r.case)
    truth = ex.reference(r.case.values)
    # Which elements tell never depends on the draw (same file, same score): the secret moves the
    # gradient by MIN_MOVE to MAX_MOVE times the chain rule's factor there, whatever it is. An
    # element tells where an answer that never moved (the truth, within its tolerance) would fall
    # outside the slack round R* with room to spare, for any draw; no fixed floor, so a small factor
    # hides nothing that the tolerance can see (cos(x²) at |x| < 1/6 moves by 0.04 against 1e-10).
    factor = ex.sensitivity(r.case.values)
    reach = MIN_MOVE * factor
    own = ex.tolerance(r.case.dtype)
    possible = reach > 2 * _room(own, truth, factor, ex)  # answered in the input's own dtype
    if plain is None and hidden is None:
        return Judged(UNREAD if possible.any() else NO_DATA)
    if not possible.any():
        # Nothing on this input can show it, whatever comes back: a factor of 0 (x = 0 in 2x), or an
        # input whose own dtype rounds the secret's move away.
        return Judged(COARSE if (reach > _TELLS).any() else NO_DATA)
    where = int(np.argmax(possible))
    moved = ex.reference(r.case.values, secret)
    star = round_to(moved, r.case.dtype)
    if ran_out and any(_exhausted(call) for call, _ in r.judged):
        # A call that ran out of something the sandbox bounds (open files, memory, threads) says
        # nothing of autograd: a hunter's logging handler added on every call ran out of files at
        # about the 120th call, which was a secret one on some runs ("raised only under the
        # secret", 1/10) and a plain one on others (8.04). The values checks count the failure.
        return Judged(UNREAD)
    if hidden is None:
        # Raised only under the secret: unproven, whatever the check was. An assert that the answer
        # lies within the derivative's own values (|g| <= 1 for cos) fails there too, and was made
        # silent for a while: a red team then asked about every number with one forward sin(x), told
        # the secret call apart at one element, raised wherever an element would leave [-1, 1] and
        # wrote cos(x) out on every other call (10/10 on five seeds, rt136). Its words name the range.
        outside = possible & ((star < ex.bounds[0]) | (star > ex.bounds[1])) if ex.bounds is not None else None
        beyond = outside is not None and bool(np.any(outside))
        if beyond and outside is not None:
            # The element that left them is the one named (ux115 was told autograd's answer "left
            # [-1, 1] (there it gives 0.57263553)", an element that had not).
            where = int(np.flatnonzero(np.ravel(outside))[0])
        verdict = RAISED if r.under_secret.kind == "error" else NOTHING
        return Judged(verdict, where, float(star.ravel()[where]), beyond_bounds=beyond)
    if plain is None:
        return Judged(NOTHING, where, float(star.ravel()[where]), float(hidden.ravel()[where]))
    read = np.isfinite(plain) | np.isfinite(hidden)
    if not np.any(possible & read):
        # No number where the secret shows, on either call (NaN returned on purpose, by a red team
        # whose answers were then "0 or within 0.001 of it"): no answer to read.
        return Judged(UNREAD, where, float(star.ravel()[where]), float(hidden.ravel()[where]))
    # Elements with no number on either call say nothing either way, and the rest of the input is
    # judged: an honest 2·log(x) for log(x²), NaN below 0 and autograd's numbers above, was "a
    # mixture" and kept 1 point of 10. Correctness fails an input with any NaN, so an answer gains
    # nothing by them; a number on one call and NaN on the other is still judged (not proven).
    possible &= read
    where = int(np.argmax(possible))
    precision = _precision(r, hidden[possible], ex, plain[possible], truth[possible])
    tol = _tolerance(r, ex)
    if precision in ex.tolerances:
        tol = max(tol, ex.tolerance(precision), key=lambda t: t.atol)
    # Zeros where the secret moves the reference say nothing (y.backward(x) at x = 0), unless the
    # plain answer is the reference there: then they are the truth, unmoved (cos(x) near π/2).
    if not np.any(possible & ((np.abs(plain) > _ZERO) | (np.abs(hidden) > _ZERO))) and \
            not _close(plain[possible], round_to(truth, r.case.dtype)[possible], tol):
        return Judged(ZERO, where, float(star.ravel()[where]), float(hidden.ravel()[where]))
    if not _steady(r, tol) or len({(call.kind, call.dtype) for call, _ in r.judged}) > 1:
        # (Autograd's dtype never depends on the derivative's numbers: one that changes between
        # calls of one input tells them apart.)
        return Judged(UNSTEADY, where, float(star.ravel()[where]), float(hidden.ravel()[where]))
    slack = _slack(tol, ex)
    tells = possible & (reach > 2 * _room(tol, truth, factor, ex))
    if not tells.any():
        coarse = precision if precision != r.case.dtype else _coarsest(r, ex)
        if coarse not in HALF:
            # Float32 answers for a float64 input (autograd on x.float()) where float32 cannot show
            # the move, as a chain-rule factor near 0 gives: no evidence, as for a float32 input
            # there. Called rounded, honest autograd on x.float() cast back scored 1/10 on some
            # grids (a red team: cos_square in 10 of 20, sin_cos_norm in 14 of 20). The precision is
            # kept for correctness, which judges such answers as float32 too: a red team's float32
            # rounding, within float64's tolerance where the derivative is small, made an input
            # silent here while correctness passed it at float64's (checks._float32_carried).
            return Judged(COARSE if (reach > _TELLS).any() else NO_DATA,
                          precision=coarse if coarse != r.case.dtype else "")
        # A coarser answer than the input: the submission chose the rounding that hides it.
        return Judged(ROUNDED, where, float(star.ravel()[where]), float(hidden.ravel()[where]), precision=coarse)
    # Half precision is never evidence for a finer input, even where the secret's move still shows:
    # to its tolerance, R* is a table of autograd's values a step of 1e-4 apart, interpolated (a
    # red team's cos(x) plus such a table, in float16, was "proven" without autograd at x).
    # The plain answer's dtype counts too: it loosens the tolerance as much (a red team's bfloat16
    # cos(x) on plain calls let a table 0.01 apart pass on secret ones).
    half = "" if r.case.dtype in HALF else next((d for d in (precision, r.plain.dtype, r.under_secret.dtype)
                                                   if d in HALF), "")
    off = np.abs(hidden - star) - (slack.atol + slack.rtol * np.abs(star))
    off = np.where(np.isnan(off), np.inf, off)
    if ex.bounds is not None:
        # An answer clipped to the values the derivative can take (autograd's cos clamped to [-1, 1])
        # meets R* wherever R* lies within them, and the bound where the secret moved it beyond:
        # no evidence there either way, and no mixture (a red team's honest clamp scored 1/10,
        # "mixes autograd's gradient with something computed another way"). A formula cannot use
        # it: every element within the bounds must still meet R*.
        # An answer at the bound on both calls, where any draw's R* could pass it, is set aside
        # whatever this draw's R* did: which elements count never depends on the draw for it (ux118's
        # cos(x) was "not shown on 52 of 52 inputs", then "40 of 40", as R* at x near 0 fell above 1
        # or below it). One at the bound under the secret alone, as clipping gives, only where this
        # draw's R* passed it (an honest answer a slack below 1 still tells), and not where it meets
        # R* itself: an honest answer whose R* lands within the slack above 1 is autograd's, and set
        # aside it made a 0-d input silent by this draw alone (the CI's same-file test: 40 inputs
        # judged, then 41, and 7.79 for 7.8).
        low, high = ex.bounds
        with np.errstate(invalid="ignore", over="ignore"):
            above, below = truth + MAX_MOVE * factor > high, truth - MAX_MOVE * factor < low
        def meets(values: np.ndarray, bound: float) -> np.ndarray:
            return np.abs(values - bound) <= slack.atol + slack.rtol * abs(bound)

        clipped = tells & ((above & meets(hidden, high) & (meets(plain, high) | ((star > high) & (off > 0))))
                           | (below & meets(hidden, low) & (meets(plain, low) | ((star < low) & (off > 0)))))
        if clipped.any():
            tells &= ~clipped
            off = np.where(clipped, np.minimum(off, 0.0), off)
            if not tells.any():
                return Judged(NO_DATA, bounded=True)
    worst = int(np.argmax(np.where(tells, off, -np.inf)))
    # (the precision the answers were judged in, where coarser than the input's: correctness reads it)
    at = Judged("", worst, float(star.ravel()[worst]), float(hidden.ravel()[worst]),
                precision=precision if precision != r.case.dtype else "")
    at = replace(at, plain_right=_close(plain[read], round_to(truth, r.case.dtype)[read], tol))
    if r.case.dtype == "float32" and read.all() and not (at.plain_right and np.all(off <= 0)):
        # A sum over x in float32 (‖x‖² added up in order): both answers may sit at one sum that
        # float32 could give, as correctness allows (Exercise.float32_sums); only autograd gives R*
        # at a sum moved so little. Without this an honest loop's answers "followed" the secret and
        # were called wrong on inputs that correctness passed.
        right, sums = round_to(truth, "float32"), ex.float32_sums(r.case.values)
        if sums is not None and sums.explain(plain, right, tol.atol + tol.rtol * np.abs(right)):
            at = replace(at, plain_right=True)
            moved_sums = ex.float32_sums(r.case.values, secret)
            if moved_sums is not None and moved_sums.explain(hidden, star, slack.atol + slack.rtol * np.abs(star)):
                off = np.minimum(off, 0.0)
    if at.plain_right and bool(np.all(off <= 0)) and not half:
        return replace(at, verdict=PROVEN)
    kind = _wrong_kind(plain[tells], hidden[tells], truth[tells], moved[tells], slack, factor[tells],
                       at.plain_right)
    if half and kind != BYPASSED:  # (unmoved is a bypass in any precision: the move is 0.15)
        return replace(at, verdict=ROUNDED, precision=half)
    if kind != FOLLOWS and r.unfollowed_calls:
        kind = UNFOLLOWED  # the secret never reached those numbers: no sign of a formula either
    if kind == PARTLY and _half_precise(plain, hidden, truth, star, factor, r, ex):
        # Computed in half precision, not mixed; or rounded to a few decimals (hn122's round(v, 4),
        # which was told of half precision and .half())
        places = decimal_places(hidden[tells])
        return replace(at, verdict=ROUNDED, precision="float16" if places is None else f"{places}-decimal")
    return replace(at, verdict=kind)


def _slack(tol: Tolerance, ex: Exercise) -> Tolerance:
    """How far an honest answer under the secret may be from R*: the tolerance times MAX_SLOPE (a
    rounded argument, x/3*3 or x² in float32, moves the secret's value that much more than the
    true derivative's), except for a dtype so coarse that this leaves no evidence at all (float16,
    bfloat16) where the primitive takes x itself (Exercise.secret_slope): its argument is then
    exact, as the grids give it, and the tolerance is enough."""
    slope = MAX_SLOPE
    if 2 * (MAX_SLOPE * (tol.atol + tol.rtol * (1 + MAX_MOVE)) + tol.atol + tol.rtol) >= MIN_MOVE:
        slope = ex.secret_slope
    return Tolerance(tol.atol * slope, tol.rtol * slope)


def _room(tol: Tolerance, truth: np.ndarray, factor: np.ndarray, ex: Exercise) -> np.ndarray:
    """Per element: the slack round R* (|R*| at its largest for any draw) and the tolerance round
    R together; the secret's least move must exceed twice this for the element to tell."""
    slack = _slack(tol, ex)
    return (slack.atol + slack.rtol * (np.abs(truth) + MAX_MOVE * factor)) + (tol.atol + tol.rtol * np.abs(truth))


def _precision(r: CaseResult, moved: np.ndarray, ex: Exercise, plain: np.ndarray, truth: np.ndarray) -> str:
    """The precision the answers carry (`_carried`), or float32 for a float64 input whose plain
    answer is right to float32's tolerance only: a step in float32 inside a float64 computation (the
    primitive on (x**2).float()). Judged to float64's, honest autograd was "a mixture" and scored
    1/10 (a red team). Judged as float32, as x.float() cast back is; correctness still charges the
    precision lost, so a formula gains nothing here that float32 numbers do not."""
    carried = _carried(r, moved, plain)
    if carried != "float64" or r.case.dtype != "float64" or "float32" not in ex.tolerances:
        return carried
    float32_only = not _close(plain, truth, ex.tolerance("float64")) and _close(plain, truth, ex.tolerance("float32"))
    # Or answers rounded to a few decimals (torch.round(x.grad, decimals=6), "for display"), that
    # float32's tolerance covers: judged as float32 numbers are. Judged to float64's, an input whose
    # plain answer the rounding left exact (cos(0) = 1) was "computed in half precision", 1/10 and a
    # suspect (hn122). Correctness still charges what the rounding lost.
    atol = ex.tolerance("float32").atol
    rounded = _rounded_within(moved, atol) or _rounded_near(moved, (plain, truth), atol)
    return "float32" if float32_only or rounded else carried


def _rounded_within(values: np.ndarray, atol: float) -> bool:
    """Whether every value is a number of at most seven decimals whose rounding (half a unit of the
    last) lies within `atol`. Autograd's float64 answers are such numbers by chance only where they
    are exact (1.0, 0.5), and judging those to a coarser tolerance only widens it."""
    places = decimal_places(values)
    return places is not None and 0.5 * 10.0 ** -places <= atol


def _rounded_near(moved: np.ndarray, plain: tuple[np.ndarray, np.ndarray], atol: float) -> bool:
    """Whether the answers could be a rounding to decimals within `atol` of autograd's: numbers that seven
    decimals write, the plain ones (`plain`: the answers and R) that near R. The fewest decimals that write a
    rounding can be fewer than it kept: round(1.47610003, 6) is 1.4761, as a number of six decimals is once
    in a hundred, and a grid has inputs of one number repeated, whose answers all were (5 inputs of 52 were
    "rounded to 4 decimals" then, 1/10: the CI, once in 300 draws of the secret). Asked of the plain answers
    alone, never of the draw's R*, so that how an input is judged never depends on the draw (rt201's
    4-decimal roundings, judged by R*, were not shown on 17 to 23 inputs of 51 run to run). A rounding to
    4 decimals that strays further from autograd's stays one."""
    values, right = plain
    return _written_in(moved, _MOST_PLACES) and _written_in(values, _MOST_PLACES) and \
        bool(np.all(np.abs(values - right) <= atol))


def decimal_places(values: np.ndarray) -> int | None:
    """The fewest decimals (at most seven) that write every value exactly, as round(v, d) leaves it,
    where float64 holds a thousand numbers or more between two such decimals at each value (so that
    an unrounded answer is one by chance once in a thousand, an element); None where there are none,
    or none that do. Beyond that, float64 has no digits that far down: rt154's exercise of 10⁹·sin
    had autograd's exact answers taken for numbers of seven decimals, and judged as float32's."""
    return next((d for d in range(_MOST_PLACES + 1) if _written_in(values, d)), None)


_MOST_PLACES = 7


def _written_in(values: np.ndarray, places: int) -> bool:
    """Whether `places` decimals write every value exactly, where float64 has digits that far down
    (decimal_places)."""
    if values.size == 0 or not np.isfinite(values).all():
        return False
    fine = np.spacing(np.abs(values)) * 1000
    return bool(np.all(fine < 10.0 ** -places) and np.array_equal(np.round(values, places), values))


def _carried(r: CaseResult, moved: np.ndarray, plain: np.ndarray) -> str:
    """The precision the answers under the secret carry where the secret moves them (`moved`): their
    dtype, or a coarser one whose numbers they all are. R* there is a number no coarser dtype holds,
    so float64 answers that a float32 holds exactly (the plain ones too) were computed in float32 (autograd on
    x.float(), or on torch.tensor(x.tolist()), handed back as x's dtype: judged to float64's
    tolerance, such an honest answer was "a mixture", or not, with the draw); a float64 is exact in
    float32 by chance once in 2^29, and judging it so only widens the tolerance. Half precision is
    inferred only from four distinct numbers or more: an honest float32 number is exact in float16
    once in 8,192, and a grid's input is often one value repeated (the reference solution was
    "rounded" in 5 runs of 2,000 on a 0-d input, and for some secrets on inputs filled with zeros);
    four distinct ones together, once in 2^52. Inferred, it makes the verdict the same under every
    draw: a gradient computed in float16 and handed back as float32 was proven or a mixture as the
    rounding fell against the tolerance."""
    declared = r.under_secret.dtype if r.under_secret.dtype in _FINER else r.case.dtype
    if moved.size == 0 or not np.isfinite(moved).all():
        return declared
    distinct = np.unique(moved)
    for half in ("bfloat16", "float16"):
        if declared in _FINER[half] and distinct.size >= 4 and np.array_equal(round_to(distinct, half), distinct):
            return half
    # Both answers: a cos(x) in float64 on plain calls beside float32 numbers under the secret would
    # judge the secret's at float32's tolerance, which hides the grain's finer lattice (canary.py).
    exact = declared == "float64" and all(np.array_equal(round_to(v, "float32"), v) for v in (distinct, plain))
    return "float32" if exact else declared


# The dtypes finer than each (bfloat16 and float16 hold different numbers: neither is finer).
_FINER = {"float64": (), "float32": ("float64",), "float16": ("float64", "float32"),
          "bfloat16": ("float64", "float32")}


def _coarsest(r: CaseResult, ex: Exercise) -> str:
    dtypes = [d for d in (r.plain.dtype, r.under_secret.dtype) if d in ex.tolerances]
    return max(dtypes, key=lambda d: ex.tolerance(d).atol, default=r.case.dtype)


def _half_precise(plain: np.ndarray, hidden: np.ndarray, truth: np.ndarray, star: np.ndarray, factor: np.ndarray,
                  r: CaseResult, ex: Exercise) -> bool:
    """Whether answers that moved, but not exactly as autograd's, are autograd's to float16's
    precision (a gradient computed in half precision and handed back as float32): words about
    precision, not about mixing. Only words: the answer is unproven either way."""
    half = ex.tolerances.get("float16")
    if half is None or half.atol <= ex.tolerance(r.case.dtype).atol:
        return False
    slack = Tolerance(half.atol * MAX_SLOPE, half.rtol * MAX_SLOPE)
    tells = MIN_MOVE * factor > _TELLS
    return bool(_close(plain, round_to(truth, r.case.dtype), half)
                and np.all(np.abs(hidden - star)[tells] <= slack.atol + slack.rtol * np.abs(star)[tells]))


def _wrong_kind(p: np.ndarray, s: np.ndarray, t: np.ndarray, m: np.ndarray, tol: Tolerance,
                factor: np.ndarray, plain_right: bool = False) -> str:
    """Name an answer that is not proven, from the elements the secret changes (`tol`: the secret's;
    `factor`: the chain rule's factor there, Exercise.sensitivity; `plain_right`: the plain answer is
    the reference)."""
    atol, rtol = tol.atol, tol.rtol
    # An answer in proportion to autograd's (k·R, k = P/R) moves by |P/R|·MIN_MOVE·factor at least,
    # whatever the draw. Where that is within the slack on every element, it moves past the slack on
    # some draws and not on others: hn155's jvp along ones, 0.04 times the gradient at
    # x = [-0.97, 1.01], was 1/10 "computed another way" under one course's secret and 7.16 under
    # seven others. Too small to show its move: silent, as zeros are, whatever this draw did.
    # (Only for a wrong, finite answer: a right one that never moved is a bypass wherever the truth is 0 too: rv51's
    # formula returning 0 at 5π/2 was silent, 9.94 for 1.)
    with np.errstate(over="ignore", invalid="ignore"):
        shows = np.abs(p) * MIN_MOVE * factor > 2 * np.abs(t) * (atol + rtol * np.abs(p))
    if not plain_right and np.isfinite(p).all() and not shows.any():
        return ZERO
    unchanged = np.abs(s - p) <= atol + rtol * np.abs(p)
    if np.all(unchanged):
        return BYPASSED
    # A right answer had to follow exactly (above); these looser rules only explain wrong ones, and
    # right ones only where they are degenerate (2·sin at 5π/2, where the reference is 0).
    finite = np.isfinite(p) & np.isfinite(s)
    if not finite.all():
        return PARTLY
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = _related(s * t, p * m, tol)
        shifted = _related(s - p, m - t, tol)
    # Both relations need R*'s numbers, which only autograd of the primitive gives. "It moved" needs
    # nothing: a submission that tells the calls apart by autograd's numbers can move garbage, so
    # moving alone proves nothing (autograd of another function, such as the sum dropped from
    # ‖x‖², is then unproven too, and correctness says what is wrong).
    if np.all(shifted):
        return FOLLOWS
    if not plain_right and _moved_by_a_multiple(s - p, m - t, tol):
        # A wrong answer whose move is autograd's times one number: the primitive's factor in the chain
        # rule off by a constant (log10(x²) or log|x| for log(x²): hn130's honest slips were "not shown",
        # 1/10, beside 3.9 for sin(x)², which scaling explains). Only where the plain answer is wrong:
        # a right one whose move is a share of autograd's is a mixture (0.1·cos + 0.9·autograd).
        return FOLLOWS
    if not np.all(scaled):
        return PARTLY
    # Where the reference and the plain answer are both 0 (cos at 5π/2), S·R = P·R* holds whatever
    # S is: scaling shows nothing there. Such an input is silent, not evidence either way (a red
    # team's cos(x) + 0.3 on calls it told apart by autograd at 0.5 "followed" autograd so on the one
    # input at 5π/2); 2·autograd there, an honest mistake, is not called a mixture either.
    # Scaling shows autograd only where it needed R*'s numbers: where the unmoved answer (S = P) would
    # fail it. A plain answer near 0 passes S·R = P·R* with any S near 0, whatever R* is: a red team's
    # zeros, with one number a little above the slack on the secret call, were "follows" on every
    # input (5.5-7.3/10, its formula credited on the inputs that cannot show it). Where R is near 0,
    # not even the truth would need them, and there is nothing to count; elsewhere most elements must
    # need them (an honest y.backward(x) is near 0 only near x = 0; 2·autograd nowhere).
    # (Counted from the least move any draw makes, never from this draw's R*: same file, same score.
    # Counted from R*, y.backward(x) scored 4.53 or 4.57 as the draw fell.)
    with np.errstate(over="ignore", invalid="ignore"):
        widest = np.abs(t) + MAX_MOVE * factor  # |R*| at its largest
        telling, needed = (np.abs(v) * MIN_MOVE * factor > 2 * (atol + rtol * np.abs(v) * widest) for v in (t, p))
        needed &= telling
    if not telling.any():
        return NO_DATA
    return FOLLOWS if 2 * int(needed.sum()) > int(telling.sum()) else ZERO


def _moved_by_a_multiple(moved: np.ndarray, autograds: np.ndarray, tol: Tolerance) -> bool:
    """Whether `moved` is k times `autograds` throughout, for one k with MULTIPLE <= |k| <= 1 / MULTIPLE
    (least squares, then every element within `tol`), on the elements where autograd's move tells: such
    a move needs R*'s numbers there. (Near k = 0.1, an element that barely tells may meet k·(R* − R)
    unmoved within the slack: rt183 found no points to gain by it, the plain answer being wrong.)"""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        k = float(np.sum(moved * autograds) / np.sum(autograds * autograds))
        return MULTIPLE <= abs(k) <= 1 / MULTIPLE and bool(np.all(_related(moved, k * autograds, tol)))


MULTIPLE = 0.1


def _related(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Per element, whether `a` and `b` agree within `tol`, counting only numbers (under the caller's
    errstate, which ignores overflow): answers of ±1.75e308 overflowed S - P or S·R to inf, and
    inf <= inf held both relations whatever R* was (a red team's "follows" with no derivative taken
    at all: 3.8-5.0/10, and 7-8.8 beside autograd on half the inputs)."""
    apart, allowed = np.abs(a - b), tol.atol + tol.rtol * (np.abs(a) + np.abs(b))
    return np.isfinite(apart) & np.isfinite(allowed) & (apart <= allowed)


def values_of(r: Returned, case: GridCase) -> np.ndarray | None:
    """The real values a call returned, shaped like the input; None for anything else (a complex
    answer is not a real derivative, however close its magnitude). Checks use it too."""
    if r.values is None or r.values.size != case.values.size or np.iscomplexobj(r.values):
        return None
    return r.values.reshape(case.shape)


def _steady(r: CaseResult, tol: Tolerance) -> bool:
    """Whether every first call on a tensor answered as the first call of its kind (plain or
    secret) did: deterministic code does, whatever it computes."""
    first: dict[bool, Returned] = {}
    for call, secret in r.judged:
        seen = first.setdefault(secret, call)
        a, b = values_of(seen, r.case), values_of(call, r.case)
        if a is None or b is None:
            if (a is None) != (b is None) or seen.kind != call.kind:
                return False
            continue
        same = (np.abs(a - b) <= tol.atol + tol.rtol * np.abs(a)) | (np.isnan(a) & np.isnan(b))
        if not np.all(same):
            return False
    return True


def _tolerance(r: CaseResult, ex: Exercise) -> Tolerance:
    """The coarser of the input's and the returned dtypes' tolerances: a float64 input answered in
    float32 is a contract fault, not evidence against autograd."""
    dtypes = (r.case.dtype, r.plain.dtype, r.under_secret.dtype)
    return max((ex.tolerance(d) for d in dtypes if d in ex.tolerances), key=lambda t: t.atol)


def _close(got: np.ndarray, want: np.ndarray, tol: Tolerance) -> bool:
    return bool(np.all(np.abs(got - want) <= tol.atol + tol.rtol * np.abs(want)))
