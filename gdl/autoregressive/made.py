r"""MADE: an autoencoder whose masked weights make every output an autoregressive conditional."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import _checks as checks
from ..nn import MaskedMLP
from ..taxonomy import register
from .pixels import PixelARM

__all__ = ["MADE"]


@register("autoregressive")
class MADE(PixelARM):
    r"""Masked Autoencoder for Distribution Estimation over discrete data.

    An MLP (:class:`~gdl.nn.MaskedMLP`) maps the :math:`D` inputs to :math:`D` conditionals;
    binary masks on its weights cut every path from input :math:`x_{o_j}` to the output for
    :math:`x_{o_i}` unless :math:`j < i` in the ordering :math:`o`. Each unit carries a *degree*:
    input :math:`d` has :math:`m^0(d)` = its position in the ordering (1 to :math:`D`), hidden unit
    :math:`k` of layer :math:`l` has :math:`m^l(k) \in \{1, \dots, D-1\}`, and the masks are

    .. math::

        M^{l}_{kj} = \mathbb{1}\big[m^{l}(k) \ge m^{l-1}(j)\big], \qquad
        M^{\text{out}}_{dk} = \mathbb{1}\big[m^{0}(d) > m^{L}(k)\big],

    so a hidden unit of degree :math:`m` sees only inputs of degree :math:`\le m`, and the
    output for a dimension of degree :math:`m` sees only hidden units of degree :math:`< m`:

    .. math::

        \log p(\mathbf{x}) = \sum_{i=1}^{D} \log p\big(x_{o_i} \mid x_{o_1}, \dots,
        x_{o_{i-1}}\big).

    The hidden degrees cycle through :math:`1, \dots, D-1` (the paper draws them at random;
    cycling makes every degree appear, so no conditional loses its inputs). With
    ``num_levels=2`` each conditional is a Bernoulli: one logit :math:`\ell` per dimension, the
    categorical with logits :math:`(0, \ell)`; otherwise a categorical over ``num_levels``
    values, whose ``num_levels`` logits per dimension share that dimension's row of the output
    mask. The inputs enter as values scaled to :math:`[0, 1]`, one per dimension. The likelihood
    and sampling (in the model's ordering) are those of
    :class:`~gdl.autoregressive.pixels.PixelARM`.

    Arguments:
        event_shape: shape of one example, e.g. ``(1, 8, 8)``; flattened in raster order.
        num_levels: values each dimension takes, ``0 .. num_levels - 1``.
        hidden: sizes of the hidden layers (at least one).
        ordering: the order in which dimensions are generated, a permutation of
            ``0 .. D - 1`` (``ordering[0]`` comes first); default the natural order.
        seed: draw a random ordering from this seed instead (not with ``ordering``).

    Shapes:
        - ``log_prob``: ``(B, *event_shape)`` integers → ``(B,)`` nats.
        - ``sample(n)``: → ``(n, *event_shape)`` int64.

    Example:
        >>> import torch
        >>> model = MADE(event_shape=(4,), num_levels=3, hidden=[8], ordering=[2, 0, 3, 1])
        >>> x = torch.randint(0, 3, (5, 4))
        >>> model.log_prob(x).shape
        torch.Size([5])
        >>> model.sample(2).shape
        torch.Size([2, 4])
        >>> model.net.degrees.tolist()  # the position of each dimension in the ordering
        [2, 4, 1, 3]

    References:
        Germain, Gregor, Murray and Larochelle, *MADE: Masked Autoencoder for Distribution
        Estimation*, ICML 2015, https://arxiv.org/abs/1502.03509.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...] = (1, 8, 8),
        num_levels: int = 2,
        hidden: Sequence[int] = (512,),
        ordering: Sequence[int] | torch.Tensor | None = None,
        seed: int | None = None,
    ):
        super().__init__(event_shape, num_levels)
        hidden = checks.ints(hidden, "hidden")
        if ordering is not None and seed is not None:
            raise ValueError("give ordering or seed, not both")
        if seed is not None:
            ordering = torch.randperm(self.dims, generator=torch.Generator().manual_seed(seed))
        elif ordering is None:
            ordering = torch.arange(self.dims)
        elif len(ordering) != self.dims:
            raise ValueError(f"ordering must be a permutation of 0..{self.dims - 1}, got {list(ordering)}")
        # A Bernoulli needs one logit per dimension, a categorical num_levels.
        self.outputs_per_dim = 1 if self.num_levels == 2 else self.num_levels
        self.net = MaskedMLP(ordering, hidden, self.outputs_per_dim)

    @property
    def ordering(self) -> torch.Tensor:
        """The generation order, a permutation of ``0 .. D - 1``."""
        return self.net.ordering

    def generation_order(self) -> list[int]:
        return self.ordering.tolist()

    def logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Encoded input ``(B, *event_shape)`` → logits ``(B, D, num_levels)``.

        The logits of dimension ``ordering[i]`` depend only on the inputs ``ordering[:i]``.
        """
        out = self.net(inp.reshape(len(inp), self.dims))  # (B, D, K)
        if self.num_levels == 2:  # one logit l per dimension: the Bernoulli is Cat(0, l)
            out = torch.cat([torch.zeros_like(out), out], dim=-1)
        return out
