"""What a child left outside its own folder, removed once it is closed.

A child with neither Landlock nor a mount namespace of its own (a kernel without Landlock, in a
container that makes no namespaces) may write wherever every user may: /tmp, /var/tmp, /dev/shm.
rt182's child of a root grader left notes there that the next student read, and 1 GiB in /dev/shm,
the host's memory, after its cgroup (which counted it while it ran) was gone: at 10/10, and once for
every student of a batch. Every such child has a uid no other live child has (confine.CHILD_UIDS),
so whatever that uid owns in those folders is what it left: removed when it is closed, and again
when the grader's process ends (a write the kill overtook), and before this process first gives
the uid to a child (before_first_use: what a grader killed before its end left under it). Elsewhere
(Landlock, or a private filesystem) there is nothing to find. Never for nobody, whom other programs
share.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import subprocess
import threading

from grader.sandbox.confine import CHILD_UIDS

# Where every user may write on a Linux host (and the world-writable folders below them, to DEPTH
# levels: a child may write in those too, and owns only what it makes).
SHARED = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/crash", "/dev/mqueue")
DEPTH = 8
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # (a link is not opened: ELOOP)

_swept: set[int] = set()  # the uids this process's children had, swept again at its end
_lock = threading.Lock()


def remove_left_by(uid: int) -> int:
    """Remove everything `uid` (a child's own) owns in SHARED; how many entries were removed there
    (each a file, or a folder with all below it)."""
    if uid not in CHILD_UIDS:
        return 0
    with _lock:
        if not _swept:
            atexit.register(_sweep_all)
        _swept.add(uid)
    return _sweep_shared(frozenset({uid}))


def remove_left_by_dead(uids: frozenset[int], before: float) -> int:
    """Remove what the children of a grader that is gone owned in SHARED (`uids`: those its pid gave them,
    session.uids_of), unchanged since `before` (a time): one walk for them all. Its SIGKILL, or the OOM killer's,
    left rt221's notes and 60 MiB of /dev/shm to every later grader with another pid, which before_first_use
    never reaches. Only what is that old, and never a grader's folder: a grader in another pid namespace sharing
    this /tmp, or a pid 2^21 away, gives its children the same uids (rv51's live grader lost its child's folder)."""
    return _sweep_shared(frozenset(uid for uid in uids if uid in CHILD_UIDS), before)


def _sweep_shared(uids: frozenset[int], before: float | None = None) -> int:
    removed = 0
    for top in SHARED if uids else ():
        try:
            fd = os.open(top, _FOLDER)
        except OSError:
            continue
        try:
            removed += _sweep(fd, top, uids, DEPTH, before)
        finally:
            os.close(fd)
    return removed


def before_first_use(uid: int) -> None:
    """Remove what `uid` owns in SHARED the first time this process gives it to a child: what a grader killed
    before its end left there (its children's uids are this one's, given by pid, a container's pid too) counts
    against the new child's folder (rt210: an honest file stopped past 1,000 files it never made)."""
    with _lock:
        if uid in _swept:
            return
    remove_left_by(uid)


def _sweep_all() -> None:
    for uid in sorted(_swept):
        with contextlib.suppress(Exception):
            remove_left_by(uid)


def _sweep(fd: int, path: str, uids: frozenset[int], depth: int, before: float | None = None) -> int:
    """In the folder open as `fd`: remove what `uids` own, and look into the world-writable folders
    others own. By descriptor, never following a link (a child's link to /etc is removed, not
    followed)."""
    removed = 0
    try:
        names = os.listdir(fd)
    except OSError:
        return 0
    for name in names:
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid in uids and (before is None or (info.st_mtime < before and not name.startswith("grader-"))):
            removed += _remove(fd, name, stat.S_ISDIR(info.st_mode))
        elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002 and depth > 1:
            try:
                below = os.open(name, _FOLDER, dir_fd=fd)
            except OSError:
                continue
            try:
                removed += _sweep(below, os.path.join(path, name), uids, depth - 1, before)
            finally:
                os.close(below)
    return removed


def _remove(fd: int, name: str, folder: bool) -> int:
    """Remove `name` in the folder open as `fd`, by that descriptor alone: never by a path, whose folders
    a classmate may swap for links as it is walked (rt183: a tree too deep for rmtree, then `rm -rf` of
    its path, had root remove a folder of the students' choosing through a link swapped in above it)."""
    try:
        if not folder:
            os.unlink(name, dir_fd=fd)
            return 1
        # (descriptor by descriptor, following no link; a tree deeper than Python recurses, or than the
        # descriptors this process may hold (rt184: past about 500 levels under a limit of 600), is rm's)
        with contextlib.suppress(RecursionError, OSError):
            shutil.rmtree(name, dir_fd=fd)
        if os.path.lexists(f"/proc/self/fd/{fd}/{name}") and (rm := shutil.which("rm")):
            # Deeper than Python recurses: rm, which walks any depth by descriptor too, run inside that
            # very folder (its working folder is the descriptor's, whatever path leads there now) on the
            # bare name.
            subprocess.run([rm, "-rf", "--one-file-system", "--", name], cwd=f"/proc/self/fd/{fd}", pass_fds=(fd,),
                           capture_output=True, timeout=600)
        return 1
    except (OSError, subprocess.SubprocessError):
        return 0
