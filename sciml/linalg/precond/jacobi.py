"""Jacobi (diagonal) preconditioning."""

from __future__ import annotations

import torch

from sciml.linalg.operator import DiagonalOperator
from sciml.linalg.sparse import SparseMatrix

__all__ = ["JacobiPreconditioner", "jacobi"]


class JacobiPreconditioner(DiagonalOperator):
    """``x -> D^{-1} x`` with ``D`` the diagonal of a matrix; SPD whenever ``D > 0``.

    Parameters
    ----------
    diagonal : torch.Tensor
        The diagonal of ``A``, shape ``(n,)``; every entry must be non-zero.
    """

    def __init__(self, diagonal: torch.Tensor) -> None:
        zero = torch.nonzero(diagonal == 0).flatten()
        if zero.numel():
            raise ValueError(
                f"Jacobi needs a non-zero diagonal; A[i, i] = 0 for {zero.numel()} rows "
                f"(first: {zero[:5].tolist()})"
            )
        super().__init__(1.0 / diagonal)


def jacobi(A: SparseMatrix) -> JacobiPreconditioner:
    """Jacobi preconditioner of a sparse matrix, for use as ``M=`` in the Krylov solvers.

    Parameters
    ----------
    A : SparseMatrix
        Square matrix with non-zero diagonal.

    Returns
    -------
    JacobiPreconditioner
        On ``A``'s device and dtype.

    Raises
    ------
    ValueError
        If ``A`` is not square or has a zero on its diagonal.

    Examples
    --------
    >>> from sciml.linalg import cg, jacobi, poisson2d
    >>> import torch
    >>> A = poisson2d(16)
    >>> bool(cg(A, torch.ones(256, dtype=A.dtype), M=jacobi(A)).converged)
    True
    """
    if not isinstance(A, SparseMatrix):
        raise TypeError(f"jacobi expects a SparseMatrix, got {type(A)!r}")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"jacobi needs a square matrix, got shape {A.shape}")
    return JacobiPreconditioner(A.diagonal().detach())
