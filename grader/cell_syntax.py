"""A notebook cell's IPython syntax as the plain Python it stands for, line for line.

Jupyter runs a cell through IPython, which takes more than Python does: magics (`%time`, a `%%bash`
cell), shell escapes (`!pip install d2l`), help (`torch.sin?`), `display`, and a `from __future__`
in any cell (each cell is compiled on its own). A notebook that runs with Restart & Run All scored 0
for each of these (rt137, ux112), told of a syntax error that `python` would show. And only where a
logical line starts: commenting out every line that starts with `%` broke a continuation inside
brackets (`print("%.2e"` then `% err)`), valid in Python and in IPython alike (rt137).

Each line of the cell stays one line (the feedback names a notebook's lines by cell and line), so
IPython's own lines become `pass`, or what they run (`%time g = f(x)` runs `g = f(x)`), with the
original after a `#`. A cell magic whose body is not Python (`%%bash`, `%%writefile`, `%%script
false`, `%%html`) is left out whole; `%%time` and `%%capture` run their body as Python, as IPython does.
"""

from __future__ import annotations

import re

# What the script runs before the first cell: IPython's display() where there is no IPython (as
# print of its repr, the text/plain IPython shows), and the notebook's future imports, which Python
# takes only at the top of a file.
DISPLAY = '__import__("builtins").display = lambda *objects, **options: print(*map(repr, objects))'
_PYTHON_BODY = frozenset({"time", "capture"})  # cell magics that run their body as Python, once
_FUTURE = re.compile(r"from\s+__future__\s+import\s+[\w\s,()]+$")
# `%time STMT` and `NAME = %time EXPR` run the statement (IPython times it); what other magics and
# shell escapes give an assignment is none of Python's (`files = !ls`): None.
_TIMED = re.compile(r"%time\s+(?P<statement>.+)")
_ASSIGNED = re.compile(r"(?P<target>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*(?P<value>[%!].*)")
_HELP = re.compile(r"\?{1,2}[\w.]+|[\w.]+(\(\))?\?{1,2}")


def python_lines(text: str) -> tuple[list[str], list[str]]:
    """The cell's lines as Python (as many as it has), and the future imports to move to the top."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()[2:].split()
        skipped = first + 1 if magic and magic[0] in _PYTHON_BODY else len(lines)
        body, _ = python_lines("\n".join(lines[skipped:])) if skipped < len(lines) else ([], [])
        return [f"# {line}" if line.strip() else line for line in lines[:skipped]] + body, []
    out: list[str] = []
    futures: list[str] = []
    depth, quote, continued = 0, "", False
    for line in lines:
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if depth == 0 and not quote and not continued and stripped:
            if _FUTURE.fullmatch(stripped):
                futures.append(stripped)
                out.append(f"{indent}pass  # {stripped}: at the top of the script")
                continue
            python = _as_python(stripped)
            if python is not None:
                out.append(f"{indent}{python}")
                continue
        out.append(line)
        depth, quote, continued = _scan(line, depth, quote)
    return out, futures


def _as_python(stripped: str) -> str | None:
    """An IPython line (from the start of a logical line) as Python; None where it is Python already."""
    timed = _TIMED.fullmatch(stripped)
    if timed:
        return f"{timed['statement']}  # %time"
    if stripped.startswith(("%", "!")) or _HELP.fullmatch(stripped):
        return f"pass  # {stripped}"
    assigned = _ASSIGNED.fullmatch(stripped)
    if assigned:
        timed = _TIMED.fullmatch(assigned["value"])
        value = timed["statement"] if timed else "None"
        return f"{assigned['target']} = {value}  # {assigned['value']}"
    return None


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
