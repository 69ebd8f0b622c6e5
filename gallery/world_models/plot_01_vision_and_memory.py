r"""
V and M: a VAE that sees CartPole and an RNN that dreams it
===========================================================

Ha and Schmidhuber's world model splits an agent in three. **V**, a VAE, squeezes each frame
:math:`\mathbf{x}_t` into a short code :math:`\mathbf{z}_t`. **M**, a recurrent network, learns
how codes follow one another under the agent's actions, as a mixture of Gaussians for every
dimension of the next code,

.. math::

    p(\mathbf{z}_{t+1}\mid \mathbf{z}_{\le t}, a_{\le t}) = \prod_{d}\sum_{k}\pi_{dk}\,
    \mathcal{N}(z_{t+1,d};\,\mu_{dk},\sigma_{dk}^2),

together with the chance that the episode ends. **C**, a tiny controller, comes in the next
example. Here V and M learn from nothing but frames of random play, and M then dreams
an episode that never happened.
"""
# sphinx_gallery_gdl_budget = 20
# sphinx_gallery_thumbnail_number = 3

# %%
# Frames of random play
# ---------------------
# gymnasium's CartPole: push the cart left or right to keep the pole up; the episode ends when
# the pole tilts past 12 degrees or the cart leaves the track. A random policy lasts about 22
# steps. gdl draws each state as a 32×32 image with four grey levels
# (:func:`gdl.data.render_cartpole`): a small rasteriser of the state, because gymnasium's own
# renderer paints a 600×400 picture with pygame that would then be shrunk twelve-fold, and the
# rasteriser can draw the pole long enough that its tilt moves the tip by several pixels.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.latent import VAE
from gdl.world_models import MDNRNN, encode_frames, imagine, sequences

EPISODES = 400  # random-play episodes for training V and M, about 9000 frames
LATENT_DIM = 8
V_HIDDEN = (256,)
V_STEPS = 800
M_HIDDEN = 64
NUM_MIXTURES = 5
M_STEPS = 500

train = data.cartpole_rollouts(EPISODES, "train")
test = data.cartpole_rollouts(100, "test")
frames, test_frames = data.render_cartpole(train.states), data.render_cartpole(test.states)
vae = VAE(event_shape=(1, 32, 32), num_levels=4, latent_dim=LATENT_DIM, hidden=V_HIDDEN)
mdnrnn = MDNRNN(latent_dim=LATENT_DIM, hidden=M_HIDDEN, num_mixtures=NUM_MIXTURES)
print(f"{len(train.lengths)} episodes, {len(frames)} frames, mean length {train.lengths.float().mean():.1f} steps")

# %%
# V: a VAE on frames
# ------------------
# The package's :class:`gdl.latent.VAE`, with a categorical decoder over the four grey levels
# of each pixel. The code of a frame is the mean of :math:`q(\mathbf{z}\mid\mathbf{x})`.
history = gdl.fit(vae, frames, steps=V_STEPS, batch_size=64, lr=2e-3, cache=True)
fig, ax = plt.subplots(figsize=(8, 2.2))
shown = test_frames[torch.linspace(0, len(test_frames) - 1, 12).long()]
gdl.plot.image_grid(torch.cat([shown, vae.reconstruct(shown)]), nrow=12, levels=4, ax=ax,
                    title="Test frames (top) and V's reconstructions from 8 numbers (bottom)")
plt.show()

# %%
# What the code knows
# -------------------
# Nobody told V about angles or positions, yet a *linear* map of its 8 numbers recovers them
# on test frames (:math:`R^2 = 1` is perfect, 0 is no better than the mean). Velocities are not
# in a single frame; M has to infer them from the sequence.
from sklearn.linear_model import LinearRegression

z, z_test = encode_frames(vae, frames), encode_frames(vae, test_frames)
for i, name in [(0, "cart position"), (2, "pole angle")]:
    probe = LinearRegression().fit(z.numpy(), train.states[:, i].numpy())
    print(f"linear probe R^2, {name}: {probe.score(z_test.numpy(), test.states[:, i].numpy()):.3f}")

# %%
# M: a mixture-density RNN
# ------------------------
# An LSTM reads :math:`[\mathbf{z}_t, a_t]` and its head gives, for each of the 8 dimensions,
# five weights (a softmax over the *components*), means and scales, plus the logit of "the
# episode ends here". The loss is the negative log-likelihood of the next code plus the
# cross-entropy of the ending, averaged over the real steps of padded episodes.
m_history = gdl.fit(mdnrnn, sequences(z, train), steps=M_STEPS, batch_size=32, lr=3e-3, cache=True)
with torch.no_grad():
    test_loss = mdnrnn.loss(*sequences(z_test, test)).item()
print(f"M's test loss: {test_loss:.2f} nats per step (negative: a density over continuous codes)")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(history.train_loss, lw=0.8)
ax.set(xlabel="step", ylabel="nats per frame", title="V: negative ELBO while training")
ax2 = ax.twinx()
ax2.plot(m_history.train_loss, lw=0.8, color="C1")
ax2.set_ylabel("M: nats per step", color="C1")
plt.show()

# %%
# A dream beside the real thing
# -----------------------------
# Take a test episode, give M its first code and the same actions, and let it imagine the rest
# at temperature :math:`\tau = 1`; V's decoder turns the dreamt codes back into frames. The
# dream keeps the physics (the pole falls the way the pushes send it) but not every detail, and
# M's done head says when it thinks the episode is over.
e = int(test.lengths[:20].argmax())  # the longest of the first test episodes
real_states = test.split(test.states)[e]
actions = test.split(test.actions)[e][:-1]
dream_z, p_done = imagine(mdnrnn, z_test[test.starts[e]], actions, tau=1.0)
n = min(len(real_states), 16)
with torch.no_grad():
    dreamt = vae.decode(dream_z[:n]).mode
fig, ax = plt.subplots(figsize=(9, 1.9))
gdl.plot.image_grid(torch.cat([data.render_cartpole(real_states[:n]), dreamt]), nrow=n, levels=4, ax=ax,
                    title=f"Real episode (top) and M's dream from the same start and actions (bottom), {n} steps")
plt.show()

fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(range(1, len(p_done) + 1), p_done, "o-", ms=3, label="M: P(episode ends at this step)")
ax.axvline(len(actions), color="grey", ls="--", label="the real episode ended")
ax.set(xlabel="step", ylabel="probability", title="M's done head along the dream")
ax.legend(frameon=False)
plt.show()

gdl.results.record("VAE on CartPole frames (V of a world model)", vae, test_frames, dataset="CartPole frames",
                   history=history, num_samples=0,
                   note=f"32x32, 4 grey levels; M's test loss {test_loss:.2f} nats/step")

# %%
# What to try
# -----------
# Fewer latent dimensions (2 or 4) and watch the probe's :math:`R^2`; one mixture component
# instead of five; :math:`\tau = 0` and :math:`\tau = 2` in :func:`gdl.world_models.imagine`.
