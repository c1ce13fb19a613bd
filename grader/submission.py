"""Find and read a student's file. Never imports it: that happens only in the sandbox child."""

from __future__ import annotations

import _imp
import ast
import filecmp
import functools
import hashlib
import inspect
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import cell_syntax
from grader.observations import SourceHit

MAX_SOURCE_BYTES = 1 << 20  # of a script, a notebook's code cells included
# Of a notebook, outputs included: a few plots saved with it make megabytes (ux112's 4.8 MB notebook,
# its code a few lines, was "not a solution file" for the self-check and a grader error in a batch).
MAX_NOTEBOOK_BYTES = 16 << 20
MAX_HASHED_BYTES = 64 << 20  # of a file too large to read, to tell two apart (with its size past that; 1 GiB
# of each of 20 sparse files took rt140's discovery 47 s)
# Of a notebook's JSON, its objects and lists: 16 MiB of "{}," took the parent 459 MB and 0.6 s at
# each of a batch's reads of it (rt140); a notebook's size is its outputs' long strings.
MAX_NOTEBOOK_CONTAINERS = 500_000
SUSPICIOUS_CALLS = {"gradient": "uses finite differences (torch.gradient)"}  # besides the exercise's telltales
MAX_HELPERS = 16  # modules of the student's own graded beside the file (see modules_beside)
MAX_HELPER_BYTES = 1 << 20  # all of them together
# And what is looked at to find them, taken or not: rt163's 8 files of 1 MiB each, named in strings,
# were each parsed (a def of the function there?) and passed over, 33 s of the batch's main process at
# every run; each file counts once it is opened
MAX_LOOKED_AT = 2 * MAX_HELPERS
# and read, those passed over for defining the function included: 32 files of 1 MiB each that defined it,
# each compiled for its `%` line, took 61 s a read (a review's own attack on the bound above)
MAX_LOOKED_BYTES = 2 * MAX_HELPER_BYTES
# Of a student's several files, what is read as Python (parsed, a `%` line's translation compiled) to
# find the one that defines the function; those past it are read line by line (Budget). A parse costs
# about 1.3 s a MiB, 2.3 with a `%` line: a folder of 41 files of 1 MiB took the batch's discovery 85 s.
MAX_PARSED_BYTES = 2 * MAX_SOURCE_BYTES


class SubmissionError(ValueError):
    """The path given is not a gradable file (the user's mistake, reported before grading)."""


@dataclass(frozen=True)
class Submission:
    path: Path
    source: bytes
    too_large: bool = False  # larger than the grader reads: `source` is a script that says so when imported
    helpers: tuple[tuple[str, bytes], ...] = ()  # (file name, bytes): the modules of its own beside it it imports
    passed_over: tuple[str, ...] = ()  # modules beside it it imports that define the function themselves
    left_out: tuple[str, ...] = ()  # modules beside it it imports, past the bounds on helpers (modules_beside)
    shadowed: tuple[str, ...] = ()  # modules beside it it imports, named like one the grader has (_ELSEWHERE)
    # Modules beside it it imports, none taken: the folder holds other submissions (these, a few of them named)
    withheld: tuple[str, ...] = ()
    classmates: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()  # modules beside it it imports that are symbolic links (never followed)
    # The package of the student's folder it is a module of (mylib for mylib/deriv.py), where it imports from it:
    # graded as `python -m mylib.deriv` runs it, its helpers named from the folder's top (read)
    package: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()

    @property
    def graded_sha256(self) -> str:
        """What a result stands for: the file's hash, and its helpers' where it has any (a helper
        changed is a submission changed)."""
        if not self.helpers:
            return self.sha256
        whole = hashlib.sha256(self.source)
        if self.package:  # (one file graded as a module of its package, or alone, is graded two ways)
            whole.update(b"\0package\0" + self.package.encode())
        for name, data in self.helpers:
            whole.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha256(data).digest())
        return whole.hexdigest()

    def helper_hashes(self) -> list[dict[str, str]]:
        """The helpers as a result records them: name and sha256."""
        return [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in self.helpers]


def read(path: Path, helpers: bool = False, function: str = "",
         companions: dict[str, Path] | None = None, exercise: str = "", own: bool = False,
         top: Path | None = None) -> Submission:
    """The file's bytes, read once. Only a regular file is read: never through a symbolic link (a
    repository can carry one to any file the grader may read), never a FIFO (opening one blocks) or
    a device; SubmissionError says why not. With `helpers`, the modules of the student's own beside
    it that it imports come with it (modules_beside), none that is a submission itself
    (like_a_submission), and none at all where the folder holds other submissions (classmates_beside,
    `exercise` choosing among files named for exercises, as a batch does); with `companions`, those of
    them by the names the student gave them, and no others (a platform's flat download). With `own`, the
    folder is known to be the student's alone (a batch's student folder, Gradescope's submission): every
    module it imports from there is theirs, whatever it defines (hn146, hn147: a package of theirs holding
    the answer, `from mylib.deriv import get_derivative`, was passed over as a classmate's folder, 0/10).
    `top`, with `own`: that folder's top, where the file may lie in a package of the student's (_package_of)."""
    sub = _read(path)
    passed_over: list[str] = []
    left_out: list[str] = []
    shadowed: list[str] = []
    linked: list[str] = []
    home = _package_of(sub.path, top) if helpers and own and top is not None and not sub.too_large else None
    if home is not None:
        # A module of a package in the student's folder that imports from it (`from .util import ...`), no file
        # at the top importing it but under `if __name__ == "__main__":` (rt211's carol, 0/10 where her main.py
        # runs): graded as `python -m mylib.deriv` runs it, the folder's modules found from where it runs.
        root, package = home
        found = modules_beside(sub.path, sub.source, "", passed_over, None, left_out, shadowed, linked, root, package)
        return Submission(sub.path, sub.source, sub.too_large, found, tuple(passed_over), tuple(left_out),
                          tuple(shadowed), linked=tuple(linked), package=package)
    if (helpers or companions) and not sub.too_large and sub.path.parent != Path("/"):
        found = modules_beside(sub.path, sub.source, "" if own else function, passed_over, companions, left_out,
                               shadowed, linked)
        classmates = classmates_beside(sub.path, function, exercise) if (found or left_out) and not companions \
            and not own else ()
        if classmates:
            return Submission(sub.path, sub.source, sub.too_large, passed_over=tuple(passed_over),
                              shadowed=tuple(shadowed), withheld=(*(name for name, _ in found), *left_out),
                              classmates=classmates, linked=tuple(linked))
        return Submission(sub.path, sub.source, sub.too_large, found, tuple(passed_over), tuple(left_out),
                          tuple(shadowed), linked=tuple(linked))
    if function and not sub.too_large and sub.path.parent != Path("/"):
        # One of a class's files, each a student's own (a flat folder's, in a batch): what it imports from beside
        # it is not copied, and said so (hn147's alice.py and alice_utils.py: told to submit beside it what was).
        # Every module it names, whether or not the folder holds it: the words must not tell a student which
        # files their classmates' folder holds (`import bob` told bob.py was there, one bit a submission).
        withheld = tuple(sorted(f"{m}.py" for m in {name.partition(".")[0] for name in _modules_named(sub.source)}
                                - _ELSEWHERE))
        return Submission(sub.path, sub.source, sub.too_large, withheld=withheld) if withheld else sub
    return sub


def classmates_beside(path: Path, function: str, exercise: str = "") -> tuple[str, ...]:
    """The other submissions beside the file (the first few, by name), where its folder is a class's: where
    a batch of it as a student's own folder would not choose this file alone (in_question, as the batch
    does), the others are other students' and none of its files is a module of this one's. One file graded
    alone (`grade`, `check`) took every module it imported from beside it that defined no `function`
    itself: rt200's file named two classmates' (one binding the function through globals(), one
    misspelling it) and printed them in its feedback, 10/10."""
    try:
        named = sorted(p for p in path.parent.iterdir()
                       if p.name != path.name and not p.name.startswith(".") and is_source(p))
    except OSError:
        return ()
    if len(named) > CLASS_FILES:  # (no one student's folder holds so many: by name, none opened; "…" says so)
        return (*(p.name for p in named[:3]), "…")
    # (none too large to read: rv43's 40 sparse files of 65 MiB were each hashed, 5 s a read)
    beside = [p for p in named if not refusal(p) and
              _size(p) <= (MAX_NOTEBOOK_BYTES if p.suffix.lower() == ".ipynb" else MAX_SOURCE_BYTES)]
    # (every one: rt204's 31 modules of its own, named to sort first, hid the classmates past the first 32)
    chosen, defining = in_question([path, *beside], function, exercise=exercise)
    # Two others at least, none of them this file's own: a notebook's export (rt201's hw3.ipynb beside hw3.py,
    # chosen for it, lost its helpers.py), or a version of it by its name (rt202's hw2_v1.py and hw2_v2.py beside
    # hw2.py, Jupyter's Untitled.ipynb): one other is a student's own earlier try as often as a classmate's
    # (rt201's solution_old.py). A classmate's beside it alone is no module either way: it defines the function
    # (like_a_submission). Two .py files of one answer are two students' (rt202: three classmates' textbook
    # answers, the file's own too, dropped out of the count).
    budget = Budget()
    ours = _function_in(path, function, budget)

    def export(p: Path) -> bool:
        pair = {p.suffix.lower(), path.suffix.lower()} == {".py", ".ipynb"}
        return pair and _function_in(p, function, budget) == ours

    others = [p.name for p in chosen if p.name != path.name and not export(p) and not _one_students(p, path)]
    return tuple(others[:3]) if defining and len(others) >= 2 else ()


CLASS_FILES = 256  # source files beside a file graded alone past which its folder is a class's, unread


