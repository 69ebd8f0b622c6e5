r"""Training on several processes: what :func:`gdl.fit` does when ``torchrun`` started it.

``torchrun --nproc_per_node N`` starts N copies of a script with the environment variables
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`gdl.fit` then joins the
process group (gloo on CPU, NCCL on GPU) and keeps the N copies of the model identical:

* after the data-dependent initialisations (ActNorm, a VQ-VAE's codebook), every parameter and
  buffer is broadcast from rank 0;
* each mini-batch of the seeded permutation, the same on every rank, is cut into N slices, one
  per rank, and every optimiser (a GAN has two) averages the gradients over the ranks before it
  steps: the update is the one a single process would make on the whole batch;
* the buffers (BatchNorm's running statistics, an EBM's replay buffer) follow rank 0 after each
  step, the training loss and the validation metric are averaged over the ranks, so that every
  rank stops early, or diverges, at the same step;
* only rank 0 prints, saves checkpoints and writes the cache.

Nothing here runs in a single process: ``world_size()`` is then 1 and every function is the
identity.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["world_size", "rank", "is_main", "alone", "init_from_environment", "AveragingOptimizer",
           "broadcast_state", "mean", "barrier"]


def init_from_environment(device: torch.device) -> None:
    """Join the process group that ``torchrun`` set up, if there is one and it is not joined yet."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)


_ALONE = [False]


def world_size() -> int:
    """The number of processes training together (1 outside ``torchrun``, or inside :func:`alone`)."""
    if _ALONE[0]:
        return 1
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class alone:
    """Inside the block this process trains by itself, as if there were no process group."""

    def __enter__(self):
        self.before, _ALONE[0] = _ALONE[0], True

    def __exit__(self, *exc):
        _ALONE[0] = self.before


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0



def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that logs, records and saves."""
    return rank() == 0


class AveragingOptimizer:
    """An optimiser whose ``step`` first averages every gradient over the ranks.

    ``train_step`` calls the model's loss directly (not ``forward``), so the gradients are not
    averaged for it as ``DistributedDataParallel`` would; this wrapper does it at the one place
    every training step goes through, for every optimiser the model has.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def step(self, closure=None):
        size = world_size()
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                    p.grad.div_(size)
        return self.optimizer.step(closure)


def broadcast_state(module: torch.nn.Module, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every other rank."""
    if world_size() == 1:
        return
    tensors = [] if buffers_only else list(module.parameters())
    tensors += list(module.buffers())
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=0)


def mean(value: float, device: torch.device) -> float:
    """The mean of a number over the ranks (a NaN on any rank makes it NaN on all)."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / world_size()).item()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
