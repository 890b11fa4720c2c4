"""The main job: every method of sciml on small problems, in a few minutes on a laptop CPU.

:func:`run_demo` (``sciml demo``, ``make demo``) runs five stages, each on data it generates
with sciml's own solvers (nothing is downloaded and no GPU is needed):

1. **data + FNO**: a Darcy-flow dataset (thresholded-GRF permeability, P1 finite elements) is
   written to HDF5 with :func:`sciml.data.generate_dataset`, read back with
   :class:`sciml.data.H5Dataset` and a Fourier neural operator is trained on it;
2. **DeepONet** on the antiderivative operator of the DeepONet paper;
3. **SPON** on a finite-element Poisson problem on a plate with holes (boundary values exact);
   the test predictions go to an XDMF file for ParaView;
4. **DCDM**: the pretrained 2-D network solves the pressure-Poisson system of an obstacle
   scene it never saw, next to CG and AMG-preconditioned CG;
5. **PI-HC**: diffusion-sorption, trained physics-only, soft constraint vs one hard
   constraint solved by implicit differentiation.

Each stage adds rows to one summary table (printed, and written as ``summary.md`` and
``summary.json``) and writes a PNG figure; every file is written under a temporary name and
renamed when complete. ``size="small"`` is the configuration the tests run (well under a
minute); ``size="full"`` is the default of ``sciml demo``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sciml._machine import torch_threads

__all__ = ["DEMO_SIZES", "DemoResult", "DemoRow", "DemoSizes", "run_demo"]


@dataclass(frozen=True)
class DemoSizes:
    """Problem and training sizes of the demo's stages.

    Attributes
    ----------
    darcy_resolution : int
        Cells per side of the Darcy grid (``resolution + 1`` points).
    darcy_train, darcy_test : int
        Darcy samples.
    fno_width, fno_layers, fno_modes, fno_epochs : int
        FNO size and training epochs.
    deeponet_train, deeponet_test, deeponet_epochs : int
        Antiderivative samples and DeepONet epochs.
    spon_train, spon_test, spon_hidden, spon_layers, spon_epochs : int
        Plate-with-holes samples, SPON size and epochs.
    dcdm_grid : int
        Cells per side of the DCDM obstacle scene.
    pihc_nx, pihc_nt, pihc_train, pihc_test, pihc_points, pihc_modes, pihc_epochs : int
        Diffusion-sorption grid, initial conditions, residual points per step, Fourier modes
        per axis of the basis network and epochs.
    """

    darcy_resolution: int
    darcy_train: int
    darcy_test: int
    fno_width: int
    fno_layers: int
    fno_modes: int
    fno_epochs: int
    deeponet_train: int
    deeponet_test: int
    deeponet_epochs: int
    spon_train: int
    spon_test: int
    spon_hidden: int
    spon_layers: int
    spon_epochs: int
    dcdm_grid: int
    pihc_nx: int
    pihc_nt: int
    pihc_train: int
    pihc_test: int
    pihc_points: int
    pihc_modes: int
    pihc_epochs: int


DEMO_SIZES: dict[str, DemoSizes] = {
    "full": DemoSizes(
        darcy_resolution=16,
        darcy_train=200,
        darcy_test=40,
        fno_width=24,
        fno_layers=4,
        fno_modes=6,
        fno_epochs=25,
        deeponet_train=250,
        deeponet_test=50,
        deeponet_epochs=150,
        spon_train=60,
        spon_test=20,
        spon_hidden=32,
        spon_layers=4,
        spon_epochs=12,
        dcdm_grid=128,
        pihc_nx=33,
        pihc_nt=25,
        pihc_train=16,
        pihc_test=4,
        pihc_points=2000,
        pihc_modes=8,
        pihc_epochs=8,
    ),
    "small": DemoSizes(
        darcy_resolution=8,
        darcy_train=48,
        darcy_test=16,
        fno_width=12,
        fno_layers=2,
        fno_modes=4,
        fno_epochs=8,
        deeponet_train=100,
        deeponet_test=20,
        deeponet_epochs=40,
        spon_train=16,
        spon_test=8,
        spon_hidden=16,
        spon_layers=2,
        spon_epochs=4,
        dcdm_grid=48,
        pihc_nx=17,
        pihc_nt=13,
        pihc_train=4,
        pihc_test=2,
        pihc_points=500,
        pihc_modes=4,
        pihc_epochs=3,
    ),
}


@dataclass(frozen=True)
class DemoRow:
    """One line of the summary table: a method against its baseline on one problem.

    Attributes
    ----------
    stage : str
        Problem (e.g. ``"Darcy 17x17"``).
    method : str
        The sciml method measured.
    metric : str
        What ``value`` and ``baseline_value`` are (e.g. ``"rel. L2 test error"``).
    value : float
        The method's figure.
    baseline : str
        What it is compared with.
    baseline_value : float
        The baseline's figure.
    seconds : float
        Wall time of the stage (data, training and evaluation).
    """

    stage: str
    method: str
    metric: str
    value: float
    baseline: str
    baseline_value: float
    seconds: float


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` measured and wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
        The output folder.
    rows : list of DemoRow
        The summary table.
    files : list of pathlib.Path
        Every file written (figures, XDMF, datasets, summaries).
    skipped : dict of str to str
        Stages that could not run, with the reason (e.g. dolfinx not installed).
    seconds : float
        Wall time of the whole run.
    """

    out_dir: Path
    rows: list[DemoRow]
    files: list[Path]
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self, markdown: bool = True) -> str:
        """The summary table.

        Parameters
        ----------
        markdown : bool, default True
            A Markdown table; otherwise columns aligned with spaces, for a terminal.

        Returns
        -------
        str
        """
        header = ["problem", "sciml method", "metric", "sciml", "baseline", "value", "seconds"]
        body = [
            [
                r.stage,
                r.method,
                r.metric,
                _fmt(r.value),
                r.baseline,
                _fmt(r.baseline_value),
                "" if r.seconds != r.seconds else f"{r.seconds:.1f}",
            ]
            for r in self.rows
        ]
        body += [
            [stage, f"skipped: {why}", "", "", "", "", ""] for stage, why in self.skipped.items()
        ]
        if markdown:
            lines = ["| " + " | ".join(header) + " |", "|---|---|---|---:|---|---:|---:|"]
            return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        right = {3, 5, 6}

        def line(row: list[str]) -> str:
            cells = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(header), rule, *(line(row) for row in body)])


