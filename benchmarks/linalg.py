"""Benchmark of the sparse solvers of :mod:`sciml.linalg` against SciPy, pyamg and PETSc.

The problem is the 2D Poisson 5-point finite-difference matrix :func:`sciml.linalg.poisson2d`
with a fixed seeded random right-hand side, solved to ``||b - A x|| <= 1e-8 ||b||`` from a zero
initial guess by

* sciml ``cg`` + ``jacobi``          (torch, CPU),
* sciml ``cg`` + ``amg`` (SA)        (pyamg setup, torch V-cycle),
* ``scipy.sparse.linalg.cg`` + Jacobi,
* pyamg smoothed aggregation + CG    (``ml.solve(..., accel="cg")``),
* PETSc CG + GAMG                    (petsc4py from the dolfinx wheel, one process).

The results (setup and solve seconds, iterations, seconds per iteration, true relative
residual) go to ``benchmarks/results/linalg.json`` together with the machine, the configuration
and the performance targets. With a CUDA device a GPU section adds SpMV throughput and sciml
AMG-PCG on the GPU against PETSc GAMG on the CPU.

Usage::

    .venv/bin/python benchmarks/linalg.py                  # full run, sizes 256 512 1024
    .venv/bin/python benchmarks/linalg.py --quick --out /tmp/linalg.json   # smoke test
    .venv/bin/python benchmarks/linalg.py --markdown       # tables of the JSON, as markdown
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyamg
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from sciml.linalg import Solution, SparseMatrix, amg, cg, jacobi, poisson2d, to_petsc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt, sync, targets_table, write_json  # noqa: E402
from _common import machine_info as common_machine_info  # noqa: E402

DEFAULT_OUT = HERE / "results" / "linalg.json"
DEFAULT_SIZES = (256, 512, 1024)
QUICK_SIZES = (64, 128)
RTOL = 1e-8
SEED = 0
MAXITER_JACOBI = 20_000
MAXITER_AMG = 500
WARMUP_N = 32
CHEAP_S = 10.0  # a solver whose run takes at most this many seconds ...
CHEAP_REPEATS = 3  # ... is repeated this many times, whatever the size

SCIML_JACOBI = "sciml cg+jacobi"
SCIML_AMG = "sciml cg+amg(sa)"
SCIPY_JACOBI = "scipy cg+jacobi"
PYAMG_SA = "pyamg sa+cg"
PETSC_GAMG = "petsc cg+gamg"
# solvers compared by a target: they are repeated together (same number of runs)
PEER_GROUPS = ((SCIML_JACOBI, SCIPY_JACOBI), (SCIML_AMG, PYAMG_SA, PETSC_GAMG))

STOPPING_RULES = {
    SCIML_JACOBI: (
        "||r_k|| <= rtol*||b|| on the recurrence residual, confirmed on the true residual "
        "b - A x (sciml.linalg.cg, atol=0)"
    ),
    SCIML_AMG: "same as sciml cg+jacobi",
    SCIPY_JACOBI: (
        "||r_k|| < rtol*||b|| on the recurrence residual (scipy.sparse.linalg.cg, atol=0)"
    ),
    PYAMG_SA: (
        "pyamg.krylov.cg criteria='rr': ||r_k|| < tol*||b||; r_k is the recurrence residual, "
        "recomputed as b - A x every 8 iterations (ml.solve passes tol unchanged to the Krylov "
        "method, so tol is relative to ||b|| as for the other solvers)"
    ),
    PETSC_GAMG: (
        "KSPConvergedDefault with KSP_NORM_UNPRECONDITIONED: ||r_k|| < rtol*||b||, atol=0 "
        "(CG recurrence residual)"
    ),
}


# --------------------------------------------------------------------------- problem and runs
@dataclass
class Problem:
    """One Poisson system: the matrix on the solve device, its SciPy copy and the right side."""

    n: int
    A: SparseMatrix
    A_scipy: sp.csr_array
    b: np.ndarray
    b_torch: torch.Tensor

    @property
    def unknowns(self) -> int:
        """Number of unknowns ``n**2``."""
        return self.A_scipy.shape[0]

    @property
    def device(self) -> torch.device:
        """Device of the torch matrix."""
        return self.A.device


@dataclass
class Run:
    """Outcome of one timed solve."""

    setup_s: float
    solve_s: float
    iterations: int
    x: np.ndarray
    converged: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        """Setup plus solve seconds."""
        return self.setup_s + self.solve_s

    @classmethod
    def of(cls, sol: Solution, setup_s: float, solve_s: float, **extra: Any) -> Run:
        """The run of a sciml ``Solution`` (``x`` on the CPU); ``extra`` next to its reason."""
        return cls(
            setup_s,
            solve_s,
            int(sol.iterations),
            sol.x.detach().cpu().numpy(),
            bool(sol.converged),
            {"reason": sol.reason.name, **extra},
        )


def make_problem(n: int, device: torch.device | str = "cpu") -> Problem:
    """Build ``poisson2d(n)`` in float64 and the seeded right-hand side ``rng(0).random(n**2)``.

    Parameters
    ----------
    n : int
        Grid points per direction.
    device : torch.device or str
        Device of the torch matrix and right-hand side (the SciPy copy is always on the CPU).

    Returns
    -------
    Problem
    """
    A_cpu = poisson2d(n, dtype=torch.float64)
    A_scipy = A_cpu.to_scipy()
    b = np.random.default_rng(SEED).random(A_scipy.shape[0])
    A = A_cpu.to(device=device)
    b_torch = torch.from_numpy(b).to(device=device)
    return Problem(n=n, A=A, A_scipy=A_scipy, b=b, b_torch=b_torch)


def relative_residual(p: Problem, x: np.ndarray) -> float:
    """True relative residual ``||b - A x|| / ||b||``, computed with SciPy in float64."""
    x64 = np.asarray(x, dtype=np.float64)
    return float(np.linalg.norm(p.b - p.A_scipy @ x64) / np.linalg.norm(p.b))


# --------------------------------------------------------------------------- the solvers
def _run_sciml_cg(
    p: Problem, make_M: Callable[[Any], Any], maxiter: int, rtol: float = RTOL
) -> tuple[Run, Any]:
    """Time ``M = make_M(A)`` (setup) and sciml ``cg`` with it (solve); also return ``M``."""
    sync(p.device)
    t0 = time.perf_counter()
    M = make_M(p.A)
    sync(p.device)
    t1 = time.perf_counter()
    sol = cg(p.A, p.b_torch, rtol=rtol, atol=0.0, M=M, maxiter=maxiter)
    sync(p.device)
    t2 = time.perf_counter()
    return Run.of(sol, t1 - t0, t2 - t1), M


def run_sciml_jacobi(p: Problem) -> Run:
    """sciml CG with the Jacobi preconditioner; setup is ``jacobi(A)``."""
    return _run_sciml_cg(p, jacobi, MAXITER_JACOBI)[0]


def run_sciml_amg(p: Problem, rtol: float = RTOL) -> Run:
    """sciml CG with ``amg(A)`` (smoothed aggregation, defaults); setup is the ``amg`` call."""
    run, M = _run_sciml_cg(p, amg, MAXITER_AMG, rtol)
    run.extra["levels"] = M.num_levels
    run.extra["operator_complexity"] = round(M.operator_complexity, 4)
    return run


def run_scipy_jacobi(p: Problem) -> Run:
    """``scipy.sparse.linalg.cg`` with Jacobi as an elementwise ``LinearOperator``.

    The preconditioner multiplies by ``1 / diag(A)`` elementwise, as sciml's
    :class:`~sciml.linalg.JacobiPreconditioner` does, so that the cost per iteration compares
    like with like. Iterations are counted by the callback (called once per iteration).
    """
    A = p.A_scipy
    t0 = time.perf_counter()
    dinv = 1.0 / A.diagonal()
    M = spla.LinearOperator(A.shape, matvec=lambda r: dinv * r, dtype=A.dtype)
    t1 = time.perf_counter()
    count = [0]

    def callback(_xk: np.ndarray) -> None:
        count[0] += 1

    x, info = spla.cg(A, p.b, rtol=RTOL, atol=0.0, M=M, maxiter=MAXITER_JACOBI, callback=callback)
    t2 = time.perf_counter()
    return Run(
        setup_s=t1 - t0,
        solve_s=t2 - t1,
        iterations=count[0],
        x=x,
        converged=info == 0,
        extra={"info": int(info)},
    )


def run_pyamg(p: Problem) -> Run:
    """pyamg smoothed aggregation (defaults) as a preconditioner of pyamg's CG."""
    A = p.A_scipy
    t0 = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(A)
    t1 = time.perf_counter()
    residuals: list[float] = []
    x, info = ml.solve(
        p.b,
        tol=RTOL,
        accel="cg",
        maxiter=MAXITER_AMG,
        residuals=residuals,
        return_info=True,
    )
    t2 = time.perf_counter()
    return Run(
        setup_s=t1 - t0,
        solve_s=t2 - t1,
        iterations=len(residuals) - 1,
        x=x,
        converged=info == 0,
        extra={
            "info": int(info),
            "levels": len(ml.levels),
            "operator_complexity": round(float(ml.operator_complexity()), 4),
        },
    )


