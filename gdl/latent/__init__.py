r"""Latent-variable models: explain each observation by an unobserved code.

A latent-variable model writes the data distribution as a mixture over a code
:math:`\mathbf{z}`, :math:`p(\mathbf{x}) = \int p(\mathbf{x}\mid\mathbf{z})\,p(\mathbf{z})\,d\mathbf{z}`.
The integral is intractable, so an encoder :math:`q(\mathbf{z}\mid\mathbf{x})` is trained with
the decoder to maximise the evidence lower bound (ELBO),

.. math::

    \log p(\mathbf{x}) \;\ge\; \mathbb{E}_{q(\mathbf{z}\mid\mathbf{x})}
    \big[\log p(\mathbf{x}\mid\mathbf{z})\big]
    - \mathrm{KL}\big(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z})\big)
    = \log p(\mathbf{x})
    - \mathrm{KL}\big(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z}\mid\mathbf{x})\big).

The gap is the KL divergence from the encoder to the true posterior. One module per model:

* :mod:`gdl.latent.vae`: :class:`VAE`, :class:`BetaVAE` and :class:`HierarchicalVAE`, with
  Gaussian latents and a categorical decoder over the grey levels of each pixel.
"""

from .vae import VAE, BetaVAE, HierarchicalVAE, DiscretizedLogisticMixture
from .vqvae import VQVAE, VectorQuantizer

__all__ = [
    "VAE", "BetaVAE", "HierarchicalVAE", "VQVAE", "VectorQuantizer", "DiscretizedLogisticMixture"
]
