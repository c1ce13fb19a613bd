"""What a child that keeps uid 0 may read, where Python itself lies in a folder root keeps secrets in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.sandbox import confine


@pytest.mark.parametrize("prefix", ["/usr/local", "/usr"])
def test_a_python_installed_in_usr_local_does_not_open_root_s_folders_there(monkeypatch, tmp_path, prefix):
    """rv44: Python's prefix was read whole, so a Python in /usr/local (the python images') or the distribution's
    in /usr made all of /usr/local one rule, root's own folders there too, for a child that keeps uid 0."""
    if os.geteuid() != 0 or not Path("/usr/local").is_dir():
        pytest.skip("needs root and /usr/local")
    secret = Path(f"/usr/local/grader-test-roots-{os.getpid()}")
    shutil.rmtree(secret, ignore_errors=True)
    confine.world_readable_parts.cache_clear()
    monkeypatch.setattr(confine, "_outer_uid", lambda: 0)
    monkeypatch.setattr(confine, "_python_roots", lambda: [prefix, f"{prefix}/lib/python3"])
    try:
        secret.mkdir(mode=0o700)
        (secret / "key").write_text("SECRET")
        roots = confine._readable_roots(tmp_path / "child")
    finally:
        shutil.rmtree(secret, ignore_errors=True)
        confine.world_readable_parts.cache_clear()
    covers = [root for root in roots if str(secret).startswith(root.rstrip("/") + "/") or root == str(secret)]
    assert covers == [], covers
    assert "/usr/bin" in roots  # (the rest of /usr stays one rule a folder)
    assert not any(root in ("/usr", "/usr/local") for root in roots)
