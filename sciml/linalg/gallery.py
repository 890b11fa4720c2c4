"""Model problems for tests, examples and benchmarks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from sciml.linalg.sparse import SparseMatrix

__all__ = ["poisson2d"]


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
