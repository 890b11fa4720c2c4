"""sciml.fem: spaces, assembly, Dirichlet conditions, norms and convergence rates."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")
import torch
import ufl

from sciml.fem import (
    FunctionSpace,
    apply_dirichlet,
    assemble,
    condense,
    convection,
    dirichlet,
    error_norm,
    expand,
    h1_seminorm,
    l2_norm,
    load_vector,
    mass,
    relative_l2_error,
    stiffness,
)
from sciml.linalg import amg, cg, gmres
from sciml.mesh import unit_cube, unit_square

PI = np.pi


def manufactured(x):
    return ufl.sin(PI * x[0]) * ufl.sin(PI * x[1]) + x[0] * x[1]


def solve_poisson(V: FunctionSpace, method: str) -> torch.Tensor:
    """-Laplace u = f with u = manufactured on the boundary, solved by AMG-PCG."""
    f = load_vector(V, lambda x: 2 * PI**2 * np.sin(PI * x[0]) * np.sin(PI * x[1]))
    bc = dirichlet(V, "boundary", lambda x: np.sin(PI * x[0]) * np.sin(PI * x[1]) + x[0] * x[1])
    K = stiffness(V)
    if method == "lift":
        A, b = apply_dirichlet(K, f, bc)
        sol = cg(A, b, rtol=1e-12, M=amg(A))
        assert sol.converged
        return sol.x
    A, b, free = condense(K, f, bc)
    sol = cg(A, b, rtol=1e-12, M=amg(A))
    assert sol.converged
    return expand(sol.x, free, bc)


@pytest.mark.parametrize(("degree", "l2_rate", "h1_rate"), [(1, 2.0, 1.0), (2, 3.0, 2.0)])
@pytest.mark.parametrize("method", ["lift", "condense"])
def test_convergence_rates_on_unit_square(
    degree: int, l2_rate: float, h1_rate: float, method: str
) -> None:
    sizes = [8, 16, 32]
    errors = []
    for n in sizes:
        V = FunctionSpace(unit_square(n), "P", degree)
        u = solve_poisson(V, method)
        errors.append((error_norm(V, u, manufactured, "L2"), error_norm(V, u, manufactured, "H1")))
    e = np.array(errors)
    h = 1.0 / np.array(sizes)
    assert np.polyfit(np.log(h), np.log(e[:, 0]), 1)[0] == pytest.approx(l2_rate, abs=0.1)
    assert np.polyfit(np.log(h), np.log(e[:, 1]), 1)[0] == pytest.approx(h1_rate, abs=0.1)


@pytest.mark.parametrize("degree", [1, 2])
def test_polynomials_of_the_space_are_reproduced(degree: int) -> None:
    V = FunctionSpace(unit_square(4), "P", degree)
    if degree == 1:
        exact = lambda x: 1.0 + 2.0 * x[0] - 3.0 * x[1]
        f = 0.0
    else:
        exact = lambda x: x[0] ** 2 + x[0] * x[1] - 0.5 * x[1] ** 2
        f = -1.0  # -Laplace(x^2 + xy - y^2/2) = -(2 - 1)
    A, b = apply_dirichlet(stiffness(V), load_vector(V, f), dirichlet(V, "boundary", exact))
    sol = cg(A, b, rtol=1e-14, atol=1e-14)
    assert error_norm(V, sol.x, exact, "L2") < 1e-11
    torch.testing.assert_close(sol.x, V.interpolate(exact), rtol=0, atol=1e-11)


def test_mass_matrix_sums_to_area_and_norms() -> None:
    for degree in (1, 2):
        V = FunctionSpace(unit_square(5), "P", degree)
        assert float(mass(V).values.sum()) == pytest.approx(1.0, abs=1e-13)
    V = FunctionSpace(unit_square(8), "P", 2)
    u = V.interpolate(lambda x: x[0])
    assert float(l2_norm(V, u)) == pytest.approx(1 / np.sqrt(3), abs=1e-12)
    assert float(h1_seminorm(V, u)) == pytest.approx(1.0, abs=1e-12)
    batch = torch.stack([u, 2 * u]).requires_grad_(True)
    norms = l2_norm(V, batch)
    assert norms.shape == (2,) and float(norms[1].detach()) == pytest.approx(2 / np.sqrt(3))
    norms.sum().backward()
    assert batch.grad is not None and torch.isfinite(batch.grad).all()
    assert float(relative_l2_error(V, 1.01 * u, u)) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="last dimension"):
        l2_norm(V, torch.ones(3, dtype=torch.float64))


def test_stiffness_coefficients_agree() -> None:
    V = FunctionSpace(unit_square(6), "P", 1)
    x = V.dof_coordinates
    kappa_values = torch.from_numpy(1.0 + x[:, 0] ** 2)
    K1 = stiffness(V, kappa_values)
    K2 = stiffness(V, lambda x: 1.0 + x[0] ** 2)
    torch.testing.assert_close(K1.to_dense(), K2.to_dense())
    torch.testing.assert_close(stiffness(V, 2.0).to_dense(), 2 * stiffness(V).to_dense())
    with pytest.raises(ValueError, match="one value per node"):
        stiffness(V, torch.ones(3, dtype=torch.float64))
    # a user form gives the same matrix
    u, v = ufl.TrialFunction(V.dolfinx_space), ufl.TestFunction(V.dolfinx_space)
    K3 = assemble(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    torch.testing.assert_close(K3.to_dense(), stiffness(V).to_dense())
    assert assemble(1.0 * ufl.dx(domain=V.mesh.dolfinx_mesh)) == pytest.approx(1.0)


def test_convection_diffusion_solved_by_gmres() -> None:
    V = FunctionSpace(unit_square(16), "P", 1)
    C = convection(V, (1.0, 0.5))
    A = stiffness(V, 0.05) + C
    torch.testing.assert_close(A.to_dense(), stiffness(V, 0.05).to_dense() + C.to_dense())
    A, b = apply_dirichlet(A, load_vector(V, 1.0), dirichlet(V, "boundary", 0.0))
    sol = gmres(A, b, rtol=1e-10, M=amg(A, smoother="jacobi"))
    assert sol.converged
    # convection of a constant field is zero, of a linear field constant
    ones = torch.ones(V.num_dofs, dtype=torch.float64)
    torch.testing.assert_close(C @ ones, torch.zeros_like(ones), atol=1e-13, rtol=0)


def test_vector_space_and_boundary_dofs() -> None:
    mesh = unit_cube(2)
    V = FunctionSpace(mesh, "Lagrange", 1, shape=(3,))
    assert V.block_size == 3 and V.num_dofs == 27 * 3
    left = V.boundary_dofs("left")
    xs = V.dof_coordinates[left]
    assert np.allclose(xs[:, 0], 0.0) and left.size == 9 * 3
    only_x = V.boundary_dofs("left", component=0)
    assert only_x.size == 9 and np.all(only_x % 3 == 0)
    # boundary dofs match a geometric search on the dof coordinates and dolfinx's own locator
    import dolfinx.fem

    S = FunctionSpace(unit_square(7), "P", 2)
    found = S.boundary_dofs("top")
    expected = np.flatnonzero(np.isclose(S.dof_coordinates[:, 1], 1.0))
    np.testing.assert_array_equal(found, expected)
    located = dolfinx.fem.locate_dofs_geometrical(S.dolfinx_space, lambda x: np.isclose(x[1], 1.0))
    np.testing.assert_array_equal(found, np.sort(located))


def test_bad_input() -> None:
    mesh = unit_square(2)
    with pytest.raises(ValueError, match="unknown element family"):
        FunctionSpace(mesh, "Nedelec")
    with pytest.raises(ValueError, match="degree"):
        FunctionSpace(mesh, "P", 4)
    V = FunctionSpace(mesh, "P", 1)
    with pytest.raises(KeyError, match="no marker 'inlet'"):
        dirichlet(V, "inlet")
    with pytest.raises(ValueError, match="dof values"):
        V.function(torch.ones(2))
    with pytest.raises(TypeError, match=r"ufl\.Form"):
        assemble("u*v*dx")


@pytest.mark.parametrize(("degree", "l2_rate", "h1_rate"), [(1, 2.0, 1.0), (2, 3.0, 2.0)])
def test_convergence_rates_on_l_shaped_mesh_from_gmsh(
    degree: int, l2_rate: float, h1_rate: float
) -> None:
    pytest.importorskip("gmsh")
    from pathlib import Path

    from sciml.mesh import load, refinement_hierarchy

    coarse = load(Path(__file__).resolve().parents[2] / "meshes" / "l_shape_0.msh")
    errors, hs = [], []
    for mesh in refinement_hierarchy(coarse, 2):
        V = FunctionSpace(mesh, "P", degree)
        u = solve_poisson(V, "lift")
        errors.append((error_norm(V, u, manufactured, "L2"), error_norm(V, u, manufactured, "H1")))
        hs.append(mesh.h())
    e = np.array(errors)
    assert np.polyfit(np.log(hs), np.log(e[:, 0]), 1)[0] == pytest.approx(l2_rate, abs=0.1)
    assert np.polyfit(np.log(hs), np.log(e[:, 1]), 1)[0] == pytest.approx(h1_rate, abs=0.1)
