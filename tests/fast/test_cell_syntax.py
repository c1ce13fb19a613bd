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
    ("g = %time f(x)", ["g = f(x)  # %time"]),
    ("files = !ls\nt = %timeit -o f(x)",
     ["files = []  # !ls", "t = _ipython_timeit('f(x)', globals())  # %timeit -o f(x)"]),
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
    ("%%capture\n!pip install d2l\nimport torch", ["# %%capture", "pass  # !pip install d2l", "import torch"]),
    ("%%capture cap\nx = 1", [cell_syntax._CAPTURED.format("cap") + "  # %%capture cap", "x = 1"]),
    # (rt139) a shell escape continued by a backslash, a timed statement continued, a U+2028 in a comment,
    # stacked cell magics, a cell magic whose body is Python
    ("!pip install -q \\\n    d2l\nx = 1", ["pass  # !pip install -q \\", "    # d2l", "x = 1"]),
    ("%time t = 1 + \\\n    2", ["t = 1 + \\", "    2"]),
    ("x = 1  # a\u2028b\ny = 2", ["x = 1  # a\u2028b", "y = 2"]),
    ("%%time\n%%time\n%%prun\nx = 1", ["# %%time", "# %%time", "# %%prun", "x = 1"]),
    # (rt140) an assigned shell escape continued; the capture's name before its options; help with a
    # space or wildcards; pasted prompts; a cell indented as a whole
    ("log = !pip install torch \\\n    --quiet\nx = 1",
     ["log = []  # !pip install torch \\", "    # --quiet", "x = 1"]),
    ("%%capture cap --no-stderr\nx = 1", [cell_syntax._CAPTURED.format("cap") + "  # %%capture cap --no-stderr",
                                          "x = 1"]),
    ("?? torch.sin\ntorch.*sin*?", ["pass  # ?? torch.sin", "pass  # torch.*sin*?"]),
    (">>> x = 1\n>>> if x:\n...     y = 2", ["x = 1", "if x:", "    y = 2"]),
    ("In [1]: x = 1\n   ...: y = 2", ["x = 1", "y = 2"]),
    ("...\n... and more", ["...", "... and more"]),  # (Ellipsis first: no prompt)
    ("    x = 1\n    y = 2", ["x = 1", "y = 2"]),
    ("a = b % c\nd = e != f", ["a = b % c", "d = e != f"]),
])
def test_ipython_lines_become_the_python_they_stand_for(cell, python):
    lines, futures = cell_syntax.python_lines(cell)
    assert lines == python and futures == []
    assert len(lines) == len(cell_syntax.lines_of(cell))  # (the feedback names a notebook's lines by cell and line)


def test_a_notebooks_script_compiles_with_its_future_imports_first_and_display_defined():
    cells = ["import torch\n%matplotlib inline", "from __future__ import annotations\ndisplay(torch.ones(2))",
             "%%writefile helper.py\ndef f(:\n", "def get_derivative(x):\n    return x"]
    notebook = {"cells": [{"cell_type": "code", "source": c} for c in cells], "nbformat": 4}
    script = submission.notebook_script(json.dumps(notebook).encode()).decode()
    tree = ast.parse(script)
    assert isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "__future__"
    assert script.splitlines()[2] == cell_syntax.NOTEBOOK_PRELUDE
    places = submission.cell_places(script.encode())
    assert places[2] == (2, 1)  # (the future import, moved: an error in it named no cell, rt140)
    line = next(n for n, text in enumerate(script.splitlines(), 1) if "return x" in text)
    assert places[line] == (4, 2)


@pytest.mark.parametrize(("lines", "echoed"), [
    (["x = 1", "f(x)"], ["x = 1", "_ipython_out(3, (f(x)), __echoed__=globals())"]),
    (["f(x);  # quiet"], ["f(x);  # quiet"]),
    (["f(x)  # shown"], ["_ipython_out(3, (f(x)), __echoed__=globals())  # shown"]),
    (["a = 1; a"], ["a = 1; _ipython_out(3, (a), __echoed__=globals())"]),
    (["f(", "  'é',", ")"], ["_ipython_out(3, (f(", "  'é',", ")), __echoed__=globals())"]),
    (["for i in x:", "    f(i)"], ["for i in x:", "    f(i)"]),
    (["f(:"], ["f(:"]),
])
def test_a_cells_last_value_goes_to_the_output_history_line_for_line(lines, echoed):
    """hn120: `g = _` (and `_2`, `Out[2]`) after a cell that ended in a value: 0/10, NameError."""
    assert cell_syntax.echoed(lines, 3) == echoed


