"""Many submissions: find them, grade them in parallel, resume, and write the gradebook.

Each submission is graded by grade_file (its own sandboxed child) inside a worker process, which
writes OUT/<student>/feedback.png, backward.png and result.json atomically. The gradebook and
summary are rebuilt from those result files at the end, so a batch killed at any point (kill -9
included) and run again regrades only what is missing or stale, and never leaves a truncated file
or a duplicate row.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import functools
import hashlib
import json
import multiprocessing
import os
import re
import secrets
import shlex
import signal
import socket
import stat
import sys
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from grader import checks, safe_text, sandbox
from grader.exercise import Exercise
from grader.grade import cache_key, grade_file
from grader.probe import Plan
from grader.report import atomic, result_json, write_files
from grader.submission import (
    Budget,
    SubmissionError,
    defines,
    in_question,
    is_source,
    needs_compiler,
    other_answers,
    out_of_sight,
    read,
    refusal,
)

if TYPE_CHECKING:
    from distributed import Client

_PR_SET_PDEATHSIG = 1
# The student's own files' failures (the grader's own are said apart: ux128's killed zygote read as a student's)
FAILED_STATUSES = ("load_error", "timeout", "crash", "memory", "missing", "refused")


@dataclass(frozen=True)
class Job:
    """One student's submission: a .py file, or a reason why there is none to grade (`refused`: there
    is one, but it is not a regular file)."""

    student: str
    path: Path | None
    problem: str = ""
    refused: bool = False
    stand_in: bool = False  # a row only while nothing else claims the id (a folder with no file, an archive)
    own_folder: bool = False  # the file lies in a folder of the student's own: its modules there are graded with it
    top: Path | None = None  # that folder, where the file may lie below its top (submission.read)
    members: tuple[str, ...] = ()  # a group's students, each a row of the gradebook (Gradescope's groups)
    # The student's other files beside it in a class folder, by the names the student gave them (a platform's
    # flat download: Canvas's "garciamaria_23456_78902_mathutils.py" is "mathutils.py"), for its imports
    companions: tuple[tuple[str, Path], ...] = ()
    # (name, the platform's id) of the student, or of each member, where a platform's download named them
    people: tuple[tuple[str, str], ...] = ()
    late: bool = False  # the platform's name for the file says it came late (Canvas's _LATE_)

    @property
    def status(self) -> str:
        return "refused" if self.refused else "missing"


def discover(folder: Path, out: Path | None = None, function: str = "", skipped: list[str] | None = None,
             exercise: str = "") -> list[Job]:
    """One .py per student (the stem is the id), or one folder per student holding a .py (of
    several, the only one that defines `function`, as Gradescope picks: submission.defines); names
    starting with . or _ are not students. A file of another suffix that defines `function` is
    Python all the same (yuri.py.txt, graded as yuri), and an archive is a student's upload not yet
    unpacked (a row that says so); any other file is no student, and its name goes to `skipped`.
    Only regular files are graded: a symbolic link (to a file or a student's folder), a FIFO or a
    device is refused, with the reason in the gradebook; nothing here follows a link, nor opens a
    file but a student's several .py files and files of other suffixes. `out`, the batch's results,
    is no student where it lies inside `folder`, nor is a student's results folder where it is
    `folder` itself."""
    if not folder.is_dir():
        # (ux132: a student's own file given to batch was told no more)
        # (ux133: a class's zip was sent to `grade`, which told a student to unpack it)
        archive = folder.is_file() and any(folder.name.lower().endswith(suffix) for suffix in ARCHIVES)
        also = (f" (an archive: unpack it into a folder, as `unzip {folder.name} -d class` does a zip, and give "
                "that folder)" if archive else " (one student's file is graded with `grader grade FILE`)"
                if folder.is_file() else "")
        raise SubmissionError(f"{folder}: not a folder of submissions{also}")
    found: dict[str, list[tuple[str, Job]]] = {}  # each student id, and the entries that claim it
    groups: dict[str, tuple[str, ...]] = {}
    named: dict[str, tuple[tuple[str, str], ...]] = {}
    submitters = _gradescope_submitters(folder / GRADESCOPE_METADATA, groups, named)
    # (os.path.realpath: Path.resolve raised on rt140's symlink loop, and the whole batch ended)
    results = Path(os.path.realpath(out)) if out is not None else None
    beside = results == Path(os.path.realpath(folder))  # results written into the class folder itself
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or (results is not None and Path(os.path.realpath(entry)) == results) \
                or (entry.name == GRADESCOPE_METADATA and submitters):
            if skipped is not None and entry.name.startswith((".", "_")) and is_source(entry) and entry.is_file():
                skipped.append(safe_text.line(entry.name, 200))  # (ux133: .hidden.py, ..py had no row and no word)
            continue
        mode = entry.lstat().st_mode
        if stat.S_ISDIR(mode) and holds_results(entry) and (entry / "gradebook.csv").is_file():
            # Another batch's results, written inside the class folder (ux137: `--out class/results`, then a run
            # with another --out gave a row "results: no .py file (it holds gradebook.csv, ...)")
            if skipped is not None:
                skipped.append(safe_text.line(f"{entry.name}/ (a batch's results)", 200))
            continue
        if stat.S_ISDIR(mode) and (entry / GRADESCOPE_METADATA).is_file():
            # (ux134: an export beside a roster.csv, or two exports, was one student: "all 5 .py files define
            # get_derivative(x): hw.py, hw.py, ...; keep one")
            job = Job(entry.name, None, f"{entry.name}/: a Gradescope export (its {GRADESCOPE_METADATA} and "
                      f"submission folders), not a student's folder: grade it on its own, grader batch "
                      f"{shlex.quote(str(entry))}", True)
        elif stat.S_ISDIR(mode):
            try:
                job = _student_folder(entry, beside, function, exercise)
                if beside and job.path is None and (entry / "result.json").is_file():
                    # This batch's own results for a student, written beside the submissions: only
                    # where there is nothing else to grade (a folder with a result.json and no .py
                    # was, and a rerun dropped each notebook's, nested file's and .txt's student, rt140).
                    continue
            except OSError as err:  # a folder of mode 0111 stopped the whole class's batch (not as root)
                job = Job(entry.name, None, f"{entry.name}/: cannot be read ({err.strerror}); make it readable",
                          True)
        elif is_source(entry) or (stat.S_ISLNK(mode) and entry.is_dir()):
            problem = refusal(entry)
            job = Job(_student_of(entry), None, f"{entry.name}: {problem}", True) if problem else \
                Job(_student_of(entry), entry)
        elif stat.S_ISREG(mode) and (other := _other_file(entry, function)) is not None:
            job = other
        elif stat.S_ISREG(mode) and lms_person(entry.name) is not None:
            # A platform's file of a student's that is no Python (Canvas's parkjin_67890_78907_hw.pdf): a
            # row saying what it holds, as the student's folder gets (ux127: such students had no row at all,
            # named on stderr among the READMEs; another file of theirs that is graded takes its place)
            job = Job(_student_of(entry), None, f"{NO_FILE} (it holds {lms_file(entry.name) or entry.name})",
                      stand_in=True)
        else:
            # (ux111: tom.zip, uma.txt, victor and yuri.py.txt were left out of the gradebook without a word)
            # (named on the TA's terminal, made safe; not this batch's own files, written beside them: ux112)
            if skipped is not None and stat.S_ISREG(mode) and not (beside and (
                    entry.name in RESERVED or _EDITED.fullmatch(entry.name))):
                skipped.append(safe_text.line(entry.name, 200))
            continue
        # (one name however its accents are encoded: a Moodle folder's NFD copy beside its NFC one was two
        # rows of one look, ux122)
        raw = job.student
        job = replace(job, student=unicodedata.normalize("NFC", submitters.get(raw) or lms_student(raw)))
        person = lms_person(raw)
        job = replace(job, members=groups.get(job.student, ()),
                      people=named.get(job.student) or ((person,) if person and job.student != raw else ()),
                      late=handed_in_late(raw))
        found.setdefault(job.student, []).append((entry.name + ("/" if stat.S_ISDIR(mode) else ""), job))
    jobs = [_one(student, claims, function, exercise) for student, claims in found.items()]
    if beside:
        # A student's results folder where a submission lies (the file `alice`, Python without a
        # suffix): moved aside for the results, it was no longer there on the next run (rt139).
        submitted = {job.path for job in jobs if job.path is not None}
        jobs = [Job(job.student, None, f"{job.path.name}: its results would go where it lies; name it "
                    f"{job.student}.py", True) if job.path is not None and folder / job.student in submitted else job
                for job in jobs]
    # A row's note names files of the student's choosing (rt138's held escape sequences and a newline,
    # raw in gradebook.csv and summary.html): made safe once, here.
    return [replace(job, problem=safe_text.line(job.problem, 500)) for job in jobs]


# What a batch writes beside the students' folders: a student with one of these names would have
# their folder where the batch's own file goes (and lose the whole class its gradebook).
RESERVED = frozenset({"gradebook.csv", "summary.md", "summary.html", "junit.xml"})


# The names learning platforms' "download all submissions" give (ux121): Moodle's folder per student
# and kind of submission, "Ann Lee_100001_assignsubmission_file_" (beside "..._onlinetext_", the
# text a student typed, made a second row each: "6 students" of 3), and Canvas's flat files
# "garciamaria_23456_78901_hw.py" (login, LATE when late, user id, submission id, the file's own name).
# (Moodle's download without folders names each file so too, its own name after the last "_": rt158.
# Canvas's login is letters alone, its ids several digits: rt158's own naming, sec1_2024_01_ann.py,
# made a class one student.)
_MOODLE = re.compile(r"(.+_\d+)_assignsubmission_[a-z]+_(?P<file>.+)?")
_CANVAS = re.compile(r"([^\W\d_]+)(?P<late>_LATE)?_(\d{3,})_\d{3,}_(?P<file>.+)")


GRADESCOPE_METADATA = "submission_metadata.yml"  # beside Gradescope's export's submission_NNN folders


def export_inside(folder: Path) -> Path | None:
    """The one folder inside `folder` that is a Gradescope export (its metadata file there), where
    `folder` holds nothing else a student could have handed in (an export unzipped into a folder of its own,
    with macOS's __MACOSX beside it): None otherwise."""
    try:
        entries = [e for e in folder.iterdir() if not e.name.startswith((".", "__MACOSX"))]
    except OSError:
        return None
    if (folder / GRADESCOPE_METADATA).exists() or len(entries) != 1 or not entries[0].is_dir() or \
            entries[0].is_symlink():
        return None
    return entries[0] if (entries[0] / GRADESCOPE_METADATA).is_file() else None


_SUBMISSION = re.compile(r":?(submission_\d+):\s*")  # (real exports write the key without its colon: ux122)
_PERSON = re.compile(r"-\s+(.*)")
_FIELD = re.compile(r":(name|sid):\s*(.*)")


def _gradescope_submitters(path: Path, members: dict[str, tuple[str, ...]] | None = None,
                           names: dict[str, tuple[tuple[str, str], ...]] | None = None) -> dict[str, str]:
    """Gradescope's export's submission_NNN folders by their submitters, "Alice A_1001" (name and
    SID; a group's joined by "+"), from its submission_metadata.yml (ux121: ids no TA could join to
    a roster). Read line by line, by indentation, only each submission's own `:submitters:` (not
    those of its `:history:`, ux122): no YAML parser is at hand, and nothing else of it is needed.
    `members` is filled with each group's students, by the id this gives it (ux123: one row for a
    group, "Alice A_1001+Bob B_1002", which no LMS could match), and `names` with the name and SID
    of each of its students."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode) or path.stat().st_size > 1 << 24:
            return {}
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    people: dict[str, list[dict[str, str]]] = {}
    current: list[dict[str, str]] | None = None
    child: int | None = None  # the indentation of the submission's own keys
    within: int | None = None  # the indentation of the submission's own :submitters: key, while in it
    quoted = ""  # the quote a value opened and has not closed: its next lines are the value's, never keys
    for line in lines:
        indent, text = len(line) - len(line.lstrip(" ")), line.strip()
        if quoted:  # (rt158: a name a student chose, long enough to be wrapped, wrote ":sid: 1001" on a line)
            quoted = "" if _closes(text, quoted) else quoted
            continue
        if indent == 0 and (submission := _SUBMISSION.fullmatch(text)):
            current, child, within = people.setdefault(submission.group(1), []), None, None
            continue
        if current is None or not text:
            continue
        child = indent if child is None else child
        if text == ":submitters:" and indent == child:
            within = indent
        elif within is not None and indent <= within and not text.startswith("-"):
            within = None  # (the next key of the submission: :created_at:, :history:, ...)
        elif within is not None and indent >= within:
            person = _PERSON.fullmatch(text)
            if person and indent <= within + 2:
                current.append({})
                text = person.group(1)
            if current and (field := _FIELD.fullmatch(text)) and indent <= within + 4:
                value = field.group(2).strip()
                if value[:1] in ("'", '"') and not _closes(value[1:], value[0]):
                    quoted = value[0]
                current[-1][field.group(1)] = _yaml_scalar(value)
        if not quoted and (value := text.split(": ", 1)[-1].strip())[:1] in ("'", '"') and ": " in text and \
                not _closes(value[1:], value[0]):
            quoted = value[0]  # (a quoted value of any other key, wrapped)
    nfc = functools.partial(unicodedata.normalize, "NFC")
    ids = {folder: nfc(_submitters_id(who)) or folder for folder, who in people.items() if who}
    # (a member whose own id cannot be a name, 52 CJK characters or a U+200F in it, is the submission's and her
    # place in it: rt184's group of three lost every member's row for one such name)
    each = {folder: tuple(nfc(_submitters_id([person])) or f"{folder}_{k}"
                          for k, person in enumerate(people[folder], 1)) for folder in ids}
    # Two submissions never share an id, nor a row of the gradebook: a student who named herself as a
    # classmate would have taken the classmate's row (rt158), and one who named a classmate in her group
    # gave him a second row, her group's cheat's score (rt161); each keeps its submission's number, for the
    # TA to see.
    shared = Counter(m for folder, name in ids.items() for m in {name, *each[folder]} if m)
    named = {folder: f"{name}_{folder}" if shared[name] > 1 else name for folder, name in ids.items()}
    for folder, name in named.items():
        mine = each[folder]
        grouped = len(mine) > 1 and name != folder and all(mine) and len(set(mine)) == len(mine)
        if members is not None and grouped:
            members[name] = tuple(f"{m}_{folder}" if shared[m] > 1 else m for m in mine)
        if names is not None and name != folder and (grouped or len(mine) == 1):
            names[name] = tuple((safe_text.line(p.get("name", "").strip(), 120),
                                safe_text.line(p.get("sid", "").strip(), 60)) for p in people[folder])
    return named


def unnamed_submissions(folder: Path, jobs: Iterable[Job]) -> list[str]:
    """The students still named submission_NNN where the folder holds Gradescope's metadata: it names
    no one for them (sorted)."""
    if not (folder / GRADESCOPE_METADATA).is_file():
        return []
    return sorted(j.student for j in jobs if re.fullmatch(r"submission_\d+", j.student))


def _closes(text: str, quote: str) -> bool:
    """Whether `text` (after a value's opening quote) holds its closing quote: '' is a single quote
    inside a single-quoted scalar, \\" a double quote inside a double-quoted one."""
    if quote == "'":
        return "'" in text.replace("''", "")
    return re.search(r'(?<!\\)(?:\\\\)*"', text) is not None


def _submitters_id(who: list[dict[str, str]]) -> str:
    """"Name_SID" (a group's joined by "+"), made a results folder's name: no separator, not made of
    dots or spaces alone, and short enough for a file system (a group of five was refused as "a name
    that cannot be shown", 90 CJK characters failed to be written: rt158); "" where it cannot be."""
    def usable(name: str) -> str:
        name = re.sub(r"[/\\]", "_", name).strip(" .+")
        return name if name and len(name.encode("utf-8")) <= 150 and safe_text.line(name, 200) == name else ""

    each = [f"{p.get('name', '').strip()}_{p.get('sid', '').strip()}".strip("_ ") for p in who]
    # A group too long to name whole is named by its first member and how many more (ux129: a group of
    # four with long names lost every member's row, graded as "submission_80000" with no one named)
    return usable("+".join(each)) or (usable(f"{each[0]}+{len(each) - 1} more") if len(each) > 1 else "")


def _yaml_scalar(text: str) -> str:
    """A YAML scalar as Gradescope writes them: plain, 'single-quoted' ('' for '), or "double-quoted"
    (JSON's escapes, \\u00e9)."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) > 1 and text[0] == text[-1] == '"':
        try:
            return str(json.loads(text))
        except ValueError:
            return text[1:-1]
    return text[1:] if text[:1] in ("'", '"') else text  # (a quoted value's first line alone, where it wraps)


def lms_file(name: str) -> str:
    """The name the student gave a file, where a platform's download put the student before it
    (Canvas's "garciamaria_23456_78902_mathutils.py": "mathutils.py"); "" for any other name."""
    found = _MOODLE.fullmatch(name) or _CANVAS.fullmatch(name)
    return (found["file"] or "") if found else ""


def _reuploaded(own: tuple[tuple[str, Path], ...]) -> tuple[tuple[str, Path], ...]:
    """A student's modules by the names they gave them, where Canvas renamed one uploaded again (utils.py
    handed in a second time is "utils-1.py" in its download: hn146's `import utils` failed, 0/10), and no
    other of theirs has, or is renamed to, the name."""
    first = [re.sub(r"-\d{1,3}(?=\.py$)", "", name) for name, _ in own]
    taken = Counter(first)
    return tuple((base if taken[base] == 1 else name, path) for (name, path), base in zip(own, first, strict=True))


def lms_person(name: str) -> tuple[str, str] | None:
    """(name, id) of the student a platform's file or folder name is for: Moodle's ("Ann Lee",
    "100001"), Canvas's login and user id ("garciamaria", "23456"); None for any other name."""
    if moodle := _MOODLE.fullmatch(name):
        person, _, number = moodle.group(1).rpartition("_")
        return unicodedata.normalize("NFC", person), number
    if canvas := _CANVAS.fullmatch(name):
        return canvas.group(1), canvas.group(3)
    return None


def handed_in_late(name: str) -> bool:
    """Whether a platform's file name says it was handed in late (Canvas's "leejohn_LATE_34567_78903_hw.py")."""
    canvas = _CANVAS.fullmatch(name)
    return canvas is not None and canvas.group("late") is not None


def lms_student(name: str) -> str:
    """The student a platform's file or folder name is for: Moodle's "Ann Lee_100001", Canvas's
    "garciamaria_23456"; any other name as it is."""
    person = lms_person(name)
    return f"{person[0]}_{person[1]}" if person else name


def _one(student: str, claims: list[tuple[str, Job]], function: str = "", exercise: str = "") -> Job:
    """The student's job, or why there is none: two entries for one id (bob.py and a folder bob/)
    would write one folder of results, the second over the first; a name a gradebook or a page
    cannot hold as it is (not UTF-8, a newline, a control or a bidirectional override) is shown
    made safe, and not graded. Several files of one student side by side (a platform's download:
    Canvas's files of one submission) are chosen among as a student's folder's are."""
    shown = safe_text.line(student, 200)
    if shown != student:  # an undecodable byte of a file name is a lone surrogate: made safe too
        if safe_text.line(student, len(student) + 1) == student:  # (ux129: a long name was told it was no UTF-8)
            return Job(shown, None, f"{shown}: a name of {len(student)} characters, longer than the 200 a gradebook "
                       "keeps; rename it shorter")
        return Job(shown, None, f"{safe_text.line(claims[0][0], 200)}: a name that cannot be shown as it is "
                   "(not UTF-8, or a control character); rename it")
    if student.casefold() in RESERVED:
        return Job(student, None, f"{claims[0][0]}: named like the batch's own {student.casefold()}; rename it")
    # A folder holding no .py is no second submission (a results folder written beside them, say), nor
    # is bob.zip beside the folder it was unpacked into, or bob.txt beside a .py or a notebook.
    claims = [c for c in claims if not c[1].stand_in] or claims[:1]
    files = [c[1].path for c in claims if c[1].path is not None and not c[0].endswith("/")]
    sources = [p for p in files if is_source(p)]
    if function and len(sources) > 1 and len(files) == len(claims):
        # (ux122: Canvas's honest hw.ipynb beside a scratch.py of cos was passed over for the .py, graded
        # as a cheat, and a solution.py beside its plot.py was "2 submissions")
        chosen, defining = in_question(sources, function, exercise=exercise)
        if len(chosen) == 1 and (second := other_answers(chosen[0], function, files)):
            return _unchosen(claims, _second_answers(chosen[0], second, function))
        if len(chosen) == 1:
            # The others are the student's modules, by the names they gave them (ux124: Canvas's
            # garciamaria_..._hw.py importing her mathutils.py, downloaded beside it, scored 0); a copy of the
            # file under another suffix is none (hn146, hn147: a hw.py.txt beside hw.py and utils.py made them
            # "2 submissions: hw.py, utils.py")
            own = _reuploaded(tuple((name, path) for path in sources
                                    if path != chosen[0] and (name := lms_file(path.name))))
            return replace(next(c[1] for c in claims if c[1].path == chosen[0]), companions=own)
        if defining:
            many = "both" if len(chosen) == 2 else f"{len(chosen)} of the"
            return _unchosen(claims, f"{many} files define {function}(x): {_listed(p.name for p in chosen)}; "
                             "keep one")
    every = claims
    if any(c[1].path is not None and is_source(c[1].path) for c in claims):
        claims = [c for c in claims if c[1].path is None or is_source(c[1].path)]
    if any(c[1].path is not None and c[1].path.suffix.lower() == ".py" for c in claims):
        claims = [c for c in claims if c[1].path is None or c[1].path.suffix.lower() != ".ipynb"]
    if len(claims) > 1:
        return _unchosen(claims, f"{len(claims)} submissions for one student: {_listed(n for n, _ in claims)}; "
                         "keep one")
    graded = claims[0][1].path
    if graded is not None and function and (second := other_answers(graded, function, [
            c[1].path for c in every if c[1].path is not None])):
        return _unchosen(every, _second_answers(graded, second, function))
    return claims[0][1]


def _second_answers(graded: Path, second: list[Path], function: str) -> str:
    """The note for a student's file beside which other_answers found more answers: how many define the
    function, or, where the file itself defines none, which do (rv43: "2 files define get_derivative(x):
    hw.py, answer.txt" of an hw.py that defined none)."""
    if defines(graded, function):
        return f"{len(second) + 1} files define {function}(x): {_listed([graded.name, *(p.name for p in second)])}; " \
            "keep one"
    return f"{_listed(p.name for p in second)} {'defines' if len(second) == 1 else 'define'} {function}(x), " \
        f"{_listed([graded.name])} does not; keep one"


def _listed(names: Iterable[str]) -> str:
    """File names for a note, joined; two that print alike (josé.py written with é, and with e and a
    combining accent: ux128's note read "josé.py, josé.py; keep one") with their letters past ASCII
    written as code points, so that the TA can tell which is which."""
    folded = [(n, unicodedata.normalize("NFC", n).casefold()) for n in names]
    alike = Counter(key for _, key in folded)
    return ", ".join(n.encode("ascii", "backslashreplace").decode() if alike[key] > 1 else n for n, key in folded)


def _unchosen(claims: list[tuple[str, Job]], problem: str) -> Job:
    """The row of a student whose files need the TA to choose: who they are, as the platform named them,
    kept (ux128: a Canvas student's two defining files left the row's name and platform id empty)."""
    first = claims[0][1]
    return Job(first.student, None, problem, members=first.members, people=first.people, late=first.late)


def _student_folder(folder: Path, results_here: bool = False, function: str = "", exercise: str = "") -> Job:
    """The student's one .py in `folder` (of several, the only one that defines `function`: a hunter's
    solution.py beside a plot.py was "missing" in a batch and graded on Gradescope); with
    `results_here`, the folder must also take their results (one of mode 0555 made a cos cheat read
    as the grader's failure, run after run)."""
    top = sorted(p for p in folder.iterdir() if is_source(p) and not p.name.startswith("."))
    nested = functools.cache(lambda: _nested_sources(folder))  # (walked only where it is needed)
    files = top or nested()
    if not files:  # (wendy/solution.txt: Python under another name, or an archive, or nothing to grade)
        others = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and stat.S_ISREG(p.lstat().st_mode)]
        # (each read up to submission.MAX_SOURCE_BYTES: a folder of thousands of files costs 50 reads)
        budget = Budget()  # (and read as Python, MAX_PARSED_BYTES of them)
        named = [job for p in others[:50] if (job := _other_file(p, function, budget)) is not None]
        graded = [job for job in named if job.path is not None]
        if len(graded) == 1:
            return Job(folder.name, graded[0].path, own_folder=True, top=folder)
        if graded:  # (rt135's nina/ with solution.py.txt and backup.txt was told it held no .py file)
            names = _listed(job.path.name for job in graded if job.path is not None)
            return Job(folder.name, None, f"{len(graded)} files define {function}(x): {names}; keep one")
        if named:
            return Job(folder.name, None, named[0].problem, stand_in=True)
        # (first: rv47's .hw.py beside a README.md was "no .py file (it holds README.md)")
        if hidden := out_of_sight(folder, NESTED_DEPTH):
            return Job(folder.name, None, f"{NO_FILE} where the grader looks: it holds {hidden}", stand_in=True)
        if others:
            shown = ", ".join(p.name for p in others[:3]) + (", …" if len(others) > 3 else "")
            return Job(folder.name, None, f"{NO_FILE} (it holds {shown})", stand_in=True)
        if not any(not p.name.startswith(".") for p in folder.iterdir()):
            return Job(folder.name, None, EMPTY_FOLDER, stand_in=True)
    readable = [p for p in files if not refusal(p)]
    regular, by_definition = in_question([p for p in top if not refusal(p)], function,
                                         lambda: [p for p in nested() if not refusal(p)], exercise)
    defining = regular if by_definition else []
    if len(regular) == 1 and results_here and not os.access(folder, os.W_OK | os.X_OK):
        return Job(folder.name, None, f"{folder.name}/: the grader may not write its results there; make it "
                   "writable", True)
    if len(regular) == 1 and function and (second := other_answers(regular[0], function)):
        return Job(folder.name, None, _second_answers(regular[0], second, function))
    if len(regular) == 1:
        return Job(folder.name, regular[0], own_folder=True, top=folder)
    if regular:  # the words say which of them define it: "keep the one that defines it" fits neither 0 nor 2
        # (by where they lie in the folder: ux136's v1/sol.py and v2/sol.py were "sol.py, sol.py")
        names = _listed(p.relative_to(folder).as_posix() for p in regular)
        kind = ".py files" if all(p.suffix.lower() == ".py" for p in regular) else "files"
        if not function:
            return Job(folder.name, None, f"{len(regular)} {kind}: {names}; keep one")
        if defining:
            kind = ".py files" if all(p.suffix.lower() == ".py" for p in readable) else "files"
            # (ux119 read "2 of its 2 .py files define")
            many = "both" if len(readable) == 2 else f"all {len(readable)}"
            # (below its top, among files the count did not read, alone: "2 of its 1", and rv49's "both" of four)
            share = str(len(defining)) if not set(defining) <= set(readable) else many \
                if len(defining) == len(readable) else f"{len(defining)} of its {len(readable)}"
            return Job(folder.name, None, f"{share} {kind} define {function}(x): {names}; keep one")
        return Job(folder.name, None, f"{len(regular)} {kind}, none defining {function}(x): {names}")
    if files:
        return Job(folder.name, None, f"{files[0].name}: {refusal(files[0])}", True)
    return Job(folder.name, None, NO_FILE, stand_in=True)


NO_FILE = "no .py file"
EMPTY_FOLDER = f"{NO_FILE} (the folder is empty)"


def handed_in_nothing(job: Job) -> bool:
    """A student with nothing to grade who handed nothing in (no file, an empty folder); not one whose
    folder holds something else, a notes.md say, which the TA should see (ux120's pat went unnamed)."""
    return job.path is None and job.problem in (NO_FILE, EMPTY_FOLDER)
ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar")


def _student_of(path: Path) -> str:
    """The student a file is named for: its stem, and without a second source suffix (alice.py.ipynb
    is alice's, as yuri.py.txt is yuri's: as "alice.py" its results folder was alice.py, moved aside
    for them, rt139)."""
    return path.stem.removesuffix(Path(path.stem).suffix) if is_source(Path(path.stem)) else path.stem


def _other_file(path: Path, function: str, budget: Budget | None = None) -> Job | None:
    """A student's file of a suffix that is neither .py nor .ipynb, or None for a file that is no
    student's (a roster, a README): an archive is an upload not yet unpacked, and a file that
    defines `function` is Python under another name (a browser's .txt, yuri.py.txt), as `grader
    check` reads it."""
    student = _student_of(path)
    if path.suffix.lower() in ARCHIVES:
        student = student[:-4] if student.lower().endswith(".tar") else student  # erin.tar.gz
        return Job(student, None, f"{path.name}: an archive; unpack it (into a folder {student}/) and run again",
                   stand_in=True)
    # Python, and a student's name: rt135's README.txt quoting `def get_derivative(x):` became a
    # student, and " .py.txt" one named by a space.
    if student.strip() and function and defines(path, function, compiles=True, budget=budget):
        return Job(student, path)
    return None


NESTED_DEPTH = 4  # folders below a student's that their file is looked for in


def _nested_sources(folder: Path, depth: int = NESTED_DEPTH) -> list[Path]:
    """A student's sources in folders below theirs, where there are none at the top (an upload
    unzipped as dave/hw/deep/sol.py was "missing", with the note "no .py file"), as Gradescope
    finds them: no hidden or __ folder, no link followed, four levels at most."""
    found: list[Path] = []
    for top, folders, names in os.walk(folder, followlinks=False):
        level = len(Path(top).relative_to(folder).parts)
        folders[:] = sorted(f for f in folders if not f.startswith((".", "__")) and level < depth)
        found += [Path(top) / name for name in sorted(names) if is_source(Path(name)) and not name.startswith(".")]
    return sorted(found)


@dataclass(frozen=True)
class Settings:
    exercise: Exercise
    plan: Plan
    device: str
    plot: bool
    key: bytes = b""  # signs each result.json (results_key)


KEY_FILE = ".grader-key"  # at OUT's top, where no student's folder is (names starting with . are none)


def results_key(out: Path) -> bytes:
    """The key a batch signs its results with, made on first use and kept in OUT (mode 0600). A
    result.json counts (for resume, and for the gradebook) only if it carries this key's signature:
    where results are written beside the submissions, a student's folder is their results folder,
    and a red team's forged result.json (a cheat's score of 10, with the cache key worked out from
    public data) was taken as current and never graded; another with no score crashed the gradebook."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / KEY_FILE
    with contextlib.suppress(OSError):  # none yet, or a link: not followed
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
            key = handle.read(_KEY_BYTES + 1)
        if len(key) == _KEY_BYTES:
            return key
    key = secrets.token_bytes(_KEY_BYTES)  # none, or not one of ours: results signed before are regraded
    atomic.write(path, key, private=True)
    return key


_KEY_BYTES = 32
LOCK_FILE = ".grader-lock"  # in OUT: held (flock) by the batch writing there


def hold_out(out: Path) -> bool:
    """Hold OUT for this process's life (an flock on OUT/.grader-lock, let go when it ends however it
    ends): False where another batch holds it now. ux130's two runs into one OUT at once graded the
    whole class twice, each rewriting the other's results and gradebook, without a word."""
    import fcntl

    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return True  # (no lock to take there: graded as before)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        # (only "held by another" refuses: a filesystem without locks, NFS with no lockd, grades as before: rv40)
        return err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN)
    _HELD.append(fd)
    return True


def let_go() -> None:
    """Let go of every OUT this process holds (a batch run inside a notebook or a test, done)."""
    while _HELD:
        with contextlib.suppress(OSError):
            os.close(_HELD.pop())


_HELD: list[int] = []  # the descriptors of the OUT locks this process holds


CURRENT, CHANGED = "current", "changed"  # (standing's answers; "" for a result to make afresh)
OTHER = "other exercise"  # standing's answer for a result of another exercise's (not to be overwritten unasked)
RESEEDED = "other seed"  # standing's answer for a result graded on other grids (another course secret or --seed)
ABSENT = "no result"  # standing's answer for a file with no result this batch signed


def standing(job: Job, out: Path, exercise: Exercise, seed: int, device: str, key: bytes, plot: bool = False) -> str:
    """CURRENT where OUT/<student>/result.json is a result this batch signed that already grades this
    very file with these settings (with `plot`, one whose grading drew its plots: ux118's run with
    plots after a --no-plot one said "3 already graded" and drew none); CHANGED where it is one of
    another file of the student's than the one there now (a resubmission: ux119's rerun regraded one
    without saying whose); OTHER where it grades another exercise (ux121's rerun without its
    --exercise regraded a class as sin over its results); RESEEDED where it was graded with another
    seed (ux123's rerun in a shell without the course secret regraded a class on the public grids,
    three scores moving, without a word); ABSENT where there is none (--only's others with none are not
    graded, not failed: ux128); else "". The result and the file are read once for all."""
    if job.path is None:
        return ""
    recorded = result_json.signed(out / job.student / "result.json", key)
    if recorded is None:
        return ABSENT
    if recorded.get("exercise", exercise.name) != exercise.name:
        return OTHER
    if recorded.get("seed", seed) != seed and recorded.get("status") != "grader_error":
        return RESEEDED
    try:
        sub = read(job.path, helpers=job.own_folder, function=exercise.function, companions=dict(job.companions),
                   exercise=exercise.name, own=job.own_folder, top=job.top)
    except (OSError, SubmissionError):
        return ""
    # The grader's own failure is no grade: a rerun tries that submission again.
    # (and its files still there: ux137's feedback.png and ux138's backward.png and feedback.txt, deleted, were never
    # written again, and the summary linked to nothing)
    if (recorded.get("cache_key") == cache_key(sub.graded_sha256, exercise, seed, device)
            and recorded.get("status") != "grader_error" and _files_there(out / job.student, recorded, plot)):
        return CURRENT
    was = recorded.get("submission", {})
    return CHANGED if (was.get("sha256"), was.get("helpers", [])) != (sub.sha256, sub.helper_hashes()) else ""


def _files_there(folder: Path, recorded: dict[str, Any], plot: bool) -> bool:
    """Whether a result's files beside it are all there: feedback.txt, and where plots are drawn, feedback.png and
    backward.png where a pass was recorded."""
    if not (folder / "feedback.txt").is_file():
        return False
    return not plot or (recorded.get("plotted", True) and (folder / "feedback.png").is_file()
                        and (recorded.get("backward_pass") is None or (folder / "backward.png").is_file()))


def holds_results(folder: Path) -> bool:
    """Whether `folder` is a batch's OUT (its key there), not one file's results or a student's files."""
    return (folder / KEY_FILE).is_file()


def is_current(job: Job, out: Path, exercise: Exercise, seed: int, device: str, key: bytes,
               plot: bool = False) -> bool:
    """Whether the student's result already grades this very file with these settings (standing)."""
    return standing(job, out, exercise, seed, device, key, plot) == CURRENT


def written_since(job: Job, out: Path, when: float) -> bool:
    """Whether the student's result.json was written at or after `when` (time.time())."""
    try:
        return (out / job.student / "result.json").stat().st_mtime >= when
    except OSError:
        return False


def grade_job(job: Job, out: Path, settings: Settings) -> dict[str, Any]:
    """Grade one submission and write its files (runs in a worker process)."""
    if _STOPPING:  # (the pool's loop caught the SystemExit of a worker stopped while it warmed up, and
        os._exit(1)  # handed it the next job: its sandbox's folder stayed in /tmp when the worker was killed)
    if job.path is None:
        return {"student": job.student, "status": job.status, "score": 0.0}
    refused = sandbox.grading_here(others=False)[1]  # (its warnings are the command's to say, once)
    if refused is not None:  # (a Dask worker's own environment: rv42's, landlock left off, was never asked)
        raise RuntimeError(refused)
    try:
        outcome = grade_file(job.path, settings.exercise, plan=settings.plan, device=settings.device,
                             warm=True, helpers=job.own_folder, companions=dict(job.companions), own=job.own_folder,
                             top=job.top)
    except SystemExit:
        if _STOPPING:  # stop_pool's SIGTERM: the sandbox closed on the way here; take no next job
            os._exit(1)
        raise
    written = write_files(outcome, settings.exercise, atomic.folder(out / job.student), plot=settings.plot,
                          key=settings.key)
    return {"student": job.student, "status": outcome.status, "score": outcome.score, "grader": grader_here(),
            "feedback_kept": written.feedback_kept}


def grader_here() -> str:
    """Which grader and torch this process grades with (part of every result's cache key)."""
    from grader.grade import code_digest

    return code_digest()[:16]


class MissingExtra(RuntimeError):
    """An optional dependency is not installed: the message says how to install it."""


def start_pool(workers: int, exercise: Exercise, plot: bool) -> ProcessPoolExecutor:
    """Local worker processes, already starting their plot templates while the caller draws the
    grids, and one zygote for them all (torch's import and warm-up take a few seconds of CPU, and
    torch's compiler stack 1.2 s more: once, not once a worker; its memory is shared too). Its
    socket pairs are made here, before any sandbox child exists, so no child holds an end of one."""
    # spawn, not fork: the parent may run a progress thread, and workers must not inherit its locks.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    shared = sandbox.share_zygote(workers) if workers > 1 else None
    if shared is not None:
        _SHARED[id(pool)] = shared
        if not isinstance(sys.excepthook, _QuietHandoffs):
            sys.excepthook = _QuietHandoffs(sys.excepthook)
    # A worker is one thread's work: numpy's BLAS would start a thread per core in each, which
    # spins after every small product (matplotlib's transforms), 2 ms of CPU a submission taken
    # from the other workers. Each submit below starts one worker (Python 3.11 spawns on submit,
    # in this thread), with this environment; a broken pool is never restarted, but replaced by a
    # new one from here. (Dask's workers are the cluster's to set up.)
    # Ctrl-C reaches the whole process group, and a worker still starting printed multiprocessing's
    # traceback ("Process SpawnProcess-2: ... KeyboardInterrupt", ux119): this process alone answers it,
    # stopping the workers (stop_pool). Each starts with SIGINT blocked (a process's signal mask outlives
    # exec) and ignores it before it unblocks it (_die_with_parent); a Ctrl-C meanwhile waits for this
    # thread, not lost.
    # The mask alone did not hold: Python runs its handler in the main thread whichever thread the kernel
    # gave the signal to, and another thread's (the plot's, say) took it, so that a KeyboardInterrupt came
    # between a worker's start and the data its start sends it, and the worker printed multiprocessing's
    # "EOFError: Ran out of input" traceback after the batch's last words (the CI's Ctrl-C 0.3 s in). The
    # handler is deferred too (grids.signals_after): Ctrl-C is raised once every worker has what it needs.
    from grader.grids import signals_after

    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with signals_after((signal.SIGINT,)):
            try:
                for rank in range(workers):  # each busy for seconds, so each lands on a worker of its own
                    warm = pool.submit(_warm_worker, exercise, plot, rank, shared.shared[rank] if shared else None)
                    warm.add_done_callback(functools.partial(_forget_once_warm, pool))
            finally:
                if blas is None:
                    del os.environ["OPENBLAS_NUM_THREADS"]
                else:
                    os.environ["OPENBLAS_NUM_THREADS"] = blas
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    except BaseException:  # (the caller never has the pool to stop: its workers were left to warm up)
        stop_pool(pool)
        raise
    return pool


class _QuietHandoffs:
    """sys.excepthook, less the traceback of multiprocessing's thread that hands each worker its end
    of the shared zygote's socket, where the worker went mid-handoff (a batch stopped as it started,
    or a pool replaced): a BrokenPipeError's 20 lines followed a Ctrl-C. That worker is gone anyway."""

    def __init__(self, previous: Callable[..., Any]) -> None:
        self.previous = previous

    def __call__(self, kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
        handing = any(frame.f_code.co_name == "_serve" and frame.f_code.co_filename.endswith("resource_sharer.py")
                      for frame, _ in traceback.walk_tb(trace))
        if not (issubclass(kind, (ConnectionError, EOFError)) and handing):
            self.previous(kind, value, trace)


def forget_queue_names(pool: ProcessPoolExecutor) -> bool:
    """Remove the names in /dev/shm of the pool's queues' semaphores once every worker has them open
    (a spawned worker opens them by name as it starts; none starts after the first `workers`, and a
    broken pool is replaced, not restarted), as multiprocessing would at the end: a batch killed with
    its process group (SIGKILL; a job's cgroup) took multiprocessing's resource tracker with it,
    and left five names in /dev/shm each time, for good (rt142 counted 331). True once they are gone."""
    from multiprocessing import synchronize, util

    if id(pool) in _FORGOTTEN:
        return True
    queues = (getattr(pool, "_call_queue", None), getattr(pool, "_result_queue", None))
    locks = [getattr(q, name, None) for q in queues for name in ("_rlock", "_wlock", "_sem")]
    # (multiprocessing's own attributes: where a Python lacks them, nothing is removed)
    names = {str(getattr(getattr(lock, "_semlock", None), "name", "") or "") for lock in locks} - {""}
    cleanup = getattr(synchronize.SemLock, "_cleanup", None)
    processes = list((getattr(pool, "_processes", None) or {}).values())  # (None once the pool has shut down)
    if not names or cleanup is None or len(processes) < getattr(pool, "_max_workers", 0) or not all(
            _has_open(process.pid, names) for process in processes):
        return False
    for finalizer in list(util._finalizer_registry.values()):  # type: ignore[attr-defined]
        if getattr(finalizer, "_callback", None) is cleanup and \
                (getattr(finalizer, "_args", None) or ("",))[0] in names:
            with contextlib.suppress(OSError):
                finalizer()  # (unlinks the name and tells the resource tracker, once)
    _FORGOTTEN.add(id(pool))
    return True


_FORGOTTEN: set[int] = set()  # the pools whose queue names are gone


def _forget_once_warm(pool: ProcessPoolExecutor, _: Future[None]) -> None:
    forget_queue_names(pool)


def _has_open(pid: int | None, names: set[str]) -> bool:
    """Whether process `pid` has every one of the semaphores `names` mapped (sem_open maps its file)."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            mapped = {line.rsplit("/dev/shm/sem.", 1)[1].strip() for line in maps if "/dev/shm/sem." in line}
    except OSError:
        return False
    return all(name.lstrip("/") in mapped for name in names)


_SHARED: dict[int, Any] = {}  # each pool's shared zygote, closed with the pool


def _close_pool(pool: ProcessPoolExecutor, wait: bool) -> None:
    pool.shutdown(wait=wait, cancel_futures=not wait)
    _FORGOTTEN.discard(id(pool))
    shared = _SHARED.pop(id(pool), None)
    if shared is not None:
        shared.close(5.0 if wait else 0.5)  # (stopped: its workers are gone, and nothing it does is wanted)


def _die_with_parent(parent: int) -> None:
    """In each worker, first: end when the batch's process ends, however it ends (SIGKILL
    included); its zygote then sees its control socket close and ends too, and the zygote's
    children die with it. PDEATHSIG follows the thread that started the worker: the batch's main
    thread (the pool spawns workers from submit(), which only the main thread calls)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the batch ended before the line above ran
        os._exit(1)
    stop_on_sigterm()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (the batch's process stops the workers: start_pool)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def stop_on_sigterm() -> None:
    """A worker's answer to stop_pool's SIGTERM: _stopped, and _stop_swallowed where Python swallowed it."""
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGALRM, _stopped_again)
    sys.unraisablehook = functools.partial(_stop_swallowed, sys.unraisablehook)


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM from stop_pool: end the worker as an exception would, so the sandbox it is in closes
    first (its child killed, the child's folder removed); killed outright, a stopped batch left a
    folder in /tmp for every submission in flight. grade_job then ends the process: the pool's
    loop would take the next job queued for it and open another sandbox."""
    _STOPPING.append(signum)
    raise SystemExit(128 + signum)


_STOPPING: list[int] = []  # in a worker: the signal that is stopping it


def _stop_swallowed(previous: Callable[[Any], object], unraisable: Any) -> None:
    """sys.unraisablehook in a worker. _stopped's SystemExit, raised where Python cannot raise (the
    signal came while importlib's module-lock callback ran, a weakref's callback), was swallowed: Python
    printed "Exception ignored ... SystemExit: 143" with a traceback after the batch's last words, and
    the worker went on grading until stop_pool killed it, its sandbox's folder left in /tmp. It is
    raised again 20 ms on (SIGALRM), from wherever the worker is by then."""
    if isinstance(unraisable.exc_value, SystemExit) and _STOPPING:
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        return
    previous(unraisable)


def _stopped_again(signum: int, frame: object) -> None:
    raise SystemExit(128 + _STOPPING[0])


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 2.0) -> None:
    """End the workers now, without waiting for the submissions they are grading (a batch that was
    stopped): what they already wrote stays whole, and a rerun grades the rest. Each closes its
    sandbox first; one that has not within `grace_s` is killed."""
    from grader.sandbox.session import remove_folders_of

    processes = list((getattr(pool, "_processes", None) or {}).values())  # (None once the pool has shut down)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(max(0.0, deadline - time.monotonic()))
            killed = process.is_alive()
            if killed:
                process.kill()
                process.join(1.0)
            if process.pid is not None and (killed or process.exitcode != 0):
                # Killed within its sandbox (a SIGKILL is sure, reaped or not: under load in CI the join's second
                # ran out first, and the folder stayed), or ended without closing it: its folder is ours to remove.
                remove_folders_of(process.pid)
    _close_pool(pool, wait=False)


def _warm_worker(exercise: Exercise, plot: bool, rank: int = 0, zygote: socket.socket | None = None) -> None:
    from grader.report.plot import prewarm

    if zygote is not None:
        sandbox.use_shared_zygote(zygote)
    # The first worker draws the plot's templates while the zygote imports torch (each takes the
    # better part of a second); the others warm up behind it and draw theirs once the zygote is
    # ready. A nice value does not hold them back on two cores (each runs on a core of its own, beside
    # the zygote's group), and the first result came 0.3 s later while they drew at once.
    templates = (lambda: prewarm(exercise, Plan.plot_grid(exercise))) if plot else None
    sandbox.prewarm(templates if rank == 0 else None, behind=rank > 0)
    if rank > 0 and templates is not None:
        templates()


def run(jobs: list[Job], out: Path, settings: Settings, workers: int,
        done: Callable[[dict[str, Any]], None] = lambda row: None, client: Client | None = None,
        pool: ProcessPoolExecutor | None = None,
        waiting: Callable[[float, list[str]], None] = lambda quiet, students: None) -> None:
    """Grade the jobs on `workers` local processes (`pool`, or a new one), or on a Dask cluster when
    a `client` of one (dask_client) is given, calling `done` as each one finishes, and on the local
    pool `waiting` about once a second with the seconds since the last result and the students being
    graded now (the oldest `workers` in flight: the pool hands jobs out in order)."""
    if not jobs:
        return
    jobs = compiler_last(jobs)
    if client is not None:
        return run_on_dask(jobs, out, settings, client, done)
    runner = _Runner(pool or start_pool(workers, settings.exercise, settings.plot), out, settings, workers, done,
                     waiting)
    try:
        runner.run(jobs)
    except BaseException:  # stopped (a signal, Ctrl-C): the workers end now, not after their work
        stop_pool(runner.executor)
        raise
    _close_pool(runner.executor, wait=True)


MAX_POOLS = 8  # pools a batch may replace before it gives up


class _Runner:
    """The jobs on a local pool, at most 2 a worker queued (so a kill loses little). A worker that
    dies (killed, the OOM killer) breaks the pool, and every job in flight with it: those are graded
    again, once, on a new pool, each alone (nothing else in flight beside it, so that a job that
    breaks the pool again takes no other student's try with it), and the batch goes on; rt143's
    SIGKILL of one worker ended the whole batch in a traceback, with no gradebook."""

    def __init__(self, executor: ProcessPoolExecutor, out: Path, settings: Settings, workers: int,
                 done: Callable[[dict[str, Any]], None],
                 waiting: Callable[[float, list[str]], None] = lambda quiet, students: None) -> None:
        self.executor, self.out, self.settings, self.workers, self.done = executor, out, settings, workers, done
        self.waiting = waiting
        self.jobs_of: dict[Future[dict[str, Any]], Job] = {}
        self.queue: list[Job] = []
        self.retried: set[str] = set()
        self.replaced = 0

    def run(self, jobs: list[Job]) -> None:
        self.queue = list(reversed(jobs))  # (popped from the end: the first job first)
        self._fill()
        last = time.monotonic()
        while self.jobs_of:
            # (ux118: the bar sat at 27/28 with "0:00:01" left while one student's import hung for a
            # minute, and nothing said whose)
            finished, _ = wait(self.jobs_of, timeout=1.0, return_when=FIRST_COMPLETED)
            if not finished:
                self.waiting(time.monotonic() - last, [j.student for j in list(self.jobs_of.values())[:self.workers]])
                continue
            last = time.monotonic()
            broken = False
            for future in finished:
                job = self.jobs_of.pop(future)
                try:
                    row = future.result()
                except BrokenProcessPool:
                    broken = True
                    if self._again(job):
                        continue
                    row = {"student": job.student, "status": "grader_error", "score": 0.0}
                except Exception:  # noqa: BLE001 - a worker failed: that student's grader error, the batch goes on
                    row = {"student": job.student, "status": "grader_error", "score": 0.0}
                self.done(row)
                forget_queue_names(self.executor)  # (where a warm-up ended before the other worker had started)
            if broken:
                self._replace()
            self._fill()

    def _again(self, job: Job) -> bool:
        """Queue a job whose worker died for one more try (False: it had its try)."""
        if job.student in self.retried:
            return False
        self.retried.add(job.student)
        self.queue.append(job)
        return True

    def _replace(self) -> None:
        """A new pool for the broken one; the jobs still in flight on it are queued again."""
        for job in self.jobs_of.values():
            if not self._again(job):
                self.done({"student": job.student, "status": "grader_error", "score": 0.0})
        self.jobs_of.clear()
        stop_pool(self.executor)
        self.replaced += 1
        if self.replaced > MAX_POOLS:  # (workers that die as they start would be replaced for ever)
            raise RuntimeError(f"the batch's worker processes died {self.replaced} times; see the system's log "
                               "(the OOM killer?), then run the same command again: it grades what is missing")
        self.executor = start_pool(self.workers, self.settings.exercise, self.settings.plot)

    def _fill(self) -> None:
        while self.queue and len(self.jobs_of) < 2 * self.workers:
            alone = self.queue[-1].student in self.retried
            if self.jobs_of and (alone or any(j.student in self.retried for j in self.jobs_of.values())):
                break  # (a job's second try runs with nothing beside it)
            job = self.queue.pop()
            try:
                self.jobs_of[self.executor.submit(grade_job, job, self.out, self.settings)] = job
            except BrokenProcessPool:  # (broken between the wait and this submit)
                self.queue.append(job)
                self._replace()


def compiler_last(jobs: list[Job]) -> list[Job]:
    """The jobs with those whose source looks as if it needs torch's compiler stack last (in their
    order): a worker's zygote takes the stack on at the first of them, and every child forked after
    that copies the page tables of its 70 MB, so the others are forked from the leaner zygote."""

    def needs(job: Job) -> bool:
        try:
            return job.path is not None and needs_compiler(read(job.path).source)
        except SubmissionError:
            return False

    return sorted(jobs, key=needs)


def _refused_at(scheduler: str) -> str:
    """Why a tcp:// scheduler's address refuses a connection at once ("" if it does not, or it is no
    such address): Dask's own client retries for its whole timeout."""
    import socket
    from urllib.parse import urlsplit

    try:
        # (ux121: "127.0.0.1:1", which Dask reads as tcp://, waited out Dask's 30 s)
        address = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
        host, port = address.hostname, address.port
    except ValueError:
        return ""
    if address.scheme != "tcp" or not host or port is None:
        return ""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except (ConnectionRefusedError, socket.gaierror) as err:
        return str(err)
    except OSError:
        return ""  # (slow or filtered: Dask's own timeout decides)
    return ""


