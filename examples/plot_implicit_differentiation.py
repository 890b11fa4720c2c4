"""
Implicit differentiation: tuning a regularisation by gradient descent
=====================================================================

The ridge-regression solution ``x*(lam) = argmin ||A x - y||^2 + lam ||x||^2`` is defined by
its optimality condition ``F(x, lam) = A^T (A x - y) + lam x = 0``. Decorating any solver of it
with :func:`sciml.implicit.custom_root` makes ``x*`` differentiable in ``lam`` (and in the data):
the backward pass solves one adjoint system with CG instead of unrolling the solver.

Here the gradient of a validation loss with respect to ``log(lam)`` drives a gradient descent
on the regularisation strength, compared against a brute-force scan of the validation loss.
A second part differentiates a batch of nonlinear least-squares fits
(:func:`sciml.implicit.levenberg_marquardt`) with respect to their data.

The ridge problem is small by default (40 training rows, 30 unknowns); ``SCIML_EXAMPLE_SIZE=full``
runs 400 training rows, 2,000 validation rows and 300 unknowns, where gradient descent ends at
``lam = 2.41`` next to the scan's minimum at 2.46 (about 25 s on a 2-core CPU, one thread).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from sciml.app import example_size
from sciml.implicit import custom_root, levenberg_marquardt
from sciml.linalg import cg

FULL = example_size() == "full"  # SCIML_EXAMPLE_SIZE=full: the study-sized run

gen = torch.Generator().manual_seed(0)
n_train, n_val, dim = (400, 2000, 300) if FULL else (40, 200, 30)
x_true = torch.randn(dim, generator=gen, dtype=torch.float64)
A_train = torch.randn(n_train, dim, generator=gen, dtype=torch.float64)
A_val = torch.randn(n_val, dim, generator=gen, dtype=torch.float64)
noise = 1.5
y_train = A_train @ x_true + noise * torch.randn(n_train, generator=gen, dtype=torch.float64)
y_val = A_val @ x_true + noise * torch.randn(n_val, generator=gen, dtype=torch.float64)


def optimality(x: torch.Tensor, lam: torch.Tensor, A: torch.Tensor, y: torch.Tensor):
    """F(x, lam) = 0 at the ridge solution (gradient of the training objective)."""
    return A.T @ (A @ x - y) + lam * x


@custom_root(optimality, solve="cg")
def ridge(x0: torch.Tensor, lam: torch.Tensor, A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Any solver works; here sciml's CG on the normal equations."""
    H = A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype)
    return cg(H, A.T @ y, x0=x0, rtol=1e-12).x


def validation_loss(log_lam: torch.Tensor) -> torch.Tensor:
    x = ridge(torch.zeros(dim, dtype=torch.float64), log_lam.exp(), A_train, y_train)
    return ((A_val @ x - y_val) ** 2).mean()


# brute force: the validation loss on a grid of lam
grid = np.linspace(-3, 5, 81)
scan = [float(validation_loss(torch.tensor(g, dtype=torch.float64))) for g in grid]

# gradient descent on log(lam) with implicit gradients
log_lam = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
optimizer = torch.optim.Adam([log_lam], lr=0.2)
path = []
for _ in range(80):
    optimizer.zero_grad()
    loss = validation_loss(log_lam)
    loss.backward()
    path.append((log_lam.item(), loss.item()))
    optimizer.step()
best = grid[int(np.argmin(scan))]
print(f"gradient descent: lam = {np.exp(path[-1][0]):.3f}, scan minimum: lam = {np.exp(best):.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.exp(grid), scan, label="validation loss (scan)")
ax.plot(np.exp([p[0] for p in path]), [p[1] for p in path], "o-", ms=3, label="gradient descent")
ax.set_xscale("log")
ax.set_xlabel("regularisation lam")
ax.set_ylabel("validation MSE")
ax.legend()
fig.tight_layout()

# %%
# Sensitivity of nonlinear fits to their data
# -------------------------------------------
# A batch of exponential-decay fits ``y ~ c exp(-k t)`` solved by Levenberg-Marquardt. The
# rate ``k`` of each fit is differentiated with respect to every data point through the
# optimality condition ``J^T r = 0``. The sensitivity changes sign: raising the first points
# steepens the fitted decay, raising later ones flattens it.
t = torch.linspace(0, 3, 25, dtype=torch.float64)
rates = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
data = 2.0 * torch.exp(-rates[:, None] * t) + 0.02 * torch.randn(
    3, 25, generator=gen, dtype=torch.float64
)
data.requires_grad_(True)


def decay(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x[:, :1] * torch.exp(-x[:, 1:] * t) - y


fit = levenberg_marquardt(decay, torch.ones(3, 2, dtype=torch.float64), t, data)
print(
    "fitted rates:",
    [round(v, 3) for v in fit.x[:, 1].tolist()],
    "converged:",
    fit.converged.tolist(),
)
(sensitivity,) = torch.autograd.grad(fit.x[:, 1].sum(), data)
fig, ax = plt.subplots(figsize=(6, 4))
for i, k in enumerate(rates.tolist()):
    ax.plot(t, sensitivity[i], "o-", ms=3, label=f"true k = {k}")
ax.axhline(0, color="gray", lw=0.5)
ax.set_xlabel("t of the data point")
ax.set_ylabel("d k_fit / d y(t)")
ax.legend()
fig.tight_layout()
plt.show()
