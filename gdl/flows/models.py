r"""Flow models: a stack of invertible layers on a standard-normal base distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Independent, Normal
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import MLP
from ..taxonomy import register
from .layers import (
    ActNorm,
    AffineCoupling,
    Dequantize,
    Flow,
    Flatten,
    FlowSequence,
    InvertibleConv1x1,
    MaskedAffineAutoregressive,
    Reverse,
    Split,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)

__all__ = ["FlowModel", "RealNVP", "Glow", "MAF", "VariationalDequantization"]


class VariationalDequantization(nn.Module):
    r"""A learned dequantization noise :math:`q(\mathbf{u}\mid\mathbf{x})` on :math:`(0, 1)^D`.

    A small network gives :math:`\boldsymbol\mu(\mathbf{x})` and
    :math:`\log\boldsymbol\sigma(\mathbf{x})`, and

    .. math::

        \mathbf{u} = \operatorname{sigmoid}(\boldsymbol\mu + \boldsymbol\sigma\odot
        \boldsymbol\epsilon),\quad \boldsymbol\epsilon\sim\mathcal{N}(\mathbf{0}, I),
        \qquad
        \log q(\mathbf{u}\mid\mathbf{x}) = \log\mathcal{N}(\boldsymbol\epsilon; \mathbf{0}, I)
        - \sum_i \log\sigma_i - \sum_i \log\big(u_i(1-u_i)\big).

    The bound :math:`-\log P(\mathbf{x}) \le -\mathbb{E}_q[\log p(\mathbf{x}+\mathbf{u})
    - \log q(\mathbf{u}\mid\mathbf{x})]` holds for any :math:`q` on the unit box, and
    is tighter than uniform noise when :math:`q` follows the flow's density inside the box.
    (Flow++ uses a whole conditional flow for :math:`q`; this is its simplest member.)

    Arguments:
        event_shape: shape of one example.
        num_levels: grey levels; the network sees ``x / (num_levels - 1)``.
        hidden: width of the network's hidden layer.

    References:
        Ho, Chen, Srinivas, Duan and Abbeel, *Flow++*, ICML 2019,
        https://arxiv.org/abs/1902.00275.
    """

    def __init__(self, event_shape: Sequence[int], num_levels: int, hidden: int = 128):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.num_levels = checks.num_levels(num_levels)
        d = math.prod(self.event_shape)
        self.net = MLP(d, [hidden], 2 * d, zero_last=True)  # starts as q = the logistic-normal N(0, 1)

    def _params(self, x):
        inp = x.flatten(1).to(self.net[0].weight.dtype) / (self.num_levels - 1)  # (B, D) in [0, 1]
        mu, log_sigma = self.net(inp).chunk(2, dim=1)
        return mu, log_sigma.clamp(-7, 3)  # (B, D) each

    @staticmethod
    def _log_density(eps, h, log_sigma):
        log_normal = -0.5 * eps**2 - 0.5 * math.log(2 * math.pi)
        # log du/dh = log sigmoid(h) + log sigmoid(-h) = log u(1 - u)
        return (log_normal - log_sigma - F.logsigmoid(h) - F.logsigmoid(-h)).sum(1)

    def noise(self, x: torch.Tensor, generator: torch.Generator | None = None):
        r"""Draw reparameterised noise :math:`\mathbf{u}\sim q(\mathbf{u}\mid\mathbf{x})` for
        integer ``x``.

        Returns:
            ``u``, shaped like ``x``, in the open unit box, and :math:`\log q(\mathbf{u}\mid
            \mathbf{x})`, shape ``(B,)``; gradients reach the network through both.
        """
        mu, log_sigma = self._params(x)
        eps = torch.randn(mu.shape, generator=generator).to(mu)
        h = mu + torch.exp(log_sigma) * eps
        return torch.sigmoid(h).view(x.shape), self._log_density(eps, h, log_sigma)

    def log_q(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log q(\mathbf{u} \mid \mathbf{x})` for ``u`` in the open unit box, shape ``(B,)``."""
        mu, log_sigma = self._params(x)
        h = torch.logit(u.flatten(1))
        return self._log_density((h - mu) * torch.exp(-log_sigma), h, log_sigma)


