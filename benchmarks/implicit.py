"""Implicit versus unrolled differentiation of an iterative solver: memory and time.

The solver is a fixed-point iteration ``x <- tanh(x W^T + b)`` (a contraction, batch 64 x 512)
run for a fixed number of iterations K = 10, 100, 1000. Unrolled backpropagation records every
iteration in the autograd graph; :func:`sciml.implicit.custom_fixed_point` records nothing in the
forward pass and solves one adjoint system (GMRES on vector-Jacobian products) in the backward
pass. Memory is the number of bytes autograd saves for backward (counted with
``torch.autograd.graph.saved_tensors_hooks`` over forward and backward), which is what grows
with K; time is wall-clock forward + backward. Target: the implicit path's memory stays flat
(1000 vs 10 iterations within 10%).

Run ``python benchmarks/implicit.py``; results go to ``benchmarks/results/implicit.json``;
``--markdown`` prints the tables of an existing results file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt, machine_info, targets_table, write_json  # noqa: E402

from sciml.implicit import custom_fixed_point  # noqa: E402

BATCH, DIM = 64, 512


def step(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One application of the contraction."""
    return torch.tanh(x @ W.T + b)


def iterate(x0: torch.Tensor, W: torch.Tensor, b: torch.Tensor, iterations: int) -> torch.Tensor:
    """The solver: ``iterations`` fixed-point steps."""
    x = x0
    for _ in range(iterations):
        x = step(x, W, b)
    return x


def measure(mode: str, iterations: int, device: torch.device) -> dict[str, Any]:
    """Forward + backward of ``sum(x*^2)`` w.r.t. W and b; saved bytes and seconds."""
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(DIM, DIM, generator=gen, dtype=torch.float64)
    W = (0.5 * W / torch.linalg.matrix_norm(W, ord=2)).to(device).requires_grad_(True)
    b = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64).to(device).requires_grad_(True)
    x0 = torch.zeros(BATCH, DIM, dtype=torch.float64, device=device)
    saved = {"bytes": 0}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved["bytes"] += t.numel() * t.element_size()
        return t

    if mode == "implicit":
        solver = custom_fixed_point(step, solve="gmres", batched=True, rtol=1e-10)(
            lambda x, w, c: iterate(x, w, c, iterations)
        )
    else:
        solver = lambda x, w, c: iterate(x, w, c, iterations)
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        x = solver(x0, W, b)
        forward = time.perf_counter() - start
        gW, gb = torch.autograd.grad(x.square().sum(), (W, b))
    total = time.perf_counter() - start
    return {
        "mode": mode,
        "iterations": iterations,
        "saved_bytes": saved["bytes"],
        "forward_s": forward,
        "forward_backward_s": total,
        "grad_W_norm": float(gW.norm()),
        "grad_b_norm": float(gb.norm()),
    }


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    lines = [
        "| mode | iterations | saved for backward | forward s | forward + backward s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['mode']} | {r['iterations']} | {r['saved_bytes'] / 2**20:.1f} MiB | "
            f"{fmt(r['forward_s'], '.3f')} | {fmt(r['forward_backward_s'], '.3f')} |"
        )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--quick", action="store_true", help="iterations 5 and 20")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "implicit.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    counts = [5, 20] if args.quick else args.iterations
    measure("implicit", 2, device)  # warm-up
    rows = []
    for k in counts:
        for mode in ("unrolled", "implicit"):
            row = measure(mode, k, device)
            rows.append(row)
            print(
                f"{mode:>8} K={k:>5}: saved {row['saved_bytes'] / 2**20:9.1f} MiB, "
                f"forward+backward {row['forward_backward_s']:.3f} s",
                flush=True,
            )
    by = {(r["mode"], r["iterations"]): r for r in rows}
    lo, hi = min(counts), max(counts)
    flat = by[("implicit", hi)]["saved_bytes"] / by[("implicit", lo)]["saved_bytes"]
    grad_err = abs(by[("implicit", hi)]["grad_W_norm"] - by[("unrolled", hi)]["grad_W_norm"])
    targets = [
        {
            "name": f"implicit saved memory, {hi} / {lo} iterations",
            "measured": flat,
            "target": "<= 1.1",
            "met": bool(flat <= 1.1),
        },
        {
            "name": f"unrolled / implicit saved memory at {hi} iterations (context)",
            "measured": by[("unrolled", hi)]["saved_bytes"] / by[("implicit", hi)]["saved_bytes"],
            "target": "> 1 (report)",
            "met": True,
        },
        {
            "name": f"relative difference of norm(dL/dW), implicit vs unrolled, {hi} iterations",
            "measured": grad_err / by[("unrolled", hi)]["grad_W_norm"],
            "target": "<= 1e-6",
            "met": bool(grad_err / by[("unrolled", hi)]["grad_W_norm"] <= 1e-6),
        },
    ]
    data = {
        "benchmark": "implicit",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {
            "problem": f"x <- tanh(x W^T + b), batch {BATCH} x {DIM}, ||W||_2 = 0.5, float64",
            "loss": "sum(x*^2), gradients w.r.t. W and b",
            "implicit": "custom_fixed_point(step, solve='gmres', batched=True, rtol=1e-10)",
            "memory": "bytes packed by torch.autograd.graph.saved_tensors_hooks over forward "
            "and backward (the autograd graph's saved tensors)",
            "device": str(device),
        },
        "results": rows,
        "targets": targets,
    }
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
