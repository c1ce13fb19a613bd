"""The verdict in a terminal: one row per check, the four-part message under it, the score."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import backward, safe_text
from grader.exercise import Exercise
from grader.outcome import HELD_BACK, Finding, Outcome

OUTPUT_LINES_SHOWN = 12


def console(stream: object = None) -> Console:
    target = stream or sys.stdout
    interactive = bool(getattr(target, "isatty", lambda: False)())
    return Console(file=target, highlight=False, width=None if interactive else 110)  # type: ignore[arg-type]


def as_text(outcome: Outcome, exercise: Exercise) -> str:
    """What `grader check` shows, as plain text a TA can hand back (feedback.txt beside result.json,
    which holds what is the staff's too: ux123 had no readable feedback to return)."""
    buffer = io.StringIO()
    # (without the seed: with a course secret it is the grids' own, which a student should not be able to
    # draw, ux124)
    show(outcome, exercise, None, None, Console(file=buffer, width=100, color_system=None, highlight=False,
                                                 force_terminal=False, emoji=False), title="Feedback", seed=False,
         where=False)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def show(outcome: Outcome, exercise: Exercise, plot: Path | None, result: Path | None, out: Console,
         title: str = "grader check", seed: bool = True, where: bool = True) -> None:
    """The outcome, as a terminal shows it; without the seed where not `seed`, and with the file's name alone
    where not `where` (ux133: feedback.txt, handed back, showed the TA's server path)."""
    out.print(Text.assemble((title, "bold"), " · ", exercise.title))
    devices = ", ".join(outcome.devices) or "-"
    # (a file's name is the student's: rt161's escape sequences in one cleared a TA's screen from feedback.txt
    # and showed a score of 10 of its own)
    seeded = f" · seed {outcome.seed}" if seed else ""
    shown = str(outcome.submission) if where else outcome.submission.name
    out.print(Text(f"{safe_text.line(shown, 300)} · device {devices}{seeded}", style="dim"))
    out.print()
    if outcome.status == "grader_error":
        out.print(Text("The grader itself failed; this is not your submission's fault.", style="bold red"))
        out.print(Text(outcome.grader_error.strip().splitlines()[-1] if outcome.grader_error else "", style="red"))
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(width=1)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(ratio=1)
    for finding in outcome.findings:
        mark = Text("✓", style="bold yellow" if finding.held_back else "bold green") if finding.passed else \
            Text("✗", style="bold red")
        points = f"{finding.score:g} / {finding.max_score:g}"
        table.add_row(mark, finding.name.replace("_", " "), points, _message(finding))
    out.print(table)
    out.print()
    _score_line(outcome, out, seed)
    if outcome.status == "graded" and outcome.plot is not None and outcome.plot.returned is None and \
            outcome.plot.note.startswith("Your code"):  # (ux134: the plot's call ran out of time, said nowhere)
        out.print(Text(f"No picture of your curve: {outcome.plot.note[0].lower()}{outcome.plot.note[1:]}", style="dim"))
    _backward(outcome, out)
    _printed(outcome, exercise, out)
    if outcome.sandbox_events:
        # (matplotlib's first import tries fc-list, which the sandbox refuses: a student who plots
        # read "Recorded for review: subprocess.Popen" as an accusation, with nothing said of the score)
        # (each with what honest code does the same, as the TA's summary says it: hn127's asyncio.run())
        from grader.report.summary import also_honest

        events = [event + also_honest(event) for event in outcome.sandbox_events[:6]]
        out.print(Text("Recorded for your TA to read, not part of the score: " + "; ".join(events), style="dim"))
    if result:
        out.print(f"Result: {result}")
    if plot:
        out.print(Text.assemble("Feedback plot: ", (str(plot), "bold")))
        drawn = plot.with_name("backward.png")  # written beside it when a pass was recorded
        if outcome.backward is not None and drawn.is_file():
            out.print(Text.assemble("Backward pass: ", (str(drawn), "bold")))


def _message(finding: Finding) -> Text:
    text = Text(finding.summary, style="bold" if not finding.passed else "")
    if finding.held_back:
        text.append("\n" + HELD_BACK, style="yellow")
    for part, style in ((finding.example, ""), (finding.cause, "yellow"), (finding.advice, "cyan")):
        if part:
            text.append("\n" + ("→ " + part if style == "cyan" else part), style=style)
    for line in finding.evidence:
        text.append("\n" + line, style="dim")
    return text


def _score_line(outcome: Outcome, out: Console, seed: bool = True) -> None:
    full = outcome.score >= outcome.max_score
    style = "bold green" if full else "bold red" if outcome.score == 0 else "bold yellow"
    out.print(Text.assemble("Score ", (f"{outcome.score:g} / {outcome.max_score:g}", style)))
    autograd = next((f for f in outcome.findings if f.name == "autograd"), None)
    if autograd and autograd.data.get("unproven") and any(f.passed and f.max_score for f in outcome.findings):
        out.print(Text("Only loading the file scores, because autograd was not shown for every input (see autograd).",
                       style="red"))
    elif 0 < outcome.score < outcome.max_score and seed:
        # (ux112: a self-check's 4.5 and a grade of record's 2.9, told nothing of why they differ)
        out.print(Text(f"A grade of record may draw other inputs than seed {outcome.seed} did (a course's own "
                       "seed): what fails here fails there too, but a score short of full marks may move a little.",
                       style="dim"))


def _backward(outcome: Outcome, out: Console) -> None:
    """The backward pass written out; the reference's beside it only where they differ."""
    recorded = outcome.backward
    if recorded is None:
        return
    x = ", ".join(f"{v:g}" for v in recorded.input_values[:6]) + (", …" if len(recorded.input_values) > 6 else "")
    out.print(Text(f"Your backward pass at x = {recorded.sample_x:g} (input [{x}]):", style="bold"))
    for line in backward.written_steps(recorded.student) or ["(no backward step ran)"]:
        out.print(Text("  " + line))
    agrees = recorded.divergence is None
    if not agrees and recorded.reference:
        out.print(Text("The reference solution's:", style="bold"))
        for line in backward.written_steps(recorded.reference):
            out.print(Text("  " + line, style="dim"))
    out.print(Text(("✓ " if agrees else "✗ ") + backward.headline(recorded), style="green" if agrees else "red"))


def _a_printed_check(line: str) -> bool:
    """Whether a printed line looks like a comparison's answer: True and False alone (a tensor of them too,
    `tensor([True, False])`: rv40), or beside words of one."""
    return re.sub(r"tensor|True|False|[\s()\[\],.:]", "", line) == "" or bool(
        re.search(r"allclose|isclose|equal|\bcos|match|same|==|check|correct|agree", line, re.IGNORECASE))


def _printed(outcome: Outcome, exercise: Exercise, out: Console) -> None:
    for name, text, total in (("stdout", outcome.stdout, outcome.stdout_bytes),
                              ("stderr", outcome.stderr, outcome.stderr_bytes)):
        if not total:
            continue
        lines = text.splitlines()
        kept = f", the first {len(text.encode()):,} kept" if outcome.output_truncated else ""
        out.print(Text(f"Your code printed {total:,} bytes on {name}{kept}:", style="dim"))
        for line in lines[:OUTPUT_LINES_SHOWN]:
            out.print(Text("  │ " + line, style="dim"), no_wrap=True, overflow="ellipsis")
        if len(lines) > OUTPUT_LINES_SHOWN:
            out.print(Text(f"  │ … {len(lines) - OUTPUT_LINES_SHOWN} more lines", style="dim"))
        if any("AddcmulBackward0" in line for line in lines[:OUTPUT_LINES_SHOWN]):
            # (ux117 printed y and read grad_fn=<AddcmulBackward0> where its own run shows SinBackward0,
            # and took its sin to be wrong; the README says why, the student's screen did not)
            own = f"{exercise.primitive.title()}Backward0"
            out.print(Text(f"  (AddcmulBackward0 in what you printed is the grader's: it runs autograd's "
                           f"{exercise.primitive} through a graph node of its own, so a grad_fn reads "
                           f"AddcmulBackward0 here where it reads {own} on your machine.)", style="dim"))
        checks = [line for line in lines if _a_printed_check(line)]
        if any(re.search(r"\bFalse\b", line) for line in checks) and \
                any(re.search(r"\bTrue\b", line) for line in checks):
            # (hn131's printed check of autograd against the formula read False on 53 of 205 calls, unexplained;
            # not said of any True and False printed: hn134's x.requires_grad beside x's shape)
            out.print(Text(f"  (A check you print of autograd against a formula of {exercise.primitive}'s "
                           "derivative reads False on some calls here: on those the grader swaps that derivative on "
                           "purpose, to see that your answer comes from autograd. Expected; not a mistake of yours.)",
                           style="dim"))
        elif any(re.search(r"\d\.\d", line) and re.search(r"grad|deriv|tensor\(", line, re.IGNORECASE)
                 for line in lines[:OUTPUT_LINES_SHOWN]):  # (a gradient's numbers: not "torch 2.4.0" or "loss 0.5")
            # (hn156's honest file printed grad[12] at x = 0 and read 0.6475, then 1.2708 on the next run,
            # beside "should be cos(0) = 1": those lines came from calls under the secret, unexplained)
            out.print(Text(f"  (Numbers printed here may come from calls on which the grader swaps the derivative of "
                           f"{exercise.primitive} for a secret one on purpose, to see that your answer comes from "
                           "autograd: a gradient printed on those calls is not the true one, and differs from run to "
                           "run. Expected; not a mistake of yours.)", style="dim"))
