"""Figures of the chapters, drawn from the package while the site is built (no training).

Each function returns a matplotlib figure and is registered under a name with :func:`figure`; a
page shows it with ``{gdl-figure} name`` (see ``gdl_chapters.py``), with the function's source
in a fold beneath when asked (``:code:``). A new chapter adds its figure here. Each function
stays cheap (well under a second): the whole set is drawn on every build.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

#: ``{name: function}`` of every chapter figure.
FIGURES: dict[str, Callable[[], "matplotlib.figure.Figure"]] = {}


def figure(name: str):
    """Register a function that draws one chapter figure."""

    def register(fn):
        FIGURES[name] = fn
        return fn

    return register


@figure("digits-independent-pixels")
def digits_independent_pixels():
    """Chapter 1: training digits, the per-pixel marginals, and images drawn from them."""
    from gdl import data, plot

    x, _ = data.digits("train")  # (1000, 1, 8, 8), levels 0..16
    K, D = data.DIGITS_LEVELS, 64
    counts = torch.nn.functional.one_hot(x.view(-1, D), K).sum(0) + 1  # add-one smoothing, (64, 17)
    pi = counts / counts.sum(-1, keepdim=True)
    g = torch.Generator().manual_seed(0)
    samples = torch.multinomial(pi, 16, replacement=True, generator=g).T.reshape(16, 1, 8, 8)
    mean = (pi * torch.arange(K)).sum(-1).view(8, 8)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    plot.image_grid(x[:16], levels=K, ax=axes[0], title="training digits")
    axes[1].imshow(mean, cmap="gray_r", vmin=0, vmax=K - 1)
    axes[1].set(title="mean level of each pixel's\ncategorical", xticks=[], yticks=[])
    plot.image_grid(samples, levels=K, ax=axes[2], title="drawn from independent pixels")
    return fig


@figure("activations")
def activations():
    """Chapter 2: the activation functions of torch that gdl's networks use."""
    from torch.nn import functional as F

    x = torch.linspace(-4, 4, 401)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, fn in [("ReLU", F.relu), ("GELU", F.gelu), ("SiLU", F.silu), ("tanh", torch.tanh),
                     ("sigmoid", torch.sigmoid), ("softplus", F.softplus)]:
        ax.plot(x, fn(x), label=name)
    ax.set(xlabel="input", ylabel="output", ylim=(-1.5, 4), title="Activation functions")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(ncol=2, fontsize=9)
    return fig


@figure("elbo-gap")
def elbo_gap():
    """Chapter 3: on a linear-Gaussian model the ELBO is log p(x) minus KL(q || posterior)."""
    from torch.distributions import Normal, kl_divergence

    sigma, x = 0.5, torch.tensor(1.2)  # z ~ N(0, 1), x | z ~ N(z, sigma^2)
    log_px = Normal(0.0, math.sqrt(1 + sigma**2)).log_prob(x)
    post = Normal(x / (1 + sigma**2), math.sqrt(sigma**2 / (1 + sigma**2)))  # p(z | x)
    m = torch.linspace(-1.0, 2.5, 200)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.axhline(log_px, color="k", label=r"$\log p(x)$")
    for s in (post.scale.item(), 0.8, 0.25):
        elbo = log_px - kl_divergence(Normal(m, s), post)  # ELBO = log p(x) - KL(q || p(z|x))
        ax.plot(m, elbo, label=rf"ELBO, $q = \mathcal{{N}}(m, {s:.2f}^2)$")
    ax.axvline(post.loc, color="grey", ls=":", lw=1)
    ax.set(xlabel=r"mean $m$ of $q(z)$", ylabel="nats", ylim=(log_px - 4, log_px + 0.5),
           title=r"The bound touches $\log p(x)$ only at the posterior")
    ax.legend(fontsize=8, loc="lower center")
    return fig


@figure("optimal-discriminator")
def optimal_discriminator():
    """Chapter 4: the optimal discriminator p / (p + q) for two 1-D densities."""
    from torch.distributions import Normal

    x = torch.linspace(-4, 5, 400)
    p = Normal(0.0, 1.0).log_prob(x).exp()
    q = Normal(1.5, 0.7).log_prob(x).exp()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(x, p, label=r"data $p(x)$")
    ax.plot(x, q, label=r"generator $q(x)$")
    ax.plot(x, p / (p + q), "k--", label=r"$D^*(x) = p / (p + q)$")
    ax.set(xlabel="x", ylabel="density / probability", title="The discriminator a fixed generator meets")
    ax.legend(fontsize=9)
    return fig


