"""PETSc KSP on a SparseMatrix: same answers and result type as the torch solvers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

pytest.importorskip("dolfinx_solver")

from sciml.linalg import Reason, SparseMatrix, cg, petsc_solve, poisson2d, to_petsc


def test_icc_pcg_matches_a_direct_solve_in_fewer_iterations_than_cg() -> None:
    A = poisson2d(40)
    b = torch.linspace(-1.0, 2.0, A.shape[0], dtype=torch.float64)
    sol = petsc_solve(A, b, pc="icc", rtol=1e-10)
    assert sol.converged and sol.reason is Reason.CONVERGED
    exact = spla.spsolve(A.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-8 * np.linalg.norm(exact)
    assert sol.residual_norms.shape == (int(sol.iterations) + 1,)
    assert float(sol.residual_norms[-1]) <= 1e-10 * float(torch.linalg.vector_norm(b)) * 1.01
    plain = petsc_solve(A, b, pc="none", rtol=1e-10)
    ours = cg(A, b, rtol=1e-10)
    assert int(sol.iterations) < int(plain.iterations)
    assert abs(int(plain.iterations) - int(ours.iterations)) <= 2  # the same CG


def test_maxiter_and_options_and_matrix_copy() -> None:
    A = poisson2d(24)
    b = torch.ones(A.shape[0], dtype=torch.float64)
    sol = petsc_solve(A, b, pc="jacobi", rtol=1e-12, maxiter=5)
    assert not sol.converged and sol.reason is Reason.MAX_ITERATIONS
    assert int(sol.iterations) == 5
    levels = petsc_solve(A, b, pc="icc", rtol=1e-8, options={"pc_factor_levels": 2})
    level0 = petsc_solve(A, b, pc="icc", rtol=1e-8)
    assert levels.converged and int(levels.iterations) < int(level0.iterations)
    mat = to_petsc(A)
    try:
        back = SparseMatrix.from_petsc(mat)
        assert (back.to_scipy() != A.to_scipy()).nnz == 0
    finally:
        mat.destroy()


def test_bad_input() -> None:
    A = poisson2d(8)
    with pytest.raises(ValueError, match="shape"):
        petsc_solve(A, torch.ones(3, dtype=torch.float64))
    bad = torch.ones(A.shape[0], dtype=torch.float64)
    bad[0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        petsc_solve(A, bad)
    with pytest.raises(TypeError, match="SparseMatrix"):
        petsc_solve(A.to_dense(), bad)  # type: ignore[arg-type]


def test_torch_preconditioner_inside_petsc_matches_sciml() -> None:
    from sciml.linalg import TorchPC, amg, fcg

    A = poisson2d(48)
    b = torch.cos(torch.linspace(0.0, 9.0, A.shape[0], dtype=torch.float64))
    M = amg(A)
    ours = cg(A, b, rtol=1e-10, M=M)
    theirs = petsc_solve(A, b, ksp="cg", M=M, rtol=1e-10)
    assert ours.converged and theirs.converged
    assert abs(int(ours.iterations) - int(theirs.iterations)) <= 1
    assert torch.allclose(theirs.x, ours.x, rtol=0, atol=1e-8 * float(ours.x.abs().max()))
    flexible = fcg(A, b, rtol=1e-10, M=M)
    petsc_fcg = petsc_solve(A, b, ksp="fcg", M=M, rtol=1e-10)
    assert abs(int(flexible.iterations) - int(petsc_fcg.iterations)) <= 1
    with pytest.raises(ValueError, match="square"):
        TorchPC(A.submatrix(torch.arange(4), torch.arange(5)))
    with pytest.raises(TypeError, match="operator"):
        TorchPC(object())
