"""Reproduce the shipped DCDM weights.

``python -m sciml.dcdm.reproduce --dim 2`` (or ``--dim 3``) regenerates
``sciml/dcdm/weights/dcdm_2d.pt`` (``dcdm_3d.pt``): Ritz-vector right-hand sides of the
empty-domain matrix (:func:`~sciml.dcdm.ritz_rhs`) written to HDF5, the scale-invariant loss,
Adam with a cosine schedule through :class:`sciml.train.Trainer`. The options and the loss
history of the shipped files are stored in them (:func:`~sciml.dcdm.pretrained_info`).
``--multilevel --out FILE`` trains sciml's multilevel variant of the network instead (not
shipped: it measured worse, see the DCDM guide).

``python -m sciml.dcdm.reproduce --graph`` regenerates ``weights/dcdm_graph_p1.pt``, the graph
network (:class:`~sciml.dcdm.GraphDCDMNet`): P1 matrices of ``-div(kappa grad u)`` with
``kappa = exp(GRF)`` and ``u = 0`` on the boundary
(:func:`sciml.data.generators.fe_poisson.diffusion_system`) on generated meshes of rectangles
with random circular holes (gmsh; three mesh sizes, two of them also refined once, one with
jittered nodes, so that the training matrices include the positive off-diagonal entries of
obtuse triangles), none of them a ``meshes/`` geometry; Ritz-vector right-hand sides of each
matrix, trained together on the block-diagonal matrix (:func:`~sciml.dcdm.train_graph_dcdm`).
Needs gmsh.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sciml.dcdm.network import DCDMNet
from sciml.dcdm.pretrained import VARIANTS, _path, save_weights
from sciml.dcdm.scenes import GridPoisson, empty_scene
from sciml.linalg import SparseMatrix

__all__ = [
    "DEFAULTS",
    "GRAPH_DEFAULTS",
    "GRAPH_MESHES",
    "GRAPH_VALIDATION",
    "graph_validation",
    "main",
    "training_mesh",
]

#: training options of the shipped files (``--dim`` picks one)
DEFAULTS: dict[int, dict[str, Any]] = {
    2: {"size": 64, "samples": 3000, "steps": 1000, "epochs": 30, "batch": 32, "lr": 1e-3},
    3: {"size": 24, "samples": 800, "steps": 600, "epochs": 10, "batch": 8, "lr": 1e-3},
}


#: training options of the shipped graph network (``--graph``)
GRAPH_DEFAULTS: dict[str, Any] = {
    "samples": 400,
    "steps": 800,
    "epochs": 4,
    "batch": 8,
    "lr": 1e-3,
    "hidden": 16,
    "layers": 2,
}
#: its training meshes: (mesh size, geometry seed, kind of :func:`training_mesh`)
GRAPH_MESHES: tuple[tuple[float, int, str], ...] = (
    (0.04, 10, "plain"),
    (0.028, 11, "plain"),
    (0.02, 12, "plain"),
    (0.04, 13, "refined"),
    (0.028, 14, "refined"),
    (0.02, 15, "jittered"),
)


def training_mesh(h: float, seed: int, kind: str = "plain") -> Any:
    """A rectangle ``[0, 1 + w] x [0, 1]`` minus 1-3 random disks, meshed by gmsh at size ``h``.

    Parameters
    ----------
    h : float
        Mesh size.
    seed : int
        Draws the width and the disks.
    kind : {"plain", "refined", "jittered", "graded", "graded-refined"}
        ``"refined"``: refined once uniformly after meshing; ``"jittered"``: interior nodes
        moved by up to ``0.3 h`` per coordinate (obtuse triangles); ``"graded"``: size ``h/4``
        on the holes growing to ``2 h`` at distance 0.3; ``"graded-refined"``: that, refined
        once.

    Returns
    -------
    sciml.mesh.Mesh
        Markers ``domain`` and ``boundary`` (the whole boundary).
    """
    import gmsh
    import numpy as np

    from sciml.mesh import load

    if kind not in ("plain", "refined", "jittered", "graded", "graded-refined"):
        raise ValueError(
            f"kind must be plain, refined, jittered, graded or graded-refined, got {kind!r}"
        )
    rng = np.random.default_rng(seed)
    width = 1.0 + rng.uniform(0.0, 1.0)
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Verbosity", 0)
        gmsh.model.add(f"dcdm_training_{seed}")
        occ = gmsh.model.occ
        holes = []
        for _ in range(int(rng.integers(1, 4))):
            r = rng.uniform(0.06, 0.15)
            cx = rng.uniform(r + 0.05, width - r - 0.05)
            cy = rng.uniform(r + 0.05, 1.0 - r - 0.05)
            holes.append((2, occ.addDisk(cx, cy, 0.0, r, r)))
        out, _ = occ.cut([(2, occ.addRectangle(0.0, 0.0, 0.0, width, 1.0))], holes)
        occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [t for _, t in out], 1, name="domain")
        edges = [t for _, t in gmsh.model.getBoundary(out, oriented=False)]
        gmsh.model.addPhysicalGroup(1, edges, 2, name="boundary")
        if kind.startswith("graded"):  # h / 4 on the holes, growing to 2 h at distance 0.3
            field = gmsh.model.mesh.field
            distance = field.add("Distance")
            circles = [  # the boundary curves off the rectangle's sides
                t
                for _, t in gmsh.model.getBoundary(out, oriented=False)
                if min(
                    np.subtract(
                        gmsh.model.getBoundingBox(1, t)[3:5], gmsh.model.getBoundingBox(1, t)[0:2]
                    )
                )
                > 1e-9
            ]
            field.setNumbers(distance, "CurvesList", circles)
            threshold = field.add("Threshold")
            field.setNumber(threshold, "InField", distance)
            field.setNumber(threshold, "SizeMin", h / 4)
            field.setNumber(threshold, "SizeMax", 2 * h)
            field.setNumber(threshold, "DistMin", 0.0)
            field.setNumber(threshold, "DistMax", 0.3)
            field.setAsBackgroundMesh(threshold)
            for option in ("MeshSizeExtendFromBoundary", "MeshSizeFromPoints"):
                gmsh.option.setNumber(f"Mesh.{option}", 0)
            gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        else:
            gmsh.option.setNumber("Mesh.MeshSizeMax", h)
            gmsh.option.setNumber("Mesh.MeshSizeMin", h)
        gmsh.model.mesh.generate(2)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mesh.msh"
            gmsh.write(str(path))
            gmsh.model.remove()
            mesh = load(path)
    finally:
        if started:
            gmsh.finalize()
    if kind in ("refined", "graded-refined"):
        return mesh.refine()
    if kind == "jittered":
        import dolfinx

        msh = mesh.dolfinx_mesh
        x = msh.geometry.x
        msh.topology.create_connectivity(1, 2)
        outer = dolfinx.mesh.locate_entities_boundary(
            msh, 0, lambda p: np.ones(p.shape[1], dtype=bool)
        )
        fixed = dolfinx.mesh.entities_to_geometry(msh, 0, outer).ravel()
        inner = np.setdiff1d(np.arange(x.shape[0]), fixed)
        x[inner, :2] += rng.uniform(-0.3, 0.3, (inner.size, 2)) * h
    return mesh


def _save(
    model: torch.nn.Module, out: Path, info: dict[str, Any], history: Any, start: float
) -> int:
    """Store the weights with ``info``, the loss history, the time and torch's version."""
    info = {**info, "history": history, "seconds": time.perf_counter() - start}
    save_weights(model, out, {**info, "torch": torch.__version__})
    print(f"wrote {out} (final test loss {history[-1].get('test_loss')})")
    return 0


