r"""
ProGAN on digits: growing the resolution
========================================

A progressively grown GAN starts with 2×2 images and doubles the resolution twice, to the
digits' 8×8. Each new block of the generator (and its mirror in the discriminator) is faded in
over a phase of training,

.. math::

    G_\alpha(\mathbf{z}) = \alpha\,\mathrm{rgb}_{8}\big(b_{8}(\mathbf{h}_4)\big)
    + (1 - \alpha)\,\mathrm{up}\big(\mathrm{rgb}_4(\mathbf{h}_4)\big),
    \qquad \alpha: 0 \to 1,

so the layers that already work keep working while the new ones learn. The same model also
uses an equalized learning rate, pixel norm and the minibatch standard deviation
(:class:`gdl.gan.ProGAN`). It is scored like the DCGAN of the previous example, with the
same batch size and no more time. A few choices make that time go further: narrow layers
(32 channels at 2×2, halving with each doubling), so that the model can take thousands of
steps; one pass of the discriminator for the real images and the fakes together; the
:math:`R_1` penalty on every fourth step only; a learning rate five times the paper's, which
such small networks take in their stride; and samples drawn from an average of the
generator's weights over the last steps, as in the paper.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data, model and schedule
# ------------------------
# Five phases of ``PHASE_STEPS`` steps: 2×2 alone, fade in 4×4, 4×4 alone, fade in 8×8, and
# 8×8 until the end. The model keeps its own step count, so one call of :func:`gdl.fit` runs
# the whole schedule; ``train_step`` logs the resolution and :math:`\alpha` of every step.
# Adam runs without momentum (:math:`\beta = (0, 0.99)`, as in the paper) and with a large
# step (``LR``, five times the paper's), so the weights jitter from step to step; the samples
# come from an exponential moving average of them (``ema=EMA``, about the last hundred
# steps), which :func:`gdl.fit` leaves in the model.
import matplotlib.pyplot as plt

import gdl
from gdl import data
from gdl.gan import ProGAN

LATENT_DIM = 32
WIDTH = 32  # channels at 2×2; 16 at 4×4, 8 at 8×8
STEPS = 2_000
PHASE_STEPS = 100
EMA = 0.99
BATCH_SIZE = 64
LR = 5e-3
NUM_SAMPLES = 1000

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
progan = ProGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=LATENT_DIM, width=WIDTH,
                phase_steps=PHASE_STEPS)
print(f"ProGAN: {progan.num_parameters():,} parameters; full resolution from step {progan.growth_steps}")
history = gdl.fit(progan, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=500)

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(history.steps, history.extra["alpha"], label=r"fade-in $\alpha$")
ax.set(xlabel="training step", ylabel=r"$\alpha$", title="The growth schedule")
twin = ax.twinx()
twin.step(history.steps, history.extra["resolution"], color="C1", where="post", label="resolution")
twin.set(ylabel="resolution (pixels)", yticks=[2, 4, 8])
fig.legend(loc="lower right")
plt.show()

# %%
# Sample quality
# --------------
# 1000 samples of the averaged generator against the test digits, the same score as the
# DCGAN's.
result = gdl.results.record("ProGAN", progan, history=history, num_samples=NUM_SAMPLES)
gdl.plot.data_and_samples(x_test, result.samples, levels=17, model="ProGAN", data_title="Test digits")
plt.show()

# %%
# Every resolution of the trained model
# -------------------------------------
# The lower stages are still inside the final generator: the same codes through the 2×2 and
# 4×4 heads (``sample(n, resolution=r)``, pixels repeated up to 8×8) show the coarse layout
# that the later blocks refine.
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, resolution in zip(axes, (2, 4, 8)):
    gdl.seed_everything(1)
    gdl.plot.image_grid(progan.sample(16, resolution=resolution), nrow=4, levels=17, ax=ax,
                        title=f"{resolution}×{resolution}")
plt.show()

# %%
# What to try
# -----------
# Set ``PHASE_STEPS`` to 1 so that the model is at 8×8 almost at once (no progressive growing)
# and compare the FD; train without the average (``EMA = None``) and score the last weights;
# go back to the paper's ``LR = 1e-3`` and see how much slower the FD falls;
# double ``WIDTH`` and see how many fewer steps fit in the same time; apply the penalty less
# often (``ProGAN(..., r1_every=16)``, as StyleGAN2 does); start at ``start_resolution=4``.
