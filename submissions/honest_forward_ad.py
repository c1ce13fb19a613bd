import torch
import torch.autograd.forward_ad as fwAD


def get_derivative(x):
    # Forward-mode AD: push a tangent of ones through sin.
    with fwAD.dual_level():
        dual = fwAD.make_dual(x.detach(), torch.ones_like(x))
        return fwAD.unpack_dual(torch.sin(dual)).tangent
