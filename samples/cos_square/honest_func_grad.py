import torch
from torch.func import grad, vmap


def get_derivative(x):
    # d/dx of cos(x^2) for one number, mapped over every element.
    flat = x.detach().reshape(-1)
    return vmap(grad(lambda t: torch.cos(t * t)))(flat).reshape(x.shape)
