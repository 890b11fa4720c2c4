"""The 1-D DeepONet generators: antiderivative, pendulum, diffusion-reaction, Burgers.

Every generator is checked against its equation by an independent computation (exact spline
calculus, a fixed-step RK4, the discrete scheme and grid refinement, the Cole-Hopf solution),
plus reproducibility, shapes, attributes and option validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import scipy.interpolate
import torch

from sciml.data.generators._base import GENERATORS, GeneratedData
from sciml.data.generators.burgers import generate_burgers, solve_burgers_periodic
from sciml.data.generators.diffusion_reaction import generate_diffusion_reaction
from sciml.data.generators.ode import generate_antiderivative, generate_pendulum
from sciml.data.grf import rbf_grf_1d


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Small batched FFTs are dominated by thread overhead (and thrash on busy machines)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# antiderivative
# --------------------------------------------------------------------------------------------


def test_antiderivative_layout_and_attrs() -> None:
    data = generate_antiderivative(3, seed=1, sensors=50)
    assert data.inputs["u"].shape == (3, 50)
    assert data.outputs["s"].shape == (3, 50)
    assert data.inputs["u"].dtype == data.outputs["s"].dtype == torch.float64
    torch.testing.assert_close(data.coords["x"], torch.linspace(0, 1, 50, dtype=torch.float64))
    attrs = data.attrs
    assert attrs["generator"] == "antiderivative" and attrs["seed"] == 1
    assert "ds/dx = u" in attrs["pde"]
    assert (attrs["length_scale"], attrs["sensors"], attrs["n_points"]) == (0.2, 50, 1000)


def test_antiderivative_derivative_is_input() -> None:
    data = generate_antiderivative(20, seed=2)
    x = data.coords["x"].numpy()
    u = data.inputs["u"].numpy()
    s = data.outputs["s"].numpy()
    assert np.all(s[:, 0] == 0.0)
    h = x[1] - x[0]
    # spline interpolation of s: |s' - S'| <= h^3 / 24 max|s''''| = h^3 / 24 max|u'''| at the
    # knots away from the ends (Hall & Meyer); the not-a-knot end conditions add an error that
    # decays by 2 - sqrt(3) per knot from each end, so the ends get a looser bound
    error = np.abs(scipy.interpolate.CubicSpline(x, s, axis=1)(x, 1) - u)
    u3 = np.abs(np.diff(u, 3, axis=1)).max(axis=1, keepdims=True) / h**3
    bound = h**3 / 24 * u3
    assert np.all(error[:, 4:-4] <= bound)
    assert np.all(error <= 10 * bound)


def test_antiderivative_matches_quadrature_of_fine_field() -> None:
    data = generate_antiderivative(5, seed=3)
    _, x_fine, fine = rbf_grf_1d(5, seed=3, return_fine=True)
    x_fine, fine = x_fine.numpy(), fine.numpy()
    trapezoid = np.concatenate(
        [np.zeros((5, 1)), np.cumsum(np.diff(x_fine) * (fine[:, 1:] + fine[:, :-1]) / 2, axis=1)],
        axis=1,
    )
    # s integrates the cubic spline S through the fine values exactly; at the fine nodes the
    # trapezoidal rule differs from it by at most h^2 / 12 * x * max|S''|, and the cubic Hermite
    # interpolant (slopes S = the fine values) carries that to the sensors with an extra error
    # of at most h^4 / 384 * max|S'''|
    spline = scipy.interpolate.CubicSpline(x_fine, fine, axis=1)
    S2 = np.abs(spline(x_fine, 2)).max(axis=1, keepdims=True)
    S3 = 6 * np.abs(spline.c[0]).max(axis=0)[:, None]
    h = x_fine[1] - x_fine[0]
    x = data.coords["x"].numpy()
    at_sensors = scipy.interpolate.CubicHermiteSpline(x_fine, trapezoid, fine, axis=1)(x)
    bound = h**2 / 12 * (x[None, :] + h) * S2 + h**4 / 384 * S3 + 1e-14
    error = np.abs(data.outputs["s"].numpy() - at_sensors)
    assert np.all(error <= bound)
    assert error.max() > 1e-3 * bound.max()  # the bound is not vacuous


# --------------------------------------------------------------------------------------------
# pendulum
# --------------------------------------------------------------------------------------------


def _pendulum_rk4(n_samples: int, seed: int, k: float, sensors: int, per: int) -> np.ndarray:
    """Fixed-step RK4 of the forced pendulum with the generator's spline forcing."""
    _, x_fine, fine = rbf_grf_1d(n_samples, seed=seed, return_fine=True)
    force = scipy.interpolate.CubicSpline(x_fine.numpy(), fine.numpy(), axis=1)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return np.stack([y[:, 1], -k * np.sin(y[:, 0]) + force(t)], axis=1)

    steps = (sensors - 1) * per
    h = 1.0 / steps
    y = np.zeros((n_samples, 2))
    out = [y]
    for j in range(steps):
        t = j * h
        k1 = rhs(t, y)
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if (j + 1) % per == 0:
            out.append(y)
    return np.stack(out, axis=1)