def _petsc() -> Any:
    """Import petsc4py through the dolfinx wheel (which must be imported first)."""
    import dolfinx_solver  # noqa: F401  (orders MPI ahead of the vendored petsc4py)
    from petsc4py import PETSc

    return PETSc


def run_petsc_gamg(p: Problem) -> Run:
    """PETSc CG + GAMG on one process; setup is ``KSPSetUp``, the CSR copy is timed apart."""
    return run_petsc_cg(p, "gamg")


def run_petsc_cg(p: Problem, pc: str, rtol: float = RTOL, maxiter: int = MAXITER_AMG) -> Run:
    """PETSc CG with the preconditioner ``pc`` (``"gamg"``, ``"icc"``, ``"none"``...) on one
    process; setup is ``KSPSetUp``, the CSR copy is timed apart."""
    PETSc = _petsc()
    comm = PETSc.COMM_SELF
    t0 = time.perf_counter()
    mat = to_petsc(p.A)
    b = mat.createVecLeft()
    b.array[:] = p.b
    x = mat.createVecRight()
    x.set(0.0)
    matrix_s = time.perf_counter() - t0
    ksp = PETSc.KSP().create(comm=comm)
    try:
        t1 = time.perf_counter()
        ksp.setOperators(mat)
        ksp.setType(PETSc.KSP.Type.CG)
        ksp.getPC().setType(pc)
        ksp.setTolerances(rtol=rtol, atol=0.0, max_it=maxiter)
        ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
        ksp.setInitialGuessNonzero(False)
        ksp.setUp()
        t2 = time.perf_counter()
        ksp.solve(b, x)
        t3 = time.perf_counter()
        reason = int(ksp.getConvergedReason())
        extra: dict[str, Any] = {"reason": reason, "matrix_s": matrix_s}
        try:
            extra["levels"] = int(ksp.getPC().getMGLevels())
        except Exception:  # not every petsc4py exposes it for GAMG
            pass
        return Run(
            setup_s=t2 - t1,
            solve_s=t3 - t2,
            iterations=int(ksp.getIterationNumber()),
            x=x.array.copy(),
            converged=reason > 0,
            extra=extra,
        )
    finally:
        ksp.destroy()
        for obj in (x, b, mat):
            obj.destroy()


