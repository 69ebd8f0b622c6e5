r"""``fit``: the one training loop every model can use.

The whole data set stays in memory as tensors; each epoch draws a fresh permutation and cuts it
into mini-batches, which avoids the per-example overhead of a DataLoader for small models.

Besides the loop itself, :func:`fit` owns what every training run needs and no model should
write again: the seed (by default the run's seed, :func:`default_seed`), the device, early
stopping on held-out data, an average of the weights, a clear error when training diverges,
checkpoints to resume from after the process is killed, and a cache of trained weights that lets
one script load what another trained.

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
import dataclasses
import hashlib
import inspect
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from . import _checks as checks
from . import distributed as dist
from .base import train_step

__all__ = [
    "fit",
    "History",
    "TrainingDiverged",
    "default_seed",
    "seed_everything",
    "evaluate",
    "SEED_ENV",
    "CACHE_ENV",
]

#: The environment variable that holds the run's seed (0 when unset), the default of :func:`fit`.
SEED_ENV = "GDL_SEED"
#: Environment variable naming the folder of the cache of trained weights (``fit(cache=True)``).
CACHE_ENV = "GDL_CACHE_DIR"


class TrainingDiverged(FloatingPointError):
    """Raised when the training loss (or the validation metric) becomes NaN or infinite."""


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
        seconds: wall-clock time of the loop (summed over resumed runs).
        stopped_early: ``True`` if patience ran out before ``steps``.
        extra: other numbers returned by ``train_step`` (for example a GAN's two losses).
        from_cache: ``True`` if the weights were loaded from the cache instead of trained.
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
    from_cache: bool = False


def default_seed() -> int:
    """The run's seed: the environment variable ``GDL_SEED``, or 0.

    The docs build and the seed sweep set it for each gallery script (:mod:`gdl.run`), so a
    script needs no seed of its own.
    """
    value = os.environ.get(SEED_ENV, "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an int, got {value!r}") from None


def seed_everything(seed: int | None = None) -> torch.Generator:
    """Seed torch's global generators (CPU and CUDA) and return a fresh seeded generator.

    Arguments:
        seed: the seed; default :func:`default_seed`.
    """
    seed = default_seed() if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _as_tuple(data, name: str = "data") -> tuple[torch.Tensor, ...]:
    if isinstance(data, torch.Tensor):
        tensors = (data,)
    elif isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        tensors = tuple(data)
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"{name} tensors must have the same length (first dimension)")
    else:
        raise TypeError(f"{name} must be a tensor or a tuple of tensors of equal length")
    if len(tensors[0]) == 0 or tensors[0].dim() == 0:
        raise ValueError(f"{name} must hold at least one example")
    return tensors


def _batch(tensors: tuple[torch.Tensor, ...], idx: torch.Tensor, device):
    parts = tuple(t[idx].to(device, non_blocking=True) for t in tensors)
    return parts[0] if len(parts) == 1 else parts


@contextlib.contextmanager
def _no_distribution_checks():
    """Inside the block, torch.distributions does not validate its arguments.

    The models check their inputs themselves; what a distribution would reject inside a step is
    a value the network produced, and a NaN there means training diverged. Letting it through to
    the loss turns it into a :class:`TrainingDiverged`, not a ValueError from deep inside torch.
    """
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(before)


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
    model: torch.nn.Module,
    data,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    val_data=None,
    val_metric: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eval_every: int = 100,
    patience: int | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    log_every: int | None = None,
    ema: float | None = None,
    cache: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    autocast: str | None = None,
    distribute: bool = True,
) -> History:
    r"""Train ``model`` on ``data`` for ``steps`` mini-batch steps.

    Each step calls ``model.train_step(batch, optimizer)``; the default step minimises
    ``model.loss(batch)`` with the optimiser from ``model.configure_optimizers(lr)``. With
    ``val_data``, the validation metric (by default the mean per-example loss, negative
    ``log_prob`` or ``elbo`` where the model has them) is computed every ``eval_every`` steps;
    the best weights are restored at the end, and training stops once the metric has not
    improved for ``patience`` evaluations.

    Arguments:
        model: any :class:`~gdl.base.GenerativeModel` (or a module with ``loss``).
        data: a tensor ``(N, ...)`` or a tuple of tensors of length ``N`` (e.g. images, labels).
        steps: number of optimisation steps (mini-batches).
        batch_size: examples per step.
        lr: learning rate.
        val_data: optional held-out data for early stopping.
        val_metric: per-example metric to *minimise* on ``val_data``, shape ``(B,)``; default the
            negative ``log_prob`` (a flow of integer levels: of the dequantized data) or ``elbo``.
        eval_every: steps between validation evaluations (and log lines).
        patience: evaluations without improvement before stopping (``None``: never stop early).
        seed: seeds torch and the batch order; the same seed gives the same run. Default: the
            run's seed, :func:`default_seed`.
        device: ``"cpu"``, ``"cuda"`` or a device; default: CUDA if available, else CPU.
        progress: show a progress bar; default: only when standard error is a terminal.
            Otherwise (e.g. in the docs build) a plain line is printed every ``log_every`` steps.
        log_every: steps between plain log lines (default ``eval_every``; 0 to silence).
        ema: decay :math:`\gamma` of an exponential moving average of the weights (Polyak
            averaging), :math:`\bar\theta \leftarrow \gamma\bar\theta + (1-\gamma)\theta` after
            every step (:class:`torch.optim.swa_utils.AveragedModel`). Validation, early stopping
            and the returned model then use the averaged weights, which are usually smoother and
            generalise better. ``None``: no averaging.
        cache: look the trained weights up in a cache of trained weights first, and store them
            there after training. The key is a hash of everything that determines the result:
            the model's code, hyperparameters and initial weights, the data, the seed and every
            setting of this call. The folder is ``$GDL_CACHE_DIR`` (the docs build sets one per
            build), else ``~/.cache/gdl``. Two processes asking for the same key at once train
            it once: the second waits and loads.
        checkpoint: a file to save the run to every ``checkpoint_every`` steps (and at the end);
            if it exists, the run resumes from it, with the same result as an uninterrupted run.
        checkpoint_every: steps between checkpoints.
        autocast: ``"bf16"`` to run the training steps under :func:`torch.autocast` in bfloat16
            (fast on recent GPUs; the weights and the optimiser stay in float32).
        distribute: under ``torchrun``, train on all the processes together (``False``: in this
            process alone, e.g. a helper network that one rank needs).

    Under ``torchrun`` (several processes) the run is the same one a single process would make
    with the same global ``batch_size``, which must then be divisible by the number of processes:
    see :mod:`gdl.distributed`.

    Returns:
        a :class:`History`.

    Raises:
        TrainingDiverged: if a loss becomes NaN or infinite; the message says at which step.
        ValueError: for an invalid setting, or a checkpoint that does not match this run.
    """
    steps = checks.positive_int(steps, "steps")
    batch_size = checks.positive_int(batch_size, "batch_size")
    eval_every = checks.positive_int(eval_every, "eval_every")
    checkpoint_every = checks.positive_int(checkpoint_every, "checkpoint_every")
    lr = checks.positive(lr, "lr")
    if patience is not None:
        checks.positive_int(patience, "patience")
    checks.number(ema, "ema", low=0.0, high=1.0, low_open=True, high_open=True, optional=True)
    log_every = eval_every if log_every is None else checks.int_at_least(log_every, "log_every", 0)
    seed = default_seed() if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if not hasattr(model, "train_step") and not hasattr(model, "loss"):
        raise TypeError(f"model must have loss(x) or train_step(batch, optimizer): {type(model).__name__}")
    tensors = _as_tuple(data)
    val = None if val_data is None else _as_tuple(val_data, "val_data")
    if val is not None and val_metric is None:
        val_metric = _default_val_metric(model)
    if autocast not in (None, "bf16"):
        raise ValueError(f'autocast must be None or "bf16", got {autocast!r}')
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if distribute:
        dist.init_from_environment(device)
    with contextlib.nullcontext() if distribute else dist.alone():
        return _fit(model, tensors, val, val_metric, steps, batch_size, lr, eval_every, patience, seed,
                    device, progress, log_every, ema, cache, checkpoint, checkpoint_every, autocast)


def _fit(model, tensors, val, val_metric, steps, batch_size, lr, eval_every, patience, seed, device,
         progress, log_every, ema, cache, checkpoint, checkpoint_every, autocast) -> History:
    if dist.world_size() > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    batch_size = min(batch_size, len(tensors[0]))
    if batch_size % dist.world_size():
        raise ValueError(
            f"batch_size must be divisible by the number of processes ({dist.world_size()}), got {batch_size}"
        )
    settings = dict(
        steps=steps, batch_size=batch_size, lr=lr, eval_every=eval_every, patience=patience,
        seed=seed, ema=ema, device=device.type, autocast=autocast, processes=dist.world_size(),
    )
    run = _Run(model, tensors, val, val_metric, settings, log_every if dist.is_main() else 0,
               dist.is_main() and (sys.stderr.isatty() if progress is None else progress))
    if not cache:
        return run.train(checkpoint, checkpoint_every)
    key = _cache_key(model, tensors, val, settings)
    if dist.world_size() > 1:  # every rank trains or loads together; rank 0 writes the entry
        path = cache_dir() / f"{key}.pt"
        exists = path.exists()
        dist.barrier()
        if exists:
            return run.load(path)
        history = run.train(checkpoint, checkpoint_every)
        if dist.is_main():
            run.save(path, final=True)
        dist.barrier()
        return history
    with _cache_lock(key) as path:
        if path.exists():
            return run.load(path)
        history = run.train(checkpoint, checkpoint_every)
        run.save(path, final=True)
        return history


class _Run:
    """The state of one training run: what a checkpoint holds, and the loop that advances it."""

    def __init__(self, model, tensors, val, val_metric, settings, log_every, progress):
        self.model, self.tensors, self.val, self.val_metric = model, tensors, val, val_metric
        self.settings, self.log_every, self.progress = settings, log_every, progress
        self.n = len(tensors[0])
        self.device = torch.device(settings["device"])
        self.rank, self.processes = dist.rank(), dist.world_size()
        self.generator = seed_everything(settings["seed"])
        self.order = torch.randperm(self.n, generator=self.generator)  # the same on every rank
        model.to(self.device)
        if self.processes > 1:
            self._agree_on_the_start()
        make = getattr(model, "configure_optimizers", None)
        self.optimizer = make(settings["lr"]) if make else torch.optim.Adam(model.parameters(), lr=settings["lr"])
        if self.processes > 1:  # every optimiser averages the gradients over the ranks first
            wrap = dist.AveragingOptimizer
            self.optimizer = (tuple(map(wrap, self.optimizer)) if isinstance(self.optimizer, (tuple, list))
                              else wrap(self.optimizer))
        self.averaged = None
        if settings["ema"] is not None:
            self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings["ema"]))
            self.averaged.update_parameters(model)  # the average starts at the initial weights
        self.history = History()
        self.best_state, self.best_val, self.bad_evals = None, math.inf, 0
        self.cursor, self.step, self.done = 0, 0, False

    def _agree_on_the_start(self) -> None:
        """Several processes: data-dependent initialisations on one shared batch, then every rank
        takes rank 0's weights, and draws its own noise from the seed and its rank."""
        pending = [m for m in self.model.modules() if isinstance(getattr(m, "initialized", None), torch.Tensor)
                   and not bool(m.initialized)]
        if pending and hasattr(self.model, "loss"):
            first = self.order[: self.settings["batch_size"]]
            batch = _batch(self.tensors, first, self.device)
            with torch.no_grad():  # ActNorm, a VQ-VAE's codebook: the same data on every rank
                self.model.train()
                self.model.loss(*(batch if isinstance(batch, tuple) else (batch,)))
        dist.broadcast_state(self.model)
        torch.manual_seed(self.settings["seed"] + 1_000_003 * self.rank)

    # ------------------------------------------------------------------ the loop
    def train(self, checkpoint, checkpoint_every: int) -> History:
        if checkpoint is not None and Path(checkpoint).exists():
            self.restore(Path(checkpoint))
            if self.done:
                return self.history
        steps, batch_size = self.settings["steps"], self.settings["batch_size"]
        bar = _progress_bar(steps, initial=self.step) if self.progress else None
        start, seconds_before = time.perf_counter(), self.history.seconds
        self.model.train()
        while self.step < steps and not self.history.stopped_early:
            self.step += 1
            step = self.step
            if self.cursor + batch_size > self.n:  # new epoch: fresh permutation, drop the ragged tail
                self.order, self.cursor = torch.randperm(self.n, generator=self.generator), 0
            idx = self.order[self.cursor : self.cursor + batch_size]
            self.cursor += batch_size
            if self.processes > 1:
                idx = idx.view(self.processes, -1)[self.rank]  # this rank's slice of the batch
            with _no_distribution_checks(), self._autocast():
                step_fn = getattr(self.model, "train_step", None)
                batch = _batch(self.tensors, idx, self.device)
                logs = step_fn(batch, self.optimizer) if step_fn else train_step(self.model, batch, self.optimizer)
            if self.processes > 1:
                dist.broadcast_state(self.model, buffers_only=True)  # running statistics follow rank 0
                logs = {k: dist.mean(v, self.device) for k, v in logs.items()}
            loss = logs["loss"]
            if not math.isfinite(loss):
                raise _diverged(self.model, loss, step, self.settings["lr"])
            if self.averaged is not None:
                self.averaged.update_parameters(self.model)
            self.history.steps.append(step)
            self.history.train_loss.append(loss)
            for k, v in logs.items():
                if k != "loss":
                    self.history.extra.setdefault(k, []).append(v)
            line = self._validate(step) if self.val is not None else None
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")
            elif self.log_every and (step % self.log_every == 0 or step == steps or self.history.stopped_early):
                line = line or f"step {step:>6}/{steps}  loss {_recent(self.history):9.3f}"
                print(f"{line}  ({time.perf_counter() - start:5.1f} s)", flush=True)
            self.history.seconds = seconds_before + time.perf_counter() - start
            if checkpoint is not None and step % checkpoint_every == 0 and step < steps and dist.is_main():
                self.save(Path(checkpoint))
        if bar is not None:
            bar.close()
        self._finish()
        if checkpoint is not None and dist.is_main():
            self.save(Path(checkpoint), final=True)
        return self.history

    def _autocast(self):
        if self.settings.get("autocast") == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _evaluate(self) -> float:
        """The validation metric; with several processes, each evaluates a slice and they agree
        on the mean over the whole validation set."""
        if self.processes == 1:
            return evaluate(self.val_metric, self.val, device=self.device)
        part = tuple(t[self.rank :: self.processes] for t in self.val)
        total = evaluate(self.val_metric, part, device=self.device) * len(part[0]) if len(part[0]) else 0.0
        return dist.mean(total, self.device) * self.processes / len(self.val[0])

    def _validate(self, step: int) -> str | None:
        steps = self.settings["steps"]
        if step % self.settings["eval_every"] and step != steps:
            return None
        self.model.eval()
        with self._averaged_weights(), _no_distribution_checks():
            value = self._evaluate()
            if not math.isfinite(value):
                raise _diverged(self.model, value, step, self.settings["lr"], what="validation metric")
            if value < self.best_val:
                self.best_val, self.bad_evals, self.history.best_step = value, 0, step
                self.best_state = copy.deepcopy(self.model.state_dict())
            else:
                self.bad_evals += 1
        self.model.train()
        self.history.val_steps.append(step)
        self.history.val_metric.append(value)
        patience = self.settings["patience"]
        if patience is not None and self.bad_evals >= patience:
            self.history.stopped_early = True
        return f"step {step:>6}/{steps}  loss {_recent(self.history):9.3f}  val {value:9.3f}"

    @contextlib.contextmanager
    def _averaged_weights(self):
        """Inside the block the model holds the averaged weights; the live ones come back after."""
        if self.averaged is None:
            yield
            return
        params = list(self.model.parameters())
        live = [p.detach().clone() for p in params]
        self._copy_average()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(params, live):
                    p.copy_(w)

    @torch.no_grad()
    def _copy_average(self) -> None:
        for p, a in zip(self.model.parameters(), self.averaged.module.parameters()):
            p.copy_(a)

    def _finish(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            self.history.best_val = self.best_val
        else:
            self.history.best_step = self.history.steps[-1] if self.history.steps else 0
            if self.averaged is not None:
                self._copy_average()
        self.model.eval()
        self.done = True
        if self.history.stopped_early and self.log_every:
            print(f"stopped early at step {self.history.steps[-1]}; kept step {self.history.best_step}")

    # ------------------------------------------------------------------ checkpoints and the cache
    def _config(self) -> dict:
        shapes = {k: list(v.shape) for k, v in self.model.state_dict().items() if isinstance(v, torch.Tensor)}
        return {"model": type(self.model).__name__, "shapes": shapes, "examples": self.n, **self.settings}

    def save(self, path: Path, final: bool = False) -> None:
        """Write the run's whole state to ``path`` atomically (a temporary file, then a rename)."""
        optimizers = self.optimizer if isinstance(self.optimizer, (tuple, list)) else [self.optimizer]
        state = {
            "format": "gdl.fit checkpoint 1",
            "config": self._config(),
            "step": self.step,
            "done": final,
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in optimizers],
            "ema": None if self.averaged is None else self.averaged.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "batches": self.generator.get_state(),
            },
            "order": self.order,
            "cursor": self.cursor,
            "best_state": self.best_state,
            "best_val": self.best_val,
            "bad_evals": self.bad_evals,
            "history": dataclasses.asdict(self.history),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _read(self, path: Path) -> dict:
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:  # a truncated file, another format, not a checkpoint at all
            raise ValueError(f"checkpoint {path} is corrupt or not a gdl.fit checkpoint: {err}") from err
        if not isinstance(state, dict) or state.get("format") != "gdl.fit checkpoint 1":
            raise ValueError(f"checkpoint {path} is not a gdl.fit checkpoint")
        mine = self._config()
        for key, value in state["config"].items():
            if mine.get(key) != value:
                raise ValueError(
                    f"checkpoint {path} does not match this run: {key} is {value!r} there, "
                    f"{mine.get(key)!r} here"
                )
        return state

    def restore(self, path: Path) -> None:
        """Continue the run saved in ``path`` where it stopped."""
        state = self._read(path)
        self.model.load_state_dict(state["model"])
        optimizers = self.optimizer if isinstance(self.optimizer, (tuple, list)) else [self.optimizer]
        for o, s in zip(optimizers, state["optimizers"]):
            o.load_state_dict(s)
        if self.averaged is not None:
            self.averaged.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        self.generator.set_state(state["rng"]["batches"].cpu())
        self.order, self.cursor = state["order"].cpu(), state["cursor"]
        self.best_state, self.best_val, self.bad_evals = state["best_state"], state["best_val"], state["bad_evals"]
        self.history = History(**state["history"])
        self.step, self.done = state["step"], state["done"]
        if self.done:
            self.model.eval()

    def load(self, path: Path) -> History:
        """The trained weights and history stored in the cache at ``path``."""
        self.restore(path)
        self.history.from_cache = True
        if self.log_every:
            print(f"loaded the trained weights from the cache ({path.name}; trained in "
                  f"{self.history.seconds:.1f} s)", flush=True)
        return self.history