@figure("made-masks")
def made_masks():
    """Chapter 5: MADE's masks, and the dependencies autograd finds in the masked network."""
    from gdl.nn import MaskedMLP

    torch.manual_seed(0)
    D = 8
    net = MaskedMLP(torch.randperm(D), hidden=[24], outputs_per_dim=1)
    x = torch.randn(1, D)
    jac = torch.autograd.functional.jacobian(lambda v: net(v).view(D), x).view(D, D)  # d out_i / d x_j
    order = net.degrees.argsort()  # dimensions in the order of their conditionals
    first = next(m for m in net.modules() if hasattr(m, "mask"))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].imshow(first.mask, cmap="Greys", aspect="auto", interpolation="nearest")
    axes[0].set(title="first layer's mask (hidden × input)", xlabel="input j", ylabel="hidden unit k")
    axes[1].imshow(jac[order][:, order].abs() > 0, cmap="Greys", interpolation="nearest")
    axes[1].set(title="output i depends on input j (autograd),\nin the order of the conditionals",
                xlabel="input (sorted by degree)", ylabel="output (sorted by degree)")
    return fig


@figure("coupling-jacobian")
def coupling_jacobian():
    """Chapter 6: an affine coupling's Jacobian is triangular; its log-determinant is the sum of s."""
    from gdl.flows import AffineCoupling

    torch.manual_seed(0)
    D = 8
    mask = (torch.arange(D) % 2 == 0).float()  # even dimensions pass through
    layer = AffineCoupling(mask, hidden=16)
    for p in layer.net.parameters():  # the last layer starts at zero (the identity): perturb it
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(1, D)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0].view(D), x).view(D, D)
    order = torch.cat([mask.nonzero(), (1 - mask).nonzero()]).view(-1)  # passed-through dims first
    log_det = layer(x)[1].item()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    j = jac[order][:, order]
    lim = j.abs().max()
    ax.imshow(j, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set(title=f"Jacobian of a coupling (autograd)\nlog|det J| = {torch.linalg.slogdet(jac)[1]:.3f}, "
                 f"layer says {log_det:.3f}", xlabel="input (passed-through first)", ylabel="output")
    return fig


@figure("langevin")
def langevin_chains():
    """Chapter 7: Langevin dynamics on a two-well energy, with gdl.energy.langevin."""
    from gdl.energy import langevin

    centres = torch.tensor([[-1.5, 0.0], [1.5, 0.5]])

    def energy(x):  # -log of a mixture of two unit-variance Gaussians, up to a constant
        return -torch.logsumexp(-0.5 * ((x[:, None] - centres) ** 2).sum(-1) / 0.3, dim=1)

    torch.manual_seed(0)
    _, path = langevin(energy, torch.randn(5, 2) * 2, steps=150, step_size=0.02, return_trajectory=True)
    g = torch.linspace(-3.5, 3.5, 120)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    e = energy(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)).view(120, 120)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.contourf(xx, yy, e, levels=20, cmap="viridis")
    for i in range(path.shape[1]):
        ax.plot(path[:, i, 0], path[:, i, 1], "w-", lw=0.8)
        ax.plot(path[0, i, 0], path[0, i, 1], "wo", ms=4)
    ax.set(title="Langevin chains run down the energy", xlabel=r"$x_1$", ylabel=r"$x_2$", aspect="equal")
    return fig


@figure("forward-noising")
def forward_noising():
    """Chapter 8: a test digit noised by the DDPM's forward process q(x_t | x_0) (cosine schedule)."""
    from gdl import data
    from gdl.diffusion import DDPM

    model = DDPM(num_steps=1000, schedule="cosine")
    x, _ = data.digits("test")
    x0 = model.to_unit(x[:1])  # (1, 1, 8, 8) on [-1, 1]
    steps = [0, 100, 250, 400, 550, 700, 850, 999]
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    fig, axes = plt.subplots(1, len(steps), figsize=(10, 1.9))
    for ax, t in zip(axes, steps):
        xt = model.q_sample(x0, torch.tensor([t]), noise)
        ax.imshow(xt[0, 0], cmap="gray_r", vmin=-1.5, vmax=1.5)
        ab = model.schedule.alphas_cumprod[t].item()
        ax.set(title=f"t = {t + 1}\n" + rf"$\bar\alpha_t$ = {ab:.2f}", xticks=[], yticks=[])
    return fig


