"""Parent side of the sandbox: start the child, talk to it under deadlines, kill it.

The child runs in its own session and process group, in a private temporary directory, with a
scrubbed environment. Its stdout and stderr are drained by threads that keep only the first
`output_kib` KiB, so a flood of prints can neither block the child nor fill the parent's memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hmac
import itertools
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, Protocol, Self, TypeVar

from grader.canary import FLOODED, FORGED_LINES, MORE_ROUTES, is_secret_route
from grader.observations import Ended
from grader.sandbox import cgroup, gpus, leftovers, protocol
from grader.sandbox.confine import (
    CHILD_UIDS,
    DISK_LAYER,
    FOLDER_MIB,
    NOBODY,
    TAMPERED,
    TMPFS_LAYER,
    python_readable_by_nobody,
    record_mac,
    skipped,
)
from grader.sandbox.folder import FolderWatch, live_threads, open_folder
from grader.sandbox.oracle import Oracle
from grader.sandbox.pause import Pauses
from grader.sandbox.threads import ThreadWatch
from grader.sandbox.zygote import NAMESPACES_LAYER, ForkedChild, Zygote, ZygoteGone, ZygoteLost
from grader.submission import warm_extras

T = TypeVar("T")
_ROOT = str(Path(__file__).resolve().parents[2])
# -I ignores PYTHON* variables and the user's site; the bootstrap adds only the grader itself.
_BOOTSTRAP = f"import sys; sys.path.insert(0, {_ROOT!r}); from grader.sandbox.child import main; main(sys.argv)"
MAX_EVENTS = 50  # distinct audit events kept per submission
# A fresh child joins its cgroup before anything runs: the shell writes its own pid, then execs.
_JOIN = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


class SessionEnded(Exception):
    def __init__(self, ended: Ended) -> None:
        super().__init__(ended.detail)
        self.ended = ended


STREAM_WAIT_S = 0.01  # a stream's wait after a short read (protocol.DRIP_BYTES), while the child runs


def _chunks(pipe: Any, hurry: threading.Event) -> Iterator[bytes]:
    """What comes down a pipe, 64 KiB at most a read, until its end. After a short read it waits
    STREAM_WAIT_S for more to gather, until `hurry` is set (the child has ended): a red team's child
    writing a byte a write cost a read each (81 MB of output, 60 s of the grader's CPU; 4 MiB of
    record, 10 s of checking); a fast writer fills the pipe meanwhile and is read 64 KiB at a time."""
    while chunk := pipe.read1(1 << 16):
        yield chunk
        if len(chunk) < protocol.DRIP_BYTES:
            hurry.wait(STREAM_WAIT_S)


STREAM_PIPE_BYTES = 1 << 20


def _roomy(fd: int) -> None:
    """A pipe of the child's output made STREAM_PIPE_BYTES long, from the grader's end (the child may
    not resize a pipe: confine.py): a fast writer fills it while the drain waits after a short read
    (_chunks), and at the default 64 KiB the wait was the printing's pace, 11 MiB/s (ux127's 80 MB
    printed a call ran out of time). Where it cannot be, it stays as it was."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, STREAM_PIPE_BYTES)


class CapturedStream:
    """Drains a pipe, keeping the first `limit` bytes and counting the rest, up to MAX_BYTES: then
    the grader stops reading and closes its end, so the child's next write fails (BrokenPipeError in
    Python). Each byte read costs the grader a copy: a red team's child, tee(2)-ing one pipe's
    64 KiB into its stdout and stderr in a loop, had the grader read 400 GB in a minute for a score
    of 10, 65 s of a core that no limit of the child's counts. A GiB costs it about 0.2 s."""

    MAX_BYTES = 1 << 30
    STOPPED = f"[the grader stopped reading here: more than {MAX_BYTES >> 30} GiB was printed]"

    def __init__(self, pipe: Any, limit: int) -> None:
        self.kept = bytearray()
        self.total = 0
        self.flooded = False
        self._limit = limit
        self._hurry = threading.Event()  # set once the rest is wanted now: no more waits after short reads
        self._thread = threading.Thread(target=self._drain, args=(pipe, limit), daemon=True)
        self._thread.start()

    def _drain(self, pipe: Any, limit: int) -> None:
        with pipe:
            for chunk in _chunks(pipe, self._hurry):
                self.total += len(chunk)
                if len(self.kept) < limit:
                    self.kept += chunk[: limit - len(self.kept)]
                if self.total > self.MAX_BYTES:
                    self.flooded = True
                    return

    def text(self, wait: float) -> tuple[str, int]:
        self._hurry.set()  # (the child has ended: what is left, at once)
        self._thread.join(wait)
        if not self.flooded:
            return self.kept.decode("utf-8", errors="replace"), self.total
        # Within what is kept, so that the words survive the cut to the limit (grade.py).
        room = max(0, self._limit - len(self.STOPPED) - 64)
        return self.kept[:room].decode("utf-8", errors="replace") + "\n" + self.STOPPED, self.total


