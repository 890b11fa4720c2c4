"""PDE residuals of the PI-HC-MoE problems, on basis fields (see :class:`HardConstraint`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from sciml.data.generators.diffusion_sorption import retardation

__all__ = [
    "DIFFUSION_SORPTION_FIELDS",
    "VORTICITY_FIELDS",
    "diffusion_sorption_residual",
    "vorticity_residual",
]

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
    interior_weight: float = 1.0,
    boundary_mask: Tensor | None = None,
    mean: bool = False,
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
    interior_weight : float, default 1
        Factor on the PDE rows (e.g. ``T`` to measure ``u_t`` per unit of ``t / T``).
    boundary_mask : torch.Tensor, optional
        ``(batch, 2)`` factors on the left and right boundary rows: a subdomain that does not
        touch ``x = 0`` (or ``x = 1``) gives ``0`` there (mixture of experts).
    mean : bool, default False
        Divide each group of rows (interior, left, right, initial) by the square root of its
        size, so that the sum of squares is the sum of the groups' mean squares (a loss that
        does not depend on how many points each group has).

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
    interior = interior_weight * (R * fields["u_t"] - D * fields["u_xx"])
    left = fields["u_left"] - 1.0
    right = fields["u_right"] + D * fields["u_x_right"]
    initial = fields["u_init"] - u0
    if boundary_mask is not None:
        if boundary_mask.shape != (u.shape[0], 2):
            raise ValueError(
                f"boundary_mask must be (batch={u.shape[0]}, 2), got {tuple(boundary_mask.shape)}"
            )
        left = left * boundary_mask[:, :1]
        right = right * boundary_mask[:, 1:]
    if mean:
        interior, left, right, initial = (
            rows / rows.shape[1] ** 0.5 for rows in (interior, left, right, initial)
        )
    return torch.cat([interior, boundary_weight * torch.cat([left, right, initial], 1)], 1)


#: the fields :func:`vorticity_residual` reads: ``w_t``, the velocity ``u = psi_y``,
#: ``v = -psi_x`` (``-Laplace psi = w``), ``w_x``, ``w_y`` and ``lap_w``
VORTICITY_FIELDS = ("w_t", "u", "v", "w_x", "w_y", "lap_w")


def vorticity_residual(
    fields: Mapping[str, Tensor],
    scale: Tensor | None = None,
    *,
    nu: float = 1e-4,
    mean: bool = False,
) -> Tensor:
    r"""Residual of 2-D incompressible Navier-Stokes in vorticity form (no forcing).

    :math:`w_t + u w_x + v w_y - \nu \Delta w` with the velocity :math:`(u, v) = (\psi_y,
    -\psi_x)` of the stream function :math:`-\Delta \psi = w` (the equation of
    :func:`sciml.data.generate_navier_stokes_2d`). Every field is linear in the basis weights;
    the residual is quadratic.

    Parameters
    ----------
    fields : mapping of str to torch.Tensor
        The :data:`VORTICITY_FIELDS`, ``(batch, points)`` each.
    scale : torch.Tensor, optional
        ``(batch,)`` divides each sample's rows (e.g. its rms initial vorticity, so that the
        residual is measured per unit of vorticity).
    nu : float, default 1e-4
        Kinematic viscosity (``Re = 1 / nu``, the paper's ``1e4``).
    mean : bool, default False
        Divide by the square root of the number of points (the sum of squares is then the
        mean square).

    Returns
    -------
    torch.Tensor
        ``(batch, points)``.
    """
    missing = [name for name in VORTICITY_FIELDS if name not in fields]
    if missing:
        raise KeyError(f"the vorticity equation needs the fields {missing}")
    r = (
        fields["w_t"]
        + fields["u"] * fields["w_x"]
        + fields["v"] * fields["w_y"]
        - nu * fields["lap_w"]
    )
    if scale is not None:
        if scale.shape != r.shape[:1]:
            raise ValueError(f"scale must be (batch={r.shape[0]},), got {tuple(scale.shape)}")
        r = r / scale[:, None]
    return r / r.shape[1] ** 0.5 if mean else r
