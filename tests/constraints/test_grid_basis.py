"""Finite differences and point sampling of basis functions on a grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.interpolate import RegularGridInterpolator

from sciml.constraints.grid import finite_difference, sample_grid

D = torch.float64


@pytest.mark.parametrize("periodic", [False, True])
def test_finite_differences_converge_at_second_order(periodic: bool) -> None:
    errors = []
    for n in (32, 64):
        x = torch.arange(n, dtype=D) / n if periodic else torch.linspace(0, 1, n, dtype=D)
        h = 1.0 / n if periodic else 1.0 / (n - 1)
        f = torch.sin(2 * torch.pi * x)[None].expand(3, -1)
        d1 = finite_difference(f, 1, h, periodic=periodic)
        d2 = finite_difference(f, 1, h, order=2, periodic=periodic)
        e1 = (d1 - 2 * torch.pi * torch.cos(2 * torch.pi * x)).abs()
        e2 = (d2 + (2 * torch.pi) ** 2 * torch.sin(2 * torch.pi * x)).abs()
        inner = slice(None) if periodic else slice(1, -1)
        errors.append((float(e1.max()), float(e2[:, inner].max())))
    assert errors[0][0] / errors[1][0] > 3.5 and errors[0][1] / errors[1][1] > 3.5
    # the derivative along another axis of a 2-D field
    g = torch.linspace(0, 1, 20, dtype=D)
    field = (g[:, None] * 0 + g[None, :] ** 2)[None]
    torch.testing.assert_close(finite_difference(field, 2, 1 / 19), (2 * g).expand(1, 20, 20))
    with pytest.raises(ValueError, match="order"):
        finite_difference(field, 2, 0.1, order=3)
    with pytest.raises(ValueError, match="at least 4"):
        finite_difference(torch.ones(3), 0, 0.5)


@pytest.mark.parametrize("shape", [(9,), (7, 5), (5, 6, 4)])
def test_sampling_is_multilinear_interpolation(shape: tuple) -> None:
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(2, 3, *shape, generator=gen, dtype=D, requires_grad=True)
    points = torch.rand(11, len(shape), generator=gen, dtype=D)
    points[0] = 0.0
    points[1] = 1.0
    out = sample_grid(f, points)
    assert out.shape == (2, 11, 3)
    axes = [np.linspace(0, 1, n) for n in shape]
    ref = RegularGridInterpolator(axes, f[1, 2].detach().numpy())(points.numpy())
    np.testing.assert_allclose(out[1, :, 2].detach().numpy(), ref, atol=1e-12)
    out.sum().backward()  # linear in the grid values: the gradient reaches the network
    assert f.grad is not None and float(f.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="unit box"):
        sample_grid(f, points + 1.0)
    with pytest.raises(ValueError, match="points must be"):
        sample_grid(f, torch.rand(4, len(shape) + 1, dtype=D))


def test_backward_differences_are_bdf2_started_by_euler() -> None:
    t = torch.linspace(0, 1, 11, dtype=D)
    d = finite_difference(t**2, 0, 0.1, scheme="backward")
    torch.testing.assert_close(d[2:], 2 * t[2:])  # BDF2 is exact on quadratics
    torch.testing.assert_close(d[:2], torch.full((2,), 0.1, dtype=D))  # (f1 - f0) / h
    with pytest.raises(ValueError, match="backward"):
        finite_difference(t, 0, 0.1, order=2, scheme="backward")
    with pytest.raises(ValueError, match="scheme"):
        finite_difference(t, 0, 0.1, scheme="upwind")
