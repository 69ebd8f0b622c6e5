r"""The Wasserstein GAN with gradient penalty: a critic instead of a discriminator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _checks as checks
from ..nn import MLP
from ..taxonomy import register
from .minimax import GAN, _leaky_relu

__all__ = ["WGANGP"]


@register("gan", "implicit")
class WGANGP(GAN):
    r"""Wasserstein GAN with gradient penalty: a critic instead of a discriminator.

    The critic :math:`C` (no sigmoid) estimates the Wasserstein-1 distance through the
    Kantorovich-Rubinstein duality,
    :math:`W(p, q) = \sup_{\lVert C\rVert_L \le 1} \mathbb{E}_p[C(\mathbf{x})] - \mathbb{E}_q[C(\mathbf{x})]`.
    The Lipschitz constraint is encouraged by a penalty on the gradient norm at random
    interpolates :math:`\hat{\mathbf{x}} = \epsilon\mathbf{x} + (1-\epsilon)G(\mathbf{z})`,

    .. math::

        L_C = \mathbb{E}[C(G(\mathbf{z}))] - \mathbb{E}[C(\mathbf{x})]
              + \lambda\,\mathbb{E}\big[(\lVert\nabla_{\hat{\mathbf{x}}} C(\hat{\mathbf{x}})\rVert_2 - 1)^2\big],
        \qquad L_G = -\mathbb{E}[C(G(\mathbf{z}))].

    Every :meth:`train_step` updates the critic; the generator moves on every ``n_critic``-th
    step only, so the critic stays close to its optimum.

    Arguments:
        event_shape, latent_dim, hidden: as for :class:`GAN`.
        gan_arguments: ``num_levels`` and ``generator``, as for :class:`GAN`.
        critic: replaces the MLP critic (no batch norm: the penalty is per example).
        gp_weight: :math:`\lambda`.
        n_critic: critic updates per generator update.

    Example:
        >>> import torch
        >>> wgan = WGANGP(event_shape=(2,), latent_dim=2, hidden=[16], n_critic=2)
        >>> x = torch.randn(8, 2)
        >>> bool(wgan.gradient_penalty(x, wgan.sample(8)) >= 0)
        True

    References:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017. https://arxiv.org/abs/1701.07875

        Gulrajani et al., "Improved training of Wasserstein GANs", NeurIPS 2017.
        https://arxiv.org/abs/1704.00028
    """

    #: Adam's betas as in Gulrajani et al. (2017), with a little momentum kept.
    betas = (0.5, 0.9)

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        latent_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        *,
        gp_weight: float = 10.0,
        n_critic: int = 5,
        critic: nn.Module | None = None,
        **gan_arguments,
    ):
        gp_weight = checks.number(gp_weight, "gp_weight", low=0.0)
        n_critic = checks.positive_int(n_critic, "n_critic")
        if critic is None:
            dims = math.prod(checks.event_shape(event_shape))
            critic = nn.Sequential(nn.Flatten(), MLP(dims, hidden, 1, activation=_leaky_relu))
            # A constant added to C cancels in L_C and has no gradient: drop the last bias.
            last = critic[1][-1]
            critic[1][-1] = nn.Linear(last.in_features, 1, bias=False)
        super().__init__(event_shape, latent_dim, hidden, discriminator=critic, **gan_arguments)
        self.gp_weight = gp_weight
        self.n_critic = n_critic
        self._critic_steps = 0

    def get_extra_state(self) -> dict:
        """The count of critic steps, saved in the ``state_dict``: a resumed run keeps the
        generator's rhythm of one update every ``n_critic`` steps."""
        return {"critic_steps": self._critic_steps}

    def set_extra_state(self, state: dict) -> None:
        """Restore the critic-step counter saved by :meth:`get_extra_state`."""
        self._critic_steps = int(state["critic_steps"])

    @property
    def critic(self) -> nn.Module:
        """The critic :math:`C` (stored as ``discriminator``)."""
        return self.discriminator

    @staticmethod
    def interpolate(x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        r"""Random points :math:`\epsilon\mathbf{x} + (1-\epsilon)G(\mathbf{z})` on the segments
        between real and generated examples: one :math:`\epsilon \sim U[0, 1]` per example."""
        eps = torch.rand(len(x), *([1] * (x.dim() - 1)), device=x.device, dtype=x.dtype)
        return eps * x + (1 - eps) * fake

    def gradient_penalty(self, x: torch.Tensor, fake: torch.Tensor, c=None) -> torch.Tensor:
        r"""The penalty :math:`\mathbb{E}[(\lVert\nabla C(\hat{\mathbf{x}})\rVert_2 - 1)^2]`, unweighted.

        Arguments:
            x: real examples ``(B, *event_shape)``, on the networks' scale.
            fake: generated examples, same shape; :math:`\hat{\mathbf{x}}` mixes each pair.
        """
        x_hat = self.interpolate(x, fake).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.discriminate(x_hat, c).sum(), x_hat, create_graph=True)
        # The norm runs over every axis but the batch: the gradient of C is one vector per example.
        return (grad.flatten(1).norm(dim=1) - 1).square().mean()

    def discriminator_loss(self, x, fake, c=None) -> torch.Tensor:
        """The critic's loss :math:`L_C`, penalty included."""
        gap = self.discriminate(fake, c).mean() - self.discriminate(x, c).mean()
        return gap + self.gp_weight * self.gradient_penalty(x, fake, c)

    def generator_loss(self, fake, c=None) -> torch.Tensor:
        r""":math:`L_G = -\mathbb{E}[C(G(\mathbf{z}))]`."""
        return -self.discriminate(fake, c).mean()

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One critic update; a generator update every ``n_critic``-th call.

        Returns:
            ``{"loss": L_C, "generator": L_G}`` (``L_G`` evaluated without an update on the
            other steps).
        """
        opt_c, opt_g = optimizer
        x, c = self._split(batch)
        x = self.to_network_scale(x)
        loss_c = self.discriminator_step(x, opt_c, c)
        self._critic_steps += 1
        if self._critic_steps % self.n_critic == 0:
            loss_g = self.generator_step(len(x), opt_g, c)
        else:
            with torch.no_grad():
                loss_g = self.generator_loss(self.generate(self.prior().sample((len(x),)), c), c).item()
        return {"loss": loss_c, "generator": loss_g}
