"""summary.md and summary.html for a batch: the roster, the score histogram, each check's pass rate,
verdict counts, the most common hints, the students to look at (autograd not shown, or something the
sandbox recorded), and groups of identical submissions (same code once comments and whitespace are
dropped). This module turns the results into data and markdown; summary_html.py draws the page."""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import cell_syntax, checks
from grader.canary import is_secret_route
from grader.report import atomic
from grader.submission import SubmissionError, is_blank, read

VERDICTS = (
    ("missing", "no one file to grade (none, several, or not Python: see the note in gradebook.csv)"),
    ("refused", "file refused (a symbolic link, FIFO or device)"),
    ("not_graded", "not graded yet (the batch was stopped before them, or --only named others: run the batch "
                   "again, without --only)"),
    ("grader_error", "grader error (not the student's fault)"),
    ("load_error", "did not load"),
    ("timeout", "timed out"),
    ("crash", "crashed"),
    ("memory", "ran out of memory"),
    ("other", "for another exercise (its function, or its answer: see above)"),
    ("unproven", "autograd not shown (cos, a mixture, answers kept from earlier calls, or a check that failed "
                 "under the canary)"),
    ("unjudged", "no values to judge (an error, None or another type on every input)"),
    ("full", "full marks"),
    ("wrong", "wrong values or errors"),  # (all of it on the badge: a file that raised read "wrong values", ux115)
    # (apart from wrong: hn130's honest jacobian and vmap files, 8.7 to 9.5 for raising on torch.tensor([]) alone,
    # stood among a TA's wrong answers)
    ("empty", "right values, but fails on empty inputs"),
    ("partial", "right values, other checks failed"),
)


_NOT_RUN = ("missing", "refused", "grader_error", "not_graded")
# The correctness check's causes where every input it failed on was empty (checks.py names them so)
EMPTY_CAUSES = ("empty_raised", "empty_unrecorded")


# A student's files the roster links to, when they exist
LINKED = ("feedback.png", "backward.png", "feedback.txt", "result.json")


@dataclass(frozen=True)
class Student:
    """One row of the roster."""

    student: str
    score: float
    max_score: float
    status: str
    verdict: str  # a key of VERDICTS
    note: str  # why there was nothing to grade (missing, refused), else ""
    files: tuple[str, ...]  # those of LINKED written in OUT/<student>/ by this batch
    scored: bool = True  # False where gradebook.csv's score is empty (not graded yet, files that need the TA)


@dataclass(frozen=True)
class Flag:
    """A student a TA should look at, with the evidence."""

    student: str
    unproven: str  # the autograd check's verdict when autograd was not shown, else ""
    events: tuple[str, ...]  # what the sandbox recorded for review
    by_hand: str = ""  # how the backward pass left part of the derivative to a formula (backward._by_hand), else ""


@dataclass(frozen=True)
class Summary:
    exercise: str
    max_score: float
    roster: list[Student]  # sorted by student
    verdicts: Counter[str]
    check_rates: list[tuple[str, int, int]]  # (check, students who passed it, students with a result)
    hints: list[tuple[str, int]]
    identical: list[list[str]]
    look: list[Flag]
    passes: list[tuple[str, int]] = field(default_factory=list)  # how passes differed from the reference's
    elsewhere: list[tuple[str, int]] = field(default_factory=list)  # another exercise's answer: (its name, students)
    more_hints: int = 0  # the other hints, no more students each, past the most common ones listed
    more_passes: int = 0  # the same for the ways passes differed
    needs: list[str] = field(default_factory=list)  # what the batch said needs the TA (several files, look-alikes...)
    people: int = 0  # the students the roster's submissions are of (a Gradescope group's each): 0, one each
    only: bool = False  # the not graded are those --only left with no result, not a stopped batch's
    forced: bool = False  # the batch stopped was a --force one, which the same command would start over
    kept: int = 0  # students a stopped --force or --only did not grade again: their last results, for the same files

    def headcount(self) -> tuple[str, str]:
        """How many the roster is of, in words: "27 students", or "4 submissions (5 students)" where a
        group's submission is one (ux126: the summary's "4 students" beside a gradebook of 5)."""
        n = len(self.roster)
        if self.people in (0, n):
            return str(n), "students"
        return str(n), f"submissions ({self.people} students)"

    @property
    def counting(self) -> str:
        """What the tables' counts count: "students", or "submissions" where a group's submission is one (ux137: a
        column headed "students" counted 4 submissions of 5 students)."""
        return "students" if self.people in (0, len(self.roster)) else "submissions"

    @property
    def scores(self) -> list[float]:
        """The students' scores, those with none left out (an empty cell in gradebook.csv: not graded yet,
        files that need the TA, the grader's failure): a 0 for each in a stopped batch's histogram and mean
        read as a class that failed (ux120), and ux124's summary counted a student whose files need the TA
        as 0 where the gradebook has no score."""
        return [s.score for s in self.roster if s.scored]

    def counted(self) -> str:
        """What the mean is over, where the batch was stopped before some students ("" where not)."""
        n = len(self.scores)
        return f" over the {n} with a score" if n < len(self.roster) else ""


