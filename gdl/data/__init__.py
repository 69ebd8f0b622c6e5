r"""Offline data sets, returned as tensors.

Every loader returns a pair ``(x, y)`` of tensors holding the whole split: data first, labels
second. Nothing is downloaded; each set ships inside an installed package.

* :func:`digits`: scikit-learn's 8×8 digits, ``x`` of shape ``(N, 1, 8, 8)``, integers 0..16;
  ``y`` the digit.
* :func:`fashion_mnist`: Fashion-MNIST from Debian's ``dataset-fashion-mnist``, ``x`` of shape
  ``(N, 1, 28, 28)``, integers 0..255 (or fewer levels); ``y`` the kind of garment.
* :func:`toy_2d`: 2-D point sets, ``x`` of shape ``(n, 2)``, floats; ``y`` the mode, branch or
  position each point came from.
* :func:`cartpole_rollouts`: episodes of gymnasium's CartPole under a random policy (states,
  actions, endings), and :func:`render_cartpole`, which draws states as 32×32 grey frames; the
  environment comes from the PyPI package ``gymnasium``.
* :func:`names`: US census first or last names from the PyPI package ``names``, as
  character tokens: ``x`` of shape ``(N, T)``, int64 ids of :data:`NAMES_VOCAB` padded with the
  boundary token 0; ``y`` the number of characters of each name.

* :func:`chorales`: Bach's four-part chorales from the corpus of the PyPI package ``music21``,
  as :class:`Chorale` objects; :func:`chorale_tokens` gives ``x`` of shape ``(N, T, 2)``,
  (pitch, duration) note tokens, and :func:`chorale_bars` ``x`` of shape
  ``(N, bars, steps, 4)``, MIDI pitches of the four voices; ``y`` the chorale of each row.

* :func:`captioned_fashion_mnist`, :func:`captioned_digits`: the same images with a caption per
  image, as token ids of the fixed vocabulary :data:`VOCAB` (class, brightness, size, stroke).

One module per kind of data: :mod:`gdl.data.images`, :mod:`gdl.data.toy`, :mod:`gdl.data.text`,
:mod:`gdl.data.control`, :mod:`gdl.data.music`, :mod:`gdl.data.captioned`;
every name is also available here, as ``gdl.data.digits``.

Example:
    >>> x, y = digits("train")
    >>> tuple(x.shape), x.dtype, int(x.max())
    ((1000, 1, 8, 8), torch.int64, 16)
"""


from . import captioned, control, images, music, text, toy
from .captioned import *  # noqa: F401,F403
from .control import *  # noqa: F401,F403
from .images import *  # noqa: F401,F403 (the names in images.__all__)
from .text import *  # noqa: F401,F403
from .toy import *  # noqa: F401,F403
from .music import *  # noqa: F401,F403

__all__ = (images.__all__ + toy.__all__ + text.__all__ + control.__all__ + music.__all__
           + captioned.__all__)
