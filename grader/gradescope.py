"""Gradescope: build the autograder bundle, and grade inside it.

`build` writes autograder.zip: setup.sh (installs the pinned grading environment once, when
Gradescope builds its image), run_autograder (grades each submission), and beside them this
package, reference/, pyproject.toml and constraints.txt (Gradescope unzips it all into
/autograder/source). `run` is what run_autograder calls: it grades the one
.py under ROOT/submission and writes ROOT/results/results.json, valid whatever happens. ROOT is
/autograder, or $GRADER_AUTOGRADER_DIR, so the whole flow runs in a temporary folder in tests.
"""

from __future__ import annotations

import shlex
import stat
import time
import traceback
import zipfile
from pathlib import Path

from grader.report import gradescope as render

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = ("grader", "reference", "pyproject.toml", "constraints.txt", "README.md")
SECRET_FILE = "course_secret"  # in source/; readable by root only, so never by the sandbox child

SETUP = """#!/usr/bin/env bash
# Runs once, as root, when Gradescope builds the autograder image. Needs Python 3.11 or newer:
# pick an Ubuntu 24.04 base image in the autograder settings. Paths move with
# $GRADER_AUTOGRADER_DIR, like run_autograder's; $GRADER_TORCH_INDEX is where torch comes from
# (unset: the CPU build's index; empty: pip's own configuration). Both are used to test this script.
set -euo pipefail
ROOT="${GRADER_AUTOGRADER_DIR:-/autograder}"
TORCH_INDEX="${GRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
cd "$ROOT/source"
if ! python3 -m venv "$ROOT/venv" >/dev/null 2>&1; then  # no ensurepip: Ubuntu ships it apart
  apt-get update >/dev/null && apt-get install -y python3-venv >/dev/null
  python3 -m venv --clear "$ROOT/venv"
fi
PIP="$ROOT/venv/bin/pip --disable-pip-version-check"
# The CPU build of torch (the CUDA build is gigabytes and Gradescope has no GPU), then the rest,
# every version pinned by constraints.txt.
TORCH="$(grep '^torch==' constraints.txt)"
if [ -n "$TORCH_INDEX" ]; then
  $PIP install --index-url "$TORCH_INDEX" "$TORCH"
else
  $PIP install "$TORCH"
fi
$PIP install -c constraints.txt -e .
if [ -f {secret} ]; then chmod 600 {secret}; fi
# A course's own exercise, its reference solution among it: root's alone, as the secret is (a child without
# Landlock reads what every user may: rt213 printed a course's solution into its feedback)
if [ -d {own} ]; then chmod -R go-rwx {own}; fi
"$ROOT/venv/bin/python" -m grader --version
"""

RUN = """#!/usr/bin/env bash
# Grades /autograder/submission/*.py into /autograder/results/results.json. Paths move with
# $GRADER_AUTOGRADER_DIR and the interpreter with $GRADER_PYTHON (used to test this script).
ROOT="${{GRADER_AUTOGRADER_DIR:-/autograder}}"
PY="${{GRADER_PYTHON:-$ROOT/venv/bin/python}}"
mkdir -p "$ROOT/results"
if [ -r "$ROOT/source/{secret}" ]; then
  GRADER_COURSE_SECRET="$(cat "$ROOT/source/{secret}")"
  export GRADER_COURSE_SECRET
fi
cd "$ROOT"
"$PY" -m grader gradescope run --exercise {exercise} --root "$ROOT"
if [ ! -s "$ROOT/results/results.json" ]; then
  # Python itself could not run: still a valid results.json, blaming the autograder, not the student.
  cat > "$ROOT/results/results.json" <<'JSON'
{failure}
JSON
fi
"""


