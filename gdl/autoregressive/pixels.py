r"""What every autoregressive model of discrete pixels shares: the likelihood and ancestral sampling.

An image of :math:`D` pixels, each one of :math:`L` grey levels, is read one pixel at a time in a
fixed order. A network that maps the image to :math:`D` rows of :math:`L` logits, the row of
pixel :math:`i` computed only from the pixels before :math:`i`, gives

.. math::

    \log p(\mathbf{x}) = \sum_{i=1}^{D} \log \mathrm{Cat}\big(x_i \mid
    \mathrm{softmax}(f_\theta(\mathbf{x})_i)\big)

in one forward pass, and samples in :math:`D` passes, one pixel each.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Categorical

from .. import _checks as checks
from ..base import GenerativeModel

__all__ = ["PixelARM"]


class PixelARM(GenerativeModel):
    r"""Base class of autoregressive models over a fixed grid of discrete values (pixels).

    A subclass builds its network and writes :meth:`logits`: the logits of all :math:`D`
    conditionals at once, ``(B, D, L)`` in raster order, the row of dimension :math:`i` computed
    only from the dimensions before :math:`i` in :meth:`generation_order`. This class turns them
    into :meth:`conditionals`, :meth:`log_prob` and ancestral :meth:`sample`, and checks the data.

    The network reads the levels scaled to :math:`[0, 1]` (:meth:`encode`), which keeps their
    order: a pixel of value 9 is close to one of value 10.

    Arguments:
        event_shape: shape of one example, e.g. ``(1, 8, 8)``.
        num_levels: values each dimension takes, ``0 .. num_levels - 1``.
    """

    def __init__(self, event_shape, num_levels: int):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.num_levels = checks.num_levels(num_levels)
        self.dims = math.prod(self.event_shape)

    # ------------------------------------------------------------------ what a subclass writes
    def logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Encoded input ``(B, *event_shape)`` → logits ``(B, D, num_levels)``, in raster order."""
        raise NotImplementedError

    def generation_order(self) -> list[int]:
        """The dimensions in the order they are generated (default: raster order)."""
        return list(range(self.dims))

    def next_logits(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Logits ``(n, L)`` of dimension ``i`` given the flat partial samples ``x`` ``(n, D)``.

        Only the dimensions before ``i`` in the generation order are final; a subclass may
        override this to skip work on the others.
        """
        return self.logits(self.encode(x.view(len(x), *self.event_shape)))[:, i]

    # ------------------------------------------------------------------ shared
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Integer data ``(B, *event_shape)`` → the network's input, floats in ``[0, 1]``."""
        return x.float() / (self.num_levels - 1)

    def conditionals(self, x: torch.Tensor) -> Categorical:
        r"""The :math:`D` conditionals :math:`p(x_i \mid \mathbf{x}_{<i})` as one batched
        ``Categorical`` of batch shape ``(B, D)`` (raster order)."""
        return Categorical(logits=self.logits(self.encode(self._check_data(x))))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(x)` in nats, shape ``(B,)``, for integer ``x`` ``(B, *event_shape)``."""
        x = self._check_data(x)
        return self.conditionals(x).log_prob(x.reshape(len(x), self.dims)).sum(-1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling, one dimension at a time in :meth:`generation_order` (``D`` passes).

        Arguments:
            n: number of samples.
            temperature: divides the logits; below 1 sharpens each conditional, above 1 flattens it.

        Returns:
            ``(n, *event_shape)`` int64 levels.
        """
        n = self._check_n(n)
        temperature = checks.temperature(temperature)
        x = torch.zeros(n, self.dims, dtype=torch.long, device=self.device)
        for i in self.generation_order():
            x[:, i] = Categorical(logits=self.next_logits(x, i) / temperature).sample()
        return x.view(n, *self.event_shape)
