"""2-D incompressible Navier-Stokes in vorticity form on the periodic unit square (pseudo-spectral).

The PI-HC-MoE benchmark (Chalapathi et al., ICLR 2024): ``Re = 1 / nu = 1e4``, no forcing, a
random initial vorticity, saved on a ``64 x 64`` grid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from sciml.data.generators._base import GeneratedData, positive_int, register
from sciml.data.grf import periodic_grf

__all__ = ["generate_navier_stokes_2d"]

#: The run stops with an error if ``dt * max(|u| + |v|) / dx`` ever exceeds this (the linear
#: stability limit of RK4 for the dealiased spectral advection operator is ``2.83 * 3 / (2 pi)``
#: = 1.35).
CFL_LIMIT = 1.0

#: The FNO forcing ``0.1 (sin(2 pi (x + y)) + cos(2 pi (x + y)))``.
FORCINGS = ("none", "fno")


@register(
    "navier_stokes_2d",
    "2-D periodic Navier-Stokes in vorticity form (Re = 1e4, GRF initial vorticity), "
    "pseudo-spectral with 2/3 dealiasing and integrating-factor RK4 (PI-HC-MoE benchmark)",
)
def generate_navier_stokes_2d(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    resolution: int = 64,
    internal_resolution: int | None = None,
    nu: float = 1e-4,
    T: float = 10.0,
    nt: int = 51,
    forcing: str = "none",
    sigma: float = 730.0,
    tau: float = 7.0,
    gamma: float = 2.5,
    cfl: float = 0.5,
    max_dt: float = 1e-2,
    w0: Tensor | None = None,
    device: str | torch.device = "cpu",
) -> GeneratedData:
    r"""Decaying (or forced) 2-D turbulence: the vorticity form of incompressible Navier-Stokes.

    Each sample solves, on the periodic unit square :math:`\mathbb{T}^2 = [0, 1)^2`,

    .. math::

        \partial_t w + \mathbf{v} \cdot \nabla w = \nu \Delta w + f, \qquad
        -\Delta \psi = w, \qquad
        \mathbf{v} = (\partial_y \psi, -\partial_x \psi), \qquad
        w(0) = w_0,

    for :math:`t \in [0, T]`, with :math:`\nu = 10^{-4}` (``Re = 1 / nu = 1e4``) and no forcing
    by default. ``forcing="fno"`` uses the forcing of the FNO data,
    :math:`f = 0.1 (\sin 2\pi(x + y) + \cos 2\pi(x + y))`. The velocity is divergence-free and
    :math:`w = \partial_x v_2 - \partial_y v_1` is its vorticity; the mean of :math:`w` is
    zero (and stays zero) on the periodic domain.

    *Initial vorticity.* A Gaussian random field from :func:`sciml.data.periodic_grf` with
    covariance :math:`\sigma^2 (-\Delta + \tau^2 I)^{-\gamma}` drawn on the ``resolution``
    grid (one seed per sample, derived from ``seed`` and the sample index, so sample ``k``
    does not depend on ``n_samples``), with its constant mode removed (a periodic vorticity has
    zero mean) and its Nyquist modes removed (they have no real derivative). The defaults
    ``tau = 7, gamma = 2.5`` are the smoothness of the FNO data; ``sigma = 730`` (about 40
    times the FNO amplitude :math:`7^{3/2}`) makes the velocity :math:`O(1)`: over the
    ensemble, the root-mean-square velocity is about 1, the rms vorticity about 7.5 and
    :math:`\max(|v_1| + |v_2|)` about 2.3 on average (3.8 at most in 200 samples), so
    ``Re = 1e4`` is also the Reynolds number based on the velocity and the domain size, and
    ``T = 10`` is about ten eddy turnover times. The initial field is a trigonometric
    polynomial of degree ``< resolution / 2``, so the same initial value problem is solved at
    any ``internal_resolution`` and the solver is exact at ``t = 0``.

    *Discretisation.* Fourier pseudo-spectral on an ``M x M`` grid (``M =
    internal_resolution``): the Poisson equation is solved exactly in Fourier space, the
    derivatives are spectral, the product :math:`\mathbf{v} \cdot \nabla w` is formed on the
    grid and dealiased by the 2/3 rule (Fourier modes with :math:`|k_x|` or :math:`|k_y|`
    :math:`\ge M / 3` of the nonlinear term are zeroed; with ``M >= 3 resolution / 2`` every
    mode of the initial field is inside the band, and the semi-discrete system is the Galerkin
    truncation, which conserves energy and enstrophy exactly when :math:`\nu = 0, f = 0`).
    Time stepping is the integrating-factor (Lawson) fourth-order Runge-Kutta method: the
    viscous term is integrated exactly by :math:`e^{-\nu |k|^2 t}`, the advection and
    forcing by classical RK4, so the scheme is fourth order in time and spectrally accurate
    in space; a single Fourier mode :math:`\sin(2 \pi x) \sin(2 \pi y)` (whose advection
    vanishes) decays exactly as :math:`e^{-8 \pi^2 \nu t}`.

    *Time step.* In each interval between two saved snapshots the step of each sample is
    fixed: :math:`\Delta t_\text{save} / m` with :math:`m` the smallest integer such that
    :math:`\Delta t \le` ``max_dt`` and the CFL number :math:`\Delta t \max(|v_1| + |v_2|) /
    \Delta x \le` ``cfl`` at the start of the interval (:math:`\Delta x = 1 / M`). The
    samples are advanced together, a sample simply stops stepping once it reaches the
    snapshot time, so each sample's trajectory does not depend on the others. The CFL number
    is checked at every step and the run raises ``RuntimeError`` if it exceeds 1.0 (the RK4
    stability limit of the dealiased advection is about 1.35).

    *Internal resolution.* The default ``internal_resolution = 2 * resolution`` (128 for the
    default 64) for two reasons: all initial modes lie inside the 2/3 band (see above), and
    at ``Re = 1e4`` the enstrophy cascade reaches wavenumbers beyond the 21 modes a
    dealiased 64 grid resolves. Measured on two default samples (``T = 10``), the saved
    64 x 64 vorticity differs from the one computed on a 256 grid by 10 to 14 % (relative L2)
    with ``internal_resolution = 64``, and by 2 % at ``t = 1`` decreasing to 0.4 % at
    ``t = 10`` with 128, for 8 times the cost of 64 (256 costs 15 times more than 128). On
    one CPU core a default sample takes about 13 s (a GPU is much faster for large batches).
    Saved snapshots are the internal grid values at the ``resolution`` grid points (every
    ``M / resolution``-th point), not a filtered field.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    seed : int, default 0
        Non-negative seed; the same seed gives the same data.
    progress : bool, default False
        Show a progress bar over the saved snapshots.
    resolution : int, default 64
        Saved grid points per side (even, >= 8).
    internal_resolution : int, optional
        Grid points per side of the solver, a multiple of ``resolution``; default
        ``2 * resolution``.
    nu : float, default 1e-4
        Kinematic viscosity (``>= 0``; 0 gives the Euler equations).
    T : float, default 10
        Final time (> 0).
    nt : int, default 51
        Number of saved snapshots at ``t = linspace(0, T, nt)`` (>= 2), initial field included.
    forcing : {"none", "fno"}, default "none"
        The source :math:`f`.
    sigma, tau, gamma : float, default 730, 7, 2.5
        Amplitude, inverse length scale and smoothness of the initial GRF (all > 0,
        ``gamma > 1``).
    cfl : float, default 0.5
        Target CFL number (in ``(0, 1]``) used to choose the time step.
    max_dt : float, default 1e-2
        Largest time step (> 0).
    w0 : torch.Tensor, optional
        ``(n_samples, resolution, resolution)`` initial vorticities to use instead of the GRF,
        ``w0[k, i, j]`` at ``(i, j) / resolution``; their mean and Nyquist modes are removed
        as for the GRF.
    device : str or torch.device, default "cpu"
        Where to compute (``"cuda"`` is much faster for large batches); results are returned
        on the CPU.

    Returns
    -------
    GeneratedData
        ``inputs``: ``"w0"`` ``(n_samples, resolution, resolution)``; ``outputs``: ``"w"``
        ``(n_samples, nt, resolution, resolution)``, ``w[k, j, i1, i2]`` the vorticity of sample
        ``k`` at time ``t[j]`` and point ``(x[i1], y[i2])``; ``coords``: ``"x"``, ``"y"``
        ``(resolution,)`` (``i / resolution``), ``"t"`` ``(nt,)``; ``attrs``: ``pde``, the
        parameters, ``seed``, ``generator``, ``scheme``, ``steps`` (total time steps over the
        samples) and ``max_cfl`` (largest CFL number met). All tensors float64.

    Raises
    ------
    ValueError
        On invalid options.
    RuntimeError
        If the CFL number exceeds 1.0 during a step.

    Examples
    --------
    >>> data = generate_navier_stokes_2d(2, resolution=16, T=0.1, nt=3)
    >>> data.inputs["w0"].shape, data.outputs["w"].shape
    (torch.Size([2, 16, 16]), torch.Size([2, 3, 16, 16]))
    """
    positive_int("n_samples", n_samples, 1)
    positive_int("seed", seed, 0)
    positive_int("resolution", resolution, 8)
    if resolution % 2:
        raise ValueError(f"resolution must be even, got {resolution}")
    if internal_resolution is None:
        internal_resolution = 2 * resolution
    positive_int("internal_resolution", internal_resolution, resolution)
    if internal_resolution % resolution:
        raise ValueError(
            f"internal_resolution ({internal_resolution}) must be a multiple of resolution "
            f"({resolution})"
        )
    _check_real("nu", nu, minimum=0.0)
    _check_real("T", T, minimum=0.0, strict=True)
    positive_int("nt", nt, 2)
    if forcing not in FORCINGS:
        raise ValueError(f"forcing must be one of {FORCINGS}, got {forcing!r}")
    for name, value in (("sigma", sigma), ("tau", tau), ("max_dt", max_dt)):
        _check_real(name, value, minimum=0.0, strict=True)
    _check_real("gamma", gamma, minimum=1.0, strict=True)
    _check_real("cfl", cfl, minimum=0.0, strict=True)
    if cfl > CFL_LIMIT:
        raise ValueError(f"cfl must be <= {CFL_LIMIT}, got {cfl}")
    device = torch.device(device)

    n, m = int(resolution), int(internal_resolution)
    given = w0 is not None
    if w0 is None:
        fields = [
            periodic_grf(1, (n, n), sigma=sigma, tau=tau, gamma=gamma, seed=_sample_seed(seed, k))
            for k in range(n_samples)
        ]
        w0 = torch.cat(fields)
    else:
        if not isinstance(w0, Tensor) or tuple(w0.shape) != (n_samples, n, n):
            raise ValueError(
                f"w0 must be a tensor of shape {(n_samples, n, n)}, got "
                f"{tuple(w0.shape) if isinstance(w0, Tensor) else type(w0).__name__}"
            )
        if not torch.isfinite(w0).all():
            raise ValueError("w0 must be finite")
    w0_hat = _band_limit(torch.fft.rfft2(w0.detach().to(torch.float64).cpu()), n)
    w0_out = torch.fft.irfft2(w0_hat, s=(n, n))

    grid = _SpectralGrid(m, device)
    w_hat = grid.embed(w0_hat.to(device))
    f_hat = None
    if forcing == "fno":
        x = torch.arange(m, dtype=torch.float64, device=device) / m
        s = x[:, None] + x[None, :]
        f = 0.1 * (torch.sin(2 * math.pi * s) + torch.cos(2 * math.pi * s))
        f_hat = torch.fft.rfft2(f)

    t = torch.linspace(0.0, float(T), nt, dtype=torch.float64)
    stride = m // n
    w_out = torch.empty((n_samples, nt, n, n), dtype=torch.float64)
    w_out[:, 0] = w0_out
    total_steps = 0
    max_cfl = 0.0
    for j in tqdm(range(1, nt), desc="navier_stokes_2d", disable=not progress):
        interval = float(t[j] - t[j - 1])
        speed = grid.max_speed(w_hat)
        steps = torch.maximum(
            torch.ceil(torch.full_like(speed, interval / max_dt) * (1 - 1e-12)),
            torch.ceil(interval * speed * m / cfl),
        ).clamp_min(1)
        dt = interval / steps
        decay = torch.exp(-0.5 * nu * grid.k2 * dt[:, None, None])
        for step in range(int(steps.max())):
            active = step < steps
            new, speed = grid.if_rk4_step(w_hat, dt, decay, f_hat)
            cfl_now = float((dt * speed * m)[active].max())
            max_cfl = max(max_cfl, cfl_now)
            if cfl_now > CFL_LIMIT:
                raise RuntimeError(
                    f"CFL number {cfl_now:.3g} > {CFL_LIMIT} at t = {float(t[j - 1]):.4g}: "
                    "lower cfl or max_dt"
                )
            w_hat = torch.where(active[:, None, None], new, w_hat)
        total_steps += int(steps.sum())
        w_out[:, j] = torch.fft.irfft2(w_hat, s=(m, m))[:, ::stride, ::stride].cpu()

    coord = torch.arange(n, dtype=torch.float64) / n
    attrs: dict[str, Any] = {
        "pde": "w_t + v . grad w = nu Laplacian w + f on the periodic [0,1)^2, -Laplacian psi = "
        "w, v = (psi_y, -psi_x)",
        "generator": "navier_stokes_2d",
        "seed": int(seed),
        "n_samples": int(n_samples),
        "resolution": n,
        "internal_resolution": m,
        "nu": float(nu),
        "reynolds_number": float(1.0 / nu) if nu > 0 else float("inf"),
        "T": float(T),
        "nt": int(nt),
        "forcing": forcing,
        "forcing_formula": "0.1 (sin(2 pi (x+y)) + cos(2 pi (x+y)))" if forcing == "fno" else "0",
        "sigma": float(sigma),
        "tau": float(tau),
        "gamma": float(gamma),
        "initial_condition": "periodic_grf(sigma^2 (-Laplacian + tau^2 I)^(-gamma)) on the "
        "resolution grid, one seed per sample, constant and Nyquist modes removed"
        if not given
        else "given w0, constant and Nyquist modes removed",
        "cfl": float(cfl),
        "max_dt": float(max_dt),
        "scheme": "Fourier pseudo-spectral, 2/3 dealiasing, integrating-factor RK4 (4th order)",
        "steps": total_steps,
        "max_cfl": max_cfl,
        "grid_layout": "w[k, j, i1, i2] at (x[i1], y[i2], t[j]), x = i / resolution",
    }
    return GeneratedData(
        inputs={"w0": w0_out},
        outputs={"w": w_out},
        coords={"x": coord, "y": coord.clone(), "t": t},
        attrs=attrs,
    )


class _SpectralGrid:
    """Wavenumbers, dealiasing mask and the right-hand side on an ``m x m`` periodic grid."""

    def __init__(self, m: int, device: torch.device) -> None:
        self.m = m
        fx = torch.fft.fftfreq(m, d=1.0 / m, dtype=torch.float64, device=device)
        fy = torch.fft.rfftfreq(m, d=1.0 / m, dtype=torch.float64, device=device)
        self.kx = (2 * math.pi * fx)[:, None].expand(m, fy.numel())
        self.ky = (2 * math.pi * fy)[None, :].expand(m, fy.numel())
        self.k2 = self.kx**2 + self.ky**2
        inv = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1e-300), 0.0)
        self.inv_k2 = inv
        # spectral multipliers giving (psi_y, -psi_x, w_x, w_y) from w
        self.ops = [
            (1j * self.ky * inv).contiguous(),
            (-1j * self.kx * inv).contiguous(),
            (1j * self.kx).contiguous(),
            (1j * self.ky).contiguous(),
        ]
        # 2/3 rule: products of modes |k| < m/3 alias only onto modes >= m/3
        self.mask = (fx.abs()[:, None] < m / 3) & (fy.abs()[None, :] < m / 3)
        self.neg_mask = -self.mask.to(torch.float64)

    def embed(self, w_hat: Tensor) -> Tensor:
        """Zero-pad an rfft2 spectrum of an ``n x n`` grid (Nyquist modes zero) to ``m x m``."""
        n = w_hat.shape[-2]
        out = torch.zeros(
            (w_hat.shape[0], self.m, self.m // 2 + 1), dtype=w_hat.dtype, device=w_hat.device
        )
        half = n // 2
        scale = (self.m / n) ** 2
        out[:, :half, :half] = w_hat[:, :half, :half] * scale
        out[:, self.m - half + 1 :, :half] = w_hat[:, half + 1 :, :half] * scale
        return out

    def max_speed(self, w_hat: Tensor) -> Tensor:
        """``max(|v_1| + |v_2|)`` per sample."""
        s = (self.m, self.m)
        u, v = (torch.fft.irfft2(w_hat * op, s=s) for op in self.ops[:2])
        return (u.abs() + v.abs()).amax(dim=(-2, -1))

    def rhs(self, w_hat: Tensor, f_hat: Tensor | None) -> tuple[Tensor, Tensor]:
        """Dealiased ``-v . grad w + f`` in Fourier space, and ``max(|v_1| + |v_2|)``."""
        s = (self.m, self.m)
        u, v, wx, wy = (torch.fft.irfft2(w_hat * op, s=s) for op in self.ops)
        out = torch.fft.rfft2(u * wx + v * wy) * self.neg_mask
        if f_hat is not None:
            out = out + f_hat
        return out, (u.abs() + v.abs()).amax(dim=(-2, -1))

    def if_rk4_step(
        self, w_hat: Tensor, dt: Tensor, decay: Tensor, f_hat: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """One Lawson (integrating-factor) RK4 step; ``decay = exp(-nu |k|^2 dt / 2)``."""
        h = dt[:, None, None]
        a, speed = self.rhs(w_hat, f_hat)
        a = h * a
        b = h * self.rhs(decay * (w_hat + 0.5 * a), f_hat)[0]
        c = h * self.rhs(decay * w_hat + 0.5 * b, f_hat)[0]
        d = h * self.rhs(decay * decay * w_hat + decay * c, f_hat)[0]
        new = decay * decay * (w_hat + a / 6) + decay * (b + c) / 3 + d / 6
        return new, speed


def _band_limit(w_hat: Tensor, n: int) -> Tensor:
    """Remove the constant and Nyquist modes of an rfft2 spectrum of an ``n x n`` grid."""
    w_hat = w_hat.clone()
    w_hat[:, 0, 0] = 0
    w_hat[:, n // 2, :] = 0
    w_hat[:, :, n // 2] = 0
    return w_hat


def _sample_seed(seed: int, k: int) -> int:
    """Seed of sample ``k``: independent of the other samples and of ``n_samples``."""
    return int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1)[0])


def _check_real(name: str, value: Any, *, minimum: float, strict: bool = False) -> None:
    ok = (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > minimum if strict else value >= minimum)
    )
    if not ok:
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {relation} {minimum}, got {value!r}")
