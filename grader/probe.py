"""Drive one sandbox session over the grids and collect what the submission did.

Runs only parent-side code: it sends inputs, has each reply validated (sandbox/replies.py) and
never interprets them beyond turning them into Observations; checks.py decides what they mean.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from grader import grids, safe_text
from grader.canary import Secret, grain_size
from grader.exercise import Exercise
from grader.observations import CaseResult, LoadResult, Observations, Returned, TracedCall
from grader.sandbox.replies import (
    HarnessFailed,
    parse_case,
    parse_confined,
    parse_loaded,
    parse_reference,
    parse_returned,
    parse_traced,
    resolve_pair,
    same_code,
)
from grader.sandbox.session import Conversation, SessionEnded

# What a shrink may spend per failing check: calls keep it deterministic (a fast function needs a
# few dozen); the time bound only stops a slow function from stretching a self-check.
SHRINK_CALLS = 400
SHRINK_BUDGET_S = 5.0


class GraderFailure(Exception):
    """The grader itself could not work (not the student's fault)."""


@dataclass(frozen=True)
class Plan:
    """What to run: the grids per device, drawn once and reusable across submissions."""

    seed: int
    cases: dict[str, tuple[grids.GridCase, ...]]
    plot_x: np.ndarray

    @classmethod
    def draw(cls, exercise: Exercise, seed: int, devices: Sequence[str] = ("cpu",)) -> Plan:
        return cls(seed, {}, cls.plot_grid(exercise)).ensure(exercise, devices)

    @staticmethod
    def plot_grid(exercise: Exercise) -> np.ndarray:
        """The feedback plot's x values: the same for every seed, none nearer 0 than the grids come
        (log_sin's pole)."""
        low, high = exercise.plot_range
        x = grids.round_to(np.linspace(low, high, exercise.plot_points), "float32")
        return x[np.abs(x) >= exercise.min_abs]

    def ensure(self, exercise: Exercise, devices: Sequence[str]) -> Plan:
        """This plan with grids for every device in `devices` (drawing only the missing ones)."""
        cases = dict(self.cases)
        for device in devices:
            if device not in cases:
                dtypes = exercise_dtypes(exercise, device)
                strategy = grids.grid_cases(dtypes, device, exercise.large, span=exercise.span,
                                            min_abs=exercise.min_abs, families=exercise.families, rounded=False)
                drawn = grids.stratified(grids.draw(strategy, exercise.examples, self.seed + (device != "cpu")),
                                         dtypes)
                explicit = grids.explicit_cases(dtypes, device, exercise.span, exercise.min_abs)
                cases[device] = tuple(explicit + drawn)
        return replace(self, cases=cases)


def collect(session: Conversation, exercise: Exercise, plan: Plan, secret: Secret,
            device: str = "auto", deadline: float | None = None) -> Observations:
    """Everything the submission does on the grids. `deadline` (time.monotonic()) is when the whole
    submission's time is up (the exercise's total_timeout_s from now, if not given): shrink and
    trace, which come after, are held to it too."""
    limits = exercise.limits
    deadline = time.monotonic() + limits.total_timeout_s if deadline is None else deadline
    try:
        hello, _ = session.receive(limits.load_timeout_s, "the start of the sandbox (Python and torch)")
    except SessionEnded as end:
        raise GraderFailure(f"the sandbox did not start: {end.ended.detail}") from None
    if not same_code(hello):
        # (ux131: a zygote started after the grader's files changed spoke a newer protocol than its worker, and
        # 64 students were told their code sent back something malformed, 1/10)
        raise GraderFailure("the grader's files changed while it ran (an upgrade?): the sandbox runs other code than "
                            "this process; run the same command again")
    # The child says whether its torch can use CUDA; the grader counts the GPUs (the child may not:
    # sandbox/gpus.py).
    visible_gpus = session.gpus if hello.get("cuda_built") is True else 0
    devices = _devices(device, visible_gpus > 0)
    plan = plan.ensure(exercise, devices)
    key = _reference_key(exercise)
    # Asked once, here: a Dask worker grades on several threads of one process, and another thread
    # could keep the pass between asking for it and reading it, so that every reply after read one
    # off (an honest student's grader error, or a crash for a "malformed" count of calls). Asked of
    # this child only where no child of its own recorded it (record_reference): the catalogue's,
    # public already, or the notebook's in-process one.
    ask_reference = key not in _REFERENCE_PASSES
    # The secret's terms at the planned inputs (what an honest child's canary asks about, for sin) and
    # where the verdict's reference takes the primitive (x² for cos(x²)), in one evaluation, before
    # the oracle's thread starts reading them.
    secret.keep_terms(_asked_about(exercise, [case for device in devices for case in plan.cases[device]]))
    session.oracle.start(secret)  # the secret stays in this process: the child's canary asks (sandbox/oracle.py)
    session.send(_setup(session, exercise, devices, visible_gpus, ask_reference))
    base = Observations(load=LoadResult(False), devices=devices, plot_x=plan.plot_x,
                        torch_version=safe_text.line(str(hello.get("torch", "")), 50))
    # Up to the reference pass, no student code has run: whatever goes wrong is the grader's failure.
    try:
        layers = session.reply(limits.load_timeout_s, "the sandbox's set-up", parse_confined)
        if ask_reference:
            _REFERENCE_PASSES[key] = session.reply(limits.load_timeout_s, "the reference solution's backward pass",
                                                   parse_reference)
    except HarnessFailed as failed:
        raise GraderFailure(f"the sandbox child could not be set up: {failed}") from None
    except SessionEnded as end:
        raise GraderFailure(f"the sandbox child ended before the submission was loaded: {end.ended.detail}") from None
    base = replace(base, reference_pass=_REFERENCE_PASSES.get(key), layers=(*session.outer_layers, *layers))
    try:
        failure = session.reply(limits.load_timeout_s, "the import of your file", parse_loaded)
    except SessionEnded as end:
        return replace(base, ended=end.ended)
    if failure is not None and not failure.ok:
        return replace(base, load=failure)
    cases = [case for d in devices for case in plan.cases[d]]
    results: list[CaseResult] = []
    ended, ended_case = None, None
    try:
        run_cases(session, exercise, cases, results, lambda calls: _left(deadline, _case_time(exercise, calls)))
        plot, plot_changed = run_plot(session, plan.plot_x, _left(deadline, limits.call_timeout_s),
                                      exercise.function_values)
    except SessionEnded as end:
        ended, plot, plot_changed = end.ended, None, False
        ended_case = cases[len(results)] if len(results) < len(cases) else None
    return replace(
        base, load=failure or LoadResult(True), cases=tuple(results), planned=tuple(cases), secret=secret, ended=ended,
        ended_case=ended_case, plot=plot, plot_changed=plot_changed,
    )


def _setup(session: Conversation, exercise: Exercise, devices: Sequence[str], visible_gpus: int,
           reference: bool) -> dict[str, Any]:
    """The child's set-up, before it is confined; with `reference`, the reference solution to record its pass of."""
    limits = exercise.limits
    return {
        "op": "setup",
        "path": str(session.path),
        "package": session.package,
        "function": exercise.function,
        "primitive": exercise.primitive,
        "derivative": exercise.derivative,
        # The reference solution's backward pass, once per exercise in this process: the child records
        # it once confined, before the student's file loads (sandbox/child.py), for the student's to be
        # compared with. Its path (for its tracebacks) and its text, read here.
        "reference": [str(exercise.solution), exercise.solution_source()] if reference else None,
        "trace_x": list(exercise.trace_x),
        "record_calls": True,  # every planned call's passes (sandbox/child.py: Runner)
        "limits": {"total_timeout_s": limits.total_timeout_s, "memory_gib": limits.memory_gib},
        "devices": list(devices),
        "gpus": visible_gpus,
        "skip": sorted(session.skip),
        "memory_counted": session.memory_counted,  # (shared mappings are refused where neither it nor Landlock is)
        "record_key": session.record_key.hex(),
    }


# The reference solution's pass per exercise: the same in every child, so recorded once per process.
_REFERENCE_PASSES: dict[tuple[str, str, tuple[float, ...]], TracedCall | None] = {}


def _reference_key(exercise: Exercise) -> tuple[str, str, tuple[float, ...]]:
    return str(exercise.source), exercise.function, exercise.trace_x


def reference_apart(exercise: Exercise) -> bool:
    """Whether the reference solution's pass is yet to be recorded in this process, in a child of its own
    (record_reference): a course's solution, whose text no child that runs a submission may hold. Handed to the
    student's child before it was confined, rt218's file read it back from that child's freed memory, at 10/10,
    nothing recorded. The catalogue's solutions are this repository's, public: their passes are recorded in the
    first student's child, which saves a child's start."""
    return _reference_key(exercise) not in _REFERENCE_PASSES and not exercise.shipped


def record_reference(session: Conversation, exercise: Exercise, case: grids.GridCase, index: int) -> None:
    """Record the reference solution's pass in `session`, whose file is the solution itself (two plain calls on
    `case`, read at `index`, as a student's are: the first is its pass); None where it cannot be recorded, the
    students' passes then drawn alone."""
    limits = exercise.limits
    call = None
    try:
        hello, _ = session.receive(limits.load_timeout_s, "the start of the sandbox (Python and torch)")
        if same_code(hello):
            session.oracle.start(exercise.draw_secret())
            session.send(_setup(session, exercise, ("cpu",), 0, False))
            session.reply(limits.load_timeout_s, "the sandbox's set-up", parse_confined)
            loaded = session.reply(limits.load_timeout_s, "the import of the reference solution", parse_loaded)
            if loaded is None or loaded.ok:
                traced = trace(session, Observations(load=LoadResult(True)), case, index, limits.call_timeout_s,
                               values_of=exercise.function_values).traced
                call = traced.student[0] if traced is not None and traced.student else None
    except (SessionEnded, HarnessFailed):
        call = None
    _REFERENCE_PASSES.setdefault(_reference_key(exercise), call)


def record_reference_failed(exercise: Exercise) -> None:
    """No child could record the reference solution's pass: the students' are drawn alone (and it is never handed to
    a student's child)."""
    _REFERENCE_PASSES.setdefault(_reference_key(exercise), None)


def run_case(session: Conversation, exercise: Exercise, case: grids.GridCase,
             timeout: Callable[[int], float]) -> CaseResult:
    """One case; `timeout(n)` is how long its n calls may take."""
    secret = draw_secret_calls()
    case_id = session.oracle.expect(secret, *_targets(exercise, case))
    session.send(_case_header(case, secret, case_id), _payload(case))
    try:
        limit = timeout(len(secret))
        result = session.reply(limit, _calls_words(len(secret), limit, exercise), _parser(case, secret, exercise))
    finally:
        asked = session.oracle.forget(case_id)
    return replace(result, asked=asked)


def _targets(exercise: Exercise, case: grids.GridCase) -> tuple[np.ndarray, np.ndarray]:
    """The numbers whose derivative each call must ask about (x for sin, x² for cos(x²)), and how
    near each an ask must come to be about it: within the rounding float32 arithmetic may give it
    (rounding.py, with room to spare: 8 times that, and 1.1e-5 of the number), but
    never further than a tenth of the secret's float32 grain step (a float32 sum over 216 elements
    may be 1e-2 off by that bound; an honest one was 1.2e-4 off, 1.6e-3 stays). A flat tenth of a
    grain step for every input let a red team cover all of sin's inputs with a fixed grid of asks
    1.9e-4 apart."""
    arguments = exercise.primitive_arguments(case.values)
    if not arguments:
        return np.zeros(0), np.zeros(0)
    errors = exercise.argument_rounding(case.values)
    targets = np.concatenate([np.ravel(u) for u in arguments])
    rounding = np.concatenate([np.ravel(e) for e in errors])
    most = 0.1 / grain_size(exercise.tolerances)[0][0]
    # (and 1.1e-5 of the number: a rewritten form rounds further, exp(2·log|x|) for x², 60 float32
    # steps off at x = 2.2e-16, a hunter's honest file; all of it capped, where a red team found the
    # reach of sin at |x| = 1000 wider than a float32 grain step when the oracle added 1e-6·|u| past
    # the cap)
    return targets, np.fmin(8 * rounding + 1.1e-5 * np.abs(targets), most)


def _asked_about(exercise: Exercise, cases: Sequence[grids.GridCase]) -> Iterator[np.ndarray]:
    """The numbers the secret's terms will be wanted at: each input's (an honest child's canary asks
    about those, for sin), and where the reference takes the primitive, as the verdict computes it
    (x² for cos(x²)) and rounded to the input's dtype (a float32 child squares in float32: one
    rounding of the exact square, which float64 holds)."""
    for case in cases:
        yield case.values
        for u in exercise.primitive_arguments(case.values):
            yield u
            if case.dtype != "float64":
                yield grids.round_to(u, case.dtype)


def draw_secret_calls() -> tuple[bool, ...]:
    """Which of a case's calls carry the secret: the repeated pair or the call on a fresh copy,
    and in half the cases a fourth call, on another copy, with a state of its own. Drawn fresh for
    every case of every run (not from the grid seed), so neither the order of the calls nor how many
    there are or are secret tells a submission which ones are; the fourth call catches an answer
    that moves with something other than the secret (its position, say)."""
    pair = _random.random() < 0.5
    if _random.random() < 0.5:
        return (pair, pair, not pair)
    return (pair, pair, not pair, _random.random() < 0.5)


_random = secrets.SystemRandom()


def _parser(case: grids.GridCase, secret: tuple[bool, ...],
            exercise: Exercise) -> Callable[[dict[str, Any], bytes], CaseResult]:
    return lambda reply, payload: parse_case(case, secret, reply, payload, exercise.function_values)


def run_cases(session: Conversation, exercise: Exercise, cases: Sequence[grids.GridCase], results: list[CaseResult],
              timeout: Callable[[int], float]) -> None:
    """Run the cases in order, appending each result as it comes (so that on SessionEnded the
    caller knows which case it was); `timeout(n)` is how long a case of n calls may take, so that a
    slow function's fate never hangs on how many calls were drawn (3 s a call passed a case of three
    calls within 10 s and failed one of four: 1.0 to 1.48 for one file). Requests are pipelined: the
    child finds its next input waiting instead of idling for a round trip. At most WINDOW bytes are in
    flight, under a pipe's usual 64 KiB; the session never waits on a write either (protocol.Sender),
    so a child stuck in a student's call with a smaller pipe still only runs out of time."""
    draws = [draw_secret_calls() for _ in cases]
    payloads = [_payload(case) for case in cases]
    in_flight: list[tuple[int, int]] = []  # (bytes, the case's id at the oracle) per request sent
    sent = 0
    while len(results) < len(cases):
        while sent < len(cases) and (not in_flight or sum(n for n, _ in in_flight) + _size(payloads[sent]) <= WINDOW):
            # The plan goes to the oracle before the child begins it.
            case_id = session.oracle.expect(draws[sent], *_targets(exercise, cases[sent]))
            session.send(_case_header(cases[sent], draws[sent], case_id), payloads[sent])
            in_flight.append((_size(payloads[sent]), case_id))
            sent += 1
        done = len(results)
        limit = timeout(len(draws[done]))
        doing = _calls_words(len(draws[done]), limit, exercise)
        result = session.reply(limit, doing, _parser(cases[done], draws[done], exercise))
        results.append(replace(result, asked=session.oracle.forget(in_flight.pop(0)[1])))


WINDOW = 16 << 10


def _case_header(case: grids.GridCase, secret: tuple[bool, ...], case_id: int) -> dict[str, Any]:
    """A case's request: its calls' plan stays here, at the oracle, under `case_id`."""
    return {"op": "case", "case": case_id, "dtype": case.dtype, "device": case.device, "layout": case.layout,
            "shape": list(case.shape), "calls": len(secret)}


def _payload(case: grids.GridCase) -> bytes:
    return case.values.astype("<f8").tobytes()


def _size(payload: bytes) -> int:
    return len(payload) + 256  # the JSON header is well under 256 bytes


def run_plot(session: Conversation, xs: np.ndarray, timeout: float,
             values_of: Callable[[np.ndarray], np.ndarray]) -> tuple[Returned, bool]:
    """What the function returned on the plot's grid, and whether a second call, on its values plus one, changed it
    (child.Runner.plot: only exactly true counts)."""
    header = {"op": "plot", "dtype": "float32", "device": "cpu", "layout": "plain", "shape": list(xs.shape)}
    return session.request(header, xs.astype("<f8").tobytes(), timeout, "two calls of your function on the plot's grid",
                           lambda reply, data: (resolve_pair(parse_returned(reply.get("first"), reply.get("arrays"),
                                                                            data, xs.size), xs, values_of),
                                                reply.get("changed") is True))


def shrink(session: Conversation, observations: Observations, exercise: Exercise, plan: Plan,
           predicates: dict[str, Callable[[CaseResult], bool]], layouts: dict[str, tuple[str, ...]],
           deadline: float = math.inf) -> Observations:
    """For each per-case check that failed somewhere, find the smallest input on which it still fails,
    within what is left of the submission's time (`deadline`, time.monotonic()): a smaller example
    is feedback only, and no call starts once the time is up."""
    minimal: dict[str, CaseResult] = {}
    for name, fails in predicates.items():
        if session.ended or not any(fails(r) for r in observations.cases):
            continue
        device = next(r.case.device for r in observations.cases if fails(r))
        dtypes = exercise_dtypes(exercise, device)
        # Non-empty inputs first: "fails on [0.5, 1.0]" teaches more than "fails on an empty tensor".
        strategy = grids.grid_cases(dtypes, device, exercise.large, layouts[name], min_side=1, span=exercise.span,
                                    min_abs=exercise.min_abs, families=exercise.families)
        seen: dict[int, CaseResult] = {}

        def still_fails(case: grids.GridCase, fails: Callable[[CaseResult], bool] = fails,
                        seen: dict[int, CaseResult] = seen) -> bool:
            if time.monotonic() >= deadline:
                return False
            try:
                result = run_case(session, exercise, case,
                                  lambda calls: _left(deadline, _case_time(exercise, calls)))
            except SessionEnded:
                return False
            seen[id(case)] = result
            return fails(result)

        budget = min(SHRINK_BUDGET_S, deadline - time.monotonic())
        if budget <= 0:
            break
        smallest = grids.shrink(strategy, still_fails, plan.seed, exercise.examples, SHRINK_CALLS, budget)
        if smallest is not None and id(smallest) in seen:
            minimal[name] = seen[id(smallest)]
    return replace(observations, minimal=minimal)


def trace(session: Conversation, observations: Observations, case: grids.GridCase, index: int,
          timeout: float, deadline: float = math.inf,
          values_of: Callable[[np.ndarray], np.ndarray] | None = None) -> Observations:
    """Record the backward passes of two plain calls on `case`, read at element `index` (the
    sandbox child runs them; see sandbox/trace.py), beside the reference's pass that `collect` got
    before the file loaded. Feedback only: a submission that ends the session here keeps the grade
    it already has, and one whose time (`deadline`) is up is not asked."""
    if session.ended or not observations.load.ok or time.monotonic() >= deadline:
        return observations
    timeout = _left(deadline, timeout)
    header = {"op": "trace", "dtype": case.dtype, "device": case.device, "layout": case.layout,
              "shape": list(case.shape), "index": index}
    flat = tuple(float(v) for v in case.values.reshape(-1))
    try:
        traced = session.request(header, case.values.astype("<f8").tobytes(), timeout,
                                 "a recorded call of your function",
                                 lambda reply, data: parse_traced(flat, index, case.dtype,
                                                                  observations.reference_pass, reply, data, values_of))
    except SessionEnded:
        return observations
    return replace(observations, traced=traced)


def exercise_dtypes(exercise: Exercise, device: str) -> tuple[str, ...]:
    """The dtypes tried on a device: those the exercise gives a tolerance for (a chain rule in half
    precision is mostly rounding error, so such exercises leave it out)."""
    return tuple(d for d in grids.dtypes_for(device) if d in exercise.tolerances)


def _devices(requested: str, cuda: bool) -> tuple[str, ...]:
    if requested == "cpu":
        return ("cpu",)
    if requested == "cuda":
        if not cuda:
            raise GraderFailure("--device cuda was asked for, but torch sees no CUDA device here")
        return ("cuda",)
    return ("cpu", "cuda") if cuda else ("cpu",)


def _calls_words(calls: int, limit: float, exercise: Exercise) -> str:
    """What the child was doing while the grader waited `limit` seconds for a case's reply (a hunter's
    3 s a call was told it "did not finish a call of your function within 10 s"), and, where the
    whole submission's time was what was left, that it ran out."""
    doing = f"the {calls} calls of your function on one input"
    if limit < _case_time(exercise, calls) - 0.01:
        doing += f" (all that was left of the {exercise.limits.total_timeout_s:g} s the whole submission may take)"
    return doing


def _case_time(exercise: Exercise, calls: int) -> float:
    """How long a case of `calls` calls may take: the exercise's limit is for three (a case of four
    gets a third more, so that a slow function's fate never hangs on how many calls were drawn)."""
    return exercise.limits.call_timeout_s * calls / 3


def _left(deadline: float, per_call: float) -> float:
    return max(0.05, min(per_call, deadline - time.monotonic()))


__all__ = ["GraderFailure", "Plan", "collect", "shrink", "trace"]
