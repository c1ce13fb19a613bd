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

__all__ = ["grading_here", "open_session", "prewarm", "readable_to_children", "share_zygote", "use_shared_zygote",
           "visible_gpus"]


def grading_here(others: bool) -> tuple[list[str], str | None]:
    """What a grading command says before it starts, as (warnings, a refusal or None), in words: the layers
    $GRADER_SANDBOX_SKIP leaves off (a testing aid: rt191, every run with layers off said nothing) and the
    names in it that are no layer (rt192: "bogus" was said to be left off); where the grader is no root and
    libseccomp cannot be loaded, what `others`' files keep of its user's rights; and a skip that would undo
    a refusal (rt195: landlock left off for a child that keeps uid 0 read a classmate's file and overwrote
    their result), which only the grader's own tests may ask, through its Python API (confine.apply)."""
    from grader.sandbox import confine

    return confine.grading_here(others)


def readable_to_children(path: Path, solution: bool = False) -> str | None:
    """Why every child may read what `path` holds, in words that follow its name, or None
    (confine.readable_to_children: a class or its results there would be every student's to read; with
    `solution`, an exercise's reference solution)."""
    from grader.sandbox import confine  # (its ctypes and seccomp set-up only where asked)

    return confine.readable_to_children(path, solution)