def build(out: Path, exercise: str, course_secret: str = "") -> Path:
    """Write the bundle Gradescope expects (setup.sh and run_autograder at the root of the zip)."""
    import json

    from grader import exercise as exercises

    ex = exercises.load(exercise)  # fail now, not on Gradescope, if the exercise does not exist
    if not ex.solution.is_file():  # (ux121: a traceback, "the grader itself failed")
        raise exercises.ExerciseError(f"{exercise}: its solution {ex.solution} is not there (the bundle ships it: "
                                      "the students' backward passes are compared with its)")
    missing = [name for name in SHIPPED if not (PROJECT / name).exists()]
    if missing:  # (ux129: a build from an install without constraints.txt wrote a bundle whose setup.sh then failed)
        raise exercises.ExerciseError(f"this install of the grader lacks {', '.join(missing)}, which the bundle ships "
                                      f"(setup.sh pins torch from constraints.txt): build it from the project's own "
                                      f"folder, a checkout with `pip install -e .` ({PROJECT} here)")
    own = _own_exercise(Path(exercise), ex.solution, ex.function) if Path(exercise).suffix == ".toml" else {}
    if own:  # graded as the copy in the bundle: Gradescope has no path of the instructor's machine
        exercise = f"source/{next(iter(own))}"
    failure = json.dumps(render.grader_failure("run_autograder: the grader could not start (see stdout)."),
                         indent=2)
    run = RUN.format(exercise=shlex.quote(exercise), secret=SECRET_FILE, failure=failure)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside it and renamed once whole: a build that failed half way left a zip that listed
    # cleanly and lacked the solution (ux121).
    part = out.with_name(f".{out.name}.part")
    try:
        # (the course's secret is in it, which draws the grids: its owner's alone, as the batch's key is; ux132's
        # was 0644 on a shared machine)
        part.touch(mode=0o600)
        part.chmod(0o600)
        _write_bundle(part, run, own, course_secret, exercise)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    return out


def _write_bundle(out: Path, run: str, own: dict[str, Path], course_secret: str, exercise: str) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        _add_script(bundle, "setup.sh", SETUP.replace("{secret}", SECRET_FILE).replace("{own}", OWN_EXERCISE))
        _add_script(bundle, "run_autograder", run)
        for name in SHIPPED:
            path = PROJECT / name
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if _shipped(p))
            for file in files:
                bundle.write(file, str(file.relative_to(PROJECT)))
        for name, file in own.items():
            bundle.write(file, name)
        if course_secret:
            bundle.writestr(SECRET_FILE, course_secret)
        bundle.writestr(EXERCISE_FILE, exercise + "\n")


EXERCISE_FILE = "exercise_name"  # in source/: the exercise run_autograder grades, for a `run --root` of one's own


