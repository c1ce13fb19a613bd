import torch


def get_derivative(x):
    # Euler: exp(ix) = cos(x) + i sin(x)
    return torch.exp(1j * x.detach()).real.to(x.dtype)
