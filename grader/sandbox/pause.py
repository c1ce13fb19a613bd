"""The child paused by the grader's watches: stopped while any of them holds it, continued once none does.

Two watches pause a child: the folder's count (folder.FolderWatch, for one moment of what it holds)
and the CPU share where no cpu cgroup bounds it (threads.ThreadWatch). Each sending its own SIGCONT,
one ended the other's pause: every count of rt165's spinner's folder cut its CPU pause short, and it
kept 1.7 CPUs where it was held to one. Signals go through a pidfd, taken while the child is alive,
so a pause never reaches a process that took its pid later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading


class Pauses:
    def __init__(self, pid: int) -> None:
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # a kernel before 5.3, or it has ended: never paused
            self._pidfd = None
        self._held = 0
        self._lock = threading.Lock()

    @property
    def possible(self) -> bool:
        return self._pidfd is not None

    def hold(self) -> bool:
        """Stop the child (all its threads), unless another hold has already; False where it cannot
        be (it has ended, or this was closed): then there is nothing to release."""
        with self._lock:
            if self._pidfd is None:
                return False
            if self._held == 0:
                try:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGSTOP)
                except OSError:
                    return False
            self._held += 1
            return True

    def release(self) -> None:
        """Continue the child once no hold is left."""
        with self._lock:
            self._held -= 1
            if self._held == 0 and self._pidfd is not None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGCONT)

    def close(self) -> None:
        with self._lock:
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
