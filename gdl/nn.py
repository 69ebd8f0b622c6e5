r"""Networks shared by the models: MLPs and causal (masked) layers.

Example:
    >>> import torch
    >>> conv = CausalConv1d(1, 4, kernel_size=3, exclude_current=True)
    >>> conv(torch.zeros(2, 1, 10)).shape
    torch.Size([2, 4, 10])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MLP", "CausalConv1d"]


class MLP(nn.Sequential):
    """A multilayer perceptron: ``Linear → activation`` repeated, then a final ``Linear``.

    Arguments:
        in_features: input size.
        hidden: sizes of the hidden layers.
        out_features: output size.
        activation: module class used between layers.

    Example:
        >>> import torch
        >>> MLP(2, [16, 16], 3)(torch.zeros(5, 2)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: type[nn.Module] = nn.ReLU,
    ):
        sizes = [in_features, *hidden, out_features]
        if any(s < 1 for s in sizes):
            raise ValueError(f"layer sizes must be positive, got {sizes}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)


class CausalConv1d(nn.Conv1d):
    r"""A 1-D convolution whose output at position :math:`i` sees only inputs at :math:`j \le i`.

    Causality comes from padding on the left only, by :math:`(k-1)\,d` for kernel size
    :math:`k` and dilation :math:`d`. With ``exclude_current=True`` (the "type A" layer that
    must open an autoregressive network) the input is shifted one step further right, so
    output :math:`i` sees only :math:`j < i`: the model cannot peek at the value it predicts.

    Arguments:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps of the filter.
        dilation: spacing between taps.
        exclude_current: if ``True``, output :math:`i` depends on inputs :math:`j < i` only.

    Shapes:
        ``(B, in_channels, L) -> (B, out_channels, L)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        exclude_current: bool = False,
    ):
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.exclude_current = exclude_current
        self.left_pad = (kernel_size - 1) * dilation + int(exclude_current)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.left_pad, 0))  # (B, C, pad + L): zeros stand for "before the start"
        y = super().forward(x)  # (B, C_out, L + exclude_current)
        if self.exclude_current:
            y = y[..., :-1]  # drop the last output, which would see the current input
        return y
