"""Fields on finite-element spaces to and from files.

* :func:`write_fields` -- for ParaView: XDMF (``.xdmf``) or ADIOS2 VTX (``.bp``).
* :func:`save_fields` / :func:`load_fields` -- HDF5 holding the mesh, the space description and
  the dof values, readable without the original mesh file.

Every writer works in a temporary location and renames the finished file(s) into place, so an
interrupted call never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sciml._files import atomic_output
from sciml._optional import require_dolfinx
from sciml.fem.space import FunctionSpace, _as_numpy
from sciml.mesh import Marker, Mesh

__all__ = ["load_fields", "match_dofs", "match_nodes", "save_fields", "write_fields"]

FORMAT = "sciml.fem.fields/1"


def _as_series(V: FunctionSpace, values: Any) -> npt.NDArray[np.float64]:
    """Fields as ``(nsteps, num_dofs)``."""
    array = _as_numpy(values)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != V.num_dofs:
        raise ValueError(
            f"a field must have shape ({V.num_dofs},) or (steps, {V.num_dofs}), got {array.shape}"
        )
    return array


def write_fields(
    path: str | os.PathLike[str],
    V: FunctionSpace,
    fields: Mapping[str, torch.Tensor | npt.ArrayLike],
) -> Path:
    """Write one or many fields on ``V`` for ParaView.

    Parameters
    ----------
    path : str or path-like
        ``.xdmf`` (XDMF + HDF5; P2 fields are interpolated to P1 on the mesh vertices, as XDMF
        stores fields at the mesh nodes) or ``.bp`` (ADIOS2 VTX folder, keeps P2 exactly).
    V : FunctionSpace
    fields : mapping of str to tensor
        Name -> dof values ``(num_dofs,)``, or a series ``(steps, num_dofs)`` written as time
        steps ``0, 1, ...`` (e.g. the samples of a dataset). All series must have the same length.

    Returns
    -------
    pathlib.Path
        The written file (or folder for ``.bp``).
    """
    dolfinx = require_dolfinx("sciml.fem.write_fields")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xdmf", ".bp"):
        raise ValueError(f"write_fields writes .xdmf or .bp, got {path}")
    if not fields:
        raise ValueError("no fields to write")
    series = {name: _as_series(V, values) for name, values in fields.items()}
    steps = {a.shape[0] for a in series.values()}
    if len(steps) != 1:
        raise ValueError(f"all fields need the same number of steps, got {sorted(steps)}")
    nsteps = steps.pop()
    target = V
    if suffix == ".xdmf" and V.degree > 1:
        target = FunctionSpace(V.mesh, "P", 1, V.shape)
    functions = {}
    for name in series:
        fn = dolfinx.fem.Function(target.dolfinx_space, name=name)
        functions[name] = fn
    source = V.function()
    comm = V.mesh.comm

    def fill(step: int) -> None:
        for name, fn in functions.items():
            source.x.array[: V.num_dofs] = series[name][step]
            source.x.scatter_forward()
            fn.interpolate(source)

    with atomic_output(path, comm) as tmp:
        if suffix == ".xdmf":
            with dolfinx.io.XDMFFile(comm, str(tmp), "w") as xdmf:
                xdmf.write_mesh(V.mesh.dolfinx_mesh)
                for step in range(nsteps):
                    fill(step)
                    for fn in functions.values():
                        xdmf.write_function(fn, float(step))
        else:
            writer = dolfinx.io.VTXWriter(comm, str(tmp), list(functions.values()), engine="BP4")
            try:
                for step in range(nsteps):
                    fill(step)
                    writer.write(float(step))
            finally:
                writer.close()
    return path


def save_fields(
    path: str | os.PathLike[str],
    V: FunctionSpace,
    fields: Mapping[str, torch.Tensor | npt.ArrayLike],
    *,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Save fields with the mesh and the space description to one HDF5 file (serial).

    Parameters
    ----------
    path : str or path-like
        Target ``.h5`` file; written to a temporary name and renamed.
    V : FunctionSpace
    fields : mapping of str to tensor
        Name -> ``(num_dofs,)`` or ``(nsamples, num_dofs)``.
    attrs : mapping, optional
        Extra attributes stored on the file (numbers and strings).

    Returns
    -------
    pathlib.Path
    """
    import h5py

    from sciml import __version__

    if V.mesh.comm.size != 1:
        raise NotImplementedError("save_fields is serial; gather the fields on one process")
    path = Path(path)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = FORMAT
        h5.attrs["sciml_version"] = __version__
        for key, value in (attrs or {}).items():
            h5.attrs[key] = value
        mesh = h5.create_group("mesh")
        mesh.attrs["cell_type"] = V.mesh.cell_type
        mesh.attrs["gdim"] = V.mesh.gdim
        mesh.create_dataset("coordinates", data=V.mesh.coordinates)
        mesh.create_dataset("cells", data=V.mesh.cells)
        markers = mesh.create_group("markers")
        vertices = _marker_vertices(V.mesh)
        for name, (dim, verts) in vertices.items():
            ds = markers.create_dataset(name, data=verts)
            ds.attrs["dim"] = dim
        space = h5.create_group("space")
        space.attrs["family"] = V.family
        space.attrs["degree"] = V.degree
        space.attrs["block_size"] = V.block_size
        space.attrs["shape"] = np.asarray(V.shape if V.shape is not None else [], dtype=int)
        space.create_dataset("dof_coordinates", data=V.dof_coordinates)
        group = h5.create_group("fields")
        for name, values in fields.items():
            array = _as_numpy(values)
            if array.shape[-1] != V.num_dofs or array.ndim not in (1, 2):
                raise ValueError(
                    f"field {name!r} has shape {array.shape}; expected (..., {V.num_dofs})"
                )
            group.create_dataset(name, data=array)
    return path


