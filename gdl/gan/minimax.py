r"""The minimax GANs: the original GAN on MLPs, DCGAN, and the conditional GAN.

See :mod:`gdl.gan` for the game they play and how they are trained.
"""

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

__all__ = ["GAN", "DCGAN", "ConditionalGAN"]

def _leaky_relu() -> nn.Module:
    # Leaky ReLUs keep a gradient flowing back from every discriminator unit to the generator.
    return nn.LeakyReLU(0.2)


@register("gan", "implicit")
class GAN(GenerativeModel):
    r"""The original GAN with the non-saturating generator loss, on MLPs.

    The discriminator outputs a logit :math:`\ell(\mathbf{x})`, :math:`D = \sigma(\ell)`, and
    minimises the binary cross-entropy

    .. math::

        L_D = -\mathbb{E}_{p_\text{data}}[\log D(\mathbf{x})]
              - \mathbb{E}_{p(\mathbf{z})}[\log(1 - D(G(\mathbf{z})))].

    The generator minimises :math:`L_G = -\mathbb{E}_{p(\mathbf{z})}[\log D(G(\mathbf{z}))]`
    (non-saturating): it has the same fixed point as :math:`\mathbb{E}[\log(1 - D(G(\mathbf{z})))]`
    but strong gradients early on, when the discriminator rejects every fake.

    Arguments:
        event_shape: shape of one example, e.g. ``(2,)`` or ``(1, 8, 8)``.
        latent_dim: size of :math:`\mathbf{z}\sim\mathcal{N}(\mathbf{0},\mathbf{I})`.
        hidden: hidden sizes of the two MLPs.
        num_levels: for integer images ``0 .. num_levels - 1`` (dequantized and mapped to
            :math:`[-1, 1]`, see the module docstring); ``None`` for real-valued data used as is.
        generator: a module mapping ``(B, latent_dim)`` to ``(B, *event_shape)``; replaces the MLP.
        discriminator: a module mapping ``(B, *event_shape)`` to logits ``(B, 1)``; replaces the MLP.

    Example:
        >>> import torch
        >>> gan = GAN(event_shape=(1, 4, 4), num_levels=5, latent_dim=3, hidden=[8])
        >>> x = gan.sample(6)
        >>> x.shape, bool(x.min() >= 0 and x.max() <= 4)
        (torch.Size([6, 1, 4, 4]), True)

    References:
        Goodfellow et al., "Generative adversarial nets", NeurIPS 2014.
        https://arxiv.org/abs/1406.2661
    """

    #: Adam's betas; :math:`\beta_1 = 0.5` damps the oscillations of the two-player game.
    betas = (0.5, 0.999)

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        latent_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        *,
        num_levels: int | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ):
        super().__init__()
        self.event_shape = event_shape = checks.event_shape(event_shape)
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.num_levels = checks.num_levels(num_levels, optional=True)
        dims = math.prod(event_shape)
        cond = self._condition_dim()
        if generator is None:
            generator = nn.Sequential(
                MLP(latent_dim + cond, hidden, dims),
                nn.Tanh() if num_levels else nn.Identity(),
                nn.Unflatten(1, event_shape),  # (B, D) -> (B, *event_shape)
            )
        if discriminator is None:
            discriminator = nn.Sequential(nn.Flatten(), MLP(dims + cond, hidden, 1, activation=_leaky_relu))
        self.generator = generator
        self.discriminator = discriminator
        self.register_buffer("prior_loc", torch.zeros(latent_dim))
        self.register_buffer("prior_scale", torch.ones(latent_dim))

    def _condition_dim(self) -> int:
        return 0

    # ------------------------------------------------------------------ the two networks
    def prior(self) -> Independent:
        r"""The noise distribution :math:`p(\mathbf{z}) = \mathcal{N}(\mathbf{0}, \mathbf{I})`."""
        return Independent(Normal(self.prior_loc, self.prior_scale), 1)

    def generate(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`G(\\mathbf{z})` on the networks' scale (``[-1, 1]`` for images), ``(B, *event_shape)``."""
        return self.generator(self._check_codes(z))

    def _check_codes(self, z: torch.Tensor) -> torch.Tensor:
        """A batch of latent codes ``(B, latent_dim)``, finite, in the model's dtype."""
        z = checks.batch(z, (self.latent_dim,), "z")
        return z.to(self._dtype())

    def discriminate(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r"""The logit :math:`\ell(\mathbf{x})`, shape ``(B,)``; :math:`D(\mathbf{x}) = \sigma(\ell)`."""
        return self.discriminator(x).squeeze(-1)

    def to_network_scale(self, x: torch.Tensor) -> torch.Tensor:
        """Real data as the discriminator sees it: integer images dequantized into ``[-1, 1]``."""
        x = self._check_data(x).float()
        if self.num_levels is None:
            return x
        x = x + torch.rand_like(x)  # uniform dequantization: [0, L)
        return 2 * x / self.num_levels - 1

    def to_data_scale(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse map: generator outputs in ``[-1, 1]`` to grey levels ``0 .. L - 1`` (floats)."""
        if self.num_levels is None:
            return y
        return ((y + 1) / 2 * self.num_levels - 0.5).clamp(0, self.num_levels - 1)

    # ------------------------------------------------------------------ losses
    def discriminator_loss(self, x, fake, c=None) -> torch.Tensor:
        """:math:`L_D` on real ``x`` and generated ``fake``, both on the networks' scale."""
        real_logits, fake_logits = self.discriminate(x, c), self.discriminate(fake, c)
        # -log sigma(l) = softplus(-l) and -log(1 - sigma(l)) = softplus(l), computed stably.
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake, c=None) -> torch.Tensor:
        r"""Non-saturating :math:`L_G = -\mathbb{E}[\log D(G(\mathbf{z}))]`."""
        return F.softplus(-self.discriminate(fake, c)).mean()

    # ------------------------------------------------------------------ training
    @property
    def loss(self):
        """A GAN has no ``loss(x)``: :meth:`train_step` alternates its two players' losses."""
        raise AttributeError("loss")  # see GenerativeModel.__getattr__ for the message

    def configure_optimizers(self, lr: float):
        """Two Adam optimisers, ``(discriminator, generator)``, with :attr:`betas`."""
        return (
            torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=self.betas),
            torch.optim.Adam(self.generator.parameters(), lr=lr, betas=self.betas),
        )

    def discriminator_step(self, x: torch.Tensor, optimizer, c=None) -> float:
        """One update of the discriminator on real ``x`` (networks' scale); the generator is frozen."""
        with torch.no_grad():  # fakes are constants here: no gradient reaches G
            fake = self.generate(self.prior().sample((len(x),)), c)
        loss = self.discriminator_loss(x, fake, c)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def generator_step(self, n: int, optimizer, c=None) -> float:
        """One update of the generator on ``n`` fresh fakes; the discriminator only passes gradients."""
        loss = self.generator_loss(self.generate(self.prior().sample((n,)), c), c)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        self.discriminator.zero_grad(set_to_none=True)  # drop the gradients G's loss left in D
        return loss.item()

    def _split(self, batch):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch  # labels, if any, are ignored
        return x, None

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One discriminator update, then one generator update.

        Arguments:
            batch: real data ``(B, *event_shape)`` (or a tuple whose first entry it is).
            optimizer: the pair from :meth:`configure_optimizers`.

        Returns:
            ``{"loss": L_D, "generator": L_G}``.
        """
        opt_d, opt_g = optimizer
        x, c = self._split(batch)
        x = self.to_network_scale(x)
        loss_d = self.discriminator_step(x, opt_d, c)
        loss_g = self.generator_step(len(x), opt_g, c)
        return {"loss": loss_d, "generator": loss_g}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        r""":math:`\mathbf{x} = G(\mathbf{z})`, :math:`\mathbf{z}\sim p(\mathbf{z})`, on the data's scale."""
        n = self._check_n(n)
        with self._generator_in_eval_mode():
            return self.to_data_scale(self.generate(self.prior().sample((n,))))

    def _generator_in_eval_mode(self):
        """Batch norm uses its running statistics, so each sample is independent of the others."""
        return _EvalMode(self.generator)


@register("gan", "implicit")
class DCGAN(GAN):
    r"""Deep convolutional GAN for 1-channel square images (side divisible by 4).

    The generator projects :math:`\mathbf{z}` to a :math:`2w \times s/4 \times s/4` map and doubles
    the resolution twice with transposed convolutions (batch norm and ReLU between, :math:`\tanh`
    at the end); the discriminator mirrors it with strided convolutions and leaky ReLUs, and no
    pooling or batch norm. These are the architecture rules of Radford et al.

    Arguments:
        event_shape: ``(1, s, s)``, e.g. ``(1, 8, 8)`` or ``(1, 28, 28)``.
        num_levels: grey levels of the data (17 for the digits).
        latent_dim: size of :math:`\mathbf{z}`.
        width: channels :math:`w` of the largest feature maps.

    Example:
        >>> model = DCGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=4, width=4)
        >>> model.sample(3).shape
        torch.Size([3, 1, 8, 8])

    References:
        Radford, Metz, Chintala, "Unsupervised representation learning with deep convolutional
        generative adversarial networks", ICLR 2016. https://arxiv.org/abs/1511.06434
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        latent_dim: int = 32,
        width: int = 32,
    ):
        event_shape = checks.event_shape(event_shape, ndim=3)
        if event_shape[0] != 1 or event_shape[1] != event_shape[2] or event_shape[1] % 4:
            raise ValueError(f"event_shape must be (1, s, s) with s divisible by 4, got {event_shape}")
        w = checks.positive_int(width, "width")
        latent_dim = checks.positive_int(latent_dim, "latent_dim")
        s = event_shape[1] // 4
        generator = nn.Sequential(
            nn.Linear(latent_dim, 2 * w * s * s),
            nn.BatchNorm1d(2 * w * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, s, s)),  # (B, 2w, s/4, s/4)
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),  # (B, w, s/2, s/2)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),  # (B, 1, s, s)
            nn.Tanh(),
        )
        discriminator = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1),  # (B, w, s/2, s/2)
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),  # (B, 2w, s/4, s/4)
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * w * s * s, 1),
        )
        super().__init__(
            event_shape, latent_dim, num_levels=num_levels, generator=generator, discriminator=discriminator
        )
        self.width = width


@register("gan", "implicit")
class ConditionalGAN(GAN):
    r"""A GAN conditioned on a class label :math:`c`: :math:`G(\mathbf{z}, c)` and :math:`D(\mathbf{x}, c)`.

    Both MLPs read a one-hot code of :math:`c` beside their usual input, so the discriminator
    judges whether :math:`\mathbf{x}` is a real example *of class c*, and the generator learns
    :math:`p(\mathbf{x}\mid c)`. Training batches are ``(images, labels)`` tuples, as
    :func:`gdl.train.fit` passes them for ``data=(x, y)``.

    Arguments:
        event_shape: shape of one image, e.g. ``(1, 8, 8)``.
        num_levels: grey levels of the data.
        num_classes: number of labels.
        latent_dim: size of :math:`\mathbf{z}`.
        hidden: hidden sizes of the two MLPs.

    Example:
        >>> import torch
        >>> model = ConditionalGAN(
        ...     event_shape=(1, 4, 4), num_levels=5, num_classes=3, latent_dim=2, hidden=[8]
        ... )
        >>> model.sample(6, labels=torch.tensor([0, 1, 2, 0, 1, 2])).shape
        torch.Size([6, 1, 4, 4])

    References:
        Mirza, Osindero, "Conditional generative adversarial nets", 2014.
        https://arxiv.org/abs/1411.1784
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        num_classes: int = 10,
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 256),
    ):
        self.num_classes = checks.int_at_least(num_classes, "num_classes", 2)
        super().__init__(event_shape, latent_dim, hidden, num_levels=num_levels)

    def _condition_dim(self) -> int:
        return self.num_classes

    def _one_hot(self, c: torch.Tensor) -> torch.Tensor:
        return F.one_hot(c, self.num_classes).float()

    def generate(self, z, c=None):
        """:math:`G(\\mathbf{z}, c)` on the networks' scale; ``c`` labels ``(B,)`` are required."""
        z = self._check_codes(z)
        c = self._check_labels(c, len(z), "c")
        mlp, *rest = self.generator
        y = mlp(torch.cat([z, self._one_hot(c)], dim=1))  # (B, D)
        for layer in rest:  # tanh, then (B, D) -> (B, *event_shape)
            y = layer(y)
        return y

    def discriminate(self, x, c=None):
        """The logit :math:`\\ell(\\mathbf{x}, c)`, shape ``(B,)``."""
        flatten, mlp = self.discriminator
        return mlp(torch.cat([flatten(x), self._one_hot(c)], dim=1)).squeeze(-1)

    def _check_labels(self, labels, n: int, name: str = "labels") -> torch.Tensor:
        return checks.labels(labels, n, self.num_classes, name).to(self.prior_loc.device)

    def _split(self, batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("ConditionalGAN needs (images, labels) batches: fit(model, (x, y), ...)")
        x, c = batch
        return x, self._check_labels(c, len(x))

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples of the given ``labels`` ``(n,)``, or of uniformly random labels."""
        n = self._check_n(n)
        if labels is None:
            labels = torch.randint(0, self.num_classes, (n,), device=self.prior_loc.device)
        labels = self._check_labels(labels, n)
        with self._generator_in_eval_mode():
            return self.to_data_scale(self.generate(self.prior().sample((n,)), labels))


class _EvalMode:
    """Context manager: a module in eval mode inside the block, its previous mode after."""

    def __init__(self, module: nn.Module):
        self.module, self.was_training = module, module.training

    def __enter__(self):
        self.module.eval()

    def __exit__(self, *exc):
        self.module.train(self.was_training)
