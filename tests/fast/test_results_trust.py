"""What a batch writes into a student's folder, and what it reads back from it. Where results are
written beside the submissions, that folder is the student's: whatever it holds before the batch
runs (links, FIFOs, a result.json of their own) is theirs, and must steer nothing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from grader import batch
from grader.report import atomic
from grader.report.result_json import signature, signed


def test_a_file_is_written_over_a_link_never_through_it(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's")
    folder = tmp_path / "bob"
    folder.mkdir()
    for name in ("feedback.png", ".feedback.png.partial", "result.json"):
        (folder / name).symlink_to(victim)
    atomic.write(folder / "feedback.png", b"\x89PNG")
    atomic.write(folder / "result.json", "{}")
    assert victim.read_text() == "someone else's"
    assert not (folder / "feedback.png").is_symlink() and (folder / "feedback.png").read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in folder.iterdir()) == [".feedback.png.partial", "feedback.png", "result.json"]


def test_a_result_counts_only_with_this_batchs_signature(tmp_path: Path):
    key = batch.results_key(tmp_path)
    assert batch.results_key(tmp_path) == key and (tmp_path / batch.KEY_FILE).stat().st_mode & 0o777 == 0o600
    result = {"cache_key": "k", "status": "graded", "score": 10.0}
    path = tmp_path / "result.json"
    path.write_text(json.dumps({**result, "signature": signature(result, key)}))
    assert signed(path, key) == {**result, "signature": signature(result, key)}
    path.write_text(json.dumps(result))  # a student's own, with the right cache key
    assert signed(path, key) is None
    path.write_text(json.dumps({**result, "score": 1.0, "signature": signature(result, key)}))  # edited
    assert signed(path, key) is None
    path.write_text(json.dumps({**result, "signature": signature(result, b"another batch's key")}))
    assert signed(path, key) is None
    path.write_text("[1, 2]")
    assert signed(path, key) is None


def test_reading_a_result_follows_no_link_and_waits_on_no_fifo(tmp_path: Path):
    key = batch.results_key(tmp_path)
    result = {"status": "graded"}
    real = tmp_path / "real.json"
    real.write_text(json.dumps({**result, "signature": signature(result, key)}))
    (tmp_path / "link.json").symlink_to(real)
    assert signed(real, key) is not None and signed(tmp_path / "link.json", key) is None
    os.mkfifo(tmp_path / "fifo.json")
    answer: list[object] = []
    reader = threading.Thread(target=lambda: answer.append(signed(tmp_path / "fifo.json", key)), daemon=True)
    reader.start()
    reader.join(5)
    assert answer == [None]


def test_a_key_that_is_not_one_is_replaced(tmp_path: Path):
    (tmp_path / batch.KEY_FILE).write_text("short")
    key = batch.results_key(tmp_path)
    assert len(key) == 32 and batch.results_key(tmp_path) == key


def test_a_folder_where_a_file_goes_is_moved_aside_not_lost(tmp_path: Path):
    """A student submitted a folder named result.json: the file could not take its place, and their
    cos cheat was reported as the grader's failure on every run of the batch."""
    folder = tmp_path / "mallory"
    for name in ("result.json", "feedback.png", "backward.png"):
        (folder / name / "x").mkdir(parents=True)
        (folder / name / "x" / "kept.txt").write_text(name)
    atomic.write(folder / "result.json", "{}")
    atomic.write(folder / "feedback.png", b"\x89PNG")
    atomic.remove(folder / "backward.png")
    assert (folder / "result.json").read_text() == "{}" and (folder / "feedback.png").read_bytes() == b"\x89PNG"
    assert not (folder / "backward.png").exists()
    aside = sorted(p for p in folder.iterdir() if ".in-the-way-" in p.name)
    assert sorted((p / "x" / "kept.txt").read_text() for p in aside) == ["backward.png", "feedback.png", "result.json"]
    link = folder / "linked"
    link.symlink_to(aside[0], target_is_directory=True)
    atomic.remove(link)  # a link to a folder is removed as a link: the folder it named stays where it is
    assert not link.exists() and aside[0].is_dir()


