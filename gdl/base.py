r"""The contract every model in :mod:`gdl` follows.

=====================  ================================  =======================  =====================
family                 per-example quantity (nats)       ``loss(x)``              ``sample(n)``
=====================  ================================  =======================  =====================
autoregressive, flow   ``log_prob(x)``, exact            ``-log_prob(x).mean()``  ancestral / inverse
latent, diffusion      ``elbo(x)`` :math:`\le \log p`    ``-elbo`` or denoising   prior → decoder
energy-based           ``energy(x)``, :math:`p\propto    contrastive divergence   Langevin
                       e^{-E}`
GAN                    none                              ``train_step`` instead   :math:`G(z)`
=====================  ================================  =======================  =====================

A method exists only where it means something. Asking a model for one it does not have raises
an :class:`AttributeError` that names what it offers instead, so ``hasattr(model, "log_prob")``
tells the truth about a model.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _checks as checks
from .taxonomy import DENSITIES, FAMILIES

__all__ = ["GenerativeModel", "QUANTITIES", "train_step"]

#: The density-like methods of the contract and what each returns.
QUANTITIES = {
    "log_prob": "the exact log-likelihood log p(x)",
    "elbo": "a lower bound on log p(x)",
    "energy": "the energy E(x), with p(x) proportional to exp(-E(x))",
    "score": "the score, the gradient of log p(x)",
}


class GenerativeModel(nn.Module):
    r"""Base class of every model: ``sample(n)``, ``loss(x)`` and one density-like method.

    Subclasses set :attr:`event_shape`, implement :meth:`sample`, and define whichever of
    ``log_prob``, ``elbo``, ``energy`` or ``score`` they can compute. If a model defines
    ``log_prob``, the default :meth:`loss` is the negative log-likelihood
    :math:`-\frac{1}{B}\sum_b \log p(x_b)`; if it defines ``elbo``, the negative ELBO.
    Models trained otherwise (GANs) override :meth:`train_step`.

    The family and density kind come from :func:`gdl.taxonomy.register`.
    """

    #: Shape of one example; ``sample(n)`` returns ``(n, *event_shape)``.
    event_shape: tuple[int, ...] = ()
    family: str = ""
    density: str = ""

    # ------------------------------------------------------------------ contract
    def sample(self, n: int) -> torch.Tensor:
        """Draw ``n`` samples, shape ``(n, *event_shape)``, detached from the graph."""
        raise NotImplementedError(f"{type(self).__name__} does not implement sample(n)")

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The scalar training loss on a batch ``x``."""
        if hasattr(self, "log_prob"):
            return -self.log_prob(x).mean()
        if hasattr(self, "elbo"):
            return -self.elbo(x).mean()
        raise NotImplementedError(
            f"{type(self).__name__} has neither log_prob nor elbo: override loss(x) or train_step"
        )

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """The optimiser :func:`gdl.train.fit` uses: Adam over every parameter."""
        return torch.optim.Adam(self.parameters(), lr=lr)

    def train_step(self, batch, optimizer) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the numbers to log (``"loss"`` first).

        Arguments:
            batch: a tensor, or a tuple of tensors passed to :meth:`loss` as positional arguments.
            optimizer: what :meth:`configure_optimizers` returned.
        """
        return train_step(self, batch, optimizer)

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter or buffer (CPU if it has none)."""
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _check_event(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Raise unless ``x`` is a non-empty, finite batch of ``event_shape`` tensors (see
        :func:`gdl._checks.batch`); the batch comes back on the model's device, and floating-point
        data in the model's own dtype (so data kept on the CPU serve a model on a GPU)."""
        x = checks.batch(x, self.event_shape, name)
        dtype = self._dtype()
        return x.to(self.device, dtype if x.is_floating_point() else x.dtype)

    def _dtype(self) -> torch.dtype:
        """The floating-point dtype of the model's weights (float32 unless converted)."""
        for t in self.parameters():
            if t.is_floating_point():
                return t.dtype
        for t in self.buffers():
            if t.is_floating_point():
                return t.dtype
        return torch.get_default_dtype()

    def _check_data(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """A batch of data: for a model of discrete data (one with ``num_levels``), integers in
        ``0 .. num_levels - 1``, returned as int64; otherwise finite numbers."""
        x = self._check_event(x, name)
        levels = getattr(self, "num_levels", None)
        return checks.levels(x, levels, name) if levels else x

    @staticmethod
    def _check_n(n: int) -> int:
        return checks.positive_int(n, "n")

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "loss":  # a model trained by train_step alone (a GAN) hides loss
                raise AttributeError(
                    f"{type(self).__name__} has no loss(x): it trains by train_step(batch, optimizer)"
                ) from None
            if name not in QUANTITIES:
                raise
        has = [q for q in QUANTITIES if hasattr(type(self), q)]
        kind = DENSITIES.get(type(self).density)
        family = FAMILIES.get(type(self).family)
        what = f" ({family.name.lower()}, {kind.label})" if kind and family else ""
        offer = (
            "it provides " + ", ".join(f"{q}(x): {QUANTITIES[q]}" for q in has)
            if has
            else "it defines no density at all; use sample(n)"
        )
        raise AttributeError(
            f"{type(self).__name__}{what} has no {name}(x), {QUANTITIES[name]}; {offer}."
        ) from None


def train_step(model: nn.Module, batch, optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """The default optimisation step: minimise ``model.loss(*batch)`` by one step of ``optimizer``."""
    args = batch if isinstance(batch, tuple) else (batch,)
    loss = model.loss(*args)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": loss.item()}
