r"""Autoregressive models: the joint distribution as a product of conditionals.

Any distribution over :math:`D` dimensions factorises by the chain rule,

.. math::

    p(\mathbf{x}) = \prod_{i=1}^{D} p(x_i \mid \mathbf{x}_{<i}),

so a network that outputs the :math:`D` conditionals, each computed only from the dimensions
before it, gives an exact likelihood in one forward pass and samples in :math:`D` passes.
One module per model:

* :mod:`gdl.autoregressive.conv`: :class:`CausalConvARM`, causal 1-D convolutions over the
  raster-scanned pixels.
* :mod:`gdl.autoregressive.sequence`: :class:`TokenARM`, what next-token models of padded
  token sequences share (likelihood with an end token, temperature and top-k sampling).
* :mod:`gdl.autoregressive.lstm`: :class:`CharLSTM`, a character-level LSTM.
* :mod:`gdl.autoregressive.made`: :class:`MADE`, an MLP with masked weights, in any ordering
  of the dimensions.
* :mod:`gdl.autoregressive.pixelcnn`: :class:`PixelCNN`, masked 2-D convolutions with gated
  vertical and horizontal stacks.
"""

from .conv import CausalConvARM
from .lstm import CharLSTM
from .made import MADE
from .pixelcnn import PixelCNN
from .sequence import TokenARM

__all__ = ["CausalConvARM", "CharLSTM", "MADE", "PixelCNN", "TokenARM"]
