"""A notebook cell's IPython syntax as the plain Python it stands for, line for line.

Jupyter runs a cell through IPython, which takes more than Python does: magics (`%time`, a `%%bash`
cell), shell escapes (`!pip install d2l`), help (`torch.sin?`), `display`, and a `from __future__`
in any cell (each cell is compiled on its own). A notebook that runs with Restart & Run All scored 0
for each of these (rt137, ux112), told of a syntax error that `python` would show. And only where a
logical line starts: commenting out every line that starts with `%` broke a continuation inside
brackets (`print("%.2e"` then `% err)`), valid in Python and in IPython alike (rt137).

Each line of the cell stays one line (the feedback names a notebook's lines by cell and line; lines
end where Python's own end them, at \\n, \\r\\n and \\r only: a U+2028 in a comment shifted every
line after it, rt139), so IPython's own lines become `pass`, or what they run (`%time g = f(x)`
runs `g = f(x)`), with the original after a `#`; the lines a backslash continues an IPython line
onto are comments too. Cell magics at a cell's top (any number of them, looked at one at a time: a
cell of 1,200 `%%time` lines, each handled by a call of its own, once ended the grader in a
RecursionError, rt139): `%%time`, `%%capture` and `%%prun` run their body as Python, as IPython
does (`%%capture NAME` binds NAME to a stand-in with empty `stdout` and `stderr`); `%%writefile`
writes its body to its file in the child's folder (importable from there, as from Jupyter's working
folder); any other (`%%bash`, `%%script false`, `%%html`) leaves its body out.
"""

from __future__ import annotations

import ast
import re
import shlex

_RUN_SOURCE = """def _ipython_run(line, namespace):
    import os, runpy, shlex, sys
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    options = []
    while words and words[0].startswith("-"):
        options.append(words.pop(0))
    if not words:
        return
    path = next((c for c in (words[0], words[0] + ".py") if os.path.isfile(c)), None)
    if path is None:
        print(f"%run: {words[0]} is not beside the notebook here; skipped", file=sys.stderr)
        return
    argv, sys.argv[:] = sys.argv[:], [path, *words[1:]]
    try:
        found = runpy.run_path(path, init_globals=namespace if "-i" in options else None, run_name="__main__")
    finally:
        sys.argv[:] = argv
    namespace.update({k: v for k, v in found.items() if not (k.startswith("__") and k.endswith("__"))})
"""
# `NAME = %timeit -o STATEMENT`: IPython's TimeitResult of the statement, run once here (IPython runs
# it thousands of times): hn122's `t = %timeit -o f(x)` then `t.average` was None's AttributeError, 0/10.
_TIMEIT_SOURCE = """def _ipython_timeit(statement, namespace):
    import time
    code = compile(statement, "<timeit>", "exec")
    started = time.perf_counter()
    exec(code, namespace)
    took = time.perf_counter() - started
    from IPython.core.magics.execution import TimeitResult
    return TimeitResult(1, 1, took, took, [took], 0.0, 3)
"""
# What the script runs before the first cell, on one line: IPython's display() where there is no
# IPython (as print of its repr, the text/plain IPython shows), and %run's work (_ran), after the
# notebook's future imports, which Python takes only at the top of a file.
DISPLAY = ('__import__("builtins").display = lambda *objects, **options: print(*map(repr, objects)); '
           f'__import__("builtins")._ipython_run = (lambda space: (exec({_RUN_SOURCE!r}, space), '
           'space["_ipython_run"])[1])({}); '
           f'__import__("builtins")._ipython_timeit = (lambda space: (exec({_TIMEIT_SOURCE!r}, space), '
           'space["_ipython_timeit"])[1])({})')
