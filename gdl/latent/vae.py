r"""Variational autoencoders: a Gaussian code, an encoder that guesses it, and the ELBO.

The decoder puts a categorical distribution over the ``num_levels`` grey levels of every pixel,
so :meth:`VAE.elbo` bounds the log-probability of the *discrete* image, in nats, and is
directly comparable with the exact :math:`\log p(\mathbf{x})` of the autoregressive models.
That categorical has either free logits (``decoder="categorical"``) or the masses of a
discretised mixture of logistics (``decoder="logistic"``, :class:`DiscretizedLogisticMixture`),
which knows that neighbouring grey levels are alike and overfits less on small data sets.

Example:
    >>> import torch
    >>> model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
    >>> x = torch.randint(0, 3, (5, 1, 4, 4))
    >>> model.elbo(x).shape, model.sample(2).shape
    (torch.Size([5]), torch.Size([2, 1, 4, 4]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    Normal,
    constraints,
    kl_divergence,
)
from torch.distributions.utils import lazy_property
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import MLP
from ..taxonomy import register

__all__ = [
    "VAE", "BetaVAE", "HierarchicalVAE", "DiscretizedLogisticMixture"
]

#: Pixel decoders: name -> number of network outputs per pixel (given levels L, mixtures M).
DECODERS = {"categorical": lambda L, M: L, "logistic": lambda L, M: 3 * M}


class DiscretizedLogisticMixture(Distribution):
    r"""A distribution over the grey levels ``0 .. L-1`` from a mixture of logistics.

    Each of :math:`M` components is a logistic with location :math:`\mu_m` and scale
    :math:`s_m` on the level axis; level :math:`k` receives the mass of its bin
    :math:`[k - \tfrac12, k + \tfrac12]`, with the outer bins stretched to :math:`\pm\infty` so
    the masses sum to one:

    .. math::

        P(k) = \sum_{m=1}^{M} \pi_m \Big[\sigma\Big(\frac{k + \frac12 - \mu_m}{s_m}\Big)
        - \sigma\Big(\frac{k - \frac12 - \mu_m}{s_m}\Big)\Big].

    :meth:`log_prob` evaluates only the bin of each observed level, which is what the ELBO
    and the importance weights need; ``probs`` evaluates all :math:`L` bins, for sampling.

    Arguments:
        params: ``(..., 3, M)``: mixture logits, locations (offset from the middle level) and
            log-scales of the :math:`M` components.
        num_levels: the number of levels :math:`L`.

    Example:
        >>> p = DiscretizedLogisticMixture(torch.zeros(5, 3, 2), num_levels=17)
        >>> round(p.probs.sum(-1)[0].item(), 5), p.mode[0].item(), p.sample().shape
        (1.0, 8, torch.Size([5]))

    References:
        Salimans, Karpathy, Chen and Kingma, *PixelCNN++*, ICLR 2017.
        https://arxiv.org/abs/1701.05517
    """

    arg_constraints: dict = {}

    def __init__(self, params: torch.Tensor, num_levels: int):
        if params.dim() < 2 or params.shape[-2] != 3:
            raise ValueError(f"params must have shape (..., 3, M), got {tuple(params.shape)}")
        self.num_levels = int(num_levels)
        logit_pi, loc, log_scale = params.unbind(-2)  # (..., M) each
        self.log_weights = F.log_softmax(logit_pi, -1)
        self.loc = loc + (num_levels - 1) / 2  # every component starts mid-range
        self.inv_scale = torch.exp(-log_scale.clamp(min=-7.0))
        super().__init__(batch_shape=params.shape[:-2], validate_args=False)

    @property
    def support(self):
        return constraints.integer_interval(0, self.num_levels - 1)

    def _cdf(self, v: torch.Tensor) -> torch.Tensor:
        """Each component's CDF at ``v`` (broadcast against the batch), shape ``(..., M)``."""
        return torch.sigmoid((v[..., None] - self.loc) * self.inv_scale)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        k = value.to(self.loc.dtype)
        upper = torch.where(k[..., None] >= self.num_levels - 1, 1.0, self._cdf(k + 0.5))
        lower = torch.where(k[..., None] <= 0, 0.0, self._cdf(k - 0.5))
        mass = ((upper - lower) * self.log_weights.exp()).sum(-1)  # mixture mass of the bin
        return torch.log(mass.clamp(min=1e-12))

    @lazy_property
    def probs(self) -> torch.Tensor:
        """The masses of all levels, shape ``(..., L)``."""
        edges = torch.arange(self.num_levels - 1, dtype=self.loc.dtype, device=self.loc.device)
        cdf = self._cdf(edges.view(-1, *[1] * len(self.batch_shape)) + 0.5)  # (L-1, ..., M)
        cdf = torch.movedim(cdf, 0, -2)  # (..., L-1, M)
        cdf = torch.cat([torch.zeros_like(cdf[..., :1, :]), cdf, torch.ones_like(cdf[..., :1, :])], -2)
        mass = cdf.diff(dim=-2)  # (..., L, M): each component's mass per bin, summing to 1
        return (mass * self.log_weights.exp()[..., None, :]).sum(-1)  # (..., L)

    @property
    def mode(self) -> torch.Tensor:
        return self.probs.argmax(-1)

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            return Categorical(probs=self.probs).sample(sample_shape)


