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
* :mod:`gdl.flows.idf`: :class:`IDF`, an integer discrete flow with an exact discrete
  likelihood and no log-determinant.
* :mod:`gdl.flows.ode`: continuous normalizing flows, :func:`ode_log_prob` (the likelihood by
  the instantaneous change of variables), used by :mod:`gdl.flows.matching`
  (:class:`FlowMatching`) and by :class:`gdl.diffusion.ScoreSDE`.
"""

from . import idf, layers, matching, models, ode
from .idf import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403 (the names listed in layers.__all__)
from .matching import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .ode import *  # noqa: F401,F403

__all__ = layers.__all__ + models.__all__ + idf.__all__ + matching.__all__ + ode.__all__
