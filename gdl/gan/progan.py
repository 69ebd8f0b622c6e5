r"""Progressive growing of GANs (ProGAN), and the layers the style-based generator shares with it.

Both networks start at a tiny resolution and grow one doubling at a time. A new block is not
switched on at once: for a while its output is blended with the upsampled output of the
resolution below,

.. math::

    G_\alpha(\mathbf{z}) = \alpha\,\mathrm{rgb}_{2r}\big(b_{2r}(\mathbf{h}_r)\big)
    + (1 - \alpha)\,\mathrm{up}\big(\mathrm{rgb}_r(\mathbf{h}_r)\big),

with :math:`\alpha` rising from 0 to 1, so the network that was already trained keeps working
while the new layers learn (the discriminator mirrors it with a downsampled input). The other
mechanisms of the paper are here too: an equalized learning rate (:class:`EqualizedConv2d`,
:class:`EqualizedLinear`), pixel norm in the generator (:class:`PixelNorm`) and the minibatch
standard deviation as an extra feature of the discriminator (:class:`MinibatchStd`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from ..taxonomy import register
from .minimax import GAN

__all__ = ["ProGAN", "EqualizedLinear", "EqualizedConv2d", "PixelNorm", "MinibatchStd", "R1Penalty"]


class EqualizedLinear(nn.Module):
    r"""A linear layer with an equalized learning rate.

    The weights are stored as :math:`\hat w \sim \mathcal{N}(0, 1)` and scaled at every call by
    He's constant, :math:`w = \hat w \cdot g/\sqrt{\text{fan-in}}`. Adam's step size is about the
    same for every stored weight, so scaling at run time (rather than at initialisation) makes
    every layer learn at the same speed, whatever its fan-in.

    Arguments:
        in_features, out_features: sizes.
        gain: :math:`g`; :math:`\sqrt 2` before a (leaky) ReLU.
        bias_init: initial value of the bias.
        lr_multiplier: a further factor on the weight and the bias (the mapping network of the
            style-based generator learns 100 times slower).
    """

    def __init__(self, in_features: int, out_features: int, *, gain: float = math.sqrt(2),
                 bias_init: float = 0.0, lr_multiplier: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier))
        self.scale = gain / math.sqrt(in_features) * lr_multiplier
        self.lr_multiplier = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_multiplier)


class EqualizedConv2d(nn.Module):
    r"""A 'same'-padded convolution with an equalized learning rate (see :class:`EqualizedLinear`).

    Arguments:
        in_channels, out_channels, kernel_size: as for :class:`torch.nn.Conv2d`.
        gain: :math:`g`; the fan-in is ``in_channels * kernel_size**2``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


class PixelNorm(nn.Module):
    r"""Normalise each pixel's feature vector to unit mean square, :math:`\mathbf{a}/\sqrt{\overline{a^2} + \epsilon}`.

    In the generator it stops the signal magnitudes of the two players from spiralling upwards;
    it has no parameters. ``dim`` is the feature dimension (1 for maps ``(B, C, H, W)`` and vectors ``(B, C)``).
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(self.dim, keepdim=True) + self.eps)


class MinibatchStd(nn.Module):
    r"""Append the mini-batch's average standard deviation as one more feature map.

    For groups of ``group_size`` consecutive examples, the standard deviation of every feature
    over the group is averaged into one number, broadcast as an extra channel. A generator that
    collapses to a few images produces batches with a small spread, and the discriminator can
    now see it: a cheap remedy for mode collapse. Groups never straddle a multiple of
    ``group_size``, so two batches concatenated (real images, then fakes) can go through the
    discriminator together without either seeing the other's spread.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        if b % g:
            g = b  # a ragged batch: one group
        y = x.view(-1, g, c, h, w)  # (B/G, G, C, H, W): example i is in group i // G
        std = (y.var(1, unbiased=False) + 1e-8).sqrt()  # (B/G, C, H, W)
        std = std.mean((1, 2, 3)).view(-1, 1, 1, 1)  # (B/G, 1, 1, 1)
        return torch.cat([x, std.repeat_interleave(g, 0).expand(b, 1, h, w)], dim=1)  # (B, C + 1, H, W)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class _GeneratorBlock(nn.Module):
    """Double the resolution (nearest neighbour), then a 3×3 convolution with pixel norm (the
    paper has two per block; one is enough at 8×8 and halves the cost)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, out_channels)
        self.norm = PixelNorm()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.norm(_lrelu(self.conv(h)))


class ProgressiveGenerator(nn.Module):
    r"""The generator: :math:`\mathbf{z}` to a ``start × start`` map, then one block per doubling.

    Each resolution has its own ``to_rgb`` (a 1×1 convolution to one channel), used while that
    resolution is the output or is faded out. ``channels[i]`` is the number of channels at
    resolution ``start * 2**i``.
    """

    def __init__(self, latent_dim: int, channels: Sequence[int], start: int):
        super().__init__()
        self.start, self.width = start, channels[0]
        self.norm = PixelNorm()
        self.project = EqualizedLinear(latent_dim, channels[0] * start * start, gain=math.sqrt(2) / 4)
        self.conv = EqualizedConv2d(channels[0], channels[0])
        self.blocks = nn.ModuleList([_GeneratorBlock(a, b) for a, b in zip(channels, channels[1:])])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, 1, 1, gain=1.0) for c in channels])

    def forward(self, z: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Images at resolution ``start * 2**level``; the newest block weighted by ``alpha``."""
        h = self.project(self.norm(z)).view(len(z), self.width, self.start, self.start)  # (B, C, s, s)
        h = self.norm(_lrelu(self.conv(self.norm(_lrelu(h)))))
        for block in self.blocks[: level - 1] if level else ():
            h = block(h)
        if level == 0:
            return self.to_rgb[0](h)
        new = self.to_rgb[level](self.blocks[level - 1](h))  # (B, 1, 2r, 2r)
        if alpha >= 1:
            return new
        old = F.interpolate(self.to_rgb[level - 1](h), scale_factor=2, mode="nearest")  # (B, 1, 2r, 2r)
        return alpha * new + (1 - alpha) * old


