r"""
DDPM on digits
==============

A denoising diffusion probabilistic model (DDPM) destroys an image with Gaussian noise in
:math:`T` small steps and learns to undo one step at a time. The forward process needs no
training; it has a closed form at every step,

.. math::

    q(\mathbf{x}_t \mid \mathbf{x}_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\,\mathbf{x}_0,\;
    (1 - \bar\alpha_t)\,\mathbf{I}\big),

and a network :math:`\boldsymbol\epsilon_\theta(\mathbf{x}_t, t)` learns to predict the noise
that was added. Sampling runs the learned reverse steps from pure noise. The variational bound
on :math:`\log P(\mathbf{x})` measures, in nats, how well the reverse steps match the forward
ones; here it is a bound on the probability of the *discrete* 17-level image.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 4  # the model's samples

# %%
# The forward process
# -------------------
# Pixels :math:`x\in\{0,\dots,16\}` become :math:`x_0 = 2x/16 - 1 \in [-1, 1]`. The cosine
# schedule of Nichol and Dhariwal (2021) removes the signal gently:
# :math:`\sqrt{\bar\alpha_t}` falls from 1 to 0 along a quarter cosine. Each row below is one
# test digit drawn from :math:`q(\mathbf{x}_t\mid\mathbf{x}_0)` at the step of its column.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import DDPM

NUM_STEPS = 1000  # T
HIDDEN = (256, 256)
STEPS = 1500
BATCH_SIZE = 128
LR = 1e-3
EMA = 0.99  # Polyak averaging of the weights
SHOW_T = [0, 25, 50, 100, 200, 400, 600, 1000]  # steps t shown in the figures (0: the data)

x_train, _ = data.digits("train")
x_test, _ = data.digits("test")


def show_grid(images, steps, ax, title):
    """Rows of 8×8 images on the [-1, 1] scale, one column per step, labelled with t."""
    gdl.plot.image_grid(images.clamp(-1, 1), nrow=len(steps), ax=ax, title=title)
    ax.set_xticks([1 + 9 * c + 3.5 for c in range(len(steps))], [str(t) for t in steps])
    ax.set_xlabel("step $t$")


grey_level = DDPM(num_steps=NUM_STEPS, hidden=HIDDEN, prediction="levels")  # built (and trained)
models = {  # first, as in the next example, which loads the same trained weights from the cache
    "grey-level posterior": grey_level,
    "ε-network": DDPM(num_steps=NUM_STEPS, hidden=HIDDEN, prediction="eps"),
}
schedule = grey_level.schedule
x0 = grey_level.to_unit(x_test[:6])  # (6, 1, 8, 8) in [-1, 1]
# tensors index steps from 0, so step t of the paper is entry t - 1
noised = torch.stack([x0 if t == 0 else schedule.q_sample(x0, torch.tensor(t - 1)) for t in SHOW_T], dim=1)
fig, ax = plt.subplots(figsize=(8, 6.5))
show_grid(noised.flatten(0, 1), SHOW_T, ax, r"Forward process: $\mathbf{x}_t \sim q(\mathbf{x}_t\mid\mathbf{x}_0)$")
plt.show()

# %%
# Two ways to predict the noise
# -----------------------------
# Both models are trained on the simplified loss of Ho et al. (2020),
# :math:`\lVert\boldsymbol\epsilon - \boldsymbol\epsilon_\theta(\mathbf{x}_t, t)\rVert^2` at a
# uniformly drawn step, with the same MLP. The ε-network outputs :math:`\boldsymbol\epsilon_\theta`
# directly. The grey-level model outputs logits over the 17 grey levels of each pixel, adds the
# exact log-likelihood :math:`-(x_{t,i} - \sqrt{\bar\alpha_t}c)^2 / 2(1-\bar\alpha_t)` of the
# pixel's own noisy value for each level :math:`c`, and derives :math:`\boldsymbol\epsilon_\theta`
# from the mean of that categorical: at low noise it denoises exactly before any training. The
# trained weights go to a cache (``cache=True``), from which the next example loads them.
histories = {}
for name, model in models.items():
    print(f"{name}: {model.num_parameters():,} parameters")
    histories[name] = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA,
                              log_every=500, cache=True)

# %%
# The bound, term by term
# -----------------------
# The negative bound is a sum of :math:`T + 1` terms: a discretised Gaussian decoder
# :math:`L_0 = -\log p_\theta(\mathbf{x}_0\mid\mathbf{x}_1)` integrated over each grey level's
# bin, one KL divergence
# :math:`L_{t-1} = \mathrm{KL}(q(\mathbf{x}_{t-1}\mid\mathbf{x}_t,\mathbf{x}_0)\Vert
# p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t))` per reverse step, and the prior term
# :math:`L_T`. We compute every term on the 447 test digits. The low-noise terms dominate:
# there the reverse step must recover the exact grey level, and the plain noise predictor,
# which would have to output the steep function :math:`(\mathbf{x}_t - \sqrt{\bar\alpha_t}\,
# \mathrm{round}(\cdot))/\sqrt{1-\bar\alpha_t}`, pays heavily for it.
terms = {}
for name, model in models.items():
    with torch.no_grad():
        terms[name] = model.elbo_terms(x_test)  # (447, T + 1), nats
    t = terms[name]
    print(
        f"{name}: test bound {t.sum(1).mean():.2f} nats/image "
        f"(L_0 {t[:, 0].mean():.2f}, steps 2..100: {t[:, 1:100].sum(1).mean():.2f}, "
        f"steps 101..T: {t[:, 100:NUM_STEPS].sum(1).mean():.2f}, L_T {t[:, NUM_STEPS].mean():.3f})"
    )

fig, ax = plt.subplots(figsize=(6.5, 3.8))
steps = torch.arange(1, NUM_STEPS + 1)
for name, t in terms.items():
    ax.plot(steps, t[:, :NUM_STEPS].mean(0), label=f"{name}: {t.sum(1).mean():.1f} nats in all")
ax.set(xscale="log", yscale="log", ylim=(1e-3, 100), xlabel="step $t$", ylabel="nats per image",
       title="Where the bound's nats are spent: $L_{t-1}$ per step")
ax.legend(frameon=False)
plt.show()

# %%
# Results for the leaderboard
# ---------------------------
# Both numbers are upper bounds on the discrete negative log-likelihood. Samples come from
# DDIM with 50 deterministic steps (:math:`\eta = 0`; see the next example), which costs 50
# network calls instead of 1000.
results = {
    name: gdl.results.record(
        f"DDPM ({name})", model, x_test, history=histories[name], nll=terms[name].sum(1).mean().item(),
        kind="bound", sample_kwargs={"steps": 50},
        note=f"T={NUM_STEPS}, cosine schedule, fixed variance posterior; DDIM 50 steps to sample",
    )
    for name, model in models.items()
}

# %%
# The reverse process
# -------------------
# Ancestral sampling draws :math:`\mathbf{x}_T\sim\mathcal{N}(\mathbf{0},\mathbf{I})` and then
# :math:`\mathbf{x}_{t-1}\sim p_\theta(\mathbf{x}_{t-1}\mid\mathbf{x}_t)` for all 1000 steps.
# Read each row right to left: the digit appears late, in the last tenth of the steps.
path = grey_level.reverse(torch.randn(6, 1, 8, 8), keep=True)  # x_T, x_{T-1}, ..., x_0
trajectory = torch.stack([path[NUM_STEPS - t] for t in SHOW_T], dim=1)  # (6, 8, 1, 8, 8): x_t
fig, ax = plt.subplots(figsize=(8, 6.5))
show_grid(trajectory.flatten(0, 1), SHOW_T, ax, r"Reverse process: $\mathbf{x}_t \sim p_\theta$, from $t = T$ (right) to 0")
plt.show()

# %%
# Samples
# -------
# Test digits beside samples of the grey-level model.
gdl.plot.data_and_samples(x_test, results["grey-level posterior"].samples, levels=17,
                          model="the DDPM (DDIM, 50 steps)", data_title="Test digits")
plt.show()

# %%
# What to try
# -----------
# Set ``NUM_STEPS = 100``: the plain ε-network's bound improves (its first step starts at a
# larger noise level), the grey-level model's gets worse (coarser steps overestimate the
# low-noise terms). Try ``schedule="linear"``, ``variance="beta"``, or ``network="unet"``
# (slower on a CPU, but convolutions see each pixel's neighbours).
