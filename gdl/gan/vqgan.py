r"""VQ-GAN: a VQ-VAE sharpened by a patch discriminator and a perceptual loss, with a GPT over its codes.

A :class:`~gdl.latent.VQVAE` trained on the likelihood of each pixel alone averages over what it
cannot pin down, and its reconstructions blur. VQ-GAN (Esser, Rombach and Ommer, 2021) keeps the
same encoder, codebook and decoder and adds two terms to the reconstruction loss: a *perceptual*
distance between the features a trained classifier extracts from the image and from its
reconstruction, and an *adversarial* term from a discriminator that judges overlapping patches
(a PatchGAN, Isola et al. 2017) with the hinge loss. The adversarial term is scaled by an
adaptive weight, so that at the decoder's last layer its gradient is as large as the
reconstruction's, and it is switched on only after a warm-up. A transformer
(:class:`~gdl.autoregressive.GPT`) over the raster-ordered code grid is then the prior.

The classifier is gdl's own (:class:`gdl.quality.FeatureClassifier`), not a VGG network, so
nothing is downloaded.

Example:
    >>> import torch
    >>> from gdl.latent import VQVAE
    >>> vqvae = VQVAE(event_shape=(1, 8, 8), num_levels=4, num_codes=8, code_dim=4, hidden=8,
    ...               prior_hidden=4, prior_blocks=1)
    >>> model = VQGAN(vqvae, disc_start=0, disc_hidden=8)
    >>> logs = model.train_step(torch.randint(0, 4, (16, 1, 8, 8)), model.configure_optimizers(1e-3))
    >>> sorted(logs)
    ['adaptive_weight', 'generator', 'loss', 'perceptual', 'reconstruction']
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Independent

from .. import _checks as checks
from ..autoregressive import GPT
from ..base import GenerativeModel
from ..latent import VQVAE
from ..taxonomy import register

__all__ = ["PatchDiscriminator", "perceptual_distance", "adaptive_weight", "VQGAN"]


class PatchDiscriminator(nn.Module):
    r"""A fully convolutional discriminator that scores each overlapping patch, not the image.

    Two stride-2 4×4 convolutions and a 3×3 one map a ``(B, 1, H, W)`` image to a grid of
    logits ``(B, 1, H/4, W/4)``; each logit sees a patch of the image (its receptive field,
    here 16×16 pixels), so the discriminator judges local texture and sharpness and leaves the
    global layout to the reconstruction loss.

    Arguments:
        hidden: channels of the first convolution (the second has twice as many).

    References:
        Isola, Zhu, Zhou and Efros, *Image-to-Image Translation with Conditional Adversarial
        Networks*, 2017, https://arxiv.org/abs/1611.07004.
    """

    def __init__(self, hidden: int = 32):
        super().__init__()
        hidden = checks.positive_int(hidden, "disc_hidden")
        self.net = nn.Sequential(
            nn.Conv2d(1, hidden, 4, stride=2, padding=1),  # (B, hidden, H/2, W/2)
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, 2 * hidden, 4, stride=2, padding=1),  # (B, 2 hidden, H/4, W/4)
            nn.LeakyReLU(0.2),
            # No bias: under the hinge loss, with as many fake patches as real ones inside the
            # margin, a shared offset gets equal and opposite gradients and never trains.
            nn.Conv2d(2 * hidden, 1, 3, padding=1, bias=False),  # (B, 1, H/4, W/4): a logit per patch
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits ``(B, 1, H/4, W/4)`` of images ``(B, 1, H, W)`` in :math:`[-1, 1]`."""
        return self.net(x)


