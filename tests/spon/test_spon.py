"""SPON: exact Dirichlet conditions, encoder/decoder, gradients, save/load, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("dolfinx_solver")

from sciml.fem import FunctionSpace, dirichlet
from sciml.mesh import unit_square
from sciml.spon import SPON, load_spon

SIDES = ["left", "right", "bottom", "top"]


@pytest.fixture(scope="module")
def V() -> FunctionSpace:
    return FunctionSpace(unit_square(6), "P", 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dirichlet_values_are_exact_under_random_weights(V: FunctionSpace, dtype) -> None:
    for seed in range(3):
        torch.manual_seed(seed)
        net = SPON(V, V, bcs=SIDES, hidden=8, layers=2).to(dtype)
        for p in net.parameters():  # arbitrary weights, large outputs
            p.data.normal_(0.0, 3.0)
        u = torch.randn(4, V.num_dofs, dtype=dtype)
        g = 1e3 * torch.randn(4, net.bc_dofs.numel(), dtype=dtype)
        out = net(u, g)
        assert torch.equal(out[:, net.bc_dofs], g)
        assert out.dtype == dtype and bool(torch.isfinite(out).all())
        # the free dofs are predicted: they depend on the weights
        assert out[:, net.free_mask].abs().sum() > 0


def test_bc_forms_full_vectors_and_defaults(V: FunctionSpace) -> None:
    torch.manual_seed(0)
    g_fun = lambda x: 1.0 + x[0] * x[1]
    bc = dirichlet(V, SIDES, g_fun)
    net = SPON(V, V, bcs=bc, hidden=8, layers=1).double()
    u = torch.randn(2, V.num_dofs, dtype=torch.float64)
    expected = V.interpolate(g_fun)
    # default values: those of the DirichletBC
    assert torch.equal(net(u)[:, net.bc_dofs], expected[net.bc_dofs].expand(2, -1))
    # full dof vectors: only the Dirichlet entries count
    full = torch.randn(2, V.num_dofs, dtype=torch.float64)
    assert torch.equal(net(u, full)[:, net.bc_dofs], full[:, net.bc_dofs])
    # a list of conditions is merged (a dof on two markers counts once)
    merged = SPON(V, V, bcs=[dirichlet(V, "left", 2.0), dirichlet(V, "bottom", 3.0)], layers=1)
    assert merged.bc_dofs.unique().numel() == merged.bc_dofs.numel()
    assert set(merged.bc_values.tolist()) == {2.0, 3.0}
    # no bcs: every dof is free
    assert SPON(V, V, hidden=4, layers=1).bc_dofs.numel() == 0


def test_encoder_and_decoder_round_trip(V: FunctionSpace) -> None:
    f = lambda x: np.sin(np.pi * x[0]) + x[1] ** 2
    dofs = V.interpolate(f)
    fn = V.function(dofs)
    for encoder in ("interpolation", "projection"):
        net = SPON(V, V, encoder=encoder, hidden=4, layers=1)
        # a function of the space is its dof vector, bit for bit
        assert torch.equal(net.encode(fn)[0], dofs)
        assert torch.equal(net.encode(dofs)[0], dofs)
        # decode(encode(u_h)) == u_h
        assert np.array_equal(net.decode(net.encode(fn)[0]).x.array, fn.x.array)
    # a callable: nodal interpolation, or the L2 projection
    interp = SPON(V, V, hidden=4, layers=1).encode(f)
    assert torch.equal(interp[0], dofs)
    proj = SPON(V, V, encoder="projection", hidden=4, layers=1).encode(f)
    assert not torch.equal(proj[0], dofs)  # projection is not interpolation for sin
    assert float((proj[0] - dofs).abs().max()) < 0.05
    # a function of a bigger space is projected exactly onto a space that contains it
    P2 = FunctionSpace(V.mesh, "P", 2)
    lin = lambda x: 1.0 + 2.0 * x[0] - x[1]
    p1_in_p2 = SPON(P2, P2, encoder="projection", hidden=4, layers=1).encode(
        V.function(V.interpolate(lin))
    )
    torch.testing.assert_close(p1_in_p2[0], P2.interpolate(lin), rtol=0, atol=1e-9)
    # lists make a batch
    assert SPON(V, V, hidden=4, layers=1).encode([f, fn]).shape == (2, V.num_dofs)


def test_different_input_and_output_spaces() -> None:
    coarse = FunctionSpace(unit_square(3), "P", 1)
    fine = FunctionSpace(unit_square(3).refine(), "P", 2)
    torch.manual_seed(0)
    net = SPON(coarse, fine, bcs="boundary", hidden=8, layers=2)
    out = net(torch.randn(3, coarse.num_dofs), g=torch.zeros(fine.num_dofs))
    assert out.shape == (3, fine.num_dofs)
    assert torch.equal(out[:, net.bc_dofs], torch.zeros(3, net.bc_dofs.numel()))
    # the input reaches the output nodes by interpolation: linear inputs are reproduced
    lin = lambda x: 1.0 + x[0] - 2.0 * x[1]
    x = net.node_features(
        coarse.interpolate(lin)[None].float(), torch.zeros(1, net.bc_dofs.numel())
    )
    torch.testing.assert_close(x[0, :, 0], fine.interpolate(lin).float(), rtol=0, atol=1e-5)


def test_gradients_reach_every_parameter(V: FunctionSpace) -> None:
    torch.manual_seed(0)
    net = SPON(V, V, bcs=SIDES, hidden=8, layers=2)
    net(torch.randn(2, V.num_dofs), torch.randn(2, net.bc_dofs.numel())).square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_save_and_load_reproduce_predictions(V: FunctionSpace, tmp_path) -> None:
    torch.manual_seed(0)
    bc = dirichlet(V, SIDES, lambda x: x[0])
    net = SPON(V, V, bcs=bc, hidden=8, layers=2, input_scale=2.0, output_scale=0.5).double()
    f = lambda x: np.cos(3 * x[0]) * x[1]
    path = net.save(tmp_path / "model")
    net.save(tmp_path / "model")  # overwriting an existing save works
    loaded = load_spon(path).double()
    assert loaded.config() == net.config()
    out, out_loaded = net(f)[0], loaded(f)[0]
    # the reloaded mesh may number its dofs differently: compare at the same coordinates
    xa = V.dof_coordinates
    xb = loaded.output_space.dof_coordinates
    order = np.lexsort(np.round(xa, 9).T[::-1])
    order_b = np.lexsort(np.round(xb, 9).T[::-1])
    np.testing.assert_allclose(xa[order], xb[order_b], atol=1e-14)
    torch.testing.assert_close(out[order], out_loaded[order_b], rtol=1e-12, atol=1e-12)
    with pytest.raises(FileNotFoundError, match=r"no model\.pt"):
        load_spon(tmp_path / "nothing")


def test_load_onto_the_training_space_keeps_the_data_order(tmp_path) -> None:
    from sciml.data.generators.fe_poisson import mesh_path
    from sciml.mesh import load

    # a mesh read from gmsh is numbered differently from the one rebuilt from the save
    V = FunctionSpace(load(mesh_path("plate_with_holes", 0)), "P", 1)
    sides = ["left", "right", "top", "bottom", "holes"]
    torch.manual_seed(0)
    net = SPON(V, V, bcs=sides, hidden=8, layers=2, input_scale=2.0).double()
    gen = torch.Generator().manual_seed(1)
    k = torch.rand(3, V.num_dofs, generator=gen, dtype=torch.float64) + 0.5
    g = torch.rand(3, net.bc_dofs.numel(), generator=gen, dtype=torch.float64)
    with torch.no_grad():
        expected = net(k, g)
    path = net.save(tmp_path / "model")
    assert not torch.equal(load_spon(path).bc_dofs, net.bc_dofs)  # the trap being fixed
    loaded = load_spon(path, output_space=V).double()
    torch.testing.assert_close(loaded.bc_dofs, net.bc_dofs)
    with torch.no_grad():
        torch.testing.assert_close(loaded(k, g), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="output_space does not match"):
        load_spon(path, output_space=FunctionSpace(unit_square(6), "P", 1))


def test_write_xdmf(V: FunctionSpace, tmp_path) -> None:
    net = SPON(V, V, hidden=4, layers=1)
    u = net(torch.randn(1, V.num_dofs))[0]
    path = net.write_xdmf(tmp_path / "prediction.xdmf", {"prediction": u})
    assert path.exists() and path.with_suffix(".h5").exists()


def test_bad_inputs_raise(V: FunctionSpace) -> None:
    net = SPON(V, V, bcs=SIDES, hidden=4, layers=1)
    with pytest.raises(ValueError, match=f"{V.num_dofs}"):
        net(torch.randn(2, V.num_dofs - 1))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.full((1, V.num_dofs), float("nan")))
    with pytest.raises(ValueError, match="Dirichlet values"):
        net(torch.randn(2, V.num_dofs), torch.randn(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.randn(2, V.num_dofs), torch.full((net.bc_dofs.numel(),), float("inf")))
    with pytest.raises(TypeError, match="FunctionSpace"):
        SPON(V.dolfinx_space, V)
    with pytest.raises(ValueError, match="encoder"):
        SPON(V, V, encoder="magic")
    with pytest.raises(TypeError, match="bcs"):
        SPON(V, V, bcs=3)
    with pytest.raises(ValueError, match="processor returned"):
        SPON(V, V, processor=WrongShapeProcessor(), layers=1)(torch.randn(1, V.num_dofs))
    with pytest.raises(TypeError, match="cannot encode"):
        net.encode(42)


class WrongShapeProcessor(torch.nn.Module):
    """A processor that returns the wrong shape."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, x, edge_index, edge_attr):
        return x[..., :2] * self.w
