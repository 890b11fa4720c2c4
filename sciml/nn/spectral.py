"""Spectral convolution: a learned multiplier on the lowest Fourier modes of a field."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["SpectralConv", "normalize_modes"]


def normalize_modes(modes: int | Sequence[int], ndim: int | None = None) -> tuple[int, ...]:
    """Validate ``modes`` and return it as a tuple of positive ints (one per spatial dim).

    Parameters
    ----------
    modes : int or sequence of int
        Number of kept Fourier modes per spatial dimension. A bare int means one spatial
        dimension unless ``ndim`` is given, in which case it is repeated ``ndim`` times.
    ndim : int, optional
        Number of spatial dimensions to broadcast a bare int to.

    Returns
    -------
    tuple of int
    """
    values = [modes] if isinstance(modes, int | float) else list(modes)
    if any(isinstance(m, bool) or int(m) != m for m in values):
        raise ValueError(f"modes must be integers, got {modes!r}")
    result = tuple(int(m) for m in values)
    if isinstance(modes, int | float) and ndim is not None:
        result = result * ndim
    if not 1 <= len(result) <= 3:
        raise ValueError(f"1, 2 or 3 spatial dimensions are supported, got modes={result}")
    if ndim is not None and len(result) != ndim:
        raise ValueError(f"expected {ndim} entries in modes, got {result}")
    if min(result) < 1:
        raise ValueError(f"modes must be positive, got {result}")
    return result


class SpectralConv(nn.Module):
    r"""Fourier-space convolution on a channels-first field ``(batch, channels, *grid)``.

    The layer takes the real FFT over the last ``d = len(modes)`` dimensions, keeps the
    lowest modes, multiplies them by learned complex weights (mixing channels),

    .. math:: \hat v_o(k) = \sum_i \hat u_i(k)\, W_{i o}(k), \qquad |k_j| < m_j,

    and transforms back to the input grid, so the same weights act at any resolution.
    Along every dimension but the last both the non-negative frequencies ``0..m-1`` and the
    negative ones ``-m..-1`` are kept (the "corner" blocks); along the last (half-spectrum)
    dimension the frequencies ``0..m-1``. Each grid size must be at least ``2 * m``.

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output channels.
    modes : int or sequence of int
        Kept modes per spatial dimension; its length (1, 2 or 3) fixes the dimension.
        A bare int means one spatial dimension.

    Notes
    -----
    The complex weights are stored as a real parameter ``weight`` of shape
    ``(in_channels, out_channels, 2*m_1, ..., 2*m_{d-1}, m_d, 2)`` (real and imaginary
    part last); along a non-last axis, indices ``0..m-1`` hold frequencies ``0..m-1`` and
    indices ``m..2m-1`` hold ``-m..-1``. They start uniform in ``[0, 1/(in*out))``.
    The FFT uses the ``"backward"`` normalisation (the inverse divides by the grid size),
    which makes a fixed multiplier resolution independent.

    Examples
    --------
    >>> layer = SpectralConv(3, 5, modes=(8, 6))
    >>> layer(torch.randn(2, 3, 32, 24)).shape
    torch.Size([2, 5, 32, 24])
    >>> layer(torch.randn(2, 3, 64, 48)).shape  # another resolution, same weights
    torch.Size([2, 5, 64, 48])
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int | Sequence[int]) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be positive, got in={in_channels}, out={out_channels}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.modes = normalize_modes(modes)
        self.ndim = len(self.modes)
        block = [2 * m for m in self.modes[:-1]] + [self.modes[-1]]
        scale = 1.0 / (self.in_channels * self.out_channels)
        self.weight = nn.Parameter(
            scale * torch.rand(self.in_channels, self.out_channels, *block, 2)
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, modes={self.modes}"

    def check_grid(self, grid: Sequence[int]) -> None:
        """Raise ``ValueError`` unless every grid size is at least twice its kept modes."""
        if len(grid) != self.ndim:
            raise ValueError(f"expected {self.ndim} spatial dimensions, got grid {tuple(grid)}")
        for axis, (n, m) in enumerate(zip(grid, self.modes, strict=True)):
            if n < 2 * m:
                raise ValueError(
                    f"grid size {n} along spatial axis {axis} is too small for {m} Fourier "
                    f"modes (need at least {2 * m} points); use a finer grid or fewer modes"
                )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer to ``(batch, in_channels, *grid)``; returns ``(batch, out, *grid)``."""
        d = self.ndim
        if x.ndim != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input (batch, {self.in_channels}, *grid) with {d} spatial "
                f"dimension(s), got shape {tuple(x.shape)}"
            )
        grid = tuple(x.shape[2:])
        self.check_grid(grid)
        dims = tuple(range(2, d + 2))
        x_ft = torch.fft.rfftn(x, dim=dims)
        weight = torch.view_as_complex(self.weight)
        if weight.dtype != x_ft.dtype:
            weight = weight.to(x_ft.dtype)
        out_ft = x_ft.new_zeros((x.shape[0], self.out_channels, *x_ft.shape[2:]))
        # every combination of (low positive, low negative) blocks along the non-last axes
        choices = []
        for n, m in zip(grid[:-1], self.modes[:-1], strict=True):
            choices.append(((slice(0, m), slice(0, m)), (slice(n - m, n), slice(m, 2 * m))))
        last = slice(0, self.modes[-1])
        letters = "xyz"[:d]
        equation = f"bi{letters},io{letters}->bo{letters}"
        for corner in itertools.product(*choices):
            grid_index = (*(c[0] for c in corner), last)
            weight_index = (*(c[1] for c in corner), last)
            out_ft[(slice(None), slice(None), *grid_index)] = torch.einsum(
                equation,
                x_ft[(slice(None), slice(None), *grid_index)],
                weight[(slice(None), slice(None), *weight_index)],
            )
        return torch.fft.irfftn(out_ft, s=grid, dim=dims)
