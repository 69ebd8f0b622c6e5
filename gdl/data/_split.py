"""The one check every loader makes of its ``split`` argument."""


def _check_split(split: str, allowed) -> None:
    if split not in allowed:
        raise ValueError(f"split must be one of {sorted(allowed)}, got {split!r}")
