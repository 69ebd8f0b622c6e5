r"""
A character-level LSTM on names
===============================

A language model reads a name one letter at a time and predicts the next letter, or the end
of the name. Its likelihood is the chain rule over characters,

.. math::

    \log p(\text{"ada"}) = \log p(a \mid \cdot) + \log p(d \mid a) + \log p(a \mid ad)
    + \log p(\text{end} \mid ada),

and an LSTM computes every conditional from a state it carries along the sequence.
"""
# sphinx_gallery_gdl_budget = 55

# %%
# Data and model
# --------------
# About 5,000 US census first names, lowercased and split 80 / 10 / 10. Each is a row of 12
# token ids: its letters (1..26), then the boundary token 0, which ends the name and pads it.

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.autoregressive import CharLSTM, unigram_bits_per_token

STEPS = 3_000  # an upper bound: early stopping ends the run sooner
BATCH_SIZE = 64
LR = 2e-3
EVAL_EVERY = 50
PATIENCE = 8
TEMPERATURES = (0.5, 1.0, 1.5)

vocab = data.NAMES_VOCAB
x_train, _ = data.names("train")
x_val, _ = data.names("val")
print(f"{len(x_train)} training names, e.g. {vocab.decode(x_train[:5])}")

model = CharLSTM(vocab_size=vocab.size, max_len=x_train.shape[1], embed_dim=32, hidden=128)
print(f"{model.num_parameters():,} parameters")

# %%
# Training with teacher forcing
# -----------------------------
# Every position sees the true letters before it, not the model's own guesses, so one pass
# over a batch trains all twelve predictions at once.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, patience=PATIENCE, log_every=500)
gdl.plot.training_curves(history, title="CharLSTM on names", ylabel="NLL (nats/name)")
plt.show()

# %%
# Bits per character against a unigram model
# -------------------------------------------
# Bits per character divide the NLL by the number of predicted tokens (the letters and the
# end token) and by :math:`\ln 2`. The baseline ignores context: it predicts every token
# from the letter frequencies of the training names.
lstm_bpc = model.bits_per_token(x_val)
unigram_bpc = unigram_bits_per_token(x_train, x_val, vocab.size)
print(f"validation bits/char: CharLSTM {lstm_bpc:.3f}, unigram {unigram_bpc:.3f}")

# %%
# Samples at several temperatures
# -------------------------------
# Dividing the logits by a temperature below 1 favours the likely letters (common, safe
# names); above 1 it flattens the distribution (inventive, then unpronounceable ones).
for temperature in TEMPERATURES:
    names = model.sample_text(12, vocab, temperature=temperature)
    print(f"T={temperature}: " + ", ".join(s.capitalize() for s in names))

# %%
# How long are the names?
# -----------------------
# The end token is a prediction like any other, so the model also learns the lengths.
sampled = model.sample(2000)
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = torch.arange(0.5, x_train.shape[1] + 1).tolist()
ax.hist(x_val.gt(0).sum(1).tolist(), bins=bins, density=True, alpha=0.6, label="validation names")
ax.hist(sampled.gt(0).sum(1).tolist(), bins=bins, density=True, alpha=0.6, label="samples (T = 1)")
ax.set(title="Name lengths", xlabel="letters", ylabel="fraction of names")
ax.legend(frameon=False)
plt.show()

# %%
# What to try
# -----------
# Train on last names (``data.names(kind="last")``, 18 times more data); two LSTM layers
# with dropout; a plain ``nn.RNN`` in place of the LSTM to see what the gates buy.
