"""Finite-element spaces and assembly into :mod:`sciml.linalg` objects, on dolfinx.

Needs sciml's ``fem`` extra (dolfinx).

* :class:`FunctionSpace` -- Lagrange P1/P2, scalar or vector, with dof coordinates and
  boundary dofs by marker name.
* :func:`stiffness`, :func:`mass`, :func:`convection`, :func:`load_vector`, :func:`assemble` --
  matrices as :class:`~sciml.linalg.SparseMatrix`, vectors as torch tensors.
* :func:`dirichlet`, :func:`apply_dirichlet` (lifting), :func:`condense` / :func:`expand`
  (elimination).
* :func:`interpolation_matrix`, :func:`interpolation_between`, :func:`prolongation`,
  :func:`restriction`, :func:`project` -- transfer operators as sparse matrices.
* :func:`write_fields` (XDMF/VTX for ParaView), :func:`save_fields` / :func:`load_fields`
  (HDF5 with the mesh and space description), :func:`match_dofs` (one space, two numberings),
  :func:`match_nodes` (an external code's per-node values to dof order).
* :func:`gather_matrix`, :func:`gather_vector`, :func:`gather_dirichlet`,
  :func:`scatter_vector` -- solve a distributed (MPI) system with the torch solvers on one rank.
* :func:`l2_norm`, :func:`h1_seminorm`, relative errors, :func:`error_norm` against an exact
  solution.
* :func:`dof_graph` -- the node graph of a space (edges of the FE sparsity pattern, coordinate
  features) for graph networks.
"""

from sciml.fem.assembly import (
    assemble,
    coefficient_function,
    convection,
    load_vector,
    mass,
    stiffness,
)
from sciml.fem.dirichlet import DirichletBC, apply_dirichlet, condense, dirichlet, expand
from sciml.fem.graph import DofGraph, dof_graph
from sciml.fem.io import load_fields, match_dofs, match_nodes, save_fields, write_fields
from sciml.fem.norms import (
    error_norm,
    h1_seminorm,
    l2_norm,
    relative_h1_error,
    relative_l2_error,
)
from sciml.fem.parallel import (
    gather_dirichlet,
    gather_matrix,
    gather_vector,
    global_dofs,
    scatter_vector,
)
from sciml.fem.space import FunctionSpace
from sciml.fem.transfer import (
    interpolation_between,
    interpolation_matrix,
    project,
    prolongation,
    restriction,
)

__all__ = [
    "DirichletBC",
    "DofGraph",
    "FunctionSpace",
    "apply_dirichlet",
    "assemble",
    "coefficient_function",
    "condense",
    "convection",
    "dirichlet",
    "dof_graph",
    "error_norm",
    "expand",
    "gather_dirichlet",
    "gather_matrix",
    "gather_vector",
    "global_dofs",
    "h1_seminorm",
    "interpolation_between",
    "interpolation_matrix",
    "l2_norm",
    "load_fields",
    "load_vector",
    "mass",
    "match_dofs",
    "match_nodes",
    "project",
    "prolongation",
    "relative_h1_error",
    "relative_l2_error",
    "restriction",
    "save_fields",
    "scatter_vector",
    "stiffness",
    "write_fields",
]
