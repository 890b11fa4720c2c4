"""Structure-preserving operator networks on the shared meshes, against a DeepONet.

Cases (``--cases``; each writes rows into ``benchmarks/results/spon.json``, rows of other cases
already there are kept):

``plate``
    Problem A: ``-div(k grad u) = 1`` on ``meshes/plate_with_holes_1.msh`` (P1, 5,475 dofs),
    ``k = exp(GRF)`` the input, random Dirichlet data on the three holes and ``u = 0`` on the
    outer sides (``poisson_meshes`` with ``f_sigma=0, f_mean=1, dirichlet="holes"``).
``large``
    Problem A with P2 elements on the level-1 plate mesh (21,476 dofs): the single-level SPON
    against a MultigridSPON over P1 on level 1 (5,475 nodes) and on level 0 (1,453 nodes), same
    epochs, to measure the time per epoch at >= 20k dofs (``--large-train`` samples).
``airfoil``
    Problem B: ``-Laplacian u = f`` on ``meshes/naca0012_channel_1.msh`` (P1, 7,378 dofs), ``f``
    a GRF the input, ``u = 0`` on the whole boundary (``kappa_sigma=0, g_sigma=0``).

In both, three models see the same data (``--n-train`` / ``--n-test`` samples) and the same loss,
the relative error in the L2 norm of the FE space (:class:`sciml.train.FENormLoss`), with Adam
and a cosine learning-rate decay:

* ``SPON``: graph network on the output mesh (``--hidden``, ``--layers``), ``--epochs`` epochs;
* ``MultigridSPON``: the same output space over the level-0 mesh of the same geometry (a
  non-nested coarse mesh, about 4x fewer nodes): heavy steps there, one light step per level
  down and up; the same number of epochs;
* ``DeepONet``: branch = input dofs and Dirichlet values, trunk = dof coordinates (Cartesian
  layout), widths chosen for SPON's parameter count, trained for SPON's wall time.

Reported: relative L2 test error (FE norm), the maximum boundary error over every train and test
prediction, parameters, seconds per epoch. ``transfer`` (in the ``plate`` case): the level-1
model evaluated on the same geometry at a new resolution -- the level-0 mesh -- by running its
weights on the level-0 graph, compared with the level-0 FE solutions.

Run ``python benchmarks/spon.py`` (``--quick`` for a smoke test, ``--markdown`` for the tables).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import dolfinx_solver  # noqa: F401  (before dolfinx)
import torch
from torch import Tensor, nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt, merge_rows, results_document, targets_table, write_json  # noqa: E402

from sciml.data import generate  # noqa: E402
from sciml.data.generators.fe_poisson import boundary_markers, mesh_path  # noqa: E402
from sciml.fem import FunctionSpace, interpolation_between, relative_l2_error  # noqa: E402
from sciml.mesh import load  # noqa: E402
from sciml.operators import DeepONet  # noqa: E402
from sciml.spon import SPON, MultigridSPON  # noqa: E402
from sciml.train import FENormLoss  # noqa: E402

PROBLEMS: dict[str, dict[str, Any]] = {
    "plate": {
        "mesh": "plate_with_holes",
        "options": {"f_sigma": 0.0, "f_mean": 1.0, "dirichlet": "holes"},
        "input": "kappa",
    },
    "airfoil": {
        "mesh": "naca0012_channel",
        "options": {"kappa_sigma": 0.0, "g_sigma": 0.0},
        "input": "f",
    },
}


def problem_data(
    name: str, level: int, n: int, seed: int = 0, degree: int = 1
) -> tuple[FunctionSpace, dict]:
    """Space and ``(input, g, u)`` tensors of a problem on one level of its mesh."""
    spec = PROBLEMS[name]
    data = generate(
        "poisson_meshes",
        n,
        seed=seed,
        chunk_size=n,
        mesh=spec["mesh"],
        level=level,
        degree=degree,
        **spec["options"],
    )
    V = FunctionSpace(load(mesh_path(spec["mesh"], level)), "P", degree)
    fields = {"a": data.inputs[spec["input"]], "g": data.inputs["g"], "u": data.outputs["u"]}
    return V, fields


def batches(n: int, size: int, gen: torch.Generator) -> list[Tensor]:
    """Shuffled index batches covering ``range(n)``."""
    order = torch.randperm(n, generator=gen)
    return [order[i : i + size] for i in range(0, n, size)]


def train(
    model: nn.Module,
    predict: Any,
    V: FunctionSpace,
    d: dict[str, Tensor],
    n_train: int,
    *,
    epochs: int | None = None,
    seconds: float | None = None,
    batch: int = 8,
    lr: float = 2e-3,
) -> dict[str, Any]:
    """Adam on the FE-norm relative error; stops after ``epochs`` or ``seconds`` of training."""
    loss_fn = FENormLoss(V, "l2")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(n_train / batch)
    total = (epochs or 10**9) * steps_per_epoch
    if seconds is not None:  # time-limited: decay over an estimate made after one epoch
        total = 10**9
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
    )
    gen = torch.Generator().manual_seed(0)
    history = []
    start = time.perf_counter()
    epoch = 0
    while True:
        epoch += 1
        running = 0.0
        for idx in batches(n_train, batch, gen):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(predict(d["a"][idx], d["g"][idx]), d["u"][idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(idx)
        history.append((epoch, running / n_train))
        elapsed = time.perf_counter() - start
        if seconds is not None and epoch == 1:
            total = max(int(seconds / elapsed * steps_per_epoch), steps_per_epoch)
        if (epochs is not None and epoch >= epochs) or (seconds is not None and elapsed >= seconds):
            break
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "epochs": epoch, "history": history}


def evaluate(
    predict: Any, V: FunctionSpace, d: dict[str, Tensor], n_train: int, bc_dofs: Tensor
) -> dict[str, float]:
    """Relative L2 test error (FE norm) and boundary errors on train and test."""
    with torch.no_grad():
        pred = torch.cat(
            [predict(d["a"][i : i + 16], d["g"][i : i + 16]) for i in range(0, len(d["a"]), 16)]
        )
    pred = pred.double()
    test = relative_l2_error(V, pred[n_train:], d["u"][n_train:])
    bc = (pred[:, bc_dofs] - d["u"][:, bc_dofs]).abs()
    return {
        "error": float(test.mean()),
        "error_max": float(test.max()),
        "bc_error_train": float(bc[:n_train].max()) if n_train else None,
        "bc_error_test": float(bc[n_train:].max()),
    }


def count(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def deeponet_for_budget(n_branch: int, budget: int) -> DeepONet:
    """A DeepONet ``[n_branch, w, w, w] / [2, w, w, w]`` with about ``budget`` parameters."""
    best = 4
    for w in range(4, 1024):
        net = DeepONet([n_branch, w, w, w], [2, w, w, w], activation="gelu")
        if count(net) > budget:
            break
        best = w
    return DeepONet([n_branch, best, best, best], [2, best, best, best], activation="gelu")


def problem_case(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """SPON, MultigridSPON and DeepONet on one problem; the transfer rows for the plate."""
    n_train, n = args.n_train, args.n_train + args.n_test
    V, d = problem_data(name, args.level, n)
    V0, _ = problem_data(name, 0, 1) if args.level > 0 else (None, None)
    markers = boundary_markers(V.mesh)
    scales = {
        "input_scale": float(d["a"][:n_train].std()),
        "output_scale": float(d["u"][:n_train].std()),
    }
    rows = []

    def row(model_name: str, model: nn.Module, predict: Any, run: dict, bc_dofs: Tensor) -> dict:
        ev = evaluate(predict, V, d, n_train, bc_dofs)
        return {
            "case": name,
            "model": model_name,
            "dofs": V.num_dofs,
            "train_samples": n_train,
            "test_samples": n - n_train,
            "parameters": count(model),
            "epochs": run["epochs"],
            "train_seconds": run["seconds"],
            "seconds_per_epoch": run["seconds"] / run["epochs"],
            **ev,
            "history": run["history"],
        }

    torch.manual_seed(0)
    spon = SPON(V, V, bcs=markers, hidden=args.hidden, layers=args.layers, **scales)
    run = train(spon, spon, V, d, n_train, epochs=args.epochs)
    rows.append(row(f"SPON (graph net, {args.layers} steps)", spon, spon, run, spon.bc_dofs))
    budget, wall = count(spon), run["seconds"]

    if V0 is not None:
        torch.manual_seed(0)
        mg = MultigridSPON(
            V, V, [V0], bcs=markers, hidden=args.hidden, heavy=args.layers, light=1, **scales
        )
        run = train(mg, mg, V, d, n_train, epochs=args.epochs)
        rows.append(
            row(f"MultigridSPON ({args.layers} coarse steps, 1 light)", mg, mg, run, mg.bc_dofs)
        )

    bc = spon.bc_dofs
    torch.manual_seed(0)
    deeponet = deeponet_for_budget(V.num_dofs + bc.numel(), budget)
    y = torch.as_tensor(V.dof_coordinates, dtype=torch.float32)
    y = (y - y.min(0).values) / (y.max(0).values - y.min(0).values)

    def predict_deeponet(a: Tensor, g: Tensor) -> Tensor:
        branch = torch.cat([a / scales["input_scale"], g[:, bc] / scales["output_scale"]], dim=1)
        return deeponet(branch.float(), y, layout="cartesian").double() * scales["output_scale"]

    run = train(deeponet, predict_deeponet, V, d, n_train, seconds=wall)
    rows.append(row("DeepONet (same parameters, same time)", deeponet, predict_deeponet, run, bc))

    return rows


def large_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Single-level SPON vs MultigridSPON at >= 20k dofs (plate, P2 on level 1)."""
    n_train, n = args.large_train, args.large_train + args.large_test
    V, d = problem_data("plate", 1, n, degree=2)
    coarse = [FunctionSpace(load(mesh_path("plate_with_holes", level)), "P", 1) for level in (0, 1)]
    markers = boundary_markers(V.mesh)
    scales = {
        "input_scale": float(d["a"][:n_train].std()),
        "output_scale": float(d["u"][:n_train].std()),
    }
    models = {
        f"SPON (graph net, {args.layers} steps)": lambda: SPON(
            V, V, bcs=markers, hidden=args.hidden, layers=args.layers, **scales
        ),
        f"MultigridSPON (P1 levels 0 and 1; {args.layers} steps on level 0, 1 light)": lambda: (
            MultigridSPON(
                V, V, coarse, bcs=markers, hidden=args.hidden, heavy=args.layers, **scales
            )
        ),
    }
    rows = []
    for name, build in models.items():
        torch.manual_seed(0)
        model = build()
        run = train(model, model, V, d, n_train, epochs=args.epochs)
        rows.append(
            {
                "case": "plate P2 (>= 20k dofs)",
                "model": name,
                "dofs": V.num_dofs,
                "train_samples": n_train,
                "test_samples": n - n_train,
                "parameters": count(model),
                "epochs": run["epochs"],
                "train_seconds": run["seconds"],
                "seconds_per_epoch": run["seconds"] / run["epochs"],
                **evaluate(model, V, d, n_train, model.bc_dofs),
                "history": run["history"],
            }
        )
    return rows


