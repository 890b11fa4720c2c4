"""
Learned conjugate directions for a pressure solve around obstacles
===================================================================

The pressure projection of an incompressible fluid solver needs ``A p = b`` with ``A`` the
Laplacian of the fluid cells -- walls and obstacles give Neumann conditions, open sides
Dirichlet -- and ``b`` the divergence of the intermediate velocity. The deep conjugate
direction method (DCDM, Kaneda et al., ICML 2023) replaces the preconditioner of CG by a
convolutional network that maps the residual to an approximation of ``A^{-1} r``; each new
direction is A-orthogonalised against the last two, so the iteration stays a descent method
whatever the network returns.

The network shipped with sciml (:func:`sciml.dcdm.pretrained`) was trained on the *empty*
64 x 64 domain only. Here it solves a scene with obstacles they never saw, at 128 x 128,
next to CG, incomplete-Cholesky PCG (PETSc ICC) and algebraic-multigrid PCG.

``SCIML_EXAMPLE_SIZE=full`` solves the same kind of scene at 512 x 512 (210,679 fluid cells)
instead of 128 x 128, in about 3.5 minutes on a 2-core CPU (one thread). There the single-level
network loses most of its lead: 421 iterations against 523 for IC-PCG and 1,672 for CG, while
the multilevel directions need 59 and the network with a coarse grid 15.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from sciml.app import example_size
from sciml.dcdm import GridPoisson, dcdm, divergence_rhs, obstacle_scene, pretrained
from sciml.linalg import amg, cg, petsc_solve

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

n = 512 if FULL else 128
system = GridPoisson(obstacle_scene((n, n), seed=11, count=8))
b = divergence_rhs(system, seed=0)
rtol = 1e-6
print(f"{n} x {n} grid, {system.n:,} fluid cells")

histories: dict[str, np.ndarray] = {}
results: dict[str, tuple[int, float]] = {}


def record(name: str, residuals: np.ndarray, iterations: int, seconds: float) -> None:
    histories[name] = residuals / residuals[0]
    results[name] = (iterations, seconds)
    print(f"{name:<28} {iterations:>5} iterations  {seconds:7.3f} s")


model = pretrained(2)
t0 = time.perf_counter()
sol = dcdm(system, b, model, rtol=rtol, maxiter=1000)
seconds = time.perf_counter() - t0
record("DCDM (paper network)", sol.residual_norms.numpy(), int(sol.iterations), seconds)
pressure = system.to_grid(sol.x)

# %%
# The same network applied to the residual and to its 2x, 4x, ... coarsened copies, all
# directions used at once (``levels="auto"``): the coarse levels carry the smooth error.
t0 = time.perf_counter()
sol = dcdm(system, b, model, rtol=rtol, maxiter=1000, levels="auto")
seconds = time.perf_counter() - t0
record("DCDM (multilevel directions)", sol.residual_norms.numpy(), int(sol.iterations), seconds)

# %%
# sciml's two-level variant (``coarse=8``): the paper's network plus the exact Galerkin
# correction on a grid 8x coarser per axis, both directions used at once. The coarse grid holds
# the smooth error the network, trained on a 64 x 64 grid, cannot see; what is left is local,
# and the iteration count no longer grows with the grid (21, 18, 15, 15, 15 from 64^2 to
# 1024^2 in ``benchmarks/dcdm.py``). The time includes the coarse-grid setup.
t0 = time.perf_counter()
sol = dcdm(system, b, model, rtol=rtol, maxiter=1000, coarse=8)
seconds = time.perf_counter() - t0
record("DCDM (+ coarse grid)", sol.residual_norms.numpy(), int(sol.iterations), seconds)

t0 = time.perf_counter()
sol = cg(system.matrix, b, rtol=rtol, maxiter=20_000)
record("CG", sol.residual_norms.numpy(), int(sol.iterations), time.perf_counter() - t0)

t0 = time.perf_counter()
sol = cg(system.matrix, b, rtol=rtol, M=amg(system.matrix))
record(
    "AMG-PCG (sciml, setup + solve)",
    sol.residual_norms.numpy(),
    int(sol.iterations),
    time.perf_counter() - t0,
)

# %%
# Incomplete-Cholesky PCG from PETSc (petsc4py comes with the dolfinx wheel of the ``fem``
# extra); :func:`sciml.linalg.petsc_solve` returns the same ``Solution`` as the torch solvers.
try:
    t0 = time.perf_counter()
    sol = petsc_solve(system.matrix, b, ksp="cg", pc="icc", rtol=rtol, maxiter=20_000)
    seconds = time.perf_counter() - t0
    record("IC-PCG (PETSc ICC(0))", sol.residual_norms.numpy(), int(sol.iterations), seconds)
except ImportError as exc:  # petsc4py is optional
    print(f"IC-PCG skipped: {exc}")

# %%
# The scene, the pressure, and how fast each method reduces the residual
# ------------------------------------------------------------------------
fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
axes[0].imshow(~system.fluid.T, origin="lower", extent=(0, 1, 0, 1), cmap="Greys")
axes[0].set_title("obstacles (black), open outer sides")
masked = np.ma.masked_where(~system.fluid.T, pressure.numpy().T)
im = axes[1].imshow(masked, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r")
axes[1].set_title("pressure p (DCDM)")
fig.colorbar(im, ax=axes[1], shrink=0.8)
for name, history in histories.items():
    axes[2].semilogy(history, label=f"{name}: {results[name][0]} it")
axes[2].axhline(rtol, color="k", lw=0.8, ls=":")
axes[2].set_xlabel("iteration")
axes[2].set_ylabel("||b - A x|| / ||b||")
axes[2].set_xscale("symlog", linthresh=10)
axes[2].set_xlim(left=0)
axes[2].legend(fontsize=8)
axes[2].set_title("residual history")
fig.tight_layout()
plt.show()
