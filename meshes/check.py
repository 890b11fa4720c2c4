"""Read every ``meshes/*.msh`` with dolfinx and compare its area/volume with the exact one.

Run from the repository root (also works under ``mpiexec -n N``)::

    .venv/bin/python meshes/check.py

For each file it checks that every boundary facet is tagged and every cell is in
``"domain"``, and prints the number of vertices and cells, the physical groups
(``name=tag/dim(number of facets)``), the measure of the mesh (``1 * dx`` assembled
with dolfinx), the exact measure of the geometry and the relative error.  The 2D meshes
are read with ``gdim=2``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import dolfinx_solver  # noqa: F401  (must be imported before dolfinx)

# isort: split
import dolfinx
import dolfinx.io.gmsh
import numpy as np
import ufl
from mpi4py import MPI

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import NACA_COEFFS, NACA_THICKNESS, PLATE_HOLES  # noqa: E402


def naca_area(chord: float = 1.0, t: float = NACA_THICKNESS, n: int = 20) -> float:
    """Exact area of a symmetric NACA 4-digit airfoil: ``2 * int_0^c y_t(x) dx``.

    With ``x = s^2`` the integrand ``2 y_t(s^2) 2 s`` is a polynomial of degree 9 in ``s``,
    so an ``n``-point Gauss-Legendre rule (``n >= 5``) is exact.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n)
    s = 0.5 * (nodes + 1.0)  # [0, 1]
    x = s**2
    a0, a1, a2, a3, a4 = NACA_COEFFS
    yt = 5.0 * t * (a0 * s + a1 * x + a2 * x**2 + a3 * x**3 + a4 * x**4)
    return float(chord**2 * np.sum(0.5 * weights * 2.0 * yt * 2.0 * s))


def exact_measure(name: str) -> float:
    """Exact area (2D) or volume (3D) of geometry ``name``."""
    if name == "l_shape":
        return 3.0
    if name == "plate_with_holes":
        return 2.0 - math.pi * sum(r**2 for _, _, r in PLATE_HOLES)
    if name == "naca0012_channel":
        return 6.0 * 3.0 - naca_area()
    if name == "annulus":
        return math.pi * (1.0 - 0.5**2)
    if name == "box_with_cavity":
        return 1.0 - 4.0 / 3.0 * math.pi * 0.25**3
    raise KeyError(name)


@dataclasses.dataclass
class Result:
    """What :func:`check` measures on one file."""

    file: str
    dim: int
    vertices: int
    cells: int
    groups: dict[str, dolfinx.io.gmsh.PhysicalGroup]
    facet_counts: dict[str, int]
    measure: float
    exact: float
    rel_error: float


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence the ``Info : Reading ...`` lines that gmsh (C++) prints to stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def check(path: Path) -> Result:
    """Read ``path`` (``<name>_<level>.msh``) and measure it."""
    name = path.stem.rsplit("_", 1)[0]
    gdim = 3 if name == "box_with_cavity" else 2
    with _quiet_stdout():
        data = dolfinx.io.gmsh.read_from_msh(path, MPI.COMM_WORLD, 0, gdim=gdim)
    mesh = data.mesh
    tdim = mesh.topology.dim
    assert data.cell_tags is not None and data.facet_tags is not None
    assert "domain" in data.physical_groups
    # every boundary facet is in exactly one boundary group, every cell in "domain"
    mesh.topology.create_connectivity(tdim - 1, tdim)
    exterior = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    assert np.array_equal(np.sort(data.facet_tags.indices), exterior), "untagged facets"
    assert np.all(data.cell_tags.values == data.physical_groups["domain"].tag)
    n_owned_facets = mesh.topology.index_map(tdim - 1).size_local
    owned_values = data.facet_tags.values[data.facet_tags.indices < n_owned_facets]
    n_vertices = mesh.topology.index_map(0).size_global
    n_cells = mesh.topology.index_map(tdim).size_global
    one = dolfinx.fem.form(1.0 * ufl.dx(domain=mesh))
    measure = mesh.comm.allreduce(dolfinx.fem.assemble_scalar(one), op=MPI.SUM)
    exact = exact_measure(name)
    return Result(
        file=path.name,
        dim=tdim,
        vertices=n_vertices,
        cells=n_cells,
        groups=data.physical_groups,
        facet_counts={
            k: mesh.comm.allreduce(int(np.sum(owned_values == g.tag)), op=MPI.SUM)
            for k, g in data.physical_groups.items()
            if g.dim == tdim - 1
        },
        measure=measure,
        exact=exact,
        rel_error=(measure - exact) / exact,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=HERE, help="folder of .msh files")
    args = parser.parse_args()
    paths = sorted(args.dir.glob("*.msh"))
    if not paths:
        raise SystemExit(f"no .msh files in {args.dir}")
    rank0 = MPI.COMM_WORLD.rank == 0
    log = print if rank0 else lambda *args, **kwargs: None
    log(f"NACA 0012 area (chord 1): {naca_area():.10f}")
    log(
        f"{'file':24s} {'dim':>3s} {'vertices':>8s} {'cells':>6s} {'measure':>11s} "
        f"{'exact':>11s} {'rel. error':>10s}  groups: name=tag/dim (number of facets)"
    )
    for path in paths:
        r = check(path)
        groups = " ".join(
            f"{k}={g.tag}/{g.dim}" + (f" ({r.facet_counts[k]})" if k in r.facet_counts else "")
            for k, g in r.groups.items()
        )
        log(
            f"{r.file:24s} {r.dim:3d} {r.vertices:8d} {r.cells:6d} {r.measure:11.8f} "
            f"{r.exact:11.8f} {r.rel_error:10.2e}  {groups}"
        )


if __name__ == "__main__":
    main()
