"""The CUDA path. Skipped where torch sees no CUDA device; run them on a GPU machine with
`pytest -m cuda` (tests/gpu_check.sh sets up a GPU machine's own Python and runs these and more)."""

from __future__ import annotations

import pytest

from grader.grade import grade_file as grade_fresh
from tests.conftest import ROOT, SUBMISSIONS

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow, pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_reference_scores_full_marks_on_cuda_alone(sin):
    outcome = grade_fresh(sin.solution, sin, device="cuda")
    assert outcome.devices == ("cuda",) and outcome.score == outcome.max_score


@pytest.mark.parametrize("name", ["honest_backward", "honest_func_vmap", "honest_jacfwd", "honest_float64"])
def test_honest_variants_pass_on_cpu_and_cuda_with_half_precision(name, sin, grade_file):
    outcome = grade_file(SUBMISSIONS / f"{name}.py", sin)
    assert outcome.devices == ("cpu", "cuda"), outcome.grader_error
    assert outcome.score == outcome.max_score, [f.message for f in outcome.findings if not f.passed]
    # Confined as on a machine without a GPU, and nothing recorded against an honest file (torch
    # asking NVML through ctypes was once recorded as a way towards the secret).
    assert any(layer.startswith("seccomp") for layer in outcome.sandbox_layers), outcome.sandbox_layers
    assert outcome.sandbox_events == ()


def test_every_thread_the_gpu_starts_is_confined_as_the_main_thread(sin, grade_file):
    """The CUDA driver's, NVML's and autograd's threads start once the child is confined, each
    confined as its main thread (before, confinement refused to begin beside them: every child on a
    GPU machine was the grader's failure)."""
    outcome = grade_file(ROOT / "tests" / "fixtures" / "hostile" / "looks_for_an_unconfined_thread.py", sin)
    assert outcome.score == sin.max_score, outcome.grader_error
    assert "cuda True" in outcome.stdout and "unconfined 0;" in outcome.stdout, outcome.stdout


@pytest.mark.parametrize("name", ["cheat_cos", "cheat_numpy_cos", "cheat_custom_function"])
def test_cheats_are_caught_on_cuda(name, sin):
    outcome = grade_fresh(SUBMISSIONS / f"{name}.py", sin, device="cuda")
    autograd = next(f for f in outcome.findings if f.name == "autograd")
    assert outcome.score == sin.rubric["loads"] and autograd.data["bypassed"]
