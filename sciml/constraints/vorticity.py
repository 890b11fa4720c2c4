"""Physics-only training on 2-D periodic Navier-Stokes (vorticity): soft, hard, MoE.

The second problem of Chalapathi et al. (ICLR 2024): an :class:`~sciml.nn.FNO` maps the initial
vorticity ``w0`` on the periodic unit square (broadcast over time) to ``N`` basis functions on
the space-time grid, and the prediction is

    ``w(x, y, t) = w0(x, y) + sum_i c_i (t / T) b_i(x, y, t)``,

so the initial condition holds exactly whatever the weights ("built into the output", as in the
paper). Space derivatives are spectral (the stream function from ``-Laplace psi = w`` by FFT),
time derivatives BDF2 on the grid. The weights are

* ``mode="soft"``: a trained parameter (the physics-informed soft-constraint baseline, the same
  network);
* ``mode="hard"``: solved per sample from :func:`vorticity_residual` at random points
  (:class:`~sciml.constraints.HardConstraintMoE`); ``splits=(1, 1)`` is one global constraint,
  ``splits=(2, 2)`` the paper's four experts on the quadrants of the square.

Training is physics-only: the loss is the mean-squared residual of the assembled prediction on
every grid node with ``t > 0``; the references of
:func:`~sciml.data.generate_navier_stokes_2d` only measure the error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from sciml.constraints.grid import finite_difference, sample_grid
from sciml.constraints.hard import ConstraintResult
from sciml.constraints.moe import HardConstraintMoE, sample_in_subdomains, uniform_subdomains
from sciml.constraints.problems import VORTICITY_FIELDS, vorticity_residual
from sciml.constraints.training import PIHCOutput, TrajectoryDataset
from sciml.data.generators.navier_stokes import generate_navier_stokes_2d
from sciml.nn import FNO

__all__ = ["VorticityPIHC", "vorticity_data"]


class VorticityPIHC(nn.Module):
    """FNO basis functions with a soft, hard or mixture-of-experts hard constraint (vorticity).

    Parameters
    ----------
    mode : {"soft", "hard"}, default "hard"
    splits : tuple of int, default (2, 2)
        Experts along ``x`` and ``y`` for ``mode="hard"`` (``(1, 1)``: one global constraint);
        each must divide ``n``. Must be ``(1, 1)`` for ``mode="soft"``.
    n_basis : int, default 64
        Basis functions ``N`` (the paper's 64 for Navier-Stokes).
    points : int or None, default 20000
        Residual points of the constraint per sample, split evenly over the experts and drawn
        uniformly at random (in ``x``, ``y`` and ``t >= T / (nt - 1)``) in every training
        forward pass; in evaluation mode (and with ``None``) the grid nodes of each expert's
        quadrant at ``t > 0`` instead.
    n : int, default 64
        Grid points per side of the periodic square (even).
    nt : int, default 21
        Time nodes ``t_j = T j / (nt - 1)``.
    T : float, default 0.1
        Final time.
    nu : float, default 1e-4
        Viscosity (``Re = 1 / nu = 1e4``, the paper's).
    ridge, tol, max_steps, on_failure
        Of the inner Levenberg-Marquardt solve (:class:`~sciml.constraints.HardConstraint`).
    width, layers, fno_modes
        Of the :class:`~sciml.nn.FNO` (3-D: ``t``, ``x``, ``y``; inputs ``w0 / rms(w0)``,
        ``sin``/``cos`` of ``2 pi x`` and ``2 pi y`` (periodic coordinates) and ``t / T``).
    expert_parallel : bool, default False
        Split the experts over the ``torch.distributed`` processes.

    Examples
    --------
    >>> model = VorticityPIHC(
    ...     splits=(2, 2),
    ...     n=16,
    ...     nt=5,
    ...     points=800,
    ...     n_basis=4,
    ...     width=4,
    ...     layers=1,
    ...     fno_modes=(2, 4, 4),
    ... )
    >>> out = model(torch.randn(2, 16, 16, dtype=torch.float64))
    >>> out.u.shape, out.weights.shape, out.loss.shape
    (torch.Size([2, 5, 16, 16]), torch.Size([2, 4, 4]), torch.Size([2]))
    """

    owner: Tensor
    expert_x: Tensor
    expert_y: Tensor

    def __init__(
        self,
        *,
        mode: str = "hard",
        splits: tuple[int, int] = (2, 2),
        n_basis: int = 64,
        points: int | None = 20000,
        n: int = 64,
        nt: int = 21,
        T: float = 0.1,
        nu: float = 1e-4,
        ridge: float = 1e-4,
        tol: float = 1e-4,
        max_steps: int = 100,
        on_failure: str = "warn",
        width: int = 16,
        layers: int = 3,
        fno_modes: tuple[int, int, int] = (6, 12, 12),
        expert_parallel: bool = False,
    ) -> None:
        super().__init__()
        if mode not in ("soft", "hard"):
            raise ValueError(f"mode must be 'soft' or 'hard', got {mode!r}")
        sx, sy = (int(s) for s in splits)
        if n < 8 or n % 2 or nt < 4 or n_basis < 1 or T <= 0 or nu < 0:
            raise ValueError(
                f"need even n >= 8, nt >= 4, n_basis >= 1, T > 0, nu >= 0; got n={n}, nt={nt}, "
                f"n_basis={n_basis}, T={T}, nu={nu}"
            )
        if sx < 1 or sy < 1 or n % sx or n % sy:
            raise ValueError(f"splits {tuple(splits)} must be >= 1 and divide n={n}")
        if mode == "soft" and (sx, sy) != (1, 1):
            raise ValueError("the soft constraint has no experts: use splits=(1, 1)")
        K = sx * sy
        if points is not None and points < K:
            raise ValueError(f"points ({points}) must be at least the experts ({K})")
        self.init_args: dict[str, Any] = {
            "mode": mode,
            "splits": (sx, sy),
            "n_basis": n_basis,
            "points": points,
            "n": n,
            "nt": nt,
            "T": T,
            "nu": nu,
            "ridge": ridge,
            "tol": tol,
            "max_steps": max_steps,
            "on_failure": on_failure,
            "width": width,
            "layers": layers,
            "fno_modes": tuple(fno_modes),
            "expert_parallel": expert_parallel,
        }
        self.mode, self.splits, self.experts = mode, (sx, sy), K
        self.n_basis, self.points = int(n_basis), points
        self.n, self.nt, self.T, self.nu = int(n), int(nt), float(T), float(nu)
        self.network = FNO(
            6, n_basis, modes=tuple(fno_modes), width=width, layers=layers,
            positional_encoding=False,
        )  # fmt: skip
        if mode == "soft":
            self.soft_weights = nn.Parameter(torch.full((n_basis,), 1.0 / n_basis))
        self.constraint = HardConstraintMoE(
            self._residual,
            K,
            ridge=ridge,
            tol=tol,
            max_steps=max_steps,
            on_failure=on_failure,
            expert_parallel=expert_parallel,
        )
        self.boxes = uniform_subdomains((1.0 / (nt - 1), 0.0, 0.0), (1.0, 1.0, 1.0), (1, sx, sy))
        bx, by = n // sx, n // sy
        ix = torch.arange(n)
        self.register_buffer("owner", (ix[:, None] // bx) * sy + ix[None, :] // by, False)
        blocks = torch.arange(K)
        self.register_buffer(
            "expert_x", ((blocks // sy) * bx)[:, None, None] + ix[:bx][None, :, None], False
        )
        self.register_buffer(
            "expert_y", ((blocks % sy) * by)[:, None, None] + ix[:by][None, None, :], False
        )

    # ------------------------------------------------------------------ pieces
    def _residual(self, fields: Mapping[str, Tensor], scale: Tensor) -> Tensor:
        return vorticity_residual(fields, scale[:, 0], nu=self.nu, mean=True)

    def derivatives(self, f: Tensor) -> dict[str, Tensor]:
        """The :data:`VORTICITY_FIELDS` (and ``w``) of periodic grid functions.

        Parameters
        ----------
        f : torch.Tensor
            ``(..., nt, n, n)`` vorticity-like fields at the nodes ``(t_k, i / n, j / n)``.

        Returns
        -------
        dict of str to torch.Tensor
            ``w``, ``w_t`` (BDF2), ``u``, ``v``, ``w_x``, ``w_y``, ``lap_w`` (spectral), each
            of the shape of ``f``.
        """
        n = self.n
        k = 2 * math.pi * torch.fft.fftfreq(n, 1.0 / n, dtype=f.dtype, device=f.device)
        ky = 2 * math.pi * torch.fft.rfftfreq(n, 1.0 / n, dtype=f.dtype, device=f.device)
        kx = torch.where(k.abs() < math.pi * n, k, 0.0)[:, None]  # no Nyquist slope
        ky_odd = torch.where(ky.abs() < math.pi * n, ky, 0.0)[None, :]
        k2 = k[:, None] ** 2 + ky[None, :] ** 2
        inv = torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-300), 0.0)
        spectrum = torch.fft.rfft2(f)

        def apply(multiplier: Tensor) -> Tensor:
            return torch.fft.irfft2(spectrum * multiplier, s=(n, n))

        dtau = 1.0 / (self.nt - 1)
        return {
            "w": f,
            "w_t": finite_difference(f, -3, dtau, scheme="backward") / self.T,
            "u": apply(1j * ky_odd * inv),
            "v": apply(-1j * kx * inv),
            "w_x": apply(1j * kx),
            "w_y": apply(1j * ky_odd),
            "lap_w": apply(-k2 + 0j),
        }

    def basis(self, w0: Tensor) -> Tensor:
        """The initial field and the basis functions on the grid, in the network's dtype.

        Parameters
        ----------
        w0 : torch.Tensor
            ``(batch, n, n)`` initial vorticity at the nodes ``(i / n, j / n)``.

        Returns
        -------
        torch.Tensor
            ``(batch, N + 1, nt, n, n)``: channel 0 is ``w0`` at every time, channel ``i``
            the basis function ``(t / T) b_i`` (zero spatial mean, zero at ``t = 0``).
        """
        n, nt = self.n, self.nt
        if w0.ndim != 3 or w0.shape[1:] != (n, n):
            raise ValueError(f"w0 must be (batch, {n}, {n}), got {tuple(w0.shape)}")
        if not bool(torch.isfinite(w0).all()):
            raise ValueError("w0 contains NaN/Inf")
        param = next(self.network.parameters())
        scale = self._scale(w0)
        x = torch.arange(n, dtype=param.dtype, device=w0.device) * (2 * math.pi / n)
        tau = torch.linspace(0.0, 1.0, nt, dtype=param.dtype, device=w0.device)
        batch = w0.shape[0]
        grid = (batch, 1, nt, n, n)
        channels = [
            tau[None, None, :, None, None].expand(grid),
            (w0 / scale[:, None, None]).to(param.dtype)[:, None, None].expand(grid),
            *(c(x)[None, None, None, :, None].expand(grid) for c in (torch.sin, torch.cos)),
            *(c(x)[None, None, None, None, :].expand(grid) for c in (torch.sin, torch.cos)),
        ]
        b = self.network(torch.cat(channels, 1))
        b = (b - b.mean(dim=(3, 4), keepdim=True)) * tau[:, None, None]
        w = w0.to(param.dtype)[:, None, None].expand(batch, 1, nt, n, n)
        return torch.cat([w, b], 1)

    @staticmethod
    def _scale(w0: Tensor) -> Tensor:
        return w0.to(torch.float64).pow(2).mean(dim=(1, 2)).sqrt().clamp_min(1e-12)

    def _constraint_fields(self, grid: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Fields ``(batch, K, points, N + 1)`` at each expert's residual points."""
        batch, C = grid["w"].shape[:2]
        K = self.experts
        if self.training and self.points is not None:
            pts = sample_in_subdomains(self.boxes, self.points // K).to(grid["w"].device)
            pts = pts.reshape(-1, 3)  # (t, x, y); x and y wrap around
            values = {
                name: sample_grid(grid[name], pts, periodic=(False, True, True))
                for name in VORTICITY_FIELDS
            }  # (batch, K P, C)
        else:  # the grid nodes of each expert's block, t > 0
            values = {
                name: grid[name][:, :, 1:, self.expert_x, self.expert_y].permute(0, 3, 2, 4, 5, 1)
                for name in VORTICITY_FIELDS
            }
        return {name: v.reshape(batch, K, -1, C).to(torch.float64) for name, v in values.items()}

    def forward(self, w0: Tensor) -> PIHCOutput:
        """Predict the vorticity on the space-time grid and its physics loss.

        Parameters
        ----------
        w0 : torch.Tensor
            ``(batch, n, n)`` initial vorticity.

        Returns
        -------
        PIHCOutput
            ``u`` is ``(batch, nt, n, n)``; ``loss`` the mean-squared residual of the
            prediction at the nodes with ``t > 0``, per unit of ``rms(w0)``.
        """
        basis = self.basis(w0)
        batch, K = w0.shape[0], self.experts
        scale = self._scale(w0)
        result: ConstraintResult | None = None
        if self.mode == "soft":
            weights = self.soft_weights.to(torch.float64).expand(batch, 1, self.n_basis)
        else:
            fields = self._constraint_fields(self.derivatives(basis))
            result = self.constraint(
                {k: v[..., 1:] for k, v in fields.items()},
                scale[:, None, None].expand(batch, K, 1),
                offset={k: v[..., 0] for k, v in fields.items()},
            )
            weights = result.weights
        # spectral derivatives of the bases in the network's precision (the constraint reads
        # them in float64); the prediction and its loss in float64
        b = basis.to(torch.float64)
        w = w0.to(torch.float64)[:, None] + torch.einsum(
            "bntxy,bxyn->btxy", b[:, 1:], weights[:, self.owner]
        )
        # the loss differentiates the assembled prediction: it sees the experts' interfaces
        full = self.derivatives(w)
        rows = {name: full[name][:, 1:].flatten(1) for name in VORTICITY_FIELDS}
        loss = vorticity_residual(rows, scale, nu=self.nu, mean=True).pow(2).sum(1)
        return PIHCOutput(u=w, loss=loss, weights=weights, constraint=result)


def vorticity_data(
    n_samples: int,
    *,
    n: int = 64,
    nt: int = 21,
    T: float = 0.1,
    nu: float = 1e-4,
    seed: int = 0,
    progress: bool = False,
    **options: Any,
) -> TrajectoryDataset:
    """Initial vorticities and reference trajectories on the grid of :class:`VorticityPIHC`.

    The references come from :func:`~sciml.data.generate_navier_stokes_2d` (pseudo-spectral,
    integrating-factor RK4 on a ``2 n`` grid, saved at the ``n x n`` nodes).

    Parameters
    ----------
    n_samples : int
    n, nt, T, nu : int, int, float, float
        The model grid, final time and viscosity.
    seed : int, default 0
    progress : bool, default False
    **options
        Further options of :func:`~sciml.data.generate_navier_stokes_2d` (``sigma``, ...).

    Returns
    -------
    TrajectoryDataset
        Items ``{"u0": (n, n), "u": (nt, n, n)}`` (initial and reference vorticity), float64.
    """
    data = generate_navier_stokes_2d(
        n_samples, resolution=n, nt=nt, T=T, nu=nu, seed=seed, progress=progress, **options
    )
    w = data.outputs["w"]  # (samples, nt, n, n)
    return TrajectoryDataset(w[:, 0].clone(), w)
