r"""
A character-level GPT on names
==============================

A GPT predicts each token from all the tokens before it, which it reads through causal
self-attention: every position forms a query, compares it with the keys of the positions
before it and averages their values,

.. math::

    \mathrm{softmax}\Big(\frac{QK^\top}{\sqrt{d}} + M\Big) V,

where the mask :math:`M` is :math:`-\infty` above the diagonal. The same names and the same
exact likelihood as the LSTM of the autoregressive section, with attention in place of a
recurrence.
"""
# sphinx_gallery_gdl_budget = 55

# %%
# Data and model
# --------------
# About 5,000 US census first names as rows of 12 token ids: the letters, then the boundary
# token 0 that ends the name and pads it. Two pre-LN blocks of four heads, width 64.

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.autoregressive import GPT, GPTConfig, unigram_bits_per_token

STEPS = 2_500  # an upper bound: early stopping may end the run sooner
BATCH_SIZE = 64
LR = 3e-3
EVAL_EVERY = 100
PATIENCE = 5
LAYER = 0  # whose attention maps to show

vocab = data.NAMES_VOCAB
x_train, _ = data.names("train")
x_val, _ = data.names("val")

config = GPTConfig(
    vocab_size=vocab.size, block_size=x_train.shape[1], n_layer=2, n_head=4, n_embd=64, dropout=0.1
)
model = GPT(config)
print(config)
print(f"{model.num_parameters():,} parameters")

# %%
# Training
# --------
# Teacher forcing again: the input is the name shifted right behind a boundary token, and the
# causal mask lets all twelve positions train in one pass without seeing their targets.
# Dropout and weight decay hold off overfitting on this small corpus.
history = gdl.fit(model, x_train, steps=STEPS, batch_size=BATCH_SIZE, lr=LR, val_data=x_val,
                  eval_every=EVAL_EVERY, patience=PATIENCE, log_every=500)
gdl.plot.training_curves(history, title="GPT on names", ylabel="NLL (nats/name)")
plt.show()

# %%
# Bits per character against a unigram model
# -------------------------------------------
# The NLL per predicted token (letters and the end token) in bits, next to a model that
# ignores context and predicts the letter frequencies of the training names.
gpt_bpc = model.bits_per_token(x_val)
unigram_bpc = unigram_bits_per_token(x_train, x_val, vocab.size)
print(f"validation bits/char: GPT {gpt_bpc:.3f}, unigram {unigram_bpc:.3f}")

# %%
# Temperature and top-k
# ---------------------
# Sampling divides the logits by a temperature and may keep only the ``top_k`` likeliest
# tokens. Both trade variety for safety; top-k cuts off the unlikely tail that produces the
# occasional unpronounceable name, while temperature reshapes the whole distribution. Each
# setting starts from the same random state (``fork_rng``), so the rows differ by the setting alone.
for temperature, top_k in [(1.0, None), (0.7, None), (1.0, 3), (1.5, 5)]:
    with torch.random.fork_rng():
        names = model.sample_text(10, vocab, temperature=temperature, top_k=top_k)
    print(f"temperature={temperature}, top_k={top_k}: " + ", ".join(s.capitalize() for s in names))

# %%
# Completing a prefix
# -------------------
# :meth:`~gdl.autoregressive.GPT.generate` extends any context. Behind the boundary token, the
# prefix "mar" continues into names; the text after the first boundary is cut.
prefix = torch.cat([torch.zeros(8, 1, dtype=torch.long), vocab.encode(["mar"] * 8, 3)], 1)
out = model.generate(prefix, config.block_size - 3, temperature=0.8)[:, 1:]
print("mar...: " + ", ".join(s.capitalize() for s in vocab.decode(out)))

# %%
# Attention maps
# --------------
# The attention weights of the four heads of one layer, for one name: row :math:`t` shows
# how query position :math:`t` spreads its attention over the key positions :math:`s \le t`.
# The upper triangle is zero: that is the causal mask.
name = "margaret"
idx = torch.cat([torch.zeros(1, 1, dtype=torch.long), vocab.encode([name], len(name))], 1)
att = model.attention(idx)[LAYER, 0]  # (n_head, t, t)
labels = ["·"] + list(name)
fig, axes = plt.subplots(1, config.n_head, figsize=(3 * config.n_head, 3.4))
for h, ax in enumerate(axes):
    ax.imshow(att[h], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(title=f"head {h}", xlabel="key position")
axes[0].set_ylabel("query position")
fig.suptitle(f"Layer {LAYER} attention on '{name}' (· is the start token)")
plt.show()

# %%
# What to try
# -----------
# Remove the position embeddings (attention alone cannot tell order); one head of width 64
# instead of four of 16; last names (``data.names(kind="last")``) with a larger model.
