r"""Music helpers: how good a four-part texture sounds, and how to hear and see it.

* Measures of a piano roll ``(..., steps, 4)`` of MIDI pitches (soprano first, 0 a rest):

  * :func:`consonance`: the share of vertical intervals between two sounding voices that are
    consonant: unisons and octaves, thirds, fifths and sixths (interval classes 0, 3, 4, 7, 8,
    9 semitones); the fourth counts as dissonant, as it does above the bass. Bach's chorales
    score about 0.78; random pitches within each voice's range 0.50.
  * :func:`voice_crossing`: the share of steps at which some voice sounds above the voice
    written above it (the alto above the soprano, say). Bach about 0.02; random pitches 0.68.

* :func:`synthesise`: a small additive synthesiser in numpy: each note a few harmonics under
  an attack-decay envelope. No sound font is needed.
* :class:`Audio`: a sound as an HTML5 ``<audio>`` player with the WAV inlined as a ``data:``
  URI (so the page plays offline), optionally with a MIDI file to download; :func:`play`
  makes one and shows it (on a gallery page, in a notebook).
* :func:`midi_bytes`: a piano roll or a chorale as a standard MIDI file, written by music21.
* :func:`piano_roll`: a figure of the four voices, one colour each.

Example:
    >>> import torch
    >>> roll = torch.tensor([[76, 67, 60, 48]] * 4)  # a C major chord, held
    >>> consonance(roll), voice_crossing(roll)
    (1.0, 0.0)
    >>> synthesise(roll, step_seconds=0.125, sample_rate=8000).shape
    (4000,)
"""

from __future__ import annotations

import base64
import html
import io
import wave

import numpy as np
import torch

from .data.music import REST, STEPS_PER_QUARTER, VOICES, Chorale

__all__ = [
    "CONSONANT_INTERVALS",
    "VOICE_COLOURS",
    "consonance",
    "voice_crossing",
    "frequency",
    "synthesise",
    "wav_bytes",
    "midi_bytes",
    "Audio",
    "play",
    "piano_roll",
]

#: Interval classes (semitones mod 12) counted as consonant. Unison/octave, thirds, fifth, sixths.
CONSONANT_INTERVALS = (0, 3, 4, 7, 8, 9)
#: One colour per voice (soprano, alto, tenor, bass) in every figure.
VOICE_COLOURS = ("tab:red", "tab:orange", "tab:green", "tab:blue")


def _check_roll(roll, name: str = "roll") -> torch.Tensor:
    roll = torch.as_tensor(roll)
    if roll.dim() < 2 or roll.shape[-1] != len(VOICES) or roll.is_floating_point():
        raise ValueError(
            f"{name} must be an integer tensor of shape (..., steps, {len(VOICES)}), "
            f"got {roll.dtype} of shape {tuple(roll.shape)}"
        )
    return roll.reshape(-1, len(VOICES))


def consonance(roll) -> float:
    """The share of consonant vertical intervals, over every step and every pair of voices
    that both sound (rests are left out).

    Arguments:
        roll: ``(..., steps, 4)`` integer MIDI pitches, :data:`~gdl.data.music.REST` for silence.

    Example:
        >>> consonance(torch.tensor([[67, 64, 60, 48], [66, 65, 60, 0]]))  # C major, then clusters
        0.666...
    """
    r = _check_roll(roll)
    i, j = torch.triu_indices(len(VOICES), len(VOICES), 1)  # the 6 pairs of voices
    sounding = (r[:, i] != REST) & (r[:, j] != REST)
    interval = (r[:, i] - r[:, j]).abs() % 12
    consonant = torch.isin(interval, torch.tensor(CONSONANT_INTERVALS)) & sounding
    n = int(sounding.sum())
    return float(consonant.sum()) / n if n else float("nan")


def voice_crossing(roll) -> float:
    """The share of steps at which some voice sounds above the voice written above it.

    Only pairs of adjacent voices that both sound count.

    Arguments:
        roll: ``(..., steps, 4)`` integer MIDI pitches, soprano first.

    Example:
        >>> voice_crossing(torch.tensor([[67, 64, 60, 48], [64, 67, 60, 48]]))  # alto above soprano
        0.5
    """
    r = _check_roll(roll)
    upper, lower = r[:, :-1], r[:, 1:]
    crossed = (lower > upper) & (upper != REST) & (lower != REST)
    return float(crossed.any(1).float().mean())