#: validation meshes of the graph network (generated, none of ``meshes/``): (h, seed, kind)
GRAPH_VALIDATION: tuple[tuple[float, int, str], ...] = (
    (0.05, 50, "graded-refined"),
    (0.04, 51, "graded-refined"),
    (0.02, 52, "refined"),
)


def graph_validation(model: torch.nn.Module) -> dict[str, Any]:
    """DCDM iterations (rtol 1e-6, at most 300) of ``model`` on the validation meshes.

    Refined and graded meshes are where a learned smoothing can hurt; the number of epochs
    of the shipped network was chosen on these (4 epochs: 8, 8, 9 iterations; 12 epochs: 18,
    18, 15; the untrained network, the damped-Jacobi V-cycle: 14, 14, 14).

    Parameters
    ----------
    model : torch.nn.Module
        A graph network.

    Returns
    -------
    dict
        ``meshes`` (h, seed, kind, unknowns) and ``iterations``.
    """
    from sciml.dcdm.solver import dcdm

    meshes, iterations = [], []
    for h, seed, kind in GRAPH_VALIDATION:
        A, b, described = _mesh_system(h, seed, kind, system_seed=500 + seed)
        sol = dcdm(A, b, model, rtol=1e-6, maxiter=300)
        meshes.append(described)
        iterations.append(int(sol.iterations) if sol.converged else None)
    return {"meshes": meshes, "iterations": iterations}


def _mesh_system(
    h: float, seed: int, kind: str, *, system_seed: int
) -> tuple[SparseMatrix, torch.Tensor, dict[str, Any]]:
    """The diffusion system on ``training_mesh(h, seed, kind)`` and a description of it."""
    from sciml.data.generators.fe_poisson import diffusion_system

    A, b, _free, _kappa = diffusion_system(training_mesh(h, seed, kind), seed=system_seed)
    return A, b, {"h": h, "geometry_seed": seed, "kind": kind, "unknowns": A.shape[0]}


