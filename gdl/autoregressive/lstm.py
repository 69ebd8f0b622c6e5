r"""A character-level LSTM: the recurrent next-token model."""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks as checks
from ..taxonomy import register
from .sequence import TokenARM

__all__ = ["CharLSTM"]


@register("autoregressive")
class CharLSTM(TokenARM):
    r"""A character-level language model: embedding → LSTM → linear map to next-token logits.

    The LSTM carries a cell state :math:`c_t` from token to token, updated through gates that
    decide what to forget, what to write and what to show:

    .. math::

        f_t, i_t, o_t = \sigma(W_{f,i,o} [h_{t-1}, e_t] + b_{f,i,o}), \quad
        \tilde c_t = \tanh(W_c [h_{t-1}, e_t] + b_c),

        c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t, \quad
        h_t = o_t \odot \tanh(c_t), \quad
        p(x_{t+1} \mid \mathbf{x}_{\le t}) = \mathrm{softmax}(W_{\text{out}} h_t).

    A recurrence only looks back, so causality needs no mask. Training uses teacher forcing: the
    input is the true sequence shifted right, and all :math:`T` predictions come from one pass.
    The likelihood, the boundary token and sampling are those of
    :class:`~gdl.autoregressive.sequence.TokenARM`.

    Arguments:
        vocab_size: number of token ids :math:`V`, including the boundary 0.
        max_len: tokens per sequence :math:`T`.
        embed_dim: size of the token embeddings.
        hidden: size of the LSTM state.
        num_layers: stacked LSTM layers.
        dropout: dropout between stacked layers (needs ``num_layers >= 2``).

    Shapes:
        - ``log_prob``: ``(B, T)`` int64 → ``(B,)`` nats.
        - ``sample(n)``: → ``(n, T)`` int64, 0 after the end token.

    Example:
        >>> import torch
        >>> from gdl.data import Vocabulary
        >>> vocab = Vocabulary("ab")
        >>> model = CharLSTM(vocab_size=vocab.size, max_len=5, embed_dim=4, hidden=8)
        >>> x = vocab.encode(["ab", "bba"], length=5)
        >>> model.log_prob(x).shape
        torch.Size([2])
        >>> model.sample(3).shape
        torch.Size([3, 5])
        >>> len(model.sample_text(2, vocab))
        2

    References:
        Hochreiter & Schmidhuber, *Long Short-Term Memory*, 1997,
        https://doi.org/10.1162/neco.1997.9.8.1735. Foster, *Generative Deep Learning*, 2nd ed.,
        ch. 5, 2023.
    """

    def __init__(
        self,
        vocab_size: int = 27,
        max_len: int = 12,
        embed_dim: int = 32,
        hidden: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__(vocab_size, max_len)
        embed_dim = checks.positive_int(embed_dim, "embed_dim")
        hidden = checks.positive_int(hidden, "hidden")
        num_layers = checks.positive_int(num_layers, "num_layers")
        dropout = checks.probability(dropout, "dropout")
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(
            embed_dim, hidden, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden, vocab_size)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        return self.embedding(idx)  # (B, T, embed_dim)

    def logits_from_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(e)  # (B, T, hidden): h_t has read e_1 .. e_t
        return self.head(h)  # (B, T, V)
