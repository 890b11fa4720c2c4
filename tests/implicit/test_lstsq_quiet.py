"""Forward-mode Jacobians do not surface torch's internal deprecation warnings to users."""

import subprocess
import sys


def test_levenberg_marquardt_emits_no_torch_jit_future_warning() -> None:
    code = (
        "import torch\n"
        "from sciml.implicit import levenberg_marquardt\n"
        "def r(x, a):\n"
        "    return torch.stack([a - x[:, 0], 10 * (x[:, 1] - x[:, 0] ** 2)], dim=1)\n"
        "a = torch.tensor([1.0, 2.0], dtype=torch.float64)\n"
        "out = levenberg_marquardt(r, torch.zeros(2, 2, dtype=torch.float64), a)\n"
        "assert bool(out.converged.all())\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
