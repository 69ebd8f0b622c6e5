r"""Models that join text and images (chapter 13): a tiny CLIP, and the parts of Flamingo.

* :class:`CLIP`: an :class:`ImageEncoder` and a :class:`TextEncoder` trained so that an image
  and its caption land on nearby points of one sphere (:func:`clip_loss`); classification by
  comparing an image with the embedding of a prompt per class needs no labels at all
  (:meth:`CLIP.zero_shot`).
* :class:`PerceiverResampler`, :class:`GatedCrossAttention` and :class:`Flamingo`: a frozen
  language model (:class:`gdl.GPT`) that reads an image through a fixed number of visual
  tokens and tanh-gated cross-attention layers, zero at initialisation, so that training
  starts from the language model exactly as it was.

These are not generative models of images on their own: :class:`gdl.diffusion.GuidedDDPM`
draws images given a caption, and :class:`Flamingo` draws captions given an image.

Example:
    >>> import torch
    >>> model = CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=8, width=4, text_dim=8)
    >>> x = torch.randint(0, 17, (5, 1, 8, 8))
    >>> tokens = torch.randint(1, 20, (5, 6))
    >>> model.loss(x, tokens).shape, model.similarity(x, tokens).shape
    (torch.Size([]), torch.Size([5, 5]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import _checks as checks
from .data.captioned import MAX_TOKENS, VOCAB

__all__ = [
    "clip_loss",
    "ImageEncoder",
    "TextEncoder",
    "CLIP",
    "PerceiverResampler",
    "GatedCrossAttention",
    "Flamingo",
]


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    r"""The symmetric contrastive (InfoNCE) loss of CLIP on a batch of :math:`B` matching pairs.

    With unit embeddings :math:`\mathbf{u}_i` (images) and :math:`\mathbf{v}_j` (texts) and the
    logits :math:`s_{ij} = \mathbf{u}_i^\top\mathbf{v}_j / \tau`,

    .. math::

        L = \frac{1}{2B}\sum_{i=1}^{B}\Big[-\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
        - \log\frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\Big]:

    each image must pick its own caption among the batch's :math:`B`, and each caption its own
    image. When all embeddings are equal every choice is a guess among :math:`B`, so
    :math:`L = \log B`.

    Arguments:
        image_emb: ``(B, E)`` unit vectors.
        text_emb: ``(B, E)`` unit vectors; row :math:`i` describes image :math:`i`.
        logit_scale: :math:`1/\tau`.

    Example:
        >>> u = torch.ones(4, 3) / 3**0.5
        >>> round(clip_loss(u, u, 10.0).item(), 4) == round(math.log(4), 4)
        True
    """
    logits = logit_scale * image_emb @ text_emb.T  # (B, B): images along rows, texts along columns
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class ImageEncoder(nn.Module):
    r"""A small convolutional network from an image to a unit vector.

    Two 3×3 convolutions (each halving the side, except on 8×8 images, whose first keeps it), a
    hidden ReLU layer and a linear projection, normalised to unit length.

    Arguments:
        image_shape: ``(C, H, W)``.
        embed_dim: size of the embedding.
        width: channels of the first convolution (the second has twice as many).
        hidden: size of the hidden layer.
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28), embed_dim: int = 64, width: int = 32,
                 hidden: int = 128):
        super().__init__()
        c, h, w = checks.event_shape(image_shape, "image_shape", ndim=3)
        first = 1 if h <= 8 else 2
        side_h, side_w = -(-(-(-h // first)) // 2), -(-(-(-w // first)) // 2)
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, stride=first, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),  # (B, 2 * width * side_h * side_w)
            nn.Linear(2 * width * side_h * side_w, hidden),
            nn.ReLU(),
            nn.Linear(hidden, embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(B, embed_dim)`` of images ``(B, C, H, W)`` scaled to [0, 1]."""
        return F.normalize(self.body(x), dim=-1)


class TextEncoder(nn.Module):
    r"""A one-layer transformer from token ids to a unit vector.

    Token and position embeddings, one pre-norm transformer layer that attends over the
    non-padding tokens (id 0 is padding), the mean over those tokens, and a linear projection
    normalised to unit length.

    Arguments:
        vocab_size: number of token ids.
        max_tokens: length of the token sequences.
        dim: width of the transformer.
        embed_dim: size of the embedding.
        num_heads: attention heads.

    Example:
        >>> enc = TextEncoder(vocab_size=10, max_tokens=4, dim=8, embed_dim=3, num_heads=2)
        >>> u = enc(torch.tensor([[1, 2, 0, 0], [3, 0, 0, 0]]))
        >>> u.shape, torch.allclose(u.norm(dim=-1), torch.ones(2))
        (torch.Size([2, 3]), True)
    """

    def __init__(self, vocab_size: int = len(VOCAB), max_tokens: int = MAX_TOKENS, dim: int = 64,
                 embed_dim: int = 64, num_heads: int = 4):
        super().__init__()
        self.vocab_size = checks.int_at_least(vocab_size, "vocab_size", 2)
        self.max_tokens = checks.positive_int(max_tokens, "max_tokens")
        checks.positive_int(dim, "dim")
        if dim % checks.positive_int(num_heads, "num_heads"):
            raise ValueError(f"dim must be a multiple of num_heads, got dim={dim}, num_heads={num_heads}")
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.randn(max_tokens, dim) * 0.02)
        self.layer = nn.TransformerEncoderLayer(dim, num_heads, 2 * dim, dropout=0.0, batch_first=True,
                                                norm_first=True)
        self.proj = nn.Linear(dim, embed_dim)

    def check_tokens(self, tokens, name: str = "tokens") -> torch.Tensor:
        """Token ids ``(B, max_tokens)`` in ``0 .. vocab_size - 1``, each sequence with a word."""
        tokens = checks.levels(checks.batch(tokens, (self.max_tokens,), name), self.vocab_size, name)
        if not (tokens != 0).any(dim=1).all():
            raise ValueError(f"{name} must hold at least one non-padding token per sequence")
        return tokens

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(B, embed_dim)`` of token ids ``(B, max_tokens)``."""
        pad = tokens == 0  # (B, T)
        h = self.token_embedding(tokens) + self.position_embedding  # (B, T, dim)
        h = self.layer(h, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()  # (B, T, 1)
        h = (h * keep).sum(1) / keep.sum(1)  # (B, dim): mean over the words
        return F.normalize(self.proj(h), dim=-1)


class CLIP(nn.Module):
    r"""Contrastive language-image pre-training, at toy scale.

    An image encoder :math:`f` and a text encoder :math:`g` map a picture and a caption to unit
    vectors; training (:func:`clip_loss`) makes matching pairs more similar than the
    :math:`B - 1` mismatched pairs of the batch, in both directions. The temperature is learned
    through :math:`\log(1/\tau)`, clamped so that :math:`1/\tau \le` ``max_logit_scale``
    (without the clamp it can grow until the logits overflow).

    Zero-shot classification compares an image with one prompt per class, ``"a sneaker"``, and
    picks the closest; with several prompts per class (all attribute combinations), their
    embeddings are averaged, *prompt ensembling*.

    Arguments:
        image_shape: ``(C, H, W)`` of the images.
        num_levels: grey levels of the images (integers ``0 .. num_levels - 1``).
        vocab_size: size of the token vocabulary (default: :data:`gdl.data.VOCAB`).
        max_tokens: length of a token sequence.
        embed_dim: size of the joint embedding.
        width: channels of the image encoder's first convolution.
        text_dim: width of the text transformer.
        temperature: initial :math:`\tau`.
        max_logit_scale: the clamp on :math:`1/\tau`.

    Example:
        >>> model = CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=8, width=4, text_dim=8)
        >>> prompts = torch.randint(1, 20, (3, 2, 6))  # 3 classes, 2 prompts each
        >>> model.zero_shot(torch.randint(0, 17, (4, 1, 8, 8)), prompts).shape
        torch.Size([4])

    References:
        Radford et al., *Learning Transferable Visual Models From Natural Language
        Supervision*, ICML 2021, https://arxiv.org/abs/2103.00020 .
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        num_levels: int = 256,
        vocab_size: int = len(VOCAB),
        max_tokens: int = MAX_TOKENS,
        embed_dim: int = 64,
        width: int = 32,
        text_dim: int = 64,
        temperature: float = 0.07,
        max_logit_scale: float = 100.0,
    ):
        super().__init__()
        self.image_shape = checks.event_shape(image_shape, "image_shape", ndim=3)
        self.num_levels = checks.num_levels(num_levels)
        temperature = checks.positive(temperature, "temperature")
        self.max_logit_scale = checks.positive(max_logit_scale, "max_logit_scale")
        if 1 / temperature > self.max_logit_scale:
            raise ValueError(f"temperature must be at least 1/max_logit_scale, got {temperature}")
        self.image_encoder = ImageEncoder(self.image_shape, embed_dim, width)
        self.text_encoder = TextEncoder(vocab_size, max_tokens, text_dim, embed_dim, num_heads=4 if text_dim % 4 == 0 else 1)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @property
    def logit_scale(self) -> torch.Tensor:
        r""":math:`1/\tau`, clamped to at most ``max_logit_scale``."""
        return self.log_logit_scale.clamp(max=math.log(self.max_logit_scale)).exp()

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(B, embed_dim)`` of integer images ``(B, *image_shape)``."""
        x = checks.levels(checks.batch(x, self.image_shape, "x"), self.num_levels, "x")
        dev = self.log_logit_scale.device
        return self.image_encoder(x.to(dev).float() / (self.num_levels - 1))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit embeddings ``(B, embed_dim)`` of token ids ``(B, max_tokens)``."""
        tokens = self.text_encoder.check_tokens(tokens)
        return self.text_encoder(tokens.to(self.log_logit_scale.device))

    def loss(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """:func:`clip_loss` of a batch of images and their captions."""
        if len(x) != len(tokens):
            raise ValueError(f"x and tokens must hold the same number of pairs, got {len(x)} and {len(tokens)}")
        return clip_loss(self.encode_image(x), self.encode_text(tokens), self.logit_scale)

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """AdamW with a little weight decay (none on the temperature)."""
        decay = [p for n, p in self.named_parameters() if n != "log_logit_scale"]
        return torch.optim.AdamW(
            [{"params": decay, "weight_decay": 1e-4}, {"params": [self.log_logit_scale], "weight_decay": 0.0}], lr=lr
        )

    @torch.no_grad()
    def similarity(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        r"""Cosine similarities :math:`\mathbf{u}_i^\top\mathbf{v}_j`, shape ``(len(x), len(tokens))``."""
        return self.encode_image(x) @ self.encode_text(tokens).T

    @torch.no_grad()
    def class_embeddings(self, prompts: torch.Tensor) -> torch.Tensor:
        """Unit embedding of each class from its prompts ``(K, P, T)`` (or ``(K, T)``), ``(K, E)``."""
        prompts = checks.tensor(prompts, "prompts")
        if prompts.dim() == 2:
            prompts = prompts.unsqueeze(1)
        if prompts.dim() != 3 or prompts.shape[0] < 2:
            raise ValueError(f"prompts must have shape (classes >= 2, prompts, tokens), got {tuple(prompts.shape)}")
        k, p, t = prompts.shape
        emb = self.encode_text(prompts.reshape(k * p, t)).view(k, p, -1).mean(1)  # prompt ensembling
        return F.normalize(emb, dim=-1)

    @torch.no_grad()
    def zero_shot(self, x: torch.Tensor, prompts: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted class of each image ``(B,)``: the class whose prompts are most similar.

        Arguments:
            x: integer images ``(B, *image_shape)``.
            prompts: token ids, ``(K, T)`` (one prompt per class) or ``(K, P, T)`` (``P`` each).
        """
        was = self.training
        self.eval()
        classes = self.class_embeddings(prompts)  # (K, E)
        x = checks.tensor(x, "x")
        out = torch.cat([(self.encode_image(x[i : i + batch_size]) @ classes.T).argmax(1)
                         for i in range(0, len(x), batch_size)]) if len(x) else self.encode_image(x)
        self.train(was)
        return out


# ---------------------------------------------------------------------------- Flamingo
class _FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int = 2):
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.GELU(), nn.Linear(mult * dim, dim))


class PerceiverResampler(nn.Module):
    r"""A fixed number of learned queries that read any number of image tokens.

    ``num_latents`` learned vectors :math:`\mathbf{q}` attend to the image tokens (and to
    themselves), then pass an MLP, ``depth`` times:

    .. math::

        \mathbf{q} \leftarrow \mathbf{q} + \mathrm{Attn}\big(\mathrm{LN}(\mathbf{q}),\,
        [\mathrm{LN}(\mathbf{x}); \mathrm{LN}(\mathbf{q})]\big), \qquad
        \mathbf{q} \leftarrow \mathbf{q} + \mathrm{MLP}(\mathbf{q}).

    Whatever the number :math:`N` of image tokens (a larger image, several frames), the
    language model sees ``num_latents`` visual tokens, so the cost of its cross-attention does
    not grow with the image.

    Arguments:
        dim: width of the tokens.
        num_latents: number of output tokens.
        depth: number of attention + MLP layers.
        num_heads: attention heads.

    Shapes:
        ``(B, N, dim)`` → ``(B, num_latents, dim)`` for any ``N >= 1``.

    Example:
        >>> r = PerceiverResampler(dim=8, num_latents=3, num_heads=2)
        >>> r(torch.randn(2, 5, 8)).shape, r(torch.randn(2, 50, 8)).shape
        (torch.Size([2, 3, 8]), torch.Size([2, 3, 8]))
    """

    def __init__(self, dim: int, num_latents: int = 8, depth: int = 1, num_heads: int = 4):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        self.num_latents = checks.positive_int(num_latents, "num_latents")
        if dim % checks.positive_int(num_heads, "num_heads"):
            raise ValueError(f"dim must be a multiple of num_heads, got dim={dim}, num_heads={num_heads}")
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "norm_x": nn.LayerNorm(dim),
                "norm_q": nn.LayerNorm(dim),
                "attn": nn.MultiheadAttention(dim, num_heads, batch_first=True),
                "ff": _FeedForward(dim),
            })
            for _ in range(checks.positive_int(depth, "depth"))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = checks.tensor(x, "x")
        if x.dim() != 3 or x.shape[1] < 1 or x.shape[2] != self.dim:
            raise ValueError(f"x must have shape (B, N >= 1, {self.dim}), got {tuple(x.shape)}")
        q = self.latents.expand(len(x), -1, -1)  # (B, num_latents, dim)
        for layer in self.layers:
            kv = torch.cat([layer["norm_x"](x), layer["norm_q"](q)], dim=1)  # (B, N + num_latents, dim)
            q = q + layer["attn"](layer["norm_q"](q), kv, kv, need_weights=False)[0]
            q = q + layer["ff"](q)
        return q


