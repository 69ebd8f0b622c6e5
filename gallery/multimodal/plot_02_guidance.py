r"""
Classifier-free guidance: drawing a caption
===========================================

A diffusion model conditioned on a caption learns :math:`p(\mathbf{x}\mid c)`; guidance makes
it more faithful to the caption than that. Train one network both with the caption :math:`c`
and, one time in ten, with the caption replaced by a null token :math:`\varnothing`. At sampling
time mix the two noise predictions,

.. math::

    \tilde{\boldsymbol\epsilon} = (1 + w)\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, c)
    - w\,\boldsymbol\epsilon_\theta(\mathbf{x}_t, \varnothing),

which follows the score of :math:`p(\mathbf{x}\mid c)\,p(c\mid\mathbf{x})^{w}`. Here
:math:`w = 0` is ordinary conditional sampling and :math:`w = -1` ignores the caption
altogether. This is how GLIDE, Imagen and Stable Diffusion draw what a prompt says.
"""
# sphinx_gallery_gdl_budget = 22
# sphinx_gallery_thumbnail_number = 3

# %%
# Captions as conditions
# ----------------------
# Each training digit has a caption such as ``"a thick seven"`` (thick or thin: more or less
# ink than the median digit of its class). The 20 captions are the conditions.
import matplotlib.pyplot as plt
import torch

import gdl
from gdl import data
from gdl.diffusion import GuidedDDPM

HIDDEN = (512, 512)
STEPS = 2_500
BATCH_SIZE = 128
LR = 1e-3
EMA = 0.995
SAMPLING_STEPS = 50  # DDIM, deterministic
WEIGHTS = [-1.0, 0.0, 1.0, 2.0, 4.0]
NUM_SAMPLES = 1000

PROMPTS = [data.caption(word, stroke) for word in data.DIGIT_WORDS for stroke in ("thin", "thick")]
x_train, _, y_train = data.captioned_digits("train")
x_test, _, _ = data.captioned_digits("test")
c_train = 2 * y_train + data.stroke_labels("train")  # the index of each caption in PROMPTS
print(PROMPTS[int(c_train[0])], "...", len(PROMPTS), "captions")

model = GuidedDDPM(num_classes=len(PROMPTS), p_uncond=0.1, hidden=HIDDEN)
history = gdl.fit(model, (x_train, c_train), steps=STEPS, batch_size=BATCH_SIZE, lr=LR, ema=EMA,
                  log_every=1000, cache=True)

# %%
# One row per guidance weight
# ---------------------------
# The same starting noise in every row, the caption ``"a thin k"`` in column :math:`k`. At
# :math:`w = -1` the caption is ignored and the digits are whatever the noise leads to; at
# :math:`w = 0` most obey it; as :math:`w` grows they obey it more often, and (the next
# figure measures it) the samples grow more alike.
model.eval()
torch.manual_seed(0)
x_T = torch.randn(10, *model.event_shape).repeat(len(WEIGHTS), 1, 1, 1)
labels = (2 * torch.arange(10)).repeat(len(WEIGHTS))
w_rows = torch.tensor(WEIGHTS).repeat_interleave(10)
rows = [model.to_levels(model.reverse(x_T[i : i + 10], labels=labels[i : i + 10], guidance=float(w_rows[i]),
                                      steps=SAMPLING_STEPS)) for i in range(0, len(x_T), 10)]
fig, ax = plt.subplots(figsize=(6, 3.4))
gdl.plot.image_grid(torch.cat(rows), nrow=10, levels=17, ax=ax,
                    title="Rows: w = " + ", ".join(f"{w:g}" for w in WEIGHTS) + "; column k: 'a thin k'")
plt.show()

# %%
# Fidelity against diversity
# --------------------------
# For each :math:`w`, 1000 samples of all 20 captions: gdl's digit classifier (the one behind
# :func:`gdl.quality.sample_quality`) reads each sample, and we count how often it reads the
# requested digit; recall (how much of the test set the samples cover) measures diversity.
classifier = gdl.quality.feature_network("digits")
requested = torch.arange(NUM_SAMPLES) % len(PROMPTS)
agreement, recall, precision = [], [], []
for w in WEIGHTS:
    torch.manual_seed(1)
    samples = model.sample(NUM_SAMPLES, labels=requested, guidance=w, steps=SAMPLING_STEPS)
    with torch.no_grad():
        read = classifier(samples / 16).argmax(1)
    agreement.append((read == requested // 2).float().mean().item())
    q = gdl.quality.sample_quality(samples, "digits")
    recall.append(q["recall"])
    precision.append(q["precision"])
    print(f"w = {w:4g}: classifier agrees {agreement[-1]:.3f}, precision {q['precision']:.3f}, "
          f"recall {q['recall']:.3f}, FD {q['fd']:.1f}")
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(WEIGHTS, agreement, "o-", label="classifier reads the requested digit")
ax.plot(WEIGHTS, precision, "s--", label="precision")
ax.plot(WEIGHTS, recall, "^-", label="recall")
ax.set(xlabel="guidance weight $w$", ylabel="fraction", ylim=(0, 1.02),
       title="Guidance trades diversity (recall) for fidelity")
ax.legend(frameon=False)
plt.show()

# %%
# Prompts that combine attributes
# -------------------------------
# A caption names a digit *and* a stroke. Eight samples for each of six prompts at
# :math:`w = 1`; the printout compares the ink of the samples of each prompt with the ink of
# training digits that carry that caption.
show = ["a thin one", "a thick one", "a thin four", "a thick four", "a thin eight", "a thick eight"]
ids = torch.tensor([PROMPTS.index(p) for p in show]).repeat_interleave(8)
torch.manual_seed(2)
grid = model.sample(len(ids), labels=ids, guidance=1.0, steps=SAMPLING_STEPS)
fig, ax = plt.subplots(figsize=(6, 5))
gdl.plot.image_grid(grid, nrow=8, levels=17, ax=ax, title="Rows: " + "; ".join(show))
plt.show()
torch.manual_seed(3)
for p in show:
    i = PROMPTS.index(p)
    ink = model.sample(200, labels=torch.full((200,), i), steps=SAMPLING_STEPS).float().sum((1, 2, 3))
    print(f"{p:14}: mean ink of samples {ink.mean():6.1f}, of training digits {x_train[c_train == i].float().sum((1, 2, 3)).mean():6.1f}")

# %%
# On the leaderboard
# ------------------
# The bound below is that of the unconditional model (:math:`\varnothing`), and the samples are
# drawn at :math:`w = 1` with random captions.
gdl.results.record("Guided DDPM (w = 1)", model, x_test, history=history, num_samples=NUM_SAMPLES,
                   sample_kwargs={"steps": SAMPLING_STEPS, "guidance": 1.0}, note="DDIM 50 steps")

# %%
# What to try
# -----------
# Train with ``p_uncond=0`` and see guidance fall apart (the null caption was never learned);
# guide with the stroke alone; push :math:`w` to 10 and watch the samples saturate.
