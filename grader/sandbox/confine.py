"""Confinement the child applies to itself after importing torch and before loading student code.

Layers, since none is enough alone, each skipped with a note where the OS lacks it:
  - an unprivileged uid (when the grader runs as root, as on Gradescope);
  - Landlock: reads only where Python, torch and the grader live; writes only in the temporary
    directory; no TCP bind or connect; no signals to processes outside the sandbox;
  - seccomp: no new processes (threads are fine), no exec, no network sockets, no ptrace;
  - an audit hook that records what the submission tried, for a TA to review (a net, not a wall).
The pid and network namespaces are entered before Python starts (session.py wraps the command).
"""

from __future__ import annotations

import ctypes
import errno
import os
import site
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOBODY = 65534
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # same on x86-64 and arm64

# Landlock access rights by the ABI that introduced them.
_FS_READ = 1 << 0 | 1 << 2 | 1 << 3  # execute, read file, read dir
_FS_WRITE_V1 = 1 << 1 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_TCP = 1 << 0 | 1 << 1  # bind, connect
_SCOPE = 1 << 0 | 1 << 1  # abstract unix sockets, signals
_SYSTEM_READS = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", "/opt")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def apply(workdir: Path, record_fd: int, skip: frozenset[str] = frozenset(),
          busy: Callable[[], bool] = lambda: False) -> list[str]:
    """Confine this process for good; return the layers that are now active. `skip` names layers to
    leave off (uid, landlock, seccomp), only to test that each of the others holds on its own."""
    active = []
    if _no_new_privileges():
        active.append("no-new-privileges")
    reachable = all(_world_readable(r) for r in (sys.base_prefix, sys.prefix))
    if "uid" not in skip and os.geteuid() == 0 and reachable and _drop_to_nobody():
        active.append(f"uid {NOBODY}")
    layers: tuple[tuple[str, Callable[[], str]], ...] = (("landlock", lambda: _landlock(workdir)),
                                                          ("seccomp", _seccomp))
    for name, layer in layers:
        applied = "" if name in skip else layer()
        if applied:
            active.append(applied)
    sys.addaudithook(_auditor(workdir, record_fd, busy))
    active.append("audit hook")
    return active


def _no_new_privileges() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def _world_readable(path: str) -> bool:
    """Whether another user can reach `path`: if not (Python installed under /root, say), dropping to
    nobody would break every later import, so that layer is skipped."""
    current = Path(path).resolve()
    return all(p.stat().st_mode & 0o005 == 0o005 for p in (current, *current.parents))


def _drop_to_nobody() -> bool:
    import resource
    import signal

    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    except OSError:  # root only inside a user namespace, where nobody is not mapped
        return False
    # Changing uid clears the parent-death signal; set it again so the child still dies with the
    # process that holds its pid namespace.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # Counts threads too; seccomp already forbids new processes, this bounds a thread spree.
    resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
    return True


def _readable_roots(workdir: Path) -> list[str]:
    import grader

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(grader.__file__).parent),
             *site.getsitepackages(), *_SYSTEM_READS}
    return sorted(r for r in roots if os.path.isdir(r) and not str(workdir).startswith(r + os.sep))


def _landlock(workdir: Path) -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(_SYS_LANDLOCK["create_ruleset"], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return ""
    write = _FS_WRITE_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    device = _FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(_FS_READ | write | device, _NET_TCP if abi >= 4 else 0, _SCOPE if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return ""
    try:
        rules = [(root, _FS_READ) for root in _readable_roots(workdir)]
        dev_access = _FS_READ | (1 << 1) | (_FS_TRUNCATE if abi >= 3 else 0) | device  # /dev/null, GPUs
        rules += [("/dev", dev_access), (str(workdir), _FS_READ | write)]
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


def _seccomp() -> str:
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        denied = seccomp.ERRNO(errno.EPERM)
        for name in ("fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
                     "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "keyctl"):
            rules.add_rule(denied, name)
        # New processes are clones without CLONE_THREAD; threads stay allowed. clone3 hides its
        # flags in memory a filter cannot read, so it answers ENOSYS and glibc falls back to clone.
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, 0x10000, 0))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, 1))  # AF_UNIX only
        rules.load()
    except Exception:  # noqa: BLE001 - no libseccomp here: the layer is simply not active
        return ""
    return "seccomp (no fork, exec, network sockets, ptrace)"


_WATCHED = ("socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.posix_spawn", "os.kill", "os.killpg",
            "gc.get_objects", "gc.get_referrers", "gc.get_referents", "ctypes.", "os.setuid", "sys.settrace",
            "sys.setprofile", "sys.addaudithook", "sys.remote_exec", "grader.canary")
# Ways to a frame. The harness's frames hold nothing secret (sandbox/canary.py), so these matter only
# while the secret's formula runs, where a garbage collector callback or a __del__ could look.
_FRAME_EVENTS = ("sys._getframe", "sys._current_frames")
_FRAME_ATTRIBUTES = ("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back")
TAMPERED = 73  # the child's exit status when its record channel was closed or replaced
_MAX_EVENTS = 50


def _auditor(workdir: Path, record_fd: int, busy: Callable[[], bool]) -> Callable[[str, tuple[Any, ...]], None]:
    """Record, for a TA, attempts that the layers above stop or that could reach the grader's
    secrets. Each event goes to the parent the moment it happens, before the operation it audits
    runs, so nothing the submission does afterwards can take it back. The hook uses only what it
    captured now: a submission that patches os, sys or the grader's modules later changes nothing
    here. A record channel closed or replaced (checked by its inode before each write) ends the
    child with status TAMPERED, which the parent reports."""
    root = str(workdir)
    write, fstat, exit_now, abspath = os.write, os.fstat, os._exit, os.path.abspath
    inode = fstat(record_fd).st_ino
    sent: set[str] = set()
    watched, attributes, frame_events = _WATCHED, _FRAME_ATTRIBUTES, _FRAME_EVENTS
    devnull, mems = os.devnull, ("/mem", "/maps", "/pagemap")
    # Builtins too: a submission may rebind builtins.str or builtins.isinstance.
    text_of, is_a, size, some = str, isinstance, len, any

    def send(text: str) -> None:
        if text in sent or size(sent) >= _MAX_EVENTS:
            return
        sent.add(text)
        try:
            if fstat(record_fd).st_ino != inode:
                exit_now(TAMPERED)
            write(record_fd, text.encode("utf-8", "replace")[:300] + b"\n")
        except OSError:
            exit_now(TAMPERED)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "import" and args and is_a(args[0], text_of) and args[0].startswith("grader"):
            send("imported " + args[0])
        elif event == "open" and args and is_a(args[0], text_of) and args[0].startswith("/proc/") \
                and args[0].endswith(mems):
            send("opened " + args[0])
        elif event == "open" and size(args) > 1 and is_a(args[1], text_of) and some(c in args[1] for c in "wax+"):
            path = abspath(text_of(args[0]))
            if not path.startswith(root) and path != devnull:
                send(f"opened {path} for writing")
        elif event in frame_events and busy():
            send(event + " while the canary's secret was in use")
        elif event == "object.__getattr__" and size(args) > 1 and args[1] in attributes and busy():
            send(f"read a frame ({args[1]}) while the canary's secret was in use")
        elif event.startswith(watched):
            send(event)

    return hook
