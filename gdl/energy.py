r"""Energy-based models: a scalar energy, Langevin sampling and contrastive divergence.

**Sign conventions** (the same everywhere in gdl). An energy-based model assigns every point
an energy :math:`E_\theta(\mathbf{x})` and defines the Boltzmann distribution

.. math::

    p_\theta(\mathbf{x}) = \frac{\exp(-E_\theta(\mathbf{x}))}{Z_\theta},\qquad
    Z_\theta = \int \exp(-E_\theta(\mathbf{x}))\,d\mathbf{x},

so *lower energy is likelier*, and the score is :math:`\nabla_\mathbf{x}\log p_\theta =
-\nabla_\mathbf{x} E_\theta`. Langevin dynamics moves *down* the energy,

.. math::

    \mathbf{x}_{k+1} = \mathbf{x}_k - \frac{\epsilon}{2}\nabla_\mathbf{x} E_\theta(\mathbf{x}_k)
    + \sqrt{\epsilon}\,\boldsymbol\xi_k,\qquad \boldsymbol\xi_k \sim \mathcal{N}(\mathbf{0}, \mathbf{I}),

and the contrastive-divergence loss *lowers* the energy of data and *raises* that of samples,

.. math::

    \mathcal{L}(\theta) = \mathbb{E}_{\text{data}}[E_\theta(\mathbf{x}^+)]
    - \mathbb{E}_{\text{model}}[E_\theta(\mathbf{x}^-)]
    + \alpha\left(\mathbb{E}[E_\theta(\mathbf{x}^+)^2] + \mathbb{E}[E_\theta(\mathbf{x}^-)^2]\right).

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = langevin(lambda x: 0.5 * x.pow(2).sum(-1), torch.zeros(4000, 2), steps=300, step_size=0.05)
    >>> round(x.var().item(), 1)  # E = |x|^2 / 2 is the standard normal
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from . import _checks as checks
from .base import GenerativeModel
from .nn import MLP
from .taxonomy import register

__all__ = ["EBM", "langevin"]


def langevin(
    energy: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    noise_scale: float | None = None,
    grad_clip: float | None = None,
    clamp: tuple[float, float] | None = None,
    return_trajectory: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Unadjusted Langevin dynamics down an energy :math:`E`.

    .. math::

        \mathbf{x}_{k+1} = \mathbf{x}_k - \frac{\epsilon}{2}\nabla_\mathbf{x} E(\mathbf{x}_k)
        + \sigma\,\boldsymbol\xi_k,\qquad \boldsymbol\xi_k \sim \mathcal{N}(\mathbf{0}, \mathbf{I}).

    With the default :math:`\sigma = \sqrt{\epsilon}` the chain samples
    :math:`p(\mathbf{x}) \propto \exp(-E(\mathbf{x}))` as :math:`\epsilon \to 0` and the number of
    steps grows (Welling and Teh, 2011). Another noise scale samples the tempered
    :math:`\exp(-E/T)` with temperature :math:`T = \sigma^2/\epsilon`; :math:`T < 1` sharpens
    the distribution towards its modes (many EBM papers use a tiny :math:`\sigma` this way),
    and :math:`\sigma = 0` is plain gradient descent on :math:`E`.

    Gradients with respect to ``x`` are switched on inside, so this works under
    ``torch.no_grad()``; no gradient reaches the energy's parameters, and the result is detached.

    Arguments:
        energy: maps a batch ``(B, ...)`` to energies ``(B,)``; each energy may depend only on
            its own example.
        x: starting points ``(B, ...)``, floating point.
        steps: number of updates (0 returns ``x``).
        step_size: :math:`\epsilon > 0`.
        noise_scale: :math:`\sigma \ge 0`; default :math:`\sqrt{\epsilon}`.
        grad_clip: if given, clip each gradient entry to ``[-grad_clip, grad_clip]``.
        clamp: if given, ``(low, high)``: clip the state after every step to this box.
        return_trajectory: also return every state, shape ``(steps + 1, B, ...)``.

    Returns:
        The final states ``(B, ...)``, and the trajectory if asked for.

    Example:
        >>> import torch
        >>> x = langevin(lambda x: (x - 3).pow(2).sum(-1), torch.zeros(5, 2), steps=200,
        ...              step_size=0.1, noise_scale=0.0)  # no noise: gradient descent to the mode
        >>> torch.allclose(x, torch.full((5, 2), 3.0))
        True

    References:
        Welling and Teh, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*,
        ICML 2011. https://www.stats.ox.ac.uk/~teh/research/compstats/WelTeh2011a.pdf
    """
    steps = checks.int_at_least(steps, "steps", 0)
    step_size = checks.positive(step_size, "step_size")
    noise_scale = math.sqrt(step_size) if noise_scale is None else noise_scale
    noise_scale = checks.number(noise_scale, "noise_scale", low=0.0)
    grad_clip = checks.positive(grad_clip, "grad_clip", optional=True)
    if not checks.tensor(x).is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    x = x.detach().clone()
    trajectory = [x] if return_trajectory else None
    with torch.enable_grad():
        for _ in range(steps):
            x_in = x.detach().requires_grad_(True)  # a fresh leaf: stored states stay untouched
            # The sum's gradient is every example's own gradient, since energies are per example.
            (grad,) = torch.autograd.grad(energy(x_in).sum(), x_in)
            if grad_clip is not None:
                grad = grad.clamp(-grad_clip, grad_clip)
            x = x - 0.5 * step_size * grad + noise_scale * torch.randn_like(x)
            if clamp is not None:
                x = x.clamp(*clamp)
            if trajectory is not None:
                trajectory.append(x)
    if trajectory is not None:
        return x, torch.stack(trajectory)
    return x


