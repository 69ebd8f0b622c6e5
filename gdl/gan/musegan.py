r"""MuseGAN: a Wasserstein GAN over multi-track piano rolls, with four latent streams.

A piece is a tensor of bars × steps × pitches × tracks (here: 2 bars of 16 sixteenth notes,
one track per voice of a chorale). The generator splits its noise into four streams, after
Dong et al. (2018) and Foster's chapter 11:

================  =====================  ==========================
stream            shared across tracks?  changes from bar to bar?
================  =====================  ==========================
chords            yes                    yes (a temporal network)
style             yes                    no
melody            no, one per track      yes (one temporal network per track)
groove            no, one per track      no
================  =====================  ==========================

Track :math:`k`'s bar :math:`b` comes from its own bar generator, fed
:math:`[c_b;\, s;\, m_{k,b};\, g_k]`; so the melody and groove of one track reach that track only,
and chords and style reach all. Each step of a track is a softmax over pitches (a voice sings
one note at a time), which the critic sees as it is; a sample takes the likeliest pitch.
(``hard=True`` shows the critic one-hot rolls instead and lets the gradient through the
softmax, the straight-through estimator of the binary-neuron MuseGAN of Dong and Yang, 2018;
in short runs on the chorales it did no better.)

The critic scores the whole piece; training is WGAN-GP (:class:`~gdl.gan.WGANGP`): uniform
interpolation weights, one per example, and a gradient norm over *every* non-batch axis,
tracks included.

Example:
    >>> model = MuseGAN(n_bars=2, steps_per_bar=4, n_pitches=6, z_dim=3, hidden=8, critic_width=8)
    >>> model.sample(2).shape  # (n, bars, steps, tracks) MIDI pitches
    torch.Size([2, 2, 4, 4])
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks as checks
from ..taxonomy import register
from .wasserstein import WGANGP

__all__ = ["TemporalNetwork", "BarGenerator", "MuseGANGenerator", "MuseGANCritic", "MuseGAN"]

STREAMS = ("chords", "style", "melody", "groove")


class TemporalNetwork(nn.Module):
    """One latent vector ``(B, Z)`` → one per bar ``(B, n_bars, Z)``: a phrase that unfolds."""

    def __init__(self, z_dim: int, n_bars: int, hidden: int):
        super().__init__()
        self.n_bars, self.z_dim = n_bars, z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_bars * z_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.n_bars, self.z_dim)  # (B, n_bars, Z)


class BarGenerator(nn.Module):
    """One track's bar from its four stream vectors ``(B, 4Z)``: pitch logits ``(B, steps, pitches)``."""

    def __init__(self, z_dim: int, steps: int, pitches: int, hidden: int):
        super().__init__()
        self.steps, self.pitches = steps, pitches
        self.net = nn.Sequential(
            nn.Linear(4 * z_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, steps * pitches),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h).view(-1, self.steps, self.pitches)  # (B, steps, pitches)


