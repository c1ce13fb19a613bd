"""The sandbox child's stand-in for d2l (sandbox/stand_ins.py), in a process of its own: it changes the
import system for good."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import torch
from grader.sandbox import stand_ins
used = stand_ins.install()
from d2l import torch as d2l
assert d2l.sin is torch.sin and d2l.concat is torch.cat and d2l.float32 is torch.float32
x = torch.tensor([0.5, 1.0])
assert torch.equal(d2l.reduce_sum(x), x.sum()) and d2l.size(x) == 2 and d2l.torch is torch
import matplotlib.pyplot
assert d2l.plot(x, [x], "x", "f(x)") is stand_ins.NOTHING and d2l.plt is matplotlib.pyplot  # (rt188: plt.subplots)
namespace = {}
exec("from d2l.torch import *", namespace)
assert namespace["plot"] is stand_ins.NOTHING and namespace["sin"] is torch.sin and "reduce_sum" in namespace
assert used == ["d2l"], used
# rt185: the book's device helpers, Timer, and the modules d2l.torch's star import binds
gpus = torch.cuda.device_count()
assert d2l.num_gpus() == gpus and d2l.try_gpu() == torch.device("cuda:0" if gpus else "cpu")
assert d2l.try_all_gpus() == ([torch.device(f"cuda:{i}") for i in range(gpus)] or [torch.device("cpu")])
assert torch.ones(2).to(d2l.try_gpu()).device == d2l.try_gpu() and d2l.cpu() == torch.device("cpu")
assert isinstance(d2l.Timer().stop(), float) and f"{d2l.Timer().stop():.5f}"
metric = d2l.Accumulator(2)
metric.add(1, 2.5)
assert metric[1] == 2.5
import math
assert namespace["math"] is math and namespace["try_gpu"]() == torch.device("cpu")
assert namespace["d2l"].sin is torch.sin and namespace["defaultdict"](list)["a"] == []
# A library's own try of an import finds no stand-in (torch.compile's `import pandas`, `import tqdm`: the
# loads check told an honest torch.compile that the file imported them)
library = stand_ins._LIBRARIES[-1] + "lib_of_its_own.py"
try:
    exec(compile("import pandas", library, "exec"), {})
    raise AssertionError("a library's import found the stand-in")
except ModuleNotFoundError:
    pass
assert "pandas" not in used
# hn134, ux130: what Colab has and a notebook imports at its top
import pandas as pd
import seaborn as sns
from tqdm import tqdm, trange
from tqdm.auto import tqdm as auto_tqdm
import tqdm as whole
assert list(tqdm(range(3), desc="x")) == [0, 1, 2] and list(trange(2)) == [0, 1] and list(auto_tqdm([5])) == [5]
assert list(whole.tqdm("ab")) == ["a", "b"] and len(tqdm([1, 2])) == 2
with tqdm(total=3) as bar:
    bar.update(1)
sns.set_theme()
frame = pd.DataFrame({"x": [1.0]})
assert isinstance(frame, pd.DataFrame) and not isinstance(3, pd.DataFrame) and "does nothing" in repr(frame.head())
assert used == ["d2l", "pandas", "seaborn", "tqdm"], used
# rt188, hn135: Colab's first lines, and tqdm's other names
pd.options.display.max_rows = 20
assert pd.__version__ and len(frame) == 0 and len(sns.color_palette("husl", 2)) == 2 and f"{frame:.2f}"
from matplotlib.colors import to_rgb
assert to_rgb(sns.color_palette()[0]) and len(sns.color_palette()) == 10  # (a colour matplotlib draws with)
assert sns.color_palette("husl", 3).as_hex()[0] == "#4c72b0"  # (rt192, hn137: a plain list had no as_hex)
with sns.color_palette("Set2") as colours:
    assert len(colours) == 10
assert sns.color_palette("rocket", as_cmap=True)(0.5) is not None
from tqdm.contrib import tenumerate, tzip
assert list(tenumerate("ab")) == [(0, "a"), (1, "b")] and list(tzip([1], [2])) == [(1, 2)]
assert list(tenumerate("a", 1)) == [(1, "a")]  # (rv40: a positional start)
pd.DataFrame.from_dict({"x": [1]}).to_csv("never.csv")  # (rv40: a class's own names)
pd.Timestamp.now()
bar = tqdm(range(4))
bar.update(2)
assert (bar.n, bar.total) == (2, 4) and whole.tqdm.pandas() is None
try:
    from tqdm.contrib import not_a_name_of_tqdms
    raise AssertionError("an unknown name of tqdm's was a stand-in's")
except ImportError:
    pass
# hn149: a course's and Colab's other boilerplate, unused
import scipy
import torchvision.transforms as T
from sklearn.metrics import mean_squared_error
import ipywidgets as widgets
assert scipy.__version__ and all(name is not None for name in (T.Compose([T.ToTensor()]), mean_squared_error([1], [1]),
                                                               widgets.IntSlider(value=3)))
assert used[4:] == ["scipy", "torchvision", "sklearn", "ipywidgets"], used
# rt210: asking whether a package is there is no import of it (an optional check ran, and failed on the stand-in)
import importlib.util
assert importlib.util.find_spec("plotly") is None and importlib.util.find_spec("scipy") is not None
assert "plotly" not in used
print("OK")
"""


