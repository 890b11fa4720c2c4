"""Message-passing graph networks in plain torch (no graph library).

A graph is given by ``edge_index``, a ``(2, E)`` integer tensor of directed edges
``source -> target``, and static edge features ``(E, edge_dim)`` (for a mesh: coordinate
differences and lengths). Node features carry a batch dimension, ``(batch, n_nodes, channels)``;
the graph is shared by the batch. The layers follow the encode-process-decode design of
MeshGraphNets (Pfaff et al. 2021): edge and node latents updated with residual MLPs, messages
aggregated by their mean.

The graph is an argument of ``forward``, not of the constructor, so one set of weights runs on
any graph: a finer mesh, another geometry, a level of a multigrid hierarchy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sciml.linalg import SparseMatrix
from sciml.nn.base import record_init
from sciml.nn.mlp import MLP
from sciml.nn.mlp import activation as activation_module

__all__ = [
    "GraphNetwork",
    "MatrixConv",
    "MessagePassing",
    "check_graph",
    "scatter_mean",
    "sparse_mix",
]


def check_graph(edge_index: Tensor, edge_attr: Tensor, num_nodes: int, edge_dim: int) -> None:
    """Validate a graph: shapes, index range and finite features; raises ``ValueError``.

    Parameters
    ----------
    edge_index : torch.Tensor
        ``(2, E)`` integer tensor of edges ``source -> target``.
    edge_attr : torch.Tensor
        ``(E, edge_dim)`` edge features.
    num_nodes : int
        Number of nodes of the graph.
    edge_dim : int
        Expected number of edge features.
    """
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"edge_index must hold integers, got {edge_index.dtype}")
    if edge_attr.shape != (edge_index.shape[1], edge_dim):
        raise ValueError(
            f"edge_attr must have shape ({edge_index.shape[1]}, {edge_dim}) (one row per edge), "
            f"got {tuple(edge_attr.shape)}"
        )
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index refers to nodes outside 0..{num_nodes - 1}")
    if not bool(edge_attr.isfinite().all()):
        raise ValueError("edge_attr contains NaN/Inf")


def scatter_mean(values: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """Mean of ``values`` grouped by target node; nodes that receive nothing get zero.

    Parameters
    ----------
    values : torch.Tensor
        ``(batch, E, C)`` one row per edge.
    index : torch.Tensor
        ``(E,)`` target node of every edge.
    num_nodes : int
        Number of nodes.

    Returns
    -------
    torch.Tensor
        ``(batch, num_nodes, C)``.

    Examples
    --------
    >>> import torch
    >>> scatter_mean(torch.tensor([[[1.0], [3.0], [5.0]]]), torch.tensor([0, 0, 2]), 3)[0, :, 0]
    tensor([2., 0., 5.])
    """
    out = values.new_zeros(values.shape[0], num_nodes, values.shape[-1])
    out = out.index_add(1, index, values)
    count = index.bincount(minlength=num_nodes).clamp_min(1).to(values.dtype)
    return out / count[:, None]


class MessagePassing(nn.Module):
    """One residual message-passing step on edge and node latents.

    ``e_ij <- e_ij + f_e([e_ij, h_i, h_j])`` for every edge ``j -> i``, then
    ``h_i <- h_i + f_v([h_i, mean_j e_ij])``; ``f_e`` and ``f_v`` are two-layer MLPs followed by
    a layer norm.

    Parameters
    ----------
    hidden : int
        Width of node and edge latents.
    activation : str, default "gelu"
        Activation of the MLPs.
    """

    def __init__(self, hidden: int, activation: str = "gelu") -> None:
        super().__init__()
        self.hidden = int(hidden)
        # f_e's first layer acts on [e, h_target, h_source]; it is applied as three blocks so
        # that the node parts are computed once per node, not once per edge
        self.edge_in = nn.Linear(3 * hidden, hidden)
        self.edge_out = nn.Sequential(
            activation_module(activation), nn.Linear(hidden, hidden), nn.LayerNorm(hidden)
        )
        self.node_mlp = nn.Sequential(
            MLP([2 * hidden, hidden, hidden], activation, init="default"), nn.LayerNorm(hidden)
        )

    def forward(self, h: Tensor, e: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Update node latents ``h (batch, N, hidden)`` and edge latents ``e (batch, E, hidden)``.

        Parameters
        ----------
        h : torch.Tensor
            ``(batch, N, hidden)`` node latents.
        e : torch.Tensor
            ``(batch, E, hidden)`` or ``(E, hidden)`` (shared by the batch) edge latents.
        edge_index : torch.Tensor
            ``(2, E)`` edges ``source -> target``.

        Returns
        -------
        tuple of torch.Tensor
            The updated ``(h, e)``, ``e`` with a batch dimension.
        """
        src, dst = edge_index[0], edge_index[1]
        if e.ndim == 2:
            e = e.expand(h.shape[0], -1, -1)
        H = self.hidden
        W, b = self.edge_in.weight, self.edge_in.bias
        target = nn.functional.linear(h, W[:, H : 2 * H])  # (B, N, H), once per node
        source = nn.functional.linear(h, W[:, 2 * H :])
        z = nn.functional.linear(e, W[:, :H], b)
        z = z + target.index_select(1, dst) + source.index_select(1, src)
        e = e + self.edge_out(z)
        h = h + self.node_mlp(torch.cat([h, scatter_mean(e, dst, h.shape[1])], dim=-1))
        return h, e


