"""A module factory with an unsupported operation, for the importer CLI test."""
import torch
from torch import nn


class _Cumsum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 0)


def make():
    return _Cumsum()
