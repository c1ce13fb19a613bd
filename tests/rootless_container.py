"""Run a command as a rootless container's root does: in a user namespace of its own that maps the host's
uids and gids 0 to 65535 alone, so that no uid of the grader's range for its children (confine.CHILD_UIDS)
is there, and every child falls back to nobody. A test aid: `python tests/rootless_container.py CMD...`
(as root; its exit status is the command's, or UNSUPPORTED)."""

import ctypes
import os
import sys

_CLONE_NEWUSER = 0x10000000

UNSUPPORTED = 77  # the exit status where this kernel or its policy refuses a user namespace


def main(command: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    unshared_r, unshared_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(unshared_r)
        os.close(mapped_w)
        if libc.unshare(_CLONE_NEWUSER) != 0:
            sys.stderr.write(f"unshare(CLONE_NEWUSER): {os.strerror(ctypes.get_errno())}\n")
            os._exit(UNSUPPORTED)
        os.write(unshared_w, b"u")
        os.read(mapped_r, 1)  # (the parent writes its maps: a process may not map its own uid 0 onto root)
        os.execvp(command[0], command)
    os.close(unshared_w)
    os.close(mapped_r)
    if os.read(unshared_r, 1) == b"":  # (it ended without a namespace)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as mapping:
                mapping.write("0 0 65536\n")
    except OSError as err:  # (not root of the namespace it runs in: no map of 65,536 ids to give)
        sys.stderr.write(f"{name}: {err.strerror}\n")
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return UNSUPPORTED
    os.write(mapped_w, b"m")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
