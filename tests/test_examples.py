"""Every example runs, in a small configuration, and reaches its stated result."""

from __future__ import annotations

from _examples import load_example as load


def test_quickstart_every_solver_converges(capsys) -> None:
    rows = load("quickstart").main(["--n", "48", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "2,304 unknowns" in out
    assert len(rows) == 9
    for label, _iterations, seconds, relres in rows:
        assert "FAILED" not in relres, label
        assert float(relres) <= 1e-8, label
        assert seconds >= 0
    by_label = {row[0]: row for row in rows}
    # AMG-PCG needs far fewer iterations than plain CG, which matches SciPy exactly
    assert int(by_label["cg + amg(sa) [setup + solve]"][1]) < int(by_label["cg"][1]) / 5
    assert by_label["cg"][1] == by_label["scipy.sparse.linalg.cg (reference)"][1]


def test_plot_krylov_convergence_shows_flat_amg_iterations(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_krylov_convergence")
    assert all(sol.converged for sol in module.runs.values())
    assert module.multigrid[-1] - module.multigrid[0] <= 3
    assert module.plain[-1] > 4 * module.plain[0]  # CG iterations grow like 1/h
    plt.close("all")


def test_plot_poisson_on_meshes_solves_every_geometry(monkeypatch) -> None:
    import pytest

    pytest.importorskip("gmsh")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_poisson_on_meshes")
    assert set(module.results) == set(module.PROBLEMS)
    for name, (_, u, iterations) in module.results.items():
        assert iterations <= 20, name
        assert (module.OUT / f"{name}_{module.LEVEL}.xdmf").exists()
        # maximum principle: Dirichlet data in [0, 1] (airfoil: [-1.5, 1.5]) bounds harmonic u
        bound = 1.5 if name == "naca0012_channel" else 1.0
        assert float(u.abs().max()) <= bound + 1e-8, name
    # the accuracy study's solves on both levels keep their own files
    assert (module.OUT / "annulus_0.xdmf").exists() and (module.OUT / "annulus_1.xdmf").exists()
    plt.close("all")


def test_plot_implicit_differentiation_finds_the_scan_minimum(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_implicit_differentiation")
    # gradient descent with implicit gradients lands within one grid step of the scan's minimum
    assert abs(module.path[-1][0] - module.best) <= 0.1 + 1e-9
    assert module.path[-1][1] <= min(module.scan) + 1e-3
    assert bool(module.fit.converged.all())
    np.testing.assert_allclose(module.fit.x[:, 1].detach().numpy(), [0.5, 1.0, 2.0], rtol=0.05)
    plt.close("all")


def test_plot_train_operator_learns_the_antiderivative(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_train_operator")
    assert module.history[-1]["test_loss"] < 0.05
    assert module.history[-1]["test_loss"] < 0.2 * module.history[0]["test_loss"]
    assert (module.work / "run" / "checkpoint.pt").exists()
    assert (module.work / "run" / "loss.png").exists()
    plt.close("all")


def test_plot_deeponet_antiderivative_learns(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_deeponet_antiderivative")
    assert module.history[-1]["test_loss"] < 0.06
    assert module.history[-1]["test_loss"] < 0.2 * module.history[0]["train_loss"]
    plt.close("all")


def test_plot_fno_darcy_generalises_to_a_finer_grid(monkeypatch) -> None:
    import pytest

    pytest.importorskip("dolfinx_solver")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_fno_darcy")
    assert float(module.err.mean()) < 0.06
    assert float(module.err_fine.mean()) < 0.15  # never trained at this resolution
    plt.close("all")


def test_plot_spon_plate_with_holes_beats_its_lifting(monkeypatch) -> None:
    import pytest

    pytest.importorskip("dolfinx_solver")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_spon_plate_with_holes")
    assert module.bc_error == 0.0  # Dirichlet values imposed exactly
    # the learned correction improves on the harmonic lifting of the boundary data alone
    assert float(module.error.mean()) < 0.8 * float(module.lift_error.mean())
    assert float(module.error.mean()) < 0.1
    plt.close("all")


def test_plot_dcdm_obstacles_beats_cg_and_icc(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_dcdm_obstacles")
    its = {name: value[0] for name, value in module.results.items()}
    for name, history in module.histories.items():
        assert history[-1] <= module.rtol * 1.01, name  # every solver reached the tolerance
    assert its["DCDM (paper network)"] * 5 < its["CG"]
    assert its["DCDM (multilevel directions)"] < its["DCDM (paper network)"]
    assert its["DCDM (+ coarse grid)"] < its["DCDM (multilevel directions)"]
    if "IC-PCG (PETSc ICC(0))" in its:
        assert its["DCDM (paper network)"] < its["IC-PCG (PETSc ICC(0))"]
    assert module.pressure.shape == (module.n, module.n)
    plt.close("all")


def test_plot_dcdm_unstructured_beats_icc_and_matches_petsc(monkeypatch) -> None:
    import pytest

    pytest.importorskip("dolfinx_solver")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)
    module = load("plot_dcdm_unstructured")
    its = module.results
    for name, history in module.histories.items():
        assert history[-1] <= module.rtol * 1.01, name  # every solver reached the tolerance
    graph = its["DCDM, graph network"]
    assert graph < its["IC-PCG (PETSc ICC(0))"] and graph * 10 < its["CG"]
    assert graph < its["untrained (damped-Jacobi V-cycle)"]  # what training adds
    assert abs(its["PETSc FCG + graph network"] - graph) <= 1
    plt.close("all")


def test_plot_hard_constraint_moe_hard_beats_soft(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *a, **k: None)
    module = load("plot_hard_constraint_moe")
    errors = {name: history[-1]["rel_l2"] for name, history in module.histories.items()}
    assert set(errors) == {"soft", "global hard", "MoE"}
    assert all(0 < e < 1 for e in errors.values())
    # the stated result: the hard constraint is more accurate than the soft one
    assert errors["global hard"] < errors["soft"]
