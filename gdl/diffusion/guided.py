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
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from ..taxonomy import register
from .ddpm import DDPM

__all__ = ["GuidedDDPM", "VectorGuidedDDPM"]


class _Guided(DDPM):
    r"""What the guided diffusions share: the condition dropped in training, the guided noise
    prediction, and a context in which every prediction is guided.

    A subclass says what a condition is through three methods: ``_check_condition`` (a batch
    of conditions, checked), ``_null`` (``n`` null conditions :math:`\varnothing`) and ``_embed``
    (a batch of conditions to ``(n, time_dim)``, added to the time embedding of the
    :class:`~gdl.nn.TimeMLP`).
    """

    def __init__(self, p_uncond: float = 0.1, guidance: float = 1.0, **kwargs):
        if kwargs.get("network", "mlp") != "mlp" or kwargs.get("prediction", "eps") != "eps":
            raise ValueError(f'{type(self).__name__} needs network="mlp" and prediction="eps"')
        super().__init__(**kwargs)
        self.p_uncond = checks.probability(p_uncond, "p_uncond")
        self.guidance = checks.number(guidance, "guidance", low=-1.0)
        self._condition: tuple[torch.Tensor | None, float] = (None, 0.0)

    @property
    def time_dim(self) -> int:
        """The size of the time embedding, to which a condition's embedding is added."""
        return self.net.times[0].in_features

    def _check_condition(self, c, n: int) -> torch.Tensor:
        raise NotImplementedError

    def _null(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    def _embed(self, c: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @contextlib.contextmanager
    def conditioned(self, condition: torch.Tensor | None, guidance: float = 0.0):
        """Within the block, every noise prediction is guided towards ``condition`` with weight
        ``guidance`` (``condition=None``: unconditional)."""
        before = self._condition
        self._condition = (condition, guidance)
        try:
            yield self
        finally:
            self._condition = before

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\tilde{\boldsymbol\epsilon} = (1 + w)\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, c)
        - w\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing)` for the condition and weight of
        :meth:`conditioned` (outside it: :math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing)`)."""
        t = self._as_steps(t, x_t)
        c, w = self._condition
        time = self._net_time(t)
        eps_u = None
        if c is None or w != 0:
            eps_u = self.net(x_t, time, self._embed(self._null(len(x_t))))
        if c is None:
            return eps_u
        eps_c = self.net(x_t, time, self._embed(c))
        if w == 0:
            return eps_c
        return (1 + w) * eps_c - w * eps_u

    def loss(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`L_\text{simple}` with the condition dropped (replaced by :math:`\varnothing`) with
        probability ``p_uncond``; without a condition, the unconditional loss."""
        x0 = self.to_unit(x)
        c = self._null(len(x0)) if c is None else self._check_condition(c, len(x0))
        drop = torch.rand(len(x0), device=x0.device) < self.p_uncond
        c = torch.where(drop.view(-1, *[1] * (c.dim() - 1)), self._null(len(x0)), c)
        t = torch.randint(0, self.num_steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.q_sample(x0, t, noise)
        return F.mse_loss(self.net(x_t, self._net_time(t), self._embed(c)), noise)

    def _reverse(self, x_T, c, guidance, steps, eta, keep):
        x_T = self._check_noisy(x_T, "x_T")
        c = None if c is None else self._check_condition(c, len(x_T))
        w = self.guidance if guidance is None else checks.number(guidance, "guidance", low=-1.0)
        with self.conditioned(c, w):
            return DDPM.reverse(self, x_T, steps=steps, eta=eta, keep=keep)


@register("diffusion", "bound")
class GuidedDDPM(_Guided):
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
        super().__init__(p_uncond, guidance, **kwargs)
        self.num_classes = checks.int_at_least(num_classes, "num_classes", 2)
        self.label_embedding = nn.Embedding(self.num_classes + 1, self.time_dim)  # the last row is the null condition
        nn.init.normal_(self.label_embedding.weight, std=0.02)

    # ------------------------------------------------------------------ what a condition is
    def _check_condition(self, labels, n: int, name: str = "labels") -> torch.Tensor:
        return checks.labels(labels, n, self.num_classes, name).to(self.device)

    _check_labels = _check_condition

    def _null(self, n: int) -> torch.Tensor:
        return torch.full((n,), self.num_classes, device=self.device, dtype=torch.long)

    def _embed(self, labels: torch.Tensor) -> torch.Tensor:
        return self.label_embedding(labels)

    # ------------------------------------------------------------------ training and the bound
    def loss(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`L_\text{simple}` with the condition dropped (replaced by :math:`\varnothing`) with
        probability ``p_uncond``; without labels, the unconditional loss."""
        return super().loss(x, labels)

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
        return self._reverse(x_T, labels, guidance, steps, eta, keep)

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


class VectorGuidedDDPM(_Guided):
    r"""A diffusion over real vectors conditioned on real vectors, sampled with classifier-free guidance.

    The same guided noise prediction as :class:`GuidedDDPM`, for data and conditions that are
    not images and labels. The data are vectors :math:`\mathbf{z}\in\mathbb{R}^d` (an
    autoencoder's code, a CLIP image embedding), modelled as they are, without grey levels. The
    condition is a vector :math:`\mathbf{c}\in\mathbb{R}^e` (a CLIP embedding) whose linear image
    is added to the time embedding; the null condition :math:`\varnothing` is the zero vector,
    which no unit embedding equals, and its embedding is the layer's bias, learned.

    The estimate :math:`\hat{\mathbf{z}}_0` is clipped to :math:`[-r, r]` (data scaled to about
    unit spread) instead of the pixels' :math:`[-1, 1]`: early in sampling, where
    :math:`\bar\alpha_t \approx 0`, :math:`\hat{\mathbf{z}}_0 = (\mathbf{z}_t -
    \sqrt{1-\bar\alpha_t}\,\boldsymbol\epsilon_\theta)/\sqrt{\bar\alpha_t}` multiplies the
    network's error by :math:`1/\sqrt{\bar\alpha_t}`, and large DDIM steps would carry it to the end.

    Arguments:
        dim: :math:`d`, the size of a data vector.
        cond_dim: :math:`e`, the size of a condition vector.
        p_uncond: probability that training drops the condition.
        guidance: the default guidance weight :math:`w` of :meth:`sample`.
        x0_range: :math:`r`, for data scaled to about unit spread (``None``: no clipping).
        num_steps, schedule, variance: as for :class:`DDPM`.
        hidden: hidden sizes of the :class:`~gdl.nn.TimeMLP`.

    Example:
        >>> model = VectorGuidedDDPM(dim=3, cond_dim=2, num_steps=10, hidden=[8])
        >>> z, c = torch.randn(5, 3), torch.randn(5, 2)
        >>> model.loss(z, c).shape, model.sample(4, condition=torch.randn(4, 2), steps=5).shape
        (torch.Size([]), torch.Size([4, 3]))
    """

    def __init__(self, dim: int, cond_dim: int, p_uncond: float = 0.1, guidance: float = 1.0,
                 x0_range: float | None = 5.0, num_steps: int = 1000, schedule: str | torch.Tensor = "cosine",
                 variance: str = "posterior", hidden: Sequence[int] = (256, 256)):
        dim = checks.positive_int(dim, "dim")
        super().__init__(p_uncond, guidance, event_shape=(dim,), num_levels=2, num_steps=num_steps,
                         schedule=schedule, variance=variance, hidden=hidden)
        self.num_levels = None  # real data: no grey levels (the base class's buffer of levels is unused)
        self.cond_dim = checks.positive_int(cond_dim, "cond_dim")
        self.x0_range = checks.positive(x0_range, "x0_range", optional=True)
        self.condition_embedding = nn.Linear(self.cond_dim, self.time_dim)

    # ------------------------------------------------------------------ what a condition is
    def _check_condition(self, c, n: int, name: str = "condition") -> torch.Tensor:
        c = checks.batch(c, (self.cond_dim,), name, device=self.device)
        if len(c) != n:
            raise ValueError(f"{name} must hold {n} rows, one per example, got {len(c)}")
        return c.float()

    def _null(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.cond_dim, device=self.device)

    def _embed(self, c: torch.Tensor) -> torch.Tensor:
        return self.condition_embedding(c)

    # ------------------------------------------------------------------ real data
    def to_unit(self, z: torch.Tensor) -> torch.Tensor:
        """Data vectors are modelled as they are (finite reals, ``(B, dim)``)."""
        return self._check_noisy(z, "z").float()

    def to_levels(self, z0: torch.Tensor) -> torch.Tensor:
        """The identity: real data have no levels to round to."""
        return z0

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, clip: bool = True) -> torch.Tensor:
        r""":math:`\hat{\mathbf{z}}_0(\mathbf{z}_t, t)`, clipped to :math:`[-r, r]` unless ``clip=False``."""
        x0 = super().predict_x0(x_t, t, clip=False)
        return x0.clamp(-self.x0_range, self.x0_range) if clip and self.x0_range is not None else x0

    def elbo(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Not defined here: the bound of :class:`DDPM` is one on discrete images."""
        raise NotImplementedError("VectorGuidedDDPM models real vectors; it has loss(), not a bound on discrete data")

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def reverse(self, z_T: torch.Tensor, *, condition: torch.Tensor | None = None, guidance: float | None = None,
                steps: int | None = None, eta: float | None = None, keep: bool = False):
        r"""The reverse process from ``z_T`` ``(n, dim)`` guided towards ``condition`` ``(n, cond_dim)``
        with weight ``guidance`` (default: the model's ``guidance``); ``condition=None`` samples the
        unconditional model. See :meth:`DDPM.reverse` for ``steps``, ``eta`` and ``keep``."""
        return self._reverse(z_T, condition, guidance, steps, eta, keep)

    @torch.no_grad()
    def sample(self, n: int, *, condition: torch.Tensor | None = None, guidance: float | None = None,
               steps: int | None = None, eta: float | None = None) -> torch.Tensor:
        """``n`` vectors ``(n, dim)`` given ``condition`` ``(n, cond_dim)`` (default: unconditional),
        guided with weight ``guidance``."""
        n = self._check_n(n)
        z_T = torch.randn(n, *self.event_shape, device=self.device)
        return self.reverse(z_T, condition=condition, guidance=guidance, steps=steps, eta=eta)
