"""One way in: data modules import no process machinery, and code outside sandbox/ opens a session
only through sandbox.open_session. Read from the source (every import statement, lazy ones and
TYPE_CHECKING ones included), so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

GRADER = ROOT / "grader"
DATA = ("grader.observations", "grader.checks", "grader.score", "grader.feedback", "grader.verdict",
        "grader.outcome")
# What code outside sandbox/ may take from it: the way in, reply validation, and the types a
# running conversation has.
OUTSIDE_MAY_IMPORT = {
    # (visible_gpus, readable_to_children and grading_here: questions, no session)
    "grader.sandbox": {"open_session", "prewarm", "visible_gpus", "readable_to_children", "grading_here"},
    "grader.sandbox.replies": None,  # any name
    # (remove_folders_of: a stopped batch's cleanup of a killed worker's folders, no session)
    "grader.sandbox.session": {"Conversation", "SessionEnded", "remove_folders_of"},
}
# batch.py's workers start their zygote early by the old name; sandbox.prewarm() is the way in.
KNOWN: set[tuple[str, str, str]] = set()  # (file, module, name) allowed past the rule: none


def _file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, lazy: bool = True) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the file (only those its body runs on import, unless
    `lazy`); name is None for `import module`."""
    found: list[tuple[str, str | None]] = []
    tree = ast.parse(path.read_text(), str(path))
    nodes = ast.walk(tree) if lazy else (n for top in tree.body if not isinstance(top, ast.FunctionDef)
                                         for n in ast.walk(top))
    for node in nodes:
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}: a relative import"
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def _modules(module: str, name: str | None) -> tuple[set[str], set[str]]:
    """The grader modules an import names (the module, or a submodule `name`), and the packages
    above them, whose bodies run first."""
    named = {f"{module}.{name}"} if name and _file(f"{module}.{name}") else {module}
    parents = {".".join(m.split(".")[:i]) for m in named for i in range(1, m.count(".") + 1)}
    return ({m for m in named if m.startswith("grader") and _file(m)},
            {m for m in parents if m.startswith("grader") and _file(m)})


def _closure(start: str) -> set[str]:
    """Every grader module that `start` depends on: what it and they import anywhere (lazy imports
    included), and the bodies of the packages those imports run."""
    seen: dict[str, bool] = {}
    todo = [(start, True)]
    while todo:
        module, lazy = todo.pop()
        if module in seen and seen[module] >= lazy:
            continue
        seen[module] = lazy
        path = _file(module)
        assert path is not None, module
        for imported, name in _imports(path, lazy):
            named, parents = _modules(imported, name)
            todo.extend([(m, True) for m in named] + [(m, False) for m in parents])
    return set(seen)


def test_data_modules_import_nothing_from_the_sandbox():
    for module in DATA:
        reached = sorted(m for m in _closure(module) if m == "grader.sandbox" or m.startswith("grader.sandbox."))
        assert reached == [], f"{module} imports process machinery (directly or through another module): {reached}"


def test_outside_the_sandbox_a_session_is_opened_only_through_open_session():
    wrong = []
    for path in sorted(GRADER.rglob("*.py")):
        if path.is_relative_to(GRADER / "sandbox"):
            continue
        where = str(path.relative_to(ROOT))
        for module, name in _imports(path):
            if name is not None and _file(f"{module}.{name}"):  # from grader.sandbox import session
                module, name = f"{module}.{name}", None
            if module != "grader.sandbox" and not module.startswith("grader.sandbox."):
                continue
            allowed = OUTSIDE_MAY_IMPORT.get(module, set())
            # A whole module is fine only where every name in it is (the package shows only __all__).
            whole = module == "grader.sandbox" or allowed is None
            if not (whole if name is None else allowed is None or name in allowed or (where, module, name) in KNOWN):
                wrong.append(f"{where}: {name or 'the module'} from {module}")
    assert wrong == [], "use grader.sandbox.open_session (or prewarm): " + "; ".join(wrong)


def test_the_sandbox_offers_one_way_in():
    import grader.sandbox

    # One way to run code (open_session); the rest only start zygotes for it (a batch's is shared),
    # or say how many GPUs a child would be given (visible_gpus, for --device cuda's check), or whether a
    # folder is every child's to read (readable_to_children, for batch's and grade's class and --out), or
    # what a grading command must say, or refuse, before it starts (grading_here: a testing aid's layers left
    # off, others' files keeping the grading user's rights).
    assert grader.sandbox.__all__ == ["grading_here", "open_session", "prewarm", "readable_to_children",
                                      "share_zygote", "use_shared_zygote", "visible_gpus"]
    session_file = GRADER / "sandbox" / "session.py"
    assert ("grader.observations", "Ended") in _imports(session_file)  # data lives with the data
