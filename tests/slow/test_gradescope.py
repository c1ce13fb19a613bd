"""The Gradescope bundle end to end: build autograder.zip, lay out a fake /autograder tree in a
temporary folder, run its run_autograder on samples as Gradescope would, and validate every
results.json against a JSON Schema of Gradescope's specification (tests/schemas)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.json").read_text())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "GRADER_COURSE_SECRET": "s3cret"})
    assert done.returncode == 0, done.stderr
    return out


def unpack(bundle: Path, root: Path) -> Path:
    """Unzip as Gradescope does into ROOT/source, keeping the executable bits; return ROOT."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():  # zipfile drops the executable bit; Gradescope keeps it
            mode = info.external_attr >> 16
            if mode & stat.S_IXUSR:
                (root / "source" / info.filename).chmod(mode & 0o777)
    return root


def autograde(bundle: Path, tmp_path: Path, files: dict[str, Path | str], python: str | None = sys.executable) -> dict:
    """Put the files in ROOT/submission and run run_autograder (unpacking the bundle first unless a
    test already did). python=None runs with the environment setup.sh made in ROOT/venv."""
    root = tmp_path / "autograder"
    if not (root / "source").is_dir():
        unpack(bundle, root)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, content in files.items():
        target = root / "submission" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(content)
    # By default the installed grader stands in for setup.sh's virtual environment.
    env = {**os.environ, "GRADER_AUTOGRADER_DIR": str(root)}
    env.pop("GRADER_PYTHON", None)
    if python is not None:
        env["GRADER_PYTHON"] = python
    env.pop("GRADER_COURSE_SECRET", None)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


def test_the_bundle_has_what_gradescope_expects(bundle):
    assert bundle.stat().st_mode & 0o077 == 0  # (the course's secret is in it: ux132's was 0644)
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "constraints.txt", "pyproject.toml",
            "grader/cli.py", "reference/sin.toml", "course_secret"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any("__pycache__" in name for name in names)
    assert "-c constraints.txt" in setup and "download.pytorch.org/whl/cpu" in setup
    with zipfile.ZipFile(bundle) as archive:
        for script in ("setup.sh", "run_autograder"):
            check = subprocess.run(["bash", "-n"], input=archive.read(script), capture_output=True)
            assert check.returncode == 0, check.stderr


def test_setup_sh_builds_the_environment_that_then_grades(bundle, tmp_path):
    """setup.sh end to end into a temporary root, as Gradescope runs it when it builds the image.
    GRADER_TORCH_INDEX="" takes torch from pip's own configuration (on the development machines and
    CI, a wheel on local disk) instead of the CPU index; the rest comes as pip is configured."""
    if shutil.which("python3") is None:
        pytest.skip("setup.sh needs a python3 on PATH to create its environment")
    root = unpack(bundle, tmp_path / "autograder")
    env = {**os.environ, "GRADER_AUTOGRADER_DIR": str(root), "GRADER_TORCH_INDEX": ""}
    for name in ("GRADER_PYTHON", "GRADER_COURSE_SECRET", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    python = root / "venv" / "bin" / "python"
    code = "import grader, torch; print(grader.__file__); print(torch.__version__)"
    probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=120)
    assert probe.returncode == 0, probe.stderr
    grader_file, torch_version = probe.stdout.split()
    assert Path(grader_file).is_relative_to(root / "source")  # the bundle's own copy, installed by setup.sh
    pinned = next(line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("torch=="))
    assert torch_version.split("+")[0] == pinned.removeprefix("torch==")
    assert (root / "source" / "course_secret").stat().st_mode & 0o777 == 0o600  # root only, never the sandbox
    # (hn122: IPython came only with the dev extra, and a file that imports IPython.display, as notebooks
    # do, scored 0 in this environment and 10 in the developers')
    shown = tmp_path / "shown.py"
    honest = (SUBMISSIONS / "honest_backward.py").read_text()
    shown.write_text(f"from IPython.display import Markdown, display\n{honest}display(Markdown('**sin**'))\n")
    results = autograde(bundle, tmp_path, {"derivative.py": shown}, python=None)
    assert results["score"] == 10, results
    assert results["extra_data"]["versions"]["torch"] == torch_version


