r"""
Score matching and annealed Langevin dynamics in 2-D
====================================================

A noise-conditional score network (NCSN) learns the *score*
:math:`\mathbf{s}_\theta(\mathbf{x}, \sigma) \approx \nabla_\mathbf{x} \log p_\sigma(\mathbf{x})`
of the data blurred by Gaussian noise of scale :math:`\sigma`, for a ladder of scales from
coarse to fine. It never evaluates a density: denoising score matching (Vincent, 2011) regresses
the score onto the direction back to the clean point,

.. math::

    \frac{1}{L}\sum_{i=1}^{L} \frac{\sigma_i^2}{2}\,\mathbb{E}\left\lVert
    \mathbf{s}_\theta(\mathbf{x} + \sigma_i\mathbf{z}, \sigma_i) + \frac{\mathbf{z}}{\sigma_i}
    \right\rVert^2,

and sampling runs Langevin dynamics on each level in turn, from the largest :math:`\sigma` to
the smallest (Song and Ermon, 2019). The score is minus the gradient of an energy, so this is
the sampler of the energy-based models with the energy itself left out.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 4  # the model's samples

# %%
# Data and model
# --------------
# Two moons. Ten noise levels from :math:`\sigma_1 = 3` (about the width of the data) down to
# :math:`\sigma_{10} = 0.03`, spaced geometrically. The network reads the point and
# :math:`\log\sigma` and its output is divided by :math:`\sigma`, so it predicts the noise
# direction on the same scale at every level.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl.diffusion import NCSN

STEPS = 6_000
BATCH_SIZE = 256
LR = 2e-3

x_train, _ = gdl.data.toy_2d("moons", 4000, seed=0)
x_test, _ = gdl.data.toy_2d("moons", 2000, seed=1)
model = NCSN(event_shape=(2,), hidden=(128, 128, 128), sigma_max=3.0, sigma_min=0.03,
             num_sigmas=10, step_size=1e-4, steps_per_sigma=100)
print(f"{model.num_parameters():,} parameters; sigmas {[round(s, 3) for s in model.sigmas.tolist()]}")

# %%
# Training by denoising score matching
# ------------------------------------
# Each example gets one random noise level per step. With the :math:`\sigma^2` weighting the
# loss of a perfect model is not zero but the irreducible noise of the regression target;
# what matters is that it falls.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=1_500)
gdl.plot.training_curves(history, title="Denoising score matching", ylabel="weighted DSM loss")
plt.show()

# %%
# The score field at three noise levels
# -------------------------------------
# Arrows show :math:`\mathbf{s}_\theta(\mathbf{x}, \sigma)`, the direction of steepest ascent
# of :math:`\log p_\sigma`. At large :math:`\sigma` the blurred data is one broad bump and every
# arrow points to the middle; at small :math:`\sigma` the arrows point to the nearest moon.
# Away from the data, where no noised sample ever landed, the small-:math:`\sigma` field is a
# guess: hence the large levels, which carry samples into the region where the fine score is
# reliable.
xs = torch.linspace(-3, 3, 21)
grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=-1).reshape(-1, 2)
fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
for ax, i in zip(axes, [0, 4, 9]):
    sigma = model.sigmas[i]
    with torch.no_grad():
        s = model.score(grid, sigma) * sigma  # scaled by sigma, so every level is readable
    ax.scatter(*x_train[:1000].T, s=1, c="tab:orange", alpha=0.5)
    ax.quiver(grid[:, 0], grid[:, 1], s[:, 0], s[:, 1], angles="xy", color="tab:blue", width=0.004)
    ax.set(title=rf"$\sigma \cdot s_\theta(x, \sigma)$, $\sigma = {sigma:.2f}$", xlabel="$x_1$",
           ylabel="$x_2$", aspect="equal", xlim=(-3, 3), ylim=(-3, 3))
plt.show()

# %%
# Annealed Langevin dynamics
# --------------------------
# Samples start as :math:`\mathcal{N}(\mathbf{0}, \sigma_1^2\mathbf{I})` and take 100 Langevin
# steps per level, with step size :math:`\alpha_i = \epsilon\,\sigma_i^2/\sigma_L^2`:
# :math:`\mathbf{x} \leftarrow \mathbf{x} + \frac{\alpha_i}{2}\mathbf{s}_\theta(\mathbf{x},
# \sigma_i) + \sqrt{\alpha_i}\,\boldsymbol\xi`. A final denoising step,
# :math:`\mathbf{x} + \sigma_L^2\,\mathbf{s}_\theta(\mathbf{x}, \sigma_L)` (Tweedie's formula),
# removes the last level's noise.
samples, path = model.sample(2000, return_trajectory=True)  # path: (L + 1, 2000, 2)
fig, axes = plt.subplots(1, 4, figsize=(15, 4))
for ax, k in zip(axes, [0, 3, 6, 10]):
    title = "start: noise" if k == 0 else rf"after $\sigma_{{{k}}} = {model.sigmas[k - 1]:.2f}$"
    gdl.plot.scatter_2d(path[k], ax=ax, lim=3, title=title)
plt.show()

# %%
# Samples and data
# ----------------
# A check that needs no density: the mean distance from each sample to its nearest test
# point (are the samples on the moons?) and from each test point to its nearest sample (are
# the moons covered?), against the same numbers for 2000 training points, which are as close
# to the test set as real data gets.
def nearest_distance(a, b):
    return torch.cdist(a, b).min(dim=1).values.mean().item()


reference = x_train[:2000]
print(f"sample -> test: {nearest_distance(samples, x_test):.3f} "
      f"(training data: {nearest_distance(reference, x_test):.3f})")
print(f"test -> sample: {nearest_distance(x_test, samples):.3f} "
      f"(training data: {nearest_distance(x_test, reference):.3f})")
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
gdl.plot.scatter_2d(x_test, ax=axes[0], lim=3, title="Test data")
gdl.plot.scatter_2d(samples, ax=axes[1], lim=3, title="NCSN samples")
plt.show()

# %%
# What to try
# -----------
# Keep only small noise levels (``sigma_max=0.3``) and start the chains from wide noise
# yourself (:func:`gdl.diffusion.annealed_langevin` takes any starting points): far from the
# data the score is a guess, and see how the moons come out. Turn off the final denoising
# step (``denoise=False``) and the samples carry a blur of :math:`\sigma_L`. Try
# ``"swissroll"`` or ``"8gaussians"``.
