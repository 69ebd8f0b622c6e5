r"""A decoder-only transformer (GPT) over token sequences, in the manner of nanoGPT.

The model reads top to bottom: :class:`GPTConfig`, then :class:`CausalSelfAttention`,
:class:`FeedForward` and :class:`Block`, then :class:`GPT`. Each position attends to itself and the
positions before it,

.. math::

    \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d}} + M\Big) V,
    \qquad M_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t, \end{cases}

so the logits at position :math:`t` depend only on tokens :math:`\le t`, and the model is an
exact autoregressive density (see :class:`gdl.autoregressive.sequence.TokenARM`).

Example:
    >>> import torch
    >>> model = GPT(vocab_size=5, block_size=6, n_layer=1, n_head=2, n_embd=8)
    >>> model.logits(torch.zeros(3, 6, dtype=torch.long)).shape
    torch.Size([3, 6, 5])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks as checks
from ..taxonomy import register
from .sequence import TokenARM

__all__ = ["GPTConfig", "CausalSelfAttention", "FeedForward", "Block", "GPT"]


@dataclass(frozen=True)
class GPTConfig:
    """Hyperparameters of a :class:`GPT`; frozen, so a model's config cannot drift.

    Arguments:
        vocab_size: number of token ids :math:`V`, including the boundary 0.
        block_size: longest context :math:`T`; also the length of the modelled sequences.
        n_layer: transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: width :math:`C` of the residual stream.
        dropout: dropout on attention weights and residual branches (0 turns it off).
        bias: whether linear layers and layer norms have biases.
    """

    vocab_size: int = 27
    block_size: int = 12
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            checks.positive_int(getattr(self, name), name)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        checks.probability(self.dropout, "dropout")


class CausalSelfAttention(nn.Module):
    r"""Multi-head self-attention in which position :math:`t` sees only positions :math:`\le t`.

    Each of the :math:`H` heads projects the input to queries, keys and values of size
    :math:`d = C / H` and mixes the values with weights
    :math:`\mathrm{softmax}(q_t k_s^\top / \sqrt{d})` over :math:`s \le t`; the heads are
    concatenated and projected back to :math:`C`. Dividing by :math:`\sqrt{d}` keeps the scores
    of unit variance, so the softmax does not saturate at initialisation.

    Arguments:
        config: a :class:`GPTConfig`.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        C, T = config.n_embd, config.block_size
        self.n_head = config.n_head
        self.q_proj = nn.Linear(C, C, bias=config.bias)
        self.k_proj = nn.Linear(C, C, bias=config.bias)
        self.v_proj = nn.Linear(C, C, bias=config.bias)
        self.out_proj = nn.Linear(C, C, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # mask[t, s] is True where query t may look at key s: the lower triangle, s <= t.
        # A buffer, so it follows .to(device); not saved, since it follows from block_size.
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, T, T), persistent=False)  # (1, 1, T, T)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """``(B, T, C)`` → ``(B, T, C)``; if ``return_attention``, also ``att`` ``(B, H, T, T)``."""
        B, T, C = x.shape
        H = self.n_head
        q = self.q_proj(x).view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, C/H)
        k = self.k_proj(x).view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, C/H)
        v = self.v_proj(x).view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, C/H)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)  # (B, H, T, T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))  # no looking ahead
        att = F.softmax(att, dim=-1)  # each row: weights over the keys s <= t, summing to 1
        y = self.attn_dropout(att) @ v  # (B, H, T, C/H)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        y = self.resid_dropout(self.out_proj(y))
        return (y, att) if return_attention else y


class FeedForward(nn.Module):
    """The position-wise feed-forward network: ``C → 4C → C`` with a GELU."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        C = config.n_embd
        self.fc = nn.Linear(C, 4 * C, bias=config.bias)
        self.proj = nn.Linear(4 * C, C, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    r"""A pre-LN transformer block: attention, then an MLP, each a residual branch after a norm.

    .. math::

        x \leftarrow x + \mathrm{Attn}(\mathrm{LN}(x)), \qquad
        x \leftarrow x + \mathrm{MLP}(\mathrm{LN}(x)).

    Normalising the input of each branch (not the sum) leaves the residual stream an identity
    path from the embeddings to the output, which keeps deep stacks trainable without warm-up.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = FeedForward(config)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        a, att = self.attn(self.ln_1(x), return_attention=True)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, att) if return_attention else x


