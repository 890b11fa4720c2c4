"""
Poisson problems on the shared geometries
=========================================

sciml ships five meshes in ``meshes/`` (made with gmsh, with named boundaries). This example
loads each one with :func:`sciml.mesh.load`, builds a P1 space with
:class:`sciml.fem.FunctionSpace`, assembles the Laplacian, imposes Dirichlet data by name with
:func:`sciml.fem.dirichlet`, solves with AMG-preconditioned CG from :mod:`sciml.linalg`, plots the
solutions and writes them to XDMF for ParaView.

On the annulus the solution of ``-Laplace u = 0``, ``u = 1`` on ``r = 0.5`` and ``u = 0`` on
``r = 1`` is known, ``u = log(r) / log(0.5)``, so the example also reports the discretisation
error there.

By default the five problems are solved on the coarse meshes (``*_0.msh``);
``SCIML_EXAMPLE_SIZE=full`` solves them on the level-1 meshes (mesh size ``h/2``, 3,092 to 7,378
dofs), where AMG-PCG still needs only 9 to 12 iterations (about 8 s on a 2-core CPU).
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import ufl

from sciml.app import example_size
from sciml.fem import (
    FunctionSpace,
    apply_dirichlet,
    dirichlet,
    error_norm,
    interpolation_matrix,
    load_vector,
    stiffness,
    write_fields,
)
from sciml.linalg import amg, cg
from sciml.mesh import load

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
MESHES = HERE.parent / "meshes"
OUT = Path(tempfile.mkdtemp(prefix="sciml_poisson_on_meshes_"))
LEVEL = 1 if FULL else 0  # the meshes of the five solves: level 1 has mesh size h/2

# name -> (source f, {marker: boundary value or function of x})
PROBLEMS = {
    "l_shape": (1.0, {"boundary": 0.0}),
    "plate_with_holes": (0.0, {"holes": 1.0, "left": 0.0, "right": 0.0}),
    # stream function of a uniform flow around the airfoil: psi = y far away, 0 on the airfoil
    "naca0012_channel": (
        0.0,
        {
            "inlet": lambda x: x[1],
            "outlet": lambda x: x[1],
            "walls": lambda x: x[1],
            "airfoil": 0.0,
        },
    ),
    "annulus": (0.0, {"inner": 1.0, "outer": 0.0}),
    "box_with_cavity": (0.0, {"cavity": 1.0, "outer": 0.0}),
}


def solve(name: str, level: int = LEVEL) -> tuple[FunctionSpace, torch.Tensor, int]:
    """Solve -Laplace u = f with the problem's Dirichlet data; return space, dofs, iterations."""
    source, data = PROBLEMS[name]
    V = FunctionSpace(load(MESHES / f"{name}_{level}.msh"), "P", 1)
    K, b = stiffness(V), load_vector(V, source)
    for marker, value in data.items():
        K, b = apply_dirichlet(K, b, dirichlet(V, marker, value))
    sol = cg(K, b, rtol=1e-10, M=amg(K)).raise_if_failed()
    write_fields(OUT / f"{name}_{level}.xdmf", V, {"u": sol.x})  # one file per mesh level
    return V, sol.x, int(sol.iterations)


results = {name: solve(name) for name in PROBLEMS}
for name, (V, u, its) in results.items():
    print(
        f"{name:<18} {V.num_dofs:>6} dofs, AMG-PCG {its:>2} iterations, "
        f"max u = {float(u.max()):.3f}"
    )
print(f"XDMF files written to {OUT}")

# %%
# The 2-D solutions
# -----------------
fig, axes = plt.subplots(2, 2, figsize=(10, 7))
names_2d = ["l_shape", "plate_with_holes", "naca0012_channel", "annulus"]
for ax, name in zip(axes.flat, names_2d, strict=True):
    V, u, _ = results[name]
    x, cells = V.mesh.coordinates, V.mesh.cells
    # P1 dofs live at the mesh vertices: match them by coordinates for tripcolor
    values = interpolation_matrix(V, x) @ u
    tpc = ax.tripcolor(x[:, 0], x[:, 1], cells, values.numpy(), shading="gouraud", cmap="viridis")
    if name == "naca0012_channel":
        ax.tricontour(
            x[:, 0], x[:, 1], cells, values.numpy(), levels=21, colors="w", linewidths=0.5
        )
    ax.set_aspect("equal")
    ax.set_title(name.replace("_", " "))
    fig.colorbar(tpc, ax=ax, shrink=0.8)
fig.tight_layout()

# %%
# The 3-D solution on a slice
# ---------------------------
# Points of the plane ``z = 0.5`` outside the spherical cavity are evaluated through an
# interpolation matrix.
V, u, _ = results["box_with_cavity"]
g = np.linspace(0.0, 1.0, 81)
X, Y = np.meshgrid(g, g)
keep = (X - 0.5) ** 2 + (Y - 0.5) ** 2 >= 0.25**2
pts = np.column_stack([X[keep], Y[keep], np.full(keep.sum(), 0.5)])
slice_values = np.full(X.shape, np.nan)
slice_values[keep] = (interpolation_matrix(V, pts) @ u).numpy()
fig, ax = plt.subplots(figsize=(5, 4))
im = ax.pcolormesh(X, Y, slice_values, shading="auto", cmap="viridis")
ax.set_aspect("equal")
ax.set_title("box with cavity, slice z = 0.5")
fig.colorbar(im, ax=ax)

# %%
# Accuracy on the annulus
# -----------------------
# Refining the mesh halves the H1 error and quarters the L2 error (P1 rates 1 and 2).
for level in (0, 1):
    V, u, _ = solve("annulus", level)

    def exact(x: ufl.SpatialCoordinate) -> ufl.core.expr.Expr:
        return ufl.ln(ufl.sqrt(x[0] ** 2 + x[1] ** 2)) / np.log(0.5)

    print(
        f"annulus level {level}: h = {V.mesh.h():.3f}, "
        f"L2 error {error_norm(V, u, exact):.2e}, H1 error {error_norm(V, u, exact, 'H1'):.2e}"
    )
plt.show()
