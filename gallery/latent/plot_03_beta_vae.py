r"""
β-VAE latent traversals on digits
=================================

A β-VAE multiplies the KL term of the loss by :math:`\beta`,

.. math::

    \text{loss}(\mathbf{x}) = -\mathbb{E}_{q(\mathbf{z}\mid\mathbf{x})}
    [\log p(\mathbf{x}\mid\mathbf{z})]
    + \beta\,\mathrm{KL}(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z})).

With :math:`\beta > 1` each nat of information in the code costs more, so the model keeps
fewer, more independent latent dimensions. Moving along one latent at a time (a *traversal*)
shows what each dimension has learned.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_thumbnail_number = 2  # the model's samples

# %%
# Two models, β = 1 and β = 4
# ---------------------------
# Same architecture, data and seed; only :math:`\beta` differs. Both report the true ELBO
# (:math:`\beta = 1`), so their bounds compare fairly.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.latent import BetaVAE

BETAS = (1.0, 4.0)
LATENT_DIM = 8
HIDDEN = (256, 256)
DROPOUT = 0.0  # dropout on top of β > 1 switches every latent off (posterior collapse)
STEPS = 3_000  # an upper bound; early stopping on the validation loss ends sooner
BATCH_SIZE = 64
LR = 1e-3
PATIENCE = 40
TRAVERSED = 4  # latent dimensions shown, those with the largest KL
VALUES = torch.linspace(-2.5, 2.5, 9)  # values each traversed latent takes

x_train, _ = data.digits("train")
x_val, _ = data.digits("val")
x_test, _ = data.digits("test")

models = {}
for beta in BETAS:
    model = BetaVAE(
        beta=beta, event_shape=(1, 8, 8), num_levels=17, latent_dim=LATENT_DIM, hidden=HIDDEN, dropout=DROPOUT
    )
    # Early stopping watches the validation -ELBO, the same yardstick for both models.
    gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=1_000,
            val_data=x_val, eval_every=16, patience=PATIENCE)
    models[beta] = model

# %%
# How much each latent is used
# ----------------------------
# The KL of one dimension, averaged over the test set, is the information (in nats) the code
# carries in it. Dimensions with KL near zero are switched off: the encoder returns the prior.
fig, ax = plt.subplots(figsize=(7, 3.5))
kl_per_dim = {}
for i, (beta, model) in enumerate(models.items()):
    with torch.no_grad():
        q = model.encode(x_test).base_dist  # Normal with batch shape (N, LATENT_DIM)
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean(0)
        neg_elbo = -model.elbo(x_test).mean().item()
    kl_per_dim[beta] = kl
    print(f"beta={beta:g}: test -ELBO {neg_elbo:.2f} nats/image, KL {kl.sum():.2f} nats, "
          f"{int((kl > 0.1).sum())} active latents")
    ax.bar(torch.arange(LATENT_DIM) + 0.4 * i - 0.2, kl, width=0.4, label=f"β = {beta:g}")
ax.set(title="KL per latent dimension (test set)", xlabel="latent dimension", ylabel="KL (nats)")
ax.legend()
plt.show()

# %%
# Traversals
# ----------
# Start from the code of one test image, set one latent dimension to each of nine values
# from :math:`-2.5` to :math:`2.5`, keep the others fixed, and decode the most likely image.
# Each row is one dimension, the most informative first.
z0_image = x_test[:1]
fig, axes = plt.subplots(1, len(BETAS), figsize=(10, 3.2))
for ax, (beta, model) in zip(axes, models.items()):
    with torch.no_grad():
        z0 = model.encode(z0_image).mean  # (1, LATENT_DIM)
        dims = kl_per_dim[beta].argsort(descending=True)[:TRAVERSED]
        z = z0.repeat(TRAVERSED, len(VALUES), 1)  # (TRAVERSED, len(VALUES), LATENT_DIM)
        for row, d in enumerate(dims):
            z[row, :, d] = VALUES
        images = model.decode(z.reshape(-1, LATENT_DIM)).mode  # (TRAVERSED * len(VALUES), 1, 8, 8)
    gdl.plot.image_grid(images, nrow=len(VALUES), levels=17, ax=ax, title=f"Traversals, β = {beta:g}")
    ax.set(xlabel="latent value from -2.5 to 2.5", ylabel="latent dimension (most used on top)")
plt.show()

# %%
# What to try
# -----------
# Raise :math:`\beta` to 10 and count the active latents; train on Fashion-MNIST
# (``data.fashion_mnist(levels=4)``) and traverse the dimensions that survive.
