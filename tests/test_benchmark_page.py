"""The documentation's benchmarks page, generated from ``benchmarks/results/*.json``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _page() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "benchmark_page", ROOT / "docs" / "_ext" / "benchmark_page.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _doc(targets: list[dict]) -> dict:
    return {
        "benchmark": "x",
        "date": "2026-12-03T10:00:00+00:00",
        "machine": {"cpu": "Test CPU", "cores": 2, "torch": "2.x", "gpu": None},
        "config": {"description": "What it\n  measures."},
        "results": [],
        "targets": targets,
    }


def test_sections_targets_and_figures(tmp_path: Path) -> None:
    page = _page()
    results, docs = tmp_path / "benchmarks" / "results", tmp_path / "docs"
    results.mkdir(parents=True)
    docs.mkdir()
    targets = [
        {"name": "a_b * c", "measured": 0.51234, "target": "<= 1", "met": True},
        {"name": "speed", "measured": 3.0, "target": "<= 0.5", "met": False},
    ]
    (results / "pihc_fem.json").write_text(json.dumps(_doc(targets)))
    (results / "pihc_fem.png").write_bytes(b"\x89PNG")
    (results / "linalg.json").write_text(json.dumps(_doc([])))
    text = page.render(results, docs)
    # the known order: linear algebra before the finite-element hard constraints
    assert text.index("Sparse linear algebra") < text.index("Hard constraints: finite elements")
    assert "run 2026-12-03 on Test CPU (2 cores, torch 2.x, GPU: none)" in text
    assert "What it measures." in text
    assert "a\\_b \\* c" in text and "0.512" in text and "**no**" in text
    assert "1 of 2 targets met." in text
    assert ".. image:: ../benchmarks/results/pihc_fem.png" in text
    path = page.write(results, docs)
    assert path.read_text() == text
    gpu = _doc([])
    gpu["results"] = [{"solver": "amg [cuda]", "device": "Test GPU"}]
    (results / "dcdm.json").write_text(json.dumps(gpu))
    assert "GPU: none). Rows marked [cuda] ran on Test GPU." in page.render(results, docs)
    (results / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        page.render(results, docs)


def test_every_stored_result_has_a_section() -> None:
    page = _page()
    results = ROOT / "benchmarks" / "results"
    text = page.render(results, ROOT / "docs")
    for path in results.glob("*.json"):
        assert f"``benchmarks/{path.stem}.py``" in text
        n = len(json.loads(path.read_text()).get("targets") or [])
        if n:
            assert f" of {n} targets met." in text
