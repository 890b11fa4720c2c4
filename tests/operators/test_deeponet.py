"""DeepONet: layouts, gradients, rebuild from init_args, learning the antiderivative."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from sciml.data import generate
from sciml.operators import DeepONet, pod_basis


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def antiderivative() -> dict[str, torch.Tensor]:
    g = generate("antiderivative", 300, seed=0)
    u, s = g.inputs["u"].float(), g.outputs["s"].float()
    return {
        "u_train": u[:250],
        "s_train": s[:250],
        "u_test": u[250:],
        "s_test": s[250:],
        "x": g.coords["x"].float()[:, None],
    }


def _rebuild(net: DeepONet) -> DeepONet:
    rebuilt = DeepONet(**net.init_args)
    rebuilt.load_state_dict(net.state_dict())
    return rebuilt


def _rel_l2(pred: torch.Tensor, true: torch.Tensor) -> float:
    return float((pred - true).norm() / true.norm())


def _fit(net: DeepONet, u: torch.Tensor, s: torch.Tensor, y, steps: int, lr: float) -> None:
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(u, y) - s) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()


# -- shapes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("num_outputs", [1, 3])
def test_layout_shapes(stacked: bool, num_outputs: int) -> None:
    torch.manual_seed(0)
    net = DeepONet(
        [10, 16, 1 if stacked else 8], [2, 16, 8], stacked=stacked, num_outputs=num_outputs
    )
    u = torch.randn(5, 10)
    extra = () if num_outputs == 1 else (num_outputs,)
    cart = net(u, torch.rand(7, 2))
    point = net(u, torch.rand(5, 2), layout="pointwise")
    assert cart.shape == (5, 7, *extra)
    assert point.shape == (5, *extra)
    # the pointwise layout agrees with the Cartesian one at the same points
    y = torch.rand(5, 2)
    full = net(u, y, layout="cartesian")
    torch.testing.assert_close(
        net(u, y, layout="pointwise"), full[torch.arange(5), torch.arange(5)]
    )
    if stacked:
        assert len(net.branches) == 8


def test_one_dimensional_points_and_scalar_sensor_grid() -> None:
    net = DeepONet([4, 8, 6], [1, 8, 6])
    assert net(torch.randn(3, 4), torch.linspace(0, 1, 11)).shape == (3, 11)


def test_fourier_features_are_periodic() -> None:
    torch.manual_seed(0)
    # d = 1, frequencies [1, 2] -> 4 features; d = 2 with 3 frequencies + input -> 14
    net = DeepONet([6, 16, 8], [4, 16, 8], trunk_features="fourier")
    u, y = torch.randn(3, 6), torch.rand(9, 1)
    out = net(u, y)
    assert out.shape == (3, 9)
    torch.testing.assert_close(net(u, y + 1.0), out, atol=1e-5, rtol=1e-5)
    spec = {"type": "fourier", "frequencies": [1, 2, 3], "include_input": True, "period": 2.0}
    net2 = DeepONet([6, 16, 8], [14, 16, 8], trunk_features=spec, num_outputs=2)
    assert net2.query_dim == 2
    assert net2(u, torch.rand(9, 2)).shape == (3, 9, 2)
    with pytest.raises(ValueError, match="Fourier-expanded size"):
        DeepONet([6, 16, 8], [5, 16, 8], trunk_features="fourier")


@pytest.mark.parametrize("num_outputs", [1, 2])
def test_pod_shapes_and_basis(num_outputs: int) -> None:
    torch.manual_seed(0)
    outputs = torch.randn(30, 20) if num_outputs == 1 else torch.randn(30, 20, 2)
    modes, mean = pod_basis(outputs, 5)
    assert modes.shape == ((20, 5) if num_outputs == 1 else (20, 5, 2))
    m2 = modes if num_outputs == 1 else modes[..., 1]
    torch.testing.assert_close(m2.T @ m2, torch.eye(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(mean, outputs.mean(0))
    net = DeepONet([10, 16, 5], None, pod_basis=(modes, mean), num_outputs=num_outputs)
    out = net(torch.randn(4, 10))
    assert out.shape == ((4, 20) if num_outputs == 1 else (4, 20, num_outputs))
    # zero branch output -> the mean plus b0
    assert net.init_args["pod_basis"] == [20, 5]
    with torch.no_grad():
        net.b0.fill_(0.5)
        last = net.branch.net[-1]
        last.weight.zero_()
        last.bias.zero_()
    torch.testing.assert_close(net(torch.randn(2, 10))[0], mean + 0.5)


# -- gradients and rebuild ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stacked": True, "branch_sizes": [10, 16, 1]},
        {"num_outputs": 2, "trunk_features": "fourier", "trunk_sizes": [4, 16, 8]},
        {"trunk_sizes": None, "pod_basis": "pod"},
    ],
)
def test_gradients_and_rebuild(kwargs: dict) -> None:
    torch.manual_seed(0)
    # tanh: no dead ReLU units, so every parameter must get a nonzero gradient
    args = {"branch_sizes": [10, 16, 8], "trunk_sizes": [1, 16, 8], "activation": "tanh", **kwargs}
    if args.get("pod_basis") == "pod":
        args["pod_basis"] = pod_basis(torch.randn(30, 12), 8)
    net = DeepONet(**args)
    with torch.no_grad():
        net.b0.normal_()
    u, y = torch.randn(4, 10), torch.rand(12, 1)
    net(u, y).square().sum().backward()
    named = dict(net.named_parameters())
    assert "b0" in named
    for name, param in named.items():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    rebuilt = _rebuild(net)
    assert torch.equal(rebuilt(u, y), net(u, y))
    # init_args hold plain values only
    assert all(not isinstance(v, torch.Tensor) for v in net.init_args.values())


# -- learning -----------------------------------------------------------------------------------
def test_learns_antiderivative(antiderivative, one_thread) -> None:
    d = antiderivative
    torch.manual_seed(0)
    net = DeepONet([100, 40, 40], [1, 40, 40])
    _fit(net, d["u_train"], d["s_train"], d["x"], steps=15000, lr=3e-3)
    with torch.no_grad():
        error = _rel_l2(net(d["u_test"], d["x"]), d["s_test"])
    assert error < 1e-2


def test_pod_deeponet_learns_antiderivative(antiderivative, one_thread) -> None:
    d = antiderivative
    modes, mean = pod_basis(d["s_train"], 12)
    torch.manual_seed(0)
    net = DeepONet([100, 40, 12], None, pod_basis=(modes, mean))
    _fit(net, d["u_train"], d["s_train"], None, steps=6000, lr=3e-3)
    with torch.no_grad():
        error = _rel_l2(net(d["u_test"]), d["s_test"])
        assert torch.equal(_rebuild(net)(d["u_test"]), net(d["u_test"]))
    assert error < 1e-2


# -- errors -------------------------------------------------------------------------------------
def test_bad_inputs_raise() -> None:
    net = DeepONet([10, 16, 8], [2, 16, 8])
    u = torch.randn(4, 10)
    with pytest.raises(ValueError, match="m = 10 sensors"):
        net(torch.randn(4, 9), torch.rand(7, 2))
    with pytest.raises(ValueError, match=r"y must be \(n_points, 2\)"):
        net(u, torch.rand(7, 3))
    with pytest.raises(ValueError, match="ambiguous layout"):
        net(u, torch.rand(4, 2))
    with pytest.raises(ValueError, match="one point per sample"):
        net(u, torch.rand(7, 2), layout="pointwise")
    with pytest.raises(ValueError, match="layout must be"):
        net(u, torch.rand(7, 2), layout="grid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must equal p"):
        DeepONet([10, 16, 7], [2, 16, 8])
    with pytest.raises(ValueError, match="must be 1"):
        DeepONet([10, 16, 8], [2, 16, 8], stacked=True)
    with pytest.raises(ValueError, match="trunk_sizes is required"):
        DeepONet([10, 16, 8], None)
    with pytest.raises(ValueError, match="unknown trunk_features"):
        DeepONet([10, 16, 8], [2, 16, 8], trunk_features="wavelet")
    pod = DeepONet([10, 16, 3], None, pod_basis=pod_basis(torch.randn(20, 6), 3))
    with pytest.raises(ValueError, match="6 fixed points"):
        pod(u, torch.rand(7, 1))
    with pytest.raises(ValueError, match="must equal p"):
        DeepONet([10, 16, 4], None, pod_basis=[6, 3])
    with pytest.raises(ValueError, match="p must be"):
        pod_basis(torch.randn(5, 6), 6)
