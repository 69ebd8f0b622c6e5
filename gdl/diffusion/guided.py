r"""Classifier-free guidance: one diffusion network, conditional and unconditional at once.

During training the condition :math:`c` (a class, or a caption's id) is replaced by a *null*
condition :math:`\varnothing` with probability ``p_uncond``, so the same network learns both
:math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t, c)` and :math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t,
\varnothing)`. Sampling mixes the two with the guidance weight :math:`w`,

.. math::

    \tilde{\boldsymbol\epsilon} = (1 + w)\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, c)
    - w\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing),

which follows the score of :math:`p(\mathbf{x}\mid c)\,p(c\mid\mathbf{x})^{w}`: :math:`w = 0` is
plain conditional sampling, :math:`w = -1` ignores the condition, and :math:`w > 0` pushes
samples towards images an implicit classifier finds typical of :math:`c`, trading diversity for
fidelity. (Some code writes :math:`w\boldsymbol\epsilon_c + (1 - w)\boldsymbol\epsilon_u`, where
:math:`w = 1` is conditional: the same family of mixtures, shifted by one.)

Example:
    >>> import torch
    >>> model = GuidedDDPM(num_classes=3, event_shape=(1, 4, 4), num_levels=3, num_steps=10, hidden=[16])
    >>> x, c = torch.randint(0, 3, (5, 1, 4, 4)), torch.tensor([0, 1, 2, 0, 1])
    >>> model.loss(x, c).shape, model.sample(2, labels=torch.tensor([2, 2]), guidance=3.0).shape
    (torch.Size([]), torch.Size([2, 1, 4, 4]))
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from ..taxonomy import register
from .ddpm import DDPM

__all__ = ["GuidedDDPM"]


@register("diffusion", "bound")
class GuidedDDPM(DDPM):
    r"""A DDPM conditioned on a label, sampled with classifier-free guidance.

    The label's learned embedding is added to the time embedding of the
    :class:`~gdl.nn.TimeMLP`; one extra embedding, index ``num_classes``, is the null condition
    :math:`\varnothing`. Labels can stand for anything with a finite vocabulary: a class, or a
    caption made of a class and attributes (``"a thick seven"``).

    Arguments:
        num_classes: number of conditions.
        p_uncond: probability that training drops the condition.
        guidance: the default guidance weight :math:`w` of :meth:`sample`.
        **kwargs: the arguments of :class:`DDPM` (with ``network="mlp"`` and
            ``prediction="eps"``, the only ones guidance is defined for here).

    Example:
        >>> model = GuidedDDPM(num_classes=2, event_shape=(1, 4, 4), num_levels=3, num_steps=10, hidden=[8])
        >>> x_T = torch.randn(2, 1, 4, 4)
        >>> torch.equal(model.reverse(x_T, labels=torch.tensor([0, 1]), guidance=-1.0, steps=5),
        ...             model.reverse(x_T, steps=5))  # w = -1: the condition is ignored (DDIM)
        True

    References:
        Ho and Salimans, *Classifier-Free Diffusion Guidance*, NeurIPS 2021 workshop,
        https://arxiv.org/abs/2207.12598 ;
        Nichol et al., *GLIDE*, ICML 2022, https://arxiv.org/abs/2112.10741 .
    """

    def __init__(self, num_classes: int = 10, p_uncond: float = 0.1, guidance: float = 1.0, **kwargs):
        if kwargs.get("network", "mlp") != "mlp" or kwargs.get("prediction", "eps") != "eps":
            raise ValueError('GuidedDDPM needs network="mlp" and prediction="eps"')
        super().__init__(**kwargs)
        self.num_classes = checks.int_at_least(num_classes, "num_classes", 2)
        self.p_uncond = checks.probability(p_uncond, "p_uncond")
        self.guidance = checks.number(guidance, "guidance", low=-1.0)
        time_dim = self.net.times[0].in_features  # the size of the time embedding
        self.label_embedding = nn.Embedding(self.num_classes + 1, time_dim)  # the last row is the null condition
        nn.init.normal_(self.label_embedding.weight, std=0.02)
        self._condition: tuple[torch.Tensor | None, float] = (None, 0.0)

    # ------------------------------------------------------------------ the guided prediction
    def _check_labels(self, labels, n: int, name: str = "labels") -> torch.Tensor:
        return checks.labels(labels, n, self.num_classes, name).to(self.device)

    def _null(self, n: int) -> torch.Tensor:
        return torch.full((n,), self.num_classes, device=self.device, dtype=torch.long)

    @contextlib.contextmanager
    def conditioned(self, labels: torch.Tensor | None, guidance: float = 0.0):
        """Within the block, every noise prediction is guided towards ``labels`` with weight
        ``guidance`` (``labels=None``: unconditional)."""
        before = self._condition
        self._condition = (labels, guidance)
        try:
            yield self
        finally:
            self._condition = before

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\tilde{\boldsymbol\epsilon} = (1 + w)\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, c)
        - w\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing)` for the labels and weight of
        :meth:`conditioned` (outside it: :math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing)`)."""
        t = self._as_steps(t, x_t)
        labels, w = self._condition
        time = self._net_time(t)
        eps_u = None
        if labels is None or w != 0:
            eps_u = self.net(x_t, time, self.label_embedding(self._null(len(x_t))))
        if labels is None:
            return eps_u
        eps_c = self.net(x_t, time, self.label_embedding(labels))
        if w == 0:
            return eps_c
        return (1 + w) * eps_c - w * eps_u

    # ------------------------------------------------------------------ training and the bound
    def loss(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`L_\text{simple}` with the condition dropped (replaced by :math:`\varnothing`) with
        probability ``p_uncond``; without labels, the unconditional loss."""
        x0 = self.to_unit(x)
        c = self._null(len(x0)) if labels is None else self._check_labels(labels, len(x0))
        drop = torch.rand(len(x0), device=x0.device) < self.p_uncond
        c = torch.where(drop, self._null(len(x0)), c)
        t = torch.randint(0, self.num_steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.q_sample(x0, t, noise)
        return F.mse_loss(self.net(x_t, self._net_time(t), self.label_embedding(c)), noise)

    def elbo(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        r"""The bound on :math:`\log p(\mathbf{x})` of the unconditional model, or on
        :math:`\log p(\mathbf{x}\mid c)` given ``labels`` (unguided), in nats, shape ``(B,)``."""
        x = self._check_data(x)
        c = None if labels is None else self._check_labels(labels, len(x))
        with self.conditioned(c, 0.0):
            return super().elbo(x)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def reverse(self, x_T: torch.Tensor, *, labels: torch.Tensor | None = None, guidance: float | None = None,
                steps: int | None = None, eta: float | None = None, keep: bool = False):
        r"""The reverse process from ``x_T`` guided towards ``labels`` ``(n,)`` with weight
        ``guidance`` (default: the model's ``guidance``); ``labels=None`` samples the unconditional model.
        See :meth:`DDPM.reverse` for ``steps``, ``eta`` and ``keep``."""
        x_T = self._check_noisy(x_T, "x_T")
        c = None if labels is None else self._check_labels(labels, len(x_T))
        w = self.guidance if guidance is None else checks.number(guidance, "guidance", low=-1.0)
        with self.conditioned(c, w):
            return super().reverse(x_T, steps=steps, eta=eta, keep=keep)

    @torch.no_grad()
    def sample(self, n: int, *, labels: torch.Tensor | None = None, guidance: float | None = None,
               steps: int | None = None, eta: float | None = None) -> torch.Tensor:
        """``n`` images of the given ``labels`` ``(n,)`` (default: uniformly random labels), guided
        with weight ``guidance`` (default: the model's ``guidance``); integer levels, ``(n, *event_shape)``."""
        n = self._check_n(n)
        if labels is None:
            labels = torch.randint(0, self.num_classes, (n,), device=self.device)
        labels = self._check_labels(labels, n)
        w = self.guidance if guidance is None else checks.number(guidance, "guidance", low=-1.0)
        x_T = torch.randn(n, *self.event_shape, device=self.device)
        return self.to_levels(self.reverse(x_T, labels=labels, guidance=w, steps=steps, eta=eta))
