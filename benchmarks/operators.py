"""DeepONet on the antiderivative operator: the recipe of the DeepONet paper, reproduced.

Recipe (``../shared/methods.md`` section 1): inputs from a 1-D GRF with RBF kernel, length
scale 0.2, at m = 100 sensors; 10,000 training triplets ``(u, y, G(u)(y))`` (one random query
point per function, pointwise layout), 100,000 test triplets (1,000 held-out functions x 100
points); branch ``[100, 40, 40]``, trunk ``[1, 40, 40]``, ReLU, Glorot normal, trained output
bias; Adam lr 1e-3, full batch, 50,000 iterations; metric: test MSE (paper: 9.3e-7).
Target (issue 6): test MSE <= 1e-6.

The side-by-side runs against DeepXDE and neuraloperator are not part of this script yet.
Run ``python benchmarks/operators.py`` (``--iterations`` to shorten); results go to
``benchmarks/results/operators.json``; ``--markdown`` prints the table.
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

from sciml.data import generate  # noqa: E402
from sciml.operators import DeepONet  # noqa: E402

PAPER_MSE = 9.3e-7


def antiderivative_recipe(
    iterations: int, seed: int = 0, schedule: str = "constant"
) -> dict[str, Any]:
    """Train and test the paper's DeepONet; return errors, timings and the loss history."""
    torch.manual_seed(seed)
    train = generate("antiderivative", 10_000, seed=seed, chunk_size=2_000)
    test = generate("antiderivative", 1_000, seed=seed + 1, chunk_size=1_000)
    x = train.coords["x"].float()
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, x.numel(), (10_000,), generator=gen)
    u_train = train.inputs["u"].float()
    y_train = x[idx][:, None]
    s_train = train.outputs["s"].float()[torch.arange(10_000), idx]
    u_test, s_test = test.inputs["u"].float(), test.outputs["s"].float()

    model = DeepONet([100, 40, 40], [1, 40, 40], activation="relu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iterations)
        if schedule == "cosine"
        else None
    )
    history = []
    start = time.perf_counter()
    for it in range(1, iterations + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(u_train, y_train, layout="pointwise") - s_train) ** 2).mean()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if it % max(iterations // 50, 1) == 0 or it == iterations:
            history.append((it, loss.item()))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = model(u_test, x[:, None])
    mse = float(((pred - s_test) ** 2).mean())
    return {
        "case": "antiderivative" if schedule == "constant" else f"antiderivative, {schedule} lr",
        "iterations": iterations,
        "train_triplets": 10_000,
        "test_triplets": int(s_test.numel()),
        "train_seconds": seconds,
        "samples_per_s": 10_000 * iterations / seconds,
        "train_mse": history[-1][1],
        "test_mse": mse,
        "paper_test_mse": PAPER_MSE,
        "history": history,
    }


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    lines = [
        "| case | iterations | train triplets | test triplets | train s | triplets/s "
        "| train MSE | test MSE | paper test MSE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['case']} | {r['iterations']:,} | {r['train_triplets']:,} | "
            f"{r['test_triplets']:,} | {fmt(r['train_seconds'], '.0f')} | "
            f"{fmt(r['samples_per_s'], '.3g')} | {fmt(r['train_mse'], '.2e')} | "
            f"{fmt(r['test_mse'], '.2e')} | {fmt(r['paper_test_mse'], '.1e')} |"
        )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the reproduction and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also train with a cosine learning-rate decay (outside the paper's recipe)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "operators.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    row = antiderivative_recipe(args.iterations)
    print(f"antiderivative: test MSE {row['test_mse']:.3e} after {row['iterations']} iterations")
    rows = [row]
    if args.variants:
        rows.append(antiderivative_recipe(args.iterations, schedule="cosine"))
        print(f"cosine lr: test MSE {rows[-1]['test_mse']:.3e}")
    targets = [
        {
            "name": f"DeepONet antiderivative test MSE ({row['iterations']:,} iterations)",
            "measured": row["test_mse"],
            "target": "<= 1e-6",
            "met": bool(row["test_mse"] <= 1e-6),
        }
    ]
    data = {
        "benchmark": "operators",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {"recipe": __doc__.split("\n\n")[1], "threads": torch.get_num_threads()},
        "results": rows,
        "targets": targets,
    }
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
