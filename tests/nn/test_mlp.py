"""MLP and record_init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sciml.nn import MLP, activation, record_init


def test_mlp_shapes_gradients_and_rebuild() -> None:
    m = MLP([3, 16, 16, 2], activation="tanh", final_activation=True)
    x = torch.randn(4, 7, 3)
    y = m(x)
    assert y.shape == (4, 7, 2) and float(y.abs().max()) <= 1.0  # tanh on the output
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    rebuilt = MLP(**m.init_args)
    rebuilt.load_state_dict(m.state_dict())
    torch.testing.assert_close(rebuilt(x), m(x))
    assert m.init_args == {
        "sizes": [3, 16, 16, 2],
        "activation": "tanh",
        "final_activation": True,
        "init": "glorot_normal",
    }
    assert float(m.net[0].bias.abs().max()) == 0.0


def test_record_init_on_subclasses_and_errors() -> None:
    @record_init
    class Wrapper(nn.Module):
        def __init__(self, width: int, depth: int = 2) -> None:
            super().__init__()
            self.body = MLP([width] * (depth + 1))

    w = Wrapper(4)
    assert w.init_args == {"width": 4, "depth": 2}
    assert w.body.init_args["sizes"] == [4, 4, 4]
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])
    with pytest.raises(ValueError, match="unknown activation"):
        activation("swish2")
    with pytest.raises(ValueError, match="last dimension"):
        MLP([3, 2])(torch.randn(2, 4))
