"""Observations -> findings. Pure functions: no I/O, no printing, no processes.

Each check returns a Finding whose `fraction` is the share of its points earned; score.py applies
the rubric. Per-case predicates are exported so the probe can shrink a failure to a minimal input.
"""

from __future__ import annotations

import difflib
import functools
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from grader import feedback, verdict
from grader.canary import Secret
from grader.exercise import Exercise, Tolerance
from grader.exercise import catalogue as exercise_catalogue
from grader.formula import names as formula_names
from grader.grids import PLAIN_LAYOUTS, TRACKED_LAYOUTS, GridCase, round_to
from grader.observations import CaseResult, Observations, Returned, Traced
from grader.outcome import Finding
from grader.submission import (
    CLASS_FILES,
    MAX_HELPER_BYTES,
    MAX_HELPERS,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    NOT_A_NOTEBOOK,
    NOTEBOOK_AS_PY,
    STAND_INS,
    TOO_LARGE,
)
from grader.verdict import values_of

# ---- per-case facts --------------------------------------------------------------------------------

def reference(case: GridCase, ex: Exercise) -> np.ndarray:
    """The expected values: float64 on the CPU from the exact inputs, rounded to the input's dtype."""
    return round_to(ex.reference(case.values), case.dtype)


def within_tolerance(got: np.ndarray, case: GridCase, ex: Exercise) -> np.ndarray:
    """Per element: is the returned value within the dtype's tolerance of the reference? (NaN: no)
    For a float32 input of a gradient that sums over x, the whole answer may instead be the
    reference at any one sum float32 arithmetic could give (Exercise.float32_sums)."""
    want, tol = reference(case, ex), ex.tolerance(case.dtype)
    allowed = tol.atol + tol.rtol * np.abs(want)
    close = np.abs(got - want) <= allowed
    sums = ex.float32_sums(case.values) if case.dtype == "float32" and not close.all() else None
    return np.ones_like(close) if sums is not None and sums.explain(got, want, allowed) else close


def matches(r: Returned, case: GridCase, ex: Exercise) -> bool:
    got = values_of(r, case)
    return got is not None and bool(np.all(within_tolerance(got, case, ex)))


def contract_ok(r: Returned, case: GridCase) -> bool:
    return (r.kind == "tensor" and r.dtype == case.dtype and r.shape == case.shape
            and r.device == case.device)


def untouched(r: CaseResult) -> bool:
    return not (r.input_changed or r.requires_grad_changed or r.grad_left)


def repeat_agrees(r: CaseResult, ex: Exercise) -> bool:
    a, b = values_of(r.first, r.case), values_of(r.second, r.case)
    if a is None or b is None:
        same_error = r.first.error and r.second.error and r.first.error.type == r.second.error.type
        return bool(r.first.kind == r.second.kind and (r.first.kind != "error" or same_error))
    tol = ex.tolerance(r.case.dtype)
    same_nan = np.isnan(a) & np.isnan(b)  # the same NaN twice is consistent, if wrong
    return bool(np.all((np.abs(a - b) <= tol.atol + tol.rtol * np.abs(a)) | same_nan))


def case_predicates(ex: Exercise) -> dict[str, Callable[[CaseResult], bool]]:
    """check name -> 'this case fails it', for the checks whose failures are worth shrinking."""
    return {
        "correctness": lambda r: r.case.layout in PLAIN_LAYOUTS and not matches(r.plain, r.case, ex),
        "tracked_inputs": lambda r: r.case.layout in TRACKED_LAYOUTS and not matches(r.plain, r.case, ex),
        "contract": lambda r: r.plain.kind != "error" and not contract_ok(r.plain, r.case),
    }


SHRINK_LAYOUTS = {"correctness": PLAIN_LAYOUTS, "tracked_inputs": TRACKED_LAYOUTS,
                  "contract": PLAIN_LAYOUTS + TRACKED_LAYOUTS}


