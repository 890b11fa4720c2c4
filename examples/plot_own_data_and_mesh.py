"""
Bring your own data and mesh
============================

You have your own geometry and your own simulation results, and want to train a sciml model on
them. This example walks through the two hand-over points:

1. **the mesh**: a gmsh ``.msh`` file with named physical groups, read by
   :func:`sciml.mesh.load`; the groups become markers that name the Dirichlet boundaries;
2. **the data**: NumPy arrays, one row per sample, stored with :func:`sciml.data.write_dataset`
   in sciml's HDF5 format and read back lazily with :class:`sciml.data.H5Dataset`.

Nothing is downloaded: the geometry is built with gmsh's Python API, and "your" simulations are
produced by a small stand-alone finite-element code written with NumPy and SciPy only, which
reads the ``.msh`` file itself and knows nothing of sciml or dolfinx -- as an external solver
would. Its results are per-node arrays in the node order of the mesh file, so the example also
shows how to bring such arrays into the dof order of a sciml finite-element space.

The model is a structure-preserving operator network (:class:`sciml.spon.SPON`) trained with
:class:`sciml.train.Trainer`: its outputs are finite-element functions on your mesh that satisfy
the Dirichlet conditions exactly. By default the configuration is small (a hundred samples, a
few hundred optimiser steps) so that the script runs in about a minute on a laptop CPU; the SPON
then reaches a relative L2 test error of 0.15, against 0.19 for the best linear baseline.
``SCIML_EXAMPLE_SIZE=full`` trains on three times the data for three times the epochs: 0.029
against 0.21 (measured in 9 minutes on a busy two-core CPU, one torch thread).
"""

# %%
# The geometry: a plate with a circular pipe
# ------------------------------------------
# A 2 x 1 plate with a hole of radius 0.2, built with gmsh's OpenCASCADE kernel. Every boundary
# curve and the surface go into a *named* physical group: :func:`sciml.mesh.load` turns each named
# group of cells or facets into a marker of that name. Name every group you need: unnamed groups
# all get the empty name, so they do not become usable markers. Only cells in a physical group
# become part of the mesh, and each cell must be in exactly one. Unnamed groups (``Physical
# Curve(3)`` in a ``.geo`` file) become markers named after their kind and tag, here it would be
# ``"facets_3"``; a file without a group of cells, or with cells in two groups, is refused with a
# ``ValueError`` saying so. The file is written as gmsh writes any ``.msh`` file (format 4.1),
# into a temporary folder.
import tempfile
from pathlib import Path

import dolfinx_solver  # noqa: F401  (must come before dolfinx)
import gmsh
import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

import sciml.cli
from sciml.app import example_size
from sciml.data import GeneratedData, H5Dataset, write_dataset
from sciml.fem import (
    FunctionSpace,
    dirichlet,
    mass,
    match_nodes,
    relative_l2_error,
    stiffness,
    write_fields,
)
from sciml.mesh import load
from sciml.spon import SPON
from sciml.train import FENormLoss, TrainConfig, Trainer, load_checkpoint

LENGTH, HEIGHT = 2.0, 1.0  # the plate
PIPE = (0.6, 0.5, 0.2)  # centre x, centre y, radius of the hole
H = 0.045  # mesh size

work = Path(tempfile.mkdtemp(prefix="sciml_own_data_"))


def build_plate(path: Path, h: float) -> Path:
    """Mesh the plate with a hole with gmsh and write it to a ``.msh`` file.

    Parameters
    ----------
    path : pathlib.Path
        Target ``.msh`` file.
    h : float
        Uniform mesh size.

    Returns
    -------
    pathlib.Path
        ``path``. Physical groups: ``"plate"`` (the triangles) and the boundary curves
        ``"inlet"`` (x = 0), ``"outlet"`` (x = LENGTH), ``"walls"`` (y = 0 and y = HEIGHT) and
        ``"pipe"`` (the circle).
    """
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 1)  # errors only
        gmsh.option.setNumber("General.NumThreads", 1)  # deterministic meshing
        gmsh.model.add("plate")
        occ = gmsh.model.occ
        rectangle = occ.addRectangle(0.0, 0.0, 0.0, LENGTH, HEIGHT)
        hole = occ.addDisk(PIPE[0], PIPE[1], 0.0, PIPE[2], PIPE[2])
        ((_, surface),), _ = occ.cut([(2, rectangle)], [(2, hole)])
        occ.synchronize()
        curves: dict[str, list[int]] = {"inlet": [], "outlet": [], "walls": [], "pipe": []}
        for _, tag in gmsh.model.getBoundary([(2, surface)], oriented=False):
            x, y, _ = occ.getCenterOfMass(1, abs(tag))
            if np.isclose(x, 0.0):
                curves["inlet"].append(abs(tag))
            elif np.isclose(x, LENGTH):
                curves["outlet"].append(abs(tag))
            elif np.isclose(y, 0.0) or np.isclose(y, HEIGHT):
                curves["walls"].append(abs(tag))
            else:
                curves["pipe"].append(abs(tag))
        gmsh.model.addPhysicalGroup(2, [surface], name="plate")
        for name, tags in curves.items():
            gmsh.model.addPhysicalGroup(1, tags, name=name)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay
        gmsh.model.mesh.generate(2)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


