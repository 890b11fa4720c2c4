"""The graph DCDM network: any sparse SPD matrix, trained on some meshes, solving others."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from sciml.dcdm import (
    GraphDCDMNet,
    GraphDirections,
    MatrixGraph,
    block_diagonal,
    dcdm,
    ritz_rhs,
    train_graph_dcdm,
    write_graph_dataset,
)
from sciml.linalg import Reason, SparseMatrix, cg, poisson2d
from sciml.train import TrainConfig


def _fe_matrix(mesh: object, seed: int) -> SparseMatrix:
    """P1 stiffness of -div(kappa grad u), kappa = exp(smooth field), boundary dofs removed."""
    from sciml.data.generators.fe_poisson import boundary_markers
    from sciml.fem import FunctionSpace, condense, dirichlet, stiffness

    V = FunctionSpace(mesh, "Lagrange", 1)
    xy = np.asarray(V.dof_coordinates)
    rng = np.random.default_rng(seed)
    k = rng.uniform(1, 3, size=2)
    kappa = torch.from_numpy(np.exp(0.8 * np.sin(k[0] * xy[:, 0]) * np.cos(k[1] * xy[:, 1])))
    zero = torch.zeros(V.num_dofs, dtype=torch.float64)
    return condense(stiffness(V, kappa), zero, dirichlet(V, boundary_markers(mesh)))[0]


def test_untrained_network_is_the_damped_jacobi_v_cycle() -> None:
    from sciml.linalg import amg

    A = poisson2d(30)
    graph = MatrixGraph(A, max_coarse=40)
    assert len(graph.sizes) >= 3
    net = GraphDCDMNet(hidden=6, layers=1).double()
    r = torch.randn(A.shape[0], 3, dtype=torch.float64)
    vcycle = amg(A, smoother="jacobi", degree=1, max_coarse=40)
    torch.testing.assert_close(net(graph, r), vcycle @ r)


def test_network_shapes_homogeneity_and_gradients() -> None:
    torch.manual_seed(0)
    net = GraphDCDMNet(hidden=6, layers=1).double()
    for smoother in (net.pre, net.post):  # leave the Jacobi start: every weight matters
        torch.nn.init.normal_(smoother.project.weight, std=0.1)
    for size in (6, 30):  # hierarchies of different depth, one set of weights
        A = poisson2d(size)
        graph = MatrixGraph(A, max_coarse=8)
        r = torch.randn(A.shape[0], 3, dtype=torch.float64)
        q = net(graph, r)
        assert q.shape == r.shape
        torch.testing.assert_close(net(graph, 4.0 * r), 4.0 * q)
    q.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    with pytest.raises(ValueError, match="r must be"):
        net(graph, torch.randn(5, 1, dtype=torch.float64))
    with pytest.raises(TypeError, match="SparseMatrix"):
        MatrixGraph(A.to_dense())


def test_trained_on_one_mesh_solves_another(tmp_path: Path) -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.data.generators.fe_poisson import mesh_path
    from sciml.mesh import load, unit_square

    train = [_fe_matrix(unit_square(14), 0), _fe_matrix(unit_square(20), 1)]
    rhs = [ritz_rhs(A, 96, steps=150, seed=i) for i, A in enumerate(train)]
    path = write_graph_dataset(tmp_path / "graph.h5", rhs)
    torch.manual_seed(0)
    net = GraphDCDMNet(hidden=8, layers=1)
    config = TrainConfig(epochs=20, batch_size=8, lr=3e-3, progress=False)
    trainer = train_graph_dcdm(net, train, path, config)
    assert trainer.history[-1]["test_loss"] < 0.5 * trainer.history[0]["test_loss"]

    A = _fe_matrix(load(mesh_path("l_shape", 0)), 7)  # a mesh it never saw
    b = torch.from_numpy(np.random.default_rng(0).standard_normal(A.shape[0]))
    sol = dcdm(A, b, net, rtol=1e-8, maxiter=500)
    assert sol.converged and sol.reason is Reason.CONVERGED
    exact = spla.spsolve(A.to_scipy().tocsc(), b.numpy())
    assert np.linalg.norm(sol.x.numpy() - exact) <= 1e-6 * np.linalg.norm(exact)
    assert int(sol.iterations) < int(cg(A, b, rtol=1e-8).iterations)
    # what training adds over the network's starting point, the damped-Jacobi V-cycle
    start = dcdm(A, b, GraphDCDMNet(hidden=8, layers=1), rtol=1e-8, maxiter=500)
    assert int(sol.iterations) < int(start.iterations)


def test_untrained_graph_net_is_a_descent_method_or_says_why() -> None:
    torch.manual_seed(1)
    A = poisson2d(12)
    dense = A.to_scipy().toarray()
    b = torch.from_numpy(np.random.default_rng(2).standard_normal(A.shape[0]))
    exact = np.linalg.solve(dense, b.numpy())
    errors: list[float] = []

    def energy(x: torch.Tensor) -> None:
        e = x.numpy() - exact
        errors.append(float(e @ dense @ e))

    net = GraphDCDMNet(hidden=4, layers=1)
    for smoother in (net.pre, net.post):  # random weights, far from the Jacobi start
        torch.nn.init.normal_(smoother.project.weight, std=3.0)
    sol = dcdm(A, b, net, rtol=1e-8, maxiter=40, callback=energy)
    assert sol.reason in (Reason.CONVERGED, Reason.MAX_ITERATIONS)
    assert all(b_ <= a_ * (1 + 1e-10) for a_, b_ in itertools.pairwise(errors))
    assert errors[-1] < errors[0] < exact @ dense @ exact
    if not sol.converged:
        assert "maxiter" in sol.message


def test_graph_network_inside_a_petsc_ksp_gives_the_same_iterations() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.linalg import petsc_solve

    torch.manual_seed(3)
    A = poisson2d(24)
    b = torch.from_numpy(np.random.default_rng(4).standard_normal(A.shape[0]))
    net = GraphDCDMNet(hidden=8, layers=1)
    ours = dcdm(A, b, net, rtol=1e-6, k=2, maxiter=3000)
    theirs = petsc_solve(
        A,
        b,
        ksp="fcg",
        M=GraphDirections(net, A),
        rtol=1e-6,
        maxiter=3000,
        options={"ksp_fcg_mmax": 2},
    )
    assert ours.converged and theirs.converged
    assert abs(int(ours.iterations) - int(theirs.iterations)) <= 1


def test_graph_bad_input(tmp_path: Path) -> None:
    A = poisson2d(6)
    b = torch.ones(A.shape[0], dtype=torch.float64)
    net = GraphDCDMNet(hidden=4, layers=1)
    S = A.to_scipy().tolil()
    S[0, 1] = S[0, 1] - 0.5
    with pytest.raises(ValueError, match="not symmetric"):
        dcdm(SparseMatrix.from_scipy(S.tocsr()), b, net)
    with pytest.raises(ValueError, match="not SPD"):
        dcdm(SparseMatrix.from_scipy(-A.to_scipy()), b, net)
    with pytest.raises(ValueError, match="levels"):
        dcdm(A, b, net, levels="auto")
    with pytest.raises(ValueError, match="coarse"):
        dcdm(A, b, net, coarse=2)
    with pytest.raises(TypeError, match="SparseMatrix"):
        dcdm(A.to_dense(), b, net)
    with pytest.raises(TypeError, match="SparseMatrix"):
        GraphDirections(net, A.to_dense())
    B, slices = block_diagonal([A, poisson2d(4)])
    assert B.shape == (52, 52) and slices[1] == slice(36, 52)
    with pytest.raises(ValueError, match="one number of samples"):
        write_graph_dataset(tmp_path / "x.h5", [torch.ones(3, 36), torch.ones(2, 16)])
    path = write_graph_dataset(tmp_path / "g.h5", [torch.randn(10, 36), torch.randn(10, 16)])
    with pytest.raises(ValueError, match="blocks end"):
        train_graph_dcdm(net, [A], path, TrainConfig(epochs=1, progress=False))


def test_training_meshes_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gmsh")
    from sciml.data.generators.fe_poisson import boundary_markers
    from sciml.dcdm import reproduce

    plain = reproduce.training_mesh(0.1, 3)
    assert boundary_markers(plain) == ["boundary"]
    cells = plain.dolfinx_mesh.topology.index_map(2).size_local
    refined = reproduce.training_mesh(0.1, 3, "refined")
    assert refined.dolfinx_mesh.topology.index_map(2).size_local == 4 * cells
    graded = reproduce.training_mesh(0.1, 3, "graded")  # h/4 on the holes: more cells
    assert graded.dolfinx_mesh.topology.index_map(2).size_local > cells
    jittered = reproduce.training_mesh(0.1, 3, "jittered")  # same topology, moved nodes
    assert jittered.dolfinx_mesh.topology.index_map(2).size_local == cells
    assert not np.allclose(jittered.dolfinx_mesh.geometry.x, plain.dolfinx_mesh.geometry.x)
    with pytest.raises(ValueError, match="kind"):
        reproduce.training_mesh(0.1, 3, "curved")
    monkeypatch.setattr(reproduce, "GRAPH_VALIDATION", ((0.1, 3, "plain"),))
    out = reproduce.graph_validation(GraphDCDMNet(hidden=4, layers=1))
    assert out["meshes"][0]["kind"] == "plain" and out["meshes"][0]["unknowns"] > 0
    assert isinstance(out["iterations"][0], int) and 0 < out["iterations"][0] <= 300
