"""Mixture of hard-constraint experts: one constraint per subdomain, solved as one batch.

The domain is split into ``K`` subdomains (a uniform split of a box for grids); each expert owns
the residual points of its subdomain and its own basis weights. All experts of all samples are
solved together: the expert axis is folded into the batch of one
:class:`~sciml.constraints.HardConstraint` call, so ``batch * K`` small problems run as one
batched Levenberg-Marquardt solve on one device, and each gets its own implicit gradient.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import Tensor, nn

from sciml.constraints.hard import ConstraintResult, HardConstraint, PDEResidual

__all__ = ["HardConstraintMoE", "sample_in_subdomains", "uniform_subdomains"]


def uniform_subdomains(
    lower: Sequence[float], upper: Sequence[float], splits: Sequence[int]
) -> Tensor:
    """Split the box ``[lower, upper]`` into ``prod(splits)`` equal boxes.

    Parameters
    ----------
    lower, upper : sequence of float
        Corners of the box (one entry per dimension, e.g. ``(x, t)``).
    splits : sequence of int
        Pieces along each dimension (e.g. ``(4, 1)``: four experts along ``x``).

    Returns
    -------
    torch.Tensor
        ``(K, 2, d)`` float64: ``[k, 0]`` the lower and ``[k, 1]`` the upper corner of expert
        ``k``, the last dimension varying fastest.

    Examples
    --------
    >>> uniform_subdomains((0.0, 0.0), (1.0, 2.0), (2, 1))[:, :, 0].tolist()
    [[0.0, 0.5], [0.5, 1.0]]
    """
    lo = torch.as_tensor(lower, dtype=torch.float64)
    hi = torch.as_tensor(upper, dtype=torch.float64)
    if lo.ndim != 1 or lo.shape != hi.shape or len(splits) != lo.numel():
        raise ValueError("lower, upper and splits need one entry per dimension")
    if any(int(s) < 1 for s in splits) or not bool((hi > lo).all()):
        raise ValueError(f"need splits >= 1 and upper > lower, got {splits}, {lower}, {upper}")
    edges = [
        torch.linspace(float(a), float(b), int(s) + 1)
        for a, b, s in zip(lo, hi, splits, strict=True)
    ]
    boxes = []
    for index in itertools.product(*(range(int(s)) for s in splits)):
        corner_lo = torch.stack([e[i] for e, i in zip(edges, index, strict=True)])
        corner_hi = torch.stack([e[i + 1] for e, i in zip(edges, index, strict=True)])
        boxes.append(torch.stack([corner_lo, corner_hi]))
    return torch.stack(boxes).to(torch.float64)


def sample_in_subdomains(
    boxes: Tensor, points: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Uniform random residual points, the same number in every subdomain.

    Parameters
    ----------
    boxes : torch.Tensor
        ``(K, 2, d)`` from :func:`uniform_subdomains`.
    points : int
        Points per subdomain.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor
        ``(K, points, d)`` in the dtype of ``boxes``.
    """
    if boxes.ndim != 3 or boxes.shape[1] != 2 or points < 1:
        raise ValueError(f"boxes must be (K, 2, d) and points >= 1, got {tuple(boxes.shape)}")
    K, _, d = boxes.shape
    u = torch.rand(K, points, d, generator=generator, dtype=boxes.dtype)
    return boxes[:, None, 0] + u * (boxes[:, None, 1] - boxes[:, None, 0])


