r"""Denoising diffusion probabilistic models: the bound on the discrete likelihood, and DDIM.

A DDPM learns to undo a fixed noising process (:mod:`gdl.diffusion.schedules`). Its network
predicts the noise :math:`\boldsymbol\epsilon` that was added to a clean image; from that
prediction follow an estimate of the clean image, the mean of every reverse step, and the
score :math:`\nabla_{\mathbf{x}}\log q(\mathbf{x}_t) \approx
-\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)/\sqrt{1-\bar\alpha_t}`.

Pixels with ``num_levels`` grey levels are mapped to :math:`[-1, 1]`. :meth:`DDPM.elbo` is the
variational bound on the log-probability of the *discrete* image, with a discretised Gaussian
decoder at :math:`t = 1` as in Ho et al. (2020), so it is in nats and comparable with the
other families.

Example:
    >>> import torch
    >>> model = DDPM(event_shape=(1, 4, 4), num_levels=3, num_steps=10, hidden=[16])
    >>> x = torch.randint(0, 3, (5, 1, 4, 4))
    >>> model.elbo(x).shape, model.sample(2).shape
    (torch.Size([5]), torch.Size([2, 1, 4, 4]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import TimeMLP, TimeUNet
from ..taxonomy import register
from .schedules import NoiseSchedule, cosine_betas, linear_betas

__all__ = ["DDPM"]

SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


def _log_bin_probability(x0, mean, std, half_width: float) -> torch.Tensor:
    r""":math:`\log \int_{x_0 - h}^{x_0 + h} \mathcal{N}(u; \mu, \sigma^2)\,du` per element, with
    the outermost bins (at :math:`\pm 1`) stretched to :math:`\pm\infty` so the masses sum to one.
    """
    big = 1e6  # stands for infinity, with finite gradients
    lo = torch.where(x0 < -1 + half_width, -big, (x0 - half_width - mean) / std)
    hi = torch.where(x0 > 1 - half_width, big, (x0 + half_width - mean) / std)
    # Phi(hi) - Phi(lo) loses all precision when both lie far in the upper tail; the mirrored
    # Phi(-lo) - Phi(-hi) is the same mass, computed in the lower tail where log_ndtr is exact.
    flip = lo + hi > 0
    a, b = torch.where(flip, -hi, lo), torch.where(flip, -lo, hi)  # a < b, a + b <= 0
    log_b, log_a = torch.special.log_ndtr(b), torch.special.log_ndtr(a)
    return log_b + torch.log(-torch.expm1((log_a - log_b).clamp(max=-1e-12)))


@register("diffusion", "bound")
class DDPM(GenerativeModel):
    r"""A denoising diffusion model with a bound on the likelihood of discrete images.

    Forward (fixed): :math:`q(\mathbf{x}_t\mid\mathbf{x}_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,
    \mathbf{x}_0, (1-\bar\alpha_t)\mathbf{I})`. Reverse (learned):

    .. math::

        p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t) = \mathcal{N}\big(\boldsymbol\mu_\theta(\mathbf{x}_t, t),
        \sigma_t^2\mathbf{I}\big),\qquad
        \boldsymbol\mu_\theta = \tilde{\boldsymbol\mu}_t\big(\mathbf{x}_t, \hat{\mathbf{x}}_0\big),\quad
        \hat{\mathbf{x}}_0 = \frac{\mathbf{x}_t - \sqrt{1-\bar\alpha_t}\,
        \boldsymbol\epsilon_\theta(\mathbf{x}_t, t)}{\sqrt{\bar\alpha_t}},

    with :math:`\hat{\mathbf{x}}_0` clipped to the data range :math:`[-1, 1]` (which can only
    bring it closer to the truth). Training minimises the simplified loss

    .. math::

        L_\text{simple} = \mathbb{E}_{t, \mathbf{x}_0, \boldsymbol\epsilon}
        \big\lVert \boldsymbol\epsilon - \boldsymbol\epsilon_\theta(\sqrt{\bar\alpha_t}\,\mathbf{x}_0
        + \sqrt{1-\bar\alpha_t}\,\boldsymbol\epsilon, t)\big\rVert^2 / D,

    a reweighting of the variational bound :meth:`elbo`.

    ``prediction="levels"`` computes :math:`\boldsymbol\epsilon_\theta` differently: the network
    outputs logits over the ``num_levels`` grey levels of every pixel, to which the exact
    log-likelihood of the pixel's own noisy value is added,

    .. math::

        \log p_\theta(x_{0,i} = c \mid \mathbf{x}_t) = f_\theta(\mathbf{x}_t, t)_{i,c}
        - \frac{(x_{t,i} - \sqrt{\bar\alpha_t}\,c)^2}{2(1-\bar\alpha_t)} + \text{const},

    and :math:`\hat{\mathbf{x}}_0` is the mean of that categorical. If the first term were
    :math:`\log p(x_{0,i} = c\mid \mathbf{x}_{t,\neq i})`, this would be Bayes' rule exactly;
    at low noise the second term dominates and denoising is exact without any training, which
    matters because the bound on discrete data is dominated by its low-noise terms.

    Arguments:
        event_shape: shape of one image, e.g. ``(1, 8, 8)``.
        num_levels: grey levels; data are integers in ``0 .. num_levels - 1``, mapped to
            :math:`x_0 = 2x/(L-1) - 1`.
        num_steps: :math:`T`.
        schedule: ``"cosine"``, ``"linear"``, or a tensor of :math:`\beta_1, \dots, \beta_T`
            (then ``num_steps`` must equal its length).
        variance: the reverse variance :math:`\sigma_t^2`: ``"posterior"`` for
            :math:`\tilde\beta_t` (the best choice when data are near one point) or ``"beta"`` for
            :math:`\beta_t` (the best for standard normal data). At :math:`t = 1` it is
            :math:`\beta_1` either way.
        prediction: ``"eps"`` (the network predicts the noise) or ``"levels"`` (see above).
        network: ``"mlp"`` (a :class:`~gdl.nn.TimeMLP`, fast on tiny images) or ``"unet"`` (a
            :class:`~gdl.nn.TimeUNet`, for images with even height and width).
        hidden: hidden sizes of the MLP.
        channels: feature channels of the U-Net.
        blocks: residual blocks per stage of the U-Net.

    Example:
        >>> import torch
        >>> model = DDPM(event_shape=(1, 4, 4), num_levels=3, num_steps=10, hidden=[16])
        >>> x = torch.randint(0, 3, (5, 1, 4, 4))
        >>> terms = model.elbo_terms(x)  # L_0, L_1, ..., L_T per example
        >>> terms.shape, bool((terms[:, 1:] >= 0).all())
        (torch.Size([5, 11]), True)

    References:
        Sohl-Dickstein et al., *Deep Unsupervised Learning using Nonequilibrium
        Thermodynamics*, ICML 2015, https://arxiv.org/abs/1503.03585 ;
        Ho, Jain and Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020,
        https://arxiv.org/abs/2006.11239 ;
        Song, Meng and Ermon, *Denoising Diffusion Implicit Models*, ICLR 2021,
        https://arxiv.org/abs/2010.02502 .
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (1, 8, 8),
        num_levels: int = 17,
        num_steps: int = 1000,
        schedule: str | torch.Tensor = "cosine",
        variance: str = "posterior",
        prediction: str = "eps",
        network: str = "mlp",
        hidden: Sequence[int] = (256, 256),
        channels: int = 32,
        blocks: int = 1,
    ):
        super().__init__()
        event_shape = checks.event_shape(event_shape)
        num_levels = checks.num_levels(num_levels)
        num_steps = checks.positive_int(num_steps, "num_steps")
        if isinstance(schedule, str):
            betas = SCHEDULES[checks.one_of(schedule, "schedule", SCHEDULES)](num_steps)
        else:
            betas = torch.as_tensor(schedule)
            if betas.shape != (num_steps,):
                raise ValueError(
                    f"schedule must have shape (num_steps,) = ({num_steps},), "
                    f"got {tuple(betas.shape)}"
                )
        checks.one_of(variance, "variance", ("posterior", "beta"))
        checks.one_of(prediction, "prediction", ("eps", "levels"))
        checks.one_of(network, "network", ("mlp", "unet"))
        self.event_shape, self.num_levels = event_shape, num_levels
        self.variance, self.prediction = variance, prediction
        self.schedule = NoiseSchedule(betas)
        # grey levels on the [-1, 1] scale: c_k = 2k/(L-1) - 1
        self.register_buffer("levels", torch.linspace(-1.0, 1.0, num_levels))

        out = num_levels if prediction == "levels" else 1  # outputs per pixel
        if network == "mlp":
            out_shape = (out * event_shape[0], *event_shape[1:])
            self.net = TimeMLP(event_shape, hidden, out_shape=out_shape)
        else:
            if len(event_shape) != 3:
                raise ValueError(f'network="unet" needs event_shape (C, H, W), got {event_shape}')
            self.net = TimeUNet(
                event_shape[0], out * event_shape[0], channels=channels, blocks=blocks
            )

    # ------------------------------------------------------------------ data <-> [-1, 1]
    @property
    def num_steps(self) -> int:
        """:math:`T`."""
        return self.schedule.num_steps

    @property
    def half_width(self) -> float:
        """Half the distance between neighbouring grey levels on the :math:`[-1, 1]` scale."""
        return 1.0 / (self.num_levels - 1)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        r"""Integer levels :math:`x \in \{0..L-1\}` to :math:`x_0 = 2x/(L-1) - 1 \in [-1, 1]`."""
        return self._check_data(x).float() * (2.0 / (self.num_levels - 1)) - 1.0

    def to_levels(self, x0: torch.Tensor) -> torch.Tensor:
        """Values on the :math:`[-1, 1]` scale to the nearest integer grey level."""
        return ((x0 + 1) * (self.num_levels - 1) / 2).round().clamp(0, self.num_levels - 1).long()

    # ------------------------------------------------------------------ the network's predictions
    def _net_time(self, t: torch.Tensor) -> torch.Tensor:
        """The network sees time on a 0..1000 scale whatever :math:`T` is."""
        return t.float() * (1000.0 / self.num_steps)

    def _check_noisy(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """A batch of noisy images on the ``[-1, 1]`` scale and beyond: finite floats."""
        x = self._check_event(x, name)
        if not x.is_floating_point():
            raise ValueError(f"{name} must hold real numbers (the [-1, 1] scale), got dtype {x.dtype}")
        return x

    def _as_steps(self, t, x: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        return t.expand(len(x)) if t.dim() == 0 else t

    def level_logits(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""For ``prediction="levels"``: logits of :math:`p_\theta(x_{0,i} = c_k\mid\mathbf{x}_t)`,
        shape ``(B, L, *event_shape)``."""
        if self.prediction != "levels":
            raise ValueError('level_logits needs prediction="levels"')
        t = self._as_steps(t, x_t)
        f = self.net(x_t, self._net_time(t)).view(len(x_t), self.num_levels, *self.event_shape)
        s = self.schedule
        levels = self.levels.view(1, -1, *([1] * len(self.event_shape)))  # (1, L, 1, ...)
        mean = s.at(s.sqrt_alphas_cumprod, t, x_t)[:, None] * levels  # (B, L, 1, ...)
        var = s.at(1 - s.alphas_cumprod, t, x_t)[:, None]
        return f - (x_t[:, None] - mean) ** 2 / (2 * var)  # (B, L, *event_shape)

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)`, shape of ``x_t``; ``t`` 0-based, ``(B,)``."""
        t = self._as_steps(t, x_t)
        if self.prediction == "eps":
            return self.net(x_t, self._net_time(t))
        return self.schedule.noise_from_x0(x_t, t, self._x0_from_levels(x_t, t))

    def _x0_from_levels(self, x_t, t):
        probs = self.level_logits(x_t, t).softmax(dim=1)  # (B, L, *event_shape)
        return torch.einsum("bl...,l->b...", probs, self.levels)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, clip: bool = True) -> torch.Tensor:
        r""":math:`\hat{\mathbf{x}}_0(\mathbf{x}_t, t)`, clipped to :math:`[-1, 1]` unless ``clip=False``."""
        t = self._as_steps(t, x_t)
        if self.prediction == "levels":
            x0 = self._x0_from_levels(x_t, t)  # already inside [-1, 1]
        else:
            x0 = self.schedule.x0_from_noise(x_t, t, self.predict_noise(x_t, t))
        return x0.clamp(-1, 1) if clip else x0

    def score(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""The score of the noised data, :math:`\nabla\log q_t(\mathbf{x}_t) \approx
        -\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)/\sqrt{1-\bar\alpha_t}`."""
        x_t = self._check_noisy(x_t, "x_t")
        t = self._as_steps(t, x_t)
        s = self.schedule
        return -self.predict_noise(x_t, t) / s.at(s.sqrt_one_minus_alphas_cumprod, t, x_t)

    def reverse_variance(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\sigma_t^2`, shaped to broadcast against ``x``."""
        s = self.schedule
        t = self._as_steps(t, x)
        var = s.posterior_variance if self.variance == "posterior" else s.betas
        var = torch.where(t == 0, s.betas[0], var[t])  # sigma_1^2 = beta_1 for the decoder
        return var.view(len(x), *([1] * (x.dim() - 1)))

    def p_mean_variance(self, x_t: torch.Tensor, t: torch.Tensor):
        r"""Mean :math:`\boldsymbol\mu_\theta(\mathbf{x}_t, t) = \tilde{\boldsymbol\mu}_t(\mathbf{x}_t,
        \hat{\mathbf{x}}_0)` and variance :math:`\sigma_t^2` of :math:`p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t)`."""
        t = self._as_steps(t, x_t)
        mean, _ = self.schedule.q_posterior(self.predict_x0(x_t, t), x_t, t)
        return mean, self.reverse_variance(t, x_t).expand_as(x_t)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None):
        r"""Draw :math:`\mathbf{x}_t\sim q(\mathbf{x}_t\mid\mathbf{x}_0)`; see
        :meth:`gdl.diffusion.schedules.NoiseSchedule.q_sample`."""
        return self.schedule.q_sample(x0, self._as_steps(t, x0), noise)

    @torch.no_grad()
    def p_sample(self, x_t: torch.Tensor, t: int) -> torch.Tensor:
        r"""One ancestral step :math:`\mathbf{x}_{t-1}\sim p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t)`
        (0-based ``t``); the last step (``t = 0``) returns the mean, without noise."""
        mean, var = self.p_mean_variance(x_t, t)
        return mean if t == 0 else mean + var.sqrt() * torch.randn_like(x_t)

    # ------------------------------------------------------------------ training and the bound
    def loss(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`L_\text{simple}`: mean squared error of the predicted noise at a uniform random step."""
        x0 = self.to_unit(x)
        t = torch.randint(0, self.num_steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        return F.mse_loss(self.predict_noise(self.q_sample(x0, t, noise), t), noise)

    def elbo_terms(self, x: torch.Tensor, steps_per_batch: int = 8) -> torch.Tensor:
        r"""Every term of the negative bound, in nats, shape ``(B, T + 1)``.

        Column 0 is the decoder term :math:`L_0 = -\log p_\theta(\mathbf{x}_0\mid\mathbf{x}_1)`,
        with :math:`p_\theta(\mathbf{x}_0\mid\mathbf{x}_1)` a Gaussian
        :math:`\mathcal{N}(\boldsymbol\mu_\theta(\mathbf{x}_1, 1), \beta_1\mathbf{I})` integrated
        over each grey level's bin (width :math:`2/(L-1)`; the outermost bins reach to
        :math:`\pm\infty`). Column :math:`t-1` for :math:`t = 2..T` is
        :math:`L_{t-1} = \mathrm{KL}(q(\mathbf{x}_{t-1}\mid\mathbf{x}_t,\mathbf{x}_0)\,\Vert\,
        p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t))`, and the last column is the prior term
        :math:`L_T = \mathrm{KL}(q(\mathbf{x}_T\mid\mathbf{x}_0)\,\Vert\,\mathcal{N}(\mathbf{0},\mathbf{I}))`.
        Each :math:`\mathbf{x}_t` is one draw from :math:`q(\mathbf{x}_t\mid\mathbf{x}_0)`.

        Arguments:
            x: integer images, shape ``(B, *event_shape)``.
            steps_per_batch: time steps evaluated in one pass of the network.
        """
        x0 = self.to_unit(x)
        B, T, s = len(x0), self.num_steps, self.schedule
        dims = tuple(range(1, x0.dim()))
        terms = torch.empty(B, T + 1, device=x0.device)
        for ts in torch.arange(T, device=x0.device).split(steps_per_batch):
            k = len(ts)
            t = ts.repeat_interleave(B)  # (k B,)
            x0_k = x0.repeat(k, *([1] * len(dims)))  # (k B, ...)
            x_t = self.q_sample(x0_k, t)
            mean, var = self.p_mean_variance(x_t, t)
            true_mean, true_var = s.q_posterior(x0_k, x_t, t)
            # t >= 1 (paper t >= 2): KL between Gaussians; t = 0: the discretised decoder
            true_std = true_var.clamp_min(1e-20).sqrt()  # the posterior variance is 0 at t = 0
            kl = kl_divergence(Normal(true_mean, true_std), Normal(mean, var.sqrt()))
            nll0 = -_log_bin_probability(x0_k, mean, var.sqrt(), self.half_width)
            term = torch.where((t == 0).view(-1, *([1] * len(dims))), nll0, kl).sum(dims)
            terms[:, ts] = term.view(k, B).T
        mean_T, var_T = s.q_mean_variance(x0, torch.full((B,), T - 1, device=x0.device))
        terms[:, T] = kl_divergence(Normal(mean_T, var_T.sqrt()), Normal(0.0, 1.0)).sum(dims)
        return terms

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""The variational bound :math:`\log P(\mathbf{x}) \ge -\sum_{t=0}^{T} L_t`, nats, shape ``(B,)``.

        It bounds the probability of the *discrete* image. It loops over all :math:`T` steps: use
        it to evaluate, not to train (see :meth:`elbo_terms`).
        """
        return -self.elbo_terms(x).sum(dim=1)

    def ode_nll(self, x: torch.Tensor, steps: int = 100) -> torch.Tensor:
        r"""An estimate of :math:`-\log P(\mathbf{x})` through the deterministic (probability-flow) map.

        DDIM with :math:`\eta = 0`, run from data to noise, is an invertible map
        :math:`\mathbf{x}_1 \mapsto \mathbf{x}_T = f(\mathbf{x}_1)`, a discretisation of the
        probability-flow ODE. Each step from :math:`t` to :math:`t'` is

        .. math::

            \mathbf{x}_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat{\mathbf{x}}_0 + c\,(\mathbf{x}_t -
            \sqrt{\bar\alpha_t}\,\hat{\mathbf{x}}_0),\quad c = \sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}},
            \qquad \log\Big|\det\frac{\partial\mathbf{x}_{t'}}{\partial\mathbf{x}_t}\Big|
            \approx D\log c + k\operatorname{tr}\frac{\partial\hat{\mathbf{x}}_0}{\partial\mathbf{x}_t},

        with :math:`k = \sqrt{\bar\alpha_{t'}}/c - \sqrt{\bar\alpha_t}`; the trace comes from
        Hutchinson's estimator :math:`\mathbf{v}^\top J\mathbf{v}` with one Rademacher
        :math:`\mathbf{v}`. The change of variables gives a density
        :math:`\log p(\mathbf{x}_1) = \log\mathcal{N}(f(\mathbf{x}_1); \mathbf{0}, \mathbf{I}) +
        \log|\det f'(\mathbf{x}_1)|`. The first noising step dequantises: with
        :math:`\mathbf{x}_1 \sim q(\mathbf{x}_1\mid\mathbf{x}_0)` and the decoder
        :math:`L_0` of :meth:`elbo_terms`,

        .. math::

            -\log P(\mathbf{x}_0) \le \mathbb{E}_{q}\big[-\log p(\mathbf{x}_1) + L_0
            + \log q(\mathbf{x}_1\mid\mathbf{x}_0)\big].

        One draw of :math:`\mathbf{x}_1` and of each :math:`\mathbf{v}`, and the first-order
        log-determinant, make the result an *estimate*, not a bound.

        Arguments:
            x: integer images, shape ``(B, *event_shape)``.
            steps: DDIM steps of the map (more is more accurate and slower).

        Returns:
            nats per example, shape ``(B,)``.

        References:
            Song et al., *Score-Based Generative Modeling through Stochastic Differential
            Equations*, ICLR 2021. https://arxiv.org/abs/2011.13456
        """
        x0 = self.to_unit(x)
        s, dims = self.schedule, tuple(range(1, x0.dim()))
        a = s.alphas_cumprod
        x_t = self.q_sample(x0, 0)
        with torch.no_grad():
            mean, var = self.p_mean_variance(x_t, 0)
            nll = -_log_bin_probability(x0, mean, var.sqrt(), self.half_width).sum(dims)  # L_0
        nll = nll - Normal(0.0, (1 - a[0]).sqrt()).entropy() * x0[0].numel()  # + E log q(x_1 | x_0)
        ts = self.timesteps(steps)[::-1]  # 0, ..., T - 1
        for t, t_next in zip(ts[:-1], ts[1:]):
            with torch.enable_grad():
                x_in = x_t.detach().requires_grad_()
                x0_hat = self.predict_x0(x_in, t, clip=False)
                v = torch.randint_like(x_in, 2) * 2 - 1  # Rademacher
                (vjp,) = torch.autograd.grad(x0_hat, x_in, v)
            trace = (vjp * v).sum(dims)  # estimates tr(d x0_hat / d x_t)
            c = ((1 - a[t_next]) / (1 - a[t])).sqrt()
            k = a[t_next].sqrt() / c - a[t].sqrt()
            nll = nll - (x0[0].numel() * c.log() + k * trace)  # - log |det|
            x0_hat = x0_hat.detach()
            x_t = a[t_next].sqrt() * x0_hat + c * (x_t - a[t].sqrt() * x0_hat)
        return nll - Normal(0.0, 1.0).log_prob(x_t).sum(dims)

    # ------------------------------------------------------------------ sampling
    def ddim_step(
        self, x_t: torch.Tensor, t: int, t_prev: int, eta: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""One DDIM step from 0-based step ``t`` to ``t_prev < t`` (``-1`` for the clean data).

        .. math::

            \mathbf{x}_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat{\mathbf{x}}_0
            + \sqrt{1-\bar\alpha_{t'}-\sigma^2}\;\boldsymbol\epsilon_\theta + \sigma\mathbf{z},\qquad
            \sigma = \eta\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}
            \sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}}.

        :math:`\eta = 0` is deterministic (the probability-flow ODE, discretised); :math:`\eta = 1`
        between consecutive steps gives DDPM's posterior variance :math:`\tilde\beta_t`.

        Returns:
            the mean of the step and its standard deviation :math:`\sigma`; the step's sample
            is ``mean + sigma * z`` with standard normal ``z``.
        """
        eta = checks.number(eta, "eta", low=0.0)
        if not -1 <= t_prev < t < self.num_steps:
            raise ValueError(
                f"need -1 <= t_prev < t < {self.num_steps}, got t={t}, t_prev={t_prev}"
            )
        s = self.schedule
        a_t = s.alphas_cumprod[t]
        a_prev = s.alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones_like(a_t)
        x0 = self.predict_x0(x_t, t)
        eps = s.noise_from_x0(x_t, self._as_steps(t, x_t), x0)  # consistent with the clipped x0
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).sqrt()
        mean = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp_min(0).sqrt() * eps
        return mean, sigma

    def timesteps(self, steps: int | None = None) -> list[int]:
        """The 0-based steps a sampler visits: ``steps`` of them, evenly spaced from T - 1 to 0."""
        steps = self.num_steps if steps is None else steps
        if not isinstance(steps, int) or not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be an int in 1..{self.num_steps}, got {steps!r}")
        ts = torch.linspace(self.num_steps - 1, 0, steps).round().long()
        return ts.unique_consecutive().tolist()

    @torch.no_grad()
    def reverse(
        self,
        x_T: torch.Tensor,
        *,
        steps: int | None = None,
        eta: float | None = None,
        keep: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        r"""Run the reverse process from noise ``x_T`` to data, on the :math:`[-1, 1]` scale.

        Arguments:
            x_T: starting noise, shape ``(n, *event_shape)``.
            steps: ``None`` for ancestral DDPM sampling through all :math:`T` steps
                (:meth:`p_sample`); an int for DDIM on that many evenly spaced steps.
            eta: DDIM's :math:`\eta` (default 0, deterministic); only with ``steps``.
            keep: return every intermediate state as a list (``x_T`` first), not just the end.
        """
        x_T = self._check_noisy(x_T, "x_T")
        if steps is None and eta is not None:
            raise ValueError("eta applies to DDIM sampling only: pass steps= as well")
        path, x = [x_T], x_T
        if steps is None:
            for t in range(self.num_steps - 1, -1, -1):
                x = self.p_sample(x, t)
                path.append(x) if keep else None
        else:
            eta = 0.0 if eta is None else eta
            ts = self.timesteps(steps)
            for t, t_prev in zip(ts, ts[1:] + [-1]):
                mean, sigma = self.ddim_step(x, t, t_prev, eta)
                x = mean + sigma * torch.randn_like(x) if eta > 0 and t_prev >= 0 else mean
                path.append(x) if keep else None
        return path if keep else x

    @torch.no_grad()
    def sample(self, n: int, *, steps: int | None = None, eta: float | None = None) -> torch.Tensor:
        r"""Draw ``n`` images: noise :math:`\mathbf{x}_T\sim\mathcal{N}(\mathbf{0},\mathbf{I})`, then
        :meth:`reverse` (ancestral by default, DDIM with ``steps``), rounded to the nearest grey
        level.

        Returns:
            integer images, shape ``(n, *event_shape)``.
        """
        n = self._check_n(n)
        x_T = torch.randn(n, *self.event_shape, device=self.device)
        return self.to_levels(self.reverse(x_T, steps=steps, eta=eta))
