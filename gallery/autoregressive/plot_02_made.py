r"""
MADE on digits
==============

MADE turns an ordinary MLP into an autoregressive model by masking its weights: the output
for dimension :math:`o_i` of an ordering :math:`o` can only be reached from the inputs
:math:`x_{o_1}, \dots, x_{o_{i-1}}`. One forward pass then gives all 64 conditionals,

.. math::

    \log p(\mathbf{x}) = \sum_{i=1}^{64} \log p\big(x_{o_i} \mid x_{o_1}, \dots, x_{o_{i-1}}\big),

each a categorical over the 17 grey levels. The ordering is a free choice; this script trains
one MADE with the natural raster order and one with a random order, and compares them.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and model
# --------------
# The standard split: 1000 training, 350 validation and 447 test images. Every hidden unit
# gets a degree :math:`m(k) \in \{1, \dots, 63\}` and sees only inputs of degree
# :math:`\le m(k)`; the output for a dimension of degree :math:`m` sees hidden units of degree
# :math:`< m`.
import matplotlib.pyplot as plt

import gdl
from gdl import data
from gdl.autoregressive import MADE

HIDDEN = [256]  # one hidden layer: deeper or wider ones overfit 1000 images sooner
STEPS = 3_000  # an upper bound: early stopping ends each run much sooner
BATCH_SIZE = 64
LR = 1e-3
EVAL_EVERY = 15  # about one pass over the training set
PATIENCE = 8

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

model = MADE(event_shape=(1, 8, 8), num_levels=17, hidden=HIDDEN)
print(f"{model.num_parameters():,} parameters")

# %%
# Training by maximum likelihood
# ------------------------------
# :func:`gdl.fit` minimises the mean negative log-likelihood, checks the validation NLL about
# once an epoch, and keeps the best weights.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, patience=PATIENCE, log_every=150)
gdl.plot.training_curves(history, title="MADE on digits", ylabel="NLL (nats/image)")
plt.show()

# %%
# Test likelihood
# ---------------
# As for every categorical ARM, this is the exact negative log-probability of the discrete
# test images.
result = gdl.results.record("MADE", model, x_test, history=history)

# %%
# Samples
# -------
# Sampling takes 64 passes through the network, one per dimension, in the model's ordering.
gdl.plot.data_and_samples(x_test, result.samples, levels=17, model="MADE")
plt.show()

# %%
# Another ordering
# ----------------
# The chain rule holds for every ordering, but the conditionals are easier to learn in some
# than in others. A second MADE generates the pixels in a random order drawn from a seed.
random_model = MADE(event_shape=(1, 8, 8), num_levels=17, hidden=HIDDEN, seed=0)
gdl.fit(random_model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
        eval_every=EVAL_EVERY, patience=PATIENCE, log_every=0)
test_nll, random_nll = result.nll, gdl.metrics.nll(random_model, x_test)
print(f"test NLL: natural order {test_nll:.2f}, random order {random_nll:.2f} nats/image")


# %%
# What the masks connect
# ----------------------
# Multiplying the masks of all layers gives, for each output, the inputs it can reach (a
# non-zero entry means some path exists). In the natural order this is strictly
# lower-triangular; a random order permutes it
# (:meth:`~gdl.nn.MaskedMLP.connectivity`). The bars compare the two test NLLs.
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, made, name in ((axes[0], model, "natural"), (axes[1], random_model, "random")):
    ax.imshow(made.net.connectivity(), cmap="Greys", interpolation="nearest")
    ax.set(title=f"Connectivity, {name} order", xlabel="input pixel j", ylabel="output pixel d")
axes[2].bar(["natural", "random"], [test_nll, random_nll], color=["C0", "C1"])
axes[2].set(title="Test NLL by ordering", xlabel="ordering", ylabel="NLL (nats/image)")
axes[2].set_ylim(min(test_nll, random_nll) * 0.9, max(test_nll, random_nll) * 1.03)
plt.tight_layout()
plt.show()

# %%
# What to try
# -----------
# Draw other orderings (``seed=1, 2, ...``) and average their conditionals, as the MADE paper
# does; widen or deepen ``HIDDEN``; model binarised digits with ``num_levels=2``.