class HardConstraintMoE(nn.Module):
    """``K`` hard-constraint experts, each on its own residual points, solved as one batch.

    Parameters
    ----------
    residual : callable
        ``residual(fields, *context) -> (rows, m)`` as for :class:`HardConstraint`; it is called
        with ``batch * K`` rows (sample-major: row ``b * K + k`` is expert ``k`` of sample
        ``b``), so it must not mix rows.
    experts : int
        ``K``.
    expert_parallel : bool, default False
        Split the experts over the processes of ``torch.distributed`` (which must be
        initialised, e.g. by ``torchrun``): rank ``r`` of ``P`` solves the experts
        ``r K / P ... (r + 1) K / P - 1`` (``P`` must divide ``K``) and the weights are
        all-gathered (differentiably), so every rank returns the result of all experts.
        Every rank must pass the same batch (expert parallelism, not data parallelism). The
        gradient of a loss that every rank computes alike, averaged over the ranks (what
        ``DistributedDataParallel`` does with parameter gradients), is the one-process
        gradient.
    group : torch.distributed.ProcessGroup, optional
        Process group of the split (default: the world).
    **options
        ``ridge``, ``tol``, ``max_steps``, ``on_failure`` of :class:`HardConstraint`.
    """

    def __init__(
        self,
        residual: PDEResidual,
        experts: int,
        *,
        expert_parallel: bool = False,
        group: Any = None,
        **options: float | int | str,
    ) -> None:
        super().__init__()
        if experts < 1:
            raise ValueError(f"experts must be >= 1, got {experts}")
        self.experts = int(experts)
        self.expert_parallel = bool(expert_parallel)
        self.group = group
        self.constraint = HardConstraint(residual, **options)  # type: ignore[arg-type]

    def _share(self) -> tuple[int, int, int]:
        """(rank, processes, first expert of this rank)."""
        if not self.expert_parallel:
            return 0, 1, 0
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "expert_parallel=True needs torch.distributed to be initialised (torchrun, or "
                "torch.distributed.init_process_group)"
            )
        rank, size = dist.get_rank(self.group), dist.get_world_size(self.group)
        if self.experts % size:
            raise ValueError(f"{size} processes must divide the {self.experts} experts evenly")
        return rank, size, rank * (self.experts // size)

    def forward(
        self,
        basis: Mapping[str, Tensor],
        *context: Tensor,
        offset: Mapping[str, Tensor] | None = None,
    ) -> ConstraintResult:
        """Solve every expert of every sample.

        Parameters
        ----------
        basis : mapping of str to torch.Tensor
            ``(batch, K, points, N)`` per field: the bases at each expert's points.
        *context : torch.Tensor
            ``(batch, K, ...)`` per-expert tensors passed to ``residual``.
        offset : mapping of str to torch.Tensor, optional
            ``(batch, K, points)`` particular solutions (see :class:`HardConstraint`).

        Returns
        -------
        ConstraintResult
            ``weights`` ``(batch, K, N)``; ``fields`` ``(batch, K, points)``; ``residual_norm``,
            ``converged`` and ``steps`` ``(batch, K)``.
        """
        K = self.experts
        for name, B in basis.items():
            if B.ndim != 4 or B.shape[1] != K:
                raise ValueError(
                    f"basis field {name!r} must be (batch, K={K}, points, N), got {tuple(B.shape)}"
                )
        for i, c in enumerate(context):
            if c.ndim < 2 or c.shape[1] != K:
                raise ValueError(f"context {i} must be (batch, K={K}, ...), got {tuple(c.shape)}")
        batch = next(iter(basis.values())).shape[0] if basis else 0
        _, size, first = self._share()
        local = slice(first, first + K // size)
        k = K // size

        def fold(t: Tensor) -> Tensor:
            return t[:, local].reshape(-1, *t.shape[2:])

        folded = {name: fold(B) for name, B in basis.items()}
        shift = {name: fold(v) for name, v in (offset or {}).items()}
        out = self.constraint(folded, *(fold(c) for c in context), offset=shift)
        result = ConstraintResult(
            weights=out.weights.reshape(batch, k, -1),
            fields={name: v.reshape(batch, k, -1) for name, v in out.fields.items()},
            residual_norm=out.residual_norm.reshape(batch, k),
            converged=out.converged.reshape(batch, k),
            steps=out.steps.reshape(batch, k),
        )
        return result if size == 1 else self._gather(result)

    def _gather(self, part: ConstraintResult) -> ConstraintResult:
        """All experts from every rank's part (differentiable for weights and fields)."""

        def cat(t: Tensor) -> Tensor:
            return torch.cat(dist_nn.all_gather(t, group=self.group or dist.group.WORLD), 1)

        def cat_plain(t: Tensor) -> Tensor:
            parts = [torch.empty_like(t) for _ in range(dist.get_world_size(self.group))]
            dist.all_gather(parts, t.contiguous(), group=self.group)
            return torch.cat(parts, 1)

        return ConstraintResult(
            weights=cat(part.weights),
            fields={name: cat(v) for name, v in part.fields.items()},
            residual_norm=cat_plain(part.residual_norm),
            converged=cat_plain(part.converged),
            steps=cat_plain(part.steps),
        )
