"""Implicit differentiation of solvers: ``custom_root`` and ``custom_fixed_point``.

A solver returns ``x*(theta)`` with ``F(x*, theta) = 0``. By the implicit function theorem the
vector-Jacobian product of ``x*`` with a cotangent ``v`` is ``(dF/dtheta)^T u`` where ``u``
solves ``(dF/dx)^T u = -v``. The decorators here attach exactly this backward pass to any
solver, using only vector-Jacobian products of ``F`` and a linear solver of
:mod:`sciml.linalg`, so the solver's iterations are never unrolled and memory does not grow with
their number.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from sciml.linalg import ConvergenceError, MatrixFreeOperator, cg, gmres

__all__ = ["ImplicitDiffWarning", "custom_fixed_point", "custom_root"]

SolveMethod = Literal["cg", "gmres", "normal_cg", "dense"] | Callable[..., Tensor]
OnFailure = Literal["warn", "raise", "ignore"]


class ImplicitDiffWarning(UserWarning):
    """Gradients from an implicit backward pass that may be wrong (and why)."""


def custom_root(
    optimality_fn: Callable[..., Tensor],
    *,
    solve: SolveMethod = "gmres",
    batched: bool = False,
    has_aux: bool = False,
    rtol: float = 1e-10,
    maxiter: int | None = None,
    on_failure: OnFailure = "warn",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a root-finding solver differentiable by implicit differentiation.

    Decorate ``solver(x0, *params) -> x_star`` where ``optimality_fn(x_star, *params) = 0``.
    The decorated solver returns the same ``x_star``, and backpropagation through it solves the
    adjoint system ``(dF/dx)^T u = -v`` at ``x_star`` and returns ``(dF/dparams)^T u`` to every
    tensor in ``params``. ``x0`` receives no gradient.

    Parameters
    ----------
    optimality_fn : callable
        ``F(x, *params) -> Tensor`` shaped like ``x``.
    solve : {"gmres", "cg", "normal_cg", "dense"} or callable, default "gmres"
        Linear solver of the backward pass, all matrix-free except ``"dense"``:
        ``"cg"`` when ``dF/dx`` is symmetric positive definite (``F`` the gradient of a convex
        objective), ``"gmres"`` for a general Jacobian, ``"normal_cg"`` (CG on the normal
        equations, needs a second VJP) as a robust alternative, ``"dense"`` builds the Jacobian
        with one VJP per unknown (per problem when ``batched``) and solves directly: the choice
        for small systems. A callable ``solve(matvec, b) -> u`` is used as is; ``matvec`` maps
        ``(n, k)`` blocks.
    batched : bool, default False
        ``x`` has a leading batch dimension of independent problems (``F`` of row ``b`` depends
        only on row ``b`` of ``x``): the adjoint systems are solved per problem, each to its own
        tolerance.
    has_aux : bool, default False
        The solver returns ``(x_star, aux)``; ``aux`` is passed through without gradient. If
        ``aux`` has a boolean tensor attribute ``converged``, a backward pass through a problem
        that did not converge triggers ``on_failure``.
    rtol : float, default 1e-10
        Relative tolerance of the iterative adjoint solves.
    maxiter : int, optional
        Iteration limit of the adjoint solves.
    on_failure : {"warn", "raise", "ignore"}, default "warn"
        What to do when the forward solve reports no convergence or the adjoint solve fails:
        a gradient computed there is not the gradient of the solution map.

    Returns
    -------
    callable
        A decorator.

    Notes
    -----
    Pass every tensor the solution depends on through ``params``. A tensor captured in a
    closure of ``optimality_fn`` or of the solver is invisible to the backward pass: it silently
    gets no gradient. The backward pass looks for tensors that require gradients and reach ``F``
    without being arguments, and warns (:class:`ImplicitDiffWarning`) when it finds one.

    The error of the implicit gradient grows linearly with the error of ``x_star``: solve the
    forward problem at least as accurately as the gradient is needed.

    Examples
    --------
    >>> import torch
    >>> from sciml.implicit import custom_root
    >>> def F(x, a):  # x* = sqrt(a)
    ...     return x * x - a
    >>> @custom_root(F, solve="dense", batched=True)
    ... def sqrt_newton(x0, a):
    ...     x = x0
    ...     for _ in range(50):
    ...         x = x - (x * x - a) / (2 * x)
    ...     return x
    >>> a = torch.tensor([[4.0], [9.0]], dtype=torch.float64, requires_grad=True)
    >>> x = sqrt_newton(torch.ones_like(a), a)
    >>> x.sum().backward()
    >>> a.grad.flatten().tolist()  # d sqrt(a) / da = 1 / (2 sqrt(a))
    [0.25, 0.16666666666666666]
    """
    if on_failure not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_failure must be 'warn', 'raise' or 'ignore', got {on_failure!r}")
    if isinstance(solve, str) and solve not in ("cg", "gmres", "normal_cg", "dense"):
        raise ValueError(f"unknown adjoint solver {solve!r}")

    def decorator(solver: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(solver)
        def wrapped(x0: Tensor, *params: Any) -> Any:
            detached = [p.detach() if isinstance(p, Tensor) else p for p in params]
            with torch.no_grad():
                result = solver(x0.detach(), *detached)
            x_star, aux = result if has_aux else (result, None)
            if not isinstance(x_star, Tensor):
                raise TypeError(f"the solver must return a tensor, got {type(x_star)!r}")
            converged = getattr(aux, "converged", None)
            options = _Options(optimality_fn, solve, batched, rtol, maxiter, on_failure, converged)
            x_out = _ImplicitRoot.apply(x_star.detach(), options, *params)
            return (x_out, aux) if has_aux else x_out

        return wrapped

    return decorator


def custom_fixed_point(
    fixed_point_fn: Callable[..., Tensor], **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`custom_root` for fixed points ``x* = T(x*, *params)``.

    Parameters
    ----------
    fixed_point_fn : callable
        ``T(x, *params) -> Tensor`` shaped like ``x``.
    **options
        Passed to :func:`custom_root` (``solve``, ``batched``, ``has_aux``, ...).

    Returns
    -------
    callable
        A decorator for ``solver(x0, *params) -> x_star``.
    """

    def optimality(x: Tensor, *params: Any) -> Tensor:
        return fixed_point_fn(x, *params) - x

    return custom_root(optimality, **options)


class _Options:
    def __init__(
        self,
        fn: Callable[..., Tensor],
        solve: SolveMethod,
        batched: bool,
        rtol: float,
        maxiter: int | None,
        on_failure: OnFailure,
        converged: Tensor | None,
    ) -> None:
        self.fn = fn
        self.solve = solve
        self.batched = batched
        self.rtol = rtol
        self.maxiter = maxiter
        self.on_failure = on_failure
        self.converged = converged


def _fail(options: _Options, message: str) -> None:
    if options.on_failure == "raise":
        raise ConvergenceError(message)
    if options.on_failure == "warn":
        warnings.warn(message, ImplicitDiffWarning, stacklevel=4)


def _leaves(output: Tensor) -> list[Tensor]:
    """Leaf tensors requiring grad that ``output`` depends on."""
    seen: set[int] = set()
    leaves: list[Tensor] = []
    stack = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if isinstance(variable, Tensor):
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


class _ImplicitRoot(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x_star: Tensor, options: _Options, *params: Any) -> Tensor:
        ctx.options = options
        ctx.params = params
        ctx.save_for_backward(x_star)
        return x_star.clone()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        (x_star,) = ctx.saved_tensors
        options: _Options = ctx.options
        params: Sequence[Any] = ctx.params
        if options.converged is not None and not bool(torch.all(options.converged)):
            bad = int((~options.converged).sum())
            _fail(options, f"implicit gradient through {bad} problem(s) that did not converge")
        with torch.enable_grad():
            x = x_star.detach().requires_grad_(True)
            live = [
                p.detach().requires_grad_(True) if isinstance(p, Tensor) and p.requires_grad else p
                for p in params
            ]
            F = options.fn(x, *live)
            if F.shape != x.shape:
                raise ValueError(
                    f"optimality_fn returned shape {tuple(F.shape)}, expected {tuple(x.shape)}"
                )
            known = {id(x)} | {id(p) for p in live if isinstance(p, Tensor)}
            hidden = [t for t in _leaves(F) if id(t) not in known]
            if hidden:
                shapes = ", ".join(str(tuple(t.shape)) for t in hidden[:3])
                warnings.warn(
                    f"optimality_fn uses {len(hidden)} tensor(s) requiring grad that are not "
                    f"passed as parameters (shapes {shapes}); they get no gradient: pass them "
                    "as arguments of the solver",
                    ImplicitDiffWarning,
                    stacklevel=2,
                )
            u = _adjoint_solve(F, x, grad_out, options)
            inputs = [p for p in live if isinstance(p, Tensor) and p.requires_grad]
            grads = (
                torch.autograd.grad(F, inputs, grad_outputs=u, allow_unused=True) if inputs else ()
            )
        it = iter(grads)
        out: list[Tensor | None] = [None, None]
        for p in live:
            out.append(next(it) if isinstance(p, Tensor) and p.requires_grad else None)
        return tuple(out)


def _adjoint_solve(F: Tensor, x: Tensor, v: Tensor, options: _Options) -> Tensor:
    """Solve ``(dF/dx)^T u = -v`` with vector-Jacobian products of ``F``."""
    shape = x.shape
    batch = shape[0] if options.batched else 1
    n = x.numel() // batch

    def to_block(t: Tensor) -> Tensor:  # x-shaped -> (n, batch)
        return t.reshape(batch, n).T

    def from_block(t: Tensor) -> Tensor:  # (n, batch) -> x-shaped
        return t.T.reshape(shape)

    def vjp(block: Tensor, create_graph: bool = False) -> Tensor:
        (g,) = torch.autograd.grad(
            F, x, grad_outputs=from_block(block), retain_graph=True, create_graph=create_graph
        )
        return to_block(g)

    rhs = -to_block(v.detach().to(x.dtype))
    if options.solve == "dense":
        return from_block(_dense_solve(vjp, rhs, n, batch))
    op = MatrixFreeOperator(vjp, (n, n), dtype=x.dtype, device=x.device)
    if callable(options.solve):
        return from_block(options.solve(op.matvec, rhs))
    if options.solve == "normal_cg":
        # CG on A A^T u = A rhs with A = dF/dx; A w comes from the "double VJP"
        # A w = d/dz <A^T z, w>, so no forward-mode AD is needed.
        z = torch.zeros_like(rhs, requires_grad=True)
        jt_z = vjp(z, create_graph=True)

        def jvp(w: Tensor) -> Tensor:
            (out,) = torch.autograd.grad(jt_z, z, grad_outputs=w, retain_graph=True)
            return out

        op = MatrixFreeOperator(lambda w: jvp(vjp(w)), (n, n), dtype=x.dtype, device=x.device)
        rhs = jvp(rhs)
    solver = gmres if options.solve == "gmres" else cg
    sol = solver(op, rhs, rtol=options.rtol, maxiter=options.maxiter)
    if not bool(torch.all(sol.converged)):
        _fail(options, f"adjoint solve ({options.solve}) did not converge: {sol.message}")
    return from_block(sol.x)


def _dense_solve(vjp: Callable[[Tensor], Tensor], rhs: Tensor, n: int, batch: int) -> Tensor:
    """Build ``J^T`` per problem with ``n`` VJPs and solve ``J^T u = rhs`` directly."""
    eye = torch.eye(n, dtype=rhs.dtype, device=rhs.device)
    # column j of J_b^T for every problem b: VJP with the j-th unit vector in every problem
    cols = [vjp(eye[:, j : j + 1].expand(n, batch).contiguous()) for j in range(n)]
    JT = torch.stack(cols, dim=2)  # (n, batch, n): JT[i, b, j] = (J_b^T)[i, j]
    JT = JT.permute(1, 0, 2)  # (batch, n, n)
    u = torch.linalg.solve(JT, rhs.T.unsqueeze(2))[..., 0]  # (batch, n)
    return u.T
