"""Runs inside the sandbox child: the only code that imports and calls student code.

Conversation (protocol.py framing): child -> hello (after importing torch); parent -> setup;
child -> confined (its layers) | harness_error, [reference], then ready | load_error; then parent ->
case | plot | trace | exit, child -> one reply each. `confined` and the reference pass are sent before any
student code runs, so no submission can forge it.
Everything sent back is raw numbers plus plain JSON facts; the parent decides what they mean.
"""

from __future__ import annotations
import __future__

import builtins
import contextlib
import ctypes
import faulthandler
import functools
import importlib.machinery
import importlib.util
import inspect
import itertools
import linecache
import operator
import os
import re
import resource
import select
import signal
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy

import grader
from grader.cell_syntax import unechoed
from grader.observations import PROCESS_MODULES
from grader.sandbox import canary, confine, protocol, stand_ins, trace, zygote
from grader.submission import cells_of, plots, stands_in  # (before the audit hook: an import after it is recorded)

# This module's functions run after the submission is imported, which may rebind builtins (rv41: a
# builtins.any of its own answered "unchanged" to the repeat's comparison alone, 10/10 for 9.5): they look
# each builtin up in a copy made now, before any submission loads (a function keeps its module's builtins
# as they are when it is made).
globals()["__builtins__"] = dict(vars(builtins))

MAX_MESSAGE_CHARS = 2000


def main(argv: list[str]) -> None:
    """A child started afresh (spawned): import torch, then serve."""
    started = time.perf_counter()
    ahead = threading.Thread(target=confine.read_ahead, daemon=True)
    if os.geteuid() == 0:  # what a child that keeps uid 0 may read, worked out while torch imports
        ahead.start()
    import torch

    if ahead.is_alive():  # (no thread may outlast confinement's start: confine._alone)
        ahead.join()

    # One thread: the grids are small, and the parent works on the other core meanwhile.
    torch.set_num_threads(1)
    serve(torch, int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]), time.perf_counter() - started)


def serve(torch: Any, read_fd: int, write_fd: int, record_fd: int, oracle_fd: int, start_s: float,
          layers: tuple[str, ...] = ()) -> None:
    """The whole conversation with the parent. `record_fd` takes the audit hook's record as it
    happens; `oracle_fd` is the canary's end of the oracle's socket (sandbox/oracle.py); `layers` are
    confinements already in place (a forked child's namespaces); `start_s` is what starting this
    process cost."""
    protocol.send(write_fd, {
        "event": "hello",
        "torch": torch.__version__,
        # Whether this torch can use CUDA; whether there is a GPU the grader asks (sandbox/gpus.py):
        # asking here would start NVML's thread before confinement.
        "cuda_built": torch.backends.cuda.is_built(),
        "import_s": start_s,
        "sources": protocol.SOURCES,  # (the grader's code this process runs: protocol._sources)
    })
    receiver = protocol.Receiver(read_fd)
    setup, _ = receiver.receive()
    try:
        _count_devices_as_told(torch, setup["gpus"])
        active = [*layers, *apply_limits(setup["limits"], uses_cuda="cuda" in setup["devices"])]
        runner = Runner(torch, setup, oracle_fd)
        # (path, text), sent by the grader: run once confined (below), and taken out of the set-up, which a frame walk
        # from the submission's import reaches (rt217 read a course's private solution from it, at 10/10)
        reference = path_and_source(setup.pop("reference", None))
        _run_compiled_code_through_autograd(torch)
        _interop_threads_as_asked(torch)
        _pyplot_before_the_hook(torch, setup["path"])
        _settle_signals()
        # The child's folder is its temporary folder: tempfile may have chosen one already in the
        # zygote (importing torch._dynamo asks, and it keeps /tmp), where the child may write nothing.
        tempfile.tempdir = str(Path(setup["path"]).parent)
        active += confine.apply(Path(setup["path"]).parent, record_fd, bytes.fromhex(setup.pop("record_key", "")),
                                frozenset(setup.get("skip", ())), gpu="cuda" in setup["devices"],
                                memory_counted=bool(setup.get("memory_counted")),
                                secret_globals=vars(canary))
    except Exception:  # noqa: BLE001 - the grader's own failure, before any student code: never the student's
        protocol.send(write_fd, {"event": "harness_error", "detail": traceback.format_exc()[-MAX_MESSAGE_CHARS:]})
        return
    # The watch for the grader's death starts only now, confined as this thread is: started before,
    # it kept every privilege the layers took from this thread, and a red team's file ran its own
    # Python in it as root (confine._alone). No thread to be had (other processes of its uid hold
    # the count): serve without it; a child busy when the grader dies then runs on to its CPU limit.
    with contextlib.suppress(RuntimeError):
        threading.Thread(target=_exit_with_parent, args=(read_fd,), daemon=True).start()
    protocol.send(write_fd, {"event": "confined", "layers": active})
    if reference is not None:
        # Confined, and before the student's file exists here: the reference solution runs, its
        # backward pass is recorded at the sample input and sent, and the solution is dropped again,
        # so no student code ever shares the process with it (a frame walk from a call would find
        # it). Not before confinement: autograd's first backward starts a thread for each GPU it
        # counts, and counting starts the CUDA driver's own threads; threads started before
        # confinement keep what it takes from this one (confine._alone refused to begin beside
        # them, so on a GPU machine every child failed).
        protocol.send(write_fd, {"event": "reference",
                                 "call": runner.reference_pass(*reference, setup["trace_x"])})
    # Gone before the student's file runs: a frame walk up to here read the source (rt128).
    del reference
    protocol.send(write_fd, runner.load())
    if runner.function is None:
        return
    while True:
        header, payload = receiver.receive()
        if header["op"] == "exit":
            return
        try:
            reply, arrays = runner.serve(header, payload)
        except Exception:  # noqa: BLE001 - our harness failed around the call (maybe the student broke torch)
            reply, arrays = {"event": "harness_error", "detail": _traceback_text()}, []
        specs, blob = protocol.pack_arrays(arrays)
        protocol.send(write_fd, {**reply, "arrays": specs}, blob)


# TorchScript's profiling runs before it optimizes a scripted function, never reached
# (_run_compiled_code_through_autograd)
PROFILED_RUNS = 1 << 62


def _run_compiled_code_through_autograd(torch: Any) -> None:
    """Compiled code must reach autograd the ordinary way, or an honest student's derivative would
    not follow the canary. TorchScript's optimising executor differentiates a fused graph with its
    own formulas: run scripted functions op by op, and keep it so (`torch.jit.optimized_execution(True)`
    in a submission would turn it back on and its honest answer would not follow the canary).
    torch.compile cannot start a C++ compiler in the sandbox: the environment (TORCHDYNAMO_DISABLE,
    read at each compile) has it run the function eagerly, and errors of a compiler reached some
    other way fall back to eager too (a forked child inherits a torch._dynamo that read its
    environment in the zygote).

    That flag is the calling thread's alone (rt208: a scripted `sin(x) * 1.0` run in a worker thread, in a
    `torch.jit.fork` task or under `torch.jit.fuser("fuser3")`, which sets it through its getter, was
    differentiated by the executor's own formula, 1/10): the executor is also kept profiling for good (a
    count of profiling runs no process reaches, process-wide), which never builds a differentiable graph,
    and the switches that would end that are kept as they are."""
    torch._C._set_graph_executor_optimize(False)
    torch._C._set_graph_executor_optimize = lambda optimize: None
    getter = torch._C._get_graph_executor_optimize
    torch._C._get_graph_executor_optimize = lambda *optimize: getter()  # (its setting form: torch.jit.fuser)
    for switch, on in (("_jit_set_profiling_executor", True), ("_jit_set_profiling_mode", True),
                       ("_jit_set_num_profiled_runs", PROFILED_RUNS)):
        getattr(torch._C, switch)(on)
        setattr(torch._C, switch, lambda value, on=on: on)  # (each answers what it was, as torch's does)
    if "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].config.suppress_errors = True


def _interop_threads_as_asked(torch: Any) -> None:
    """The student's first torch.set_num_interop_threads(n) succeeds, as it does at the top of a
    fresh process: a forked child's count was set by its zygote, and torch lets it be set once per
    process, so that set_num_interop_threads(1), and then a hunter's (2) or (os.cpu_count()), raised
    "cannot set number of interop threads" and the file scored 0 in a batch, 10 alone. The pool
    stays as the zygote made it (the grader's calls use none of it); get_num_interop_threads says
    the count asked for. A second call with another count raises, as torch's does."""
    original_set, original_get = torch.set_num_interop_threads, torch.get_num_interop_threads
    asked: list[int] = []

    def set_num_interop_threads(n: int) -> None:
        if not asked and isinstance(n, int) and not isinstance(n, bool) and n > 0:
            asked.append(n)
            return
        if n == get_num_interop_threads():
            return
        original_set(n)

    def get_num_interop_threads() -> int:
        return asked[0] if asked else int(original_get())

    torch.set_num_interop_threads, torch.get_num_interop_threads = set_num_interop_threads, get_num_interop_threads


def _traceback_text() -> str:
    """The exception being handled, as text for the grader; its type and message alone where the
    audit hook refuses one of its frames (the canary's, confine.py)."""
    error = sys.exc_info()[1]
    try:
        return traceback.format_exc()[-MAX_MESSAGE_CHARS:]
    except PermissionError:
        return f"{type(error).__name__}: {error}"[-MAX_MESSAGE_CHARS:]