def _bundled_exercise(root: Path) -> str:
    """The exercise the bundle unpacked in ROOT/source grades, as run_autograder names it (a path in
    the bundle, from ROOT), else sin: ux121's `grader gradescope run --root` of a cos_square bundle, as
    the README says to try one, graded its reference solution as sin, 1/10."""
    try:
        named = (root / "source" / EXERCISE_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        named = _run_autograders_exercise(root)  # (a bundle built before exercise_name: rt156)
    return str(root / named) if named.startswith("source/") else named or "sin"


def _run_autograders_exercise(root: Path) -> str:
    """The --exercise the bundle's own run_autograder passes, "" where it cannot be read."""
    try:
        script = (root / "source" / "run_autograder").read_text(encoding="utf-8")
        words = shlex.split(next(line for line in script.splitlines() if "gradescope run --exercise" in line))
        return words[words.index("--exercise") + 1]
    except (OSError, UnicodeDecodeError, StopIteration, ValueError, IndexError):
        return ""


OWN_EXERCISE = "exercise"  # in source/: an exercise given by its .toml's path, and its reference solution


def _own_exercise(toml: Path, solution: Path, function: str) -> dict[str, Path]:
    """An exercise of the instructor's own, given by path: its .toml (first), its solution and the modules beside
    the solution that it imports, by their names in the bundle. The bundle named the path on the instructor's
    machine, and every student's submission was the autograder's failure on Gradescope (ux113); a solution's
    helper left out recorded no reference pass there (rt219)."""
    from grader import submission
    from grader.exercise import ExerciseError

    try:
        beside = solution.resolve().relative_to(toml.resolve().parent)
    except ValueError:
        raise ExerciseError(f"{toml}: its solution {solution} must lie in the .toml's folder (or below it) "
                            "to be shipped in the bundle") from None
    own = {f"{OWN_EXERCISE}/{toml.name}": toml, f"{OWN_EXERCISE}/{beside.as_posix()}": solution}
    for module in submission.solution_modules(solution, function):
        own[f"{OWN_EXERCISE}/{(beside.parent / module.relative_to(solution.parent)).as_posix()}"] = module
    return own


def _shipped(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"


def _add_script(bundle: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o755) << 16  # executable once unzipped
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)


def run(root: Path, exercise: str | None, course_secret: str = "", refused: str | None = None) -> int:
    """Grade ROOT/submission into ROOT/results/results.json, as `exercise` (None: the bundle's own).
    Always writes a valid file: a failure of the grader itself is reported as such (hidden detail),
    never as the student's; so is `refused`, why the grader may not run student code here."""
    started = time.monotonic()
    results = root / "results" / "results.json"
    try:
        if refused is not None:
            raise RuntimeError(refused)
        exercise = exercise or _bundled_exercise(root)
        from grader import exercise as exercises
        from grader.grade import grade_file
        from grader.grids import grid_seed
        from grader.report import plot, write_backward
        from grader.submission import refusal

        ex = exercises.load(exercise)
        path, problem = pick(root / "submission", ex.function, ex.name)
        if path is not None and refusal(path):  # a symbolic link, say: the student's to fix
            problem = f"{path.relative_to(root / 'submission')}: {refusal(path)}"
            path = None
        if path is None:
            render.write(render.no_submission(problem, ex.max_score), results)
            return 0
        # (the submission's folder is the student's alone: every module of theirs in it is theirs)
        # The bundle's own secret first: it is what the students' runs read (ux139's shell held another term's
        # secret, and `gradescope run --root` previewed other grids than the students get, without a word)
        outcome = grade_file(path, ex, seed=grid_seed(ex.name, bundled_secret(root) or course_secret), own=True,
                             top=root / "submission")
        picture = plot.render(outcome, ex, root / "results" / "feedback.png")
        backward = write_backward(outcome, root / "results" / "backward.png")
        render.write(render.results(outcome, picture, backward), results)
        return 0
    except BaseException:  # noqa: BLE001 - whatever failed, Gradescope must get a valid results.json
        render.write(render.grader_failure(traceback.format_exc(), time.monotonic() - started), results)
        return 3


def bundled_secret(root: Path) -> str:
    """The course secret in ROOT/source, as run_autograder reads it: an instructor's own `grader
    gradescope run --root DIR` of an unpacked bundle graded with the public seed, without a word, and
    gave other scores than the students would get (ux120)."""
    try:
        return (root / "source" / SECRET_FILE).read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return ""


def pick(folder: Path, function: str, exercise: str = "") -> tuple[Path | None, str]:
    """The .py to grade: the only one, or the only one that defines the function; a notebook's code
    cells where no .py was submitted."""
    from grader.submission import Budget, defines, in_question, is_source, other_answers, out_of_sight

    # (no hidden name, nor a folder named __x, as a batch looks: rv47's __main__.py alone was graded by a batch and
    # "no file submitted" here)
    shown = sorted(p for p in folder.rglob("*") if not any(part.startswith(".") for part in p.relative_to(folder).parts)
                   and not any(part.startswith("__") for part in p.relative_to(folder).parts[:-1]))
    files = [p for p in shown if is_source(p)]
    candidates, defining = in_question([p for p in files if p.parent == folder], function, lambda: files, exercise)
    if len(candidates) == 1 and not (second := other_answers(candidates[0], function)):
        return candidates[0], ""
    if len(candidates) == 1:
        names = ", ".join(str(p.relative_to(folder)) for p in [candidates[0], *second][:10])
        if not defines(candidates[0], function):  # (rv43: hw.py of a misnamed function was said to define it)
            return None, (f"{names.partition(', ')[2]} {'defines' if len(second) == 1 else 'define'} {function}(x), "
                          f"{candidates[0].relative_to(folder)} does not: submit exactly one file that defines it.")
        return None, (f"{len(second) + 1} files were submitted that define {function}(x) ({names}): submit exactly "
                      "one file that defines it.")
    if not files:
        # Python under another name (a browser's solution.txt, sol.py.txt), as a batch takes it (ux111)
        others = [p for p in shown if p.is_file() and not p.is_symlink()]
        budget = Budget()
        named = [p for p in others[:50] if defines(p, function, compiles=True, budget=budget)]
        if len(named) == 1:
            return named[0], ""
        # (ux128: a PDF or a zip uploaded alone was told nothing of what it had sent)
        sent = ", ".join(str(p.relative_to(folder)) for p in others[:5]) + (", …" if len(others) > 5 else "")
        archive = any(p.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar") for p in others)
        if hidden := out_of_sight(folder):  # (ux136: a .hw.py alone was "no file submitted"; rv47: beside a README)
            return None, f"No .py (or .ipynb) file was submitted where the grader looks: you sent {hidden}."
        return None, (f"No .py (or .ipynb) file was submitted{f' (you sent {sent})' if sent else ''}. Upload the "
                      f"file that defines {function}(x){' itself, not in an archive' if archive else ''}.")
    names = ", ".join(str(p.relative_to(folder)) for p in files[:10])
    return None, (f"{len(files)} files were submitted ({names}) and {len(candidates) if defining else 0} of them "
                  f"define {function}(x): submit exactly one file that defines it.")