class MuseGANGenerator(nn.Module):
    r"""The four latent streams → a piece ``(B, bars, steps, pitches, tracks)`` of pitch probabilities.

    The noise vector ``(B, (2 + 2K) Z)`` is split as chords ``Z``, style ``Z``, melody ``K × Z``,
    groove ``K × Z`` (:meth:`split`, :meth:`join`).
    """

    def __init__(self, n_bars: int, steps: int, pitches: int, tracks: int, z_dim: int, hidden: int):
        super().__init__()
        self.n_bars, self.tracks, self.z_dim = n_bars, tracks, z_dim
        self.chords_network = TemporalNetwork(z_dim, n_bars, hidden)
        self.melody_networks = nn.ModuleList(TemporalNetwork(z_dim, n_bars, hidden) for _ in range(tracks))
        self.bar_generators = nn.ModuleList(BarGenerator(z_dim, steps, pitches, hidden) for _ in range(tracks))

    def split(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, (2 + 2K) Z)`` → chords, style ``(B, Z)``; melody, groove ``(B, K, Z)``."""
        Z, K = self.z_dim, self.tracks
        chords, style, melody, groove = z.split([Z, Z, K * Z, K * Z], dim=1)
        return {"chords": chords, "style": style, "melody": melody.view(-1, K, Z), "groove": groove.view(-1, K, Z)}

    @staticmethod
    def join(chords, style, melody, groove) -> torch.Tensor:
        """The inverse of :meth:`split`."""
        return torch.cat([chords, style, melody.flatten(1), groove.flatten(1)], dim=1)

    def forward(self, z: torch.Tensor, hard: bool = False) -> torch.Tensor:
        """Noise ``(B, (2 + 2K) Z)`` → ``(B, bars, steps, pitches, tracks)``: the softmax
        probabilities, or if ``hard`` one-hot rolls with the softmax's gradient (the
        straight-through estimator)."""
        s = self.split(z)
        B, nb = len(z), self.n_bars
        chords = self.chords_network(s["chords"])  # (B, bars, Z): changes from bar to bar
        style = s["style"][:, None].expand(B, nb, self.z_dim)  # (B, bars, Z): constant
        tracks = []
        for k in range(self.tracks):
            melody = self.melody_networks[k](s["melody"][:, k])  # (B, bars, Z): this track's phrase
            groove = s["groove"][:, k, None].expand(B, nb, self.z_dim)  # (B, bars, Z)
            h = torch.cat([chords, style, melody, groove], -1).flatten(0, 1)  # (B * bars, 4Z)
            logits = self.bar_generators[k](h)  # (B * bars, steps, pitches)
            probs = logits.softmax(-1)
            if hard:  # forward: the one-hot of the likeliest pitch; backward: the softmax's gradient
                one_hot = nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
                probs = one_hot + probs - probs.detach()
            tracks.append(probs.view(B, nb, *logits.shape[1:]))
        return torch.stack(tracks, -1)  # (B, bars, steps, pitches, tracks)


class MuseGANCritic(nn.Module):
    r"""A piece ``(B, bars, steps, pitches, tracks)`` → a score ``(B, 1)``.

    Every step's chord (the pitch vectors of all tracks together) goes through one small MLP,
    shared by the steps, which can tell the intervals between the voices apart; one linear map,
    also shared by the steps, scores each chord, and the piece's score is the sum,
    :math:`C(\mathbf{x}) = \sum_t w^\top h(\mathbf{x}_t)`. Sharing the score across steps means
    every step of every example teaches the critic what a good chord is; a separate weight for
    each step (an earlier version of this critic) learnt the harmony 32 times more slowly, and
    the samples' consonance peaked early and fell. Leaky ReLUs and no batch norm (the gradient
    penalty is per example).
    """

    def __init__(self, n_bars: int, steps: int, pitches: int, tracks: int, width: int):
        super().__init__()
        self.chord = nn.Sequential(
            nn.Linear(pitches * tracks, width), nn.LeakyReLU(0.2),
            nn.Linear(width, width), nn.LeakyReLU(0.2),
        )
        # A constant added to the score would cancel in L_C: no bias.
        self.score = nn.Linear(width, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, nb, st = x.shape[:3]
        h = self.chord(x.reshape(B, nb * st, -1))  # (B, L, W): one feature vector per step
        return self.score(h).sum(1)  # (B, 1): the steps' scores, summed


@register("gan", "implicit")
class MuseGAN(WGANGP):
    r"""MuseGAN on four-voice piano rolls, trained as a WGAN-GP.

    Data are MIDI pitches ``(B, bars, steps, tracks)`` (as :func:`gdl.data.chorale_bars` gives);
    the networks see them one-hot, ``(B, bars, steps, pitches, tracks)``, over the pitches
    ``lowest_pitch .. lowest_pitch + n_pitches - 1``.

    Arguments:
        n_bars, steps_per_bar, n_tracks: the shape of a piece.
        lowest_pitch, n_pitches: the pitch range.
        z_dim: size :math:`Z` of each latent stream vector.
        hidden: width of the temporal networks and bar generators.
        critic_width: width of the critic.
        gp_weight, n_critic: as for :class:`~gdl.gan.WGANGP`.

    References:
        Dong et al., "MuseGAN: Multi-track sequential generative adversarial networks for
        symbolic music generation and accompaniment", AAAI 2018. https://arxiv.org/abs/1709.06298
    """

    def __init__(
        self,
        n_bars: int = 2,
        steps_per_bar: int = 16,
        n_tracks: int = 4,
        *,
        lowest_pitch: int = 36,
        n_pitches: int = 46,
        z_dim: int = 32,
        hidden: int = 128,
        critic_width: int = 64,
        gp_weight: float = 10.0,
        n_critic: int = 5,
    ):
        n_bars = checks.positive_int(n_bars, "n_bars")
        steps_per_bar = checks.positive_int(steps_per_bar, "steps_per_bar")
        n_tracks = checks.positive_int(n_tracks, "n_tracks")
        lowest_pitch = checks.int_at_least(lowest_pitch, "lowest_pitch", 1)
        n_pitches = checks.int_at_least(n_pitches, "n_pitches", 2)
        z_dim = checks.positive_int(z_dim, "z_dim")
        hidden = checks.positive_int(hidden, "hidden")
        critic_width = checks.positive_int(critic_width, "critic_width")
        generator = MuseGANGenerator(n_bars, steps_per_bar, n_pitches, n_tracks, z_dim, hidden)
        critic = MuseGANCritic(n_bars, steps_per_bar, n_pitches, n_tracks, critic_width)
        super().__init__(
            (n_bars, steps_per_bar, n_tracks), (2 + 2 * n_tracks) * z_dim,
            gp_weight=gp_weight, n_critic=n_critic, critic=critic, generator=generator,
        )
        self.lowest_pitch, self.n_pitches, self.z_dim = lowest_pitch, n_pitches, z_dim

    def latents(self, n: int) -> dict[str, torch.Tensor]:
        """``n`` draws of the four streams from the prior: chords, style ``(n, Z)``; melody,
        groove ``(n, K, Z)``."""
        return self.generator.split(self.prior().sample((self._check_n(n),)))

    def generate_streams(self, chords, style, melody, groove, hard: bool = False) -> torch.Tensor:
        """:math:`G` of the four streams, on the networks' scale ``(B, bars, steps, pitches, tracks)``:
        one-hot rolls, or (``hard=False``) the pitch probabilities."""
        z = self._check_codes(self.generator.join(chords, style, melody, groove))
        return self.generator(z, hard=hard)

    def to_network_scale(self, x: torch.Tensor) -> torch.Tensor:
        """MIDI pitches ``(B, bars, steps, tracks)`` → one-hot ``(B, bars, steps, pitches, tracks)``."""
        x = self._check_event(x)
        if x.is_floating_point() or x.min() < self.lowest_pitch or x.max() >= self.lowest_pitch + self.n_pitches:
            raise ValueError(
                f"x must hold integer MIDI pitches in {self.lowest_pitch}.."
                f"{self.lowest_pitch + self.n_pitches - 1}"
            )
        one_hot = nn.functional.one_hot(x.long() - self.lowest_pitch, self.n_pitches)  # (B, bars, steps, tracks, P)
        return one_hot.transpose(-1, -2).to(self._dtype())  # (B, bars, steps, P, tracks)

    def to_data_scale(self, y: torch.Tensor) -> torch.Tensor:
        """Pitch probabilities ``(B, bars, steps, pitches, tracks)`` → the likeliest MIDI pitches
        ``(B, bars, steps, tracks)``, int64."""
        return y.argmax(-2) + self.lowest_pitch
