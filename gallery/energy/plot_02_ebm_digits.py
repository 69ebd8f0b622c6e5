r"""
Energy-based model on digits
============================

The same recipe as on two-dimensional data, in 64 dimensions: an MLP gives each 8×8 image an
energy :math:`E_\theta(\mathbf{x})`, contrastive divergence lowers it on training digits and
raises it on the model's Langevin samples, and a replay buffer keeps those samples' chains
alive from one step to the next (Du and Mordatch, 2019). The model has no likelihood to
report, since :math:`Z_\theta` is a 64-dimensional integral; we judge it by its samples.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data, scale and model
# ---------------------
# Pixels are grey levels :math:`0..16`; the model maps them linearly to :math:`[-1, 1]`
# inside, adds a little Gaussian noise to the training images so that the energy is smooth
# between grey levels, and returns samples on the data's own scale.
#
# The sampler is *cold*: steps follow the gradient far more than the noise,
# :math:`\epsilon = 20` with noise scale :math:`\sigma = 0.005` and each gradient entry
# clipped to :math:`\pm 0.03`: the values of the book's example, in the style of Du and
# Mordatch. With true Langevin noise (:math:`\sigma = \sqrt{\epsilon}`), short chains in 64
# dimensions never leave the noise, and the energy learns only to tell noise from digits. A cold chain samples a sharpened
# :math:`e^{-E/T}` with :math:`T = \sigma^2/\epsilon \ll 1`.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.energy import EBM

STEPS = 800
BATCH_SIZE = 128
LR = 2e-3
LANGEVIN_STEPS = 40  # per training step
STEP_SIZE, NOISE_SCALE, GRAD_CLIP = 20.0, 0.005, 0.03

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
model = EBM(
    event_shape=(1, 8, 8), hidden=(256, 256), bounds=(0, 16), rescale=True, alpha=0.1,
    steps=LANGEVIN_STEPS, step_size=STEP_SIZE, noise_scale=NOISE_SCALE, grad_clip=GRAD_CLIP,
    buffer_size=2000, data_noise=0.02, sample_steps=200,
)
print(f"{model.num_parameters():,} parameters")

# %%
# Training
# --------
# Each step continues 128 of the buffer's 2000 chains for 40 Langevin steps. The
# regulariser :math:`\alpha(E^2)` holds both energies near zero; the contrastive divergence
# :math:`\overline{E(\mathbf{x}^+)} - \overline{E(\mathbf{x}^-)}` shrinks towards zero as the
# buffer fills with digits the model cannot tell from data.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=200)

gdl.plot.logged(history, {"energy_data": r"data $\overline{E(x^+)}$", "energy_model": r"samples $\overline{E(x^-)}$"},
                title="Energies during training", ylabel="mean energy")
plt.show()

# %%
# Energies of test digits, noise and samples
# ------------------------------------------
# Lower energy is likelier. Test digits, never seen in training, should sit well below
# uniform noise.
noise = 16 * torch.rand(447, 1, 8, 8)
with torch.no_grad():
    e_test, e_noise = model.energy(x_test), model.energy(noise)
print(f"mean energy: test digits {e_test.mean():.3f}, uniform noise {e_noise.mean():.3f}")

# %%
# Samples from the buffer and from fresh noise
# --------------------------------------------
# The buffer's chains have run for thousands of steps over training; 200 more steps from
# random buffer entries give the model's samples. Chains started from uniform noise and run
# for 200 steps only reach blurred, digit-like shapes: the persistent chains are doing
# much of the work.
samples, sample_seconds = gdl.metrics.timed_sample(model, 100)
from_buffer = model.sample(64, from_buffer=True)
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
gdl.plot.image_grid(x_test[:64], levels=17, ax=axes[0], title="Test digits")
gdl.plot.image_grid(from_buffer, levels=17, ax=axes[1], title="Samples: buffer + 200 steps")
gdl.plot.image_grid(samples[:64], levels=17, ax=axes[2], title="Samples: noise + 200 steps")
plt.show()
print(f"{sample_seconds:.2f} s per 100 samples from noise")

# %%
# One Langevin trajectory
# -----------------------
# A chain from uniform noise, shown every 20 steps: within a few dozen steps the gradient
# wipes out the speckle and pulls the image into a smooth valley of the energy. From there a
# cold chain hardly moves, which is why fresh chains give blurred shapes and why the
# persistent buffer matters.
_, path = model.langevin(16 * torch.rand(1, 1, 8, 8), steps=200, return_trajectory=True)
snapshots = path[::20, 0]  # (11, 1, 8, 8)
fig, ax = plt.subplots(figsize=(10, 1.6))
gdl.plot.image_grid(snapshots, nrow=len(snapshots), levels=17, ax=ax,
                    title="Langevin steps 0, 20, ..., 200")
plt.show()

# %%
# Sample quality
# --------------
# An energy-based model has no likelihood to put on the leaderboard; it is judged by its
# samples. Here are 1000, on the 0..16 grey-level scale, from the persistent chains (the
# sampler as trained: buffer chains run for 200 more steps), scored by
# :func:`gdl.quality.sample_quality` for the leaderboard's sample-quality table.
result = gdl.results.record("EBM (Langevin, replay buffer)", model, history=history,
                            sample_kwargs={"from_buffer": True},
                            note="samples: buffer chains + 200 Langevin steps")
samples = result.samples
print(f"{len(samples)} samples, grey levels {samples.min():.1f}..{samples.max():.1f}, "
      f"mean energy {model.energy(samples).mean():.3f}")

# %%
# What to try
# -----------
# Set ``NOISE_SCALE = STEP_SIZE ** 0.5``, true Langevin: training still lowers the energy of
# digits, but the samples stay noise. Make the buffer smaller (``buffer_size=200``) or
# restart more chains (``reinit=0.5``) and watch the samples lose detail. Lower ``ALPHA``
# and the energies drift apart.
