"""What a child of a uid of its own left where every user writes, removed by descriptor alone
(sandbox/leftovers.py). Needs root, to give the files a child's uid."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.sandbox import leftovers
from grader.sandbox.confine import CHILD_UIDS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

UID = CHILD_UIDS.start + 4242  # (no child of this test's process has it)


def owned(path: Path) -> None:
    os.lchown(path, UID, UID)


def test_a_childs_files_links_and_deep_trees_go_and_nothing_else(tmp_path):
    """A file, a link to a folder of someone else's (removed, not followed), and a tree deeper than
    Python recurses, in /tmp itself and in a world-writable folder below it; another uid's file stays."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("root's\n")
    shared = Path(tempfile.mkdtemp(prefix="grader-test-shared-"))
    try:
        shared.chmod(0o777)  # a world-writable folder below /tmp, as a classmate may make
        note, link = Path(f"/tmp/grader-test-note-{os.getpid()}"), shared / "link"
        note.write_text("NOTE")
        owned(note)
        link.symlink_to(victim)
        owned(link)
        deep = shared / "deep"
        folder = deep
        for _ in range(1500):
            folder.mkdir()
            owned(folder)
            folder = folder / "d"
        (shared / "theirs.txt").write_text("another user's\n")
        assert leftovers.remove_left_by(UID) >= 3
        assert not note.exists() and not link.is_symlink() and not deep.exists()
        assert (victim / "keep.txt").read_text() == "root's\n" and (shared / "theirs.txt").exists()
        assert leftovers.remove_left_by(0) == 0  # (never root's, nor any uid that is no child's)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_a_tree_deeper_than_the_descriptors_a_grader_may_hold_goes_too():
    """rt184: under a limit of 600 open files, rmtree ran out of descriptors about 500 levels down (an
    OSError, not the RecursionError that handed deeper trees to rm), and a 700-level tree stayed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = Path(f"/tmp/grader-test-deep-{os.getpid()}")
    folder = top
    for _ in range(400):
        folder.mkdir()
        owned(folder)
        folder = folder / "d"
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert leftovers.remove_left_by(UID) >= 1
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if top.exists():
            shutil.rmtree(top, ignore_errors=True)
    assert not top.exists()


def test_what_a_uid_owns_goes_before_this_process_first_gives_it_to_a_child():
    """rt210: a grader killed before its end left its children's files where every user writes, and the next
    grader of that pid (a container's) gave their uids again: an honest file was stopped past 1,000 files it never
    made. Once a process, as it may then have left some of its own."""
    uid = CHILD_UIDS.start + 4244
    left = Path(f"/tmp/grader-test-first-use-{os.getpid()}")
    try:
        left.write_text("a killed grader's child's")
        os.lchown(left, uid, uid)
        leftovers.before_first_use(uid)
        assert not left.exists()
        left.write_text("this process's own child's, swept at its close")
        os.lchown(left, uid, uid)
        leftovers.before_first_use(uid)
        assert left.exists()
    finally:
        left.unlink(missing_ok=True)


def test_what_the_children_of_a_grader_that_is_gone_left_goes_with_its_folders():
    """rt221: a grader killed outright (SIGKILL, the OOM killer) left its child's notes and 60 MiB of /dev/shm
    to every later grader with another pid (before_first_use reaches only this pid's uids). A later grader
    that removes the dead one's folders (an hour old) removes what its uids own too; a live grader's stay."""
    import time

    from grader.sandbox import session

    dead = next(pid for pid in range(4_000_000, 3_000_000, -1) if not os.path.exists(f"/proc/{pid}"))
    folder = Path(tempfile.gettempdir()) / f"grader-{dead}-testleft"
    note, live = Path(f"/tmp/test-dead-note-{os.getpid()}"), Path(f"/tmp/test-live-note-{os.getpid()}")
    # (rv51: a live grader in another pid namespace, or a pid 2^21 away, gives its children the same uids: what they
    # made within the hour stays, and a grader's folder is never this sweep's)
    fresh, theirs = Path(f"/tmp/test-fresh-note-{os.getpid()}"), Path(f"/tmp/grader-{os.getpid()}-testlive")
    try:
        folder.mkdir()
        theirs.mkdir()
        os.lchown(folder, session.uids_of(dead)[0], session.uids_of(dead)[0])
        old = time.time() - 2 * session.DEAD_FOLDER_AGE_S
        os.utime(folder, (old, old))
        for path, uid in ((note, session.uids_of(dead)[7]), (live, session.uids_of(os.getpid())[7]),
                          (fresh, session.uids_of(dead)[8])):
            path.write_text("left")
            os.lchown(path, uid, uid)
        os.lchown(theirs, session.uids_of(dead)[9], session.uids_of(dead)[9])
        os.utime(note, (old, old))
        os.utime(theirs, (old + 60, old + 60))
        session._remove_dead_folders.__wrapped__()
        assert not folder.exists() and not note.exists() and live.exists() and fresh.exists() and theirs.exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(theirs, ignore_errors=True)
        for path in (note, live, fresh):
            path.unlink(missing_ok=True)
