r"""A style-based generator (StyleGAN2) at small scale.

A mapping network turns the code :math:`\mathbf{z}` into an intermediate latent
:math:`\mathbf{w} = f(\mathbf{z})`. The synthesis network starts from a learned constant, and
every convolution :math:`i` is modulated by a style :math:`\mathbf{s}_i = A_i(\mathbf{w}_i)`: the
weights are scaled per input channel and then *demodulated*, renormalised so that each output
channel has unit expected variance,

.. math::

    w'_{ojk} = s_j\, w_{ojk}, \qquad
    w''_{ojk} = \frac{w'_{ojk}}{\sqrt{\sum_{j,k} {w'_{ojk}}^2 + \epsilon}},

which replaces the adaptive instance normalisation (AdaIN) of the first StyleGAN without its
droplet artefacts. Each layer adds per-pixel noise scaled by a learned strength (the stochastic
details), and the output is the sum of upsampled ``to_rgb`` images of every resolution (skip
connections). Each example's weights differ, so the batch runs as one grouped convolution
(:func:`modulated_conv2d`).
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
from .progan import (EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm, R1Penalty, _DiscriminatorBlock,
                     _growth_plan, _lrelu)

__all__ = ["StyleGAN", "MappingNetwork", "ModulatedConv2d", "modulated_conv2d"]

NOISE_MODES = ("random", "const", "none")


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    fused: bool = True,
    eps: float = 1e-8,
) -> torch.Tensor:
    r"""A convolution whose weights each example scales by its own style, as one grouped convolution.

    Arguments:
        x: inputs ``(B, C_in, H, W)``.
        weight: shared weights ``(C_out, C_in, k, k)`` (odd ``k``, 'same' padding).
        styles: :math:`\mathbf{s}` ``(B, C_in)``, one scale per example and input channel.
        demodulate: divide each example's output channel weights by their norm (see the module
            docstring); the output then does not change when a style is multiplied by a constant.
        fused: build every example's weights and run the batch as one grouped convolution
            (``groups=B``). ``False`` computes the same thing by scaling the *inputs* by the style
            and the outputs by the demodulation factors around one shared convolution, which is
            faster for training on a CPU (StyleGAN2's own code switches the same way).
        eps: :math:`\epsilon`.

    Returns:
        ``(B, C_out, H, W)``.

    Example:
        >>> x, weight, s = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.rand(2, 3) + 0.5
        >>> y = modulated_conv2d(x, weight, s)
        >>> y.shape, torch.allclose(y, modulated_conv2d(x, weight, 7 * s), atol=1e-5)
        (torch.Size([2, 4, 5, 5]), True)
    """
    b, c_in, h, w = x.shape
    c_out, _, k, _ = weight.shape
    if not fused:
        y = F.conv2d(x * styles[:, :, None, None], weight, padding=k // 2)  # (B, C_out, H, W)
        if demodulate:
            # sum_{j,k} (s_j w_ojk)^2 = sum_j s_j^2 (sum_k w_ojk^2), for every example b and output o
            d = torch.rsqrt(styles.pow(2) @ weight.pow(2).sum((2, 3)).T + eps)  # (B, C_out)
            y = y * d[:, :, None, None]
        return y
    wts = weight[None] * styles[:, None, :, None, None]  # (B, C_out, C_in, k, k)
    if demodulate:
        wts = wts * torch.rsqrt(wts.pow(2).sum((2, 3, 4), keepdim=True) + eps)
    # The batch becomes B groups of channels: example b convolves only with its own weights.
    y = F.conv2d(x.reshape(1, b * c_in, h, w), wts.reshape(b * c_out, c_in, k, k), padding=k // 2, groups=b)
    return y.view(b, c_out, h, w)


class MappingNetwork(nn.Module):
    r""":math:`\mathbf{w} = f(\mathbf{z})`: pixel norm, then an MLP of equalized linear layers.

    It learns 100 times slower than the rest (``lr_multiplier=0.01``), as in Karras et al.
    """

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int):
        super().__init__()
        sizes = [latent_dim] + [w_dim] * num_layers
        self.norm = PixelNorm()
        self.layers = nn.ModuleList([EqualizedLinear(a, b, lr_multiplier=0.01) for a, b in zip(sizes, sizes[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.norm(z)
        for layer in self.layers:
            h = _lrelu(layer(h))
        return h


class ModulatedConv2d(nn.Module):
    r"""A convolution modulated by the style :math:`\mathbf{s} = A(\mathbf{w})` (a learned affine
    map with bias 1), demodulated unless ``demodulate=False`` (the ``to_rgb`` layers)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, *, demodulate: bool = True):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # (B, C_in)
        y = modulated_conv2d(x, self.weight * self.scale, styles, demodulate=self.demodulate, fused=not self.training)
        return y + self.bias.view(1, -1, 1, 1)


