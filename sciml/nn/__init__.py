"""Method-agnostic network blocks.

* :func:`record_init` -- modules remember their init arguments (checkpoints rebuild them).
* :class:`MLP`, :func:`activation` -- fully connected networks.
"""

from sciml.nn.base import record_init
from sciml.nn.mlp import ACTIVATIONS, MLP, activation

__all__ = ["ACTIVATIONS", "MLP", "activation", "record_init"]
