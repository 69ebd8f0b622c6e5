r"""Variational autoencoders: a Gaussian code, an encoder that guesses it, and the ELBO.

The decoder puts a categorical distribution over the ``num_levels`` grey levels of every pixel,
so :meth:`VAE.elbo` bounds the log-probability of the *discrete* image, in nats, and is
directly comparable with the exact :math:`\log p(\mathbf{x})` of the autoregressive models.

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
from torch import nn
from torch.distributions import Categorical, Independent, Normal, kl_divergence
from torch.nn import functional as F

from ..base import GenerativeModel
from ..nn import MLP
from ..taxonomy import register

__all__ = ["VAE", "BetaVAE", "HierarchicalVAE"]


def _gaussian(params: torch.Tensor) -> Independent:
    """A diagonal Gaussian from ``(..., 2 * d)`` network outputs: means, then softplus scales."""
    loc, pre_scale = params.chunk(2, dim=-1)  # (..., d) each
    # softplus keeps the scale positive without the exploding gradients of exp; the floor
    # stops log-densities from blowing up when a scale collapses.
    return Independent(Normal(loc, F.softplus(pre_scale) + 1e-4), 1)


def _mlp(in_features: int, hidden: Sequence[int], out_features: int, dropout: float) -> nn.Module:
    """An :class:`~gdl.nn.MLP` with dropout after every hidden activation."""
    layers = []
    for layer in MLP(in_features, hidden, out_features):
        layers.append(layer)
        if isinstance(layer, nn.ReLU) and dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _check_dropout(dropout: float) -> float:
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)


class _LatentModel(GenerativeModel):
    """What the VAEs share: pixel decoding, input checks and the importance-weighted bound."""

    def __init__(self, event_shape: Sequence[int], num_levels: int, latent_dim: int):
        super().__init__()
        event_shape = tuple(int(s) for s in event_shape)
        if len(event_shape) == 0 or any(s < 1 for s in event_shape):
            raise ValueError(
                f"event_shape must be a non-empty tuple of positive ints, got {event_shape}"
            )
        if num_levels < 2:
            raise ValueError(f"num_levels must be at least 2, got {num_levels}")
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.event_shape = event_shape
        self.num_levels = num_levels
        self.latent_dim = latent_dim
        self.num_dims = math.prod(event_shape)
        # The prior's parameters live in buffers so that they follow .to(device).
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def prior(self) -> Independent:
        r"""The prior :math:`p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I})` (top latent)."""
        return Independent(Normal(self.prior_loc, self.prior_scale), 1)

    def _check_data(self, x: torch.Tensor) -> torch.Tensor:
        """Raise a ValueError unless ``x`` is a batch of integer images in ``0 .. num_levels-1``."""
        self._check_event(x)
        if x.dtype.is_floating_point or x.dtype == torch.bool:
            raise ValueError(f"x must hold integer grey levels, got dtype {x.dtype}")
        if x.numel() and (x.min() < 0 or x.max() >= self.num_levels):
            raise ValueError(
                f"x must lie in 0..{self.num_levels - 1}, "
                f"got values in {x.min().item()}..{x.max().item()}"
            )
        return x

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Integer images ``(B, *event_shape)`` -> encoder inputs in [0, 1], shape ``(B, D)``."""
        return x.reshape(len(x), -1).float() / (self.num_levels - 1)

    def _pixels(self, logits: torch.Tensor) -> Independent:
        r"""The decoder :math:`p(\mathbf{x}\mid\mathbf{z})` from ``(..., D * L)`` logits."""
        logits = logits.view(*logits.shape[:-1], *self.event_shape, self.num_levels)
        # logits: (..., *event_shape, L), one categorical per pixel
        return Independent(Categorical(logits=logits), len(self.event_shape))

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
        for name, value in (("k", k), ("chunk_size", chunk_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
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
    ):
        super().__init__(event_shape, num_levels, latent_dim)
        hidden, dropout = list(hidden), _check_dropout(dropout)
        self.encoder = _mlp(self.num_dims, hidden, 2 * latent_dim, dropout)  # means, pre-scales
        self.decoder = _mlp(latent_dim, hidden[::-1], self.num_dims * num_levels, dropout)  # logits

    def encode(self, x: torch.Tensor) -> Independent:
        r"""The approximate posterior :math:`q(\mathbf{z}\mid\mathbf{x})`, batch shape ``(B,)``."""
        return _gaussian(self.encoder(self._inputs(self._check_data(x))))

    def decode(self, z: torch.Tensor) -> Independent:
        r"""The decoder :math:`p(\mathbf{x}\mid\mathbf{z})` for codes ``z``, shape ``(..., Z)``."""
        if z.shape[-1] != self.latent_dim:
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
        if not beta >= 0:
            raise ValueError(f"beta must be non-negative, got {beta!r}")
        super().__init__(**kwargs)
        self.beta = float(beta)

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
    ):
        if len(latent_dims) != 2 or any(d < 1 for d in latent_dims):
            raise ValueError(f"latent_dims must be two positive ints (z1, z2), got {latent_dims}")
        z1_dim, z2_dim = (int(d) for d in latent_dims)
        super().__init__(event_shape, num_levels, z2_dim)  # the prior N(0, I) is on z2
        self.latent_dims = (z1_dim, z2_dim)
        hidden, hidden_top, dropout = list(hidden), list(hidden_top), _check_dropout(dropout)
        self.q_z1 = _mlp(self.num_dims, hidden, 2 * z1_dim, dropout)  # q(z1 | x)
        self.q_z2 = MLP(z1_dim, hidden_top, 2 * z2_dim)  # q(z2 | z1)
        self.p_z1 = MLP(z2_dim, hidden_top[::-1], 2 * z1_dim)  # p(z1 | z2)
        self.p_x = _mlp(z1_dim, hidden[::-1], self.num_dims * num_levels, dropout)  # p(x | z1)

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
