"""Grade one submission: the whole pipeline, top to bottom.

submission file -> sandbox child -> observations -> checks -> score -> Outcome (reports render it)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from grader import backward, checks, feedback, probe, safe_text, sandbox, score, sources, submission, verdict
from grader.early import Started
from grader.exercise import Exercise
from grader.grids import PLAIN_LAYOUTS, grid_seed
from grader.observations import Observations, Output
from grader.outcome import BackwardPass, Finding, Outcome, PlotData
from grader.probe import Plan
from grader.sandbox.replies import parse_events
from grader.sandbox.session import Conversation


def cache_key(source_sha256: str, exercise: Exercise, seed: int, device: str) -> str:
    """What a result depends on: reusing a result with the same key gives the same grade. The grader's
    own code and torch's version are part of it, not the version number alone: a verdict rule changed
    between releases (every session changes some) left a resumed batch keeping results graded by the
    old rules beside new ones."""
    from grader import __version__

    parts = [source_sha256, hashlib.sha256(exercise.source.read_bytes()).hexdigest(), str(seed), device, __version__,
             code_digest(), _solution_digest(exercise.solution)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@functools.cache
def code_digest() -> str:
    """The grader's sources and torch's version, once per process (about 50 files: a few ms)."""
    digest = hashlib.sha256(sources.digest(Path(__file__).resolve().parent).encode())
    with contextlib.suppress(metadata.PackageNotFoundError):
        digest.update(metadata.version("torch").encode())
    return digest.hexdigest()


@functools.cache
def _solution_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def grade_file(path: Path, exercise: Exercise, *, seed: int | None = None, course_secret: str = "",
               device: str = "auto", plan: Plan | None = None, warm: bool = False,
               started: Started | None = None, helpers: bool = True,
               companions: dict[str, Path] | None = None, own: bool = False, top: Path | None = None) -> Outcome:
    """Grade one file. Never raises for anything the submission does; SubmissionError if the path
    is not a gradable file. A failure of the grader itself becomes an Outcome saying so. With `warm`
    the sandbox child is forked from this process's warm zygote; without, it imports torch while we
    draw the grids. `started`: the child early.start began for this very file, before this module
    was imported (`grader check` and `grade`). With `helpers`, the modules of the student's own
    beside the file that it imports are graded with it (submission.modules_beside): where its folder
    is the student's own (a class folder of files, one per student, lends none); `companions`, by
    their own names, where the file lies among classmates' (a platform's flat download); `own`: the folder
    is known to be the student's alone, `top` its top where the file lies below it (submission.read)."""
    # (not where the file is the solution itself, as cli._solution_short grades it: its own child may hold its text)
    if probe.reference_apart(exercise) and not _same_file(path, exercise.solution):
        _record_reference(exercise, warm)
    if started is not None and started.path == path:
        sub, session, clock = started.submission, started.session, started.clock
        if session is not None:
            return _grade(sub, session, exercise, clock, seed=seed, course_secret=course_secret, device=device,
                          plan=plan)
    clock = time.perf_counter()
    sub = submission.read(path, helpers=helpers, function=exercise.function, companions=companions,
                          exercise=exercise.name, own=own, top=top)
    try:
        session = sandbox.open_session(sub.path, exercise.limits, warm=warm, content=sub.source, helpers=sub.helpers,
                                       package=sub.package)
    except Exception as err:  # noqa: BLE001 - a child that cannot start (an OSError, say): this file's grader error
        seed = plan.seed if plan is not None else seed if seed is not None else grid_seed(exercise.name, course_secret)
        return _grader_failure(sub, exercise, seed, err, time.perf_counter() - clock,
                               cache_key(sub.graded_sha256, exercise, seed, device))
    return _grade(sub, session, exercise, clock, seed=seed, course_secret=course_secret, device=device, plan=plan)


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.samefile(other)
    except OSError:
        return False


