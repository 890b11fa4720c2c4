"""Fully connected networks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from sciml.nn.base import record_init

__all__ = ["ACTIVATIONS", "MLP", "activation"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``tanh``, ``gelu``, ``silu``, ``sigmoid``, ``elu``).

    Parameters
    ----------
    name : str

    Returns
    -------
    torch.nn.Module
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}"
        ) from None


@record_init
class MLP(nn.Module):
    """Multilayer perceptron from ``sizes[0]`` to ``sizes[-1]`` features on the last dimension.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first (at least two entries).
    activation : str, default "relu"
        Between layers (see :func:`activation`).
    final_activation : bool, default False
        Also activate the output (DeepONet's trunk is activated, its branch is not).
    init : {"glorot_normal", "glorot_uniform", "default"}, default "glorot_normal"
        Weight initialisation (biases start at zero except for ``"default"``).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        final_activation: bool = False,
        init: str = "glorot_normal",
    ) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two positive widths, got {sizes}")
        if init not in ("glorot_normal", "glorot_uniform", "default"):
            raise ValueError(f"unknown init {init!r}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            linear = nn.Linear(a, b)
            if init != "default":
                (nn.init.xavier_normal_ if init == "glorot_normal" else nn.init.xavier_uniform_)(
                    linear.weight
                )
                nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(sizes) - 2 or final_activation:
                layers.append(globals()["activation"](activation))
        self.net = nn.Sequential(*layers)
        self.in_features, self.out_features = sizes[0], sizes[-1]

    def forward(self, x: Tensor) -> Tensor:
        """Apply the network to ``(..., sizes[0])``, returning ``(..., sizes[-1])``."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"expected last dimension {self.in_features}, got input of shape {tuple(x.shape)}"
            )
        return self.net(x)
