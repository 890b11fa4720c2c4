"""Basis functions on a grid: finite-difference derivatives and values at scattered points.

A network such as :class:`sciml.nn.FNO` returns its basis functions on a regular (space-time)
grid. The hard-constraint layer needs them, and the derivatives the PDE needs, at residual
points sampled at random in every training step. The derivatives are taken once per forward
pass on the grid (:func:`finite_difference`), and every field is then read at the points by
multilinear interpolation (:func:`sample_grid`), which is linear in the grid values, so the
gradient reaches the network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["finite_difference", "sample_grid"]


def finite_difference(
    f: Tensor,
    dim: int,
    spacing: float,
    *,
    order: int = 1,
    periodic: bool = False,
    scheme: str = "central",
) -> Tensor:
    """First or second derivative along one grid axis, second-order accurate.

    ``scheme="central"``: central differences inside; at the two ends one-sided second-order
    stencils (``periodic=False``) or wrap-around central differences (``periodic=True``).
    ``scheme="backward"`` (first derivatives in time): the BDF2 difference
    ``(3 f_j - 4 f_{j-1} + f_{j-2}) / (2 h)``, started by the backward (implicit Euler)
    difference at ``j = 1`` (``j = 0`` takes the forward difference). A residual built with it
    is the residual of an implicit time-stepping scheme, which stays meaningful across an
    initial layer that the grid does not resolve, where central differences in time do not.

    Parameters
    ----------
    f : torch.Tensor
        Values on a uniform grid (any leading axes).
    dim : int
        Axis to differentiate along (at least 4 points along it when not periodic).
    spacing : float
        Grid spacing along ``dim`` (> 0).
    order : {1, 2}, default 1
    periodic : bool, default False
    scheme : {"central", "backward"}, default "central"
        ``"backward"`` needs ``order=1`` and ``periodic=False``.

    Returns
    -------
    torch.Tensor
        Same shape as ``f``.

    Examples
    --------
    >>> x = torch.linspace(0, 1, 101, dtype=torch.float64)
    >>> d = finite_difference(x**2, 0, 0.01, order=2)
    >>> bool(torch.allclose(d, torch.full_like(x, 2.0)))
    True
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    if scheme not in ("central", "backward"):
        raise ValueError(f"scheme must be central or backward, got {scheme!r}")
    f = f.movedim(dim, -1)
    n = f.shape[-1]
    if scheme == "backward":
        if order != 1 or periodic or n < 3:
            raise ValueError("scheme='backward' needs order=1, periodic=False and 3 points")
        step = f[..., 1:2] - f[..., :1]
        bdf2 = (3 * f[..., 2:] - 4 * f[..., 1:-1] + f[..., :-2]) / 2
        return (torch.cat([step, step, bdf2], -1) / spacing).movedim(-1, dim)
    if periodic:
        ahead, behind = f.roll(-1, -1), f.roll(1, -1)
        out = (ahead - behind) / (2 * spacing) if order == 1 else (ahead - 2 * f + behind)
        if order == 2:
            out = out / spacing**2
        return out.movedim(-1, dim)
    if n < 4:
        raise ValueError(f"need at least 4 grid points along dim {dim}, got {n}")
    if order == 1:
        inner = (f[..., 2:] - f[..., :-2]) / 2
        first = (-3 * f[..., :1] + 4 * f[..., 1:2] - f[..., 2:3]) / 2
        last = (3 * f[..., -1:] - 4 * f[..., -2:-1] + f[..., -3:-2]) / 2
        out = torch.cat([first, inner, last], -1) / spacing
    else:
        inner = f[..., 2:] - 2 * f[..., 1:-1] + f[..., :-2]
        first = 2 * f[..., :1] - 5 * f[..., 1:2] + 4 * f[..., 2:3] - f[..., 3:4]
        last = 2 * f[..., -1:] - 5 * f[..., -2:-1] + 4 * f[..., -3:-2] - f[..., -4:-3]
        out = torch.cat([first, inner, last], -1) / spacing**2
    return out.movedim(-1, dim)


