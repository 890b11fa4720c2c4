"""One-dimensional ODE operator datasets of the DeepONet paper (Lu et al. 2021).

* :func:`generate_antiderivative` -- ``G(u)(x) = int_0^x u(s) ds`` on ``[0, 1]``.
* :func:`generate_pendulum` -- a gravity pendulum driven by the input ``u(t)``.

Both draw their inputs from the RBF Gaussian random field :func:`sciml.data.grf.rbf_grf_1d`
(length scale 0.2, drawn on 1000 fine points and interpolated by a cubic spline to the sensors).
The input function of a sample *is* that cubic spline: the outputs are computed from it, so the
sensor values ``u`` and the solutions ``s`` describe exactly the same input.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.integrate
import scipy.interpolate
import torch
from tqdm.auto import tqdm

from sciml.data.generators._base import GeneratedData, finite_float, positive_int, register
from sciml.data.grf import rbf_grf_1d

__all__ = ["generate_antiderivative", "generate_pendulum"]


def _grf_inputs(
    n_samples: int, length_scale: float, sensors: int, n_points: int, seed: int
) -> tuple[np.ndarray, np.ndarray, scipy.interpolate.CubicSpline]:
    """Sensor points, sensor values and the fine cubic spline of ``n_samples`` RBF-GRF draws."""
    u, x_fine, fine = rbf_grf_1d(
        n_samples,
        length_scale=length_scale,
        sensors=sensors,
        n_points=n_points,
        seed=seed,
        return_fine=True,
    )
    spline = scipy.interpolate.CubicSpline(x_fine.numpy(), fine.numpy(), axis=1)
    return np.linspace(0.0, 1.0, sensors), u.numpy(), spline


@register("antiderivative", "DeepONet antiderivative G(u)(x) = int_0^x u ds, u an RBF GRF")
def generate_antiderivative(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    length_scale: float = 0.2,
    sensors: int = 100,
    n_points: int = 1000,
) -> GeneratedData:
    r"""Antiderivative operator of the DeepONet paper.

    .. math:: s(x) = G(u)(x) = \int_0^x u(\xi)\,d\xi, \qquad x \in [0, 1],

    i.e. the ODE ``ds/dx = u(x)``, ``s(0) = 0``. Each input ``u`` is a zero-mean Gaussian
    random field with RBF covariance drawn on ``n_points`` equispaced points and interpolated by
    a (not-a-knot) cubic spline; ``u`` is that spline at ``sensors`` equispaced sensors. The
    output is the exact integral of the same spline (a piecewise quartic), so ``ds/dx = u``
    holds at every point up to round-off; the data are in the Cartesian layout (the sensors are
    also the output points, shared by every sample).

    Parameters
    ----------
    n_samples : int
        Number of input functions (>= 1).
    seed : int, default 0
        Seed of the random field; the same seed gives identical tensors.
    progress : bool, default False
        Show a progress bar over the samples.
    length_scale : float, default 0.2
        Length scale of the RBF covariance (> 0).
    sensors : int, default 100
        Number ``m`` of equispaced sensors on ``[0, 1]`` (>= 2); also the output points.
    n_points : int, default 1000
        Points of the fine grid the field is drawn on (>= 4).

    Returns
    -------
    GeneratedData
        ``inputs["u"]`` ``(n_samples, sensors)``, ``outputs["s"]`` ``(n_samples, sensors)``,
        ``coords["x"]`` ``(sensors,)``, all float64; ``attrs`` holds ``pde``, the parameters,
        ``seed`` and ``generator``.

    Raises
    ------
    ValueError
        If an option is out of range (non-positive counts or length scale).
    """
    n_samples = positive_int("n_samples", n_samples)
    sensors = positive_int("sensors", sensors, 2)
    n_points = positive_int("n_points", n_points, 4)
    length_scale = finite_float("length_scale", length_scale, positive=True)
    seed = positive_int("seed", seed, 0)

    x, u, spline = _grf_inputs(n_samples, length_scale, sensors, n_points, seed)
    primitive = spline.antiderivative()  # zero at x = 0 by construction
    s = np.empty((n_samples, sensors))
    for i in tqdm(range(n_samples), desc="antiderivative", disable=not progress):
        s[i] = scipy.interpolate.PPoly(primitive.c[:, :, i], primitive.x)(x)
    return GeneratedData(
        inputs={"u": torch.from_numpy(np.ascontiguousarray(u))},
        outputs={"s": torch.from_numpy(s)},
        coords={"x": torch.from_numpy(x)},
        attrs={
            "generator": "antiderivative",
            "pde": "ds/dx = u(x), s(0) = 0, x in [0, 1]",
            "seed": seed,
            "length_scale": length_scale,
            "sensors": sensors,
            "n_points": n_points,
            "scheme": "exact integral of the fine cubic spline of u",
        },
    )


@register("pendulum", "DeepONet driven gravity pendulum s1' = s2, s2' = -k sin(s1) + u(t)")
def generate_pendulum(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    k: float = 1.0,
    length_scale: float = 0.2,
    sensors: int = 100,
    n_points: int = 1000,
    method: str = "RK45",
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> GeneratedData:
    r"""Gravity pendulum driven by an external force, from the DeepONet paper.

    .. math::

        \frac{ds_1}{dt} = s_2, \qquad \frac{ds_2}{dt} = -k \sin s_1 + u(t),
        \qquad s(0) = 0, \qquad t \in [0, 1].

    The force ``u`` is an RBF Gaussian random field drawn on ``n_points`` points and
    interpolated by a cubic spline (``inputs["u"]`` is that spline at the sensors); each
    sample is integrated with :func:`scipy.integrate.solve_ivp` (``method``, adaptive steps,
    ``rtol``/``atol``) with the spline as the right-hand side, and the solution is stored at
    the sensor times. The spline forcing is only C^2 (its third derivative jumps at the
    ``n_points`` knots), which caps the accuracy of any high-order pair: against a fixed-step
    RK4 reference (3960 steps, self-converged to 1e-12) the error of the stored solution is
    about 1e-8 with either method at the default tolerances; RK45 needs about 2500 right-hand
    side evaluations per sample, DOP853 about 6000, hence the default.

    Parameters
    ----------
    n_samples : int
        Number of input functions (>= 1).
    seed : int, default 0
        Seed of the random field; the same seed gives identical tensors.
    progress : bool, default False
        Show a progress bar over the samples.
    k : float, default 1
        ``g / l`` of the pendulum (any finite number).
    length_scale : float, default 0.2
        Length scale of the RBF covariance (> 0).
    sensors : int, default 100
        Number of equispaced sensor times on ``[0, 1]`` (>= 2); also the output times.
    n_points : int, default 1000
        Points of the fine grid the field is drawn on (>= 4).
    method : {"RK45", "DOP853"}, default "RK45"
        Runge-Kutta pair of :func:`scipy.integrate.solve_ivp` (orders 5(4) and 8(5,3)).
    rtol, atol : float, default 1e-10, 1e-12
        Tolerances of the adaptive integrator (> 0).

    Returns
    -------
    GeneratedData
        ``inputs["u"]`` ``(n_samples, sensors)``, ``outputs["s"]`` ``(n_samples, sensors, 2)``
        (angle ``s1`` and angular velocity ``s2``), ``coords["t"]`` ``(sensors,)``, all
        float64; ``attrs`` holds ``pde``, the parameters, ``seed`` and ``generator``.

    Raises
    ------
    ValueError
        If an option is out of range.
    RuntimeError
        If the integrator fails on a sample.
    """
    n_samples = positive_int("n_samples", n_samples)
    sensors = positive_int("sensors", sensors, 2)
    n_points = positive_int("n_points", n_points, 4)
    length_scale = finite_float("length_scale", length_scale, positive=True)
    k = finite_float("k", k)
    rtol = finite_float("rtol", rtol, positive=True)
    atol = finite_float("atol", atol, positive=True)
    if method not in ("RK45", "DOP853"):
        raise ValueError(f"method must be 'RK45' or 'DOP853', got {method!r}")
    seed = positive_int("seed", seed, 0)

    t, u, spline = _grf_inputs(n_samples, length_scale, sensors, n_points, seed)
    s = np.empty((n_samples, sensors, 2))
    for i in tqdm(range(n_samples), desc="pendulum", disable=not progress):
        force = scipy.interpolate.PPoly(spline.c[:, :, i], spline.x)

        def rhs(_t: float, y: np.ndarray, force: scipy.interpolate.PPoly = force) -> np.ndarray:
            return np.array([y[1], -k * math.sin(y[0]) + float(force(_t))])

        sol = scipy.integrate.solve_ivp(
            rhs, (0.0, 1.0), np.zeros(2), method=method, t_eval=t, rtol=rtol, atol=atol
        )
        if not sol.success:
            raise RuntimeError(f"pendulum sample {i}: solve_ivp failed: {sol.message}")
        s[i] = sol.y.T
    return GeneratedData(
        inputs={"u": torch.from_numpy(np.ascontiguousarray(u))},
        outputs={"s": torch.from_numpy(s)},
        coords={"t": torch.from_numpy(t)},
        attrs={
            "generator": "pendulum",
            "pde": "ds1/dt = s2, ds2/dt = -k sin(s1) + u(t), s1(0) = s2(0) = 0, t in [0, 1]",
            "seed": seed,
            "k": k,
            "length_scale": length_scale,
            "sensors": sensors,
            "n_points": n_points,
            "method": method,
            "rtol": rtol,
            "atol": atol,
            "scheme": f"scipy.integrate.solve_ivp {method} (adaptive), cubic-spline forcing",
        },
    )
