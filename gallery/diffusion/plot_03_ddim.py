r"""
DDIM: fewer sampling steps
==========================

A DDPM trained with :math:`T = 1000` steps needs 1000 network calls per sample. DDIM (Song,
Meng and Ermon, 2021) reuses the same trained network with a different reverse process that
jumps between any two steps :math:`t > t'`,

.. math::

    \mathbf{x}_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat{\mathbf{x}}_0
    + \sqrt{1 - \bar\alpha_{t'} - \sigma^2}\;\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)
    + \sigma\mathbf{z},\qquad
    \sigma = \eta\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}\Big(1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}\Big)},

where :math:`\hat{\mathbf{x}}_0` is the network's estimate of the clean image. With
:math:`\eta = 1` and consecutive steps it is DDPM's ancestral sampler; with :math:`\eta = 0` it
is deterministic, a discretisation of the probability-flow ODE, and it tolerates large jumps.
Run backwards, the same deterministic map turns an image into noise, and the change of
variables gives a likelihood estimate.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples
# sphinx_gallery_gdl_after = "plot_02_ddpm_digits.py"

# %%
# A trained model
# ---------------
# The grey-level DDPM of the previous example, with the same settings, seed and initial
# weights: :func:`gdl.fit` finds the weights that example trained in its cache and loads them
# (run on its own, this script trains them).
import time

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import DDPM

NUM_STEPS = 1000
HIDDEN = (256, 256)
STEPS = 1500
BATCH_SIZE = 128
LR = 1e-3
EMA = 0.99
SAMPLING_STEPS = [1, 2, 5, 10, 20, 50, 100]  # DDIM steps compared with the 1000 of DDPM
ROW_STEPS = [1, 2, 5, 20, 100]  # shown as images
ODE_STEPS = [50, 100, 250, 1000]  # steps of the data -> noise map for the likelihood
N_SAMPLES = 1000  # per sampler, for the quality measure

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
model = DDPM(num_steps=NUM_STEPS, hidden=HIDDEN, prediction="levels")
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, cache=True)

# %%
# Measuring sample quality
# ------------------------
# :func:`gdl.quality.sample_quality` fits Gaussians to the features of 1000 samples and of
# the test digits, taken from a small classifier that gdl trains on the training digits, and
# returns the Fréchet distance between them (lower is better). Even real digits stay above
# zero with 1000 samples: 1000 training and validation digits set the floor.


def distance(samples):
    return gdl.quality.sample_quality(samples)["fd"]


x_val, _ = data.digits("val")
real = torch.cat([x_train, x_val])
floor = distance(real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:N_SAMPLES]])
print(f"1000 real digits vs test digits: {floor:.1f}")

# %%
# Steps against quality
# ---------------------
# For each number of steps, draw samples with :math:`\eta = 0` and :math:`\eta = 1`; DDPM's
# ancestral sampler with all 1000 steps is the reference. The deterministic sampler keeps
# its quality down to a handful of steps; the stochastic one, which adds fresh noise at every
# jump, needs more. Below five steps neither makes digits. Every sampler starts from the
# same random state (``fork_rng``), so they differ by the sampler alone.
results = {0.0: [], 1.0: []}
for eta in results:
    for steps in SAMPLING_STEPS:
        start = time.perf_counter()
        with torch.random.fork_rng():
            samples = model.sample(N_SAMPLES, steps=steps, eta=eta)
        seconds = time.perf_counter() - start
        results[eta].append(distance(samples))
        print(f"DDIM eta={eta:.0f}, {steps:>4} steps: FD {results[eta][-1]:.1f} ({seconds:.2f} s)")
start = time.perf_counter()
with torch.random.fork_rng():
    ddpm_distance = distance(model.sample(N_SAMPLES))
print(f"DDPM ancestral, {NUM_STEPS} steps: FD {ddpm_distance:.1f} ({time.perf_counter() - start:.2f} s)")

fig, ax = plt.subplots(figsize=(6, 3.8))
for eta, distances in results.items():
    ax.plot(SAMPLING_STEPS, distances, "o-", label=rf"DDIM, $\eta = {eta:.0f}$")
ax.axhline(ddpm_distance, color="C2", ls="--", label=f"DDPM, {NUM_STEPS} steps")
ax.axhline(floor, color="grey", ls=":", label="real digits")
ax.set(xscale="log", xlabel="sampling steps (network calls)", ylabel="FD on gdl features to test digits",
       title="Fewer steps, same network")
ax.legend(frameon=False)
plt.show()

# %%
# The same noise, decoded with more and more steps
# ------------------------------------------------
# With :math:`\eta = 0` the sampler is a deterministic map from :math:`\mathbf{x}_T` to an
# image, nearly the same whatever the number of steps: from a handful of steps on, the coarse
# runs draw the same digits as the fine ones. One step can only return the network's first
# guess :math:`\hat{\mathbf{x}}_0(\mathbf{x}_T)`, a blur of all digits. Each column starts
# from one noise image.
x_T = torch.randn(10, 1, 8, 8)
rows = [model.to_levels(model.reverse(x_T, steps=s, eta=0.0)) for s in ROW_STEPS]
fig, ax = plt.subplots(figsize=(8, 4.5))
gdl.plot.image_grid(torch.cat(rows), nrow=10, levels=17, ax=ax, title=r"DDIM, $\eta = 0$, one column per $\mathbf{x}_T$")
ax.set_yticks([1 + 9 * r + 3.5 for r in range(len(rows))], [f"{s} step" + "s" * (s > 1) for s in ROW_STEPS])
plt.show()

# %%
# A likelihood from the deterministic map
# ---------------------------------------
# With :math:`\eta = 0`, DDIM run from data to noise is an invertible map
# :math:`\mathbf{x}_1\mapsto\mathbf{x}_T`, so the change of variables gives a density,
# :math:`\log p(\mathbf{x}_1) = \log\mathcal{N}(\mathbf{x}_T;\mathbf{0},\mathbf{I}) +
# \log|\det \partial\mathbf{x}_T/\partial\mathbf{x}_1|`; the first noising step
# :math:`q(\mathbf{x}_1\mid\mathbf{x}_0)` dequantises the grey levels. Each step's
# log-determinant is estimated to first order, with Hutchinson's trace estimator, which
# overstates it on coarse grids: the estimate of :math:`-\log P(\mathbf{x})` rises with the
# number of steps, ever more slowly. We record the finest, which is probably still a little
# low; it is an estimate, where the previous example's number was a bound.
estimates = []
for steps in ODE_STEPS:
    start = time.perf_counter()
    with torch.no_grad(), torch.random.fork_rng():
        estimates.append(model.ode_nll(x_test, steps=steps).mean().item())
    print(f"probability-flow estimate, {steps:>4} steps: {estimates[-1]:.2f} nats/image "
          f"({time.perf_counter() - start:.1f} s)")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(ODE_STEPS, estimates, "o-")
ax.set(xscale="log", xlabel="steps of the deterministic map", ylabel="nats per image",
       title=r"Probability-flow estimate of $-\log P(\mathbf{x})$, test digits")
plt.show()

# The row's samples come from the same deterministic map, run from noise with 50 steps.
gdl.results.record(
    "DDPM (grey-level posterior, probability flow)", model, x_test, history=history,
    nll=estimates[-1], kind="estimate", sample_kwargs={"steps": 50},
    note=f"DDIM (eta = 0) map with {ODE_STEPS[-1]} steps, first-order log-determinants, one "
    "Hutchinson probe; samples with 50 DDIM steps",
)

# %%
# What to try
# -----------
# Compare ``eta=0.5``. Train the ``prediction="eps"`` model of the previous example and
# compare its DDIM samples and its probability-flow estimate with this model's. Space the DDIM
# steps quadratically (denser at low noise) instead of evenly, and watch the estimate.
