"""MultigridSPON: levels, exact boundary values, gradients, non-nested meshes, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("dolfinx_solver")

from sciml.fem import FunctionSpace, prolongation
from sciml.fem.graph import dof_graph
from sciml.mesh import refinement_hierarchy, unit_square
from sciml.spon import MultigridProcessor, MultigridSPON, feature_restriction, load_spon


@pytest.fixture(scope="module")
def spaces() -> list[FunctionSpace]:
    return [FunctionSpace(m, "P", 1) for m in refinement_hierarchy(unit_square(3), 2)]


def test_restriction_averages_and_reproduces_constants(spaces) -> None:
    P = prolongation(spaces[0], spaces[1])
    R = feature_restriction(P)
    assert R.shape == (spaces[0].num_dofs, spaces[1].num_dofs)
    ones = torch.ones(spaces[1].num_dofs, dtype=torch.float64)
    torch.testing.assert_close(R @ ones, torch.ones(spaces[0].num_dofs, dtype=torch.float64))
    assert bool((R.to_scipy().data >= 0).all())


def test_exact_bcs_gradients_and_shapes(spaces) -> None:
    torch.manual_seed(0)
    V = spaces[-1]
    net = MultigridSPON(V, V, spaces[:-1], bcs="boundary", hidden=8, heavy=2, light=1)
    for p in net.parameters():
        p.data.normal_(0.0, 2.0)
    g = torch.randn(3, net.bc_dofs.numel())
    out = net(torch.randn(3, V.num_dofs), g)
    assert out.shape == (3, V.num_dofs)
    assert torch.equal(out[:, net.bc_dofs], g)
    out.square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert isinstance(net.processor, MultigridProcessor)
    assert net.processor.levels == 3


def test_non_nested_levels_and_vector_spaces() -> None:
    fine = FunctionSpace(unit_square(7), "P", 1, (2,))
    coarse = FunctionSpace(unit_square(3), "P", 1, (2,))  # 7 is not a refinement of 3
    torch.manual_seed(0)
    net = MultigridSPON(fine, fine, [coarse], bcs="left", hidden=8, heavy=1, light=1)
    out = net(torch.randn(2, fine.num_dofs))
    assert out.shape == (2, fine.num_dofs)
    assert torch.equal(out[:, net.bc_dofs], torch.zeros(2, net.bc_dofs.numel()))


def test_save_and_load(spaces, tmp_path) -> None:
    torch.manual_seed(0)
    V = spaces[-1]
    net = MultigridSPON(V, V, spaces[:-1], bcs="boundary", hidden=8, heavy=2, light=1).double()
    f = lambda x: np.sin(3 * x[0]) + x[1]
    loaded = load_spon(net.save(tmp_path / "mg")).double()
    assert isinstance(loaded, MultigridSPON) and loaded.config() == net.config()
    xa, xb = V.dof_coordinates, loaded.output_space.dof_coordinates
    a, b = np.lexsort(np.round(xa, 9).T[::-1]), np.lexsort(np.round(xb, 9).T[::-1])
    torch.testing.assert_close(net(f)[0][a], loaded(f)[0][b], rtol=1e-10, atol=1e-10)


def test_bad_hierarchies_raise(spaces) -> None:
    V = spaces[-1]
    with pytest.raises(ValueError, match="at least one coarser"):
        MultigridSPON(V, V, [])
    with pytest.raises(TypeError, match="FunctionSpaces"):
        MultigridSPON(V, V, [V.mesh])
    g0, g1 = dof_graph(spaces[0]), dof_graph(spaces[1])
    with pytest.raises(ValueError, match="expected"):
        MultigridProcessor([g0, g1], [prolongation(spaces[1], spaces[2])], 3, 1)
    with pytest.raises(ValueError, match="at least two levels"):
        MultigridProcessor([g0], [], 3, 1)