def _settle_signals() -> None:
    """The signal handlers this child keeps, set before seccomp refuses new ones (confine.py). SIGINT
    is ignored: Python's own handler raises KeyboardInterrupt wherever the main thread is, inside the
    canary's kernel too, whose frames the exception would carry out (a red team's thread interrupted
    the main one with _thread.interrupt_main(), which does nothing for an ignored signal); and
    asyncio.run(), which sets its own SIGINT handler only over Python's, then runs. faulthandler is
    enabled: a crash then prints the student's traceback with it, and a submission's own
    faulthandler.enable() is the no-op it is when enabled, instead of a refused handler."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()
    _reset_once_handled(FATAL_SIGNALS)
    _keep_dispositions_asked()


# faulthandler's signals: a fault the process dies of, after the student's traceback is printed.
FATAL_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT)
_SA_RESETHAND = 0x80000000
_SA_FLAGS_AT = 8 + 128  # glibc's struct sigaction on 64-bit Linux: the handler, a 1024-bit mask, then the flags


def _reset_once_handled(signums: tuple[int, ...]) -> None:
    """The kernel resets these signals to their default as it hands one to faulthandler. faulthandler
    restores the default itself before it raises the signal again, but seccomp refuses every new
    handler (confine.py): the restore failed, the raise re-entered faulthandler, which printed the
    traceback again until its stack ran out, and every bus error, abort or floating-point fault
    died as a SIGSEGV, its traceback five times over (a submission whose mapped file in /dev/shm
    outgrew its space was told of a segfault)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for signum in signums:
        action = ctypes.create_string_buffer(256)
        if libc.sigaction(signum, None, action) != 0:
            continue
        flags = ctypes.c_int.from_buffer(action, _SA_FLAGS_AT)
        flags.value |= _SA_RESETHAND - (1 << 32)  # (the bit as a signed int)
        libc.sigaction(signum, action, None)


def _keep_dispositions_asked() -> None:
    """signal.signal(sig, SIG_DFL or SIG_IGN) succeeds without a system call (seccomp refuses them
    all: the filter cannot read which handler is asked for). No handler of Python's runs then, so no
    frame is handed out; students reset SIGPIPE to its default (the usual fix for `| head`) or SIGINT,
    and lost the whole grade to a refused import. The disposition asked for is what getsignal says;
    the process keeps its own (no signal reaches a sandbox child but the grader's kill). A handler
    of Python's is still refused."""
    real_signal, real_getsignal, plain = signal.signal, signal.getsignal, (signal.SIG_DFL, signal.SIG_IGN)
    asked: dict[int, Any] = {}

    def set_disposition(signalnum: Any, handler: Any) -> Any:
        if type(handler) in (int, signal.Handlers) and handler in plain:
            previous = asked.get(int(signalnum), real_getsignal(signalnum))  # (which checks the number)
            asked[int(signalnum)] = signal.Handlers(handler)
            return previous
        return real_signal(signalnum, handler)

    def get_disposition(signalnum: Any) -> Any:
        return asked.get(int(signalnum), real_getsignal(signalnum))

    signal.signal, signal.getsignal = set_disposition, get_disposition


def _exit_with_parent(read_fd: int) -> None:
    """End this process as soon as the grader's end of the request pipe closes (the grader exited or
    was killed), even while the student's code is busy: poll() with no events asked for returns only
    on hang-up."""
    watcher = select.poll()
    watcher.register(read_fd, 0)
    while not watcher.poll():
        pass
    os._exit(70)


SIGNALS_PENDING = 64
OPEN_FILES = 128


def _count_devices_as_told(torch: Any, gpus: int) -> None:
    """Keep the grader's count of the CUDA devices (sandbox/gpus.py) where torch keeps its own, so
    that torch never counts them itself before CUDA starts. Counting asks NVML, whose first use
    starts a thread: here, before confinement, that thread would keep what confinement takes
    (confine._alone refused to begin beside it, on an H200); after, a CUDA build of torch asks NVML
    through ctypes each time it counts until CUDA is initialised, and torch._dynamo counts for every
    function it compiles (its metrics): on torch 2.11's CUDA build each honest aot_function or
    torch.compile was recorded as a `ctypes.dlopen`, a way towards the secret, for the TA. (A CPU
    build counts 0 and asks nothing.)"""
    if torch.backends.cuda.is_built() and getattr(torch.cuda, "_cached_device_count", 0) is None:
        torch.cuda._cached_device_count = gpus