@figure("causal-attention")
def causal_attention():
    """Chapter 9: the attention weights of an untrained GPT: a lower triangle, rows summing to 1."""
    from gdl.autoregressive import GPT

    torch.manual_seed(0)
    model = GPT(vocab_size=27, block_size=12)
    idx = torch.randint(1, 27, (1, 12))
    att = model.attention(idx)  # (n_layer, B, n_head, t, t)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    for ax, h in zip(axes, (0, 1)):
        ax.imshow(att[0, 0, h].detach(), cmap="Blues", vmin=0)
        ax.set(title=f"layer 1, head {h + 1}", xlabel="key position s", ylabel="query position t")
    fig.suptitle("Causal self-attention: query t sees only keys s ≤ t")
    return fig


@figure("progan-fade-in")
def progan_fade_in():
    """Chapter 10: an untrained ProGAN's 8×8 output as the new block fades in, for three codes."""
    from gdl.gan import ProGAN

    torch.manual_seed(0)
    model = ProGAN(event_shape=(1, 8, 8), latent_dim=16, width=32)  # grows 2×2 → 4×4 → 8×8
    z = torch.randn(3, 16)
    alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    with torch.no_grad():
        images = [model.generate(z, resolution=8, alpha=a) for a in alphas]  # each (3, 1, 8, 8)
    lim = max(x.abs().max() for x in images)
    fig, axes = plt.subplots(len(z), len(alphas), figsize=(7, 4.4))
    for j, (a, x) in enumerate(zip(alphas, images)):
        for i in range(len(z)):
            axes[i, j].imshow(x[i, 0], cmap="gray_r", vmin=-lim, vmax=lim)
            axes[i, j].set(xticks=[], yticks=[])
        note = {0.0: "4×4, pixels repeated", 1.0: "new block alone"}.get(a, "")
        axes[0, j].set_title(rf"$\alpha$ = {a:g}" + "\n" + note, fontsize=10)
    for i in range(len(z)):
        axes[i, 0].set_ylabel(f"code {i + 1}")
    return fig


@figure("weight-demodulation")
def weight_demodulation():
    """Chapter 10: a modulated convolution's output scale per channel, with and without demodulation."""
    from gdl.gan import modulated_conv2d

    g = torch.Generator().manual_seed(0)
    c_in, c_out, k = 16, 5, 3
    weight = torch.randn(c_out, c_in, k, k, generator=g) / math.sqrt(c_in * k * k)
    style = torch.rand(1, c_in, generator=g) + 0.5  # s, one scale per input channel
    x = torch.randn(1, c_in, 64, 64, generator=g)  # independent inputs of unit variance
    scales = torch.logspace(-1, 1, 9)  # the style multiplied by c
    plain = torch.stack([modulated_conv2d(x, weight, c * style, demodulate=False)[0].std((1, 2)) for c in scales])
    demod = torch.stack([modulated_conv2d(x, weight, c * style)[0].std((1, 2)) for c in scales])  # (9, C_out)
    norms = (style[0, :, None, None] * weight).pow(2).sum((1, 2, 3)).sqrt()  # sqrt(sum_jk w'_ojk^2), (C_out,)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for o in range(c_out):
        colour = f"C{o}"
        ax.loglog(scales, plain[:, o], "o-", color=colour, ms=3, lw=1)
        ax.loglog(scales, scales * norms[o], ":", color="k", lw=0.8)
        ax.loglog(scales, demod[:, o], "s--", color=colour, ms=3, lw=1)
    ax.plot([], [], "o-", color="grey", label="modulated only")
    ax.plot([], [], ":", color="k", label=r"predicted $c\,\sqrt{\sum_{j,k} {w'_{ojk}}^2}$")
    ax.plot([], [], "s--", color="grey", label="modulated and demodulated")
    ax.set(xlabel=r"style multiplied by $c$", ylabel="std of output channel $o$",
           title="Demodulation divides out each output channel's scale")
    ax.legend(fontsize=8, loc="upper left")
    return fig