def test_the_output_history_keeps_what_ipython_keeps():
    namespace: dict = {}
    exec(cell_syntax.NOTEBOOK_PRELUDE, namespace)
    exec("\n".join(cell_syntax.echoed(["1 + 1"], 1) + cell_syntax.echoed(["None"], 2) +
                   cell_syntax.echoed(["'b'"], 3)), namespace)
    assert (namespace["_"], namespace["__"], namespace["___"]) == ("b", 2, "")
    assert namespace["Out"] == {1: 2, 3: "b"} and namespace["_1"] == 2 and "_2" not in namespace
    exec("_ = 'mine'\n" + "\n".join(cell_syntax.echoed(["4"], 4)), namespace)
    assert namespace["_"] == "mine" and namespace["_4"] == 4  # (a bound `_` is left alone, as IPython does)


def test_an_error_in_a_cells_last_value_quotes_the_line_as_written(tmp_path):
    from grader.sandbox import child

    assert cell_syntax.unechoed("_ipython_out(3, (f(x)[5]), __echoed__=globals())  # look")[0] == "f(x)[5]  # look"
    assert cell_syntax.unechoed("f(x)") == ("f(x)", 0)
    # (hn121: a .py's own `exec(open(p).read(), globals())` was quoted without its end)
    assert cell_syntax.unechoed('exec(open("h.py").read(), globals())')[0] == 'exec(open("h.py").read(), globals())'
    script = tmp_path / "nb.py"  # (the compiler reads a syntax error's line from the file)
    script.write_text("_ipython_out(3, (await f()), __echoed__=globals())\n")
    try:
        compile(script.read_text(), str(script), "exec")
    except SyntaxError as err:
        said = child.describe_error(err, str(script))["syntax"]
    assert said["code"] == "await f()" and said["offset"] == 1, said


@pytest.mark.parametrize(("cell", "echoes"), [("f(x)", True), ("%%time\nf(x)", True), ("\n%%writefile h.py\n1", False),
                                              ("%%capture cap\nf(x)", False), ("%%time\n%%capture\nf(x)", False)])
def test_only_a_cell_whose_value_ipython_shows_fills_the_history(cell, echoes):
    """hn121: %%writefile's stand-in (the characters it wrote) and %%capture's body became `_`."""
    assert cell_syntax.echoes(cell) is echoes


@pytest.mark.parametrize(("cell", "moved"), [
    ("from __future__ import annotations  # for type hints", ["from __future__ import annotations"]),
    ("from __future__ import (\n    annotations,\n)", ["from __future__ import ( annotations, )"]),
    ("%%time\nfrom __future__ import annotations\nx = 1", ["from __future__ import annotations"]),
    ("from __future__ import \\\n    annotations", ["from __future__ import annotations"]),
])
def test_a_future_import_in_any_cell_is_moved_to_the_top(cell, moved):
    """rt139: a comment after it, brackets over two lines, or a %%time cell around it kept it where
    Python refuses it (or left it out)."""
    lines, futures = cell_syntax.python_lines(cell)
    assert futures == moved and len(lines) == len(cell_syntax.lines_of(cell))
    ast.parse("\n".join([*futures, *lines]))


def test_a_cell_of_a_thousand_stacked_cell_magics_costs_little():
    """rt139: each %%time line was a call of its own, with a copy of the rest of the cell: 1,200 of
    them ended the grader (RecursionError), and 950 of a larger cell took 5 GB."""
    cell = "%%time\n" * 5000 + "x = 1\n" * 20000
    lines, _ = cell_syntax.python_lines(cell)
    assert len(lines) == 25000 and lines[-1] == "x = 1"


