"""
Hard constraints with a mixture of experts on diffusion-sorption
================================================================

The PI-HC-MoE recipe (Chalapathi, Du and Krishnapriyan, ICLR 2024): an FNO produces ``N``
basis functions on the space-time grid, and the prediction ``u = b_0 + sum_i w_i b_i`` takes its
weights from solving the PDE residual (Levenberg-Marquardt, implicit gradients) instead of
from training. With a mixture of experts, the domain is split into subdomains (here in time);
each expert solves its own small least-squares problem, and all experts of a batch are solved
together.

The problem is PDEBench's 1-D diffusion-sorption, ``R(u) u_t = D u_xx``, ``u(t, 0) = 1`` and an
outflow condition at ``x = 1``, for ``t`` up to 500. All models are trained **physics-only**:
the loss is the residual of the PDE, boundary and initial conditions; the reference solutions of
sciml's finite-volume generator only measure the error. By default a small configuration runs
(16 training initial conditions, 40 steps per model on a coarse grid);
``SCIML_EXAMPLE_SIZE=full`` trains on 48 initial conditions for 120 steps per model (test errors
soft 0.060, global hard 0.036, MoE 0.103; about 3 minutes on a 2-core CPU, one thread).
The dashed line in the last plot is the floor of physics-only training on this grid: the exact
solution of the loss's own time-stepping scheme (0.014 from the reference in the small run).
``benchmarks/pihc_sorption.py`` runs the full comparison.
"""

# %%
import matplotlib.pyplot as plt
import torch

from sciml.app import example_size
from sciml.constraints import SorptionPIHC, physics_metrics, physics_step, sorption_data
from sciml.train import TrainConfig, Trainer

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

grid = {"nx": 33, "nt": 25}
n_train, n_test = (48, 8) if FULL else (16, 4)
train = sorption_data(n_train, seed=1, cells=256, **grid)  # only the initial data are used
test = sorption_data(n_test, seed=2, cells=256, **grid)

# %%
# The same network in three modes: the soft constraint (residual as the loss), one global
# hard constraint, and four experts that split the time interval. Each expert solves the PDE
# with both boundary conditions on its own time range, starting from the initial data (the
# first expert) or from the network's particular solution on its first line.
models = {}
histories = {}
for name, mode, experts in (("soft", "soft", 1), ("global hard", "hard", 1), ("MoE", "hard", 4)):
    torch.manual_seed(0)
    model = SorptionPIHC(
        mode=mode,
        experts=experts,
        points=2000,
        n_basis=16,
        width=16,
        layers=2,
        fno_modes=(8, 8),
        on_failure="ignore",
        **grid,
    )
    config = TrainConfig(epochs=10, batch_size=4, lr=1e-3, grad_clip=1.0, progress=False)
    trainer = Trainer(model, physics_step, config, train, test, metrics=physics_metrics)
    histories[name] = trainer.fit()
    models[name] = model
    print(f"{name:12s} rel. L2 test error {histories[name][-1]['rel_l2']:.3f}")

# %%
# Prediction of each model for one unseen initial condition, next to the reference.
sample = test[0]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharey=True, layout="constrained")
extent = (0, 500, 0, 1)
axes[0].imshow(sample["u"], origin="lower", aspect="auto", extent=extent, vmin=0, vmax=1)
axes[0].set(title="reference (finite volumes)", xlabel="t", ylabel="x")
for ax, (name, model) in zip(axes[1:], models.items(), strict=True):
    model.eval()
    with torch.no_grad():
        u = model(sample["u0"][None]).u[0]
    image = ax.imshow(u, origin="lower", aspect="auto", extent=extent, vmin=0, vmax=1)
    err = float((u - sample["u"]).norm() / sample["u"].norm())
    ax.set(title=f"{name}: error {err:.3f}", xlabel="t")
fig.colorbar(image, ax=axes.tolist(), label="concentration u")

# %%
# How low can a physics-only model go? The loss is the residual of a BDF2 time-stepping scheme
# on this grid; its exact solution (``discrete_solution``, Newton's method, no network) has loss
# zero, and its distance to the finite-volume reference is the discretisation error that no
# training on this loss removes.
u0 = torch.stack([test[i]["u0"] for i in range(n_test)])
ref = torch.stack([test[i]["u"] for i in range(n_test)])
exact = models["soft"].discrete_solution(u0)
floor = float(((exact - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)).mean())
print(f"exact solution of the grid loss: rel. L2 test error {floor:.3f}")

# %%
# Relative L2 test error during training. Each hard-constrained model satisfies its residual
# in the least-squares sense at every step, so it starts from a physically sensible output.
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, history in histories.items():
    ax.semilogy([r["epoch"] for r in history], [r["rel_l2"] for r in history], "o-", label=name)
ax.axhline(floor, color="k", ls="--", label="grid loss solved exactly")
ax.set(xlabel="epoch", ylabel="relative L2 test error")
ax.legend()
fig.tight_layout()
plt.show()
