"""The linear-operator protocol and matrix-free operators.

Anything with ``shape``, ``dtype``, ``device`` and a ``matvec`` that maps a vector ``(n,)`` or a
block ``(n, k)`` is a :class:`LinearOperator`: a :class:`~sciml.linalg.SparseMatrix`, a
preconditioner, a wrapped dense tensor or a neural network. Solvers accept any of them for
``A`` and ``M`` alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from sciml.linalg.sparse import SparseMatrix, _check_float_dtype, _check_operand

__all__ = [
    "DenseOperator",
    "DiagonalOperator",
    "IdentityOperator",
    "LinearOperator",
    "MatrixFreeOperator",
    "as_operator",
]


@runtime_checkable
class LinearOperator(Protocol):
    """Protocol for linear maps used by the solvers.

    Attributes
    ----------
    shape : tuple of int
        ``(nrows, ncols)``.
    dtype : torch.dtype
        Dtype of the vectors the operator acts on.
    device : torch.device
        Device of the vectors the operator acts on.

    Notes
    -----
    ``matvec(x)`` must accept both a vector ``(ncols,)`` and a block ``(ncols, k)`` and return
    ``(nrows,)`` or ``(nrows, k)``; block columns are independent.
    """

    @property
    def shape(self) -> tuple[int, int]: ...

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    def matvec(self, x: Tensor) -> Tensor: ...


class _OperatorBase:
    """Shared behaviour: ``@``, input checks and a readable repr."""

    _shape: tuple[int, int]
    _dtype: torch.dtype
    _device: torch.device

    @property
    def shape(self) -> tuple[int, int]:
        """``(nrows, ncols)``."""
        return self._shape

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the vectors the operator acts on."""
        return self._dtype

    @property
    def device(self) -> torch.device:
        """Device of the vectors the operator acts on."""
        return self._device

    def matvec(self, x: Tensor) -> Tensor:
        """Apply the operator to a vector ``(n,)`` or block ``(n, k)``.

        Parameters
        ----------
        x : torch.Tensor
            Operand with the operator's dtype and device.

        Returns
        -------
        torch.Tensor
        """
        _check_operand(self, x)
        return self._matvec(x)

    def _matvec(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __matmul__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            return NotImplemented
        return self.matvec(x)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype}, device={self.device})"
        )


class MatrixFreeOperator(_OperatorBase):
    """A linear operator defined by a function.

    Parameters
    ----------
    fn : callable
        ``fn(x)`` for ``x`` of shape ``(n,)`` or ``(n, k)``; must be linear in ``x`` (or, for
        flexible solvers such as :func:`~sciml.linalg.fcg`, at least a good approximate inverse).
    shape : tuple of int
        ``(nrows, ncols)``.
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"
    batched : bool, default True
        Whether ``fn`` accepts blocks ``(n, k)``. If False, blocks are applied column by column.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import MatrixFreeOperator
    >>> double = MatrixFreeOperator(lambda x: 2 * x, (3, 3))
    >>> (double @ torch.ones(3, dtype=torch.float64)).tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(
        self,
        fn: Callable[[Tensor], Tensor],
        shape: tuple[int, int],
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        batched: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn)!r}")
        _check_float_dtype(dtype)
        self._fn = fn
        self._shape = (int(shape[0]), int(shape[1]))
        self._dtype = dtype
        self._device = torch.device(device)
        self._batched = batched

    def _matvec(self, x: Tensor) -> Tensor:
        if x.ndim == 2 and not self._batched:
            y = torch.stack([self._fn(x[:, j]) for j in range(x.shape[1])], dim=1)
        else:
            y = self._fn(x)
        expected = (self._shape[0], *tuple(x.shape[1:]))
        if tuple(y.shape) != expected:
            raise ValueError(
                f"operator function returned shape {tuple(y.shape)}, expected {expected}"
            )
        return y


class DenseOperator(_OperatorBase):
    """A dense matrix held as a torch tensor.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(nrows, ncols)``, float32 or float64.
    """

    def __init__(self, A: Tensor) -> None:
        if A.ndim != 2:
            raise ValueError(f"DenseOperator needs a 2-D tensor, got shape {tuple(A.shape)}")
        _check_float_dtype(A.dtype)
        self.A = A
        self._shape = (A.shape[0], A.shape[1])
        self._dtype = A.dtype
        self._device = A.device

    def _matvec(self, x: Tensor) -> Tensor:
        return self.A @ x


class DiagonalOperator(_OperatorBase):
    """Multiplication by a diagonal matrix, ``x -> d * x``.

    Parameters
    ----------
    d : torch.Tensor
        The diagonal, shape ``(n,)``.
    """

    def __init__(self, d: Tensor) -> None:
        if d.ndim != 1:
            raise ValueError(f"the diagonal must be 1-D, got shape {tuple(d.shape)}")
        _check_float_dtype(d.dtype)
        self.d = d
        self._shape = (d.shape[0], d.shape[0])
        self._dtype = d.dtype
        self._device = d.device

    def _matvec(self, x: Tensor) -> Tensor:
        return x * self.d if x.ndim == 1 else x * self.d[:, None]


class IdentityOperator(_OperatorBase):
    """The identity on vectors of length ``n``.

    Parameters
    ----------
    n : int
    dtype : torch.dtype, default torch.float64
    device : torch.device or str, default "cpu"
    """

    def __init__(
        self, n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
    ) -> None:
        self._shape = (int(n), int(n))
        self._dtype = dtype
        self._device = torch.device(device)

    def _matvec(self, x: Tensor) -> Tensor:
        return x


def as_operator(obj: Any, *, like: LinearOperator | None = None) -> LinearOperator:
    """Turn a matrix-like object into a :class:`LinearOperator`.

    Parameters
    ----------
    obj : LinearOperator, SparseMatrix, torch.Tensor, scipy.sparse matrix or callable
        A dense 2-D tensor becomes a :class:`DenseOperator`; a SciPy sparse matrix a
        :class:`~sciml.linalg.SparseMatrix` (on ``like``'s device and dtype if given); a callable
        a :class:`MatrixFreeOperator` with ``like``'s shape, dtype and device (so ``like`` is
        required for callables).
    like : LinearOperator, optional
        Operator whose shape, dtype and device a callable or SciPy matrix should take.

    Returns
    -------
    LinearOperator

    Raises
    ------
    TypeError
        If ``obj`` cannot be interpreted as a linear operator.
    """
    if isinstance(obj, LinearOperator):
        return obj
    if isinstance(obj, Tensor):
        return DenseOperator(obj)
    import scipy.sparse as sp

    if sp.issparse(obj):
        if like is None:
            return SparseMatrix.from_scipy(obj)
        return SparseMatrix.from_scipy(obj, device=like.device, dtype=like.dtype)
    if callable(obj):
        if like is None:
            raise TypeError("a callable operator needs `like` to know its shape, dtype, device")
        return MatrixFreeOperator(obj, like.shape, dtype=like.dtype, device=like.device)
    raise TypeError(
        f"cannot use {type(obj)!r} as a linear operator: pass a SparseMatrix, a dense tensor, a "
        "scipy.sparse matrix, a callable, or an object with shape, dtype, device and matvec"
    )
