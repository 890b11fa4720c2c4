"""Physics-only training of the constrained grid models with :class:`sciml.train.Trainer`.

The models of this package (:class:`~sciml.constraints.SorptionPIHC`,
:class:`~sciml.constraints.VorticityPIHC`) map an initial condition ``u0`` to a
:class:`PIHCOutput`: the prediction on their space-time grid and its physics loss; one step and
one set of metrics serve them all. The mesh model :class:`~sciml.constraints.FEDiffusionPIHC`
returns a :class:`PIHCOutput` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciml.constraints.hard import ConstraintResult

__all__ = ["PIHCOutput", "TrajectoryDataset", "physics_metrics", "physics_step"]


@dataclass(frozen=True)
class PIHCOutput:
    """Prediction of a constrained model on its grid.

    Attributes
    ----------
    u : torch.Tensor
        ``(batch, *grid)`` prediction at the grid nodes (e.g. ``(batch, nx, nt)``) or mesh
        dofs (``(batch, dofs)``).
    loss : torch.Tensor
        ``(batch,)`` physics loss of the prediction (mean-squared residuals).
    weights : torch.Tensor
        ``(batch, K, N)`` basis weights of every expert (``K = 1`` for soft and global).
    constraint : ConstraintResult or None
        The inner solves (``None`` for the soft constraint).
    """

    u: Tensor
    loss: Tensor
    weights: Tensor
    constraint: ConstraintResult | None


def physics_step(model: nn.Module, batch: Mapping[str, Tensor]) -> Tensor:
    """:class:`sciml.train.Trainer` step: the mean physics loss of ``batch["u0"]``.

    Parameters
    ----------
    model : nn.Module
        A model returning a :class:`PIHCOutput` for the initial data ``batch["u0"]``.
    batch : mapping
        ``"u0"``: ``(batch, *initial grid)``.

    Returns
    -------
    torch.Tensor
        Scalar loss (no solution data is used: physics-only training).
    """
    out: PIHCOutput = model(batch["u0"])
    return out.loss.mean()


def physics_metrics(model: nn.Module, batch: Mapping[str, Tensor]) -> dict[str, float]:
    """:class:`sciml.train.Trainer` metrics: physics loss, relative L2 error, solver failures.

    Parameters
    ----------
    model : nn.Module
        As in :func:`physics_step`.
    batch : mapping
        ``"u0"`` and the reference ``"u"`` on the model grid (shape of ``PIHCOutput.u``).

    Returns
    -------
    dict of str to float
        ``test_loss``, ``rel_l2`` (mean over samples of ``||u - u_ref|| / ||u_ref||``) and
        ``failures`` (fraction of unconverged inner solves).
    """
    out: PIHCOutput = model(batch["u0"])
    ref = batch["u"].to(out.u.dtype)
    if ref.shape != out.u.shape:
        raise ValueError(f"reference u is {tuple(ref.shape)}, prediction {tuple(out.u.shape)}")
    err = (out.u - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)
    failures = 0.0
    if out.constraint is not None:
        failures = float((~out.constraint.converged).float().mean())
    return {"test_loss": float(out.loss.mean()), "rel_l2": float(err.mean()), "failures": failures}


class TrajectoryDataset(torch.utils.data.Dataset[dict[str, Tensor]]):
    """Initial data and reference trajectories: items ``{"u0": u0[i], "u": u[i]}``.

    Parameters
    ----------
    u0 : torch.Tensor
        ``(n, *initial grid)``.
    u : torch.Tensor
        ``(n, *grid)`` reference solutions on the model grid.
    """

    def __init__(self, u0: Tensor, u: Tensor) -> None:
        if u0.shape[0] != u.shape[0]:
            raise ValueError(f"u0 has {u0.shape[0]} samples, u has {u.shape[0]}")
        self.u0, self.u = u0, u

    def __len__(self) -> int:
        return self.u0.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"u0": self.u0[i], "u": self.u[i]}
