r"""Offline data sets, returned as tensors.

Every loader returns a pair ``(x, y)`` of tensors holding the whole split: data first, labels
second. Nothing is downloaded; each set ships inside an installed package.

* :func:`digits`: scikit-learn's 8×8 digits, ``x`` of shape ``(N, 1, 8, 8)``, integers 0..16;
  ``y`` the digit.
* :func:`fashion_mnist`: Fashion-MNIST from Debian's ``dataset-fashion-mnist``, ``x`` of shape
  ``(N, 1, 28, 28)``, integers 0..255 (or fewer levels); ``y`` the kind of garment.
* :func:`toy_2d`: 2-D point sets, ``x`` of shape ``(n, 2)``, floats; ``y`` the mode, branch or
  position each point came from.
* :func:`names`: US census first or last names from the PyPI package ``names``, as
  character tokens: ``x`` of shape ``(N, T)``, int64 ids of :data:`NAMES_VOCAB` padded with the
  boundary token 0; ``y`` the number of characters of each name.

Example:
    >>> x, y = digits("train")
    >>> tuple(x.shape), x.dtype, int(x.max())
    ((1000, 1, 8, 8), torch.int64, 16)
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "ImageSet",
    "IMAGE_SETS",
    "image_set",
    "eight_gaussian_centres",
    "DIGITS_SPLITS",
    "DIGITS_LEVELS",
    "TOY_SETS",
    "digits",
    "fashion_mnist",
    "FASHION_CLASSES",
    "toy_2d",
    "Vocabulary",
    "NAMES_VOCAB",
    "NAMES_KINDS",
    "names",
]

#: Index ranges of the standard split of scikit-learn's 1797 digits (as in Tomczak's book code).
DIGITS_SPLITS = {"train": (0, 1000), "val": (1000, 1350), "test": (1350, 1797)}
#: Pixel values of the digits run over 0..16.
DIGITS_LEVELS = 17

#: Where Debian's ``dataset-fashion-mnist`` package installs its files.
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class ImageSet:
    """What the rest of the package needs to know about an image data set.

    Arguments:
        name: the data set, as results and the leaderboard name it (``"digits"``).
        shape: the shape of one image, ``(1, H, W)``.
        num_levels: grey levels of the images as stored.
        num_classes: number of labels.
    """

    name: str
    shape: tuple[int, int, int]
    num_levels: int
    num_classes: int = 10

    def load(self, split: str, num_levels: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of ``split``, quantised to ``num_levels`` (default: as stored)."""
        if self.name == "digits":
            if num_levels not in (None, self.num_levels):
                raise ValueError(f"the digits have {self.num_levels} levels, got num_levels={num_levels!r}")
            return digits(split)
        return fashion_mnist(split, levels=num_levels or self.num_levels)

    def label(self, num_levels: int | None = None) -> str:
        """The name results carry: ``"fashion-mnist (4 levels)"`` for a quantised copy."""
        if num_levels in (None, self.num_levels):
            return self.name
        return f"{self.name} ({num_levels} levels)"


#: The image data sets, by name.
IMAGE_SETS = {
    "digits": ImageSet("digits", (1, 8, 8), 17),
    "fashion-mnist": ImageSet("fashion-mnist", (1, 28, 28), 256),
}


def image_set(name: str) -> ImageSet:
    """The :class:`ImageSet` called ``name`` (a key of :data:`IMAGE_SETS`)."""
    if name not in IMAGE_SETS:
        raise ValueError(f"dataset must be one of {sorted(IMAGE_SETS)}, got {name!r}")
    return IMAGE_SETS[name]


