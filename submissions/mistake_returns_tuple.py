import torch


def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    y = torch.sin(x)
    return torch.autograd.grad(y.sum(), x)
