"""Neural operators.

* :class:`DeepONet` -- deep operator network (stacked/unstacked, several outputs, Fourier trunk
  features, POD-DeepONet), Cartesian-product and pointwise layouts.
* :func:`pod_basis` -- POD modes and mean of training outputs (for POD-DeepONet).
* :class:`FourierFeatures` -- cos/sin expansion of query points (periodic outputs).
* :class:`FNO` -- the Fourier neural operator of :mod:`sciml.nn`, re-exported here.
"""

from sciml.nn import FNO
from sciml.operators.deeponet import DeepONet, FourierFeatures, pod_basis

__all__ = ["FNO", "DeepONet", "FourierFeatures", "pod_basis"]
