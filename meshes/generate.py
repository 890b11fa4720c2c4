"""Generate the shared gmsh meshes of ``sciml`` (``meshes/<name>_<level>.msh``).

Each geometry is built with gmsh's Python API by a function ``build_<name>(h)`` that
creates the model (geometry, physical groups, mesh size fields) in the current gmsh
session; :func:`write_mesh` meshes it and saves it as a binary MSH 4.1 file.  Two
refinement levels are written per geometry: level 0 with the reference size ``h`` and
level 1 with ``h / 2`` (about 4x the triangles in 2D, 6-8x the tetrahedra in 3D).

All meshes are linear (3-node triangles in 2D, 4-node tetrahedra in 3D).  The cells are
in the physical group ``"domain"`` (tag 1); the boundary groups have tags 2, 3, ... in
the order listed in :data:`GEOMETRIES`.

Regenerate everything (from the repository root)::

    .venv/bin/python meshes/generate.py

or one geometry into another folder::

    .venv/bin/python meshes/generate.py --only annulus --out /tmp/meshes
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import gmsh
import numpy as np

# NACA 4-digit thickness coefficients with the closed-trailing-edge last coefficient.
NACA_COEFFS: tuple[float, ...] = (0.2969, -0.1260, -0.3516, 0.2843, -0.1036)
NACA_THICKNESS = 0.12  # NACA 0012: 12 % of the chord
NACA_ANGLE_DEG = 5.0  # angle of attack (nose up, i.e. the trailing edge goes down)
NACA_POINTS_PER_SIDE = 81  # spline points per surface (leading and trailing edge shared)

PLATE_HOLES: tuple[tuple[float, float, float], ...] = (
    (0.5, 0.5, 0.15),
    (1.0, 0.3, 0.10),
    (1.5, 0.6, 0.12),
)

_EPS = 1e-5  # OCC bounding boxes are enlarged by the tolerance (~1e-7)


def naca_half_thickness(x: np.ndarray, t: float = NACA_THICKNESS) -> np.ndarray:
    """Half thickness ``y_t(x)`` of a symmetric NACA 4-digit airfoil of chord 1.

    ``y_t = 5 t (0.2969 sqrt(x) - 0.1260 x - 0.3516 x^2 + 0.2843 x^3 - 0.1036 x^4)``;
    with the ``-0.1036`` coefficient ``y_t(1) = 0`` (closed trailing edge).
    """
    a0, a1, a2, a3, a4 = NACA_COEFFS
    x = np.asarray(x, dtype=float)
    return 5.0 * t * (a0 * np.sqrt(x) + a1 * x + a2 * x**2 + a3 * x**3 + a4 * x**4)


def _set_options() -> None:
    """Fixed gmsh options so that the output is deterministic and quiet."""
    gmsh.option.setNumber("General.Verbosity", 1)  # errors only
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay (2D)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)  # Delaunay (3D, sequential)
    gmsh.option.setNumber("Mesh.ElementOrder", 1)
    gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
    gmsh.option.setNumber("Mesh.Binary", 1)
    gmsh.option.setNumber("Mesh.SaveAll", 0)  # only the elements of physical groups


def _use_size_field(field: int) -> None:
    """Make ``field`` the only source of mesh sizes."""
    gmsh.model.mesh.field.setAsBackgroundMesh(field)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)


def _uniform_size(h: float) -> None:
    """Uniform mesh size ``h`` everywhere."""
    gmsh.option.setNumber("Mesh.MeshSizeMin", h)
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)


def _add_groups(dim: int, cells: Sequence[int], facets: dict[str, Sequence[int]]) -> None:
    """Physical group ``"domain"`` (tag 1) and the facet groups (tags 2, 3, ...)."""
    gmsh.model.addPhysicalGroup(dim, list(cells), tag=1, name="domain")
    for tag, (name, entities) in enumerate(facets.items(), start=2):
        if not entities:
            raise RuntimeError(f"physical group {name!r} is empty")
        gmsh.model.addPhysicalGroup(dim - 1, sorted(entities), tag=tag, name=name)


def _bbox(dim: int, tag: int) -> tuple[float, float, float, float, float, float]:
    """Bounding box ``(xmin, ymin, zmin, xmax, ymax, zmax)`` of entity ``(dim, tag)``."""
    return gmsh.model.getBoundingBox(dim, tag)


def build_l_shape(h: float) -> None:
    """L-shaped domain ``(-1, 1)^2`` minus ``[0, 1) x (-1, 0]``.

    Groups: ``"domain"`` (triangles), ``"boundary"`` (the six outer edges).

    Args:
        h: uniform mesh size.
    """
    gmsh.model.add("l_shape")
    corners = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]
    points = [gmsh.model.geo.addPoint(x, y, 0.0) for x, y in corners]
    lines = [gmsh.model.geo.addLine(points[i - 1], points[i]) for i in range(len(points))]
    loop = gmsh.model.geo.addCurveLoop(lines)
    surface = gmsh.model.geo.addPlaneSurface([loop])
    gmsh.model.geo.synchronize()
    _uniform_size(h)
    _add_groups(2, [surface], {"boundary": lines})


def build_plate_with_holes(h: float) -> None:
    """Rectangle ``[0, 2] x [0, 1]`` with three circular holes (:data:`PLATE_HOLES`).

    Groups: ``"domain"``, ``"left"`` (x=0), ``"right"`` (x=2), ``"top"`` (y=1),
    ``"bottom"`` (y=0), ``"holes"`` (the three circles).  The mesh size is ``h`` away
    from the holes and ``h / 2`` on them (linear growth over a distance of 0.25).

    Args:
        h: mesh size away from the holes.
    """
    gmsh.model.add("plate_with_holes")
    occ = gmsh.model.occ
    rect = occ.addRectangle(0.0, 0.0, 0.0, 2.0, 1.0)
    disks = [occ.addDisk(cx, cy, 0.0, r, r) for cx, cy, r in PLATE_HOLES]
    out, _ = occ.cut([(2, rect)], [(2, d) for d in disks])
    occ.synchronize()
    surfaces = [tag for dim, tag in out if dim == 2]
    groups: dict[str, list[int]] = {n: [] for n in ("left", "right", "top", "bottom", "holes")}
    for _, curve in gmsh.model.getBoundary(out, oriented=False):
        x0, y0, _, x1, y1, _ = _bbox(1, curve)
        if abs(x1 - x0) < _EPS and abs(x0) < _EPS:
            groups["left"].append(curve)
        elif abs(x1 - x0) < _EPS and abs(x0 - 2.0) < _EPS:
            groups["right"].append(curve)
        elif abs(y1 - y0) < _EPS and abs(y0 - 1.0) < _EPS:
            groups["top"].append(curve)
        elif abs(y1 - y0) < _EPS and abs(y0) < _EPS:
            groups["bottom"].append(curve)
        else:
            groups["holes"].append(curve)
    _add_groups(2, surfaces, groups)

    field = gmsh.model.mesh.field
    dist = field.add("Distance")
    field.setNumbers(dist, "CurvesList", sorted(groups["holes"]))
    field.setNumber(dist, "Sampling", 200)
    thr = field.add("Threshold")
    field.setNumber(thr, "InField", dist)
    field.setNumber(thr, "SizeMin", h / 2)
    field.setNumber(thr, "SizeMax", h)
    field.setNumber(thr, "DistMin", 0.0)
    field.setNumber(thr, "DistMax", 0.25)
    _use_size_field(thr)


def naca0012_points(n: int = NACA_POINTS_PER_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower surface points of the NACA 0012 airfoil at :data:`NACA_ANGLE_DEG`.

    Cosine spacing in ``x``; the chord is 1 with the leading edge at the origin, and the
    airfoil is rotated about the leading edge so that the trailing edge goes down.

    Returns:
        ``(upper, lower)``, arrays of shape ``(n, 2)``, both ordered from the leading edge
        (first row, the origin) to the trailing edge (last row).
    """
    x = 0.5 * (1.0 - np.cos(np.linspace(0.0, math.pi, n)))
    x[0], x[-1] = 0.0, 1.0
    yt = naca_half_thickness(x)
    yt[-1] = 0.0
    a = math.radians(NACA_ANGLE_DEG)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    upper = np.column_stack([x, yt]) @ rot.T
    lower = np.column_stack([x, -yt]) @ rot.T
    return upper, lower


