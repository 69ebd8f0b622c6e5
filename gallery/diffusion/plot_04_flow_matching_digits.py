r"""
Flow matching on digits, beside DDIM
====================================

DDIM with :math:`\eta = 0` runs a DDPM's probability-flow ODE with large steps. Flow matching
(Lipman et al., 2023; Liu et al., 2023) trains such an ODE directly: straight lines from noise
to digits, :math:`\mathbf{x}_t = (1-t)\mathbf{x}_0 + t\mathbf{x}_1`, and a network
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
# models get its network and its training: the same MLP with logits over the 17 grey levels of
# every pixel (``prediction="levels"``: the exact likelihood of each level given
# :math:`\mathbf{x}_t` is added to the logits, and the field is
# :math:`(\hat{\mathbf{x}}_1 - \mathbf{x}_t)/(1-t)`), the levels' centres mapped to
# :math:`[-1, 1]`, and as many steps, batch size, learning rate and averaging of the weights. One
# pairs noise and images at random, the other pairs each mini-batch by optimal transport.
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
FM_STEPS = 1500  # as many as the DDPM's
SAMPLING_STEPS = [1, 2, 3, 5, 10, 20]
GRID = "cosine"  # Euler steps at the times DDIM visits (see below)
N_SAMPLES = 1000

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
ddpm = DDPM(num_steps=NUM_STEPS, hidden=HIDDEN, prediction="levels")
gdl.fit(ddpm, x_train, steps=DDPM_STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=500, cache=True)

flows = {c: FlowMatching(event_shape=(1, 8, 8), hidden=HIDDEN, coupling=c, num_levels=data.DIGITS_LEVELS,
                          prediction="levels") for c in ("independent", "ot")}
histories = {c: gdl.fit(m, x_train, steps=FM_STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=1000)
             for c, m in flows.items()}

# %%
# Quality against steps
# ---------------------
# Fréchet distance on gdl's digit features between 1000 samples and the test digits (lower is
# better), for each sampler at the same numbers of network calls, all from the same random
# state, and all mapped to the nearest grey level. An Euler step of the flow's field is a DDIM
# step on the straight path; with evenly spaced times (``grid="uniform"``) the flows step
# through the noise levels differently from DDIM, whose evenly spaced steps of the cosine
# schedule are denser at both ends. ``grid="cosine"`` puts the Euler steps at DDIM's noise
# levels, :math:`t_k = \sin\theta_k/(\sin\theta_k + \cos\theta_k)`,
# :math:`\theta_k = \pi k / 2n`; the evenly spaced grid is printed too.


def distance(samples):
    return gdl.quality.sample_quality(samples)["fd"]


def sampler(name, model):
    if name == "DDIM":
        return lambda n: model.sample(N_SAMPLES, steps=n, eta=0.0)
    return lambda n: model.sample(N_SAMPLES, steps=n, grid=GRID)


curves = {}
for name, model in [("DDIM", ddpm), *((f"flow matching, {c}", m) for c, m in flows.items())]:
    curves[name] = []
    for n in SAMPLING_STEPS:
        with torch.random.fork_rng():
            curves[name].append(distance(sampler(name, model)(n)))
    print(name + ": " + ", ".join(f"{n} steps FD {d:.1f}" for n, d in zip(SAMPLING_STEPS, curves[name])))
for c, model in flows.items():
    fds = []
    for n in SAMPLING_STEPS:
        with torch.random.fork_rng():
            fds.append(distance(model.sample(N_SAMPLES, steps=n, grid="uniform")))
    print(f"flow matching, {c}, evenly spaced Euler steps: "
          + ", ".join(f"{n} steps FD {d:.1f}" for n, d in zip(SAMPLING_STEPS, fds)))

fig, ax = plt.subplots(figsize=(6, 3.8))
for name, fd in curves.items():
    ax.plot(SAMPLING_STEPS, fd, "o-", label=name)
ax.set(xscale="log", yscale="log", xlabel="sampling steps (network calls)", ylabel="FD to test digits",
       title=f"Same calls, three deterministic samplers ({GRID} grid for the flows)")
ax.legend(frameon=False)
plt.show()

# %%
# With the same network, training and noise levels, the optimal-transport flow is far ahead of
# DDIM at two to five steps and level with it from ten on: its straighter paths suit large
# steps. The independent coupling trails DDIM from three steps on; it is trained at times drawn
# evenly in :math:`t`, which gives fewer examples near the two ends than the DDPM's cosine
# schedule does.

# %%
# Samples
# -------
# One row per number of steps, from the same noise for the two flows. With the
# optimal-transport coupling two or three steps already give digits.
x0 = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (c, model) in zip(axes, flows.items()):
    rows = [model.sample_from(x0, steps=n, grid=GRID) for n in (1, 2, 5, 20)]
    gdl.plot.image_grid(torch.cat(rows), nrow=10, levels=data.DIGITS_LEVELS, ax=ax,
                        title=f"{c} coupling: 1, 2, 5, 20 Euler steps")
plt.show()

# %%
# Likelihood
# ----------
# The flows' paths end on the grey levels, so the density is taken just before the end, as
# DDPM's probability flow does: a digit's levels plus a little Gaussian noise,
# :math:`\mathbf{x}_\tau\sim\mathcal{N}(\tau\mathbf{c}, \sigma^2 I)` with
# :math:`\sigma = 1-\tau = 0.01`, run backwards to the noise by RK4 with the divergence of
# every step added up (Hutchinson's estimate, one probe), and the level posterior at
# :math:`\tau` as the decoder: a variational dequantization bound on the discrete NLL. One draw
# per image, one probe and a finite solver make it an estimate, reported as such.
for c, model in flows.items():
    with torch.random.fork_rng():
        nll = -model.dequantized_log_prob(x_test, exact=False).mean().item()
    print(f"{c}: {nll:.1f} nats/image ({gdl.metrics.bits_per_dim(nll, 64):.3f} bits/dim)")
    gdl.results.record(f"Flow matching ({c} coupling)", model, x_test, history=histories[c], nll=nll,
                       kind="estimate", sample_kwargs={"steps": 20, "grid": GRID},
                       note="same network as the grey-level DDPM; Gaussian dequantization (sigma 0.01), "
                       "probability-flow ODE, RK4 with 20 steps, one Hutchinson probe; "
                       f"samples with 20 Euler steps ({GRID} grid)")

# %%
# What to try
# -----------
# ``prediction="velocity"``: a network that outputs the field itself, trained on the digits
# plus uniform noise, with a density on :math:`[0, 17)^{64}` of its own; it needs many more
# Euler steps. A smaller batch for the optimal-transport coupling; ``exact=True`` in the
# likelihood (64 backward passes a step, much slower).
