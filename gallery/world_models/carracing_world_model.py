r"""
A world model of CarRacing (not run by the build)
=================================================

The paper's first task: drive a car round a random track seen from above. The same three
parts as for CartPole: V, a VAE on the frames; M, the mixture-density RNN; C, a linear
controller on :math:`[\mathbf{z}_t, \mathbf{h}_t]`, here choosing among five discrete actions
(nothing, left, right, gas, brake). CarRacing's reward is not survival (each new tile of track
earns points, every frame costs a little), and M does not predict it, so, as in the paper, C
is evolved by CMA-ES in the *real* environment; M's dream is shown for comparison.

CarRacing steps at about 47 frames a second on a laptop CPU, so this script takes far longer
than a gallery script may, and the docs build does not run it (it runs only ``plot_*.py``).
Run it by hand, with gymnasium's Box2D extra installed::

    pip install "gymnasium[box2d]"
    python gallery/world_models/carracing_world_model.py
"""

# %%
# Random driving
# --------------
# The 96×96 colour observations become 32×32 frames with four grey levels (a mean over
# colours, then over 3×3 blocks). Random actions are held for a few frames, so the car moves.
import dataclasses

import cma
import gymnasium
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn import functional as F

import gdl
from gdl import data
from gdl.latent import VAE
from gdl.world_models import MDNRNN, encode_frames, imagine, num_weights, play, sequences

EPISODES = 40
MAX_STEPS = 300  # frames per random episode
HOLD = 4  # a random action is repeated this many frames
LATENT_DIM = 16
M_HIDDEN = 128
GENERATIONS = 10
POPSIZE = 8
LEVELS = 4


def to_frames(obs) -> torch.Tensor:
    """CarRacing observations ``(N, 96, 96, 3)`` -> grey frames ``(N, 1, 32, 32)``, ``LEVELS`` levels."""
    grey = torch.as_tensor(np.asarray(obs), dtype=torch.float32).mean(-1)[:, None] / 255  # (N, 1, 96, 96)
    return torch.round(F.avg_pool2d(grey, 3) * (LEVELS - 1)).long()


env = gymnasium.make("CarRacing-v3", continuous=False, max_episode_steps=MAX_STEPS)
raw = data.random_rollouts(env, EPISODES, first_seed=0, hold=HOLD)
frames = to_frames(raw.states)
rollouts = dataclasses.replace(raw, states=frames)
print(f"{len(frames)} frames from {EPISODES} episodes")

# %%
# V and M
# -------
vae = VAE(event_shape=(1, 32, 32), num_levels=LEVELS, latent_dim=LATENT_DIM, hidden=(512,))
mdnrnn = MDNRNN(latent_dim=LATENT_DIM, num_actions=5, hidden=M_HIDDEN)
gdl.fit(vae, frames, steps=3000, batch_size=64, lr=1e-3)
z = encode_frames(vae, frames)
gdl.fit(mdnrnn, sequences(z, rollouts), steps=1500, batch_size=16, lr=1e-3)

shown = frames[torch.linspace(0, len(frames) - 1, 10).long()]
fig, ax = plt.subplots(figsize=(8, 2))
gdl.plot.image_grid(torch.cat([shown, vae.reconstruct(shown)]), nrow=10, levels=LEVELS, ax=ax,
                    title="Frames (top) and V's reconstructions (bottom)")
plt.show()

# %%
# A dream of the first episode
# ----------------------------
first = rollouts.split(rollouts.actions)[0][:-1][:40]
dream_z, _ = imagine(mdnrnn, z[0], first, tau=1.0)
with torch.no_grad():
    dreamt = vae.decode(dream_z[::4]).mode
fig, ax = plt.subplots(figsize=(8, 2))
gdl.plot.image_grid(torch.cat([frames[: 41 : 4], dreamt]), nrow=len(dreamt), levels=LEVELS, ax=ax,
                    title="Real frames (top) and M's dream with the same actions (bottom), every 4th")
plt.show()

# %%
# C, evolved in the real game
# ---------------------------
# One real episode per candidate; the fitness is the game's own return.
es = cma.CMAEvolutionStrategy(np.zeros(num_weights(mdnrnn)), 0.5, {"popsize": POPSIZE, "seed": 1, "verbose": -9})
best = []
for g in range(GENERATIONS):
    candidates = es.ask()
    returns = [play(env, vae, mdnrnn, torch.tensor(w, dtype=torch.float32), 1, render=to_frames).item()
               for w in candidates]
    es.tell(candidates, [-r for r in returns])
    best.append(max(returns))
    print(f"generation {g + 1}: best return {best[-1]:.1f}")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, GENERATIONS + 1), best, "o-")
ax.set(xlabel="generation", ylabel="return of the best controller", title="CMA-ES on CarRacing")
plt.show()

# %%
# What to try
# -----------
# More episodes and generations (the paper used 10 000 rollouts and several hundred
# generations); reward prediction in M, so that C can train in the dream here too.
