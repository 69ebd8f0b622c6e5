r"""Likelihood units and the rules for discrete data.

**Units.** Every log-likelihood in :mod:`gdl` is in *nats per example* (natural logarithm,
summed over the dimensions of one example, averaged over examples). Bits per dimension divide
by the number of dimensions :math:`D` and by :math:`\ln 2`:

.. math::

    \text{bits/dim} = \frac{-\log p(\mathbf{x})}{D \ln 2}.

**Discrete data.** Pixels of the digits take 17 integer values, so the honest number is the
negative log of a *probability mass* :math:`P(\mathbf{x})`:

* a categorical model (autoregressive) gives :math:`-\log P(\mathbf{x})` exactly;
* a continuous density :math:`p` must first be turned into a mass. Uniform dequantization adds
  :math:`\mathbf{u} \sim U[0, 1)^D` to the integers; by Jensen's inequality

  .. math::

      -\log P(\mathbf{x}) \le -\mathbb{E}_{\mathbf{u}}\left[\log p(\mathbf{x} + \mathbf{u})\right],

  a bound, reported as such, and only comparable if every rescaling of the data (to
  :math:`[0, 1]`, say) is counted in the log-determinant;
* a lower bound on :math:`\log P` (ELBO) gives an upper bound on the NLL, labelled as a bound.

:data:`KINDS` names these three kinds of number (and a fourth, ``"none"``, for models that
give no likelihood at all); :func:`test_nll` computes the right one for any model. How samples
look is measured in :mod:`gdl.quality`, and :mod:`gdl.results` records both for the leaderboard.

Example:
    >>> round(bits_per_dim(86.4, 64), 4)
    1.9476
"""

from __future__ import annotations

import math
import time

import torch

from . import _checks as checks

__all__ = ["KINDS", "bits_per_dim", "nll", "dequantized_nll", "test_nll", "timed_sample"]

#: How a reported negative log-likelihood was obtained.
KINDS = {
    "exact": "exact discrete NLL",
    "bound": "upper bound on the discrete NLL",
    "estimate": "estimate of the discrete NLL",
    "none": "no likelihood (sample quality only)",
}


def bits_per_dim(nats: float | torch.Tensor, dims: int) -> float | torch.Tensor:
    r"""Convert a negative log-likelihood in nats per example to bits per dimension.

    Arguments:
        nats: :math:`-\log p(\mathbf{x})` in nats, per example.
        dims: number of dimensions :math:`D` of one example.
    """
    dims = checks.positive_int(dims, "dims")
    return nats / (dims * math.log(2))


def _mean_negative(model, method, x: torch.Tensor, batch_size: int) -> float:
    from .train import evaluate

    was_training = model.training
    model.eval()
    try:
        return -evaluate(method, x, batch_size=batch_size, device=model.device)
    finally:
        model.train(was_training)


@torch.no_grad()
def nll(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean exact negative log-likelihood of ``x`` under ``model``, in nats per example.

    Only for models with an exact ``log_prob``; see :func:`test_nll` for every other kind.

    Raises:
        AttributeError: if the model has no exact ``log_prob`` (the message says what it has).
    """
    return _mean_negative(model, model.log_prob, x, batch_size)


@torch.no_grad()
def dequantized_nll(model, x: torch.Tensor, draws: int = 8, batch_size: int = 1000, seed: int = 0) -> float:
    r"""The dequantization bound on the discrete NLL of a continuous density, nats per example.

    .. math::

        -\log P(\mathbf{x}) \le -\mathbb{E}_{\mathbf{u}\sim q(\mathbf{u}\mid\mathbf{x})}
        \left[\log p(\mathbf{x} + \mathbf{u}) - \log q(\mathbf{u}\mid\mathbf{x})\right],

    with uniform noise :math:`q = U[0,1)^D` (:math:`\log q = 0`) or a learned one, estimated
    without bias by averaging ``draws`` fresh :math:`\mathbf{u}` per example, then over examples.
    :math:`p` must be the density on the integer scale (every rescaling counted), as the flows of
    :mod:`gdl.flows` with ``num_levels`` give it.

    Arguments:
        model: a model of integer levels with ``dequantized_log_prob(x, generator)``, one draw of
            the bracket above per example (:meth:`gdl.flows.FlowModel.dequantized_log_prob`).
        x: integer data ``(N, *event_shape)``.
        draws: noise draws per example.
        batch_size: examples per batch.
        seed: seed of the noise.
    """
    if checks.tensor(x).is_floating_point():
        raise ValueError("x must hold integer levels (the dequantization noise is added here)")
    draws = checks.positive_int(draws, "draws")
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for lo in range(0, len(x), batch_size):
            xb = x[lo : lo + batch_size].to(model.device)
            for _ in range(draws):
                total -= model.dequantized_log_prob(xb, generator=g).double().sum().item()
    finally:
        model.train(was_training)
    return total / (len(x) * draws)


@torch.no_grad()
def test_nll(model, x: torch.Tensor, batch_size: int = 1000) -> tuple[float | None, str]:
    """The negative log-likelihood a model can honestly report for discrete data ``x``, and its kind.

    * an exact ``log_prob`` of the data: ``"exact"``;
    * a continuous density of integer levels (a flow with ``num_levels``): the dequantization
      bound (:func:`dequantized_nll`), ``"bound"``;
    * an ``elbo``: its negative, ``"bound"``;
    * no density value (implicit, unnormalised and score models): ``(None, "none")``.

    Returns:
        ``(nats per example, kind)``, the kind a key of :data:`KINDS`.
    """
    if hasattr(model, "dequantized_log_prob") and getattr(model, "num_levels", None):
        return dequantized_nll(model, x, batch_size=batch_size), "bound"
    if hasattr(model, "log_prob"):
        return nll(model, x, batch_size), "exact"
    if hasattr(model, "elbo"):
        return _mean_negative(model, model.elbo, x, batch_size), "bound"
    return None, "none"


def timed_sample(model, n: int = 100, **kwargs) -> tuple[torch.Tensor, float]:
    """Draw ``n`` samples (``model.sample(n, **kwargs)``) and time it.

    Returns:
        the samples and the wall-clock seconds per 100 samples (the leaderboard's unit).
    """
    start = time.perf_counter()
    samples = model.sample(n, **kwargs)
    return samples, (time.perf_counter() - start) * 100 / n
