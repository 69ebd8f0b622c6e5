r"""Image data sets: scikit-learn's 8×8 digits and Fashion-MNIST, as integer grey levels.

Example:
    >>> x, y = digits("train")
    >>> tuple(x.shape), x.dtype, int(x.max())
    ((1000, 1, 8, 8), torch.int64, 16)
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ._split import _check_split

__all__ = [
    "ImageSet",
    "IMAGE_SETS",
    "image_set",
    "DIGITS_SPLITS",
    "DIGITS_LEVELS",
    "FASHION_DIR",
    "FASHION_CLASSES",
    "digits",
    "fashion_mnist",
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
