"""DCDM beyond grids: a graph network on the matrix itself, for any sparse SPD matrix.

The grid network of Kaneda et al. needs a regular grid. :class:`GraphDCDMNet` acts on the graph
of the matrix: nodes are the unknowns, edges its non-zero entries, on every level of the
algebraic multigrid hierarchy of the matrix (:func:`sciml.linalg.amg`, smoothed aggregation).
Its skeleton is one V-cycle; the smoothing on each level is a learned message-passing network
(:class:`sciml.nn.MatrixConv` layers on the level's matrix in the symmetric Jacobi scaling
``D^{-1/2} A D^{-1/2}``, so entries are dimensionless and meshes of any size or coefficient
look alike) added to damped Jacobi. The same weights run on every level of any hierarchy,
which is what lets a network trained on small meshes act on larger ones. Restriction,
prolongation and the coarsest solve are the algebraic ones of the hierarchy; the network
learns what the smoothing should do, trained with DCDM's scale-invariant loss.

Nothing here needs coordinates or a mesh: a finite-element matrix of an unstructured mesh, a
graph Laplacian, or a grid matrix all go through the same code. The network is nonlinear
(ReLU), so it is used in flexible CG (:func:`sciml.dcdm.dcdm`, :func:`sciml.linalg.fcg`, or
PETSc's FCG through :class:`sciml.linalg.TorchPC`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sciml.dcdm._operator import NetworkDirections
from sciml.linalg import AMGLevel, SparseMatrix, amg
from sciml.nn import MatrixConv, record_init

__all__ = ["GraphDCDMNet", "GraphDirections", "MatrixGraph"]


@dataclass(frozen=True)
class GraphLevel:
    """One level of a :class:`MatrixGraph`.

    Attributes
    ----------
    A : SparseMatrix
        The level's matrix.
    scale : torch.Tensor
        ``1 / sqrt(diag(A))``.
    omega : float
        Damped-Jacobi weight ``4 / (3 rho)``, ``rho`` the spectral radius estimate of
        ``D^{-1} A``.
    off : SparseMatrix
        Off-diagonal part of ``D^{-1/2} A D^{-1/2}``: the edges and their weights.
    mean : SparseMatrix
        Mean over the neighbours, weighted by ``|off|`` (rows sum to one).
    P, R : SparseMatrix or None
        Prolongation from / restriction to the next coarser level (None on the coarsest).
    """

    A: SparseMatrix
    scale: Tensor
    omega: float
    off: SparseMatrix
    mean: SparseMatrix
    P: SparseMatrix | None
    R: SparseMatrix | None

    @staticmethod
    def from_amg(level: AMGLevel) -> GraphLevel:
        """The graph level of an AMG level."""
        A = level.A
        scale = level.dinv.clamp_min(0).sqrt()
        rows, cols = A.row_indices.long(), A.col_indices.long()
        scaled = A.values * scale[rows] * scale[cols]
        off_values = torch.where(rows == cols, torch.zeros_like(scaled), scaled)
        weight = off_values.abs()
        degree = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device).index_add(0, rows, weight)
        mean_values = weight / degree.clamp_min(torch.finfo(A.dtype).tiny)[rows]
        return GraphLevel(
            A=A,
            scale=scale,
            omega=4.0 / (3.0 * level.rho),
            off=A.with_values(off_values),
            mean=A.with_values(mean_values),
            P=level.P,
            R=level.R,
        )

    def to(self, device: torch.device | str | None, dtype: torch.dtype | None) -> GraphLevel:
        """The same level on another device and/or dtype."""

        def move(M: SparseMatrix | None) -> SparseMatrix | None:
            return None if M is None else M.to(device=device, dtype=dtype)

        return GraphLevel(
            A=self.A.to(device=device, dtype=dtype),
            scale=self.scale.to(device=device, dtype=dtype),
            omega=self.omega,
            off=self.off.to(device=device, dtype=dtype),
            mean=self.mean.to(device=device, dtype=dtype),
            P=move(self.P),
            R=move(self.R),
        )


class MatrixGraph:
    """The graphs a :class:`GraphDCDMNet` runs on: the AMG hierarchy of a matrix, built once.

    Parameters
    ----------
    A : SparseMatrix
        Symmetric positive definite (checked by :func:`sciml.dcdm.dcdm`, not here).
    **amg_options
        Passed to :func:`sciml.linalg.amg` (smoothed aggregation; e.g. ``max_coarse``).

    Attributes
    ----------
    levels : list of GraphLevel
        Finest first.
    coarse_inverse : torch.Tensor
        Dense inverse of the coarsest matrix.
    n : int
        Number of unknowns.
    """

    def __init__(self, A: SparseMatrix, **amg_options: Any) -> None:
        if not isinstance(A, SparseMatrix):
            raise TypeError(f"A must be a SparseMatrix, got {type(A)!r}")
        hierarchy = amg(A, **amg_options)
        self.levels = [GraphLevel.from_amg(lv) for lv in hierarchy.levels]
        self.coarse_inverse = hierarchy.coarse_inverse
        self.n = int(A.shape[0])

    @property
    def sizes(self) -> list[int]:
        """Unknowns per level, finest first."""
        return [int(lv.A.shape[0]) for lv in self.levels]

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> MatrixGraph:
        """The same graphs on another device and/or dtype."""
        out = MatrixGraph.__new__(MatrixGraph)
        out.levels = [lv.to(device, dtype) for lv in self.levels]
        out.coarse_inverse = self.coarse_inverse.to(device=device, dtype=dtype)
        out.n = self.n
        return out


class _Smoother(nn.Module):
    """``x = D^{-1/2} (omega y + g(y))`` with ``y = D^{-1/2} r`` and a learned ``g``."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.lift = nn.Linear(1, hidden, bias=False)
        self.convs = nn.ModuleList(MatrixConv(hidden, 2) for _ in range(layers))
        self.project = nn.Linear(hidden, 1, bias=False)
        nn.init.zeros_(self.project.weight)  # untrained: exactly damped Jacobi

    def forward(self, level: GraphLevel, r: Tensor) -> Tensor:
        y = level.scale[:, None] * r  # (n, k)
        h = self.lift(y.T[..., None])  # (k, n, hidden)
        for conv in self.convs:
            h = conv(h, [level.off, level.mean])
        return level.scale[:, None] * (level.omega * y + self.project(h)[..., 0].T)


