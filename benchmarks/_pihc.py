"""Shared pieces of the PI-HC-MoE benchmarks: physics-only training and step timing."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from _common import fmt, machine_info, merge_rows, results_document, sync, write_json
from torch import nn

from sciml.constraints.training import physics_metrics, physics_step
from sciml.train import TrainConfig, Trainer

#: the network and constraint of ``pihc_sorption.py`` (and of its timing in ``pihc_parallel.py``)
SORPTION_MODEL: dict[str, Any] = {
    "nx": 65,
    "nt": 41,
    "boundary_weight": 10.0,
    "n_basis": 16,
    "width": 16,
    "layers": 3,
    "fno_modes": [12, 12],
    "points": 20000,
}
#: the network and constraint of ``pihc_navier_stokes.py`` (and ``pihc_parallel.py``)
NAVIER_STOKES_MODEL: dict[str, Any] = {
    "n": 64,
    "nt": 11,
    "T": 0.1,
    "nu": 1e-4,
    "n_basis": 16,
    "width": 16,
    "layers": 3,
    "fno_modes": [4, 12, 12],
    "points": 20000,
}


def batch_of(ds: Any, n: int) -> dict[str, torch.Tensor]:
    """The first ``n`` items of a dataset as one batch."""
    return {k: torch.stack([ds[i][k] for i in range(n)]) for k in ("u0", "u")}


def _initial_data(model: nn.Module, batch: dict[str, torch.Tensor]) -> Any:
    return model(batch["u0"])


def step_seconds(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    repeats: int,
    call: Callable[[nn.Module, dict[str, torch.Tensor]], Any] = _initial_data,
) -> dict:
    """Median seconds of one training step (forward + backward) and of inference.

    The model runs on its own device (the batch must be there too); CUDA work is waited for
    before each clock read.

    ``call(model, batch)`` runs the model on a batch (default: ``model(batch["u0"])``) and
    returns its output (with ``loss`` and ``constraint``).
    """
    device = next(model.parameters()).device
    model.train()
    times, steps = [], []
    for i in range(repeats + 1):
        sync(device)
        start = time.perf_counter()
        out = call(model, batch)
        out.loss.mean().backward()
        sync(device)
        if i:  # the first call warms up
            times.append(time.perf_counter() - start)
            if out.constraint is not None:
                steps.append(float(out.constraint.steps.float().mean()))
        model.zero_grad(set_to_none=True)
    model.eval()
    infer = []
    with torch.no_grad():
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            call(model, batch)
            sync(device)
            infer.append(time.perf_counter() - start)
    return {
        "train_step_s": statistics.median(times),
        "inference_s": statistics.median(infer),
        "lm_steps": statistics.mean(steps) if steps else None,
    }


def options(
    doc: str,
    out: Path,
    epochs: int,
    render: Callable[[dict], str],
    modes: list[str] | None = None,
    finetune: int | None = None,
    seeds: bool = False,
) -> Any:
    """The command line of a PI-HC benchmark; ``None`` once ``--markdown`` has printed.

    ``--device DEVICE`` asks for the device timing alone (:func:`device_rows`). With ``modes``,
    ``--only MODE`` (repeatable) trains only those modes and keeps the other
    rows of ``--out``; with ``finetune``, ``--finetune EPOCHS`` (that default); with
    ``seeds``, ``--seeds S [S ...]``: the global and MoE constraints trained from scratch with
    each seed ``S`` (alone, unless ``--only`` names modes too; the other rows are kept).
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if modes:
        parser.add_argument(
            "--only",
            action="append",
            choices=modes,
            help="train only this mode (repeatable); the other rows of --out are kept",
        )
    if finetune is not None:
        parser.add_argument(
            "--finetune",
            type=int,
            default=finetune,
            help="epochs of the fine-tuning rows after the global constraint (0: none)",
        )
    if seeds:
        parser.add_argument(
            "--seeds",
            type=int,
            nargs="+",
            default=[],
            help="train the global and MoE constraints from scratch with these seeds (the main "
            "rows are seed 0); only these runs unless --only names modes; other rows are kept",
        )
    parser.add_argument(
        "--device",
        default=None,
        help="only time training steps on this device (e.g. cuda): untrained networks, rows "
        "named '... [DEVICE]' merged into --out (no training)",
    )
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--markdown", action="store_true", help="print the tables of --out")
    args = parser.parse_args()
    if args.markdown:
        print(render(json.loads(args.out.read_text())))
        return None
    return args


