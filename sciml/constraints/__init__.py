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
  constraint, trained physics-only on diffusion-sorption (:func:`sorption_data`);
  :class:`VorticityPIHC` -- the same on 2-D periodic Navier-Stokes in vorticity form
  (:func:`vorticity_residual`, :func:`vorticity_data`, experts on quadrants). Both train with
  :func:`physics_step` and :func:`physics_metrics` in :class:`sciml.train.Trainer`.
* :class:`FEDiffusionPIHC` -- the finite-element variant: a graph-network basis on the dofs of
  a ``meshes/`` geometry, the assembled FE residual of a diffusion problem
  (:class:`DiffusionResidual`), experts on mesh partitions (:func:`partition_cells`);
  :func:`fe_diffusion_data`, :func:`fe_diffusion_step`, :func:`fe_diffusion_metrics`.
"""

from sciml.constraints.fem import (
    CellPartition,
    DiffusionResidual,
    FEDiffusionData,
    FEDiffusionPIHC,
    fe_diffusion_data,
    fe_diffusion_metrics,
    fe_diffusion_step,
    partition_cells,
)
from sciml.constraints.grid import finite_difference, sample_grid
from sciml.constraints.hard import (
    ConstraintResult,
    HardConstraint,
    HardConstraintWarning,
    combine,
)
from sciml.constraints.moe import HardConstraintMoE, sample_in_subdomains, uniform_subdomains
from sciml.constraints.problems import (
    DIFFUSION_SORPTION_FIELDS,
    VORTICITY_FIELDS,
    diffusion_sorption_residual,
    vorticity_residual,
)
from sciml.constraints.sorption import (
    SorptionOutput,
    SorptionPIHC,
    sorption_data,
    sorption_metrics,
    sorption_step,
)
from sciml.constraints.training import (
    PIHCOutput,
    TrajectoryDataset,
    physics_metrics,
    physics_step,
)
from sciml.constraints.vorticity import VorticityPIHC, vorticity_data

__all__ = [
    "DIFFUSION_SORPTION_FIELDS",
    "VORTICITY_FIELDS",
    "CellPartition",
    "ConstraintResult",
    "DiffusionResidual",
    "FEDiffusionData",
    "FEDiffusionPIHC",
    "HardConstraint",
    "HardConstraintMoE",
    "HardConstraintWarning",
    "PIHCOutput",
    "SorptionOutput",
    "SorptionPIHC",
    "TrajectoryDataset",
    "VorticityPIHC",
    "combine",
    "diffusion_sorption_residual",
    "fe_diffusion_data",
    "fe_diffusion_metrics",
    "fe_diffusion_step",
    "finite_difference",
    "partition_cells",
    "physics_metrics",
    "physics_step",
    "sample_grid",
    "sample_in_subdomains",
    "sorption_data",
    "sorption_metrics",
    "sorption_step",
    "uniform_subdomains",
    "vorticity_data",
    "vorticity_residual",
]
