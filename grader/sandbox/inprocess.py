"""The in-process seam: the child's own Runner, driven in this process, for a function that already
lives here (the notebook self-check). Every request and reply still goes through the wire format
and the same validation, so the checks see exactly what they would see from a sandbox child.

No isolation and no time limits: this runs a student's function inside the student's own kernel,
for their own self-check. Nothing graded this way is a grade of record; `grader grade` and
Gradescope always use the sandbox.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from grader.observations import Ended
from grader.sandbox import gpus, protocol
from grader.sandbox.oracle import Oracle
from grader.sandbox.session import Requests, SessionEnded


class InProcessSession(Requests):
    """The face of sandbox.session.Session that probe uses, answering from this process."""

    skip: frozenset[str] = frozenset()
    package = ""  # a function, imported already
    record_key: bytes = b""  # no audit hook here
    outer_layers: tuple[str, ...] = ("none: graded in this process (a self-check, not a grade of record)",)
    memory_counted = False

    def __init__(self, function: Callable[..., Any]) -> None:
        import torch

        self.torch = torch
        self.function = function
        code = getattr(function, "__code__", None)
        self.path = Path(code.co_filename if code is not None else "<function>")
        self.ended: Ended | None = None
        self._runner: Any = None
        self._optimized = True
        self._profiled_runs = 1
        self._stance: Any = None
        self._replies: collections.deque[bytes] = collections.deque()
        self.oracle = Oracle()  # a thread of this process, here: the self-check is no grade of record
        self.gpus = gpus.visible()
        self._queue({"event": "hello", "torch": torch.__version__, "cuda_built": torch.backends.cuda.is_built(),
                     "import_s": 0.0, "sources": protocol.SOURCES})

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self.ended:
            raise SessionEnded(self.ended)
        from grader.sandbox import child

        header, payload = _round_trip(header, payload)
        if header["op"] == "setup":
            self._runner = child.Runner(self.torch, header, self.oracle.channel)
            self._queue({"event": "confined", "layers": []})
            reference = child.path_and_source(header.get("reference"))
            if reference is not None:  # (after "confined", as the child sends it)
                self._queue({"event": "reference",
                             "call": self._runner.reference_pass(*reference, header["trace_x"])})
            self._optimized = self.torch._C._get_graph_executor_optimize()
            self.torch._C._set_graph_executor_optimize(False)  # as in the child; restored on close
            # (the flag is this thread's alone: TorchScript is kept profiling in every thread, as in the child)
            jit: Any = self.torch._C  # (torch's stubs type the count as a size)
            self._profiled_runs = int(jit._jit_set_num_profiled_runs(child.PROFILED_RUNS))
            # Compiled functions run eagerly, as in the child (where dynamo is disabled): a compiled
            # graph calls the canary's operator itself, which asks the oracle only inside planned calls.
            self._stance = self.torch.compiler.set_stance("force_eager")
            self._runner.function = self.function
            self._queue({"event": "ready", "load_s": 0.0})
        elif header["op"] != "exit":
            try:
                reply, arrays = self._runner.serve(header, payload)
            except Exception:  # noqa: BLE001 - as in the child: our harness failed around the call
                import traceback

                reply, arrays = {"event": "harness_error", "detail": traceback.format_exc()[-2000:]}, []
            specs, blob = protocol.pack_arrays(arrays)
            self._queue({**reply, "arrays": specs}, blob)

    def receive(self, timeout: float, doing: str) -> tuple[dict[str, Any], bytes]:
        if self.ended:
            raise SessionEnded(self.ended)
        if not self._replies:
            self._end(Ended("protocol", f"sent nothing back during {doing}"))
        return protocol.decode(self._replies.popleft())

    def _end(self, ended: Ended) -> NoReturn:
        self.ended = ended
        raise SessionEnded(ended)

    def close(self) -> None:
        self._replies.clear()
        if self._runner is not None:  # give the student's torch its own sin back
            self._runner.canary.remove()
            self._runner.recorder.remove()
            self._runner = None
            self.torch._C._set_graph_executor_optimize(self._optimized)
            jit: Any = self.torch._C
            jit._jit_set_num_profiled_runs(self._profiled_runs)
            self._stance.__exit__(None, None, None)
        self.oracle.close()

    def output(self) -> tuple[str, int, str, int]:
        return "", 0, "", 0  # printed straight into the notebook, where the student sees it

    def events(self) -> tuple[str, ...]:
        return ()  # no audit hook in the student's own kernel

    def _queue(self, header: dict[str, Any], payload: bytes = b"") -> None:
        self._replies.append(protocol.encode(header, payload))


def _round_trip(header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    """What the child would have read: the request as encoded on the wire."""
    return protocol.decode(protocol.encode(header, payload))
