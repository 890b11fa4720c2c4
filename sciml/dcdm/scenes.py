"""Obstacle scenes on regular grids and their pressure-Poisson systems.

A scene is a boolean *fluid* mask on a grid of cells (``True``: fluid, ``False``: solid).
Shapes are drawn in the unit square/cube, so the same seed gives the same geometry at every
resolution -- what a test of "iterations flat in problem size" needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from sciml.linalg import (
    CoarseCorrection,
    SparseMatrix,
    grid_coarse_correction,
    grid_faces,
    poisson_grid,
)

__all__ = [
    "GridPoisson",
    "blob_scene",
    "divergence_rhs",
    "empty_scene",
    "fill_enclosed",
    "image_scene",
    "obstacle_scene",
]


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 2:
        raise ValueError(f"shape must be 2 or 3 sizes >= 2, got {shape}")
    return shape


def _centres(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Cell-centre coordinates in [0, 1] (broadcastable, axis 0 = x)."""
    axes = [(np.arange(s) + 0.5) / s for s in shape]
    return list(np.meshgrid(*axes, indexing="ij", sparse=True))


def fill_enclosed(fluid: np.ndarray, dirichlet: str | Sequence[str] = "all") -> np.ndarray:
    """Mark solid every fluid region that touches no open face (it would make ``A`` singular).

    Parameters
    ----------
    fluid : numpy.ndarray of bool
        2-D or 3-D fluid mask.
    dirichlet : "all", "none" or sequence of str
        Open faces, as in :func:`sciml.linalg.poisson_grid`.

    Returns
    -------
    numpy.ndarray of bool
        A copy with the enclosed fluid pockets set to ``False``.
    """
    fluid = np.asarray(fluid, dtype=bool)
    faces = grid_faces(fluid.ndim)
    open_faces = set(faces) if dirichlet == "all" else set() if dirichlet == "none" else dirichlet
    labels, _ = ndimage.label(fluid)  # face-connected, like the matrix graph
    keep: set[int] = set()
    for axis in range(fluid.ndim):
        for side, position in (("-", 0), ("+", -1)):
            if f"{'xyz'[axis]}{side}" in open_faces:
                keep.update(np.unique(np.take(labels, position, axis=axis)).tolist())
    keep.discard(0)
    return np.isin(labels, sorted(keep))