class FlowModel(GenerativeModel):
    r"""A normalizing flow: ``flow`` maps data to noise, and the base is :math:`\mathcal{N}(0, I)`.

    .. math::

        \log p(\mathbf{x}) = \log \mathcal{N}(f(\mathbf{x}); \mathbf{0}, I)
        + \log\left\lvert\det \frac{\partial f}{\partial \mathbf{x}}\right\rvert .

    With ``num_levels`` the data are integer pixels ``0 .. num_levels-1``: the flow opens with
    :class:`~gdl.flows.layers.Dequantize`, :meth:`log_prob` is the density of the dequantized
    :math:`\mathbf{y} = \mathbf{x} + \mathbf{u}` on the integer scale, :meth:`loss` adds a fresh
    :math:`\mathbf{u}\sim U[0,1)^D` to integer batches (or noise from a learned
    :class:`VariationalDequantization`), and :meth:`sample` returns
    :math:`\lfloor \mathbf{y} \rfloor` as integers.

    Subclasses build ``self.flow`` (a :class:`~gdl.flows.layers.Flow`) and set ``event_shape``.
    """

    num_levels: int | None = None

    def _init_base(self, event_shape, num_levels, dequantization="uniform"):
        self.event_shape = checks.event_shape(event_shape)
        self.dims = math.prod(self.event_shape)
        self.num_levels = checks.num_levels(num_levels, optional=True)
        checks.one_of(dequantization, "dequantization", ("uniform", "variational"))
        self.dequantizer = None
        if num_levels and dequantization == "variational":
            self.dequantizer = VariationalDequantization(self.event_shape, num_levels)
        self.register_buffer("base_loc", torch.zeros(self.dims))
        self.register_buffer("base_scale", torch.ones(self.dims))

    def base(self, temperature: float = 1.0) -> Independent:
        """The base distribution :math:`\\mathcal{N}(0, T^2 I)` over the flat latent ``(D,)``."""
        return Independent(Normal(self.base_loc, self.base_scale * temperature), 1)

    def _layers(self, layers: list[Flow]) -> FlowSequence:
        pre = [Dequantize(self.num_levels)] if self.num_levels else []
        return FlowSequence(pre + layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data → noise: the flat latent ``(B, D)`` and :math:`\\log|\\det J|` ``(B,)``."""
        z, log_det = self.flow(x)
        return z.reshape(len(x), self.dims), log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Noise → data: a flat latent ``(B, D)`` to ``(B, *event_shape)`` (continuous)."""
        out_shape = self.flow.output_shape(self.event_shape)
        return self.flow.inverse(z.view(len(z), *out_shape)).view(len(z), *self.event_shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(x)` in nats, shape ``(B,)``; with ``num_levels``, of dequantized
        ``x``, which must then lie in the support of
        :class:`~gdl.flows.layers.Dequantize` (about ``[0, num_levels]``)."""
        x = self._check_event(x)
        if not x.is_floating_point():
            raise ValueError(
                "log_prob takes continuous x; for integer pixels pass x + u with u ~ U[0, 1) "
                "(loss does this), or use gdl.metrics.dequantized_nll"
            )
        if self.num_levels:
            checks.within(x, *self.flow.layers[0].support, "x", open=True)
        z, log_det = self(x)
        return self.base().log_prob(z) + log_det

    def dequantized_log_prob(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        r"""One-sample estimate of the lower bound on :math:`\log P(\mathbf{x})` for integer ``x``.

        :math:`\log p(\mathbf{x}+\mathbf{u}) - \log q(\mathbf{u}\mid\mathbf{x})` with
        :math:`\mathbf{u}\sim q`: uniform noise (:math:`\log q = 0`) or the learned
        :class:`VariationalDequantization`. Shape ``(B,)``.
        """
        if not self.num_levels:
            raise ValueError("dequantized_log_prob is for a model of integer levels (num_levels=...)")
        x = self._check_data(x)
        if self.dequantizer is None:
            u = torch.rand(x.shape, generator=generator).to(self.base_loc)
            return self.log_prob(x.to(u) + u)
        u, log_q = self.dequantizer.noise(x, generator)
        return self.log_prob(x.to(u) + u) - log_q

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood; integer batches are dequantized with fresh noise first."""
        if not self._check_event(x).is_floating_point():
            return -self.dequantized_log_prob(x).mean()
        return -self.log_prob(x).mean()

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Draw :math:`z \\sim \\mathcal{N}(0, T^2 I)` and invert the flow.

        Arguments:
            n: number of samples.
            temperature: :math:`T`; below 1 trades diversity for typical-looking samples.

        Returns:
            ``(n, *event_shape)``: floats, or int64 levels ``0 .. num_levels-1`` with ``num_levels``.
        """
        n = self._check_n(n)
        temperature = checks.temperature(temperature)
        x = self.inverse(self.base(temperature).sample((n,)))
        if self.num_levels:
            return x.floor().clamp(0, self.num_levels - 1).long()
        return x


@register("flows", "exact")
class RealNVP(FlowModel):
    r"""Real NVP: affine couplings with alternating masks, each followed by ActNorm.

    Data → noise through ``num_couplings`` layers
    :math:`\mathbf{h} \mapsto \operatorname{ActNorm}(\operatorname{Coupling}_k(\mathbf{h}))`,
    masks alternating between a pattern and its complement, so every dimension is transformed
    by every other layer:

    .. math::

        \log p(\mathbf{x}) = \log\mathcal{N}(\mathbf{z}; 0, I)
        + \sum_k \sum_i (1 - m^{(k)}_i)\, s^{(k)}_i(\mathbf{m}^{(k)}\odot\mathbf{h}_{k-1})
        + \log\lvert\det J_{\text{ActNorm}}\rvert .

    The conditioners are MLPs on the whole flattened input (``conv=False``: images are
    flattened first, and ActNorm then normalises every pixel separately) or small
    convolutional nets (``conv=True``, images only; ActNorm per channel).

    Arguments:
        event_shape: ``(D,)`` for vectors or ``(C, H, W)`` for images.
        num_couplings: coupling layers.
        hidden: width of each conditioner.
        mask: ``"checkerboard"`` (over pixels, or alternating along a vector) or ``"channel"``
            (halves of the channels; needs ``C >= 2``).
        conv: convolutional conditioners (images).
        dropout: dropout in the conditioners, against overfitting small data sets.
        num_levels: integer pixels ``0 .. num_levels-1``, dequantized (see :class:`FlowModel`).
        dequantization: ``"uniform"`` noise, or ``"variational"`` (a learned
            :class:`VariationalDequantization`); only with ``num_levels``.

    Example:
        >>> import torch
        >>> model = RealNVP(event_shape=(2,), num_couplings=4, hidden=16)
        >>> x = torch.randn(8, 2)
        >>> model.log_prob(x).shape, model.sample(3).shape
        (torch.Size([8]), torch.Size([3, 2]))

    References:
        Dinh, Sohl-Dickstein and Bengio, *Density estimation using Real NVP*, ICLR 2017,
        https://arxiv.org/abs/1605.08803.
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        num_couplings: int = 8,
        hidden: int = 128,
        mask: str = "checkerboard",
        conv: bool = False,
        dropout: float = 0.0,
        num_levels: int | None = None,
        dequantization: str = "uniform",
    ):
        super().__init__()
        self._init_base(event_shape, num_levels, dequantization)
        checks.int_at_least(num_couplings, "num_couplings", 2)
        checks.one_of(mask, "mask", ("checkerboard", "channel"))
        if conv and len(self.event_shape) != 3:
            raise ValueError(f"conv=True needs event_shape (C, H, W), got {event_shape}")
        make_mask = checkerboard_mask if mask == "checkerboard" else channel_mask
        layers: list[Flow] = []
        if not conv and len(self.event_shape) > 1:
            layers.append(Flatten(self.event_shape))  # MLP conditioners see a vector
        for k in range(num_couplings):
            m = make_mask(self.event_shape, parity=k % 2)
            if not conv:
                m = m.flatten()  # the image's pattern, on the flattened pixels
            features = self.event_shape[0] if conv else self.dims  # ActNorm per channel / dim
            layers += [AffineCoupling(m, hidden, conv=conv, dropout=dropout), ActNorm(features)]
        self.flow = self._layers(layers)


@register("flows", "exact")
class Glow(FlowModel):
    r"""A Glow-style multi-scale flow for images.

    Each level squeezes ``(C, H, W) → (4C, H/2, W/2)``, applies ``steps`` flow steps
    (ActNorm → invertible 1×1 convolution → affine coupling on halves of the channels with a
    convolutional conditioner), then factors out half the channels to the latent; the other
    half goes to the next level. The last level keeps all its channels. For ``(1, 8, 8)`` and
    two levels: ``1×8×8 → 4×4×4 → (2×4×4 out) → 8×2×2``.

    Arguments:
        event_shape: ``(C, H, W)``, ``H`` and ``W`` divisible by ``2 ** levels``.
        levels: scales.
        steps: flow steps per level.
        hidden: channels of the coupling conditioners.
        dropout: dropout in the conditioners.
        num_levels: integer pixels ``0 .. num_levels-1``, dequantized (see :class:`FlowModel`).
        dequantization: ``"uniform"`` noise, or ``"variational"`` (a learned
            :class:`VariationalDequantization`); only with ``num_levels``.

    Example:
        >>> import torch
        >>> model = Glow(event_shape=(1, 4, 4), levels=2, steps=2, hidden=8)
        >>> x = torch.rand(5, 1, 4, 4)
        >>> z, log_det = model(x)
        >>> z.shape, torch.allclose(model.inverse(z), x, atol=1e-5)
        (torch.Size([5, 16]), True)

    References:
        Kingma and Dhariwal, *Glow: Generative flow with invertible 1x1 convolutions*,
        NeurIPS 2018, https://arxiv.org/abs/1807.03039.
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        levels: int = 2,
        steps: int = 4,
        hidden: int = 64,
        dropout: float = 0.0,
        num_levels: int | None = None,
        dequantization: str = "uniform",
    ):
        super().__init__()
        self._init_base(event_shape, num_levels, dequantization)
        checks.positive_int(levels, "levels")
        checks.positive_int(steps, "steps")
        if len(self.event_shape) != 3 or any(s % 2**levels for s in self.event_shape[1:]):
            raise ValueError(
                f"event_shape must be (C, H, W) with H, W divisible by 2**levels, got {event_shape}"
            )
        self.flow = self._layers([self._level(self.event_shape, levels, steps, hidden, dropout)])

    def _level(self, shape, levels, steps, hidden, dropout) -> Flow:
        c, h, w = shape
        shape = (4 * c, h // 2, w // 2)  # after the squeeze
        layers: list[Flow] = [Squeeze()]
        for k in range(steps):
            layers += [
                ActNorm(shape[0]),
                InvertibleConv1x1(shape[0], seed=k),
                AffineCoupling(channel_mask(shape, parity=k % 2), hidden, conv=True, dropout=dropout),
            ]
        if levels > 1:
            half = (shape[0] // 2, *shape[1:])
            layers.append(Split(shape, self._level(half, levels - 1, steps, hidden, dropout)))
        return FlowSequence(layers)


@register("flows", "exact")
class MAF(FlowModel):
    r"""Masked autoregressive flow: MADE-parameterised affine layers with alternating orderings.

    Each layer is :class:`~gdl.flows.layers.MaskedAffineAutoregressive`, followed by ActNorm;
    successive layers reverse the order of the dimensions, so each dimension is conditioned on
    different others. Density evaluation is one pass per layer; sampling is :math:`D` passes
    per layer.

    Arguments:
        event_shape: ``(D,)`` or any shape (flattened).
        num_layers: autoregressive layers.
        hidden: hidden sizes of each MADE.
        num_levels: integer pixels ``0 .. num_levels-1``, dequantized (see :class:`FlowModel`).
        dequantization: ``"uniform"`` noise, or ``"variational"`` (a learned
            :class:`VariationalDequantization`); only with ``num_levels``.

    Example:
        >>> import torch
        >>> model = MAF(event_shape=(2,), num_layers=3, hidden=[16])
        >>> model.log_prob(torch.randn(4, 2)).shape
        torch.Size([4])

    References:
        Papamakarios, Pavlakou and Murray, *Masked autoregressive flow for density estimation*,
        NeurIPS 2017, https://arxiv.org/abs/1705.07057.
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        num_layers: int = 5,
        hidden: Sequence[int] = (64, 64),
        num_levels: int | None = None,
        dequantization: str = "uniform",
    ):
        super().__init__()
        self._init_base(event_shape, num_levels, dequantization)
        checks.positive_int(num_layers, "num_layers")
        if len(self.event_shape) != 1:
            raise ValueError(f"MAF takes vectors, event_shape (D,); got {event_shape}")
        layers: list[Flow] = []
        for k in range(num_layers):
            layers += [MaskedAffineAutoregressive(self.dims, hidden), ActNorm(self.dims)]
            if k < num_layers - 1:
                layers.append(Reverse())
        self.flow = self._layers(layers)
