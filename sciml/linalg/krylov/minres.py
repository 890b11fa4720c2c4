"""MINRES for symmetric (possibly indefinite) systems, batched over right-hand sides."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sciml.linalg.krylov._common import Callback, Problem, colnorm, safe_div, vecdot
from sciml.linalg.solution import Reason, Solution

__all__ = ["minres"]


@torch.no_grad()
def minres(
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
    """Solve ``A x = b`` for symmetric ``A`` (definite or indefinite) by MINRES.

    The Lanczos recurrence and Givens rotations follow Paige and Saunders (1975) as in
    :func:`scipy.sparse.linalg.minres`. Besides the iterate, the residual ``b - A x`` is carried
    along by a recurrence of the products ``A w_k`` (no extra matrix product), so the stopping
    rule uses the unpreconditioned residual 2-norm even with a preconditioner.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix, torch.Tensor or scipy.sparse matrix
        Symmetric, shape ``(n, n)``.
    b : torch.Tensor
        ``(n,)`` or ``(n, k)``.
    x0 : torch.Tensor, optional
        Initial guess shaped like ``b`` (default zeros).
    rtol, atol : float
        Stop column ``j`` when ``||b_j - A x_j|| <= max(rtol * ||b_j||, atol)`` (true residual).
    maxiter : int, optional
        Iteration limit; default ``5 * n``.
    M : LinearOperator or callable, optional
        Symmetric positive definite preconditioner approximating ``A^{-1}``.
    callback : callable, optional
        ``callback(x)`` after each iteration.

    Returns
    -------
    Solution
        :attr:`~sciml.linalg.Reason.PRECONDITIONER_INDEFINITE` if ``M`` is not positive
        definite; :attr:`~sciml.linalg.Reason.STAGNATION` if the Krylov space became invariant
        without reaching the tolerance (e.g. an inconsistent singular system).

    Raises
    ------
    ValueError, TypeError
        On bad input (see :func:`~sciml.linalg.cg`).
    """
    P = Problem("minres", A, b, x0, M, rtol, atol, maxiter, callback, lambda n: 5 * n)
    R = P.initial_check()
    X = P.X
    eps = torch.finfo(R.dtype).eps
    zeros = torch.zeros(P.k, dtype=R.dtype, device=R.device)

    r1 = R.clone()
    y = P.precondition(r1)
    beta1 = vecdot(r1, y)
    P.stop(beta1 < 0, Reason.PRECONDITIONER_INDEFINITE)
    beta = torch.sqrt(torch.clamp(beta1, min=0))
    oldb = zeros.clone()
    dbar = zeros.clone()
    epsln = zeros.clone()
    phibar = beta.clone()
    cs = -torch.ones_like(zeros)
    sn = zeros.clone()
    w = torch.zeros_like(R)
    w2 = torch.zeros_like(R)
    Aw = torch.zeros_like(R)
    Aw2 = torch.zeros_like(R)
    r2 = r1
    for itn in range(P.maxiter):
        if not P.any_active():
            break
        act = P.active & (beta > 0)
        s = safe_div(torch.ones_like(beta), beta, act)
        v = y * s
        Av = P.A.matvec(v)
        y = Av.clone()
        if itn > 0:
            y.addcmul_(r1, safe_div(beta, oldb, act), value=-1.0)
        alfa = vecdot(v, y)
        y.addcmul_(r2, safe_div(alfa, beta, act), value=-1.0)
        r1 = r2
        r2 = y
        y = P.precondition(r2)
        oldb = beta
        beta2 = vecdot(r2, y)
        P.stop_any(
            (~torch.isfinite(beta2) | ~torch.isfinite(alfa), Reason.NONFINITE),
            (beta2 < 0, Reason.PRECONDITIONER_INDEFINITE),
        )
        beta = torch.sqrt(torch.clamp(torch.nan_to_num(beta2), min=0))
        # previous rotation
        oldeps = epsln
        delta = cs * dbar + sn * alfa
        gbar = sn * dbar - cs * alfa
        epsln = sn * beta
        dbar = -cs * beta
        # next rotation
        gamma = torch.clamp(torch.sqrt(gbar * gbar + beta * beta), min=eps)
        cs = gbar / gamma
        sn = beta / gamma
        phi = torch.where(P.active, cs * phibar, zeros)
        phibar = sn * phibar
        inv_gamma = torch.where(P.active, 1.0 / gamma, zeros)
        w1, w2 = w2, w
        w = (v - w1 * oldeps - w2 * delta) * inv_gamma
        Aw1, Aw2 = Aw2, Aw
        Aw = (Av - Aw1 * oldeps - Aw2 * delta) * inv_gamma
        X.addcmul_(w, phi.unsqueeze(0))
        R.addcmul_(Aw, phi.unsqueeze(0), value=-1.0)
        rnorm = colnorm(R)
        P.record(rnorm)
        P.check_converged(rnorm, R)
        # an invariant Krylov space (beta = 0) means no further progress is possible
        P.stop(beta == 0, Reason.STAGNATION)
    return P.finish()
