"""Algebraic multigrid preconditioning: pyamg builds the hierarchy, torch runs the V-cycle.

The setup (strength of connection, aggregation or C/F splitting, interpolation, Galerkin
products) runs once in pyamg on the CPU. Every level is then converted to a
:class:`~sciml.linalg.SparseMatrix` on the target device, and the V-cycle uses only sparse
products and vector operations (polynomial smoothing, dense coarsest-level solve), so the same
preconditioner runs on CPU or CUDA and can be handed to :func:`~sciml.linalg.cg`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from sciml.linalg.operator import _OperatorBase
from sciml.linalg.sparse import SparseMatrix

__all__ = ["AMGLevel", "AMGPreconditioner", "amg"]


@dataclass(frozen=True)
class AMGLevel:
    """One level of the hierarchy.

    Attributes
    ----------
    A : SparseMatrix
        The level's operator.
    P : SparseMatrix or None
        Prolongation from the next coarser level (None on the coarsest level).
    R : SparseMatrix or None
        Restriction to the next coarser level (``P^T`` for symmetric problems).
    dinv : torch.Tensor
        Inverse of the diagonal of ``A``.
    rho : float
        Estimate of the spectral radius of ``D^{-1} A``.
    """

    A: SparseMatrix
    P: SparseMatrix | None
    R: SparseMatrix | None
    dinv: Tensor
    rho: float


class AMGPreconditioner(_OperatorBase):
    """One multigrid V-cycle, ``M b ~ A^{-1} b``, as a linear operator.

    Built by :func:`amg`. The cycle applies ``degree`` steps of the smoother before and after the
    coarse-grid correction and solves the coarsest level exactly (dense pseudo-inverse). With a
    polynomial smoother (Chebyshev or damped Jacobi, both symmetric in the ``A`` inner product)
    and ``R = P^T`` the cycle is a symmetric positive definite operator, valid inside CG.

    Parameters
    ----------
    levels : list of AMGLevel
        Finest first.
    coarse_inverse : torch.Tensor
        Dense (pseudo-)inverse of the coarsest operator.
    smoother : {"chebyshev", "jacobi"}
        Smoother on every level but the coarsest.
    degree : int
        Chebyshev polynomial degree, or number of damped-Jacobi sweeps.
    interval : tuple of float
        Chebyshev target interval as fractions of the estimated spectral radius of ``D^{-1} A``.
    """

    def __init__(
        self,
        levels: list[AMGLevel],
        coarse_inverse: Tensor,
        *,
        smoother: Literal["chebyshev", "jacobi"] = "chebyshev",
        degree: int = 2,
        interval: tuple[float, float] = (0.1, 1.1),
    ) -> None:
        if smoother not in ("chebyshev", "jacobi"):
            raise ValueError(f"smoother must be 'chebyshev' or 'jacobi', got {smoother!r}")
        if degree < 1:
            raise ValueError(f"degree must be >= 1, got {degree}")
        lo, hi = interval
        if not 0 < lo < hi:
            raise ValueError(f"interval must satisfy 0 < lower < upper, got {interval}")
        A0 = levels[0].A
        self.levels = levels
        self.coarse_inverse = coarse_inverse
        self.smoother = smoother
        self.degree = degree
        self.interval = interval
        self._shape = A0.shape
        self._dtype = A0.dtype
        self._device = A0.device

    # ------------------------------------------------------------------ diagnostics
    @property
    def num_levels(self) -> int:
        """Number of levels, the finest included."""
        return len(self.levels)

    @property
    def operator_complexity(self) -> float:
        """Total stored entries of all level operators over those of the finest."""
        return sum(lv.A.nnz for lv in self.levels) / self.levels[0].A.nnz

    @property
    def grid_complexity(self) -> float:
        """Total unknowns of all levels over those of the finest."""
        return sum(lv.A.shape[0] for lv in self.levels) / self.levels[0].A.shape[0]

    def __repr__(self) -> str:
        rows = "\n".join(
            f"  level {i}: n={lv.A.shape[0]}, nnz={lv.A.nnz}" for i, lv in enumerate(self.levels)
        )
        return (
            f"AMGPreconditioner({self.num_levels} levels, smoother={self.smoother}"
            f"(degree={self.degree}), operator complexity {self.operator_complexity:.2f}, "
            f"dtype={self.dtype}, device={self.device})\n{rows}"
        )

    # ------------------------------------------------------------------ cycle
    def _matvec(self, b: Tensor) -> Tensor:
        vector = b.ndim == 1
        x = self._cycle(0, b.unsqueeze(1) if vector else b)
        return x[:, 0] if vector else x

    def _cycle(self, i: int, b: Tensor) -> Tensor:
        level = self.levels[i]
        if level.P is None or level.R is None:
            return self.coarse_inverse @ b
        x = self._smooth(level, b, None)
        r = b - level.A.matvec(x)
        x = x + level.P.matvec(self._cycle(i + 1, level.R.matvec(r)))
        return self._smooth(level, b, x)

    def _smooth(self, level: AMGLevel, b: Tensor, x: Tensor | None) -> Tensor:
        dinv = level.dinv.unsqueeze(1)
        r = b * dinv if x is None else (b - level.A.matvec(x)) * dinv
        if self.smoother == "jacobi":
            omega = 4.0 / (3.0 * level.rho)
            x = r * omega if x is None else x.add(r, alpha=omega)
            for _ in range(self.degree - 1):
                x = x.add((b - level.A.matvec(x)) * dinv, alpha=omega)
            return x
        upper = self.interval[1] * level.rho
        lower = self.interval[0] * level.rho
        theta, delta = (upper + lower) / 2, (upper - lower) / 2
        sigma = theta / delta
        rho = 1.0 / sigma
        d = r / theta
        x = d.clone() if x is None else x + d
        for _ in range(self.degree - 1):
            r = r - level.A.matvec(d) * dinv
            rho_new = 1.0 / (2.0 * sigma - rho)
            d = d * (rho_new * rho) + r * (2.0 * rho_new / delta)
            rho = rho_new
            x = x + d
        return x


def _lanczos_rho(A: SparseMatrix, dinv: Tensor, steps: int = 12) -> float:
    """Upper estimate of the spectral radius of ``D^{-1} A`` for symmetric ``A`` with ``D > 0``.

    Runs ``steps`` Lanczos iterations on the similar symmetric matrix ``D^{-1/2} A D^{-1/2}``
    (on ``A``'s device) and returns the largest Ritz value plus its residual bound.
    """
    scale = torch.sqrt(dinv.clamp_min(0.0)).to(torch.float64)
    A64 = A.to(dtype=torch.float64)
    gen = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(A.shape[0], generator=gen, dtype=torch.float64).to(A.device)
    v /= torch.linalg.vector_norm(v)
    v_prev = torch.zeros_like(v)
    alphas: list[float] = []
    betas: list[float] = []
    beta = 0.0
    for _ in range(min(steps, A.shape[0])):
        w = scale * A64.matvec(scale * v) - beta * v_prev
        alpha = float(torch.dot(w, v))
        w -= alpha * v
        beta = float(torch.linalg.vector_norm(w))
        alphas.append(alpha)
        betas.append(beta)
        if beta <= 1e-12 * abs(alpha):
            break
        v_prev, v = v, w / beta
    k = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if k > 1:
        off = torch.tensor(betas[: k - 1], dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    evals, evecs = torch.linalg.eigh(T)
    return float(evals[-1] + betas[-1] * abs(evecs[-1, -1]))


def amg(
    A: SparseMatrix,
    kind: Literal["sa", "rs"] = "sa",
    *,
    smoother: Literal["chebyshev", "jacobi"] = "chebyshev",
    degree: int = 2,
    interval: tuple[float, float] = (0.1, 1.1),
    max_coarse: int = 300,
    max_levels: int = 25,
    symmetric: bool | None = None,
    **pyamg_options: Any,
) -> AMGPreconditioner:
    """Build an algebraic multigrid preconditioner (one V-cycle) for ``A``.

    Parameters
    ----------
    A : SparseMatrix
        Square, typically symmetric positive definite (an M-matrix for ``kind="rs"``).
    kind : {"sa", "rs"}, default "sa"
        Smoothed aggregation (:func:`pyamg.smoothed_aggregation_solver`) or classical
        Ruge-Stueben (:func:`pyamg.ruge_stuben_solver`) coarsening.
    smoother : {"chebyshev", "jacobi"}, default "chebyshev"
        Jacobi-preconditioned Chebyshev polynomial, or damped Jacobi with ``omega = 4/(3 rho)``;
        both run in parallel on any device and keep the cycle symmetric.
    degree : int, default 2
        Chebyshev degree, or number of Jacobi sweeps, before and after the coarse correction.
    interval : tuple of float, default (0.1, 1.1)
        Chebyshev target interval as fractions of the spectral radius estimate of ``D^{-1} A``.
    max_coarse : int, default 300
        Size below which the coarsest level is solved directly (dense pseudo-inverse).
    max_levels : int, default 25
        Maximum number of levels.
    symmetric : bool, optional
        Whether ``A`` is symmetric (checked when not given). For symmetric matrices the
        spectral radius of ``D^{-1} A`` that scales the smoother is estimated by a short Lanczos
        run in torch; otherwise by pyamg's Arnoldi estimate.
    **pyamg_options
        Passed to the pyamg setup function (e.g. ``strength``, ``B`` near-null-space vectors).

    Returns
    -------
    AMGPreconditioner
        On ``A``'s device and dtype.

    Raises
    ------
    ValueError
        If ``A`` is not square, ``kind`` is unknown, or a level has a zero diagonal entry.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import amg, cg, poisson2d
    >>> A = poisson2d(64)
    >>> M = amg(A)
    >>> sol = cg(A, torch.ones(A.shape[0], dtype=A.dtype), rtol=1e-8, M=M)
    >>> bool(sol.converged), int(sol.iterations) < 20
    (True, True)
    """
    import pyamg
    from pyamg.relaxation.smoothing import rho_D_inv_A

    if not isinstance(A, SparseMatrix):
        raise TypeError(f"amg expects a SparseMatrix, got {type(A)!r}")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"amg needs a square matrix, got shape {A.shape}")
    A_cpu = A.to_scipy().astype("float64")  # a copy: the caller's matrix is untouched
    # stored zeros (e.g. rows and columns cleared by Dirichlet lifting) would count as strong
    # connections and give degenerate aggregates
    A_cpu.eliminate_zeros()
    if symmetric is None:
        asym = abs(A_cpu - A_cpu.T)
        symmetric = asym.nnz == 0 or asym.max() <= 1e-12 * abs(A_cpu).max()
    if kind not in ("sa", "rs"):
        raise ValueError(f"kind must be 'sa' or 'rs', got {kind!r}")
    setup = pyamg.smoothed_aggregation_solver if kind == "sa" else pyamg.ruge_stuben_solver
    # pyamg draws random start vectors from NumPy's global generator: seed it for a
    # reproducible hierarchy, and give the caller's generator state back afterwards
    state = np.random.get_state()  # noqa: NPY002 - pyamg uses the global generator
    np.random.seed(0)  # noqa: NPY002
    try:
        ml = setup(A_cpu, max_coarse=max_coarse, max_levels=max_levels, **pyamg_options)
    finally:
        np.random.set_state(state)  # noqa: NPY002

    device, dtype = A.device, A.dtype
    levels: list[AMGLevel] = []
    for i, lv in enumerate(ml.levels):
        last = i == len(ml.levels) - 1
        Ai = A if i == 0 else SparseMatrix.from_scipy(lv.A, device=device, dtype=dtype)
        diag = Ai.diagonal().detach()
        if bool((diag == 0).any()):
            if i == 0:
                raise ValueError("A has a zero diagonal entry; AMG smoothing is undefined")
            # a coarse row that vanished entirely: leave it out of the smoothing
            rowsum = SparseMatrix.from_scipy(abs(lv.A)).matvec(
                torch.ones(Ai.shape[0], dtype=torch.float64)
            )
            if bool(((diag == 0) & (rowsum.to(device) != 0)).any()):
                raise ValueError(f"AMG level {i} has a zero diagonal entry in a non-zero row")
        dinv = torch.where(diag != 0, 1.0 / torch.where(diag != 0, diag, 1.0), 0.0)
        P = R = None
        rho = 1.0
        if not last:
            P = SparseMatrix.from_scipy(lv.P, device=device, dtype=dtype)
            R = SparseMatrix.from_scipy(lv.R, device=device, dtype=dtype)
            rho = _lanczos_rho(Ai, dinv) if symmetric else float(rho_D_inv_A(lv.A))
        levels.append(AMGLevel(A=Ai, P=P, R=R, dinv=dinv, rho=rho))
    coarse = torch.from_numpy(ml.levels[-1].A.toarray())
    coarse_inverse = torch.linalg.pinv(coarse).to(device=device, dtype=dtype)
    return AMGPreconditioner(
        levels, coarse_inverse, smoother=smoother, degree=degree, interval=interval
    )