def verdict(row: dict[str, Any], result: dict[str, Any] | None) -> str:
    if result is not None and row["status"] in ("graded", "load_error") and other_exercise(result) and \
            result["score"] < result["max_score"]:
        # (counted apart, not as "autograd not shown", a cheat's words: ux113's honest cos_square file;
        # nor as "did not load", a file that defines only get_gradient: rt143)
        return "other"
    if result is None or row["status"] in (*_NOT_RUN, "load_error", "timeout", "crash", "memory"):
        return str(row["status"])
    if _autograd(result).get("details", {}).get("unproven") and not _slip(result):
        return "unproven" if _judged(result) else "unjudged"
    if result["score"] >= result["max_score"]:
        return "full"
    correctness = next(c for c in result["checks"] if c["name"] == "correctness")
    if correctness["passed"]:
        return "partial"
    return "empty" if correctness.get("details", {}).get("cause") in EMPTY_CAUSES else "wrong"


def build(rows: list[dict[str, Any]], results: dict[str, dict[str, Any] | None], sources: dict[str, Path],
          exercise: str, max_score: float, out: Path | None = None) -> Summary:
    """From the gradebook's rows (sorted by student) and each student's result.json; `out` is where
    they were written, so that the roster links only to files that are there."""
    tally = Tally(exercise, max_score, out)
    for row in rows:
        tally.add(row, results.get(row["student"]))
    return tally.summary(sources)


class Tally:
    """The summary built one student at a time (add each gradebook row, sorted by student, with its
    result.json), keeping only what the summary shows of each: a batch of thousands never holds
    their results, only a roster line each."""

    def __init__(self, exercise: str, max_score: float, out: Path | None = None) -> None:
        self.exercise, self.max_score, self.out = exercise, max_score, out
        self.roster: list[Student] = []
        self.look: list[Flag] = []
        self.hints: Counter[str] = Counter()
        self.passed: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.passes: Counter[str] = Counter()  # how backward passes differed from the reference's, by mistake
        self.grader_errors = 0  # students the grader itself failed on
        self.elsewhere: Counter[str] = Counter()  # students whose values are another exercise's answer, by it
        self.people = 0  # the students of the submissions added (a group's each)

    def add(self, row: dict[str, Any], result: dict[str, Any] | None, people: int = 1) -> None:
        """`people`: the students the submission is of (a Gradescope group's)."""
        self.roster.append(_student(row, result, self.out))
        self.people += people
        self.grader_errors += row.get("status") == "grader_error"
        named = {_hint(check) for check in (result or {}).get("checks", []) if not check["passed"]}
        self.hints.update(hint for hint in named if hint)  # each cause once per student
        if divergence := ((result or {}).get("backward_pass") or {}).get("divergence"):
            self.passes[_gist(str(divergence))] += 1
        other = other_exercise(result)
        if other:
            self.elsewhere[other] += 1
        if result is not None and (flag := _flag(row["student"], result, bool(other))):
            self.look.append(flag)
        for check in (result or {}).get("checks", []):
            self.seen[check["name"]] += 1
            self.passed[check["name"]] += bool(check["passed"])

    def summary(self, sources: dict[str, Path], with_helpers: Mapping[str, Mapping[str, Path] | None] | None = None,
                function: str = "") -> Summary:
        """`with_helpers`: the students whose modules beside their file were graded with it (a folder of
        their own; their files by their own names in a platform's flat download), which a copy is judged
        with (`function`: the exercise's)."""
        verdicts = Counter(s.verdict for s in self.roster)
        return Summary(self.exercise, self.max_score, self.roster, verdicts, self._check_rates(),
                       self.hints.most_common(HINTS), _identical(sources, with_helpers, function), self.look,
                       self.passes.most_common(HINTS),
                       self.elsewhere.most_common(), max(0, len(self.hints) - HINTS),
                       max(0, len(self.passes) - HINTS), people=self.people)

    def _check_rates(self) -> list[tuple[str, int, int]]:
        """How many students with a result passed each check, in the order the checks run."""
        order = [name for name in checks.names() if name in self.seen] + sorted(set(self.seen) - set(checks.names()))
        return [(name, self.passed[name], self.seen[name]) for name in order]