msh_file = build_plate(work / "plate.msh", H)
mesh = load(msh_file)  # exactly what you would do with your own .msh file
print(mesh)
for name, marker in sorted(mesh.markers.items()):
    kind = "cells" if marker.dim == mesh.dim else "facets"
    print(f"  marker {name!r}: {marker.entities.size} {kind}, measure {mesh.measure(name):.4f}")

# %%
# "Your" simulations, computed outside sciml
# ------------------------------------------
# The stand-in for your solver: steady heat conduction in a thin plate that loses heat to the
# surrounding air, linearly and by a cubic law (a stand-in for radiation), heated by a random
# source ``q``,
#
# .. math::
#
#     -\nabla \cdot (k \nabla u) + \alpha u + \beta u^3 = q \quad \text{in the plate}, \qquad
#     u = 1 \text{ on the pipe}, \quad u = 0 \text{ on the inlet},
#
# insulated (``k du/dn = 0``) on the walls and the outlet, with ``k = 0.005``, ``alpha = 1`` and
# ``beta = 2``. The source is a random sum of plane waves. The code reads the nodes, triangles and
# physical groups from the ``.msh`` file with the gmsh API, assembles linear (P1) finite elements
# with NumPy (the cubic term through the P1 interpolant of ``u^3``) and solves the nonlinear system
# with Newton's method and a sparse direct solver. Its results are NumPy arrays of shape
# ``(n_samples, n_nodes)``, in the order of the nodes of the mesh file, and the node coordinates:
# the usual output of an external code. They are saved to an ``.npz`` file, the hand-over point.
CONDUCTIVITY, COOLING, RADIATION = 0.005, 1.0, 2.0
FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: three times the data and epochs
N_TRAIN, N_TEST = (300, 40) if FULL else (100, 20)