class RecordStream:
    """Drains the audit record as it comes. Keeps the lines whose keyed hash checks out: the first
    MAX_EVENTS distinct ways towards the secret (and a line saying there were more), and the first
    MAX_EVENTS distinct ordinary events; counts the others as forged. A line is at most 300 bytes
    and its hash, so no more than that is ever held: a flood of lines, signed or forged, or one
    endless line, displaces nothing (an event's text is partly the submission's choice: sys.audit
    raises any event it names). Every forged line is itself a way towards the secret on the record:
    the hook begins each line it writes with a newline, so a byte written before it (which made a
    red team's every heap search a forged line, and none on the record) stands apart, and nothing
    but the submission writes anything else. Past MAX_LINES lines or MAX_BYTES, the grader stops
    reading and closes its end: a line costs about a microsecond of this thread's CPU to check, and
    a red team's child, writing
    64 KiB of newlines a call, had the grader check 42 million lines (51 s of a core, which no limit
    of the child's counts) for a score of 10; counting them unchecked still cost a core as long as
    the child wrote. The child's next write then fails, and the next event its hook records ends
    it (confine.py). The flood is on the record as a way towards the secret, for a TA to look at."""

    LINE = 400
    # An honest record is at most two hundred or so lines (confine.py's hook writes each distinct
    # event once, 50 of each kind at most, each after an empty line); checking this many costs the
    # grader about 0.1 s.
    MAX_LINES = 100_000
    MAX_BYTES = 4 << 20  # (and some 40 KB)

    def __init__(self, pipe: Any, key: bytes) -> None:
        self.events: dict[str, None] = {}
        self.forged = 0
        self.flooded = False  # more than MAX_LINES lines or MAX_BYTES came
        self._kept = [0, 0]  # distinct ordinary events, distinct ways towards the secret
        self._more_routes = False
        self._hurry = threading.Event()  # set once the rest is wanted now: no more waits after short reads
        self._thread = threading.Thread(target=self._drain, args=(pipe, key), daemon=True)
        self._thread.start()

    def _drain(self, pipe: Any, key: bytes) -> None:
        line, overlong, lines, size = bytearray(), False, 0, 0
        with pipe:  # (closed past the limits: the child's next write fails, and its hook ends it)
            for chunk in _chunks(pipe, self._hurry):
                size += len(chunk)
                if size > self.MAX_BYTES:  # (one endless line, checked by no newline, cost a core too)
                    self.flooded = True
                    return
                start = 0
                while (end := chunk.find(b"\n", start)) >= 0:
                    if lines == self.MAX_LINES:
                        self.flooded = True
                        return
                    lines += 1
                    if overlong or len(line) + end - start > self.LINE:
                        self.forged += 1
                    elif line or end > start:  # (an empty line is the hook's separator: confine.py)
                        line += chunk[start:end]
                        self._take(bytes(line), key)
                    line, overlong, start = bytearray(), False, end + 1
                rest = chunk[start:]
                overlong = overlong or len(line) + len(rest) > self.LINE
                if not overlong:
                    line += rest
        if line or overlong:
            self.forged += 1  # a last line without its end

    def _take(self, line: bytes, key: bytes) -> None:
        data, _, mac = line.rpartition(b" ")
        if not hmac.compare_digest(mac, record_mac(data, key)):
            self.forged += 1
            return
        event = data.decode("utf-8", "replace")
        if event in self.events:
            return
        kind = 1 if is_secret_route(event) else 0
        if self._kept[kind] >= MAX_EVENTS:
            self._more_routes = self._more_routes or kind == 1
            return
        self._kept[kind] += 1
        self.events[event] = None

    def recorded(self, wait: float) -> tuple[tuple[str, ...], int]:
        self._hurry.set()  # (the child has ended: what is left, at once)
        self._thread.join(wait)
        more: tuple[str, ...] = (f"{MORE_ROUTES} than the {MAX_EVENTS} kept",) if self._more_routes else ()
        if self.flooded:
            more += (f"{FLOODED} channel with more than {self.MAX_LINES:,} lines or {self.MAX_BYTES >> 20} MiB: the "
                     "grader stopped reading it",)
        return (*self.events, *more), self.forged


class Conversation(Protocol):
    """What probe and grade need of a running submission: a sandbox Session, or in one place the
    in-process runner (sandbox/inprocess.py)."""

    path: Path
    package: str  # the package of the student's the file is imported as a module of ("": none)
    skip: frozenset[str]
    record_key: bytes  # what the child's audit hook signs its record with
    oracle: Oracle  # where the canary's secret lives, answering the child's kernel
    outer_layers: tuple[str, ...]
    gpus: int  # the GPUs CUDA shows this machine's children, counted by the grader (gpus.py)
    memory_counted: bool  # whether a cgroup counts the child's memory, shared memory too (cgroup.py)
    ended: Ended | None

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None: ...

    def receive(self, timeout: float, doing: str) -> tuple[dict[str, Any], bytes]: ...

    def request(self, header: dict[str, Any], payload: bytes, timeout: float, doing: str,
                parse: Callable[[dict[str, Any], bytes], T]) -> T: ...

    def reply(self, timeout: float, doing: str, parse: Callable[[dict[str, Any], bytes], T]) -> T: ...

    def close(self) -> None: ...

    def output(self) -> tuple[str, int, str, int]: ...

    def events(self) -> tuple[str, ...]: ...


