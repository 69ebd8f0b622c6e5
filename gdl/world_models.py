r"""World models: a mixture-density RNN that dreams, and a controller evolved inside the dream.

Ha and Schmidhuber's agent has three parts. **V** compresses each frame to a code
:math:`\mathbf{z}_t` (here the package's :class:`gdl.latent.VAE`; :func:`encode_frames` takes the
mean of :math:`q(\mathbf{z}\mid\mathbf{x})`). **M**, the :class:`MDNRNN`, reads codes and actions
and predicts the next code as a mixture of Gaussians, one mixture per latent dimension, and
whether the episode ends:

.. math::

    p(\mathbf{z}_{t+1}\mid \mathbf{h}_{t+1}) = \prod_{d=1}^{D} \sum_{k=1}^{K}
    \pi_{dk}\,\mathcal{N}(z_{t+1,d};\ \mu_{dk}, \sigma_{dk}^2),\qquad
    \mathbf{h}_{t+1} = \mathrm{LSTM}(\mathbf{h}_t, [\mathbf{z}_t, a_t]),

with :math:`\sum_k \pi_{dk} = 1` for every dimension :math:`d`. **C** is a linear map of
:math:`[\mathbf{z}_t, \mathbf{h}_t]` to an action (:func:`act`), whose few weights
:func:`train_in_dream` searches with CMA-ES (the PyPI package ``cma``) using returns earned
only inside M's dream (:func:`dream`); :func:`play` then scores it in the real environment.

Example:
    >>> import torch
    >>> m = MDNRNN(latent_dim=3, hidden=8, num_mixtures=2)
    >>> log_pi, loc, scale, done_logit = m(torch.zeros(4, 5, 3), torch.zeros(4, 5, dtype=torch.long))[0]
    >>> log_pi.shape, done_logit.shape
    (torch.Size([4, 5, 3, 2]), torch.Size([4, 5]))

References:
    Ha and Schmidhuber, *Recurrent World Models Facilitate Policy Evolution*, NeurIPS 2018.
    https://arxiv.org/abs/1809.01999
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal
from torch.nn import functional as F

from . import _checks as checks
from .data.control import episode_seed, render_cartpole
from .train import default_seed

__all__ = [
    "MDNRNN",
    "mdn_sample",
    "encode_frames",
    "sequences",
    "num_weights",
    "act",
    "dream",
    "imagine",
    "play",
    "train_in_dream",
]


class MDNRNN(nn.Module):
    r"""M: an LSTM over ``[z_t, one_hot(a_t)]`` with a mixture-density head and a "done" head.

    From the hidden state :math:`\mathbf{h}_{t+1}` after reading step :math:`t`, a linear layer
    gives, for each of the ``latent_dim`` dimensions separately, ``num_mixtures`` logits (a
    softmax over the *components* makes them the weights :math:`\pi_{dk}`), means and log
    standard deviations; another gives the logit of :math:`P(\text{done}_{t+1})`. Training
    minimises the negative log-likelihood of the next code plus the binary cross-entropy of the
    ending (:meth:`loss`).

    Arguments:
        latent_dim: size :math:`D` of the codes.
        num_actions: number of discrete actions.
        hidden: size of the LSTM state.
        num_mixtures: Gaussians :math:`K` per latent dimension.

    Example:
        >>> m = MDNRNN(latent_dim=2, hidden=8)
        >>> z = torch.randn(3, 6, 2); a = torch.randint(0, 2, (3, 6))
        >>> m.loss(z[:, :-1], a[:, :-1], z[:, 1:], torch.zeros(3, 5), torch.ones(3, 5)).shape
        torch.Size([])
    """

    def __init__(self, latent_dim: int, num_actions: int = 2, hidden: int = 64, num_mixtures: int = 5):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.num_actions = checks.int_at_least(num_actions, "num_actions", 2)
        self.hidden = checks.positive_int(hidden, "hidden")
        self.num_mixtures = checks.positive_int(num_mixtures, "num_mixtures")
        self.lstm = nn.LSTM(latent_dim + num_actions, hidden, batch_first=True)
        self.mdn = nn.Linear(hidden, latent_dim * 3 * num_mixtures)
        self.done = nn.Linear(hidden, 1)

    def step(self, z: torch.Tensor, a: torch.Tensor, state=None):
        """Read codes ``z`` ``(B, T, D)`` and actions ``a`` ``(B, T)`` from LSTM ``state``.

        Returns:
            the hidden states ``(B, T, H)`` after each step, and the final LSTM state ``(h, c)``.
        """
        z = checks.tensor(z, "z")
        if z.dim() != 3 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, T, {self.latent_dim}), got {tuple(z.shape)}")
        a = checks.levels(a, self.num_actions, "a")
        if a.shape != z.shape[:-1]:
            raise ValueError(f"a must have shape {tuple(z.shape[:-1])} (one action per code), got {tuple(a.shape)}")
        x = torch.cat([z, F.one_hot(a, self.num_actions).to(z.dtype)], -1)  # (B, T, D + A)
        return self.lstm(x, state)

    def head(self, h: torch.Tensor):
        r"""The predictions from hidden states ``h`` ``(..., H)``.

        Returns:
            ``log_pi`` (log mixture weights, normalised over the last axis), ``loc`` and ``scale``,
            each ``(..., D, K)``, and ``done_logit`` ``(...,)``.
        """
        out = self.mdn(h).view(*h.shape[:-1], self.latent_dim, 3, self.num_mixtures)  # (..., D, 3, K)
        logit_pi, loc, log_scale = out.unbind(-2)  # (..., D, K) each
        log_pi = F.log_softmax(logit_pi, dim=-1)  # over the K components of each dimension
        scale = log_scale.clamp(-6.0, 3.0).exp()
        return log_pi, loc, scale, self.done(h).squeeze(-1)

    def forward(self, z: torch.Tensor, a: torch.Tensor, state=None):
        """``(head(h), state)`` for codes ``z`` ``(B, T, D)`` and actions ``a`` ``(B, T)``: the
        predictions of ``z[:, t + 1]`` and of the ending after each step."""
        h, state = self.step(z, a, state)
        return self.head(h), state

    @staticmethod
    def distribution(log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> Independent:
        """The mixture :math:`p(\\mathbf{z}_{t+1}\\mid\\mathbf{h}_{t+1})` as a torch distribution,
        event shape ``(D,)``."""
        return Independent(MixtureSameFamily(Categorical(logits=log_pi), Normal(loc, scale)), 1)

    def loss(self, z, a, z_next, done, mask) -> torch.Tensor:
        r"""Mean over the valid steps of :math:`-\log p(\mathbf{z}_{t+1}) - \log P(\text{done}_{t+1})`.

        Arguments:
            z, a: codes ``(B, T, D)`` and actions ``(B, T)`` read by the LSTM.
            z_next: the codes to predict, ``(B, T, D)``.
            done: 1.0 where step ``t`` ended the episode, ``(B, T)``.
            mask: 1.0 on real steps, 0.0 on padding, ``(B, T)``.
        """
        (log_pi, loc, scale, done_logit), _ = self(z, a)
        nll = -self.distribution(log_pi, loc, scale).log_prob(z_next)  # (B, T)
        bce = F.binary_cross_entropy_with_logits(done_logit, done, reduction="none")  # (B, T)
        return ((nll + bce) * mask).sum() / mask.sum()


def mdn_sample(log_pi: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, tau: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw from the mixture at temperature :math:`\tau`, one component per latent dimension.

    The component is drawn from :math:`\mathrm{softmax}(\log\pi / \tau)` and the value from
    :math:`\mathcal{N}(\mu_k, \tau\sigma_k^2)`. :math:`\tau = 1` is the model itself; larger
    :math:`\tau` makes a wilder, harder dream; :math:`\tau = 0` returns the mean of the most
    probable component, a deterministic dream.

    Arguments:
        log_pi, loc, scale: ``(..., D, K)``, as from :meth:`MDNRNN.head`.
        tau: temperature, ``>= 0``.

    Returns:
        codes ``(..., D)``.

    Example:
        >>> log_pi = torch.log(torch.tensor([[0.3, 0.7]]))
        >>> mdn_sample(log_pi, torch.tensor([[-1.0, 2.0]]), torch.ones(1, 2), tau=0.0)
        tensor([2.])
    """
    tau = checks.number(tau, "tau")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau!r}")
    if tau == 0:
        k = log_pi.argmax(-1, keepdim=True)  # (..., D, 1)
        return loc.gather(-1, k).squeeze(-1)
    probs = F.softmax(log_pi / tau, dim=-1)
    k = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).view(*probs.shape[:-1], 1)
    eps = torch.randn(loc.shape[:-1], generator=generator, dtype=loc.dtype, device=loc.device)
    return loc.gather(-1, k).squeeze(-1) + math.sqrt(tau) * scale.gather(-1, k).squeeze(-1) * eps


