"""The hard-constraint layer: basis functions from a network, weights from the PDE residual.

Chalapathi, Du and Krishnapriyan (ICLR 2024): a network returns ``N`` basis functions ``b_i``
evaluated (with the derivatives the PDE needs) at the residual points; the prediction is
``u = sum_i w_i b_i`` with the weights ``w`` of each sample solving the PDE residual in the
least-squares sense,

    ``min_w ||R(u_w)||^2 + ridge^2 ||w||^2``,

by Levenberg-Marquardt (:func:`sciml.implicit.levenberg_marquardt`). Every field the residual
needs (``u``, ``u_t``, ``u_xx``, ...) is linear in ``w``: ``field = B_field w`` with the basis
derivative ``B_field`` computed once per forward pass, so the residual is cheap to re-evaluate
for any ``w``. The gradient with respect to the network (the bases) flows through the
optimality condition ``J^T r = 0`` (implicit function theorem), never through the iterations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sciml.implicit import levenberg_marquardt

__all__ = ["ConstraintResult", "HardConstraint", "HardConstraintWarning", "combine"]

#: ``residual(fields, *context) -> (batch, m)``; ``fields[name]`` is ``(batch, points)``
PDEResidual = Callable[..., Tensor]


class HardConstraintWarning(UserWarning):
    """Some inner least-squares solves did not reach the tolerance."""


@dataclass(frozen=True)
class ConstraintResult:
    """Outcome of a :class:`HardConstraint` forward pass.

    Attributes
    ----------
    weights : torch.Tensor
        ``(batch, N)`` basis weights; differentiable with respect to the bases and context.
    fields : dict of str to torch.Tensor
        Every basis field combined with the weights, ``(batch, points)``.
    residual_norm : torch.Tensor
        ``(batch,)`` root mean square of the rows the residual function returns, at the
        solution (detached). It is in the units of those rows: ``VorticityPIHC`` scales its
        rows by ``1 / sqrt(points)`` and ``FEDiffusionPIHC`` pads the experts' rows with zeros
        to a common length, so their values are smaller than the RMS of the pointwise PDE
        residual; compare it between samples and steps of one model.
    converged : torch.Tensor
        ``(batch,)`` bool: the inner solve reached the tolerance.
    steps : torch.Tensor
        ``(batch,)`` Levenberg-Marquardt steps.
    """

    weights: Tensor
    fields: dict[str, Tensor]
    residual_norm: Tensor
    converged: Tensor
    steps: Tensor

    @property
    def failures(self) -> int:
        """Number of samples whose inner solve did not converge."""
        return int((~self.converged).sum())


def combine(
    basis: Mapping[str, Tensor],
    weights: Tensor,
    offset: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """``field = B_field w (+ offset_field)`` for every basis field.

    Parameters
    ----------
    basis : mapping of str to torch.Tensor
        ``(batch, points, N)`` each.
    weights : torch.Tensor
        ``(batch, N)``.
    offset : mapping of str to torch.Tensor, optional
        ``(batch, points)`` added to the fields it names.

    Returns
    -------
    dict of str to torch.Tensor
        ``(batch, points)`` each.
    """
    out = {name: torch.einsum("bpn,bn->bp", B, weights) for name, B in basis.items()}
    for name, value in (offset or {}).items():
        out[name] = out[name] + value
    return out


class HardConstraint(nn.Module):
    """Weights of basis functions that satisfy a PDE residual in the least-squares sense.

    Parameters
    ----------
    residual : callable
        ``residual(fields, *context) -> (batch, m)``: the PDE (and boundary/initial) residual
        of the fields ``{name: (batch, points)}`` built from the basis, e.g.
        ``fields["u_t"] - D * fields["u_xx"]``. Row ``b`` may depend on sample ``b`` only.
    ridge : float, default 1e-4
        Tikhonov term ``ridge * w`` appended to the residual (the paper's value).
    tol : float, default 1e-4
        Converged when ``||J^T r||_inf <= tol``, or when a step changes the weights by at
        most ``tol`` relative to their norm or the cost by at most ``tol`` relative (the
        ``xtol`` and ``ftol`` of :func:`sciml.implicit.levenberg_marquardt`; a rejected step
        counts where it raised the cost by more than rounding and its linear model, too,
        promised a decrease below ``tol``).
    max_steps : int, default 100
    on_failure : {"warn", "raise", "ignore"}, default "warn"
        What a forward pass with unconverged samples does (the count is in the result in
        every case); ``"raise"`` raises :class:`RuntimeError`.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(0, 1, 50, dtype=torch.float64)
    >>> k = torch.arange(1, 5, dtype=torch.float64)
    >>> basis = {
    ...     "u": torch.sin(torch.pi * k * x[:, None])[None],
    ...     "u_xx": (-((torch.pi * k) ** 2) * torch.sin(torch.pi * k * x[:, None]))[None],
    ... }
    >>> layer = HardConstraint(
    ...     lambda f: f["u_xx"] + torch.pi**2 * torch.sin(torch.pi * x), ridge=0.0, tol=1e-10
    ... )
    >>> out = layer(basis)
    >>> [abs(round(w, 6)) for w in out.weights[0].tolist()], bool(out.converged[0])
    ([1.0, 0.0, 0.0, 0.0], True)
    """

    def __init__(
        self,
        residual: PDEResidual,
        *,
        ridge: float = 1e-4,
        tol: float = 1e-4,
        max_steps: int = 100,
        on_failure: str = "warn",
    ) -> None:
        super().__init__()
        if ridge < 0 or tol <= 0 or max_steps < 1:
            raise ValueError(
                f"need ridge >= 0, tol > 0 and max_steps >= 1, got {ridge}, {tol}, {max_steps}"
            )
        if on_failure not in ("warn", "raise", "ignore"):
            raise ValueError(f"on_failure must be warn, raise or ignore, got {on_failure!r}")
        self.residual = residual
        self.ridge, self.tol, self.max_steps = float(ridge), float(tol), int(max_steps)
        self.on_failure = on_failure

    def forward(
        self,
        basis: Mapping[str, Tensor],
        *context: Tensor,
        w0: Tensor | None = None,
        offset: Mapping[str, Tensor] | None = None,
    ) -> ConstraintResult:
        """Solve for the weights of every sample.

        Parameters
        ----------
        basis : mapping of str to torch.Tensor
            ``(batch, points, N)`` basis values and derivatives at the residual points, one
            entry per field the residual uses (all with the same ``batch`` and ``N``).
        *context : torch.Tensor
            Further per-sample tensors passed to ``residual`` (coefficients, initial data);
            they receive gradients too.
        w0 : torch.Tensor, optional
            ``(batch, N)`` initial weights (default zero).
        offset : mapping of str to torch.Tensor, optional
            ``(batch, points)`` per field: a particular solution added to the span of the
            basis, ``field = offset + B w`` (it receives gradients too). Where the residual
            leaves some weights undetermined, the ridge term then keeps the output near the
            offset instead of near zero.

        Returns
        -------
        ConstraintResult

        Raises
        ------
        ValueError
            On inconsistent shapes or non-finite bases.
        RuntimeError
            With ``on_failure="raise"``, if an inner solve did not converge.
        """
        names = list(basis)
        if not names:
            raise ValueError("basis must hold at least one field, e.g. {'u': ...}")
        first = basis[names[0]]
        if first.ndim != 3:
            raise ValueError(f"basis fields must be (batch, points, N), got {tuple(first.shape)}")
        batch, _, n_basis = first.shape
        for name in names:
            B = basis[name]
            if B.ndim != 3 or B.shape[0] != batch or B.shape[2] != n_basis:
                raise ValueError(
                    f"basis field {name!r} has shape {tuple(B.shape)}; every field must be "
                    f"(batch={batch}, points, N={n_basis})"
                )
            if not bool(torch.isfinite(B).all()):
                raise ValueError(f"basis field {name!r} contains NaN/Inf")
        offset = dict(offset or {})
        for name, value in offset.items():
            if name not in basis:
                raise ValueError(f"offset field {name!r} is not a basis field {names}")
            if value.shape != basis[name].shape[:2]:
                raise ValueError(
                    f"offset field {name!r} must be {tuple(basis[name].shape[:2])}, "
                    f"got {tuple(value.shape)}"
                )
        offset_names = list(offset)
        n_fixed = len(names) + len(offset_names)
        if w0 is None:
            w0 = first.new_zeros(batch, n_basis)
        elif w0.shape != (batch, n_basis):
            raise ValueError(f"w0 must be ({batch}, {n_basis}), got {tuple(w0.shape)}")

        def fields_of(w: Tensor, params: tuple[Tensor, ...]) -> dict[str, Tensor]:
            bases = dict(zip(names, params[: len(names)], strict=True))
            shift = dict(zip(offset_names, params[len(names) : n_fixed], strict=True))
            return combine(bases, w, shift)

        def residual_of_weights(w: Tensor, *params: Tensor) -> Tensor:
            return self.residual(fields_of(w, params), *params[n_fixed:])

        def jacobian(w: Tensor, *params: Tensor) -> tuple[Tensor, Tensor]:
            # every field is affine in w with Jacobian B_field: J e_j is the derivative of
            # the residual in the fields along the basis function j (one vmapped JVP)
            bases, ctx = params[: len(names)], params[n_fixed:]
            values = tuple(fields_of(w, params).values())

            def of_fields(*f: Tensor) -> Tensor:
                return self.residual(dict(zip(names, f, strict=True)), *ctx)

            def directional(*tangents: Tensor) -> Tensor:
                return torch.func.jvp(of_fields, values, tangents)[1]

            r = of_fields(*values)
            try:
                cols = torch.func.vmap(directional, in_dims=2)(*bases)  # (N, batch, m)
            except RuntimeError:  # an op without a batching rule: one JVP at a time
                cols = torch.stack(
                    [directional(*(B[..., j] for B in bases)) for j in range(n_basis)]
                )
            return r, cols.permute(1, 2, 0)

        out = levenberg_marquardt(
            residual_of_weights,
            w0.detach(),
            *(basis[name] for name in names),
            *(offset[name] for name in offset_names),
            *context,
            max_steps=self.max_steps,
            gtol=self.tol,
            xtol=self.tol,
            ftol=self.tol,
            ridge=self.ridge,
            on_failure="ignore" if self.on_failure == "ignore" else "warn",
            jacobian=jacobian,
            compact=True,  # bases, offsets and context are per sample
        )
        fields = combine(basis, out.x, offset)
        with torch.no_grad():
            r = self.residual({k: v.detach() for k, v in fields.items()}, *context)
            residual_norm = r.pow(2).mean(dim=1).sqrt()
        result = ConstraintResult(out.x, fields, residual_norm, out.converged, out.steps)
        if result.failures:
            message = (
                f"{result.failures} of {batch} hard-constraint solves did not reach tol "
                f"{self.tol:g} in {self.max_steps} Levenberg-Marquardt steps"
            )
            if self.on_failure == "raise":
                raise RuntimeError(message)
            if self.on_failure == "warn":
                warnings.warn(message, HardConstraintWarning, stacklevel=2)
        return result
