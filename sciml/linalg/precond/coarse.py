"""Exact coarse-space (Galerkin) correction: ``r -> P (P^T A P)^{-1} P^T r``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from sciml.linalg.gallery import (
    _axis_prolongations,
    _coarse_cells_reached,
    _fluid_mask,
    _prolongation_matrix,
)
from sciml.linalg.operator import _OperatorBase
from sciml.linalg.sparse import SparseMatrix, _check_operand

__all__ = [
    "CoarseCorrection",
    "SeparableProlongation",
    "coarse_correction",
    "grid_coarse_correction",
]


class CoarseCorrection(_OperatorBase):
    """The A-orthogonal projection onto a coarse space, applied to residuals.

    ``e = P (P^T A P)^{-1} P^T r`` is the correction that minimises the A-norm of the error
    over ``x + span(P)``: added to the search directions of a conjugate-direction method
    (:func:`sciml.linalg.conjugate_directions`) it removes the error components the coarse
    space holds, which local preconditioners and learned directions resolve slowly. Symmetric
    positive *semi*-definite (rank = columns of ``P``): a two-level method needs it next to a
    smoother, not alone as ``M`` of CG. Built by :func:`coarse_correction`.

    The restriction and prolongation run on ``A``'s device; the coarse matrix is factorised
    once (SuperLU in symmetric mode, float64, after scaling it to a unit diagonal
    ``S (P^T A P) S`` and adding ``SHIFT`` to that diagonal, so that (nearly) dependent columns
    of ``P`` leave the solve defined: the correction is then the projection onto ``span(P)``
    up to that shift), and the coarse solve runs on the CPU, so on CUDA each application
    moves one coarse vector (``P.shape[1]`` entries) to the host and back.

    Parameters
    ----------
    P : SparseMatrix or SeparableProlongation
        Prolongation ``(n, m)`` on ``A``'s device and dtype.
    factor : scipy.sparse.linalg.SuperLU
        LU factorisation of ``S (P^T A P) S + SHIFT I``.
    scale : numpy.ndarray
        The diagonal of ``S``, ``diag(P^T A P)^{-1/2}``.
    """

    #: Relative shift of the unit-diagonal coarse matrix before its factorisation.
    SHIFT = 1e-10

    def __init__(
        self, P: SparseMatrix | SeparableProlongation, factor: spla.SuperLU, scale: np.ndarray
    ) -> None:
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
    return _factorised(A, P, P_sp, (P_sp.T @ A_sp @ P_sp).tocsc())


class SeparableProlongation(_OperatorBase):
    """The grid interpolation of :func:`grid_prolongation`, applied one axis at a time.

    ``P x``: the coarse values (kept coarse cells) are placed on the coarse grid, interpolated
    along each axis by a dense product with that axis's ``(fine_a, coarse_a)`` interpolation
    matrix, and read at the fluid cells; ``P^T r`` (:meth:`rmatvec`, or ``P.T @ r``) does the
    reverse with the transposes. The same matrix as :func:`grid_prolongation` (tested) without
    assembling it: at ``128^3`` with ``factor = 8`` the sparse matrix has 37 million entries,
    this operator three ``128 x 16`` matrices. :func:`grid_coarse_correction` uses it on CUDA
    and on the CPU when every coarse axis has at most :attr:`DENSE_UP_TO` cells (beyond that
    the dense products cost more there than the assembled sparse matrix: 21 ms against 10 ms
    per correction at ``1024^2``, factor 8, on a 2-core CPU).

    Parameters
    ----------
    axes : list of scipy.sparse matrices
        Per-axis interpolation ``(fine_a, coarse_a)``.
    fluid : numpy.ndarray of bool
        Mask of the fine grid (its fluid cells are the rows, in C order).
    kept : numpy.ndarray
        Flat indices (C order) of the coarse cells that are the columns.
    dtype : torch.dtype
    device : torch.device or str
    """

    #: on the CPU, coarse cells per axis up to which :func:`grid_coarse_correction` uses this
    DENSE_UP_TO = 64

    def __init__(
        self,
        axes: list[sp.spmatrix],
        fluid: np.ndarray,
        kept: np.ndarray,
        *,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        self._dtype = dtype
        self._device = torch.device(device)
        self.mats = [
            torch.as_tensor(sp.csr_matrix(a).toarray(), dtype=dtype, device=self._device)
            for a in axes
        ]
        self.fine_shape = tuple(int(m.shape[0]) for m in self.mats)
        self.coarse_shape = tuple(int(m.shape[1]) for m in self.mats)
        self.rows = torch.as_tensor(np.flatnonzero(np.asarray(fluid).ravel()), device=self._device)
        self.cols = torch.as_tensor(np.asarray(kept, dtype=np.int64), device=self._device)
        self._shape = (int(self.rows.numel()), int(self.cols.numel()))

    def _apply(self, x: Tensor, transpose: bool) -> Tensor:
        """Interpolate (or restrict, ``transpose``) a block ``(k, *grid)`` along every axis."""
        for a, M in enumerate(self.mats):  # contract axis a + 1 with M^T (or M)
            moved = torch.movedim(x, a + 1, -1)
            x = torch.movedim(moved @ (M if transpose else M.T), -1, a + 1)
        return x

    def _map(self, x: Tensor, transpose: bool) -> Tensor:
        """``P x`` (coarse -> fluid cells) or, with ``transpose``, ``P^T x``."""
        src, grid, dst = (
            (self.rows, self.fine_shape, self.cols)
            if transpose
            else (self.cols, self.coarse_shape, self.rows)
        )
        block = x.reshape(x.shape[0], -1)
        full = block.new_zeros(block.shape[1], int(np.prod(grid)))
        full[:, src] = block.T
        out = self._apply(full.reshape(-1, *grid), transpose)
        return out.reshape(block.shape[1], -1)[:, dst].T.reshape(dst.numel(), *x.shape[1:])

    def _matvec(self, x: Tensor) -> Tensor:
        return self._map(x, False)

    def rmatvec(self, r: Tensor) -> Tensor:
        """``P^T r`` for ``r`` of shape ``(n_fine,)`` or ``(n_fine, k)``.

        Parameters
        ----------
        r : torch.Tensor

        Returns
        -------
        torch.Tensor
            ``(n_coarse,)`` or ``(n_coarse, k)``.
        """
        _check_operand(self.T, r)
        return self._map(r, True)

    @property
    def T(self) -> _Restriction:
        """``P^T`` as an operator."""
        return _Restriction(self)

    def to_scipy(self) -> sp.csr_matrix:
        """The matrix, assembled (as :func:`grid_prolongation` builds it; large in 3-D).

        Returns
        -------
        scipy.sparse.csr_matrix
        """
        rows = self.rows.cpu().numpy()
        full = sp.identity(1, format="csr")
        for M in self.mats:
            full = sp.kron(full, sp.csr_matrix(M.cpu().double().numpy()), format="csr")
        return sp.csr_matrix(full[rows][:, self.cols.cpu().numpy()])


class _Restriction(_OperatorBase):
    """``P^T`` of a :class:`SeparableProlongation`."""

    def __init__(self, P: SeparableProlongation) -> None:
        self.P = P
        self._shape = (P.shape[1], P.shape[0])
        self._dtype, self._device = P.dtype, P.device

    def _matvec(self, x: Tensor) -> Tensor:
        return self.P._map(x, True)


def _factorised(
    A: SparseMatrix,
    P: SparseMatrix | SeparableProlongation | sp.spmatrix,
    P_sp: sp.spmatrix | None,
    coarse: sp.spmatrix,
) -> CoarseCorrection:
    """Scale the Galerkin matrix ``coarse`` to a unit diagonal, shift, factorise.

    ``P`` is used as it is when it is on ``A``'s device and dtype; else it is rebuilt from its
    SciPy form ``P_sp``.
    """
    coarse = sp.csc_matrix(coarse)
    diag = coarse.diagonal()
    if not (diag > 0).all():
        raise ValueError(
            "the Galerkin matrix P^T A P has a non-positive diagonal entry; A must be SPD"
        )
    scale = 1.0 / np.sqrt(diag)
    S = sp.diags(scale)
    shifted = (S @ coarse @ S + CoarseCorrection.SHIFT * sp.identity(len(diag))).tocsc()
    try:  # symmetric mode: the fill-reducing order of A + A^T, pivots on the diagonal
        factor = spla.splu(
            shifted,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError as exc:  # "Factor is exactly singular": not an SPD A
        raise ValueError(f"the Galerkin matrix P^T A P cannot be factorised: {exc}") from exc
    usable = isinstance(P, SparseMatrix | SeparableProlongation) and (P.device, P.dtype) == (
        A.device,
        A.dtype,
    )
    if not usable:
        assert P_sp is not None
        P = SparseMatrix.from_scipy(sp.csr_matrix(P_sp), device=A.device, dtype=A.dtype)
    return CoarseCorrection(P, factor, scale)


def grid_coarse_correction(
    A: SparseMatrix,
    shape: tuple[int, ...],
    factor: int,
    *,
    fluid: np.ndarray | None = None,
) -> CoarseCorrection:
    """The Galerkin correction of a grid matrix on a grid ``factor`` times coarser per axis.

    The same operator as ``coarse_correction(A, grid_prolongation(shape, factor,
    fluid=fluid))``, built faster when ``A`` couples only neighbouring cells along the grid
    axes (5/7-point stencils, e.g. :func:`poisson_grid` and the DCDM pressure systems): then
    ``A = sum_a G_a^T W_a G_a + diag(s)`` (``G_a`` differences along axis ``a``, ``W_a`` the
    couplings ``-A_ij`` on the faces, ``s`` the row sums), the prolongation is a Kronecker
    product of per-axis interpolations, and ``P^T A P`` is contracted one axis at a time
    (sum factorisation) without forming ``A P``; ``P`` is applied as a
    :class:`SeparableProlongation` on CUDA and on the CPU for coarse axes of at most
    ``SeparableProlongation.DENSE_UP_TO`` cells, else assembled. The stencil is found by probing
    ``A`` with a few products on its device, and checked; any other ``A`` takes the general
    product.

    Parameters
    ----------
    A : SparseMatrix
        Symmetric positive definite, one unknown per fluid cell in C order (as
        :func:`poisson_grid` numbers them).
    shape : tuple of int
        Fine cells per axis (1-3 axes).
    factor : int
        Coarsening per axis, a power of two >= 2.
    fluid : numpy.ndarray of bool, optional
        Mask of the fine grid; default every cell.

    Returns
    -------
    CoarseCorrection

    Raises
    ------
    ValueError
        If ``A``'s size is not the number of fluid cells, or as :func:`coarse_correction`.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import grid_coarse_correction, poisson2d
    >>> C = grid_coarse_correction(poisson2d(16), (16, 16), 4)
    >>> C.coarse_size
    16
    """
    if not isinstance(A, SparseMatrix):
        raise TypeError(f"grid_coarse_correction expects a SparseMatrix A, got {type(A)!r}")
    shape = tuple(int(n) for n in shape)
    axes = _axis_prolongations(shape, factor)
    mask = np.ones(shape, dtype=bool) if fluid is None else _fluid_mask(fluid, shape)
    n = int(mask.sum())
    if tuple(A.shape) != (n, n):
        raise ValueError(
            f"A must be ({n}, {n}) for the {n} fluid cells of the {shape} grid, got "
            f"{tuple(A.shape)}"
        )
    stencil = _grid_stencil(A, mask)
    kept = _coarse_cells_reached(axes, mask)
    P: SeparableProlongation | sp.spmatrix
    P_sp: sp.spmatrix | None = None
    longest = max(a.shape[1] for a in axes)
    if stencil is not None and (
        A.device.type == "cuda" or longest <= SeparableProlongation.DENSE_UP_TO
    ):
        P = SeparableProlongation(axes, mask, kept, dtype=A.dtype, device=A.device)
    else:
        P = P_sp = _prolongation_matrix(axes, mask)
    if stencil is None:  # not a nearest-neighbour grid matrix: the general product
        assert P_sp is not None
        coarse = P_sp.T @ sp.csr_matrix(A.to_scipy(), dtype=np.float64) @ P_sp
    else:
        coarse = _galerkin_by_axes(*stencil, axes)[kept][:, kept]
    return _factorised(A, P, P_sp, coarse)


def _grid_stencil(A: SparseMatrix, mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``(s, [W_a])`` of a symmetric matrix on the fluid cells with axis-neighbour couplings.

    ``s`` (grid shape) holds the row sums at the fluid cells, ``W_a`` (the grid shape with one
    cell fewer along ``a``) the coupling ``-A_ij`` of the face between cell ``k`` and ``k + 1``
    along ``a``; zero at solid cells and faces. Found by probing, on ``A``'s device: the
    product with the indicator of the cells whose coordinate along ``a`` is ``r`` modulo 3
    gives, at a cell one before (after) such a cell, its coupling to its next (previous)
    neighbour along ``a`` -- for a matrix with no other couplings. Three products per axis,
    one for the row sums, and one with a random vector that checks the result: ``None`` when
    ``A`` couples other cells or is not symmetric.
    """
    A = A.to(dtype=torch.float64)
    device = A.device
    shape = mask.shape
    fluid = torch.as_tensor(mask, device=device)
    cells = torch.as_tensor(np.flatnonzero(mask.ravel()), device=device)

    def apply(grid: Tensor) -> Tensor:  # A on the fluid cells of a grid field
        out = torch.zeros(int(np.prod(shape)), dtype=torch.float64, device=device)
        out[cells] = A.matvec(grid.reshape(-1)[cells])
        return out.reshape(shape)

    faces = []
    for a in range(len(shape)):
        view = [1] * len(shape)
        view[a] = shape[a]
        coord = torch.arange(shape[a], device=device).reshape(view)
        upper = torch.zeros(
            [m - (b == a) for b, m in enumerate(shape)], dtype=torch.float64, device=device
        )
        lower = torch.zeros_like(upper)
        head = coord.narrow(a, 0, shape[a] - 1)  # cell k of the face (k, k + 1)
        for r in range(3):
            Y = apply(((coord % 3 == r) & fluid).double())
            Yk, Yk1 = Y.narrow(a, 0, shape[a] - 1), Y.narrow(a, 1, shape[a] - 1)
            upper = torch.where((head + 1) % 3 == r, -Yk, upper)  # A[k, k + 1] at cell k
            lower = torch.where(head % 3 == r, -Yk1, lower)  # A[k + 1, k] at cell k + 1
        if not torch.allclose(upper, lower, rtol=1e-12, atol=0.0):
            return None  # not symmetric (or other couplings)
        faces.append(upper)
    s = apply(fluid.double())
    # check: A z equals the stencil's sum_a G_a^T W_a G_a z + s z for a random field z
    generator = torch.Generator(device=device).manual_seed(0)  # not the caller's stream
    z = torch.rand(shape, dtype=torch.float64, device=device, generator=generator) * fluid
    Sz = s * z
    for a, w in enumerate(faces):
        flux = w * (z.narrow(a, 1, shape[a] - 1) - z.narrow(a, 0, shape[a] - 1))
        Sz.narrow(a, 0, shape[a] - 1).sub_(flux)
        Sz.narrow(a, 1, shape[a] - 1).add_(flux)
    Az = apply(z)
    if float((Az - Sz).abs().max()) > 1e-10 * float(Az.abs().max() + s.abs().max()):
        return None  # couplings beyond the axis neighbours
    return s.cpu().numpy(), [w.cpu().numpy() for w in faces]