# ---- the checks ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """A check declares its own name and default points (an exercise's rubric may change the
    points); calling it runs it. ALL lists them in the order reports show them."""

    name: str
    points: float
    run: Callable[[Observations, Exercise], Finding]

    def __call__(self, obs: Observations, ex: Exercise) -> Finding:
        return self.run(obs, ex)


ALL: list[Check] = []


def check(name: str, points: float, on_what_ran: bool = False) -> Callable[
        [Callable[[Observations, Exercise], Finding]], Callable[[Observations, Exercise], Finding]]:
    """Register a check under its name with its default points, in definition order. A check
    `on_what_ran` judges the inputs that ran, and earns only their share where grading stopped
    early (_only_what_ran)."""

    def register(run: Callable[[Observations, Exercise], Finding]) -> Callable[[Observations, Exercise], Finding]:
        def on_those(obs: Observations, ex: Exercise) -> Finding:
            return _only_what_ran(run(obs, ex), obs)

        registered = functools.wraps(run)(on_those) if on_what_ran else run
        ALL.append(Check(name, points, registered))
        return registered

    return register


def names() -> tuple[str, ...]:
    return tuple(c.name for c in ALL)


# What the child imports besides a student's own modules (sandbox/stand_ins.py), in the words both loads messages
# use (rv46: a flat class folder's file was told of four packages, the stand-ins left out)
_WHAT_THE_GRADER_HAS = ("torch, numpy, matplotlib and IPython (and what they need), and stand-ins for "
                        + feedback.listed([f"{name} (torch's functions under d2l's names)" if name == "d2l" else name
                                           for name in STAND_INS]))


@check("loads", 1.0)
def check_loads(obs: Observations, ex: Exercise) -> Finding:
    finding = _check_loads(obs, ex)
    if obs.load.stand_ins:
        # (ux129: the book's `from d2l import torch as d2l` failed the import, 0/10 where get_derivative came after;
        # hn134, ux130: so did an unused `import seaborn as sns`, `import pandas as pd`, `from tqdm import tqdm`)
        used = obs.load.stand_ins
        names = feedback.listed(used)
        took = "a stand-in took its place" if len(used) == 1 else "stand-ins took their places"
        each = "; ".join(f"{name}: {_STAND_IN_WORDS.get(name, 'its names do nothing here')}" for name in used)
        finding = replace(finding, summary=f"{finding.summary} Your file imports {names}, which the grader does not "
                                           f"install: {took} ({each}).")
    return finding


_STAND_IN_WORDS = {  # (sandbox/stand_ins.py: what each stand-in's names do)
    "d2l": "its names for torch's own functions are torch's (d2l.sin, d2l.tensor, d2l.reduce_sum), its device "
           "helpers and Timer are d2l's, and its other helpers do nothing here: your d2l plots are not drawn",
    "pandas": "its names do nothing here, and no table is made",
    "seaborn": "its names do nothing here: no style is set and no plot drawn",
    "tqdm": "its progress bars show nothing, a loop over one gets its items as they are, and tenumerate, tzip, "
            "tmap and thread_map are what they wrap",
}


def _check_loads(obs: Observations, ex: Exercise) -> Finding:
    load = obs.load
    if load.ok and load.error is not None:
        # Raised after the function was defined: the function was graded as the file stood there.
        raised = _load_error_finding(load.error, ex, obs.notebook)
        if obs.notebook:  # (every cell runs, as nbgrader's autograder runs them: sandbox/child.py's run_cells)
            # (not "only this check's point is lost": hn123's get_ipython() line stopped its cell before
            # `import torch`, and every call then raised, 0/10)
            return replace(raised, summary=f"{raised.summary} The grader ran the notebook's other cells all the "
                                           f"same, as nbgrader does, and graded the {ex.function} they defined: this "
                                           "check fails for the error, and what the rest of that cell would have "
                                           f"done (an import, a name) is missing wherever {ex.function} needs it.")
        if load.error.type == "SyntaxError" and load.error.syntax_code.lstrip().startswith(("%", "!")):
            # (IPython's lines in a .py: submission._with_ipython_lines)
            return replace(raised, summary=f"{raised.summary} The grader ran such lines as a notebook cell runs "
                                           f"them, and graded {ex.function}: this check fails for them.")
        return replace(raised, summary=f"{raised.summary} {ex.function} was defined above that line, so it was "
                                       "graded as the file stood there: this check fails for the error.")
    if load.ok:
        # (not "(x)": a hunter's get_derivative(f, x) read that it defines get_derivative(x))
        return Finding("loads", True, 1.0, f"Your file loads and defines {ex.function}.")
    if obs.not_python == NOTEBOOK_AS_PY:
        return Finding("loads", False, 0.0, f"Your file is {obs.not_python}, not Python source code, so it cannot "
                       "be imported.", advice="Submit it named .ipynb, or in Jupyter export it as Python (File > Save "
                       "and Export Notebook As > Executable Script; in Colab, File > Download > Download .py) and "
                       "submit that file.")
    if obs.not_python:
        archive = "archive" in obs.not_python
        return Finding("loads", False, 0.0, f"Your file is {obs.not_python}, not Python source code, so it cannot "
                       "be imported.", advice="Unpack it and submit the .py file (or notebook) inside." if archive
                       else "Submit your .py file (or notebook) itself.")
    if obs.ended is not None:
        hint = {"timeout": "Code at the top level runs on import: an endless loop or a long computation there?",
                "exit": "Do not call os._exit, sys.exit or exit() at the top level of your file.",
                "memory": "Code at the top level runs on import: do not build huge arrays or files, or start hundreds "
                          "of threads, there."}
        return Finding("loads", False, 0.0, f"Importing your file failed: Python {obs.ended.detail}.",
                       advice=hint.get(obs.ended.reason, "Run your file with python to see what happens."))
    if load.error is None and load.missing == "missing" and obs.blank:
        # (ux137: a file of one comment was told it is empty)
        return Finding("loads", False, 0.0, f"Your {'notebook' if obs.notebook else 'file'} has no code (it is empty, "
                       f"or comments only): it defines nothing, {ex.function} included.",
                       advice="Was this the file you meant to submit? Save your work, then submit the file that "
                              f"defines {ex.function}(x).")
    if load.error is None and load.missing == "missing" and obs.nested is not None:
        line, where = obs.nested
        return Finding("loads", False, 0.0, f"Your file defines {ex.function} on line {line} {where}: the grader "
                       f"imports your file and looks for {ex.function} at its top level, and it is not there.",
                       advice=f"Move def {ex.function}(x): … to the top level of the file (no indentation), and keep "
                              "only demo or plotting code under `if __name__ == \"__main__\":`.")
    if load.error is None and load.missing == "missing":
        # (or the file's one function, whatever its name: hn109's get_derivative, the other exercises'
        # name, written for get_gradient was told only to define get_gradient)
        close = difflib.get_close_matches(ex.function, load.names, n=1) or \
            (list(load.names) if len(load.names) == 1 else [])
        found = f" It defines: {', '.join(load.names[:8])}." if load.names else ""
        advice = (f"Is {close[0]} meant to be {ex.function}? Rename it." if close
                  else f"Define def {ex.function}(x): … at the top level of your file.")
        # Another exercise's function (get_gradient is sin_cos_norm's) graded without --exercise (ux110)
        others = _exercises_for(set(load.names) - {ex.function})
        if others:
            listed = " or ".join(f"--exercise {name}" for name, _ in others)
            asks = "asks" if len(others) == 1 else "ask"
            advice += (f" If the file is for another exercise ({', '.join(sorted({f for _, f in others}))} is "
                       f"what {' and '.join(name for name, _ in others)} {asks} for), submit it where that exercise is "
                       f"graded, or check it yourself with {listed}.")
        # (the batch's summary counts such files, as it does another exercise's values; several named at
        # once where they share the function: ux122's get_derivative files graded as sin_cos_norm were
        # each a load_error, without a word for the class)
        names = [name for name, _ in others]
        data = {"other_exercise": " or ".join(names)} if names else {}
        return Finding("loads", False, 0.0, f"Your file does not define {ex.function}.{found}", advice=advice,
                       data=data)
    if load.error is None:
        return Finding("loads", False, 0.0, f"{ex.function} in your file is a {load.missing}, not a function.",
                       advice=f"Define it with def {ex.function}(x): …")
    told = _load_error_finding(load.error, ex, obs.notebook)
    missing = re.fullmatch(r"No module named '([A-Za-z_]\w*)'", load.error.message or "")
    if load.error.type == "ModuleNotFoundError" and missing and \
            any(name == f"{missing[1]}.py" or name.startswith(f"{missing[1]}/") for name in obs.withheld):
        # (rt200: a class folder's files are other students' submissions, never one student's modules)
        named = ", ".join(obs.classmates)
        if not named:  # (a flat class folder's file, in a batch: hn147's alice.py beside her alice_utils.py)
            # (the same words whether or not the class's folder holds that file: a classmate's name is theirs)
            return replace(told, cause=f"Your file was graded as one of a class's files, each file there a student's "
                           f"submission of its own, so no module beside it is copied: if {missing[1]}.py is yours, "
                           f"it was not. Otherwise, the grader has {_WHAT_THE_GRADER_HAS}, not {missing[1]}.",
                           advice=f"If {missing[1]}.py is yours, put your file and it in a folder of your own inside "
                                  "the class's folder (named for you), which a batch grades as one student's, or copy "
                                  "what you need from it into your file; otherwise import only what the grader has.")
        folder = f"in a folder of more than {CLASS_FILES} source files ({named})" if obs.classmates[-1:] == ("…",) \
            else f"in a folder with other students' submissions ({named} define {ex.function} too)"
        return replace(told, cause=f"Your file lies {folder}, so the grader takes the folder for a class's and grades "
                       f"your file without the modules beside it, as a batch of that folder would: {missing[1]} was "
                       "not copied.",
                       advice=f"Put your file and {missing[1]} in a folder of their own, without other files that "
                              f"define {ex.function}, and grade it there.")
    if load.error.type == "ModuleNotFoundError" and missing and f"{missing[1]}.py" in obs.passed_over:
        # (rt162's solution.py was `from impl import get_derivative`, impl.py beside it: told to submit
        # beside it what it had; a file that defines the function is a submission, a classmate's in a class folder)
        return replace(told, cause=f"{missing[1]}.py, beside your file, defines or names {ex.function} itself (or "
                       "a name spelt nearly like it), so the grader takes it for a submission of its own (in a folder "
                       "of several students' files, a classmate's), not a module of yours, and grades your file "
                       "without it.",
                       advice=f"Submit {missing[1]}.py alone (it is the answer), or define {ex.function} in this file "
                              f"and keep in {missing[1]}.py only what it uses, without {ex.function}'s name.")
    if load.error.type == "ModuleNotFoundError" and missing and f"{missing[1]}/" in obs.passed_over:
        # (rt166: a classmate's folder, bob/, imported as a package)
        return replace(told, cause=f"A file in the folder {missing[1]}/, beside your file, defines {ex.function} "
                       "itself, so the grader takes the folder for a submission of its own (in a folder of several "
                       "students' folders, a classmate's), not a package of yours, and grades your file without it.",
                       advice=f"Define {ex.function} in this file and keep in {missing[1]}/ only what it uses.")
    if shadowed := _shadowed(load.error, obs.shadowed):
        return replace(told, cause=shadowed.text, advice=shadowed.advice)
    if load.error.type == "ModuleNotFoundError" and missing and \
            (link := next((n for n in obs.linked if n in (f"{missing[1]}.py", f"{missing[1]}/")), None)):
        # (a batch's student whose package was a link to a folder elsewhere was told to submit it beside the file)
        kind = "folder" if link.endswith("/") else "file"
        return replace(told, cause=f"{link.rstrip('/')} beside your file is a symbolic link, which the grader never "
                       "follows (a link may lead to any file on the machine, another student's too), so it was not "
                       "graded with your file.",
                       advice=f"Put the {kind} itself there in place of the link (cp -rL copies what a link leads to), "
                              "or copy what you need from it into your file.")
    dotted = re.fullmatch(r"No module named '([A-Za-z_][\w.]*)'", load.error.message or "")
    if load.error.type == "ModuleNotFoundError" and dotted and _left_out(dotted[1], obs.left_out):
        # (a package of 20 modules beside the file was told to submit beside it what was there)
        shown = ", ".join(obs.left_out[:4]) + (f" and {len(obs.left_out) - 4} more" if len(obs.left_out) > 4 else "")
        return replace(told, cause=f"The grader takes at most {MAX_HELPERS} of your own modules beside your file, "
                       f"{MAX_HELPER_BYTES >> 20} MiB in all, and {dotted[1]} was past that: left out were {shown}.",
                       advice=f"Keep what {ex.function} needs in fewer, smaller modules (or in this file), and "
                              "import only those.")
    return told


def _shadowed(error: feedback.ErrorInfo, shadowed: tuple[str, ...]) -> feedback.Cause | None:
    """Where an import or a module's attribute failed on a module the student has beside the file under
    the name of one the grader has (submission.modules_beside's `shadowed`), the words to rename it: rt168's
    code.py ("cannot import name 'f' from 'code'"), hn127's statistics.py used as statistics.f(x) in the
    function (told that the grader's statistics had no f, a name misspelt)."""
    named = re.match(r"(?:cannot import name '\w+' from|No module named|module) '([A-Za-z_]\w*)[.']",
                     error.message or "")
    mine = next((name for name in shadowed if named and name in (f"{named[1]}.py", f"{named[1]}/")), None)
    if error.type not in ("ImportError", "ModuleNotFoundError", "AttributeError") or mine is None:
        return None
    module = mine.removesuffix(".py").removesuffix("/")
    return feedback.Cause("shadowed", f"Your {mine} has the name of a module the grader already has (Python's own "
                          f"{module}, or a package such as torch), and the import finds that one, not yours (at home "
                          "it may find yours, where nothing imported the other first).",
                          f"Rename your {mine} (my_{mine}, say) and import it by its new name.")


def _left_out(module: str, left_out: tuple[str, ...]) -> bool:
    """Whether the module named (mylib.calc.m5, as Python's error names it) is one of those left out
    past the bounds (file names as the child's folder has them: mylib/calc/m5.py, utils.py, mylib/)."""
    path = module.replace(".", "/")
    return any(name in (f"{path}.py", f"{path}/") or name.startswith(f"{path}/") for name in left_out)


# (a notebook told to put code under `if __name__ == "__main__":`, which no cell has: ux111)
_RUN_ALL = ("The grader runs your notebook's code cells from top to bottom, as Kernel > Restart & Run All does: "
            "check that this works, with each import in a cell before the first use of what it imports, and leave "
            "out of the notebook you submit the cells that need files or packages only your machine has.")


def _exercises_for(names: set[str]) -> list[tuple[str, str]]:
    """(exercise, function) of the catalogue's exercises whose function is one of `names`."""
    return [(other.name, other.function) for other in _catalogue() if other.function in names]


_SAVE_AS_UTF8 = ("Save it as UTF-8 (in VS Code: the encoding in the status bar, then Save with Encoding, UTF-8; in "
                 "Notepad: Save As, Encoding UTF-8) and submit it again.")
_SYNTAX_PLACE = re.compile(r"\s*\([^()]*, line \d+\)$")
# Syntax of a newer Python than the grader's own (hn124: an f-string holding its own quotes, 3.12's,
# scored 0 with "`python your_file.py` shows the same message", which on the student's 3.12 it did not)
_GENERIC = re.compile(r"\s*(?:(?:async\s+)?def|class)\s+[A-Za-z_]\w*\s*\[|\s*type\s+[A-Za-z_]\w*\s*[\[=]")
_UNPARENTHESIZED = re.compile(r"\s*except\*?\s+[^:()]+,[^:]*:")


def _newer_syntax(said: str, code: str) -> tuple[str, str] | None:
    """(cause, advice) where a syntax error is most likely a newer Python's syntax, else None."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info < (3, 12) and said.startswith("f-string"):
        return (f"The grader runs Python {running}, whose f-strings cannot hold, inside their braces, the quotes "
                "that delimit them, a backslash or a comment: Python 3.12 and later allow them (f\"{d[\"n\"]}\"), "
                "so this line may well run on yours.",
                "Use the other kind of quotes inside the braces (f\"{d['n']}\"), and move a backslash or a comment "
                "out of them (into a variable of its own).")
    if sys.version_info < (3, 12) and _GENERIC.match(code):
        return (f"The grader runs Python {running}: a `type` alias statement and type parameters in brackets "
                "(def f[T](x), class Box[T]) are Python 3.12's, so this line may well run on yours.",
                "Write it as Python 3.11 does: `Tensor = torch.Tensor` for the alias, and typing.TypeVar for "
                "the type parameter (or leave the annotations out).")
    if sys.version_info < (3, 14) and _UNPARENTHESIZED.match(code):
        return (f"The grader runs Python {running}, where several exceptions caught together need parentheses "
                "(Python 3.14 allows them without).", "Write `except (TypeError, ValueError):`.")
    return None


def _called_at_the_top(error: feedback.ErrorInfo) -> bool:
    """Whether the error was raised in a function the file's own top level called."""
    return len(error.frames) > 1 and error.frames[-1].function != "<module>" and \
        any(frame.function == "<module>" for frame in error.frames[:-1])


def _load_error_place(error: feedback.ErrorInfo) -> str:
    """Where a load error was raised: its line, and the top-level line that called the function it
    was raised in (ux113: a test call at the bottom of the file was never named)."""
    if not error.frames:
        return ""
    last = error.frames[-1]
    where = f" at line {last.line} (`{_as_written(last.code)}`)"
    if _called_at_the_top(error):
        top = next(frame for frame in reversed(error.frames[:-1]) if frame.function == "<module>")
        where += f", in {last.function}, called at line {top.line} (`{_as_written(top.code)}`)"
    return where


def _as_written(code: str) -> str:
    """A notebook's IPython line as its student wrote it, where the script runs what it stands for
    (cell_syntax.py keeps the original after a "  # "): ux116 was shown `(lambda p: globals().update(...`
    for its `%run bad.py`."""
    _, mark, original = code.partition("  # ")
    return original if mark and original.startswith(("%", "get_ipython()")) else code


def _load_error_finding(error: feedback.ErrorInfo, ex: Exercise, notebook: bool = False) -> Finding:
    if error.type == "SyntaxError" and "null bytes" in error.message:
        # UTF-16, as Windows' Notepad ("Unicode") and PowerShell 5's > write: told of the top level (ux110)
        return Finding("loads", False, 0.0, "Your file is not saved as UTF-8 text: it has null bytes, as a file "
                       "saved as UTF-16 (Notepad's \"Unicode\", PowerShell's >) has.",
                       advice=_SAVE_AS_UTF8)
    if error.syntax_line is not None:
        caret = " " * max(0, (error.syntax_offset or 1) - 1) + "^"
        first = (error.message.strip().splitlines() or [""])[0]
        # Python's message without the place it names ("'(' was never closed (solution.py, line 6)"),
        # which the line and caret show: cut at the first "(", it read "'." and, for a backslash in
        # a Windows path, "" (ux112).
        said = _SYNTAX_PLACE.sub("", first).strip().removesuffix(".") or "Python cannot read it"
        cause, advice = "", ("Fix that line; Kernel > Restart & Run All shows the same error." if notebook else
                             "Fix that line; `python your_file.py` shows the same message.")
        if "unicodeescape" in said:
            cause = ("A backslash in a string starts an escape (\\U, \\x, \\n), as in a Windows path written "
                     "\"C:\\Users\\me\".")
            advice = "Write the path with / (\"C:/Users/me\"), or as a raw string (r\"C:\\Users\\me\")."
        elif error.syntax_code.lstrip().startswith(("!", "%")):  # (rt137: a Colab download keeps `!pip install`)
            cause = "That line is IPython's (a notebook's `!` shell command or `%` magic), not Python's."
            advice = "Remove it from the .py file (or submit the notebook itself)."
        elif notebook and "'await' outside" in said:
            # (Jupyter awaits at a cell's top level, IPython's autoawait: "Restart & Run All shows the
            # same error" was false, rt145)
            cause = ("Jupyter runs an `await` at the top of a cell (IPython's autoawait), but the grader runs the "
                     "notebook's cells as plain Python, where `await` works only inside an `async def`.")
            advice = ("Put the awaiting code in an async function and run it with asyncio.run(main()), or leave it "
                      "out of the notebook you submit: get_derivative itself needs no await.")
        elif newer := _newer_syntax(said, error.syntax_code):
            cause, advice = newer
        elif "'utf-8' codec can't decode" in said:
            cause = "Your file is not saved as UTF-8: an accented letter saved in another encoding (Windows' cp1252)."
            advice = _SAVE_AS_UTF8
        stop = "" if said.endswith(("?", "!")) else "."  # ("Did you mean print(...)?." read Python's own, ux113)
        return Finding("loads", False, 0.0, f"Your file has a syntax error on line {error.syntax_line}: {said}{stop}",
                       example=f"    {error.syntax_code}\n    {caret}", cause=cause, advice=advice)
    where = _load_error_place(error)
    if error.type in ("AttributeError", "ImportError") and re.search(r"(module|from) 'grader'", error.message or ""):
        # (rt148: a notebook's `%%writefile grader.py` then `from grader import get_derivative` met this
        # tool's own package, loaded where the student's code runs)
        return Finding("loads", False, 0.0, f"{'Running your notebook' if notebook else 'Importing your file'} "
                       f"raised {error.headline()}{where}.",
                       cause="Your code imports a module named grader, the name of this grading tool, whose own "
                             "package is already loaded where your code runs: the import finds it, not yours.",
                       advice="Give your module another name (deriv.py, say) and import that.")
    if error.type == "ImportError" and (error.message or "").startswith("attempted relative import beyond"):
        # (a module of a package below the student's folder is imported as part of it: submission.read)
        return Finding("loads", False, 0.0, f"Importing your file failed: {error.headline()}{where}.",
                       cause="A relative import of your file (`from ..` …) climbs past the top folder of its package, "
                             "which Python refuses however the file is run.",
                       advice="Each dot after `from` past the first goes one folder up from your file's, and none may "
                              "go above your package's top folder: count them again, or import by the package's "
                              "name, `from mypackage.core import ...`.")
    if error.type == "ImportError" and (error.message or "").startswith("attempted relative import"):
        # (rv44: a student's folder whose answer is mylib/deriv.py, `from .core import ...`, imported only under a
        # main.py's `if __name__ == "__main__":`, was told the grader lacked the packages she had submitted)
        return Finding("loads", False, 0.0, f"Importing your file failed: {error.headline()}{where}.",
                       cause="Your file imports from the package it lies in (`from .` …), which works only where it "
                             "is imported as part of that package, never where it runs as a file of its own, as the "
                             f"grader runs the file that defines {ex.function}.",
                       advice=f"Add a file at the top of your folder that imports it from the package (solution.py "
                              f"holding `from mypackage.module import {ex.function}`, with your package's names), "
                              "or import the package's modules by its name: `from mypackage.core import ...`.")
    if error.type in ("ModuleNotFoundError", "ImportError"):
        # (ux123: modules of the student's own beside the file are graded with it, submission.modules_beside)
        cause = (f"The grader has {_WHAT_THE_GRADER_HAS}, not other packages; a module of "
                 "your own (helpers.py, say) is there only as a .py file (or a package folder of .py files) "
                 "submitted beside this one, in the same folder.")
        advice = ("Import only those, and submit your own .py modules beside the notebook (or copy what you need "
                  "from them into a cell). " + _RUN_ALL
                  if notebook else "Import only those, submit your own modules beside this file (or copy what you "
                  "need from them into it), and put plotting or demo code under `if __name__ == \"__main__\":` so "
                  "it does not run when graded.")
        if "'google" in error.message:
            cause = ("google.colab exists only in Colab (drive.mount, files.upload): the grader runs your code "
                     "without it, and without your Drive's files.")
            advice = (f"Remove the Colab cells (the import, drive.mount, files.upload) from what you submit; "
                      f"{ex.function} needs none of them.")
        return Finding("loads", False, 0.0, f"Importing your file failed: {error.headline()}{where}.",
                       cause=cause, advice=advice)
    if error.type == "ValueError" and error.message.startswith(NOT_A_NOTEBOOK):
        return Finding("loads", False, 0.0, "Your .ipynb file is not a Jupyter notebook the grader can read "
                       "(not the JSON Jupyter saves).",
                       advice="Open it in Jupyter and save it again, or export it (File > Save and Export Notebook "
                              "As > Executable Script) and submit the .py file.")
    if error.type == "ValueError" and error.message.startswith(TOO_LARGE):
        return Finding("loads", False, 0.0, f"Your file is larger than the grader reads: {MAX_SOURCE_BYTES >> 20} MiB "
                       f"{'of code, outputs aside,' if notebook else '(comments included)'} and "
                       f"{MAX_NOTEBOOK_BYTES >> 20} MiB for a notebook with its outputs.",
                       cause="" if notebook else "A solution is a few lines: data, outputs or a model pasted "
                             "into it make it this large, or this is not the file you meant.",
                       advice="Clear its outputs (Edit > Clear All Outputs, or Kernel > Restart & Clear Output), "
                              "save it and submit it again." if notebook else
                              "Submit the .py file that defines the function, without data pasted into it.")
    if error.type == "SystemExit" and notebook:  # (Jupyter's kernel outlives it: so does the grader's run)
        return Finding("loads", False, 0.0, f"Your notebook calls exit() (sys.exit) as it runs{where}.",
                       cause="In Jupyter the kernel outlives it, and Kernel > Restart & Run All stops there; run as "
                             "a script, it ends the program.",
                       advice="Remove that call (a notebook needs none; `unittest.main(exit=False)` runs tests "
                              "without it).")
    if error.type == "SystemExit":  # (ux111's exit() at the end of the file: "raised SystemExit: None")
        return Finding("loads", False, 0.0, f"Your file ends Python as it is imported: it calls exit(){where}.",
                       cause="exit(), quit() and sys.exit() stop the whole program, the grader's import of your "
                             "file included.",
                       advice="Remove that call" + (" (a notebook needs none)." if notebook else
                                                    ", or put it under `if __name__ == \"__main__\":`."))
    if error.type == "FileNotFoundError":  # (a helper's settings.json beside the file was told of the top level)
        return Finding("loads", False, 0.0, f"Importing your file raised {error.headline()}{where}.",
                       cause="The grader runs your file alone, in an empty folder of its own: files beside it (data, "
                             "settings), on your machine or among the files you submitted, are not there.",
                       advice="Put what your file reads into the file itself (a dict or a list), or make it in "
                              f"code; the grader needs only {ex.function}.")
    known = feedback.explain_error(error, ex)
    if known.key == "notebook_magic" and notebook and error.type == "NameError":
        # (ux116's ip = get_ipython() in a notebook was told of a .py file's export)
        known = feedback.Cause("notebook_magic", "get_ipython() exists inside Jupyter, but the grader runs your "
                               "notebook's code cells as plain Python, without IPython: a get_ipython() call on "
                               "a line of its own runs as the magic it calls, one kept in a name (ip = get_ipython()) "
                               "or inside an expression does not.",
                               "Write the magic as a line of its own (%run script.py, %matplotlib inline), or leave "
                               "it out of the notebook you submit.")
    if known.key == "no_gpu":  # (hn136: Colab's `torch.cuda.get_device_name(0)` cell was told to fix that cell)
        return Finding("loads", False, 0.0, f"{'Running your notebook' if notebook else 'Importing your file'} "
                       f"raised {error.headline()}{where}.",
                       cause="That line asks for a GPU, and the grader runs your code where there is none: on your "
                             "machine (or Colab) it works only because you have one.",
                       advice="Put GPU-only lines under `if torch.cuda.is_available():` (or leave them out), and in "
                              f"{ex.function} keep x's device: never move x to the GPU.")
    if known.key in ("disk", "sandbox", "read_only", "notebook_magic", "processes"):  # (the sandbox's refusals)
        return Finding("loads", False, 0.0, f"{'Running your notebook' if notebook else 'Importing your file'} "
                       f"raised {error.headline()}{where}.", cause=known.text, advice=known.advice)
    if _called_at_the_top(error) and known.key not in ("exception", "name"):
        # A test call of the function at the top level (or in a later cell) ran it, and it raised
        # for a mistake the feedback knows: ux113's y.backward() on a vector, told only of the top level.
        return Finding("loads", False, 0.0, f"{'Running your notebook' if notebook else 'Importing your file'} "
                       f"raised {error.headline()}{where}.",
                       cause=f"{known.text} (Your own call of {error.frames[-1].function} ran it as "
                             f"{'the notebook ran' if notebook else 'your file was imported'}.)",
                       advice=known.advice)
    if error.type == "EOFError" and "reading a line" in error.message:
        # (hn124: a notebook's input() was told "Restart & Run All stops at that cell", where Jupyter asks)
        return Finding("loads", False, 0.0, f"{'Running your notebook' if notebook else 'Importing your file'} "
                       f"raised {error.headline()}{where}.",
                       cause="input() waits for someone to type an answer: the grader runs your code with no one "
                             "at the keyboard, so it gets none.",
                       advice="Give the value in code (n = 100) instead of asking for it" + (
                           "." if notebook else ", or put the asking under `if __name__ == \"__main__\":`."))
    if notebook:
        # (hn122: a first try's plt.plot(x, y) left above its fixed cell was told of imports and packages)
        return Finding("loads", False, 0.0, f"Running your notebook's code cells raised {error.headline()}{where}.",
                       cause="Kernel > Restart & Run All stops at that cell, so the notebook run that way never "
                             "reaches the cells below it; the cell itself stops at the line that raised.",
                       advice=_RUN_ALL if error.type == "NameError" else  # (a cell run before its import's)
                       "Fix that cell (Python's message above says how), or delete it if a later cell redoes it "
                       "right; then run Kernel > Restart & Run All and check that it reaches the last cell.")
    return Finding("loads", False, 0.0, f"Importing your file raised {error.headline()}{where}.",
                   cause="Code at the top level of a file runs when the file is imported.",
                   advice="Keep only imports and definitions at the top level; put the rest under "
                          "`if __name__ == \"__main__\":`.")


# What to do where a call's answer depends on an earlier call's (repeatable, and correctness where
# a gradient accumulated between calls made the values wrong).
FRESH_EACH_CALL = "Work on a fresh copy in every call: x = x.detach().clone().requires_grad_(True)."


@check("correctness", 4.0)
def check_correctness(obs: Observations, ex: Exercise) -> Finding:
    return _values_check("correctness", PLAIN_LAYOUTS, obs, ex,
                         passed_words=f"Your values match {ex.formula} on all {{n}} inputs we tried "
                                      f"({_tried_words([c for c in obs.planned if c.layout in PLAIN_LAYOUTS])}).",
                         inputs="inputs")


def _tried_words(cases: list[GridCase]) -> str:
    """What the inputs were, as they were drawn: "0-d to 3-d, empty and non-contiguous tensors,
    float32/float64" was said of every draw, one without an empty input too (rv01)."""
    dims = sorted({len(c.shape) for c in cases}) or [0]
    kinds = [kind for kind, any_ in (("empty", any(c.values.size == 0 for c in cases)),
                                     ("non-contiguous", any(c.layout == "strided" for c in cases))) if any_]
    span = f"{dims[0]}-d" if dims[0] == dims[-1] else f"{dims[0]}-d to {dims[-1]}-d"
    return f"{span}{', ' + ' and '.join(kinds) if kinds else ''} tensors, {'/'.join(sorted({c.dtype for c in cases}))}"


def _values_check(name: str, layouts: tuple[str, ...], obs: Observations, ex: Exercise,
                  passed_words: str, inputs: str) -> Finding:
    if not obs.load.ok:
        return _not_run(name)
    planned = [c for c in obs.planned if c.layout in layouts]
    results = [r for r in obs.cases if r.case.layout in layouts]
    good: list[CaseResult] = []
    bad: list[CaseResult] = []
    for r in results:
        (good if matches(r.plain, r.case, ex) and not _float32_carried(r, ex, obs) else bad).append(r)
    lost, borrowed = _unseeable_credit(good, obs, ex, layouts)
    fraction = (len(good) - lost) / len(planned) if planned else 0.0
    ended = _ended_words(obs) if len(results) < len(planned) else ""
    if planned and len(good) == len(planned):
        return _lent(Finding(name, True, 1.0, passed_words.format(n=len(planned))), fraction, borrowed)
    summary = _fails_words(len(planned), len(results), len(bad), inputs)
    if not bad:
        return _lent(Finding(name, False, fraction, summary, example=ended, data=_counts(planned, good)), fraction,
                     borrowed)
    example = obs.minimal.get(name) or min(bad, key=lambda r: r.case.size_key())
    cause = _cause(example, bad, ex, obs)
    if cause is None and any(_accumulates(r, ex, obs.secret) for r in obs.cases):
        # (hn120's global leaf, never zeroed: "Compare your function with torch.cos", where repeatable
        # named the accumulation that made the values wrong)
        cause = feedback.Cause("accumulation", "Likely cause: gradients accumulate between calls: each backward() "
                               "adds the derivative to a .grad an earlier call left (a leaf kept from call to call, "
                               "its .grad never zeroed), so every answer after the first is off (see repeatable).",
                               FRESH_EACH_CALL)
    slip = cause if cause is not None and _is_slip(cause.key, ex) else None
    untold = _untold(good, slip, ex)
    if untold:
        # Passes that cannot tell the answer from a wrong one (an empty x; where the slip named below
        # gives the right values too) earn in proportion to the inputs that can, as they pass: the same
        # slip scored 1.0 to 7.8 by how many such inputs a grid drew (ux115: cos(x²) without its 2x
        # passed 22 of 36 inputs, empty, zero, 1e-16 or 0.5, where 2x is 1), and x.grad + 0.1, wrong
        # on every input with a number in it, kept the points of the empty ones (ux116).
        told = [r for r in good if all(r is not u for u in untold)]
        telling = len(planned) - len(untold)
        share = len(told) / telling if telling else 0.0
        lost, borrowed = _unseeable_credit(told, obs, ex, layouts)
        fraction = (len(told) + share * len(untold) - lost) / len(planned)
        such = ("empty ones, and those of one element, where a mean is the sum" if slip is not None and
                slip.key == "mean" else "empty ones, and those where the slip named below gives the right values too"
                if slip is not None else "empty ones")
        earn = "earn nothing" if not told else f"earn in proportion to the others: {len(told)} of {telling} pass"
        borrowed = (f" The {len(untold)} it passes are all inputs that cannot tell the right values from yours "
                    f"({such}), so they {earn}." if not told else
                    f" {len(untold)} of the {len(good)} it passes are inputs that cannot tell the right values from "
                    f"yours ({such}), so they {earn}.") + borrowed
    summary += borrowed
    return Finding(name, False, fraction, summary, example=_example(example, ex) + (f"\n{ended}" if ended else ""),
                   cause=cause.text if cause else
                   f"Your values differ from {ex.formula} by more than {_tolerance_words(example.case, ex)}.",
                   advice=cause.advice if cause else f"Compare your function with {_by_hand(ex)} on that input.",
                   data={**_counts(planned, good), "cause": cause.key if cause else "values",
                         **({"other_exercise": cause.exercise} if cause and cause.exercise else {}),
                         **({"slip": True} if cause and _is_slip(cause.key, ex) else {})})


def _untold(good: list[CaseResult], slip: feedback.Cause | None, ex: Exercise) -> list[CaseResult]:
    """The inputs of `good` whose passing tells nothing of the answer: an empty x always, and where a
    named `slip` gives the right values too (within the tolerance): x = 0 for most."""
    untold = []
    for r in good:
        values = feedback.slip_values(slip, r.case.values, ex) if slip is not None and r.case.values.size else None
        if r.case.values.size == 0 or (values is not None and np.all(np.isfinite(values)) and
                                       np.all(within_tolerance(values.reshape(r.case.shape), r.case, ex))):
            untold.append(r)
    return untold


def _fails_words(planned: int, finished: int, bad: int, inputs: str) -> str:
    """How many inputs failed, where those grading never finished are not called failed: "Fails on 35
    of 35 inputs" after the first input's timeout said the values were wrong on 34 inputs no call saw
    (ux112)."""
    if finished >= planned:
        return f"Fails on {bad} of {planned} {inputs}."
    if not finished:
        return f"None of the {planned} {inputs} finished: grading stopped early."
    return (f"Fails on {bad} of the {finished} {inputs} that finished; the other {planned - finished} did not "
            "finish (grading stopped early).")


# What named values are a slip in what was differentiated or returned, not a formula's: autograd of
# sin(2x), of x in degrees, of cos for sin, a flipped sign, y or x returned (with the exercise's own
# [[mistakes]]). The summary lists no such student among the suspects (ux112).
_SLIPS = frozenset({"primitive", "identity", "x_times", "absolute", "negated", "second", "scaled", "mean", "ones",
                    "graph_inspection", "one_dimension"})


def _is_slip(key: str, ex: Exercise) -> bool:
    return key in _SLIPS or any(mistake.key == key for mistake in ex.mistakes)


def _tolerance_words(case: GridCase, ex: Exercise) -> str:
    tol = ex.tolerance(case.dtype)
    words = f"the tolerance for {case.dtype} (atol {tol.atol:g}, rtol {tol.rtol:g})"
    sums = ex.float32_sums(case.values) if case.dtype == "float32" else None
    if sums is not None and np.max(np.abs(sums.high - sums.low), initial=0.0) > 0.2 * tol.atol:
        words += f", even with the sum over x rounded as float32 may round it (up to {sums.spread:.2g} off)"
    return words


def _unseeable_credit(good: list[CaseResult], obs: Observations, ex: Exercise,
                      layouts: tuple[str, ...]) -> tuple[float, str]:
    """How many of `good` earn nothing, and the words: inputs that could never show autograd (a
    factor of 0, a dtype that rounds the secret away, an empty tensor) earn in proportion to the
    inputs of the same layouts that could show it and did, where some had no answer to read
    (verdict UNREAD: None, an error, another shape, NaN) or answered zeros (ZERO). Else they are
    where a formula hides: a red team's file worked out cos(x²)·… by hand on the 27 of 58 inputs of
    cos_square that cannot show the secret, ran autograd on one input and returned None on the
    rest (7.19/10), and then zeros instead of None (5.82). Counted per check's layouts, so that an
    honest file whose None came only on inputs that require grad keeps correctness whole (a red
    team's nonleaf slip lost 1.1 of its 4 there). A file with autograd on every input that can
    show it earns in full whatever it answers elsewhere: it hides nothing it did not do."""
    if obs.secret is None:
        return 0.0, ""
    every = [_judged_case(r, obs, ex).verdict for r in obs.cases]
    if any(v not in verdict.SILENT | verdict.SHOWN for v in every):
        return 0.0, ""  # (autograd not shown somewhere: the policy holds back every point anyway)
    verdicts = [v for r, v in zip(obs.cases, every, strict=True) if r.case.layout in layouts]
    missed = verdicts.count(verdict.UNREAD) + verdicts.count(verdict.ZERO)
    if not missed:
        return 0.0, ""
    judged = sum(v not in verdict.SILENT for v in verdicts)
    unseeable = sum(_judged_case(r, obs, ex).verdict in verdict.UNSEEABLE for r in good if r.case.layout in layouts)
    if not unseeable:
        return 0.0, ""
    share = judged / (judged + missed)
    return unseeable * (1 - share), (
        f" {unseeable} of the inputs it passes cannot show whether autograd was used, so they earn in proportion "
        f"to the inputs that could show it and did: {judged} of {judged + missed} (see autograd).")


def _lent(finding: Finding, fraction: float, borrowed: str) -> Finding:
    """A finding whose credit on inputs that cannot show autograd is cut to `fraction`."""
    if not borrowed:
        return finding
    # (a check that would have passed says so, and then why it is marked failed: ux110 read a ✗ beside
    # "It returns a tensor of the input's shape, dtype and device." as a contradiction)
    held_back = " Not all of its points are earned:" if finding.passed else ""
    return replace(finding, passed=False, fraction=fraction, summary=finding.summary + held_back + borrowed)


def _float32_carried(r: CaseResult, ex: Exercise, obs: Observations) -> bool:
    """A float64 input whose answers, plain and under the secret, are all float32 numbers: the
    verdict judges them at float32's tolerance (autograd on x.float() cast back), so correctness
    judges them as float32 too. A red team's answers rounded to float32 where that rounding stayed
    within float64's tolerance (small derivatives) read the secret off the coarse lattice, 64 of the
    fine one's steps from x², and were proven, with float64's correctness: 10/10 on cos_square."""
    if r.case.dtype != "float64" or obs.secret is None or _judged_case(r, obs, ex).precision != "float32":
        return False
    # (answers that never moved carry no precision of autograd's: a cos(x) that is 1.0 at x = 0 on
    # both calls is exact in float32 and says nothing)
    plain, hidden = values_of(r.plain, r.case), values_of(r.under_secret, r.case)
    return plain is not None and hidden is not None and not np.array_equal(plain, hidden)


# The last observations' verdicts by case: the autograd check and correctness's float32 rule both
# read them, and judging a submission's float64 inputs costs about 6 ms of the worker's CPU.
_JUDGED: list[tuple[Observations, Exercise, dict[int, tuple[CaseResult, verdict.Judged]], set[int]]] = []


def _all_float32(r: CaseResult) -> bool:
    """Whether every number of a case's answers, plain and under the secret, is exactly a float32."""
    answers = [v for v in (values_of(r.plain, r.case), values_of(r.under_secret, r.case)) if v is not None]
    with np.errstate(over="ignore"):
        return bool(answers) and all(np.array_equal(v, v.astype(np.float32).astype(np.float64)) for v in answers)


def _judged_case(r: CaseResult, obs: Observations, ex: Exercise) -> verdict.Judged:
    """verdict.judge of one of obs's cases (or a shrunk one), worked out once per observations.
    Each entry holds its case, so no id is reused while it is kept."""
    assert obs.secret is not None
    if not (_JUDGED and _JUDGED[0][0] is obs and _JUDGED[0][1] is ex):
        first = verdict.ran_out_from(obs.cases)  # (cases from there on came once it had run out for good)
        _JUDGED[:] = [(obs, ex, {}, {id(case) for case in obs.cases[first:]} if first is not None else set())]
    known, ran_out = _JUDGED[0][2], _JUDGED[0][3]
    if id(r) not in known or known[id(r)][0] is not r:
        known[id(r)] = (r, verdict.judge(r, ex, obs.secret, ran_out=id(r) in ran_out))
    return known[id(r)][1]


def _example(r: CaseResult, ex: Exercise) -> str:
    got = values_of(r.plain, r.case)
    if got is not None:
        return feedback.value_example(r.case, got, reference(r.case, ex), ex.formula, r.plain.dtype)
    return f"On {feedback.input_words(r.case)}, your function " \
           f"{feedback.returned_words(r.plain)}."


# torch's warning, as the child's stderr shows it: "<file>.py:<line>: UserWarning: The .grad attribute of
# a Tensor that is not a leaf Tensor is being accessed."
_NON_LEAF_READ = re.compile(r"(?:\.py:(\d+): UserWarning: )?The \.grad attribute of a Tensor that is not a leaf "
                            r"Tensor is being accessed")


def _lost_in_the_graph(first: Returned, case: GridCase, ex: Exercise) -> bool:
    """Whether an answer is what code that reads the graph's nodes gets from the canary's graph:
    None, zeros, or an error with no cause of its own (a node's next_functions None, rt141)."""
    if first.kind == "none":
        return True
    if first.kind == "error" and first.error:
        return feedback.explain_error(first.error, ex).key in ("exception", "attribute", "not_a_tensor",
                                                               "graph_inspection")
    values = values_of(first, case)
    return values is not None and values.size > 0 and not np.any(values)


def _none_cause(cases: Sequence[CaseResult], ex: Exercise, traced: Traced | None, stderr: str = "") -> feedback.Cause:
    """Why None came back, from every input's answer (so that each check says the same): only on
    inputs that already require grad (a tensor made from one without .detach() is no leaf), with the
    primitive never run (nothing recorded joins y to x), where the recorded call ran a backward
    pass through the primitive into a leaf and still returned None (the gradient was there: nothing
    returned it), or otherwise (a pass that never reached x). The first wording said "a missing
    return" to students whose file ended with `return x.grad`."""
    nones = [r for r in cases if r.plain.kind == "none"]
    fresh_leaf = "Work on a fresh leaf: x = x.detach().clone().requires_grad_(True)."
    # (the other inputs may have raised: a helper's sin(x) on the caller's x raised where x needs no
    # grad, and its non-leaf inputs were told the pass never reached x)
    if nones and all(r.case.tracked for r in nones) and any(not r.case.tracked for r in cases):
        return feedback.Cause("none_nonleaf", "Likely cause: None came back only where the input already requires "
                              "grad. A tensor made from such an input without .detach() (x.clone(), x * 1, x itself "
                              "when it is not a leaf) is no leaf, and autograd leaves the .grad of a tensor that is "
                              "not a leaf None.", fresh_leaf)
    answered = {r.case.dtype for r in cases if values_of(r.plain, r.case) is not None}
    empty = {r.case.dtype for r in nones}
    if nones and answered and not answered & empty:
        # A helper's torch.tensor(x, requires_grad=True).double() was told of a graph cut by torch.tensor.
        return feedback.Cause("none_cast", f"Likely cause: None came back only for {' and '.join(sorted(empty))} "
                              f"inputs, and values for {' and '.join(sorted(answered))} ones. A cast after "
                              "requires_grad (.double(), .float(), .to(...)) makes a new tensor that is no leaf, so "
                              "its .grad stays None; where x already has that dtype the cast returns x itself, and "
                              "the gradient is there.",
                              "Cast first, then make the leaf: x = x.detach().double().requires_grad_(True) (and cast "
                              "the answer back to x's dtype), or return the .grad of the tensor you made the leaf.")
    primitive = ex.primitive
    if not any(r.primitive_calls for r in nones):
        return feedback.Cause("none_unrecorded", f"Likely cause: torch.{primitive} never ran during these calls, so "
                              f"autograd recorded nothing that joins your result to x, and x.grad stayed None "
                              f"({primitive} computed with math, NumPy or a list of numbers is invisible to it).",
                              f"Compute torch.{primitive}(x) on the leaf itself, then call .sum().backward() and "
                              "return x.grad.")
    warned = _NON_LEAF_READ.search(stderr)
    if warned:
        # torch warned of it as it happened (hn109's `return y.grad` got the words for a pass that never
        # reached x, or a missing return)
        line = f" (line {warned.group(1)} of your file)" if warned.group(1) else ""
        # (ux110: a pass run on a copy of x, then the caller's x.grad returned, was told to `return
        # x.grad`: torch warned where the grader's x was itself made by an operation)
        # (hn128: shown a leaf x = 0.0, the words were of a tensor that is no leaf alone: the caller's x has no
        # gradient either way where the pass ran on a copy)
        return feedback.Cause("none_nonleaf_read", "Likely cause: your function returned the .grad of a tensor "
                              f"its backward pass did not run into; torch warned{line} that it read the .grad of one "
                              f"that is not a leaf (see the output): y.grad for y = torch.{primitive}(x), or the "
                              "caller's x while your backward pass ran on a copy of it (the grader passes inputs "
                              "made by an operation too; a leaf x's .grad stays None just the same). Autograd fills "
                              ".grad only for the leaf the pass ran into.",
                              "Return the .grad of the very leaf your backward pass ran through: your copy, if "
                              "you made one (leaf = x.detach().clone().requires_grad_(True); "
                              f"torch.{primitive}(leaf).sum().backward(); return leaf.grad).")
    skipped = _cut_short(traced, primitive) if traced is not None else ()
    if skipped:
        # (ux115's s = (t**2).sum().item(), then a fresh leaf of s + 1 through cos and sin, was told to
        # return that leaf's .grad: d/ds, not the gradient)
        steps = ", ".join(skipped)
        return feedback.Cause("none_cut", f"Likely cause: your backward pass ran through {primitive} into a leaf "
                              f"that is not x: it stopped where the reference's pass goes on through {steps} to x. "
                              "That leaf was made from numbers computed from x (.item(), .tolist(), "
                              "torch.tensor(...), .detach()), which autograd cannot follow back, so x.grad stayed "
                              "None.", "Compute every step from x in torch with gradients on (no .item(), .tolist(), "
                              "torch.tensor(...) or .detach() between x and y), then y.backward() and return x.grad.")
    if traced is not None and _through_to_a_leaf(traced, primitive):
        return feedback.Cause("none_not_returned", f"Likely cause: your backward pass ran through {primitive} into a "
                              "leaf (we recorded it), so that leaf's .grad held the gradient, but the function "
                              "returned None: a missing `return`, x.grad read into a name before backward() ran "
                              "(it is None until then), or the .grad of a tensor the pass did not reach (the "
                              "caller's x, when the pass ran on your copy of it).",
                              "Return the .grad of the very tensor the pass ran through: `return leaf.grad` after "
                              f"torch.{primitive}(leaf).sum().backward().")
    return feedback.Cause("none", "Likely cause: x.grad was still None when your function returned: the backward "
                          "pass never reached x (the graph was cut between x and the output by .detach(), "
                          "torch.tensor(...), .item() or .tolist(), or the output was computed under "
                          "torch.no_grad()), backward() had not run yet, the tensor whose .grad you returned is not "
                          "a leaf (made by an operation, like t.clone() or t * 1: autograd fills .grad only for "
                          "leaves), or the function has no `return`.",
                          "Keep every step from x to the output in torch, with gradients on, and end with "
                          "`return x.grad` after y.sum().backward().")


# A dtype's relative rounding (its machine epsilon; float64's none, for _another_exercise's numbers pinned down).
_ROUNDING = {"float64": 0.0, "float32": 2.0 ** -23, "float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}


def _in_half_precision(example: CaseResult, bad: list[CaseResult], ex: Exercise) -> str | None:
    """"float16" or "bfloat16" where every failing input's answer (the example's among them) is made of that
    dtype's numbers alone and right to its rounding (three digits or so), else None."""
    for dtype in ("float16", "bfloat16"):
        half_step, told = _ROUNDING[dtype] / 2, 0
        for r in (example, *bad):
            got = values_of(r.plain, r.case)
            if got is None or not got.size:
                continue
            # (at x itself, or at x as that dtype holds it: x.half() of 1000.3 is 1000.5)
            wants = [reference(r.case, ex), round_to(ex.reference(round_to(r.case.values, dtype)), dtype)]
            finite = np.isfinite(got) & np.isfinite(wants[0]) & np.isfinite(wants[1])
            wide = got[finite].astype(np.float32).astype(np.float64)
            exact = round_to(wide, dtype) == wide
            with np.errstate(invalid="ignore", over="ignore"):
                near = np.logical_or(*(np.abs(got[finite] - want[finite]) <= half_step * np.abs(want[finite]) +
                                       half_step / 64 for want in wants))
            if not (finite.any() and exact.all() and near.all()):
                break
            told += 1
        else:
            if told:
                return dtype
    return None


def _right_to(dtype: str, r: Returned, case: GridCase, ex: Exercise) -> bool:
    """Whether values are right to a coarser dtype's tolerance than x's: only then is lost precision
    the cause (a hunter's cache keyed by id(x) answered 2.19 for cos(0) in float32, and was told its
    answer lost precision)."""
    got = values_of(r, case)
    tol = ex.tolerances.get(dtype)
    if tol is None:  # (half precision, where the exercise grades none: float32's, scaled by the step of each)
        coarser = _ROUNDING.get(dtype, _ROUNDING["bfloat16"]) / _ROUNDING["float32"]
        tol = Tolerance(ex.tolerance("float32").atol * coarser, ex.tolerance("float32").rtol * coarser)
    want = reference(case, ex)
    return got is not None and bool(np.all(np.abs(got - want) <= 10 * (tol.atol + tol.rtol * np.abs(want))))


def _cut_short(traced: Traced, primitive: str) -> tuple[str, ...]:
    """The steps the reference's pass runs between the primitive's and x that a recorded call which
    returned None never ran, where its pass went through the primitive into a leaf sooner: that leaf
    was made from an intermediate's numbers. Empty where there is no such call."""
    step = f"{primitive.title()}Backward0"
    reference = traced.reference
    ops = [s.op for s in reference.runs[0]] if reference is not None and reference.runs else []
    if step not in ops:
        return ()
    wanted = [op for op in ops[ops.index(step) + 1:] if op != "AccumulateGrad"]
    for call in traced.student:
        if call.about != "NoneType":
            continue
        for run in call.runs:
            mine = [s.op for s in run]
            if step in mine and "AccumulateGrad" in mine[mine.index(step):]:
                after = mine[mine.index(step) + 1:]
                ran = after[:after.index("AccumulateGrad")]
                missing = tuple(dict.fromkeys(op for op in wanted if op not in ran))
                if missing and len(ran) < len(wanted):
                    return missing
    return ()


def _through_to_a_leaf(traced: Traced, primitive: str) -> bool:
    """Whether a recorded call that returned None ran a pass through the primitive's step into a leaf."""
    step = f"{primitive.title()}Backward0"
    for call in traced.student:
        if call.about != "NoneType":  # the trace's input answered otherwise: its pass is no evidence here
            continue
        for run in call.runs:
            ops = [s.op for s in run]
            if step in ops and "AccumulateGrad" in ops[ops.index(step):]:
                return True
    return False


def _cause(example: CaseResult, bad: list[CaseResult], ex: Exercise,
           obs: Observations | None = None) -> feedback.Cause | None:
    first = example.plain
    fixed = _fixed_size(bad)
    if fixed is not None:
        # A hunter's aot_function, traced at the first input (25 numbers), raised on every other
        # shape and broadcast a 0-d x to 25 times cos(x): told it differentiated 25·sin(x).
        return feedback.Cause("fixed_shape", f"Likely cause: something in your function has a fixed size of {fixed} "
                              "elements, so inputs of other shapes fail or are broadcast against it: a function "
                              "traced or compiled once for the first input it met (torch.jit.trace, aot_function, "
                              "make_fx), or a tensor made ahead of the calls.",
                              "Compute everything from x itself on each call; compile with dynamic shapes "
                              "(torch.compile(..., dynamic=True)) or not at all.")
    own = _shape_cause(bad, ex)
    if own is not None:
        return own
    # (every failing input so, not the example alone: a red team's cos(x) with a 0.01 slip, None on
    # one-element inputs and a next_functions read beside it was named a slip of reading the graph
    # from its shrunk example, and left the TA's list with 34 inputs bypassed)
    if obs is not None and obs.source_reads_graph and \
            all(_lost_in_the_graph(r.plain, r.case, ex) for r in (example, *bad)):
        return feedback.graph_inspection(ex)
    if first.kind == "error" and first.error:
        if obs is not None and (shadowed := _shadowed(first.error, obs.shadowed)):
            return shadowed
        cause = feedback.explain_error(first.error, ex)
        if cause.key == "no_requires_grad" and all(r.case.values.size == 0 for r in bad):
            # Only empty inputs: x was recorded, but what backward() ran on never met it (a hunter's
            # sum in a Python loop over x's elements was told x never had requires_grad=True).
            return feedback.Cause("empty_unrecorded", "Likely cause: on an empty x, what backward() ran on does not "
                                  "depend on x: a loop over x's elements never ran, so it is the number you started "
                                  "from (torch.zeros(()), say), which autograd did not record.",
                                  f"Compute {feedback.in_torch(ex.value)} on x as a whole tensor, not element by "
                                  "element: an operation on x records it even when x is empty.")
        if cause.key == "exception" and all(r.case.values.size == 0 for r in bad):
            # (a hunter's vmap(grad(...)) and functional.jacobian raise on an empty x, as they do at home;
            # "run it yourself and read the traceback" did not say that only empty inputs failed)
            return feedback.Cause("empty_raised", "Likely cause: your function raised only on empty tensors (x with "
                                  "no elements, such as torch.tensor([]) or shape (0, 3)): some ways to differentiate "
                                  "(torch.func.vmap, torch.autograd.functional.jacobian) raise on an empty batch, "
                                  "as torch.stack and torch.cat do on an empty list (a loop over x's elements).",
                                  "Return an empty gradient for an empty x (if x.numel() == 0: return "
                                  "torch.zeros_like(x)), or differentiate x as a whole tensor: "
                                  "torch.autograd.grad(y.sum(), x) works on empty tensors too.")
        cases = obs.cases if obs is not None else bad
        # (Only where the inputs that do not require grad answered: hn109's x.grad.zero_() before the
        # pass failed on every input, and the tracked_inputs check, which sees only the tracked ones,
        # told it to make the fresh leaf it already made.)
        if cause.key == "not_a_tensor" and "'NoneType'" in first.error.message and \
                all(r.case.tracked for r in bad) and \
                any(not r.case.tracked and r.plain.kind != "error" for r in cases):
            # Only where the input already requires grad: x.grad of a tensor that is no leaf (a hunter's
            # requires_grad_() on the caller's x was told backward() returns None, on a line of its own).
            return feedback.Cause("none_nonleaf", "Likely cause: .grad was None only where the input already "
                                  "requires grad. A tensor made from such an input without .detach() (x.clone(), "
                                  "x * 1, x itself when it is not a leaf) is no leaf, and autograd leaves the .grad "
                                  "of a tensor that is not a leaf None.",
                                  "Work on a fresh leaf: x = x.detach().clone().requires_grad_(True).")
        if cause.key == "memory":
            limit = f"{ex.limits.memory_gib:g} GiB"
            return feedback.Cause("memory", f"Likely cause: the function needed more memory than the {limit} "
                                  "it may use.", cause.advice)
        return cause
    if first.kind == "none":
        return _none_cause(obs.cases if obs is not None else bad, ex, obs.traced if obs is not None else None,
                           obs.output.stderr if obs is not None else "")
    if first.kind == "other" and first.type_name == "tuple":
        # torch.autograd.grad's answer as it comes (a hunter's: "not .numpy(), .item() or .tolist()"
        # named nothing of it).
        # (hn109: y.grad_fn(torch.ones_like(y)), a node called by hand, was told only of autograd.grad)
        # (ux110: `return x.grad, y` was told it called y.grad_fn(...) and torch.autograd.grad)
        # (hn147: a node called by hand gives a tensor at home, SinBackward0's one; the grader's stand-in for sin's
        # node, the canary's, has three inputs, and gives a tuple of three)
        return feedback.Cause("tuple", "Your function must return a torch tensor, and it returned a tuple: a "
                              "`return a, b`, or what torch.autograd.grad gives (one gradient per input, in a tuple, "
                              "even for one input); or a node of the graph called by hand (y.grad_fn(...)), which "
                              f"gives a tuple here: the grader puts a node of its own in place of {ex.primitive}'s, "
                              "to see that the answer follows autograd, and it has three inputs where "
                              f"{ex.primitive}'s own has one.",
                              "Return the gradient alone: after y.sum().backward(), return x.grad; from "
                              "torch.autograd.grad, take it out of the tuple: (g,) = torch.autograd.grad(y, x), or "
                              "torch.autograd.grad(y, x)[0]; instead of calling a node by hand, call y.backward(g) "
                              "or torch.autograd.grad(y, x, g).")
    if first.kind == "wrapped" and first.held == 2:
        # (ux117's `return x, x.grad`: its gradient, the one that is not x, is read; replies.pair_choice)
        # (rt168's `return loss.item(), x.grad`: the number it was taken of, beside it)
        taken_of = "the number it was taken of (return y.item(), x.grad or return loss, x.grad)" \
            if first.text in ("a Python number", "a tensor of one number") else \
            "the tensor it was taken of (return x, x.grad or return y, x.grad)"
        return feedback.Cause("tuple", f"Your function must return a torch tensor, and it returned a {first.type_name} "
                              f"of two: the gradient beside {taken_of}. The gradient's numbers were read.",
                              "Return the gradient alone: return x.grad; plot x and y outside the function.")
    if first.kind == "wrapped" and first.type_name == "list" and any(
            r.plain.kind == "list" and r.plain.text == "tensors" for r in (obs.cases if obs is not None else bad)):
        # (ux125: a loop's list, one tensor for a 0-d x, was told it returned [x.grad])
        first = next(r.plain for r in (obs.cases if obs is not None else bad)
                     if r.plain.kind == "list" and r.plain.text == "tensors")
    if first.kind == "wrapped" and first.type_name == "list":  # (ux116's [x.grad] was told of autograd.grad)
        return feedback.Cause("tuple", "Your function must return a torch tensor, and it returned the tensor inside "
                              "a list of one ([x.grad]).", "Return the tensor itself: return x.grad.")
    if first.kind == "wrapped":
        # Its numbers are read (correctness may pass on them); only the container is the slip.
        return feedback.Cause("tuple", "Your function must return a torch tensor, and it returned the tensor "
                              f"inside a {first.type_name} of one: torch.autograd.grad gives its answer that way (one "
                              "gradient per input, in a tuple, even for one input).",
                              "Return the gradient alone: (g,) = torch.autograd.grad(y, x), then return g; or "
                              "return torch.autograd.grad(y, x)[0].")
    if first.kind == "list" and first.text == "tensors":
        # (hn125: a loop's [xi.grad ...] was told not to call .tolist(), which it never did)
        return feedback.Cause("type", f"Your function must return a torch tensor, and it returned a Python "
                              f"{first.type_name} of tensors (a loop's gradients, one per element or row of x): "
                              "their numbers were read.",
                              "Return one tensor of x's shape: torch.stack(grads).reshape(x.shape); or let one "
                              "backward pass give every element's at once: y.sum().backward(), then return x.grad.")
    if first.kind == "other" and first.type_name in ("Future", "Thread", "AsyncResult", "Task"):
        # (hn132's executor.submit(...) returned as it was: "return x.grad itself (not .numpy()...)")
        return feedback.Cause("pending", f"Likely cause: your function returned a {first.type_name}, the handle of "
                              "work in another thread, not its result.",
                              "Wait for it and return what it gives: future.result() (a thread's own answer, "
                              "through a variable it sets, after thread.join()).")
    if first.kind in ("number", "ndarray", "list", "other"):
        return feedback.Cause("type", "Your function must return a torch tensor.",
                              "Return x.grad itself (not .numpy(), .item() or .tolist()).")
    returned_size = first.values.size if first.values is not None else \
        int(np.prod(first.shape)) if first.shape is not None else None
    # (a shrunk input's answer may come without its values: a hunter's x.grad.sum() was then told its
    # values differ from the formula's)
    # (or of another shape, with no numbers read: more dimensions than the wire takes, rt147)
    if first.kind == "tensor" and returned_size is not None and (returned_size != example.case.values.size or (
            first.values is None and first.shape is not None and tuple(first.shape) != example.case.shape)):
        # No values to compare element by element (a helper's x.grad.sum() was told its values
        # differed from cos(x) by more than the tolerance).
        if first.values is not None and first.values.size == 1 and not ex.elementwise and \
                example.case.values.size > 1 and np.allclose(
                first.values.ravel(), ex.function_values(example.case.values).ravel(), rtol=1e-5, atol=1e-6):
            # (a helper's returned y was told it was "reshaped, summed, or built anew")
            return feedback.Cause("primitive", f"Likely cause: your function returned the value of {ex.value} "
                                  "itself, one number for the whole input, rather than its gradient.",
                                  "Did you return y instead of x.grad? After y.backward(), the gradient is in x.grad.")
        one = ", one number for the whole input (a sum or a mean)," if returned_size == 1 < example.case.values.size \
            else ""
        return feedback.Cause("shape", f"Likely cause: your function returned a tensor of shape "
                              f"{tuple(first.shape or ())}{one} for an input of shape {example.case.shape}, so there "
                              "is no value for each element to compare.",
                              "Return the gradient with x's shape: x.grad itself, not summed or reshaped.")
    precision = feedback.precision_cause(example.case, first.dtype)
    if precision is not None and _right_to(first.dtype or "", first, example.case, ex):
        return precision
    # (right to float32's precision and no further: a hunter's x.float() cast back was told only that
    # its values differ by more than float64's tolerance)
    if obs is not None and (matches(first, example.case, ex) or _right_to("float32", first, example.case, ex)) \
            and _float32_carried(example, ex, obs):
        if not _all_float32(example):
            # (a hunter's 1/(t + 1e-8) for 1/t was told every number it returned was a float32)
            return feedback.Cause("float32_close", "Likely cause: your answers to this float64 input are right only to "
                                  "about float32's precision, also under our secret change of the derivative (see "
                                  "autograd): a step computed in float32, or a slightly different function (a small "
                                  "epsilon added to avoid dividing by zero, say).",
                                  f"Differentiate exactly {feedback.in_torch(ex.value)}, in x's own dtype.")
        return feedback.Cause("float32_numbers", "Likely cause: your answers to this float64 input carry only float32 "
                              "precision: every number in them, also under our secret change of the derivative (see "
                              "autograd), is exactly a float32, as a computation in float32 cast back gives "
                              "(x.float(), torch.tensor(x.tolist()), a float32 helper tensor).",
                              "Keep x's dtype through the whole computation: work on x.detach().clone() and return "
                              "its gradient as it is.")
    half = _in_half_precision(example, bad, ex)
    if half is not None:
        # (hn151's autograd of x.half(), cast back, was told only to compare its function with torch.cos)
        return feedback.Cause("half_values", f"Likely cause: your answers are right to about three digits only, and "
                              f"every number in them is exactly a {half}: the gradient was computed or returned in "
                              f"half precision (.half(), bfloat16, autocast), whose rounding is more than "
                              f"{example.case.dtype}'s tolerance.",
                              "Keep x's dtype through the whole computation: work on x.detach().clone(), with no "
                              ".half() or autocast, and return its gradient as it is.")
    xs, got, truth, function, moved = [], [], [], [], []
    slips: list[list[np.ndarray]] = [[] for _ in ex.mistakes]
    secret = obs.secret if obs is not None else None
    # The example's own numbers first: a cause naming the first x where something is wrong named
    # another x than the example's, both NaN (a hunter's 2·log(x): -0.25 shown, -6.28 named). (The
    # example is often the shrunk input, not one of `bad`.)
    for r in [example, *(r for r in bad if r is not example)]:
        v = values_of(r.plain, r.case)
        if v is not None and not np.iscomplexobj(v):
            xs.append(r.case.values.ravel())
            got.append(v.ravel())
            truth.append(ex.reference(r.case.values).ravel())
            for mistake, values in zip(ex.mistakes, slips, strict=True):
                values.append(ex.mistake_values(mistake, r.case.values).ravel())
            # (a function of a whole vector has a value per element only where there is one element)
            whole = ex.elementwise or r.case.values.size == 1
            function.append(ex.function_values(r.case.values).ravel() if whole else xs[-1] * np.nan)
            if secret is not None:
                moved.append(ex.reference(r.case.values, secret).ravel())
    if not xs:
        return None
    tol = max(ex.tolerance(r.case.dtype).atol for r in bad)
    every_x, every_got, every_truth = np.concatenate(xs), np.concatenate(got), np.concatenate(truth)
    named = feedback.explain_values(every_x, every_got, every_truth, np.concatenate(function), ex, tol,
                                    remembered=np.concatenate(moved) if moved else None,
                                    mistakes=[np.concatenate(values) for values in slips])
    if named is None:
        named = _another_exercise([example, *bad] if obs is None else [example, *obs.cases], ex, tol)
    if named is None and not ex.elementwise and obs is not None and _right_up_to_one_dimension(obs.cases, bad, ex):
        # (ux115's (t**2).sum(dim=0), right on every 0-d and 1-d input, was told only to work it out by hand)
        return feedback.Cause("one_dimension", "Likely cause: your function is right on every input of 0 or 1 "
                              "dimensions and wrong on those of 2 or more: something in it reduces over one dimension "
                              "only (sum(dim=0), a dot product, torch.norm(x, dim=...), a loop over the first axis), "
                              f"where {ex.value} takes every element of x.",
                              "Reduce over every element whatever x's shape: (x ** 2).sum() with no dim.")
    if named is None:
        shown = float(example.case.values.ravel()[0]) if example.case.values.size == 1 else None
        named = feedback.undefined_cause(every_x, every_got, every_truth, ex, shown)
    if named is None and ex.elementwise and _divided_by_size(got, truth, tol):
        # Each input's answer the derivative over its own number of elements: a factor per input,
        # which no one scale of all of them shows (a helper's y.mean().backward() was told only to
        # compare with torch.cos).
        return feedback.Cause("mean", f"Likely cause: your values are {ex.formula} divided by the number of "
                              "elements of x: y.mean().backward() spreads the gradient over them.",
                              "Call y.sum().backward() instead: each element's derivative stands alone.")
    return named


def _another_exercise(results: list[CaseResult], ex: Exercise, tol: float) -> feedback.Cause | None:
    """Values that are another exercise's answer, nine numbers in ten of all `results` (the inputs
    that passed too: a red team's cos_square cheat answered cos(x) on one-element inputs only, and was
    named a sin file), of one whose students write the same function: a TA's batch of cos_square
    files graded as sin ("--exercise" left out) was told of sin run at the wrong numbers, every
    honest student among the suspects (ux111)."""
    slack = max(tol, 1e-6) * 10
    for other in _catalogue():
        if other.name == ex.name or other.function != ex.function:
            continue
        matched = seen = 0
        for r in results:
            got = values_of(r.plain, r.case)
            if got is None or np.iscomplexobj(got) or got.shape != r.case.values.shape:
                continue
            with np.errstate(all="ignore"):
                want = other.reference(r.case.values)
                # Only numbers the input's own precision pins down: where x moved by a few of its dtype's roundings
                # moves the other's answer past the slack, arithmetic in that dtype gives any of them (sin's grids
                # reach |x| = 741, where float32's x² is off by 0.03 rad: an honest cos_square class graded as
                # sin matched 78% of its numbers under some courses' secrets, went unnamed and scored 1/10, ux132)
                step = 4 * _ROUNDING.get(r.case.dtype, _ROUNDING["float32"])
                pinned = np.ones(want.shape, dtype=bool)
                for moved in ((r.case.values * (1 - step), r.case.values * (1 + step)) if step else ()):
                    pinned &= np.abs(other.reference(moved) - want) <= slack + slack * np.abs(want)
            known = np.isfinite(want) & np.isfinite(got) & pinned
            seen += int(known.sum())
            matched += int(np.sum(known & (np.abs(got - want) <= slack + slack * np.abs(want))))
        # (nine in ten of all the numbers it can tell: the cheat that answered cos(x) on one-element inputs only
        # matched few)
        if seen >= 3 and matched >= 0.9 * seen:
            return feedback.Cause(
                "other_exercise", f"Likely cause: your values are {other.formula}, the answer of another exercise, "
                f"{other.name} ({other.title}), not of this one, {ex.name}.",
                f"If your file is for {other.name}, it was graded against the wrong exercise: submit it where "
                f"{other.name} is graded, or check it yourself with --exercise {other.name}.", exercise=other.name)
    return None


@functools.cache
def _catalogue() -> tuple[Exercise, ...]:
    """The catalogue's exercises that load: a broken file of a course's beside the others names no slip, and leaves
    the others' (rv49: one refused key in one file turned every other exercise's look off)."""
    return tuple(exercise_catalogue(loadable=True))


_SIZE_MISMATCH = re.compile(r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)")


def _fixed_size(bad: list[CaseResult]) -> int | None:
    """The one size that inputs of other sizes were refused against, on at least two of them (a
    traced function's or a tensor made ahead), or None. A size of the input's own on both sides of a
    refusal is no fixed size: hn149's `x.T @ x` of a 3-d x, its batch sizes mismatched, was told of one."""
    sizes: set[int] = set()
    refused = 0
    for r in bad:
        error = r.plain.error if r.plain.kind == "error" else None
        found = _SIZE_MISMATCH.search(error.message) if error is not None else None
        if found is None:
            continue
        foreign = {int(found.group(1)), int(found.group(2))} - set(r.case.shape)
        if len(foreign) == 1:
            size = foreign.pop()
            sizes.add(size)
            refused += r.case.values.size != size
    return next(iter(sizes)) if len(sizes) == 1 and refused >= 2 else None


def _own_shape(bad: list[CaseResult]) -> feedback.Cause | None:
    """The one shape, of more than one element, that came back for inputs of several other shapes:
    a function that differentiates a tensor of its own (the book's torch.arange for its plot) rather
    than x. A self-check of it was told its result was "reshaped, summed, or built anew"."""
    moved = [r for r in bad if r.plain.kind == "tensor" and tuple(r.plain.shape or ()) != r.case.shape]
    shapes, inputs = {tuple(r.plain.shape or ()) for r in moved}, {r.case.shape for r in moved}
    if len(shapes) != 1 or len(inputs) < 2:
        return None
    shape = next(iter(shapes))
    if int(np.prod(shape)) <= 1:  # (one number for any input: a sum or a mean, told as such)
        return None
    return feedback.Cause("own_grid", f"Likely cause: your function returned a tensor of shape {shape} whatever the "
                          "shape of x: it differentiates a tensor of its own (a torch.arange or torch.linspace, "
                          "like the book's plot) rather than the x it is given.",
                          "Differentiate at the x your function receives: x = x.detach().clone()."
                          "requires_grad_(True), then the function of that x.")


def _shape_cause(cases: list[CaseResult], ex: Exercise) -> feedback.Cause | None:
    """What the wrongly shaped answers among `cases` are, where a shape tells: a grid of the function's
    own (_own_shape), or a Jacobian (_jacobian_shape)."""
    return _own_shape(cases) or _jacobian_shape(cases, ex)


def _jacobian_shape(cases: list[CaseResult], ex: Exercise) -> feedback.Cause | None:
    """Every wrongly shaped answer has x's shape and more dimensions besides: a Jacobian (x.shape +
    x.shape, from jacrev or autograd.functional.jacobian), or one summed over some of them. Right by
    chance on a 1-d x (hn130's jacrev(sin)(x).sum(0)), which the words it got ("reshaped, summed, or
    built anew") did not explain."""
    moved = [(tuple(r.plain.shape or ()), r.case.shape) for r in cases
             if r.plain.kind == "tensor" and tuple(r.plain.shape or ()) != r.case.shape]
    if not ex.elementwise or not moved or not all(_of_a_jacobian(got, x) for got, x in moved):
        return None
    return feedback.Cause("jacobian", "Likely cause: your function returned a Jacobian (shape x.shape + x.shape, "
                          "what jacrev and torch.autograd.functional.jacobian give), or one summed over some of "
                          "its dimensions: right by chance for a 1-d x only.",
                          f"{ex.value} acts on each element alone, so its Jacobian is diagonal and the "
                          "derivative is that diagonal: differentiate the sum instead, "
                          "torch.autograd.grad(y.sum(), x), or use torch.func.vmap(torch.func.grad(f)) "
                          "on x.flatten() and reshape to x.shape.")


def _of_a_jacobian(got: tuple[int, ...], x: tuple[int, ...]) -> bool:
    """Whether `got` is x.shape + x.shape with some of the dimensions of one of its halves summed away."""
    def within(rest: tuple[int, ...]) -> bool:  # rest is x with some dimensions left out
        left = iter(x)
        return all(any(n == m for m in left) for n in rest)
    n = len(x)
    return n > 0 and len(got) > n and ((got[:n] == x and within(got[n:])) or (got[-n:] == x and within(got[:-n])))


def _right_up_to_one_dimension(cases: Sequence[CaseResult], bad: list[CaseResult], ex: Exercise) -> bool:
    """Whether every failing input has two dimensions or more, and every input of 0 or 1 with more
    than one element among them passed (and one at least with values of its own came back)."""
    if not bad or any(len(r.case.shape) < 2 for r in bad) or any(values_of(r.plain, r.case) is None for r in bad):
        return False
    low = [r for r in cases if len(r.case.shape) < 2 and r.case.values.size > 0]
    return any(r.case.values.size > 1 for r in low) and all(matches(r.plain, r.case, ex) for r in low)


def _divided_by_size(got: list[np.ndarray], truth: list[np.ndarray], tol: float) -> bool:
    """Whether every input with more than one element answered its reference over its size."""
    sized = [(g, t) for g, t in zip(got, truth, strict=True) if g.size > 1 and np.any(np.abs(t) > 0.1)]
    slack = max(tol, 1e-6) * 10
    return bool(sized) and all(np.all(np.abs(g - t / g.size) <= slack + slack * np.abs(t / g.size)) for g, t in sized)


@check("autograd", 2.0, on_what_ran=True)
def check_autograd(obs: Observations, ex: Exercise) -> Finding:
    return _zeros_show_nothing(_check_autograd(obs, ex))


def _right_and_telling(r: CaseResult, ex: Exercise) -> bool:
    """Whether the plain answer is right and not zero throughout (zeros where the derivative is zero,
    an honest hook's, are right by chance)."""
    values = _telling_values(r)
    return values is not None and bool(np.all(within_tolerance(values, r.case, ex)))


def _telling_values(r: CaseResult) -> np.ndarray | None:
    """The plain answer's values where they are not zero throughout (zeros where the derivative is
    zero, an honest hook's, are right by chance and tell nothing)."""
    values = values_of(r.plain, r.case)
    return values if values is not None and np.any(np.abs(values) > NEAR_ZERO) else None


NEAR_ZERO = 1e-3  # an answer or a reference this small is right by chance (verdict._ZERO)


def _right_share(results: list[CaseResult], ex: Exercise) -> float | None:
    """Of the plain inputs (correctness's) where autograd was not shown, the share whose answers are
    mostly right (within tolerance on at least half of their elements; zeros aside, as in
    _right_and_telling): what tells a formula from a wrong answer for the TA's list
    (report/summary.py). Per input and on plain inputs alone: a share of elements over every input
    let a red team's cos(x), right on every plain input of up to 2-d, hide behind far answers on the
    inputs that require grad and on a few large ones (rt149); right values everywhere but one
    element (rt145) are a formula's too. Honest autograd of sin(x·x) or sin(x + 1) is right on none.
    Judged on the elements where the reference is not near 0 (as the answer's zeros are set aside): where
    it is, a wrong answer near 0 too is right by chance, and hn133's honest slips of sin_cos_norm
    (the + 1 forgotten, the norm not squared) were right so on a quarter to half of a grid's inputs, and
    listed among the suspects on some seeds and not on others. Nor where it is near 1, where the incoming
    gradient returned (all ones, a beginner's slip: hn151's `y.grad` of a detached y) is right by chance on the
    grid's many inputs near 0, and was listed among the suspects. None where no such input had an answer
    to read."""
    right = total = 0
    for r in results:
        values = _telling_values(r) if r.case.layout in PLAIN_LAYOUTS else None
        if values is None:
            continue
        truth = reference(r.case, ex)
        with np.errstate(invalid="ignore", over="ignore"):
            close = within_tolerance(values, r.case, ex)[(np.abs(truth) > NEAR_ZERO) & (np.abs(truth - 1) > NEAR_ZERO)]
        if not close.size:
            continue
        right += int(np.count_nonzero(close) * 2 >= close.size)
        total += 1
    return round(right / total, 4) if total else None


def _zeros_show_nothing(finding: Finding) -> Finding:
    """Answers of zero (or within 1e-3 of it) where the reference is not say nothing either way
    (verdict ZERO: y.backward(x) at x = 0 is no formula), so they never make a submission unproven;
    but they show no autograd either, and earn none of its points: a red team's file ran autograd on
    one input and answered 7.77e-4 everywhere else, and was "proven on all 2 inputs we checked"
    (5.7/10, with the contract's and repeatability's points). Nor do inputs that could have shown it
    and had no answer to read (UNREAD: a red team's None on them, cos(x²)·… by hand wherever the
    secret cannot show, and autograd on one input)."""
    zeros, unread = finding.data.get("zeros", 0), finding.data.get("unread", 0)
    if not finding.passed or not (zeros or unread):
        return finding
    judged = sum(n for v, n in finding.data["verdicts"].items() if v not in verdict.SILENT)
    summary = finding.summary
    if zeros:
        others = "1 other input your answer was" if zeros == 1 else f"{zeros} other inputs your answers were"
        # (not "within 0.001 of 0" alone: a wrong answer a small multiple of the derivative is silent too, verdict.
        # _wrong_kind, and hn157's log|x| slip there answered 0.0059)
        summary += (f" On {others} 0, or too near 0 beside the derivative to show whether autograd moved them, "
                    "where the derivative is not: those show nothing, and earn no autograd points (see correctness).")
    return replace(finding, passed=False, fraction=finding.fraction * judged / (judged + zeros + unread),
                   summary=summary)


def _check_autograd(obs: Observations, ex: Exercise) -> Finding:
    """The canary (verdict.py): every input was answered once with autograd's true derivative of the
    primitive and once with a secret one, unknown to the submission. Credit needs every input with
    values to be proven: the truth plainly, and exactly what autograd gives under the secret."""
    if not obs.load.ok:
        return _not_run("autograd")
    verdicts = [(r, _judged_case(r, obs, ex)) for r in obs.cases] if obs.secret is not None else []
    judged = _judged(verdicts)
    counts = Counter(v.verdict for _, v in judged)
    shown = all(v.verdict in verdict.SHOWN for _, v in judged)
    # Nothing judged is nothing proven: credit beyond loading needs autograd shown somewhere.
    zeros = sum(v.verdict == verdict.ZERO for _, v in verdicts)  # (said nothing: see _zeros_show_nothing)
    data = {"verdicts": dict(counts), "unproven": not (judged and shown), "bypassed": counts[verdict.BYPASSED] > 0,
            "zeros": zeros, "unread": sum(v.verdict == verdict.UNREAD for _, v in verdicts),
            # Inputs with the right values and no autograd shown: a formula's mark, never a slip's (a
            # file of cos(x), and None or a slip's values on its smallest inputs, which the feedback
            # names, was no suspect for the TA).
            "unproven_right": sum(v.verdict not in verdict.SHOWN and _right_and_telling(r, ex) for r, v in judged),
            "unproven_right_share": _right_share([r for r, v in judged if v.verdict not in verdict.SHOWN], ex),
            # (whether autograd was used at all, in the source or a recorded pass: a wrong answer of
            # autograd's is a slip, numerical differentiation's is what the TA's list is for)
            "used_autograd": obs.source_uses_autograd or bool(_pass_ops(obs)),
            # (lines that call a telltale, cos for sin, or finite differences: a formula's mark beside a slip's; not
            # under a main guard, which grading never runs: rv50's self-check against torch.cos there was listed)
            "telltales": sum(not hit.guarded for hit in obs.source_hits)}
    if not judged:
        complex_ = any(c.values is not None and np.iscomplexobj(c.values) for r in obs.cases for c in r.calls)
        coarse = sorted({r.case.dtype for r, v in verdicts if v.verdict == verdict.COARSE})
        what = "complex numbers, not a real derivative" if complex_ else "no values we could check"
        if coarse and not complex_:
            what = (f"values only for {' and '.join(coarse)} inputs, whose precision loses our secret change of "
                    "the derivative in rounding")
        return Finding("autograd", False, 0.0, f"Autograd of {ex.watched} is not shown: {ex.function} returned "
                       f"{what}.", data=data)
    if shown:
        wrong = counts[verdict.FOLLOWS]
        if wrong:
            return Finding("autograd", True, 1.0, f"Your values come from autograd of {ex.watched}, but on "
                           f"{wrong} of {len(judged)} inputs they are not its derivative (see correctness)."
                           f"{_unread_words(verdicts, len(judged))}",
                           # (in step, not "exactly as": hn133's log10 for log moved 1/ln 10 as much)
                           example=f"They changed in step with autograd's answer (by as much, or in proportion to "
                                   f"it) when we swapped the derivative of {ex.primitive} for a secret one.",
                           data=data)
        # (where some had no answer, the ✗ is explained: "came through autograd" alone beside it read as a
        # contradiction, ux113; "only on the 31 inputs" as a suspicion, ux117)
        unread = _unread_words(verdicts, len(judged))
        every = "on the" if len(judged) == 1 else "on every one of the"
        told = unread.removeprefix(' That rests on the').replace(" we could judge: on ", " we could judge, but on ", 1)
        return Finding("autograd", True, 1.0, f"Your values came through autograd of {ex.watched}"
                       f"{f' {every}' + told if unread else '.'}",
                       example=f"We swapped the derivative autograd uses for {ex.primitive} with a secret one on "
                               f"calls you could not tell apart; your answers followed it exactly "
                               f"{'on the 1 input' if len(judged) == 1 else f'on all {len(judged)} inputs'} we "
                               "checked.", data=data)
    unshown = [(r, v) for r, v in judged if v.verdict not in verdict.SHOWN]
    # An answer kept from a call under the secret, where one shows, names a cache better than one
    # kept from a plain call, which did not move (a hunter's lru_cache per number was told its
    # value was computed another way).
    r, worst = next(((r, v) for r, v in unshown if v.verdict == verdict.BYPASSED
                     and feedback.remembered_answer(v, r, ex, obs.secret) is not None), unshown[0])
    words = feedback.unproven(worst, r, ex, _primitive_called(obs), obs.source_uses_autograd, _pass_ops(obs),
                              accumulates=_accumulates(r, ex, obs.secret), secret=obs.secret)
    policy = (f" Credit beyond loading the file needs autograd of {ex.primitive} shown on every input, so this "
              "submission scores no other points." if ex.zero_total_unless_autograd else "")
    unproven = len(judged) - sum(counts[v] for v in verdict.SHOWN)
    return Finding("autograd", False, 0.0,
                   f"Autograd of {ex.watched} is not shown on {unproven} of {len(judged)} inputs: "
                   f"{words.summary}.{policy}",
                   example=words.example, cause=words.cause, advice=words.advice, evidence=_evidence(obs, ex),
                   data=data)


def _accumulates(r: CaseResult, ex: Exercise, secret: Secret | None) -> bool:
    """Whether the second of two calls on one tensor answered the first plus a derivative at x
    (autograd's, or under the secret R*): a gradient accumulating in a leaf reused across calls,
    zero_grad forgotten. Only then are the autograd check's words about it (a red team's answers
    changed between calls in other ways, and were excused so)."""
    a, b = values_of(r.first, r.case), values_of(r.second, r.case)
    if a is None or b is None or not a.size or np.array_equal(a, b):
        return False
    tol = ex.tolerance(r.case.dtype)
    steps = [ex.reference(r.case.values), *([ex.reference(r.case.values, secret)] if secret is not None else [])]
    return any(bool(np.all(np.abs((b - a) - step) <= 10 * (tol.atol + tol.rtol * np.abs(step)))) for step in steps)


def _unread_words(verdicts: list[tuple[CaseResult, verdict.Judged]], judged: int) -> str:
    """Where some inputs that could show autograd had no answer to read, on either call: what the
    proof rests on (a red team's honest first input and None after scored 4.13/10, "came through
    autograd" in words that did not say it rested on one input of 58). They earn no autograd points
    (_zeros_show_nothing), and lend nothing to the inputs that cannot show it (_unseeable_credit):
    no answer hides a formula, but answers withheld wherever the secret could show, and worked out
    by hand wherever it cannot, did (a red team's 7.19/10)."""
    unread = sum(v.verdict == verdict.UNREAD for _, v in verdicts)
    if not unread:
        return ""
    inputs = "input" if judged == 1 else "inputs"
    return (f" That rests on the {judged} {inputs} we could judge: on {unread} others, where it could have shown, "
            "we had no answer to read on either call (None, an error, another shape, or NaN: see correctness and "
            "tracked_inputs); those earn no autograd points.")


def _judged(verdicts: list[tuple[CaseResult, verdict.Judged]]) -> list[tuple[CaseResult, verdict.Judged]]:
    """The inputs that say something about autograd, with their verdicts. Answers that are zero
    wherever the secret would move them say nothing, unless every answer is like that: then the
    answers never moved at all."""
    judged = [(r, v) for r, v in verdicts if v.verdict not in verdict.SILENT]
    if judged:
        return judged
    return [(r, replace(v, verdict=verdict.BYPASSED)) for r, v in verdicts if v.verdict == verdict.ZERO]


def _primitive_called(obs: Observations) -> bool:
    """Whether the exercise's primitive ran at all during the graded calls (the canary counts every
    route: threads, TorchScript, torch.func)."""
    return any(r.primitive_calls for r in obs.cases)


def _pass_ops(obs: Observations) -> frozenset[str]:
    """The nodes of the student's first backward pass at the recorded input (none if none ran)."""
    calls = obs.traced.student if obs.traced is not None else ()
    runs = calls[0].runs if calls else ()
    return frozenset(step.op for run in runs[:1] for step in run)


def _by_hand(ex: Exercise) -> str:
    """What to compare a wrong value with: torch.cos for sin, else the formula worked out."""
    called = formula_names(ex.derivative)
    if ex.gradient == f"d_{ex.primitive}(x)" and len(called) == 1:
        return f"torch.{next(iter(called))}"
    return f"{ex.formula}, worked out by hand"


def _evidence(obs: Observations, ex: Exercise) -> tuple[str, ...]:
    """Secondary facts for the words, never the verdict: whether the primitive ran at all, and the
    source lines that call a telltale (cos, for sin) or finite differences."""
    lines = []
    if obs.cases and not _primitive_called(obs):
        lines.append(f"Evidence: torch.{ex.primitive} never ran during the calls of your function.")
    for hit in obs.source_hits[:3]:
        lines.append(f"Evidence: line {hit.line} {hit.name and 'calls ' + hit.name}: `{hit.code}`")
    return tuple(lines)


@check("contract", 1.0, on_what_ran=True)
def check_contract(obs: Observations, ex: Exercise) -> Finding:
    """Every call must return a tensor like x; a call that raised did not."""
    if not obs.load.ok:
        return _not_run("contract")
    if not any(r.plain.kind != "error" for r in obs.cases):
        return Finding("contract", False, 0.0, "Not checked: your function never returned a value.")
    good = [r for r in obs.cases if contract_ok(r.plain, r.case)]
    lost, borrowed = _unseeable_credit(good, obs, ex, PLAIN_LAYOUTS + TRACKED_LAYOUTS)
    if len(good) == len(obs.cases):
        # (hn132: autograd.grad(..., create_graph=True) returned as it is, which the book's own
        # plt.plot(x, get_derivative(x)) refuses: no points lost, but said)
        tracked = " It still requires grad, though: .detach() it before plotting it or calling .numpy()." \
            if any(r.plain.requires_grad for r in good if r.case.layout in PLAIN_LAYOUTS) else ""
        return _lent(Finding("contract", True, 1.0, "It returns a tensor of the input's shape, dtype and device."
                             + tracked), (len(good) - lost) / len(obs.cases), borrowed)
    bad = [r for r in obs.cases if r.plain.kind != "error" and not contract_ok(r.plain, r.case)]
    summary = f"Does not return a tensor like x on {len(obs.cases) - len(good)} of {len(obs.cases)} inputs.{borrowed}"
    if not bad:
        # (the check that shows them: a hunter's errors only on inputs that require grad were sent to a
        # correctness that had passed)
        raised = {r.case.layout for r in obs.cases if not contract_ok(r.plain, r.case)}
        where = ("correctness and tracked_inputs" if raised & set(PLAIN_LAYOUTS) and raised & set(TRACKED_LAYOUTS)
                 else "tracked_inputs" if raised <= set(TRACKED_LAYOUTS) else "correctness")
        return Finding("contract", False, (len(good) - lost) / len(obs.cases), summary,
                       cause=f"Those calls raised an exception (see {where}).")
    r = obs.minimal.get("contract") or min(bad, key=lambda r: r.case.size_key())
    expected = f"a {r.case.dtype} tensor of shape {r.case.shape} on {r.case.device}"
    precision = feedback.precision_cause(r.case, r.plain.dtype) if r.plain.kind == "tensor" else None
    cause = precision or _contract_cause(r, ex, obs)
    return Finding("contract", False, (len(good) - lost) / len(obs.cases), summary,
                   example=f"For {feedback.input_words(r.case)}, your "
                           f"function {feedback.returned_words(r.plain)}; expected {expected}.",
                   cause=cause.text, advice=cause.advice, data={"cause": cause.key})


def _contract_cause(r: CaseResult, ex: Exercise, obs: Observations) -> feedback.Cause:
    got = r.plain
    if got.kind != "tensor":
        found = _cause(r, [r], ex, obs)
        assert found is not None  # _cause always explains a non-tensor result
        return found
    if got.shape != r.case.shape:
        return _shape_cause(list(obs.cases), ex) or feedback.Cause(
            "shape", "Likely cause: the result was reshaped, summed, or built anew.",
            "Return the gradient with x's shape: x.grad has it already.")
    if r.input_retyped:  # (hn132: "return the gradient in x's dtype" to a file that did, after changing x's)
        return feedback.Cause("retyped", f"Likely cause: your function changed the caller's x itself to {got.dtype} "
                              "or another device (x.data = x.data.double(), say), then returned the gradient "
                              "like the x it had made.",
                              "Leave the caller's x as it is: compute in float64 on a copy, "
                              "x64 = x.detach().double().requires_grad_(True), and return the gradient "
                              ".to(x.dtype) of the x you were given.")
    if got.device != r.case.device:
        return feedback.Cause("device", f"Likely cause: a tensor was created on {got.device}.",
                              "Create helper tensors on x.device, or better, only use x.grad.")
    return feedback.Cause("dtype", f"Likely cause: the result was converted to {got.dtype}.",
                          "Return the gradient in x's dtype.")


@check("tracked_inputs", 1.0)
def check_tracked_inputs(obs: Observations, ex: Exercise) -> Finding:
    return _values_check("tracked_inputs", TRACKED_LAYOUTS, obs, ex,
                         passed_words="It also works on all {n} inputs that already require grad or are "
                                      "results of other operations.",
                         inputs="inputs that require grad or are not leaves")


@check("input_untouched", 0.5, on_what_ran=True)
def check_input_untouched(obs: Observations, ex: Exercise) -> Finding:
    if not obs.load.ok:
        return _not_run("input_untouched")
    if not any(r.plain.kind != "error" for r in obs.cases):
        return Finding("input_untouched", False, 0.0, "Not checked: your function never returned a value.")
    bad = [r for r in obs.cases if not untouched(r)]
    if not bad:
        return Finding("input_untouched", True, 1.0, "It leaves the caller's tensor as it was.")
    r = min(bad, key=lambda r: r.case.size_key())
    what = ("changed the caller's x to another dtype or device (x.data = ... replaces what the caller's tensor "
            "holds)" if r.input_retyped else
            "changed the values of x in place" if r.input_changed else
            # (an input that already required grad had it turned off: a hunter's x.requires_grad_(False)
            # was told it had turned it on)
            f"turned {'off' if r.case.layout in TRACKED_LAYOUTS else 'on'} requires_grad of the caller's tensor x"
            if r.requires_grad_changed else
            "left a gradient in the caller's x.grad")
    summary = f"It changes the caller's tensor on {len(bad)} of {len(obs.cases)} inputs."
    return Finding("input_untouched", False, 0.0, summary,
                   example=f"After a call with {feedback.input_words(r.case)}, "
                           f"your function had {what}.",
                   cause="A caller's tensor is not yours to change: the next call (or the caller's own autograd) "
                         "then sees a different x.",
                   advice="Work on a copy: x = x.detach().clone().requires_grad_(True).")


def _overwritten(where: str, example: str, cause: str) -> Finding:
    """repeatable's finding where a later call changed an answer returned earlier, `where` it was seen."""
    return Finding("repeatable", False, 0.0, f"A later call changed an answer it had returned, {where}.",
                   example=example, cause=cause,
                   advice="Return a copy, leaf.grad.clone(), or better make a fresh leaf in each call: "
                          "x = x.detach().clone().requires_grad_(True).",
                   data={"cause": "overwritten"})


_KEPT_AND_FILLED = ("Likely cause: your function returns a tensor it keeps and fills again on a later call (the .grad "
                    "of a leaf kept between calls, zeroed and filled anew){where}, so every answer a caller holds "
                    "becomes the last one.")


@check("repeatable", 0.5, on_what_ran=True)
def check_repeatable(obs: Observations, ex: Exercise) -> Finding:
    if not obs.load.ok:
        return _not_run("repeatable")
    judged = [r for r in obs.cases if values_of(r.first, r.case) is not None or values_of(r.second, r.case) is not None]
    if not judged:
        return Finding("repeatable", False, 0.0, "Not checked: your function never returned values to compare.")
    bad = [r for r in judged if not repeat_agrees(r, ex)]
    overwritten = [k for k, r in enumerate(obs.cases) if r.first_changed or r.own_changed or (k and r.earlier_changed)]
    if not bad and overwritten:
        # (hn132's global leaf, its .grad zeroed and returned without a clone: every answer right when
        # read, and each changed by the next call, which the book's plot of two answers shows; rt193's second
        # call on the same x, which zeroed the first's answer and returned a new one)
        k = min(overwritten, key=lambda k: (not obs.cases[k].first_changed, not obs.cases[k].own_changed,
                                            obs.cases[k].earlier_changed, obs.cases[k].case.size_key()))
        back = 0 if obs.cases[k].first_changed or obs.cases[k].own_changed else obs.cases[k].earlier_changed
        # (read again 1, 3, 9 ... inputs later, sandbox/child.py: past the first, it changed somewhere among them)
        later = "once it had been called a second time on that same tensor" if obs.cases[k].first_changed else \
            "once it had been called again on another tensor of the same values" if not back else \
            f"once it had been called with {feedback.input_words(obs.cases[k].case)}" if back == 1 else \
            f"after it had been called with the {back} inputs that followed it (the last, " \
            f"{feedback.input_words(obs.cases[k].case)})"
        return _overwritten(f"on {len(overwritten)} of {len(obs.cases)} inputs",
                            f"The tensor it returned for {feedback.input_words(obs.cases[k - back].case)} held other "
                            f"numbers {later}." if back <= k else
                            f"An answer held other numbers once it had been called with "
                            f"{feedback.input_words(obs.cases[k].case)}.",
                            _KEPT_AND_FILLED.format(where="") if not obs.cases[k].first_changed else
                            "Likely cause: the second call zeroed or refilled the tensor the first had returned (the "
                            "caller's x.grad, zeroed at the start of each call), so the answer the caller holds "
                            "changes when it calls again.")
    if not bad and obs.plot_changed and obs.plot_x is not None:
        # (rt197: hn132's bug kept for 1-d inputs over 25 numbers alone, larger than any grid's, as a plot's are)
        return _overwritten(f"on the plot's {obs.plot_x.size} inputs",
                            f"The tensor it returned for the plot's x, {obs.plot_x.size} float32 numbers from "
                            f"{obs.plot_x[0]:g} to {obs.plot_x[-1]:g} in a 1-d tensor, held other numbers once it had "
                            "been called with those values plus one.",
                            _KEPT_AND_FILLED.format(where=", for inputs of that size"))
    if not bad:
        return Finding("repeatable", True, 1.0, "Calling it twice on the same tensor gives the same answer.")
    # The words never depend on the draw (same file, same result): the smallest input, and numbers
    # only where a plain pair's are known without it. Doubling gives the plain answer, then twice it;
    # any other difference, under the secret, gives numbers no one sees at home (a helper's first
    # call zeroed x in place and was shown "then 1.0320721"), so it is said in words.
    r = min(bad, key=lambda r: r.case.size_key())
    a, b = values_of(r.first, r.case), values_of(r.second, r.case)
    # One test of accumulation for this check and the autograd check's words: the second answer is
    # the first plus a derivative. Numbers are shown only where that is "first P, then 2P".
    accumulates = _accumulates(r, ex, obs.secret)
    if a is not None and b is not None and a.size:
        doubled = accumulates and bool(np.allclose(b, 2 * a, rtol=1e-4, atol=1e-6))
        plain = values_of(r.plain, r.case)
        if doubled and plain is not None and plain.size:
            i = int(np.argmax(np.abs(plain)))
            once = plain.ravel()[i]
            shown = f"first {feedback.number(once, r.plain.dtype)}, then {feedback.number(2 * once, r.plain.dtype)}"
        else:
            shown = "the second answer differs from the first"
    else:
        shown = f"first it {feedback.returned_words(r.first)}, then it {feedback.returned_words(r.second)}"
    if _freed_callers_graph(r):
        # A hunter's backward(inputs=[x]) through the caller's x was told it keeps state.
        key, cause = "callers_graph", ("Likely cause: the first call ran backward() through the graph that made x, "
                                       "the caller's, which frees that graph: the second call on the same x found it "
                                       "gone.")
    elif accumulates:
        key, cause = "accumulation", ("Likely cause: gradients accumulate: each backward() adds the derivative to "
                                      "x.grad again, so the second call returns the first answer plus the derivative.")
    elif r.input_changed:
        # (ux115's x.copy_(grad) was told it keeps state between calls)
        key, cause = "changed_input", ("Likely cause: the first call changed the caller's x itself (see input "
                                       "untouched), so the second call worked on other numbers.")
    else:
        key, cause = "state", "Likely cause: your function keeps state between calls."
    return Finding("repeatable", False, 0.0,
                   f"Two calls on the same tensor disagree on {len(bad)} of {len(judged)} inputs.",
                   example=f"Called twice with {feedback.input_words(r.case)}: {shown}.",
                   cause=cause,
                   advice=FRESH_EACH_CALL,
                   data={"cause": key})


def _freed_callers_graph(r: CaseResult) -> bool:
    """Whether the second call on a tensor with a history raised for a graph already freed."""
    error = r.second.error if r.second.kind == "error" else None
    return r.case.layout == "nonleaf" and error is not None and "backward through the graph a second time" in \
        error.message


def _only_what_ran(finding: Finding, obs: Observations) -> Finding:
    """A check judged on the inputs that ran, where grading stopped early: credit for those alone.
    A red team's file ran honest autograd on its first input and os._exit on the next: autograd,
    contract, input_untouched and repeatable were full on one input of 58 (5.1/10)."""
    planned, ran = len(obs.planned), len(obs.cases)
    if not planned or ran >= planned or finding.fraction == 0:
        return finding
    return replace(finding, passed=False, fraction=finding.fraction * ran / planned,
                   summary=f"{finding.summary} (Judged on the {ran} of {planned} inputs that ran before grading "
                           "stopped; those that never ran earn nothing.)")


def _not_run(name: str) -> Finding:
    return Finding(name, False, 0.0, "Not run: your file did not load.")


def _ended_words(obs: Observations) -> str:
    if obs.ended is None:
        return ""
    on = f", on {feedback.input_words(obs.ended_case)}" if obs.ended_case else ""
    hint = {
        "timeout": "Look for a loop that never ends or a very slow computation.",
        "crash": "Something in native code failed hard (a segfault or abort).",
        "exit": "Do not call os._exit, sys.exit or exit() in your function.",
        "memory": "Work on x itself: do not build tensors much larger than x, keep data in files, or start "
                  "threads that outlive a call.",
        "protocol": "",
    }.get(obs.ended.reason, "")
    if obs.ended.reason == "crash" and obs.ended.returncode is not None:
        hint = _CRASHES.get(-obs.ended.returncode, hint)
    printed = obs.output.stdout_bytes + obs.output.stderr_bytes
    if obs.ended.reason == "timeout" and printed >= PRINTED_SLOWLY:
        # (ux127: 80 MB printed a call, 13 s, was told of a loop that never ends; each byte printed here
        # goes through a pipe the grader drains, a good deal slower than a terminal)
        # (ux139's 100,000 tensors a call, 11 MiB, were told of a loop: a tensor's printing is slower than its bytes)
        hint = (f"It printed {printed / 2**20:,.0f} MiB, which is slow here (what you print goes through the "
                "grader, and printing a tensor takes longer than computing it): print less, or nothing, in your "
                "function.")
    return f"Grading stopped early: your code {obs.ended.detail}{on}. {hint}".strip()


PRINTED_SLOWLY = 4 << 20  # printed output past which a timeout is told as the printing's


# What each fatal signal most often means in a student's file (the child dies of the signal itself:
# sandbox/child.py, _reset_once_handled).
_CRASHES: dict[int, str] = {
    # (an abort too: the sandbox child is process 1 of its pid namespace, which ignores the SIGABRT
    # abort() raises itself, and glibc then ends it with a fault)
    signal.SIGSEGV: "Something in native code failed hard (a segfault or an abort: a C extension, ctypes, or a "
                    "failed assertion in a C or C++ library).",
    signal.SIGBUS: "A memory access failed (a bus error): most often a file mapped into memory (mmap) past its "
                   "end, or a file in /dev/shm whose space ran out while it was written through a mapping.",
    signal.SIGABRT: "Native code aborted (a failed assertion in a C or C++ library, or os.abort()).",
    signal.SIGFPE: "A floating-point exception in native code (an integer division by zero, say).",
    signal.SIGILL: "Native code ran an instruction this CPU does not have (a library built for another machine).",
}


def _counts(planned: list[GridCase], good: list[CaseResult]) -> dict[str, int]:
    return {"passed_inputs": len(good), "total_inputs": len(planned)}
