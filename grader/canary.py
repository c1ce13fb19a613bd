"""The canary's secret derivative: one formula, evaluated by the parent (numpy) and child (torch).

On a secret call, autograd's derivative of the exercise's primitive (sandbox/canary.py) is
    secret(u) = derivative(u) + b * (0.75 + 0.25 * tri(w(u))),   w(u) = sum_i a_i sin(ω_i u + φ_i)
instead of derivative(u), with M = 16 random terms (computed as derivative(u) + b - b * |w mod 1 -
0.5|, the same function in fewer ops). tri is a triangle wave, so the term is a keyed
hash of u with 49 numbers behind it: continuous (a rounding difference between numpy and torch
cannot flip it), and neither fitted from samples of autograd elsewhere (a 4-number form was: the
third red team recovered it to 1e-12 from one grid of samples) nor interpolated to a float64
tolerance. Its size stays within [0.5, 1] * |b| >= 0.15, so at every u the secret differs clearly
from the true derivative: which inputs tell the two apart never depends on the draw, and neither
do the verdict or the words of the feedback. Its slope, |b| * sum a_i ω_i <= 0.6 * 30 = 18, stays
under 20, about that of a chain-rule factor, so float32 rounding of an intermediate (x² in cos(x²))
moves an honest answer by little (verdict.py allows for it). The parent draws a fresh secret for
every run and never records it, so knowing past secrets is worthless.

Which calls of a case are secret travels sealed: each request carries a random nonce and the flags
XORed with a keyed hash of it, so a submission that reads the request pipe ahead of the harness
learns nothing; only the harness holds the key.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# At import, not lazily: the sandbox child imports this before it is confined, and an import of the
# grader after that is recorded as a suspicious event.
from grader.formula import evaluate

# Audit events that are ways towards the secret (sandbox/confine.py records them apart from the
# ordinary ones, which cannot displace them; the batch summary asks a TA to look at them). The
# record keeps 50 distinct ones and then says there were more (sandbox/session.py).
MORE_ROUTES = "more ways towards the secret"
SECRET_ROUTES = ("gc.", "sys._current_frames", "sys.settrace", "sys.setprofile", "ctypes.", "read a frame",
                 "opened a process's memory", "imported grader", "sys.addaudithook", "sys.remote_exec", MORE_ROUTES)


def is_secret_route(event: str) -> bool:
    return event.startswith(SECRET_ROUTES)


# The primitives the canary can watch, with half their second derivative in u (its double backward),
# halved so that the kernel multiplies tensors only (vmap of an empty batch fails on tensor * 0.5).
HALF_SECOND = {"sin": "-0.5 * sin(u)", "cos": "-0.5 * cos(u)", "tanh": "-tanh(u) * (1 - tanh(u) ** 2)"}
TERMS = 16
MAX_SLOPE = 20.0  # |d secret / du - d derivative / du| stays below this (see the module's docstring)
MIN_MOVE, MAX_MOVE = 0.15, 0.6  # |secret(u) - derivative(u)| always lies between these (b's range, halved)


@dataclass(frozen=True)
class Secret:
    b: float
    omega: tuple[float, ...]
    phi: tuple[float, ...]
    amp: tuple[float, ...]
    key: bytes = field(default=bytes(16), repr=False)  # seals which calls are secret

    @classmethod
    def draw(cls, rng: random.Random | None = None) -> Secret:
        """A fresh secret (from the system's randomness; a seeded `rng` only in tests)."""
        rng = rng or secrets.SystemRandom()
        weights = [rng.uniform(0.2, 1.0) for _ in range(TERMS)]
        total = rng.uniform(3.0, 6.0)
        return cls(
            b=rng.choice((-1, 1)) * rng.uniform(2 * MIN_MOVE, MAX_MOVE),
            omega=tuple(rng.uniform(0.5, 5.0) for _ in range(TERMS)),
            phi=tuple(rng.uniform(0.0, 6.283) for _ in range(TERMS)),
            amp=tuple(total * w / sum(weights) for w in weights),
            key=bytes(rng.getrandbits(8) for _ in range(16)),
        )

    @classmethod
    def offset(cls, by: float) -> Secret:
        """Not a secret: the true derivative plus `by` everywhere (no terms: w is 0, so the formula
        adds b - b/2), to measure how far an exercise's gradient moves with its primitive's derivative."""
        return cls(b=2 * by, omega=(0.0,), phi=(0.0,), amp=(0.0,))

    def to_wire(self) -> dict[str, Any]:
        return {"b": self.b, "omega": list(self.omega), "phi": list(self.phi), "amp": list(self.amp),
                "key": self.key.hex()}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Secret:
        terms = {k: tuple(float(v) for v in raw[k][:TERMS]) for k in ("omega", "phi", "amp")}
        return cls(float(raw["b"]), **terms, key=bytes.fromhex(raw["key"]))

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
    omega, phi, amp = (xp.asarray(v, dtype=xp.float64) for v in (secret.omega, secret.phi, secret.amp))
    w = xp.sin(x[..., None] * omega + phi) @ amp
    # b * (0.75 + 0.25 * tri(w)) with tri(w) = 1 - 4 |w - floor(w) - 0.5|, in the child's ops
    return evaluate(derivative, xp, u=x) + secret.b - secret.b * xp.abs(xp.remainder(w, 1.0) - 0.5)
