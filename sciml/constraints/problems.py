"""PDE residuals of the PI-HC-MoE problems, on basis fields (see :class:`HardConstraint`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from sciml.data.generators.diffusion_sorption import retardation

__all__ = ["DIFFUSION_SORPTION_FIELDS", "diffusion_sorption_residual"]

#: the fields :func:`diffusion_sorption_residual` reads: interior ``u``, ``u_t``, ``u_xx``;
#: ``u`` at ``x = 0`` (``u_left``) and ``u``, ``u_x`` at ``x = 1``; ``u`` at ``t = 0``
DIFFUSION_SORPTION_FIELDS = ("u", "u_t", "u_xx", "u_left", "u_right", "u_x_right", "u_init")


def diffusion_sorption_residual(
    fields: Mapping[str, Tensor],
    u0: Tensor,
    *,
    D: float = 5e-4,
    porosity: float = 0.29,
    rho_s: float = 2880.0,
    k_f: float = 3.5e-4,
    n_f: float = 0.874,
    eps: float = 1e-6,
    boundary_weight: float = 1.0,
) -> Tensor:
    """Residual of 1-D diffusion-sorption, ``R(u) u_t = D u_xx`` (PDEBench parameters).

    The equation is used in the form multiplied by ``R(u)`` (no division by the singular
    retardation), with the conditions of :func:`sciml.data.generate_diffusion_sorption`:
    ``u(t, 0) = 1``, ``u(t, 1) = -D u_x(t, 1)`` and ``u(0, x) = u0(x)``.

    Parameters
    ----------
    fields : mapping of str to torch.Tensor
        The :data:`DIFFUSION_SORPTION_FIELDS`, ``(batch, points)`` each (their own points:
        interior, left and right boundary, initial line).
    u0 : torch.Tensor
        ``(batch, initial points)`` initial data at the points of ``u_init``.
    D, porosity, rho_s, k_f, n_f, eps : float
        Diffusion coefficient and the Freundlich retardation (:func:`retardation`).
    boundary_weight : float, default 1
        Factor on the boundary and initial rows.

    Returns
    -------
    torch.Tensor
        ``(batch, m)``: the interior rows, then left, right and initial rows.
    """
    missing = [name for name in DIFFUSION_SORPTION_FIELDS if name not in fields]
    if missing:
        raise KeyError(f"diffusion-sorption needs the fields {missing}")
    u = fields["u"]
    R = retardation(u, porosity=porosity, rho_s=rho_s, k_f=k_f, n_f=n_f, eps=eps)
    interior = R * fields["u_t"] - D * fields["u_xx"]
    left = fields["u_left"] - 1.0
    right = fields["u_right"] + D * fields["u_x_right"]
    initial = fields["u_init"] - u0
    return torch.cat([interior, boundary_weight * torch.cat([left, right, initial], 1)], 1)
