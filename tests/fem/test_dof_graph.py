"""The node graph of a finite-element space against the cell connectivity of dolfinx."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("dolfinx_solver")

from sciml.fem import FunctionSpace
from sciml.fem.graph import dof_graph
from sciml.mesh import unit_square


def _cell_pairs(V: FunctionSpace) -> set[tuple[int, int]]:
    dofmap = V.dolfinx_space.dofmap
    pairs: set[tuple[int, int]] = set()
    for cell in range(V.mesh.dolfinx_mesh.topology.index_map(2).size_local):
        nodes = dofmap.cell_dofs(cell)
        pairs |= {(int(a), int(b)) for a, b in itertools.permutations(nodes, 2)}
    return pairs


@pytest.mark.parametrize(("degree", "shape"), [(1, None), (2, None), (1, (2,))])
def test_edges_are_the_node_pairs_of_a_cell(degree: int, shape: tuple[int, ...] | None) -> None:
    V = FunctionSpace(unit_square(3), "P", degree, shape)
    g = dof_graph(V)
    assert g.num_nodes == V.num_dofs // V.block_size
    edges = {(int(s), int(t)) for s, t in g.edge_index.T.tolist()}
    assert len(edges) == g.num_edges  # no duplicates
    assert edges == _cell_pairs(V)  # symmetric, no self-loops, exactly the cell couplings
    # features: coordinate difference over the bounding-box diameter, and its norm
    x = g.coordinates.numpy()
    s, t = g.edge_index.numpy()
    np.testing.assert_allclose(g.edge_attr[:, :2].numpy(), (x[s] - x[t]) / np.sqrt(2.0))
    np.testing.assert_allclose(
        g.edge_attr[:, 2].numpy(), np.linalg.norm(x[s] - x[t], axis=1) / np.sqrt(2.0)
    )


def test_p1_counts_and_length_argument() -> None:
    g = dof_graph(FunctionSpace(unit_square(2), "P", 1), length=2.0)
    assert (g.num_nodes, g.num_edges) == (9, 32)
    assert g.length == 2.0
    with pytest.raises(ValueError, match="positive"):
        dof_graph(FunctionSpace(unit_square(2), "P", 1), length=0.0)
