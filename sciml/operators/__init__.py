"""Neural operators.

* :class:`DeepONet` -- deep operator network (stacked/unstacked, several outputs, Fourier trunk
  features, POD-DeepONet), Cartesian-product and pointwise layouts.
* :func:`pod_basis` -- POD modes and mean of training outputs (for POD-DeepONet).
"""

from sciml.operators.deeponet import DeepONet, pod_basis

__all__ = ["DeepONet", "pod_basis"]