class Requests:
    """request and reply (and use as a context manager), on top of a class's send, receive, _end
    and close: shared by Session and the in-process runner, so a malformed reply ends either the
    same way."""

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        raise NotImplementedError

    def receive(self, timeout: float, doing: str) -> tuple[dict[str, Any], bytes]:
        raise NotImplementedError

    def _end(self, ended: Ended) -> NoReturn:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, header: dict[str, Any], payload: bytes, timeout: float, doing: str,
                parse: Callable[[dict[str, Any], bytes], T]) -> T:
        """Send one request and parse its reply; a reply that does not parse ends the session."""
        self.send(header, payload)
        return self.reply(timeout, doing, parse)

    def reply(self, timeout: float, doing: str, parse: Callable[[dict[str, Any], bytes], T]) -> T:
        """Receive the next reply and parse it; a reply that does not parse ends the session."""
        reply, data = self.receive(timeout, doing)
        try:
            return parse(reply, data)
        except (protocol.ProtocolError, KeyError, TypeError, ValueError) as err:
            self._end(Ended("protocol", f"sent back something malformed: {err}"))


class Session(Requests):
    """One child process running one submission (open it with sandbox.open_session). Use as a
    context manager.

    The child is forked from `zygote` when one is given (milliseconds), or else started afresh
    under `unshare` (it then imports torch itself, about 1.5 s). With `memory_gib` the child gets a
    cgroup of its own where the host allows (see cgroup.py)."""

    def __init__(self, source: Path, output_kib: int, zygote: Zygote | None = None,
                 content: bytes | None = None, memory_gib: float | None = None,
                 helpers: tuple[tuple[str, bytes], ...] = (), package: str = "") -> None:
        self.package = package
        self.workdir = _new_folder()
        self.cgroup: cgroup.Cgroup | None = None
        self.record_key = secrets.token_bytes(16)  # the child's audit hook signs its record with it
        try:
            self._workdir_fd: int | None = open_folder(str(self.workdir))  # (for its count: FolderWatch)
        except OSError:
            self._workdir_fd = None
        try:
            self._start(source, output_kib, zygote, content, memory_gib, helpers)
        except BaseException:  # an OSError starting the child: leave no folder, pipe or cgroup behind
            self._close_workdir_fd()
            remove_folder(self.workdir)
            if self.cgroup:
                self.cgroup.remove()
            raise

    def _start(self, source: Path, output_kib: int, zygote: Zygote | None, content: bytes | None,
               memory_gib: float | None, helpers: tuple[tuple[str, bytes], ...]) -> None:
        # The student's own file name, so that messages quoting it (a SyntaxError's, say) read right.
        # `content` is the file as read and checked once (a regular file); the path is not read again.
        # (Not as the top of its own package's name, which an import of that package would find first where the
        # package has no __init__.py: rv47's solution/solution.py, `from .util import ...`, could not load.)
        clashes = source.stem == self.package.partition(".")[0]
        self.path = self.workdir / (f"{source.stem}_graded{source.suffix}" if clashes else source.name)
        if content is None:
            shutil.copyfile(source, self.path)
        else:
            self.path.write_bytes(content)
        # And the modules of the student's own it imports, beside it as they were (submission.modules_beside)
        kept = [(name, data) for name, data in helpers if _plain_name(name, source.name)]
        self.helpers = [self.workdir / name for name, _ in kept]
        for name, data in kept:
            for folder in reversed((self.workdir / name).relative_to(self.workdir).parents[:-1]):
                if (self.workdir / folder) not in self.helpers:  # (a package's: the child's to read, as its files)
                    (self.workdir / folder).mkdir(exist_ok=True)
                    self.helpers.append(self.workdir / folder)
            (self.workdir / name).write_bytes(data)
        self._extras = warm_extras(b"\n".join([self.path.read_bytes() if content is None else content,
                                                *(data for _, data in kept)])) if zygote else ()
        # Forked from the zygote, or started afresh: where the zygote took the request and was lost before it said
        # what it forked (ZygoteLost), afresh on channels of its own, which no child of the zygote's holds.
        self._prepare(memory_gib)
        for fork_from in (zygote, None) if zygote else (None,):
            request_read, self._request = os.pipe()
            self._reply_fd, reply_write = os.pipe()
            record_read, record_write = _record_channel()  # the audit hook's record, drained as it comes
            self.oracle = Oracle()  # the canary's secret: it stays here, and answers the child (oracle.py)
            try:
                self._spawn(request_read, reply_write, record_write, output_kib, fork_from)
            except BaseException as err:
                for fd in (self._request, self._reply_fd, record_read):
                    os.close(fd)
                self.oracle.close()
                if isinstance(err, ZygoteLost) and fork_from is not None:
                    continue
                raise
            finally:
                for fd in (request_read, reply_write, record_write):
                    os.close(fd)
                self.oracle.release()
            break
        self.record = RecordStream(os.fdopen(record_read, "rb"), self.record_key)
        self.folder_watch: FolderWatch | None = None  # started once the child says where its folder is
        self.thread_watch: ThreadWatch | None = None  # started then too
        self.pauses: Pauses | None = None  # theirs, of the child
        self.runs: int | None = None  # the process that runs the submission, once it is confined
        self._reaping = threading.Lock()  # a child started afresh: killed by group only while unreaped

    def _prepare(self, memory_gib: float | None) -> None:
        """What the child is given whichever way it starts: its uid, its cgroup, the layers it cannot see."""
        self.uid = _give_a_uid(self.workdir, self.path, *self.helpers) if child_drops_root() else 0  # 0: keeps its uid
        # Testing aid only: layers to leave off, to show each other layer holds alone.
        self.skip = skipped()
        self.gpus = gpus.visible()
        self.memory_gib = memory_gib
        self.cgroup = cgroup.create(int(memory_gib * (1 << 30))) if memory_gib else None
        self.memory_counted = self.cgroup is not None
        self._settled = False  # the cgroup's limit, set above what Python and torch took when setup is sent
        # Layers the child cannot see for itself (it reports the rest); a forked child reports its namespaces.
        self.cpu_bounded = bool(self.cgroup and self.cgroup.cpu_bounded)  # (else the thread watch keeps it to one CPU)
        self._bounds = (*((self.cgroup.layer() if self.cgroup else cgroup.FALLBACK_LAYER,) if memory_gib else ()),
                        ThreadWatch.LAYER, *(() if self.cpu_bounded else (ThreadWatch.CPU_LAYER,)))

    def _spawn(self, request_read: int, reply_write: int, record_write: int, output_kib: int,
               zygote: Zygote | None) -> None:
        bounds = self._bounds
        self.outer_layers: tuple[str, ...] = bounds
        self.process: subprocess.Popen[bytes] | ForkedChild
        forked = zygote and self._fork(zygote, (request_read, reply_write, record_write, self.oracle.channel))
        if forked:
            self.process, out_pipe, err_pipe = forked
        else:
            namespaces = () if "namespaces" in self.skip else namespace_prefix(self.uid)
            self.outer_layers = (*bounds, NAMESPACES_LAYER) if namespaces else bounds
            join = ("/bin/sh", "-c", _JOIN, "sh", *self.cgroup.procs, "--") if self.cgroup else ()
            popen = subprocess.Popen(
                [*dies_with_the_grader(), *join, *namespaces, sys.executable, "-I", "-u", "-c", _BOOTSTRAP,
                 str(request_read), str(reply_write), str(record_write), str(self.oracle.channel)],
                pass_fds=(request_read, reply_write, record_write, self.oracle.channel),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.workdir,
                env=_child_env(self.workdir),
                start_new_session=True,
            )
            self.process, out_pipe, err_pipe = popen, popen.stdout, popen.stderr
        self._sender = protocol.Sender(self._request)
        self._receiver = protocol.Receiver(self._reply_fd, sender=self._sender)
        for pipe in (out_pipe, err_pipe):
            _roomy(pipe.fileno())
        self.stdout = CapturedStream(out_pipe, output_kib << 10)
        self.stderr = CapturedStream(err_pipe, output_kib << 10)
        self.ended: Ended | None = None

    def _fork(self, zygote: Zygote, channels: tuple[int, int, int, int]) -> tuple[ForkedChild, Any, Any] | None:
        """The child forked from the zygote, given `channels` (request, reply, record, oracle), with
        its stdout and stderr pipes, or None if the zygote is gone (the caller then starts the
        child afresh)."""
        stdout, stdout_write = os.pipe()
        stderr, stderr_write = os.pipe()
        fds = (*channels, stdout_write, stderr_write)
        try:
            child = zygote.spawn(self.workdir, _child_env(self.workdir), fds, "namespaces" not in self.skip,
                                 cgroup=self.cgroup.procs if self.cgroup else (), extras=self._extras,
                                 uid=self.uid)
        except ZygoteGone as gone:
            for fd in (stdout, stderr):
                os.close(fd)
            if isinstance(gone, ZygoteLost):
                raise  # (a child of the zygote's may hold these channels: _start starts afresh on others)
            return None
        finally:
            for fd in (stdout_write, stderr_write):
                os.close(fd)
        return child, os.fdopen(stdout, "rb"), os.fdopen(stderr, "rb")

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self.ended:
            raise SessionEnded(self.ended)
        if self.cgroup and not self._settled:  # the first request: the child has started, no student code yet
            self.cgroup.settle()
            self._settled = True
        # The child may have closed its end: it died on an input already sent (requests are
        # pipelined) or dropped the pipe. Ending here would lose the replies still in the pipe and
        # the signal it died of; the next receive reads them, then learns how it ended. (The sender
        # writes nothing more once its reader is gone.)
        with contextlib.suppress(OSError):
            self._sender.send(header, payload)

    def receive(self, timeout: float, doing: str) -> tuple[dict[str, Any], bytes]:
        """The next reply; raises SessionEnded (after killing the child) if none comes in time."""
        if self.ended:
            raise SessionEnded(self.ended)
        if self.runs is not None:
            _reset_peak(self.runs)  # (what this reply's wait holds at most: see _end)
        try:
            header, payload = self._receiver.receive(timeout)
        except protocol.Timeout:
            self._end(Ended("timeout", f"did not finish {doing} within {round(timeout, 2):g} s"))
        except protocol.ChannelClosed:
            self._end(self._death(doing))
        except protocol.ProtocolError as err:
            self._end(Ended("protocol", f"sent back something malformed during {doing}: {err}"))
        if self.thread_watch is not None and self.thread_watch.look():
            self._end(Ended("memory", f"ran too many threads during {doing}"))  # (_end says how many)
        if header.get("event") == "confined" and self.folder_watch is None and self.thread_watch is None:
            runs = self.runs = _runs_the_submission(self.process.pid)
            self.pauses = Pauses(runs)  # (shared: one's SIGCONT ended the other's)
            self._watch_folder(header.get("layers"), runs)
            self.thread_watch = ThreadWatch(runs, self._kill_group,
                                            self.cgroup.refused_threads if self.cgroup else None, self.cpu_bounded,
                                            self.pauses)
        return header, payload

    def _watch_folder(self, layers: Any, runs: int) -> None:
        """Count the child's folder where it is on the host's disk, as its layers say (sent before
        any student code runs, so no submission forges them). Where it is a tmpfs of its own the
        host's view holds only the submission's copy, and the count would only cost: a child holding
        a thousand descriptors made each scan 13 ms. The watch only signals: receive() then learns
        that the child ended, and _end says why."""
        if not (isinstance(layers, list) and TMPFS_LAYER in layers):
            # (neither Landlock nor a mount namespace: a child of a uid of its own writes where every user may, and
            # what it owns there counts as its folder: rt209's held 4.6 GiB in /dev/shm, counted nowhere)
            landlock = isinstance(layers, list) and any(str(layer).startswith("landlock") for layer in layers)
            outside = self.uid if self.uid in CHILD_UIDS and not landlock else 0
            self.folder_watch = FolderWatch(self.workdir, runs, FOLDER_MIB << 20, self._kill_group, self.pauses,
                                            outside, self._workdir_fd)
            disk = DISK_LAYER + (", with what it owns in /tmp, /dev/shm and the like" if outside else "")
            self.outer_layers = (*self.outer_layers, disk if self.folder_watch.counts_writes else
                                 disk + "; what it makes the disk write not counted (no access to /proc/PID/io)")

    def _death(self, doing: str) -> Ended:
        code = self._exit_status()
        if code is None:
            return Ended("exit", f"closed its channel during {doing}")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:  # of the real-time signals only SIGRTMIN and SIGRTMAX have names (a red team's
                # child died of SIGRTMIN+2, and this ValueError made its result the grader's own failure)
                name = f"{-code} (SIGRTMIN+{-code - signal.SIGRTMIN})" if -code >= signal.SIGRTMIN else str(-code)
            if -code == signal.SIGXCPU:
                return Ended("timeout", f"used up its CPU time during {doing} ({name})", code)
            return Ended("crash", f"crashed during {doing}: killed by signal {name}", code)
        if code == TAMPERED:
            return Ended("exit", f"ended with status {code} during {doing}: the grader's record of what it did was "
                         "closed or replaced (or it exited with that status itself)", code)
        return Ended("exit", f"exited with status {code} during {doing}", code)

    def _exit_status(self) -> int | None:
        """How the child ended, or None where it lives on with its channel closed. A dead child is
        given longer where its zygote is busy (warming up torch's compiler for another worker, say)
        and reaps it late."""
        for timeout in (5, 30):
            try:
                return self._wait(timeout)
            except subprocess.TimeoutExpired:
                if not _gone(self.process.pid):
                    return None
        return None

    def _wait(self, timeout: float) -> int:
        """The child's exit code once it has ended (TimeoutExpired if not within `timeout`). A child
        started afresh is reaped under the lock its group's kill takes, polled so that the folder
        watch's thread can still kill a child that lives on meanwhile."""
        if isinstance(self.process, ForkedChild):
            return self.process.wait(timeout)
        deadline = time.monotonic() + timeout
        while True:
            with self._reaping:
                code = self.process.poll()
            if code is not None:
                return code
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.process.args), timeout)
            time.sleep(0.01)

    def _end(self, ended: Ended) -> NoReturn:
        watch = next((w for w in (self.folder_watch, self.thread_watch) if w and w.exceeded), None)
        if watch:
            ended = Ended("memory", f"was stopped for {watch.exceeded} (the sandbox allows {watch.allowed})",
                          ended.returncode)
        elif ended.reason in ("crash", "exit") and self.cgroup and self.cgroup.out_of_memory():
            ended = Ended("memory", f"was stopped for using more memory than the {self.memory_gib:g} GiB it may use "
                          "(memory held in files, memfd or shared memory counts too)", ended.returncode)
        elif ended.reason == "timeout" and self.memory_gib and \
                (peak := _peak_memory(self.runs or self.process.pid)) >= PEAK_SHARE * self.memory_gib * 2**30:
            # (ux126: a list of 100 MB arrays grown in a loop took 10 s to reach the limit, where each page
            # the kernel hands out is slow, and raised MemoryError past the case's time: "a loop that never
            # ends", with no word of memory)
            # (rt171: 3.3 GB taken and freed within the call, then an endless loop: the words name both)
            ended = Ended("memory", f"{ended.detail}, after using {peak / 2**30:.1f} GiB of memory meanwhile, nearly "
                          f"all of the {self.memory_gib:g} GiB it may use (filling memory is slow; where it was freed "
                          "again, look for a loop that never ends too)", ended.returncode)
        self.ended = ended
        self.kill()
        raise SessionEnded(ended)

    def _kill_group(self) -> None:
        """SIGKILL to the child and all it started, never to a pid that is no longer its own: a
        forked child through its pidfd (the zygote reaps it, and its pid may be reused at once); a
        child started afresh by its process group only until we reap it (the folder watch's thread
        calls this too)."""
        if isinstance(self.process, ForkedChild):
            self.process.kill()
            return
        with self._reaping, contextlib.suppress(ProcessLookupError, PermissionError):
            if self.process.returncode is None:
                os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        self._kill_group()
        if isinstance(self.process, ForkedChild):
            self.process.forget()  # the zygote reaps it; waiting for word of that costs a round trip
        else:
            with self._reaping:
                self.process.wait()

    def close(self) -> None:
        self._close_workdir_fd()  # (first: whatever below raises, it is not held for the grader's life; rv49)
        # Every reply we wanted is in, and a sandbox child has nothing worth cleaning up: killing it
        # saves the 0.4 s an interpreter with torch loaded spends tearing itself down.
        self.kill()
        for fd in (self._request, self._reply_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.oracle.close(wait=0)  # its thread ends as the killed child's end closes
        if self.cgroup:
            # No waiting for the killed child to leave it: a cgroup still busy is removed when the
            # next one is made, or when this process exits (cgroup.py).
            self.cgroup.remove(wait=0)
        for watch in (self.folder_watch, self.thread_watch):
            if watch:
                watch.close()
        if self.pauses is not None:
            self.pauses.close()
        if isinstance(self.process, ForkedChild):
            self.process.release()
        remove_folder(self.workdir)
        # What it wrote where every user may (no Landlock and no mount namespace of its own: rt182)
        leftovers.remove_left_by(getattr(self, "uid", 0))

    def _close_workdir_fd(self) -> None:
        if self._workdir_fd is not None:
            os.close(self._workdir_fd)
            self._workdir_fd = None

    def output(self) -> tuple[str, int, str, int]:
        """What the child printed (kept text and total bytes) on stdout and stderr."""
        out, out_total = self.stdout.text(wait=1.0)
        err, err_total = self.stderr.text(wait=1.0)
        return out, out_total, err, err_total

    def events(self) -> tuple[str, ...]:
        """What the audit hook recorded, in the order it happened (call after close)."""
        events, forged = self.record.recorded(wait=1.0)
        if forged:
            events += (f"{FORGED_LINES} channel: {forged}",)
        if self.ended is not None and self.ended.returncode == TAMPERED:
            events += (f"ended with status {TAMPERED}: the sandbox's record channel was closed or replaced "
                       "(or the submission exited with that status itself)",)
        return events


def _record_channel() -> tuple[int, int]:
    """(the grader's end, the child's end) of the audit record: a socket pair, each end one way.
    Not a pipe: the child reopened its write end through /proc/self/fd for reading, and its 32
    readers took all but one line in 33 before the grader saw them (signed lines, which it could
    then choose to write back). A socket cannot be opened through /proc."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.shutdown(socket.SHUT_WR)
    theirs.shutdown(socket.SHUT_RD)
    return ours.detach(), theirs.detach()


def _new_folder() -> Path:
    """A folder for one child, named for this grader (its pid), so that a later grader can tell it
    from the folder of one that is still running."""
    _remove_dead_folders()
    return Path(tempfile.mkdtemp(prefix=f"grader-{os.getpid()}-"))


DEAD_FOLDER_AGE_S = 3600


@functools.cache
def _remove_dead_folders() -> None:
    """Once per process: remove the folders of graders that were killed before they could (SIGKILL,
    the OOM killer; a test suite that kills graders left six a run), as cgroup.py does for their
    cgroups. Only this user's, and only an hour old: a grader in another pid namespace that shares
    this /tmp has a pid that /proc here does not show, and a child's folder lives for one
    submission, minutes at most. A root grader's are its children's where they drop to a uid of their own."""
    cutoff = time.time() - DEAD_FOLDER_AGE_S
    mine = {os.getuid(), NOBODY} if os.getuid() == 0 else {os.getuid()}
    children = CHILD_UIDS if os.getuid() == 0 else range(0)
    dead: set[int] = set()
    for folder in Path(tempfile.gettempdir()).glob("grader-*-*"):
        owner = folder.name.split("-")[1]
        with contextlib.suppress(OSError):
            info = folder.lstat()
            if (owner.isdigit() and stat.S_ISDIR(info.st_mode) and (info.st_uid in mine or info.st_uid in children)
                    and info.st_mtime < cutoff and not os.path.exists(f"/proc/{owner}")):
                remove_folder(folder)
                dead.add(int(owner))
    if dead and os.getuid() == 0:
        # And what its children left outside their folders, where nothing stopped them (leftovers.py)
        leftovers.remove_left_by_dead(frozenset(uid for pid in dead for uid in uids_of(pid)), cutoff)


def remove_folders_of(pid: int) -> None:
    """Remove the children's folders of a grader process that ended before it could (a stopped
    batch's worker killed when it had not closed its sandbox within the grace: under load, a
    folder was left in /tmp for an hour, until a later grader's _remove_dead_folders)."""
    for folder in Path(tempfile.gettempdir()).glob(f"grader-{pid}-*"):
        remove_folder(folder)


def remove_folder(folder: Path) -> None:
    """Remove a child's folder and all it left there. shutil.rmtree recurses once per level, and a
    folder a few thousand levels deep (on the host's disk, where the child had no tmpfs of its own)
    raised RecursionError: the result was lost and the files stayed. GNU rm walks any depth; it
    follows no link and stays on this filesystem."""
    with contextlib.suppress(RecursionError):
        shutil.rmtree(folder, ignore_errors=True)
    rm = shutil.which("rm")
    if os.path.lexists(folder) and rm:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([rm, "-rf", "--one-file-system", "--", str(folder)], capture_output=True, timeout=600)


# Of the memory a child may use, what its peak must reach for a timeout to be told as memory's
PEAK_SHARE = 0.75


def _reset_peak(pid: int) -> None:
    """The process's resident peak (VmHWM) set to what it holds now: a timeout is then told as memory's
    only for what it held while the reply was awaited (rt170: 3.4 GB taken at import and freed, then an
    endless loop, was told of memory, not of the loop). Where /proc refuses it (a container's root
    without the capability), the peak is the process's whole life's."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "wb", buffering=0) as refs:
        refs.write(b"5")


def _peak_memory(pid: int) -> int:
    """The most memory the process has held at once (its resident peak, VmHWM), in bytes; 0 unread."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) << 10
    return 0


def _runs_the_submission(pid: int) -> int:
    """The process that runs the submission, of the one the grader started: a zygote's fork that
    holds it (zygote._hold, where the zygote may not make namespaces itself: a container's root)
    has it for its only child, and a sandbox child has none (seccomp refuses it new processes). The
    folder's count reads its descriptors and mappings, and pauses it: counting the holder's missed
    300 MB of removed files a probe held open, in a batch in a container's root."""
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
    return pid


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie not yet reaped, or reaped already): a forked child's
    exit status comes from its zygote, which may be slow to send it, and is worth waiting for. Every
    thread counts, not its main one alone: a red team's child closed its reply pipe and ended only its
    main thread (a zombie while another thread slept on), and the grader waited 30 s for an exit
    report that comes only with the last thread, 147 s of a 120 s bound."""
    return not live_threads(pid)


@functools.cache
def child_drops_root() -> bool:
    """Whether sandbox children drop root's uid (to one of their own, _give_a_uid): the grader runs
    as root, and any other user can read Python, torch and the grader (the child checks the same
    before it drops, confine.py)."""
    return os.geteuid() == 0 and python_readable_by_nobody()


_uids = itertools.count()


def _plain_name(name: str, submission: str) -> bool:
    """Whether a helper's name is a file of the folder's own or of a package in it (utils/calc/core.py):
    names Python can import, no dot file, not the submission's."""
    parts = name.split("/")
    return name.endswith(".py") and len(parts) <= 4 and all(part.isidentifier() for part in parts[:-1]) and \
        parts[-1][:-3].isidentifier() and name != submission


