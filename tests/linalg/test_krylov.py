"""Krylov solvers: agreement with SciPy, convergence, batching, breakdowns and bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from conftest import as_sparse, convection_diffusion, rhs

from sciml.linalg import (
    ConvergenceError,
    DiagonalOperator,
    MatrixFreeOperator,
    Reason,
    SparseMatrix,
    amg,
    cg,
    fcg,
    gmres,
    jacobi,
    minres,
    poisson2d,
)

SPD_SOLVERS: dict[str, Callable[..., object]] = {
    "cg": cg,
    "minres": minres,
    "gmres": gmres,
    "fcg": fcg,
}


def true_relres(A: sp.sparray, x: torch.Tensor, b: torch.Tensor) -> float:
    r = b.numpy() - A @ x.numpy()
    return float(np.linalg.norm(r) / np.linalg.norm(b.numpy()))


@pytest.mark.parametrize("precondition", [False, True])
def test_cg_iterates_equal_scipy(spd_problem: tuple[str, sp.csr_array], precondition: bool) -> None:
    _, A = spd_problem
    n = A.shape[0]
    b = rhs(n)
    S = as_sparse(A)
    dinv = 1.0 / A.diagonal()
    ref_iterates: list[np.ndarray] = []
    M_ref = spla.aslinearoperator(sp.diags_array(dinv)) if precondition else None
    spla.cg(A, b.numpy(), rtol=1e-8, M=M_ref, callback=lambda xk: ref_iterates.append(xk.copy()))
    ours: list[torch.Tensor] = []
    sol = cg(
        S,
        b,
        rtol=1e-8,
        M=jacobi(S) if precondition else None,
        callback=lambda xk: ours.append(xk.clone()),
    )
    assert sol.converged and sol.reason is Reason.CONVERGED
    assert int(sol.iterations) == len(ref_iterates) == len(ours)
    for mine, ref in zip(ours, ref_iterates, strict=True):
        err = np.linalg.norm(mine.numpy() - ref) / np.linalg.norm(ref)
        assert err <= 1e-10
    assert sol.residual_norms.shape == (len(ours) + 1,)
    assert true_relres(A, sol.x, b) <= 1e-8


@pytest.mark.parametrize("name", sorted(SPD_SOLVERS))
@pytest.mark.parametrize("M_kind", [None, "jacobi", "amg"])
def test_every_solver_converges_on_spd_problems(
    spd_problem: tuple[str, sp.csr_array], name: str, M_kind: str | None
) -> None:
    _, A = spd_problem
    S = as_sparse(A)
    b = rhs(A.shape[0], seed=1)
    M = {None: None, "jacobi": jacobi, "amg": amg}[M_kind]
    sol = SPD_SOLVERS[name](S, b, rtol=1e-9, M=M(S) if M else None, maxiter=20000)
    assert sol.converged, sol.message
    assert true_relres(A, sol.x, b) <= 1e-9


def test_gmres_solves_nonsymmetric_system() -> None:
    A = convection_diffusion(30, wind=40.0)
    S = as_sparse(A)
    b = rhs(A.shape[0], seed=2)
    sol = gmres(S, b, rtol=1e-10, restart=40)
    assert sol.converged, sol.message
    assert true_relres(A, sol.x, b) <= 1e-10
    # preconditioned: far fewer iterations
    sol_p = gmres(S, b, rtol=1e-10, restart=40, M=amg(S, smoother="jacobi"))
    assert sol_p.converged and int(sol_p.iterations) < int(sol.iterations) / 3
    # CG is not meant for this matrix: it must not claim success with a wrong answer
    sol_cg = cg(S, b, rtol=1e-10, maxiter=200)
    assert not sol_cg.converged or true_relres(A, sol_cg.x, b) <= 1e-10


def test_minres_solves_symmetric_indefinite_system() -> None:
    A = poisson2d(20).to_scipy()
    shifted = sp.csr_array(A - 1.0 * sp.eye_array(A.shape[0]))  # eigenvalues of both signs
    assert (
        np.linalg.eigvalsh(shifted.toarray()).min()
        < 0
        < np.linalg.eigvalsh(shifted.toarray()).max()
    )
    S = as_sparse(shifted)
    b = rhs(A.shape[0], seed=3)
    sol = minres(S, b, rtol=1e-10, maxiter=5000)
    assert sol.converged, sol.message
    assert true_relres(shifted, sol.x, b) <= 1e-10
    ref, _ = spla.minres(shifted, b.numpy(), rtol=1e-12, maxiter=5000)
    assert np.linalg.norm(sol.x.numpy() - ref) / np.linalg.norm(ref) < 1e-7
    with_M = minres(S, b, rtol=1e-10, M=jacobi(S), maxiter=5000)  # diagonal 3 > 0: SPD M
    assert with_M.converged and true_relres(shifted, with_M.x, b) <= 1e-10
    bad_M = minres(S, b, M=DiagonalOperator(-torch.ones(A.shape[0], dtype=torch.float64)))
    assert bad_M.reason is Reason.PRECONDITIONER_INDEFINITE
    gm = gmres(S, b, rtol=1e-10, restart=100, maxiter=20000)
    assert gm.converged and true_relres(shifted, gm.x, b) <= 1e-10


@pytest.mark.parametrize("name", sorted(SPD_SOLVERS))
def test_batched_equals_column_by_column(name: str) -> None:
    S = poisson2d(24)
    B = rhs(S.shape[0], 4, seed=4)
    B[:, 2] *= 1e-3  # different scales converge at different iterations
    solver = SPD_SOLVERS[name]
    block = solver(S, B, rtol=1e-9, M=jacobi(S))
    assert block.x.shape == B.shape and block.iterations.shape == (4,)
    for j in range(4):
        single = solver(S, B[:, j], rtol=1e-9, M=jacobi(S))
        assert int(single.iterations) == int(block.iterations[j])
        err = (single.x - block.x[:, j]).norm() / single.x.norm()
        assert err < 1e-9
        assert bool(single.converged) and bool(block.converged[j])
    assert block.residual_norms.shape[1] == 4
    # the column that stopped first is NaN-padded afterwards
    first = int(block.iterations.argmin())
    assert (
        torch.isnan(block.residual_norms[-1, first])
        or block.iterations.min() == block.iterations.max()
    )


def test_cg_reports_indefinite_matrix() -> None:
    sol = cg(-poisson2d(5), torch.ones(25, dtype=torch.float64))
    assert not sol.converged and sol.reason is Reason.INDEFINITE
    assert torch.isfinite(sol.x).all()
    with pytest.raises(ConvergenceError, match="not symmetric positive definite"):
        sol.raise_if_failed()
    # indefinite block: only the bad column breaks down
    D = torch.diag(torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64))
    B = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    block = cg(SparseMatrix.from_dense(D), B, rtol=1e-12)
    assert block.reason[0] is Reason.CONVERGED and block.reason[1] is Reason.INDEFINITE
    assert torch.isfinite(block.x).all()


def test_cg_reports_indefinite_preconditioner() -> None:
    S = poisson2d(5)
    M = DiagonalOperator(-torch.ones(25, dtype=torch.float64))
    sol = cg(S, torch.ones(25, dtype=torch.float64), M=M)
    assert sol.reason is Reason.PRECONDITIONER_INDEFINITE and not sol.converged


def test_max_iterations_is_reported() -> None:
    S = poisson2d(30)
    sol = cg(S, torch.ones(900, dtype=torch.float64), rtol=1e-12, maxiter=5)
    assert not sol.converged and sol.reason is Reason.MAX_ITERATIONS
    assert int(sol.iterations) == 5
    assert "maxiter" in sol.message
    for solver in (minres, gmres, fcg):
        out = solver(S, torch.ones(900, dtype=torch.float64), rtol=1e-12, maxiter=5)
        assert not out.converged and out.reason is Reason.MAX_ITERATIONS


def test_zero_rhs_and_exact_initial_guess() -> None:
    S = poisson2d(6)
    for solver in SPD_SOLVERS.values():
        sol = solver(S, torch.zeros(36, dtype=torch.float64))
        assert sol.converged and int(sol.iterations) == 0 and not sol.x.any()
    x = torch.rand(36, dtype=torch.float64)
    sol = cg(S, S @ x, x0=x)
    assert sol.converged and int(sol.iterations) == 0 and torch.equal(sol.x, x)


def test_initial_guess_is_used_and_not_modified() -> None:
    S = poisson2d(16)
    b = rhs(256, seed=5)
    x0 = cg(S, b, rtol=1e-3).x.clone()
    keep = x0.clone()
    cold = cg(S, b, rtol=1e-10)
    warm = cg(S, b, x0=x0, rtol=1e-10)
    assert warm.converged and int(warm.iterations) < int(cold.iterations)
    assert torch.equal(x0, keep)


def test_float32_and_matrix_free() -> None:
    S = poisson2d(20, dtype=torch.float32)
    b = torch.ones(400, dtype=torch.float32)
    sol = cg(S, b, rtol=1e-5, M=amg(S))
    assert sol.converged and sol.x.dtype == torch.float32
    free = MatrixFreeOperator(lambda v: S @ v, S.shape, dtype=torch.float32)
    sol2 = cg(free, b, rtol=1e-5)
    assert sol2.converged


def test_convergence_is_confirmed_on_true_residual() -> None:
    # badly scaled SPD matrix: the recurrence residual drifts from the true one in float32
    gen = np.random.default_rng(7)
    Q, _ = np.linalg.qr(gen.standard_normal((60, 60)))
    A = (Q * np.logspace(0, 6, 60)) @ Q.T
    S = SparseMatrix.from_dense(torch.from_numpy((A + A.T) / 2).float())
    b = torch.from_numpy(gen.standard_normal(60)).float()
    sol = cg(S, b, rtol=1e-4, maxiter=2000)
    final = (b - S @ sol.x).norm() / b.norm()
    assert bool(sol.converged) == bool(final <= 1e-4)
    torch.testing.assert_close(sol.residual_norm, (b - S @ sol.x).norm())


def test_fcg_accepts_a_nonlinear_preconditioner() -> None:
    S = poisson2d(24)
    M = amg(S)
    calls = {"n": 0}

    def varying(r: torch.Tensor) -> torch.Tensor:
        # a different (nonlinear in r) map at every call: AMG cycle plus a sign-flipped scaling
        calls["n"] += 1
        return M @ r * (1.0 + 0.3 * np.sin(calls["n"]))

    b = rhs(576, seed=8)
    sol = fcg(S, b, rtol=1e-10, M=MatrixFreeOperator(varying, S.shape))
    assert sol.converged and int(sol.iterations) < 40
    # with a fixed SPD preconditioner FCG follows PCG
    assert (
        abs(int(fcg(S, b, rtol=1e-10, M=M).iterations) - int(cg(S, b, rtol=1e-10, M=M).iterations))
        <= 1
    )


def test_callback_sees_every_iterate() -> None:
    S = poisson2d(10)
    seen: list[torch.Tensor] = []
    sol = cg(S, torch.ones(100, dtype=torch.float64), callback=lambda x: seen.append(x.clone()))
    assert len(seen) == int(sol.iterations)
    torch.testing.assert_close(seen[-1], sol.x)


@pytest.mark.parametrize("solver", [cg, minres, gmres, fcg])
def test_bad_input_raises(solver: Callable[..., object]) -> None:
    S = poisson2d(4)
    b = torch.ones(16, dtype=torch.float64)
    rect = SparseMatrix.from_scipy(sp.csr_array(np.ones((3, 4))))
    with pytest.raises(ValueError, match="square"):
        solver(rect, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="rows"):
        solver(S, torch.ones(15, dtype=torch.float64))
    with pytest.raises(ValueError, match="vector"):
        solver(S, torch.ones(16, 1, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN/Inf"):
        solver(S, torch.full((16,), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN/Inf"):
        solver(S, b, x0=torch.full((16,), float("inf"), dtype=torch.float64))
    with pytest.raises(TypeError, match="dtype mismatch"):
        solver(S, b.float())
    with pytest.raises(ValueError, match="device mismatch"):
        solver(S, torch.ones(16, dtype=torch.float64, device="meta"))
    with pytest.raises(ValueError, match="rtol"):
        solver(S, b, rtol=-1.0)
    with pytest.raises(ValueError, match="maxiter"):
        solver(S, b, maxiter=-3)
    with pytest.raises(ValueError, match="x0 has shape"):
        solver(S, b, x0=torch.ones(15, dtype=torch.float64))
    with pytest.raises(ValueError, match="preconditioner M has shape"):
        solver(S, b, M=poisson2d(3))
    with pytest.raises(TypeError, match=r"M is torch\.float32"):
        solver(S, b, M=poisson2d(4, dtype=torch.float32))
    with pytest.raises(TypeError, match=r"b must be a torch\.Tensor"):
        solver(S, np.ones(16))


def test_conjugate_directions_one_direction_is_fcg_and_blocks_are_monotone() -> None:
    import itertools

    from sciml.linalg import Reason, conjugate_directions, fcg, jacobi, poisson2d

    A = poisson2d(20)
    b = torch.sin(torch.linspace(0.0, 7.0, A.shape[0], dtype=torch.float64))
    M = jacobi(A)
    single = conjugate_directions(A, b, lambda r: M.matvec(r)[:, None], rtol=1e-10)
    flexible = fcg(A, b, rtol=1e-10, M=M, truncation=2, true_residual=True)
    assert single.converged and int(single.iterations) == int(flexible.iterations)
    assert torch.allclose(single.x, flexible.x, atol=1e-9)
    # random blocks (with a duplicated column): the A-norm error never increases
    dense = A.to_dense()
    exact = torch.linalg.solve(dense, b)
    gen = torch.Generator().manual_seed(0)
    errors: list[float] = []

    def random_block(r: torch.Tensor) -> torch.Tensor:
        z = torch.randn(r.shape[0], 2, dtype=r.dtype, generator=gen)
        return torch.cat([r[:, None], z, z[:, :1]], 1)

    def energy(x: torch.Tensor) -> None:
        e = x - exact
        errors.append(float(e @ dense @ e))

    sol = conjugate_directions(A, b, random_block, rtol=1e-8, maxiter=400, callback=energy)
    assert sol.reason in (Reason.CONVERGED, Reason.MAX_ITERATIONS)
    assert all(y <= x * (1 + 1e-9) + 1e-18 for x, y in itertools.pairwise(errors))
    assert errors[-1] < 1e-6 * float(exact @ dense @ exact)


def test_conjugate_directions_reasons_and_bad_input() -> None:
    from sciml.linalg import Reason, SparseMatrix, conjugate_directions, poisson2d

    A = poisson2d(6)
    b = torch.ones(A.shape[0], dtype=torch.float64)
    negative = SparseMatrix.from_scipy(-A.to_scipy())
    sol = conjugate_directions(negative, b, lambda r: r[:, None])
    assert not sol.converged and sol.reason is Reason.INDEFINITE
    nan = conjugate_directions(A, b, lambda r: torch.full((r.shape[0], 1), float("nan")))
    assert nan.reason is Reason.NONFINITE
    with pytest.raises(ValueError, match=r"\(n, m\) block"):
        conjugate_directions(A, b, lambda r: r[:3, None])
    with pytest.raises(ValueError, match="one right-hand side"):
        conjugate_directions(A, torch.ones(A.shape[0], 2, dtype=torch.float64), lambda r: r)
    with pytest.raises(ValueError, match="truncation"):
        conjugate_directions(A, b, lambda r: r[:, None], truncation=0)