def test_pendulum_layout_and_attrs() -> None:
    data = generate_pendulum(2, seed=0, sensors=20, k=2.0)
    assert data.inputs["u"].shape == (2, 20)
    assert data.outputs["s"].shape == (2, 20, 2)
    assert data.outputs["s"].dtype == torch.float64
    torch.testing.assert_close(data.coords["t"], torch.linspace(0, 1, 20, dtype=torch.float64))
    assert torch.all(data.outputs["s"][:, 0] == 0)
    attrs = data.attrs
    assert attrs["generator"] == "pendulum" and attrs["seed"] == 0 and attrs["k"] == 2.0
    assert "sin(s1)" in attrs["pde"]
    assert (attrs["method"], attrs["rtol"], attrs["atol"]) == ("RK45", 1e-10, 1e-12)


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_pendulum_matches_fixed_step_rk4(method: str) -> None:
    data = generate_pendulum(3, seed=4, k=1.5, method=method)
    reference = _pendulum_rk4(3, seed=4, k=1.5, sensors=100, per=20)
    # RK4 with h = 1/1980 has error ~ h^4 ~ 1e-13 (self-convergence checked: 6e-13); the
    # adaptive pairs at rtol 1e-10 reach ~1e-8 on the C^2 spline forcing (see the docstring)
    assert np.abs(reference).max() > 0.05  # a nontrivial motion
    np.testing.assert_allclose(data.outputs["s"].numpy(), reference, rtol=0, atol=1e-7)
    # the stored input is the forcing the ODE was solved with
    _, x_fine, fine = rbf_grf_1d(3, seed=4, return_fine=True)
    spline = scipy.interpolate.CubicSpline(x_fine.numpy(), fine.numpy(), axis=1)
    np.testing.assert_allclose(data.inputs["u"].numpy(), spline(data.coords["t"].numpy()))


# --------------------------------------------------------------------------------------------
# diffusion-reaction
# --------------------------------------------------------------------------------------------


def test_diffusion_reaction_layout_and_attrs() -> None:
    data = generate_diffusion_reaction(2, seed=0, sensors=30, time_steps=10, T=0.5)
    assert data.inputs["u"].shape == (2, 30)
    assert data.outputs["s"].shape == (2, 11, 30)
    torch.testing.assert_close(data.coords["x"], torch.linspace(0, 1, 30, dtype=torch.float64))
    torch.testing.assert_close(data.coords["t"], torch.linspace(0, 0.5, 11, dtype=torch.float64))
    s = data.outputs["s"]
    assert torch.all(s[:, 0] == 0) and torch.all(s[:, :, 0] == 0) and torch.all(s[:, :, -1] == 0)
    attrs = data.attrs
    assert attrs["generator"] == "diffusion_reaction" and attrs["seed"] == 0
    assert "k s^2" in attrs["pde"]
    assert (attrs["D"], attrs["k"], attrs["T"], attrs["sensors"], attrs["time_steps"]) == (
        0.01,
        0.01,
        0.5,
        30,
        10,
    )


def test_diffusion_reaction_satisfies_crank_nicolson() -> None:
    D, k = 0.02, 0.5  # a reaction strong enough for the nonlinear term to matter
    data = generate_diffusion_reaction(4, seed=5, D=D, k=k, sensors=40, time_steps=30)
    s = data.outputs["s"].numpy()
    u = data.inputs["u"].numpy()[:, None, 1:-1]
    dx, dt = 1 / 39, 1 / 30
    lap = (s[:, :, :-2] - 2 * s[:, :, 1:-1] + s[:, :, 2:]) / dx**2
    rhs = D * lap + k * s[:, :, 1:-1] ** 2
    residual = (s[:, 1:, 1:-1] - s[:, :-1, 1:-1]) / dt - 0.5 * (rhs[:, 1:] + rhs[:, :-1]) - u
    assert np.abs(k * s**2).max() > 1e-2  # the reaction term is not negligible
    scale = np.abs(s).max() / dt + np.abs(u).max()
    assert np.abs(residual).max() <= 1e-12 * scale