SOLVERS: dict[str, Callable[[Problem], Run]] = {
    SCIML_JACOBI: run_sciml_jacobi,
    SCIML_AMG: run_sciml_amg,
    SCIPY_JACOBI: run_scipy_jacobi,
    PYAMG_SA: run_pyamg,
    PETSC_GAMG: run_petsc_gamg,
}


# --------------------------------------------------------------------------- driver
def unknowns_label(unknowns: int) -> str:
    """Short label of a problem size: ``65536 -> '66k'``, ``1048576 -> '1.05M'``."""
    if unknowns >= 1_000_000:
        return f"{unknowns / 1e6:.3g}M"
    if unknowns >= 1_000:
        return f"{unknowns / 1e3:.0f}k"
    return str(unknowns)


def row_from_run(solver: str, p: Problem, run: Run, runs_total: list[float]) -> dict[str, Any]:
    """The JSON row of the best run of ``solver`` on ``p``."""
    rel = relative_residual(p, run.x)
    return {
        "solver": solver,
        "device": p.device.type,
        "n": p.n,
        "unknowns": p.unknowns,
        "nnz": int(p.A_scipy.nnz),
        "setup_s": run.setup_s,
        "solve_s": run.solve_s,
        "total_s": run.total_s,
        "iterations": run.iterations,
        "s_per_iter": run.solve_s / run.iterations if run.iterations else None,
        "rel_residual": rel,
        "converged": run.converged,
        "rtol_met_true_residual": rel <= RTOL,
        "repeats": len(runs_total),
        "runs_total_s": runs_total,
        **run.extra,
    }


