"""Meshes with named markers, built on dolfinx.

Needs sciml's ``fem`` extra (dolfinx); every function raises an ImportError that says how to
install it when dolfinx is missing.

* :func:`unit_interval`, :func:`interval`, :func:`unit_square`, :func:`rectangle`,
  :func:`unit_cube`, :func:`box` -- structured meshes whose sides are marked by name.
* :func:`load` / :func:`save` -- gmsh ``.msh`` (physical groups become markers) and XDMF.
* :class:`Mesh` -- immutable mesh value; :meth:`Mesh.refine` and :func:`refinement_hierarchy`
  for nested uniform refinement.
"""

from sciml.mesh.create import box, interval, rectangle, unit_cube, unit_interval, unit_square
from sciml.mesh.hierarchy import refinement_hierarchy
from sciml.mesh.io import load, save
from sciml.mesh.mesh import Marker, Mesh

__all__ = [
    "Marker",
    "Mesh",
    "box",
    "interval",
    "load",
    "rectangle",
    "refinement_hierarchy",
    "save",
    "unit_cube",
    "unit_interval",
    "unit_square",
]
