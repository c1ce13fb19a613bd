"""The child's replies, validated into observations (parent side): what protocol.py decoded is
untrusted JSON and arrays; only what passes here reaches the checks, as observations.py's data.

Anything malformed raises ProtocolError (the session then ends as the submission's crash), and every
string the child sent is made safe once, here (safe_text.py).
"""

from __future__ import annotations

import collections
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from grader import safe_text
from grader.grids import GridCase
from grader.observations import (
    PROCESS_MODULES,
    CaseResult,
    ErrorInfo,
    Frame,
    LoadResult,
    Returned,
    Traced,
    TracedCall,
    TracedStep,
)
from grader.sandbox.protocol import SOURCES, ProtocolError, array_count, decode_array
from grader.submission import STAND_INS


def _text(raw: Any, limit: int = 4000) -> str:
    """Multi-line student text (an exception's message), made safe to show anywhere."""
    if not isinstance(raw, str):
        raise ProtocolError(f"expected text, got {type(raw).__name__}")
    return safe_text.text(raw, limit)


def _line(raw: Any, limit: int) -> str:
    """One line of student text (a name, a type, a line of code), made safe to show anywhere."""
    if not isinstance(raw, str):
        raise ProtocolError(f"expected text, got {type(raw).__name__}")
    return safe_text.line(raw, limit)


MAX_STATED_DIMS = 64  # a returned tensor's stated shape; torch itself allows no more dimensions


def same_code(hello: dict[str, Any]) -> bool:
    """Whether a child's hello says it runs the grader's code this process found on starting (protocol.SOURCES):
    not where the grader's files changed in between (an upgrade while a batch ran)."""
    return hello.get("sources") == SOURCES


def _int(raw: Any, low: int = -(1 << 63)) -> int | None:
    """An integer that fits in 64 bits (at least `low`), or None."""
    if isinstance(raw, int) and not isinstance(raw, bool) and low <= raw < 1 << 63:
        return raw
    return None


