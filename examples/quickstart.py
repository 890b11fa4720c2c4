"""
Quickstart: solving a 2D Poisson problem with sciml's solvers
==============================================================

The five-point Laplacian on an ``n x n`` grid is the classic test of a sparse solver. This
script builds it as a :class:`sciml.linalg.SparseMatrix`, solves ``A x = b`` to a relative
residual of ``1e-8`` with every Krylov solver and preconditioner in :mod:`sciml.linalg`, and
prints a table of iterations, seconds and the final true relative residual. SciPy's CG is
included as a reference.

Run it with ``make demo`` or ``python examples/quickstart.py --n 512``; it uses a GPU when one
is available (``--device cuda``).
"""

# %%
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
import torch

from sciml.linalg import Solution, amg, cg, fcg, gmres, jacobi, minres, poisson2d


def run(label: str, fn: Callable[[], Any], rows: list[tuple[str, str, float, str]]) -> None:
    """Time ``fn`` (setup and solve), record iterations and the final relative residual."""
    start = time.perf_counter()
    iterations, relres, ok = fn()
    seconds = time.perf_counter() - start
    rows.append((label, iterations, seconds, f"{relres:.2e}" + ("" if ok else "  (FAILED)")))
    print(f"{label:<34} {iterations:>10} {seconds:>9.3f} {rows[-1][3]:>12}", flush=True)


def main(argv: list[str] | None = None) -> list[tuple[str, str, float, str]]:
    """Solve the Poisson problem with every solver and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=512, help="grid points per direction")
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    A = poisson2d(args.n, device=device)
    n = A.shape[0]
    gen = torch.Generator().manual_seed(0)
    b = torch.rand(n, generator=gen, dtype=torch.float64).to(device)
    bnorm = float(b.norm())
    print(f"2D Poisson, {args.n}x{args.n} grid: {n:,} unknowns, {A.nnz:,} non-zeros, {device}")
    print(f"stopping rule ||b - A x|| <= {args.rtol:g} ||b||\n")
    print(f"{'solver':<34} {'iterations':>10} {'seconds':>9} {'rel. resid.':>12}")
    print("-" * 68)

    def report(sol: Solution) -> tuple[str, float, bool]:
        its = sol.iterations
        text = str(int(its)) if its.ndim == 0 else f"{int(its.min())}-{int(its.max())}"
        return text, float(sol.residual_norm.max()) / bnorm, bool(sol.converged.all())

    rows: list[tuple[str, str, float, str]] = []
    run("cg", lambda: report(cg(A, b, rtol=args.rtol)), rows)
    run("cg + jacobi", lambda: report(cg(A, b, rtol=args.rtol, M=jacobi(A))), rows)
    run("cg + amg(sa) [setup + solve]", lambda: report(cg(A, b, rtol=args.rtol, M=amg(A))), rows)
    run(
        "cg + amg(rs) [setup + solve]",
        lambda: report(cg(A, b, rtol=args.rtol, M=amg(A, "rs"))),
        rows,
    )
    M = amg(A)  # one hierarchy, reused by the remaining solvers
    run("minres + amg(sa)", lambda: report(minres(A, b, rtol=args.rtol, M=M)), rows)
    run("gmres(30) + amg(sa)", lambda: report(gmres(A, b, rtol=args.rtol, M=M)), rows)
    run("fcg + amg(sa)", lambda: report(fcg(A, b, rtol=args.rtol, M=M)), rows)
    B = torch.rand(n, 8, generator=gen, dtype=torch.float64).to(device)
    bnorm_block = float(B.norm(dim=0).min())

    def block() -> tuple[str, float, bool]:
        sol = cg(A, B, rtol=args.rtol, M=M)
        its = f"{int(sol.iterations.min())}-{int(sol.iterations.max())}"
        return its, float(sol.residual_norm.max()) / bnorm_block, bool(sol.converged.all())

    run("cg + amg(sa), 8 right-hand sides", block, rows)

    if device.type == "cpu":
        A_sp, b_np = A.to_scipy(), b.numpy()
        counter = {"n": 0}

        def scipy_cg() -> tuple[str, float, bool]:
            def count(_: np.ndarray) -> None:
                counter["n"] += 1

            x, info = spla.cg(A_sp, b_np, rtol=args.rtol, callback=count)
            relres = float(np.linalg.norm(b_np - A_sp @ x)) / bnorm
            return str(counter["n"]), relres, info == 0

        run("scipy.sparse.linalg.cg (reference)", scipy_cg, rows)
    return rows


if __name__ == "__main__":
    main()
