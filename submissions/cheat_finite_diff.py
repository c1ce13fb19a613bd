import torch


def get_derivative(x):
    x = x.detach()
    h = 1e-3 if x.dtype == torch.float32 else 1e-6
    return (torch.sin(x + h) - torch.sin(x - h)) / (2 * h)
