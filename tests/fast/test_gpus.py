"""The GPUs a child may use are counted by the grader, and nothing that would start a thread runs
before a child is confined: the zygote warms up no backward pass where there is a GPU."""

from __future__ import annotations

import pytest
import torch

from grader.sandbox import gpus, zygote


@pytest.mark.parametrize(("visible", "present", "expected"), [
    (None, 2, 2), (None, 0, 0),
    ("", 2, 0), ("-1", 2, 0),
    ("0", 2, 1), ("1", 2, 1), ("0,1", 2, 2),
    ("1,0", 1, 0),    # device 1 is not there: the list ends before it, as in the CUDA runtime
    ("0,5,1", 4, 1),  # ends at the index out of range
    ("0,0,1", 2, 1),  # ends at the repeated index
    ("GPU-8f3e, GPU-11aa", 4, 2), ("GPU-8f3e,GPU-11aa,GPU-22bb", 2, 2),
    ("0,abc,1", 2, 1), ("bogus", 1, 0),  # (rt129: counted as devices the child could not use)
])
def test_cuda_visible_devices_narrows_the_count_as_the_cuda_runtime_does(visible, present, expected):
    assert gpus.narrowed(visible, present) == expected


class _FakeNvml:
    def __init__(self, init: int, count: int) -> None:
        self.init, self.count, self.shut = init, count, False

    def nvmlInit_v2(self) -> int:
        return self.init

    def nvmlDeviceGetCount_v2(self, ref) -> int:
        ref._obj.value = self.count
        return 0

    def nvmlShutdown(self) -> int:
        self.shut = True
        return 0


def test_nvml_is_asked_and_shut_down_and_its_absence_is_no_gpu(monkeypatch):
    nvml = _FakeNvml(init=0, count=3)
    monkeypatch.setattr(gpus.ctypes, "CDLL", lambda name: nvml)
    assert gpus._nvml_count() == 3 and nvml.shut
    monkeypatch.setattr(gpus.ctypes, "CDLL", lambda name: _FakeNvml(init=9, count=3))  # NVML_ERROR_DRIVER_NOT_LOADED
    assert gpus._nvml_count() == 0

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(gpus.ctypes, "CDLL", missing)  # no NVIDIA driver (CI's machines)
    assert gpus._nvml_count() == 0


def test_the_zygote_warms_up_no_backward_pass_where_there_is_a_gpu(monkeypatch):
    """Autograd's first backward counts the GPUs (starting the CUDA driver) and starts a thread for
    each: a zygote that did so would fork children where CUDA cannot start and torch refuses
    autograd. Where the grader counted a GPU for a CUDA build of torch, the zygote runs none."""
    ran: list[str] = []

    def engine(*args, **kwargs):
        ran.append("backward")
        raise RuntimeError("the zygote ran autograd's engine")

    monkeypatch.setattr(torch.autograd, "_engine_run_backward", engine)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setattr(zygote, "_GPUS", [1])
    zygote.warm_up(torch, (*zygote.QUICK, *zygote.LATER, *zygote.COMPILER))
    assert ran == []
    # Without a GPU the same warm-up runs backward passes (what the check above would catch).
    monkeypatch.setattr(zygote, "_GPUS", [0])
    zygote.warm_up(torch, zygote.QUICK)
    assert "backward" in ran
