"""Assembly of finite-element matrices and vectors into :mod:`sciml.linalg` objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sciml._optional import require_dolfinx
from sciml.fem.space import FunctionSpace, _as_numpy
from sciml.linalg import SparseMatrix

__all__ = ["assemble", "convection", "load_vector", "mass", "stiffness"]

Coefficient = float | int | torch.Tensor | np.ndarray | Callable[..., Any] | Any


def assemble(
    form: Any, *, dtype: torch.dtype = torch.float64
) -> SparseMatrix | torch.Tensor | float:
    """Assemble any UFL form: bilinear -> SparseMatrix, linear -> vector, functional -> float.

    Parameters
    ----------
    form : ufl.Form
        A form over the dolfinx mesh of a :class:`FunctionSpace` (use
        ``space.dolfinx_space`` to build trial and test functions).
    dtype : torch.dtype, default torch.float64
        Dtype of the returned matrix or vector.

    Returns
    -------
    SparseMatrix, torch.Tensor or float
        The matrix, the vector of owned dofs, or the value of a functional summed over all
        processes. On one process the matrix is the whole square matrix. Under MPI it holds
        this process's owned rows with columns in the global dof numbering, shape
        ``(num_dofs, num_dofs_global)``; :func:`sciml.fem.gather_matrix` assembles the
        global matrix on one process.

    Raises
    ------
    TypeError
        If ``form`` is not a UFL form.
    """
    dolfinx = require_dolfinx("sciml.fem.assemble")
    import ufl

    if not isinstance(form, ufl.Form):
        raise TypeError(f"assemble expects a ufl.Form, got {type(form)!r}")
    rank = len(form.arguments())
    compiled = dolfinx.fem.form(form)
    if rank == 2:
        matrix = dolfinx.fem.assemble_matrix(compiled)
        matrix.scatter_reverse()
        local = matrix.to_scipy(ghosted=False)
        column_map = matrix.index_map(1)
        if column_map.num_ghosts > 0 or column_map.size_global != column_map.size_local:
            local = _global_columns(local, column_map, int(matrix.block_size[1]))
        return SparseMatrix.from_scipy(local, dtype=dtype)
    if rank == 1:
        vector = dolfinx.fem.assemble_vector(compiled)
        vector.scatter_reverse(dolfinx.la.InsertMode.add)
        n = vector.index_map.size_local * vector.block_size
        return torch.from_numpy(vector.array[:n].copy()).to(dtype)
    comm = form.ufl_domain().ufl_cargo().comm
    return float(comm.allreduce(dolfinx.fem.assemble_scalar(compiled)))


def stiffness(V: FunctionSpace, coefficient: Coefficient = None) -> SparseMatrix:
    """Stiffness matrix ``K_ij = int kappa grad(phi_j) : grad(phi_i) dx``.

    Parameters
    ----------
    V : FunctionSpace
        Scalar or vector Lagrange space.
    coefficient : float, torch.Tensor, numpy.ndarray, callable, dolfinx Function or UFL expr
        The diffusivity ``kappa`` (default 1): a number; dof values on the scalar Lagrange
        space of the same degree on the same mesh (``(V.num_nodes,)``); a function
        ``f(x) -> values`` of the coordinates (interpolated into that space); or a dolfinx
        ``Function``/UFL expression.

    Returns
    -------
    SparseMatrix
        Symmetric, positive semi-definite (definite after Dirichlet conditions).
    """
    import ufl

    u, v = _arguments(V)
    kappa = coefficient_function(V, coefficient)
    return _matrix(kappa * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)


def mass(V: FunctionSpace, coefficient: Coefficient = None) -> SparseMatrix:
    """Mass (or reaction) matrix ``M_ij = int c phi_j phi_i dx``.

    Parameters
    ----------
    V : FunctionSpace
    coefficient : see :func:`stiffness`
        Reaction coefficient ``c`` (default 1: the mass matrix).

    Returns
    -------
    SparseMatrix
    """
    import ufl

    u, v = _arguments(V)
    c = coefficient_function(V, coefficient)
    return _matrix(c * ufl.inner(u, v) * ufl.dx)


def convection(V: FunctionSpace, velocity: Any) -> SparseMatrix:
    """Convection matrix ``C_ij = int dot(w, grad phi_j) phi_i dx`` of a scalar space.

    Parameters
    ----------
    V : FunctionSpace
        Scalar space.
    velocity : sequence of float, callable or UFL expression
        The velocity ``w``: a constant vector, a function ``f(x) -> (gdim, npoints)``
        (interpolated into the vector Lagrange space of ``V``'s degree) or a UFL vector.

    Returns
    -------
    SparseMatrix
        Non-symmetric in general.
    """
    dolfinx = require_dolfinx("sciml.fem.convection")
    import ufl

    if V.shape is not None:
        raise ValueError("convection is defined for scalar spaces")
    u, v = _arguments(V)
    gdim = V.mesh.gdim
    msh = V.mesh.dolfinx_mesh
    if callable(velocity) and not isinstance(velocity, ufl.core.expr.Expr):
        W = dolfinx.fem.functionspace(msh, ("Lagrange", V.degree, (gdim,)))
        w = dolfinx.fem.Function(W)
        w.interpolate(velocity)
    elif isinstance(velocity, ufl.core.expr.Expr):
        w = velocity
    else:
        values = np.asarray(velocity, dtype=np.float64)
        if values.shape != (gdim,):
            raise ValueError(f"a constant velocity needs {gdim} components, got {values.shape}")
        w = dolfinx.fem.Constant(msh, values)
    return _matrix(ufl.dot(w, ufl.grad(u)) * v * ufl.dx)


def load_vector(V: FunctionSpace, f: Coefficient) -> torch.Tensor:
    """Load vector ``F_i = int dot(f, phi_i) dx``.

    Parameters
    ----------
    V : FunctionSpace
    f : number, dof values, callable, dolfinx Function or UFL expression
        The source. Numbers, dof values and callables are taken in ``V`` itself (so vector
        spaces take vector-valued sources).

    Returns
    -------
    torch.Tensor
        ``(V.num_dofs,)`` float64.
    """
    dolfinx = require_dolfinx("sciml.fem.load_vector")
    import ufl

    _, v = _arguments(V)
    msh = V.mesh.dolfinx_mesh
    if isinstance(f, int | float):
        value = np.full(V.shape, float(f)) if V.shape is not None else float(f)
        source: Any = dolfinx.fem.Constant(msh, value)
    elif isinstance(f, torch.Tensor | np.ndarray):
        source = V.function(f)
    elif callable(f) and not isinstance(f, ufl.core.expr.Expr):
        source = V.function()
        source.interpolate(f)
    else:
        source = f
    result = assemble(ufl.inner(source, v) * ufl.dx)
    assert isinstance(result, torch.Tensor)
    return result


def coefficient_function(V: FunctionSpace, coefficient: Coefficient) -> Any:
    """Turn a user coefficient into something UFL can multiply (see :func:`stiffness`).

    Parameters
    ----------
    V : FunctionSpace
        The space whose mesh and degree define the scalar coefficient space.
    coefficient : number, dof values, callable, dolfinx Function or UFL expression

    Returns
    -------
    dolfinx.fem.Constant, dolfinx.fem.Function or UFL expression

    Raises
    ------
    ValueError
        If dof values have the wrong length or contain NaN/Inf.
    """
    dolfinx = require_dolfinx("sciml.fem")
    import ufl

    msh = V.mesh.dolfinx_mesh
    if coefficient is None:
        return dolfinx.fem.Constant(msh, 1.0)
    if isinstance(coefficient, int | float):
        return dolfinx.fem.Constant(msh, float(coefficient))
    if isinstance(coefficient, ufl.core.expr.Expr):
        return coefficient
    scalar = dolfinx.fem.functionspace(msh, ("Lagrange", V.degree))
    fn = dolfinx.fem.Function(scalar)
    if isinstance(coefficient, torch.Tensor | np.ndarray | list):
        values = _as_numpy(coefficient)
        n = scalar.dofmap.index_map.size_local
        if values.shape != (n,):
            raise ValueError(
                f"coefficient has shape {values.shape}, expected ({n},): one value per node of "
                f"the scalar P{V.degree} space on this mesh"
            )
        fn.x.array[:n] = values
        fn.x.scatter_forward()
        return fn
    if callable(coefficient):
        fn.interpolate(coefficient)
        return fn
    raise TypeError(f"unsupported coefficient type {type(coefficient)!r}")


def _global_columns(local: Any, column_map: Any, bs: int) -> Any:
    """Renumber the columns of this process's rows from local to global dof indices."""
    import scipy.sparse as sp

    coo = sp.coo_array(local)
    block = (coo.col // bs).astype(np.int32)
    cols = np.asarray(column_map.local_to_global(block), dtype=np.int64) * bs + coo.col % bs
    n_global = int(column_map.size_global) * bs
    return sp.csr_array((coo.data, (coo.row, cols)), shape=(local.shape[0], n_global))


def _arguments(V: FunctionSpace) -> tuple[Any, Any]:
    import ufl

    if not isinstance(V, FunctionSpace):
        raise TypeError(f"expected a sciml.fem.FunctionSpace, got {type(V)!r}")
    return ufl.TrialFunction(V.dolfinx_space), ufl.TestFunction(V.dolfinx_space)


def _matrix(form: Any) -> SparseMatrix:
    result = assemble(form)
    assert isinstance(result, SparseMatrix)
    return result