def _flag(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ProtocolError(f"expected true or false, got {raw!r:.40}")
    return raw


def parse_error(raw: Any) -> ErrorInfo:
    if not isinstance(raw, dict):
        raise ProtocolError("an error description that is not an object")
    frames_raw = raw.get("frames", [])
    if not isinstance(frames_raw, list):
        raise ProtocolError("error frames that are not a list")
    frames = tuple(
        Frame(_int(f.get("line")) or 0, _line(f.get("code", ""), 200), _line(f.get("function", ""), 100))
        for f in frames_raw[-5:] if isinstance(f, dict)
    )
    syntax: dict[str, Any] = raw["syntax"] if isinstance(raw.get("syntax"), dict) else {}
    line, offset = syntax.get("line"), _int(syntax.get("offset"))
    # Within the quoted code: the caret is drawn with that many spaces (rt157's offset of 10**12 failed
    # the parent with a MemoryError, a cos cheat's result lost as the grader's error; 2·10**8 wrote a
    # 200 MB result.json).
    offset = None if offset is None else max(1, min(offset, 202))
    via_raw = raw.get("via", [])
    via = tuple(name for name in PROCESS_MODULES if isinstance(via_raw, list) and name in via_raw)
    return ErrorInfo(
        type=_line(raw.get("type"), 100),
        message=_text(raw.get("message", "")),
        frames=frames,
        syntax_line=_int(line),
        syntax_offset=offset,
        syntax_code=_line(syntax.get("code", ""), 200),
        via=via,
    )


def parse_returned(raw: Any, specs: Any, payload: bytes, expected: int | None = None) -> Returned:
    """One call's outcome. An array whose element count is not `expected` (the input's) is never
    decoded: no check can compare it, and decoding what a submission chose to send costs the parent."""
    if not isinstance(raw, dict):
        raise ProtocolError("a call result that is not an object")
    kind = raw.get("kind")
    if kind == "error":
        return Returned("error", error=parse_error(raw.get("error")))
    if kind == "none":
        return Returned("none")
    if kind == "number":
        value = raw.get("value")
        if not isinstance(value, (int, float)):
            raise ProtocolError("a number result without a number")
        return Returned("number", values=np.array(float(value)), type_name=_line(raw.get("type", ""), 50))
    if kind == "other":
        return Returned("other", type_name=_line(raw.get("type", ""), 100), text=_line(raw.get("repr", ""), 300))
    if kind == "pair":
        both = raw.get("pair")
        if not isinstance(both, list) or len(both) != 2 or not all(isinstance(r, dict) and r.get("kind") == "tensor"
                                                                   for r in both):
            raise ProtocolError("a pair result without its two tensors")
        if raw.get("type") not in _HOLDERS:
            raise ProtocolError("a pair result that is neither a tuple, a list nor a dict")
        first, second = (parse_returned(r, specs, payload, expected) for r in both)
        return Returned("pair", type_name=raw["type"], pair=(first, second))
    if kind not in ("tensor", "ndarray", "wrapped", "list"):
        raise ProtocolError(f"a call result of unknown kind {kind!r:.40}")
    container = raw.get("type") if kind in ("wrapped", "list") else None
    if kind in ("wrapped", "list") and container not in (_HOLDERS if kind == "wrapped" else ("tuple", "list")):
        raise ProtocolError(f"a {kind} result that is neither a tuple nor a list")
    shape = raw.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_STATED_DIMS or not all(_int(n, 0) is not None for n in shape):
        raise ProtocolError("a result without a valid shape")
    values = None
    index = raw.get("array")
    if index is not None:
        if not isinstance(specs, list) or _int(index, 0) is None or not index < len(specs):
            raise ProtocolError("a result that points at a missing array")
        count = array_count(specs[index])
        # (a tensor's numbers travel in its own dtype: rt206's rewrite of the child's replies stated x's dtype
        # for a float64 answer to a float32 input, and the contract point was its)
        if kind in ("tensor", "wrapped") and specs[index].get("dtype") != raw.get("dtype"):
            raise ProtocolError("a tensor result whose numbers are not of its stated dtype")
        if expected is None or count == expected:
            values = decode_array(specs[index], payload, count)
    if values is not None and tuple(values.shape) != tuple(shape) and kind != "ndarray":
        raise ProtocolError("a result whose data does not have its stated shape")
    return Returned(
        kind,
        values=values,
        dtype=_line(raw.get("dtype", ""), 50),
        shape=tuple(shape),
        device=_line(raw.get("device", "cpu"), 20),
        requires_grad=bool(raw.get("requires_grad", False)),
        type_name=container or "",
        held=2 if kind == "wrapped" and raw.get("held") == 2 else 1,
        # (one-number tensors, a loop's; what the gradient came beside)
        text="tensors" if kind == "list" and raw.get("of") == "tensors" else
        _BESIDE.get(raw.get("beside", ""), "") if kind == "wrapped" and raw.get("held") == 2 else "",
    )


_HOLDERS = ("tuple", "list", "dict")  # what may hold a value returned with another (child.two_values)
# What a gradient returned beside one number came beside, in words (the child's word is only a key here)
_BESIDE = {"number": "a Python number", "one-number tensor": "a tensor of one number"}


def resolve_pair(returned: Returned, x: np.ndarray, values_of: Callable[[np.ndarray], np.ndarray],
                 choice: int | str | None = "own") -> Returned:
    """Of two tensors of x's size returned together (`return y, x.grad`, `return x, x.grad`), the
    gradient, read as a tensor returned in a tuple (wrapped, held 2), as `choice` says (pair_choice;
    "own": this call's own); unread where it is None. Any other Returned as it is."""
    if returned.kind != "pair" or returned.pair is None:
        return returned
    likeness = _likeness(returned, x, values_of)
    if choice == "own":
        choice = _chosen(returned, likeness, x)
    if not isinstance(choice, int):
        return Returned("other", type_name=returned.type_name, text="a pair of tensors, neither read as the gradient")
    chosen = returned.pair[choice]
    other = (False, False) if likeness is None else (likeness[0][1 - choice], likeness[1][1 - choice])
    beside = {(True, True): "a tensor equal both to x and to the function's values there", (True, False): "x itself",
              (False, True): "the function's values (y)"}.get(other, "another tensor of x's size")
    return Returned("wrapped", values=chosen.values, dtype=chosen.dtype, shape=chosen.shape, device=chosen.device,
                    requires_grad=chosen.requires_grad, type_name=returned.type_name, held=2, text=beside)


def pair_choice(returned: Returned, x: np.ndarray, values_of: Callable[[np.ndarray], np.ndarray]) -> int | None:
    """Which of a pair is the gradient (None: neither can be told): the one that is not x (the sign of
    each zero included) and the one that is not the function's values, where the two rules agree or
    one alone decides, else the one autograd does not track (_decide). Either rule alone misreads: at x = 0,
    cos(x²)'s gradient equals x (hn125: y was read), and where the gradient is the function's values
    (sin + cos at 0, or sin at π/4 in float16) `return x, x.grad` read x (rt167). Taken from a plain
    call and kept for the input's other calls: chosen again under the secret, where the gradient moves
    off the function's values, the choice followed the secret, and an honest file was "unproven"."""
    return _chosen(returned, _likeness(returned, x, values_of), x)


def _chosen(returned: Returned, likeness: tuple[list[bool], list[bool]] | None, x: np.ndarray) -> int | None:
    """pair_choice, on the pair's likeness (_likeness) worked out already."""
    if likeness is None or returned.pair is None:
        return None
    same, near = likeness
    return _decide(same, near, [r.requires_grad for r in returned.pair], not np.any(x))


def _likeness(returned: Returned, x: np.ndarray,
              values_of: Callable[[np.ndarray], np.ndarray]) -> tuple[list[bool], list[bool]] | None:
    """Of each of a pair: whether it is x (the sign of each zero included), and whether it is near the
    function's values; None where their numbers cannot be read."""
    if returned.pair is None or any(r.values is None for r in returned.pair):
        return None
    both = returned.pair
    values = [np.asarray(r.values).reshape(-1) for r in both]
    if any(v.dtype.kind not in "fiub" for v in values):
        return None
    values = [v.astype(np.float64) for v in values]
    with np.errstate(all="ignore"):
        function = np.broadcast_to(np.asarray(values_of(x), dtype=np.float64).reshape(-1)
                                   if x.size else np.zeros(0), values[0].shape)
        x_flat = np.asarray(x, dtype=np.float64).reshape(-1)
        near = [bool(np.allclose(v, function, rtol=_NEAR[r.dtype or ""], atol=_NEAR[r.dtype or ""], equal_nan=True))
                for r, v in zip(both, values, strict=True)]
        same = [bool(np.array_equal(v, x_flat.astype(np.asarray(r.values).dtype).astype(np.float64), equal_nan=True)
                     and np.array_equal(np.signbit(v), np.signbit(x_flat))) for r, v in zip(both, values, strict=True)]
    return same, near


def _decide(same: list[bool], near: list[bool], tracked: list[bool], zeros: bool) -> int | None:
    """pair_choice's rules, on each one's being x, being near the function's values, and being tracked.
    Where the first two disagree, the function's values decide at an x of zeros, whose gradient may
    equal x by chance (cos(x²)'s at 0, beside y or y.detach(), the gradient tracked or not), and being
    x does elsewhere (`return x.detach(), x.grad` where the gradient crosses the function); tracking
    decides only where neither does (a gradient taken with create_graph=True is tracked too)."""
    if all(same):
        return 1  # (both are x: an empty input's pair, or x twice; either is what came back)
    by_x = same.index(False) if same.count(True) == 1 else None
    by_function = near.index(False) if near.count(True) == 1 else None
    if by_x is not None and by_function is not None:
        return by_function if zeros else by_x
    decided = by_x if by_x is not None else by_function
    if decided is not None:
        return decided
    return tracked.index(False) if tracked.count(True) == 1 else None


# How near the function's values a tensor of the pair must be to be them: each dtype's rounding, and more
# (a gradient is another function: near them only where the two cross)
_NEAR: dict[str, float] = collections.defaultdict(lambda: 1e-5, {"float16": 2e-3, "bfloat16": 1e-2})


def _pairs_read(calls: tuple[Returned, ...], secret: tuple[bool, ...], x: np.ndarray,
                values_of: Callable[[np.ndarray], np.ndarray] | None) -> tuple[Returned, ...]:
    """The input's calls, a pair of tensors in each read as the first plain call's pair is
    (pair_choice), never as the secret would choose; unread without the function's values."""
    plain = next((call for call, hidden in zip(calls, secret, strict=True) if not hidden and call.kind == "pair"),
                 None)
    choice = pair_choice(plain, x, values_of) if plain is not None and values_of is not None else None
    return tuple(resolve_pair(call, x, values_of or (lambda v: v), choice) for call in calls)


def parse_case(case: GridCase, secret: tuple[bool, ...], header: dict[str, Any], payload: bytes,
               values_of: Callable[[np.ndarray], np.ndarray] | None = None) -> CaseResult:
    """A case's reply; `secret` is what the parent asked for (never what the child says)."""
    if header.get("event") == "harness_error":
        failure = Returned("error", error=ErrorInfo("GraderHarnessError", _text(header.get("detail", ""))))
        return CaseResult(case, (failure,) * len(secret), secret, False, False, False, 0)
    specs = header.get("arrays")
    primitive_calls = _int(header.get("primitive_calls"), low=0)
    unfollowed = _int(header.get("unfollowed_calls", 0), low=0)
    if primitive_calls is None or unfollowed is None:
        raise ProtocolError("a count of primitive calls that is not a count")
    earlier_changed = _int(header.get("earlier_changed", 0), low=0)
    if earlier_changed is None:
        raise ProtocolError("how many cases back an answer changed, that is not a count")
    calls = header.get("calls")
    if not isinstance(calls, list) or len(calls) != len(secret):
        raise ProtocolError(f"a case reply without its {len(secret)} calls")
    return CaseResult(
        case=case,
        calls=_pairs_read(tuple(parse_returned(call, specs, payload, case.values.size) for call in calls), secret,
                          case.values, values_of),
        secret=secret,
        input_changed=_flag(header.get("input_changed")),
        input_retyped=_flag(header.get("input_retyped", False)),
        earlier_changed=earlier_changed,
        first_changed=_flag(header.get("first_changed", False)),
        own_changed=_flag(header.get("own_changed", False)),
        requires_grad_changed=_flag(header.get("requires_grad_changed")),
        grad_left=_flag(header.get("grad_left")),
        primitive_calls=primitive_calls,
        unfollowed_calls=unfollowed,
        recorded=tuple(_recorded(call) for call in calls) if any(isinstance(call, dict) and "recorded" in call
                                                                  for call in calls) else (),
    )


def _recorded(raw: Any) -> TracedCall | None:
    """A graded call's backward passes, where the child recorded them (Runner.record_calls): names and
    numbers only, validated as a trace's are; None for a call that sent none."""
    recorded = raw.get("recorded") if isinstance(raw, dict) else None
    if recorded is None:
        return None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("runs"), list) or \
            len(recorded["runs"]) > MAX_TRACED_RUNS:
        raise ProtocolError("a graded call's passes that are not a short list")
    runs = tuple(_traced_run(run) for run in recorded["runs"])
    return TracedCall(raw.get("kind") if raw.get("kind") == "error" else "tensor", None, 0, runs,
                      **_passes(recorded, recorded["runs"], runs))


