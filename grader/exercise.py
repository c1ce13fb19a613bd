"""Load an exercise definition (reference/*.toml) into a frozen Exercise."""

from __future__ import annotations

import keyword
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from grader import formula, rounding
from grader.canary import HALF_SECOND, MAX_SLOPE, Secret, grain_size, secret_derivative
from grader.grids import FAMILIES

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
# The exercises this repository ships, whose solutions are public already; one a course adds to REFERENCE_DIR is not
SHIPPED = ("cos_square", "log_sin", "sin", "sin_cos_norm")
MAX_SOLUTION_BYTES = 64 << 10  # a reference solution's bytes at most: as JSON, at most 6 times that, within 1 MiB
DTYPES = ("float64", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Sums:
    """A gradient at x with its sums moved to either end of what float32 arithmetic may make of them
    (Exercise.float32_sums): `low` and `high`, `exact` at the exact sums, `spread` the move."""

    low: np.ndarray
    exact: np.ndarray
    high: np.ndarray
    spread: float

    def explain(self, got: np.ndarray, want: np.ndarray, allowed: np.ndarray | float) -> bool:
        """Whether the whole of `got` is within `allowed` of the gradient at one such sum (`want`:
        what it is compared with at the exact sums, perhaps rounded to the input's dtype): rounding
        moves every element along the sum at once, never one element on its own. Over so small a
        move the gradient is a line in the sum (the chord; its bend is allowed for), so element i is
        within reach for moves t in one interval, and all must share a t in [-1, 1]."""
        if np.isnan(got).any():
            return False
        slope = np.ravel((self.high - self.low) / 2)
        off = np.ravel(got - want)
        room = np.ravel(np.broadcast_to(allowed, np.shape(want)) + np.abs((self.high + self.low) / 2 - self.exact))
        steep = slope != 0
        if np.any(~steep & ~(np.abs(off) <= room)):
            return False
        ends = np.stack([(off[steep] - room[steep]) / slope[steep], (off[steep] + room[steep]) / slope[steep]])
        lowest = max(-1.0, float(np.max(np.min(ends, axis=0), initial=-1.0)))
        highest = min(1.0, float(np.min(np.max(ends, axis=0), initial=1.0)))
        return lowest <= highest


class ExerciseError(ValueError):
    """The exercise file itself is wrong: an instructor's mistake, not a student's."""


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class Limits:
    load_timeout_s: float
    call_timeout_s: float
    total_timeout_s: float
    memory_gib: float
    output_kib: int


_REFERENCES: dict[tuple[object, ...], Any] = {}  # Exercise.reference's without a secret, and the like (_kept)
_KEPT_REFERENCES = 4096
Kept = TypeVar("Kept", np.ndarray, tuple[np.ndarray, ...])


@dataclass(frozen=True)
class Mistake:
    """A classic slip of an exercise, recognised by the values it gives (reference/*.toml's
    [[mistakes]]): the derivative of cos at u = x² with the chain rule's 2x missing, say."""

    key: str
    values: str  # what such a submission returns, an expression of x (of each input whole: sum() sums its elements)
    cause: str  # what went wrong, for "Likely cause: ..."
    advice: str


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    function: str
    solution: Path
    primitive: str
    derivative: str  # the primitive's derivative, an expression of u (see formula.py)
    formula: str  # how feedback names the reference
    value: str  # the function students differentiate, an expression of x
    gradient: str  # its derivative or gradient, an expression of x and d_<primitive>
    examples: int
    large: float
    span: float  # |x| reached by ordinary grid values
    min_abs: float  # grid values are kept at least this far from 0 (a singularity there)
    families: tuple[str, ...]  # kinds of grid values (grids.FAMILIES)
    plot_range: tuple[float, float]
    plot_points: int
    tolerances: dict[str, Tolerance]
    limits: Limits
    rubric: dict[str, float]
    zero_total_unless_autograd: bool
    source: Path
    # Where the backward pass is shown, at the first element: away from 0, 1 and π/2, where factors
    # such as 2x or cos(x) are 0 or 1 and a missing one would go unseen.
    trace_x: tuple[float, ...] = (0.75, 1.25, -0.5)
    mistakes: tuple[Mistake, ...] = ()
    # The values the answer can take ([-1, 1] for cos(x)), where it is bounded: an answer clipped to
    # them is autograd's still (verdict.py: a red team's honest clamp(-1, 1) was called a mixture).
    bounds: tuple[float, float] | None = None
    # The checks a [rubric] that names some leaves at their default points (said where the total is shown)
    unnamed: tuple[str, ...] = ()

    @property
    def max_score(self) -> float:
        return sum(self.rubric.values())

    @property
    def shipped(self) -> bool:
        """Whether its reference solution is one this repository ships (SHIPPED): public already."""
        try:
            real = self.solution.resolve()
        except (OSError, RuntimeError):
            return False
        return real.parent == REFERENCE_DIR and real.name in {f"{name}_solution.py" for name in SHIPPED}

    def solution_source(self) -> str | None:
        """The reference solution's text, read by the grader (None where it cannot be), for the first student's child
        to record its pass with (probe._setup): a child that became its own uid before it was confined read nothing
        where the solution is root's alone (rv48). A course's own is never handed so: grade._record_reference."""
        try:
            text = self.solution.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        # (within the set-up's header, as JSON writes it, each letter past ASCII six or twelve bytes: rv49's solution
        # of 190,507 letters failed every student's set-up; a larger one is refused as the exercise loads)
        return text if len(text.encode("utf-8", "surrogatepass")) <= MAX_SOLUTION_BYTES else None

    @property
    def watched(self) -> str:
        """The op the canary watches, as a student wrote it: 'sin(x)', or 'cos in cos(x**2)'."""
        call = f"{self.primitive}(x)"
        return call if self.value == call else f"{self.primitive} in {self.value}"

    @property
    def backward_step(self) -> str:
        """torch's name for the primitive's node in a backward pass (SinBackward0; the canary's node is recorded
        under it too)."""
        return f"{self.primitive.title()}Backward0"

    @property
    def chain(self) -> bool:
        """Whether the function goes beyond its primitive at x (cos(x²), not sin(x)): the canary proves the
        primitive's derivative only, and the backward passes are the evidence for the rest."""
        return self.value.replace(" ", "") != f"{self.primitive}(x)"

    @property
    def secret_slope(self) -> float:
        """How much more an honest answer in a half precision may be off under the secret than
        plainly, per unit of the dtype's tolerance (verdict.py): MAX_SLOPE where the primitive takes
        a computed value (x² in cos(x²) rounds, and the secret's slope magnifies that), 1 where the
        gradient is the primitive's derivative at x itself (sin(x): the grid's x is exact, so only
        the answer's own rounding remains)."""
        return 1.0 if self.gradient.replace(" ", "") == f"d_{self.primitive}(x)" else MAX_SLOPE

    def tolerance(self, dtype: str) -> Tolerance:
        return self.tolerances[dtype]

    def draw_secret(self) -> Secret:
        """A fresh secret whose grain its own tolerances can see (canary.grain_size)."""
        return Secret.draw(grain=grain_size(self.tolerances))

    def reference(self, x: np.ndarray, secret: Secret | None = None) -> np.ndarray:
        """The derivative or gradient at x in float64 (read-only); with a secret, what autograd gives
        when the primitive's derivative is swapped for the canary's (the reference under the canary).
        Without one it is kept: every submission of a batch meets the same grids, and the checks ask
        for each input's reference a few times each."""
        if secret is not None:
            return self._reference(x, secret)
        return self._kept("reference", x, lambda: self._reference(x, None))

    def primitive_arguments(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """The numbers the gradient differentiates the primitive at, for input x (x itself for sin,
        x² for cos(x²)), as the reference under a secret computes them: where it asks the secret's
        terms (Secret.keep_terms works them out ahead). Kept, as the reference is."""
        def arguments() -> tuple[np.ndarray, ...]:
            seen: list[np.ndarray] = []

            def derivative(u: Any) -> Any:
                seen.append(np.array(u, dtype=np.float64))
                return formula.evaluate(self.derivative, np, u=u)

            self._gradient(x, derivative)
            return tuple(seen)

        return self._kept("arguments", x, arguments)

    def argument_rounding(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """For each of primitive_arguments(x), in its order, how far float32 arithmetic may take it
        (rounding.py): x's own rounding for sin, a float32 square's for cos(x²), a sum's over every
        element of x for sin(cos(‖x‖²+1)). Kept, as the reference is."""
        def errors() -> tuple[np.ndarray, ...]:
            seen: list[np.ndarray] = []

            def derivative(u: rounding.Rounded) -> rounding.Rounded:
                seen.append(np.broadcast_to(np.asarray(u.error, dtype=np.float64), np.shape(u.value)).copy())
                return rounding.Rounded(np.asarray(formula.evaluate(self.derivative, np, u=u.value)), np.float64(0.0))

            with np.errstate(all="ignore"):
                formula.evaluate(self.gradient, rounding, x=rounding.start(x), **{f"d_{self.primitive}": derivative})
            return tuple(seen)

        return self._kept("rounding", x, errors)

    def float32_sums(self, x: np.ndarray, secret: Secret | None = None) -> Sums | None:
        """For a gradient that sums over every element of x (‖x‖²): the gradient at x (under
        `secret`, if given) with every sum moved to either end of what float32 arithmetic may make
        of it (as rounding.sum bounds it: n units of the sum of the terms' sizes for n - 1 additions
        and each term's own rounding, and one of the sum); None for an elementwise gradient. An
        honest float32 loop, einsum or x @ x adds the squares one after another, and the grids'
        arrays of one repeated value round the same way at every step: 216 elements of 1.4999 came
        back 7e-4 off ‖x‖², the gradient 6 times sin_cos_norm's tolerance from the reference, where
        (x**2).sum()'s pairwise sum is close to exact. Kept without a secret, as the reference is."""
        if "sum" not in formula.names(self.gradient):
            return None

        def ends() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            spreads: list[float] = []

            def moved(sign: float) -> Callable[[Any], Any]:
                def total(terms: Any) -> Any:
                    terms = np.asarray(terms, dtype=np.float64)
                    size = float(np.sum(np.abs(terms)))
                    # (n - 1 additions and each term's own rounding: n units of the sizes, and the last)
                    spread = terms.size * rounding.UNIT * size + rounding.UNIT * abs(float(np.sum(terms)))
                    spreads.append(spread)
                    return np.sum(terms) + sign * spread
                return total

            def derivative(u: Any) -> Any:
                if secret is None:
                    return formula.evaluate(self.derivative, np, u=u)
                return secret_derivative(u, secret, self.derivative, np)

            with np.errstate(all="ignore"):
                low, exact, high = (np.broadcast_to(np.asarray(formula.evaluate(
                    self.gradient, np, x=x, sum=moved(sign), **{f"d_{self.primitive}": derivative}),
                    dtype=np.float64), np.shape(x)).copy() for sign in (-1.0, 0.0, 1.0))
            return low, exact, high, np.array([max(spreads, default=0.0)])

        low, exact, high, spread = ends() if secret is not None else self._kept("float32 sums", x, ends)
        return Sums(low, exact, high, float(spread[0]))

    def sensitivity(self, x: np.ndarray) -> np.ndarray:
        """How far the gradient at x moves per unit added to the primitive's derivative (the chain
        rule's factor: 1 for sin(x), 2x for cos(x²)); it is linear in that derivative. Kept, as the
        reference is."""
        return self._kept("sensitivity", x, lambda: np.abs(self._reference(x, Secret.offset(1.0)) - self.reference(x)))

    def _kept(self, what: str, x: np.ndarray, compute: Callable[[], Kept]) -> Kept:
        """`compute()` for this exercise and x (an array, or a tuple of them), read-only, worked out
        once (up to _KEPT_REFERENCES)."""
        key = (what, self.gradient, self.derivative, self.primitive, x.shape, x.tobytes())
        found = _REFERENCES.get(key)
        if found is None:
            if len(_REFERENCES) >= _KEPT_REFERENCES:
                _REFERENCES.clear()
            found = _REFERENCES[key] = compute()
            for array in found if isinstance(found, tuple) else (found,):
                array.setflags(write=False)
        return found

    def _reference(self, x: np.ndarray, secret: Secret | None) -> np.ndarray:
        if secret is None:
            derivative: Callable[[Any], Any] = lambda u: formula.evaluate(self.derivative, np, u=u)  # noqa: E731
        else:
            derivative = lambda u: secret_derivative(u, secret, self.derivative, np)  # noqa: E731
        return np.broadcast_to(np.asarray(self._gradient(x, derivative), dtype=np.float64), np.shape(x)).copy()

    def _gradient(self, x: np.ndarray, derivative: Callable[[Any], Any]) -> Any:
        """The gradient formula at x, with `derivative` as the primitive's."""
        with np.errstate(all="ignore"):
            return formula.evaluate(self.gradient, np, x=x, **{f"d_{self.primitive}": derivative})

    def mistake_values(self, mistake: Mistake, x: np.ndarray) -> np.ndarray:
        """What a submission making `mistake` returns at x."""
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(formula.evaluate(mistake.values, np, x=x), dtype=np.float64), x.shape)

    def function_values(self, x: np.ndarray) -> np.ndarray:
        """f(x) itself: a scalar for a function of a whole vector."""
        with np.errstate(all="ignore"):
            return np.asarray(formula.evaluate(self.value, np, x=x), dtype=np.float64)

    @property
    def telltales(self) -> frozenset[str]:
        """Ops whose use suggests the answer was written out rather than taken from autograd: the
        functions in the primitive's derivative that the function itself does not use (cos for
        sin(x); sin for cos(x²); none for sin(cos(‖x‖²+1)), whose honest code calls both)."""
        return formula.names(self.derivative) - formula.names(self.value)

    @property
    def elementwise(self) -> bool:
        """Whether f acts on each element alone (else it is a scalar function of the whole input)."""
        return "sum(" not in self.value


def load(name_or_path: str | Path = "sin") -> Exercise:
    """Read an exercise by name (reference/NAME.toml) or by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and ("/" in str(name_or_path) or path.exists()):
        # (ux138: a folder, or the solution's .py, was told "no exercise" as a name of the catalogue's)
        raise ExerciseError(f"{name_or_path}: not an exercise's .toml; give the .toml itself (or a name of the "
                            f"catalogue's: {_known()})")
    if path.suffix != ".toml":
        path = REFERENCE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = _known()
        if path != REFERENCE_DIR / f"{name_or_path}.toml":  # (ux137: a path of the instructor's, mistyped)
            raise ExerciseError(f"{name_or_path}: no such file (or not a file); the catalogue's exercises are {known}")
        raise ExerciseError(f"no exercise {str(name_or_path)!r}; known exercises: {known}")
    path = path.absolute()  # (a Dask worker reads its solution from another working folder: ux128)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return _parse(raw, path)
    except KeyError as err:  # (ux121: "'plot_points'" alone)
        raise ExerciseError(f"{path}: it has no {err} entry (see reference/sin.toml)") from err
    except (TypeError, ValueError, AttributeError, IndexError) as err:  # (rv50: `tolerance = "tight"`, AttributeError)
        raise ExerciseError(f"{path}: {err}") from err


def _known() -> str:
    """The catalogue's exercises, by name, for words that list them."""
    return ", ".join(sorted(p.stem for p in REFERENCE_DIR.glob("*.toml")))


def _parse(raw: dict, path: Path) -> Exercise:
    from grader import checks  # each check declares its name and default points (checks imports this module)

    rubric = dict(raw.get("rubric", {}))
    zero_total = rubric.pop("zero_total_unless_autograd", True)
    if not isinstance(zero_total, bool):  # (ux121: "false", a string, was true)
        raise ValueError(f"[rubric] zero_total_unless_autograd must be true or false, not {zero_total!r}")
    points = {c.name: float(rubric.get(c.name, c.points)) for c in checks.ALL}
    unknown = set(rubric) - set(points)
    if unknown:
        raise ValueError(f"rubric names unknown checks: {sorted(unknown)}")
    missing = [f"[{table}]" for table in ("math", "grid", "limits", "tolerance") if table not in raw]
    if missing:  # (ux121: a misspelt [tolerence] was told as "'tolerance'")
        raise ValueError(f"it has no {', '.join(missing)} table (see reference/sin.toml)")
    math, grid, limits = raw["math"], raw["grid"], raw["limits"]
    # (ux137: `bound = [...]` under [math], a misspelt limit, loaded without a word, the bounds dropped)
    mistakes = raw.get("mistakes", [])
    if not isinstance(mistakes, list) or not all(isinstance(m, dict) for m in mistakes):
        raise ValueError("its mistakes must each be a [[mistakes]] table (two brackets), with key, values, cause and "
                         "advice (see reference/sin.toml)")  # (rt217: a [mistakes] table was told "has e, k, y")
    tolerance = raw["tolerance"]
    for table, given, known in ((None, raw, _TOP_KEYS), ("math", math, _MATH_KEYS), ("grid", grid, _GRID_KEYS),
                                ("limits", limits, set(_LIMIT_DEFAULTS)),
                                *((f"tolerance.{d}", t, {"atol", "rtol"}) for d, t in tolerance.items()
                                  if isinstance(t, dict)),
                                *(("mistakes", m, _MISTAKE_KEYS) for m in mistakes)):
        if strange := sorted(set(given) - known):
            where = f"[{table}] has" if table else "it has"
            raise ValueError(f"{where} {', '.join(strange)}, which the grader does not know: it takes "
                             f"{', '.join(sorted(known))} (see reference/sin.toml)")
    function = str(raw["function"])
    if not function.isidentifier() or keyword.iskeyword(function):  # (ux137: "get derivative", 0/10 for everyone)
        raise ValueError(f"function = {function!r} is no name Python can define")
    solution = path.parent / raw["solution"]
    tolerances = {d: Tolerance(float(t["atol"]), float(t["rtol"])) for d, t in tolerance.items()}
    if set(tolerances) - set(DTYPES):
        raise ValueError(f"tolerances for unknown dtypes: {sorted(set(tolerances) - set(DTYPES))}")
    low, high = grid["plot_range"]
    exercise = _sound(Exercise(
        name=str(raw["name"]),
        title=str(raw["title"]),
        function=function,
        solution=solution,
        primitive=_watchable(str(math["primitive"])),
        derivative=_checked(str(math["derivative"]), ("u",)),
        formula=str(math["formula"]),
        value=_checked(str(math["function"]), ("x",)),
        gradient=_checked(str(math["gradient"]), ("x", f"d_{math['primitive']}")),
        examples=int(grid["examples"]),
        large=float(grid["large"]),
        span=float(grid.get("span", 10.0)),
        min_abs=float(grid.get("min_abs", 0.0)),
        families=_families(grid.get("families", list(FAMILIES))),
        plot_range=(float(low), float(high)),
        plot_points=int(grid["plot_points"]),
        tolerances=tolerances,
        limits=Limits(**{k: type(v)(limits[k]) for k, v in _LIMIT_DEFAULTS.items()}),
        rubric=points,
        zero_total_unless_autograd=zero_total,
        source=path,
        trace_x=_sample(grid.get("trace_x", (0.75, 1.25, -0.5))),
        mistakes=tuple(_mistake(m) for m in mistakes),
        bounds=_bounds(math.get("bounds")),
        unnamed=tuple(c.name for c in checks.ALL if c.name not in rubric) if rubric else (),
    ))
    # (not there: refused for grading, not for a student's self-check, given the .toml alone: cli._missing_solution)
    if solution.is_file() and solution.stat().st_size > MAX_SOLUTION_BYTES:  # (rv49: its pass left out in silence)
        raise ValueError(f"its solution {solution} is larger than the grader reads, {MAX_SOLUTION_BYTES >> 10} KiB: "
                         "keep it to the function the students write")
    return exercise


def _sound(ex: Exercise) -> Exercise:
    """The exercise, once its numbers can grade anyone: ux121's examples = 0, large = -5 or no
    [tolerance] entry loaded and then failed every student's grading ("the grader itself failed"),
    and a gradient or derivative that was not the function's graded the reference solution 1/10 and
    an honest class with it. The formulas are checked against finite differences at the exercise's
    sample points."""
    if ex.examples < 1 or ex.plot_points < 2 or not 0 < ex.large < math.inf or not 0 < ex.span < math.inf or \
            not 0 <= ex.min_abs < math.inf:
        raise ValueError("[grid] needs examples >= 1, plot_points >= 2, large and span > 0 and min_abs >= 0, each "
                         "finite")
    if not ex.plot_range[0] < ex.plot_range[1]:
        raise ValueError(f"[grid] plot_range must be [low, high] with low < high: {list(ex.plot_range)}")
    if not {"float64", "float32"} & set(ex.tolerances) or \
            any(not (0 <= t.atol < math.inf and 0 <= t.rtol < math.inf) for t in ex.tolerances.values()):
        raise ValueError("[tolerance] needs float64 or float32 (or both), each with finite atol >= 0 and rtol >= 0")
    if any(not 0 <= points < math.inf for points in ex.rubric.values()) or not ex.max_score > 0:
        raise ValueError("[rubric] points must be finite and >= 0, and some check must have some")
    limits = ex.limits
    if not min(limits.load_timeout_s, limits.call_timeout_s, limits.total_timeout_s) > 0 or \
            not 0.25 <= limits.memory_gib < math.inf or limits.output_kib < 0:
        raise ValueError("[limits] must all be > 0 (memory_gib at least 0.25: torch's own work needs some)")
    if f"d_{ex.primitive}" not in formula.names(ex.gradient):  # (ux121's `exp(sin(x)) * cos(x)`: 1/10 for all)
        raise ValueError(f"[math] gradient = {ex.gradient!r} must take the primitive's derivative as "
                         f"d_{ex.primitive}(...): the canary swaps it there, and an answer through autograd follows")
    x = np.array(ex.trace_x, dtype=np.float64)
    primitive = getattr(np, ex.primitive)
    with np.errstate(all="ignore"):
        mine = np.asarray(formula.evaluate(ex.derivative, np, u=x), dtype=np.float64)
        _agree(mine, lambda h: (primitive(x + h) - primitive(x - h)) / (2 * h), x,
               f"[math] derivative = {ex.derivative!r} is not the derivative of {ex.primitive}", "u")

        def slope(h: np.ndarray) -> np.ndarray:
            if ex.elementwise:  # (each point alone: one where the function is undefined spoils no other, rt156)
                return (ex.function_values(x + h) - ex.function_values(x - h)) / (2 * h)
            steps = np.diag(h)
            return np.array([(ex.function_values(x + e).sum() - ex.function_values(x - e).sum()) / (2 * e.sum())
                             for e in steps])

        _agree(ex.reference(x), slope, x,
               f"[math] gradient = {ex.gradient!r} is not the gradient of function = {ex.value!r}", "x")
        for mistake in ex.mistakes:  # (ux138: one giving the right answer loaded, and would name a right file's slip)
            if np.allclose(ex.mistake_values(mistake, x), ex.reference(x), rtol=1e-9, atol=1e-12, equal_nan=True):
                raise ValueError(f"[[mistakes]] {mistake.key!r}: its values = {mistake.values!r} are the gradient's "
                                 f"at trace_x {x.tolist()}: a right answer, no mistake")
    return ex


def _agree(got: np.ndarray, slope: Callable[[np.ndarray], np.ndarray], at: np.ndarray, what: str, name: str) -> None:
    """Raise, naming the first point, where `got` is none of the central differences `slope` gives with
    steps from 1e-3 to 1e-10 of the point's size (one step cannot suit both a slow function and one as
    steep as sin(x³) at 100: rt156's was refused); points where the function is undefined are left out."""
    scale = np.maximum(1.0, np.abs(at))
    slopes = np.array([np.broadcast_to(slope(10.0 ** -k * scale), at.shape) for k in range(3, 11)])
    defined = np.isfinite(slopes).any(axis=0)
    if not defined.any():
        raise ValueError(f"[grid] trace_x must hold points where the function is defined: {at.tolist()}")
    near = np.abs(slopes - got) <= 1e-4 * (1.0 + np.abs(slopes))
    bad = defined & ~near.any(axis=0)
    if bad.any():
        i = int(np.argmax(bad))
        want = slopes[3, i] if np.isfinite(slopes[3, i]) else slopes[np.isfinite(slopes[:, i]), i][0]
        raise ValueError(f"{what}: at {name} = {at[i]:g} it gives {got[i]:.6g}, where the slope is {want:.6g} "
                         "(by finite differences at the exercise's trace_x)")


def _bounds(raw: Any) -> tuple[float, float] | None:
    if raw is None:
        return None
    low, high = (float(v) for v in raw)
    if not low < high:
        raise ValueError(f"bounds must be [low, high] with low < high: {raw!r}")
    return low, high


def _mistake(raw: dict[str, Any]) -> Mistake:
    # (evaluated on each input whole, as the gradient is: sum() sums that input's elements, as the
    # norm's slips need, ux114's ‖x‖ for ‖x‖² and mean for sum)
    values = _checked(str(raw["values"]), ("x",))
    return Mistake(str(raw["key"]), values, str(raw["cause"]), str(raw["advice"]))


def _families(names: list[str]) -> tuple[str, ...]:
    unknown = set(names) - set(FAMILIES)
    if unknown or not names:
        raise ValueError(f"grid families must be some of {', '.join(FAMILIES)}; got {names}")
    return tuple(name for name in FAMILIES if name in names)  # the canonical order keeps draws stable


def _sample(values: list[float]) -> tuple[float, ...]:
    if not values:
        raise ValueError("trace_x needs at least one value: the backward pass is read at its first")
    return tuple(float(v) for v in values)


def _watchable(primitive: str) -> str:
    if primitive not in HALF_SECOND:
        raise ValueError(f"the canary can watch {', '.join(sorted(HALF_SECOND))}, not {primitive!r}")
    return primitive


def _checked(text: str, variables: tuple[str, ...]) -> str:
    try:
        formula.compile_formula(text, tuple(sorted(variables)))
    except formula.FormulaError as err:
        raise ValueError(str(err)) from None
    return text


def catalogue(loadable: bool = False) -> list[Exercise]:
    """Every exercise in reference/, by name; with `loadable`, those that load, the others left out."""
    found = []
    for path in sorted(REFERENCE_DIR.glob("*.toml")):
        try:
            found.append(load(path))
        except (ExerciseError, OSError):
            if not loadable:
                raise
    return found


_LIMIT_DEFAULTS = Limits(60.0, 10.0, 120.0, 4.0, 64).__dict__
# What an exercise's .toml may hold (_parse): anything else is a slip of the instructor's
_TOP_KEYS = {"name", "title", "description", "function", "solution", "math", "grid", "limits", "tolerance", "rubric",
             "mistakes"}  # (a description, a course's note to itself: hn154's was refused)
_MATH_KEYS = {"primitive", "derivative", "formula", "function", "gradient", "bounds"}
_GRID_KEYS = {"examples", "large", "span", "min_abs", "families", "plot_range", "plot_points", "trace_x"}
_MISTAKE_KEYS = {"key", "values", "cause", "advice"}
