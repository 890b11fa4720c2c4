"""PI-HC-MoE experts on separate processes: time per training step vs one global constraint.

The paper's speed claim for the mixture of experts is parallel: each expert solves its small
constraint on its own device. On one device the experts do the same total work as one global
constraint (the batched Levenberg-Marquardt solve is elementwise work over points x basis
functions; see ``pihc_sorption.py``), so this benchmark runs the experts on separate processes
(``torch.distributed`` with gloo, one thread per process: one process per CPU core, our stand-in
for one device per expert group) and times one training step (forward and backward of the
physics loss, 20,000 residual points per sample, untrained networks with the same seed) of

* the global hard constraint on 1 process with 1 thread (the paper's comparison: the global
  constraint on one device), and with the same cores used by threads or by splitting the batch
  over the processes (data parallelism, which the global constraint can use as well);
* the mixture of experts on 1 process, with its experts split over the processes
  (``expert_parallel=True``) and with the batch split instead.

Both PI-HC problems use the model configurations of ``pihc_sorption.py`` (4 experts in time)
and ``pihc_navier_stokes.py`` (2 x 2 experts). The expert split must not change the loss: the
first step's loss of every parallel run is compared with the 1-process run.

Run ``python benchmarks/pihc_parallel.py``; results go to
``benchmarks/results/pihc_parallel.json``; ``--markdown`` prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import results_document, targets_table, write_json  # noqa: E402
from _pihc import NAVIER_STOKES_MODEL, SORPTION_MODEL  # noqa: E402

WORKER = HERE / "_pihc_parallel_worker.py"

SORPTION = {**SORPTION_MODEL, "split": "t", "on_failure": "ignore"}
NAVIER_STOKES = {**NAVIER_STOKES_MODEL, "on_failure": "ignore"}


def cases(processes: int) -> list[tuple[str, int, int, str]]:
    """(constraint, processes, threads per process, scheme) of every timing run."""
    P = processes
    return [
        ("global", 1, 1, "experts"),
        ("global", 1, P, "experts"),
        ("global", P, 1, "data"),
        ("moe", 1, 1, "experts"),
        ("moe", P, 1, "experts"),
        ("moe", P, 1, "data"),
    ]


def run_case(
    problem: str, model: dict[str, Any], batch: int, procs: int, threads: int, scheme: str,
    repeats: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    """One ``torchrun`` of the worker; its result."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "case.json"
        out = Path(tmp) / "out.json"
        spec.write_text(
            json.dumps(
                {
                    "problem": problem,
                    "model": model,
                    "batch": batch,
                    "scheme": scheme,
                    "repeats": repeats,
                    "seed": seed,
                }
            )
        )
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={procs}", str(WORKER), str(spec), str(out),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{problem} {procs} process(es) x {threads} thread(s), {scheme}: worker failed\n"
                + done.stdout[-2000:]
                + done.stderr[-4000:]
            )
        return json.loads(out.read_text())


def label(constraint: str, procs: int, threads: int, scheme: str, experts: int) -> str:
    """Row label of a timing run."""
    what = "global hard" if constraint == "global" else f"MoE ({experts} experts)"
    if procs == 1:
        return f"{what}, 1 process x {threads} thread(s)"
    how = "experts split" if scheme == "experts" else "batch split"
    return f"{what}, {procs} processes ({how})"


