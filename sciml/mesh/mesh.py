"""The :class:`Mesh` value: a dolfinx mesh with named markers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from sciml._optional import require_dolfinx

__all__ = ["Marker", "Mesh"]

Predicate = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Marker:
    """A named set of mesh entities (cells, facets, ...).

    Attributes
    ----------
    dim : int
        Topological dimension of the entities (``mesh.dim`` for cells, ``mesh.dim - 1`` for
        facets).
    entities : numpy.ndarray
        Sorted local indices of the entities, ``int32``.
    """

    dim: int
    entities: npt.NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class Mesh:
    """An immutable mesh: a dolfinx mesh plus named markers.

    Build one with :func:`unit_square`, :func:`rectangle`, :func:`unit_cube`, :func:`box`,
    :func:`unit_interval` or :func:`load`; add markers with :meth:`mark`; refine with
    :meth:`refine`. Every operation returns a new :class:`Mesh`.

    Parameters
    ----------
    dolfinx_mesh : dolfinx.mesh.Mesh
        The underlying mesh (distributed when created on an MPI communicator of size > 1).
    markers : mapping of str to Marker
        Named entity sets: boundaries (facets) and subdomains (cells).
    """

    dolfinx_mesh: Any
    markers: Mapping[str, Marker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "markers", MappingProxyType(dict(self.markers)))

    # ------------------------------------------------------------------ geometry
    @property
    def dim(self) -> int:
        """Topological dimension (1, 2 or 3)."""
        return int(self.dolfinx_mesh.topology.dim)

    @property
    def gdim(self) -> int:
        """Geometric dimension (number of coordinates per point)."""
        return int(self.dolfinx_mesh.geometry.dim)

    @property
    def coordinates(self) -> npt.NDArray[np.float64]:
        """Coordinates of the geometry nodes, ``(num_nodes, gdim)``.

        For the affine meshes sciml builds and loads these are exactly the vertices.
        """
        return self.dolfinx_mesh.geometry.x[:, : self.gdim]

    @property
    def cells(self) -> npt.NDArray[np.int32]:
        """Cell-to-node connectivity, ``(num_cells, nodes_per_cell)``, rows of
        :attr:`coordinates`."""
        return self.dolfinx_mesh.geometry.dofmaps[0]

    @property
    def num_cells(self) -> int:
        """Number of cells owned by this process."""
        return int(self.dolfinx_mesh.topology.index_map(self.dim).size_local)

    @property
    def num_vertices(self) -> int:
        """Number of vertices owned by this process."""
        return int(self.dolfinx_mesh.topology.index_map(0).size_local)

    @property
    def cell_type(self) -> str:
        """Cell type name: ``interval``, ``triangle``, ``quadrilateral``, ``tetrahedron`` or
        ``hexahedron``."""
        return str(self.dolfinx_mesh.topology.cell_name())

    @property
    def comm(self) -> Any:
        """The MPI communicator of the mesh."""
        return self.dolfinx_mesh.comm

    def h(self) -> float:
        """Largest cell diameter (over all processes).

        Returns
        -------
        float
        """
        cells = np.arange(self.num_cells, dtype=np.int32)
        local = float(self.dolfinx_mesh.h(self.dim, cells).max()) if cells.size else 0.0
        from mpi4py import MPI

        return float(self.comm.allreduce(local, op=MPI.MAX))

    def measure(self, name: str | None = None) -> float:
        """Length, area or volume of the domain, or of a marked set of entities.

        Parameters
        ----------
        name : str, optional
            A marker; its entities are measured (facets: boundary length or area).

        Returns
        -------
        float
        """
        dolfinx = require_dolfinx("Mesh.measure")
        import ufl

        if name is None:
            form = 1.0 * ufl.dx(domain=self.dolfinx_mesh)
        else:
            marker = self[name]
            tags = self.meshtags(name)
            if marker.dim == self.dim:
                form = 1.0 * ufl.dx(domain=self.dolfinx_mesh, subdomain_data=tags)(1)
            elif marker.dim == self.dim - 1:
                form = 1.0 * ufl.ds(domain=self.dolfinx_mesh, subdomain_data=tags)(1)
            else:
                raise ValueError(f"marker {name!r} has dimension {marker.dim}; cannot measure")
        local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))
        return float(self.comm.allreduce(local))

    # ------------------------------------------------------------------ markers
    def __getitem__(self, name: str) -> Marker:
        try:
            return self.markers[name]
        except KeyError:
            known = ", ".join(sorted(self.markers)) or "none"
            raise KeyError(f"mesh has no marker {name!r}; known markers: {known}") from None

    def meshtags(self, name: str, value: int = 1) -> Any:
        """The marker as a dolfinx ``MeshTags`` with every entity tagged ``value``.

        Parameters
        ----------
        name : str
            Marker name.
        value : int, default 1

        Returns
        -------
        dolfinx.mesh.MeshTags
        """
        dolfinx = require_dolfinx("Mesh.meshtags")
        marker = self[name]
        values = np.full(marker.entities.shape, value, dtype=np.int32)
        return dolfinx.mesh.meshtags(self.dolfinx_mesh, marker.dim, marker.entities, values)

    def mark(self, name: str, where: Predicate, *, dim: int | None = None) -> Mesh:
        """Return a new mesh with an extra marker of the entities whose points satisfy ``where``.

        Parameters
        ----------
        name : str
            Name of the new marker (an existing one is replaced).
        where : callable
            ``where(x) -> bool array`` for ``x`` of shape ``(3, num_points)``; an entity is marked
            when all its vertices satisfy it.
        dim : int, optional
            Entity dimension; default facets (``dim - 1``), restricted to the boundary.

        Returns
        -------
        Mesh
        """
        dolfinx = require_dolfinx("Mesh.mark")
        dim = self.dim - 1 if dim is None else dim
        if dim == self.dim - 1:
            entities = dolfinx.mesh.locate_entities_boundary(self.dolfinx_mesh, dim, where)
        else:
            entities = dolfinx.mesh.locate_entities(self.dolfinx_mesh, dim, where)
        markers = dict(self.markers)
        markers[name] = Marker(dim, np.sort(entities).astype(np.int32))
        return Mesh(self.dolfinx_mesh, markers)

    # ------------------------------------------------------------------ refinement
    def refine(self) -> Mesh:
        """Refine every cell uniformly (nested), keeping the markers.

        Returns
        -------
        Mesh
            The refined mesh; cell and facet markers are transferred to the children.
        """
        fine, _ = self.refine_with_parents()
        return fine

    def refine_with_parents(self) -> tuple[Mesh, npt.NDArray[np.int32]]:
        """Refine uniformly and also return the parent (coarse) cell of every fine cell.

        Returns
        -------
        Mesh
            The refined mesh.
        numpy.ndarray
            ``parent[i]`` is the coarse cell containing fine cell ``i``.
        """
        dolfinx = require_dolfinx("Mesh.refine")
        if self.comm.size > 1:
            raise NotImplementedError(
                "Mesh.refine runs on one process: dolfinx 0.11 cannot transfer markers on "
                "distributed (ghosted) meshes. Refine in serial, save the meshes (sciml.mesh.save)"
                " and load them in the parallel run."
            )
        msh = self.dolfinx_mesh
        tdim = self.dim
        if tdim > 1:
            msh.topology.create_entities(tdim - 1)
            msh.topology.create_connectivity(tdim - 1, tdim)
        fine, parent_cell, parent_facet = dolfinx.mesh.refine(
            msh, option=dolfinx.mesh.RefinementOption.parent_cell_and_facet
        )
        fine.topology.create_entities(tdim - 1)
        markers: dict[str, Marker] = {}
        for name, marker in self.markers.items():
            if marker.dim not in (tdim, tdim - 1):
                continue  # only cell and facet markers can be transferred
            tags = dolfinx.mesh.transfer_meshtag(
                self.meshtags(name), fine, parent_cell, parent_facet
            )
            entities = tags.indices[tags.values == 1]
            markers[name] = Marker(marker.dim, np.sort(entities).astype(np.int32))
        return Mesh(fine, markers), np.asarray(parent_cell, dtype=np.int32)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.markers))
        return (
            f"Mesh({self.cell_type}, dim={self.dim}, gdim={self.gdim}, cells={self.num_cells}, "
            f"vertices={self.num_vertices}, markers=[{names}])"
        )
