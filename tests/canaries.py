"""The child's canary installed in this process, with an oracle of its own (a thread of this
process, as in the in-process self-check), for tests that exercise the canary without a sandbox."""

from __future__ import annotations

from typing import Any

from grader.canary import Secret
from grader.sandbox import canary
from grader.sandbox.oracle import Oracle


class InProcessCanary:
    """canary.Canary's operators, plus `plan` and `select` as the harness and probe use them."""

    def __init__(self, torch: Any, secret: Secret, primitive: str = "sin", derivative: str = "cos(u)",
                 traced: tuple[list[bool], list[Any]] | None = None) -> None:
        self.oracle = Oracle()
        self.oracle.start(secret)
        self.installed = canary.install(torch, primitive, derivative, self.oracle.channel, traced=traced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.installed, name)

    def plan(self, *flags: bool) -> None:
        """A case whose calls are secret where `flags` say (the grader plans, the harness begins it)."""
        self.installed.case(self.oracle.expect(flags))

    def select(self, on: bool) -> None:
        """The following calls are secret (on) or plain, as one planned call."""
        self.plan(on)
        self.installed.next_call()

    def remove(self) -> None:
        self.installed.remove()
        self.oracle.close()
