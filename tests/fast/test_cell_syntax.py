"""A notebook cell's IPython syntax as plain Python, line for line (rt137, ux112: each of these
notebooks ran with Restart & Run All and scored 0)."""

from __future__ import annotations

import ast
import json

import pytest

from grader import cell_syntax, submission


@pytest.mark.parametrize(("cell", "python"), [
    ("%matplotlib inline\nimport torch", ["pass  # %matplotlib inline", "import torch"]),
    ("%time g = f(x)\nprint(g)", ["g = f(x)  # %time", "print(g)"]),
    ("g = %time f(x)", ["g = f(x)  # %time f(x)"]),
    ("files = !ls\nt = %timeit -o f(x)", ["files = None  # !ls", "t = None  # %timeit -o f(x)"]),
    ("torch.sin?\n?torch.sin\nx.grad??", ["pass  # torch.sin?", "pass  # ?torch.sin", "pass  # x.grad??"]),
    ("try:\n    import d2l\nexcept ImportError:\n    !pip install d2l",
     ["try:", "    import d2l", "except ImportError:", "    pass  # !pip install d2l"]),
    # continuation lines inside brackets are Python, whatever they start with
    ('print("err: %.2e"\n      % (g - c).abs().max())', ['print("err: %.2e"', "      % (g - c).abs().max())"]),
    ("ok = (a\n!= 0)", ["ok = (a", "!= 0)"]),
    ('s = """\n%not a magic\n"""', ['s = """', "%not a magic", '"""']),
    ("x = 1 + \\\n%2", ["x = 1 + \\", "%2"]),
    ("y = f('(')  # (\n%time z = 1", ["y = f('(')  # (", "z = 1  # %time"]),
    ("%%bash\necho hi\nls", ["# %%bash", "# echo hi", "# ls"]),
    ("%%script false\nraise ValueError", ["# %%script false", "# raise ValueError"]),
    ("%%time\nx = 1\n%time y = 2", ["# %%time", "x = 1", "y = 2  # %time"]),
    ("%%capture out\n!pip install d2l\nimport torch", ["# %%capture out", "pass  # !pip install d2l", "import torch"]),
    ("a = b % c\nd = e != f", ["a = b % c", "d = e != f"]),
])
def test_ipython_lines_become_the_python_they_stand_for(cell, python):
    lines, futures = cell_syntax.python_lines(cell)
    assert lines == python and futures == []
    assert len(lines) == len(cell.splitlines())  # (the feedback names a notebook's lines by cell and line)


def test_a_notebooks_script_compiles_with_its_future_imports_first_and_display_defined():
    cells = ["import torch\n%matplotlib inline", "from __future__ import annotations\ndisplay(torch.ones(2))",
             "%%writefile helper.py\ndef f(:\n", "def get_derivative(x):\n    return x"]
    notebook = {"cells": [{"cell_type": "code", "source": c} for c in cells], "nbformat": 4}
    script = submission.notebook_script(json.dumps(notebook).encode()).decode()
    tree = ast.parse(script)
    assert isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "__future__"
    assert script.splitlines()[1] == cell_syntax.DISPLAY
    places = submission.cell_places(script.encode())
    line = next(n for n, text in enumerate(script.splitlines(), 1) if "return x" in text)
    assert places[line] == (4, 2)
