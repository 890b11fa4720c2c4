"""2-D Darcy flow with a two-valued random permeability: the FNO benchmark, solved with P1 FE."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm.auto import tqdm

from sciml.data.generators._base import GeneratedData, finite_float, positive_int, register
from sciml.data.generators.fe_poisson import RTOL, solve_dirichlet
from sciml.data.grf import periodic_grf

__all__ = ["generate_darcy"]


@register(
    "darcy",
    "2-D Darcy flow -div(a grad u) = f on the unit square, u = 0 on the boundary, with a "
    "thresholded-GRF permeability (12/3), P1 FE (FNO benchmark)",
)
def generate_darcy(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    resolution: int = 64,
    tau: float = 3.0,
    gamma: float = 2.0,
    a_high: float = 12.0,
    a_low: float = 3.0,
    source: float = 1.0,
) -> GeneratedData:
    r"""Darcy flow on the unit square with a piecewise-constant random permeability.

    Each sample solves

    .. math::

        -\nabla \cdot (a(x) \nabla u(x)) = f \quad \text{in } (0, 1)^2, \qquad
        u = 0 \quad \text{on } \partial (0, 1)^2,

    with :math:`f` constant (default 1) and the permeability of the FNO paper,
    :math:`a = \psi(\xi)` with :math:`\psi(\xi) = 12` where :math:`\xi \ge 0` and :math:`3`
    where :math:`\xi < 0`, for a zero-mean Gaussian random field :math:`\xi` with covariance
    :math:`(-\Delta + \tau^2 I)^{-\gamma}` (:math:`\tau = 3`, :math:`\gamma = 2`).

    *Random field.* :math:`\xi` is drawn with :func:`sciml.data.periodic_grf` on the periodic
    square :math:`[0, 2)^2` (``length=2``, ``2 * resolution`` points per side, so the grid
    spacing is ``1 / resolution``) and restricted to the ``(resolution + 1)^2`` vertices of
    :math:`[0, 1]^2`. Its Fourier modes :math:`e^{i \pi k \cdot x}` have the eigenvalues
    :math:`\pi^2 |k|^2` of the cosine (Neumann) basis of :math:`[0, 1]^2` used by the FNO data,
    so the length scale matches the benchmark (features of size about 1/3 to 1/2), and the field
    is not forced to be periodic on the unit square. As in the FNO data, the constant mode is
    removed (the mean over the periodic grid is subtracted); otherwise its variance
    :math:`\tau^{-2\gamma}`, the largest of all modes, would make many samples almost uniformly
    12 or 3. The amplitude :math:`\sigma` of the covariance is irrelevant after thresholding at
    zero and is set to 1.

    *Discretisation.* Continuous P1 elements on ``sciml.mesh.unit_square(resolution)``
    (triangles); the permeability is the P1 function with the thresholded values at the
    vertices (assembled with ``sciml.fem.stiffness(V, a)``), the load vector is assembled with
    ``sciml.fem.load_vector``. The boundary dofs are eliminated (``sciml.fem.condense``) and the
    interior system is solved by CG preconditioned with smoothed-aggregation AMG to a relative
    residual of ``1e-10``; the boundary values are exactly zero.

    Every sample draws its field from its own seed, derived from ``seed`` and the sample index,
    so sample ``k`` does not depend on ``n_samples``.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    seed : int, default 0
        Non-negative seed; the same seed gives the same data.
    progress : bool, default False
        Show a progress bar over the samples.
    resolution : int, default 64
        Cells per side of the mesh; the vertex grid has ``resolution + 1`` points per side.
    tau, gamma : float, default 3, 2
        Inverse length scale and smoothness of the Gaussian random field (``gamma > 1``).
    a_high, a_low : float, default 12, 3
        Permeability where the field is ``>= 0`` and ``< 0`` (both ``> 0``).
    source : float, default 1
        The constant source ``f``.

    Returns
    -------
    GeneratedData
        ``inputs``: ``"a"`` ``(n_samples, ndofs)`` (P1 dof values) and ``"a_grid"``
        ``(n_samples, resolution + 1, resolution + 1)``; ``outputs``: ``"u"`` and ``"u_grid"``
        likewise. Grid entry ``[k, i, j]`` is the value at ``(x[i, j], y[i, j]) =
        (i / resolution, j / resolution)``. ``coords``: ``"dof_coordinates"`` ``(ndofs, 2)``,
        ``"x"``, ``"y"`` ``(resolution + 1, resolution + 1)``. ``attrs``: ``pde``, the
        parameters, ``seed``, ``generator``. All tensors float64.

    Raises
    ------
    ValueError
        On invalid options.
    sciml.linalg.ConvergenceError
        If a solve does not reach the tolerance.

    Examples
    --------
    >>> data = generate_darcy(2, resolution=8)  # doctest: +SKIP
    >>> data.inputs["a_grid"].shape, data.outputs["u"].shape  # doctest: +SKIP
    (torch.Size([2, 9, 9]), torch.Size([2, 81]))
    """
    positive_int("n_samples", n_samples, 1)
    positive_int("seed", seed, 0)
    positive_int("resolution", resolution, 2)
    finite_float("tau", tau, positive=True)
    finite_float("a_high", a_high, positive=True)
    finite_float("a_low", a_low, positive=True)
    finite_float("gamma", gamma, positive=True)
    if gamma <= 1.0:
        raise ValueError(f"gamma must be > 1 for a 2-D random field, got {gamma}")
    if not _is_real(source) or not math.isfinite(source):
        raise ValueError(f"source must be a finite number, got {source!r}")

    from sciml.fem import FunctionSpace, dirichlet, load_vector
    from sciml.mesh import unit_square

    n = int(resolution)
    V = FunctionSpace(unit_square(n), "Lagrange", 1)
    coordinates = V.dof_coordinates
    grid_index = _grid_index(coordinates, n)
    bc = dirichlet(V, "boundary", 0.0)
    b = load_vector(V, float(source))

    a_all = torch.empty((n_samples, V.num_dofs), dtype=torch.float64)
    u_all = torch.empty_like(a_all)
    for k in tqdm(range(n_samples), desc="darcy", disable=not progress):
        field = periodic_grf(
            1,
            (2 * n, 2 * n),
            sigma=1.0,
            tau=tau,
            gamma=gamma,
            length=2.0,
            seed=_sample_seed(seed, k),
        )[0]
        # the mean over the periodic grid is the constant Fourier mode: remove it (FNO recipe)
        xi = (field - field.mean())[: n + 1, : n + 1].reshape(-1)
        a = torch.where(xi[grid_index] >= 0, float(a_high), float(a_low))
        a_all[k] = a
        u_all[k] = solve_dirichlet(V, a, b, bc.dofs, bc.values)

    to_grid = torch.from_numpy(np.argsort(grid_index))
    shape = (n_samples, n + 1, n + 1)
    x, y = torch.meshgrid(
        torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64),
        torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64),
        indexing="ij",
    )
    attrs: dict[str, Any] = {
        "pde": "-div(a grad u) = f in (0,1)^2, u = 0 on the boundary; a = a_high where the GRF "
        "is >= 0 and a_low where it is < 0",
        "generator": "darcy",
        "seed": int(seed),
        "n_samples": int(n_samples),
        "resolution": n,
        "tau": float(tau),
        "gamma": float(gamma),
        "a_high": float(a_high),
        "a_low": float(a_low),
        "source": float(source),
        "grf": "periodic_grf on [0,2)^2 (length 2, 2*resolution points per side, sigma 1) "
        "restricted to the vertices of [0,1]^2, constant mode removed; covariance "
        "(-Laplacian + tau^2 I)^(-gamma)",
        "element": "P1",
        "mesh": f"unit_square({n}), triangles",
        "solver": "condensed Dirichlet dofs, CG + smoothed-aggregation AMG",
        "rtol": RTOL,
        "grid_layout": "a_grid[k, i, j] at (x[i, j], y[i, j]) = (i, j) / resolution",
    }
    return GeneratedData(
        inputs={"a": a_all, "a_grid": a_all[:, to_grid].reshape(shape)},
        outputs={"u": u_all, "u_grid": u_all[:, to_grid].reshape(shape)},
        coords={
            "dof_coordinates": torch.from_numpy(np.ascontiguousarray(coordinates, np.float64)),
            "x": x.contiguous(),
            "y": y.contiguous(),
        },
        attrs=attrs,
    )


def _grid_index(coordinates: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.int64]:
    """Flat index ``i * (n + 1) + j`` of the vertex ``(i / n, j / n)`` holding each dof."""
    ij = np.rint(coordinates[:, :2] * n).astype(np.int64)
    if np.abs(ij / n - coordinates[:, :2]).max() > 1e-8 or ij.min() < 0 or ij.max() > n:
        raise RuntimeError("the dofs of the P1 space do not lie on the vertex grid")
    index = ij[:, 0] * (n + 1) + ij[:, 1]
    if np.unique(index).size != (n + 1) ** 2 or index.size != (n + 1) ** 2:
        raise RuntimeError("the dofs of the P1 space are not one per grid vertex")
    return index


def _sample_seed(seed: int, k: int) -> int:
    """Seed of sample ``k``: independent of the other samples and of ``n_samples``."""
    return int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1)[0])


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
