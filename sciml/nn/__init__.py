"""Method-agnostic network blocks.

* :func:`record_init` -- modules remember their init arguments (checkpoints rebuild them).
* :class:`MLP`, :func:`activation` -- fully connected networks.
* :class:`SpectralConv`, :class:`FNO` -- Fourier neural operator in 1-D, 2-D and 3-D (shared
  here because several methods use it: operator learning, the hard-constraint layers).
* :class:`GraphNetwork`, :class:`MessagePassing`, :func:`scatter_mean` -- message-passing
  graph networks in plain torch (SPON's processor on mesh graphs); :class:`MatrixConv`,
  :func:`sparse_mix` -- convolutions whose messages are sparse-matrix products (DCDM on
  matrix graphs).
"""

from sciml.nn.base import record_init
from sciml.nn.fno import FNO
from sciml.nn.graph import (
    GraphNetwork,
    MatrixConv,
    MessagePassing,
    check_graph,
    scatter_mean,
    sparse_mix,
)
from sciml.nn.mlp import ACTIVATIONS, MLP, activation
from sciml.nn.spectral import SpectralConv

__all__ = [
    "ACTIVATIONS",
    "FNO",
    "MLP",
    "GraphNetwork",
    "MatrixConv",
    "MessagePassing",
    "SpectralConv",
    "activation",
    "check_graph",
    "record_init",
    "scatter_mean",
    "sparse_mix",
]