def build_naca0012_channel(h: float) -> None:
    """NACA 0012 airfoil (chord 1, 5 degrees angle of attack) in the channel.

    The channel is ``[-2, 4] x [-1.5, 1.5]``; the airfoil (leading edge at the origin,
    closed trailing edge) is two splines through :data:`NACA_POINTS_PER_SIDE` points
    each.  Groups: ``"domain"``, ``"inlet"`` (x=-2), ``"outlet"`` (x=4), ``"walls"``
    (y=+-1.5), ``"airfoil"``.  Graded mesh: size ``h`` within 0.02 of the airfoil,
    growing linearly to ``11 h`` at distance 1; size ``h / 4`` at the
    leading edge (within 0.01), growing back to ``h`` at distance 0.1.

    Args:
        h: mesh size at the airfoil (the far-field size is ``11 h``).
    """
    gmsh.model.add("naca0012_channel")
    geo = gmsh.model.geo
    upper, lower = naca0012_points()
    le = geo.addPoint(0.0, 0.0, 0.0)
    te = geo.addPoint(upper[-1, 0], upper[-1, 1], 0.0)
    up_pts = [le] + [geo.addPoint(px, py, 0.0) for px, py in upper[1:-1]] + [te]
    lo_pts = [le] + [geo.addPoint(px, py, 0.0) for px, py in lower[1:-1]] + [te]
    up_curve = geo.addSpline(up_pts[::-1])  # trailing edge -> leading edge over the top
    lo_curve = geo.addSpline(lo_pts)  # leading edge -> trailing edge underneath
    airfoil_loop = geo.addCurveLoop([up_curve, lo_curve])

    corners = [(-2.0, -1.5), (4.0, -1.5), (4.0, 1.5), (-2.0, 1.5)]
    cp = [geo.addPoint(x, y, 0.0) for x, y in corners]
    bottom = geo.addLine(cp[0], cp[1])
    outlet = geo.addLine(cp[1], cp[2])
    top = geo.addLine(cp[2], cp[3])
    inlet = geo.addLine(cp[3], cp[0])
    outer_loop = geo.addCurveLoop([bottom, outlet, top, inlet])
    surface = geo.addPlaneSurface([outer_loop, airfoil_loop])
    geo.synchronize()
    _add_groups(
        2,
        [surface],
        {
            "inlet": [inlet],
            "outlet": [outlet],
            "walls": [bottom, top],
            "airfoil": [up_curve, lo_curve],
        },
    )

    field = gmsh.model.mesh.field
    dist = field.add("Distance")
    field.setNumbers(dist, "CurvesList", [up_curve, lo_curve])
    field.setNumber(dist, "Sampling", 400)
    thr = field.add("Threshold")
    field.setNumber(thr, "InField", dist)
    field.setNumber(thr, "SizeMin", h)
    field.setNumber(thr, "SizeMax", 11.0 * h)
    field.setNumber(thr, "DistMin", 0.02)
    field.setNumber(thr, "DistMax", 1.0)
    # the leading-edge radius is ~0.016: resolve the nose with size h / 4
    nose_dist = field.add("Distance")
    field.setNumbers(nose_dist, "PointsList", [le])
    nose = field.add("Threshold")
    field.setNumber(nose, "InField", nose_dist)
    field.setNumber(nose, "SizeMin", h / 4)
    field.setNumber(nose, "SizeMax", h)
    field.setNumber(nose, "DistMin", 0.01)
    field.setNumber(nose, "DistMax", 0.1)
    field.setNumber(nose, "StopAtDistMax", 1)  # no constraint farther away
    size = field.add("Min")
    field.setNumbers(size, "FieldsList", [thr, nose])
    _use_size_field(size)


