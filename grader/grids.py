"""Hypothesis strategies for the inputs a submission is called on, and reproducible draws of them.

Every student of an assignment meets the same grids: the seed comes from the exercise name and an
optional course secret (so grids cannot be precomputed from this public code), never from the
submission. Draws use no example database and a storage directory outside the user's folders.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hypothesis import settings
    from hypothesis.strategies import SearchStrategy

# Hypothesis is imported on first use: it costs 0.2 s, which `grader check` spends while the
# sandbox child imports torch. Its storage directory stays out of the user's folders.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "grader-hypothesis"))

CPU_DTYPES = ("float32", "float64")
ACCELERATOR_DTYPES = ("float32", "float64", "float16", "bfloat16")
PLAIN_LAYOUTS = ("plain", "strided")
TRACKED_LAYOUTS = ("requires_grad", "nonleaf")
def dtypes_for(device: str) -> tuple[str, ...]:
    """Half precision only on accelerators: CPU kernels for it are slow and not what students use."""
    return CPU_DTYPES if device == "cpu" else ACCELERATOR_DTYPES


FAMILIES = ("general", "near_zero", "near_half_pi", "large")
_MAX_SIDE = 6


@dataclass(frozen=True)
class GridCase:
    """One input: exact values (float64, representable in `dtype`) and how the tensor is built."""

    values: np.ndarray = field(compare=False)
    dtype: str
    device: str
    layout: str
    family: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def tracked(self) -> bool:
        return self.layout in TRACKED_LAYOUTS

    def size_key(self) -> tuple[float, ...]:
        """Smaller is simpler: non-empty first (an empty tensor teaches little), then fewer
        elements, fewer dimensions, smaller values."""
        return (self.values.size == 0, self.values.size, self.values.ndim, float(np.abs(self.values).sum()))


def grid_seed(exercise: str, course_secret: str = "") -> int:
    """The grids' seed for an exercise and a course secret, the secret taken without the spaces and line
    ends around it: run_autograder reads it with $(cat), which drops a trailing newline, and a secret
    pasted or read from a file with one drew other grids on Gradescope than in `grade` and `batch`
    (ux129: 6.31 there, 5.6 here, for one file)."""
    digest = hashlib.sha256(f"grader-grid:{exercise}:{course_secret.strip()}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def round_to(values: np.ndarray, dtype: str) -> np.ndarray:
    """The float64 values that a tensor of `dtype` built from `values` holds exactly."""
    if dtype == "float64":
        return values.astype(np.float64)
    if dtype == "bfloat16":
        bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16  # round half to even
        return rounded.astype(np.uint32).view(np.float32).astype(np.float64)
    with np.errstate(over="ignore"):  # (a value past the dtype's range is inf in it, as torch casts)
        return values.astype(np.dtype(dtype)).astype(np.float64)


def away_from_zero(values: np.ndarray, min_abs: float) -> np.ndarray:
    """Values pushed out to at least min_abs from 0 (keeping their sign), for an exercise whose
    function is undefined there: log(x²) + 1/x, say."""
    if min_abs <= 0:
        return values
    return np.where(np.abs(values) < min_abs, np.where(np.signbit(values), -min_abs, min_abs), values)


def _elements(family: str, large: float, span: float = 10.0) -> SearchStrategy[float]:
    from hypothesis import strategies as st

    if family == "near_zero":
        return st.floats(-1.0, 1.0, allow_subnormal=False)
    if family == "near_half_pi":
        offsets = st.floats(-1e-3, 1e-3, allow_subnormal=False)
        return st.builds(lambda k, e: k * math.pi / 2 + e, st.integers(-8, 8), offsets)
    if family == "large":
        return st.floats(-large, large, allow_subnormal=False)
    return st.floats(-span, span, allow_subnormal=False)


@functools.cache
def grid_cases(dtypes: tuple[str, ...], device: str, large: float,
               layouts: tuple[str, ...] = PLAIN_LAYOUTS + TRACKED_LAYOUTS,
               min_side: int = 0, span: float = 10.0, min_abs: float = 0.0,
               families: tuple[str, ...] = FAMILIES, rounded: bool = True) -> SearchStrategy[GridCase]:
    """The strategy for one input. Choices are listed simplest first: hypothesis shrinks towards them.
    One object per set of arguments (shrink's record of past searches is kept per strategy). Not `rounded`,
    its values are float64's, whatever dtype it names: for stratified, which rounds them for the dtype it deals
    (rv44: rounded at the draw for a dtype of the draw's, float64's inputs were float32's, or bfloat16's on a GPU,
    and the ±1e-3 of near_half_pi lost)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    @st.composite
    def cases(draw: Any) -> GridCase:
        dtype = draw(st.sampled_from(dtypes))
        layout = draw(st.sampled_from(layouts))
        family = draw(st.sampled_from(families))
        shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=_MAX_SIDE)
        shape = draw(st.one_of(st.just(()), shapes))
        values = draw(hnp.arrays(np.float64, shape, elements=_elements(family, min(large, span * 100), span)))
        values = away_from_zero(values, min_abs)
        return GridCase(round_to(values, dtype) if rounded else values, dtype, device, layout, family)

    return cases()