def test_d2l_stands_in_with_torchs_own_functions_under_its_names():
    """rt184: d2l.sin(x) inside get_derivative, as the book's code has it, got the do-nothing object back
    (None returned, 1/10), and `from d2l.torch import *` bound no name at all (its plot a NameError)."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr


GUARDED = """
import sys
from grader.sandbox import stand_ins
used = stand_ins.install()
path = sys.argv[1]
with open(path, "w") as handle:
    handle.write("try:\\n    import seaborn\\nexcept ImportError:\\n    seaborn = None\\nimport pandas\\n")
namespace = {}
exec(compile(open(path).read(), path, "exec"), namespace)
assert namespace["seaborn"] is None and namespace["pandas"].__version__ and used == ["pandas"], used
# A notebook's cells each on their own: one that does not parse left every other cell's try unread
import json
from grader.submission import cells_of, notebook_script
cells = ["try:\\n    from tqdm.contrib import tenumerate\\nexcept ImportError:\\n    tenumerate = enumerate\\n",
         "def half_written(:\\n", "steps = list(tenumerate('ab'))\\n"]
notebook = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
script = path[:-3] + ".ipynb"
with open(script, "wb") as handle:
    handle.write(notebook_script(json.dumps(notebook).encode()))
namespace = {}
for first, text in cells_of(open(script, "rb").read()):
    try:
        exec(compile(b"\\n" * (first - 1) + text, script, "exec"), namespace)
    except SyntaxError:
        pass
assert namespace["steps"] == [(0, "a"), (1, "b")] and "tqdm" not in used, used
# hn137: a file's own `# coding:` line (cp1252, an accent in a comment) left its try unread
latin = path[:-3] + "_latin.py"
with open(latin, "wb") as handle:
    handle.write("# -*- coding: cp1252 -*-\\n# Autor: \\u00c1lvaro\\ntry:\\n    import seaborn as sb\\n"
                 "except ImportError:\\n    sb = None\\n".encode("cp1252"))
namespace = {}
exec(compile(open(latin, "rb").read(), latin, "exec"), namespace)
assert namespace["sb"] is None and "seaborn" not in used, used
print("OK")
"""


def test_a_files_own_way_without_the_package_is_taken_not_the_stand_in(tmp_path):
    """hn135: `try: from tqdm.contrib import tenumerate` / `except ImportError: tenumerate = enumerate` got
    the stand-in, whose loop then ran over nothing (1/10 for 10): an import inside a try that catches a
    failed import finds no stand-in."""
    done = subprocess.run([sys.executable, "-c", GUARDED, str(tmp_path / "solution.py")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr
