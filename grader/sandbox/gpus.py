"""How many GPUs a sandbox child may use, asked of NVML by the grader, never by the child.

A child may not ask before it is confined: NVML (and the CUDA driver behind torch.cuda) starts a
thread of its own at its first use, and a thread started before confinement keeps everything the
layers take from the thread that applies them (confine._alone refuses to begin beside one). Seen
on an H200: with `PYTORCH_NVML_BASED_CUDA_CHECK=1`, the child's `torch.cuda.is_available()` left
NVML's thread running, and every submission was the grader's failure. The grader's own process is
not confined, so it asks, once, and tells the child and the zygote the count. Nor may the zygote
ask: its children would inherit a driver whose threads stayed behind in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os

_NVML_SUCCESS = 0


@functools.cache
def visible() -> int:
    """The GPUs CUDA would show this process: NVML's count, narrowed by CUDA_VISIBLE_DEVICES as the
    CUDA runtime reads it. 0 where there is no NVIDIA driver or NVML fails."""
    return narrowed(os.environ.get("CUDA_VISIBLE_DEVICES"), _nvml_count())


def narrowed(visible_devices: str | None, present: int) -> int:
    """How many of `present` devices CUDA_VISIBLE_DEVICES leaves: unset, all of them; otherwise its
    entries up to the first that names no device (an index out of range, a repeated one, a negative
    one or one that is neither an index nor a UUID ends the list, as in the CUDA runtime). Entries
    by UUID (GPU-...) or MIG name are counted as given, up to `present` (which of them exist is not
    checked)."""
    if visible_devices is None:
        return present
    seen: set[str] = set()
    for entry in (part.strip() for part in visible_devices.split(",")):
        if not entry or entry in seen:
            break
        if entry.lstrip("-").isdigit() and not 0 <= int(entry) < present:
            break
        if not entry.lstrip("-").isdigit() and not entry.startswith(("GPU-", "MIG-")):
            break
        seen.add(entry)
    return min(len(seen), present)


def _nvml_count() -> int:
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return 0
    if nvml.nvmlInit_v2() != _NVML_SUCCESS:
        return 0
    try:
        count = ctypes.c_uint(0)
        return int(count.value) if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) == _NVML_SUCCESS else 0
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