def test_a_pasted_scripts_cell_marks_do_not_move_the_feedbacks_places():
    """rt140: a script exported from Jupyter and pasted into a cell kept its `# In[N]:` lines, and an
    error on line 8 of code cell 2 was told to be on line 3 of code cell 4 (of a notebook of two)."""
    pasted = "# In[1]:\nimport torch\n\n\n# In[2]:\nx = 1\nraise ValueError\n"
    cells = [{"cell_type": "code", "source": "import math"}, {"cell_type": "code", "source": pasted}]
    script = submission.notebook_script(json.dumps({"cells": cells, "nbformat": 4}).encode())
    line = 1 + cell_syntax.lines_of(script.decode()).index("raise ValueError")
    assert submission.cell_places(script)[line] == (2, 7)


def test_writefile_writes_its_body_as_ipython_does(tmp_path, monkeypatch):
    """rt140: a notebook that writes a module with %%writefile and imports it in the next cell runs
    with Restart & Run All, and was told its module was missing (the body was left out)."""
    monkeypatch.chdir(tmp_path)
    body = "def f(x):\n    return '''x'''  # \\ and \"quotes\"\n"
    for cell in (f"%%writefile deriv.py\n{body}", f"%%writefile -a 'deriv.py'\n{body}"):
        lines, _ = cell_syntax.python_lines(cell)
        assert len(lines) == len(cell_syntax.lines_of(cell)) and all(line.startswith("#") for line in lines[1:])
        exec(compile("\n".join(lines), "cell", "exec"), {})
    assert (tmp_path / "deriv.py").read_text() == body * 2
    exported = cell_syntax.exported_lines(f"get_ipython().run_cell_magic('writefile', 'e.py', {body!r})")
    assert exported is not None and len(exported) == 1
    exec(compile(exported[0], "export", "exec"), {})
    assert (tmp_path / "e.py").read_text() == body
    assert cell_syntax.python_lines("%%writefile\nx = 1")[0] == ["# %%writefile", "# x = 1"]  # (no file: left out)
    lines, _ = cell_syntax.python_lines('%%writefile "my deriv.py"\nx = 1')  # (quoted, as IPython takes it: rt143)
    exec(compile("\n".join(lines), "cell", "exec"), {})
    assert (tmp_path / "my deriv.py").read_text() == "x = 1\n"


def test_run_runs_its_script_into_the_notebook_and_file_writes_as_writefile(tmp_path, monkeypatch, capsys):
    """rt145: `%%file` (IPython's other name for %%writefile) had its body left out, `%run deriv.py`
    did nothing, and get_ipython() in a cell was a NameError: each notebook ran in Jupyter and was
    told get_derivative was not defined. A script that is not there is skipped, with a word."""
    monkeypatch.chdir(tmp_path)
    cells = ["%%file deriv.py\ndef f(x):\n    return x + seen\nmain = __name__\nargs = __import__('sys').argv[1:]\n",
             "seen = 1\n%run -i deriv --flag 3", "get_ipython().run_line_magic('run', 'missing.py')\n%run\n"]
    space: dict = {}
    exec(cell_syntax.DISPLAY, space)  # (the script's prelude, which makes %run's helper)
    for cell in cells:
        lines, _ = cell_syntax.python_lines(cell)
        assert len(lines) == len(cell_syntax.lines_of(cell))
        exec(compile("\n".join(lines), "cell", "exec"), space)
    assert space["f"](1) == 2 and space["main"] == "__main__" and space["args"] == ["--flag", "3"]
    assert "%run: missing.py is not beside the notebook here; skipped" in capsys.readouterr().err
    assert cell_syntax.python_lines("%runner = 1")[0] == ["pass  # %runner = 1"]
    # IPython keeps a # in a magic's arguments: the file runs (rt147's was dropped, and scored 0)
    lines, _ = cell_syntax.python_lines("%run deriv.py  # defines f")
    space = {}
    exec(cell_syntax.DISPLAY, space)
    exec(compile("\n".join(lines), "cell", "exec"), space)
    assert callable(space["f"]) and space["main"] == "__main__"
    # (and a line no pattern backtracks on: "%run", 2,000 spaces and "#" took the grader's process 13 s,
    # and 50,000 of them would have taken hours, in a batch's main process)
    assert cell_syntax.python_lines("%run" + " " * 2000 + "#")[0][0].endswith("#")


