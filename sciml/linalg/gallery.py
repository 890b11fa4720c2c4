"""Model problems for tests, examples and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from sciml.linalg.sparse import SparseMatrix

__all__ = ["grid_faces", "poisson2d", "poisson_grid"]


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