def train_row(
    model: nn.Module,
    name: str,
    cfg: dict[str, Any],
    train_ds: Any,
    test_ds: Any,
    *,
    step: Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor] = physics_step,
    metrics: Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, float]] = physics_metrics,
    call: Callable[[nn.Module, dict[str, torch.Tensor]], Any] = _initial_data,
    batch: dict[str, torch.Tensor] | None = None,
    points: int | None = 20000,
    lr: float = 1e-3,
) -> dict[str, Any]:
    """Train ``model`` physics-only (Adam, lr 1e-3 unless given, clipping 1.0, as in the paper).

    Returns the final test error, failures, training time, the error curve and the time per
    training step (the trained model on ``batch``, default the first test items, with
    ``points`` residual points: keys ``train_step_s_20k`` ... for 20,000, ``train_step_s`` ...
    for ``None``, the model's own).
    """
    config = TrainConfig(
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        lr=lr,
        grad_clip=1.0,
        seed=cfg["seed"],
        eval_every=max(1, cfg["epochs"] // 5),
        progress=True,
    )
    trainer = Trainer(model, step, config, train_ds, test_ds, metrics=metrics)
    start = time.perf_counter()
    history = trainer.fit()
    seconds = time.perf_counter() - start
    steps = cfg["epochs"] * -(-len(train_ds) // cfg["batch_size"])
    final = history[-1]
    row = {
        "case": "three-way",
        "model": name,
        "rel_l2": final["rel_l2"],
        "test_loss": final["test_loss"],
        "failures": final["failures"],
        "train_seconds": seconds,
        "train_step_s_mean": seconds / steps,
        "steps": steps,
        "curve": [
            {"epoch": r["epoch"], "train_loss": r["train_loss"], "rel_l2": r["rel_l2"]}
            for r in history
            if "rel_l2" in r
        ],
    }
    batch = batch if batch is not None else batch_of(test_ds, cfg["batch_size"])
    suffix = ""
    if points is not None:
        model.points = points
        suffix = f"_{points // 1000}k"
    timing = step_seconds(model, batch, cfg["repeats"], call)
    row.update({f"{k}{suffix}": v for k, v in timing.items()})
    print(f"{name}: rel L2 {row['rel_l2']:.4f}, step {timing['train_step_s']:.2f} s", flush=True)
    return row


def same_basis_rows(
    trained: nn.Module, models: dict[str, nn.Module], batch: dict[str, torch.Tensor]
) -> list[dict[str, Any]]:
    """``trained``'s network put into each of ``models`` and evaluated (no training).

    Separates the constraint from the training: with the same basis, what does each way of
    splitting the domain make of it? Rows ``{"case": "same basis", "model": name, metrics}``.
    """
    rows = []
    for name, model in models.items():
        model.network.load_state_dict(trained.network.state_dict())
        model.eval()
        with torch.no_grad():
            rows.append({"case": "same basis", "model": name, **physics_metrics(model, batch)})
    return rows


def finetune_rows(
    trained: nn.Module,
    models: dict[str, Callable[[], nn.Module]],
    cfg: dict[str, Any],
    train_ds: Any,
    test_ds: Any,
    epochs: int,
    lr: float = 1e-4,
) -> list[dict[str, Any]]:
    """``trained``'s network trained ``epochs`` more at ``lr`` under each constraint of ``models``.

    Not the paper's recipe (it trains every constraint from scratch): it asks whether the
    experts improve on a network the global constraint trained, against the global constraint
    itself trained as many more epochs (put it in ``models`` too). ``models`` maps a row name to
    a function that builds the (untrained) model; every row starts from the same weights and
    seed. Rows ``{"case": "fine-tune", "epochs", "lr", ...}`` of :func:`train_row`.
    """
    state = {k: v.clone() for k, v in trained.network.state_dict().items()}
    rows = []
    for name, make in models.items():
        torch.manual_seed(cfg["seed"])
        model = make()
        model.network.load_state_dict(state)
        row = train_row(model, name, {**cfg, "epochs": epochs}, train_ds, test_ds, lr=lr)
        rows.append({**row, "case": "fine-tune", "epochs": epochs, "lr": lr})
    return rows


def seed_rows(
    models: dict[str, Callable[[], nn.Module]],
    cfg: dict[str, Any],
    train_ds: Any,
    test_ds: Any,
    seeds: Sequence[int],
) -> list[dict[str, Any]]:
    """Every model of ``models`` trained from scratch once per seed (network init and order).

    One initialisation moves the errors of physics-only training by tens of percent, so a
    comparison of two constraints is read from several seeds. Rows ``{"case": "seed",
    "model": "NAME (seed S)", "mode_name": NAME, "seed": S, "rel_l2", ...}``, with the step
    times of :func:`train_row`, measured one after another in the same run.
    """
    rows = []
    for seed in seeds:
        for name, make in models.items():
            torch.manual_seed(seed)
            model = make()
            row = train_row(
                model, f"{name} (seed {seed})", {**cfg, "seed": seed}, train_ds, test_ds
            )
            rows.append({**row, "case": "seed", "mode_name": name, "seed": seed})
    return rows


def seed_summary(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, dict[int, float]]:
    """Relative L2 error per mode name and seed: the ``"three-way"`` row is seed 0."""
    out: dict[str, dict[int, float]] = {name: {} for name in names}
    for r in rows:
        if r["case"] == "three-way" and r["model"] in out:
            out[r["model"]][0] = r["rel_l2"]
        elif r["case"] == "seed" and r["mode_name"] in out:
            out[r["mode_name"]][r["seed"]] = r["rel_l2"]
    return out


def seed_table(rows: list[dict[str, Any]], names: Sequence[str]) -> list[str]:
    """Markdown lines: each mode's error per seed, their mean and the seed runs' step time.

    The step time is the mean ``train_step_s_20k`` of the ``"seed"`` rows, which one run
    measures one after another (none without seed rows).
    """
    if not any(r["case"] == "seed" for r in rows):
        return []
    errors = seed_summary(rows, names)
    seeds = sorted({s for errs in errors.values() for s in errs})
    lines = [
        "",
        "Trained from scratch with other seeds (network initialisation and sample order):",
        "",
        "| model | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | mean | train step s (20k points, seed runs) |",
        "|---|" + "---:|" * (len(seeds) + 2),
    ]
    for name, errs in errors.items():
        if not errs:
            continue
        steps = [
            r["train_step_s_20k"]
            for r in rows
            if r["case"] == "seed" and r["mode_name"] == name and "train_step_s_20k" in r
        ]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{errs[s]:.4f}" if s in errs else "" for s in seeds)
            + f" | {statistics.mean(errs.values()):.4f} | "
            + (f"{statistics.mean(steps):.2f} |" if steps else " |")
        )
    return lines


def seed_target(rows: list[dict[str, Any]], moe: str, glob: str) -> list[dict[str, Any]]:
    """Target row: mean error of ``moe`` at most that of ``glob`` over the seeds both have."""
    errors = seed_summary(rows, (moe, glob))
    common = sorted(set(errors[moe]) & set(errors[glob]))
    if len(common) < 2:
        return []
    a = statistics.mean(errors[moe][s] for s in common)
    b = statistics.mean(errors[glob][s] for s in common)
    wins = sum(errors[moe][s] <= errors[glob][s] for s in common)
    n = len(common)
    return [
        {
            "name": f"rel. L2 error, mean of {n} seeds: MoE <= global hard "
            f"(MoE lower with {wins} of {n} seeds)",
            "measured": a / b,
            "target": "ratio <= 1",
            "met": a <= b,
        }
    ]


def finetune_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the ``"fine-tune"`` rows (none if there are none)."""
    tuned = [r for r in rows if r["case"] == "fine-tune"]
    if not tuned:
        return []
    return [
        "",
        "| trained global network, then (not the paper's recipe) | epochs | lr | "
        "rel. L2 error | test physics loss |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['model']} | +{r['epochs']} | {r['lr']:g} | {r['rel_l2']:.4f} | "
            f"{r['test_loss']:.3g} |"
            for r in tuned
        ),
    ]


def same_basis_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the ``"same basis"`` rows (none if there are none)."""
    same = [r for r in rows if r["case"] == "same basis"]
    if not same:
        return []
    return [
        "",
        "The global hard constraint's trained network under each constraint (no training):",
        "",
        "| constraint | rel. L2 error | test physics loss | unconverged solves |",
        "|---|---:|---:|---:|",
        *(
            f"| {r['model']} | {r['rel_l2']:.4f} | {r['test_loss']:.3g} | "
            f"{100 * r['failures']:.0f}% |"
            for r in same
        ),
    ]


def error_not_above(name: str, row: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    """Target row: ``row``'s relative L2 error at most ``bound``'s (measured as their ratio)."""
    return {
        "name": name,
        "measured": row["rel_l2"] / bound["rel_l2"],
        "target": "ratio <= 1",
        "met": row["rel_l2"] <= bound["rel_l2"],
    }


def three_way_targets(soft: dict, hard: dict, moe: dict) -> list[dict[str, Any]]:
    """The issue's error and step-time targets from the soft / global / MoE rows."""
    ratio = moe["train_step_s_20k"] / hard["train_step_s_20k"]
    return [
        error_not_above("rel. L2 error: MoE <= global hard", moe, hard),
        error_not_above("rel. L2 error: global hard <= soft", hard, soft),
        {
            "name": "training step at 20k points: MoE / global hard",
            "measured": ratio,
            "target": "<= 0.5",
            "met": ratio <= 0.5,
        },
    ]


#: residual points of the device timing: the issue's 1k ... 50k and beyond
DEVICE_POINTS = (1000, 5000, 10000, 20000, 50000, 100000, 200000)


def device_rows(
    make: Callable[[int, int], nn.Module],
    batch: dict[str, torch.Tensor],
    device: torch.device | str,
    moe: int,
    experts: Sequence[int] = (1, 2, 4, 8),
    points: Sequence[int] = DEVICE_POINTS,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Time per training step on ``device``: vs residual points and vs the number of experts.

    ``make(experts, points)`` builds an untrained network (seeded with 0 before each call, so
    every configuration starts from the same initialisation); it is moved to ``device`` with
    the batch and timed by :func:`step_seconds`. Rows (``case`` ``"device"``, model
    ``"K experts, P points [cuda]"``): the global constraint (1 expert) and the MoE (``moe``
    experts) at every ``points``, and every ``experts`` at 20,000 points; each with the device
    name, the machine, and on CUDA the peak memory.
    """
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    machine = machine_info()
    batch = {k: v.to(device) for k, v in batch.items()}
    configs = [(1, p) for p in points] + [(moe, p) for p in points]
    configs += [(k, 20000) for k in experts if (k, 20000) not in configs]
    rows = []
    for k, p in configs:
        torch.manual_seed(0)
        model = make(k, p).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        timing = step_seconds(model, batch, repeats)
        row = {
            "case": "device",
            "model": f"{k} experts, {p} points [{device.type}]",
            "experts": k,
            "points": p,
            "device": name,
            "batch": int(batch["u0"].shape[0]),
            "machine": machine,
            **timing,
        }
        if device.type == "cuda":
            row["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        rows.append(row)
        print(f"{row['model']}: step {timing['train_step_s']:.3f} s", flush=True)
        del model
    return rows


def _device_step(rows: list[dict[str, Any]], experts: int, points: int) -> dict[str, Any] | None:
    timed = (r for r in rows if r["case"] == "device")
    return next((r for r in timed if (r["experts"], r["points"]) == (experts, points)), None)


def device_targets(rows: list[dict[str, Any]], moe: int) -> list[dict[str, Any]]:
    """The step-time targets on the device rows (none without them).

    MoE / global step at 20,000 points (<= 0.5) and the MoE step at 50,000 / 1,000 points
    (<= 2: nearly flat), as the CPU targets.
    """
    targets = []
    glob, mix = _device_step(rows, 1, 20000), _device_step(rows, moe, 20000)
    if glob and mix:
        ratio = mix["train_step_s"] / glob["train_step_s"]
        targets.append(
            {
                "name": f"training step at 20k points on {mix['device']}: MoE ({moe} experts) "
                "/ global hard (untrained networks)",
                "measured": ratio,
                "target": "<= 0.5",
                "met": ratio <= 0.5,
            }
        )
    lo, hi = _device_step(rows, moe, 1000), _device_step(rows, moe, 50000)
    if lo and hi:
        ratio = hi["train_step_s"] / lo["train_step_s"]
        targets.append(
            {
                "name": f"MoE step time on {hi['device']}, 50000 / 1000 points",
                "measured": ratio,
                "target": "<= 2 (nearly flat)",
                "met": ratio <= 2.0,
            }
        )
    return targets


def device_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the device rows (none if there are none)."""
    timed = [r for r in rows if r["case"] == "device"]
    if not timed:
        return []
    return [
        "",
        f"Time per training step on {timed[0]['device']} (untrained networks, batch "
        f"{timed[0]['batch']}, {timed[0].get('date', '')[:10]}):",
        "",
        "| experts | residual points | train step s | LM steps (mean) | s per LM step | "
        "inference s | peak GiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['experts']} | {r['points']} | {r['train_step_s']:.3f} | "
            f"{fmt(r['lm_steps'], '.1f')} | "
            f"{fmt(r['train_step_s'] / r['lm_steps'] if r['lm_steps'] else None, '.4f')} | "
            f"{r['inference_s']:.4f} | {fmt(r.get('peak_memory_gb'), '.2f')} |"
            for r in timed
        ),
    ]


def device_run(
    name: str,
    make: Callable[[int, int], nn.Module],
    cfg: dict[str, Any],
    test_ds: Any,
    args: Any,
    targets: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    render: Callable[[dict], str],
    *,
    repeats: int,
    plot: Callable[[dict, Path], Path] | None = None,
) -> int:
    """``--device``: :func:`device_rows` (4 experts as the MoE), merged into ``args.out``.

    The results file keeps the machine it records (the device rows carry theirs); ``targets``
    recomputes the target rows, ``plot(data, path)`` redraws the figure if given.
    """
    quick = {"points": (1000, 20000), "experts": (1, 4)} if args.quick else {}
    rows = device_rows(
        make, batch_of(test_ds, cfg["batch_size"]), args.device, moe=4, repeats=repeats, **quick
    )
    rows = merge_rows(args.out, rows)
    data = results_document(name, cfg, rows, targets(rows), machine_of=args.out)
    write_json(data, args.out)
    if plot is not None:
        print(f"plot: {plot(data, args.out.with_suffix('.png'))}")
    print(render(data))
    return 0
