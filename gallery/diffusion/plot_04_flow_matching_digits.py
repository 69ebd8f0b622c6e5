r"""
Flow matching on digits, beside DDIM
====================================

DDIM with :math:`\eta = 0` runs a DDPM's probability-flow ODE with large steps. Flow matching
(Lipman et al., 2023; Liu et al., 2023) trains such an ODE directly: straight lines from noise
to dequantized digits, :math:`\mathbf{x}_t = (1-t)\mathbf{x}_0 + t\mathbf{x}_1`, and a network
regressed on their velocity :math:`\mathbf{x}_1 - \mathbf{x}_0`. Sampling is Euler's method,
one network call per step, so the two can be compared at the same number of calls.
"""
# sphinx_gallery_gdl_budget = 28
# sphinx_gallery_gdl_after = "plot_02_ddpm_digits.py"
# sphinx_gallery_thumbnail_number = 2

# %%
# Models
# ------
# The grey-level DDPM of the earlier examples comes from the cache of trained weights (same
# settings, seed and initial weights; run on its own, this script trains it). Two flow-matching
# models share its network's shape and train on the digits plus uniform noise, mapped to
# :math:`[-1, 1)`: one pairs noise and images at random, the other pairs each mini-batch by
# optimal transport.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import DDPM
from gdl.flows import FlowMatching

NUM_STEPS = 1000  # the DDPM's T, as in the DDPM example
HIDDEN = (256, 256)
BATCH_SIZE = 128
LR = 1e-3
EMA = 0.99
DDPM_STEPS = 1500
FM_STEPS = 3000
SAMPLING_STEPS = [1, 2, 3, 5, 10, 20]
N_SAMPLES = 1000

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
ddpm = DDPM(num_steps=NUM_STEPS, hidden=HIDDEN, prediction="levels")
gdl.fit(ddpm, x_train, steps=DDPM_STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=500, cache=True)

flows = {c: FlowMatching(event_shape=(1, 8, 8), hidden=HIDDEN, coupling=c, num_levels=data.DIGITS_LEVELS)
         for c in ("independent", "ot")}
histories = {c: gdl.fit(m, x_train, steps=FM_STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=1000)
             for c, m in flows.items()}

# %%
# Quality against steps
# ---------------------
# Fréchet distance on gdl's digit features between 1000 samples and the test digits (lower is
# better), for each sampler at the same numbers of network calls, all from the same random
# state.


def distance(samples):
    return gdl.quality.sample_quality(samples)["fd"]


def sampler(name, model):
    if name == "DDIM":
        return lambda n: model.sample(N_SAMPLES, steps=n, eta=0.0)
    return lambda n: model.sample(N_SAMPLES, steps=n)


curves = {}
for name, model in [("DDIM", ddpm), *((f"flow matching, {c}", m) for c, m in flows.items())]:
    curves[name] = []
    for n in SAMPLING_STEPS:
        with torch.random.fork_rng():
            curves[name].append(distance(sampler(name, model)(n)))
    print(name + ": " + ", ".join(f"{n} steps FD {d:.1f}" for n, d in zip(SAMPLING_STEPS, curves[name])))

fig, ax = plt.subplots(figsize=(6, 3.8))
for name, fd in curves.items():
    ax.plot(SAMPLING_STEPS, fd, "o-", label=name)
ax.set(xscale="log", yscale="log", xlabel="sampling steps (network calls)", ylabel="FD to test digits",
       title="Same calls, three deterministic samplers")
ax.legend(frameon=False)
plt.show()

# %%
# Samples
# -------
# One row per number of steps, from the same noise for the two flows. With the
# optimal-transport coupling two or three steps already give digits.
x0 = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (c, model) in zip(axes, flows.items()):
    rows = [model.sample_from(x0, steps=n) for n in (1, 2, 5, 20)]
    gdl.plot.image_grid(torch.cat(rows), nrow=10, levels=data.DIGITS_LEVELS, ax=ax,
                        title=f"{c} coupling: 1, 2, 5, 20 Euler steps")
plt.show()

# %%
# Likelihood
# ----------
# Run backwards from a dequantized digit to noise, the ODE gives a density by the
# instantaneous change of variables: the divergence of the field, exact here (64 backward
# passes), is added up over every step of an RK4 solver, and the rescaling from
# :math:`[0, 17)` to :math:`[-1, 1)` is counted. With a finite solver the result is an
# estimate of the dequantization bound, reported as such.
for c, model in flows.items():
    nll = gdl.metrics.dequantized_nll(model, x_test, draws=1)
    print(f"{c}: {nll:.1f} nats/image ({gdl.metrics.bits_per_dim(nll, 64):.3f} bits/dim)")
    gdl.results.record(f"Flow matching ({c} coupling)", model, x_test, history=histories[c], nll=nll,
                       kind="estimate", sample_kwargs={"steps": 20},
                       note="dequantized; probability-flow ODE, RK4 with 20 steps, exact divergence; "
                       "samples with 20 Euler steps")

# %%
# What to try
# -----------
# More Euler steps for the DDPM (DDIM with 50 steps), or the DDPM's own probability-flow
# likelihood beside the flows'; a smaller batch for the optimal-transport coupling.
