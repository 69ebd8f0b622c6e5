r"""Noise schedules of the diffusion forward process and its closed forms.

The forward process adds Gaussian noise in :math:`T` small steps,

.. math::

    q(\mathbf{x}_t \mid \mathbf{x}_{t-1}) = \mathcal{N}\big(\sqrt{1-\beta_t}\,\mathbf{x}_{t-1},
    \beta_t \mathbf{I}\big),

and a schedule is the sequence :math:`\beta_1, \dots, \beta_T`. Everything else follows from it
in closed form, with :math:`\alpha_t = 1 - \beta_t` and :math:`\bar\alpha_t = \prod_{s\le t}\alpha_s`:

* the marginal :math:`q(\mathbf{x}_t\mid\mathbf{x}_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,\mathbf{x}_0,
  (1-\bar\alpha_t)\mathbf{I})`, so :math:`\mathbf{x}_t` can be drawn in one step;
* the posterior :math:`q(\mathbf{x}_{t-1}\mid\mathbf{x}_t,\mathbf{x}_0) =
  \mathcal{N}(\tilde{\boldsymbol\mu}_t, \tilde\beta_t\mathbf{I})` with
  :math:`\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t` and
  :math:`\tilde{\boldsymbol\mu}_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}\mathbf{x}_0
  + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\mathbf{x}_t`.

:class:`NoiseSchedule` stores each as a buffer named after its formula (``betas``,
``alphas_cumprod``, ``sqrt_alphas_cumprod``, ``posterior_variance``, ...).

**Indexing.** The paper counts steps :math:`t = 1, \dots, T`; the tensors are indexed from 0,
so entry ``i`` of every buffer belongs to step :math:`t = i + 1` (as in the original code).

Example:
    >>> s = NoiseSchedule(linear_betas(1000))
    >>> round(s.alphas_cumprod[-1].item(), 6), s.posterior_variance[0].item()
    (4e-05, 0.0)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import _checks as checks

__all__ = ["linear_betas", "cosine_betas", "NoiseSchedule"]


def linear_betas(
    num_steps: int, beta_start: float | None = None, beta_end: float | None = None
) -> torch.Tensor:
    r"""The linear schedule of Ho et al.: :math:`\beta_t` evenly spaced from ``beta_start`` to
    ``beta_end``.

    The defaults are the paper's :math:`10^{-4}` and :math:`0.02` for :math:`T = 1000`, scaled by
    :math:`1000 / T` for other lengths so that the total noise
    :math:`\sum_t \beta_t` (and hence :math:`\bar\alpha_T`) stays about the same.

    Arguments:
        num_steps: :math:`T`.
        beta_start: :math:`\beta_1`.
        beta_end: :math:`\beta_T`.

    Returns:
        :math:`\beta_1, \dots, \beta_T`, float64, shape ``(T,)``.

    Example:
        >>> linear_betas(4, 0.1, 0.4)
        tensor([0.1000, 0.2000, 0.3000, 0.4000], dtype=torch.float64)
    """
    checks.positive_int(num_steps, "num_steps")
    scale = 1000 / num_steps
    beta_start = 1e-4 * scale if beta_start is None else beta_start
    beta_end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(
            f"need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}"
        )
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    r"""The cosine schedule of Nichol and Dhariwal: :math:`\bar\alpha_t` follows a squared cosine.

    .. math::

        \bar\alpha_t = \frac{f(t)}{f(0)},\quad f(t) = \cos^2\Big(\frac{t/T + s}{1 + s}
        \cdot\frac{\pi}{2}\Big),\qquad \beta_t = 1 - \frac{\bar\alpha_t}{\bar\alpha_{t-1}},

    clipped at ``max_beta`` near :math:`t = T`. The signal is destroyed more gently than by the
    linear schedule, whose last quarter of steps is almost pure noise. The offset :math:`s`
    sets the smallest noise level: :math:`\beta_1` grows with :math:`s` (and shrinks with
    :math:`T`).

    Arguments:
        num_steps: :math:`T`.
        s: small offset that keeps :math:`\beta_1` away from zero.
        max_beta: the largest :math:`\beta_t` allowed.

    Returns:
        :math:`\beta_1, \dots, \beta_T`, float64, shape ``(T,)``.

    Example:
        >>> b = cosine_betas(1000)
        >>> bool((b[1:] >= b[:-1]).all()), b[-1].item()
        (True, 0.999)

    References:
        Nichol and Dhariwal, *Improved Denoising Diffusion Probabilistic Models*, ICML 2021.
        https://arxiv.org/abs/2102.09672
    """
    checks.positive_int(num_steps, "num_steps")
    s = checks.number(s, "s", low=0.0)
    max_beta = checks.number(max_beta, "max_beta", low=0.0, high=1.0, low_open=True, high_open=True)
    t = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]  # \bar\alpha_0 = 1, ..., \bar\alpha_T
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    return betas.clamp(max=max_beta)


class NoiseSchedule(nn.Module):
    r"""A noise schedule :math:`\beta_{1..T}` and every closed form derived from it, as buffers.

    Buffers (float32, shape ``(T,)``, entry ``i`` for step :math:`t = i + 1`):
    ``betas`` :math:`\beta_t`, ``alphas`` :math:`\alpha_t`, ``alphas_cumprod``
    :math:`\bar\alpha_t`, ``alphas_cumprod_prev`` :math:`\bar\alpha_{t-1}` (with
    :math:`\bar\alpha_0 = 1`), ``sqrt_alphas_cumprod``, ``sqrt_one_minus_alphas_cumprod``,
    ``posterior_variance`` :math:`\tilde\beta_t`, ``posterior_mean_coef1`` (the weight of
    :math:`\mathbf{x}_0` in :math:`\tilde{\boldsymbol\mu}_t`) and ``posterior_mean_coef2`` (the
    weight of :math:`\mathbf{x}_t`). They are computed in float64 and then rounded.

    Arguments:
        betas: :math:`\beta_1, \dots, \beta_T`, each in :math:`(0, 1)`.

    Example:
        >>> import torch
        >>> s = NoiseSchedule(cosine_betas(100))
        >>> x0 = torch.ones(4, 3)
        >>> t = torch.tensor([0, 10, 50, 99])
        >>> mean, var = s.q_mean_variance(x0, t)
        >>> torch.allclose(mean ** 2 + var, torch.ones_like(var))  # unit-variance data stays so
        True
    """

    def __init__(self, betas: torch.Tensor):
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.dim() != 1 or len(betas) == 0:
            raise ValueError(
                f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}"
            )
        if not ((betas > 0) & (betas < 1)).all():
            raise ValueError("betas must lie in (0, 1)")
        alphas = 1 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        buffers = {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            "posterior_variance": betas * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod),
            "posterior_mean_coef1": betas * alphas_cumprod_prev.sqrt() / (1 - alphas_cumprod),
            "posterior_mean_coef2": alphas.sqrt() * (1 - alphas_cumprod_prev) / (1 - alphas_cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float())

    @property
    def num_steps(self) -> int:
        """:math:`T`, the number of noising steps."""
        return len(self.betas)

    def at(self, buffer: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Entries ``buffer[t]`` for 0-based steps ``t`` (a scalar or ``(B,)``), shaped
        ``(B, 1, ..., 1)`` to broadcast against ``x``; raises a ValueError for invalid steps."""
        t = torch.as_tensor(t, device=buffer.device)
        if t.dim() == 0:
            t = t.expand(len(x))
        if t.shape != (len(x),):
            raise ValueError(f"t must be a scalar or have shape ({len(x)},), got {tuple(t.shape)}")
        if t.dtype.is_floating_point or t.min() < 0 or t.max() >= self.num_steps:
            raise ValueError(f"t must hold integer steps in 0..{self.num_steps - 1}")
        return buffer[t].view(len(x), *([1] * (x.dim() - 1)))

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean :math:`\sqrt{\bar\alpha_t}\,\mathbf{x}_0` and variance :math:`1-\bar\alpha_t` of
        :math:`q(\mathbf{x}_t\mid\mathbf{x}_0)`; ``t`` holds 0-based steps, shape ``(B,)``."""
        mean = self.at(self.sqrt_alphas_cumprod, t, x0) * x0
        variance = self.at(1 - self.alphas_cumprod, t, x0).expand_as(x0)
        return mean, variance

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None):
        r"""Draw :math:`\mathbf{x}_t \sim q(\mathbf{x}_t\mid\mathbf{x}_0)` in one step (reparameterised).

        .. math::

            \mathbf{x}_t = \sqrt{\bar\alpha_t}\,\mathbf{x}_0 + \sqrt{1-\bar\alpha_t}\,
            \boldsymbol\epsilon,\qquad \boldsymbol\epsilon\sim\mathcal{N}(\mathbf{0},\mathbf{I}).

        Arguments:
            x0: clean data, shape ``(B, ...)``.
            t: 0-based steps, shape ``(B,)`` (or a scalar for all).
            noise: :math:`\boldsymbol\epsilon`, shape of ``x0``; drawn if ``None``.

        Returns:
            :math:`\mathbf{x}_t`, shape of ``x0``.
        """
        noise = torch.randn_like(x0) if noise is None else noise
        return (
            self.at(self.sqrt_alphas_cumprod, t, x0) * x0
            + self.at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise
        )

    def q_posterior(
        self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean :math:`\tilde{\boldsymbol\mu}_t(\mathbf{x}_t, \mathbf{x}_0)` and variance
        :math:`\tilde\beta_t` of :math:`q(\mathbf{x}_{t-1}\mid\mathbf{x}_t,\mathbf{x}_0)`."""
        mean = self.at(self.posterior_mean_coef1, t, x_t) * x0 + self.at(
            self.posterior_mean_coef2, t, x_t
        ) * x_t
        return mean, self.at(self.posterior_variance, t, x_t).expand_as(x_t)

    def x0_from_noise(self, x_t: torch.Tensor, t: torch.Tensor, noise: torch.Tensor):
        r"""Invert :meth:`q_sample`: :math:`\mathbf{x}_0 = (\mathbf{x}_t - \sqrt{1-\bar\alpha_t}\,
        \boldsymbol\epsilon) / \sqrt{\bar\alpha_t}`."""
        return (x_t - self.at(self.sqrt_one_minus_alphas_cumprod, t, x_t) * noise) / self.at(
            self.sqrt_alphas_cumprod, t, x_t
        )

    def noise_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        r"""The noise that turns ``x0`` into ``x_t``: :math:`(\mathbf{x}_t - \sqrt{\bar\alpha_t}\,
        \mathbf{x}_0)/\sqrt{1-\bar\alpha_t}`."""
        return (x_t - self.at(self.sqrt_alphas_cumprod, t, x_t) * x0) / self.at(
            self.sqrt_one_minus_alphas_cumprod, t, x_t
        )