def _record_reference(exercise: Exercise, warm: bool) -> None:
    """The reference solution's pass, recorded in a sandbox child of its own that runs no submission (probe.
    reference_apart): its file is the solution, read here as a student's is, with the course's modules beside it
    that it imports (hn154's solution importing a helper of the course's recorded no pass)."""
    try:
        sub = submission.read(exercise.solution, helpers=True, function=exercise.function, own=True)
        session = sandbox.open_session(sub.path, exercise.limits, warm=warm, content=sub.source, helpers=sub.helpers,
                                       package=sub.package)
    except Exception:  # noqa: BLE001 - no child for it: the students' passes are drawn alone, as for no solution
        probe.record_reference_failed(exercise)
        return
    try:
        case, index = backward.trace_input(exercise)
        probe.record_reference(session, exercise, case, index)
    finally:
        session.close()


def grade_function(function: Callable[..., Any], exercise: Exercise, *, seed: int | None = None,
                   course_secret: str = "", device: str = "auto") -> Outcome:
    """Grade a function defined in this process (the notebook self-check): the same grids, checks
    and canary, run in process (see sandbox/inprocess.py). Not a grade of record."""
    started = time.perf_counter()
    sub = submission.from_function(function)
    session = sandbox.open_session(function, exercise.limits)
    return _grade(sub, session, exercise, started, seed=seed, course_secret=course_secret, device=device, plan=None)