def _one_students(other: Path, ours: Path) -> bool:
    """Whether two files' names make `other` a version of the student's own file (hw2.py beside hw2_v1.py,
    "hw2 (1).py", old_hw2.py, hw2_final.py), or Jupyter's scratch notebook (Untitled1.ipynb), never two
    students' (alice.py, bob.py; student01.py, student02.py; z5111111.py; a platform's
    "garciamaria_23456_78902_hw.py" beside "leejohn_34567_78903_hw.py"). Only the other file's name may be
    scratch: rt203 named its own file Untitled.py, and every classmate was taken for a version of it."""
    stems = [_version_free(p.stem) for p in (other, ours)]
    if stems[0] == stems[1] != "" or re.fullmatch(r"untitled[\s_\-]*\d*", other.stem.casefold()) is not None:
        return True
    # One stem the other's with a short version mark, set apart or not: rt204's solution2.py and solution3.py
    # beside solution.py, macOS's "hw2 copy 2.py", GNOME's "hw2 (copy).py", hw2v2.py, hw2final.py (a single
    # digit: student01.py beside a student.py is a class's)
    marks = r"v\d{1,2}|copy( \d{1,2})?|\((another )?copy\)|\(\d{1,2}\)|final|old|new|draft|backup"
    a, b = (p.stem.casefold().strip() for p in (other, ours))

    def version(shorter: str, longer: str) -> bool:
        # (a digit set apart only, after a name that ends in one: rv43's student11.py, team12.py were student1.py's)
        apart = r"[\s_\-.]+\d" if shorter[-1:].isdigit() else r"[\s_\-.]*\d"
        return len(shorter) > 1 and \
            re.fullmatch(rf"{re.escape(shorter)}({apart}|[\s_\-.]*({marks}))", longer) is not None

    return version(a, b) or version(b, a)


def _version_free(stem: str) -> str:
    """A file's stem without the words that mark a version of it, set apart by a space, _, - or a dot: (1),
    v2, old, final, copy... Never a bare number (rt203: student01, z5111111 and group1 were all one
    student's)."""
    marks = r"(\(\d+\)|v\d+|version\d*|old|new|final|draft|backup|bak|copy|orig|original|scratch|tmp|try\d*|" \
            r"attempt\d*)"
    stem, before = stem.casefold().strip(), None
    while stem != before:
        before = stem
        stem = re.sub(rf"[\s_\-.]+{marks}$", "", stem)
        stem = re.sub(rf"^(copy of|{marks})[\s_\-.]+", "", stem)
    return stem


def modules_beside(path: Path, source: bytes, function: str = "", passed_over: list[str] | None = None,
                   companions: dict[str, Path] | None = None, left_out: list[str] | None = None,
                   shadowed: list[str] | None = None, linked: list[str] | None = None, folder: Path | None = None,
                   package: str = "") -> tuple[tuple[str, bytes], ...]:
    """The .py files beside `path` that its code imports (`import utils`, `from utils import f`) or
    runs by name (`%run utils.py`, `exec(open("utils.py").read())`), and those theirs do in turn, as
    (name, bytes): `python solution.py` and Jupyter find them there (ux123: a solution.py's `from
    utils import ...`, utils.py submitted beside it, scored 0 in a batch and on Gradescope); a package
    folder's .py files too (_package). Regular files alone (no links), at most MAX_HELPERS,
    MAX_HELPER_BYTES in all; none that defines `function` itself, which is a submission of its own:
    a classmate's, in a class folder (rt161: `grade alice.py`, its `from bob import get_derivative`,
    scored bob's 10/10), nor a package holding one (rt166: bob/, a classmate's folder, imported as a
    package), whose names go to `passed_over` (for the feedback: rt162 was told to submit beside it
    what it had); those past the bounds go to `left_out` (for the feedback: a package of 20 modules
    was told to submit beside its file the package that was there), and those named like a module
    the grader has (_ELSEWHERE) to `shadowed` (rt168's code.py: "cannot import name 'f' from 'code'"),
    taken all the same where they are named like one of Python's own that they stand in for at home
    (stands_in), and those that are symbolic links, never followed, to `linked` (for the feedback: a batch's
    student, whose package was a link to a folder elsewhere, was told to submit beside the file what was there).
    With `package`, the file is that package's module, in `folder` (its student's folder's top, where the modules
    are looked for): its relative imports name the package's modules, and the file itself is one of them."""
    found: dict[str, bytes] = {}
    looking = _Looking()
    # (each script with the package its relative imports resolve from: the file's own, `package`; none of its helpers')
    queue, walked = [(source, package)], {name for name in _ELSEWHERE if not stands_in(name)}
    folder = path.parent if folder is None else folder
    # (a package holding an answer is a student's folder, a classmate's (rt166's bob/, rt202's dora/), but where it
    # is a package by its __init__.py and nothing else beside the file holds an answer, the student's own: hn146's
    # solution.py beside her mylib/, whose deriv.py defines the function, scored 0 in `check` and 10 in a batch)
    among_answers = functools.cache(lambda module: not (folder / module / "__init__.py").is_file() or
                                    _answers_beside(path, module, function, folder))
    companions = companions or None  # (none given is the folder's files, not no files)
    past = [] if left_out is None else left_out
    while queue:
        bounded = len(found) >= MAX_HELPERS or looking.looked >= MAX_LOOKED_AT
        # (a package's modules are PACKAGE_DEPTH deep at most: a name's first parts alone, its prefixes built
        # from them; rt170's import_module("a.a.a…") of 200,000 parts made each prefix, 40 GB, for a 400 KB file)
        dotted = {".".join(name.split(".", PACKAGE_DEPTH + 1)[:PACKAGE_DEPTH + 1]) for name in
                  _modules_named(*queue.pop(0))}
        wanted = {".".join(name.split(".")[:i]) for name in dotted for i in range(1, name.count(".") + 2)}
        for module in sorted({name.partition(".")[0] for name in dotted} & _ELSEWHERE):
            if shadowed is not None and (shown := _beside(folder, module, companions)) and shown not in shadowed:
                shadowed.append(shown)
        for module in sorted({name.partition(".")[0] for name in dotted} - walked):
            walked.add(module)
            if bounded:  # (named only, not looked into: what the feedback needs of it)
                past += [shown] if (shown := _beside(folder, module, companions)) else []
                continue
            others: list[Path] = []
            if companions is not None:  # (among classmates' files: the student's own alone)
                files = [(f"{module}.py", companions[f"{module}.py"])] if f"{module}.py" in companions else []
            elif os.path.lexists(folder / f"{module}.py"):
                files = [(f"{module}.py", folder / f"{module}.py")]
            else:
                files, others = _package(folder, module, wanted)
            if companions is None and linked is not None:
                linked += [shown for shown in (f"{module}.py", f"{module}/")
                           if (folder / shown.rstrip("/")).is_symlink()][:1]
            is_package = bool(files) and "/" in files[0][0]
            taken: list[tuple[str, bytes]] = []
            unread = False
            for at, (name, file) in enumerate(files):
                if package and file == path:  # (the graded file, as its package's own module: `from . import deriv`)
                    taken.append((name, source))
                    continue
                if looking.looked >= MAX_LOOKED_AT:
                    past += [name for name, _ in files[at:]]
                    unread = True
                    break
                data = looking.read(file, path)
                if data is None:
                    past += [name] if looking.over else []
                    unread |= looking.over
                    continue
                if function and like_a_submission(_script(data), function) and \
                        (not is_package or among_answers(module)):
                    shown = name if name.endswith(".py") and "/" not in name else f"{module}/"
                    if passed_over is not None and shown not in passed_over:
                        passed_over.append(shown)
                    taken = []  # (a package holding one: none of it)
                    break
                taken.append((name, data))
            answer = _answer_among(others, function) if function and is_package and taken else False
            unread |= answer is None
            if answer and among_answers(module):
                # One holding a notebook that defines the function is a student's folder (rt202: carol/'s hw2.ipynb
                # beside her plotting.py, printed in a classmate's feedback): none of it.
                if passed_over is not None and f"{module}/" not in passed_over:
                    passed_over.append(f"{module}/")
                taken = []
            if function and is_package and unread:
                # A package not read to its end may hold an answer past the bounds (rt202 spent them on 31 imports,
                # and carol/'s utils.py came without her hw2.py read): none of it.
                past += [name for name, _ in taken]
                taken = []
            for name, data in taken:
                if len(found) < MAX_HELPERS and looking.total + len(data) <= MAX_HELPER_BYTES:
                    found[name] = data
                    looking.total += len(data)
                    queue.append((data, ""))
                else:
                    past.append(name)
    return tuple(sorted(found.items()))


def _answers_beside(path: Path, module: str, function: str, folder: Path | None = None) -> bool:
    """Whether, beside the file (in `folder`, its own by default), another source file, or a folder other than the
    package `module` (one of the first 16 folders), holds a file that defines `function`: the file lies among other
    students' answers."""
    budget = Budget()
    folder = path.parent if folder is None else folder
    try:
        entries = sorted(p for p in folder.iterdir() if p != path and not p.name.startswith((".", "__")))
    except OSError:
        return True
    if any(is_source(p) and not refusal(p) and (definition(p, function, budget=budget) or _near_named(p, function))
           for p in entries[:64]):
        return True
    for entry in [p for p in entries if p.name != module and p.is_dir() and not p.is_symlink()][:16]:
        modules, others = _package(folder, entry.name, set())
        if any(definition(file, function, budget=budget) for _, file in modules[:64]) or \
                _answer_among(others, function) is not False:
            return True
    return False


def _near_named(path: Path, function: str) -> bool:
    """Whether a .py file is an answer by like_a_submission (a binding through globals(), a misspelt name), not
    by an import of the function alone (rv44: a student's demo.py or test_solution.py, importing it, made her own
    package holding the answer a classmate's, 0/10)."""
    if path.suffix.lower() != ".py":
        return False
    try:
        sub = _read(path, scripted=False)
    except SubmissionError:
        return False
    return not sub.too_large and like_a_submission(_script(sub.source), function, imports=False)


def _beside(folder: Path, module: str, companions: dict[str, Path] | None) -> str | None:
    """How a module of the student's lies beside the file, by name only: "utils.py", a package "mylib/",
    or None; among a platform's flat download, the student's own files alone (companions)."""
    if companions is not None:
        return f"{module}.py" if f"{module}.py" in companions else None
    return next((shown for shown in (f"{module}.py", f"{module}/") if os.path.lexists(folder / shown)), None)