def _gist(divergence: str) -> str:
    """A divergence without the numbers of one student's sample ("Your graph has no PowBackward0"),
    so that students who made the same mistake count together."""
    return divergence.split(": ")[0].split(" (")[0].rstrip(".") + "."


def _student(row: dict[str, Any], result: dict[str, Any] | None, out: Path | None) -> Student:
    folder = out / row["student"] if out is not None and result is not None else None
    files = tuple(name for name in LINKED if folder is not None and (folder / name).is_file())
    return Student(row["student"], float(row["score"] or 0.0), float(row["max_score"]), str(row["status"]),
                   verdict(row, result), str(row.get("note") or ""), files, scored=row["score"] != "")


def _autograd(result: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in result.get("checks", []) if c["name"] == "autograd"), {})


def _judged(result: dict[str, Any]) -> bool:
    """Whether the autograd check judged any input: a function that raised, or returned None or a
    tuple of several values, on every input showed nothing either way, and is no suspect (an honest torch error on
    every call was listed among the cheats)."""
    return bool(_autograd(result).get("details", {}).get("verdicts"))


def other_exercise(result: dict[str, Any] | None) -> str:
    """The exercise a student's file is for, where a check named one (checks.py): correctness, whose
    values are its answer, or loads, whose file defines its function alone (ux112: a class of
    get_gradient files graded without --exercise was all zeros, without a word)."""
    named = ((c.get("details") or {}).get("other_exercise") for c in (result or {}).get("checks", [])
             if c["name"] in ("loads", "correctness"))
    return str(next((name for name in named if name), ""))


def _slip(result: dict[str, Any]) -> bool:
    """Whether correctness failed on values that are a wrong answer's, not a formula's: fewer than a
    quarter of the plain inputs where autograd was not shown had mostly right answers
    (checks._right_share), or a gradient of autograd's that accumulates between calls, whatever its
    share (its first answer on each shape is right; repeatable names it). ux112's honest autograd of sin(2x),
    x·sin(x/2)... was listed among the suspects beside cos(x), and ux117's sin(x·x), sin(x + 1) and
    a global leaf never zeroed: a file that wins nothing there (1 point of 10) is no suspect. A
    formula right where a student would look (rt149: every plain input of up to 2-d), or right but
    for one element (rt145), stays one, as does a file that used no autograd at all (torch.gradient's
    numbers, wrong everywhere). Only where the score held everything back beyond the `loads` point:
    under a rubric with `zero_total_unless_autograd = false` a formula wrong on plain inputs and
    right on tracked ones kept 6 of 10 (rt149), and this list is then the only guard."""
    checks = {c["name"]: c for c in result.get("checks", [])}
    correctness = checks.get("correctness", {})
    if correctness.get("passed", True):
        return False
    if any(float(c.get("score") or 0.0) > 0 for name, c in checks.items() if name != "loads"):
        return False
    details = _autograd(result).get("details", {})
    if details.get("used_autograd") is False:
        return False  # (torch.gradient's numerical derivative, wrong on every input, is no slip of autograd's)
    if (checks.get("repeatable", {}).get("details") or {}).get("cause") == "accumulation" and \
            not details.get("telltales"):
        # (autograd's own slip, whatever its share: right on each shape's first call, its share of right answers
        # follows the order of the calls and the secret's draw, about a half, and hn153's cached leaf was listed
        # on one run and not on the next; not where the source calls a telltale, cos for sin: hn154's cos on each
        # shape's first call, autograd's accumulating after)
        return True
    share = details.get("unproven_right_share")
    if share is not None:
        return bool(share < 0.25)
    if details.get("unproven_right"):  # (a result.json from before the share was counted)
        return False  # (right values without autograd somewhere: a formula's, whatever the smallest failure was)
    # (zeros wherever it failed: a gradient zeroed before it was returned, hn132's `g = t.grad; t.grad.zero_()`,
    # judged on the one input where the truth is 0 and listed among the suspects)
    found = correctness.get("details") or {}
    return bool(found.get("slip")) or found.get("cause") == "zeros"