@register("energy", "unnormalised")
class EBM(GenerativeModel):
    r"""An energy-based model trained by contrastive divergence with a replay buffer.

    An MLP with smooth (SiLU) activations maps a point to its energy
    :math:`E_\theta(\mathbf{x})`, and :math:`p_\theta(\mathbf{x}) \propto \exp(-E_\theta(\mathbf{x}))`.
    The gradient of the log-likelihood needs samples of the model,

    .. math::

        \nabla_\theta \log p_\theta(\mathbf{x}) = -\nabla_\theta E_\theta(\mathbf{x})
        + \mathbb{E}_{\mathbf{x}^-\sim p_\theta}\big[\nabla_\theta E_\theta(\mathbf{x}^-)\big],

    which :meth:`loss` supplies by Langevin chains (:func:`langevin`). The chains are persistent
    (Du and Mordatch, 2019): each step starts ``batch`` chains from a replay buffer of earlier
    negatives (a fraction ``reinit`` from fresh uniform noise), runs ``steps`` updates and
    writes the results back. The loss is

    .. math::

        \mathcal{L} = \overline{E_\theta(\mathbf{x}^+)} - \overline{E_\theta(\mathbf{x}^-)}
        + \alpha\left(\overline{E_\theta(\mathbf{x}^+)^2} + \overline{E_\theta(\mathbf{x}^-)^2}\right),

    averaged over the batch; the :math:`\alpha` term keeps energies near zero, as otherwise both
    can drift off together without changing the difference.

    **Scales.** Chains start uniformly in the box ``bounds`` and are clipped to it. With
    ``rescale=True`` the model works internally on :math:`[-1, 1]`, mapped linearly from
    ``bounds`` (for digits, ``bounds=(0, 16)``): the network, the step size and the noise are
    then in those internal units, while :meth:`energy`, :meth:`langevin` and :meth:`sample`
    take and return points on the data scale. A linear map changes :math:`Z` only, not which
    points are likely.

    Arguments:
        event_shape: shape of one example, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden sizes of the energy MLP (on the flattened input).
        bounds: ``(low, high)``: the box where chains start and stay, in data units.
        rescale: map ``bounds`` to :math:`[-1, 1]` inside the model.
        alpha: weight :math:`\alpha \ge 0` of the energy regulariser.
        steps: Langevin updates per training step.
        step_size: :math:`\epsilon` of :func:`langevin`.
        noise_scale: :math:`\sigma` of :func:`langevin`; default :math:`\sqrt{\epsilon}` (true
            Langevin; a smaller value samples a colder distribution).
        grad_clip: clip each Langevin gradient entry to this size (``None``: no clipping).
        buffer_size: number of persistent chains kept in the replay buffer.
        reinit: probability that a chain restarts from uniform noise.
        data_noise: standard deviation of Gaussian noise added to training data (internal
            units); it smooths the energy around discrete data such as grey levels.
        sample_steps: Langevin updates used by :meth:`sample`.

    Example:
        >>> import torch
        >>> model = EBM(event_shape=(2,), hidden=[16], steps=5, buffer_size=64)
        >>> x = torch.randn(8, 2)
        >>> model.energy(x).shape, model.loss(x).shape, model.sample(3).shape
        (torch.Size([8]), torch.Size([]), torch.Size([3, 2]))

    References:
        LeCun, Chopra, Hadsell, Ranzato and Huang, *A Tutorial on Energy-Based Learning*, 2006.
        http://yann.lecun.com/exdb/publis/pdf/lecun-06.pdf ;
        Hinton, *Training Products of Experts by Minimizing Contrastive Divergence*, Neural
        Computation 2002. https://doi.org/10.1162/089976602760128018 ;
        Du and Mordatch, *Implicit Generation and Modeling with Energy Based Models*, NeurIPS
        2019. https://arxiv.org/abs/1903.08689
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        *,
        hidden: Sequence[int] = (128, 128),
        bounds: tuple[float, float] = (-4.0, 4.0),
        rescale: bool = False,
        alpha: float = 0.1,
        steps: int = 30,
        step_size: float = 0.02,
        noise_scale: float | None = None,
        grad_clip: float | None = None,
        buffer_size: int = 10_000,
        reinit: float = 0.05,
        data_noise: float = 0.0,
        sample_steps: int = 200,
    ):
        super().__init__()
        self.event_shape = event_shape = checks.event_shape(event_shape)
        low, high = (checks.number(b, "bounds") for b in bounds)
        if not low < high:
            raise ValueError(f"bounds must be (low, high) with low < high, got {bounds!r}")
        self.bounds, self.rescale = (low, high), bool(rescale)
        self.box = (-1.0, 1.0) if rescale else (low, high)  # the box in internal units
        self.alpha = checks.number(alpha, "alpha", low=0.0)
        self.steps = checks.positive_int(steps, "steps")
        self.step_size = checks.positive(step_size, "step_size")
        self.noise_scale = checks.number(noise_scale, "noise_scale", low=0.0, optional=True)
        self.grad_clip = checks.positive(grad_clip, "grad_clip", optional=True)
        self.reinit = checks.probability(reinit, "reinit", include_one=True)
        self.data_noise = checks.number(data_noise, "data_noise", low=0.0)
        self.sample_steps = checks.positive_int(sample_steps, "sample_steps")
        buffer_size = checks.positive_int(buffer_size, "buffer_size")
        self.net = MLP(math.prod(event_shape), hidden, 1, activation=nn.SiLU)
        # The persistent chains, in internal units; a buffer, so it is saved with the model.
        self.register_buffer("replay", self._uniform(buffer_size))

    # ------------------------------------------------------------------ scales
    def _to_internal(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.replay.dtype)
        if not self.rescale:
            return x
        low, high = self.bounds
        return 2 * (x - low) / (high - low) - 1

    def _to_data(self, u: torch.Tensor) -> torch.Tensor:
        if self.rescale:
            low, high = self.bounds
            u = (u + 1) * (high - low) / 2 + low
        return u.clamp(*self.bounds)

    def _uniform(self, n: int) -> torch.Tensor:
        low, high = self.box
        device = self.replay.device if hasattr(self, "replay") else None
        return low + (high - low) * torch.rand(n, *self.event_shape, device=device)

    # ------------------------------------------------------------------ energy and sampling
    def _energy(self, u: torch.Tensor) -> torch.Tensor:
        return self.net(u.flatten(1)).squeeze(-1)  # (B, D) -> (B,)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        r"""The energy :math:`E_\theta(\mathbf{x})`, shape ``(B,)``; lower is likelier.

        Arguments:
            x: points on the data scale, shape ``(B, *event_shape)`` (integers are accepted).
        """
        return self._energy(self._to_internal(self._check_event(x)))

    def _langevin(self, u: torch.Tensor, steps: int, return_trajectory: bool = False):
        return langevin(
            self._energy, u, steps=steps, step_size=self.step_size, noise_scale=self.noise_scale,
            grad_clip=self.grad_clip, clamp=self.box, return_trajectory=return_trajectory,
        )

    def langevin(
        self, x: torch.Tensor, steps: int | None = None, *, return_trajectory: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        r"""Run the model's Langevin chains from ``x`` (data scale) for ``steps`` updates.

        Arguments:
            x: starting points, shape ``(B, *event_shape)``.
            steps: number of updates (default ``sample_steps``).
            return_trajectory: also return every state, ``(steps + 1, B, *event_shape)``.

        Returns:
            The final points on the data scale (clipped to ``bounds``), and the trajectory if
            asked for.
        """
        steps = self.sample_steps if steps is None else checks.int_at_least(steps, "steps", 0)
        out = self._langevin(self._to_internal(self._check_event(x)), steps, return_trajectory)
        if return_trajectory:
            return self._to_data(out[0]), self._to_data(out[1])
        return self._to_data(out)

    def sample(self, n: int, *, steps: int | None = None, from_buffer: bool = False) -> torch.Tensor:
        r"""Draw ``n`` samples by Langevin dynamics.

        Arguments:
            n: number of samples.
            steps: Langevin updates (default ``sample_steps``).
            from_buffer: start from random chains of the replay buffer (the long-run chains
                training has been refining) instead of uniform noise in ``bounds``.

        Returns:
            Points on the data scale, shape ``(n, *event_shape)``, clipped to ``bounds``.
        """
        n = self._check_n(n)
        steps = self.sample_steps if steps is None else checks.int_at_least(steps, "steps", 0)
        if from_buffer:
            u = self.replay[torch.randint(len(self.replay), (n,), device=self.replay.device)]
        else:
            u = self._uniform(n)
        return self._to_data(self._langevin(u, steps))

    # ------------------------------------------------------------------ training
    def negatives(self, batch_size: int) -> torch.Tensor:
        r"""Langevin samples :math:`\mathbf{x}^-` from the replay buffer (internal units).

        Draws ``batch_size`` chains from the buffer, restarts a fraction ``reinit`` of them from
        uniform noise, runs ``steps`` Langevin updates and writes the chains back.
        """
        idx = torch.randint(len(self.replay), (batch_size,), device=self.replay.device)
        u = self.replay[idx]
        fresh = torch.rand(batch_size, device=u.device) < self.reinit
        u = torch.where(fresh.view(-1, *[1] * len(self.event_shape)), self._uniform(batch_size), u)
        u = self._langevin(u, self.steps)
        self.replay[idx] = u
        return u

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        r"""The parts of the loss on a batch ``x``: ``"loss"``, ``"cd"`` (the contrastive
        divergence :math:`\overline{E(\mathbf{x}^+)} - \overline{E(\mathbf{x}^-)}`), and the
        mean energies ``"energy_data"`` and ``"energy_model"``. Draws negatives (see
        :meth:`negatives`), so it advances the replay buffer.
        """
        u_pos = self._to_internal(self._check_event(x))
        if self.data_noise > 0:
            u_pos = u_pos + self.data_noise * torch.randn_like(u_pos)
        u_neg = self.negatives(len(x))
        e_pos, e_neg = self._energy(u_pos), self._energy(u_neg)  # (B,) each
        cd = e_pos.mean() - e_neg.mean()
        regulariser = self.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        return {
            "loss": cd + regulariser,
            "cd": cd,
            "energy_data": e_pos.mean(),
            "energy_model": e_neg.mean(),
        }

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        r"""The regularised contrastive-divergence loss on a batch ``x`` (data scale).

        Its gradient lowers the energy of the data and raises the energy of the Langevin
        negatives; at equilibrium, model samples and data have the same mean energy.
        """
        return self.loss_terms(x)["loss"]

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One step on ``batch``; logs the loss, the contrastive divergence and both mean energies."""
        terms = self.loss_terms(batch)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        return {k: v.item() for k, v in terms.items()}
