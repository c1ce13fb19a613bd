"""What the parent saw the submission do, after validating every reply from the child.

Frozen data built only from checked JSON facts and decoded arrays; checks read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader import safe_text
from grader.canary import Secret
from grader.grids import GridCase
from grader.sandbox.protocol import ProtocolError, array_count, decode_array
from grader.sandbox.session import Ended


@dataclass(frozen=True)
class Frame:
    line: int
    code: str
    function: str


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    frames: tuple[Frame, ...] = ()
    syntax_line: int | None = None
    syntax_offset: int | None = None
    syntax_code: str = ""

    def headline(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.type}: {first}" if first else self.type


@dataclass(frozen=True)
class Returned:
    """One call's outcome: a value (kind tensor/ndarray/number/none/other) or an error."""

    kind: str
    values: np.ndarray | None = field(default=None, compare=False)
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    device: str | None = None
    requires_grad: bool = False
    type_name: str = ""
    text: str = ""
    error: ErrorInfo | None = None


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

    @property
    def first(self) -> Returned:
        return self.calls[0]

    @property
    def second(self) -> Returned:
        return self.calls[1]

    @property
    def judged(self) -> tuple[tuple[Returned, bool], ...]:
        """(answer, secret?) for the first call on each tensor; the repeat only tests repeatability."""
        return tuple((call, secret) for i, (call, secret) in enumerate(zip(self.calls, self.secret, strict=True))
                     if i != 1)

    @property
    def plain(self) -> Returned:
        """The answer with autograd's true derivative: what correctness judges."""
        return next(call for call, secret in self.judged if not secret)

    @property
    def under_secret(self) -> Returned:
        """The answer with the secret derivative: what it must follow."""
        return next(call for call, secret in self.judged if secret)


@dataclass(frozen=True)
class LoadResult:
    ok: bool
    error: ErrorInfo | None = None
    missing: str | None = None  # "missing" or the type found instead of a function
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceHit:
    """A line of the student's source that calls something suspicious (secondary evidence only)."""

    line: int
    name: str
    code: str


@dataclass(frozen=True)
class Output:
    stdout: str = ""
    stdout_bytes: int = 0
    stderr: str = ""
    stderr_bytes: int = 0


@dataclass(frozen=True)
class Observations:
    load: LoadResult
    cases: tuple[CaseResult, ...] = ()
    planned: tuple[GridCase, ...] = ()
    ended: Ended | None = None
    ended_case: GridCase | None = None
    plot_x: np.ndarray | None = field(default=None, compare=False)
    plot: Returned | None = None
    minimal: dict[str, CaseResult] = field(default_factory=dict)
    output: Output = Output()
    devices: tuple[str, ...] = ("cpu",)
    torch_version: str = ""
    layers: tuple[str, ...] = ()
    secret: Secret | None = None
    source_hits: tuple[SourceHit, ...] = ()
    source_uses_autograd: bool = False  # the source calls backward, autograd.grad, torch.func, ...
    events: tuple[str, ...] = ()  # recorded for review: attempts the sandbox stopped or watched


# ---- validation of the child's replies ---------------------------------------------------------

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
        if expected is None or array_count(specs[index]) == expected:
            values = decode_array(specs[index], payload)
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
    """The audit record as the child sent it: one line each (a path in an event is the
    submission's choice), at most 50 lines of 300 characters."""
    return tuple(safe_text.line(event, 300) for event in raw[:50])
