r"""PixelCNN: masked 2-D convolutions over the pixels, with gated vertical and horizontal stacks."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical

from .. import _checks as checks
from ..nn import MaskedConv2d
from ..taxonomy import register
from .pixels import PixelARM

__all__ = ["PixelCNN", "GatedBlock"]


def gate(t: torch.Tensor) -> torch.Tensor:
    r"""The gated activation :math:`\tanh(a) \odot \sigma(b)`, with ``t = [a, b]`` on channels."""
    a, b = t.chunk(2, dim=1)  # (B, 2C, H, W) -> two (B, C, H, W)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedBlock(nn.Module):
    r"""One gated PixelCNN layer: a vertical stack, a horizontal stack, and a link between them.

    .. math::

        \mathbf{v}' = \tanh(W_{v,f} * \mathbf{v}) \odot \sigma(W_{v,g} * \mathbf{v}), \qquad
        \mathbf{h}' = \mathbf{h} + W_{1\times1}\big[\tanh(\cdot) \odot \sigma(\cdot)\big]
        \big(W_h * \mathbf{h} + W_{v\to h} (W_v * \mathbf{v})\big).

    The two stacks keep two invariants, which together cover the whole past of a pixel without
    the blind spot of a plain stack of masked convolutions:

    * the vertical features at :math:`(i, j)` depend only on rows above :math:`i` (a
      :math:`k \times k` vertical type-B mask);
    * the horizontal features at :math:`(i, j)` depend only on pixels before :math:`(i, j)` in
      raster order (a :math:`1 \times k` type-B mask), plus the vertical features at
      :math:`(i, j)`, which sit entirely above.

    Arguments:
        channels: channels :math:`C` of both stacks.
        kernel_size: odd width :math:`k` of the filters.
        dropout: probability of zeroing a gated horizontal feature during training.

    Shapes:
        ``v``, ``h``: each ``(B, C, H, W)``, returned with the same shapes.
    """

    def __init__(self, channels: int, kernel_size: int = 3, dropout: float = 0.0):
        super().__init__()
        self.v_conv = MaskedConv2d(channels, 2 * channels, kernel_size, "B", vertical=True)
        self.h_conv = MaskedConv2d(channels, 2 * channels, (1, kernel_size), "B")
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)  # per feature and pixel: masks nothing causal

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre = self.v_conv(v)  # (B, 2C, H, W): rows above i only, so safe to hand to h
        return gate(v_pre), self.horizontal(h, v_pre)

    def horizontal(self, h: torch.Tensor, v_pre: torch.Tensor) -> torch.Tensor:
        """The horizontal stack's update from ``h`` and the vertical pre-activations ``v_pre``.

        Every filter here is one row tall, so it can run on any band of rows, a single row
        included: the sampler uses that to redo only the row it is drawing.
        """
        h_pre = self.h_conv(h) + self.v_to_h(v_pre)  # (B, 2C, H, W)
        return h + self.h_out(self.dropout(gate(h_pre)))  # residual on h


@register("autoregressive")
class PixelCNN(PixelARM):
    r"""A gated PixelCNN over 1-channel images with a categorical distribution per pixel.

    Pixels are read in raster order (row by row, left to right) and

    .. math::

        \log p(\mathbf{x}) = \sum_{i=1}^{H}\sum_{j=1}^{W}
        \log \mathrm{Cat}\big(x_{ij} \mid \mathrm{softmax}(f_\theta(\mathbf{x}_{<(i,j)}))\big).

    A type-A :class:`~gdl.nn.MaskedConv2d` (:math:`7\times7` by default) opens the horizontal
    stack, and a vertical type-A one the vertical stack, so no output sees the pixel it
    predicts; then ``num_blocks`` :class:`GatedBlock` layers of type-B convolutions each grow
    the receptive field by :math:`(k-1)/2` pixels up, left and right, with no blind spot; two
    :math:`1\times1` convolutions give ``num_levels`` logits per pixel. All :math:`HW`
    conditionals come from one forward pass. Sampling draws one pixel at a time, but the two
    stacks spare it most of :math:`HW` full passes: the vertical stack runs once per row, and
    only the horizontal stack, on that row alone, once per pixel.

    The likelihood is that of :class:`~gdl.autoregressive.pixels.PixelARM`; sampling overrides
    its pixel-by-pixel loop with the row-by-row one above.

    Arguments:
        event_shape: ``(1, H, W)``.
        num_levels: values each pixel takes, ``0 .. num_levels - 1`` (17 for the digits).
        hidden: channels :math:`C` of both stacks.
        num_blocks: gated blocks after the first layer.
        kernel_size: odd width of the first, type-A layer.
        block_kernel_size: odd width of the filters in the blocks.
        dropout: dropout probability inside each block, a regulariser for small data sets;
            active in training mode only (:func:`gdl.fit` leaves the model in eval mode).

    Shapes:
        - ``log_prob``: ``(B, 1, H, W)`` integers → ``(B,)`` nats.
        - ``sample(n)``: → ``(n, 1, H, W)`` int64.

    Example:
        >>> import torch
        >>> model = PixelCNN(event_shape=(1, 3, 3), num_levels=4, hidden=8, num_blocks=1)
        >>> x = torch.randint(0, 4, (5, 1, 3, 3))
        >>> model.log_prob(x).shape
        torch.Size([5])
        >>> model.sample(2).shape
        torch.Size([2, 1, 3, 3])

    References:
        Van den Oord, Kalchbrenner and Kavukcuoglu, *Pixel Recurrent Neural Networks*, 2016,
        https://arxiv.org/abs/1601.06759. Van den Oord et al., *Conditional Image Generation
        with PixelCNN Decoders*, 2016, https://arxiv.org/abs/1606.05328.
    """

    def __init__(
        self,
        event_shape: tuple[int, int, int] = (1, 8, 8),
        num_levels: int = 17,
        hidden: int = 64,
        num_blocks: int = 4,
        kernel_size: int = 7,
        block_kernel_size: int = 3,
        dropout: float = 0.0,
    ):
        event_shape = checks.event_shape(event_shape, ndim=3)
        if event_shape[0] != 1:
            raise ValueError(f"event_shape must be (1, H, W), got {event_shape!r}")
        super().__init__(event_shape, num_levels)
        hidden = checks.positive_int(hidden, "hidden")
        num_blocks = checks.positive_int(num_blocks, "num_blocks")
        for name, value in (("kernel_size", kernel_size), ("block_kernel_size", block_kernel_size)):
            if checks.positive_int(value, name) % 2 == 0:
                raise ValueError(f"{name} must be an odd positive int, got {value!r}")
        dropout = checks.probability(dropout, "dropout")

        self.v_in = MaskedConv2d(1, hidden, kernel_size, "A", vertical=True)  # rows above only
        self.h_in = MaskedConv2d(1, hidden, kernel_size, "A")  # pixels before (i, j) only
        self.blocks = nn.ModuleList(
            GatedBlock(hidden, block_kernel_size, dropout) for _ in range(num_blocks)
        )
        self.out = nn.Sequential(
            nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, self.num_levels, 1)
        )

    def feature_logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K, H, W)`` from an encoded input ``(B, 1, H, W)``, as an image of logits.

        The logits at :math:`(i, j)` depend only on the input before :math:`(i, j)` in raster
        order.
        """
        v, h = self.v_in(inp), self.h_in(inp)  # each (B, C, H, W)
        for block in self.blocks:
            v, h = block(v, h)
        return self.out(h)  # (B, K, H, W)

    def logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Encoded input ``(B, 1, H, W)`` → logits ``(B, D, K)``, in raster order."""
        out = self.feature_logits(inp)  # (B, K, H, W)
        return out.permute(0, 2, 3, 1).reshape(len(inp), self.dims, self.num_levels)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """Ancestral sampling, pixel by pixel in raster order, row by row (see above).

        Arguments:
            n: number of samples.
            temperature: divides the logits; below 1 sharpens each conditional, above 1 flattens it.
        """
        n = self._check_n(n)
        temperature = checks.temperature(temperature)
        x = torch.zeros(n, *self.event_shape, dtype=torch.long, device=self.device)
        known = torch.zeros_like(x, dtype=torch.bool)
        return self._fill(x, known, temperature)

    @torch.no_grad()
    def complete(
        self, x: torch.Tensor, known: torch.Tensor, temperature: float = 1.0
    ) -> torch.Tensor:
        """Keep the pixels where ``known`` is True and sample the others in raster order.

        Each unknown pixel is drawn from :math:`p(x_{ij} \\mid \\mathbf{x}_{<(i,j)})`, with the
        known pixels and those already drawn as its past. This is exact conditioning on the known
        pixels only when they all come *before* the unknown ones in raster order (a hidden bottom
        half, say); a known pixel *after* an unknown one is kept, but it does not inform the
        pixels before it (that would need :math:`p(x_{ij} \\mid \\text{past}, \\text{future})`,
        which an ARM does not give).

        Arguments:
            x: images ``(B, 1, H, W)``; the values where ``known`` is False are ignored.
            known: booleans of the same shape (or broadcastable to it), True where kept.
            temperature: as in :meth:`sample`.

        Returns:
            completed images ``(B, 1, H, W)`` int64, equal to ``x`` where ``known`` is True.
        """
        x = self._check_data(x).clone()
        temperature = checks.temperature(temperature)
        known = checks.tensor(known, "known").to(x.device)
        if known.dtype != torch.bool:
            raise ValueError(f"known must be a boolean tensor, got dtype {known.dtype}")
        try:
            known = known.expand_as(x)
        except RuntimeError:
            raise ValueError(
                f"known must have the shape of x, {tuple(x.shape)}, got {tuple(known.shape)}"
            ) from None
        x[~known] = 0  # unknown pixels are not read before they are drawn; zero keeps it tidy
        return self._fill(x, known, temperature)

    def _fill(self, x: torch.Tensor, known: torch.Tensor, temperature: float) -> torch.Tensor:
        """Draw the pixels of ``x`` where ``known`` is False, in raster order."""
        _, _, height, width = x.shape
        for i in range(height):
            todo = ~known[:, 0, i]  # (B, W)
            if not todo.any():
                continue
            v_pres = self._vertical_row(x, i)  # rows above i are final: once per row
            for j in range(width):
                if not todo[:, j].any():
                    continue
                logits = self._row_logits(x, i, v_pres)[:, :, j]  # (B, K): sees x before (i, j)
                draw = Categorical(logits=logits / temperature).sample()
                x[:, 0, i, j] = torch.where(todo[:, j], draw, x[:, 0, i, j])
        return x

    # Sampling row by row. The vertical stack at row i sees only the rows above, which do not
    # change while row i is drawn, so it runs once per row; only the horizontal stack, whose
    # filters are one row tall, runs again for each pixel, and on row i alone.
    def _vertical_row(self, x: torch.Tensor, i: int) -> list[torch.Tensor]:
        """Each block's vertical pre-activations at row ``i``, ``(B, 2C, 1, W)`` apiece."""
        v = self.v_in(self.encode(x[:, :, : i + 1]))  # rows below i cannot reach row i
        v_pres = []
        for block in self.blocks:
            v_pre = block.v_conv(v)  # (B, 2C, i + 1, W)
            v_pres.append(v_pre[:, :, i : i + 1])
            v = gate(v_pre)
        return v_pres

    def _row_logits(self, x: torch.Tensor, i: int, v_pres: list[torch.Tensor]) -> torch.Tensor:
        """The logits of row ``i``, ``(B, K, W)``, from :meth:`_vertical_row`'s output.

        Equal to ``self.feature_logits(self.encode(x))[:, :, i]``.
        """
        reach = self.h_in.kernel_size[0] // 2  # rows above i that the first layer reads
        band = self.encode(x[:, :, max(0, i - reach) : i + 1])  # (B, 1, <= reach + 1, W)
        h = self.h_in(band)[:, :, -1:]  # (B, C, 1, W): row i
        for block, v_pre in zip(self.blocks, v_pres):
            h = block.horizontal(h, v_pre)
        return self.out(h)[:, :, 0]  # (B, K, W)
