"""Batched nonlinear least squares: Gauss-Newton and Levenberg-Marquardt.

Each row ``b`` of ``x`` (shape ``(batch, n)``) is an independent problem
``min_x 0.5 ||r_b(x_b)||^2`` whose residual ``r(x, *params)`` (shape ``(batch, m)``) the user
supplies; row ``b`` of the residual must depend on row ``b`` of ``x`` only. Jacobians are formed
by forward-mode differentiation (one vectorised JVP per unknown), the normal equations are solved
per problem, and every problem converges, or fails, on its own.

With ``implicit=True`` the solution is differentiable with respect to ``params`` through the
optimality condition ``J^T r = 0`` (:func:`sciml.implicit.custom_root`), never by unrolling.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sciml.implicit.root import OnFailure, custom_root

# torch registers its forward-mode AD decompositions with torch.jit.script the first time
# forward AD runs, and that emits a FutureWarning about torch.jit.script from inside torch.
# Trigger the registration here, quietly, so that users of the Jacobians below do not see a
# warning about an API they never called.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r".torch\.jit\.script. is deprecated", category=FutureWarning
    )
    try:
        import torch._decomp.decompositions_for_jvp
    except ImportError:  # a torch without this module registers nothing to warn about
        pass

__all__ = ["LeastSquaresResult", "gauss_newton", "levenberg_marquardt"]

Residual = Callable[..., Tensor]
#: ``jacobian(x, *params) -> (r, J)``: the residual ``(batch, m)`` and its Jacobian
#: ``(batch, m, n)`` with respect to ``x``
Jacobian = Callable[..., tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class LeastSquaresResult:
    """Outcome of a batched least-squares solve.

    Attributes
    ----------
    x : torch.Tensor
        Solutions ``(batch, n)``; differentiable w.r.t. the parameters when ``implicit=True``.
    converged : torch.Tensor
        ``(batch,)`` bool, per problem.
    steps : torch.Tensor
        ``(batch,)`` int64, iterations taken by each problem.
    cost : torch.Tensor
        ``(batch,)`` final ``0.5 ||r||^2`` (detached).
    gradient_norm : torch.Tensor
        ``(batch,)`` final ``||J^T r||_inf`` (detached).
    """

    x: Tensor
    converged: Tensor
    steps: Tensor
    cost: Tensor
    gradient_norm: Tensor


def _with_ridge(residual_fn: Residual, ridge: float) -> Residual:
    if ridge == 0.0:
        return residual_fn

    def augmented(x: Tensor, *params: Any) -> Tensor:
        return torch.cat([residual_fn(x, *params), ridge * x], dim=1)

    return augmented


def _jacobian_with_ridge(jacobian: Jacobian | None, ridge: float) -> Jacobian | None:
    if jacobian is None or ridge == 0.0:
        return jacobian

    def augmented(x: Tensor, *params: Any) -> tuple[Tensor, Tensor]:
        r, J = jacobian(x, *params)
        eye = ridge * torch.eye(x.shape[1], dtype=J.dtype, device=J.device)
        return (
            torch.cat([r, ridge * x], dim=1),
            torch.cat([J, eye.expand(x.shape[0], -1, -1)], dim=1),
        )

    return augmented


def _residual_and_jacobian(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """``r = fn(x)`` ``(batch, m)`` and ``J`` ``(batch, m, n)`` by vectorised forward AD."""
    batch, n = x.shape
    r = fn(x)
    if r.ndim != 2 or r.shape[0] != batch:
        raise ValueError(f"residual must have shape (batch={batch}, m), got {tuple(r.shape)}")
    tangents = torch.eye(n, dtype=x.dtype, device=x.device).unsqueeze(1).expand(n, batch, n)

    def directional(t: Tensor) -> Tensor:
        return torch.func.jvp(fn, (x,), (t,))[1]

    try:
        cols = torch.func.vmap(directional)(tangents)  # (n, batch, m)
    except RuntimeError:  # an op without a batching rule: one JVP at a time
        cols = torch.stack([directional(tangents[j]) for j in range(n)])
    return r, cols.permute(1, 2, 0)


def _check_inputs(x0: Tensor, name: str) -> None:
    if not isinstance(x0, Tensor) or x0.ndim != 2:
        shape = tuple(x0.shape) if isinstance(x0, Tensor) else type(x0)
        raise ValueError(f"{name}: x0 must be a (batch, n) tensor, got {shape}")
    if not x0.is_floating_point():
        raise TypeError(f"{name}: x0 must be floating point, got {x0.dtype}")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError(f"{name}: x0 contains NaN/Inf")


def _rows(params: tuple[Any, ...], index: Tensor, batch: int) -> tuple[Any, ...]:
    """The rows ``index`` of every tensor parameter with a leading ``batch`` axis."""
    return tuple(
        p[index] if isinstance(p, Tensor) and p.ndim >= 1 and p.shape[0] == batch else p
        for p in params
    )


def _solve(
    method: str,
    residual_fn: Residual,
    x0: Tensor,
    params: tuple[Any, ...],
    *,
    max_steps: int,
    gtol: float,
    xtol: float,
    ftol: float,
    damping: float,
    jacobian: Jacobian | None = None,
    compact: bool = False,
) -> LeastSquaresResult:
    """Run GN or LM (differentiable operations; the caller decides on grad mode).

    Every iteration works on the problems still active only (its normal equations, steps and
    tests). With ``compact=True`` the residual and Jacobian are evaluated on those rows only
    (tensor parameters with a leading batch axis are sliced to them); otherwise on the whole
    batch, the finished rows held at their solutions.
    """
    batch, n = x0.shape

    def residual_and_jacobian(x: Tensor, p: tuple[Any, ...]) -> tuple[Tensor, Tensor]:
        if jacobian is None:
            return _residual_and_jacobian(lambda z: residual_fn(z, *p), x)
        r, J = jacobian(x, *p)
        if r.ndim != 2 or J.shape != (*r.shape, x.shape[1]) or r.shape[0] != x.shape[0]:
            raise ValueError(
                f"jacobian must return r (batch={x.shape[0]}, m) and J (batch, m, "
                f"n={x.shape[1]}), got {tuple(r.shape)} and {tuple(J.shape)}"
            )
        return r, J

    x = x0
    r, J = residual_and_jacobian(x, params)
    cost = 0.5 * (r * r).sum(dim=1)
    g = torch.einsum("bmn,bm->bn", J, r)
    converged = g.abs().amax(dim=1) <= gtol
    failed = ~torch.isfinite(cost)
    steps = torch.zeros(batch, dtype=torch.int64, device=x.device)
    lam = torch.full((batch,), damping, dtype=x.dtype, device=x.device)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    for _ in range(max_steps):
        active = ~(converged | failed)
        if not bool(active.any()):
            break
        every = bool(active.all())
        a = torch.arange(batch, device=x.device) if every else active.nonzero().squeeze(1)
        xa, ra, Ja, ga, ca, la = (
            (x, r, J, g, cost, lam) if every else (t[a] for t in (x, r, J, g, cost, lam))
        )
        H = torch.einsum("bmi,bmj->bij", Ja, Ja)
        if method == "lm":
            scale = torch.diagonal(H, dim1=1, dim2=2).clamp_min(1e-12)
            A = H + la[:, None, None] * torch.diag_embed(scale)
        else:
            A = H + 1e-14 * torch.diagonal(H, dim1=1, dim2=2).amax(1)[:, None, None] * eye
        delta = torch.linalg.solve(A, -ga.unsqueeze(2))[..., 0]
        x_new = xa + delta
        if every:
            r_new, J_new = residual_and_jacobian(x_new, params)
        elif compact:
            r_new, J_new = residual_and_jacobian(x_new, _rows(params, a, batch))
        else:  # the whole batch, finished rows at their solutions
            r_all, J_all = residual_and_jacobian(x.index_copy(0, a, x_new), params)
            r_new, J_new = r_all[a], J_all[a]
        cost_new = 0.5 * (r_new * r_new).sum(dim=1)
        finite = torch.isfinite(cost_new) & torch.isfinite(delta).all(dim=1)
        fail = torch.zeros_like(finite)
        if method == "lm":
            accept = finite & (cost_new < ca)
            la = torch.where(accept, la / 3.0, la * 2.0).clamp(1e-12, 1e12)
            fail = ~accept & (la >= 1e12)  # LM cannot recover once the damping saturated
        else:
            accept = finite
            fail = ~finite
        small_step = delta.norm(dim=1) <= xtol * (xa.norm(dim=1) + xtol)
        small_change = (ca - cost_new).abs() <= ftol * ca
        # the decrease of 0.5 ||r||^2 that the linear model J delta predicted (MINPACK's
        # "prered"): where even that is below ftol, the cost cannot fall further. Only a
        # rejection that rounding does not explain counts: at the rounding level of the cost
        # a later step may still be accepted and lower the gradient
        predicted = -(ga * delta).sum(1) - 0.5 * torch.einsum("bi,bij,bj->b", delta, H, delta)
        rose = cost_new - ca > 64 * torch.finfo(ca.dtype).eps * ca
        stalled = finite & ~accept & rose & (small_step | (small_change & (predicted <= ftol * ca)))
        xa = torch.where(accept[:, None], x_new, xa)
        ra = torch.where(accept[:, None], r_new, ra)
        Ja = torch.where(accept[:, None, None], J_new, Ja)
        ca = torch.where(accept, cost_new, ca)
        ga = torch.einsum("bmn,bm->bn", Ja, ra)
        # a rejected step converges too when it is negligible or when neither it nor the
        # model promise a decrease (MINPACK's tests): otherwise a problem at its minimum with
        # a nonzero residual rejects step after step until the damping saturates
        done = (accept & (small_step | small_change)) | stalled | (ga.abs().amax(dim=1) <= gtol)
        if every:
            x, r, J, g, cost, lam = xa, ra, Ja, ga, ca, la
        else:
            x, r, J, g, cost, lam = (
                t.index_copy(0, a, ta)
                for t, ta in ((x, xa), (r, ra), (J, Ja), (g, ga), (cost, ca), (lam, la))
            )
        steps = steps + active.to(torch.int64)
        converged = converged.index_copy(0, a, converged[a] | done)
        failed = failed.index_copy(0, a, failed[a] | fail)
    return LeastSquaresResult(
        x=x,
        converged=converged & ~failed,
        steps=steps,
        cost=cost.detach(),
        gradient_norm=g.detach().abs().amax(dim=1),
    )


def _run(
    method: str,
    residual_fn: Residual,
    x0: Tensor,
    params: tuple[Any, ...],
    *,
    max_steps: int,
    gtol: float,
    xtol: float,
    ftol: float,
    damping: float,
    ridge: float,
    implicit: bool,
    on_failure: OnFailure,
    jacobian: Jacobian | None = None,
    compact: bool = False,
) -> LeastSquaresResult:
    name = "levenberg_marquardt" if method == "lm" else "gauss_newton"
    _check_inputs(x0, name)
    if max_steps < 0:
        raise ValueError(f"{name}: max_steps must be >= 0, got {max_steps}")
    fn = _with_ridge(residual_fn, ridge)
    opts: dict[str, Any] = {
        "max_steps": max_steps,
        "gtol": gtol,
        "xtol": xtol,
        "ftol": ftol,
        "damping": damping,
        "jacobian": _jacobian_with_ridge(jacobian, ridge),
        "compact": compact,
    }
    if not implicit:  # plain autograd through every iteration (unrolled)
        return _solve(method, fn, x0, params, **opts)

    def optimality(x: Tensor, *p: Any) -> Tensor:
        # the gradient of 0.5 ||r||^2, kept differentiable for the second-order VJPs
        with torch.enable_grad():
            x_ = x if x.requires_grad else x.detach().requires_grad_(True)
            r = fn(x_, *p)
            (grad,) = torch.autograd.grad(0.5 * (r * r).sum(), x_, create_graph=True)
        return grad

    @custom_root(optimality, solve="dense", batched=True, has_aux=True, on_failure=on_failure)
    def solver(x_init: Tensor, *p: Any) -> tuple[Tensor, LeastSquaresResult]:
        result = _solve(method, fn, x_init, p, **opts)
        return result.x, result

    x, result = solver(x0, *params)
    return LeastSquaresResult(
        x=x,
        converged=result.converged,
        steps=result.steps,
        cost=result.cost,
        gradient_norm=result.gradient_norm,
    )


def levenberg_marquardt(
    residual_fn: Residual,
    x0: Tensor,
    *params: Any,
    max_steps: int = 100,
    gtol: float = 1e-10,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    damping: float = 1e-3,
    ridge: float = 0.0,
    implicit: bool = True,
    on_failure: OnFailure = "warn",
    jacobian: Jacobian | None = None,
    compact: bool = False,
) -> LeastSquaresResult:
    """Solve a batch of nonlinear least-squares problems by Levenberg-Marquardt.

    Each step solves ``(J^T J + lambda diag(J^T J)) delta = -J^T r`` per problem, accepts it if
    the cost decreases (then ``lambda /= 3``) and otherwise rejects it (``lambda *= 2``).

    Parameters
    ----------
    residual_fn : callable
        ``r(x, *params)`` with ``x`` of shape ``(batch, n)`` returning ``(batch, m)``; row ``b``
        may depend only on row ``b`` of ``x`` (and on ``params``).
    x0 : torch.Tensor
        Initial guesses ``(batch, n)``; receives no gradient.
    *params
        Tensors the residual depends on; with ``implicit=True`` they receive gradients.
    max_steps : int, default 100
        Iteration limit per problem.
    gtol : float, default 1e-10
        Converged when ``||J^T r||_inf <= gtol``.
    xtol : float, default 1e-10
        ... or when a step satisfies ``||delta|| <= xtol (||x|| + xtol)`` (a rejected step
        too, if the cost rose by more than rounding: the solution is then the current point,
        which smaller steps cannot move).
    ftol : float, default 1e-12
        ... or when an accepted step changes the cost by at most ``ftol * cost``, or a
        rejected one raises it by more than rounding but at most ``ftol * cost`` while its
        linear model predicted a decrease of at most ``ftol * cost`` (MINPACK's test: at a
        minimum with a nonzero residual).
    damping : float, default 1e-3
        Initial ``lambda``.
    ridge : float, default 0
        Appends ``ridge * x`` to the residual (a Tikhonov term, as in the hard-constraint layer).
    implicit : bool, default True
        Differentiate the solution through ``J^T r = 0`` (memory independent of the number of
        steps). ``False`` runs the iterations under autograd (unrolled backpropagation).
    on_failure : {"warn", "raise", "ignore"}, default "warn"
        Backward pass through a problem that did not converge.
    jacobian : callable, optional
        ``jacobian(x, *params) -> (r, J)``: the residual ``(batch, m)`` and its Jacobian
        ``(batch, m, n)``, when it is cheaper to form directly than by ``n`` forward-mode
        derivatives of ``residual_fn`` (the default). ``residual_fn`` is still used for the
        implicit gradient. The ridge rows are appended to both.
    compact : bool, default False
        Evaluate the residual (and Jacobian) of the problems still iterating only: every
        tensor in ``params`` whose first axis has length ``batch`` is taken to hold one entry
        per problem and is sliced to the active problems. A batch whose problems converge
        after different numbers of steps then costs each iteration only for those left
        (e.g. the experts of :class:`sciml.constraints.HardConstraintMoE`). Without it, the
        whole batch is evaluated every iteration (finished problems held at their solution),
        which allows parameters shared by all problems whatever their shape.

    Returns
    -------
    LeastSquaresResult

    Raises
    ------
    ValueError, TypeError
        On a badly shaped or non-finite ``x0`` or residual.

    Examples
    --------
    >>> import torch
    >>> from sciml.implicit import levenberg_marquardt
    >>> def rosenbrock(x, a):
    ...     return torch.stack([a - x[:, 0], 10 * (x[:, 1] - x[:, 0] ** 2)], dim=1)
    >>> a = torch.tensor([1.0, 2.0], dtype=torch.float64)[:, None]
    >>> out = levenberg_marquardt(rosenbrock, torch.zeros(2, 2, dtype=torch.float64), a[:, 0])
    >>> out.converged.tolist(), out.x.round(decimals=6).tolist()
    ([True, True], [[1.0, 1.0], [2.0, 4.0]])
    """
    return _run(
        "lm",
        residual_fn,
        x0,
        params,
        max_steps=max_steps,
        gtol=gtol,
        xtol=xtol,
        ftol=ftol,
        damping=damping,
        ridge=ridge,
        implicit=implicit,
        on_failure=on_failure,
        jacobian=jacobian,
        compact=compact,
    )


def gauss_newton(
    residual_fn: Residual,
    x0: Tensor,
    *params: Any,
    max_steps: int = 50,
    gtol: float = 1e-10,
    xtol: float = 1e-10,
    ftol: float = 1e-12,
    ridge: float = 0.0,
    implicit: bool = True,
    on_failure: OnFailure = "warn",
    jacobian: Jacobian | None = None,
    compact: bool = False,
) -> LeastSquaresResult:
    """Solve a batch of nonlinear least-squares problems by (undamped) Gauss-Newton.

    Each step solves ``J^T J delta = -J^T r`` per problem and always takes it: fast near a
    solution with small residual, but without globalisation; prefer
    :func:`levenberg_marquardt` from poor initial guesses.

    Parameters
    ----------
    residual_fn, x0, *params, max_steps, gtol, xtol, ftol, ridge, implicit, on_failure
        As in :func:`levenberg_marquardt`.
    jacobian, compact
        As in :func:`levenberg_marquardt`.

    Returns
    -------
    LeastSquaresResult
    """
    return _run(
        "gn",
        residual_fn,
        x0,
        params,
        max_steps=max_steps,
        gtol=gtol,
        xtol=xtol,
        ftol=ftol,
        damping=0.0,
        ridge=ridge,
        implicit=implicit,
        on_failure=on_failure,
        jacobian=jacobian,
        compact=compact,
    )
