r"""Autoregressive models: the joint distribution as a product of conditionals.

Any distribution over :math:`D` dimensions factorises by the chain rule,

.. math::

    p(\mathbf{x}) = \prod_{i=1}^{D} p(x_i \mid \mathbf{x}_{<i}),

so a network that outputs the :math:`D` conditionals, each computed only from the dimensions
before it, gives an exact likelihood in one forward pass and samples in :math:`D` passes.
One module per model:

* :mod:`gdl.autoregressive.conv`: :class:`CausalConvARM`, causal 1-D convolutions over the
  raster-scanned pixels.
"""

from .conv import CausalConvARM

__all__ = ["CausalConvARM"]
