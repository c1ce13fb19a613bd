"""A warm parent for sandbox children: a process that imports torch once and forks a child per
submission, so a child starts in milliseconds instead of the 1.5 s a fresh `import torch` costs.

Two sides live here. `Zygote` is the grader's handle (it never imports torch). `main` runs in the
zygote process: it imports torch with one thread and warms up everything a child uses lazily
(autograd, torch.func, forward AD, the dispatch-mode machinery; torch's compiler stack, and
matplotlib's pyplot, only once a submission needs them), then waits for spawn requests.

The zygote is trusted code that never runs a student's file and never reads anything a child sends.
Per request it forks once: where it may make namespaces (root, or CAP_SYS_ADMIN), it first asks for a
new pid namespace for its next child, so the sandbox child is born process 1 of its own pid namespace,
as under `unshare --pid --fork --kill-child`, and enters new network, mount, IPC and UTS namespaces itself;
the zygote reaps it. Elsewhere (an unprivileged grader, which needs a user namespace first) the fork
is a "holder" that drops into the namespaces and forks the child, waits for it and dies the same way.
Forking a process with torch loaded costs milliseconds of kernel time (copying its page tables, then
tearing them down), so one fork instead of two is worth having. The child gets only its six channels
(request, reply, record, the oracle's, stdout, stderr, passed over SCM_RIGHTS) and its directory; the zygote's
control socket is closed before any student code runs. CUDA is never initialised in the zygote,
only in a child.

One zygote can serve several grader processes (a batch's workers: `shares`), each over a socket
pair of its own made before any of them started, so no sandbox child ever holds an end of one: they
share its warm-up (2 s of CPU and 70 MB more for torch's compiler stack) and its memory. It ends when
the last of them hangs up.

Control messages are JSON over a SOCK_SEQPACKET socket pair (one datagram per message):
  grader -> zygote  {"op": "spawn", "workdir", "env", "namespaces", "cgroup", "extras", "uid"} + 6 fds
  zygote -> grader  {"event": "ready"} once; {"event": "spawned", "pid"} + the child's pidfd;
                    {"event": "exited", "pid", "code"}
where "code" follows subprocess's convention (negative: killed by that signal). The grader kills a child
only through its pidfd, opened by the zygote before it could reap the child: once reaped, a pid is the
kernel's to give again, and a red team's child wound the pid counter round so that its own pid went
to the next student's child just as its grader killed it by number.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import functools
import gc
import io
import json
import os
import resource
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.sandbox import gpus

MAX_MESSAGE = 1 << 16
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = f"import sys; sys.path.insert(0, {_ROOT!r}); from grader.sandbox.zygote import main; main(sys.argv)"

_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
# Its own System V IPC and POSIX message queues (a segment outlives its maker and would be the next
# child's to read, and the host's memory) and its own host name.
_CLONE_NEWIPC, _CLONE_NEWUTS = 0x08000000, 0x04000000
_PRIVATE = _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWUTS  # entered with the pid namespace
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
NAMESPACES_LAYER = "pid, network, mount, IPC and UTS namespaces"


class ZygoteGone(Exception):
    """The zygote process ended or stopped answering; the caller may start a new one."""


class ZygoteLost(ZygoteGone):
    """The zygote took a spawn request, with its descriptors, and ended or stopped answering before it said what it
    forked: a child it forked may hold them, and may have written on them already, so they must not be given to
    another child (a child started afresh on them read a forked one's hello for its own set-up's answer, under load:
    "no sandbox layers where they were due", where every child runs as nobody without Landlock)."""


class ZygoteStalled(ZygoteLost):
    """A zygote this process may not kill (a batch's shared one) took a spawn request and did not
    answer it: it may still fork a child on the descriptors it was sent."""


class Zygote:
    """The grader's handle on one zygote process. Not shared between threads."""

    def __init__(self, env: dict[str, str], start_timeout: float = 120.0, wait: bool = True,
                 shares: int = 0) -> None:
        """Start a zygote. With `shares`, it also serves that many other processes: hand each one
        socket of `shared` (it calls Zygote.attach); this handle keeps it alive meanwhile."""
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(shares)]
        self.shared = [ours for ours, _ in pairs]
        ends = [theirs.fileno(), *(end.fileno() for _, end in pairs)]
        # PDEATHSIG follows the thread that starts the zygote: only a main thread lives as long as
        # its process (a batch worker's does; a Dask worker's task thread may not).
        parent = str(os.getpid()) if threading.current_thread() is threading.main_thread() else "0"
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            # (The GPUs are counted here, in the grader: the zygote may not ask, see warm_up.)
            [sys.executable, "-I", "-u", "-c", _BOOTSTRAP, ",".join(map(str, ends)), parent, str(gpus.visible())],
            pass_fds=ends, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            env=env, cwd="/", start_new_session=True,
        )
        for end in (theirs, *(end for _, end in pairs)):
            end.close()
        self._setup(start_timeout)
        if wait:
            self.ready()

    @classmethod
    def attach(cls, control: socket.socket, start_timeout: float = 120.0) -> Zygote:
        """A handle on a zygote another process started, over one of its `shared` sockets."""
        handle = cls.__new__(cls)
        handle._socket, handle.shared, handle.process = control, [], None
        handle._setup(start_timeout)
        return handle

    def _setup(self, start_timeout: float) -> None:
        self._gone = False
        self._exited: dict[int, int] = {}
        self._forgotten: set[int] = set()  # children whose exit nobody will ask about
        self._lock = threading.Lock()
        self._start_timeout = start_timeout
        self._ready = False

    def ready(self) -> None:
        """Wait until the zygote has warmed up (it was started with `wait=False`, so that its caller
        could do something else meanwhile); ZygoteGone or TimeoutExpired if it did not."""
        if not self._ready:
            if self._next(self._start_timeout).get("event") != "ready":
                raise ZygoteGone("the zygote did not start")
            self._ready = True

    def spawn(self, workdir: Path, env: dict[str, str], fds: tuple[int, ...], namespaces: bool,
              cgroup: tuple[str, ...] = (), extras: tuple[str, ...] = (), uid: int = 0) -> ForkedChild:
        """Fork a sandbox child in `workdir` with fds (request read, reply write, record write, the
        oracle's socket, stdout, stderr). The child joins the cgroup whose cgroup.procs files are given. With
        `extras` (EXTRAS' names) the zygote first takes those on, if it has not yet (seconds).
        With `uid` (workdir's owner, not root) a fork that needs a user namespace drops to it first."""
        message = json.dumps({"op": "spawn", "workdir": str(workdir), "env": env, "namespaces": namespaces,
                              "cgroup": list(cgroup), "extras": list(extras), "uid": uid}).encode()
        with self._lock:
            self.ready()
            try:
                self._socket.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            except OSError as err:
                raise ZygoteGone(f"the zygote is gone: {err}") from None
            try:
                while True:
                    reply = self._next(30.0)
                    if reply.get("event") == "spawned":
                        return ForkedChild(int(reply["pid"]), self, reply.get("pidfd"))
            except subprocess.TimeoutExpired:
                self._gone = True  # a zygote that stops answering is replaced, not waited for
                if self.process is None:  # another process's (a batch's shared one): not ours to kill
                    raise ZygoteStalled("the zygote did not answer a spawn request within 30 s") from None
                self.process.kill()
                raise ZygoteLost("the zygote did not answer a spawn request") from None
            except ZygoteGone as gone:
                raise ZygoteLost(str(gone)) from None

    def wait(self, pid: int, timeout: float | None) -> int:
        """The exit code of a child this zygote spawned (negative: killed by that signal)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while pid not in self._exited:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(f"sandbox child {pid}", timeout or 0)
                try:
                    self._next(left)
                except ZygoteGone:
                    # The holder dies with the zygote (PDEATHSIG), and the child with the holder:
                    # the grader's loss, not the submission's (rt144's SIGKILL of a batch's zygote
                    # was two honest students' "crash", kept on the rerun).
                    raise ZygoteGone(f"the zygote ended while sandbox child {pid} was running: it ended "
                                     "with it") from None
            return self._exited.pop(pid)

    def forget(self, pid: int) -> None:
        """Nobody will wait for this child (it was killed after its work was done): drop its exit
        report, now or when it comes, so that they do not pile up in a long batch."""
        with self._lock:
            if self._exited.pop(pid, None) is None:
                self._forgotten.add(pid)

    def alive(self) -> bool:
        return not self._gone and (self.process is None or self.process.poll() is None)

    def close(self, wait_s: float = 5.0) -> None:
        """Hang up (the zygote exits when the last of its control sockets does); wait for it if this
        handle started it, and kill it after `wait_s` (one still importing torch hears nothing until
        it is done: a batch stopped as it started took 5 s to end)."""
        for control in (self._socket, *self.shared):
            control.close()
        if self.process is None:
            return
        try:
            self.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _next(self, timeout: float | None) -> dict[str, Any]:
        """The next control message, recording exits on the way; TimeoutExpired or ZygoteGone."""
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired("zygote", timeout or 0)
        try:
            data, fds = _receive(self._socket)
        except OSError:
            data, fds = b"", []
        if not data:
            self._gone = True
            raise ZygoteGone("the zygote ended")
        message = json.loads(data)
        if message.get("event") == "spawned" and fds:
            message["pidfd"] = fds.pop(0)
        for fd in fds:
            os.close(fd)
        if message.get("event") == "exited":
            pid = int(message["pid"])
            if pid in self._forgotten:
                self._forgotten.discard(pid)
            else:
                self._exited[pid] = int(message["code"])
        return dict(message)


class ForkedChild:
    """A sandbox child born of a zygote, with the part of subprocess.Popen's face that Session uses."""

    def __init__(self, pid: int, zygote: Zygote, pidfd: int | None = None) -> None:
        self.pid = pid
        self._zygote = zygote
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._lock = threading.Lock()  # the folder watch's thread kills too
        self._released = False

    def kill(self) -> None:
        """SIGKILL, through the pidfd: this child and only it, whether or not the zygote has reaped
        it (a holder's child dies with it). Never through the bare pid, which the zygote may have
        reaped and the kernel given to another student's child (see the module's docstring): on
        kernels before 5.3, which have no pidfd, its process group, while the zygote has not said
        it ended."""
        with self._lock:
            if self._released:
                return
            if self._pidfd is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            elif self.returncode is None and self.pid not in self._zygote._exited:
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)

    def release(self) -> None:
        """No more signals: the pidfd is closed."""
        with self._lock:
            self._released = True
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.wait(self.pid, timeout)
        return self.returncode

    def forget(self) -> None:
        if self.returncode is None:
            self._zygote.forget(self.pid)


