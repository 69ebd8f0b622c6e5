r"""Images with captions: Fashion-MNIST and the digits, each image described by a short sentence.

A caption names the class and two attributes read from the image itself, so it says more than
the label: Fashion-MNIST garments are *dark* or *light* (mean brightness of the garment's
pixels, against the median of its class) and *small* or *large* (the share of the frame the
garment covers, against the median of its class); digits are *thin* or *thick* (the ink, against
the median of their class). The median is that of the training split, so the same thresholds
caption every split. Captions are sentences of the fixed vocabulary :data:`VOCAB`:
``"a dark small sneaker"``, ``"a thick seven"``, turned into token ids by :func:`tokenize`.

Example:
    >>> x, tokens, y = captioned_digits("test")
    >>> tuple(x.shape), tuple(tokens.shape), detokenize(tokens[0])
    ((447, 1, 8, 8), (447, 6), 'a thick three')
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ._split import _check_split
from .images import DIGITS_SPLITS, digits, fashion_mnist

__all__ = [
    "VOCAB",
    "MAX_TOKENS",
    "FASHION_WORDS",
    "DIGIT_WORDS",
    "tokenize",
    "detokenize",
    "caption",
    "captioned_fashion_mnist",
    "captioned_digits",
    "stroke_labels",
]

#: Class names of Fashion-MNIST as captions say them (``"ankle boot"`` is two words).
FASHION_WORDS = (
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
)
#: Class names of the digits.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Attribute words: Fashion-MNIST has brightness and size, digits have stroke.
BRIGHTNESS, SIZE, STROKE = ("dark", "light"), ("small", "large"), ("thin", "thick")

#: The fixed vocabulary; id 0 is the padding token.
VOCAB: tuple[str, ...] = tuple(
    dict.fromkeys(
        ["<pad>", "a", "photo", "of"]
        + [w for name in FASHION_WORDS for w in name.split()]
        + list(DIGIT_WORDS) + list(BRIGHTNESS) + list(SIZE) + list(STROKE)
    )
)
_IDS = {w: i for i, w in enumerate(VOCAB)}
#: Length of every token sequence (the longest caption, padded with id 0).
MAX_TOKENS = 6


def tokenize(texts: str | list[str], length: int = MAX_TOKENS) -> torch.Tensor:
    """Token ids of one caption or a list of them, padded with 0 to ``length``.

    Arguments:
        texts: a sentence of words from :data:`VOCAB`, or a list of them.
        length: tokens per sentence.

    Returns:
        int64 ids, shape ``(len(texts), length)`` (``(length,)`` for a single string).

    Raises:
        ValueError: for a word outside the vocabulary or a sentence longer than ``length``.

    Example:
        >>> tokenize("a photo of a bag")
        tensor([ 1,  2,  3,  1, 12,  0])
    """
    single = isinstance(texts, str)
    rows = []
    for text in [texts] if single else texts:
        words = text.lower().split()
        unknown = [w for w in words if w not in _IDS]
        if unknown:
            raise ValueError(f"texts must use words of gdl.data.VOCAB, got unknown word(s) {unknown}")
        if not 1 <= len(words) <= length:
            raise ValueError(f"texts must have 1..{length} words, got {len(words)} in {text!r}")
        rows.append([_IDS[w] for w in words] + [0] * (length - len(words)))
    ids = torch.tensor(rows, dtype=torch.long).view(-1, length)
    return ids[0] if single else ids


def detokenize(ids: torch.Tensor) -> str:
    """The sentence of a sequence of token ids ``(T,)`` (padding dropped)."""
    return " ".join(VOCAB[i] for i in ids.tolist() if i != 0)


def caption(name: str, *attributes: str) -> str:
    """A caption from a class name and attribute words: ``caption("bag", "dark")`` is ``"a dark bag"``."""
    return " ".join(["a", *attributes, name])


def _above_class_median(value: torch.Tensor, y: torch.Tensor, reference: torch.Tensor, y_ref) -> torch.Tensor:
    """Whether each value exceeds the median of its class in ``reference`` (the training split)."""
    medians = torch.stack([reference[y_ref == k].median() for k in range(10)])
    return value > medians[y]


def _fashion_measures(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Brightness (mean level of the garment's pixels) and size (share of the frame covered)."""
    on = x > 25  # the garment: pixels brighter than the background noise
    size = on.float().mean(dim=(1, 2, 3))
    brightness = (x * on).sum(dim=(1, 2, 3)) / on.sum(dim=(1, 2, 3)).clamp_min(1)
    return brightness.float(), size


@lru_cache(maxsize=1)
def _fashion_reference() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, y = fashion_mnist("train")
    return (*_fashion_measures(x), y)


def captioned_fashion_mnist(split: str = "train", levels: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fashion-MNIST with a caption per image: ``"a {dark|light} {small|large} {garment}"``.

    Arguments:
        split: ``"train"`` or ``"test"``.
        levels: grey levels of the images returned (the captions are read at 256 levels).

    Returns:
        images ``(N, 1, 28, 28)`` (int64), caption tokens ``(N, MAX_TOKENS)`` (int64, ids of
        :data:`VOCAB`) and class labels ``(N,)``.

    Raises:
        FileNotFoundError: naming the Debian package ``dataset-fashion-mnist`` when it is missing.
    """
    _check_split(split, ("train", "test"))
    x, y = fashion_mnist(split)
    brightness, size = _fashion_measures(x)
    ref_b, ref_s, ref_y = _fashion_reference()
    light = _above_class_median(brightness, y, ref_b, ref_y)
    large = _above_class_median(size, y, ref_s, ref_y)
    texts = [
        caption(FASHION_WORDS[k], BRIGHTNESS[int(b)], SIZE[int(s)])
        for k, b, s in zip(y.tolist(), light.tolist(), large.tolist())
    ]
    if levels != 256:
        x = fashion_mnist(split, levels=levels)[0]
    return x, tokenize(texts), y


def captioned_digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 8×8 digits with a caption per image: ``"a {thin|thick} {digit}"``.

    Arguments:
        split: ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        images ``(N, 1, 8, 8)`` (int64, levels 0..16), caption tokens ``(N, MAX_TOKENS)`` and
        class labels ``(N,)``.
    """
    _check_split(split, DIGITS_SPLITS)
    x, y = digits(split)
    x_ref, y_ref = digits("train")
    ink = x.float().sum(dim=(1, 2, 3))
    thick = _above_class_median(ink, y, x_ref.float().sum(dim=(1, 2, 3)), y_ref)
    texts = [caption(DIGIT_WORDS[k], STROKE[int(t)]) for k, t in zip(y.tolist(), thick.tolist())]
    return x, tokenize(texts), y


def stroke_labels(split: str = "train") -> torch.Tensor:
    """For the digits: 1 where the caption says *thick*, 0 where it says *thin*, shape ``(N,)``."""
    _, tokens, _ = captioned_digits(split)
    return (tokens == _IDS["thick"]).any(dim=1).long()
