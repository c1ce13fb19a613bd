import torch


class MySin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.cos(x)


def get_derivative(x):
    x = x.detach().clone().requires_grad_(True)
    MySin.apply(x).sum().backward()
    return x.grad