def uids_of(pid: int) -> tuple[int, ...]:
    """The 64 uids of CHILD_UIDS a grader process with this pid gives its children, in turn."""
    return tuple(CHILD_UIDS.start + (pid * 64 + turn) % len(CHILD_UIDS) for turn in range(64))


def _give_a_uid(workdir: Path, submission: Path, *helpers: Path) -> int:
    """A uid for the child no other live child has (confine.CHILD_UIDS says why), given its folder
    and submission: this process's pid picks 64 of them, used in turn (a Dask worker grades in
    threads), so a uid comes back to a child only after 63 others. Nobody where the host's user
    namespace maps none of them (chown refuses it: a rootless container)."""
    uid = uids_of(os.getpid())[next(_uids) % 64]
    leftovers.before_first_use(uid)  # (before its folder is given it: what it owns is none of this child's)
    for given in (uid, NOBODY):
        try:
            for path in (workdir, submission, *helpers):
                os.chown(path, given, given)
            return given
        except OSError:
            continue
    raise OSError(f"could not give the child's folder {workdir} to a uid of its own or to nobody")


def namespace_prefix(uid: int = 0) -> tuple[str, ...]:
    """A command prefix that starts the child in new pid, network, mount, IPC and UTS namespaces, or () where
    the OS does not allow it. In a pid namespace the child is process 1: when it dies the kernel
    kills everything it started (daemons and setsid included), and it can see and signal nothing
    outside. In a network namespace there is no network at all, loopback included.

    Without CAP_SYS_ADMIN the namespaces need a user namespace, whose root is whoever made it: a
    root grader makes it as the child's `uid`, or its child would be the host's root in there,
    unable to drop to its uid (unmapped) or to enter its folder. Without setpriv, none then."""
    return _namespace_prefixes(uid).get(_namespace_kind(bool(uid)), ())


