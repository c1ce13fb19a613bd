"""Run a command where network namespaces may not be made while pid namespaces still may (systemd's
RestrictNamespaces= without `net`, a kernel without CONFIG_NET_NS, user.max_net_namespaces = 0): unshare
and clone with CLONE_NEWNET refused, clone3 unknown so that the C library falls back to clone. A test aid
(rt173's): `python tests/no_network_namespaces.py CMD...`."""

import errno
import os
import sys

import pyseccomp as seccomp

_CLONE_NEWNET = 0x40000000

rules = seccomp.SyscallFilter(seccomp.ALLOW)
for name in ("unshare", "clone"):
    rules.add_rule(seccomp.ERRNO(errno.EPERM), name, seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_NEWNET, _CLONE_NEWNET))
rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
rules.load()
os.execvp(sys.argv[1], sys.argv[1:])
