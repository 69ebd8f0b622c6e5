r"""2-D toy sets: points in the plane with labels, drawn from a seeded generator.

Example:
    >>> x, y = toy_2d("8gaussians", 1000, seed=0)
    >>> tuple(x.shape), sorted(set(y.tolist())) == list(range(8))
    ((1000, 2), True)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["TOY_SETS", "toy_2d", "eight_gaussian_centres"]


def eight_gaussian_centres() -> np.ndarray:
    r"""The modes of the ``"8gaussians"`` set: :math:`2(\cos\frac{2\pi j}{8}, \sin\frac{2\pi j}{8})`,
    :math:`j = 0..7`, shape ``(8, 2)``."""
    angles = 2 * np.pi * np.arange(8) / 8
    return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _eight_gaussians(n: int, rng: np.random.Generator, noise: float):
    centres = eight_gaussian_centres()
    y = rng.integers(0, 8, size=n)
    x = centres[y] + noise * rng.standard_normal((n, 2))
    return x, y


def _checkerboard(n: int, rng: np.random.Generator, noise: float):
    # 4×4 board on [-2, 2]²; points fill the 8 dark squares uniformly.
    del noise
    cols = rng.integers(0, 4, size=n)
    rows = 2 * rng.integers(0, 2, size=n) + (cols % 2)
    x = np.stack([cols + rng.random(n), rows + rng.random(n)], axis=1) - 2.0
    y = rows * 4 + cols
    return x, y


def _moons(n, rng, noise):
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=noise, random_state=int(rng.integers(2**31)))
    return (x - [0.5, 0.25]) * 1.5, y


def _circles(n, rng, noise):
    from sklearn.datasets import make_circles

    x, y = make_circles(n, noise=noise, factor=0.5, random_state=int(rng.integers(2**31)))
    return 2.0 * x, y


def _swiss_roll(n, rng, noise):
    from sklearn.datasets import make_swiss_roll

    x3, t = make_swiss_roll(n, noise=noise, random_state=int(rng.integers(2**31)))
    return x3[:, [0, 2]] / 5.0, t


#: The 2-D sets, with the default noise of each.
TOY_SETS = {
    "moons": (_moons, 0.05),
    "circles": (_circles, 0.05),
    "8gaussians": (_eight_gaussians, 0.1),
    "checkerboard": (_checkerboard, 0.0),
    "swissroll": (_swiss_roll, 0.5),
}


def toy_2d(
    name: str, n: int = 2000, *, seed: int = 0, noise: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-D toy data set, centred near the origin with a spread of about 2.

    Arguments:
        name: one of ``"moons"``, ``"circles"``, ``"8gaussians"``, ``"checkerboard"``,
            ``"swissroll"``.
        n: number of points.
        seed: seed of the generator; the same seed gives the same points.
        noise: standard deviation of the added Gaussian noise (each set has a default;
            the checkerboard is uniform and ignores it).

    Returns:
        ``x`` of shape ``(n, 2)`` (float32) and ``y`` of shape ``(n,)``: the moon, circle,
        mode or square a point came from (int64), or its position along the swiss roll (float32).

    Example:
        >>> x, y = toy_2d("8gaussians", 1000, seed=0)
        >>> tuple(x.shape), sorted(set(y.tolist())) == list(range(8))
        ((1000, 2), True)
    """
    if name not in TOY_SETS:
        raise ValueError(f"name must be one of {sorted(TOY_SETS)}, got {name!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    make, default_noise = TOY_SETS[name]
    noise = default_noise if noise is None else noise
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    x, y = make(n, rng, noise)
    y_dtype = torch.float32 if name == "swissroll" else torch.int64
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=y_dtype)
