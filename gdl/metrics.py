r"""Likelihood units, the rules for discrete data, and the results the leaderboard shows.

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

:data:`KINDS` names these three kinds of number; :func:`record` stores a result for the
leaderboard with its kind.

Example:
    >>> round(bits_per_dim(86.4, 64), 4)
    1.9476
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import torch

__all__ = ["KINDS", "bits_per_dim", "nll", "timed_sample", "record", "load_results", "RESULTS_ENV"]

#: How a reported negative log-likelihood was obtained.
KINDS = {
    "exact": "exact discrete NLL",
    "bound": "upper bound on the discrete NLL",
    "estimate": "estimate of the discrete NLL",
}

#: Environment variable naming the folder where :func:`record` writes results.
RESULTS_ENV = "GDL_RESULTS_DIR"


def bits_per_dim(nats: float | torch.Tensor, dims: int) -> float | torch.Tensor:
    r"""Convert a negative log-likelihood in nats per example to bits per dimension.

    Arguments:
        nats: :math:`-\log p(\mathbf{x})` in nats, per example.
        dims: number of dimensions :math:`D` of one example.
    """
    if not isinstance(dims, int) or dims < 1:
        raise ValueError(f"dims must be a positive int, got {dims!r}")
    return nats / (dims * math.log(2))


@torch.no_grad()
def nll(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean exact negative log-likelihood of ``x`` under ``model``, in nats per example.

    Only for models with an exact ``log_prob``; models with a bound report ``-elbo`` instead.

    Raises:
        AttributeError: if the model has no exact ``log_prob`` (the message says what it has).
    """
    from .train import evaluate

    log_prob = model.log_prob  # raises a clear AttributeError for models without one
    was_training = model.training
    model.eval()
    try:
        return -evaluate(log_prob, x, batch_size=batch_size, device=model.device)
    finally:
        model.train(was_training)


def timed_sample(model, n: int = 100) -> tuple[torch.Tensor, float]:
    """Draw ``n`` samples and time it.

    Returns:
        the samples and the wall-clock seconds per 100 samples (the leaderboard's unit).
    """
    start = time.perf_counter()
    samples = model.sample(n)
    return samples, (time.perf_counter() - start) * 100 / n


def record(
    name: str,
    *,
    dataset: str,
    nll: float,
    kind: str,
    dims: int,
    model=None,
    history=None,
    params: int | None = None,
    train_seconds: float | None = None,
    sample_seconds_per_100: float | None = None,
    source: str | None = None,
    note: str = "",
) -> dict:
    """Print a result line and, inside the docs build, save it for the leaderboard page.

    The docs build sets the environment variable ``GDL_RESULTS_DIR``; each call then writes one
    JSON file there, and the leaderboard page gathers them. Outside the build only the line
    is printed.

    Arguments:
        name: display name of the model.
        dataset: e.g. ``"digits"``.
        nll: test negative log-likelihood (or its bound / estimate) in nats per example.
        kind: a key of :data:`KINDS`: ``"exact"``, ``"bound"`` or ``"estimate"``.
        dims: dimensions per example, for bits/dim.
        model: the trained model; gives ``params`` unless that is passed.
        history: what :func:`gdl.train.fit` returned; gives ``train_seconds`` unless passed.
        params: number of trainable parameters.
        train_seconds: training time.
        sample_seconds_per_100: time to draw 100 samples (see :func:`timed_sample`).
        source: the gallery script that produced it.
        note: a short remark.

    Returns:
        the stored record.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if not math.isfinite(nll):
        raise ValueError(f"nll must be finite, got {nll}")
    if params is None and model is not None:
        params = model.num_parameters()
    if train_seconds is None and history is not None:
        train_seconds = history.seconds
    row = {
        "model": name,
        "dataset": dataset,
        "nll": float(nll),
        "bits_per_dim": float(bits_per_dim(nll, dims)),
        "kind": kind,
        "params": params,
        "train_seconds": train_seconds,
        "sample_seconds_per_100": sample_seconds_per_100,
        "source": source,
        "note": note,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(
        f"{name} on {dataset} test: {nll:.2f} nats/example = {row['bits_per_dim']:.4f} bits/dim "
        f"({KINDS[kind]})"
    )
    folder = os.environ.get(RESULTS_ENV)
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{dataset} {name}".lower()).strip("-")
        (path / f"{slug}.json").write_text(json.dumps(row, indent=1))
    return row


def load_results(folder: str | os.PathLike) -> list[dict]:
    """All results saved by :func:`record` in ``folder``, best (lowest NLL) first per data set."""
    rows = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
    return sorted(rows, key=lambda r: (r["dataset"], r["nll"]))
