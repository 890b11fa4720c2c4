"""Implicit differentiation and batched nonlinear least squares.

* :func:`custom_root`, :func:`custom_fixed_point` -- make any solver differentiable through its
  optimality condition, with the adjoint solved by :mod:`sciml.linalg`.
* :func:`gauss_newton`, :func:`levenberg_marquardt` -- batched nonlinear least squares whose
  solutions can be differentiated implicitly (``implicit=True``).
"""

from sciml.implicit.lstsq import LeastSquaresResult, gauss_newton, levenberg_marquardt
from sciml.implicit.root import ImplicitDiffWarning, custom_fixed_point, custom_root

__all__ = [
    "ImplicitDiffWarning",
    "LeastSquaresResult",
    "custom_fixed_point",
    "custom_root",
    "gauss_newton",
    "levenberg_marquardt",
]