def simulate(path: Path, n_samples: int, seed: int) -> dict[str, npt.NDArray[np.float64]]:
    """Solve the nonlinear heat problem for random sources with P1 elements in NumPy/SciPy.

    Parameters
    ----------
    path : pathlib.Path
        A gmsh ``.msh`` file with the physical groups ``"pipe"`` and ``"inlet"``.
    n_samples : int
        Number of random sources.
    seed : int
        Seed of the sources.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"nodes"`` ``(n_nodes, 2)`` coordinates in the node order of the file, ``"q"`` and
        ``"u"`` ``(n_samples, n_nodes)`` source and temperature at those nodes.
    """
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 1)
        gmsh.open(str(path))
        tags, xyz, _ = gmsh.model.mesh.getNodes()
        order = np.argsort(tags)
        tags, nodes = tags[order], xyz.reshape(-1, 3)[order, :2]
        types, _, element_nodes = gmsh.model.mesh.getElements(2)
        triangles = np.searchsorted(tags, element_nodes[list(types).index(2)].reshape(-1, 3))
        fixed: dict[str, npt.NDArray[np.int64]] = {}
        for dim, group in gmsh.model.getPhysicalGroups(1):
            name = gmsh.model.getPhysicalName(dim, group)
            fixed[name] = np.searchsorted(
                tags, gmsh.model.mesh.getNodesForPhysicalGroup(dim, group)[0]
            )
    finally:
        gmsh.finalize()
    n = nodes.shape[0]
    p = nodes[triangles]  # (cells, 3, 2)
    edges = np.stack([p[:, 2] - p[:, 1], p[:, 0] - p[:, 2], p[:, 1] - p[:, 0]], axis=1)
    area = 0.5 * np.abs(edges[:, 2, 0] * edges[:, 1, 1] - edges[:, 2, 1] * edges[:, 1, 0])
    grads = np.stack([-edges[..., 1], edges[..., 0]], axis=-1) / (2.0 * area)[:, None, None]
    k_local = np.einsum("cid,cjd->cij", grads, grads) * area[:, None, None]
    m_local = (np.ones((3, 3)) + np.eye(3)) / 12.0 * area[:, None, None]
    rows, cols = np.repeat(triangles, 3, axis=1).ravel(), np.tile(triangles, (1, 3)).ravel()
    K = sp.csr_array((k_local.ravel(), (rows, cols)), shape=(n, n))
    M = sp.csr_array((m_local.ravel(), (rows, cols)), shape=(n, n))
    A = (CONDUCTIVITY * K + COOLING * M).tocsr()
    dofs = np.concatenate([fixed["pipe"], fixed["inlet"]])
    values = np.concatenate([np.ones(fixed["pipe"].size), np.zeros(fixed["inlet"].size)])
    free = np.setdiff1d(np.arange(n), dofs)
    A_free, M_free = A[free][:, free], M[free][:, free]
    rng = np.random.default_rng(seed)
    q = np.empty((n_samples, n))
    u = np.empty((n_samples, n))
    for s in range(n_samples):
        waves = rng.normal(0.0, 3.0, (16, 2))
        phases = rng.uniform(0.0, 2.0 * np.pi, 16)
        amplitudes = rng.normal(0.0, 1.0, 16)
        q[s] = np.sqrt(2.0 / 16) * (amplitudes * np.cos(nodes @ waves.T + phases)).sum(axis=1)
        u[s] = 0.0
        u[s, dofs] = values
        load = (M @ q[s])[free]
        for _ in range(30):  # Newton's method on the free nodes
            residual = (A @ u[s] + RADIATION * (M @ u[s] ** 3))[free] - load
            if np.linalg.norm(residual) <= 1e-12 * np.linalg.norm(load):
                break
            jacobian = A_free + 3.0 * RADIATION * M_free @ sp.diags_array(u[s, free] ** 2)
            u[s, free] -= spla.spsolve(jacobian.tocsc(), residual)
        else:
            raise RuntimeError(f"Newton's method did not converge for sample {s}")
    return {"nodes": nodes, "q": q, "u": u}


np.savez(work / "simulations.npz", **simulate(msh_file, N_TRAIN + N_TEST, seed=0))

# %%
# From node order to dof order
# ----------------------------
# sciml models work on the degrees of freedom of a :class:`sciml.fem.FunctionSpace`, numbered as
# dolfinx numbers them (a reordering of the mesh nodes for memory locality), not in the order of
# the mesh file. For P1 elements there is one dof per mesh vertex, so per-node arrays only need
# a permutation: :func:`sciml.fem.match_nodes` matches the coordinates of your nodes to
# :attr:`sciml.fem.FunctionSpace.dof_coordinates` and checks that the match is exact and
# one-to-one, raising a ``ValueError`` otherwise (other nodes, another mesh, a shifted copy).
# (For P2 spaces the dofs include edge midpoints: build the P1 dof vector this way and map it
# with :func:`sciml.fem.interpolation_between`.)
#
# The match guarantees the positions; verify the values too, with a check independent of your
# code: here the residual of the PDE for one sample, assembled by sciml on the loaded mesh,
# vanishes at every free dof (a scrambled field would leave a residual of order one). Any
# independent check that would catch a scrambled field will do.
simulations = np.load(work / "simulations.npz")
V = FunctionSpace(mesh, "P", 1)
node_of_dof = match_nodes(simulations["nodes"], V)  # dof j sits at node node_of_dof[j]
q = simulations["q"][:, node_of_dof]  # (n_samples, V.num_dofs), dof order
u = simulations["u"][:, node_of_dof]
print(f"{q.shape[0]} samples of {V.num_dofs} dofs, in dof order")