def _passes(raw: dict[str, Any], runs: list[Any], parsed: tuple[tuple[TracedStep, ...], ...]) -> dict[str, Any]:
    """What a recording sends of its passes besides their steps (`parsed`, read from `runs` already), a
    graded call's and a trace's alike: whether one was cut short, how many ran, forward mode's tangents
    and duals, each pass's leaves, roots and whether it reached a leaf of x's size, and the stand-ins."""
    return {"cut": any(isinstance(run, dict) and run.get("cut") is True for run in runs),
            "more_runs": raw.get("more_runs") is True, "passes": _int(raw.get("passes"), 0) or len(parsed),
            "tangents": _tangents(raw), "duals": _tangents(raw, "duals"),
            "leaves": tuple(_held(run, "leaves") for run in runs), "roots": tuple(_held(run, "roots") for run in runs),
            "sized": tuple(run.get("sized") is True for run in runs), "swapped": raw.get("swapped") is True}


def _tangents(raw: dict[str, Any], key: str = "tangents") -> tuple[float | None, ...]:
    """Forward mode's tangents a call unpacked, or its duals' primals (trace.Recorder), a short list of
    numbers."""
    tangents = raw.get(key, [])
    if not isinstance(tangents, list) or len(tangents) > MAX_TANGENTS:
        raise ProtocolError(f"forward-mode {key} that are not a short list")
    return tuple(_number(t) for t in tangents)


