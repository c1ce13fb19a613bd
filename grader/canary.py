"""The canary's secret derivative: one formula, evaluated in the grader's process only.

On a secret call, autograd's derivative of the exercise's primitive (sandbox/canary.py) is
    secret(u) = derivative(u) + b * (0.75 + c * tri(w(u)) + grain(u)),   w(u) = sum_i a_i sin(ω_i u + φ_i)
instead of derivative(u), with M = 16 random terms; tri is a triangle wave, 1 - 4 |w mod 1 - 0.5|.
The smooth part alone could be read off autograd elsewhere: a red team rebuilt it to 1e-12 from
samples 0.01 apart (degree-7 interpolation, the triangle wave unfolded) and passed as "proven"
with no autograd within 0.01 of x. The grain is what x's own neighbourhood holds and nothing else
does: for each of two lattices, one per precision an answer is judged in, a keyed hash of the two
lattice points round u, mapped to [-1, 1) and interpolated linearly (continuous, so a rounding
difference between numpy and torch moves it by little), weighted so that its heights are 5.6 to 11
times that precision's slack round R* in the exercise at hand (grain_size; for sin, steps 2^-10
and 2^-24, weights 2^-7 and 2^-23). A table of autograd's values must hold the two lattice points
round u, or lie within about a tenth of a step of it elsewhere, to pass (bench/table_reach.py); and
the oracle now answers the move only within float32's rounding of the input's own numbers
(sandbox/oracle.py), so a table gathered anywhere else holds the true derivative alone.
That is as near as the slope bound lets each precision's tolerance, 20 times, tell two points apart.
The hash is SipHash-2-4, a keyed pseudorandom function (on 64-bit integers: exact, and the same in
numpy and torch), with a 128-bit key per lattice a run: no height tells anything of another, and two
points share one with a chance of 2^-64. (Its shift is logical: an arithmetic one, as >> is on
signed integers, gives z and ~z the same z ^ (z >> s), and a second red team read the grain at x
off autograd at -x - 2^-9, where it was the same for every key.)

The move stays within [0.5, 1] * |b| >= 0.15 (c = 0.25 minus the grain's weights), so at every u
the secret differs clearly from the true derivative: which inputs tell the two apart never depends
on the draw, and neither do the verdict or the words of the feedback. Its slope stays under 20:
|b| * sum a_i ω_i <= 0.6 * 6 * 1.5 = 5.4 for the smooth part, 9.6 and 2.4 for the lattices, about
that of a chain-rule factor, so float32 rounding of an intermediate (x² in cos(x²)) moves an honest
answer by little (verdict.py allows for it). The parent draws a fresh secret for every run and
never records it, so knowing past secrets is worthless.

The secret never enters the sandbox child: the grader's process answers the child's kernel with
the move, secret_move, for the numbers it asks about, on the calls the grader chose to be secret
(sandbox/oracle.py). A submission that reads every byte of its own process finds no formula there.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# At import, not lazily: the sandbox child imports this before it is confined, and an import of the
# grader after that is recorded as a suspicious event.
from grader.formula import evaluate

# Audit events that are ways towards the secret (sandbox/confine.py records them apart from the
# ordinary ones, which cannot displace them; the batch summary asks a TA to look at them). The
# record keeps 50 distinct ones and then says there were more (sandbox/session.py).
MORE_ROUTES = "more ways towards the secret"
FLOODED = "flooded the sandbox's record"  # more lines than the grader reads (sandbox/session.py)
FORGED_LINES = "forged lines in the sandbox's record"  # lines written into it by the submission
GC_TURNED_ON = "gc.enable while the canary's secret was in use"  # an audit event of the canary's (sandbox/canary.py)
SECRET_ROUTES = ("gc.", "sys._current_frames", "sys.settrace", "sys.setprofile", "ctypes.", "read a frame",
                 "opened a process's memory", "imported grader", "sys.addaudithook", "sys.remote_exec", MORE_ROUTES,
                 FLOODED, FORGED_LINES)


def is_secret_route(event: str) -> bool:
    return event.startswith(SECRET_ROUTES)


# The primitives the canary can watch, with half their second derivative in u (its double backward),
# halved so that the kernel multiplies tensors only (vmap of an empty batch fails on tensor * 0.5).
HALF_SECOND = {"sin": "-0.5 * sin(u)", "cos": "-0.5 * cos(u)", "tanh": "-tanh(u) * (1 - tanh(u) ** 2)"}
TERMS = 16
MAX_SLOPE = 20.0  # |d secret / du - d derivative / du| stays below this (see the module's docstring)
MIN_MOVE, MAX_MOVE = 0.15, 0.6  # |secret(u) - derivative(u)| always lies between these (b's range, halved)
MAX_OMEGA = 1.5  # the smooth term's slope, |b| * sum a_i ω_i <= 0.6 * 6 * 1.5 = 5.4
# The grain: two lattices of keyed heights, one per precision an answer can be judged in, their steps
# and weights powers of two (so that u times the scale is exact in numpy and torch alike), sized
# from the exercise's tolerances (grain_size): each lattice's least height, 0.3 times its weight,
# is 5.6 to 11 times that precision's slack round R* (20 rtol (1 + MAX_MOVE) per unit of the chain
# rule's factor), and its slope, 2 * 0.6 * weight * scale, at most its share of MAX_SLOPE (the
# smooth term takes 5.4). For sin (rtol 1e-5 and 1e-10): steps 2^-10 and 2^-24, weights 2^-7, 2^-23.
GRAIN_DTYPES = ("float32", "float64")
GRAIN_SLOPES = (9.6, 2.4)
GRAIN_MARGIN = 600.0
_DEFAULT_LOOSENESS = (1e-5, 1e-10)  # sin's float32 and float64 rtol
# The grain's hash: SipHash-2-4 (a keyed pseudorandom function, its authors' choice where outputs
# are seen; 1-3, Python's string hash, is meant for hash tables) of the lattice point, on signed
# 64-bit integers so that numpy and torch compute it alike (additions wrap, and a right shift is
# made logical by a mask). It was two rounds of xor with a key, xorshift and a multiplier: the 30 or
# so top bits of each height that asks far from x reveal were then two multiplies from the keys,
# which a red team saw as a way to the keys and so to the grain at x, asked nowhere near it. The
# constants are SipHash's ("somepseudorandomlygeneratedbytes").
_SIP = tuple(c - (1 << 64) * (c >> 63) for c in (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261,
                                                   0x7465646279746573))
_LENGTH = 8 << 56  # the message's length, 8 bytes, in SipHash's last word


def grain_size(tolerances: Mapping[str, Any] | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """(scales, weights) of the grain's two lattices for an exercise's tolerances (objects with atol
    and rtol, by dtype): a red team found that weights sized for sin's float64 tolerance hid below
    the slack of an exercise graded 100 times looser, where autograd 1e-3 from x was proven."""
    scales, weights = [], []
    for dtype, slope, default in zip(GRAIN_DTYPES, GRAIN_SLOPES, _DEFAULT_LOOSENESS, strict=True):
        tolerance = (tolerances or {}).get(dtype)
        loose = max(tolerance.rtol, tolerance.atol, 1e-18) if tolerance is not None else default
        weight = 2.0 ** min(-3, math.ceil(math.log2(GRAIN_MARGIN * loose) - 1e-9))  # at most 1/8 of the move
        scales.append(2.0 ** math.floor(math.log2(slope / (2 * MAX_MOVE * weight)) + 1e-9))
        weights.append(weight)
    return (scales[0], scales[1]), (weights[0], weights[1])


DEFAULT_GRAIN = grain_size()


@dataclass(frozen=True)
class Secret:
    b: float
    omega: tuple[float, ...]
    phi: tuple[float, ...]
    amp: tuple[float, ...]
    grain: tuple[int, ...] = (0, 0, 0, 0)  # the grain's SipHash keys: k0 of each lattice, then k1 (signed 64-bit)
    fine: tuple[float, float] = (0.0, 0.0)  # the grain's weights (grain_size; none in an offset)
    scales: tuple[float, float] = DEFAULT_GRAIN[0]  # its lattices' points per unit of u
    # secret_term of numbers worked out ahead (keep_terms), by their float64 bytes: not part of the
    # secret, and not carried over by dataclasses.replace, which makes another secret.
    kept: dict[bytes, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def draw(cls, rng: random.Random | None = None,
             grain: tuple[tuple[float, float], tuple[float, float]] = DEFAULT_GRAIN) -> Secret:
        """A fresh secret (from the system's randomness; a seeded `rng` only in tests), its grain
        sized as `grain` says (grain_size of the exercise's tolerances)."""
        rng = rng or secrets.SystemRandom()
        weights = [rng.uniform(0.2, 1.0) for _ in range(TERMS)]
        total = rng.uniform(3.0, 6.0)
        return cls(
            b=rng.choice((-1, 1)) * rng.uniform(2 * MIN_MOVE, MAX_MOVE),
            omega=tuple(rng.uniform(0.5, MAX_OMEGA) for _ in range(TERMS)),
            phi=tuple(rng.uniform(0.0, 6.283) for _ in range(TERMS)),
            amp=tuple(total * w / sum(weights) for w in weights),
            grain=tuple(rng.getrandbits(64) - (1 << 63) for _ in range(4)),
            fine=grain[1],
            scales=grain[0],
        )

    @classmethod
    def offset(cls, by: float) -> Secret:
        """Not a secret: the true derivative plus `by` everywhere (no terms: w is 0, so the formula
        adds b - b/2), to measure how far an exercise's gradient moves with its primitive's derivative."""
        return cls(b=2 * by, omega=(0.0,), phi=(0.0,), amp=(0.0,))

    def keep_terms(self, inputs: Iterable[Any]) -> None:
        """Work out secret_term for each of `inputs` (numpy arrays) now, in one evaluation, and keep
        them by their numbers (each array once): the planned inputs, whose numbers an honest child's
        canary asks the oracle about, and where the verdict's reference under the secret takes the
        primitive. SipHash in numpy costs about 100 us to hash a few numbers (its 8 rounds, each a
        dozen array operations) and 0.6 us a number in bulk, and a submission made about 140
        evaluations of a few numbers each. Call it before the oracle starts: its thread only reads
        what is kept."""
        arrays = list({(x := np.ascontiguousarray(u, dtype=np.float64)).tobytes(): x for u in inputs}.values())
        if not arrays:
            return
        with np.errstate(all="ignore"):
            terms = np.asarray(secret_term(np.concatenate([x.ravel() for x in arrays]), self, np), dtype="<f8")
        start = 0
        for x in arrays:
            term = terms[start:start + x.size].copy()
            term.setflags(write=False)
            self.kept[x.tobytes()] = term
            start += x.size

    @property
    def smooth_share(self) -> float:
        """c, the smooth term's share of the move: with the grain's weights, 0.25, so that the whole
        stays within b * [0.5, 1]."""
        return 0.25 - sum(self.fine)


def secret_derivative(x: Any, secret: Secret, derivative: str, xp: Any) -> Any:
    """Evaluate the secret derivative on x with array module xp (numpy, or torch in float64);
    `derivative` is the primitive's true derivative as an expression of u (formula.py)."""
    return evaluate(derivative, xp, u=x) + secret_move(x, secret, xp)


def secret_move(x: Any, secret: Secret, xp: Any) -> Any:
    """What the secret adds to the true derivative at x: b * (0.75 + c * tri(w) + grain), with
    tri(w) = 1 - 4 |w - floor(w) - 0.5|. The oracle (sandbox/oracle.py) answers the child with
    exactly these numbers, and the child adds them to its own true derivative as the verdict does."""
    return secret_term(x, secret, xp) * secret.b


def secret_term(x: Any, secret: Secret, xp: Any) -> Any:
    """secret_move without its factor b: 0.75 + c * tri(w) + grain, which b does not change (the
    oracle keeps these for numbers asked again, and multiplies by b, or by 0 on a plain call).
    Numbers kept ahead (Secret.keep_terms) are read, not worked out again: the same numbers, bit
    for bit (each element's term depends on that element alone)."""
    if secret.kept and isinstance(x, np.ndarray | np.float64) and x.dtype == np.float64:
        found = secret.kept.get(x.tobytes())  # (a float64 scalar: a formula's norm, say)
        if found is not None:
            return found.reshape(np.shape(x))
    omega, phi, amp = (xp.asarray(v, dtype=xp.float64) for v in (secret.omega, secret.phi, secret.amp))
    # Sums, not matmul: numpy hands a large matmul to a BLAS that runs threads of its own, and the
    # grader's oracle then took two cores for one child's asks.
    w = (xp.sin(x[..., None] * omega + phi) * amp).sum(-1)
    c = secret.smooth_share
    return xp.abs(xp.remainder(w, 1.0) - 0.5) * (-4 * c) + grain(x, secret, xp) + (0.75 + c)


def grain(u: Any, secret: Secret, xp: Any) -> Any:
    """The grain at u (numpy or torch, float64): for each lattice, the keyed heights of the two
    lattice points round u, in [-1, 1), interpolated linearly (so the grain is continuous, and a
    rounding difference between numpy and torch moves it by little), times the lattice's weight."""
    if not any(secret.fine):  # an offset (no grain): no keys to hash with, and nothing to add
        return xp.zeros_like(u, dtype=xp.float64)
    int64 = xp.int64
    steps = u[..., None] * xp.asarray(secret.scales, dtype=xp.float64)  # (..., lattice)
    whole = xp.floor(steps)
    apart = steps - whole
    point = _as(whole, int64, xp)[..., None] + xp.asarray([0, 1], dtype=int64)  # (..., lattice, neighbour)
    k0, k1 = xp.asarray(secret.grain, dtype=int64).reshape(2, 2, 1)  # each lattice's two key words
    height = _as(siphash24(point, k0, k1), xp.float64, xp) * 2.0 ** -63
    near = height[..., 0] + apart * (height[..., 1] - height[..., 0])
    return (near * xp.asarray(secret.fine, dtype=xp.float64)).sum(-1)


def siphash24(m: Any, k0: Any, k1: Any) -> Any:
    """SipHash-2-4 of each 8-byte word in m (signed 64-bit integers, numpy or torch) under the key
    (k0, k1) (arrays that broadcast against m), as signed 64-bit integers: the reference
    implementation's output bit for bit (a test vector of its C code: tests/fast/test_checks.py)."""
    v0, v1, v2, v3 = k0 ^ _SIP[0], k1 ^ _SIP[1], k0 ^ _SIP[2], k1 ^ _SIP[3] ^ m
    for _ in range(2):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 = v0 ^ m
    v3 = v3 ^ _LENGTH
    for _ in range(2):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0, v2 = v0 ^ _LENGTH, v2 ^ 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _sip_round(v0: Any, v1: Any, v2: Any, v3: Any) -> tuple[Any, Any, Any, Any]:
    v0 = v0 + v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = v2 + v3
    v3 = _rotl(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl(v1, 17) ^ v2
    return v0, v1, _rotl(v2, 32), v3


def _rotl(x: Any, bits: int) -> Any:
    return (x << bits) | ((x >> (64 - bits)) & ((1 << bits) - 1))


def _as(array: Any, dtype: Any, xp: Any) -> Any:
    if hasattr(array, "to"):
        return array.to(dtype)
    with xp.errstate(invalid="ignore"):  # a u that is not finite: its secret is not finite either
        return array.astype(dtype)
