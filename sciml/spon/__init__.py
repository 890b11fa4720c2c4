"""Structure-preserving operator networks (SPON) on finite-element spaces.

Bouziani & Boulle (2024): ``S = D o P o E`` with an encoder ``E`` onto the dofs of an input
finite-element space, a learned processor ``P`` (a graph network on the mesh), and a decoder ``D``
that reads the output as the coefficients of a finite-element function. Outputs live in the
chosen space and satisfy Dirichlet conditions exactly, on any mesh dolfinx can build.

* :class:`SPON` -- the single-level network; :func:`load_spon` rebuilds a saved one.
* :class:`MultigridSPON` -- message passing on a mesh hierarchy: heavy on the coarsest level,
  light corrections on the finer ones (:class:`MultigridProcessor`).

Train with :class:`sciml.train.FENormLoss` (relative error in the L2/H1 norm of the output space)
so that losses and errors are mesh-consistent.

Needs sciml's ``fem`` extra (dolfinx).
"""

from sciml.spon.multigrid import MultigridProcessor, MultigridSPON, feature_restriction
from sciml.spon.spon import SPON, Processor, load_spon

__all__ = [
    "SPON",
    "MultigridProcessor",
    "MultigridSPON",
    "Processor",
    "feature_restriction",
    "load_spon",
]
