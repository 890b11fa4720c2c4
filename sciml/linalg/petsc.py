"""PETSc's Krylov solvers on a :class:`SparseMatrix`, returning the same :class:`Solution`.

For comparisons with the torch solvers (incomplete Cholesky, GAMG, ...) and for users whose
solver setup is PETSc already. petsc4py comes with the dolfinx wheel (the ``fem`` extra); it is
imported only when these functions are called, after ``dolfinx_solver`` as that wheel requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sciml.linalg.solution import Reason, Solution
from sciml.linalg.sparse import SparseMatrix

__all__ = ["TorchPC", "petsc_solve", "to_petsc"]


def _petsc() -> Any:
    try:
        import dolfinx_solver  # noqa: F401  (orders MPI ahead of the vendored petsc4py)
    except ImportError:  # a petsc4py installed on its own works as well
        pass
    try:
        from petsc4py import PETSc
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "petsc4py is needed here; install sciml[fem] (the dolfinx wheel ships it)"
        ) from exc
    return PETSc


def to_petsc(A: SparseMatrix) -> Any:
    """Copy a square :class:`SparseMatrix` into a serial PETSc AIJ matrix (assembled).

    Parameters
    ----------
    A : SparseMatrix
        On any device; the values are copied to host memory in PETSc's scalar type.

    Returns
    -------
    petsc4py.PETSc.Mat
        On ``PETSc.COMM_SELF``; call ``destroy()`` when done with it.
    """
    if not isinstance(A, SparseMatrix):
        raise TypeError(f"A must be a SparseMatrix, got {type(A).__name__}")
    PETSc = _petsc()
    S = A.to_scipy()
    mat = PETSc.Mat().createAIJ(
        size=S.shape,
        csr=(
            S.indptr.astype(PETSc.IntType, copy=False),
            S.indices.astype(PETSc.IntType, copy=False),
            S.data.astype(PETSc.ScalarType, copy=False),
        ),
        comm=PETSc.COMM_SELF,
    )
    mat.assemble()
    return mat


class TorchPC:
    """Any sciml operator ``r -> M r`` as the context of a PETSc ``python`` preconditioner.

    Lets PETSc KSPs (CG for a fixed SPD ``M``; FCG or GMRES for a nonlinear or learned one such
    as the DCDM network) use the torch preconditioners of :mod:`sciml.linalg` -- AMG cycles,
    Jacobi, networks -- inside an existing PETSc/dolfinx solver setup::

        pc = ksp.getPC()
        pc.setType("python")
        pc.setPythonContext(TorchPC(amg(A)))

    Vectors are copied between PETSc and torch (and to ``M``'s device) at each application.

    Parameters
    ----------
    M : LinearOperator
        Anything with ``matvec`` (or ``@``), ``shape`` ``(n, n)``, ``dtype`` and ``device``.

    Attributes
    ----------
    applications : int
        How many times PETSc applied the preconditioner.
    """

    def __init__(self, M: Any) -> None:
        if not (hasattr(M, "matvec") or hasattr(M, "__matmul__")):
            raise TypeError(f"M must be an operator with matvec, got {type(M).__name__}")
        shape = tuple(getattr(M, "shape", ()))
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"M must be a square operator, got shape {shape}")
        self.M = M
        self.n = int(shape[0])
        self.dtype: torch.dtype = getattr(M, "dtype", torch.float64)
        self.device = torch.device(getattr(M, "device", "cpu"))
        self.applications = 0

    def setUp(self, pc: Any) -> None:
        """Check that the operator PETSc sets up matches ``M``'s size."""
        n, m = pc.getOperators()[0].getSize()
        if (n, m) != (self.n, self.n):
            raise ValueError(f"the KSP's matrix is {n}x{m} but M is {self.n}x{self.n}")

    def apply(self, pc: Any, x: Any, y: Any) -> None:
        """``y = M x`` (PETSc's ``PCApply``)."""
        r = torch.tensor(x.getArray(readonly=True), dtype=self.dtype, device=self.device)
        z = self.M.matvec(r) if hasattr(self.M, "matvec") else self.M @ r
        y.setArray(z.detach().to("cpu", torch.float64).numpy())
        self.applications += 1


def petsc_solve(
    A: SparseMatrix,
    b: Tensor,
    *,
    ksp: str = "cg",
    pc: str = "icc",
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    options: Mapping[str, Any] | None = None,
    M: Any = None,
) -> Solution:
    """Solve ``A x = b`` with a PETSc KSP on one process; stop on the true residual norm.

    The residual norm PETSc tests is the unpreconditioned one (``KSPSetNormType
    UNPRECONDITIONED``), so ``rtol`` means ``||b - A x|| <= rtol ||b||`` as in :func:`cg`;
    ``converged`` is checked again on the returned ``x``.

    Parameters
    ----------
    A : SparseMatrix
        Square; copied to PETSc (see :func:`to_petsc`).
    b : torch.Tensor
        ``(n,)`` right-hand side.
    ksp : str, default "cg"
        A PETSc ``KSPType`` (``"cg"``, ``"fcg"``, ``"gmres"``, ...).
    pc : str, default "icc"
        A PETSc ``PCType`` (``"icc"`` -- incomplete Cholesky ICC(0) --, ``"gamg"``,
        ``"jacobi"``, ``"none"``, ...).
    rtol, atol : float
    maxiter : int, optional
        Default ``10 n``.
    options : mapping, optional
        Extra PETSc options set on this solver's prefix, e.g. ``{"pc_factor_levels": 1}``.
    M : LinearOperator, optional
        A sciml preconditioner (``amg(A)``, a network operator, ...) applied through
        :class:`TorchPC`; then ``pc`` is ignored. Use ``ksp="fcg"`` or ``"fgmres"`` when ``M``
        varies between applications.

    Returns
    -------
    Solution
        ``x`` in the dtype and device of ``b``; ``residual_norms`` from PETSc's history;
        ``reason`` maps PETSc's converged reason
        (``MAX_ITERATIONS`` for ``DIVERGED_MAX_IT``, ``INDEFINITE`` for an indefinite matrix or
        preconditioner, ``NONFINITE`` for NaN, ``STAGNATION`` otherwise).

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import petsc_solve, poisson2d
    >>> A = poisson2d(32)
    >>> sol = petsc_solve(A, torch.ones(A.shape[0], dtype=A.dtype), pc="icc", rtol=1e-8)
    >>> bool(sol.converged)
    True
    """
    if not isinstance(A, SparseMatrix):
        raise TypeError(f"A must be a SparseMatrix, got {type(A).__name__}")
    n, m = A.shape
    if n != m:
        raise ValueError(f"A must be square, got shape {A.shape}")
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A, got {tuple(b.shape)}")
    if not torch.isfinite(b).all():
        raise ValueError("b contains NaN or Inf")
    PETSc = _petsc()
    mat = to_petsc(A)
    rhs = mat.createVecLeft()
    x = mat.createVecRight()
    solver = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    prefix = f"sciml_{id(solver)}_"
    opts = PETSc.Options()
    try:
        rhs.array[:] = b.detach().cpu().numpy()
        x.set(0.0)
        solver.setOptionsPrefix(prefix)
        for key, value in (options or {}).items():
            opts[prefix + key] = value
        solver.setOperators(mat)
        solver.setType(ksp)
        if M is None:
            solver.getPC().setType(pc)
        else:
            solver.getPC().setType("python")
            solver.getPC().setPythonContext(TorchPC(M))
        solver.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
        solver.setTolerances(
            rtol=rtol, atol=atol, max_it=int(maxiter if maxiter is not None else 10 * n)
        )
        solver.setConvergenceHistory()
        solver.setFromOptions()
        solver.solve(rhs, x)
        code = int(solver.getConvergedReason())
        history = np.asarray(solver.getConvergenceHistory(), dtype=np.float64)
        iterations = int(solver.getIterationNumber())
        xs = torch.as_tensor(x.array.copy()).to(dtype=b.dtype, device=b.device)
    finally:
        for key in options or {}:
            opts.delValue(prefix + key)
        solver.destroy()
        for obj in (x, rhs, mat):
            obj.destroy()
    residual = torch.linalg.vector_norm(b - A.to(dtype=b.dtype, device=b.device) @ xs)
    tol = max(rtol * float(torch.linalg.vector_norm(b)), atol)
    converged = bool(residual <= tol * (1 + 1e-6)) and code > 0
    if converged:
        reason = Reason.CONVERGED
    elif code == int(PETSc.KSP.ConvergedReason.DIVERGED_MAX_IT):
        reason = Reason.MAX_ITERATIONS
    elif code == int(PETSc.KSP.ConvergedReason.DIVERGED_NANORINF) or not torch.isfinite(xs).all():
        reason = Reason.NONFINITE
    elif code in (
        int(PETSc.KSP.ConvergedReason.DIVERGED_INDEFINITE_MAT),
        int(PETSc.KSP.ConvergedReason.DIVERGED_INDEFINITE_PC),
    ):
        reason = Reason.INDEFINITE
    else:
        reason = Reason.STAGNATION
    return Solution(
        x=xs,
        converged=torch.tensor(converged),
        iterations=torch.tensor(iterations, dtype=torch.int64),
        residual_norms=torch.as_tensor(history, dtype=b.dtype),
        residual_norm=residual,
        reason=reason,
    )
