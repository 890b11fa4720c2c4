"""Preconditioners: Jacobi and AMG (grid-independent convergence, symmetry, devices)."""

from __future__ import annotations

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
import torch
from conftest import anisotropic, as_sparse, rhs

from sciml.linalg import AMGPreconditioner, SparseMatrix, amg, cg, jacobi, poisson2d


def test_jacobi_applies_inverse_diagonal() -> None:
    S = poisson2d(5)
    x = torch.rand(25, 2, dtype=torch.float64)
    torch.testing.assert_close(jacobi(S) @ x, x / 4.0)
    zero_diag = SparseMatrix.from_scipy(sp.csr_array([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="non-zero diagonal"):
        jacobi(zero_diag)
    with pytest.raises(TypeError, match="SparseMatrix"):
        jacobi(S.to_dense())


@pytest.mark.parametrize("kind", ["sa", "rs"])
@pytest.mark.parametrize("smoother", ["chebyshev", "jacobi"])
def test_amg_pcg_iterations_are_grid_independent(kind: str, smoother: str) -> None:
    iterations = []
    for n in (32, 64, 128):
        S = poisson2d(n)
        sol = cg(S, rhs(n * n, seed=n), rtol=1e-8, M=amg(S, kind, smoother=smoother))
        assert sol.converged, sol.message
        iterations.append(int(sol.iterations))
    assert max(iterations) <= 20, iterations
    assert iterations[-1] - iterations[0] <= 4, iterations


def test_amg_convergence_factor_on_anisotropic_diffusion() -> None:
    A = anisotropic(64, epsilon=1e-2)
    S = as_sparse(A)
    sol = cg(S, rhs(A.shape[0], seed=1), rtol=1e-8, M=amg(S))
    assert sol.converged
    hist = sol.residual_norms
    factor = float((hist[-1] / hist[0]) ** (1.0 / (len(hist) - 1)))
    assert factor < 0.6, factor
    # pyamg's own SA cycle (Gauss-Seidel smoothing) as the reference: within 25% of its count
    res: list[float] = []
    pyamg.smoothed_aggregation_solver(A).solve(
        rhs(A.shape[0], seed=1).numpy(), tol=1e-8, accel="cg", residuals=res
    )
    assert int(sol.iterations) <= 1.25 * (len(res) - 1)
    plain = cg(S, rtol=1e-8, b=rhs(A.shape[0], seed=1))
    assert int(plain.iterations) > 4 * int(sol.iterations)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_amg_cycle_is_symmetric_positive_definite(dtype: torch.dtype) -> None:
    S = poisson2d(24, dtype=dtype)
    M = amg(S)
    assert isinstance(M, AMGPreconditioner) and M.num_levels >= 2
    assert 1.0 < M.operator_complexity < 2.0 and 1.0 < M.grid_complexity < 2.0
    gen = torch.Generator().manual_seed(0)
    U = torch.randn(576, 5, generator=gen, dtype=dtype)
    V = torch.randn(576, 5, generator=gen, dtype=dtype)
    uMv = (U * (M @ V)).sum(0)
    vMu = (V * (M @ U)).sum(0)
    tol = 1e-8 if dtype == torch.float64 else 1e-4  # the shift: 1e-10 x the coarse condition
    assert torch.allclose(uMv, vMu, rtol=tol, atol=tol * uMv.abs().max())
    assert bool(((U * (M @ U)).sum(0) > 0).all())
    # vector and block applications agree
    torch.testing.assert_close(M @ U[:, 0], (M @ U)[:, 0])
    assert "levels" in repr(M)


def test_amg_bad_input() -> None:
    S = poisson2d(8)
    with pytest.raises(ValueError, match="kind"):
        amg(S, "xx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="smoother"):
        amg(S, smoother="gauss-seidel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="square"):
        amg(SparseMatrix.from_scipy(sp.csr_array(torch.ones(2, 3).numpy())))
    with pytest.raises(ValueError, match="degree"):
        amg(S, degree=0)
    with pytest.raises(ValueError, match="zero diagonal"):
        amg(SparseMatrix.from_scipy(sp.csr_array([[0.0, 1.0], [1.0, 0.0]])))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amg_pcg_on_cuda_matches_cpu() -> None:
    S = poisson2d(64)
    b = rhs(64 * 64, seed=3)
    cpu = cg(S, b, rtol=1e-10, M=amg(S))
    Sg = S.to("cuda")
    gpu = cg(Sg, b.cuda(), rtol=1e-10, M=amg(Sg))
    assert gpu.converged and abs(int(gpu.iterations) - int(cpu.iterations)) <= 1
    torch.testing.assert_close(gpu.x.cpu(), cpu.x, rtol=1e-8, atol=1e-10)


def test_amg_on_matrix_with_cleared_rows_and_stored_zeros() -> None:
    # Dirichlet lifting leaves identity rows/columns whose off-diagonal zeros stay stored
    S = poisson2d(12)
    fixed = torch.zeros(144, dtype=torch.bool)
    fixed[::5] = True
    rows, cols = S.row_indices.long(), S.col_indices.long()
    touched = fixed[rows] | fixed[cols]
    lifted = S.with_values(torch.where(touched, (rows == cols).double(), S.values))
    assert lifted.nnz == S.nnz and int((lifted.values == 0).sum()) > 0
    sol = cg(lifted, rhs(144, seed=4), rtol=1e-10, M=amg(lifted))
    assert sol.converged and int(sol.iterations) <= 20


def test_amg_is_reproducible_and_leaves_numpy_rng_alone() -> None:
    import numpy as np

    S = poisson2d(40)
    b = rhs(1600, seed=6)
    np.random.seed(7)  # noqa: NPY002 - the global generator is what amg must leave alone
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    x1 = cg(S, b, rtol=1e-10, M=amg(S)).x
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    x2 = cg(S, b, rtol=1e-10, M=amg(S)).x
    assert torch.equal(x1, x2)


@pytest.mark.parametrize("shape", [(16, 12), (13, 7), (9, 6, 11), (10,)])
def test_grid_prolongation_is_torch_interpolation(shape: tuple[int, ...]) -> None:
    import torch.nn.functional as F

    from sciml.linalg import grid_prolongation

    P = grid_prolongation(shape, 4)
    sizes = [shape]
    for _ in range(2):
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    coarse = torch.randn(
        1, 1, *sizes[-1], dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(shape)]
    fine = coarse
    for size in reversed(sizes[:-1]):
        fine = F.interpolate(fine, size=size, mode=mode, align_corners=False)
    assert P.shape == (int(np.prod(shape)), int(np.prod(sizes[-1])))
    torch.testing.assert_close(P @ coarse.flatten(), fine.flatten())
    torch.testing.assert_close(
        P @ torch.ones(P.shape[1], dtype=P.dtype), torch.ones(P.shape[0], dtype=P.dtype)
    )


def test_grid_prolongation_on_fluid_cells_and_bad_input() -> None:
    from sciml.linalg import grid_prolongation

    fluid = np.ones((16, 16), dtype=bool)
    fluid[:8, :8] = False  # a solid quarter: the coarse cells there reach no fluid cell
    P = grid_prolongation((16, 16), 4, fluid=fluid)
    full = grid_prolongation((16, 16), 4).to_scipy()[fluid.ravel()]
    assert P.shape[0] == int(fluid.sum()) and P.shape[1] < 16
    assert (np.diff(P.to_scipy().tocsc().indptr) > 0).all()  # no empty column
    kept = np.flatnonzero(np.diff(full.tocsc().indptr) > 0)
    assert abs(P.to_scipy() - full[:, kept]).max() == 0
    with pytest.raises(ValueError, match="power of two"):
        grid_prolongation((16, 16), 3)
    with pytest.raises(ValueError, match="smaller factor"):
        grid_prolongation((16, 16), 16)
    with pytest.raises(ValueError, match="mask has shape"):
        grid_prolongation((16, 16), 2, fluid=np.ones((8, 8), dtype=bool))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_coarse_correction_is_the_galerkin_projection(dtype: torch.dtype) -> None:
    from sciml.linalg import coarse_correction, grid_prolongation

    A = poisson2d(24).to(dtype=dtype)
    P = grid_prolongation((24, 24), 4, dtype=dtype)
    C = coarse_correction(A, P)
    assert C.shape == (576, 576) and C.dtype == dtype and C.coarse_size == 36
    assert C.P is P  # already on A's device and dtype: used as it is
    r = rhs(576, seed=1).to(dtype)
    e = C @ r
    Ad, Pd = A.to_dense().double(), P.to_dense().double()
    expected = Pd @ torch.linalg.solve(Pd.T @ Ad @ Pd, Pd.T @ r.double())
    tol = 1e-8 if dtype == torch.float64 else 1e-4  # the shift: 1e-10 x the coarse condition
    assert torch.linalg.vector_norm(e.double() - expected) <= tol * torch.linalg.vector_norm(
        expected
    )
    # C A is the A-orthogonal projection onto span(P): applying it twice changes nothing
    twice = C @ (A @ e)
    assert torch.linalg.vector_norm(twice - e) <= tol * torch.linalg.vector_norm(e)
    block = C @ torch.stack([r, 2 * r], 1)
    torch.testing.assert_close(block[:, 1], 2 * e)
    # dependent columns (a column repeated, one scaled) span the same space: same correction
    P_sp = P.to_scipy()
    dependent = coarse_correction(A, sp.hstack([P_sp, 1e-3 * P_sp[:, :3]]).tocsr())
    again = dependent @ r
    assert torch.linalg.vector_norm(again - e) <= 10 * tol * torch.linalg.vector_norm(e)


def test_coarse_correction_bad_input() -> None:
    from sciml.linalg import coarse_correction, grid_prolongation

    A = poisson2d(8)
    P = grid_prolongation((8, 8), 2).to_scipy()
    with pytest.raises(ValueError, match="P \\(n, m\\)"):
        coarse_correction(A, P[:10])
    with pytest.raises(ValueError, match="empty columns"):
        coarse_correction(A, sp.hstack([P, sp.csr_matrix((64, 1))]))
    with pytest.raises(ValueError, match="non-positive diagonal"):
        coarse_correction(SparseMatrix.from_scipy(-A.to_scipy()), P)
    bad = P.copy().astype(float)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        coarse_correction(A, bad)
    with pytest.raises(TypeError, match="SparseMatrix"):
        coarse_correction(A.to_dense(), P)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_coarse_correction_on_cuda_matches_cpu() -> None:
    from sciml.linalg import coarse_correction, grid_prolongation

    A = poisson2d(32)
    r = rhs(32 * 32, seed=2)
    cpu = coarse_correction(A, grid_prolongation((32, 32), 4)) @ r
    Ag = A.to("cuda")
    C = coarse_correction(Ag, grid_prolongation((32, 32), 4, device="cuda"))
    assert C.device.type == "cuda"
    torch.testing.assert_close((C @ r.cuda()).cpu(), cpu)