def perceptual_distance(network: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""A learned perceptual distance (LPIPS without the learned weights) between two image batches.

    The feature maps after each ReLU of the convolutional part of ``network.body`` (the layers
    before its first ``Flatten``) are normalised to unit length along the
    channels, then compared:

    .. math::

        d(x, y) = \sum_\ell \frac{1}{H_\ell W_\ell} \sum_{h, w}
        \big\lVert \hat\phi_\ell(x)_{hw} - \hat\phi_\ell(y)_{hw} \big\rVert^2,
        \qquad \hat\phi = \phi / \lVert \phi \rVert .

    Arguments:
        network: a module with a ``body`` :class:`~torch.nn.Sequential` (for instance a
            :class:`gdl.quality.FeatureClassifier`); its weights are not changed.
        x, y: images ``(B, 1, H, W)`` in :math:`[0, 1]`; gradients flow to both.

    Returns:
        ``(B,)``, between 0 and 4 per layer.

    References:
        Zhang, Isola, Efros, Shechtman and Wang, *The Unreasonable Effectiveness of Deep Features
        as a Perceptual Metric*, 2018, https://arxiv.org/abs/1801.03924.
    """
    d = torch.zeros(len(x), device=x.device)
    for layer in network.body:
        if isinstance(layer, nn.Flatten):
            break  # feature maps only, as LPIPS: not the classifier's pooled features
        x, y = layer(x), layer(y)
        if isinstance(layer, nn.ReLU):
            fx = F.normalize(x, dim=1, eps=1e-8)  # (B, C, h, w): unit length over the channels
            fy = F.normalize(y, dim=1, eps=1e-8)
            d = d + (fx - fy).pow(2).sum(1).flatten(1).mean(1)  # (B,): mean over positions
    return d


def adaptive_weight(
    loss_rec: torch.Tensor, loss_gan: torch.Tensor, last_layer: torch.Tensor, delta: float = 1e-4
) -> torch.Tensor:
    r"""The weight that balances the adversarial gradient against the reconstruction gradient.

    .. math::

        \lambda = \frac{\lVert \nabla_{w_L} \mathcal{L}_\text{rec} \rVert}
        {\lVert \nabla_{w_L} \mathcal{L}_\text{GAN} \rVert + \delta},

    with :math:`w_L` the weight of the decoder's last layer, so that :math:`\lambda
    \mathcal{L}_\text{GAN}` pulls on it as hard as :math:`\mathcal{L}_\text{rec}` does, whatever the
    scales of the two losses. :math:`\lambda` is a constant in the backward pass (detached) and
    clipped at :math:`10^4`.

    Arguments:
        loss_rec: the scalar reconstruction loss (likelihood and perceptual terms).
        loss_gan: the scalar adversarial loss of the generator.
        last_layer: the decoder's last weight tensor.
        delta: :math:`\delta`, which keeps :math:`\lambda` finite when the GAN gradient vanishes.

    Returns:
        :math:`\lambda`, a detached scalar tensor.
    """
    g_rec = torch.autograd.grad(loss_rec, last_layer, retain_graph=True)[0]
    g_gan = torch.autograd.grad(loss_gan, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_gan.norm() + delta)).clamp(max=1e4).detach()


def _fingerprint(network: nn.Module | None) -> str:
    """A short hash of a network's weights (enters the cache key of trained weights)."""
    if network is None:
        return "none"
    h = hashlib.sha256()
    for name, t in network.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@register("gan")
class VQGAN(GenerativeModel):
    r"""A VQ-VAE trained with a patch discriminator and a perceptual loss; a GPT over its codes.

    With :math:`\hat x` the decoder's mean image, :math:`D` a :class:`PatchDiscriminator` and
    :math:`d` the :func:`perceptual_distance`, the autoencoder minimises

    .. math::

        \mathcal{L} = \underbrace{-\log p(x \mid z_q) + w_p\, N\, d(x, \hat x)}_{\mathcal{L}_\text{rec}}
        + \mathcal{L}_\text{VQ}
        + \mathbb{1}[t \ge t_0]\; w_a \lambda\, \underbrace{\big(-\operatorname{mean} D(\hat x)\big)}_{\mathcal{L}_\text{GAN}},

    where :math:`\mathcal{L}_\text{VQ}` holds the codebook, commitment and code-prior terms of
    :meth:`VQVAE.loss <gdl.latent.VQVAE.loss>`, :math:`N = H W` puts the perceptual distance on
    the per-pixel scale of the likelihood, :math:`\lambda` is the :func:`adaptive_weight` and
    :math:`t_0` is ``disc_start``. The discriminator minimises the hinge loss

    .. math::

        \mathcal{L}_D = \operatorname{mean} \max(0, 1 - D(x)) + \operatorname{mean} \max(0, 1 + D(\hat x)).

    **Warm-up.** Before step :math:`t_0` the discriminator is idle and the perceptual and
    adversarial terms are off, so a step is exactly a VQ-VAE step: a discriminator that judges
    the noise of an untrained decoder only teaches it to fool, and the shared warm-up lets a
    VQ-VAE and a VQ-GAN start their different phases from the same trained autoencoder. (The
    paper keeps the perceptual term on from the start; here it starts with the discriminator so
    that the warm-up is a plain VQ-VAE.)

    **What the discriminator sees.** The data are integer grey levels. Real images are
    dequantized with uniform noise, :math:`x + u`, and the reconstruction is the decoder's mean
    :math:`\hat x = \sum_l l\, p(l)` plus the same kind of noise; without it the discriminator
    could tell the two apart by whether the values are integers. Both are mapped to
    :math:`[-1, 1]`.

    **The prior.** The VQ-VAE keeps its own PixelCNN prior (trained jointly, on detached codes);
    :meth:`attach_prior` replaces it for sampling by a :class:`~gdl.autoregressive.GPT` trained
    afterwards on :meth:`tokens`, the code grids read in raster order. Token 0 is the GPT's
    boundary token, so code :math:`k` is token :math:`k + 1`.

    Arguments:
        vqvae: the autoencoder, a :class:`~gdl.latent.VQVAE` (trained or not).
        disc_start: the step :math:`t_0` at which the discriminator and the perceptual term start.
        disc_hidden: channels of the :class:`PatchDiscriminator`.
        perceptual_network: a frozen network with a ``body`` (e.g.
            :func:`gdl.quality.feature_network`); ``None``: no perceptual term. It is held
            outside the model's parameters and state: an instrument, not part of the model.
        perceptual_weight: :math:`w_p`.
        adversarial_weight: :math:`w_a`, a factor on top of the adaptive weight.
        delta: :math:`\delta` of :func:`adaptive_weight`.
        betas: Adam's betas for the discriminator.

    Shapes:
        - ``train_step(x, optimizers)``: ``x`` ``(B, 1, H, W)`` integers.
        - ``tokens(x)``: → ``(B, h * w)`` int64 in ``1 .. num_codes``.
        - ``sample(n)``: → ``(n, 1, H, W)`` int64.

    References:
        Esser, Rombach and Ommer, *Taming Transformers for High-Resolution Image Synthesis*, 2021,
        https://arxiv.org/abs/2012.09841.
    """

    def __init__(
        self,
        vqvae: VQVAE,
        *,
        disc_start: int = 0,
        disc_hidden: int = 32,
        perceptual_network: nn.Module | None = None,
        perceptual_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        delta: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.9),
    ):
        super().__init__()
        if not isinstance(vqvae, VQVAE):
            raise ValueError(f"vqvae must be a gdl.latent.VQVAE, got {type(vqvae).__name__}")
        if perceptual_network is not None and not isinstance(getattr(perceptual_network, "body", None), nn.Sequential):
            raise ValueError("perceptual_network must have a body (torch.nn.Sequential), e.g. gdl.quality.feature_network()")
        self.vqvae = vqvae
        self.event_shape = vqvae.event_shape
        self.num_levels = vqvae.num_levels
        self.disc_start = checks.int_at_least(disc_start, "disc_start", 0)
        self.perceptual_weight = checks.number(perceptual_weight, "perceptual_weight", low=0.0)
        self.adversarial_weight = checks.number(adversarial_weight, "adversarial_weight", low=0.0)
        self.delta = checks.positive(delta, "delta")
        self.betas = tuple(betas)
        self.discriminator = PatchDiscriminator(disc_hidden)
        # A list hides the network from parameters() and state_dict(); its fingerprint (a plain
        # attribute) still enters the key of the cache of trained weights.
        self._perceptual = [perceptual_network.eval().requires_grad_(False)] if perceptual_network else [None]
        self.perceptual_fingerprint = _fingerprint(perceptual_network)
        self.register_buffer("step", torch.tensor(0))  # steps taken; decides the warm-up
        self.prior: GPT | None = None

    # ------------------------------------------------------------------ the pieces
    @property
    def perceptual_network(self) -> nn.Module | None:
        return self._perceptual[0]

    def to_network_scale(self, x: torch.Tensor, noise: bool = True) -> torch.Tensor:
        """Grey levels ``0 .. L-1`` (integers or the decoder's mean) → :math:`[-1, 1]` for D,
        dequantized with uniform noise."""
        x = x.float()
        if noise:
            x = x + torch.rand_like(x)  # [0, L)
        return 2 * x / self.num_levels - 1

    def mean_image(self, logits: torch.Tensor) -> torch.Tensor:
        r"""The decoder's mean grey level :math:`\sum_l l\, p(l)` per pixel, ``(B, 1, H, W)``,
        differentiable, from logits ``(B, L, H, W)``."""
        levels = torch.arange(self.num_levels, device=logits.device, dtype=logits.dtype)
        return (logits.softmax(1) * levels[:, None, None]).sum(1, keepdim=True)

    def discriminator_loss(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """The hinge loss :math:`L_D` on real images ``x`` and reconstructions ``x_hat`` (grey levels)."""
        real = self.discriminator(self.to_network_scale(x))
        fake = self.discriminator(self.to_network_scale(x_hat))
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def configure_optimizers(self, lr: float):
        """``(discriminator, autoencoder)``: Adam with ``betas`` for D, and the VQ-VAE's own
        optimiser for the autoencoder, so that a warm-up step is exactly a VQ-VAE step."""
        return (
            torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=self.betas),
            self.vqvae.configure_optimizers(lr),
        )

    # ------------------------------------------------------------------ training
    def generator_losses(self, x: torch.Tensor, adversarial: bool) -> dict[str, torch.Tensor]:
        """The autoencoder's scalar losses on ``x``; with ``adversarial``, the perceptual and GAN
        terms and the adaptive weight too. Keys: ``"total"``, ``"reconstruction"``,
        ``"perceptual"``, ``"gan"``, ``"adaptive_weight"``, ``"x_hat"`` (the mean image)."""
        vq = self.vqvae
        x = self._check_data(x)
        q = vq.quantize(x)
        logits = vq.decoder(q.z_q)  # (B, L, H, W)
        px = Independent(Categorical(logits=logits.permute(0, 2, 3, 1).unsqueeze(1)), 3)  # levels last
        nll = -px.log_prob(x)  # (B,) nats
        prior = -vq.prior.log_prob(q.codes.detach().unsqueeze(1))  # (B,) on detached codes
        # the VQ-VAE's loss, summed in the same order as VQVAE.train_step (bit-for-bit equal)
        vq_loss = (nll + q.codebook_loss + vq.beta * q.commitment_loss + prior).mean()
        x_hat = self.mean_image(logits)  # (B, 1, H, W), differentiable
        zero = torch.zeros((), device=x.device)
        out = {"total": vq_loss, "reconstruction": nll.mean(), "perceptual": zero, "gan": zero,
               "adaptive_weight": zero, "x_hat": x_hat}
        if not adversarial:
            return out
        perceptual = zero
        if self.perceptual_network is not None and self.perceptual_weight > 0:
            top = self.num_levels - 1
            d = perceptual_distance(self.perceptual_network, x.float() / top, x_hat / top)  # (B,)
            out["perceptual"] = d.mean()
            perceptual = self.perceptual_weight * x[0].numel() * d.mean()  # N = H W pixels
        rec = nll.mean() + perceptual  # L_rec: what the adaptive weight balances against
        gan = -self.discriminator(self.to_network_scale(x_hat)).mean()  # hinge: generator side
        lam = adaptive_weight(rec, gan, vq.decoder[-1].weight, self.delta)
        out.update(gan=gan, adaptive_weight=lam)
        out["total"] = vq_loss + perceptual + self.adversarial_weight * lam * gan
        return out

    @property
    def loss(self):
        """VQ-GAN has no ``loss(x)``: :meth:`train_step` alternates the discriminator and the autoencoder."""
        raise AttributeError("loss")  # see GenerativeModel.__getattr__ for the message

    def train_step(self, batch, optimizer) -> dict[str, float]:
        r"""One discriminator update (after the warm-up), then one autoencoder update.

        Arguments:
            batch: images ``(B, 1, H, W)`` (or a tuple whose first entry they are).
            optimizer: the pair from :meth:`configure_optimizers`.

        Returns:
            the numbers to log, by key; ``"loss"`` (the discriminator's hinge loss, 0 during the warm-up),
            ``"generator"`` (the autoencoder's total loss), ``"reconstruction"`` (NLL, nats),
            ``"perceptual"`` (:math:`d`) and ``"adaptive_weight"`` (:math:`\lambda`).
        """
        opt_d, opt_g = optimizer
        x = self._check_data(batch[0] if isinstance(batch, tuple) else batch)
        adversarial = int(self.step) >= self.disc_start
        d_loss = torch.zeros(())
        if adversarial:
            with torch.no_grad():  # reconstructions are constants for D's update
                x_hat = self.mean_image(self.vqvae.decoder(self.vqvae.quantize(x).z_q))
            d_loss = self.discriminator_loss(x, x_hat)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        terms = self.generator_losses(x, adversarial)
        opt_g.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt_g.step()
        self.step += 1
        return {
            "loss": d_loss.item(),
            "generator": terms["total"].item(),
            "reconstruction": terms["reconstruction"].item(),
            "perceptual": terms["perceptual"].item(),
            "adaptive_weight": terms["adaptive_weight"].item(),
        }

    # ------------------------------------------------------------------ codes and the prior
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's most likely image from the codes of ``x``, ``(B, 1, H, W)`` int64."""
        return self.vqvae.reconstruct(x)

    @torch.no_grad()
    def code_usage(self, x: torch.Tensor) -> dict:
        """Code counts, perplexity and fraction used on images ``x`` (see :func:`gdl.latent.vqvae.code_usage`)."""
        return self.vqvae.code_usage(x)

    @torch.no_grad()
    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The code grids of ``x`` in raster order as GPT tokens ``(B, h * w)``: code k → token k + 1."""
        return self.vqvae.encode(x).flatten(1) + 1  # (B, 1, h, w) -> (B, h*w); 0 is the boundary

    def attach_prior(self, prior: GPT) -> VQGAN:
        """Use ``prior``, a GPT over :meth:`tokens`, for :meth:`sample`; returns the model."""
        h, w = self.vqvae.grid_shape
        if not isinstance(prior, GPT):
            raise ValueError(f"prior must be a gdl.GPT, got {type(prior).__name__}")
        if prior.vocab_size != self.vqvae.num_codes + 1 or prior.config.block_size != h * w:
            raise ValueError(
                f"prior must have vocab_size={self.vqvae.num_codes + 1} and block_size={h * w} "
                f"(the codes plus the boundary token, one position per code), got "
                f"{prior.vocab_size} and {prior.config.block_size}"
            )
        self.prior = prior
        return self

    @torch.no_grad()
    def sample_codes(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Code grids ``(n, 1, h, w)`` from the GPT if one is attached, else from the VQ-VAE's PixelCNN."""
        n = self._check_n(n)
        temperature = checks.temperature(temperature)
        if self.prior is None:
            return self.vqvae.prior.sample(n, temperature=temperature)
        h, w = self.vqvae.grid_shape
        idx = torch.zeros(n, 1, dtype=torch.int64, device=self.device)  # the boundary token
        for _ in range(h * w):
            logits = self.prior.logits(idx)[:, -1] / temperature  # (n, V)
            logits[:, 0] = float("-inf")  # a code grid has no end before its last code
            idx = torch.cat([idx, torch.multinomial(logits.softmax(-1), 1)], 1)
        return (idx[:, 1:] - 1).view(n, 1, h, w)  # tokens -> codes, raster order -> grid

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mode: bool = False) -> torch.Tensor:
        """Codes from the prior, decoded: ``(n, 1, H, W)`` int64.

        Arguments:
            n: number of samples.
            temperature: the prior's sampling temperature.
            mode: return the decoder's most likely image per code grid instead of a draw from it.
        """
        px = self.vqvae.decode(self.sample_codes(n, temperature))
        return px.base_dist.probs.argmax(-1) if mode else px.sample()
