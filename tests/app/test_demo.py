"""The main job (``sciml demo``) in its small configuration: files, table, stated bounds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from sciml.app.demo import DEMO_SIZES, DemoResult, DemoRow, run_demo
from sciml.cli import main

pytest.importorskip("dolfinx_solver")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    import matplotlib

    matplotlib.use("Agg")
    threads = torch.get_num_threads()
    result = run_demo(tmp_path_factory.mktemp("demo") / "out", size="small", progress=False)
    assert torch.get_num_threads() == threads  # the demo's one thread is restored
    return result


def rows_of(result: DemoResult, method: str, metric: str) -> list[DemoRow]:
    return [r for r in result.rows if r.method == method and r.metric == metric]


def test_every_stage_writes_its_files(demo: DemoResult) -> None:
    names = {p.relative_to(demo.out_dir).as_posix() for p in demo.files}
    expected = {
        "data/darcy.h5",
        "fno_darcy/checkpoint.pt",
        "fno_darcy.png",
        "deeponet_antiderivative.png",
        "spon_plate_with_holes.xdmf",
        "spon_plate_with_holes.h5",
        "spon_plate_with_holes.png",
        "dcdm_obstacles.png",
        "pihc_sorption.png",
        "summary.md",
        "summary.json",
    }
    assert names == expected
    for path in demo.files:
        assert path.is_file() and path.stat().st_size > 0, path
    for png in demo.out_dir.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing half-written is left behind
    assert not [p for p in demo.out_dir.rglob(".*") if p.name.startswith(".")]
    assert demo.skipped == {}


def test_summary_files_match_the_result(demo: DemoResult) -> None:
    payload = json.loads((demo.out_dir / "summary.json").read_text())
    assert payload["size"] == "small"
    assert payload["sizes"]["dcdm_grid"] == DEMO_SIZES["small"].dcdm_grid
    assert len(payload["rows"]) == len(demo.rows) == 9
    for saved, row in zip(payload["rows"], demo.rows, strict=True):
        assert saved["stage"] == row.stage and saved["value"] == pytest.approx(row.value)
    markdown = (demo.out_dir / "summary.md").read_text()
    assert markdown.count("\n|") == len(demo.rows) + 2  # header, rule, one line per row
    plain = demo.table(markdown=False)
    assert "DCDM (pretrained)" in plain and "|" not in plain


def test_learned_models_beat_their_baselines(demo: DemoResult) -> None:
    for method in ("FNO", "DeepONet"):
        (row,) = rows_of(demo, method, "rel. L2 test error")
        assert math.isfinite(row.value) and 0 < row.value < 0.6, row
        assert row.value < 0.8 * row.baseline_value, row  # better than the training mean
    (spon,) = rows_of(demo, "SPON", "rel. L2 test error")
    assert 0 < spon.value < 0.5 and 0 < spon.baseline_value < 0.5
    (bc,) = rows_of(demo, "SPON", "max boundary error")
    assert bc.value <= 1e-12  # boundary values are imposed exactly
    (pihc,) = rows_of(demo, "PI hard constraint", "rel. L2 test error")
    assert pihc.value < 0.5 * pihc.baseline_value  # hard beats soft after the same training
    (failed,) = rows_of(demo, "PI hard constraint", "inner solves not converged")
    assert failed.value == 0


def test_dcdm_needs_fewer_iterations_than_cg(demo: DemoResult) -> None:
    iterations = {r.baseline: r for r in rows_of(demo, "DCDM (pretrained)", "iterations")}
    assert set(iterations) == {"AMG-PCG", "CG"}
    dcdm_its = iterations["CG"].value
    assert iterations["AMG-PCG"].value == dcdm_its
    assert 0 < dcdm_its < iterations["CG"].baseline_value / 3
    assert iterations["AMG-PCG"].baseline_value < dcdm_its  # AMG wins here, reported as is
    (seconds,) = rows_of(demo, "DCDM (pretrained)", "seconds (setup + solve, best of 2)")
    assert seconds.value > 0 and seconds.baseline_value > 0


def test_xdmf_holds_the_test_predictions(demo: DemoResult) -> None:
    import h5py

    with h5py.File(demo.out_dir / "spon_plate_with_holes.h5", "r") as h5:
        names: list[str] = []
        h5.visit(names.append)
    for field in ("kappa", "u_reference", "u_spon", "error"):
        assert any(field in name for name in names), field
    text = (demo.out_dir / "spon_plate_with_holes.xdmf").read_text()
    assert text.count('<Attribute Name="u_spon"') == DEMO_SIZES["small"].spon_test


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        run_demo(tmp_path, size="huge")
    with pytest.raises(ValueError, match="unknown demo stages"):
        run_demo(tmp_path, stages=["fno", "lbm"])
    with pytest.raises(ValueError, match="threads"):
        run_demo(tmp_path, threads=0)


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--size" in out and "--out" in out and "--stage" in out
