"""Confinement the child applies to itself after importing torch and before loading student code.

Layers, since none is enough alone, each skipped with a note where the OS lacks it:
  - in its own mount namespace (process 1 of its pid namespace): its folder becomes a size-capped
    tmpfs and the rest of the filesystem read-only;
  - an unprivileged uid (when the grader runs as root, as on Gradescope), and no capabilities left
    whether or not the uid could change (bounding, ambient and inheritable sets empty, securebits
    locked so that uid 0 means nothing special);
  - Landlock: reads only where Python, torch and the grader live; writes only in the temporary
    directory, and no devices, FIFOs or sockets made there; of /dev only null, zero, random and
    urandom (and the GPU's nodes with CUDA); no TCP bind or connect; no signals to processes outside
    the sandbox;
  - seccomp: no new processes (threads are fine), no exec, no sockets (socketpair aside), no
    io_uring, no mknod, no ptrace, nothing that changes what the host keeps (file permissions,
    owners, times and attributes, System V IPC, message queues, inotify, the host's administration);
  - an audit hook that records what the submission tried, for a TA to review (a net, not a wall).
The pid, network, IPC and UTS namespaces are entered before Python starts (session.py wraps the
command, or a zygote's fork enters them).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import gc
import glob
import hashlib
import os
import selectors
import signal
import site
import stat
import struct
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.canary import GC_TURNED_ON, SECRET_ROUTES
from grader.sandbox import stand_ins

NOBODY = 65534
# A uid of its own for each sandbox child (session._give_a_uid picks one): the kernel counts processes
# and threads (RLIMIT_NPROC), queued signals, pipe pages and inotify instances per user, so children
# that all ran as nobody shared one count: of three graded at once that each held 180 threads, one
# was refused a thread at 146 (512 of nobody's), its score hanging on whom it was graded beside. Nor
# does one child then own another's files. Systemd leaves this range unused (docs/UIDS-GIDS.md: above the
# container ranges, below 2^31 and the foreign range); a host whose user namespace maps none of it
# (a rootless container) gets nobody, as before.
CHILD_UIDS = range(0x7000_0000, 0x7800_0000)
FOLDER_MIB = 256  # the child's folder, a tmpfs where it has a mount namespace
FOLDER_ENTRIES = 1_000  # files and folders in it (an honest file makes a handful: matplotlib's cache, a plot)
TMPFS_LAYER = f"folder: {FOLDER_MIB} MiB tmpfs"
# Without a mount namespace: the folder lies on the host's disk, and the grader counts it (folder.py).
DISK_LAYER = f"folder: {FOLDER_MIB} MiB, {FOLDER_ENTRIES:,} entries on the host's disk, counted by the grader"
FILE_MIB = 64  # each file the child writes (RLIMIT_FSIZE)
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP, _PR_SET_SECUREBITS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 28, 47, 4
# SECBIT_NOROOT and SECBIT_NO_CAP_AMBIENT_RAISE on, SECBIT_NO_SETUID_FIXUP and SECBIT_KEEP_CAPS off,
# all four locked: uid 0 gets no capabilities from anything, ever again.
_SECUREBITS = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 5 | 1 << 6 | 1 << 7
_CAP_VERSION_3 = 0x20080522
_SYS_MOUNT_SETATTR, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID = 442, 0x8000, 1, 2
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
# POSIX semaphores (sem_open) live in /dev/shm: multiprocessing's locks, which ThreadPool makes for
# threads alone (a hunter's honest multiprocessing.pool.ThreadPool scored 1/10 on "read-only file
# system"). Where the child has a mount namespace, a small one of its own, gone with it.
SHM = Path("/dev/shm")
SHM_OPTIONS = b"size=1m,nr_inodes=64,mode=1777"
SHM_LAYER = "/dev/shm: 1 MiB tmpfs of its own"
_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # same on x86-64 and arm64

# Landlock access rights by the ABI that introduced them.
_FS_READ = 1 << 0 | 1 << 2 | 1 << 3  # execute, read file, read dir
_FS_READ_FILE = 1 << 0 | 1 << 2  # what a rule on a file (not a folder) may grant of that
_FS_WRITE_FILE = 1 << 1
_FS_MAKE_SPECIAL = 1 << 6 | 1 << 9 | 1 << 10 | 1 << 11  # char devices, sockets, FIFOs, block devices
# write file, remove dir and file, make dir, regular file and symlink: what the child's folder allows
_FS_WRITE_V1 = _FS_WRITE_FILE | 1 << 4 | 1 << 5 | 1 << 7 | 1 << 8 | 1 << 12
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
# Read only: a shared writable mapping of /dev/zero is shared memory (below, at seccomp_program).
_READ_ONLY_DEVICES = ("/dev/zero",)
_NET_TCP = 1 << 0 | 1 << 1  # bind, connect
_SCOPE = 1 << 0 | 1 << 1  # abstract unix sockets, signals
# (Not /opt: a class kept in /opt/course was every student's to read, classmates' files and results
# alike (rt177); Python, torch or CUDA there are read where they are: _readable_roots.)
_SYSTEM_READS = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc")  # and /sys, /proc: _sys_reads, _proc_reads


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def apply(workdir: Path, record_fd: int, record_key: bytes, skip: frozenset[str] = frozenset(),
          gpu: bool = False,
          secret_globals: dict[str, Any] | None = None, memory_counted: bool = False) -> list[str]:
    """Confine this process for good; return the layers that are now active. `skip` names layers to
    leave off (uid, landlock, seccomp), only to test that each of the others holds on its own, or
    "no-landlock-kernel" to act as on a kernel without Landlock (where a child that keeps uid 0 is
    refused: UnconfinableRoot); `gpu` opens the GPU's device nodes to it; no frame of a function
    whose globals are `secret_globals` (the canary's module) is handed out; `memory_counted`: whether a
    cgroup counts its memory (where not, and no Landlock opens /dev/zero read only, no shared mapping is
    made: no_shared_mappings_program)."""
    _alone()
    active = []
    # The first the kernel's OOM killer takes, before the grader, its zygote or anything else of
    # the host's: memory no process owns (a socket's buffers, say) made it take the zygote. Any
    # process may raise its own score; lowering it again needs a capability it will not have.
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as adj:
        adj.write("1000")
    if os.getpid() == 1:  # process 1 of the pid namespace: the mount namespace is its own too
        active += _private_filesystem(workdir)
    if _no_new_privileges():
        active.append("no-new-privileges")
    active += _least_privilege(workdir, drop_uid="uid" not in skip)
    kernel_landlock = "no-landlock-kernel" not in skip  # (testing aids: a kernel without Landlock,
    library_seccomp = "no-seccomp-library" not in skip  # a host without libseccomp)
    own_shm = SHM_LAYER in active
    def filtered() -> str:
        return _seccomp(gpu, memory_counted or _zero_read_only(active)) if library_seccomp else ""

    layers: tuple[tuple[str, Callable[[], str]], ...] = (("landlock", lambda: _landlock(workdir, gpu, own_shm)
                                                                       if kernel_landlock else ""),
                                                          ("seccomp", filtered))
    for name, layer in layers:
        applied = "" if name in skip else layer()
        if applied:
            active += applied.split("; ")
    kept_root = os.geteuid() == 0 and _outer_uid() == 0
    if kept_root and "landlock" not in skip and not any(layer.startswith("landlock") for layer in active):
        raise UnconfinableRoot(UNCONFINABLE_ROOT)
    if kept_root and "seccomp" not in skip and not any(layer.startswith("seccomp") for layer in active):
        # Landlock governs paths, not what a process of uid 0 does to what it owns: without a filter
        # (libseccomp missing), a red team's child made a root-owned file of the host's set-uid and
        # world-writable, sent a datagram to the host's loopback, and left a process running.
        raise UnconfinableRoot(UNFILTERED_ROOT)
    shared = child_uid(workdir) == NOBODY and NOBODY in (os.geteuid(), _outer_uid())
    if shared and "landlock" not in skip and not any(layer.startswith("landlock") for layer in active):
        # Every child is nobody where the host's user namespace maps no uid of the grader's (a rootless
        # container): without Landlock one child's uid is another's, and rt200's read a classmate's file
        # from the folder of the child graded beside it, and rewrote her module there before it was
        # imported: her 10/10 made 1/10.
        raise UnconfinableRoot(SHARED_NOBODY)
    dropped = os.geteuid() != 0 and os.geteuid() == child_uid(workdir)  # (a root grader's child, its uid dropped)
    if dropped and "seccomp" not in skip and not any(layer.startswith("seccomp") for layer in active):
        # No filter and no namespaces: nothing keeps the child off the network (Landlock has no rule
        # for UDP), nor from leaving shared memory, message queues and processes behind it (rt182:
        # 256 MiB of System V memory and a queue read by the next student, a datagram off the host, a
        # daemon still running after the batch). With namespaces too: no namespace holds the kernel's
        # keyrings, and rt191's child left a key in its uid's (add_key), which the child given that uid
        # again 64 children later read, and which the host keeps until it restarts.
        raise UnconfinableRoot(UNFILTERED_DROPPED)
    sys.addaudithook(_auditor(workdir, record_fd, record_key, secret_globals))
    active.append("audit hook")
    return active


def _alone(wait: float = 2.0) -> None:
    """Wait until this is the process's only thread, or refuse to confine it. Every layer below holds
    only the thread that applies it (seccomp, Landlock, capabilities and no-new-privileges are each
    a thread's own; only the uid is the process's): a red team's child hijacked the grader's own
    watch for the parent's death, started before confinement, through a signal handler it patched,
    and ran Python there as root with every capability (host files written, /etc/shadow read,
    other students' cgroups and files changed, a process left behind). A thread made after this
    inherits the confinement of the thread that makes it. (A finished thread of our own may take a
    moment to leave the kernel's list: hence the wait.)"""
    deadline = time.monotonic() + wait
    while True:
        try:
            others = [task for task in os.listdir("/proc/self/task") if int(task) != threading.get_native_id()]
        except OSError as err:  # no /proc: no way to know; fail closed
            raise RuntimeError(f"cannot count this process's threads before confining it ({err})") from None
        if not others:
            return
        if time.monotonic() >= deadline:
            names = []
            for task in others:
                with contextlib.suppress(OSError):
                    names.append(Path(f"/proc/self/task/{task}/comm").read_text().strip())
            raise RuntimeError(f"{len(others)} other thread(s) running before confinement ({', '.join(names)}): "
                               "confinement would hold only the thread that applies it")
        time.sleep(0.001)


UNCONFINABLE_ROOT = (
    "This machine cannot keep a submission away from root's files, so the grader will not run one here: the "
    "child keeps uid 0 (Python is installed where the user nobody may not read it, as under /root), and the "
    "kernel has no Landlock (Linux 5.13 or later, with landlock among its security modules). Such a child read "
    "/etc/shadow and root's private files, and changed the host's settings under /proc/sys. Install Python where "
    "every user may read it (/usr/local, /opt, or a virtual environment outside /root), or grade on a kernel "
    "with Landlock.")


UNFILTERED_ROOT = (
    "This machine cannot keep a submission from changing root's files, so the grader will not run one here: the "
    "child keeps uid 0 (Python is installed where the user nobody may not read it, as under /root), and "
    "libseccomp, which the grader's system-call filter needs, could not be loaded (install libseccomp2, or the "
    "package that provides libseccomp.so.2). Such a child made a file of root's set-uid, reached the network and "
    "left a process running. Install libseccomp, or Python where every user may read it (/usr/local, /opt, or a "
    "virtual environment outside /root).")


UNFILTERED_DROPPED = (
    "This machine cannot keep a submission from leaving what the kernel keeps behind it, so the grader will not "
    "run one here: libseccomp, which the grader's system-call filter needs, could not be loaded. Such a child left "
    "a key in the kernel's keyring for a later student to read (and, where unshare is refused, sent a datagram off "
    "the host, left shared memory for the next student and a process running). Install libseccomp (libseccomp2, "
    "or the package that provides libseccomp.so.2).")


SHARED_NOBODY = (
    "This machine cannot keep one submission away from another's files, so the grader will not run one here: "
    "every child runs as the user nobody (this user namespace maps none of the uids the grader gives each child "
    "its own of, as in a rootless container), and the kernel has no Landlock (Linux 5.13 or later, with landlock "
    "among its security modules). Such a child read a classmate's file graded beside it and rewrote her module "
    "before it was imported. Map a range of uids into the container (/etc/subuid, 0x70000000 to 0x78000000), or "
    "grade on a kernel with Landlock.")


class UnconfinableRoot(RuntimeError):
    """Raised before any student code runs where a child would keep uid 0 without Landlock: nothing
    else keeps it from root's files (capabilities gone, it still owns them). Reads by ownership
    happen in a mount namespace too, which makes the filesystem read-only, not unreadable."""


def _no_new_privileges() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def _private_filesystem(workdir: Path) -> list[str]:
    """In this process's own mount namespace: the folder becomes a tmpfs of FOLDER_MIB and
    FOLDER_ENTRIES (so what it writes is bounded and counted as the cgroup's memory) holding the
    files it had, and everything else is read-only (device nodes still work)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    owner = workdir.stat()
    # (the grader's, written before this process ran anything of the student's: the file, its helpers,
    # a package's folders among them, submission.modules_beside)
    files = {path.relative_to(workdir): path.read_bytes() for path in _files_below(workdir)}
    layers = []
    # Every mount read-only first (struct mount_attr {attr_set, attr_clr, propagation, userns_fd});
    # the tmpfs mounted next is a mount of its own, and writable.
    attr = (ctypes.c_uint64 * 4)(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0, 0, 0)
    if libc.syscall(_SYS_MOUNT_SETATTR, -100, b"/", _AT_RECURSIVE, attr, ctypes.sizeof(attr)) == 0:
        layers.append("read-only filesystem")
    # nr_inodes counts the folder itself too.
    options = (f"size={FOLDER_MIB}m,nr_inodes={FOLDER_ENTRIES + 1},mode=0700,"
               f"uid={owner.st_uid},gid={owner.st_gid}").encode()
    if libc.mount(b"tmpfs", bytes(workdir), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
        return layers
    for name, data in files.items():
        for folder in reversed(name.parents[:-1]):
            if not (workdir / folder).is_dir():
                (workdir / folder).mkdir()
                os.chown(workdir / folder, owner.st_uid, owner.st_gid)
        (workdir / name).write_bytes(data)
        os.chown(workdir / name, owner.st_uid, owner.st_gid)
    os.chdir(workdir)  # the old directory lies under the new mount
    layers.append(TMPFS_LAYER)
    # (not over the child's own folder: with TMPDIR=/dev/shm a red team's honest file was a grader
    # error, its folder hidden under the new mount)
    if SHM.is_dir() and not workdir.resolve().is_relative_to(SHM.resolve()) and \
            libc.mount(b"tmpfs", bytes(SHM), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, SHM_OPTIONS) == 0:
        layers.append(SHM_LAYER)
    return layers


def _files_below(folder: Path, depth: int = 4) -> list[Path]:
    """The regular files in `folder` and its folders, `depth` levels at most, no link followed."""
    found = []
    for path in folder.iterdir():
        if path.is_symlink():
            continue
        if path.is_file():
            found.append(path)
        elif path.is_dir() and depth > 1:
            found += _files_below(path, depth - 1)
    return found


def _least_privilege(workdir: Path, drop_uid: bool = True) -> list[str]:
    """Drop to the uid of its own that the grader gave its folder (child_uid) where Python stays
    readable (and `drop_uid`), and in every case end with no capabilities (a root that keeps its
    uid then owns its folder: without capabilities it could not enter another uid's). Never
    skipped: a root child with its capabilities sets the clock, reboots, reads the grader's
    environment through /proc."""
    active = []
    libc = ctypes.CDLL(None, use_errno=True)
    root = os.geteuid() == 0
    if root:
        _drop_bounding_set(libc)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if root:
        libc.prctl(_PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0)
    uid = child_uid(workdir)
    if root and uid and _outer_uid() == uid:
        # Root only in a user namespace made after dropping to its uid (by a root grader without
        # CAP_SYS_ADMIN): that uid on the host already, and its folder is its own.
        limit_threads(uid)
        active.append(f"{_uid_words(uid)} outside its user namespace")
    elif uid and ((root and drop_uid and python_readable_by_nobody() and drop_to(uid)) or os.geteuid() == uid):
        # its uid now, or already (dropped by the zygote's fork that then could make no namespaces)
        active.append(_uid_words(uid))
    elif root:
        for path in (workdir, *workdir.iterdir()):
            os.chown(path, 0, 0, follow_symlinks=False)
        # Root's group alone: a red team's child that kept the grader's supplementary groups (a root
        # in groups 103 and 104, as sudo or a container may leave it) read files only their members
        # may (postgres's pg_hba.conf). In a user namespace of root's own (a root grader without
        # CAP_SYS_ADMIN) they cannot be dropped; _readable_beneath then counts them as root's.
        with contextlib.suppress(PermissionError):
            os.setgroups([])
            os.setresgid(0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    libc.capset(header, (ctypes.c_uint32 * 6)())  # effective, permitted, inheritable: all empty
    held = _capabilities()
    if held and not any(held.values()):
        active.append("no capabilities")
    elif held and not any(v for k, v in held.items() if k != "CapBnd"):
        active.append("no capabilities (bounding set kept: not root)")
    return active


def _capabilities() -> dict[str, int]:
    """This process's capability sets as /proc reports them ({} if it cannot be read)."""
    try:
        with open("/proc/self/status") as status:
            return {line.split(":")[0]: int(line.split()[1], 16) for line in status if line.startswith("Cap")}
    except (OSError, ValueError, IndexError):
        return {}


def python_readable_by_nobody() -> bool:
    """Python, torch and the grader, all reachable by another user. The grader asks too (it never
    imports torch): it gives the child's folder to a uid of its own only where the child can drop to it."""
    import grader

    places = {sys.base_prefix, sys.prefix, str(Path(grader.__file__).parent), *_module_roots()}
    return all(_world_readable(place) for place in places)


def _module_roots() -> list[str]:
    """The folders torch and numpy come from (a virtual environment's site-packages, or a path added
    to it): where they were imported from, or would be."""
    roots = []
    for name in ("torch", "numpy"):
        module = sys.modules.get(name)
        origin = module.__file__ if module is not None else _origin(name)
        if origin:
            roots.append(str(Path(origin).parents[1]))
    return roots


def _origin(name: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)  # finds a top-level package without importing it
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def _outer_uid() -> int | None:
    """The host's uid for this process's uid 0, read from its user namespace's map (None: not mapped
    or not readable); 0 outside any user namespace."""
    try:
        with open("/proc/self/uid_map") as mapping:
            for line in mapping:
                inside, outside, count = (int(field) for field in line.split())
                if inside <= 0 < inside + count:
                    return outside - inside
    except (OSError, ValueError):
        pass
    return None


def _world_readable(path: str) -> bool:
    """Whether another user can reach `path`: if not (Python installed under /root, say), dropping to
    nobody would break every later import, so that layer is skipped."""
    current = Path(path).resolve()
    return all(p.stat().st_mode & 0o005 == 0o005 for p in (current, *current.parents))


def own_uids_mapped() -> bool:
    """Whether this user namespace maps every uid of CHILD_UIDS, so that each child gets one of its own (the
    host's namespace does; a rootless container's seldom: then every child is nobody, session._give_a_uid)."""
    try:
        with open("/proc/self/uid_map") as mapping:
            ranges = sorted((int(inside), int(inside) + int(count)) for inside, _, count in
                            (line.split() for line in mapping))
    except (OSError, ValueError):
        return False
    reached = CHILD_UIDS.start
    for low, high in ranges:
        if low <= reached < high:
            reached = high
    return reached >= CHILD_UIDS.stop


def child_uid(workdir: Path) -> int:
    """The uid this child drops to: its folder's owner, where the grader gave it one of CHILD_UIDS or
    nobody (session._give_a_uid, before any student code runs), else 0 (it keeps its uid)."""
    try:
        owner = workdir.stat().st_uid
    except OSError:
        return 0
    if owner == 0:  # in a user namespace made as that uid, where it is root (0 inside: the host's uid)
        owner = _outer_uid() or 0
    return owner if owner in CHILD_UIDS or owner == NOBODY else 0


def _uid_words(uid: int) -> str:
    """The layer's words: the same on every run (the uid itself is drawn for each child)."""
    return f"uid {NOBODY}" if uid == NOBODY else "a uid of its own (no other child's, not root)"


def drop_to(uid: int, limit: bool = True) -> bool:
    """Become `uid` for good (root only); False where this process cannot. With `limit`, bounded in
    processes and threads (limit_threads; a zygote's fork that drops before making a user namespace
    leaves that to its child: it must still fork the child)."""
    import signal

    _drop_bounding_set(ctypes.CDLL(None, use_errno=True))
    try:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError:  # root only inside a user namespace, where that uid is not mapped
        return False
    # Changing uid clears the parent-death signal; set it again so the child still dies with the
    # process that holds its pid namespace.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if limit:
        limit_threads(uid)
    return True


def _drop_bounding_set(libc: Any) -> None:
    """No capability can come back by any route (needs CAP_SETPCAP: before the uid changes)."""
    cap = 0
    while libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1


def limit_threads(uid: int) -> None:
    """Counts threads too; seccomp already forbids new processes, this bounds a thread spree. A uid
    of the child's own (CHILD_UIDS) is refused what pids.max would refuse, cgroup or not; nobody,
    whose count every child shares, twice that."""
    import resource

    from grader.sandbox.cgroup import PIDS

    most = PIDS if uid in CHILD_UIDS else 2 * PIDS
    resource.setrlimit(resource.RLIMIT_NPROC, (most, most))


def _readable_roots(workdir: Path) -> list[str]:
    # A child that kept uid 0 (root, whose Python nobody may read) owns root's files: of the system
    # folders where root keeps its secrets (/etc/shadow, /etc/ssl/private) only what anyone may read.
    kept_root = os.geteuid() == 0 and _outer_uid() == 0
    # Of the kernel's own files too (/proc/sys, /sys): a red team's child that kept uid 0 read the
    # root-only ones (the host's TCP Fast Open key, the usermode helper's capability sets, the
    # machine's serial numbers under /sys/class/dmi), which a child of another uid never could.
    # (Not /proc/sys/net at all: its secrets are spread through folders of hundreds of files each,
    # whose parts were 500 rules, and nothing Python, torch or CUDA does reads a network setting.)
    system = [part for folder in [*_SYSTEM_READS, *_sys_reads(), *_proc_reads()]
              for part in (_around_secrets(folder) if kept_root else [folder])
              if not (kept_root and part.startswith("/proc/sys/net"))]
    # (Python's own folders whole, but one that holds such a folder only as its parts: rv44, a Python installed
    # in /usr/local, as the python images' is, or the distribution's in /usr, made all of /usr/local one rule)
    python = [part for root in _python_roots() for part in (_around_secrets(root, python=True) if kept_root else
                                                              [root])]
    roots = {*python, *system}
    return sorted(r for r in roots if os.path.exists(r) and not str(workdir).startswith(r + os.sep))


def _around_secrets(root: str, python: bool = False) -> list[str]:
    """What a child that keeps uid 0 may read of `root`: of a folder where root keeps its secrets
    (SECRETS_KEPT_IN), or one in it (but where it is Python's own, `python`: /usr/local/lib/python3.11), what
    every user may read (world_readable_parts); of a folder that holds one (/usr, of /usr/local), each entry
    the same way; else all of it. The filesystem's root is none: the system's folders are read as they are."""
    root = os.path.normpath(root)
    if root == "/":
        return []
    if root in SECRETS_KEPT_IN or (not python and _keeps_secrets(root)):
        return list(world_readable_parts(root))
    if not any(top.startswith(root + "/") for top in SECRETS_KEPT_IN):
        return [root]
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [part for name in names for part in _around_secrets(os.path.join(root, name), python)]


def _python_roots() -> list[str]:
    """Where Python, the grader, torch and numpy live: every child reads them."""
    import grader

    return [sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(grader.__file__).parent), *site.getsitepackages(),
            *_module_roots()]


def readable_to_children(path: Path, solution: bool = False) -> str | None:
    """Why every child may read what `path` holds, in words that follow its name (None where none may): a
    class folder or an output folder there is every student's to read, classmates' files, results and
    gradebook. It lies in a folder Landlock lets every child read (rt177's class in /opt/course); or the
    kernel has no Landlock, and either the children are the grader's own user or, dropped to uids of
    their own, they may read what every user may, and every folder down to it lets every user in
    (rt182's class under /tmp, read by a classmate's code). The parent asks before it grades. With `solution`,
    the words say what is lost of an exercise's reference solution (rt213's course's own, printed into a
    student's feedback)."""
    theirs, apart = (_SOLUTION_THEIRS, _SOLUTION_APART) if solution else (_THEIRS, _KEEP_APART)
    try:
        where = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    for root in [*_SYSTEM_READS, *_python_roots()]:
        try:
            real = os.path.realpath(root)
        except (OSError, ValueError):
            continue
        if real == "/":
            continue  # (a Python installed at the root: its own folders are the roots above)
        if where == real or where.startswith(real.rstrip("/") + "/"):
            return (f"lies in {root}, which every student's code may read (Python's and the system's files are "
                    f"there): {theirs} {apart}")
    skip = skipped()
    if landlock_abi() >= 1 and not skip & {"landlock", "no-landlock-kernel"}:
        return None
    if os.geteuid() != 0:
        return ("is yours, and this kernel has no Landlock (Linux 5.13 or later), so every student's code runs as "
                f"you and may read every file you may: {theirs} Grade as root (each child then runs as a user of "
                f"its own) with {'the exercise' if solution else 'the class and its results'} in a folder only root "
                "may enter, or on a kernel with "
                "Landlock.")
    if "uid" in skip or not python_readable_by_nobody():
        return None  # (a child that keeps uid 0 without Landlock is never run: UnconfinableRoot)
    if _entered_by_anyone(Path(where)):
        return ("and every folder above it let any user in, and this kernel has no Landlock (Linux 5.13 or later), "
                f"so every student's code may read there what every user may: {theirs} {apart}")
    return None


def grading_here(others: bool) -> tuple[list[str], str | None]:
    """grader.sandbox.grading_here: the warnings a grading command gives on stderr, and why it may not start."""
    from grader import safe_text

    named = skipped()
    off, unknown = sorted(named & SKIPPABLE), sorted(named - SKIPPABLE)
    warnings = []
    if off:
        warnings.append(f"$GRADER_SANDBOX_SKIP leaves {', '.join(off)} off: the sandbox is weaker than it should be; "
                        "it is for the grader's own tests, never for grading for real")
    if unknown:
        warnings.append(f"$GRADER_SANDBOX_SKIP names no layer in {', '.join(safe_text.line(n, 40) for n in unknown)} "
                        "(ignored)")
    if others and (unfiltered := _unfiltered_as_you(named)) is not None:
        warnings.append(unfiltered)
    return warnings, _undone_refusal(named)


def _undone_refusal(skip: frozenset[str]) -> str | None:
    """Why a skip may not be honoured by a grading command: it leaves off the layer without which apply
    refuses to run a child (UNCONFINABLE_ROOT, UNFILTERED_ROOT, UNFILTERED_DROPPED), whatever this host
    has. A red team's child with landlock left off, keeping uid 0, read a classmate's file and result
    and /etc/shadow, and overwrote the result (rt195), with only the warning said."""
    if os.geteuid() != 0 or not skip & {"landlock", "seccomp"}:
        return None  # (a grader that is no root: readable_to_children refuses its class without Landlock)
    keeps_root = "uid" in skip or not python_readable_by_nobody()  # (its stats only where a layer is left off)
    # (children that all fall back to nobody share it: rt200's read and rewrote each other's files without Landlock)
    shared = not keeps_root and not own_uids_mapped()
    undone = sorted(skip & ({"landlock", "seccomp"} if keeps_root or shared else {"seccomp"}))
    if not undone:
        return None
    whose = "that keeps uid 0" if keeps_root else "that runs as nobody, as every other child does here" if shared \
        else "of a uid of its own"
    return (f"$GRADER_SANDBOX_SKIP leaves {' and '.join(undone)} off for a child {whose}, and the grader never runs "
            "student code so: without it a submission may read and change what other students' code cannot (their "
            "files and results, the host's). The variable is for the grader's own tests; unset it to grade")


def _unfiltered_as_you(skip: frozenset[str]) -> str | None:
    """Why the children of a grader that is no root keep what its user may do beyond Landlock's paths, or
    None: without libseccomp they run as that user unfiltered (never refused, as a root grader's are: a
    student checking a file of their own loses nothing to it), and a class's files may use the grading
    user's kernel keyring, a pathname socket of theirs (an SSH agent's) and, where no network namespace
    could be made, the network."""
    if os.geteuid() == 0 or "seccomp" in skip:  # (a layer left off on purpose is said so already)
        return None
    if "no-seccomp-library" not in skip and seccomp_program() is not None:
        return None
    return ("you are not root and libseccomp, which the grader's system-call filter needs, cannot be loaded here, so "
            "every submission runs as you without it: a student's code may use your kernel keyring, a socket of "
            "yours such as an SSH agent's, and the network where no network namespace can be made. Grade others' "
            "files as root (in a container, or on Gradescope), or install libseccomp (libseccomp2, or the package "
            "that provides libseccomp.so.2)")


def skipped() -> frozenset[str]:
    """The layers $GRADER_SANDBOX_SKIP leaves off (a testing aid only: apply)."""
    return frozenset(name for name in os.environ.get("GRADER_SANDBOX_SKIP", "").split(",") if name)


# What $GRADER_SANDBOX_SKIP may name: the layers, and the two machines it may pretend to be (apply)
SKIPPABLE = frozenset({"seccomp", "landlock", "uid", "namespaces", "no-landlock-kernel", "no-seccomp-library"})


_THEIRS = "classmates' files and results would be theirs to read."
_KEEP_APART = ("Keep the class and its results in a folder only you may enter (chmod 700 on it or a folder above it, "
               "under /home or /srv, say).")
_SOLUTION_THEIRS = "the exercise's reference solution would be theirs to read."
_SOLUTION_APART = ("Keep the exercise's .toml and solution in a folder only you may enter (chmod 700 on it or a folder "
                   "above it, under /home or /srv, say).")


def _entered_by_anyone(path: Path) -> bool:
    """Whether every existing folder from / down to `path` lets any user in (o+x): a folder yet to be
    made is made so (umask 022)."""
    for folder in (path, *path.parents):
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue
        if not mode & 0o001:
            return False
    return True


# (/usr/local: where a host installs what is its own, a licence key, a credential beside a tool, rather than its
# distribution's; rt206's child that kept uid 0 listed root's folders there. All of /usr, walked, was 198 rules
# and 2.7 s, so the rest of it is one rule a folder: _around_secrets.)
SECRETS_KEPT_IN = ("/etc", "/sys", "/proc/sys", "/proc/driver", "/usr/local")


def _keeps_secrets(folder: str) -> bool:
    return any(folder == top or folder.startswith(top + "/") for top in SECRETS_KEPT_IN)


def _sys_reads() -> list[str]:
    """/sys but its cgroups: the machine's description (CPUs, caches, the GPU's bus) is there, and so
    were every grader's children's cgroups, named with the grader's pid and showing each one's memory
    and processes (a red team's child read the other graders' on the host, a channel between
    children graded at once). torch asks its own cgroup for memory limits, and does without."""
    parts = []
    for top, hidden in (("/sys", "fs"), ("/sys/fs", "cgroup")):
        with contextlib.suppress(OSError):
            parts += [os.path.join(top, name) for name in sorted(os.listdir(top)) if name != hidden]
    return parts


def _proc_reads() -> list[str]:
    """Of /proc, this process's own folder and the few entries that describe the machine (PROC_READS):
    never another process's folder, nor the host's locks, keys, timers or kernel symbols. Without a
    pid namespace of its own (a container's root) /proc shows every process on the host, and a red
    team's child read each one's command line and status (a secret on a command line, and a channel
    between two children graded at once); another then read /proc/locks (the pid of a process
    holding a lock), keys and timer_list. The own folder is held open for the child's life: a
    folder of /proc dropped from the kernel's cache comes back as a new inode, which no rule names.
    (/proc/net leads into the own folder: without a network namespace of its own, the host's.)"""
    try:
        # Not os.getpid(): in a pid namespace of its own whose /proc could not be mounted (a container
        # that masks /proc), this process is 1 there and /proc's 1 is the host's init.
        own = "/proc/" + os.readlink("/proc/self")
        _HELD.append(os.open(own, os.O_PATH | os.O_CLOEXEC))
    except OSError:
        return []
    return [own, *(f"/proc/{name}" for name in PROC_READS)]


# What Python, numpy, torch and CUDA read of /proc beyond a process's own folder: the CPU and memory
# (cpuinfo, meminfo, stat: glibc counts CPUs there when /sys will not say, and psutil's cpu_percent and
# boot_time read it), the kernel's settings (sys) and version, the device numbers and the GPU driver's
# files (devices, driver), and the links into the own folder. (Not loadavg: it names the last pid the
# host handed out. stat's count of the processes the host has made passes bits from one submission to
# the next, rt191's 10, and closing it took honest files' psutil.cpu_percent() from 10/10 to 0, rt192:
# a channel between two submissions that agree, which carries nothing of the grader's: README.)
PROC_READS = ("cpuinfo", "meminfo", "stat", "uptime", "version", "filesystems", "sys", "devices", "driver", "self",
              "thread-self", "mounts")


_HELD: list[int] = []  # descriptors kept open on purpose (see _proc_reads)


def read_ahead() -> None:
    """Work out now what a child that keeps uid 0 may read of the system's folders (a zygote does
    before it forks; a child started afresh while it imports torch)."""
    for folder in (*_SYSTEM_READS, *_sys_reads(), *(f"/proc/{name}" for name in PROC_READS)):
        _around_secrets(folder)  # (/usr/local's walk too, which ran in each child: rv44)


@functools.cache
def world_readable_parts(folder: str) -> tuple[str, ...]:
    """The fewest paths that cover what every user may read in `folder`: the folder itself where
    all of it is, else its readable entries, each the same way. A symbolic link is no access of its
    own (Landlock checks where it leads). Computed once per process (a zygote does it before it
    forks: about 10 ms for /etc)."""
    parts, _ = _readable_beneath(folder)
    return tuple(parts)


# Files anyone may read that say what the host does: the last pid it handed out (0666; without a pid
# namespace of its own, the host's: a red team's child read it, as loadavg would tell it).
_READABLE_SECRETS = frozenset({"/proc/sys/kernel/ns_last_pid"})


def _readable_beneath(path: str) -> tuple[list[str], bool]:
    """(paths to allow, whether that is all of `path`)."""
    if path in _READABLE_SECRETS:
        return [], False
    try:
        st = os.lstat(path)
    except OSError:
        return [], True
    if stat.S_ISLNK(st.st_mode):
        return [], True
    directory = stat.S_ISDIR(st.st_mode)
    need = 0o005 if directory else 0o004
    if st.st_mode & need != need:
        # A file no one may read but its owner and group is a secret only where those are root's:
        # one that root may not read either (/proc/sys's write-only files, as vm/drop_caches) a
        # child of uid 0 without capabilities may not read either, and leaving it in keeps its
        # folder one rule (/proc/sys alone was 801 rules, 36 ms more for every child).
        roots = (st.st_uid == 0 and st.st_mode & stat.S_IRUSR) or \
            (st.st_gid in _roots_groups() and st.st_mode & stat.S_IRGRP)
        if directory or roots or _has_acl(path):  # (an ACL may let root read what its mode does not)
            return [], False
        return [path], True
    if not directory:
        return [path], True
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return [], False
    parts: list[str] = []
    whole = True
    for name in names:
        found, complete = _readable_beneath(os.path.join(path, name))
        parts += found
        whole = whole and complete
    return ([path], True) if whole else (parts, False)


@functools.cache
def _roots_groups() -> frozenset[int]:
    """The groups a child that keeps uid 0 may read as: root's, and this process's own (which it keeps
    where they cannot be dropped)."""
    return frozenset({0, os.getegid(), *os.getgroups()})


def _has_acl(path: str) -> bool:
    try:
        os.getxattr(path, "system.posix_acl_access", follow_symlinks=False)
    except OSError as err:
        return err.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP)  # (unsure: kept out)
    return True


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 (or less) where it has none."""
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    return int(syscall(_SYS_LANDLOCK["create_ruleset"], None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def _landlock(workdir: Path, gpu: bool, own_shm: bool = False) -> str:
    """Reads where Python, torch and the grader live, writes in the child's folder only (where that
    is on the host's disk, the grader counts what it holds: folder.py), and in its own /dev/shm
    where it has one (`own_shm`: _private_filesystem mounted it). "" where the kernel has none
    (skip "no-landlock-kernel" pretends so, to test what then happens: apply)."""
    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = landlock_abi()
    if abi < 1:
        return ""
    write = _FS_WRITE_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    device = _FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(_FS_READ | write | _FS_MAKE_SPECIAL | device, _NET_TCP if abi >= 4 else 0,
                        _SCOPE if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return ""
    try:
        rules = [(root, _FS_READ if os.path.isdir(root) else _FS_READ_FILE) for root in _readable_roots(workdir)]
        # Of /dev only what Python and torch use (and the GPU's nodes), never a terminal or a disk.
        file_access = (1 << 2) | _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0) | device
        # The GPU's nodes, not /dev/nvidia-caps: its MIG configuration and monitoring capabilities
        # are root's (0400), which a child that keeps uid 0 could otherwise open. (Grading on a MIG
        # slice, which needs its capability node, is not supported.)
        nodes = [*_DEVICES, *(node for node in glob.glob("/dev/nvidia*") if gpu and not os.path.isdir(node))]
        rules += [(node, file_access if not os.path.isdir(node) else file_access | _FS_READ) for node in nodes
                  if os.path.exists(node) and node not in _READ_ONLY_DEVICES]
        rules += [(node, 1 << 2) for node in _READ_ONLY_DEVICES if os.path.exists(node)]
        rules.append((str(workdir), _FS_READ | write))
        if own_shm:
            rules.append((str(SHM), _FS_READ | write))
        for path, access in rules:
            _add_path_rule(syscall, ruleset, path, access)
        if syscall(_SYS_LANDLOCK["restrict_self"], ruleset, ctypes.c_uint32(0)) != 0:
            return ""
    finally:
        os.close(ruleset)
    scopes = "fs, tcp, signals" if abi >= 6 else "fs, tcp" if abi >= 4 else "fs"
    return f"landlock ABI {abi} ({scopes})"


def _add_path_rule(syscall: Callable[..., int], ruleset: int, path: str, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneath(access, fd)
        syscall(_SYS_LANDLOCK["add_rule"], ruleset, ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(fd)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _zero_read_only(active: list[str]) -> bool:
    """Whether Landlock, in place, opens /dev/zero read only (_READ_ONLY_DEVICES)."""
    return any(layer.startswith("landlock") for layer in active)


def _seccomp(gpu: bool = False, shared_counted: bool = True) -> str:
    """Load the filter (compiled once per process: a zygote compiles it before it forks children,
    which then only hand the kernel its instructions). `shared_counted`: whether shared memory through
    /dev/zero is bounded, by a cgroup's count or by Landlock, which opens it read only; where not, shared
    mappings are refused (no_shared_mappings_program)."""
    program = seccomp_program()
    # Every program compiled before the first is loaded: libseccomp hands a program over through a
    # memfd (_exported), which the first refuses (the later filters went missing when a child
    # started afresh compiled them after it).
    epoll, last = no_epoll_program() if not gpu else None, last_filter_program()
    ioctls = only_tty_ioctls_program() if not gpu else None
    unshared = no_shared_mappings_program() if not gpu and not shared_counted else None
    own = own_signals_program() if os.getpid() != 1 else None
    if program is None or not _load_filter(program):
        return ""  # no libseccomp here: the layer is simply not active
    layer = "seccomp (no fork, exec, sockets, io_uring, mknod, ptrace, signal handlers)"
    if not gpu and epoll is not None and _load_filter(epoll):
        selectors.DefaultSelector = selectors.PollSelector  # type: ignore[misc,assignment] # asyncio polls
        layer += "; seccomp: no epoll"
    if ioctls is not None and _load_filter(ioctls):
        layer += "; seccomp: a terminal's and a descriptor's ioctls only"
    if unshared is not None and _load_filter(unshared):
        layer += "; seccomp: no shared mappings"
    if os.getpid() != 1:
        # No pid namespace of its own (a container's root, say): other children of the grader are
        # visible (and, where they are nobody, as a rootless container gives, as much its own as
        # itself; elsewhere each has a uid of its own). Only Landlock's signal
        # scope (kernel 6.12) would stop a kill(): signals to itself only, here, for every kernel.
        own = _for_pid(own, os.getpid())
        if own is not None and _load_filter(own):
            layer += "; seccomp: signals and steers itself only"
    if last is not None:
        _load_filter(last)
    return layer


@functools.cache
def last_filter_program() -> bytes | None:
    """No filter of the submission's after the grader's: each one a thread loads is kernel memory
    outside the cgroup, counted against the host's one limit for compiled BPF (a red team's 254
    threads loaded 33 each, a fifth of it), and past that limit root's programs, the next child's
    sandbox included, could load none."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        denied = seccomp.ERRNO(errno.EPERM)
        rules.add_rule(denied, "seccomp")
        rules.add_rule(denied, "prctl", _low32(seccomp, 0, _PR_SET_SECCOMP))
        return _exported(rules)
    except Exception:  # noqa: BLE001 - no libseccomp here
        return None


def _load_filter(program: bytes) -> bool:
    instructions = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(instructions, ctypes.c_void_p))  # 8 bytes each
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