class _Looking:
    """What modules_beside has looked at and taken, bounded: MAX_LOOKED_AT files opened, MAX_LOOKED_BYTES
    read, MAX_HELPER_BYTES taken (`total`, counted by the caller as it takes them)."""

    def __init__(self) -> None:
        self.looked = self.read_in_all = self.total = 0
        self.over = False  # whether the last read was refused for the bounds

    def read(self, file: Path, submission: Path) -> bytes | None:
        """The file's bytes, where it is a regular file of one name, not the submission, within the bounds."""
        self.over = False
        if file == submission or refusal(file):
            return None
        self.looked += 1
        try:
            with open(os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
                # (a hard link is a name for a file elsewhere, root's own perhaps: what the child may
                # read is the student's alone); one that cannot fit is not read
                facts = os.fstat(handle.fileno())
                if facts.st_nlink != 1 or not stat.S_ISREG(facts.st_mode):
                    return None
                self.over = self.total + facts.st_size > MAX_HELPER_BYTES or \
                    self.read_in_all + facts.st_size > MAX_LOOKED_BYTES
                if self.over:
                    return None
                data = handle.read(min(MAX_HELPER_BYTES - self.total, MAX_LOOKED_BYTES - self.read_in_all) + 1)
        except OSError:
            return None
        self.read_in_all += len(data)
        self.over = self.total + len(data) > MAX_HELPER_BYTES or self.read_in_all > MAX_LOOKED_BYTES
        return None if self.over else data


def _package(folder: Path, module: str, wanted: set[str]) -> tuple[list[tuple[str, Path]], list[Path]]:
    """A package folder `module/` in `folder`: (name as the child's folder has it, file) of each of
    its .py files (`mylib/__init__.py`, `mylib/calc/deriv.py`), as Python's import finds them (ux124: a
    solution.py's `from mylib.deriv import ...`, its mylib/ beside it, scored 0); those on the way to
    a module `wanted` (imported: mylib, mylib.calc, mylib.calc.deriv) first, since MAX_HELPERS may
    not hold them all (rt166's 16 modules beside the one imported). Then its other files, any name or
    suffix, in any folder, for _answer_among. Never through a link; within PACKAGE_DEPTH folders;
    none at all where the folder holds more than PACKAGE_ENTRIES entries within that depth (rt166's
    90,300 empty folders took 1.1 s a walk)."""
    package = folder / module
    if not package.is_dir() or package.is_symlink():
        return [], []
    files, others, seen = [], [], 0
    for top, folders, names in os.walk(package, followlinks=False):
        seen += len(folders) + len(names)
        if seen > PACKAGE_ENTRIES:
            return [], []
        at = Path(top).relative_to(folder)
        # (no hidden folder or cache: rv43's package kept in git was looked through, .git/objects and all)
        folders[:] = sorted(f for f in folders if not f.startswith((".", "__"))) if len(at.parts) < PACKAGE_DEPTH \
            else []
        importable = all(part.isidentifier() for part in at.parts)
        for name in sorted(names):
            if importable and name.endswith(".py") and name[:-3].isidentifier():
                files.append((at / name).as_posix())
            elif not name.startswith("."):  # (what no import finds: a notebook, `HW2 (1).py`, a data file)
                others.append(Path(top, name))
    dotted = lambda name: name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")  # noqa: E731
    modules = [(name, folder / name) for name in sorted(files, key=lambda name: (dotted(name) not in wanted, name))]
    return modules, others


def _answer_among(others: list[Path], function: str) -> bool | None:
    """Whether a package's files that no import finds (_package's others) define `function`: a notebook
    (rt202's carol/hw2.ipynb), a .py no import can name (rt203's carol/HW2 (1).py), Python under another
    suffix (hw2.py.txt, a bare `answer`); None where more than 64 such files may (not read: the package is
    then one not read to its end). Never a data file, nor one too large to be an answer (rv43: a package
    with 70 CSV files, or one large table, was taken for a classmate's folder, 0/10)."""
    budget = Budget()
    texts = [file for file in others if is_source(file) or file.suffix.lower() in ("", ".txt")
             or ".py" in file.name.lower()]
    if len(texts) > 64:
        return None
    for file in texts:
        try:
            facts = file.lstat()
        except OSError:
            continue
        limit = MAX_NOTEBOOK_BYTES if file.suffix.lower() == ".ipynb" else MAX_SOURCE_BYTES
        if stat.S_ISREG(facts.st_mode) and facts.st_size <= limit and \
                defines(file, function, compiles=not is_source(file), budget=budget):
            return True
    return False


PACKAGE_DEPTH = 3  # folders of a student's package: utils/calc/core.py is two
PACKAGE_ENTRIES = 1_000  # files and folders of it looked at


# Modules a file's import finds where the grader runs it, whatever lies beside it (the standard library,
# torch and the rest): a torch.py beside the file is never what `import torch` runs there, and counted
# as a helper it made a byte copy of a classmate's file no copy (rt163)
_ELSEWHERE = frozenset(sys.stdlib_module_names) | {
    "torch", "numpy", "matplotlib", "IPython", "hypothesis", "grader", "PIL", "functorch"}


# Packages the grader does not install, whose imports the child answers with stand-ins (sandbox/stand_ins.py). (hn149:
# an unused `import scipy`, `import torchvision`, `from sklearn... import`, `import ipywidgets`, course and Colab
# boilerplate, scored 0/10, and in a notebook the same cell's `import torch` never ran)
STAND_INS = ("d2l", "pandas", "seaborn", "tqdm", "scipy", "sklearn", "torchvision", "torchaudio", "ipywidgets",
             "requests", "plotly")


# Python's own modules its start imports (3.11, with site and a virtual environment's): a module of the
# student's named like one is never what `python solution.py` imports by that name. Written out, not read
# from this interpreter, so that one file gets one score wherever it is graded.
_STARTUP = frozenset({
    "__future__", "_collections_abc", "_sitebuiltins", "abc", "codecs", "collections", "contextlib", "copyreg",
    "encodings", "enum", "fnmatch", "functools", "genericpath", "importlib", "io", "ipaddress", "keyword", "ntpath",
    "operator", "os", "pathlib", "posixpath", "re", "reprlib", "site", "stat", "types", "urllib", "warnings",
    "zipimport"})


def stands_in(module: str) -> bool:
    """Whether a student's module beside the file, named like one of Python's own, is the one its import
    finds under `python solution.py` (the file's folder first on the path): any but those built into the
    interpreter, frozen in it or imported as it starts, which are found or held before any folder is
    looked in. hn127's statistics.py scored 0 where it runs at home: the grader's child had imported
    Python's statistics first (child.own_modules_first puts the student's first while the file is imported)."""
    return module in sys.stdlib_module_names and module not in sys.builtin_module_names and \
        module not in _STARTUP and not _imp.is_frozen(module)


_RUN_BY_NAME = re.compile(r"(?:\./)?([A-Za-z_]\w*)\.py")
_MODULE_NAME = re.compile(r"(?:\./)?([A-Za-z_]\w*)")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")  # a module's name as import_module takes it
_IMPORTED = re.compile(rb"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)[ \t.]|import[ \t]+([A-Za-z_]\w*))", re.MULTILINE)


def _modules_named(source: bytes, package: str = "") -> set[str]:
    """The modules a script imports (as written: mylib.calc.deriv), and the .py files it names in a
    string of their own (what %run and exec(open(...)) run); read line by line where it does not
    parse (top-level names alone then). Relative imports too, of a module of `package`: `from .util
    import f` in mylib/deriv.py names mylib.util (none beyond the package's top, which Python refuses)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {name for a, b in _IMPORTED.findall(source) if _fits(name := (a or b).decode())}
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # (`from mylib.calc import deriv`: deriv may be a module of the package)
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")])
        elif isinstance(node, ast.ImportFrom) and package and node.level <= package.count(".") + 1:
            parts = package.split(".")
            module = ".".join([*parts[:len(parts) - node.level + 1], *([node.module] if node.module else [])])
            names.update([module, *(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_ipython_run" and \
                node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            # %run's own arguments: its options first (-i, -m MODULE), the file with or without .py
            # (rt161: `%run -i utils.py` and `%run utils` were not copied)
            words = node.args[0].value.split()[:8]
            named = next((w for i, w in enumerate(words) if not w.startswith("-") or (i and words[i - 1] == "-m")),
                         "")
            if (run := _RUN_BY_NAME.fullmatch(named)) or (run := _MODULE_NAME.fullmatch(named)):
                names.add(run[1])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and _DOTTED.fullmatch(node.args[0].value) and \
                ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module") or
                 (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))):
            # (rt168: importlib.import_module("helpers"), which works at home, was never copied)
            names.add(node.args[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 256:
            run = _RUN_BY_NAME.fullmatch(node.value.strip().split(" ")[0])
            if run:
                names.add(run[1])
    return {name for name in names if _fits(name)}


def _fits(module: str) -> bool:
    """Whether each part of a module's name can name a file (`part.py` within NAME_MAX bytes): rv46's import of a
    300-letter name made each look beside the file raise (ENAMETOOLONG), and the grader failed; Python's import
    finds no such module anywhere."""
    return all(len(part.encode("utf-8", "surrogateescape")) <= NAME_MAX - 3 for part in module.split("."))


NAME_MAX = 255  # bytes of a file's name, on Linux's file systems


class Budget:
    """What is left of MAX_PARSED_BYTES for one student's files, spent a file at a time by the script
    parsed (a notebook's code, not its saved plots: rt166's 1 MiB notebook beside its export had
    been charged for its images, twice, and the two made "keep one")."""

    def __init__(self, left: int = MAX_PARSED_BYTES) -> None:
        self.left = left
        self._granted: set[Path] = set()

    def take(self, path: Path, size: int) -> bool:
        """Whether `path`, a script of `size` bytes, may be parsed (again, once it was)."""
        if path in self._granted:
            return True
        if size > self.left:
            return False
        self.left -= size
        self._granted.add(path)
        return True

    def granted(self, path: Path) -> bool:
        return path in self._granted


def _read(path: Path, scripted: bool = True) -> Submission:
    if path.is_dir() and not path.is_symlink():
        candidates = sorted(path.glob("*.py"))
        if len(candidates) != 1:
            raise SubmissionError(f"{path} is a folder; give the .py file to grade")
        path = candidates[0]
    problem = refusal(path)
    if problem:
        raise SubmissionError(f"{path}: {problem}")
    try:
        # O_NOFOLLOW and O_NONBLOCK: should the file have become a link or a FIFO since lstat, the
        # open fails or returns at once instead of following it or blocking.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise SubmissionError(f"{path}: cannot be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SubmissionError(f"{path}: not a regular file")
        notebook = path.suffix.lower() == ".ipynb"
        source = handle.read((MAX_NOTEBOOK_BYTES if notebook else MAX_SOURCE_BYTES) + 1)
        too_large = len(source) > (MAX_NOTEBOOK_BYTES if notebook else MAX_SOURCE_BYTES)
        if too_large:  # the whole file's hash stands for it (the part read once did: rt139's two "identical")
            whole = hashlib.sha256(source)
            for _ in range(MAX_HASHED_BYTES >> 20):
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                whole.update(chunk)
            source = whole.digest() + str(os.fstat(fd).st_size).encode()
    if notebook and not too_large:
        script = _notebook_script(source) if source.count(b"{") + source.count(b"[") <= MAX_NOTEBOOK_CONTAINERS \
            else None
        too_large = script is None
        source = source if script is None else script
    if too_large or len(source) > MAX_SOURCE_BYTES:
        # Graded as a file that does not load, and says why: a path refused here was a grader error
        # in a batch and "the autograder failed" on Gradescope, where the student alone can fix it.
        return Submission(path, _raises(source, TOO_LARGE), too_large=True)
    return Submission(path, source if notebook else _script(source) if scripted else _utf8(source))


def _script(raw: bytes) -> bytes:
    """A .py's bytes as the grader reads them: UTF-16 as the UTF-8 it means, and a notebook's lines
    (an export's get_ipython() calls, IPython's own `%` and `!` lines) as what they run."""
    script = _utf8(raw)
    # (a notebook exported as a script: its get_ipython() lines as what they run, cell_syntax.py)
    exported = cell_syntax.exported_lines(script.decode("utf-8", "surrogateescape"))
    if exported is not None:
        script = "".join(f"{line}\n" for line in exported).encode("utf-8", "surrogateescape")
    return _with_ipython_lines(script)


# (a line that starts so, as a SyntaxError quotes it; blanks within the line alone: `^\s*` ran across
# newlines, and rt162's 60,000 blank lines took the parent 16 s a read, a 1 MiB file hours)
_IPYTHON_LINE = re.compile(rb"^[ \t\f]*[%!]", re.MULTILINE)


def _with_ipython_lines(script: bytes) -> bytes:
    """A .py that Python cannot compile for lines of IPython's own (`%matplotlib inline`, `!pip install
    d2l`: a Colab download keeps them, and so does a VS Code `# %%` file) as a notebook cell runs
    them (cell_syntax), then a compile of the file as written, whose SyntaxError, raised once the file
    has run, costs the `loads` point alone: hn123's two scored 0/10, and a notebook's own export
    beside it made the student's two files "two answers". Any other file as it is (and compiled only
    where a line starts with % or !: every read of every file paid for a compile)."""
    if not _IPYTHON_LINE.search(script):
        return script
    try:
        compile(script, "<submission>", "exec", dont_inherit=True)
        return script
    except SyntaxError as err:
        if not (err.text or "").lstrip().startswith(("%", "!")):
            return script
    except (ValueError, RecursionError, MemoryError):
        return script
    text = script.decode("utf-8", "surrogateescape")
    lines, futures = cell_syntax.python_lines(text)
    translated = "".join(f"{line}\n" for line in lines)
    if futures or "_ipython_" in translated or len(lines) != len(cell_syntax.lines_of(text)):
        return script  # (a line moved, or a helper only a notebook's prelude makes: told as it is)
    # (compiled under a name no file has: Python takes the line it quotes from the file it names, here
    # this script, and the error would quote `pass  # %matplotlib inline`)
    checked = (f"{translated}try:  # the file as written: its IPython lines\n"
               f"    compile({text!r}, '<as written>', 'exec')\n"
               "except SyntaxError as _as_written:\n"
               "    _as_written.filename = __file__\n"
               "    raise\n")
    try:
        compile(checked, "<submission>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return script
    return checked.encode("utf-8", "surrogateescape")


TOO_LARGE = "this file is larger than the grader reads"


def _raises(raw: bytes, message: str) -> bytes:
    """A script that raises ValueError(message) when imported, for a file that cannot be graded as it
    is: the file's own hash in it, so that two such files are not "identical submissions" (a red
    team's two were, with one script for every such file)."""
    return f'_file = "{hashlib.sha256(raw).hexdigest()}"\nraise ValueError("{message}")\n'.encode()


