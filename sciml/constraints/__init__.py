"""Physics-informed hard constraints (Chalapathi et al., ICLR 2024).

* :class:`HardConstraint` -- basis functions from any network, weights solving the PDE
  residual per sample (Levenberg-Marquardt), gradients by implicit differentiation;
  :class:`ConstraintResult` reports convergence per sample; :func:`combine` builds fields.
* :class:`HardConstraintMoE` -- one constraint per subdomain, all experts solved as one batch;
  :func:`uniform_subdomains`, :func:`sample_in_subdomains` split a box and sample residual
  points per expert.
* :func:`diffusion_sorption_residual` -- the residual of the paper's 1-D problem on basis
  fields.
"""

from sciml.constraints.hard import (
    ConstraintResult,
    HardConstraint,
    HardConstraintWarning,
    combine,
)
from sciml.constraints.moe import HardConstraintMoE, sample_in_subdomains, uniform_subdomains
from sciml.constraints.problems import DIFFUSION_SORPTION_FIELDS, diffusion_sorption_residual

__all__ = [
    "DIFFUSION_SORPTION_FIELDS",
    "ConstraintResult",
    "HardConstraint",
    "HardConstraintMoE",
    "HardConstraintWarning",
    "combine",
    "diffusion_sorption_residual",
    "sample_in_subdomains",
    "uniform_subdomains",
]