def apply_limits(limits: dict[str, Any], uses_cuda: bool) -> list[str]:
    """Resource limits for everything the submission does from here on; returns what is active."""
    active = []
    # No core dump: where the host enables them, a crashing child would first write hundreds of MB
    # (torch's heap) and could run past its call timeout, reported as a timeout instead of a crash.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits["total_timeout_s"]) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    active.append(f"cpu-time {cpu}s")
    size = confine.FILE_MIB << 20
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write then fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    active.append(f"file-size {confine.FILE_MIB} MiB")
    # Each open file may hold 64 MiB that its folder no longer shows (unlinked while open): the
    # grader counts them (folder.py), and this bounds how many there are to count. And
    # each may be a pipe, whose 16 pages count against one total per user: 1,017 pipes of a red
    # team's took root's (16,384), so that root's other programs got 8 KiB pipes while it lived. A
    # child has 8 open when the submission loads (the oracle's socket the eighth).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    active.append(f"open files {files}")
    # Queued signals and POSIX timers count against one total per user (root's, or nobody's, which
    # every student's child shares), bounded by the sender's own limit: a red team's root child
    # queued 96,365 real-time signals to itself, and no root program on the host could queue a
    # signal or make a timer (timer_create) while it lived.
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (SIGNALS_PENDING, SIGNALS_PENDING))
    active.append(f"queued signals {SIGNALS_PENDING}")
    # No real-time scheduling and no raised priority (rt186): where root's RLIMIT_RTPRIO is above 0
    # (`docker run --ulimit rtprio=99`) and no cgroup bounds real-time threads, a child's SCHED_FIFO
    # threads would take the CPU from the host's own programs, past its share of one core.
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
    active.append("no real-time priority")
    if not uses_cuda:
        # CUDA reserves huge virtual ranges, so the address-space limit is only safe without it.
        budget = _address_space() + int(limits["memory_gib"] * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
        active.append(f"memory {limits['memory_gib']:g} GiB")
    return active


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


SUBMISSION_MODULE = "__graded_submission__"  # the student's file's module, in sys.modules


class Runner:
    def __init__(self, torch: Any, setup: dict[str, Any], oracle_fd: int) -> None:
        self.torch = torch
        self.numbers_of = readers(torch)
        self.answer_reader = AnswerReader(torch, self.numbers_of)  # (answers kept and read again: repeatable)
        self.after_call: Callable[[], None] | None = None  # (a case's reads, the moment a planned call returns)
        self.path = setup["path"]
        self.package = setup.get("package", "")  # the student's package it is a module of (submission.read)
        self.function_name = setup["function"]
        self.function: Any = None
        self.recorder = trace.Recorder(torch, setup["primitive"])
        # Every planned call's passes recorded, where the exercise's chain goes beyond its primitive: the
        # recorded call alone was told apart (its public input, its place after the plot) by rt172's files,
        # autograd's chain there and a formula of their own on every graded call. Recorded alike, no call
        # is the one that counts until the grader, which alone knows, reads them.
        self.record_calls = setup.get("record_calls") is True
        # The tensors each case's planned calls returned, beside copies of their numbers once its calls are
        # done: a function that returns a tensor it keeps and overwrites (a global leaf's .grad, not cloned:
        # hn132) gave every call the right numbers, which the next call changed under the caller (the book's
        # plot of two answers shows one twice). Read again 1, 3, 9, 27 and 81 cases later, not the next case's
        # end alone, and every call's, not the last's alone: rt189's ring of 64 buffers, each overwritten 64
        # calls later, was never seen, and then seen or not as the calls' count was drawn.
        self.answers: list[list[Kept]] = []  # per case served, oldest first, LADDER[-1] kept
        self.kept_answer: list[Any] = []  # what of the last call's answer is kept (held)
        # The secret stays in the grader: the canary asks it, through `oracle_fd`, inside planned calls.
        self.canary = canary.install(torch, setup["primitive"], setup["derivative"], oracle_fd,
                                     traced=(self.recorder.armed, self.recorder.primitive_outputs))

    def load(self) -> dict[str, Any]:
        started = time.perf_counter()
        # The arguments `python file.py` would give it: the child's own (its descriptors, or the
        # zygote's) made a file that reads sys.argv or calls argparse score differently in `grade`
        # and in `batch` (an honest-file hunter's: 10/10 and 0/10 for one file).
        sys.argv = [self.path]
        # And its folder first on the path, as `python file.py` and Jupyter (its working folder) have
        # it: a notebook's `%%writefile deriv.py` then `import deriv` was a missing module (rt140), and
        # with the folder last, a `%%writefile test.py` lost to the standard library's test (rt143).
        # (What the harness imports later is imported already: torch, numpy and the grader's own.)
        sys.path.insert(0, str(Path(self.path).parent))
        _plots_without_a_screen(self.path)
        grader.grading = True  # (a self-check left in the file does nothing here: grader/__init__.py)
        # And imported the other way, `from grader.notebook import check` (its module's own name), it is
        # that same do-nothing, already here: importing the real one imported the grader's modules in
        # the sandbox, each recorded on the way to the canary's secret (hn121: 0/10, on the TA's list).
        stand_in = types.ModuleType("grader.notebook", "The notebook self-check: does nothing while grading.")
        stand_in.check = grader.check  # type: ignore[attr-defined]
        sys.modules["grader.notebook"] = grader.notebook = stand_in
        notebook = Path(self.path).suffix.lower() == ".ipynb"
        stood_in = stand_ins.install()  # (d2l, where none is installed nor beside the file: the book's first cell)
        try:
            # Under a name no student's file takes: as "submission", a notebook's `%%writefile
            # submission.py` then `from submission import get_derivative` imported the notebook itself,
            # half run (rt148: 0/10, where Jupyter runs it).
            with own_modules_first(Path(self.path)):
                if notebook:
                    module = run_cells(self.path, SUBMISSION_MODULE, self.function_name)
                else:
                    module = import_file(self.path, SUBMISSION_MODULE, register=True, package=self.package)
        except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are findings too
            # The function defined before the line that raised is graded as the file stood there, as
            # Jupyter's Run All stops there, and the loads point alone is lost: hn122's notebook whose
            # first-try plt.plot cell raised below its get_derivative scored 0, every check "not run".
            # An exit too, which only unwinds (hn124: a .py's last line `sys.exit(0)` scored 0, a failing
            # savefig there 9/10). Not past an interrupt or exhausted memory, after which nothing is as it
            # was. (A notebook's every cell has run, an exit's too: run_cells.)
            partial = sys.modules.get(SUBMISSION_MODULE)
            ran = isinstance(err, (Exception, SystemExit)) or (notebook and not isinstance(err, KeyboardInterrupt))
            found = getattr(partial, self.function_name, None) if partial is not None and ran and not isinstance(
                err, MemoryError) else None
            if not callable(found):
                return {"event": "load_error", "error": describe_error(err, self.path), "stand_ins": stood_in}
            self.function = found
            return {"event": "ready", "load_s": time.perf_counter() - started,
                    "raised": describe_error(err, self.path), "stand_ins": stood_in}
        found = getattr(module, self.function_name, None)
        names = sorted(n for n, v in vars(module).items()
                       if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v)))[:50]
        if not callable(found):
            kind = "missing" if found is None else type(found).__name__
            return {"event": "load_error", "error": None, "missing": kind, "names": names, "stand_ins": stood_in}
        self.function = found
        return {"event": "ready", "load_s": time.perf_counter() - started, "stand_ins": stood_in}

    def serve(self, header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], list]:
        import numpy as np

        values = np.frombuffer(payload, dtype="<f8").reshape(header["shape"])
        make = lambda: make_input(self.torch, values, header["dtype"], header["device"], header["layout"])  # noqa: E731
        arrays: list = []
        if header["op"] == "plot":
            shifted = lambda: make_input(self.torch, values + 1.0, header["dtype"], header["device"],  # noqa: E731
                                         header["layout"])
            return self.plot(make, shifted, arrays), arrays
        if header["op"] == "trace":
            return self.trace(make, int(header["index"])), arrays
        try:
            return self.case(header, make, arrays), arrays
        except BaseException:
            # (a case that ended in the harness's error is one of the parent's cases all the same: the answers
            # read again name their inputs by how many cases back, rt193)
            self.answers = [*self.answers[1 - LADDER[-1]:], []]
            raise

    def case(self, header: dict[str, Any], make: Callable[[], Any], arrays: list) -> dict[str, Any]:
        # Twice on one tensor (does it change x? do repeated calls agree?), then each further call on
        # a fresh one; the grader knows which calls are secret, and the canary asks it.
        self.canary.case(int(header["case"]))
        # Every rung read after each call, the moment it returns (each change counted once, _changed_since), the
        # nearest one named: rt196's submission wrote over every earlier answer on each second call on the same x,
        # and wrote them back on the next, where the rungs were read once the case's calls were done. With them,
        # `watched`: call 1's answers across call 2 (first_changed), then the case's answers so far across each
        # further call (own_changed); `hits`, for each call, whether what was watched across it changed.
        changed: set[int] = set()
        ladder = rungs()
        watched: list[list[Kept]] = []
        hits: list[bool] = []

        def read_back() -> None:
            backs = [back for back in ladder if back <= len(self.answers)]
            found = _changed_since(self.answer_reader, [*(self.answers[-back] for back in backs), *watched])
            changed.update(back for back, was in zip(backs, found, strict=False) if was)
            hits.append(bool(watched) and found[-1])

        self.after_call = read_back
        try:
            return self._case(header, make, arrays, watched, hits, changed)
        finally:
            self.after_call = None

    def _case(self, header: dict[str, Any], make: Callable[[], Any], arrays: list, watched: list[list[Kept]],
              hits: list[bool], changed: set[int]) -> dict[str, Any]:
        x = make()
        original, requires_grad = self.numbers_of(x), x.requires_grad
        calls = [self.call(x, arrays, planned=True)]
        kept = self.kept_answer
        # (the first answer as it came back: rt193's second call on the same x zeroed the tensor the first had
        # returned and gave a new one, which at home leaves the first answer all zeros)
        # (not x itself, returned: the caller's x changed is input_untouched's, and counted there alone)
        first = _kept(self.answer_reader, [item for item in self.kept_answer if item is not x])
        between = self.numbers_of(x)  # (rt189: x negated by each call was itself again after the second)
        watched.append(first)
        calls.append(self.call(x, arrays, planned=True))
        kept = kept + self.kept_answer
        now = self.numbers_of(x)
        # (its dtype or device too: hn132's `x.data = x.data.double()` left the caller's float32 x float64,
        # which torch.equal does not see, and was told it left the caller's tensor as it was; rt187's x made
        # float8 is changed and retyped alike)
        retyped = bool(original and any(then is None or (then.dtype, then.device) != (original.dtype, original.device)
                                        for then in (between, now)))
        flags = {
            # (an x of the harness's that cannot be read was made so by the submission: rt188 rebound
            # torch.Tensor.to, with which make_input builds x, to hand x over as a subclass of its own, whose
            # numbers are not read, and then changed it in place unseen)
            "input_changed": bool(original is None or not (now and now.same(original))
                                  or not (between and between.same(original))),
            "input_retyped": retyped,
            "requires_grad_changed": x.requires_grad != requires_grad,
            "grad_left": bool(x.is_leaf and x.grad is not None),
        }
        # The case's answers so far read again after each further call, on a fresh tensor of x's values (rv42's
        # submission filled the repeated pair's answers on the next call: at home, a = f(x0); b = f(x0); f(x1)
        # leaves a and b changed), x itself aside as above.
        watched[0] = first + _kept(self.answer_reader, [item for item in self.kept_answer if item is not x])
        for _ in range(int(header["calls"]) - 2):
            fresh = make()
            calls.append(self.call(fresh, arrays, planned=True))
            kept = kept + self.kept_answer
            watched[0] = watched[0] + _kept(self.answer_reader,
                                            [item for item in self.kept_answer if item is not fresh])
        # The case's own answers read as they stand once its calls are done: what its own calls changed is the
        # repeat's to judge, with the secret's numbers no one sees at home (rt192: the book's zero_() and a
        # second backward on the caller's x, and a secret call's answer a plain call overwrote, blamed the next x).
        self.answers = [*self.answers[1 - LADDER[-1]:], _kept(self.answer_reader, kept)]
        return {"calls": calls, **flags, "earlier_changed": min(changed, default=0), "first_changed": any(hits[1:2]),
                "own_changed": any(hits[2:]), "primitive_calls": self.canary.calls(),
                "unfollowed_calls": self.canary.unfollowed()}

    def plot(self, make: Callable[[], Any], shifted: Callable[[], Any], arrays: list) -> dict[str, Any]:
        """The plot's call, and whether a second call, on its values shifted by one, changed what the first
        returned: rt197's file kept hn132's bug (a leaf kept and refilled, returned without a copy) for 1-d
        inputs over 25 numbers alone, larger than any grid's, as the book's plot's are (the repeat never saw it)."""
        x = make()
        first = self.call(x, arrays)
        kept = _kept(self.answer_reader, [item for item in self.kept_answer if item is not x])
        self.call(shifted(), [])  # (its numbers unsent: only whether the first's changed)
        return {"first": first, "changed": _changed_since(self.answer_reader, [kept])[0]}

    def trace(self, make: Any, index: int) -> dict[str, Any]:
        """The backward passes of two plain calls on one input (the second shows a gradient that
        accumulates), values read at element `index`. Only numbers and names go back: no arrays."""
        x = make()
        return {"student": [self._traced(self.function, x, index) for _ in range(2)]}

    def reference_pass(self, path: str, source: str | None, values: list[float]) -> dict[str, Any] | None:
        """The reference solution's backward pass at the sample input (element 0), recorded as the
        student's will be; the solution (`source`, the grader's reading of `path`) is gone from this
        process when it returns."""
        import numpy as np

        try:
            module = _module_from_source(source, path, "grader_reference_solution") if source is not None else None
        except Exception:  # noqa: BLE001 - no reference pass then; grading does not need one
            module = None
        function = getattr(module, self.function_name, None) if module is not None else None
        try:
            if function is None:
                return None
            x = make_input(self.torch, np.array(values, dtype=np.float64), "float64", "cpu", "plain")
            return self._traced(function, x, 0)
        finally:
            # The module's functions and its namespace hold each other: empty the namespace and they
            # go at once (a full gc.collect() would cost 90 ms in a process holding torch).
            if module is not None:
                vars(module).clear()
            del module, function

    def _traced(self, function: Any, x: Any, index: int) -> dict[str, Any]:
        run = functools.partial(_outcome, function, x)
        # Again without reading what nodes saved where the call's checkpoint refused our reads
        # (trace.Recorder.read_saved).
        try:
            for read_saved in (True, False):
                self.recorder.read_saved = read_saved
                self.canary.recount()  # plain (not a planned call), and the primitive's count starts again
                (out, error), passes = self.recorder.record(run, index, x.numel())
                self.canary.rest()
                if type(error).__name__ != "CheckpointError":
                    break
        finally:
            self.recorder.read_saved = True
        how, found, held, _ = reading(self.torch, out, x) if error is None else ("as is", out, "", "")
        if how in ("one", "beside"):
            out = found  # (the pass of a gradient returned in a tuple is drawn as the gradient's: snapshot)
        elif how == "pair":
            # Both, for the grader to read as it reads a grid's pair (replies.pair_choice): rt167's by-hand
            # chain returned beside y was read here by other rules, not at all, and never flagged.
            pair = [{"value": self.recorder.at(t), "tracked": bool(t.requires_grad),
                     "is_x": _identical(self.torch, t, x)} for t in found]
            return {"kind": "pair", "pair": pair, "value": None, "about": held,
                    "primitive_calls": self.canary.calls(), **passes}
        elif error is None and (numbers := _numbers_of(self.torch, out, x.numel())) is not None:
            # (read as the grid reads them, snapshot: rt167's chain rule finished by hand, returned as
            # .tolist(), and rt168's as .numpy(), scored 9 and were never listed)
            out = self.torch.from_numpy(numbers)
        kind = "error" if error is not None else "tensor" if isinstance(out, self.torch.Tensor) else "other"
        value = self.recorder.at(out) if kind == "tensor" else None
        about = (f"{type(error).__name__}: {_safe_text(error, 200, use_str=True)}" if error is not None
                 else type(out).__name__)
        return {"kind": kind, "value": value, "about": about, "primitive_calls": self.canary.calls(), **passes}

    def call(self, x: Any, arrays: list, planned: bool = False) -> dict[str, Any]:
        """Call the student's function once, in the state the case planned (plain for the plot);
        the canary is plain again before we look at what came back."""
        started = time.perf_counter()
        self.kept_answer = []
        if planned:
            self.canary.next_call()
        recorded: dict[str, Any] = {}
        after = self.after_call if planned else None

        def outcome() -> tuple[Any, BaseException | None]:
            # (the case's reads the moment the function returns, before the harness runs any op of torch's that
            # a mode of the submission's could see: rt198's wrote earlier answers back on canary.rest's op and on
            # snapshot's .to("cpu"), which ran before every read, 10/10 for 9.5)
            ended = _outcome(self.function, x)
            if after is not None:
                after()
            return ended

        try:
            if planned and self.record_calls:
                # (steps alone: what nodes saved left unread, since a checkpoint lets each be unpacked once
                # and a graded call is not run again without the read, as the trace's is; and no gradient's
                # numbers, which only the pass shown needs)
                self.recorder.read_saved = self.recorder.numbers = False
                (out, error), passes = self.recorder.record(outcome, 0, x.numel())
                recorded = {"recorded": passes}  # (runs, more_runs, passes, tangents, duals)
            else:
                out, error = outcome()
            if error is not None:  # (every way a call can end is reported)
                return {"kind": "error", "error": describe_error(error, self.path), **recorded}
        finally:
            self.recorder.read_saved = self.recorder.numbers = True
            self.canary.rest()
        reply = snapshot(self.torch, out, x.numel(), arrays, x)
        reply["seconds"] = time.perf_counter() - started
        try:
            self.kept_answer = held(self.torch, out, x)
        except Exception:  # noqa: BLE001 - read as the grid reads it, which snapshot has survived: no claim then
            self.kept_answer = []
        return {**reply, **recorded}


