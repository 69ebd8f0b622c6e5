r"""
Text to image through CLIP: latent diffusion and a DALL·E 2-style prior
=======================================================================

Two ways to draw what a caption says, both built on parts trained elsewhere and kept frozen:
the tiny CLIP of the first example and the 2-D VAE of Fashion-MNIST from chapter 3.

* **Latent diffusion** (Stable Diffusion; Rombach et al., 2022): a diffusion over the VAE's
  codes :math:`\mathbf{z}_0 = \boldsymbol\mu_\phi(\mathbf{x})/s`, conditioned on CLIP's text
  embedding :math:`g(\mathbf{y})` of the caption and sampled with classifier-free guidance,
  then decoded.
* **unCLIP** (DALL·E 2; Ramesh et al., 2022): a *prior* diffusion draws a CLIP image
  embedding given the text embedding, and a *decoder*, the same latent diffusion conditioned
  on image embeddings :math:`f(\mathbf{x})` instead, draws an image given that embedding:

.. math::

    \mathbf{y} \xrightarrow{\;g\;} \mathbf{v}
    \xrightarrow{\;p(\mathbf{u}\mid\mathbf{v})\;} \mathbf{u}
    \xrightarrow{\;p(\mathbf{z}\mid\mathbf{u})\;} \mathbf{z}
    \xrightarrow{\;\text{VAE decoder}\;} \mathbf{x}.
"""
# sphinx_gallery_gdl_budget = 18
# sphinx_gallery_thumbnail_number = 1  # samples per prompt
# sphinx_gallery_gdl_after = "plot_01_clip.py, latent/plot_02_vae_fashion.py"

# %%
# The frozen parts
# ----------------
# Same settings, seed and initial weights as in the examples that train them, so
# :func:`gdl.fit` loads both from its cache of trained weights (run on its own, this script
# trains them first). The VAE's codes are two numbers per image at 4 grey levels: a very small
# "latent space", which keeps every diffusion here a few seconds of training.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import DiffusionPrior, LatentDiffusion
from gdl.latent import VAE
from gdl.multimodal import CLIP

LEVELS = 4  # the VAE's grey levels
NUM_TRAIN = 10_000  # the VAE's training images, which the diffusions train on too
HIDDEN = (128, 128)
STEPS = 1_000
BATCH_SIZE = 256
LR = 2e-3
SAMPLING_STEPS = 25  # DDIM, deterministic
GUIDANCE = 2.0
NUM_SAMPLES = 500  # per route, to count how often the classifier reads the prompt's garment

clip = CLIP(image_shape=(1, 28, 28), num_levels=256, width=16)  # as in plot_01_clip.py
x256, t256, _ = data.captioned_fashion_mnist("train")
gdl.fit(clip, (x256[:20_000], t256[:20_000]), steps=500, batch_size=256, lr=2e-3, log_every=0, cache=True)

torch.manual_seed(gdl.train.default_seed())  # the RNG as at the start of plot_02_vae_fashion.py
vae = VAE(event_shape=(1, 28, 28), num_levels=LEVELS, latent_dim=2, hidden=(256, 128))
x_train, t_train, y_train = (t[:NUM_TRAIN] for t in data.captioned_fashion_mnist("train", levels=LEVELS))
gdl.fit(vae, x_train, steps=1_500, batch_size=128, lr=2e-3, log_every=0, cache=True)

# %%
# Training the three diffusions
# -----------------------------
# The frozen parts turn the data set into vectors once: VAE codes (scaled to unit spread),
# text embeddings and image embeddings. Each diffusion then trains on vectors only, with the
# condition dropped one time in ten.
with torch.no_grad():
    scale = vae.encode(x_train).mean.std().item()
