"""Graph DCDM on finite-element matrices of unstructured meshes it never saw, against CG,
IC-PCG and AMG-PCG.

The shipped graph network (:func:`sciml.dcdm.pretrained_graph`, trained on generated
rectangles with holes, ``python -m sciml.dcdm.reproduce --graph``) solves P1 systems of
``-div(kappa grad u) = f``, ``u = 0`` on the boundary, with ``kappa = exp(GRF)`` and ``f`` a GRF
(:func:`sciml.data.generators.fe_poisson.diffusion_system`, seed ``SYSTEM_SEED``), on the 2-D
geometries of ``meshes/`` at level 0, level 1 (both files) and level 2 (level 1 refined once
uniformly), to ``rtol`` relative to ``||b||``. In the same run, on the same systems:

* ``scipy cg``            -- ``scipy.sparse.linalg.cg`` without preconditioner;
* ``petsc icc-pcg``       -- PETSc CG + ICC(0), one process;
* ``sciml amg-pcg``       -- ``sciml.linalg.cg`` with ``sciml.linalg.amg`` (smoothed aggregation);
* ``petsc cg+gamg``       -- PETSc CG + GAMG, one process;
* ``dcdm (graph net)``    -- ``sciml.dcdm.dcdm`` with ``k = 2`` (sciml ``fcg``, true residual);
* ``petsc fcg + graph net`` -- PETSc FCG (``ksp_fcg_mmax 2``) with the same network as a
  Python PC (``sciml.linalg.TorchPC``);
* ``dcdm (untrained net)`` -- ``dcdm`` with ``GraphDCDMNet()`` as initialised: its learned
  corrections are zero, so it is the damped-Jacobi V-cycle on the same hierarchy -- what the
  training adds is the difference to ``dcdm (graph net)``.

Setup: the preconditioner (ICC factorisation, AMG hierarchy; for DCDM the aggregation
hierarchy of the matrix graph). Run ``python benchmarks/dcdm_graph.py`` (``--quick``: level 0
only; ``--markdown``: tables of the results file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dolfinx_solver  # noqa: F401  (before dolfinx / petsc4py)
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dcdm as grid_bench  # noqa: E402
import linalg as lb  # noqa: E402
from _common import (  # noqa: E402
    merge_rows,
    results_document,
    solver_rows_table,
    targets_table,
    write_json,
)

from sciml._files import atomic_output  # noqa: E402
from sciml.data.generators.fe_poisson import diffusion_system, mesh_path  # noqa: E402
from sciml.dcdm import (  # noqa: E402
    GraphDCDMNet,
    GraphDirections,
    dcdm,
    pretrained_graph,
    pretrained_info,
)
from sciml.linalg import petsc_solve  # noqa: E402
from sciml.mesh import load  # noqa: E402

RTOL = 1e-6
SYSTEM_SEED = 7
MESHES = ("l_shape", "plate_with_holes", "naca0012_channel", "annulus")
LEVELS = (0, 1, 2)
MAXITER = 100_000
DCDM_MAXITER = 2_000
DCDM = "dcdm (graph net)"
PETSC_DCDM = "petsc fcg + graph net"
UNTRAINED = "dcdm (untrained net)"


def mesh_at(name: str, level: int) -> Any:
    """``meshes/<name>_<level>.msh``; level 2 is level 1 refined uniformly."""
    if level <= 1:
        return load(mesh_path(name, level))
    return load(mesh_path(name, 1)).refine()


def run_dcdm(p: lb.Problem, model: torch.nn.Module) -> lb.Run:
    """``sciml.dcdm.dcdm`` with the graph network; setup = the matrix graph hierarchy."""
    t0 = time.perf_counter()
    M = GraphDirections(model, p.A)
    t1 = time.perf_counter()
    sol = dcdm(p.A, p.b_torch, M, rtol=RTOL, maxiter=DCDM_MAXITER)
    t2 = time.perf_counter()
    history = (sol.residual_norms / sol.residual_norms[0]).tolist()
    return lb.Run.of(sol, t1 - t0, t2 - t1, levels=len(M.graph.sizes), residual_history=history)


def run_petsc_dcdm(p: lb.Problem, model: torch.nn.Module) -> lb.Run:
    """PETSc FCG (mmax 2, DCDM's k) with the network as a Python PC."""
    t0 = time.perf_counter()
    M = GraphDirections(model, p.A)
    t1 = time.perf_counter()
    sol = petsc_solve(
        p.A,
        p.b_torch,
        ksp="fcg",
        M=M,
        rtol=RTOL,
        maxiter=DCDM_MAXITER,
        options={"ksp_fcg_mmax": 2},
    )
    t2 = time.perf_counter()
    return lb.Run.of(sol, t1 - t0, t2 - t1)


def bench(name: str, level: int, model: torch.nn.Module, only: list[str] | None) -> list[dict]:
    """Every solver on one mesh and level."""
    A, b, _free, _kappa = diffusion_system(mesh_at(name, level), seed=SYSTEM_SEED)
    p = lb.Problem(n=A.shape[0], A=A, A_scipy=A.to_scipy(), b=b.numpy(), b_torch=b)
    runners: dict[str, Callable[[], lb.Run]] = {
        "scipy cg": lambda: grid_bench.run_scipy_cg(p),
        "petsc icc-pcg": lambda: lb.run_petsc_cg(p, "icc", rtol=RTOL, maxiter=MAXITER),
        "sciml amg-pcg": lambda: lb.run_sciml_amg(p, rtol=RTOL),
        "petsc cg+gamg": lambda: lb.run_petsc_cg(p, "gamg", rtol=RTOL),
        DCDM: lambda: run_dcdm(p, model),
        PETSC_DCDM: lambda: run_petsc_dcdm(p, model),
        UNTRAINED: lambda: run_dcdm(p, GraphDCDMNet()),
    }
    rows = []
    for solver, runner in runners.items():
        if only and solver not in only:
            continue
        base = {"mesh": name, "level": level, "unknowns": p.unknowns, "solver": solver}
        try:
            run = runner()
        except Exception as exc:  # report, do not hide: the row says what failed
            rows.append({**base, "error": repr(exc)})
            continue
        row = {
            **base,
            "iterations": run.iterations,
            "setup_s": run.setup_s,
            "solve_s": run.solve_s,
            "total_s": run.total_s,
            "converged": run.converged,
            "relative_residual": lb.relative_residual(p, run.x),
            **run.extra,
        }
        rows.append(row)
        print(
            f"  {name:<18} L{level} {p.unknowns:>7} {solver:<22} its {run.iterations:>6}  "
            f"total {run.total_s:8.3f} s  residual {row['relative_residual']:.1e}",
            flush=True,
        )
    return rows


def compute_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 9's targets from the rows present."""
    ok = [r for r in rows if "iterations" in r]

    def its(mesh: str, level: int, solver: str) -> dict[str, Any] | None:
        return next(
            (r for r in ok if (r["mesh"], r["level"], r["solver"]) == (mesh, level, solver)), None
        )

    targets = []
    for mesh in dict.fromkeys(r["mesh"] for r in ok):
        levels = sorted({r["level"] for r in ok if r["mesh"] == mesh})
        for level in levels:
            mine, icc = its(mesh, level, DCDM), its(mesh, level, "petsc icc-pcg")
            if mine and icc:
                targets.append(
                    {
                        "name": f"{mesh} L{level}: IC-PCG / DCDM iterations"
                        + ("" if mine["converged"] else " (DCDM not converged)"),
                        "measured": icc["iterations"] / mine["iterations"],
                        "target": "> 1",
                        "met": bool(mine["converged"] and icc["iterations"] > mine["iterations"]),
                    }
                )
            theirs = its(mesh, level, PETSC_DCDM)
            if mine and theirs:
                targets.append(
                    {
                        "name": f"{mesh} L{level}: PETSc FCG iterations - sciml DCDM iterations",
                        "measured": theirs["iterations"] - mine["iterations"],
                        "target": "0 (+-1)",
                        "met": bool(abs(theirs["iterations"] - mine["iterations"]) <= 1),
                    }
                )
        if len(levels) >= 2:
            lo, hi = levels[0], levels[-1]
            d_lo, d_hi = its(mesh, lo, DCDM), its(mesh, hi, DCDM)
            a_lo, a_hi = its(mesh, lo, "sciml amg-pcg"), its(mesh, hi, "sciml amg-pcg")
            if d_lo and d_hi and a_lo and a_hi:
                growth = d_hi["iterations"] / d_lo["iterations"]
                amg_growth = a_hi["iterations"] / a_lo["iterations"]
                targets.append(
                    {
                        "name": f"{mesh} L{lo}->L{hi}: DCDM iteration growth "
                        f"(AMG-PCG's: {amg_growth:.2f})",
                        "measured": growth,
                        "target": "<= AMG-PCG's growth",
                        "met": bool(d_hi["converged"] and growth <= amg_growth),
                    }
                )
    return targets


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    rows = sorted(data["results"], key=lambda r: (r["mesh"], r["level"]))
    lines = solver_rows_table(
        rows,
        ["mesh", "level", "unknowns"],
        lambda r: [r["mesh"], str(r["level"]), f"{r['unknowns']:,}"],
        ["---", "---:", "---:"],
    )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def plot(data: dict[str, Any], path: Path) -> Path:
    """Iterations against unknowns, one panel per mesh, one line per solver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    meshes = list(dict.fromkeys(r["mesh"] for r in data["results"]))
    fig, axes = plt.subplots(1, len(meshes), figsize=(4.2 * len(meshes), 4), squeeze=False)
    for ax, mesh in zip(axes[0], meshes, strict=True):
        mine = [r for r in data["results"] if r["mesh"] == mesh and "iterations" in r]
        for solver in dict.fromkeys(r["solver"] for r in mine):
            pts = sorted((r["unknowns"], r["iterations"]) for r in mine if r["solver"] == solver)
            n, its = zip(*pts, strict=True)
            style = "o-" if "graph net" in solver else (":" if "untrained" in solver else ".--")
            ax.loglog(n, its, style, label=solver)
        ax.set_title(mesh)
        ax.xaxis.set_minor_formatter(NullFormatter())  # the minor labels overlap
        ax.set_xlabel("unknowns")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel(f"iterations to rtol {data['config']['rtol']:g}")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Graph DCDM on unseen unstructured meshes (P1, kappa = exp(GRF)), CPU")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the meshes and levels and merge their rows into the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meshes", nargs="+", default=list(MESHES))
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--quick", action="store_true", help="level 0 only (smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dcdm_graph.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    parser.add_argument("--solvers", nargs="+", default=None, help="run only these rows")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    model = pretrained_graph()
    info = pretrained_info("graph")
    config = {
        "description": __doc__.split("\n\n", 2)[1],
        "rtol": RTOL,
        "system_seed": SYSTEM_SEED,
        "dcdm_k": 2,
        "network": {k: info[k] for k in ("command", "training_meshes") if k in info},
        "torch_threads": torch.get_num_threads(),
        "gpu": "not run: no GPU on this machine" if not torch.cuda.is_available() else "see rows",
    }
    levels = [0] if args.quick else args.levels
    data: dict[str, Any] = {}
    for name in args.meshes:
        for level in levels:
            rows = bench(name, level, model, args.solvers)
            results = merge_rows(args.out, rows, key=("mesh", "level", "solver"))
            data = results_document("dcdm_graph", config, results, compute_targets(results))
            write_json(data, args.out)  # after every case: a long run keeps what it measured
    print(f"plot: {plot(data, args.out.with_suffix('.png'))}")
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
