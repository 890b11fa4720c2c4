"""Variable-coefficient diffusion on the shared unstructured meshes: the SPON dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from tqdm.auto import tqdm

from sciml.data.generators._base import GeneratedData, finite_float, positive_int, register

__all__ = [
    "MESHES",
    "boundary_markers",
    "diffusion_system",
    "generate_poisson_meshes",
    "kl_basis",
    "kl_sample",
    "mesh_path",
    "solve_dirichlet",
]

#: Folder of the shared gmsh meshes (``<repository>/meshes``), read at every call.
MESHES = Path(__file__).resolve().parents[3] / "meshes"

#: Relative residual tolerance of the preconditioned CG solves.
RTOL = 1e-10


@register(
    "poisson_meshes",
    "variable-coefficient diffusion -div(kappa grad u) = f with random kappa = exp(GRF), f and "
    "Dirichlet data on the shared gmsh geometries, FE dof vectors (SPON)",
)
def generate_poisson_meshes(
    n_samples: int,
    *,
    seed: int = 0,
    progress: bool = False,
    mesh: str = "plate_with_holes",
    level: int = 0,
    degree: int = 1,
    kappa_sigma: float = 2.5,
    f_sigma: float = 7.0,
    g_sigma: float = 7.0,
    f_mean: float = 0.0,
    dirichlet: str | None = None,
    tau: float = 3.0,
    gamma: float = 2.0,
    modes: int = 64,
) -> GeneratedData:
    r"""Diffusion problems with random coefficient, source and boundary data on a shared mesh.

    Each sample solves

    .. math::

        -\nabla \cdot (\kappa(x) \nabla u(x)) = f(x) \quad \text{in } \Omega, \qquad
        u = g \quad \text{on } \partial \Omega,

    on one of the geometries of the repository's ``meshes/`` folder (the Dirichlet condition
    holds on every named boundary marker of the mesh, which together make up the whole
    boundary), with

    * :math:`\kappa = \exp(\xi_\kappa)`,
    * :math:`f = \xi_f`,
    * :math:`g` the boundary values of :math:`\xi_g`,

    for three independent zero-mean Gaussian random fields on the dofs of the finite-element
    space, drawn as in :func:`sciml.data.fe_grf` (see :func:`kl_basis`): truncated
    Karhunen-Loeve expansions (``modes`` terms) of the covariance
    :math:`\sigma^2 (-\Delta + \tau^2 I)^{-\gamma}` with natural boundary conditions, with
    :math:`\tau = 3`, :math:`\gamma = 2` (length scale about 1/3) and amplitudes
    :math:`\sigma_\kappa = 2.5`, :math:`\sigma_f = \sigma_g = 7`. On the 2-D meshes this gives
    pointwise standard deviations of about 0.25-0.36 for :math:`\xi_\kappa` (so 98% of the
    values of :math:`\kappa` lie in about [0.4, 2.4] and nearly all in [0.3, 3]) and about 1 for
    :math:`f`; the 3-D ``box_with_cavity`` has somewhat larger variances.

    *Discretisation.* Continuous Lagrange elements of degree ``degree`` on the mesh; ``kappa``,
    ``f`` and ``g`` are dof vectors of the same space (``kappa`` enters the stiffness matrix as
    that FE function, ``f`` the load vector as ``M f`` with the mass matrix ``M``, which is
    exactly :func:`sciml.fem.load_vector` of the FE function ``f``). The boundary dofs are
    eliminated (``sciml.fem.condense``), the interior system is solved by CG preconditioned
    with smoothed-aggregation AMG to a relative residual of ``1e-10``, and the boundary values
    of ``u`` equal ``g`` exactly. (For ``degree=2`` the interpolant of the positive nodal values
    of ``kappa`` could in principle dip below zero between nodes; with the smooth default
    fields it does not, and a non-SPD system would make CG fail loudly.)

    This is the dataset of SPON: inputs and outputs are dof vectors of the same FE space, and
    ``boundary_dofs`` marks the dofs where the output is prescribed.

    The fields are drawn sample by sample in order, so the first samples do not depend on
    ``n_samples``.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    seed : int, default 0
        Non-negative seed; the same seed gives the same data.
    progress : bool, default False
        Show a progress bar over the samples.
    mesh : str, default "plate_with_holes"
        Geometry name: a file ``meshes/<mesh>_<level>.msh`` (``l_shape``, ``plate_with_holes``,
        ``naca0012_channel``, ``annulus``, ``box_with_cavity``).
    level : int, default 0
        Refinement level, 0 (coarse) or 1 (mesh size halved).
    degree : int, default 1
        Polynomial degree of the Lagrange space, 1 or 2.
    kappa_sigma, f_sigma, g_sigma : float, default 2.5, 7, 7
        Amplitudes of the random fields of ``log(kappa)``, ``f`` and ``g``; 0 turns a field
        off (``kappa = 1``, ``f = f_mean``, ``g = 0``).
    f_mean : float, default 0
        Constant added to the source ``f``.
    dirichlet : str, optional
        Comma-separated boundary markers that carry the random Dirichlet data ``g``; the other
        markers get ``u = 0`` (still Dirichlet). Default: ``g`` on every marker.
    tau, gamma : float, default 3, 2
        Inverse length scale and smoothness of all three fields.
    modes : int, default 64
        Karhunen-Loeve modes per field (at most the number of dofs minus one).

    Returns
    -------
    GeneratedData
        ``inputs``: ``"kappa"``, ``"f"``, ``"g"`` (``g`` on the boundary dofs, zero elsewhere),
        each ``(n_samples, ndofs)``; ``outputs``: ``"u"`` ``(n_samples, ndofs)``; ``coords``:
        ``"dof_coordinates"`` ``(ndofs, gdim)`` (float64) and ``"boundary_dofs"`` ``(ndofs,)``
        (bool mask); ``attrs``: ``pde``, the parameters, ``seed``, ``generator``, ``markers``
        (the Dirichlet markers, comma separated), ``ndofs``.

    Raises
    ------
    FileNotFoundError
        If the meshes folder or the requested mesh file is missing.
    ValueError
        On invalid options (unknown geometry, level, degree, non-positive amplitudes...).
    sciml.linalg.ConvergenceError
        If a solve does not reach the tolerance.

    Examples
    --------
    >>> data = generate_poisson_meshes(2, mesh="annulus")  # doctest: +SKIP
    >>> sorted(data.inputs), data.outputs["u"].shape  # doctest: +SKIP
    (['f', 'g', 'kappa'], torch.Size([2, 884]))
    """
    positive_int("n_samples", n_samples, 1)
    positive_int("seed", seed, 0)
    positive_int("modes", modes, 1)
    positive_int("level", level, 0)
    positive_int("degree", degree, 1)
    if level not in (0, 1):
        raise ValueError(f"level must be 0 or 1, got {level!r}")
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree!r}")
    for name, value in [("kappa_sigma", kappa_sigma), ("f_sigma", f_sigma), ("g_sigma", g_sigma)]:
        if finite_float(name, value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    finite_float("f_mean", f_mean)
    for name, value in [("tau", tau), ("gamma", gamma)]:
        finite_float(name, value, positive=True)
    path = mesh_path(mesh, level)

    from sciml.fem import FunctionSpace, mass
    from sciml.mesh import load

    msh = load(path)
    V = FunctionSpace(msh, "Lagrange", degree)
    markers = boundary_markers(msh)
    boundary = np.unique(np.concatenate([V.boundary_dofs(m) for m in markers]))
    if dirichlet is None:
        data_dofs = boundary
    else:
        chosen = [m.strip() for m in str(dirichlet).split(",") if m.strip()]
        unknown = sorted(set(chosen) - set(markers))
        if not chosen or unknown:
            raise ValueError(
                f"dirichlet must name boundary markers of {mesh!r} ({', '.join(markers)}), "
                f"got {dirichlet!r}"
            )
        data_dofs = np.unique(np.concatenate([V.boundary_dofs(m) for m in chosen]))
    amplitude, phi = kl_basis(V, modes=modes, tau=tau, gamma=gamma)
    seeds = np.random.SeedSequence(seed).generate_state(3)
    kappa = torch.exp(kl_sample(amplitude, phi, n_samples, kappa_sigma, int(seeds[0])))
    f = f_mean + kl_sample(amplitude, phi, n_samples, f_sigma, int(seeds[1]))
    g = torch.zeros_like(f)
    g[:, data_dofs] = kl_sample(amplitude, phi, n_samples, g_sigma, int(seeds[2]))[:, data_dofs]
    loads = (mass(V) @ f.T).T.contiguous()  # rows M f_k

    u = torch.empty_like(f)
    for k in tqdm(range(n_samples), desc="poisson_meshes", disable=not progress):
        u[k] = solve_dirichlet(V, kappa[k], loads[k], boundary, g[k, boundary])

    mask = torch.zeros(V.num_dofs, dtype=torch.bool)
    mask[boundary] = True
    attrs: dict[str, Any] = {
        "pde": "-div(kappa grad u) = f in the domain, u = g on the boundary; kappa = exp(GRF), "
        "f = GRF, g = boundary values of a GRF",
        "generator": "poisson_meshes",
        "seed": int(seed),
        "n_samples": int(n_samples),
        "mesh": str(mesh),
        "level": int(level),
        "degree": int(degree),
        "element": f"P{degree}",
        "kappa_sigma": float(kappa_sigma),
        "f_sigma": float(f_sigma),
        "g_sigma": float(g_sigma),
        "f_mean": float(f_mean),
        "dirichlet_data": ",".join(markers) if dirichlet is None else str(dirichlet),
        "tau": float(tau),
        "gamma": float(gamma),
        "modes": int(modes),
        "kl_modes": int(amplitude.size),
        "grf": "fe_grf-type truncated Karhunen-Loeve expansion of sigma^2 (-Laplacian + tau^2 I)"
        "^(-gamma) on the FE space; independent fields for log(kappa), f and g",
        "markers": ",".join(markers),
        "ndofs": int(V.num_dofs),
        "gdim": int(msh.gdim),
        "solver": "condensed Dirichlet dofs, CG + smoothed-aggregation AMG",
        "rtol": RTOL,
    }
    return GeneratedData(
        inputs={"kappa": kappa, "f": f, "g": g},
        outputs={"u": u},
        coords={
            "dof_coordinates": torch.from_numpy(
                np.ascontiguousarray(V.dof_coordinates, np.float64)
            ),
            "boundary_dofs": mask,
        },
        attrs=attrs,
    )


def mesh_path(mesh: str, level: int) -> Path:
    """Path of the shared mesh ``<mesh>_<level>.msh`` in :data:`MESHES`.

    Parameters
    ----------
    mesh : str
        Geometry name.
    level : int
        Refinement level.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If the folder or the file is missing.
    ValueError
        If no geometry of that name is in the folder.
    """
    folder = Path(MESHES)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the shared meshes folder {folder} is missing; it ships with the sciml repository "
            "(regenerate it with `python meshes/generate.py`)"
        )
    known = sorted({p.stem.rsplit("_", 1)[0] for p in folder.glob("*_[0-9].msh")})
    if not isinstance(mesh, str) or mesh not in known:
        raise ValueError(f"unknown mesh {mesh!r}; available in {folder}: {', '.join(known)}")
    path = folder / f"{mesh}_{level}.msh"
    if not path.is_file():
        raise FileNotFoundError(f"mesh file {path} is missing (level {level} of {mesh!r})")
    return path


def boundary_markers(msh: Any) -> list[str]:
    """Names of the facet markers of a mesh (the Dirichlet boundaries), sorted."""
    return sorted(name for name, mark in msh.markers.items() if mark.dim == msh.dim - 1)


def kl_basis(
    V: Any, *, modes: int, tau: float, gamma: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Reproducible Karhunen-Loeve basis of ``(-Laplacian + tau^2 I)^(-gamma)`` on a space.

    The same expansion as :func:`sciml.data.fe_grf` (generalized eigenproblem
    ``K phi = lambda M phi`` with natural boundary conditions, ``modes`` smallest eigenvalues,
    ``M``-orthonormal ``phi``), computed once for all fields and made deterministic: ARPACK
    starts from a fixed pseudo-random vector (by default SciPy draws it from OS entropy, so the
    eigenvectors, and with them the fields, would change from call to call) and each
    eigenvector is signed so that its entry of largest magnitude is positive.

    Parameters
    ----------
    V : sciml.fem.FunctionSpace
        Scalar space.
    modes : int
        Number of modes (capped at ``V.num_dofs - 1``).
    tau, gamma : float
        Inverse length scale and smoothness.

    Returns
    -------
    amplitude : numpy.ndarray
        ``(modes,)``, ``(lambda_i + tau^2)^(-gamma / 2)``.
    phi : numpy.ndarray
        ``(V.num_dofs, modes)`` eigenvectors, by increasing eigenvalue.
    """
    import scipy.sparse.linalg as spla

    from sciml.fem import mass, stiffness

    modes = min(int(modes), V.num_dofs - 1)
    K = stiffness(V).to_scipy().tocsc()
    M = mass(V).to_scipy().tocsc()
    v0 = np.random.default_rng(0).uniform(-1.0, 1.0, V.num_dofs)
    lam, phi = spla.eigsh(K, k=modes, M=M, sigma=-1.0, which="LM", v0=v0)
    order = np.argsort(lam)
    lam, phi = np.clip(lam[order], 0.0, None), phi[:, order]
    peak = np.abs(phi).argmax(axis=0)
    phi = phi * np.sign(phi[peak, np.arange(modes)])
    return (lam + tau**2) ** (-gamma / 2), phi


