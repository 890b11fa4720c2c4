"""Physics-informed hard constraints (Chalapathi et al., ICLR 2024).

* :class:`HardConstraint` -- basis functions from any network, weights solving the PDE
  residual per sample (Levenberg-Marquardt), gradients by implicit differentiation;
  :class:`ConstraintResult` reports convergence per sample; :func:`combine` builds fields.
* :class:`HardConstraintMoE` -- one constraint per subdomain, all experts solved as one batch;
  :func:`uniform_subdomains`, :func:`sample_in_subdomains` split a box and sample residual
  points per expert.
* :func:`diffusion_sorption_residual` -- the residual of the paper's 1-D problem on basis
  fields.
* :func:`finite_difference`, :func:`sample_grid` -- derivatives of grid basis functions and
  their values at random residual points.
* :class:`SorptionPIHC` -- an FNO basis with a soft, global hard or mixture-of-experts hard
  constraint, trained physics-only on diffusion-sorption (:func:`sorption_data`,
  :func:`sorption_step`, :func:`sorption_metrics` for :class:`sciml.train.Trainer`).
"""

from sciml.constraints.grid import finite_difference, sample_grid
from sciml.constraints.hard import (
    ConstraintResult,
    HardConstraint,
    HardConstraintWarning,
    combine,
)
from sciml.constraints.moe import HardConstraintMoE, sample_in_subdomains, uniform_subdomains
from sciml.constraints.problems import DIFFUSION_SORPTION_FIELDS, diffusion_sorption_residual
from sciml.constraints.sorption import (
    SorptionOutput,
    SorptionPIHC,
    sorption_data,
    sorption_metrics,
    sorption_step,
)

__all__ = [
    "DIFFUSION_SORPTION_FIELDS",
    "ConstraintResult",
    "HardConstraint",
    "HardConstraintMoE",
    "HardConstraintWarning",
    "SorptionOutput",
    "SorptionPIHC",
    "combine",
    "diffusion_sorption_residual",
    "finite_difference",
    "sample_grid",
    "sample_in_subdomains",
    "sorption_data",
    "sorption_metrics",
    "sorption_step",
    "uniform_subdomains",
]
