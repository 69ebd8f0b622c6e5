r"""The causal-convolution ARM: a sequence model of the raster-scanned pixels."""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks as checks
from ..nn import CausalConv1d
from ..taxonomy import register
from .pixels import PixelARM

__all__ = ["CausalConvARM"]


@register("autoregressive")
class CausalConvARM(PixelARM):
    r"""An autoregressive model of discrete data built from causal 1-D convolutions.

    The :math:`D` values of an example are read in raster order as a sequence. A stack of
    :class:`~gdl.nn.CausalConv1d` layers, the first of which excludes the current position,
    maps the sequence to :math:`D` sets of logits; the logits at position :math:`i` depend only
    on :math:`x_{<i}`, so

    .. math::

        \log p(\mathbf{x}) = \sum_{i=1}^{D} \log \mathrm{Cat}\big(x_i \mid
        \mathrm{softmax}(f_\theta(\mathbf{x}_{<i}))\big).

    The inputs enter as values scaled to :math:`[0, 1]`; the outputs are a free categorical over
    the levels. The likelihood and ancestral sampling are those of
    :class:`~gdl.autoregressive.pixels.PixelARM`; this class writes only the network.

    Arguments:
        event_shape: shape of one example, e.g. ``(1, 8, 8)``; read in raster order.
        num_levels: number of values each dimension takes, ``0 .. num_levels - 1``.
        hidden: channels of the hidden layers.
        kernel_size: taps of every causal convolution.
        num_layers: number of convolutions (at least 2).

    Shapes:
        - ``log_prob``: ``(B, *event_shape)`` integers → ``(B,)`` nats.
        - ``sample(n)``: → ``(n, *event_shape)`` int64.

    Example:
        >>> import torch
        >>> model = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2)
        >>> x = torch.randint(0, 3, (5, 1, 2, 2))
        >>> model.log_prob(x).shape
        torch.Size([5])
        >>> model.sample(4).shape
        torch.Size([4, 1, 2, 2])

    References:
        Van den Oord et al., *WaveNet: A Generative Model for Raw Audio*, 2016,
        https://arxiv.org/abs/1609.03499. Tomczak, *Deep Generative Modeling*, ch. 2, 2022.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...] = (1, 8, 8),
        num_levels: int = 17,
        hidden: int = 256,
        kernel_size: int = 7,
        num_layers: int = 4,
    ):
        super().__init__(event_shape, num_levels)
        hidden = checks.positive_int(hidden, "hidden")
        kernel_size = checks.positive_int(kernel_size, "kernel_size")
        num_layers = checks.int_at_least(num_layers, "num_layers", 2)
        layers: list[nn.Module] = [CausalConv1d(1, hidden, kernel_size, exclude_current=True)]
        for _ in range(num_layers - 2):
            layers += [nn.LeakyReLU(), CausalConv1d(hidden, hidden, kernel_size)]
        layers += [nn.LeakyReLU(), CausalConv1d(hidden, self.num_levels, kernel_size)]
        self.net = nn.Sequential(*layers)

    def logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Encoded input ``(B, *event_shape)`` → logits ``(B, D, num_levels)``."""
        out = self.net(inp.reshape(len(inp), 1, self.dims))  # (B, K, D): a sequence of D values
        return out.transpose(1, 2)

    def next_logits(self, x: torch.Tensor, i: int) -> torch.Tensor:
        # Output i depends on x[:, :i] only, so the positions after i are left out.
        inp = x[:, None, : i + 1].float() / (self.num_levels - 1)  # (n, 1, i + 1)
        return self.net(inp)[:, :, i]  # (n, K)
