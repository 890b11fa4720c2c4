"""Finite-element dataset generators: Darcy flow (FNO benchmark) and diffusion on the shared meshes.

The data is checked against the equations by re-assembling each sample's system with
:mod:`sciml.fem` independently of the generators.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")
import torch
import ufl

from sciml.data.generators import fe_poisson
from sciml.data.generators._base import GENERATORS
from sciml.data.generators.darcy import _sample_seed, generate_darcy
from sciml.data.generators.fe_poisson import (
    boundary_markers,
    generate_poisson_meshes,
    mesh_path,
    solve_dirichlet,
)
from sciml.data.grf import periodic_grf
from sciml.fem import (
    FunctionSpace,
    apply_dirichlet,
    dirichlet,
    error_norm,
    load_vector,
    mass,
    stiffness,
)
from sciml.mesh import load, unit_square

RES = 20  # Darcy test resolution: 21 x 21 vertices, 361 unknowns (> the AMG coarse size)


def relative_residual(V: FunctionSpace, kappa, f, u, markers, g) -> float:
    """||A u - b|| / ||b|| of -div(kappa grad u) = f, u = g on the markers, assembled anew."""
    A = stiffness(V, kappa)
    b = load_vector(V, f)
    bc = dirichlet(V, markers, g)
    A_bc, b_bc = apply_dirichlet(A, b, bc)
    return float(torch.linalg.vector_norm(A_bc @ u - b_bc) / torch.linalg.vector_norm(b_bc))


def exterior_dofs(V: FunctionSpace) -> np.ndarray:
    """Dofs on the exterior facets of the mesh, found without the markers."""
    import dolfinx

    msh = V.mesh.dolfinx_mesh
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    facets = dolfinx.mesh.exterior_facet_indices(msh.topology)
    dofs = dolfinx.fem.locate_dofs_topological(V.dolfinx_space, tdim - 1, facets)
    return np.sort(dofs[dofs < V.num_dofs])


# ---------------------------------------------------------------------------------- Darcy
@pytest.fixture(scope="module")
def darcy():
    return generate_darcy(3, seed=3, resolution=RES)


@pytest.fixture(scope="module")
def darcy_space():
    return FunctionSpace(unit_square(RES), "Lagrange", 1)


def test_darcy_registered():
    assert GENERATORS["darcy"].fn is generate_darcy
    assert GENERATORS["poisson_meshes"].fn is generate_poisson_meshes


def test_darcy_shapes_and_dtypes(darcy):
    n = (RES + 1) ** 2
    assert darcy.n_samples == 3
    assert darcy.inputs["a"].shape == (3, n) and darcy.outputs["u"].shape == (3, n)
    assert darcy.inputs["a_grid"].shape == (3, RES + 1, RES + 1)
    assert darcy.outputs["u_grid"].shape == (3, RES + 1, RES + 1)
    assert darcy.coords["dof_coordinates"].shape == (n, 2)
    assert darcy.coords["x"].shape == darcy.coords["y"].shape == (RES + 1, RES + 1)
    for group in (darcy.inputs, darcy.outputs, darcy.coords):
        for value in group.values():
            assert value.dtype == torch.float64
            assert bool(torch.isfinite(value).all())


def test_darcy_satisfies_the_equation(darcy, darcy_space):
    V = darcy_space
    np.testing.assert_array_equal(V.dof_coordinates, darcy.coords["dof_coordinates"].numpy())
    for a, u in zip(darcy.inputs["a"], darcy.outputs["u"], strict=True):
        assert relative_residual(V, a, 1.0, u, "boundary", 0.0) <= 1e-8
        # the check is sharp: a wrong permeability or a perturbed solution fails it
        assert relative_residual(V, 15.0 - a, 1.0, u, "boundary", 0.0) > 1e-3
        assert relative_residual(V, a, 1.0, u * (1 + 1e-6), "boundary", 0.0) > 1e-8
    boundary = V.boundary_dofs("boundary")
    assert boundary.size == 4 * RES
    assert bool((darcy.outputs["u"][:, boundary] == 0).all())
    interior = np.setdiff1d(np.arange(V.num_dofs), boundary)
    assert bool((darcy.outputs["u"][:, interior] > 0).all())  # maximum principle, f = 1 > 0


def test_darcy_permeability_takes_two_values(darcy):
    a = darcy.inputs["a"]
    assert set(torch.unique(a).tolist()) == {3.0, 12.0}
    for sample in a:  # each sample is a genuine mixture, not a constant field
        assert set(torch.unique(sample).tolist()) == {3.0, 12.0}


def test_darcy_permeability_follows_the_recipe(darcy):
    # periodic GRF on [0, 2)^2 with 2 * RES points per side, mean removed, thresholded at 0
    for k in range(darcy.n_samples):
        field = periodic_grf(
            1, (2 * RES, 2 * RES), tau=3.0, gamma=2.0, length=2.0, seed=_sample_seed(3, k)
        )[0]
        xi = (field - field.mean())[: RES + 1, : RES + 1]
        expected = torch.where(xi >= 0, 12.0, 3.0).to(torch.float64)
        torch.testing.assert_close(darcy.inputs["a_grid"][k], expected, rtol=0, atol=0)


def test_darcy_grid_matches_dofs(darcy):
    xy = darcy.coords["dof_coordinates"].numpy()
    i = np.rint(xy[:, 0] * RES).astype(int)
    j = np.rint(xy[:, 1] * RES).astype(int)
    np.testing.assert_allclose(np.stack([i, j], axis=1) / RES, xy, atol=1e-12)
    np.testing.assert_allclose(darcy.coords["x"].numpy()[i, j], xy[:, 0], atol=1e-14)
    np.testing.assert_allclose(darcy.coords["y"].numpy()[i, j], xy[:, 1], atol=1e-14)
    for grid, dofs in (("a_grid", "a"), ("u_grid", "u")):
        group = darcy.inputs if grid in darcy.inputs else darcy.outputs
        assert torch.equal(group[grid][:, i, j], group[dofs])
    # the grid is laid out [sample, x index, y index]
    assert float(darcy.coords["x"][1, 0]) == pytest.approx(1 / RES)
    assert float(darcy.coords["y"][0, 1]) == pytest.approx(1 / RES)
    assert bool((darcy.outputs["u_grid"][:, 0, :] == 0).all())
    assert bool((darcy.outputs["u_grid"][:, :, -1] == 0).all())


def test_darcy_options_change_the_data(darcy, darcy_space):
    scaled = generate_darcy(1, seed=3, resolution=RES, source=2.0, a_high=24.0, a_low=6.0)
    # doubling f and the permeability leaves u unchanged; the fields are the same
    torch.testing.assert_close(scaled.inputs["a"][0], 2 * darcy.inputs["a"][0])
    torch.testing.assert_close(scaled.outputs["u"][0], darcy.outputs["u"][0], rtol=1e-8, atol=0)
    assert scaled.attrs["source"] == 2.0 and scaled.attrs["a_high"] == 24.0
    V = darcy_space
    a, u = scaled.inputs["a"][0], scaled.outputs["u"][0]
    assert relative_residual(V, a, 2.0, u, "boundary", 0.0) <= 1e-8


def test_darcy_reproducible(darcy):
    again = generate_darcy(3, seed=3, resolution=RES)
    for name in ("a", "a_grid"):
        assert torch.equal(again.inputs[name], darcy.inputs[name])
    for name in ("u", "u_grid"):
        assert torch.equal(again.outputs[name], darcy.outputs[name])
    other = generate_darcy(3, seed=4, resolution=RES)
    assert not torch.equal(other.inputs["a"], darcy.inputs["a"])
    assert not torch.equal(other.outputs["u"], darcy.outputs["u"])
    # sample k does not depend on n_samples; the progress bar changes nothing
    first = generate_darcy(1, seed=3, resolution=RES, progress=True)
    assert torch.equal(first.outputs["u"][0], darcy.outputs["u"][0])


def test_darcy_attrs(darcy):
    attrs = darcy.attrs
    assert attrs["generator"] == "darcy"
    assert "div" in attrs["pde"]
    expected = {"seed": 3, "resolution": RES, "tau": 3.0, "gamma": 2.0, "a_high": 12.0}
    assert {k: attrs[k] for k in expected} == expected
    assert attrs["a_low"] == 3.0 and attrs["source"] == 1.0 and attrs["n_samples"] == 3
    for value in attrs.values():
        assert isinstance(value, int | float | str)


@pytest.mark.parametrize(
    "options",
    [
        {"n_samples": 0},
        {"n_samples": 2.5},
        {"seed": -1},
        {"resolution": 1},
        {"resolution": 8.0},
        {"tau": 0.0},
        {"gamma": 1.0},
        {"gamma": math.inf},
        {"a_high": -12.0},
        {"a_low": 0.0},
        {"source": math.nan},
        {"source": "1"},
    ],
)
def test_darcy_bad_options(options):
    kwargs = {"n_samples": 1, "resolution": 4, **options}
    n_samples = kwargs.pop("n_samples")
    with pytest.raises(ValueError, match=next(iter(options))):
        generate_darcy(n_samples, **kwargs)


# ------------------------------------------------------------------------- poisson_meshes
@pytest.fixture(scope="module")
def annulus():
    return generate_poisson_meshes(3, seed=2, mesh="annulus")


@pytest.fixture(scope="module")
def annulus_space():
    return FunctionSpace(load(mesh_path("annulus", 0)), "Lagrange", 1)


def check_poisson(data, V: FunctionSpace) -> None:
    """Residuals, Dirichlet values and the boundary mask of a poisson_meshes dataset."""
    np.testing.assert_array_equal(V.dof_coordinates, data.coords["dof_coordinates"].numpy())
    markers = data.attrs["markers"].split(",")
    assert markers == boundary_markers(V.mesh)
    boundary = exterior_dofs(V)  # the markers cover the whole boundary
    mask = np.zeros(V.num_dofs, dtype=bool)
    mask[boundary] = True
    np.testing.assert_array_equal(data.coords["boundary_dofs"].numpy(), mask)
    kappa, f, g, u = (data.inputs["kappa"], data.inputs["f"], data.inputs["g"], data.outputs["u"])
    assert bool((u[:, mask] == g[:, mask]).all())  # exact Dirichlet values
    assert bool((g[:, ~mask] == 0).all())
    assert bool((g[:, mask] != 0).any())
    for k in range(data.n_samples):
        assert relative_residual(V, kappa[k], f[k], u[k], markers, g[k]) <= 1e-8
        # the check is sharp
        assert relative_residual(V, kappa[k], f[k], u[k] * (1 + 1e-6), markers, g[k]) > 1e-8
        assert relative_residual(V, 1.0, f[k], u[k], markers, g[k]) > 1e-3


def test_poisson_shapes_and_dtypes(annulus, annulus_space):
    n = annulus_space.num_dofs
    assert sorted(annulus.inputs) == ["f", "g", "kappa"] and list(annulus.outputs) == ["u"]
    for value in (*annulus.inputs.values(), *annulus.outputs.values()):
        assert value.shape == (3, n) and value.dtype == torch.float64
        assert bool(torch.isfinite(value).all())
    assert annulus.coords["dof_coordinates"].shape == (n, 2)
    assert annulus.coords["dof_coordinates"].dtype == torch.float64
    assert annulus.coords["boundary_dofs"].shape == (n,)
    assert annulus.coords["boundary_dofs"].dtype == torch.bool


def test_poisson_satisfies_the_equation(annulus, annulus_space):
    check_poisson(annulus, annulus_space)


def test_poisson_p2_on_plate_with_holes():
    data = generate_poisson_meshes(2, seed=5, degree=2)  # default geometry
    V = FunctionSpace(load(mesh_path("plate_with_holes", 0)), "Lagrange", 2)
    assert data.attrs["markers"] == "bottom,holes,left,right,top"
    assert data.attrs["degree"] == 2 and data.attrs["ndofs"] == V.num_dofs
    check_poisson(data, V)


def test_poisson_coefficient_range(annulus):
    kappa = annulus.inputs["kappa"]
    assert bool((kappa > 0).all())
    log_kappa = torch.log(kappa)
    assert 0.15 < float(log_kappa.std()) < 0.6
    assert float(kappa.min()) > 0.1 and float(kappa.max()) < 10
    inside = ((kappa > 0.3) & (kappa < 3)).double().mean()
    assert float(inside) > 0.97
    f_std = float(annulus.inputs["f"].std())
    assert 0.5 < f_std < 2.0
    # the three fields are independent draws, not copies of one another
    assert not torch.allclose(torch.log(kappa) / 2.5, annulus.inputs["f"] / 7.0)


def test_poisson_solver_converges_under_refinement():
    """Manufactured solution on the annulus, level 0 -> 1: the P1 L2 error drops about 4x."""

    def exact(x):
        return ufl.sin(2 * x[0]) * ufl.exp(x[1])

    def kappa(x):
        return 1 + 0.5 * x[0] * x[1]

    def source(x):  # -div(kappa grad u) for the exact solution above
        s, c, e = np.sin(2 * x[0]), np.cos(2 * x[0]), np.exp(x[1])
        return 3 * kappa(x) * s * e - x[1] * c * e - 0.5 * x[0] * s * e

    errors = []
    for level in (0, 1):
        V = FunctionSpace(load(mesh_path("annulus", level)), "Lagrange", 1)
        dofs = np.unique(np.concatenate([V.boundary_dofs(m) for m in ("inner", "outer")]))
        g = V.interpolate(lambda x: np.sin(2 * x[0]) * np.exp(x[1]))
        f = V.interpolate(source)
        u = solve_dirichlet(V, V.interpolate(kappa), mass(V) @ f, dofs, g[dofs])
        assert torch.equal(u[dofs], g[dofs])
        errors.append(error_norm(V, u, exact))
    assert errors[1] < errors[0] / 3, errors
    assert errors[1] < 2e-3, errors


def test_poisson_reproducible(annulus):
    again = generate_poisson_meshes(3, seed=2, mesh="annulus", progress=True)
    for name in ("kappa", "f", "g"):
        assert torch.equal(again.inputs[name], annulus.inputs[name])
    assert torch.equal(again.outputs["u"], annulus.outputs["u"])
    other = generate_poisson_meshes(3, seed=7, mesh="annulus")
    for name in ("kappa", "f", "g"):
        assert not torch.allclose(other.inputs[name], annulus.inputs[name])
    assert not torch.allclose(other.outputs["u"], annulus.outputs["u"])
    prefix = generate_poisson_meshes(2, seed=2, mesh="annulus")
    assert torch.equal(prefix.outputs["u"], annulus.outputs["u"][:2])


def test_poisson_attrs(annulus):
    attrs = annulus.attrs
    assert attrs["generator"] == "poisson_meshes"
    assert "kappa" in attrs["pde"]
    expected = {
        "seed": 2,
        "mesh": "annulus",
        "level": 0,
        "degree": 1,
        "kappa_sigma": 2.5,
        "f_sigma": 7.0,
        "g_sigma": 7.0,
        "tau": 3.0,
        "gamma": 2.0,
        "modes": 64,
        "markers": "inner,outer",
        "n_samples": 3,
    }
    assert {k: attrs[k] for k in expected} == expected
    for value in attrs.values():
        assert isinstance(value, int | float | str)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"mesh": "sphere"}, "unknown mesh"),
        ({"level": 2}, "level"),
        ({"level": 0.0}, "level"),
        ({"degree": 3}, "degree"),
        ({"kappa_sigma": -0.5}, "kappa_sigma"),
        ({"f_sigma": -1.0}, "f_sigma"),
        ({"g_sigma": math.nan}, "g_sigma"),
        ({"tau": 0}, "tau"),
        ({"modes": 0}, "modes"),
        ({"seed": -2}, "seed"),
    ],
)
def test_poisson_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        generate_poisson_meshes(1, **options)
    with pytest.raises(ValueError, match="n_samples"):
        generate_poisson_meshes(0)


def test_poisson_missing_meshes(monkeypatch, tmp_path):
    monkeypatch.setattr(fe_poisson, "MESHES", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="meshes folder"):
        generate_poisson_meshes(1)
    (tmp_path / "only_coarse_0.msh").write_text("")
    monkeypatch.setattr(fe_poisson, "MESHES", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"only_coarse_1\.msh"):
        generate_poisson_meshes(1, mesh="only_coarse", level=1)
    with pytest.raises(ValueError, match="only_coarse"):
        generate_poisson_meshes(1, mesh="annulus")


def test_poisson_fields_off_and_data_on_chosen_markers(annulus_space):
    """Problem B of SPON: kappa = 1, f = GRF + mean, g = 0; and g on one marker only."""
    V = annulus_space
    data = generate_poisson_meshes(2, seed=1, mesh="annulus", kappa_sigma=0, g_sigma=0, f_mean=1.0)
    assert bool((data.inputs["kappa"] == 1).all()) and bool((data.inputs["g"] == 0).all())
    assert abs(float(data.inputs["f"].mean()) - 1.0) < 0.5
    mask = data.coords["boundary_dofs"]
    assert bool((data.outputs["u"][:, mask] == 0).all())
    for k in range(2):
        f, u = data.inputs["f"][k], data.outputs["u"][k]
        assert relative_residual(V, 1.0, f, u, ["inner", "outer"], 0.0) <= 1e-8
    inner = generate_poisson_meshes(2, seed=1, mesh="annulus", dirichlet="inner")
    assert inner.attrs["dirichlet_data"] == "inner"
    g, u = inner.inputs["g"], inner.outputs["u"]
    outer = torch.from_numpy(np.setdiff1d(V.boundary_dofs("outer"), V.boundary_dofs("inner")))
    on_inner = torch.from_numpy(V.boundary_dofs("inner"))
    assert bool((g[:, outer] == 0).all()) and bool((u[:, outer] == 0).all())
    assert bool((g[:, on_inner] != 0).all()) and torch.equal(u[:, on_inner], g[:, on_inner])
    with pytest.raises(ValueError, match="boundary markers"):
        generate_poisson_meshes(1, mesh="annulus", dirichlet="holes")
    with pytest.raises(ValueError, match=">= 0"):
        generate_poisson_meshes(1, mesh="annulus", f_sigma=-1.0)


def test_diffusion_system_is_the_condensed_fe_problem():
    from sciml.data.generators.fe_poisson import diffusion_system
    from sciml.fem import stiffness
    from sciml.mesh import load

    mesh = load(mesh_path("annulus", 0))
    A, b, free, kappa = diffusion_system(mesh, seed=4)
    V = FunctionSpace(mesh, "Lagrange", 1)
    boundary = np.unique(np.concatenate([V.boundary_dofs(m) for m in boundary_markers(mesh)]))
    assert np.array_equal(free, np.setdiff1d(np.arange(V.num_dofs), boundary))
    assert A.shape == (free.size, free.size) and b.shape == (free.size,)
    assert bool((kappa > 0).all())
    index = torch.from_numpy(free)
    K = stiffness(V, kappa).submatrix(index, index).to_scipy()
    assert abs(A.to_scipy() - K).max() < 1e-12
    S = A.to_scipy().toarray()
    assert np.allclose(S, S.T) and np.linalg.eigvalsh(S).min() > 0  # SPD
    # the load is M f for a smooth f: never zero, and the same seed gives the same system
    assert float(b.abs().max()) > 0
    again = diffusion_system(mesh, seed=4)
    assert torch.equal(again[1], b) and torch.equal(again[3], kappa)
    assert not torch.equal(diffusion_system(mesh, seed=5)[3], kappa)


def test_kl_sample_from_a_seed_or_a_generator() -> None:
    from sciml.data.generators.fe_poisson import kl_sample

    rng = np.random.default_rng(0)
    amplitude, phi = np.array([1.0, 0.5]), rng.standard_normal((7, 2))
    once = kl_sample(amplitude, phi, 4, 2.0, 3)
    torch.testing.assert_close(once, kl_sample(amplitude, phi, 4, 2.0, 3))  # reproducible
    stream = np.random.default_rng(3)  # a generator continues its stream across calls
    both = torch.cat([kl_sample(amplitude, phi, 2, 2.0, stream) for _ in range(2)])
    torch.testing.assert_close(both, once)
    assert once.shape == (4, 7) and once.dtype == torch.float64
