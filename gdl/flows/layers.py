r"""Invertible layers. Every layer maps **data to noise**.

``forward(x) -> (z, log_abs_det_jacobian)`` goes from data towards the base distribution and
returns, per example, :math:`\log\lvert\det \partial z / \partial x\rvert` (shape ``(B,)``);
``inverse(z) -> x`` goes back, towards data. Stacking layers adds their log-determinants:

.. math::

    \log p(\mathbf{x}) = \log p_Z(f_K \circ \dots \circ f_1(\mathbf{x}))
    + \sum_{k=1}^{K} \log\left\lvert\det \frac{\partial f_k}{\partial \mathbf{h}_{k-1}}\right\rvert .

Example:
    >>> import torch
    >>> layer = AffineCoupling(checkerboard_mask((1, 4, 4)), hidden=8, conv=True)
    >>> x = torch.randn(3, 1, 4, 4)
    >>> z, log_det = layer(x)
    >>> z.shape, log_det.shape
    (torch.Size([3, 1, 4, 4]), torch.Size([3]))
    >>> torch.allclose(layer.inverse(z), x, atol=1e-6)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _checks as checks
from ..nn import MLP, MaskedMLP

__all__ = [
    "Flow",
    "FlowSequence",
    "checkerboard_mask",
    "channel_mask",
    "AffineCoupling",
    "ActNorm",
    "InvertibleConv1x1",
    "Squeeze",
    "Split",
    "Flatten",
    "Reverse",
    "MaskedAffineAutoregressive",
    "Dequantize",
]


class Flow(nn.Module):
    """An invertible map from data to noise: ``forward(x) -> (z, log|det J|)``, ``inverse(z) -> x``."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one example after :meth:`forward`, given its shape before (default: unchanged)."""
        return tuple(shape)


class FlowSequence(Flow):
    """Layers applied in order (data → noise); the inverse runs them backwards.

    Arguments:
        layers: the :class:`Flow` layers, first applied first.
    """

    def __init__(self, layers: Sequence[Flow]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        log_det = x.new_zeros(len(x))
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z):
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def output_shape(self, shape):
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return tuple(shape)


# ---------------------------------------------------------------------------------- coupling
def checkerboard_mask(shape: Sequence[int], parity: int = 0) -> torch.Tensor:
    r"""A checkerboard of ones and zeros, :math:`m_{ij} = [(i + j + \text{parity}) \bmod 2 = 0]`.

    For ``(C, H, W)`` the pattern is over height and width, shared by channels; for ``(D,)`` it
    alternates along the vector.

    Example:
        >>> checkerboard_mask((1, 2, 2))[0]
        tensor([[1., 0.],
                [0., 1.]])
    """
    shape = tuple(shape)
    if len(shape) == 1:
        return ((torch.arange(shape[0]) + parity) % 2 == 0).float()
    if len(shape) != 3:
        raise ValueError(f"shape must be (D,) or (C, H, W), got {shape}")
    c, h, w = shape
    board = (torch.arange(h)[:, None] + torch.arange(w)[None, :] + parity) % 2 == 0
    return board.float().expand(c, h, w).clone()


