"""sciml: scientific machine learning on PDEs and operators.

The package is organised in layers (see the developer guide):

* :mod:`sciml.linalg` -- sparse matrices on torch, linear operators, Krylov solvers,
  preconditioners and a differentiable linear solve.

Heavy optional backends (dolfinx, PETSc) are imported only by the submodules that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sciml")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
