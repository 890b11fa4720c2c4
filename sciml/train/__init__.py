"""One training loop for all methods, with checkpoints, exact resume, DDP and FE-norm losses.

* :class:`TrainConfig`, :class:`Trainer`, :func:`supervised` -- the loop.
* :func:`load_checkpoint`, :func:`plot_history` -- artefacts of a run.
* :func:`relative_l2`, :func:`relative_l2_per_sample`, :class:`FENormLoss` -- losses/metrics.
"""

from sciml.train.losses import FENormLoss, relative_l2, relative_l2_per_sample
from sciml.train.trainer import TrainConfig, Trainer, load_checkpoint, plot_history, supervised

__all__ = [
    "FENormLoss",
    "TrainConfig",
    "Trainer",
    "load_checkpoint",
    "plot_history",
    "relative_l2",
    "relative_l2_per_sample",
    "supervised",
]
