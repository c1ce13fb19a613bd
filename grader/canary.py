"""The canary's secret derivative: one formula, evaluated by the parent (numpy) and child (torch).

Under the canary, the backward (and forward-mode jvp) of the exercise's primitive returns
    secret(x) = derivative(x) + b * (0.75 + 0.25 * tri(k3 * sin(k1 * x + k2)))
instead of derivative(x). tri is a triangle wave, so the term is a keyed hash of x: continuous (a
rounding difference between numpy and torch cannot flip it) but with no closed form a two-point fit
could recover. Its size stays within [0.5, 1] * |b| >= 0.15, so at every x the secret differs
clearly from the true derivative: which inputs tell the two apart never depends on the draw, and
neither do the verdict or the words of the feedback. The parent draws a fresh secret for every run
and never records it, so knowing past secrets is worthless.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
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

    @classmethod
    def draw(cls) -> Secret:
        rng = secrets.SystemRandom()
        return cls(
            b=rng.choice((-1, 1)) * rng.uniform(0.3, 0.6),
            k1=rng.uniform(5.0, 20.0),
            k2=rng.uniform(0.0, 6.283),
            k3=rng.uniform(20.0, 60.0),
        )

    def to_wire(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Secret:
        return cls(**{k: float(raw[k]) for k in ("b", "k1", "k2", "k3")})


def secret_derivative(x: Any, secret: Secret, derivative: str, xp: Any) -> Any:
    """Evaluate the secret derivative on x with array module xp (numpy, or torch in float64);
    `derivative` is the primitive's true derivative as an expression of u (formula.py)."""
    u = xp.sin(x * secret.k1 + secret.k2) * secret.k3
    tri = 1.0 - 4.0 * xp.abs(u - xp.floor(u) - 0.5)
    return evaluate(derivative, xp, u=x) + secret.b * (0.75 + 0.25 * tri)
