r"""Noise-conditional score networks: denoising score matching and annealed Langevin dynamics.

A score network learns :math:`\mathbf{s}_\theta(\mathbf{x}, \sigma) \approx \nabla_\mathbf{x}
\log p_\sigma(\mathbf{x})`, the score of the data blurred by Gaussian noise of scale
:math:`\sigma`, for a ladder of scales :math:`\sigma_1 > \dots > \sigma_L`. Denoising score
matching (Vincent, 2011) needs no density: for :math:`\tilde{\mathbf{x}} = \mathbf{x} +
\sigma\mathbf{z}` the regression target is the score of the noising kernel,
:math:`-(\tilde{\mathbf{x}} - \mathbf{x})/\sigma^2 = -\mathbf{z}/\sigma`, and the minimiser of

.. math::

    \ell(\theta; \sigma) = \tfrac{1}{2}\,\mathbb{E}_{\mathbf{x}, \mathbf{z}}
    \left\lVert \mathbf{s}_\theta(\mathbf{x} + \sigma\mathbf{z}, \sigma)
    + \frac{\mathbf{z}}{\sigma} \right\rVert^2

is the true score of :math:`p_\sigma`. Sampling follows the scores from coarse to fine
(annealed Langevin dynamics). With an energy, the score is :math:`-\nabla_\mathbf{x} E`: the
same Langevin sampler as :mod:`gdl.energy`, without ever writing down :math:`E`.

Example:
    >>> import torch
    >>> model = NCSN(event_shape=(2,), hidden=[16], num_sigmas=4, steps_per_sigma=5)
    >>> x = torch.randn(8, 2)
    >>> model.score(x, 0.5).shape, model.loss(x).shape, model.sample(3).shape
    (torch.Size([8, 2]), torch.Size([]), torch.Size([3, 2]))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import MLP
from ..taxonomy import register

__all__ = ["NCSN", "denoising_score_matching", "annealed_langevin", "geometric_sigmas"]

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def geometric_sigmas(sigma_max: float, sigma_min: float, num_sigmas: int) -> torch.Tensor:
    r"""Noise scales :math:`\sigma_1 > \dots > \sigma_L` with a constant ratio (decreasing).

    Example:
        >>> geometric_sigmas(1.0, 0.01, 3)
        tensor([1.0000, 0.1000, 0.0100])
    """
    checks.positive_int(num_sigmas, "num_sigmas")
    if not 0 < checks.positive(sigma_min, "sigma_min") <= checks.positive(sigma_max, "sigma_max"):
        raise ValueError(
            f"need 0 < sigma_min <= sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}"
        )
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), num_sigmas)


def denoising_score_matching(
    score: Score, x: torch.Tensor, sigma: torch.Tensor, z: torch.Tensor | None = None
) -> torch.Tensor:
    r"""The :math:`\sigma^2`-weighted denoising score-matching loss, per example.

    .. math::

        \lambda(\sigma)\,\ell = \frac{\sigma^2}{2}
        \left\lVert \mathbf{s}(\mathbf{x} + \sigma\mathbf{z}, \sigma) + \frac{\mathbf{z}}{\sigma}
        \right\rVert^2
        = \frac{1}{2}\left\lVert \sigma\,\mathbf{s}(\mathbf{x} + \sigma\mathbf{z}, \sigma)
        + \mathbf{z} \right\rVert^2 .

    The weight :math:`\lambda(\sigma) = \sigma^2` (Song and Ermon, 2019) makes every noise level
    contribute on the same scale, since :math:`\lVert\mathbf{s}\rVert \propto 1/\sigma`. Over
    functions :math:`\mathbf{s}`, the expected loss is minimised by the score of the noised data,
    :math:`\nabla_\mathbf{x}\log p_\sigma(\mathbf{x})`.

    Arguments:
        score: maps ``(x, sigma)``, shapes ``(B, D)`` and ``(B,)``, to scores ``(B, D)``.
        x: clean data, shape ``(B, D)``.
        sigma: noise scale per example, shape ``(B,)`` (or a scalar).
        z: the standard normal noise, shape ``(B, D)``; drawn if not given.

    Returns:
        The loss of each example, shape ``(B,)``.

    Example:
        >>> import torch
        >>> x, z = torch.zeros(3, 2), torch.randn(3, 2)
        >>> # data at one point: the noised score is -x / sigma^2, which makes the loss zero
        >>> denoising_score_matching(lambda y, s: -y / s[:, None] ** 2, x, torch.tensor(0.5), z)
        tensor([0., 0., 0.])
    """
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(len(x))  # (B,)
    z = torch.randn_like(x) if z is None else z
    x_noisy = x + sigma[:, None] * z  # (B, D)
    residual = sigma[:, None] * score(x_noisy, sigma) + z  # (B, D)
    return 0.5 * residual.pow(2).sum(-1)


@torch.no_grad()
def annealed_langevin(
    score: Score,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    step_size: float,
    steps_per_sigma: int,
    denoise: bool = True,
    return_trajectory: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Annealed Langevin dynamics (Song and Ermon, 2019, algorithm 1).

    For each noise level :math:`\sigma_i`, from the largest to the smallest, run
    ``steps_per_sigma`` Langevin updates on the score at that level with a step size
    proportional to :math:`\sigma_i^2`,

    .. math::

        \alpha_i = \epsilon\,\frac{\sigma_i^2}{\sigma_L^2},\qquad
        \mathbf{x} \leftarrow \mathbf{x} + \frac{\alpha_i}{2}\,\mathbf{s}(\mathbf{x}, \sigma_i)
        + \sqrt{\alpha_i}\,\boldsymbol\xi,

    the same update as :func:`gdl.energy.langevin` with :math:`\mathbf{s} = -\nabla E`. With
    ``denoise``, a last step moves to the posterior mean of the clean point (Tweedie's formula),
    :math:`\mathbf{x} + \sigma_L^2\,\mathbf{s}(\mathbf{x}, \sigma_L)`, removing the leftover
    noise of scale :math:`\sigma_L`.

    Arguments:
        score: maps ``(x, sigma)``, shapes ``(B, D)`` and ``(B,)``, to scores ``(B, D)``.
        x: starting points ``(B, D)``.
        sigmas: decreasing noise scales ``(L,)``.
        step_size: :math:`\epsilon`, the step size at the smallest level.
        steps_per_sigma: Langevin updates per level.
        denoise: finish with the Tweedie denoising step.
        return_trajectory: also return the state after each level, ``(L + 1, B, D)`` (the first
            entry is ``x``; with ``denoise`` the last is the denoised result).

    Returns:
        The samples ``(B, D)``, and the trajectory if asked for.

    References:
        Song and Ermon, *Generative Modeling by Estimating Gradients of the Data Distribution*,
        NeurIPS 2019. https://arxiv.org/abs/1907.05600
    """
    checks.positive(step_size, "step_size")
    checks.positive_int(steps_per_sigma, "steps_per_sigma")
    x = x.detach().clone()
    trajectory = [x]
    sigma_min = sigmas[-1]
    for sigma in sigmas:
        alpha = step_size * (sigma / sigma_min) ** 2
        level = sigma.expand(len(x))  # (B,)
        for _ in range(steps_per_sigma):
            x = x + 0.5 * alpha * score(x, level) + alpha.sqrt() * torch.randn_like(x)
        trajectory.append(x)
    if denoise:
        x = x + sigma_min**2 * score(x, sigma_min.expand(len(x)))
        trajectory[-1] = x
    if return_trajectory:
        return x, torch.stack(trajectory)
    return x


