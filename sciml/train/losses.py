"""Losses and metrics shared by the learned methods (mean-reduced over the batch)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["FENormLoss", "relative_l2", "relative_l2_per_sample"]


def relative_l2_per_sample(pred: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """``||pred - target|| / ||target||`` for each sample (all non-batch dimensions flattened).

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(batch, ...)`` of the same shape.
    eps : float
        Guards against an all-zero target.

    Returns
    -------
    torch.Tensor
        ``(batch,)``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: pred {tuple(pred.shape)}, target {tuple(target.shape)}")
    diff = (pred - target).reshape(pred.shape[0], -1)
    ref = target.reshape(target.shape[0], -1)
    return diff.norm(dim=1) / (ref.norm(dim=1) + eps)


def relative_l2(pred: Tensor, target: Tensor) -> Tensor:
    """Mean over the batch of the per-sample relative L2 error (the metric of the FNO papers).

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(batch, ...)``.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    return relative_l2_per_sample(pred, target).mean()


class FENormLoss:
    """Relative error in a finite-element norm (L2 or H1 seminorm), mean over the batch.

    Uses the mass or stiffness matrix of the space (see :func:`sciml.fem.relative_l2_error`),
    so it measures functions, not vectors of dof values: on a graded mesh every region counts
    by its area, not by its number of dofs.

    Parameters
    ----------
    V : sciml.fem.FunctionSpace
    norm : {"l2", "h1"}, default "l2"
    """

    def __init__(self, V: Any, norm: str = "l2") -> None:
        if norm not in ("l2", "h1"):
            raise ValueError(f"norm must be 'l2' or 'h1', got {norm!r}")
        self.V = V
        self.norm = norm

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        """Mean relative error of ``(batch, num_dofs)`` dof values."""
        from sciml.fem import relative_h1_error, relative_l2_error

        fn = relative_l2_error if self.norm == "l2" else relative_h1_error
        return fn(self.V, pred.to(torch.float64), target.to(torch.float64)).mean().to(pred.dtype)