@record_init
class GraphNetwork(nn.Module):
    """Encode-process-decode graph network: node features in, node values out.

    Parameters
    ----------
    in_channels : int
        Node input features.
    out_channels : int
        Node outputs.
    edge_dim : int
        Static edge features (e.g. ``gdim + 1``: coordinate difference and length).
    hidden : int, default 64
        Width of the latents.
    layers : int, default 6
        Message-passing steps (each reaches one more ring of neighbours).
    activation : str, default "gelu"

    Examples
    --------
    >>> import torch
    >>> net = GraphNetwork(3, 1, edge_dim=2, hidden=8, layers=2)
    >>> edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # a path 0 - 1 - 2, both directions
    >>> net(torch.randn(5, 3, 3), edges, torch.randn(4, 2)).shape
    torch.Size([5, 3, 1])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        edge_dim: int,
        hidden: int = 64,
        layers: int = 6,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, edge_dim, hidden) < 1 or layers < 0:
            raise ValueError(
                "in_channels, out_channels, edge_dim and hidden must be positive and layers "
                f"non-negative, got {in_channels}, {out_channels}, {edge_dim}, {hidden}, {layers}"
            )
        self.in_channels, self.out_channels, self.edge_dim = in_channels, out_channels, edge_dim
        self.node_encoder = nn.Sequential(
            MLP([in_channels, hidden, hidden], activation, init="default"), nn.LayerNorm(hidden)
        )
        self.edge_encoder = nn.Sequential(
            MLP([edge_dim, hidden, hidden], activation, init="default"), nn.LayerNorm(hidden)
        )
        self.processor = nn.ModuleList(MessagePassing(hidden, activation) for _ in range(layers))
        self.decoder = MLP([hidden, hidden, out_channels], activation, init="default")

    def encode(self, x: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        """Node and edge latents from the raw features."""
        return self.node_encoder(x), self.edge_encoder(edge_attr)

    def process(self, h: Tensor, e: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Run the message-passing steps."""
        for layer in self.processor:
            h, e = layer(h, e, edge_index)
        return h, e

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """Map node features ``(batch, N, in_channels)`` to ``(batch, N, out_channels)``.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, N, in_channels)`` node features.
        edge_index : torch.Tensor
            ``(2, E)`` edges ``source -> target`` (list both directions for an undirected mesh).
        edge_attr : torch.Tensor
            ``(E, edge_dim)`` static edge features.

        Returns
        -------
        torch.Tensor
            ``(batch, N, out_channels)``.
        """
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"x must be (batch, nodes, {self.in_channels}), got shape {tuple(x.shape)}"
            )
        check_graph(edge_index, edge_attr, x.shape[1], self.edge_dim)
        h, e = self.encode(x, edge_attr.to(x.dtype))
        h, _ = self.process(h, e, edge_index)
        return self.decoder(h)


def sparse_mix(M: SparseMatrix, h: Tensor) -> Tensor:
    """Apply a sparse ``(m, n)`` matrix to every batch and channel of ``h (batch, n, C)``.

    Parameters
    ----------
    M : SparseMatrix
        ``(m, n)``, same dtype and device as ``h``.
    h : torch.Tensor
        ``(batch, n, C)`` node features.

    Returns
    -------
    torch.Tensor
        ``(batch, m, C)``; differentiable in ``h``.
    """
    batch, n, channels = h.shape
    out = M @ h.transpose(0, 1).reshape(n, batch * channels)
    return out.reshape(M.shape[0], batch, channels).transpose(0, 1)


class MatrixConv(nn.Module):
    """Residual graph convolution whose messages are products with given sparse matrices.

    ``h <- h + W_2 relu(W_1 [h, M_1 h, ..., M_m h])`` with channel-mixing matrices ``W_1``,
    ``W_2`` and sparse node-mixing matrices ``M_i`` given at call time (e.g. the off-diagonal
    part of a scaled system matrix and the mean over neighbours). Without biases the layer is
    positively homogeneous, ``f(c h) = c f(h)`` for ``c > 0``, which suits networks that
    approximate linear maps up to scale (such as the inverse of a matrix).

    Parameters
    ----------
    channels : int
        Width ``C`` of the node features.
    operators : int, default 2
        Number ``m`` of sparse matrices passed to :meth:`forward`.
    bias : bool, default False

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import poisson2d
    >>> conv = MatrixConv(4, operators=1)
    >>> A = poisson2d(3).to(dtype=torch.float32)
    >>> conv(torch.randn(2, 9, 4), [A]).shape
    torch.Size([2, 9, 4])
    """

    def __init__(self, channels: int, operators: int = 2, bias: bool = False) -> None:
        super().__init__()
        if channels < 1 or operators < 0:
            raise ValueError(f"need channels >= 1 and operators >= 0, got {channels}, {operators}")
        self.operators = int(operators)
        self.mix = nn.Linear((operators + 1) * channels, channels, bias=bias)
        self.out = nn.Linear(channels, channels, bias=bias)

    def forward(self, h: Tensor, matrices: Sequence[SparseMatrix]) -> Tensor:
        """Update ``h (batch, n, C)`` with the ``operators`` square ``(n, n)`` matrices."""
        if len(matrices) != self.operators:
            raise ValueError(f"expected {self.operators} matrices, got {len(matrices)}")
        parts = [h, *(sparse_mix(M, h) for M in matrices)]
        return h + self.out(torch.relu(self.mix(torch.cat(parts, dim=-1))))
