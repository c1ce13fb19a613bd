"""Small math expressions from exercise files, evaluated with numpy (parent) or torch (child).

An exercise states its function, its gradient and its primitive's derivative as expressions such
as "d_cos(x**2) * 2*x". They are checked when the exercise loads (only arithmetic, numbers, x or u,
and the functions below), then evaluated on whole arrays. `d_<primitive>` in a gradient stands for
the primitive's derivative: the true one for the reference, the canary's secret one for the value
autograd must produce under the canary. So the reference under the canary is computed from the
same formula, exactly, in float64, without the grader ever importing torch.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from typing import Any

FUNCTIONS = ("sin", "cos", "exp", "log", "sqrt", "abs", "tanh", "sum")
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant, ast.Add, ast.Sub,
          ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


class FormulaError(ValueError):
    """An expression in an exercise file uses something other than plain math."""


@functools.cache
def compile_formula(text: str, variables: tuple[str, ...]) -> Any:
    """Check `text` uses only arithmetic, numbers, `variables` and the known functions; compile it."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise FormulaError(f"{text!r} is not an expression: {err.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise FormulaError(f"{text!r}: {type(node).__name__} is not allowed in a formula")
        if isinstance(node, ast.Name) and node.id not in variables and node.id not in FUNCTIONS:
            raise FormulaError(f"{text!r}: unknown name {node.id!r} (use {', '.join(variables + FUNCTIONS)})")
        if isinstance(node, ast.Call) and (node.keywords or not isinstance(node.func, ast.Name)):
            raise FormulaError(f"{text!r}: only plain calls like sin(x) are allowed")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise FormulaError(f"{text!r}: only numbers are allowed as constants")
    return compile(tree, f"<formula {text}>", "eval")


def evaluate(text: str, xp: Any, **values: Any) -> Any:
    """The expression on arrays of module xp (numpy, or torch), with `values` bound to its names
    (arrays, or functions such as d_sin)."""
    code = compile_formula(text, tuple(sorted(values)))
    return eval(code, {"__builtins__": {}}, _names(xp, values))  # compiled from an expression checked above


def subexpressions(text: str, xp: Any, **values: Any) -> list[Any]:
    """The value of every part of the expression that computes something (each call, operation and
    name), on arrays of module xp with `values` bound: what the tensors of a computation of it hold
    (x², ‖x‖², ‖x‖² + 1 and the rest of sin(cos(‖x‖² + 1)))."""
    names = _names(xp, values)
    return [eval(part, {"__builtins__": {}}, names) for part in _parts(text, tuple(sorted(values)))]


@functools.cache
def _parts(text: str, variables: tuple[str, ...]) -> tuple[Any, ...]:
    """Each part of an expression checked as compile_formula checks it, compiled (once: the grader asks
    for every graded call's)."""
    compile_formula(text, variables)
    return tuple(compile(ast.Expression(body=node), f"<part of {text}>", "eval")
                 for node in ast.walk(ast.parse(text, mode="eval").body)
                 if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call, ast.Name))
                 and not (isinstance(node, ast.Name) and node.id in FUNCTIONS))


def _names(xp: Any, values: dict[str, Any]) -> dict[str, Any]:
    """What an expression's names stand for: the functions of module xp, and `values`."""
    names: dict[str, Any] = {name: getattr(xp, name) for name in FUNCTIONS if name != "sum"}
    names["sum"] = _sum(xp)
    names.update(values)
    return names


def _sum(xp: Any) -> Callable[[Any], Any]:
    # The sum over every element, as a scalar that broadcasts against x (numpy and torch alike).
    return lambda a: xp.sum(a)


def names(text: str) -> frozenset[str]:
    """The functions an expression calls."""
    return frozenset(node.func.id for node in ast.walk(ast.parse(text, mode="eval"))
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Name))
