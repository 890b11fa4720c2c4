"""Transfer operators between finite-element spaces, as sparse matrices.

* :func:`interpolation_matrix` -- evaluate a discrete function at arbitrary points.
* :func:`interpolation_between` -- nodal interpolation from one space into another, on the same
  or on a different (also non-nested) mesh.
* :func:`prolongation` / :func:`restriction` -- the nested-hierarchy special case (``R = P^T``).
* :func:`project` -- L2 projection of a function into a space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from sciml._optional import require_dolfinx
from sciml.fem.space import FunctionSpace
from sciml.linalg import SparseMatrix, cg, jacobi

__all__ = [
    "interpolation_between",
    "interpolation_matrix",
    "project",
    "prolongation",
    "restriction",
]

_SIMPLICES = ("interval", "triangle", "tetrahedron")


def _locate(V: FunctionSpace, points: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """Index of a cell containing each point (-1 where none does)."""
    dolfinx = require_dolfinx("sciml.fem.transfer")
    msh = V.mesh.dolfinx_mesh
    tdim = msh.topology.dim
    pts3 = np.zeros((points.shape[0], 3))
    pts3[:, : points.shape[1]] = points
    tree = dolfinx.geometry.bb_tree(msh, tdim, padding=1e-12)
    candidates = dolfinx.geometry.compute_collisions_points(tree, pts3)
    colliding = dolfinx.geometry.compute_colliding_cells(msh, candidates, pts3)
    offsets = colliding.offsets
    counts = np.diff(offsets)
    cells = np.full(points.shape[0], -1, dtype=np.int32)
    found = counts > 0
    cells[found] = colliding.array[offsets[:-1][found]]
    return cells


def _reference_points(
    V: FunctionSpace, points: npt.NDArray[np.float64], cells: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Pull the physical points back to the reference cell of their cell."""
    msh = V.mesh.dolfinx_mesh
    tdim, gdim = V.mesh.dim, V.mesh.gdim
    nodes = msh.geometry.x[:, :gdim]
    dofmap = msh.geometry.dofmaps[0]
    if V.mesh.cell_type in _SIMPLICES and gdim == tdim:
        x = nodes[dofmap[cells]]  # (npts, tdim + 1, gdim)
        J = np.transpose(x[:, 1 : tdim + 1] - x[:, :1], (0, 2, 1))  # (npts, gdim, tdim)
        return np.linalg.solve(J, (points - x[:, 0])[..., None])[..., 0]
    cmap = msh.geometry.cmaps[0]
    X = np.empty((points.shape[0], tdim))
    for i, c in enumerate(cells):
        X[i] = cmap.pull_back(points[i : i + 1], nodes[dofmap[c]])[0]
    return X


def interpolation_matrix(
    V: FunctionSpace, points: npt.ArrayLike, *, dtype: torch.dtype = torch.float64
) -> SparseMatrix:
    """Matrix that evaluates a function of ``V`` at given points: ``(E @ u)[i] = u_h(x_i)``.

    Parameters
    ----------
    V : FunctionSpace
        Source space (P1 or P2, scalar or vector).
    points : array-like
        ``(npoints, gdim)`` physical coordinates, each inside the mesh (points on the boundary
        count as inside).
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    SparseMatrix
        ``(npoints * bs, V.num_dofs)``; for vector spaces row ``bs * i + c`` is component ``c``
        at point ``i`` (the same interleaving as the dofs).

    Raises
    ------
    ValueError
        If a point lies outside the mesh or the array has the wrong shape.
    """
    require_dolfinx("sciml.fem.interpolation_matrix")
    pts = np.asarray(points, dtype=np.float64)
    gdim = V.mesh.gdim
    if pts.ndim != 2 or pts.shape[1] != gdim:
        raise ValueError(f"points must have shape (npoints, {gdim}), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN/Inf")
    element = V.dolfinx_space.element
    if element.needs_dof_transformations:
        raise NotImplementedError("interpolation_matrix supports P1/P2 Lagrange spaces only")
    cells = _locate(V, pts)
    outside = np.flatnonzero(cells < 0)
    if outside.size:
        raise ValueError(
            f"{outside.size} point(s) lie outside the mesh, e.g. {pts[outside[0]].tolist()}"
        )
    X = _reference_points(V, pts, cells)
    basis = element.basix_element.tabulate(0, X)[0, :, :, 0]  # (npts, ndofs_cell)
    cell_nodes = V.dolfinx_space.dofmap.list[cells]  # (npts, ndofs_cell)
    npts, ncell = basis.shape
    bs = V.block_size
    rows = np.repeat(np.arange(npts), ncell)
    cols = cell_nodes.reshape(-1).astype(np.int64)
    vals = basis.reshape(-1)
    keep = (cols < V.num_nodes) & (np.abs(vals) > 1e-14)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    if bs > 1:
        rows = (rows[:, None] * bs + np.arange(bs)).reshape(-1)
        cols = (cols[:, None] * bs + np.arange(bs)).reshape(-1)
        vals = np.repeat(vals, bs)
    E = sp.csr_array((vals, (rows, cols)), shape=(npts * bs, V.num_dofs))
    E.sum_duplicates()
    return SparseMatrix.from_scipy(E, dtype=dtype)


