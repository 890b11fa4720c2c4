"""Preconditioned conjugate gradients, batched over right-hand sides."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sciml.linalg.krylov._common import Callback, Problem, colnorm, safe_div, vecdot
from sciml.linalg.solution import Reason, Solution

__all__ = ["cg"]


@torch.no_grad()
def cg(
    A: Any,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callback | None = None,
) -> Solution:
    """Solve ``A x = b`` for symmetric positive definite ``A`` by preconditioned CG.

    The iteration is the one of :func:`scipy.sparse.linalg.cg` (same iterates in exact and,
    in float64, in floating-point arithmetic), run on torch tensors on any device and batched
    over the columns of ``b``: each column has its own step lengths and stops on its own.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix, torch.Tensor or scipy.sparse matrix
        Symmetric positive definite, shape ``(n, n)``.
    b : torch.Tensor
        Right-hand side ``(n,)`` or block of right-hand sides ``(n, k)``.
    x0 : torch.Tensor, optional
        Initial guess shaped like ``b`` (default zeros). It receives no gradient.
    rtol, atol : float
        Column ``j`` has converged when ``||b_j - A x_j|| <= max(rtol * ||b_j||, atol)``, tested
        on the true (unpreconditioned) residual.
    maxiter : int, optional
        Iteration limit per column; default ``10 * n``.
    M : LinearOperator or callable, optional
        Symmetric positive definite preconditioner approximating ``A^{-1}``, for example
        :func:`~sciml.linalg.jacobi` or :func:`~sciml.linalg.amg`.
    callback : callable, optional
        Called as ``callback(x)`` after every iteration with the current iterate.

    Returns
    -------
    Solution
        With ``reason`` :attr:`~sciml.linalg.Reason.INDEFINITE` when ``p.Ap <= 0`` shows that
        ``A`` is not SPD, :attr:`~sciml.linalg.Reason.PRECONDITIONER_INDEFINITE` when
        ``r.Mr <= 0``, :attr:`~sciml.linalg.Reason.NONFINITE` on NaN/Inf.

    Raises
    ------
    ValueError, TypeError
        On bad input: non-square ``A``, shape/dtype/device mismatches, NaN/Inf in ``b`` or
        ``x0``, negative tolerances.

    Notes
    -----
    The residual is updated by the usual recurrence; when a column's recurrence residual meets
    the tolerance it is confirmed with one product ``b - A x`` and, if the true residual is
    still too large, the recurrence restarts from it. :attr:`Solution.converged` therefore
    always refers to the true residual of the returned ``x``.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import cg, poisson2d
    >>> A = poisson2d(32)
    >>> sol = cg(A, torch.ones(A.shape[0], dtype=torch.float64), rtol=1e-8)
    >>> bool(sol.converged)
    True
    """
    P = Problem("cg", A, b, x0, M, rtol, atol, maxiter, callback)
    R = P.initial_check()
    p = torch.empty_like(R)
    rho_prev = torch.ones(P.k, dtype=R.dtype, device=R.device)
    for it in range(P.maxiter):
        if not P.any_active():
            break
        Z = P.precondition(R)
        rho = vecdot(R, Z)
        if it == 0:
            p.copy_(Z)
        else:
            beta = safe_div(rho, rho_prev, P.active)
            p.mul_(beta).add_(Z)
        q = P.A.matvec(p)
        pq = vecdot(p, q)
        P.stop_any(
            (~torch.isfinite(rho), Reason.NONFINITE),
            (rho <= 0, Reason.PRECONDITIONER_INDEFINITE),
            (~torch.isfinite(pq), Reason.NONFINITE),
            (pq <= 0, Reason.INDEFINITE),
        )
        alpha = safe_div(rho, pq, P.active)
        p, q, R = P.step(alpha, p, q, R)
        rho_prev = rho
        rnorm = colnorm(R)
        P.record(rnorm)
        P.check_converged(rnorm, R)
    return P.finish()