def _grade(sub: submission.Submission, session: Conversation, exercise: Exercise, started: float, *,
           seed: int | None, course_secret: str, device: str, plan: Plan | None) -> Outcome:
    seed = plan.seed if plan is not None else seed if seed is not None else grid_seed(exercise.name, course_secret)
    key = cache_key(sub.graded_sha256, exercise, seed, device)
    try:
        plan = plan or Plan.draw(exercise, seed)
        # The whole submission's time, the smallest failing input and the recorded pass included.
        deadline = time.monotonic() + exercise.limits.total_timeout_s
        observations = probe.collect(session, exercise, plan, exercise.draw_secret(), device, deadline)
        if observations.load.ok:
            observations = probe.shrink(session, observations, exercise, plan, checks.case_predicates(exercise),
                                        checks.SHRINK_LAYOUTS, deadline)
            case, index = backward.trace_input(exercise)
            observations = probe.trace(session, observations, case, index, exercise.limits.call_timeout_s, deadline,
                                       exercise.function_values)
    except Exception as err:  # noqa: BLE001 - the grader's own failure must still produce a result
        failure: Exception | None = err
    else:
        failure = None
    finally:
        session.close()
    if failure is not None:
        # What the submission did is on record all the same (a red team noticed it was dropped).
        try:
            events = parse_events(session.events())
        except Exception:  # noqa: BLE001 - the failure's result comes first
            events = ()
        return _grader_failure(sub, exercise, seed, failure, time.perf_counter() - started, key, events)
    out, out_bytes, err_text, err_bytes = session.output()
    observations = replace(observations, events=parse_events(session.events()))
    truncated = out_bytes > len(out.encode()) or err_bytes > len(err_text.encode())
    # Tracebacks and warnings name the sandbox's copy; show the student their own file's name. What
    # it printed enters the parent here, and is made safe to show anywhere once, here.
    kept = exercise.limits.output_kib << 10
    out, err_text = (safe_text.text(text.replace(str(session.path), sub.path.name), kept) for text in (out, err_text))
    # What the code does anywhere, its modules' too (rt212: an honest chain whose scripted link lay in a helper
    # module was listed as finished by hand, the TorchScript in it unseen); where, the file's own lines alone
    code = (sub.source, *(data for _, data in sub.helpers))
    observations = replace(observations, output=Output(out, out_bytes, err_text, err_bytes),
                           source_hits=submission.scan(sub.source, exercise.telltales),
                           source_uses_autograd=any(submission.uses_autograd(text) for text in code),
                           source_reads_graph=any(submission.reads_graph(text) for text in code),
                           source_compiles=any(submission.compiles(text) for text in code),
                           notebook=sub.path.suffix.lower() == ".ipynb", blank=submission.is_blank(sub.source),
                           not_python=submission.not_python(sub.source, sub.path.suffix.lower() == ".ipynb"),
                           # (looked for only where the function is missing: a walk of the whole tree)
                           nested=submission.nested_definition(sub.source, exercise.function)
                           if observations.load.missing == "missing" else None, passed_over=sub.passed_over,
                           left_out=sub.left_out, shadowed=sub.shadowed, withheld=sub.withheld,
                           classmates=sub.classmates, linked=sub.linked)
    # The checks judge whatever came back: a submission's numbers near float64's ends overflow
    # their arithmetic on purpose (inf and NaN then fail the comparisons), not worth a warning.
    try:
        with np.errstate(all="ignore"):
            findings, total = score.apply([check(observations, exercise) for check in checks.ALL], exercise)
    except Exception as err:  # noqa: BLE001 - a check's own failure: this file's grader error, on record
        # (a red team's answers near float64's ends once failed a check, and the CLI wrote no result)
        return _grader_failure(sub, exercise, seed, err, time.perf_counter() - started, key, observations.events)
    described = _described(observations, exercise, findings)
    if observations.notebook:  # lines named by the notebook's cells, not the script's
        places = submission.cell_places(sub.source)

        def cells(text: str) -> str:
            return submission.in_cells(text, places)
        findings = [replace(f, summary=cells(f.summary), example=cells(f.example), cause=cells(f.cause),
                            advice=cells(f.advice), evidence=tuple(cells(e) for e in f.evidence)) for f in findings]
        if described is not None and described.divergence:
            described = replace(described, divergence=cells(described.divergence))
    return Outcome(
        submission=sub.path,
        sha256=sub.sha256,
        helpers=_helpers(sub),
        exercise=exercise.name,
        status=_status(observations, exercise),
        findings=tuple(findings),
        score=total,
        max_score=exercise.max_score,
        seed=seed,
        devices=observations.devices,
        versions=versions(observations.torch_version),
        duration_s=round(time.perf_counter() - started, 3),
        plot=_plot_data(observations, exercise, next((f.summary for f in findings if f.name == "loads"), "")),
        stdout=out,
        stdout_bytes=out_bytes,
        stderr=err_text,
        stderr_bytes=err_bytes,
        output_truncated=truncated,
        sandbox_layers=observations.layers,
        sandbox_events=observations.events,
        cache_key=key,
        backward=described,
    )


def _described(obs: Observations, ex: Exercise, findings: list[Finding]) -> BackwardPass | None:
    """The backward pass in words; feedback only, so a failure here costs the picture, never the grade."""
    autograd = next((f for f in findings if f.name == "autograd"), None)
    proven = autograd is not None and not autograd.data.get("unproven", True)
    moved = autograd is not None and not autograd.data.get("bypassed", True)
    verdicts = autograd.data.get("verdicts", {}) if autograd is not None else {}
    shown = any(verdicts.get(name, 0) for name in verdict.SHOWN)
    correct = any(f.name == "correctness" and f.passed for f in findings)
    try:
        return backward.describe(obs, ex, proven, moved, shown, correct)
    except Exception:  # noqa: BLE001 - the recorded numbers are the submission's; the score stands without them
        return None


