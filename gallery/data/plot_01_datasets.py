"""
The data sets
=============

Every model on this site learns from data that ships inside an installed package, so the
site builds without a network. :mod:`gdl.data` returns each split as tensors ``(x, y)``.
"""
# sphinx_gallery_gdl_budget = 9

# %%
# Digits: 8×8 images with 17 grey levels
# ---------------------------------------
# scikit-learn's 1797 handwritten digits, split in file order into 1000 training, 350
# validation and 447 test images. Pixels are integers from 0 to 16, so a model of them is a
# model of a *discrete* distribution over :math:`17^{64}` possible images.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data

for split in ("train", "val", "test"):
    x, y = data.digits(split)
    print(f"{split:5}: x {tuple(x.shape)} {x.dtype}, values {int(x.min())}..{int(x.max())}")

x, y = data.digits("train")
gdl.plot.image_grid(x[:64], levels=data.DIGITS_LEVELS, title="The first 64 training digits")
plt.show()

# %%
# How often each grey level appears
# ---------------------------------
# Most pixels are background (0) or full ink (16): a model must put mass on the extremes
# without forgetting the levels in between.
counts = torch.bincount(x.flatten(), minlength=data.DIGITS_LEVELS)
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(range(data.DIGITS_LEVELS), counts / counts.sum())
ax.set(title="Grey levels in the training digits", xlabel="pixel value", ylabel="frequency")
plt.show()

# %%
# Fashion-MNIST: 28×28 clothes
# ----------------------------
# 70 000 greyscale images of ten kinds of garment, read from the files of Debian's
# ``dataset-fashion-mnist`` package.
xf, yf = data.fashion_mnist("test")
print(f"test: x {tuple(xf.shape)}, {len(data.FASHION_CLASSES)} classes")
fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
for k, ax in enumerate(axes):
    gdl.plot.image_grid(xf[yf == k][:4], nrow=2, levels=256, ax=ax, title=data.FASHION_CLASSES[k])
fig.suptitle("Four test images of each Fashion-MNIST class")
plt.show()

# %%
# 2-D toy sets
# ------------
# Small enough to draw a density on a grid, and shaped to trouble simple models: separate
# modes, thin curved branches, sharp edges.
fig, axes = plt.subplots(1, len(data.TOY_SETS), figsize=(15, 3.2))
for ax, name in zip(axes, data.TOY_SETS):
    pts, _ = data.toy_2d(name, 2000, seed=0)
    gdl.plot.scatter_2d(pts, ax=ax, title=name)
plt.show()

# %%
# What to try
# -----------
# Fashion-MNIST with ``levels=4``: how much of each garment survives four grey levels?
