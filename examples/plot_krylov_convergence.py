"""
Convergence of the Krylov solvers and preconditioners
=====================================================

How much does a preconditioner buy, and does it keep buying as the grid is refined? This
example solves the 2D Poisson problem with :func:`sciml.linalg.cg` and no preconditioner,
Jacobi, and algebraic multigrid (smoothed aggregation and Ruge-Stueben), plots the residual
histories that the solvers return in :attr:`sciml.linalg.Solution.residual_norms`, and then
counts AMG-PCG iterations on successively finer grids: they stay flat while plain CG's grow
like the grid size. (The Poisson matrix has a constant diagonal, so Jacobi only rescales it and
its curve lies on top of plain CG's.)

The example runs a small configuration by default (a 96 x 96 grid, then grids up to 256 x 256);
``SCIML_EXAMPLE_SIZE=full`` runs the larger one: a 256 x 256 grid, then grids up to
1024 x 1024, where plain CG needs 1,898 iterations and AMG-PCG 13 for a million unknowns (about
1.5 minutes and 4 GB of memory on a 2-core CPU, one thread).
"""

# %%
import matplotlib.pyplot as plt
import torch

from sciml.app import example_size
from sciml.linalg import amg, cg, jacobi, poisson2d

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

A = poisson2d(256 if FULL else 96)
b = torch.rand(A.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
runs = {
    "CG": cg(A, b, rtol=1e-10),
    "CG + Jacobi": cg(A, b, rtol=1e-10, M=jacobi(A)),
    "CG + AMG (SA)": cg(A, b, rtol=1e-10, M=amg(A)),
    "CG + AMG (RS)": cg(A, b, rtol=1e-10, M=amg(A, "rs")),
}
fig, ax = plt.subplots(figsize=(6, 4))
for label, sol in runs.items():
    ax.semilogy(sol.residual_norms / b.norm(), label=f"{label} ({int(sol.iterations)} it.)")
ax.axhline(1e-10, color="gray", linestyle=":", label="tolerance")
ax.set_xlabel("iteration")
ax.set_ylabel(r"$\|b - Ax\| / \|b\|$")
ax.set_title(f"2D Poisson, {A.shape[0]:,} unknowns")
ax.legend()
fig.tight_layout()

# %%
# Iterations against problem size
# -------------------------------
# Multigrid's point: the iteration count does not grow with the number of unknowns.
sizes = [32, 64, 128, 256, 512, 1024] if FULL else [32, 64, 128, 256]
plain, multigrid = [], []
for n in sizes:
    An = poisson2d(n)
    bn = torch.ones(n * n, dtype=torch.float64)
    plain.append(int(cg(An, bn, rtol=1e-8).iterations))
    multigrid.append(int(cg(An, bn, rtol=1e-8, M=amg(An)).iterations))
    print(f"n = {n * n:>9,}: CG {plain[-1]:>4} iterations, AMG-PCG {multigrid[-1]:>2} iterations")

fig, ax = plt.subplots(figsize=(6, 4))
unknowns = [n * n for n in sizes]
ax.loglog(unknowns, plain, "o-", label="CG")
ax.loglog(unknowns, multigrid, "s-", label="CG + AMG (SA)")
ax.set_xlabel("unknowns")
ax.set_ylabel("iterations to 1e-8")
ax.legend()
fig.tight_layout()
plt.show()