@torch.no_grad()
def encode_frames(vae, frames: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    r"""V: the mean of :math:`q(\mathbf{z}\mid\mathbf{x})` for each frame, shape ``(N, D)``."""
    was_training = vae.training
    vae.eval()
    out = torch.cat([vae.encode(frames[i : i + batch_size]).mean for i in range(0, len(frames), batch_size)])
    vae.train(was_training)
    return out


def sequences(z: torch.Tensor, rollouts) -> tuple[torch.Tensor, ...]:
    """M's training data from per-state codes ``z`` ``(N, D)`` of :class:`gdl.data.Rollouts`.

    Returns:
        ``(z, a, z_next, done, mask)``, padded to the longest episode ``T``: codes read
        ``(E, T, D)``, actions ``(E, T)``, codes to predict ``(E, T, D)``, ``done`` 1.0 on the
        step that ended a terminated episode, and ``mask`` 1.0 on real steps.
    """
    pad = nn.utils.rnn.pad_sequence
    zs, actions = rollouts.split(z), rollouts.split(rollouts.actions)
    z_in = pad([s[:-1] for s in zs], batch_first=True)
    z_next = pad([s[1:] for s in zs], batch_first=True)
    a = pad([s[:-1] for s in actions], batch_first=True)
    mask = pad([torch.ones(len(s) - 1) for s in zs], batch_first=True)
    done = torch.zeros_like(mask)
    last = rollouts.lengths - 1
    done[torch.arange(len(last)), last] = rollouts.terminated.float()
    return z_in, a, z_next, done, mask


# ---------------------------------------------------------------------------------- controller
def num_weights(mdnrnn: MDNRNN) -> int:
    """Number of weights of the linear controller on ``[z, h]``: one per input plus a bias, for
    one score (two actions) or one score per action (more)."""
    scores = 1 if mdnrnn.num_actions == 2 else mdnrnn.num_actions
    return scores * (mdnrnn.latent_dim + mdnrnn.hidden + 1)


def act(weights: torch.Tensor, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    r"""C: a linear controller on :math:`[\mathbf{z}, \mathbf{h}]`.

    With two actions, one score: push right (1) if :math:`\mathbf{w}^\top[\mathbf{z}, \mathbf{h}]
    + b > 0`, else left (0). With more, one score per action and the largest wins.

    Arguments:
        weights: ``(P, W)``, one controller per row, ``W`` = :func:`num_weights`.
        z, h: ``(P, E, D)`` and ``(P, E, H)``: ``E`` episodes per controller.

    Returns:
        int64 actions ``(P, E)``.

    Example:
        >>> act(torch.tensor([[1.0, 0.0, -0.5]]), torch.tensor([[[1.0]]]), torch.tensor([[[3.0]]]))
        tensor([[1]])
    """
    features = torch.cat([z, h], -1)  # (P, E, F), F = D + H
    P, F_ = weights.shape[0], features.shape[-1]
    w = weights.view(P, -1, F_ + 1)  # (P, scores, F + 1)
    score = torch.einsum("pef,psf->pes", features, w[..., :-1]) + w[:, None, :, -1]  # (P, E, scores)
    if w.shape[1] == 1:
        return (score[..., 0] > 0).long()
    return score.argmax(-1)


@torch.no_grad()
def dream(mdnrnn: MDNRNN, weights: torch.Tensor, z0: torch.Tensor, *, max_steps: int = 500,
          tau: float = 1.0, generator: torch.Generator | None = None, record: bool = False):
    r"""Run controllers inside M's dream: no environment, only :class:`MDNRNN`.

    Each controller plays every start in ``z0``. At each step it acts on :math:`[\mathbf{z}_t,
    \mathbf{h}_t]`; M reads the code and the action, draws the next code with temperature
    ``tau`` (:func:`mdn_sample`) and draws the ending from its done head. Every step survived
    earns 1, as in CartPole.

    Arguments:
        weights: ``(P, W)`` controllers (:func:`act`).
        z0: ``(E, D)`` starting codes.
        max_steps: an episode that survives this long is cut off.
        tau: temperature of the next-code mixture.
        record: also return the dreamt codes ``(max_steps + 1, P, E, D)`` and actions.

    Returns:
        the returns ``(P, E)``; with ``record``, also codes and actions.
    """
    max_steps = checks.positive_int(max_steps, "max_steps")
    P, E = len(weights), len(z0)
    z = z0.expand(P, E, -1).reshape(P * E, 1, -1)  # (P E, 1, D)
    h = torch.zeros(P * E, 1, mdnrnn.hidden)  # h_0 = 0, the LSTM's own default
    state = None
    alive = torch.ones(P * E)
    returns = torch.zeros(P * E)
    zs, actions = [z.view(P, E, -1)], []
    for _ in range(max_steps):
        a = act(weights, z.view(P, E, -1), h.view(P, E, -1)).view(P * E, 1)
        h, state = mdnrnn.step(z, a, state)  # (P E, 1, H)
        log_pi, loc, scale, done_logit = mdnrnn.head(h)
        z = mdn_sample(log_pi, loc, scale, tau, generator)  # (P E, 1, D)
        done = torch.bernoulli(torch.sigmoid(done_logit.squeeze(1)), generator=generator)
        returns += alive  # the step was taken: it earns 1, even if it ends the episode
        alive = alive * (1 - done)
        if record:
            zs.append(z.view(P, E, -1))
            actions.append(a.view(P, E))
        if not alive.any():
            break
    returns = returns.view(P, E)
    if record:
        return returns, torch.stack(zs), torch.stack(actions)
    return returns


@torch.no_grad()
def imagine(mdnrnn: MDNRNN, z0: torch.Tensor, actions: torch.Tensor, *, tau: float = 1.0,
            generator: torch.Generator | None = None):
    r"""Dream one episode open loop: from code ``z0`` ``(D,)``, M's guesses after each of ``actions``.

    Returns:
        the codes ``(T + 1, D)``, ``z0`` first, and M's probability that each step ended the
        episode, ``(T,)``.
    """
    zs, p_done, state, z = [z0], [], None, z0.view(1, 1, -1)
    for a in actions.view(-1):
        h, state = mdnrnn.step(z, a.view(1, 1), state)
        log_pi, loc, scale, done_logit = mdnrnn.head(h)
        z = mdn_sample(log_pi, loc, scale, tau, generator)  # (1, 1, D)
        zs.append(z.view(-1))
        p_done.append(torch.sigmoid(done_logit).view(()))
    return torch.stack(zs), torch.stack(p_done)


@torch.no_grad()
def play(env, vae, mdnrnn: MDNRNN, weights: torch.Tensor | None, episodes: int, *, seed: int | None = None,
         render=render_cartpole) -> torch.Tensor:
    r"""Score a controller in the real environment, seeing it only through V and M.

    Episode ``e`` starts from ``env.reset(seed=episode_seed(e, "play", seed))``, starts that
    the training rollouts never saw (``seed``: the run's seed by default). Each frame is rendered, encoded by V,
    and the controller acts on :math:`[\mathbf{z}_t, \mathbf{h}_t]` while M's LSTM reads
    :math:`(\mathbf{z}_t, a_t)`, exactly as in the dream. ``weights=None`` plays uniformly random
    actions instead.

    Arguments:
        env: a gymnasium environment whose observations ``render`` draws (CartPole).
        weights: one controller, ``(W,)`` (:func:`num_weights`), or ``None``.
        episodes: number of episodes.

    Returns:
        the return of each episode, ``(episodes,)``.
    """
    episodes = checks.positive_int(episodes, "episodes")
    first = episode_seed(0, "play", seed)
    rng = np.random.default_rng(first)
    returns = torch.zeros(episodes)
    for e in range(episodes):
        obs, _ = env.reset(seed=first + e)
        state, h = None, torch.zeros(1, 1, mdnrnn.hidden)
        done = False
        while not done:
            z = encode_frames(vae, render(obs[None])).view(1, 1, -1)
            if weights is None:
                a = torch.tensor([[int(rng.integers(mdnrnn.num_actions))]])
            else:
                a = act(weights.view(1, -1), z, h)  # (1, 1)
            obs, reward, term, trunc, _ = env.step(int(a))
            returns[e] += reward
            done = term or trunc
            if not done:
                h, state = mdnrnn.step(z, a, state)
    return returns


def train_in_dream(mdnrnn: MDNRNN, z0: torch.Tensor, *, generations: int = 30, popsize: int = 16,
                   episodes: int = 16, max_steps: int = 500, tau: float = 1.0, sigma0: float = 0.5,
                   seed: int | None = None, check=None, check_every: int = 5):
    r"""Evolve a linear controller with CMA-ES, scoring each candidate only in the dream.

    Each generation, CMA-ES (the PyPI package ``cma``) proposes ``popsize`` weight vectors; each
    plays ``episodes`` dream episodes from starts drawn from ``z0`` (the same starts for every
    candidate of a generation, so they are compared on equal terms), and its fitness is its
    mean dream return. The real environment is never touched here, except through ``check``.

    Arguments:
        mdnrnn: the trained M.
        z0: ``(N, D)`` codes of real starting frames to dream from.
        generations, popsize, episodes: the size of the search.
        max_steps: dream episodes are cut off after this many steps.
        tau: the dream's temperature (:func:`mdn_sample`).
        sigma0: CMA-ES's initial step size.
        seed: seeds CMA-ES, the starts and the dream (default: the run's seed).
        check: optional ``check(weights) -> float``, called every ``check_every`` generations
            and after the last with CMA-ES's current mean (for example a few real episodes).

    Returns:
        the weights of CMA-ES's final mean ``(W,)``, and a history dict of lists:
        ``"mean"`` and ``"best"`` dream return per generation, ``"check_generation"`` and
        ``"check"``.
    """
    try:
        import cma
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("train_in_dream needs the PyPI package 'cma': pip install cma") from error
    generations = checks.positive_int(generations, "generations")
    popsize = checks.int_at_least(popsize, "popsize", 2)
    episodes = checks.positive_int(episodes, "episodes")
    check_every = checks.int_at_least(check_every, "check_every", 0)
    seed = default_seed() if seed is None else seed
    generator = torch.Generator().manual_seed(seed)
    es = cma.CMAEvolutionStrategy(np.zeros(num_weights(mdnrnn)), sigma0,
                                  {"popsize": popsize, "seed": seed + 1, "verbose": -9})
    history = {"mean": [], "best": [], "check_generation": [], "check": []}
    for g in range(1, generations + 1):
        candidates = es.ask()
        weights = torch.tensor(np.array(candidates), dtype=torch.float32)
        starts = z0[torch.randint(len(z0), (episodes,), generator=generator)]
        fitness = dream(mdnrnn, weights, starts, max_steps=max_steps, tau=tau, generator=generator).mean(1)
        es.tell(candidates, (-fitness).tolist())  # cma minimises
        history["mean"].append(fitness.mean().item())
        history["best"].append(fitness.max().item())
        if check is not None and check_every and (g % check_every == 0 or g == generations):
            history["check_generation"].append(g)
            history["check"].append(float(check(torch.tensor(es.mean, dtype=torch.float32))))
    return torch.tensor(es.mean, dtype=torch.float32), history
