import torch


def get_derivative(x):
    # Differentiates cos(u) with respect to u = x^2 and forgets du/dx = 2x.
    u = (x.detach() ** 2).requires_grad_(True)
    torch.cos(u).sum().backward()
    return u.grad
