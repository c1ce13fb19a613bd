"""Reference solution: d/dx [log(x²)·sin(x) + 1/x] through autograd, for any shape."""

import torch


def get_derivative(x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    y = torch.log(leaf**2) * torch.sin(leaf) + 1 / leaf
    (grad,) = torch.autograd.grad(y.sum(), leaf)
    return grad
