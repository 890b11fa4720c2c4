"""Generation throughput of every registered dataset generator (samples per second).

Each generator runs at its default sizes (the recipes of ``../shared/methods.md``) for a small
number of samples, after one warm-up sample, serially with torch's default threads. Results go
to ``benchmarks/results/data.json``; ``--markdown`` prints the table of an existing file.
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

from sciml.data import GENERATORS, generate  # noqa: E402

# samples per generator: enough for a stable rate, small enough for a few minutes in total
SAMPLES = {
    "antiderivative": 200,
    "pendulum": 20,
    "diffusion_reaction": 100,
    "burgers": 16,
    "darcy": 20,
    "poisson_meshes": 20,
    "diffusion_sorption": 2,
    "navier_stokes_2d": 2,
}


def bench(name: str, n: int) -> dict[str, Any]:
    """Time ``generate(name, n)`` after a one-sample warm-up."""
    generate(name, 1, seed=1)
    start = time.perf_counter()
    data = generate(name, n, seed=0, chunk_size=n)
    seconds = time.perf_counter() - start
    finite = all(bool(torch.isfinite(v).all()) for v in {**data.inputs, **data.outputs}.values())
    shapes = {k: list(v.shape[1:]) for k, v in {**data.inputs, **data.outputs}.items()}
    return {
        "generator": name,
        "samples": n,
        "seconds": seconds,
        "samples_per_s": n / seconds,
        "finite": finite,
        "shapes": shapes,
    }


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown table of a results file."""
    lines = [
        "| generator | samples | seconds | samples/s | fields (per-sample shape) |",
        "|---|---:|---:|---:|---|",
    ]
    for r in data["results"]:
        fields = ", ".join(f"{k} {tuple(v)}" for k, v in r["shapes"].items())
        lines.append(
            f"| {r['generator']} | {r['samples']} | {fmt(r['seconds'], '.2f')} | "
            f"{fmt(r['samples_per_s'], '.3g')} | {fields} |"
        )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="generators to run (default all)")
    parser.add_argument("--quick", action="store_true", help="2 samples each")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "data.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    names = args.only or sorted(GENERATORS)
    rows = []
    for name in names:
        n = 2 if args.quick else SAMPLES.get(name, 10)
        row = bench(name, n)
        rows.append(row)
        print(
            f"{name:<20} {n:>4} samples {row['seconds']:8.2f} s {row['samples_per_s']:9.3g}/s",
            flush=True,
        )
    targets = [
        {
            "name": "every generator produces finite data at its default sizes",
            "measured": float(sum(r["finite"] for r in rows)),
            "target": f"== {len(rows)}",
            "met": all(r["finite"] for r in rows),
        }
    ]
    data = {
        "benchmark": "data",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {
            "timing": "generate(name, n, seed=0, chunk_size=n) after a 1-sample warm-up, serial",
            "samples": {r["generator"]: r["samples"] for r in rows},
        },
        "results": rows,
        "targets": targets,
    }
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
