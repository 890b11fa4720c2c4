"""Multigrid SPON: heavy message passing on a coarse mesh, light corrections on the finer ones."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from sciml.fem import FunctionSpace, interpolation_between
from sciml.fem.graph import DofGraph, dof_graph
from sciml.linalg import SparseMatrix
from sciml.nn.graph import MessagePassing, check_graph
from sciml.nn.mlp import MLP
from sciml.spon.spon import SPON

__all__ = ["MultigridProcessor", "MultigridSPON", "feature_restriction"]


def feature_restriction(P: SparseMatrix) -> SparseMatrix:
    """``R = D^-1 P^T`` with ``D`` the row sums of ``P^T``: a weighted average of fine nodes.

    For nested Lagrange spaces ``P^T`` is the Galerkin restriction; normalising its rows makes
    it reproduce constants, which is what node *features* need (a coarse node receives the
    average of the fine features around it, not their sum).

    Parameters
    ----------
    P : SparseMatrix
        Prolongation ``(n_fine, n_coarse)``.

    Returns
    -------
    SparseMatrix
        ``(n_coarse, n_fine)``.
    """
    R = P.T.to_scipy().tocsr()
    sums = np.asarray(abs(R).sum(axis=1)).ravel()
    if (sums == 0).any():
        raise ValueError("a coarse node receives nothing from the fine level: check the meshes")
    return SparseMatrix.from_scipy((sp.diags(1.0 / sums) @ R).tocsr())


def _scalar(V: FunctionSpace) -> FunctionSpace:
    return V if V.block_size == 1 else FunctionSpace(V.mesh, V.family, V.degree)


class MultigridProcessor(nn.Module):
    """A V-cycle of graph networks on a hierarchy of meshes.

    Down: ``light`` message-passing steps on each level (finest first), the node latents kept
    as a skip connection and averaged onto the next coarser level (:func:`feature_restriction`).
    Bottom: ``heavy`` steps on the coarsest graph, where one step covers a large distance at a
    small cost. Up: interpolation of the latents to the next finer level (the prolongation of the
    FE spaces), added to the skip, then ``light`` steps. A decoder MLP gives the node outputs.

    Parameters
    ----------
    graphs : sequence of DofGraph
        Graphs of the levels, coarsest first; the last one is the output level.
    prolongations : sequence of SparseMatrix
        ``prolongations[l]`` maps nodes of level ``l`` to level ``l + 1``.
    in_channels, out_channels : int
    hidden : int, default 64
    heavy : int, default 6
        Message-passing steps on the coarsest level.
    light : int, default 1
        Steps on each finer level, on the way down and again on the way up.
    activation : str, default "gelu"
    """

    def __init__(
        self,
        graphs: Sequence[DofGraph],
        prolongations: Sequence[SparseMatrix],
        in_channels: int,
        out_channels: int,
        *,
        hidden: int = 64,
        heavy: int = 6,
        light: int = 1,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if len(graphs) < 2 or len(prolongations) != len(graphs) - 1:
            raise ValueError(
                "need at least two levels and one prolongation between consecutive levels, got "
                f"{len(graphs)} graphs and {len(prolongations)} prolongations"
            )
        for level, (P, coarse, fine) in enumerate(
            zip(prolongations, graphs[:-1], graphs[1:], strict=True)
        ):
            if P.shape != (fine.num_nodes, coarse.num_nodes):
                raise ValueError(
                    f"prolongation {level} has shape {P.shape}, expected "
                    f"({fine.num_nodes}, {coarse.num_nodes})"
                )
        self.levels = len(graphs)
        self.edge_dim = int(graphs[-1].edge_attr.shape[1])
        self.init_args = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "hidden": hidden,
            "heavy": heavy,
            "light": light,
            "activation": activation,
            "levels": self.levels,
        }
        for level, g in enumerate(graphs[:-1]):
            self.register_buffer(f"edge_index_{level}", g.edge_index, persistent=False)
            self.register_buffer(f"edge_attr_{level}", g.edge_attr, persistent=False)
        self.prolongations = list(prolongations)
        self.restrictions = [feature_restriction(P) for P in prolongations]
        self._cache: dict[tuple[int, str, torch.device, torch.dtype], SparseMatrix] = {}

        def norm_mlp(sizes: list[int]) -> nn.Module:
            return nn.Sequential(MLP(sizes, activation, init="default"), nn.LayerNorm(sizes[-1]))

        self.node_encoder = norm_mlp([in_channels, hidden, hidden])
        self.edge_encoder = norm_mlp([self.edge_dim, hidden, hidden])
        steps = lambda n: nn.ModuleList(MessagePassing(hidden, activation) for _ in range(n))
        self.down = nn.ModuleList(steps(light) for _ in range(self.levels - 1))
        self.bottom = steps(heavy)
        self.up = nn.ModuleList(steps(light) for _ in range(self.levels - 1))
        self.decoder = MLP([hidden, hidden, out_channels], activation, init="default")

    def _matrix(self, kind: str, level: int, like: Tensor) -> SparseMatrix:
        key = (level, kind, like.device, like.dtype)
        if key not in self._cache:
            source = self.prolongations if kind == "P" else self.restrictions
            self._cache[key] = source[level].to(device=like.device, dtype=like.dtype)
        return self._cache[key]

    @staticmethod
    def _transfer(A: SparseMatrix, h: Tensor) -> Tensor:
        batch, n, c = h.shape
        flat = h.permute(1, 0, 2).reshape(n, batch * c)
        return (A @ flat).reshape(A.shape[0], batch, c).permute(1, 0, 2)

    def _graph(self, level: int) -> tuple[Tensor, Tensor]:
        return getattr(self, f"edge_index_{level}"), getattr(self, f"edge_attr_{level}")

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """Node features ``(batch, n_fine, in_channels)`` on the finest graph to node outputs.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, nodes, in_channels)`` on the finest level.
        edge_index, edge_attr : torch.Tensor
            The finest graph (the coarser ones are stored in the module).

        Returns
        -------
        torch.Tensor
            ``(batch, nodes, out_channels)``.
        """
        check_graph(edge_index, edge_attr, x.shape[1], self.edge_dim)
        graphs = [self._graph(level) for level in range(self.levels - 1)]
        graphs.append((edge_index, edge_attr))
        top = self.levels - 1
        h = self.node_encoder(x)
        skips: list[Tensor] = []
        for level in range(top, 0, -1):
            ei, ea = graphs[level]
            e = self.edge_encoder(ea.to(h.dtype))
            for layer in cast(nn.ModuleList, self.down[level - 1]):
                h, e = layer(h, e, ei)
            skips.append(h)
            h = self._transfer(self._matrix("R", level - 1, h), h)
        ei, ea = graphs[0]
        e = self.edge_encoder(ea.to(h.dtype))
        for layer in self.bottom:
            h, e = layer(h, e, ei)
        for level in range(1, top + 1):
            h = skips.pop() + self._transfer(self._matrix("P", level - 1, h), h)
            ei, ea = graphs[level]
            e = self.edge_encoder(ea.to(h.dtype))
            for layer in cast(nn.ModuleList, self.up[level - 1]):
                h, e = layer(h, e, ei)
        return self.decoder(h)


class MultigridSPON(SPON):
    """SPON whose processor is a :class:`MultigridProcessor` on a hierarchy of meshes.

    Parameters
    ----------
    input_space, output_space : FunctionSpace
        As for :class:`SPON`; the output space is the finest level.
    coarse_spaces : sequence of FunctionSpace
        Coarser spaces of the same kind, coarsest first (e.g. on the meshes of
        :func:`sciml.mesh.refinement_hierarchy`, or non-nested meshes of the same domain that
        cover the output mesh). Node latents move between levels with the FE interpolation
        (prolongation) and its row-normalised transpose (restriction).
    heavy, light : int
        Message-passing steps on the coarsest level, and on each finer level down and up.
    **kwargs
        ``encoder``, ``bcs``, ``hidden``, ``input_scale``, ``output_scale`` as for :class:`SPON`.

    Examples
    --------
    >>> import dolfinx_solver  # noqa: F401  (before dolfinx)
    >>> import torch
    >>> from sciml.fem import FunctionSpace
    >>> from sciml.mesh import refinement_hierarchy, unit_square
    >>> meshes = refinement_hierarchy(unit_square(4), 2)  # 3 nested meshes
    >>> spaces = [FunctionSpace(m, "P", 1) for m in meshes]
    >>> net = MultigridSPON(spaces[-1], spaces[-1], spaces[:-1], bcs="boundary", hidden=8)
    >>> net(torch.randn(2, spaces[-1].num_dofs)).shape
    torch.Size([2, 289])
    """

    def __init__(
        self,
        input_space: FunctionSpace,
        output_space: FunctionSpace,
        coarse_spaces: Sequence[FunctionSpace],
        *,
        heavy: int = 6,
        light: int = 1,
        **kwargs: Any,
    ) -> None:
        if not coarse_spaces:
            raise ValueError("coarse_spaces must hold at least one coarser space")
        for V in coarse_spaces:
            if not isinstance(V, FunctionSpace):
                raise TypeError(f"coarse_spaces must be FunctionSpaces, got {type(V)!r}")
        self._coarse = list(coarse_spaces)
        self.heavy, self.light = int(heavy), int(light)
        kwargs.setdefault("layers", heavy)
        super().__init__(input_space, output_space, None, **kwargs)

    def default_processor(self) -> nn.Module:
        """The multigrid processor on the coarse spaces and the output space."""
        levels = [*self._coarse, self.output_space]
        scalars = [_scalar(V) for V in levels]
        length = self.graph.length  # one length scale on every level
        graphs = [dof_graph(V, length=length) for V in scalars[:-1]] + [self.graph]
        prolongations = [interpolation_between(a, b) for a, b in itertools.pairwise(scalars)]
        return MultigridProcessor(
            graphs,
            prolongations,
            self.in_channels,
            self.bs_out,
            hidden=self.hidden,
            heavy=self.heavy,
            light=self.light,
        )

    def coarse_spaces(self) -> list[FunctionSpace]:
        """The coarser levels, coarsest first."""
        return list(self._coarse)

    def config(self) -> dict[str, Any]:
        """Plain-value description, with the multigrid sizes."""
        return {**super().config(), "heavy": self.heavy, "light": self.light}
