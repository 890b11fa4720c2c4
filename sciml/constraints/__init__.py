"""Physics-informed hard constraints (Chalapathi et al., ICLR 2024).

* :class:`HardConstraint` -- basis functions from any network, weights solving the PDE
  residual per sample (Levenberg-Marquardt), gradients by implicit differentiation;
  :class:`ConstraintResult` reports convergence per sample; :func:`combine` builds fields.
"""

from sciml.constraints.hard import (
    ConstraintResult,
    HardConstraint,
    HardConstraintWarning,
    combine,
)

__all__ = ["ConstraintResult", "HardConstraint", "HardConstraintWarning", "combine"]