class GatedCrossAttention(nn.Module):
    r"""Cross-attention from text to visual tokens, added through a tanh gate that starts shut.

    .. math::

        \mathbf{h} \leftarrow \mathbf{h} + \tanh(\alpha)\,\mathrm{Attn}(\mathrm{LN}(\mathbf{h}), \mathbf{v}),
        \qquad \mathbf{h} \leftarrow \mathbf{h} + \tanh(\beta)\,\mathrm{MLP}(\mathbf{h}),

    with :math:`\alpha = \beta = 0` at initialisation: :math:`\tanh(0) = 0`, so the layer is the
    identity and a frozen language model it is inserted into computes exactly what it computed
    before. Training opens the gates as far as the images help.

    Arguments:
        dim: width of the text stream and of the visual tokens.
        num_heads: attention heads.

    Example:
        >>> layer = GatedCrossAttention(dim=8, num_heads=2)
        >>> h = torch.randn(2, 4, 8)
        >>> torch.equal(layer(h, torch.randn(2, 3, 8)), h)  # gates at 0: the identity
        True
    """

    def __init__(self, dim: int, num_heads: int = 4):
        super().__init__()
        checks.positive_int(dim, "dim")
        if dim % checks.positive_int(num_heads, "num_heads"):
            raise ValueError(f"dim must be a multiple of num_heads, got dim={dim}, num_heads={num_heads}")
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.ff = _FeedForward(dim)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.ff_gate = nn.Parameter(torch.zeros(()))

    def forward(self, h: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """Text states ``(B, T, dim)`` reading visual tokens ``(B, M, dim)`` → ``(B, T, dim)``."""
        h = h + self.attn_gate.tanh() * self.attn(self.norm(h), visual, visual, need_weights=False)[0]
        return h + self.ff_gate.tanh() * self.ff(h)


class Flamingo(nn.Module):
    r"""A frozen language model that reads an image: captioning at toy scale.

    An image becomes a grid of feature vectors (a small convolutional network), the
    :class:`PerceiverResampler` turns them into ``num_latents`` visual tokens, and a
    :class:`GatedCrossAttention` layer before each block of the language model lets the text
    read them. The language model (a :class:`gdl.GPT` trained on text alone) is frozen: only
    the vision side, the resampler and the gated layers learn. The model gives the exact
    log-probability of a caption given an image,

    .. math::

        \log p(\mathbf{y}\mid\mathbf{x}) = \sum_t \log p(y_t \mid \mathbf{y}_{<t}, \mathbf{x}),

    with the conventions of :class:`~gdl.autoregressive.sequence.TokenARM` (token 0 ends a
    caption and pads it).

    Arguments:
        lm: the language model, a :class:`gdl.GPT`; its parameters are frozen.
        image_shape: ``(C, H, W)`` of the images.
        num_levels: grey levels of the images.
        num_latents: visual tokens per image.
        width: channels of the image network.

    Example:
        >>> from gdl import GPT
        >>> lm = GPT(vocab_size=7, block_size=4, n_layer=2, n_head=2, n_embd=8)
        >>> model = Flamingo(lm, image_shape=(1, 8, 8), num_levels=17, num_latents=2, width=4)
        >>> x, y = torch.randint(0, 17, (3, 1, 8, 8)), torch.tensor([[1, 2, 0, 0]] * 3)
        >>> model.log_prob(x, y).shape, model.caption(x).shape
        (torch.Size([3]), torch.Size([3, 4]))

    References:
        Alayrac et al., *Flamingo: a Visual Language Model for Few-Shot Learning*, NeurIPS
        2022, https://arxiv.org/abs/2204.14198 .
    """

    def __init__(self, lm, image_shape: Sequence[int] = (1, 28, 28), num_levels: int = 256,
                 num_latents: int = 8, width: int = 32):
        super().__init__()
        from .autoregressive import GPT

        if not isinstance(lm, GPT):
            raise ValueError(f"lm must be a gdl.GPT, got {type(lm).__name__}")
        self.image_shape = checks.event_shape(image_shape, "image_shape", ndim=3)
        self.num_levels = checks.num_levels(num_levels)
        self.lm = lm
        for p in self.lm.parameters():
            p.requires_grad_(False)
        dim, heads = lm.config.n_embd, lm.config.n_head
        c, h, _ = self.image_shape
        first = 1 if h <= 8 else 2
        self.vision = nn.Sequential(  # (B, C, H, W) -> (B, dim, H', W'): one token per cell
            nn.Conv2d(c, width, 3, stride=first, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, dim, 3, stride=2, padding=1),
        )
        self.resampler = PerceiverResampler(dim, num_latents, depth=1, num_heads=heads)
        self.cross = nn.ModuleList(GatedCrossAttention(dim, heads) for _ in lm.blocks)

    def train(self, mode: bool = True):
        """Training mode for everything but the frozen language model, which stays in eval mode."""
        super().train(mode)
        self.lm.eval()
        return self

    def visual_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The resampled visual tokens ``(B, num_latents, dim)`` of integer images ``(B, *image_shape)``."""
        x = checks.levels(checks.batch(x, self.image_shape, "x"), self.num_levels, "x")
        f = self.vision(x.to(self.lm.head.weight.device).float() / (self.num_levels - 1))  # (B, dim, H', W')
        return self.resampler(f.flatten(2).transpose(1, 2))  # (B, H' W', dim) -> (B, num_latents, dim)

    def logits(self, x: torch.Tensor, idx: torch.Tensor, visual: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits ``(B, t, V)`` for contexts ``idx`` ``(B, t)`` given images ``x``."""
        lm = self.lm
        idx = lm._check_context(idx)
        visual = self.visual_tokens(x) if visual is None else visual
        if len(idx) != len(visual):
            raise ValueError(f"x and idx must hold the same number of examples, got {len(visual)} and {len(idx)}")
        t = idx.shape[1]
        if t > lm.config.block_size:
            raise ValueError(f"idx has {t} tokens, more than block_size={lm.config.block_size}")
        h = lm.embed(idx) + lm.position_embedding(torch.arange(t, device=idx.device))  # (B, t, C)
        for cross, block in zip(self.cross, lm.blocks):
            h = block(cross(h, visual))
        return lm.head(lm.ln_f(h))  # (B, t, V)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(\mathbf{y}\mid\mathbf{x})` in nats, ``(B,)``, for captions ``y`` ``(B, T)``."""
        y = self.lm._check_tokens(y)
        inputs = torch.cat([torch.zeros_like(y[:, :1]), y[:, :-1]], dim=1)  # (B, T): shifted right
        log_p = torch.distributions.Categorical(logits=self.logits(x, inputs)).log_prob(y)  # (B, T)
        return (log_p * self.lm.token_mask(y)).sum(1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the captions: what :func:`gdl.fit` minimises."""
        return -self.log_prob(x, y).mean()

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """Adam over the trainable parameters (the language model's are frozen)."""
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=lr)

    def num_parameters(self) -> int:
        """Number of trainable scalars (the frozen language model's are not counted)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def caption(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy captions ``(B, T)`` of images ``x``: token ids, 0 after the end token."""
        was = self.training
        self.eval()
        visual = self.visual_tokens(x)
        idx = torch.zeros(len(visual), 1, dtype=torch.long, device=visual.device)
        for _ in range(self.lm.max_len):
            nxt = self.logits(None, idx, visual)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
        y = idx[:, 1:]
        self.train(was)
        return y * self.lm.token_mask(y)  # zero after the first end token