def _marker_vertices(mesh: Mesh) -> dict[str, tuple[int, npt.NDArray[np.int64]]]:
    """Each marker as the geometry-node lists of its entities (portable across renumbering)."""
    dolfinx = require_dolfinx("sciml.fem.save_fields")
    out = {}
    msh = mesh.dolfinx_mesh
    tdim = msh.topology.dim
    for name, marker in mesh.markers.items():
        if marker.dim < tdim:  # entities_to_geometry needs entity -> cell connectivity
            msh.topology.create_connectivity(marker.dim, tdim)
        nodes = dolfinx.mesh.entities_to_geometry(msh, marker.dim, marker.entities)
        out[name] = (marker.dim, np.asarray(nodes, dtype=np.int64))
    return out


def load_fields(path: str | os.PathLike[str]) -> tuple[FunctionSpace, dict[str, torch.Tensor]]:
    """Load a file written by :func:`save_fields`: rebuild the mesh and space, return fields.

    The dof values are matched to the rebuilt space through their coordinates, so they are
    correct even if dolfinx numbers the dofs differently in this session.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    FunctionSpace
        The rebuilt space (on ``COMM_SELF``).
    dict of str to torch.Tensor
        The fields, in the new space's dof order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a sciml field file or is corrupt.
    """
    import h5py

    dolfinx = require_dolfinx("sciml.fem.load_fields")
    import basix.ufl
    from mpi4py import MPI

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"field file not found: {path}")
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("format") != FORMAT:
                raise ValueError(f"{path} is not a sciml field file (format {FORMAT!r} missing)")
            coords = h5["mesh/coordinates"][()]
            cells = h5["mesh/cells"][()]
            cell_type = str(h5["mesh"].attrs["cell_type"])
            gdim = int(h5["mesh"].attrs["gdim"])
            marker_nodes = {
                name: (int(ds.attrs["dim"]), ds[()]) for name, ds in h5["mesh/markers"].items()
            }
            family = str(h5["space"].attrs["family"])
            degree = int(h5["space"].attrs["degree"])
            shape_attr = tuple(int(s) for s in h5["space"].attrs["shape"])
            dof_coords = h5["space/dof_coordinates"][()]
            fields = {name: ds[()] for name, ds in h5["fields"].items()}
    except (OSError, KeyError) as error:
        raise ValueError(f"{path} is corrupt or incomplete: {error}") from error
    element = basix.ufl.element("Lagrange", cell_type, 1, shape=(gdim,))
    msh = dolfinx.mesh.create_mesh(MPI.COMM_SELF, cells.astype(np.int64), element, coords)
    tdim = msh.topology.dim
    msh.topology.create_entities(tdim - 1)
    msh.topology.create_connectivity(tdim - 1, tdim)
    markers = _rebuild_markers(msh, coords, marker_nodes)
    V = FunctionSpace(Mesh(msh, markers), family, degree, shape_attr or None)
    try:
        perm = _match_points(dof_coords, V.dof_coordinates, V.block_size)
    except ValueError as error:
        raise ValueError(f"{path}: stored dofs do not match the rebuilt space") from error
    return V, {
        name: torch.from_numpy(np.ascontiguousarray(a[..., perm])) for name, a in fields.items()
    }