M_sciml = mass(V)  # the same P1 matrices, assembled by sciml
A_sciml = CONDUCTIVITY * stiffness(V) + COOLING * M_sciml
u0, q0 = torch.from_numpy(u[0]), torch.from_numpy(q[0])
residual = A_sciml @ u0 + RADIATION * (M_sciml @ u0**3) - M_sciml @ q0
free = torch.ones(V.num_dofs, dtype=torch.bool)
free[V.boundary_dofs("pipe")] = free[V.boundary_dofs("inlet")] = False
check = float(residual[free].abs().max() / (M_sciml @ q0).abs().max())
print(f"sample 0: relative PDE residual of your solution, assembled by sciml: {check:.1e}")

# %%
# Store the arrays in sciml's HDF5 format
# ---------------------------------------
# :func:`sciml.data.write_dataset` takes a :class:`sciml.data.GeneratedData` of torch tensors or
# NumPy arrays (here wrapped with ``torch.from_numpy``, which does not copy): ``inputs`` and
# ``outputs`` are named fields of shape ``(n_samples, ...)``, as many as you like, here one each of
# shape ``(n_samples, n_dofs)`` in dof order; ``coords`` hold shared arrays without a sample
# dimension; ``attrs`` document the data (numbers and strings). Arrays are stored in the dtype you
# pass (float64 here; float32 halves the file) and :class:`~sciml.data.H5Dataset` casts them to the
# dtype it is asked for. The first ``n_train`` samples form the training split and the rest the test
# split; normalisation statistics of the training split are stored with the data. Store the dof
# coordinates: the file does not contain the mesh, and they let every later reader check that its
# space numbers the dofs the same way. The file is written under a temporary name and renamed when
# complete.
dataset = GeneratedData(
    inputs={"q": torch.from_numpy(q)},
    outputs={"u": torch.from_numpy(u)},
    coords={"dof_coordinates": torch.from_numpy(V.dof_coordinates.copy())},
    attrs={
        "pde": "-div(k grad u) + alpha u + beta u^3 = q; u = 1 on pipe, u = 0 on inlet, "
        "insulated elsewhere",
        "k": CONDUCTIVITY,
        "alpha": COOLING,
        "beta": RADIATION,
        "mesh": msh_file.name,
        "element": "P1",
        "dof_order": "sciml.fem.FunctionSpace(load(mesh), 'P', 1)",
        "solver": "stand-alone NumPy/SciPy P1 code, Newton's method, sparse direct solves",
        "seed": 0,
    },
)
path = write_dataset(work / "plate_heat.h5", dataset, n_train=N_TRAIN)
sciml.cli.main(["data", "info", str(path)])  # the same as `sciml data info plate_heat.h5`

# %%
# What is checked, and what is not
# --------------------------------
# ``write_dataset`` refuses fields whose numbers of samples disagree and fields with NaN or Inf
# (a failed simulation), with a message naming the field; nothing is written then. It cannot
# know your mesh, so it does not check the number of dofs -- a transposed ``(n_dofs, n_samples)``
# array with as many dofs as samples would be stored -- but the model does, when it first sees
# the data.
failed = dataset.outputs["u"].clone()
failed[7, :] = float("nan")  # a simulation that diverged
mistakes = {
    "one output sample missing": dataset.outputs["u"][:-1],
    "a NaN in the outputs": failed,
}
for what, outputs in mistakes.items():
    try:
        write_dataset(work / "broken.h5", GeneratedData(dataset.inputs, {"u": outputs}))
    except ValueError as error:
        print(f"{what}: ValueError: {error}")

# %%
# Read it back lazily
# -------------------
# :class:`sciml.data.H5Dataset` reads one split sample by sample (or all at once with
# ``preload=True``) as a torch ``Dataset`` of dictionaries ``{"q": ..., "u": ...}``, in float32
# by default. With ``normalize=True`` every field is encoded pointwise with the stored training
# statistics, and :meth:`~sciml.data.H5Dataset.normalizer` gives the matching decoder.
normalized = H5Dataset(path, "train", normalize=True)
q_norm = normalized.normalizer("q")
z = torch.stack([normalized[i]["q"] for i in range(len(normalized))]).double()  # one by one
print(
    f"normalised q over the training split: per-dof mean up to {z.mean(0).abs().max():.1e}, "
    f"per-dof std {z.std(0, unbiased=False).min():.4f} to {z.std(0, unbiased=False).max():.4f}"
)
roundtrip = float((q_norm.decode(z[0]) - dataset.inputs["q"][0]).abs().max())
print(f"sample 0 decoded again: max difference {roundtrip:.1e} (samples come in float32)")

