"""Every argument check of the package, written once.

Each check takes the value and the argument's name, returns the value in a normal form (an
``int``, a ``float``, a tuple, an int64 tensor), and otherwise raises a :class:`TypeError` (the
wrong kind of thing) or a :class:`ValueError` (the right kind, a wrong value) whose message names
the argument, says what was expected and shows what came. A model checks each of its arguments in
one line::

    self.num_levels = checks.num_levels(num_levels)
    hidden = checks.positive_int(hidden, "hidden")

Example:
    >>> positive_int(3, "hidden")
    3
    >>> positive_int(0, "hidden")
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a positive int, got 0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "positive_int",
    "int_at_least",
    "ints",
    "event_shape",
    "num_levels",
    "number",
    "positive",
    "probability",
    "temperature",
    "one_of",
    "tensor",
    "batch",
    "finite",
    "within",
    "levels",
    "labels",
]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def int_at_least(value, name: str, low: int) -> int:
    """An ``int`` (not a bool) of at least ``low``."""
    if not _is_int(value) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {_show(value)}")
    return int(value)


def positive_int(value, name: str) -> int:
    """An ``int`` (not a bool) of at least 1."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {_show(value)}")
    return int(value)


def ints(value, name: str, *, low: int = 1, allow_empty: bool = False) -> list[int]:
    """A sequence of ints, each at least ``low`` (hidden sizes, latent sizes, ...)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a sequence of ints >= {low}, got {_show(value)}")
    out = list(value)
    if (not out and not allow_empty) or any(not _is_int(v) or v < low for v in out):
        what = "a" if allow_empty else "a non-empty"
        raise ValueError(f"{name} must be {what} sequence of ints >= {low}, got {_show(value)}")
    return [int(v) for v in out]


def event_shape(value, name: str = "event_shape", *, ndim: int | None = None) -> tuple[int, ...]:
    """The shape of one example: a non-empty tuple of positive ints (of length ``ndim``)."""
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if not shape or any(not _is_int(s) or s < 1 for s in shape) or (ndim and len(shape) != ndim):
        what = f"{ndim} positive ints" if ndim else "a non-empty tuple of positive ints"
        raise ValueError(f"{name} must be {what}, got {_show(value)}")
    return tuple(int(s) for s in shape)


def num_levels(value, name: str = "num_levels", *, optional: bool = False) -> int | None:
    """A number of discrete values per dimension: an int >= 2 (or ``None`` if ``optional``)."""
    if value is None and optional:
        return None
    if not _is_int(value) or value < 2:
        alternative = "None or " if optional else ""
        raise ValueError(f"{name} must be {alternative}an int >= 2, got {_show(value)}")
    return int(value)


def number(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> float | None:
    """A finite real number in the interval given by ``low`` and ``high`` (closed unless ``*_open``)."""
    if value is None and optional:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        alternative = "None or " if optional else ""
        raise ValueError(f"{name} must be {alternative}a number in {interval}, got {_show(value)}")
    return float(value)


def positive(value, name: str, *, optional: bool = False) -> float | None:
    """A finite number > 0."""
    return number(value, name, low=0.0, low_open=True, optional=optional)


def probability(value, name: str, *, include_one: bool = False) -> float:
    """A probability in ``[0, 1)`` (dropout rates) or ``[0, 1]``."""
    return number(value, name, low=0.0, high=1.0, high_open=not include_one)


def temperature(value, name: str = "temperature") -> float:
    """A sampling temperature: a finite number > 0."""
    return positive(value, name)


def one_of(value, name: str, options) -> str:
    """One of a few named choices."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {_show(value)}")
    return value


def tensor(x, name: str = "x") -> torch.Tensor:
    """A :class:`torch.Tensor` (a TypeError for a list, an array, ...)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def batch(x, shape: Sequence[int], name: str = "x", *, device: torch.device | None = None) -> torch.Tensor:
    """A non-empty batch of examples of ``shape``: a tensor ``(B, *shape)`` with ``B >= 1``,
    on ``device`` if one is given, holding no NaN or infinity."""
    x = tensor(x, name)
    shape = tuple(shape)
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise ValueError(f"{name} must have shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError(f"{name} must hold at least one example, got an empty batch {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if device is not None and x.device.type != torch.device(device).type:
        raise ValueError(f"{name} must be on the model's device {device}, got {x.device}")
    return finite(x, name)


def finite(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """A tensor without NaN or infinite entries."""
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")
    return x


def within(x: torch.Tensor, low: float, high: float, name: str = "x", *, open: bool = False) -> torch.Tensor:
    """A tensor of real numbers, all in ``[low, high]`` (or in ``(low, high)`` if ``open``)."""
    x = tensor(x, name)
    outside = (x <= low) | (x >= high) if open else (x < low) | (x > high)
    if x.numel() and outside.any():
        interval = f"({low:.4g}, {high:.4g})" if open else f"[{low:.4g}, {high:.4g}]"
        raise ValueError(
            f"{name} must lie in {interval}, got values in [{x.min().item():.4g}, {x.max().item():.4g}]"
        )
    return x


def levels(x: torch.Tensor, num_levels: int, name: str = "x") -> torch.Tensor:
    """Integers in ``0 .. num_levels - 1`` (grey levels, tokens, codes), returned as int64.

    The shape is the caller's to check (:func:`batch`).

    Example:
        >>> levels(torch.tensor([[0, 2]]), 3).dtype
        torch.int64
        >>> levels(torch.tensor([[0, 3]]), 3)
        Traceback (most recent call last):
        ...
        ValueError: x must hold integers in 0..2, got values in 0..3
    """
    x = tensor(x, name)
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers in 0..{num_levels - 1}, got dtype {x.dtype}")
    if x.numel() and (x.min() < 0 or x.max() >= num_levels):
        raise ValueError(
            f"{name} must hold integers in 0..{num_levels - 1}, got values in {int(x.min())}..{int(x.max())}"
        )
    return x.long()


def labels(c, n: int, num_classes: int, name: str = "labels") -> torch.Tensor:
    """Class labels: an integer tensor of shape ``(n,)`` with values in ``0 .. num_classes - 1``."""
    c = tensor(c, name)
    if c.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {tuple(c.shape)}")
    return levels(c, num_classes, name)