def _pairs(F: sp.spmatrix, band: int) -> sp.csr_matrix:
    """``Q[k, c (2 band + 1) + band + o] = F[k, c] F[k, c + o]`` for ``|o| <= band``."""
    F = sp.csr_matrix(F)
    counts = np.diff(F.indptr)
    width = int(counts.max())
    cols = np.full((F.shape[0], width), -1)
    vals = np.zeros((F.shape[0], width))
    slot = np.arange(F.nnz) - np.repeat(F.indptr[:-1], counts)
    row = np.repeat(np.arange(F.shape[0]), counts)
    cols[row, slot], vals[row, slot] = F.indices, F.data
    c, d = cols[:, :, None], cols[:, None, :]
    keep = (c >= 0) & (d >= 0)
    k = np.broadcast_to(np.arange(F.shape[0])[:, None, None], keep.shape)[keep]
    K = 2 * band + 1
    at = (np.broadcast_to(c, keep.shape) * K + band + (d - c))[keep]
    value = (vals[:, :, None] * vals[:, None, :])[keep]
    return sp.csr_matrix((value, (k, at)), shape=(F.shape[0], F.shape[1] * K))


def _galerkin_by_axes(
    s: np.ndarray, faces: list[np.ndarray], axes: list[sp.csr_matrix]
) -> sp.csr_matrix:
    """``P^T A P`` on the full coarse grid for ``A = sum_a G_a^T W_a G_a + diag(s)``."""
    dim = len(axes)
    diffs = [sp.csr_matrix(F[1:] - F[:-1]) for F in axes]
    band = max(_row_span(F) for F in (*axes, *diffs))  # coarse cells one fine row couples
    K = 2 * band + 1
    pairs = [_pairs(F, band) for F in axes]
    terms = [(s, pairs)] + [
        (w, [_pairs(diffs[a], band) if b == a else pairs[b] for b in range(dim)])
        for a, w in enumerate(faces)
    ]
    sizes = [F.shape[1] for F in axes]
    total = np.zeros([m * K for m in sizes])
    for weights, factors in terms:
        T = weights
        for Q in factors:  # contract the leading fine axis; its coarse pairs go last
            lead = T.shape[0]
            T = np.asarray(Q.T @ T.reshape(lead, -1)).reshape(Q.shape[1], *T.shape[1:])
            T = np.moveaxis(T, 0, -1)
        total += T
    # entry (c, c + o) of the coarse matrix from total[c_0 K + o_0 + band, ...]
    grids = np.meshgrid(
        *[np.arange(m) for m in sizes], *[np.arange(-band, band + 1)] * dim, indexing="ij"
    )
    coarse_idx, offsets = grids[:dim], grids[dim:]
    target = [c + o for c, o in zip(coarse_idx, offsets, strict=True)]
    valid = np.ones(coarse_idx[0].shape, dtype=bool)
    for t, m in zip(target, sizes, strict=True):
        valid &= (t >= 0) & (t < m)
    index = tuple(c * K + o + band for c, o in zip(coarse_idx, offsets, strict=True))
    values = total[index][valid]
    row = np.ravel_multi_index(tuple(c[valid] for c in coarse_idx), sizes)
    col = np.ravel_multi_index(tuple(t[valid] for t in target), sizes)
    size = int(np.prod(sizes))
    out = sp.csr_matrix((values, (row, col)), shape=(size, size))
    out.eliminate_zeros()
    return out


def _row_span(F: sp.csr_matrix) -> int:
    """The largest distance between two columns of one row of ``F``."""
    F = sp.csr_matrix(F).sorted_indices()
    counts = np.diff(F.indptr)
    nonempty = counts > 0
    first = F.indices[F.indptr[:-1][nonempty]]
    last = F.indices[F.indptr[1:][nonempty] - 1]
    return int(np.max(last - first)) if nonempty.any() else 0