def test_an_exported_cell_magic_that_runs_python_runs_its_body(tmp_path, monkeypatch):
    """rt148: Jupyter's export of a %%time cell that defined the function was told the function was
    not defined, and of a %%capture cell holding `!pip install d2l` and `import torch` a NameError on
    every call: only %%writefile's body ran, where a notebook's own %%time cell runs its body."""
    monkeypatch.chdir(tmp_path)
    timed = "get_ipython().run_cell_magic('time', '', 'def f(x):\\n    return x + 1\\n')"
    captured = "get_ipython().run_cell_magic('capture', 'out --no-stderr', '!pip install d2l\\nimport math\\n')"
    for script in (timed + "\n" + captured, f"import os\n{timed}\n{captured}\n"):
        lines = cell_syntax.exported_lines(script)
        assert lines is not None and len(lines) == len(cell_syntax.lines_of(script))
        space: dict = {}
        exec(compile("\n".join(lines), "export", "exec"), space)
        assert space["f"](1) == 2 and space["math"].pi > 3 and space["out"].stdout == ""
    # (a future import at the body's top stays at the top of what runs: rt150's annotations)
    future = ("get_ipython().run_cell_magic('time', '', "
              "'from __future__ import annotations\\ndef g(x: Tensor): return 1\\n')")
    lines = cell_syntax.exported_lines(future)
    space = {}
    exec(compile("\n".join(lines), "export", "exec"), space)
    assert space["g"](0) == 1
    # (and in a notebook's cell, where a get_ipython() line runs as its magic does)
    lines, _ = cell_syntax.python_lines(timed)
    space = {}
    exec(cell_syntax.DISPLAY, space)
    exec(compile("\n".join(lines), "cell", "exec"), space)
    assert space["f"](2) == 3


def test_a_moved_future_import_keeps_its_own_line_whatever_the_comments_say():
    """rt143: a student's line ending in the words of the mark of a moved import moved the place an
    error in the import was told at."""
    cell = "y = 2  # moved to the top of the script\nz = 3\nfrom __future__ import braces"
    assert cell_syntax.placed_python_lines(cell)[1] == [("from __future__ import braces", 3)]


def test_a_notebook_exported_as_a_script_runs_as_it_did_in_jupyter(tmp_path):
    """rt140: Jupyter's export as an executable script (which the feedback suggests for a notebook it
    cannot read) writes magics and shell commands as get_ipython() calls, a NameError outside IPython:
    an honest export scored 0. A file without such calls is read as it is, byte for byte."""
    exported = ("#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nimport torch\n"
                "get_ipython().run_line_magic('matplotlib', 'inline')\n"
                "try:\n    import d2l\nexcept ImportError:\n    get_ipython().system('pip install d2l')\n"
                "files = get_ipython().getoutput('ls')\n"
                "get_ipython().run_line_magic('time', 'g = torch.ones(2)')\n"
                "s = '''\nget_ipython().system('in a string')\n'''\n"
                "def get_derivative(x):\n    return x\n")
    path = tmp_path / "hw.py"
    path.write_text(exported)
    script = submission.read(path).source.decode()
    lines = script.splitlines()
    assert len(lines) == len(exported.splitlines())
    assert lines[7] == "pass  # get_ipython().run_line_magic('matplotlib', 'inline')"
    assert lines[11] == "    pass  # get_ipython().system('pip install d2l')"
    assert lines[12].startswith("files = []  #") and lines[13].startswith("g = torch.ones(2)  #")
    assert lines[15] == "get_ipython().system('in a string')"  # (inside a string: left alone)
    ast.parse(script)
    plain = tmp_path / "plain.py"
    plain.write_bytes(b"x = 1\r\ny = 2")
    assert submission.read(plain).source == b"x = 1\r\ny = 2"


def test_timeit_kept_with_o_is_ipythons_result_of_one_run():
    """hn122: `t = %timeit -o f(x)` then `t.average` was None's AttributeError, 0/10 for a notebook
    that Jupyter runs. The statement runs once (IPython's thousands of runs are no part of a grade)."""
    space: dict = {"calls": []}
    exec(cell_syntax.DISPLAY, space)
    lines, _ = cell_syntax.python_lines("t = %timeit -n 10 -r 3 -o calls.append(1)\nkept = t.average\n"
                                        "u = %timeit f(x)")
    exec(compile("\n".join(lines), "cell", "exec"), space)
    assert space["calls"] == [1] and space["kept"] >= 0 and "per loop" in str(space["t"]) and space["u"] is None
