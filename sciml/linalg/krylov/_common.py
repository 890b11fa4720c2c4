"""Input checks and convergence bookkeeping shared by the Krylov solvers.

Every solver works on a block ``(n, k)`` internally; a vector right-hand side is a block of one
column. Columns are independent: each has its own step sizes, its own convergence test and its
own stopping reason, and a column that stopped is frozen (its iterate no longer changes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sciml.linalg.operator import IdentityOperator, LinearOperator, as_operator
from sciml.linalg.solution import Reason, Solution
from sciml.linalg.sparse import _check_finite

Callback = Callable[[Tensor], Any]


def vecdot(a: Tensor, b: Tensor) -> Tensor:
    """Column-wise dot products of two blocks ``(n, k)`` -> ``(k,)``."""
    return torch.linalg.vecdot(a, b, dim=0)


def colnorm(a: Tensor) -> Tensor:
    """Column-wise 2-norms of a block ``(n, k)`` -> ``(k,)``."""
    return torch.linalg.vector_norm(a, dim=0)


class Problem:
    """A validated linear system ``A X = B`` with its tolerances and bookkeeping.

    Parameters
    ----------
    name : str
        Solver name, used in error messages.
    A, b, x0, M, rtol, atol, maxiter, callback
        As in :func:`sciml.linalg.cg`.
    default_maxiter : callable
        Maps ``n`` to the default iteration limit.
    """

    def __init__(
        self,
        name: str,
        A: Any,
        b: Tensor,
        x0: Tensor | None,
        M: Any,
        rtol: float,
        atol: float,
        maxiter: int | None,
        callback: Callback | None,
        default_maxiter: Callable[[int], int] = lambda n: 10 * n,
    ) -> None:
        self.A: LinearOperator = as_operator(A)
        n_rows, n_cols = self.A.shape
        if n_rows != n_cols:
            raise ValueError(f"{name} needs a square matrix, got shape {self.A.shape}")
        n = n_rows
        if not isinstance(b, Tensor):
            raise TypeError(f"b must be a torch.Tensor, got {type(b)!r}")
        if b.ndim not in (1, 2):
            raise ValueError(
                f"b must be a vector (n,) or a block (n, k), got shape {tuple(b.shape)}"
            )
        if b.shape[0] != n:
            raise ValueError(f"b has {b.shape[0]} rows but A is {n}x{n}")
        if b.dtype != self.A.dtype:
            raise TypeError(f"dtype mismatch: A is {self.A.dtype}, b is {b.dtype}")
        if b.device != self.A.device:
            raise ValueError(f"device mismatch: A is on {self.A.device}, b on {b.device}")
        _check_finite(b, "b")
        for label, tol in (("rtol", rtol), ("atol", atol)):
            if not (math.isfinite(tol) and tol >= 0):
                raise ValueError(f"{label} must be finite and >= 0, got {tol}")
        if maxiter is None:
            maxiter = default_maxiter(n)
        if int(maxiter) != maxiter or maxiter < 0:
            raise ValueError(f"maxiter must be a non-negative int, got {maxiter}")
        self.name = name
        self.vector = b.ndim == 1
        self.B = b.detach().reshape(n, -1)
        k = self.B.shape[1]
        if x0 is None:
            self.X = torch.zeros_like(self.B)
            self.x0_zero = True
        else:
            if not isinstance(x0, Tensor):
                raise TypeError(f"x0 must be a torch.Tensor, got {type(x0)!r}")
            if x0.shape != b.shape:
                raise ValueError(f"x0 has shape {tuple(x0.shape)}, b has {tuple(b.shape)}")
            if x0.dtype != b.dtype or x0.device != b.device:
                raise TypeError(
                    f"x0 ({x0.dtype}, {x0.device}) must match b ({b.dtype}, {b.device})"
                )
            _check_finite(x0, "x0")
            self.X = x0.detach().reshape(n, -1).clone()
            self.x0_zero = not bool(x0.any())
        if M is None:
            self.M: LinearOperator = IdentityOperator(n, dtype=b.dtype, device=b.device)
            self.identity_M = True
        else:
            self.M = as_operator(M, like=self.A)
            self.identity_M = isinstance(self.M, IdentityOperator)
            if tuple(self.M.shape) != (n, n):
                raise ValueError(f"preconditioner M has shape {self.M.shape}, expected {(n, n)}")
            if self.M.dtype != b.dtype:
                raise TypeError(f"dtype mismatch: M is {self.M.dtype}, A and b are {b.dtype}")
            if self.M.device != b.device:
                raise ValueError(f"device mismatch: M is on {self.M.device}, A and b on {b.device}")
        self.maxiter = int(maxiter)
        self.callback = callback
        bnorm = colnorm(self.B)
        self.threshold = torch.clamp(rtol * bnorm, min=atol)
        self.active = torch.ones(k, dtype=torch.bool, device=b.device)
        self.iterations = torch.zeros(k, dtype=torch.int64, device=b.device)
        self.reasons: list[Reason | None] = [None] * k
        self.history: list[Tensor] = []

    # ------------------------------------------------------------------ helpers
    @property
    def k(self) -> int:
        """Number of right-hand sides."""
        return self.B.shape[1]

    def residual(self, X: Tensor) -> Tensor:
        """True residual ``B - A X``."""
        if X is self.X and self.x0_zero and not self.history:
            return self.B.clone()
        return self.B - self.A.matvec(X)

    def precondition(self, R: Tensor) -> Tensor:
        """``M R``."""
        return R if self.identity_M else self.M.matvec(R)

    def any_active(self) -> bool:
        """Whether some column is still iterating."""
        return bool(self.active.any())

    def record(self, rnorm: Tensor, *, count: bool = True) -> None:
        """Append residual norms to the history; count an iteration for each active column."""
        if count:
            self.iterations += self.active.to(torch.int64)
        self.history.append(torch.where(self.active, rnorm, torch.full_like(rnorm, math.nan)))
        if self.callback is not None and count:
            self.callback(self.X[:, 0] if self.vector else self.X)

    def stop(self, mask: Tensor, reason: Reason) -> Tensor:
        """Stop the active columns in ``mask`` with ``reason``; return the newly stopped mask."""
        newly = mask & self.active
        if bool(newly.any()):
            for j in torch.nonzero(newly).flatten().tolist():
                self.reasons[j] = reason
            self.active &= ~newly
        return newly

    def stop_any(self, *checks: tuple[Tensor, Reason]) -> None:
        """Apply several ``(mask, reason)`` stops with one device synchronisation when none
        fires (the common case); earlier checks take precedence."""
        union = torch.zeros_like(self.active)
        for mask, _ in checks:
            union |= mask
        if bool((union & self.active).any()):
            for mask, reason in checks:
                self.stop(mask, reason)

    def check_converged(self, rnorm: Tensor, R: Tensor | None = None) -> Tensor:
        """Confirm convergence of columns whose (recurrence) residual met the tolerance.

        Candidates are checked with the true residual ``B - A X``; those that pass stop with
        :attr:`Reason.CONVERGED`. For the others the recurrence residual ``R`` (when given) is
        replaced by the true one, so that the iteration continues from an honest residual.

        Returns
        -------
        torch.Tensor
            Mask of the columns that stopped now.
        """
        candidates = self.active & (rnorm <= self.threshold)
        if not bool(candidates.any()):
            return candidates
        true_r = self.B - self.A.matvec(self.X)
        true_norm = colnorm(true_r)
        ok = candidates & (true_norm <= self.threshold)
        if R is not None:
            replace = candidates & ~ok
            if bool(replace.any()):
                R[:, replace] = true_r[:, replace]
        return self.stop(ok, Reason.CONVERGED)

    def step(self, alpha: Tensor, p: Tensor, q: Tensor, R: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``X += alpha p`` and ``R -= alpha q`` column-wise, with ``q = A p``.

        Frozen columns keep their iterate; their ``p``, ``q`` and ``R`` are zeroed so that a
        NaN from a breakdown never reaches later steps. Returns the (masked) ``p, q, R``.
        """
        if not bool(self.active.all()):
            keep = self.active.unsqueeze(0)
            p = torch.where(keep, p, torch.zeros_like(p))
            q = torch.where(keep, q, torch.zeros_like(q))
            R = torch.where(keep, R, torch.zeros_like(R))
        self.X.addcmul_(p, alpha.unsqueeze(0))
        R.addcmul_(q, alpha.unsqueeze(0), value=-1.0)
        return p, q, R

    def initial_check(self) -> Tensor:
        """Residual of the initial guess, recorded and tested; returns ``R0``."""
        R = self.residual(self.X)
        rnorm = colnorm(R)
        self.stop(~torch.isfinite(rnorm), Reason.NONFINITE)
        self.stop(rnorm <= self.threshold, Reason.CONVERGED)
        self.record(rnorm, count=False)
        return R

    def finish(self) -> Solution:
        """Build the :class:`Solution`: final true residual and reasons for every column."""
        self.stop(self.active.clone(), Reason.MAX_ITERATIONS)
        final = colnorm(self.B - self.A.matvec(self.X))
        reasons = [r if r is not None else Reason.MAX_ITERATIONS for r in self.reasons]
        converged = torch.tensor(
            [r is Reason.CONVERGED for r in reasons], dtype=torch.bool, device=self.B.device
        )
        # a column reported as converged must satisfy the rule on the returned iterate
        converged &= final <= self.threshold * (1 + 1e-12) + torch.finfo(final.dtype).tiny
        reasons = [
            Reason.MAX_ITERATIONS if r is Reason.CONVERGED and not bool(c) else r
            for r, c in zip(reasons, converged.tolist(), strict=True)
        ]
        history = torch.stack(self.history)
        if self.vector:
            return Solution(
                x=self.X[:, 0],
                converged=converged[0],
                iterations=self.iterations[0],
                residual_norms=history[:, 0],
                residual_norm=final[0],
                reason=reasons[0],
            )
        return Solution(
            x=self.X,
            converged=converged,
            iterations=self.iterations,
            residual_norms=history,
            residual_norm=final,
            reason=tuple(reasons),
        )


def safe_div(num: Tensor, den: Tensor, mask: Tensor) -> Tensor:
    """``num / den`` where ``mask`` holds, 0 elsewhere (never divides by a masked-out 0)."""
    one = torch.ones_like(den)
    return torch.where(mask, num / torch.where(mask, den, one), torch.zeros_like(num))