def transfer_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """A SPON trained on the level-0 plate mesh, evaluated on the level-1 mesh (4x the cells).

    (a) Through the FE transfer operators: the level-1 inputs and Dirichlet data are interpolated
    onto level 0, the model predicts there, the prediction is interpolated back to level 1 and
    the level-1 Dirichlet values are imposed on its boundary dofs.
    (b) The trained weights run directly on the level-1 graph.
    """
    n_train = args.n_train
    V0, d0 = problem_data("plate", 0, n_train)
    V1, d1 = problem_data("plate", 1, args.n_test, seed=1)
    markers = boundary_markers(V0.mesh)
    scales = {"input_scale": float(d0["a"].std()), "output_scale": float(d0["u"].std())}
    torch.manual_seed(0)
    model = SPON(V0, V0, bcs=markers, hidden=args.hidden, layers=args.layers, **scales)
    run = train(model, model, V0, d0, n_train, epochs=args.epochs)
    down, up = interpolation_between(V1, V0), interpolation_between(V0, V1)

    fine = SPON(V1, V1, bcs=markers, hidden=args.hidden, layers=args.layers, **scales)
    fine.load_state_dict(model.state_dict())

    def through_level0(a: Tensor, g: Tensor) -> Tensor:
        # the Dirichlet data live on boundary dofs only: interpolate their harmonic extension
        g_ext = fine.lift(g[:, fine.bc_dofs].double())
        a0, g0 = (down @ a.T).T, (down @ g_ext.T).T
        u0 = model(a0, g0[:, model.bc_dofs])
        u1 = (up @ u0.double().T).T
        # the interpolated boundary is the coarse polygon's: put the fine Dirichlet values back
        u1[:, fine.bc_dofs] = g[:, fine.bc_dofs].double()
        return u1

    same_mesh = evaluate(
        model, V0, problem_data("plate", 0, args.n_test, seed=1)[1], 0, model.bc_dofs
    )
    rows = []
    for name, predict, bc in (
        ("trained on level 0, evaluated on level 0 (reference)", model, None),
        ("level 0 -> level 1 through interpolation", through_level0, fine.bc_dofs),
        ("level 0 weights run on the level-1 graph", fine, fine.bc_dofs),
    ):
        if bc is None:
            ev, dofs = same_mesh, V0.num_dofs
        else:
            ev, dofs = evaluate(predict, V1, d1, 0, bc), V1.num_dofs
        rows.append(
            {
                "case": "plate, resolution transfer",
                "model": f"SPON {name}",
                "dofs": dofs,
                "train_samples": n_train,
                "test_samples": args.n_test,
                "parameters": count(model),
                "epochs": run["epochs"],
                "seconds_per_epoch": run["seconds"] / run["epochs"],
                **ev,
            }
        )
    return rows


