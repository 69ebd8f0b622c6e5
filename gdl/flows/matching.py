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
    ):
        super().__init__()
        self.event_shape = checks.event_shape(event_shape)
        self.dims = math.prod(self.event_shape)
        hidden = checks.ints(hidden, "hidden")
        self.coupling = checks.one_of(coupling, "coupling", ("independent", "ot"))
        self.num_levels = checks.num_levels(num_levels, optional=True)
        self.net = TimeMLP(self.event_shape, hidden)
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
        return x.to(self._dtype()) + torch.rand(x.shape, generator=generator).to(self.base_loc)

    # ------------------------------------------------------------------ the field and its loss
    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        r""":math:`\mathbf{v}_\theta(\mathbf{x}, t)` on the model's scale; ``t`` in :math:`[0, 1]`, ``(B,)``."""
        return self.net(x, t * 1000)  # the embedding expects times on a 0..1000 scale

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
    def flow(self, x0: torch.Tensor, steps: int = 20, keep: bool = False):
        r"""Euler's method from noise ``x0`` at :math:`t=0` to :math:`t=1` in ``steps`` equal steps,
        :math:`\mathbf{x}\leftarrow\mathbf{x} + h\,\mathbf{v}_\theta(\mathbf{x}, t)`, on the model's scale.

        Returns:
            the end point, or with ``keep`` the whole path ``(steps + 1, B, *event_shape)``.
        """
        steps = checks.positive_int(steps, "steps")
        x0 = self._check_event(x0, "x0")
        if not x0.is_floating_point():
            raise ValueError(f"x0 must hold real numbers, got dtype {x0.dtype}")
        x, h, path = x0, 1.0 / steps, [x0]
        for k in range(steps):
            t = torch.full((len(x),), k * h, device=x.device, dtype=x.dtype)
            x = x + h * self.velocity(x, t)
            path.append(x)
        return torch.stack(path) if keep else x

    @torch.no_grad()
    def sample(self, n: int, steps: int = 20) -> torch.Tensor:
        """Draw ``n`` samples with ``steps`` Euler steps (one network call each).

        Returns:
            ``(n, *event_shape)``: floats, or int64 levels with ``num_levels``.
        """
        n = self._check_n(n)
        return self.sample_from(self.base().sample((n,)), steps)

    @torch.no_grad()
    def sample_from(self, x0: torch.Tensor, steps: int = 20) -> torch.Tensor:
        """Samples from given noise ``x0`` ``(n, *event_shape)``, as :meth:`sample` returns them."""
        x = self._from_model(self.flow(x0, steps))
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
        Keyword arguments go to :meth:`log_prob`."""
        if not self.num_levels:
            raise ValueError("dequantized_log_prob is for a model of integer levels (num_levels=...)")
        return self.log_prob(self._dequantize(x, generator), generator=generator, **kwargs)
