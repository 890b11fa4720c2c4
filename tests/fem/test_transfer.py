"""Transfer operators reproduce polynomials of the space's degree."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")
import torch

from sciml.fem import (
    FunctionSpace,
    interpolation_between,
    interpolation_matrix,
    project,
    prolongation,
    restriction,
)
from sciml.mesh import refinement_hierarchy, unit_cube, unit_square

POLY = {
    1: lambda x: 1.0 + x[0] - 2.0 * x[1],
    2: lambda x: x[0] ** 2 + x[0] * x[1] - 0.5 * x[1] + 0.25,
}


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("cell", ["triangle", "quadrilateral"])
def test_prolongation_is_exact_on_nested_spaces(degree: int, cell: str) -> None:
    coarse, fine = (
        refinement_hierarchy(unit_square(3, cell=cell), 1)
        if cell == "triangle"
        else (
            unit_square(3, cell=cell),
            unit_square(6, cell=cell),
        )
    )
    Vc, Vf = FunctionSpace(coarse, "P", degree), FunctionSpace(fine, "P", degree)
    P = prolongation(Vc, Vf)
    assert P.shape == (Vf.num_dofs, Vc.num_dofs)
    f = POLY[degree]
    torch.testing.assert_close(P @ Vc.interpolate(f), Vf.interpolate(f), rtol=0, atol=1e-13)
    R = restriction(Vc, Vf)
    torch.testing.assert_close(R.to_dense(), P.to_dense().T)
    # rows of a Lagrange prolongation sum to one (constants are reproduced)
    torch.testing.assert_close(
        P @ torch.ones(Vc.num_dofs, dtype=torch.float64),
        torch.ones(Vf.num_dofs, dtype=torch.float64),
    )


@pytest.mark.parametrize("degree", [1, 2])
def test_interpolation_between_non_nested_meshes_and_points(degree: int) -> None:
    V = FunctionSpace(unit_square(5), "P", degree)
    W = FunctionSpace(unit_square(7, cell="quadrilateral"), "P", degree)
    f = POLY[degree]
    torch.testing.assert_close(
        interpolation_between(V, W) @ V.interpolate(f), W.interpolate(f), rtol=0, atol=1e-13
    )
    pts = np.random.default_rng(0).random((40, 2))
    values = interpolation_matrix(V, pts) @ V.interpolate(f)
    expected = torch.from_numpy(np.asarray(f(pts.T), dtype=np.float64))
    torch.testing.assert_close(values, expected, rtol=0, atol=1e-13)


def test_vector_spaces_and_projection() -> None:
    V = FunctionSpace(unit_cube(2), "P", 1, shape=(3,))
    W = FunctionSpace(unit_cube(3, cell="hexahedron"), "P", 1, shape=(3,))

    def f(x: np.ndarray) -> np.ndarray:
        return np.stack([x[0], 2 * x[1], x[2] - x[0]])

    torch.testing.assert_close(
        interpolation_between(V, W) @ V.interpolate(f), W.interpolate(f), rtol=0, atol=1e-13
    )
    S = FunctionSpace(unit_square(6), "P", 2)
    torch.testing.assert_close(project(S, POLY[2]), S.interpolate(POLY[2]), rtol=0, atol=1e-10)


def test_points_outside_and_bad_shapes() -> None:
    V = FunctionSpace(unit_square(3), "P", 1)
    with pytest.raises(ValueError, match="outside the mesh"):
        interpolation_matrix(V, np.array([[0.5, 0.5], [1.5, 0.5]]))
    with pytest.raises(ValueError, match="shape"):
        interpolation_matrix(V, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="value shapes differ"):
        interpolation_between(V, FunctionSpace(unit_square(3), "P", 1, shape=(2,)))
