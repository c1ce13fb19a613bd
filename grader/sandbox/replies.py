"""The child's replies, validated into observations (parent side): what protocol.py decoded is
untrusted JSON and arrays; only what passes here reaches the checks, as observations.py's data.

Anything malformed raises ProtocolError (the session then ends as the submission's crash), and every
string the child sent is made safe once, here (safe_text.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader import safe_text
from grader.grids import GridCase
from grader.observations import CaseResult, ErrorInfo, Frame, LoadResult, Returned
from grader.sandbox.protocol import ProtocolError, array_count, decode_array


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
    line, offset = syntax.get("line"), syntax.get("offset")
    return ErrorInfo(
        type=_line(raw.get("type"), 100),
        message=_text(raw.get("message", "")),
        frames=frames,
        syntax_line=_int(line),
        syntax_offset=_int(offset),
        syntax_code=_line(syntax.get("code", ""), 200),
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
    if kind not in ("tensor", "ndarray"):
        raise ProtocolError(f"a call result of unknown kind {kind!r:.40}")
    shape = raw.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_STATED_DIMS or not all(_int(n, 0) is not None for n in shape):
        raise ProtocolError("a result without a valid shape")
    values = None
    index = raw.get("array")
    if index is not None:
        if not isinstance(specs, list) or _int(index, 0) is None or not index < len(specs):
            raise ProtocolError("a result that points at a missing array")
        count = array_count(specs[index])
        if expected is None or count == expected:
            values = decode_array(specs[index], payload, count)
    if values is not None and tuple(values.shape) != tuple(shape) and kind == "tensor":
        raise ProtocolError("a result whose data does not have its stated shape")
    return Returned(
        kind,
        values=values,
        dtype=_line(raw.get("dtype", ""), 50),
        shape=tuple(shape),
        device=_line(raw.get("device", "cpu"), 20),
        requires_grad=bool(raw.get("requires_grad", False)),
    )


def parse_case(case: GridCase, secret: tuple[bool, ...], header: dict[str, Any], payload: bytes) -> CaseResult:
    """A case's reply; `secret` is what the parent asked for (never what the child says)."""
    if header.get("event") == "harness_error":
        failure = Returned("error", error=ErrorInfo("GraderHarnessError", _text(header.get("detail", ""))))
        return CaseResult(case, (failure,) * len(secret), secret, False, False, False, 0)
    specs = header.get("arrays")
    primitive_calls = _int(header.get("primitive_calls"), low=0)
    if primitive_calls is None:
        raise ProtocolError("a count of primitive calls that is not a count")
    calls = header.get("calls")
    if not isinstance(calls, list) or len(calls) != len(secret):
        raise ProtocolError(f"a case reply without its {len(secret)} calls")
    return CaseResult(
        case=case,
        calls=tuple(parse_returned(call, specs, payload, case.values.size) for call in calls),
        secret=secret,
        input_changed=_flag(header.get("input_changed")),
        requires_grad_changed=_flag(header.get("requires_grad_changed")),
        grad_left=_flag(header.get("grad_left")),
        primitive_calls=primitive_calls,
    )


def parse_events(raw: tuple[str, ...]) -> tuple[str, ...]:
    """The audit record as the child sent it (already bounded by RecordStream: 50 ordinary events
    and the ways towards the secret), each made safe as one line of at most 300 characters (a path
    in an event is the submission's choice)."""
    return tuple(safe_text.line(event, 300) for event in raw)


def parse_loaded(reply: dict[str, Any], _: bytes) -> tuple[tuple[str, ...], LoadResult | None]:
    """The reply to setup: the child's layers, and why the file did not load (None when it did).
    Sent after the student's file ran, so validated like any other reply. (Its events come over the
    record channel, as they happen: Session.events.)"""
    raw_layers = reply.get("layers", [])
    if not isinstance(raw_layers, list):
        raise ProtocolError("sandbox layers that are not a list")
    layers = tuple(safe_text.line(str(layer), 80) for layer in raw_layers[:20])
    return layers, None if reply.get("event") == "ready" else _load_failure(reply)


def _load_failure(reply: dict[str, Any]) -> LoadResult:
    error = reply.get("error")
    names = reply.get("names", [])
    return LoadResult(
        ok=False,
        error=parse_error(error) if error is not None else None,
        missing=safe_text.line(str(reply.get("missing", "")), 60) or None,
        names=tuple(safe_text.line(str(n), 60) for n in names[:50]) if isinstance(names, list) else (),
    )
