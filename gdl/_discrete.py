"""Argument checks shared by the models of discrete data (grey levels, tokens, codes)."""

from __future__ import annotations

import torch

__all__ = ["check_num_levels", "check_levels", "check_temperature"]


def check_num_levels(num_levels: int) -> int:
    """Raise a ValueError unless ``num_levels`` is an int of at least 2."""
    if not isinstance(num_levels, int) or isinstance(num_levels, bool) or num_levels < 2:
        raise ValueError(f"num_levels must be an int >= 2, got {num_levels!r}")
    return num_levels


def check_levels(x: torch.Tensor, num_levels: int, name: str = "x") -> torch.Tensor:
    """Raise a ValueError unless ``x`` holds integers in ``0 .. num_levels - 1``; return int64.

    The shape is the model's to check (:meth:`gdl.base.GenerativeModel._check_event`).
    """
    if x.is_floating_point() or x.is_complex():
        raise ValueError(f"{name} must hold integers in 0..{num_levels - 1}, got dtype {x.dtype}")
    if x.numel() and (x.min() < 0 or x.max() >= num_levels):
        raise ValueError(
            f"{name} must hold integers in 0..{num_levels - 1}, "
            f"got values in {int(x.min())}..{int(x.max())}"
        )
    return x.long()


def check_temperature(temperature: float) -> float:
    """Raise a ValueError unless ``temperature`` is a positive number."""
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return float(temperature)
