"""Physics-only diffusion-sorption models: soft, global hard and mixture-of-experts."""

from __future__ import annotations

import warnings

import pytest
import torch

from sciml.constraints import combine
from sciml.constraints.sorption import (
    SorptionPIHC,
    sorption_data,
    sorption_metrics,
    sorption_step,
)

SMALL = {"nx": 33, "nt": 17, "width": 8, "layers": 1, "fno_modes": (4, 4), "n_basis": 6}


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor]:
    ds = sorption_data(3, nx=33, nt=17, T=50.0, seed=3, cells=64)
    return {k: torch.stack([ds[i][k] for i in range(3)]) for k in ("u0", "u")}


def test_reference_on_the_model_grid(data: dict[str, torch.Tensor]) -> None:
    u, u0 = data["u"], data["u0"]
    assert u.shape == (3, 33, 17) and u0.shape == (3, 33)
    torch.testing.assert_close(u[:, :, 0], u0)
    torch.testing.assert_close(u[:, 0, 1:], torch.ones(3, 16, dtype=u.dtype))  # u(t, 0) = 1
    assert float(u.min()) >= 0 and float(u.max()) <= 1 + 1e-12


@pytest.mark.parametrize(("experts", "split"), [(1, "t"), (4, "t"), (4, "x")])
def test_hard_constraint_holds_on_every_subdomain(
    data: dict[str, torch.Tensor], experts: int, split: str
) -> None:
    torch.manual_seed(0)
    # a smoother retardation (eps = 1) keeps the random untrained basis's problem smooth
    # enough for Levenberg-Marquardt to reach a tight tolerance
    model = SorptionPIHC(
        mode="hard",
        experts=experts,
        split=split,
        points=800,
        T=50.0,
        tol=1e-12,
        max_steps=300,
        pde={"eps": 1.0},
        **SMALL,
    )
    model.eval()  # the constraint on the grid nodes: the same points in the check below
    out = model(data["u0"])
    c = out.constraint
    assert c is not None and c.failures == 0
    assert out.weights.shape == (3, experts, 6) and c.converged.shape == (3, experts)
    # at the solution the gradient of every expert's least-squares problem vanishes
    w = out.weights.detach().clone().requires_grad_(True)
    fields, u0_init, mask = model._constraint_fields(model.basis(data["u0"]), data["u0"].double())
    folded = {k: v.detach().flatten(0, 1) for k, v in fields.items()}
    basis = {k: v[..., 1:] for k, v in folded.items()}
    offset = {k: v[..., 0] for k, v in folded.items() if not k.startswith("c")}
    fields = combine(basis, w.flatten(0, 1), offset)
    r = model._residual(fields, u0_init.flatten(0, 1), mask.flatten(0, 1))
    cost = 0.5 * r.pow(2).sum() + 0.5 * (1e-4 * w).pow(2).sum()
    (g,) = torch.autograd.grad(cost, w)
    assert float(g.abs().max()) < 1e-8
    # each expert owns its range: the prediction uses that expert's weights there
    B = model.basis(data["u0"])["u"]
    if split == "t":
        m = (17 - 1) // experts
        for k in range(experts):
            cols = slice(k * m + 1, (k + 1) * m + 1)
            expected = B[:, 0, :, cols] + torch.einsum(
                "bnxt,bn->bxt", B[:, 1:, :, cols], out.weights[:, k]
            )
            torch.testing.assert_close(out.u[:, :, cols], expected)
        return
    m = (33 - 1) // experts
    for k in range(experts):
        cols = slice(k * m, (k + 1) * m)
        expected = B[:, 0, cols] + torch.einsum("bnxt,bn->bxt", B[:, 1:, cols], out.weights[:, k])
        torch.testing.assert_close(out.u[:, cols], expected)


def test_training_step_reaches_the_network_in_every_mode(data: dict[str, torch.Tensor]) -> None:
    for mode, experts in (("soft", 1), ("hard", 1), ("hard", 2)):
        torch.manual_seed(0)
        model = SorptionPIHC(mode=mode, experts=experts, points=400, T=50.0, **SMALL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = sorption_step(model, data)
        loss.backward()
        grads = [p.grad for p in model.network.parameters()]
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
        assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
        model.eval()
        with torch.no_grad():
            metrics = sorption_metrics(model, data)
        assert set(metrics) == {"test_loss", "rel_l2", "failures"}
        assert all(v == v and v >= 0 for v in metrics.values())


def test_evaluation_is_deterministic_and_training_samples_points(
    data: dict[str, torch.Tensor],
) -> None:
    torch.manual_seed(0)
    model = SorptionPIHC(mode="hard", experts=2, points=200, T=50.0, **SMALL)
    model.eval()
    with torch.no_grad():
        a, b = model(data["u0"]).u, model(data["u0"]).u
    assert torch.equal(a, b)
    model.train()
    with torch.no_grad():
        c, d = model(data["u0"]).u, model(data["u0"]).u
    assert not torch.equal(c, d)


def test_bad_options_and_input() -> None:
    with pytest.raises(ValueError, match="divide"):
        SorptionPIHC(experts=3, **SMALL)
    with pytest.raises(ValueError, match="no experts"):
        SorptionPIHC(mode="soft", experts=2, **SMALL)
    with pytest.raises(ValueError, match="mode"):
        SorptionPIHC(mode="stiff", **SMALL)
    with pytest.raises(ValueError, match="initial"):
        SorptionPIHC(initial="both", **SMALL)
    model = SorptionPIHC(experts=2, **SMALL)
    with pytest.raises(ValueError, match="nx=33"):
        model(torch.zeros(2, 32))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((2, 33), float("nan")))


