"""The PI-HC-MoE generators: 1-D diffusion-sorption and 2-D periodic Navier-Stokes.

Every test checks the data against the equation (boundary conditions, discrete residuals,
invariants, exact solutions, convergence orders) rather than against stored numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from sciml.data.generators._base import GENERATORS
from sciml.data.generators.diffusion_sorption import generate_diffusion_sorption, retardation
from sciml.data.generators.navier_stokes import generate_navier_stokes_2d

D = 5e-4


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # small FFTs and banded solves: threads only add overhead (and spin on a loaded machine)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_registered() -> None:
    assert GENERATORS["diffusion_sorption"].fn is generate_diffusion_sorption
    assert GENERATORS["navier_stokes_2d"].fn is generate_navier_stokes_2d


# ---------------------------------------------------------------------------------------------
# diffusion-sorption
# ---------------------------------------------------------------------------------------------


def _compatible_u0(nx: int) -> torch.Tensor:
    """``1 - a x + b x^3``: ``u(0) = 1``, ``u_xx(0) = 0``, ``u(1) = -D u_x(1)``, decreasing."""
    x = (np.arange(nx) + 0.5) / nx
    a = 1.2
    b = (a - 1 + a * D) / (1 + 3 * D)
    return torch.from_numpy(1 - a * x + b * x**3)[None]


def test_retardation() -> None:
    u = np.array([-1.0, 0.0, 0.01, 1.0])
    R = retardation(u)
    c = (1 - 0.29) / 0.29 * 2880 * 3.5e-4 * 0.874
    assert np.allclose(R, 1 + c * np.array([1e-6, 1e-6, 0.01 + 1e-6, 1 + 1e-6]) ** (0.874 - 1))
    assert np.isclose(retardation(np.array([1.0]), n_f=1.0)[0], 1 + c / 0.874)


def test_diffusion_sorption_shapes_attrs() -> None:
    data = generate_diffusion_sorption(3, nx=64, T=10.0, nt=6, seed=4)
    assert data.inputs["u0"].shape == (3, 64)
    assert data.outputs["u"].shape == (3, 6, 64)
    for tensor in (data.inputs["u0"], data.outputs["u"], data.coords["x"], data.coords["t"]):
        assert tensor.dtype == torch.float64
    assert torch.equal(data.outputs["u"][:, 0], data.inputs["u0"])
    assert torch.allclose(data.coords["x"], (torch.arange(64, dtype=torch.float64) + 0.5) / 64)
    assert torch.allclose(data.coords["t"], torch.linspace(0, 10, 6, dtype=torch.float64))
    attrs = data.attrs
    assert attrs["generator"] == "diffusion_sorption" and attrs["seed"] == 4
    for key, value in {"D": 5e-4, "porosity": 0.29, "rho_s": 2880.0, "k_f": 3.5e-4}.items():
        assert attrs[key] == value
    assert attrs["n_f"] == 0.874 and "pde" in attrs and attrs["dt_used"] <= attrs["dt"]
    u0 = data.inputs["u0"]
    assert 0 < u0.min() and u0.max() < 0.2 and u0.std(dim=1).min() > 1e-3  # positive, varying


def test_diffusion_sorption_boundary_conditions() -> None:
    nx = 256
    data = generate_diffusion_sorption(2, nx=nx, T=100.0, nt=11, dt=0.25)
    u = data.outputs["u"][:, 2:].numpy()  # t >= 20, after the initial layer
    # quadratic extrapolation of the cell values to the faces x = 0 and x = 1
    left = (15 * u[..., 0] - 10 * u[..., 1] + 3 * u[..., 2]) / 8
    assert np.abs(left - 1).max() < 1e-4
    right = (15 * u[..., -1] - 10 * u[..., -2] + 3 * u[..., -3]) / 8
    grad = (2 * u[..., -1] - 3 * u[..., -2] + u[..., -3]) * nx  # slope of the same quadratic
    # u(1) = -D u_x(1): the outgoing flux equals the value, and both are small but nonzero
    assert np.all(right > 0)
    assert np.allclose(right, -D * grad, rtol=0.05)
    # the wrong sign (the condition as printed in PDEBench) is clearly violated
    assert not np.allclose(right, D * grad, rtol=0.5)


def test_diffusion_sorption_residual() -> None:
    """``R(u) u_t - D u_xx`` from the saved snapshots is small against ``D u_xx``."""
    nx, nt, T = 256, 41, 40.0
    data = generate_diffusion_sorption(2, nx=nx, T=T, nt=nt, dt=0.05, seed=1)
    u = data.outputs["u"].numpy()
    h, tau = 1.0 / nx, T / (nt - 1)
    u_t = (u[:, 2:] - u[:, :-2]) / (2 * tau)
    mid = u[:, 1:-1]
    u_xx = (mid[..., 2:] - 2 * mid[..., 1:-1] + mid[..., :-2]) / h**2
    # R(u) written out independently of the module (PDEBench parameters, eps = 1e-6)
    R = 1 + (1 - 0.29) / 0.29 * 2880 * 3.5e-4 * 0.874 * (mid[..., 1:-1] + 1e-6) ** (0.874 - 1)
    lhs = R * u_t[..., 1:-1]
    keep = slice(10, None)  # t >= 10: away from the initial layer at x = 0
    residual = (lhs - D * u_xx)[:, keep]
    scale = np.linalg.norm(D * u_xx[:, keep])
    assert np.linalg.norm(residual) < 5e-3 * scale
    # a wrong coefficient is detected: the same residual with D * 1.05
    assert np.linalg.norm(lhs[:, keep] - 1.05 * D * u_xx[:, keep]) > 2e-2 * scale


@pytest.mark.parametrize(("scheme", "order"), [("bdf2", 2), ("euler", 1)])
def test_diffusion_sorption_time_order(scheme: str, order: int) -> None:
    nx, T = 96, 40.0
    u0 = _compatible_u0(nx)
    sols = [
        generate_diffusion_sorption(1, nx=nx, T=T, nt=2, dt=dt, scheme=scheme, u0=u0).outputs["u"][
            0, -1
        ]
        for dt in (2.0, 1.0, 0.5, 0.25)
    ]
    diffs = [float((a - b).abs().max()) for a, b in itertools.pairwise(sols)]
    rates = [math.log2(a / b) for a, b in itertools.pairwise(diffs)]
    assert all(abs(r - order) < 0.15 for r in rates), rates


def test_diffusion_sorption_space_order() -> None:
    """Refining by 3 keeps the cell centres: the differences shrink by 9 (second order)."""
    levels = (32, 96, 288)
    sols = [
        generate_diffusion_sorption(1, nx=nx, T=40.0, nt=3, dt=0.5, seed=2).outputs["u"][0, 1:]
        for nx in levels
    ]
    diffs = [
        float((coarse - fine[..., 1::3]).abs().max()) for coarse, fine in itertools.pairwise(sols)
    ]
    assert 7.5 < diffs[0] / diffs[1] < 11, diffs


@pytest.mark.parametrize("scheme", ["bdf2", "euler"])
@pytest.mark.parametrize("ic", ["grf", "constant"])
def test_diffusion_sorption_maximum_principle(scheme: str, ic: str) -> None:
    u = generate_diffusion_sorption(
        6, nx=128, T=50.0, nt=51, dt=2.0, scheme=scheme, ic=ic, seed=3
    ).outputs["u"]
    assert u.min() > 0 and u.max() <= 1
    # the contaminant enters from x = 0: the first cell rises towards 1
    assert torch.all(u[:, -1, 0] > 0.9)


def test_diffusion_sorption_constant_ic() -> None:
    u0 = generate_diffusion_sorption(5, nx=32, T=1.0, nt=2, ic="constant", seed=7).inputs["u0"]
    assert torch.all(u0.std(dim=1) == 0) and 0 < u0.min() and u0.max() < 0.2
    assert u0[:, 0].unique().numel() == 5


def test_diffusion_sorption_reproducible() -> None:
    kw = {"nx": 32, "T": 5.0, "nt": 3}
    a = generate_diffusion_sorption(3, seed=11, **kw)
    b = generate_diffusion_sorption(3, seed=11, **kw)
    c = generate_diffusion_sorption(2, seed=11, **kw)
    d = generate_diffusion_sorption(3, seed=12, **kw)
    assert torch.equal(a.outputs["u"], b.outputs["u"])
    assert torch.allclose(a.outputs["u"][:2], c.outputs["u"], rtol=0, atol=1e-14)
    assert not torch.allclose(a.inputs["u0"], d.inputs["u0"])


@pytest.mark.parametrize(
    "options",
    [
        {"nx": 2},
        {"nt": 1},
        {"T": 0.0},
        {"dt": -1.0},
        {"D": 0.0},
        {"porosity": 1.0},
        {"n_f": 1.5},
        {"eps": 0.0},
        {"u_max": 1.5},
        {"scheme": "rk4"},
        {"ic": "sine"},
        {"seed": -1},
        {"nx": 8.0},
        {"u0": torch.zeros(2, 16)},
        {"u0": torch.full((1, 16), 2.0)},
    ],
)
def test_diffusion_sorption_bad_options(options: dict) -> None:
    kw = {"nx": 16, "T": 1.0, "nt": 2} | options
    with pytest.raises(ValueError):
        generate_diffusion_sorption(1, **kw)


def test_diffusion_sorption_bad_n_samples() -> None:
    with pytest.raises(ValueError):
        generate_diffusion_sorption(0, nx=16, T=1.0, nt=2)


# ---------------------------------------------------------------------------------------------
# Navier-Stokes
# ---------------------------------------------------------------------------------------------


def _grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) / n
    return torch.meshgrid(x, x, indexing="ij")


def _invariants(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Energy ``1/2 int |v|^2``, enstrophy ``1/2 int w^2`` and palinstrophy ``int |grad w|^2``."""
    n = w.shape[-1]
    w_hat = torch.fft.fft2(w) / n**2
    k = 2 * math.pi * torch.fft.fftfreq(n, 1 / n, dtype=torch.float64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    power = w_hat.abs() ** 2
    energy = 0.5 * (power[..., k2 > 0] / k2[k2 > 0]).sum(-1)
    return energy, 0.5 * power.sum((-2, -1)), (power * k2).sum((-2, -1))


def test_navier_stokes_shapes_attrs() -> None:
    data = generate_navier_stokes_2d(2, resolution=16, T=0.1, nt=3, seed=5)
    assert data.inputs["w0"].shape == (2, 16, 16)
    assert data.outputs["w"].shape == (2, 3, 16, 16)
    for tensor in (data.inputs["w0"], data.outputs["w"], *data.coords.values()):
        assert tensor.dtype == torch.float64
    assert torch.allclose(data.outputs["w"][:, 0], data.inputs["w0"], atol=1e-12)
    assert torch.allclose(data.coords["x"], torch.arange(16, dtype=torch.float64) / 16)
    attrs = data.attrs
    assert attrs["generator"] == "navier_stokes_2d" and attrs["seed"] == 5
    assert attrs["nu"] == 1e-4 and attrs["internal_resolution"] == 32 and "pde" in attrs
    assert attrs["max_cfl"] <= 1.0


def test_navier_stokes_default_velocity_is_order_one() -> None:
    w0 = generate_navier_stokes_2d(16, resolution=32, T=1e-3, nt=2).inputs["w0"]
    energy = _invariants(w0)[0]
    u_rms = torch.sqrt(2 * energy.mean())  # int |v|^2 over the unit square
    assert 0.5 < u_rms < 2.0
    assert w0.mean(dim=(-2, -1)).abs().max() < 1e-12


def test_navier_stokes_taylor_green_decay() -> None:
    """``sin(2 pi x) sin(2 pi y)`` has ``v . grad w = 0`` and decays like ``exp(-8 pi^2 nu t)``."""
    n, nu = 32, 1e-2
    x, y = _grid(n)
    w0 = torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y)
    data = generate_navier_stokes_2d(1, resolution=n, nu=nu, T=2.0, nt=5, w0=w0[None])
    t = data.coords["t"]
    exact = torch.exp(-8 * math.pi**2 * nu * t)[:, None, None] * w0
    assert torch.allclose(data.outputs["w"][0], exact, rtol=0, atol=1e-12)
    assert float(exact[-1].abs().max()) < 0.3  # it did decay


