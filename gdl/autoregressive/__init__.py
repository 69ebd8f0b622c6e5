r"""Autoregressive models: the joint distribution as a product of conditionals.

Any distribution over :math:`D` dimensions factorises by the chain rule,

.. math::

    p(\mathbf{x}) = \prod_{i=1}^{D} p(x_i \mid \mathbf{x}_{<i}),

so a network that outputs the :math:`D` conditionals, each computed only from the dimensions
before it, gives an exact likelihood in one forward pass and samples in :math:`D` passes.
One module per model:

* :mod:`gdl.autoregressive.pixels`: :class:`PixelARM`, what models of discrete pixels share
  (the likelihood, the checks and ancestral sampling); its subclasses write only a network:

  * :mod:`gdl.autoregressive.conv`: :class:`CausalConvARM`, causal 1-D convolutions over the
    raster-scanned pixels;
  * :mod:`gdl.autoregressive.made`: :class:`MADE`, an MLP with masked weights, in any ordering
    of the dimensions;
  * :mod:`gdl.autoregressive.pixelcnn`: :class:`PixelCNN`, masked 2-D convolutions with gated
    vertical and horizontal stacks.

* :mod:`gdl.autoregressive.sequence`: :class:`TokenARM`, what next-token models of padded
  token sequences share (likelihood with an end token, temperature and top-k sampling); its
  subclasses:

  * :mod:`gdl.autoregressive.lstm`: :class:`CharLSTM`, a character-level LSTM;
  * :mod:`gdl.autoregressive.transformer`: :class:`GPT`, a decoder-only transformer.

* :mod:`gdl.autoregressive.music`: :class:`MusicTransformer`, the GPT's blocks over
  (pitch, duration) note tokens, with two embeddings and two heads.
"""

from .conv import CausalConvARM
from .lstm import CharLSTM
from .made import MADE
from .music import MusicTransformer
from .pixelcnn import PixelCNN
from .pixels import PixelARM
from .sequence import TokenARM, unigram_bits_per_token
from .transformer import GPT, GPTConfig

__all__ = ["CausalConvARM", "CharLSTM", "GPT", "GPTConfig", "MADE", "MusicTransformer", "PixelARM", "PixelCNN", "TokenARM", "unigram_bits_per_token"]
