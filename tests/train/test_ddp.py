"""A 2-process DDP run (gloo) ends with the weights of a 1-process run of the same batches."""

from __future__ import annotations

from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parent / "ddp" / "ddp_run.py"


def test_two_process_ddp_matches_one_process(tmp_path: Path, torchrun) -> None:
    torchrun(SCRIPT, 1, str(tmp_path / "one.pt"))
    torchrun(SCRIPT, 2, str(tmp_path / "two.pt"))
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=1e-12, atol=1e-12)
    # and training did move the weights away from the common initialisation (seed 0)
    torch.manual_seed(0)
    initial = torch.nn.Linear(4, 16).double()
    assert float((one["net.0.weight"] - initial.weight).abs().max()) > 1e-3