# IPython's output history, which a notebook's Restart & Run All fills in: the value of a cell that
# ends in an expression (not None, and no `;` after it) becomes `_` (the older ones `__` and `___`,
# unless the notebook bound those names itself), `_N` and `Out[N]` for the cell's execution count N.
# A notebook whose cell read `g = _` scored 0, "name '_' is not defined" (hn120).
_OUT_SOURCE = """def _ipython_out(count, value, __echoed__):
    space = __echoed__
    if value is None:
        return None
    kept = _ipython_out.kept
    unders = all(name not in space or space[name] is mine for name, mine in zip(("_", "__", "___"), kept))
    kept[:] = [value, kept[0], kept[1]]
    if unders:
        space["_"], space["__"], space["___"] = kept
    space["_" + str(count)] = value
    if isinstance(space.get("_oh"), dict):
        space["_oh"][count] = value
    return None
_ipython_out.kept = ["", "", ""]
"""
# get_ipython() in a notebook that runs without IPython: a stand-in whose magics do what the
# grader's reading of a magic's line does (%run, %time's statement, %%writefile, a %%time or
# %%capture cell's body), and nothing where that is nothing (%matplotlib, a shell command). hn123's
# `ip = get_ipython()` and `if get_ipython() is not None:` stopped the cell holding `import torch`:
# 0/10, where Jupyter runs them.
_SHELL_SOURCE = """class _Shell:
    def __init__(self, namespace):
        self.user_ns = namespace
    def run_line_magic(self, magic, line, _stack_depth=1):
        if magic == "run":
            return _ipython_run(line, self.user_ns)
        if magic in ("time", "prun"):
            exec(line, self.user_ns)
        return None
    def run_cell_magic(self, magic, line, cell):
        if magic in ("writefile", "file"):
            words = line.split()
            named = [word for word in words if not word.startswith("-")]
            if named:
                with open(named[0], "a" if "-a" in words or "--append" in words else "w") as handle:
                    handle.write(cell if cell.endswith("\\n") else cell + "\\n")
        elif magic in ("time", "capture", "prun"):
            exec(cell, self.user_ns)
        return None
    def magic(self, line):
        name, _, rest = line.lstrip("%").partition(" ")
        return self.run_line_magic(name, rest)
    def system(self, command):
        return None
    def getoutput(self, command):
        return []
    def __repr__(self):
        return "<the grader's stand-in for IPython's shell: magics do what the grader's reading of them does>"
def _shell(namespace):
    shell = _Shell(namespace)
    return lambda: shell
"""
# A notebook's script's first line (after its future imports): DISPLAY, the output history and
# get_ipython().
NOTEBOOK_PRELUDE = (f'{DISPLAY}; _ = __ = ___ = ""; Out = _oh = {{}}; '
                    f'__import__("builtins")._ipython_out = (lambda space: (exec({_OUT_SOURCE!r}, space), '
                    'space["_ipython_out"])[1])({}); '
                    f'get_ipython = (lambda space: (exec({_SHELL_SOURCE!r}, space), '
                    'space["_shell"](globals()))[1])({})')
_MOVED = "  # moved to the top of the script"  # (a future import's first line, where it was)
_PYTHON_BODY = frozenset({"time", "capture", "prun"})  # cell magics that run their body as Python, once
_WRITES = ("writefile", "file")  # %%file is IPython's other name for %%writefile (rt145)
_CAPTURED = '{} = __import__("types").SimpleNamespace(stdout="", stderr="", outputs=[], show=lambda: None)'
_FUTURE = re.compile(r"from\s+__future__\s+import\b")
# `%time STMT` and `NAME = %time EXPR` run the statement (IPython times it); what a shell escape
# gives an assignment is a list of its output lines (none here), what another magic gives, None.
_TIMED = re.compile(r"%time\s+(?P<statement>.+)")
_TIMEIT_KEPT = re.compile(r"%timeit\s+(?=(?:-[nrp]\s*\d+\s+|-[qtc]\s+)*-o\s)(?:(?:-[nrp]\s*\d+|-[oqtc])\s+)+"
                          r"(?P<statement>[^-\s].*)")
