"""Drive one sandbox session over the grids and collect what the submission did.

Runs only parent-side code: it sends inputs, validates replies and never interprets them beyond
turning them into Observations; checks.py decides what they mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from grader import grids
from grader.canary import Secret
from grader.exercise import Exercise
from grader.observations import (
    CaseResult,
    LoadResult,
    Observations,
    Returned,
    parse_case,
    parse_error,
    parse_events,
    parse_returned,
)
from grader.sandbox.protocol import ProtocolError
from grader.sandbox.session import Conversation, Session, SessionEnded
from grader.sandbox.zygote import Zygote

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
        """The feedback plot's x values: the same for every seed."""
        low, high = exercise.plot_range
        return grids.round_to(np.linspace(low, high, exercise.plot_points), "float32")

    def ensure(self, exercise: Exercise, devices: Sequence[str]) -> Plan:
        """This plan with grids for every device in `devices` (drawing only the missing ones)."""
        cases = dict(self.cases)
        for device in devices:
            if device not in cases:
                dtypes = exercise_dtypes(exercise, device)
                strategy = grids.grid_cases(dtypes, device, exercise.large, span=exercise.span,
                                            min_abs=exercise.min_abs, families=exercise.families)
                drawn = grids.draw(strategy, exercise.examples, self.seed + (device != "cpu"))
                explicit = grids.explicit_cases(dtypes, device, exercise.span, exercise.min_abs)
                cases[device] = tuple(explicit + drawn)
        return replace(self, cases=cases)


def start(source: Path, exercise: Exercise, zygote: Zygote | None = None) -> Session:
    """Start the child now: forked from a warm zygote, or afresh (it then imports torch while the
    caller draws grids)."""
    return Session(source, exercise.limits.output_kib, zygote, memory_gib=exercise.limits.memory_gib)


def collect(session: Conversation, exercise: Exercise, plan: Plan, secret: Secret,
            device: str = "auto") -> Observations:
    limits = exercise.limits
    deadline = time.monotonic() + limits.total_timeout_s
    try:
        hello, _ = session.receive(limits.load_timeout_s, "the start of the sandbox (Python and torch)")
    except SessionEnded as end:
        raise GraderFailure(f"the sandbox did not start: {end.ended.detail}") from None
    devices = _devices(device, bool(hello.get("cuda")))
    plan = plan.ensure(exercise, devices)
    session.send({
        "op": "setup",
        "path": str(session.path),
        "function": exercise.function,
        "primitive": exercise.primitive,
        "derivative": exercise.derivative,
        "secret": secret.to_wire(),
        "limits": {"total_timeout_s": limits.total_timeout_s, "memory_gib": limits.memory_gib},
        "devices": list(devices),
        "skip": sorted(session.skip),
    })
    base = Observations(load=LoadResult(False), devices=devices, torch_version=str(hello.get("torch", ""))[:50],
                        plot_x=plan.plot_x)
    try:
        loaded, _ = session.receive(limits.load_timeout_s, "the import of your file")
    except SessionEnded as end:
        return replace(base, ended=end.ended)
    layers = tuple(str(layer)[:80] for layer in loaded.get("layers", []))[:20]
    layers = (*session.outer_layers, *layers)
    try:
        events = parse_events(loaded.get("events", []))
    except ProtocolError:
        events = ("sent malformed sandbox events",)
    base = replace(base, layers=layers, events=events)
    if loaded.get("event") != "ready":
        return replace(base, load=_load_failure(loaded))
    cases = [case for d in devices for case in plan.cases[d]]
    results: list[CaseResult] = []
    ended, ended_case = None, None
    try:
        run_cases(session, cases, results, lambda: _left(deadline, limits.call_timeout_s))
        plot = run_plot(session, plan.plot_x, _left(deadline, limits.call_timeout_s))
    except SessionEnded as end:
        ended, plot = end.ended, None
        ended_case = cases[len(results)] if len(results) < len(cases) else None
    if results:
        events = tuple(sorted(set(events) | set(results[-1].events)))
    return replace(
        base, load=LoadResult(True), cases=tuple(results), planned=tuple(cases), secret=secret, ended=ended,
        ended_case=ended_case, plot=plot, events=events,
    )


def run_case(session: Conversation, case: grids.GridCase, timeout: float) -> CaseResult:
    session.send(*_case_request(case))
    return session.reply(timeout, "a call of your function", _parser(case))


def _parser(case: grids.GridCase) -> Callable[[dict[str, Any], bytes], CaseResult]:
    return lambda reply, payload: parse_case(case, reply, payload)


def run_cases(session: Conversation, cases: Sequence[grids.GridCase], results: list[CaseResult],
              timeout: Callable[[], float]) -> None:
    """Run the cases in order, appending each result as it comes (so that on SessionEnded the
    caller knows which case it was). Requests are pipelined: the child finds its next input waiting
    instead of idling for a round trip. At most WINDOW bytes are in flight, well under a pipe's
    64 KiB, so sending never blocks on a child that is stuck in a student's call."""
    requests = [_case_request(case) for case in cases]
    in_flight: list[int] = []
    sent = 0
    while len(results) < len(cases):
        while sent < len(cases) and (not in_flight or sum(in_flight) + _size(requests[sent]) <= WINDOW):
            session.send(*requests[sent])
            in_flight.append(_size(requests[sent]))
            sent += 1
        results.append(session.reply(timeout(), "a call of your function", _parser(cases[len(results)])))
        in_flight.pop(0)


WINDOW = 16 << 10


def _case_request(case: grids.GridCase) -> tuple[dict[str, Any], bytes]:
    header = {"op": "case", "dtype": case.dtype, "device": case.device, "layout": case.layout,
              "shape": list(case.shape)}
    return header, case.values.astype("<f8").tobytes()


def _size(request: tuple[dict[str, Any], bytes]) -> int:
    return len(request[1]) + 256  # the JSON header is well under 256 bytes


def run_plot(session: Conversation, xs: np.ndarray, timeout: float) -> Returned:
    header = {"op": "plot", "dtype": "float32", "device": "cpu", "layout": "plain", "shape": list(xs.shape)}
    return session.request(header, xs.astype("<f8").tobytes(), timeout, "a call of your function on the plot's grid",
                           lambda reply, payload: parse_returned(reply.get("first"), reply.get("arrays"), payload))


def shrink(session: Conversation, observations: Observations, exercise: Exercise, plan: Plan,
           predicates: dict[str, Callable[[CaseResult], bool]], layouts: dict[str, tuple[str, ...]]) -> Observations:
    """For each per-case check that failed somewhere, find the smallest input on which it still fails."""
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
            try:
                result = run_case(session, case, exercise.limits.call_timeout_s)
            except SessionEnded:
                return False
            seen[id(case)] = result
            return fails(result)

        smallest = grids.shrink(strategy, still_fails, plan.seed, exercise.examples, SHRINK_CALLS, SHRINK_BUDGET_S)
        if smallest is not None and id(smallest) in seen:
            minimal[name] = seen[id(smallest)]
    return replace(observations, minimal=minimal)


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


def _left(deadline: float, per_call: float) -> float:
    return max(0.05, min(per_call, deadline - time.monotonic()))


def _load_failure(reply: dict) -> LoadResult:
    error = reply.get("error")
    names = reply.get("names", [])
    return LoadResult(
        ok=False,
        error=parse_error(error) if error is not None else None,
        missing=str(reply.get("missing", ""))[:60] or None,
        names=tuple(str(n)[:60] for n in names[:50]) if isinstance(names, list) else (),
    )


__all__ = ["GraderFailure", "Plan", "collect", "shrink", "start"]