def _utf8(source: bytes) -> bytes:
    """A file saved as UTF-16 with its byte-order mark (Windows' Notepad "Unicode", PowerShell 5's
    >), which Python cannot read, as the UTF-8 it means; any other file as it is."""
    if source.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return source.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return source
    return source


# What a student may submit: a Python file, or the Jupyter notebook D2L's exercises are done in.
SOURCE_SUFFIXES = (".py", ".ipynb")


def is_source(path: Path) -> bool:
    return path.suffix.lower() in SOURCE_SUFFIXES


def scripts_first(paths: list[Path]) -> list[Path]:
    """The .py files where there are any, else the notebooks: a notebook beside its own export (or a
    script beside the notebook it was worked out in) is one submission, the script."""
    scripts = [p for p in paths if p.suffix.lower() == ".py"]
    return scripts or paths


def other_answers(chosen: Path, function: str, beside: list[Path] | None = None) -> list[Path]:
    """Files of other suffixes (no .py, no notebook) beside `chosen`, or among `beside`, that are Python
    defining `function` too, in other bytes than its own: a second answer of the student's, the one
    to grade theirs to say, as for two .py files (ux133: sam.py.txt, honest, beside a sam.py of cos,
    went unsaid while the .py was graded, 1/10; hw_final.txt beside hw.py, on Gradescope too). One that
    defines the function as the file does (its syntax tree, as _surest compares a notebook and its export)
    is no second answer."""
    if beside is None:
        try:
            beside = sorted(p for p in chosen.parent.iterdir() if not p.name.startswith("."))
        except OSError:
            return []
    # (an editor's or a student's backup is never an answer: hn146's solution.py~ and solution.py.bak, rt203's
    # #hw.py#, hw.py.save, hw.py.bak1, JetBrains' hw.py___jb_old___ and a stub hw.pyi were "keep one")
    others = [p for p in beside if p != chosen and not is_source(p) and not p.is_symlink() and p.is_file()
              and not _BACKUP.search(p.name)]
    budget, found = Budget(), []
    ours = _function_in(chosen, function, budget)
    for other in others[:50]:  # (a folder of thousands of files costs 50 reads, as a batch's look at them)
        # (the same function, however saved: rt202's CRLF copy, one with a BOM or without its last newline, a
        # notebook's "Download as Python" saved as .txt, were each "keep one")
        if defines(other, function, compiles=True, budget=budget) and _defined_as(other, function, budget) != ours:
            found.append(other)
    return found


_BACKUP = re.compile(r"~$|^#.*#$|___jb_\w+___$|\.(bak|bkp|bk|back|backup|copy|old|orig|prev|sav|save|swp|swo|tmp)\d*$|"
                     r"\.pyi$|\.py\.(?!txt$)[^.]+$", re.IGNORECASE)  # (hw2.py.<anything> but .txt: rt204's .bkp)


def in_question(top: list[Path], function: str, below: Callable[[], list[Path]] = list,
                exercise: str = "") -> tuple[list[Path], bool]:
    """Of a student's source files at the top of their folder (`top`) and in folders below it
    (`below`, looked at only where none at the top defines `function`), those that may be the
    submission (one: it), and whether they are the ones that define it: those that define it most
    surely where any does (a def before a binding, as `plot.py`'s `get_derivative =
    solution.get_derivative`; a .py before a notebook among them), else the files at the top (or
    below, where there are none at the top), the .py ones first. The same for a batch and for
    Gradescope: a notebook beside a scratch.py that defines nothing was passed over for the
    scratch.py (rt137), and the two picked differently between a top-level file and an old/ or src/
    folder's (rt140). Of several that define it, the one named for `exercise` where each is named for
    another exercise of the catalogue (q5_sin.py beside q6_cos_square.py: for_exercise)."""
    defining = _surest(top, function) or _from_below(top, _surest([p for p in below() if p not in top], function),
                                                     function) if function else []
    return (for_exercise(_copies_as_one(defining), exercise), True) if defining else \
        (_copies_as_one(scripts_first(top or below())), False)


def _from_below(top: list[Path], nested: list[Path], function: str) -> list[Path]:
    """Of files below the top that define `function`, the one file at the top that imports it from a package
    of the student's beside it, where there is one: what the student runs (hn146's solution.py, `from
    mylib.deriv import get_derivative`, was graded as mylib/deriv.py alone, its own package missing)."""
    if len(nested) != 1 or not top or not _needs_its_package(nested[0], top[0].parent):
        return nested  # (one that runs alone is graded alone: hn148's main.py, importing it, read a CSV at import)
    importing = [p for p in top if p.suffix.lower() == ".py" and _imports_from_package(p, function)]
    # (several: one not named as a driver, a demo or a test, then the one that does least else: the answer's door
    # rather than what plots or tests it; rv44's solution.py beside her demo.py, both importing it, was
    # mylib/deriv.py graded alone, 0/10, and rv45's demo.py, shorter than her solution.py, read a data file)
    return sorted(importing, key=lambda p: (bool(_DRIVER.search(p.stem)), _statements(p), p.name))[:1] or nested


# A script's name that says it shows, tests or tries the answer rather than being it (demo.py, test_hw.py,
# plotting.py); not main.py, run.py or app.py, which are as often the answer's door (rt211's main.py was)
_DRIVER = re.compile(r"(^|[^a-z])(demo|example|test|plot|visuali[sz]|scratch|figure|bench|compare|check|try|play)",
                     re.IGNORECASE)


