"""Norms of finite-element functions through the FE matrices, differentiable and batched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sciml._optional import require_dolfinx
from sciml.fem.assembly import mass, stiffness
from sciml.fem.space import FunctionSpace
from sciml.linalg import SparseMatrix

__all__ = [
    "error_norm",
    "h1_seminorm",
    "l2_norm",
    "relative_h1_error",
    "relative_l2_error",
]


def _matrix(V: FunctionSpace, kind: str, u: Tensor) -> SparseMatrix:
    cache: dict[tuple[str, torch.dtype, torch.device], SparseMatrix] = V.__dict__.setdefault(
        "_norm_matrices", {}
    )
    key = (kind, u.dtype, u.device)
    if key not in cache:
        base = mass(V) if kind == "mass" else stiffness(V)
        cache[key] = base.to(device=u.device, dtype=u.dtype)
    return cache[key]


def _quadratic(V: FunctionSpace, kind: str, u: Tensor) -> Tensor:
    if u.shape[-1] != V.num_dofs:
        raise ValueError(
            f"last dimension must be the {V.num_dofs} dofs, got shape {tuple(u.shape)}"
        )
    A = _matrix(V, kind, u)
    flat = u.reshape(-1, V.num_dofs).T  # (n, batch)
    energy = (flat * (A @ flat)).sum(dim=0).clamp_min(0.0)
    return torch.sqrt(energy).reshape(u.shape[:-1])


def l2_norm(V: FunctionSpace, u: Tensor) -> Tensor:
    """L2 norm of finite-element functions, computed as sqrt(u^T M u) with the mass matrix M.

    Parameters
    ----------
    V : FunctionSpace
    u : torch.Tensor
        Dof values ``(..., V.num_dofs)``: leading dimensions are a batch.

    Returns
    -------
    torch.Tensor
        Shape ``u.shape[:-1]``; differentiable in ``u``.

    Notes
    -----
    The mass matrix is assembled once per space, dtype and device and then cached.
    """
    return _quadratic(V, "mass", u)


def h1_seminorm(V: FunctionSpace, u: Tensor) -> Tensor:
    """H1 seminorm (L2 norm of the gradient), computed as sqrt(u^T K u) with the stiffness K.

    Parameters
    ----------
    V : FunctionSpace
    u : torch.Tensor
        Dof values ``(..., V.num_dofs)``.

    Returns
    -------
    torch.Tensor
        Shape ``u.shape[:-1]``.
    """
    return _quadratic(V, "stiffness", u)


def relative_l2_error(V: FunctionSpace, u: Tensor, reference: Tensor) -> Tensor:
    """Relative L2 error of u with respect to a reference, per batch entry.

    Parameters
    ----------
    V : FunctionSpace
    u, reference : torch.Tensor
        ``(..., V.num_dofs)``, broadcastable.

    Returns
    -------
    torch.Tensor
    """
    return l2_norm(V, u - reference) / l2_norm(V, reference)


def relative_h1_error(V: FunctionSpace, u: Tensor, reference: Tensor) -> Tensor:
    """Relative H1-seminorm error of u with respect to a reference, per batch entry.

    Parameters
    ----------
    V : FunctionSpace
    u, reference : torch.Tensor
        ``(..., V.num_dofs)``, broadcastable.

    Returns
    -------
    torch.Tensor
    """
    return h1_seminorm(V, u - reference) / h1_seminorm(V, reference)


def error_norm(
    V: FunctionSpace,
    u: Tensor,
    exact: Callable[[Any], Any],
    norm: str = "L2",
    *,
    quadrature_degree: int | None = None,
) -> float:
    """Error between a discrete function and an exact solution given as a UFL expression.

    Parameters
    ----------
    V : FunctionSpace
    u : torch.Tensor
        Dof values ``(V.num_dofs,)``.
    exact : callable
        ``exact(x)`` with ``x = ufl.SpatialCoordinate(mesh)``, returning a UFL expression.
    norm : {"L2", "H1"}
        ``"H1"`` is the seminorm ``||grad(u - exact)||``.
    quadrature_degree : int, optional
        Default ``2 * degree + 4`` so that the exact solution is integrated accurately.

    Returns
    -------
    float
    """
    require_dolfinx("sciml.fem.error_norm")
    import ufl

    from sciml.fem.assembly import assemble

    if norm not in ("L2", "H1"):
        raise ValueError(f"norm must be 'L2' or 'H1', got {norm!r}")
    uh = V.function(u)
    x = ufl.SpatialCoordinate(V.mesh.dolfinx_mesh)
    e = uh - exact(x)
    q = 2 * V.degree + 4 if quadrature_degree is None else quadrature_degree
    dx = ufl.dx(metadata={"quadrature_degree": q})
    integrand = ufl.inner(e, e) if norm == "L2" else ufl.inner(ufl.grad(e), ufl.grad(e))
    value = assemble(integrand * dx)
    assert isinstance(value, float)
    return float(max(value, 0.0) ** 0.5)
