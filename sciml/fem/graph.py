"""The node graph of a finite-element space, for graph networks on meshes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sciml.fem.assembly import mass
from sciml.fem.space import FunctionSpace

__all__ = ["DofGraph", "dof_graph"]


@dataclass(frozen=True)
class DofGraph:
    """Nodes and edges of a finite-element space.

    Attributes
    ----------
    edge_index : torch.Tensor
        ``(2, E)`` int64 directed edges ``source -> target``; every coupled pair appears in both
        directions, no self-loops.
    edge_attr : torch.Tensor
        ``(E, gdim + 1)`` float64: ``(x_source - x_target) / length`` and its norm.
    coordinates : torch.Tensor
        ``(num_nodes, gdim)`` float64 node coordinates, in node order (dof ``bs * node + c``).
    length : float
        The length scale of ``edge_attr``: the diameter of the mesh's bounding box.
    """

    edge_index: Tensor
    edge_attr: Tensor
    coordinates: Tensor
    length: float

    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return int(self.coordinates.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of directed edges."""
        return int(self.edge_index.shape[1])


def dof_graph(V: FunctionSpace, *, length: float | None = None) -> DofGraph:
    """The graph whose nodes are the nodes of ``V`` and whose edges couple nodes of a cell.

    The edges are the off-diagonal sparsity pattern of the mass matrix of ``V`` (two nodes are
    joined when they share a cell), collapsed from dofs to nodes for vector spaces.

    Parameters
    ----------
    V : FunctionSpace
    length : float, optional
        Length scale dividing the coordinate differences; default the diameter of the bounding
        box of the mesh, so that a refined mesh of the same geometry gets comparable features.

    Returns
    -------
    DofGraph

    Examples
    --------
    >>> import dolfinx_solver  # noqa: F401  (before dolfinx)
    >>> from sciml.mesh import unit_square
    >>> g = dof_graph(FunctionSpace(unit_square(2), "P", 1))
    >>> g.num_nodes, g.num_edges  # 9 vertices, 16 mesh edges in both directions
    (9, 32)
    """
    bs = V.block_size
    A = mass(V).to_scipy().tocoo()
    rows, cols = A.row // bs, A.col // bs
    keep = rows != cols
    pairs = np.unique(np.stack([cols[keep], rows[keep]]), axis=1)  # (source, target)
    coords = torch.from_numpy(np.ascontiguousarray(V.dof_coordinates[::bs], dtype=np.float64))
    if length is None:
        extent = coords.max(dim=0).values - coords.min(dim=0).values
        length = float(extent.norm())
    if not length > 0:
        raise ValueError(f"length must be positive, got {length}")
    edge_index = torch.from_numpy(pairs.astype(np.int64))
    diff = (coords[edge_index[0]] - coords[edge_index[1]]) / length
    edge_attr = torch.cat([diff, diff.norm(dim=1, keepdim=True)], dim=1)
    return DofGraph(edge_index=edge_index, edge_attr=edge_attr, coordinates=coords, length=length)
