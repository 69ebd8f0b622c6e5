r"""The causal-convolution ARM: a sequence model of the raster-scanned pixels."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical

from ..base import GenerativeModel
from ..nn import CausalConv1d
from ..taxonomy import register
from .._discrete import check_levels, check_num_levels, check_temperature

__all__ = ["CausalConvARM"]


@register("autoregressive")
class CausalConvARM(GenerativeModel):
    r"""An autoregressive model of discrete data built from causal 1-D convolutions.

    The :math:`D` values of an example are read in raster order as a sequence. A stack of
    :class:`~gdl.nn.CausalConv1d` layers, the first of which excludes the current position,
    maps the sequence to :math:`D` sets of logits; the logits at position :math:`i` depend only
    on :math:`x_{<i}`, so

    .. math::

        \log p(\mathbf{x}) = \sum_{i=1}^{D} \log \mathrm{Cat}\big(x_i \mid
        \mathrm{softmax}(f_\theta(\mathbf{x}_{<i}))\big).

    The inputs enter as values scaled to :math:`[0, 1]`, which keeps their order (a pixel of
    value 9 is close to one of value 10); the outputs are a free categorical over the levels.

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
        super().__init__()
        check_num_levels(num_levels)
        if num_layers < 2:
            raise ValueError(f"num_layers must be >= 2, got {num_layers}")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.event_shape = tuple(event_shape)
        self.num_levels = num_levels
        self.dims = int(torch.Size(self.event_shape).numel())

        layers: list[nn.Module] = [CausalConv1d(1, hidden, kernel_size, exclude_current=True)]
        for _ in range(num_layers - 2):
            layers += [nn.LeakyReLU(), CausalConv1d(hidden, hidden, kernel_size)]
        layers += [nn.LeakyReLU(), CausalConv1d(hidden, num_levels, kernel_size)]
        self.net = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Integer data ``(B, *event_shape)`` → the network's input ``(B, 1, D)`` in ``[0, 1]``."""
        return x.reshape(len(x), 1, self.dims).float() / (self.num_levels - 1)

    def conditionals(self, x: torch.Tensor) -> Categorical:
        """The :math:`D` conditionals :math:`p(x_i \\mid x_{<i})` as one batched ``Categorical``.

        Its batch shape is ``(B, D)``; its logits ``(B, D, num_levels)``.
        """
        logits = self.net(self.encode(x))  # (B, K, D)
        return Categorical(logits=logits.transpose(1, 2))  # batch (B, D), K categories

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(x)` in nats, shape ``(B,)``."""
        x = check_levels(self._check_event(x), self.num_levels)
        return self.conditionals(x).log_prob(x.reshape(len(x), self.dims)).sum(-1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling, one dimension at a time (``D`` forward passes).

        Arguments:
            n: number of samples.
            temperature: divides the logits; below 1 sharpens each conditional, above 1 flattens it.
        """
        self._check_n(n)
        check_temperature(temperature)
        x = torch.zeros(n, self.dims, dtype=torch.long, device=self.device)
        for i in range(self.dims):
            # Output i depends on x[:, :i] only, so the positions after i are left out.
            logits = self.net(self.encode(x)[..., : i + 1])[:, :, i]  # (n, K)
            x[:, i] = Categorical(logits=logits / temperature).sample()
        return x.view(n, *self.event_shape)