def test_an_honest_submission_gets_full_marks_and_its_plot(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"derivative.py": SUBMISSIONS / "honest_backward.py"})
    assert results["score"] == 10
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    assert sum(t["max_score"] for t in visible) == 10 and all(t["status"] == "passed" for t in visible)
    steps = next(t for t in visible if t["name"] == "Backward pass (not scored)")["output"]
    assert "agrees with the reference's" in steps and "SinBackward0: d/du sin(u) = cos(u), at u = x = 0.75" in steps
    image = re.search(r'src="data:image/png;base64,([^"]+)"', results["output"])
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    assert len(json.dumps(results)) < 1_000_000
    extra = results["extra_data"]
    assert extra["versions"]["torch"] and extra["seed"] and len(extra["sha256"]) == 64
    # The course secret in the bundle changes the grid seed: not the default one.
    from grader.grids import grid_seed

    assert extra["seed"] == grid_seed("sin", "s3cret") != grid_seed("sin", "")
    # And an instructor's own `grader gradescope run --root` of that tree, without run_autograder's
    # reading of it into $GRADER_COURSE_SECRET (ux120: graded with the public seed, without a word).
    env = {key: value for key, value in os.environ.items() if key != "GRADER_COURSE_SECRET"}
    root = tmp_path / "autograder"
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "run", "--root", str(root)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again = json.loads((root / "results" / "results.json").read_text())
    assert again["extra_data"]["seed"] == grid_seed("sin", "s3cret")
    # Nor with another secret in the instructor's shell (ux139: another term's won, without a word)
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "run", "--root", str(root)], cwd=ROOT,
                          env={**env, "GRADER_COURSE_SECRET": "last-term"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "$GRADER_COURSE_SECRET is not this bundle's" in done.stderr, done.stderr
    again = json.loads((root / "results" / "results.json").read_text())
    assert again["extra_data"]["seed"] == grid_seed("sin", "s3cret")


def test_an_exercise_given_by_its_path_is_shipped_in_the_bundle(tmp_path):
    """ux113: a bundle built with --exercise path/to/mysin.toml named that path of the instructor's
    machine, shipped neither the .toml nor its solution, and every student got "the autograder
    itself failed" on Gradescope."""
    own = tmp_path / "mine"
    own.mkdir()
    text = (ROOT / "reference" / "sin.toml").read_text()
    (own / "mysin.toml").write_text(re.sub(r'(?m)^name = "sin"$', 'name = "mysin"', text))
    # (rt219: a module of the course's that the solution imports was left out, and no reference pass was recorded)
    (own / "leafs.py").write_text("def leaf(x):\n    return x.detach().clone().requires_grad_(True)\n")
    (own / "sin_solution.py").write_text("import torch\nfrom leafs import leaf\n\n\ndef get_derivative(x):\n"
                                         "    x = leaf(x)\n    torch.sin(x).sum().backward()\n    return x.grad\n")
    # (ux139: two other exercises' solutions beside it, as reference/ holds, made its folder a class's, and the
    # module was withheld: the build refused the solution's 0/10)
    for other in ("tanh_solution.py", "cube_solution.py"):
        (own / other).write_text("import torch\n\n\ndef get_derivative(x):\n    return torch.ones_like(x)\n")
    out = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "build", "--out", str(out), "--exercise",
                           str(own / "mysin.toml")], cwd=ROOT, capture_output=True, text=True, env=os.environ)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(own)  # (Gradescope has only the bundle)
    results = autograde(out, tmp_path, {"derivative.py": SUBMISSIONS / "honest_backward.py"})
    assert results["score"] == 10 and results["extra_data"]["exercise"] == "mysin", results
    assert "could not be recorded" not in json.dumps(results), results  # (the reference's pass, drawn beside)
    # Its solution is root's alone once setup.sh has run, as the secret is (rt213: a child without Landlock read a
    # course's solution): setup.sh's own permission lines, run where it runs them
    source = tmp_path / "autograder" / "source"
    with zipfile.ZipFile(out) as archive:
        lines = [line for line in archive.read("setup.sh").decode().splitlines() if "chmod" in line]
    assert subprocess.run(["bash", "-c", "\n".join(lines)], cwd=source).returncode == 0
    assert {path.stat().st_mode & 0o077 for path in (source / "exercise").rglob("*")} == {0}
    # And an instructor's own `grader gradescope run --root` of it, without --exercise, grades the
    # bundle's exercise (ux121: a cos_square bundle's reference solution was graded as sin, 1/10).
    root = tmp_path / "autograder"
    (root / "results" / "results.json").unlink()
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", "run", "--root", str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    again = json.loads((root / "results" / "results.json").read_text())
    assert again["score"] == 10 and again["extra_data"]["exercise"] == "mysin", again


