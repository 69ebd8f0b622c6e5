r"""Score-based generative modelling through stochastic differential equations.

A forward SDE :math:`d\mathbf{x} = \mathbf{f}(\mathbf{x}, t)\,dt + g(t)\,d\mathbf{w}` turns
data at :math:`t = 0` into noise at :math:`t = 1`. Two processes run it backwards and share
its marginals :math:`p_t`, given the score :math:`\nabla_{\mathbf{x}}\log p_t`:

.. math::

    d\mathbf{x} = \big[\mathbf{f} - g^2\nabla_{\mathbf{x}}\log p_t(\mathbf{x})\big]dt
    + g\,d\bar{\mathbf{w}} \quad\text{(reverse SDE)},\qquad
    \frac{d\mathbf{x}}{dt} = \mathbf{f} - \tfrac12 g^2\nabla_{\mathbf{x}}\log p_t(\mathbf{x})
    \quad\text{(probability-flow ODE)}.

The ODE is a continuous normalizing flow, so it gives a likelihood
(:func:`gdl.flows.ode.ode_log_prob`). Two SDEs:

* :class:`VPSDE`, variance preserving, :math:`\mathbf{f} = -\frac12\beta(t)\mathbf{x}`,
  :math:`g = \sqrt{\beta(t)}`: the limit of DDPM. Here :math:`\beta(t)` is built from a DDPM
  schedule so that the marginals at :math:`t = i/T` are exactly DDPM's
  :math:`q(\mathbf{x}_i\mid\mathbf{x}_0)`;
* :class:`VESDE`, variance exploding, :math:`\mathbf{f} = 0`,
  :math:`g = \sqrt{d\sigma^2/dt}` with a geometric :math:`\sigma(t)`: the limit of NCSN.

Example:
    >>> import torch
    >>> model = ScoreSDE(event_shape=(1, 3, 3), num_levels=4, sde="vp", hidden=[16])
    >>> x = torch.randint(0, 4, (5, 1, 3, 3))
    >>> model.loss(x).shape, model.sample(2, steps=5).shape, model.ode_nll(x, steps=2).shape
    (torch.Size([]), torch.Size([2, 1, 3, 3]), torch.Size([5]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..flows.ode import ode_log_prob
from ..nn import TimeMLP
from ..taxonomy import register
from .schedules import NoiseSchedule, cosine_betas, linear_betas

__all__ = ["VPSDE", "VESDE", "ScoreSDE"]


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view(len(x), *([1] * (x.dim() - 1)))


class VPSDE(nn.Module):
    r"""The variance-preserving SDE whose marginals are a DDPM schedule's.

    With :math:`\bar\alpha(t)` interpolated log-linearly between the schedule's values
    :math:`\bar\alpha(i/T) = \bar\alpha_i` (and :math:`\bar\alpha(0) = 1`), the rate is
    :math:`\beta(t) = -\frac{d}{dt}\log\bar\alpha(t) = T\log(1/\alpha_i)` on
    :math:`((i-1)/T, i/T]`, and

    .. math::

        \mathbf{x}_t\mid\mathbf{x}_0 \sim \mathcal{N}\big(\sqrt{\bar\alpha(t)}\,\mathbf{x}_0,
        (1-\bar\alpha(t))\,I\big).

    (For the linear schedule, :math:`T\beta_i` is the usual
    :math:`\beta(t) = 0.1 + 19.9t` up to :math:`O(\beta_i^2)`.)

    Arguments:
        schedule: a :class:`~gdl.diffusion.schedules.NoiseSchedule`.

    Example:
        >>> from gdl.diffusion import NoiseSchedule, linear_betas
        >>> s = NoiseSchedule(linear_betas(1000))
        >>> sde = VPSDE(s)
        >>> mean, std = sde.marginal(torch.tensor([0.5]))
        >>> bool(torch.isclose(mean, s.sqrt_alphas_cumprod[499]))
        True
    """

    def __init__(self, schedule: NoiseSchedule):
        super().__init__()
        T = schedule.num_steps
        log_alphas = torch.log1p(-schedule.betas.double())  # float64: 1 - alpha_bar is tiny at first
        log_ab = torch.cat([torch.zeros(1, dtype=torch.float64), log_alphas.cumsum(0)])  # (T+1,)
        self.register_buffer("log_alphas_cumprod", log_ab, persistent=False)
        self.register_buffer("rates", -log_alphas * T, persistent=False)  # beta(t) on each piece
        self.t_min = 1.0 / T  # the first DDPM step

    def _piece(self, t):
        T = len(self.rates)
        pos = (t * T).clamp(0, T)
        i = pos.floor().long().clamp(max=T - 1)
        return i, pos - i

    def log_mean_coef(self, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\frac12\log\bar\alpha(t)`, the log of the mean's coefficient."""
        i, frac = self._piece(t.double())
        la = self.log_alphas_cumprod.double()
        return (0.5 * (la[i] + frac * (la[i + 1] - la[i]))).to(t.dtype)

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean coefficient :math:`\sqrt{\bar\alpha(t)}` and standard deviation
        :math:`\sqrt{1-\bar\alpha(t)}` of :math:`\mathbf{x}_t\mid\mathbf{x}_0`, each of ``t``'s shape."""
        log_m = self.log_mean_coef(t.double())
        return log_m.exp().to(t.dtype), (-torch.expm1(2 * log_m)).clamp_min(0).sqrt().to(t.dtype)

    def noise_level(self, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\lambda(t) = -\log\bar\alpha(t) = \int_0^t\beta`, increasing from 0."""
        return -2 * self.log_mean_coef(t)

    def time_of(self, lam: torch.Tensor) -> torch.Tensor:
        r"""The inverse of :meth:`noise_level`: the time :math:`t` at which :math:`\lambda(t) = \lambda`."""
        grid = -self.log_alphas_cumprod  # (T+1,), increasing
        T = len(self.rates)
        lam64 = lam.double()
        i = (torch.searchsorted(grid, lam64) - 1).clamp(0, T - 1)
        frac = (lam64 - grid[i]) / (grid[i + 1] - grid[i])
        return ((i + frac) / T).to(lam.dtype)

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\beta(t)`, piecewise constant."""
        T = len(self.rates)
        return self.rates[(t.double() * T).ceil().long().clamp(1, T) - 1].to(t.dtype)

    def drift(self, x, t):
        r""":math:`\mathbf{f}(\mathbf{x}, t) = -\frac12\beta(t)\mathbf{x}`."""
        return -0.5 * _col(self.beta(t), x) * x

    def diffusion(self, t):
        """:math:`g(t) = \\sqrt{\\beta(t)}`."""
        return self.beta(t).sqrt()

    def prior_std(self) -> float:
        """Standard deviation of the noise the samplers start from, :math:`\\mathcal{N}(0, I)`."""
        return 1.0


class VESDE(nn.Module):
    r"""The variance-exploding SDE: :math:`d\mathbf{x} = \sqrt{d\sigma^2(t)/dt}\,d\mathbf{w}`,
    :math:`\sigma(t) = \sigma_\min(\sigma_\max/\sigma_\min)^t`.

    .. math::

        \mathbf{x}_t\mid\mathbf{x}_0 \sim \mathcal{N}\big(\mathbf{x}_0,
        (\sigma(t)^2 - \sigma_\min^2)\,I\big),

    and the samplers start from :math:`\mathcal{N}(\mathbf{0}, \sigma_\max^2 I)`.

    Arguments:
        sigma_min: :math:`\sigma_\min`.
        sigma_max: :math:`\sigma_\max`, about the largest distance between two data points.
        t_min: the earliest time used (the noise there is
            :math:`\sigma_\min\sqrt{(\sigma_\max/\sigma_\min)^{2t_\min} - 1}`).
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 10.0, t_min: float = 1e-3):
        super().__init__()
        self.sigma_min = checks.positive(sigma_min, "sigma_min")
        self.sigma_max = checks.number(sigma_max, "sigma_max", low=self.sigma_min, low_open=True)
        self.t_min = checks.number(t_min, "t_min", low=0.0, high=1.0, low_open=True, high_open=True)
        self.log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t):
        return self.sigma_min * torch.exp(t * self.log_ratio)

    def marginal(self, t):
        """Mean coefficient 1 and standard deviation :math:`\\sqrt{\\sigma(t)^2 - \\sigma_\\min^2}`."""
        std = self.sigma_min * torch.expm1(2 * t * self.log_ratio).clamp_min(0).sqrt()
        return torch.ones_like(t), std

    def drift(self, x, t):
        return torch.zeros_like(x)

    def diffusion(self, t):
        r""":math:`g(t) = \sigma(t)\sqrt{2\log(\sigma_\max/\sigma_\min)}`."""
        return self.sigma(t) * math.sqrt(2 * self.log_ratio)

    def prior_std(self) -> float:
        return self.sigma_max