def test_sequential_windows_start_from_the_previous_prediction(
    data: dict[str, torch.Tensor],
) -> None:
    options = {"mode": "hard", "experts": 4, "points": 800, "T": 50.0, "tol": 1e-12,
               "max_steps": 300, "pde": {"eps": 1.0}, **SMALL}  # fmt: skip
    torch.manual_seed(0)
    parallel = SorptionPIHC(**options).eval()
    torch.manual_seed(0)
    sequential = SorptionPIHC(coupling="sequential", **options).eval()
    with torch.no_grad():
        a, b = parallel(data["u0"]), sequential(data["u0"])
    assert b.constraint is not None and b.constraint.failures == 0
    assert b.weights.shape == (3, 4, 6) and b.constraint.steps.shape == (3, 4)
    # the first window starts from u0 in both couplings: the same solve
    torch.testing.assert_close(b.weights[:, 0], a.weights[:, 0])
    assert not torch.allclose(b.weights[:, 1:], a.weights[:, 1:])
    # each window solves its own least-squares problem with the initial rows fitted to the
    # previous window's prediction on its start line: the gradient of that cost vanishes
    grid = sequential.basis(data["u0"])
    fields, u0_init, mask = sequential._constraint_fields(grid, data["u0"].double())
    starts = u0_init.clone()
    for k in (1, 2, 3):
        line = int(sequential.time_nodes[k, 0]) - 1
        starts[:, k] = b.u[:, :, line]

    def stationarity(weights: torch.Tensor, targets: torch.Tensor) -> float:
        w = weights.detach().clone().requires_grad_(True)
        folded = {k: v.detach().flatten(0, 1) for k, v in fields.items()}
        basis = {k: v[..., 1:] for k, v in folded.items()}
        offset = {k: v[..., 0] for k, v in folded.items()}
        f = combine(basis, w.flatten(0, 1), offset)
        r = sequential._residual(f, targets.detach().flatten(0, 1), mask.flatten(0, 1))
        cost = 0.5 * r.pow(2).sum() + 0.5 * (1e-4 * w).pow(2).sum()
        (g,) = torch.autograd.grad(cost, w)
        return float(g.abs().max())

    assert stationarity(b.weights, starts) < 1e-8
    assert stationarity(b.weights, u0_init) > 1e-3  # not the parallel windows' problem
    # gradients reach the network through the chain of solves
    sequential.train()
    loss = sequential(data["u0"]).loss.mean()
    loss.backward()
    grads = [p.grad for p in sequential.network.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)


def test_sequential_coupling_options() -> None:
    with pytest.raises(ValueError, match="coupling"):
        SorptionPIHC(coupling="chained", **SMALL)
    with pytest.raises(ValueError, match="split='t'"):
        SorptionPIHC(coupling="sequential", split="x", experts=4, **SMALL)
    with pytest.raises(ValueError, match="expert_parallel"):
        SorptionPIHC(coupling="sequential", expert_parallel=True, experts=4, **SMALL)


def test_physics_residual_is_the_loss_and_the_discrete_solution_zeroes_it(
    data: dict[str, torch.Tensor],
) -> None:
    torch.manual_seed(0)
    model = SorptionPIHC(mode="hard", experts=2, points=400, T=50.0, **SMALL).eval()
    with torch.no_grad():
        out = model(data["u0"])
    rows = model.physics_residual(out.u, data["u0"])
    assert rows.shape == (3, 33 * 17)
    torch.testing.assert_close(rows.pow(2).sum(1), out.loss)
    exact = model.discrete_solution(data["u0"])
    assert exact.shape == (3, 33, 17)
    torch.testing.assert_close(exact[:, :, 0], data["u0"])
    assert float(model.physics_residual(exact, data["u0"]).pow(2).sum(1).max()) < 1e-20
    # the scheme converges to the reference: error shrinks with the grid
    ref = data["u"]
    err = float(((exact - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)).mean())
    model_loss = float(model.physics_residual(ref, data["u0"]).pow(2).sum(1).mean())
    assert err < 0.05 and model_loss > 1e-6  # the reference is not the grid's solution
    errors = []
    for nx, nt in ((17, 9), (33, 17), (65, 33)):  # one fine reference, three grids
        grid_model = SorptionPIHC(mode="soft", experts=1, nx=nx, nt=nt, T=50.0, n_basis=2,
                                  width=4, layers=1, fno_modes=(2, 2))  # fmt: skip
        ds = sorption_data(2, nx=nx, nt=nt, T=50.0, seed=5, cells=256)
        u0 = torch.stack([ds[i]["u0"] for i in range(2)])
        ref = torch.stack([ds[i]["u"] for i in range(2)])
        u = grid_model.discrete_solution(u0)
        errors.append(float(((u - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)).mean()))
    assert errors[0] > errors[1] > errors[2]
    with pytest.raises(ValueError, match="u must be"):
        model.physics_residual(out.u[:, :-1], data["u0"])
    with pytest.raises(ValueError, match="u0 must be"):
        model.discrete_solution(data["u0"][:, :-1])
