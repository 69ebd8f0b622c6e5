r"""
MuseGAN on Bach chorales
========================

MuseGAN writes all four voices of two bars at once, as a piano roll of
bars × steps × pitches × tracks. Its noise comes in four streams: *chords* and *style* are
shared by all tracks, *melody* and *groove* belong to one track each; chords and melody pass
through temporal networks that unfold them bar by bar, style and groove stay fixed. A critic
scores whole rolls, and training is the Wasserstein GAN with gradient penalty,

.. math::

    L_C = \mathbb{E}[C(G(\mathbf{z}))] - \mathbb{E}[C(\mathbf{x})]
    + \lambda\,\mathbb{E}\big[(\lVert\nabla_{\hat{\mathbf{x}}} C(\hat{\mathbf{x}})\rVert_2 - 1)^2\big],

with :math:`\hat{\mathbf{x}} = \epsilon\mathbf{x} + (1-\epsilon)G(\mathbf{z})`,
:math:`\epsilon \sim U[0, 1]` per example, and the norm over every axis of the roll.
"""
# sphinx_gallery_gdl_budget = 22
# sphinx_gallery_thumbnail_number = 2

# %%
# Data and model
# --------------
# Every two-bar excerpt of the training chorales in which all four voices sing (excerpts start
# on every bar), as MIDI pitches; the model turns them into one-hot rolls over 46 pitches.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data, music
from gdl.gan import MuseGAN

STEPS = 1_500  # critic updates; the generator moves on every fifth
BATCH_SIZE = 64
LR = 3e-4
EMA = 0.998  # an average of the weights over the last ~500 critic steps (~100 generator steps)

x_train, _ = data.chorale_bars("train")
x_val, _ = data.chorale_bars("val")
print(f"train {tuple(x_train.shape)} (excerpts, bars, steps, voices)")
model = MuseGAN(n_bars=2, steps_per_bar=16, n_tracks=4, lowest_pitch=36, n_pitches=46)
print(f"MuseGAN: {model.num_parameters():,} parameters")

# %%
# Training
# --------
# Five critic updates per generator update. The critic's loss is minus its estimate of the
# Wasserstein distance (plus the penalty): it rises towards zero as the fakes improve. A GAN's
# generator keeps circling its target instead of settling on it, so the samples come from an
# exponential moving average of the weights (``ema=``), which smooths that circling out.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA, log_every=300)
gdl.plot.logged(history, {"loss": "critic", "generator": "generator"}, smooth=50,
                title="MuseGAN on chorales")
plt.show()

# %%
# Samples, measured
# -----------------
# Each voice sings its likeliest pitch at every step. Two measures of the vertical sound,
# against real excerpts: the share of consonant intervals between voices, and the share of
# steps where a voice crosses above the one written above it.
samples = model.sample(500)
for name, rolls in (("MuseGAN", samples), ("Bach (val)", x_val)):
    print(f"{name:>10}: consonance {music.consonance(rolls):.3f}, "
          f"voice crossing {music.voice_crossing(rolls):.3f}")

fig, axes = plt.subplots(2, 2, figsize=(11, 5.5), sharey=True)
for i, ax in enumerate(axes.flat):
    music.piano_roll(samples[i].flatten(0, 1), ax=ax, title=f"sample {i}", legend=i == 0)
fig.suptitle("MuseGAN samples (two bars each)")
plt.show()

# %%
# Listen to four samples, one after the other.
music.play(samples[:4].flatten(0, 2), title="MuseGAN, four samples")

# %%
# Changing one stream
# -------------------
# Fix every stream and change one: new *chords* move every voice, bar by bar; new *style*
# moves every voice too, the same way in both bars; a new *melody* or *groove* for the
# soprano moves the soprano alone, and the other voices do not change a note.
torch.manual_seed(1)
z = model.latents(1)
fig, axes = plt.subplots(1, 5, figsize=(15, 3.2), sharey=True)
variants = {"original": z}
for stream in ("chords", "style", "melody", "groove"):
    changed = dict(z)
    fresh = model.latents(1)[stream]
    if stream in ("melody", "groove"):  # the soprano's vector only
        fresh = torch.cat([fresh[:, :1], z[stream][:, 1:]], 1)
    changed[stream] = fresh
    variants[f"new {stream}" + (" (soprano)" if stream in ("melody", "groove") else "")] = changed
model.eval()
with torch.no_grad():
    rolls = {k: model.to_data_scale(model.generate_streams(**v))[0].flatten(0, 1) for k, v in variants.items()}
for ax, (title, roll) in zip(axes, rolls.items()):
    music.piano_roll(roll, ax=ax, title=title, legend=False)
    moved = [data.VOICES[v] for v in range(4) if not torch.equal(roll[:, v], rolls["original"][:, v])]
    ax.set_xlabel("changed: " + (", ".join(moved) or "nothing"))
fig.suptitle("One latent stream changed at a time")
plt.show()

music.play(torch.cat(list(rolls.values())), title="Original, new chords, new style, new melody, new groove")

# %%
# What to try
# -----------
# Drop the gradient penalty (``gp_weight=0``) and watch the samples collapse; compute the
# penalty the book's way (the norm without the tracks axis); more bars per excerpt; a critic
# with 3-D convolutions, as in the paper.
