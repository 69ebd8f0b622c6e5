r"""
A 2-D latent space of Fashion-MNIST
===================================

With a two-dimensional code the whole latent space fits on a page. This script follows the
book's chapter 3: train a VAE on Fashion-MNIST, encode the test images, colour them by class,
and decode a grid of points of the latent plane.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# Pixels are kept at 4 grey levels (``levels=4``), each modelled by a categorical distribution
# over those 4 values. A subset of 10 000 training images keeps the run short.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.latent import VAE

LEVELS = 4
N_TRAIN = 10_000
N_TEST = 2_000
LATENT_DIM = 2
HIDDEN = (256, 128)
STEPS = 1_500
BATCH_SIZE = 128
LR = 2e-3
GRID = 12  # decoded points per side of the latent plane

x_train, _ = data.fashion_mnist("train", levels=LEVELS)
x_test, y_test = data.fashion_mnist("test", levels=LEVELS)
x_train, x_test, y_test = x_train[:N_TRAIN], x_test[:N_TEST], y_test[:N_TEST]

model = VAE(event_shape=(1, 28, 28), num_levels=LEVELS, latent_dim=LATENT_DIM, hidden=HIDDEN)
print(f"{model.num_parameters():,} parameters")

# %%
# Training
# --------
# The loss is the negative ELBO: reconstruction error plus the KL from the encoder's Gaussian
# to the prior :math:`\mathcal{N}(\mathbf{0}, \mathbf{I})`, which keeps the codes near the origin.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=500, cache=True)
gdl.plot.training_curves(history, title="VAE on Fashion-MNIST", ylabel="-ELBO (nats/image)")
plt.show()

gdl.results.record("VAE, 2-D latent (−ELBO)", model, x_test, dataset="fashion-mnist", history=history,
                   note=f"{N_TRAIN} training images, {STEPS} steps; first {N_TEST} test images")

# %%
# Reconstructions and samples
# ---------------------------
# Two numbers per image cannot hold much detail: reconstructions keep the class and the
# silhouette and lose the texture. Samples decode codes drawn from the prior.
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
gdl.plot.image_grid(x_test[:25], levels=LEVELS, ax=axes[0], title="Test images")
gdl.plot.image_grid(model.reconstruct(x_test[:25]), levels=LEVELS, ax=axes[1], title="Reconstructions")
gdl.plot.image_grid(model.sample(25, mode=True), levels=LEVELS, ax=axes[2], title="Samples (decoder mode)")
plt.show()

# %%
# The latent space
# ----------------
# Each test image is placed at the mean of :math:`q(\mathbf{z}\mid\mathbf{x})`. Similar
# garments land close together: trousers form their own island, while shirts, pullovers and
# coats overlap.
with torch.no_grad():
    z = model.encode(x_test).mean  # (N_TEST, 2)
fig, ax = plt.subplots(figsize=(7, 6))
for label, name in enumerate(data.FASHION_CLASSES):
    points = z[y_test == label]
    ax.scatter(points[:, 0], points[:, 1], s=3, label=name)
ax.set(title="Test images in the latent plane", xlabel="$z_1$", ylabel="$z_2$")
ax.legend(markerscale=4, fontsize=8, loc="upper right")
plt.show()

# %%
# Decoding the latent plane
# -------------------------
# A regular grid over :math:`[-2.5, 2.5]^2` decoded to the most likely image at each point:
# moving across the plane morphs one kind of garment into the next.
ticks = torch.linspace(-2.5, 2.5, GRID)
z1, z2 = torch.meshgrid(ticks, ticks.flip(0), indexing="xy")  # rows: z2 from top to bottom
grid_z = torch.stack([z1, z2], dim=-1).reshape(-1, 2)  # (GRID * GRID, 2)
with torch.no_grad():
    images = model.decode(grid_z).mode  # (GRID * GRID, 1, 28, 28)
fig, ax = plt.subplots(figsize=(7, 7))
gdl.plot.image_grid(images, nrow=GRID, levels=LEVELS, ax=ax, title="Decoded grid of the latent plane")
ax.set(xlabel="$z_1$ from -2.5 to 2.5", ylabel="$z_2$ from 2.5 (top) to -2.5")
plt.show()

# %%
# What to try
# -----------
# Set ``LEVELS = 2`` for black-and-white garments; raise ``LATENT_DIM`` to 16 and see the
# reconstructions sharpen (the plane then needs a projection to be drawn).
