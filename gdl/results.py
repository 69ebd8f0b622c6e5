r"""Results for the leaderboard: what a gallery script measured, recorded in one call.

:func:`record` takes a trained model, its test data and its training history, and derives the
rest: the test negative log-likelihood of the right kind (:func:`gdl.metrics.test_nll`), bits per
dimension, the number of parameters, the time to draw samples, their quality
(:func:`gdl.quality.sample_quality`) and the script it was called from. It prints one line;
inside the docs build, which sets ``GDL_RESULTS_DIR``, it also writes the row (and the samples)
to that folder, where the leaderboard page gathers them with :func:`load_results`.

Example:
    >>> import torch
    >>> from gdl.autoregressive import CausalConvARM
    >>> model = CausalConvARM(event_shape=(1, 8, 8), hidden=8, num_layers=2)
    >>> x = torch.randint(0, 17, (20, 1, 8, 8))
    >>> result = record("tiny ARM", model, x, num_samples=0)  # doctest: +ELLIPSIS
    tiny ARM on digits test: ... nats/example = ... bits/dim (exact discrete NLL)
    >>> result.kind, result.params == model.num_parameters()
    ('exact', True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import os
import time
from pathlib import Path

import torch

from . import _checks as checks
from . import data
from .metrics import KINDS, bits_per_dim, test_nll, timed_sample
from .quality import quality_line, sample_quality

__all__ = ["RESULTS_ENV", "Result", "record", "load_results", "load_samples"]

#: Environment variable naming the folder where :func:`record` writes results.
RESULTS_ENV = "GDL_RESULTS_DIR"

PACKAGE = Path(__file__).resolve().parent


@dataclasses.dataclass
class Result:
    """One row of the leaderboard, and the samples it was scored on.

    ``nll`` is in nats per example (``None`` for a model without a likelihood), of the kind
    ``kind`` (a key of :data:`gdl.metrics.KINDS`); ``sample_quality`` is what
    :func:`gdl.quality.sample_quality` returned for ``samples``, or ``None``.
    """

    model: str
    dataset: str
    nll: float | None
    bits_per_dim: float | None
    kind: str
    params: int | None
    train_seconds: float | None
    sample_seconds_per_100: float | None
    source: str | None
    note: str
    sample_quality: dict | None
    time: str
    model_class: str | None = None
    samples: torch.Tensor | None = dataclasses.field(default=None, repr=False)

    def row(self) -> dict:
        """The row as the leaderboard stores it (everything but the samples)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "samples"}


def _script() -> str | None:
    """The gallery script (or other file) that called into gdl, as ``section/plot_x.py``."""
    frame = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename.startswith(str(PACKAGE)):
        frame = frame.f_back  # leave the package: the first frame outside it is the caller
    path = None if frame is None else Path(frame.f_code.co_filename)
    if path is None or not path.is_file():
        return None  # an interactive session, a doctest
    parts = path.resolve().parts
    if "gallery" in parts:  # .../gallery/<section>/<script>.py -> <section>/<script>.py
        return "/".join(parts[len(parts) - parts[::-1].index("gallery") :])
    return path.name