# ---- the zygote process -------------------------------------------------------------------------

def main(argv: list[str]) -> None:
    controls = [socket.socket(fileno=int(fd)) for fd in argv[1].split(",")]
    if argv[2:] and argv[2] != "0":
        # Die with the grader process that started us, even while importing torch below (a dead
        # grader is otherwise noticed when the control socket closes, in the loop).
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(argv[2]):
            return
    started = time.perf_counter()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # nor its forks (a holder re-raises its child's signal)
    _NOBODY_MAY_NEST[0] = _nobody_may_make_user_namespaces()  # before torch: a fork of a small process
    _ALL_OR_NO_PID_NAMESPACE[0] = _every_namespace_or_no_pid_namespace()  # (likewise)
    _GPUS[0] = int(argv[3]) if argv[3:] else 0
    import torch

    # One thread before any op: a child forked after a multi-threaded op would deadlock in OpenMP.
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    warm_up(torch, QUICK)
    # Everything imported so far is shared with every child copy-on-write; a garbage collection in
    # a child would write to every object's header and copy nearly all of it. Frozen objects are
    # never collected, so a child copies only what it really changes. (Not collected first: 0.1 s
    # for a few hundred objects of garbage. The rest of the warm-up waits for idle moments after
    # "ready": see _later.)
    gc.freeze()
    warm_s = time.perf_counter() - started
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select() through the wakeup fd
    libc = ctypes.CDLL(None, use_errno=True)
    own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    for control in controls:
        _tell(control, {"event": "ready", "warm_s": warm_s})
    children: dict[int, socket.socket] = {}  # each child's pid, and whose request it was
    taken: set[str] = set()  # the EXTRAS taken on
    later = _later(torch, libc, LATER)
    while controls:  # until the last grader hangs up (or dies)
        # A step of the warm-up that only makes children faster, when no child is alive: memory it
        # writes or moves (a collection, folding) would otherwise stop being shared with one.
        idle = _IDLE if later and not children else None
        readable, _, _ = select.select([*(c.fileno() for c in controls), wake_read], [], [], idle)
        if not readable and later and not children:
            later.pop(0)()
            continue
        if wake_read in readable:
            os.read(wake_read, 4096)
        _reap(children)
        for control in [c for c in controls if c.fileno() in readable]:
            try:
                data, fds = _receive(control)
            except OSError:
                data, fds = b"", []
            if not data:
                controls.remove(control)  # that grader hung up
                control.close()
                continue
            request = json.loads(data)
            taking = [extra for extra in EXTRAS if extra in request.get("extras", ()) and extra not in taken]
            for extra in taking:
                EXTRAS[extra](torch)  # from now on every child has it
                taken.add(extra)
            if taking:  # one collection and folding for all of them, in idle moments
                later += _later(torch, libc, ())
            keep_closed = (*(c.fileno() for c in controls), wake_read, wake_write, own_pid_namespace)
            pid = _fork_child(torch, libc, request, fds, keep_closed, own_pid_namespace)
            for fd in fds:
                os.close(fd)
            children[pid] = control
            pidfd = _pidfd(pid)  # before it can be reaped: the pid is still this child's
            _tell(control, {"event": "spawned", "pid": pid}, () if pidfd is None else (pidfd,))
            if pidfd is not None:
                os.close(pidfd)