_ASSIGNED = re.compile(r"(?P<target>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*(?P<value>[%!].*)")
_HELP = re.compile(r"\?{1,2}\s*[\w.*]+|[\w.*]+(\(\))?\?{1,2}")
# Prompts pasted with the code, which IPython strips where a cell's first line starts with one (the
# first pattern), from every line that has one (the second): the classic `>>> ` and `... `, and
# IPython's own `In [1]: ` and `   ...: `. (A first line `...`, Ellipsis, is no prompt.)
_PROMPTS = ((re.compile(r">>>( |$)"), re.compile(r"(>>>|\.\.\.)( |$)")),
            (re.compile(r"In \[\d+\]: "), re.compile(r"In \[\d+\]: |\s*\.\.\.+: ")))
_LINE_END = re.compile(r"\r\n|\r|\n")


def lines_of(text: str) -> list[str]:
    """`text`'s lines as Python's tokenizer ends them (\\n, \\r\\n, \\r; not str.splitlines's U+2028,
    form feeds and the like), without the line ends."""
    lines = _LINE_END.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def python_lines(text: str) -> tuple[list[str], list[str]]:
    """The cell's lines as Python (as many as it has), and the future imports to move to the top."""
    lines, futures = placed_python_lines(text)
    return lines, [future for future, _ in futures]


def placed_python_lines(text: str) -> tuple[list[str], list[tuple[str, int]]]:
    """python_lines, each future import with the line of the cell it starts on (from 1): where an
    error in it is told (a student's own comment that read as the mark of a moved import moved the
    place, rt143)."""
    lines = _without_prompts(lines_of(text))
    out: list[str] = []
    start = 0
    while start < len(lines):  # the cell magics at its top, one at a time
        if not lines[start].strip():
            out.append(lines[start])
        elif lines[start].lstrip().startswith("%%"):
            magic = lines[start].strip()[2:].split()
            if magic and magic[0] in _WRITES and (written := _written(_words(lines[start].strip()[2:])[1:],
                                                                          lines[start + 1:])):
                return out + [f"{written}  # {lines[start].strip()}"] + \
                    [f"# {line}" if line.strip() else line for line in lines[start + 1:]], []
            if not magic or magic[0] not in _PYTHON_BODY:
                return out + [f"# {line}" if line.strip() else line for line in lines[start:]], []
            captured = _captured(magic[0], magic[1:])
            out.append(f"{captured}  # {lines[start].strip()}" if captured else f"# {lines[start]}")
        else:
            break
        start += 1
    futures: list[tuple[str, int]] = []
    depth, quote, continued, ipython = 0, "", False, False
    future: list[str] = []  # a future import's lines while its brackets are open
    for line in lines[start:]:
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if ipython:  # a line a backslash continues an IPython line onto
            out.append(f"{indent}# {stripped}")
            ipython = line.endswith("\\")
            continue
        starts = depth == 0 and not quote and not continued and stripped
        if future or (starts and _FUTURE.match(stripped)):
            future.append(line)
            depth, quote, continued = _scan(line, depth, quote)
            out.append(f"{indent}pass{_MOVED}" if len(future) == 1 else f"# {stripped}")
            if depth == 0 and not quote and not continued:
                # (no strings in one: a # starts a comment; a backslash only continued the line)
                futures.append((" ".join(part.split("#")[0].strip().removesuffix("\\").strip() for part in future),
                                len(out) - len(future) + 1))
                future = []
            continue
        python = _as_python(stripped) if starts else None
        if python is not None:
            # (a backslash that ends in a comment continues nothing: the lines it continued are IPython's)
            ipython = stripped.endswith("\\") and not _scan(python, 0, "")[2]
            line = f"{indent}{python}"
        out.append(line)
        depth, quote, continued = _scan(line, depth, quote)
    return out, futures


