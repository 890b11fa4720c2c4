"""Deep conjugate direction method (Kaneda et al., ICML 2023) for grid Poisson systems.

* scenes and systems: :func:`empty_scene`, :func:`obstacle_scene`, :func:`blob_scene`,
  :func:`image_scene`, :class:`GridPoisson`, :func:`divergence_rhs`;
* the network :class:`DCDMNet` and its training: :func:`ritz_rhs`, :func:`write_ritz_dataset`,
  :func:`scale_invariant_loss`, :func:`train_dcdm`;
* the solver :func:`dcdm` and :class:`LearnedDirections` (the network as ``M`` of
  :func:`sciml.linalg.fcg`); :func:`pretrained` loads the shipped weights;
* beyond grids (any sparse SPD matrix, e.g. finite elements on unstructured meshes): the graph
  network :class:`GraphDCDMNet` on :class:`MatrixGraph`, :class:`GraphDirections`,
  :func:`write_graph_dataset`, :func:`train_graph_dcdm`, :func:`pretrained_graph`; the same
  :func:`dcdm` solver.
"""

from sciml.dcdm.graph import GraphDCDMNet, GraphDirections, MatrixGraph
from sciml.dcdm.graph_training import block_diagonal, train_graph_dcdm, write_graph_dataset
from sciml.dcdm.network import DCDMNet
from sciml.dcdm.pretrained import (
    VARIANTS,
    pretrained,
    pretrained_graph,
    pretrained_info,
    save_weights,
)
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
    "GraphDCDMNet",
    "GraphDirections",
    "GridPoisson",
    "LearnedDirections",
    "MatrixGraph",
    "MultilevelDirections",
    "blob_scene",
    "block_diagonal",
    "dcdm",
    "directions",
    "divergence_rhs",
    "empty_scene",
    "fill_enclosed",
    "image_scene",
    "obstacle_scene",
    "pretrained",
    "pretrained_graph",
    "pretrained_info",
    "ritz_rhs",
    "save_weights",
    "scale_invariant_loss",
    "train_dcdm",
    "train_graph_dcdm",
    "write_graph_dataset",
    "write_ritz_dataset",
]
