"""Command line: parse, call the pipeline, pick a renderer, choose the exit code.

Exit codes: 0 grading finished (whatever the score); 1 the score is below --fail-under; 2 bad
arguments or an ungradable path; 3 the grader itself failed (a result.json saying so is still written).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import os
import shlex
import signal
import stat
import sys
import threading
import time
import traceback
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from grader import __version__

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from distributed import Client

    from grader.batch import Job, Settings
    from grader.exercise import Exercise
    from grader.report.summary import Tally

EXIT_OK, EXIT_BELOW, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3
WAITING_SAID_AFTER_S = 5.0  # a batch's bar names the students being graded once no result came for this long
LOGGED_EVERY_S = 10.0  # where stderr is no terminal (a log file), a batch's progress is a line this often at most


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade PyTorch autograd exercises.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="a student's self-check: verdict, hints and a plot")
    grade = commands.add_parser("grade", help="grade one file: result.json, feedback.png and backward.png in --out")
    for sub in (check, grade):
        sub.add_argument("file", type=Path, help="the student's .py or .ipynb file")
        sub.add_argument("--exercise", default="sin", help="exercise name in reference/ or a .toml path (default: sin)")
        sub.add_argument("--seed", type=int, default=None,
                         help="grid seed (default: from the exercise and $GRADER_COURSE_SECRET)")
        sub.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                         help="where to run the grids (default: cpu, plus cuda when available)")
        sub.add_argument("--no-plot", action="store_true", help="skip feedback.png and backward.png")
    check.add_argument("--out", type=Path, default=Path("grader-feedback"),
                       help="folder for feedback.txt, feedback.png, backward.png and result.json (default: "
                            "./grader-feedback)")
    grade.add_argument("--out", type=Path, required=True,
                       help="folder for result.json, feedback.txt, feedback.png and backward.png")
    grade.add_argument("--quiet", action="store_true", help="print no result line on success (warnings still go to "
                       "stderr)")
    batch = commands.add_parser("batch", help="grade a folder of submissions: results, gradebook.csv, summary")
    batch.add_argument("folder", type=Path, help="one .py (or .ipynb) per student, or one folder per student with one")
    batch.add_argument("--out", type=Path, required=True, help="folder for per-student results and the gradebook")
    batch.add_argument("-j", "--jobs", type=_positive, default=os.cpu_count() or 1,
                       help="parallel workers (default: cores)")
    batch.add_argument("--force", action="store_true", help="regrade everything, even results that are current")
    # (ux134: `--resume` was "unrecognized arguments"; a rerun resumes whatever it is given)
    batch.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    batch.add_argument("--only", action="append", metavar="STUDENT", default=None,
                       help="grade only this student of the folder (again, even where current); the gradebook "
                            "keeps everyone's results (repeat it for several)")
    batch.add_argument("--exercise", default="sin", help="exercise name in reference/ or a .toml path (default: sin)")
    batch.add_argument("--seed", type=int, default=None, help="grid seed (default: as for grade)")
    batch.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where to run the grids (default: cpu, plus cuda when available)")
    batch.add_argument("--no-plot", action="store_true", help="skip feedback.png and backward.png")
    batch.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                       help="grade on an existing Dask cluster instead of local processes")
    for sub in (check, grade, batch):
        sub.add_argument("--format", choices=("default", "junit"), default="default",
                         help="junit: also write junit.xml in --out, one test case per check (for CI)")
    for sub in (check, grade):
        sub.add_argument("--fail-under", type=float, default=None, metavar="SCORE",
                         help="exit with status 1 when the score is below SCORE (for CI)")
    commands.add_parser("exercises", help="list the exercises in the catalogue (reference/)")
    gradescope = commands.add_parser("gradescope", help="build the Gradescope autograder bundle, or grade inside it")
    actions = gradescope.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="write autograder.zip (setup.sh, run_autograder, source/)")
    build.add_argument("--out", type=Path, default=Path("autograder.zip"), help="the zip to write (default: "
                       "autograder.zip)")
    run = actions.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json (run_autograder)")
    run.add_argument("--root", type=Path, default=Path(os.environ.get("GRADER_AUTOGRADER_DIR", "/autograder")),
                     help="the folder holding submission/ and source/ (the unpacked bundle), where results/ is written "
                          "(default: $GRADER_AUTOGRADER_DIR, else /autograder, as on Gradescope)")
    build.add_argument("--exercise", default="sin",
                       help="exercise name in reference/, or an exercise .toml of your own (default: sin)")
    run.add_argument("--exercise", default=None, help="exercise name in reference/, or a .toml (default: the one "
                     "the bundle in ROOT/source was built for, else sin)")
    # Each command's own parser says what it does not take, with its own usage: `batch --fail-under 5` was
    # answered with the top level's usage alone (ux136)
    for sub in (*commands.choices.values(), *actions.choices.values()):
        sub.set_defaults(parser_of_command=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _INTERRUPTED.clear()
    previous = signal.getsignal(signal.SIGINT)
    unraisable = sys.unraisablehook
    if previous is signal.default_int_handler:  # (not where it is ignored: nohup)
        signal.signal(signal.SIGINT, _interrupt)
        sys.unraisablehook = _unless_interrupted
    # SIGTERM and SIGHUP end any command as Ctrl-C does, its sandbox closed and swept on the way out (batch
    # had this alone: rt221's `kill -TERM` of a `grade` left its child's notes in /tmp and /dev/shm, where
    # the next student's child, without Landlock, read them). Only where nothing else handles them.
    stops = [signum for signum in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(signum) is signal.SIG_DFL]
    for signum in stops:
        signal.signal(signum, _stop)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # (anywhere no command's own handling covers: a traceback and status -2, else)
        print("grader: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Stopped as stop:  # (gradescope run, which _main's own handling does not cover)
        print(f"grader: stopped by {stop.signal.name}", file=sys.stderr)
        return 128 + stop.signal
    finally:  # (as it was: a caller's own process, the suite's, keeps its handler)
        for signum in stops:
            # (not one a library set meanwhile; nor where _stop ran, ignoring the rest: a second SIGTERM still on its
            # way would end the process by the default, -15, after its words)
            if signal.getsignal(signum) is _stop:
                signal.signal(signum, signal.SIG_DFL)
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
            sys.unraisablehook = unraisable


def _unless_interrupted(unraisable: Any) -> None:
    """Python's own report of what a callback raised where nothing can catch it, but for a Ctrl-C, which
    _interrupt remembered (_interrupted_yet raises it again): importlib's module-lock callback printed its
    traceback ("Exception ignored in: <function _get_module_lock.<locals>.cb>") above "grader: interrupted"."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt) and _INTERRUPTED.is_set():
        return
    sys.__unraisablehook__(unraisable)


