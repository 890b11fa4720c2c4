"""Physics-only training on 1-D diffusion-sorption: soft constraint, hard constraint, MoE.

The model of Chalapathi et al. (ICLR 2024) for the PDEBench diffusion-sorption problem: an
:class:`~sciml.nn.FNO` maps the initial condition (broadcast over time) to ``N`` basis
functions on the space-time grid; the prediction is ``u = sum_i w_i b_i`` with

* ``mode="soft"``: ``w`` a trained parameter (the same network trained with the PDE residual as
  its loss: the physics-informed soft-constraint baseline);
* ``mode="hard"``: ``w`` solved per sample from the PDE residual at random points
  (:class:`~sciml.constraints.HardConstraintMoE`); ``experts=1`` is one global constraint,
  ``experts=K`` splits ``x`` into ``K`` equal subdomains, each with its own weights.

Training is physics-only in every mode: the loss is the mean-squared residual of the PDE and of
the boundary and initial conditions of the prediction on the whole grid
(:func:`diffusion_sorption_residual` with ``mean=True``); the reference solutions of
:func:`~sciml.data.generators.diffusion_sorption.generate_diffusion_sorption` only measure the
error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml.constraints.grid import finite_difference, sample_grid
from sciml.constraints.hard import ConstraintResult
from sciml.constraints.moe import HardConstraintMoE, sample_in_subdomains, uniform_subdomains
from sciml.constraints.problems import diffusion_sorption_residual
from sciml.constraints.training import PIHCOutput, TrajectoryDataset, physics_metrics, physics_step
from sciml.data.generators.diffusion_sorption import generate_diffusion_sorption
from sciml.nn import FNO

__all__ = ["SorptionOutput", "SorptionPIHC", "sorption_data", "sorption_metrics", "sorption_step"]

MODES = ("soft", "hard")
INITIAL = ("split", "replicated")


#: the output of :class:`SorptionPIHC` (``u`` is ``(batch, nx, nt)``)
SorptionOutput = PIHCOutput
#: :class:`sciml.train.Trainer` step and metrics of :class:`SorptionPIHC`
sorption_step = physics_step
sorption_metrics = physics_metrics


class SorptionPIHC(nn.Module):
    """FNO basis functions with a soft, hard or mixture-of-experts hard constraint.

    Parameters
    ----------
    mode : {"soft", "hard"}, default "hard"
    experts : int, default 4
        Subdomains along ``x`` for ``mode="hard"`` (``1``: a single global constraint); must
        divide ``nx - 1``. Must be 1 for ``mode="soft"``.
    n_basis : int, default 16
        Basis functions ``N`` (the paper's 16).
    points : int or None, default 20000
        Residual points of the constraint per sample, split evenly over the experts and drawn
        uniformly at random in every training forward pass; in evaluation mode (and with
        ``None``) the constraint uses the grid nodes of each subdomain instead, so inference
        is deterministic.
    nx, nt : int, default 129, 101
        Space-time grid of the basis functions.
    T : float, default 500
        Final time.
    initial : {"split", "replicated"}, default "split"
        Each expert fits the initial condition on its own ``x`` range, or on the whole line.
    boundary_weight : float, default 1
        Weight of the boundary and initial rows (in the constraint and in the loss).
    ridge, tol, max_steps, on_failure
        Of the inner Levenberg-Marquardt solve (:class:`~sciml.constraints.HardConstraint`).
    width, layers, fno_modes, padding_fraction
        Of the :class:`~sciml.nn.FNO` that produces the basis (input: ``u0`` broadcast over
        time, plus the coordinates).
    pde : dict, optional
        ``D``, ``porosity``, ``rho_s``, ``k_f``, ``n_f``, ``eps`` (PDEBench values by default).
    split : {"t", "x"}, default "t"
        Split the experts in time (every expert has both boundary conditions on its time
        range and starts from ``b_0`` on its first line; expert 0 from the initial data) or
        along ``x`` (the paper's split; an expert's interfaces then take ``b_0``'s value and
        slope). See the constraints guide for the measurements behind the default.
    expert_parallel : bool, default False
        Split the experts over the ``torch.distributed`` processes
        (:class:`~sciml.constraints.HardConstraintMoE`); every process must see the same batch.
    coupling : {"parallel", "sequential"}, default "parallel"
        How experts split in time start: ``"parallel"`` from the particular solution ``b_0``
        on their first line (all experts solved together, as one batch or on separate
        processes); ``"sequential"`` from the constrained prediction of the previous expert
        on that line (time windows solved one after another, each on its own residual
        points; each window's initial rows fit its predecessor's last line in the
        least-squares sense, and the experts cannot run in parallel).
    particular : bool, default True
        The network returns one more function ``b_0`` and ``u = b_0 + sum_i w_i b_i`` (the
        ``offset`` of :class:`~sciml.constraints.HardConstraint`). Without it, an expert whose
        subdomain touches neither boundary sees only the PDE and its piece of the initial
        line, which many functions satisfy (e.g. ``u`` constant in time where ``u0`` is
        nearly linear); the ridge term then picks the smallest weights. With it, the weights
        correct a prediction that the loss trains across the subdomain interfaces, and the
        undetermined directions stay at that prediction.

    Examples
    --------
    >>> model = SorptionPIHC(
    ...     experts=2, nx=33, nt=17, points=400, width=8, layers=1, fno_modes=(4, 4), n_basis=4
    ... )
    >>> out = model(torch.full((3, 33), 0.1))
    >>> out.u.shape, out.weights.shape, out.loss.shape
    (torch.Size([3, 33, 17]), torch.Size([3, 2, 4]), torch.Size([3]))
    """

    expert_nodes: Tensor
    time_nodes: Tensor
    owner: Tensor
    owner_t: Tensor
    boundary_mask: Tensor

    def __init__(
        self,
        *,
        mode: str = "hard",
        experts: int = 4,
        n_basis: int = 16,
        points: int | None = 20000,
        nx: int = 129,
        nt: int = 101,
        T: float = 500.0,
        initial: str = "split",
        boundary_weight: float = 10.0,
        ridge: float = 1e-4,
        tol: float = 1e-4,
        max_steps: int = 100,
        on_failure: str = "warn",
        width: int = 32,
        layers: int = 4,
        fno_modes: tuple[int, int] = (16, 16),
        padding_fraction: float = 0.1,
        pde: Mapping[str, float] | None = None,
        particular: bool = True,
        split: str = "t",
        expert_parallel: bool = False,
        coupling: str = "parallel",
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if initial not in INITIAL:
            raise ValueError(f"initial must be one of {INITIAL}, got {initial!r}")
        if split not in ("x", "t"):
            raise ValueError(f"split must be 'x' or 't', got {split!r}")
        n_split = nx if split == "x" else nt
        if experts < 1 or (n_split - 1) % experts:
            raise ValueError(
                f"experts ({experts}) must be >= 1 and divide n{split} - 1 ({n_split - 1})"
            )
        if coupling not in ("parallel", "sequential"):
            raise ValueError(f"coupling must be 'parallel' or 'sequential', got {coupling!r}")
        if coupling == "sequential" and (split != "t" or expert_parallel):
            raise ValueError("coupling='sequential' needs split='t' and expert_parallel=False")
        if split == "t" and experts > 1 and not particular:
            raise ValueError("a split in time needs particular=True (the experts' start lines)")
        if mode == "soft" and experts != 1:
            raise ValueError("the soft constraint has no experts: use experts=1")
        if nx < 4 or nt < 4 or n_basis < 1:
            raise ValueError(f"need nx, nt >= 4 and n_basis >= 1, got {nx}, {nt}, {n_basis}")
        if points is not None and points < experts:
            raise ValueError(f"points ({points}) must be at least experts ({experts})")
        self.init_args: dict[str, Any] = {
            "mode": mode,
            "experts": experts,
            "n_basis": n_basis,
            "points": points,
            "nx": nx,
            "nt": nt,
            "T": T,
            "initial": initial,
            "boundary_weight": boundary_weight,
            "ridge": ridge,
            "tol": tol,
            "max_steps": max_steps,
            "on_failure": on_failure,
            "width": width,
            "layers": layers,
            "fno_modes": tuple(fno_modes),
            "padding_fraction": padding_fraction,
            "pde": dict(pde or {}),
            "particular": particular,
            "split": split,
            "expert_parallel": expert_parallel,
            "coupling": coupling,
        }
        self.coupling = coupling
        self.split = split
        self.particular = bool(particular)
        self.mode, self.experts, self.n_basis = mode, int(experts), int(n_basis)
        self.points = points
        self.nx, self.nt, self.T = int(nx), int(nt), float(T)
        self.initial = initial
        self.boundary_weight = float(boundary_weight)
        self.pde: dict[str, Any] = dict(pde or {})
        self.network = FNO(
            1,
            n_basis + int(self.particular),
            modes=tuple(fno_modes),
            width=width,
            layers=layers,
            padding_fraction=padding_fraction,
        )
        if mode == "soft":
            self.soft_weights = nn.Parameter(torch.full((n_basis,), 1.0 / n_basis))
        self.constraint = HardConstraintMoE(
            self._residual,
            experts,
            ridge=ridge,
            tol=tol,
            max_steps=max_steps,
            on_failure=on_failure,
            expert_parallel=expert_parallel,
        )
        K = self.experts
        mt = (self.nt - 1) // K if split == "t" else 0
        # split in time: expert k owns the time nodes k mt + 1 ... (k + 1) mt and starts from
        # the line k mt (the initial line for k = 0, the particular solution b_0 otherwise)
        tnodes = torch.arange(K)[:, None] * mt + torch.arange(1, mt + 1)[None]
        self.register_buffer("time_nodes", tnodes, persistent=False)
        owner_t = torch.clamp((torch.arange(self.nt) - 1).clamp(min=0) // max(mt, 1), max=K - 1)
        self.register_buffer("owner_t", owner_t, persistent=False)
        m = (self.nx - 1) // K if split == "x" else self.nx - 1
        splits = (K, 1) if split == "x" else (1, K)
        self.boxes = uniform_subdomains((0.0, 0.0), (1.0, 1.0), splits)
        # grid nodes of each expert along x (neighbours share their interface node)
        Kx = K if split == "x" else 1
        nodes = torch.arange(Kx)[:, None] * m + torch.arange(m + 1)[None]
        self.register_buffer("expert_nodes", nodes, persistent=False)
        owner = torch.clamp(torch.arange(self.nx) // m, max=Kx - 1)
        self.register_buffer("owner", owner, persistent=False)
        mask = torch.zeros(K, 2, dtype=torch.float64)
        mask[0, 0] = mask[-1, 1] = 1.0
        if split == "t":
            mask[:] = 1.0  # every expert has both boundaries on its time range
        self.register_buffer("boundary_mask", mask, persistent=False)

    # ------------------------------------------------------------------ pieces
    def _residual(self, fields: Mapping[str, Tensor], u0: Tensor, mask: Tensor) -> Tensor:
        rows = diffusion_sorption_residual(
            fields,
            u0,
            boundary_weight=self.boundary_weight,
            interior_weight=self.T,
            boundary_mask=mask[:, :2],
            mean=True,
            **self.pde,
        )
        if "c_left" not in fields:
            return rows
        # interfaces: the correction B w and its slope vanish, so the expert matches b_0
        # there in value and flux (its neighbour does too: the pieces join C1)
        interfaces = [
            self.boundary_weight
            * mask[:, 2 + i % 2, None]
            * fields[name]
            / fields[name].shape[1] ** 0.5
            for i, name in enumerate(("c_left", "c_right", "cx_left", "cx_right"))
        ]
        return torch.cat([rows, *interfaces], 1)

    def basis(self, u0: Tensor) -> dict[str, Tensor]:
        """Basis functions and their derivatives on the grid, float64.

        With ``particular=True`` channel 0 is the particular solution ``b_0``.

        Parameters
        ----------
        u0 : torch.Tensor
            ``(batch, nx)`` initial data at the grid nodes.

        Returns
        -------
        dict of str to torch.Tensor
            ``"u"``, ``"u_t"``, ``"u_x"``, ``"u_xx"``: ``(batch, N (+ 1), nx, nt)`` each.
        """
        if u0.ndim != 2 or u0.shape[1] != self.nx:
            raise ValueError(f"u0 must be (batch, nx={self.nx}), got {tuple(u0.shape)}")
        if not bool(torch.isfinite(u0).all()):
            raise ValueError("u0 contains NaN/Inf")
        param = next(self.network.parameters())
        x = u0.to(param.dtype)[:, None, :, None].expand(-1, 1, self.nx, self.nt)
        return self._derivatives(self.network(x).to(torch.float64))

    def _derivatives(self, f: Tensor) -> dict[str, Tensor]:
        """``u``, ``u_t`` (BDF2 in time), ``u_x``, ``u_xx`` of ``(..., nx, nt)`` grid values."""
        dx, dtau = 1.0 / (self.nx - 1), 1.0 / (self.nt - 1)
        return {
            "u": f,
            "u_t": finite_difference(f, -1, dtau, scheme="backward") / self.T,
            "u_x": finite_difference(f, -2, dx),
            "u_xx": finite_difference(f, -2, dx, order=2),
        }

    def _constraint_fields(
        self, grid: Mapping[str, Tensor], u0: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """Fields ``(batch, K, points, channels)`` at each expert's points, targets, masks.

        The masks are ``(batch, K, 4)``: left and right boundary, left and right interface.
        """
        B = grid["u"]
        batch, C = B.shape[:2]  # C counts every channel here
        K = self.experts
        stacked = torch.cat([grid["u"], grid["u_t"], grid["u_xx"]], 1)
        if self.training and self.points is not None:
            pts = sample_in_subdomains(self.boxes, self.points // K).to(B.device)
            values = sample_grid(stacked, pts.reshape(-1, 2))  # (batch, K P, 3C)
        elif self.split == "t":  # the grid nodes of every expert's time range
            values = stacked[:, :, :, self.time_nodes].permute(0, 3, 2, 4, 1)
        else:  # the grid nodes of every expert's x range, t > 0
            values = stacked[:, :, self.expert_nodes, 1:].permute(0, 2, 3, 4, 1)
        u, u_t, u_xx = values.reshape(batch, K, -1, 3 * C).split(C, dim=-1)

        if self.split == "t":
            tn = self.time_nodes

            def edge(field: Tensor, i: int) -> Tensor:  # (batch, K, mt, C)
                return field[:, :, i, tn].permute(0, 2, 3, 1)

            starts = tn[:, 0] - 1
            init = B[:, :, :, starts].permute(0, 3, 2, 1)  # (batch, K, nx, C)
            # expert 0 starts from u0; expert k > 0 from b_0 on its start line (correction 0)
            u0_init = B[:, 0, :, starts].permute(0, 2, 1).clone()
            u0_init[:, 0] = u0
            interfaces = torch.zeros_like(self.boundary_mask)
        else:

            def edge(field: Tensor, i: int) -> Tensor:  # (batch, K, nt - 1, C), t > 0
                return field[:, :, i, 1:].transpose(1, 2)[:, None].expand(batch, K, -1, C)

            if self.initial == "split":
                init = B[:, :, self.expert_nodes, 0].permute(0, 2, 3, 1)  # (batch, K, m + 1, C)
                u0_init = u0[:, self.expert_nodes]
            else:
                init = B[:, :, :, 0].transpose(1, 2)[:, None].expand(batch, K, -1, C)
                u0_init = u0[:, None].expand(batch, K, -1)
            interfaces = 1 - self.boundary_mask
        fields = {
            "u": u,
            "u_t": u_t,
            "u_xx": u_xx,
            "u_left": edge(B, 0),
            "u_right": edge(B, -1),
            "u_x_right": edge(grid["u_x"], -1),
            "u_init": init,
        }
        if self.split == "x" and self.particular:  # each expert's interface lines, t > 0
            ends = self.expert_nodes[:, [0, -1]]  # (K, 2)
            trace = B[:, :, ends, 1:].permute(0, 2, 3, 4, 1)  # (batch, K, 2, nt - 1, C)
            fields["c_left"], fields["c_right"] = trace[:, :, 0], trace[:, :, 1]
            slope = grid["u_x"][:, :, ends, 1:].permute(0, 2, 3, 4, 1) / K  # per expert width
            fields["cx_left"], fields["cx_right"] = slope[:, :, 0], slope[:, :, 1]
        mask = torch.cat([self.boundary_mask, interfaces], 1)
        return fields, u0_init.to(torch.float64), mask.to(B.device)[None].expand(batch, K, 4)

    def forward(self, u0: Tensor) -> PIHCOutput:
        """Predict ``u`` on the grid and its physics loss.

        Parameters
        ----------
        u0 : torch.Tensor
            ``(batch, nx)`` initial data at the grid nodes.

        Returns
        -------
        PIHCOutput
        """
        grid = self.basis(u0)
        batch = u0.shape[0]
        u0 = u0.to(torch.float64)
        result: ConstraintResult | None = None
        p = int(self.particular)
        if self.mode == "soft":
            weights = self.soft_weights.to(torch.float64).expand(batch, 1, self.n_basis)
        else:
            fields, u0_init, mask = self._constraint_fields(grid, u0)
            basis = {k: v[..., p:] for k, v in fields.items()}
            offset = (
                {k: v[..., 0] for k, v in fields.items() if not k.startswith("c")} if p else None
            )
            if self.coupling == "sequential" and self.experts > 1:
                result = self._solve_in_sequence(grid, basis, u0_init, mask, offset)
            else:
                result = self.constraint(basis, u0_init, mask, offset=offset)
            weights = result.weights
        if self.split == "t":
            u = torch.einsum("bnxt,btn->bxt", grid["u"][:, p:], weights[:, self.owner_t])
        else:
            u = torch.einsum("bnxt,bxn->bxt", grid["u"][:, p:], weights[:, self.owner])
        if p:
            u = u + grid["u"][:, 0]
        # the loss differentiates the assembled prediction, so that it sees the interfaces
        # between experts (each expert's own fields are smooth across them)
        loss = self.physics_residual(u, u0).pow(2).sum(1)
        return PIHCOutput(u=u, loss=loss, weights=weights, constraint=result)

    def _solve_in_sequence(
        self,
        grid: Mapping[str, Tensor],
        basis: Mapping[str, Tensor],
        u0_init: Tensor,
        mask: Tensor,
        offset: Mapping[str, Tensor] | None,
    ) -> ConstraintResult:
        """Time windows one after another, each starting from its predecessor's prediction.

        Expert ``k > 0`` fits its initial rows to ``b_0 + B w_{k-1}`` on its start line (the
        last line of expert ``k - 1``), so the gradient flows through the chain of solves.
        """
        p = int(self.particular)
        solve = self.constraint.constraint  # one HardConstraint call per window
        parts: list[ConstraintResult] = []
        start = u0_init[:, 0]
        for k in range(self.experts):
            if k:
                line = int(self.time_nodes[k, 0]) - 1
                start = torch.einsum("bnx,bn->bx", grid["u"][:, p:, :, line], parts[-1].weights)
                if p:
                    start = start + grid["u"][:, 0, :, line]
            parts.append(
                solve(
                    {name: B[:, k] for name, B in basis.items()},
                    start,
                    mask[:, k],
                    offset={name: v[:, k] for name, v in (offset or {}).items()},
                )
            )
        return ConstraintResult(
            weights=torch.stack([r.weights for r in parts], 1),
            fields={
                name: torch.stack([r.fields[name] for r in parts], 1) for name in parts[0].fields
            },
            residual_norm=torch.stack([r.residual_norm for r in parts], 1),
            converged=torch.stack([r.converged for r in parts], 1),
            steps=torch.stack([r.steps for r in parts], 1),
        )

    def physics_residual(self, u: Tensor, u0: Tensor) -> Tensor:
        """Residual rows of the physics loss of grid values (the loss is their sum of squares).

        The PDE at the interior nodes with ``t > 0`` (BDF2 in time, central in ``x``), both
        boundary conditions at ``t > 0`` and the initial condition: ``nx * nt`` rows, as many
        as grid values, weighted as in the constraint (``T`` on the PDE, ``boundary_weight``
        on the conditions, each group divided by the square root of its size).

        Parameters
        ----------
        u : torch.Tensor
            ``(batch, nx, nt)`` values at the grid nodes.
        u0 : torch.Tensor
            ``(batch, nx)`` initial data.

        Returns
        -------
        torch.Tensor
            ``(batch, nx * nt)``: interior rows, then left, right and initial rows.
        """
        if u.ndim != 3 or u.shape[1:] != (self.nx, self.nt):
            raise ValueError(f"u must be (batch, {self.nx}, {self.nt}), got {tuple(u.shape)}")
        if u0.shape != u.shape[:2]:
            raise ValueError(f"u0 must be {tuple(u.shape[:2])}, got {tuple(u0.shape)}")
        return diffusion_sorption_residual(
            self._loss_fields(self._derivatives(u), slice(1, None)),
            u0.to(u.dtype),
            boundary_weight=self.boundary_weight,
            interior_weight=self.T,
            mean=True,
            **self.pde,
        )

    @staticmethod
    def _loss_fields(full: Mapping[str, Tensor], columns: slice) -> dict[str, Tensor]:
        """The :data:`DIFFUSION_SORPTION_FIELDS` of the loss at the time ``columns`` of a grid.

        ``full`` holds ``(..., nx, nt)`` grid derivatives; the PDE rows are the interior nodes
        and the boundary rows the end nodes of those columns; the initial rows are column 0.
        """
        return {
            "u": full["u"][..., 1:-1, columns].flatten(-2),
            "u_t": full["u_t"][..., 1:-1, columns].flatten(-2),
            "u_xx": full["u_xx"][..., 1:-1, columns].flatten(-2),
            "u_left": full["u"][..., 0, columns],
            "u_right": full["u"][..., -1, columns],
            "u_x_right": full["u_x"][..., -1, columns],
            "u_init": full["u"][..., :, 0],
        }

    @torch.no_grad()
    def discrete_solution(self, u0: Tensor, *, tol: float = 1e-12, max_steps: int = 50) -> Tensor:
        """The grid values whose physics loss is zero: the floor of any physics-only model.

        :meth:`physics_residual` is a square system (an implicit BDF2 time-stepping scheme):
        it is solved column by column in time with Newton's method. What a model trained on
        the physics loss alone can at best predict is this solution, so its distance to a
        reference solution is the discretisation error that no network removes.

        Parameters
        ----------
        u0 : torch.Tensor
            ``(batch, nx)`` initial data.
        tol : float, default 1e-12
            Newton stops when no value changes by more than ``tol``.
        max_steps : int, default 50
            Newton steps per time level.

        Returns
        -------
        torch.Tensor
            ``(batch, nx, nt)`` float64.

        Raises
        ------
        RuntimeError
            If Newton does not reach ``tol`` at some time level.
        """
        if u0.ndim != 2 or u0.shape[1] != self.nx:
            raise ValueError(f"u0 must be (batch, nx={self.nx}), got {tuple(u0.shape)}")
        u0 = u0.to(torch.float64)
        nx = self.nx
        columns = [u0]

        def rows(v: Tensor, previous: Tensor) -> Tensor:  # one sample, the newest time level
            # (nx, 3): two levels back for BDF2; at the first level (implicit Euler) the
            # new level is repeated to make three columns and the middle one is read
            first = previous.shape[1] == 1
            window = torch.cat([previous, *[v[:, None]] * (1 + int(first))], 1)
            new = 1 if first else 2
            fields = self._loss_fields(self._derivatives(window), slice(new, new + 1))
            # the initial rows are not rows of this time level: fitted to themselves (zero)
            r = diffusion_sorption_residual(
                {k: f[None] for k, f in fields.items()}, fields["u_init"][None], **self.pde
            )
            return r[0, :nx]  # interior, left, right

        jacobian = torch.func.vmap(torch.func.jacfwd(rows))
        residual = torch.func.vmap(rows)
        for j in range(1, self.nt):
            previous = torch.stack(columns[max(0, j - 2) :], -1)  # (batch, nx, 1 or 2)
            v = columns[-1].clone()
            for _ in range(max_steps):
                dv = torch.linalg.solve(jacobian(v, previous), residual(v, previous))
                v = v - dv
                if float(dv.abs().max()) <= tol:
                    break
            else:
                raise RuntimeError(
                    f"Newton did not reach {tol:g} at time level {j} in {max_steps} steps"
                )
            columns.append(v)
        return torch.stack(columns, -1)


def sorption_data(
    n_samples: int,
    *,
    nx: int = 129,
    nt: int = 101,
    T: float = 500.0,
    seed: int = 0,
    cells: int = 512,
    progress: bool = False,
    **options: Any,
) -> torch.utils.data.Dataset[dict[str, Tensor]]:
    """Initial conditions and reference solutions on the grid of :class:`SorptionPIHC`.

    The reference comes from :func:`generate_diffusion_sorption` on ``cells`` finite-volume
    cells (GRF initial data), interpolated linearly in ``x`` to the nodes ``i / (nx - 1)``
    (the end nodes take the boundary values: ``1`` at ``x = 0`` for ``t > 0`` and the
    reconstructed face value at ``x = 1``).

    Parameters
    ----------
    n_samples : int
    nx, nt, T : int, int, float
        The model grid.
    seed : int, default 0
    cells : int, default 512
        Resolution of the reference solver.
    progress : bool, default False
    **options
        Further options of :func:`generate_diffusion_sorption` (``D``, ``u_max``, ...).

    Returns
    -------
    torch.utils.data.Dataset
        Items ``{"u0": (nx,), "u": (nx, nt)}``, float64.
    """
    data = generate_diffusion_sorption(
        n_samples, nx=cells, nt=nt, T=T, seed=seed, progress=progress, **options
    )
    xc = data.coords["x"].numpy()
    u = data.outputs["u"].numpy()  # (n, nt, cells)
    D = float(data.attrs["D"])
    h = 1.0 / cells
    right = 2 * D * u[:, :, -1] / (h + 2 * D)  # the solver's face value at x = 1
    left = np.ones_like(u[:, :, 0])
    left[:, 0] = u[:, 0, 0]  # the initial data, before the boundary acts
    xs = np.concatenate([[0.0], xc, [1.0]])
    us = np.concatenate([left[..., None], u, right[..., None]], axis=2)
    nodes = np.linspace(0.0, 1.0, nx)
    idx = np.clip(np.searchsorted(xs, nodes, side="right") - 1, 0, xs.size - 2)
    frac = (nodes - xs[idx]) / (xs[idx + 1] - xs[idx])
    on_nodes = us[:, :, idx] * (1 - frac) + us[:, :, idx + 1] * frac  # (n, nt, nx)
    ref = torch.from_numpy(np.ascontiguousarray(on_nodes.transpose(0, 2, 1)))
    u0 = ref[:, :, 0].clone()
    return TrajectoryDataset(u0, ref)
