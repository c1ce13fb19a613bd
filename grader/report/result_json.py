"""result.json: the stable, documented contract (schema_version 2; see README)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.outcome import BackwardPass, Outcome
from grader.report import atomic

SCHEMA_VERSION = 2  # 2: backward_pass


def to_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "exercise": outcome.exercise,
        "submission": {"path": str(outcome.submission), "sha256": outcome.sha256,
                       # (modules of the student's own, graded beside the file: ux123)
                       "helpers": [{"name": name, "sha256": sha} for name, sha in outcome.helpers]},
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
                "held_back": f.held_back,
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
        "by_hand": recorded.by_hand,
    }


def _step(step: Any) -> dict[str, Any]:
    return {k: _finite(v) if isinstance(v, float) else list(v) if isinstance(v, tuple) else v
            for k, v in asdict(step).items()}


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def write(outcome: Outcome, path: Path, key: bytes = b"", plotted: bool = True) -> Path:
    """result.json; with `key` (a batch's), signed, so that a later run of the batch can tell its own
    results from a file a student put in their folder (see batch.results_key). `plotted`: whether
    this grading drew its plots (a batch run again with them draws those a --no-plot run left out)."""
    data = to_dict(outcome)
    if not plotted:
        data["plotted"] = False
    if key:
        data = json.loads(json.dumps(data, allow_nan=False, default=_plain))  # as a reader will parse it
        data["signature"] = signature(data, key)
    atomic.write(path, json.dumps(data, indent=2, allow_nan=False, default=_plain) + "\n")
    return path


def signature(data: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the result's content (any "signature" in it left out), in a canonical form."""
    content = {k: v for k, v in data.items() if k != "signature"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def signed(path: Path, key: bytes) -> dict[str, Any] | None:
    """The result at `path` if it is one that `key` signed (whole, as written), else None: a file a
    student wrote (a forged score, or one that crashed the gradebook), or a result of another key."""
    try:  # no link followed, no FIFO waited on: the student's folder may hold either
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            text = handle.read(MAX_RESULT_BYTES + 1)
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or len(text) > MAX_RESULT_BYTES or not isinstance(data.get("signature"), str):
        return None
    return data if hmac.compare_digest(data["signature"], signature(data, key)) else None


MAX_RESULT_BYTES = 16 << 20  # far above any result this grader writes (64 KiB per stream, 50 events)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