def _main(argv: list[str] | None) -> int:
    _standard_streams_open()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        args.parser_of_command.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command in ("check", "grade", "batch") or getattr(args, "action", None) == "run":
        from grader.sandbox import grading_here

        try:
            warnings, refusal = grading_here(others=args.command != "check")
        except KeyboardInterrupt:  # (the CI's Ctrl-C 0.3 s into a batch, as this imported numpy: status -2)
            return _interrupted(args)
        for warning in warnings:
            print(f"grader: {warning}", file=sys.stderr)
        if refusal is not None:
            print(f"grader: {refusal}", file=sys.stderr)
            if args.command != "gradescope":  # (whose results.json is written all the same: the grader's failure)
                return EXIT_USAGE
    if args.command == "gradescope" and args.action == "run":
        from grader import gradescope

        if not args.root.is_dir():  # (ux132: outside Gradescope, /autograder/results was made, then refused)
            print(f"grader: {args.root} does not exist: outside Gradescope, give --root a folder holding submission/ "
                  "(and source/, the unpacked bundle)", file=sys.stderr)
            return EXIT_USAGE

        bundled, secret = gradescope.bundled_secret(args.root).strip(), _course_secret()
        if bundled and secret and bundled != secret:  # (ux139: another term's, from the instructor's shell)
            print(f"grader: $GRADER_COURSE_SECRET is not this bundle's; grading with "
                  f"{args.root / 'source' / gradescope.SECRET_FILE}, as the students' runs do", file=sys.stderr)
        # Before anything else can fail: this always writes a valid results.json.
        done = gradescope.run(args.root, args.exercise, secret, refused=refusal)
        if not (args.root / "submission").is_dir():  # (ux128: on a TA's machine, without --root: nothing said)
            print(f"grader: {args.root / 'submission'} does not exist, so {args.root / 'results' / 'results.json'} "
                  "gives no file submitted; outside Gradescope, give --root a folder holding submission/ (and "
                  "source/, the unpacked bundle)", file=sys.stderr)
            return EXIT_USAGE
        return done
    from grader import exercise as exercises
    from grader.submission import SubmissionError

    try:
        if args.command == "exercises":
            return _list_exercises()
        ex = exercises.load(args.exercise)
        return _run(args, ex)
    except (exercises.ExerciseError, SubmissionError) as err:
        print(f"grader: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return _interrupted(args)
    except Stopped as stop:
        print(f"grader: stopped by {stop.signal.name}{_again(args)}", file=sys.stderr)
        return 128 + stop.signal
    except Exception as err:  # noqa: BLE001 - our own bug: say so, and exit 3 (1 is --fail-under's code)
        if _INTERRUPTED.is_set() and _caused_by(err, KeyboardInterrupt):
            # (Ctrl-C 0.6 s into a batch, as a module imported in drawing its grids made a dataclass: Python
            # wraps what __set_name__ raises in a RuntimeError, and the CI's batch ended in the grader's failure)
            return _interrupted(args)
        traceback.print_exc()
        print("grader: the grader itself failed (not the submission); the traceback is above", file=sys.stderr)
        return EXIT_GRADER


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `error` was raised from (or during) an exception of `kind`, a few links down."""
    seen: BaseException | None = error
    for _ in range(8):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if isinstance(seen, kind):
            return True
    return False


def entry() -> NoReturn:
    """`grader` and `python -m grader`: main(), then the process ends at once where nothing runs
    beside this thread: the interpreter's teardown of the 650 modules a check imports (matplotlib,
    hypothesis, numpy) took 0.15-0.25 s of a 1.6 s `grader check`, a student's wait for nothing.
    atexit's callbacks still run (temporary folders, logging, multiprocessing's), and the streams
    are flushed; a batch's pool threads, where any are left, get the usual ending."""
    code = main()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()  # (what Py_FinalizeEx runs first; the rest is freeing memory)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # (a reader gone: nothing more to lose)
                stream.flush()
        os._exit(code)
    raise SystemExit(code)