@register("diffusion", "score")
class NCSN(GenerativeModel):
    r"""A noise-conditional score network for vector data (e.g. 2-D toys).

    An MLP with SiLU activations reads the point and :math:`\log\sigma`; its output, divided by
    :math:`\sigma`, is the score,

    .. math::

        \mathbf{s}_\theta(\mathbf{x}, \sigma) = \frac{\mathrm{MLP}_\theta([\mathbf{x}, \log\sigma])}{\sigma},

    so the network's output has unit scale at every level (the :math:`1/\sigma` conditioning of
    Song and Ermon, 2020). :meth:`loss` draws one level per example uniformly from the geometric
    ladder ``sigmas`` (a buffer) and averages :func:`denoising_score_matching`; :meth:`sample` runs
    :func:`annealed_langevin` from :math:`\mathcal{N}(\mathbf{0}, \sigma_1^2\mathbf{I})`.

    A score model has no density value: it offers :meth:`score` only.

    Arguments:
        event_shape: ``(D,)``, the dimension of one example.
        hidden: hidden sizes of the MLP.
        sigma_max: :math:`\sigma_1`, about the largest distance between data points.
        sigma_min: :math:`\sigma_L`, below the scale of the data's fine detail.
        num_sigmas: :math:`L`.
        step_size: :math:`\epsilon` of :func:`annealed_langevin` (the step at :math:`\sigma_L`).
        steps_per_sigma: Langevin updates per level when sampling.
        denoise: finish sampling with the Tweedie denoising step.

    Example:
        >>> import torch
        >>> model = NCSN(event_shape=(2,), hidden=[16], num_sigmas=4)
        >>> model.sigmas
        tensor([3.0000, 0.6463, 0.1392, 0.0300])

    References:
        Song and Ermon, *Generative Modeling by Estimating Gradients of the Data Distribution*,
        NeurIPS 2019. https://arxiv.org/abs/1907.05600 ;
        Song and Ermon, *Improved Techniques for Training Score-Based Generative Models*,
        NeurIPS 2020. https://arxiv.org/abs/2006.09011 ;
        Vincent, *A Connection Between Score Matching and Denoising Autoencoders*, Neural
        Computation 2011. https://doi.org/10.1162/NECO_a_00142
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        *,
        hidden: Sequence[int] = (128, 128, 128),
        sigma_max: float = 3.0,
        sigma_min: float = 0.03,
        num_sigmas: int = 10,
        step_size: float = 1e-4,
        steps_per_sigma: int = 100,
        denoise: bool = True,
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape, ndim=1)
        self.step_size = checks.positive(step_size, "step_size")
        self.steps_per_sigma = checks.positive_int(steps_per_sigma, "steps_per_sigma")
        self.denoise = bool(denoise)
        self.register_buffer("sigmas", geometric_sigmas(sigma_max, sigma_min, num_sigmas))
        dim = self.event_shape[0]
        self.net = MLP(dim + 1, hidden, dim, activation=nn.SiLU)

    def score(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        r"""The estimated score :math:`\mathbf{s}_\theta(\mathbf{x}, \sigma) \approx
        \nabla_\mathbf{x}\log p_\sigma(\mathbf{x})`.

        Arguments:
            x: points ``(B, D)``.
            sigma: the noise scale, a positive number or a tensor of shape ``()`` or ``(B,)``.

        Returns:
            Scores, shape ``(B, D)``.
        """
        x = self._check_event(x)
        if not x.is_floating_point():
            raise ValueError(f"x must hold real numbers, got dtype {x.dtype}")
        if not isinstance(sigma, torch.Tensor):
            sigma = checks.positive(sigma, "sigma")
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.dim() > 1 or (sigma.dim() == 1 and len(sigma) != len(x)):
            raise ValueError(f"sigma must be a scalar or have shape ({len(x)},), got {tuple(sigma.shape)}")
        if not (sigma > 0).all() or not torch.isfinite(sigma).all():
            raise ValueError(f"sigma must be finite and > 0, got values in [{sigma.min():.3g}, {sigma.max():.3g}]")
        sigma = sigma.expand(len(x))  # (B,)
        h = torch.cat([x, sigma.log()[:, None]], dim=-1)  # (B, D + 1)
        return self.net(h) / sigma[:, None]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        r"""Denoising score matching averaged over the noise levels, weighted by :math:`\sigma^2`:
        :math:`\frac{1}{L}\sum_i \sigma_i^2\,\ell(\theta;\sigma_i)`, estimated with one random
        level per example.
        """
        x = self._check_event(x).to(self.sigmas.dtype)
        level = torch.randint(len(self.sigmas), (len(x),), device=x.device)
        return denoising_score_matching(self.score, x, self.sigmas[level]).mean()

    def sample(self, n: int, *, return_trajectory: bool = False):
        r"""Draw ``n`` samples by annealed Langevin dynamics from :math:`\mathcal{N}(\mathbf{0},
        \sigma_1^2\mathbf{I})`.

        Arguments:
            n: number of samples.
            return_trajectory: also return the state after each noise level,
                shape ``(L + 1, n, D)``.

        Returns:
            Samples ``(n, D)``, detached (and the trajectory if asked for).
        """
        n = self._check_n(n)
        x = self.sigmas[0] * torch.randn(n, *self.event_shape, device=self.sigmas.device)
        return annealed_langevin(
            self.score, x, self.sigmas, step_size=self.step_size,
            steps_per_sigma=self.steps_per_sigma, denoise=self.denoise,
            return_trajectory=return_trajectory,
        )
