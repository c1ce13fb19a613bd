import torch


def get_derivative(x):
    # Numerical derivative on the points given.
    flat = x.detach().reshape(-1)
    order = torch.argsort(flat)
    y = torch.sin(flat[order])
    dy = torch.gradient(y, spacing=(flat[order],))[0]
    out = torch.empty_like(flat)
    out[order] = dy
    return out.reshape(x.shape)
