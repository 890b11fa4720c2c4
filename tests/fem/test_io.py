"""Field files: ParaView output, HDF5 round trips, atomic writes and corrupt input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")
import h5py
import torch

from sciml.fem import (
    FunctionSpace,
    load_fields,
    match_dofs,
    match_nodes,
    save_fields,
    write_fields,
)
from sciml.mesh import unit_square


def quadratic(x: np.ndarray) -> np.ndarray:
    return x[0] ** 2 - x[1]


@pytest.mark.parametrize("suffix", [".xdmf", ".bp"])
def test_write_fields_for_paraview(tmp_path: Path, suffix: str) -> None:
    V = FunctionSpace(unit_square(4), "P", 2)
    u = V.interpolate(quadratic)
    out = write_fields(
        tmp_path / f"u{suffix}", V, {"u": torch.stack([u, 2 * u]), "v": np.stack([u, u])}
    )
    assert out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"u{suffix}"] + (["u.h5"] if suffix == ".xdmf" else [])
    )
    if suffix == ".xdmf":
        text = out.read_text()
        assert 'Name="u"' in text and 'Name="v"' in text and text.count("<Time") >= 2
    with pytest.raises(ValueError, match="shape"):
        write_fields(tmp_path / "bad.xdmf", V, {"u": torch.ones(3)})


def test_hdf5_round_trip_keeps_values_markers_and_attrs(tmp_path: Path) -> None:
    mesh = unit_square(5).mark("hole", lambda x: x[0] < 0.41, dim=2)
    V = FunctionSpace(mesh, "P", 2, shape=(2,))
    u = V.interpolate(lambda x: np.stack([quadratic(x), x[0] * x[1]]))
    samples = torch.stack([u, -u, 3 * u])
    path = save_fields(tmp_path / "data.h5", V, {"u": u, "samples": samples}, attrs={"pde": "test"})
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]
    with h5py.File(path) as h5:
        assert h5.attrs["pde"] == "test"
    W, fields = load_fields(path)
    assert W.num_dofs == V.num_dofs and W.degree == 2 and W.block_size == 2
    expected = W.interpolate(lambda x: np.stack([quadratic(x), x[0] * x[1]]))
    torch.testing.assert_close(fields["u"], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(fields["samples"][1], -expected, rtol=0, atol=1e-12)
    assert set(W.mesh.markers) == set(mesh.markers)
    assert W.mesh.measure("hole") == pytest.approx(mesh.measure("hole"))
    assert W.mesh.measure("left") == pytest.approx(1.0)


def test_corrupt_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_fields(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="corrupt"):
        load_fields(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1, 2]
    with pytest.raises(ValueError, match="not a sciml field file"):
        load_fields(other)
    V = FunctionSpace(unit_square(2), "P", 1)
    with pytest.raises(ValueError, match="expected"):
        save_fields(tmp_path / "bad.h5", V, {"u": torch.ones(5)})
    assert not (tmp_path / "bad.h5").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_hdf5_round_trip_of_a_freshly_refined_mesh(tmp_path: Path) -> None:
    """A refined mesh has no facet-cell connectivity yet: saving must create it."""
    V = FunctionSpace(unit_square(3).refine(), "P", 1)
    x = V.dof_coordinates
    u = torch.from_numpy(x[:, 0] + 10.0 * x[:, 1])
    W, fields = load_fields(save_fields(tmp_path / "refined.h5", V, {"u": u}))
    y = W.dof_coordinates
    np.testing.assert_allclose(fields["u"].numpy(), y[:, 0] + 10.0 * y[:, 1], atol=1e-13)
    assert set(W.mesh.markers) == set(V.mesh.markers)


def test_match_dofs_maps_values_between_numberings(tmp_path: Path) -> None:
    from sciml.data.generators.fe_poisson import mesh_path
    from sciml.mesh import load

    for V in (
        FunctionSpace(load(mesh_path("plate_with_holes", 0)), "P", 1),
        FunctionSpace(unit_square(4), "P", 2, shape=(2,)),
    ):
        x = V.dof_coordinates
        values = torch.from_numpy(np.sin(3.0 * x[:, 0] - 2.0 * x[:, 1]) + np.arange(len(x)))
        rebuilt, fields = load_fields(save_fields(tmp_path / "f.h5", V, {"v": values}))
        perm = match_dofs(V, rebuilt)
        torch.testing.assert_close(values[perm], fields["v"], rtol=0, atol=0)
        np.testing.assert_allclose(V.dof_coordinates[perm], rebuilt.dof_coordinates, atol=1e-14)
        assert sorted(perm.tolist()) == list(range(V.num_dofs))
    with pytest.raises(ValueError, match="same dofs"):
        match_dofs(FunctionSpace(unit_square(4), "P", 1), FunctionSpace(unit_square(5), "P", 1))
    with pytest.raises(ValueError, match="block sizes"):
        match_dofs(
            FunctionSpace(unit_square(4), "P", 1), FunctionSpace(unit_square(4), "P", 1, shape=(2,))
        )


def test_match_nodes_brings_per_node_values_of_a_mesh_file_into_dof_order() -> None:
    gmsh = pytest.importorskip("gmsh")
    from sciml.data.generators.fe_poisson import mesh_path
    from sciml.mesh import load

    path = mesh_path("plate_with_holes", 0)
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.open(str(path))
        tags, xyz, _ = gmsh.model.mesh.getNodes()
    finally:
        gmsh.finalize()
    nodes = xyz.reshape(-1, 3)[np.argsort(tags)]  # (n_nodes, 3), z = 0: as an external code has

    def f(x: np.ndarray) -> np.ndarray:
        return np.sin(3.0 * x[:, 0]) + x[:, 1] ** 2

    V = FunctionSpace(load(path), "P", 1)
    perm = match_nodes(nodes, V)
    assert sorted(perm.tolist()) == list(range(V.num_dofs))
    assert not np.array_equal(perm, np.arange(V.num_dofs))  # dolfinx did renumber
    np.testing.assert_allclose(f(nodes)[perm], f(V.dof_coordinates), atol=1e-14)
    # a vector space: one permutation per dof block
    W = FunctionSpace(V.mesh, "P", 1, shape=(2,))
    node_values = np.stack([f(nodes), -f(nodes)], axis=-1)  # (n_nodes, 2)
    dofs = node_values[match_nodes(nodes, W)].reshape(-1)
    x = W.dof_coordinates[::2]
    np.testing.assert_allclose(dofs, np.stack([f(x), -f(x)], axis=-1).reshape(-1), atol=1e-14)

    with pytest.raises(ValueError, match="edge midpoints"):
        match_nodes(nodes, FunctionSpace(V.mesh, "P", 2))
    lifted = nodes.copy()
    lifted[0, 2] = 1e-3
    with pytest.raises(ValueError, match="nonzero coordinates beyond"):
        match_nodes(lifted, V)
    shifted = nodes + np.array([1e-6, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"not the dof positions.*differ by up to"):
        match_nodes(shifted, V)
    doubled = nodes.copy()
    doubled[1] = doubled[0]
    with pytest.raises(ValueError, match="not the dof positions"):
        match_nodes(doubled, V)
    broken = nodes.copy()
    broken[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        match_nodes(broken, V)
    with pytest.raises(ValueError, match="shape"):
        match_nodes(nodes[:, 0], V)