@register("autoregressive")
class GPT(TokenARM):
    r"""A decoder-only transformer: token and position embeddings, causal blocks, a linear head.

    The logits at position :math:`t` are computed from tokens :math:`x_1, \dots, x_t` only
    (the causal mask), so with the input shifted right behind a boundary token,

    .. math::

        \log p(\mathbf{x}) = \sum_{t} \log \mathrm{softmax}\big(
        W_{\text{out}}\, \mathrm{LN}(h^{(L)}_t)\big)_{x_{t+1}}, \qquad
        h^{(0)}_t = E_{x_t} + P_t,

    summed over the real tokens and the end token, exactly as in
    :class:`~gdl.autoregressive.sequence.TokenARM`. The sequences have length ``block_size``.

    Arguments:
        config: a :class:`GPTConfig` (default: ``GPTConfig()``).
        **overrides: fields of :class:`GPTConfig` to replace, e.g. ``n_layer=4``.

    Shapes:
        - ``log_prob``: ``(B, T)`` int64 → ``(B,)`` nats.
        - ``sample(n)``: → ``(n, T)`` int64, 0 after the end token.
        - ``attention(idx)``: ``(B, t)`` → ``(n_layer, B, n_head, t, t)``.

    Example:
        >>> import torch
        >>> model = GPT(vocab_size=3, block_size=4, n_layer=1, n_head=2, n_embd=8)
        >>> x = torch.tensor([[1, 2, 0, 0], [2, 2, 2, 1]])
        >>> model.log_prob(x).shape, model.sample(5).shape
        (torch.Size([2]), torch.Size([5, 4]))
        >>> model.generate(torch.zeros(1, 1, dtype=torch.long), 6, top_k=1).shape
        torch.Size([1, 7])

    References:
        Vaswani et al., *Attention Is All You Need*, 2017, https://arxiv.org/abs/1706.03762.
        Radford et al., *Language Models are Unsupervised Multitask Learners*, 2019.
        Karpathy, nanoGPT, https://github.com/karpathy/nanoGPT.
    """

    def __init__(self, config: GPTConfig | None = None, **overrides):
        config = replace(config or GPTConfig(), **overrides)
        super().__init__(config.vocab_size, config.block_size)
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        # GPT-2: scale the projections into the residual stream by 1/sqrt(2 L), so the variance
        # of the stream does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("out_proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(idx)  # (B, T, C)

    def _trunk(self, e: torch.Tensor, return_attention: bool = False):
        """Token embeddings ``(B, T, C)`` → final hidden states ``(B, T, C)`` (and attention)."""
        T = e.shape[1]
        if T > self.config.block_size:
            raise ValueError(f"idx has {T} tokens, more than block_size={self.config.block_size}")
        pos = torch.arange(T, device=e.device)  # (T,)
        x = self.dropout(e + self.position_embedding(pos))  # (B, T, C): broadcast over B
        maps = []
        for block in self.blocks:
            x, att = block(x, return_attention=True)
            maps.append(att)
        x = self.ln_f(x)
        return (x, torch.stack(maps)) if return_attention else x

    def logits_from_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        return self.head(self._trunk(e))  # (B, T, V)

    @torch.no_grad()
    def attention(self, idx: torch.Tensor) -> torch.Tensor:
        """The attention weights of every layer and head for contexts ``idx`` ``(B, t)``.

        Returns:
            ``(n_layer, B, n_head, t, t)``: entry ``[l, b, h, t, s]`` is how much query position
            ``t`` attends to key position ``s`` (zero for ``s > t``; each row sums to 1).
        """
        return self._trunk(self.embed(self._check_context(idx)), return_attention=True)[1]

    def _next_logits(self, idx: torch.Tensor) -> torch.Tensor:
        # Crop the context to the last block_size tokens: the position embeddings end there.
        return self.logits(idx[:, -self.config.block_size :])[:, -1, :]  # (B, V)

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """AdamW decaying matrices and embeddings (dim >= 2), not biases or norms, as nanoGPT."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr)
