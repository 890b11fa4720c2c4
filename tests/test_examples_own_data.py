"""The "bring your own data and mesh" example runs and reaches its stated results."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from _examples import load_example as load


@pytest.fixture(scope="module")
def example() -> ModuleType:
    pytest.importorskip("dolfinx_solver")
    pytest.importorskip("gmsh")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt, "show", lambda *args, **kwargs: None)
        module = load("plot_own_data_and_mesh")
    plt.close("all")
    return module


def test_mesh_file_markers_become_dirichlet_boundaries(example: ModuleType) -> None:
    mesh = example.mesh
    assert set(mesh.markers) == {"plate", "inlet", "outlet", "walls", "pipe"}
    assert mesh.markers["plate"].dim == 2 and mesh.markers["pipe"].dim == 1
    assert mesh.measure("inlet") == pytest.approx(example.HEIGHT, rel=1e-12)
    assert mesh.measure("walls") == pytest.approx(2 * example.LENGTH, rel=1e-12)
    # the polygon inscribed in the circle is a little shorter than the circle
    radius = example.PIPE[2]
    assert 0.99 * 2 * math.pi * radius < mesh.measure("pipe") < 2 * math.pi * radius


def test_node_to_dof_mapping_matches_sciml_solver(example: ModuleType) -> None:
    # the user's NumPy Newton solution, permuted into dof order, solves sciml's assembly of the
    # same P1 problem; a scrambled order would not
    assert example.check < 1e-10
    import numpy as np
    import torch

    scrambled = torch.from_numpy(np.roll(example.u[0], 1))
    residual = (
        example.A_sciml @ scrambled
        + example.RADIATION * (example.M_sciml @ scrambled**3)
        - example.M_sciml @ example.q0
    )
    assert (
        float(residual[example.free].abs().max() / (example.M_sciml @ example.q0).abs().max())
        > 1e-2
    )
    assert example.q.shape == (example.N_TRAIN + example.N_TEST, example.V.num_dofs)


def test_dataset_file_round_trips_the_arrays(example: ModuleType, capsys) -> None:
    import numpy as np
    import torch

    from sciml.data import read_dataset

    data = read_dataset(example.path)
    assert torch.equal(data.inputs["q"], torch.from_numpy(example.q))
    assert torch.equal(data.outputs["u"], torch.from_numpy(example.u))
    assert np.array_equal(data.coords["dof_coordinates"].numpy(), example.V.dof_coordinates)
    assert data.attrs["n_train"] == example.N_TRAIN
    assert data.attrs["n_test"] == example.N_TEST
    assert data.attrs["element"] == "P1" and data.attrs["mesh"] == "plate.msh"
    assert not (example.work / "broken.h5").exists()  # the refused writes left nothing behind
    # normalised with the stored training statistics: pointwise mean 0 and std 1 over the split
    assert float(example.z.mean(0).abs().max()) < 1e-5
    assert float((example.z.std(0, unbiased=False) - 1).abs().max()) < 1e-5
    assert example.roundtrip < 1e-5  # normalise (float32) and decode
    assert example.sciml.cli.main(["data", "info", str(example.path)]) == 0
    out = capsys.readouterr().out
    assert f"inputs/q: (120, {example.V.num_dofs}) torch.float64" in out


def test_mistakes_raise_clear_errors(example: ModuleType) -> None:
    import torch

    from sciml.data import GeneratedData, write_dataset

    inputs = example.dataset.inputs
    with pytest.raises(ValueError, match="outputs/u has 119 samples, expected 120"):
        write_dataset(
            example.work / "x.h5", GeneratedData(inputs, {"u": example.dataset.outputs["u"][:-1]})
        )
    with pytest.raises(ValueError, match="NaN/Inf"):
        write_dataset(example.work / "x.h5", GeneratedData(inputs, {"u": example.failed}))
    with pytest.raises(ValueError, match="input dof values must be"):
        example.model(torch.from_numpy(example.q.T))


def test_trained_model_beats_the_mean_and_keeps_boundary_values(example: ModuleType) -> None:
    import torch

    from sciml.train import load_checkpoint

    assert example.bc_error == 0.0  # Dirichlet values copied in, bit for bit
    mean_error = float(example.error.mean())
    assert mean_error < 0.2  # 0.153 measured
    assert mean_error < 0.5 * float(example.baseline.mean())
    # the linear baselines of the example, fitted to the same pairs, are less accurate
    assert float(example.pointwise_error.mean()) == pytest.approx(0.192, abs=0.01)
    assert min(example.ridge_errors.values()) == pytest.approx(0.251, abs=0.01)
    assert mean_error < float(example.pointwise_error.mean())
    assert mean_error < min(example.ridge_errors.values())
    assert example.history[-1]["test_loss"] == pytest.approx(mean_error, rel=1e-4)
    # the reloaded checkpoint is the trained model
    ckpt = load_checkpoint(example.work / "run" / "checkpoint.pt")
    assert ckpt["epoch"] == example.config.epochs
    for name, value in example.trainer.module.state_dict().items():
        assert torch.equal(ckpt["model_state"][name], value), name


def test_prediction_is_written_for_paraview(example: ModuleType) -> None:
    assert example.xdmf.exists()
    assert example.xdmf.with_suffix(".h5").exists()
    text = example.xdmf.read_text()
    for name in ("q", "u", "prediction", "error"):
        assert f'Name="{name}"' in text