def kl_sample(
    amplitude: npt.NDArray[np.float64],
    phi: npt.NDArray[np.float64],
    n_samples: int,
    sigma: float,
    seed: int | np.random.Generator,
) -> Tensor:
    """Random fields ``sum_i sigma amplitude_i xi_i phi_i`` with ``xi_i ~ N(0, 1)``.

    Parameters
    ----------
    amplitude, phi : numpy.ndarray
        ``(modes,)`` amplitudes and ``(ndofs, modes)`` modes from :func:`kl_basis`.
    n_samples : int
    sigma : float
        Scale of the field.
    seed : int or numpy.random.Generator
        A seed, or a generator to draw from (successive calls then continue its stream).

    Returns
    -------
    torch.Tensor
        ``(n_samples, ndofs)`` float64 dof values.
    """
    xi = np.random.default_rng(seed).standard_normal((n_samples, amplitude.size))
    return torch.from_numpy((xi * (sigma * amplitude)) @ phi.T)


def solve_dirichlet(
    V: Any, kappa: Tensor, load: Tensor, dofs: np.ndarray, values: Tensor
) -> Tensor:
    """Solve ``-div(kappa grad u) = f``, ``u = g`` on ``dofs``, by AMG-preconditioned CG.

    Parameters
    ----------
    V : sciml.fem.FunctionSpace
        Scalar space.
    kappa : torch.Tensor
        Coefficient dof values ``(V.num_dofs,)``.
    load : torch.Tensor
        Load vector ``(V.num_dofs,)`` (``int f phi_i``).
    dofs : numpy.ndarray
        Sorted constrained dofs.
    values : torch.Tensor
        Prescribed values on ``dofs``.

    Returns
    -------
    torch.Tensor
        ``(V.num_dofs,)``, equal to ``values`` on ``dofs``. Bitwise reproducible: the AMG
        setup runs with NumPy's global generator seeded (and restored afterwards).

    Raises
    ------
    sciml.linalg.ConvergenceError
        If CG does not reach the relative tolerance :data:`RTOL`.
    """
    from sciml.fem import DirichletBC, condense, expand, stiffness
    from sciml.linalg import amg, cg

    bc = DirichletBC(dofs=dofs, values=values.to(torch.float64))
    A_ff, b_f, free = condense(stiffness(V, kappa), load, bc)
    # pyamg's setup estimates spectral radii from np.random start vectors (the global
    # generator); seed it for this call only so that the preconditioner, hence the solution,
    # is bitwise reproducible, and restore the caller's state afterwards
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    try:
        M = amg(A_ff)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    x_f = cg(A_ff, b_f, rtol=RTOL, M=M).raise_if_failed().x
    return expand(x_f, free, bc)


