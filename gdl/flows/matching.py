r"""Flow matching: a continuous normalizing flow trained by regression on straight paths.

Noise :math:`\mathbf{x}_0\sim\mathcal{N}(\mathbf{0}, I)` at :math:`t = 0` and data
:math:`\mathbf{x}_1` at :math:`t = 1` are paired by a *coupling* and joined by straight lines
:math:`\mathbf{x}_t = (1-t)\,\mathbf{x}_0 + t\,\mathbf{x}_1`, travelled at the constant speed
:math:`\mathbf{x}_1 - \mathbf{x}_0`. A network learns the mean of those speeds at each point,

.. math::

    \mathcal{L}(\theta) = \mathbb{E}_{t\sim U[0,1],\,(\mathbf{x}_0,\mathbf{x}_1)\sim\pi}
    \big\lVert \mathbf{v}_\theta(\mathbf{x}_t, t) - (\mathbf{x}_1 - \mathbf{x}_0)\big\rVert^2 ,

and the ODE :math:`d\mathbf{x}/dt = \mathbf{v}_\theta` then carries the noise distribution to
the data distribution. With the independent coupling :math:`\pi = p_0\otimes p_1` the
learned paths cross and bend; pairing each mini-batch by optimal transport (the assignment
that minimises :math:`\sum_i\lVert\mathbf{x}_0^{(i)} - \mathbf{x}_1^{(\sigma(i))}\rVert^2`)
makes them nearly straight, so a few Euler steps suffice.

Example:
    >>> import torch
    >>> model = FlowMatching(event_shape=(2,), hidden=[16], coupling="ot")
    >>> x = torch.randn(8, 2)
    >>> model.loss(x).shape, model.sample(3, steps=4).shape, model.log_prob(x, steps=2).shape
    (torch.Size([]), torch.Size([3, 2]), torch.Size([8]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from scipy.optimize import linear_sum_assignment
from torch.distributions import Independent, Normal
from torch.nn import functional as F

from .. import _checks as checks
from ..base import GenerativeModel
from ..nn import TimeMLP
from ..taxonomy import register
from .ode import ode_log_prob

__all__ = ["FlowMatching", "ot_pairing"]


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    r"""The optimal-transport pairing of two equal batches under the squared Euclidean cost.

    Solves :math:`\min_\sigma \sum_i \lVert\mathbf{x}_0^{(i)} - \mathbf{x}_1^{(\sigma(i))}\rVert^2`
    over permutations exactly (the Hungarian method, ``scipy.optimize.linear_sum_assignment``).

    Arguments:
        x0: shape ``(B, *S)``.
        x1: shape ``(B, *S)``.

    Returns:
        ``perm`` of shape ``(B,)``: ``x1[perm[i]]`` is the partner of ``x0[i]``.

    Example:
        >>> import torch
        >>> ot_pairing(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.1], [0.1]]))
        tensor([1, 0])
    """
    if len(x0) != len(x1):
        raise ValueError(f"x0 and x1 must hold as many examples, got {len(x0)} and {len(x1)}")
    cost = torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()) ** 2  # (B, B)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return torch.as_tensor(cols[rows.argsort()], device=x0.device)


@register("flows", "exact")
class FlowMatching(GenerativeModel):
    r"""Conditional flow matching with straight paths (rectified flow), on vectors or images.

    :meth:`loss` is the regression above; :meth:`sample` runs Euler's method from noise with a
    chosen number of steps; :meth:`log_prob` runs the same ODE backwards from the data to the
    noise and adds the divergence of the field at every solver step
    (:func:`gdl.flows.ode.ode_log_prob`), which is exact up to the ODE solver's error.

    With ``num_levels`` the data are integer pixels ``0 .. L-1``. Training and
    :meth:`dequantized_log_prob` add :math:`\mathbf{u}\sim U[0,1)^D` and map
    :math:`\mathbf{y} = \mathbf{x}+\mathbf{u}\in[0, L)` to :math:`2\mathbf{y}/L - 1\in[-1, 1)`;
    :meth:`log_prob` is the density of :math:`\mathbf{y}` on the integer scale, so it counts
    the scaling term :math:`D\log(2/L)`, and :func:`gdl.metrics.dequantized_nll` bounds the
    discrete NLL (up to the solver's error).

    Arguments:
        event_shape: shape of one example.
        hidden: hidden sizes of the :class:`~gdl.nn.TimeMLP` field.
        coupling: ``"independent"`` or ``"ot"`` (mini-batch optimal transport, :func:`ot_pairing`).
        num_levels: integer pixels ``0 .. num_levels - 1``, dequantized; ``None`` for real data.
        prediction: ``"velocity"`` (the network outputs :math:`\mathbf{v}_\theta`) or, with
            ``num_levels``, ``"levels"``: the network outputs logits over the grey levels of every
            pixel, as :class:`gdl.diffusion.ddpm.DDPM` with ``prediction="levels"`` does (see below).

    With ``prediction="levels"`` the data are the levels' centres
    :math:`c_k = (2k+1)/L - 1` (no dequantization noise, as for the DDPM), and since
    :math:`\mathbf{x}_t\mid\mathbf{x}_1 = c_k\sim\mathcal{N}(t\,c_k, (1-t)^2)` per pixel the
    exact log-likelihood :math:`-(x_t - t c_k)^2/2(1-t)^2` is added to the network's logits
    :math:`f_k`. Their softmax is :math:`p_\theta(x_1 = c_k\mid\mathbf{x}_t)`, its mean
    :math:`\hat{\mathbf{x}}_1` and the field :math:`\mathbf{v}_\theta = (\hat{\mathbf{x}}_1 -
    \mathbf{x}_t)/(1-t)`: the loss is the same regression, and an Euler step that ends at
    :math:`t = 1` lands on :math:`\hat{\mathbf{x}}_1`. The likelihood is then a variational
    dequantization bound with Gaussian noise (:meth:`dequantized_log_prob`).

    References:
        Lipman, Chen, Ben-Hamu, Nickel and Le, *Flow Matching for Generative Modeling*, ICLR
        2023, https://arxiv.org/abs/2210.02747 ;
        Liu, Gong and Liu, *Flow Straight and Fast*, ICLR 2023, https://arxiv.org/abs/2209.03003 ;
        Tong et al., *Improving and generalizing flow-based generative models with minibatch
        optimal transport*, TMLR 2024, https://arxiv.org/abs/2302.00482 ;
        Pooladian et al., *Multisample Flow Matching*, ICML 2023, https://arxiv.org/abs/2304.14772 .
    """

    num_levels: int | None = None

    def __init__(
        self,
        event_shape: Sequence[int] = (2,),
        hidden: Sequence[int] = (256, 256),
        coupling: str = "independent",
        num_levels: int | None = None,
        prediction: str = "velocity",
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.dims = math.prod(self.event_shape)
        hidden = checks.ints(hidden, "hidden")
        self.coupling = checks.one_of(coupling, "coupling", ("independent", "ot"))
        self.num_levels = checks.num_levels(num_levels, optional=True)
        self.prediction = checks.one_of(prediction, "prediction", ("velocity", "levels"))
        if self.prediction == "levels" and not self.num_levels:
            raise ValueError('prediction="levels" needs num_levels')
        out = (self.num_levels, *self.event_shape) if self.prediction == "levels" else None
        self.net = TimeMLP(self.event_shape, hidden, out_shape=out)
        if self.prediction == "levels":  # centres of the levels' bins on the model's scale
            self.register_buffer("levels", (2 * torch.arange(self.num_levels) + 1.0) / self.num_levels - 1)
        self.register_buffer("base_loc", torch.zeros(self.event_shape))

    # ------------------------------------------------------------------ scales
    def base(self) -> Independent:
        r"""The noise at :math:`t = 0`: :math:`\mathcal{N}(\mathbf{0}, I)` over ``event_shape``."""
        return Independent(Normal(self.base_loc, torch.ones_like(self.base_loc)), len(self.event_shape))

    def _log_scale(self) -> float:
        """:math:`\\log|\\det|` of the map from the data's scale to the model's, :math:`D\\log(2/L)`."""
        return self.dims * math.log(2 / self.num_levels) if self.num_levels else 0.0

    def _to_model(self, y: torch.Tensor) -> torch.Tensor:
        return y * (2 / self.num_levels) - 1 if self.num_levels else y

    def _from_model(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) * (self.num_levels / 2) if self.num_levels else x

    def _dequantize(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        x = self._check_data(x)
        if not self.num_levels:
            return x
        if self.prediction == "levels":  # the bins' centres
            return x.to(self._dtype()) + 0.5
        return x.to(self._dtype()) + torch.rand(x.shape, generator=generator).to(self.base_loc)

    # ------------------------------------------------------------------ the field and its loss
    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\mathbf{v}_\theta(\mathbf{x}, t)` on the model's scale; ``t`` in :math:`[0, 1]`, ``(B,)``."""
        if self.prediction == "levels":
            s = (1 - t).clamp_min(self.MIN_NOISE).view(-1, *([1] * len(self.event_shape)))
            return (self.predict_x1(x, t) - x) / s
        return self.net(x, t * 1000)  # the embedding expects times on a 0..1000 scale

    #: the smallest :math:`1 - t` the level posterior is evaluated at (``prediction="levels"``)
    MIN_NOISE = 1e-3

    def level_logits(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r"""Logits of :math:`p_\theta(x_{1,i} = c_k\mid\mathbf{x}_t)`, shape ``(B, L, *event_shape)``
        (``prediction="levels"``)."""
        if self.prediction != "levels":
            raise ValueError('level_logits needs prediction="levels"')
        f = self.net(x, t * 1000)  # (B, L, *event_shape)
        tb = t.view(-1, 1, *([1] * len(self.event_shape)))
        s = (1 - tb).clamp_min(self.MIN_NOISE)
        levels = self.levels.view(1, -1, *([1] * len(self.event_shape)))  # (1, L, 1, ...)
        return f - (x[:, None] - tb * levels) ** 2 / (2 * s**2)

    def predict_x1(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat{\mathbf{x}}_1 = \sum_k c_k\,p_\theta(c_k\mid\mathbf{x}_t)`, shape of ``x``
        (``prediction="levels"``)."""
        probs = self.level_logits(x, t).softmax(dim=1)
        return torch.einsum("bl...,l->b...", probs, self.levels)

    def pair(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """The noise ``x0`` reordered to pair with ``x1`` by the model's coupling."""
        if self.coupling == "independent":
            return x0
        perm = ot_pairing(x1, x0)  # x0[perm[i]] is the partner of x1[i]
        return x0[perm]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        r"""The flow-matching regression on a batch (integer batches dequantized first)."""
        x1 = self._to_model(self._dequantize(x))
        x0 = self.pair(torch.randn_like(x1), x1)
        t = torch.rand(len(x1), device=x1.device, dtype=x1.dtype)
        tb = t.view(-1, *([1] * len(self.event_shape)))
        x_t = (1 - tb) * x0 + tb * x1
        return F.mse_loss(self.velocity(x_t, t), x1 - x0)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def flow(self, x0: torch.Tensor, steps: int = 20, keep: bool = False, grid: str = "uniform"):
        r"""Euler's method from noise ``x0`` at :math:`t=0` to :math:`t=1` in ``steps`` steps,
        :math:`\mathbf{x}\leftarrow\mathbf{x} + (t_{k+1} - t_k)\,\mathbf{v}_\theta(\mathbf{x}, t_k)`,
        on the model's scale.

        Arguments:
            x0: noise, shape ``(B, *event_shape)``.
            steps: Euler steps (network calls).
            keep: return the whole path.
            grid: ``"uniform"``, :math:`t_k = k/n`, or ``"cosine"``,
                :math:`t_k = \sin\theta_k/(\sin\theta_k + \cos\theta_k)` with
                :math:`\theta_k = \pi k/2n`: denser at both ends, the times at which DDIM with
                a cosine schedule and evenly spaced steps visits the same path (the signal to
                noise ratio :math:`t/(1-t)` equals :math:`\sqrt{\bar\alpha/(1-\bar\alpha)}`).

        Returns:
            the end point, or with ``keep`` the whole path ``(steps + 1, B, *event_shape)``.
        """
        steps = checks.positive_int(steps, "steps")
        checks.one_of(grid, "grid", ("uniform", "cosine"))
        x0 = self._check_event(x0, "x0")
        if not x0.is_floating_point():
            raise ValueError(f"x0 must hold real numbers, got dtype {x0.dtype}")
        ts = self.times(steps, grid)
        x, path = x0, [x0]
        for t, t_next in zip(ts[:-1].tolist(), ts[1:].tolist()):
            x = x + (t_next - t) * self.velocity(x, torch.full((len(x),), t, device=x.device, dtype=x.dtype))
            path.append(x)
        return torch.stack(path) if keep else x

    @staticmethod
    def times(steps: int, grid: str = "uniform") -> torch.Tensor:
        """The ``steps + 1`` times of the Euler grid, from 0 to 1 (see :meth:`flow`), float64."""
        k = torch.arange(steps + 1, dtype=torch.float64) / steps
        if grid == "uniform":
            return k
        theta = k * (math.pi / 2)
        t = theta.sin() / (theta.sin() + theta.cos())
        t[-1] = 1.0  # exactly
        return t

    @torch.no_grad()
    def sample(self, n: int, steps: int = 20, grid: str = "uniform") -> torch.Tensor:
        """Draw ``n`` samples with ``steps`` Euler steps (one network call each) on ``grid``
        (see :meth:`flow`).

        Returns:
            ``(n, *event_shape)``: floats, or int64 levels with ``num_levels``.
        """
        n = self._check_n(n)
        return self.sample_from(self.base().sample((n,)), steps, grid)

    @torch.no_grad()
    def sample_from(self, x0: torch.Tensor, steps: int = 20, grid: str = "uniform") -> torch.Tensor:
        """Samples from given noise ``x0`` ``(n, *event_shape)``, as :meth:`sample` returns them."""
        x = self._from_model(self.flow(x0, steps, grid=grid))
        if self.prediction == "levels":  # the nearest centre
            return (x - 0.5).round().clamp(0, self.num_levels - 1).long()
        if self.num_levels:
            return x.floor().clamp(0, self.num_levels - 1).long()
        return x

    # ------------------------------------------------------------------ likelihood
    def log_prob(self, x: torch.Tensor, steps: int = 20, method: str = "rk4", exact: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        r""":math:`\log p(\mathbf{x})` by the ODE from :math:`t = 1` back to the noise at :math:`t = 0`,

        .. math::

            \log p_1(\mathbf{x}) = \log\mathcal{N}(\mathbf{x}(0); \mathbf{0}, I)
            - \int_0^1 \nabla\cdot\mathbf{v}_\theta(\mathbf{x}(t), t)\,dt ,

        the divergence summed over every solver step. With ``num_levels``, ``x`` is dequantized
        (real, on the integer scale) and the scaling term :math:`D\log(2/L)` is included.

        Arguments:
            x: real data, shape ``(B, *event_shape)``.
            steps: solver steps.
            method: ``"rk4"`` or ``"euler"``.
            exact: exact divergence (``False``: Hutchinson's estimate).
            generator: random numbers of Hutchinson's probes.

        Returns:
            nats, shape ``(B,)``, detached.
        """
        x = self._check_event(x)
        if self.prediction == "levels":
            raise ValueError('a model with prediction="levels" has no density on the integer scale; '
                             "use dequantized_log_prob (a bound on the discrete probability)")
        if not x.is_floating_point():
            raise ValueError("log_prob takes real x; for integer pixels use dequantized_log_prob")
        if self.num_levels:
            checks.within(x, 0, self.num_levels, "x")
        log_p = ode_log_prob(self.velocity, self._to_model(x), self.base().log_prob, t0=1.0, t1=0.0,
                             steps=steps, method=method, exact=exact, generator=generator)
        return log_p + self._log_scale()

    def dequantized_log_prob(self, x: torch.Tensor, generator=None, **kwargs) -> torch.Tensor:
        r""":math:`\log p(\mathbf{x}+\mathbf{u})` for integer ``x`` and one draw
        :math:`\mathbf{u}\sim U[0,1)^D`: its mean bounds :math:`\log P(\mathbf{x})` from below.
        Keyword arguments go to :meth:`log_prob`.

        With ``prediction="levels"``, one draw of the variational dequantization bound with
        Gaussian noise instead,

        .. math::

            \log P(\mathbf{x}) \ge \mathbb{E}_{q(\mathbf{x}_\tau\mid\mathbf{x})}\big[
            \log p_\tau(\mathbf{x}_\tau) + \log p_\theta(\mathbf{x}\mid\mathbf{x}_\tau)
            - \log q(\mathbf{x}_\tau\mid\mathbf{x})\big],\qquad
            q = \mathcal{N}(\tau\mathbf{c}_{\mathbf{x}}, \sigma^2 I),\ \tau = 1 - \sigma,

        with :math:`p_\tau` by the ODE from :math:`\tau` back to the noise, integrated in
        :math:`s = -\log(1-t)` (where the field :math:`(1-t)\mathbf{v}_\theta =
        \hat{\mathbf{x}}_1 - \mathbf{x}` stays bounded), and the decoder
        :math:`p_\theta(\mathbf{x}\mid\mathbf{x}_\tau)` the level posterior itself.

        Keyword arguments: ``noise`` (:math:`\sigma`, default 0.01), ``steps`` (20), ``method``
        (``"rk4"``) and ``exact`` (``True``; ``False`` for Hutchinson's estimate, much faster)."""
        if not self.num_levels:
            raise ValueError("dequantized_log_prob is for a model of integer levels (num_levels=...)")
        if self.prediction == "levels":
            return self._levels_bound(x, generator=generator, **kwargs)
        return self.log_prob(self._dequantize(x, generator), generator=generator, **kwargs)

    def _levels_bound(self, x, noise: float = 0.01, steps: int = 20, method: str = "rk4",
                      exact: bool = True, generator=None) -> torch.Tensor:
        """One draw of the bound for ``prediction="levels"`` (see :meth:`dequantized_log_prob`)."""
        noise = checks.number(noise, "noise", low=0.0, high=1.0, low_open=True, high_open=True)
        x = self._check_data(x)
        centres = self._to_model(x.to(self._dtype()) + 0.5)
        eps = torch.randn(centres.shape, generator=generator).to(centres)
        tau = 1 - noise
        x_tau = tau * centres + noise * eps
        dims = tuple(range(1, x_tau.dim()))
        log_q = Normal(tau * centres, noise).log_prob(x_tau).sum(dims)
        t_tau = torch.full((len(x),), tau, dtype=x_tau.dtype, device=x_tau.device)
        with torch.no_grad():
            log_dec = self.level_logits(x_tau, t_tau).log_softmax(1).gather(1, x.long()[:, None])
        log_dec = log_dec.flatten(1).sum(1)

        def field(x, s):  # dx/ds = (1 - t) v(x, t), t = 1 - exp(-s)
            t = 1 - torch.exp(-s)
            return self.predict_x1(x, t) - x

        log_p = ode_log_prob(field, x_tau, self.base().log_prob, t0=-math.log(noise), t1=0.0,
                             steps=steps, method=method, exact=exact, generator=generator)
        return log_p + log_dec - log_q