class _DiscriminatorBlock(nn.Module):
    """A 3×3 convolution, then halve the resolution (average pooling)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, out_channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(_lrelu(self.conv(h)), 2)


class ProgressiveDiscriminator(nn.Module):
    """The mirror image: ``from_rgb`` at the input's resolution, halving blocks, then a head at
    ``start × start`` that sees the minibatch standard deviation."""

    def __init__(self, channels: Sequence[int], start: int):
        super().__init__()
        width = channels[0]
        self.from_rgb = nn.ModuleList([EqualizedConv2d(1, c, 1) for c in channels])
        # blocks[i] halves resolution start * 2**(i + 1), going from channels[i + 1] to channels[i]
        self.blocks = nn.ModuleList([_DiscriminatorBlock(b, a) for a, b in zip(channels, channels[1:])])
        self.minibatch_std = MinibatchStd()
        self.conv = EqualizedConv2d(width + 1, width)
        self.dense = EqualizedLinear(width * start * start, width)
        self.out = EqualizedLinear(width, 1, gain=1.0)

    def forward(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Logits ``(B, 1)`` of images at resolution ``start * 2**level``."""
        h = _lrelu(self.from_rgb[level](x))
        if level:
            h = self.blocks[level - 1](h)  # (B, C, r, r)
            if alpha < 1:
                old = _lrelu(self.from_rgb[level - 1](F.avg_pool2d(x, 2)))
                h = alpha * h + (1 - alpha) * old
            for block in reversed(self.blocks[: level - 1]):
                h = block(h)
        h = _lrelu(self.conv(self.minibatch_std(h)))  # (B, C, s, s)
        return self.out(_lrelu(self.dense(h.flatten(1))))


def _growth_plan(event_shape, start_resolution, width: int) -> tuple[tuple[int, ...], int, int, list[int]]:
    """Check that a square grey image is ``start_resolution`` doubled k times; return the event
    shape, the start resolution, k, and the channels at each of the k + 1 resolutions (halving
    with each doubling, but not below 8)."""
    event_shape = checks.event_shape(event_shape, ndim=3)
    start = checks.positive_int(start_resolution, "start_resolution")
    side = event_shape[1]
    ratio = side // start
    if event_shape[0] != 1 or side != event_shape[2] or side % start or ratio & (ratio - 1):
        raise ValueError(
            f"event_shape must be (1, s, s) with s = start_resolution * 2**k, got {event_shape} "
            f"and start_resolution={start_resolution}"
        )
    num_growths = int(math.log2(ratio))
    return event_shape, start, num_growths, [max(width >> i, min(width, 8)) for i in range(num_growths + 1)]