def _gaussian(params: torch.Tensor) -> Independent:
    """A diagonal Gaussian from ``(..., 2 * d)`` network outputs: means, then softplus scales."""
    loc, pre_scale = params.chunk(2, dim=-1)  # (..., d) each
    # softplus keeps the scale positive without the exploding gradients of exp; the floor
    # stops log-densities from blowing up when a scale collapses.
    return Independent(Normal(loc, F.softplus(pre_scale) + 1e-4), 1)


class _LatentModel(GenerativeModel):
    """What the VAEs share: pixel decoding, input checks and the importance-weighted bound."""

    def __init__(
        self,
        event_shape: Sequence[int],
        num_levels: int,
        latent_dim: int,
        decoder: str = "categorical",
        num_mixtures: int = 3,
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.num_levels = checks.num_levels(num_levels)
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.decoder_kind = checks.one_of(decoder, "decoder", DECODERS)
        self.num_mixtures = checks.positive_int(num_mixtures, "num_mixtures")
        #: network outputs per pixel of the decoder
        self.pixel_params = DECODERS[decoder](num_levels, num_mixtures)
        self.num_dims = math.prod(self.event_shape)
        # The prior's parameters live in buffers so that they follow .to(device).
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def prior(self) -> Independent:
        r"""The prior :math:`p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I})` (top latent)."""
        return Independent(Normal(self.prior_loc, self.prior_scale), 1)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Integer images ``(B, *event_shape)`` -> encoder inputs in [0, 1], shape ``(B, D)``."""
        return x.reshape(len(x), -1).to(self.prior_loc.dtype) / (self.num_levels - 1)

    def _pixels(self, out: torch.Tensor) -> Independent:
        r"""The decoder :math:`p(\mathbf{x}\mid\mathbf{z})` from ``(..., D * pixel_params)`` outputs."""
        out = out.view(*out.shape[:-1], *self.event_shape, self.pixel_params)
        if self.decoder_kind == "categorical":
            pixels = Categorical(logits=out)  # (..., *event_shape) categoricals over L levels
        else:
            params = out.view(*out.shape[:-1], 3, self.num_mixtures)  # (..., *event_shape, 3, M)
            pixels = DiscretizedLogisticMixture(params, self.num_levels)
        return Independent(pixels, len(self.event_shape))

    def _log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``k`` log importance weights per example, shape ``(k, B)``."""
        raise NotImplementedError

    @torch.no_grad()
    def iwae_bound(self, x: torch.Tensor, k: int = 100, chunk_size: int = 100) -> torch.Tensor:
        r"""The importance-weighted bound :math:`\mathcal{L}_k \le \log p(\mathbf{x})` per example.

        .. math::

            \mathcal{L}_k = \mathbb{E}\Big[\log \frac{1}{k}\sum_{i=1}^{k}
            \frac{p(\mathbf{x}, \mathbf{z}_i)}{q(\mathbf{z}_i \mid \mathbf{x})}\Big],
            \quad \mathbf{z}_i \sim q(\mathbf{z}\mid\mathbf{x}).

        :math:`\mathcal{L}_1` is the ELBO, :math:`\mathcal{L}_k` never decreases with :math:`k`
        and tends to :math:`\log p(\mathbf{x})` as :math:`k \to \infty` (Burda et al., 2016).
        The weights are drawn ``chunk_size`` at a time, so memory does not grow with ``k``.

        Arguments:
            x: integer images, shape ``(B, *event_shape)``.
            k: number of importance samples.
            chunk_size: samples drawn at once.

        Returns:
            A one-sample estimate of :math:`\mathcal{L}_k` in nats, shape ``(B,)``.

        References:
            Burda, Grosse and Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.
            https://arxiv.org/abs/1509.00519
        """
        k = checks.positive_int(k, "k")
        chunk_size = checks.positive_int(chunk_size, "chunk_size")
        self._check_data(x)
        log_w = torch.cat(
            [self._log_weights(x, min(chunk_size, k - i)) for i in range(0, k, chunk_size)]
        )  # (k, B)
        return torch.logsumexp(log_w, dim=0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, *, mode: bool = False) -> torch.Tensor:
        r"""Draw ``z`` from the prior and decode it.

        Arguments:
            n: number of images.
            mode: if ``False`` (default), a sample of :math:`p(\mathbf{x}\mid\mathbf{z})`, so
                each pixel is drawn independently given ``z``; if ``True``, its most likely value
                per pixel (smoother images, but not samples of the model).

        Returns:
            Integer images, shape ``(n, *event_shape)``.
        """
        self._check_n(n)
        z = self.prior().sample((n,))  # (n, Z)
        px = self._decode_top(z)
        return px.mode if mode else px.sample()

    def _decode_top(self, z: torch.Tensor) -> Independent:
        raise NotImplementedError


@register("latent")
class VAE(_LatentModel):
    r"""A variational autoencoder with a Gaussian code and a categorical pixel decoder.

    .. math::

        p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I}),\quad
        q(\mathbf{z}\mid\mathbf{x}) = \mathcal{N}(\boldsymbol\mu(\mathbf{x}),
        \operatorname{diag}\boldsymbol\sigma^2(\mathbf{x})),\quad
        p(\mathbf{x}\mid\mathbf{z}) = \prod_{i=1}^{D} \operatorname{Cat}(x_i \mid
        \boldsymbol\pi_i(\mathbf{z})),

    trained by maximising the evidence lower bound

    .. math::

        \mathcal{L}(\mathbf{x}) = \mathbb{E}_{q(\mathbf{z}\mid\mathbf{x})}
        [\log p(\mathbf{x}\mid\mathbf{z})]
        - \mathrm{KL}(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z}))
        \;\le\; \log p(\mathbf{x}).

    The expectation is estimated with one reparameterised sample
    :math:`\mathbf{z} = \boldsymbol\mu + \boldsymbol\sigma \odot \boldsymbol\epsilon`; the KL
    between the two Gaussians is exact.

    Arguments:
        event_shape: shape of one image, e.g. ``(1, 8, 8)``.
        num_levels: grey levels per pixel; data are integers in ``0 .. num_levels - 1``.
        latent_dim: size of :math:`\mathbf{z}`.
        hidden: hidden sizes of the encoder MLP; the decoder mirrors them.
        dropout: dropout rate after every hidden layer, a regulariser for small data sets
            (off in ``eval()`` mode, where bounds should be computed).
        decoder: ``"categorical"`` (free logits per level) or ``"logistic"`` (a discretised
            mixture of logistics per pixel, see :class:`DiscretizedLogisticMixture`).
        num_mixtures: logistic components per pixel when ``decoder="logistic"``.

    Example:
        >>> import torch
        >>> model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
        >>> x = torch.randint(0, 3, (5, 1, 4, 4))
        >>> bool((model.iwae_bound(x, k=10) <= 0).all())
        True

    References:
        Kingma and Welling, *Auto-Encoding Variational Bayes*, ICLR 2014.
        https://arxiv.org/abs/1312.6114 ;
        Rezende, Mohamed and Wierstra, *Stochastic Backpropagation and Approximate Inference
        in Deep Generative Models*, ICML 2014. https://arxiv.org/abs/1401.4082
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        decoder: str = "categorical",
        num_mixtures: int = 3,
    ):
        super().__init__(event_shape, num_levels, latent_dim, decoder, num_mixtures)
        hidden = checks.ints(hidden, "hidden")
        self.encoder = MLP(self.num_dims, hidden, 2 * latent_dim, dropout=dropout)  # means, pre-scales
        # outputs per pixel: L logits, or 3 M mixture parameters
        self.decoder = MLP(latent_dim, hidden[::-1], self.num_dims * self.pixel_params, dropout=dropout)

    def encode(self, x: torch.Tensor) -> Independent:
        r"""The approximate posterior :math:`q(\mathbf{z}\mid\mathbf{x})`, batch shape ``(B,)``."""
        return _gaussian(self.encoder(self._inputs(self._check_data(x))))

    def decode(self, z: torch.Tensor) -> Independent:
        r"""The decoder :math:`p(\mathbf{x}\mid\mathbf{z})` for codes ``z``, shape ``(..., Z)``."""
        if checks.tensor(z, "z").shape[-1] != self.latent_dim:
            raise ValueError(
                f"z must have last dimension latent_dim={self.latent_dim}, got {tuple(z.shape)}"
            )
        return self._pixels(self.decoder(z))

    def _decode_top(self, z: torch.Tensor) -> Independent:
        return self.decode(z)

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The two terms of the ELBO: reconstruction :math:`\log p(\mathbf{x}\mid\mathbf{z})`
        with one reparameterised :math:`\mathbf{z}\sim q`, and the analytic
        :math:`\mathrm{KL}(q(\mathbf{z}\mid\mathbf{x})\Vert p(\mathbf{z}))`; each of shape ``(B,)``.
        """
        q = self.encode(x)
        z = q.rsample()  # (B, Z): mu + sigma * eps, so gradients reach the encoder
        reconstruction = self.decode(z).log_prob(x)  # (B,)
        kl = kl_divergence(q, self.prior())  # (B,)
        return reconstruction, kl

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""One-sample estimate of the ELBO :math:`\le \log p(\mathbf{x})`, nats, shape ``(B,)``.

        Arguments:
            x: integer images, shape ``(B, *event_shape)``.
        """
        reconstruction, kl = self.elbo_terms(x)
        return reconstruction - kl

    def _log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        q = self.encode(x)
        z = q.sample((k,))  # (k, B, Z)
        return self.prior().log_prob(z) + self.decode(z).log_prob(x) - q.log_prob(z)  # (k, B)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode to the posterior mean and decode to the most likely image, shape of ``x``."""
        return self.decode(self.encode(x).mean).mode


@register("latent")
class BetaVAE(VAE):
    r"""A VAE whose training loss weights the KL term by :math:`\beta`.

    .. math::

        \text{loss}(\mathbf{x}) = -\mathbb{E}_{q}[\log p(\mathbf{x}\mid\mathbf{z})]
        + \beta\, \mathrm{KL}(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z})).

    :math:`\beta > 1` presses the code towards the factorised prior, which tends to give
    disentangled latents at the price of blurrier reconstructions. Only the *loss* changes:
    :meth:`elbo` is still the true ELBO (:math:`\beta = 1`), so it remains a lower bound on
    :math:`\log p(\mathbf{x})` and compares fairly with other models.

    Arguments:
        beta: weight of the KL term in the loss, non-negative.
        **kwargs: as for :class:`VAE`.

    Example:
        >>> import torch
        >>> model = BetaVAE(beta=4.0, event_shape=(1, 4, 4), num_levels=3, latent_dim=2)
        >>> model.loss(torch.randint(0, 3, (5, 1, 4, 4))).dim()
        0

    References:
        Higgins et al., *beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
        Framework*, ICLR 2017. https://openreview.net/forum?id=Sy2fzU9gl
    """

    def __init__(self, beta: float = 4.0, **kwargs):
        beta = checks.number(beta, "beta", low=0.0)
        super().__init__(**kwargs)
        self.beta = beta

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        reconstruction, kl = self.elbo_terms(x)
        return -(reconstruction - self.beta * kl).mean()


@register("latent")
class HierarchicalVAE(_LatentModel):
    r"""Two stochastic layers: :math:`\mathbf{z}_1` near the data, :math:`\mathbf{z}_2` on top.

    .. math::

        p(\mathbf{x}, \mathbf{z}_1, \mathbf{z}_2) = p(\mathbf{z}_2)\,
        p(\mathbf{z}_1\mid\mathbf{z}_2)\,
        p(\mathbf{x}\mid\mathbf{z}_1),\qquad
        q(\mathbf{z}_1, \mathbf{z}_2\mid\mathbf{x}) = q(\mathbf{z}_1\mid\mathbf{x})\,
        q(\mathbf{z}_2\mid\mathbf{z}_1),

    with Gaussian conditionals and a categorical pixel decoder. The ELBO

    .. math::

        \mathcal{L} = \mathbb{E}_q\big[\log p(\mathbf{x}\mid\mathbf{z}_1)
        + \log p(\mathbf{z}_1\mid\mathbf{z}_2) - \log q(\mathbf{z}_1\mid\mathbf{x})\big]
        - \mathbb{E}_{q(\mathbf{z}_1\mid\mathbf{x})}
        \mathrm{KL}(q(\mathbf{z}_2\mid\mathbf{z}_1) \,\Vert\, p(\mathbf{z}_2))

    uses the exact KL at the top, where both are Gaussians of known parameters, and a
    Monte Carlo estimate for :math:`\mathbf{z}_1`, whose prior depends on the sampled
    :math:`\mathbf{z}_2`.

    Arguments:
        event_shape: shape of one image.
        num_levels: grey levels per pixel.
        latent_dims: sizes of :math:`\mathbf{z}_1` and :math:`\mathbf{z}_2`.
        hidden: hidden sizes of the data-side MLPs (x → z1 and z1 → x).
        hidden_top: hidden sizes of the MLPs between z1 and z2.
        dropout: dropout rate after every hidden layer of the data-side MLPs.
        decoder: ``"categorical"`` or ``"logistic"``, as for :class:`VAE`.
        num_mixtures: logistic components per pixel when ``decoder="logistic"``.

    Example:
        >>> import torch
        >>> model = HierarchicalVAE(event_shape=(1, 4, 4), num_levels=3, latent_dims=(4, 2))
        >>> model.elbo(torch.randint(0, 3, (5, 1, 4, 4))).shape
        torch.Size([5])

    References:
        Rezende, Mohamed and Wierstra, ICML 2014 (stacked stochastic layers);
        Burda, Grosse and Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        latent_dims: Sequence[int] = (32, 8),
        hidden: Sequence[int] = (256, 256),
        hidden_top: Sequence[int] = (64,),
        dropout: float = 0.0,
        decoder: str = "categorical",
        num_mixtures: int = 3,
    ):
        z1_dim, z2_dim = checks.event_shape(latent_dims, "latent_dims", ndim=2)
        super().__init__(event_shape, num_levels, z2_dim, decoder, num_mixtures)  # prior on z2
        self.latent_dims = (z1_dim, z2_dim)
        hidden, hidden_top = checks.ints(hidden, "hidden"), checks.ints(hidden_top, "hidden_top")
        self.q_z1 = MLP(self.num_dims, hidden, 2 * z1_dim, dropout=dropout)  # q(z1 | x)
        self.q_z2 = MLP(z1_dim, hidden_top, 2 * z2_dim)  # q(z2 | z1)
        self.p_z1 = MLP(z2_dim, hidden_top[::-1], 2 * z1_dim)  # p(z1 | z2)
        self.p_x = MLP(z1_dim, hidden[::-1], self.num_dims * self.pixel_params, dropout=dropout)  # p(x|z1)

    def encode(self, x: torch.Tensor) -> Independent:
        r""":math:`q(\mathbf{z}_1\mid\mathbf{x})`, batch shape ``(B,)``."""
        return _gaussian(self.q_z1(self._inputs(self._check_data(x))))

    def decode(self, z1: torch.Tensor) -> Independent:
        r""":math:`p(\mathbf{x}\mid\mathbf{z}_1)` for ``z1`` of shape ``(..., Z1)``."""
        return self._pixels(self.p_x(z1))

    def _decode_top(self, z2: torch.Tensor) -> Independent:
        z1 = _gaussian(self.p_z1(z2)).sample()  # ancestral: z2 -> z1 -> x
        return self.decode(z1)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""One-sample estimate of the ELBO :math:`\le \log p(\mathbf{x})`, nats, shape ``(B,)``."""
        q1 = self.encode(x)
        z1 = q1.rsample()  # (B, Z1)
        q2 = _gaussian(self.q_z2(z1))
        z2 = q2.rsample()  # (B, Z2)
        p1 = _gaussian(self.p_z1(z2))
        kl_z1 = q1.log_prob(z1) - p1.log_prob(z1)  # Monte Carlo: p(z1 | z2) depends on z2
        kl_z2 = kl_divergence(q2, self.prior())  # exact
        return self.decode(z1).log_prob(x) - kl_z1 - kl_z2

    def _log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        q1 = self.encode(x)
        z1 = q1.sample((k,))  # (k, B, Z1)
        q2 = _gaussian(self.q_z2(z1))
        z2 = q2.sample()  # (k, B, Z2)
        log_p = self.prior().log_prob(z2) + _gaussian(self.p_z1(z2)).log_prob(z1)
        log_p = log_p + self.decode(z1).log_prob(x)
        return log_p - q1.log_prob(z1) - q2.log_prob(z2)  # (k, B)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        r"""Decode the mean of :math:`q(\mathbf{z}_1\mid\mathbf{x})` to the most likely image."""
        return self.decode(self.encode(x).mean).mode