def _code_files(model: torch.nn.Module) -> list[Path]:
    """The source files of the package that define how ``model`` computes and trains."""
    files = {Path(__file__).resolve()}
    for module in model.modules():
        for cls in type(module).__mro__:
            if cls.__module__.split(".")[0] == __name__.split(".")[0]:
                files.add(Path(inspect.getsourcefile(cls)).resolve())
    return sorted(files)


def _hyperparameters(module: torch.nn.Module) -> dict:
    simple = (int, float, str, bool, tuple, type(None))
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, simple)}


def _cache_key(model, tensors, val, settings) -> str:
    """A hash of everything that determines the weights :func:`fit` returns."""
    h = hashlib.sha256()
    h.update(f"torch {torch.__version__}; {sorted(settings.items())!r}".encode())
    for path in _code_files(model):
        h.update(path.read_bytes())
    for name, module in model.named_modules():
        h.update(f"{name} {type(module).__qualname__} {_hyperparameters(module)!r}".encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes() if isinstance(t, torch.Tensor) else repr(t).encode())
    for t in tensors + (val or ()):
        h.update(f"{t.dtype} {tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def cache_dir() -> Path:
    """The folder of the cache of trained weights: ``$GDL_CACHE_DIR``, else ``~/.cache/gdl``."""
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gdl"


@contextlib.contextmanager
def _cache_lock(key: str):
    """Hold an exclusive lock on one cache entry; yields the entry's path."""
    import fcntl

    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process training the same key: wait for it
        try:
            yield folder / f"{key}.pt"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _diverged(model, loss, step: int, lr: float, what: str = "training loss") -> TrainingDiverged:
    return TrainingDiverged(
        f"{type(model).__name__}: the {what} became {loss} at step {step} (lr={lr}). "
        "Lower lr or check the data's range."
    )


def _recent(history: History, k: int = 50) -> float:
    """Mean of the last ``k`` training losses: a steadier number to log than one batch's."""
    tail = history.train_loss[-k:]
    return sum(tail) / len(tail)


def _default_val_metric(model):
    if hasattr(model, "dequantized_log_prob") and getattr(model, "num_levels", None):
        return lambda *batch: -model.dequantized_log_prob(*batch)  # one noise draw per example
    if hasattr(model, "log_prob"):
        return lambda *batch: -model.log_prob(*batch)
    if hasattr(model, "elbo"):
        return lambda *batch: -model.elbo(*batch)
    raise ValueError(
        f"{type(model).__name__} has neither log_prob nor elbo: pass val_metric= to use val_data"
    )


def _progress_bar(total: int, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False)


if __name__ == "__main__":  # python -m gdl.train MODEL --data ... (see gdl._cli)
    from ._cli import main

    main()
