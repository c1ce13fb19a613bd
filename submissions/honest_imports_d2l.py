import torch
from d2l import torch as d2l

x = torch.arange(-5, 5, 0.1)


def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad


d2l.plot(x, [torch.sin(x), get_derivative(x)], "x", "f(x)", legend=["sin", "derivative"])