@functools.cache
def own_signals_program() -> bytes | None:
    """A filter that lets a process signal and steer only itself, for a child with no pid namespace
    of its own, whose siblings (and, keeping uid 0, the grader) pass the kernel's same-uid checks:
    kill, tgkill and the queued kinds aimed at any other pid (its process group and -1 included:
    raise() and abort() use tgkill), tkill (thread ids are no pid to compare), pidfd_open of another
    process and pidfd_send_signal (a /proc/<pid> folder serves as a pidfd); another process's
    resource limits, priority, scheduling, CPUs, I/O priority and pages (only 0, itself, allowed:
    setrlimit is prlimit64 on 0); and SIGIO aimed elsewhere (F_SETOWN to another pid, F_SETOWN_EX,
    FIOSETOWN, SIOCSPGRP). Compiled once for the pid _PID_MARK (a zygote compiles it before it
    forks); `_for_pid` puts the real one in."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        denied = seccomp.ERRNO(errno.EPERM)
        for name in ("kill", "rt_sigqueueinfo", "tgkill", "rt_tgsigqueueinfo", "pidfd_open"):
            rules.add_rule(denied, name, seccomp.Arg(0, seccomp.NE, _PID_MARK))
        for name in ("tkill", "pidfd_send_signal"):
            rules.add_rule(denied, name)
        for name in ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr",
                     "migrate_pages", "move_pages"):
            rules.add_rule(denied, name, seccomp.Arg(0, seccomp.NE, 0))
        # (which, who, ...): who 0 is itself only where `which` names a process; a user's 0 is every
        # process of its uid (siblings and, keeping uid 0, the grader), a group's 0 its own group.
        for name, process in (("setpriority", _PRIO_PROCESS), ("ioprio_set", _IOPRIO_WHO_PROCESS)):
            rules.add_rule(denied, name, seccomp.Arg(0, seccomp.NE, process))
            rules.add_rule(denied, name, seccomp.Arg(1, seccomp.NE, 0))
        # (A socket pair stays: it was refused here, since a descriptor in flight over one would hold
        # a file no count of the folder sees, and asyncio.run, which makes one, failed an honest
        # file; sendmsg, the only way a descriptor travels, is refused in every filter now.)
        rules.add_rule(denied, "fcntl", _command(seccomp, _F_SETOWN), seccomp.Arg(2, seccomp.NE, _PID_MARK))
        rules.add_rule(denied, "fcntl", _command(seccomp, _F_SETOWN_EX))
        for request in (_FIOSETOWN, _SIOCSPGRP):
            rules.add_rule(denied, "ioctl", _command(seccomp, request))
        return _exported(rules)
    except Exception:  # noqa: BLE001 - no libseccomp here
        return None


_F_SETOWN, _F_SETOWN_EX, _FIOSETOWN, _SIOCSPGRP = 8, 15, 0x8901, 0x8902
_PRIO_PROCESS, _IOPRIO_WHO_PROCESS = 0, 1


# What a pthread shares with its process (CLONE_THREAD, CLONE_VM, CLONE_FILES, CLONE_FS, CLONE_SIGHAND).
_THREAD_SHARES = (0x10000, 0x100, 0x400, 0x200, 0x800)
_CLONE_VFORK = 0x4000
_PID_MARK = 0x7FFE_D1CE  # no syscall number, architecture or flag has this value


def _for_pid(program: bytes | None, pid: int) -> bytes | None:
    """`program` with `pid` where it compares with _PID_MARK (the `k` of BPF's struct sock_filter
    {u16 code; u8 jt, jf; u32 k}); None if it has no such comparison."""
    if program is None:
        return None
    instructions = bytearray(program)
    mark, real = _PID_MARK.to_bytes(4, sys.byteorder), pid.to_bytes(4, sys.byteorder)
    patched = 0
    for at in range(4, len(instructions), 8):
        if instructions[at:at + 4] == mark:
            instructions[at:at + 4] = real
            patched += 1
    return bytes(instructions) if patched else None


def _exported(rules: Any) -> bytes | None:
    with open(os.memfd_create("grader-seccomp", os.MFD_CLOEXEC), "w+b") as exported:
        rules.export_bpf(exported)
        exported.seek(0)
        program = exported.read()
    return program if program and len(program) % 8 == 0 else None


# The ioctls a child without a GPU may make: a terminal's questions (isatty's TCGETS, the window's
# size), a descriptor's bytes waiting, blocking (socket.setblocking) and close-on-exec
# (os.set_inheritable). Every other request answers ENOTTY, as for a file that is no device: a
# request list of those refused could not keep up with the filesystems' own, which an owner may make
# without a capability, and a child that keeps uid 0 owns root's files (red teams changed a /usr
# file's inode generation through ext4's EXT4_IOC_SETVERSION, read the whole disk's map through
# FS_IOC_GETFSMAP, and made ext4 allocate a root file's delayed blocks, EXT4_IOC_ALLOC_DA_BLOCKS).
_TTY_IOCTLS = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)  # TCGETS TIOCGWINSZ FIONREAD FIONBIO FIONCLEX FIOCLEX
# (audit architecture, ioctl's number) where the filter is written by hand (libseccomp cannot say
# "none but these" of one argument).
_IOCTL_ARCH = {"x86_64": (0xC000003E, 16), "aarch64": (0xC00000B7, 29)}


@functools.cache
def only_tty_ioctls_program() -> bytes | None:
    """BPF (struct sock_filter {u16 code; u8 jt, jf; u32 k}, in the machine's order): on this
    architecture, an ioctl whose request (the low 32 bits the kernel reads) is not one of
    _TTY_IOCTLS answers ENOTTY; everything else passes to the other filters. None elsewhere."""
    import platform

    arch = _IOCTL_ARCH.get(platform.machine())
    if arch is None:
        return None
    load, equal, give = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
    request = 16 + 8 + (0 if sys.byteorder == "little" else 4)  # seccomp_data.args[1]'s low half
    allowed = len(_TTY_IOCTLS)
    code = [(load, 0, 0, 4), (equal, 0, 3 + allowed + 1, arch[0]),  # another architecture: pass
            (load, 0, 0, 0), (equal, 0, 1 + allowed + 1, arch[1]),  # another call: pass
            (load, 0, 0, request)]
    code += [(equal, allowed - i, 0, value) for i, value in enumerate(_TTY_IOCTLS)]
    code += [(give, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOTTY), (give, 0, 0, _SECCOMP_RET_ALLOW)]
    order = "<" if sys.byteorder == "little" else ">"
    return b"".join(struct.pack(order + "HBBI", *instruction) for instruction in code)


_SECCOMP_RET_ERRNO, _SECCOMP_RET_ALLOW = 0x00050000, 0x7FFF0000


@functools.cache
def no_epoll_program() -> bytes | None:
    """epoll, refused where CUDA is not in use (the CUDA driver's own use of it has not been tried):
    its watches count against one limit per user that no capability lifts (fs.epoll.max_user_watches),
    and a red team's root child registered 5.5 million (a pipe dup'ed onto spare descriptor numbers,
    each number a watch of its own, in 120 instances), so that for as long as it lived every root
    program on the host that added a watch (a container runtime, an asyncio server) got ENOSPC.
    torch opens its one epoll instance as it is imported, before this."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in ("epoll_create", "epoll_create1", "epoll_ctl"):
            _refuse(rules, seccomp.ERRNO(errno.ENOSYS), name)
        return _exported(rules)
    except Exception:  # noqa: BLE001 - no libseccomp here
        return None


@functools.cache
def no_shared_mappings_program() -> bytes | None:
    """No shared mapping of any file, where /dev/zero opens for writing (no Landlock), no cgroup counts
    the child's memory, and CUDA is not in use (its driver maps its nodes shared): a shared writable
    mapping of /dev/zero is shared memory, as an anonymous one is (refused at seccomp_program), whole
    for as long as one page of it is mapped, and rt216's child held 6 GiB of it within 670 MB of address
    space, at 10/10. A mapping made read only is refused too: mprotect would make it writable, and a
    filter cannot tell which mapping mprotect is asked about. Differentiating sin needs none, but a
    POSIX semaphore maps its /dev/shm file shared, so multiprocessing's ThreadPool (threads alone)
    cannot be made there; with a cgroup it can (rv49: an honest ThreadPool scored 0/10 with namespaces
    and no Landlock). numpy's memmap and a shared mmap.mmap of a file answer "not permitted"."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(3, seccomp.MASKED_EQ, _MAP_SHARED, _MAP_SHARED))
        return _exported(rules)
    except Exception:  # noqa: BLE001 - no libseccomp here
        return None


@functools.cache
def seccomp_program() -> bytes | None:
    """The seccomp filter as BPF instructions, compiled by libseccomp (None without it)."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        # A system call of another architecture (int 0x80, x32) ends the process: killing only the
        # thread left an import hanging until its time limit.
        rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
        denied = seccomp.ERRNO(errno.EPERM)
        for name in ("fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
                     "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "keyctl", "mknod",
                     "mknodat", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsmount", "add_key",
                     "request_key", "perf_event_open", "userfaultfd"):
            rules.add_rule(denied, name)
        # New processes are clones without CLONE_THREAD; threads stay allowed, as pthreads makes
        # them: sharing memory, signal handlers, descriptors and filesystem. A thread with a table
        # of descriptors of its own (no CLONE_FILES) has a limit of open files of its own too: a red
        # team's 40 such threads held 40,720 descriptors under "open files 1024", 20,360 pipes of
        # root's per-user pipe pages, and root's other programs got 8 KiB pipes for as long as it
        # lived. clone3 hides its flags in memory a filter cannot read, so it answers ENOSYS and
        # glibc falls back to clone.
        for flag in _THREAD_SHARES:
            rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, 0))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        # Nor a thread made as vfork makes a process (CLONE_VFORK): its maker waits, uninterruptibly,
        # until it exits, and a thread that never stops made every pause of the folder's count wait
        # out its time (folder.py; a red team's cost the grader a third of a core). pthreads never asks.
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_VFORK, _CLONE_VFORK))
        # The child dies with the process that holds it (its parent-death signal, set before this
        # filter) and is killed with its process group: it may clear neither. Where the grader needs a
        # user namespace, what the grader kills is that holder; without a cgroup, a child that had
        # cleared the signal and left the group outlived the kill.
        rules.add_rule(denied, "prctl", _low32(seccomp, 0, _PR_SET_PDEATHSIG))
        # Nor make itself unreadable to the grader (not dumpable): without CAP_SYS_PTRACE (a
        # container's root) the grader then could not read /proc/PID/io, and rt139's child made the
        # disk write 1.5 GiB past the bound folder.py keeps with it, at 9.53.
        rules.add_rule(denied, "prctl", _low32(seccomp, 0, _PR_SET_DUMPABLE))
        # A private futex hash of the size asked for (Linux 6.16) is kernel memory that no limit of
        # the process counts: without a cgroup a red team's child took 1 GiB per call, 7 GiB with
        # 3.4 GiB of its own. "Invalid", as a kernel without it answers; glibc asks for none.
        rules.add_rule(seccomp.ERRNO(errno.EINVAL), "prctl", _low32(seccomp, 0, _PR_FUTEX_HASH))
        # Landlock governs truncate(path) only from its ABI 3 (Linux 6.2): before it, a child that
        # keeps uid 0 without a private filesystem emptied a root-owned file of the host's (a red
        # team's, with the ABI held at 2). ftruncate needs a descriptor open for writing, which
        # Landlock governs from its first ABI.
        if landlock_abi() < 3:
            rules.add_rule(denied, "truncate")
        for name in ("setsid", "setpgid"):
            rules.add_rule(denied, name)
        # No socket of any family: nothing outside to talk to, a UNIX socket on the host included.
        # socketpair() stays (asyncio's loop makes one), and its two ends reach only each other: no
        # connect, bind or listen, nor sendto an address (a red team's datagram pair sent to a
        # root-only socket of the host's, and bound an abstract name a host service then could not).
        # Nothing sent over it carries a descriptor: descriptors in flight (SCM_RIGHTS) count against
        # one total per user, checked against each sender's own limit of open files, and a red
        # team's child kept 1,250 of root's in flight, so that no root program with the usual limit
        # of 1,024 could pass one while it lived.
        rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket")
        for name in ("connect", "bind", "listen"):
            rules.add_rule(seccomp.ERRNO(errno.EACCES), name)
        rules.add_rule(seccomp.ERRNO(errno.EACCES), "sendto", seccomp.Arg(4, seccomp.NE, 0))
        for name in ("sendmsg", "sendmmsg"):
            rules.add_rule(denied, name)
        # io_uring makes sockets (and opens files) without the system calls above ever running.
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        # Nor the kernel's older asynchronous I/O: its contexts count against one limit for the whole
        # host (fs.aio-max-nr), and a red team's child took all 65,536 in one io_setup, so that every
        # other program's was refused for as long as it lived. (glibc's aio_read uses threads.)
        for name in ("io_setup", "io_submit", "io_getevents", "io_pgetevents", "io_cancel", "io_destroy"):
            _refuse(rules, seccomp.ERRNO(errno.ENOSYS), name)
        # No SIGCONT of its own: the folder's count pauses the child (SIGSTOP) to see one moment of
        # its folder (folder.py), and a thread that had not stopped yet could continue the rest (a
        # red team's loop of kill() kept 40 of 40 pauses from holding). Nor a signal the kernel
        # sends for it: POSIX timers (the sigevent, and so the signal, is in memory a filter cannot
        # read; a red team's timers firing SIGCONT undid every pause, even of threads already
        # stopped) and F_SETSIG (any signal for a descriptor's I/O). Python and torch use neither.
        for name, index in (("kill", 1), ("tkill", 1), ("tgkill", 2), ("rt_sigqueueinfo", 1),
                            ("rt_tgsigqueueinfo", 2), ("pidfd_send_signal", 1)):
            rules.add_rule(denied, name, _low32(seccomp, index, signal.SIGCONT))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "timer_create")
        rules.add_rule(denied, "fcntl", _command(seccomp, _F_SETSIG))
        # No new signal handlers: Python hands a handler the frame it interrupted, a way into the
        # canary's frames that no audit event announces. Reading a handler stays allowed.
        rules.add_rule(denied, "rt_sigaction", seccomp.Arg(1, seccomp.NE, 0))
        for call in _HOST_STATE:
            _refuse(rules, seccomp.ERRNO(0) if call in _PRETENDED else denied, call)
        # Nor a file made set-uid or set-gid by the mode it is made with (chmod is pretended, but
        # open's mode was kept): rt169's child that kept uid 0 made a set-uid program of root's in
        # its folder, on the host's disk where no tmpfs of its own holds it. (mkdir keeps neither bit.)
        for name, index in (("open", 2), ("openat", 3), ("creat", 1)):
            for bit in (stat.S_ISUID, stat.S_ISGID):
                _refuse(rules, denied, name, seccomp.Arg(index, seccomp.MASKED_EQ, bit, bit))
        for advice in (*_EVICTING, *_QUEUED_READS):  # (madvise itself is the allocators' own)
            rules.add_rule(denied, "madvise", _low32(seccomp, 2, advice))
        # No Landlock rules of the child's own (its own layer is in place before this filter): a
        # rule holds its file's inode for as long as the ruleset lives, and a red team's child kept
        # 2.5 GiB of removed files on the host's disk that way, with no name, descriptor or mapping
        # that the folder's count (folder.py) could see.
        for number in _SYS_LANDLOCK.values():
            _refuse(rules, seccomp.ERRNO(errno.ENOSYS), number)
        # Memory that no limit of the process counts: shared memory (memfd, a shared anonymous
        # mapping; a shared one of /dev/zero is refused by Landlock, which opens it read only) lives
        # as long as any mapping of a page of it, and a socket's buffers hold what was sent until it
        # is read. Without a cgroup (a container's root) a red team's child held 6.3 GiB in 200
        # memfds mapped a page each, 4.5 GiB in shared mappings shrunk to a page, and 934 MiB in 117
        # socket pairs whose buffers it had grown, under an address-space limit of 4.6 GiB; with one,
        # the same stays refused (least privilege: differentiating sin needs none of it). memfd
        # answers "not implemented", as an old kernel does (asmjit, in torch, falls back from it).
        _refuse(rules, seccomp.ERRNO(errno.ENOSYS), "memfd_create")
        rules.add_rule(denied, "mmap", seccomp.Arg(3, seccomp.MASKED_EQ, _MAP_SHARED_ANONYMOUS, _MAP_SHARED_ANONYMOUS))
        for option in _SOCKET_BUFFERS:
            rules.add_rule(denied, "setsockopt", _low32(seccomp, 1, _SOL_SOCKET), _low32(seccomp, 2, option))
        # Nor pages lent to a pipe or socket by reference: a byte of a page spliced in holds the whole
        # page (a 2 MiB huge page, where madvise asked for one) while the buffer is charged the byte.
        # Without a cgroup a red team's child held 8 GiB through one socket pair at 10/10, and in a
        # container the kernel's OOM killer then took another student's child and the zygote. Python
        # asks for none of them but shutil's copies, which fall back to read and write on ENOSYS.
        for name in ("vmsplice", "splice", "tee", "sendfile"):
            _refuse(rules, seccomp.ERRNO(errno.ENOSYS), name)
        # The host's disk, beyond what the folder holds: reads and writes that pass the page cache
        # (O_DIRECT) and writes forced out to the disk (the fsync family) went at the disk's full
        # speed, unbounded: a red team's child read 10.7 GiB of torch's library in 8 s, and wrote
        # 6 GB in 9 s through one 32 MiB file it wrote, synced and truncated, and every other
        # program's synced writes on the host took 13 to 20 times as long. O_DIRECT answers
        # "invalid", as a filesystem without it does; a sync is pretended (done at once, nothing
        # forced): a file written and truncated again never reaches the disk.
        invalid = seccomp.ERRNO(errno.EINVAL)
        _refuse_open_flag(rules, seccomp, invalid, os.O_DIRECT)
        rules.add_rule(invalid, "fcntl", _command(seccomp, _F_SETFL), seccomp.Arg(2, seccomp.MASKED_EQ, os.O_DIRECT,
                                                                                   os.O_DIRECT))
        for name in ("fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "msync"):
            _refuse(rules, seccomp.ERRNO(0), name)
        # Disk the folder's count cannot see (folder.py, where the folder is on the host's
        # disk): space kept with FALLOC_FL_KEEP_SIZE (which RLIMIT_FSIZE does not bound either: a red
        # team held 7 GiB in one call) and files that never had a name (O_TMPFILE). Both answer "not
        # supported", so that posix_fallocate writes instead and tempfile names its file.
        unsupported = seccomp.ERRNO(errno.EOPNOTSUPP)
        rules.add_rule(unsupported, "fallocate")
        # Nor by the ioctls that reserve space as fallocate does (XFS's, which ext4 and others take
        # too): a red team's one FS_IOC_RESVSP64 kept 4 GiB past a file's end, for the 60 ms the
        # folder's count took to stop it, where the folder is on the host's disk.
        for request in _PREALLOCATE:
            rules.add_rule(unsupported, "ioctl", _command(seccomp, request))
        # And writes forced out to the disk by the way the file was opened or written (O_DSYNC,
        # O_SYNC, pwritev2's RWF_DSYNC and RWF_SYNC), which undid the pretended fsync: a red team's
        # child wrote 3 GiB to the disk in 4 s through a 32 MiB file opened with O_DSYNC.
        _refuse_open_flag(rules, seccomp, invalid, os.O_DSYNC)
        for flag in (_RWF_DSYNC, _RWF_SYNC):
            rules.add_rule(invalid, "pwritev2", seccomp.Arg(5, seccomp.MASKED_EQ, flag, flag))
        # Nor by RWF_DONTCACHE (Linux 6.14), which writes at once and drops from the cache what it
        # read: a red team's child rewrote a 32 MiB file so and the disk wrote 17.5 GiB in 3 s. It
        # answers "not supported", as a kernel before it does.
        for name in ("pwritev2", "preadv2"):
            rules.add_rule(unsupported, name, seccomp.Arg(5, seccomp.MASKED_EQ, _RWF_DONTCACHE, _RWF_DONTCACHE))
        _refuse_open_flag(rules, seccomp, unsupported, _O_TMPFILE)
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "openat2")  # its flags are in memory a filter cannot read
        for request in _FILE_ATTRIBUTES:
            rules.add_rule(denied, "ioctl", _command(seccomp, request))
        # Leases, locks and directory notices reach every process that opens the same file: a red
        # team's child (keeping uid 0, it owns root's files, and a lease needs only a read) leased
        # matplotlib's compiled modules, /etc/ld.so.cache and /etc/passwd, so that every open of
        # them elsewhere waited 45 s (the kernel's lease-break-time): another student's import ran
        # out of time, and every new program on the host stalled. A lock held as long hangs whatever
        # takes the same lock (dpkg's, say). Leases and notices are refused ("no locks available");
        # a lock is pretended: the call succeeds and takes nothing, so that sqlite (IPython's
        # history, which D2L's plotting helpers start) and lock files work within the child, where
        # "database is locked" cost 15 s and then a zero, and nothing anyone else opens waits.
        for command in _LOCKS:
            action = seccomp.ERRNO(0) if command in _PRETENDED_LOCKS else seccomp.ERRNO(errno.ENOLCK)
            rules.add_rule(action, "fcntl", _command(seccomp, command))
        rules.add_rule(seccomp.ERRNO(0), "flock")
        # A pipe's size: its pages count against one soft limit per user (a child of root's filled
        # root's, and pipes made afterwards by programs without CAP_SYS_RESOURCE were 8 KiB), and a
        # red team shrank its request pipe to one page, so that the grader's pipelined requests no
        # longer fitted and (before session.py sent without blocking) its write never returned.
        rules.add_rule(denied, "fcntl", _command(seccomp, _F_SETPIPE_SZ))
        # Write-life hints live on the inode of any file its owner opens, read-only too, and stay
        # after the child: a red team's child that kept uid 0 set one on a root file under /usr.
        for command in _WRITE_HINTS:
            rules.add_rule(invalid, "fcntl", _command(seccomp, command))
        # Nor reading extended attributes ("not supported", which shutil.copystat expects): Landlock
        # governs opening a file, not looking it up, and a child that keeps uid 0 passes through
        # root's 0700 folders, where a red team's read a user.* attribute of a file it could not open.
        # (getxattrat, listxattrat and file_getattr by number, 464, 465 and 468 on every architecture:
        # a libseccomp that knows no such name added no rule, and a red team read the attribute so)
        reads: tuple[str | int, ...] = ("getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
                                        464, 465, 468)
        for call in reads:
            _refuse(rules, unsupported, call)
        return _exported(rules)
    except Exception:  # noqa: BLE001 - no libseccomp here
        return None


