r"""What every next-token model shares: the likelihood of a padded sequence, and sampling.

A sequence model reads tokens :math:`x_1, \dots, x_T` from a vocabulary of size :math:`V` and
outputs, at every position, logits for the next token. Trained with *teacher forcing*, it sees
the true prefix (not its own guesses) and predicts all :math:`T` tokens in one pass.

Token 0 is the boundary (see :class:`gdl.data.Vocabulary`): the first input, the end token, and
the padding after it. A sequence ends at its first 0, or at the maximum length :math:`T`, so

.. math::

    \log p(\mathbf{x}) = \sum_{t=1}^{\min(L + 1,\, T)} \log p(x_t \mid \mathbf{x}_{<t}),

where :math:`L` is the number of tokens before the first 0. The end token counts (it says the
sequence stops here); the padding after it does not. Every possible sequence of at most
:math:`T` tokens thus gets a probability, and they sum to one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Categorical

from .. import _checks as checks
from ..base import GenerativeModel

__all__ = ["TokenARM", "unigram_bits_per_token"]


class TokenARM(GenerativeModel):
    r"""Base class of next-token models over fixed-length padded sequences of token ids.

    Subclasses define :meth:`embed` (token ids → vectors) and :meth:`logits_from_embeddings`
    (vectors → next-token logits, causally: position :math:`t` sees positions :math:`\le t`).
    This class turns them into ``log_prob``, ``generate`` and ``sample``. Splitting the network
    at the embeddings lets the tests take gradients with respect to them.

    Arguments:
        vocab_size: number of token ids :math:`V`, including the boundary 0.
        max_len: tokens per sequence :math:`T`; ``event_shape`` is ``(T,)``.
    """

    def __init__(self, vocab_size: int, max_len: int):
        super().__init__()
        self.vocab_size = checks.int_at_least(vocab_size, "vocab_size", 2)
        self.max_len = checks.positive_int(max_len, "max_len")
        self.event_shape = (max_len,)

    # ------------------------------------------------------------------ the network
    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` → token vectors ``(B, T, C)``."""
        raise NotImplementedError

    def logits_from_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        """Token vectors ``(B, T, C)`` → logits ``(B, T, V)`` of the token after each position."""
        raise NotImplementedError

    def _check_context(self, idx: torch.Tensor, name: str = "idx") -> torch.Tensor:
        """Token ids ``(B, t)``, ``B, t >= 1``, each in ``0 .. vocab_size - 1``."""
        idx = checks.tensor(idx, name)
        if idx.dim() != 2 or 0 in idx.shape:
            raise ValueError(f"{name} must have shape (B, t) with B, t >= 1, got {tuple(idx.shape)}")
        return checks.levels(idx, self.vocab_size, name)

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, T)`` → logits ``(B, T, V)``; position ``t`` predicts token ``t+1``."""
        return self.logits_from_embeddings(self.embed(self._check_context(idx)))

    # ------------------------------------------------------------------ likelihood
    def _check_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return checks.levels(self._check_event(x), self.vocab_size)

    def conditionals(self, x: torch.Tensor) -> Categorical:
        r"""The :math:`T` conditionals :math:`p(x_t \mid \mathbf{x}_{<t})`, under teacher forcing.

        The input is the sequence shifted right by one, behind a boundary token:
        :math:`(0, x_1, \dots, x_{T-1})`, so position :math:`t` has seen exactly
        :math:`\mathbf{x}_{<t}`.

        Returns:
            a batch ``(B, T)`` of categoricals over the ``V`` tokens.
        """
        x = self._check_tokens(x)
        bos = torch.zeros_like(x[:, :1])
        inputs = torch.cat([bos, x[:, :-1]], dim=1)  # (B, T): shifted right
        return Categorical(logits=self.logits(inputs))

    @staticmethod
    def token_mask(x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` bool, ``True`` on the real tokens: up to and including the first 0."""
        is_end = x == 0
        ends_before = is_end.long().cumsum(1) - is_end.long()  # boundaries strictly before t
        return ends_before == 0

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`\log p(\mathbf{x})` in nats, ``(B,)``: the end token counts, padding not.

        Arguments:
            x: ``(B, T)`` int64 token ids; everything after the first 0 is ignored.
        """
        x = self._check_tokens(x)
        log_p = self.conditionals(x).log_prob(x)  # (B, T)
        return (log_p * self.token_mask(x)).sum(1)

    @torch.no_grad()
    def bits_per_token(self, x: torch.Tensor) -> float:
        """The mean negative log-likelihood per predicted token (the real tokens and the end
        token, not the padding), in bits: the usual "bits per character" of a language model."""
        from ..metrics import nll

        x = self._check_tokens(x)
        nats = nll(self, x) * len(x)  # nll: mean over sequences, in eval mode
        return nats / (self.token_mask(x).sum().item() * math.log(2))

    # ------------------------------------------------------------------ sampling
    def _next_logits(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, V)`` of the token after the context ``idx`` ``(B, t)``."""
        return self.logits(idx)[:, -1, :]

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> torch.Tensor:
        r"""Extend the contexts ``idx`` ``(B, t)`` by ``max_new_tokens`` sampled tokens.

        Each step samples from :math:`\mathrm{softmax}(\ell / \tau)` restricted to the ``top_k``
        largest logits :math:`\ell`. A temperature :math:`\tau < 1` sharpens the distribution,
        :math:`\tau > 1` flattens it, and :math:`\tau = 0` takes the most likely token (greedy
        decoding, the same as ``top_k=1``). It does not stop at boundary tokens.

        Returns:
            ``(B, t + max_new_tokens)`` int64 token ids.
        """
        max_new_tokens = checks.int_at_least(max_new_tokens, "max_new_tokens", 0)
        temperature = checks.number(temperature, "temperature", low=0.0)
        if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= self.vocab_size):
            raise ValueError(f"top_k must be None or an int in 1..{self.vocab_size}, got {top_k!r}")
        idx = self._check_context(idx)
        for _ in range(max_new_tokens):
            logits = self._next_logits(idx)  # (B, V)
            if temperature == 0:
                idx_next = logits.argmax(-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, top_k, dim=-1).values[:, [-1]]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                idx_next = torch.multinomial(F.softmax(logits, dim=-1), 1)  # (B, 1)
            idx = torch.cat([idx, idx_next], dim=1)
        return idx

    def sample(self, n: int, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
        """Ancestral sampling: ``(n, T)`` int64 token ids, padded with 0 after the first end token.

        Arguments:
            n: number of sequences.
            temperature, top_k: as in :meth:`generate`.
        """
        n = self._check_n(n)
        bos = torch.zeros(n, 1, dtype=torch.int64, device=self.device)
        x = self.generate(bos, self.max_len, temperature=temperature, top_k=top_k)[:, 1:]  # (n, T)
        return x * self.token_mask(x)  # the tokens after the end are padding, whatever was drawn

    def sample_text(
        self, n: int, vocab, temperature: float = 1.0, top_k: int | None = None
    ) -> list[str]:
        """:meth:`sample`, decoded to strings with ``vocab`` (a :class:`gdl.data.Vocabulary`)."""
        if vocab.size != self.vocab_size:
            raise ValueError(f"vocab has {vocab.size} tokens, the model {self.vocab_size}")
        return vocab.decode(self.sample(n, temperature=temperature, top_k=top_k))


def unigram_bits_per_token(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Bits per token on ``test`` of the baseline that ignores context: every token, the end
    token included, drawn from the token frequencies of ``train`` (padded sequences ``(N, T)``)."""
    counts = torch.bincount(train[TokenARM.token_mask(train)], minlength=vocab_size).double()
    log2_p = (counts / counts.sum()).log2()
    return -log2_p[test[TokenARM.token_mask(test)]].mean().item()