def _fmt(value: float) -> str:
    if value != value:  # NaN: no figure
        return "-"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.2e}"


@contextmanager
def _written(path: Path, files: list[Path]) -> Iterator[Path]:
    """Write ``path`` atomically and record it (with its XDMF companion, if any)."""
    from sciml._files import atomic_output

    with atomic_output(path) as tmp:
        yield tmp
    files.append(path)
    if path.suffix == ".xdmf" and path.with_suffix(".h5").exists():
        files.append(path.with_suffix(".h5"))


def _savefig(fig: Any, path: Path, files: list[Path]) -> None:
    import matplotlib.pyplot as plt

    with _written(path, files) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _stage_fno(sizes: DemoSizes, out: Path, files: list[Path], progress: bool) -> list[DemoRow]:
    import matplotlib.pyplot as plt

    from sciml.data import H5Dataset, generate_dataset
    from sciml.operators import FNO
    from sciml.train import TrainConfig, Trainer, relative_l2, relative_l2_per_sample

    start = time.perf_counter()
    res = sizes.darcy_resolution
    path = generate_dataset(
        "darcy",
        out / "data" / "darcy.h5",
        n_train=sizes.darcy_train,
        n_test=sizes.darcy_test,
        seed=0,
        chunk_size=16,  # the progress bar advances per chunk
        progress=progress,
        resolution=res,
    )
    files.append(path)
    fields = ["a_grid", "u_grid"]
    train = H5Dataset(path, "train", fields=fields, normalize=True, preload=True)
    test = H5Dataset(path, "test", fields=fields, normalize=True, preload=True)
    norm_u = train.normalizer("u_grid")
    torch.manual_seed(0)
    modes = (sizes.fno_modes, sizes.fno_modes)
    model = FNO(
        in_channels=1,
        out_channels=1,
        modes=modes,
        width=sizes.fno_width,
        layers=sizes.fno_layers,
        padding_fraction=0.25,
    )

    def predict(net: torch.nn.Module, a: torch.Tensor) -> torch.Tensor:
        return norm_u.decode(net(a[:, None])[:, 0])

    def step(net: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return relative_l2(predict(net, batch["a_grid"]), norm_u.decode(batch["u_grid"]))

    config = TrainConfig(
        epochs=sizes.fno_epochs,
        batch_size=20,
        lr=3e-3,
        scheduler="cosine",
        eval_every=max(sizes.fno_epochs, 1),
        out_dir=str(out / "fno_darcy"),
        progress=progress,
    )
    Trainer(model, step, config, train, test, device="cpu").fit()
    files.append(out / "fno_darcy" / "checkpoint.pt")
    model.eval()
    a_test = torch.stack([test[i]["a_grid"] for i in range(len(test))])
    u_test = norm_u.decode(torch.stack([test[i]["u_grid"] for i in range(len(test))]))
    u_train_mean = norm_u.decode(torch.stack([train[i]["u_grid"] for i in range(len(train))])).mean(
        0
    )
    with torch.no_grad():
        pred = predict(model, a_test)
    error = float(relative_l2_per_sample(pred, u_test).mean())
    mean_error = float(relative_l2_per_sample(u_train_mean.expand_as(u_test), u_test).mean())
    seconds = time.perf_counter() - start

    a_phys = train.normalizer("a_grid").decode(a_test[0])
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), layout="constrained")
    panels = [
        (a_phys, "permeability a (input)"),
        (u_test[0], "FE solution u"),
        (pred[0], f"FNO ({sizes.fno_epochs} epochs)"),
        ((pred[0] - u_test[0]).abs(), "|error|"),
    ]
    for ax, (image, title) in zip(axes, panels, strict=True):
        shown = ax.imshow(image.T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        fig.colorbar(shown, ax=ax, shrink=0.8)
        ax.set_title(title)
    fig.suptitle(f"Darcy flow, a held-out sample; FNO mean relative L2 test error {error:.3f}")
    _savefig(fig, out / "fno_darcy.png", files)
    return [
        DemoRow(
            f"Darcy {res + 1}x{res + 1}",
            "FNO",
            "rel. L2 test error",
            error,
            "training mean",
            mean_error,
            seconds,
        )
    ]


def _stage_deeponet(
    sizes: DemoSizes, out: Path, files: list[Path], progress: bool
) -> list[DemoRow]:
    import matplotlib.pyplot as plt

    from sciml.data import DictDataset, generate
    from sciml.operators import DeepONet
    from sciml.train import TrainConfig, Trainer, relative_l2, relative_l2_per_sample

    start = time.perf_counter()
    n_train, n_test = sizes.deeponet_train, sizes.deeponet_test
    data = generate("antiderivative", n_train + n_test, seed=0, chunk_size=n_train + n_test)
    x = data.coords["x"].float()[:, None]
    u, s = data.inputs["u"].float(), data.outputs["s"].float()
    torch.manual_seed(0)
    model = DeepONet([u.shape[1], 40, 40], [1, 40, 40], activation="relu")

    def step(net: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return relative_l2(net(batch["u"], x), batch["s"])

    config = TrainConfig(
        epochs=sizes.deeponet_epochs,
        batch_size=50,
        lr=3e-3,
        scheduler="cosine",
        eval_every=max(sizes.deeponet_epochs, 1),
        progress=progress,
    )
    train = DictDataset({"u": u[:n_train], "s": s[:n_train]})
    test = DictDataset({"u": u[n_train:], "s": s[n_train:]})
    Trainer(model, step, config, train, test, device="cpu").fit()
    model.eval()
    with torch.no_grad():
        pred = model(u[n_train:], x)
    ref = s[n_train:]
    error = float(relative_l2_per_sample(pred, ref).mean())
    mean_error = float(relative_l2_per_sample(s[:n_train].mean(0).expand_as(ref), ref).mean())
    seconds = time.perf_counter() - start

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), layout="constrained")
    for i, ax in enumerate(axes):
        ax.plot(x[:, 0], ref[i], label="s = int u (reference)")
        ax.plot(x[:, 0], pred[i], "--", label="DeepONet")
        ax.plot(x[:, 0], u[n_train + i], ":", alpha=0.6, label="input u")
        ax.set(xlabel="x", title=f"held-out function {i}")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"DeepONet, antiderivative operator: mean relative L2 test error {error:.3f}")
    _savefig(fig, out / "deeponet_antiderivative.png", files)
    return [
        DemoRow(
            "antiderivative (100 sensors)",
            "DeepONet",
            "rel. L2 test error",
            error,
            "training mean",
            mean_error,
            seconds,
        )
    ]


