"""The sciml data CLI, and chunk-seeded generation that is identical for any worker count."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.cli import main
from sciml.data import chunk_seeds, generate, read_dataset


def test_list_generate_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    for name in ("antiderivative", "burgers", "darcy", "diffusion_reaction"):
        assert name in listing
    out = tmp_path / "d.h5"
    args = ["data", "generate", "diffusion_reaction", "--n-train", "6", "--n-test", "3"]
    assert (
        main([*args, "--out", str(out), "--set", "sensors=20", "--quiet", "--chunk-size", "4"]) == 0
    )
    data = read_dataset(out)
    assert data.attrs["n_train"] == 6 and data.attrs["n_test"] == 3
    assert data.attrs["option_sensors"] == 20 and data.attrs["generator"] == "diffusion_reaction"
    assert data.inputs["u"].shape == (9, 20)
    assert main(["data", "info", str(out)]) == 0
    assert "outputs/s" in capsys.readouterr().out


def test_bad_requests_exit_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["data", "generate", "heat3d", "--n-train", "2", "--out", str(tmp_path / "x.h5")]) == 2
    )
    assert "unknown dataset 'heat3d'" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "missing.h5")]) == 2
    assert not (tmp_path / "x.h5").exists()


def test_workers_give_the_serial_result() -> None:
    serial = generate("antiderivative", 10, seed=3, chunk_size=3)
    parallel = generate("antiderivative", 10, seed=3, chunk_size=3, workers=2)
    for key in serial.inputs:
        assert torch.equal(serial.inputs[key], parallel.inputs[key])
    for key in serial.outputs:
        assert torch.equal(serial.outputs[key], parallel.outputs[key])
    other = generate("antiderivative", 10, seed=4, chunk_size=3)
    assert not torch.equal(serial.inputs["u"], other.inputs["u"])
    assert len(set(chunk_seeds(3, 4))) == 4