def _package_of(path: Path, top: Path) -> tuple[Path, str] | None:
    """(the folder `python -m` runs from, the package's dotted name) where the file lies in a package folder in
    the student's folder `top` and imports from its package (_needs_its_package): what `python -m mylib.deriv`
    runs there. Of the folders that may hold the package (its own parent first, up to `top`), the nearest from
    which each of its imports resolves: a relative one no deeper than the package (`from ..util` in
    mylib/calc/deriv.py needs mylib.calc), an absolute one of the package's own from its top (`from mylib.util`
    needs the folder holding mylib/: rt214's hw2/mylib/, an upload wrapped in a folder of its own, and one named
    hw-2, which no import names); never from inside a package of __init__.py's, whose top is higher. Not for an
    __init__.py, which is a package itself."""
    try:
        below = path.parent.relative_to(top).parts
    except ValueError:
        return None
    tree = _parsed(path) if below and path.name != "__init__.py" and path.name.endswith(".py") and \
        path.name[:-3].isidentifier() else None
    deepest, named, dotted = _imports_of(tree)
    own = _found_only_in_its_package(named, dotted, path) & set(below)  # (its package's folders it imports by name)
    if not deepest and not own:  # (it needs no package of its own: _needs_its_package)
        return None
    widest = None  # (where none resolves: the widest package, whose error is Python's own, "beyond top-level")
    for cut in range(len(below) - 1, -1, -1):
        root, parts = top.joinpath(*below[:cut]), below[cut:]
        if len(parts) > PACKAGE_DEPTH or not all(part.isidentifier() for part in parts) or \
                (cut and (root / "__init__.py").is_file()):
            continue
        if deepest <= len(parts) and own <= {parts[0]}:
            return root, ".".join(parts)
        widest = root, ".".join(parts)
    return widest


def out_of_sight(folder: Path, depth: int | None = None) -> str:
    """Words for a source file in `folder` that the search for a student's file passes over ("" where none):
    a hidden one (.hw.py), Jupyter's autosaved copy (.ipynb_checkpoints/), one in Python's cache folder, or
    one more than `depth` folders down (ux136: a folder holding only those was "no .py file (the folder is
    empty)", 0 as a student who handed in nothing). Never what a tool keeps there (a repository's .git/,
    macOS's __MACOSX/ and ._ files: hn152's were told to rename them). A bounded walk: OUT_OF_SIGHT_ENTRIES
    entries, OUT_OF_SIGHT_DEPTH folders down, no link."""
    seen = 0
    for top, folders, names in os.walk(folder, followlinks=False):
        at = Path(top).relative_to(folder)
        seen += len(folders) + len(names)
        if seen > OUT_OF_SIGHT_ENTRIES:
            return ""
        folders[:] = sorted(f for f in folders if f not in _TOOLS_OWN) if len(at.parts) < OUT_OF_SIGHT_DEPTH else []
        for name in sorted(names):
            if not is_source(Path(name)) or name.startswith("._") or os.path.islink(Path(top, name)):
                continue
            shown = (at / name).as_posix()
            if ".ipynb_checkpoints" in at.parts:
                return f"{shown}, Jupyter's autosaved copy, not the notebook itself: submit the notebook"
            if "__pycache__" in at.parts:
                return f"{shown}, in Python's cache folder, which the grader skips: move it out of there"
            if any(part.startswith("__") for part in at.parts):
                return f"{shown}, in a folder whose name begins with __, which the grader skips: move it out of there"
            if any(part.startswith(".") for part in (*at.parts, name)):
                return f"{shown}, a hidden file (a name beginning with a dot): rename it"
            if depth is not None and len(at.parts) > depth:
                return f"{shown}, {len(at.parts)} folders down, deeper than the grader looks ({depth}): move it up"
    return ""


_TOOLS_OWN = frozenset({".git", ".hg", ".svn", "__MACOSX", "node_modules", ".venv", "venv", ".tox"})
OUT_OF_SIGHT_DEPTH = 8
OUT_OF_SIGHT_ENTRIES = 2_000


def _needs_its_package(path: Path, folder: Path) -> bool:
    """Whether a script below `folder` imports from the package it lies in (`from mylib.core import ...` in
    mylib/deriv.py, or a relative import): graded alone, without the package, it cannot load."""
    try:
        packages = set(path.relative_to(folder).parts[:-1])
    except ValueError:
        return False
    deepest, named, dotted = _imports_of(_parsed(path))
    return deepest > 0 or bool(_found_only_in_its_package(named, dotted, path) & packages)


def _found_only_in_its_package(named: dict[str, set[str]], dotted: set[str], path: Path) -> set[str]:
    """Of the names a script imports (`named`: each with the parts imported from below it, `torch` of `from d2l import
    torch`; `dotted`: those imported with a part below them, `from deriv.util`), those that `python script.py` would
    not find without its package: not one the grader has (_ELSEWHERE), nor a module or folder beside it (a folder
    alone for a dotted one: rv49's deriv/deriv.py, `from deriv.util import ...`, was graded as a script, "'deriv' is
    not a package", 0/10). rv48: hw.py in a folder named d2l/, importing d2l, lost the d2l stand-in to the folder,
    0/10; hw/solution.py, importing hw.py beside it, got the folder hw/ for it. A name the grader stands in for
    (STAND_INS) is its package's only where that folder holds what is imported from it (hn154's own copy of d2l,
    d2l/torch.py beside its d2l/hw.py, got the stand-in, 1/10)."""
    return {name for name in named
            if not (name in _ELSEWHERE and not stands_in(name)) and _fits(name)
            and not (name in STAND_INS and not _holds(path, name, named[name]))
            and not ((path.parent / f"{name}.py").is_file() and name not in dotted)
            and not (path.parent / name).is_dir()}


def _holds(path: Path, name: str, parts: set[str]) -> bool:
    """Whether the nearest folder named `name` that `path` lies in holds one of `parts` as a module (a .py, or a
    package of __init__.py's): not an __init__.py alone, nor an empty folder of that name (rv50, rt218: an honest
    d2l/hw.py beside an empty __init__.py was graded as d2l.hw, "cannot import name 'torch' from 'd2l'", 0/10)."""
    folder = next((above for above in path.parents if above.name == name), None)
    return folder is not None and any(
        _fits(part) and ((folder / f"{part}.py").is_file() or (folder / part / "__init__.py").is_file())
        for part in parts)


def _imports_of(tree: ast.Module | None) -> tuple[int, dict[str, set[str]], set[str]]:
    """What a script's imports reach for: the most dots of a relative one (0 where none), the first part of
    each absolute one's name (mylib of `from mylib.core import f`, `import mylib.core`) with the parts imported
    from below it (core; f too, which may be a module), and those imported with a part below them (a package's,
    which no module of that name holds)."""
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))] if tree else []
    deepest = max((node.level for node in imports if isinstance(node, ast.ImportFrom)), default=0)
    names: list[tuple[str, tuple[str, ...]]] = [(alias.name, ()) for node in imports if isinstance(node, ast.Import)
                                                for alias in node.names]
    names += [(node.module or "", tuple(alias.name for alias in node.names)) for node in imports
              if isinstance(node, ast.ImportFrom) and node.level == 0]
    named: dict[str, set[str]] = {}
    for name, taken in names:
        first, _, rest = name.partition(".")
        named.setdefault(first, set()).update([rest.partition(".")[0]] if rest else taken)
    return deepest, named, {name.partition(".")[0] for name, _ in names if "." in name}


def solution_modules(solution: Path, function: str) -> list[Path]:
    """The course's modules beside a reference solution that it imports (modules_beside, as a student's are read),
    by their paths; none where it cannot be read (what refuses it is elsewhere). Its folder is the course's own,
    whatever else there defines the function (ux139: two other exercises' solutions beside it made it a class's
    folder, and its helper was withheld: the bundle refused, a grade drew every pass beside none)."""
    try:
        return [solution.parent / name for name, _ in read(solution, helpers=True, function=function, own=True).helpers]
    except (OSError, SubmissionError):
        return []


def _imports_from_package(path: Path, function: str) -> bool:
    """Whether a script binds `function` at its top level, as it is imported (not under `if __name__ ==
    "__main__":`: rv44's main.py), by importing it from a package folder beside it."""
    tree = _parsed(path)
    return tree is not None and any(
        isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and
        any((alias.asname or alias.name) == function for alias in node.names) and
        _fits(node.module) and (path.parent / node.module.partition(".")[0]).is_dir()
        for node in _top_level(tree, guarded=False))


def _statements(path: Path) -> int:
    """How many statements a script's syntax tree holds (0 where it cannot be read)."""
    tree = _parsed(path)
    return sum(isinstance(node, ast.stmt) for node in ast.walk(tree)) if tree is not None else 0


def _parsed(path: Path) -> ast.Module | None:
    """A script's syntax tree, as read (_read) and parsed (_tree); None where it cannot be read or parsed."""
    try:
        return _tree(_read(path, scripted=False).source)
    except SubmissionError:
        return None


def for_exercise(paths: list[Path], exercise: str) -> list[Path]:
    """Of several files that define the function, the one whose name names `exercise`, where every one
    of them names an exercise of the catalogue and no two the same one (ux123: a student's folder of
    q5_sin.py and q6_cos_square.py, each defining get_derivative as its exercise asks, was "keep one",
    0, in both exercises' batches); `paths` as they are otherwise. A name names the exercise whose
    words it holds in a row, the longest of them (q7_log_sin.py: log_sin, not sin)."""
    if not exercise or len(paths) < 2:
        return paths
    from grader.exercise import REFERENCE_DIR  # (the catalogue's names: its files' stems)

    names = {path.stem for path in REFERENCE_DIR.glob("*.toml")} | {exercise}

    def named(path: Path) -> str | None:
        words = [w for w in re.split(r"[^0-9a-z]+", path.stem.lower()) if w]
        found = [name for name in names
                 if (parts := name.lower().split("_")) and any(words[i:i + len(parts)] == parts
                                                               for i in range(len(words)))]
        return max(found, key=lambda name: len(name.split("_")), default=None)

    each = [named(path) for path in paths]
    if None in each or len(set(each)) != len(each):
        return paths
    return [path for path, name in zip(paths, each, strict=True) if name == exercise] or paths


