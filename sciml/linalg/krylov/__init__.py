"""Krylov subspace solvers on torch, batched over right-hand sides."""

from sciml.linalg.krylov.block import conjugate_directions
from sciml.linalg.krylov.cg import cg
from sciml.linalg.krylov.fcg import fcg
from sciml.linalg.krylov.gmres import gmres
from sciml.linalg.krylov.minres import minres

__all__ = ["cg", "conjugate_directions", "fcg", "gmres", "minres"]