def test_navier_stokes_forced_mode() -> None:
    """From rest, the FNO forcing (one shell ``|k|^2 = 8 pi^2``) gives ``f (1 - e^{-lt}) / l``."""
    n, nu = 32, 1e-2
    x, y = _grid(n)
    f = 0.1 * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))
    data = generate_navier_stokes_2d(
        1, resolution=n, nu=nu, T=3.0, nt=4, forcing="fno", w0=torch.zeros(1, n, n)
    )
    lam = 8 * math.pi**2 * nu
    exact = ((1 - torch.exp(-lam * data.coords["t"])) / lam)[:, None, None] * f
    assert torch.allclose(data.outputs["w"][0], exact, rtol=0, atol=1e-12)


def test_navier_stokes_advection_term() -> None:
    """``w_t(0)`` from the snapshots matches ``-v . grad w + nu Laplacian w`` computed by hand.

    ``w0 = cos(2 pi x) + cos(4 pi y)``: ``psi = cos(2 pi x) / (4 pi^2) + cos(4 pi y) / (16 pi^2)``,
    ``v = (-sin(4 pi y) / (4 pi), sin(2 pi x) / (2 pi))`` and
    ``v . grad w = -1.5 sin(2 pi x) sin(4 pi y)``.
    """
    n, nu, h = 32, 1e-3, 1e-3
    x, y = _grid(n)
    w0 = torch.cos(2 * math.pi * x) + torch.cos(4 * math.pi * y)
    w = generate_navier_stokes_2d(1, resolution=n, nu=nu, T=2 * h, nt=3, w0=w0[None]).outputs["w"][
        0
    ]
    w_t = (-3 * w[0] + 4 * w[1] - w[2]) / (2 * h)  # second order at t = 0
    laplacian = -4 * math.pi**2 * torch.cos(2 * math.pi * x) - 16 * math.pi**2 * torch.cos(
        4 * math.pi * y
    )
    expected = 1.5 * torch.sin(2 * math.pi * x) * torch.sin(4 * math.pi * y) + nu * laplacian
    assert torch.allclose(w_t, expected, rtol=0, atol=1e-4)
    assert not torch.allclose(w_t, -expected, rtol=0, atol=0.1)  # sign of the advection