def _stage_spon(sizes: DemoSizes, out: Path, files: list[Path], progress: bool) -> list[DemoRow]:
    import dolfinx_solver  # noqa: F401  (must come before dolfinx)
    import matplotlib.pyplot as plt
    import matplotlib.tri as mtri
    from tqdm.auto import tqdm

    from sciml.data import generate
    from sciml.data.generators.fe_poisson import mesh_path
    from sciml.fem import FunctionSpace, relative_l2_error, write_fields
    from sciml.mesh import load
    from sciml.spon import SPON
    from sciml.train import FENormLoss

    start = time.perf_counter()
    n_train, n_test = sizes.spon_train, sizes.spon_test
    data = generate(
        "poisson_meshes",
        n_train + n_test,
        seed=0,
        chunk_size=n_train + n_test,
        mesh="plate_with_holes",
        f_sigma=0.0,
        f_mean=1.0,
        dirichlet="holes",
    )
    k, g, u = data.inputs["kappa"], data.inputs["g"], data.outputs["u"]
    V = FunctionSpace(load(mesh_path("plate_with_holes", 0)), "P", 1)
    torch.manual_seed(0)
    model = SPON(
        V,
        V,
        bcs=["left", "right", "top", "bottom", "holes"],
        hidden=sizes.spon_hidden,
        layers=sizes.spon_layers,
        input_scale=float(k.std()),
        output_scale=float(u.std()),
    )
    loss_fn = FENormLoss(V, "l2")
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 8
    steps = sizes.spon_epochs * -(-n_train // batch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    generator = torch.Generator().manual_seed(0)
    for _epoch in tqdm(range(sizes.spon_epochs), desc="SPON", disable=not progress):
        order = torch.randperm(n_train, generator=generator)
        for i in range(0, n_train, batch):
            idx = order[i : i + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(k[idx], g[idx]), u[idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    k_test, g_test, u_test = k[n_train:], g[n_train:], u[n_train:]
    with torch.no_grad():
        pred = model(k_test, g_test)
        lift = model.lift(g_test[:, model.bc_dofs])
    error = float(relative_l2_error(V, pred, u_test).mean())
    lift_error = float(relative_l2_error(V, lift, u_test).mean())
    bc_error = float((pred[:, model.bc_dofs] - u_test[:, model.bc_dofs]).abs().max())
    with _written(out / "spon_plate_with_holes.xdmf", files) as tmp:
        write_fields(
            tmp,
            V,
            {
                "kappa": k_test,
                "u_reference": u_test,
                "u_spon": pred,
                "error": (pred - u_test).abs(),
            },
        )
    seconds = time.perf_counter() - start

    xy = V.dof_coordinates
    triangulation = mtri.Triangulation(xy[:, 0], xy[:, 1], V.dolfinx_space.dofmap.list)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.2), layout="constrained")
    panels = [
        (k_test[0], "conductivity kappa (input)"),
        (u_test[0], "FE solution u"),
        (pred[0], f"SPON ({sizes.spon_epochs} epochs)"),
        ((pred[0] - u_test[0]).abs(), "|error|"),
    ]
    for ax, (values, title) in zip(axes, panels, strict=True):
        shown = ax.tripcolor(triangulation, values.numpy(), shading="gouraud")
        fig.colorbar(shown, ax=ax, shrink=0.8)
        ax.set(title=title, aspect="equal")
        ax.set_axis_off()
    fig.suptitle(
        f"SPON on a plate with holes, a held-out sample; mean relative L2 test error "
        f"{error:.3f}, largest boundary error {bc_error:.1e}"
    )
    _savefig(fig, out / "spon_plate_with_holes.png", files)
    return [
        DemoRow(
            f"FE Poisson, plate with holes ({V.num_dofs} dofs)",
            "SPON",
            "rel. L2 test error",
            error,
            "harmonic lifting of the boundary data",
            lift_error,
            seconds,
        ),
        DemoRow(
            f"FE Poisson, plate with holes ({V.num_dofs} dofs)",
            "SPON",
            "max boundary error",
            bc_error,
            "-",
            float("nan"),
            float("nan"),
        ),
    ]


def _stage_dcdm(sizes: DemoSizes, out: Path, files: list[Path], progress: bool) -> list[DemoRow]:
    import matplotlib.pyplot as plt
    import numpy as np

    from sciml.dcdm import GridPoisson, dcdm, divergence_rhs, obstacle_scene, pretrained
    from sciml.linalg import amg, cg

    del progress  # solves take seconds
    start = time.perf_counter()
    nan = float("nan")
    n = sizes.dcdm_grid
    rtol = 1e-6
    system = GridPoisson(obstacle_scene((n, n), seed=11, count=8))
    b = divergence_rhs(system, seed=0)
    results: dict[str, tuple[int, float, np.ndarray, bool]] = {}

    def timed(name: str, solve: Callable[[], Any]) -> Any:
        seconds = float("inf")
        for _ in range(2):  # the faster of two runs: the first one also warms up
            t0 = time.perf_counter()
            sol = solve()
            seconds = min(seconds, time.perf_counter() - t0)
        history = sol.residual_norms.numpy()
        results[name] = (int(sol.iterations), seconds, history / history[0], bool(sol.converged))
        return sol

    model = pretrained(2)
    # the shipped network with an exact coarse-grid correction 8x coarser (two-level DCDM)
    sol = timed("DCDM", lambda: dcdm(system, b, model, rtol=rtol, maxiter=2000, coarse=8))
    timed("AMG-PCG", lambda: cg(system.matrix, b, rtol=rtol, M=amg(system.matrix)))
    timed("CG", lambda: cg(system.matrix, b, rtol=rtol, maxiter=50_000))
    for name, (_, _, _, converged) in results.items():
        if not converged:
            raise RuntimeError(f"{name} did not reach rtol {rtol} on the demo's obstacle scene")
    pressure = system.to_grid(sol.x).numpy()

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    axes[0].imshow(~system.fluid.T, origin="lower", extent=(0, 1, 0, 1), cmap="Greys")
    axes[0].set_title("obstacles (black), open outer sides")
    masked = np.ma.masked_where(~system.fluid.T, pressure.T)
    shown = axes[1].imshow(masked, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r")
    axes[1].set_title("pressure p (DCDM)")
    fig.colorbar(shown, ax=axes[1], shrink=0.8)
    for name, (iterations, seconds, history, _) in results.items():
        axes[2].semilogy(history, label=f"{name}: {iterations} it, {seconds:.2f} s")
    axes[2].axhline(rtol, color="k", lw=0.8, ls=":")
    axes[2].set(xlabel="iteration", ylabel="||b - A x|| / ||b||", title="residual history")
    axes[2].set_xscale("symlog", linthresh=10)
    axes[2].set_xlim(left=0)
    axes[2].legend(fontsize=8)
    fig.suptitle(
        f"pressure Poisson on a {n}x{n} obstacle scene, pretrained DCDM (2-D) with a coarse grid"
    )
    _savefig(fig, out / "dcdm_obstacles.png", files)
    stage = f"pressure Poisson {n}x{n}, obstacles"
    its, secs = {k: v[0] for k, v in results.items()}, {k: v[1] for k, v in results.items()}
    return [
        DemoRow(
            stage,
            "DCDM (pretrained)",
            "seconds (setup + solve, best of 2)",
            secs["DCDM"],
            "AMG-PCG",
            secs["AMG-PCG"],
            time.perf_counter() - start,
        ),
        DemoRow(
            stage, "DCDM (pretrained)", "iterations", its["DCDM"], "AMG-PCG", its["AMG-PCG"], nan
        ),
        DemoRow(stage, "DCDM (pretrained)", "iterations", its["DCDM"], "CG", its["CG"], nan),
    ]


def _stage_pihc(sizes: DemoSizes, out: Path, files: list[Path], progress: bool) -> list[DemoRow]:
    import matplotlib.pyplot as plt

    from sciml.constraints import SorptionPIHC, physics_metrics, physics_step, sorption_data
    from sciml.train import TrainConfig, Trainer

    start = time.perf_counter()
    nx, nt = sizes.pihc_nx, sizes.pihc_nt
    train = sorption_data(sizes.pihc_train, seed=1, cells=256, nx=nx, nt=nt)
    test = sorption_data(sizes.pihc_test, seed=2, cells=256, nx=nx, nt=nt)
    errors: dict[str, float] = {}
    failures: dict[str, float] = {}
    predictions: dict[str, torch.Tensor] = {}
    sample = test[0]
    for name, mode in (("soft constraint", "soft"), ("hard constraint", "hard")):
        torch.manual_seed(0)
        model = SorptionPIHC(
            mode=mode,
            experts=1,
            points=sizes.pihc_points,
            n_basis=16,
            width=16,
            layers=2,
            fno_modes=(sizes.pihc_modes, sizes.pihc_modes),
            on_failure="ignore",
            nx=nx,
            nt=nt,
        )
        config = TrainConfig(
            epochs=sizes.pihc_epochs,
            batch_size=4,
            lr=1e-3,
            grad_clip=1.0,
            eval_every=max(sizes.pihc_epochs, 1),
            progress=progress,
        )
        history = Trainer(
            model, physics_step, config, train, test, metrics=physics_metrics, device="cpu"
        ).fit()
        errors[name] = float(history[-1]["rel_l2"])
        failures[name] = float(history[-1]["failures"])
        model.eval()
        with torch.no_grad():
            predictions[name] = model(sample["u0"][None]).u[0]
    seconds = time.perf_counter() - start

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), sharey=True, layout="constrained")
    extent = (0, 500, 0, 1)
    axes[0].imshow(sample["u"], origin="lower", aspect="auto", extent=extent, vmin=0, vmax=1)
    axes[0].set(title="reference (finite volumes)", xlabel="t", ylabel="x")
    for ax, (name, u) in zip(axes[1:], predictions.items(), strict=True):
        shown = ax.imshow(u, origin="lower", aspect="auto", extent=extent, vmin=0, vmax=1)
        ax.set(title=f"{name}: test error {errors[name]:.3f}", xlabel="t")
    fig.colorbar(shown, ax=axes.tolist(), label="concentration u")
    fig.suptitle("diffusion-sorption, physics-only training")
    _savefig(fig, out / "pihc_sorption.png", files)
    stage = f"diffusion-sorption {sizes.pihc_nx}x{sizes.pihc_nt}"
    return [
        DemoRow(
            stage,
            "PI hard constraint",
            "rel. L2 test error",
            errors["hard constraint"],
            "soft constraint (same network)",
            errors["soft constraint"],
            seconds,
        ),
        DemoRow(
            stage,
            "PI hard constraint",
            "inner solves not converged",
            failures["hard constraint"],
            "-",
            float("nan"),
            float("nan"),
        ),
    ]