MAX_TRACED_STEPS = 48  # sandbox/trace.py hooks no more nodes per pass
MAX_TRACED_RUNS = 4  # nor records more passes per call
MAX_TANGENTS = 4  # nor more forward-mode tangents per call
MAX_TRACED_LEAVES = 9  # nor more leaves per pass (eight read, and one that says there were more)


def parse_traced(x: tuple[float, ...], index: int, dtype: str, reference: TracedCall | None,
                 header: dict[str, Any], _: bytes,
                 values_of: Callable[[np.ndarray], np.ndarray] | None = None) -> Traced | None:
    """A trace reply: the submission's two calls, names and numbers only (the reference's pass was
    recorded before the submission loaded). A harness failure around the trace (the student broke
    torch) leaves no trace, not a crash."""
    if header.get("event") == "harness_error":
        return None
    student = header.get("student")
    if not isinstance(student, list) or len(student) != 2:
        raise ProtocolError("a trace reply without its two calls")
    calls = tuple(_traced_call(call) for call in student)
    return Traced(x, index, dtype, tuple(_traced_pair(call, x, index, dtype, values_of) for call in calls), reference)


def _traced_pair(call: TracedCall, x: tuple[float, ...], index: int, dtype: str,
                 values_of: Callable[[np.ndarray], np.ndarray] | None) -> TracedCall:
    """A traced pair read as the grid's pairs are (pair_choice's rules, at the sample element): a
    tensor of that value, or what came back unread."""
    if call.kind != "pair":
        return call
    choice = None
    if values_of is not None and len(call.pair) == 2 and all(v is not None for v, _, _ in call.pair):
        with np.errstate(all="ignore"):
            function = np.asarray(values_of(np.array(x, dtype=np.float64)), dtype=np.float64).reshape(-1)
        at = float(function[index if function.size > index else 0]) if function.size else math.nan
        near = [bool(np.isclose(v or 0.0, at, rtol=_NEAR[dtype], atol=_NEAR[dtype], equal_nan=True))
                for v, _, _ in call.pair]
        choice = _decide([is_x for _, _, is_x in call.pair], near, [tracked for _, tracked, _ in call.pair],
                         not any(x))
    if choice is None:
        return replace(call, kind="other", about="tuple", pair=())
    return replace(call, kind="tensor", value=call.pair[choice][0], pair=())