# ---------------------------------------------------------------------- sound
def frequency(pitch) -> np.ndarray:
    r"""Equal temperament: MIDI pitch :math:`p` sounds at :math:`440 \cdot 2^{(p - 69)/12}` Hz."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69) / 12)


def _notes(roll: torch.Tensor):
    """``(steps, voices)`` → ``(voice, onset step, steps, pitch)`` for each run of one pitch."""
    out = []
    for v in range(roll.shape[1]):
        col = roll[:, v].tolist()
        start = 0
        for t in range(1, len(col) + 1):
            if t == len(col) or col[t] != col[start]:
                if col[start] != REST:
                    out.append((v, start, t - start, col[start]))
                start = t
    return out


def synthesise(
    music,
    step_seconds: float = 0.125,
    sample_rate: int = 16_000,
    harmonics: tuple[float, ...] = (1.0, 0.5, 0.25, 0.12),
) -> np.ndarray:
    r"""Render a piano roll (or a :class:`~gdl.data.music.Chorale`) as a mono waveform.

    Every note is a sum of harmonics :math:`\sum_k a_k \sin(2\pi k f t)` at its pitch's
    :func:`frequency`, shaped by a 10 ms attack and an exponential decay, and ended by a 20 ms
    fade so that a repeated note is heard twice. The mix is scaled to a peak of 0.8.

    Arguments:
        music: ``(steps, 4)`` integer MIDI pitches, or a chorale (whose repeated notes stay apart).
        step_seconds: the length of one sixteenth-note step (0.125 s: a quarter note at 120 bpm).
        sample_rate: samples per second.
        harmonics: the amplitudes :math:`a_k` of the harmonics :math:`k = 1, 2, \dots`.

    Returns:
        a float32 array of ``round(steps * step_seconds * sample_rate)`` samples in ``[-1, 1]``.

    Example:
        >>> a = synthesise(torch.tensor([[69, 0, 0, 0]] * 8), sample_rate=8000)
        >>> a.shape, int(np.argmax(np.abs(np.fft.rfft(a))) * 8000 / len(a))  # A4 at 440 Hz
        ((8000,), 440)
    """
    if isinstance(music, Chorale):
        notes, steps = [], music.steps
        for v, voice in enumerate(music.voices):
            t = 0
            for pitch, d in voice:
                if pitch != REST:
                    notes.append((v, t, d, pitch))
                t += d
    else:
        roll = torch.as_tensor(music)
        if roll.dim() != 2 or roll.is_floating_point():
            raise ValueError(f"music must be a Chorale or an integer roll (steps, voices), got {tuple(roll.shape)}")
        notes, steps = _notes(roll), roll.shape[0]
    if not step_seconds > 0 or not isinstance(sample_rate, int) or sample_rate < 1:
        raise ValueError("step_seconds must be > 0 and sample_rate a positive int")
    n = round(steps * step_seconds * sample_rate)
    out = np.zeros(n, dtype=np.float64)
    attack, release = int(0.01 * sample_rate), int(0.02 * sample_rate)
    for _, start, length, pitch in notes:
        a = round(start * step_seconds * sample_rate)
        b = min(round((start + length) * step_seconds * sample_rate), n)
        t = np.arange(b - a) / sample_rate
        f = frequency(pitch)
        tone = sum(amp * np.sin(2 * np.pi * (k + 1) * f * t) for k, amp in enumerate(harmonics) if (k + 1) * f < sample_rate / 2)
        env = np.exp(-1.5 * t)  # a gentle decay, like a struck or plucked string
        env[:attack] *= np.linspace(0, 1, min(attack, len(env)))
        if len(env) > release:
            env[-release:] *= np.linspace(1, 0, release)
        out[a:b] += tone * env
    peak = np.abs(out).max()
    return (0.8 * out / peak if peak > 0 else out).astype(np.float32)


def wav_bytes(audio: np.ndarray, sample_rate: int = 16_000) -> bytes:
    """A mono waveform in ``[-1, 1]`` as the bytes of a 16-bit WAV file."""
    pcm = (np.clip(np.asarray(audio, dtype=np.float64), -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def midi_bytes(music, bpm: float = 90) -> bytes:
    """A piano roll ``(steps, 4)`` or a :class:`~gdl.data.music.Chorale` as a MIDI file.

    The score is built with music21 (one part per voice) and written by its MIDI translator.

    Example:
        >>> midi_bytes(torch.tensor([[72, 67, 64, 48]] * 8))[:4]
        b'MThd'
    """
    from music21 import meter, note, stream, tempo
    from music21.midi.translate import music21ObjectToMidiFile

    if isinstance(music, Chorale):
        voices = music.voices
    else:
        roll = torch.as_tensor(music)
        if roll.dim() != 2 or roll.is_floating_point():
            raise ValueError(f"music must be a Chorale or an integer roll (steps, voices), got {tuple(roll.shape)}")
        voices = [[] for _ in range(roll.shape[1])]
        for v, start, length, pitch in sorted(_notes(roll)):
            t = sum(d for _, d in voices[v])
            if start > t:
                voices[v].append((REST, start - t))
            voices[v].append((pitch, length))
    score = stream.Score()
    for name, notes in zip(VOICES, voices):
        part = stream.Part(id=name)
        part.append(tempo.MetronomeMark(number=bpm))
        part.append(meter.TimeSignature("4/4"))
        for pitch, d in notes:
            ql = d / STEPS_PER_QUARTER
            part.append(note.Rest(quarterLength=ql) if pitch == REST else note.Note(int(pitch), quarterLength=ql))
        score.insert(0, part)
    return music21ObjectToMidiFile(score).writestr()


class Audio:
    """A sound as an HTML5 ``<audio>`` player that works offline (the WAV is a ``data:`` URI).

    Arguments:
        audio: mono waveform in ``[-1, 1]``.
        sample_rate: samples per second.
        title: a caption shown above the player.
        midi: the bytes of a MIDI file offered for download next to the player.
    """

    #: Players shown since the gallery's audio scraper last collected them.
    shown: list[Audio] = []

    def __init__(self, audio: np.ndarray, sample_rate: int = 16_000, title: str = "", midi: bytes | None = None):
        self.audio = np.asarray(audio, dtype=np.float32)
        self.sample_rate = sample_rate
        self.title = title
        self.midi = midi

    def _repr_html_(self) -> str:
        wav = base64.b64encode(wav_bytes(self.audio, self.sample_rate)).decode("ascii")
        parts = ['<div class="gdl-audio">']
        if self.title:
            parts.append(f"<p><strong>{html.escape(self.title)}</strong></p>")
        parts.append(f'<audio controls preload="none" src="data:audio/wav;base64,{wav}"></audio>')
        if self.midi is not None:
            mid = base64.b64encode(self.midi).decode("ascii")
            name = "".join(c if c.isalnum() else "-" for c in (self.title or "music").lower()).strip("-")
            parts.append(
                f'<p><a download="{name}.mid" href="data:audio/midi;base64,{mid}">'
                "Download the MIDI file</a></p>"
            )
        parts.append("</div>")
        return "\n".join(parts)


def play(music, title: str = "", step_seconds: float = 0.125, sample_rate: int = 16_000, midi: bool = True) -> Audio:
    """Synthesise a roll or chorale and show it as an audio player (with its MIDI file).

    In a notebook the returned :class:`Audio` displays itself; on a gallery page the build
    collects every player shown in a cell and puts it under the cell.
    """
    player = Audio(
        synthesise(music, step_seconds, sample_rate), sample_rate, title,
        midi_bytes(music, bpm=60 / (STEPS_PER_QUARTER * step_seconds)) if midi else None,
    )
    Audio.shown.append(player)
    return player


def piano_roll(roll, ax=None, title: str = "", legend: bool = True):
    """Draw a piano roll ``(steps, 4)``: each note a bar at its pitch, one colour per voice.

    Returns:
        the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    roll = torch.as_tensor(roll)
    if roll.dim() != 2 or roll.shape[1] != len(VOICES):
        raise ValueError(f"roll must have shape (steps, {len(VOICES)}), got {tuple(roll.shape)}")
    if ax is None:
        ax = plt.subplots(figsize=(8, 3))[1]
    for v, start, length, pitch in _notes(roll):
        ax.broken_barh([(start, length - 0.15)], (pitch - 0.4, 0.8), color=VOICE_COLOURS[v],
                       label=VOICES[v])
    for bar in range(0, roll.shape[0] + 1, 4 * STEPS_PER_QUARTER):
        ax.axvline(bar, color="0.85", lw=0.8, zorder=0)
    ax.set(xlim=(0, roll.shape[0]), xlabel="step (sixteenth notes)", ylabel="MIDI pitch", title=title)
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize="small", ncol=4)
    return ax