def build_annulus(h: float) -> None:
    """Annulus ``0.5 < r < 1`` centred at the origin.

    Groups: ``"domain"``, ``"inner"`` (r=0.5), ``"outer"`` (r=1).  The mesh is linear:
    the boundary vertices lie on the circles.

    Args:
        h: uniform mesh size.
    """
    gmsh.model.add("annulus")
    occ = gmsh.model.occ
    outer = occ.addDisk(0.0, 0.0, 0.0, 1.0, 1.0)
    inner = occ.addDisk(0.0, 0.0, 0.0, 0.5, 0.5)
    out, _ = occ.cut([(2, outer)], [(2, inner)])
    occ.synchronize()
    groups: dict[str, list[int]] = {"inner": [], "outer": []}
    for _, curve in gmsh.model.getBoundary(out, oriented=False):
        x0, *_ = _bbox(1, curve)
        groups["inner" if x0 > -0.75 else "outer"].append(curve)
    _uniform_size(h)
    _add_groups(2, [tag for dim, tag in out if dim == 2], groups)


def build_box_with_cavity(h: float) -> None:
    """Unit cube ``[0, 1]^3`` minus the ball of radius 0.25 centred at ``(0.5, 0.5, 0.5)``.

    Groups: ``"domain"`` (tetrahedra), ``"outer"`` (the six cube faces), ``"cavity"``
    (the sphere).  The mesh size is ``h`` away from the cavity and ``h / 2`` on it
    (linear growth over a distance of 0.2).

    Args:
        h: mesh size away from the cavity.
    """
    gmsh.model.add("box_with_cavity")
    occ = gmsh.model.occ
    box = occ.addBox(0.0, 0.0, 0.0, 1.0, 1.0, 1.0)
    ball = occ.addSphere(0.5, 0.5, 0.5, 0.25)
    out, _ = occ.cut([(3, box)], [(3, ball)])
    occ.synchronize()
    groups: dict[str, list[int]] = {"outer": [], "cavity": []}
    for _, face in gmsh.model.getBoundary(out, oriented=False):
        x0, y0, z0, x1, y1, z1 = _bbox(2, face)
        flat = min(x1 - x0, y1 - y0, z1 - z0) < _EPS
        groups["outer" if flat else "cavity"].append(face)
    _add_groups(3, [tag for dim, tag in out if dim == 3], groups)

    field = gmsh.model.mesh.field
    dist = field.add("Distance")
    field.setNumbers(dist, "SurfacesList", sorted(groups["cavity"]))
    field.setNumber(dist, "Sampling", 100)
    thr = field.add("Threshold")
    field.setNumber(thr, "InField", dist)
    field.setNumber(thr, "SizeMin", h / 2)
    field.setNumber(thr, "SizeMax", h)
    field.setNumber(thr, "DistMin", 0.0)
    field.setNumber(thr, "DistMax", 0.2)
    _use_size_field(thr)


# name -> (builder, reference mesh size h of level 0)
GEOMETRIES: dict[str, tuple[Callable[[float], None], float]] = {
    "l_shape": (build_l_shape, 0.07),
    "plate_with_holes": (build_plate_with_holes, 0.05),
    "naca0012_channel": (build_naca0012_channel, 0.018),
    "annulus": (build_annulus, 0.06),
    "box_with_cavity": (build_box_with_cavity, 0.14),
}
LEVELS = (0, 1)


def write_mesh(name: str, level: int, path: Path) -> None:
    """Build geometry ``name`` at refinement ``level`` (size ``h0 / 2**level``), save it."""
    builder, h0 = GEOMETRIES[name]
    gmsh.initialize(readConfigFiles=False)
    try:
        _set_options()
        builder(h0 / 2**level)
        dim = gmsh.model.getDimension()
        gmsh.model.mesh.generate(dim)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write ``<name>_0.msh`` and ``<name>_1.msh`` for each geometry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(GEOMETRIES), help="one geometry only")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="output folder"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [args.only] if args.only else list(GEOMETRIES)
    for name in names:
        for level in LEVELS:
            path = args.out / f"{name}_{level}.msh"
            write_mesh(name, level, path)
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
