"""The PI-HC-MoE gallery examples run and reach the results their text states.

Each example runs as written (its small default size), with the Agg backend and ``plt.show``
disabled; the assertions read the module's variables. Training is seeded, so the runs are
deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch
from _examples import load_example as load


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # small FFTs, graph layers and sparse products: threads only add overhead (and spin on a
    # loaded machine); the results do not depend on the thread count
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def pyplot(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``matplotlib.pyplot`` on the Agg backend with ``show`` disabled; figures closed after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    plt.close("all")
    yield plt
    plt.close("all")


def test_plot_pihc_navier_stokes_hard_constraints_beat_persistence(pyplot: ModuleType) -> None:
    module = load("plot_pihc_navier_stokes")
    errors, persistence = module.errors, module.persistence
    assert set(errors) == {"soft", "global hard", "MoE (2 x 2)"}
    assert all(math.isfinite(e) and 0 < e < 1 for e in errors.values()), errors
    assert 0 < persistence < 1
    assert all(f == 0.0 for f in module.failures.values()), module.failures
    # the trained hard constraints improve on keeping the initial vorticity, and on the soft
    # constraint trained for the same steps
    assert errors["global hard"] < 0.95 * persistence
    assert errors["MoE (2 x 2)"] < 0.95 * persistence
    assert errors["global hard"] < errors["soft"]
    # every expert's solve lowers the residual on its quadrant below that of its starting
    # point c = 0 (persistence); the assembled prediction is worse than the experts' own
    # trajectories (its derivatives see the jumps between experts)
    res = {name: value.mean(0) for name, value in module.residuals.items()}
    assert all(bool(torch.isfinite(v).all()) and v.shape == (4,) for v in res.values())
    own = res["MoE, each expert's own"]
    assert bool((own < 0.8 * res["persistence w(t) = w0"]).all()), res
    assert bool((own < res["MoE, assembled prediction"]).all()), res
    assert bool((res["reference solution"] > 0).all())
    # the figures: 5 panels with the 2 x 2 quadrant lines on the MoE error, training curves
    assert len(pyplot.get_fignums()) == 2
    panels = pyplot.figure(pyplot.get_fignums()[0]).axes
    error_panel = next(ax for ax in panels if ax.get_title().startswith("|error| of the MoE"))
    assert len(error_panel.lines) == 2
    assert len(error_panel.images) == 1


def test_plot_pihc_fem_hard_constraints_beat_soft(pyplot: ModuleType) -> None:
    pytest.importorskip("dolfinx_solver", reason="needs sciml's `fem` extra (dolfinx)")
    pytest.importorskip("gmsh", reason="reading meshes/*.msh needs gmsh")
    module = load("plot_pihc_fem")
    errors, untrained = module.errors, module.untrained
    assert set(errors) == set(untrained) == {"soft", "global hard", "MoE (4 parts)"}
    assert all(math.isfinite(e) and 0 < e < 1 for e in errors.values()), errors
    assert all(math.isfinite(e) and e > 0 for e in untrained.values()), untrained
    assert all(f == 0.0 for f in module.failures.values()), module.failures
    # both hard variants beat the soft constraint, before and after the same training
    assert errors["global hard"] < 0.8 * errors["soft"]
    assert errors["MoE (4 parts)"] < 0.8 * errors["soft"]
    assert untrained["global hard"] < untrained["soft"]
    assert untrained["MoE (4 parts)"] < untrained["soft"]
    assert errors["MoE (4 parts)"] < untrained["MoE (4 parts)"]  # training helps the experts
    # each expert's least-squares fit leaves a small residual on its part, far below that of
    # the particular solution it starts from; the assembled prediction mixes the experts at
    # the part boundaries and does worse on every part
    res = module.part_residuals
    own = res["each expert's own"]
    assert len(own) == module.K == 4
    assert all(math.isfinite(v) for values in res.values() for v in values)
    assert all(r < 0.2 for r in own), own
    assert all(r < 0.25 * b for r, b in zip(own, res["b_0 alone (w = 0)"], strict=True))
    assert all(r < a for r, a in zip(own, res["assembled prediction"], strict=True))
    # the partition is balanced, and the boundaries between parts were drawn
    sizes = torch.bincount(torch.from_numpy(module.moe.partition.cell_part), minlength=4)
    assert int(sizes.min()) >= 0.9 * int(sizes.max())
    assert module.interfaces.ndim == 3 and module.interfaces.shape[1:] == (2, 2)
    assert len(module.interfaces) > 0
    assert len(pyplot.get_fignums()) == 2