def test_navier_stokes_mean_vorticity_conserved() -> None:
    data = generate_navier_stokes_2d(3, resolution=32, T=1.0, nt=6, forcing="fno", seed=2)
    w = data.outputs["w"]
    scale = float(w.abs().max())
    assert float(w.mean(dim=(-2, -1)).abs().max()) < 1e-13 * scale


def test_navier_stokes_inviscid_invariants() -> None:
    """nu = 0: energy and enstrophy are conserved up to the fourth-order time error.

    The initial field is band-limited inside the 2/3 band of the solver grid, so the
    semi-discrete scheme is the Galerkin truncation of the Euler equations, which conserves both
    quadratic invariants exactly; the saved grid is the solver grid, so the invariants are
    computed without aliasing. What is left is the (dissipative) error of RK4: halving the
    step must shrink the drift at least 16-fold, and at CFL 0.25 it is below 1e-6 over a time of
    0.5 (a fifth of a turnover time, in which the palinstrophy grows almost threefold).
    """
    n = 32
    w0 = generate_navier_stokes_2d(2, resolution=n, T=1e-3, nt=2, seed=3).inputs["w0"]
    freq = torch.fft.fftfreq(n, 1 / n).abs()
    band = (freq[:, None] < n / 3) & (freq[None, :] < n / 3)
    w0 = torch.fft.ifft2(torch.fft.fft2(w0) * band).real
    drifts = []
    for cfl in (0.5, 0.25):
        data = generate_navier_stokes_2d(
            2, resolution=n, internal_resolution=n, nu=0.0, T=0.5, nt=6, w0=w0, cfl=cfl
        )
        energy, enstrophy, palinstrophy = _invariants(data.outputs["w"])
        drifts.append(
            [
                float((energy / energy[:, :1] - 1).abs().max()),
                float((enstrophy / enstrophy[:, :1] - 1).abs().max()),
            ]
        )
        # ... while the flow does evolve: the vorticity gradients grow (enstrophy cascade)
        assert torch.all(palinstrophy[:, -1] > 2 * palinstrophy[:, 0])
    for coarse, fine in zip(*drifts, strict=True):
        assert fine < 1e-6 and fine < coarse / 16, drifts


