"""The fully convolutional network of DCDM: residual on the grid -> search direction."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciml.nn import record_init

__all__ = ["DCDMNet"]


def _halve(h: Tensor) -> Tensor:
    """2x average pooling of ``(batch, channels, *grid)``; odd sizes are zero-padded by one."""
    padding: list[int] = []
    for s in reversed(h.shape[2:]):
        padding += [0, s % 2]
    pool = F.avg_pool2d if h.ndim == 4 else F.avg_pool3d
    return pool(F.pad(h, padding) if any(padding) else h, 2)


class _Block(nn.Module):
    """``x + relu(conv(relu(conv(x))))``."""

    def __init__(self, conv: type[nn.Module], channels: int, kernel: int) -> None:
        super().__init__()
        self.a = conv(channels, channels, kernel, padding=kernel // 2)
        self.b = conv(channels, channels, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return x + F.relu(self.b(F.relu(self.a(x))))


@record_init
class DCDMNet(nn.Module):
    """Kaneda et al.'s DCDM network in 2-D or 3-D: approximates ``A^-1 r`` up to a scale.

    ``r`` (one channel on the grid, zero on solid cells) goes through a linear convolution to
    ``channels`` features, ``fine_blocks`` residual blocks, a 2x average pooling,
    ``coarse_blocks`` residual blocks, nearest-neighbour upsampling added to the fine features
    (skip connection), ``up_blocks`` residual blocks and a final 1x1 convolution. Each residual
    block is ``x + relu(conv(relu(conv(x))))``. Fully convolutional: trained at one grid size,
    applied at any other; odd sizes are padded by one cell for the pooling and cropped back.

    Parameters
    ----------
    dim : {2, 3}
    channels : int, default 16
    kernel : int, default 3
    fine_blocks, coarse_blocks, up_blocks : int, default 1, 2, 2
        The paper's 3-D network is ``(1, 2, 2)`` with 16 channels (13 convolutions).
    multilevel : bool, default False
        sciml's variant: instead of one pooling level, recurse -- on the pooled grid apply the
        coarse blocks, pool again, ..., down to grids of at most ``coarsest`` cells per axis,
        and come back up through the ``up`` blocks with the skip connections -- with the *same*
        weights on every level, like a multigrid V-cycle. The receptive field then covers the
        whole grid at every resolution while the parameter count stays the paper's (plus one
        scalar gate on the coarse corrections, zero at initialisation). Coarse grids are
        upsampled (bi/tri)linearly instead of by the nearest neighbour.
    coarsest : int, default 4

    Examples
    --------
    >>> import torch
    >>> net = DCDMNet(2)
    >>> net(torch.randn(4, 1, 33, 20)).shape
    torch.Size([4, 1, 33, 20])
    """

    def __init__(
        self,
        dim: int,
        channels: int = 16,
        kernel: int = 3,
        fine_blocks: int = 1,
        coarse_blocks: int = 2,
        up_blocks: int = 2,
        multilevel: bool = False,
        coarsest: int = 4,
    ) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if channels < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(
                f"channels >= 1 and an odd kernel are required, got {channels}, {kernel}"
            )
        self.dim = dim
        self.multilevel = bool(multilevel)
        self.coarsest = max(int(coarsest), 1)
        conv: type[nn.Module] = nn.Conv2d if dim == 2 else nn.Conv3d
        pad = kernel // 2
        self.lift = conv(1, channels, kernel, padding=pad)  # linear: no activation
        self.entry = conv(channels, channels, kernel, padding=pad)
        self.fine = nn.Sequential(*(_Block(conv, channels, kernel) for _ in range(fine_blocks)))
        self.coarse = nn.Sequential(*(_Block(conv, channels, kernel) for _ in range(coarse_blocks)))
        self.up = nn.Sequential(*(_Block(conv, channels, kernel) for _ in range(up_blocks)))
        self.out = conv(channels, 1, 1)
        if self.multilevel:
            # zero at initialisation: training starts from the single-grid network and lets the
            # coarse corrections in as far as they help (without it the sum of the ReLU blocks
            # over all levels swamps the fine features and training stalls at loss ~1)
            self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, r: Tensor) -> Tensor:
        """Search direction on the grid.

        Parameters
        ----------
        r : torch.Tensor
            ``(batch, 1, *grid)`` residuals (zero on solid cells).

        Returns
        -------
        torch.Tensor
            ``(batch, 1, *grid)``.
        """
        if r.ndim != self.dim + 2 or r.shape[1] != 1:
            raise ValueError(
                f"expected input (batch, 1, {', '.join(['n'] * self.dim)}), got {tuple(r.shape)}"
            )
        h = F.relu(self.entry(self.lift(r)))
        skip = self.fine(h)
        h = self.up(skip + self._coarse_correction(skip))
        return self.out(h)

    def _coarse_correction(self, h: Tensor) -> Tensor:
        """Pool ``h`` (padded to even sizes), process the coarse grid, upsample, crop."""
        grid = h.shape[2:]
        c = self.coarse(_halve(h))
        if self.multilevel and min(c.shape[2:]) > self.coarsest:
            c = self.up(c + self._coarse_correction(c))
        crop: tuple[Any, ...] = (..., *(slice(0, s) for s in grid))
        if not self.multilevel:
            return F.interpolate(c, scale_factor=2, mode="nearest")[crop]
        mode = "bilinear" if self.dim == 2 else "trilinear"
        up = F.interpolate(c, scale_factor=2, mode=mode, align_corners=False)
        return self.gate * up[crop]
