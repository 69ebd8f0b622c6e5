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