def sample_grid(f: Tensor, points: Tensor, *, periodic: tuple[bool, ...] | None = None) -> Tensor:
    """Multilinear interpolation of grid fields at points of the unit box.

    Parameters
    ----------
    f : torch.Tensor
        ``(batch, C, n_1, ..., n_d)`` values at the nodes ``(i_1 / (n_1 - 1), ...)`` of the
        unit box, ``d`` in {1, 2, 3}.
    points : torch.Tensor
        ``(P, d)`` (the same points for every sample) or ``(batch, P, d)`` coordinates in
        ``[0, 1]^d``, in the order of the grid axes.
    periodic : tuple of bool, optional
        One flag per grid axis. A periodic axis of ``n`` points has its nodes at ``i / n``
        (``i < n``) and wraps around: a point in ``[(n - 1) / n, 1]`` interpolates between
        the last and the first node (as on a periodic spectral grid). Default: none periodic.

    Returns
    -------
    torch.Tensor
        ``(batch, P, C)``.

    Examples
    --------
    >>> f = torch.arange(6.0).reshape(1, 1, 2, 3)  # f = 3 i + j at node (i, j)
    >>> sample_grid(f, torch.tensor([[0.5, 0.5], [1.0, 0.0]]))[0, :, 0].tolist()
    [2.5, 3.0]
    """
    d = f.ndim - 2
    if d not in (1, 2, 3):
        raise ValueError(f"f must be (batch, C, *grid) with 1-3 grid axes, got {tuple(f.shape)}")
    if points.ndim == 2:
        points = points.expand(f.shape[0], *points.shape)
    if points.ndim != 3 or points.shape[0] != f.shape[0] or points.shape[2] != d:
        raise ValueError(
            f"points must be (P, {d}) or (batch={f.shape[0]}, P, {d}), got {tuple(points.shape)}"
        )
    if not bool(((points >= 0) & (points <= 1)).all()):
        raise ValueError("points must lie in the unit box [0, 1]^d")
    if periodic is not None:
        if len(periodic) != d:
            raise ValueError(f"periodic needs one flag per grid axis ({d}), got {periodic}")
        if any(periodic):
            return _gather_multilinear(f, points, tuple(bool(p) for p in periodic))
    batch, P = points.shape[:2]
    if d == 1:  # as a grid of height one
        f = f.unsqueeze(-2)
        points = torch.cat([torch.zeros_like(points), points], -1)
        d = 2
    # grid_sample reads its coordinates in [-1, 1], last grid axis first
    coords = (2 * points.to(f.dtype) - 1).flip(-1).reshape(batch, *([1] * (d - 1)), P, d)
    out = F.grid_sample(f, coords, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(batch, f.shape[1], P).transpose(1, 2)


def _gather_multilinear(f: Tensor, points: Tensor, periodic: tuple[bool, ...]) -> Tensor:
    """Multilinear interpolation by gathering the ``2^d`` corner nodes (periodic axes wrap)."""
    batch, C = f.shape[:2]
    sizes = f.shape[2:]
    P = points.shape[1]
    lower, frac = [], []
    for axis, (n, wrap) in enumerate(zip(sizes, periodic, strict=True)):
        x = points[..., axis].to(f.dtype) * (n if wrap else n - 1)
        i = torch.floor(x).clamp(0, n - 1 if wrap else n - 2)
        lower.append(i.to(torch.int64))
        frac.append(x - i)
    flat = f.reshape(batch, C, -1)
    out = f.new_zeros(batch, C, P)
    for corner in range(2 ** len(sizes)):
        index = torch.zeros_like(lower[0])
        weight = torch.ones_like(frac[0])
        for axis, n in enumerate(sizes):
            up = (corner >> (len(sizes) - 1 - axis)) & 1
            i = lower[axis] + up
            if periodic[axis]:
                i = i % n
            index = index * n + i
            weight = weight * (frac[axis] if up else 1 - frac[axis])
        values = torch.gather(flat, 2, index[:, None, :].expand(batch, C, P))
        out = out + weight[:, None, :] * values
    return out.transpose(1, 2)
