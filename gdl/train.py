r"""``fit``: the one training loop every model can use.

The whole data set stays in memory as tensors; each epoch draws a fresh permutation and cuts it
into mini-batches, which avoids the per-example overhead of a DataLoader for small models.

Example:
    >>> import torch
    >>> from gdl.autoregressive import CausalConvARM
    >>> x = torch.randint(0, 3, (64, 1, 2, 2))
    >>> model = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2)
    >>> history = fit(model, x, steps=20, batch_size=16, lr=1e-2, seed=0, progress=False, log_every=0)
    >>> len(history.train_loss)
    20
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .base import GenerativeModel

__all__ = ["fit", "History", "TrainingDiverged", "seed_everything", "evaluate"]


class TrainingDiverged(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


@dataclass
class History:
    """What :func:`fit` recorded.

    Attributes:
        steps: the step number of each entry of :attr:`train_loss`.
        train_loss: the loss of each step's mini-batch.
        val_steps: the steps at which the validation metric was computed.
        val_metric: its values.
        best_step: the step whose weights were kept (the best validation value), or the last step.
        best_val: the best validation value, or ``None`` without validation data.
        seconds: wall-clock time of the loop.
        stopped_early: ``True`` if patience ran out before ``steps``.
        extra: other numbers returned by ``train_step`` (for example a GAN's two losses).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    best_step: int = 0
    best_val: float | None = None
    seconds: float = 0.0
    stopped_early: bool = False
    extra: dict[str, list[float]] = field(default_factory=dict)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generators (CPU and CUDA) and return a fresh seeded generator."""
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _as_tuple(data) -> tuple[torch.Tensor, ...]:
    if isinstance(data, torch.Tensor):
        return (data,)
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        if len({len(t) for t in data}) != 1:
            raise ValueError("data tensors must have the same length (first dimension)")
        return tuple(data)
    raise TypeError("data must be a tensor or a tuple of tensors of equal length")


def _batch(tensors: tuple[torch.Tensor, ...], idx: torch.Tensor, device):
    parts = tuple(t[idx].to(device, non_blocking=True) for t in tensors)
    return parts[0] if len(parts) == 1 else parts


@torch.no_grad()
def evaluate(
    metric: Callable[[torch.Tensor], torch.Tensor],
    data,
    *,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> float:
    """Mean of a per-example ``metric`` over ``data``, computed in batches without gradients.

    Arguments:
        metric: maps a batch to a tensor of shape ``(B,)`` (for example ``model.log_prob``).
        data: a tensor or tuple of tensors.
        batch_size: examples per batch.
        device: where to move each batch (default: leave it where it is).
    """
    tensors = _as_tuple(data)
    n = len(tensors[0])
    total = 0.0
    for lo in range(0, n, batch_size):
        idx = torch.arange(lo, min(lo + batch_size, n))
        batch = _batch(tensors, idx, device or tensors[0].device)
        args = batch if isinstance(batch, tuple) else (batch,)
        total += metric(*args).double().sum().item()
    return total / n


def fit(
    model: GenerativeModel,
    data,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    val_data=None,
    val_metric: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eval_every: int = 100,
    patience: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    log_every: int | None = None,
    ema: float | None = None,
) -> History:
    r"""Train ``model`` on ``data`` for ``steps`` mini-batch steps.

    Each step calls ``model.train_step(batch, optimizer)``; the default step minimises
    ``model.loss(batch)`` with the optimiser from ``model.configure_optimizers(lr)``. With
    ``val_data``, the validation metric (by default the mean per-example loss, negative
    ``log_prob`` or ``elbo`` where the model has them) is computed every ``eval_every`` steps;
    the best weights are restored at the end, and training stops once the metric has not
    improved for ``patience`` evaluations.

    Arguments:
        model: any :class:`~gdl.base.GenerativeModel`.
        data: a tensor ``(N, ...)`` or a tuple of tensors of length ``N`` (e.g. images, labels).
        steps: number of optimisation steps (mini-batches).
        batch_size: examples per step.
        lr: learning rate.
        val_data: optional held-out data for early stopping.
        val_metric: per-example metric to *minimise* on ``val_data``, shape ``(B,)``.
        eval_every: steps between validation evaluations (and log lines).
        patience: evaluations without improvement before stopping (``None``: never stop early).
        seed: seeds torch and the batch order; the same seed gives the same run.
        device: ``"cpu"``, ``"cuda"`` or a device; default: CUDA if available, else CPU.
        progress: show a progress bar; default: only when standard error is a terminal.
            Otherwise (e.g. in the docs build) a plain line is printed every ``log_every`` steps.
        log_every: steps between plain log lines (default ``eval_every``; 0 to silence).
        ema: decay :math:`\gamma` of an exponential moving average of the weights (Polyak
            averaging), :math:`\bar\theta \leftarrow \gamma\bar\theta + (1-\gamma)\theta` after
            every step. Validation, early stopping and the returned model then use the averaged
            weights, which are usually smoother and generalise better. ``None``: no averaging.

    Returns:
        a :class:`History`.

    Raises:
        TrainingDiverged: if a loss becomes NaN or infinite; the message says at which step.
        ValueError: for a non-positive ``steps``, ``batch_size``, ``lr`` or ``eval_every``.
    """
    for name, value in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be None or >= 1, got {patience!r}")
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"ema must be None or a decay in (0, 1), got {ema!r}")
    tensors = _as_tuple(data)
    n = len(tensors[0])
    if n == 0:
        raise ValueError("data is empty")
    batch_size = min(batch_size, n)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    log_every = eval_every if log_every is None else log_every
    if progress is None:
        progress = sys.stderr.isatty()

    generator = seed_everything(seed)
    model.to(device)
    optimizer = model.configure_optimizers(lr)
    if val_data is not None and val_metric is None:
        val_metric = _default_val_metric(model)

    averaged = _WeightAverage(model, ema) if ema is not None else None
    history = History()
    best_state, best_val, bad_evals = None, math.inf, 0
    bar = _progress_bar(steps) if progress else None
    order = torch.randperm(n, generator=generator)
    cursor = 0
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if cursor + batch_size > n:  # new epoch: fresh permutation, drop the ragged tail
            order, cursor = torch.randperm(n, generator=generator), 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        try:
            logs = model.train_step(_batch(tensors, idx, device), optimizer)
        except ValueError as err:  # e.g. a distribution refusing NaN parameters
            if not _parameters_finite(model):
                raise _diverged(model, "nan", step, lr) from err
            raise
        loss = logs["loss"]
        if not math.isfinite(loss):
            raise _diverged(model, loss, step, lr)
        if averaged is not None:
            averaged.update()
        history.steps.append(step)
        history.train_loss.append(loss)
        for k, v in logs.items():
            if k != "loss":
                history.extra.setdefault(k, []).append(v)

        line = None
        if val_data is not None and (step % eval_every == 0 or step == steps):
            model.eval()
            with averaged.swapped() if averaged is not None else contextlib.nullcontext():
                value = evaluate(val_metric, val_data, device=device)
                if value < best_val:
                    best_val, bad_evals, history.best_step = value, 0, step
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad_evals += 1
            model.train()
            history.val_steps.append(step)
            history.val_metric.append(value)
            line = f"step {step:>6}/{steps}  loss {_recent(history):9.3f}  val {value:9.3f}"
            if patience is not None and bad_evals >= patience:
                history.stopped_early = True
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
        elif log_every and (step % log_every == 0 or step == steps or history.stopped_early):
            line = line or f"step {step:>6}/{steps}  loss {_recent(history):9.3f}"
            print(f"{line}  ({time.perf_counter() - start:5.1f} s)", flush=True)
        if history.stopped_early:
            break

    if bar is not None:
        bar.close()
    history.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
        history.best_val = best_val
    else:
        history.best_step = history.steps[-1]
        if averaged is not None:
            averaged.copy_to_model()
    model.eval()
    if history.stopped_early and log_every:
        print(f"stopped early at step {history.steps[-1]}; kept step {history.best_step}")
    return history


class _WeightAverage:
    """An exponential moving average of a model's floating-point parameters."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = model, decay
        self.params = [p for p in model.parameters() if p.is_floating_point()]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1 - self.decay)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for p, a in zip(self.params, self.average):
            p.copy_(a)

    @contextlib.contextmanager
    def swapped(self):
        """Inside the block the model holds the averaged weights; the live ones come back after."""
        live = [p.detach().clone() for p in self.params]
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(self.params, live):
                    p.copy_(w)


def _parameters_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _diverged(model, loss, step: int, lr: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"{type(model).__name__}: the training loss became {loss} at step {step} (lr={lr}). "
        "Lower lr or check the data's range."
    )


def _recent(history: History, k: int = 50) -> float:
    """Mean of the last ``k`` training losses: a steadier number to log than one batch's."""
    tail = history.train_loss[-k:]
    return sum(tail) / len(tail)


def _default_val_metric(model: GenerativeModel):
    if hasattr(model, "log_prob"):
        return lambda *batch: -model.log_prob(*batch)
    if hasattr(model, "elbo"):
        return lambda *batch: -model.elbo(*batch)
    raise ValueError(
        f"{type(model).__name__} has neither log_prob nor elbo: pass val_metric= to use val_data"
    )


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", dynamic_ncols=True, leave=False)
