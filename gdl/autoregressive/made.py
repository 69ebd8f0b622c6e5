r"""MADE: an autoencoder whose masked weights make every output an autoregressive conditional."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Bernoulli, Categorical

from ..base import GenerativeModel
from ..nn import MaskedLinear
from ..taxonomy import register
from .._discrete import check_levels, check_num_levels, check_temperature

__all__ = ["MADE"]


@register("autoregressive")
class MADE(GenerativeModel):
    r"""Masked Autoencoder for Distribution Estimation over discrete data.

    An MLP maps the :math:`D` inputs to :math:`D` conditionals; binary masks on its weights cut
    every path from input :math:`x_{o_j}` to the output for :math:`x_{o_i}` unless :math:`j < i`
    in the ordering :math:`o`. Each unit carries a *degree*: input :math:`d` has
    :math:`m^0(d)` = its position in the ordering (1 to :math:`D`), hidden unit :math:`k` of
    layer :math:`l` has :math:`m^l(k) \in \{1, \dots, D-1\}`, and the masks are

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
    ``num_levels=2`` each conditional is a Bernoulli (one logit per dimension); otherwise a
    categorical over ``num_levels`` values, whose ``num_levels`` logits per dimension share
    that dimension's row of the output mask. The inputs enter as values scaled to
    :math:`[0, 1]`, one per dimension.

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
        >>> model.degrees.tolist()  # the position of each dimension in the ordering
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
        super().__init__()
        check_num_levels(num_levels)
        hidden = list(hidden)
        if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty list of positive ints, got {hidden!r}")
        self.event_shape = tuple(event_shape)
        self.num_levels = num_levels
        self.dims = D = int(torch.Size(self.event_shape).numel())
        # A Bernoulli needs one logit per dimension, a categorical num_levels.
        self.outputs_per_dim = 1 if num_levels == 2 else num_levels

        ordering = self._make_ordering(ordering, seed)
        degrees = torch.empty(D, dtype=torch.long)
        degrees[ordering] = torch.arange(1, D + 1)  # m^0(d): position of d in the ordering
        self.register_buffer("ordering", ordering)
        self.register_buffer("degrees", degrees)

        layers: list[nn.Module] = []
        m_prev = degrees
        for size in hidden:
            m = torch.arange(size) % max(D - 1, 1) + 1  # cycle through 1 .. D-1
            mask = m[:, None] >= m_prev[None, :]  # (size, previous size)
            layers += [MaskedLinear(len(m_prev), size, mask), nn.ReLU()]
            m_prev = m
        mask = degrees[:, None] > m_prev[None, :]  # (D, last hidden): strictly earlier degrees
        mask = mask.repeat_interleave(self.outputs_per_dim, dim=0)  # (D * K, last hidden)
        layers.append(MaskedLinear(len(m_prev), D * self.outputs_per_dim, mask))
        self.net = nn.Sequential(*layers)

    def _make_ordering(self, ordering, seed) -> torch.Tensor:
        D = self.dims
        if ordering is not None and seed is not None:
            raise ValueError("give ordering or seed, not both")
        if seed is not None:
            return torch.randperm(D, generator=torch.Generator().manual_seed(seed))
        if ordering is None:
            return torch.arange(D)
        ordering = torch.as_tensor(ordering)
        is_permutation = (
            not ordering.dtype.is_floating_point
            and ordering.shape == (D,)
            and torch.equal(ordering.sort().values, torch.arange(D))
        )
        if not is_permutation:
            raise ValueError(
                f"ordering must be a permutation of 0..{D - 1}, got {ordering.tolist()}"
            )
        return ordering.long().clone()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Integer data ``(B, *event_shape)`` → the network's input ``(B, D)`` in ``[0, 1]``."""
        return x.reshape(len(x), self.dims).float() / (self.num_levels - 1)

    def logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Logits from an encoded input ``(B, D)``: ``(B, D)`` (Bernoulli) or ``(B, D, K)``.

        The logits of dimension ``ordering[i]`` depend only on the inputs
        ``ordering[:i]``; this method takes the continuous input so tests can check that.
        """
        out = self.net(inp)  # (B, D * K)
        if self.num_levels == 2:
            return out  # (B, D)
        return out.view(len(inp), self.dims, self.num_levels)  # (B, D, K): K logits per dim

    def _distribution(self, logits: torch.Tensor) -> Bernoulli | Categorical:
        return Bernoulli(logits=logits) if self.num_levels == 2 else Categorical(logits=logits)

    def conditionals(self, x: torch.Tensor) -> Bernoulli | Categorical:
        """The :math:`D` conditionals, a ``Bernoulli`` or ``Categorical`` of batch shape (B, D)."""
        return self._distribution(self.logits(self.encode(x)))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(x)` in nats, shape ``(B,)``."""
        x = check_levels(self._check_event(x), self.num_levels)
        value = x.reshape(len(x), self.dims)  # (B, D)
        if self.num_levels == 2:
            value = value.float()  # Bernoulli scores floats
        return self.conditionals(x).log_prob(value).sum(-1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling in the model's ordering (``D`` forward passes).

        Arguments:
            n: number of samples.
            temperature: divides the logits; below 1 sharpens each conditional, above 1 flattens it.
        """
        self._check_n(n)
        temperature = check_temperature(temperature)
        x = torch.zeros(n, self.dims, dtype=torch.long, device=self.device)
        for d in self.ordering.tolist():
            logits = self.logits(self.encode(x))[:, d]  # (n,) or (n, K): sees earlier dims only
            x[:, d] = self._distribution(logits / temperature).sample().long()
        return x.view(n, *self.event_shape)
