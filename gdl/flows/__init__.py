r"""Normalizing flows: exact likelihood through the change of variables.

An invertible map :math:`f` from data to noise, with a standard-normal base, gives

.. math::

    \log p(\mathbf{x}) = \log p_Z(f(\mathbf{x}))
    + \log\left\lvert\det \frac{\partial f(\mathbf{x})}{\partial \mathbf{x}}\right\rvert ,

and samples :math:`\mathbf{x} = f^{-1}(\mathbf{z})`. Every layer maps data to noise,
``forward(x) -> (z, log_abs_det_jacobian)``, and back with ``inverse(z) -> x``.

* :mod:`gdl.flows.layers`: :class:`AffineCoupling`, :class:`ActNorm`,
  :class:`InvertibleConv1x1`, :class:`Squeeze`, :class:`Split`, :class:`Flatten`,
  :class:`MaskedAffineAutoregressive` (with its :class:`GaussianMADE`), and
  :class:`Dequantize` for integer pixels.
* :mod:`gdl.flows.models`: :class:`RealNVP`, the multi-scale :class:`Glow` and :class:`MAF`,
  :func:`dequantized_nll`, the bound on the discrete NLL, and
  :class:`VariationalDequantization`, a learned noise that tightens it.
"""

from .layers import (
    ActNorm,
    AffineCoupling,
    Dequantize,
    Flatten,
    Flow,
    FlowSequence,
    GaussianMADE,
    InvertibleConv1x1,
    MaskedAffineAutoregressive,
    Reverse,
    Split,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)
from .models import MAF, FlowModel, Glow, RealNVP, VariationalDequantization, dequantized_nll

__all__ = [
    "ActNorm", "AffineCoupling", "Dequantize", "Flatten", "Flow", "FlowSequence", "GaussianMADE",
    "InvertibleConv1x1", "MaskedAffineAutoregressive", "Reverse", "Split", "Squeeze",
    "VariationalDequantization",
    "channel_mask", "checkerboard_mask", "MAF", "FlowModel", "Glow", "RealNVP", "dequantized_nll",
]
