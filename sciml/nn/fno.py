"""Fourier neural operator (FNO) on regular grids in 1, 2 or 3 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciml.nn.base import record_init
from sciml.nn.mlp import activation as make_activation
from sciml.nn.spectral import SpectralConv, normalize_modes

__all__ = ["FNO"]

_CONV: dict[int, type[nn.Conv1d | nn.Conv2d | nn.Conv3d]] = {
    1: nn.Conv1d,
    2: nn.Conv2d,
    3: nn.Conv3d,
}


def _pointwise(ndim: int, in_channels: int, out_channels: int) -> nn.Module:
    """A 1x1 convolution: the same linear map on the channels at every grid point."""
    return _CONV[ndim](in_channels, out_channels, kernel_size=1)


def grid_coordinates(grid: Sequence[int], *, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Periodic grid coordinates ``x_j = j / n`` as a ``(len(grid), *grid)`` tensor.

    The points ``j / n`` (``j = 0..n-1``) of a grid are a subset of those of a grid twice as
    fine, so the encoding is exactly consistent across resolutions.
    """
    axes = [torch.arange(n, dtype=dtype, device=device) / n for n in grid]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))


@record_init
class FNO(nn.Module):
    """Fourier neural operator mapping fields ``(batch, in_channels, *grid)`` to fields.

    Architecture: optional positional encoding (the grid coordinates appended as channels),
    a pointwise lifting to ``width`` channels, ``layers`` Fourier layers
    ``v <- act(SpectralConv(v) + W v)`` (``W`` a pointwise linear map; no activation after
    the last layer), and a pointwise projection MLP ``width -> projection_width ->
    out_channels``. Every operation is either pointwise or acts on a fixed set of Fourier
    modes, so a model trained at one resolution can be evaluated at another.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output fields.
    modes : int or sequence of int
        Fourier modes kept per spatial dimension; ``len(modes)`` (1, 2 or 3) is the number of
        spatial dimensions (a bare int means 1D). Every (padded) grid size must be at least
        ``2 * modes``.
    width : int, default 32
        Channels of the hidden Fourier layers.
    layers : int, default 4
        Number of Fourier layers.
    lifting_width : int, optional
        If given, the lifting is a pointwise MLP ``in -> lifting_width -> width``; otherwise
        a single pointwise linear map.
    projection_width : int, default 128
        Hidden width of the pointwise projection MLP.
    activation : str, default "gelu"
        Activation name (see :func:`sciml.nn.activation`).
    padding : int, default 0
        Zero padding (grid points per side of every spatial dimension) applied after lifting
        and cropped before projection, for non-periodic data. It is counted in grid points,
        so the padded domain changes with resolution; scale it with the grid when evaluating
        at another resolution, or use ``padding_fraction``.
    padding_fraction : float, default 0
        Alternative to ``padding``: pad ``round(padding_fraction * n)`` points per side of a
        dimension of ``n`` points, the same physical extent at every resolution (use one of
        the two).
    positional_encoding : bool, default True
        Append the coordinates ``j / n`` in ``[0, 1)`` of every spatial dimension as extra
        input channels.

    Examples
    --------
    >>> model = FNO(1, 1, modes=(12, 12), width=16, layers=2)
    >>> u = torch.randn(4, 1, 32, 32)
    >>> model(u).shape
    torch.Size([4, 1, 32, 32])
    >>> model(torch.randn(4, 1, 64, 64)).shape  # zero-shot at a finer resolution
    torch.Size([4, 1, 64, 64])
    >>> rebuilt = FNO(**model.init_args)  # what checkpoints do
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        width: int = 32,
        layers: int = 4,
        lifting_width: int | None = None,
        projection_width: int = 128,
        activation: str = "gelu",
        padding: int = 0,
        padding_fraction: float = 0.0,
        positional_encoding: bool = True,
    ) -> None:
        super().__init__()
        self.modes = normalize_modes(modes)
        self.ndim = len(self.modes)
        for name, value, low in (
            ("in_channels", in_channels, 1),
            ("out_channels", out_channels, 1),
            ("width", width, 1),
            ("layers", layers, 1),
            ("projection_width", projection_width, 1),
            ("padding", padding, 0),
        ):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if lifting_width is not None and lifting_width < 1:
            raise ValueError(f"lifting_width must be positive or None, got {lifting_width!r}")
        make_activation(activation)  # validate the name early
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.padding = int(padding)
        if not 0.0 <= padding_fraction < 1.0:
            raise ValueError(f"padding_fraction must be in [0, 1), got {padding_fraction!r}")
        if padding_fraction and padding:
            raise ValueError("give padding or padding_fraction, not both")
        self.padding_fraction = float(padding_fraction)
        self.positional_encoding = bool(positional_encoding)
        d = self.ndim

        lift_in = self.in_channels + (d if self.positional_encoding else 0)
        if lifting_width is None:
            self.lifting: nn.Module = _pointwise(d, lift_in, width)
        else:
            self.lifting = nn.Sequential(
                _pointwise(d, lift_in, lifting_width),
                make_activation(activation),
                _pointwise(d, lifting_width, width),
            )
        self.spectral = nn.ModuleList(SpectralConv(width, width, self.modes) for _ in range(layers))
        self.skips = nn.ModuleList(_pointwise(d, width, width) for _ in range(layers))
        self.act = make_activation(activation)
        self.projection = nn.Sequential(
            _pointwise(d, width, projection_width),
            make_activation(activation),
            _pointwise(d, projection_width, self.out_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the operator to ``(batch, in_channels, *grid)``; returns ``(batch, out, *grid)``.

        Parameters
        ----------
        x : torch.Tensor
            Input field, channels first, with ``len(modes)`` spatial dimensions.

        Returns
        -------
        torch.Tensor
            Output field ``(batch, out_channels, *grid)`` on the same grid.
        """
        d = self.ndim
        if x.ndim != d + 2:
            raise ValueError(
                f"expected input (batch, {self.in_channels}, *grid) with {d} spatial "
                f"dimension(s), got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channel(s) (channels first), got shape "
                f"{tuple(x.shape)}"
            )
        grid = tuple(x.shape[2:])
        pads = [
            round(self.padding_fraction * n) if self.padding_fraction else self.padding
            for n in grid
        ]
        padded = tuple(n + 2 * p for n, p in zip(grid, pads, strict=True))
        cast(SpectralConv, self.spectral[0]).check_grid(padded)
        if self.positional_encoding:
            coords = grid_coordinates(grid, dtype=x.dtype, device=x.device)
            x = torch.cat([x, coords.expand(x.shape[0], *coords.shape)], dim=1)
        v = self.lifting(x)
        if any(pads):
            v = F.pad(v, [p for pad in reversed(pads) for p in (pad, pad)])
        for i, (spectral, skip) in enumerate(zip(self.spectral, self.skips, strict=True)):
            v = spectral(v) + skip(v)
            if i < len(self.spectral) - 1:
                v = self.act(v)
        if any(pads):
            v = v[
                (
                    slice(None),
                    slice(None),
                    *(slice(p, p + n) for p, n in zip(pads, grid, strict=True)),
                )
            ]
        return self.projection(v)
