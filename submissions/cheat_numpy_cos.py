import numpy as np
import torch


def get_derivative(x):
    return torch.from_numpy(np.asarray(np.cos(x.detach().cpu().numpy()))).to(x.device)
