"""result.json: the stable, documented contract (schema_version 2; see README)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.outcome import BackwardPass, Outcome

SCHEMA_VERSION = 2  # 2: backward_pass


def to_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "exercise": outcome.exercise,
        "submission": {"path": str(outcome.submission), "sha256": outcome.sha256},
        "status": outcome.status,
        "score": outcome.score,
        "max_score": outcome.max_score,
        "checks": [
            {
                "name": f.name,
                "passed": f.passed,
                "score": f.score,
                "max_score": f.max_score,
                "message": f.message,
                "details": f.data,
            }
            for f in outcome.findings
        ],
        "seed": outcome.seed,
        "device": outcome.devices[-1] if outcome.devices else None,
        "devices": list(outcome.devices),
        "versions": outcome.versions,
        "duration_s": outcome.duration_s,
        "output": {
            "stdout": outcome.stdout,
            "stdout_bytes": outcome.stdout_bytes,
            "stderr": outcome.stderr,
            "stderr_bytes": outcome.stderr_bytes,
            "truncated": outcome.output_truncated,
        },
        "sandbox": {"layers": list(outcome.sandbox_layers), "events": list(outcome.sandbox_events)},
        "grader_error": outcome.grader_error or None,
        "cache_key": outcome.cache_key,
        "backward_pass": backward_pass(outcome.backward),
    }


def backward_pass(recorded: BackwardPass | None) -> dict[str, Any] | None:
    """The passes as plain data; a number that is not finite is written as text ("nan", "inf")."""
    if recorded is None:
        return None
    return {
        "sample_x": _finite(recorded.sample_x),
        "input": [_finite(v) for v in recorded.input_values],
        "student": [_step(s) for s in recorded.student],
        "reference": [_step(s) for s in recorded.reference],
        "divergence": recorded.divergence,
        "diverges_at": recorded.diverges_at,
        "reference_at": recorded.reference_at,
        "description": recorded.description or None,
    }


def _step(step: Any) -> dict[str, Any]:
    return {k: _finite(v) if isinstance(v, float) else list(v) if isinstance(v, tuple) else v
            for k, v in asdict(step).items()}


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def write(outcome: Outcome, path: Path) -> Path:
    write_atomic(path, json.dumps(to_dict(outcome), indent=2, allow_nan=False, default=_plain) + "\n")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
