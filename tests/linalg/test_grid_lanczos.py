"""Grid pressure-Poisson matrices, Lanczos Ritz pairs, and fcg with the true residual."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sciml.linalg import RitzPairs, fcg, grid_faces, lanczos, poisson2d, poisson_grid


def test_open_grid_equals_five_point_laplacian() -> None:
    A = poisson_grid(np.ones((7, 7), dtype=bool))
    assert np.array_equal(A.to_scipy().toarray(), poisson2d(7).to_scipy().toarray())


def test_3d_open_grid_equals_kronecker_sum() -> None:
    n = 5
    T = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    eye = sp.eye(n)
    ref = (
        sp.kron(sp.kron(T, eye), eye)
        + sp.kron(sp.kron(eye, T), eye)
        + sp.kron(eye, sp.kron(eye, T))
    )
    A = poisson_grid(np.ones((n, n, n), dtype=bool))
    assert abs(A.to_scipy() - ref.tocsr()).max() == 0


def test_walls_and_solids_are_neumann() -> None:
    fluid = np.ones((6, 5), dtype=bool)
    fluid[2:4, 2] = False
    A = poisson_grid(fluid, dirichlet=["y+"]).to_scipy().toarray()
    # row sums = number of open faces touched: only the top row (y = max) touches "y+"
    sums = np.zeros(fluid.shape)
    sums[:, -1] = 1
    assert np.allclose(A.sum(axis=1), sums[fluid])
    assert np.allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    # a solid cell's neighbour loses one coupling: diagonal = fluid neighbours (+ open faces)
    index = -np.ones(fluid.shape, dtype=int)
    index[fluid] = np.arange(fluid.sum())
    assert A[index[1, 2], index[1, 2]] == 3


def test_singular_regions_and_bad_input_raise() -> None:
    ring = np.ones((9, 9), dtype=bool)
    ring[2:7, 2] = ring[2:7, 6] = ring[2, 2:7] = ring[6, 2:7] = False
    with pytest.raises(ValueError, match="touch no open face"):
        poisson_grid(ring)
    with pytest.raises(ValueError, match="singular"):
        poisson_grid(np.ones((4, 4), dtype=bool), dirichlet="none")
    with pytest.raises(ValueError, match="unknown faces"):
        poisson_grid(np.ones((4, 4), dtype=bool), dirichlet=["z+"])
    with pytest.raises(ValueError, match="boolean"):
        poisson_grid(np.ones((4, 4)))
    with pytest.raises(ValueError, match="no fluid"):
        poisson_grid(np.zeros((4, 4), dtype=bool))
    assert grid_faces(3) == ("x-", "x+", "y-", "y+", "z-", "z+")


def test_lanczos_extreme_ritz_values_and_vectors() -> None:
    A = poisson2d(20)
    dense = A.to_dense().numpy()
    exact = np.linalg.eigvalsh(dense)
    pairs = lanczos(A, 120, seed=1)
    assert isinstance(pairs, RitzPairs) and pairs.steps == 120
    V = pairs.vectors
    assert torch.allclose(V.T @ V, torch.eye(120, dtype=V.dtype), atol=1e-12)
    # the ends of the spectrum converge first
    assert abs(pairs.values[0].item() - exact[0]) < 1e-10
    assert abs(pairs.values[-1].item() - exact[-1]) < 1e-10
    # the returned residuals are the true ones
    true = torch.linalg.vector_norm(A @ V - V * pairs.values, dim=0)
    assert torch.allclose(true, pairs.residuals, atol=1e-9)


def test_lanczos_full_run_gives_the_spectrum_and_stops_on_invariant_subspace() -> None:
    A = poisson2d(6)
    pairs = lanczos(A, 36)
    exact = np.unique(np.round(np.linalg.eigvalsh(A.to_dense().numpy()), 10))
    # multiple eigenvalues are seen once: Lanczos stops when the Krylov space is invariant
    assert pairs.steps == len(exact) < 36
    assert np.allclose(pairs.values.numpy(), exact, atol=1e-10)


def test_lanczos_bad_input() -> None:
    A = poisson2d(3)
    with pytest.raises(ValueError, match="steps"):
        lanczos(A, 0)
    with pytest.raises(ValueError, match="steps"):
        lanczos(A, 10)
    with pytest.raises(ValueError, match="nonzero"):
        lanczos(A, 3, v0=torch.zeros(9, dtype=torch.float64))


def test_fcg_true_residual_matches_recurrence_with_fixed_preconditioner() -> None:
    A = poisson2d(12)
    b = torch.randn(144, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    M = lambda r: r / A.diagonal().unsqueeze(-1) if r.ndim == 2 else r / A.diagonal()
    plain = fcg(A, b, rtol=1e-10, M=M)
    true = fcg(A, b, rtol=1e-10, M=M, true_residual=True)
    assert plain.converged and true.converged
    assert abs(int(plain.iterations) - int(true.iterations)) <= 1
    # with true_residual every recorded norm is ||b - A x_i||
    xs: list[torch.Tensor] = []
    sol = fcg(A, b, rtol=1e-8, M=M, true_residual=True, callback=lambda x: xs.append(x.clone()))
    recorded = sol.residual_norms[1:]
    actual = torch.stack([torch.linalg.vector_norm(b - A @ x) for x in xs])
    assert torch.allclose(recorded, actual, rtol=1e-12, atol=1e-12)