def error_row(solver: str, p: Problem, exc: BaseException) -> dict[str, Any]:
    """A row recording that ``solver`` failed on ``p``."""
    return {
        "solver": solver,
        "device": p.device.type,
        "n": p.n,
        "unknowns": p.unknowns,
        "nnz": int(p.A_scipy.nnz),
        "error": f"{type(exc).__name__}: {exc}",
    }


def repeats_for(unknowns: int) -> int:
    """Best-of-3 below half a million unknowns, best-of-2 above (for the slow solvers)."""
    return 3 if unknowns < 500_000 else 2


def warm_up(device: torch.device | str = "cpu", solvers: dict[str, Any] | None = None) -> None:
    """Run every solver once on a tiny problem so that import and first-call costs are paid."""
    p = make_problem(WARMUP_N, device)
    for name, fn in (solvers or SOLVERS).items():
        try:
            fn(p)
        except Exception as exc:  # reported again (with the row) in the timed runs
            print(f"  warm-up of {name} failed: {type(exc).__name__}: {exc}", flush=True)


def print_header() -> None:
    """Column titles of the live table."""
    print(
        f"{'solver':<18} {'unknowns':>9} {'setup s':>9} {'solve s':>9} {'total s':>9} "
        f"{'iters':>6} {'ms/iter':>9} {'rel.res':>9}  conv",
        flush=True,
    )


def print_row(row: dict[str, Any]) -> None:
    """One line of the live table."""
    if "error" in row:
        print(f"{row['solver']:<18} {row['unknowns']:>9}  ERROR {row['error']}", flush=True)
        return
    spi = row["s_per_iter"]
    ms = f"{1e3 * spi:9.3f}" if spi is not None else f"{'-':>9}"
    print(
        f"{row['solver']:<18} {row['unknowns']:>9} {row['setup_s']:9.3f} {row['solve_s']:9.3f} "
        f"{row['total_s']:9.3f} {row['iterations']:>6} {ms} {row['rel_residual']:9.2e}  "
        f"{'yes' if row['converged'] else 'NO'}",
        flush=True,
    )


def _groups(names: list[str]) -> list[tuple[str, ...]]:
    """Split solver names into the peer groups of :data:`PEER_GROUPS` (others alone)."""
    groups = [tuple(n for n in g if n in names) for g in PEER_GROUPS]
    groups = [g for g in groups if g]
    grouped = {n for g in groups for n in g}
    return groups + [(n,) for n in names if n not in grouped]


def bench_size(
    n: int,
    solvers: dict[str, Callable[[Problem], Run]],
    deadline: float,
    device: torch.device | str = "cpu",
    repeats: int | None = None,
) -> list[dict[str, Any]]:
    """Time every solver on ``poisson2d(n)``; return one row per solver (its best run).

    Every solver runs once, then the repeats go round by round, interleaved (each solver of
    a round once) so that a burst of load from another process spreads over the solvers
    instead of hitting one of them. Solvers that a target compares (:data:`PEER_GROUPS`)
    repeat together, so that both sides get the same number of runs: a group runs
    ``repeats`` times (default :func:`repeats_for`), or :data:`CHEAP_REPEATS` times when each
    member had a run of at most :data:`CHEAP_S` seconds, and a round of a group is skipped
    when its previous round would not fit before ``deadline`` (cheapest groups first).
    """
    p = make_problem(n, device)
    reps = repeats if repeats is not None else repeats_for(p.unknowns)
    best: dict[str, Run] = {}
    totals: dict[str, list[float]] = {name: [] for name in solvers}
    walls: dict[str, list[float]] = {name: [] for name in solvers}
    errors: dict[str, BaseException] = {}
    loads: list[float] = []

    def run_one(name: str) -> None:
        gc.collect()
        t0 = time.perf_counter()
        try:
            run = solvers[name](p)
        except Exception as exc:
            errors[name] = exc
            return
        walls[name].append(time.perf_counter() - t0)
        totals[name].append(run.total_s)
        if name not in best or run.total_s < best[name].total_s:
            best[name] = run

    groups = _groups(list(solvers))
    for rep in range(max(reps, CHEAP_REPEATS)):
        start = time.perf_counter()
        ran: list[str] = []
        if rep == 0:
            todo = list(solvers)
        else:
            todo = []
            live = [[m for m in g if m not in errors] for g in groups]
            live = sorted((g for g in live if g), key=lambda g: sum(walls[m][-1] for m in g))
            for g in live:
                cheap = all(min(walls[m]) <= CHEAP_S for m in g)
                if rep >= (max(reps, CHEAP_REPEATS) if cheap else reps):
                    continue
                cost = sum(walls[m][-1] for m in g)
                if time.perf_counter() + cost + sum(walls[m][-1] for m in todo) > deadline:
                    print(f"  time budget reached: {', '.join(g)} not repeated", flush=True)
                    continue
                todo.extend(g)
        for name in todo:
            run_one(name)
            ran.append(name)
        if not ran:
            break
        loads.append(round(os.getloadavg()[0], 2))
        print(
            f"  [{unknowns_label(p.unknowns)}] round {rep + 1} ({len(ran)} solvers): "
            f"{time.perf_counter() - start:.1f} s, 1-min load average {loads[-1]}",
            flush=True,
        )
    rows = []
    for name in solvers:
        row = (
            error_row(name, p, errors[name])
            if name in errors
            else row_from_run(name, p, best[name], totals[name])
        )
        row["load_1m_after_rounds"] = loads
        print_row(row)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- GPU section
