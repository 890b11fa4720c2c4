"""
Hard constraints with a mixture of experts on a finite-element mesh
===================================================================

The PI-HC-MoE recipe (Chalapathi, Du and Krishnapriyan, ICLR 2024) on an unstructured mesh,
which the paper's grid models do not cover. The problem is variable-coefficient diffusion,
``-div(kappa grad u) = f`` with ``u = g`` on the boundary of the L-shaped domain
``meshes/l_shape_0.msh`` (P1 elements), with random ``kappa = exp(GRF)``, source ``f`` and
boundary data ``g``.

A graph network on the dof graph (:class:`sciml.constraints.FEDiffusionPIHC`) maps the data
to ``N`` basis functions and a particular solution ``b_0`` on the dofs; the prediction is
``u = b_0 + sum_i w_i b_i``. The residual is the assembled finite-element one, Jacobi-scaled:
``D^-1 (A u - M f)`` on the free dofs and ``u - g`` on the Dirichlet dofs. The weights are
trained (soft constraint) or solved per sample from the residual (hard constraint); with a
mixture of experts the cells are split into parts by recursive coordinate bisection
(:func:`sciml.constraints.partition_cells`), every expert fits the rows of the dofs of its
cells with its own weights, and each dof takes the weights of the part that owns it. All
models are trained **physics-only**; the references (direct sparse solves of the same
assembly, :func:`sciml.constraints.fe_diffusion_data`) only measure the error.

By default this is a small run: 828 dofs, 16 basis functions, a graph network of width 32 with
4 message-passing layers, 24 training samples and 30 optimisation steps per model.
``SCIML_EXAMPLE_SIZE=full`` uses 6 layers, 48 training and 16 test samples and 420 steps per
model: relative L2 errors 0.745 (soft), 0.429 (global hard) and 0.538 (MoE), in about 4 minutes
on a 2-core CPU (one thread). ``benchmarks/pihc_fem.py`` runs the measured comparison (6 layers,
48 samples, 600 steps); its results are in ``docs/constraints.rst``. There, as in the full run,
the global hard constraint ends up more accurate than the experts: do not read the ranking of
the short default run as a result.
"""

# %%
# Data
# ----
# Each sample draws ``kappa``, ``f`` and ``g`` from Karhunen-Loeve fields and solves the
# discrete problem directly. Only ``kappa``, ``f``, ``g`` (and the assembled stiffness
# matrix of ``kappa``, which the residual needs) of the training set are used.
import dolfinx_solver  # noqa: F401  (must come before dolfinx)
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import torch
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator
from matplotlib.tri import Triangulation

from sciml.app import example_size
from sciml.constraints import (
    FEDiffusionPIHC,
    fe_diffusion_data,
    fe_diffusion_metrics,
    fe_diffusion_step,
)
from sciml.fem import relative_l2_error
from sciml.train import TrainConfig, Trainer

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

n_train, n_test = (48, 16) if FULL else (24, 8)
train = fe_diffusion_data(n_train, mesh="l_shape", level=0, seed=1)
test = fe_diffusion_data(n_test, mesh="l_shape", level=0, seed=2)
print(f"{train.attrs['ndofs']} dofs, {len(train)} training and {len(test)} test samples")

# %%
# Three models
# ------------
# The same network (``torch.manual_seed(0)`` before each) as the soft constraint, one global
# hard constraint and four experts on parts of the mesh; Adam, learning rate ``1e-3``,
# gradient-norm clipping 1.0. The error of each network before training is measured too: a
# hard constraint solves for its weights, so it starts from a fit of the residual.
MODES = {"soft": ("soft", 1), "global hard": ("hard", 1), "MoE (4 parts)": ("hard", 4)}
test_batch = dict(test.fields)
models: dict[str, FEDiffusionPIHC] = {}
histories: dict[str, list[dict[str, float]]] = {}
untrained: dict[str, float] = {}
for name, (mode, experts) in MODES.items():
    torch.manual_seed(0)
    model = FEDiffusionPIHC(
        mode=mode,
        experts=experts,
        mesh="l_shape",
        level=0,
        n_basis=16,
        hidden=32,
        layers=6 if FULL else 4,
        on_failure="ignore",  # unconverged inner solves are counted in the metrics instead
    )
    with torch.no_grad():
        untrained[name] = fe_diffusion_metrics(model, test_batch)["rel_l2"]
    config = TrainConfig(
        epochs=35 if FULL else 5, batch_size=4, lr=1e-3, grad_clip=1.0, progress=False
    )
    trainer = Trainer(model, fe_diffusion_step, config, train, test, metrics=fe_diffusion_metrics)
    histories[name] = trainer.fit()
    models[name] = model.eval()

errors = {name: history[-1]["rel_l2"] for name, history in histories.items()}
print(f"{'model':16s} {'rel. L2 error':>14s} {'untrained':>10s} {'test physics loss':>18s}")
for name, history in histories.items():
    final = history[-1]
    print(f"{name:16s} {final['rel_l2']:14.4f} {untrained[name]:10.4f} {final['test_loss']:18.3g}")
failures = {name: history[-1]["failures"] for name, history in histories.items()}
print(f"unconverged inner solves on the test set: {failures}")

# %%
# The residual on the experts' parts
# ----------------------------------
# Expert ``k`` chooses its weights to minimise the residual of ``b_0 + B w_k`` on the rows of
# the dofs of its cells; the prediction takes on each dof the weights of the dof's owner, so
# at the boundaries between parts it mixes experts and its residual there is that of no
# expert's solve. Per part: the RMS residual of the particular solution alone (``w = 0``, where
# each solve starts), of the expert's own solution, and of the assembled prediction, each
# relative to the RMS of the right-hand side (the residual of ``u = 0``). The residual is
# Jacobi-scaled, and a small residual still allows a large L2 error (see the finite-element
# section of ``docs/constraints.rst``).


