"""Deep conjugate direction method (Kaneda et al., ICML 2023) for grid Poisson systems.

* scenes and systems: :func:`empty_scene`, :func:`obstacle_scene`, :func:`blob_scene`,
  :func:`image_scene`, :class:`GridPoisson`, :func:`divergence_rhs`;
* the network :class:`DCDMNet` and its training: :func:`ritz_rhs`, :func:`write_ritz_dataset`,
  :func:`scale_invariant_loss`, :func:`train_dcdm`;
* the solver :func:`dcdm` and :class:`LearnedDirections` (the network as ``M`` of
  :func:`sciml.linalg.fcg`); :func:`pretrained` loads the shipped weights.
"""

from sciml.dcdm.network import DCDMNet
from sciml.dcdm.pretrained import VARIANTS, pretrained, pretrained_info, save_weights
from sciml.dcdm.scenes import (
    GridPoisson,
    blob_scene,
    divergence_rhs,
    empty_scene,
    fill_enclosed,
    image_scene,
    obstacle_scene,
)
from sciml.dcdm.solver import LearnedDirections, MultilevelDirections, dcdm
from sciml.dcdm.training import (
    directions,
    ritz_rhs,
    scale_invariant_loss,
    train_dcdm,
    write_ritz_dataset,
)

__all__ = [
    "VARIANTS",
    "DCDMNet",
    "GridPoisson",
    "LearnedDirections",
    "MultilevelDirections",
    "blob_scene",
    "dcdm",
    "directions",
    "divergence_rhs",
    "empty_scene",
    "fill_enclosed",
    "image_scene",
    "obstacle_scene",
    "pretrained",
    "pretrained_info",
    "ritz_rhs",
    "save_weights",
    "scale_invariant_loss",
    "train_dcdm",
    "write_ritz_dataset",
]
