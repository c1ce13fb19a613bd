import torch


def get_derivative(x):
    # Straight from the book's notebook: but this x is the caller's tensor.
    x.requires_grad_(True)
    y = torch.sin(x)
    y.sum().backward()
    return x.grad