def _copies_as_one(paths: list[Path]) -> list[Path]:
    """The first of `paths` where they are all the same bytes (solution.py beside its copy
    solution_v2.py, hw.ipynb beside a second download "hw (1).ipynb"): one submission, where several
    files made the student "missing" with 0 (ux113). Notebooks are the same where their code cells
    are, whatever outputs each saved (ux129: one run again before its second download was "keep one",
    and 0/10 on Gradescope)."""
    if len(paths) < 2:
        return paths
    try:
        if len({p.stat().st_size for p in paths}) == 1 and \
                all(filecmp.cmp(paths[0], p, shallow=False) for p in paths[1:]):
            return paths[:1]
        if all(p.suffix.lower() == ".ipynb" for p in paths) and \
                all(p.stat().st_size <= 32 << 20 for p in paths):  # (saved outputs, plots among them)
            scripts = {_notebook_script(p.read_bytes()) for p in paths}
            if len(scripts) == 1 and None not in scripts:
                return paths[:1]
    except OSError:
        pass
    return paths


def _surest(paths: list[Path], function: str) -> list[Path]:
    """Of `paths`, those that define `function` most surely, the shallowest of them (src/sol.py before
    old/v1/sol.py), a .py before a notebook; [] where none defines it. Those past MAX_PARSED_BYTES
    are read line by line (Budget)."""
    budget = Budget()
    # (the smallest parsed first: ux125's three data modules of 0.7 MB took the budget, and a notebook
    # beside its own export, past it, was "keep one")
    how = {p: definition(p, function, budget=budget) for p in sorted(paths, key=_size)}
    surest = max(how.values(), default=NONE)
    defining = [p for p in paths if how[p] == surest] if surest else []
    shallowest = min((len(p.parts) for p in defining), default=0)
    defining = [p for p in defining if len(p.parts) == shallowest]
    scripts = [p for p in defining if p.suffix.lower() == ".py"]
    if scripts and len(scripts) < len(defining):
        # A notebook beside a .py is one submission, the .py, where the .py holds the notebook's own
        # function (its export, a copy); where they define it differently they are two answers: a
        # scratch.py's cos beside an honest notebook was graded without a word, and the student
        # listed among the suspects (ux120).
        ours = {_defined_as(p, function, budget) for p in scripts}
        if any(_defined_as(p, function, budget) not in ours for p in defining if p not in scripts):
            return defining
    return scripts_first(defining)


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _function_in(path: Path, function: str, budget: Budget) -> str | None:
    """_defined_as of a file not yet read within `budget`: charged to it first, as definition reads it."""
    definition(path, function, budget=budget)
    return _defined_as(path, function, budget)