def stratified(cases: list[GridCase], dtypes: tuple[str, ...],
               layouts: tuple[str, ...] = PLAIN_LAYOUTS + TRACKED_LAYOUTS) -> list[GridCase]:
    """The drawn cases (drawn unrounded: grid_cases), each given a dtype and layout in turn (its values as
    that dtype holds them), so that every draw holds as many of each, its shapes and values as drawn: a
    slip of one dtype or layout (a float32 answer, a caller's x that requires grad) costs the same under
    every seed (ux134: 7.04 in a student's self-check, 5.87 under the course's secret, 6.29 to 7.92 over
    four seeds). (Drawn apart, a few per dtype and layout, hypothesis's simplest shapes came first in
    each: half the inputs 0-d.)"""
    strata = [(dtype, layout) for dtype in dtypes for layout in layouts]
    dealt = ((case, *strata[i % len(strata)]) for i, case in enumerate(cases))
    return [GridCase(round_to(case.values, dtype), dtype, case.device, layout, case.family)
            for case, dtype, layout in dealt]


def explicit_cases(dtypes: tuple[str, ...], device: str, span: float = 10.0, min_abs: float = 0.0) -> list[GridCase]:
    """A fixed case per dtype and layout, so every check always has evidence."""
    reach = min(2 * math.pi, span)
    line = away_from_zero(np.linspace(-reach, reach, 25), min_abs)
    cube = away_from_zero(np.linspace(-min(3.0, span), min(3.0, span), 24).reshape(2, 3, 4), min_abs)
    cases = []
    for dtype in dtypes:
        for i, layout in enumerate(PLAIN_LAYOUTS + TRACKED_LAYOUTS):
            values = line if i % 2 == 0 else cube
            cases.append(GridCase(round_to(values, dtype), dtype, device, layout, "explicit"))
        scalar = away_from_zero(np.array(0.5), min_abs)
        cases.append(GridCase(round_to(scalar, dtype), dtype, device, "plain", "explicit"))
    return cases


def _settings(examples: int, phases: str) -> settings:
    from hypothesis import HealthCheck, Phase, settings

    return settings(
        database=None,
        max_examples=examples,
        phases=[Phase[name] for name in phases.split()],
        deadline=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )


def draw(strategy: SearchStrategy[GridCase], examples: int, seed_value: int) -> list[GridCase]:
    """Draw `examples` cases reproducibly: the same seed and hypothesis version give the same list."""
    from hypothesis import given, seed

    drawn: list[GridCase] = []

    @seed(seed_value)
    @_settings(examples, "generate")
    @given(strategy)
    def collect(case: GridCase) -> None:
        drawn.append(case)

    with signals_after(), _no_local_constants():
        collect()
    return drawn


_DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_after(deferred: tuple[int, ...] = _DEFERRED, caught: list[int] | None = None) -> Iterator[None]:
    """Ctrl-C (and the batch's SIGTERM and SIGHUP: `deferred`) while hypothesis runs, answered once
    it is done, the signals meanwhile put in `caught`: a KeyboardInterrupt raised inside hypothesis's
    engine left that engine broken, so that a batch stopped while it drew the grids ended as the
    grader's own failure (an AssertionError, status 3), or, raised in hypothesis's gc callback, was
    ignored and the batch went on. Where Python runs a handler of its own (the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = [] if caught is None else caught
    handlers = {signum: signal.getsignal(signum) for signum in deferred}
    for signum, handler in handlers.items():
        if callable(handler):
            signal.signal(signum, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            if callable(handler):
                signal.signal(signum, handler)
    if caught:
        first = handlers[signal.Signals(caught[0])]
        if callable(first):
            first(caught[0], None)


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis mixes into its draws numbers it finds in the source of the local modules that
    happen to be imported: the grids then changed with what the process had imported (`grader
    grade` imports more of the grader than a test or a notebook does) and with any edit of the
    grader's own source. Only its own built-in constants are used here. (Private API: where this
    hypothesis has none, nothing changes.)"""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE
    except (ImportError, AttributeError):
        yield
        return
    none = Constants()
    providers._get_local_constants = lambda: none
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


class _Failed(AssertionError):
    pass


class _Stopping(Exception):
    """Raised in a search's test once Ctrl-C came, or a stop was raised in a call: hypothesis ends
    without another of the student's calls, and the stop is raised after it."""


