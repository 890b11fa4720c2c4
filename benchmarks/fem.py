"""Finite-element assembly into sciml.linalg: what does the conversion cost?

Assembles the P1 stiffness matrix of the unit square with dolfinx (its own CSR assembly, and the
PETSc assembly for reference) and times the conversion of the result into a
``sciml.linalg.SparseMatrix`` (``MatrixCSR.to_scipy`` + ``SparseMatrix.from_scipy``), at about
66k, 263k and 1M dofs. Target: conversion overhead <= 20% of the dolfinx assembly time at 1M dofs.

Run ``python benchmarks/fem.py`` (or ``--quick``); results go to ``benchmarks/results/fem.json``;
``--markdown`` prints the tables of an existing results file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt, machine_info, targets_table, write_json  # noqa: E402

importlib.import_module("dolfinx_solver")  # must precede dolfinx

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402
import ufl  # noqa: E402

from sciml.fem import FunctionSpace, stiffness  # noqa: E402
from sciml.linalg import SparseMatrix  # noqa: E402
from sciml.mesh import unit_square  # noqa: E402

TARGET = 0.20


def best_of(fn: Any, repeats: int) -> tuple[float, Any]:
    """Smallest wall time of ``repeats`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench(n: int, repeats: int) -> dict[str, Any]:
    """Time assembly and conversion on an n x n unit-square P1 mesh."""
    V = FunctionSpace(unit_square(n), "P", 1)
    u, v = ufl.TrialFunction(V.dolfinx_space), ufl.TestFunction(V.dolfinx_space)
    form = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)  # compiled once

    def assemble_csr() -> Any:
        A = dolfinx.fem.assemble_matrix(form)
        A.scatter_reverse()
        return A

    def assemble_petsc() -> Any:
        A = dolfinx.fem.petsc.assemble_matrix(form)
        A.assemble()
        return A

    t_csr, A = best_of(assemble_csr, repeats)
    t_petsc, Ap = best_of(assemble_petsc, repeats)
    Ap.destroy()
    t_convert, S = best_of(lambda: SparseMatrix.from_scipy(A.to_scipy()), repeats)
    t_sciml, S2 = best_of(lambda: stiffness(V), repeats)
    assert S.nnz == S2.nnz
    return {
        "n": n,
        "dofs": V.num_dofs,
        "nnz": S.nnz,
        "dolfinx_csr_assembly_s": t_csr,
        "dolfinx_petsc_assembly_s": t_petsc,
        "conversion_s": t_convert,
        "conversion_over_assembly": t_convert / t_csr,
        "sciml_stiffness_total_s": t_sciml,
        "sciml_total_over_petsc_assembly": t_sciml / t_petsc,
    }


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    lines = [
        "| dofs | nnz | dolfinx CSR assembly s | PETSc assembly s | conversion s | "
        "conversion / assembly | sciml.fem.stiffness s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['dofs']:,} | {r['nnz']:,} | {fmt(r['dolfinx_csr_assembly_s'], '.3f')} | "
            f"{fmt(r['dolfinx_petsc_assembly_s'], '.3f')} | {fmt(r['conversion_s'], '.4f')} | "
            f"{fmt(r['conversion_over_assembly'], '.1%')} | "
            f"{fmt(r['sciml_stiffness_total_s'], '.3f')} |"
        )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="sizes 32 64, one repeat")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fem.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    sizes, repeats = ([32, 64], 1) if args.quick else (args.sizes, args.repeats)
    rows = []
    for n in sizes:
        row = bench(n, repeats)
        rows.append(row)
        print(
            f"{row['dofs']:>9,} dofs: assembly {row['dolfinx_csr_assembly_s']:.3f} s, "
            f"conversion {row['conversion_s']:.4f} s "
            f"({row['conversion_over_assembly']:.1%}), "
            f"PETSc {row['dolfinx_petsc_assembly_s']:.3f} s",
            flush=True,
        )
    largest = max(rows, key=lambda r: r["dofs"])
    targets = [
        {
            "name": f"conversion overhead / dolfinx assembly ({largest['dofs']:,} P1 dofs)",
            "measured": largest["conversion_over_assembly"],
            "target": f"<= {TARGET}",
            "met": bool(largest["conversion_over_assembly"] <= TARGET),
        }
    ]
    data = {
        "benchmark": "fem",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(dolfinx=dolfinx.__version__),
        "config": {
            "problem": "P1 stiffness matrix on unit_square(n) triangles",
            "repeats": repeats,
            "timing": "best of `repeats` wall times; the form is compiled once beforehand",
            "conversion": "dolfinx MatrixCSR.to_scipy() + SparseMatrix.from_scipy (dolfinx's "
            "arrays are read-only, so indices and values are copied)",
        },
        "results": rows,
        "targets": targets,
    }
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
