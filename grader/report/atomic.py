"""Every file a report writes, written whole or not at all, and never through a link.

A file is made beside its destination under a fresh random name (mkstemp: O_CREAT | O_EXCL, so it
follows no link already there) and renamed over the destination, which replaces a link itself
rather than what it points to. Where a batch writes beside the submissions, a student's folder is
the results folder: the PNGs were written through `.feedback.png.partial`, a fixed name a student
made a link to another student's solution.py, as root. A folder at the destination (a student
submitted one named result.json, and a cos cheat was reported as the grader's failure, run after
run) is moved aside under a fresh name, not deleted: nothing of theirs is lost, and the file goes in."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def replacing(path: Path, binary: bool = False, newline: str | None = None,
              private: bool = False) -> Iterator[IO[Any]]:
    """A handle to write `path`'s new content to; it takes `path`'s place when the block ends, and
    is removed if the block raises: a reader never sees half a file. Its mode is what the umask
    gives a new file (mkstemp's 0600 kept every result, plot and gradebook from the co-TAs and web
    server the umask meant to share them with), or 0600 where `private`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if not private:
            os.fchmod(fd, 0o666 & ~_umask())
        text = {} if binary else {"encoding": "utf-8", "newline": newline}
        with open(fd, "wb" if binary else "w", **text) as handle:  # type: ignore[call-overload]
            yield handle
        _move_folder_aside(path)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@functools.cache
def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, and another thread could
    make a file meanwhile); 0o077 where /proc does not say, as mkstemp would have it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o077


def write(path: Path, data: str | bytes, private: bool = False) -> Path:
    with replacing(path, binary=isinstance(data, bytes), private=private) as handle:
        handle.write(data)
    return path


def remove(path: Path) -> None:
    """Nothing at `path` any more: a file or link is removed, a folder moved aside (as above)."""
    if not _move_folder_aside(path):
        path.unlink(missing_ok=True)


def folder(path: Path) -> Path:
    """A real folder at `path`: anything else there (a file, a link, to a folder too) moved aside, as
    a folder in a file's way is. Where a batch writes beside the submissions, a plain file named
    `alice` beside alice.py kept alice's results folder from being made, and her row was the
    grader's failure on every rerun (rt138)."""
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            _aside(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _move_folder_aside(path: Path) -> bool:
    """A real folder at `path` (not a link to one) renamed to `.NAME.in-the-way-RANDOM` beside it."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    _aside(path)
    return True


def _aside(path: Path) -> None:
    """`path` renamed to `.NAME.in-the-way-RANDOM` beside it: nothing of a student's is lost."""
    os.rename(path, path.with_name(f".{path.name}.in-the-way-{secrets.token_hex(4)}"))