def peak_bandwidth_gbs(device: torch.device) -> tuple[float | None, str]:
    """Theoretical memory bandwidth from the device properties, with a note on its origin."""
    props = torch.cuda.get_device_properties(device)
    clock_khz = getattr(props, "memory_clock_rate", 0) or 0
    bus_bits = getattr(props, "memory_bus_width", 0) or 0
    if clock_khz <= 0 or bus_bits <= 0:
        return None, (
            "torch.cuda.get_device_properties gives no memory clock / bus width on this "
            "device, so the peak bandwidth is unknown"
        )
    gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8) / 1e9
    return gbs, (
        f"2 (double data rate) x memory_clock_rate {clock_khz} kHz x memory_bus_width "
        f"{bus_bits} bit / 8, from torch.cuda.get_device_properties"
    )


def spmv_throughput(
    n: int, dtype: torch.dtype, device: torch.device, peak_gbs: float | None, reps: int = 200
) -> dict[str, Any]:
    """Time ``A.matvec(x)`` for ``poisson2d(n)`` on ``device``; bytes moved and GB/s.

    Bytes per product count each stored value and column index once, the row pointers, one
    read of ``x`` and one write of ``y``: the minimum traffic of a CSR SpMV.
    """
    A = poisson2d(n, dtype=dtype).to(device=device)
    N = A.shape[0]
    x = torch.rand(N, dtype=dtype, device=device)
    vsize = torch.finfo(dtype).bits // 8
    isize = A.col_indices.element_size()
    nbytes = A.nnz * (vsize + isize) + (N + 1) * isize + 2 * N * vsize
    for _ in range(10):
        A.matvec(x)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        A.matvec(x)
    sync(device)
    seconds = (time.perf_counter() - t0) / reps
    gbs = nbytes / seconds / 1e9
    return {
        "n": n,
        "unknowns": N,
        "nnz": A.nnz,
        "dtype": str(dtype).removeprefix("torch."),
        "index_dtype": str(A.col_indices.dtype).removeprefix("torch."),
        "bytes_per_spmv": nbytes,
        "seconds": seconds,
        "GBs": gbs,
        "fraction_of_peak": gbs / peak_gbs if peak_gbs else None,
        "repeats": reps,
    }


