r"""
Score SDEs on digits: reverse SDE and probability flow
======================================================

In continuous time, DDPM's noising chain is the variance-preserving SDE
:math:`d\mathbf{x} = -\frac12\beta(t)\mathbf{x}\,dt + \sqrt{\beta(t)}\,d\mathbf{w}`. A network
that knows the score :math:`\nabla_{\mathbf{x}}\log p_t` can run it backwards in two ways: the
reverse SDE, which adds fresh noise at every step, and the probability-flow ODE, which is
deterministic and shares its marginals. The ODE is a continuous flow, so it also gives a
likelihood.
"""
# sphinx_gallery_gdl_budget = 25
# sphinx_gallery_gdl_after = "plot_02_ddpm_digits.py"
# sphinx_gallery_thumbnail_number = 1

# %%
# Model
# -----
# A VP SDE matched to DDPM's linear schedule with :math:`T = 1000` (its marginals at
# :math:`t = i/T` are DDPM's), and a noise-predicting MLP trained on dequantized digits mapped
# to :math:`[-1, 1)`, at uniformly drawn times.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import DDPM, ScoreSDE

STEPS = 3000
BATCH_SIZE = 128
LR = 1e-3
EMA = 0.99
SAMPLER_STEPS = 200
ODE_STEPS = 20

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")
with torch.random.fork_rng():  # the DDPM of the earlier examples, from the same initial weights
    ddpm = DDPM(num_steps=1000, hidden=(256, 256), prediction="levels")
model = ScoreSDE(sde="vp", num_steps=1000, schedule="linear", hidden=(256, 256))
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=1000)

# %%
# Two samplers
# ------------
# Both start from the same noise and take the same number of steps. The reverse SDE corrects
# its errors with fresh noise; the ODE carries each noise image to one digit deterministically.
x1 = torch.randn(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, method in zip(axes, ("sde", "ode")):
    with torch.random.fork_rng():
        images = model.to_levels(model.reverse(x1, SAMPLER_STEPS, method=method))
    gdl.plot.image_grid(images, nrow=8, levels=data.DIGITS_LEVELS, ax=ax,
                        title=f"{'reverse SDE' if method == 'sde' else 'probability-flow ODE'}, {SAMPLER_STEPS} steps")
plt.show()
for method in ("sde", "ode"):
    with torch.random.fork_rng():
        fd = gdl.quality.sample_quality(model.sample(1000, steps=SAMPLER_STEPS, method=method))["fd"]
    print(f"{method}: FD on gdl features {fd:.1f}")

# %%
# Likelihood by the probability flow
# ----------------------------------
# The ODE, run from a dequantized digit to noise with RK4, gives
# :math:`\log p(\mathbf{x}_0) = \log\mathcal{N}(\mathbf{x}(1)) + \int\nabla\cdot\tilde{\mathbf{f}}\,dt`,
# the exact divergence of every step summed; counting the rescaling of :math:`[0, 17)` to
# :math:`[-1, 1)` puts it in nats per image of the integer digits. One dequantization draw per
# image and a finite solver make it an estimate.
nll = model.ode_nll(x_test, steps=ODE_STEPS, generator=torch.Generator().manual_seed(0)).mean().item()
print(f"probability-flow estimate: {nll:.1f} nats/image ({gdl.metrics.bits_per_dim(nll, 64):.3f} bits/dim)")
gdl.results.record("Score SDE (VP, probability flow)", model, x_test, history=history, nll=nll, kind="estimate",
                   sample_kwargs={"steps": SAMPLER_STEPS, "method": "ode"},
                   note=f"dequantized; RK4 with {ODE_STEPS} steps in log-noise, exact divergence; "
                   f"samples: probability-flow ODE, {SAMPLER_STEPS} Euler steps")

# %%
# Beside the DDPM's
# -----------------
# The grey-level DDPM of the earlier examples (from the cache of trained weights) has a
# probability-flow likelihood too: DDIM with :math:`\eta = 0` run from data to noise, with
# first-order log-determinants and one Hutchinson probe, its first noising step dequantizing
# the digits (:meth:`gdl.diffusion.ddpm.DDPM.ode_nll`). Both numbers are estimates of the same
# quantity, :math:`-\log P(\mathbf{x})` of the integer test digits, in nats per image; the
# DDPM's differs from this model in its network (logits over the grey levels), its cosine
# schedule and its Gaussian rather than uniform dequantization. The DDPM's first-order
# log-determinants make its estimate rise with the number of steps (see the DDIM example), so
# with 250 steps it is still a little low.
DDPM_ODE_STEPS = 250
gdl.fit(ddpm, x_train, steps=1500, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=500, cache=True)
with torch.random.fork_rng():
    torch.manual_seed(0)
    ddpm_nll = ddpm.ode_nll(x_test, steps=DDPM_ODE_STEPS).mean().item()
print(f"score SDE (VP), probability flow, RK4 {ODE_STEPS} steps: {nll:.1f} nats/image (estimate)")
print(f"DDPM (grey-level posterior), probability flow, DDIM map {DDPM_ODE_STEPS} steps: "
      f"{ddpm_nll:.1f} nats/image (estimate)")

# %%
# The DDPM's estimate is far lower. Its network knows that every pixel sits on one of 17 levels;
# the score network here must learn the density of the dequantized digits, flat inside each
# level's bin, from noise predictions alone (the DDPM example's plain noise predictor pays
# similarly in its bound).

# %%
# What to try
# -----------
# ``sde="ve"``, the variance-exploding SDE of noise-conditional score networks; fewer sampler
# steps, where the ODE holds up better than the SDE; more ODE steps for the likelihood.
