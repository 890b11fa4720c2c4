"""The core imports without dolfinx, and FE features say how to install it."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
sys.modules["dolfinx_solver"] = None  # behave as if the fem extra were not installed
sys.modules["dolfinx"] = None
import sciml, sciml.linalg, sciml.mesh, sciml.fem
from sciml.linalg import cg, poisson2d
import torch
assert cg(poisson2d(4), torch.ones(16, dtype=torch.float64)).converged
try:
    sciml.mesh.unit_square(2)
except ImportError as error:
    print("ERROR:", error)
"""


def test_core_works_without_dolfinx_and_fem_error_is_clear() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "ERROR:" in out
    assert "pip install 'sciml[fem]'" in out
    assert "sciml.mesh.rectangle needs dolfinx" in out
