r"""
A music transformer on Bach chorales
====================================

Four voices sing at once, but a transformer reads one token at a time. The chorales are
flattened into a single stream of notes in order of onset (soprano, alto, tenor, bass when
they start together), each note a pair (pitch, duration). Following Foster, the model embeds
pitch and duration separately and predicts the next note with two heads,

.. math::

    p(p_{t+1}, d_{t+1} \mid \text{notes} \le t)
    = \mathrm{softmax}(W_p h_t)_{p_{t+1}} \, \mathrm{softmax}(W_d h_t)_{d_{t+1}},

where :math:`h_t` is the output of the causal transformer blocks of :class:`gdl.GPT`.
"""
# sphinx_gallery_gdl_budget = 18
# sphinx_gallery_thumbnail_number = 3

# %%
# The chorales as tokens
# ----------------------
# About 400 chorales from the corpus that ships with ``music21``, split by chorale. A window
# of 64 tokens covers three or four bars. One real chorale first, to hear what we are after
# (the player is a small numpy synthesiser; the MIDI file opens in any score editor).
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data, music
from gdl.autoregressive import MusicTransformer

LENGTH = 64
STEPS = 500
BATCH_SIZE = 32
LR = 3e-3

x_train, _ = data.chorale_tokens("train", length=LENGTH, stride=LENGTH // 2)
x_val, _ = data.chorale_tokens("val", length=LENGTH)
x_test, _ = data.chorale_tokens("test", length=LENGTH)
print(f"train {tuple(x_train.shape)}, val {tuple(x_val.shape)}, test {tuple(x_test.shape)}")

real = data.chorales("val")[0]
music.piano_roll(real.roll()[:128], title=f"Bach, {real.name}: the first eight bars")
plt.show()
music.play(real.roll()[:128], title=f"Bach, {real.name}")

# %%
# Model and training
# ------------------
# Two pre-LN blocks of width 64 over the sum of the pitch and duration embeddings (each half
# the width), the position, and two hints that the past already implies: which voice sings
# next and where in the bar its note starts. Training maximises the log-likelihood of the
# windows; the validation loss picks the best weights.
model = MusicTransformer(block_size=LENGTH, n_layer=2, n_head=4, n_embd=64, dropout=0.1)
print(f"{model.num_parameters():,} parameters")
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=100)
gdl.plot.training_curves(history, title="Music transformer on chorales", ylabel="NLL (nats/window)")
plt.show()

# %%
# Cross-entropy per note
# ----------------------
# The two heads scored separately, in nats per token on the validation chorales, against a
# model that ignores context and predicts each pitch by its frequency in the training set.
ce = model.cross_entropy(x_val)
pitches = x_train[..., 0][x_train[..., 0] > 0]
freq = torch.bincount(pitches, minlength=model.pitch_tokens).double() + 1
val_pitches = x_val[..., 0][x_val[..., 0] > 0]
unigram = -(freq / freq.sum()).log()[val_pitches].mean().item()
print(f"validation pitch cross-entropy {ce['pitch']:.3f} nats (unigram {unigram:.3f}); "
      f"duration {ce['duration']:.3f} nats")
result = gdl.results.record("Music transformer", model, x_test, dataset="Bach chorales (tokens)",
                            history=history, note=f"val pitch CE {ce['pitch']:.3f} nats/token")

# %%
# New chorales
# ------------
# Sampling token by token from the boundary token, at two temperatures, then dealing the
# notes back to their voices. A lower temperature keeps to the likeliest notes.
fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
pieces = {}
for ax, temperature in zip(axes, (1.0, 0.7)):
    tokens = model.generate(torch.zeros(1, 1, 2, dtype=torch.long), 2 * LENGTH, temperature)[0, 1:]
    piece = data.detokenise(tokens)
    pieces[temperature] = piece
    roll = piece.roll()[:128]
    music.piano_roll(roll, ax=ax, title=f"temperature {temperature}", legend=temperature == 1.0)
    print(f"temperature {temperature}: consonance {music.consonance(roll):.2f}, "
          f"voice crossing {music.voice_crossing(roll):.2f}")
fig.suptitle("Sampled chorales")
plt.show()

# %%
# Listen to both.
for temperature, piece in pieces.items():
    music.play(piece, title=f"Music transformer, temperature {temperature}")

# %%
# What the model expects next
# ---------------------------
# For the opening of a validation chorale, the next-pitch distribution at every token (one
# column per token), with the true next pitch marked. The four voices show as four bands the
# model moves between: it knows whose turn it is.
window = x_val[:1, :48]
inputs = torch.cat([torch.zeros(1, 1, 2, dtype=torch.long), window[:, :-1]], 1)
model.eval()
with torch.no_grad():
    probs = model.logits(inputs)[0][0].softmax(-1)  # (48, P)
lo, hi = data.pitch_to_token(45), data.pitch_to_token(data.HIGHEST_PITCH - 2)
fig, ax = plt.subplots(figsize=(9, 4))
ax.imshow(probs[:, lo:hi].T, origin="lower", aspect="auto", cmap="magma",
          extent=(-0.5, 47.5, 45 - 0.5, data.HIGHEST_PITCH - 2.5))
true = [data.token_to_pitch(int(p)) for p in window[0, :, 0]]
ax.scatter(range(48), true, s=8, c="cyan", label="the note that came")
ax.set(xlabel="token", ylabel="MIDI pitch", title="Next-pitch probabilities on a validation chorale")
ax.legend(loc="upper right")
plt.show()

# %%
# Attention
# ---------
# The four heads of the last layer on the same tokens. The bright off-diagonals four tokens
# back are the same voice's previous note: in a four-part texture that is mostly where the
# next note is decided.
att = model.attention(inputs)[-1, 0]  # (n_head, 48, 48)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for h, ax in enumerate(axes):
    ax.imshow(att[h], cmap="viridis", vmin=0, vmax=0.5)
    ax.set(title=f"head {h}", xlabel="key token")
axes[0].set_ylabel("query token")
fig.suptitle("Last-layer attention")
plt.show()

# %%
# What to try
# -----------
# Drop the voice and onset hints (``next_voice_and_onset``) and watch the cross-entropy rise;
# longer windows with more steps; top-k sampling; transpose the chorales to every key as data
# augmentation.
