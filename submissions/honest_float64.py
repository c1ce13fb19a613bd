import torch


def get_derivative(x):
    # Compute in double precision, then hand back the caller's dtype.
    x64 = x.detach().to(torch.float64).requires_grad_(True)
    torch.sin(x64).sum().backward()
    return x64.grad.to(x.dtype)


if __name__ == "__main__":
    import matplotlib.pyplot as plt

    xs = torch.linspace(-6, 6, 200)
    plt.plot(xs, torch.sin(xs), label="sin")
    plt.plot(xs, get_derivative(xs), label="d sin / dx")
    plt.legend()
    plt.show()
