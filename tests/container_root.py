"""Run a command as a container's root does: CAP_SYS_ADMIN gone and, as under Docker's default seccomp
profile, no user namespaces either (unshare and setns refused, clone with CLONE_NEWUSER refused, clone3
unknown so that the C library falls back to clone). A test aid: `python tests/container_root.py CMD...`
(run it under `capsh --drop=cap_sys_admin,cap_checkpoint_restore --` for the capabilities)."""

import errno
import os
import sys

import pyseccomp as seccomp

_CLONE_NEWUSER = 0x10000000

rules = seccomp.SyscallFilter(seccomp.ALLOW)
for name in ("unshare", "setns"):
    rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER))
rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
rules.load()
os.execvp(sys.argv[1], sys.argv[1:])
