"""What an iterative solver hands back: the solution, whether it converged, and why it stopped."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ConvergenceError", "Reason", "Solution"]


class Reason(enum.Enum):
    """Why a solver stopped. Each value's text says what to change when it is a failure."""

    #: The true residual met the tolerance.
    CONVERGED = "converged: ||b - A x|| <= max(rtol * ||b||, atol)"
    #: The iteration limit was reached first.
    MAX_ITERATIONS = (
        "maxiter reached before the tolerance: raise maxiter, loosen rtol/atol, or pass a "
        "(better) preconditioner M"
    )
    #: ``p.Ap <= 0`` in CG/FCG: the matrix is not positive definite.
    INDEFINITE = (
        "breakdown: p.Ap <= 0, so A is not symmetric positive definite; use minres for "
        "symmetric indefinite matrices or gmres for non-symmetric ones"
    )
    #: ``r.Mr <= 0``: the preconditioner is not positive definite.
    PRECONDITIONER_INDEFINITE = (
        "breakdown: r.Mr <= 0, so the preconditioner M is not positive definite; CG and MINRES "
        "need a symmetric positive definite M (use fcg or gmres for other preconditioners)"
    )
    #: A NaN or Inf appeared.
    NONFINITE = (
        "breakdown: a NaN or Inf appeared during the iteration; check A and M for overflow or "
        "try float64"
    )
    #: No further progress is possible (invariant Krylov space, stalled restart).
    STAGNATION = (
        "stagnation: the Krylov space stopped growing (or the residual stopped decreasing) before "
        "the tolerance was met; the system may be singular or inconsistent"
    )

    @property
    def ok(self) -> bool:
        """Whether this reason means success."""
        return self is Reason.CONVERGED


class ConvergenceError(RuntimeError):
    """Raised by :meth:`Solution.raise_if_failed` and by solves that must converge."""


@dataclass(frozen=True)
class Solution:
    """Result of an iterative solve of ``A x = b``.

    For a single right-hand side ``b`` of shape ``(n,)``, the per-column fields are scalars
    (0-d tensors, or one :class:`Reason`); for a block ``(n, k)`` they have one entry per column.

    Attributes
    ----------
    x : torch.Tensor
        The approximate solution, shaped like ``b``.
    converged : torch.Tensor
        ``bool``; True where ``||b - A x|| <= max(rtol * ||b||, atol)`` holds for the returned
        ``x`` (checked with the true residual, not the recurrence).
    iterations : torch.Tensor
        ``int64``; iterations (products with ``A``, not counting residual checks) per column.
    residual_norms : torch.Tensor
        History of the residual 2-norm, shape ``(m + 1,)`` or ``(m + 1, k)``: entry 0 is the
        initial residual and entry ``i`` the residual after iteration ``i``. For a block, a column
        that stopped early is padded with NaN.
    residual_norm : torch.Tensor
        Final true residual norm ``||b - A x||`` per column.
    reason : Reason or tuple of Reason
        Why each column stopped.
    """

    x: Tensor
    converged: Tensor
    iterations: Tensor
    residual_norms: Tensor
    residual_norm: Tensor
    reason: Reason | tuple[Reason, ...]

    @property
    def message(self) -> str:
        """A human-readable summary of how the solve ended."""
        reasons = (self.reason,) if isinstance(self.reason, Reason) else self.reason
        failures = sorted({r.value for r in reasons if not r.ok})
        its = self.iterations.max().item() if self.iterations.numel() else 0
        res = self.residual_norm.max().item() if self.residual_norm.numel() else 0.0
        head = f"{sum(r.ok for r in reasons)}/{len(reasons)} converged"
        head += f" in at most {its} iterations, max residual {res:.3e}"
        return head if not failures else head + "; " + "; ".join(failures)

    def raise_if_failed(self) -> Solution:
        """Raise :class:`ConvergenceError` unless every column converged; return ``self``.

        Returns
        -------
        Solution
            ``self``, so that ``x = cg(A, b).raise_if_failed().x`` reads naturally.
        """
        if not bool(torch.all(self.converged)):
            raise ConvergenceError(self.message)
        return self
