r"""
MAF versus Real NVP: density quality and sampling speed
=======================================================

Both flows have triangular Jacobians, but they spend their flexibility differently. A
masked autoregressive flow (MAF) transforms every dimension given *all* the dimensions before
it,

.. math::

    z_i = (x_i - \mu_i(\mathbf{x}_{<i}))\,e^{-\alpha_i(\mathbf{x}_{<i})},

so the density costs one pass of its MADE network, but sampling must invert one dimension at
a time: :math:`D` passes. A Real NVP coupling conditions half the dimensions on the other
half, so both directions cost one pass, at the price of a less expressive layer.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 1  # the model's samples

# %%
# Data and models
# ---------------
# Eight Gaussians on a circle. Both flows get five transforms and about the same number of
# parameters, and :func:`~gdl.train.fit` trains both the same way. In two dimensions a MAF layer
# and a coupling are the same kind of map, :math:`x_2` transformed given :math:`x_1`, so
# the densities should come out alike; what differs is the cost, and it grows with
# :math:`D`.
import time

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.flows import MAF, RealNVP

STEPS = 1_500
BATCH_SIZE = 256
LR = 2e-3
DATASET = "8gaussians"

x_train, _ = data.toy_2d(DATASET, 4000, seed=0)
x_val, _ = data.toy_2d(DATASET, 1000, seed=1)
x_test, _ = data.toy_2d(DATASET, 2000, seed=2)
models = {
    "MAF": MAF(event_shape=(2,), num_layers=5, hidden=[64, 64]),
    "Real NVP": RealNVP(event_shape=(2,), num_couplings=5, hidden=64),
}
for name, model in models.items():
    print(f"{name}: {model.num_parameters():,} parameters")

# %%
# Training and test likelihood
# ----------------------------
# The validation NLL picks the weights to keep; the test NLL is in nats per point.
results = {}
for name, model in models.items():
    with torch.no_grad():
        model(x_train)  # ActNorm initialisation
    history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                      eval_every=100, log_every=0)
    with torch.no_grad():
        nll = -model.log_prob(x_test).mean().item()
    results[name] = {"nll": nll, "history": history}
    print(f"{name}: test NLL {nll:.3f} nats per point (trained {history.seconds:.1f} s)")

# %%
# Density and samples
# -------------------
# Both densities on a grid, and 2000 samples from each. Both leave thin bridges of density
# between the modes: a continuous bijection cannot tear the connected Gaussian into eight
# separate pieces, only stretch it very thin.
fig, axes = plt.subplots(2, 2, figsize=(8, 8))
for row, (name, model) in zip(axes, models.items()):
    gdl.plot.density_2d(model.log_prob, ax=row[0], title=f"{name}: density")
    gdl.plot.scatter_2d(model.sample(2000), ax=row[1], title=f"{name}: samples")
plt.tight_layout()
plt.show()

# %%
# The cost of each direction
# --------------------------
# Time to evaluate the density of, and to draw, 10 000 points; then the same for untrained
# flows on 64 dimensions (the size of a digit), where MAF's sampling needs 64 passes per layer.


def seconds(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            fn()
        best = min(best, time.perf_counter() - start)
    return best


wide = {
    "MAF": MAF(event_shape=(64,), num_layers=5, hidden=[256]),
    "Real NVP": RealNVP(event_shape=(64,), num_couplings=5, hidden=256),
}
x_wide = torch.randn(1000, 64)
rows = []
for name in models:
    m2, m64 = models[name], wide[name]
    rows.append([
        seconds(lambda: m2.log_prob(x_test[:2000].repeat(5, 1))),
        seconds(lambda: m2.sample(10_000)),
        seconds(lambda: m64.log_prob(x_wide)),
        seconds(lambda: m64.sample(1000)),
    ])
    print(f"{name:>8}: 2-D density {rows[-1][0] * 1e3:6.1f} ms, samples {rows[-1][1] * 1e3:6.1f} ms; "
          f"64-D density {rows[-1][2] * 1e3:6.1f} ms, samples {rows[-1][3] * 1e3:6.1f} ms")

fig, ax = plt.subplots(figsize=(7, 3.5))
labels = ["2-D density\n(10k points)", "2-D sampling\n(10k points)", "64-D density\n(1k points)",
          "64-D sampling\n(1k points)"]
for k, name in enumerate(models):
    ax.bar([i + 0.4 * k for i in range(4)], [1e3 * s for s in rows[k]], width=0.4, label=name)
ax.set(xticks=[i + 0.2 for i in range(4)], xticklabels=labels, yscale="log", ylabel="ms",
       title="Density is cheap for both; sampling is D times dearer for MAF")
ax.legend(frameon=False)
plt.show()

# %%
# What to try
# -----------
# Set ``DATASET = "checkerboard"`` or ``"swissroll"`` and compare the two densities again.
# In more dimensions each MAF layer conditions every variable on all the earlier ones, a
# coupling only half of them on the other half; count how many layers each needs. An inverse
# autoregressive flow (IAF) is MAF run the other way round: fast sampling, slow density.
# Which would you pick as a VAE's posterior, where only samples and their own densities are
# needed?