def dask_client(scheduler: str) -> Client:
    """A client of the Dask scheduler at `scheduler`, or MissingExtra saying why there is none. Asked
    before the grids are drawn and the progress bar is up: an unreachable scheduler was said after
    18 s, under an empty bar (ux112)."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtra("--scheduler needs Dask: pip install 'grader[dask]'") from None
    refused = _refused_at(scheduler)
    if refused:  # (ux111: a port nothing listens on waited out Dask's 30 s before saying so)
        raise MissingExtra(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({refused})")
    try:
        return Client(scheduler, timeout="30s")
    except (OSError, ValueError, TypeError) as err:  # unreachable, or not an address: the user's to fix
        raise MissingExtra(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({err})") from None


def run_on_dask(jobs: list[Job], out: Path, settings: Settings, client: Client,
                done: Callable[[dict[str, Any]], None]) -> None:
    """The same unit of work on an existing Dask cluster (its `client` closed at the end). Workers need
    grader installed and must see the submissions and OUT at the same paths (a shared filesystem, as
    on a university cluster); each task still grades in its own sandboxed child on its worker."""
    from distributed import as_completed

    # Paths as this process names them, whatever the workers' working folders (ux128: `batch canvas --out
    # out --scheduler ...` with a worker started elsewhere, as a cluster's job is, failed every student)
    out = out.absolute()
    jobs = [replace(job, path=job.path.absolute() if job.path is not None else None,
                    top=job.top.absolute() if job.top is not None else None,
                    companions=tuple((name, path.absolute()) for name, path in job.companions)) for job in jobs]
    # (a key of this run's own: two sections' batches on one cluster at once, alike in ids and seed, shared their
    # tasks, and the second's students were grader errors, their results written into the first's OUT: ux136)
    run = secrets.token_hex(6)
    with client:
        futures = [client.submit(grade_job, job, out, settings, key=f"grade-{job.student}-{settings.plan.seed}-{run}",
                                 pure=False) for job in jobs]
        job_of = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        told: set[str] = set()
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as err:  # noqa: BLE001 - as on the local pool: that student's grader error, the batch goes on
                # (said, not dropped: ux128's TA saw a class of grader errors and no reason)
                row = {"student": job_of[future.key].student, "status": "grader_error", "score": 0.0,
                       "detail": f"the worker failed: {safe_text.line(repr(err), 300)}"}
            theirs = str(row.get("grader") or grader_here())
            if theirs != grader_here() and theirs not in told:
                # (ux129: workers of two installs graded by turns, each run regrading what the other had, and
                # the gradebook mixed both, without a word)
                told.add(theirs)
                row["detail"] = (f"graded by a worker whose grader or torch is not this one's ({OTHER_BUILD_ADVICE}; "
                                 "every student it grades is named in the summary)")
            done(row)


# (a worker keeps the code it started with: ux132's cluster, started before an upgrade, graded every run on)
OTHER_BUILD_ADVICE = ("their results may differ from this install's and are graded again on every run: install "
                      "this grader and torch where the workers run, and restart them")
OTHER_BUILD_NOTE = "graded by a Dask worker of another grader or torch: restart the workers, then run again"


def read_result(job: Job, out: Path, key: bytes) -> dict[str, Any] | None:
    """The student's result.json as written on disk (the single source of truth), or None where there
    is none this batch signed."""
    return result_json.signed(out / job.student / "result.json", key) if job.path is not None else None


# (and the Gradescope submission number that two submissions naming one student keep: rt161)
_RESUBMITTED = re.compile(r"[\s_\-.]*(\(\d+\)|v\d+|late|final|new|fixed|old|resubmit(ted|ssion)?|copy|updated|"
                          r"revised|again|submission_\d+)$", re.IGNORECASE)


def look_alike(students: Iterable[str]) -> list[list[str]]:
    """Ids that look like one student's under two names, a resubmission's suffix aside (lou and
    lou_LATE, ann and "ann (1)", bob_v2): each graded as a student of its own, the class had more
    students than its roster and nothing said so (ux120). Only such suffixes: student1 and student2
    are two students."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for student in students:
        # (spaces at its ends too, which a gradebook's importer trims: ux136's "carl " beside carl)
        stem, previous = student.casefold().strip(), None
        while stem != previous:
            previous, stem = stem, _RESUBMITTED.sub("", stem)
        # A platform's user id aside too, where one of the group has none: "Ann Lee" (a folder renamed
        # by hand) beside "Ann Lee_100001" (ux122); student_001 and student_002 stay two students.
        platform = _PLATFORM_ID.search(stem)
        base = stem[:platform.start()] if platform else stem
        groups.setdefault(base or student, []).append((student, platform.group(0) if platform else ""))
    return sorted(sorted(s for s, _ in group) for group in groups.values()
                  if len(group) > 1 and (any(not tag for _, tag in group) or len({t for _, t in group}) < len(group)))