STAGES: dict[str, Callable[[DemoSizes, Path, list[Path], bool], list[DemoRow]]] = {
    "fno": _stage_fno,
    "deeponet": _stage_deeponet,
    "spon": _stage_spon,
    "dcdm": _stage_dcdm,
    "pihc": _stage_pihc,
}
_TITLES = {
    "fno": "data + FNO on Darcy flow",
    "deeponet": "DeepONet on the antiderivative operator",
    "spon": "SPON on a finite-element Poisson problem",
    "dcdm": "pretrained DCDM vs AMG-PCG and CG",
    "pihc": "physics-informed hard constraint on diffusion-sorption",
}


def run_demo(
    out_dir: str | os.PathLike[str] = "sciml-demo",
    *,
    size: str = "full",
    stages: list[str] | None = None,
    progress: bool = True,
    threads: int | None = 1,
) -> DemoResult:
    """Run the main job: every method of sciml on small generated problems.

    Parameters
    ----------
    out_dir : str or path-like, default ``"sciml-demo"``
        Output folder (created); files of an earlier run are replaced one by one.
    size : {"full", "small"}, default "full"
        ``"full"`` takes about two minutes on two CPU cores; ``"small"`` (used by the tests)
        well under one. See ``DEMO_SIZES``.
    stages : list of str, optional
        A subset of ``"fno"``, ``"deeponet"``, ``"spon"``, ``"dcdm"``, ``"pihc"`` (default all).
    progress : bool, default True
        Progress bars for data generation and training.
    threads : int or None, default 1
        Torch CPU threads during the run (restored afterwards). The demo's networks are small,
        and one thread is as fast as two on an idle two-core machine and several times faster
        on a busy one; ``None`` keeps torch's setting.

    Returns
    -------
    DemoResult
        The summary rows and the files written (also ``summary.md`` and ``summary.json``).

    Raises
    ------
    ValueError
        For an unknown size or stage.
    """
    if size not in DEMO_SIZES:
        raise ValueError(f"size must be one of {sorted(DEMO_SIZES)}, got {size!r}")
    chosen = list(STAGES) if stages is None else list(stages)
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown demo stages {unknown}; choose from {list(STAGES)}")
    with torch_threads(threads):
        return _run(DEMO_SIZES[size], size, Path(out_dir).resolve(), chosen, progress)