def _outcome(function: Any, x: Any) -> tuple[Any, BaseException | None]:
    """What function(x) returned, or what it raised."""
    try:
        return function(x), None
    except BaseException as err:  # noqa: BLE001 - reported as the call's kind
        return None, err


def _pyplot_before_the_hook(torch: Any, path: str) -> None:
    """pyplot, for a file that plots, imported before the audit hook as a batch's zygote has it
    (zygote.warm_up_plotting): in a child started afresh the file's own import built matplotlib's
    font list, which runs fc-list, and every honest plotting file's result.json listed
    subprocess.Popen among what the sandbox recorded."""
    if "matplotlib.pyplot" in sys.modules:
        return
    if _plotting(path):
        zygote.warm_up_plotting(torch)


@functools.cache
def _plotting(path: str) -> bool:
    """Whether the file, or a module of its own beside it (the child's folder holds them alone), imports pyplot
    (submission.plots); read once, before any student code runs, for both who ask."""
    for file in [Path(path), *sorted(Path(path).parent.rglob("*.py"))[:MAX_OWN_SOURCES]]:
        try:
            with open(file, "rb") as handle:
                if plots(handle.read()):
                    return True
        except OSError:
            continue
    return False


MAX_OWN_SOURCES = 64  # (submission.MAX_HELPERS, and some)


def _plots_without_a_screen(path: str) -> None:
    """A window's backend (TkAgg, MacOSX, Qt) asked for by a file that plots becomes Agg: the sandbox
    has no screen, and pyplot refuses a window's backend where none is running ("as 'headless' is
    currently running"), so a hunter's matplotlib.use("TkAgg"), or plt.switch_backend("TkAgg"),
    before the plot the exercise asks for scored 0/10 (in a batch, whose pyplot was imported first,
    for use() too). pyplot is imported first for such a file only, as it would import it anyway."""
    try:
        if not _plotting(path):
            return
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 - the file's own import then says what is wrong
        return
    switch = plt.switch_backend

    def switch_backend(newbackend: str) -> None:
        # (a window's backend is never tried: pyplot's test for a running window framework reads
        # every thread's frame, which the sandbox records as a way into the grader's)
        if str(newbackend).lower() not in _DRAWING_BACKENDS and not str(newbackend).startswith("module://"):
            newbackend = "agg"
        try:
            switch(newbackend)
        except ImportError:
            switch("agg")

    plt.switch_backend = switch_backend  # (matplotlib.use calls it too, once pyplot is imported)


_DRAWING_BACKENDS = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})  # matplotlib's without a window


def path_and_source(reference: Any) -> tuple[str, str | None] | None:
    """The setup's reference solution, [path, text or None], as a tuple; None where none was sent."""
    if not reference:
        return None
    path, source = reference
    return str(path), source if isinstance(source, str) else None


def _module_from_source(source: str, path: str, name: str) -> Any:
    """Run `source` as module `name`, as if imported from `path` (not registered in sys.modules)."""
    module = types.ModuleType(name)
    module.__file__ = path
    vars(module)["__builtins__"] = builtins  # (exec would give it this module's own copy; its own are Python's)
    exec(compile(source, path, "exec"), vars(module))
    return module


@contextlib.contextmanager
def own_modules_first(path: Path) -> Iterator[None]:
    """While the student's file is imported, its own modules beside it named like Python's (statistics.py,
    a code/ package) are the ones its imports find, as at home, where nothing had imported Python's
    first (submission.stands_in; hn127's statistics.py scored 0). The file itself is not one: it is
    imported as the submission, and Python's module of its name is Python's. Python's are put back
    after: the harness imports by those names too, and what the file bound stays bound."""
    mine: set[str] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            name = entry.name.removesuffix(".py") if entry.name.endswith(".py") else entry.name
            if name in sys.modules and stands_in(name) and entry.name != path.name and \
                    entry.is_file(follow_symlinks=False) == entry.name.endswith(".py"):
                mine.add(name)
    kept = {name: module for name, module in sys.modules.items() if name.partition(".")[0] in mine}
    for name in kept:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name in sys.modules if name.partition(".")[0] in mine]:
            del sys.modules[name]
        sys.modules.update(kept)


def import_file(path: str, name: str, register: bool, package: str = "") -> Any:
    """Run a .py file as module `name` and return it; `register` puts it in sys.modules first (a
    student's file may rely on that, as dataclasses and pickle do). Whatever the file raises, raises.
    With `package`, as a module of that package (`name` within it), whose relative imports find it as
    `python -m package.module` does (its folders beside the file: submission.Submission.package)."""
    # A source loader whatever the suffix: spec_from_file_location knows .py only, and a notebook
    # (its code cells, submission.notebook_script), a .PY or a .txt failed with AssertionError.
    # (The package's name on the spec's own, where relative imports read it: no ImportWarning for a
    # __package__ set apart from it, which a file's own warnings filter could make an error.)
    qualified = f"{package}.{name}" if package else name
    loader = _ModuleLoader(qualified, path)
    spec = importlib.util.spec_from_file_location(qualified, path, loader=loader)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


class _ModuleLoader(importlib.machinery.SourceFileLoader):
    """A source loader for which the file is a module, never a package: an answer in a package's __init__.py,
    graded alone, was a package of the grader's own name, and its `from .util import ...` was told of
    "__graded_submission__.util" (rt214), where Python's own words for a relative import say what is wrong."""

    def is_package(self, fullname: str) -> bool:
        return False


