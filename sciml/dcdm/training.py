"""Training data (Ritz vectors of the training matrix) and the scale-invariant DCDM loss."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml.data import GeneratedData, H5Dataset, write_dataset
from sciml.dcdm.scenes import GridPoisson
from sciml.linalg import SparseMatrix, lanczos
from sciml.train import TrainConfig, Trainer

__all__ = ["directions", "ritz_rhs", "scale_invariant_loss", "train_dcdm", "write_ritz_dataset"]


def ritz_rhs(
    A: SparseMatrix,
    n_samples: int,
    *,
    steps: int = 1000,
    seed: int = 0,
    low_fraction: float = 0.5,
    margin: float = 0.1,
    low_weight: float = 9.0,
    null_tol: float = 1e-8,
    progress: bool = False,
) -> Tensor:
    """Training right-hand sides from the Ritz vectors of ``A`` (Kaneda et al., section 3).

    Lanczos (``steps`` steps, full reorthogonalisation) gives Ritz pairs; pairs with Ritz value
    below ``null_tol`` times the largest are dropped (the null space). Each sample is
    ``b = sum_i c_i y_i`` with ``c_i ~ N(0, 1)``, multiplied by ``low_weight`` for the lowest
    ``low_fraction + margin`` of the Ritz vectors, then normalised to ``||b|| = 1``: the network
    sees mostly the smooth modes that CG resolves slowly.

    Parameters
    ----------
    A : SparseMatrix
        The training matrix (SPD or positive semi-definite).
    n_samples : int
    steps : int, default 1000
        Lanczos steps (capped at ``n``).
    seed : int, default 0
        Seeds the Lanczos start vector and the coefficients.
    low_fraction, margin, low_weight : float
        Weighting of the low end of the spectrum (the paper: half, plus a margin, weight 9).
    null_tol : float, default 1e-8
    progress : bool, default False

    Returns
    -------
    torch.Tensor
        ``(n_samples, n)`` in ``A``'s dtype, unit 2-norm rows.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not 0 <= low_fraction + margin <= 1 or low_weight <= 0:
        raise ValueError("need 0 <= low_fraction + margin <= 1 and low_weight > 0")
    pairs = lanczos(A, min(int(steps), A.shape[0]), seed=seed, progress=progress)
    keep = pairs.values > null_tol * pairs.values.abs().max()
    Y = pairs.vectors[:, keep]
    m = Y.shape[1]
    gen = torch.Generator().manual_seed(seed + 1)
    c = torch.randn(m, n_samples, generator=gen, dtype=Y.dtype).to(Y.device)
    low = math.ceil((low_fraction + margin) * m)
    c[:low] *= low_weight
    b = (Y @ c).T
    return b / torch.linalg.vector_norm(b, dim=1, keepdim=True)


def write_ritz_dataset(
    path: str | os.PathLike[str],
    system: GridPoisson,
    n_samples: int,
    *,
    n_train: int | None = None,
    **options: Any,
) -> Path:
    """Generate :func:`ritz_rhs` samples of a grid system and write them to HDF5 (atomically).

    The file holds ``inputs/b`` of shape ``(n_samples, *grid)`` (float32, zero on solid cells)
    and the fluid mask in ``coords/fluid``; read it with :class:`sciml.data.H5Dataset`.

    Parameters
    ----------
    path : str or path-like
    system : GridPoisson
        The training system (the paper: the empty domain).
    n_samples : int
    n_train : int, optional
        Training split (default 90 %).
    **options
        Passed to :func:`ritz_rhs` (``steps``, ``seed``, ...).

    Returns
    -------
    pathlib.Path
    """
    b = ritz_rhs(system.matrix, n_samples, **options)
    grids = system.to_grid(b.T).to(torch.float32).cpu()
    dirichlet = system.dirichlet
    plain = (int, float, str)
    attrs = {
        "generator": "dcdm_ritz",
        "pde": "pressure Poisson on a grid with solid cells (sciml.linalg.poisson_grid)",
        "shape": list(system.shape),
        "dirichlet": dirichlet if isinstance(dirichlet, str) else ",".join(dirichlet),
        **{k: v for k, v in options.items() if isinstance(v, plain) and k != "progress"},
    }
    data = GeneratedData(
        inputs={"b": grids},
        outputs={},
        coords={"fluid": torch.as_tensor(system.fluid.astype(np.uint8))},
        attrs=attrs,
    )
    if n_train is None:
        n_train = int(0.9 * n_samples)
    return write_dataset(path, data, n_train=n_train)


