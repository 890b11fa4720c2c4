"""Lagrange finite-element spaces on a :class:`~sciml.mesh.Mesh`."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sciml._optional import require_dolfinx
from sciml.mesh import Mesh

__all__ = ["FunctionSpace"]

_FAMILIES = {"lagrange": "Lagrange", "p": "Lagrange", "cg": "Lagrange", "q": "Lagrange"}


class FunctionSpace:
    """Continuous Lagrange space (scalar or vector valued) of degree 1 or 2 over a mesh.

    Parameters
    ----------
    mesh : Mesh
        The mesh.
    family : str, default "Lagrange"
        ``"Lagrange"`` (aliases ``"P"``, ``"CG"``, ``"Q"``).
    degree : int, default 1
        Polynomial degree, 1 or 2.
    shape : tuple of int, optional
        Value shape: ``None`` for scalars, ``(gdim,)`` for vectors.

    Raises
    ------
    ValueError
        For an unknown family or an unsupported degree.

    Notes
    -----
    *Dof ordering.* Degrees of freedom are numbered as dolfinx numbers them on this process
    (a locality-improving reordering of the mesh nodes that is deterministic for a given mesh).
    For vector spaces the dofs are interleaved: dof ``bs * node + component``, with ``bs`` the
    number of components. :attr:`dof_coordinates` has one row per dof in this order, so vectors
    of dof values, :attr:`dof_coordinates` and the assembled matrices agree.

    In parallel (MPI), a space holds the dofs owned by this process (``num_dofs``) followed by
    ghost copies; the torch-side quantities of sciml refer to the owned dofs.
    """

    def __init__(
        self,
        mesh: Mesh,
        family: str = "Lagrange",
        degree: int = 1,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        dolfinx = require_dolfinx("sciml.fem.FunctionSpace")
        if not isinstance(mesh, Mesh):
            raise TypeError(f"mesh must be a sciml.mesh.Mesh, got {type(mesh)!r}")
        key = family.lower()
        if key not in _FAMILIES:
            raise ValueError(
                f"unknown element family {family!r}; supported: Lagrange (aliases P, CG, Q)"
            )
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree}")
        if shape is not None:
            shape = tuple(int(s) for s in shape)
            if len(shape) != 1 or shape[0] < 1:
                raise ValueError(f"shape must be None (scalar) or (components,), got {shape}")
        self.mesh = mesh
        self.family = _FAMILIES[key]
        self.degree = degree
        self.shape = shape
        element = (self.family, degree) if shape is None else (self.family, degree, shape)
        self.dolfinx_space = dolfinx.fem.functionspace(mesh.dolfinx_mesh, element)

    @property
    def block_size(self) -> int:
        """Number of components per node (1 for scalar spaces)."""
        return int(self.dolfinx_space.dofmap.index_map_bs)

    @property
    def num_nodes(self) -> int:
        """Number of nodes (points carrying dofs) owned by this process."""
        return int(self.dolfinx_space.dofmap.index_map.size_local)

    @property
    def num_dofs(self) -> int:
        """Number of degrees of freedom owned by this process (``num_nodes * block_size``)."""
        return self.num_nodes * self.block_size

    @property
    def num_dofs_global(self) -> int:
        """Number of degrees of freedom over all processes."""
        return int(self.dolfinx_space.dofmap.index_map.size_global) * self.block_size

    @property
    def dof_coordinates(self) -> npt.NDArray[np.float64]:
        """Coordinates of every owned dof, ``(num_dofs, gdim)``, in dof order."""
        x = self.dolfinx_space.tabulate_dof_coordinates()[: self.num_nodes, : self.mesh.gdim]
        return np.repeat(x, self.block_size, axis=0) if self.block_size > 1 else x

    def boundary_dofs(self, marker: str, component: int | None = None) -> npt.NDArray[np.int64]:
        """Owned dofs on the entities of a marker (all components, or one).

        Parameters
        ----------
        marker : str
            Name of a facet (or cell) marker of the mesh.
        component : int, optional
            For vector spaces, only this component's dofs.

        Returns
        -------
        numpy.ndarray
            Sorted dof indices, ``int64``.

        Raises
        ------
        KeyError
            If the mesh has no such marker (the message lists the known ones).
        """
        dolfinx = require_dolfinx("FunctionSpace.boundary_dofs")
        mark = self.mesh[marker]
        msh = self.mesh.dolfinx_mesh
        msh.topology.create_connectivity(mark.dim, msh.topology.dim)
        nodes = dolfinx.fem.locate_dofs_topological(self.dolfinx_space, mark.dim, mark.entities)
        nodes = nodes[nodes < self.num_nodes].astype(np.int64)
        bs = self.block_size
        if bs == 1:
            if component not in (None, 0):
                raise ValueError(f"scalar space has no component {component}")
            return np.sort(nodes)
        comps = range(bs) if component is None else [component]
        if component is not None and not 0 <= component < bs:
            raise ValueError(f"component must be in [0, {bs}), got {component}")
        return np.sort(np.concatenate([nodes * bs + c for c in comps]))

    def function(self, values: torch.Tensor | npt.ArrayLike | None = None) -> Any:
        """A dolfinx ``Function`` on this space, optionally filled with owned dof values.

        Parameters
        ----------
        values : torch.Tensor or array-like, optional
            Shape ``(num_dofs,)``.

        Returns
        -------
        dolfinx.fem.Function
        """
        dolfinx = require_dolfinx("FunctionSpace.function")
        fn = dolfinx.fem.Function(self.dolfinx_space)
        if values is not None:
            array = _as_numpy(values)
            if array.shape != (self.num_dofs,):
                raise ValueError(
                    f"expected {self.num_dofs} dof values, got an array of shape {array.shape}"
                )
            fn.x.array[: self.num_dofs] = array
            fn.x.scatter_forward()
        return fn

    def interpolate(self, expression: Any) -> torch.Tensor:
        """Interpolate a function of the coordinates into the space; return its dof values.

        Parameters
        ----------
        expression : callable
            ``f(x)`` with ``x`` of shape ``(3, npoints)`` returning ``(npoints,)`` for scalar
            spaces or ``(components, npoints)`` for vector spaces (dolfinx's convention).

        Returns
        -------
        torch.Tensor
            ``(num_dofs,)`` float64.
        """
        fn = self.function()
        fn.interpolate(expression)
        return torch.from_numpy(fn.x.array[: self.num_dofs].copy())

    def __repr__(self) -> str:
        kind = "scalar" if self.shape is None else f"vector{self.shape}"
        return (
            f"FunctionSpace({self.family} P{self.degree}, {kind}, dofs={self.num_dofs}, "
            f"mesh={self.mesh.cell_type})"
        )


def _as_numpy(values: Any) -> npt.NDArray[np.float64]:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError("dof values contain NaN/Inf")
    return array
