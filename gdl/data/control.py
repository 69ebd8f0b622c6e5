r"""A control task seen through pixels: CartPole rollouts rendered to small grey frames.

:func:`cartpole_rollouts` plays gymnasium's ``CartPole-v1`` with a random policy and returns
every state, action and ending; :func:`render_cartpole` draws states as 32×32 images with a few
grey levels. The renderer is a small rasteriser of the state, not gymnasium's own
``render_mode="rgb_array"``: that one draws a 600×400 RGB image with pygame (and needs pygame
installed), which then has to be shrunk 12-fold; the rasteriser draws a whole batch of states at
once with a few tensor operations, and it can draw the pole longer than the real one, so that
the angles the task cares about (up to 12 degrees) move the pole tip by several pixels instead
of one.

The environment comes from the PyPI package ``gymnasium``, imported only when rollouts are
collected.

Example:
    >>> rollouts = cartpole_rollouts(3, "train", seed=0)
    >>> frames = render_cartpole(rollouts.states)
    >>> frames.shape[1:], int(frames.max()) <= 3, len(rollouts.lengths)
    (torch.Size([1, 32, 32]), True, 3)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import _checks as checks
from ..train import default_seed

__all__ = ["Rollouts", "cartpole_rollouts", "random_rollouts", "episode_seed", "render_cartpole", "make_cartpole", "X_THRESHOLD"]

#: CartPole ends when the cart leaves :math:`[-2.4, 2.4]` or the pole tilts past 12 degrees.
X_THRESHOLD = 2.4

#: Where each split's starting seeds begin, within a run seed's block of a million.
SPLITS = {"train": 0, "test": 300_000, "play": 600_000}


def make_cartpole(max_steps: int = 500):
    """gymnasium's ``CartPole-v1``, ending after ``max_steps`` steps.

    Raises:
        ImportError: naming the PyPI package ``gymnasium`` when it is not installed.
    """
    try:
        import gymnasium
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the CartPole environment needs the PyPI package 'gymnasium': pip install gymnasium"
        ) from error
    return gymnasium.make("CartPole-v1", max_episode_steps=checks.positive_int(max_steps, "max_steps"))


@dataclasses.dataclass
class Rollouts:
    """Episodes one after another.

    Episode ``e`` takes ``lengths[e]`` actions and visits ``lengths[e] + 1`` states: its start, and
    the state after each action, the last one included (where the episode ended).

    Attributes:
        states: ``(N, ...)``: the observations, all episodes concatenated
            (``N = sum(lengths + 1)``); for CartPole ``(N, 4)`` float32: cart position, cart
            velocity, pole angle (radians), pole angular velocity.
        actions: ``(N,)`` int64: the action taken in each state (CartPole: 0 push left, 1 push
            right), ``-1`` in the last state of an episode.
        lengths: ``(E,)`` int64: the number of actions of each episode.
        terminated: ``(E,)`` bool: ``True`` if the episode ended because the pole fell or the cart
            left the track, ``False`` if it was cut off at ``max_steps``.
    """

    states: torch.Tensor
    actions: torch.Tensor
    lengths: torch.Tensor
    terminated: torch.Tensor

    def split(self, t: torch.Tensor) -> list[torch.Tensor]:
        """Cut a per-state tensor ``(N, ...)`` into one tensor per episode, ``(lengths[e] + 1, ...)``."""
        return list(torch.split(t, (self.lengths + 1).tolist()))

    @property
    def starts(self) -> torch.Tensor:
        """The index in ``0 .. N-1`` of each episode's first state, shape ``(E,)``."""
        return torch.cumsum(self.lengths + 1, 0) - (self.lengths + 1)


def episode_seed(e: int, split: str = "train", seed: int | None = None) -> int:
    """The seed of ``env.reset`` for episode ``e`` of a split: the splits and the run seeds never
    share a start (``"train"``, ``"test"``, and ``"play"`` for :func:`gdl.world_models.play`)."""
    split = checks.one_of(split, "split", SPLITS)
    seed = default_seed() if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return 1_000_000 * seed + SPLITS[split] + e


def cartpole_rollouts(episodes: int, split: str = "train", *, seed: int | None = None,
                      max_steps: int = 500) -> Rollouts:
    """Play ``episodes`` episodes of ``CartPole-v1`` with actions drawn uniformly at random.

    Episode ``e`` starts from ``env.reset(seed=episode_seed(e, split, seed))`` and the actions
    come from a NumPy generator seeded with the first of those: the same arguments give the
    same rollouts, and the two splits never share a start.

    Arguments:
        episodes: number of episodes.
        split: ``"train"`` or ``"test"``.
        seed: the run's seed (default: ``$GDL_SEED`` or 0, see :func:`gdl.train.default_seed`).
        max_steps: an episode that survives this long is cut off.

    Returns:
        a :class:`Rollouts`. A random policy keeps the pole up for about 22 steps.
    """
    episodes = checks.positive_int(episodes, "episodes")
    first = episode_seed(0, split, seed)
    env = make_cartpole(max_steps)
    rollouts = random_rollouts(env, episodes, first_seed=first)
    env.close()
    return dataclasses.replace(rollouts, states=rollouts.states.float())


