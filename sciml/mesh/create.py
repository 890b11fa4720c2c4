"""Structured meshes of intervals, rectangles and boxes, with their sides marked by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sciml._optional import require_dolfinx
from sciml.mesh.mesh import Marker, Mesh

__all__ = ["box", "interval", "rectangle", "unit_cube", "unit_interval", "unit_square"]

_SIDES = (("left", "right"), ("bottom", "top"), ("front", "back"))
_CELLS_2D = ("triangle", "quadrilateral")
_CELLS_3D = ("tetrahedron", "hexahedron")


def _comm(comm: Any) -> Any:
    if comm is None:
        from mpi4py import MPI

        return MPI.COMM_WORLD
    return comm


def _with_sides(msh: Any, lower: Sequence[float], upper: Sequence[float]) -> Mesh:
    """Mark every side of an axis-aligned domain and the whole boundary."""
    dolfinx = require_dolfinx("sciml.mesh")
    tdim = msh.topology.dim
    msh.topology.create_entities(tdim - 1)
    msh.topology.create_connectivity(tdim - 1, tdim)
    markers: dict[str, Marker] = {}
    extent = max(u - lo for lo, u in zip(lower, upper, strict=True))
    tol = 1e-10 * extent
    for axis in range(len(lower)):
        for name, value in zip(_SIDES[axis], (lower[axis], upper[axis]), strict=True):
            entities = dolfinx.mesh.locate_entities_boundary(
                msh, tdim - 1, lambda x, a=axis, v=value: np.abs(x[a] - v) < tol
            )
            markers[name] = Marker(tdim - 1, np.sort(entities).astype(np.int32))
    boundary = dolfinx.mesh.exterior_facet_indices(msh.topology)
    markers["boundary"] = Marker(tdim - 1, np.sort(boundary).astype(np.int32))
    return Mesh(msh, markers)


def interval(n: int, a: float = 0.0, b: float = 1.0, *, comm: Any = None) -> Mesh:
    """Uniform mesh of ``[a, b]`` with ``n`` cells; markers ``left``, ``right``, ``boundary``.

    Parameters
    ----------
    n : int
        Number of cells.
    a, b : float
        End points, ``a < b``.
    comm : mpi4py.MPI.Comm, optional
        Communicator (default ``COMM_WORLD``).

    Returns
    -------
    Mesh
    """
    dolfinx = require_dolfinx("sciml.mesh.interval")
    _check_counts([n])
    if not a < b:
        raise ValueError(f"need a < b, got a={a}, b={b}")
    msh = dolfinx.mesh.create_interval(_comm(comm), n, [a, b])
    return _with_sides(msh, [a], [b])


def unit_interval(n: int, *, comm: Any = None) -> Mesh:
    """Uniform mesh of ``[0, 1]`` with ``n`` cells (see :func:`interval`).

    Parameters
    ----------
    n : int
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    Mesh
    """
    return interval(n, 0.0, 1.0, comm=comm)


def rectangle(
    lower: Sequence[float],
    upper: Sequence[float],
    n: Sequence[int],
    *,
    cell: str = "triangle",
    comm: Any = None,
) -> Mesh:
    """Structured mesh of ``[x0, x1] x [y0, y1]``.

    Markers: ``left`` (x = x0), ``right``, ``bottom`` (y = y0), ``top`` and ``boundary``.

    Parameters
    ----------
    lower, upper : sequence of 2 floats
        Opposite corners.
    n : sequence of 2 ints
        Cells per direction.
    cell : {"triangle", "quadrilateral"}
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    Mesh
    """
    return _structured(lower, upper, n, cell, comm, _CELLS_2D, "sciml.mesh.rectangle")


def unit_square(
    nx: int, ny: int | None = None, *, cell: str = "triangle", comm: Any = None
) -> Mesh:
    """Structured mesh of the unit square (see :func:`rectangle`).

    Parameters
    ----------
    nx : int
        Cells in x.
    ny : int, optional
        Cells in y (default ``nx``).
    cell : {"triangle", "quadrilateral"}
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    Mesh
    """
    return rectangle((0.0, 0.0), (1.0, 1.0), (nx, nx if ny is None else ny), cell=cell, comm=comm)


def box(
    lower: Sequence[float],
    upper: Sequence[float],
    n: Sequence[int],
    *,
    cell: str = "tetrahedron",
    comm: Any = None,
) -> Mesh:
    """Structured mesh of an axis-aligned box.

    Markers: ``left``/``right`` (x), ``bottom``/``top`` (y), ``front``/``back`` (z) and
    ``boundary``.

    Parameters
    ----------
    lower, upper : sequence of 3 floats
        Opposite corners.
    n : sequence of 3 ints
        Cells per direction.
    cell : {"tetrahedron", "hexahedron"}
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    Mesh
    """
    return _structured(lower, upper, n, cell, comm, _CELLS_3D, "sciml.mesh.box")


def unit_cube(n: int, *, cell: str = "tetrahedron", comm: Any = None) -> Mesh:
    """Structured mesh of the unit cube with ``n`` cells per direction (see :func:`box`).

    Parameters
    ----------
    n : int
    cell : {"tetrahedron", "hexahedron"}
    comm : mpi4py.MPI.Comm, optional

    Returns
    -------
    Mesh
    """
    return box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (n, n, n), cell=cell, comm=comm)


def _structured(
    lower: Sequence[float],
    upper: Sequence[float],
    n: Sequence[int],
    cell: str,
    comm: Any,
    cells: tuple[str, str],
    what: str,
) -> Mesh:
    """Structured mesh of an axis-aligned rectangle (``len(lower) == 2``) or box (3)."""
    dolfinx = require_dolfinx(what)
    d = 2 if cells == _CELLS_2D else 3
    _check_box(lower, upper, n, d)
    if cell not in cells:
        raise ValueError(f"{d}-D cell must be one of {cells}, got {cell!r}")
    create = dolfinx.mesh.create_rectangle if d == 2 else dolfinx.mesh.create_box
    msh = create(
        _comm(comm),
        [np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)],
        [int(k) for k in n],
        getattr(dolfinx.mesh.CellType, cell),
    )
    return _with_sides(msh, lower, upper)


def _check_counts(n: Sequence[int]) -> None:
    for k in n:
        if int(k) != k or k < 1:
            raise ValueError(f"cell counts must be positive integers, got {list(n)}")


def _check_box(lower: Sequence[float], upper: Sequence[float], n: Sequence[int], d: int) -> None:
    if len(lower) != d or len(upper) != d or len(n) != d:
        raise ValueError(f"need {d} coordinates for each corner and {d} cell counts")
    _check_counts(n)
    for lo, up in zip(lower, upper, strict=True):
        if not lo < up:
            raise ValueError(f"lower corner {tuple(lower)} must be below upper {tuple(upper)}")
