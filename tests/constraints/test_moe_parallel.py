"""Experts split over 2 processes (gloo) give the loss and gradient of a 1-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sciml.constraints import HardConstraintMoE

SCRIPT = Path(__file__).resolve().parent / "parallel" / "moe_run.py"


def run(nproc: int, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            str(SCRIPT),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return torch.load(out, weights_only=True)


def test_two_processes_match_one(tmp_path: Path) -> None:
    one = run(1, tmp_path / "one.pt")
    two = run(2, tmp_path / "two.pt")
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
