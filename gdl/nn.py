r"""Networks shared by the models: MLPs and causal (masked) layers.

Example:
    >>> import torch
    >>> conv = CausalConv1d(1, 4, kernel_size=3, exclude_current=True)
    >>> conv(torch.zeros(2, 1, 10)).shape
    torch.Size([2, 4, 10])
    >>> MaskedConv2d(1, 4, kernel_size=3, mask_type="A")(torch.zeros(2, 1, 5, 5)).shape
    torch.Size([2, 4, 5, 5])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MLP", "CausalConv1d", "MaskedLinear", "MaskedConv2d"]


class MLP(nn.Sequential):
    """A multilayer perceptron: ``Linear → activation`` repeated, then a final ``Linear``.

    Arguments:
        in_features: input size.
        hidden: sizes of the hidden layers.
        out_features: output size.
        activation: module class used between layers.

    Example:
        >>> import torch
        >>> MLP(2, [16, 16], 3)(torch.zeros(5, 2)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: type[nn.Module] = nn.ReLU,
    ):
        sizes = [in_features, *hidden, out_features]
        if any(s < 1 for s in sizes):
            raise ValueError(f"layer sizes must be positive, got {sizes}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)


class CausalConv1d(nn.Conv1d):
    r"""A 1-D convolution whose output at position :math:`i` sees only inputs at :math:`j \le i`.

    Causality comes from padding on the left only, by :math:`(k-1)\,d` for kernel size
    :math:`k` and dilation :math:`d`. With ``exclude_current=True`` (the "type A" layer that
    must open an autoregressive network) the input is shifted one step further right, so
    output :math:`i` sees only :math:`j < i`: the model cannot peek at the value it predicts.

    Arguments:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps of the filter.
        dilation: spacing between taps.
        exclude_current: if ``True``, output :math:`i` depends on inputs :math:`j < i` only.

    Shapes:
        ``(B, in_channels, L) -> (B, out_channels, L)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        exclude_current: bool = False,
    ):
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.exclude_current = exclude_current
        self.left_pad = (kernel_size - 1) * dilation + int(exclude_current)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.left_pad, 0))  # (B, C, pad + L): zeros stand for "before the start"
        y = super().forward(x)  # (B, C_out, L + exclude_current)
        if self.exclude_current:
            y = y[..., :-1]  # drop the last output, which would see the current input
        return y


class MaskedLinear(nn.Linear):
    r"""A linear layer whose weight is multiplied elementwise by a fixed binary mask.

    .. math::

        \mathbf{y} = (W \odot M)\,\mathbf{x} + \mathbf{b},

    so output :math:`k` ignores input :math:`d` wherever :math:`M_{kd} = 0`. MADE builds its
    autoregressive masks this way. The mask is a buffer: it moves with ``.to(device)`` and is
    saved in the ``state_dict``.

    Arguments:
        in_features: input size.
        out_features: output size.
        mask: ``(out_features, in_features)``, ones where a connection exists.

    Shapes:
        ``(B, in_features) -> (B, out_features)``.

    Example:
        >>> import torch
        >>> layer = MaskedLinear(3, 2, mask=torch.tensor([[1, 0, 0], [1, 1, 0]]))
        >>> x = torch.randn(4, 3, requires_grad=True)
        >>> layer(x)[:, 0].sum().backward()
        >>> (x.grad[:, 1:] == 0).all().item()
        True
    """

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(
                f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}"
            )
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def _pair(k: int | tuple[int, int]) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


class MaskedConv2d(nn.Conv2d):
    r"""A "same"-padded 2-D convolution that sees only pixels before the centre in raster order.

    Pixels are read row by row, left to right. The kernel's mask keeps the rows above the
    centre and, in the centre row, the columns to its left; for an odd kernel of size
    :math:`k_h \times k_w` with centre :math:`(c_h, c_w)`,

    .. math::

        M_{uv} = \begin{cases} 1 & u < c_h \text{ or } (u = c_h \text{ and } v < c_w) \\
        1 & (u, v) = (c_h, c_w) \text{ and type B} \\ 0 & \text{otherwise.} \end{cases}

    * type ``"A"`` excludes the centre pixel: the layer that opens an autoregressive network, so
      output :math:`(i, j)` cannot see the value :math:`x_{ij}` it predicts;
    * type ``"B"`` includes it: every later layer, whose input at :math:`(i, j)` already
      summarises only the pixels before :math:`(i, j)`.

    With ``vertical=True`` the mask keeps whole rows instead: the rows above the centre (type A)
    or those and the centre row (type B). This is the *vertical stack* of the gated PixelCNN,
    whose features at row :math:`i` depend only on rows above :math:`i`.

    Inputs have one channel or hidden channels; there is no splitting of RGB channels.

    Arguments:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd size, or ``(k_h, k_w)`` with both odd.
        mask_type: ``"A"`` or ``"B"``.
        vertical: keep whole rows (the vertical stack) instead of the raster-order half.

    Shapes:
        ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    Example:
        >>> MaskedConv2d(1, 1, 3, mask_type="A").mask[0, 0]
        tensor([[1., 1., 1.],
                [1., 0., 0.],
                [0., 0., 0.]])
        >>> MaskedConv2d(1, 1, 3, mask_type="B", vertical=True).mask[0, 0]
        tensor([[1., 1., 1.],
                [1., 1., 1.],
                [0., 0., 0.]])

    References:
        Van den Oord, Kalchbrenner and Kavukcuoglu, *Pixel Recurrent Neural Networks*, 2016,
        https://arxiv.org/abs/1601.06759.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str = "B",
        vertical: bool = False,
    ):
        kh, kw = _pair(kernel_size)
        if kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size!r}")
        if mask_type not in ("A", "B"):
            raise ValueError(f'mask_type must be "A" or "B", got {mask_type!r}')
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        self.mask_type, self.vertical = mask_type, vertical
        ch, cw = kh // 2, kw // 2
        mask = torch.zeros(kh, kw)
        mask[:ch] = 1  # rows above the centre
        if vertical:
            mask[ch] = float(mask_type == "B")  # the whole centre row, or none of it
        else:
            mask[ch, :cw] = 1  # left of the centre
            mask[ch, cw] = float(mask_type == "B")
        self.register_buffer("mask", mask[None, None])  # (1, 1, kh, kw), broadcast over channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)
