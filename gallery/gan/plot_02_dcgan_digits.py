r"""
DCGAN on digits
===============

A deep convolutional GAN: the generator grows an image from a code :math:`\mathbf{z}` with
transposed convolutions, the discriminator shrinks it back to one logit with strided
convolutions. There is no likelihood to report, so the leaderboard scores the samples instead:
the Fréchet distance between features of samples and of test images, computed with a small
classifier that gdl trains on the digits (:func:`gdl.quality.sample_quality`),

.. math::

    \mathrm{FD} = \lVert\boldsymbol\mu_\text{data} - \boldsymbol\mu_G\rVert^2
    + \operatorname{tr}\big(\Sigma_\text{data} + \Sigma_G - 2(\Sigma_\text{data}^{1/2}\Sigma_G\Sigma_\text{data}^{1/2})^{1/2}\big).
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# The 1000 training digits, 17 grey levels. The model dequantizes them with uniform noise and
# maps them to :math:`[-1, 1]`, the range of the generator's :math:`\tanh`.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.gan import DCGAN

LATENT_DIM = 32
WIDTH = 32
STEPS = 4_000
BATCH_SIZE = 64
LR = 1e-3
NUM_SAMPLES = 1000  # enough for a stable sample-quality score

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
dcgan = DCGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=LATENT_DIM, width=WIDTH)
print(f"DCGAN: {dcgan.num_parameters():,} parameters")

# %%
# Training with ``fit``
# ---------------------
# :func:`gdl.fit` calls the model's own ``train_step`` (one discriminator update, one
# generator update) with the pair of optimisers from ``configure_optimizers``. The two losses
# do not go down together: a GAN's losses show the balance of the game, not progress.
history = gdl.fit(dcgan, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=500)

gdl.plot.logged(history, {"loss": "discriminator", "generator": "generator"}, smooth=50,
                title="DCGAN losses", ylabel="loss (nats), mean of 50 steps")
plt.show()

# %%
# Sample quality
# --------------
# 1000 samples against the 447 test digits. For scale, the same score for 1000 *real*
# training digits is the floor a perfect model could reach with this many samples.
result = gdl.results.record("DCGAN", dcgan, history=history, num_samples=NUM_SAMPLES)
real = gdl.quality.sample_quality(x_train)
print(f"real training digits: FD on gdl features {real['fd']:.1f}, precision {real['precision']:.2f}, "
      f"recall {real['recall']:.2f}")

gdl.plot.data_and_samples(x_test, result.samples, levels=17, model="the DCGAN", data_title="Test digits")
plt.show()

# %%
# Walking in the latent space
# ---------------------------
# The generator is a smooth map, so a straight line between two codes,
# :math:`\mathbf{z}_t = (1-t)\,\mathbf{z}_0 + t\,\mathbf{z}_1`, gives a gradual morph from one
# digit to another. Each row is one such walk.
z0, z1 = dcgan.prior().sample((6,)), dcgan.prior().sample((6,))
t = torch.linspace(0, 1, 10)
z = (1 - t)[None, :, None] * z0[:, None] + t[None, :, None] * z1[:, None]  # (6, 10, LATENT_DIM)
dcgan.eval()
with torch.no_grad():
    walk = dcgan.to_data_scale(dcgan.generate(z.reshape(-1, LATENT_DIM)))  # (60, 1, 8, 8)
fig, ax = plt.subplots(figsize=(8, 5))
gdl.plot.image_grid(walk, nrow=10, levels=17, ax=ax, title="Linear interpolation between two codes")
plt.show()

# %%
# What to try
# -----------
# Halve ``LR`` and watch the FD fall more slowly; double ``STEPS``. The same class trains on
# Fashion-MNIST: ``DCGAN(event_shape=(1, 28, 28), num_levels=4)`` on
# ``data.fashion_mnist("train", levels=4)``, scored with
# ``gdl.quality.sample_quality(samples, dataset="fashion-mnist", num_levels=4)``.