@functools.cache
def _namespace_kind(as_another_uid: bool) -> str:
    """Which prefix of _namespace_prefixes works here ("" for none), asked once (as nobody, for a
    child that drops: any uid but root's is answered the same)."""
    prefixes = _namespace_prefixes(NOBODY if as_another_uid else 0)
    for kind in ("common", "user"):
        if kind in prefixes and subprocess.run([*prefixes[kind], "true"], capture_output=True,
                                               timeout=10).returncode == 0:
            return kind
    return ""


def _namespace_prefixes(uid: int) -> dict[str, tuple[str, ...]]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return {}
    common = [unshare, "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--mount", "--mount-proc"]
    user = [*common[:1], "--user", "--map-root-user", *common[1:]]
    if uid:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return {"common": tuple(common)}
        # (after the uid changes: a change of credentials clears the parent-death signal)
        user = [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *dies_with_the_grader()[1:3], "--",
                *user]
    return {"common": tuple(common), "user": tuple(user)}


@functools.cache
def dies_with_the_grader() -> tuple[str, ...]:
    """A command prefix that gives what it starts a parent-death signal (SIGKILL when the grader's
    thread that started it ends), kept through exec: a child started afresh is tied to the grader
    this way, and not only by its watch of the request pipe, which the student's code can blind (a
    red team's put /dev/null over it, outlived a SIGKILLed `grader grade` by minutes and wrote
    300 MB into a folder no one counted any more). In namespaces it is unshare that dies, and
    --kill-child takes the child with it; the child may not clear the signal (seccomp). () where
    setpriv lacks --pdeathsig (util-linux before 2.33)."""
    setpriv = shutil.which("setpriv")
    prefix = (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()
    if prefix and subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
        return prefix
    return ()


def _base_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEPT_ENV if key in os.environ}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               # torch.compile cannot start a compiler in the sandbox: it runs the function eagerly instead,
               # fullgraph=True included (which does not fall back on an error: an honest file got 1/10).
               TORCHDYNAMO_DISABLE="1", TORCHDYNAMO_SUPPRESS_ERRORS="1", TORCHINDUCTOR_COMPILE_THREADS="1",
               # torch.cuda.is_available() answers from the count the grader gave the child (gpus.py), not
               # by starting the CUDA driver. Nothing may start a thread before confinement: it would keep
               # what confinement takes from the one that applies it (confine._alone refuses to begin
               # beside one). OMP_NUM_THREADS=1 keeps numpy's OpenBLAS from starting one as it loads.
               PYTORCH_NVML_BASED_CUDA_CHECK="1")
    return env