def gpu_section(
    device: torch.device | str | None,
    spmv_sizes: tuple[int, ...] = (1024, 2048),
    amg_size: int = 2048,
) -> dict[str, Any]:
    """SpMV throughput and sciml AMG-PCG on the GPU against PETSc GAMG on the CPU.

    Parameters
    ----------
    device : torch.device, str or None
        The CUDA device; ``None`` records the section as skipped.
    spmv_sizes : tuple of int
        Grid sizes ``n`` of the SpMV measurements (float64 and float32 each).
    amg_size : int
        Grid size of the AMG-PCG comparison.

    Returns
    -------
    dict
        The ``"gpu"`` section of the JSON.
    """
    if device is None:
        return {"skipped": "no CUDA device"}
    device = torch.device(device)
    out: dict[str, Any] = {"device": str(device)}
    if device.type == "cuda":
        out["name"] = torch.cuda.get_device_name(device)
        peak, note = peak_bandwidth_gbs(device)
    else:  # only used to exercise this code path without a GPU
        out["name"] = "cpu (code-path check, not a GPU measurement)"
        peak, note = None, "not a CUDA device"
    out["peak_bandwidth_GBs"] = peak
    out["peak_bandwidth_note"] = note
    out["spmv_bytes_model"] = (
        "nnz*(value+column index) + (N+1)*row pointer + N*value (x read once) + N*value "
        "(y written): the minimum traffic of one CSR SpMV"
    )
    spmv = []
    for n in spmv_sizes:
        for dtype in (torch.float64, torch.float32):
            row = spmv_throughput(n, dtype, device, peak)
            frac = row["fraction_of_peak"]
            print(
                f"  SpMV n={n}^2 {row['dtype']}: {1e6 * row['seconds']:.1f} us, "
                f"{row['GBs']:.1f} GB/s" + (f" ({100 * frac:.0f}% of peak)" if frac else ""),
                flush=True,
            )
            spmv.append(row)
    out["spmv"] = spmv
    warm_up(device, {SCIML_AMG: run_sciml_amg})
    print_header()
    rows: list[dict[str, Any]] = []
    for solver, dev in ((SCIML_AMG, device), (PETSC_GAMG, torch.device("cpu"))):
        p = make_problem(amg_size, dev)
        gc.collect()
        try:
            run = SOLVERS[solver](p)
            row = row_from_run(solver, p, run, [run.total_s])
        except Exception as exc:
            row = error_row(solver, p, exc)
        print_row(row)
        rows.append(row)
        del p
    out["amg_pcg"] = rows
    return out


# --------------------------------------------------------------------------- targets
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("sciml CG s/iter / scipy CG s/iter ({size}, Jacobi)", "<= 1.2", 1.2),
    ("sciml AMG-PCG iterations at {size}", "<= 30", 30),
    ("sciml AMG-PCG total time (setup+solve) / pyamg SA-CG total ({size})", "<= 1.5", 1.5),
)


def _row(rows: list[dict[str, Any]], solver: str, unknowns: int) -> dict[str, Any] | None:
    """The successful row of ``solver`` at ``unknowns``, if any."""
    for r in rows:
        if r["solver"] == solver and r["unknowns"] == unknowns and "error" not in r:
            return r
    return None


