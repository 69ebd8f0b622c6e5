r"""
Flow matching in two dimensions
===============================

Flow matching trains a continuous normalizing flow without ever solving its ODE in training.
Pair a noise point :math:`\mathbf{x}_0` with a data point :math:`\mathbf{x}_1`, draw the
straight line between them, and regress a network on the line's velocity:

.. math::

    \min_\theta\;\mathbb{E}_{t,\,(\mathbf{x}_0, \mathbf{x}_1)}\big\lVert
    \mathbf{v}_\theta\big((1-t)\mathbf{x}_0 + t\mathbf{x}_1,\, t\big) - (\mathbf{x}_1 - \mathbf{x}_0)\big\rVert^2 .

The network learns the *average* velocity through each point, a field whose ODE carries the
noise onto the data. How the pairs are drawn (the coupling) decides how straight its paths are.
"""
# sphinx_gallery_gdl_budget = 14
# sphinx_gallery_thumbnail_number = 3

# %%
# Two couplings
# -------------
# The independent coupling pairs noise and data at random; the optimal-transport coupling
# re-pairs each mini-batch to minimise the total squared distance (an assignment problem,
# solved exactly by the Hungarian method).
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.flows import FlowMatching

STEPS = 1_500
BATCH_SIZE = 256
LR = 1e-3

x_train, _ = data.toy_2d("8gaussians", 4000)
models = {c: FlowMatching(event_shape=(2,), hidden=(128, 128), coupling=c) for c in ("independent", "ot")}
histories = {c: gdl.fit(m, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=1000)
             for c, m in models.items()}

# %%
# The learned field
# -----------------
# At :math:`t = 0` every arrow points to the data on average; by :math:`t = 0.9` the field
# has split, each arrow heading for its nearest mode.
grid = torch.stack(torch.meshgrid(torch.linspace(-3, 3, 21), torch.linspace(-3, 3, 21), indexing="xy"), -1).view(-1, 2)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, t in zip(axes, (0.0, 0.5, 0.9)):
    with torch.no_grad():
        v = models["ot"].velocity(grid, torch.full((len(grid),), t))
    ax.quiver(grid[:, 0], grid[:, 1], v[:, 0], v[:, 1], color="C0", angles="xy")
    ax.scatter(x_train[:500, 0], x_train[:500, 1], s=2, color="C3")
    ax.set(title=f"$\\mathbf{{v}}_\\theta(\\mathbf{{x}}, {t})$, OT coupling", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
plt.show()

# %%
# Straight and curved paths
# -------------------------
# The same 200 noise points, carried by each field with 100 Euler steps. Random pairs cross,
# so the field at a point averages velocities towards several modes and its paths bend; the
# optimal-transport pairs barely cross, and the paths are almost straight lines.
x0 = torch.randn(200, 2, generator=torch.Generator().manual_seed(1))
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
for ax, (c, model) in zip(axes, models.items()):
    path = model.flow(x0, steps=100, keep=True)  # (101, 200, 2)
    ax.plot(path[:, :, 0], path[:, :, 1], color="C0", lw=0.5, alpha=0.5)
    ax.scatter(path[-1, :, 0], path[-1, :, 1], s=4, color="C3", zorder=3)
    straightness = (path[-1] - path[0]).norm(dim=1) / (path[1:] - path[:-1]).norm(dim=2).sum(0)
    print(f"{c} coupling: mean chord / path length {straightness.mean():.3f}")
    ax.set(title=f"{c} coupling: chord / length {straightness.mean():.3f}", xlabel="$x_1$", ylabel="$x_2$",
           xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal")
plt.show()

# %%
# Few steps
# ---------
# Straight paths need few Euler steps. With one or two, the independent coupling lands
# between the modes; the optimal-transport coupling is nearly done in one.
step_counts = (1, 2, 5, 50)
fig, axes = plt.subplots(2, len(step_counts), figsize=(11, 5.8))
for row, (c, model) in zip(axes, models.items()):
    for ax, n in zip(row, step_counts):
        with torch.random.fork_rng():
            s = model.sample(1000, steps=n)
        gdl.plot.scatter_2d(s, ax=ax, title=f"{c}, {n} step" + "s" * (n > 1))
plt.show()

# %%
# What to try
# -----------
# The checkerboard or two moons; a smaller batch, where the mini-batch transport plan is
# further from the true one; the likelihood ``model.log_prob(x)``, which runs the ODE back
# from data to noise and adds up the divergence of the field along the way.
