r"""Bach's four-part chorales, read from the corpus that ships with the PyPI package ``music21``.

About 400 chorales for soprano, alto, tenor and bass, each voice a list of notes. Two views:

* **piano rolls**: a grid of sixteenth-note steps × 4 voices (soprano first), each cell the
  MIDI pitch that voice sounds, or :data:`REST` (0);
* **tokens**: the notes of all four voices in order of onset (soprano before alto before tenor
  before bass at the same onset), each a pair ``(pitch id, duration id)``. No voice marker is
  needed: the next note always belongs to the voice that has sounded for the shortest time so
  far (the first such voice in S, A, T, B order), so :func:`detokenise` can deal the notes back
  to their voices.

Reading the bundled MusicXML files directly with ``xml.etree`` takes a few seconds, against
well over a minute through music21's own parser; the result is cached in the user's cache
folder (``$XDG_CACHE_HOME/gdl`` or ``~/.cache/gdl``), so later loads take a fraction of a second.
Nothing derived is stored in the repository. A fixed seeded shuffle of the chorales' names
splits them 80 / 10 / 10 into train, val and test: no chorale is in two splits.

Example:
    >>> pieces = chorales("val")
    >>> len(pieces), pieces[0].roll().shape[1]
    (41, 4)
    >>> x, y = chorale_tokens("val", length=64)
    >>> x.shape[1:], x.dtype
    (torch.Size([64, 2]), torch.int64)
"""

from __future__ import annotations

import importlib.util
import os
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import torch

from ._split import _check_split

__all__ = [
    "VOICES",
    "REST",
    "STEPS_PER_QUARTER",
    "LOWEST_PITCH",
    "HIGHEST_PITCH",
    "MAX_DURATION",
    "PITCH_TOKENS",
    "DURATION_TOKENS",
    "CHORALE_SPLITS",
    "Chorale",
    "chorales",
    "tokenise",
    "detokenise",
    "pitch_to_token",
    "token_to_pitch",
    "chorale_tokens",
    "chorale_bars",
]

#: The four voices from top to bottom, in the order of the columns of a piano roll.
VOICES = ("soprano", "alto", "tenor", "bass")
#: The piano-roll value of a silent voice (MIDI pitch 0 never occurs in the chorales).
REST = 0
#: Time steps per quarter note (one step is a sixteenth note).
STEPS_PER_QUARTER = 4
#: The range of MIDI pitches the token vocabulary covers (the chorales use 36..81).
LOWEST_PITCH, HIGHEST_PITCH = 33, 84
#: The longest duration token, in steps (four whole notes); longer notes become several tokens.
MAX_DURATION = 64
#: Pitch token ids. 0 the boundary, 1 a rest, ``2 + p - LOWEST_PITCH`` MIDI pitch ``p``.
PITCH_TOKENS = 2 + HIGHEST_PITCH - LOWEST_PITCH + 1
#: Duration token ids. 0 the boundary, ``d`` a duration of ``d`` steps (1..MAX_DURATION).
DURATION_TOKENS = MAX_DURATION + 1
#: Fractions of the seeded split by chorale.
CHORALE_SPLITS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}
#: Bumped whenever the reader changes, so that an old cache is not used.
_READER_VERSION = 1
_STEP_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Chorale:
    """One chorale: its corpus name and, per voice, its notes as ``(pitch, steps)`` pairs.

    A pitch is a MIDI number or :data:`REST`; every voice lasts the same number of steps.

    Example:
        >>> c = Chorale("demo", (((60, 4),), ((REST, 2), (55, 2)), ((52, 4),), ((48, 4),)))
        >>> c.steps, c.roll()[:, 1].tolist()
        (4, [0, 0, 55, 55])
    """

    name: str
    voices: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def steps(self) -> int:
        """The length in sixteenth-note steps."""
        return sum(d for _, d in self.voices[0])

    def roll(self) -> torch.Tensor:
        """The piano roll: ``(steps, 4)`` int64 MIDI pitches, :data:`REST` where a voice is silent."""
        roll = torch.zeros(self.steps, len(self.voices), dtype=torch.int64)
        for v, notes in enumerate(self.voices):
            t = 0
            for pitch, d in notes:
                roll[t : t + d, v] = pitch
                t += d
        return roll


