r"""VQ-VAE: a discrete latent grid, a learned codebook, and a PixelCNN prior over the codes.

The encoder maps an image to a grid of :math:`D`-dimensional vectors :math:`z_e(x)`; each is
replaced by its nearest codebook vector, :math:`z_q = e_k`, :math:`k = \arg\min_j \lVert z_e -
e_j\rVert`; the decoder turns the quantised grid back into a categorical distribution per pixel.
A :class:`~gdl.autoregressive.PixelCNN` over the integer grid of code indices is the prior that
makes the model generative.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import Categorical, Independent

from ..autoregressive import PixelCNN
from .. import _checks as checks
from ..base import GenerativeModel
from ..taxonomy import register

__all__ = ["VQVAE", "VectorQuantizer", "Quantized", "code_usage"]


def code_usage(codes: torch.Tensor, num_codes: int) -> dict[str, float | torch.Tensor]:
    r"""How evenly a batch of code indices uses the codebook.

    With :math:`p_k` the fraction of grid positions assigned to code :math:`k`,

    .. math::

        \mathrm{perplexity} = \exp\Big(-\sum_k p_k \log p_k\Big) \in [1, K],

    the effective number of codes in use: :math:`K` when all are used equally, 1 when one code
    takes everything.

    Arguments:
        codes: integer code indices of any shape.
        num_codes: codebook size :math:`K`.

    Returns:
        a dict with ``"counts"`` (``(K,)`` int64), ``"perplexity"`` (float) and ``"used"`` (the
        fraction of the :math:`K` codes that occur at least once, float).

    Example:
        >>> code_usage(torch.tensor([0, 1, 2, 3]), 8)["perplexity"]
        4.0
    """
    counts = torch.bincount(codes.flatten(), minlength=num_codes)  # (K,)
    p = counts.double() / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()  # 0 log 0 = 0
    return {
        "counts": counts,
        "perplexity": round(math.exp(entropy.item()), 6),
        "used": (counts > 0).double().mean().item(),
    }


class Quantized(NamedTuple):
    """What :class:`VectorQuantizer` returns; per-example losses are summed over the grid."""

    z_q: torch.Tensor  #: (B, D, h, w) quantised vectors, with straight-through gradients to z_e
    codes: torch.Tensor  #: (B, h, w) int64 indices of the chosen codebook vectors
    codebook_loss: torch.Tensor  #: (B,) sum of ||sg[z_e] - e||^2, which moves the codebook only
    commitment_loss: torch.Tensor  #: (B,) sum of ||z_e - sg[e]||^2, which moves the encoder only


class VectorQuantizer(nn.Module):
    r"""Nearest-neighbour quantisation against a learned codebook of :math:`K` vectors.

    Each :math:`D`-vector of the grid :math:`z_e` is replaced by the closest codebook row,

    .. math::

        k = \arg\min_j \lVert z_e - e_j \rVert^2, \qquad z_q = e_k .

    The argmin has no gradient, so the forward value is :math:`z_q` but the backward pass copies
    the decoder's gradient straight to :math:`z_e` (the *straight-through* estimator,
    ``z_q = z_e + (z_q - z_e).detach()``). The codebook, which then gets no gradient from the
    reconstruction, is trained by its own term, and the encoder is kept near its codes by a
    commitment term (``sg`` is stop-gradient):

    .. math::

        \mathcal{L}_\text{codebook} = \lVert \mathrm{sg}[z_e] - e_k \rVert^2, \qquad
        \mathcal{L}_\text{commit} = \lVert z_e - \mathrm{sg}[e_k] \rVert^2 .

    The codebook starts as :math:`K` encoder outputs drawn from the first training batch
    (:meth:`init_from`), so that every code starts where data is; codes placed at random
    tend to lose every nearest-neighbour contest and never train.

    Arguments:
        num_codes: codebook size :math:`K`.
        code_dim: dimension :math:`D` of each code.

    Shapes:
        input ``z_e``: ``(B, D, h, w)``; returns a :class:`Quantized`.

    Example:
        >>> vq = VectorQuantizer(num_codes=8, code_dim=2)
        >>> q = vq(torch.randn(3, 2, 4, 4))
        >>> q.z_q.shape, q.codes.shape, q.codebook_loss.shape
        (torch.Size([3, 2, 4, 4]), torch.Size([3, 4, 4]), torch.Size([3]))

    References:
        Van den Oord, Vinyals and Kavukcuoglu, *Neural Discrete Representation Learning*, 2017,
        https://arxiv.org/abs/1711.00937.
    """

    def __init__(self, num_codes: int, code_dim: int):
        super().__init__()
        self.num_codes = checks.positive_int(num_codes, "num_codes")
        self.code_dim = checks.positive_int(code_dim, "code_dim")
        # Codes placed arbitrarily mostly lie far from every encoder output: one code wins all
        # the nearest-neighbour contests, the others never get a gradient and stay dead. So the
        # codebook is initialised from data instead, the first time it sees a batch in training
        # mode (:meth:`init_from`); the flag is a buffer so a loaded model is not re-initialised.
        self.codebook = nn.Parameter(torch.randn(num_codes, code_dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def init_from(self, z: torch.Tensor) -> None:
        """Set the codebook to ``K`` random rows of ``z`` ``(N, D)`` (with replacement if N < K)."""
        N, K = z.shape[0], self.num_codes
        if N >= K:
            idx = torch.randperm(N, device=z.device)[:K]  # K distinct rows
        else:
            idx = torch.randint(0, N, (K,), device=z.device)  # too few rows: repeat some
        self.codebook.copy_(z[idx])
        self.initialized.fill_(True)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Indices ``(N,)`` of the nearest codebook rows to vectors ``z`` of shape ``(N, D)``."""
        # ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2, for all pairs at once without an (N, K, D) tensor
        dist = (
            z.pow(2).sum(1, keepdim=True) - 2 * z @ self.codebook.t() + self.codebook.pow(2).sum(1)
        )  # (N, K)
        return dist.argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook vectors for integer codes ``(B, h, w)`` → ``(B, D, h, w)``."""
        return self.codebook[codes].permute(0, 3, 1, 2)  # (B, h, w, D) -> (B, D, h, w)

    def forward(self, z_e: torch.Tensor) -> Quantized:
        B, D, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, D)  # (B*h*w, D): one row per grid position
        if self.training and not self.initialized:
            self.init_from(flat.detach())
        codes = self.nearest(flat.detach()).view(B, h, w)  # (B, h, w)
        e = self.lookup(codes)  # (B, D, h, w)
        codebook_loss = (z_e.detach() - e).pow(2).sum((1, 2, 3))  # (B,): gradient to e only
        commitment_loss = (z_e - e.detach()).pow(2).sum((1, 2, 3))  # (B,): gradient to z_e only
        z_q = z_e + (e - z_e).detach()  # value e, gradient of identity w.r.t. z_e
        return Quantized(z_q, codes, codebook_loss, commitment_loss)


@register("latent")
class VQVAE(GenerativeModel):
    r"""Vector-quantised VAE over 1-channel images of integer levels, with a PixelCNN prior.

    .. math::

        \mathcal{L}(x) = \underbrace{-\log p_\theta(x \mid z_q(x))}_\text{reconstruction, nats}
        + \lVert \mathrm{sg}[z_e(x)] - z_q \rVert^2
        + \beta\, \lVert z_e(x) - \mathrm{sg}[z_q] \rVert^2
        \underbrace{- \log p_\psi(\mathrm{sg}[k(x)])}_\text{prior over codes, nats},

    with :math:`k(x)` the grid of code indices; the first and last terms are minus :meth:`elbo`.
    The encoder (``downsample`` stride-2 convolutions) gives a grid of :math:`h \times w`
    vectors; :class:`VectorQuantizer` snaps each to one of ``num_codes`` codebook vectors; the
    decoder (transposed convolutions back up) gives a categorical over ``num_levels`` values per
    pixel. ``sample(n)`` draws a code grid from the PixelCNN prior :math:`p_\psi(k)` and decodes it.

    **The prior is trained jointly, on detached codes.** The paper trains the VQ-VAE first and
    the PixelCNN prior afterwards. Here the prior is a submodule and :meth:`loss` adds its NLL
    of the *detached* code grid, so the two parts share no gradient: the prior never pulls on
    the encoder, and it simply keeps fitting the codes as they settle. One ``loss``, one
    optimiser and one call to :func:`gdl.fit` train the whole model, and every parameter gets a
    gradient from ``loss(x)`` as the contract asks. (The prior reads each code index scaled to
    :math:`[0, 1]`, as it would a pixel. Codes have no order, but its output is a categorical
    over all :math:`K` codes, which imposes none, and the scaled input is enough on small grids.)

    **A lower bound, not a likelihood.** The generative model is :math:`p_\psi(k)\,
    p_\theta(x \mid k)` with a discrete code grid :math:`k`, so :math:`p(x) = \sum_k p_\psi(k)
    p_\theta(x \mid k)` is at least any one of its terms. The encoder's grid :math:`k(x)` (a
    deterministic :math:`q`, whose entropy is 0) gives the bound :meth:`elbo` returns,

    .. math::

        \log p(x) \;\ge\; \log p_\theta(x \mid k(x)) + \log p_\psi(k(x)),

    whose gap is :math:`-\log p(k(x) \mid x)`: tight when :math:`k(x)` carries all the
    posterior mass. The model is therefore registered
    with density kind *bound*. The training loss adds the codebook and commitment terms to
    :math:`-\mathrm{ELBO}`; they shape the codebook and do not change the bound's meaning.

    Arguments:
        event_shape: ``(1, H, W)``; ``H`` and ``W`` divisible by ``2 ** downsample``.
        num_levels: values each pixel takes, ``0 .. num_levels - 1`` (17 for the digits).
        num_codes: codebook size :math:`K`.
        code_dim: dimension :math:`D` of each code vector.
        hidden: channels of the encoder and decoder.
        downsample: stride-2 layers; the code grid is ``(H / 2**downsample, W / 2**downsample)``.
        beta: weight :math:`\beta` of the commitment loss (0.25 in the paper).
        prior_hidden: channels of the PixelCNN prior.
        prior_blocks: gated blocks of the PixelCNN prior.

    Shapes:
        - ``loss(x)``: ``(B, 1, H, W)`` integers → scalar.
        - ``encode(x)``: → ``(B, 1, h, w)`` int64 codes (a one-channel "image" of code indices).
        - ``sample(n)``: → ``(n, 1, H, W)`` int64.

    Example:
        >>> model = VQVAE(event_shape=(1, 8, 8), num_levels=17, num_codes=8, code_dim=4, hidden=8,
        ...               prior_hidden=8, prior_blocks=1)
        >>> x = torch.randint(0, 17, (5, 1, 8, 8))
        >>> model.encode(x).shape
        torch.Size([5, 1, 4, 4])
        >>> model.loss(x).shape, model.sample(2).shape
        (torch.Size([]), torch.Size([2, 1, 8, 8]))

    References:
        Van den Oord, Vinyals and Kavukcuoglu, *Neural Discrete Representation Learning*, 2017,
        https://arxiv.org/abs/1711.00937.
    """

    def __init__(
        self,
        event_shape: tuple[int, int, int] = (1, 8, 8),
        num_levels: int = 17,
        num_codes: int = 32,
        code_dim: int = 16,
        hidden: int = 64,
        downsample: int = 1,
        beta: float = 0.25,
        prior_hidden: int = 32,
        prior_blocks: int = 2,
    ):
        super().__init__()
        event_shape = checks.event_shape(event_shape, ndim=3)
        if event_shape[0] != 1:
            raise ValueError(f"event_shape must be (1, H, W), got {event_shape!r}")
        self.num_levels = checks.num_levels(num_levels)
        hidden = checks.positive_int(hidden, "hidden")
        scale = 2 ** checks.positive_int(downsample, "downsample")
        if event_shape[1] % scale or event_shape[2] % scale:
            raise ValueError(
                f"downsample={downsample} needs H and W divisible by {scale}, got {event_shape!r}"
            )
        self.num_codes = checks.num_levels(num_codes, "num_codes")
        self.beta = checks.number(beta, "beta", low=0.0)
        self.event_shape = event_shape
        self.grid_shape = (event_shape[1] // scale, event_shape[2] // scale)  # (h, w)

        # Encoder: each stride-2 4x4 convolution halves H and W; a 1x1 projects to D channels.
        layers: list[nn.Module] = [nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU()]
        for _ in range(downsample):
            layers += [nn.Conv2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(hidden, code_dim, 1)]  # (B, D, h, w)
        self.encoder = nn.Sequential(*layers)

        self.quantizer = VectorQuantizer(num_codes, code_dim)

        # Decoder: the mirror image; transposed 4x4 stride-2 convolutions double H and W.
        layers = [nn.Conv2d(code_dim, hidden, 3, padding=1), nn.ReLU()]
        for _ in range(downsample):
            layers += [nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(hidden, num_levels, 1)]  # logits over the pixel levels
        self.decoder = nn.Sequential(*layers)

        # The prior over the (1, h, w) grid of code indices; 3x3 kernels suit a small grid.
        self.prior = PixelCNN(
            event_shape=(1, *self.grid_shape),
            num_levels=num_codes,
            hidden=prior_hidden,
            num_blocks=prior_blocks,
            kernel_size=3,
        )

    # ------------------------------------------------------------------ encoder side
    def encode_continuous(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's output :math:`z_e(x)`, ``(B, D, h, w)``, before quantisation."""
        inp = self._check_data(x).float() / (self.num_levels - 1)  # (B, 1, H, W) in [0, 1]
        return self.encoder(inp)

    def quantize(self, x: torch.Tensor) -> Quantized:
        """Encode and quantise ``x``: a :class:`Quantized` with ``z_q``, codes and both losses."""
        return self.quantizer(self.encode_continuous(x))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices ``(B, 1, h, w)`` int64 of images ``x`` ``(B, 1, H, W)``."""
        return self.quantize(x).codes.unsqueeze(1)  # (B, h, w) -> (B, 1, h, w)

    # ------------------------------------------------------------------ decoder side
    def _likelihood(self, z_q: torch.Tensor) -> Independent:
        logits = self.decoder(z_q)  # (B, L, H, W)
        logits = logits.permute(0, 2, 3, 1).unsqueeze(1)  # (B, 1, H, W, L): L levels last
        return Independent(Categorical(logits=logits), 3)  # event (1, H, W), batch (B,)

    def decode(self, codes: torch.Tensor) -> Independent:
        r"""The decoder's distribution :math:`p(x \mid z_q)` for code grids ``(B, 1, h, w)``.

        Returns an ``Independent(Categorical)`` with batch shape ``(B,)`` and event shape
        ``(1, H, W)``: ``.log_prob(x)`` gives nats per image, ``.sample()`` images.
        """
        codes = checks.levels(checks.batch(codes, (1, *self.grid_shape), "codes"), self.num_codes, "codes")
        return self._likelihood(self.quantizer.lookup(codes[:, 0]))  # (B, h, w) -> (B, D, h, w)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely image under :math:`p(x \\mid z_q(x))`, ``(B, 1, H, W)`` int64."""
        probs = self.decode(self.encode(x)).base_dist.probs  # (B, 1, H, W, L)
        return probs.argmax(-1)

    # ------------------------------------------------------------------ training
    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The four per-example terms of :meth:`loss`, each of shape ``(B,)``.

        Keys: ``"reconstruction"`` (nats), ``"codebook"``, ``"commitment"`` (unweighted; the loss
        multiplies it by :math:`\\beta`) and ``"prior"`` (the PixelCNN's NLL of the code grid,
        nats).
        """
        q = self.quantize(x)
        return {
            "reconstruction": -self._likelihood(q.z_q).log_prob(x),
            "codebook": q.codebook_loss,
            "commitment": q.commitment_loss,
            "prior": -self.prior.log_prob(q.codes.detach().unsqueeze(1)),  # (B, 1, h, w) codes
        }

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""The bound :math:`\log p_\theta(x \mid k(x)) + \log p_\psi(k(x)) \le \log p(x)`.

        Returns:
            ``(B,)`` nats; see the class docstring for why it is a bound.
        """
        terms = self.losses(x)
        return -(terms["reconstruction"] + terms["prior"])

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction NLL + codebook loss + β · commitment loss + prior NLL, batch mean."""
        terms = self.losses(x)
        total = terms["reconstruction"] + terms["codebook"] + self.beta * terms["commitment"]
        return (total + terms["prior"]).mean()

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One step on :meth:`loss`; also logs the mean reconstruction and prior NLL (nats)."""
        x = batch[0] if isinstance(batch, tuple) else batch
        terms = self.losses(x)
        total = terms["reconstruction"] + terms["codebook"] + self.beta * terms["commitment"]
        loss = (total + terms["prior"]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {
            "loss": loss.item(),
            "reconstruction": terms["reconstruction"].mean().item(),
            "prior": terms["prior"].mean().item(),
        }

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, mode: bool = False) -> torch.Tensor:
        """Draw a code grid from the PixelCNN prior, then an image from the decoder.

        Arguments:
            n: number of samples.
            temperature: the prior's sampling temperature (see :meth:`PixelCNN.sample`).
            mode: return the decoder's most likely image for each code grid instead of a draw
                (pixel-wise draws add independent noise the decoder cannot correlate).

        Returns:
            images ``(n, 1, H, W)`` int64.
        """
        n = self._check_n(n)
        codes = self.prior.sample(n, temperature=temperature)  # (n, 1, h, w)
        px = self.decode(codes)
        return px.base_dist.probs.argmax(-1) if mode else px.sample()

    @torch.no_grad()
    def code_usage(self, x: torch.Tensor) -> dict[str, float | torch.Tensor]:
        """Code usage on images ``x``: counts, perplexity, fraction used (:func:`code_usage`)."""
        return code_usage(self.encode(x), self.num_codes)
