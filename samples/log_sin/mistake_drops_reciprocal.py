import torch


def get_derivative(x):
    # Forgets the + 1/x term.
    x = x.detach().clone().requires_grad_(True)
    (torch.log(x ** 2) * torch.sin(x)).sum().backward()
    return x.grad