def test_pictures_this_grading_did_not_draw_are_not_left_to_be_linked(tmp_path: Path):
    """With --no-plot (or nothing to plot) the summary linked whatever feedback.png a student's folder
    held: a red team planted another student's 10/10 beside their own 1/10."""
    from grader.exercise import load
    from grader.outcome import Outcome
    from grader.report import write_files

    outcome = Outcome(tmp_path / "bob.py", "0" * 64, "sin", "load_error", (), 0.0, 10.0, 7, ("cpu",), {}, 0.1)
    for plot in (False, True):  # not asked for; asked for, but nothing to plot (it did not load)
        folder = tmp_path / f"bob-{plot}"
        folder.mkdir()
        for name in ("feedback.png", "backward.png"):
            (folder / name).write_bytes(b"\x89PNG alice's 10/10")
        write_files(outcome, load("sin"), folder, plot=plot)
        assert sorted(p.name for p in folder.iterdir()) == [".grader-feedback", "feedback.txt", "result.json"]


def test_feedback_txt_shows_a_file_name_made_safe(sin):
    """rt161: escape sequences in a cos cheat's file name, raw in feedback.txt, cleared a TA's screen and
    showed a score of 10 of their own above the real 1."""
    from grader.outcome import Finding, Outcome
    from grader.report import terminal

    outcome = Outcome(submission=Path("zed/\x1b[2J\x1b[HScore 10 of 10\x1b[8m.py"), sha256="", exercise="sin",
                      status="graded", findings=(Finding("loads", True, 1.0, "It loads."),), score=1.0,
                      max_score=10.0, seed=1, devices=("cpu",), versions={}, duration_s=0.1)
    words = terminal.as_text(outcome, sin)
    assert "\x1b" not in words and "Score 1 / 10" in words


def test_what_was_recorded_for_the_ta_says_what_honest_code_does_the_same(sin):
    """hn127: asyncio.run() in an honest file showed the student "Recorded for your TA to read:
    socket.__new__", with no word of asyncio, which the TA's summary gives."""
    from grader.outcome import Finding, Outcome
    from grader.report import terminal

    outcome = Outcome(submission=Path("amy.py"), sha256="", exercise="sin", status="graded",
                      findings=(Finding("loads", True, 1.0, "It loads."),), score=10.0, max_score=10.0, seed=1,
                      devices=("cpu",), versions={}, duration_s=0.1, sandbox_events=("socket.__new__",))
    words = " ".join(terminal.as_text(outcome, sin).split())
    assert "socket.__new__ (asyncio's event loop makes a socket pair so too)" in words, words


def test_a_student_not_graded_this_run_keeps_no_earlier_feedback_to_hand_back(tmp_path: Path, sin):
    """ux124: alice's cos file, come beside her graded one, left her "needs you" with an empty score, but
    her feedback.txt still said "Score 10 / 10" to a TA handing back every student's."""
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "feedback.txt").write_text("Feedback · ...\nScore 10 / 10\n")
    job = batch.Job("alice", None, "both files define get_derivative(x): solution.py, solution_late.py; keep one")
    batch.replace_feedback(job, tmp_path, sin)
    said = (tmp_path / "alice" / "feedback.txt").read_text()
    assert "Score 10" not in said and "Not graded: both files define get_derivative(x)" in said
    batch.replace_feedback(batch.Job("bo", None, batch.NO_FILE), tmp_path, sin)  # (no folder: nothing made)
    assert not (tmp_path / "bo").exists()


def test_a_result_is_reused_only_by_the_same_grader_code_and_torch(tmp_path: Path, monkeypatch):
    """A verdict rule changed without a new version number left a resumed batch keeping results the old
    rules graded beside new ones: the key holds the grader's sources and torch's version too."""
    from grader import exercise, grade, sources

    def _read_afresh() -> None:  # (both caches: the digest is one walk a process, shared with the hello)
        grade.code_digest.cache_clear()
        sources.digest.cache_clear()

    sin = exercise.load("sin")
    _read_afresh()
    before = grade.cache_key("a" * 64, sin, 7, "cpu")
    assert grade.cache_key("a" * 64, sin, 7, "cpu") == before  # same everything, same key
    package = tmp_path / "grader"
    package.mkdir()
    (package / "verdict.py").write_text("RULE = 1\n")
    monkeypatch.setattr(grade, "__file__", str(package / "grade.py"))
    _read_afresh()
    one = grade.cache_key("a" * 64, sin, 7, "cpu")
    (package / "verdict.py").write_text("RULE = 2\n")
    _read_afresh()
    assert grade.cache_key("a" * 64, sin, 7, "cpu") not in (one, before)
    keys = []
    for torch_version in ("2.11.0", "2.13.0"):
        monkeypatch.setattr(grade.metadata, "version", lambda name, v=torch_version: v)
        _read_afresh()
        keys.append(grade.cache_key("a" * 64, sin, 7, "cpu"))
    assert keys[0] != keys[1]
    _read_afresh()