def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The target rows, measured at the largest CPU problem of the run."""
    cpu_rows = [r for r in rows if r.get("device") == "cpu"]
    if not cpu_rows:
        return []
    size = max(r["unknowns"] for r in cpu_rows)
    jac, sjac = _row(rows, SCIML_JACOBI, size), _row(rows, SCIPY_JACOBI, size)
    amg_row, py = _row(rows, SCIML_AMG, size), _row(rows, PYAMG_SA, size)
    measured: list[float | None] = [
        jac["s_per_iter"] / sjac["s_per_iter"]
        if jac and sjac and jac["s_per_iter"] and sjac["s_per_iter"]
        else None,
        float(amg_row["iterations"]) if amg_row else None,
        amg_row["total_s"] / py["total_s"] if amg_row and py else None,
    ]
    out = []
    for (name, target, bound), value in zip(TARGETS, measured, strict=True):
        out.append(
            {
                "name": name.format(size=unknowns_label(size)),
                "unknowns": size,
                "measured": value,
                "target": target,
                "met": value is not None and value <= bound,
            }
        )
    return out


# --------------------------------------------------------------------------- machine and JSON
def petsc_version() -> str | None:
    """PETSc version string, or None if petsc4py cannot be imported."""
    try:
        return ".".join(str(v) for v in _petsc().Sys.getVersion())
    except Exception:
        return None


def machine_info() -> dict[str, Any]:
    """The ``"machine"`` section of the JSON."""
    return common_machine_info(
        scipy=scipy.__version__, pyamg=pyamg.__version__, petsc=petsc_version()
    )


def config_info(sizes: list[int], budget_s: float) -> dict[str, Any]:
    """The ``"config"`` section of the JSON."""
    return {
        "problem": "sciml.linalg.poisson2d(n): 2D Poisson 5-point FD, Dirichlet, float64",
        "sizes_n": sizes,
        "unknowns": [n * n for n in sizes],
        "rhs": f"numpy.random.default_rng({SEED}).random(n**2), the same for every solver",
        "x0": "zero",
        "rtol": RTOL,
        "atol": 0.0,
        "maxiter": {"jacobi": MAXITER_JACOBI, "amg": MAXITER_AMG},
        "stopping_rules": STOPPING_RULES,
        "tolerance_semantics_note": (
            "All five solvers test the 2-norm of the unpreconditioned residual against "
            "rtol*||b|| (x0 = 0, so ||r_0|| = ||b||). sciml confirms with the true residual "
            "before stopping; the peers use the recurrence residual (pyamg recomputes it every "
            "8 iterations). rel_residual is the true ||b - A x|| / ||b|| recomputed with SciPy "
            "for every solver."
        ),
        "preconditioners": {
            SCIML_JACOBI: "sciml.linalg.jacobi(A) (elementwise 1/diag)",
            SCIML_AMG: "sciml.linalg.amg(A) defaults: pyamg SA setup (max_coarse=300), torch "
            "V-cycle, Chebyshev degree 2 pre/post, dense pinv coarsest level",
            SCIPY_JACOBI: "scipy LinearOperator r -> r / diag(A) (elementwise)",
            PYAMG_SA: "pyamg.smoothed_aggregation_solver(A) defaults (symmetric Gauss-Seidel, "
            "max_coarse=10), ml.solve(b, tol=rtol, accel='cg')",
            PETSC_GAMG: "KSPCG + PCGAMG defaults, KSP_NORM_UNPRECONDITIONED, one MPI process",
        },
        "setup_definition": {
            SCIML_JACOBI: "jacobi(A)",
            SCIML_AMG: "amg(A)",
            SCIPY_JACOBI: "1/A.diagonal() and the LinearOperator",
            PYAMG_SA: "pyamg.smoothed_aggregation_solver(A)",
            PETSC_GAMG: "KSP creation + KSPSetUp (the CSR -> AIJ copy is matrix_s, not counted)",
        },
        "threads": {
            "torch": torch.get_num_threads(),
            "scipy_pyamg": "single-threaded sparse kernels (NumPy BLAS for dots)",
            "petsc": "one process (COMM_SELF), no threads",
        },
        "timing": (
            "time.perf_counter around setup and solve (CUDA synchronised); one warm-up solve of "
            f"every solver on poisson2d({WARMUP_N}) first; repeats interleaved across solvers "
            "and peer groups (sciml/scipy Jacobi CG; sciml AMG/pyamg/PETSc) repeated together; "
            "best run (smallest setup+solve) reported: 3 runs below 500k unknowns, 2 above, "
            f"except {CHEAP_REPEATS} for a group whose runs took at most {CHEAP_S:.0f} s; fewer "
            f"if the time budget ({budget_s:.0f} s from the start) runs out"
        ),
    }


# --------------------------------------------------------------------------- markdown
def _results_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown table of result rows."""
    lines = [
        "| solver | device | unknowns | setup s | solve s | total s | iterations | ms/iter "
        "| rel. residual | converged |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        size = f"{r['unknowns']:,} ({r['n']}²)"
        if "error" in r:
            lines.append(f"| {r['solver']} | {r['device']} | {size} | error: {r['error']} |")
            continue
        spi = r["s_per_iter"]
        lines.append(
            f"| {r['solver']} | {r['device']} | {size} | {fmt(r['setup_s'], '.3f')} "
            f"| {fmt(r['solve_s'], '.3f')} | {fmt(r['total_s'], '.3f')} | {r['iterations']} "
            f"| {fmt(1e3 * spi if spi is not None else None, '.3f')} "
            f"| {fmt(r['rel_residual'], '.2e')} | {'yes' if r['converged'] else 'no'} |"
        )
    return lines


def _load_note(data: dict[str, Any]) -> str:
    """One line with the machine's 1-min load average after each repeat, per size."""
    per_size: dict[int, list[float]] = {}
    for r in data["results"]:
        per_size.setdefault(r["unknowns"], r.get("load_1m_after_rounds", []))
    parts = [
        f"{unknowns_label(size)}: {', '.join(f'{v:.2f}' for v in loads)}"
        for size, loads in per_size.items()
        if loads
    ]
    m = data["machine"]
    return (
        f"1-min load average after each round of repeats (it counts this benchmark itself, up to "
        f"{m['torch_threads']} threads; more means other processes competed for the "
        f"{m['cores']} cores): " + "; ".join(parts) + f". Elapsed {data.get('elapsed_s', 0):.0f} s."
    )


def render_markdown(data: dict[str, Any]) -> str:
    """Render the results, targets and GPU tables of a benchmark JSON as markdown.

    Parameters
    ----------
    data : dict
        The content of ``linalg.json``.

    Returns
    -------
    str
        Markdown text (no trailing newline).
    """
    m = data["machine"]
    lines = [
        f"Run of {data['date']} on {m['cpu']} ({m['cores']} cores), torch {m['torch']} with "
        f"{m['torch_threads']} threads, SciPy {m['scipy']}, pyamg {m['pyamg']}, "
        f"PETSc {m['petsc']}, Python {m['python']}, GPU: {m['gpu'] or 'none'}.",
        "",
        "### Results",
        "",
        *_results_table(data["results"]),
        "",
        _load_note(data),
        "",
        "### Targets",
        "",
        *targets_table(data["targets"]),
    ]
    gpu = data.get("gpu") or {}
    lines += ["", "### GPU", ""]
    if "skipped" in gpu:
        lines.append(f"Skipped: {gpu['skipped']}.")
    else:
        peak = gpu.get("peak_bandwidth_GBs")
        bandwidth = (
            f"{peak:.0f} GB/s ({gpu.get('peak_bandwidth_note')})"
            if peak
            else f"unknown ({gpu.get('peak_bandwidth_note')})"
        )
        lines += [
            f"Device: {gpu.get('name')}; peak memory bandwidth {bandwidth}.",
            "",
            "| SpMV | dtype | index | bytes | µs | GB/s | fraction of peak |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        for s in gpu.get("spmv", []):
            lines.append(
                f"| {s['unknowns']:,} ({s['n']}²) | {s['dtype']} | {s['index_dtype']} "
                f"| {s['bytes_per_spmv']:,} | {fmt(1e6 * s['seconds'], '.1f')} "
                f"| {fmt(s['GBs'], '.1f')} | {fmt(s['fraction_of_peak'], '.2f')} |"
            )
        lines += ["", *_results_table(gpu.get("amg_pcg", []))]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(
        description="Benchmark the sciml.linalg solvers against SciPy, pyamg and PETSc."
    )
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="grid sizes n (unknowns n**2); default 256 512 1024",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    ap.add_argument(
        "--quick", action="store_true", help="smoke test: sizes 64 128 (and small GPU sizes)"
    )
    ap.add_argument(
        "--markdown",
        action="store_true",
        help="print the tables of the JSON at --out as markdown and exit (no benchmark run)",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=420.0,
        help="seconds after which no further repeats start (default 420)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads(THREADS) before the run (default: torch's own default)",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or render markdown); return the exit status."""
    args = parse_args(argv)
    if args.markdown:
        with open(args.out, encoding="utf-8") as fh:
            print(render_markdown(json.load(fh)))
        return 0
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sizes = list(QUICK_SIZES) if args.quick else args.sizes
    started = time.perf_counter()
    deadline = started + args.budget
    load_start = os.getloadavg()
    machine = machine_info()
    print(
        f"linalg benchmark: sizes {sizes}, rtol {RTOL:g}, torch threads "
        f"{machine['torch_threads']}, cpu {machine['cpu']}",
        flush=True,
    )
    warm_up()
    print_header()
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows.extend(bench_size(n, SOLVERS, deadline))
    if torch.cuda.is_available():
        print("GPU section", flush=True)
        spmv_sizes, amg_size = ((128, 256), 256) if args.quick else ((1024, 2048), 2048)
        gpu = gpu_section(torch.device("cuda"), spmv_sizes, amg_size)
    else:
        gpu = gpu_section(None)
    machine["load_average_start"] = list(load_start)
    machine["load_average_end"] = list(os.getloadavg())
    data = {
        "benchmark": "linalg",
        "date": datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds"),
        "machine": machine,
        "config": config_info(sizes, args.budget),
        "results": rows,
        "gpu": gpu,
        "targets": evaluate_targets(rows),
        "elapsed_s": time.perf_counter() - started,
    }
    write_json(data, args.out)
    print("", flush=True)
    for t in data["targets"]:
        print(
            f"target: {t['name']}: {fmt(t['measured'], '.3g')} (goal {t['target']}) -> "
            f"{'met' if t['met'] else 'NOT met'}",
            flush=True,
        )
    print(f"wrote {args.out} in {data['elapsed_s']:.0f} s", flush=True)
    failed = [r for r in rows if "error" in r]
    failed += [r for r in gpu.get("amg_pcg", []) if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