def interpolation_between(V_from: FunctionSpace, V_to: FunctionSpace) -> SparseMatrix:
    """Nodal interpolation of functions of ``V_from`` into ``V_to``, as a matrix.

    The meshes may differ and need not be nested; every node of ``V_to`` must lie inside the
    mesh of ``V_from``. Functions in ``V_from`` that ``V_to`` contains are reproduced exactly.

    Parameters
    ----------
    V_from, V_to : FunctionSpace
        Both scalar, or both vector with the same number of components.

    Returns
    -------
    SparseMatrix
        ``(V_to.num_dofs, V_from.num_dofs)``.
    """
    if V_from.block_size != V_to.block_size:
        raise ValueError(
            f"value shapes differ: {V_from.block_size} vs {V_to.block_size} components"
        )
    bs = V_to.block_size
    nodes = V_to.dof_coordinates[::bs]
    return interpolation_matrix(V_from, nodes)


def prolongation(V_coarse: FunctionSpace, V_fine: FunctionSpace) -> SparseMatrix:
    """Prolongation from a coarse space to a nested fine space (exact embedding).

    Parameters
    ----------
    V_coarse, V_fine : FunctionSpace
        Same element on a mesh and on its refinement (see
        :func:`sciml.mesh.refinement_hierarchy`).

    Returns
    -------
    SparseMatrix
        ``(V_fine.num_dofs, V_coarse.num_dofs)``.
    """
    return interpolation_between(V_coarse, V_fine)


def restriction(V_coarse: FunctionSpace, V_fine: FunctionSpace) -> SparseMatrix:
    """Restriction ``R = P^T`` for a nested pair of spaces (see :func:`prolongation`).

    Parameters
    ----------
    V_coarse, V_fine : FunctionSpace

    Returns
    -------
    SparseMatrix
        ``(V_coarse.num_dofs, V_fine.num_dofs)``.
    """
    return prolongation(V_coarse, V_fine).T


def project(V: FunctionSpace, f: Any, *, rtol: float = 1e-12) -> torch.Tensor:
    """L2 projection of ``f`` into ``V``: solve ``M u = (f, v)`` for the dof values ``u``.

    Parameters
    ----------
    V : FunctionSpace
    f : number, callable, dolfinx Function or UFL expression
        The function to project (a dolfinx Function may live on another space of the same
        mesh).
    rtol : float, default 1e-12
        Tolerance of the mass-matrix solve (Jacobi-preconditioned CG).

    Returns
    -------
    torch.Tensor
        ``(V.num_dofs,)``.
    """
    from sciml.fem.assembly import load_vector, mass

    M = mass(V)
    sol = cg(M, load_vector(V, f), rtol=rtol, M=jacobi(M))
    return sol.raise_if_failed().x
