"""Reading meshes from gmsh ``.msh`` and XDMF files, and writing them to XDMF."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from sciml._files import atomic_output
from sciml._optional import require_dolfinx
from sciml.mesh.mesh import Marker, Mesh

__all__ = ["load", "save"]

_MESH_NAME = "mesh"


def load(path: str | os.PathLike[str], *, comm: Any = None) -> Mesh:
    """Read a mesh with its named markers from a gmsh ``.msh`` or an XDMF file.

    For ``.msh`` files every physical group of cells or facets becomes a marker named as the
    group; a group without a name is called ``"cells_<tag>"`` or ``"facets_<tag>"`` after its
    gmsh tag (e.g. ``Physical Curve(3)`` becomes ``"facets_3"``). Only cells that belong to a
    physical group are part of the mesh, each to exactly one. Groups of lower dimension
    (points, and curves of a 3-D mesh) are ignored. The gmsh Python module is needed; it
    comes with sciml's ``fem`` extra. For ``.xdmf`` files written by :func:`save` every
    stored tag set becomes a marker.

    Parameters
    ----------
    path : str or path-like
        ``.msh`` or ``.xdmf`` file.
    comm : mpi4py.MPI.Comm, optional
        Communicator to distribute the mesh over (default ``COMM_WORLD``).

    Returns
    -------
    Mesh

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is neither ``.msh`` nor ``.xdmf``, the file cannot be parsed, a
        ``.msh`` file has no physical group of cells, tags a cell twice or leaves cells
        untagged, or two of its groups share a name.
    """
    require_dolfinx("sciml.mesh.load")
    from mpi4py import MPI

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    comm = MPI.COMM_WORLD if comm is None else comm
    suffix = path.suffix.lower()
    if suffix == ".msh":
        return _load_msh(path, comm)
    if suffix == ".xdmf":
        return _load_xdmf(path, comm)
    raise ValueError(f"unknown mesh format {path.suffix!r} for {path}; use .msh or .xdmf")


def _load_msh(path: Path, comm: Any) -> Mesh:
    try:
        import gmsh
    except ImportError as error:
        raise ImportError(
            "reading .msh files needs the gmsh Python module: pip install gmsh "
            "(included in sciml's `fem` extra)"
        ) from error
    from dolfinx.io import gmsh as gmshio

    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.model.add(f"sciml-{path.stem}")
        dim, problem = 0, ""
        names: dict[tuple[int, int], str] = {}
        if comm.rank == 0:
            try:
                gmsh.merge(str(path))
            except Exception as error:
                raise ValueError(f"gmsh could not read {path}: {error}") from error
            dim = gmsh.model.getDimension()
            names, problem = _group_names(gmsh.model, dim)
        dim, names, problem = comm.bcast((dim, names, problem), root=0)
        if problem:
            raise ValueError(f"{path}: {problem}")
        gdim = 3 if dim == 3 else 2 if dim == 2 else 1
        if dim == 2 and comm.rank == 0:
            z = gmsh.model.mesh.getNodes()[1].reshape(-1, 3)[:, 2]
            gdim = 2 if np.allclose(z, 0.0) else 3
        gdim = comm.bcast(gdim, root=0)
        try:
            data = gmshio.model_to_mesh(gmsh.model, comm, 0, gdim=gdim)
        except RuntimeError as error:  # e.g. cells tagged twice or not at all
            raise ValueError(f"dolfinx cannot build a mesh from {path}: {error}") from error
        gmsh.model.remove()
    finally:
        if started:
            gmsh.finalize()
    msh = data.mesh
    tdim = msh.topology.dim
    msh.topology.create_entities(tdim - 1)
    msh.topology.create_connectivity(tdim - 1, tdim)
    markers: dict[str, Marker] = {}
    for (group_dim, tag), name in names.items():
        tags = data.cell_tags if group_dim == tdim else data.facet_tags
        if tags is None:
            continue
        markers[name] = Marker(group_dim, np.sort(tags.find(tag)).astype(np.int32))
    return Mesh(msh, markers)


def _group_names(model: Any, dim: int) -> tuple[dict[tuple[int, int], str], str]:
    """Marker names of the cell and facet groups of a gmsh model, and what is wrong if any.

    Unnamed groups are named after their kind and tag; the problem string is empty when the
    groups are usable.
    """
    names: dict[tuple[int, int], str] = {}
    for group_dim, tag in model.getPhysicalGroups():
        if group_dim not in (dim, dim - 1):
            continue
        kind = "cells" if group_dim == dim else "facets"
        names[(group_dim, tag)] = model.getPhysicalName(group_dim, tag) or f"{kind}_{tag}"
    if not any(group_dim == dim for group_dim, _ in names):
        return names, (
            f"no physical group of {dim}-D cells; dolfinx builds the mesh from the cells in "
            f"physical groups only: add one, e.g. "
            f"gmsh.model.addPhysicalGroup({dim}, tags, name='domain')"
        )
    seen: dict[str, tuple[int, int]] = {}
    for key, name in names.items():
        if name in seen:
            return names, (
                f"physical groups {seen[name]} and {key} (dimension, tag) are both called "
                f"{name!r}; marker names must be unique"
            )
        seen[name] = key
    return names, ""


def _load_xdmf(path: Path, comm: Any) -> Mesh:
    from dolfinx.io import XDMFFile

    try:
        grids = [g.get("Name") for g in ET.parse(path).getroot().iter("Grid")]
    except ET.ParseError as error:
        raise ValueError(f"{path} is not a valid XDMF file: {error}") from error
    if _MESH_NAME not in grids:
        raise ValueError(f"{path} holds no grid named {_MESH_NAME!r} (found {grids})")
    with XDMFFile(comm, str(path), "r") as xdmf:
        msh = xdmf.read_mesh(name=_MESH_NAME)
        tdim = msh.topology.dim
        msh.topology.create_entities(tdim - 1)
        msh.topology.create_connectivity(tdim - 1, tdim)
        markers: dict[str, Marker] = {}
        for name in grids:
            if name is None or name == _MESH_NAME:
                continue
            tags = xdmf.read_meshtags(msh, name=name)
            markers[name] = Marker(tags.dim, np.sort(tags.find(1)).astype(np.int32))
    return Mesh(msh, markers)


def save(mesh: Mesh, path: str | os.PathLike[str]) -> Path:
    """Write a mesh and its markers to XDMF (``path`` and the ``.h5`` file beside it).

    Both files are written in a temporary folder and moved into place, so an interrupted call
    never leaves a half-written mesh under the final name. :func:`load` reads them back.

    Parameters
    ----------
    mesh : Mesh
    path : str or path-like
        Target ``.xdmf`` file.

    Returns
    -------
    pathlib.Path
        The written ``.xdmf`` file.
    """
    require_dolfinx("sciml.mesh.save")
    from dolfinx.io import XDMFFile

    path = Path(path)
    if path.suffix.lower() != ".xdmf":
        raise ValueError(f"save writes XDMF; the path must end in .xdmf, got {path}")
    with atomic_output(path, mesh.comm) as tmp, XDMFFile(mesh.comm, str(tmp), "w") as xdmf:
        mesh.dolfinx_mesh.name = _MESH_NAME
        xdmf.write_mesh(mesh.dolfinx_mesh)
        for name in sorted(mesh.markers):
            tags = mesh.meshtags(name)
            tags.name = name
            xdmf.write_meshtags(tags, mesh.dolfinx_mesh.geometry, geometry_xpath=_geometry_xpath())
    return path


def _geometry_xpath() -> str:
    return f"/Xdmf/Domain/Grid[@Name='{_MESH_NAME}']/Geometry"
