r"""Networks shared by the models: MLPs, causal (masked) layers and time-conditioned networks.

Example:
    >>> import torch
    >>> conv = CausalConv1d(1, 4, kernel_size=3, exclude_current=True)
    >>> conv(torch.zeros(2, 1, 10)).shape
    torch.Size([2, 4, 10])
    >>> MaskedConv2d(1, 4, kernel_size=3, mask_type="A")(torch.zeros(2, 1, 5, 5)).shape
    torch.Size([2, 4, 5, 5])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import _checks as checks

__all__ = [
    "MLP", "CausalConv1d", "MaskedLinear", "MaskedMLP", "MaskedConv2d",
    "SinusoidalEmbedding", "TimeUNet", "TimeMLP",
]


class MLP(nn.Sequential):
    """A multilayer perceptron: ``Linear → activation (→ dropout)`` repeated, then a final ``Linear``.

    The one MLP of the package: the VAEs' encoders and decoders, the GANs' networks, the flows'
    coupling conditioners and the energy and score networks are all made of it.

    Arguments:
        in_features: input size.
        hidden: sizes of the hidden layers (may be empty: a single linear map).
        out_features: output size.
        activation: builds the module used after every hidden layer, e.g. ``nn.ReLU`` or
            ``lambda: nn.LeakyReLU(0.2)``.
        dropout: probability of zeroing a hidden unit in training mode (0: no dropout layers).
        zero_last: start the final layer at zero, so the untrained network outputs zeros (a
            coupling that starts as the identity, a residual branch that starts closed).

    Example:
        >>> import torch
        >>> MLP(2, [16, 16], 3)(torch.zeros(5, 2)).shape
        torch.Size([5, 3])
        >>> MLP(2, [4], 3, zero_last=True)(torch.randn(5, 2)).abs().max().item()
        0.0
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: Callable[[], nn.Module] = nn.ReLU,
        dropout: float = 0.0,
        zero_last: bool = False,
    ):
        sizes = [
            checks.positive_int(in_features, "in_features"),
            *checks.ints(hidden, "hidden", allow_empty=True),
            checks.positive_int(out_features, "out_features"),
        ]
        dropout = checks.probability(dropout, "dropout")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        if zero_last:
            nn.init.zeros_(self[-1].weight)
            nn.init.zeros_(self[-1].bias)


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


