"""Run a command as a rootless container's root does: in a user namespace of its own that maps the host's
uids and gids 0 to 65535 alone, so that no uid of the grader's range for its children (confine.CHILD_UIDS)
is there, and every child falls back to nobody. A test aid: `python tests/rootless_container.py CMD...`
(as root; its exit status is the command's)."""

import ctypes
import os
import sys

_CLONE_NEWUSER = 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
unshared_r, unshared_w = os.pipe()
mapped_r, mapped_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(unshared_r)
    os.close(mapped_w)
    if libc.unshare(_CLONE_NEWUSER) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
    os.write(unshared_w, b"u")
    os.read(mapped_r, 1)  # (the parent writes its maps: a process may not map its own uid 0 onto root)
    os.execvp(sys.argv[1], sys.argv[1:])
os.close(unshared_w)
os.close(mapped_r)
os.read(unshared_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as mapping:
        mapping.write("0 0 65536\n")
os.write(mapped_w, b"m")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