def _status(obs: Observations, ex: Exercise) -> str:
    if obs.ended is not None and obs.ended.reason == "protocol":
        return "crash"  # it broke the protocol: whether while loading or later, the submission's crash
    if not obs.load.ok:
        # (an import that never ends is the TA's "timed out", as at a call: ux118 read a hang at import
        # as "did not load". A sandbox bound met at import, memory, threads or files, stays a load error:
        # the loads finding names the bound)
        return "timeout" if obs.ended is not None and obs.ended.reason == "timeout" else "load_error"
    if obs.ended is not None and obs.ended.reason == "timeout" and obs.ended_case is None and \
            len(obs.cases) == len(obs.planned):
        # Every input graded, the time out in the plot's call after them: graded (ux134's file, printing 3,000
        # lines a call, was 10/10 "timeout" on one run in three, where the plot's call ran past 120 s)
        return "graded"
    if obs.ended is not None:
        return {"timeout": "timeout", "memory": "memory"}.get(obs.ended.reason, "crash")
    memory = any(c.error and feedback.explain_error(c.error, ex).key == "memory" for r in obs.cases for c in r.calls)
    return "memory" if memory else "graded"


def _plot_data(obs: Observations, ex: Exercise, loads: str = "") -> PlotData | None:
    if obs.plot_x is None:
        return None
    values = obs.plot.values if obs.plot is not None else None
    if values is not None and (values.size != obs.plot_x.size or np.iscomplexobj(values)):
        values = None
    low, high = ex.plot_range
    failing: list[float] = []
    dtypes: set[str] = set()
    for r in obs.cases:
        if r.case.layout not in PLAIN_LAYOUTS:
            continue
        got = checks.values_of(r.plain, r.case)
        # An input that raised, or answered None or another shape, fails at every element (ux111: a
        # file that failed all 35 inputs with errors showed no failing input at all)
        failed = np.ones(r.case.values.shape, dtype=bool) if got is None or np.iscomplexobj(got) else \
            ~checks.within_tolerance(got, r.case, ex)
        xs = r.case.values[failed]
        xs = xs[(xs >= low) & (xs <= high)]
        failing.extend(float(x) for x in xs)
        if xs.size:
            dtypes.add(r.case.dtype)
    if values is not None:
        return PlotData(obs.plot_x, values.ravel(), tuple(failing[:300]), failing_dtypes=tuple(sorted(dtypes)))
    if obs.plot is not None:
        note = f"On these {obs.plot_x.size} points your function {feedback.returned_words(obs.plot)}."
    elif obs.ended is not None:
        note = f"Your code {obs.ended.detail}."
    else:
        error = obs.load.error
        reason = f": {error.headline()}" if error else f": it has no callable {ex.function}" if obs.load.missing else ""
        # (the loads check's own words where it has them: ux137's plot read "ValueError: this file is larger than the
        # grader reads" and "source code string cannot contain null bytes" beside a feedback.txt that said why)
        said = loads.split("\n", 1)[0].strip()
        note = (said or f"Your file did not load{reason}.") if not obs.load.ok else "No values came back."
    return PlotData(obs.plot_x, None, tuple(failing[:300]), note=note)


def versions(torch_version: str = "") -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch_version, **_package_versions()}


@functools.cache
def _package_versions() -> dict[str, str]:
    # Read once per process: each lookup scans site-packages, a few ms that a batch pays per file.
    found = {}
    for package in ("grader", "numpy", "hypothesis", "matplotlib"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


def _helpers(sub: submission.Submission) -> tuple[tuple[str, str], ...]:
    return tuple((h["name"], h["sha256"]) for h in sub.helper_hashes())


def _grader_failure(sub: submission.Submission, ex: Exercise, seed: int, err: Exception,
                    duration: float, key: str, events: tuple[str, ...] = ()) -> Outcome:
    detail = "".join(traceback.format_exception(err))[-4000:]
    findings = [Finding(name, False, 0.0, "Not graded: the grader itself failed, not your submission.",
                        score=0.0, max_score=points) for name, points in ex.rubric.items()]
    return Outcome(
        submission=sub.path, sha256=sub.sha256, exercise=ex.name, status="grader_error",
        findings=tuple(findings), score=0.0, max_score=ex.max_score, seed=seed, devices=(),
        versions=versions(), duration_s=round(duration, 3), grader_error=detail, cache_key=key,
        sandbox_events=events, helpers=_helpers(sub),
    )
