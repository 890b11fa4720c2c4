"""Weights shipped with sciml (``weights/``); :mod:`sciml.dcdm.reproduce` regenerates them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciml._files import atomic_output
from sciml.dcdm.graph import GraphDCDMNet
from sciml.dcdm.network import DCDMNet

__all__ = [
    "GRAPH_WEIGHTS",
    "VARIANTS",
    "WEIGHTS",
    "pretrained",
    "pretrained_graph",
    "pretrained_info",
    "save_weights",
]

WEIGHTS = Path(__file__).resolve().parent / "weights"

#: shipped variants; sciml's ``DCDMNet(multilevel=True)`` was trained and measured too, and is
#: not shipped: it needed more iterations than the paper's network (see docs/dcdm.rst)
VARIANTS = ("paper",)


#: the shipped graph network (2-D P1 variable-coefficient diffusion, unstructured meshes)
GRAPH_WEIGHTS = WEIGHTS / "dcdm_graph_p1.pt"


def _path(dim: int | str, variant: str = "paper") -> Path:
    if dim == "graph":
        return GRAPH_WEIGHTS
    if dim not in (2, 3):
        raise ValueError(f"pretrained DCDM networks exist for dim 2 and 3, got {dim}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return WEIGHTS / (f"dcdm_{dim}d.pt" if variant == "paper" else f"dcdm_{dim}d_{variant}.pt")


def _load(dim: int | str, variant: str = "paper") -> dict[str, Any]:
    path = _path(dim, variant)
    if not path.is_file():
        how = "--graph" if dim == "graph" else f"--dim {dim} --variant {variant}"
        raise FileNotFoundError(
            f"{path} is missing; reinstall sciml or regenerate it with "
            f"`python -m sciml.dcdm.reproduce {how}`"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def pretrained(
    dim: int,
    *,
    variant: str = "paper",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> DCDMNet:
    """A shipped DCDM network for 2-D or 3-D grids, in eval mode.

    Parameters
    ----------
    dim : {2, 3}
    variant : {"paper"}, default "paper"
        ``"paper"``: the architecture of Kaneda et al. (the only one shipped, see
        :data:`VARIANTS`).
    device : torch.device or str, default "cpu"
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    DCDMNet

    Raises
    ------
    ValueError
        For another ``dim`` or ``variant``.
    FileNotFoundError
        If the weights file is missing from the installation.
    """
    ckpt = _load(dim, variant)
    model = DCDMNet(**ckpt["init_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device=device, dtype=dtype).eval()


def pretrained_graph(
    *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> GraphDCDMNet:
    """The shipped graph DCDM network (any sparse SPD matrix; trained on 2-D P1 diffusion).

    Trained by ``python -m sciml.dcdm.reproduce --graph`` on variable-coefficient diffusion
    matrices of generated unstructured meshes (none of the ``meshes/`` geometries); see
    ``pretrained_info("graph")``.

    Parameters
    ----------
    device : torch.device or str, default "cpu"
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    GraphDCDMNet
        In eval mode.

    Raises
    ------
    FileNotFoundError
        If the weights file is missing from the installation.
    """
    ckpt = _load("graph")
    model = GraphDCDMNet(**ckpt["init_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device=device, dtype=dtype).eval()


def pretrained_info(dim: int | str, variant: str = "paper") -> dict[str, Any]:
    """How a shipped network was trained (options, command, losses, time).

    Parameters
    ----------
    dim : {2, 3, "graph"}
    variant : {"paper"}, default "paper"

    Returns
    -------
    dict
    """
    return json.loads(_load(dim, variant)["info"])


def save_weights(model: nn.Module, path: str | os.PathLike[str], info: dict[str, Any]) -> Path:
    """Write ``init_args``, the weights and a JSON description atomically.

    Parameters
    ----------
    model : DCDMNet or GraphDCDMNet
    path : str or path-like
    info : dict
        JSON-serialisable description of the training.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    state = {k: v.detach().cpu().float() for k, v in model.state_dict().items()}
    with atomic_output(path) as tmp:
        torch.save(
            {
                "init_args": dict(getattr(model, "init_args", {})),
                "state_dict": state,
                "info": json.dumps(info),
            },
            tmp,
        )
    return path
