r"""
C: a controller evolved inside the dream
========================================

The last part of the world model is the smallest: a linear controller that reads V's code and
M's hidden state and pushes the cart right when

.. math::

    \mathbf{w}^\top[\mathbf{z}_t, \mathbf{h}_t] + b > 0,

73 numbers in all. It never trains in the real game. CMA-ES, an evolution strategy that adapts
a Gaussian search distribution over the weights, proposes controllers; each one plays inside
M's dream, where M supplies the next code and decides when the episode ends; the best ones
move the search. Only afterwards does the controller meet the real CartPole.
"""
# sphinx_gallery_gdl_budget = 14
# sphinx_gallery_gdl_after = "plot_01_vision_and_memory.py"
# sphinx_gallery_thumbnail_number = 2

# %%
# V and M from the previous example
# ---------------------------------
# The same data, models and settings as the previous example: :func:`gdl.fit` finds the
# weights that example trained in its cache and loads them (run on its own, this script trains
# them).
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.latent import VAE
from gdl.world_models import MDNRNN, encode_frames, num_weights, play, sequences, train_in_dream

EPISODES = 400
LATENT_DIM = 8
V_HIDDEN = (256,)
V_STEPS = 800
M_HIDDEN = 64
NUM_MIXTURES = 5
M_STEPS = 500
GENERATIONS = 15
POPSIZE = 16  # controllers per generation
DREAMS = 16  # dream episodes per controller
DREAM_STEPS = 200  # a dream episode is cut off here; the real game allows 500
TAU = 1.0  # temperature of the dream
CHECK_EPISODES = 3  # real episodes for each check along the way
TEST_EPISODES = 20

train = data.cartpole_rollouts(EPISODES, "train")
frames = data.render_cartpole(train.states)
vae = VAE(event_shape=(1, 32, 32), num_levels=4, latent_dim=LATENT_DIM, hidden=V_HIDDEN)
mdnrnn = MDNRNN(latent_dim=LATENT_DIM, hidden=M_HIDDEN, num_mixtures=NUM_MIXTURES)
gdl.fit(vae, frames, steps=V_STEPS, batch_size=64, lr=2e-3, cache=True)
z = encode_frames(vae, frames)
gdl.fit(mdnrnn, sequences(z, train), steps=M_STEPS, batch_size=32, lr=3e-3, cache=True)
print(f"the controller has {num_weights(mdnrnn)} weights")

# %%
# Evolution in the dream
# ----------------------
# Every controller of a generation dreams from the same 16 real starting frames; its fitness
# is its mean dreamt return (1 per step survived, as in the game). Every five generations the
# search's current mean is also played for three real episodes, only to watch: nothing learns
# from those.
env = data.make_cartpole()


def check(weights):
    return play(env, vae, mdnrnn, weights, CHECK_EPISODES).mean().item()


weights, history = train_in_dream(mdnrnn, z[train.starts], generations=GENERATIONS, popsize=POPSIZE,
                                  episodes=DREAMS, max_steps=DREAM_STEPS, tau=TAU, check=check)
generations = range(1, GENERATIONS + 1)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(generations, history["mean"], label="dream: mean of the population")
ax.plot(generations, history["best"], label="dream: best controller")
ax.plot(history["check_generation"], history["check"], "o--", label="real game: the search's mean")
ax.axhline(DREAM_STEPS, color="grey", ls=":", lw=1)
ax.set(xlabel="generation", ylabel="return (steps survived)", title="CMA-ES inside M's dream")
ax.legend(frameon=False)
plt.show()

# %%
# In the real game
# ----------------
# The final controller and a random policy play the same 20 real episodes, from starts that
# none of the training rollouts used. The real game stops at 500 steps.
controller = play(env, vae, mdnrnn, weights, TEST_EPISODES)
random = play(env, vae, mdnrnn, None, TEST_EPISODES)
print(f"mean real return over {TEST_EPISODES} episodes: random {random.mean():.1f}, "
      f"dream-trained controller {controller.mean():.1f}")
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = torch.linspace(0, 500, 26)
ax.hist(random, bins=bins, alpha=0.7, label=f"random play (mean {random.mean():.0f})")
ax.hist(controller, bins=bins, alpha=0.7, label=f"trained in the dream (mean {controller.mean():.0f})")
ax.set(xlabel="return in the real game", ylabel="episodes", title=f"{TEST_EPISODES} real episodes each")
ax.legend(frameon=False)
plt.show()

# %%
# What to try
# -----------
# Dream colder (``TAU = 0.2``) or hotter (``TAU = 2``): a cold dream is easy to fool, a controller
# learns the model's mistakes and scores far better in the dream than in the game; a hot one
# is harder than the game. Train M on half the episodes and watch the gap between the two
# curves grow.
