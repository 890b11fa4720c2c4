"""
Hard constraints with a mixture of experts on 2-D Navier-Stokes
===============================================================

The second problem of the PI-HC-MoE paper (Chalapathi, Du and Krishnapriyan, ICLR 2024):
decaying 2-D turbulence on the periodic unit square in vorticity form at ``Re = 1 / nu = 1e4``,

``w_t + u w_x + v w_y - nu Laplace(w) = 0``, ``-Laplace(psi) = w``, ``(u, v) = (psi_y, -psi_x)``.

:class:`sciml.constraints.VorticityPIHC` maps the initial vorticity ``w0`` with an FNO to ``N``
basis functions on the space-time grid, and predicts ``w = w0 + sum_i c_i (t / T) b_i``: the
initial condition holds for any weights. The weights ``c`` are trained (soft constraint) or
solved per sample from the PDE residual (hard constraint, Levenberg-Marquardt with implicit
gradients); with ``splits=(2, 2)`` four experts each solve the residual on one quadrant of the
square with their own weights. All models are trained **physics-only**: the loss is the
residual of the assembled prediction (spectral in space, BDF2 in time); the references of
sciml's pseudo-spectral solver (:func:`sciml.constraints.vorticity_data`) only measure the
error.

By default this is a small run: a 32 x 32 grid, 6 time levels up to ``T = 0.1``, 8 basis
functions, an FNO of width 8, 32 training initial conditions and 32 optimisation steps per
model; the errors below are those of barely trained networks. ``SCIML_EXAMPLE_SIZE=full`` uses
16 basis functions, width 16, 96 training and 8 test initial conditions and 240 steps per model
on the same grid: relative L2 errors 0.258 (soft), 0.205 (global hard) and 0.184 (MoE) against
0.287 for persistence, in about 4 minutes on a 2-core CPU (one thread).
``benchmarks/pihc_navier_stokes.py`` runs the measured comparison (64 x 64 grid, 16 basis
functions, 128 initial conditions, 320 steps); its results are in ``docs/constraints.rst``.
There the global hard constraint ends up more accurate than the experts: do not read the
ranking of these shorter runs as a result.
"""

# %%
# Reference data
# --------------
# Initial vorticities are Gaussian random fields; the references come from
# :func:`sciml.data.generate_navier_stokes_2d` (integrating-factor RK4 on a 64 x 64 grid,
# saved on the model's 32 x 32 grid). Only ``w0`` of the training set is used. Over
# ``T = 0.1`` the flow moves by about a tenth of the domain, so keeping the initial vorticity
# (persistence, ``w(t) = w0``) is a baseline that needs no training.
import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

from sciml.app import example_size
from sciml.constraints import (
    VORTICITY_FIELDS,
    VorticityPIHC,
    physics_metrics,
    physics_step,
    vorticity_data,
    vorticity_residual,
)
from sciml.train import TrainConfig, Trainer

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

grid = {"n": 32, "nt": 6, "T": 0.1}
n_train, n_test = (96, 8) if FULL else (32, 4)
train = vorticity_data(n_train, seed=1, **grid)
test = vorticity_data(n_test, seed=2, **grid)