def _written(words: list[str], body: list[str]) -> str:
    """`%%writefile [-a] FILE` as one line of Python that writes the cell's body to FILE, as IPython
    does ("" where the magic names no file): a notebook that writes a module and imports it in the
    next cell runs with Restart & Run All, and was told its module was missing (rt140)."""
    names = [word for word in words if not word.startswith("-")]
    if len(names) != 1:
        return ""
    mode = "a" if {"-a", "--append"} & set(words) else "w"
    text = "".join(line + "\n" for line in body)
    return f"__import__('pathlib').Path({names[0]!r}).open({mode!r}, encoding='utf-8').write({text!r})"


def _captured(magic: str, words: list[str]) -> str:
    """`%%capture NAME`'s binding of NAME to a stand-in with empty output, as one statement ("" for
    another magic, or a capture that names nothing)."""
    name = next((word for word in words if not word.startswith("-")), "") if magic == "capture" else ""
    return _CAPTURED.format(name) if name.isidentifier() else ""


def _words(line: str) -> list[str]:
    """A magic's arguments as IPython splits them, quotes taken off ("my deriv.py": rt143)."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _without_prompts(lines: list[str]) -> list[str]:
    """The cell's lines without pasted prompts, where its first line has one (as IPython does), and
    without the indentation of its first line where every line has it (IPython removes it too)."""
    first = next((line for line in lines if line.strip()), "")
    for starts, prompt in _PROMPTS:
        if starts.match(first):
            lines = [line[found.end():] if (found := prompt.match(line)) else line for line in lines]
            first = next((line for line in lines if line.strip()), "")
            break
    indent = first[: len(first) - len(first.lstrip())]
    if indent and all(line.startswith(indent) or not line.strip() for line in lines):
        lines = [line[len(indent):] for line in lines]
    return lines


def _as_python(stripped: str) -> str | None:
    """An IPython line (from the start of a logical line) as Python; None where it is Python already.
    What it runs ends the line where a backslash continues it onto the next (no comment after it)."""
    timed = _TIMED.fullmatch(stripped)
    if timed:
        return _noted(timed["statement"], "%time")
    if stripped == "%run" or stripped.startswith(("%run ", "%run\t")):
        # (IPython keeps a # in a magic's arguments: `%run deriv.py  # defines it` runs deriv.py, rt147;
        # no regular expression here: one with nested repeats took 36 s for "%run", 3,200 spaces, "#")
        return f"{_ran(stripped[4:])}  # {stripped}"
    called = _EXPORTED.fullmatch(stripped)
    if called:
        # (a cell may call IPython itself, as an exported script does: rt145's
        # get_ipython().run_line_magic('matplotlib', 'inline') was a NameError)
        return f"{_exported_python(called, prelude=True)}  # {stripped}"
    if stripped.startswith(("%", "!")) or _HELP.fullmatch(stripped):
        return f"pass  # {stripped}"
    assigned = _ASSIGNED.fullmatch(stripped)
    if assigned:
        kept = _TIMEIT_KEPT.fullmatch(assigned["value"])
        if kept:
            return _noted(f"{assigned['target']} = _ipython_timeit({kept['statement']!r}, globals())",
                          assigned["value"])
        timed = _TIMED.fullmatch(assigned["value"])
        value = timed["statement"] if timed else "[]" if assigned["value"].startswith("!") else "None"
        return _noted(f"{assigned['target']} = {value}", assigned["value"] if not timed else "%time")
    return None


def _ran(arguments: str) -> str:
    """`%run [-i] FILE [ARGS]` as one line of Python: FILE (or FILE.py) run as __main__ from the
    child's folder, where a %%writefile cell writes, with ARGS in sys.argv, and its names added to the
    notebook's, as IPython does (with -i it sees the notebook's names too); a FILE that is not there
    is skipped, with a word on stderr (the function may well be in the notebook itself: a notebook
    that ran %run on a file of the student's own scored as before). rt145's `%%writefile deriv.py`
    then `%run deriv.py` was told get_derivative was not defined. The work is the prelude's
    (DISPLAY): a line of its own here, short enough for the feedback to show the magic it stands for
    (ux116 was shown `(lambda p: globals().update(...` for its `%run bad.py`)."""
    return f"_ipython_run({arguments.strip()!r}, globals())"


ECHO_START, ECHO_END = "_ipython_out(", "), __echoed__=globals())"  # (read back by unechoed)


def echoed(lines: list[str], count: int) -> list[str]:
    """A cell's Python lines (python_lines) with its last statement, where it is an expression whose
    value IPython would show (no `;` after it), passed to the output history (NOTEBOOK_PRELUDE) as
    execution `count`: `_ipython_out(3, (expr), __echoed__=globals())`, each line still one line."""
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return lines  # (its error is the feedback, as it stands)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return lines
    last = tree.body[-1]
    end_line = last.end_lineno
    if end_line is None or last.end_col_offset is None:
        return lines
    first, end = last.lineno - 1, end_line - 1
    start = len(lines[first].encode("utf-8", "surrogatepass")[:last.col_offset].decode("utf-8", "surrogatepass"))
    stop = len(lines[end].encode("utf-8", "surrogatepass")[:last.end_col_offset].decode("utf-8", "surrogatepass"))
    after = " ".join([lines[end][stop:], *lines[end + 1:]])
    if re.match(r"\s*;", after):  # (IPython's quiet cell: `plt.plot(x);` shows nothing, stores nothing)
        return lines
    lines = list(lines)
    lines[end] = f"{lines[end][:stop]}{ECHO_END}{lines[end][stop:]}"
    lines[first] = f"{lines[first][:start]}{ECHO_START}{count}, ({lines[first][start:]}"
    return lines


def unechoed(line: str) -> tuple[str, int]:
    """A line as the student wrote it, without echoed's wrapping (`_ipython_out(3, (f(x)),
    __echoed__=globals())` is `f(x)`), and how many characters that took from its start (a syntax
    error's column). The sandbox child quotes an error's line so."""
    cut = 0
    if line.startswith(ECHO_START) and ", (" in line:
        count, _, rest = line[len(ECHO_START):].partition(", (")
        if count.isdigit():
            cut, line = len(line) - len(rest), rest
    head, found, tail = line.rpartition(ECHO_END)
    return (head + tail if found else line), cut


def as_written(script: str) -> str:
    """A notebook's script without what the grader added to it (its prelude, `display`, the output
    history's wrapping): the student's code, comparable with a .py of theirs (ux120: a notebook's copy
    of a classmate's .py was not found identical)."""
    kept = (line for line in script.splitlines() if line not in (DISPLAY, NOTEBOOK_PRELUDE))
    # (a magic that does nothing is `pass  # %matplotlib inline` here: its comment alone, as a .py has it)
    lines = (line.replace("pass  # ", "# ", 1) if line.lstrip().startswith("pass  # ") else unechoed(line)[0]
             for line in kept)
    return "\n".join(lines) + "\n"


