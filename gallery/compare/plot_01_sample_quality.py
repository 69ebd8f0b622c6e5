r"""
Sample quality of every family
==============================

Likelihoods rank the models that have one; a GAN has none, and a good likelihood does not
promise good-looking samples. This page puts every model that drew digits on one scale: the
Fréchet distance between gdl features of 1000 samples and of the 447 test digits
(:func:`gdl.quality.sample_quality`), where the features are the penultimate layer of a small
classifier that gdl trains on the training digits. It is the second column of the
:doc:`leaderboard </leaderboard>`.

A score that depends on a trained network is only worth something if another training run of
that network tells the same story, so every set is scored by three feature networks, trained
from seeds 0, 1 and 2.
"""
# sphinx_gallery_gdl_budget = 55
# sphinx_gallery_gdl_after = "*"
# sphinx_gallery_gdl_prepare = "gdl.quality.feature_network(seed=1); gdl.quality.feature_network(seed=2)"

# %%
# The samples recorded by the gallery
# -----------------------------------
# Every gallery script that passes its samples to :func:`gdl.results.record` leaves them
# beside its leaderboard row; this section runs last, so all of them are in. Outside the docs
# build there are none, and only the reference sets below appear.
import os

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data

NUM_SAMPLES = 1000
FEATURE_SEEDS = (0, 1, 2)  # seeds of the feature networks; the leaderboard uses 0

folder = os.environ.get(gdl.results.RESULTS_ENV)
rows = gdl.results.load_results(folder) if folder and os.path.isdir(folder) else []
model_samples = {
    r["model"]: gdl.results.load_samples(folder, r)
    for r in rows
    if r["dataset"] == "digits" and r.get("samples_file")
}
print(f"{len(model_samples)} models recorded samples of the digits")

# %%
# Reference points
# ----------------
# Three sample sets without a model tell what the numbers mean. *Real digits*: 1000 distinct
# images drawn from the 1350 of the training and validation splits (the floor: finite samples
# keep even real data above zero). *Real + noise*: the same with Gaussian noise of standard
# deviation 3 grey levels. *Independent pixels*: each pixel drawn from its own marginal, which
# has the right grey levels in the right places but no strokes. Each reference is drawn anew
# for each feature network, so its spread holds both sources of chance.
x_real = torch.cat([data.digits("train")[0], data.digits("val")[0]])
flat = x_real.view(len(x_real), -1)


def real_digits(g):
    return x_real[torch.randperm(len(x_real), generator=g)[:NUM_SAMPLES]]


def noisy_digits(g):
    x = real_digits(g).float()
    return (x + 3 * torch.randn(x.shape, generator=g)).clamp(0, 16)


def independent_pixels(g):
    idx = torch.randint(0, len(flat), (NUM_SAMPLES, flat.shape[1]), generator=g)
    return flat.gather(0, idx).view(NUM_SAMPLES, 1, 8, 8)


references = {
    name: [gdl.quality.sample_quality(draw(torch.Generator().manual_seed(s)), seed=s) for s in FEATURE_SEEDS]
    for name, draw in [
        ("real digits", real_digits),
        ("real + noise", noisy_digits),
        ("independent pixels", independent_pixels),
    ]
}
scores = {
    name: [gdl.quality.sample_quality(x, seed=s) for s in FEATURE_SEEDS]
    for name, x in model_samples.items()
}


def fd_stats(runs):
    fds = torch.tensor([q["fd"] for q in runs])
    return fds.mean().item(), fds.std().item()


for name, runs in {**references, **scores}.items():
    mean, std = fd_stats(runs)
    fds = ", ".join(f"{q['fd']:.1f}" for q in runs)
    print(f"{name:>42}: FD on gdl features {mean:6.1f} ± {std:4.1f} (seeds {FEATURE_SEEDS}: {fds})")

# %%
# One bar chart
# -------------
# Lower is better, on a logarithmic axis. Grey bars are the references, coloured bars the
# models, best first; each bar is the mean over the three feature networks and its whisker
# their standard deviation.
models = sorted(scores, key=lambda name: fd_stats(scores[name])[0])
names = list(references) + models
stats = [fd_stats(references[n]) for n in references] + [fd_stats(scores[n]) for n in models]
colours = ["0.7"] * len(references) + ["C0"] * len(models)
fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.5))
bars = ax.barh(range(len(names)), [m for m, _ in stats], xerr=[s for _, s in stats], color=colours)
ax.bar_label(bars, fmt="%.0f", padding=4)
ax.set_yticks(range(len(names)), names)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xticks([25, 50, 100, 200, 400])
ax.xaxis.set_major_formatter(plt.ScalarFormatter())
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel("FD on gdl features to the test digits (lower is better)")
ax.set_title(f"Sample quality on the digits, {NUM_SAMPLES} samples, 3 feature networks")
plt.show()

# %%
# Does the ranking depend on the feature network?
# -----------------------------------------------
# Kendall's :math:`\tau` compares the order of all sample sets, models and references together,
# under two feature networks: 1 means the same order, 0 no agreement. The table lists the
# rank of each set under each network.
from scipy.stats import kendalltau  # noqa: E402

everything = {**references, **scores}
fd = torch.tensor([[q["fd"] for q in runs] for runs in everything.values()])  # (sets, seeds)
ranks = fd.argsort(0).argsort(0) + 1  # rank of each set under each feature network
for i, a in enumerate(FEATURE_SEEDS):
    for j, b in enumerate(FEATURE_SEEDS[i + 1 :], start=i + 1):
        tau = kendalltau(fd[:, i], fd[:, j]).statistic
        print(f"feature seeds {a} and {b}: Kendall tau {tau:.3f} over {len(fd)} sample sets")
print(f"\n{'sample set':>42}  ranks under seeds {FEATURE_SEEDS}")
for name, r in sorted(zip(everything, ranks.tolist()), key=lambda kv: kv[1][0]):
    print(f"{name:>42}  {r}")

# %%
# Precision and recall
# --------------------
# The FD mixes two failures; :math:`k`-NN precision (are the samples on the data manifold?)
# and recall (is all of the data manifold reached?) separate them. Blurry or noisy samples
# lose precision; a collapsed generator loses recall. These are the scores of the first
# feature network, in the FD order above.
fig, axes = plt.subplots(1, 2, figsize=(9, 0.35 * len(names) + 1.5), sharey=True)
for ax, key in zip(axes, ["precision", "recall"]):
    values = [everything[n][0][key] for n in names]
    ax.barh(range(len(names)), values, color=["0.7"] * len(references) + ["C1"] * len(models))
    ax.set(xlim=(0, 1), xlabel=key, title=f"{key.capitalize()} (k = 5, higher is better)")
axes[0].set_yticks(range(len(names)), names)
axes[0].invert_yaxis()
plt.tight_layout()
plt.show()

# %%
# What to try
# -----------
# Score fewer samples (100) and watch every FD rise: the finite-sample bias is why all rows
# use the same number of samples. Add more feature seeds, or score precision and recall with
# fewer neighbours (``k=3``), and see whether the order still holds.