class _StyleLayer(nn.Module):
    """(Upsample,) modulated 3×3 convolution, per-pixel noise with a learned strength, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, h: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = self.conv(h, w)
        if noise_mode == "random":
            h = h + self.noise_strength * torch.randn_like(h[:, :1])  # one noise map, every channel
        elif noise_mode == "const":
            h = h + self.noise_strength * self.noise_const
        return _lrelu(h) * math.sqrt(2)


class SynthesisNetwork(nn.Module):
    """A learned ``start × start`` constant, one style layer there, two per doubling, and a
    ``to_rgb`` per resolution whose images are summed (upsampled) into the output.
    ``channels[i]`` is the number of channels at resolution ``start * 2**i``."""

    def __init__(self, w_dim: int, channels: Sequence[int], start: int):
        super().__init__()
        self.const = nn.Parameter(torch.randn(channels[0], start, start))
        layers = [_StyleLayer(channels[0], channels[0], w_dim, start, False)]
        self.rgb_after = [0]  # the index of the layer whose output (and style) each to_rgb reads
        for i in range(1, len(channels)):
            r = start * 2**i
            layers += [_StyleLayer(channels[i - 1], channels[i], w_dim, r, True),
                       _StyleLayer(channels[i], channels[i], w_dim, r, False)]
            self.rgb_after.append(len(layers) - 1)
        to_rgb = [ModulatedConv2d(c, 1, 1, w_dim, demodulate=False) for c in channels]
        self.layers, self.to_rgb = nn.ModuleList(layers), nn.ModuleList(to_rgb)

    @property
    def num_ws(self) -> int:
        return len(self.layers)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """Images ``(B, 1, s, s)`` from one :math:`\\mathbf{w}` per layer, ``ws`` ``(B, num_ws, w_dim)``."""
        h = self.const.expand(len(ws), *self.const.shape)  # (B, C, start, start)
        rgb, k = None, 0
        for i, layer in enumerate(self.layers):
            h = layer(h, ws[:, i], noise_mode)
            if i == self.rgb_after[k]:
                if rgb is not None:
                    rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
                y = self.to_rgb[k](h, ws[:, i])
                rgb, k = y if rgb is None else rgb + y, k + 1
        return rgb


class _Discriminator(nn.Module):
    """``from_rgb``, one halving block per doubling, minibatch std, a 3×3 convolution, two dense
    layers; ``channels`` as for the synthesis network, read from the top resolution down."""

    def __init__(self, channels: Sequence[int], start: int):
        super().__init__()
        self.from_rgb = EqualizedConv2d(1, channels[-1], 1)
        self.blocks = nn.Sequential(*[_DiscriminatorBlock(channels[i], channels[i - 1])
                                      for i in reversed(range(1, len(channels)))])
        self.minibatch_std = MinibatchStd()
        self.conv = EqualizedConv2d(channels[0] + 1, channels[0])
        self.dense = EqualizedLinear(channels[0] * start * start, channels[0])
        self.out = EqualizedLinear(channels[0], 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(_lrelu(self.from_rgb(x)))  # (B, C, start, start)
        h = _lrelu(self.conv(self.minibatch_std(h)))
        return self.out(_lrelu(self.dense(h.flatten(1))))


@register("gan", "implicit")
class StyleGAN(R1Penalty, GAN):
    r"""A style-based generator (StyleGAN2) for 1-channel square images.

    :math:`\mathbf{w} = f(\mathbf{z})` feeds every layer of the synthesis network (see the module
    docstring). During training, with probability ``mixing_prob`` a second code takes over from
    a random layer on (*style mixing*), so neighbouring layers cannot rely on sharing one
    :math:`\mathbf{w}`, and the model tracks the mean :math:`\bar{\mathbf{w}}` (an exponential
    average; :meth:`estimate_w_avg` computes it afresh for the weights the model holds, e.g. an
    average of its weights after ``gdl.fit(..., ema=)``). Sampling can *truncate* towards it,

    .. math::

        \mathbf{w}' = \bar{\mathbf{w}} + \psi\,(\mathbf{w} - \bar{\mathbf{w}}),

    trading variety (:math:`\psi \to 0`: every sample is the mean image) for typicality. The
    losses are the non-saturating ones of :class:`GAN`, with the lazy :math:`R_1` penalty of
    :class:`~gdl.gan.progan.R1Penalty` on the discriminator.

    Arguments:
        event_shape: ``(1, s, s)`` with :math:`s = \text{start}\cdot 2^k`, e.g. ``(1, 28, 28)``.
        num_levels: grey levels of the data.
        latent_dim: size of :math:`\mathbf{z}` and of :math:`\mathbf{w}`.
        width: channels at the start resolution, halved at each doubling (but not below
            ``min(width, 8)``); the discriminator mirrors them.
        start_resolution: side of the learned constant (7 for 28×28 images).
        mapping_layers: layers of the mapping network.
        mixing_prob: probability of style mixing in a training batch.
        r1_gamma: :math:`\gamma` of the :math:`R_1` penalty (0: none).
        r1_every: steps between two applications of the penalty.
        w_avg_beta: decay of the running mean :math:`\bar{\mathbf{w}}`.

    Example:
        >>> import torch
        >>> model = StyleGAN(event_shape=(1, 8, 8), num_levels=4, latent_dim=4, width=4, start_resolution=4)
        >>> x = model.sample(3, psi=0.0, noise_mode="const")
        >>> x.shape, torch.allclose(x, x[0].expand_as(x), atol=1e-5)
        (torch.Size([3, 1, 8, 8]), True)

    References:
        Karras, Laine, Aila, "A style-based generator architecture for generative adversarial
        networks", CVPR 2019. https://arxiv.org/abs/1812.04948

        Karras et al., "Analyzing and improving the image quality of StyleGAN", CVPR 2020.
        https://arxiv.org/abs/1912.04958
    """

    #: Adam's betas as in Karras et al. (2020).
    betas = (0.0, 0.99)

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 28, 28),
        num_levels: int = 4,
        latent_dim: int = 32,
        width: int = 32,
        *,
        start_resolution: int = 7,
        mapping_layers: int = 4,
        mixing_prob: float = 0.9,
        r1_gamma: float = 0.1,
        r1_every: int = 4,
        w_avg_beta: float = 0.995,
    ):
        latent_dim = checks.positive_int(latent_dim, "latent_dim")
        width = checks.positive_int(width, "width")
        event_shape, start, num_growths, channels = _growth_plan(event_shape, start_resolution, width)
        super().__init__(
            event_shape, latent_dim, num_levels=num_levels,
            generator=nn.ModuleDict({
                "mapping": MappingNetwork(latent_dim, latent_dim, checks.positive_int(mapping_layers, "mapping_layers")),
                "synthesis": SynthesisNetwork(latent_dim, channels, start),
            }),
            discriminator=_Discriminator(channels, start),
        )
        self.width, self.channels, self.start_resolution = width, channels, start
        self.mixing_prob = checks.number(mixing_prob, "mixing_prob", low=0.0, high=1.0)
        self.r1_gamma = checks.number(r1_gamma, "r1_gamma", low=0.0)
        self.r1_every = checks.positive_int(r1_every, "r1_every")
        self.w_avg_beta = checks.number(w_avg_beta, "w_avg_beta", low=0.0, high=1.0)
        self.register_buffer("w_avg", torch.zeros(latent_dim))
        #: Training steps taken so far (the clock of the lazy :math:`R_1` penalty).
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    @property
    def num_ws(self) -> int:
        """How many layers take a :math:`\\mathbf{w}` (coarse first)."""
        return self.generator["synthesis"].num_ws

    # ------------------------------------------------------------------ W space
    def mapping(self, z: torch.Tensor, *, psi: float = 1.0) -> torch.Tensor:
        r""":math:`\mathbf{w} = f(\mathbf{z})`, truncated towards :math:`\bar{\mathbf{w}}` by ``psi``, ``(B, w_dim)``."""
        psi = checks.number(psi, "psi", low=0.0)
        w = self.generator["mapping"](self._check_codes(z))
        return self.w_avg + psi * (w - self.w_avg) if psi != 1 else w

    @torch.no_grad()
    def estimate_w_avg(self, num_codes: int = 10_000, *, seed: int = 0) -> torch.Tensor:
        r"""Set :math:`\bar{\mathbf{w}}` to :math:`\frac{1}{n}\sum_i f(\mathbf{z}_i)` over ``num_codes``
        fresh codes, with the mapping network the model holds now; return it.

        The average tracked during training follows the live weights and starts at zero (with
        ``w_avg_beta=0.995`` it still holds :math:`0.995^{250} \approx 0.29` of that zero after
        250 steps); a model that samples from an average of its weights (``gdl.fit(..., ema=)``)
        should truncate towards the centre of *those* weights. The codes come from their own
        generator, seeded by ``seed``: the global random state is left untouched.

        Example:
            >>> model = StyleGAN(event_shape=(1, 8, 8), num_levels=4, latent_dim=4, width=4, start_resolution=4)
            >>> w_avg = model.estimate_w_avg(2000)
            >>> torch.equal(w_avg, model.w_avg), bool(model.w_avg.abs().sum() > 0)
            (True, True)
        """
        num_codes = checks.positive_int(num_codes, "num_codes")
        generator = torch.Generator().manual_seed(checks.int_at_least(seed, "seed", 0))
        z = torch.randn(num_codes, self.latent_dim, generator=generator).to(self.w_avg)
        self.w_avg.copy_(self.generator["mapping"](z).mean(0))
        return self.w_avg

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """One :math:`\\mathbf{w}` ``(B, w_dim)`` for every layer: ``(B, num_ws, w_dim)``."""
        return w[:, None].expand(-1, self.num_ws, -1)

    def mix(self, w_coarse: torch.Tensor, w_fine: torch.Tensor, crossover: int) -> torch.Tensor:
        """Per-layer codes ``(B, num_ws, w_dim)``: ``w_coarse`` for the layers before ``crossover``,
        ``w_fine`` from it on (both ``(B, w_dim)``)."""
        crossover = checks.int_at_least(crossover, "crossover", 0)
        if crossover > self.num_ws:
            raise ValueError(f"crossover must be at most num_ws={self.num_ws}, got {crossover}")
        ws = self.broadcast(w_coarse).clone()
        ws[:, crossover:] = w_fine[:, None]
        return ws

    def synthesize(self, ws: torch.Tensor, *, noise_mode: str = "random") -> torch.Tensor:
        """Images on the networks' scale from per-layer codes ``ws`` ``(B, num_ws, w_dim)``.

        ``noise_mode``: ``"random"`` fresh noise, ``"const"`` the noise maps fixed at
        initialisation, ``"none"`` no noise."""
        checks.one_of(noise_mode, "noise_mode", NOISE_MODES)
        ws = checks.batch(ws, (self.num_ws, self.latent_dim), "ws").to(self._dtype())
        return self.generator["synthesis"](ws, noise_mode)

    def generate(self, z, c=None):
        r""":math:`G(\mathbf{z})` on the networks' scale; in training mode with style mixing, and
        updating :math:`\bar{\mathbf{w}}`."""
        w = self.mapping(z)
        ws = self.broadcast(w)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1 - self.w_avg_beta)
            if self.mixing_prob and torch.rand(()) < self.mixing_prob:
                crossover = int(torch.randint(1, self.num_ws, ()))
                ws = self.mix(w, self.mapping(self.prior().sample((len(w),))), crossover)
        return self.synthesize(ws)

    # ------------------------------------------------------------------ losses
    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One discriminator and one generator update (see :class:`GAN`), then the clock moves."""
        logs = super().train_step(batch, optimizer)
        self.steps_done += 1
        return logs

    @torch.no_grad()
    def sample(self, n: int, *, psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        """``n`` samples on the data's scale, truncated by ``psi`` (1: none)."""
        n = self._check_n(n)
        with self._generator_in_eval_mode():
            w = self.mapping(self.prior().sample((n,)), psi=psi)
            return self.to_data_scale(self.synthesize(self.broadcast(w), noise_mode=noise_mode))
