"""Load an exercise definition (reference/*.toml) into a frozen Exercise."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
DTYPES = ("float64", "float32", "float16", "bfloat16")
CHECK_NAMES = (
    "loads",
    "correctness",
    "autograd",
    "contract",
    "tracked_inputs",
    "input_untouched",
    "repeatable",
)


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


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    function: str
    solution: Path
    primitive: str
    derivative: str
    formula: str
    examples: int
    large: float
    plot_range: tuple[float, float]
    plot_points: int
    tolerances: dict[str, Tolerance]
    limits: Limits
    rubric: dict[str, float]
    zero_total_unless_autograd: bool
    source: Path

    @property
    def max_score(self) -> float:
        return sum(self.rubric.values())

    def tolerance(self, dtype: str) -> Tolerance:
        return self.tolerances[dtype]


def load(name_or_path: str | Path = "sin") -> Exercise:
    """Read an exercise by name (reference/NAME.toml) or by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = REFERENCE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in REFERENCE_DIR.glob("*.toml")))
        raise ExerciseError(f"no exercise {str(name_or_path)!r}; known exercises: {known}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return _parse(raw, path)
    except (KeyError, TypeError, ValueError) as err:
        raise ExerciseError(f"{path}: {err}") from err


def _parse(raw: dict, path: Path) -> Exercise:
    rubric = dict(raw["rubric"])
    zero_total = bool(rubric.pop("zero_total_unless_autograd", True))
    points = {name: float(rubric[name]) for name in CHECK_NAMES}
    unknown = set(rubric) - set(CHECK_NAMES)
    if unknown:
        raise ValueError(f"rubric names unknown checks: {sorted(unknown)}")
    math, grid, limits = raw["math"], raw["grid"], raw["limits"]
    tolerances = {d: Tolerance(float(t["atol"]), float(t["rtol"])) for d, t in raw["tolerance"].items()}
    if set(tolerances) - set(DTYPES):
        raise ValueError(f"tolerances for unknown dtypes: {sorted(set(tolerances) - set(DTYPES))}")
    low, high = grid["plot_range"]
    return Exercise(
        name=str(raw["name"]),
        title=str(raw["title"]),
        function=str(raw["function"]),
        solution=path.parent / raw["solution"],
        primitive=str(math["primitive"]),
        derivative=str(math["derivative"]),
        formula=str(math["formula"]),
        examples=int(grid["examples"]),
        large=float(grid["large"]),
        plot_range=(float(low), float(high)),
        plot_points=int(grid["plot_points"]),
        tolerances=tolerances,
        limits=Limits(**{k: type(v)(limits[k]) for k, v in _LIMIT_DEFAULTS.items()}),
        rubric=points,
        zero_total_unless_autograd=zero_total,
        source=path,
    )


_LIMIT_DEFAULTS = Limits(60.0, 10.0, 120.0, 4.0, 64).__dict__
