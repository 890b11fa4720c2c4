"""Gaussian random fields have the requested covariance (empirical vs analytic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.data import periodic_grf, rbf_grf_1d, rbf_kernel


def test_rbf_grf_covariance_and_reproducibility() -> None:
    n = 4000
    u, x, fine = rbf_grf_1d(n, length_scale=0.2, return_fine=True, seed=1)
    assert u.shape == (n, 100) and fine.shape == (n, 1000)
    idx = np.arange(0, 1000, 111)
    empirical = np.cov(fine[:, idx].numpy().T)
    exact = rbf_kernel(x[idx].numpy(), 0.2)
    # standard error of a covariance estimate of unit-variance Gaussians: sqrt(2 / n) ~ 0.022
    assert np.abs(empirical - exact).max() < 5 * math.sqrt(2 / n)
    # the sensors interpolate the fine samples
    np.testing.assert_allclose(u[:, 0].numpy(), fine[:, 0].numpy(), atol=1e-12)
    assert torch.equal(rbf_grf_1d(3, seed=5), rbf_grf_1d(3, seed=5))
    assert not torch.equal(rbf_grf_1d(3, seed=5), rbf_grf_1d(3, seed=6))
    with pytest.raises(ValueError, match="length_scale"):
        rbf_grf_1d(2, length_scale=0.0)


@pytest.mark.parametrize("shape", [(64,), (16, 16), (8, 8, 8)])
def test_periodic_grf_covariance_matches_the_spectrum(shape: tuple[int, ...]) -> None:
    n = 3000
    sigma, tau, gamma = 7.0, 7.0, 2.5
    f = periodic_grf(n, shape, sigma=sigma, tau=tau, gamma=gamma, seed=2)
    assert f.shape == (n, *shape)
    freqs = [torch.fft.fftfreq(s, d=1.0 / s, dtype=torch.float64) for s in shape]
    k2 = sum((2 * math.pi * g) ** 2 for g in torch.meshgrid(*freqs, indexing="ij"))
    spectrum = sigma**2 * (k2 + tau**2) ** (-gamma)
    exact = torch.fft.ifftn(spectrum).real * math.prod(shape)  # C(dx) = sum_k S(k) cos(k dx)
    origin = f.reshape(n, -1)[:, :1]
    empirical = (origin * f.reshape(n, -1)).mean(0).reshape(shape)
    tol = 5 * float(exact.flatten()[0]) * math.sqrt(2 / n)
    assert float((empirical - exact).abs().max()) < tol
    assert torch.equal(periodic_grf(2, shape, seed=9), periodic_grf(2, shape, seed=9))


def test_fe_grf_on_a_mesh() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.data import fe_grf
    from sciml.fem import FunctionSpace, mass, stiffness
    from sciml.mesh import unit_square

    V = FunctionSpace(unit_square(12), "P", 1)
    n, modes, sigma, tau, gamma = 4000, 30, 1.0, 2.0, 2.0
    g = fe_grf(V, n, sigma=sigma, tau=tau, gamma=gamma, modes=modes, seed=4)
    assert g.shape == (n, V.num_dofs)
    # KL coefficients in the M-orthonormal eigenbasis have variance sigma^2 (lam + tau^2)^-gamma
    import scipy.linalg

    K, M = stiffness(V).to_dense().numpy(), mass(V).to_dense().numpy()
    lam, phi = scipy.linalg.eigh(K, M)
    coeffs = g.numpy() @ M @ phi[:, :modes]
    expected = sigma**2 * (lam[:modes] + tau**2) ** (-gamma)
    ratio = coeffs.var(axis=0) / expected
    assert np.abs(ratio - 1).max() < 5 * math.sqrt(2 / n)
    assert np.abs(g.numpy() @ M @ phi[:, modes + 5 :]).max() < 1e-8  # no energy beyond the cut


def test_fe_grf_is_reproducible() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.data import fe_grf
    from sciml.fem import FunctionSpace
    from sciml.mesh import unit_square

    V = FunctionSpace(unit_square(10), "P", 1)
    assert torch.equal(fe_grf(V, 3, seed=1), fe_grf(V, 3, seed=1))
    assert not torch.equal(fe_grf(V, 3, seed=1), fe_grf(V, 3, seed=2))
