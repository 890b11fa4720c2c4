"""Physics-only 2-D Navier-Stokes (vorticity) models: soft, global hard and 2 x 2 experts."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.constraints import combine, sample_grid
from sciml.constraints.problems import VORTICITY_FIELDS, vorticity_residual
from sciml.constraints.training import TrajectoryDataset, physics_metrics, physics_step
from sciml.constraints.vorticity import VorticityPIHC, vorticity_data
from sciml.train import TrainConfig, Trainer

SMALL = {"n": 16, "nt": 5, "T": 0.02, "width": 6, "layers": 1, "fno_modes": (2, 4, 4)}


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor]:
    ds = vorticity_data(3, n=16, nt=5, T=0.02, seed=4)
    return {k: torch.stack([ds[i][k] for i in range(3)]) for k in ("u0", "u")}


def _grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) / n
    return torch.meshgrid(x, x, indexing="ij")


def test_spectral_fields_of_a_fourier_mode() -> None:
    model = VorticityPIHC(mode="soft", splits=(1, 1), n_basis=2, **SMALL)
    X, Y = _grid(16)
    s = torch.sin(2 * math.pi * X) * torch.cos(4 * math.pi * Y)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)[:, None, None]
    f = (1 + 2 * t) * s  # linear in time: BDF2 is exact
    d = model.derivatives(f)
    k2 = (2 * math.pi) ** 2 * 5
    expected = {
        "w_t": 2 * s / 0.02 * torch.ones_like(t),
        "w_x": (1 + 2 * t) * 2 * math.pi * torch.cos(2 * math.pi * X) * torch.cos(4 * math.pi * Y),
        "w_y": -(1 + 2 * t) * 4 * math.pi * torch.sin(2 * math.pi * X) * torch.sin(4 * math.pi * Y),
        "lap_w": -k2 * f,
    }
    # psi = w / |k|^2, u = psi_y, v = -psi_x
    expected["u"] = expected["w_y"] / k2
    expected["v"] = -expected["w_x"] / k2
    for name, value in expected.items():
        torch.testing.assert_close(d[name], value, rtol=1e-10, atol=1e-9, msg=name)


def test_decaying_mode_solves_the_equation() -> None:
    # a Laplacian eigenfunction is a steady Euler flow: w = w0 exp(-8 pi^2 nu t) exactly
    nu = 1e-2
    model = VorticityPIHC(mode="soft", splits=(1, 1), n_basis=2, nu=nu, **{**SMALL, "nt": 41})
    X, Y = _grid(16)
    w0 = torch.sin(2 * math.pi * X) * torch.sin(2 * math.pi * Y)
    t = torch.linspace(0, 0.02, 41, dtype=torch.float64)[:, None, None]
    w = w0 * torch.exp(-8 * math.pi**2 * nu * t)
    d = model.derivatives(w[None])
    rows = {name: d[name][:, 2:].flatten(1) for name in VORTICITY_FIELDS}  # BDF2 rows
    r = vorticity_residual(rows, nu=nu)
    assert float(r.abs().max()) < 1e-5 * float(d["w_t"].abs().max())
    still = {**rows, "w_t": torch.zeros_like(rows["w_t"])}  # without the decay it is not
    assert float(vorticity_residual(still, nu=nu).abs().max()) > 0.5


def test_reference_has_small_physics_loss(data: dict[str, torch.Tensor]) -> None:
    model = VorticityPIHC(mode="soft", splits=(1, 1), n_basis=2, **SMALL)
    u, u0 = data["u"], data["u0"]
    assert u.shape == (3, 5, 16, 16) and u0.shape == (3, 16, 16)
    torch.testing.assert_close(u[:, 0], u0)
    scale = u0.pow(2).mean(dim=(1, 2)).sqrt()

    def loss(w: torch.Tensor) -> torch.Tensor:
        full = model.derivatives(w)
        rows = {name: full[name][:, 1:].flatten(1) for name in VORTICITY_FIELDS}
        return vorticity_residual(rows, scale, nu=1e-4, mean=True).pow(2).sum(1)

    persistence = loss(u0[:, None].expand_as(u))
    assert bool((loss(u) < 0.1 * persistence).all())


@pytest.mark.parametrize("splits", [(1, 1), (2, 2)])
def test_hard_constraint_holds_on_every_quadrant(
    data: dict[str, torch.Tensor], splits: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    model = VorticityPIHC(mode="hard", splits=splits, n_basis=4, tol=1e-12, max_steps=200, **SMALL)
    model.eval()  # the grid nodes of each quadrant: the same rows in the check below
    out = model(data["u0"])
    c = out.constraint
    K = splits[0] * splits[1]
    assert c is not None and c.failures == 0 and c.converged.shape == (3, K)
    assert out.u.shape == (3, 5, 16, 16) and out.weights.shape == (3, K, 4)
    torch.testing.assert_close(out.u[:, 0], data["u0"])  # the initial condition is exact
    # at the solution the gradient of every expert's least-squares problem vanishes
    basis = model.basis(data["u0"]).detach()
    fields = model._constraint_fields(model.derivatives(basis))
    folded = {k: v.flatten(0, 1) for k, v in fields.items()}
    w = out.weights.detach().clone().requires_grad_(True)
    values = combine(
        {k: v[..., 1:] for k, v in folded.items()},
        w.flatten(0, 1),
        {k: v[..., 0] for k, v in folded.items()},
    )
    scale = model._scale(data["u0"]).repeat_interleave(K)
    r = vorticity_residual(values, scale, nu=model.nu, mean=True)
    cost = 0.5 * r.pow(2).sum() + 0.5 * (1e-4 * w).pow(2).sum()
    (g,) = torch.autograd.grad(cost, w)
    assert float(g.abs().max()) < 1e-8
    # each quadrant's prediction uses its own expert's weights
    b = basis.double()
    for k in range(K):
        ix = model.expert_x[k, :, 0]
        iy = model.expert_y[k, 0, :]
        block = b[:, :, :, ix][:, :, :, :, iy]
        expected = block[:, 0] + torch.einsum("bntxy,bn->btxy", block[:, 1:], out.weights[:, k])
        torch.testing.assert_close(out.u[:, :, ix][:, :, :, iy], expected)


@pytest.mark.parametrize(("mode", "splits"), [("soft", (1, 1)), ("hard", (1, 1)), ("hard", (2, 2))])
def test_gradients_reach_the_network(
    data: dict[str, torch.Tensor], mode: str, splits: tuple[int, int]
) -> None:
    torch.manual_seed(1)
    model = VorticityPIHC(mode=mode, splits=splits, n_basis=4, points=400, **SMALL)
    loss = physics_step(model, data)
    loss.backward()
    grads = [p.grad for p in model.network.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0


def test_trains_with_the_trainer_and_reports_metrics(data: dict[str, torch.Tensor]) -> None:
    torch.manual_seed(2)
    model = VorticityPIHC(mode="hard", splits=(2, 2), n_basis=4, points=400, **SMALL)
    ds = TrajectoryDataset(data["u0"], data["u"])
    config = TrainConfig(epochs=2, batch_size=3, lr=1e-3, grad_clip=1.0, progress=False)
    history = Trainer(model, physics_step, config, ds, ds, metrics=physics_metrics).fit()
    final = history[-1]
    assert final["failures"] == 0.0
    assert 0 < final["rel_l2"] < 1 and final["test_loss"] > 0
    with pytest.raises(ValueError, match="reference u"):
        physics_metrics(model, {"u0": data["u0"], "u": data["u"][:, 1:]})


def test_periodic_sampling_wraps_around() -> None:
    torch.manual_seed(3)
    f = torch.randn(2, 3, 4, 6, 6, dtype=torch.float64)
    pts = torch.rand(50, 3, dtype=torch.float64)
    wrapped = torch.cat([f, f[:, :, :, :1]], 3)
    wrapped = torch.cat([wrapped, wrapped[:, :, :, :, :1]], 4)
    torch.testing.assert_close(
        sample_grid(f, pts, periodic=(False, True, True)), sample_grid(wrapped, pts)
    )
    torch.testing.assert_close(sample_grid(f, pts, periodic=(False,) * 3), sample_grid(f, pts))
    with pytest.raises(ValueError, match="one flag per grid axis"):
        sample_grid(f, pts, periodic=(True,))


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="divide n"):
        VorticityPIHC(splits=(3, 1), **SMALL)
    with pytest.raises(ValueError, match="no experts"):
        VorticityPIHC(mode="soft", splits=(2, 2), **SMALL)
    with pytest.raises(ValueError, match="even n"):
        VorticityPIHC(**{**SMALL, "n": 15})
    model = VorticityPIHC(splits=(2, 2), n_basis=4, **SMALL)
    with pytest.raises(ValueError, match="w0 must be"):
        model(torch.zeros(2, 16, 8))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 16, 16), float("nan")))
    with pytest.raises(KeyError, match="w_t"):
        vorticity_residual({"u": torch.zeros(1, 2)})