def echoes(text: str) -> bool:
    """Whether a cell's value is IPython's to show: not under a cell magic other than %%time (whose
    last expression's value is the cell's), `%%writefile` and `%%capture` return None (hn121: the
    number of characters %%writefile's stand-in wrote became `_`)."""
    for line in lines_of(text):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("%%"):
            return True
        if stripped[2:].split()[:1] != ["time"]:
            return False
    return True


def _noted(statement: str, note: str) -> str:
    return statement if statement.endswith("\\") else f"{statement}  # {note}"


def _scan(line: str, depth: int, quote: str) -> tuple[int, str, bool]:
    """After `line`: the brackets still open, the string still open (its closing quotes, "" where
    none), and whether a backslash continues it, as Python's tokenizer would have them."""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i, quote = i + len(quote), ""
                continue
        elif char == "#":
            return depth, "", False
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char in "'\"":
            quote = line[i:i + 3] if line[i:i + 3] in ("'''", '"""') else char
            i += len(quote)
            continue
        i += 1
    continued = line.endswith("\\") and (not quote or len(quote) == 1)
    if len(quote) == 1 and not continued:
        quote = ""  # a one-quote string left open ends with its line (a syntax error of its own)
    return depth, quote, continued


# A notebook exported as a script (Jupyter's File > Save and Export Notebook As > Executable Script,
# which the feedback itself suggests for a notebook it cannot read) writes IPython's lines as calls:
# `get_ipython().run_line_magic('matplotlib', 'inline')`, `get_ipython().system('pip install d2l')`.
# Outside IPython each one is a NameError, and an honest export scored 0.
_EXPORTED = re.compile(r"(?:(?P<target>[A-Za-z_]\w*)\s*=\s*)?get_ipython\(\)\.(?P<method>\w+)\((?P<args>.*)\)")


