"""Restarted GMRES with (flexible) right preconditioning, batched over right-hand sides."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sciml.linalg.krylov._common import Callback, Problem, colnorm, safe_div
from sciml.linalg.solution import Reason, Solution

__all__ = ["gmres"]


@torch.no_grad()
def gmres(
    A: Any,
    b: Tensor,
    x0: Tensor | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    restart: int = 30,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callback | None = None,
) -> Solution:
    """Solve a general square system ``A x = b`` by restarted GMRES.

    Right preconditioning is used, ``A M u = b, x = M u``, in its flexible form (the vectors
    ``M v_j`` are stored), so the minimised quantity is the true residual ``||b - A x||`` and
    ``M`` may even change from one application to the next (a nonlinear or learned
    preconditioner). Orthogonalisation is classical Gram-Schmidt applied twice, which is as
    stable as modified Gram-Schmidt and runs as matrix products on the whole basis.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix, torch.Tensor or scipy.sparse matrix
        Shape ``(n, n)``, any (non-singular) matrix.
    b : torch.Tensor
        ``(n,)`` or ``(n, k)``.
    x0 : torch.Tensor, optional
        Initial guess shaped like ``b`` (default zeros).
    rtol, atol : float
        Stop column ``j`` when ``||b_j - A x_j|| <= max(rtol * ||b_j||, atol)`` (true residual).
    restart : int, default 30
        Krylov subspace dimension between restarts.
    maxiter : int, optional
        Limit on the total number of inner iterations (products with ``A``); default ``10 * n``.
    M : LinearOperator or callable, optional
        Preconditioner approximating ``A^{-1}``.
    callback : callable, optional
        ``callback(x)`` after each restart cycle with the updated iterate.

    Returns
    -------
    Solution
        ``iterations`` counts inner iterations; ``residual_norms`` holds the least-squares
        residual estimate after every inner iteration (the true residual at each restart).

    Raises
    ------
    ValueError, TypeError
        On bad input (see :func:`~sciml.linalg.cg`), or ``restart < 1``.
    """
    if restart < 1:
        raise ValueError(f"restart must be >= 1, got {restart}")
    P = Problem("gmres", A, b, x0, M, rtol, atol, maxiter, None)
    R = P.initial_check()
    X = P.X
    n, k = R.shape
    m = min(restart, max(n, 1))
    dtype, device = R.dtype, R.device
    V = torch.zeros(m + 1, n, k, dtype=dtype, device=device)
    Z = torch.zeros(m, n, k, dtype=dtype, device=device)
    total = 0
    while P.any_active() and total < P.maxiter:
        beta = colnorm(R)
        cycle = P.active.clone()  # columns taking part in this cycle
        V[0] = R * safe_div(torch.ones_like(beta), beta, cycle)
        H = torch.zeros(k, m + 1, m, dtype=dtype, device=device)
        g = torch.zeros(k, m + 1, dtype=dtype, device=device)
        g[:, 0] = torch.where(cycle, beta, torch.zeros_like(beta))
        cs = torch.zeros(k, m, dtype=dtype, device=device)
        sn = torch.zeros(k, m, dtype=dtype, device=device)
        live = cycle.clone()  # columns still extending their Krylov space in this cycle
        steps = 0
        for j in range(m):
            if not bool(live.any()) or total >= P.maxiter:
                break
            Z[j] = P.precondition(V[j])
            w = P.A.matvec(Z[j])
            basis = V[: j + 1]
            h = torch.einsum("jnk,nk->kj", basis, w)
            w = w - torch.einsum("jnk,kj->nk", basis, h)
            h2 = torch.einsum("jnk,nk->kj", basis, w)
            w = w - torch.einsum("jnk,kj->nk", basis, h2)
            h = h + h2
            hnorm = colnorm(w)
            bad = live & ~(torch.isfinite(hnorm) & torch.isfinite(h).all(dim=1))
            if bool(bad.any()):
                P.stop(bad, Reason.NONFINITE)
                live &= ~bad
                cycle &= ~bad
            col = torch.zeros(k, m + 1, dtype=dtype, device=device)
            col[:, : j + 1] = h
            col[:, j + 1] = hnorm
            V[j + 1] = w * safe_div(torch.ones_like(hnorm), hnorm, live & (hnorm > 0))
            # apply the previous rotations, then a new one zeroing the subdiagonal entry
            for i in range(j):
                a, c = col[:, i].clone(), col[:, i + 1].clone()
                col[:, i] = cs[:, i] * a + sn[:, i] * c
                col[:, i + 1] = -sn[:, i] * a + cs[:, i] * c
            a, c = col[:, j].clone(), col[:, j + 1].clone()
            denom = torch.sqrt(a * a + c * c)
            ok = live & (denom > 0)
            cs[:, j] = torch.where(ok, a / torch.where(ok, denom, 1), torch.ones_like(a))
            sn[:, j] = torch.where(ok, c / torch.where(ok, denom, 1), torch.zeros_like(a))
            col[:, j] = torch.where(ok, denom, torch.ones_like(a))
            col[:, j + 1] = 0.0
            # columns that are not live get an identity column (and g_j = 0) so their y_j = 0
            col[~live] = 0.0
            col[~live, j] = 1.0
            g[:, j + 1] = -sn[:, j] * g[:, j]
            g[:, j] = cs[:, j] * g[:, j]
            H[:, :, j] = col
            steps = j + 1
            total += 1
            P.iterations += live.to(torch.int64)
            estimate = g[:, j + 1].abs()
            P.history.append(torch.where(live, estimate, torch.full_like(estimate, float("nan"))))
            # a column leaves the cycle when its estimate meets the tolerance or its space is
            # invariant (hnorm = 0, "lucky breakdown"); the restart then checks the true residual
            done = live & ((estimate <= P.threshold) | (hnorm == 0))
            live &= ~done
            g[done, j + 1] = 0.0
        if steps == 0:
            break
        Hs = H[:, :steps, :steps]
        y = torch.linalg.solve_triangular(Hs, g[:, :steps].unsqueeze(2), upper=True)[..., 0]
        y = torch.where(cycle.unsqueeze(1), y, torch.zeros_like(y))
        X.add_(torch.einsum("jnk,kj->nk", Z[:steps], y))
        R = P.B - P.A.matvec(X)
        rnorm = colnorm(R)
        if P.history:
            P.history[-1] = torch.where(cycle, rnorm, P.history[-1])
        if P.callback is not None:
            P.callback(X[:, 0] if P.vector else X)
        converged = P.stop(cycle & (rnorm <= P.threshold), Reason.CONVERGED)
        # a full cycle that did not reduce the residual at all cannot make progress
        stalled = cycle & ~converged & (rnorm >= beta * (1 - 1e-14)) & (beta > 0)
        P.stop(stalled, Reason.STAGNATION)
        P.stop(cycle & ~torch.isfinite(rnorm), Reason.NONFINITE)
    return P.finish()
