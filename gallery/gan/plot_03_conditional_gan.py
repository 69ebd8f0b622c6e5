r"""
Conditional GAN on digits
=========================

Give both players the label :math:`c`: the generator draws :math:`\mathbf{x} = G(\mathbf{z}, c)`
and the discriminator judges pairs,

.. math::

    \min_G \max_D\; \mathbb{E}_{p_\text{data}(\mathbf{x}, c)}[\log D(\mathbf{x}, c)]
    + \mathbb{E}_{p(\mathbf{z})\,p(c)}[\log(1 - D(G(\mathbf{z}, c), c))].

A realistic image of the wrong class is now a fake, so the generator must learn
:math:`p(\mathbf{x} \mid c)` for every class, and we choose what it draws.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 1  # the model's samples

# %%
# Data and model
# --------------
# Digits with their labels; :func:`gdl.fit` passes ``(images, labels)`` batches to the model's
# ``train_step``. Both networks are MLPs that read a one-hot code of the label beside their input.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.gan import ConditionalGAN

LATENT_DIM = 16
HIDDEN = (256, 256)
STEPS = 4_000
BATCH_SIZE = 64
LR = 5e-4
NUM_SAMPLES = 1000

x_train, y_train = data.digits("train")
cgan = ConditionalGAN(
    event_shape=(1, 8, 8), num_levels=17, num_classes=10, latent_dim=LATENT_DIM, hidden=HIDDEN
)
print(f"Conditional GAN: {cgan.num_parameters():,} parameters")
history = gdl.fit(cgan, (x_train, y_train), steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=1000)

# %%
# One row per class
# -----------------
# Row :math:`c` holds ten samples :math:`G(\mathbf{z}_j, c)`. The same ten codes
# :math:`\mathbf{z}_j` are used in every row, so a column keeps the code fixed and changes
# only the label: what the code carries is style (slant, thickness), not identity.
z = cgan.prior().sample((10,)).repeat(10, 1)  # (100, LATENT_DIM): codes vary along a row
labels = torch.arange(10).repeat_interleave(10)  # (100,): one class per row
cgan.eval()
with torch.no_grad():
    grid = cgan.to_data_scale(cgan.generate(z, labels))
fig, ax = plt.subplots(figsize=(6, 6))
gdl.plot.image_grid(grid, nrow=10, levels=17, ax=ax, title="Conditional GAN: row c is class c")
plt.show()

# %%
# Does the label come through?
# ----------------------------
# gdl's feature classifier (the one behind :func:`gdl.quality.sample_quality`) reads the
# digit in each sample; the fraction it reads as the requested class measures how well the
# generator obeys its condition (the classifier itself gets about 9 in 10 test digits right).
labels = torch.arange(NUM_SAMPLES) % 10
samples = cgan.sample(NUM_SAMPLES, labels=labels)
classifier = gdl.quality.feature_network("digits")
with torch.no_grad():
    read = classifier(samples / 16).argmax(1)
print(f"classifier agrees with the requested label on {(read == labels).float().mean():.0%} of samples "
      f"(its accuracy on real test digits: {classifier.test_accuracy:.0%})")

# %%
# Sample quality
# --------------
# Samples with labels drawn uniformly, scored against the test digits like every other model.
gdl.results.record("Conditional GAN", cgan, history=history, num_samples=NUM_SAMPLES)

# %%
# What to try
# -----------
# Give the discriminator no label (an ordinary GAN whose generator still gets one) and watch
# the rows stop matching their class. Replace the one-hot input of the discriminator by a
# projection, :math:`\ell(\mathbf{x}, c) = \psi(\phi(\mathbf{x})) + \mathbf{e}_c^\top\phi(\mathbf{x})`
# (Miyato and Koyama, 2018).
