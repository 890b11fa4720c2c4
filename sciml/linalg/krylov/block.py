"""Conjugate directions with several search directions per step (block line search)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sciml.linalg.krylov._common import Callback, Problem, colnorm
from sciml.linalg.solution import Reason, Solution

__all__ = ["conjugate_directions"]


def conjugate_directions(
    A: Any,
    b: Tensor,
    directions: Callable[[Tensor], Tensor],
    x0: Tensor | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    truncation: int = 2,
    callback: Callback | None = None,
) -> Solution:
    """Solve an SPD system with ``m`` search directions per step, chosen by ``directions(r)``.

    Each step asks ``directions`` for a block ``D`` of shape ``(n, m)`` from the current
    residual, A-orthogonalises it against the blocks of the last ``truncation`` steps, drops
    directions that are (numerically) dependent, and minimises the A-norm of the error over
    ``x + span(D)`` (a Galerkin solve with ``D^T A D``); the residual is then recomputed as
    ``b - A x``. The A-norm of the error never increases, whatever ``directions`` returns, and
    each column of ``D`` gets its own step length, so their scales do not matter. With ``m = 1``
    this is :func:`~sciml.linalg.fcg` with ``true_residual=True``.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix, torch.Tensor or scipy.sparse matrix
        Symmetric positive definite, ``(n, n)``.
    b : torch.Tensor
        ``(n,)`` (one right-hand side).
    directions : callable
        ``r (n,) -> D (n, m)``, e.g. a learned direction generator on several grid levels
        (:func:`sciml.dcdm.dcdm` with ``levels``); converted to ``b``'s dtype and device.
    x0 : torch.Tensor, optional
    rtol, atol : float
        Stop when ``||b - A x|| <= max(rtol ||b||, atol)``.
    maxiter : int, optional
        Default ``10 n``.
    truncation : int, default 2
        How many previous blocks the new one is A-orthogonalised against.
    callback : callable, optional
        Called with ``x`` after every step.

    Returns
    -------
    Solution
        ``iterations`` counts steps (each with ``m`` products with ``A``);
        :attr:`~sciml.linalg.Reason.INDEFINITE` when ``D^T A D`` has no positive eigenvalue or
        a clearly negative one, :attr:`~sciml.linalg.Reason.NONFINITE` on NaN/Inf directions.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import conjugate_directions, poisson2d
    >>> A = poisson2d(16)
    >>> b = torch.ones(A.shape[0], dtype=A.dtype)
    >>> sol = conjugate_directions(A, b, lambda r: torch.stack([r, r * r], 1), rtol=1e-8)
    >>> bool(sol.converged)
    True
    """
    if truncation < 1:
        raise ValueError(f"truncation must be >= 1, got {truncation}")
    if not isinstance(b, Tensor) or b.ndim != 1:
        shape = tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__
        raise ValueError(f"conjugate_directions solves one right-hand side (n,), got {shape}")
    P = Problem("conjugate_directions", A, b, x0, None, rtol, atol, maxiter, callback)
    n = P.B.shape[0]
    R = P.initial_check()
    previous: deque[tuple[Tensor, Tensor]] = deque(maxlen=truncation)
    for _ in range(P.maxiter):
        if not P.any_active():
            break
        D = directions(R[:, 0])
        if not isinstance(D, Tensor) or D.ndim not in (1, 2) or D.shape[0] != n:
            got = tuple(D.shape) if isinstance(D, Tensor) else type(D).__name__
            raise ValueError(f"directions must return an (n, m) block with n = {n}, got {got}")
        D = D.reshape(n, -1).to(dtype=P.B.dtype, device=P.B.device)
        if not bool(torch.isfinite(D).all()):
            P.stop(P.active.clone(), Reason.NONFINITE)
            break
        for Pj, APj in previous:  # previous blocks are A-orthonormal
            D = D - Pj @ (APj.T @ D)
        AD = P.A.matvec(D)
        G = D.T @ AD
        evals, evecs = torch.linalg.eigh(0.5 * (G + G.T))
        top = evals.max()
        if not bool(top > 0) or bool(evals.min() < -1e-8 * top.abs()):
            P.stop(P.active.clone(), Reason.INDEFINITE)
            break
        keep = evals > 1e-12 * top
        scale = evecs[:, keep] / evals[keep].sqrt()  # A-orthonormal basis of span(D)
        D, AD = D @ scale, AD @ scale
        P.X += D @ (D.T @ R)
        R = P.residual(P.X)
        previous.append((D, AD))
        rnorm = colnorm(R)
        P.record(rnorm)
        P.check_converged(rnorm, R)
    return P.finish()