class R1Penalty:
    r"""The :math:`R_1` penalty on the discriminator, applied lazily; a mix-in for a :class:`GAN`.

    .. math::

        L_D \leftarrow L_D + \frac{\gamma}{2}\,\mathbb{E}_{p_\text{data}}\big\lVert\nabla_\mathbf{x}\ell(\mathbf{x})\big\rVert^2

    pushes the discriminator's gradient on the real data to zero, which damps the oscillations
    of the non-saturating game (Mescheder et al., 2018). It is added on every ``r1_every``-th
    step only, multiplied by ``r1_every`` (StyleGAN2's lazy regularisation: the same penalty on
    average, at a fraction of the cost of the second-order gradient). The model sets
    ``r1_gamma``, ``r1_every`` and counts its steps in a buffer ``steps_done``.
    """

    def discriminator_loss(self, x, fake, c=None) -> torch.Tensor:
        """The discriminator's loss, plus the penalty on the steps that take it."""
        penalise = self.r1_gamma > 0 and int(self.steps_done) % self.r1_every == 0
        x = x.detach().requires_grad_(penalise)
        real_logits, fake_logits = self.real_and_fake_logits(x, fake)
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        if penalise:
            (grad,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)
            loss = loss + self.r1_every * self.r1_gamma / 2 * grad.pow(2).sum((1, 2, 3)).mean()
        return loss

    def real_and_fake_logits(self, x, fake) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator's logits of the real images and of the fakes (two passes)."""
        return self.discriminate(x), self.discriminate(fake)


