"""The canary's secret derivative: one formula, evaluated by the parent (numpy) and child (torch).

On a secret call, autograd's derivative of the exercise's primitive (sandbox/canary.py) is
    secret(x) = derivative(x) + b * (0.75 + 0.25 * tri(k3 * sin(k1 * x + k2)))
instead of derivative(x). tri is a triangle wave, so the term is a keyed hash of x: continuous (a
rounding difference between numpy and torch cannot flip it) and with no closed form a few samples
could recover. Its size stays within [0.5, 1] * |b| >= 0.15, so at every x the secret differs
clearly from the true derivative: which inputs tell the two apart never depends on the draw, and
neither do the verdict or the words of the feedback. Its slope stays under 20, about that of a
chain-rule factor, so float32 rounding of an intermediate (x² in cos(x²)) moves an honest answer
by no more than the tolerance allows. The parent draws a fresh secret for every run and never
records it, so knowing past secrets is worthless.

Which calls of a case are secret travels sealed: each request carries a random nonce and the flags
XORed with a keyed hash of it, so a submission that reads the request pipe ahead of the harness
learns nothing; only the harness holds the key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# At import, not lazily: the sandbox child imports this before it is confined, and an import of the
# grader after that is recorded as a suspicious event.
from grader.formula import evaluate


@dataclass(frozen=True)
class Secret:
    b: float
    k1: float
    k2: float
    k3: float
    key: bytes = field(default=bytes(16), repr=False)  # seals which calls are secret

    @classmethod
    def draw(cls) -> Secret:
        rng = secrets.SystemRandom()
        return cls(
            b=rng.choice((-1, 1)) * rng.uniform(0.3, 0.6),
            k1=rng.uniform(2.0, 5.0),
            k2=rng.uniform(0.0, 6.283),
            k3=rng.uniform(2.0, 6.0),
            key=secrets.token_bytes(16),
        )

    def to_wire(self) -> dict[str, Any]:
        return {"b": self.b, "k1": self.k1, "k2": self.k2, "k3": self.k3, "key": self.key.hex()}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Secret:
        return cls(**{k: float(raw[k]) for k in ("b", "k1", "k2", "k3")}, key=bytes.fromhex(raw["key"]))

    def seal(self, flags: Sequence[bool]) -> tuple[int, int]:
        """(nonce, sealed) for a case whose calls are secret where `flags` say."""
        nonce = secrets.randbits(63)
        mask = sum(1 << i for i, flag in enumerate(flags) if flag)
        return nonce, mask ^ self._pad(nonce)

    def unseal(self, nonce: int, sealed: int, count: int) -> tuple[bool, ...]:
        mask = sealed ^ self._pad(nonce)
        return tuple(bool(mask >> i & 1) for i in range(count))

    def _pad(self, nonce: int) -> int:
        return int.from_bytes(hashlib.blake2b(nonce.to_bytes(8, "big"), key=self.key, digest_size=4).digest(), "big")


def secret_derivative(x: Any, secret: Secret, derivative: str, xp: Any) -> Any:
    """Evaluate the secret derivative on x with array module xp (numpy, or torch in float64);
    `derivative` is the primitive's true derivative as an expression of u (formula.py)."""
    u = xp.sin(x * secret.k1 + secret.k2) * secret.k3
    tri = 1.0 - 4.0 * xp.abs(u - xp.floor(u) - 0.5)
    return evaluate(derivative, xp, u=x) + secret.b * (0.75 + 0.25 * tri)
