"""Flexible conjugate gradients with truncated A-orthogonalisation."""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
from torch import Tensor

from sciml.linalg.krylov._common import Callback, Problem, colnorm, safe_div, vecdot
from sciml.linalg.solution import Reason, Solution

__all__ = ["fcg"]


@torch.no_grad()
def fcg(
    A: Any,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    truncation: int = 2,
    true_residual: bool = False,
    callback: Callback | None = None,
) -> Solution:
    """Solve an SPD system by flexible CG, which tolerates nonlinear or learned preconditioners.

    Each new direction ``d = M r`` is A-orthogonalised against the last ``truncation``
    directions (Notay's truncated FCG) instead of being combined by the CG ``beta`` recurrence,
    so ``M`` may vary between iterations or be a neural network ``r -> d``. With a fixed SPD
    ``M`` and ``truncation >= 1`` it reproduces preconditioned CG in exact arithmetic.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix, torch.Tensor or scipy.sparse matrix
        Symmetric positive definite, shape ``(n, n)``.
    b : torch.Tensor
        ``(n,)`` or ``(n, k)``.
    x0 : torch.Tensor, optional
        Initial guess shaped like ``b`` (default zeros).
    rtol, atol : float
        Stop column ``j`` when ``||b_j - A x_j|| <= max(rtol * ||b_j||, atol)`` (true residual).
    maxiter : int, optional
        Iteration limit; default ``10 * n``.
    M : LinearOperator or callable, optional
        Maps a residual block ``(n, k)`` to search directions; need not be linear or symmetric.
    truncation : int, default 2
        Number of previous directions each new one is A-orthogonalised against.
    true_residual : bool, default False
        Recompute ``r = b - A x`` after every step (one more product with ``A``) instead of
        updating it by ``r -= alpha A d``; with a nonlinear ``M`` this keeps the directions
        computed from the residual of the actual iterate (as the DCDM paper does).
    callback : callable, optional
        ``callback(x)`` after each iteration.

    Returns
    -------
    Solution
        :attr:`~sciml.linalg.Reason.INDEFINITE` if ``d.Ad <= 0`` for a direction (``A`` not SPD,
        or ``M`` returned a direction in the null space of ``A``).

    Raises
    ------
    ValueError, TypeError
        On bad input (see :func:`~sciml.linalg.cg`), or ``truncation < 1``.
    """
    if truncation < 1:
        raise ValueError(f"truncation must be >= 1, got {truncation}")
    P = Problem("fcg", A, b, x0, M, rtol, atol, maxiter, callback)
    R = P.initial_check()
    previous: deque[tuple[Tensor, Tensor, Tensor]] = deque(maxlen=truncation)
    for _ in range(P.maxiter):
        if not P.any_active():
            break
        d = P.precondition(R)
        if d.shape != R.shape:
            raise ValueError(f"preconditioner returned shape {tuple(d.shape)}, expected {R.shape}")
        d = d.clone() if d is R else d
        d_finite = torch.isfinite(d).all(dim=0)
        for p_j, q_j, pq_j in previous:
            coef = safe_div(vecdot(d, q_j), pq_j, P.active)
            d = d.addcmul(p_j, coef.unsqueeze(0), value=-1.0)
        q = P.A.matvec(d)
        dq = vecdot(d, q)
        P.stop_any(
            (~d_finite | ~torch.isfinite(dq), Reason.NONFINITE),
            (dq <= 0, Reason.INDEFINITE),
        )
        alpha = safe_div(vecdot(d, R), dq, P.active)
        d, q, R = P.step(alpha, d, q, R)
        if true_residual:
            R = torch.where(P.active.unsqueeze(0), P.residual(P.X), torch.zeros_like(R))
        previous.append((d, q, torch.where(P.active, dq, torch.ones_like(dq))))
        rnorm = colnorm(R)
        P.record(rnorm)
        P.check_converged(rnorm, R)
    return P.finish()
