"""result.json: the stable, documented contract (schema_version 1; see README)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from grader.outcome import Outcome

SCHEMA_VERSION = 1


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
    }


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
