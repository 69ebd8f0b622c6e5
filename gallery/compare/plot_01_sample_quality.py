r"""
Sample quality of every family
==============================

Likelihoods rank the models that have one; a GAN has none, and a good likelihood does not
promise good-looking samples. This page puts every model that drew digits on one scale: the
Fréchet distance between gdl features of 1000 samples and of the 447 test digits
(:func:`gdl.metrics.sample_quality`), where the features are the penultimate layer of a small
classifier that gdl trains on the training digits. It is the second column of the
:doc:`leaderboard </leaderboard>`.

Time budget: 60 s.
"""

# %%
# The scores recorded by the gallery
# ----------------------------------
# Every gallery script that passes its samples to :func:`gdl.metrics.record` leaves a row
# with a ``sample_quality`` entry; this section runs last, so all of them are in. Outside
# the docs build there are none, and only the reference rows below appear.
import os

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data

torch.set_num_threads(1)
NUM_SAMPLES = 1000
SEEDS = (0, 1, 2)

folder = os.environ.get(gdl.metrics.RESULTS_ENV)
rows = gdl.metrics.load_results(folder) if folder and os.path.isdir(folder) else []
scores = {
    r["model"]: r["sample_quality"]
    for r in rows
    if r["dataset"] == "digits" and r.get("sample_quality")
}
print(f"{len(scores)} models recorded sample quality on the digits")

# %%
# Reference points
# ----------------
# Three sample sets without a model tell what the numbers mean. *Real digits*: 1000 images
# drawn with replacement from the training and validation splits (the floor: finite samples
# keep even real data above zero). *Real + noise*: the same with Gaussian noise of standard
# deviation 3 grey levels. *Independent pixels*: each pixel drawn from its own marginal, which
# has the right grey levels in the right places but no strokes. Each is drawn with three seeds
# to show the spread.
x_real = torch.cat([data.digits("train")[0], data.digits("val")[0]])
flat = x_real.view(len(x_real), -1)


def real_digits(g):
    return x_real[torch.randint(0, len(x_real), (NUM_SAMPLES,), generator=g)]


def noisy_digits(g):
    x = real_digits(g).float()
    return (x + 3 * torch.randn(x.shape, generator=g)).clamp(0, 16)


def independent_pixels(g):
    idx = torch.randint(0, len(flat), (NUM_SAMPLES, flat.shape[1]), generator=g)
    return flat.gather(0, idx).view(NUM_SAMPLES, 1, 8, 8)


references = {}
for name, draw in [
    ("real digits", real_digits),
    ("real + noise", noisy_digits),
    ("independent pixels", independent_pixels),
]:
    runs = [gdl.metrics.sample_quality(draw(torch.Generator().manual_seed(s))) for s in SEEDS]
    fds = torch.tensor([q["fd"] for q in runs])
    references[name] = (fds.mean().item(), fds.std().item(), runs[0])
    print(f"{name:>20}: FD on gdl features {fds.mean():7.1f} ± {fds.std():.1f} over seeds {SEEDS}, "
          f"precision {runs[0]['precision']:.2f}, recall {runs[0]['recall']:.2f}")

# %%
# One bar chart
# -------------
# Lower is better, on a logarithmic axis. Grey bars are the references (with their spread
# over three seeds); the coloured bars are the models, best first.
models = sorted(scores.items(), key=lambda kv: kv[1]["fd"])
names = list(references) + [m for m, _ in models]
fds = [references[n][0] for n in references] + [q["fd"] for _, q in models]
errors = [references[n][1] for n in references] + [0.0] * len(models)
colours = ["0.7"] * len(references) + ["C0"] * len(models)
fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
bars = ax.barh(range(len(names)), fds, xerr=errors, color=colours)
ax.bar_label(bars, fmt="%.0f", padding=4)
ax.set_yticks(range(len(names)), names)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xticks([25, 50, 100, 200, 400])
ax.xaxis.set_major_formatter(plt.ScalarFormatter())
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("FD on gdl features to the test digits (lower is better)")
ax.set_title(f"Sample quality on the digits, {NUM_SAMPLES} samples each")
plt.show()

# %%
# Precision and recall
# --------------------
# The FD mixes two failures; :math:`k`-NN precision (are the samples on the data manifold?)
# and recall (is all of the data manifold reached?) separate them. Blurry or noisy samples
# lose precision; a collapsed generator loses recall.
points = [(name, q) for name, (_, _, q) in references.items()] + models
fig, axes = plt.subplots(1, 2, figsize=(9, 0.35 * len(points) + 1.5), sharey=True)
for ax, key in zip(axes, ["precision", "recall"]):
    values = [q[key] for _, q in points]
    ax.barh(range(len(points)), values, color=["0.7"] * len(references) + ["C1"] * len(models))
    ax.set(xlim=(0, 1), xlabel=key, title=f"{key.capitalize()} (k = 5, higher is better)")
axes[0].set_yticks(range(len(points)), [name for name, _ in points])
axes[0].invert_yaxis()
plt.tight_layout()
plt.show()

# %%
# What to try
# -----------
# Score a model with another feature network, ``sample_quality(samples, seed=1)``, and check
# that the ranking holds. Score fewer samples (100) and watch every FD rise: the finite-sample
# bias is why all rows use the same number of samples.
