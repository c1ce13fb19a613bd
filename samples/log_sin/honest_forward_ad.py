import torch


def f(x):
    return torch.log(x ** 2) * torch.sin(x) + x.reciprocal()


def get_derivative(x):
    # Forward mode: push a tangent of ones through f.
    _, tangent = torch.func.jvp(f, (x.detach(),), (torch.ones_like(x),))
    return tangent
