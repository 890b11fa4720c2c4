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


@pytest.mark.parametrize(
    ("shape", "factor", "open_faces"),
    [((40,), 4, None), ((24, 30), 4, None), ((33, 17), 8, ("x-", "y+")), ((20, 18, 22), 4, None)],
)
@pytest.mark.parametrize("dense_up_to", [0, 64])  # P assembled / applied axis by axis
def test_grid_coarse_correction_equals_the_general_product(
    shape: tuple[int, ...],
    factor: int,
    open_faces: tuple[str, ...] | None,
    dense_up_to: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sciml.linalg import (
        SeparableProlongation,
        coarse_correction,
        grid_coarse_correction,
        grid_prolongation,
        poisson_grid,
    )

    monkeypatch.setattr(SeparableProlongation, "DENSE_UP_TO", dense_up_to)

    fluid = np.ones(shape, dtype=bool)  # two solid boxes: walls inside the domain
    fluid[tuple(slice(n // 4, n // 2) for n in shape)] = False
    if len(shape) > 1:  # in 1-D a second box would cut off a piece with no open face
        fluid[tuple(slice(2 * n // 3, 2 * n // 3 + 3) for n in shape)] = False
    kwargs = {} if open_faces is None or len(shape) == 1 else {"dirichlet": open_faces}
    A = poisson_grid(fluid, **kwargs)
    fast = grid_coarse_correction(A, shape, factor, fluid=fluid)
    slow = coarse_correction(A, grid_prolongation(shape, factor, fluid=fluid))
    assert isinstance(fast.P, SeparableProlongation if dense_up_to else SparseMatrix)
    P, A_sp = slow.P.to_scipy(), A.to_scipy()
    assert fast.coarse_size == slow.coarse_size
    # the same Galerkin matrix: the factorised (scaled, shifted) matrices agree
    reference = (P.T @ A_sp @ P).toarray()
    eye = np.eye(fast.coarse_size)
    inverse = np.column_stack([fast.factor.solve(eye[:, j]) for j in range(eye.shape[1])])
    rebuilt = np.linalg.inv(inverse) - fast.SHIFT * eye
    rebuilt /= np.outer(fast.scale, fast.scale)
    assert np.abs(rebuilt - reference).max() <= 1e-8 * np.abs(reference).max()
    r = rhs(A.shape[0], seed=2)
    e_fast, e_slow = fast @ r, slow @ r
    assert torch.linalg.vector_norm(e_fast - e_slow) <= 1e-8 * torch.linalg.vector_norm(e_slow)


@pytest.mark.parametrize("shape", [(40,), (24, 30), (12, 10, 9)])
def test_separable_prolongation_is_the_prolongation_matrix(shape: tuple[int, ...]) -> None:
    from sciml.linalg import SeparableProlongation, grid_prolongation, poisson_grid
    from sciml.linalg.gallery import _axis_prolongations, _coarse_cells_reached

    fluid = np.ones(shape, dtype=bool)
    fluid[tuple(slice(n // 4, n // 2) for n in shape)] = False
    axes = _axis_prolongations(shape, 4 if len(shape) < 3 else 2)
    kept = _coarse_cells_reached(axes, fluid)
    P = SeparableProlongation(axes, fluid, kept, dtype=torch.float64, device="cpu")
    factor = 4 if len(shape) < 3 else 2
    M = grid_prolongation(shape, factor, fluid=fluid).to_scipy()
    assert P.shape == M.shape and (P.to_scipy() != M).nnz == 0
    x = rhs(P.shape[1], seed=4)
    r = rhs(P.shape[0], seed=5)
    Md = torch.as_tensor(M.toarray())
    torch.testing.assert_close(P @ x, Md @ x)
    torch.testing.assert_close(P.T @ r, Md.T @ r)
    block = torch.stack([r, -2 * r], 1)
    torch.testing.assert_close(P.rmatvec(block), Md.T @ block)
    with pytest.raises(ValueError, match="shape mismatch"):
        P.rmatvec(r[:-1])
    with pytest.raises(TypeError, match="dtype mismatch"):
        P.matvec(x.float())
    assert poisson_grid(fluid).shape[0] == P.shape[0]


def test_grid_coarse_correction_falls_back_for_other_matrices() -> None:
    from sciml.linalg import coarse_correction, grid_coarse_correction, grid_prolongation

    # a 9-point stencil couples diagonal neighbours: the general product is taken
    n = 16
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    B = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(n, n))
    A = SparseMatrix.from_scipy((sp.kron(T, B) + sp.kron(B, T)).tocsr())
    fast = grid_coarse_correction(A, (n, n), 4)
    slow = coarse_correction(A, grid_prolongation((n, n), 4))
    assert isinstance(fast.P, SparseMatrix)  # the general product
    r = rhs(n * n, seed=3)
    torch.testing.assert_close(fast @ r, slow @ r)
    with pytest.raises(ValueError, match="fluid cells"):
        grid_coarse_correction(A, (n, n + 1), 4)
    with pytest.raises(TypeError, match="SparseMatrix"):
        grid_coarse_correction(A.to_scipy(), (n, n), 4)  # type: ignore[arg-type]


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_grid_coarse_correction_on_cuda_matches_cpu() -> None:
    from sciml.linalg import grid_coarse_correction, poisson_grid

    fluid = np.ones((40, 36, 20), dtype=bool)
    fluid[10:20, 5:30, 4:12] = False
    A = poisson_grid(fluid)
    r = rhs(A.shape[0], seed=6)
    cpu = grid_coarse_correction(A, fluid.shape, 4, fluid=fluid) @ r
    C = grid_coarse_correction(A.to("cuda"), fluid.shape, 4, fluid=fluid)
    assert C.P.device.type == "cuda"
    torch.testing.assert_close((C @ r.cuda()).cpu(), cpu)
