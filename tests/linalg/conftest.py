"""Test problems shared by the linear-algebra tests."""

from __future__ import annotations

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp
import torch

from sciml.linalg import SparseMatrix, poisson2d


def anisotropic(n: int, epsilon: float = 1e-2, theta: float = np.pi / 6) -> sp.csr_array:
    """Rotated anisotropic diffusion (Q1 FE stencil) from the pyamg gallery."""
    stencil = pyamg.gallery.diffusion_stencil_2d(epsilon=epsilon, theta=theta, type="FE")
    return sp.csr_array(pyamg.gallery.stencil_grid(stencil, (n, n), format="csr"))


def convection_diffusion(n: int, wind: float = 20.0) -> sp.csr_array:
    """Upwind differences for ``-Laplace u + w . grad u`` on an n x n grid (non-symmetric)."""
    h = 1.0 / (n + 1)
    T = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1])
    D = sp.diags_array([-np.ones(n - 1), np.ones(n)], offsets=[-1, 0])  # backward difference
    eye = sp.eye_array(n)
    lap = (sp.kron(T, eye) + sp.kron(eye, T)) / h**2
    conv = wind * (sp.kron(D, eye) + 0.5 * sp.kron(eye, D)) / h
    return sp.csr_array(lap + conv)


SPD_PROBLEMS = {
    "poisson2d": lambda: poisson2d(40).to_scipy(),
    "pyamg-poisson3d": lambda: sp.csr_array(pyamg.gallery.poisson((12, 12, 12), format="csr")),
    "anisotropic": lambda: anisotropic(40),
    "pyamg-elasticity": lambda: sp.csr_array(
        pyamg.gallery.linear_elasticity((16, 16), format="csr")[0]
    ),
}


@pytest.fixture(params=sorted(SPD_PROBLEMS))
def spd_problem(request: pytest.FixtureRequest) -> tuple[str, sp.csr_array]:
    """An SPD test matrix, by name."""
    return request.param, SPD_PROBLEMS[request.param]()


def rhs(n: int, k: int | None = None, seed: int = 0) -> torch.Tensor:
    """A seeded random right-hand side (n,) or block (n, k) in float64."""
    gen = np.random.default_rng(seed)
    shape = (n,) if k is None else (n, k)
    return torch.from_numpy(gen.standard_normal(shape))


def as_sparse(A: sp.sparray) -> SparseMatrix:
    """SciPy -> SparseMatrix in float64."""
    return SparseMatrix.from_scipy(A, dtype=torch.float64)