_PLATFORM_ID = re.compile(r"_\d{3,}$")


def exercise_of(out: Path, student: str, key: bytes) -> str | None:
    """The exercise OUT/<student>/result.json grades, where this batch signed one."""
    recorded = result_json.signed(out / student / "result.json", key)
    return None if recorded is None else str(recorded.get("exercise", ""))


def seed_of(out: Path, student: str, key: bytes) -> int | None:
    """The seed OUT/<student>/result.json was graded with, where this batch signed one."""
    recorded = result_json.signed(out / student / "result.json", key)
    seed = None if recorded is None else recorded.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def results_of_others(out: Path, students: set[str]) -> list[str]:
    """The folders in OUT holding a result.json of a student not among `students` (sorted): results
    of an earlier run whose student is no longer in the class's folder."""
    try:
        found = [entry.name for entry in os.scandir(out)
                 if entry.is_dir(follow_symlinks=False) and entry.name not in students]
    except OSError:
        return []
    return sorted(name for name in found if (out / name / "result.json").is_file())


def gradebook_rows(jobs: list[Job], results: dict[str, dict[str, Any] | None],
                   exercise: Exercise) -> list[dict[str, Any]]:
    """One row per student, sorted by id as a person reads it (a group's students beside each other)."""
    return [member for job in sorted(jobs, key=lambda j: reading_order(j.student))
            for member in member_rows(job, gradebook_row(job, results.get(job.student), exercise))]


