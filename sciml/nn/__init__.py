"""Method-agnostic network blocks.

* :func:`record_init` -- modules remember their init arguments (checkpoints rebuild them).
* :class:`MLP`, :func:`activation` -- fully connected networks.
* :class:`SpectralConv`, :class:`FNO` -- Fourier neural operator in 1-D, 2-D and 3-D (shared
  here because several methods use it: operator learning, the hard-constraint layers).
"""

from sciml.nn.base import record_init
from sciml.nn.fno import FNO
from sciml.nn.mlp import ACTIVATIONS, MLP, activation
from sciml.nn.spectral import SpectralConv

__all__ = ["ACTIVATIONS", "FNO", "MLP", "SpectralConv", "activation", "record_init"]