def empty_scene(shape: Sequence[int]) -> np.ndarray:
    """A grid without obstacles.

    Parameters
    ----------
    shape : sequence of int
        Cells per axis, 2-D or 3-D.

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.ones(_check_shape(shape), dtype=bool)


def obstacle_scene(
    shape: Sequence[int],
    *,
    count: int = 6,
    seed: int = 0,
    kinds: Sequence[str] = ("sphere", "box"),
    size: tuple[float, float] = (0.05, 0.15),
    dirichlet: str | Sequence[str] = "all",
) -> np.ndarray:
    """Random solid spheres (disks) and boxes, drawn in the unit square/cube.

    Parameters
    ----------
    shape : sequence of int
        Cells per axis, 2-D or 3-D.
    count : int, default 6
        Number of obstacles.
    seed : int, default 0
        The geometry depends only on ``seed``, not on the resolution.
    kinds : sequence of {"sphere", "box"}
    size : (float, float), default (0.05, 0.15)
        Range of radii / half-widths, in units of the domain size.
    dirichlet : "all", "none" or sequence of str, default "all"
        Open faces; fluid pockets enclosed by obstacles are filled (:func:`fill_enclosed`).

    Returns
    -------
    numpy.ndarray of bool
        The fluid mask.
    """
    shape = _check_shape(shape)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    unknown = set(kinds) - {"sphere", "box"}
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of ('sphere', 'box'), got {kinds}")
    if not 0 < size[0] <= size[1] < 0.5:
        raise ValueError(f"size must satisfy 0 < min <= max < 0.5, got {size}")
    rng = np.random.default_rng(seed)
    x = _centres(shape)
    solid = np.zeros(shape, dtype=bool)
    for _ in range(count):
        kind = kinds[int(rng.integers(len(kinds)))]
        r = rng.uniform(*size)
        c = rng.uniform(0.1 + r, 0.9 - r, size=len(shape))
        if kind == "sphere":
            solid |= sum((xi - ci) ** 2 for xi, ci in zip(x, c, strict=True)) <= r**2
        else:
            half = r * rng.uniform(0.5, 1.0, size=len(shape))
            inside = np.ones(shape, dtype=bool)
            for xi, ci, hi in zip(x, c, half, strict=True):
                inside &= np.abs(xi - ci) <= hi
            solid |= inside
    return fill_enclosed(~solid, dirichlet)


def blob_scene(
    shape: Sequence[int], *, seed: int = 0, bumps: int = 5, radius: float = 0.3
) -> np.ndarray:
    """One smooth solid blob in the middle: a level set of a sum of Gaussian bumps.

    Parameters
    ----------
    shape : sequence of int
        Cells per axis, 2-D or 3-D.
    seed : int, default 0
    bumps : int, default 5
    radius : float, default 0.3
        Approximate blob radius (domain size 1).

    Returns
    -------
    numpy.ndarray of bool
    """
    shape = _check_shape(shape)
    rng = np.random.default_rng(seed)
    x = _centres(shape)
    field = np.zeros(shape)
    for _ in range(bumps):
        c = 0.5 + rng.uniform(-radius / 2, radius / 2, size=len(shape))
        w = radius * rng.uniform(0.4, 0.7)
        field = field + np.exp(-sum((xi - ci) ** 2 for xi, ci in zip(x, c, strict=True)) / w**2)
    solid = field > 0.5 * field.max()
    return fill_enclosed(~solid)


def image_scene(
    image: np.ndarray | str | os.PathLike[str],
    shape: Sequence[int],
    *,
    threshold: float = 0.5,
) -> np.ndarray:
    """A scene from a picture: dark pixels are solid (extruded along ``z`` for a 3-D shape).

    Parameters
    ----------
    image : numpy.ndarray or path
        A 2-D grey or RGB(A) array with values in [0, 1] (or 0-255), or an image file readable
        by matplotlib (PNG). Row 0 is the top of the picture (``y`` up in the scene).
    shape : sequence of int
        Target cells per axis; the picture is resampled by nearest neighbour.
    threshold : float, default 0.5
        Pixels darker than this are solid.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If the array is not a 2-D picture.
    """
    shape = _check_shape(shape)
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file {path} does not exist")
        import matplotlib.image as mpimg

        image = mpimg.imread(path)
    pic = np.asarray(image, dtype=np.float64)
    if pic.ndim == 3:
        pic = pic[..., :3].mean(axis=-1) if pic.shape[-1] >= 3 else pic[..., 0]
    if pic.ndim != 2 or min(pic.shape) < 1:
        raise ValueError(f"image must be a 2-D picture, got shape {pic.shape}")
    if pic.max() > 1.0:
        pic = pic / 255.0
    grid = pic[::-1].T  # (x, y) with y up
    ix = np.minimum((np.arange(shape[0]) + 0.5) * grid.shape[0] / shape[0], grid.shape[0] - 1)
    iy = np.minimum((np.arange(shape[1]) + 0.5) * grid.shape[1] / shape[1], grid.shape[1] - 1)
    solid2d = grid[np.ix_(ix.astype(int), iy.astype(int))] < threshold
    solid = np.broadcast_to(solid2d[..., None], shape).copy() if len(shape) == 3 else solid2d
    return fill_enclosed(~solid)


class GridPoisson:
    """The pressure-Poisson system of a scene: matrix on the fluid cells and grid maps.

    Parameters
    ----------
    fluid : numpy.ndarray of bool
        2-D or 3-D fluid mask.
    dirichlet : "all", "none" or sequence of str, default "all"
        Open outer faces (:func:`sciml.linalg.poisson_grid`); solid cells and other faces are
        walls (Neumann).
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"

    Attributes
    ----------
    fluid : numpy.ndarray of bool
    matrix : SparseMatrix
        ``(n_fluid, n_fluid)``, SPD.
    cells : torch.Tensor
        Flat grid index of each unknown.
    """

    def __init__(
        self,
        fluid: np.ndarray,
        *,
        dirichlet: str | Sequence[str] = "all",
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> None:
        self.fluid = np.asarray(fluid)
        if self.fluid.ndim not in (2, 3):
            raise ValueError(f"fluid must be a 2-D or 3-D mask, got shape {self.fluid.shape}")
        self.dirichlet = dirichlet
        self.matrix = poisson_grid(self.fluid, dirichlet=dirichlet, dtype=dtype, device=device)
        self.cells = torch.as_tensor(np.flatnonzero(self.fluid), device=self.matrix.device)

    @classmethod
    def from_matrix(
        cls,
        matrix: SparseMatrix,
        fluid: np.ndarray,
        *,
        dirichlet: str | Sequence[str] = "all",
    ) -> GridPoisson:
        """Wrap an already assembled matrix of the fluid cells of ``fluid`` (no assembly).

        Parameters
        ----------
        matrix : SparseMatrix
            ``(n_fluid, n_fluid)``, unknowns ordered as the fluid cells in C order.
        fluid : numpy.ndarray of bool
            2-D or 3-D mask.
        dirichlet : "all", "none" or sequence of str, default "all"
            Recorded only (the matrix is taken as it is).

        Returns
        -------
        GridPoisson

        Raises
        ------
        ValueError
            If the mask is not 2-D/3-D or its fluid cells do not match the matrix size.
        """
        fluid = np.asarray(fluid, dtype=bool)
        if fluid.ndim not in (2, 3):
            raise ValueError(f"fluid must be a 2-D or 3-D mask, got shape {fluid.shape}")
        if int(fluid.sum()) != matrix.shape[0]:
            raise ValueError(
                f"the grid has {int(fluid.sum())} fluid cells but A is "
                f"{matrix.shape[0]}x{matrix.shape[1]}"
            )
        out = object.__new__(cls)
        out.fluid, out.dirichlet, out.matrix = fluid, dirichlet, matrix
        out.cells = torch.as_tensor(np.flatnonzero(fluid), device=matrix.device)
        return out

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis."""
        return tuple(self.fluid.shape)

    @property
    def dim(self) -> int:
        """2 or 3."""
        return self.fluid.ndim

    @property
    def n(self) -> int:
        """Number of unknowns (fluid cells)."""
        return int(self.cells.numel())

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> GridPoisson:
        """A copy with the matrix on another device / dtype."""
        matrix = self.matrix.to(device=device, dtype=dtype)
        return GridPoisson.from_matrix(matrix, self.fluid, dirichlet=self.dirichlet)

    def coarse_correction(self, factor: int) -> CoarseCorrection:
        """The exact Galerkin correction on a grid ``factor`` times coarser per axis.

        :func:`sciml.linalg.coarse_correction` of the matrix with the (bi/tri)linear
        interpolation :func:`sciml.linalg.grid_prolongation` onto the fluid cells, on the
        matrix's device and dtype, its Galerkin matrix contracted axis by axis
        (:func:`sciml.linalg.grid_coarse_correction`).

        Parameters
        ----------
        factor : int
            A power of two >= 2.

        Returns
        -------
        CoarseCorrection

        Raises
        ------
        ValueError
            If ``factor`` is not a power of two or leaves fewer than 2 coarse cells on an axis.
        """
        return grid_coarse_correction(self.matrix, self.shape, factor, fluid=self.fluid)

    def to_grid(self, v: Tensor) -> Tensor:
        """Unknowns ``(n,)`` or ``(n, k)`` -> grid fields ``(*shape)`` or ``(k, *shape)``, 0 on
        solid cells."""
        if v.shape[0] != self.n:
            raise ValueError(f"expected {self.n} unknowns (fluid cells), got {v.shape[0]}")
        block = v.reshape(self.n, -1)
        out = block.new_zeros(block.shape[1], int(np.prod(self.shape)))
        out[:, self.cells] = block.T
        return out.reshape(-1, *self.shape) if v.ndim == 2 else out.reshape(self.shape)

    def from_grid(self, g: Tensor) -> Tensor:
        """Grid fields ``(*shape)`` or ``(k, *shape)`` -> unknowns ``(n,)`` or ``(n, k)``."""
        if tuple(g.shape[-self.dim :]) != self.shape:
            raise ValueError(f"expected grid fields of shape {self.shape}, got {tuple(g.shape)}")
        flat = g.reshape(-1, int(np.prod(self.shape)))[:, self.cells].T
        return flat[:, 0] if g.ndim == self.dim else flat


def divergence_rhs(system: GridPoisson, *, seed: int = 0, modes: int = 4) -> Tensor:
    """Right-hand side of a pressure projection: the divergence of a smooth random velocity.

    A velocity field ``u = sum_k a_k sin/cos(2 pi k x)`` (wave numbers up to ``modes`` per axis,
    amplitudes decaying like ``1/|k|``) is sampled on the cell faces; faces on solid cells and
    walls carry no flux (the no-through condition), open faces do. ``b`` is the net outflow of
    each fluid cell, ``A p = b`` the projection's pressure equation (in units of ``h``).

    Parameters
    ----------
    system : GridPoisson
    seed : int, default 0
        The velocity field depends only on the seed, not on the resolution.
    modes : int, default 4

    Returns
    -------
    torch.Tensor
        ``(n,)`` in the matrix's dtype and device.
    """
    rng = np.random.default_rng(seed)
    dim, shape = system.dim, system.shape
    ks = np.stack(np.meshgrid(*[np.arange(modes + 1)] * dim, indexing="ij"), -1).reshape(-1, dim)
    ks = ks[ks.any(axis=1)]
    open_faces = set(grid_faces(dim)) if system.dirichlet == "all" else set(system.dirichlet)
    if system.dirichlet == "none":
        open_faces = set()
    fluid = system.fluid
    div = np.zeros(shape)
    for axis in range(dim):
        coeff = rng.standard_normal((len(ks), 2)) / np.linalg.norm(ks, axis=1)[:, None]
        # face coordinates: axis direction at the faces 0..n, others at the cell centres
        axes = [(np.arange(s) + 0.5) / s for s in shape]
        axes[axis] = np.arange(shape[axis] + 1) / shape[axis]
        x = np.meshgrid(*axes, indexing="ij", sparse=True)
        u = np.zeros([s + (i == axis) for i, s in enumerate(shape)])
        for kvec, (a, c) in zip(ks, coeff, strict=True):
            phase = 2 * np.pi * sum(k * xi for k, xi in zip(kvec, x, strict=True))
            u = u + a * np.sin(phase) + c * np.cos(phase)
        pad = [(0, 0)] * dim
        pad[axis] = (1, 1)
        name = "xyz"[axis]
        wall = np.pad(fluid, pad, constant_values=False)
        lo = [slice(None)] * dim
        hi = [slice(None)] * dim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        flux_ok = wall[tuple(lo)] & wall[tuple(hi)]  # interior faces between fluid cells
        first = [slice(None)] * dim
        last = [slice(None)] * dim
        first[axis], last[axis] = slice(0, 1), slice(-1, None)
        if f"{name}-" in open_faces:
            flux_ok[tuple(first)] = fluid[tuple(first)]
        if f"{name}+" in open_faces:
            flux_ok[tuple(last)] = fluid[tuple(last)]
        u = np.where(flux_ok, u, 0.0)
        div += np.diff(u, axis=axis)
    b = -div[fluid]
    return torch.as_tensor(b, dtype=system.matrix.dtype).to(system.matrix.device)
