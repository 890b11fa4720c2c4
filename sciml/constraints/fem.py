"""Hard constraints on finite-element meshes: PI-HC-MoE for diffusion on unstructured meshes.

The finite-element variant of Chalapathi et al. (ICLR 2024). A graph network on the dof graph
of a Lagrange space (:func:`sciml.fem.dof_graph`) maps the problem data to ``N`` basis
functions ``b_i`` (and a particular solution ``b_0``) on the mesh dofs; the prediction is
``u = b_0 + sum_i w_i b_i``. The PDE residual is the assembled finite-element residual of

    ``-div(kappa grad u) = f`` in the domain, ``u = g`` on the Dirichlet dofs,

``r(u) = D^-1 (A u - F)`` on the free dofs and ``boundary_weight (u - g)`` on the Dirichlet
dofs (:class:`DiffusionResidual`: ``A`` the stiffness matrix of ``kappa``, ``F = M f`` the load
vector, ``D`` the diagonal of ``A``, all from :mod:`sciml.fem`). The residual is linear in the
weights, so the operator applied to the basis, ``D^-1 A B``, is computed once per forward pass
(one sparse product per sample) and the inner Levenberg-Marquardt solve converges in one or
two steps.

Experts are parts of the mesh (:func:`partition_cells`: recursive coordinate bisection of the
cells); every dof has one owner. Expert ``k`` has its own weights ``w_k`` and constrains only
its rows (the dofs of its cells, or only the dofs it owns); the basis is global, so the rows
of ``A`` at the edge of a part see ``u_k = b_0 + B w_k`` at the neighbouring dofs. The
prediction on a dof takes the weights of its owner. Training is physics-only: the loss is the
mean-squared residual of the *assembled* prediction, so that it sees the interfaces between
experts; the reference solutions (:func:`fe_diffusion_data`, direct sparse solves with the
same assembly) only measure the error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from sciml.constraints.hard import ConstraintResult
from sciml.constraints.moe import HardConstraintMoE
from sciml.constraints.training import PIHCOutput
from sciml.linalg import SparseMatrix
from sciml.nn import GraphNetwork

__all__ = [
    "CellPartition",
    "DiffusionResidual",
    "FEDiffusionData",
    "FEDiffusionPIHC",
    "fe_diffusion_data",
    "fe_diffusion_metrics",
    "fe_diffusion_step",
    "partition_cells",
]

MODES = ("soft", "hard")
ROWS = ("cells", "owned")


# ---------------------------------------------------------------------- partition
@dataclass(frozen=True)
class CellPartition:
    """A partition of the mesh cells into ``parts`` experts and the induced dof ownership.

    Attributes
    ----------
    cell_part : numpy.ndarray
        ``(num_cells,)`` int64: the part of every cell.
    dof_owner : numpy.ndarray
        ``(num_dofs,)`` int64: the owner of every dof, the part holding most of the cells
        around it (ties go to the smaller part index).
    cell_dofs : numpy.ndarray
        ``(num_cells, dofs_per_cell)`` int64: the dofs of every cell.
    parts : int
    """

    cell_part: npt.NDArray[np.int64]
    dof_owner: npt.NDArray[np.int64]
    cell_dofs: npt.NDArray[np.int64]
    parts: int

    def owned_dofs(self, k: int) -> npt.NDArray[np.int64]:
        """Sorted dofs owned by part ``k``."""
        return np.flatnonzero(self.dof_owner == k).astype(np.int64)

    def part_dofs(self, k: int) -> npt.NDArray[np.int64]:
        """Sorted dofs of the cells of part ``k`` (its owned dofs and a ring of neighbours')."""
        return np.unique(self.cell_dofs[self.cell_part == k]).astype(np.int64)

    def rows(self, kind: str = "cells") -> tuple[Tensor, Tensor]:
        """Constraint rows of every part, padded to a common length.

        Parameters
        ----------
        kind : {"cells", "owned"}, default "cells"
            The dofs of the part's cells (neighbouring parts share their interface rows) or
            only the dofs it owns (every row in exactly one part).

        Returns
        -------
        index : torch.Tensor
            ``(parts, m)`` int64 dof indices; padding entries are 0.
        mask : torch.Tensor
            ``(parts, m)`` float64: 1 on real rows, 0 on padding.
        """
        if kind not in ROWS:
            raise ValueError(f"kind must be one of {ROWS}, got {kind!r}")
        take = self.part_dofs if kind == "cells" else self.owned_dofs
        sets = [take(k) for k in range(self.parts)]
        m = max(s.size for s in sets)
        index = torch.zeros(self.parts, m, dtype=torch.int64)
        mask = torch.zeros(self.parts, m, dtype=torch.float64)
        for k, s in enumerate(sets):
            index[k, : s.size] = torch.from_numpy(s)
            mask[k, : s.size] = 1.0
        return index, mask


def partition_cells(V: Any, parts: int) -> CellPartition:
    """Split the cells of a mesh into ``parts`` pieces by recursive coordinate bisection.

    The cell midpoints (the mean of the coordinates of their dofs) are split recursively: a set
    that must become ``p`` parts is cut across the longest side of its bounding box into
    ``floor(p / 2)`` and ``p - floor(p / 2)`` parts with cell counts in that ratio (a stable
    sort, so the result is deterministic). The pieces are compact and about equal in size;
    they are connected for the meshes of ``meshes/`` at small ``parts`` but this is not
    guaranteed for every geometry. Each dof is owned by the part that holds most of its
    cells (ties: the smaller index), so every dof has exactly one owner.

    Parameters
    ----------
    V : sciml.fem.FunctionSpace
        A scalar Lagrange space on one process.
    parts : int
        Number of parts, ``1 <= parts <= num_cells``.

    Returns
    -------
    CellPartition

    Raises
    ------
    ValueError
        For a vector space, a distributed space, or an invalid ``parts``.
    """
    if V.block_size != 1:
        raise ValueError("partition_cells needs a scalar space")
    n_cells = V.mesh.num_cells
    cell_dofs = np.asarray(V.dolfinx_space.dofmap.list[:n_cells], dtype=np.int64)
    n_dofs = V.num_dofs
    if cell_dofs.size and int(cell_dofs.max()) >= n_dofs:
        raise ValueError("partition_cells works on a space held by one process (no MPI ghosts)")
    if not 1 <= int(parts) <= n_cells:
        raise ValueError(f"parts must be in [1, {n_cells}], got {parts}")
    parts = int(parts)
    midpoints = np.asarray(V.dof_coordinates, dtype=np.float64)[cell_dofs].mean(axis=1)
    cell_part = np.zeros(n_cells, dtype=np.int64)

    def bisect(cells: npt.NDArray[np.int64], p: int, first: int) -> None:
        if p == 1:
            cell_part[cells] = first
            return
        x = midpoints[cells]
        axis = int(np.argmax(x.max(axis=0) - x.min(axis=0)))
        order = np.argsort(x[:, axis], kind="stable")
        left = p // 2
        cut = round(cells.size * left / p)
        bisect(cells[order[:cut]], left, first)
        bisect(cells[order[cut:]], p - left, first + left)

    bisect(np.arange(n_cells, dtype=np.int64), parts, 0)
    counts = np.zeros((n_dofs, parts), dtype=np.int64)
    np.add.at(counts, (cell_dofs.ravel(), np.repeat(cell_part, cell_dofs.shape[1])), 1)
    if not bool((counts.sum(axis=1) > 0).all()):
        raise ValueError("some dofs belong to no cell")
    owner = counts.argmax(axis=1).astype(np.int64)  # first maximum: the smaller index
    return CellPartition(cell_part=cell_part, dof_owner=owner, cell_dofs=cell_dofs, parts=parts)


# ---------------------------------------------------------------------- residual
def _spmm_batch(
    crow: Tensor, col: Tensor, values: Tensor, X: Tensor, shape: tuple[int, int]
) -> Tensor:
    """``A_b X_b`` for ``values (batch, nnz)`` on one CSR pattern and ``X (batch, n, C)``."""
    return torch.stack(
        [SparseMatrix(crow, col, v, shape, check=False) @ x for v, x in zip(values, X, strict=True)]
    )


class DiffusionResidual(nn.Module):
    """Jacobi-scaled finite-element residual of ``-div(kappa grad u) = f``, ``u = g``.

    ``r_i = ((A u)_i - F_i) / A_ii`` on the free dofs and ``boundary_weight (u_i - g_i)`` on
    the Dirichlet dofs, with ``A`` the stiffness matrix of ``kappa`` (given by its values on
    the common sparsity pattern, one row per sample) and ``F = M f`` (``M`` the mass matrix,
    ``f`` the source's dof values). Both kinds of rows are in the units of ``u``.

    Parameters
    ----------
    pattern : SparseMatrix
        A stiffness matrix of the space (its sparsity pattern is used; every row needs a
        stored diagonal entry).
    mass : SparseMatrix
        The mass matrix of the space.
    dirichlet_dofs : array-like of int
        The dofs where ``u = g``.
    boundary_weight : float, default 1
    """

    crow: Tensor
    col: Tensor
    diag_index: Tensor
    mass_crow: Tensor
    mass_col: Tensor
    mass_values: Tensor
    dirichlet: Tensor

    def __init__(
        self,
        pattern: SparseMatrix,
        mass: SparseMatrix,
        dirichlet_dofs: npt.ArrayLike,
        *,
        boundary_weight: float = 1.0,
    ) -> None:
        super().__init__()
        n = pattern.shape[0]
        if pattern.shape != (n, n) or mass.shape != (n, n):
            raise ValueError(f"need square matrices of one size, got {pattern.shape}, {mass.shape}")
        if not boundary_weight > 0:
            raise ValueError(f"boundary_weight must be positive, got {boundary_weight}")
        rows, cols = pattern.row_indices.long(), pattern.col_indices.long()
        diag = torch.nonzero(rows == cols).flatten()
        if diag.numel() != n:
            raise ValueError("the stiffness pattern needs a stored diagonal entry on every row")
        dofs = torch.as_tensor(np.asarray(dirichlet_dofs, dtype=np.int64))
        if dofs.numel() and (int(dofs.min()) < 0 or int(dofs.max()) >= n):
            raise ValueError(f"Dirichlet dofs must lie in [0, {n})")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[dofs] = True
        self.n = n
        self.boundary_weight = float(boundary_weight)
        self.register_buffer("crow", pattern.crow_indices.long(), persistent=False)
        self.register_buffer("col", pattern.col_indices.long(), persistent=False)
        self.register_buffer("diag_index", diag[rows[diag].argsort()], persistent=False)
        self.register_buffer("mass_crow", mass.crow_indices.long(), persistent=False)
        self.register_buffer("mass_col", mass.col_indices.long(), persistent=False)
        self.register_buffer("mass_values", mass.values.to(torch.float64), persistent=False)
        self.register_buffer("dirichlet", mask, persistent=False)

    @classmethod
    def from_space(
        cls, V: Any, dirichlet_dofs: npt.ArrayLike, *, boundary_weight: float = 1.0
    ) -> DiffusionResidual:
        """The residual of a :class:`sciml.fem.FunctionSpace` (patterns from sciml.fem)."""
        from sciml.fem import mass, stiffness

        return cls(stiffness(V), mass(V), dirichlet_dofs, boundary_weight=boundary_weight)

    @property
    def nnz(self) -> int:
        """Stored entries of the stiffness pattern (the length of a row of values)."""
        return int(self.col.numel())

    def _check(self, stiffness: Tensor, *fields: Tensor) -> None:
        if stiffness.ndim != 2 or stiffness.shape[1] != self.nnz:
            raise ValueError(
                f"stiffness values must be (batch, nnz={self.nnz}), got {tuple(stiffness.shape)}"
            )
        batch = stiffness.shape[0]
        for t in fields:
            if t.ndim < 2 or t.shape[:2] != (batch, self.n):
                raise ValueError(
                    f"fields must be (batch={batch}, dofs={self.n}, ...), got {tuple(t.shape)}"
                )
        for t in (stiffness, *fields):
            if not bool(torch.isfinite(t).all()):
                raise ValueError("the residual's inputs contain NaN/Inf")
        if not bool((stiffness[:, self.diag_index] > 0).all()):
            raise ValueError("the stiffness matrices need a positive diagonal")

    def operator(self, stiffness: Tensor, U: Tensor) -> Tensor:
        """The linear part ``D^-1 A U`` (free rows), ``boundary_weight U`` (Dirichlet rows).

        Parameters
        ----------
        stiffness : torch.Tensor
            ``(batch, nnz)`` stiffness values on the pattern.
        U : torch.Tensor
            ``(batch, n, C)`` dof values of ``C`` functions per sample.

        Returns
        -------
        torch.Tensor
            ``(batch, n, C)``, float64.
        """
        if U.ndim != 3:
            raise ValueError(f"U must be (batch, dofs, C), got {tuple(U.shape)}")
        self._check(stiffness, U)
        values, U = stiffness.to(torch.float64), U.to(torch.float64)
        AU = _spmm_batch(self.crow, self.col, values, U, (self.n, self.n))
        AU = AU / values[:, self.diag_index, None]
        return torch.where(self.dirichlet[None, :, None], self.boundary_weight * U, AU)

    def target(self, stiffness: Tensor, f: Tensor, g: Tensor) -> Tensor:
        """The constant part: ``D^-1 M f`` (free rows), ``boundary_weight g`` (Dirichlet rows).

        Parameters
        ----------
        stiffness : torch.Tensor
            ``(batch, nnz)``.
        f, g : torch.Tensor
            ``(batch, n)`` source and Dirichlet dof values (``g`` is read on the Dirichlet dofs).

        Returns
        -------
        torch.Tensor
            ``(batch, n)``, float64.
        """
        self._check(stiffness, f, g)
        values = stiffness.to(torch.float64)
        mass = self.mass_values[None].expand(f.shape[0], -1)
        load = _spmm_batch(
            self.mass_crow, self.mass_col, mass, f.to(torch.float64)[..., None], (self.n, self.n)
        )[..., 0]
        load = load / values[:, self.diag_index]
        return torch.where(self.dirichlet[None], self.boundary_weight * g.to(torch.float64), load)

    def forward(self, u: Tensor, stiffness: Tensor, f: Tensor, g: Tensor) -> Tensor:
        """The residual ``(batch, n)`` of the dof values ``u`` ``(batch, n)``."""
        if u.ndim != 2:
            raise ValueError(f"u must be (batch, dofs), got {tuple(u.shape)}")
        return self.operator(stiffness, u[..., None])[..., 0] - self.target(stiffness, f, g)


# ---------------------------------------------------------------------- model
class FEDiffusionPIHC(nn.Module):
    """Graph-network basis on a mesh with a soft, hard or mixture-of-experts hard constraint.

    Parameters
    ----------
    mode : {"soft", "hard"}, default "hard"
        ``"soft"``: the weights are trained parameters (physics-informed soft constraint);
        ``"hard"``: solved per sample and expert from the FE residual.
    experts : int, default 4
        Parts of the mesh (:func:`partition_cells`) for ``mode="hard"``; 1 is one global
        constraint. Must be 1 for ``mode="soft"``.
    n_basis : int, default 16
        Basis functions ``N``.
    mesh, level : str, int, default "l_shape", 0
        The geometry ``meshes/<mesh>_<level>.msh``; Dirichlet conditions on every boundary
        marker (as :func:`fe_diffusion_data`).
    degree : int, default 1
        Lagrange degree.
    rows : {"cells", "owned"}, default "cells"
        Constraint rows of an expert (:meth:`CellPartition.rows`).
    boundary_weight : float, default 1
        Weight of the Dirichlet rows (constraint and loss).
    ridge, tol, max_steps, on_failure
        Of the inner Levenberg-Marquardt solve (:class:`~sciml.constraints.HardConstraint`).
    hidden, layers : int, default 32, 6
        Of the :class:`~sciml.nn.GraphNetwork` (node features: coordinates, ``log kappa``,
        ``f``, ``g`` on the Dirichlet dofs, Dirichlet indicator).
    particular : bool, default True
        The network returns one more function ``b_0`` and ``u = b_0 + B w``.
    """

    coordinates: Tensor
    edge_index: Tensor
    edge_attr: Tensor
    row_index: Tensor
    row_mask: Tensor
    owner: Tensor

    def __init__(
        self,
        *,
        mode: str = "hard",
        experts: int = 4,
        n_basis: int = 16,
        mesh: str = "l_shape",
        level: int = 0,
        degree: int = 1,
        rows: str = "cells",
        boundary_weight: float = 1.0,
        ridge: float = 1e-4,
        tol: float = 1e-4,
        max_steps: int = 100,
        on_failure: str = "warn",
        hidden: int = 32,
        layers: int = 6,
        particular: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if rows not in ROWS:
            raise ValueError(f"rows must be one of {ROWS}, got {rows!r}")
        if experts < 1 or (mode == "soft" and experts != 1):
            raise ValueError(f"experts must be >= 1 (1 for the soft constraint), got {experts}")
        if n_basis < 1:
            raise ValueError(f"n_basis must be >= 1, got {n_basis}")
        self.init_args: dict[str, Any] = {
            "mode": mode,
            "experts": experts,
            "n_basis": n_basis,
            "mesh": mesh,
            "level": level,
            "degree": degree,
            "rows": rows,
            "boundary_weight": boundary_weight,
            "ridge": ridge,
            "tol": tol,
            "max_steps": max_steps,
            "on_failure": on_failure,
            "hidden": hidden,
            "layers": layers,
            "particular": particular,
        }
        V, dofs = _space(mesh, level, degree)
        self.space = V
        self.mode, self.experts, self.n_basis = mode, int(experts), int(n_basis)
        self.particular = bool(particular)
        self.residual = DiffusionResidual.from_space(V, dofs, boundary_weight=boundary_weight)
        self.partition = partition_cells(V, experts)
        index, mask = self.partition.rows(rows)
        self.register_buffer("row_index", index, persistent=False)
        self.register_buffer("row_mask", mask, persistent=False)
        self.register_buffer("owner", torch.from_numpy(self.partition.dof_owner), False)
        from sciml.fem import dof_graph

        graph = dof_graph(V)
        x = graph.coordinates
        self.register_buffer("coordinates", (x - x.mean(0)) / x.std(0).max(), False)
        self.register_buffer("edge_index", graph.edge_index, persistent=False)
        self.register_buffer("edge_attr", graph.edge_attr.float(), persistent=False)
        gdim = x.shape[1]
        self.network = GraphNetwork(
            gdim + 4, n_basis + int(self.particular), gdim + 1, hidden=hidden, layers=layers
        )
        if mode == "soft":
            self.soft_weights = nn.Parameter(torch.full((n_basis,), 1.0 / n_basis))
        self.constraint = HardConstraintMoE(
            _rows_residual,
            experts,
            ridge=ridge,
            tol=tol,
            max_steps=max_steps,
            on_failure=on_failure,
        )

    @property
    def num_dofs(self) -> int:
        """Dofs of the mesh space."""
        return int(self.owner.numel())

    def _inputs(self, kappa: Tensor, f: Tensor, g: Tensor) -> None:
        n = self.num_dofs
        for name, t in (("kappa", kappa), ("f", f), ("g", g)):
            if t.ndim != 2 or t.shape[1] != n or t.shape[0] != kappa.shape[0]:
                raise ValueError(f"{name} must be (batch, dofs={n}), got {tuple(t.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN/Inf")
        if not bool((kappa > 0).all()):
            raise ValueError("kappa must be positive")

    def basis(self, kappa: Tensor, f: Tensor, g: Tensor) -> Tensor:
        """Basis functions on the dofs, float64 ``(batch, n, N (+ 1))``; channel 0 is ``b_0``.

        Parameters
        ----------
        kappa, f, g : torch.Tensor
            ``(batch, n)`` dof values of the coefficient, the source and the Dirichlet data.
        """
        self._inputs(kappa, f, g)
        param = next(self.network.parameters())
        on_boundary = self.residual.dirichlet.to(param.dtype)[None].expand(kappa.shape[0], -1)
        x = torch.stack(
            [
                kappa.log().to(param.dtype),
                f.to(param.dtype),
                g.to(param.dtype) * on_boundary,
                on_boundary,
            ],
            dim=-1,
        )
        coords = self.coordinates.to(param.dtype)[None].expand(kappa.shape[0], -1, -1)
        out = self.network(torch.cat([coords, x], -1), self.edge_index, self.edge_attr)
        return out.to(torch.float64)

    def solve(self, B: Tensor, stiffness: Tensor, f: Tensor, g: Tensor) -> PIHCOutput:
        """The prediction and loss for given basis functions (the constraint step).

        Parameters
        ----------
        B : torch.Tensor
            ``(batch, n, N + particular)`` basis values on the dofs (channel 0 ``b_0``).
        stiffness : torch.Tensor
            ``(batch, nnz)`` stiffness values of each sample's ``kappa``.
        f, g : torch.Tensor
            ``(batch, n)`` source and Dirichlet data.

        Returns
        -------
        PIHCOutput
        """
        p = int(self.particular)
        if B.ndim != 3 or B.shape[1:] != (self.num_dofs, self.n_basis + p):
            raise ValueError(
                f"B must be (batch, {self.num_dofs}, {self.n_basis + p}), got {tuple(B.shape)}"
            )
        batch = B.shape[0]
        result: ConstraintResult | None = None
        if self.mode == "soft":
            weights = self.soft_weights.to(torch.float64).expand(batch, 1, self.n_basis)
        else:
            LB = self.residual.operator(stiffness, B)  # (batch, n, C), once per forward
            target = self.residual.target(stiffness, f, g)
            mask = self.row_mask.to(LB.dtype)
            rows = LB[:, self.row_index] * mask[None, :, :, None]  # (batch, K, m, C)
            offset = {"Lu": rows[..., 0]} if p else None
            result = self.constraint(
                {"Lu": rows[..., p:]}, target[:, self.row_index] * mask, offset=offset
            )
            weights = result.weights
        u = torch.einsum("bin,bin->bi", B[..., p:], weights[:, self.owner])
        if p:
            u = u + B[..., 0]
        loss = self.residual(u, stiffness, f, g).pow(2).mean(1)
        return PIHCOutput(u=u, loss=loss, weights=weights, constraint=result)

    def forward(self, kappa: Tensor, f: Tensor, g: Tensor, stiffness: Tensor) -> PIHCOutput:
        """Predict ``u`` on the dofs and its physics loss.

        Parameters
        ----------
        kappa, f, g : torch.Tensor
            ``(batch, n)`` dof values (``g`` read on the Dirichlet dofs).
        stiffness : torch.Tensor
            ``(batch, nnz)`` values of ``sciml.fem.stiffness(V, kappa)`` on the pattern of
            :attr:`residual` (as :func:`fe_diffusion_data` provides them).

        Returns
        -------
        PIHCOutput
        """
        return self.solve(self.basis(kappa, f, g), stiffness, f, g)


def _rows_residual(fields: Mapping[str, Tensor], target: Tensor) -> Tensor:
    """An expert's residual rows: ``D^-1 A u - D^-1 F`` (``fields["Lu"]`` is ``D^-1 A u``)."""
    return fields["Lu"] - target


@functools.lru_cache(maxsize=8)
def _space(mesh: str, level: int, degree: int) -> tuple[Any, npt.NDArray[np.int64]]:
    """The Lagrange space on ``meshes/<mesh>_<level>.msh`` and its boundary dofs.

    Cached: models and data sets on one geometry share the (immutable) space, so the mesh is
    read and its matrices assembled once per process.
    """
    from sciml.data.generators.fe_poisson import boundary_markers, mesh_path
    from sciml.fem import FunctionSpace
    from sciml.mesh import load

    msh = load(mesh_path(mesh, level))
    V = FunctionSpace(msh, "Lagrange", degree)
    markers = boundary_markers(msh)
    if not markers:
        raise ValueError(f"mesh {mesh!r} has no boundary markers for the Dirichlet condition")
    dofs = np.unique(np.concatenate([V.boundary_dofs(m) for m in markers])).astype(np.int64)
    return V, dofs


# ---------------------------------------------------------------------- training
def fe_diffusion_step(model: nn.Module, batch: Mapping[str, Tensor]) -> Tensor:
    """:class:`sciml.train.Trainer` step: the mean physics loss of a batch.

    Parameters
    ----------
    model : FEDiffusionPIHC
    batch : mapping
        ``"kappa"``, ``"f"``, ``"g"`` ``(batch, n)`` and ``"stiffness"`` ``(batch, nnz)``.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    out: PIHCOutput = model(batch["kappa"], batch["f"], batch["g"], batch["stiffness"])
    return out.loss.mean()


def fe_diffusion_metrics(model: nn.Module, batch: Mapping[str, Tensor]) -> dict[str, float]:
    """:class:`sciml.train.Trainer` metrics: physics loss, relative L2 error, solver failures.

    Parameters
    ----------
    model : FEDiffusionPIHC
    batch : mapping
        As for :func:`fe_diffusion_step`, plus the reference ``"u"`` ``(batch, n)``.

    Returns
    -------
    dict of str to float
        ``test_loss``; ``rel_l2``, the mean over samples of ``||u - u_ref|| / ||u_ref||`` in
        the finite-element L2 norm (:func:`sciml.fem.relative_l2_error`); ``failures``, the
        fraction of unconverged inner solves.
    """
    from sciml.fem import relative_l2_error

    if not isinstance(model, FEDiffusionPIHC):
        raise TypeError(f"expected an FEDiffusionPIHC, got {type(model)!r}")
    out = model(batch["kappa"], batch["f"], batch["g"], batch["stiffness"])
    err = relative_l2_error(model.space, out.u.detach(), batch["u"].to(torch.float64))
    failures = 0.0
    if out.constraint is not None:
        failures = float((~out.constraint.converged).float().mean())
    return {
        "test_loss": float(out.loss.detach().mean()),
        "rel_l2": float(err.mean()),
        "failures": failures,
    }


class FEDiffusionData(torch.utils.data.Dataset[dict[str, Tensor]]):
    """Samples of :func:`fe_diffusion_data`: items ``kappa, f, g, stiffness, u`` (float64).

    Attributes
    ----------
    space : sciml.fem.FunctionSpace
        The Lagrange space of the dof vectors.
    dirichlet_dofs : numpy.ndarray
        The constrained dofs.
    attrs : dict
        The generation parameters.
    """

    def __init__(
        self,
        fields: dict[str, Tensor],
        space: Any,
        dirichlet_dofs: npt.NDArray[np.int64],
        attrs: dict[str, Any],
    ) -> None:
        self.fields, self.space, self.dirichlet_dofs, self.attrs = (
            fields,
            space,
            dirichlet_dofs,
            attrs,
        )

    def __len__(self) -> int:
        return int(self.fields["u"].shape[0])

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {k: v[i] for k, v in self.fields.items()}


def fe_diffusion_data(
    n_samples: int,
    *,
    mesh: str = "l_shape",
    level: int = 0,
    degree: int = 1,
    seed: int = 0,
    kappa_sigma: float = 2.5,
    f_sigma: float = 7.0,
    g_sigma: float = 7.0,
    f_mean: float = 0.0,
    tau: float = 3.0,
    gamma: float = 2.0,
    modes: int = 64,
) -> FEDiffusionData:
    """Random diffusion problems on a ``meshes/`` geometry and their FE solutions.

    ``kappa = exp(xi_kappa)``, ``f = f_mean + xi_f`` and ``g`` the boundary values of ``xi_g``
    for independent Karhunen-Loeve fields (:func:`~sciml.data.generators.fe_poisson.kl_basis`,
    the fields of :func:`~sciml.data.generators.generate_poisson_meshes`); Dirichlet
    conditions on every boundary marker. The stiffness matrix of each ``kappa`` is assembled
    with :func:`sciml.fem.stiffness`, the load is ``M f``, and the reference is a direct sparse
    solve (SuperLU) of the condensed system, so it satisfies :class:`DiffusionResidual` to
    rounding.

    Parameters
    ----------
    n_samples : int
    mesh, level, degree : str, int, int
        As :class:`FEDiffusionPIHC`.
    seed : int, default 0
    kappa_sigma, f_sigma, g_sigma, f_mean, tau, gamma, modes
        As :func:`~sciml.data.generators.generate_poisson_meshes` (0 turns a field off).

    Returns
    -------
    FEDiffusionData
        Items ``kappa``, ``f``, ``g`` (zero off the Dirichlet dofs), ``u`` ``(n,)`` and
        ``stiffness`` ``(nnz,)``.
    """
    import scipy.sparse.linalg as spla

    from sciml.data.generators.fe_poisson import kl_basis, kl_sample
    from sciml.fem import DirichletBC, condense, expand, mass, stiffness

    if n_samples < 1 or seed < 0:
        raise ValueError(f"need n_samples >= 1 and seed >= 0, got {n_samples}, {seed}")
    for name, value in (("kappa_sigma", kappa_sigma), ("f_sigma", f_sigma), ("g_sigma", g_sigma)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    V, dofs = _space(mesh, level, degree)
    amplitude, phi = kl_basis(V, modes=modes, tau=tau, gamma=gamma)
    rng = np.random.default_rng(seed)

    def field(sigma: float) -> Tensor:  # kappa, f, g from one stream, in this order
        return kl_sample(amplitude, phi, n_samples, sigma, rng)

    kappa = torch.exp(field(kappa_sigma))
    f = f_mean + field(f_sigma)
    g = torch.zeros_like(f)
    g[:, dofs] = field(g_sigma)[:, dofs]
    M = mass(V)
    pattern = stiffness(V)
    loads = (M @ f.T).T
    values, u = [], torch.empty_like(f)
    for k in range(n_samples):
        A = stiffness(V, kappa[k])
        if not (
            torch.equal(A.crow_indices, pattern.crow_indices)
            and torch.equal(A.col_indices, pattern.col_indices)
        ):
            raise RuntimeError("the stiffness matrices do not share one sparsity pattern")
        bc = DirichletBC(dofs=dofs, values=g[k, dofs])
        A_ff, b_f, free = condense(A, loads[k], bc)
        x = spla.splu(A_ff.to_scipy().tocsc()).solve(b_f.numpy())
        u[k] = expand(torch.from_numpy(x), free, bc)
        values.append(A.values.to(torch.float64))
    attrs = {
        "mesh": mesh,
        "level": level,
        "degree": degree,
        "seed": seed,
        "kappa_sigma": kappa_sigma,
        "f_sigma": f_sigma,
        "g_sigma": g_sigma,
        "f_mean": f_mean,
        "tau": tau,
        "gamma": gamma,
        "modes": int(amplitude.size),
        "ndofs": V.num_dofs,
        "solver": "condensed Dirichlet dofs, SuperLU",
    }
    fields = {"kappa": kappa, "f": f, "g": g, "stiffness": torch.stack(values), "u": u}
    return FEDiffusionData(fields, V, dofs, attrs)
