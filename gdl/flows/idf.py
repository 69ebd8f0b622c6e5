r"""Integer discrete flows: a bijection of integer vectors, so no log-determinant at all.

A map :math:`f:\mathbb{Z}^D\to\mathbb{Z}^D` that is a bijection moves probability mass without
stretching it, so the change of variables for discrete data has no Jacobian term:

.. math::

    P(\mathbf{x}) = P_Z(f(\mathbf{x})).

The integer coupling keeps one part of the vector and shifts the other by a rounded
translation computed from the first,
:math:`\mathbf{z}_b = \mathbf{x}_b + \lfloor t(\mathbf{x}_a)\rceil`, which is undone exactly by
subtracting the same integers. Rounding has no useful gradient; training passes the gradient
straight through it (:func:`round_ste`). The prior is a discretized logistic mixture over the
integers (:class:`DiscretizedLogisticMixture`), here factored into chunks, each conditioned on
the chunks before it, as the factor-out layers of Hoogeboom et al. do.

Example:
    >>> import torch
    >>> model = IDF(event_shape=(1, 3, 3), num_levels=4, num_couplings=2, hidden=[8], prior_chunks=3)
    >>> x = torch.randint(0, 4, (5, 1, 3, 3))
    >>> z = model(x)
    >>> torch.equal(model.inverse(z), x), model.log_prob(x).shape
    (True, torch.Size([5]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import MLP
from ..taxonomy import register

__all__ = ["IDF", "IntegerCoupling", "DiscretizedLogisticMixture", "round_ste"]


def round_ste(x: torch.Tensor) -> torch.Tensor:
    r"""Round to the nearest integer, with the straight-through gradient :math:`\partial/\partial x = 1`.

    Example:
        >>> x = torch.tensor([0.4, 1.6], requires_grad=True)
        >>> y = round_ste(x); y.sum().backward(); y.tolist(), x.grad.tolist()
        ([0.0, 2.0], [1.0, 1.0])
    """
    return x + (torch.round(x) - x).detach()


def _log_sigmoid_difference(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    r""":math:`\log(\sigma(hi) - \sigma(lo))` for ``hi > lo``, accurate in both tails
    (:math:`\sigma(b)-\sigma(a) = \sigma(-a)-\sigma(-b)` moves the upper tail to the lower one)."""
    flip = (hi + lo) > 0
    a, b = torch.where(flip, -hi, lo), torch.where(flip, -lo, hi)  # a < b, a + b <= 0
    log_b, log_a = F.logsigmoid(b), F.logsigmoid(a)
    return log_b + torch.log(-torch.expm1((log_a - log_b).clamp(max=-1e-12)))


class DiscretizedLogisticMixture:
    r"""A mixture of logistics, discretized to the integers: a distribution over all of :math:`\mathbb{Z}`.

    .. math::

        P(z) = \sum_{k=1}^K \pi_k\Big[\sigma\Big(\frac{z + \frac12 - \mu_k}{s_k}\Big)
        - \sigma\Big(\frac{z - \frac12 - \mu_k}{s_k}\Big)\Big],

    each bracket the mass a logistic puts on :math:`[z - \frac12, z + \frac12)`; summed over
    all integers the brackets telescope to one.

    Arguments:
        logits: mixture logits :math:`\log\pi_k` up to a constant, shape ``(..., K)``.
        loc: :math:`\mu_k`, shape ``(..., K)``.
        log_scale: :math:`\log s_k`, shape ``(..., K)``.

    Example:
        >>> import torch
        >>> p = DiscretizedLogisticMixture(torch.zeros(2), torch.tensor([-3.0, 4.0]), torch.zeros(2))
        >>> z = torch.arange(-60, 61).float()
        >>> round(p.log_prob(z).exp().sum().item(), 6)
        1.0
    """

    def __init__(self, logits: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor):
        self.log_weights = logits.log_softmax(-1)
        self.loc, self.log_scale = loc, log_scale.clamp(min=-7.0)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log P(z)` elementwise, for integer-valued ``z`` of the batch shape."""
        z = z.unsqueeze(-1)  # (..., 1) against (..., K)
        inv_s = torch.exp(-self.log_scale)
        hi, lo = (z + 0.5 - self.loc) * inv_s, (z - 0.5 - self.loc) * inv_s
        return torch.logsumexp(self.log_weights + _log_sigmoid_difference(hi, lo), dim=-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Integers drawn from the mixture, of the batch shape (as floats)."""
        w = self.log_weights.exp()
        k = torch.multinomial(w.reshape(-1, w.shape[-1]), 1, generator=generator).view(w.shape[:-1])
        loc = self.loc.gather(-1, k[..., None])[..., 0]
        scale = self.log_scale.gather(-1, k[..., None])[..., 0].exp()
        u = torch.rand(loc.shape, generator=generator).to(loc).clamp(1e-6, 1 - 1e-6)
        return torch.round(loc + scale * torch.logit(u))  # a logistic draw, binned to integers


class IntegerCoupling(nn.Module):
    r"""An integer coupling layer, data → noise: :math:`\mathbf{z}_a = \mathbf{x}_a`,
    :math:`\mathbf{z}_b = \mathbf{x}_b + \lfloor t(\mathbf{x}_a)\rceil`.

    Its inverse subtracts the same rounded translation. Both directions map integers to
    integers exactly; training passes gradients straight through the rounding.

    Arguments:
        mask: boolean ``(D,)``, ``True`` for the kept part :math:`a`.
        hidden: hidden sizes of the translation network :math:`t`.
        scale: divides the input of :math:`t` (pixels ``0..L-1`` become about ``0..1``).

    Example:
        >>> import torch
        >>> layer = IntegerCoupling(torch.tensor([True, False, True, False]), hidden=[8])
        >>> x = torch.randint(-5, 5, (3, 4)).float()
        >>> torch.equal(layer.inverse(layer(x)), x)
        True
    """

    def __init__(self, mask: torch.Tensor, hidden: Sequence[int], scale: float = 1.0):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.dim() != 1 or mask.all() or not mask.any():
            raise ValueError("mask must be a 1-D boolean tensor with both True and False entries")
        self.register_buffer("kept", mask.nonzero()[:, 0])
        self.register_buffer("moved", (~mask).nonzero()[:, 0])
        self.scale = float(scale)
        self.net = MLP(len(self.kept), list(hidden), len(self.moved))

    def translation(self, x_a: torch.Tensor) -> torch.Tensor:
        """The rounded translation :math:`\\lfloor t(\\mathbf{x}_a)\\rceil`, straight-through."""
        return round_ste(self.net(x_a / self.scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Data → noise, ``(B, D) -> (B, D)``."""
        z = x.clone()
        z[:, self.moved] = x[:, self.moved] + self.translation(x[:, self.kept])
        return z

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Noise → data, ``(B, D) -> (B, D)``."""
        x = z.clone()
        x[:, self.moved] = z[:, self.moved] - self.translation(z[:, self.kept])
        return x


@register("flows", "exact")
class IDF(GenerativeModel):
    r"""An integer discrete flow on images of integer pixels, with an exact discrete likelihood.

    Data → noise through ``num_couplings`` :class:`IntegerCoupling` layers, each on a fresh
    random half of the pixels (fixed at construction), to a latent :math:`\mathbf{z}\in\mathbb{Z}^D`.
    The prior splits :math:`\mathbf{z}` into ``prior_chunks`` equal chunks,

    .. math::

        \log P(\mathbf{x}) = \sum_{c=1}^{C} \log P(\mathbf{z}_c\mid\mathbf{z}_{<c}),\qquad
        \mathbf{z} = f(\mathbf{x}),

    each factor a :class:`DiscretizedLogisticMixture` per dimension: free parameters for the
    first chunk, an MLP of the earlier chunks for the others (``prior_chunks=1`` is a fully
    factorised prior). No term is approximate: :meth:`log_prob` is the exact log-probability
    of the integer image, a distribution over all of :math:`\mathbb{Z}^D` (it may put a little
    mass outside ``0 .. L-1``; :meth:`sample` clips it there).

    Arguments:
        event_shape: shape of one image, e.g. ``(1, 8, 8)``.
        num_levels: grey levels :math:`L`; data are integers ``0 .. L-1``.
        num_couplings: integer coupling layers.
        hidden: hidden sizes of each translation network and prior network.
        num_mixtures: logistic components :math:`K` per dimension.
        prior_chunks: chunks :math:`C` of the prior's factorisation; must divide :math:`D`.
        seed: seed of the random halves and of the chunk order.

    References:
        Hoogeboom, Peters, van den Berg and Welling, *Integer Discrete Flows and Lossless
        Compression*, NeurIPS 2019, https://arxiv.org/abs/1905.07376 ;
        Tomczak, *Deep Generative Modeling*, Springer 2022, chapter 3.
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        num_couplings: int = 8,
        hidden: Sequence[int] = (256, 256),
        num_mixtures: int = 4,
        prior_chunks: int = 4,
        seed: int = 0,
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.num_levels = checks.num_levels(num_levels)
        num_couplings = checks.positive_int(num_couplings, "num_couplings")
        hidden = checks.ints(hidden, "hidden")
        self.num_mixtures = checks.positive_int(num_mixtures, "num_mixtures")
        self.prior_chunks = checks.positive_int(prior_chunks, "prior_chunks")
        self.dims = D = math.prod(self.event_shape)
        if D < 2 or D % self.prior_chunks:
            raise ValueError(f"prior_chunks must divide the {D} dimensions, got {prior_chunks}")
        g = torch.Generator().manual_seed(seed)
        couplings = []
        for _ in range(num_couplings):
            mask = torch.zeros(D, dtype=torch.bool)
            mask[torch.randperm(D, generator=g)[: D // 2]] = True
            couplings.append(IntegerCoupling(mask, hidden, scale=self.num_levels - 1))
        self.couplings = nn.ModuleList(couplings)
        self.register_buffer("order", torch.randperm(D, generator=g))  # latent dims, chunk by chunk
        K, d = self.num_mixtures, D // self.prior_chunks
        centre = (self.num_levels - 1) / 2
        spread = torch.linspace(-1, 1, K) * self.num_levels / 4 if K > 1 else torch.zeros(1)
        self.first = nn.Parameter(torch.cat([
            torch.zeros(d, K), (centre + spread).expand(d, K).clone(), torch.full((d, K), math.log(2.0))
        ], dim=1))  # (d, 3K): logits, locations, log scales of the first chunk
        self.conditionals = nn.ModuleList(
            MLP(c * d, hidden, 3 * K * d, zero_last=True) for c in range(1, self.prior_chunks)
        )

    # ------------------------------------------------------------------ the bijection
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Data → noise: integer images ``(B, *event_shape)`` to the latent ``(B, D)`` (integer-valued floats)."""
        z = x.reshape(len(x), self.dims).to(self._dtype())
        for layer in self.couplings:
            z = layer(z)
        return z

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Noise → data: the latent ``(B, D)`` to integer images ``(B, *event_shape)`` (int64)."""
        x = z
        for layer in reversed(self.couplings):
            x = layer.inverse(x)
        return x.round().long().view(len(z), *self.event_shape)

    # ------------------------------------------------------------------ the prior
    def _prior(self, c: int, previous: torch.Tensor, batch: int) -> DiscretizedLogisticMixture:
        """The mixture of chunk ``c`` given the earlier chunks ``previous`` ``(B, c·d)``."""
        K, d = self.num_mixtures, self.dims // self.prior_chunks
        params = self.first.expand(batch, d, 3 * K)
        if c > 0:
            centre = (self.num_levels - 1) / 2
            params = params + self.conditionals[c - 1]((previous - centre) / self.num_levels).view(batch, d, 3 * K)
        logits, loc, log_scale = params.split(K, dim=-1)
        return DiscretizedLogisticMixture(logits, loc, log_scale)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log P_Z(\mathbf{z})` for latents ``(B, D)``, shape ``(B,)``."""
        chunks = z[:, self.order].chunk(self.prior_chunks, dim=1)
        total = 0.0
        for c, zc in enumerate(chunks):
            previous = torch.cat(chunks[:c], dim=1) if c else None
            total = total + self._prior(c, previous, len(z)).log_prob(zc).sum(1)
        return total

    # ------------------------------------------------------------------ contract
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""The exact :math:`\log P(\mathbf{x}) = \log P_Z(f(\mathbf{x}))` of integer images, nats, ``(B,)``."""
        return self.prior_log_prob(self(self._check_data(x)))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Draw ``n`` latents chunk by chunk and invert the flow; pixels are clipped to ``0 .. L-1``.

        Returns:
            int64 images, shape ``(n, *event_shape)``.
        """
        n = self._check_n(n)
        chunks: list[torch.Tensor] = []
        for c in range(self.prior_chunks):
            previous = torch.cat(chunks, dim=1) if c else None
            chunks.append(self._prior(c, previous, n).sample())
        z = torch.empty(n, self.dims, device=self.device)
        z[:, self.order] = torch.cat(chunks, dim=1)
        return self.inverse(z).clamp(0, self.num_levels - 1)
