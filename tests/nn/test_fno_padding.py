"""FNO padding proportional to the grid (padding_fraction)."""

from __future__ import annotations

import pytest
import torch

from sciml.nn import FNO


def test_padding_fraction_pads_the_same_physical_extent() -> None:
    torch.manual_seed(0)
    model = FNO(1, 1, modes=(4, 4), width=8, layers=2, padding_fraction=0.25)
    assert model.init_args["padding_fraction"] == 0.25
    seen = []
    hook = model.spectral[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-1]))
    for n in (16, 32):
        out = model(torch.randn(2, 1, n, n))
        assert out.shape == (2, 1, n, n)
    hook.remove()
    assert seen == [16 + 2 * 4, 32 + 2 * 8]  # a quarter of the grid on each side
    rebuilt = FNO(**model.init_args)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 20, 20)
    torch.testing.assert_close(rebuilt(x), model(x))
    with pytest.raises(ValueError, match="not both"):
        FNO(1, 1, modes=(4, 4), padding=2, padding_fraction=0.1)
    with pytest.raises(ValueError, match="padding_fraction"):
        FNO(1, 1, modes=(4, 4), padding_fraction=1.5)
