r"""
A causal-convolution ARM on digits
==================================

An autoregressive model reads the 64 pixels of a digit in raster order and predicts each one
from the pixels before it. With a categorical output over the 17 grey levels, its
log-likelihood is *exact*:

.. math::

    \log p(\mathbf{x}) = \sum_{i=1}^{64} \log p(x_i \mid x_1, \dots, x_{i-1}).

Causal 1-D convolutions give all 64 conditionals in one pass, and the first layer hides
the current pixel so the model can never peek at the value it predicts.
"""
# sphinx_gallery_gdl_budget = 83
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# The standard split: 1000 training, 350 validation and 447 test images.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.autoregressive import CausalConvARM

STEPS = 3_000  # an upper bound: early stopping ends the run much sooner
BATCH_SIZE = 64
LR = 1e-3
EVAL_EVERY = 15  # about one pass over the training set
PATIENCE = 10

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

model = CausalConvARM(event_shape=(1, 8, 8), num_levels=17, hidden=64, kernel_size=7, num_layers=4)
print(f"{model.num_parameters():,} parameters")

# %%
# Training by maximum likelihood
# ------------------------------
# The loss is the negative log-likelihood averaged over a mini-batch. Validation NLL is
# checked about once an epoch; training stops when it has not improved for ten checks and
# the best weights are kept.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, patience=PATIENCE, log_every=150)
gdl.plot.training_curves(history, title="Causal-conv ARM on digits", ylabel="NLL (nats/image)")
plt.show()

# %%
# Test likelihood
# ---------------
# The categorical output makes this the exact negative log-*probability* of the discrete
# test images, in nats per image and bits per pixel. :func:`gdl.results.record` computes it,
# draws 1000 samples, scores their quality and writes the leaderboard's row.
result = gdl.results.record("Causal-conv ARM", model, x_test, history=history)

# %%
# Samples
# -------
# Sampling runs the network 64 times, drawing one pixel per pass. The strokes are
# plausible locally; global shape is harder, since each pixel sees only about three rows
# above it (the receptive field of four layers with seven taps).
gdl.plot.data_and_samples(x_test, result.samples, levels=17, model="the ARM")
plt.show()

# %%
# Where the model is unsure
# -------------------------
# The per-pixel NLL, averaged over the test set, shows where the information is: the
# background costs almost nothing, stroke edges the most.
with torch.no_grad():
    per_pixel = -model.conditionals(x_test).log_prob(x_test.view(len(x_test), -1)).mean(0)
fig, ax = plt.subplots(figsize=(4, 4))
im = ax.imshow(per_pixel.view(8, 8), cmap="magma")
fig.colorbar(im, ax=ax, label="nats")
ax.set(title="Test NLL per pixel", xlabel="column", ylabel="row")
plt.show()

# %%
# What to try
# -----------
# Feed the pixels one-hot instead of scaled (``encode``); add dilations to see further back;
# sample with ``temperature=0.8``.
