r"""
A style-based generator on Fashion-MNIST
========================================

In a style-based generator (StyleGAN2, :class:`gdl.gan.StyleGAN`) the code does not enter at
the bottom of the network. A mapping network turns it into :math:`\mathbf{w} = f(\mathbf{z})`;
the synthesis network starts from a learned 7×7 constant, and every convolution has its
weights scaled by a style :math:`\mathbf{s} = A(\mathbf{w})` and then renormalised
(demodulated). Noise added at every layer supplies the details that the style does not fix.
This page shows what the separation buys: styles that can be mixed between images, a mean
style to truncate towards, and variation that comes from the noise alone.
"""
# sphinx_gallery_gdl_budget = 40
# sphinx_gallery_thumbnail_number = 1  # the model's samples

# %%
# Data, model, training
# ---------------------
# Garments at 28×28 with 4 grey levels; five modulated convolutions (one at 7×7, two at 14×14,
# two at 28×28), each with its own :math:`\mathbf{w}`. Training uses the non-saturating loss,
# an :math:`R_1` penalty on the discriminator and style mixing in 90% of the batches. As in
# StyleGAN2, the samples come from an exponential moving average of the weights (``ema=``),
# and the mean :math:`\bar{\mathbf{w}}` that truncation pulls towards is computed afresh from
# those averaged weights (:meth:`~gdl.gan.StyleGAN.estimate_w_avg`).
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.gan import StyleGAN

LEVELS = 4
LATENT_DIM = 32
WIDTH = 32
STEPS = 300
EMA = 0.98  # sample from an average of the weights over the last ~50 steps
BATCH_SIZE = 16
LR = 2e-3
NUM_SAMPLES = 1000

x_train = data.fashion_mnist("train", levels=LEVELS)[0][:20_000]
x_test = data.fashion_mnist("test", levels=LEVELS)[0]
model = StyleGAN(event_shape=(1, 28, 28), num_levels=LEVELS, latent_dim=LATENT_DIM, width=WIDTH)
print(f"StyleGAN: {model.num_parameters():,} parameters, {model.num_ws} layers with a style")
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=100)
model.estimate_w_avg()  # the centre of the averaged mapping network, not the running one
result = gdl.results.record("StyleGAN", model, dataset="fashion-mnist", history=history,
                            num_samples=NUM_SAMPLES)
gdl.plot.data_and_samples(x_test, result.samples, levels=LEVELS, model="the style-based generator",
                          data_title="Test garments")
plt.show()

# %%
# Style mixing
# ------------
# Each row takes the styles of the coarse layers (7×7 and 14×14) from the image at its left,
# each column the styles of the fine 28×28 layers from the image above it. Coarse styles set the
# garment's kind and outline; fine ones its shading.
CROSSOVER = 3  # layers 0-2 coarse, 3-4 fine
gdl.seed_everything(3)
with torch.no_grad():
    w_rows, w_cols = model.mapping(model.prior().sample((5,))), model.mapping(model.prior().sample((6,)))
    grid = [model.synthesize(model.mix(w_rows[i].expand(6, -1), w_cols, CROSSOVER), noise_mode="const")
            for i in range(5)]
    rows = model.synthesize(model.broadcast(w_rows), noise_mode="const")
    cols = model.synthesize(model.broadcast(w_cols), noise_mode="const")
blank = torch.full_like(rows[:1], -1.0)
table = torch.cat([blank, cols] + [torch.cat([rows[i : i + 1], grid[i]]) for i in range(5)])  # (42, 1, 28, 28)
fig, ax = plt.subplots(figsize=(6, 6))
gdl.plot.image_grid(model.to_data_scale(table), nrow=7, levels=LEVELS, ax=ax,
                    title="Coarse styles from the left column, fine styles from the top row")
plt.show()

# %%
# Truncation: quality against variety
# ------------------------------------
# Moving every :math:`\mathbf{w}` towards the mean,
# :math:`\mathbf{w}' = \bar{\mathbf{w}} + \psi(\mathbf{w} - \bar{\mathbf{w}})`, keeps samples where
# the generator is at its best. Precision (the share of samples that land near real images)
# should rise as :math:`\psi` falls, and recall (the share of real images near some sample)
# fall: at :math:`\psi = 0` every sample is the same mean garment. The rise in precision needs
# typical images that are good: the last weights of a short run still circle their target, and
# the averaged ones are the steadier generator. Every :math:`\psi` truncates the same 1000 codes.
PSIS = [1.0, 0.75, 0.5]
scores = []
for psi in PSIS:
    gdl.seed_everything(0)
    q = gdl.quality.sample_quality(model.sample(NUM_SAMPLES, psi=psi), "fashion-mnist", num_levels=LEVELS)
    scores.append(q)
    print(f"psi {psi:.2f}: precision {q['precision']:.3f}, recall {q['recall']:.3f}, FD {q['fd']:.1f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].plot(PSIS, [q["precision"] for q in scores], "o-", label="precision")
axes[0].plot(PSIS, [q["recall"] for q in scores], "s-", label="recall")
axes[0].set(xlabel=r"truncation $\psi$", ylabel="k-NN precision / recall", title=r"The $\psi$ sweep")
axes[0].invert_xaxis()
axes[0].legend()
gdl.seed_everything(5)
z = model.prior().sample((8,))
with torch.no_grad():
    sweep = torch.cat([model.to_data_scale(model.synthesize(model.broadcast(model.mapping(z, psi=psi)),
                                                             noise_mode="const"))
                       for psi in (1.0, 0.7, 0.5, 0.3, 0.0)])
gdl.plot.image_grid(sweep, nrow=8, levels=LEVELS, ax=axes[1], title=r"Rows: $\psi$ = 1, 0.7, 0.5, 0.3, 0")
plt.show()

# %%
# Variation from the noise alone
# ------------------------------
# One :math:`\mathbf{w}` per row, eight draws of the per-layer noise. The right column is the
# per-pixel standard deviation over 16 draws: the noise moves edges and texture, not the garment.
gdl.seed_everything(7)
with torch.no_grad():
    ws = model.broadcast(model.mapping(model.prior().sample((4,))))
    draws = torch.stack([model.to_data_scale(model.synthesize(ws)) for _ in range(16)])  # (16, 4, 1, 28, 28)
spread = draws.std(0)  # (4, 1, 28, 28)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [8, 1.3]})
gdl.plot.image_grid(draws[:8].transpose(0, 1).reshape(-1, 1, 28, 28), nrow=8, levels=LEVELS, ax=axes[0],
                    title="Same style, different noise")
gdl.plot.image_grid(spread / spread.max() * (LEVELS - 1), nrow=1, levels=LEVELS, ax=axes[1], title="Std")
plt.show()

# %%
# What to try
# -----------
# ``CROSSOVER = 1`` (only the 7×7 layer from the left column); ``mixing_prob=0`` and compare the
# mixing grid; ``r1_gamma=0``; ``EMA = None`` (the last weights) and compare the :math:`\psi`
# sweep; more ``STEPS``.
