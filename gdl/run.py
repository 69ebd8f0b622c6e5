r"""Run a gallery script the way the docs build runs it: one thread, and the run's seed everywhere.

    python -m gdl.run gallery/autoregressive/plot_01_causal_conv_arm.py
    python -m gdl.run gallery/flows/plot_02_flows_digits.py --seed 1

The scripts themselves set no seed and no thread count: before each one, the docs build and
this runner call :func:`prepare`, which seeds every generator with the run's seed and exports it
as ``GDL_SEED``, the default seed of :func:`gdl.fit`. Run with another ``--seed``, the same script
gives another draw of every number it reports (the seed sweep, ``make seeds``, does that).
"""

from __future__ import annotations

import argparse
import os
import random
import runpy
import sys
from pathlib import Path

import numpy as np
import torch

from .train import SEED_ENV, default_seed

__all__ = ["prepare", "run_script", "main"]


def prepare(seed: int | None = None) -> int:
    """Set up a run: one thread per process, and ``seed`` (default: the run's seed) in every
    generator (Python's, NumPy's, torch's) and in ``GDL_SEED`` for :func:`gdl.fit`.

    Returns:
        the seed.
    """
    seed = default_seed() if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    os.environ[SEED_ENV] = str(seed)
    torch.set_num_threads(1)  # small models train several times faster on one thread
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


def run_script(path: str | os.PathLike, seed: int | None = None) -> None:
    """Run the script at ``path`` as ``__main__``, from its own folder, after :func:`prepare`."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such script: {path}")
    prepare(seed)
    cwd, argv = os.getcwd(), sys.argv
    os.chdir(path.parent)  # as the docs build runs it
    sys.argv = [str(path)]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        os.chdir(cwd)
        sys.argv = argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gdl.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("script", help="a gallery script, e.g. gallery/autoregressive/plot_01_causal_conv_arm.py")
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: $GDL_SEED or 0)")
    args = parser.parse_args(argv)
    run_script(args.script, args.seed)


if __name__ == "__main__":
    main()