# ---------------------------------------------------------------------- reading MusicXML
def _corpus_folder() -> Path:
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the Bach chorales need the PyPI package 'music21' (pip install music21), "
            "whose corpus ships them as MusicXML files"
        )
    return Path(spec.origin).parent / "corpus" / "bach"


def _read_xml(path: Path) -> ElementTree.Element:
    if path.suffix == ".mxl":  # compressed MusicXML: a zip holding one score and a manifest
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith((".xml", ".musicxml")) and not n.startswith("META-INF"))
            return ElementTree.fromstring(z.read(name))
    return ElementTree.parse(path).getroot()


def _midi(pitch: ElementTree.Element) -> int:
    step = _STEP_NAMES[pitch.findtext("step")]
    alter = round(float(pitch.findtext("alter") or 0))
    return 12 * (int(pitch.findtext("octave")) + 1) + step + alter


def _read_part(part: ElementTree.Element) -> list[tuple[int, int, int]]:
    """The notes of a part's first voice as ``(onset, end, pitch)`` in steps, ties merged."""
    divisions, t, voice = 1, Fraction(0), None
    notes: list[list[int]] = []
    for measure in part.findall("measure"):
        for el in measure:
            if el.tag == "attributes" and el.findtext("divisions"):
                divisions = int(el.findtext("divisions"))
            elif el.tag in ("backup", "forward"):
                d = Fraction(int(el.findtext("duration")), divisions)
                t += d if el.tag == "forward" else -d
            elif el.tag == "note":
                if el.find("grace") is not None or el.find("chord") is not None:
                    continue  # no time of their own; of a chord keep the first (top) note
                d = Fraction(int(el.findtext("duration") or 0), divisions)
                onset, t = t, t + d
                voice = voice or el.findtext("voice") or "1"
                if (el.findtext("voice") or "1") != voice or d == 0:
                    continue
                pitch = REST if el.find("rest") is not None else _midi(el.find("pitch"))
                start = round(onset * STEPS_PER_QUARTER)
                end = round(t * STEPS_PER_QUARTER)
                tied = any(tie.get("type") == "stop" for tie in el.findall("tie"))
                if tied and notes and notes[-1][2] == pitch and notes[-1][1] == start:
                    notes[-1][1] = end  # the second half of a tied note lengthens the first
                elif end > start:
                    notes.append([start, end, pitch])
    return [tuple(n) for n in notes]


def _read_chorale(path: Path) -> Chorale | None:
    """The four voices of a chorale file, or ``None`` if it lacks one of them."""
    root = _read_xml(path)
    names = {sp.get("id"): (sp.findtext("part-name") or "").strip().lower() for sp in root.iter("score-part")}
    parts = {}
    for part in root.findall("part"):
        words = names.get(part.get("id"), "").split()
        if words and words[0] in VOICES and words[0] not in parts:
            parts[words[0]] = _read_part(part)
    if len(parts) < 4 or not all(parts.values()):
        return None
    total = max(n[-1][1] for n in parts.values())
    voices = []
    for v in VOICES:
        notes, t = [], 0
        for start, end, pitch in sorted(parts[v]):
            if start > t:
                notes.append((REST, start - t))  # a gap in the score: silence
            start = max(start, t)  # overlaps (rare rounding of tuplets) are cut
            if end > start:
                notes.append((pitch, end - start))
                t = end
        if t < total:
            notes.append((REST, total - t))
        voices.append(tuple(notes))
    return Chorale(path.name.rsplit(".", 1)[0], tuple(voices))


def _cache_file() -> Path:
    import music21

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gdl"
    return base / f"chorales-v{_READER_VERSION}-music21-{music21.__version__}.pt"