def parse_reference(header: dict[str, Any], _: bytes) -> TracedCall | None:
    """The reference solution's pass, sent before the student's file loaded (None: it did not load)."""
    if header.get("event") == "harness_error":
        raise HarnessFailed(_text(header.get("detail", "")))
    if header.get("event") != "reference":
        raise ProtocolError("no reference pass where one was asked for")
    call = header.get("call")
    return _traced_call(call) if call is not None else None


def _traced_call(raw: Any) -> TracedCall:
    if not isinstance(raw, dict) or raw.get("kind") not in ("tensor", "error", "other", "pair"):
        raise ProtocolError("a traced call that is not described")
    pair = raw.get("pair") if raw.get("kind") == "pair" else []
    if not isinstance(pair, list) or len(pair) > 2 or not all(isinstance(one, dict) for one in pair):
        raise ProtocolError("a traced pair that is not two described tensors")
    runs = raw.get("runs")
    if not isinstance(runs, list) or len(runs) > MAX_TRACED_RUNS:
        raise ProtocolError("traced passes that are not a short list")
    parsed = tuple(_traced_run(run) for run in runs)
    return TracedCall(raw["kind"], _number(raw.get("value")), _int(raw.get("primitive_calls"), 0) or 0, parsed,
                      about=_line(raw.get("about", ""), 240), **_passes(raw, runs, parsed),
                      pair=tuple((_number(one.get("value")), one.get("tracked") is True, one.get("is_x") is True)
                                 for one in pair))


def _traced_run(raw: Any) -> tuple[TracedStep, ...]:
    steps = raw.get("steps") if isinstance(raw, dict) else None
    if not isinstance(steps, list) or len(steps) > MAX_TRACED_STEPS:
        raise ProtocolError("a traced pass whose steps are not a short list")
    return tuple(_traced_step(step, len(steps)) for step in steps)