text_to_image = LatentDiffusion(vae, clip, condition="text", scale=scale, hidden=HIDDEN)
decoder = LatentDiffusion(vae, clip, condition="image", scale=scale, hidden=HIDDEN)
prior = DiffusionPrior(clip, scale=clip.text_encoder.proj.out_features ** -0.5, hidden=HIDDEN)
x_clip = x_train * (255 // (LEVELS - 1))  # the 4-level images on CLIP's 256 levels
settings = dict(steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=0)
for name, model, images in (("latent diffusion | text", text_to_image, x_train),
                            ("decoder | image embedding", decoder, x_train),
                            ("prior | text embedding", prior, x_clip)):
    history = gdl.fit(model.diffusion, model.encode(images, t_train), **settings)
    print(f"{name:26}: {model.num_parameters():,} parameters, final loss {sum(history.train_loss[-50:]) / 50:.3f}")

# %%
# Samples per prompt
# ------------------
# Eight samples of each prompt by each route, at guidance weight :math:`w = 2`. Prompts
# combine the garment with its brightness and size, as the captions did.
show = [data.caption(*p) for p in (("trouser", "dark", "small"), ("trouser", "light", "large"),
                                   ("sneaker", "dark", "small"), ("bag", "light", "large"),
                                   ("ankle boot", "dark", "large"), ("dress", "light", "small"))]
tokens = data.tokenize(show).repeat_interleave(8, dim=0)
torch.manual_seed(0)
by_text = text_to_image.sample(tokens=tokens, guidance=GUIDANCE, steps=SAMPLING_STEPS)
by_prior = decoder.sample(condition=prior.sample(tokens, guidance=GUIDANCE, steps=SAMPLING_STEPS),
                          guidance=GUIDANCE, steps=SAMPLING_STEPS)
fig, axes = plt.subplots(1, 2, figsize=(11, 6))
gdl.plot.image_grid(by_text, nrow=8, levels=LEVELS, ax=axes[0], title="Latent diffusion on the text embedding")
gdl.plot.image_grid(by_prior, nrow=8, levels=LEVELS, ax=axes[1], title="Prior, then decoder (unCLIP)")
fig.suptitle("Rows: " + "; ".join(show), fontsize=9)
plt.show()

# %%
# Does the image show the garment the prompt asks for?
# ----------------------------------------------------
# The prompt's garment against what gdl's Fashion-MNIST classifier (the one behind
# :func:`gdl.quality.sample_quality`) reads in the sample, over 500 samples of all 40
# captions. For reference, the same classifier on the VAE's reconstructions of test images:
# the decoder cannot do better than the codes it decodes.
classifier = gdl.quality.feature_network("fashion-mnist", num_levels=LEVELS)


def agreement(images, labels):
    with torch.no_grad():
        return (classifier(images.float() / (LEVELS - 1)).argmax(1) == labels).float().mean().item()


x_test, _, y_test = (t[:2000] for t in data.captioned_fashion_mnist("test", levels=LEVELS))
print(f"classifier on test images: {agreement(x_test, y_test):.3f}, "
      f"on their VAE reconstructions: {agreement(vae.reconstruct(x_test), y_test):.3f}")
prompts = [(k, data.caption(name, b, s)) for k, name in enumerate(data.FASHION_WORDS)
           for b in ("dark", "light") for s in ("small", "large")]
pick = torch.arange(NUM_SAMPLES) % len(prompts)
requested = torch.tensor([prompts[i][0] for i in pick])
tokens = data.tokenize([prompts[i][1] for i in pick])
routes = {}
for w in (0.0, GUIDANCE):
    torch.manual_seed(1)
    routes[f"latent diffusion, w = {w:g}"] = text_to_image.sample(tokens=tokens, guidance=w, steps=SAMPLING_STEPS)
    torch.manual_seed(1)
    u = prior.sample(tokens, guidance=w, steps=SAMPLING_STEPS)
    routes[f"prior + decoder, w = {w:g}"] = decoder.sample(condition=u, guidance=w, steps=SAMPLING_STEPS)
for name, images in routes.items():
    print(f"{name:26}: classifier agrees with the prompt on {agreement(images, requested):.3f}")

# %%
# What to try
# -----------
# Give the VAE more than two code dimensions (it trains for longer) and watch both routes
# sharpen; sample the decoder with the *true* image embedding of a test image (a variation of
# that image, DALL·E 2's "variations"); drop the prior and feed the decoder the text embedding
# directly, and see how far CLIP's text and image embeddings are from each other.
