"""Preconditioners: operators approximating ``A^{-1}`` for the ``M=`` argument of the solvers."""

from sciml.linalg.precond.amg import AMGLevel, AMGPreconditioner, amg
from sciml.linalg.precond.coarse import (
    CoarseCorrection,
    SeparableProlongation,
    coarse_correction,
    grid_coarse_correction,
)
from sciml.linalg.precond.jacobi import JacobiPreconditioner, jacobi

__all__ = [
    "AMGLevel",
    "AMGPreconditioner",
    "CoarseCorrection",
    "JacobiPreconditioner",
    "SeparableProlongation",
    "amg",
    "coarse_correction",
    "grid_coarse_correction",
    "jacobi",
]