def _flag(student: str, result: dict[str, Any], elsewhere: bool = False) -> Flag | None:
    """Autograd not shown on inputs it judged (its message's first sentence is the evidence), or
    sandbox events that are ways towards the canary's secret (matplotlib trying to run fc-list is not
    worth a TA's look). Not the first for values that are another exercise's answer: a batch of
    cos_square files graded as sin listed every honest student among the suspects (ux111)."""
    autograd = _autograd(result)
    unproven = ""
    if autograd.get("details", {}).get("unproven") and _judged(result) and not elsewhere and not _slip(result):
        first = (autograd.get("message") or "").strip().splitlines()[:1] or ["(no message)"]
        unproven = first[0].split(". ")[0].rstrip(".") + "."
    events = tuple(e for e in (result.get("sandbox") or {}).get("events") or () if is_secret_route(str(e)))
    # The canary proves the primitive's derivative alone: a chain finished by hand shows only in the pass
    # (rt155's cos(x²) files scored 10/10 "full", and none was listed).
    recorded = result.get("backward_pass") or {}
    by_hand = str(recorded.get("divergence") or "").split(": ")[0] + "." if recorded.get("by_hand") is True else ""
    return Flag(student, unproven, events, by_hand) if unproven or events or by_hand else None


HINTS = 8  # the most common hints (and ways passes differed) listed; how many others there are is said


def more(count: int, what: str) -> str:
    """The line for what a table leaves out: "(and 3 other hints, each given to no more students than the
    last above)" (not "fewer": ux118's ninth hint had one student, as all eight shown did)."""
    return f"(and {count} other {what}{'s' if count != 1 else ''}, each {'given to' if what == 'hint' else 'of'} " \
        "no more students than the last above)"


def _hint(check: dict[str, Any]) -> str:
    """The likely cause a check named, if it named one ("Not run" and bare counts are no hints): its
    "Likely cause:" line, or else the line before its advice, where a cause says what is wrong in its
    own words (ux115: the tuple's and the numpy array's "Your function must return a torch tensor"
    were never counted)."""
    lines = check["message"].splitlines()
    cause = next((line for line in lines if line.startswith("Likely cause:")), "")
    if cause:
        return cause.removeprefix("Likely cause: ")
    advice = next((i for i, line in enumerate(lines) if line.startswith("What to do:")), None)
    before = lines[advice - 1] if advice is not None and advice >= 2 else ""
    return before if before.startswith(("Your function must", "Your function raised")) else ""


def normalised(source: bytes) -> str:
    """The code with comments, blank lines and spacing removed; unparsable files hash as they are.
    Read as UTF-8 with anything else replaced: a byte that is no UTF-8 in a comment (which Python
    compiles) sent a copy to the raw fallback, comments and all, and out of its group (a red team's)."""
    try:
        text = source.decode("utf-8-sig", "replace")
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        # A line's end and an indent as their kind, not their text: copies that differ only in CRLF
        # line ends or tabs for spaces were not found identical (a hunter's).
        shown = {tokenize.NEWLINE: "\n", tokenize.INDENT: "\t"}
        kept = [shown.get(t.type, t.string) for t in tokens
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING)]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return source.decode("utf-8", "replace")
    return " ".join(kept)


