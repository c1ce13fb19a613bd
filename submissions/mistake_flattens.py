import torch


def get_derivative(x):
    x = x.detach().reshape(-1).clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad
