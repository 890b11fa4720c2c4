"""Gaussian random fields: input functions for operator learning.

* :func:`rbf_grf_1d` -- the DeepONet recipe: a 1-D field with squared-exponential (RBF)
  covariance sampled on a fine grid by Cholesky, interpolated (cubic) to the sensors.
* :func:`periodic_grf` -- fields on periodic 1-D/2-D/3-D grids with covariance
  ``sigma^2 (-Laplacian + tau^2 I)^(-gamma)``, sampled exactly in Fourier space (FNO recipe).
* :func:`fe_grf` -- fields on the dofs of any finite-element space, from a truncated
  Karhunen-Loeve expansion of ``sigma^2 (-Laplacian + tau^2 I)^(-gamma)`` discretised with the
  space's stiffness and mass matrices.

Every sampler takes a ``seed`` and is reproducible: the same seed gives the same fields.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import scipy.interpolate
import scipy.linalg
import torch
from torch import Tensor

__all__ = ["fe_grf", "periodic_grf", "rbf_grf_1d", "rbf_kernel"]


def rbf_kernel(x: np.ndarray, length_scale: float) -> np.ndarray:
    """Squared-exponential covariance ``exp(-|x_i - x_j|^2 / (2 l^2))`` of 1-D points.

    Parameters
    ----------
    x : numpy.ndarray
        ``(npoints,)``.
    length_scale : float

    Returns
    -------
    numpy.ndarray
        ``(npoints, npoints)``.
    """
    d = x[:, None] - x[None, :]
    return np.exp(-0.5 * (d / length_scale) ** 2)


def rbf_grf_1d(
    n_samples: int,
    *,
    length_scale: float = 0.2,
    sensors: int = 100,
    n_points: int = 1000,
    jitter: float = 1e-13,
    seed: int = 0,
    return_fine: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Samples of a zero-mean GRF on ``[0, 1]`` with RBF covariance, at equispaced sensors.

    Following the DeepONet paper: the field is drawn on ``n_points`` equispaced points by a
    Cholesky factor of the covariance (plus ``jitter`` on the diagonal) and interpolated with a
    cubic spline to ``sensors`` equispaced points.

    Parameters
    ----------
    n_samples : int
    length_scale : float, default 0.2
    sensors : int, default 100
    n_points : int, default 1000
    jitter : float, default 1e-13
        Added to the diagonal (relative to the unit variance) for a stable Cholesky factor.
    seed : int, default 0
    return_fine : bool, default False
        Also return the fine grid and the fine samples.

    Returns
    -------
    torch.Tensor
        ``(n_samples, sensors)`` float64; with ``return_fine``, also the fine grid
        ``(n_points,)`` and the fine samples ``(n_samples, n_points)``.
    """
    _check_positive(n_samples=n_samples, sensors=sensors, n_points=n_points)
    if length_scale <= 0:
        raise ValueError(f"length_scale must be > 0, got {length_scale}")
    x = np.linspace(0.0, 1.0, n_points)
    L = _rbf_cholesky(n_points, float(length_scale), float(jitter))
    rng = np.random.default_rng(seed)
    fine = (L @ rng.standard_normal((n_points, n_samples))).T
    s = np.linspace(0.0, 1.0, sensors)
    at_sensors = scipy.interpolate.CubicSpline(x, fine, axis=1)(s)
    out = torch.from_numpy(np.ascontiguousarray(at_sensors))
    if return_fine:
        return out, torch.from_numpy(x), torch.from_numpy(fine)
    return out


@functools.lru_cache(maxsize=8)
def _rbf_cholesky(n_points: int, length_scale: float, jitter: float) -> np.ndarray:
    """Cholesky factor of the RBF covariance on ``n_points`` equispaced points (cached)."""
    x = np.linspace(0.0, 1.0, n_points)
    L = _cholesky_with_jitter(rbf_kernel(x, length_scale), jitter)
    L.flags.writeable = False
    return L


def _cholesky_with_jitter(K: np.ndarray, jitter: float) -> np.ndarray:
    """Cholesky factor, increasing the jitter tenfold until the factorisation succeeds."""
    eye = np.eye(K.shape[0])
    for _ in range(8):
        try:
            return scipy.linalg.cholesky(K + jitter * eye, lower=True)
        except np.linalg.LinAlgError:
            jitter *= 10.0
    raise np.linalg.LinAlgError("covariance is not positive definite even with jitter 1e-5")


