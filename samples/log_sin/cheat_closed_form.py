import torch


def get_derivative(x):
    return 2 * torch.sin(x) / x + torch.log(x ** 2) * torch.cos(x) - 1 / x ** 2
