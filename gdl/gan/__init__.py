r"""Generative adversarial networks: a generator and a discriminator playing a minimax game.

A generator :math:`G` maps noise :math:`\mathbf{z}\sim p(\mathbf{z})` to data space; a
discriminator :math:`D` outputs the probability that its input is real. They play

.. math::

    \min_G \max_D\; \mathbb{E}_{p_\text{data}}[\log D(\mathbf{x})]
    + \mathbb{E}_{p(\mathbf{z})}[\log(1 - D(G(\mathbf{z})))].

For a fixed generator with density :math:`q`, the best discriminator is
:math:`D^*(\mathbf{x}) = p(\mathbf{x}) / (p(\mathbf{x}) + q(\mathbf{x}))`, and the game then
minimises :math:`2\,\mathrm{JS}(p \,\Vert\, q) - \log 4`. There is no likelihood: the model is
a sampler, :math:`\mathbf{x} = G(\mathbf{z})`, and is judged by its samples
(:func:`gdl.quality.sample_quality`).

Each model overrides :meth:`~GAN.train_step`, one discriminator (critic) update followed by one
generator update, and :meth:`~GAN.configure_optimizers`, which returns a pair of Adam optimisers
``(discriminator, generator)``, so :func:`gdl.train.fit` trains them like any other model.

Image models take the data on its own integer scale ``0 .. num_levels - 1``. Real images are
dequantized with uniform noise and mapped to :math:`[-1, 1]` (otherwise the discriminator could
spot fakes by their non-integer values); the generator ends in :math:`\tanh` and its samples are
mapped back to the grey-level scale as floats.

One module per kind: :mod:`gdl.gan.minimax` (:class:`GAN`, :class:`DCGAN`,
:class:`ConditionalGAN`) and :mod:`gdl.gan.wasserstein` (:class:`WGANGP`), and :mod:`gdl.gan.musegan` (:class:`MuseGAN`, multi-track music).
Progressive growing is in :mod:`gdl.gan.progan` (:class:`ProGAN`), the style-based generator in
:mod:`gdl.gan.stylegan` (:class:`StyleGAN`).
:mod:`gdl.gan.vqgan` (:class:`VQGAN`) trains a VQ-VAE with a patch discriminator and a perceptual loss.

Example:
    >>> import torch
    >>> gan = GAN(event_shape=(2,), latent_dim=2, hidden=[16])
    >>> optimizers = gan.configure_optimizers(1e-3)
    >>> logs = gan.train_step(torch.randn(32, 2), optimizers)
    >>> sorted(logs), gan.sample(5).shape
    (['generator', 'loss'], torch.Size([5, 2]))
"""


from . import minimax, musegan, progan, stylegan, vqgan, wasserstein
from .minimax import *  # noqa: F401,F403 (the names in minimax.__all__)
from .wasserstein import *  # noqa: F401,F403
from .musegan import *  # noqa: F401,F403
from .progan import *  # noqa: F401,F403
from .stylegan import *  # noqa: F401,F403
from .vqgan import *  # noqa: F401,F403

__all__ = (minimax.__all__ + wasserstein.__all__ + musegan.__all__ + progan.__all__ + stylegan.__all__
           + vqgan.__all__)
