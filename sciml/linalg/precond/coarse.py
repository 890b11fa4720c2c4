"""Exact coarse-space (Galerkin) correction: ``r -> P (P^T A P)^{-1} P^T r``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from sciml.linalg.operator import _OperatorBase
from sciml.linalg.sparse import SparseMatrix

__all__ = ["CoarseCorrection", "coarse_correction"]


class CoarseCorrection(_OperatorBase):
    """The A-orthogonal projection onto a coarse space, applied to residuals.

    ``e = P (P^T A P)^{-1} P^T r`` is the correction that minimises the A-norm of the error
    over ``x + span(P)``: added to the search directions of a conjugate-direction method
    (:func:`sciml.linalg.conjugate_directions`) it removes the error components the coarse
    space holds, which local preconditioners and learned directions resolve slowly. Symmetric
    positive *semi*-definite (rank = columns of ``P``): a two-level method needs it next to a
    smoother, not alone as ``M`` of CG. Built by :func:`coarse_correction`.

    The restriction and prolongation run on ``A``'s device; the coarse matrix is factorised
    once (SuperLU, float64, after scaling it to a unit diagonal ``S (P^T A P) S`` and adding
    ``SHIFT`` to that diagonal, so that (nearly) dependent columns of ``P`` leave the solve
    defined: the correction is then the projection onto ``span(P)`` up to that shift), and the
    coarse solve runs on the CPU, so on CUDA each application moves one coarse vector
    (``P.shape[1]`` entries) to the host and back.

    Parameters
    ----------
    P : SparseMatrix
        Prolongation ``(n, m)`` on ``A``'s device and dtype.
    factor : scipy.sparse.linalg.SuperLU
        LU factorisation of ``S (P^T A P) S + SHIFT I``.
    scale : numpy.ndarray
        The diagonal of ``S``, ``diag(P^T A P)^{-1/2}``.
    """

    #: Relative shift of the unit-diagonal coarse matrix before its factorisation.
    SHIFT = 1e-10

    def __init__(self, P: SparseMatrix, factor: spla.SuperLU, scale: np.ndarray) -> None:
        self.P = P
        self.PT = P.T
        self.factor = factor
        self.scale = np.asarray(scale, dtype=np.float64)
        n = int(P.shape[0])
        self._shape = (n, n)
        self._dtype = P.dtype
        self._device = P.device

    @property
    def coarse_size(self) -> int:
        """Dimension of the coarse space (columns of ``P``)."""
        return int(self.P.shape[1])

    def _matvec(self, r: Tensor) -> Tensor:
        rc = self.PT.matvec(r).detach().cpu().double().numpy()
        scale = self.scale if rc.ndim == 1 else self.scale[:, None]
        ec = np.asarray(self.factor.solve(np.ascontiguousarray(rc * scale))) * scale
        return self.P.matvec(torch.from_numpy(ec).to(self.device, self.dtype))


def coarse_correction(A: SparseMatrix, P: SparseMatrix | sp.spmatrix) -> CoarseCorrection:
    """Build the exact coarse-space correction of ``A`` for the prolongation ``P``.

    Parameters
    ----------
    A : SparseMatrix
        Symmetric positive definite ``(n, n)``.
    P : SparseMatrix or scipy.sparse matrix
        ``(n, m)`` with ``0 < m < n`` non-empty columns (a coarse basis, e.g.
        :func:`sciml.linalg.grid_prolongation`; nearly dependent columns are allowed for,
        see :class:`CoarseCorrection`); used as it is when already a :class:`SparseMatrix`
        on ``A``'s device and dtype, converted otherwise.

    Returns
    -------
    CoarseCorrection

    Raises
    ------
    ValueError
        If the shapes do not match, ``P`` has an empty column or non-finite entries, or the
        Galerkin matrix ``P^T A P`` has a non-positive diagonal entry (``A`` not SPD).

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import coarse_correction, grid_prolongation, poisson2d
    >>> A = poisson2d(16)
    >>> C = coarse_correction(A, grid_prolongation((16, 16), 4))
    >>> C.coarse_size
    16
    >>> r = torch.randn(256, dtype=A.dtype)
    >>> e = C @ r  # Galerkin: the coarse residual of r - A e vanishes (up to the shift)
    >>> coarse_r = C.P.T @ r
    >>> bool(torch.linalg.norm(C.P.T @ (r - A @ e)) < 1e-8 * torch.linalg.norm(coarse_r))
    True
    """
    if not isinstance(A, SparseMatrix):
        raise TypeError(f"coarse_correction expects a SparseMatrix A, got {type(A)!r}")
    P_sp = P.to_scipy() if isinstance(P, SparseMatrix) else sp.csr_matrix(P)
    n = A.shape[0]
    if A.shape[0] != A.shape[1] or P_sp.shape[0] != n or not 0 < P_sp.shape[1] < n:
        raise ValueError(
            f"A must be square (n, n) and P (n, m) with 0 < m < n; got A {tuple(A.shape)} and "
            f"P {P_sp.shape}"
        )
    P_sp = P_sp.astype(np.float64).tocsc()
    if not np.isfinite(P_sp.data).all():
        raise ValueError("P has non-finite entries")
    empty = np.flatnonzero(np.diff(P_sp.indptr) == 0)
    if empty.size:
        raise ValueError(f"P has {empty.size} empty columns (first: {empty[:5].tolist()})")
    A_sp = A.to_scipy().astype(np.float64)
    coarse = (P_sp.T @ A_sp @ P_sp).tocsc()
    diag = coarse.diagonal()
    if not (diag > 0).all():
        raise ValueError(
            "the Galerkin matrix P^T A P has a non-positive diagonal entry; A must be SPD"
        )
    scale = 1.0 / np.sqrt(diag)
    S = sp.diags(scale)
    shifted = (S @ coarse @ S + CoarseCorrection.SHIFT * sp.identity(len(diag))).tocsc()
    try:
        factor = spla.splu(shifted)
    except RuntimeError as exc:  # "Factor is exactly singular": not an SPD A
        raise ValueError(f"the Galerkin matrix P^T A P cannot be factorised: {exc}") from exc
    if not (isinstance(P, SparseMatrix) and (P.device, P.dtype) == (A.device, A.dtype)):
        P = SparseMatrix.from_scipy(P_sp.tocsr(), device=A.device, dtype=A.dtype)
    return CoarseCorrection(P, factor, scale)
