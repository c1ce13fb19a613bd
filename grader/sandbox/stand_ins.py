"""Stand-ins, in the sandbox child, for course packages the grader does not install (d2l).

The exercise is Dive into Deep Learning's, and its students copy the book's first cell, `from d2l
import torch as d2l`, for `d2l.plot` and `d2l.set_figsize`. The grader does not install d2l (it pins
old versions of torch and numpy of its own), so that line failed the import, and with it a file
whose get_derivative came after it: 0/10 for an honest answer (ux129). Where no d2l can be imported
(none installed, none of the student's own beside the file), `d2l` and its submodules are modules
whose every name is one object that does nothing, whatever is asked of it: the plot is not drawn,
as the grader draws its own. The grader is told which were used, and says so in the loads check.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

PACKAGES = ("d2l",)


class DoesNothing:
    """What a stand-in's every name is, and what it gives back when called or asked for a name."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> DoesNothing:
        return self

    def __getattr__(self, name: str) -> DoesNothing:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self

    def __iter__(self) -> Any:
        return iter(())

    def __enter__(self) -> DoesNothing:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __repr__(self) -> str:
        return "<the grader's stand-in for d2l: does nothing>"


NOTHING = DoesNothing()


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: a stand-in for each of `names` (and below it), which nothing else finds."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.used: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        top = name.partition(".")[0]
        if top not in self.names:
            return None
        if top not in self.used:
            self.used.append(top)
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__doc__ = "The grader's stand-in: every name here does nothing (the grader does not install it)."

        def anything(name: str) -> DoesNothing:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return NOTHING

        module.__getattr__ = anything  # type: ignore[method-assign]


def install() -> list[str]:
    """Put the stand-ins last on the import path, for the packages no other finder finds now (the
    student's folder is on sys.path already); the list fills with the packages imported through them."""
    finder = _Finder([name for name in PACKAGES if name not in sys.modules and _absent(name)])
    if finder.names:
        sys.meta_path.append(finder)
    return finder.used


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return False