class MaskedLinear(nn.Linear):
    r"""A linear layer whose weight is multiplied elementwise by a fixed binary mask.

    .. math::

        \mathbf{y} = (W \odot M)\,\mathbf{x} + \mathbf{b},

    so output :math:`k` ignores input :math:`d` wherever :math:`M_{kd} = 0`. MADE builds its
    autoregressive masks this way. The mask is a buffer: it moves with ``.to(device)`` and is
    saved in the ``state_dict``.

    Arguments:
        in_features: input size.
        out_features: output size.
        mask: ``(out_features, in_features)``, ones where a connection exists.

    Shapes:
        ``(B, in_features) -> (B, out_features)``.

    Example:
        >>> import torch
        >>> layer = MaskedLinear(3, 2, mask=torch.tensor([[1, 0, 0], [1, 1, 0]]))
        >>> x = torch.randn(4, 3, requires_grad=True)
        >>> layer(x)[:, 0].sum().backward()
        >>> (x.grad[:, 1:] == 0).all().item()
        True
    """

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(
                f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}"
            )
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MaskedMLP(nn.Module):
    r"""MADE's network: an MLP whose masked weights make output :math:`i` depend only on the
    inputs before :math:`i` in an ordering.

    Each unit carries a *degree*: input :math:`d` has :math:`m^0(d)`, its position in the
    ordering (1 to :math:`D`); hidden unit :math:`k` of layer :math:`l` has
    :math:`m^l(k) \in \{1, \dots, D-1\}`, cycling through those values so that every degree
    appears. The masks

    .. math::

        M^{l}_{kj} = \mathbb{1}\big[m^{l}(k) \ge m^{l-1}(j)\big], \qquad
        M^{\text{out}}_{dk} = \mathbb{1}\big[m^{0}(d) > m^{L}(k)\big]

    let a hidden unit of degree :math:`m` see only inputs of degree :math:`\le m`, and the
    outputs for a dimension of degree :math:`m` only hidden units of degree :math:`< m`.

    Arguments:
        ordering: a permutation of ``0 .. D - 1``; ``ordering[0]`` is conditioned on nothing.
        hidden: sizes of the hidden layers (at least one).
        outputs_per_dim: :math:`K` outputs for each dimension (logits, or a shift and a scale).
        zero_last: start the output layer at zero.

    Shapes:
        ``(B, D) -> (B, D, K)``.

    Example:
        >>> import torch
        >>> net = MaskedMLP(torch.tensor([2, 0, 1]), hidden=[8], outputs_per_dim=2)
        >>> net.degrees.tolist(), net(torch.zeros(4, 3)).shape
        ([2, 3, 1], torch.Size([4, 3, 2]))

    References:
        Germain, Gregor, Murray and Larochelle, *MADE: Masked Autoencoder for Distribution
        Estimation*, ICML 2015, https://arxiv.org/abs/1502.03509.
    """

    def __init__(
        self,
        ordering: Sequence[int] | torch.Tensor,
        hidden: Sequence[int],
        outputs_per_dim: int = 1,
        zero_last: bool = False,
    ):
        super().__init__()
        ordering = torch.as_tensor(ordering)
        D = len(ordering)
        is_permutation = (
            not ordering.dtype.is_floating_point
            and ordering.dim() == 1
            and torch.equal(ordering.sort().values, torch.arange(D))
        )
        if D < 1 or not is_permutation:
            raise ValueError(f"ordering must be a permutation of 0..{D - 1}, got {ordering.tolist()}")
        hidden = checks.ints(hidden, "hidden")
        self.dims, self.outputs_per_dim = D, checks.positive_int(outputs_per_dim, "outputs_per_dim")
        degrees = torch.empty(D, dtype=torch.long)
        degrees[ordering] = torch.arange(1, D + 1)  # m^0(d): position of d in the ordering
        self.register_buffer("ordering", ordering.long().clone())
        self.register_buffer("degrees", degrees)
        layers: list[nn.Module] = []
        m_prev = degrees
        for size in hidden:
            m = torch.arange(size) % max(D - 1, 1) + 1  # cycle through 1 .. D-1
            layers += [MaskedLinear(len(m_prev), size, m[:, None] >= m_prev[None, :]), nn.ReLU()]
            m_prev = m
        mask = degrees[:, None] > m_prev[None, :]  # (D, last hidden): strictly earlier degrees
        mask = mask.repeat_interleave(self.outputs_per_dim, dim=0)  # (D * K, last hidden)
        layers.append(MaskedLinear(len(m_prev), D * self.outputs_per_dim, mask))
        if zero_last:
            nn.init.zeros_(layers[-1].weight)
            nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(len(x), self.dims, self.outputs_per_dim)  # (B, D, K)

    def connectivity(self) -> torch.Tensor:
        """``(D, D)`` booleans: entry ``(d, j)`` is True where the outputs for dimension ``d``
        can be reached from input ``j`` through some path of unmasked weights."""
        masks = [layer.mask for layer in self.net if isinstance(layer, MaskedLinear)]
        reach = masks[-1][:: self.outputs_per_dim]  # (D, H): one row per dimension, not per output
        for mask in reversed(masks[:-1]):
            reach = reach @ mask  # (D, previous layer): counts paths
        return reach > 0


def _pair(k: int | tuple[int, int]) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


