"""Dirichlet boundary conditions on assembled systems: lifting or condensation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from sciml.fem.space import FunctionSpace
from sciml.linalg import SparseMatrix

__all__ = ["DirichletBC", "apply_dirichlet", "condense", "dirichlet", "expand"]


@dataclass(frozen=True)
class DirichletBC:
    """Prescribed values on a set of dofs.

    Attributes
    ----------
    dofs : numpy.ndarray
        Sorted, unique dof indices (``int64``).
    values : torch.Tensor
        Prescribed values, one per dof (float64).
    """

    dofs: npt.NDArray[np.int64]
    values: Tensor


def dirichlet(
    V: FunctionSpace,
    markers: str | list[str],
    value: float | Tensor | object = 0.0,
    *,
    component: int | None = None,
) -> DirichletBC:
    """Dirichlet condition ``u = g`` on the dofs of one or several markers.

    Parameters
    ----------
    V : FunctionSpace
    markers : str or list of str
        Names of boundary markers of ``V.mesh``.
    value : float, torch.Tensor or callable, default 0
        ``g``: a constant, dof values on all of ``V`` (``(V.num_dofs,)``, only the boundary
        entries are used) or a function of the coordinates (interpolated into ``V``).
    component : int, optional
        For vector spaces, constrain one component only.

    Returns
    -------
    DirichletBC
    """
    names = [markers] if isinstance(markers, str) else list(markers)
    dofs = np.unique(np.concatenate([V.boundary_dofs(m, component) for m in names]))
    if isinstance(value, int | float):
        values = torch.full((dofs.size,), float(value), dtype=torch.float64)
    elif isinstance(value, Tensor):
        if value.shape != (V.num_dofs,):
            raise ValueError(f"Dirichlet values must have shape ({V.num_dofs},), got {value.shape}")
        values = value.detach().to(torch.float64)[torch.from_numpy(dofs)]
    elif callable(value):
        values = V.interpolate(value)[torch.from_numpy(dofs)]
    else:
        raise TypeError(f"unsupported Dirichlet value of type {type(value)!r}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("Dirichlet values contain NaN/Inf")
    return DirichletBC(dofs=dofs, values=values)


def _full(bc: DirichletBC, n: int, like: Tensor) -> Tensor:
    g = torch.zeros(n, dtype=like.dtype, device=like.device)
    g[torch.from_numpy(bc.dofs).to(like.device)] = bc.values.to(like)
    return g


def apply_dirichlet(A: SparseMatrix, b: Tensor, bc: DirichletBC) -> tuple[SparseMatrix, Tensor]:
    """Impose ``u = g`` by lifting, keeping the size and the symmetry of the system.

    The known values are moved to the right-hand side (``b - A g``); the constrained rows and
    columns of ``A`` are replaced by those of the identity and ``b`` takes the value ``g`` there.
    The solution of the returned system equals ``g`` on the constrained dofs.

    Parameters
    ----------
    A : SparseMatrix
        Square system matrix with a stored diagonal entry on every constrained row.
    b : torch.Tensor
        Right-hand side ``(n,)``.
    bc : DirichletBC

    Returns
    -------
    SparseMatrix, torch.Tensor
        The constrained matrix and right-hand side (differentiable in ``A.values`` and ``b``).
    """
    n = A.shape[0]
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {tuple(b.shape)}")
    g = _full(bc, n, b)
    fixed = torch.zeros(n, dtype=torch.bool, device=b.device)
    fixed[torch.from_numpy(bc.dofs).to(b.device)] = True
    rows, cols = A.row_indices.long(), A.col_indices.long()
    on_diag = rows == cols
    if int((on_diag & fixed[rows]).sum()) != bc.dofs.size:
        raise ValueError("every constrained row needs a stored diagonal entry in A")
    touched = fixed[rows] | fixed[cols]
    values = torch.where(touched, on_diag.to(A.dtype), A.values)
    rhs = torch.where(fixed, g, b - A @ g)
    return A.with_values(values), rhs


def condense(
    A: SparseMatrix, b: Tensor, bc: DirichletBC
) -> tuple[SparseMatrix, Tensor, npt.NDArray[np.int64]]:
    """Impose ``u = g`` by eliminating the constrained dofs.

    Parameters
    ----------
    A : SparseMatrix
        Square system matrix.
    b : torch.Tensor
        Right-hand side ``(n,)``.
    bc : DirichletBC

    Returns
    -------
    SparseMatrix
        ``A_ff``, the rows and columns of the free dofs.
    torch.Tensor
        ``b_f - A_fc g``.
    numpy.ndarray
        The free dofs, in increasing order; use :func:`expand` to rebuild the full vector.
    """
    n = A.shape[0]
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},), got {tuple(b.shape)}")
    free = np.setdiff1d(np.arange(n), bc.dofs)
    free_t = torch.from_numpy(free).to(b.device)
    rhs = (b - A @ _full(bc, n, b))[free_t]
    return A.submatrix(free_t, free_t), rhs, free


def expand(x_free: Tensor, free: npt.NDArray[np.int64], bc: DirichletBC) -> Tensor:
    """Rebuild the full dof vector from the free values of :func:`condense` and ``g``.

    Parameters
    ----------
    x_free : torch.Tensor
        ``(len(free),)`` solution on the free dofs.
    free : numpy.ndarray
        Free dofs returned by :func:`condense`.
    bc : DirichletBC

    Returns
    -------
    torch.Tensor
        ``(len(free) + len(bc.dofs),)``.
    """
    n = free.size + bc.dofs.size
    x = _full(bc, n, x_free).clone()
    return x.index_put((torch.from_numpy(free).to(x.device),), x_free)