def _defined_as(path: Path, function: str, budget: Budget) -> str | None:
    """The file's last top-level binding of `function` (a def, or an assignment after it: rt154's
    scratch.py copied the notebook's def, then rebound the name to cos), within an if or a try too,
    as its syntax tree (neither comments, spacing nor line numbers count); None where there is none.
    Past the budget, a binding like no other file's: two answers, for the TA to see."""
    if not budget.granted(path):
        return f"(not read: {path})"
    try:
        tree = ast.parse(read(path).source)
    except (SubmissionError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        return next((ast.dump(node) for node in _bindings(tree, function)), None)
    except (RecursionError, MemoryError):  # (ast.dump recurses: rt190's 2,000 terms parsed, then ended the batch)
        return f"(too deep to read: {path})"


# What a file that is no text begins with, and what it is (ux127: a zip given to `grade` was told to save
# the file as UTF-8, not UTF-16, and a PDF that its first line was IPython's)
_NOT_PYTHON = ((b"PK\x03\x04", "a zip archive (or a Word or Excel file, which is one)"), (b"%PDF", "a PDF"),
               (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
               (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"\xd0\xcf\x11\xe0", "an old Word or Excel file"))


NOTEBOOK_AS_PY = "a Jupyter notebook (its JSON, in a file named .py)"


def not_python(source: bytes, notebook: bool = False) -> str:
    """What a file is that is no Python source by its first bytes ("a PDF"); a notebook's JSON in a file
    that is no `notebook` by its name (hn149: renamed .py to pass an upload's filter, it "does not define
    get_derivative", or raised NameError: name 'null'); "" for any other."""
    kind = next((kind for magic, kind in _NOT_PYTHON if source.startswith(magic)), "")
    if kind or notebook or not source.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") or b'"nbformat"' not in source:
        return kind
    try:
        parsed = json.loads(source.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ""
    return NOTEBOOK_AS_PY if isinstance(parsed, dict) and isinstance(parsed.get("cells"), list) else ""


def is_blank(source: bytes) -> bool:
    """Whether a file (a notebook's script) holds no code: only blank lines and comments (ux112's empty
    file was told that it "does not define get_derivative")."""
    lines = source.decode("utf-8", "replace").splitlines()
    return all(not line.strip() or line.lstrip().startswith("#") or line in (cell_syntax.DISPLAY,
                                                                             cell_syntax.NOTEBOOK_PRELUDE)
               for line in lines)


NOT_A_NOTEBOOK = "this .ipynb is not a Jupyter notebook the grader can read"


def notebook_script(raw: bytes) -> bytes:
    """_notebook_script, or for a notebook whose code is too large to read a script that says so."""
    script = _notebook_script(raw)
    return _raises(raw, TOO_LARGE) if script is None else script


def _notebook_script(raw: bytes) -> bytes | None:
    """A notebook's code cells as one script, as Jupyter's "export as Python" writes it: each cell
    after an `# In[N]:` line, and IPython's own syntax (`%matplotlib inline`, `!pip install d2l`,
    `%time g = f(x)`, a `%%bash` cell, display) as the Python it stands for (cell_syntax.py). The
    JSON is only parsed here, never run. One that is no notebook becomes a script that says so when
    imported (a notebook used to fail with "AssertionError", and a working solution scored 0)."""
    try:
        notebook = json.loads(raw.decode("utf-8-sig"))
        # (nbformat 3, IPython 2's, which Jupyter still opens: its cells in worksheets, a code cell's
        # text under "input": hn124's was "not the JSON Jupyter saves", 0/10). Which layout is read as
        # nbformat reads it, by the version the notebook gives: a v3 notebook's "cells" beside its
        # worksheets, which Jupyter never shows, were graded (rt161).
        old = notebook.get("nbformat") == 3
        cells = [cell for sheet in notebook["worksheets"] if isinstance(sheet, dict)
                 for cell in (sheet.get("cells") or [])] if old else notebook["cells"]
        assert isinstance(cells, list)
    except (ValueError, RecursionError, KeyError, TypeError, AssertionError, AttributeError):
        return _raises(raw, NOT_A_NOTEBOOK)
    parts: list[str] = []
    futures: dict[str, str] = {}  # each future import moved to the top: where it was
    code = 0
    count = 0  # the execution count Restart & Run All gives the cell (a blank cell takes none)
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell.get("input" if old else "source", "")
        text = "".join(line for line in text if isinstance(line, str)) if isinstance(text, list) else text
        if not isinstance(text, str):
            continue
        code += len(text)
        if code > MAX_SOURCE_BYTES:  # (None: read() says why; 16 MiB of code cost the parent 3.5 s and 560 MB, rt139)
            return None
        lines, moved = cell_syntax.placed_python_lines(text)
        if text.strip():
            count += 1
            lines = cell_syntax.echoed(lines, count) if cell_syntax.echoes(text) else lines
        # (where each came from, so that an error in one names its cell: "line 1" named none, rt140)
        for future, line in moved:
            futures.setdefault(future, f"# (moved here from code cell {len(parts) + 1}, line {line})\n")
        # (a mark of its own kind: a script pasted into a cell, with Jupyter's "# In[N]:" lines, had its
        # errors placed in code cells that were not there, rt140)
        parts.append(f"# In[{number}]: (code cell {len(parts) + 1})\n" + "\n".join(lines) + "\n")
    prelude = "".join(f"{place}{future}\n" for future, place in futures.items()) + \
        f"{cell_syntax.NOTEBOOK_PRELUDE}\n"
    # Each mark ends in a tag of the cells' own text, which no cell can hold: a mark written inside a
    # cell's string split that cell where the notebook is run (rt157), where a reader saw a string.
    tag = hashlib.sha256("".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    parts = [part.replace("\n", f" {tag}\n", 1) for part in parts]
    return (prelude + "\n".join(parts)).encode("utf-8", "surrogatepass")


_CELL_MARK = re.compile(r"# In\[\d+\]: \(code cell \d+\) ([0-9a-f]{16})")
_MOVED_FROM = re.compile(r"# \(moved here from code cell (\d{1,9}), line (\d{1,9})\)")
# (nine digits at most: "line " and 5,000 digits in a student's message made int() raise, past
# Python's 4,300-digit limit, where the parent caps a message at 4,000 characters only by chance)
_LINE = re.compile(r"\bline (\d{1,9})\b( of your file)?")


_SCRIPT_LINE_END = re.compile(rb"\r\n|\r|\n")


def cells_of(script: bytes) -> list[tuple[int, bytes]]:
    """A script notebook_script wrote, cut where its code cells start: the line each part starts on
    and its lines, the prelude (future imports, the notebook's names) first."""
    parts: list[tuple[int, list[bytes]]] = [(1, [])]
    tag = None  # the first mark's (before any cell's own text): a mark is one with it
    for number, line in enumerate(_SCRIPT_LINE_END.split(script), 1):
        mark = _CELL_MARK.fullmatch(line.decode("utf-8", "replace"))
        if mark and (tag is None or mark[1] == tag):
            tag = mark[1]
            parts.append((number + 1, []))
        else:
            parts[-1][1].append(line)
    return [(first, b"\n".join(lines)) for first, lines in parts]


def cell_places(script: bytes) -> dict[int, tuple[int, int]]:
    """For a script notebook_script wrote: each of its lines' code cell (counting code cells only,
    from 1) and line within that cell, the cells as cells_of cuts them (where they run)."""
    places: dict[int, tuple[int, int]] = {}
    (_, prelude), *cells = cells_of(script)
    moved: re.Match[str] | None = None
    for number, text in enumerate(_SCRIPT_LINE_END.split(prelude), 1):
        if moved:  # a future import, moved to the top from its cell
            places[number] = (int(moved[1]), int(moved[2]))
        moved = _MOVED_FROM.fullmatch(text.decode("utf-8", "replace"))
    for cell, (first, text) in enumerate(cells, 1):
        places.update({first + within: (cell, within + 1) for within in range(len(_SCRIPT_LINE_END.split(text)))})
    return places


def in_cells(text: str, places: dict[int, tuple[int, int]]) -> str:
    """`text` with each "line N" of the script named by the notebook's cell: ux111's notebooks were
    told of "line 11 of your file", a line of the exported script no student sees."""
    def named(found: re.Match[str]) -> str:
        place = places.get(int(found.group(1)))
        return f"line {place[1]} of code cell {place[0]}" if place else found.group(0)
    return _LINE.sub(named, text)


_KINDS = ((stat.S_ISLNK, "a symbolic link; only regular files are graded (submit the file itself)"),
          (stat.S_ISDIR, "a folder, not a file"),
          (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
          (stat.S_ISCHR, "a device, not a regular file"),
          (stat.S_ISBLK, "a device, not a regular file"),
          (stat.S_ISSOCK, "a socket, not a regular file"))


def defines(path: Path, function: str, compiles: bool = False, budget: Budget | None = None) -> bool:
    """Whether the file at `path` (read once, and only if it is a regular file) defines `function`:
    which of a student's several files is the submission, the same for a batch and for Gradescope.
    With `compiles`, it must also be Python that compiles: a file of another suffix is a submission
    only then (a README quoting `def get_derivative(x):` is not), and past the `budget` none is."""
    return definition(path, function, compiles, budget) > 0


DEFINED, BOUND, NONE = 2, 1, 0  # how a file defines a function (definition), the surest first


def definition(path: Path, function: str, compiles: bool = False, budget: Budget | None = None) -> int:
    """How the file at `path` defines `function` at its top level (within an if or a try too): by
    a def (DEFINED), by binding the name to a value (BOUND: `get_derivative = lambda x: ...`, what
    a factory or torch.compile returns, rt137), or not at all (NONE). Read as Python: a line in a
    docstring that binds the name is none (rt139's notes.py was graded over a notebook). A file that
    does not compile defines it where a line starts with the def (its syntax error is then its
    feedback), unless `compiles`; a file too large to read, where it may (read says why). Past the
    `budget`, by its lines alone: a def of it, or the name bound at the line's start (and none where
    it must compile, which only a parse tells)."""
    try:
        submission = _read(path, scripted=False)
    except SubmissionError:
        return NONE
    if submission.too_large:
        return NONE if compiles else BOUND
    if submission.source.isascii() and function.encode() not in submission.source:
        # (no name, no binding of it: not parsed, nor charged to the budget; rt168's three data modules beside a
        # notebook and its export took the budget, and the notebook, past it, made them "keep one". Python
        # reads a name of other letters as its NFKC form, get_ｄerivative as get_derivative: those are parsed.)
        return NONE
    if budget is not None and not budget.take(path, len(submission.source)):
        return NONE if compiles else _line_definition(submission.source, function)
    notebook = path.suffix.lower() == ".ipynb"  # (its script, as read: a `.py`'s IPython lines translated here)
    return source_definition(submission.source if notebook else _script(submission.source), function, compiles)


def _line_definition(raw: bytes, function: str) -> int:
    """definition, by a script's lines alone (within a line each: rt162)."""
    name = re.escape(function).encode()
    if re.search(rb"^[ \t\f]*(async[ \t]+)?def[ \t]+" + name + rb"[ \t]*\(", raw, re.MULTILINE):
        return DEFINED
    return BOUND if re.search(rb"^" + name + rb"[ \t]*(:[^=\n]*)?=(?!=)", raw, re.MULTILINE) else NONE


def like_a_submission(script: bytes, function: str, imports: bool = True) -> bool:
    """Whether a module beside the file is a submission of its own, never a module of the student's: it
    defines `function` (as definition reads a file), binds it at its top level some other way (rt200's
    classmate through `globals()["get_derivative"]`; an import of it, `setattr`, an exec of its def), or
    defines there a name a letter or two from it (rt200's classmate's get_derivitive, a load error of
    their own in a batch). Not a helper that only uses the name: a parameter, a label, a docstring, a
    self-test under `if __name__ == "__main__":` (hn145's and hn146's honest helpers, 10/10 made 0/10).
    Without `imports`, an import of it binds nothing: a script that uses an answer is none itself."""
    try:
        tree = ast.parse(script)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return bool(source_definition(script, function))  # (read by its lines)
    # (a binding names it, in the script's bytes: rv43's helper of 60,000 names took 1.8 s walking them all; or
    # in a name Python reads as its NFKC form, rt207's get_ｄerivative, which no ASCII bytes show; or in a string
    # the parser spells out, rv44's "get_\x64erivative" and "get_" "derivative")
    named = function.encode() in script or not script.isascii() or _spelt_out(script, tree, function)
    # (a namespace by another name: rt207's `ns = globals(); ns["get_derivative"] = f`)
    aliases = {t.id for node in _top_level(tree, guarded=False) if isinstance(node, ast.Assign) and
               _namespace(node.value) for t in node.targets if isinstance(t, ast.Name)} if named else set()
    bound = named and (any(True for _ in _bindings(tree, function, guarded=False)) or
                       any(_binds(node, function, aliases, imports) for node in _top_level(tree, guarded=False)))
    return bound or any(_near(name, function) for name in set(_top_level_names(tree)))


# A string the parser makes of other bytes than it holds: an escape, or literals side by side that it joins
_SPELT = re.compile(rb"\\|['\"]\s*[rRuUfFbB]{0,2}['\"]")


def _spelt_out(script: bytes, tree: ast.Module, function: str) -> bool:
    """Whether a string of the script holds `function` where its bytes do not: written with an escape or
    joined from literals side by side (looked for only where the bytes hold one or the other)."""
    return _SPELT.search(script) is not None and any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and function in node.value
        for node in ast.walk(tree))


def _binds(statement: ast.stmt, function: str, aliases: set[str] | frozenset[str] = frozenset(),
           imports: bool = True) -> bool:
    """Whether a top-level statement binds `function` other than by a def or `name = ...`: an import of it,
    an item of globals() or vars() (or of a name for one, `aliases`), their update(), an attribute of that
    name (`sys.modules[__name__].get_derivative = f`), setattr, or exec or compile of a string naming it."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return imports and any(function in (alias.asname or alias.name).split(".") for alias in statement.names)
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.If | ast.Try | ast.With):
        return False  # (a function's body runs when called, a helper's own; an if's, a try's, a with's are walked)
    def space(value: ast.expr) -> bool:
        return _namespace(value) or (isinstance(value, ast.Name) and value.id in aliases)

    for node in ast.walk(statement):
        # (the namespace's own item, not a label's: rv43's `TITLES["get_derivative"] = ...` was a submission)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and space(node.value) and \
                isinstance(node.slice, ast.Constant) and node.slice.value == function:
            return True
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr == function) or \
                (isinstance(node, ast.NamedExpr) and node.target.id == function):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" and \
                space(node.func.value) and (any(k.arg == function for k in node.keywords) or any(
                    isinstance(a, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == function
                                                    for k in a.keys) for a in node.args)):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("setattr", "exec", "compile", "eval") and any(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) and
                    re.search(rf"\b{re.escape(function)}\b", a.value) for a in node.args):
            return True
    return False


def _namespace(node: ast.expr) -> bool:
    """Whether an expression is a module's namespace: globals(), vars(), locals(), or some `....__dict__`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "__dict__"
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
        node.func.id in ("globals", "vars", "locals")


def _main_guard(node: ast.AST) -> bool:
    """Whether `node` is `if __name__ == "__main__":` (either way round; not `!=`, whose body runs on import)."""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1 and
            isinstance(node.test.ops[0], ast.Eq)):
        return False
    sides = [node.test.left, *node.test.comparators]
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in sides) and \
        any(isinstance(n, ast.Constant) and n.value == "__main__" for n in sides)


def _top_level_names(tree: ast.Module) -> Iterator[str]:
    """The names a module's top level defines as it is imported: defs, classes and what it assigns, as _bindings
    reads an assignment (_targets), so that a misspelt name is found however it is bound."""
    for node in _top_level(tree, guarded=False):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        yield from (t.id for t in _unpacked(_targets(node)) if isinstance(t, ast.Name))


def _near(name: str, function: str) -> bool:
    """Whether `name` is `function` misspelt: two edits at most between them, case and underscores aside
    (getDerivative, get_derivitive, get_derivate), where the function's name is long enough to tell; not
    a name that holds it (a helper named for it: get_derivative_of, _get_derivative, get_derivatives, and
    rv43's getDerivativeAt), nor one of another first letter (set_derivative)."""
    a, b = name.replace("_", "").casefold(), function.replace("_", "").casefold()
    # (a name of its letters in another case is it misspelt: rt207's classmate's getDerivative)
    if (b in a and a != b) or len(b) < 8 or abs(len(a) - len(b)) > 2 or a[:1] != b[:1]:
        return False
    row = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (letter != other))
        if min(row) > 2:  # (never two edits from here on: rv43's 60,000 names took 3.4 s a read)
            return False
    return row[-1] <= 2


def source_definition(raw: bytes, function: str, compiles: bool = False) -> int:
    """definition, of a script's bytes as read."""
    try:
        tree = ast.parse(raw)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        if compiles:
            return NONE
        return DEFINED if _line_definition(raw, function) == DEFINED else NONE
    found = NONE
    for node in _bindings(tree, function):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return DEFINED
        found = BOUND
    return found


def _bindings(tree: ast.Module, function: str, guarded: bool = True) -> Iterator[ast.stmt]:
    """The statements that bind `function` at the file's top level (a def, or an assignment of a
    value), the last of the file's own first; not under `if __name__ == "__main__":` where not `guarded`."""
    for node in _top_level(tree, guarded):
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function) or \
                any(isinstance(t, ast.Name) and t.id == function for t in _unpacked(_targets(node))):
            yield node


