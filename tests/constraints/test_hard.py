"""The hard-constraint layer: the residual holds, gradients are implicit and correct, failures
are counted and reported."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.constraints import HardConstraint, HardConstraintWarning, combine


def _sine_basis(x: torch.Tensor, modes: int, theta: torch.Tensor | None = None) -> dict:
    """``b_k = sin(k pi x) (1 + theta x)`` and its second derivative, ``(1, points, modes)``."""
    k = torch.arange(1, modes + 1, dtype=x.dtype) * math.pi
    s, c = torch.sin(k * x[:, None]), torch.cos(k * x[:, None])
    t = torch.zeros((), dtype=x.dtype) if theta is None else theta
    g = 1 + t * x[:, None]
    u = s * g
    u_xx = -(k**2) * s * g + 2 * t * k * c
    return {"u": u[None], "u_xx": u_xx[None]}


def nonlinear(fields: dict, f: torch.Tensor) -> torch.Tensor:
    """``u'' - u^3 - f``."""
    return fields["u_xx"] - fields["u"] ** 3 - f


def test_the_residual_holds_per_sample() -> None:
    x = torch.linspace(0, 1, 64, dtype=torch.float64)
    basis = {k: v.expand(2, -1, -1) for k, v in _sine_basis(x, 5).items()}
    exact = torch.tensor([[0.5, 0.2, 0.0, 0.0, 0.0], [-0.3, 0.0, 0.4, 0.0, 0.1]], dtype=x.dtype)
    fields = combine(basis, exact)
    f = fields["u_xx"] - fields["u"] ** 3  # manufactured: the exact weights solve it
    out = HardConstraint(nonlinear, ridge=0.0, tol=1e-10)(basis, f)
    assert out.failures == 0 and bool(out.converged.all())
    assert float(out.residual_norm.max()) < 1e-8
    torch.testing.assert_close(out.weights, exact, atol=1e-8, rtol=0)
    torch.testing.assert_close(out.fields["u"], fields["u"], atol=1e-8, rtol=0)


def test_implicit_gradient_matches_finite_differences() -> None:
    x = torch.linspace(0, 1, 40, dtype=torch.float64)
    f = 3 * torch.sin(2 * math.pi * x)[None] + 1.0  # not in the span: a true least-squares fit
    layer = HardConstraint(nonlinear, ridge=1e-3, tol=1e-13, max_steps=200)

    def loss(theta: torch.Tensor) -> torch.Tensor:
        out = layer(_sine_basis(x, 4, theta), f)
        return (out.fields["u"] ** 2).mean() + out.weights.sum()

    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(loss(theta), theta)
    h = 1e-6
    with torch.no_grad():
        fd = (loss(theta + h) - loss(theta - h)) / (2 * h)
    assert abs(float(grad) - float(fd)) <= 1e-6 * max(1.0, abs(float(fd)))


def test_gradients_reach_every_basis_field_and_the_context() -> None:
    x = torch.linspace(0, 1, 30, dtype=torch.float64)
    basis = {k: v.clone().requires_grad_(True) for k, v in _sine_basis(x, 3).items()}
    f = torch.ones(1, 30, dtype=torch.float64, requires_grad=True)
    out = HardConstraint(nonlinear, tol=1e-12)(basis, f)
    out.fields["u"].square().sum().backward()
    assert all(float(b.grad.abs().sum()) > 0 for b in basis.values())
    assert float(f.grad.abs().sum()) > 0


def test_failures_are_counted_and_reported() -> None:
    x = torch.linspace(0, 1, 50, dtype=torch.float64)
    basis = _sine_basis(x, 6)
    f = 50 * torch.ones(1, 50, dtype=torch.float64)  # strongly nonlinear: one step is not enough
    with pytest.warns(HardConstraintWarning, match="1 of 1 hard-constraint solves"):
        out = HardConstraint(nonlinear, tol=1e-12, max_steps=1)(basis, f)
    assert out.failures == 1 and not bool(out.converged[0]) and int(out.steps[0]) == 1
    assert bool(torch.isfinite(out.weights).all())  # a finite iterate, not silently zeroed
    with pytest.raises(RuntimeError, match="did not reach tol"):
        HardConstraint(nonlinear, tol=1e-12, max_steps=1, on_failure="raise")(basis, f)


def test_bad_input() -> None:
    x = torch.linspace(0, 1, 10, dtype=torch.float64)
    basis = _sine_basis(x, 3)
    layer = HardConstraint(nonlinear)
    f = torch.zeros(1, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="at least one field"):
        layer({}, f)
    with pytest.raises(ValueError, match="u_xx"):
        layer({"u": basis["u"], "u_xx": basis["u_xx"][:, :, :2]}, f)
    bad = basis["u"].clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        layer({"u": bad, "u_xx": basis["u_xx"]}, f)
    with pytest.raises(ValueError, match="w0"):
        layer(basis, f, w0=torch.zeros(1, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="ridge"):
        HardConstraint(nonlinear, ridge=-1.0)
    with pytest.raises(ValueError, match="on_failure"):
        HardConstraint(nonlinear, on_failure="quietly")


def test_experts_are_independent_constraints_solved_as_one_batch() -> None:
    from sciml.constraints import HardConstraintMoE, sample_in_subdomains, uniform_subdomains

    boxes = uniform_subdomains((0.0,), (1.0,), (4,))
    assert boxes.shape == (4, 2, 1)
    torch.testing.assert_close(boxes[:, 1, 0] - boxes[:, 0, 0], torch.full((4,), 0.25).double())
    gen = torch.Generator().manual_seed(0)
    pts = sample_in_subdomains(boxes, 25, generator=gen)  # (K, points, 1)
    assert pts.shape == (4, 25, 1)
    assert bool(((pts >= boxes[:, None, 0]) & (pts <= boxes[:, None, 1])).all())
    # two samples, four experts: each expert fits the sine basis to its own piece of f
    basis = {
        k: torch.stack([_sine_basis(pts[e, :, 0], 4)[k][0] for e in range(4)])[None].expand(
            2, -1, -1, -1
        )
        for k in ("u", "u_xx")
    }
    f = torch.stack([torch.cos(3 * pts[..., 0]), pts[..., 0] ** 2])  # (batch, K, points)
    moe = HardConstraintMoE(nonlinear, experts=4, tol=1e-12, max_steps=200)
    out = moe(basis, f)
    assert out.weights.shape == (2, 4, 4) and out.fields["u"].shape == (2, 4, 25)
    assert out.converged.shape == (2, 4) and bool(out.converged.all())
    single = HardConstraint(nonlinear, tol=1e-12, max_steps=200)
    for b in range(2):
        for e in range(4):
            alone = single({k: v[b, e][None] for k, v in basis.items()}, f[b, e][None])
            torch.testing.assert_close(out.weights[b, e], alone.weights[0], atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="K=4"):
        moe({k: v[:, :2] for k, v in basis.items()}, f[:, :2])
    with pytest.raises(ValueError, match="splits"):
        uniform_subdomains((0.0,), (1.0,), (0,))


def test_diffusion_sorption_residual_vanishes_on_the_reference_solution() -> None:
    from sciml.constraints import DIFFUSION_SORPTION_FIELDS, diffusion_sorption_residual
    from sciml.data.generators.diffusion_sorption import generate_diffusion_sorption

    data = generate_diffusion_sorption(1, nx=128, nt=51, seed=0)
    u = data.outputs["u"][0]
    x, t = data.coords["x"], data.coords["t"]
    dx, dt = float(x[1] - x[0]), float(t[1] - t[0])
    late = slice(6, None)  # past the initial layer at x = 0 (t >= 60 here)
    u_t = ((u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * dt))[late].reshape(1, -1)
    u_xx = ((u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / dx**2)[late].reshape(1, -1)
    inner = u[1:-1, 1:-1][late].reshape(1, -1)
    # the boundary and initial rows: exact data gives zero there
    right = torch.tensor([[0.01]], dtype=u.dtype)
    fields = {
        "u": inner,
        "u_t": u_t,
        "u_xx": u_xx,
        "u_left": torch.ones(1, 3, dtype=u.dtype),
        "u_right": right,
        "u_x_right": -right / 5e-4,
        "u_init": u[0][None],
    }
    assert set(fields) == set(DIFFUSION_SORPTION_FIELDS)
    r = diffusion_sorption_residual(fields, u[0][None])
    n = inner.shape[1]
    assert r.shape == (1, n + 3 + 1 + 128)
    # finite differences of the finite-volume solution: small against the diffusion term
    assert float(r[0, :n].abs().max()) <= 0.02 * float((5e-4 * u_xx).abs().max())
    assert float(r[0, n:].abs().max()) < 1e-12
    with pytest.raises(KeyError, match="u_t"):
        diffusion_sorption_residual({"u": inner}, u[0][None])


def test_offset_is_a_particular_solution_added_to_the_span() -> None:
    x = torch.linspace(0, 1, 64, dtype=torch.float64)
    basis = {k: v.expand(2, -1, -1) for k, v in _sine_basis(x, 4).items()}
    exact = torch.tensor([[0.5, 0.2, 0.0, 0.0], [-0.3, 0.0, 0.4, 0.1]], dtype=x.dtype)
    target = combine(basis, exact)
    # the offset holds part of the solution; the weights recover the rest
    shift = {"u": 0.5 * target["u"], "u_xx": 0.5 * target["u_xx"]}
    shift = {k: v.clone().requires_grad_(True) for k, v in shift.items()}
    f = target["u_xx"] - target["u"] ** 3
    out = HardConstraint(nonlinear, ridge=0.0, tol=1e-10)(basis, f, offset=shift)
    torch.testing.assert_close(out.weights, 0.5 * exact, atol=1e-8, rtol=0)
    torch.testing.assert_close(out.fields["u"], target["u"], atol=1e-8, rtol=0)
    # the offset is a parameter of the solve: implicit gradients reach it
    (g,) = torch.autograd.grad(out.weights.sum(), shift["u"])
    assert bool(torch.isfinite(g).all()) and float(g.abs().max()) > 0
    with pytest.raises(ValueError, match="not a basis field"):
        HardConstraint(nonlinear)(basis, f, offset={"v": shift["u"]})
    with pytest.raises(ValueError, match="offset field 'u' must be"):
        HardConstraint(nonlinear)(basis, f, offset={"u": shift["u"][:, :3]})