def record(
    name: str,
    model=None,
    test_data: torch.Tensor | None = None,
    *,
    dataset: str = "digits",
    history=None,
    nll: float | None = None,
    kind: str | None = None,
    samples: torch.Tensor | None = None,
    sample_seconds_per_100: float | None = None,
    num_samples: int = 1000,
    sample_kwargs: dict | None = None,
    score: bool = True,
    note: str = "",
) -> Result:
    """Measure a trained model for the leaderboard, print one line, and save the row in the build.

    Everything that can be derived is derived: the NLL and its kind from ``model`` and
    ``test_data`` (:func:`gdl.metrics.test_nll`), the dimensions from ``model.event_shape``, the
    parameter count, the training seconds from ``history``, ``num_samples`` timed samples and
    their quality (image data sets only), and the script that called. Pass ``nll`` and ``kind``
    for a number the model cannot give by itself (an importance-weighted estimate, say), and
    ``samples`` for samples drawn another way.

    Arguments:
        name: display name of the model.
        model: the trained model.
        test_data: held-out data on the data's own scale.
        dataset: the data set's name; a name of :data:`gdl.data.IMAGE_SETS` gets sample
            quality, and a model with fewer grey levels than the set is recorded on
            ``"<name> (<L> levels)"``.
        history: what :func:`gdl.fit` returned.
        nll: a negative log-likelihood in nats per example, instead of the derived one.
        kind: its kind, a key of :data:`gdl.metrics.KINDS` (with ``nll``).
        samples: samples on the data's own scale, instead of drawing ``num_samples``.
        sample_seconds_per_100: the time those samples took, per 100.
        num_samples: samples to draw and score (0: none).
        sample_kwargs: keyword arguments of ``model.sample`` (e.g. ``{"steps": 50}``).
        score: score the samples' quality (``False`` for a handful of samples, too few to score).
        note: a short remark.

    Returns:
        a :class:`Result`; its ``samples`` are the scored samples.
    """
    if nll is not None:
        if kind not in KINDS or kind == "none":
            raise ValueError(f"kind must be one of {sorted(set(KINDS) - {'none'})} with nll=, got {kind!r}")
        if not isinstance(nll, (int, float)) or not math.isfinite(nll):
            raise ValueError(f"nll must be a finite number, got {nll!r}")
    elif kind is not None:
        raise ValueError("kind= goes with nll=; without nll the kind is derived from the model")
    num_samples = checks.int_at_least(num_samples, "num_samples", 0)
    if model is None and nll is None and samples is None:
        raise ValueError("record needs the model, or a likelihood (nll= and kind=) or samples=")
    if nll is None:
        nll, kind = (None, "none") if test_data is None or model is None else test_nll(model, test_data)
    images = data.IMAGE_SETS.get(dataset)
    levels = getattr(model, "num_levels", None)
    label = images.label(levels) if images else dataset
    if samples is None and images is not None and num_samples and model is not None:
        samples, sample_seconds_per_100 = timed_sample(model, num_samples, **(sample_kwargs or {}))
    quality = None
    if samples is not None and images is not None and score:
        quality = sample_quality(samples, dataset, num_levels=levels if levels != images.num_levels else None)
    if nll is None and quality is None:
        raise ValueError(f"{name}: a result needs a likelihood or samples of an image data set to score")
    if model is not None:
        dims = math.prod(model.event_shape)
    elif test_data is not None:
        dims = math.prod(test_data.shape[1:])
    else:
        dims = None
    if nll is not None and not dims:
        raise ValueError("a likelihood needs the dimensions: pass the model or test_data")
    result = Result(
        model=name,
        dataset=label,
        nll=None if nll is None else float(nll),
        bits_per_dim=None if nll is None else float(bits_per_dim(nll, dims)),
        kind=kind,
        params=None if model is None else model.num_parameters(),
        train_seconds=None if history is None else history.seconds,
        sample_seconds_per_100=sample_seconds_per_100,
        source=_script(),
        note=note,
        sample_quality=quality,
        time=time.strftime("%Y-%m-%d %H:%M:%S"),
        samples=None if samples is None else samples.detach().cpu(),
        model_class=None if model is None else type(model).__name__,
    )
    saved = result if score else dataclasses.replace(result, samples=None)
    from .distributed import is_main

    if is_main():  # under torchrun, one line and one row, from rank 0
        print(_line(result))
        folder = os.environ.get(RESULTS_ENV)
        if folder:
            _save(saved, Path(folder))
    return result


def _line(r: Result) -> str:
    line = f"{r.model} on {r.dataset} test: "
    if r.nll is not None:
        line += f"{r.nll:.2f} nats/example = {r.bits_per_dim:.4f} bits/dim ({KINDS[r.kind]})"
    else:
        line += KINDS[r.kind]
    if r.sample_quality is not None:
        line += "; " + quality_line(r.sample_quality)
    return line


def _write_atomically(path: Path, write) -> None:
    """Write to a temporary file beside ``path``, then rename: readers see all of it or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _save(result: Result, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = hashlib.sha1(f"{result.dataset}\0{result.model}".encode()).hexdigest()[:16]
    row = result.row()
    if result.samples is not None:
        row["samples_file"] = f"{stem}.samples.pt"
        samples = result.samples.float()
        _write_atomically(folder / row["samples_file"], lambda p: torch.save(samples, p))
    text = json.dumps(row, indent=1)
    _write_atomically(folder / f"{stem}.json", lambda p: p.write_text(text))


def load_samples(folder: str | os.PathLike, row: dict) -> torch.Tensor | None:
    """The samples :func:`record` saved with ``row`` in ``folder``, or ``None`` if it has none."""
    name = row.get("samples_file")
    return None if name is None else torch.load(Path(folder) / name, weights_only=True)


def load_results(folder: str | os.PathLike) -> list[dict]:
    """All results saved by :func:`record` in ``folder``, best first per data set.

    Rows with a likelihood come first, by lowest NLL; rows without one (``"nll": None``) follow,
    by lowest Fréchet distance on gdl features.
    """
    rows = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]

    def key(r):
        nll = r.get("nll")
        fd = (r.get("sample_quality") or {}).get("fd")
        return (r["dataset"], nll is None, nll if nll is not None else (fd if fd is not None else math.inf))

    return sorted(rows, key=key)
