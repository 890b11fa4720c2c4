"""Run under ``mpirun -n 2``: a distributed Poisson solve equals the serial one.

Each process assembles its part of the P2 Poisson problem on the L-shaped gmsh mesh (and P1
on a structured unit square); rank 0 gathers the global system, solves it with AMG-PCG and
scatters the solution; the owned values are then compared, through their coordinates, with a
serial solve on ``COMM_SELF``. Prints ``MAX-DIFF <case> <value>`` on rank 0.
"""

import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI
from scipy.spatial import cKDTree

from sciml.fem import (
    FunctionSpace,
    apply_dirichlet,
    dirichlet,
    gather_dirichlet,
    gather_matrix,
    gather_vector,
    load_vector,
    scatter_vector,
    stiffness,
)
from sciml.linalg import amg, cg
from sciml.mesh import load, unit_square

MESH = Path(__file__).resolve().parents[3] / "meshes" / "l_shape_1.msh"


def boundary(x: np.ndarray) -> np.ndarray:
    return np.sin(3 * x[0]) * x[1]


def solve(comm: MPI.Comm, which: str) -> tuple[np.ndarray, np.ndarray, int]:
    if which == "gmsh":
        V = FunctionSpace(load(MESH, comm=comm), "P", 2)
    else:
        V = FunctionSpace(unit_square(48, comm=comm), "P", 1)
    K, f = stiffness(V), load_vector(V, lambda x: 1.0 + x[0])
    A, b = gather_matrix(V, K), gather_vector(V, f)
    bc = gather_dirichlet(V, dirichlet(V, "boundary", boundary))
    x = None
    if comm.rank == 0:
        A, b = apply_dirichlet(A, b, bc)
        x = cg(A, b, rtol=1e-12, M=amg(A)).raise_if_failed().x
    return V.dof_coordinates, scatter_vector(V, x).numpy(), V.num_dofs_global


world = MPI.COMM_WORLD
assert world.size >= 2, "run me with mpirun -n 2"
try:
    unit_square(4, comm=world).refine()
except NotImplementedError as error:
    if world.rank == 0:
        print("REFINE-REFUSED", "one process" in str(error))
for which in ("square", "gmsh"):
    coords, values, n_global = solve(world, which)
    all_coords = world.gather(coords, root=0)
    all_values = world.gather(values, root=0)
    if world.rank == 0:
        serial_coords, serial_values, n_serial = solve(MPI.COMM_SELF, which)
        assert n_serial == n_global, (n_serial, n_global)
        par_coords = np.concatenate(all_coords)
        par_values = np.concatenate(all_values)
        assert par_values.size == n_global and all(c.shape[0] > 0 for c in all_coords)
        dist, index = cKDTree(serial_coords).query(par_coords)
        assert dist.max() < 1e-12
        print("MAX-DIFF", which, float(np.abs(par_values - serial_values[index]).max()))
        sys.stdout.flush()
    world.barrier()