@register("diffusion", "score")
class ScoreSDE(GenerativeModel):
    r"""A score model of dequantized integer images, with reverse-SDE and probability-flow samplers.

    Pixels :math:`x\in\{0..L-1\}` are dequantized, :math:`y = x + u`, :math:`u\sim U[0,1)`, and
    mapped to :math:`\mathbf{x}_0 = 2\mathbf{y}/L - 1`. A :class:`~gdl.nn.TimeMLP` predicts the
    noise of :math:`\mathbf{x}_t = m(t)\mathbf{x}_0 + \sigma(t)\boldsymbol\epsilon` (its input
    scaled by :math:`1/\sqrt{m^2+\sigma^2}`), trained by

    .. math::

        \mathcal{L} = \mathbb{E}_{t\sim U[t_\min, 1]}\,\big\lVert\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)
        - \boldsymbol\epsilon\big\rVert^2,\qquad
        \mathbf{s}_\theta(\mathbf{x}, t) = -\boldsymbol\epsilon_\theta(\mathbf{x}, t)/\sigma(t),

    denoising score matching with the weight :math:`\sigma(t)^2`. :meth:`ode_nll` is the
    probability-flow likelihood on the integer scale (the scaling term :math:`D\log(2/L)`
    counted): with the exact divergence and a fine solver it would bound the discrete NLL;
    with a finite solver (and :math:`t_\min > 0`) it is an estimate.

    Arguments:
        event_shape: shape of one image.
        num_levels: grey levels :math:`L`.
        sde: ``"vp"`` (:class:`VPSDE`) or ``"ve"`` (:class:`VESDE`).
        num_steps: :math:`T` of the DDPM schedule the VP SDE is matched to.
        schedule: ``"linear"`` or ``"cosine"``, the DDPM schedule (VP only). The cosine
            schedule's last :math:`\beta_T = 0.999` makes :math:`\beta(t)` jump to about
            :math:`T\log 1000` near :math:`t = 1`, a stiff ODE for a coarse solver.
        sigma_min: :math:`\sigma_\min` (VE only).
        sigma_max: :math:`\sigma_\max` (VE only).
        hidden: hidden sizes of the network.

    References:
        Song, Sohl-Dickstein, Kingma, Kumar, Ermon and Poole, *Score-Based Generative Modeling
        through Stochastic Differential Equations*, ICLR 2021, https://arxiv.org/abs/2011.13456 .
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        sde: str = "vp",
        num_steps: int = 1000,
        schedule: str = "linear",
        sigma_min: float = 0.01,
        sigma_max: float = 10.0,
        hidden: Sequence[int] = (256, 256),
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.num_levels = checks.num_levels(num_levels)
        self.dims = math.prod(self.event_shape)
        self.kind = checks.one_of(sde, "sde", ("vp", "ve"))
        hidden = checks.ints(hidden, "hidden")
        if sde == "vp":
            num_steps = checks.positive_int(num_steps, "num_steps")
            betas = {"cosine": cosine_betas, "linear": linear_betas}[
                checks.one_of(schedule, "schedule", ("cosine", "linear"))](num_steps)
            self.sde = VPSDE(NoiseSchedule(betas))
        else:
            self.sde = VESDE(sigma_min, sigma_max)
        self.net = TimeMLP(self.event_shape, hidden)

    # ------------------------------------------------------------------ scales
    def to_unit(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        r"""Integer pixels to dequantized :math:`2(\mathbf{x}+\mathbf{u})/L - 1\in[-1, 1)`."""
        x = self._check_data(x)
        u = torch.rand(x.shape, generator=generator).to(device=x.device, dtype=self._dtype())
        return (x + u) * (2 / self.num_levels) - 1

    def to_levels(self, x0: torch.Tensor) -> torch.Tensor:
        """Values on the :math:`[-1, 1]` scale to grey levels ``0 .. L-1``."""
        return ((x0 + 1) * (self.num_levels / 2)).floor().clamp(0, self.num_levels - 1).long()

    def _times(self, t, x: torch.Tensor) -> torch.Tensor:
        if isinstance(t, torch.Tensor):
            t = t.to(device=x.device, dtype=x.dtype)
            t = t.expand(len(x)) if t.dim() == 0 else t
            if t.shape != (len(x),) or not ((t > 0) & (t <= 1)).all():
                raise ValueError(f"t must lie in (0, 1], a scalar or shape ({len(x)},)")
            return t
        checks.number(t, "t", low=0.0, high=1.0, low_open=True)
        return torch.full((len(x),), float(t), device=x.device, dtype=x.dtype)

    # ------------------------------------------------------------------ the score
    def predict_noise(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\boldsymbol\epsilon_\theta(\mathbf{x}, t)`; ``t`` in :math:`(0, 1]`, ``(B,)``."""
        m, std = self.sde.marginal(t)
        c_in = _col((m**2 + std**2).rsqrt(), x)  # unit-variance input for either SDE
        return self.net(c_in * x, t * 1000)

    def score(self, x: torch.Tensor, t) -> torch.Tensor:
        r""":math:`\mathbf{s}_\theta(\mathbf{x}, t) \approx \nabla_{\mathbf{x}}\log p_t(\mathbf{x})`
        on the :math:`[-1, 1]` scale; ``t`` a number or ``(B,)`` tensor in :math:`(0, 1]`."""
        x = self._check_event(x)
        if not x.is_floating_point():
            raise ValueError(f"x must hold real numbers (the [-1, 1] scale), got dtype {x.dtype}")
        t = self._times(t, x)
        _, std = self.sde.marginal(t)
        return -self.predict_noise(x, t) / _col(std, x)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        r"""Denoising score matching (noise prediction) at a uniform random time."""
        x0 = self.to_unit(x)
        t_min = self.sde.t_min
        t = t_min + (1 - t_min) * torch.rand(len(x0), device=x0.device, dtype=x0.dtype)
        m, std = self.sde.marginal(t)
        eps = torch.randn_like(x0)
        return F.mse_loss(self.predict_noise(_col(m, x0) * x0 + _col(std, x0) * eps, t), eps)

    # ------------------------------------------------------------------ sampling
    def ode_field(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""The probability-flow field :math:`\mathbf{f} - \frac12 g^2\mathbf{s}_\theta`."""
        g = _col(self.sde.diffusion(t), x)
        return self.sde.drift(x, t) - 0.5 * g**2 * self.score(x, t)

    def _vp_field_in_log_noise_level(self, x, log_lam):
        r"""The VP probability-flow field per unit :math:`\log\lambda`:
        :math:`-\frac12\lambda(\mathbf{x} + \mathbf{s}_\theta)`, the field per unit time
        :math:`-\frac12\beta(t)(\mathbf{x}+\mathbf{s}_\theta)` divided by
        :math:`d\log\lambda/dt = \beta(t)/\lambda`. :math:`\beta(t)` jumps where the DDPM
        schedule steps; this field does not, and its rate stays below one at low noise."""
        lam = log_lam.exp()
        return -0.5 * lam.view(-1, *([1] * (x.dim() - 1))) * (x + self.score(x, self.sde.time_of(lam)))

    @torch.no_grad()
    def reverse(self, x1: torch.Tensor, steps: int = 500, method: str = "sde") -> torch.Tensor:
        r"""From noise ``x1`` at :math:`t = 1` to :math:`t_\min`, on the :math:`[-1, 1]` scale.

        ``"sde"``: Euler-Maruyama on the reverse SDE,
        :math:`\mathbf{x}\leftarrow\mathbf{x} - h[\mathbf{f} - g^2\mathbf{s}_\theta] + g\sqrt{h}\,\mathbf{z}`;
        ``"ode"``: Euler's method on the probability-flow ODE. The last step adds no noise.
        """
        steps = checks.positive_int(steps, "steps")
        checks.one_of(method, "method", ("sde", "ode"))
        x = x1
        t_min = self.sde.t_min
        h = (1 - t_min) / steps
        for k in range(steps):
            t = torch.full((len(x),), 1 - k * h, device=x.device, dtype=x.dtype)
            if method == "ode":
                x = x - h * self.ode_field(x, t)
                continue
            g = _col(self.sde.diffusion(t), x)
            x = x - h * (self.sde.drift(x, t) - g**2 * self.score(x, t))
            if k < steps - 1:
                x = x + g * math.sqrt(h) * torch.randn_like(x)
        return x

    @torch.no_grad()
    def sample(self, n: int, steps: int = 500, method: str = "sde") -> torch.Tensor:
        """Draw ``n`` images with ``steps`` steps of the reverse SDE (``method="sde"``) or the
        probability-flow ODE (``"ode"``), as int64 levels ``(n, *event_shape)``."""
        n = self._check_n(n)
        x1 = torch.randn(n, *self.event_shape, device=self.device) * self.sde.prior_std()
        return self.to_levels(self.reverse(x1, steps, method))

    # ------------------------------------------------------------------ likelihood
    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log\\mathcal{N}(\\mathbf{x}; 0, \\sigma_1^2 I)`, the density at :math:`t = 1`, ``(B,)``."""
        s = self.sde.prior_std()
        return (-0.5 * (x / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)

    def ode_nll(self, x: torch.Tensor, steps: int = 50, method: str = "rk4", exact: bool = True,
                generator: torch.Generator | None = None) -> torch.Tensor:
        r"""An estimate of :math:`-\log P(\mathbf{x})` for integer images by the probability-flow ODE.

        .. math::

            -\log P(\mathbf{x}) \lesssim -\log p_{t_\min}(\mathbf{x}_0) - D\log\frac{2}{L},\quad
            \log p_{t_\min}(\mathbf{x}_0) = \log p_1(\mathbf{x}(1))
            + \int_{t_\min}^{1}\nabla\cdot\tilde{\mathbf{f}}(\mathbf{x}(t), t)\,dt,

        for one dequantized :math:`\mathbf{x}_0` per image, the divergence of every solver step
        summed (:func:`gdl.flows.ode.ode_log_prob`). The VP ODE is solved in
        :math:`\log\lambda`, :math:`\lambda = -\log\bar\alpha(t)`, instead of :math:`t`: the same
        path and the same integral, but a field without the jumps of :math:`\beta(t)` (which
        an RK4 step would straddle) and with equal steps spread evenly over the noise scales.

        Arguments:
            x: integer images ``(B, *event_shape)``.
            steps: solver steps from :math:`t_\min` to 1.
            method: ``"rk4"`` or ``"euler"``.
            exact: exact divergence (``False``: Hutchinson's estimate).
            generator: random numbers of the dequantization and the probes.

        Returns:
            nats per image, shape ``(B,)``.
        """
        x0 = self.to_unit(x, generator)
        field, t0, t1 = self.ode_field, self.sde.t_min, 1.0
        if self.kind == "vp":  # integrate in log lambda, lambda = -log alpha_bar: no jumps, not stiff
            field = self._vp_field_in_log_noise_level
            t0, t1 = (self.sde.noise_level(torch.tensor([t], dtype=torch.float64)).log().item() for t in (t0, t1))
        log_p = ode_log_prob(field, x0, self.prior_log_prob, t0=t0, t1=t1,
                             steps=steps, method=method, exact=exact, generator=generator)
        return -(log_p + self.dims * math.log(2 / self.num_levels))