# Every future feature's compiler flag: those the notebook's prelude imports hold in each of its cells.
_FUTURE_FLAGS = functools.reduce(operator.or_, (getattr(__future__, name).compiler_flag
                                                for name in __future__.all_feature_names), 0)


def run_cells(path: str, name: str, function: str) -> Any:
    """Run a notebook's script (submission.notebook_script) as nbgrader's autograder runs a notebook:
    each code cell on its own, in the one module `name` (registered in sys.modules), and the cells
    below one that raised all the same (hn122's honest function below a first-try cell's error scored
    0/10). Then raise, if any cell raised, the error to tell: the first, or where `function` is not
    defined, that of a cell naming it (its def's own error, not an earlier cell's). An interrupt or
    exhausted memory ends it at once, as import_file does; an exit ends its cell alone, as in Jupyter."""
    spec = importlib.util.spec_from_file_location(name, path, loader=importlib.machinery.SourceFileLoader(name, path))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    namespace, flags = vars(module), 0
    # (Python's builtins, where the notebook's prelude puts display and the shown values' helper: exec gave a
    # namespace without them this module's own copy, and every cell that shows a value raised NameError, hn140)
    namespace["__builtins__"] = builtins
    # Jupyter's kernel runs cells as __main__: hn123's def under `if __name__ == "__main__":` in a cell
    # was "not defined", 0/10, where Restart & Run All defines it. (The module is still registered as
    # `name`, where the harness finds it.)
    # And sys.modules' __main__ is the notebook's, as in Jupyter, where pickle and typing look for its
    # names (rt156: pickle.dumps(get_derivative) failed, "attribute lookup get_derivative on __main__").
    namespace["__name__"] = "__main__"
    sys.modules["__main__"] = module
    raised: list[tuple[bytes, BaseException]] = []
    for first, text in cells_of(Path(path).read_bytes()):
        try:
            # (the lines before the cell left blank: its errors and tracebacks name the script's lines)
            code = compile(b"\n" * (first - 1) + text, path, "exec", flags=flags, dont_inherit=True)
            flags |= code.co_flags & _FUTURE_FLAGS if first == 1 else 0
            exec(code, namespace)
        except (MemoryError, KeyboardInterrupt):
            raise
        except BaseException as err:  # noqa: BLE001 - told once every cell has run
            # (sys.exit() too: Jupyter's kernel outlives it and nbgrader runs on; rt156's last cell's
            # `if __name__ == "__main__": sys.exit(main())` scored 0/10)
            raised.append((text, err))
    if raised:
        if not callable(namespace.get(function)):
            named = re.compile(rb"\b" + re.escape(function.encode()) + rb"\b")
            raise next((err for text, err in raised if named.search(text)), raised[0][1])
        raise raised[0][1]
    return module


def make_input(torch: Any, values: Any, dtype: str, device: str, layout: str) -> Any:
    """Build the tensor a student receives: the grid's exact values in one of four layouts."""
    t = torch.tensor(values, dtype=torch.float64).to(getattr(torch, dtype)).to(device)
    if layout == "strided" and t.dim() > 0:
        # A non-contiguous view: every other element of a wider buffer, the rest filled with junk; of two
        # dimensions or more, its last two laid out the other way round too, as x.t()'s are, which .view(-1)
        # refuses (hn149: every other element alone, .view(-1) took every input and raised on a transposed one).
        if t.dim() < 2:
            return torch.stack([t, torch.full_like(t, 7.0)], dim=-1)[..., 0]
        return torch.stack([t.mT, torch.full_like(t.mT, 7.0)], dim=-1)[..., 0].mT
    if layout == "requires_grad":
        return t.requires_grad_(True)
    if layout == "nonleaf":
        return t.clone().requires_grad_(True) * 1.0
    return t


class Numbers:
    """What numbers_of read of a tensor: its dtype, shape, device, sign and conjugate bits and layout, and
    its numbers' bytes in order (None where they could not be read)."""

    __slots__ = ("head", "values")

    def __init__(self, head: tuple[Any, ...], values: bytes | None) -> None:
        self.head, self.values = head, values

    @property
    def dtype(self) -> str:
        return str(self.head[0])

    @property
    def device(self) -> str:
        return str(self.head[2])

    def same(self, other: Numbers) -> bool:
        """The same head and bytes, both read: bit for bit (bytes' own ==, which nothing of the submission's
        can change: rt187 put its own `isnan` in numpy's globals, and numpy.array_equal, bound before its
        import, called any two arrays of floats equal)."""
        return self.head == other.head and self.values is not None and self.values == other.values

    def changed_from(self, then: Numbers) -> bool:
        """Whether an answer now holds other numbers than `then`: another head (its dtype or shape changed
        counts, readable or not: rt188's answer made bfloat16 went unseen), or numbers that differ as
        numbers, not as bytes alone: -0.0 made 0.0, or a NaN of other bits, is the same number (rt192: the
        book's x.grad.zero_() and a second backward gave -0.0 back as 0.0, and an honest half point was
        lost). Compared as the floats' bits, unsigned integers of their size (memoryview's own formats:
        it has none for bfloat16, and its float16 cannot be cast to, rv41: a changed float16 answer raised,
        and its case was the grader's error charged to the student), with this module's own builtins."""
        if self.head != then.head:
            return True
        if self.values is None or then.values is None or self.values == then.values:
            return False
        kind = _FLOAT_BITS.get(self.dtype)
        if kind is None or len(self.values) != len(then.values) or len(self.values) % kind[0]:
            return True
        unsigned, magnitude, infinity = kind[1:]
        now_bits, then_bits = _MEMORYVIEW(self.values).cast(unsigned), _MEMORYVIEW(then.values).cast(unsigned)
        for a, b in zip(now_bits, then_bits, strict=True):
            if a != b:
                a, b = a & magnitude, b & magnitude  # (signs aside: two zeros alike, and NaNs of either sign)
                if not ((a == 0 and b == 0) or (a > infinity and b > infinity)):
                    return True
        return False


def _float_bits(size: int, infinity: int) -> tuple[int, Any, int, int]:
    """(bytes, memoryview's unsigned format, the bits of a magnitude, infinity's): past infinity, a NaN."""
    return size, {1: "B", 2: "H", 4: "I", 8: "Q"}[size], (1 << (8 * size - 1)) - 1, infinity


# What a float dtype's numbers are as bits (a complex's parts are its float's; float8_e4m3fn has no infinity:
# 0x7F, past 0x7E, is its NaN; the fnuz kinds have no -0.0, and are compared as bytes).
_FLOAT_BITS = {"torch.float64": _float_bits(8, 0x7FF0000000000000),
               "torch.complex128": _float_bits(8, 0x7FF0000000000000),
               "torch.float32": _float_bits(4, 0x7F800000), "torch.complex64": _float_bits(4, 0x7F800000),
               "torch.float16": _float_bits(2, 0x7C00), "torch.complex32": _float_bits(2, 0x7C00),
               "torch.bfloat16": _float_bits(2, 0x7F80), "torch.float8_e5m2": _float_bits(1, 0x7C),
               "torch.float8_e4m3fn": _float_bits(1, 0x7E)}
_MEMORYVIEW = memoryview


def readers(torch: Any) -> Callable[[Any], Numbers | None]:
    """numbers_of, with everything it calls of torch's and numpy's bound now, before the submission is
    imported (it may put its own in their modules: rt188 rebound torch.Tensor.to)."""
    base, from_dlpack, to_dlpack = torch._C.TensorBase, numpy.from_dlpack, torch._C._to_dlpack
    keys_of, python, strided = torch._C._dispatch_keys, torch._C.DispatchKey.Python, torch.strided
    no_torch_function, excluded, python_keys = (torch._C.DisableTorchFunction, torch._C._ExcludeDispatchKeyGuard,
                                                canary.python_dispatch_keys(torch))
    dtype_of, device_of, layout_of, shape_of = (base.dtype.__get__, base.device.__get__, base.layout.__get__,
                                                base.shape.__get__)
    is_neg, is_conj, detach, to, view, size_of = (base.is_neg, base.is_conj, base.detach, base.to, base.view,
                                                  base.element_size)
    integers = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    tuple_of, bool_of = tuple, bool

    def bytes_of(t: Any) -> bytes:
        held = _Capsule()
        held.capsule = to_dlpack(t)
        return bytes(from_dlpack(held).tobytes())

    def numbers_of(t: Any) -> Numbers | None:
        """What the harness compares of a tensor (the caller's x, before and after; an answer, then and a
        call later), or None where not even its dtype and shape can be read. On the CPU its bytes go to
        numpy through DLPack, where no op of torch's runs: a kernel a submission registers for one runs
        below every op, dispatch modes off or not (rt185: two lines of torch.library gave aten::equal a
        kernel that called any two tensors equal, and hid x changed in place and an answer the next call
        overwrote, 10/10 for 9.5); the sign and conjugate bits, which DLPack does not carry, are in the
        head (rt187 made x a negative view of zeros, read through its own kernel for resolve_neg); a
        dtype numpy has not (bfloat16, float8: a GPU's grids have bfloat16) as integers of its size. Not
        read: a tensor whose numbers are a subclass's Python (its storage need not hold what it shows:
        rt187's wrapper read another buffer, and another's placeholder storage held whatever memory
        held). On a GPU the numbers come through torch's copy to the CPU, which such a kernel could
        answer for (a limit there)."""
        # (once into the guards, and the head's dtype, device and layout as torch's own objects, compared by
        # their C types' own ==: every kept answer is read again on later inputs (LADDER), and two entries into
        # the guards and the names made each time took 10 µs a read, now 5.5; Numbers.dtype and .device give
        # their names)
        with no_torch_function(), excluded(python_keys):
            try:
                dtype, device, layout = dtype_of(t), device_of(t), layout_of(t)
                head = (dtype, tuple_of(shape_of(t)), device, bool_of(is_neg(t)), bool_of(is_conj(t)), layout)
            except Exception:  # noqa: BLE001 - nothing of it can be read
                return None
            try:
                if keys_of(t).has(python) or layout != strided:
                    return Numbers(head, None)
                if device.type != "cpu":
                    t = to(detach(t), "cpu")
                try:
                    return Numbers(head, bytes_of(t))
                except Exception:  # noqa: BLE001 - a dtype numpy has not (bfloat16, float8): its bytes as integers'
                    return Numbers(head, bytes_of(view(t, integers[size_of(t)])))
            except Exception:  # noqa: BLE001 - a storage freed, a view of no integer: its numbers unread
                return Numbers(head, None)

    return numbers_of


