"""Figure helpers that give the whole site one look: image grids, 2-D densities, training curves.

Every helper draws on a given :class:`matplotlib.axes.Axes` (or makes one), titles it, labels
its axes and returns it, so a gallery script stays a few lines per figure.

Example:
    >>> import torch
    >>> ax = image_grid(torch.randint(0, 17, (6, 1, 8, 8)), levels=17, title="six images")
    >>> ax.get_title()
    'six images'
"""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["STYLE", "image_grid", "data_and_samples", "scatter_2d", "density_2d", "training_curves", "logged"]

#: matplotlib settings applied by every helper.
STYLE = {
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "image.cmap": "Greys",
}


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def image_grid(
    images: torch.Tensor,
    *,
    nrow: int | None = None,
    levels: int | None = None,
    ax=None,
    title: str = "",
    pad: int = 1,
):
    """Tile a batch of 1-channel images ``(N, 1, H, W)`` (or ``(N, H, W)``) into one picture.

    Arguments:
        images: integer levels or floats; shown dark-on-light.
        nrow: images per row (default: a near-square grid).
        levels: number of grey levels; integer images are shown on ``0 .. levels - 1``.
        ax: axes to draw on.
        title: the axes' title.
        pad: pixels of white between images.
    """
    x = torch.as_tensor(images).detach().cpu().float()
    if x.dim() == 4:
        if x.shape[1] != 1:
            raise ValueError(f"images must have 1 channel, got shape {tuple(x.shape)}")
        x = x[:, 0]
    if x.dim() != 3:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {tuple(x.shape)}")
    n, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    vmax = (levels - 1) if levels else float(x.max())
    vmin = 0.0 if levels else float(x.min())
    canvas = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad), vmin, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, nrow)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = x[k].numpy()
    with plt.rc_context(STYLE):
        ax = _axes(ax)
        ax.imshow(canvas, cmap="Greys", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_title(title)
    return ax


def data_and_samples(
    data: torch.Tensor, samples: torch.Tensor, *, levels: int | None = None, model: str = "the model",
    n: int = 64, data_title: str = "Test images",
):
    """Two image grids side by side: ``n`` images of the data, then ``n`` samples of a model.

    Returns:
        the two axes.
    """
    with plt.rc_context(STYLE):
        _, axes = plt.subplots(1, 2, figsize=(8, 4))
    image_grid(data[:n], levels=levels, ax=axes[0], title=data_title)
    image_grid(samples[:n], levels=levels, ax=axes[1], title=f"Samples from {model}")
    return axes


def scatter_2d(points: torch.Tensor, *, ax=None, title: str = "", c=None, s: float = 2.0, lim=3.0):
    """Scatter plot of 2-D points ``(n, 2)`` on a square window ``[-lim, lim]²``."""
    p = torch.as_tensor(points).detach().cpu()
    if p.dim() != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {tuple(p.shape)}")
    p = p.numpy()
    with plt.rc_context(STYLE):
        ax = _axes(ax)
        ax.scatter(p[:, 0], p[:, 1], s=s, c=c, alpha=0.6, linewidths=0)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title,
               xlabel="$x_1$", ylabel="$x_2$")
    return ax


def density_2d(
    log_prob: Callable[[torch.Tensor], torch.Tensor],
    *,
    ax=None,
    title: str = "",
    lim: float = 3.0,
    resolution: int = 200,
):
    """Image of :math:`p(x) = \\exp(\\log p(x))` for a 2-D model on ``[-lim, lim]²``.

    Arguments:
        log_prob: maps points ``(m, 2)`` to log-densities ``(m,)``.

    Returns:
        the axes; the grid's total mass (which should be near 1 for a normalised density that
        lives inside the window) is stored as ``ax.grid_mass``.
    """
    xs = torch.linspace(-lim, lim, resolution)
    grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        dens = log_prob(grid).exp().reshape(resolution, resolution).cpu().numpy()
    cell = (2 * lim / (resolution - 1)) ** 2
    with plt.rc_context(STYLE):
        ax = _axes(ax)
        ax.imshow(dens, origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        ax.grid(False)
        ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.grid_mass = float(dens.sum() * cell)
    return ax


def training_curves(history, *, ax=None, title: str = "Training", ylabel: str = "loss", smooth: int = 20):
    """Training loss per step (smoothed by a running mean) and the validation metric.

    Arguments:
        history: a :class:`gdl.train.History`.
        smooth: window of the running mean over steps.
    """
    loss = np.asarray(history.train_loss, dtype=float)
    k = max(1, min(smooth, len(loss)))
    running = np.convolve(loss, np.ones(k) / k, mode="valid")
    with plt.rc_context(STYLE):
        ax = _axes(ax)
        ax.plot(history.steps[k - 1 :], running, label="train (running mean)")
        if history.val_steps:
            ax.plot(history.val_steps, history.val_metric, "o-", ms=3, label="validation")
            ax.axvline(history.best_step, color="grey", ls=":", label=f"kept: step {history.best_step}")
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        ax.legend(frameon=False)
    return ax


def logged(history, series: dict[str, str], *, ax=None, title: str = "", ylabel: str = "", smooth: int = 1):
    """Numbers a model's ``train_step`` logged, per step: ``series`` maps a key of
    ``history.extra`` (or ``"loss"``) to its legend label.

    Arguments:
        history: a :class:`gdl.train.History`.
        smooth: window of a running mean over steps (1: none).
    """
    with plt.rc_context(STYLE):
        ax = _axes(ax) if ax is not None else plt.subplots(figsize=(6, 3.5))[1]
        for key, label in series.items():
            values = np.asarray(history.train_loss if key == "loss" else history.extra[key], dtype=float)
            k = max(1, min(smooth, len(values)))
            ax.plot(history.steps[k - 1 :], np.convolve(values, np.ones(k) / k, mode="valid"), lw=0.8, label=label)
        ax.set(title=title, xlabel="step", ylabel=ylabel)
        ax.legend(frameon=False)
    return ax