def test_diffusion_reaction_converges_at_second_order() -> None:
    # the source u is the same function at every resolution (same fine GRF, same seed); the
    # coarse grids are subgrids of the finer ones, so differences are taken at shared nodes
    runs = [
        generate_diffusion_reaction(3, seed=6, sensors=25 * r + 1, time_steps=25 * r)
        .outputs["s"]
        .numpy()
        for r in (1, 2, 4)
    ]
    diff1 = np.abs(runs[0] - runs[1][:, ::2, ::2]).max()
    diff2 = np.abs(runs[1] - runs[2][:, ::2, ::2]).max()
    # O(dx^2 + dt^2) with dt ~ dx: halving both divides the error (and the difference) by 4
    assert 3.6 < diff1 / diff2 < 4.4
    assert diff2 < 5e-3 * np.abs(runs[2]).max()


# --------------------------------------------------------------------------------------------
# Burgers
# --------------------------------------------------------------------------------------------


def _cole_hopf(a: np.ndarray, nu: float, T: float, K: int = 4096, images: int = 2) -> np.ndarray:
    """Exact viscous Burgers solution at ``T`` on the grid of ``a``, by the Cole-Hopf formula.

    ``u = c + w(x - cT, T)`` with ``c`` the mean and ``w = int (x-y)/T e^{-G} / int e^{-G}``,
    ``G = (W(y) + (x-y)^2 / (2T)) / (2 nu)``, ``W`` the antiderivative of the trigonometric
    interpolant of ``a - c``; the integrals over the line are taken as sums over the periodic
    images of a K-point trapezoidal rule, stabilised by subtracting min G (log-sum-exp).
    """
    n, N = a.shape
    c = a.mean(axis=1, keepdims=True)
    coeffs = np.fft.rfft(a - c, axis=1)
    coeffs[:, -1] *= 0.5  # the Nyquist mode as a cosine
    padded = np.zeros((n, K // 2 + 1), dtype=complex)
    padded[:, : N // 2 + 1] = coeffs
    wave = 2j * np.pi * np.arange(1, K // 2 + 1)
    padded[:, 1:] /= wave
    padded[:, 0] = 0.0
    W = np.fft.irfft(padded, n=K, axis=1) * (K / N)
    y = np.arange(K) / K
    x = np.arange(N) / N - c * T
    d = (x[:, :, None] - y[None, None, :] + 0.5) % 1.0 - 0.5
    d = d[..., None] + np.arange(-images, images + 1)
    G = (W[:, None, :, None] + d**2 / (2 * T)) / (2 * nu)
    weights = np.exp(-(G - G.min(axis=(2, 3), keepdims=True)))
    return c + (weights * d).sum(axis=(2, 3)) / (T * weights.sum(axis=(2, 3)))


def test_burgers_layout_and_attrs() -> None:
    data = generate_burgers(2, seed=0, resolution=32, snapshots=4)
    assert data.inputs["a"].shape == (2, 32)
    assert data.outputs["u"].shape == (2, 32)
    assert data.outputs["u_snapshots"].shape == (2, 5, 32)
    torch.testing.assert_close(data.coords["x"], torch.arange(32, dtype=torch.float64) / 32)
    torch.testing.assert_close(data.coords["t"], torch.linspace(0, 1, 5, dtype=torch.float64))
    torch.testing.assert_close(data.outputs["u_snapshots"][:, 0], data.inputs["a"])
    torch.testing.assert_close(data.outputs["u_snapshots"][:, -1], data.outputs["u"])
    attrs = data.attrs
    assert attrs["generator"] == "burgers" and attrs["seed"] == 0
    assert "nu u_xx" in attrs["pde"]
    assert (attrs["nu"], attrs["T"], attrs["resolution"], attrs["fine_resolution"]) == (
        1e-3,
        1.0,
        32,
        256,
    )
    assert (attrs["grf_sigma"], attrs["grf_tau"], attrs["grf_gamma"]) == (7.0, 7.0, 2.5)
    assert attrs["time_steps"] == "auto" and attrs["time_steps_max"] % 4 == 0
    assert "u_snapshots" not in generate_burgers(1, resolution=16).outputs


def test_burgers_matches_cole_hopf() -> None:
    data = generate_burgers(3, seed=7)
    a, u = data.inputs["a"].numpy(), data.outputs["u"].numpy()
    exact = _cole_hopf(a, 1e-3, 1.0)
    # the quadrature is exact to round-off (images beyond +-2 weigh e^-1500); the solver's
    # ETDRK4 error at Courant number <= 0.5 is ~1e-11 and its spatial error ~ the spectral tail
    assert np.abs(exact - a).max() > 1e-2  # the solution did evolve
    np.testing.assert_allclose(u, exact, rtol=0, atol=1e-9)


def test_burgers_conserves_mass_and_dissipates_energy() -> None:
    data = generate_burgers(4, seed=8, snapshots=8)
    a = data.inputs["a"]
    snaps = data.outputs["u_snapshots"]
    # mode 0 is untouched by the scheme; the output grid adds only aliased modes k = 128 j,
    # whose energy is below the spectral tail (1e-20)
    torch.testing.assert_close(
        snaps.mean(-1), a.mean(-1)[:, None].expand(-1, 9), rtol=0, atol=1e-14
    )
    energy = 0.5 * (snaps**2).mean(-1)
    assert torch.all(energy[:, 1:] < energy[:, :-1])
    assert data.attrs["max_energy_increase"] == 0.0
    assert data.attrs["spectral_tail"] < 1e-15


def test_burgers_solver_energy_history_is_monotone() -> None:
    x = torch.arange(256, dtype=torch.float64) / 256
    u0 = torch.stack([torch.sin(2 * torch.pi * x), 0.3 + 0.5 * torch.cos(4 * torch.pi * x)])
    u, energy, tail = solve_burgers_periodic(u0, nu=5e-3, T=0.5, time_steps=400, saves=2)
    assert u.shape == (2, 3, 256) and energy.shape == (2, 401) and tail.shape == (2,)
    torch.testing.assert_close(u[:, 0], u0)
    torch.testing.assert_close(u.mean(-1), u0.mean(-1)[:, None].expand(-1, 3), rtol=0, atol=1e-15)
    assert torch.all(energy[:, 1:] <= energy[:, :-1])
    assert torch.all(energy[:, -1] < 0.9 * energy[:, 0])  # a shock forms and dissipates


def test_burgers_solver_is_dealiased() -> None:
    # a steep front on a coarse grid excites every mode; the 2/3 rule keeps |k| >= M/3 at zero
    x = torch.arange(64, dtype=torch.float64) / 64
    u0 = torch.sin(2 * torch.pi * x)[None]
    u, _, tail = solve_burgers_periodic(u0, nu=1e-3, T=0.3, time_steps=200)
    modes = torch.fft.rfft(u[0, -1]).abs() / 64
    assert modes[16:21].min() > 1e-5  # just below the cutoff 64/3: strongly excited
    assert modes[22:].max() < 1e-15
    assert tail[0] > 1e-6


def test_burgers_refinement_agrees() -> None:
    base = generate_burgers(3, seed=9)
    fine = generate_burgers(3, seed=9, fine_resolution=2048)
    assert fine.attrs["time_steps_max"] == 2 * base.attrs["time_steps_max"]  # CFL: dt / 2
    # spectral in space (tail < 1e-20 on both grids) and O(dt^4) in time: the difference
    # estimates the coarse run's time error, ~(16/15) * 1e-11 (measured); 1e-9 leaves a margin
    # of 100, while a first- or second-order step (errors ~dt ~ 1e-3, dt^2 ~ 1e-6) or an
    # unresolved front (a 256-point grid already gives 3e-9) would exceed it
    diff = (base.outputs["u"] - fine.outputs["u"]).abs().max()
    assert diff < 1e-9


def test_burgers_fourth_order_in_time() -> None:
    runs = [
        generate_burgers(3, seed=1, resolution=32, time_steps=steps, cfl=1.2).outputs["u"]
        for steps in (128, 256, 512)
    ]
    ratio = (runs[0] - runs[1]).abs().max() / (runs[1] - runs[2]).abs().max()
    assert 12 < ratio < 20  # 2^4 = 16


def test_burgers_warns_when_under_resolved() -> None:
    with pytest.warns(RuntimeWarning, match="under-resolves"):
        data = generate_burgers(2, seed=0, nu=1e-4, resolution=64, fine_resolution=128)
    assert data.attrs["spectral_tail"] > 1e-10


# --------------------------------------------------------------------------------------------
# shared behaviour
# --------------------------------------------------------------------------------------------

SMALL: dict[str, tuple[Callable[..., GeneratedData], dict[str, Any]]] = {
    "antiderivative": (generate_antiderivative, {"sensors": 20}),
    "pendulum": (generate_pendulum, {"sensors": 10}),
    "diffusion_reaction": (generate_diffusion_reaction, {"sensors": 20, "time_steps": 10}),
    "burgers": (generate_burgers, {"resolution": 16, "fine_resolution": 256}),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_registered(name: str) -> None:
    fn, _ = SMALL[name]
    assert GENERATORS[name].fn is fn
    assert GENERATORS[name].description


@pytest.mark.parametrize("name", sorted(SMALL))
def test_reproducible_from_seed(name: str) -> None:
    fn, options = SMALL[name]
    first, again, other = (fn(2, seed=seed, **options) for seed in (11, 11, 12))
    for key in (*first.inputs, *first.outputs):
        group = "inputs" if key in first.inputs else "outputs"
        x, y, z = (getattr(d, group)[key] for d in (first, again, other))
        assert x.dtype == torch.float64 and x.shape[0] == 2
        assert torch.equal(x, y)
        assert not torch.allclose(x, z)
    assert first.attrs == again.attrs
    assert first.attrs["seed"] == 11 and other.attrs["seed"] == 12


@pytest.mark.parametrize("name", sorted(SMALL))
def test_progress_bar_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    fn, options = SMALL[name]
    quiet = fn(1, seed=0, **options)
    loud = fn(1, seed=0, progress=True, **options)
    assert name.split("_")[0] in capsys.readouterr().err
    for key in quiet.outputs:
        assert torch.equal(quiet.outputs[key], loud.outputs[key])


BAD_OPTIONS = [
    (generate_antiderivative, {"n_samples": 0}, "n_samples must be an integer >= 1"),
    (generate_antiderivative, {"seed": -1}, "seed must be an integer >= 0"),
    (generate_pendulum, {"seed": 1.5}, "seed must be an integer >= 0"),
    (generate_diffusion_reaction, {"seed": "0"}, "seed must be an integer >= 0"),
    (generate_burgers, {"seed": -3}, "seed must be an integer >= 0"),
    (generate_antiderivative, {"length_scale": -0.1}, "length_scale must be a finite number > 0"),
    (generate_antiderivative, {"sensors": 1}, "sensors must be an integer >= 2"),
    (generate_antiderivative, {"sensors": 2.5}, "sensors must be an integer"),
    (generate_pendulum, {"k": float("nan")}, "k must be a finite number"),
    (generate_pendulum, {"method": "Euler"}, "method must be 'RK45' or 'DOP853'"),
    (generate_pendulum, {"rtol": 0.0}, "rtol must be a finite number > 0"),
    (generate_diffusion_reaction, {"D": 0.0}, "D must be a finite number > 0"),
    (generate_diffusion_reaction, {"time_steps": 0}, "time_steps must be an integer >= 1"),
    (generate_diffusion_reaction, {"sensors": 2}, "sensors must be an integer >= 3"),
    (generate_diffusion_reaction, {"T": -1.0}, "T must be a finite number > 0"),
    (generate_burgers, {"nu": 0.0}, "nu must be a finite number > 0"),
    (generate_burgers, {"resolution": 33}, "resolution must be even"),
    (generate_burgers, {"fine_resolution": 300}, "fine_resolution must be a multiple"),
    (generate_burgers, {"fine_resolution": 128}, "fine_resolution must be an integer >= 256"),
    (generate_burgers, {"cfl": 2.0}, "cfl must be <= 1.2"),
    (generate_burgers, {"snapshots": -1}, "snapshots must be an integer >= 0"),
    (generate_burgers, {"snapshots": 3, "time_steps": 100}, "multiple of snapshots=3"),
    (generate_burgers, {"time_steps": 2}, "Courant number"),
    (generate_burgers, {"grf_gamma": 0.5}, "grf_gamma must be > 0.5"),
    (generate_burgers, {"device": "no-such-device"}, "device must name a torch device"),
]


@pytest.mark.parametrize(("fn", "options", "match"), BAD_OPTIONS)
def test_bad_options_raise(
    fn: Callable[..., GeneratedData], options: dict[str, Any], match: str
) -> None:
    options = {"n_samples": 1, **options}
    with pytest.raises(ValueError, match=re.escape(match)):
        fn(**options)


def test_diffusion_reaction_blow_up_raises() -> None:
    with pytest.raises(RuntimeError, match="diffusion_reaction"):
        generate_diffusion_reaction(1, seed=0, k=1e4, sensors=10, time_steps=5, T=10.0)