# What reaches past the child's own process and folder into state the host keeps, refused to every
# child (none is needed to differentiate sin). Where the child keeps uid 0 without a private
# filesystem (a container's root), it owns root's files, and Landlock governs neither their
# permissions, owners, times and attributes nor their flags (chattr): a submission made a root-owned
# program set-uid, and shut other students out of their folders. System V IPC and POSIX message
# queues outlive the child (its memory lost to the host, a channel to the next submission) where no
# IPC namespace of its own holds them. inotify instances are counted per uid (a root child took all
# of root's) and show the names of other children's folders. The host's page cache is shared by
# every process: a red team's child evicted pages of a file under /usr that nothing else reads
# (fadvise DONTNEED) and read back some of them, and a later submission read the pattern (mincore,
# or the time a read took) and changed its answers on it, in all three host settings; eviction,
# readahead and the calls that only ask are refused. Residency can still be read (a read's time,
# preadv2's RWF_NOWAIT, a mapping's fault-around: see the README), so pages a child adds remain a
# channel to a later one, though no longer one it can erase. The rest is the
# host's administration, which a child without capabilities cannot do either.
_HOST_STATE = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr", "inotify_init", "inotify_init1", "fanotify_init",
    "reboot", "settimeofday", "clock_settime", "sethostname", "setdomainname", "swapon", "swapoff", "acct",
    "vhangup", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "syslog",
    "quotactl", "quotactl_fd", "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at",
    "fadvise64", "readahead", "mincore", "process_madvise",
    # Newer than some libseccomp releases know by name (numbered alike on every architecture since
    # Linux 5.1): setxattrat, removexattrat, open_tree_attr, file_setattr; and memfd_secret, whose
    # pages are taken out of the kernel's direct map, splitting its huge pages for good (slower
    # memory for the whole host until it restarts); cachestat (a file's pages in the cache).
    463, 466, 467, 469, 447, 451,
)
# Of those, answered as done while nothing is done: a file's mode and times. shutil.copy sets the
# mode it copies (IPython's profile, which D2L's plotting helpers start, is made so), and a refusal
# failed honest files; the file, the host's or the child's own, keeps what it had.
_PRETENDED = ("chmod", "fchmod", "fchmodat", "fchmodat2", "utime", "utimes", "futimesat", "utimensat")
_EVICTING = (20, 21)  # madvise's MADV_COLD and MADV_PAGEOUT: a mapped file's pages out of the cache
# madvise's MADV_WILLNEED: reads of a mapped file queued at once, GBs in a fraction of a second, which
# the child's read limit drained at its rate only while its cgroup lived: rt146's child queued 3 GiB,
# and 2.9 GB went to the disk at full speed in the 6 s after it was closed, from no process, while
# another program's reads took 70 times as long.
_QUEUED_READS = (3,)
_O_TMPFILE = 0o20000000  # the bit that makes O_TMPFILE (with O_DIRECTORY) on x86-64 and arm64
# chattr's flags, the extended attributes' flags and project, the inode's generation (the 32-bit
# forms as well, and ext4's own numbers for it, EXT4_IOC_SETVERSION and its 32-bit form: a red team's
# child that kept uid 0 changed the generation and ctime of a file under /usr through them, the
# generic numbers refused): an owner sets them without a capability.
_FILE_ATTRIBUTES = (0x40086602, 0x401C5820, 0x40087602, 0x40046602, 0x40047602, 0x40086604, 0x40046604,
                    0x40806685, 0x800C6613,  # and fs-verity, and an fscrypt policy: an owner's too
                    # and FS_IOC_GETFSMAP, which needs no capability on ext4: the whole disk's map (every
                    # inode's number, size and blocks, /root's and other children's folders included)
                    # through any file the child may read (a red team's)
                    0xC0C0583B,
                    # and ext4's that an owner may make of a file opened for reading (a red team's,
                    # where the other filter is not loaded: a GPU child): allocate its delayed blocks,
                    # cache or drop its extents
                    0x660C, 0x6612, 0x6628)