def _tell(control: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """One control message; a grader that is gone is not waited for (its hang-up is seen next)."""
    with contextlib.suppress(OSError):
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        control.sendmsg([json.dumps(message).encode()], ancillary)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):  # a kernel before 5.3
        return None


def _fork_child(torch: Any, libc: Any, request: dict[str, Any], fds: list[int], keep_closed: tuple[int, ...],
                own_pid_namespace: int) -> int:
    """Fork the sandbox child (or its holder, where this process may not make namespaces); its pid."""
    if request.get("namespaces") and not _ALL_OR_NO_PID_NAMESPACE[0]:
        request = {**request, "namespaces": False}  # (as `grader check` then runs: none at all)
    direct = not request.get("namespaces") or libc.unshare(_CLONE_NEWPID) == 0
    try:
        pid = os.fork()
        if pid == 0:
            if direct:
                _start_child(torch, libc, request, fds, keep_closed)
            _hold(torch, request, fds, keep_closed)
    finally:
        # The next child gets a pid namespace of its own again, or none: back to ours for children.
        if direct and request.get("namespaces") and libc.setns(own_pid_namespace, _CLONE_NEWPID) != 0:
            os._exit(71)  # it would put every later child in this one's namespace: a new zygote is started
    return pid


def _leave_the_zygote(libc: Any, request: dict[str, Any], keep_closed: tuple[int, ...]) -> None:
    """In a fork of the zygote: die with it, a process group of its own, none of its descriptors or
    signal handling, and the child's cgroup joined (so the child it is or forks is in it too)."""
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote's death takes this process along
    os.setsid()  # a group of its own: the grader kills the whole group
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in keep_closed:
        os.close(fd)
    for procs in request.get("cgroup", ()):
        Path(procs).write_text("0")  # this process, and so any child it forks


