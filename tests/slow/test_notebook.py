"""The notebook self-check as a student runs it: a real notebook executed by nbclient on a real
IPython kernel, with `from grader import check; check(get_derivative)` in a cell."""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbclient import NotebookClient

from grader.grade import grade_file, grade_function
from tests.conftest import ROOT, SUBMISSIONS

pytestmark = pytest.mark.slow

HONEST = """import torch

def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad
"""
CHEAT = """import torch

def get_derivative(x):
    return torch.cos(x)
"""


def run_notebook(definition: str, tmp_path) -> list[dict]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(definition),
                      nbformat.v4.new_code_cell("from grader import check\ncheck(get_derivative)")]
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook.cells[1].outputs


def test_the_notebook_shows_the_verdict_table_and_the_plot(tmp_path):
    outputs = run_notebook(HONEST, tmp_path)
    html = "".join(o["data"].get("text/html", "") for o in outputs if o.get("output_type") == "display_data")
    assert "10 / 10" in html and "<table>" in html and "correctness" in html
    assert "defined in this notebook, is graded as get_derivative(x)" in html  # (ux137: "Your file loads...")
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) in (1, 2)  # the feedback plot, then the backward pass where one was recorded
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert not [o for o in outputs if o.get("output_type") == "error"]


def test_a_cheat_in_the_notebook_is_caught_by_the_canary(tmp_path):
    outputs = run_notebook(CHEAT, tmp_path)
    html = "".join(o["data"].get("text/html", "") for o in outputs if o.get("output_type") == "display_data")
    assert "1 / 10" in html and "✗</td><td><b>autograd" in html


def test_the_notebook_check_is_told_a_function_not_its_name():
    """ux137: check("get_derivative") raised AttributeError: 'str' object has no attribute 'stem'."""
    from grader.notebook import check

    with pytest.raises(TypeError, match=r"takes your function itself, check\(get_derivative\), not str"):
        check("get_derivative")  # type: ignore[arg-type]
    import torch

    if not torch.cuda.is_available():  # (ux137: "the grader itself failed", and a table of 0s)
        with pytest.raises(ValueError, match="torch sees no CUDA device"):
            check(lambda x: x, device="cuda")


@pytest.mark.parametrize("sample", ["honest_backward", "mistake_two_sin", "cheat_cos", "honest_func_vmap"])
def test_in_process_grades_match_the_sandbox(sample, sin):
    """The in-process runner is the child's own code over the same wire format: the same verdicts."""
    namespace: dict = {}
    path = SUBMISSIONS / f"{sample}.py"
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    in_process = grade_function(namespace["get_derivative"], sin, seed=7)
    sandboxed = grade_file(path, sin, seed=7)
    assert in_process.score == sandboxed.score
    assert [(f.name, f.passed) for f in in_process.findings] == [(f.name, f.passed) for f in sandboxed.findings]
