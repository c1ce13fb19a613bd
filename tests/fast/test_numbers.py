"""What the sandbox child compares of the caller's x and of an answer a call later (sandbox/child.py's
readers): bytes read through DLPack beside the tensor's head, whatever the submission has rebound since."""

from __future__ import annotations

import torch

from grader.sandbox.child import readers


def test_every_dtype_a_grid_has_is_read_bfloat16_and_float8_as_integers():
    """rv40: numpy refuses bfloat16, which a GPU's grids have: every honest x was unreadable there, and an
    unreadable x counts as changed (0.5 lost by every student on a GPU)."""
    numbers_of = readers(torch)
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.bool):
        x = torch.ones(3, dtype=dtype)
        read, again = numbers_of(x), numbers_of(x.clone())
        assert read is not None and read.values and read.same(again), dtype
        x[1] = 0
        assert not numbers_of(x).same(read), dtype
    assert numbers_of(torch.zeros(0)).values == b"" and numbers_of(torch.ones(2, 2).t()).values is not None


def test_a_subclass_answers_for_none_of_what_is_read():
    """rv40: the kept answer's emptiness was asked of the tensor itself (`numel`), which a subclass's
    __torch_function__ answered with 0, and its overwritten answers went unseen."""
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.numel, torch.Tensor.dim) or getattr(func, "__name__", "") == "__get__":
                return 0
            return super().__torch_function__(func, types, args, kwargs or {})

    numbers_of = readers(torch)
    answer = torch.tensor([1.0, 2.0]).as_subclass(Liar)
    read = numbers_of(answer)
    assert read is not None and read.head[1] == (2,) and len(read.values or b"") == 8
    original = torch.Tensor.to
    try:  # (rt188 rebound Tensor.to; what was bound before is what reads)
        torch.Tensor.to = lambda *args, **kwargs: torch.zeros(2)  # type: ignore[method-assign]
        assert numbers_of(torch.tensor([1.0, 2.0])).same(read)
    finally:
        torch.Tensor.to = original  # type: ignore[method-assign]


def test_an_answer_is_changed_only_where_its_numbers_are_for_every_float_dtype_a_grid_has():
    """rv41: memoryview cannot be cast to float16, and a changed float16 answer (a GPU's grids have them)
    raised in the comparison: its case was the grader's error, charged to the student, and repeatable passed;
    bfloat16 was compared as bytes, -0.0 against 0.0 counted as a change (rt192's book zero_())."""
    numbers_of = readers(torch)
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.float8_e4m3fn,
                  torch.float8_e5m2):
        then = torch.tensor([-0.0, 1.5, float("nan")]).to(dtype)
        now = torch.tensor([0.0, 1.5, -float("nan")]).to(dtype)  # (the same numbers: a zero and a NaN signed else)
        assert not numbers_of(now).changed_from(numbers_of(then)), dtype
        now[1] = 2.0
        assert numbers_of(now).changed_from(numbers_of(then)), dtype
        now = then.clone()
        now[2] = float("inf")
        assert numbers_of(now).changed_from(numbers_of(then)), dtype
    # (from a numpy array, as child._array_numbers reads one: its float16 too)
    from grader.sandbox.child import _array_numbers

    half = torch.tensor([0.5, -0.0], dtype=torch.float16).numpy()
    then = _array_numbers(half.copy())
    half[1] = 0.0
    assert then is not None and not _array_numbers(half).changed_from(then)
    half[0] = 0.25
    assert _array_numbers(half).changed_from(then)