def render_markdown(data: dict[str, Any]) -> str:
    """Markdown tables of a results file."""
    lines = [
        "| case | model | dofs | parameters | epochs | s/epoch | rel. L2 test error (mean / max) "
        "| max boundary error train / test |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['case']} | {r['model']} | {r['dofs']:,} | {r['parameters']:,} | "
            f"{r.get('epochs', '-')} | {fmt(r.get('seconds_per_epoch'), '.2f')} | "
            f"{r['error']:.3f} / {r['error_max']:.3f} | "
            f"{fmt(r.get('bc_error_train'), '.1e')} / {fmt(r.get('bc_error_test'), '.1e')} |"
        )
    return "\n".join([*lines, "", *targets_table(data["targets"])]) + "\n"


def compute_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Target rows of the SPON issue from the rows present."""
    targets = []
    large = {r["model"].split(" ")[0]: r for r in rows if r["case"].startswith("plate P2")}
    if "SPON" in large and "MultigridSPON" in large:
        single, multi = large["SPON"], large["MultigridSPON"]
        speedup = single["seconds_per_epoch"] / multi["seconds_per_epoch"]
        targets += [
            {
                "name": f"plate P2 ({single['dofs']:,} dofs): SPON / MultigridSPON time per epoch",
                "measured": speedup,
                "target": ">= 2",
                "met": bool(speedup >= 2),
            },
            {
                "name": "plate P2: MultigridSPON / SPON relative L2 test error (same epochs)",
                "measured": multi["error"] / single["error"],
                "target": "<= 1",
                "met": bool(multi["error"] <= single["error"]),
            },
        ]
    for case in ("plate", "airfoil"):
        case_rows = {r["model"].split(" ")[0]: r for r in rows if r["case"] == case}
        spon, deeponet = case_rows.get("SPON"), case_rows.get("DeepONet")
        for r in (spon, case_rows.get("MultigridSPON")):
            if r is not None:
                worst = max(r["bc_error_train"], r["bc_error_test"])
                targets.append(
                    {
                        "name": f"{case}: {r['model'].split(' ')[0]} max boundary error",
                        "measured": worst,
                        "target": "<= 1e-12",
                        "met": bool(worst <= 1e-12),
                    }
                )
        if spon and deeponet:
            targets.append(
                {
                    "name": f"{case}: SPON / DeepONet relative L2 test error",
                    "measured": spon["error"] / deeponet["error"],
                    "target": "< 1",
                    "met": bool(spon["error"] < deeponet["error"]),
                }
            )
    return targets


def main(argv: list[str] | None = None) -> int:
    """Run the cases and merge their rows into the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choices = [*PROBLEMS, "large", "transfer"]
    parser.add_argument("--cases", nargs="+", choices=choices, default=choices)
    parser.add_argument("--level", type=int, default=1, help="mesh level of the training data")
    parser.add_argument("--n-train", type=int, default=120)
    parser.add_argument("--n-test", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--large-train", type=int, default=48, help="samples of the large case")
    parser.add_argument("--large-test", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spon.json")
    parser.add_argument("--markdown", action="store_true", help="print tables of --out")
    args = parser.parse_args(argv)
    if args.markdown:
        print(render_markdown(json.loads(args.out.read_text())))
        return 0
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.hidden, args.layers = 8, 4, 1, 8, 2
        args.large_train, args.large_test = 4, 2
    rows: list[dict[str, Any]] = []
    for case in args.cases:
        t0 = time.perf_counter()
        load_before = os.getloadavg()[0]
        runner = {"transfer": transfer_rows, "large": large_rows}.get(case)
        new = runner(args) if runner else problem_case(case, args)
        for r in new:
            r["load_average_before"] = load_before
            print(f"  {r['case']} | {r['model']}: error {r['error']:.3f}", flush=True)
        rows += new
        print(f"{case}: {time.perf_counter() - t0:.0f} s", flush=True)
    results = merge_rows(args.out, rows)
    config = {
        "description": __doc__.split("\n\n", 2)[1],
        "args": {k: str(v) for k, v in vars(args).items() if k not in ("out", "markdown")},
    }
    data = results_document("spon", config, results, compute_targets(results))
    write_json(data, args.out)
    print(render_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
