r"""
VAE and hierarchical VAE on digits
==================================

A variational autoencoder explains each image :math:`\mathbf{x}` by a code
:math:`\mathbf{z}\sim\mathcal{N}(\mathbf{0},\mathbf{I})` and learns an encoder
:math:`q(\mathbf{z}\mid\mathbf{x})` alongside the decoder. Training maximises the ELBO,

.. math::

    \log p(\mathbf{x}) \;\ge\; \mathbb{E}_{q(\mathbf{z}\mid\mathbf{x})}
    [\log p(\mathbf{x}\mid\mathbf{z})]
    - \mathrm{KL}(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z})).

gdl's decoder is a categorical distribution over the 17 grey levels of each pixel, so the
ELBO bounds the probability of the *discrete* image and sits on the same scale as the
autoregressive models' exact likelihoods. Here each pixel's categorical comes from a
discretised mixture of three logistics: neighbouring grey levels get similar
probabilities, which free logits would have to learn from 1000 images.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Data and models
# ---------------
# The standard digits split: 1000 training, 350 validation and 447 test images. A VAE with
# one Gaussian code, and a hierarchical VAE with two stochastic layers,
# :math:`p(\mathbf{z}_2)\,p(\mathbf{z}_1\mid\mathbf{z}_2)\,p(\mathbf{x}\mid\mathbf{z}_1)`.
import matplotlib.pyplot as plt

import gdl
from gdl import data
from gdl.latent import VAE, HierarchicalVAE

LATENT_DIM = 8
LATENT_DIMS = (16, 8)  # z1, z2 of the hierarchical VAE
DECODER = "logistic"  # a discretised mixture of logistics per pixel; or "categorical"
HIDDEN = (512,)  # one hidden layer in every encoder and decoder: two overfit more here
DROPOUT = 0.5  # 1000 training images overfit fast; dropout delays it
STEPS = 6_000  # an upper bound; early stopping ends sooner
BATCH_SIZE = 64
LR = 1.5e-3
EMA = 0.997  # the moving average of the weights is what is validated and kept
EVAL_EVERY = 16  # about one pass over the training set
PATIENCE = 12
K = 512  # importance samples for the IWAE estimate

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")


common = dict(event_shape=(1, 8, 8), num_levels=17, decoder=DECODER, hidden=HIDDEN, dropout=DROPOUT)
vae = VAE(latent_dim=LATENT_DIM, **common)
hvae = HierarchicalVAE(latent_dims=LATENT_DIMS, **common)
print(f"VAE: {vae.num_parameters():,} parameters; HVAE: {hvae.num_parameters():,}")

# %%
# Training on the negative ELBO
# -----------------------------
# Each step draws one reparameterised code per image,
# :math:`\mathbf{z} = \boldsymbol\mu + \boldsymbol\sigma\odot\boldsymbol\epsilon`, so the
# gradient flows into the encoder. The validation :math:`-\text{ELBO}` of a moving average of
# the weights (Polyak averaging, ``ema=``) decides when to stop; the average is smoother
# than the last step's weights and generalises better.
histories = {}
for name, model in [("VAE", vae), ("Hierarchical VAE", hvae)]:
    histories[name] = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                              eval_every=EVAL_EVERY, patience=PATIENCE, log_every=1_000, ema=EMA)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, (name, history) in zip(axes, histories.items()):
    gdl.plot.training_curves(history, ax=ax, title=name, ylabel="-ELBO (nats/image)")
axes[0].set_ylim(80, 140)
plt.show()

# %%
# Test bounds: the ELBO and the IWAE estimate
# -------------------------------------------
# The ELBO is a bound: the true :math:`-\log p(\mathbf{x})` is lower by the KL gap from the
# encoder to the true posterior. Averaging :math:`k=512` importance weights,
# :math:`\log\frac{1}{k}\sum_i p(\mathbf{x},\mathbf{z}_i)/q(\mathbf{z}_i\mid\mathbf{x})`,
# closes most of that gap (Burda et al., 2016). It is still a bound in expectation, but
# from one finite sample we report it as an *estimate* of the likelihood.
for name, model in [("VAE", vae), ("Hierarchical VAE", hvae)]:
    gdl.results.record(f"{name} (−ELBO)", model, x_test, history=histories[name])
    neg_iwae = -model.iwae_bound(x_test, k=K).mean().item()
    gdl.results.record(f"{name} (IWAE, k={K})", model, history=histories[name], nll=neg_iwae,
                       kind="estimate", num_samples=0)

# %%
# Reconstructions and samples
# ---------------------------
# Reconstructions decode the posterior mean to the most likely grey level of each pixel.
# Samples draw :math:`\mathbf{z}` from the prior and every pixel independently from
# :math:`p(\mathbf{x}\mid\mathbf{z})`, which makes them grainy; the decoder's mode is smooth.
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
gdl.plot.image_grid(x_test[:36], levels=17, ax=axes[0], title="Test images")
gdl.plot.image_grid(vae.reconstruct(x_test[:36]), levels=17, ax=axes[1], title="VAE reconstructions")
gdl.plot.image_grid(vae.sample(36), levels=17, ax=axes[2], title="VAE samples")
gdl.plot.image_grid(vae.sample(36, mode=True), levels=17, ax=axes[3], title="VAE decoder modes")
plt.show()

# %%
# What to try
# -----------
# Set ``DECODER = "categorical"`` (free logits for every grey level) and the VAE's test bound
# loses about four nats to overfitting. Give the networks a second hidden layer,
# ``HIDDEN = (512, 512)``: it trains twice as long and ends about a nat and a half worse. Set
# ``DROPOUT = 0`` and watch the gap between training and validation ELBO grow. Change
# ``LATENT_DIM``: a larger code lowers the reconstruction term but raises the KL. Raise ``K``
# and watch the IWAE estimate creep down towards :math:`-\log p(\mathbf{x})`.
