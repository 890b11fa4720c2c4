"""Scenes, grid systems and the DCDM network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.dcdm import (
    DCDMNet,
    GridPoisson,
    blob_scene,
    divergence_rhs,
    fill_enclosed,
    image_scene,
    obstacle_scene,
)


def test_obstacles_are_resolution_independent() -> None:
    coarse = obstacle_scene((32, 32), seed=4)
    fine = obstacle_scene((128, 128), seed=4)
    # the same geometry: the coarse mask equals the fine one sampled at coarse cell centres
    # up to cells cut by an obstacle boundary
    sampled = fine[2::4, 2::4]
    assert (coarse != sampled).mean() < 0.03
    assert abs(coarse.mean() - fine.mean()) < 0.03
    assert 0.3 < coarse.mean() < 1.0
    three = obstacle_scene((16, 16, 16), seed=4, kinds=["box"])
    assert three.shape == (16, 16, 16) and not three.all()


def test_enclosed_fluid_is_filled() -> None:
    fluid = np.ones((9, 9), dtype=bool)
    fluid[2:7, 2] = fluid[2:7, 6] = fluid[2, 2:7] = fluid[6, 2:7] = False
    filled = fill_enclosed(fluid)
    assert not filled[3:6, 3:6].any() and filled[0].all()
    # with only the left face open, the same pocket is still enclosed; the outside stays
    assert fill_enclosed(fluid, ["x-"])[0].all()
    GridPoisson(filled)  # non-singular


def test_blob_and_image_scenes(tmp_path: Path) -> None:
    blob = blob_scene((48, 48), seed=1)
    assert 0.5 < blob.mean() < 0.99 and blob[0].all()
    picture = np.ones((20, 30))
    picture[5:10, 10:20] = 0.0  # a dark bar in the upper part of the picture
    scene = image_scene(picture, (30, 20))
    assert scene.shape == (30, 20) and (~scene).sum() == 50
    assert not scene[15, 13]  # y up: the bar is in the upper half
    import matplotlib.image as mpimg

    path = tmp_path / "mask.png"
    mpimg.imsave(path, picture, cmap="gray", vmin=0, vmax=1)
    assert np.array_equal(image_scene(path, (30, 20)), scene)
    assert image_scene(path, (30, 20, 4)).shape == (30, 20, 4)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_scene(tmp_path / "missing.png", (8, 8))
    with pytest.raises(ValueError, match="2-D picture"):
        image_scene(np.ones((2, 2, 2, 2)), (8, 8))


def test_grid_maps_and_divergence_rhs() -> None:
    system = GridPoisson(obstacle_scene((24, 20), seed=2))
    v = torch.randn(system.n, 3, dtype=torch.float64)
    grid = system.to_grid(v)
    assert grid.shape == (3, 24, 20)
    assert (grid[:, ~torch.as_tensor(system.fluid)] == 0).all()
    assert torch.equal(system.from_grid(grid), v)
    b = divergence_rhs(system, seed=3)
    assert b.shape == (system.n,) and torch.isfinite(b).all() and b.abs().max() > 0
    assert torch.equal(b, divergence_rhs(system, seed=3))
    # only open faces carry flux: with one open face the data differ from the open box
    one_open = GridPoisson(system.fluid, dirichlet=["x+"])
    assert not torch.equal(divergence_rhs(one_open, seed=3), b)
    with pytest.raises(ValueError, match="unknowns"):
        system.to_grid(torch.zeros(system.n + 1))
    with pytest.raises(ValueError, match="grid fields"):
        system.from_grid(torch.zeros(2, 24, 21))


@pytest.mark.parametrize("shape", [(2, 1, 33, 20), (1, 1, 9, 8, 7)])
def test_network_shapes_and_gradients(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = DCDMNet(len(shape) - 2, channels=4)
    out = net(torch.randn(*shape))
    assert out.shape == shape
    out.square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_network_bad_input() -> None:
    with pytest.raises(ValueError, match="dim"):
        DCDMNet(1)
    with pytest.raises(ValueError, match="odd kernel"):
        DCDMNet(2, kernel=2)
    with pytest.raises(ValueError, match="expected input"):
        DCDMNet(2)(torch.randn(2, 8, 8))
    assert DCDMNet(3, channels=8).init_args["channels"] == 8


def test_multilevel_network_sees_the_whole_grid_with_the_same_weights() -> None:
    torch.manual_seed(0)
    base = DCDMNet(2, channels=4)
    multi = DCDMNet(2, channels=4, multilevel=True)
    multi.load_state_dict({**base.state_dict(), "gate": torch.tensor(1.0)})  # same convolutions
    assert sum(p.numel() for p in multi.parameters()) == 1 + sum(
        p.numel() for p in base.parameters()
    )
    r = torch.zeros(1, 1, 64, 64)
    r[0, 0, 0, 0] = 1.0
    zero = torch.zeros_like(r)
    with torch.no_grad():
        far_base = (base(r) - base(zero))[0, 0, -8:, -8:].abs().max()
        far_multi = (multi(r) - multi(zero))[0, 0, -8:, -8:].abs().max()
    assert far_base == 0  # one pooling level: a local receptive field
    assert far_multi > 0  # recursive coarsening reaches the opposite corner
    assert multi(torch.randn(2, 1, 37, 50)).shape == (2, 1, 37, 50)
    net3 = DCDMNet(3, channels=2, multilevel=True)
    assert net3(torch.randn(1, 1, 20, 12, 9)).shape == (1, 1, 20, 12, 9)
    # the gate starts at zero: a fresh multilevel network is the single-grid network
    fresh = DCDMNet(2, channels=4, multilevel=True)
    assert float(fresh.gate.detach()) == 0.0


def test_grid_poisson_from_matrix_wraps_without_assembling() -> None:
    system = GridPoisson(obstacle_scene((12, 10), seed=2), dirichlet=("x-", "y+"))
    wrapped = GridPoisson.from_matrix(system.matrix, system.fluid, dirichlet=system.dirichlet)
    assert wrapped.matrix is system.matrix and wrapped.dirichlet == system.dirichlet
    assert torch.equal(wrapped.cells, system.cells) and wrapped.shape == (12, 10)
    moved = system.to(dtype=torch.float32)
    assert moved.matrix.dtype == torch.float32 and torch.equal(moved.cells, system.cells)
    with pytest.raises(ValueError, match="fluid cells"):
        GridPoisson.from_matrix(system.matrix, np.ones((12, 10), dtype=bool))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        GridPoisson.from_matrix(system.matrix, system.fluid.reshape(-1))
