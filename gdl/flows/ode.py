r"""Continuous normalizing flows: a likelihood from an ODE, shared by flow matching and score SDEs.

A vector field :math:`\mathbf{v}(\mathbf{x}, t)` moves samples along
:math:`d\mathbf{x}/dt = \mathbf{v}(\mathbf{x}, t)`, and their density follows the
instantaneous change of variables

.. math::

    \frac{d}{dt}\log p_t(\mathbf{x}(t)) = -\nabla\cdot\mathbf{v}(\mathbf{x}(t), t),
    \qquad
    \log p_{t_0}(\mathbf{x}(t_0)) = \log p_{t_1}(\mathbf{x}(t_1))
    + \int_{t_0}^{t_1} \nabla\cdot\mathbf{v}(\mathbf{x}(t), t)\,dt .

:func:`ode_log_prob` integrates the state and the divergence *together*, adding the
divergence of every step of the solver (a likelihood that keeps only the last step's term is
wrong by almost the whole integral). The divergence is exact (one automatic-differentiation
pass per dimension, vectorised) or Hutchinson's estimate
:math:`\mathbb{E}_{\boldsymbol\epsilon}[\boldsymbol\epsilon^\top
(\partial\mathbf{v}/\partial\mathbf{x})\boldsymbol\epsilon]` with Rademacher probes, fixed
over the whole path.

Example:
    >>> import math, torch
    >>> field = lambda x, t: -x  # contracts: x(1) = x(0) / e
    >>> x = torch.zeros(3, 2)
    >>> base = lambda z: -0.5 * (z ** 2).sum(1) - math.log(2 * math.pi)
    >>> log_p = ode_log_prob(field, x, base, t0=0.0, t1=1.0, steps=10)
    >>> round(log_p[0].item() - base(x)[0].item(), 4)  # the integral of div v = -2 per unit time
    -2.0

References:
    Chen, Rubanova, Bettencourt and Duvenaud, *Neural Ordinary Differential Equations*,
    NeurIPS 2018, https://arxiv.org/abs/1806.07366 ;
    Grathwohl et al., *FFJORD*, ICLR 2019, https://arxiv.org/abs/1810.01367 .
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import _checks as checks

__all__ = ["divergence", "ode_log_prob", "odeint"]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def divergence(
    field: Field, x: torch.Tensor, t: torch.Tensor, probe: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The field and its divergence :math:`\nabla\cdot\mathbf{v} = \operatorname{tr}
    \partial\mathbf{v}/\partial\mathbf{x}` at ``(x, t)``.

    Arguments:
        field: :math:`\mathbf{v}(\mathbf{x}, t)`, ``(B, *S), (B,) -> (B, *S)``.
        x: points, shape ``(B, *S)``.
        t: times, shape ``(B,)``.
        probe: ``None`` for the exact trace (one vectorised backward pass per dimension), or
            a tensor shaped like ``x`` for Hutchinson's estimate
            :math:`\boldsymbol\epsilon^\top J\boldsymbol\epsilon`.

    Returns:
        ``v`` (detached), shape of ``x``, and the divergence, shape ``(B,)``.
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_()
        v = field(x, t)
        if probe is not None:
            (vjp,) = torch.autograd.grad(v, x, probe)
            div = (vjp * probe).flatten(1).sum(1)
        else:
            B, D = len(x), x[0].numel()
            eye = torch.eye(D, dtype=x.dtype, device=x.device)
            basis = eye.view(D, 1, *x.shape[1:]).expand(D, *x.shape)  # (D, B, *S)
            (rows,) = torch.autograd.grad(v, x, basis, is_grads_batched=True)  # (D, B, *S)
            div = torch.einsum("dbi,di->b", rows.reshape(D, B, D), eye)  # sum_i dv_i/dx_i
    return v.detach(), div.detach()


def odeint(field: Field, x: torch.Tensor, t0: float, t1: float, steps: int, method: str = "euler"):
    r"""Integrate :math:`d\mathbf{x}/dt = \mathbf{v}(\mathbf{x}, t)` from ``t0`` to ``t1``
    (either direction) with ``steps`` equal steps of Euler's method or classical Runge-Kutta
    (``"rk4"``, four field evaluations per step).

    Returns:
        :math:`\mathbf{x}(t_1)`, shape of ``x``.
    """
    x_end, _ = _integrate(field, x, t0, t1, steps, method, trace=None)
    return x_end


def ode_log_prob(
    field: Field,
    x: torch.Tensor,
    base_log_prob: Callable[[torch.Tensor], torch.Tensor],
    *,
    t0: float,
    t1: float,
    steps: int = 50,
    method: str = "rk4",
    exact: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r""":math:`\log p_{t_0}(\mathbf{x})` by carrying ``x`` from ``t0`` to ``t1``, where the
    density is ``base_log_prob``, and adding the divergence integrated along the way.

    Arguments:
        field: :math:`\mathbf{v}(\mathbf{x}, t)`, ``(B, *S), (B,) -> (B, *S)``.
        x: points at time ``t0``, shape ``(B, *S)``.
        base_log_prob: :math:`\log p_{t_1}`, ``(B, *S) -> (B,)``.
        t0: the time of ``x``.
        t1: the time of the known density.
        steps: solver steps; the divergence of every step enters the sum.
        method: ``"euler"`` or ``"rk4"``.
        exact: the exact divergence; ``False`` for Hutchinson's estimate with one Rademacher
            probe per example, held fixed along the path.
        generator: random numbers of the probes.

    Returns:
        :math:`\log p_{t_0}(\mathbf{x})`, nats, shape ``(B,)``, detached.
    """
    probe = None
    if not exact:
        probe = torch.randint(0, 2, x.shape, generator=generator).to(x) * 2 - 1
    x_end, integral = _integrate(field, x, t0, t1, steps, method, trace=probe if not exact else True)
    return base_log_prob(x_end) + integral


def _integrate(field, x, t0, t1, steps, method, trace):
    steps = checks.positive_int(steps, "steps")
    checks.one_of(method, "method", ("euler", "rk4"))
    h = (t1 - t0) / steps
    B = len(x)

    def f(x, t):  # the field and, when asked, its divergence
        tt = torch.full((B,), float(t), dtype=x.dtype, device=x.device)
        if trace is None:
            with torch.no_grad():
                return field(x, tt), 0.0
        return divergence(field, x, tt, None if trace is True else trace)

    integral = torch.zeros(B, dtype=x.dtype, device=x.device)
    x = x.detach()
    for k in range(steps):
        t = t0 + k * h
        if method == "euler":
            v, d = f(x, t)
            x, integral = x + h * v, integral + h * d
        else:
            v1, d1 = f(x, t)
            v2, d2 = f(x + 0.5 * h * v1, t + 0.5 * h)
            v3, d3 = f(x + 0.5 * h * v2, t + 0.5 * h)
            v4, d4 = f(x + h * v3, t + h)
            x = x + h / 6 * (v1 + 2 * v2 + 2 * v3 + v4)
            integral = integral + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    return x.detach(), integral