def part_rms(r: torch.Tensor, rhs: torch.Tensor, rows: npt.NDArray[np.int64]) -> float:
    """RMS of residuals on some rows, relative to the RMS of the right-hand side there.

    Parameters
    ----------
    r, rhs : torch.Tensor
        ``(samples, dofs)`` residuals and right-hand sides.
    rows : numpy.ndarray
        The dofs to measure on.

    Returns
    -------
    float
        ``rms(r[:, rows]) / rms(rhs[:, rows])`` over all samples.
    """
    index = torch.from_numpy(rows)
    return float((r[:, index].pow(2).mean() / rhs[:, index].pow(2).mean()).sqrt())


moe = models["MoE (4 parts)"]
K = moe.experts
rows = [moe.partition.part_dofs(k) for k in range(K)]
with torch.no_grad():
    stiffness, f, g = test_batch["stiffness"], test_batch["f"], test_batch["g"]
    B = moe.basis(test_batch["kappa"], f, g)  # (samples, dofs, 1 + N), channel 0 is b_0
    out = moe.solve(B, stiffness, f, g)
    own = B[..., :1] + torch.einsum("bin,bkn->bik", B[..., 1:], out.weights)  # (.., dofs, K)
    rhs = moe.residual(torch.zeros_like(f), stiffness, f, g)  # minus the right-hand side
    particular = moe.residual(B[..., 0], stiffness, f, g)
    assembled = moe.residual(out.u, stiffness, f, g)
    part_residuals = {
        "b_0 alone (w = 0)": [part_rms(particular, rhs, rows[k]) for k in range(K)],
        "each expert's own": [
            part_rms(moe.residual(own[..., k], stiffness, f, g), rhs, rows[k]) for k in range(K)
        ],
        "assembled prediction": [part_rms(assembled, rhs, rows[k]) for k in range(K)],
    }
print("relative RMS residual on each part of the mesh (test set)")
print(f"{'':22s}" + "".join(f"{f'part {k}':>9s}" for k in range(K)))
for name, values in part_residuals.items():
    print(f"{name:22s}" + "".join(f"{v:9.3f}" for v in values))

# %%
# Partition, reference, prediction and error
# ------------------------------------------
# One unseen sample: the cells coloured by expert, the reference solution, the prediction of
# the mixture of experts and its error, with the boundaries between the parts.


def part_boundaries(
    cell_dofs: npt.NDArray[np.int64], cell_part: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The mesh edges between cells of different parts.

    Parameters
    ----------
    cell_dofs : numpy.ndarray
        ``(cells, 3)`` vertex dofs of the triangles.
    cell_part : numpy.ndarray
        ``(cells,)`` part of every cell.

    Returns
    -------
    numpy.ndarray
        ``(edges, 2)`` dof pairs: the edges shared by two cells of different parts.
    """
    edges = np.sort(cell_dofs[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    parts = np.repeat(cell_part, 3)
    unique, inverse, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    lo = np.full(len(unique), np.iinfo(np.int64).max)
    hi = np.full(len(unique), -1)
    np.minimum.at(lo, inverse.ravel(), parts)
    np.maximum.at(hi, inverse.ravel(), parts)
    return unique[(counts == 2) & (lo != hi)]


xy = moe.space.dof_coordinates
cells = moe.partition.cell_dofs[:, :3]
tri = Triangulation(xy[:, 0], xy[:, 1], cells)
interfaces = xy[part_boundaries(cells, moe.partition.cell_part)]  # (edges, 2, 2)
ref = test_batch["u"][0].numpy()
pred = out.u[0].numpy()
lo, hi = float(ref.min()), float(ref.max())
sample_error = float(relative_l2_error(moe.space, out.u[0], test_batch["u"][0]))

fig, axes = plt.subplots(1, 4, figsize=(17, 4), layout="constrained")
axes[0].tripcolor(tri, facecolors=moe.partition.cell_part.astype(float), cmap="tab10", vmax=9)
axes[0].triplot(tri, color="k", lw=0.2)
axes[0].set_title(f"mesh partition ({K} experts)")
image = axes[1].tripcolor(tri, ref, shading="gouraud", vmin=lo, vmax=hi)
axes[1].set_title("reference (FE direct solve)")
axes[2].tripcolor(tri, pred, shading="gouraud", vmin=lo, vmax=hi)
axes[2].set_title(f"MoE prediction: rel. L2 error {sample_error:.2f}")
fig.colorbar(image, ax=axes[1:3].tolist(), shrink=0.85, label="u")
err_image = axes[3].tripcolor(tri, np.abs(pred - ref), shading="gouraud", cmap="magma")
axes[3].add_collection(LineCollection(interfaces, colors="w", linewidths=1.2, linestyles="--"))
axes[3].set_title("|error| of the MoE, part boundaries")
fig.colorbar(err_image, ax=axes[3], shrink=0.85)
for ax in axes:
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])

# %%
# Relative L2 test error (finite-element norm) during training.
fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
for name, history in histories.items():
    epochs = [0] + [r["epoch"] for r in history]
    ax.plot(epochs, [untrained[name]] + [r["rel_l2"] for r in history], "o-", label=name)
ax.set(xlabel="epoch", ylabel="relative L2 test error", title="physics-only training")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend()
plt.show()
