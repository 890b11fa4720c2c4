"""A linear solve that torch can differentiate: the backward pass solves the adjoint system."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from sciml.linalg.krylov import cg, gmres, minres
from sciml.linalg.operator import LinearOperator, as_operator
from sciml.linalg.solution import ConvergenceError, Solution
from sciml.linalg.sparse import SparseMatrix

__all__ = ["solve"]

Method = Literal["cg", "minres", "gmres"]
_SOLVERS = {"cg": cg, "minres": minres, "gmres": gmres}


def solve(
    A: SparseMatrix | LinearOperator,
    b: Tensor,
    *,
    method: Method = "cg",
    rtol: float = 1e-10,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    adjoint_M: Any = None,
) -> Tensor:
    """Solve ``A x = b`` and return ``x`` with gradients for ``b`` and the values of ``A``.

    The forward pass runs a Krylov solver; the backward pass solves the adjoint system
    ``A^T lambda = dL/dx`` with the same method, and returns ``dL/db = lambda`` and, for a
    :class:`~sciml.linalg.SparseMatrix`, ``dL/dA_ij = -lambda_i x_j`` on the stored entries only
    (the sparsity pattern is fixed). No iteration is unrolled, so memory does not grow with the
    number of iterations.

    Parameters
    ----------
    A : SparseMatrix or LinearOperator
        Square system matrix. Gradients reach ``A.values`` when they require grad; a general
        operator receives no gradient.
    b : torch.Tensor
        ``(n,)`` or ``(n, k)``.
    method : {"cg", "minres", "gmres"}, default "cg"
        Solver for both passes: ``cg`` for SPD, ``minres`` for symmetric, ``gmres`` otherwise.
        For ``gmres`` the backward pass uses the transpose ``A.T`` (a SparseMatrix is needed).
    rtol, atol, maxiter, M
        Passed to the solver (tight default ``rtol=1e-10``: gradient accuracy follows the
        accuracy of the forward and adjoint solves).
    adjoint_M : optional
        Preconditioner for the adjoint solve; default ``M`` for symmetric methods, none for
        ``gmres``.

    Returns
    -------
    torch.Tensor
        ``x``, shaped like ``b``.

    Raises
    ------
    ConvergenceError
        If the forward or the adjoint solve does not converge (a gradient from an unconverged
        solve would be silently wrong).
    ValueError
        On an unknown ``method`` or bad input.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import poisson2d, solve
    >>> A = poisson2d(8)
    >>> b = torch.ones(64, dtype=torch.float64, requires_grad=True)
    >>> solve(A, b).sum().backward()
    >>> b.grad.shape
    torch.Size([64])
    """
    if method not in _SOLVERS:
        raise ValueError(f"method must be one of {sorted(_SOLVERS)}, got {method!r}")
    op = A if isinstance(A, SparseMatrix) else as_operator(A)
    values = op.values if isinstance(op, SparseMatrix) else torch.empty(0)
    opts = {"rtol": rtol, "atol": atol, "maxiter": maxiter}
    return _Solve.apply(values, b, op, method, opts, M, adjoint_M)


def _run(method: str, A: Any, b: Tensor, opts: dict[str, Any], M: Any, what: str) -> Tensor:
    sol: Solution = _SOLVERS[method](A, b, M=M, **opts)
    if not bool(torch.all(sol.converged)):
        raise ConvergenceError(f"{what} solve ({method}) did not converge: {sol.message}")
    return sol.x


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        values: Tensor,
        b: Tensor,
        A: Any,
        method: str,
        opts: dict[str, Any],
        M: Any,
        adjoint_M: Any,
    ) -> Tensor:
        x = _run(method, A, b.detach(), opts, M, "forward")
        ctx.A, ctx.method, ctx.opts = A, method, opts
        ctx.adjoint_M = adjoint_M if adjoint_M is not None else (M if method != "gmres" else None)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad_x: Tensor) -> tuple[Tensor | None, ...]:
        (x,) = ctx.saved_tensors
        A = ctx.A
        At = A
        if ctx.method == "gmres":
            if not isinstance(A, SparseMatrix):
                raise TypeError("the gmres adjoint needs A.T: pass A as a SparseMatrix")
            At = A.T
        lam = _run(ctx.method, At, grad_x.contiguous(), ctx.opts, ctx.adjoint_M, "adjoint")
        grad_values = grad_b = None
        if ctx.needs_input_grad[0] and isinstance(A, SparseMatrix):
            rows, cols = A.row_indices.long(), A.col_indices.long()
            prod = lam[rows] * x[cols]
            grad_values = -(prod.sum(dim=1) if prod.ndim == 2 else prod)
        if ctx.needs_input_grad[1]:
            grad_b = lam
        return grad_values, grad_b, None, None, None, None, None