def test_navier_stokes_viscous_decay() -> None:
    """Unforced: enstrophy decreases and ``dE/dt = -2 nu Z`` holds between snapshots."""
    nu, n = 2e-3, 32
    data = generate_navier_stokes_2d(2, resolution=n, nu=nu, sigma=200.0, T=1.0, nt=21, seed=6)
    energy, enstrophy, _ = _invariants(data.outputs["w"])
    assert torch.all(enstrophy[:, 1:] < enstrophy[:, :-1])
    assert torch.all(enstrophy[:, -1] < 0.97 * enstrophy[:, 0])
    tau = 1.0 / 20
    dE = (energy[:, 2:] - energy[:, :-2]) / (2 * tau)
    assert torch.allclose(dE, -2 * nu * enstrophy[:, 1:-1], rtol=1e-3, atol=0)


def test_navier_stokes_internal_resolution_converges() -> None:
    """The saved field converges spectrally as the solver grid is refined (reference: 128)."""
    kw = {"resolution": 16, "nu": 2e-3, "sigma": 200.0, "T": 0.5, "nt": 2, "seed": 8}
    sols = {
        m: generate_navier_stokes_2d(1, internal_resolution=m, **kw).outputs["w"][0, -1]
        for m in (16, 32, 64, 128)
    }
    scale = float(sols[128].abs().max())
    err = {m: float((sols[m] - sols[128]).abs().max()) / scale for m in (16, 32, 64)}
    assert err[16] > 10 * err[32] > 0 and err[32] < 1e-2 and err[64] < 1e-6, err


