"""The shipped DCDM weights: they load, and they solve scenes they never saw."""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from sciml.dcdm import (
    VARIANTS,
    DCDMNet,
    GridPoisson,
    dcdm,
    divergence_rhs,
    obstacle_scene,
    pretrained,
    pretrained_info,
)
from sciml.linalg import Reason, cg

# the function sciml.dcdm.pretrained shadows the module of the same name
shipped = importlib.import_module("sciml.dcdm.pretrained")


@pytest.mark.parametrize("variant", VARIANTS)
def test_pretrained_2d_solves_an_unseen_obstacle_scene(variant: str) -> None:
    model = pretrained(2, variant=variant)
    assert isinstance(model, DCDMNet) and not model.training
    info = pretrained_info(2, variant)
    assert "sciml.dcdm.reproduce" in info["command"]
    assert info["history"][-1]["test_loss"] < 0.1  # trained, not a random network
    scene = GridPoisson(obstacle_scene((48, 40), count=5, seed=123))
    b = divergence_rhs(scene, seed=7)
    sol = dcdm(scene, b, model, rtol=1e-8, maxiter=300)
    assert sol.converged and sol.reason is Reason.CONVERGED
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    plain = cg(scene.matrix, b, rtol=1e-8)
    assert 3 * int(sol.iterations) < int(plain.iterations)