@figure("chorale-tokens")
def chorale_tokens():
    """Chapter 11: two bars of a Bach chorale as a piano roll, each note marked with its token's index."""
    from gdl import data, music

    chorale = data.chorales("val")[0]
    tokens = data.tokenise(chorale)  # (L, 2): (pitch id, duration id), in order of onset
    steps = 32  # two bars of sixteenth notes
    fig, ax = plt.subplots(figsize=(9, 3.8))
    music.piano_roll(chorale.roll()[:steps], ax=ax, legend=False)
    clocks = [0] * len(data.VOICES)  # steps each voice has sounded so far
    labels: dict[tuple[int, int], list[str]] = {}  # (onset, pitch) -> token indices (unisons share a bar)
    for i, (p, d) in enumerate(tokens.tolist()):
        v = clocks.index(min(clocks))  # the next note belongs to the voice that is furthest behind
        if clocks[v] >= steps:
            break
        if p != 1:  # not a rest
            labels.setdefault((clocks[v], data.token_to_pitch(p)), []).append(str(i))
        clocks[v] += d
    for (onset, pitch), ids in labels.items():
        ax.text(onset + 0.3, pitch, ",".join(ids), va="center", fontsize=7, color="white", fontweight="bold")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in music.VOICE_COLOURS]
    ax.legend(handles, data.VOICES, fontsize=8, ncol=4, loc="lower center", bbox_to_anchor=(0.5, -0.3))
    ax.set(title=f"{chorale.name}: notes numbered in token order (by onset, top voice first)")
    return fig


@figure("cartpole-frames")
def cartpole_frames():
    """Chapter 12: one random CartPole episode as the agent sees it, 32×32 pixels in four grey levels."""
    from gdl.data import control

    episode = control.cartpole_rollouts(1, "test")
    frames = control.render_cartpole(episode.states)  # (T, 1, 32, 32), levels 0..3
    shown = torch.linspace(0, len(frames) - 1, 8).round().long()
    fig, axes = plt.subplots(1, len(shown), figsize=(10, 1.9))
    for ax, t in zip(axes, shown.tolist()):
        ax.imshow(frames[t, 0], cmap="gray_r", vmin=0, vmax=3)
        angle = math.degrees(episode.states[t, 2])
        ax.set(title=f"t = {t}\nθ = {angle:+.1f}°", xticks=[], yticks=[])
    return fig