def _identical(sources: dict[str, Path], with_helpers: Mapping[str, Mapping[str, Path] | None] | None = None,
               function: str = "") -> list[list[str]]:
    """Groups of students whose submissions are the same once comments, blank lines and indentation
    are set aside: the file, and the modules beside it that were graded with it (rt162: two students
    with one course template as their file, each with work of their own in a helper, were listed)."""
    groups: dict[str, list[str]] = defaultdict(list)
    helpers = with_helpers or {}
    for student, path in sorted(sources.items()):
        try:
            # a regular file only, as when it was graded
            sub = read(path, helpers=student in helpers, function=function, companions=dict(helpers.get(student) or {}))
        except SubmissionError:
            continue
        source = sub.source
        if is_blank(source):  # (two empty files are no copying: ux113's empty.py and justcomment.py)
            continue
        if path.suffix.lower() == ".ipynb":
            source = cell_syntax.as_written(source.decode("utf-8", "replace")).encode()
        whole = hashlib.sha256(normalised(source).encode())
        for name, data in sub.helpers:
            whole.update(f"\0{name}\0{normalised(data)}".encode("utf-8", "surrogateescape"))
        groups[whole.hexdigest()].append(student)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def bins(summary: Summary) -> list[tuple[str, int]]:
    top = summary.max_score or 1.0
    edges = [top * i / 10 for i in range(11)]
    counts = [0] * 10
    for score in summary.scores:
        counts[min(9, int(score / top * 10))] += 1
    return [(f"{edges[i]:g}–{edges[i + 1]:g}", counts[i]) for i in range(10)]


def graded_apart(summary: Summary) -> tuple[int, float] | None:
    """How many students had a file the grader ran (whatever its status: a load error or a timeout
    is a result) and their mean, where some did not: the class's mean counts a student with nothing to
    grade as 0 and the checks' table counts only those run (ux113 read two denominators for one class;
    ux118 read "26 graded" beside 20 rows of status `graded`)."""
    graded = [s.score for s in summary.roster if s.verdict not in _NOT_RUN]
    return (len(graded), sum(graded) / len(graded)) if graded and len(graded) < len(summary.scores) else None


def stopped(summary: Summary) -> str:
    """The line that says the batch was stopped before some students ("" where it was not): a summary
    of part of the class must not read as the whole of it (ux119 took a stopped batch's old files for
    its result)."""
    count = summary.verdicts["not_graded"]
    if count and summary.only:  # (ux128: --only's classmates with no result were the grader's errors)
        return (f"{count} of {len(summary.roster)} students have no result yet: --only named others (status "
                "not_graded, no score in gradebook.csv, left out of the figures here); run the batch without --only "
                "to grade them.")
    again = "run it again without --force to grade them (with it, every student is graded again)" if summary.forced \
        else "run the same command again to grade them"
    # (ux135: a stopped --force that kept 18 students' last results said nothing of it here)
    kept = (f"The batch was stopped before it graded {summary.kept} of {len(summary.roster)} students again: theirs "
            "are the last run's results, for the same files (their note in gradebook.csv says so).") if summary.kept \
        else ""
    return " ".join(line for line in (
        f"The batch was stopped before {count} of {len(summary.roster)} students: they are not graded yet (status "
        f"not_graded, no score in gradebook.csv, left out of the figures here); {again}." if count else "", kept)
        if line)