# fcntl's F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE and F_NOTIFY (asking stays allowed).
_LOCKS = (6, 7, 37, 38, 1024, 1026)  # F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_NOTIFY
_PRETENDED_LOCKS = (6, 7, 37, 38)
_F_SETPIPE_SZ = 1031
_WRITE_HINTS = (1036, 1038)  # F_SET_RW_HINT, F_SET_FILE_RW_HINT
# FS_IOC_RESVSP, FS_IOC_UNRESVSP, FS_IOC_RESVSP64, FS_IOC_UNRESVSP64, FS_IOC_ZERO_RANGE, and XFS's
# ALLOCSP, FREESP, ALLOCSP64, FREESP64 (removed in Linux 5.17).
_PREALLOCATE = (0x40305828, 0x40305829, 0x4030582A, 0x4030582B, 0x40305839,
                0x4030580A, 0x4030580B, 0x40305824, 0x40305825)
_RWF_DSYNC, _RWF_SYNC, _RWF_DONTCACHE = 0x2, 0x4, 0x80
_PR_FUTEX_HASH = 78
_F_SETFL = 4
_MAP_SHARED = 0x01  # (MAP_SHARED_VALIDATE, 0x03, has it too)
_MAP_SHARED_ANONYMOUS = _MAP_SHARED | 0x20  # and MAP_ANONYMOUS
_SOL_SOCKET = 1
_SOCKET_BUFFERS = (7, 8, 32, 33)  # SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE
_F_SETSIG = 10


