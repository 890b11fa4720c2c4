"""Fixtures shared by the test directories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def torchrun() -> Callable[..., None]:
    """``run(script, nproc, *args)``: run a script under ``torchrun`` (gloo, one thread each)."""

    def run(script: Path, nproc: int, *args: str) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc_per_node={nproc}",
                str(script),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    return run
