"""Ritz training data, the scale-invariant loss, training, and the DCDM solver."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from sciml.data import H5Dataset
from sciml.dcdm import (
    DCDMNet,
    GridPoisson,
    dcdm,
    directions,
    divergence_rhs,
    empty_scene,
    obstacle_scene,
    ritz_rhs,
    scale_invariant_loss,
    train_dcdm,
    write_ritz_dataset,
)
from sciml.linalg import Reason, SparseMatrix, cg, lanczos
from sciml.train import TrainConfig


def test_ritz_rhs_weights_the_low_spectrum() -> None:
    system = GridPoisson(empty_scene((12, 12)))
    b = ritz_rhs(system.matrix, 200, steps=144, seed=0)
    assert b.shape == (200, 144)
    assert torch.allclose(torch.linalg.vector_norm(b, dim=1), torch.ones(200, dtype=b.dtype))
    pairs = lanczos(system.matrix, 144, seed=0)
    energy = ((b @ pairs.vectors) ** 2).mean(0)  # coefficient energy per Ritz vector
    m = pairs.steps
    low, high = energy[: m // 2].mean(), energy[int(0.7 * m) :].mean()
    assert 40 < low / high < 160  # weight 9 on the coefficients: 81 on the energy


def test_loss_is_scale_invariant_and_zero_at_the_solution() -> None:
    system = GridPoisson(obstacle_scene((10, 10), seed=1))
    A = system.matrix
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(system.n, 4, dtype=torch.float64, generator=gen)
    q = torch.randn(system.n, 4, dtype=torch.float64, generator=gen)
    base = scale_invariant_loss(A, b, q)
    for scale in (1e-3, 7.0, -2.5):
        assert torch.allclose(scale_invariant_loss(A, b, scale * q), base, rtol=1e-12)
    exact = torch.as_tensor(spla.spsolve(A.to_scipy().tocsc(), b.numpy()))
    assert scale_invariant_loss(A, b, 3.0 * exact) < 1e-20
    with pytest.raises(ValueError, match="blocks"):
        scale_invariant_loss(A, b, q[:, :2])


def test_ritz_dataset_round_trip_and_training_lowers_the_loss(tmp_path: Path) -> None:
    system = GridPoisson(empty_scene((16, 16)))
    path = write_ritz_dataset(tmp_path / "ritz.h5", system, 96, steps=120, seed=0)
    data = H5Dataset(path, split="train", preload=True)
    assert len(data) == 86 and data[0]["b"].shape == (16, 16)
    torch.manual_seed(0)
    net = DCDMNet(2, channels=8)
    s32 = system.to(dtype=torch.float32)
    b = s32.from_grid(torch.stack([data[i]["b"] for i in range(len(data))]))
    with torch.no_grad():
        before = scale_invariant_loss(s32.matrix, b, directions(net, s32, b)).item()
    config = TrainConfig(epochs=15, batch_size=16, lr=3e-3, progress=False)
    trainer = train_dcdm(net, system, path, config, device="cpu")
    with torch.no_grad():
        after = scale_invariant_loss(s32.matrix, b, directions(net, s32, b)).item()
    assert after < 0.5 * before
    assert trainer.history[-1]["test_loss"] < trainer.history[0]["test_loss"]


def test_dcdm_with_a_trained_net_matches_a_direct_solve(tmp_path: Path) -> None:
    # train briefly on the empty 16^2 domain, solve an unseen obstacle scene at 24^2
    system = GridPoisson(empty_scene((16, 16)))
    path = write_ritz_dataset(tmp_path / "ritz.h5", system, 160, steps=200, seed=1)
    torch.manual_seed(0)
    net = DCDMNet(2, channels=8)
    train_dcdm(net, system, path, TrainConfig(epochs=25, batch_size=16, lr=3e-3, progress=False))
    scene = GridPoisson(obstacle_scene((24, 24), seed=5))
    b = divergence_rhs(scene, seed=2)
    sol = dcdm(scene, b, net, rtol=1e-8, maxiter=400)
    assert sol.converged and sol.reason is Reason.CONVERGED
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    plain = cg(scene.matrix, b, rtol=1e-8)
    assert int(sol.iterations) < int(plain.iterations)


def test_untrained_net_is_still_a_descent_method() -> None:
    torch.manual_seed(0)
    scene = GridPoisson(obstacle_scene((12, 12), seed=3))
    A = scene.matrix.to_scipy().toarray()
    b = divergence_rhs(scene, seed=1)
    exact = np.linalg.solve(A, b.numpy())
    errors: list[float] = []

    def energy(x: torch.Tensor) -> None:
        e = x.numpy() - exact
        errors.append(float(e @ A @ e))

    sol = dcdm(scene, b, DCDMNet(2, channels=4), rtol=1e-8, maxiter=60, callback=energy)
    assert sol.reason in (Reason.CONVERGED, Reason.MAX_ITERATIONS)
    assert torch.isfinite(sol.x).all()
    assert all(b_ <= a_ * (1 + 1e-10) for a_, b_ in itertools.pairwise(errors))
    assert errors[-1] < errors[0] < exact @ A @ exact  # strictly better than x = 0
    if not sol.converged:
        assert "maxiter" in sol.message


def test_dcdm_bad_input() -> None:
    scene = GridPoisson(obstacle_scene((8, 8), seed=0))
    b = torch.ones(scene.n, dtype=torch.float64)
    net = DCDMNet(2, channels=4)
    S = scene.matrix.to_scipy().tolil()
    S[0, 1] = S[0, 1] - 0.5  # not symmetric
    with pytest.raises(ValueError, match="not symmetric"):
        dcdm(SparseMatrix.from_scipy(S.tocsr()), b, net, fluid=scene.fluid)
    negative = SparseMatrix.from_scipy(-scene.matrix.to_scipy())
    with pytest.raises(ValueError, match="not SPD"):
        dcdm(negative, b, net, fluid=scene.fluid)
    with pytest.raises(ValueError, match="fluid mask"):
        dcdm(scene.matrix, b, net)
    with pytest.raises(ValueError, match="fluid cells"):
        dcdm(scene.matrix, b, net, fluid=np.ones((8, 8), dtype=bool))
    with pytest.raises(ValueError, match="3-D"):
        dcdm(scene, b, DCDMNet(3, channels=2))
    with pytest.raises(ValueError, match="rows"):
        dcdm(scene, torch.ones(scene.n + 1, dtype=torch.float64), net)
    with pytest.raises(TypeError, match="GridPoisson or SparseMatrix"):
        dcdm(scene.matrix.to_dense(), b, net)
