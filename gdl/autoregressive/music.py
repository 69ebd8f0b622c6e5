r"""A music transformer: the GPT of :mod:`gdl.autoregressive.transformer` over note tokens.

Foster's design for notes: each token is a pair (pitch, duration), read through two
embeddings and predicted by two heads. The input at position :math:`t` is the concatenation
:math:`[E^{\text{pitch}}_{p_t}; E^{\text{dur}}_{d_t}] + P_t`; the causal blocks of
:class:`~gdl.autoregressive.GPT` turn it into :math:`h_t`, and two linear heads give the
next note's pitch and duration, independent given the past:

.. math::

    p(p_{t+1}, d_{t+1} \mid \text{notes} \le t)
    = \mathrm{softmax}(W_p h_t)_{p_{t+1}}\, \mathrm{softmax}(W_d h_t)_{d_{t+1}}.

A piece ends with the end token (pitch id 0); its duration is not scored, and a note's
duration is never 0, so the probabilities of all pieces sum to one.

The tokens of :func:`gdl.data.tokenise` carry no voice: the next note belongs to the voice that
has sounded for the shortest time. That voice, and where in the bar the next note starts, are
functions of the past tokens, so the model may be told them without looking ahead: two more
embeddings, of the next note's voice and of its onset (in steps, modulo a bar), are added at
every position. Without them the network has to learn to keep four running clocks itself.

Example:
    >>> import torch
    >>> model = MusicTransformer(block_size=8, n_layer=1, n_head=2, n_embd=8)
    >>> model.sample(3).shape
    torch.Size([3, 8, 2])
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn
from torch.distributions import Categorical

from .. import _checks as checks
from ..base import GenerativeModel
from ..data.music import DURATION_TOKENS, PITCH_TOKENS, STEPS_PER_QUARTER, VOICES
from ..taxonomy import register
from .sequence import TokenARM
from .transformer import GPT, Block, GPTConfig

__all__ = ["MusicTransformer", "next_voice_and_onset"]

#: Steps in a bar of 4/4: the onset embedding counts modulo this.
STEPS_PER_BAR = 4 * STEPS_PER_QUARTER


def next_voice_and_onset(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For inputs ``(B, t, 2)`` (a boundary token, then notes), the voice ``(B, t)`` and onset
    in steps ``(B, t)`` of the note that follows each position.

    Each input note goes to the voice with the least time so far (the first on a tie), as in
    :func:`gdl.data.detokenise`; the next note then belongs to the voice with the least time,
    and starts at that time. Boundary tokens (pitch 0) move no clock.

    Example:
        >>> x = torch.tensor([[[0, 0], [30, 8], [26, 4], [22, 8], [18, 8]]])
        >>> [v.tolist() for v in next_voice_and_onset(x)]
        [[[0, 1, 2, 3, 1]], [[0, 0, 0, 0, 4]]]
    """
    B, T, _ = idx.shape
    clocks = torch.zeros(B, len(VOICES), dtype=torch.long, device=idx.device)
    voice = torch.empty(B, T, dtype=torch.long, device=idx.device)
    onset = torch.empty(B, T, dtype=torch.long, device=idx.device)
    rows = torch.arange(B, device=idx.device)
    for t in range(T):
        v = clocks.argmin(1)  # the voice this input note belongs to
        is_note = idx[:, t, 0] != 0
        clocks[rows, v] += idx[:, t, 1] * is_note
        voice[:, t] = clocks.argmin(1)  # the next note's voice (the first of the least)
        onset[:, t] = clocks.gather(1, voice[:, t, None])[:, 0]  # and when it starts
    return voice, onset


