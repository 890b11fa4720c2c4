"""Compressed sparse row (CSR) matrices stored as torch tensors.

:class:`SparseMatrix` is the matrix type of :mod:`sciml.linalg`. It lives on any torch device
(CPU or CUDA) in ``float32`` or ``float64``, multiplies vectors ``(n,)`` and blocks of vectors
``(n, k)``, and is differentiable with respect to both the vector and its stored values (the
sparsity pattern is fixed).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

__all__ = ["SparseMatrix"]

_FLOAT_DTYPES = (torch.float32, torch.float64)
_INT32_MAX = int(np.iinfo(np.int32).max)


def _index_dtype(n: int, nnz: int) -> torch.dtype:
    """Return ``int32`` when every index fits (faster SpMV with MKL/cuSPARSE), else ``int64``."""
    return torch.int32 if max(n, nnz) < _INT32_MAX else torch.int64


class SparseMatrix:
    """A sparse matrix in compressed sparse row (CSR) format on a torch device.

    Parameters
    ----------
    crow_indices : torch.Tensor
        Row pointers, shape ``(nrows + 1,)``, non-decreasing, starting at 0 and ending at ``nnz``.
    col_indices : torch.Tensor
        Column index of each stored entry, shape ``(nnz,)``, each in ``[0, ncols)``.
    values : torch.Tensor
        Stored entries, shape ``(nnz,)``, ``float32`` or ``float64``, all finite. May require
        gradients: products and solves with this matrix then differentiate with respect to it.
    shape : tuple of int
        ``(nrows, ncols)``.
    check : bool, default True
        Validate the arrays (lengths, index ranges, monotone row pointers, finite values). Turn it
        off only for arrays that come from a trusted source, such as another ``SparseMatrix``.

    Raises
    ------
    ValueError
        If the arrays are inconsistent, an index is out of range or a value is NaN/Inf.
    TypeError
        If ``values`` is not floating point or the index arrays are not integers.

    Notes
    -----
    Index arrays are stored as ``int32`` whenever the sizes allow it (the fast path of the
    sparse kernels) and ``int64`` otherwise. Conversions from SciPy and back share memory with
    the SciPy arrays when they are on the CPU and the dtypes agree.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sciml.linalg import SparseMatrix
    >>> A = SparseMatrix.from_scipy(sp.eye(3, format="csr") * 2.0)
    >>> A.shape, A.nnz
    ((3, 3), 3)
    """

    def __init__(
        self,
        crow_indices: Tensor,
        col_indices: Tensor,
        values: Tensor,
        shape: tuple[int, int],
        *,
        check: bool = True,
    ) -> None:
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape must be a pair of non-negative ints, got {shape!r}")
        nrows, ncols = int(shape[0]), int(shape[1])
        if check:
            _validate_csr(crow_indices, col_indices, values, (nrows, ncols))
        idx = _index_dtype(max(nrows, ncols), int(values.shape[0]))
        device = values.device
        self._crow = crow_indices.to(device=device, dtype=idx)
        self._col = col_indices.to(device=device, dtype=idx)
        self._values = values
        self._shape = (nrows, ncols)
        self._csr_cache: Tensor | None = None
        self._rows_cache: Tensor | None = None
        self._transpose_cache: tuple[Tensor, Tensor, Tensor] | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_scipy(
        cls,
        A: Any,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> SparseMatrix:
        """Build from any SciPy sparse matrix or array.

        Parameters
        ----------
        A : scipy.sparse matrix or array
            Converted to CSR if it is in another format; duplicate entries are summed and
            column indices sorted on a copy (the caller's matrix is never modified).
        device : torch.device or str, optional
            Target device; default CPU.
        dtype : torch.dtype, optional
            ``torch.float32`` or ``torch.float64``; default keeps a float32/float64 matrix as it
            is and converts other real types to float64.

        Returns
        -------
        SparseMatrix
            Shares memory with ``A`` when the result is on the CPU with unchanged dtypes and
            ``A``'s arrays are writable (read-only arrays, e.g. from dolfinx, are copied).

        Raises
        ------
        TypeError
            If ``A`` is not a SciPy sparse matrix or is complex.
        """
        if not sp.issparse(A):
            raise TypeError(f"from_scipy expects a scipy.sparse matrix or array, got {type(A)!r}")
        if np.iscomplexobj(A.data):
            raise TypeError("complex matrices are not supported; sciml.linalg is real-valued")
        csr = A.tocsr() if A.format != "csr" else A
        if not csr.has_canonical_format:
            csr = csr.copy()
            csr.sum_duplicates()
        if dtype is None:
            dtype = torch.float32 if csr.dtype == np.float32 else torch.float64
        _check_float_dtype(dtype)
        values, crow, col = (
            torch.from_numpy(_writable(a)) for a in (csr.data, csr.indptr, csr.indices)
        )
        out = cls(crow, col, values.to(dtype), (csr.shape[0], csr.shape[1]))
        return out.to(device=device) if device is not None else out

    @classmethod
    def from_petsc(
        cls,
        mat: Any,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> SparseMatrix:
        """Build from a serial PETSc ``Mat`` (AIJ), for example one assembled by dolfinx.

        Parameters
        ----------
        mat : petsc4py.PETSc.Mat
            An assembled AIJ matrix on a communicator of size 1.
        device, dtype
            As in :meth:`from_scipy`.

        Returns
        -------
        SparseMatrix

        Raises
        ------
        ValueError
            If the matrix is distributed over several MPI processes or not assembled.
        """
        comm_size = mat.getComm().getSize()
        if comm_size != 1:
            raise ValueError(
                f"from_petsc needs a serial matrix, got one distributed over {comm_size} "
                "processes; gather it first or assemble on a serial communicator"
            )
        if not mat.isAssembled():
            raise ValueError("PETSc matrix is not assembled; call mat.assemble() first")
        indptr, indices, data = mat.getValuesCSR()
        nrows, ncols = mat.getSize()
        csr = sp.csr_array((data, indices, indptr), shape=(nrows, ncols))
        return cls.from_scipy(csr, device=device, dtype=dtype)

    @classmethod
    def from_dense(cls, A: Tensor) -> SparseMatrix:
        """Build from a dense 2-D tensor, keeping its non-zero entries, device and dtype.

        Parameters
        ----------
        A : torch.Tensor
            Dense matrix, shape ``(nrows, ncols)``.

        Returns
        -------
        SparseMatrix
        """
        if A.ndim != 2:
            raise ValueError(f"from_dense expects a 2-D tensor, got shape {tuple(A.shape)}")
        _check_float_dtype(A.dtype)
        csr = A.detach().to_sparse_csr()
        return cls(csr.crow_indices(), csr.col_indices(), csr.values(), (A.shape[0], A.shape[1]))

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        """``(nrows, ncols)``."""
        return self._shape

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self._values.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the stored values."""
        return self._values.dtype

    @property
    def device(self) -> torch.device:
        """Device holding the matrix."""
        return self._values.device

    @property
    def values(self) -> Tensor:
        """Stored entries in CSR order, shape ``(nnz,)``."""
        return self._values

    @property
    def crow_indices(self) -> Tensor:
        """Row pointers, shape ``(nrows + 1,)``."""
        return self._crow

    @property
    def col_indices(self) -> Tensor:
        """Column index of each stored entry, shape ``(nnz,)``."""
        return self._col

    @property
    def row_indices(self) -> Tensor:
        """Row index of each stored entry, shape ``(nnz,)`` (computed once, then cached)."""
        if self._rows_cache is None:
            counts = self._crow[1:] - self._crow[:-1]
            self._rows_cache = torch.repeat_interleave(
                torch.arange(self._shape[0], device=self.device, dtype=self._crow.dtype),
                counts.long(),
            )
        return self._rows_cache

    @property
    def T(self) -> SparseMatrix:
        """The transpose, as a CSR matrix (differentiable with respect to :attr:`values`)."""
        crow_t, col_t, perm = self._transpose_pattern()
        return SparseMatrix(crow_t, col_t, self._values[perm], self._shape[::-1], check=False)

    def _transpose_pattern(self) -> tuple[Tensor, Tensor, Tensor]:
        """CSR pattern of the transpose and the permutation of the values into it."""
        if self._transpose_cache is None:
            rows, cols = self.row_indices.long(), self._col.long()
            key = cols * max(self._shape[0], 1) + rows
            perm = torch.argsort(key, stable=True)
            counts = torch.bincount(cols, minlength=self._shape[1])
            crow_t = torch.zeros(self._shape[1] + 1, dtype=torch.long, device=self.device)
            crow_t[1:] = torch.cumsum(counts, 0)
            self._transpose_cache = (crow_t, rows[perm], perm)
        return self._transpose_cache

    def _csr(self) -> Tensor:
        """The torch CSR tensor on the detached values (shares their memory)."""
        if self._csr_cache is None or self._csr_cache.values().data_ptr() != (
            self._values.data_ptr()
        ):
            # torch warns that CSR support is "beta"; the operations used here (construction,
            # matmul) are stable and tested, so the warning would only be noise for users.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support")
                self._csr_cache = torch.sparse_csr_tensor(
                    self._crow,
                    self._col,
                    self._values.detach(),
                    size=self._shape,
                    check_invariants=False,
                )
        return self._csr_cache

    # ------------------------------------------------------------------ conversions
    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> SparseMatrix:
        """Return the matrix on another device and/or dtype (``self`` if nothing changes).

        Parameters
        ----------
        device : torch.device or str, optional
            Target device.
        dtype : torch.dtype, optional
            ``torch.float32`` or ``torch.float64``.

        Returns
        -------
        SparseMatrix
        """
        if dtype is not None:
            _check_float_dtype(dtype)
        values = self._values.to(device=device, dtype=dtype)
        if values is self._values:
            return self
        return SparseMatrix(
            self._crow.to(values.device),
            self._col.to(values.device),
            values,
            self._shape,
            check=False,
        )

    def to_scipy(self) -> sp.csr_array:
        """Return a SciPy CSR array (sharing memory when the matrix is on the CPU).

        Returns
        -------
        scipy.sparse.csr_array
        """
        return sp.csr_array(
            (
                self._values.detach().cpu().numpy(),
                self._col.cpu().numpy(),
                self._crow.cpu().numpy(),
            ),
            shape=self._shape,
        )

    def to_dense(self) -> Tensor:
        """Return the matrix as a dense tensor (differentiable with respect to the values).

        Returns
        -------
        torch.Tensor
            Shape ``(nrows, ncols)``.
        """
        dense = torch.zeros(self._shape, dtype=self.dtype, device=self.device)
        return dense.index_put(
            (self.row_indices.long(), self._col.long()), self._values, accumulate=True
        )

    def with_values(self, values: Tensor) -> SparseMatrix:
        """Return a matrix with the same sparsity pattern and new stored values.

        Parameters
        ----------
        values : torch.Tensor
            Shape ``(nnz,)``, on the same device; may require gradients.

        Returns
        -------
        SparseMatrix
        """
        if values.shape != self._values.shape:
            raise ValueError(
                f"values must have shape {tuple(self._values.shape)}, got {tuple(values.shape)}"
            )
        if values.device != self.device:
            raise ValueError(f"values are on {values.device}, the pattern on {self.device}")
        _check_float_dtype(values.dtype)
        _check_finite(values, "values")
        out = SparseMatrix(self._crow, self._col, values, self._shape, check=False)
        out._rows_cache = self._rows_cache
        out._transpose_cache = self._transpose_cache
        return out

    def submatrix(self, rows: Tensor, cols: Tensor) -> SparseMatrix:
        """Return ``A[rows][:, cols]`` as a sparse matrix (differentiable in the values).

        Parameters
        ----------
        rows, cols : torch.Tensor
            Integer indices; they are sorted and must be unique and in range.

        Returns
        -------
        SparseMatrix
            Shape ``(len(rows), len(cols))``; row ``i`` is ``rows[i]`` of the sorted indices.
        """
        maps = []
        for name, idx, size in (("rows", rows, self._shape[0]), ("cols", cols, self._shape[1])):
            idx = torch.as_tensor(idx, device=self.device).long().flatten()
            idx = torch.sort(idx).values
            if idx.numel() and (int(idx[0]) < 0 or int(idx[-1]) >= size):
                raise ValueError(f"{name} out of range [0, {size})")
            if idx.numel() > 1 and bool((idx[1:] == idx[:-1]).any()):
                raise ValueError(f"{name} must be unique")
            lookup = torch.full((size,), -1, dtype=torch.long, device=self.device)
            lookup[idx] = torch.arange(idx.numel(), device=self.device)
            maps.append((lookup, idx.numel()))
        (row_map, nr), (col_map, nc) = maps
        r = row_map[self.row_indices.long()]
        c = col_map[self._col.long()]
        keep = (r >= 0) & (c >= 0)
        crow = torch.zeros(nr + 1, dtype=torch.long, device=self.device)
        crow[1:] = torch.cumsum(torch.bincount(r[keep], minlength=nr), 0)
        return SparseMatrix(crow, c[keep], self._values[keep], (nr, nc), check=False)

    # ------------------------------------------------------------------ algebra
    def diagonal(self) -> Tensor:
        """Return the main diagonal as a dense vector (zeros where no entry is stored).

        Returns
        -------
        torch.Tensor
            Shape ``(min(nrows, ncols),)``.
        """
        rows = self.row_indices.long()
        on_diag = rows == self._col.long()
        n = min(self._shape)
        out = torch.zeros(n, dtype=self.dtype, device=self.device)
        return out.index_add(0, rows[on_diag], self._values[on_diag])

    def matvec(self, x: Tensor) -> Tensor:
        """Multiply a vector ``(ncols,)`` or a block of vectors ``(ncols, k)``.

        Parameters
        ----------
        x : torch.Tensor
            Same dtype and device as the matrix.

        Returns
        -------
        torch.Tensor
            ``(nrows,)`` or ``(nrows, k)``.

        Raises
        ------
        ValueError
            On a shape or device mismatch.
        TypeError
            On a dtype mismatch.
        """
        _check_operand(self, x)
        if self._values.requires_grad or x.requires_grad:
            return _CSRMatmul.apply(self._values, x, self)
        return _spmm(self._csr(), x)

    def __matmul__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            return NotImplemented
        return self.matvec(x)

    def __add__(self, other: SparseMatrix) -> SparseMatrix:
        """Sum of two sparse matrices of the same shape (union of the sparsity patterns).

        Differentiable with respect to the values of both.
        """
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        if other.shape != self.shape:
            raise ValueError(f"shape mismatch: {self.shape} + {other.shape}")
        if other.dtype != self.dtype or other.device != self.device:
            raise TypeError(
                f"cannot add {self.dtype} on {self.device} and {other.dtype} on {other.device}"
            )
        ncols = self._shape[1]
        keys = torch.cat(
            [
                self.row_indices.long() * ncols + self._col.long(),
                other.row_indices.long() * ncols + other.col_indices.long(),
            ]
        )
        unique, inverse = torch.unique(keys, sorted=True, return_inverse=True)
        values = torch.zeros(unique.numel(), dtype=self.dtype, device=self.device)
        values = values.index_add(0, inverse, torch.cat([self._values, other.values]))
        rows = torch.div(unique, ncols, rounding_mode="floor")
        crow = torch.zeros(self._shape[0] + 1, dtype=torch.long, device=self.device)
        crow[1:] = torch.cumsum(torch.bincount(rows, minlength=self._shape[0]), 0)
        return SparseMatrix(crow, unique - rows * ncols, values, self._shape, check=False)

    def __sub__(self, other: SparseMatrix) -> SparseMatrix:
        if not isinstance(other, SparseMatrix):
            return NotImplemented
        return self + (-other)

    def __neg__(self) -> SparseMatrix:
        return self.with_values(-self._values)

    def __mul__(self, alpha: float) -> SparseMatrix:
        """Scale by a number (``A * 2.0``); differentiable with respect to the values."""
        if isinstance(alpha, Tensor) and alpha.ndim == 0:
            return self.with_values(self._values * alpha)
        if not isinstance(alpha, int | float):
            return NotImplemented
        return self.with_values(self._values * alpha)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return (
            f"SparseMatrix(shape={self._shape}, nnz={self.nnz}, dtype={self.dtype}, "
            f"device={self.device})"
        )


def _writable(a: np.ndarray) -> np.ndarray:
    """The array itself when torch may share it (contiguous, writable), else a copy."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def _spmm(csr: Tensor, x: Tensor) -> Tensor:
    """CSR times vector or block; a block of one column takes the (faster) vector kernel."""
    if x.ndim == 2 and x.shape[1] == 1:
        return (csr @ x[:, 0]).unsqueeze(1)
    return csr @ x


class _CSRMatmul(torch.autograd.Function):
    """``y = A x`` with gradients for both the stored values of ``A`` and ``x``."""

    @staticmethod
    def forward(ctx: Any, values: Tensor, x: Tensor, A: SparseMatrix) -> Tensor:
        ctx.A = A
        ctx.save_for_backward(x)
        return _spmm(A._csr(), x.detach())

    @staticmethod
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        A: SparseMatrix = ctx.A
        (x,) = ctx.saved_tensors
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            rows, cols = A.row_indices.long(), A.col_indices.long()
            prod = grad_y[rows] * x[cols]
            grad_values = prod.sum(dim=1) if prod.ndim == 2 else prod
        if ctx.needs_input_grad[1]:
            crow_t, col_t, perm = A._transpose_pattern()
            At = SparseMatrix(crow_t, col_t, A.values.detach()[perm], A.shape[::-1], check=False)
            grad_x = _spmm(At._csr(), grad_y)
        return grad_values, grad_x, None


# ---------------------------------------------------------------------- validation helpers
def _check_float_dtype(dtype: torch.dtype) -> None:
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"sciml.linalg works in float32 or float64, got {dtype}")


def _check_finite(t: Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN/Inf entr{'y' if bad == 1 else 'ies'}")


def _validate_csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> None:
    nrows, ncols = shape
    if (
        not isinstance(values, Tensor)
        or not isinstance(crow, Tensor)
        or not isinstance(col, Tensor)
    ):
        raise TypeError("crow_indices, col_indices and values must be torch tensors")
    _check_float_dtype(values.dtype)
    for name, t in (("crow_indices", crow), ("col_indices", col)):
        if t.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"{name} must be int32 or int64, got {t.dtype}")
        if t.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {tuple(values.shape)}")
    if crow.shape[0] != nrows + 1:
        raise ValueError(
            f"crow_indices has length {crow.shape[0]}, expected nrows + 1 = {nrows + 1}"
        )
    nnz = values.shape[0]
    if col.shape[0] != nnz:
        raise ValueError(f"col_indices has length {col.shape[0]} but values has length {nnz}")
    if int(crow[0]) != 0 or int(crow[-1]) != nnz:
        raise ValueError(
            f"crow_indices must start at 0 and end at nnz={nnz}, "
            f"got {int(crow[0])}..{int(crow[-1])}"
        )
    if nrows > 0 and bool((crow[1:] < crow[:-1]).any()):
        raise ValueError("crow_indices must be non-decreasing")
    if nnz > 0 and (int(col.min()) < 0 or int(col.max()) >= ncols):
        raise ValueError(
            f"col_indices out of range [0, {ncols}): min {int(col.min())}, max {int(col.max())}"
        )
    _check_finite(values.detach(), "values")


def _check_operand(A: Any, x: Tensor) -> None:
    """Check that ``x`` can be multiplied by the operator ``A`` (shape, dtype, device)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x)!r}")
    if x.ndim not in (1, 2):
        raise ValueError(f"expected a vector (n,) or a block (n, k), got shape {tuple(x.shape)}")
    if x.shape[0] != A.shape[1]:
        raise ValueError(
            f"shape mismatch: operator is {A.shape[0]}x{A.shape[1]}, operand has {x.shape[0]} rows"
        )
    if x.dtype != A.dtype:
        raise TypeError(f"dtype mismatch: operator is {A.dtype}, operand is {x.dtype}")
    if x.device != A.device:
        raise ValueError(f"device mismatch: operator is on {A.device}, operand on {x.device}")
