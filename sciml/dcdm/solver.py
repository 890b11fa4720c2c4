"""The DCDM solver: learned search directions, A-orthogonalised, with the true residual."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sciml.dcdm._operator import NetworkDirections
from sciml.dcdm.graph import GraphDCDMNet, GraphDirections
from sciml.dcdm.network import _halve
from sciml.dcdm.scenes import GridPoisson
from sciml.dcdm.training import directions
from sciml.linalg import CoarseCorrection, Solution, SparseMatrix, conjugate_directions, fcg
from sciml.linalg.krylov._common import Callback

__all__ = ["LearnedDirections", "MultilevelDirections", "dcdm"]


class LearnedDirections(NetworkDirections):
    """A direction network as an operator ``r -> d`` for :func:`sciml.linalg.fcg` (as ``M``).

    Each residual column is normalised to unit length (the network was trained on unit
    right-hand sides), scattered onto the grid, passed through the network in its own dtype
    and device, and gathered back on the fluid cells.

    Parameters
    ----------
    model : torch.nn.Module
        ``(batch, 1, *grid) -> (batch, 1, *grid)``, e.g. :class:`DCDMNet`; put in eval mode.
    system : GridPoisson
        The grid the unknowns live on.

    Raises
    ------
    ValueError
        If the network's dimension differs from the grid's.
    """

    def __init__(self, model: nn.Module, system: GridPoisson) -> None:
        dim = getattr(model, "dim", system.dim)
        if dim != system.dim:
            raise ValueError(f"the network is {dim}-D but the grid is {system.dim}-D")
        self.model = model.eval()
        self.system = system
        self.matrix = system.matrix
        param = next(model.parameters())
        self.net_system = system.to(device=param.device)
        self.calls = 0

    def _directions(self, r: Tensor) -> Tensor:
        return directions(self.model, self.net_system, r)


class MultilevelDirections:
    """The network on the residual *and* on its coarsened copies: one direction per level.

    Level 0 is :class:`LearnedDirections`' direction. Level ``l`` averages the residual over
    ``2^l`` cells per axis (zero-padding odd sizes), applies the same network to the coarse
    grid, and interpolates the output back ((bi/tri)linear, level by level) onto the fluid
    cells. The coarse levels see the smooth part of the residual that the network's
    receptive field misses on a large grid. The directions have unrelated scales; use them
    with :func:`sciml.linalg.conjugate_directions`, which gives each its own step.

    With ``coarse`` one more direction is appended: the exact Galerkin correction
    ``P (P^T A P)^{-1} P^T r`` on a grid ``coarse`` times coarser per axis
    (:meth:`GridPoisson.coarse_correction`; built once, here). The network then only has to
    handle what the coarse grid cannot represent, which is local -- what a network trained on
    one small grid does learn -- and the iteration count stops growing with the grid (a
    two-level method with a learned smoother).

    Parameters
    ----------
    model : torch.nn.Module
        A grid network, e.g. :func:`pretrained`.
    system : GridPoisson
    levels : int, optional
        Number of network levels (``1``: the network on the residual only); default: coarsen
        while the coarse grid keeps at least ``coarsest`` cells along every axis.
    coarsest : int, default 8
    coarse : int, optional
        Coarsening factor (a power of two) of the exact coarse-grid correction; default none.

    Raises
    ------
    ValueError
        If the grid has fewer than ``levels`` levels, or the ``coarse`` grid would have fewer
        than 2 cells along an axis (see :func:`sciml.linalg.grid_prolongation`).
    """

    def __init__(
        self,
        model: nn.Module,
        system: GridPoisson,
        levels: int | None = None,
        coarsest: int = 8,
        coarse: int | None = None,
    ) -> None:
        # the single-grid operator: its checks, and the system on the network's device
        self.single = LearnedDirections(model, system)
        self.system = system
        self.correction: CoarseCorrection | None = (
            None if coarse is None else system.coarse_correction(coarse)
        )
        shapes = [tuple(int(s) for s in system.fluid.shape)]
        while (levels is None or len(shapes) < levels) and min(s // 2 for s in shapes[-1]) >= max(
            int(coarsest), 1
        ):
            shapes.append(tuple((s + 1) // 2 for s in shapes[-1]))
        if levels is not None and len(shapes) < levels:
            raise ValueError(f"the {system.fluid.shape} grid has at most {len(shapes)} levels")
        self.shapes = shapes
        self.mode = "bilinear" if system.dim == 2 else "trilinear"
        self.calls = 0

    @property
    def levels(self) -> int:
        """Number of grid levels the network is applied on."""
        return len(self.shapes)

    @property
    def width(self) -> int:
        """Directions per call: the levels, plus one for the coarse-grid correction."""
        return len(self.shapes) + (self.correction is not None)

    @torch.no_grad()
    def __call__(self, r: Tensor) -> Tensor:
        """Directions ``(n, width)`` for a residual ``(n,)``."""
        model, sys_ = self.single.model, self.single.net_system
        param = next(model.parameters())
        level = sys_.to_grid(r.to(device=param.device, dtype=param.dtype)).reshape(
            1, 1, *self.shapes[0]
        )
        out = []
        for depth in range(len(self.shapes)):
            if depth > 0:
                level = _halve(level)
            q = model(level / torch.linalg.vector_norm(level).clamp_min(1e-30))
            for finer in reversed(self.shapes[:depth]):
                q = F.interpolate(q, size=finer, mode=self.mode, align_corners=False)
            out.append(sys_.from_grid(q[0, 0]))
        self.calls += 1
        block = torch.stack(out, 1).to(device=r.device, dtype=r.dtype)
        if self.correction is None:
            return block
        fix = self.correction @ r.to(self.correction.dtype)
        return torch.cat([block, fix.to(dtype=r.dtype).unsqueeze(1)], 1)


def _check_symmetric(A: SparseMatrix) -> None:
    S = A.to_scipy()
    diff = abs(S - S.T).max() if S.nnz else 0.0
    scale = abs(S).max() if S.nnz else 1.0
    if diff > 1e-12 * scale:
        raise ValueError(f"A is not symmetric (max |A - A^T| = {diff:.3e}); DCDM needs SPD A")
    if bool((A.diagonal() <= 0).any()):
        raise ValueError("A has a non-positive diagonal entry, so it is not SPD; DCDM needs SPD A")


def _solve_blocks(
    system: GridPoisson,
    b: Tensor,
    gen: MultilevelDirections,
    x0: Tensor | None,
    rtol: float,
    atol: float,
    maxiter: int | None,
    k: int,
    callback: Callback | None,
) -> Solution:
    """:func:`sciml.linalg.conjugate_directions` with the blocks of ``gen``."""
    if b.ndim != 1:
        raise ValueError(
            f"levels != 1 or coarse solve one right-hand side (n,), got {tuple(b.shape)}"
        )
    return conjugate_directions(
        system.matrix,
        b,
        gen,
        x0,
        rtol=rtol,
        atol=atol,
        maxiter=maxiter,
        truncation=k,
        callback=callback,
    )


def dcdm(
    A: GridPoisson | SparseMatrix,
    b: Tensor,
    model: nn.Module | GraphDirections | MultilevelDirections,
    *,
    rtol: float = 1e-6,
    atol: float = 0.0,
    maxiter: int | None = None,
    k: int = 2,
    x0: Tensor | None = None,
    callback: Callback | None = None,
    fluid: np.ndarray | None = None,
    levels: int | str = 1,
    coarse: int | None = None,
) -> Solution:
    """Solve ``A x = b`` by the deep conjugate direction method (Kaneda et al., ICML 2023).

    Each iteration: ``d = f(r / ||r||)`` from the network, A-orthogonalised against the last
    ``k`` directions, step ``alpha = d.r / d.A d``, ``x += alpha d``, then the true residual
    ``r = b - A x`` (:func:`sciml.linalg.fcg` with ``M`` = :class:`LearnedDirections` and
    ``true_residual=True``). Whatever the network returns, each step minimises the A-norm of
    the error along ``d``, so the error never grows; a direction with ``d.A d <= 0`` or a
    non-finite one ends the solve with that reason.

    Parameters
    ----------
    A : GridPoisson or SparseMatrix
        The system; with a grid network a bare matrix needs the ``fluid`` mask of its grid,
        with a :class:`GraphDCDMNet` any symmetric positive definite matrix will do (e.g. a
        finite-element matrix on an unstructured mesh).
    b : torch.Tensor
        ``(n,)`` or ``(n, k)`` in the matrix's dtype and device.
    model : torch.nn.Module
        A grid network such as :class:`DCDMNet` or :func:`pretrained`, or a graph network
        (:class:`GraphDCDMNet`, :func:`pretrained_graph`: directions from
        :class:`GraphDirections`); may sit on another device or dtype than ``A`` (e.g.
        float32 on CUDA). :class:`GraphDirections` prepared for ``A`` (the graph network
        with the aggregation hierarchy of ``A``, built once) are accepted too, to reuse them
        over several solves with the same matrix. Likewise :class:`MultilevelDirections`
        prepared for ``A`` (then ``levels`` and ``coarse`` are theirs).
    rtol, atol : float
        Stop when ``||b - A x|| <= max(rtol ||b||, atol)``.
    maxiter : int, optional
        Default ``10 n``.
    k : int, default 2
        Previous directions to A-orthogonalise against.
    x0 : torch.Tensor, optional
    callback : callable, optional
        ``callback(x)`` after each iteration.
    fluid : numpy.ndarray of bool, optional
        Grid mask when ``A`` is a bare matrix (unknowns = fluid cells in C order).
    levels : int or "auto", default 1
        ``1``: the paper's method, one direction per iteration. More (or ``"auto"``: down to
        grids of 8 cells per axis): sciml's multilevel variant -- the network is also applied
        to 2x, 4x, ... coarsened residuals (:class:`MultilevelDirections`) and every iteration
        minimises the error over all these directions at once
        (:func:`sciml.linalg.conjugate_directions`, ``truncation = k`` blocks). Same network,
        no retraining; far fewer iterations on grids larger than the training grid.
    coarse : int, optional
        sciml's two-level variant: with a coarsening factor (a power of two, e.g. ``8``) every
        iteration also gets the exact Galerkin correction on a grid ``coarse`` times coarser
        per axis (:class:`MultilevelDirections`), and minimises over the network's direction(s)
        and this one at once. The coarse grid holds the smooth error the network trained on a
        small grid cannot see: iteration counts then stay flat as the grid grows. Setup: one
        sparse factorisation of the coarse matrix (``n / coarse^dim`` unknowns).

    Returns
    -------
    Solution

    Raises
    ------
    ValueError, TypeError
        If ``A`` is not symmetric or has a non-positive diagonal, the grid does not match the
        matrix or the network, or ``b`` is malformed (see :func:`sciml.linalg.cg`).

    Examples
    --------
    >>> import torch
    >>> from sciml.dcdm import GridPoisson, dcdm, obstacle_scene, pretrained
    >>> system = GridPoisson(obstacle_scene((48, 48), count=4, seed=3))
    >>> b = torch.ones(system.n, dtype=torch.float64)
    >>> sol = dcdm(system, b, pretrained(2), rtol=1e-6, maxiter=200)
    >>> bool(sol.converged)
    True
    >>> two_level = dcdm(system, b, pretrained(2), rtol=1e-6, coarse=8)
    >>> bool(two_level.converged), int(two_level.iterations) < int(sol.iterations)
    (True, True)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    M: NetworkDirections
    if isinstance(model, GraphDCDMNet | GraphDirections):
        matrix = A.matrix if isinstance(A, GridPoisson) else A
        if not isinstance(matrix, SparseMatrix):
            raise TypeError(f"A must be a SparseMatrix or GridPoisson, got {type(A)!r}")
        if isinstance(model, GraphDirections) and model.matrix is not matrix:
            raise ValueError("these GraphDirections were prepared for another matrix")
        if levels != 1 or coarse is not None:
            raise ValueError(
                "levels and coarse are options of grid networks; the graph network already "
                "works on every level of the multigrid hierarchy of the matrix"
            )
        _check_symmetric(matrix)
        M = model if isinstance(model, GraphDirections) else GraphDirections(model, matrix)
    elif isinstance(model, MultilevelDirections):
        system = model.system
        if (A.matrix if isinstance(A, GridPoisson) else A) is not system.matrix:
            raise ValueError("these MultilevelDirections were prepared for another matrix")
        _check_symmetric(system.matrix)
        return _solve_blocks(system, b, model, x0, rtol, atol, maxiter, k, callback)
    else:
        if isinstance(A, GridPoisson):
            system = A
        elif isinstance(A, SparseMatrix):
            if fluid is None:
                raise ValueError("a bare matrix needs the fluid mask of its grid: pass fluid=...")
            system = GridPoisson.from_matrix(A, fluid)
        else:
            raise TypeError(f"A must be a GridPoisson or SparseMatrix, got {type(A)!r}")
        _check_symmetric(system.matrix)
        if levels != 1 or coarse is not None:
            if levels != "auto" and not (isinstance(levels, int) and levels >= 1):
                raise ValueError(f'levels must be a positive int or "auto", got {levels!r}')
            gen = MultilevelDirections(
                model, system, None if levels == "auto" else int(levels), coarse=coarse
            )
            return _solve_blocks(system, b, gen, x0, rtol, atol, maxiter, k, callback)
        matrix, M = system.matrix, LearnedDirections(model, system)
    return fcg(
        matrix,
        b,
        x0,
        rtol=rtol,
        atol=atol,
        maxiter=maxiter,
        M=M,
        truncation=k,
        true_residual=True,
        callback=callback,
    )