train = H5Dataset(path, "train", preload=True)  # float32 for training
test = H5Dataset(path, "test", dtype=torch.float64, preload=True)  # float64 for evaluation
if not np.allclose(train.coords["dof_coordinates"].numpy(), V.dof_coordinates, atol=1e-12):
    raise ValueError("the dataset was written for another dof order")


# %%
# Train a SPON on the mesh
# ------------------------
# A :class:`sciml.spon.SPON` maps the dof vector of ``q`` to the dof vector of ``u`` on ``V``
# with a graph network on the mesh. The Dirichlet conditions are given by the names of the
# physical groups: on those dofs the output is *copied* from the prescribed values, bit for bit,
# so the SPON trains on the data in physical units (not normalised: normalising would move the
# boundary values); the stored statistics only set its input and output scales. The loss is the
# relative error in the L2 norm of the finite-element space (:class:`sciml.train.FENormLoss`).
# The Dirichlet values given to the model must be those of your data (here exactly 1 and 0), or
# the copied boundary values will differ from them.
# The :class:`~sciml.train.Trainer` writes ``checkpoint.pt``, ``history.json`` and ``loss.png``.
# A SPON's constructor takes the spaces, which are not plain values, so it records no
# ``init_args``: rebuild it with the same arguments and load the weights (or use
# :meth:`sciml.spon.SPON.save` and :func:`sciml.spon.load_spon`, which store the mesh too).
def make_model() -> SPON:
    """The SPON of this example: ``u = 1`` on the pipe and ``u = 0`` on the inlet, exactly.

    Returns
    -------
    SPON
    """
    return SPON(
        V,
        V,
        bcs=[dirichlet(V, "pipe", 1.0), dirichlet(V, "inlet", 0.0)],
        hidden=32,
        layers=4,
        input_scale=float(q_norm.std.mean()),
        output_scale=float(normalized.normalizer("u").std.mean()),
    )


loss_fn = FENormLoss(V, "l2")