def test_a_cheat_scores_only_loading_and_the_instructor_detail_is_hidden(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"cheat.py": SUBMISSIONS / "cheat_cos.py"})
    assert results["score"] == 1  # the file loads; nothing else counts without autograd
    autograd = next(t for t in results["tests"] if t["name"] == "Autograd")
    assert autograd["status"] == "failed" and "cos" in autograd["output"]
    # (ux120: its held-back checks were green beside 0 points)
    correctness = next(t for t in results["tests"] if t["name"] == "Correctness")
    assert correctness["status"] == "failed" and correctness["score"] == 0
    assert correctness["output"].count("Held back: this check found nothing wrong") == 1  # (ux128: said twice)
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert hidden and all(t["max_score"] == 0 for t in hidden)
    assert results["stdout_visibility"] == "hidden"


def test_a_syntax_error_is_the_students_and_says_where(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"hw.py": SUBMISSIONS / "broken_syntax.py"})
    loads = next(t for t in results["tests"] if t["name"] == "Loads")
    assert results["score"] == 0 and loads["status"] == "failed" and "syntax error on line 4" in loads["output"]


def test_of_several_files_the_one_defining_the_function_is_graded(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"notes.py": "print('scratch')\n",
                                           "hw/solution.py": SUBMISSIONS / "honest_jacobian.py"})
    assert results["score"] == 10


def test_a_module_of_the_students_own_submitted_beside_the_file_is_graded_with_it(bundle, tmp_path):
    """ux123: solution.py's `from utils import ...`, utils.py uploaded with it, scored 0."""
    results = autograde(bundle, tmp_path, {
        "solution.py": "from utils import derivative\n\n\ndef get_derivative(x):\n    return derivative(x)\n",
        "utils.py": "import torch\n\n\ndef derivative(x):\n    x = x.detach().clone().requires_grad_(True)\n"
                    "    torch.sin(x).sum().backward()\n    return x.grad\n"})
    assert results["score"] == 10, results


def test_no_file_to_grade_is_a_clear_zero(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"README.txt": "I forgot the file"})
    assert results["score"] == 0 and "No .py (or .ipynb) file was submitted (you sent README.txt)" in results["output"]


def test_a_grader_failure_is_reported_as_the_autograders_not_the_students(bundle, tmp_path):
    # The grader cannot find its exercise: it fails before grading anything.
    results = autograde(bundle, tmp_path, {"derivative.py": SUBMISSIONS / "honest_backward.py"},
                        python=str(_python_with_broken_exercise(tmp_path)))
    assert results["score"] == 0 and "not your fault" in results["output"]
    assert results["extra_data"]["grader_failed"] is True
    assert all(t["visibility"] == "hidden" for t in results["tests"])
    assert "ExerciseError" in results["tests"][0]["output"]  # the traceback, for the instructor only


def test_a_grader_that_cannot_even_start_still_leaves_a_valid_results_json(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"derivative.py": SUBMISSIONS / "honest_backward.py"},
                        python="/nonexistent/python")
    assert results["score"] == 0 and "not your fault" in results["output"]
    assert "please tell your instructor" in results["output"] and "has been told" not in results["output"]


def _python_with_broken_exercise(tmp_path: Path) -> Path:
    """A python that runs the grader with reference/sin.toml unreadable as an exercise."""
    wrapper = tmp_path / "python"
    wrapper.write_text("#!/usr/bin/env bash\n"
                       f"exec {sys.executable} -c 'import sys, grader.exercise as e; "
                       "e.REFERENCE_DIR = e.REFERENCE_DIR.parent / \"nowhere\"; "
                       "from grader.cli import main; sys.exit(main(sys.argv[3:]))' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper
