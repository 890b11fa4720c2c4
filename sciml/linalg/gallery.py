"""Model problems for tests, examples and benchmarks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from sciml.linalg.sparse import SparseMatrix

__all__ = ["grid_faces", "grid_prolongation", "poisson2d", "poisson_grid"]


def poisson2d(
    n: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> SparseMatrix:
    """Five-point finite-difference Laplacian on an ``n x n`` grid of interior points.

    The matrix is ``T (x) I + I (x) T`` with ``T = tridiag(-1, 2, -1)``: the Dirichlet problem
    ``-Laplace u = f`` on the unit square scaled by ``h^2``, ``h = 1 / (n + 1)``. It is symmetric
    positive definite with ``n**2`` unknowns, numbered row by row.

    Parameters
    ----------
    n : int
        Interior grid points per direction (``n >= 1``).
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"

    Returns
    -------
    SparseMatrix
        Shape ``(n**2, n**2)``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    T = sp.diags_array(
        [-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1], format="csr"
    )
    eye = sp.eye_array(n, format="csr")
    A = (sp.kron(T, eye, format="csr") + sp.kron(eye, T, format="csr")).tocsr()
    A.sort_indices()
    return SparseMatrix.from_scipy(A, device=device, dtype=dtype)


def grid_faces(dim: int) -> tuple[str, ...]:
    """Names of the outer faces of a ``dim``-dimensional grid: ``"x-", "x+", "y-", ...``.

    Parameters
    ----------
    dim : int
        1, 2 or 3.

    Returns
    -------
    tuple of str
    """
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    return tuple(f"{axis}{side}" for axis in "xyz"[:dim] for side in "-+")


def poisson_grid(
    fluid: np.ndarray,
    *,
    dirichlet: str | Sequence[str] = "all",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> SparseMatrix:
    """Cell-centred pressure-Poisson matrix of a grid with solid cells (1, 2 or 3 dimensions).

    The unknowns are the *fluid* cells (``fluid[i, j, ...] == True``), numbered in C order of
    the grid (``numpy.flatnonzero(fluid)`` gives their grid index). For each fluid cell and each
    of its ``2 dim`` faces:

    * the neighbour is a fluid cell: ``A[i, i] += 1`` and ``A[i, j] = -1``;
    * the neighbour is a solid cell (a wall): nothing -- a homogeneous Neumann condition;
    * the face is on an outer face of the grid listed in ``dirichlet``: ``A[i, i] += 1`` -- an
      open boundary, a ghost cell with pressure 0 (the usual fluid-solver convention);
    * the face is on another outer face: nothing (a wall, Neumann).

    This is ``-Laplace p`` scaled by ``h^2``; solid rows are not stored (they would be empty).

    Parameters
    ----------
    fluid : numpy.ndarray of bool
        Cell mask of shape ``(nx,)``, ``(nx, ny)`` or ``(nx, ny, nz)`` (axis 0 is ``x``).
    dirichlet : "all", "none" or sequence of str, default "all"
        Outer faces with the open (Dirichlet) condition, named as in :func:`grid_faces`.
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"

    Returns
    -------
    SparseMatrix
        Symmetric positive definite, ``(n_fluid, n_fluid)``.

    Raises
    ------
    ValueError
        If the mask is not a boolean 1-3 D array, has no fluid cell, names unknown faces, or
        has a fluid region that touches no open face (pure Neumann: the matrix would be
        singular).

    Examples
    --------
    >>> import numpy as np
    >>> A = poisson_grid(np.ones((4, 4), dtype=bool))
    >>> A.shape, float(A.to_dense().sum())  # row sums = open faces touched; 4 x 4 in all
    ((16, 16), 16.0)
    """
    fluid = np.asarray(fluid)
    if fluid.dtype != np.bool_:
        raise ValueError(f"fluid must be a boolean mask, got dtype {fluid.dtype}")
    if fluid.ndim not in (1, 2, 3):
        raise ValueError(f"fluid must have 1, 2 or 3 dimensions, got shape {fluid.shape}")
    faces = grid_faces(fluid.ndim)
    if isinstance(dirichlet, str):
        if dirichlet not in ("all", "none"):
            raise ValueError(f"dirichlet must be 'all', 'none' or a list of {faces}")
        open_faces = set(faces) if dirichlet == "all" else set()
    else:
        open_faces = set(dirichlet)
        unknown = open_faces - set(faces)
        if unknown:
            raise ValueError(f"unknown faces {sorted(unknown)}; the faces are {faces}")
    n = int(fluid.sum())
    if n == 0:
        raise ValueError("the mask has no fluid cell")
    index = np.full(fluid.shape, -1, dtype=np.int64)
    index[fluid] = np.arange(n)
    diag = np.zeros(fluid.shape, dtype=np.float64)
    open_count = np.zeros(fluid.shape, dtype=np.float64)
    rows, cols = [], []
    for axis in range(fluid.ndim):
        lo = [slice(None)] * fluid.ndim
        hi = [slice(None)] * fluid.ndim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        pair = fluid[tuple(lo)] & fluid[tuple(hi)]
        a, b = index[tuple(lo)][pair], index[tuple(hi)][pair]
        rows += [a, b]
        cols += [b, a]
        diag[tuple(lo)] += pair
        diag[tuple(hi)] += pair
        for side, position in (("-", 0), ("+", -1)):
            if f"{'xyz'[axis]}{side}" in open_faces:
                face = [slice(None)] * fluid.ndim
                face[axis] = slice(position, None) if position == -1 else slice(0, 1)
                open_count[tuple(face)] += 1.0
    diag = (diag + open_count)[fluid]
    r = np.concatenate([*rows, np.arange(n)])
    c = np.concatenate([*cols, np.arange(n)])
    v = np.concatenate([-np.ones(r.size - n), diag])
    A = sp.csr_array((v, (r, c)), shape=(n, n))
    A.sum_duplicates()
    A.sort_indices()
    components, labels = connected_components(A, directed=False)
    grounded = np.zeros(components, dtype=bool)
    grounded[labels[open_count[fluid] > 0]] = True
    if not grounded.all():
        cells = int(np.isin(labels, np.flatnonzero(~grounded)).sum())
        raise ValueError(
            f"{int((~grounded).sum())} fluid region(s) ({cells} cells) touch no open face: "
            "pure Neumann, so the matrix is singular; mark them solid or open more faces"
        )
    return SparseMatrix.from_scipy(A, device=device, dtype=dtype)


def _linear_interpolation(coarse: int, fine: int) -> sp.csr_matrix:
    """``(fine, coarse)`` 1-D linear interpolation of cell values, as ``torch.nn.functional.
    interpolate(..., mode="linear", align_corners=False, size=fine)`` computes it."""
    src = np.maximum((np.arange(fine) + 0.5) * (coarse / fine) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), coarse - 1)
    i1 = np.minimum(i0 + 1, coarse - 1)
    w1 = src - i0
    rows = np.arange(fine)
    data = np.concatenate([1.0 - w1, w1])
    out = sp.csr_matrix(
        (data, (np.concatenate([rows, rows]), np.concatenate([i0, i1]))), shape=(fine, coarse)
    )
    out.sum_duplicates()
    out.eliminate_zeros()
    return out


def _axis_prolongations(shape: Sequence[int], factor: int) -> list[sp.csr_matrix]:
    """The per-axis factors of :func:`grid_prolongation` (before any fluid mask).

    Parameters
    ----------
    shape : sequence of int
        Fine cells per axis (1-3 axes).
    factor : int
        Coarsening per axis, a power of two >= 2.

    Returns
    -------
    list of scipy.sparse.csr_matrix
        One ``(fine, coarse)`` matrix per axis: the level-by-level cell-centred linear
        interpolation; the full-grid prolongation is their Kronecker product (first axis
        outermost, C order).

    Raises
    ------
    ValueError
        If ``factor`` is not a power of two >= 2 or the coarse grid would have fewer than 2
        cells along an axis.

    Examples
    --------
    >>> [a.shape for a in _axis_prolongations((8, 6), 2)]
    [(8, 4), (6, 3)]
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (1, 2, 3):
        raise ValueError(f"shape must have 1, 2 or 3 axes, got {shape}")
    factor = int(factor)
    if factor < 2 or factor & (factor - 1):
        raise ValueError(f"factor must be a power of two >= 2, got {factor}")
    halvings = factor.bit_length() - 1
    axes = []
    for s in shape:
        sizes = [s]
        for _ in range(halvings):
            sizes.append((sizes[-1] + 1) // 2)
        if sizes[-1] < 2:
            raise ValueError(
                f"a {factor}x coarser grid of {shape} has {sizes[-1]} cell(s) along an axis; "
                "use a smaller factor"
            )
        axis = sp.identity(s, format="csr")
        for fine, coarse in itertools.pairwise(sizes):
            axis = axis @ _linear_interpolation(coarse, fine)
        axes.append(sp.csr_matrix(axis))
    return axes


def _fluid_mask(fluid: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    fluid = np.asarray(fluid, dtype=bool)
    if fluid.shape != shape:
        raise ValueError(f"the mask has shape {fluid.shape}, expected {shape}")
    if not fluid.any():
        raise ValueError("the mask has no fluid cell")
    return fluid


def _coarse_cells_reached(axes: Sequence[sp.spmatrix], fluid: np.ndarray) -> np.ndarray:
    """Flat indices (C order) of the coarse cells whose interpolation reaches a fluid cell.

    The columns :func:`grid_prolongation` keeps under a mask, found axis by axis (the mask
    contracted with the pattern of each factor) instead of from the assembled matrix.

    Parameters
    ----------
    axes : sequence of scipy.sparse matrices
        :func:`_axis_prolongations`.
    fluid : numpy.ndarray of bool
        Mask of the fine grid.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices into the coarse grid.
    """
    reach = np.asarray(fluid, dtype=np.float64)
    for axis in axes:  # contract the leading fine axis; the coarse axis goes last
        pattern = (abs(sp.csr_matrix(axis)) > 0).astype(np.float64)
        reach = np.tensordot(reach, pattern.toarray(), axes=([0], [0]))
    return np.flatnonzero(reach.ravel() > 0)


def grid_prolongation(
    shape: Sequence[int],
    factor: int,
    *,
    fluid: np.ndarray | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> SparseMatrix:
    """(Bi/tri)linear interpolation from a coarse cell grid onto a fine one, as a matrix.

    The coarse grid halves the fine one ``log2(factor)`` times (``s -> ceil(s / 2)`` per axis,
    the sizes of 2x average pooling with zero padding), and the interpolation is applied level
    by level, each step the cell-centred linear interpolation of
    ``torch.nn.functional.interpolate(..., align_corners=False)``; the result is the tensor
    (Kronecker) product of the per-axis matrices. With a ``fluid`` mask only the rows of fluid
    cells are kept (unknowns in C order, as in :func:`poisson_grid`) and coarse cells that
    reach no fluid cell are dropped -- the coarse space of :func:`coarse_correction`. Coarse
    cells behind a wall may still reach the fluid only through the small far-side weights of
    the interpolation, and two of them can then have (nearly) dependent columns;
    :func:`coarse_correction` allows for that.

    Parameters
    ----------
    shape : sequence of int
        Fine cells per axis (1-3 axes).
    factor : int
        Coarsening per axis, a power of two >= 2.
    fluid : numpy.ndarray of bool, optional
        Mask of the fine grid (its shape must be ``shape``); default: every cell.
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"

    Returns
    -------
    SparseMatrix
        ``(fine unknowns, coarse cells kept)``; without a mask every row sums to 1 (linear
        interpolation reproduces constants).

    Raises
    ------
    ValueError
        If ``factor`` is not a power of two >= 2, the coarse grid would have fewer than 2 cells
        along an axis, or the mask does not match ``shape`` or has no fluid cell.

    Examples
    --------
    >>> P = grid_prolongation((8, 6), 2)
    >>> P.shape
    (48, 12)
    """
    shape = tuple(int(s) for s in shape)
    axes = _axis_prolongations(shape, factor)
    mask = None if fluid is None else _fluid_mask(fluid, shape)
    return SparseMatrix.from_scipy(_prolongation_matrix(axes, mask), device=device, dtype=dtype)


def _prolongation_matrix(axes: Sequence[sp.spmatrix], fluid: np.ndarray | None) -> sp.csr_matrix:
    """:func:`grid_prolongation` of its per-axis factors and checked mask, as SciPy CSR."""
    P = axes[0]
    for axis in axes[1:]:
        P = sp.kron(P, axis, format="csr")
    if fluid is None:
        return sp.csr_matrix(P)
    P = sp.csr_matrix(P[fluid.ravel()])
    kept = _coarse_cells_reached(axes, fluid)
    # every entry of a fluid row lies in a kept column: renumber the columns, no slicing
    renumber = np.full(P.shape[1], -1, dtype=np.int64)
    renumber[kept] = np.arange(kept.size)
    return sp.csr_matrix((P.data, renumber[P.indices], P.indptr), shape=(P.shape[0], kept.size))
