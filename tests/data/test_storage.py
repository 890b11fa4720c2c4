"""HDF5 datasets: round trips, splits, normalisers, lazy loading, atomicity, bad files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import torch

from sciml.data import (
    DictDataset,
    GeneratedData,
    H5Dataset,
    Normalizer,
    read_dataset,
    write_dataset,
)


def sample_data(n: int = 10) -> GeneratedData:
    gen = torch.Generator().manual_seed(0)
    return GeneratedData(
        inputs={"a": torch.randn(n, 4, 3, generator=gen, dtype=torch.float64)},
        outputs={"u": 5.0 + 2.0 * torch.randn(n, 7, generator=gen, dtype=torch.float64)},
        coords={"x": torch.linspace(0, 1, 7, dtype=torch.float64)},
        attrs={"pde": "test equation", "nu": 0.01, "generator": "unit-test", "seed": 3},
    )


def test_round_trip_keeps_fields_and_attributes(tmp_path: Path) -> None:
    data = sample_data()
    path = write_dataset(tmp_path / "d.h5", data, n_train=8, attrs={"note": "extra"})
    back = read_dataset(path)
    for kind in ("inputs", "outputs", "coords"):
        for name, values in getattr(data, kind).items():
            torch.testing.assert_close(getattr(back, kind)[name], values, rtol=0, atol=0)
    for key, value in {**data.attrs, "note": "extra"}.items():
        assert back.attrs[key] == value
    assert back.attrs["n_train"] == 8 and back.attrs["n_test"] == 2
    assert back.attrs["format"] == "sciml.data/1" and "sciml_version" in back.attrs


def test_layout_attributes_are_not_overwritten_by_generator_attributes(tmp_path: Path) -> None:
    # a generator run in chunks records the "n_samples" of one chunk in its attributes
    data = sample_data(12)
    data.attrs.update({"n_samples": 8, "n_train": 8, "n_test": 0, "format": "other"})
    path = write_dataset(tmp_path / "d.h5", data, n_train=9)
    back = read_dataset(path)
    assert (back.attrs["n_samples"], back.attrs["n_train"], back.attrs["n_test"]) == (12, 9, 3)
    assert back.attrs["format"] == "sciml.data/1"
    test = H5Dataset(path, "test")
    assert len(test) == 3
    torch.testing.assert_close(test[2]["u"], data.outputs["u"][11].float())


def test_numpy_fields_are_accepted_and_checked(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    a, u, x = rng.random((6, 5)), rng.random((6, 5)), np.linspace(0, 1, 5)
    data = GeneratedData({"a": a}, {"u": u}, {"x": x}, {"pde": "numpy arrays"})
    back = read_dataset(write_dataset(tmp_path / "np.h5", data, n_train=4))
    np.testing.assert_array_equal(back.inputs["a"].numpy(), a)
    np.testing.assert_array_equal(back.coords["x"].numpy(), x)
    x_bad = x.copy()
    x_bad[2] = np.nan
    with pytest.raises(ValueError, match="coords/x contains NaN"):
        write_dataset(tmp_path / "bad.h5", GeneratedData({"a": a}, {"u": u}, {"x": x_bad}, {}))
    with pytest.raises(TypeError, match="inputs/a"):
        write_dataset(tmp_path / "bad.h5", GeneratedData({"a": a + 1j}, {"u": u}, {}, {}))
    with pytest.raises(TypeError, match="outputs/u"):
        write_dataset(tmp_path / "bad.h5", GeneratedData({"a": a}, {"u": [["x"] * 5] * 6}, {}, {}))
    assert not (tmp_path / "bad.h5").exists()


def test_splits_normalizers_and_lazy_loading(tmp_path: Path) -> None:
    data = sample_data(12)
    path = write_dataset(tmp_path / "d.h5", data, n_train=9)
    train, test = H5Dataset(path, "train"), H5Dataset(path, "test", fields=["u"])
    assert len(train) == 9 and len(test) == 3 and set(test[0]) == {"u"}
    torch.testing.assert_close(test[-1]["u"], data.outputs["u"][11].float())
    norm = H5Dataset(path, "train", normalize=True, dtype=torch.float64)
    stacked = torch.stack([norm[i]["u"] for i in range(len(norm))])
    torch.testing.assert_close(
        stacked.mean(0), torch.zeros(7, dtype=torch.float64), atol=1e-12, rtol=0
    )
    decoded = norm.normalizer("u").decode(norm[4]["u"])
    torch.testing.assert_close(decoded, data.outputs["u"][4], rtol=1e-12, atol=1e-12)
    preloaded = H5Dataset(path, "train", normalize=True, dtype=torch.float64, preload=True)
    torch.testing.assert_close(preloaded[4]["u"], norm[4]["u"])
    fitted = Normalizer.fit(data.outputs["u"][:9])
    torch.testing.assert_close(norm.normalizer("u").std, fitted.std)
    loader = torch.utils.data.DataLoader(
        train, batch_size=4, num_workers=2, multiprocessing_context="spawn"
    )
    batches = list(loader)
    assert sum(b["a"].shape[0] for b in batches) == 9 and batches[0]["a"].shape[1:] == (4, 3)
    with pytest.raises(IndexError):
        train[9]
    with pytest.raises(KeyError, match="available"):
        H5Dataset(path, fields=["velocity"])
    with pytest.raises(ValueError, match="split"):
        H5Dataset(path, "validation")


def test_bad_data_and_files(tmp_path: Path) -> None:
    data = sample_data()
    data.outputs["u"][0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN/Inf"):
        write_dataset(tmp_path / "nan.h5", data)
    assert not list(tmp_path.iterdir())
    bad = sample_data()
    bad.inputs["a"] = bad.inputs["a"][:5]
    with pytest.raises(ValueError, match="samples"):
        write_dataset(tmp_path / "bad.h5", bad)
    with pytest.raises(FileNotFoundError):
        read_dataset(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        H5Dataset(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = [1.0]
    with pytest.raises(ValueError, match="not a sciml dataset"):
        read_dataset(tmp_path / "other.h5")
    good = write_dataset(tmp_path / "good.h5", sample_data())
    raw = good.read_bytes()
    (tmp_path / "truncated.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        read_dataset(tmp_path / "truncated.h5")


WRITER = """
import sys, torch
from sciml.data import GeneratedData, write_dataset
n = 400
fields = {"a": torch.randn(n, 256, 256)}
data = GeneratedData(inputs=fields, outputs={"u": torch.randn(n, 256, 256)})
print("writing", flush=True)
write_dataset(sys.argv[1], data)
print("done", flush=True)
"""


def test_killed_writer_leaves_no_valid_looking_file(tmp_path: Path) -> None:
    target = tmp_path / "big.h5"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    deadline = time.time() + 60
    while time.time() < deadline and not any(
        p.name.startswith(".big.h5") for p in tmp_path.iterdir()
    ):
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not target.exists(), "a killed write must not leave the final file"
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(name.startswith(".big.h5.") for name in leftovers)  # hidden temporary folder only


def test_dict_dataset_serves_samples_like_h5dataset(tmp_path: Path) -> None:
    data = sample_data(6)
    memory = DictDataset({"a": data.inputs["a"].float(), "u": data.outputs["u"].float()})
    path = write_dataset(tmp_path / "d.h5", data)
    disk = H5Dataset(path, "all")
    assert len(memory) == len(disk) == 6
    for i in (0, 5):
        assert set(memory[i]) == set(disk[i]) == {"a", "u"}
        for name in ("a", "u"):
            torch.testing.assert_close(memory[i][name], disk[i][name], rtol=0, atol=0)
    batch = next(iter(torch.utils.data.DataLoader(memory, batch_size=4)))
    assert batch["a"].shape == (4, 4, 3)
    with pytest.raises(ValueError, match="different numbers of samples"):
        DictDataset({"a": torch.zeros(3, 2), "u": torch.zeros(4)})
    with pytest.raises(ValueError, match="at least one field"):
        DictDataset({})