def periodic_grf(
    n_samples: int,
    shape: tuple[int, ...],
    *,
    sigma: float = 1.0,
    tau: float = 3.0,
    gamma: float = 2.0,
    length: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Zero-mean GRF on a periodic grid with covariance ``sigma^2 (-Laplacian + tau^2)^(-gamma)``.

    The field is the real part of a sum over the grid's Fourier modes with independent Gaussian
    coefficients of variance ``sigma^2 (|2 pi k / length|^2 + tau^2)^(-gamma)``, so its
    covariance is the discrete analogue of the operator (up to aliasing of the modes beyond the
    grid). The constant mode is kept. The Burgers recipe of the DeepONet/FNO comparison,
    ``49 (-Laplacian + 49 I)^(-2.5)``, is ``sigma=7, tau=7, gamma=2.5``.

    Parameters
    ----------
    n_samples : int
    shape : tuple of int
        Grid points per direction (1, 2 or 3 directions), on ``[0, length)^d``.
    sigma, tau, gamma : float
        Amplitude, inverse length scale and smoothness (``gamma > d / 2`` for a field).
    length : float, default 1
        Period of the domain.
    seed : int, default 0
    dtype : torch.dtype, default torch.float64

    Returns
    -------
    torch.Tensor
        ``(n_samples, *shape)``.
    """
    if not 1 <= len(shape) <= 3:
        raise ValueError(f"shape must have 1 to 3 dimensions, got {shape}")
    _check_positive(n_samples=n_samples, **{f"shape[{i}]": s for i, s in enumerate(shape)})
    if tau <= 0 or sigma <= 0 or gamma <= 0:
        raise ValueError("sigma, tau and gamma must be > 0")
    gen = torch.Generator().manual_seed(seed)
    freqs = [torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64) for n in shape]
    grids = torch.meshgrid(*freqs, indexing="ij")
    k2 = sum((2 * math.pi * g / length) ** 2 for g in grids)
    spectrum = sigma**2 * (k2 + tau**2) ** (-gamma)
    npts = math.prod(shape)
    noise = torch.complex(
        torch.randn((n_samples, *shape), generator=gen, dtype=torch.float64),
        torch.randn((n_samples, *shape), generator=gen, dtype=torch.float64),
    )
    # real part of sum_k c_k e^{ikx} with E|c_k|^2 = 2 S(k) has covariance sum_k S(k) cos(k.dx)
    coeffs = noise * torch.sqrt(spectrum)
    dims = tuple(range(1, len(shape) + 1))
    field = torch.fft.ifftn(coeffs, dim=dims).real * npts
    return field.to(dtype)


def fe_grf(
    V: Any,
    n_samples: int,
    *,
    sigma: float = 1.0,
    tau: float = 3.0,
    gamma: float = 2.0,
    modes: int = 64,
    seed: int = 0,
) -> Tensor:
    """GRF on the dofs of a scalar finite-element space by a truncated Karhunen-Loeve expansion.

    The covariance operator ``sigma^2 (-Laplacian + tau^2 I)^(-gamma)`` (natural boundary
    conditions) is discretised by the generalized eigenproblem ``K phi = lambda M phi`` with the
    stiffness ``K`` and mass ``M`` of ``V``: the field is
    ``sum_i sigma (lambda_i + tau^2)^(-gamma/2) xi_i phi_i`` over the ``modes`` smallest
    eigenvalues, with ``M``-orthonormal ``phi_i`` and independent standard normal ``xi_i``.
    Works on any mesh sciml can load.

    Parameters
    ----------
    V : sciml.fem.FunctionSpace
        Scalar space (serial).
    n_samples : int
    sigma, tau, gamma : float
        As in :func:`periodic_grf`.
    modes : int, default 64
        Number of KL modes kept (at most ``V.num_dofs - 1``).
    seed : int, default 0

    Returns
    -------
    torch.Tensor
        ``(n_samples, V.num_dofs)`` float64.
    """
    import scipy.sparse.linalg as spla

    from sciml.fem import mass, stiffness

    if V.shape is not None:
        raise ValueError("fe_grf samples scalar fields; use one call per component")
    _check_positive(n_samples=n_samples, modes=modes)
    modes = min(modes, V.num_dofs - 1)
    K = stiffness(V).to_scipy().tocsc()
    M = mass(V).to_scipy().tocsc()
    # smallest eigenvalues by shift-invert about a point just below zero; a fixed, generic
    # start vector and a sign convention make the basis (hence the samples) reproducible
    v0 = np.random.default_rng(12345).standard_normal(K.shape[0])
    lam, phi = spla.eigsh(K, k=modes, M=M, sigma=-1.0, which="LM", v0=v0)
    order = np.argsort(lam)
    lam, phi = np.clip(lam[order], 0.0, None), phi[:, order]
    phi *= np.where(phi[np.abs(phi).argmax(axis=0), np.arange(modes)] < 0, -1.0, 1.0)
    amplitude = sigma * (lam + tau**2) ** (-gamma / 2)
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((n_samples, modes))
    return torch.from_numpy((xi * amplitude) @ phi.T)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