def _check_split(split: str, allowed) -> None:
    if split not in allowed:
        raise ValueError(f"split must be one of {sorted(allowed)}, got {split!r}")


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.int64), d.target.astype(np.int64)


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 handwritten digits, with the standard train / val / test split.

    The 1797 images are split in file order: the first 1000 for training, the next 350 for
    validation and the last 447 for testing. Pixels are integers in 0..16 (17 levels).

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        ``x`` of shape ``(N, 1, 8, 8)`` (int64) and labels ``y`` of shape ``(N,)`` (int64).

    Example:
        >>> [len(digits(s)[0]) for s in ("train", "val", "test")]
        [1000, 350, 447]
    """
    _check_split(split, DIGITS_SPLITS)
    data, target = _digits_arrays()
    lo, hi = DIGITS_SPLITS[split]
    x = torch.from_numpy(data[lo:hi].copy()).view(-1, 1, 8, 8)
    y = torch.from_numpy(target[lo:hi].copy())
    return x, y


def _read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST format): magic, dimensions, then raw unsigned bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an idx file of unsigned bytes")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: header says {dims}, file holds {data.size} values")
    return data.reshape(dims)


def fashion_mnist(
    split: str = "train", levels: int = 256, root: str | os.PathLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST (Xiao et al., 2017) from the files of Debian's ``dataset-fashion-mnist``.

    Arguments:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000).
        levels: number of grey levels to keep, from 2 to 256; values are quantised as
            ``floor(v * levels / 256)``, so pixels run over ``0 .. levels - 1``.
        root: folder holding the four ``*-idx*-ubyte.gz`` files; defaults to
            ``/usr/share/datasets/fashion-mnist``.

    Returns:
        ``x`` of shape ``(N, 1, 28, 28)`` (int64) and labels ``y`` of shape ``(N,)`` (int64).

    Raises:
        FileNotFoundError: naming the Debian package to install when the files are missing.
    """
    _check_split(split, ("train", "test"))
    if not isinstance(levels, int) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an int in 2..256, got {levels!r}")
    root = FASHION_DIR if root is None else Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = root / f"{prefix}-images-idx3-ubyte.gz"
    labels = root / f"{prefix}-labels-idx1-ubyte.gz"
    for p in (images, labels):
        if not p.exists():
            raise FileNotFoundError(
                f"Fashion-MNIST file {p} is missing. Install the Debian package "
                "'dataset-fashion-mnist' (sudo apt-get install dataset-fashion-mnist) "
                "or pass root= pointing at a folder with the idx .gz files."
            )
    x = torch.from_numpy(_read_idx(images).astype(np.int64)).unsqueeze(1)
    y = torch.from_numpy(_read_idx(labels).astype(np.int64))
    if levels != 256:
        x = x * levels // 256
    return x, y


# ---------------------------------------------------------------------- 2-D toy sets
def eight_gaussian_centres() -> np.ndarray:
    r"""The modes of the ``"8gaussians"`` set: :math:`2(\cos\frac{2\pi j}{8}, \sin\frac{2\pi j}{8})`,
    :math:`j = 0..7`, shape ``(8, 2)``."""
    angles = 2 * np.pi * np.arange(8) / 8
    return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _eight_gaussians(n: int, rng: np.random.Generator, noise: float):
    centres = eight_gaussian_centres()
    y = rng.integers(0, 8, size=n)
    x = centres[y] + noise * rng.standard_normal((n, 2))
    return x, y


def _checkerboard(n: int, rng: np.random.Generator, noise: float):
    # 4×4 board on [-2, 2]²; points fill the 8 dark squares uniformly.
    del noise
    cols = rng.integers(0, 4, size=n)
    rows = 2 * rng.integers(0, 2, size=n) + (cols % 2)
    x = np.stack([cols + rng.random(n), rows + rng.random(n)], axis=1) - 2.0
    y = rows * 4 + cols
    return x, y


def _moons(n, rng, noise):
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=noise, random_state=int(rng.integers(2**31)))
    return (x - [0.5, 0.25]) * 1.5, y


def _circles(n, rng, noise):
    from sklearn.datasets import make_circles

    x, y = make_circles(n, noise=noise, factor=0.5, random_state=int(rng.integers(2**31)))
    return 2.0 * x, y


def _swiss_roll(n, rng, noise):
    from sklearn.datasets import make_swiss_roll

    x3, t = make_swiss_roll(n, noise=noise, random_state=int(rng.integers(2**31)))
    return x3[:, [0, 2]] / 5.0, t


#: The 2-D sets, with the default noise of each.
TOY_SETS = {
    "moons": (_moons, 0.05),
    "circles": (_circles, 0.05),
    "8gaussians": (_eight_gaussians, 0.1),
    "checkerboard": (_checkerboard, 0.0),
    "swissroll": (_swiss_roll, 0.5),
}


def toy_2d(
    name: str, n: int = 2000, *, seed: int = 0, noise: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-D toy data set, centred near the origin with a spread of about 2.

    Arguments:
        name: one of ``"moons"``, ``"circles"``, ``"8gaussians"``, ``"checkerboard"``,
            ``"swissroll"``.
        n: number of points.
        seed: seed of the generator; the same seed gives the same points.
        noise: standard deviation of the added Gaussian noise (each set has a default;
            the checkerboard is uniform and ignores it).

    Returns:
        ``x`` of shape ``(n, 2)`` (float32) and ``y`` of shape ``(n,)``: the moon, circle,
        mode or square a point came from (int64), or its position along the swiss roll (float32).

    Example:
        >>> x, y = toy_2d("8gaussians", 1000, seed=0)
        >>> tuple(x.shape), sorted(set(y.tolist())) == list(range(8))
        ((1000, 2), True)
    """
    if name not in TOY_SETS:
        raise ValueError(f"name must be one of {sorted(TOY_SETS)}, got {name!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    make, default_noise = TOY_SETS[name]
    noise = default_noise if noise is None else noise
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    x, y = make(n, rng, noise)
    y_dtype = torch.float32 if name == "swissroll" else torch.int64
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=y_dtype)


# ---------------------------------------------------------------------------------- text


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
        """Number of token ids: the characters plus the boundary."""
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