def _match_points(
    source: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    bs: int,
    *,
    rtol: float = 1e-10,
) -> npt.NDArray[np.int64]:
    """``perm`` with ``target[j] == source[perm[j]]`` (nodes matched by coordinates)."""
    from scipy.spatial import cKDTree

    if source.shape != target.shape:
        raise ValueError(f"{source.shape[0]} dofs against {target.shape[0]}")
    dist, index = cKDTree(source[::bs]).query(target[::bs])
    scale = float(np.ptp(source, axis=0).max()) if source.size else 1.0
    if dist.size and float(dist.max()) > rtol * max(scale, 1e-300):
        raise ValueError(f"dof coordinates differ by up to {float(dist.max()):.3g}")
    if np.unique(index).size != index.size:
        raise ValueError("several dofs of one space sit at the same point of the other")
    return np.asarray((index[:, None] * bs + np.arange(bs)).reshape(-1), dtype=np.int64)


def match_dofs(source: FunctionSpace, target: FunctionSpace) -> npt.NDArray[np.int64]:
    """The permutation between two numberings of the same space, matched by coordinates.

    dolfinx may number the dofs of one mesh differently when the mesh is created another way
    (read from a ``.msh`` file, or rebuilt from a file of :func:`save_fields`). For values
    ``x`` in ``source``'s dof order, ``x[..., match_dofs(source, target)]`` are the same
    values in ``target``'s order.

    Parameters
    ----------
    source, target : FunctionSpace
        The same element on meshes with the same nodes.

    Returns
    -------
    numpy.ndarray
        ``perm`` of length ``target.num_dofs``: ``target`` dof ``j`` is ``source`` dof
        ``perm[j]``.

    Raises
    ------
    ValueError
        If the spaces differ (number of dofs, block size, or dof positions).
    """
    if source.block_size != target.block_size:
        raise ValueError(f"block sizes differ: {source.block_size} and {target.block_size}")
    try:
        return _match_points(source.dof_coordinates, target.dof_coordinates, source.block_size)
    except ValueError as error:
        raise ValueError(f"the spaces do not have the same dofs: {error}") from error


