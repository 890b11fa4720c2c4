"""Reproduce the shipped DCDM weights.

``python -m sciml.dcdm.reproduce --dim 2`` (or ``--dim 3``) regenerates
``sciml/dcdm/weights/dcdm_2d.pt`` (``dcdm_3d.pt``): Ritz-vector right-hand sides of the
empty-domain matrix (:func:`~sciml.dcdm.ritz_rhs`) written to HDF5, the scale-invariant loss,
Adam with a cosine schedule through :class:`sciml.train.Trainer`. The options and the loss
history of the shipped files are stored in them (:func:`~sciml.dcdm.pretrained_info`).
``--multilevel --out FILE`` trains sciml's multilevel variant of the network instead (not
shipped: it measured worse, see the DCDM guide).
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

__all__ = ["DEFAULTS", "main"]

#: training options of the shipped files (``--dim`` picks one)
DEFAULTS: dict[int, dict[str, Any]] = {
    2: {"size": 64, "samples": 3000, "steps": 1000, "epochs": 30, "batch": 32, "lr": 1e-3},
    3: {"size": 24, "samples": 800, "steps": 600, "epochs": 10, "batch": 8, "lr": 1e-3},
}


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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: the shipped file")
    parser.add_argument("--data", type=Path, default=None, help="keep the HDF5 data here")
    args = parser.parse_args(argv)
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
        "history": trainer.history,
        "seconds": time.perf_counter() - start,
        "torch": torch.__version__,
    }
    save_weights(model, out, info)
    print(f"wrote {out} (final test loss {trainer.history[-1].get('test_loss')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
