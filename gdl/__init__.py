"""gdl: Generative Deep Learning, executable.

One small, readable PyTorch model of each kind of deep generative model, all following one
contract (:class:`gdl.base.GenerativeModel`): ``sample(n)``, ``loss(x)``, and ``log_prob(x)``
only where it is exact (``elbo``, ``energy`` or ``score`` where it is not).

The public names are imported on first use, so ``import gdl`` itself stays light.

Example:
    >>> import gdl
    >>> gdl.CausalConvARM.family, gdl.CausalConvARM.density
    ('autoregressive', 'exact')
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Submodules, in the order the docs present them.
MODULES = (
    "base", "taxonomy", "data", "nn", "train", "distributed", "metrics", "quality", "results", "plot",
    "autoregressive", "flows", "latent", "energy", "diffusion", "gan", "music",
    "world_models", "multimodal",
)

#: Public name -> submodule that defines it.
_NAMES = {
    "GenerativeModel": "base",
    "register": "taxonomy",
    "CausalConvARM": "autoregressive",
    "MADE": "autoregressive",
    "PixelCNN": "autoregressive",
    "CharLSTM": "autoregressive",
    "GPT": "autoregressive",
    "GPTConfig": "autoregressive",
    "MusicTransformer": "autoregressive",
    "VAE": "latent",
    "BetaVAE": "latent",
    "HierarchicalVAE": "latent",
    "VQVAE": "latent",
    "RealNVP": "flows",
    "Glow": "flows",
    "MAF": "flows",
    "GAN": "gan",
    "DCGAN": "gan",
    "WGANGP": "gan",
    "MuseGAN": "gan",
    "ConditionalGAN": "gan",
    "ProGAN": "gan",
    "StyleGAN": "gan",
    "VQGAN": "gan",
    "EBM": "energy",
    "NCSN": "diffusion",
    "DDPM": "diffusion",
    "MDNRNN": "world_models",
    "IDF": "flows",
    "FlowMatching": "flows",
    "ScoreSDE": "diffusion",
    "GuidedDDPM": "diffusion",
    "CLIP": "multimodal",
    "Flamingo": "multimodal",
    "fit": "train",
    "History": "train",
    "TrainingDiverged": "train",
    "seed_everything": "train",
}

#: Submodules that define models (imported by :func:`import_all`): one per family, named by
#: the family's key in :data:`gdl.taxonomy.FAMILIES`.
MODEL_MODULES = ("autoregressive", "flows", "latent", "energy", "diffusion", "gan")

__all__ = sorted(_NAMES) + list(MODULES) + ["import_all"]


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    if name in MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gdl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def import_all() -> None:
    """Import every model module, so that :data:`gdl.taxonomy.REGISTRY` lists every model."""
    for m in MODEL_MODULES:
        importlib.import_module(f".{m}", __name__)
