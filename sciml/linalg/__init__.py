"""Sparse linear algebra on torch: matrices, operators, Krylov solvers, preconditioners.

Everything here runs on CPU or CUDA tensors in float32 or float64 and knows nothing of meshes
or networks. The main pieces:

* :class:`SparseMatrix` -- CSR matrix (from/to SciPy and PETSc), differentiable products.
* :class:`LinearOperator` -- the protocol every solver accepts for ``A`` and ``M``.
* :func:`cg`, :func:`minres`, :func:`gmres`, :func:`fcg` -- batched Krylov solvers with a
  SciPy-compatible call, returning a :class:`Solution`.
* :func:`jacobi`, :func:`amg` -- preconditioners; :func:`coarse_correction` -- an exact
  Galerkin coarse-space correction (e.g. on :func:`grid_prolongation`'s coarse grid;
  :func:`grid_coarse_correction` builds that one faster for grid stencil matrices).
* :func:`petsc_solve` -- PETSc's KSP/PC (ICC, GAMG, ...) on the same matrices and result type.
* :func:`solve` -- a linear solve with gradients by the adjoint method.
"""

from sciml.linalg.gallery import grid_faces, grid_prolongation, poisson2d, poisson_grid
from sciml.linalg.krylov import cg, conjugate_directions, fcg, gmres, minres
from sciml.linalg.lanczos import RitzPairs, lanczos
from sciml.linalg.operator import (
    DenseOperator,
    DiagonalOperator,
    IdentityOperator,
    LinearOperator,
    MatrixFreeOperator,
    as_operator,
)
from sciml.linalg.petsc import TorchPC, petsc_solve, to_petsc
from sciml.linalg.precond import (
    AMGLevel,
    AMGPreconditioner,
    CoarseCorrection,
    JacobiPreconditioner,
    SeparableProlongation,
    amg,
    coarse_correction,
    grid_coarse_correction,
    jacobi,
)
from sciml.linalg.solution import ConvergenceError, Reason, Solution
from sciml.linalg.solve import solve
from sciml.linalg.sparse import SparseMatrix

__all__ = [
    "AMGLevel",
    "AMGPreconditioner",
    "CoarseCorrection",
    "ConvergenceError",
    "DenseOperator",
    "DiagonalOperator",
    "IdentityOperator",
    "JacobiPreconditioner",
    "LinearOperator",
    "MatrixFreeOperator",
    "Reason",
    "RitzPairs",
    "SeparableProlongation",
    "Solution",
    "SparseMatrix",
    "TorchPC",
    "amg",
    "as_operator",
    "cg",
    "coarse_correction",
    "conjugate_directions",
    "fcg",
    "gmres",
    "grid_coarse_correction",
    "grid_faces",
    "grid_prolongation",
    "jacobi",
    "lanczos",
    "minres",
    "petsc_solve",
    "poisson2d",
    "poisson_grid",
    "solve",
    "to_petsc",
]