def match_nodes(
    nodes: npt.ArrayLike, space: FunctionSpace, *, rtol: float = 1e-10
) -> npt.NDArray[np.int64]:
    """The permutation from per-node values of an external code to the dof order of a space.

    Solvers outside sciml write results per mesh node, in the node order of their mesh file;
    a :class:`FunctionSpace` on the same mesh numbers its dofs as dolfinx does. For P1 (and,
    with a second-order mesh file, P2) spaces every dof sits at a node, and values
    ``u`` of shape ``(..., n_nodes)`` become dof vectors as ``u[..., match_nodes(nodes, V)]``.
    The match is by coordinates and is checked to be exact and one-to-one: a wrong order
    raises no error anywhere else (the shapes still agree).

    Parameters
    ----------
    nodes : array_like
        ``(n_nodes, d)`` node coordinates in the order of the data. Columns beyond the
        space's geometric dimension (gmsh's ``z = 0`` of a 2-D mesh) must be zero.
    space : FunctionSpace
        The space the values are wanted on. For a blocked (vector) space the result maps
        each dof block, i.e. node values of shape ``(..., n_nodes, bs)`` become
        ``u[..., perm, :].reshape(..., -1)``.
    rtol : float, default 1e-10
        Largest allowed distance between a node and its dof, relative to the mesh size.

    Returns
    -------
    numpy.ndarray
        ``perm`` of length ``space.num_dofs // space.block_size``: dof (block) ``j`` sits at
        node ``perm[j]``.

    Raises
    ------
    ValueError
        If the nodes are not the dof positions of the space (different number, extra nonzero
        coordinates, NaN/Inf, no node within the tolerance, or two dofs at one node).

    Examples
    --------
    >>> from sciml.mesh import unit_square
    >>> V = FunctionSpace(unit_square(2), "P", 1)
    >>> nodes = V.dof_coordinates[::-1]  # some other order
    >>> perm = match_nodes(nodes, V)
    >>> bool((nodes[perm] == V.dof_coordinates).all())
    True
    """
    points = np.asarray(nodes, dtype=np.float64)
    bs = space.block_size
    target = np.asarray(space.dof_coordinates, dtype=np.float64)[::bs]
    gdim = target.shape[1]
    if points.ndim != 2 or points.shape[1] < gdim:
        raise ValueError(f"nodes must have shape (n_nodes, d) with d >= {gdim}, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("nodes contain NaN or Inf")
    beyond = float(np.abs(points[:, gdim:]).max(initial=0.0))
    if beyond > 0.0:
        raise ValueError(
            f"nodes have nonzero coordinates beyond the space's {gdim} dimensions "
            f"(up to {beyond:.3g}): not the same mesh"
        )
    points = points[:, :gdim]
    if points.shape[0] != target.shape[0]:
        hint = (
            "; a P2 space has dofs at edge midpoints: map to P1 first and interpolate"
            if points.shape[0] < target.shape[0]
            else ""
        )
        raise ValueError(
            f"{points.shape[0]} nodes but the space has {target.shape[0]} dof positions{hint}"
        )
    try:
        perm = _match_points(points, target, 1, rtol=rtol)
    except ValueError as error:
        raise ValueError(f"the nodes are not the dof positions of the space: {error}") from error
    return perm


def _rebuild_markers(
    msh: Any, coords: npt.NDArray[np.float64], marker_nodes: dict[str, tuple[int, Any]]
) -> dict[str, Marker]:
    """Find the entities of the rebuilt mesh whose node coordinates match the stored ones."""
    dolfinx = require_dolfinx("sciml.fem.load_fields")
    markers = {}
    gdim = coords.shape[1]
    for name, (dim, nodes) in marker_nodes.items():
        msh.topology.create_entities(dim)
        n_local = msh.topology.index_map(dim).size_local
        all_entities = np.arange(n_local, dtype=np.int32)
        new_nodes = dolfinx.mesh.entities_to_geometry(msh, dim, all_entities)
        new_x = msh.geometry.x[:, :gdim]
        keys_new = {_key(new_x[row]): i for i, row in enumerate(new_nodes)}
        found = [keys_new.get(_key(coords[row])) for row in nodes]
        if any(f is None for f in found):
            raise ValueError(f"marker {name!r} could not be matched on the rebuilt mesh")
        markers[name] = Marker(dim, np.sort(np.asarray(found, dtype=np.int32)))
    return markers


def _key(points: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """An order-independent key of an entity: its sorted, rounded node coordinates."""
    rounded = np.round(points, 12)
    return tuple(rounded[np.lexsort(rounded.T[::-1])].ravel().tolist())
