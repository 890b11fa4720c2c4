"""MPI: gather a distributed finite-element system on one process and scatter the solution back.

dolfinx distributes the mesh, and sciml's assembly runs on every process on its part (owned
rows, columns in the global dof numbering). The torch solvers of
:mod:`sciml.linalg` work on one process, so a parallel run gathers the system in the global dof
numbering on a root process, solves there, and scatters the owned values back::

    K, f = stiffness(V), load_vector(V, 1.0)  # on every process
    A, b = gather_matrix(V, K), gather_vector(V, f)  # the global system on rank 0 (else None)
    bc = gather_dirichlet(V, dirichlet(V, "boundary"))
    x = None
    if V.mesh.comm.rank == 0:
        A, b = apply_dirichlet(A, b, bc)
        x = cg(A, b, rtol=1e-10, M=amg(A)).x
    u = scatter_vector(V, x)  # owned dof values on every process
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch
from torch import Tensor

from sciml.fem.dirichlet import DirichletBC
from sciml.fem.space import FunctionSpace
from sciml.linalg import SparseMatrix

__all__ = ["gather_dirichlet", "gather_matrix", "gather_vector", "global_dofs", "scatter_vector"]


def global_dofs(V: FunctionSpace, local: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Global indices of local dof indices (owned or ghost) of this process.

    Parameters
    ----------
    V : FunctionSpace
    local : array-like of int
        Local dof indices (``bs * local_node + component``).

    Returns
    -------
    numpy.ndarray
        ``int64`` global indices (``bs * global_node + component``).
    """
    idx = np.asarray(local, dtype=np.int64)
    bs = V.block_size
    index_map = V.dolfinx_space.dofmap.index_map
    nodes = index_map.local_to_global((idx // bs).astype(np.int32))
    return np.asarray(nodes, dtype=np.int64) * bs + idx % bs


def _owned_range(V: FunctionSpace) -> tuple[int, int]:
    start, stop = V.dolfinx_space.dofmap.index_map.local_range
    return int(start) * V.block_size, int(stop) * V.block_size


def gather_matrix(V: FunctionSpace, A: SparseMatrix, root: int = 0) -> SparseMatrix | None:
    """Gather a matrix assembled on ``V`` on every process into the global matrix on ``root``.

    Parameters
    ----------
    V : FunctionSpace
        The (distributed) space ``A`` was assembled on.
    A : SparseMatrix
        This process's owned rows, columns in global numbering (as returned by
        :func:`sciml.fem.stiffness` and friends).
    root : int, default 0

    Returns
    -------
    SparseMatrix or None
        The global matrix (global dof numbering) on ``root``, None elsewhere.
    """
    comm = V.mesh.comm
    local = A.to_scipy().tocoo()
    start, _ = _owned_range(V)
    rows = local.row.astype(np.int64) + start
    cols = local.col.astype(np.int64)
    parts = comm.gather((rows, cols, local.data.copy()), root=root)
    if comm.rank != root:
        return None
    assert parts is not None
    n = V.num_dofs_global
    all_rows, all_cols, all_vals = (np.concatenate(p) for p in zip(*parts, strict=True))
    glob = sp.csr_array((all_vals, (all_rows, all_cols)), shape=(n, n))
    glob.sum_duplicates()
    return SparseMatrix.from_scipy(glob, dtype=A.dtype)


def gather_vector(V: FunctionSpace, b: Tensor, root: int = 0) -> Tensor | None:
    """Gather the owned entries of a dof vector into the global vector on ``root``.

    Parameters
    ----------
    V : FunctionSpace
    b : torch.Tensor
        ``(V.num_dofs,)`` owned values.
    root : int, default 0

    Returns
    -------
    torch.Tensor or None
    """
    comm = V.mesh.comm
    if b.shape != (V.num_dofs,):
        raise ValueError(f"expected ({V.num_dofs},) owned values, got {tuple(b.shape)}")
    start, _ = _owned_range(V)
    parts = comm.gather((start, b.detach().cpu().numpy()), root=root)
    if comm.rank != root:
        return None
    assert parts is not None
    out = np.empty(V.num_dofs_global)
    for offset, values in parts:
        out[offset : offset + values.size] = values
    return torch.from_numpy(out).to(b.dtype)


def scatter_vector(V: FunctionSpace, x: Tensor | None, root: int = 0) -> Tensor:
    """Distribute a global dof vector from ``root``; every process gets its owned values.

    Parameters
    ----------
    V : FunctionSpace
    x : torch.Tensor or None
        ``(V.num_dofs_global,)`` on ``root`` (ignored elsewhere).
    root : int, default 0

    Returns
    -------
    torch.Tensor
        ``(V.num_dofs,)`` float64.
    """
    comm = V.mesh.comm
    ranges = comm.gather(_owned_range(V), root=root)
    chunks = None
    if comm.rank == root:
        if x is None or x.shape != (V.num_dofs_global,):
            shape = None if x is None else tuple(x.shape)
            raise ValueError(f"root needs the global vector ({V.num_dofs_global},), got {shape}")
        assert ranges is not None
        values = x.detach().cpu().numpy()
        chunks = [values[a:b] for a, b in ranges]
    return torch.from_numpy(np.ascontiguousarray(comm.scatter(chunks, root=root)))


def gather_dirichlet(V: FunctionSpace, bc: DirichletBC, root: int = 0) -> DirichletBC | None:
    """Gather a Dirichlet condition on owned dofs into global numbering on ``root``.

    Parameters
    ----------
    V : FunctionSpace
    bc : DirichletBC
        Built on this process with :func:`sciml.fem.dirichlet` (owned dofs).
    root : int, default 0

    Returns
    -------
    DirichletBC or None
    """
    comm = V.mesh.comm
    parts = comm.gather((global_dofs(V, bc.dofs), bc.values.numpy()), root=root)
    if comm.rank != root:
        return None
    assert parts is not None
    dofs = np.concatenate([p[0] for p in parts])
    values = np.concatenate([p[1] for p in parts])
    dofs, first = np.unique(dofs, return_index=True)
    return DirichletBC(dofs=dofs, values=torch.from_numpy(values[first]))
