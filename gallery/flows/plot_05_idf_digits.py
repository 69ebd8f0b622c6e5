r"""
Integer discrete flows on digits
================================

A flow of continuous densities must dequantize the integer pixels and can only bound their
probability. An integer discrete flow (Hoogeboom et al., 2019) stays on the integers: every
layer is a bijection of :math:`\mathbb{Z}^{64}`, so probability mass moves without being
stretched, there is no log-determinant, and

.. math::

    \log P(\mathbf{x}) = \log P_Z(f(\mathbf{x}))

is the exact discrete log-likelihood, in the same nats per image as the autoregressive
models'. Each coupling shifts half the pixels by a rounded translation of the other half;
the gradient passes straight through the rounding.
"""
# sphinx_gallery_gdl_budget = 20
# sphinx_gallery_thumbnail_number = 2

# %%
# Data and model
# --------------
# Eight integer couplings, each on a random half of the pixels, then a prior that is a
# mixture of four discretized logistics per pixel, factored into four chunks of 16 pixels,
# each chunk's mixture predicted from the chunks before it.
import matplotlib.pyplot as plt

import gdl
from gdl import data
from gdl.flows import IDF

STEPS = 1_500
BATCH_SIZE = 64
LR = 1e-3
EVAL_EVERY = 100

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")
model = IDF(num_levels=data.DIGITS_LEVELS, num_couplings=8, hidden=(256, 256), num_mixtures=4, prior_chunks=4)
print(f"{model.num_parameters():,} parameters")

# %%
# Training
# --------
# The loss is the exact negative log-likelihood, :math:`-\log P_Z(f(\mathbf{x}))`, averaged
# over the batch; the best weights on the validation digits are kept.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY)
gdl.plot.training_curves(history, title="Integer discrete flow", ylabel="NLL (nats/image)")
plt.show()

# %%
# Exact likelihood and samples
# ----------------------------
# Samples draw the latent chunk by chunk from the prior and run the couplings backwards; the
# flow's distribution covers all integers, so the rare value outside 0..16 is clipped.
nll = gdl.metrics.nll(model, x_test)
print(f"exact test NLL: {nll:.1f} nats/image ({gdl.metrics.bits_per_dim(nll, 64):.3f} bits/dim)")
fig, ax = plt.subplots(figsize=(6, 6))
gdl.plot.image_grid(model.sample(64), nrow=8, levels=data.DIGITS_LEVELS, ax=ax, title="IDF samples")
plt.show()

gdl.results.record("IDF (integer discrete flow)", model, x_test, history=history,
                   note="8 integer couplings, discretized logistic mixture prior in 4 chunks")

# %%
# What to try
# -----------
# ``prior_chunks=1`` (a prior that treats the pixels as independent, as the book's code does);
# fewer couplings; a translation network without rounding, to see why the gradient must pass
# straight through.