def test_a_feedback_txt_the_ta_changed_is_kept_aside_before_it_is_written_again(tmp_path: Path, sin):
    """ux130: notes a TA added to a student's feedback.txt were lost to the next rerun, without a word."""
    from grader.report import EDITED_FEEDBACK, write_feedback

    write_feedback(tmp_path, "Score 10 / 10\n")
    write_feedback(tmp_path, "Score 9 / 10\n")  # (as written: replaced, nothing kept)
    assert not list(tmp_path.glob(EDITED_FEEDBACK))
    with open(tmp_path / "feedback.txt", "a") as handle:
        handle.write("TA: see me about the plot\n")
    write_feedback(tmp_path, "Score 8 / 10\n")
    kept = list(tmp_path.glob(EDITED_FEEDBACK))
    assert len(kept) == 1 and "TA: see me" in kept[0].read_text()
    assert (tmp_path / "feedback.txt").read_text() == "Score 8 / 10\n"
    # A student not graded this run: her note replaces the grader's words, and is no TA's edit the next time
    (tmp_path / "alice").mkdir()
    write_feedback(tmp_path / "alice", "Score 10 / 10\n")
    batch.replace_feedback(batch.Job("alice", None, "both files define get_derivative(x)"), tmp_path, sin)
    write_feedback(tmp_path / "alice", "Score 10 / 10\n")
    assert not list((tmp_path / "alice").glob(EDITED_FEEDBACK))
    # rv40: killed between the record and the words, the next grading took its own words for a TA's
    import pytest

    (tmp_path / "killed").mkdir()
    write_feedback(tmp_path / "killed", "Score 6 / 10\n")
    real = atomic.write
    calls = []

    def killed_at_the_words(path, data, private=False):
        calls.append(path.name)
        if path.name == "feedback.txt":
            raise KeyboardInterrupt
        return real(path, data, private)

    atomic.write = killed_at_the_words
    try:
        with pytest.raises(KeyboardInterrupt):
            write_feedback(tmp_path / "killed", "Score 5 / 10\n")
    finally:
        atomic.write = real
    assert calls == [".grader-feedback", "feedback.txt"]
    assert write_feedback(tmp_path / "killed", "Score 5 / 10\n") is False
    assert not list((tmp_path / "killed").glob(EDITED_FEEDBACK))
    # A feedback.txt of a grader that kept no record (before this one): nothing to tell apart, none kept
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "feedback.txt").write_text("Score 7 / 10\n")
    write_feedback(tmp_path / "old", "Score 7 / 10\n")
    assert not list((tmp_path / "old").glob(EDITED_FEEDBACK))


def test_a_timeout_in_the_plots_call_after_every_input_is_graded_is_no_timeout(sin):
    """ux134: a file printing 3,000 lines a call, 10/10, was filed "timeout" on one run in three (the plot's call,
    after every input, ran past the file's time), and nothing said so."""
    from dataclasses import replace as changed

    from grader import grade
    from grader.observations import Ended, LoadResult, Observations
    from grader.outcome import PlotData
    from grader.report import terminal

    planned = tuple(range(3))
    done = Observations(load=LoadResult(True), cases=planned, planned=planned,  # type: ignore[arg-type]
                        ended=Ended("timeout", "did not finish two calls of your function on the plot's grid within "
                                               "6 s"))
    assert grade._status(done, sin) == "graded"
    assert grade._status(changed(done, cases=planned[:2], ended_case=planned[2]), sin) == "timeout"  # type: ignore
    import numpy as np

    from grader.outcome import Finding, Outcome

    note = "Your code did not finish two calls of your function on the plot's grid within 6 s."
    outcome = Outcome(submission=Path("amy.py"), sha256="", exercise="sin", status="graded",
                      findings=(Finding("loads", True, 1.0, "It loads."),), score=10.0, max_score=10.0, seed=1,
                      devices=("cpu",), versions={}, duration_s=0.1,
                      plot=PlotData(np.linspace(-1, 1, 5), None, note=note))
    words = " ".join(terminal.as_text(outcome, sin).split())
    assert "No picture of your curve: your code did not finish two calls" in words, words