def relative_error(w: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Relative L2 error of every trajectory over the whole space-time grid.

    Parameters
    ----------
    w, ref : torch.Tensor
        ``(batch, nt, n, n)`` prediction and reference.

    Returns
    -------
    torch.Tensor
        ``(batch,)`` ``||w - ref|| / ||ref||``.
    """
    return (w - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


persistence = float(relative_error(test.u0[:, None].expand_as(test.u), test.u).mean())
print(
    f"{len(train)} training and {len(test)} test initial conditions, {grid['n']} x {grid['n']} "
    f"grid, {grid['nt']} time levels up to T = {grid['T']}"
)

# %%
# Three models
# ------------
# The same network (``torch.manual_seed(0)`` before each) in three modes: the soft constraint
# (the weights ``c`` are trained parameters and the residual is only the loss), one global
# hard constraint and four experts on the quadrants. Each hard constraint fits its residual at
# 2,000 random space-time points per training step (500 per expert for the MoE). Adam,
# learning rate ``1e-3``, gradient-norm clipping 1.0, as in the paper.
MODES = {"soft": ("soft", (1, 1)), "global hard": ("hard", (1, 1)), "MoE (2 x 2)": ("hard", (2, 2))}
models: dict[str, VorticityPIHC] = {}
histories: dict[str, list[dict[str, float]]] = {}
for name, (mode, splits) in MODES.items():
    torch.manual_seed(0)
    model = VorticityPIHC(
        mode=mode,
        splits=splits,
        points=2000,
        n_basis=16 if FULL else 8,
        width=16 if FULL else 8,
        layers=2,
        fno_modes=(3, 8, 8),
        on_failure="ignore",  # unconverged inner solves are counted in the metrics instead
        **grid,
    )
    config = TrainConfig(
        epochs=10 if FULL else 4, batch_size=4, lr=1e-3, grad_clip=1.0, progress=False
    )
    trainer = Trainer(model, physics_step, config, train, test, metrics=physics_metrics)
    histories[name] = trainer.fit()
    models[name] = model.eval()

errors = {name: history[-1]["rel_l2"] for name, history in histories.items()}
print(f"{'model':24s} {'rel. L2 test error':>18s} {'test physics loss':>18s}")
print(f"{'persistence w(t) = w0':24s} {persistence:18.4f}")
for name, history in histories.items():
    final = history[-1]
    print(f"{name:24s} {final['rel_l2']:18.4f} {final['test_loss']:18.3g}")
failures = {name: history[-1]["failures"] for name, history in histories.items()}
print(f"unconverged inner solves on the test set: {failures}")

# %%
# The residual on the experts' quadrants
# --------------------------------------
# Each expert's weights minimise the residual on its own quadrant (in evaluation mode: at the
# grid nodes with ``t > 0``), so on its quadrant the expert's trajectory
# ``w0 + sum_i c_i^k (t / T) b_i`` has a smaller residual than persistence, which is the same
# trajectory with ``c = 0`` (where the solve starts). The prediction takes on each quadrant the
# trajectory of its expert; its spectral derivatives see the jumps between the experts, and
# its residual is larger than that of the experts' own trajectories on every quadrant. The
# reference is not a zero of this residual either: it solves the PDE, not its discretisation
# on 6 time levels.


def quadrant_residual(model: VorticityPIHC, w: torch.Tensor, w0: torch.Tensor) -> torch.Tensor:
    """RMS vorticity residual on each expert's quadrant, per unit of ``rms(w0)``.

    Parameters
    ----------
    model : VorticityPIHC
        Gives the grid, the derivatives and the quadrants of its experts.
    w : torch.Tensor
        ``(batch, K, nt, n, n)`` trajectories, ``K`` the model's experts: trajectory ``k`` is
        read on the quadrant of expert ``k``.
    w0 : torch.Tensor
        ``(batch, n, n)`` initial vorticity (its RMS scales the residual).

    Returns
    -------
    torch.Tensor
        ``(batch, K)`` root-mean-square residual at the nodes of each quadrant with ``t > 0``.
    """
    batch, K = w.shape[:2]
    full = model.derivatives(w.to(torch.float64))
    rows = {name: full[name][:, :, 1:].reshape(batch * K, -1) for name in VORTICITY_FIELDS}
    scale = w0.to(torch.float64).pow(2).mean(dim=(1, 2)).sqrt().repeat_interleave(K)
    r = vorticity_residual(rows, scale, nu=model.nu).reshape(batch, K, -1, model.n, model.n)
    experts = torch.arange(K)[:, None, None]
    own = r.permute(0, 1, 3, 4, 2)[:, experts, model.expert_x, model.expert_y]
    return own.pow(2).mean(dim=(2, 3, 4)).sqrt()


moe = models["MoE (2 x 2)"]
K = moe.experts
w0, ref = test.u0, test.u


def everywhere(w: torch.Tensor) -> torch.Tensor:
    """One trajectory ``(batch, nt, n, n)`` for every expert: ``(batch, K, nt, n, n)``."""
    return w[:, None].expand(-1, K, -1, -1, -1)


with torch.no_grad():
    out = moe(w0)
    basis = moe.basis(w0).to(torch.float64)
    own = w0[:, None, None] + torch.einsum("bntxy,bkn->bktxy", basis[:, 1:], out.weights)
    residuals = {
        "persistence w(t) = w0": quadrant_residual(moe, everywhere(w0[:, None].expand_as(ref)), w0),
        "reference solution": quadrant_residual(moe, everywhere(ref), w0),
        "MoE, each expert's own": quadrant_residual(moe, own, w0),
        "MoE, assembled prediction": quadrant_residual(moe, everywhere(out.u), w0),
    }
print("RMS residual / rms(w0) on the quadrants, mean over the test set")
print(f"{'':28s}" + "".join(f"{f'quadrant {k}':>12s}" for k in range(K)))
for name, value in residuals.items():
    print(f"{name:28s}" + "".join(f"{float(v):12.3f}" for v in value.mean(0)))

# %%
# Predictions at the final time
# -----------------------------
# One unseen initial condition: the reference vorticity at ``t = T``, the prediction of each
# model, and the error of the mixture of experts, with the boundaries of the experts' quadrants
# (the square is periodic, so the quadrants also meet at its edges).
n = grid["n"]
extent = (-0.5 / n, 1 - 0.5 / n, -0.5 / n, 1 - 0.5 / n)  # pixel centres on the nodes i / n
lim = float(ref[0, -1].abs().max())
panels = {"reference, t = T": ref[0, -1].numpy()}
with torch.no_grad():
    for name, model in models.items():
        panels[name] = model(w0[:1]).u[0, -1].numpy()
fig, axes = plt.subplots(1, 5, figsize=(17, 3.6), layout="constrained")
for ax, (title, field) in zip(axes[:4], panels.items(), strict=True):
    image = ax.imshow(field.T, origin="lower", extent=extent, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set(title=title, xlabel="x")
axes[0].set_ylabel("y")
fig.colorbar(image, ax=axes[:4].tolist(), shrink=0.85, label="vorticity w")
error = abs(panels["MoE (2 x 2)"] - panels["reference, t = T"])
err_image = axes[4].imshow(error.T, origin="lower", extent=extent, cmap="magma")
sx, sy = moe.splits
for i in range(1, sx):
    axes[4].axvline((i * n // sx - 0.5) / n, color="w", lw=1.5, ls="--")
for j in range(1, sy):
    axes[4].axhline((j * n // sy - 0.5) / n, color="w", lw=1.5, ls="--")
axes[4].set(title="|error| of the MoE, t = T", xlabel="x")
fig.colorbar(err_image, ax=axes[4], shrink=0.85)

# %%
# Relative L2 test error during training, against persistence.
fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
for name, history in histories.items():
    ax.plot([r["epoch"] for r in history], [r["rel_l2"] for r in history], "o-", label=name)
ax.axhline(persistence, color="k", ls=":", label="persistence w(t) = w0")
ax.set(xlabel="epoch", ylabel="relative L2 test error", title="physics-only training")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend()
plt.show()
