"""The part the direction operators share: unit residual columns through a network."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sciml.linalg import SparseMatrix


class NetworkDirections:
    """Base of :class:`LearnedDirections` and :class:`GraphDirections`.

    Subclasses set ``model`` (in eval mode), ``matrix`` (the system) and implement
    :meth:`_directions` on unit-norm columns already on the network's device and dtype.
    """

    model: nn.Module
    matrix: SparseMatrix
    calls: int = 0

    def _directions(self, r: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, n)``."""
        n = int(self.matrix.shape[0])
        return (n, n)

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the vectors it acts on (the matrix's)."""
        return self.matrix.dtype

    @property
    def device(self) -> torch.device:
        """Device of the vectors it acts on (the matrix's)."""
        return self.matrix.device

    @torch.no_grad()
    def matvec(self, r: Tensor) -> Tensor:
        """Directions for residuals ``(n,)`` or ``(n, k)``, each column normalised first."""
        block = r.reshape(r.shape[0], -1)
        norm = torch.linalg.vector_norm(block, dim=0).clamp_min(torch.finfo(block.dtype).tiny)
        param = next(self.model.parameters())
        d = self._directions((block / norm).to(device=param.device, dtype=param.dtype))
        self.calls += 1
        return d.to(device=r.device, dtype=r.dtype).reshape(r.shape)

    def __matmul__(self, r: Tensor) -> Tensor:
        return self.matvec(r)
