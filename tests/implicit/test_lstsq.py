"""Batched Gauss-Newton / Levenberg-Marquardt and their implicit gradients."""

from __future__ import annotations

import pytest
import torch

from sciml.implicit import ImplicitDiffWarning, gauss_newton, levenberg_marquardt
from sciml.linalg import ConvergenceError

D = torch.float64


def rosenbrock(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Residuals of the Rosenbrock function, minimum at (a, a^2)."""
    return torch.stack([a - x[:, 0], b * (x[:, 1] - x[:, 0] ** 2)], dim=1)


def test_lm_solves_a_batch_of_rosenbrock_problems() -> None:
    gen = torch.Generator().manual_seed(1)
    a = 1.0 + torch.rand(64, generator=gen, dtype=D)
    b = 5.0 + 10.0 * torch.rand(64, generator=gen, dtype=D)
    x0 = torch.randn(64, 2, generator=gen, dtype=D) - 1.0
    out = levenberg_marquardt(rosenbrock, x0, a, b, max_steps=200)
    assert bool(out.converged.all())
    torch.testing.assert_close(out.x, torch.stack([a, a**2], 1), rtol=1e-8, atol=1e-8)
    assert out.steps.shape == (64,) and int(out.steps.max()) <= 200
    assert float(out.cost.max()) < 1e-16


def test_too_few_steps_is_reported_and_guarded() -> None:
    a = torch.full((3,), 1.5, dtype=D, requires_grad=True)
    b = torch.full((3,), 10.0, dtype=D)
    x0 = torch.full((3, 2), -1.2, dtype=D)
    out = levenberg_marquardt(rosenbrock, x0, a, b, max_steps=2)
    assert not bool(out.converged.any()) and out.steps.tolist() == [2, 2, 2]
    with pytest.warns(ImplicitDiffWarning, match="did not converge"):
        out.x.sum().backward()
    out = levenberg_marquardt(rosenbrock, x0, a, b, max_steps=2, on_failure="raise")
    with pytest.raises(ConvergenceError):
        out.x.sum().backward()


def nonlinear_poisson(u: torch.Tensor, f: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Finite-difference residual of -kappa u'' + u^3 = f on (0, 1), u(0) = u(1) = 0."""
    n = u.shape[1]
    h = 1.0 / (n + 1)
    padded = torch.nn.functional.pad(u, (1, 1))
    lap = (padded[:, 2:] - 2 * padded[:, 1:-1] + padded[:, :-2]) / h**2
    return -kappa * lap + u**3 - f


def test_lm_and_gauss_newton_solve_pde_residual_problems() -> None:
    n = 16
    s = torch.linspace(0, 1, n + 2, dtype=D)[1:-1]
    f = torch.stack([c * torch.sin(torch.pi * s) for c in (1.0, 5.0, 20.0, 50.0)])
    kappa = torch.tensor(0.5, dtype=D)
    for solver in (levenberg_marquardt, gauss_newton):
        out = solver(nonlinear_poisson, torch.zeros(4, n, dtype=D), f, kappa)
        assert bool(out.converged.all()), solver.__name__
        res = nonlinear_poisson(out.x.detach(), f, kappa)
        assert float(res.abs().max()) < 1e-9


def exp_fit(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fit y ~ x0 exp(-x1 t) (one problem per row of y)."""
    return x[:, :1] * torch.exp(-x[:, 1:] * t) - y


def test_implicit_gradient_gradcheck_and_equals_unrolled() -> None:
    t = torch.linspace(0, 2, 9, dtype=D)
    y = torch.tensor([[2.0], [1.0]], dtype=D) * torch.exp(
        -torch.tensor([[0.7], [1.5]], dtype=D) * t
    )
    y = y + 0.01 * torch.randn(2, 9, dtype=D, generator=torch.Generator().manual_seed(3))
    y.requires_grad_(True)
    x0 = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=D)
    assert torch.autograd.gradcheck(
        lambda data: levenberg_marquardt(exp_fit, x0, t, data, ridge=1e-4).x, (y,)
    )
    weights = torch.randn(2, 2, dtype=D)
    implicit = torch.autograd.grad((levenberg_marquardt(exp_fit, x0, t, y).x * weights).sum(), y)[0]
    unrolled_x = levenberg_marquardt(exp_fit, x0, t, y, implicit=False, max_steps=60).x
    unrolled = torch.autograd.grad((unrolled_x * weights).sum(), y)[0]
    assert float((implicit - unrolled).norm() / unrolled.norm()) < 1e-6


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(batch, n\)"):
        levenberg_marquardt(exp_fit, torch.ones(2, dtype=D), None, None)
    with pytest.raises(ValueError, match="NaN"):
        gauss_newton(exp_fit, torch.full((1, 2), float("nan"), dtype=D), None, None)
    with pytest.raises(ValueError, match="residual must have shape"):
        levenberg_marquardt(lambda x: x.sum(), torch.ones(2, 2, dtype=D))
    with pytest.raises(TypeError, match="floating"):
        levenberg_marquardt(exp_fit, torch.ones(2, 2, dtype=torch.int64), None, None)


def test_float32_batch() -> None:
    a = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
    b = torch.full((3,), 10.0)
    out = levenberg_marquardt(rosenbrock, torch.zeros(3, 2), a, b, gtol=1e-6, xtol=1e-7, ftol=1e-9)
    assert out.x.dtype == torch.float32 and bool(out.converged.all())
    torch.testing.assert_close(
        out.x.detach(), torch.stack([a, a**2], 1).detach(), rtol=1e-4, atol=1e-4
    )
    # d x*/d a = (1, 2a): the implicit gradient of sum(x*) is 1 + 2a
    (grad,) = torch.autograd.grad(out.x.sum(), a)
    torch.testing.assert_close(grad, 1 + 2 * a.detach(), rtol=1e-3, atol=1e-3)


def test_a_supplied_jacobian_gives_the_same_solution_steps_and_gradient() -> None:
    def jacobian(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple:
        J = torch.zeros(x.shape[0], 2, 2, dtype=x.dtype)
        J[:, 0, 0] = -1.0
        J[:, 1, 0] = -2 * b * x[:, 0]
        J[:, 1, 1] = b
        return rosenbrock(x, a, b), J

    a = torch.tensor([1.0, 1.5, 2.0], dtype=D, requires_grad=True)
    b = torch.full((3,), 10.0, dtype=D)
    x0 = torch.full((3, 2), -1.2, dtype=D)
    plain = levenberg_marquardt(rosenbrock, x0, a, b, max_steps=200, ridge=1e-3)
    given = levenberg_marquardt(rosenbrock, x0, a, b, max_steps=200, ridge=1e-3, jacobian=jacobian)
    assert torch.equal(plain.steps, given.steps) and bool(given.converged.all())
    torch.testing.assert_close(given.x, plain.x, rtol=1e-12, atol=1e-12)
    (g_plain,) = torch.autograd.grad(plain.x.sum(), a)
    (g_given,) = torch.autograd.grad(given.x.sum(), a)
    torch.testing.assert_close(g_given, g_plain)
    with pytest.raises(ValueError, match="jacobian must return"):
        levenberg_marquardt(rosenbrock, x0, a, b, jacobian=lambda x, a, b: (rosenbrock(x, a, b), x))


@pytest.mark.parametrize("method", ["lm", "gn"])
def test_compact_evaluates_only_the_active_problems(method: str) -> None:
    # problems that need different numbers of steps: compaction must not change any of
    # them, and later iterations must evaluate fewer rows
    a = torch.tensor([1.0, 1.0, 2.0, 0.5], dtype=torch.float64, requires_grad=True)
    x0 = torch.tensor([[1.0, 1.0], [-1.5, 2.0], [0.0, 0.0], [1.9, 3.0]], dtype=torch.float64)
    seen: list[int] = []

    def residual(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        seen.append(x.shape[0])
        return torch.stack([a - x[:, 0], 10 * (x[:, 1] - x[:, 0] ** 2)], dim=1)

    solve = levenberg_marquardt if method == "lm" else gauss_newton
    plain = solve(residual, x0, a, max_steps=200)
    seen_plain = list(seen)
    seen.clear()
    compact = solve(residual, x0, a, max_steps=200, compact=True)
    assert bool(plain.converged.all()) and bool(compact.converged.all())
    assert len(set(plain.steps.tolist())) > 1  # the problems finish at different steps
    torch.testing.assert_close(compact.x, plain.x, rtol=0, atol=0)
    assert torch.equal(compact.steps, plain.steps)
    assert min(seen) < 4 and min(seen_plain) == 4
    # the implicit gradient is the same
    (g1,) = torch.autograd.grad(plain.x.sum(), a)
    (g2,) = torch.autograd.grad(compact.x.sum(), a)
    torch.testing.assert_close(g1, g2)


def test_lm_converges_where_no_step_can_lower_the_cost() -> None:
    # min of 0.5 ((x - 1)^2 + (2|x| + 1)^2) is the kink x = 0 (cost 1), where the AD gradient
    # -1 is not zero and every step is rejected: MINPACK's tests on rejected steps (negligible
    # actual and predicted decrease) stop there as converged instead of saturating the damping
    def kink(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x - 1, 2 * x.abs() + 1], 1)

    x0 = torch.tensor([[0.0], [0.5], [-0.3]], dtype=D)
    out = levenberg_marquardt(kink, x0, max_steps=200, gtol=1e-10, xtol=1e-10, ftol=1e-10)
    assert out.converged.tolist() == [True, True, True]
    assert float(out.x.abs().max()) < 1e-9 and int(out.steps[0]) < 50
    torch.testing.assert_close(out.cost, torch.ones(3, dtype=D), rtol=1e-9, atol=0)
    assert float(out.gradient_norm.min()) > 0.5  # stopped although J^T r is not small
