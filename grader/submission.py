"""Find and read a student's file. Never imports it: that happens only in the sandbox child."""

from __future__ import annotations

import ast
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.observations import SourceHit

MAX_SOURCE_BYTES = 1 << 20
SUSPICIOUS_CALLS = {"gradient": "uses finite differences (torch.gradient)"}  # besides the exercise's telltales


class SubmissionError(ValueError):
    """The path given is not a gradable file (the user's mistake, reported before grading)."""


@dataclass(frozen=True)
class Submission:
    path: Path
    source: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()


def read(path: Path) -> Submission:
    if path.is_dir():
        candidates = sorted(path.glob("*.py"))
        if len(candidates) != 1:
            raise SubmissionError(f"{path} is a folder; give the .py file to grade")
        path = candidates[0]
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{path}: larger than {MAX_SOURCE_BYTES >> 10} KiB; is it really a solution file?")
    return Submission(path, path.read_bytes())


def from_function(function: Callable[..., Any]) -> Submission:
    """A function defined in this process (a notebook cell), named by the function and read from
    its source where Python still has it."""
    try:
        source = inspect.getsource(function).encode()
    except (OSError, TypeError):
        source = b""
    return Submission(Path(f"{getattr(function, '__name__', 'function')}()"), source)


AUTOGRAD_CALLS = frozenset({"backward", "grad", "vjp", "jvp", "jacobian", "hessian", "jacrev", "jacfwd", "make_dual",
                            "unpack_dual", "vmap"})


def uses_autograd(source: bytes) -> bool:
    """Whether the source calls into autograd at all (backward, autograd.grad, torch.func, forward
    AD): it lets the feedback tell autograd of another function from no autograd. Never a verdict."""
    return any(_called(node) in AUTOGRAD_CALLS for node in _calls(source))


def _calls(source: bytes) -> list[ast.Call]:
    try:
        return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []


def _called(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def scan(source: bytes, telltales: frozenset[str] = frozenset({"cos"})) -> tuple[SourceHit, ...]:
    """Lines that call a telltale (cos, for sin's derivative) or finite differences: evidence for
    the feedback, never a verdict."""
    suspicious = set(SUSPICIOUS_CALLS) | telltales | {f"{name}_" for name in telltales}
    lines = source.decode("utf-8", errors="replace").splitlines()
    hits = []
    for node in _calls(source):
        name = _called(node)
        if name in suspicious and 0 < node.lineno <= len(lines):
            hits.append(SourceHit(node.lineno, name, lines[node.lineno - 1].strip()[:160]))
    return tuple(sorted(set(hits), key=lambda h: h.line))[:10]