def markdown(summary: Summary) -> str:
    n = len(summary.scores)
    mean = sum(summary.scores) / n if n else 0.0
    graded = graded_apart(summary)
    apart = f" ({graded[0]} with a file the grader ran, whose mean is {graded[1]:.2f})" if graded else ""
    banner = stopped(summary)
    lines = [f"# Batch summary: {summary.exercise}", ""] + ([f"**{banner}**", ""] if banner else [])
    # (ux131: a batch stopped before its first result read "mean score over the 0 with a score 0.00 / 10")
    score = f"mean score{summary.counted()} {mean:.2f} / {summary.max_score:g}{apart}" if n else "no score yet"
    lines += [f"{' '.join(summary.headcount())}, {score}.", "", "## Scores", "", "```"]
    widest = max((c for _, c in bins(summary)), default=1) or 1
    lines += [f"{label:>9}  {'█' * round(30 * count / widest):<30} {count}" for label, count in bins(summary)]
    lines += ["```", ""]
    lines += [f"**{count} of {len(summary.roster)} students' files are for another exercise, {_md(name)} (its "
              f"function, or its answer): was `--exercise` right?**" for name, count in summary.elsewhere]
    lines += [""] if summary.elsewhere else []
    if summary.needs:  # (as the batch said on stderr at its end: ux122 read the summary the day after)
        lines += ["## Needs you", "", *[f"- {_md(line)}" for line in summary.needs], ""]
    lines += ["## Look at these", "", LOOK_WHY, ""]
    lines += [f"- {_md(flag.student)}: {_md('; '.join(evidence(flag)))}" for flag in summary.look] or ["Nobody."]
    lines += ["", "## Each check", "", "| check | passed | of |", "| --- | --- | --- |"]
    lines += [f"| {name} | {passed} | {seen} |" for name, passed, seen in summary.check_rates]
    lines += ["", "## Verdicts", "", f"| verdict | in gradebook.csv | {summary.counting} |", "| --- | --- | --- |"]
    lines += [f"| {words} | `{key}` | {summary.verdicts[key]} |" for key, words in VERDICTS if summary.verdicts[key]]
    lines += ["", "## Most common hints", "", f"| hint | {summary.counting} |", "| --- | --- |"]
    lines += [f"| {_md(hint)} | {count} |" for hint, count in summary.hints]
    lines += [f"| {more(summary.more_hints, 'hint')} | |"] if summary.more_hints else []
    lines += ["", "## How backward passes differed from the reference's", "", f"| difference | {summary.counting} |",
              "| --- | --- |"]
    lines += [f"| {_md(gist)} | {count} |" for gist, count in summary.passes] or ["| none | |"]
    lines += [f"| {more(summary.more_passes, 'difference')} | |"] if summary.more_passes else []
    lines += ["", "## Identical submissions", ""]
    lines += [f"- {_md(', '.join(group))}" for group in summary.identical] or ["None: every file differs in its code."]
    return "\n".join(lines) + "\n"


_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*[]<>!|~&"})
# An underscore that is not between two letters or digits: `__bold__`, `_emphasis_` (rt138's event
# made bold words so), where `honest_backward`'s is no emphasis and stays as it is.
_EMPHASIS = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def _md(text: str) -> str:
    """Text partly the students' (their file names, the events their code raised: sys.audit takes any
    name) as Markdown shows it literally: a red team's event put a remote image, bold words and a link
    into a TA's summary.md, and then bold and struck-through words and, by an entity (`&#8238;`), a
    right-to-left override that the text's own making-safe had removed. (summary.html escapes its
    own.) A table's | is escaped too."""
    return _EMPHASIS.sub(r"\_", text.translate(_MARKUP))


LOOK_WHY = ("Students whose values did not follow autograd (the autograd check's verdict is the evidence), those "
            "whose backward pass left part of the derivative to a formula of their own (the canary proves only the "
            "primitive's derivative: this is the pass's evidence), and anything the sandbox saw a submission try on "
            "the way to the canary's secret (searching the heap, reading frames or process memory, tracing, ctypes); "
            "the last two are never part of a score.")


# What honest code does the same, for the events it does most often: rt145's doctest.testmod(), a
# logging call inside a context manager and a count of live tensors were listed with no word of it,
# which a TA reads as an accusation. (The events stay: each is also a way towards the secret.)
_ALSO_HONEST = (("sys.settrace", "doctest, a debugger or coverage does so too"),
                ("sys.setprofile", "a profiler does so too"),
                ("read a frame (sys._getframe) with a generator", "logging inside a context manager does so too"),
                ("gc.get_objects", "counting live tensors does so too"),
                # (hn127: asyncio.run() in honest files, its loop's socket pair)
                ("socket.__new__", "asyncio's event loop makes a socket pair so too"))


def also_honest(event: str) -> str:
    """" (what honest code does the same)" for an event that honest code often records, else ""."""
    return next((f" ({why})" for start, why in _ALSO_HONEST if event.startswith(start)), "")


def evidence(flag: Flag) -> list[str]:
    """The reasons to look at a student, in words."""
    reasons = [f"autograd not shown: {flag.unproven.rstrip('.')}"] if flag.unproven else []
    reasons += [f"derivative by hand: {flag.by_hand.rstrip('.')}"] if flag.by_hand else []
    events = [event + also_honest(event) for event in flag.events]
    return reasons + ([f"the sandbox recorded {'; '.join(events)}"] if events else [])


def write(summary: Summary, out: Path) -> tuple[Path, Path]:
    from grader.report.summary_html import html_page

    atomic.write(out / "summary.md", markdown(summary))
    atomic.write(out / "summary.html", html_page(summary))
    return out / "summary.md", out / "summary.html"