def _child_env(workdir: Path) -> dict[str, str]:
    # matplotlib's cache, and torch's compiler cache, in the folder itself: where the folder is on the
    # host's disk the child may make no folder in it (confine.py), and each would make one (torch's
    # at the first torch.optim optimizer, which imports its compiler stack: an honest file's 1/10).
    return {**_base_env(), "HOME": str(workdir), "TMPDIR": str(workdir), "MPLCONFIGDIR": str(workdir),
            "TORCHINDUCTOR_CACHE_DIR": str(workdir)}


_zygotes: list[Zygote] = []
_zygote_failed: list[str] = []
_shared: list[socket.socket] = []  # a control socket of a zygote another process started (batch.py)


def shared_zygote(users: int) -> Zygote | None:
    """A zygote for `users` other processes (a batch's workers): give each one socket of its
    `shared`, to pass to `use_shared_zygote`; close it when they are done. None if it cannot start."""
    try:
        return Zygote(_base_env(), wait=False, shares=users)
    except OSError:
        return None


def use_shared_zygote(control: socket.socket) -> None:
    """From now on this process's zygote is the one behind `control` (until it dies: then this
    process starts one of its own)."""
    _shared.append(control)


def warm_zygote(wait: bool = True) -> Zygote | None:
    """This process's zygote: a shared one if it was given one, else started on first use (it
    imports torch, about 1.5 s), started again if it died, None where it cannot start (children
    are then started afresh). Without `wait` it is only started, and may still be warming up (the
    next call with `wait` waits for it)."""
    if not (_zygotes and _zygotes[0].alive()):
        if _zygote_failed:
            return None
        for old in _zygotes:
            old.close()
        _zygotes.clear()
        try:
            _zygotes.append(Zygote.attach(_shared.pop()) if _shared else Zygote(_base_env(), wait=False))
        except OSError as err:
            _zygote_failed.append(str(err))
            return None
    if wait:
        try:
            _zygotes[0].ready()
        except (ZygoteGone, subprocess.TimeoutExpired, OSError) as err:
            _zygote_failed.append(str(err))
            _zygotes.pop().close()
            return None
    return _zygotes[0]