@dataclass
class _Step:
    """A point in a search, reached by the answers given before it: the case hypothesis asked about
    there (None: not seen yet), or the end of the search."""

    case: GridCase | None = None
    ended: bool = False
    after: dict[bool, _Step] = field(default_factory=dict)


# Searches already run in this process, per (strategy, seed, examples, max_calls): a tree of the cases
# hypothesis asked about, branching on each answer. Hypothesis is deterministic here (a fixed seed, no
# database, budgets counted in calls), so a submission that answers as an earlier one did is asked the
# same cases in the same order and ends with the same smallest case: shrink replays the tree, calling
# the submission exactly as hypothesis would, and runs hypothesis itself (about 40 ms of the grader's
# time per search, against well under a millisecond per call) only where the answers leave the tree.
_SEARCHES: dict[tuple[object, ...], _Step] = {}
_MAX_STEPS = 5_000  # steps kept in all (a step holds a small case); past this, new searches are run but not recorded
_steps = [0]


def shrink(strategy: SearchStrategy[GridCase], fails: Callable[[GridCase], bool], seed_value: int,
           examples: int, max_calls: int = 400, budget_s: float = 10.0) -> GridCase | None:
    """The smallest case hypothesis can find on which `fails` holds.

    `fails` runs the submission (in its sandbox) on one case. The search is bounded by a number of
    calls, which keeps it deterministic, and by a wall-clock budget that only a very slow function
    reaches. Past either bound every case counts as passing, which ends the search at once; we keep
    the smallest failing case we saw ourselves, so hypothesis's final replay (and any flakiness it
    reports) cannot lose it. A search whose answers an earlier one in this process gave is replayed
    from the record of that one (see _SEARCHES): the same calls, the same result.
    """
    deadline = time.monotonic() + budget_s
    failing: list[GridCase] = []
    calls = 0

    def answer(case: GridCase) -> bool:
        nonlocal calls
        calls += 1
        failed = calls <= max_calls and time.monotonic() < deadline and fails(case)
        if failed:
            failing.append(case)
        return failed

    key = (strategy, seed_value, examples, max_calls)
    answered: list[bool] = []
    step = _SEARCHES.get(key)
    while step is not None and step.case is not None:
        answered.append(answer(step.case))
        step = step.after.get(answered[-1])
    if step is not None and step.ended:
        return min(failing, key=GridCase.size_key) if failing else None
    _search(strategy, seed_value, examples, key, answered, answer)
    return min(failing, key=GridCase.size_key) if failing else None


def _search(strategy: SearchStrategy[GridCase], seed_value: int, examples: int, key: tuple[object, ...],
            answered: list[bool], answer: Callable[[GridCase], bool]) -> None:
    """Run hypothesis's search, recording its steps; the first len(answered) cases it asks about were
    already answered (replayed from the record), so they are not run again."""
    from hypothesis import given, seed

    step = _SEARCHES.setdefault(key, _Step())
    position = 0
    stopping: list[int] = []  # Ctrl-C meanwhile: no more of the student's calls (see below)
    stopped: list[BaseException] = []  # raised in a call: hypothesis must not swallow it

    @seed(seed_value)
    @_settings(examples, "generate shrink")
    @given(strategy)
    def probe(case: GridCase) -> None:
        nonlocal step, position
        if stopping or stopped:
            raise _Stopping()
        if position < len(answered) and step.case is not None and _same(step.case, case):
            failed = answered[position]
        else:
            try:
                failed = answer(case)
            except (SystemExit, KeyboardInterrupt) as stop:  # (a worker's SIGTERM, as the student's call ran)
                stopped.append(stop)
                raise _Stopping() from None
            if step.case is None and _steps[0] < _MAX_STEPS:
                step.case = case
                _steps[0] += 1
        position += 1
        step = step.after.setdefault(failed, _Step()) if step.case is not None and _same(step.case, case) else _Step()
        if failed:
            raise _Failed()

    # hypothesis re-raises our failure (or reports it flaky): both are expected here. Ctrl-C (in
    # `grader check`) ends the search at the next case, then is raised: a search runs the student's
    # calls, seconds each at worst. The batch's SIGTERM is not held back here: its worker must close
    # the sandbox within stop_pool's grace, and takes no next job.
    with signals_after((signal.SIGINT,), stopping), contextlib.suppress(Exception), _no_local_constants():
        probe()
    if stopped:
        raise stopped[0]
    step.ended = step.case is None


def _same(a: GridCase, b: GridCase) -> bool:
    return (a.dtype, a.device, a.layout, a.family, a.shape) == (b.dtype, b.device, b.layout, b.family, b.shape) \
        and a.values.tobytes() == b.values.tobytes()
