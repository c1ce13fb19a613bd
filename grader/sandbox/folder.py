"""The child's folder where it lies on the host's disk, counted while the child runs.

Where the child has a mount namespace its folder is a tmpfs of FOLDER_MIB (confine.py) and the
kernel bounds it. Without one (a container's root, a machine that allows no unprivileged user
namespaces) the folder is a plain folder under the host's /tmp, where the kernel bounds only each
file (a submission filled the disk with files of 63 MiB): the grader's FolderWatch counts it
instead, and stops the child past FOLDER_MIB or FOLDER_ENTRIES. The child uses the folder as any
program uses its own (folders, removing and renaming: tempfile's TemporaryDirectory, os.replace,
sqlite's journal), so the count must see every byte that a name, a descriptor or a mapping keeps:

- a folder tree of any length of path (a red team hid 2.5 GiB below a path longer than PATH_MAX):
  walked by descriptor, each folder opened from its parent, never by path;
- files unlinked while open: what /proc/PID/fd holds;
- files mapped, closed and unlinked (a red team hid as much so): what /proc/PID/maps shows as
  "(deleted)", by their size where the kernel lets us see it (map_files, CAP_SYS_ADMIN) and at
  the most a file may hold (FILE_MIB, the child's RLIMIT_FSIZE) where it does not.

The walk reads no folder's access time (O_NOATIME where allowed), so the child cannot tell when it
passed, and it stops past MAX_DEPTH levels, so it holds few descriptors whatever the child made.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.confine import FILE_MIB, FOLDER_ENTRIES

MAX_DEPTH = 32  # levels of folders (an honest file makes two or three: torch's compiler cache, a profile)
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Usage:
    """What a folder holds: bytes allocated, files and folders, and why the count could not see
    all of it ("" where it could)."""

    used: int = 0
    entries: int = 0
    problem: str = ""
    inodes: set[int] = field(default_factory=set)  # the files counted, so that no file counts twice


class FolderWatch:
    """Counts `folder` while the child `pid` runs; past `limit` bytes (as allocated on disk), past
    MAX_ENTRIES files and folders, or where the count cannot see all of it, `stop` is called and
    `exceeded` says why (a fast writer gets a few hundred MiB past the limit before it is stopped).

    The scan runs in the grader's own process, so the child decides what it costs: 9,990 empty
    files and 970 open ones made it 57-70 ms, and a scan every 50 ms kept most of a core busy for
    the child's whole time limit. So the entries are capped at FOLDER_ENTRIES, as on the tmpfs,
    and the watch waits COST_RATIO times as long as its last scan took, at least INTERVAL_S: it
    takes at most a tenth of a core, whatever the child holds."""

    INTERVAL_S = 0.05
    MAX_ENTRIES = FOLDER_ENTRIES
    COST_RATIO = 10

    def __init__(self, folder: Path, pid: int, limit: int, stop: Callable[[], None]) -> None:
        self.exceeded = ""  # why the child was stopped, once it was ("writing more than 256 MiB ...")
        self._folder, self._pid, self._limit, self._stop = folder, pid, limit, stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        wait = self.INTERVAL_S
        while not self._done.wait(wait):
            began = time.monotonic()
            usage = folder_usage(self._folder, self.MAX_ENTRIES, self._pid)
            self.exceeded = (
                f"making {usage.problem} in its folder" if usage.problem
                else f"making more than {self.MAX_ENTRIES:,} files and folders in its folder"
                if usage.entries > self.MAX_ENTRIES
                else f"writing more than {self._limit >> 20} MiB of files into its folder" if usage.used > self._limit
                else "")
            if self.exceeded:
                self._stop()
                return
            wait = max(self.INTERVAL_S, self.COST_RATIO * (time.monotonic() - began))

    def close(self) -> None:
        self._done.set()


def folder_usage(folder: Path, most: int, pid: int | None = None) -> Usage:
    """What `folder` holds, following no link, and what process `pid` keeps of it with no name
    there (open or mapped after an unlink); counting stops past `most` entries."""
    usage = Usage()
    try:
        top = os.open(folder, _OPEN_FOLDER)
    except OSError:
        return usage  # gone: the child has ended and its folder was removed
    try:
        _walk(top, 1, usage, most)
    finally:
        os.close(top)
    if pid is not None and not usage.problem and usage.entries <= most:
        _count_open(pid, str(folder) + "/", usage)
        _count_mapped(pid, str(folder) + "/", usage)
    return usage


def _walk(fd: int, depth: int, usage: Usage, most: int) -> None:
    """Counts the folder open at `fd` and the folders below it, each opened from its parent's
    descriptor (a path may be longer than the kernel takes)."""
    with os.scandir(fd) as found:
        for entry in found:
            usage.entries += 1
            if usage.entries > most or usage.problem:  # one folder of 100,000 files would cost a scan of them all
                return
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # removed since it was listed
            if info.st_ino not in usage.inodes:  # a file with two names holds its blocks once
                usage.inodes.add(info.st_ino)
                usage.used += info.st_blocks * 512
            if not stat.S_ISDIR(info.st_mode):
                continue
            if depth > MAX_DEPTH:
                usage.problem = f"folders more than {MAX_DEPTH} deep"
                return
            try:
                below = _open_folder(entry.name, fd)
            except PermissionError as err:
                # The child cannot make such a folder (seccomp refuses a mode or umask that takes
                # its owner's rights): a host whose grader lacks the rights to read it.
                usage.problem = f"a folder the grader cannot look into ({err.strerror})"
                return
            except OSError:
                continue  # removed, renamed or replaced since it was listed: the next scan finds what is there
            try:
                _walk(below, depth + 1, usage, most)
            finally:
                os.close(below)


def _open_folder(name: str, parent: int) -> int:
    """Opened without touching its access time where the kernel allows (the grader owns it, or
    holds CAP_FOWNER): relatime would otherwise tell the child which folders a scan has read."""
    try:
        return os.open(name, _OPEN_FOLDER | os.O_NOATIME, dir_fd=parent)
    except PermissionError:
        return os.open(name, _OPEN_FOLDER, dir_fd=parent)


def _count_open(pid: int, inside: str, usage: Usage) -> None:
    """Regular files under the folder that the child holds open and the walk did not count. The
    kernel names no file whose path is longer than PATH_MAX (ENAMETOOLONG): of what the child may
    open, only its own folder's files lie that deep, so such a file counts."""
    with contextlib.suppress(OSError):
        for name in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith(inside):
                        continue
                except OSError as err:
                    if err.errno != errno.ENAMETOOLONG:
                        continue
                info = os.stat(f"/proc/{pid}/fd/{name}")
                if stat.S_ISREG(info.st_mode) and info.st_ino not in usage.inodes:
                    usage.inodes.add(info.st_ino)
                    usage.used += info.st_blocks * 512


def _count_mapped(pid: int, inside: str, usage: Usage) -> None:
    """Files under the folder that the child keeps mapped after unlinking them (a file with a name
    was counted by the walk, one still open by _count_open). The kernel shows such a file's size
    only to CAP_SYS_ADMIN (/proc/PID/map_files): where it will not, the file counts as the most
    it may hold."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as maps:
            text = maps.read()
    except OSError:
        return
    if inside.encode() not in text:  # the usual case: a torch child maps a thousand files, none of them here
        return
    for line in text.decode("utf-8", "replace").splitlines():
        fields = line.split(maxsplit=5)  # range, mode, offset, device, inode, path
        if len(fields) < 6 or not fields[5].startswith(inside) or not fields[5].endswith(" (deleted)"):
            continue
        inode = int(fields[4])
        if inode in usage.inodes:
            continue
        usage.inodes.add(inode)
        usage.entries += 1
        try:
            usage.used += os.stat(f"/proc/{pid}/map_files/{fields[0]}").st_blocks * 512
        except OSError:
            usage.used += FILE_MIB << 20
