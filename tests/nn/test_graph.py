"""Graph network blocks: scatter_mean, message passing, GraphNetwork."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.nn.graph import GraphNetwork, MessagePassing, scatter_mean


def _path_graph(n: int) -> torch.Tensor:
    a = torch.arange(n - 1)
    return torch.cat([torch.stack([a, a + 1]), torch.stack([a + 1, a])], dim=1)


def _edge_attr(edges: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    d = coords[edges[0]] - coords[edges[1]]
    return torch.cat([d, d.norm(dim=1, keepdim=True)], dim=1)


def test_scatter_mean_matches_a_loop() -> None:
    torch.manual_seed(0)
    values = torch.randn(3, 20, 4, dtype=torch.float64)
    index = torch.randint(0, 7, (20,))
    out = scatter_mean(values, index, 9)
    for node in range(9):
        hits = index == node
        expected = (
            values[:, hits].mean(dim=1) if hits.any() else torch.zeros(3, 4, dtype=values.dtype)
        )
        torch.testing.assert_close(out[:, node], expected)


def test_shapes_gradients_and_rebuild() -> None:
    torch.manual_seed(0)
    edges = _path_graph(6)
    attr = _edge_attr(edges, torch.rand(6, 1))
    net = GraphNetwork(3, 2, edge_dim=2, hidden=8, layers=3)
    x = torch.randn(4, 6, 3)
    out = net(x, edges, attr)
    assert out.shape == (4, 6, 2)
    out.square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    rebuilt = GraphNetwork(**net.init_args)
    rebuilt.load_state_dict(net.state_dict())
    assert torch.equal(rebuilt(x, edges, attr), net(x, edges, attr))


def test_permutation_equivariance() -> None:
    torch.manual_seed(1)
    n = 10
    coords = torch.rand(n, 2, dtype=torch.float64)
    edges = torch.cat([_path_graph(n), torch.tensor([[0, 5], [5, 0]])], dim=1)
    attr = _edge_attr(edges, coords)
    net = GraphNetwork(2, 1, edge_dim=3, hidden=8, layers=2).double()
    x = torch.randn(2, n, 2, dtype=torch.float64)
    perm = torch.randperm(n)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    out = net(x, edges, attr)
    out_perm = net(x[:, perm], inverse[edges], attr)
    torch.testing.assert_close(out_perm, out[:, perm], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 3])
def test_receptive_field_is_the_number_of_layers(layers: int) -> None:
    torch.manual_seed(2)
    n = 12
    edges = _path_graph(n)
    attr = _edge_attr(edges, torch.linspace(0, 1, n, dtype=torch.float64)[:, None])
    net = GraphNetwork(1, 1, edge_dim=2, hidden=8, layers=layers).double()
    x = torch.randn(1, n, 1, dtype=torch.float64)
    y = x.clone()
    y[0, 0, 0] += 1.0
    changed = (net(x, edges, attr) - net(y, edges, attr)).abs()[0, :, 0] > 0
    # node k is k hops from node 0: exactly the nodes within `layers` hops see the change
    assert changed.nonzero().flatten().tolist() == list(range(layers + 1))


def test_message_passing_shares_edge_latents_over_the_batch() -> None:
    layer = MessagePassing(4)
    h, e = layer(torch.randn(3, 5, 4), torch.randn(8, 4), _path_graph(5))
    assert h.shape == (3, 5, 4) and e.shape == (3, 8, 4)


def test_bad_inputs_raise() -> None:
    net = GraphNetwork(2, 1, edge_dim=2, hidden=4, layers=1)
    edges = _path_graph(4)
    attr = torch.zeros(6, 2)
    x = torch.zeros(1, 4, 2)
    with pytest.raises(ValueError, match="batch, nodes, 2"):
        net(torch.zeros(4, 2), edges, attr)
    with pytest.raises(ValueError, match="outside"):
        net(x, edges + 1, attr)
    with pytest.raises(ValueError, match="one row per edge"):
        net(x, edges, torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"\(2, E\)"):
        net(x, edges.T, attr)
    with pytest.raises(ValueError, match="NaN"):
        net(x, edges, torch.full((6, 2), float("nan")))
    with pytest.raises(ValueError, match="integers"):
        net(x, edges.float(), attr)
    with pytest.raises(ValueError, match="positive"):
        GraphNetwork(0, 1, edge_dim=2)


def test_message_passing_equals_the_concatenated_formula() -> None:
    """The edge MLP's first layer is applied in blocks; it must equal W [e, h_i, h_j] + b."""
    torch.manual_seed(0)
    layer = MessagePassing(8).double()
    h = torch.randn(3, 6, 8, dtype=torch.float64)
    e = torch.randn(3, 10, 8, dtype=torch.float64)
    edges = torch.randint(0, 6, (2, 10))
    h_new, e_new = layer(h, e, edges)
    z = torch.cat([e, h[:, edges[1]], h[:, edges[0]]], dim=-1) @ layer.edge_in.weight.T
    e_ref = e + layer.edge_out(z + layer.edge_in.bias)
    h_ref = h + layer.node_mlp(torch.cat([h, scatter_mean(e_ref, edges[1], 6)], dim=-1))
    torch.testing.assert_close(e_new, e_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_new, h_ref, rtol=1e-12, atol=1e-12)


def test_matrix_conv_is_homogeneous_and_mixes_by_the_matrix() -> None:
    from sciml.linalg import poisson2d
    from sciml.nn import MatrixConv, sparse_mix

    torch.manual_seed(0)
    A = poisson2d(5).to(dtype=torch.float64)
    h = torch.randn(3, 25, 4, dtype=torch.float64)
    dense = A.to_scipy().toarray()
    expected = np.einsum("ij,bjc->bic", dense, h.numpy())
    np.testing.assert_allclose(sparse_mix(A, h).numpy(), expected, atol=1e-12)
    conv = MatrixConv(4, operators=1).double()
    out = conv(h, [A])
    torch.testing.assert_close(conv(2.5 * h, [A]), 2.5 * out)
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in conv.parameters())
    with pytest.raises(ValueError, match="expected 1 matrices"):
        conv(h, [A, A])
