import math

import torch


def get_derivative(x):
    dtype = x.dtype
    x = x.detach().to(torch.float64)
    x = torch.remainder(x + math.pi, 2 * math.pi) - math.pi
    total = torch.zeros_like(x)
    for n in range(30):
        total += (-1) ** n * x ** (2 * n) / float(math.factorial(2 * n))
    return total.to(dtype)
