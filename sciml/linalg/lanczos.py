"""Lanczos iteration for a few hundred or thousand Ritz pairs of a symmetric operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sciml.linalg.operator import as_operator

__all__ = ["RitzPairs", "lanczos"]


@dataclass(frozen=True)
class RitzPairs:
    """Ritz values and vectors from a Lanczos run, in increasing order of the values.

    Attributes
    ----------
    values : torch.Tensor
        ``(m,)`` Ritz values.
    vectors : torch.Tensor
        ``(n, m)`` orthonormal Ritz vectors.
    residuals : torch.Tensor
        ``(m,)`` residual norms ``||A y - theta y||`` (the Lanczos bound ``|beta_m s_mi|``).
    steps : int
        Lanczos steps taken (fewer than asked when an invariant subspace was found).
    """

    values: Tensor
    vectors: Tensor
    residuals: Tensor
    steps: int


@torch.no_grad()
def lanczos(
    A: Any,
    steps: int,
    *,
    v0: Tensor | None = None,
    seed: int = 0,
    progress: bool = False,
) -> RitzPairs:
    """Run ``steps`` Lanczos steps with full reorthogonalisation and return the Ritz pairs.

    The Krylov basis is kept (``n x steps`` numbers) and every new vector is orthogonalised
    twice against all previous ones, so the Ritz vectors stay orthonormal to working precision
    and no spurious copies of converged eigenvalues appear. Cost: ``steps`` products with ``A``
    and ``O(n steps^2)`` for the reorthogonalisation.

    Parameters
    ----------
    A : LinearOperator, SparseMatrix or torch.Tensor
        Symmetric, ``(n, n)``.
    steps : int
        Number of Lanczos steps, ``1 <= steps <= n``.
    v0 : torch.Tensor, optional
        Starting vector ``(n,)``; default a Gaussian vector drawn with ``seed``.
    seed : int, default 0
    progress : bool, default False
        tqdm progress bar.

    Returns
    -------
    RitzPairs

    Raises
    ------
    ValueError
        On a non-square operator, ``steps`` out of range, or a zero / non-finite start vector.

    Examples
    --------
    >>> import torch
    >>> from sciml.linalg import lanczos, poisson2d
    >>> pairs = lanczos(poisson2d(8), 64)  # 64 = n: every eigenvalue
    >>> lowest = 2 * (2 - 2 * torch.cos(torch.tensor(torch.pi / 9, dtype=torch.float64)))
    >>> bool(abs(pairs.values[0] - lowest) < 1e-10)
    True
    """
    op = as_operator(A)
    n, n_cols = op.shape
    if n != n_cols:
        raise ValueError(f"lanczos needs a square operator, got shape {op.shape}")
    if int(steps) != steps or not 1 <= steps <= n:
        raise ValueError(f"steps must be an int in [1, {n}], got {steps}")
    if v0 is None:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        v0 = torch.randn(n, generator=gen, dtype=op.dtype).to(op.device)
    if v0.shape != (n,):
        raise ValueError(f"v0 must have shape ({n},), got {tuple(v0.shape)}")
    norm = torch.linalg.vector_norm(v0)
    if not bool(torch.isfinite(norm)) or float(norm) == 0.0:
        raise ValueError("v0 must be finite and nonzero")
    V = torch.zeros(n, steps, dtype=op.dtype, device=op.device)
    V[:, 0] = v0.to(op.dtype) / norm
    alphas: list[Tensor] = []
    betas: list[Tensor] = []
    tiny = torch.finfo(op.dtype).eps ** 0.5
    scale = 0.0
    iterator: Any = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="Lanczos", unit="step")
    m = steps
    beta = torch.zeros((), dtype=op.dtype, device=op.device)
    for j in iterator:
        w = op.matvec(V[:, j])
        alpha = torch.dot(V[:, j], w)
        alphas.append(alpha)
        w = w - alpha * V[:, j]
        if j > 0:
            w = w - beta * V[:, j - 1]
        basis = V[:, : j + 1]
        for _ in range(2):  # "twice is enough" (Kahan-Parlett)
            w = w - basis @ (basis.T @ w)
        beta = torch.linalg.vector_norm(w)
        scale = max(scale, abs(float(alpha)) + float(beta))
        if j == steps - 1:
            betas.append(beta)
            break
        if float(beta) <= tiny * max(scale, 1.0):  # invariant subspace: the spectrum seen is exact
            m = j + 1
            betas.append(beta)
            break
        betas.append(beta)
        V[:, j + 1] = w / beta
    T = torch.diag(torch.stack(alphas))
    if m > 1:
        off = torch.stack(betas[: m - 1])
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    values, S = torch.linalg.eigh(T)
    vectors = V[:, :m] @ S
    residuals = (betas[m - 1] * S[-1, :]).abs()
    return RitzPairs(values=values, vectors=vectors, residuals=residuals, steps=m)