class AnswerReader:
    """How an answer kept for the repeat is read, in two passes over every answer read at one moment: what its
    storage holds (numbers_of, a numpy array's by numpy's own methods) with whether it requires grad (rt197's
    later calls set it on every earlier answer, and the book's plot of one, .numpy(), then raised at home),
    torch's functions off; then, where torch's functions can show the caller other numbers than its storage
    holds (a mode of the submission's, a subclass's __torch_function__ or one put on torch.Tensor), those too,
    as snapshot reads them: rt197's TorchFunctionMode, entered at import, showed every earlier answer as one
    live buffer refilled by each call, while each answer's storage, all the harness read, was a clone never
    written again (10/10 for 9.5). The second pass runs the submission's code, so it comes after every storage
    read (rt198's mode wrote earlier answers back as the harness read the first of them). What is shown is
    compared only where it was read both times (rt198: an honest set_default_device, a mode, on one call alone
    made every answer's numbers another length, "changed"). Bound now, before the submission is imported."""

    def __init__(self, torch: Any, numbers_of: Callable[[Any], Numbers | None]) -> None:
        tensor, function_modes, dispatch_modes = torch.Tensor, torch._C._len_torch_function_stack, \
            torch._C._len_torch_dispatch_stack
        own_dict, default = type.__dict__["__dict__"].__get__, torch.Tensor.__dict__.get("__torch_function__")
        bfloat16, int16, to_bytes, kind_of = torch.bfloat16, torch.int16, bytes, type
        requires_grad_of, no_torch_function = torch._C.TensorBase.requires_grad.__get__, torch._C.DisableTorchFunction

        def storage(item: Any) -> Numbers | None:
            if _NDARRAY in _MRO(kind_of(item)):
                return _array_numbers(item)
            numbers = numbers_of(item)
            if numbers is None:
                return None
            try:
                with no_torch_function():
                    return Numbers((*numbers.head, bool(requires_grad_of(item))), numbers.values)
            except Exception:  # noqa: BLE001 - read as numbers_of reads it
                return numbers

        def shown(item: Any, numbers: Numbers) -> Numbers | None:
            if _NDARRAY in _MRO(kind_of(item)) or numbers.values is None or \
                    (kind_of(item) is tensor and not function_modes() and not dispatch_modes()
                     and own_dict(tensor).get("__torch_function__") is default):
                return None
            try:  # (the submission's code runs here: whatever it raises, its answer shows nothing)
                seen = item.detach().to("cpu").contiguous()
                return Numbers(numbers.head,
                               to_bytes((seen.view(int16) if seen.dtype == bfloat16 else seen).numpy().tobytes()))
            except Exception:  # noqa: BLE001
                return Numbers(numbers.head, b"")

        self.storage, self.shown = storage, shown


class _Capsule:
    """A DLPack capsule, for numpy (the canary's Numbers, the same way)."""

    __slots__ = ("capsule",)
    capsule: Any

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # the CPU


# How many cases back a case's answers are read again: a change is seen at the first rung after it, and
# a rung costs every answer a read (8 µs each; 1, 2, 4 ... 64 was 1,000 reads, 9 ms a submission). The
# next case's always, then one drawn afresh for each case from each band (rungs): rt197's file, knowing
# the ladder was 1, 3, 9, 27, 81, wrote over answers at every other distance and wrote them back before
# each rung, 10/10 for 9.5; now it would have to write back before any distance up to 81.
BANDS = ((1, 1), (2, 4), (5, 13), (14, 40), (41, 81))
LADDER = tuple(high for _, high in BANDS)  # (the farthest, LADDER[-1], is how many cases are kept)
_URANDOM = os.urandom


def rungs() -> tuple[int, ...]:
    """One distance from each band, drawn from the OS's randomness (not the seed: no two runs need read the
    same rungs, since an honest file's answers never change; a submission cannot see which these are without
    reading the harness's frames)."""
    drawn = _URANDOM(len(BANDS))
    return tuple(low + drawn[i] % (high - low + 1) for i, (low, high) in enumerate(BANDS))


def held(torch: Any, out: Any, x: Any) -> list[Any]:
    """What of an answer the harness keeps to read again: what the grid reads of it (reading: the tensor, a
    holder's one tensor, a gradient beside a number, both of a pair; rt189's kept .grad returned beside a
    number, and rt192's in a dict, a namedtuple and a list of its own kind, were never compared, and rt193's
    counter bumped beside an honest gradient was taken for the answer changed), or else the first few items
    of a holder, read by the base types' own methods, never the submission's."""
    how, found, _, _ = reading(torch, out, x)
    if how == "one":
        return [found]
    if how in ("pair", "beside"):
        # What reading took of the two (pair: the floating ones, since for a one-number x rt193's count of calls
        # kept beside the gradient is a pair; beside: the one of x's size), a numpy array as it was returned, not
        # the tensor the grid reads it as, a float64 copy of a float32 one: rt196's kept .grad's .numpy() beside
        # a number was never compared.
        dtype_of = torch._C.TensorBase.dtype.__get__
        two, values = two_values(torch, out, x), held_values(out, 2)
        if two is None or values is None:
            return [found] if how == "beside" else []
        return [original if _NDARRAY in _MRO(type(original)) else made
                for made, original in zip(two[0], values[0], strict=True)
                if isinstance(made, torch.Tensor) and (dtype_of(made).is_floating_point if how == "pair"
                                                       else made.numel() == x.numel())]
    if type(out) in (list, tuple) and x is not None:
        # (a loop's one-number gradients, read by listed_numbers: each of them, as the grid reads them all;
        # rt193's rows of one-number views of a kept .grad, overwritten later, were never compared)
        leaves = _tensor_leaves(torch, out, max(16 * x.numel(), 64))
        if leaves is not None and len(leaves) > 1 and sum(t.numel() for t in leaves) == x.numel():
            return leaves
    bases = _MRO(type(out))
    items = (tuple.__iter__(out) if tuple in bases else list.__iter__(out) if list in bases
             else dict.values(out) if dict in bases else None)
    return [out] if items is None else list(itertools.islice(items, KEPT_ITEMS))


# An answer kept: the answer, what its storage held then, and what torch's functions showed of it then (or None).
Kept = tuple[Any, Numbers, "Numbers | None"]


def _kept(reader: AnswerReader, items: list[Any]) -> list[Kept]:
    """Each of `items` that is a tensor or array with numbers (a subclass's too, where its storage holds
    them: rt185's kept buffer, returned as a subclass of its own, was never compared), once, beside a copy
    of them now; nothing else (no claim is made of it). Whether it is a tensor, and empty, is numbers_of's
    reading (a subclass's own `numel`, answering 0, kept its answers from the check: rv40)."""
    found, seen = [], set()
    for item in items:
        try:
            numbers = reader.storage(item)
        except Exception:  # noqa: BLE001 - unread, no claim
            continue
        if id(item) not in seen and numbers is not None and numbers.values and len(numbers.values) <= KEPT_BYTES:
            seen.add(id(item))
            found.append((item, numbers))
    return [(item, numbers, reader.shown(item, numbers)) for item, numbers in found]


def _array_numbers(array: Any) -> Numbers | None:
    """What a numpy array holds, as numbers_of reads a tensor (rt193: `leaf.grad.numpy()`, a view of a kept
    buffer, was never compared), by numpy's own methods as this module found them."""
    try:
        return Numbers((f"torch.{_DTYPE_OF(array).name}", _SHAPE_OF(array), "numpy", False, False, "strided"),
                       _TOBYTES(array))
    except Exception:  # noqa: BLE001 - an array of objects, say: unread
        return None


_NDARRAY = numpy.ndarray
# A class's own MRO, as type keeps it (a metaclass's __mro__ property is the submission's code: rv42's answered
# without ndarray once the next call had begun, and its overwritten arrays went unread).
_MRO = type.__dict__["__mro__"].__get__
_DTYPE_OF, _SHAPE_OF, _TOBYTES = numpy.ndarray.dtype.__get__, numpy.ndarray.shape.__get__, numpy.ndarray.tobytes
KEPT_ITEMS = 4  # (a pair, or a few; a list of Python numbers is read as no tensor, at once)
# An answer larger than this is not kept: an honest one holds at most a few hundred numbers (2 KiB), and
# one kept from each call of 64 cases would otherwise hold what a file's oversized answers make it.
KEPT_BYTES = 64 << 10