def _main_graph(args: argparse.Namespace) -> int:
    """Train and save the graph network (``--graph``)."""
    from sciml.dcdm.graph import GraphDCDMNet
    from sciml.dcdm.graph_training import train_graph_dcdm, write_graph_dataset
    from sciml.dcdm.pretrained import GRAPH_WEIGHTS
    from sciml.dcdm.training import ritz_rhs
    from sciml.train import TrainConfig

    opts = {
        k: v if getattr(args, k, None) is None else getattr(args, k)
        for k, v in GRAPH_DEFAULTS.items()
    }
    out = args.out or GRAPH_WEIGHTS
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    matrices, described = [], []
    for i, (h, seed, kind) in enumerate(GRAPH_MESHES):
        A, _b, description = _mesh_system(h, seed, kind, system_seed=100 + i)
        matrices.append(A)
        described.append(description)
        print(f"training matrix {i}: {description}", flush=True)
    rhs = [
        ritz_rhs(A, opts["samples"], steps=opts["steps"], seed=args.seed + i, progress=True)
        for i, A in enumerate(matrices)
    ]
    model = GraphDCDMNet(hidden=opts["hidden"], layers=opts["layers"])
    config = TrainConfig(
        epochs=opts["epochs"],
        batch_size=opts["batch"],
        lr=opts["lr"],
        scheduler="cosine",
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "graph_ritz.h5"
        write_graph_dataset(data, rhs, attrs={"steps": opts["steps"], "seed": args.seed})
        trainer = train_graph_dcdm(model, matrices, data, config)
    info = {
        "command": "python -m sciml.dcdm.reproduce --graph",
        "options": {**opts, "seed": args.seed},
        "training_meshes": described,
        "training_matrices": "P1 -div(kappa grad u), kappa = exp(GRF) (diffusion_system, "
        "seeds 100, 101, ...), u = 0 on the whole boundary (eliminated)",
        "validation": graph_validation(model),
    }
    return _save(model, out, info, trainer.history, start)


def main(argv: Sequence[str] | None = None) -> int:
    """Train a DCDM network on the empty domain and save it (see the module docstring)."""
    from sciml.dcdm.training import train_dcdm, write_ritz_dataset
    from sciml.train import TrainConfig

    parser = argparse.ArgumentParser(
        prog="python -m sciml.dcdm.reproduce", description=main.__doc__
    )
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    for key in DEFAULTS[2]:
        kind = float if key == "lr" else int
        parser.add_argument(f"--{key}", type=kind, default=None, help="default: see DEFAULTS")
    parser.add_argument("--variant", choices=VARIANTS, default="paper")
    parser.add_argument(
        "--multilevel", action="store_true", help="DCDMNet(multilevel=True); needs --out"
    )
    parser.add_argument(
        "--graph", action="store_true", help="the graph network for FE matrices (see above)"
    )
    for key in ("hidden", "layers"):
        parser.add_argument(f"--{key}", type=int, default=None, help="--graph: network width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped file")
    parser.add_argument("--data", type=Path, default=None, help="keep the HDF5 data here")
    args = parser.parse_args(argv)
    if args.graph:
        return _main_graph(args)
    if args.multilevel and args.out is None:
        parser.error("--multilevel is not a shipped network: give --out FILE")
    opts = {
        key: default if getattr(args, key) is None else getattr(args, key)
        for key, default in DEFAULTS[args.dim].items()
    }
    out = args.out or _path(args.dim, args.variant)
    torch.manual_seed(args.seed)
    system = GridPoisson(empty_scene((opts["size"],) * args.dim), dtype=torch.float64)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "ritz.h5"
        write_ritz_dataset(
            data, system, opts["samples"], steps=opts["steps"], seed=args.seed, progress=True
        )
        model = DCDMNet(args.dim, multilevel=args.multilevel)
        config = TrainConfig(
            epochs=opts["epochs"],
            batch_size=opts["batch"],
            lr=opts["lr"],
            scheduler="cosine",
            seed=args.seed,
        )
        trainer = train_dcdm(model, system, data, config)
    info = {
        "command": f"python -m sciml.dcdm.reproduce --dim {args.dim} --variant {args.variant}"
        + (" --multilevel" if args.multilevel else ""),
        "options": {**opts, "seed": args.seed},
        "training_matrix": f"empty {opts['size']}^{args.dim} grid, open (Dirichlet) outer faces",
    }
    return _save(model, out, info, trainer.history, start)


if __name__ == "__main__":
    raise SystemExit(main())