def _refuse_open_flag(rules: Any, seccomp: Any, action: Any, flag: int) -> None:
    """`action` for open and openat with `flag` among their flags (argument 1 of open, 2 of openat)."""
    rules.add_rule(action, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(action, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))


def _command(seccomp: Any, value: int) -> Any:
    """Argument 1 (ioctl's request, fcntl's command) equal to `value` in its low 32 bits: the kernel
    takes them as an unsigned int, and a comparison of all 64 was passed by value | 1 << 32 (a red
    team set chattr flags on root's files, and aimed SIGIO at the grader, that way)."""
    return _low32(seccomp, 1, value)


def _low32(seccomp: Any, index: int, value: int) -> Any:
    """Argument `index` equal to `value` in the 32 bits the kernel reads of an int: prctl's option
    and madvise's advice compared on all 64 let a red team clear its parent-death signal, load
    filters of its own and evict pages of the host's cache, each with 1 << 32 added."""
    return seccomp.Arg(index, seccomp.MASKED_EQ, 0xFFFFFFFF, value)


def _refuse(rules: Any, action: Any, call: str | int, *arguments: Any) -> None:
    """Add a refusal (where its `arguments` compare so), skipping a system call this architecture or
    libseccomp does not have (one unknown name must not cost the whole filter)."""
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        rules.add_rule(action, call, *arguments)