def _changed_since(reader: AnswerReader, lists: list[list[Kept]]) -> list[bool]:
    """Whether an answer kept earlier, in each of `lists`, holds other numbers than it did then (every
    storage read before anything shown is: AnswerReader); each one changed is kept from now on as it is
    now, so that one change is counted once (rt192: one answer changed once was counted at each reading
    after, "on 52 of 57 inputs")."""
    stored: list[list[Numbers | None]] = []
    for entries in lists:
        now = []
        for answer, _, _ in entries:
            try:
                now.append(reader.storage(answer))
            except Exception:  # noqa: BLE001 - unread, no claim (rv41: one that raised made its case the grader's error)
                now.append(None)
        stored.append(now)
    changed = []
    for entries, now in zip(lists, stored, strict=True):
        any_changed = False
        for i, ((answer, then, then_shown), numbers) in enumerate(zip(entries, now, strict=True)):
            try:
                if numbers is None:
                    continue
                shown = reader.shown(answer, numbers) if then_shown is not None else None
                if numbers.changed_from(then) or (shown is not None and then_shown is not None
                                                  and shown.changed_from(then_shown)):
                    entries[i], any_changed = (answer, numbers, shown if shown is not None else then_shown), True
            except Exception:  # noqa: BLE001 - unread, no claim
                continue
        changed.append(any_changed)
    return changed


def listed_numbers(torch: Any, out: Any, input_numel: int) -> tuple[Any, str] | None:
    """The numbers of a list or tuple, as a float64 array, and what held them ("": Python numbers,
    .tolist()'s; "tensors": one-number tensors, a loop's), or None for any other value. .tolist()'s
    answer is read as a numpy array's is (the contract still fails), where it was never read and such
    a file scored 4.24 beside a numpy array's 9 (ux115); a loop's one-number gradients (`[xi.grad for
    xi in ...]`) so too (hn125: 4.53), plain tensors alone (a subclass's reading is the submission's code)."""
    import numpy as np

    if type(out) not in (list, tuple):
        return None
    limit = max(16 * input_numel, 1)
    if _numbers_only(out, limit):
        try:
            data = np.asarray(out, dtype=np.float64)
        except (ValueError, OverflowError):  # ragged, or an int no float holds
            return None
        return (np.ascontiguousarray(data), "") if data.ndim <= protocol.MAX_DIMS else None
    # (as many numbers in all as x has, as a loop gives them: ux125's `return x, y, x.grad` of a 0-d x is no
    # loop's; rt168: a 2-d x's nested loop, [[x[i, j].grad ...] ...], and its rows' gradients, [r.grad ...])
    leaves = _tensor_leaves(torch, out, max(limit, 64))  # (an empty x's rows: [r.grad for r in x] of shape (6, 0))
    if leaves is not None and len(leaves) > 1 and sum(t.numel() for t in leaves) == input_numel:
        try:
            return np.concatenate([t.detach().to("cpu").reshape(-1).double().numpy() for t in leaves]), "tensors"
        except Exception:  # noqa: BLE001 - a tensor whose numbers cannot be had (a meta tensor)
            return None
    return None


def _tensor_leaves(torch: Any, out: list | tuple, limit: int) -> list[Any] | None:
    """The tensors of lists and tuples of them, in order (plain floating tensors alone: a subclass's
    reading is the submission's code), at most `limit` and protocol.MAX_DIMS deep; None for anything else."""
    leaves: list[Any] = []
    stack: list[tuple[Any, int]] = [(out, 0)]
    while stack:
        item, depth = stack.pop()
        if type(item) in (list, tuple) and depth < protocol.MAX_DIMS:
            if len(leaves) + len(stack) + len(item) > limit:
                return None
            stack.extend((child, depth + 1) for child in reversed(item))
        elif type(item) is torch.Tensor and item.dtype.is_floating_point:
            leaves.append(item)
        else:
            return None
    return leaves


def _numbers_only(out: list | tuple, limit: int) -> bool:
    """Whether `out` is lists or tuples of Python numbers alone (exactly those types: a subclass's
    __float__ is the submission's code), at most `limit` items in all, looked at without recursion."""
    seen, stack = 0, [out]
    while stack:
        for item in stack.pop():
            seen += 1
            if seen > 2 * limit + 1024:  # (numbers, and the lists that hold them: (6, 0) is six empty ones)
                return False
            kind = type(item)
            if kind is list or kind is tuple:
                stack.append(item)
            elif kind is not float and kind is not int and kind is not bool:
                return False
    return True


def reading(torch: Any, out: Any, x: Any) -> tuple[str, Any, str, str]:
    """How a returned value is read, for a grid's call and the recorded one alike, as (how, what is read,
    what held it, what the gradient came beside): ("one", the tensor, holder, "") for a tuple, list or dict
    of one tensor; ("pair", the two, holder, "") for two of x's size (replies.pair_choice picks one);
    ("beside", the tensor, holder, "number" or "one-number tensor") for a gradient beside one number;
    ("as is", out, "", "") for anything else."""
    one = held_values(out, 1)
    if one is not None and len(one[0]) == 1 and isinstance(one[0][0], torch.Tensor):
        return "one", one[0][0], one[1], ""
    two = two_values(torch, out, x)
    if two is not None and _pair_of_x_size(torch, two[0], x):
        return "pair", two[0], two[1], ""
    if two is not None and (gradient := gradient_beside_a_number(torch, two[0], x)) is not None:
        beside = "number" if any(type(t) in (float, int) for t in two[0]) else "one-number tensor"
        return "beside", gradient, two[1], beside
    return "as is", out, "", ""


def two_values(torch: Any, out: Any, x: Any) -> tuple[list[Any], str] | None:
    """A value returned together with another, as (the two, what held them: "tuple", "list" or "dict"),
    numbers of x's size made tensors of its dtype (a numpy array, .tolist()'s list); None for anything
    else. A tuple subclass (a namedtuple) and a dict's values are read with tuple's and dict's own
    methods: a subclass's are the submission's code. (hn127: a namedtuple, a dict, two numpy arrays or
    two lists scored 1/10, unread, where a tuple of the same scored 9.)"""
    values = held_values(out, 2) if x is not None else None
    if values is None or len(values[0]) != 2:
        return None
    items, held = values
    made = [_as_tensor(torch, item, x) for item in items]
    if x.numel() == 1 and x.dtype.is_floating_point and all(type(m) in (float, int) for m in made):
        # (a one-element x's .tolist() twice, two numbers: x's size both; beside a tensor, one stays a number)
        with contextlib.suppress(OverflowError):  # (10 ** 400)
            made = [torch.tensor(float(m), dtype=x.dtype).reshape(x.shape) for m in made]
    return made, held


def held_values(out: Any, most: int) -> tuple[list[Any], str] | None:
    """The values of a tuple (a namedtuple too), a list or a dict (an OrderedDict too) of at most `most`,
    and which of the three held them; None for anything else. Read with those types' own methods, by the
    type's own bases (rt171's object whose __class__ said tuple broke tuple's methods, a harness error
    charged to the student): a subclass's methods are the submission's code."""
    bases = _MRO(type(out))
    if tuple in bases and tuple.__len__(out) <= most:
        return list(tuple.__iter__(out)), "tuple"
    if list in bases and list.__len__(out) <= most:
        return list(list.__iter__(out)), "list"
    if dict in bases and dict.__len__(out) <= most:
        return list(dict.values(out)), "dict"
    return None


def _as_tensor(torch: Any, item: Any, x: Any) -> Any:
    """`item` as a tensor of x's shape and dtype where it is a numpy array or lists of numbers of x's
    size; as it is otherwise."""
    import numpy as np

    if isinstance(item, torch.Tensor) or type(item) in (float, int):
        return item
    numbers = _numbers_of(torch, item, x.numel())
    if numbers is None or numbers.size != x.numel():
        return item
    made = torch.from_numpy(np.ascontiguousarray(numbers).reshape(tuple(x.shape)))
    return made.to(x.dtype) if x.dtype.is_floating_point else made


def _numbers_of(torch: Any, out: Any, input_numel: int) -> Any:
    """The numbers of a numpy array (array_numbers) or of lists of numbers or tensors (listed_numbers),
    as a float64 array; None for anything else."""
    import numpy as np

    if np.ndarray in _MRO(type(out)):
        return array_numbers(out, input_numel)
    listed = listed_numbers(torch, out, input_numel)
    return None if listed is None else listed[0]


def _pair_of_x_size(torch: Any, two: list[Any], x: Any) -> bool:
    """Whether `two` (two_values) are two tensors of x's size (`return y, x.grad`, `return x, x.grad`):
    both are sent, and the grader, which knows the function's values and x's, reads the gradient
    (replies.pair_choice); here, by one rule or another, y detached beside x.grad was read only where
    sin(x) == x (hn125)."""
    return all(isinstance(t, torch.Tensor) and t.numel() == x.numel() for t in two)


def gradient_beside_a_number(torch: Any, two: list[Any], x: Any) -> Any:
    """Of a tensor of x's size beside a value of one number (two_values; hn125: sin_cos_norm's
    `return y, x.grad`, y its scalar; rt168: `return y.item(), x.grad`, a Python number), the tensor;
    None otherwise. x itself too: hn127's `return loss.item(), x.grad` was unread at an x of zeros, where
    cos(x²)'s gradient +0.0 is x (and x read is judged as any answer is)."""
    # (a number's own type alone: a subclass's reading is the submission's code)
    sized = [isinstance(t, torch.Tensor) and t.numel() == x.numel() for t in two]
    if sized.count(True) != 1:
        return None
    other = two[sized.index(False)]
    if not (type(other) in (float, int) or (isinstance(other, torch.Tensor) and other.numel() == 1)):
        return None
    return two[sized.index(True)]