def _targets(node: ast.stmt) -> list[ast.expr]:
    """What a statement assigns a value to: an assignment's (an annotation alone is none), a for's, a with's."""
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AnnAssign):
        return [node.target] if node.value is not None else []
    if isinstance(node, ast.For | ast.AsyncFor):
        return [node.target]
    if isinstance(node, ast.With | ast.AsyncWith):
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def _unpacked(targets: list[ast.expr]) -> Iterator[ast.expr]:
    """Assignment targets, those of a tuple or list (`get_derivative, plot = ...`) and a starred one too."""
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _unpacked(list(target.elts))
        elif isinstance(target, ast.Starred):
            yield from _unpacked([target.value])
        else:
            yield target


def _top_level(tree: ast.Module, guarded: bool = True) -> Iterator[ast.stmt]:
    """A module's statements at its top level, within an if, a try or a with too, the last first; not
    those under `if __name__ == "__main__":` where not `guarded`."""
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        yield node
        if not guarded and isinstance(node, ast.If) and _main_guard(node):
            statements += node.orelse  # (what runs on import: rt207's def under the guard's else)
            continue
        if isinstance(node, ast.If | ast.Try | ast.With):
            statements += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                           *(s for handler in getattr(node, "handlers", []) for s in handler.body)]


def refusal(path: Path) -> str:
    """Why `path` is not read as a submission ("" for a regular file this process may read): it
    never follows a link, and opens only a regular file (a FIFO's open could wait). A file of mode
    000, under a grader that is not root, was taken and then failed in a worker as "the grader
    failed; run the batch again", on every run."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if not stat.S_ISREG(mode):
        return next((words for test, words in _KINDS if test(mode)), "not a regular file")
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError as err:
        return f"cannot be read ({err.strerror}); make it readable"
    return ""


def from_function(function: Callable[..., Any]) -> Submission:
    """A function defined in this process (a notebook cell), named by the function and read from
    its source where Python still has it."""
    try:
        source = inspect.getsource(function).encode()
    except (OSError, TypeError):
        source = b""
    return Submission(Path(f"{getattr(function, '__name__', 'function')}()"), source)


AUTOGRAD_CALLS = frozenset({"backward", "grad", "vjp", "jvp", "jacobian", "hessian", "jacrev", "jacfwd", "make_dual",
                            "unpack_dual", "vmap"})


def uses_autograd(source: bytes) -> bool:
    """Whether the source calls into autograd at all (backward, autograd.grad, torch.func, forward
    AD): it lets the feedback tell autograd of another function from no autograd. Never a verdict."""
    return any(_called(node) in AUTOGRAD_CALLS for node in _calls(source))


def compiles(source: bytes) -> bool:
    """Whether the source hands work to TorchScript or torch.compile (`torch.jit.script`, `jit.trace`,
    `torch.compile`, by any import of them): their passes run in engines the grader's recorder does not
    hear, so a pass it did hear (a printed check of sin at x) is not all there was (rt179's honest file,
    the whole function by autograd.grad inside a scripted function, was listed as finishing the chain by
    hand). Never a verdict."""
    tree = _tree(source)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr == "jit" or
                                                (node.attr == "compile" and _is_name(node.value, "torch"))):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("torch.jit", "torch._dynamo")):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "torch" and \
                any(alias.name in ("jit", "compile") for alias in node.names):
            return True
        if isinstance(node, ast.Import) and any(alias.name.startswith("torch.jit") for alias in node.names):
            return True
    return False


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def reads_graph(source: bytes) -> bool:
    """Whether the source works with autograd's graph nodes: walks next_functions, reads a saved
    tensor (._saved_self), or hooks a node (register_prehook, or register_hook with a function of
    two arguments, grad_inputs and grad_outputs, where a tensor's hook takes one). The canary's graph
    is not torch's own, so what such code gets from a node at home differs here (rt141). Never a
    verdict: it names a failure's likely cause. Also a node's name compared or read (`"Sin" in
    str(y.grad_fn)`, `y.grad_fn.name() == ...`, `type(y.grad_fn).__name__`: hn124's raised under the
    grader, its words "run it yourself", where it ran). Not a mere read of y.grad_fn (a print of it):
    rt143's honest files with a missing return or a typo were told of the graph for a print."""
    tree = _tree(source)
    if tree is None:
        return False
    pairs = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and len(node.args.posonlyargs + node.args.args) == 2}
    def names_a_node(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == "grad_fn" for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr == "next_functions" or node.attr.startswith("_saved_")):
            return True
        if isinstance(node, ast.Compare) and names_a_node(node) and \
                not all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):  # (`grad_fn is None` tells nothing)
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("name", "__name__") and names_a_node(node.value):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            hook = node.args[0]
            two = (isinstance(hook, ast.Lambda) and len(hook.args.posonlyargs + hook.args.args) == 2) or \
                (isinstance(hook, ast.Name) and hook.id in pairs)
            if node.func.attr == "register_prehook" or (node.func.attr == "register_hook" and two):
                return True
    return False


def _calls(source: bytes) -> list[ast.Call]:
    tree = _tree(source)
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)] if tree is not None else []


@functools.lru_cache(maxsize=1)
def _tree(source: bytes) -> ast.Module | None:
    """The source parsed, once for the reads of it one grading makes in turn (needs_compiler,
    uses_autograd, reads_graph: a megabyte of code takes a second to parse); None where it does not
    parse. Read only. (One kept: no larger a peak than a parse makes anyway.)"""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _called(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


# What in a source makes torch import its compiler stack (torch._dynamo): torch.func's grad, vjp,
# jacrev and hessian, torch.compile, torch.export, functorch, and forward AD (dual tensors through
# the canary's graph take a decomposition that imports it). A guess from the text, and generous:
# it only chooses which warm zygote a child is forked from, and a child that needs the stack
# unannounced imports it itself (a second or so slower, never a different grade).
_COMPILER_WORDS = re.compile(rb"func|compile|dynamo|export|jacrev|jacfwd|vjp|jvp|hessian|forward_ad|dual")


def nested_definition(source: bytes, function: str) -> tuple[int, str] | None:
    """Where `function` is defined below the top level, and what holds it (its line, in words), for
    a file that did not define it: hn123's def inside main(), or under `if __name__ == "__main__":`,
    was told "Is main meant to be get_derivative? Rename it"."""
    tree = _tree(source)
    if tree is None:
        return None
    for holder in ast.walk(tree):
        for node in ast.iter_child_nodes(holder):
            if holder is not tree and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    node.name == function:
                return node.lineno, _holder_words(holder)
    return None


def _holder_words(holder: ast.AST) -> str:
    if isinstance(holder, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return f"inside {holder.name}(), so it exists only while {holder.name} runs"
    if isinstance(holder, ast.ClassDef):
        return f"inside class {holder.name}, as its method"
    # (a walk, not ast.unparse, which recurses: rt190's condition of 900 terms ended the grading, "the
    # grader failed", where the file defines nothing)
    if isinstance(holder, ast.If) and any(isinstance(node, ast.Constant) and node.value == "__main__"
                                          for node in ast.walk(holder.test)):
        return "under `if __name__ == \"__main__\":`, which runs only when the file is run as a script, not when " \
               "it is imported to be graded"
    if isinstance(holder, ast.If):
        return "inside an `if` block whose condition was false"
    if isinstance(holder, (ast.For, ast.AsyncFor, ast.While)):
        return "inside a loop that never ran"
    return f"inside a `{type(holder).__name__.lower()}` block that stopped before it"


def needs_compiler(source: bytes) -> bool:
    """Whether this source looks as if it needs torch's compiler stack (see _COMPILER_WORDS): it
    chooses which warm zygote its sandbox child is forked from, and when a batch grades it. Never a
    verdict."""
    return _COMPILER_WORDS.search(source) is not None


# What makes a file import matplotlib's pyplot: the exercise asks for a plot of sin and its
# derivative, and many students hand in their plotting code beside the function, run as the file
# loads. pyplot and its font list cost a child 0.4-0.6 s (four times the rest of its grading).
# (d2l too, whose stand-in imports pyplot: hn151's `from d2l import torch as d2l` showed its student a
# subprocess.Popen "recorded for your TA", matplotlib's font list built under the audit hook)
_PLOTTING_WORDS = re.compile(rb"matplotlib|pylab|\bd2l\b")


def plots(source: bytes) -> bool:
    """Whether this source looks as if it imports matplotlib's pyplot, itself or through d2l (see _PLOTTING_WORDS)."""
    return _PLOTTING_WORDS.search(source) is not None


def warm_extras(source: bytes) -> tuple[str, ...]:
    """What a batch's zygote should have imported before forking this file's child: "compiler"
    (torch's compiler stack) and "plotting" (matplotlib's pyplot), as the text suggests. A guess,
    and generous: a child that needs either unannounced imports it itself, which is only slower;
    never a different grade."""
    return (*(("compiler",) if needs_compiler(source) else ()),
            *(("plotting",) if plots(source) else ()))


def scan(source: bytes, telltales: frozenset[str] = frozenset({"cos"})) -> tuple[SourceHit, ...]:
    """Lines that call a telltale (cos, for sin's derivative) or finite differences: evidence for
    the feedback, never a verdict."""
    suspicious = set(SUSPICIOUS_CALLS) | telltales | {f"{name}_" for name in telltales}
    lines = cell_syntax.lines_of(source.decode("utf-8", errors="replace"))  # (numbered as Python numbers them)
    tree = _tree(source)
    guarded = {node.lineno for top in (tree.body if tree is not None else []) if _main_guard(top)
               for node in ast.walk(top) if isinstance(node, ast.Call)}
    hits = []
    for node in _calls(source):
        name = _called(node)
        if name in suspicious and 0 < node.lineno <= len(lines):
            hits.append(SourceHit(node.lineno, name, lines[node.lineno - 1].strip()[:160], node.lineno in guarded))
    return tuple(sorted(set(hits), key=lambda h: h.line))[:10]