_WATCHED = ("socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.posix_spawn", "os.kill", "os.killpg",
            "gc.get_objects", "gc.get_referrers", "gc.get_referents", GC_TURNED_ON, "ctypes.",
            "os.setuid", "sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.remote_exec", "sys._current_frames",
            "resource.prlimit")
# Ways to a frame of one's own thread (f_back and f_locals raise no event). No frame holds the secret
# now (it stays in the grader: sandbox/oracle.py); the canary's held it before, and reading them is
# still refused and recorded, as the attempt it is. Code of the submission's can run below
# them: a garbage collector callback or a __del__ while the formula allocates, or an exception raised
# as a kernel is entered. Reading such a frame while the formula runs is recorded; a frame whose
# chain of callers reaches the canary's is refused, whenever it is asked for (a red team's gc
# callback kept a traceback and read tb_frame.f_back after the formula had returned, and had the
# secret with nothing recorded). Another thread's frames (sys._current_frames) are recorded.
_FRAME_EVENTS = ("sys._getframe",)
SECRET_HOLDERS = frozenset({"install", "derivatives", "_formula", "_asked", "case", "next_call"})  # canary.py's
_FRAME_ATTRIBUTES = ("tb_frame", "gi_frame", "cr_frame", "ag_frame")
TAMPERED = 73  # the child's exit status when its record channel was closed or replaced
_MAX_EVENTS = 50  # distinct ordinary events recorded per submission


