import torch


def get_derivative(x):
    return -2 * x * torch.sin(x ** 2)
