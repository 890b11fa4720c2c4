"""A distributed (mpirun -n 2) Poisson solve agrees with the serial solve."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")

SCRIPT = Path(__file__).resolve().parent / "mpi" / "poisson_parallel.py"


def _mpirun() -> str | None:
    beside = Path(sys.executable).parent / "mpirun"
    return str(beside) if beside.exists() else shutil.which("mpirun")


@pytest.mark.skipif(_mpirun() is None, reason="no mpirun")
def test_two_process_solve_matches_serial() -> None:
    result = subprocess.run(
        [_mpirun(), "-n", "2", sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    diffs = dict(re.findall(r"MAX-DIFF (\w+) (\S+)", result.stdout))
    assert set(diffs) == {"square", "gmsh"}, result.stdout
    for which, value in diffs.items():
        assert float(value) < 1e-9, (which, value)
    assert "REFINE-REFUSED True" in result.stdout