def _start_child(torch: Any, libc: Any, request: dict[str, Any], fds: list[int], keep_closed: tuple[int, ...]) -> None:
    """In the zygote's fork that is the sandbox child itself (process 1 of a new pid namespace when
    namespaces were asked for): enter new network, mount, IPC and UTS namespaces, then become the child."""
    try:
        _leave_the_zygote(libc, request, keep_closed)
        entered = bool(request.get("namespaces")) and libc.unshare(_PRIVATE) == 0
    except BaseException:  # noqa: BLE001 - a fork of the zygote must never return into its loop
        os._exit(71)
    if request.get("namespaces") and not entered:
        # Process 1 of a pid namespace of its own, the host's mounts and /proc still its: confinement takes
        # process 1 for the owner of its mount namespace (confine.apply), so it never runs so (rt173).
        os._exit(_NO_NAMESPACES)
    _become_child(torch, libc, request, fds, entered)


def _reap(children: dict[int, socket.socket]) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _tell(children.pop(pid), {"event": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _receive(control: socket.socket) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    data, ancillary, _, _ = control.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(6 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def _hold(torch: Any, request: dict[str, Any], fds: list[int], keep_closed: tuple[int, ...]) -> None:
    """In the fork, where the zygote may not make namespaces itself: enter them (in a user namespace
    of its own), fork the sandbox child, wait for it and die as it did."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _leave_the_zygote(libc, request, keep_closed)
        uid = request.get("uid")
        entered = request.get("namespaces") and _unshare(libc, uid if isinstance(uid, int) else 0)
        pid = os.fork()
        if pid == 0:
            _become_child(torch, libc, request, fds, bool(entered))
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            if os.WTERMSIG(status) not in (signal.SIGKILL, signal.SIGSTOP):  # (those have no handler to reset:
                signal.signal(os.WTERMSIG(status), signal.SIG_DFL)  # rt173's SIGKILL was told as "status 71")
            os.kill(os.getpid(), os.WTERMSIG(status))
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    except BaseException:  # noqa: BLE001 - a fork of the zygote must never return into its loop
        os._exit(71)


def _nobody_may_make_user_namespaces() -> bool:
    """Whether nobody may make a user namespace here (not in a container whose seccomp profile
    refuses them, nor where only root may): asked once, in a throwaway fork that becomes nobody."""
    if os.geteuid() != 0:
        return False
    from grader.sandbox.confine import NOBODY, drop_to

    pid = os.fork()
    if pid == 0:
        code = 1
        with contextlib.suppress(BaseException):
            if drop_to(NOBODY, limit=False):  # the same steps as the fork that would make one
                code = 0 if ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWUSER) == 0 else 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


_NOBODY_MAY_NEST = [False]  # set once by main, before any fork: see _nobody_may_make_user_namespaces
_ALL_OR_NO_PID_NAMESPACE = [True]  # likewise: see _every_namespace_or_no_pid_namespace
_NO_NAMESPACES = 72  # a child's exit status where its namespaces could not all be made after all


def _every_namespace_or_no_pid_namespace() -> bool:
    """Whether a fork of this process that may make a pid namespace may also make, in it, the network,
    mount, IPC and UTS namespaces and the /proc of its own that the child needs (True where it may make
    no pid namespace: that path makes them all at once, or none). Where one kind is refused and the pid
    namespace is not (systemd's RestrictNamespaces=, a kernel without network namespaces, Docker's
    AppArmor profile refusing mount), rt173's children were process 1 of a namespace with the host's
    /proc, confinement refused each, and a batch graded nobody while `grader check` worked. Asked once,
    in a throwaway fork; where it fails, children get no namespaces, as `grader check` then does."""
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:
        code = 1
        with contextlib.suppress(BaseException):
            if libc.unshare(_CLONE_NEWPID) != 0:
                os._exit(0)
            inner = os.fork()
            if inner == 0:
                os._exit(0 if libc.unshare(_PRIVATE) == 0 and _own_proc(libc) else 1)
            code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _own_proc(libc: Any) -> bool:
    """In a new mount namespace, as process 1 of a new pid namespace: every mount made private (none
    propagates to the host) and a /proc of this pid namespace only; whether both were made."""
    return libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) == 0 and \
        libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None) == 0


_GPUS = [0]  # the grader's count (sandbox/gpus.py), set once by main: see WITHOUT_ENGINE


def _unshare(libc: Any, child_uid: int) -> bool:
    """New pid, network, mount, IPC and UTS namespaces (in a user namespace where that is what it takes). A
    user namespace's root is whoever made it: with `child_uid` (its folder's owner), a root zygote's
    fork becomes that uid first (session.namespace_prefix says why). Where no such uid may make one
    (a container), it makes no namespaces and stays root: the child then drops to its uid itself
    once confined, so no other child can signal it while it sets itself up."""
    flags = _CLONE_NEWPID | _PRIVATE
    if libc.unshare(flags) == 0:
        return True
    dropped = bool(child_uid) and os.geteuid() == 0
    if dropped and not _NOBODY_MAY_NEST[0]:
        return False
    if dropped:
        from grader.sandbox.confine import drop_to

        if not drop_to(child_uid, limit=False):  # the child limits itself once confined (confine.py)
            return False
        # A changed uid makes a process undumpable, which gives its /proc files to root: it could
        # not write its own uid_map below. Dumpable again until the map is written.
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    uid, gid = os.getuid(), os.getgid()
    try:
        if libc.unshare(flags | _CLONE_NEWUSER) != 0:
            return False
        with contextlib.suppress(OSError):
            Path("/proc/self/setgroups").write_text("deny")
        try:
            Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
            Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
        except OSError:
            return False
        return True
    finally:
        if dropped:
            libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _become_child(torch: Any, libc: Any, request: dict[str, Any], fds: list[int], namespaces: bool) -> None:
    """Process 1 of the new pid namespace: a private /proc, the six channels, then the child's loop."""
    code = 0
    try:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # --kill-child: dies with the holder
        # A /proc of this namespace only: other processes are not even visible. Where either mount is
        # refused (rt173: Docker's AppArmor profile), process 1 would see the host's /proc, and its mounts
        # propagate; the probe at the zygote's start (_every_namespace_or_no_pid_namespace) keeps this off.
        if namespaces and not _own_proc(libc):
            os._exit(_NO_NAMESPACES)
        request_read, reply_write, record, oracle, stdout, stderr = fds
        null = os.open(os.devnull, os.O_RDONLY)
        for source, target in ((null, 0), (stdout, 1), (stderr, 2)):
            os.dup2(source, target)
        for fd in (null, stdout, stderr):
            os.close(fd)
        _streams_on_their_descriptors()
        os.chdir(request["workdir"])
        os.environ.clear()
        os.environ.update(request["env"])
        from grader.sandbox import child

        child.serve(torch, request_read, reply_write, record, oracle, 0.0,
                    (NAMESPACES_LAYER,) if namespaces else ())
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 1
    except BaseException:  # noqa: BLE001 - report on the child's stderr, which the grader keeps
        import traceback

        traceback.print_exc()
        code = 70
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
    os._exit(code)


_KEPT: list[Any] = []  # the zygote's own streams, kept: collected, each would close its descriptor (0, 1 or 2)


def _streams_on_their_descriptors() -> None:
    """sys.stdin, stdout and stderr made afresh on descriptors 0-2 as they are now, as a spawned
    child's are: the zygote's were made on its own, and knew them seekable, so that a student's
    sys.stdout.reconfigure(encoding="utf-8") (a Windows console's fix) raised "Illegal seek" on the
    pipe a batch's child writes to, 0/10, where `grader grade` gave 10 (hn123)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        with contextlib.suppress(Exception):
            old.flush()
        _KEPT.append(old)
        # Unbuffered, as `python -u` made them (a child is stopped once it has answered: what it printed
        # and kept in a buffer was lost)
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        raw.name = f"<{name}>"  # (as Python names its own: rt156 read .mode and .name)
        stream = io.TextIOWrapper(io.BufferedReader(raw) if fd == 0 else raw,
                                  encoding=getattr(old, "encoding", None) or "utf-8",
                                  errors=getattr(old, "errors", None) or "strict", write_through=fd != 0)
        stream.mode = "r" if fd == 0 else "w"  # type: ignore[misc]
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


# The kinds of autograd call the zygote runs once, so that what torch imports lazily is imported
# there and not in each child: QUICK before it says it is ready (a few milliseconds), LATER in its
# first idle moments (backward(gradient) imports sympy, for symbolic shapes: 0.3 s), COMPILER when
# a submission first needs torch's compiler stack (torch.func.grad and jacrev import torch._dynamo,
# and so does forward AD through the canary's graph: 1.2 s and 70 MB, which every later child's
# fork copies the page tables of). Batch grades the submissions that look as if they need it last;
# a child that needs something not yet warmed up imports it itself, which is only slower.
QUICK, LATER, COMPILER = ("backward", "grad", "func", "functional"), ("seeded",), ("compiled", "forward")
# The kinds that never run autograd's engine (a backward pass). Its first run counts the GPUs, which
# starts the CUDA driver, and starts a thread for each: a zygote that had done either would fork
# children in which CUDA cannot start again and torch refuses autograd altogether ("Unable to handle
# autograd's threading in combination with fork-based multiprocessing"). Where the grader counted a
# GPU and torch can use it, the zygote warms up only these, and each child starts the engine
# itself, once confined (torch.cuda is not asked here: NVML starts a thread at its first use too).
WITHOUT_ENGINE = ("func", "forward")


def _later(torch: Any, libc: Any, styles: tuple[str, ...]) -> list[Callable[[], object]]:
    """The steps for idle moments, in order: the `styles` to warm up, then a garbage collection of
    what was made since the heap was frozen (what was frozen is not even read) and freezing that
    too, then folding memory into huge pages (last, so that it covers what the steps before
    allocated)."""

    def refreeze() -> None:
        gc.collect()
        gc.freeze()

    def fold() -> None:
        steps.extend(functools.partial(_fold, libc, *chunk) for chunk in _huge_page_chunks())

    steps: list[Callable[[], object]] = [functools.partial(warm_up, torch, styles)] if styles else []
    steps += [refreeze, fold]
    return steps


def warm_up(torch: Any, styles: tuple[str, ...]) -> None:
    """Run the given kinds of autograd call (see QUICK), each in every dtype, plain and secret."""
    import numpy  # noqa: F401 - the child snapshots through numpy
    import torch.autograd.forward_ad as fwAD
    import torch.func
    from torch.overrides import TorchFunctionMode  # noqa: F401

    from grader.canary import Secret
    from grader.sandbox import canary, child, confine
    from grader.sandbox.oracle import Oracle

    # Compiled once here: a child only hands them to the kernel (each took a child 7 to 13 ms).
    confine.seccomp_program()
    confine.own_signals_program()
    confine.no_epoll_program()
    confine.no_shared_mappings_program()
    confine.last_filter_program()
    if os.geteuid() == 0 and not confine.python_readable_by_nobody():  # its children keep uid 0
        confine.read_ahead()
    if _GPUS[0] > 0 and torch.backends.cuda.is_built():
        styles = tuple(style for style in styles if style in WITHOUT_ENGINE)

    def backward(x: Any) -> Any:
        x = x.detach().requires_grad_(True)
        torch.sin(x).sum().backward()
        return x.grad

    def seeded(x: Any) -> Any:  # backward(gradient) imports sympy (for symbolic shapes): 0.3 s
        x = x.detach().requires_grad_(True)
        torch.sin(x).backward(torch.ones_like(x))
        return x.grad

    def grad(x: Any) -> Any:
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(x.sin().sum(), x, create_graph=True)[0]

    def func(x: Any) -> Any:
        return torch.func.vmap(torch.sin)(x)

    def compiled(x: Any) -> Any:
        return torch.func.vmap(torch.func.grad(torch.sin))(x) + torch.func.jacrev(torch.sin)(x).diagonal()

    def forward(x: Any) -> Any:
        with fwAD.dual_level():
            dual = fwAD.make_dual(x, torch.ones_like(x))
            tangent = fwAD.unpack_dual(torch.sin(dual)).tangent
        return tangent + torch.func.jacfwd(torch.sin)(x).diagonal()

    def functional(x: Any) -> Any:
        return torch.autograd.functional.jacobian(torch.sin, x).diagonal()

    # Each child installs its own canary (under a millisecond); the zygote runs every style under
    # one, plain and secret, then removes it, so what that imports is imported once.
    oracle = Oracle()
    oracle.start(Secret.draw())
    warm = canary.install(torch, "sin", "cos(u)", oracle.channel)
    kinds = {"backward": backward, "seeded": seeded, "grad": grad, "func": func, "compiled": compiled,
             "forward": forward, "functional": functional}
    for fn in (kinds[style] for style in styles):
        for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            x = torch.linspace(-1.0, 1.0, 5, dtype=dtype)
            # Best effort: a warm-up that fails (an op missing for a dtype, say) only costs speed.
            with contextlib.suppress(Exception):
                child.snapshot(torch, fn(x), x.numel(), [])
                warm.case(oracle.expect((False, True)))
                for _ in range(2):
                    warm.next_call()
                    fn(x)
    warm.rest()
    warm.remove()
    oracle.close()  # its thread ends before any fork


def warm_up_plotting(torch: Any) -> None:
    """matplotlib's pyplot, with the Agg backend and its font list loaded, as a child would import
    them (0.4-0.6 s a child otherwise). With an empty configuration folder of its own, as a child's
    is, and none of this process's matplotlib settings (the grader's user's matplotlibrc would
    otherwise set every child's style; this process runs in /, whose matplotlibrc only root could
    write). Fonts that a child may not read (fontconfig's, in root's home, say) are left out of the
    list, so a plot never picks one it cannot open. Best effort: where this fails, a child that
    plots imports it itself."""
    # (named for this process, as a child's folder is: one left by a zygote killed during this warm-up
    # is then removed by a later grader's sweep of dead graders' folders, rt138)
    before, folder = dict(os.environ), tempfile.mkdtemp(prefix=f"grader-{os.getpid()}-zygote-matplotlib-")
    try:
        for name in [name for name in os.environ if name.startswith(("MPL", "MATPLOTLIB"))]:
            del os.environ[name]
        os.environ.update(MPLBACKEND="Agg", MPLCONFIGDIR=folder)
        import matplotlib.pyplot  # noqa: F401
        from matplotlib import font_manager, get_data_path

        fonts = font_manager.fontManager
        shared = (os.path.join(get_data_path(), ""), "/usr/")
        fonts.ttflist = [font for font in fonts.ttflist if _readable_by_all(font.fname, shared)]
        fonts.afmlist = [font for font in fonts.afmlist if _readable_by_all(font.fname, shared)]
    except Exception:  # noqa: BLE001 - only speed is lost: a child that plots imports it itself
        pass
    finally:
        os.environ.clear()
        os.environ.update(before)
        shutil.rmtree(folder, ignore_errors=True)


def _readable_by_all(path: str, roots: tuple[str, ...]) -> bool:
    try:
        return path.startswith(roots) and bool(os.stat(path).st_mode & stat.S_IROTH)
    except OSError:
        return False


# What a spawn request may ask the zygote to take on first (submission.warm_extras): once taken,
# every later child has it.
EXTRAS: dict[str, Callable[[Any], None]] = {
    "compiler": lambda torch: warm_up(torch, COMPILER),
    "plotting": warm_up_plotting,
}


# The zygote's anonymous memory (Python's heap, torch's allocations: about 180 MB) is folded into
# 2 MiB pages where the kernel can (MADV_COLLAPSE, Linux 6.1). A fork then copies one page-table
# entry per 2 MiB instead of 512, and a child's exit tears down as few: forking and ending a child
# costs about 3 ms instead of 9. A child still copies only the 4 KiB it writes (the kernel splits a
# shared huge page on the first write). Best effort: elsewhere nothing changes. Folding is done a
# chunk at a time whenever no request has come for _IDLE seconds (it takes 0.05 to 0.5 s in all),
# so it never delays one much.
_MADV_COLLAPSE, _HUGE, _CHUNK, _IDLE = 25, 1 << 21, 16 << 20, 0.01


def _huge_page_chunks() -> list[tuple[int, int]]:
    """(start, length) of the 2 MiB-aligned stretches of this process's own anonymous memory, in
    chunks of at most _CHUNK."""
    chunks = []
    with contextlib.suppress(OSError, ValueError), open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            private, named = fields[1][1:2] == "w" and fields[1][3:4] == "p", len(fields) > 5
            if not private or (named and fields[5] != "[heap]"):
                continue  # files' own pages, the stack and the kernel's: not ours to fold
            start, end = (int(value, 16) for value in fields[0].split("-"))
            start, end = -(-start // _HUGE) * _HUGE, end // _HUGE * _HUGE
            chunks += [(at, min(_CHUNK, end - at)) for at in range(start, end, _CHUNK)]
    return chunks


def _fold(libc: Any, start: int, length: int) -> None:
    libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), _MADV_COLLAPSE)