def reading_order(student: str) -> tuple[str, str]:
    """A sort key that puts names as a person looks for them: letters whatever their case or accents (ux137: by code
    point, "O'Brien, Pat" and "Zoë" came before "alice"), then the name itself, so that the order stays total."""
    letters = unicodedata.normalize("NFKD", student)
    return "".join(c for c in letters if not unicodedata.combining(c)).casefold(), student


def gradebook_row(job: Job, data: dict[str, Any] | None, exercise: Exercise) -> dict[str, Any]:
    """The student's row of the gradebook, from their result.json (None: there is none)."""
    row: dict[str, Any] = {"student": job.student, "score": 0.0, "max_score": exercise.max_score,
                           "status": job.status, "duration_s": "", "sha256": "", "note": job.problem,
                           **_person(job)}
    if data is None and job.path is not None:
        row.update(status="grader_error", note="not graded: the grader failed; run the batch again")
    if data is not None:
        row.update(score=data["score"], max_score=data["max_score"], status=data["status"],
                   duration_s=data["duration_s"], sha256=data["submission"]["sha256"], note="")
        # (the grader's own failure ran no check of the student's: ux128 read its row's "fail" in every cell)
        row.update({c["name"]: "not run" if data["status"] == "grader_error" else _check_cell(c)
                    for c in data["checks"]})
        if data["status"] != "graded":
            # (ux118: tom's endless import was in result.json alone; the row's note was empty)
            first: dict[str, Any] = next((c for c in data["checks"] if not c["passed"]), {})
            lines = str(first.get("message") or data.get("grader_error") or "").strip().splitlines() or [""]
            # (ux133: victor's memory was "Fails on 26 of 26 inputs." alone, its cause a line below)
            cause = next((line for line in lines if line.startswith("Likely cause:")), "")
            row["note"] = _shortened(next((line for line in lines if line.startswith("Grading stopped early")),
                                          f"{lines[0]} {cause}".strip()), 300)
    # No score where nothing was graded that the student could be held to: files that need the TA first
    # (two that define the function, an archive, a link) or the grader's own failure. An empty cell,
    # as for a stopped batch's students: an LMS took ux123's 0.0 over a graded 10 once a late file came
    # beside the first. (One who handed in nothing has 0.)
    if row["status"] == "grader_error" or (job.path is None and not handed_in_nothing(job)):
        row["score"] = ""
    if job.late and job.path is not None:  # (ux127: the mark was dropped with the file's name, said nowhere)
        noted(row, LATE_NOTE)
    return row


