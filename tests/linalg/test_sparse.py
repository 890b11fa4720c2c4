"""SparseMatrix: conversions, products, transposes, gradients and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sciml.linalg import (
    DenseOperator,
    IdentityOperator,
    LinearOperator,
    MatrixFreeOperator,
    SparseMatrix,
    as_operator,
    poisson2d,
)


def random_sparse(m: int, n: int, density: float = 0.2, seed: int = 0) -> sp.csr_array:
    gen = np.random.default_rng(seed)
    return sp.random_array((m, n), density=density, format="csr", rng=gen)


def test_scipy_round_trip_shares_memory() -> None:
    A = random_sparse(30, 20)
    S = SparseMatrix.from_scipy(A)
    assert S.shape == (30, 20) and S.nnz == A.nnz and S.dtype == torch.float64
    assert np.shares_memory(S.values.numpy(), A.data)
    back = S.to_scipy()
    assert np.shares_memory(back.data, A.data)
    assert abs(back - A).max() == 0


def test_matvec_vector_and_block_match_scipy() -> None:
    A = random_sparse(50, 40)
    S = SparseMatrix.from_scipy(A)
    x = np.random.default_rng(1).standard_normal(40)
    X = np.random.default_rng(2).standard_normal((40, 3))
    np.testing.assert_allclose((S @ torch.from_numpy(x)).numpy(), A @ x, rtol=1e-13)
    np.testing.assert_allclose((S @ torch.from_numpy(X)).numpy(), A @ X, rtol=1e-13)
    np.testing.assert_allclose((S @ torch.from_numpy(X[:, :1])).numpy(), A @ X[:, :1], rtol=1e-13)


def test_transpose_diagonal_dense() -> None:
    A = random_sparse(25, 25, seed=3) + sp.eye_array(25)
    S = SparseMatrix.from_scipy(A)
    np.testing.assert_array_equal(S.T.to_dense().numpy(), A.T.toarray())
    np.testing.assert_array_equal(S.T.T.to_dense().numpy(), A.toarray())
    np.testing.assert_array_equal(S.diagonal().numpy(), A.diagonal())
    R = SparseMatrix.from_scipy(random_sparse(7, 4, seed=4))
    assert R.T.shape == (4, 7)
    np.testing.assert_array_equal(R.T.to_dense().numpy(), R.to_dense().numpy().T)


def test_duplicates_are_summed_on_a_copy() -> None:
    A = sp.coo_array(([1.0, 2.0, 3.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2)).tocsr()
    A.has_canonical_format = False
    nnz_before = A.nnz
    S = SparseMatrix.from_scipy(A)
    assert A.nnz == nnz_before
    np.testing.assert_array_equal(S.to_dense().numpy(), [[0.0, 3.0], [3.0, 0.0]])


def test_to_dtype_and_from_dense() -> None:
    S = poisson2d(4)
    S32 = S.to(dtype=torch.float32)
    assert S32.dtype == torch.float32 and S.to() is S
    D = torch.tensor([[2.0, 0.0], [1.0, 3.0]], dtype=torch.float64)
    np.testing.assert_array_equal(SparseMatrix.from_dense(D).to_dense().numpy(), D.numpy())
    with pytest.raises(TypeError, match="float32 or float64"):
        S.to(dtype=torch.int32)


def test_poisson2d_is_symmetric_with_known_spectrum() -> None:
    n = 6
    A = poisson2d(n).to_dense()
    assert torch.equal(A, A.T)
    k = torch.arange(1, n + 1, dtype=torch.float64)
    lam1 = 2 - 2 * torch.cos(k * torch.pi / (n + 1))
    expected = torch.sort((lam1[:, None] + lam1[None, :]).flatten()).values
    torch.testing.assert_close(torch.linalg.eigvalsh(A), expected, rtol=1e-12, atol=1e-12)


def test_from_petsc() -> None:
    pytest.importorskip("dolfinx_solver")
    from petsc4py import PETSc

    A = random_sparse(12, 12, seed=5) + sp.eye_array(12)
    A = sp.csr_array(A)
    mat = PETSc.Mat().createAIJ(size=A.shape, csr=(A.indptr, A.indices, A.data))
    mat.assemble()
    S = SparseMatrix.from_petsc(mat)
    np.testing.assert_array_equal(S.to_dense().numpy(), A.toarray())


def test_gradients_of_matvec_pass_gradcheck() -> None:
    A = random_sparse(8, 6, density=0.5, seed=6)
    S = SparseMatrix.from_scipy(A)
    values = S.values.clone().requires_grad_(True)
    x = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    xv = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, y: S.with_values(v) @ y, (values, x))
    assert torch.autograd.gradcheck(lambda v, y: S.with_values(v) @ y, (values, xv))
    y8 = torch.randn(8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, y: S.with_values(v).T @ y, (values, y8))


@pytest.mark.parametrize(
    ("crow", "col", "values", "shape", "match"),
    [
        ([0, 1, 2], [0, 1], [1.0, float("nan")], (2, 2), "NaN/Inf"),
        ([0, 1, 2], [0, 5], [1.0, 1.0], (2, 2), "out of range"),
        ([0, 2, 1], [0, 1], [1.0, 1.0], (2, 2), "non-decreasing|end at nnz"),
        ([0, 1], [0, 1], [1.0, 1.0], (2, 2), "expected nrows \\+ 1"),
        ([0, 1, 2], [0], [1.0, 1.0], (2, 2), "col_indices has length"),
    ],
)
def test_construction_validates(
    crow: list[int], col: list[int], values: list[float], shape: tuple[int, int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        SparseMatrix(
            torch.tensor(crow),
            torch.tensor(col),
            torch.tensor(values, dtype=torch.float64),
            shape,
        )


def test_construction_rejects_integer_values_and_complex_scipy() -> None:
    with pytest.raises(TypeError, match="float32 or float64"):
        SparseMatrix(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1]), (1, 1))
    with pytest.raises(TypeError, match="complex"):
        SparseMatrix.from_scipy(sp.csr_array(np.eye(2) * 1j))
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        SparseMatrix.from_scipy(np.eye(2))


def test_operand_checks() -> None:
    S = poisson2d(3)
    with pytest.raises(ValueError, match="shape mismatch"):
        S @ torch.ones(4, dtype=torch.float64)
    with pytest.raises(TypeError, match="dtype mismatch"):
        S @ torch.ones(9, dtype=torch.float32)
    with pytest.raises(ValueError, match="device mismatch"):
        S @ torch.ones(9, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="vector"):
        S @ torch.ones(9, 1, 1, dtype=torch.float64)


def test_operators_share_the_protocol() -> None:
    S = poisson2d(3)
    x = torch.arange(9, dtype=torch.float64)
    dense = DenseOperator(S.to_dense())
    free = MatrixFreeOperator(lambda v: S @ v, S.shape)
    loop = MatrixFreeOperator(lambda v: S @ v, S.shape, batched=False)
    for op in (S, dense, free, loop, as_operator(S.to_scipy()), as_operator(S.to_dense())):
        assert isinstance(op, LinearOperator)
        torch.testing.assert_close(op @ x, S @ x)
        torch.testing.assert_close(op @ torch.stack([x, 2 * x], 1), S @ torch.stack([x, 2 * x], 1))
    torch.testing.assert_close(IdentityOperator(9) @ x, x)
    with pytest.raises(TypeError, match="cannot use"):
        as_operator("not an operator")
    with pytest.raises(TypeError, match="needs `like`"):
        as_operator(lambda v: v)
    bad = MatrixFreeOperator(lambda v: v[:3], S.shape)
    with pytest.raises(ValueError, match="returned shape"):
        bad @ x


def test_scaling_and_negation() -> None:
    S = poisson2d(3)
    torch.testing.assert_close((-S).to_dense(), -S.to_dense())
    torch.testing.assert_close((2.0 * S).to_dense(), 2 * S.to_dense())
    torch.testing.assert_close(
        (S * torch.tensor(3.0, dtype=torch.float64)).to_dense(), 3 * S.to_dense()
    )


def test_sum_difference_and_submatrix() -> None:
    A = random_sparse(9, 7, seed=10)
    B = random_sparse(9, 7, seed=11)
    SA, SB = SparseMatrix.from_scipy(A), SparseMatrix.from_scipy(B)
    np.testing.assert_allclose((SA + SB).to_dense().numpy(), (A + B).toarray(), rtol=1e-15)
    np.testing.assert_allclose((SA - SB).to_dense().numpy(), (A - B).toarray(), rtol=1e-15)
    rows, cols = torch.tensor([7, 0, 3]), torch.tensor([6, 1])
    sub = SA.submatrix(rows, cols)
    np.testing.assert_array_equal(sub.to_dense().numpy(), A.toarray()[[0, 3, 7]][:, [1, 6]])
    with pytest.raises(ValueError, match="unique"):
        SA.submatrix(torch.tensor([1, 1]), cols)
    with pytest.raises(ValueError, match="out of range"):
        SA.submatrix(torch.tensor([9]), cols)
    with pytest.raises(ValueError, match="shape mismatch"):
        SA + SparseMatrix.from_scipy(random_sparse(7, 7))
    values = SA.values.clone().requires_grad_(True)
    (SA.with_values(values) + SB).submatrix(rows, cols).values.sum().backward()
    assert values.grad is not None and values.grad.sum() > 0