def random_rollouts(env, episodes: int, *, first_seed: int = 0, hold: int = 1) -> Rollouts:
    """Play ``episodes`` episodes of a gymnasium environment with a discrete action space, each
    action drawn uniformly at random and held for ``hold`` steps; the environment stays open.

    Episode ``e`` starts from ``env.reset(seed=first_seed + e)``; the actions come from a NumPy
    generator seeded with ``first_seed``, so the same arguments give the same rollouts.
    The states are the observations as the environment gives them (CarRacing: uint8 images).

    Example:
        >>> r = random_rollouts(make_cartpole(), 2, first_seed=5)
        >>> len(r.lengths), int(r.actions[r.lengths[0]])
        (2, -1)
    """
    episodes = checks.positive_int(episodes, "episodes")
    hold = checks.positive_int(hold, "hold")
    rng = np.random.default_rng(first_seed)
    num_actions = int(env.action_space.n)
    states, actions, lengths, terminated = [], [], [], []
    for e in range(episodes):
        obs, _ = env.reset(seed=first_seed + e)
        done, n = False, 0
        while not done:
            if n % hold == 0:
                a = int(rng.integers(num_actions))
            states.append(obs)
            actions.append(a)
            obs, _, term, trunc, _ = env.step(a)
            done, n = term or trunc, n + 1
        states.append(obs)
        actions.append(-1)
        lengths.append(n)
        terminated.append(bool(term))
    return Rollouts(
        states=torch.as_tensor(np.array(states)),
        actions=torch.tensor(actions),
        lengths=torch.tensor(lengths),
        terminated=torch.tensor(terminated),
    )


def render_cartpole(states, size: int = 32, num_levels: int = 4, pole_length: float = 0.7) -> torch.Tensor:
    r"""Draw CartPole states as grey images: a cart on a track and its pole, seen from the side.

    The track spans the image width (a little more than :math:`[-2.4, 2.4]`); the cart is a
    small block near the bottom; the pole is a thick line from the cart's top, ``pole_length``
    of the image height long, tilted by the pole angle. Edges are anti-aliased: a pixel's
    brightness falls off linearly over one pixel from each shape's border, then is rounded to
    ``num_levels`` grey levels, so a sub-pixel move of the pole changes a few grey levels.

    Arguments:
        states: ``(N, 4)`` CartPole states (a tensor or an array).
        size: image side in pixels.
        num_levels: grey levels of the result (2 gives black and white).
        pole_length: pole length as a fraction of the image height.

    Returns:
        int64 images, shape ``(N, 1, size, size)``, values in ``0 .. num_levels - 1``.
    """
    size = checks.int_at_least(size, "size", 8)
    num_levels = checks.int_at_least(num_levels, "num_levels", 2)
    s = torch.as_tensor(np.asarray(states), dtype=torch.float32)
    if s.dim() != 2 or s.shape[1] != 4:
        raise ValueError(f"states must have shape (N, 4), got {tuple(s.shape)}")
    x, theta = s[:, 0, None, None], s[:, 2, None, None]  # (N, 1, 1)
    scale = size / (2 * X_THRESHOLD + 0.6)  # pixels per unit of track
    grid = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    rows, cols = grid.view(-1, 1), grid.view(1, -1)  # (size, 1), (1, size)
    cx = size / 2 + x * scale  # cart centre, in pixels
    cart_top, cart_bottom = 0.80 * size, 0.90 * size
    half_width = 0.09 * size
    # distance outside the cart's rectangle (0 inside), per axis
    dx = (cols - cx).abs() - half_width
    dy = torch.maximum(cart_top - rows, rows - cart_bottom)
    cart = (0.5 - torch.maximum(dx, dy)).clamp(0, 1)  # (N, size, size)
    # the pole: the segment from the pivot (cx, cart_top) to its tip, thickness ~2 pixels
    length = pole_length * size
    ux, uy = torch.sin(theta), -torch.cos(theta)  # unit vector along the pole (image rows grow downwards)
    px, py = cols - cx, rows - cart_top  # (N, size, size) offsets from the pivot
    along = (px * ux + py * uy).clamp(min=0.0).minimum(torch.full_like(px, length))
    dist = torch.sqrt((px - along * ux) ** 2 + (py - along * uy) ** 2)
    pole = (1.5 - dist).clamp(0, 1)
    ink = torch.maximum(cart, pole)[:, None]  # (N, 1, size, size) in [0, 1]
    return torch.round(ink * (num_levels - 1)).long()