@register("autoregressive")
class MusicTransformer(GenerativeModel):
    r"""A GPT over (pitch, duration) tokens with two embeddings and two output heads.

    .. math::

        \log p(\mathbf{x}) = \sum_{t \le L + 1} \log p(p_t \mid \mathbf{x}_{<t})
        + \sum_{t \le L} \log p(d_t \mid \mathbf{x}_{<t}),

    over the :math:`L` notes and the end token (whose duration is not scored), as in
    :class:`~gdl.autoregressive.sequence.TokenARM`.

    Arguments:
        config: a :class:`~gdl.autoregressive.GPTConfig`; its ``vocab_size`` is unused.
        pitch_tokens: size of the pitch vocabulary (0 the boundary, 1 a rest, then pitches).
        duration_tokens: size of the duration vocabulary (0 the boundary, then steps).
        **overrides: fields of the config to replace, e.g. ``n_layer=4``.

    Shapes:
        - ``log_prob``: ``(B, T, 2)`` int64 → ``(B,)`` nats.
        - ``logits(idx)``: ``(B, t, 2)`` → pitch logits ``(B, t, P)``, duration logits ``(B, t, D)``.
        - ``sample(n)``: → ``(n, T, 2)``, zeros after the end token.
        - ``attention(idx)``: ``(B, t, 2)`` → ``(n_layer, B, n_head, t, t)``.

    Example:
        >>> import torch
        >>> model = MusicTransformer(block_size=6, n_layer=1, n_head=2, n_embd=8)
        >>> x = torch.tensor([[[30, 4], [26, 4], [0, 0], [0, 0], [0, 0], [0, 0]]])
        >>> model.log_prob(x).shape, sorted(model.cross_entropy(x))
        (torch.Size([1]), ['duration', 'pitch'])

    References:
        Huang et al., *Music Transformer*, ICLR 2019, https://arxiv.org/abs/1809.04281.
        Foster, *Generative Deep Learning*, 2nd ed., chapter 11, 2023.
    """

    def __init__(
        self,
        config: GPTConfig | None = None,
        *,
        pitch_tokens: int = PITCH_TOKENS,
        duration_tokens: int = DURATION_TOKENS,
        **overrides,
    ):
        super().__init__()
        config = replace(config or GPTConfig(block_size=128, n_layer=2, n_head=4, n_embd=64), **overrides)
        if config.n_embd % 2:
            raise ValueError(f"n_embd must be even (half for pitch, half for duration), got {config.n_embd}")
        self.config = config
        self.pitch_tokens = checks.int_at_least(pitch_tokens, "pitch_tokens", 2)
        self.duration_tokens = checks.int_at_least(duration_tokens, "duration_tokens", 2)
        self.event_shape = (config.block_size, 2)
        C = config.n_embd
        self.pitch_embedding = nn.Embedding(pitch_tokens, C // 2)
        self.duration_embedding = nn.Embedding(duration_tokens, C // 2)
        self.position_embedding = nn.Embedding(config.block_size, C)
        self.voice_embedding = nn.Embedding(len(VOICES), C)  # the voice of the next note
        self.onset_embedding = nn.Embedding(STEPS_PER_BAR, C)  # where in the bar it starts
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(C, bias=config.bias)
        self.pitch_head = nn.Linear(C, pitch_tokens, bias=False)
        self.duration_head = nn.Linear(C, duration_tokens, bias=False)
        self.apply(GPT._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("out_proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    # ------------------------------------------------------------------ the network
    def _check_context(self, idx: torch.Tensor, name: str = "idx") -> torch.Tensor:
        idx = checks.tensor(idx, name)
        if idx.dim() != 3 or idx.shape[-1] != 2 or 0 in idx.shape:
            raise ValueError(f"{name} must have shape (B, t, 2) with B, t >= 1, got {tuple(idx.shape)}")
        checks.levels(idx[..., 0], self.pitch_tokens, f"{name}[..., 0] (pitch ids)")
        checks.levels(idx[..., 1], self.duration_tokens, f"{name}[..., 1] (duration ids)")
        return idx.to(self.device).long()

    def _trunk(self, idx: torch.Tensor, return_attention: bool = False, features=None):
        B, T, _ = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"idx has {T} tokens, more than block_size={self.config.block_size}")
        e = torch.cat([self.pitch_embedding(idx[..., 0]), self.duration_embedding(idx[..., 1])], -1)  # (B, T, C)
        # (B, T) each: known from the past alone; given when idx is cropped from a longer context
        voice, onset = features if features is not None else next_voice_and_onset(idx)
        e = e + self.voice_embedding(voice) + self.onset_embedding(onset % STEPS_PER_BAR)
        x = self.dropout(e + self.position_embedding(torch.arange(T, device=idx.device)))
        maps = []
        for block in self.blocks:
            x, att = block(x, return_attention=True)
            maps.append(att)
        x = self.ln_f(x)  # (B, T, C)
        return (x, torch.stack(maps)) if return_attention else x

    def logits(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens ``(B, t, 2)`` → logits of the next pitch ``(B, t, P)`` and duration ``(B, t, D)``.

        Duration 0 is kept for the end token, so a note's duration logit 0 is :math:`-\\infty`.
        """
        return self._heads(self._trunk(self._check_context(idx)))

    def _heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dur = self.duration_head(h)
        dur = torch.cat([torch.full_like(dur[..., :1], float("-inf")), dur[..., 1:]], -1)
        return self.pitch_head(h), dur

    @torch.no_grad()
    def attention(self, idx: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(n_layer, B, n_head, t, t)`` of the contexts ``idx`` ``(B, t, 2)``."""
        return self._trunk(self._check_context(idx), return_attention=True)[1]

    # ------------------------------------------------------------------ likelihood
    def conditionals(self, x: torch.Tensor) -> tuple[Categorical, Categorical]:
        """The next-pitch and next-duration distributions at every position, ``(B, T)`` each,
        under teacher forcing (the input is ``x`` shifted right behind the token ``(0, 0)``)."""
        x = self._check_tokens(x)
        inputs = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)  # (B, T, 2)
        pitch, dur = self.logits(inputs)
        return Categorical(logits=pitch), Categorical(logits=dur)

    def _check_tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self._check_context(checks.batch(x, self.event_shape, "x"), "x")

    def _log_probs(self, x: torch.Tensor):
        """Per-token log-probabilities of pitch and duration, and the masks of what counts."""
        x = self._check_tokens(x)
        pitch_dist, dur_dist = self.conditionals(x)
        pitch_mask = TokenARM.token_mask(x[..., 0])  # the notes and the end token
        dur_mask = pitch_mask & (x[..., 0] != 0)  # the notes only
        # Padding (and the end token's duration 0) is masked out; clamp keeps log 0 out of it.
        lp_dur = dur_dist.log_prob(x[..., 1]).clamp(min=-1e4)
        return pitch_dist.log_prob(x[..., 0]), lp_dur, pitch_mask, dur_mask

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(\\mathbf{x})` in nats, ``(B,)``, of token windows ``(B, T, 2)``."""
        lp_pitch, lp_dur, pm, dm = self._log_probs(x)
        return (lp_pitch * pm).sum(1) + (lp_dur * dm).sum(1)

    @torch.no_grad()
    def cross_entropy(self, x: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
        """Mean negative log-likelihood per token, in nats, of the pitch and of the duration
        heads (in evaluation mode): ``{"pitch": ..., "duration": ...}``."""
        was_training = self.training
        self.eval()
        totals = torch.zeros(4, dtype=torch.float64)
        try:
            for chunk in torch.as_tensor(x).split(batch_size):
                lp_pitch, lp_dur, pm, dm = self._log_probs(chunk)
                totals += torch.tensor([-(lp_pitch * pm).sum(), pm.sum(), -(lp_dur * dm).sum(), dm.sum()],
                                       dtype=torch.float64)
        finally:
            self.train(was_training)
        return {"pitch": float(totals[0] / totals[1]), "duration": float(totals[2] / totals[3])}

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0) -> torch.Tensor:
        r"""Extend the contexts ``idx`` ``(B, t, 2)`` by ``max_new_tokens`` sampled notes.

        Pitch and duration are drawn from their heads' :math:`\mathrm{softmax}(\ell / \tau)`
        (:math:`\tau = 0`: the most likely); after an end token a piece stays at ``(0, 0)``.
        The context is cropped to the last ``block_size`` tokens.
        """
        max_new_tokens = checks.int_at_least(max_new_tokens, "max_new_tokens", 0)
        temperature = checks.number(temperature, "temperature", low=0.0)
        idx = self._check_context(idx)
        ended = torch.zeros(len(idx), dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            # Voices and onsets come from the whole context; the network sees its last block_size.
            crop = slice(-self.config.block_size, None)
            voice, onset = next_voice_and_onset(idx)
            h = self._trunk(idx[:, crop], features=(voice[:, crop], onset[:, crop]))
            pitch, dur = (z[:, -1] for z in self._heads(h))  # (B, P), (B, D)
            if temperature == 0:
                p, d = pitch.argmax(-1), dur.argmax(-1)
            else:
                p = Categorical(logits=pitch / temperature).sample()
                d = Categorical(logits=dur / temperature).sample()
            ended |= p == 0
            nxt = torch.stack([p, d], -1).masked_fill(ended[:, None], 0)  # (B, 2)
            idx = torch.cat([idx, nxt[:, None]], 1)
        return idx

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """``n`` pieces of ``block_size`` tokens ``(n, T, 2)``, started from the boundary token."""
        n = self._check_n(n)
        start = torch.zeros(n, 1, 2, dtype=torch.long, device=self.device)
        return self.generate(start, self.config.block_size, temperature)[:, 1:]

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """AdamW decaying matrices and embeddings, not biases or norms, as :class:`GPT`."""
        return GPT.configure_optimizers(self, lr)