def record_mac(data: bytes, key: bytes) -> bytes:
    """The keyed hash that signs one line of the audit record (the parent checks it)."""
    return hashlib.blake2b(data, key=key, digest_size=8).hexdigest().encode()


def _logging_frame_read() -> tuple[types.CodeType, int] | None:
    """logging's findCaller and the line of its `currentframe()`, the frame that read returns, taken
    before the submission runs (torch imports logging). Its walk up the callers reads names and lines
    only, and hands no frame out. A submission that rebinds logging.currentframe is handed findCaller's
    frame at that line unrecorded: the record is the TA's evidence, and the canary's frames stay refused
    on every read (a check that logging still holds its own function would look it up in a dictionary
    the submission may fill with keys of its own, whose __eq__ would then run inside the hook)."""
    import dis

    logging = sys.modules.get("logging")
    try:
        code = logging.Logger.findCaller.__code__  # type: ignore[union-attr]
        line = next(i.positions.lineno for i in dis.get_instructions(code)
                    if i.opname == "LOAD_GLOBAL" and i.argval == "currentframe" and i.positions is not None)
    except (AttributeError, StopIteration, TypeError):
        return None
    return (code, line) if isinstance(code, types.CodeType) and isinstance(line, int) else None


def _auditor(workdir: Path, record_fd: int, key: bytes,
             secret_globals: dict[str, Any] | None = None) -> Callable[[str, tuple[Any, ...]], None]:
    """Record, for a TA, attempts that the layers above stop or that could reach the grader's
    secrets. Each event goes to the parent the moment it happens, before the operation it audits
    runs, so nothing the submission does afterwards can take it back; each line is signed, so the
    parent drops lines the submission writes itself. The hook uses only what it captured now: a
    submission that patches os, sys, builtins or the grader's modules later changes nothing here. A
    record channel closed or replaced (checked by its inode before each write) ends the child with
    status TAMPERED, which the parent reports. Ordinary events and ways towards the secret are each
    capped at _MAX_EVENTS distinct ones (their texts are partly the submission's: sys.audit raises any
    event, "import" of any name), so a flood of them costs neither process; the ways towards the
    secret are counted apart, so ordinary events never displace them."""
    root = str(workdir)
    root_slash = root.rstrip("/") + "/"
    write, fstat, exit_now, blake2b = os.write, os.fstat, os._exit, hashlib.blake2b
    decode = bytes.decode
    inode = fstat(record_fd).st_ino
    # Which channel the descriptor holds, as /proc names it ("socket:[N]"): read back as a str, which
    # the collector does not track, where fstat's answer is an object it does (see `hook`).
    own_fd = f"/proc/self/fd/{record_fd}"
    try:
        channel: str | None = os.readlink(own_fd)
    except OSError:
        channel = None
    sent: set[str] = set()
    counts = [0, 0]  # distinct ordinary events, distinct ways towards the secret
    watched, attributes, frame_events, routes = _WATCHED, _FRAME_ATTRIBUTES, _FRAME_EVENTS, SECRET_ROUTES
    devnull, memory_files = os.devnull, ("mem", "maps", "smaps", "pagemap", "numa_maps")
    readlink, bad_value, to_range = os.readlink, ValueError, range  # (posix's own, bound now)
    fetching = threading.local()  # set while the hook itself reads the frame asked for
    holders, get_attribute = SECRET_HOLDERS, getattr
    logging_read = _logging_frame_read()
    frame_reads = (*((logging_read,) if logging_read is not None else ()), stand_ins.FRAME_READ)
    # An import's module code runs below this frame of importlib's (_call_with_frames_removed)
    bootstrap = sys.modules.get("_frozen_importlib")
    importing = get_attribute(get_attribute(bootstrap, "_call_with_frames_removed", None), "__code__", None)
    # Builtins and this module's globals too: a submission may rebind builtins.str or isinstance, or
    # put an int of its own as _MAX_EVENTS, whose comparison would then run its code in here (where
    # the canary's functions may be the caller: the hook runs for their own audit event).
    # And nothing of the submission's runs in here: every argument it may have made (sys.audit takes
    # any objects) is used only when its type is exactly one of Python's, by identity, since a
    # subclass's methods (and a metaclass's __eq__) are its code: a red team's str subclass ran its
    # __eq__ here, walked up to this frame, and set the record's counts so that nothing more was
    # recorded. The event's name is always an exact str (sys.audit copies it).
    text_of, bytes_of, kind_of, size = str, bytes, type, len
    is_subclass, text_copy, bytes_copy = issubclass, str.__str__, bytes.__bytes__
    frame_kinds = (types.FrameType, types.TracebackType, types.GeneratorType, types.CoroutineType,
                   types.AsyncGeneratorType)
    refused, failed, tampered, most = PermissionError, OSError, int(TAMPERED), int(_MAX_EVENTS)
    # Nor a garbage collection: one started by an allocation in here runs the submission's gc
    # callbacks with this hook for their caller. A red team's callback walked up to `send` and read
    # the record's key and counts from its closure, wrote a signed line of its own and set the counts
    # so that nothing more was recorded (ctypes and /proc/self/mem then went unrecorded, at 10/10).
    collecting, stop_collecting, resume_collecting = gc.isenabled, gc.disable, gc.enable
    # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR: frames that resume
    int_of, resumes = int, 0x20 | 0x80 | 0x100 | 0x200
    writing = int(os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
    # Another thread may turn it on again while this one waits in a system call here (rt132: a thread
    # calling gc.enable() in a loop, and a callback run inside the hook that resumed a generator whose
    # frame it had read before it ran, and walked up to `send`): it is turned off again after each
    # such call, before anything the collector tracks is made. (A long switch interval while the hook
    # runs would close the rest, but a thread that took the interpreter during such a call then kept
    # it for as long as the interval, and the hook's own thread starved.)

    def send(text: str) -> None:
        if text in sent:
            return
        # One more way towards the secret than the parent keeps, so that it can say there were more.
        kind, cap = (1, most + 1) if text.startswith(routes) else (0, most)
        if counts[kind] >= cap:
            return
        counts[kind] += 1
        sent.add(text)
        try:
            if channel is not None:
                if readlink(own_fd) != channel:
                    exit_now(tampered)
                stop_collecting()
            elif fstat(record_fd).st_ino != inode:
                exit_now(tampered)
            data = text.encode("utf-8", "replace")[:300]
            # A line of its own, whatever the submission wrote into the channel before it (a red
            # team's one byte before each heap search turned each signed line into a forged one).
            write(record_fd, b"\n" + data + b" " + blake2b(data, key=key, digest_size=8).hexdigest().encode() + b"\n")
            stop_collecting()
        except failed:
            exit_now(tampered)

    def absolute(path: str) -> str:
        # os.path.abspath is Python whose module a submission can patch; this is str and list only.
        parts: list[str] = []
        for part in (path if path.startswith("/") else root + "/" + path).split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def text(value: Any) -> str | None:
        # An exact str, or an exact bytes decoded as os.fsdecode would (os's own looks names up in
        # os as it runs, which a submission may rebind); anything else is None.
        kind = kind_of(value)
        if kind is text_of:
            return value
        if kind is bytes_of:
            return decode(value, "utf-8", "surrogateescape")
        # A subclass's own characters, copied by str's and bytes's C code (never its methods):
        # rt134's os.open(S("/proc/self/mem")) read its heap with nothing recorded. (issubclass with
        # str or bytes reads the class's stored MRO: no metaclass of the submission's runs.)
        if is_subclass(kind, text_of):
            return text_copy(value)
        if is_subclass(kind, bytes_of):
            return decode(bytes_copy(value), "utf-8", "surrogateescape")
        return None

    def exactly_a_frame_holder(value: Any) -> bool:
        kind = kind_of(value)  # (no generator in here: see the canary's functions)
        return (kind is frame_kinds[0] or kind is frame_kinds[1] or kind is frame_kinds[2] or kind is frame_kinds[3]
                or kind is frame_kinds[4])

    def opened_memory(path: str) -> str | None:
        # By the last part of the name: //proc/self/mem, bytes, relative paths and dir_fd opens
        # ("self/mem" from a descriptor of /proc) all end the same way. A symbolic link names its
        # target, which is followed as the kernel will (40 links at most): a red team's link "q" in
        # its folder to /proc/self/mem read its own heap with nothing recorded, and so does
        # /proc/self/fd/N of a descriptor already open on it.
        for _ in to_range(40):
            head, slash, name = path.rstrip("/").rpartition("/")
            if name in memory_files:
                return name
            try:
                target = readlink(path)
            except (failed, bad_value):
                return None
            stop_collecting()
            if kind_of(target) is not text_of:
                return None
            path = target if target.startswith("/") or not slash else head + "/" + target
        return None

    def refuse_canary(frame: Any, how: str) -> None:
        # A walk up f_back and f_globals, which raise no event: about 0.2 µs a frame. Only the
        # functions that hold the secret count: torch's own code reads frames below the kernel's
        # other functions (forward AD's, a masked tensor's), and those hold nothing secret. And this
        # hook's own, whose closures hold the record's key: code of the submission's may still run
        # below them (a __del__, a collection another thread turned on) or hold a traceback through
        # them (a refusal raised here).
        resumable, asked = False, how == "sys._getframe"  # (only that read's chain is weighed: see below)
        # (logging's own read, its findCaller's `currentframe()`, not the submission's: hn126's logging
        # inside a generator of its own was listed for the TA, "read a frame (sys._getframe)")
        # (nor the stand-ins' own, which asks who imports: an import in the submission's generator was recorded)
        for read in frame_reads:
            asked = asked and not (get_attribute(frame, "f_code", None) is read[0]
                                   and get_attribute(frame, "f_lineno", None) == read[1])
        # (nor a library's module code imported there: hn126's first backward(gradient) inside its generator
        # imported sympy, whose TypeVars read frames (typing's). A frame of the submission's folder counts.)
        imported = True  # (every frame from the one read up to the import outside the submission's folder)
        while frame is not None:
            # (one attribute and a comparison or two a frame: a recursion's thousand callers are walked
            # for each of its traceback's entries the harness reads)
            space = get_attribute(frame, "f_globals", None)
            if space is own_globals:
                code = get_attribute(frame, "f_code", None)
                for own in own_code:
                    if code is own:
                        send(f"read a frame ({how}) reaching the audit hook's")
                        raise refused("graded code may not read the grader's frames")
            if secret_globals is not None and space is secret_globals and \
                    get_attribute(get_attribute(frame, "f_code", None), "co_name", None) in holders:
                send(f"read a frame ({how}) reaching the canary's")
                raise refused("graded code may not read the grader's frames")
            if asked and not resumable:  # (not on a traceback's reads)
                code = get_attribute(frame, "f_code", None)
                flags, where = get_attribute(code, "co_flags", 0), get_attribute(code, "co_filename", "")
                mine = kind_of(where) is text_of and where.startswith(root_slash)
                imported = imported and not mine
                # (read by the library within an import that the submission's generator made)
                asked = not (code is importing and imported)
                resumable = asked and kind_of(flags) is int_of and flags & resumes != 0 and mine
            frame = get_attribute(frame, "f_back", None)
        if resumable:
            # Checked now, the chain changes each time a generator or coroutine in it resumes: a red
            # team's frame, taken inside a generator resumed later by code run inside this hook (a
            # collection another thread had turned on), led up to `send`. Recorded, not refused, and
            # only for the submission's own generators (those in its folder): logging inside a
            # generator takes frames so too, as torch.compile's own do, every call.
            send(f"read a frame ({how}) with a generator or coroutine of the file's among its callers")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        was_collecting = collecting()
        stop_collecting()
        try:
            audit(event, args)
        finally:
            if was_collecting:
                resume_collecting()

    def audit(event: str, args: tuple[Any, ...]) -> None:
        # (Arguments are read as text only by the events that use them: the hook runs for every one.)
        if event == "import":
            name = text(args[0]) if size(args) > 0 else None
            if name is not None and (name == "grader" or name.startswith("grader.")):
                send("imported " + name)
        elif event == "open":
            path = text(args[0]) if size(args) > 0 else None
            mode = text(args[1]) if size(args) > 1 else None
            if path is None:
                return
            # os.open gives no mode, only its flags (rt134 wrote to /dev/urandom through it, unrecorded)
            flags = args[2] if size(args) > 2 and kind_of(args[2]) is int_of else 0
            memory = opened_memory(path)
            if memory is not None:
                send("opened a process's memory or its map (" + memory + ")")
            elif (mode is not None and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or \
                    (mode is None and flags & writing):
                where = absolute(path)  # (a descriptor opened again is no new file)
                if not where.startswith(root) and where != devnull:
                    send(f"opened {where} for writing")
        elif event in frame_events:
            if size(args) > 0 and kind_of(args[0]) is frame_kinds[0]:
                refuse_canary(args[0], event)
        elif event == "object.__getattr__":
            name = text(args[1]) if size(args) > 1 else None
            if name is None or name not in attributes or get_attribute(fetching, "on", False) \
                    or not exactly_a_frame_holder(args[0]):
                return  # (the hook's own read, below; or an object of the submission's own making)
            fetching.on = True
            try:
                frame = get_attribute(args[0], name, None)
            finally:
                fetching.on = False
            if frame is not None and name != "tb_frame":
                # A generator's or coroutine's frame that can still run: each time it resumes, its
                # callers are whoever resumed it, and a red team's, read before it first ran, was
                # resumed by a callback run inside this hook and walked up to `send` (rt132).
                send(f"read a frame ({name}) of a generator or coroutine that can still run")
                raise refused("graded code may not read the frame of a generator or coroutine that can still run")
            refuse_canary(frame, name)
        elif event == "sys.addaudithook":
            # A hook of the submission's runs wherever an event is raised, the canary's own
            # functions included, and a generator it resumes there walks up to the secret:
            # recorded, and not added (CPython drops a hook that an existing one raises an
            # Exception for, silently).
            send(event)
            raise refused("graded code may not add audit hooks")
        elif event.startswith(watched):
            send(event)

    own_code = tuple(function.__code__ for function in (hook, audit, send, absolute, text, exactly_a_frame_holder,
                                                        opened_memory, refuse_canary))
    own_globals = hook.__globals__
    return hook
