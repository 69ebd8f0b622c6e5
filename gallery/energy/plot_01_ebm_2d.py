r"""
Energy-based model on eight Gaussians
=====================================

An energy-based model gives every point :math:`\mathbf{x}` a scalar energy
:math:`E_\theta(\mathbf{x})` and defines :math:`p_\theta(\mathbf{x}) = e^{-E_\theta(\mathbf{x})}/Z_\theta`:
low energy means likely. Training never computes :math:`Z_\theta`. The contrastive-divergence
loss lowers the energy of data and raises the energy of the model's own samples,

.. math::

    \mathcal{L} = \overline{E_\theta(\mathbf{x}^+)} - \overline{E_\theta(\mathbf{x}^-)}
    + \alpha\left(\overline{E_\theta(\mathbf{x}^+)^2} + \overline{E_\theta(\mathbf{x}^-)^2}\right),

and the samples :math:`\mathbf{x}^-` come from Langevin dynamics,
:math:`\mathbf{x} \leftarrow \mathbf{x} - \frac{\epsilon}{2}\nabla_\mathbf{x}E_\theta(\mathbf{x})
+ \sqrt{\epsilon}\,\boldsymbol\xi`. In two dimensions we can do what is impossible for images:
compute :math:`Z_\theta` on a grid and look at the normalised density.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 3  # the model's samples

# %%
# Data and model
# --------------
# Eight Gaussian blobs on a circle of radius 2. The energy is an MLP with smooth (SiLU)
# activations, so that its gradient, which drives the sampler, is smooth too. Chains start
# uniformly in the box :math:`[-4, 4]^2` and persist in a replay buffer between steps.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl.energy import EBM

STEPS = 2_000
BATCH_SIZE = 128
LR = 2e-3
ALPHA = 0.1  # weight of the energy regulariser
LANGEVIN_STEPS = 30  # per training step, continuing persistent chains
STEP_SIZE = 0.02  # epsilon; the noise scale is sqrt(epsilon): true Langevin

x_train, _ = gdl.data.toy_2d("8gaussians", 2000, seed=0)
x_test, _ = gdl.data.toy_2d("8gaussians", 2000, seed=1)
model = EBM(
    event_shape=(2,), hidden=(128, 128), bounds=(-4.0, 4.0), alpha=ALPHA,
    steps=LANGEVIN_STEPS, step_size=STEP_SIZE, buffer_size=2000, sample_steps=300,
)
print(f"{model.num_parameters():,} parameters")

# %%
# Training by contrastive divergence
# ----------------------------------
# Each step pulls 128 chains from the buffer (5 % restart from noise), runs 30 Langevin
# updates, and takes a gradient step on the loss. The two mean energies tell the story: the
# data's energy falls below the samples'. At the true optimum samples and data would have
# the same mean energy; here a gap stays open, as the valleys keep deepening a little faster
# than short chains can follow. The regulariser holds both near zero.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=500)

gdl.plot.logged(history, {"energy_data": r"data $\overline{E(x^+)}$", "energy_model": r"samples $\overline{E(x^-)}$"},
                title="Energies during training", ylabel="mean energy")
plt.show()

# %%
# The energy landscape, and its partition function
# ------------------------------------------------
# Left: the energy itself, with the data on top; the blobs sit in valleys. Right: the
# Boltzmann density :math:`e^{-E}/Z`, where the partition function
# :math:`Z = \int e^{-E(\mathbf{x})}\,d\mathbf{x}` is a sum over a fine grid: possible only
# because the space has two dimensions. With :math:`Z` in hand, the test negative
# log-likelihood is :math:`E(\mathbf{x}) + \log Z`.
LIM, RES = 4.0, 300
xs = torch.linspace(-LIM, LIM, RES)
grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=-1).reshape(-1, 2)
with torch.no_grad():
    energy = model.energy(grid)
cell = (2 * LIM / (RES - 1)) ** 2
log_z = (torch.logsumexp(-energy, 0) + torch.log(torch.tensor(cell))).item()
with torch.no_grad():
    test_nll = (model.energy(x_test) + log_z).mean().item()
print(f"log Z = {log_z:.3f}; test NLL = {test_nll:.3f} nats/point (Z by quadrature)")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
image = axes[0].contourf(xs, xs, energy.reshape(RES, RES), levels=30, cmap="viridis")
fig.colorbar(image, ax=axes[0], label="$E(x)$")
axes[0].scatter(*x_train[:500].T, s=1, c="white", alpha=0.5)
axes[0].set(title="Energy $E(x)$ and data", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
density = (-energy - log_z).exp().reshape(RES, RES)
axes[1].imshow(density, origin="lower", extent=(-LIM, LIM, -LIM, LIM), cmap="viridis")
axes[1].grid(False)
axes[1].set(title=r"Density $e^{-E(x)}/Z$", xlabel="$x_1$", ylabel="$x_2$")
plt.show()

# %%
# Langevin chains
# ---------------
# Sampling follows the negative energy gradient downhill, with noise so that the chains
# spread over the valleys in proportion to :math:`e^{-E}` instead of collapsing onto their
# floors. Left: eight chains from uniform noise, 300 steps each. Right: 2000 samples drawn
# this way, next to the data.
start = 8 * torch.rand(8, 2) - 4  # uniform in the box
_, paths = model.langevin(start, steps=300, return_trajectory=True)  # (301, 8, 2)
samples = model.sample(2000)
print(f"samples: mean {samples.mean(0).tolist()}, std {samples.std(0).tolist()}")
print(f"data:    mean {x_test.mean(0).tolist()}, std {x_test.std(0).tolist()}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
axes[0].contour(xs, xs, energy.reshape(RES, RES), levels=20, cmap="Greys", linewidths=0.5)
for k in range(paths.shape[1]):
    axes[0].plot(*paths[:, k].T, lw=0.8)
    axes[0].scatter(*paths[0, k], marker="x", c="k", s=20)
axes[0].set(title="Langevin chains (x: start)", xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
            xlim=(-LIM, LIM), ylim=(-LIM, LIM))
gdl.plot.scatter_2d(x_test, ax=axes[1], s=2, lim=LIM)
gdl.plot.scatter_2d(samples, ax=axes[1], s=2, lim=LIM, title="Data (blue) and samples (orange)")
plt.show()

# %%
# What to try
# -----------
# Set ``ALPHA = 0.01``: the energies grow large and training can lose its balance (the
# chains end up stuck in the corners). Give the sampler a smaller noise scale
# (``noise_scale=0.02`` in :class:`~gdl.energy.EBM`): the samples crowd the centres of the blobs,
# a colder distribution :math:`e^{-E/T}` with :math:`T = \sigma^2/\epsilon`. Try the
# ``"checkerboard"`` or ``"swissroll"`` data.