def exported_lines(text: str) -> list[str] | None:
    """A script's lines with an exported notebook's `get_ipython()` calls (statements of their own,
    where a statement starts) as what they run: `%time`'s statement, or nothing (`pass`; an
    assignment's value, a list for a shell command's output, else None). None where there is no
    such call (the script is left as it is), line for line otherwise."""
    if "get_ipython()" not in text:
        return None
    out: list[str] = []
    depth, quote, continued = 0, "", False
    for line in lines_of(text):
        stripped = line.strip()
        called = _EXPORTED.fullmatch(stripped) if depth == 0 and not quote and not continued else None
        if called:
            indent = line[: len(line) - len(line.lstrip())]
            line = f"{indent}{_exported_python(called)}  # {stripped}"
        out.append(line)
        depth, quote, continued = _scan(line, depth, quote)
    return out


def _exported_python(called: re.Match[str], prelude: bool = False) -> str:
    """What an exported get_ipython() line runs; `prelude`: in a notebook's script, whose prelude
    (DISPLAY) made %run's helper already."""
    try:
        call = ast.parse(f"f({called['args']})", mode="eval").body
        args = [ast.literal_eval(node) for node in call.args] if isinstance(call, ast.Call) else []
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        args = []
    statement = args[1] if called["method"] == "run_line_magic" and len(args) == 2 and args[0] == "time" and \
        isinstance(args[1], str) and "\n" not in args[1] else ""
    if called["method"] == "run_line_magic" and len(args) == 2 and args[0] == "run" and isinstance(args[1], str):
        # (an exported script has no prelude: the helper is made where it is wanted)
        statement = _ran(args[1]) if prelude else f"exec({DISPLAY!r}); {_ran(args[1])}"
    if called["method"] == "run_cell_magic" and len(args) == 3 and args[0] in _WRITES and \
            all(isinstance(arg, str) for arg in args):
        statement = _written(_words(args[1]), lines_of(args[2]))
    if called["method"] == "run_cell_magic" and len(args) == 3 and args[0] in _PYTHON_BODY and \
            all(isinstance(arg, str) for arg in args):
        # The body runs, as in a notebook's own %%time cell (its IPython lines as Python too): an
        # exported %%time cell that defined the function was "does not define get_derivative", and a
        # %%capture cell's `import torch` a NameError on every call (rt148).
        lines, futures = python_lines(args[2])
        body = "\n".join([*futures, *lines])  # (a future import stays the top of what exec compiles: rt150)
        captured = _captured(args[0], _words(args[1]))
        captured += "; " if captured else ""
        helper = f"exec({DISPLAY!r}); " if "_ipython_run(" in body and not prelude else ""
        statement = f"{captured}{helper}exec({body!r}, globals())"
    if called["target"]:
        value = statement or ("[]" if called["method"] in ("getoutput", "system") else "None")
        return f"{called['target']} = {value}"
    return statement or "pass"