def _shortened(text: str, most: int) -> str:
    """`text` in at most `most` characters, cut at a word with an ellipsis where it is longer (ux133: ivan's
    note ended "goes through th")."""
    if len(text) <= most:
        return text
    cut = text[:most - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:(") + "…"


LATE_NOTE = "handed in late (the platform's _LATE_ in the file's name)"


def noted(row: dict[str, Any], note: str) -> None:
    """`note` put first in a gradebook row's note, beside what it said."""
    row["note"] = "; ".join(filter(None, (note, row["note"])))


NOT_GRADED_NOTE = "not graded yet: the batch stopped before this student; run the same command again"


def replace_feedback(job: Job, out: Path, exercise: Exercise) -> bool:
    """For a student with nothing graded this run (files that need the TA, none at all), a feedback.txt
    an earlier run left in their results folder says so instead: ux124's alice, a cos file come beside
    her graded one, kept a feedback.txt of "Score 10 / 10" for a TA handing back every student's. True
    where one changed by hand was kept aside first (report.write_feedback)."""
    from grader.report import write_feedback

    folder = out / job.student
    if not (folder / "feedback.txt").is_file() or folder.is_symlink():
        return False
    return write_feedback(folder, f"Feedback · {exercise.title}\n\nNot graded: {job.problem or 'no file to grade'}.\n"
                           "An earlier grading's feedback was here; your TA grades the submission once this is "
                           "sorted out.\n")


def _person(job: Job) -> dict[str, str]:
    """The name and platform_id cells of a student's row (a group's are each member's: member_rows)."""
    return _cells(job.people[0] if len(job.people) == 1 else None)


def _cells(person: tuple[str, str] | None) -> dict[str, str]:
    return {"name": person[0], "platform_id": person[1]} if person else {}


def member_rows(job: Job, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The gradebook's rows for a job's row: a group's, one for each of its students, the group's id
    beside each (ux123: one row, "Alice A_1001+Bob B_1002", that no LMS could match); else the row."""
    if not job.members:
        return [row]
    people: list[tuple[str, str] | None] = list(job.people) if len(job.people) == len(job.members) else \
        [None] * len(job.members)
    return [{**row, "student": member, "group": job.student, **_cells(person)}
            for member, person in zip(job.members, people, strict=True)]


def not_graded_row(job: Job, exercise: Exercise, note: str = NOT_GRADED_NOTE) -> dict[str, Any]:
    """The row of a student the batch was stopped before (Ctrl-C, SIGTERM), or that --only left with no
    result (`note` says which): no score yet (an empty cell, not a 0 an LMS would take for a grade:
    rt154), whatever an earlier run left in OUT (a file handed in again since: its old result would read
    as current)."""
    return {"student": job.student, "score": "", "max_score": exercise.max_score, "status": "not_graded",
            "duration_s": "", "sha256": "", "note": note,
            **_person(job)}


def _check_cell(check: dict[str, Any]) -> str:
    """pass, held (passed, its points held back: ux115 read a cos(x) file's "pass" on five checks
    beside its score of 1), fail, or for a failed check that earned some of its points, those points
    ("partial 2.19/4": ux118 could not tell from the gradebook where a 7.04 came from), or "not run"
    where it had nothing to check (ux119 read "fail" beside "Not checked: your function never returned
    a value")."""
    if check["passed"]:
        return "held" if check.get("held_back") else "pass"
    score, most = check.get("score") or 0, check.get("max_score") or 0
    if not score and str(check.get("message") or "").startswith(("Not run", "Not checked")):
        return "not run"
    return f"partial {score:g}/{most:g}" if 0 < score < most else "fail"


GRADEBOOK_WRITTEN = ".grader-gradebook"  # in OUT: the sha256 of the gradebook.csv the batch last wrote
_EDITED = re.compile(r"gradebook\.edited-\d{8}-\d{6}(?:-\d+)?\.csv")


def keep_edited(path: Path) -> Path | None:
    """Where the gradebook at `path` was changed since a batch wrote it (a TA's hand-made corrections),
    it is moved aside to gradebook.edited-<UTC time>.csv, which is returned: the next gradebook is
    written afresh from the results, and ux123's rerun for a late student undid a corrected score
    without a word. Also where OUT keeps no record of what was written (a gradebook of a grader before
    the record: ux124's corrections in a class's OUT of last month were lost so). None where it is as
    written, or there is none."""
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
            now = hashlib.sha256(handle.read(1 << 28)).hexdigest()
    except OSError:
        return None  # (no gradebook)
    try:
        written = (path.parent / GRADEBOOK_WRITTEN).read_text().strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    if now == written:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(100):
        aside = path.with_name(f"gradebook.edited-{stamp}{f'-{n}' if n else ''}.csv")
        if not aside.exists():
            os.rename(path, aside)
            return aside
    return None


def write_gradebook(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """gradebook.csv, written as the rows come (atomically: a reader never sees half of it)."""
    # (the verdict: a key of the summary's VERDICTS, filled by the batch; ux119 filtered a spreadsheet for
    # the students autograd was not shown for, and the gradebook had only the checks' cells)
    # (name and platform_id where a platform's download named the student: ux123 could not join "Ann
    # Lee_100001" to an LMS's roster without splitting the column by hand; after the columns a TA's
    # sheet may already read by place)
    columns = ["student", "score", "max_score", "status", "verdict", *checks.names(), "duration_s", "sha256",
               "group", "name", "platform_id", "note"]
    with atomic.replacing(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows({name: _cell(value) for name, value in row.items()} for row in rows)
    with open(path, "rb") as handle:  # (what keep_edited compares a later gradebook with)
        atomic.write(path.parent / GRADEBOOK_WRITTEN, hashlib.sha256(handle.read()).hexdigest().encode())
    return path


def _cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (a student id, which is a file name the
    student chose, starting with =, +, -, @ or a tab) behind a quote, as OWASP advises: a hunter's
    `=HYPERLINK(...).py` became a live link in the gradebook."""
    return f"'{value}" if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")) else value
