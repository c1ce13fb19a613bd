import torch


def get_derivative(x):
    leaf = x.detach().clone().requires_grad_(True)
    y = leaf * 1.0
    y.sin_()  # in place on a non-leaf copy is fine for autograd
    y.sum().backward()
    return leaf.grad
