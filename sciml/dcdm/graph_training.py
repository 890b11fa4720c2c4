"""Training the graph DCDM network on several matrices at once (one block-diagonal graph).

Each training sample holds one unit right-hand side per training matrix, side by side; the
network runs on the block-diagonal matrix (its aggregation hierarchy never mixes the blocks)
and the loss is the mean of the scale-invariant losses of the blocks, so every step sees every
training mesh.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from sciml.data import GeneratedData, H5Dataset, write_dataset
from sciml.dcdm.graph import MatrixGraph
from sciml.dcdm.training import _fit_on_file, _StepFunction, scale_invariant_loss
from sciml.linalg import SparseMatrix
from sciml.train import TrainConfig, Trainer

__all__ = ["block_diagonal", "train_graph_dcdm", "write_graph_dataset"]


def block_diagonal(matrices: Sequence[SparseMatrix]) -> tuple[SparseMatrix, list[slice]]:
    """The block-diagonal matrix of several square matrices and the slice of each block.

    Parameters
    ----------
    matrices : sequence of SparseMatrix

    Returns
    -------
    SparseMatrix
        On the first matrix's device and dtype.
    list of slice
    """
    if not matrices:
        raise ValueError("need at least one matrix")
    first = matrices[0]
    blocks = sp.block_diag([M.to_scipy() for M in matrices], format="csr")
    sizes = np.cumsum([0] + [int(M.shape[0]) for M in matrices])
    slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(sizes)]
    return SparseMatrix.from_scipy(blocks, device=first.device, dtype=first.dtype), slices


def write_graph_dataset(
    path: str | os.PathLike[str],
    rhs: Sequence[Tensor],
    *,
    n_train: int | None = None,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Write right-hand sides of several training matrices to one HDF5 file (atomically).

    Parameters
    ----------
    path : str or path-like
    rhs : sequence of torch.Tensor
        One ``(n_samples, n_s)`` block per training matrix (e.g. :func:`ritz_rhs`), with the
        same number of samples; row ``j`` of every block forms sample ``j``.
    n_train : int, optional
        Training split (default 90 %).
    attrs : dict, optional
        Extra scalar attributes stored with the data (how it was made).

    Returns
    -------
    pathlib.Path
        The file: ``inputs/b`` ``(n_samples, sum n_s)`` float32 and ``coords/offsets``
        (block boundaries); read it with :class:`sciml.data.H5Dataset`.
    """
    if not rhs or len({int(b.shape[0]) for b in rhs}) != 1 or any(b.ndim != 2 for b in rhs):
        raise ValueError("rhs must be (n_samples, n_s) blocks with one number of samples")
    b = torch.cat([r.detach().to(torch.float32).cpu() for r in rhs], dim=1)
    if not bool(b.isfinite().all()):
        raise ValueError("rhs contains NaN/Inf")
    offsets = torch.tensor(np.cumsum([0] + [int(r.shape[1]) for r in rhs]), dtype=torch.int64)
    n_samples = int(b.shape[0])
    data = GeneratedData(
        inputs={"b": b},
        outputs={},
        coords={"offsets": offsets},
        attrs={"generator": "dcdm_graph_rhs", "blocks": len(rhs), **(attrs or {})},
    )
    return write_dataset(path, data, n_train=int(0.9 * n_samples) if n_train is None else n_train)


def train_graph_dcdm(
    model: nn.Module,
    matrices: Sequence[SparseMatrix],
    data: str | os.PathLike[str],
    config: TrainConfig,
    *,
    device: torch.device | str | None = None,
) -> Trainer:
    """Train a :class:`GraphDCDMNet` on the file of :func:`write_graph_dataset`.

    Parameters
    ----------
    model : torch.nn.Module
    matrices : sequence of SparseMatrix
        The training matrices, in the order of the file's blocks.
    data : str or path-like
    config : TrainConfig
    device : torch.device or str, optional

    Returns
    -------
    Trainer
        After :meth:`~sciml.train.Trainer.fit`.

    Raises
    ------
    ValueError
        If the matrices do not match the blocks of the file.
    """
    A, slices = block_diagonal(list(matrices))

    def make_step(device: torch.device | str, train_set: H5Dataset) -> _StepFunction:
        offsets = [int(v) for v in train_set.coords["offsets"]]
        if offsets != [0] + [s.stop for s in slices]:
            raise ValueError(
                f"the file's blocks end at {offsets[1:]}, the matrices at "
                f"{[s.stop for s in slices]}"
            )
        graph = MatrixGraph(A).to(device=device, dtype=torch.float32)
        blocks = [M.to(device=device, dtype=torch.float32) for M in matrices]

        def step(net: nn.Module, batch: dict[str, Tensor]) -> Tensor:
            b = batch["b"].T  # (n, batch)
            q = net(graph, b)
            losses = [
                scale_invariant_loss(M, b[s], q[s]) for M, s in zip(blocks, slices, strict=True)
            ]
            return torch.stack(losses).mean()

        return step

    return _fit_on_file(model, data, config, device, make_step)