def measure(problem: str, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every case of one problem."""
    base = SORPTION if problem == "sorption" else NAVIER_STOKES
    model = {**base, **cfg["overrides"].get(problem, {})}
    experts = 4
    rows = []
    for constraint, procs, threads, scheme in cases(cfg["processes"]):
        options = dict(model)
        if problem == "sorption":
            options["experts"] = 1 if constraint == "global" else experts
        else:
            options["splits"] = [1, 1] if constraint == "global" else [2, 2]
        result = run_case(
            problem, options, cfg["batch"][problem], procs, threads, scheme, cfg["repeats"],
            cfg["seed"],
        )  # fmt: skip
        row = {
            "case": problem,
            "model": label(constraint, procs, threads, scheme, experts),
            "constraint": constraint,
            "experts": 1 if constraint == "global" else experts,
            "processes": procs,
            "threads": threads,
            "scheme": scheme,
            **result,
        }
        rows.append(row)
        print(f"{problem}: {row['model']}: {row['train_step_s']:.3f} s, loss {row['loss']:.6g}")
    return rows


def compute_targets(rows: list[dict[str, Any]], processes: int) -> list[dict[str, Any]]:
    """Speed-up targets and the check that splitting the experts keeps the loss."""
    targets = []
    for problem in dict.fromkeys(r["case"] for r in rows):
        mine = [r for r in rows if r["case"] == problem]

        runs = {(r["constraint"], r["processes"], r["threads"], r["scheme"]): r for r in mine}
        pick = runs.__getitem__  # (constraint, processes, threads, scheme) -> row

        moe_par = pick(("moe", processes, 1, "experts"))
        one = pick(("global", 1, 1, "experts"))
        best_global = min(
            (r for r in mine if r["constraint"] == "global"), key=lambda r: r["train_step_s"]
        )
        ratio = moe_par["train_step_s"] / one["train_step_s"]
        targets.append(
            {
                "name": f"{problem}: MoE step, experts on {processes} processes / global hard "
                "on 1 process (1 thread)",
                "measured": ratio,
                "target": "<= 0.5",
                "met": ratio <= 0.5,
            }
        )
        fair = moe_par["train_step_s"] / best_global["train_step_s"]
        targets.append(
            {
                "name": f"{problem}: MoE step, experts on {processes} processes / fastest global "
                f"hard on the same {processes} cores ({best_global['model']})",
                "measured": fair,
                "target": "<= 0.5",
                "met": fair <= 0.5,
            }
        )
        ref = pick(("moe", 1, 1, "experts"))["loss"]
        diff = abs(moe_par["loss"] - ref) / abs(ref)
        targets.append(
            {
                "name": f"{problem}: loss with experts on {processes} processes vs 1 process "
                "(relative difference)",
                "measured": diff,
                "target": "<= 1e-10",
                "met": diff <= 1e-10,
            }
        )
    return targets


def render_markdown(data: dict[str, Any]) -> str:
    """Tables of a results document."""
    lines = [
        "| problem | run | train step s | LM steps | loss (first step) |",
        "|---|---|---:|---:|---:|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['case']} | {r['model']} | {r['train_step_s']:.3f} | {r['lm_steps']:.1f} | "
            f"{r['loss']:.6g} |"
        )
    lines += ["", *targets_table(data["targets"])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "pihc_parallel.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--markdown", action="store_true", help="print the tables of --out")
    args = parser.parse_args()
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    cfg: dict[str, Any] = {
        "description": __doc__.split("\n\n", 2)[1],
        "processes": 2,
        "batch": {"sorption": 4, "navier_stokes": 2},
        "repeats": 5,
        "seed": 0,
        "overrides": {},
        "sorption": SORPTION,
        "navier_stokes": NAVIER_STOKES,
        "networks": "untrained (same seed in every run)",
        "gpu": "not run: no GPU on this machine" if not torch.cuda.is_available() else "no",
    }
    if args.quick:
        cfg["repeats"] = 1
        cfg["overrides"] = {
            "sorption": {"nx": 17, "nt": 17, "points": 2000, "width": 8, "layers": 1,
                         "fno_modes": [4, 4]},
            "navier_stokes": {"n": 16, "nt": 5, "points": 2000, "width": 8, "layers": 1,
                              "fno_modes": [2, 4, 4]},
        }  # fmt: skip
    rows = measure("sorption", cfg) + measure("navier_stokes", cfg)
    data = results_document("pihc_parallel", cfg, rows, compute_targets(rows, cfg["processes"]))
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
