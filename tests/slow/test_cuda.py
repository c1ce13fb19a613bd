"""The CUDA path. Skipped where torch sees no CUDA device; run them on a GPU machine with
`pytest -m cuda`."""

from __future__ import annotations

import pytest

from grader.grade import grade_file
from tests.conftest import SUBMISSIONS

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow, pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_reference_scores_full_marks_on_cuda_alone(sin):
    outcome = grade_file(sin.solution, sin, device="cuda")
    assert outcome.devices == ("cuda",) and outcome.score == outcome.max_score


@pytest.mark.parametrize("name", ["honest_backward", "honest_func_vmap", "honest_jacfwd", "honest_float64"])
def test_honest_variants_pass_on_cpu_and_cuda_with_half_precision(name, sin):
    outcome = grade_file(SUBMISSIONS / f"{name}.py", sin)
    assert outcome.devices == ("cpu", "cuda")
    assert outcome.score == outcome.max_score, [f.message for f in outcome.findings if not f.passed]


@pytest.mark.parametrize("name", ["cheat_cos", "cheat_numpy_cos", "cheat_custom_function"])
def test_cheats_are_caught_on_cuda(name, sin):
    outcome = grade_file(SUBMISSIONS / f"{name}.py", sin, device="cuda")
    autograd = next(f for f in outcome.findings if f.name == "autograd")
    assert outcome.score == sin.rubric["loads"] and autograd.data["bypassed"]
