r"""
A frozen language model learns to read: Flamingo-style captions
===============================================================

Flamingo (Alayrac et al., 2022) gives a pretrained language model eyes without changing a
single one of its weights. A perceiver resampler turns an image into a few visual tokens, and
before each transformer block a cross-attention layer lets the text read them, through a gate
:math:`\tanh(\alpha)` that is shut (:math:`\alpha = 0`) at the start:

.. math::

    \mathbf{h} \leftarrow \mathbf{h} + \tanh(\alpha)\,\mathrm{Attn}(\mathrm{LN}(\mathbf{h}), \mathbf{v}).

Here the language model is a small GPT trained on digit captions alone; it knows what captions
look like, ``"a thick seven"``, but not which one fits a picture.
"""
# sphinx_gallery_gdl_budget = 12
# sphinx_gallery_thumbnail_number = 1

# %%
# A language model of captions
# ----------------------------
# Trained on the text of the training captions only. It can only guess the digit and the
# stroke: the best it can do is the frequency of each caption, about :math:`\log 20` nats.
import math

import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.multimodal import Flamingo

LM_STEPS = 500
STEPS = 600
BATCH_SIZE = 64
LR = 2e-3  # the language model's
FLAMINGO_LR = 1e-2  # the gates start at 0 and must open within a few hundred steps

x_train, t_train, _ = data.captioned_digits("train")
x_test, t_test, y_test = data.captioned_digits("test")
lm = gdl.GPT(vocab_size=len(data.VOCAB), block_size=data.MAX_TOKENS, n_layer=2, n_head=4, n_embd=32)
gdl.fit(lm, t_train, steps=LM_STEPS, batch_size=BATCH_SIZE, lr=LR, log_every=0, cache=True)
lm.eval()
with torch.no_grad():
    lm_nll = -lm.log_prob(t_test).mean().item()
print(f"language model alone: {lm_nll:.2f} nats per test caption (log 20 = {math.log(20):.2f})")

# %%
# Reading images through shut gates
# ---------------------------------
# With every gate at zero the combined model computes exactly what the language model does,
# so training starts from a working model. Only the image network, the resampler and the
# cross-attention layers learn; the language model is frozen.
model = Flamingo(lm, image_shape=(1, 8, 8), num_levels=17, num_latents=4, width=16)
with torch.no_grad():
    idx = torch.cat([torch.zeros(5, 1, dtype=torch.long), t_test[:5, :-1]], dim=1)
    print("gates shut, same logits as the language model:",
          torch.equal(model.eval().logits(x_test[:5], idx), lm.logits(idx)))
print(f"trainable parameters: {model.num_parameters():,} (the language model's "
      f"{sum(p.numel() for p in lm.parameters()):,} are frozen)")
history = gdl.fit(model, (x_train, t_train), steps=STEPS, batch_size=BATCH_SIZE, lr=FLAMINGO_LR, log_every=200,
                  cache=True)
model.eval()
with torch.no_grad():
    nll = -model.log_prob(x_test, t_test).mean().item()
print(f"with the image: {nll:.2f} nats per test caption")
print("gates after training, tanh(alpha):", [f"{layer.attn_gate.tanh().item():.2f}" for layer in model.cross])

# %%
# Captions of test images
# -----------------------
# Greedy decoding, one token at a time. The printout counts how often the caption names the
# right digit, and the right stroke.
captions = model.caption(x_test)
words = [data.detokenize(c).split() for c in captions]
truth = [data.detokenize(c).split() for c in t_test]
digit_ok = sum(w[-1:] == t[-1:] for w, t in zip(words, truth)) / len(truth)
stroke_ok = sum(w[1:2] == t[1:2] for w, t in zip(words, truth)) / len(truth)
print(f"right digit in {digit_ok:.1%} of the {len(truth)} test captions, right stroke in {stroke_ok:.1%}")
fig, axes = plt.subplots(2, 6, figsize=(9, 3.6))
for ax, i in zip(axes.flat, range(12)):
    ax.imshow(x_test[i, 0], cmap="gray_r")
    ax.set_title(" ".join(words[i][1:]), fontsize=9)
    ax.axis("off")
fig.suptitle("Captions written for test digits")
plt.show()

# %%
# What to try
# -----------
# Unfreeze the language model and compare; give the resampler one latent, or sixteen; feed it
# Fashion-MNIST (:func:`gdl.data.captioned_fashion_mnist`), whose captions carry three words of
# information.
