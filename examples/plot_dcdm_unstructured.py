"""
Learned conjugate directions on an unstructured finite-element mesh
===================================================================

The grid network of DCDM needs a regular grid. :class:`sciml.dcdm.GraphDCDMNet` acts on the
matrix itself: a V-cycle over the algebraic-multigrid hierarchy of the matrix whose smoothing
on every level is a learned message-passing network on the level's matrix graph, trained with
DCDM's scale-invariant loss. Nothing in it refers to coordinates or to a grid, so it runs on any
sparse SPD matrix -- here the P1 matrix of ``-div(kappa grad u) = f`` with a random coefficient
``kappa = exp(GRF)`` on the plate with holes of ``meshes/``, a geometry the shipped network
(:func:`sciml.dcdm.pretrained_graph`, trained on rectangles with random holes) never saw.

It is compared with CG, incomplete-Cholesky PCG and AMG-PCG, and with its own starting point:
the untrained network, which is exactly the damped-Jacobi V-cycle. The same network also goes
into a PETSc KSP as a Python preconditioner, which is how a dolfinx user would drop it into
an existing solver setup.

By default the level-1 mesh is used (5,045 unknowns); ``SCIML_EXAMPLE_SIZE=full`` refines it
uniformly twice (83,330 unknowns), where the graph network needs 11 iterations, IC-PCG 163 and
CG 719 (about 30 s on a 2-core CPU, one thread).
"""

# %%
import time

import dolfinx_solver  # noqa: F401  (before dolfinx / petsc4py)
import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
import torch

from sciml.app import example_size
from sciml.data.generators.fe_poisson import diffusion_system, mesh_path
from sciml.dcdm import GraphDCDMNet, GraphDirections, dcdm, pretrained_graph
from sciml.fem import FunctionSpace
from sciml.linalg import amg, cg, petsc_solve
from sciml.mesh import load

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

refinements = 2 if FULL else 0  # uniform refinements of the level-1 mesh
mesh = load(mesh_path("plate_with_holes", 1))
for _ in range(refinements):
    mesh = mesh.refine()
A, b, free, kappa = diffusion_system(mesh, seed=7)
rtol = 1e-6
print(f"plate with holes, level {1 + refinements}: {A.shape[0]:,} unknowns")

histories: dict[str, np.ndarray] = {}
results: dict[str, int] = {}


def record(name: str, residuals: torch.Tensor, iterations: int, seconds: float) -> None:
    histories[name] = (residuals / residuals[0]).numpy()
    results[name] = iterations
    print(f"{name:<34} {iterations:>5} iterations  {seconds:7.3f} s")


model = pretrained_graph()
t0 = time.perf_counter()
sol = dcdm(A, b, model, rtol=rtol, maxiter=500)
record("DCDM, graph network", sol.residual_norms, int(sol.iterations), time.perf_counter() - t0)
x = sol.x

t0 = time.perf_counter()
start = dcdm(A, b, GraphDCDMNet(), rtol=rtol, maxiter=500)
record(
    "untrained (damped-Jacobi V-cycle)",
    start.residual_norms,
    int(start.iterations),
    time.perf_counter() - t0,
)

t0 = time.perf_counter()
plain = cg(A, b, rtol=rtol, maxiter=20_000)
record("CG", plain.residual_norms, int(plain.iterations), time.perf_counter() - t0)

t0 = time.perf_counter()
icc = petsc_solve(A, b, pc="icc", rtol=rtol)
record("IC-PCG (PETSc ICC(0))", icc.residual_norms, int(icc.iterations), time.perf_counter() - t0)

t0 = time.perf_counter()
multigrid = cg(A, b, rtol=rtol, M=amg(A))
record(
    "AMG-PCG (sciml, setup + solve)",
    multigrid.residual_norms,
    int(multigrid.iterations),
    time.perf_counter() - t0,
)

# %%
# Inside PETSc: flexible CG keeping two directions (DCDM's ``k = 2``) with the network as a
# ``python`` PC takes the same iterations as :func:`sciml.dcdm.dcdm`.
t0 = time.perf_counter()
petsc = petsc_solve(
    A, b, ksp="fcg", M=GraphDirections(model, A), rtol=rtol, options={"ksp_fcg_mmax": 2}
)
record(
    "PETSc FCG + graph network",
    petsc.residual_norms,
    int(petsc.iterations),
    time.perf_counter() - t0,
)

# %%
# The coefficient, the solution, and the residual histories
# -----------------------------------------------------------
V = FunctionSpace(mesh, "Lagrange", 1)
u = torch.zeros(V.num_dofs, dtype=x.dtype)
u[torch.from_numpy(free)] = x  # u = 0 on the boundary
xy = V.dof_coordinates
tri = mtri.Triangulation(xy[:, 0], xy[:, 1], V.dolfinx_space.dofmap.list)
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
for ax, values, title in [
    (axes[0], kappa.numpy(), "coefficient kappa = exp(GRF)"),
    (axes[1], u.numpy(), "solution u (DCDM, graph network)"),
]:
    art = ax.tripcolor(tri, values, shading="gouraud")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.colorbar(art, ax=ax, shrink=0.7)
for name, history in histories.items():
    axes[2].semilogy(history, ".-", label=f"{name}: {results[name]} it")
axes[2].axhline(rtol, color="k", lw=0.8, ls=":")
axes[2].set_xscale("symlog", linthresh=10)
axes[2].set_xlim(left=0)
axes[2].set_xlabel("iteration")
axes[2].set_ylabel("||b - A x|| / ||b||")
axes[2].legend(fontsize=7)
axes[2].set_title("residual history")
fig.tight_layout()
plt.show()
