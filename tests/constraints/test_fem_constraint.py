"""Finite-element hard constraints: mesh partition, FE residual rows, soft / global / MoE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")

from sciml.constraints.fem import (
    FEDiffusionData,
    FEDiffusionPIHC,
    fe_diffusion_data,
    fe_diffusion_metrics,
    fe_diffusion_step,
    partition_cells,
)
from sciml.constraints.training import PIHCOutput
from sciml.train import TrainConfig, Trainer

SMALL = {"n_basis": 4, "hidden": 8, "layers": 1, "mesh": "l_shape"}


@pytest.fixture(scope="module")
def dataset() -> FEDiffusionData:
    return fe_diffusion_data(4, mesh="l_shape", seed=5)


@pytest.fixture(scope="module")
def data(dataset: FEDiffusionData) -> dict[str, torch.Tensor]:
    return {k: v[:3].clone() for k, v in dataset.fields.items()}


def _model(**options: object) -> FEDiffusionPIHC:
    torch.manual_seed(0)
    return FEDiffusionPIHC(**{**SMALL, **options})  # type: ignore[arg-type]


def _call(model: FEDiffusionPIHC, batch: dict[str, torch.Tensor]) -> PIHCOutput:
    return model(batch["kappa"], batch["f"], batch["g"], batch["stiffness"])


@pytest.mark.parametrize("parts", [1, 3, 4])
def test_partition_covers_every_cell_and_owns_every_dof(parts: int) -> None:
    V = _model(experts=1).space
    p = partition_cells(V, parts)
    n_cells, n_dofs = V.mesh.num_cells, V.num_dofs
    assert p.cell_part.shape == (n_cells,) and set(np.unique(p.cell_part)) == set(range(parts))
    sizes = np.bincount(p.cell_part, minlength=parts)
    assert sizes.max() - sizes.min() <= 1  # bisection by counts: balanced
    owned = [p.owned_dofs(k) for k in range(parts)]
    assert sum(o.size for o in owned) == n_dofs
    np.testing.assert_array_equal(np.sort(np.concatenate(owned)), np.arange(n_dofs))
    for k in range(parts):  # an owner holds one of the dof's cells
        assert np.isin(owned[k], p.part_dofs(k)).all()
    index, mask = p.rows("owned")
    assert int(mask.sum()) == n_dofs
    assert sorted(index[mask.bool()].tolist()) == list(range(n_dofs))
    again = partition_cells(V, parts)  # deterministic
    np.testing.assert_array_equal(again.cell_part, p.cell_part)


def test_reference_satisfies_the_residual(data: dict[str, torch.Tensor]) -> None:
    model = _model(experts=1)
    r = model.residual(data["u"], data["stiffness"], data["f"], data["g"])
    assert float(r.abs().max()) < 1e-10 * float(data["u"].abs().max())
    on_boundary = model.residual.dirichlet
    torch.testing.assert_close(data["u"][:, on_boundary], data["g"][:, on_boundary])


@pytest.mark.parametrize(("experts", "rows"), [(1, "cells"), (4, "cells"), (4, "owned")])
def test_hard_constraint_holds_on_every_expert(
    data: dict[str, torch.Tensor], experts: int, rows: str
) -> None:
    model = _model(experts=experts, rows=rows, tol=1e-12, max_steps=200)
    out = _call(model, data)
    c = out.constraint
    assert c is not None and c.failures == 0
    assert out.weights.shape == (3, experts, 4) and c.converged.shape == (3, experts)
    # every expert's least-squares problem is at its optimum: J_k^T r_k + ridge^2 w_k = 0
    B = model.basis(data["kappa"], data["f"], data["g"]).detach()
    LB = model.residual.operator(data["stiffness"], B)
    target = model.residual.target(data["stiffness"], data["f"], data["g"])
    w = out.weights.detach()
    for k in range(experts):
        idx = model.row_index[k][model.row_mask[k].bool()]
        J = LB[:, idx, 1:]
        r = LB[:, idx, 0] + torch.einsum("bmn,bn->bm", J, w[:, k]) - target[:, idx]
        grad = torch.einsum("bmn,bm->bn", J, r) + 1e-8 * w[:, k]
        scale = float(torch.linalg.matrix_norm(J).max() * r.norm(dim=1).max()) + 1e-30
        assert float(grad.abs().max()) < 1e-8 * max(scale, 1.0)
        # the prediction on an owned dof takes the expert's weights
        own = torch.from_numpy(model.partition.owned_dofs(k))
        expected = B[:, own, 0] + torch.einsum("bin,bn->bi", B[:, own, 1:], w[:, k])
        torch.testing.assert_close(out.u[:, own], expected)


@pytest.mark.parametrize(("mode", "experts"), [("soft", 1), ("hard", 1), ("hard", 4)])
def test_gradients_reach_the_network(
    data: dict[str, torch.Tensor], mode: str, experts: int
) -> None:
    model = _model(mode=mode, experts=experts)
    loss = fe_diffusion_step(model, data)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
    assert float(model.network.decoder.net[-1].weight.grad.abs().sum()) > 0  # type: ignore[index]
    if mode == "soft":
        assert model.soft_weights.grad is not None


@pytest.mark.parametrize("experts", [1, 4])
def test_a_basis_spanning_the_solution_recovers_it(
    data: dict[str, torch.Tensor], experts: int
) -> None:
    model = _model(experts=experts, tol=1e-12, max_steps=200)
    n = model.num_dofs
    noise = torch.randn(3, n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    B = torch.cat([torch.zeros(3, n, 1, dtype=torch.float64), data["u"][..., None], noise], 2)
    out = model.solve(B, data["stiffness"], data["f"], data["g"])
    assert out.constraint is not None and out.constraint.failures == 0
    err = (out.u - data["u"]).norm(dim=1) / data["u"].norm(dim=1)
    assert float(err.max()) < 1e-6
    assert float(out.loss.max()) < 1e-12


def test_metrics_and_trainer(dataset: FEDiffusionData, data: dict[str, torch.Tensor]) -> None:
    ds = dataset
    model = _model(experts=2, on_failure="ignore")
    config = TrainConfig(epochs=1, batch_size=2, progress=False, grad_clip=1.0)
    history = Trainer(model, fe_diffusion_step, config, ds, ds, metrics=fe_diffusion_metrics).fit()
    assert {"rel_l2", "test_loss", "failures"} <= set(history[-1])
    metrics = fe_diffusion_metrics(model, data)
    assert 0 <= metrics["failures"] <= 1 and np.isfinite(metrics["rel_l2"])


def test_bad_input_raises(data: dict[str, torch.Tensor]) -> None:
    model = _model(experts=2)
    bad = data["kappa"].clone()
    bad[0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad, data["f"], data["g"], data["stiffness"])
    with pytest.raises(ValueError, match="positive"):
        model(-data["kappa"], data["f"], data["g"], data["stiffness"])
    with pytest.raises(ValueError, match="dofs"):
        model(data["kappa"][:, :-1], data["f"], data["g"], data["stiffness"])
    with pytest.raises(ValueError, match="nnz"):
        model(data["kappa"], data["f"], data["g"], data["stiffness"][:, :-1])
    with pytest.raises(ValueError, match="B must be"):
        model.solve(
            torch.zeros(3, 5, 5, dtype=torch.float64), data["stiffness"], data["f"], data["g"]
        )
    with pytest.raises(ValueError, match="experts"):
        FEDiffusionPIHC(mode="soft", experts=2)
    with pytest.raises(ValueError, match="mode"):
        FEDiffusionPIHC(mode="medium")
    with pytest.raises(ValueError, match="parts"):
        partition_cells(model.space, 0)
