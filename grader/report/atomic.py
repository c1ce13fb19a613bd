"""Every file a report writes, written whole or not at all, and never through a link.

A file is made beside its destination under a fresh random name (mkstemp: O_CREAT | O_EXCL, so it
follows no link already there) and renamed over the destination, which replaces a link itself
rather than what it points to. Where a batch writes beside the submissions, a student's folder is
the results folder: the PNGs were written through `.feedback.png.partial`, a fixed name a student
made a link to another student's solution.py, as root."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def replacing(path: Path, binary: bool = False, newline: str | None = None) -> Iterator[IO[Any]]:
    """A handle to write `path`'s new content to; it takes `path`'s place when the block ends, and
    is removed if the block raises: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = {} if binary else {"encoding": "utf-8", "newline": newline}
        with open(fd, "wb" if binary else "w", **text) as handle:  # type: ignore[call-overload]
            yield handle
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(path: Path, data: str | bytes) -> Path:
    with replacing(path, binary=isinstance(data, bytes)) as handle:
        handle.write(data)
    return path