@figure("mdn-temperature")
def mdn_temperature():
    """Chapter 12: samples of gdl.world_models.mdn_sample from one mixture at three temperatures."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from gdl.world_models import mdn_sample

    log_pi = torch.tensor([0.6, 0.3, 0.1]).log()  # one latent dimension, K = 3 components
    loc, scale = torch.tensor([-1.0, 0.8, 2.2]), torch.tensor([0.3, 0.4, 0.25])
    z = torch.linspace(-3, 4, 400)
    g = torch.Generator().manual_seed(0)
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.9), sharey=True)
    for ax, tau in zip(axes, (0.5, 1.0, 2.0)):
        n = 20_000
        draws = mdn_sample(log_pi.expand(n, 3), loc.expand(n, 3), scale.expand(n, 3), tau=tau, generator=g)
        ax.hist(draws, bins=80, range=(-3, 4), density=True, color="C0", alpha=0.5, label="mdn_sample")
        tempered = MixtureSameFamily(Categorical(logits=log_pi / tau), Normal(loc, math.sqrt(tau) * scale))
        ax.plot(z, tempered.log_prob(z).exp(), "C0", lw=1.2, label=r"$\mathrm{softmax}(\log\pi/\tau)$, $\tau\sigma^2$")
        model = MixtureSameFamily(Categorical(logits=log_pi), Normal(loc, scale))
        ax.plot(z, model.log_prob(z).exp(), "k:", lw=1, label=r"the model ($\tau = 1$)")
        ax.set(title=rf"$\tau$ = {tau}", xlabel=r"next code $z_{t+1,d}$")
    axes[0].set(ylabel="density")
    axes[2].legend(fontsize=8, loc="upper right")
    return fig


@figure("classifier-free-guidance")
def classifier_free_guidance():
    """Chapter 13: DDPM samples of one class of a 2-D toy, guided with weight w, from the exact noise predictions."""
    from gdl.diffusion import DDPM

    centres = torch.tensor([[-0.3, -0.2], [0.3, -0.2], [0.0, 0.32]])  # three overlapping classes
    std = 0.2

    class ExactGuided(DDPM):
        """The exact eps of the noised mixture stands in for a trained network."""

        def __init__(self, w):
            super().__init__(event_shape=(2,), num_steps=100, hidden=[8])  # the network goes unused
            self.w = w

        def eps(self, x_t, t, classes):  # -sqrt(1 - abar) * grad log q_t(x_t | classes)
            ab = self.schedule.alphas_cumprod[t]
            mean, var = ab.sqrt() * centres[classes], ab * std**2 + 1 - ab  # (K, 2), scalar
            logits = -((x_t[:, None] - mean) ** 2).sum(-1) / (2 * var)  # (B, K)
            r = logits.softmax(-1)
            score = (r[:, :, None] * (mean - x_t[:, None])).sum(1) / var
            return -(1 - ab).sqrt() * score

        def predict_noise(self, x_t, t):
            t = int(self._as_steps(t, x_t)[0])
            eps_c, eps_u = self.eps(x_t, t, [0]), self.eps(x_t, t, [0, 1, 2])
            return (1 + self.w) * eps_c - self.w * eps_u

    fig, axes = plt.subplots(1, 3, figsize=(9, 3.6), sharex=True, sharey=True)
    g = torch.linspace(-1, 1, 100)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    for ax, w in zip(axes, (0.0, 1.0, 4.0)):
        torch.manual_seed(0)
        x = ExactGuided(w).reverse(torch.randn(500, 2))
        for k, c in enumerate(centres):  # each class's density, at one and two standard deviations
            dens = torch.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * std**2))
            ax.contour(xx, yy, dens, levels=[math.exp(-2), math.exp(-0.5)], colors=f"C{k}", linewidths=0.8)
        ax.scatter(x[:, 0], x[:, 1], s=2, color="C0", alpha=0.6)
        ax.plot(*centres[0], "k+", ms=10)
        p_c = (-((x[:, None] - centres) ** 2).sum(-1) / (2 * std**2)).softmax(-1)[:, 0]  # p(c | x), Bayes
        ax.set(title=f"w = {w:g}\nmean p(c | x) = {p_c.mean():.2f}", xlabel=r"$x_1$", aspect="equal",
               xlim=(-1, 1), ylim=(-1, 1))
    axes[0].set(ylabel=r"$x_2$")
    fig.suptitle(r"Samples of the blue class $c$ (+) with "
                 r"$\tilde\epsilon = (1+w)\,\epsilon(x_t, c) - w\,\epsilon(x_t, \varnothing)$")
    return fig


@figure("taxonomy-map")
def taxonomy_map():
    """Chapter 14: every model of gdl.taxonomy, by family and by the kind of density it gives."""
    import textwrap

    import gdl
    from gdl.taxonomy import DENSITIES, FAMILIES, REGISTRY

    gdl.import_all()
    families, densities = list(FAMILIES.values()), list(DENSITIES.values())
    branch_colour = {"explicit, tractable": "#d8ecd8", "explicit, approximate": "#fdf0d0", "implicit": "#f6d8d8"}
    fig, ax = plt.subplots(figsize=(10, 5))
    for j, d in enumerate(densities):
        method = f"{d.method}(x)" if d.method else "no density"
        ax.text(j + 0.5, -0.1, f"{d.label}\n{method}", ha="center", va="bottom", fontsize=9, fontweight="bold")
        for i, f in enumerate(families):
            names = [n for n, c in REGISTRY.items() if c.family == f.key and c.density == d.key]
            ax.add_patch(plt.Rectangle((j + 0.03, i + 0.05), 0.94, 0.9,
                                       color=branch_colour[d.branch] if names else "0.96"))
            ax.text(j + 0.5, i + 0.5, textwrap.fill(", ".join(names), 24), ha="center", va="center", fontsize=8)
    for i, f in enumerate(families):
        chapters = ", ".join(map(str, f.chapters))
        ax.text(-0.05, i + 0.5, f"{f.name}\n(ch. {chapters})", ha="right", va="center", fontsize=9)
    for branch, colour in branch_colour.items():
        ax.add_patch(plt.Rectangle((0, 0), 0, 0, color=colour, label=branch))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3, fontsize=8, frameon=False)
    ax.set(xlim=(0, len(densities)), ylim=(len(families), 0))
    ax.axis("off")
    return fig
