r"""
PixelCNN on digits
==================

PixelCNN keeps the image two-dimensional: masked :math:`k \times k` convolutions let the
prediction for pixel :math:`(i, j)` see the rows above and the pixels to its left, but never
:math:`x_{ij}` itself or anything after it in raster order,

.. math::

    \log p(\mathbf{x}) = \sum_{i=1}^{8}\sum_{j=1}^{8} \log p\big(x_{ij} \mid
    \mathbf{x}_{<(i,j)}\big).

gdl's :class:`~gdl.autoregressive.PixelCNN` is the *gated* variant: a vertical and a
horizontal stack of masked convolutions that together see the whole past of every pixel,
without the blind spot of a plain stack.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# The standard split: 1000 training, 350 validation and 447 test images, with 17 grey
# levels. A type-A :math:`7 \times 7` layer opens the network; gated blocks of type-B
# :math:`3 \times 3` convolutions follow.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.autoregressive import PixelCNN

HIDDEN = 32
NUM_BLOCKS = 6
DROPOUT = 0.3  # 1000 training images overfit quickly; dropout in the blocks delays it
STEPS = 900  # an upper bound that keeps the time budget; early stopping may end sooner
BATCH_SIZE = 64
LR = 3e-3
EVAL_EVERY = 15  # about one pass over the training set
PATIENCE = 4  # checks without improvement before stopping

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

model = PixelCNN(
    event_shape=(1, 8, 8), num_levels=17, hidden=HIDDEN, num_blocks=NUM_BLOCKS, dropout=DROPOUT
)
print(f"{model.num_parameters():,} parameters")

# %%
# Training by maximum likelihood
# ------------------------------
# All 64 conditionals come from one forward pass, so training costs one pass per batch.
# Validation NLL is checked about once an epoch and the best weights are kept.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, patience=PATIENCE, log_every=150)
gdl.plot.training_curves(history, title="PixelCNN on digits", ylabel="NLL (nats/image)")
plt.show()

# %%
# Test likelihood
# ---------------
# The exact negative log-probability of the discrete test images, comparable with the
# causal-convolution ARM and MADE on the leaderboard.
result = gdl.results.record("PixelCNN (gated)", model, x_test, history=history)

# %%
# Samples
# -------
# Sampling runs the network once per pixel, 64 times in all.
gdl.plot.data_and_samples(x_test, result.samples, levels=17, model="PixelCNN")
plt.show()

# %%
# Completing the bottom half
# --------------------------
# :meth:`~gdl.autoregressive.PixelCNN.complete` keeps the known pixels and samples the
# others in raster order. With the top half known, every hidden pixel comes after all the
# known ones, so this samples the exact conditional :math:`p(\text{bottom} \mid \text{top})`.
# Rows: the test image, what the model is shown, and two completions.
originals = x_test[:10]
known = torch.zeros(1, 8, 8, dtype=torch.bool)
known[:, :4] = True  # the top four rows
completions = [model.complete(originals, known) for _ in range(2)]
shown = torch.where(known, originals, torch.zeros_like(originals))
grid = torch.cat([originals, shown, *completions])  # (40, 1, 8, 8): four rows of ten
fig, ax = plt.subplots(figsize=(8, 3.6))
gdl.plot.image_grid(grid, nrow=10, levels=17, ax=ax, title="Completions of hidden bottom halves")
ax.set(xlabel="test image", ylabel="completions | shown | original")
plt.show()

# %%
# What to try
# -----------
# Hide the left half instead: the known pixels then come *after* hidden ones and
# ``complete`` no longer conditions on all of them. Lower the sampling temperature; change
# ``NUM_BLOCKS`` and watch the receptive field and the NLL.