def directions(model: nn.Module, system: GridPoisson, r: Tensor) -> Tensor:
    """Directions from a grid network for residual columns of the unknowns (differentiable).

    Parameters
    ----------
    model : torch.nn.Module
        A grid network ``(batch, 1, *grid) -> (batch, 1, *grid)`` such as :class:`DCDMNet`.
    system : GridPoisson
    r : torch.Tensor
        ``(n, k)`` residuals.

    Returns
    -------
    torch.Tensor
        ``(n, k)`` in the dtype of ``r``.
    """
    dtype = next(model.parameters()).dtype
    grids = system.to_grid(r.to(dtype)).unsqueeze(1)
    return system.from_grid(model(grids)[:, 0]).to(r.dtype)


def scale_invariant_loss(A: SparseMatrix, b: Tensor, q: Tensor) -> Tensor:
    """The scale-invariant loss of DCDM (Kaneda et al., eq. 6).

    ``mean_j || b_j - A q_j (q_j . b_j) / (q_j . A q_j) ||^2``: the residual left after the
    exact line search along ``q`` from ``x = 0``; invariant to scaling ``q``.

    Parameters
    ----------
    A : SparseMatrix
    b, q : torch.Tensor
        ``(n, k)`` right-hand sides and network outputs.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    if b.shape != q.shape or b.ndim != 2:
        raise ValueError(f"b and q must be (n, k) blocks of one shape, got {b.shape}, {q.shape}")
    Aq = A @ q
    qAq = (q * Aq).sum(0)
    alpha = (q * b).sum(0) / qAq.clamp_min(torch.finfo(q.dtype).tiny)
    return ((b - Aq * alpha).pow(2).sum(0)).mean()


def train_dcdm(
    model: nn.Module,
    system: GridPoisson,
    data: str | os.PathLike[str],
    config: TrainConfig,
    *,
    device: torch.device | str | None = None,
) -> Trainer:
    """Train a direction network on an HDF5 file of :func:`write_ritz_dataset`.

    Parameters
    ----------
    model : torch.nn.Module
    system : GridPoisson
        The system the right-hand sides belong to (its matrix is used by the loss).
    data : str or path-like
        Dataset path; its training split trains, its test split evaluates.
    config : TrainConfig
    device : torch.device or str, optional

    Returns
    -------
    Trainer
        After :meth:`~sciml.train.Trainer.fit`; its ``history`` holds the losses.
    """

    def make_step(device: torch.device | str, _data: H5Dataset) -> _StepFunction:
        sys_on = system.to(device=device, dtype=torch.float32)

        def step(net: nn.Module, batch: dict[str, Tensor]) -> Tensor:
            b = sys_on.from_grid(batch["b"])
            return scale_invariant_loss(sys_on.matrix, b, directions(net, sys_on, b))

        return step

    return _fit_on_file(model, data, config, device, make_step)


_StepFunction = Callable[[nn.Module, dict[str, Tensor]], Tensor]


def _fit_on_file(
    model: nn.Module,
    data: str | os.PathLike[str],
    config: TrainConfig,
    device: torch.device | str | None,
    make_step: Callable[[torch.device | str, H5Dataset], _StepFunction],
) -> Trainer:
    """Fit ``model`` with the loss ``make_step(device, train_set)`` on an HDF5 file's splits.

    The shared driver of :func:`train_dcdm` and :func:`sciml.dcdm.train_graph_dcdm`: reads
    the training and test splits (preloaded), picks CUDA when available, runs
    :class:`sciml.train.Trainer`.

    Parameters
    ----------
    model : torch.nn.Module
    data : str or path-like
    config : TrainConfig
    device : torch.device or str, optional
    make_step : callable
        ``make_step(device, train_set) -> step(net, batch) -> loss``.

    Returns
    -------
    Trainer
        After :meth:`~sciml.train.Trainer.fit`.
    """
    train_set = H5Dataset(data, split="train", preload=True)
    test_set = H5Dataset(data, split="test", preload=True)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = Trainer(
        model, make_step(device, train_set), config, train_set, test_set, device=device
    )
    trainer.fit()
    return trainer