def _standard_streams_open() -> None:
    """/dev/null where the grader was started with stdin, stdout or stderr closed (`grader ... >&-`):
    a descriptor made later took the number, and the sandbox's set-up failed on it, so that an
    honest file was the grader's error after 60 s (rt139); and Python's sys.stderr, None then, failed
    every sandbox child forked from this process (faulthandler, rt140). What would have been printed
    is lost. And stdout or stderr whose reader has gone (`| head -1`, `2>&1 | true`) loses what is
    written to it, and no more: rich ended on it with SystemExit(1), so that a check's exit status was
    1 for 10/10 and junit.xml was never written (ux112), and a batch lost its gradebook to its progress
    bar; print's BrokenPipeError made a --fail-under's status 0 (rt140). The status is the score's."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # (the lowest free number: this one)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
            os.set_inheritable(fd, True)  # (os.open's are not: the batch's workers started without it)
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - for the process's life
    sys.stdout = _Unbroken(sys.stdout if sys.stdout is not None else open(1, "w", closefd=False))  # noqa: SIM115
    sys.stderr = _Unbroken(sys.stderr if sys.stderr is not None else open(2, "w", closefd=False))  # noqa: SIM115


class _Unbroken(io.TextIOBase):
    """A text stream that, once its reader has gone, drops what is written to it instead of raising."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream, self._gone = stream, False

    # Any OSError, not only a broken pipe's (ux130): an SSH session that dropped hangs its terminal up,
    # and every write after the SIGHUP fails with EIO; `flock LOCK grader batch ... 2>&-` gives stderr's
    # number to flock's lock file, read-only, where a write fails with EBADF. The progress bar's write
    # raised, its traceback's too, and the batch wrote no gradebook (the last run's stayed, its scores stale).
    def write(self, text: str) -> int:
        if not self._gone:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self._went()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._went()

    def _went(self) -> None:
        self._gone = True
        with contextlib.suppress(OSError, ValueError):  # (so that Python's own flush at exit fails no more)
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def fileno(self) -> int:
        return int(self._stream.fileno())

    def isatty(self) -> bool:
        return not self._gone and bool(self._stream.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", "utf-8"))


class Stopped(BaseException):
    """The process was asked to end (SIGTERM: a scheduler's time limit, `timeout`, `docker stop`;
    SIGHUP: the terminal went away). A BaseException, so that nothing on the way catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal = signal.Signals(signum)


def _stop(signum: int, _frame: object) -> None:
    # Once: a second SIGTERM as the sandbox closed stopped the close (rt222's burst of 200, 2 ms apart, left the
    # child's folder and cgroups behind). The process is ending: the rest are ignored to its end.
    for each in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(each, signal.SIG_IGN)
    raise Stopped(signum)


_INTERRUPTED = threading.Event()


def _interrupt(signum: int, _frame: object) -> None:
    """Ctrl-C, as Python's own handler (KeyboardInterrupt), and remembered: raised where Python ignores
    what a callback raises (importlib's module-lock callback as a batch starts), it was swallowed and the
    batch went on to its end (the suite's Ctrl-C 0.3 s into a batch); `_interrupted_yet` raises it again."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _join_unless_interrupted(thread: threading.Thread, grace_s: float = 2.0) -> None:
    """Wait for `thread`, and `grace_s` at most once Ctrl-C came: raised within importlib's module-lock
    callback (between its taking the import lock and its try), the KeyboardInterrupt leaves that lock
    taken by this thread, and the plot's thread, importing matplotlib, waited on it for ever (a check
    stopped 0.4 s in hung, 1 stop in 24 under load; the suite's Ctrl-C test timed out in CI)."""
    while thread.is_alive() and not _INTERRUPTED.is_set():
        thread.join(0.05)
    thread.join(grace_s)


def _interrupted_yet() -> None:
    """KeyboardInterrupt where a Ctrl-C came and was swallowed on its way (see _interrupt)."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _run(args: argparse.Namespace, ex: object) -> int:
    from grader.exercise import Exercise

    assert isinstance(ex, Exercise)
    folder = args.out if args.command in ("check", "grade", "batch") else None  # (gradescope's --out is a zip)
    problem = (_out_problem(folder) or _fail_under_problem(getattr(args, "fail_under", None), ex)
               or _exposed_problem(args) or _missing_solution(args, ex) or _exposed_solution(args, ex)
               or _unmade(folder))
    if problem:
        print(f"grader: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "device", None) == "cuda":
        from grader.sandbox import visible_gpus

        if not visible_gpus():
            # Said once, before anything is graded: asked of each submission, it failed every one as
            # the grader's own error, and a batch of a whole class of zeros ended with status 0.
            print("grader: --device cuda, but no CUDA device is visible here (no NVIDIA driver, or "
                  "CUDA_VISIBLE_DEVICES leaves none); use --device auto or cpu", file=sys.stderr)
            return EXIT_USAGE
    if args.command == "batch":
        return _batch(args, ex)
    if args.command == "gradescope":
        from grader import gradescope
        from grader.grids import grid_seed

        secret = _course_secret()
        if args.action == "build" and (problem := _solution_short(ex, grid_seed(ex.name, secret), "auto")):
            print(f"grader: {problem}", file=sys.stderr)  # (ux138: a bundle of a wrong solution built without a word)
            return EXIT_USAGE
        # (a folder: the zip goes in it, where a traceback said "the grader itself failed", ux122)
        target = args.out / "autograder.zip" if args.out.is_dir() else args.out
        replaced = target.is_file()  # (ux136: a bundle built before, with another secret maybe, went without a word)
        try:
            bundle = gradescope.build(target, args.exercise, secret)
        except OSError as err:  # (ux130: `--out /sys/nope`, a traceback and the grader's own failure, exit 3)
            print(f"grader: --out {args.out}: the bundle cannot be written there ({err.strerror or err})",
                  file=sys.stderr)
            return EXIT_USAGE
        note = " with the course secret from $GRADER_COURSE_SECRET" if secret else ""
        print(f"{bundle}{' (replacing the one built before)' if replaced else ''}: upload it as the autograder of "
              f"a Gradescope assignment{note}; {ex.name} is out of {ex.max_score:g} points{_unnamed(ex)}")
        if not secret:  # (ux110: built without a word)
            print("grader: no $GRADER_COURSE_SECRET: the grids follow from the exercise alone, and anyone with "
                  "this repository can draw them; set a secret of the course's before building the bundle for "
                  "graded work", file=sys.stderr)
        return EXIT_OK
    from grader import early

    # (the child imports torch while the grader imports the rest)
    started = early.start(args.file, ex.limits, ex.function, ex.name)
    if args.command == "grade" and ex.unnamed:  # (ux124: said by batch and gradescope build, not by grade)
        print(f"grader: {ex.name} is out of {ex.max_score:g} points{_unnamed(ex)}", file=sys.stderr)
    if args.command == "grade" and args.seed is None and not _course_secret():
        # (ux126: a late file graded in a new shell scored 7.8 where the class's batch, with the secret, gave
        # 7.91, without a word; `check` is the student's, on the public grids by design)
        print(f"grader: no $GRADER_COURSE_SECRET: graded on the public grids (seed {_seed(args, ex)}), not those of a "
              "batch or Gradescope bundle given the course's secret; set it to grade as they do", file=sys.stderr)
    from grader.grade import grade_file

    plotting = None
    if not args.no_plot:
        # matplotlib imports and the figure's template is drawn while the child imports torch: the
        # parent is idle in select() then.
        plotting = threading.Thread(target=_prewarm_plotting, args=(ex,), daemon=True)
        plotting.start()
    graded = threading.Event()
    if args.command == "check":  # (ux133: a slow recursion sat two minutes with nothing said, taken for a hang)
        threading.Thread(target=_still_grading, args=(args.file, ex, graded), daemon=True).start()
    try:
        outcome = grade_file(args.file, ex, seed=_seed(args, ex), device=args.device, started=started)
    finally:
        graded.set()
        # matplotlib is not thread-safe: the template is finished before it is drawn on. And joined
        # when stopped too: Ctrl-C ended the process while that thread was in matplotlib's C++, which
        # aborted ("terminate called without an active exception", status -6, 2 stops in 9).
        if plotting is not None:
            _join_unless_interrupted(plotting)
    _interrupted_yet()
    from grader.report import write_files

    result, picture, _ = write_files(outcome, ex, args.out, plot=not args.no_plot)
    # (kept up to date where an earlier run wrote one, as a batch keeps its own: ux137's junit.xml said 7.06 beside a
    # result.json of 1)
    # (not a batch's, whose junit.xml is its class's: rv50's grade into a batch's results made it one student's)
    junit_too = args.format == "junit" or ((args.out / "junit.xml").is_file() and not _batch_out(args.out))
    if junit_too:
        from grader.report import junit, result_json

        # (no seed where it is the course's: a CI's log is the student's to read, ux127)
        written = _shown(result_json.to_dict(outcome), args)
        junit.write([(outcome.submission.stem, written, "")], ex.name, args.out / "junit.xml")
    if args.command == "check":
        from grader.report import terminal

        terminal.show(outcome, ex, picture, result, terminal.console(), seed=not _course_seeded(args))
        if junit_too:  # (ux121: written, and nowhere said)
            print(f"JUnit report: {args.out / 'junit.xml'}")
    elif not args.quiet:
        print(f"{outcome.submission}: {outcome.score:g}/{outcome.max_score:g} ({outcome.status}) -> {result}")
    if outcome.status == "grader_error":
        print(f"grader: the grader failed while grading {outcome.submission}; see {result}", file=sys.stderr)
        return EXIT_GRADER
    if args.fail_under is not None and outcome.score < args.fail_under:
        print(f"grader: score {outcome.score:g} is below --fail-under {args.fail_under:g}", file=sys.stderr)
        return EXIT_BELOW
    return EXIT_OK


def _still_grading(path: Path, ex: Exercise, graded: threading.Event, first_s: float = 15.0,
                   every_s: float = 30.0) -> None:
    """A line on stderr while a self-check takes long (a slow function, a loop): after `first_s`, then every
    `every_s`, how long so far and how long it may take at most."""
    started = time.monotonic()
    wait = first_s
    while not graded.wait(wait):
        print(f"grader: still grading {path.name}, {time.monotonic() - started:.0f} s so far (your file may take "
              f"{ex.limits.total_timeout_s:g} s at most; a function that is slow on every call takes that long)",
              file=sys.stderr, flush=True)
        wait = every_s


def _refused_here(out: Path, failed: list[str]) -> str:
    """Why the sandbox refused to run any student's code on this machine (confine.UnconfinableRoot's words),
    where that is why every one of `failed` has no score; "" otherwise."""
    import json
    import re

    reasons = set()
    for student in failed:
        try:
            error = json.loads((out / student / "result.json").read_text(encoding="utf-8")).get("grader_error") or ""
        except (OSError, ValueError, AttributeError):
            return ""
        found = re.search(r"UnconfinableRoot: (This machine cannot .*)", str(error))
        if found is None:
            return ""
        reasons.add(found[1].strip())
    return sorted(reasons)[0] if reasons else ""


def _unnamed(ex: Exercise) -> str:
    """Words for the checks a partial [rubric] left at their default points (ux123 named five checks for
    10 points, and the total was 11), "" where there are none."""
    if not ex.unnamed:
        return ""
    listed = ", ".join(f"{name} {ex.rubric[name]:g}" for name in ex.unnamed)
    return f" ({ex.source.name}'s [rubric] does not name {listed}, which keep their default points)"


def _batch(args: argparse.Namespace, ex: object) -> int:
    from grader import batch
    from grader.exercise import Exercise

    assert isinstance(ex, Exercise)
    # SIGTERM and SIGHUP end a batch as Ctrl-C does: its workers and sandboxes go at once.
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _batch_run(args, ex)
    finally:
        batch.let_go()  # (OUT's lock: hold_out)
        for signum, handler in previous.items():
            if signal.getsignal(signum) is _stop:  # (where _stop ran, the rest stay ignored to the end)
                signal.signal(signum, handler)


def _names_of(job: Any, folder: Path) -> set[str]:
    """What --only knows a submission by: its id, its group's students (each a gradebook row), and the
    name of the file or folder it is in the class's folder."""
    known = {job.student, *job.members}
    if job.path is not None:
        with contextlib.suppress(ValueError, IndexError):
            top = job.path.relative_to(folder).parts[0]
            known |= {top, job.path.stem} if top == job.path.name else {top}
    return known


def _some(names: list[str], shown: int = 8) -> str:
    """The first names, and how many more: "ann, bob and 3 more" (a line on stderr, not a roster)."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _batch_run(args: argparse.Namespace, ex: Exercise) -> int:
    from grader import batch, safe_text
    from grader.probe import Plan

    skipped: list[str] = []
    if args.resume:
        print("grader: --resume is what every run does: the students whose results are current are kept, the rest "
              "graded (--force grades them all again)", file=sys.stderr)
    inner = batch.export_inside(args.folder)
    if inner is not None:  # (ux130: graded as one student, "all 6 files define get_derivative(x) ...; keep one")
        print(f"grader: {args.folder} holds a Gradescope export one folder down, {inner.name}/ (its "
              f"{batch.GRADESCOPE_METADATA} and submission folders): give that folder, `grader batch "
              f"{shlex.quote(str(inner))} ...`", file=sys.stderr)
        return EXIT_USAGE
    jobs = batch.discover(args.folder, args.out, ex.function, skipped, ex.name)
    # (said once, at the end, and in the summary's "Needs you": _needs_you; ux133 read it twice in two wordings)
    args.skipped = skipped
    if not jobs:  # (a wrong folder looked like a finished batch: status 0, an empty gradebook)
        print(f"grader: no submissions in {args.folder}: give a folder with a .py (or .ipynb) per student, or a "
              "folder per student", file=sys.stderr)
        return EXIT_USAGE
    if ex.unnamed:
        print(f"grader: {ex.name} is out of {ex.max_score:g} points{_unnamed(ex)}", file=sys.stderr)
    _interrupted_yet()
    seed = _seed(args, ex)
    if problem := _solution_short(ex, seed, args.device):
        print(f"grader: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not batch.hold_out(args.out):  # (before anything is written there; let go in _run)
        print(f"grader: another grader batch is writing to {args.out} now: wait for it to end (or give another "
              "--out)", file=sys.stderr)
        return EXIT_USAGE
    key = batch.results_key(args.out)
    # (a student with no file has nothing to run: counted on every rerun, the bar showed work done, ux118)
    absent = [j for j in jobs if j.path is None]
    standing = {j.student: batch.standing(j, args.out, ex, seed, args.device, key, plot=not args.no_plot)
                for j in jobs if j.path is not None}  # (before this run rewrites any)
    elsewhere = sorted(student for student, stands in standing.items() if stands == batch.OTHER)
    # And results of students not in this class, another assignment's (ux122: Moodle's ids are new for
    # each assignment, so a second one graded into the first's OUT replaced its gradebook unasked)
    gone = batch.results_of_others(args.out, {j.student for j in jobs})
    others = {s: batch.exercise_of(args.out, s, key) for s in gone[:50]}
    elsewhere += sorted(s for s, name in others.items() if name not in (None, ex.name))
    if elsewhere and not args.force:  # (ux121: a rerun without its --exercise regraded a class as sin over them)
        names = sorted({batch.exercise_of(args.out, s, key) or "?" for s in elsewhere[:50]})
        print(f"grader: {args.out} holds results of {', '.join(safe_text.line(n, 60) for n in names)}, not {ex.name}, "
              f"for {len(elsewhere)} students ({_some(elsewhere)}): give the --exercise they were graded for, another "
              f"--out, or --force to grade them as {ex.name} over those results", file=sys.stderr)
        return EXIT_USAGE
    overlap = any((args.out / j.student / "result.json").is_file() for j in jobs)
    if gone and (len(gone) > len(jobs) or not overlap) and not args.force:
        # (ux123: `batch class/alice --out out`, to regrade one student, wrote a gradebook of her two files
        # as two students in place of the class's 27; ux124's class of 2 was not refused, none in common)
        print(f"grader: {args.out} holds results of {len(gone)} students not in {args.folder}, which has "
              f"{len(jobs)} ({_some([safe_text.line(j.student, 80) for j in jobs], 4)}): is it the class's folder? "
              f"Give the class's folder (a rerun grades only what changed since; --only STUDENT grades one again), "
              f"another --out, or --force to write a gradebook of these {len(jobs)} alone", file=sys.stderr)
        return EXIT_USAGE
    # (ux129: the gradebook's own cell of a student whose id starts as a formula does, "'=evil", was "no such
    # student": the quote is the gradebook's, batch._cell)
    # (ux134: a name pasted on macOS, its accents decomposed, was "no such student (did you mean Dörte ...?)", the
    # same name to the eye: both read as NFC)
    asked = {unicodedata.normalize("NFC", name[1:] if name.startswith("'") and name[1:2] in ("=", "+", "-", "@", "\t",
                                                                                           "\r") else name)
             for name in args.only or ()}
    # (ux126: a Gradescope group's member, by the gradebook's row for her, or a submission by its folder's name,
    # submission_90003, were no such student, and the suggestion named another)
    known_as = {j.student: {unicodedata.normalize("NFC", n) for n in _names_of(j, args.folder)} for j in jobs}
    if unknown := sorted(asked - set().union(*known_as.values())):
        import difflib

        rows = sorted({name for j in jobs for name in (j.student, *j.members)})
        close = [m for name in unknown for m in difflib.get_close_matches(name, rows, n=1)]
        print(f"grader: --only {', '.join(safe_text.line(n, 80) for n in unknown)}: no such student in {args.folder}"
              + (f" (did you mean {', '.join(safe_text.line(c, 80) for c in close)}?)" if close else ""),
              file=sys.stderr)
        return EXIT_USAGE
    only = {student for student, known in known_as.items() if known & asked}
    reseeded = sorted(student for student, stands in standing.items() if stands == batch.RESEEDED)
    if reseeded and not args.force:
        # (ux123: a rerun in a shell without the course secret regraded a class on the public grids, unsaid)
        seeds = sorted({s for s in (batch.seed_of(args.out, name, key) for name in reseeded[:50]) if s is not None})
        how = "--seed" if args.seed is not None else \
            "$GRADER_COURSE_SECRET" if _course_secret() else "no $GRADER_COURSE_SECRET"
        print(f"grader: {args.out} holds results of {len(reseeded)} students ({_some(reseeded)}) graded with seed "
              f"{', '.join(map(str, seeds)) or '?'}, where this run's is {seed} ({how}): set the course secret they "
              f"were graded with (or --seed {seeds[0] if seeds else 'N'}), give another --out, or --force to regrade "
              f"them all on this run's grids", file=sys.stderr)
        return EXIT_USAGE
    todo = [j for j in jobs if j.path is not None and (args.force or standing[j.student] != batch.CURRENT)]
    if only:  # (ux124: no way to regrade one student but a folder of hers, which replaced the class's gradebook)
        todo = [j for j in jobs if j.path is not None and j.student in only]
        for job in (j for j in jobs if j.path is None and j.student in only):  # (ux133: "0 graded", and no why)
            print(f"grader: --only {safe_text.line(job.student, 80)}: nothing to grade "
                  f"({safe_text.line(job.problem, 200)})", file=sys.stderr)
    again = sorted(j.student for j in todo if standing[j.student] == batch.CHANGED)
    # (ux129: a rerun after a change of settings, or of the grader or torch, regraded the whole class and said
    # only "0 already graded")
    redone = [] if only or args.force else sorted(j.student for j in todo if standing[j.student] == "")
    # (ux136: a score a TA wrote into result.json was regraded away with "5 already graded" and no word)
    edited = [] if only or args.force else sorted(
        j.student for j in todo if standing[j.student] == batch.ABSENT and
        os.path.lexists(args.out / j.student / "result.json"))
    try:
        client = batch.dask_client(args.scheduler) if todo and args.scheduler else None
    except batch.MissingExtra as err:
        print(f"grader: {err}", file=sys.stderr)
        return EXIT_USAGE
    # Workers start their zygotes while this process draws the grids (one grid for all).
    graded: set[str] = set()  # the students this run graded (a stopped batch's gradebook says which it did not)
    args.feedback_kept = []  # the students whose feedback.txt, changed by hand, this run kept aside
    args.other_build = []  # the students a Dask worker of another grader or torch graded this run
    began = time.time()
    if todo:  # (no more workers than students: ux137's -j 6 for 3 started 6 zygotes)
        args.jobs = min(args.jobs, len(todo))
    try:
        pool = batch.start_pool(args.jobs, ex, not args.no_plot) if todo and not args.scheduler else None
        try:
            settings = batch.Settings(ex, Plan.draw(ex, seed), args.device, not args.no_plot, key)
        except BaseException:
            if pool is not None:
                batch.stop_pool(pool)
            if client is not None:
                client.close()
            raise
        if args.seed is None and not _course_secret() and todo:
            # (ux118: a class graded without a word, where gradescope build warns; said once the batch can start)
            print(f"grader: no $GRADER_COURSE_SECRET: the grids (seed {seed}) follow from the exercise alone, and "
                  "anyone with this repository can draw them; set a secret of the course's for graded work",
                  file=sys.stderr)
        if todo and pool is not None and args.jobs > 1 and args.device != "cpu":
            from grader.sandbox import visible_gpus

            if visible_gpus():  # (rt159, read: nothing bounds a child's GPU memory, shared by side-by-side children)
                print(f"grader: {args.jobs} workers share the GPU here, whose memory no limit bounds: a file that "
                      "takes all of it fails a classmate's CUDA calls beside it; grade with -j 1 on a GPU (or "
                      "--device cpu)", file=sys.stderr)
        _interrupted_yet()
        _grade(args, todo, settings, client, pool, graded)
        _interrupted_yet()
    except (KeyboardInterrupt, Stopped):
        # (ux119: a batch stopped after new files came left the last run's gradebook, which read as
        # this one's; ux118's SIGTERM left none.) Those not reached are said to be so, not scored.
        # (a worker's last write counts; under --force, only a result written by this run: ux120's stopped
        # --force said "0 not graded yet" of a class it had not regraded)
        current = {j.student for j in todo if j.student not in graded and batch.is_current(
            j, args.out, ex, seed, args.device, key, plot=not args.no_plot)}
        # (ux135: a stopped --only's named student, its result current, was "0 not graded yet" and kept unsaid)
        pending = {j.student for j in todo if j.student not in graded and not (j.student in current and (
            not (args.force or only) or batch.written_since(j, args.out, began)))}
        # (ux133: a stopped --only or --force blanked the scores of files it had not come to, whose last results
        # were for the same files, graded as now: those stand, said to be the last run's)
        stood = {student: KEPT for student in pending & current}
        # (ux134: "run the same command again" of a --force run, which regrades every student again)
        forced = FORCED_NOTE if args.force else ""
        gradebook, _, page, tally, needs = _write_class(args, ex, jobs, key, pending - set(stood), stood, forced)
        # (ux135: "18 of 33 students not graded yet ...: status not_graded" of a stopped --force, where those 18 kept
        # their last results, no row not_graded)
        told = [f"{len(pending) - len(stood)} of {len(jobs)} students not graded yet (status not_graded)"] \
            if len(pending) > len(stood) or not stood else []
        told += [f"{len(stood)} kept their last run's results, for the same files, not graded again (their note says "
                 "so)"] if stood else []
        print(f"grader: the batch was stopped: {'; '.join(told)}; in {gradebook} and {page}, with the others' "
              "results", file=sys.stderr)
        _what_needs_you(ex, jobs, tally, needs)
        raise
    stale = {s: stands for s, stands in standing.items() if s not in only and stands != batch.CURRENT} if only else {}
    # (ux128: a classmate --only left with no result at all was a grader_error row, and the batch exited 3)
    unreached = {s for s, stands in stale.items() if stands == batch.ABSENT}
    gradebook, md, page, tally, needs = _write_class(args, ex, jobs, key, unreached, stale, ONLY_NOTE)
    # (ux119: "2 with no file to grade" said of students who handed in two files, each scored 0 in the
    # gradebook; a TA needs their names: only the TA can pick the file, or unpack or rename it)
    unclear = sorted(j.student for j in absent if not batch.handed_in_nothing(j))
    none = len(absent) - len(unclear)
    said = (f", {none} with no file" if none else "") + (f", {len(unclear)} whose files need you" if unclear else "")
    kept = f"{len(todo)} graded with --only, the others' results kept as they were" if only else \
        f"{len(jobs) - len(todo) - len(absent)} already graded"
    # (a Gradescope group's submission is one, its students several: ux129 read "2 students" of 5 rows)
    def many(count: int, what: str) -> str:
        return f"{count} {what}{'' if count == 1 else 's'}"

    count = many(len(jobs), "student") if tally.people in (0, len(jobs)) else \
        f"{many(len(jobs), 'submission')} ({many(tally.people, 'student')})"
    print(f"{count} ({kept}{said}): {gradebook}, {page}, {md}")
    for why, who in _stale_groups(stale):
        if why == "no result yet":  # (the others are among what needs the TA: _write_class)
            print(f"not graded (--only), {why}: {_some([safe_text.line(s, 80) for s in who])}")
    if again:  # (ux119: a rerun regraded a resubmitted file without a word of whose)
        print(f"graded again, their files changed since the last run: {_some([safe_text.line(s, 80) for s in again])}")
    if redone:
        print(f"graded again, their results were from other settings (--device, plots) or an earlier grader or torch, "
              f"or the grader's own failure: {_some([safe_text.line(s, 80) for s in redone])}")
    if edited:
        print(f"graded again, their result.json was not as this batch wrote it (changed by hand, or copied in; a "
              f"correction belongs in gradebook.csv, which a rerun keeps aside): "
              f"{_some([safe_text.line(s, 80) for s in edited])}")
    _what_needs_you(ex, jobs, tally, needs)
    if tally.grader_errors:  # (said among what needs the TA: _write_class)
        return EXIT_GRADER
    return EXIT_OK


def _needs_you(args: argparse.Namespace, jobs: list[Job]) -> list[str]:
    """What a TA must see to besides the scores, in sentences: on stderr at the end of a batch, and in
    its summary (ux122 read the summary the next day, and these were on a terminal long closed)."""
    from grader import batch, safe_text

    lines = []
    skipped = getattr(args, "skipped", [])
    if skipped:  # (ux130: a flat folder's zoe.pdf was named on stderr alone, a terminal long closed the next day)
        lines.append(f"not graded, neither .py nor .ipynb nor defining the exercise's function, or hidden by a name "
                     f"beginning with . or _ (a roster or a README is no student; a student's file of another kind "
                     f"or name is one to look at): "
                     f"{_some([safe_text.line(s, 80) for s in skipped])}")
    unclear = sorted(j.student for j in jobs if j.path is None and not batch.handed_in_nothing(j))
    if unclear:
        lines.append(f"not graded, their files need you first (several, an archive, no Python, a name it cannot "
                     f"use: the note in gradebook.csv says which and what to do; no score until then): "
                     f"{_some([safe_text.line(s, 80) for s in unclear])}")
    # (a group's students by their own rows' ids: rt161 named a classmate in her group, a second row of his)
    twins = batch.look_alike(member for j in jobs for member in (j.members or (j.student,)))
    if twins:  # (ux120: lou.py and lou_LATE.py were two students of a class of 50, graded 1 and 10)
        shown = "; ".join(" and ".join(safe_text.line(s, 80) for s in group) for group in twins[:8])
        lines.append(f"these look like one student's files under two ids, each graded as a student of its own: "
                     f"{shown}{' and more' if len(twins) > 8 else ''} (keep one, or rename them apart)")
    unnamed = batch.unnamed_submissions(args.folder, jobs)
    if unnamed:  # (ux122: one the export's metadata leaves out was graded under its folder's name, unsaid)
        lines.append(f"{batch.GRADESCOPE_METADATA} names no one for {len(unnamed)} submission folder(s), graded under "
                     f"the folder's name: {_some([safe_text.line(s, 80) for s in unnamed])}")
    gone = batch.results_of_others(args.out, {j.student for j in jobs})
    if gone:  # (ux118: a student removed from the folder left the gradebook without a word)
        # (names of folders in OUT, whatever made them: made safe, as every name here is: rt158)
        lines.append(f"{args.out} holds results of {len(gone)} student(s) not in {args.folder}, left out of the "
                     f"gradebook: {_some([safe_text.line(s, 80) for s in gone])} (remove their folders there if "
                     "they left the course)")
    return lines


def _what_needs_you(ex: Exercise, jobs: list[Job], tally: Tally, needs: list[str]) -> None:
    """The lines on stderr that name students a TA must see to (a stopped batch's too: ux120's had none):
    `needs`, as the summary has them (_needs_you), and the files for another exercise."""
    for line in needs:
        print(f"grader: {line}", file=sys.stderr)
    for name, count in tally.elsewhere.most_common():
        which = f"--exercise {name}" if " or " not in name else f"--exercise with one of {name.replace(' or ', ', ')}"
        print(f"grader: {count} of {len(jobs)} students' files are for another exercise, {name} (its function, or "
              f"its answer): was --exercise {ex.name} right? ({which} grades against it)", file=sys.stderr)


def _grade(args: argparse.Namespace, todo: list[Job], settings: Settings, client: Client | None,
           pool: ProcessPoolExecutor | None, graded: set[str]) -> None:
    """Grade `todo` under a progress bar, adding each student graded to `graded`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, Task, TextColumn, TimeRemainingColumn
    from rich.table import Column
    from rich.text import Text

    from grader import batch, safe_text

    class Remaining(TimeRemainingColumn):
        """The time left, unknown while the bar names whom it waits on (ux118: "0:00:01" for a minute)."""

        def render(self, task: Task) -> Text:
            return Text("-:--:--", style="progress.remaining") if task.fields.get("waiting") else super().render(task)

    failures = 0
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               # (hn134: a file that did not load was counted as "stopped early")
               Remaining(), TextColumn("stopped or did not load: {task.fields[failures]}"),
               # (a column of its own size: rt152's long names pushed the bar and its counts off an 80-column line)
               TextColumn("{task.fields[waiting]}", markup=False,
                          table_column=Column(max_width=36, no_wrap=True, overflow="ellipsis")))
    # On stderr, as progress goes: a batch piped into `head` lost its gradebook when stdout closed.
    with Progress(*columns, transient=False, console=Console(stderr=True)) as progress:
        task = progress.add_task("grading", total=len(todo), rate="", failures=0, waiting="")
        started = logged = time.monotonic()

        def log(text: str) -> None:
            # (ux135: with stderr in a file, nohup's or a CI's, the bar drew nothing until the batch ended, and
            # never whom it waited on: a line instead, now and then)
            nonlocal logged
            if not progress.console.is_terminal and time.monotonic() - logged >= LOGGED_EVERY_S:
                logged = time.monotonic()
                progress.console.print(f"grader: {text}", markup=False, highlight=False)

        def done(row: dict[str, object]) -> None:
            nonlocal failures
            _interrupted_yet()
            graded.add(str(row["student"]))
            if row.get("feedback_kept"):
                args.feedback_kept.append(str(row["student"]))
            if row.get("grader") not in (None, batch.grader_here()):
                args.other_build.append(str(row["student"]))
            failures += row["status"] in batch.FAILED_STATUSES
            if row.get("detail"):
                progress.console.print(f"grader: {safe_text.line(str(row['student']), 80)}: {row['detail']}",
                                       markup=False, highlight=False)
            finished = progress.tasks[task].completed + 1
            rate = f"{finished / max(time.monotonic() - started, 1e-9):.1f}/s"
            progress.update(task, advance=1, rate=rate, failures=failures, waiting="")
            log(f"graded {finished} of {len(todo)} ({rate}; stopped or did not load: {failures})")

        def waiting(quiet: float, students: list[str]) -> None:
            # (ux118: a hanging import left the bar at 27/28, "0:00:01" to go, for a minute: whose?)
            if quiet >= WAITING_SAID_AFTER_S:
                names = ", ".join(safe_text.line(s, 16) for s in students[:4])
                progress.update(task, waiting=f"waiting {quiet:.0f} s on {names}")
                log(f"graded {progress.tasks[task].completed:.0f} of {len(todo)}, waiting {quiet:.0f} s on {names}")

        batch.run(todo, args.out, settings, args.jobs, done, client=client, pool=pool, waiting=waiting)


def _write_class(args: argparse.Namespace, ex: Exercise, jobs: list[Job], key: bytes, pending: set[str],
                 stale: Mapping[str, str] | None = None,
                 pending_note: str = "") -> tuple[Path, Path, Path, Tally, list[str]]:
    """gradebook.csv, summary.md and summary.html from the results in OUT; the students in `pending`
    (a stopped batch had not graded them, or --only left them with none: `pending_note` says which) as
    not graded, whatever result an earlier run left; those in `stale` (--only's others whose results are
    not current: how they stand, batch.standing) with a note that says why. One
    student's result at a time: the gradebook is written as it comes and the summary keeps a roster
    line each, so the class is never held whole. Also what needs the TA (_needs_you), as the summary
    says it, for stderr."""
    from grader import batch, safe_text
    from grader.report import summary

    ordered = sorted(jobs, key=lambda j: batch.reading_order(j.student))
    tally = summary.Tally(ex.name, ex.max_score, args.out)
    standing = stale or {}
    other_build = set(getattr(args, "other_build", ()))

    def rows() -> Iterator[dict[str, object]]:
        for job in ordered:
            result = None if job.student in pending else batch.read_result(job, args.out, key)
            row = batch.not_graded_row(job, ex, pending_note or batch.NOT_GRADED_NOTE) if job.student in pending \
                else batch.gradebook_row(job, result, ex)
            if job.student in standing and result is not None:  # (ux127: said on stdout alone, the row as if current)
                batch.noted(row, _stale_note(standing[job.student]))
            if job.student in other_build:  # (ux132: one student of eight named, once, on stderr alone)
                batch.noted(row, batch.OTHER_BUILD_NOTE)
            if summary.verdict(row, result) == "other":
                # No score until the TA has chosen how to grade a file for another exercise, as for files that
                # need them first: ux127's wrong upload had its 1.0 ready for the LMS, and in the class mean.
                name = summary.other_exercise(result)
                row.update(score="", note=row["note"] or f"for another exercise, {name}: no score until you choose "
                                                         f"(grade it with --exercise {name}, or ask for this one)")
            # (ux124: an earlier grading's "Score 10 / 10" stayed, to be handed back)
            if job.path is None and batch.replace_feedback(job, args.out, ex):
                args.feedback_kept.append(job.student)
            tally.add(row, result, len(job.members) or 1)
            row["verdict"] = tally.roster[-1].verdict
            yield from batch.member_rows(job, row)  # (a group's: a row for each of its students)

    edited = batch.keep_edited(args.out / "gradebook.csv")  # (ux123: a late student's rerun undid a TA's score)
    gradebook = batch.write_gradebook(rows(), args.out / "gradebook.csv")
    # (not --only's others whose results are not their files' now: ux131's kim, her file replaced, was grouped
    # with the honest files beside a row of the old 1.0; those graded with other settings are, rv41: two copies
    # left out so were "None: every file differs in its code")
    sources = {j.student: j.path for j in jobs
               if j.path is not None and (stale or {}).get(j.student) not in (batch.CHANGED, batch.ABSENT)}
    needs = _needs_you(args, jobs)
    # (ux131: a TA's corrected score undone by a rerun, their notes kept aside, and --only's others whose files
    # changed were said on the terminal alone, and the summary read the next day had no "Needs you" at all)
    if edited is not None:
        needs.append(f"gradebook.csv may hold changes of yours (it differs from what the batch wrote, or {args.out} "
                     f"keeps no record of that): kept as {edited.name}; the new gradebook.csv has the scores as "
                     f"graded, so carry your changes over from {edited.name} into it")
    if other_build:
        needs.append(f"graded by Dask workers whose grader or torch is not this one's ({batch.OTHER_BUILD_ADVICE}): "
                     f"{_some([safe_text.line(s, 80) for s in sorted(other_build)])}")
    kept_aside = sorted(set(args.feedback_kept))
    if kept_aside:
        needs.append("feedback.txt changed since the grader wrote it (notes of yours?), kept aside as feedback.edited-"
                     f"<UTC time>.txt beside the new one: {_some([safe_text.line(s, 80) for s in kept_aside])}")
    needs += [f"not graded (--only), {why}: {_some([safe_text.line(s, 80) for s in who])}; their rows are from "
              "before" for why, who in _stale_groups(stale or {}) if why != "no result yet"]
    failed = [student.student for student in tally.roster if student.status == "grader_error"]
    refused = _refused_here(args.out, failed)
    if refused:
        # (rt201: a rootless container's children, refused for want of Landlock, were each "the grader failed ...
        # run the same command again", which can never succeed)
        needs.append(f"this machine refuses to run students' code, so none of {len(failed)} student(s) was graded "
                     f"(status grader_error): {refused}")
    elif failed:
        # The grader's own failures are no student's score: a run that gave some is not done. (ux128: said on
        # stderr alone, and the summary's "Needs you" read the next day left them out.)
        needs.append(f"the grader itself failed on {len(failed)} student(s), no score yet and not their fault "
                     f"(status grader_error in gradebook.csv): {_some([safe_text.line(s, 80) for s in failed])}; "
                     "see their result.json where there is one (none where the worker grading them died twice), "
                     "then run the same command again: it grades only them")
    helpers = {j.student: dict(j.companions) for j in jobs if j.own_folder or j.companions}
    md, page = summary.write(replace(tally.summary(sources, helpers, ex.function), needs=needs,
                                     only=pending_note == ONLY_NOTE, forced=pending_note == FORCED_NOTE,
                                     kept=sum(1 for stands in standing.values() if stands == KEPT)), args.out)
    # Each result read again as it is written: the whole class is never held. And kept up to date where an
    # earlier run wrote one (ux123: a rerun without --format junit left junit.xml's 1.0 beside the gradebook's 10)
    if args.format == "junit" or (args.out / "junit.xml").is_file():
        from grader.report import junit

        junit.write(((j.student, None, pending_note or batch.NOT_GRADED_NOTE) if j.student in pending else
                     (j.student, _shown(batch.read_result(j, args.out, key), args), j.problem) for j in ordered),
                    ex.name, args.out / "junit.xml")
    return gradebook, md, page, tally, needs


def _interrupted(args: argparse.Namespace) -> int:
    """Ctrl-C, said, and the status a shell gives it."""
    print(f"grader: interrupted{_again(args)}", file=sys.stderr)
    return 128 + signal.SIGINT


def _again(args: argparse.Namespace) -> str:
    """Only a batch goes on where it stopped (ux111: a check told to "run the same command again to go on")."""
    if args.command == "batch" and getattr(args, "force", False):  # (the same command starts over: ux120)
        return "; run it again: with --force it grades every student again, without it those not graded yet keep " \
            "their earlier results"
    return "; run the same command again to go on" if args.command == "batch" else ""


def _batch_out(out: Path) -> bool:
    """batch.holds_results, asked only where it matters (batch is not imported for a self-check's start)."""
    from grader import batch

    return batch.holds_results(out)


def _out_problem(out: Path | None) -> str:
    """Why --out cannot be a folder to write in ("" if it can): a file there, or a file on its way,
    ended in a traceback and the exit status of the grader's own failure."""
    if out is None:
        return ""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                return f"--out {out}: {path} is a file, not a folder"
            break
    return ""


def _unmade(out: Path | None) -> str:
    """Why --out cannot be made ("" where it can), where `--out /sys/nope` was the grader's own failure, a
    traceback, exit 3 (ux130). Tried by making it, and what was made is removed again: a run refused
    later (a file that is a link) makes no OUT."""
    if out is None:
        return ""
    missing = [path for path in (out, *out.parents) if not path.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        os.close(os.open(out / ".grader-probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        os.unlink(out / ".grader-probe")
    except FileExistsError:
        pass  # (another run's probe this moment: it could write there)
    except OSError as err:  # (rt189: an OUT there but not writable graded the file, then failed with a traceback)
        return f"--out {out}: the folder cannot be made or written there ({err.strerror or err})"
    for path in missing:  # (deepest first)
        with contextlib.suppress(OSError):
            path.rmdir()
    return ""


def _exposed_problem(args: argparse.Namespace) -> str:
    """Why a class's files or results would be every student's to read ("" where not): a batch's
    folder or output, or the folder of the file `grade` grades (where its classmates may lie), in a
    folder every child reads, the system's or Python's (rt177: a class kept in /opt/course, its files,
    results and gradebook read by a student's code, which printed them into its own feedback). A
    student's own self-check is theirs."""
    from grader.sandbox import readable_to_children

    places = {"batch": [("the class folder", getattr(args, "folder", None)), ("--out", args.out)],
              "grade": [("the file's folder", args.file.parent if getattr(args, "file", None) else None),
                        ("--out", args.out)]}.get(args.command, [])
    for what, path in places:
        why = readable_to_children(path) if path is not None else None
        if why is not None:
            return f"{what} {path} {why}"
    return ""


def _solution_short(ex: Exercise, seed: int, device: str) -> str:
    """Why a course's exercise cannot grade a class ("" where it can): its reference solution, graded as a student's
    would be, short of full marks (ux137, ux138: one that defined another name, or forgot a factor, drew every
    student's pass beside none, without a word). The catalogue's are tested (tests/fast/test_catalogue.py)."""
    from grader import safe_text
    from grader.grade import grade_file

    if ex.shipped or not ex.solution.is_file():
        return ""
    outcome = grade_file(ex.solution, ex, seed=seed, device=device, own=True)  # (with the course's modules it imports)
    if outcome.score >= ex.max_score:
        return ""
    failed = next((f for f in outcome.findings if not f.passed), None)
    why = f" ({failed.name}: {safe_text.line(failed.summary, 200)})" if failed is not None else \
        f" ({outcome.grader_error})" if outcome.grader_error else ""
    return (f"{ex.source}: its reference solution {ex.solution} scores {outcome.score:g}/{ex.max_score:g} here"
            f"{why}; it must score full marks, since every student's pass is compared with its: fix it, then grade")


def _missing_solution(args: argparse.Namespace, ex: Exercise) -> str:
    """Why a grading command cannot use the exercise's reference solution ("" where it can): not there, where a
    batch or a grade drew every student's pass beside none, without a word (ux137). A student's self-check, given
    the .toml alone, goes on without it."""
    if args.command == "check" or ex.solution.is_file():
        return ""
    return (f"{ex.source}: its solution {ex.solution} is not there (`solution` is a path from the .toml's folder, to "
            "the reference solution, which must score full marks)")


def _exposed_solution(args: argparse.Namespace, ex: Exercise) -> str:
    """Why a course's own exercise's reference solution would be every student's to read ("" where not), in a
    batch or a grade: rt213's, beside its .toml in a folder any user enters, was printed into a student's own
    feedback where the kernel has no Landlock. The catalogue's shipped ones are this repository's, public already; a
    student's self-check of an exercise they were given is theirs."""
    from grader import submission

    if args.command not in ("batch", "grade") or ex.shipped:  # (rv48: not one a course added to reference/)
        return ""
    # The solution, and the course's modules beside it that it imports (rt219: its helper, readable where the
    # solution was not, was printed into a student's feedback)
    helpers = submission.solution_modules(ex.solution, ex.function)
    for path, what in ((ex.solution, "reference solution"), *((p, "reference solution's module") for p in helpers)):
        if why := _exposed(path, what):
            return why
    return ""


def _exposed(path: Path, what: str) -> str:
    """Why the exercise's file `path` would be every student's to read ("" where not)."""
    from grader.sandbox import readable_to_children

    try:
        real = Path(os.path.realpath(path))  # (rt214: a link to one in /tmp was checked where the link lay)
        facts = real.stat()
    except (OSError, ValueError):
        return ""
    if os.geteuid() == 0 and not facts.st_mode & stat.S_IROTH:
        return ""  # (a root grader's children run as users of their own: a file only its owner reads is none of theirs)
    why = readable_to_children(real.parent, solution=True)
    if why is None and facts.st_nlink > 1 and readable_to_children(Path("/tmp")) is not None:
        # (rt214: a hard link's other name may lie anywhere, /tmp say, where a child without Landlock reads it)
        return (f"the exercise's {what} {path} has other names (hard links), which may lie where "
                f"every student's code may read it: {_SOLUTION_ALONE}")
    shown = path if real == path.absolute() else f"{path}, a link to {real},"
    return f"the exercise's {what} {shown} {why}" if why is not None else ""


_SOLUTION_ALONE = "copy it to a file of its own, readable by you alone (chmod 600), beside the exercise's .toml."


def _fail_under_problem(score: float | None, ex: Exercise) -> str:
    """--fail-under NaN never failed (a CI gate silently off), and one above the maximum always does."""
    if score is None:
        return ""
    if not 0 <= score <= ex.max_score:
        return f"--fail-under {score:g}: give a score from 0 to {ex.max_score:g}, the exercise's maximum"
    return ""


def _list_exercises() -> int:
    from grader.exercise import catalogue

    for ex in catalogue():
        dtypes = ", ".join(ex.tolerances)
        print(f"{ex.name:14s} {ex.title}\n{'':14s} students write {ex.function}(x); the answer is {ex.formula}; "
              f"canary on {ex.primitive}; {dtypes}; {ex.max_score:g} points")
    return EXIT_OK


STALE_NOTE = "result older than the file (not graded this run: --only named others)"
# (ux128: a result graded without plots, or by an earlier grader or torch, was told "older than the file", which
# a TA reads as a student handing in again after the deadline)
SETTINGS_NOTE = "result from other settings or an earlier grader or torch (not graded this run: --only named others)"
ONLY_NOTE = "not graded yet: --only named others; run the batch without --only to grade this student"


FORCED_NOTE = "not graded yet: the batch stopped before this student; run it again without --force to grade only " \
    "those not graded yet"
KEPT = "kept"  # (a stopped batch's student not regraded, whose last result is for the same file: _stale_note)
KEPT_NOTE = "not graded again: the batch stopped first; this is the last run's result, for the same file"


def _stale_note(stands: str) -> str:
    from grader import batch

    return STALE_NOTE if stands == batch.CHANGED else KEPT_NOTE if stands == KEPT else SETTINGS_NOTE


def _stale_groups(stale: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """--only's others whose results are not current, by why (batch.standing): none yet, their files
    changed, or graded with other settings or by an earlier grader."""
    from grader import batch

    groups = [("no result yet", sorted(s for s, stands in stale.items() if stands == batch.ABSENT)),
              ("their files changed since their results",
               sorted(s for s, stands in stale.items() if stands == batch.CHANGED)),
              ("their results from other settings or an earlier grader or torch",
               sorted(s for s, stands in stale.items() if stands not in (batch.ABSENT, batch.CHANGED, KEPT)))]
    return [(why, who) for why, who in groups if who]


def _shown(result: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any] | None:
    """A result as a CI's log may show it: without the course's seed (ux128: a batch's junit.xml had it on
    every student, which check and grade leave out)."""
    if result is None or not _course_seeded(args):
        return result
    return {k: v for k, v in result.items() if k != "seed"}


def _course_seeded(args: argparse.Namespace) -> bool:
    """Whether the seed is the course's own (no --seed, and a course secret): then it draws the grids no
    student should be able to draw, and is not printed where a student reads (a CI's log: ux127)."""
    return args.seed is None and bool(_course_secret())


def _course_secret() -> str:
    """$GRADER_COURSE_SECRET as every command takes it, the spaces and line ends round it dropped as
    grid_seed drops them: "" where unset or blank (a secret of a newline alone was "a course secret" on
    the public grids)."""
    return os.environ.get("GRADER_COURSE_SECRET", "").strip()


def _seed(args: argparse.Namespace, ex: Exercise) -> int:
    """--seed, or the exercise's seed mixed with the course secret (read here, and only here)."""
    from grader.grids import grid_seed

    return args.seed if args.seed is not None else grid_seed(ex.name, _course_secret())


def _prewarm_plotting(ex: Exercise) -> None:
    try:
        from grader.probe import Plan
        from grader.report import plot

        plot.prewarm(ex, Plan.plot_grid(ex))
    except Exception:  # noqa: BLE001 - only a speed-up; rendering reports any real problem later
        pass