@register("gan", "implicit")
class ProGAN(R1Penalty, GAN):
    r"""A progressively grown GAN for 1-channel square images.

    Training runs through phases of ``phase_steps`` steps each: the start resolution alone,
    then for every doubling a fade-in (:math:`\alpha` rising linearly from 0 to 1) followed by
    a stable phase at the new resolution; the last stable phase lasts until training ends.
    The model counts its own steps in a buffer, ``steps_done``, so one call of
    :func:`gdl.fit` runs the whole schedule, and a checkpoint or the cache of trained weights
    resumes it at the right stage. The real images are shown to the discriminator at the
    current resolution (average pooling), blended across a fade-in like the fakes.

    The losses are the non-saturating ones of :class:`GAN`, with the :math:`R_1` penalty of
    :class:`R1Penalty` (where the paper uses the Wasserstein loss with a gradient penalty);
    samples are always returned at full size (a model still at a low resolution is upsampled
    by repeating pixels).

    Arguments:
        event_shape: ``(1, s, s)`` with :math:`s = \text{start}\cdot 2^k`.
        num_levels: grey levels of the data.
        latent_dim: size of :math:`\mathbf{z}`.
        width: channels at the start resolution, halved at each doubling (but not below
            ``min(width, 8)``); the discriminator mirrors them.
        start_resolution: the side of the first, smallest images.
        phase_steps: training steps of each phase.
        r1_gamma: :math:`\gamma` of the :math:`R_1` penalty (0: none).
        r1_every: steps between two applications of the penalty.

    Example:
        >>> import torch
        >>> model = ProGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=4, width=4, phase_steps=2)
        >>> model.stage()
        (2, 1.0)
        >>> opt = model.configure_optimizers(1e-3)
        >>> logs = [model.train_step(torch.randint(0, 17, (8, 1, 8, 8)), opt) for _ in range(3)]
        >>> model.stage(), model.sample(2).shape
        ((4, 0.5), torch.Size([2, 1, 8, 8]))

    References:
        Karras, Aila, Laine, Lehtinen, "Progressive growing of GANs for improved quality,
        stability, and variation", ICLR 2018. https://arxiv.org/abs/1710.10196
    """

    #: Adam's betas as in Karras et al. (2018), without momentum.
    betas = (0.0, 0.99)

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        latent_dim: int = 32,
        width: int = 64,
        *,
        start_resolution: int = 2,
        phase_steps: int = 500,
        r1_gamma: float = 1.0,
        r1_every: int = 4,
    ):
        width = checks.positive_int(width, "width")
        latent_dim = checks.positive_int(latent_dim, "latent_dim")
        event_shape, start, self.num_growths, channels = _growth_plan(event_shape, start_resolution, width)
        super().__init__(
            event_shape, latent_dim, num_levels=num_levels,
            generator=ProgressiveGenerator(latent_dim, channels, start),
            discriminator=ProgressiveDiscriminator(channels, start),
        )
        self.start_resolution, self.width, self.channels = start, width, channels
        self.phase_steps = checks.positive_int(phase_steps, "phase_steps")
        self.r1_gamma = checks.number(r1_gamma, "r1_gamma", low=0.0)
        self.r1_every = checks.positive_int(r1_every, "r1_every")
        #: Training steps taken so far: the schedule's clock.
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ the schedule
    @property
    def growth_steps(self) -> int:
        """Steps until the full resolution is reached and faded in."""
        return 2 * self.num_growths * self.phase_steps

    def stage(self, step: int | None = None) -> tuple[int, float]:
        r"""``(resolution, alpha)`` at training step ``step`` (default: now).

        Phase :math:`k = \lfloor \text{step} / P\rfloor`: 0 is the start resolution; odd
        :math:`k` fade in a new doubling with :math:`\alpha = (\text{step} \bmod P)/P`; even
        :math:`k > 0` are stable (:math:`\alpha = 1`).
        """
        step = int(self.steps_done) if step is None else checks.int_at_least(step, "step", 0)
        phase = min(step // self.phase_steps, 2 * self.num_growths)
        level = (phase + 1) // 2
        alpha = (step % self.phase_steps) / self.phase_steps if phase % 2 else 1.0
        return self.start_resolution * 2**level, alpha

    def _level(self, resolution: int) -> int:
        ratio = resolution // self.start_resolution
        if resolution % self.start_resolution or ratio & (ratio - 1) or ratio > 2**self.num_growths:
            sides = [self.start_resolution * 2**k for k in range(self.num_growths + 1)]
            raise ValueError(f"resolution must be one of {sides}, got {resolution}")
        return int(math.log2(ratio))

    # ------------------------------------------------------------------ the two networks
    def generate(self, z, c=None, *, resolution: int | None = None, alpha: float | None = None):
        r""":math:`G_\alpha(\mathbf{z})` at ``resolution`` (default: the current stage's), ``(B, 1, r, r)``."""
        now, now_alpha = self.stage()
        level = self._level(now if resolution is None else resolution)
        alpha = now_alpha if alpha is None else checks.number(alpha, "alpha", low=0.0, high=1.0)
        return self.generator(self._check_codes(z), level, alpha)

    def discriminate(self, x, c=None, *, alpha: float | None = None):
        """The logit of images ``(B, 1, r, r)`` at any resolution of the schedule, shape ``(B,)``."""
        alpha = self.stage()[1] if alpha is None else alpha
        return self.discriminator(x, self._level(x.shape[-1]), alpha).squeeze(-1)

    def real_at(self, x: torch.Tensor, resolution: int, alpha: float) -> torch.Tensor:
        """Full-size real images (networks' scale) as the discriminator sees them at a stage:
        average-pooled to ``resolution``, blended with the half resolution during a fade-in."""
        y = F.adaptive_avg_pool2d(x, resolution)
        if alpha < 1:
            low = F.interpolate(F.avg_pool2d(y, 2), scale_factor=2, mode="nearest")
            y = alpha * y + (1 - alpha) * low
        return y

    def real_and_fake_logits(self, x, fake) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits of the real images and of the fakes from one pass of the discriminator
        (half the calls of two passes; :class:`MinibatchStd` keeps its groups within each half,
        so the logits are those of two separate passes). Ragged batches take two passes."""
        if len(x) % self.discriminator.minibatch_std.group_size or len(x) != len(fake):
            return super().real_and_fake_logits(x, fake)
        return self.discriminate(torch.cat([x, fake])).chunk(2)

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One discriminator and one generator update at the current stage, then the clock moves.

        Returns:
            ``{"loss": L_D, "generator": L_G, "resolution": r, "alpha": alpha}``.
        """
        opt_d, opt_g = optimizer
        x, _ = self._split(batch)
        resolution, alpha = self.stage()
        x = self.real_at(self.to_network_scale(x), resolution, alpha)
        loss_d = self.discriminator_step(x, opt_d)
        loss_g = self.generator_step(len(x), opt_g)
        self.steps_done += 1
        return {"loss": loss_d, "generator": loss_g, "resolution": float(resolution), "alpha": alpha}

    @torch.no_grad()
    def sample(self, n: int, *, resolution: int | None = None) -> torch.Tensor:
        """``n`` samples on the data's scale, full size ``(n, 1, s, s)``; with ``resolution``,
        that stage's stable output upsampled by repeating pixels."""
        n = self._check_n(n)
        alpha = None if resolution is None else 1.0
        y = self.generate(self.prior().sample((n,)), resolution=resolution, alpha=alpha)
        y = F.interpolate(y, size=self.event_shape[1:], mode="nearest")  # (n, 1, s, s)
        return self.to_data_scale(y)