@record_init
class GraphDCDMNet(nn.Module):
    """A V-cycle with learned smoothing on the AMG hierarchy: residual -> search direction.

    For residual columns ``r`` on level ``l`` (``l = 0``: the matrix): ``x = S(r)``, then the
    coarse correction ``x += P cycle(R (r - A x))`` (the coarsest level solved exactly), then
    ``x += S'(r - A x)``. The smoothers ``S``, ``S'`` are damped Jacobi plus a learned
    correction: ``layers`` :class:`sciml.nn.MatrixConv` layers of width ``hidden`` on the
    level's scaled matrix graph (see the module docstring), shared by all levels. The learned
    parts start at zero, so an untrained network is the damped-Jacobi V-cycle; training lowers
    the DCDM loss from there. No biases: ``f(c r) = c f(r)`` for ``c > 0``.

    Parameters
    ----------
    hidden : int, default 16
        Channels of the smoothers.
    layers : int, default 2
        :class:`~sciml.nn.MatrixConv` layers per smoother.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import poisson2d
    >>> A = poisson2d(24)
    >>> net = GraphDCDMNet(hidden=8)
    >>> graph = MatrixGraph(A).to(dtype=torch.float32)
    >>> net(graph, torch.randn(A.shape[0], 3)).shape
    torch.Size([576, 3])
    """

    def __init__(self, hidden: int = 16, layers: int = 2) -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got {hidden}, {layers}")
        self.pre = _Smoother(hidden, layers)
        self.post = _Smoother(hidden, layers)

    def _cycle(self, graph: MatrixGraph, i: int, b: Tensor) -> Tensor:
        level = graph.levels[i]
        if level.P is None or level.R is None:
            return graph.coarse_inverse @ b
        x = self.pre(level, b)
        x = x + level.P @ self._cycle(graph, i + 1, level.R @ (b - level.A @ x))
        return x + self.post(level, b - level.A @ x)

    def forward(self, graph: MatrixGraph, r: Tensor) -> Tensor:
        """Directions ``(n, k)`` for residual columns ``r (n, k)``.

        Parameters
        ----------
        graph : MatrixGraph
            The matrix's hierarchy, in the network's dtype and device.
        r : torch.Tensor
            ``(n, k)`` residuals (any scale).

        Returns
        -------
        torch.Tensor
            ``(n, k)``.
        """
        if r.ndim != 2 or r.shape[0] != graph.n:
            raise ValueError(f"r must be ({graph.n}, k) for this graph, got {tuple(r.shape)}")
        return self._cycle(graph, 0, r)


class GraphDirections(NetworkDirections):
    """A :class:`GraphDCDMNet` as an operator ``r -> d``: ``M`` of :func:`sciml.linalg.fcg`.

    Residual columns are normalised to unit length and passed through the network in its own
    dtype and device; the hierarchy of the matrix is built once, here.

    Parameters
    ----------
    model : GraphDCDMNet
        Put in eval mode.
    A : SparseMatrix
        The system matrix.
    **amg_options
        Passed to :class:`MatrixGraph`.
    """

    def __init__(self, model: nn.Module, A: SparseMatrix, **amg_options: Any) -> None:
        if not isinstance(A, SparseMatrix):
            raise TypeError(f"A must be a SparseMatrix, got {type(A)!r}")
        self.model = model.eval()
        self.matrix = A
        param = next(model.parameters())
        self.graph = MatrixGraph(A, **amg_options).to(device=param.device, dtype=param.dtype)
        self.calls = 0

    def _directions(self, r: Tensor) -> Tensor:
        return self.model(self.graph, r)