@lru_cache(maxsize=1)
def _all_chorales() -> tuple[Chorale, ...]:
    """Every four-voice chorale of the corpus, sorted by name; from the cache when it exists."""
    folder = _corpus_folder()
    cache = _cache_file()
    if cache.exists():
        try:
            stored = torch.load(cache, weights_only=True)
            return tuple(Chorale(n, tuple(tuple(map(tuple, v)) for v in vs)) for n, vs in stored)
        except Exception:  # a damaged cache is rebuilt
            pass
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".mxl", ".xml"):
            c = _read_chorale(path)
            if c is not None:
                found.append(c)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    torch.save([(c.name, [list(map(list, v)) for v in c.voices]) for c in found], tmp)
    os.replace(tmp, cache)  # atomic: a reader never sees half a file
    return tuple(found)


def chorales(split: str = "train") -> list[Chorale]:
    """The chorales of one split, as :class:`Chorale` objects.

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.

    Raises:
        ModuleNotFoundError: if the package ``music21`` is not installed.

    Example:
        >>> [len(chorales(s)) for s in ("train", "val", "test")]
        [327, 41, 41]
    """
    _check_split(split, CHORALE_SPLITS)
    every = _all_chorales()
    order = np.random.default_rng(0).permutation(len(every))
    lo, hi = CHORALE_SPLITS[split]
    chosen = order[round(lo * len(every)) : round(hi * len(every))]
    return [every[i] for i in sorted(chosen)]


# ---------------------------------------------------------------------- tokens
def pitch_to_token(pitch: int) -> int:
    """A MIDI pitch (or :data:`REST`) → its pitch token id."""
    if pitch == REST:
        return 1
    if not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
        raise ValueError(f"pitch must be REST or in {LOWEST_PITCH}..{HIGHEST_PITCH}, got {pitch}")
    return 2 + pitch - LOWEST_PITCH


def token_to_pitch(token: int) -> int:
    """A pitch token id (1 or more) → the MIDI pitch, or :data:`REST`."""
    if not 1 <= token < PITCH_TOKENS:
        raise ValueError(f"token must be a pitch token in 1..{PITCH_TOKENS - 1}, got {token}")
    return REST if token == 1 else token - 2 + LOWEST_PITCH


def tokenise(chorale: Chorale) -> torch.Tensor:
    """A chorale → ``(L, 2)`` int64 tokens ``(pitch id, duration id)``, in order of onset.

    Notes that start together are ordered soprano, alto, tenor, bass; a note longer than
    :data:`MAX_DURATION` steps becomes several tokens of the same pitch.

    Example:
        >>> c = Chorale("demo", (((60, 8),), ((55, 4), (57, 4)), ((52, 8),), ((48, 8),)))
        >>> tokenise(c).tolist()
        [[29, 8], [24, 4], [21, 8], [17, 8], [26, 4]]
    """
    events = []
    for v, notes in enumerate(chorale.voices):
        t = 0
        for pitch, d in notes:
            while d > 0:
                piece = min(d, MAX_DURATION)
                events.append((t, v, pitch_to_token(pitch), piece))
                t, d = t + piece, d - piece
    events.sort()
    return torch.tensor([[p, d] for _, _, p, d in events], dtype=torch.int64).view(-1, 2)


def detokenise(tokens: torch.Tensor, name: str = "generated") -> Chorale:
    """``(L, 2)`` tokens → a :class:`Chorale`; stops at the first boundary token (a 0).

    Each note goes to the voice that has sounded for the shortest time so far (the first in
    S, A, T, B order on a tie), which undoes :func:`tokenise`. The voices are then padded with
    rests to the length of the longest.

    Example:
        >>> c = Chorale("demo", (((60, 8),), ((55, 4), (57, 4)), ((52, 8),), ((48, 8),)))
        >>> detokenise(tokenise(c)) == Chorale("generated", c.voices)
        True
    """
    tokens = torch.as_tensor(tokens)
    if tokens.dim() != 2 or tokens.shape[1] != 2:
        raise ValueError(f"tokens must have shape (L, 2), got {tuple(tokens.shape)}")
    clocks = [0] * len(VOICES)
    voices: list[list[tuple[int, int]]] = [[] for _ in VOICES]
    for p, d in tokens.tolist():
        if p == 0 or d == 0:
            break
        v = clocks.index(min(clocks))
        pitch = token_to_pitch(p)
        voices[v].append((pitch, d))
        clocks[v] += d
    total = max(clocks)
    for v in range(len(VOICES)):
        if clocks[v] < total:
            voices[v].append((REST, total - clocks[v]))
    return Chorale(name, tuple(tuple(v) for v in voices))


