import torch


def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    step = 0
    while step < 10:
        torch.sin(x).sum().backward()
    return x.grad
