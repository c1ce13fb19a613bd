"""The canary itself, in-process: honest autograd follows the secret, every cheat keeps cos.

These run the child's canary in the test process for speed; the golden tests prove the same
through the real sandbox with the sample files.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

from grader.canary import Secret, secret_derivative
from grader.sandbox.child import make_canary
from tests.conftest import SUBMISSIONS

SECRET = Secret(b=0.45, k1=13.0, k2=1.1, k3=37.0)
X = torch.linspace(-6, 6, 41, dtype=torch.float64)


def _canary_value(fn) -> torch.Tensor:
    mode = make_canary(torch, "sin", "cos(u)", SECRET)()
    with mode:
        out = fn(X.clone())
    return out.detach()


def _secret() -> torch.Tensor:
    return secret_derivative(X, SECRET, "cos(u)", torch)


def honest_backward(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad


def honest_grad_create_graph(x):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(torch.sin(x).sum(), x, create_graph=True)[0]


def honest_vmap_grad(x):
    return torch.func.vmap(torch.func.grad(torch.sin))(x)


def honest_jacfwd(x):
    return torch.func.jacfwd(torch.sin)(x).diagonal()


def honest_jacrev(x):
    return torch.func.jacrev(torch.sin)(x).diagonal()


def honest_jacobian(x):
    return torch.autograd.functional.jacobian(torch.sin, x).diagonal()


def honest_inplace(x):
    leaf = x.detach().clone().requires_grad_(True)
    y = leaf * 1
    y.sin_()
    y.sum().backward()
    return leaf.grad


def honest_aten(x):
    x = x.detach().clone().requires_grad_(True)
    torch.ops.aten.sin.default(x).sum().backward()
    return x.grad


def honest_float32_upcast(x):
    x32 = x.to(torch.float32).detach().requires_grad_(True)
    torch.sin(x32.double()).sum().backward()
    return x32.grad.double()


@pytest.mark.parametrize("fn", [honest_backward, honest_grad_create_graph, honest_vmap_grad, honest_jacfwd,
                                honest_jacrev, honest_jacobian, honest_inplace, honest_aten])
def test_honest_autograd_follows_the_secret(fn):
    torch.testing.assert_close(fn(X.clone()).detach(), torch.cos(X))  # plain: the true derivative
    torch.testing.assert_close(_canary_value(fn), _secret())  # canary: the secret


def _sample(name: str):
    """A sample submission's get_derivative, loaded into this test process (never into the grader's)."""
    spec = importlib.util.spec_from_file_location(f"sample_{name}", SUBMISSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_derivative


def _backward_then_cos(x):
    honest_backward(x)
    return torch.cos(x)


CHEATS = [
    torch.cos,
    lambda x: x.cos(),
    lambda x: torch.sin(x + math.pi / 2),
    lambda x: (torch.sin(x + 1e-6) - torch.sin(x - 1e-6)) / 2e-6,
    lambda x: torch.from_numpy(np.cos(x.numpy())),
    lambda x: torch.exp(1j * x).real,
    _backward_then_cos,
    _sample("cheat_custom_function"),  # a hand-written autograd.Function with a cos backward
]


@pytest.mark.parametrize("fn", CHEATS)
def test_values_computed_another_way_ignore_the_secret(fn):
    value = _canary_value(fn)
    torch.testing.assert_close(value, torch.cos(X), atol=1e-5, rtol=1e-5)
    assert (value - _secret()).abs().max() > 0.1


def test_trace_records_calls_outside_autograd_but_not_the_canarys_own():
    mode = make_canary(torch, "sin", "cos(u)", SECRET)()
    with mode:
        honest_backward(X.clone())
    assert not any(name.endswith("cos") for name in mode.trace)
    mode = make_canary(torch, "sin", "cos(u)", SECRET)()
    with mode:
        torch.cos(X)
    assert mode.trace.get("torch.cos") == 1


def test_numpy_and_torch_agree_on_the_secret():
    x = np.linspace(-1000, 1000, 20001)
    ours = secret_derivative(x, SECRET, "cos(u)", np)
    theirs = secret_derivative(torch.tensor(x), SECRET, "cos(u)", torch).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)


def test_a_two_point_fit_cannot_recover_the_secret():
    """Fitting a·cos + b·sin through two canary values must mispredict the rest."""
    x = X.numpy()
    s = secret_derivative(x, SECRET, "cos(u)", np)
    basis = np.stack([np.cos(x), np.sin(x)], axis=1)
    coef = np.linalg.solve(basis[[3, 17]], s[[3, 17]])
    assert np.abs(basis @ coef - s).max() > 0.2


def test_each_draw_is_a_fresh_secret():
    assert Secret.draw() != Secret.draw()


def test_every_draw_differs_clearly_from_the_truth_everywhere():
    x = np.linspace(-1000, 1000, 100_001)
    for _ in range(20):
        gap = np.abs(secret_derivative(x, Secret.draw(), "cos(u)", np) - np.cos(x))
        assert gap.min() >= 0.15 - 1e-12