def channel_mask(shape: Sequence[int], parity: int = 0) -> torch.Tensor:
    """Ones on the first half of the channels (``parity=0``) or the second half (``parity=1``).

    Example:
        >>> channel_mask((4, 1, 1))[:, 0, 0]
        tensor([1., 1., 0., 0.])
    """
    shape = tuple(shape)
    if shape[0] < 2:
        raise ValueError(f"a channel mask needs at least 2 channels, got shape {shape}")
    first = (torch.arange(shape[0]) < shape[0] // 2).float()
    mask = first if parity == 0 else 1 - first
    return mask.view(-1, *([1] * (len(shape) - 1))).expand(shape).clone()


def _coupling_net(shape, hidden: int, conv: bool, dropout: float) -> nn.Module:
    """The conditioner of a coupling: ``(B, *shape) -> (B, 2C, ...)``, starting at zero."""
    c = shape[0]
    if conv:
        net = nn.Sequential(
            nn.Conv2d(c, hidden, 3, padding=1), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(hidden, 2 * c, 3, padding=1),
        )
        nn.init.zeros_(net[-1].weight)  # start as the identity map
        nn.init.zeros_(net[-1].bias)
        return net
    d = math.prod(shape)
    return nn.Sequential(
        nn.Flatten(),
        MLP(d, [hidden, hidden], 2 * d, dropout=dropout, zero_last=True),  # start as the identity
        nn.Unflatten(1, (2 * c, *shape[1:])),
    )


class AffineCoupling(Flow):
    r"""Real NVP's affine coupling: the masked half conditions an affine map of the other half.

    With a binary mask :math:`\mathbf{m}` (1 = passed through unchanged),

    .. math::

        \mathbf{z} = \mathbf{m}\odot\mathbf{x} + (1-\mathbf{m})\odot
        \big(\mathbf{x}\odot e^{\mathbf{s}(\mathbf{m}\odot\mathbf{x})}
        + \mathbf{t}(\mathbf{m}\odot\mathbf{x})\big),
        \qquad
        \log\lvert\det J\rvert = \sum_i (1-m_i)\, s_i .

    The Jacobian is triangular (after sorting the masked dimensions first), so its determinant
    is the product of the diagonal; the networks :math:`\mathbf{s}, \mathbf{t}` never need to be
    inverted. The log-scale is bounded, :math:`\mathbf{s} = \sigma \tanh(\tilde{\mathbf{s}})`
    with a learned per-dimension :math:`\sigma`, and the last layer starts at zero, so the
    coupling begins as the identity.

    Arguments:
        mask: ``(D,)`` or ``(C, H, W)``, see :func:`checkerboard_mask` and :func:`channel_mask`.
        hidden: width of the conditioner network.
        conv: use a small convolutional conditioner (images) instead of an MLP on the
            flattened input.
        dropout: dropout rate inside the conditioner.

    Example:
        >>> import torch
        >>> layer = AffineCoupling(torch.tensor([1.0, 0.0]), hidden=8)
        >>> z, log_det = layer(torch.randn(5, 2))
        >>> log_det.shape
        torch.Size([5])

    References:
        Dinh, Sohl-Dickstein and Bengio, *Density estimation using Real NVP*, ICLR 2017,
        https://arxiv.org/abs/1605.08803.
    """

    def __init__(self, mask: torch.Tensor, hidden: int = 64, conv: bool = False, dropout: float = 0.0):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if not ((mask == 0) | (mask == 1)).all() or mask.min() == mask.max():
            raise ValueError("mask must hold both zeros and ones, and nothing else")
        if conv and mask.dim() != 3:
            raise ValueError(f"conv=True needs a (C, H, W) mask, got shape {tuple(mask.shape)}")
        hidden = checks.positive_int(hidden, "hidden")
        dropout = checks.probability(dropout, "dropout")
        self.register_buffer("mask", mask)
        self.net = _coupling_net(tuple(mask.shape), hidden, conv, dropout)
        self.scale = nn.Parameter(torch.ones(mask.shape))

    def _shift_and_log_scale(self, x_masked):
        s, t = self.net(x_masked).chunk(2, dim=1)  # each (B, *shape)
        free = 1 - self.mask  # only the unmasked dimensions change
        return t * free, self.scale * torch.tanh(s) * free

    def forward(self, x):
        t, s = self._shift_and_log_scale(x * self.mask)
        z = x * torch.exp(s) + t  # masked dims: s = t = 0, so they pass through
        return z, s.flatten(1).sum(1)

    def inverse(self, z):
        t, s = self._shift_and_log_scale(z * self.mask)  # the masked half is unchanged
        return (z - t) * torch.exp(-s)


# ---------------------------------------------------------------------------------- ActNorm
class ActNorm(Flow):
    r"""Per-channel affine normalisation with data-dependent initialisation (Glow).

    .. math::

        z_{c} = (x_{c} + b_c)\, e^{s_c}, \qquad
        \log\lvert\det J\rvert = (\text{positions per channel}) \sum_c s_c .

    On the first :meth:`forward` call, :math:`b` and :math:`s` are set so that the batch has
    zero mean and unit variance in every channel (dimension 1); afterwards both are ordinary
    parameters. The ``initialized`` flag is a buffer, saved with the ``state_dict``.

    Arguments:
        num_features: channels (images) or dimensions (vectors).

    Example:
        >>> import torch
        >>> norm = ActNorm(3)
        >>> z, _ = norm(5 + 2 * torch.randn(100, 3, 4, 4))
        >>> z.mean((0, 2, 3)).abs().max() < 1e-5
        tensor(True)

    References:
        Kingma and Dhariwal, *Glow: Generative flow with invertible 1x1 convolutions*,
        NeurIPS 2018, https://arxiv.org/abs/1807.03039.
    """

    def __init__(self, num_features: int):
        super().__init__()
        num_features = checks.positive_int(num_features, "num_features")
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.log_scale = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("initialized", torch.tensor(False))

    def _view(self, p, x):
        return p.view(1, -1, *([1] * (x.dim() - 2)))  # broadcast over batch and positions

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set bias and scale so that ``x`` gets zero mean and unit variance per channel."""
        per_channel = x.transpose(0, 1).reshape(x.shape[1], -1)  # (C, B * positions)
        self.bias.copy_(-per_channel.mean(1))
        self.log_scale.copy_(-torch.log(per_channel.std(1) + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x):
        if not self.initialized:
            self.initialize(x)
        z = (x + self._view(self.bias, x)) * torch.exp(self._view(self.log_scale, x))
        positions = x[0, 0].numel()
        return z, (self.log_scale.sum() * positions).expand(len(x))

    def inverse(self, z):
        return z * torch.exp(-self._view(self.log_scale, z)) - self._view(self.bias, z)


# ---------------------------------------------------------------------------------- 1x1 conv
class InvertibleConv1x1(Flow):
    r"""Glow's invertible 1×1 convolution, a learned mixing of channels, LU-parameterised.

    :math:`W = P\,L\,(U + \operatorname{diag}(\operatorname{sign}(\mathbf{s})\,e^{\log|\mathbf{s}|}))`
    with a fixed permutation :math:`P`, unit-lower-triangular :math:`L` and strictly upper
    :math:`U`, so that

    .. math::

        \mathbf{z}_{:,h,w} = W \mathbf{x}_{:,h,w}, \qquad
        \log\lvert\det J\rvert = H W \sum_c \log|s_c|

    costs :math:`O(C)` instead of :math:`O(C^3)`. It starts at a random rotation. Works on
    ``(B, C, H, W)`` and on vectors ``(B, C)``.

    Arguments:
        channels: :math:`C`.
        seed: seed of the random initial rotation.

    Example:
        >>> import torch
        >>> conv = InvertibleConv1x1(4)
        >>> x = torch.randn(2, 4, 3, 3)
        >>> torch.allclose(conv.inverse(conv(x)[0]), x, atol=1e-5)
        True

    References:
        Kingma and Dhariwal, *Glow*, NeurIPS 2018, https://arxiv.org/abs/1807.03039.
    """

    def __init__(self, channels: int, seed: int = 0):
        super().__init__()
        channels = checks.positive_int(channels, "channels")
        g = torch.Generator().manual_seed(seed)
        w, _ = torch.linalg.qr(torch.randn(channels, channels, generator=g))  # a rotation
        p, l, u = torch.linalg.lu(w)
        s = torch.diagonal(u)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.l = nn.Parameter(l)
        self.u = nn.Parameter(torch.triu(u, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> torch.Tensor:
        """The matrix :math:`W`, shape ``(C, C)``."""
        eye = torch.eye(len(self.log_s), device=self.l.device, dtype=self.l.dtype)
        lower = self.l * self.lower_mask + eye
        upper = self.u * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    @staticmethod
    def _mix(w, x):
        return torch.einsum("oc,bc...->bo...", w, x)  # W applied at every position

    def forward(self, x):
        positions = x[0, 0].numel()
        return self._mix(self.weight(), x), (self.log_s.sum() * positions).expand(len(x))

    def inverse(self, z):
        return self._mix(torch.linalg.inv(self.weight()), z)


# ---------------------------------------------------------------------------------- multi-scale
class Squeeze(Flow):
    r"""Trade space for channels: ``(C, H, W) -> (4C, H/2, W/2)``; a permutation, log-det 0.

    Each 2×2 block of pixels becomes four channels at one position.

    Example:
        >>> import torch
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> z, _ = Squeeze()(x)
        >>> z.shape, z[0, :, 0, 0].tolist()
        (torch.Size([1, 4, 2, 2]), [0.0, 1.0, 4.0, 5.0])
    """

    def forward(self, x):
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs even height and width, got {h}x{w}")
        x = x.view(b, c, h // 2, 2, w // 2, 2)  # (B, C, H/2, dy, W/2, dx)
        x = x.permute(0, 1, 3, 5, 2, 4)  # (B, C, dy, dx, H/2, W/2)
        return x.reshape(b, 4 * c, h // 2, w // 2), x.new_zeros(b)

    def inverse(self, z):
        b, c4, h, w = z.shape
        z = z.view(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)  # (B, C, H/2, dy, W/2, dx)
        return z.reshape(b, c4 // 4, 2 * h, 2 * w)

    def output_shape(self, shape):
        c, h, w = shape
        return (4 * c, h // 2, w // 2)


class Split(Flow):
    r"""Multi-scale factoring: half the channels leave for the latent, the rest go deeper.

    ``forward`` keeps channels ``[:C/2]`` as they are (they become part of :math:`\mathbf{z}`
    at this scale) and sends channels ``[C/2:]`` through ``inner``; the output is flat,
    ``(B, D)``: the factored-out half first, then whatever ``inner`` returns. Every dimension
    still reaches the standard-normal base distribution, so the log-density stays exact, but
    the deeper layers work on fewer dimensions (Real NVP, section 3.6).

    Arguments:
        shape: ``(C, H, W)`` of the input, with :math:`C` even.
        inner: the flow applied to the remaining half.
    """

    def __init__(self, shape: Sequence[int], inner: Flow):
        super().__init__()
        c, h, w = shape
        if c % 2:
            raise ValueError(f"Split needs an even number of channels, got shape {tuple(shape)}")
        self.shape = (c, h, w)
        self.keep_shape = (c // 2, h, w)
        self.inner = inner
        self.inner_out_shape = inner.output_shape(self.keep_shape)

    def forward(self, x):
        c = self.shape[0] // 2
        z_out, (z_in, log_det) = x[:, :c], self.inner(x[:, c:])
        return torch.cat([z_out.flatten(1), z_in.flatten(1)], dim=1), log_det

    def inverse(self, z):
        n_out = math.prod(self.keep_shape)
        z_out = z[:, :n_out].view(len(z), *self.keep_shape)
        x_in = self.inner.inverse(z[:, n_out:].view(len(z), *self.inner_out_shape))
        return torch.cat([z_out, x_in], dim=1)

    def output_shape(self, shape):
        return (math.prod(shape),)


class Flatten(Flow):
    """View ``(B, *shape)`` as vectors ``(B, D)``; log-det 0.

    Arguments:
        shape: the shape of one example before flattening.
    """

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(len(x), -1), x.new_zeros(len(x))

    def inverse(self, z):
        return z.view(len(z), *self.shape)

    def output_shape(self, shape):
        return (math.prod(shape),)


class Reverse(Flow):
    """Reverse the order of the dimensions of a vector ``(B, D)``; a permutation, log-det 0."""

    def forward(self, x):
        return x.flip(1), x.new_zeros(len(x))

    def inverse(self, z):
        return z.flip(1)


# ---------------------------------------------------------------------------------- autoregressive
class MaskedAffineAutoregressive(Flow):
    r"""MAF's layer: an affine autoregressive transform whose parameters come from a MADE.

    .. math::

        z_i = (x_i - \mu_i(\mathbf{x}_{<i}))\, e^{-\alpha_i(\mathbf{x}_{<i})}, \qquad
        \log\lvert\det J\rvert = -\sum_i \alpha_i .

    The Jacobian is triangular in the ordering. ``forward`` (density) is one pass of the
    network; ``inverse`` (sampling) needs :math:`D` passes, since :math:`x_i` must be known
    before :math:`\mu_{i+1}` can be computed. An inverse autoregressive flow (IAF) swaps the
    two costs.

    Arguments:
        dims: :math:`D`.
        hidden: hidden sizes of the MADE network (:class:`~gdl.nn.MaskedMLP`) that outputs a
            shift :math:`\mu_i` and a log-scale :math:`\alpha_i` per dimension, each from
            :math:`\mathbf{x}_{<i}` only; it starts at zero, so the layer starts as the identity.
        ordering: the autoregressive order (default ``0..D-1``).

    Example:
        >>> import torch
        >>> layer = MaskedAffineAutoregressive(3, hidden=[8])
        >>> x = torch.randn(4, 3)
        >>> torch.allclose(layer.inverse(layer(x)[0]), x, atol=1e-6)
        True

    References:
        Papamakarios, Pavlakou and Murray, *Masked autoregressive flow for density estimation*,
        NeurIPS 2017, https://arxiv.org/abs/1705.07057.
    """

    def __init__(self, dims: int, hidden: Sequence[int] = (64,), ordering=None):
        super().__init__()
        dims = checks.positive_int(dims, "dims")
        ordering = torch.arange(dims) if ordering is None else ordering
        self.made = MaskedMLP(ordering, hidden, outputs_per_dim=2, zero_last=True)

    def _shift_and_log_scale(self, x):
        out = self.made(x)  # (B, D, 2)
        return out[..., 0], out[..., 1].clamp(-7, 7)  # the clamp keeps exp(-alpha) finite

    def forward(self, x):
        mu, alpha = self._shift_and_log_scale(x)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(1)

    def inverse(self, z):
        x = torch.zeros_like(z)
        for i in self.made.ordering.tolist():  # one dimension at a time, in the ordering
            mu, alpha = self._shift_and_log_scale(x)
            x[:, i] = z[:, i] * torch.exp(alpha[:, i]) + mu[:, i]
        return x


# ---------------------------------------------------------------------------------- dequantization
class Dequantize(Flow):
    r"""Map dequantized pixels :math:`y = x + u \in [0, L)` to logit space, counting every scaling.

    .. math::

        p = \lambda + (1 - 2\lambda)\,\frac{y}{L}, \qquad v = \log\frac{p}{1-p}, \qquad
        \log\left\lvert\frac{dv}{dy}\right\rvert = \log\frac{1-2\lambda}{L} - \log p - \log(1-p)

    per dimension. The squeeze :math:`\lambda` keeps the logit away from :math:`\pm\infty`.
    Because these terms are in the log-determinant, a flow that starts with this layer gives
    the density of :math:`y` on the integer scale, and
    :math:`-\mathbb{E}_u \log p(x + u) \ge -\log P(x)` bounds the discrete NLL.

    Arguments:
        num_levels: :math:`L`; pixels are integers ``0 .. L-1``.
        alpha: the squeeze :math:`\lambda \in (0, 1/2)`.
    """

    def __init__(self, num_levels: int, alpha: float = 0.05):
        super().__init__()
        self.num_levels = checks.num_levels(num_levels)
        self.alpha = checks.number(alpha, "alpha", low=0.0, high=0.5, low_open=True, high_open=True)

    @property
    def support(self) -> tuple[float, float]:
        """The open interval of :math:`y` where :math:`0 < p < 1`: a little wider than
        :math:`[0, L]`, by the squeeze."""
        margin = self.alpha * self.num_levels / (1 - 2 * self.alpha)
        return -margin, self.num_levels + margin

    def forward(self, y):
        p = self.alpha + (1 - 2 * self.alpha) * y / self.num_levels
        v = torch.log(p) - torch.log1p(-p)
        log_det = math.log((1 - 2 * self.alpha) / self.num_levels) - torch.log(p) - torch.log1p(-p)
        return v, log_det.flatten(1).sum(1)

    def inverse(self, v):
        return (torch.sigmoid(v) - self.alpha) / (1 - 2 * self.alpha) * self.num_levels