class MaskedConv2d(nn.Conv2d):
    r"""A "same"-padded 2-D convolution that sees only pixels before the centre in raster order.

    Pixels are read row by row, left to right. The kernel's mask keeps the rows above the
    centre and, in the centre row, the columns to its left; for an odd kernel of size
    :math:`k_h \times k_w` with centre :math:`(c_h, c_w)`,

    .. math::

        M_{uv} = \begin{cases} 1 & u < c_h \text{ or } (u = c_h \text{ and } v < c_w) \\
        1 & (u, v) = (c_h, c_w) \text{ and type B} \\ 0 & \text{otherwise.} \end{cases}

    * type ``"A"`` excludes the centre pixel: the layer that opens an autoregressive network, so
      output :math:`(i, j)` cannot see the value :math:`x_{ij}` it predicts;
    * type ``"B"`` includes it: every later layer, whose input at :math:`(i, j)` already
      summarises only the pixels before :math:`(i, j)`.

    With ``vertical=True`` the mask keeps whole rows instead: the rows above the centre (type A)
    or those and the centre row (type B). This is the *vertical stack* of the gated PixelCNN,
    whose features at row :math:`i` depend only on rows above :math:`i`.

    Inputs have one channel or hidden channels; there is no splitting of RGB channels.

    Arguments:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd size, or ``(k_h, k_w)`` with both odd.
        mask_type: ``"A"`` or ``"B"``.
        vertical: keep whole rows (the vertical stack) instead of the raster-order half.

    Shapes:
        ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    Example:
        >>> MaskedConv2d(1, 1, 3, mask_type="A").mask[0, 0]
        tensor([[1., 1., 1.],
                [1., 0., 0.],
                [0., 0., 0.]])
        >>> MaskedConv2d(1, 1, 3, mask_type="B", vertical=True).mask[0, 0]
        tensor([[1., 1., 1.],
                [1., 1., 1.],
                [0., 0., 0.]])

    References:
        Van den Oord, Kalchbrenner and Kavukcuoglu, *Pixel Recurrent Neural Networks*, 2016,
        https://arxiv.org/abs/1601.06759.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str = "B",
        vertical: bool = False,
    ):
        kh, kw = _pair(kernel_size)
        if kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size!r}")
        if mask_type not in ("A", "B"):
            raise ValueError(f'mask_type must be "A" or "B", got {mask_type!r}')
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        self.mask_type, self.vertical = mask_type, vertical
        ch, cw = kh // 2, kw // 2
        mask = torch.zeros(kh, kw)
        mask[:ch] = 1  # rows above the centre
        if vertical:
            mask[ch] = float(mask_type == "B")  # the whole centre row, or none of it
        else:
            mask[ch, :cw] = 1  # left of the centre
            mask[ch, cw] = float(mask_type == "B")
        self.register_buffer("mask", mask[None, None])  # (1, 1, kh, kw), broadcast over channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class SinusoidalEmbedding(nn.Module):
    r"""Embed a (possibly fractional) time step :math:`t` as sines and cosines of many frequencies.

    .. math::

        \operatorname{emb}(t) = \big[\sin(\omega_1 t), \dots, \sin(\omega_{d/2} t),
        \cos(\omega_1 t), \dots, \cos(\omega_{d/2} t)\big],\qquad
        \omega_k = P^{-(k-1)/(d/2)},

    the position encoding of the Transformer, used by diffusion models to tell the network
    how much noise its input carries. Frequencies run from 1 down to :math:`1/P`.

    Arguments:
        dim: embedding size :math:`d`, even.
        max_period: the longest period :math:`P`.

    Shapes:
        ``(B,) -> (B, dim)``.

    Example:
        >>> import torch
        >>> emb = SinusoidalEmbedding(8)(torch.tensor([0.0, 3.0]))
        >>> emb.shape, emb[0, :4].abs().max().item(), emb[0, 4:].min().item()
        (torch.Size([2, 8]), 0.0, 1.0)

    References:
        Vaswani et al., *Attention Is All You Need*, NeurIPS 2017. https://arxiv.org/abs/1706.03762
    """

    def __init__(self, dim: int, max_period: float = 10_000.0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
        half = dim // 2
        self.register_buffer("frequencies", max_period ** (-torch.arange(half) / half))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.float()[:, None] * self.frequencies  # (B, d/2)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, d)


class _TimeResBlock(nn.Module):
    """A residual block told the time: ``x + conv(act(norm(conv(act(norm(x))) + shift(t))))``."""

    def __init__(self, channels: int, time_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.time = nn.Linear(time_dim, channels)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C, H, W)
        h = h + self.time(emb)[:, :, None, None]  # the same shift at every pixel
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class TimeUNet(nn.Module):
    r"""A small U-Net for small images, conditioned on a time step: :math:`f(\mathbf{x}, t)`.

    Two resolutions: residual blocks at full size, a 2× average-pool to half size for more
    blocks (each of whose 3×3 filters now spans twice the distance), then a 2× upsample, a skip
    connection from the full-size features, and more blocks. The time step enters every block
    as a per-channel shift computed from its :class:`SinusoidalEmbedding` by a small MLP. The
    last convolution starts at zero, so the untrained network outputs zeros.

    Arguments:
        in_channels: channels of the input image.
        out_channels: channels of the output (equal to ``in_channels`` to predict noise).
        channels: feature channels at every resolution.
        blocks: residual blocks per stage (full size, half size, full size again).
        time_dim: size of the time embedding.
        groups: groups of the group normalisations (must divide ``channels``).

    Shapes:
        ``(B, in_channels, H, W)`` images and ``(B,)`` times -> ``(B, out_channels, H, W)``;
        ``H`` and ``W`` even.

    Example:
        >>> import torch
        >>> net = TimeUNet(1, 1, channels=8, blocks=1, groups=4)
        >>> net(torch.randn(3, 1, 8, 8), torch.tensor([0, 5, 9])).abs().max().item()
        0.0

    References:
        Ronneberger, Fischer and Brox, *U-Net*, MICCAI 2015, https://arxiv.org/abs/1505.04597 ;
        Ho, Jain and Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 32,
        blocks: int = 1,
        time_dim: int = 64,
        groups: int = 8,
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("channels", channels), ("blocks", blocks), ("time_dim", time_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if channels % groups:
            raise ValueError(f"groups must divide channels={channels}, got {groups!r}")
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(time_dim), nn.Linear(time_dim, time_dim), nn.SiLU(),
            nn.Linear(time_dim, time_dim),
        )
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.down = nn.ModuleList(_TimeResBlock(channels, time_dim, groups) for _ in range(blocks))
        self.mid = nn.ModuleList(_TimeResBlock(channels, time_dim, groups) for _ in range(blocks))
        self.merge = nn.Conv2d(2 * channels, channels, 1)  # skip + upsampled -> channels
        self.up = nn.ModuleList(_TimeResBlock(channels, time_dim, groups) for _ in range(blocks))
        self.head = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(),
                                  nn.Conv2d(channels, out_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(f"x must have even height and width, got {tuple(x.shape)}")
        emb = self.time_mlp(t)  # (B, time_dim)
        h = self.stem(x)  # (B, C, H, W)
        for block in self.down:
            h = block(h, emb)
        skip = h
        h = F.avg_pool2d(h, 2)  # (B, C, H/2, W/2)
        for block in self.mid:
            h = block(h, emb)
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")  # (B, C, H, W)
        h = self.merge(torch.cat([h, skip], dim=1))
        for block in self.up:
            h = block(h, emb)
        return self.head(h)


class TimeMLP(nn.Module):
    r"""An MLP on flattened images, conditioned on a time step: :math:`f(\mathbf{x}, t)`.

    The time step's :class:`SinusoidalEmbedding` is mapped to every hidden layer's width and
    added to its pre-activation. On tiny images (8×8) it is much cheaper than a convolutional
    network and, trained on a few thousand steps, about as good. The last layer starts at
    zero.

    Arguments:
        event_shape: shape of one input, e.g. ``(1, 8, 8)``; the output has the same shape.
        hidden: sizes of the hidden layers.
        time_dim: size of the time embedding.
        out_shape: shape of one output (default: ``event_shape``).

    Shapes:
        ``(B, *event_shape)`` inputs and ``(B,)`` times -> ``(B, *out_shape)``; an optional
        ``condition`` ``(B, time_dim)`` (a label's embedding, say) is added to the time's.

    Example:
        >>> import torch
        >>> net = TimeMLP((1, 4, 4), hidden=[16, 16])
        >>> net(torch.randn(3, 1, 4, 4), torch.tensor([0, 5, 9])).shape
        torch.Size([3, 1, 4, 4])
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        hidden: Sequence[int] = (512, 512),
        time_dim: int = 64,
        out_shape: Sequence[int] | None = None,
    ):
        super().__init__()
        self.event_shape = tuple(int(s) for s in event_shape)
        self.out_shape = self.event_shape if out_shape is None else tuple(int(s) for s in out_shape)
        dim, out_dim = math.prod(self.event_shape), math.prod(self.out_shape)
        sizes = [dim, *hidden, out_dim]
        if not hidden or any(s < 1 for s in sizes) or time_dim < 2:
            raise ValueError(f"event_shape and hidden must give positive sizes, got {sizes}")
        self.embedding = SinusoidalEmbedding(time_dim)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.times = nn.ModuleList(nn.Linear(time_dim, b) for b in sizes[1:-1])
        self.out = nn.Linear(sizes[-2], out_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embedding(t)  # (B, time_dim)
        if condition is not None:  # a condition's embedding (B, time_dim) joins the time's
            emb = emb + condition
        h = x.reshape(len(x), -1)  # (B, D)
        for layer, time in zip(self.layers, self.times):
            h = F.silu(layer(h) + time(emb))  # (B, hidden)
        return self.out(h).view(len(x), *self.out_shape)
