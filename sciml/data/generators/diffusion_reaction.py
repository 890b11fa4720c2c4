"""Nonlinear diffusion-reaction dataset of the DeepONet paper (Lu et al. 2021).

:func:`generate_diffusion_reaction` solves ``s_t = D s_xx + k s^2 + u(x)`` with zero initial
and boundary values for sources ``u`` drawn from the RBF Gaussian random field, by second-order
finite differences in space and a Crank-Nicolson (trapezoidal) step in time whose nonlinear
equations are solved by Newton's method, all samples at once.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from tqdm.auto import tqdm

from sciml.data.generators._base import GeneratedData, finite_float, positive_int, register
from sciml.data.grf import rbf_grf_1d

__all__ = ["generate_diffusion_reaction"]


def _laplacian(s: np.ndarray, dx: float) -> np.ndarray:
    """Second difference of the interior values ``s`` (last axis) with zero boundary values."""
    padded = np.pad(s, [(0, 0)] * (s.ndim - 1) + [(1, 1)])
    return (padded[..., :-2] - 2.0 * s + padded[..., 2:]) / dx**2


def _crank_nicolson_newton(
    u: np.ndarray,
    *,
    D: float,
    k: float,
    T: float,
    time_steps: int,
    newton_tol: float,
    max_newton: int,
    progress: bool,
) -> np.ndarray:
    """Solve the diffusion-reaction equation for every row of ``u`` (grid values incl. ends).

    Returns ``(n_samples, time_steps + 1, m)`` grid values, boundaries included.
    """
    n, m = u.shape
    mi = m - 2  # interior unknowns per sample
    dx = 1.0 / (m - 1)
    dt = T / time_steps
    f = u[:, 1:-1]
    # one tridiagonal system for all samples: the coupling between consecutive samples is zero
    off = np.full((n, mi), -0.5 * dt * D / dx**2)
    upper = off.copy()
    upper[:, 0] = 0.0  # ab[0, j] multiplies x[j] in row j - 1: nothing couples row ends
    lower = off.copy()
    lower[:, -1] = 0.0
    diag_lin = 1.0 + dt * D / dx**2
    out = np.zeros((n, time_steps + 1, m))
    s_old = np.zeros((n, mi))
    for step in tqdm(range(time_steps), desc="diffusion_reaction", disable=not progress):
        explicit = s_old + 0.5 * dt * (D * _laplacian(s_old, dx) + k * s_old**2) + dt * f
        s_new = s_old.copy()
        for _ in range(max_newton):
            residual = s_new - 0.5 * dt * (D * _laplacian(s_new, dx) + k * s_new**2) - explicit
            ab = np.stack(
                [upper.ravel(), (diag_lin - dt * k * s_new).ravel(), lower.ravel()], axis=0
            )
            try:
                delta = scipy.linalg.solve_banded(
                    (1, 1), ab, residual.ravel(), overwrite_ab=True, check_finite=False
                ).reshape(n, mi)
            except np.linalg.LinAlgError as err:
                raise RuntimeError(
                    f"diffusion_reaction: singular Newton matrix at time step {step + 1} "
                    "(blow-up of the reaction term? reduce k or the time step)"
                ) from err
            s_new -= delta
            scale = max(1.0, float(np.abs(s_new).max()))
            if not np.all(np.isfinite(s_new)):
                break
            if float(np.abs(delta).max()) <= newton_tol * scale:
                break
        else:
            raise RuntimeError(
                f"diffusion_reaction: Newton did not converge in {max_newton} iterations at "
                f"time step {step + 1} (last update {float(np.abs(delta).max()):.3e})"
            )
        if not np.all(np.isfinite(s_new)):
            raise RuntimeError(
                f"diffusion_reaction: the solution is not finite at time step {step + 1} "
                "(blow-up of the reaction term? reduce k or the time step)"
            )
        out[:, step + 1, 1:-1] = s_new
        s_old = s_new
    return out


@register(
    "diffusion_reaction",
    "DeepONet nonlinear diffusion-reaction s_t = D s_xx + k s^2 + u(x), u an RBF GRF",
)
def generate_diffusion_reaction(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    D: float = 0.01,
    k: float = 0.01,
    T: float = 1.0,
    sensors: int = 100,
    time_steps: int = 100,
    length_scale: float = 0.2,
    n_points: int = 1000,
    newton_tol: float = 1e-13,
    max_newton: int = 20,
) -> GeneratedData:
    r"""Nonlinear diffusion-reaction with a random source, from the DeepONet paper.

    .. math::

        \partial_t s = D\,\partial_{xx} s + k s^2 + u(x), \qquad x \in [0, 1],\ t \in [0, T],
        \qquad s(x, 0) = 0, \quad s(0, t) = s(1, t) = 0.

    The source ``u`` is an RBF Gaussian random field (drawn on ``n_points`` points, cubic
    spline to the grid); the spatial grid is the sensor grid, ``sensors`` equispaced points
    including both ends.

    Scheme: second-order central differences in space (the method of lines on the interior
    points) and the Crank-Nicolson (trapezoidal) rule in time for the whole right-hand side,
    diffusion and reaction alike,

    .. math::

        \frac{s^{n+1}_j - s^n_j}{\Delta t}
        = \frac{1}{2}\Big[D\,\delta_{xx} s^{n+1}_j + k (s^{n+1}_j)^2
          + D\,\delta_{xx} s^n_j + k (s^n_j)^2\Big] + u_j,

    whose nonlinear equations are solved by Newton's method (tridiagonal Jacobian
    ``I - dt/2 (D delta_xx + 2 k diag(s))``) to ``|update| <= newton_tol max(1, |s|)``. All
    samples form one block-diagonal tridiagonal system solved by LAPACK's banded solver
    (:func:`scipy.linalg.solve_banded`). The scheme is second order in space and time,
    ``O(dx^2 + dt^2)``, A-stable, and satisfies its discrete equations to round-off. Near the
    corners ``x in {0, 1}, t = 0`` the source does not vanish while the boundary values do, so
    the solution has a thin initial boundary layer; the observed convergence on the default grid
    is still close to second order (checked in the tests by halving ``dx`` and ``dt``).

    Parameters
    ----------
    n_samples : int
        Number of source functions (>= 1).
    seed : int, default 0
        Seed of the random field; the same seed gives identical tensors.
    progress : bool, default False
        Show a progress bar over the time steps (all samples advance together).
    D : float, default 0.01
        Diffusion coefficient (> 0).
    k : float, default 0.01
        Reaction rate (any finite number).
    T : float, default 1
        Final time (> 0).
    sensors : int, default 100
        Grid points ``m`` on ``[0, 1]``, both ends included (>= 3); also the input sensors.
    time_steps : int, default 100
        Number of time steps (>= 1); ``dt = T / time_steps``.
    length_scale : float, default 0.2
        Length scale of the RBF covariance of ``u`` (> 0).
    n_points : int, default 1000
        Points of the fine grid the field is drawn on (>= 4).
    newton_tol : float, default 1e-13
        Relative tolerance of the Newton iterations (> 0).
    max_newton : int, default 20
        Newton iterations allowed per time step (>= 1).

    Returns
    -------
    GeneratedData
        ``inputs["u"]`` ``(n_samples, sensors)``, ``outputs["s"]``
        ``(n_samples, time_steps + 1, sensors)`` (``s[:, j]`` at ``t = j dt``),
        ``coords["x"]`` ``(sensors,)`` and ``coords["t"]`` ``(time_steps + 1,)``, all float64;
        ``attrs`` holds ``pde``, the parameters, ``seed``, ``generator`` and ``scheme``.

    Raises
    ------
    ValueError
        If an option is out of range.
    RuntimeError
        If Newton's method does not converge or the solution blows up (large ``k T``).
    """
    n_samples = positive_int("n_samples", n_samples)
    sensors = positive_int("sensors", sensors, 3)
    time_steps = positive_int("time_steps", time_steps)
    n_points = positive_int("n_points", n_points, 4)
    max_newton = positive_int("max_newton", max_newton)
    D = finite_float("D", D, positive=True)
    k = finite_float("k", k)
    T = finite_float("T", T, positive=True)
    length_scale = finite_float("length_scale", length_scale, positive=True)
    newton_tol = finite_float("newton_tol", newton_tol, positive=True)
    seed = positive_int("seed", seed, 0)

    u = rbf_grf_1d(
        n_samples, length_scale=length_scale, sensors=sensors, n_points=n_points, seed=seed
    )
    assert isinstance(u, torch.Tensor)
    s = _crank_nicolson_newton(
        u.numpy(),
        D=D,
        k=k,
        T=T,
        time_steps=time_steps,
        newton_tol=newton_tol,
        max_newton=max_newton,
        progress=progress,
    )
    return GeneratedData(
        inputs={"u": u},
        outputs={"s": torch.from_numpy(s)},
        coords={
            "x": torch.linspace(0.0, 1.0, sensors, dtype=torch.float64),
            "t": torch.from_numpy(np.linspace(0.0, T, time_steps + 1)),
        },
        attrs={
            "generator": "diffusion_reaction",
            "pde": "s_t = D s_xx + k s^2 + u(x), x in [0, 1], t in [0, T], "
            "s(x, 0) = 0, s(0, t) = s(1, t) = 0",
            "seed": seed,
            "D": D,
            "k": k,
            "T": T,
            "sensors": sensors,
            "time_steps": time_steps,
            "length_scale": length_scale,
            "n_points": n_points,
            "newton_tol": newton_tol,
            "max_newton": max_newton,
            "scheme": "central differences O(dx^2), Crank-Nicolson O(dt^2) with Newton on the "
            "implicit reaction term",
        },
    )
