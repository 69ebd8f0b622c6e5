r"""
VQ-VAE on digits
================

A VQ-VAE keeps its latent code discrete. The encoder maps an :math:`8 \times 8` digit to a
:math:`4 \times 4` grid of vectors, each vector is snapped to its nearest neighbour in a learned
codebook of :math:`K` vectors, and the decoder rebuilds the image from the snapped grid. The
image is then summarised by 16 integers, and a PixelCNN over those integers is the prior
that turns the autoencoder into a generative model:

.. math::

    \mathcal{L}(x) = -\log p_\theta(x \mid z_q(x))
    + \lVert \mathrm{sg}[z_e(x)] - z_q \rVert^2
    + \beta\, \lVert z_e(x) - \mathrm{sg}[z_q] \rVert^2
    - \log p_\psi(k(x)).
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 5  # the model's samples

# %%
# Data and model
# --------------
# The standard split of the 8×8 digits, 17 grey levels. One stride-2 layer gives a
# :math:`4 \times 4` code grid; the codebook has ``NUM_CODES`` vectors of dimension
# ``CODE_DIM``.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.latent import VQVAE

NUM_CODES = 32
CODE_DIM = 8
HIDDEN = 32
BETA = 0.25  # the paper's commitment weight
STEPS = 1_200
BATCH_SIZE = 64
LR = 2e-3
EVAL_EVERY = 100

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

model = VQVAE(
    event_shape=(1, 8, 8), num_levels=17, num_codes=NUM_CODES, code_dim=CODE_DIM,
    hidden=HIDDEN, beta=BETA, prior_hidden=32, prior_blocks=2,
)
print(f"{model.num_parameters():,} parameters, code grid {model.grid_shape}")

# %%
# Training
# --------
# One loss trains everything: the straight-through estimator carries the reconstruction
# gradient past the argmin to the encoder, the codebook term pulls the chosen codes towards
# the encoder's outputs, the commitment term holds the encoder near them, and the PixelCNN
# prior learns the (detached) code grids as they settle. Validation tracks the negative ELBO.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, log_every=1_000)
ax = gdl.plot.logged(history, {"reconstruction": "reconstruction NLL", "prior": "prior NLL of the codes"},
                     title="VQ-VAE on digits: the two likelihood terms", ylabel="nats per image")
ax.set_ylim(0, None)
plt.show()

# %%
# Test bound
# ----------
# With a discrete code, :math:`p(x) = \sum_k p(k)\,p(x \mid k)` is at least the term at the
# encoder's code, so :math:`-\log p(x) \le` reconstruction NLL + prior NLL: a bound for the
# leaderboard, not an exact likelihood.
with torch.no_grad():
    terms = {k: v.mean().item() for k, v in model.losses(x_test).items()}
result = gdl.results.record("VQ-VAE (PixelCNN prior)", model, x_test, history=history)
print(f"test: reconstruction {terms['reconstruction']:.1f} + prior {terms['prior']:.1f} "
      f"= {result.nll:.1f} nats/image (bound)")

# %%
# Reconstructions
# ---------------
# Each reconstruction is the decoder's most likely image given only the 16 code indices.
originals = x_test[:16]
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
gdl.plot.image_grid(originals, nrow=4, levels=17, ax=axes[0], title="Test images")
gdl.plot.image_grid(model.reconstruct(originals), nrow=4, levels=17, ax=axes[1],
                    title="Reconstructions from 16 codes")
plt.show()

# %%
# Code usage
# ----------
# Perplexity :math:`\exp(H)` of the code frequencies is the number of codes in effective
# use; codes that no encoder output reaches get no codebook gradient and stay dead.
usage = model.code_usage(x_test)
print(f"perplexity {usage['perplexity']:.1f} of {NUM_CODES} codes; "
      f"{usage['used']:.0%} of codes used on the test set")
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(range(NUM_CODES), usage["counts"].numpy())
ax.set(title=f"Code usage on the test set (perplexity {usage['perplexity']:.1f})",
       xlabel="code index k", ylabel="grid positions")
plt.show()

# %%
# The code grids
# --------------
# What the prior sees: each digit as a :math:`4 \times 4` grid of code indices.
codes = model.encode(originals[:4])  # (4, 1, 4, 4)
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for n, (ax, grid) in enumerate(zip(axes, codes[:, 0])):
    ax.imshow(grid, cmap="tab20", vmin=0, vmax=NUM_CODES - 1)
    for (i, j), k in zip(torch.cartesian_prod(torch.arange(4), torch.arange(4)).tolist(),
                         grid.flatten().tolist()):
        ax.text(j, i, str(k), ha="center", va="center", fontsize=9)
    ax.set(title=f"test image {n}", xlabel="column", ylabel="row", xticks=[], yticks=[])
fig.suptitle("Test digits as grids of code indices")
plt.show()

# %%
# Samples from the prior
# ----------------------
# The PixelCNN draws 16 codes one at a time (16 passes instead of 64 for a pixel-level
# PixelCNN); the decoder turns them into images. Left: the decoder's most likely image per
# code grid; right: a draw from it, whose independent pixel noise the decoder cannot correlate.
modes = model.sample(64, mode=True)
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
gdl.plot.image_grid(modes, levels=17, ax=axes[0], title="Prior samples (decoder mode)")
gdl.plot.image_grid(result.samples[:64], levels=17, ax=axes[1], title="Prior samples (decoder draw)")
plt.show()

# %%
# What to try
# -----------
# Fewer codes (``NUM_CODES = 8``) and watch reconstructions blur while the prior NLL falls;
# ``BETA = 0`` and watch the encoder drift from its codes; ``downsample=2`` for a
# :math:`2 \times 2` grid.
