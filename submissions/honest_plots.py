"""The exercise as the book sets it: the derivative through autograd, and the plot of sin(x) beside it,
drawn as the file loads."""

import matplotlib.pyplot as plt
import torch


def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x).sum().backward()
    return x.grad


xs = torch.linspace(-6.5, 6.5, 200)
plt.plot(xs, torch.sin(xs), label="sin(x)")
plt.plot(xs, get_derivative(xs), label="d sin(x)/dx, by autograd")
plt.legend()
plt.savefig("sin_and_its_derivative.png")
