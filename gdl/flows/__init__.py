r"""Normalizing flows: exact likelihood through the change of variables.

An invertible map :math:`f` from data to noise, with a standard-normal base, gives

.. math::

    \log p(\mathbf{x}) = \log p_Z(f(\mathbf{x}))
    + \log\left\lvert\det \frac{\partial f(\mathbf{x})}{\partial \mathbf{x}}\right\rvert ,

and samples :math:`\mathbf{x} = f^{-1}(\mathbf{z})`. Every layer maps data to noise,
``forward(x) -> (z, log_abs_det_jacobian)``, and back with ``inverse(z) -> x``.

* :mod:`gdl.flows.layers`: :class:`AffineCoupling`, :class:`ActNorm`,
  :class:`InvertibleConv1x1`, :class:`Squeeze`, :class:`Split`, :class:`Flatten`,
  :class:`MaskedAffineAutoregressive` (a MADE network, :class:`gdl.nn.MaskedMLP`), and
  :class:`Dequantize` for integer pixels.
* :mod:`gdl.flows.models`: :class:`RealNVP`, the multi-scale :class:`Glow` and :class:`MAF`,
  whose bound on the discrete NLL is :func:`gdl.metrics.dequantized_nll`, and
  :class:`VariationalDequantization`, a learned noise that tightens it.
"""

from . import layers, models
from .layers import *  # noqa: F401,F403 (the names listed in layers.__all__)
from .models import *  # noqa: F401,F403

__all__ = layers.__all__ + models.__all__
