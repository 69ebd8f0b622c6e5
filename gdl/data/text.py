r"""Text as token sequences: a character vocabulary and US census names.

Example:
    >>> NAMES_VOCAB.decode(NAMES_VOCAB.encode(["ada"], length=4))
    ['ada']
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ._split import _check_split

__all__ = ["Vocabulary", "NAMES_VOCAB", "NAMES_KINDS", "NAMES_SPLITS", "names"]


@dataclass(frozen=True)
class Vocabulary:
    """Characters to token ids and back, with one boundary token at id 0.

    Token 0 is the boundary ``"."``, as in Karpathy's *makemore*: it is the input that starts
    every sequence (BOS), the target that ends it (EOS), and the padding after the end (PAD).
    A string of ``L`` characters becomes ``L`` ids followed by 0s up to the fixed length
    ``T``; a string of exactly ``T`` characters has no end token (the length itself ends it).
    Character ``chars[i]`` has id ``i + 1``.

    Arguments:
        chars: the characters, each once; ``"."`` is reserved for the boundary.

    Example:
        >>> vocab = Vocabulary("abc")
        >>> vocab.size, vocab.bos, vocab.eos, vocab.pad
        (4, 0, 0, 0)
        >>> x = vocab.encode(["ab", "cab"], length=4)
        >>> x.tolist()
        [[1, 2, 0, 0], [3, 1, 2, 0]]
        >>> vocab.decode(x)
        ['ab', 'cab']
    """

    chars: str
    boundary: str = "."
    _ids: dict = field(init=False, repr=False, compare=False)

    #: The boundary token plays the three roles, so the three ids coincide.
    bos = eos = pad = 0

    def __post_init__(self):
        if len(set(self.chars)) != len(self.chars) or self.boundary in self.chars:
            raise ValueError(
                f"chars must be distinct and must not contain {self.boundary!r}, got {self.chars!r}"
            )
        object.__setattr__(self, "_ids", {c: i + 1 for i, c in enumerate(self.chars)})

    @property
    def size(self) -> int:
        """The number of token ids (the characters plus the boundary)."""
        return len(self.chars) + 1

    def encode(self, texts: list[str], length: int) -> torch.Tensor:
        """Strings → ``(N, length)`` int64 ids, padded with the boundary token 0.

        Raises:
            ValueError: if a string is longer than ``length`` or holds an unknown character.
        """
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        x = torch.zeros(len(texts), length, dtype=torch.int64)
        for row, text in enumerate(texts):
            if len(text) > length:
                raise ValueError(f"text {text!r} is longer than length={length}")
            unknown = set(text) - self._ids.keys()
            if unknown:
                raise ValueError(f"text {text!r} has characters outside the vocabulary: {unknown}")
            x[row, : len(text)] = torch.tensor([self._ids[c] for c in text], dtype=torch.int64)
        return x

    def decode(self, x: torch.Tensor) -> list[str]:
        """``(N, T)`` ids → strings, each cut at its first boundary token."""
        if x.dim() != 2:
            raise ValueError(f"x must have shape (N, T), got {tuple(x.shape)}")
        out = []
        for row in x.tolist():
            text = []
            for i in row:
                if i == 0:
                    break
                text.append(self.chars[i - 1])
            out.append("".join(text))
        return out


#: The vocabulary of :func:`names`: the 26 lowercase letters and the boundary.
NAMES_VOCAB = Vocabulary("abcdefghijklmnopqrstuvwxyz")
#: Which census lists :func:`names` reads: the file names inside the ``names`` package.
NAMES_KINDS = {
    "first": ("dist.female.first", "dist.male.first"),
    "last": ("dist.all.last",),
}
#: Fractions of the seeded train / val / test split of :func:`names`.
NAMES_SPLITS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}


@lru_cache(maxsize=4)
def _name_list(kind: str) -> tuple[str, ...]:
    """The distinct names of one census list, lowercase, in a fixed shuffled order."""
    spec = importlib.util.find_spec("names")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the names corpus needs the PyPI package 'names' (pip install names), "
            "which ships the US census name lists"
        )
    folder = Path(spec.origin).parent
    found = set()
    for filename in NAMES_KINDS[kind]:
        with open(folder / filename) as f:
            # Each line: NAME  frequency  cumulative frequency  rank.
            found.update(line.split()[0].lower() for line in f if line.strip())
    # Sorting first makes the shuffle independent of file order and set iteration order.
    order = np.random.default_rng(0).permutation(len(found))
    ordered = sorted(found)
    return tuple(ordered[i] for i in order)


def names(
    split: str = "train", kind: str = "first", length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """US census names as fixed-length sequences of character tokens.

    The 1990 US census lists shipped by the PyPI package ``names``: about 5,000 distinct first
    names or 88,800 last names, lowercased. A seeded shuffle splits them 80 / 10 / 10 into
    train, val and test; the split is the same on every machine. Each name is encoded with
    :data:`NAMES_VOCAB`: its letters (ids 1..26), the end token 0, then padding 0s.

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.
        kind: ``"first"`` or ``"last"`` names.
        length: tokens per sequence, ``T``. By default one more than the longest name of the
            list (12 for first, 14 for last names), so every name ends with its end token;
            names longer than ``length`` are left out.

    Returns:
        ``x`` of shape ``(N, T)`` (int64 token ids) and ``y`` of shape ``(N,)``: the number of
        letters of each name (int64).

    Raises:
        ModuleNotFoundError: if the package ``names`` is not installed.

    Example:
        >>> x, y = names("train")
        >>> tuple(x.shape), [len(names(s)[0]) for s in ("val", "test")]
        ((4130, 12), [517, 516])
        >>> NAMES_VOCAB.decode(x[:3]), y[:3].tolist()
        (['consuela', 'carmella', 'luna'], [8, 8, 4])
    """
    _check_split(split, NAMES_SPLITS)
    if kind not in NAMES_KINDS:
        raise ValueError(f"kind must be one of {sorted(NAMES_KINDS)}, got {kind!r}")
    every = _name_list(kind)
    if length is None:
        length = max(map(len, every)) + 1
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    lo, hi = NAMES_SPLITS[split]
    chosen = [s for s in every[round(lo * len(every)) : round(hi * len(every))] if len(s) <= length]
    x = NAMES_VOCAB.encode(chosen, length)
    y = torch.tensor([len(s) for s in chosen], dtype=torch.int64)
    return x, y