def diffusion_system(
    mesh: Any,
    *,
    seed: int = 0,
    kappa_sigma: float = 2.5,
    f_sigma: float = 7.0,
    tau: float = 3.0,
    gamma: float = 2.0,
    modes: int = 64,
) -> tuple[Any, Tensor, npt.NDArray[np.int64], Tensor]:
    """One P1 system ``-div(kappa grad u) = f``, ``u = 0`` on the boundary, on any 2-D/3-D mesh.

    The fields are those of :func:`generate_poisson_meshes` (``kappa = exp(GRF)``, ``f`` a
    GRF, both from :func:`kl_basis`); the boundary dofs (every facet marker) are eliminated.
    Used to test solvers on unstructured finite-element matrices.

    Parameters
    ----------
    mesh : sciml.mesh.Mesh
        With facet markers covering the boundary (as the ``meshes/`` files).
    seed : int, default 0
    kappa_sigma, f_sigma, tau, gamma, modes
        As in :func:`generate_poisson_meshes`.

    Returns
    -------
    A : sciml.linalg.SparseMatrix
        The SPD matrix of the free dofs (float64).
    b : torch.Tensor
        Its right-hand side, the load vector of ``f`` on the free dofs.
    free : numpy.ndarray
        The free dofs of the P1 space.
    kappa : torch.Tensor
        The coefficient at all dofs.
    """
    from sciml.fem import FunctionSpace, condense, dirichlet, mass, stiffness

    positive_int("seed", seed, 0)
    V = FunctionSpace(mesh, "Lagrange", 1)
    markers = boundary_markers(mesh)
    if not markers:
        raise ValueError("the mesh has no facet markers, so no Dirichlet boundary to eliminate")
    amplitude, phi = kl_basis(V, modes=modes, tau=tau, gamma=gamma)
    seeds = np.random.SeedSequence(seed).generate_state(2)
    kappa = torch.exp(kl_sample(amplitude, phi, 1, kappa_sigma, int(seeds[0])))[0]
    f = kl_sample(amplitude, phi, 1, f_sigma, int(seeds[1]))[0]
    A, b, free = condense(stiffness(V, kappa), mass(V) @ f, dirichlet(V, markers))
    return A, b, free, kappa
