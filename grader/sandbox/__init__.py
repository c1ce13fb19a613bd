"""The only code that starts processes or loads student code.

One way in: `open_session` runs a submission (a file afresh or forked from the warm zygote, or a
notebook's function in process) and returns the Conversation that probe drives (`share_zygote` and
`use_shared_zygote` only let a batch's workers fork from one zygote). The parent side
(session.py) never imports torch or the student's file; the child side (child.py) runs in its own
process. They talk through protocol.py: JSON headers and raw array bytes, which replies.py turns
into observations.
"""

from pathlib import Path

from grader.sandbox.gpus import visible as visible_gpus
from grader.sandbox.start import open_session, prewarm, share_zygote, use_shared_zygote

__all__ = ["layers_left_off", "open_session", "prewarm", "readable_to_children", "share_zygote", "unfiltered_as_you",
           "use_shared_zygote", "visible_gpus"]


def layers_left_off() -> tuple[list[str], list[str]]:
    """The layers $GRADER_SANDBOX_SKIP leaves off (a testing aid, never for real grading: confine.skipped),
    and the names in it that are no layer (rt192: "bogus" was said to be left off)."""
    from grader.sandbox import confine

    named = confine.skipped()
    return sorted(named & confine.SKIPPABLE), sorted(named - confine.SKIPPABLE)


def unfiltered_as_you() -> str | None:
    """Why others' files graded here keep what this user may do, in words, or None
    (confine.unfiltered_as_you: a grader that is no root, without libseccomp)."""
    from grader.sandbox import confine

    return confine.unfiltered_as_you()


def readable_to_children(path: Path) -> str | None:
    """Why every child may read what `path` holds, in words that follow its name, or None
    (confine.readable_to_children: a class or its results there would be every student's to read)."""
    from grader.sandbox import confine  # (its ctypes and seccomp set-up only where asked)

    return confine.readable_to_children(path)
