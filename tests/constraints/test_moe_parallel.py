"""Experts split over 2 processes (gloo) give the loss and gradient of a 1-process run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.constraints import HardConstraintMoE

SCRIPT = Path(__file__).resolve().parent / "parallel" / "moe_run.py"


def test_two_processes_match_one(tmp_path: Path, torchrun) -> None:
    for nproc, name in ((1, "one.pt"), (2, "two.pt")):
        torchrun(SCRIPT, nproc, str(tmp_path / name))
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    torch.testing.assert_close(two["loss"], one["loss"], rtol=1e-10, atol=0)
    torch.testing.assert_close(two["weights"], one["weights"], rtol=1e-10, atol=1e-12)
    assert set(one["grads"]) == set(two["grads"])
    for name, g in one["grads"].items():
        torch.testing.assert_close(two["grads"][name], g, rtol=1e-8, atol=1e-12)
    assert sum(float(g.abs().sum()) for g in one["grads"].values()) > 0


def test_expert_parallel_needs_torch_distributed() -> None:
    layer = HardConstraintMoE(lambda f: f["u"], 2, expert_parallel=True)
    with pytest.raises(RuntimeError, match=r"torch\.distributed"):
        layer({"u": torch.zeros(1, 2, 3, 2, dtype=torch.float64)})
