"""``sciml solve``: a sparse system from a file or a generated Poisson problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from sciml.cli import main


def _laplacian(n: int) -> sp.csr_array:
    T = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], offsets=[-1, 0, 1])
    return sp.csr_array(T)


def test_generated_poisson_converges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--poisson", "24", "--precond", "amg", "--rtol", "1e-10"]) == 0
    out = capsys.readouterr().out
    assert "576 unknowns" in out and "1/1 converged" in out
    residual = float(out.split("||b|| = ")[1].split()[0])
    assert residual <= 1e-10


@pytest.mark.parametrize("suffix", [".npz", ".mtx"])
def test_matrix_files(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    A = _laplacian(50)
    path = tmp_path / f"A{suffix}"
    if suffix == ".npz":
        sp.save_npz(path, sp.csr_matrix(A))
    else:
        scipy.io.mmwrite(path, sp.coo_matrix(A))
    assert main(["solve", "--matrix", str(path), "--precond", "jacobi", "--rhs", "random"]) == 0
    assert "50 unknowns" in capsys.readouterr().out


def test_an_unconverged_solve_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--poisson", "32", "--precond", "none", "--maxiter", "3"]) == 1
    assert "0/1 converged" in capsys.readouterr().out


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--matrix", str(tmp_path / "missing.mtx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "A.txt").write_text("1 2 3")
    assert main(["solve", "--matrix", str(tmp_path / "A.txt")]) == 2
    assert "expected .mtx or .npz" in capsys.readouterr().err
    rect = tmp_path / "rect.npz"
    sp.save_npz(rect, sp.csr_matrix(np.ones((3, 2))))
    assert main(["solve", "--matrix", str(rect)]) == 2
    assert "square" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip")
    assert main(["solve", "--matrix", str(corrupt)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", "--help"])
    assert exit_info.value.code == 0