def _held(raw: dict[str, Any], key: str) -> tuple[float | None, ...]:
    """What a pass's leaves or its roots (`key`) held at the sample element (trace._Pass: at most
    MAX_EDGES and one unread); none sent (a pass hooked before they were read) is none known."""
    held = raw.get(key, [])
    if not isinstance(held, list) or len(held) > MAX_TRACED_LEAVES:
        raise ProtocolError(f"a traced pass's {key} that are not a short list")
    return tuple(_number(value) for value in held)


def _traced_step(raw: Any, count: int) -> TracedStep:
    if not isinstance(raw, dict):
        raise ProtocolError("a traced step that is not an object")
    nexts, outs = raw.get("next"), raw.get("grad_out")
    if (not isinstance(nexts, list) or not isinstance(outs, list) or len(nexts) != len(outs) or len(nexts) > 8
            or not all(_int(n, -1) is not None and n < count for n in nexts)):
        raise ProtocolError("a traced step whose edges are malformed")
    numbers = {key: _number(raw.get(key)) for key in ("grad_in", "u", "result", "constant", "other", "held", "local")}
    return TracedStep(_line(raw.get("op"), 60), tuple(nexts), tuple(_number(v) for v in outs), **numbers,
                      one_input=raw.get("one_input") is True, many=raw.get("many") is True)


def _number(raw: Any) -> float | None:
    """A recorded number: finite on the wire as a number, nan and the infinities as text."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)) and abs(raw) <= sys.float_info.max:
        return float(raw)
    if raw in ("nan", "inf", "-inf"):
        return float(raw)
    raise ProtocolError(f"a recorded number that is not one: {raw!r:.40}")


def parse_events(raw: tuple[str, ...]) -> tuple[str, ...]:
    """The audit record as the child sent it (already bounded by RecordStream: 50 distinct ordinary
    events and 50 ways towards the secret), each made safe as one line of at most 300 characters (a path
    in an event is the submission's choice)."""
    return tuple(safe_text.line(event, 300) for event in raw)


class HarnessFailed(Exception):
    """The child could not be set up (confined, its canary installed) before any student code ran:
    the grader's failure, never the student's."""


def parse_confined(reply: dict[str, Any], _: bytes) -> tuple[str, ...]:
    """The child's layers, sent once it is confined and before the student's file runs (so no
    submission can forge them), or HarnessFailed with why it could not be."""
    if reply.get("event") == "harness_error":
        raise HarnessFailed(_text(reply.get("detail", "")))
    raw_layers = reply.get("layers")
    if reply.get("event") != "confined" or not isinstance(raw_layers, list):
        raise ProtocolError("no sandbox layers where they were due")
    return tuple(safe_text.line(str(layer), 80) for layer in raw_layers[:20])


def parse_loaded(reply: dict[str, Any], _: bytes) -> LoadResult | None:
    """Why the file did not load (None when it did), or what its import raised after it defined the
    function (a LoadResult that is ok, with the error). Sent after the student's file ran, so
    validated like any other reply. (Its events come over the record channel, as they happen:
    Session.events.)"""
    if reply.get("event") not in ("ready", "load_error"):
        raise ProtocolError("something other than the outcome of the import")
    if reply.get("event") == "ready":
        raised, stood_in = reply.get("raised"), _stand_ins(reply)
        if raised is None and not stood_in:
            return None
        return LoadResult(ok=True, error=parse_error(raised) if raised is not None else None, stand_ins=stood_in)
    return _load_failure(reply)


def _stand_ins(reply: dict[str, Any]) -> tuple[str, ...]:
    """The stand-ins the file imported: only the names the grader stands in for, each once."""
    raw = reply.get("stand_ins", [])
    if not isinstance(raw, list):
        raise ProtocolError("stand-ins that are not a list")
    return tuple(name for name in STAND_INS if name in raw)


def _load_failure(reply: dict[str, Any]) -> LoadResult:
    error = reply.get("error")
    names = reply.get("names", [])
    return LoadResult(
        ok=False,
        error=parse_error(error) if error is not None else None,
        missing=safe_text.line(str(reply.get("missing", "")), 60) or None,
        names=tuple(safe_text.line(str(n), 60) for n in names[:50]) if isinstance(names, list) else (),
        stand_ins=_stand_ins(reply),
    )