def test_navier_stokes_reproducible() -> None:
    kw = {"resolution": 16, "T": 0.05, "nt": 2}
    a = generate_navier_stokes_2d(3, seed=1, **kw)
    b = generate_navier_stokes_2d(3, seed=1, **kw)
    c = generate_navier_stokes_2d(2, seed=1, **kw)
    d = generate_navier_stokes_2d(3, seed=2, **kw)
    assert torch.equal(a.outputs["w"], b.outputs["w"])
    assert torch.allclose(a.outputs["w"][:2], c.outputs["w"], rtol=0, atol=1e-12)
    assert not torch.allclose(a.inputs["w0"], d.inputs["w0"])


def test_navier_stokes_cfl_violation_raises() -> None:
    # from rest the velocity is 0, so a step of 1 is chosen; the forcing then speeds the flow up
    with pytest.raises(RuntimeError, match="CFL"):
        generate_navier_stokes_2d(
            1, resolution=16, forcing="fno", w0=torch.zeros(1, 16, 16), max_dt=1.0, T=10.0, nt=2
        )


@pytest.mark.parametrize(
    "options",
    [
        {"resolution": 15},
        {"resolution": 4},
        {"internal_resolution": 24},
        {"internal_resolution": 8},
        {"nu": -1.0},
        {"T": 0.0},
        {"nt": 1},
        {"forcing": "kolmogorov"},
        {"sigma": 0.0},
        {"gamma": 1.0},
        {"cfl": 1.5},
        {"max_dt": 0.0},
        {"w0": torch.zeros(1, 8, 8)},
        {"w0": torch.full((1, 16, 16), math.nan)},
        {"seed": -3},
    ],
)
def test_navier_stokes_bad_options(options: dict) -> None:
    kw = {"resolution": 16, "T": 0.01, "nt": 2} | options
    with pytest.raises(ValueError):
        generate_navier_stokes_2d(1, **kw)