def _run(sizes: DemoSizes, size: str, out: Path, chosen: list[str], progress: bool) -> DemoResult:
    """The stages of :func:`run_demo`, in order, then the summary files."""
    out.mkdir(parents=True, exist_ok=True)
    print(f"sciml demo ({size}): writing to {out}", flush=True)
    rows: list[DemoRow] = []
    files: list[Path] = []
    skipped: dict[str, str] = {}
    start = time.perf_counter()
    for i, name in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {_TITLES[name]}", flush=True)
        t0 = time.perf_counter()
        try:
            rows.extend(STAGES[name](sizes, out, files, progress))
            print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)
        except ImportError as error:  # the optional fem extra (dolfinx) for Darcy data and SPON
            if name not in ("fno", "spon"):
                raise
            skipped[name] = f"{error} (install sciml[fem])"
            print(f"    skipped: {skipped[name]}", flush=True)
    result = DemoResult(out, rows, files, skipped, time.perf_counter() - start)
    _write_summary(result, size)
    return result


def _write_summary(result: DemoResult, size: str) -> None:
    from sciml._machine import machine_info

    machine = machine_info()
    text = (
        f"# sciml demo ({size})\n\n{result.table()}\n\n"
        f"Total {result.seconds:.0f} s on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['torch_threads']} torch threads), torch {machine['torch']}.\n"
    )
    md, js = result.out_dir / "summary.md", result.out_dir / "summary.json"
    with _written(md, result.files) as tmp:
        tmp.write_text(text)
    payload = {
        "size": size,
        "sizes": asdict(DEMO_SIZES[size]),
        "machine": machine,
        "seconds": result.seconds,
        "rows": [asdict(r) for r in result.rows],
        "skipped": result.skipped,
        "files": [str(p.relative_to(result.out_dir)) for p in result.files],
    }
    with _written(js, result.files) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
