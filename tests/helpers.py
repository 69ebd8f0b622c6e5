"""Checks shared by several test modules, written once.

* :func:`dependencies` and :func:`violations`: which inputs each output of a network depends on,
  by autograd, and which of those break an ordering (causality of autoregressive models).
* :func:`every_image` and :func:`assert_normalised`: enumerate a tiny discrete space and check
  that a model's probabilities over it sum to one.
* :func:`sharpen`: scale a model's weights up, far from uniform, so those checks mean something.
* :func:`sampling_frequencies`: how often each point of a tiny space is drawn.
"""

from __future__ import annotations

import itertools

import pytest
import torch


def dependencies(fn, inp: torch.Tensor, pick) -> dict[int, list[int]]:
    """For each output dimension ``d``, the input dimensions its output has a gradient for.

    ``fn`` maps a continuous input ``(B, *shape)`` to outputs; ``pick(out, d)`` selects the
    outputs of dimension ``d``. On a random input, the gradient is non-zero exactly where the
    network connects the two.
    """
    inp = inp.clone().requires_grad_(True)
    out = fn(inp)
    dims = inp[0].numel()
    seen = {}
    for d in range(dims):
        (grad,) = torch.autograd.grad(pick(out, d).sum(), inp, retain_graph=True)
        grad = grad.abs().sum(0).flatten()  # (D,)
        seen[d] = [j for j in range(dims) if grad[j] > 0]
    return seen


def violations(seen: dict[int, list[int]], ordering: list[int]) -> list[tuple[int, int]]:
    """Pairs ``(d, j)``: output ``d`` depends on input ``j`` although ``j`` does not come before ``d``."""
    rank = {d: r for r, d in enumerate(ordering)}
    return [(d, j) for d, js in seen.items() for j in js if rank[j] >= rank[d]]


def sharpen(model, factor: float = 3.0):
    """Scale every weight by ``factor``: a far-from-uniform model makes normalisation checks meaningful."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model


def every_image(shape: tuple[int, ...], levels: int) -> torch.Tensor:
    """Every integer array of ``shape`` with values ``0 .. levels - 1``, shape ``(levels**D, *shape)``."""
    dims = int(torch.Size(shape).numel())
    return torch.tensor(list(itertools.product(range(levels), repeat=dims))).view(-1, *shape)


def assert_normalised(log_p: torch.Tensor, tol: float = 1e-5) -> None:
    """The probabilities ``exp(log_p)`` of every point of a space sum to one, and are not uniform."""
    log_p = log_p.double()
    assert log_p.exp().max() > 3 / len(log_p), "the model is too close to uniform for this check"
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=tol)


def sampling_frequencies(samples: torch.Tensor, levels: int) -> torch.Tensor:
    """The frequency of each point of a tiny space in ``samples`` ``(N, ...)``, in the order of
    :func:`every_image`."""
    flat = samples.reshape(len(samples), -1)
    index = torch.zeros(len(flat), dtype=torch.long)
    for column in flat.T:
        index = index * levels + column
    return torch.bincount(index, minlength=levels ** flat.shape[1]).double() / len(flat)
