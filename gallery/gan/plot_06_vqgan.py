r"""
VQ-GAN on Fashion-MNIST
=======================

A VQ-VAE trained on the likelihood of each pixel reconstructs what it is sure of and hedges on
the rest. VQ-GAN keeps the same encoder, codebook and decoder and adds two terms once the
autoencoder has warmed up: a perceptual distance :math:`d` between classifier features of the
image and of its reconstruction, and a patch discriminator's verdict, weighted so that its
gradient at the decoder's last layer matches the reconstruction's:

.. math::

    \mathcal{L} = \underbrace{-\log p(x \mid z_q) + w_p N\, d(x, \hat x)}_{\mathcal{L}_\text{rec}}
    + \mathcal{L}_\text{VQ} + \lambda\, \mathcal{L}_\text{GAN}, \qquad
    \lambda = \frac{\lVert \nabla_{w_L} \mathcal{L}_\text{rec} \rVert}
    {\lVert \nabla_{w_L} \mathcal{L}_\text{GAN} \rVert + \delta}.

A transformer over the grids of code indices is then the prior that generates.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 4  # samples from the GPT prior

# %%
# Data and the warm-up
# --------------------
# Fashion-MNIST at 4 grey levels. Two stride-2 layers give a :math:`7 \times 7` grid of codes
# from a codebook of ``NUM_CODES`` vectors. Before the discriminator starts, a VQ-GAN step is
# exactly a VQ-VAE step, so both models share one warm-up: a VQ-VAE trained for ``WARMUP``
# steps. From there one copy goes on as a VQ-VAE and one as a VQ-GAN, for ``STEPS`` steps each.
import copy

import matplotlib.pyplot as plt

import gdl
from gdl import data
from gdl.gan import VQGAN
from gdl.latent import VQVAE

LEVELS = 4
NUM_CODES = 8
CODE_DIM = 8
HIDDEN = 16
N_TRAIN = 12_000
N_TEST = 1_000
WARMUP = 250
STEPS = 80
BATCH_SIZE = 32
LR = 2e-3
PERCEPTUAL_WEIGHT = 0.3  # w_p
ADVERSARIAL_WEIGHT = 0.1  # w_a, a factor on the adaptive weight (see the end of the page)

x_train = data.fashion_mnist("train", levels=LEVELS)[0][:N_TRAIN]
x_test = data.fashion_mnist("test", levels=LEVELS)[0][:N_TEST]

warm = VQVAE(event_shape=(1, 28, 28), num_levels=LEVELS, num_codes=NUM_CODES, code_dim=CODE_DIM,
             hidden=HIDDEN, downsample=2, prior_hidden=8, prior_blocks=1)
gdl.fit(warm, x_train, steps=WARMUP, batch_size=BATCH_SIZE, lr=LR, log_every=0, cache=True)

# %%
# Two ways on
# -----------
# The perceptual distance compares the feature maps of gdl's own Fashion-MNIST classifier
# (:func:`gdl.quality.feature_network`, no VGG download); the discriminator judges
# overlapping patches with the hinge loss.
vqvae = copy.deepcopy(warm)
history_vae = gdl.fit(vqvae, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=0, cache=True)

features = gdl.quality.feature_network("fashion-mnist", num_levels=LEVELS)
vqgan = VQGAN(copy.deepcopy(warm), disc_start=0, disc_hidden=16, perceptual_network=features,
              perceptual_weight=PERCEPTUAL_WEIGHT, adversarial_weight=ADVERSARIAL_WEIGHT)
history = gdl.fit(vqgan, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=0, cache=True)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
gdl.plot.logged(history, {"loss": "discriminator (hinge)"}, ax=axes[0], smooth=10,
                title="The discriminator's loss", ylabel="loss")
gdl.plot.logged(history, {"adaptive_weight": "λ"}, ax=axes[1], smooth=10,
                title="The adaptive weight", ylabel="λ")
plt.show()

# %%
# Reconstructions
# ---------------
# Both decoders see only the 49 code indices of each test garment. The Fréchet distance on gdl
# features scores the reconstructions of the first ``N_TEST`` test images against the test set
# (lower is better). The perceptual loss uses the same classifier's convolutional feature maps,
# not the pooled features the distance compares, but the two are not independent.
scores = {}
for name, model in (("VQ-VAE", vqvae), ("VQ-GAN", vqgan)):
    quality = gdl.quality.sample_quality(model.reconstruct(x_test), "fashion-mnist", num_levels=LEVELS)
    scores[name] = {"fd": quality["fd"], **model.code_usage(x_test)}
    print(f"{name}: reconstructions FD {quality['fd']:.2f}; code perplexity "
          f"{scores[name]['perplexity']:.1f} of {NUM_CODES}")

originals = x_test[:16]
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
gdl.plot.image_grid(originals, nrow=4, levels=LEVELS, ax=axes[0], title="Test images")
for ax, (name, model) in zip(axes[1:], (("VQ-VAE", vqvae), ("VQ-GAN", vqgan))):
    gdl.plot.image_grid(model.reconstruct(originals), nrow=4, levels=LEVELS, ax=ax,
                        title=f"{name} (FD {scores[name]['fd']:.1f})")
fig.suptitle(f"Reconstructions from 7×7 codes, {NUM_CODES} code vectors")
plt.show()

# %%
# Code usage
# ----------
# Perplexity :math:`\exp H` of the code frequencies is the number of codes in effective use.
fig, ax = plt.subplots(figsize=(7, 3))
width = 0.4
for i, name in enumerate(scores):
    counts = scores[name]["counts"].numpy()
    ax.bar([k + (i - 0.5) * width for k in range(NUM_CODES)], counts, width,
           label=f"{name} (perplexity {scores[name]['perplexity']:.1f})")
ax.set(title="Code usage on the test images", xlabel="code index k", ylabel="grid positions")
ax.legend(frameon=False)
plt.show()

# %%
# A transformer over the codes
# ----------------------------
# Each garment becomes a sequence of 49 tokens (code :math:`k` is token :math:`k + 1`; 0 is the
# boundary) and :class:`gdl.GPT` learns them. Sampling draws 49 tokens, never the boundary,
# and the VQ-GAN's decoder turns them into an image.
tokens = vqgan.tokens(x_train)  # (N, 49)
prior = gdl.GPT(vocab_size=NUM_CODES + 1, block_size=tokens.shape[1], n_layer=2, n_head=2, n_embd=32)
gdl.fit(prior, tokens, steps=150, batch_size=64, lr=3e-3, log_every=0, cache=True)
vqgan.attach_prior(prior)
result = gdl.results.record("VQ-GAN (GPT prior)", vqgan, dataset="fashion-mnist", history=history,
                            num_samples=500, sample_kwargs={"mode": True},
                            note=f"{WARMUP} VQ-VAE warm-up + {STEPS} VQ-GAN steps; decoder mode")
gdl.plot.image_grid(result.samples[:64], levels=LEVELS, title="Samples: GPT codes, VQ-GAN decoder")
plt.show()

# %%
# What to try
# -----------
# ``ADVERSARIAL_WEIGHT = 1`` (the adaptive weight alone): in a phase of only ``STEPS`` steps the
# discriminator at full weight made the reconstructions worse here, not sharper, and so did the
# discriminator without the perceptual term (``perceptual_network=None``); the paper runs
# hundreds of thousands of steps. ``NUM_CODES = 32`` for finer codes; more steps and a wider
# ``n_embd`` for the GPT prior, whose samples are far from the data at this budget.
