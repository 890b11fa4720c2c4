"""A 2-process DDP run (gloo) ends with the weights of a 1-process run of the same batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parent / "ddp" / "ddp_run.py"


def run(nproc: int, out: Path) -> None:
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


def test_two_process_ddp_matches_one_process(tmp_path: Path) -> None:
    run(1, tmp_path / "one.pt")
    run(2, tmp_path / "two.pt")
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=1e-12, atol=1e-12)
    # and training did move the weights away from the common initialisation (seed 0)
    torch.manual_seed(0)
    initial = torch.nn.Linear(4, 16).double()
    assert float((one["net.0.weight"] - initial.weight).abs().max()) > 1e-3
