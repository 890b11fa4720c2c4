"""sciml.mesh: builders, markers, refinement, file I/O and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")

from sciml.mesh import (
    Mesh,
    box,
    interval,
    load,
    rectangle,
    refinement_hierarchy,
    save,
    unit_cube,
    unit_interval,
    unit_square,
)


@pytest.mark.parametrize("cell", ["triangle", "quadrilateral"])
def test_unit_square_sides_and_measures(cell: str) -> None:
    m = unit_square(6, 4, cell=cell)
    assert m.dim == m.gdim == 2 and m.cell_type == cell
    assert m.num_vertices == 7 * 5
    assert m.num_cells == (48 if cell == "triangle" else 24)
    assert m.measure() == pytest.approx(1.0)
    for side in ("left", "right", "bottom", "top"):
        assert m.measure(side) == pytest.approx(1.0)
    assert m.measure("boundary") == pytest.approx(4.0)
    assert m.coordinates.shape == (35, 2)
    assert m.cells.shape == (m.num_cells, 3 if cell == "triangle" else 4)


def test_rectangle_box_interval() -> None:
    r = rectangle((-1.0, 0.0), (2.0, 0.5), (6, 2))
    assert r.measure() == pytest.approx(1.5) and r.measure("left") == pytest.approx(0.5)
    b = box((0, 0, 0), (1, 2, 3), (2, 2, 2), cell="hexahedron")
    assert b.measure() == pytest.approx(6.0) and b.measure("front") == pytest.approx(2.0)
    assert unit_cube(2).measure("boundary") == pytest.approx(6.0)
    i = interval(10, -1.0, 1.0)
    assert i.measure() == pytest.approx(2.0) and i["left"].entities.size == 1
    assert unit_interval(3).num_cells == 3


def test_mark_and_missing_marker() -> None:
    m = unit_square(8)
    m2 = m.mark("corner", lambda x: (x[0] < 0.5 + 1e-12) & (x[1] < 0.5 + 1e-12), dim=2)
    assert "corner" not in m.markers  # immutable: the original is unchanged
    assert m2.measure("corner") == pytest.approx(0.25)
    with pytest.raises(KeyError, match=r"known markers: .*boundary"):
        m2["inlet"]
    with pytest.raises(TypeError):
        m2.markers["x"] = m2["corner"]  # type: ignore[index]


def test_refinement_is_nested_and_keeps_markers() -> None:
    meshes = refinement_hierarchy(unit_square(4), 2)
    assert [m.num_cells for m in meshes] == [32, 128, 512]
    for m in meshes:
        assert m.measure("top") == pytest.approx(1.0)
        assert m.measure("boundary") == pytest.approx(4.0)
    fine, parent = meshes[0].refine_with_parents()
    assert parent.shape == (fine.num_cells,) and np.bincount(parent).tolist() == [4] * 32
    assert meshes[1].h() == pytest.approx(meshes[0].h() / 2)


def test_xdmf_round_trip(tmp_path: Path) -> None:
    m = unit_square(5).mark("hole", lambda x: x[0] < 0.41, dim=2)
    path = save(m, tmp_path / "square.xdmf")
    assert path.exists() and path.with_suffix(".h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # the temporary folder is gone
    back = load(path)
    assert isinstance(back, Mesh) and back.num_cells == m.num_cells
    assert set(back.markers) == set(m.markers)
    assert back.measure("left") == pytest.approx(1.0)
    assert back.measure("hole") == pytest.approx(m.measure("hole"))


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load(tmp_path / "missing.msh")
    bad = tmp_path / "mesh.obj"
    bad.write_text("o cube\n")
    with pytest.raises(ValueError, match="unknown mesh format"):
        load(bad)
    corrupt = tmp_path / "broken.xdmf"
    corrupt.write_text("<Xdmf><Domain><Grid")
    with pytest.raises(ValueError, match="not a valid XDMF"):
        load(corrupt)
    with pytest.raises(ValueError, match="cell must be one of"):
        unit_square(2, cell="hexahedron")
    with pytest.raises(ValueError, match="positive integers"):
        unit_square(0)
    with pytest.raises(ValueError, match="below upper"):
        rectangle((1, 0), (0, 1), (2, 2))


MESHES = Path(__file__).resolve().parents[2] / "meshes"
EXACT_MEASURE = {
    "l_shape": (3.0, 1e-12),
    "plate_with_holes": (2.0 - np.pi * (0.15**2 + 0.1**2 + 0.12**2), 1e-3),
    "naca0012_channel": (18.0 - 0.081706, 1e-5),
    "annulus": (np.pi * (1.0 - 0.25), 1e-4),
    "box_with_cavity": (1.0 - 4.0 / 3.0 * np.pi * 0.25**3, 5e-3),
}
BOUNDARIES = {
    "l_shape": {"boundary"},
    "plate_with_holes": {"left", "right", "top", "bottom", "holes"},
    "naca0012_channel": {"inlet", "outlet", "walls", "airfoil"},
    "annulus": {"inner", "outer"},
    "box_with_cavity": {"outer", "cavity"},
}


@pytest.mark.parametrize("name", sorted(EXACT_MEASURE))
def test_shipped_meshes_load_with_their_markers(name: str) -> None:
    pytest.importorskip("gmsh")
    exact, tol = EXACT_MEASURE[name]
    errors = []
    for level in (0, 1):
        m = load(MESHES / f"{name}_{level}.msh")
        assert set(m.markers) == BOUNDARIES[name] | {"domain"}
        assert m.gdim == (3 if name == "box_with_cavity" else 2)
        errors.append(abs(m.measure() - exact) / exact)
        # the named boundaries cover the whole boundary exactly once
        total = sum(m[b].entities.size for b in BOUNDARIES[name])
        m_all = m.mark("all", lambda x: np.full(x.shape[1], True))
        assert total == m_all["all"].entities.size
    assert errors[1] <= tol and errors[1] <= errors[0] + 1e-14


def _square_msh(path: Path, groups: list[tuple[int, str]]) -> Path:
    """A unit square meshed by gmsh with the given (dimension, name) physical groups.

    Dimension 2 groups take the surface, dimension 1 groups the left edge (first) or the
    other three edges; an empty name leaves the group unnamed.
    """
    gmsh = pytest.importorskip("gmsh")
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.model.add("square")
        surface = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        edges = sorted(
            (gmsh.model.occ.getCenterOfMass(1, t)[0], t)
            for _, t in gmsh.model.getBoundary([(2, surface)], oriented=False)
        )
        left, others = [abs(edges[0][1])], [abs(t) for _, t in edges[1:]]
        used_left = False
        for dim, name in groups:
            if dim == 2:
                entities = [surface]
            else:
                entities, used_left = (others if used_left else left), True
            gmsh.model.addPhysicalGroup(dim, entities, name=name)
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def test_msh_unnamed_groups_are_named_after_their_tags(tmp_path: Path) -> None:
    path = _square_msh(tmp_path / "square.msh", [(2, ""), (1, ""), (1, "")])
    m = load(path)
    assert set(m.markers) == {"cells_1", "facets_2", "facets_3"}  # gmsh's physical tags
    assert m.measure("facets_2") == pytest.approx(1.0)  # the left edge
    assert m.measure("facets_3") == pytest.approx(3.0)  # the three others
    assert m.measure("cells_1") == pytest.approx(1.0)


def test_msh_group_problems_raise_value_errors(tmp_path: Path) -> None:
    no_cells = _square_msh(tmp_path / "edges_only.msh", [(1, "left")])
    with pytest.raises(ValueError, match=r"no physical group of 2-D cells.*addPhysicalGroup"):
        load(no_cells)
    twice = _square_msh(tmp_path / "twice.msh", [(2, "a"), (2, "b")])
    with pytest.raises(ValueError, match=r"dolfinx cannot build a mesh.*tagged once"):
        load(twice)
    same = _square_msh(tmp_path / "same.msh", [(2, "plate"), (1, "plate")])
    with pytest.raises(ValueError, match=r"both called 'plate'"):
        load(same)