def chorale_tokens(
    split: str = "train", length: int = 256, stride: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token windows of the chorales of one split, for a next-token model.

    Each chorale's tokens are followed by the end token ``(0, 0)`` and cut into windows of
    ``length`` tokens, padded with 0s at the end. A window starts at the beginning of the
    chorale, or at least ``stride`` tokens after the previous start at a beat on which all four
    voices start a note, so that the voices are level at the start of every window.

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.
        length: tokens per window, ``T``.
        stride: the least number of tokens between window starts (default ``length``: windows
            do not overlap).

    Returns:
        ``x`` of shape ``(N, T, 2)`` int64 (pitch id, duration id) and ``y`` of shape ``(N,)``:
        the index of each window's chorale in :func:`chorales` ``(split)``.
    """
    _check_split(split, CHORALE_SPLITS)
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    stride = length if stride is None else stride
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    xs, ys = [], []
    for i, c in enumerate(chorales(split)):
        tok = torch.cat([tokenise(c), torch.zeros(1, 2, dtype=torch.int64)])  # the end token
        starts, start = [0], 0
        for j in _sync_points(c):  # where every voice starts a note on a beat
            if j >= start + stride:
                starts.append(j)
                start = j
        for start in starts:
            w = torch.zeros(length, 2, dtype=torch.int64)
            piece = tok[start : start + length]
            w[: len(piece)] = piece
            xs.append(w)
            ys.append(i)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)


def _sync_points(chorale: Chorale) -> list[int]:
    """Token indices at which all four voices start a note together, on a beat: a window that
    starts there starts, like a whole chorale, with the four voices level."""
    onsets: dict[int, int] = {}
    for notes in chorale.voices:
        t = 0
        for _, d in notes:
            while d > 0:  # as in tokenise: a long note is several tokens
                onsets[t] = onsets.get(t, 0) + 1
                t, d = t + min(d, MAX_DURATION), d - min(d, MAX_DURATION)
    index, points = 0, []
    for t in sorted(onsets):  # tokens are sorted by onset: those at time t start at `index`
        if onsets[t] == len(VOICES) and t % STEPS_PER_QUARTER == 0:
            points.append(index)
        index += onsets[t]
    return points


def chorale_bars(
    split: str = "train", n_bars: int = 2, steps_per_bar: int = 16, hop: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Piano-roll excerpts of ``n_bars`` bars, for a multi-track model such as MuseGAN.

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n_bars: bars per excerpt.
        steps_per_bar: sixteenth-note steps per bar (16 is a bar of 4/4).
        hop: steps between excerpt starts (default: one bar). Excerpts with a rest in any voice
            are left out.

    Returns:
        ``x`` of shape ``(N, n_bars, steps_per_bar, 4)`` int64 MIDI pitches (voices in
        :data:`VOICES` order) and ``y`` of shape ``(N,)``: the chorale index in the split.
    """
    _check_split(split, CHORALE_SPLITS)
    for name, value in (("n_bars", n_bars), ("steps_per_bar", steps_per_bar)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    hop = steps_per_bar if hop is None else hop
    if not isinstance(hop, int) or hop < 1:
        raise ValueError(f"hop must be a positive int, got {hop!r}")
    size = n_bars * steps_per_bar
    xs, ys = [], []
    for i, c in enumerate(chorales(split)):
        roll = c.roll()
        for start in range(0, len(roll) - size + 1, hop):
            piece = roll[start : start + size]
            if (piece != REST).all():
                xs.append(piece.view(n_bars, steps_per_bar, len(VOICES)))
                ys.append(i)
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)
