r"""
A tiny CLIP on captioned Fashion-MNIST
======================================

CLIP (Radford et al., 2021) learns from pairs of an image and its caption, with no labels.
An image encoder :math:`f` and a text encoder :math:`g` map both to unit vectors, and the
symmetric contrastive loss asks each image of a batch to pick out its own caption among the
:math:`B` captions of the batch, and each caption its own image:

.. math::

    L = \frac{1}{2B}\sum_{i}\Big[-\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
    - \log\frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\Big],\qquad
    s_{ij} = f(\mathbf{x}_i)^\top g(\mathbf{y}_j)/\tau .

A classifier then comes for free: write one prompt per class and pick the closest.
"""
# sphinx_gallery_gdl_budget = 15
# sphinx_gallery_thumbnail_number = 2

# %%
# Captions
# --------
# Every training image gets a sentence that names the garment and says whether it is dark or
# light and small or large for its kind, read from the pixels: ``"a dark small sneaker"``.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.multimodal import CLIP

NUM_TRAIN = 20_000
STEPS = 500
WIDTH = 16  # channels of the image encoder's first convolution
BATCH_SIZE = 256
LR = 2e-3

x_train, y_train_text, _ = data.captioned_fashion_mnist("train")
x_test, t_test, y_test = data.captioned_fashion_mnist("test")
x_train, y_train_text = x_train[:NUM_TRAIN], y_train_text[:NUM_TRAIN]
for i in range(4):
    print(data.detokenize(y_train_text[i]))

# %%
# Training
# --------
# The temperature :math:`\tau` is learned too (through :math:`\log 1/\tau`, clamped at
# :math:`1/\tau \le 100`). Many captions repeat within a batch (there are only 40 different
# ones), so some "negatives" are in fact positives: the loss cannot reach zero, and it does
# not need to.
clip = CLIP(image_shape=(1, 28, 28), num_levels=256, width=WIDTH)
print(f"CLIP: {clip.num_parameters():,} parameters")
history = gdl.fit(clip, (x_train, y_train_text), steps=STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=200,
                  cache=True)
print(f"learned temperature: {1 / clip.logit_scale.item():.3f}")

# %%
# Which caption fits which image?
# -------------------------------
# One test image of each class against the ten captions of those images: the diagonal should
# stand out. Off the diagonal, the brighter cells pair garments of similar shape.
first = torch.stack([torch.nonzero(y_test == k)[0, 0] for k in range(10)])
sim = clip.eval().similarity(x_test[first], t_test[first])
fig, ax = plt.subplots(figsize=(7, 6))
ax.imshow(sim, cmap="viridis")
ax.set_xticks(range(10), [data.detokenize(t) for t in t_test[first]], rotation=60, ha="right")
ax.set_yticks(range(10), [data.FASHION_WORDS[k] for k in range(10)])
ax.set(title="Cosine similarity of test images (rows) and their captions (columns)")
for i in range(10):
    for j in range(10):
        ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=6, color="w")
plt.show()

# %%
# Zero-shot classification
# ------------------------
# The prompts of class :math:`k` are the four captions ``"a {dark|light} {small|large} k"``;
# their embeddings are averaged (prompt ensembling) and each test image goes to the closest
# class. No label was used in training.
prompts = torch.stack([
    data.tokenize([data.caption(name, b, s) for b in ("dark", "light") for s in ("small", "large")])
    for name in data.FASHION_WORDS
])  # (10 classes, 4 prompts, tokens)
predicted = clip.zero_shot(x_test, prompts)
accuracy = (predicted == y_test).float().mean().item()
print(f"zero-shot accuracy on the {len(x_test):,} test images: {accuracy:.3f}")
confusion = torch.zeros(10, 10)
confusion.index_put_((y_test, predicted), torch.ones(len(y_test)), accumulate=True)
confusion /= confusion.sum(1, keepdim=True)
fig, ax = plt.subplots(figsize=(6.5, 5.5))
ax.imshow(confusion, cmap="Blues", vmin=0, vmax=1)
ax.set_xticks(range(10), data.FASHION_WORDS, rotation=60, ha="right")
ax.set_yticks(range(10), data.FASHION_WORDS)
ax.set(xlabel="predicted from prompts", ylabel="true class",
       title=f"Zero-shot confusion matrix (accuracy {accuracy:.1%})")
for i in range(10):
    for j in range(10):
        if confusion[i, j] >= 0.01:
            ax.text(j, i, f"{confusion[i, j]:.2f}", ha="center", va="center", fontsize=6)
plt.show()

# %%
# What to try
# -----------
# Prompt with a single template (``"a sneaker"``) instead of the ensemble; shrink the batch
# and watch the repeated captions hurt; fix the temperature at 1 and see training slow down.
