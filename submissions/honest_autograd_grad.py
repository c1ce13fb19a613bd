import torch


def get_derivative(x):
    x = x.detach().requires_grad_(True)
    y = torch.sin(x)
    # create_graph=True keeps the graph for higher derivatives; we only want the first one.
    (dy_dx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return dy_dx.detach()
