"""Differentiable linear solve: adjoint gradients checked by finite differences and dense solves."""

from __future__ import annotations

import pytest
import scipy.sparse as sp
import torch
from conftest import convection_diffusion

from sciml.linalg import ConvergenceError, SparseMatrix, poisson2d, solve


def test_gradcheck_spd_values_and_rhs() -> None:
    S = poisson2d(4)
    off = S.row_indices != S.col_indices

    def symmetric_solve(diag_shift: torch.Tensor, off_scale: torch.Tensor, b: torch.Tensor):
        values = torch.where(off, S.values * off_scale, S.values + diag_shift[S.row_indices.long()])
        return solve(S.with_values(values), b, method="cg", rtol=1e-13)

    shift = torch.rand(16, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    b = torch.randn(16, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(symmetric_solve, (shift, scale, b))


@pytest.mark.parametrize("method", ["gmres", "minres"])
def test_gradcheck_other_methods(method: str) -> None:
    A = convection_diffusion(4, wind=3.0) if method == "gmres" else poisson2d(4).to_scipy()
    S = SparseMatrix.from_scipy(sp.csr_array(A))
    values = S.values.clone().requires_grad_(True)
    b = torch.randn(16, dtype=torch.float64, requires_grad=True)
    if method == "gmres":
        fn = lambda v, rhs: solve(S.with_values(v), rhs, method="gmres", rtol=1e-13)
        assert torch.autograd.gradcheck(fn, (values, b))
    else:
        fn = lambda rhs: solve(S, rhs, method="minres", rtol=1e-13)
        assert torch.autograd.gradcheck(fn, (b,))


def test_gradient_matches_dense_autograd() -> None:
    A = sp.csr_array(convection_diffusion(5, wind=2.0))
    S = SparseMatrix.from_scipy(A)
    values = S.values.clone().requires_grad_(True)
    b = torch.randn(25, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(25, 3, dtype=torch.float64)
    (solve(S.with_values(values), b, method="gmres") * weights).sum().backward()
    values_d = S.values.clone().requires_grad_(True)
    b_d = b.detach().clone().requires_grad_(True)
    dense = S.with_values(values_d).to_dense()
    (torch.linalg.solve(dense, b_d) * weights).sum().backward()
    torch.testing.assert_close(values.grad, values_d.grad, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(b.grad, b_d.grad, rtol=1e-7, atol=1e-9)


def test_unconverged_solve_raises() -> None:
    S = poisson2d(10)
    with pytest.raises(ConvergenceError, match="forward solve"):
        solve(S, torch.ones(100, dtype=torch.float64), maxiter=3)
    with pytest.raises(ConvergenceError, match="not symmetric positive definite"):
        solve(-S, torch.ones(100, dtype=torch.float64))
    with pytest.raises(ValueError, match="method"):
        solve(S, torch.ones(100, dtype=torch.float64), method="lu")  # type: ignore[arg-type]
