r"""
PixelCNN on Fashion-MNIST
=========================

The same gated :class:`~gdl.autoregressive.PixelCNN` on larger images: 28×28 pieces of
clothing, quantised to 4 grey levels so that each pixel's categorical stays small. A
:math:`28 \times 28` image has 784 pixels, so sampling takes 784 network passes; the time
budget allows a few thousand training images and a short run: enough to continue the top half
of a garment, too little for convincing unconditional samples.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# A subset of the training set, quantised as :math:`\lfloor 4v / 256 \rfloor`, and the
# first images of the test set.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.autoregressive import PixelCNN

LEVELS = 4
N_TRAIN = 3_000
N_TEST = 500
HIDDEN = 16
NUM_BLOCKS = 5
STEPS = 400
BATCH_SIZE = 32
LR = 3e-3

x_all, _ = data.fashion_mnist("train", levels=LEVELS)
x_train = x_all[torch.randperm(len(x_all))[:N_TRAIN]]
x_test = data.fashion_mnist("test", levels=LEVELS)[0][:N_TEST]

model = PixelCNN(event_shape=(1, 28, 28), num_levels=LEVELS, hidden=HIDDEN, num_blocks=NUM_BLOCKS)
print(f"{model.num_parameters():,} parameters")

# %%
# Training
# --------
# A fixed number of steps, with no validation set: the run is far too short to overfit.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=50)
gdl.plot.training_curves(history, title="PixelCNN on Fashion-MNIST", ylabel="NLL (nats/image)")
plt.show()

# %%
# Test likelihood
# ---------------
# The exact negative log-probability of 4-level test images, over 784 pixels. Sixteen samples
# are timed and shown, too few to score their quality.
result = gdl.results.record(
    "PixelCNN (gated)", model, x_test, dataset="fashion-mnist", history=history, num_samples=16,
    score=False, note=f"{N_TRAIN} training images, {STEPS} steps; first {N_TEST} test images",
)

# %%
# Samples and completions
# -----------------------
# Left: samples, whose receptive field of a few pixels gives texture but little global
# shape. Right, in rows: test images, their top halves, and completions of the hidden bottom
# halves drawn pixel by pixel; the known top half supplies the shape.
originals = x_test[:8]
known = torch.zeros(1, 28, 28, dtype=torch.bool)
known[:, :14] = True  # the top fourteen rows
completed = model.complete(originals, known)
shown = torch.where(known, originals, torch.zeros_like(originals))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), width_ratios=[1, 2])
gdl.plot.image_grid(result.samples, levels=LEVELS, ax=axes[0], title="Samples")
gdl.plot.image_grid(
    torch.cat([originals, shown, completed]), nrow=8, levels=LEVELS, ax=axes[1],
    title="Completions of hidden bottom halves",
)
axes[0].set(xlabel="sample", ylabel="sample")
axes[1].set(xlabel="test image", ylabel="completed | shown | original")
plt.show()

# %%
# What to try
# -----------
# More training images and steps (on a GPU); 8 or 16 grey levels; more blocks, so that the
# receptive field covers the whole 28×28 image.
