r"""Text to image through CLIP's embeddings: latent diffusion and a DALL·E 2-style prior.

Both pipelines reuse trained, frozen parts and train one :class:`~gdl.diffusion.VectorGuidedDDPM`:

* :class:`LatentDiffusion` (Stable Diffusion at toy scale): a diffusion over the codes
  :math:`\mathbf{z} = \boldsymbol\mu_\phi(\mathbf{x})/s` of a frozen autoencoder, conditioned on a
  frozen CLIP's embedding of the caption (``condition="text"``) or of the image itself
  (``condition="image"``, the decoder of unCLIP); samples are decoded by the autoencoder.
* :class:`DiffusionPrior` (the prior of DALL·E 2): a diffusion over CLIP image embeddings
  conditioned on the CLIP text embedding of the caption.

Text to image by the second route: caption :math:`\to` text embedding :math:`\to` prior
:math:`\to` image embedding :math:`\to` image-conditioned latent diffusion :math:`\to` image.

Training reads the frozen parts without gradients (:meth:`LatentDiffusion.encode`), so only the
diffusion learns; ``configure_optimizers`` hands the optimiser its
parameters only. The codes of a whole data set can be computed once with ``encode`` and the
diffusion trained on them directly (``gdl.fit(model.diffusion, model.encode(x, tokens))``), which
is the same training without encoding every batch again.

Example:
    >>> import torch
    >>> from gdl.latent import VAE
    >>> from gdl.multimodal import CLIP
    >>> vae = VAE(event_shape=(1, 8, 8), num_levels=17, latent_dim=2, hidden=[8])
    >>> clip = CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=8, width=4, text_dim=8)
    >>> model = LatentDiffusion(vae, clip, num_steps=10, hidden=[8])
    >>> x, tokens = torch.randint(0, 17, (5, 1, 8, 8)), torch.randint(1, 20, (5, 6))
    >>> model.loss(x, tokens).shape, model.sample(tokens=tokens[:2], steps=5).shape
    (torch.Size([]), torch.Size([2, 1, 8, 8]))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import _checks as checks
from .guided import VectorGuidedDDPM

__all__ = ["LatentDiffusion", "DiffusionPrior"]


class _FrozenParts(nn.Module):
    """A pipeline of frozen, trained modules around one trainable :class:`VectorGuidedDDPM`."""

    frozen: tuple[str, ...] = ()

    def _freeze(self):
        for name in self.frozen:
            getattr(self, name).requires_grad_(False).eval()

    def train(self, mode: bool = True):
        """Train or evaluate the diffusion; the frozen parts stay in evaluation mode."""
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """Adam over the diffusion's parameters only."""
        return torch.optim.Adam(self.diffusion.parameters(), lr=lr)

    def num_parameters(self) -> int:
        """Number of trainable scalars (the diffusion's)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def loss(self, x: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        r"""The guided diffusion's :math:`L_\text{simple}` on the codes and conditions of a batch of
        images ``x`` and their captions ``tokens`` (:meth:`encode`)."""
        return self.diffusion.loss(*self.encode(x, tokens))

    def encode(self, x: torch.Tensor, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def _encode_in_batches(self, f, *tensors, batch_size: int = 1000) -> torch.Tensor:
        n = len(tensors[0])
        return torch.cat([f(*(t[i : i + batch_size] for t in tensors)) for i in range(0, n, batch_size)])


class LatentDiffusion(_FrozenParts):
    r"""Guided diffusion in a frozen autoencoder's code space, conditioned on a frozen CLIP embedding.

    The autoencoder's posterior mean, divided by a fixed scale :math:`s` (the spread of the
    codes, so that they match the diffusion's unit-variance noise), is the data of a
    :class:`~gdl.diffusion.VectorGuidedDDPM`; the condition is a CLIP embedding
    :math:`\mathbf{c}`, of the caption or of the image:

    .. math::

        \mathbf{z}_0 = \boldsymbol\mu_\phi(\mathbf{x})/s,\qquad
        \mathbf{c} = g(\mathbf{y}) \ \text{(text)}\ \text{or}\ f(\mathbf{x})\ \text{(image)},\qquad
        L = \mathbb{E}\,\lVert\boldsymbol\epsilon - \boldsymbol\epsilon_\theta(\mathbf{z}_t, t, \mathbf{c})\rVert^2 / d,

    with :math:`\mathbf{c}` replaced by :math:`\varnothing` with probability ``p_uncond``.
    Sampling runs the guided reverse process in code space and decodes
    :math:`s\,\hat{\mathbf{z}}_0` to the most likely image.

    Arguments:
        autoencoder: a trained :class:`gdl.latent.VAE` (frozen here).
        clip: a trained :class:`gdl.multimodal.CLIP` (frozen here).
        condition: ``"text"`` (the caption's embedding; Stable Diffusion) or ``"image"`` (the
            image's own embedding; the decoder of DALL·E 2).
        scale: :math:`s`.
        **kwargs: the arguments of :class:`~gdl.diffusion.VectorGuidedDDPM` other than ``dim``
            and ``cond_dim``.

    References:
        Rombach et al., *High-Resolution Image Synthesis with Latent Diffusion Models*, CVPR
        2022, https://arxiv.org/abs/2112.10752 ;
        Ramesh et al., *Hierarchical Text-Conditional Image Generation with CLIP Latents*, 2022,
        https://arxiv.org/abs/2204.06125 .
    """

    frozen = ("autoencoder", "clip")

    def __init__(self, autoencoder, clip, condition: str = "text", scale: float = 1.0, **kwargs):
        super().__init__()
        self.condition = checks.one_of(condition, "condition", ("text", "image"))
        if tuple(autoencoder.event_shape) != tuple(clip.image_shape):
            raise ValueError(f"autoencoder and clip must read images of one shape, got "
                             f"{tuple(autoencoder.event_shape)} and {tuple(clip.image_shape)}")
        self.autoencoder, self.clip = autoencoder, clip
        self.register_buffer("scale", torch.tensor(checks.positive(scale, "scale")))
        embed_dim = clip.text_encoder.proj.out_features
        self.diffusion = VectorGuidedDDPM(dim=autoencoder.latent_dim, cond_dim=embed_dim, **kwargs)
        self._freeze()

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one image."""
        return tuple(self.autoencoder.event_shape)

    def _clip_images(self, x: torch.Tensor) -> torch.Tensor:
        """Images at the autoencoder's grey levels, on the CLIP's levels."""
        a, c = self.autoencoder.num_levels - 1, self.clip.num_levels - 1
        return x if a == c else (x.float() * c / a).round().long()

    @torch.no_grad()
    def encode(self, x: torch.Tensor, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The codes :math:`\mathbf{z}_0` ``(B, latent_dim)`` and conditions :math:`\mathbf{c}`
        ``(B, embed_dim)`` of images ``x`` (at the autoencoder's grey levels) and captions
        ``tokens`` (needed for ``condition="text"`` only), computed without gradients."""
        x = checks.tensor(x, "x")
        if self.condition == "text":
            if tokens is None:
                raise ValueError('tokens are needed with condition="text"')
            if len(tokens) != len(x):
                raise ValueError(f"x and tokens must hold the same number of pairs, got {len(x)} and {len(tokens)}")
            c = self._encode_in_batches(self.clip.encode_text, tokens)
        else:
            c = self._encode_in_batches(lambda xb: self.clip.encode_image(self._clip_images(xb)), x)
        z = self._encode_in_batches(lambda xb: self.autoencoder.encode(xb).mean, x) / self.scale
        return z, c

    @torch.no_grad()
    def decode(self, z0: torch.Tensor) -> torch.Tensor:
        r"""Codes on the diffusion's scale ``(B, latent_dim)`` to the autoencoder's most likely images."""
        return self.autoencoder.decode(z0 * self.scale).mode

    @torch.no_grad()
    def sample(self, n: int | None = None, *, tokens: torch.Tensor | None = None,
               condition: torch.Tensor | None = None, guidance: float | None = None,
               steps: int | None = None) -> torch.Tensor:
        """Images ``(n, *event_shape)`` for the captions ``tokens`` (``condition="text"``) or for
        CLIP embeddings ``condition`` ``(n, embed_dim)`` (either kind), guided with weight
        ``guidance``; with neither, ``n`` unconditional images."""
        if tokens is not None:
            if self.condition != "text":
                raise ValueError('tokens need condition="text"; pass image embeddings as condition=')
            condition = self.clip.encode_text(tokens)
        if condition is not None:
            n = len(condition) if n is None else n
        n = self.diffusion._check_n(n)
        z0 = self.diffusion.sample(n, condition=condition, guidance=guidance, steps=steps)
        return self.decode(z0)


class DiffusionPrior(_FrozenParts):
    r"""The prior of DALL·E 2: a diffusion from a CLIP text embedding to a CLIP image embedding.

    A frozen CLIP gives each training pair an image embedding :math:`\mathbf{u} = f(\mathbf{x})`
    and a text embedding :math:`\mathbf{v} = g(\mathbf{y})`; a
    :class:`~gdl.diffusion.VectorGuidedDDPM` learns :math:`p(\mathbf{u}\mid\mathbf{v})` on
    :math:`\mathbf{u}/s` (``scale`` :math:`s`, about :math:`1/\sqrt{E}` for unit vectors of size
    :math:`E`), with classifier-free guidance. A caption has many images (a "dark sneaker" can be
    any dark sneaker): the prior draws one of their embeddings, which an image-conditioned
    :class:`LatentDiffusion` then draws as an image. Samples are projected back onto the unit
    sphere, where CLIP's embeddings live.

    Arguments:
        clip: a trained :class:`gdl.multimodal.CLIP` (frozen here).
        scale: :math:`s`.
        **kwargs: the arguments of :class:`~gdl.diffusion.VectorGuidedDDPM` other than ``dim``
            and ``cond_dim``.

    Example:
        >>> from gdl.multimodal import CLIP
        >>> clip = CLIP(image_shape=(1, 8, 8), num_levels=17, embed_dim=8, width=4, text_dim=8)
        >>> prior = DiffusionPrior(clip, scale=8**-0.5, num_steps=10, hidden=[8])
        >>> u = prior.sample(torch.randint(1, 20, (3, 6)), steps=5)
        >>> u.shape, torch.allclose(u.norm(dim=-1), torch.ones(3))
        (torch.Size([3, 8]), True)

    References:
        Ramesh et al., *Hierarchical Text-Conditional Image Generation with CLIP Latents*, 2022,
        https://arxiv.org/abs/2204.06125 .
    """

    frozen = ("clip",)

    def __init__(self, clip, scale: float = 1.0, **kwargs):
        super().__init__()
        self.clip = clip
        self.register_buffer("scale", torch.tensor(checks.positive(scale, "scale")))
        embed_dim = clip.text_encoder.proj.out_features
        self.diffusion = VectorGuidedDDPM(dim=embed_dim, cond_dim=embed_dim, **kwargs)
        self._freeze()

    @torch.no_grad()
    def encode(self, x: torch.Tensor, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The scaled image embeddings :math:`\mathbf{u}/s` and the text embeddings
        :math:`\mathbf{v}` of pairs of images ``x`` (at the CLIP's grey levels) and captions
        ``tokens``, each ``(B, embed_dim)``, computed without gradients."""
        if tokens is None or len(tokens) != len(x):
            raise ValueError("x and tokens must be given, with the same number of pairs")
        u = self._encode_in_batches(self.clip.encode_image, x)
        v = self._encode_in_batches(self.clip.encode_text, tokens)
        return u / self.scale, v

    @torch.no_grad()
    def sample(self, tokens: torch.Tensor, *, guidance: float | None = None, steps: int | None = None) -> torch.Tensor:
        """Unit image embeddings ``(B, embed_dim)`` for the captions ``tokens`` ``(B, max_tokens)``."""
        v = self.clip.encode_text(tokens)
        u = self.diffusion.sample(len(v), condition=v, guidance=guidance, steps=steps)
        return F.normalize(u * self.scale, dim=-1)
