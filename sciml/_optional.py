"""Imports of optional heavy backends, with errors that say how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require_dolfinx"]

_FEM_HINT = (
    "{what} needs dolfinx (the finite-element backend), which is not installed. "
    "Install sciml's `fem` extra: pip install 'sciml[fem]' (it brings the dolfinx-solver-real "
    "wheel with dolfinx, PETSc and gmsh). Original error: {error}"
)


def require_dolfinx(what: str = "This feature") -> ModuleType:
    """Import and return :mod:`dolfinx`, raising a helpful ImportError when it is missing.

    The ``dolfinx-solver-real`` wheel must be initialised by importing ``dolfinx_solver``
    before ``dolfinx``; this function does both in that order.

    Parameters
    ----------
    what : str
        Name of the feature that needs dolfinx, used in the error message.

    Returns
    -------
    module
        The :mod:`dolfinx` package.

    Raises
    ------
    ImportError
        If dolfinx (or its solver wheel) cannot be imported.
    """
    try:
        # dolfinx_solver must be imported before dolfinx (it loads MPI first); importlib keeps
        # import sorters from reordering the two.
        importlib.import_module("dolfinx_solver")
        import dolfinx
        import dolfinx.fem
        import dolfinx.geometry
        import dolfinx.io
        import dolfinx.mesh
    except ImportError as error:
        raise ImportError(_FEM_HINT.format(what=what, error=error)) from error
    return dolfinx