def test_pretrained_bad_requests(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dim 2 and 3"):
        pretrained(4)
    with pytest.raises(ValueError, match="variant"):
        pretrained(2, variant="huge")
    monkeypatch.setattr(shipped, "WEIGHTS", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"sciml\.dcdm\.reproduce --dim 2"):
        pretrained(2)


def test_save_weights_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = DCDMNet(3, channels=4, multilevel=True)
    with torch.no_grad():
        net.gate.fill_(0.5)  # the coarse levels take part
    shipped.save_weights(net, tmp_path / "dcdm_3d.pt", {"note": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dcdm_3d.pt"]  # no temporary left
    monkeypatch.setattr(shipped, "WEIGHTS", tmp_path)
    back = pretrained(3, dtype=torch.float64)  # init_args rebuild the multilevel network
    assert back.multilevel and pretrained_info(3) == {"note": "test"}
    r = torch.randn(2, 1, 9, 8, 7, dtype=torch.float64)
    assert torch.allclose(back(r), net.double()(r), atol=1e-12)


def test_pretrained_3d_solves_an_unseen_obstacle_scene() -> None:
    model = pretrained(3)
    assert model.dim == 3
    assert pretrained_info(3)["history"][-1]["test_loss"] < 0.1
    scene = GridPoisson(obstacle_scene((14, 12, 16), count=3, seed=4))
    b = divergence_rhs(scene, seed=1)
    sol = dcdm(scene, b, model, rtol=1e-8, maxiter=300)
    assert sol.converged
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    assert 2 * int(sol.iterations) < int(cg(scene.matrix, b, rtol=1e-8).iterations)


def test_pretrained_network_inside_a_petsc_ksp_gives_the_same_iterations() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.dcdm import LearnedDirections
    from sciml.linalg import petsc_solve

    scene = GridPoisson(obstacle_scene((40, 40), count=4, seed=9))
    b = divergence_rhs(scene, seed=3)
    model = pretrained(2)
    ours = dcdm(scene, b, model, rtol=1e-8, k=2)
    theirs = petsc_solve(
        scene.matrix,
        b,
        ksp="fcg",
        M=LearnedDirections(model, scene),
        rtol=1e-8,
        options={"ksp_fcg_mmax": 2},  # PETSc's truncation = DCDM's k
    )
    assert ours.converged and theirs.converged
    assert abs(int(ours.iterations) - int(theirs.iterations)) <= 1
    assert torch.linalg.vector_norm(theirs.x - ours.x) <= 1e-6 * torch.linalg.vector_norm(ours.x)


def test_multilevel_directions_solve_with_fewer_iterations() -> None:
    from sciml.dcdm import MultilevelDirections

    scene = GridPoisson(obstacle_scene((97, 90), count=6, seed=21))  # odd sizes on purpose
    b = divergence_rhs(scene, seed=5)
    model = pretrained(2)
    gen = MultilevelDirections(model, scene)
    assert gen.shapes == [(97, 90), (49, 45), (25, 23), (13, 12)]
    D = gen(b)
    assert D.shape == (scene.n, 4) and D.dtype == b.dtype and torch.isfinite(D).all()
    assert MultilevelDirections(model, scene, levels=2).levels == 2
    single = dcdm(scene, b, model, rtol=1e-8)
    multi = dcdm(scene, b, model, rtol=1e-8, levels="auto")
    assert multi.converged and multi.reason is Reason.CONVERGED
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(multi.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    assert int(multi.iterations) < int(single.iterations)
    with pytest.raises(ValueError, match="levels"):
        dcdm(scene, b, model, levels=0)
    with pytest.raises(ValueError, match="at most"):
        MultilevelDirections(model, scene, levels=12)


def test_pretrained_graph_network_solves_an_unseen_mesh() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.data.generators.fe_poisson import diffusion_system, mesh_path
    from sciml.dcdm import pretrained_graph
    from sciml.linalg import petsc_solve
    from sciml.mesh import load

    info = pretrained_info("graph")
    assert info["command"] == "python -m sciml.dcdm.reproduce --graph"
    assert info["history"][-1]["test_loss"] < info["history"][0]["test_loss"]
    # a geometry and a coefficient field none of the training matrices had
    A, b, _free, _kappa = diffusion_system(load(mesh_path("annulus", 0)), seed=3)
    sol = dcdm(A, b, pretrained_graph(), rtol=1e-8, maxiter=200)
    assert sol.converged and sol.reason is Reason.CONVERGED
    exact = spla.spsolve(A.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    icc = petsc_solve(A, b, pc="icc", rtol=1e-8)
    assert int(sol.iterations) < int(icc.iterations)


def test_pretrained_graph_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sciml.dcdm import pretrained_graph

    monkeypatch.setattr(shipped, "GRAPH_WEIGHTS", tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match=r"sciml\.dcdm\.reproduce --graph"):
        pretrained_graph()


def test_coarse_grid_correction_makes_dcdm_a_two_level_method() -> None:
    from sciml.dcdm import MultilevelDirections

    scene = GridPoisson(obstacle_scene((96, 80), count=6, seed=21))
    b = divergence_rhs(scene, seed=5)
    model = pretrained(2)
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    single = dcdm(scene, b, model, rtol=1e-8)
    two = dcdm(scene, b, model, rtol=1e-8, coarse=8)
    assert two.converged and two.reason is Reason.CONVERGED
    assert np.linalg.norm(two.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    assert int(two.iterations) < int(single.iterations)
    # prepared once, reused: the same iterations as building it inside dcdm
    gen = MultilevelDirections(model, scene, levels=1, coarse=8)
    assert gen.width == 2 and gen.correction is not None and gen.correction.coarse_size <= 120
    own = scene.coarse_correction(8)  # the grid's own correction, as the directions build it
    assert own.coarse_size == gen.correction.coarse_size and own.dtype == scene.matrix.dtype
    torch.testing.assert_close(own @ b, gen.correction @ b)
    again = dcdm(scene, b, gen, rtol=1e-8)
    assert int(again.iterations) == int(two.iterations)
    other = GridPoisson(obstacle_scene((96, 80), count=6, seed=22))
    with pytest.raises(ValueError, match="another matrix"):
        dcdm(other, divergence_rhs(other), gen)
    with pytest.raises(ValueError, match="smaller factor"):
        dcdm(scene, b, model, coarse=128)
    with pytest.raises(ValueError, match="one right-hand side"):
        dcdm(scene, torch.stack([b, b], 1), model, coarse=8)


def test_coarse_grid_with_an_untrained_network_is_still_a_descent_method() -> None:
    torch.manual_seed(0)
    scene = GridPoisson(obstacle_scene((32, 32), count=4, seed=2))
    b = divergence_rhs(scene, seed=1)
    A = scene.matrix.to_scipy().toarray()
    exact = np.linalg.solve(A, b.numpy())
    errors: list[float] = []

    def energy(x: torch.Tensor) -> None:
        e = x.numpy() - exact
        errors.append(float(e @ A @ e))

    sol = dcdm(scene, b, DCDMNet(2, channels=4), rtol=1e-8, maxiter=60, coarse=4, callback=energy)
    assert sol.reason in (Reason.CONVERGED, Reason.MAX_ITERATIONS)
    assert torch.isfinite(sol.x).all() and len(errors) == int(sol.iterations)
    assert all(later <= earlier * (1 + 1e-10) for earlier, later in itertools.pairwise(errors))
    assert errors[-1] < errors[0] < float(exact @ A @ exact)  # strictly better than x = 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("coarse", [None, 8])
def test_pretrained_dcdm_on_cuda_matches_a_direct_solve(coarse: int | None) -> None:
    scene = GridPoisson(obstacle_scene((64, 64), seed=5))
    b = divergence_rhs(scene, seed=2)
    cpu = dcdm(scene, b, pretrained(2), rtol=1e-8, maxiter=500, coarse=coarse)
    gpu = dcdm(
        scene.to(device="cuda"),
        b.cuda(),
        pretrained(2).cuda(),
        rtol=1e-8,
        maxiter=500,
        coarse=coarse,
    )
    assert gpu.converged and gpu.x.device.type == "cuda"
    exact = spla.spsolve(scene.matrix.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(gpu.x.cpu().numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    # the float32 network differs in rounding only: the same iteration count, give or take
    assert abs(int(gpu.iterations) - int(cpu.iterations)) <= 2
