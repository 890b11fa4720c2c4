"""DCDM against CG, IC-PCG and AMG-PCG on obstacle scenes the network never saw.

The pretrained networks (:func:`sciml.dcdm.pretrained`, trained on the *empty* domain) solve
the pressure-Poisson system of one obstacle scene (``obstacle_scene(seed=SCENE_SEED)``: disks
and boxes drawn in the unit square/cube, so the geometry is the same at every resolution) with
the right-hand side of a projection step (``divergence_rhs``: the divergence of a smooth random
velocity, no flux through walls), at several resolutions, to ``rtol`` relative to ``||b||``.
In the same run, on the same systems:

* ``scipy cg``            -- ``scipy.sparse.linalg.cg`` without preconditioner;
* ``petsc icc-pcg``       -- PETSc CG + ICC(0) (incomplete Cholesky), one process;
* ``sciml amg-pcg``       -- ``sciml.linalg.cg`` with ``sciml.linalg.amg`` (smoothed aggregation);
* ``petsc cg+gamg``       -- PETSc CG + GAMG, one process;
* ``dcdm (paper net)``    -- ``sciml.dcdm.dcdm`` with ``k = 2`` and the paper's network (float32);
* ``dcdm (paper net, multilevel directions)`` -- the same network also applied to the 2x, 4x, ...
  coarsened residual, all directions used at once (``dcdm(..., levels="auto")``);
* ``dcdm (paper net + coarse grid)`` -- the paper's network plus an exact Galerkin correction on
  a grid 8x coarser per axis, both directions used at once (``dcdm(..., coarse=8)``);
* ``jacobi + coarse grid (no network)`` -- the same two-level iteration with the network's
  direction replaced by the Jacobi-scaled residual: what the coarse grid does without the
  network (:func:`sciml.linalg.conjugate_directions`, ``truncation = 2``).

Reported per solver and size: iterations, setup and solve seconds, the true relative residual.
Setup: the preconditioner (ICC factorisation, AMG hierarchy; for DCDM with a coarse grid the
interpolation and the factorised coarse matrix); the network is loaded once, outside the
timing. CPU threads: torch's default.

Run ``python benchmarks/dcdm.py`` (``--quick`` for a smoke test, ``--markdown`` for tables).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import linalg as lb  # noqa: E402
from _common import (  # noqa: E402
    machine_info,
    merge_rows,
    results_document,
    solver_rows_table,
    targets_table,
    write_json,
)

from sciml._files import atomic_output  # noqa: E402
from sciml.dcdm import (  # noqa: E402
    GridPoisson,
    MultilevelDirections,
    dcdm,
    divergence_rhs,
    obstacle_scene,
    pretrained,
)
from sciml.linalg import conjugate_directions  # noqa: E402

RTOL = 1e-6
SCENE_SEED = 11
RHS_SEED = 0
SIZES = {2: (64, 128, 256, 512, 1024), 3: (32, 64, 128)}
QUICK = {2: (32, 64), 3: (16,)}
#: sizes of a GPU run (``--device cuda``): the issue's ">= 256^2 ... 2048^2 and 128^3 or larger"
GPU_SIZES = {2: (256, 512, 1024, 2048), 3: (64, 128)}
#: warm-up size per dimension before a GPU run's timed sizes (CUDA context, cuDNN kernels)
WARMUP = {2: 32, 3: 16}
MAXITER = 100_000
DCDM_MAXITER = 2_000
#: DCDM rows: name -> (shipped variant, ``levels``, ``coarse`` of :func:`sciml.dcdm.dcdm`)
DCDM: dict[str, tuple[str, int | str, int | None]] = {
    "dcdm (paper net)": ("paper", 1, None),
    "dcdm (paper net, multilevel directions)": ("paper", "auto", None),
    "dcdm (paper net + coarse grid)": ("paper", 1, 8),
}


def make_system(
    dim: int, n: int, device: torch.device | str = "cpu"
) -> tuple[GridPoisson, lb.Problem]:
    """The scene's system (matrix on ``device``) and the linalg benchmark's problem record."""
    system = GridPoisson(obstacle_scene((n,) * dim, seed=SCENE_SEED, count=8))
    b = divergence_rhs(system, seed=RHS_SEED)
    A_scipy = system.matrix.to_scipy()
    system = system.to(device=device)
    problem = lb.Problem(
        n=n, A=system.matrix, A_scipy=A_scipy, b=b.numpy(), b_torch=b.to(system.matrix.device)
    )
    return system, problem


def run_scipy_cg(p: lb.Problem) -> lb.Run:
    """Unpreconditioned ``scipy.sparse.linalg.cg``; iterations counted by the callback."""
    count = [0]

    def callback(_x: np.ndarray) -> None:
        count[0] += 1

    t0 = time.perf_counter()
    x, info = spla.cg(p.A_scipy, p.b, rtol=RTOL, atol=0.0, maxiter=MAXITER, callback=callback)
    t1 = time.perf_counter()
    return lb.Run(0.0, t1 - t0, count[0], x, info == 0, {"info": int(info)})


def run_dcdm(
    p: lb.Problem,
    system: GridPoisson,
    model: torch.nn.Module,
    maxiter: int = DCDM_MAXITER,
    levels: int | str = 1,
    coarse: int | None = None,
) -> lb.Run:
    """``sciml.dcdm.dcdm`` with the pretrained network; a coarse grid is set up first.

    The network runs on its own device (the system's, see :func:`bench`); CUDA is synchronised
    before every clock reading.
    """
    lb.sync(p.device)
    t0 = time.perf_counter()
    how: torch.nn.Module | MultilevelDirections = model
    if coarse is not None:
        how = MultilevelDirections(
            model, system, None if levels == "auto" else int(levels), coarse=coarse
        )
    lb.sync(p.device)
    t1 = time.perf_counter()
    sol = dcdm(system, p.b_torch, how, rtol=RTOL, maxiter=maxiter, levels=levels)
    lb.sync(p.device)
    t2 = time.perf_counter()
    history = (sol.residual_norms / sol.residual_norms[0]).cpu().tolist()
    return lb.Run.of(sol, t1 - t0, t2 - t1, residual_history=history)


def run_two_level_jacobi(p: lb.Problem, system: GridPoisson, coarse: int = 8) -> lb.Run:
    """Conjugate directions over ``[D^-1 r, coarse-grid correction]``: no network."""
    lb.sync(p.device)
    t0 = time.perf_counter()
    A = system.matrix
    C = system.coarse_correction(coarse)
    dinv = 1.0 / A.diagonal()
    lb.sync(p.device)
    t1 = time.perf_counter()
    sol = conjugate_directions(
        A,
        p.b_torch,
        lambda r: torch.stack([r * dinv, C @ r], 1),
        rtol=RTOL,
        truncation=2,
        maxiter=MAXITER,
    )
    lb.sync(p.device)
    t2 = time.perf_counter()
    return lb.Run.of(sol, t1 - t0, t2 - t1)


def bench(
    dim: int,
    n: int,
    models: dict[str, torch.nn.Module],
    dcdm_maxiter: int = DCDM_MAXITER,
    only: list[str] | None = None,
    device: torch.device | str = "cpu",
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Every solver on the scene at ``n`` cells per axis.

    On a CUDA ``device`` only the torch solvers run (sciml AMG-PCG, the Jacobi two-level
    iteration and the DCDM rows, the networks moved there in float32), and their names get a
    ``[cuda]`` suffix; SciPy and PETSc are CPU-only and are measured by the CPU run.
    """
    device = torch.device(device)
    machine = machine_info() if device.type != "cpu" else None
    system, p = make_system(dim, n, device)
    runners: dict[str, Callable[[], lb.Run]] = {
        "scipy cg": lambda: run_scipy_cg(p),
        "petsc icc-pcg": lambda: lb.run_petsc_cg(p, "icc", rtol=RTOL, maxiter=MAXITER),
        "sciml amg-pcg": lambda: lb.run_sciml_amg(p, rtol=RTOL),
        "petsc cg+gamg": lambda: lb.run_petsc_cg(p, "gamg", rtol=RTOL),
        "jacobi + coarse grid (no network)": lambda: run_two_level_jacobi(p, system),
    }
    if device.type != "cpu":
        runners = {k: runners[k] for k in ("sciml amg-pcg", "jacobi + coarse grid (no network)")}
    for name, model in models.items():
        _, levels, coarse = DCDM[name]
        runners[name] = lambda model=model, levels=levels, coarse=coarse: run_dcdm(
            p, system, model, dcdm_maxiter, levels, coarse
        )
    if only:
        runners = {name: run for name, run in runners.items() if name in only}
    suffix = "" if device.type == "cpu" else f" [{device.type}]"
    rows = []
    for base, runner in runners.items():
        name = base + suffix
        load = os.getloadavg()[0]
        try:
            run = runner()
        except Exception as exc:  # report, do not hide: the row says what failed
            failed = {"dim": dim, "n": n, "unknowns": system.n, "solver": name}
            rows.append({**failed, "error": repr(exc)})
            continue
        row = {
            "dim": dim,
            "n": n,
            "unknowns": system.n,
            "solver": name,
            "iterations": run.iterations,
            "setup_s": run.setup_s,
            "solve_s": run.solve_s,
            "total_s": run.total_s,
            "converged": run.converged,
            "relative_residual": lb.relative_residual(p, run.x),
            "load_average_before": load,
            **{k: v for k, v in run.extra.items() if k != "residual_history"},
        }
        if "residual_history" in run.extra:
            row["residual_history"] = run.extra["residual_history"]
        rows.append(row)
        if device.type != "cpu":
            row["device"] = torch.cuda.get_device_name(device)
            row["machine"] = machine
        if quiet:
            continue
        print(
            f"  {dim}D {n:>5}^{dim} {name:<22} its {run.iterations:>6}  "
            f"total {run.total_s:8.3f} s  residual {row['relative_residual']:.1e}",
            flush=True,
        )
    return rows


def compute_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The DCDM issue's targets from the rows present."""
    targets = []
    for dim in (2, 3):
        for solver in DCDM:
            targets += _dcdm_targets(rows, dim, solver)
    for dim in (2, 3):  # after all CPU rows, as in the JSON written before
        for solver in DCDM:
            targets += _gpu_targets(rows, dim, solver)
    return targets


def _gpu_targets(rows: list[dict[str, Any]], dim: int, solver: str) -> list[dict[str, Any]]:
    """AMG-PCG / DCDM wall time, both on the GPU, at the largest size both ran."""
    mine = {
        r["n"]: r
        for r in rows
        if r["dim"] == dim and r["solver"] == f"{solver} [cuda]" and "iterations" in r
    }
    amg = {
        r["n"]: r
        for r in rows
        if r["dim"] == dim and r["solver"] == "sciml amg-pcg [cuda]" and "iterations" in r
    }
    both = sorted(set(mine) & set(amg))
    if not both:
        return []
    n = both[-1]
    value = amg[n]["total_s"] / mine[n]["total_s"]
    converged = bool(mine[n]["converged"])
    return [
        {
            "name": f"{dim}D {n}^{dim} GPU: AMG-PCG / {solver} wall time"
            + ("" if converged else " (DCDM not converged)"),
            "measured": value,
            "target": "> 1",
            "met": bool(value > 1 and converged),
        }
    ]


def _dcdm_targets(rows: list[dict[str, Any]], dim: int, solver: str) -> list[dict[str, Any]]:
    mine = [r for r in rows if r["dim"] == dim and r["solver"] == solver and "iterations" in r]
    its = {r["n"]: r["iterations"] for r in mine}
    if len(its) < 2:
        return []
    ratio = max(its.values()) / min(its.values())
    sizes = sorted(its)
    all_converged = all(r["converged"] for r in mine)
    targets = [
        {
            "name": f"{dim}D {solver}: iterations max/min over {sizes[0]}..{sizes[-1]}"
            + ("" if all_converged else " (not all converged)"),
            "measured": ratio,
            "target": "<= 1.5",
            "met": bool(ratio <= 1.5 and all_converged),
        }
    ]
    largest = sizes[-1]
    at = {
        r["solver"]: r for r in rows if r["dim"] == dim and r["n"] == largest and "iterations" in r
    }
    bound = "" if at[solver]["converged"] else " (DCDM not converged: an upper bound)"
    for peer, goal in (("petsc icc-pcg", 5.0), ("scipy cg", 20.0)):
        if peer in at:
            value = at[peer]["iterations"] / its[largest]
            targets.append(
                {
                    "name": f"{dim}D {largest}^{dim}: {peer} / {solver} iterations{bound}",
                    "measured": value,
                    "target": f">= {goal:g}",
                    "met": bool(value >= goal),
                }
            )
    if "sciml amg-pcg" in at:
        value = at["sciml amg-pcg"]["total_s"] / at[solver]["total_s"]
        targets.append(
            {
                "name": f"{dim}D {largest}^{dim} CPU: AMG-PCG / {solver} wall time",
                "measured": value,
                "target": "> 1 (the issue's target is on a GPU; CPU reported)",
                "met": bool(value > 1),
            }
        )
    return targets


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    rows = sorted(data["results"], key=lambda r: (r["dim"], r["n"]))
    lines = solver_rows_table(
        rows,
        ["dim", "cells", "unknowns"],
        lambda r: [f"{r['dim']}D", f"{r['n']}^{r['dim']}", f"{r['unknowns']:,}"],
        ["---", "---:", "---:"],
    )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def plot(data: dict[str, Any], path: Path) -> Path:
    """Iterations and wall time against the number of unknowns, one line per solver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted({r["dim"] for r in data["results"]})
    fig, axes = plt.subplots(len(dims), 2, figsize=(11, 4 * len(dims)), squeeze=False)
    for row, dim in enumerate(dims):
        mine = [r for r in data["results"] if r["dim"] == dim and "iterations" in r]
        for solver in dict.fromkeys(r["solver"] for r in mine):
            pts = sorted(
                (r["unknowns"], r["iterations"], r["total_s"])
                for r in mine
                if r["solver"] == solver
            )
            n, its, secs = zip(*pts, strict=True)
            style = "o-" if solver.startswith("dcdm") else ".--"
            axes[row, 0].loglog(n, its, style, label=solver)
            axes[row, 1].loglog(n, secs, style, label=solver)
            failed = [
                (r["unknowns"], r["iterations"])
                for r in mine
                if r["solver"] == solver and not r["converged"]
            ]
            if failed:
                fx, fy = zip(*failed, strict=True)
                axes[row, 0].plot(fx, fy, "kx", ms=10, mew=2, label=f"{solver}: not converged")
        axes[row, 0].set_ylabel(f"{dim}D: iterations to rtol {data['config']['rtol']:g}")
        axes[row, 1].set_ylabel(f"{dim}D: setup + solve [s]")
        for ax in axes[row]:
            ax.set_xlabel("unknowns (fluid cells)")
            ax.grid(True, which="both", alpha=0.3)
        axes[row, 0].legend(fontsize=8)
    fig.suptitle(
        "DCDM (trained on the empty domain) on an unseen obstacle scene; CPU, rows [cuda] on a GPU"
    )
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the sizes and merge their rows into the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", choices=(2, 3), default=[2, 3])
    parser.add_argument("--sizes2d", type=int, nargs="+", default=None)
    parser.add_argument("--sizes3d", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dcdm.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    parser.add_argument("--solvers", nargs="+", default=None, help="run only these rows")
    parser.add_argument(
        "--dcdm-maxiter", type=int, default=DCDM_MAXITER, help="iteration limit of DCDM"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="cuda: the GPU section -- sciml AMG-PCG and DCDM on the GPU at the GPU sizes "
        "(rows named '... [cuda]'); cpu (default): every solver on the CPU",
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device on this machine")
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    default_sizes = GPU_SIZES if device.type == "cuda" else SIZES
    sizes = {k: list(v) for k, v in (QUICK if args.quick else default_sizes).items()}
    if args.sizes2d:
        sizes[2] = args.sizes2d
    if args.sizes3d:
        sizes[3] = args.sizes3d
    config = {
        "description": __doc__.split("\n\n", 2)[1],
        "rtol": RTOL,
        "scene_seed": SCENE_SEED,
        "rhs_seed": RHS_SEED,
        "dcdm_maxiter": args.dcdm_maxiter,
        "torch_threads": torch.get_num_threads(),
    }
    data: dict[str, Any] = {}
    for dim in args.dims:
        models = {}
        for name, (variant, _levels, _coarse) in DCDM.items():
            try:
                models[name] = pretrained(dim, variant=variant).to(device)
            except FileNotFoundError as exc:
                print(f"no {name} in {dim}D: {exc}", flush=True)
        if not models:
            continue
        if device.type == "cuda":  # CUDA context, cuDNN kernel choice: not in the timings
            bench(dim, WARMUP[dim], models, args.dcdm_maxiter, args.solvers, device, quiet=True)
        for n in sizes[dim]:
            # written after every size, so that a long run keeps what it measured
            rows = bench(dim, n, models, args.dcdm_maxiter, args.solvers, device)
            results = merge_rows(args.out, rows, key=("dim", "n", "solver"))
            gpus = sorted({r["device"] for r in results if "device" in r})
            config["gpu"] = ", ".join(gpus) if gpus else "not run: no GPU lent so far"
            data = results_document(
                "dcdm",
                config,
                results,
                compute_targets(results),
                machine_of=args.out if device.type != "cpu" else None,  # keep the CPU's
            )
            write_json(data, args.out)
    if not data:
        print("nothing was run")
        return 1
    print(f"plot: {plot(data, args.out.with_suffix('.png'))}")
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
