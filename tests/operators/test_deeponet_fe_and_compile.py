"""DeepONet on finite-element data (dof vectors in, queries at dofs of any mesh), compiled."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from sciml.operators import DeepONet


def test_fe_dof_vector_inputs_and_queries_at_dofs_of_other_meshes() -> None:
    pytest.importorskip("dolfinx_solver")
    from sciml.fem import FunctionSpace
    from sciml.mesh import unit_square

    coarse = FunctionSpace(unit_square(4), "P", 1)
    fine = FunctionSpace(unit_square(4).refine(), "P", 2)
    torch.manual_seed(0)
    # branch input: dof vectors of a P1 field on the coarse mesh, in dof order
    f = coarse.interpolate(lambda x: np.sin(np.pi * x[0]) * x[1])
    u = torch.stack([f, 2.0 * f, -f]).float()
    net = DeepONet([coarse.num_dofs, 32, 16], [2, 32, 16], activation="tanh")
    y_coarse = torch.as_tensor(coarse.dof_coordinates, dtype=torch.float32)
    y_fine = torch.as_tensor(fine.dof_coordinates, dtype=torch.float32)
    with torch.no_grad():
        out_coarse = net(u, y_coarse, layout="cartesian")
        out_fine = net(u, y_fine, layout="cartesian")
    assert out_coarse.shape == (3, coarse.num_dofs)
    assert out_fine.shape == (3, fine.num_dofs)
    # the fine P2 space has a dof at every coarse vertex: the operator's output there must be
    # the same function value, whatever the mesh that asked for it
    distance = torch.cdist(y_coarse.double(), y_fine.double())
    nearest = distance.argmin(dim=1)
    assert float(distance.min(dim=1).values.max()) < 1e-12
    torch.testing.assert_close(out_fine[:, nearest], out_coarse, rtol=0, atol=1e-6)
    # a dof vector of the wrong length names the problem
    with pytest.raises(ValueError, match=str(coarse.num_dofs)):
        net(u[:, :-1], y_coarse)


def _compile_or_skip(model: torch.nn.Module, *args: torch.Tensor, **kwargs: str) -> torch.Tensor:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: torch.compile (inductor) cannot build kernels here")
    compiled = torch.compile(model)
    try:
        return compiled(*args, **kwargs)
    except Exception as error:  # only an unusable toolchain is a reason to skip
        text = f"{type(error).__name__}: {error}"
        if any(s in text for s in ("CppCompileError", "InvalidCxxCompiler", "CalledProcessError")):
            pytest.skip(f"torch.compile unavailable in this environment: {text[:200]}")
        raise


@pytest.mark.parametrize("layout", ["cartesian", "pointwise"])
def test_torch_compile_matches_eager(layout: str) -> None:
    torch.manual_seed(0)
    # the Fourier-expanded trunk input of d = 2 has 2 * (2 * 2) = 8 features
    net = DeepONet([20, 32, 16], [8, 32, 16], trunk_features="fourier", num_outputs=2)
    u = torch.randn(6, 20)
    y = torch.rand(6 if layout == "pointwise" else 11, 2)
    with torch.no_grad():
        eager = net(u, y, layout=layout)
        out = _compile_or_skip(net, u, y, layout=layout)
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-5)
    # and it trains: gradients of the compiled module equal the eager ones
    net.zero_grad()
    net(u, y, layout=layout).square().sum().backward()
    eager_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    _compile_or_skip(net, u, y, layout=layout).square().sum().backward()
    for p, g in zip(net.parameters(), eager_grads, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
