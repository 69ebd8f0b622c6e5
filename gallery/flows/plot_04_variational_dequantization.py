r"""
Variational dequantization
==========================

Uniform noise makes every integer image a box of constant density to fill, and a smooth
flow cannot put a flat density inside a box with sharp walls: the mass it leaks to
neighbouring boxes is the gap of the bound. Variational dequantization (Flow++) learns
the noise instead, :math:`\mathbf{u}\sim q(\mathbf{u}\mid\mathbf{x})` on the unit box, and
the bound becomes

.. math::

    -\log P(\mathbf{x}) \le -\mathbb{E}_{q(\mathbf{u}\mid\mathbf{x})}
    \left[\log p(\mathbf{x}+\mathbf{u}) - \log q(\mathbf{u}\mid\mathbf{x})\right],

which is tight when :math:`q` matches the shape of the flow's density inside each box.
Uniform noise is the special case :math:`\log q = 0`.
"""
# sphinx_gallery_gdl_budget = 55

# %%
# Two Real NVPs, one noise each
# -----------------------------
# The same Real NVP as in the previous example, trained twice with the same seed: with
# uniform noise, and with a learned
# :math:`q(\mathbf{u}\mid\mathbf{x})`, a Gaussian squashed by a sigmoid whose mean and scale
# a small network predicts from the integer image. Both are trained on their own bound.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.flows import RealNVP
from gdl.metrics import dequantized_nll

LEVELS = data.DIGITS_LEVELS
STEPS = 1_500  # an upper bound; early stopping usually ends sooner
BATCH_SIZE = 64
LR = 2e-3
EVAL_EVERY = 16
PATIENCE = 10
DRAWS = 16

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

models, histories = {}, {}
for kind in ("uniform", "variational"):
    with torch.random.fork_rng():  # both start from the same random state: the same flow weights
        model = RealNVP(event_shape=(1, 8, 8), num_couplings=8, hidden=256, dropout=0.2,
                        num_levels=LEVELS, dequantization=kind)
    with torch.no_grad():
        model.loss(x_train)  # data-dependent ActNorm initialisation
    # Validation: one draw of u ~ q per image, -log p(x + u) + log q(u | x).
    histories[kind] = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                              eval_every=EVAL_EVERY, patience=PATIENCE, log_every=0)
    models[kind] = model

# %%
# The test bounds
# ---------------
# Both numbers bound the same discrete NLL; the smaller one is the tighter bound.
for kind, model in models.items():
    bound = dequantized_nll(model, x_test, draws=DRAWS)
    print(f"{kind:>11} dequantization: test bound {bound:.2f} nats/image "
          f"(kept step {histories[kind].best_step})")
model = models["variational"]
gdl.results.record("Real NVP (variational dequantization)", model, x_test,
                   history=histories["variational"], nll=bound, kind="bound")

# %%
# What the learned noise looks like
# ---------------------------------
# The mean of :math:`q(\mathbf{u}\mid\mathbf{x})` for a few test digits, and the spread of
# all the noise values. Uniform noise would have a flat histogram; the learned noise
# moves within each box to where the flow puts its density, which differs between the
# background (level 0) and the strokes.
with torch.no_grad():
    u, _ = model.dequantizer.noise(x_test[:200].repeat(8, 1, 1, 1))
background = x_test[:200].repeat(8, 1, 1, 1) == 0
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].hist(u[background].numpy(), bins=40, range=(0, 1), density=True, alpha=0.6,
             label="background pixels (level 0)")
axes[0].hist(u[~background].numpy(), bins=40, range=(0, 1), density=True, alpha=0.6,
             label="stroke pixels (levels 1-16)")
axes[0].axhline(1, color="grey", ls=":", label="uniform noise")
axes[0].set(title="Learned dequantization noise", xlabel="$u$", ylabel="density")
axes[0].legend(frameon=False, fontsize="small")
for kind, history in histories.items():
    axes[1].plot(history.val_steps, history.val_metric, label=f"{kind} noise")
axes[1].set(title="Validation bound", xlabel="step", ylabel="nats/image", ylim=(95, 125))
axes[1].legend(frameon=False)
plt.tight_layout()
plt.show()

# %%
# What to try
# -----------
# Give :math:`q` more capacity (the ``hidden`` width of
# :class:`~gdl.flows.models.VariationalDequantization`), or a conditional flow of its own as
# in Flow++. Try ``dequantization="variational"`` on the multi-scale flow of the previous
# example.