def _identical(torch: Any, t: Any, x: Any) -> bool:
    """Whether `t` holds x's values exactly, the sign of each zero included (hn125: cos_square's
    gradient at 0.0 is -0.0, which equals 0.0, and `return y, x.grad` was read as y there)."""
    try:
        with torch.no_grad():
            mine, theirs = x.detach().to("cpu").reshape(-1), t.detach().to("cpu").reshape(-1)
            return bool(t.dtype == x.dtype and torch.equal(theirs, mine) and
                        (not mine.is_floating_point() or torch.equal(torch.signbit(theirs), torch.signbit(mine))))
    except Exception:  # noqa: BLE001 - a subclass whose comparison raises: left to the tracking rule
        return False


def snapshot(torch: Any, out: Any, input_numel: int, arrays: list, x: Any = None) -> dict[str, Any]:
    """Describe a returned value and queue its raw bytes; taken right after the call, because a
    returned x.grad can change later (gradient accumulation)."""
    if out is None:
        return {"kind": "none"}
    how, found, held, beside = reading(torch, out, x)
    if how == "one":
        # torch.autograd.grad's own answer, a tuple of the one gradient: its numbers are read as a
        # numpy array's are (the contract still fails), where they were never read and such a file
        # scored 1/10 beside a numpy array's 9 (a hunter's; rt171: a namedtuple or a dict of one)
        inner = snapshot(torch, found, input_numel, arrays)
        if inner["kind"] == "tensor":
            return {**inner, "kind": "wrapped", "type": held}
        return {"kind": "other", "type": type(out).__name__, "repr": _safe_text(out, 200)}
    if how == "pair":
        both = [snapshot(torch, t, input_numel, arrays) for t in found]
        if all(inner["kind"] == "tensor" for inner in both):
            return {"kind": "pair", "type": held, "pair": both}
    if how == "beside":
        # the gradient is read (ux117's tuple scored 1/10 beside .tolist()'s 9); the canary judges it
        # as any answer.
        inner = snapshot(torch, found, input_numel, arrays)
        if inner["kind"] == "tensor":
            return {**inner, "kind": "wrapped", "type": held, "held": 2, "beside": beside}
    if isinstance(out, torch.Tensor):
        info: dict[str, Any] = {
            "kind": "tensor",
            "dtype": str(out.dtype).removeprefix("torch."),
            "shape": list(out.shape),
            "device": out.device.type,
            "requires_grad": bool(out.requires_grad),
        }
        limit = max(16 * input_numel, 1 << 20)
        # (no numbers for more dimensions than the wire takes: rt147's 9-d answer was a "malformed" reply,
        # a crash, where its shape alone says what is wrong)
        if info["dtype"] in protocol.WIRE_DTYPES and out.numel() <= limit and out.layout == torch.strided and \
                out.dim() <= protocol.MAX_DIMS:
            try:
                t = out.detach().to("cpu").contiguous()
                raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
                data = raw.numpy().tobytes()
            except Exception:  # noqa: BLE001 - a tensor subclass whose numbers numpy cannot have
                # (a hunter's torch.export module returned one, and the harness's own failure was
                # charged to the student as "GraderHarnessError: Traceback (most recent call last):")
                return {"kind": "other", "type": type(out).__name__,
                        "repr": "a tensor subclass whose numbers cannot be read"}
            arrays.append((info["dtype"], tuple(t.shape), data))
            info["array"] = len(arrays) - 1
        return info

    if isinstance(out, (bool, int, float)):
        try:
            value = float(out)
        except Exception:  # noqa: BLE001 - 10 ** 400, or a subclass's __float__ that raises
            # (a red team's 10 ** 400 was told "your function raised GraderHarnessError")
            return {"kind": "other", "type": type(out).__name__, "repr": _safe_text(out, 200)}
        return {"kind": "number", "value": value, "type": type(out).__name__}
    listed = listed_numbers(torch, out, input_numel)
    if listed is not None:
        data, of = listed
        arrays.append(("float64", data.shape, data.tobytes()))
        return {"kind": "list", "type": type(out).__name__, "shape": list(data.shape), "array": len(arrays) - 1,
                **({"of": of} if of else {})}
    data = array_numbers(out, input_numel)
    if data is not None:
        arrays.append(("float64", data.shape, data.tobytes()))
        return {"kind": "ndarray", "dtype": str(out.dtype), "shape": list(out.shape), "array": len(arrays) - 1}
    return {"kind": "other", "type": type(out).__name__, "repr": _safe_text(out, 200)}


def array_numbers(out: Any, input_numel: int) -> Any:
    """A numpy array's numbers as float64 (a `.numpy()` answer, read as its tensor would be; the contract
    still fails), or None for any other value."""
    import numpy as np

    if np.ndarray in _MRO(type(out)) and out.dtype.kind in "fiub" and out.size <= max(16 * input_numel, 1) and \
            out.ndim <= protocol.MAX_DIMS:
        return np.ascontiguousarray(out, dtype=np.float64)
    return None


def describe_error(err: BaseException, path: str) -> dict[str, Any]:
    """What the parent is told of an exception: the student's, whose every attribute may be anything
    (rt157's SyntaxError of text 123 and a class whose __name__ raised ended the child, status 70: an
    honest function above them scored 0)."""
    try:
        return _described(err, path)
    except Exception:  # noqa: BLE001 - the student's exception, not ours: said as one that could not be read
        return {"type": "Exception", "message": "(an exception whose description raised in turn)", "frames": [],
                "syntax": None, "via": []}


def _described(err: BaseException, path: str) -> dict[str, Any]:
    chain = _traceback(err.__traceback__)
    frames = _frames_in(chain, path)
    location = None
    if isinstance(err, SyntaxError) and err.filename == path:
        text = err.text.rstrip() if isinstance(err.text, str) else ""
        indent = len(text) - len(text.lstrip())
        code, cut = unechoed(text.lstrip())  # (a notebook's `await` quoted inside the output history's call)
        given = err.offset if isinstance(err.offset, int) else None
        offset = max(1, given - cut) if given and cut and given > indent + cut else given
        location = {"line": err.lineno if isinstance(err.lineno, int) else None, "offset": offset,
                    "code": (text[:indent] + code)[:200]}
    return {
        "type": type.__dict__["__name__"].__get__(type(err)),  # (not a metaclass's own __name__)
        # (a file the student's code looked for beside it, by the name it gave: ux126 was shown the sandbox's
        # folder, "/tmp/grader-734-a9_tabwb/config.txt", which told a student nothing)
        "message": _safe_text(err, MAX_MESSAGE_CHARS, use_str=True).replace(os.path.dirname(path) + "/", ""),
        "frames": frames,
        "syntax": location,
        "via": _starting_processes(chain),
    }


def _traceback(tb: Any) -> list[Any]:
    """A traceback's entries, outermost first (following tb_next reads no frame)."""
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    return chain


# How far from where an error was raised a module that starts processes is looked for: the deepest
# entries are the process machinery's own (a DataLoader's frames were the 7th from the end, a spawn
# Pool's 14 entries deep all multiprocessing's).
PROCESS_DEPTH = 16


def _starting_processes(chain: list[Any]) -> list[str]:
    """The PROCESS_MODULES among the last PROCESS_DEPTH entries of a traceback. Only those: the audit
    hook walks each frame's callers when it is read (confine.py), and reading every frame of a
    recursion error's thousand made grading such a file 6 times slower (1.4 s to 9 s)."""
    found: list[str] = []
    for tb in chain[-PROCESS_DEPTH:]:
        try:
            name = dict.get(tb.tb_frame.f_globals, "__name__")
        except (PermissionError, TypeError):  # (the canary's frames; globals that are no dict)
            name = None
        if type(name) is str:  # (exactly: a str subclass of the submission's raised in its startswith, rt129)
            found += [module for module in PROCESS_MODULES
                      if (str.__eq__(name, module) or str.startswith(name, module + ".")) and module not in found]
    return found


def _frames_in(chain: list[Any], path: str, keep: int = 5) -> list[dict[str, Any]]:
    """The last `keep` frames of a traceback (its entries, `_traceback`) that ran the file at `path`,
    oldest first. Read from the end, since the audit hook walks each frame's callers when it is read
    (confine.py): a recursion error's thousand frames cost five reads. A frame the hook refuses (the
    canary's) is skipped."""
    found: list[dict[str, Any]] = []
    for tb in reversed(chain):
        try:
            code = tb.tb_frame.f_code
        except PermissionError:
            continue
        if code.co_filename == path:
            line = unechoed(linecache.getline(path, tb.tb_lineno).strip())[0] if tb.tb_lineno else ""
            found.append({"line": tb.tb_lineno, "code": line[:200], "function": code.co_name})
            if len(found) == keep:
                break
    return found[::-1]


def _safe_text(value: Any, limit: int, use_str: bool = False) -> str:
    try:
        text = str(value) if use_str else repr(value)
    except BaseException:  # noqa: BLE001 - a student's __repr__ may raise anything
        text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[:limit] + "…"


if __name__ == "__main__":
    main(sys.argv)
