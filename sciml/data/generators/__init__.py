"""Dataset generators, each registered by name in :data:`GENERATORS`.

Importing this package registers every generator; the finite-element ones (``darcy``,
``poisson_meshes``) need the ``fem`` extra only when they run.
"""

from sciml.data.generators import (  # noqa: F401  (imported to register the generators)
    burgers,
    darcy,
    diffusion_reaction,
    diffusion_sorption,
    fe_poisson,
    navier_stokes,
    ode,
)
from sciml.data.generators._base import GENERATORS, GeneratedData, Generator, register

__all__ = ["GENERATORS", "GeneratedData", "Generator", "register"]