def step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean relative L2 (FE norm) error of a batch."""
    return loss_fn(model(batch["q"]), batch["u"])


try:
    make_model()(torch.from_numpy(q.T))  # (n_dofs, n_samples): transposed by mistake
except ValueError as error:
    print(f"transposed input: ValueError: {error}")

torch.manual_seed(0)  # the initial weights
config = TrainConfig(
    epochs=30 if FULL else 10,
    batch_size=4,
    lr=3e-3,
    scheduler="cosine",
    out_dir=str(work / "run"),
    progress=False,
    seed=0,
)
trainer = Trainer(make_model(), step, config, train, test)
history = trainer.fit()
print(f"relative L2 test error after {config.epochs} epochs: {history[-1]['test_loss']:.3f}")

# %%
# Reload, evaluate and write for ParaView
# ---------------------------------------
ckpt = load_checkpoint(work / "run" / "checkpoint.pt")
model = make_model()
model.load_state_dict(ckpt["model_state"])
model.eval()
q_test = torch.stack([test[i]["q"] for i in range(len(test))])  # the test split of the file
u_test = torch.stack([test[i]["u"] for i in range(len(test))])
with torch.no_grad():
    prediction = model(q_test).double()
error = relative_l2_error(V, prediction, u_test)
u_mean = normalized.normalizer("u").mean  # the stored mean of the training outputs
baseline = relative_l2_error(V, u_mean, u_test)
bc_error = float((prediction[:, model.bc_dofs] - u_test[:, model.bc_dofs]).abs().max())
print(f"relative L2 test error: mean {error.mean():.3f}, max {error.max():.3f}")
print(f"predicting the mean of the training outputs: {baseline.mean():.3f}")
print(f"max error on the Dirichlet dofs: {bc_error:.1e}")

# %%
# Measure against baselines that know the data
# ---------------------------------------------
# Predicting the mean is a weak baseline. Two linear ones, fitted to the same training pairs:
# a per-dof affine fit ``u_i = a_i q_i + b_i`` (heat stays where it is produced, up to the
# thin diffusion layers), and ridge regression ``u = W q + c`` over all dofs, whose
# regularisation is picked as the best of a range *on the test split* (which favours it). Both
# reproduce the Dirichlet values, since those are the same in every sample. The cubic law makes
# the operator nonlinear, so neither is exact; for a linear PDE with smooth sources a linear fit
# can be, and would be the model to beat. Compare with such baselines before trusting a model
# on your own data.
q_train, u_train, q_test_np = q[:N_TRAIN], u[:N_TRAIN], q[N_TRAIN:]
dq, du = q_train - q_train.mean(0), u_train - u_train.mean(0)
slope = (dq * du).sum(0) / (dq**2).sum(0)
pointwise = u_train.mean(0) + slope * (q_test_np - q_train.mean(0))
pointwise_error = relative_l2_error(V, torch.from_numpy(pointwise), u_test)
features = np.hstack([q_train, np.ones((N_TRAIN, 1))])
test_features = np.hstack([q_test_np, np.ones((N_TEST, 1))])
ridge_errors = {}
for lam in (1e-4, 1e-2, 1.0, 1e1, 1e2, 1e3):
    coefficients = np.linalg.solve(features @ features.T + lam * np.eye(N_TRAIN), u_train)
    ridge = test_features @ (features.T @ coefficients)
    ridge_errors[lam] = float(relative_l2_error(V, torch.from_numpy(ridge), u_test).mean())
best_lam = min(ridge_errors, key=ridge_errors.__getitem__)
print(f"relative L2 test error, {N_TRAIN} training pairs each:")
rows = {
    "mean of the training outputs": float(baseline.mean()),
    "per-dof affine fit": float(pointwise_error.mean()),
    f"ridge regression (lambda={best_lam:g})": ridge_errors[best_lam],
    "SPON": float(error.mean()),
}
for name, value in rows.items():
    print(f"  {name:<34} {value:.3f}")

xdmf = write_fields(
    work / "prediction.xdmf",
    V,
    {"q": q_test, "u": u_test, "prediction": prediction, "error": prediction - u_test},
)
print(f"test samples as time steps 0..{N_TEST - 1} for ParaView: {xdmf}")

# %%
# Mesh, prediction and error
# --------------------------
# For P1 spaces the cells of the dof map are the triangles in dof numbering, so the dof vectors
# plot directly with ``matplotlib.tri``. The error of this briefly trained network is largest
# in the thin layers at the pipe and the inlet, where the temperature changes over a few cells;
# on the Dirichlet dofs themselves it is zero.
x = V.dof_coordinates
tri = mtri.Triangulation(x[:, 0], x[:, 1], V.dolfinx_space.dofmap.list)
fig, axes = plt.subplots(3, 2, figsize=(11, 8), constrained_layout=True)
ax = axes[0, 0]
ax.triplot(tri, color="0.75", linewidth=0.4)
for name, color in [("pipe", "tab:red"), ("inlet", "tab:blue")]:
    dofs = V.boundary_dofs(name)
    ax.plot(x[dofs, 0], x[dofs, 1], ".", color=color, label=f"{name} (Dirichlet)")
ax.set_title(f"mesh from {msh_file.name}: {mesh.num_cells} triangles")
ax.legend(loc="upper right", fontsize=8)
panels = [
    (axes[0, 1], q_test[0], "source q (input)", "RdBu_r"),
    (axes[1, 0], u_test[0], "your solution u", "inferno"),
    (axes[1, 1], prediction[0], f"SPON prediction (error {error[0]:.3f})", "inferno"),
    (axes[2, 0], (prediction[0] - u_test[0]).abs(), "|prediction - u|", "viridis"),
]
limits = {"inferno": (float(u_test[0].min()), float(u_test[0].max()))}  # u and prediction alike
for ax, values, title, cmap in panels:
    vmin, vmax = limits.get(cmap, (None, None))
    art = ax.tripcolor(tri, values.numpy(), shading="gouraud", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title)
    fig.colorbar(art, ax=ax, shrink=0.8)
for ax in axes.flat[:5]:
    ax.set_aspect("equal")
    ax.axis("off")
ax = axes[2, 1]
epochs = [h["epoch"] for h in history]
ax.semilogy(epochs, [h["train_loss"] for h in history], label="train")
ax.semilogy(epochs, [h["test_loss"] for h in history], label="test")
ax.set_xlabel("epoch")
ax.set_ylabel("relative L2 error")
ax.legend()
plt.show()
