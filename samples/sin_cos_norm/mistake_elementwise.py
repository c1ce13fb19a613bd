import torch


def get_gradient(x):
    # Applies f to each element on its own: the gradient of a sum of f(x_i), not of f(x).
    x = x.detach().clone().requires_grad_(True)
    torch.sin(torch.cos(x ** 2 + 1)).sum().backward()
    return x.grad
