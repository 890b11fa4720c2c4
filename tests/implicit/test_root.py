"""custom_root / custom_fixed_point: gradients against closed forms, gradcheck, unrolling."""

from __future__ import annotations

import pytest
import torch

from sciml.implicit import ImplicitDiffWarning, custom_fixed_point, custom_root
from sciml.linalg import ConvergenceError, cg

torch.manual_seed(0)
D = torch.float64


def ridge_optimality(x: torch.Tensor, lam: torch.Tensor, A: torch.Tensor, y: torch.Tensor):
    """Gradient of 0.5 ||A x - y||^2 + 0.5 lam ||x||^2."""
    return A.T @ (A @ x - y) + lam * x


def ridge_solver(x0: torch.Tensor, lam: torch.Tensor, A: torch.Tensor, y: torch.Tensor):
    """Solve the normal equations with sciml's CG (no autograd inside)."""
    H = A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype)
    return cg(H, A.T @ y, x0=x0, rtol=1e-14).x


def ridge_closed_form(lam: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve(A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype), A.T @ y)


@pytest.mark.parametrize("method", ["cg", "gmres", "normal_cg", "dense"])
def test_ridge_regression_gradients_match_closed_form(method: str) -> None:
    A = torch.randn(12, 5, dtype=D, requires_grad=True)
    y = torch.randn(12, dtype=D, requires_grad=True)
    lam = torch.tensor(0.7, dtype=D, requires_grad=True)
    solver = custom_root(ridge_optimality, solve=method, rtol=1e-13)(ridge_solver)
    x = solver(torch.zeros(5, dtype=D), lam, A, y)
    torch.testing.assert_close(x, ridge_closed_form(lam, A, y))
    w = torch.randn(5, dtype=D)
    grads = torch.autograd.grad((x * w).sum(), (lam, A, y))
    ref = torch.autograd.grad((ridge_closed_form(lam, A, y) * w).sum(), (lam, A, y))
    for g, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-10)


def test_ridge_regression_gradcheck() -> None:
    A = torch.randn(8, 3, dtype=D, requires_grad=True)
    y = torch.randn(8, dtype=D, requires_grad=True)
    lam = torch.tensor(0.3, dtype=D, requires_grad=True)
    solver = custom_root(ridge_optimality, solve="cg", rtol=1e-14)(ridge_solver)
    assert torch.autograd.gradcheck(
        lambda l, a, b: solver(torch.zeros(3, dtype=D), l, a, b), (lam, A, y)
    )


def contraction(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x @ W.T + b)


def iterate(x0: torch.Tensor, W: torch.Tensor, b: torch.Tensor, steps: int = 200) -> torch.Tensor:
    x = x0
    for _ in range(steps):
        x = contraction(x, W, b)
    return x


def contraction_params() -> tuple[torch.Tensor, torch.Tensor]:
    W = torch.randn(6, 6, dtype=D)
    W = (0.5 * W / torch.linalg.matrix_norm(W, ord=2)).requires_grad_(True)
    b = torch.randn(4, 6, dtype=D, requires_grad=True)  # a batch of 4 fixed-point problems
    return W, b


def test_fixed_point_gradcheck_and_equals_unrolled() -> None:
    W, b = contraction_params()
    solver = custom_fixed_point(contraction, solve="gmres", batched=True, rtol=1e-13)(iterate)
    x0 = torch.zeros(4, 6, dtype=D)
    assert torch.autograd.gradcheck(lambda w, c: solver(x0, w, c), (W, b))
    implicit = torch.autograd.grad(solver(x0, W, b).square().sum(), (W, b))
    unrolled = torch.autograd.grad(iterate(x0, W, b).square().sum(), (W, b))
    for gi, gu in zip(implicit, unrolled, strict=True):
        assert float((gi - gu).norm() / gu.norm()) < 1e-6


def test_initial_guess_gets_no_gradient_and_float32_works() -> None:
    W, b = contraction_params()
    W32, b32 = W.detach().float().requires_grad_(True), b.detach().float().requires_grad_(True)
    x0 = torch.zeros(4, 6, requires_grad=True)
    solver = custom_fixed_point(contraction, solve="dense", batched=True)(iterate)
    x = solver(x0, W32, b32)
    assert x.dtype == torch.float32
    x.sum().backward()
    assert x0.grad is None and W32.grad is not None and b32.grad is not None
    unrolled = torch.autograd.grad(iterate(x0.detach(), W32, b32).sum(), (W32,))[0]
    assert float((W32.grad - unrolled).norm() / unrolled.norm()) < 1e-4


def test_closure_capture_is_detected() -> None:
    A = torch.randn(6, 3, dtype=D, requires_grad=True)
    y = torch.randn(6, dtype=D)
    lam = torch.tensor(0.5, dtype=D, requires_grad=True)

    def optimality(x: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # A captured: a mistake
        return A.T @ (A @ x - y) + l * x

    def solver(x0: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
        return ridge_solver(x0, l, A.detach(), y)

    x = custom_root(optimality, solve="cg")(solver)(torch.zeros(3, dtype=D), lam)
    with pytest.warns(ImplicitDiffWarning, match="not passed as parameters"):
        x.sum().backward()
    assert A.grad is None and lam.grad is not None


def test_callable_adjoint_solver_and_failures() -> None:
    A = torch.randn(10, 4, dtype=D, requires_grad=True)
    y = torch.randn(10, dtype=D)
    lam = torch.tensor(0.2, dtype=D)
    calls = []

    def my_solve(matvec, rhs):
        calls.append(rhs.shape)
        return cg(matvec_operator(matvec, rhs), rhs, rtol=1e-13).x

    def matvec_operator(matvec, rhs):
        from sciml.linalg import MatrixFreeOperator

        return MatrixFreeOperator(matvec, (rhs.shape[0], rhs.shape[0]), dtype=rhs.dtype)

    x = custom_root(ridge_optimality, solve=my_solve)(ridge_solver)(
        torch.zeros(4, dtype=D), lam, A, y
    )
    g = torch.autograd.grad(x.sum(), A)[0]
    ref = torch.autograd.grad(ridge_closed_form(lam, A, y).sum(), A)[0]
    torch.testing.assert_close(g, ref, rtol=1e-8, atol=1e-10)
    assert calls == [(4, 1)]
    # an adjoint solve that cannot converge in 1 iteration: warn or raise as configured
    for mode, context in (
        ("warn", pytest.warns(ImplicitDiffWarning)),
        ("raise", pytest.raises(ConvergenceError)),
    ):
        solver = custom_root(ridge_optimality, solve="gmres", maxiter=1, on_failure=mode)(
            ridge_solver
        )
        x = solver(torch.zeros(4, dtype=D), lam, A, y)
        with context:
            x.sum().backward()
    with pytest.raises(ValueError, match="unknown adjoint solver"):
        custom_root(ridge_optimality, solve="lu")
    with pytest.raises(ValueError, match="on_failure"):
        custom_root(ridge_optimality, on_failure="ignore-all")
